"""Dead letters for operators: list them, and replay them into the service's queue.

    python -m tdc_shared.events.admin list   --service notification [--namespace tdc] [--json]
    python -m tdc_shared.events.admin replay --service notification [--id EVENT_ID ...]

(`make dead-letters SERVICE=notification`, `make replay-dead-letters SERVICE=notification`.)
The broker is `TDC_AMQP_URL` (or `--amqp-url`), the namespace `TDC_BUS_NAMESPACE` (default
"tdc"). Listing takes the messages without acking them and gives them back when it closes
its channel, so nothing leaves the queue. A replay publishes each chosen message to
`<ns>.<service>` through the default exchange - only that service sees it again, not every
consumer of the event - with publisher confirms, and only then removes it from the
dead-letter queue. The consumer's inbox makes a replay of an already applied event a no-op.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from aiormq.exceptions import ChannelNotFoundEntity

from ..settings import ServiceSettings
from .topology import (
    ATTEMPTS_HEADER,
    DEAD_AT_HEADER,
    DELIVERY_COUNT_HEADER,
    ERROR_HEADER,
    REPLAYS_HEADER,
    Names,
    persistent_copy,
)

# Headers describing a past death; a replayed message starts clean.
_DEATH_HEADERS = (
    ERROR_HEADER,
    ATTEMPTS_HEADER,
    DEAD_AT_HEADER,
    DELIVERY_COUNT_HEADER,
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
)


class NoDeadLetterQueue(LookupError):
    pass


@dataclass(frozen=True)
class DeadLetter:
    event_id: str | None
    type: str | None
    error: str
    attempts: int | None
    dead_at: str | None
    replays: int


def describe(message: AbstractIncomingMessage) -> DeadLetter:
    headers = message.headers or {}
    error = headers.get(ERROR_HEADER)
    if error is None:
        # Dead-lettered by the broker itself (delivery limit): the reason is all it recorded.
        deaths = headers.get("x-death") or [{}]
        death = deaths[0] if isinstance(deaths, list) and deaths else {}
        reason = death.get("reason", "unknown") if isinstance(death, dict) else "unknown"
        error = f"dead-lettered by the broker: {_text(reason)}"
    attempts = headers.get(ATTEMPTS_HEADER)
    return DeadLetter(
        event_id=message.message_id,
        type=message.type,
        error=_text(error),
        attempts=_number(attempts) if attempts is not None else None,
        dead_at=_text(headers[DEAD_AT_HEADER]) if DEAD_AT_HEADER in headers else None,
        replays=_number(headers.get(REPLAYS_HEADER)),
    )


def _number(value: object) -> int:
    """A count from an AMQP header (an int, or digits as text), 0 when absent or unreadable."""
    if isinstance(value, int):
        return value
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return int(value) if isinstance(value, str) and value.isdigit() else 0


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


async def _dead_letter_queue(channel: AbstractChannel, names: Names, service: str) -> AbstractQueue:
    try:
        # Passive: a mistyped service name must not create a queue.
        return await channel.declare_queue(names.dead_letter_queue(service), passive=True)
    except ChannelNotFoundEntity:
        raise NoDeadLetterQueue(f"no queue {names.dead_letter_queue(service)} on this broker") from None


async def list_dead_letters(amqp_url: str, namespace: str, service: str, *, limit: int = 1000) -> list[DeadLetter]:
    names = Names(namespace)
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        queue = await _dead_letter_queue(channel, names, service)
        count = min(queue.declaration_result.message_count or 0, limit)
        letters: list[DeadLetter] = []
        for _ in range(count):
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            letters.append(describe(message))
        # Closing the channel returns every message we took to the queue.
        await channel.close()
        return letters
    finally:
        await connection.close()


async def replay_dead_letters(
    amqp_url: str, namespace: str, service: str, *, event_ids: Iterable[str] | None = None
) -> list[DeadLetter]:
    """Move dead letters (all, or those with the given event ids) back to the service's queue."""
    names = Names(namespace)
    wanted = set(event_ids) if event_ids is not None else None
    connection = await aio_pika.connect(amqp_url)
    replayed: list[DeadLetter] = []
    try:
        channel = await connection.channel()
        publisher = await connection.channel(publisher_confirms=True, on_return_raises=True)
        queue = await _dead_letter_queue(channel, names, service)
        # Only what is there now: a replayed message that dies again must not loop here.
        for _ in range(queue.declaration_result.message_count or 0):
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            if wanted is not None and message.message_id not in wanted:
                continue
            headers = {k: v for k, v in (message.headers or {}).items() if k not in _DEATH_HEADERS}
            headers[REPLAYS_HEADER] = _number(headers.get(REPLAYS_HEADER)) + 1
            await publisher.default_exchange.publish(
                persistent_copy(message, headers),
                routing_key=names.queue(service),
                mandatory=True,
                timeout=30,
            )
            await message.ack()
            replayed.append(describe(message))
        await channel.close()
        return replayed
    finally:
        await connection.close()


def _defaults() -> tuple[str, str]:
    fields = ServiceSettings.model_fields
    return (
        os.environ.get("TDC_AMQP_URL") or fields["amqp_url"].default,
        os.environ.get("TDC_BUS_NAMESPACE") or fields["bus_namespace"].default,
    )


def _print_table(letters: list[DeadLetter]) -> None:
    for letter in letters:
        attempts = "-" if letter.attempts is None else str(letter.attempts)
        print(f"{letter.event_id}  {letter.type}  attempts={attempts}  dead_at={letter.dead_at or '-'}  {letter.error}")


def main(argv: list[str] | None = None) -> int:
    amqp_url, namespace = _defaults()
    parser = argparse.ArgumentParser(prog="python -m tdc_shared.events.admin", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("list", "replay"))
    parser.add_argument("--service", required=True, help="consuming service, e.g. notification")
    parser.add_argument("--namespace", default=namespace, help=f"bus namespace (default {namespace!r})")
    parser.add_argument("--amqp-url", default=amqp_url, help="broker URL (default: TDC_AMQP_URL)")
    parser.add_argument("--id", action="append", dest="ids", help="replay only this event id (repeatable)")
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            letters = asyncio.run(list_dead_letters(args.amqp_url, args.namespace, args.service))
        else:
            letters = asyncio.run(replay_dead_letters(args.amqp_url, args.namespace, args.service, event_ids=args.ids))
    except NoDeadLetterQueue as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.json:
        for letter in letters:
            print(json.dumps(asdict(letter)))
    else:
        _print_table(letters)
        verb = "dead letters in" if args.command == "list" else "replayed into"
        target = Names(args.namespace).dead_letter_queue(args.service) if args.command == "list" else args.service
        print(f"{len(letters)} {verb} {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
