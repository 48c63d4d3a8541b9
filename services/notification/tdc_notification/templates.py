"""Mail texts from Jinja2 templates, one file per kind and language, English when one is missing.

`templates/<lang>/<kind>.jinja` holds three blocks: `subject`, `text` (the text/plain part) and
`html` (the body of the HTML part, which `templates/layout.jinja` wraps). The subject and the
text part are rendered without escaping (they are not HTML); the HTML part with autoescape on,
so a title like `Rock & <Roll>` cannot inject markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, TemplateNotFound
from markupsafe import Markup

from tdc_shared.i18n import DEFAULT_LANGUAGE, LANGUAGES

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    language: str  # the language actually used (English after a fallback)


class Templates:
    def __init__(self, directory: Path = TEMPLATES) -> None:
        loader = FileSystemLoader(str(directory))
        self._text = Environment(loader=loader, autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True)  # noqa: S701 (text/plain parts and subjects are not HTML)
        self._html = Environment(loader=loader, autoescape=True, undefined=StrictUndefined)

    def _pick(self, env: Environment, kind: str, language: str) -> tuple[Template, str]:
        for candidate in dict.fromkeys((language if language in LANGUAGES else DEFAULT_LANGUAGE, DEFAULT_LANGUAGE)):
            try:
                return env.get_template(f"{candidate}/{kind}.jinja"), candidate
            except TemplateNotFound:
                continue
        raise LookupError(f"no template for mail kind {kind!r}")

    def _block(self, template: Template, name: str, context: dict[str, Any]) -> str:
        return "".join(template.blocks[name](template.new_context(context))).strip()

    def subject(self, kind: str, language: str, context: dict[str, Any]) -> str:
        template, _ = self._pick(self._text, kind, language)
        return " ".join(self._block(template, "subject", context).split())[:255]

    def render(self, kind: str, language: str, context: dict[str, Any]) -> Rendered:
        text_template, used = self._pick(self._text, kind, language)
        html_template, _ = self._pick(self._html, kind, language)
        subject = " ".join(self._block(text_template, "subject", context).split())[:255]
        body = Markup(self._block(html_template, "html", context))  # noqa: S704 (rendered with autoescape on)
        layout = self._html.get_template("layout.jinja")
        html = layout.render(subject=subject, body=body, language=used, **context)
        return Rendered(subject, self._block(text_template, "text", context) + "\n", html, used)
