"""SQL for `users`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from mysql.connector import errors as mysql_errors

from tdc_shared.db import Row, Session
from tdc_shared.pagination import capped_count

from ..clock import utcnow
from ..models import canonical_email

COLUMNS = (
    "id, email, username, password_hash, display_name, language, avatar_url, sl_avatar_name, role, "
    "is_active, email_verified, patreon_tier, patreon_cents, tokens_not_before, sl_avatar_key, sl_avatar_linked_name, "
    "sl_avatar_linked_at, last_login_at, created_at, updated_at"
)
# Columns a caller may change through `update`; anything else is a programming error.
UPDATABLE = frozenset(
    {
        "username",
        "display_name",
        "language",
        "avatar_url",
        "sl_avatar_name",
        "role",
        "is_active",
        "email_verified",
        "password_hash",
        "last_login_at",
        "tokens_not_before",
        "patreon_tier",
        "patreon_cents",
    }
)


class DuplicateUser(Exception):
    """An insert or update hit the unique email or username."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def duplicate_field(exc: mysql_errors.IntegrityError) -> str | None:
    if exc.errno != 1062:
        return None
    message = str(exc)
    if "uq_users_email" in message:
        return "email"
    if "uq_users_username" in message:
        return "username"
    return None


async def by_id(tx: Session, user_id: int, *, lock: bool = False) -> Row | None:
    suffix = " FOR UPDATE" if lock else ""
    return await tx.fetch_one(f"SELECT {COLUMNS} FROM users WHERE id = %s{suffix}", (user_id,))  # noqa: S608 - columns from COLUMNS/UPDATABLE and a WHERE of fixed clauses; values are parameters


async def by_email(tx: Session, email: str) -> Row | None:
    """The account known by this address in any spelling that canonicalises alike; None for an invalid one."""
    try:
        canonical = canonical_email(email)
    except ValueError:
        return None
    return await tx.fetch_one(f"SELECT {COLUMNS} FROM users WHERE email_canonical = %s", (canonical,))  # noqa: S608


async def without_canonical_email(tx: Session) -> list[Row]:
    """Accounts migrated from before `email_canonical` whose address was not plain ASCII."""
    return await tx.fetch_all("SELECT id, email FROM users WHERE email_canonical IS NULL FOR UPDATE")


async def set_canonical_email(tx: Session, user_id: int, canonical: str) -> None:
    await tx.execute("UPDATE users SET email_canonical = %s WHERE id = %s", (canonical, user_id))


async def by_username(tx: Session, username: str) -> Row | None:
    return await tx.fetch_one(f"SELECT {COLUMNS} FROM users WHERE username = %s", (username,))  # noqa: S608 - columns from COLUMNS/UPDATABLE and a WHERE of fixed clauses; values are parameters


async def insert(
    tx: Session,
    *,
    email: str,
    username: str,
    password_hash: str | None,
    language: str = "en",
    role: str = "user",
    email_verified: bool = False,
    display_name: str | None = None,
) -> int:
    try:
        return await tx.execute(
            "INSERT INTO users (email, email_canonical, username, password_hash, language, role, email_verified,"
            " display_name) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (email, canonical_email(email), username, password_hash, language, role, email_verified, display_name),
        )
    except mysql_errors.IntegrityError as exc:
        field = duplicate_field(exc)
        if field is None:
            raise
        raise DuplicateUser(field) from exc


async def update(tx: Session, user_id: int, changes: dict[str, Any]) -> None:
    if not changes:
        return
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    assignments = ", ".join(f"{column} = %s" for column in changes)
    try:
        await tx.execute(f"UPDATE users SET {assignments} WHERE id = %s", (*changes.values(), user_id))  # noqa: S608 - columns from COLUMNS/UPDATABLE and a WHERE of fixed clauses; values are parameters
    except mysql_errors.IntegrityError as exc:
        field = duplicate_field(exc)
        if field is None:
            raise
        raise DuplicateUser(field) from exc


async def touch_login(tx: Session, user_id: int) -> None:
    await tx.execute("UPDATE users SET last_login_at = %s WHERE id = %s", (utcnow(), user_id))


async def delete(tx: Session, user_id: int) -> None:
    await tx.execute("DELETE FROM users WHERE id = %s", (user_id,))


async def active_admins(tx: Session) -> list[int]:
    """Ids of active admins, locked so two concurrent demotions cannot both pass the last-admin check."""
    rows = await tx.fetch_all("SELECT id FROM users WHERE role = 'admin' AND is_active = 1 FOR UPDATE")
    return [int(row["id"]) for row in rows]


ROLES = ("user", "staff", "admin")


