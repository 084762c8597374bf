"""The heap of corpora/snapshots/cells-tasks-v3.phs (see test_format3.py).

A closure cell holding a large list (a suspect named "closure of handler:
held"), and asyncio tasks in each state: two pending in a chain of
coroutines (outer -> inner -> asyncio.sleep), one done and one cancelled,
kept in a list. Aborts inside the running loop.
"""
import asyncio
import os


def make_handler():
    held = [str(i) * 4000 for i in range(400)]

    def handler():
        return len(held)
    return handler


HANDLER = make_handler()
KEEP = []


async def inner():
    await asyncio.sleep(1000)


async def outer():
    await inner()


async def quick():
    return 1


async def main():
    asyncio.create_task(outer(), name="chain-0")
    asyncio.create_task(outer(), name="chain-1")
    done = asyncio.create_task(quick(), name="done-0")
    cancelled = asyncio.create_task(inner(), name="cancelled-0")
    KEEP.extend([done, cancelled])
    await asyncio.sleep(0.05)
    cancelled.cancel()
    await asyncio.sleep(0.05)
    os.abort()


asyncio.run(main())
