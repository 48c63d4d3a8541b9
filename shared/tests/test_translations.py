"""tdc_shared.translations against a real MySQL/MariaDB: English in the base row, other languages
field by field, fallback to English, partial upserts, slug checks and the request-body helpers."""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import BaseModel, ConfigDict

from tdc_shared.db import Database, connect
from tdc_shared.envelope import Unprocessable
from tdc_shared.i18n import LANGUAGES
from tdc_shared.migrations import quote_identifier
from tdc_shared.translations import (
    Language,
    TranslatedTable,
    changes_of,
    translations_of,
    upsert_translations,
    with_fallback,
)

THINGS = TranslatedTable(
    table="things",
    translations="thing_translations",
    owner="thing_id",
    base_fields=("id", "slug", "name", "motto", "is_active", "created_at", "updated_at"),
    text_fields=("name", "motto"),
    booleans=("is_active",),
)
SCHEMA = (
    "CREATE TABLE things (id INT AUTO_INCREMENT PRIMARY KEY, slug VARCHAR(100) NOT NULL UNIQUE,"
    " name VARCHAR(150) NOT NULL, motto VARCHAR(255) NULL, is_active TINYINT(1) NOT NULL DEFAULT 1,"
    " created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),"
    " updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP) CHARSET utf8mb4",
    "CREATE TABLE thing_translations (thing_id INT NOT NULL, language CHAR(2) NOT NULL,"
    " name VARCHAR(150) NULL, motto VARCHAR(255) NULL, PRIMARY KEY (thing_id, language)) CHARSET utf8mb4",
)


@pytest.fixture(scope="module")
async def db(mysql_url: str, db_prefix: str):
    schema = f"{db_prefix}translations"
    conn = await connect(mysql_url)
    try:
        cursor = await conn.cursor()
        for statement in (f"CREATE DATABASE {quote_identifier(schema)}", f"USE {quote_identifier(schema)}", *SCHEMA):
            await cursor.execute(statement)
        await cursor.close()
    finally:
        await conn.close()
    database = Database(mysql_url, schema, pool_size=2, wait_seconds=10)
    yield database
    await database.close()


async def _public(db: Database, language: str, thing_id: int) -> dict:
    async with db.session() as s:
        rows = await s.fetch_all(THINGS.public_select("x") + " WHERE x.id = %s", (language, thing_id))
    assert len(rows) == 1
    return rows[0]


async def test_readers_get_their_language_field_by_field_and_english_elsewhere(db: Database) -> None:
    async with db.transaction() as tx:
        thing_id = await THINGS.create(tx, {"slug": "nebula-dome", "name": "Nebula Dome", "motto": "Dance on"})
        await THINGS.set_translations(
            tx, thing_id, {"it": {"motto": "Balla ancora"}, "fr": {"name": "", "motto": "Dansez encore"}}
        )
    italian = await _public(db, "it", thing_id)
    assert (italian["name"], italian["motto"]) == ("Nebula Dome", "Balla ancora")
    french = await _public(db, "fr", thing_id)  # an empty translation falls back too
    assert (french["name"], french["motto"]) == ("Nebula Dome", "Dansez encore")
    spanish = await _public(db, "es", thing_id)  # no row at all
    assert (spanish["name"], spanish["motto"]) == ("Nebula Dome", "Dance on")


async def test_admin_rows_hold_stored_texts_and_normalised_columns(db: Database) -> None:
    async with db.transaction() as tx:
        thing_id = await THINGS.create(tx, {"slug": "crystal-grotto", "name": "Crystal Grotto", "is_active": 0})
        await THINGS.set_translations(tx, thing_id, {"es": {"name": "Gruta de Cristal"}})
        row = await THINGS.find_admin(tx, thing_id)
        assert await THINGS.find_admin(tx, 10**9) is None
    assert row is not None
    assert row["is_active"] is False
    assert row["created_at"].endswith("Z") and len(row["created_at"]) == len("2031-09-05T20:00:00Z")
    assert row["translations"] == {"es": {"name": "Gruta de Cristal", "motto": None}}
    languages = THINGS.all_languages(row)
    assert languages["es"] == {"name": "Gruta de Cristal", "motto": None}
    assert languages["it"] == {"name": "Crystal Grotto", "motto": None}
    assert set(languages) == set(LANGUAGES)


