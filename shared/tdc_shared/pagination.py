"""Page/per-page query parameters and the `meta.pagination` block of list answers.

`Pagination`/`paginated` are the small lists' (exact total, offset pages). `ListPagination`,
`capped_count`, `keyset_page` and `listed` are for lists that grow without bound (see below).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Protocol, TypeVar

from fastapi import Depends, Query
from fastapi.responses import JSONResponse

from .envelope import Unprocessable, ok

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


# -- Lists at scale: capped totals, keyset cursors ------------------------------------------
#
# A list that can grow without bound (events, users, posts) answers `GET ...?page=&per_page=`
# and `GET ...?cursor=&per_page=`, and says in `meta.pagination`:
#
#     {"page": 2 | null, "per_page": 20, "cursor": null | "<the cursor this page was read from>",
#      "total": 57, "total_exact": true, "pages": 3, "has_more": true, "next_cursor": "..." | null}
#
# - `total` is an exact count up to COUNT_CAP rows; past it `total` is COUNT_CAP and
#   `total_exact` is false ("more than 1,000"), so no page ever counts the whole table.
#   `pages` is computed from `total` (a lower bound when the total is not exact).
# - `has_more` says whether a row follows this page in the list's order; `next_cursor`
#   (present exactly when `has_more`) reads the next page by keyset, at the cost of page 1
#   however deep it is. Offset pages give a `next_cursor` too, so a client can switch.
# - `page` reaches MAX_OFFSET rows at most (deeper offsets are 422: follow the cursor);
#   `cursor` with a `page` other than 1 is 422 (`page` is null in an answer read by cursor).
# - A cursor is opaque: base64url JSON of the list's scope and sort key, with an HMAC so a
#   truncated or edited cursor, or one from another list, is a 422 rather than a surprise.

COUNT_CAP = 1000
MAX_OFFSET = 10_000
CURSOR_MAX_LENGTH = 400
# Cursors are not secrets (they hold sort keys the page already shows): the HMAC only proves
# that this code wrote the cursor. A service may pass its own key.
DEFAULT_CURSOR_KEY = b"tdc-list-cursor-v1"

CursorValue = str | int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _cursor_mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:12]


def encode_cursor(scope: str, values: Sequence[CursorValue], key: bytes = DEFAULT_CURSOR_KEY) -> str:
    """An opaque cursor for the row whose sort key is `values`, valid for lists of `scope` only."""
    payload = json.dumps([scope, *values], separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return f"{_b64(payload)}.{_b64(_cursor_mac(key, payload))}"


def bad_cursor(reason: str = "is not a cursor this list gave out") -> Unprocessable:
    return Unprocessable("Invalid cursor", errors={"cursor": [reason]})


def decode_cursor(
    token: str,
    scope: str,
    kinds: Sequence[Callable[[Any], Any]],
    key: bytes = DEFAULT_CURSOR_KEY,
) -> tuple[Any, ...]:
    """The sort key a cursor holds, each value passed through its `kinds` converter.

    Any defect (not base64, wrong MAC, another list's cursor, wrong arity, a converter
    raising) is a 422 on the `cursor` field.
    """
    if len(token) > CURSOR_MAX_LENGTH or token.count(".") != 1:
        raise bad_cursor()
    body, mac = token.split(".")
    try:
        payload = _unb64(body)
        given = _unb64(mac)
    except (ValueError, binascii.Error) as exc:
        raise bad_cursor() from exc
    if not hmac.compare_digest(given, _cursor_mac(key, payload)):
        raise bad_cursor()
    try:
        decoded = json.loads(payload)
    except ValueError as exc:
        raise bad_cursor() from exc
    if not isinstance(decoded, list) or len(decoded) != len(kinds) + 1 or decoded[0] != scope:
        raise bad_cursor("belongs to another list")
    try:
        return tuple(kind(value) for kind, value in zip(kinds, decoded[1:], strict=True))
    except (TypeError, ValueError) as exc:
        raise bad_cursor() from exc


def cursor_int(value: Any) -> int:
    """A cursor converter: an integer (never a bool)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("not an integer")
    return value


def cursor_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("not a string")
    return value


@dataclass(frozen=True)
class ListRequest:
    """What a scalable list was asked for: an offset page, or the page after a cursor."""

    page: int
    per_page: int
    cursor: str | None = None

    @property
    def offset(self) -> int:
        return 0 if self.cursor else (self.page - 1) * self.per_page

    @property
    def fetch(self) -> int:
        """Rows to read: one more than a page, to know whether another follows."""
        return self.per_page + 1

    def after(
        self, scope: str, kinds: Sequence[Callable[[Any], Any]], key: bytes = DEFAULT_CURSOR_KEY
    ) -> tuple[Any, ...] | None:
        """The sort key to continue after, or None for an offset page."""
        return decode_cursor(self.cursor, scope, kinds, key) if self.cursor else None


