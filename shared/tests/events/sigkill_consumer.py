"""A consumer that dies by SIGKILL after its handler's transaction committed, before the ack.

Run by test_sigkill.py as `python sigkill_consumer.py MYSQL_URL AMQP_URL DB_PREFIX NAMESPACE`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tdc_shared.app import ServiceSpec, create_service
from tdc_shared.db import Session
from tdc_shared.events import MIGRATIONS, Event, HandlerRegistry
from tdc_shared.events.bus import event_bus
from tdc_shared.settings import ServiceSettings

handlers = HandlerRegistry()


@handlers.on("catalog.event.published")
async def apply_then_die(tx: Session, event: Event) -> None:
    await tx.execute("INSERT INTO effects (event_id, note) VALUES (%s, %s)", (str(event.id), "killed consumer"))
    # Runs right after COMMIT and before the consumer acks: the worst moment to die.
    tx.after_commit(lambda: os.kill(os.getpid(), signal.SIGKILL))


async def main(mysql_url: str, amqp_url: str, prefix: str, namespace: str) -> int:
    settings = ServiceSettings(
        env="test", mysql_url=mysql_url, amqp_url=amqp_url, db_prefix=prefix, bus_namespace=namespace, log_level="ERROR"
    )
    app = create_service(
        ServiceSpec(
            name="notification",
            settings=settings,
            components=[event_bus(handlers=handlers, relay=False)],
            extra_migrations=[MIGRATIONS, Path(__file__).parent / "migrations"],
        )
    )
    async with app.router.lifespan_context(app):
        await asyncio.sleep(60)  # the handler kills the process long before this ends
    return 3


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:5])))
