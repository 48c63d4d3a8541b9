"""Admin user management: search, inspect, change role or disable; account and session counts."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from tdc_shared.auth import AdminUser
from tdc_shared.deps import Db
from tdc_shared.envelope import Conflict, NotFound, ok
from tdc_shared.events import publish
from tdc_shared.pagination import ListPagination, cursor_int, keyset_page, listed

from ..context import Auth, active_admin
from ..models import AdminUserPatch, user_event, user_out
from ..queries import sessions as session_rows
from ..queries import users
from ..revocation import end_sessions, end_tokens_of_user

router = APIRouter(prefix="/api/v1/admin/users", tags=["admin"])

UserId = Annotated[int, Path(ge=1, le=2**63 - 1)]
USERS_SCOPE = "auth.users"  # cursors of the user list (sorted by id)


@router.get("", summary="Search users by email or username")
async def list_users(
    admin: AdminUser,
    db: Db,
    page: ListPagination,
    q: Annotated[str | None, Query(max_length=100, description="Part of an email, username or display name")] = None,
    role: Annotated[Literal["user", "staff", "admin"] | None, Query()] = None,
    is_active: Annotated[bool | None, Query()] = None,
) -> JSONResponse:
    after = page.after(USERS_SCOPE, (cursor_int,))
    async with db.transaction() as tx:
        await active_admin(tx, admin)
        rows, total, exact = await users.search(
            tx,
            query=q,
            role=role,
            is_active=is_active,
            limit=page.fetch,
            offset=page.offset,
            after_id=after[0] if after else None,
        )
    found = keyset_page(rows, page, USERS_SCOPE, lambda row: (row["id"],))
    return listed(
        [user_out(row) for row in found.items],
        page,
        total=total,
        total_exact=exact,
        has_more=found.has_more,
        next_cursor=found.next_cursor,
    )


# Declared before `/{user_id}`: routes match in order, and "summary" would otherwise fail that int path as a 422.
@router.get("/summary", summary="Account and sign-in counts (the auth section of the admin dashboard)")
async def users_summary(admin: AdminUser, db: Db) -> JSONResponse:
    async with db.transaction() as tx:
        await active_admin(tx, admin)
        user_counts = await users.summary(tx)
        active_sessions = await session_rows.count_active(tx)
    return ok({"users": user_counts, "sessions": {"active": active_sessions}})


@router.get("/{user_id}", summary="One user")
async def get_user(user_id: UserId, admin: AdminUser, db: Db) -> JSONResponse:
    async with db.transaction() as tx:
        await active_admin(tx, admin)
        row = await users.by_id(tx, user_id)
    if row is None:
        raise NotFound("User not found")
    return ok(user_out(row))


@router.patch("/{user_id}", summary="Change a user's role or disable them (disabling ends their sessions)")
async def patch_user(user_id: UserId, body: AdminUserPatch, admin: AdminUser, ctx: Auth, db: Db) -> JSONResponse:
    """A role change or a disable also ends the user's access tokens issued before it, everywhere."""
    requested = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    async with db.transaction() as tx:
        await active_admin(tx, admin)
        admins = await users.active_admins(tx)
        row = await users.by_id(tx, user_id, lock=True)
        if row is None:
            raise NotFound("User not found")
        changes = {k: v for k, v in requested.items() if row[k] != v}
        loses_admin = (
            row["role"] == "admin"
            and row["is_active"]
            and (changes.get("role", "admin") != "admin" or changes.get("is_active") is False)
        )
        if loses_admin and admins == [user_id]:
            raise Conflict("At least one active admin must remain")
        if changes:
            await users.update(tx, user_id, changes)
            if "role" in changes:
                await publish(
                    tx,
                    "auth.user.role_changed",
                    {"user_id": user_id, "old_role": row["role"], "new_role": changes["role"]},
                    source="auth",
                )
            if changes.get("is_active") is False:
                await end_sessions(tx, ctx.verifier, "disabled", user_id=user_id)
            if "role" in changes or changes.get("is_active") is False:
                await end_tokens_of_user(tx, ctx.verifier, user_id)
            row = await users.by_id(tx, user_id)
            assert row is not None
            if "is_active" in changes:
                await publish(tx, "auth.user.updated", user_event(row), source="auth")
    return ok(user_out(row))