async def _list_request(
    page: Annotated[int, Query(ge=1, le=MAX_OFFSET, description="Page number, from 1")] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE, description="Items per page, 1 to 100")] = DEFAULT_PER_PAGE,
    cursor: Annotated[
        str | None,
        Query(max_length=CURSOR_MAX_LENGTH, description="meta.pagination.next_cursor of the previous page"),
    ] = None,
) -> ListRequest:
    if cursor is not None and page != 1:
        raise Unprocessable(errors={"cursor": ["give either page or cursor, not both"]})
    if (page - 1) * per_page > MAX_OFFSET:
        raise Unprocessable(
            errors={"page": [f"pages reach row {MAX_OFFSET} at most; follow meta.pagination.next_cursor"]}
        )
    return ListRequest(page=page, per_page=per_page, cursor=cursor or None)


ListPagination = Annotated[ListRequest, Depends(_list_request)]

Row = TypeVar("Row")


@dataclass(frozen=True)
class KeysetPage(Generic[Row]):
    items: list[Row]
    has_more: bool
    next_cursor: str | None


def keyset_page(
    rows: Sequence[Row],
    request: ListRequest,
    scope: str,
    sort_key: Callable[[Row], Sequence[CursorValue]],
    key: bytes = DEFAULT_CURSOR_KEY,
) -> KeysetPage[Row]:
    """The page out of `request.fetch` rows read in order: at most `per_page`, and a cursor
    after the last one when a further row was read."""
    items = list(rows[: request.per_page])
    has_more = len(rows) > request.per_page
    cursor = encode_cursor(scope, sort_key(items[-1]), key) if has_more and items else None
    return KeysetPage(items, has_more, cursor)


def keyset_after(columns: Sequence[str], *, descending: bool = False) -> str:
    """SQL (written from constant column names) for "after this sort key", range-friendly.

    For (a, b) ascending: `a >= %s AND (a > %s OR b > %s)` — the first term gives the index a
    range to start from on MySQL 8 and MariaDB alike (a row constructor `(a, b) > (x, y)` is
    not a range on every version). Parameters: `keyset_params(values)`.
    """
    if not columns:
        raise ValueError("a keyset needs at least one column")
    strict, loose = ("<", "<=") if descending else (">", ">=")
    *rest, last = columns
    clause = f"{last} {strict} %s"
    for column in reversed(rest):
        clause = f"{column} {loose} %s AND ({column} {strict} %s OR {clause})"
    return clause


def keyset_params(values: Sequence[Any]) -> list[Any]:
    """The parameters of `keyset_after` for the sort key `values`."""
    *rest, last = values
    params: list[Any] = []
    for value in rest:
        params += [value, value]
    return [*params, last]


class _Counter(Protocol):
    async def fetch_value(self, sql: str, params: Sequence[Any] | None = None) -> Any: ...


async def capped_count(tx: _Counter, select: str, params: Sequence[Any], cap: int = COUNT_CAP) -> tuple[int, bool]:
    """(count, exact) of the rows `select` yields, reading at most cap + 1 of them.

    `select` is a `SELECT 1 FROM ... WHERE ...` written from constants (values as `%s`).
    """
    sql = f"SELECT COUNT(*) FROM ({select} LIMIT %s) AS capped"  # noqa: S608, RUF100 (constant SQL, values bound)
    found = int(await tx.fetch_value(sql, [*params, cap + 1]) or 0)
    return (cap, False) if found > cap else (found, True)


def list_meta(
    request: ListRequest, *, total: int, total_exact: bool, has_more: bool, next_cursor: str | None
) -> dict[str, Any]:
    return {
        "pagination": {
            "page": None if request.cursor else request.page,
            "per_page": request.per_page,
            "cursor": request.cursor,
            "total": total,
            "total_exact": total_exact,
            "pages": (total + request.per_page - 1) // request.per_page,
            "has_more": has_more,
            "next_cursor": next_cursor,
        }
    }


def listed(
    items: list[Any],
    request: ListRequest,
    *,
    total: int,
    total_exact: bool,
    has_more: bool,
    next_cursor: str | None,
) -> JSONResponse:
    meta = list_meta(request, total=total, total_exact=total_exact, has_more=has_more, next_cursor=next_cursor)
    return ok(items, meta=meta)
