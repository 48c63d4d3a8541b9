"""Blog settings: the shared ones plus the site's address, the response cache, the scheduler
and the limits on what staff may write."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from tdc_shared.settings import ServiceSettings


class BlogSettings(ServiceSettings):
    dev_only_defaults: ClassVar[tuple[str, ...]] = ("mysql_url", "amqp_url", "frontend_url")

    service_name: str = "blog"

    # The public website (TDC_FRONTEND_URL): feeds link there, and links into it are the only
    # ones rendered bodies do not mark rel="noopener nofollow".
    frontend_url: str = "http://localhost:5173"
    blog_site_title: str = "The Dreamer's Cave"
    blog_default_author: str = "The Dreamer's Cave"

    # Serialized anonymous answers, as the catalog keeps them. Writes clear it at once; the TTL
    # only bounds how long a list can lag behind the clock.
    blog_cache_enabled: bool = True
    blog_cache_ttl_seconds: float = Field(60.0, gt=0)
    blog_cache_max_entries: int = Field(5000, gt=0)
    blog_cache_max_bytes: int = Field(64 * 1024 * 1024, gt=0)
    blog_cache_max_age: int = Field(30, ge=0)

    # How often each replica looks for scheduled posts that are due (a database claim decides
    # which replica publishes each one).
    blog_scheduler_poll_seconds: float = Field(1.0, gt=0)
    blog_scheduler_batch: int = Field(20, ge=1, le=500)

    blog_feed_size: int = Field(50, ge=1, le=200)
