"""Full-text search over events: the per-language documents and the boolean-mode query.

`event_search` holds, per event, one document per language: the texts a reader in that
language sees (each translated field, English where it is missing) and the lineup's artist
names, each column under its own InnoDB FULLTEXT index (MySQL 8 and MariaDB alike), so a
search reads its own language's matches only. Staff writes rebuild an event's documents in the
same transaction; InnoDB makes them searchable at commit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from tdc_shared.db import Session
from tdc_shared.i18n import LANGUAGES

# InnoDB indexes words of at least innodb_ft_min_token_size (3) characters.
MIN_WORD = 3
MAX_WORDS = 8
_WORD = re.compile(r"\w+", re.UNICODE)

# The document column of each language (constants: they go into the SQL text).
DOCUMENTS = {code: f"doc_{code}" for code in LANGUAGES}
FULLTEXT_INDEXES = {code: f"ft_event_search_{code}" for code in LANGUAGES}  # as migrations/0008 names them
TEXT_FIELDS = ("title", "subtitle", "description")


_NAMES = (
    "SELECT GROUP_CONCAT(a.name ORDER BY ea.position SEPARATOR ' ') "
    "FROM event_artists ea JOIN artists a ON a.id = ea.artist_id"
)
# The lineup's artist names of one event (a lookup on event_artists' primary key), for the few
# events a staff write touches.
_ARTISTS_OF_EVENT = f"({_NAMES} WHERE ea.event_id = e.id)"
# For every event at once the names are grouped first into a temporary table: per row, MariaDB
# took minutes over 100,000 events (and a GROUP BY derived table in the join, longer).
_NAMES_TABLE = "event_search_names"
_REBUILD_NAMES = (
    f"CREATE TEMPORARY TABLE {_NAMES_TABLE} (event_id BIGINT UNSIGNED NOT NULL PRIMARY KEY, artists TEXT NULL)",
    f"INSERT INTO {_NAMES_TABLE} (event_id, artists) "  # noqa: S608
    f"SELECT ea.event_id, GROUP_CONCAT(a.name ORDER BY ea.position SEPARATOR ' ') "
    "FROM event_artists ea JOIN artists a ON a.id = ea.artist_id GROUP BY ea.event_id",
)


def _document(code: str, artists: str) -> str:
    if code == "en":
        texts = ", ".join(f"e.{f}" for f in TEXT_FIELDS)
    else:
        texts = ", ".join(f"COALESCE(NULLIF({code}.{f}, ''), e.{f})" for f in TEXT_FIELDS)
    return f"CONCAT_WS(' ', {texts}, {artists})"


def _documents(artists: str, join: str = "") -> str:
    return (
        f"INSERT INTO event_search (event_id, {', '.join(DOCUMENTS.values())}) "  # noqa: S608
        f"SELECT e.id, {', '.join(_document(code, artists) for code in DOCUMENTS)} FROM events e {join}"
        + "".join(
            f"LEFT JOIN event_translations {code} ON {code}.event_id = e.id AND {code}.language = '{code}' "
            for code in DOCUMENTS
            if code != "en"
        )
    )


_DOCUMENTS = _documents(_ARTISTS_OF_EVENT)
_ALL_DOCUMENTS = _documents("n.artists", f"LEFT JOIN {_NAMES_TABLE} n ON n.event_id = e.id ")


def match(language: str) -> str:
    """`MATCH (doc_xx) AGAINST (%s IN BOOLEAN MODE)` for a language we speak (else English)."""
    return f"MATCH ({DOCUMENTS.get(language, 'doc_en')}) AGAINST (%s IN BOOLEAN MODE)"


def words(q: str) -> list[str]:
    """The searchable words of `q`: letters and digits, three or more, at most eight."""
    return [w for w in _WORD.findall(q) if len(w) >= MIN_WORD][:MAX_WORDS]


def boolean_query(found: Sequence[str]) -> str:
    """Every word required, whole words (`+notte +stelle`); operators never come from input.

    Whole words, not prefixes (`stell*`): a prefix term reads every indexed word it starts and
    cost three times as much in the benchmark.
    """
    return " ".join(f"+{w}" for w in found)


async def refresh(tx: Session, event_ids: Sequence[int]) -> None:
    """Rebuild the documents of these events (after any change to their texts or lineup)."""
    ids = list(dict.fromkeys(event_ids))
    if not ids:
        return
    marks = ", ".join(["%s"] * len(ids))
    await tx.execute(f"DELETE FROM event_search WHERE event_id IN ({marks})", ids)  # noqa: S608, RUF100 (marks only)
    await tx.execute(_DOCUMENTS + f"WHERE e.id IN ({marks})", ids)  # noqa: S608, RUF100 (constant SQL, marks only)


async def refresh_for_artist(tx: Session, artist_id: int) -> None:
    """An artist's name is in the documents of every event they play."""
    rows = await tx.fetch_all("SELECT event_id FROM event_artists WHERE artist_id = %s", (artist_id,))
    await refresh(tx, [r["event_id"] for r in rows])


def rebuild_all_statements() -> tuple[str, ...]:
    """The statements that write every event's documents into an empty event_search."""
    return (*_REBUILD_NAMES, _ALL_DOCUMENTS, f"DROP TEMPORARY TABLE {_NAMES_TABLE}")


async def rebuild_all(tx: Session) -> None:
    """Every event's documents (bulk loads: the demo data, the benchmark)."""
    await tx.execute("DELETE FROM event_search")
    for statement in rebuild_all_statements():
        await tx.execute(statement)
