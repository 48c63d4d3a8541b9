"""Signing keys: loaded from PEM files, published as a JWKS, used to sign access tokens.

Every `*.pem` private key in the keys folder is published (so tokens signed before a
rotation still verify); the one whose file name sorts last signs. The `kid` is the key's
RFC 7638 thumbprint, so it is stable across restarts and replicas without being configured.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from tdc_shared.auth import KeySet, TokenVerifier

from .settings import AuthSettings

log = logging.getLogger(__name__)


class SigningKeyMissing(RuntimeError):
    """No usable signing key outside dev: the service must not start."""


@dataclass(frozen=True)
class Key:
    kid: str
    algorithm: str
    private_key: Any
    public_jwk: dict[str, Any]


def _load(path: Path) -> Key:
    private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if isinstance(private_key, rsa.RSAPrivateKey):
        if private_key.key_size < 2048:
            raise SigningKeyMissing(f"{path}: RSA keys must have at least 2048 bits")
        algorithm = "RS256"
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    elif isinstance(private_key, ed25519.Ed25519PrivateKey):
        algorithm = "EdDSA"
        jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(private_key.public_key()))
    else:
        raise SigningKeyMissing(f"{path}: only RSA (RS256) and Ed25519 (EdDSA) keys are supported")
    kid = _thumbprint(jwk)
    return Key(kid, algorithm, private_key, {**jwk, "kid": kid, "use": "sig", "alg": algorithm})


def _thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638: SHA-256 over the required members in lexicographic order."""
    required = {"RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}[jwk["kty"]]
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def _generate(directory: Path) -> None:
    """Write a fresh RSA key; two processes starting together may both try, one file wins."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "dev-signing-key.pem"
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    temporary = directory / f".{uuid.uuid4().hex}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    try:
        os.link(temporary, path)  # fails if another process already placed its key
        log.warning("generated a development signing key", extra={"path": str(path)})
    except FileExistsError:
        pass
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


class KeyRing:
    def __init__(self, keys: list[Key]) -> None:
        if not keys:
            raise SigningKeyMissing("no signing keys")
        self.keys = keys
        self.current = keys[-1]

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> KeyRing:
        directory = settings.signing_keys_path()
        files = sorted(directory.glob("*.pem")) if directory.is_dir() else []
        if not files:
            if settings.env not in ("dev", "test"):
                raise SigningKeyMissing(
                    f"no signing key: put a PEM private key (RSA >= 2048 bits or Ed25519) in {directory} "
                    "or point TDC_AUTH_SIGNING_KEYS_DIR at the folder that holds them"
                )
            _generate(directory)
            files = sorted(directory.glob("*.pem"))
        return cls([_load(path) for path in files])

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.public_jwk for key in self.keys]}

    def verifier(self, settings: AuthSettings) -> TokenVerifier:
        """Our own tokens checked with our own public keys: no HTTP call to ourselves."""
        return TokenVerifier(KeySet.static(self.jwks()), issuer=settings.jwt_issuer, audience=settings.jwt_audience)

    def sign(self, claims: dict[str, Any]) -> str:
        key = self.current
        return jwt.encode(claims, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid, "typ": "JWT"})


def access_token_claims(
    settings: AuthSettings,
    *,
    user_id: int,
    role: str,
    session_id: str,
    patreon_tier: str | None,
    patreon_cents: int | None = None,
    not_before: int | None = None,
) -> dict[str, Any]:
    """`not_before`: the user's revocation time (users.tokens_not_before). A token issued in the
    same second as a revocation still gets `iat >= not_before`, so verifiers tell it from older ones."""
    now = int(time.time())
    if not_before is not None and now < not_before:
        now = not_before  # at most a second ahead: within every verifier's leeway
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "role": role,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + settings.auth_access_token_ttl,
        "jti": uuid.uuid4().hex,
        "sid": session_id,
        "typ": "access",
    }
    if patreon_tier and patreon_cents is not None:
        # Both or neither: gates compare cents, and a tier without its amount would mislead.
        claims["patreon_tier"] = str(patreon_tier)
        claims["patreon_cents"] = int(patreon_cents)
    return claims
