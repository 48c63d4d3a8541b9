"""SQL for `users`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from mysql.connector import errors as mysql_errors

from tdc_shared.db import Row, Session

from ..clock import utcnow

COLUMNS = (
    "id, email, username, password_hash, display_name, language, avatar_url, sl_avatar_name, role, "
    "is_active, email_verified, patreon_tier, last_login_at, created_at, updated_at"
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
    return await tx.fetch_one(f"SELECT {COLUMNS} FROM users WHERE email = %s", (email,))  # noqa: S608 - columns from COLUMNS/UPDATABLE and a WHERE of fixed clauses; values are parameters


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
            "INSERT INTO users (email, username, password_hash, language, role, email_verified, display_name) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (email, username, password_hash, language, role, email_verified, display_name),
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
    tx: Session, *, query: str | None, role: str | None, is_active: bool | None, limit: int, offset: int
) -> tuple[list[Row], int]:
    where, params = _search_filter(query, role, is_active)
    total = await tx.fetch_value(f"SELECT COUNT(*) FROM users{where}", params)  # noqa: S608 - columns from COLUMNS/UPDATABLE and a WHERE of fixed clauses; values are parameters
    rows = await tx.fetch_all(
        f"SELECT {COLUMNS} FROM users{where} ORDER BY id LIMIT %s OFFSET %s",  # noqa: S608 - COLUMNS and fixed clauses
        [*params, limit, offset],
    )
    return rows, int(total or 0)
