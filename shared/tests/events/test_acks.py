"""Coalesced acks against the real broker: a multiple-ack never swallows a delivery still
waiting for its nack, and committed deliveries are acked whatever their order."""

from __future__ import annotations

import asyncio

import aio_pika

from tdc_shared.events.acks import AckTracker


async def test_multiple_ack_never_covers_a_parked_delivery(amqp_url, namespace):
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=20)
        # Not auto-delete (it is checked after its consumer left); expires if the test dies first.
        queue = await channel.declare_queue(f"{namespace}.acks", arguments={"x-expires": 60_000})
        for n in range(1, 8):
            await channel.default_exchange.publish(aio_pika.Message(str(n).encode()), routing_key=queue.name)
        received: asyncio.Queue[aio_pika.abc.AbstractIncomingMessage] = asyncio.Queue()
        tracker = AckTracker(await channel.get_underlay_channel())

        async def receive(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            tracker.received(message.delivery_tag)
            received.put_nowait(message)

        tag = await queue.consume(receive)
        async with asyncio.timeout(10):
            first = [await received.get() for _ in range(7)]
        by_body = {m.body.decode(): m for m in first}

        def tags(*bodies: str) -> list[int]:
            return [by_body[b].delivery_tag for b in bodies]

        # 3 fails (parked for its retry) while 4 and 5 commit, then 1 and 2 commit; 6 is still
        # being handled when 7 commits.
        tracker.park(by_body["3"].delivery_tag)
        await tracker.done(tags("4", "5"))
        await tracker.done(tags("2", "1"))
        await tracker.done(tags("7"))
        # 3's nack goes out on its own; nothing acked it meanwhile, so it comes back.
        await tracker.settle(by_body["3"].delivery_tag, lambda: by_body["3"].nack(requeue=True))
        async with asyncio.timeout(10):
            again = await received.get()
        assert again.body == b"3" and again.redelivered
        await tracker.done([again.delivery_tag])  # held: 6 is still open below it
        await tracker.done(tags("6"))  # one multiple-ack now covers 6, 7 and the redelivered 3
        await queue.cancel(tag)
        assert received.empty()

        # Everything is acked: closing the channel requeues nothing.
        await channel.close()
        check = await connection.channel()
        declared = await check.declare_queue(f"{namespace}.acks", passive=True)
        assert declared.declaration_result.message_count == 0
        await check.queue_delete(f"{namespace}.acks")
