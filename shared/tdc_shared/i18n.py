"""Language negotiation: `?lang=` first, then `Accept-Language` (with q-values), else English."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from .envelope import Unprocessable

LANGUAGES: tuple[str, ...] = ("en", "it", "fr", "es")
DEFAULT_LANGUAGE = "en"


def parse_accept_language(header: str | None) -> list[str]:
    """Primary language subtags in preference order (`it-IT;q=0.8, fr` -> ["fr", "it"])."""
    if not header:
        return []
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        pieces = part.strip().split(";")
        tag = pieces[0].strip().lower()
        if not tag:
            continue
        quality = 1.0
        for param in pieces[1:]:
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        ranked.append((-quality, index, tag.split("-")[0]))
    return [tag for _, _, tag in sorted(ranked)]


def negotiate_language(lang: str | None, accept_language: str | None) -> str:
    """The language to answer in; raises 422 for an explicit `?lang=` we do not speak."""
    if lang is not None:
        code = lang.strip().lower()
        if code not in LANGUAGES:
            raise Unprocessable(errors={"lang": [f"must be one of {', '.join(LANGUAGES)}"]})
        return code
    for tag in parse_accept_language(accept_language):
        if tag in LANGUAGES:
            return tag
        if tag == "*":
            break
    return DEFAULT_LANGUAGE


async def _language(
    request: Request,
    lang: Annotated[
        str | None,
        Query(description="Language: en, it, fr or es", json_schema_extra={"enum": list(LANGUAGES)}),
    ] = None,
) -> str:
    return negotiate_language(lang, request.headers.get("accept-language"))


Lang = Annotated[str, Depends(_language)]
