"""The shared token verifier: what it accepts, what it refuses, and how it treats its keys."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from tdc_shared.auth import InvalidToken, KeySet, TokenVerifier
from tdc_shared.testing.keys import AUDIENCE, ISSUER, SigningKey, jwks


def verifier_for(*keys: SigningKey) -> TokenVerifier:
    return TokenVerifier(KeySet.static(jwks(*keys)), issuer=ISSUER, audience=AUDIENCE)


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_a_good_token_is_accepted(signing_key: SigningKey) -> None:
    claims = await verifier_for(signing_key).verify(signing_key.token(sub=42, role="staff", patreon_tier="gold"))
    assert (claims.sub, claims.role, claims.patreon_tier, claims.user_id) == ("42", "staff", "gold", 42)


async def test_alg_none_is_refused(signing_key: SigningKey) -> None:
    token = jwt.encode(signing_key.claims(), key=None, algorithm="none", headers={"kid": signing_key.kid})
    with pytest.raises(InvalidToken, match="algorithm not allowed"):
        await verifier_for(signing_key).verify(token)


async def test_hs256_signed_with_the_public_key_is_refused(signing_key: SigningKey) -> None:
    header = b64({"alg": "HS256", "typ": "JWT", "kid": signing_key.kid})
    payload = b64(signing_key.claims())
    import hashlib
    import hmac

    signature = hmac.new(signing_key.public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    token = f"{header}.{payload}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
    with pytest.raises(InvalidToken, match="algorithm not allowed"):
        await verifier_for(signing_key).verify(token)


async def test_an_expired_token_is_refused(signing_key: SigningKey) -> None:
    token = signing_key.token(ttl=-60)
    with pytest.raises(InvalidToken, match="expired"):
        await verifier_for(signing_key).verify(token)


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "someone-else"},
        {"iss": "https://evil.example"},
        {"exp": None},
        {"iat": None},
        {"jti": None},
        {"sub": None},
        {"role": "superuser"},
        {"typ": "refresh"},
    ],
)
async def test_wrong_or_missing_claims_are_refused(signing_key: SigningKey, overrides: dict) -> None:
    with pytest.raises(InvalidToken):
        await verifier_for(signing_key).verify(signing_key.token(**overrides))


async def test_a_tampered_payload_is_refused(signing_key: SigningKey) -> None:
    header, _, signature = signing_key.token(role="user").split(".")
    forged = b64(signing_key.claims(role="admin"))
    with pytest.raises(InvalidToken):
        await verifier_for(signing_key).verify(f"{header}.{forged}.{signature}")


async def test_a_token_from_another_key_with_the_same_kid_is_refused(signing_key: SigningKey) -> None:
    impostor = SigningKey.generate(signing_key.kid)
    with pytest.raises(InvalidToken):
        await verifier_for(signing_key).verify(impostor.token())


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "....."])
async def test_garbage_is_refused(signing_key: SigningKey, token: str) -> None:
    with pytest.raises(InvalidToken):
        await verifier_for(signing_key).verify(token)


async def test_unknown_kid_refetches_at_most_once_per_cooldown() -> None:
    old, new = SigningKey.generate("old"), SigningKey.generate("new")
    published = {"keys": [old.jwk()]}
    fetches = 0

    async def fetch() -> dict:
        nonlocal fetches
        fetches += 1
        return published

    verifier = TokenVerifier(KeySet(fetch, refetch_cooldown=3600), issuer=ISSUER, audience=AUDIENCE)
    await verifier.verify(old.token())
    assert fetches == 1
    for _ in range(5):  # within the cooldown an unknown kid costs no fetch at all
        with pytest.raises(InvalidToken, match="Unknown signing key"):
            await verifier.verify(SigningKey.generate("forged").token())
    assert fetches == 1
    verifier.keys._last_attempt = float("-inf")  # the cooldown has passed
    for _ in range(5):  # a flood of unknown kids after it costs one fetch, not five
        with pytest.raises(InvalidToken, match="Unknown signing key"):
            await verifier.verify(SigningKey.generate("forged").token())
    assert fetches == 2
    published["keys"].append(new.jwk())  # rotation: a new key appears, still in the cooldown
    with pytest.raises(InvalidToken):
        await verifier.verify(new.token())
    verifier.keys.refetch_cooldown = 0
    assert (await verifier.verify(new.token())).sub == "1"
    assert fetches == 3


async def test_cached_keys_keep_working_while_the_jwks_endpoint_is_down() -> None:
    key = SigningKey.generate("k1")
    up = True

    async def fetch() -> dict:
        if not up:
            raise ConnectionError("auth is down")
        return jwks(key)

    keys = KeySet(fetch, max_age=0.01, refetch_cooldown=0)
    verifier = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE)
    await verifier.verify(key.token())
    up = False
    time.sleep(0.02)  # the cached keys are now stale, and the refresh fails
    assert (await verifier.verify(key.token(sub=2))).sub == "2"


async def test_verified_tokens_are_cached_until_expiry(signing_key: SigningKey) -> None:
    verifier = verifier_for(signing_key)
    token = signing_key.token(ttl=60)
    first = await verifier.verify(token)
    assert verifier.cached(token) == first
    short = signing_key.token(ttl=-10)
    verifier._remember(short, first.__class__(sub="1", role="user", jti="x", exp=int(time.time()) - 10))
    assert verifier.cached(short) is None


def test_symmetric_algorithms_cannot_be_configured(signing_key: SigningKey) -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        TokenVerifier(KeySet.static(jwks(signing_key)), issuer=ISSUER, audience=AUDIENCE, algorithms=("HS256",))


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
async def test_an_algorithm_that_does_not_fit_the_key_is_an_invalid_token(signing_key: SigningKey, alg: str) -> None:
    # A forged header naming the real RSA key with another algorithm: PyJWT alone raises TypeError.
    header = b64({"alg": alg, "typ": "JWT", "kid": signing_key.kid})
    token = f"{header}.{b64(signing_key.claims())}.{base64.urlsafe_b64encode(b'x' * 64).rstrip(b'=').decode()}"
    with pytest.raises(InvalidToken, match="does not match its key"):
        await verifier_for(signing_key).verify(token)


async def test_a_revoked_session_or_an_older_token_of_the_user_is_refused_even_from_the_cache(
    signing_key: SigningKey,
) -> None:
    verifier = verifier_for(signing_key)
    now = int(time.time())
    session_token = signing_key.token(sub=5, sid="a" * 32)
    other_session = signing_key.token(sub=5, sid="b" * 32)
    await verifier.verify(session_token)
    assert verifier.cached(session_token) is not None
    verifier.revocations.revoke(user_id=5, session_id="a" * 32)
    assert verifier.cached(session_token) is None  # the cache honours it
    with pytest.raises(InvalidToken, match="revoked"):
        await verifier.verify(session_token)
    assert (await verifier.verify(other_session)).sub == "5"

    old = signing_key.token(sub=6, iat=now - 10)
    await verifier.verify(old)
    verifier.revocations.revoke(user_id=6, not_before=now)
    with pytest.raises(InvalidToken, match="revoked"):
        await verifier.verify(old)
    # Issued at or after the revocation: fine; another user: untouched.
    assert (await verifier.verify(signing_key.token(sub=6, iat=now))).sub == "6"
    assert (await verifier.verify(signing_key.token(sub=7, iat=now - 10))).sub == "7"


def test_revocations_are_forgotten_after_their_retention_and_bounded() -> None:
    from tdc_shared.auth import Claims, Revocations

    revocations = Revocations(retention=0.0)
    revocations.revoke(user_id=1, session_id="s" * 32)
    claims = Claims(sub="1", role="user", jti="j", exp=0, raw={"sid": "s" * 32, "iat": 0})
    assert not revocations.refuses(claims)
    bounded = Revocations(max_entries=3)
    for n in range(10):
        bounded.revoke(user_id=n, session_id=f"{n:032d}")
    assert len(bounded) == 3
    assert bounded.refuses(Claims(sub="9", role="user", jti="j", exp=0, raw={"sid": f"{9:032d}"}))
