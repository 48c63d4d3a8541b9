"""Catalog settings: the shared ones plus media storage, limits and the response cache."""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator

from tdc_shared.settings import ServiceSettings

REPO_ROOT = Path(__file__).resolve().parents[3]


class CatalogSettings(ServiceSettings):
    service_name: str = "catalog"

    # Where uploaded images and their variants are written. Replicas must share it (a volume).
    catalog_media_dir: Path = REPO_ROOT / ".run" / "media"
    catalog_media_max_bytes: int = 10 * 1024 * 1024
    # Checked before decoding, so a small file that inflates to gigabytes is refused unread.
    catalog_media_max_pixels: int = 40_000_000
    # Decoding holds the full bitmap in memory (4 bytes a pixel): bound how many run at once.
    catalog_media_concurrent_decodes: int = 2

    # The in-process cache of serialized public answers. Writes clear it at once; the TTL only
    # bounds how long an "upcoming" list can lag behind the clock.
    catalog_cache_enabled: bool = True
    catalog_cache_ttl_seconds: float = 60.0
    catalog_cache_max_entries: int = 5000
    catalog_cache_max_bytes: int = 64 * 1024 * 1024
    catalog_cache_max_age: int = 30

    catalog_default_timezone: str = "America/Los_Angeles"
    catalog_calendar_name: str = "The Dreamer's Cave"
    # How many club nights the demo data schedules (the benchmark wants at least 20).
    catalog_demo_events: int = 24

    @field_validator(
        "catalog_media_max_bytes",
        "catalog_media_max_pixels",
        "catalog_media_concurrent_decodes",
        "catalog_cache_max_entries",
        "catalog_cache_max_bytes",
    )
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("must be positive")
        return value
