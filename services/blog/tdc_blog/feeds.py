"""RSS 2.0 and Atom 1.0 feeds of the latest posts in one language, built with feedgen.

Entries carry the title, the excerpt anyone may see (a gated post's teaser, never its body),
the category and an absolute link to the post on the website. GUIDs are tag URIs on the post's
id and the feed's language, so renaming a slug does not make readers see a post twice.
The bytes depend only on the posts, never on the clock, so ETags stay stable between builds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from feedgen.feed import FeedGenerator

FeedFormat = Literal["rss", "atom"]
# For an empty feed: any fixed instant keeps the bytes (and so the ETag) stable.
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
GUID_DATE = "2026"


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class FeedBuilder:
    def __init__(self, frontend_url: str, site_title: str) -> None:
        self.site = frontend_url.rstrip("/")
        self.host = urlsplit(frontend_url).hostname or "localhost"
        self.site_title = site_title

    def post_url(self, slug: str, lang: str) -> str:
        url = f"{self.site}/blog/{quote(slug)}"
        return url if lang == "en" else f"{url}?lang={lang}"

    def guid(self, post_id: int, lang: str) -> str:
        return f"tag:{self.host},{GUID_DATE}:blog/post/{post_id}/{lang}"

    def build(
        self, fmt: FeedFormat, lang: str, rows: list[dict[str, Any]], category: dict[str, Any] | None
    ) -> tuple[bytes, datetime]:
        """(the feed's bytes, its last modification time)."""
        last_modified = max((_aware(r["updated_at"]) for r in rows), default=EPOCH)
        title = self.site_title + (f" · {category['name']}" if category else "")
        feed = FeedGenerator()
        feed.id(f"tag:{self.host},{GUID_DATE}:blog/{lang}" + (f"/{category['slug']}" if category else ""))
        feed.title(title)
        feed.description(f"{title}: blog")
        feed.link(href=f"{self.site}/blog" + ("" if lang == "en" else f"?lang={lang}"), rel="alternate")
        feed.language(lang)
        feed.updated(last_modified)
        feed.lastBuildDate(last_modified)
        for row in rows:
            entry = feed.add_entry(order="append")
            entry.id(self.guid(row["id"], lang))
            entry.guid(self.guid(row["id"], lang), permalink=False)
            entry.title(row["title"])
            entry.link(href=self.post_url(row["slug"], lang))
            entry.summary(row["excerpt"] or row["title"])
            entry.published(_aware(row["published_at"]))
            entry.updated(_aware(row["updated_at"]))
            entry.author(name=row["author_name"])
            if row["category"]:
                entry.category(term=row["category"]["slug"], label=row["category"]["name"])
        body = feed.rss_str(pretty=False) if fmt == "rss" else feed.atom_str(pretty=False)
        return body, last_modified.replace(microsecond=0)
