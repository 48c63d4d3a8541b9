"""Signing keys from PEM files: rotation, EdDSA, dev generation, and refusing to start without a key."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from tdc_auth.keys import KeyRing, SigningKeyMissing
from tdc_auth.settings import AuthSettings
from tdc_shared.auth import InvalidToken


def write_key(path: Path, private_key) -> None:
    path.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def settings(directory: Path, env: str = "test", **extra) -> AuthSettings:
    return AuthSettings(env=env, auth_signing_keys_dir=str(directory), **extra)


async def test_rotation_publishes_every_key_and_the_newest_signs(tmp_path: Path):
    write_key(tmp_path / "2026-01-01.pem", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    old = KeyRing.from_settings(settings(tmp_path))
    token_before_rotation = old.sign({"sub": "1"})
    write_key(tmp_path / "2026-06-01.pem", ed25519.Ed25519PrivateKey.generate())
    ring = KeyRing.from_settings(settings(tmp_path))
    assert [k["alg"] for k in ring.jwks()["keys"]] == ["RS256", "EdDSA"]
    assert ring.current.algorithm == "EdDSA"
    assert jwt.get_unverified_header(ring.sign({"sub": "1"}))["kid"] == ring.current.kid
    # kids are thumbprints: the same file gives the same kid on every replica and restart.
    assert ring.keys[0].kid == old.current.kid
    # A token signed before the rotation still verifies against the new JWKS.
    key = jwt.PyJWK(ring.jwks()["keys"][0])
    assert jwt.decode(token_before_rotation, key.key, algorithms=["RS256"])["sub"] == "1"


async def test_our_verifier_accepts_eddsa_tokens(tmp_path: Path):
    write_key(tmp_path / "k.pem", ed25519.Ed25519PrivateKey.generate())
    config = settings(tmp_path)
    ring = KeyRing.from_settings(config)
    from tdc_auth.keys import access_token_claims

    token = ring.sign(
        access_token_claims(
            config, user_id=7, role="staff", session_id="s" * 32, patreon_tier="gold", patreon_cents=500
        )
    )
    claims = await ring.verifier(config).verify(token)
    assert (claims.user_id, claims.role, claims.patreon_tier, claims.patreon_cents) == (7, "staff", "gold", 500)
    with pytest.raises(InvalidToken):
        await ring.verifier(config).verify(token[:-4] + "AAAA")


def test_dev_generates_a_private_key_once(tmp_path: Path):
    directory = tmp_path / "keys"
    first = KeyRing.from_settings(settings(directory, env="dev"))
    files = list(directory.glob("*.pem"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert KeyRing.from_settings(settings(directory, env="dev")).current.kid == first.current.kid


async def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path):
    rings = await asyncio.gather(
        *(asyncio.to_thread(KeyRing.from_settings, settings(tmp_path / "k", env="dev")) for _ in range(4))
    )
    assert len({ring.current.kid for ring in rings}) == 1
    assert len(list((tmp_path / "k").glob("*"))) == 1


def test_prod_without_a_key_refuses_to_start(tmp_path: Path):
    config = settings(
        tmp_path / "empty",
        env="prod",
        mysql_url="mysql://u:p@db:3306",
        amqp_url="amqp://u:p@mq/",
        auth_session_secret="s3cret-from-the-vault",
        auth_public_url="https://www.dreamerscave.example",
    )
    with pytest.raises(SigningKeyMissing, match="no signing key"):
        KeyRing.from_settings(config)
    assert not (tmp_path / "empty").exists()


def test_prod_refuses_the_dev_session_secret(tmp_path: Path):
    with pytest.raises(ValueError, match="TDC_AUTH_SESSION_SECRET"):
        settings(tmp_path, env="prod", mysql_url="mysql://u:p@db:3306", amqp_url="amqp://u:p@mq/")


def test_weak_rsa_keys_are_refused(tmp_path: Path):
    write_key(tmp_path / "weak.pem", rsa.generate_private_key(public_exponent=65537, key_size=1024))  # noqa: S505 (the point)
    with pytest.raises(SigningKeyMissing, match="2048"):
        KeyRing.from_settings(settings(tmp_path))
