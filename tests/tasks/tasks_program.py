"""A program with asyncio tasks in every kind of wait, for tests/tasks.

    tasks_program.py TRUTH.json core|pid

Inside the running loop it records what asyncio says of every task
(asyncio.all_tasks() and the finished ones it keeps: name, id, state, and
the get_coro() chain through cr_await / gi_yieldfrom with each coroutine's
function, file and line) to TRUTH.json, then aborts there ("core") or
prints "ready" and blocks the loop ("pid").
"""
import asyncio
import gc
import json
import os
import sys
import time

TRUTH, MODE = sys.argv[1], sys.argv[2]
KEEP = []


async def leaf():
    await asyncio.sleep(1000)


async def mid():
    await leaf()


async def top():
    await mid()


async def wait_event(ev):
    await ev.wait()


async def sleeper():
    await asyncio.sleep(1000)


async def gatherer(a, b):
    await asyncio.gather(a, b)


async def awaiter(t):
    await t


async def tg_parent():
    async with asyncio.TaskGroup() as tg:
        tg.create_task(sleeper(), name="tg-child-0")
        tg.create_task(sleeper(), name="tg-child-1")


async def quick():
    return 42


def chain_of(coro):
    out, seen = [], set()
    while coro is not None and id(coro) not in seen:
        seen.add(id(coro))
        code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
        if code is None:
            break
        frame = getattr(coro, "cr_frame", None) if hasattr(coro, "cr_code") else coro.gi_frame
        # (addresses and sizes for the test that makes a chain loop)
        out.append({"function": coro.__qualname__, "file": code.co_filename,
                    "line": frame.f_lineno if frame is not None else None,
                    "addr": id(coro), "size": sys.getsizeof(coro),
                    "frame": id(frame) if frame is not None else None,
                    "frame_size": sys.getsizeof(frame) if frame is not None else 0})
        coro = coro.cr_await if hasattr(coro, "cr_await") else getattr(coro, "gi_yieldfrom", None)
    return out


def state(t):
    return "cancelled" if t.cancelled() else "done" if t.done() else "pending"


def finish():
    gc.collect()
    tasks = set(asyncio.all_tasks()) | set(KEEP)
    truth = {"version": list(sys.version_info[:3]), "tasks": [
        {"addr": id(t), "name": t.get_name(), "state": state(t),
         "type": type(t).__module__ + "." + type(t).__qualname__,
         "chain": chain_of(t.get_coro())}
        for t in tasks]}
    with open(TRUTH, "w") as f:
        json.dump(truth, f)
    if MODE == "core":
        os.abort()
    print("ready", flush=True)
    time.sleep(300)


async def main():
    ev = asyncio.Event()
    asyncio.create_task(top(), name="sleep-deep")
    asyncio.create_task(wait_event(ev), name="event-waiter")
    c0 = asyncio.create_task(sleeper(), name="gather-child-0")
    c1 = asyncio.create_task(sleeper(), name="gather-child-1")
    asyncio.create_task(gatherer(c0, c1), name="gatherer")
    conn = asyncio.create_task(sleeper(), name="conn-3")
    asyncio.create_task(awaiter(conn), name="awaiter")
    if hasattr(asyncio, "TaskGroup"):
        asyncio.create_task(tg_parent(), name="tg-parent")
    KEEP.append(asyncio.tasks._PyTask(sleeper(), name="py-task"))
    # A coroutine whose __qualname__ reads like a place and a state: its
    # preview misleads, what the walk reads from its fields does not.
    odd = sleeper()
    odd.__qualname__ = "sleeper (decoy.py:1) FINISHED"
    asyncio.create_task(odd, name="odd-name")
    done = asyncio.create_task(quick(), name="done-0")
    cancelled = asyncio.create_task(sleeper(), name="cancelled-0")
    KEEP.extend([done, cancelled])
    await asyncio.sleep(0.05)
    cancelled.cancel()
    await asyncio.sleep(0.05)
    # Created but not started: its first step waits in the loop's _ready.
    asyncio.create_task(sleeper(), name="not-started")
    finish()


asyncio.run(main())
