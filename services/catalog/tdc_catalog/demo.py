"""Demo content for `make run` (TDC_DEMO_DATA=true): a living club in four languages.

Loaded only into an empty catalog, in one transaction; a replica that loses the race to
another one starting at the same moment hits the unique slugs and leaves it to the winner.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from mysql.connector import errors as mysql_errors

from tdc_shared.db import Database, Session
from tdc_shared.translations import insert_row, upsert_translations

from .queries import admin_events as event_queries
from .queries import search

log = logging.getLogger(__name__)
SL_TIME = ZoneInfo("America/Los_Angeles")

LOCATIONS = [
    {
        "slug": "nebula-dome",
        "name": "Nebula Dome",
        "capacity": 120,
        "mood_category": "cosmic_tech",
        "primary_color": "#1b1f4b",
        "secondary_color": "#6c3fd1",
        "accent_color": "#19e3ff",
        "dark_color": "#07081a",
        "css_gradient": "linear-gradient(135deg, #07081a 0%, #1b1f4b 50%, #6c3fd1 100%)",
        "mood_keywords": "cosmic,techno,lasers,stars",
        "slurl": "http://maps.secondlife.com/secondlife/Dreamers%20Cave/128/128/40",
        "sort_order": 1,
        "tagline": "Dance under a sky of living stars",
        "description": "A geodesic dome where the night sky moves with the music.",
        "t": {
            "it": (
                "Balla sotto un cielo di stelle vive",
                "Una cupola geodetica dove il cielo notturno si muove con la musica.",
            ),
            "fr": (
                "Dansez sous un ciel d'étoiles vivantes",
                "Un dôme géodésique où le ciel nocturne bouge avec la musique.",
            ),
            "es": (
                "Baila bajo un cielo de estrellas vivas",
                "Una cúpula geodésica donde el cielo nocturno se mueve con la música.",
            ),
        },
    },
    {
        "slug": "ember-lounge",
        "name": "Ember Lounge",
        "capacity": 60,
        "mood_category": "warm_intimate",
        "primary_color": "#5a2a12",
        "secondary_color": "#c8692c",
        "accent_color": "#ffcf7a",
        "dark_color": "#1e0e06",
        "css_gradient": "linear-gradient(135deg, #1e0e06 0%, #5a2a12 60%, #c8692c 100%)",
        "mood_keywords": "jazz,fireplace,acoustic,candles",
        "slurl": "http://maps.secondlife.com/secondlife/Dreamers%20Cave/64/190/22",
        "sort_order": 2,
        "tagline": "Low lights, warm sounds",
        "description": "A cave lounge lit by embers, for acoustic sets and late conversations.",
        "t": {
            "it": ("Luci soffuse, suoni caldi", "Un salotto nella grotta illuminato dalle braci, per set acustici."),
            "fr": (
                "Lumières tamisées, sons chaleureux",
                "Un salon troglodyte éclairé par les braises, pour des sets acoustiques.",
            ),
            "es": ("Luces tenues, sonidos cálidos", "Un salón en la cueva iluminado por brasas, para sets acústicos."),
        },
    },
    {
        "slug": "crystal-grotto",
        "name": "Crystal Grotto",
        "capacity": 90,
        "mood_category": "hybrid",
        "primary_color": "#0f3b3a",
        "secondary_color": "#2fa39b",
        "accent_color": "#f0b3ff",
        "dark_color": "#061615",
        "css_gradient": "linear-gradient(135deg, #061615 0%, #0f3b3a 50%, #2fa39b 100%)",
        "mood_keywords": "crystals,downtempo,water,glow",
        "slurl": "http://maps.secondlife.com/secondlife/Dreamers%20Cave/200/60/18",
        "sort_order": 3,
        "tagline": "Where the cave meets the cosmos",
        "description": "Glowing crystals and an underground lake for downtempo nights.",
        "t": {
            "it": ("Dove la grotta incontra il cosmo", "Cristalli luminosi e un lago sotterraneo per notti downtempo."),
            "fr": (
                "Là où la grotte rencontre le cosmos",
                "Des cristaux lumineux et un lac souterrain pour des nuits downtempo.",
            ),
            "es": (
                "Donde la cueva se encuentra con el cosmos",
                "Cristales brillantes y un lago subterráneo para noches downtempo.",
            ),
        },
    },
]

ARTISTS = [
    (
        "dj-orbit",
        "DJ Orbit",
        "techno",
        "Deep space techno",
        "Profondo techno spaziale",
        "Techno de l'espace profond",
        "Techno del espacio profundo",
    ),
    (
        "luna-vox",
        "Luna Vox",
        "ambient",
        "Voices from the moon",
        "Voci dalla luna",
        "Des voix venues de la lune",
        "Voces desde la luna",
    ),
    (
        "ember-keys",
        "Ember Keys",
        "jazz",
        "Piano by the fire",
        "Pianoforte accanto al fuoco",
        "Piano au coin du feu",
        "Piano junto al fuego",
    ),
    ("neon-drift", "Neon Drift", "synthwave", "Retro futures", "Futuri retrò", "Futurs rétro", "Futuros retro"),
    ("aqua-pulse", "Aqua Pulse", "downtempo", "Slow waves", "Onde lente", "Vagues lentes", "Olas lentas"),
    (
        "stellar-soul",
        "Stellar Soul",
        "soul",
        "Soul among the stars",
        "Soul tra le stelle",
        "La soul parmi les étoiles",
        "Soul entre las estrellas",
    ),
]

NIGHTS = [
    ("Starfall", "Stelle cadenti", "Pluie d'étoiles", "Lluvia de estrellas"),
    ("Fireside Sessions", "Sessioni al camino", "Sessions au coin du feu", "Sesiones junto al fuego"),
    ("Crystal Echoes", "Echi di cristallo", "Échos de cristal", "Ecos de cristal"),
    ("Orbit Night", "Notte in orbita", "Nuit en orbite", "Noche en órbita"),
]

STAFF = [
    (
        "aurora",
        "Aurora Dreamweaver",
        "Owner",
        "Proprietaria",
        "Propriétaire",
        "Propietaria",
        "Dreamed the cave into being.",
    ),
    (
        "kai",
        "Kai Nightfall",
        "Events manager",
        "Responsabile eventi",
        "Responsable des événements",
        "Responsable de eventos",
        "Books the artists and keeps the nights running.",
    ),
    ("mira", "Mira Lumen", "Host", "Padrona di casa", "Hôtesse", "Anfitriona", "Welcomes every guest at the door."),
]

STRINGS = {
    "nav.home": ("Home", "Home", "Accueil", "Inicio"),
    "nav.events": ("Events", "Eventi", "Événements", "Eventos"),
    "nav.locations": ("Locations", "Luoghi", "Lieux", "Lugares"),
    "nav.artists": ("Artists", "Artisti", "Artistes", "Artistas"),
    "nav.staff": ("Our team", "Il nostro staff", "Notre équipe", "Nuestro equipo"),
    "events.upcoming": ("Upcoming events", "Prossimi eventi", "Événements à venir", "Próximos eventos"),
    "events.cancelled": ("Cancelled", "Annullato", "Annulé", "Cancelado"),
    "events.add_to_calendar": (
        "Add to calendar",
        "Aggiungi al calendario",
        "Ajouter au calendrier",
        "Añadir al calendario",
    ),
    "events.lineup": ("Lineup", "Programma", "Programmation", "Cartel"),
    "location.teleport": ("Teleport", "Teletrasporto", "Téléportation", "Teletransporte"),
    "footer.support": ("Support the club", "Sostieni il club", "Soutenez le club", "Apoya al club"),
}


async def _load(tx: Session, event_count: int) -> None:
    location_ids = []
    for spec in LOCATIONS:
        values = {k: v for k, v in spec.items() if k != "t"}
        location_id = await insert_row(tx, "locations", values)
        location_ids.append(location_id)
        texts = {lang: {"tagline": t[0], "description": t[1]} for lang, t in spec["t"].items()}
        await upsert_translations(tx, "location_translations", "location_id", location_id, texts)
    artist_ids = []
    for slug, name, genre, tagline, it, fr, es in ARTISTS:
        artist_id = await insert_row(
            tx,
            "artists",
            {"slug": slug, "name": name, "genre": genre, "tagline": tagline, "bio": f"{name} plays {genre}."},
        )
        artist_ids.append(artist_id)
        texts = {"it": {"tagline": it}, "fr": {"tagline": fr}, "es": {"tagline": es}}
        await upsert_translations(tx, "artist_translations", "artist_id", artist_id, texts)
    today = datetime.now(SL_TIME).date()
    for n in range(event_count):
        night = NIGHTS[n % len(NIGHTS)]
        start_local = datetime.combine(today + timedelta(days=n + 1), time(18 + n % 3, 0), SL_TIME)
        start = start_local.astimezone(UTC).replace(tzinfo=None)
        end = start + timedelta(hours=3)
        event_id = await event_queries.create(
            tx,
            {
                "slug": f"{night[0].lower().replace(' ', '-')}-{n + 1}",
                "status": "published",
                "title": f"{night[0]} #{n + 1}",
                "subtitle": "A night at The Dreamer's Cave",
                "description": "Music, lights and friends in Second Life.",
                "start_utc": start,
                "end_utc": end,
                "timezone": "America/Los_Angeles",
                "location_id": location_ids[n % len(location_ids)],
                "is_featured": int(n % 5 == 0),
                "published_at": datetime.now(UTC).replace(tzinfo=None),
            },
        )
        texts = {
            lang: {"title": f"{title} #{n + 1}", "subtitle": "Una notte al Dreamer's Cave" if lang == "it" else None}
            for lang, title in zip(("it", "fr", "es"), night[1:], strict=True)
        }
        texts = {lang: {k: v for k, v in t.items() if v is not None} for lang, t in texts.items()}
        await upsert_translations(tx, "event_translations", "event_id", event_id, texts)
        slots = []
        for i in range(3):
            slot_start = start + timedelta(hours=i)
            slots.append(
                {
                    "artist_id": artist_ids[(n + i) % len(artist_ids)],
                    "set_start": slot_start,
                    "set_end": slot_start + timedelta(hours=1),
                }
            )
        await event_queries.set_lineup(tx, event_id, slots)
    await search.rebuild_all(tx)
    for order, (slug, name, role, it, fr, es, bio) in enumerate(STAFF):
        staff_id = await insert_row(
            tx, "staff", {"slug": slug, "name": name, "role_title": role, "bio": bio, "sort_order": order}
        )
        texts = {"it": {"role_title": it}, "fr": {"role_title": fr}, "es": {"role_title": es}}
        await upsert_translations(tx, "staff_translations", "staff_id", staff_id, texts)
    for key, (en, it, fr, es) in STRINGS.items():
        string_id = await tx.execute("INSERT INTO i18n_strings (string_key, text) VALUES (%s, %s)", (key, en))
        texts = {"it": {"text": it}, "fr": {"text": fr}, "es": {"text": es}}
        await upsert_translations(tx, "i18n_string_translations", "string_id", string_id, texts)


async def load_into(db: Database, event_count: int = 24) -> bool:
    """Fill an empty catalog; returns False when there was already something there."""
    try:
        async with db.transaction() as tx:
            if await tx.fetch_value("SELECT 1 FROM locations LIMIT 1"):
                return False
            await _load(tx, event_count)
    except mysql_errors.IntegrityError:
        log.info("demo data was loaded by another replica")
        return False
    return True


async def load(app: FastAPI) -> None:
    if await load_into(app.state.db, app.state.settings.catalog_demo_events):
        log.info("demo catalog loaded")
        cache = getattr(app.state, "cache", None)
        if cache is not None:
            cache.clear()
