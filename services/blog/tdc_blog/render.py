"""Markdown to safe HTML, and the plain-text figures taken from a body (excerpt, reading time).

Rendering is two steps on purpose: markdown-it-py turns the source into HTML (raw HTML in the
source passes through, as authors expect), then nh3 keeps only an allow-list of tags and
attributes. Scripts, event handlers, `style`, and any URL whose scheme is not http, https or
mailto (so `javascript:` and `data:`) are dropped there, whatever the Markdown produced.
"""

from __future__ import annotations

import math
import re
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False}).enable("table")

TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "figcaption", "figure", "h1", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody", "td",
    "th", "thead", "tr", "ul",
}  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"align"},
    "td": {"align"},
    "code": {"class"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto"}
EXTERNAL_REL = "noopener nofollow"
WORDS_PER_MINUTE = 200
_WORD = re.compile(r"\w+", re.UNICODE)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


class Renderer:
    """Renders bodies for one site: links into `frontend_url` are ours, every other one is not."""

    def __init__(self, frontend_url: str) -> None:
        site = urlsplit(frontend_url)
        self._site = (site.scheme.lower(), (site.netloc or "").lower())

    def _is_ours(self, href: str) -> bool:
        parts = urlsplit(href)
        if not parts.scheme and not parts.netloc:
            return not href.startswith("//")  # a relative link stays on the site
        return (parts.scheme.lower(), parts.netloc.lower()) == self._site

    def html(self, markdown: str) -> str:
        raw = _MARKDOWN.render(markdown)
        clean = nh3.clean(
            raw,
            tags=TAGS,
            attributes=ATTRIBUTES,
            url_schemes=URL_SCHEMES,
            link_rel=None,
            strip_comments=True,
        )
        return self._mark_external_links(clean)

    def _mark_external_links(self, html: str) -> str:
        """Add rel="noopener nofollow" to every link that leaves the site. nh3's output is regular
        (attributes as name="value", a `"` inside a value escaped), and `rel` is not on the
        allow-list, so each anchor has at most the href and title it kept."""

        def mark(match: re.Match[str]) -> str:
            attributes = match.group(1)
            href = _HREF.search(attributes)
            if href is None or self._is_ours(_unescape(href.group(1))):
                return match.group(0)
            return f'<a{attributes} rel="{EXTERNAL_REL}">'

        return _ANCHOR.sub(mark, html)


_ANCHOR = re.compile(r'<a((?:\s+[a-z-]+="[^"]*")*)>')
_HREF = re.compile(r'\shref="([^"]*)"')


def _unescape(value: str) -> str:
    return value.replace("&amp;", "&").replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")


def plain_text(markdown: str) -> str:
    """The words of a body without markup, for excerpts and search."""
    text = _TAG.sub(" ", _MARKDOWN.render(markdown))
    return _SPACE.sub(" ", _unescape(text).replace("&#39;", "'")).strip()


def reading_minutes(markdown: str) -> int:
    return max(1, math.ceil(len(_WORD.findall(plain_text(markdown))) / WORDS_PER_MINUTE))


def excerpt_of(text: str, limit: int = 240) -> str:
    """The first sentence-ish of a public body, cut at a word boundary."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:.")
    return cut + "…"