async def test_english_edits_the_base_row_and_unsent_fields_keep_their_value(db: Database) -> None:
    async with db.transaction() as tx:
        thing_id = await THINGS.create(tx, {"slug": "velvet-lounge", "name": "Velvet Lounge", "motto": "Slow down"})
        await THINGS.set_translations(tx, thing_id, {"it": {"name": "Salotto di velluto", "motto": "Rallenta"}})
        await THINGS.set_translations(tx, thing_id, {"en": {"motto": "Slow right down"}, "it": {"motto": None}})
        await THINGS.update(tx, thing_id, {"slug": "the-velvet-lounge"})
        await THINGS.update(tx, thing_id, {})  # nothing sent: nothing written
        row = await THINGS.find_admin(tx, thing_id)
    assert row is not None
    assert (row["slug"], row["name"], row["motto"]) == ("the-velvet-lounge", "Velvet Lounge", "Slow right down")
    assert row["translations"] == {"it": {"name": "Salotto di velluto", "motto": None}}
    italian = await _public(db, "it", thing_id)
    assert (italian["name"], italian["motto"]) == ("Salotto di velluto", "Slow right down")


async def test_with_fields_only_those_columns_are_written(db: Database) -> None:
    async with db.transaction() as tx:
        thing_id = await THINGS.create(tx, {"slug": "moon-terrace", "name": "Moon Terrace"})
        sent = {"es": {"name": "Terraza de la luna", "id; DROP TABLE things": "x"}, "fr": {"slug": "x"}}
        await upsert_translations(tx, "thing_translations", "thing_id", thing_id, sent, ("name", "motto"))
        row = await THINGS.find_admin(tx, thing_id)
    assert row is not None
    assert row["translations"] == {"es": {"name": "Terraza de la luna", "motto": None}}


async def test_a_slug_is_free_only_for_its_own_row_and_delete_removes_the_row(db: Database) -> None:
    async with db.transaction() as tx:
        first = await THINGS.create(tx, {"slug": "starfall-stage", "name": "Starfall Stage"})
        await THINGS.ensure_slug_free(tx, "starfall-stage", first)
        await THINGS.ensure_slug_free(tx, None)
        with pytest.raises(Unprocessable) as refused:
            await THINGS.ensure_slug_free(tx, "starfall-stage")
        assert refused.value.errors == {"slug": ["already taken"]}
        await THINGS.delete(tx, first)
        await THINGS.ensure_slug_free(tx, "starfall-stage")
        assert await THINGS.find_admin(tx, first) is None


class ThingText(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    motto: str | None = None


class ThingTranslations(BaseModel):
    model_config = ConfigDict(extra="forbid")
    translations: dict[Language, ThingText]


def test_bodies_give_the_fields_sent_and_refuse_clearing_required_english() -> None:
    body = ThingTranslations.model_validate({"translations": {"it": {"motto": None}, "en": {"motto": "Dance on"}}})
    assert translations_of(body, ("name",)) == {"it": {"motto": None}, "en": {"motto": "Dance on"}}
    cleared = ThingTranslations.model_validate({"translations": {"en": {"name": None}}})
    with pytest.raises(Unprocessable) as refused:
        translations_of(cleared, ("name",))
    assert refused.value.errors == {"name": ["may not be null"]}
    assert translations_of(ThingTranslations.model_validate({"translations": {"fr": {"name": None}}}), ("name",))
    assert changes_of(ThingText(motto="Dance on")) == {"motto": "Dance on"}


def test_language_is_every_language_the_platform_speaks() -> None:
    assert get_args(Language) == LANGUAGES
    assert with_fallback({"name": "Nebula Dome"}, {"it": {"name": ""}})["it"] == {"name": "Nebula Dome"}