async def summary(tx: Session) -> dict[str, Any]:
    """Counts for the admin dashboard, in one pass over `users`.

    The windows end at the service clock's now (UTC, as the columns are stored) rather than the database's NOW(),
    like every other time this service compares, so tests can move time.
    """
    now = utcnow()
    week, month = now - timedelta(days=7), now - timedelta(days=30)
    row = await tx.fetch_one(
        "SELECT COUNT(*) AS total, "
        "COALESCE(SUM(CASE WHEN is_active = 1 THEN 1 ELSE 0 END), 0) AS active, "
        "COALESCE(SUM(CASE WHEN is_active = 0 THEN 1 ELSE 0 END), 0) AS disabled, "
        "COALESCE(SUM(CASE WHEN email_verified = 1 THEN 1 ELSE 0 END), 0) AS email_verified, "
        "COALESCE(SUM(CASE WHEN role = %s THEN 1 ELSE 0 END), 0) AS role_user, "
        "COALESCE(SUM(CASE WHEN role = %s THEN 1 ELSE 0 END), 0) AS role_staff, "
        "COALESCE(SUM(CASE WHEN role = %s THEN 1 ELSE 0 END), 0) AS role_admin, "
        "COALESCE(SUM(CASE WHEN created_at >= %s THEN 1 ELSE 0 END), 0) AS registered_7, "
        "COALESCE(SUM(CASE WHEN created_at >= %s THEN 1 ELSE 0 END), 0) AS registered_30, "
        # NULL (never signed in) is neither >= nor <, so it falls to ELSE.
        "COALESCE(SUM(CASE WHEN last_login_at >= %s THEN 1 ELSE 0 END), 0) AS signed_in_30 "
        "FROM users",
        (*ROLES, week, month, month),
    )
    assert row is not None  # an aggregate without GROUP BY always yields one row
    # SUM() comes back as DECIMAL; the API shows plain integers.
    counts = {key: int(value) for key, value in row.items()}
    return {
        "total": counts["total"],
        "active": counts["active"],
        "disabled": counts["disabled"],
        "email_verified": counts["email_verified"],
        "by_role": {role: counts[f"role_{role}"] for role in ROLES},
        "registered_last_7_days": counts["registered_7"],
        "registered_last_30_days": counts["registered_30"],
        "signed_in_last_30_days": counts["signed_in_30"],
    }


def _search_filter(query: str | None, role: str | None, is_active: bool | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if query:
        escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses.append("(email LIKE %s OR username LIKE %s OR display_name LIKE %s)")
        params.extend([f"%{escaped}%"] * 3)
    if role:
        clauses.append("role = %s")
        params.append(role)
    if is_active is not None:
        clauses.append("is_active = %s")
        params.append(is_active)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


async def search(
    tx: Session,
    *,
    query: str | None,
    role: str | None,
    is_active: bool | None,
    limit: int,
    offset: int,
    after_id: int | None = None,
) -> tuple[list[Row], int, bool]:
    """Users by id, `limit` from `offset` or after `after_id` (keyset); the total counted up to
    tdc_shared.pagination.COUNT_CAP rows: (rows, total, total_exact)."""
    where, params = _search_filter(query, role, is_active)
    total, exact = await capped_count(tx, f"SELECT 1 FROM users{where}", params)  # noqa: S608, RUF100 (constant SQL)
    keyset, keyset_params = "", []
    if after_id is not None:
        keyset, keyset_params = (" AND " if where else " WHERE ") + "id > %s", [after_id]
    rows = await tx.fetch_all(
        f"SELECT {COLUMNS} FROM users{where}{keyset} ORDER BY id LIMIT %s OFFSET %s",  # noqa: S608, RUF100 (constant SQL)
        [*params, *keyset_params, limit, offset],
    )
    return rows, total, exact


async def link_sl_avatar(tx: Session, user_id: int, avatar_key: str, avatar_name: str, linked_at: Any) -> int:
    """The avatar is this account's now: any other account loses it first (one account per avatar)."""
    await tx.execute(
        "UPDATE users SET sl_avatar_key = NULL, sl_avatar_linked_name = NULL, sl_avatar_linked_at = NULL "
        "WHERE sl_avatar_key = %s AND id <> %s",
        (avatar_key, user_id),
    )
    return await tx.execute(
        "UPDATE users SET sl_avatar_key = %s, sl_avatar_linked_name = %s, sl_avatar_linked_at = %s "
        "WHERE id = %s AND (sl_avatar_linked_at IS NULL OR sl_avatar_linked_at <= %s)",
        (avatar_key, avatar_name, linked_at, user_id, linked_at),
    )


async def unlink_sl_avatar(tx: Session, user_id: int) -> int:
    return await tx.execute(
        "UPDATE users SET sl_avatar_key = NULL, sl_avatar_linked_name = NULL, sl_avatar_linked_at = NULL "
        "WHERE id = %s AND sl_avatar_key IS NOT NULL",
        (user_id,),
    )
