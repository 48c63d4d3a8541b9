"""Request bodies (unknown fields are refused with 422) and the user as the API shows it."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from tdc_shared.db import Row
from tdc_shared.i18n import LANGUAGES

from .clock import iso
from .passwords import MAX_LENGTH, MIN_LENGTH

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$")
SL_AVATAR_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{1,62}$")


def normalize_email(value: str) -> str:
    """The address as we store and show it; NFKC first, so a fullwidth spelling is the plain one."""
    try:
        result = validate_email(unicodedata.normalize("NFKC", value.strip()), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError("is not a valid email address") from exc
    return result.normalized.lower()


def canonical_email(value: str) -> str:
    """The one spelling an address is known by: what `users.email_canonical` holds and lookups compare.

    NFKC first (a fullwidth letter or at sign is the ASCII one), then email-validator's checks and IDNA
    domain; the local part casefolded, the domain in its ASCII (punycode) form. `ádmin` and
    `pröbe` stay distinct from `admin` and `probe`: they are other addresses. Raises ValueError.
    """
    try:
        result = validate_email(unicodedata.normalize("NFKC", value.strip()), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError("is not a valid email address") from exc
    local = unicodedata.normalize("NFKC", result.local_part.casefold())
    return f"{local}@{result.ascii_domain.lower()}"


def _username(value: str) -> str:
    if not USERNAME.fullmatch(value):
        raise ValueError("must be 3 to 32 characters: letters, digits, '_', '.', '-', starting with a letter or digit")
    return value


def _language(value: str) -> str:
    if value not in LANGUAGES:
        raise ValueError(f"must be one of {', '.join(LANGUAGES)}")
    return value


def _http_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/$.?#][^\s]*", value, re.IGNORECASE):
        raise ValueError("must be an http(s) URL")
    return value


def _sl_name(value: str) -> str:
    if not SL_AVATAR_NAME.fullmatch(value):
        raise ValueError("must be a Second Life name: 2 to 63 letters, digits, spaces, '.', '_' or '-'")
    return value


# json_schema_extra documents in OpenAPI what the validators check, for the frontend's own forms.
Email = Annotated[str, Field(max_length=254, json_schema_extra={"format": "email"}), AfterValidator(normalize_email)]
Username = Annotated[
    str,
    Field(json_schema_extra={"pattern": USERNAME.pattern, "minLength": 3, "maxLength": 32}),
    AfterValidator(_username),
]
Language = Annotated[str, Field(json_schema_extra={"enum": list(LANGUAGES)}), AfterValidator(_language)]
# The policy (length, common list) is checked by the route so that its messages land on the right field;
# the bound here only stops absurd bodies before hashing.
Password = Annotated[str, Field(min_length=1, max_length=4096)]
# A password being set: documented with the policy's bounds (passwords.policy_problems).
NewPassword = Annotated[
    Password,
    Field(
        json_schema_extra={
            "minLength": MIN_LENGTH,
            "maxLength": MAX_LENGTH,
            "description": f"At least {MIN_LENGTH} characters, and not one of the most common passwords",
        }
    ),
]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterBody(Body):
    """A new account; a link to verify the address is mailed to it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email": "luna@example.com",
                    "username": "luna_vox",
                    "password": "night owls at the cave",
                    "language": "it",
                }
            ]
        },
    )

    email: Email
    username: Username
    password: NewPassword
    language: Language = "en"


class LoginBody(Body):
    """Email and password of an account."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"email": "luna@example.com", "password": "night owls at the cave"}]},
    )

    email: Annotated[str, Field(min_length=1, max_length=254)]
    password: Password


class RefreshBody(Body):
    """The refresh token, for API clients; browsers send the cookie instead and may omit the body."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"refresh_token": "rt_3q2Yb2xJm8cXrHkNw0fQeA"}]}
    )

    refresh_token: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class TokenBody(Body):
    """The one-time token from the mail's link."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"token": "Q2hhbmdlLW1lLXRva2VuLTEyMzQ"}]}
    )

    token: Annotated[str, Field(min_length=1, max_length=200)]


class EmailBody(Body):
    """The address of the account."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"email": "luna@example.com"}]})

    email: Email


class OptionalEmailBody(Body):
    """The address to send to; signed-in callers may omit it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"email": "luna@example.com"}]})

    email: Email | None = None


class ResetPasswordBody(Body):
    """The token from the reset mail and the new password."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"token": "Q2hhbmdlLW1lLXRva2VuLTEyMzQ", "password": "a brand new night at the cave"}]
        },
    )

    token: Annotated[str, Field(min_length=1, max_length=200)]
    password: NewPassword


class ChangePasswordBody(Body):
    """The current password (absent for accounts made by OAuth sign-in) and the new one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"current_password": "night owls at the cave", "new_password": "a brand new night at the cave"}
            ]
        },
    )

    current_password: Password | None = None
    new_password: NewPassword


class ProfilePatch(Body):
    """The fields to change; the others keep their value."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"display_name": "Luna Vox", "language": "fr", "sl_avatar_name": "Luna Resident"}]
        },
    )

    username: Username | None = None
    display_name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    language: Language | None = None
    avatar_url: Annotated[str, Field(max_length=500), AfterValidator(_http_url)] | None = None
    sl_avatar_name: Annotated[str, AfterValidator(_sl_name)] | None = None


class AdminUserPatch(Body):
    """The role or active state to set (admins only)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"role": "staff", "is_active": True}]})

    role: Literal["user", "staff", "admin"] | None = None
    is_active: bool | None = None


def user_out(row: Row) -> dict[str, Any]:
    """A user as its owner and admins see it: never the hash, only whether there is one."""
    return {
        "id": int(row["id"]),
        "email": row["email"],
        "username": row["username"],
        "display_name": row["display_name"],
        "language": row["language"],
        "avatar_url": row["avatar_url"],
        "sl_avatar_name": row["sl_avatar_name"],
        "role": row["role"],
        "is_active": bool(row["is_active"]),
        "email_verified": bool(row["email_verified"]),
        "patreon_tier": row["patreon_tier"],
        "patreon_cents": row["patreon_cents"],
        # The avatar proven in-world (issue 17's link code), null when none is linked.
        "sl_avatar": (
            {
                "key": row["sl_avatar_key"],
                "name": row["sl_avatar_linked_name"],
                "linked_at": iso(row["sl_avatar_linked_at"]),
            }
            if row["sl_avatar_key"]
            else None
        ),
        "has_password": row["password_hash"] is not None,
        "last_login_at": iso(row["last_login_at"]),
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def user_event(row: Row) -> dict[str, Any]:
    """The `auth.user.updated` payload (fields listed in the event catalog)."""
    return {
        "user_id": int(row["id"]),
        "email": row["email"],
        "username": row["username"],
        "display_name": row["display_name"],
        "language": row["language"],
        "is_active": bool(row["is_active"]),
        "email_verified": bool(row["email_verified"]),
    }
