"""Page/per-page query parameters and the `meta.pagination` block of list answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query
from fastapi.responses import JSONResponse

from .envelope import ok

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class PageRequest:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def limit(self) -> int:
        return self.per_page

    def meta(self, total: int) -> dict[str, Any]:
        return {
            "pagination": {
                "page": self.page,
                "per_page": self.per_page,
                "total": total,
                "pages": (total + self.per_page - 1) // self.per_page,
            }
        }


async def _page_request(
    page: Annotated[int, Query(ge=1, le=100_000, description="Page number, from 1")] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE, description="Items per page, 1 to 100")] = DEFAULT_PER_PAGE,
) -> PageRequest:
    return PageRequest(page=page, per_page=per_page)


Pagination = Annotated[PageRequest, Depends(_page_request)]


def paginated(items: list[Any], page: PageRequest, total: int) -> JSONResponse:
    return ok(items, meta=page.meta(total))
