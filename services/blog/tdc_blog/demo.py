"""Demo content for `make run` (TDC_DEMO_DATA=true): a few posts in four languages.

Two categories, three tags, public posts, one for members, one for patrons, and one scheduled
a few minutes ahead (the scheduler publishes it while you watch). Loaded only into an empty
blog, in one transaction; a replica that loses the race hits the unique slugs and leaves it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from mysql.connector import errors as mysql_errors

from tdc_shared.db import Database, Session
from tdc_shared.translations import insert_row, upsert_translations

from .queries import posts as post_queries
from .queries.common import utc_now

log = logging.getLogger(__name__)
AUTHOR = "Luna Dreamer"

CATEGORIES: list[dict[str, Any]] = [
    {
        "slug": "club-news",
        "name": "Club news",
        "description": "What is happening at the Cave.",
        "sort_order": 1,
        "t": {"it": "Notizie dal club", "fr": "Nouvelles du club", "es": "Noticias del club"},
    },
    {
        "slug": "music",
        "name": "Music",
        "description": "Sets, mixes and the artists behind them.",
        "sort_order": 2,
        "t": {"it": "Musica", "fr": "Musique", "es": "Música"},
    },
]
TAGS: list[dict[str, Any]] = [
    {"slug": "techno", "name": "Techno", "t": {"it": "Techno", "fr": "Techno", "es": "Techno"}},
    {"slug": "ambient", "name": "Ambient", "t": {"it": "Ambient", "fr": "Ambiant", "es": "Ambiental"}},
    {"slug": "community", "name": "Community", "t": {"it": "Comunità", "fr": "Communauté", "es": "Comunidad"}},
]

# (slug, category, tags, visibility, status, hours ago (or minutes ahead when scheduled), texts)
POSTS: list[dict[str, Any]] = [
    {
        "slug": "welcome-to-the-cave",
        "category": "club-news",
        "tags": ["community"],
        "visibility": "public",
        "hours_ago": 72,
        "texts": {
            "en": (
                "Welcome to the Cave",
                "A virtual club where the music never sleeps.",
                "## Hello, dreamers\n\nThe **Dreamer's Cave** opens its doors every night in Second Life."
                " Come as you are, dance under the stars of the [Nebula Dome](/locations/nebula-dome).",
            ),
            "it": (
                "Benvenuti nella Caverna",
                "Un club virtuale dove la musica non dorme mai.",
                "## Ciao, sognatori\n\nLa **Dreamer's Cave** apre le sue porte ogni notte in Second Life.",
            ),
            "fr": (
                "Bienvenue dans la Caverne",
                "Un club virtuel où la musique ne dort jamais.",
                "## Bonjour, rêveurs\n\nLa **Dreamer's Cave** ouvre ses portes chaque nuit dans Second Life.",
            ),
            "es": (
                "Bienvenidos a la Cueva",
                "Un club virtual donde la música nunca duerme.",
                "## Hola, soñadores\n\nLa **Dreamer's Cave** abre sus puertas cada noche en Second Life.",
            ),
        },
    },
    {
        "slug": "winter-lineup",
        "category": "music",
        "tags": ["techno", "ambient"],
        "visibility": "public",
        "hours_ago": 30,
        "texts": {
            "en": (
                "The winter lineup",
                "",
                "Twelve nights, eight artists and one very long ambient sunrise set. Here is who plays when,"
                " and why we think the closing night will be the one people talk about.",
            ),
            "it": (
                "La programmazione invernale",
                "",
                "Dodici serate, otto artisti e un lunghissimo set ambient all'alba.",
            ),
            "fr": (
                "La programmation d'hiver",
                "",
                "Douze soirées, huit artistes et un très long set ambient à l'aube.",
            ),
            "es": (
                "La programación de invierno",
                "",
                "Doce noches, ocho artistas y un larguísimo set ambient al amanecer.",
            ),
        },
    },
    {
        "slug": "backstage-notes",
        "category": "club-news",
        "tags": ["community"],
        "visibility": "members",
        "hours_ago": 20,
        "texts": {
            "en": (
                "Backstage notes",
                "What the staff learned from a year of club nights. Sign in to read.",
                "Members only: the lighting rig, the sim limits, and the night the stage fell through the floor.",
            ),
            "it": (
                "Note dal backstage",
                "Cosa ha imparato lo staff in un anno di serate. Accedi per leggere.",
                "Solo per i membri: le luci, i limiti della sim e la notte in cui il palco è caduto.",
            ),
            "fr": (
                "Notes des coulisses",
                "Ce que l'équipe a appris en un an de soirées. Connectez-vous.",
                "Réservé aux membres : l'éclairage, les limites de la sim et la nuit où la scène est tombée.",
            ),
            "es": (
                "Notas de backstage",
                "Lo que el equipo aprendió en un año de noches. Inicia sesión.",
                "Solo para miembros: la iluminación, los límites del sim y la noche en que cayó el escenario.",
            ),
        },
    },
    {
        "slug": "patron-mix-december",
        "category": "music",
        "tags": ["ambient"],
        "visibility": "patrons",
        "hours_ago": 5,
        "texts": {
            "en": (
                "December patron mix",
                "A two-hour ambient mix for our patrons, with the track list.",
                "Thank you for supporting the Cave. Here is the private link and the full track list.",
            ),
            "it": (
                "Il mix di dicembre per i patron",
                "Un mix ambient di due ore per i nostri patron.",
                "Grazie per sostenere la Caverna. Ecco il link privato e la scaletta completa.",
            ),
            "fr": (
                "Le mix de décembre des mécènes",
                "Un mix ambient de deux heures pour nos mécènes.",
                "Merci de soutenir la Caverne. Voici le lien privé et la liste complète des morceaux.",
            ),
            "es": (
                "El mix de diciembre para mecenas",
                "Un mix ambient de dos horas para nuestros mecenas.",
                "Gracias por apoyar la Cueva. Aquí está el enlace privado y la lista completa.",
            ),
        },
    },
    {
        "slug": "new-years-eve-preview",
        "category": "club-news",
        "tags": ["techno", "community"],
        "visibility": "public",
        "minutes_ahead": 5,
        "texts": {
            "en": (
                "New Year's Eve preview",
                "Countdown at the Nebula Dome.",
                "The biggest night of the year: three stages, a countdown and fireworks over the sim.",
            ),
            "it": (
                "Anteprima di Capodanno",
                "Conto alla rovescia alla Nebula Dome.",
                "La notte più grande dell'anno: tre palchi, il conto alla rovescia e i fuochi d'artificio.",
            ),
            "fr": (
                "Avant-première du Nouvel An",
                "Compte à rebours au Nebula Dome.",
                "La plus grande nuit de l'année : trois scènes, un compte à rebours et des feux d'artifice.",
            ),
            "es": (
                "Avance de Nochevieja",
                "Cuenta atrás en el Nebula Dome.",
                "La noche más grande del año: tres escenarios, la cuenta atrás y fuegos artificiales.",
            ),
        },
    },
]


async def _load(tx: Session) -> None:
    now = utc_now()
    category_ids: dict[str, int] = {}
    for category in CATEGORIES:
        texts = category["t"]
        row = {k: category[k] for k in ("slug", "name", "description", "sort_order")}
        category_ids[category["slug"]] = await insert_row(tx, "categories", row)
        await upsert_translations(
            tx,
            "category_translations",
            "category_id",
            category_ids[category["slug"]],
            {lang: {"name": name} for lang, name in texts.items()},
        )
    tag_ids: dict[str, int] = {}
    for tag in TAGS:
        tag_ids[tag["slug"]] = await insert_row(tx, "tags", {"slug": tag["slug"], "name": tag["name"]})
        await upsert_translations(
            tx, "tag_translations", "tag_id", tag_ids[tag["slug"]], {lang: {"name": n} for lang, n in tag["t"].items()}
        )
    for post in POSTS:
        title, excerpt, body = post["texts"]["en"]
        values: dict[str, Any] = {
            "slug": post["slug"],
            "visibility": post["visibility"],
            "category_id": category_ids[post["category"]],
            "author_name": AUTHOR,
            "title": title,
            "excerpt": excerpt or None,
            "body": body,
        }
        if "minutes_ahead" in post:
            values.update(status="scheduled", publish_at=now + timedelta(minutes=post["minutes_ahead"]))
        else:
            values.update(status="published", published_at=now - timedelta(hours=post["hours_ago"]))
        post_id = await insert_row(tx, "posts", values)
        await upsert_translations(
            tx,
            "post_translations",
            "post_id",
            post_id,
            {
                lang: {"title": t, "excerpt": e or None, "body": b}
                for lang, (t, e, b) in post["texts"].items()
                if lang != "en"
            },
        )
        await post_queries.set_tags(tx, post_id, post["tags"])
        admin = await post_queries.find_admin(tx, post_id)
        assert admin is not None
        await post_queries.refresh_digests(tx, admin)


async def load_into(db: Database) -> bool:
    """Fill an empty blog; returns False when there was already something there."""
    try:
        async with db.transaction() as tx:
            if await tx.fetch_value("SELECT 1 FROM posts LIMIT 1"):
                return False
            await _load(tx)
    except mysql_errors.IntegrityError:
        log.info("demo data was loaded by another replica")
        return False
    return True


async def load(app: FastAPI) -> None:
    if await load_into(app.state.db):
        log.info("demo blog loaded")
        cache = getattr(app.state, "cache", None)
        if cache is not None:
            cache.clear()
