"""Heap for the previews test: objects whose previews the program knows.

    python previews_program.py TRUTH.json

Makes an instance of a class of its own (str, int and list attributes), a
bound method of it, asyncio Tasks pending on an Event, done and cancelled,
generators and coroutines created, suspended, closed and running, and
(when numpy can be imported) two numpy arrays; writes TRUTH.json, a list
of {"addr", "what", "preview"} with each object's expected preview derived
from what Python says of it (type names, repr() of the attributes, the
coroutine's __qualname__, Task.done() and cancelled(), the array's shape
and dtype), or {"addr", "what", "state"} for a generator or coroutine, the
state inspect.getgeneratorstate or getcoroutinestate says, which its
preview must end with; then aborts from inside the running event loop.
"""

import asyncio
import inspect
import json
import os
import sys

try:
    import numpy
except ImportError:
    numpy = None

ATTRS = 3


class UserCard:
    def __init__(self):
        self.name = "alice"
        self.tags = ["a", "b"]
        self.uid = 42
        self.note = "hello"
        self.extra = "not shown"

    def render(self):
        return self.name


def instance_preview(obj):
    cls = type(obj)
    shown = ["%s=%r" % (k, v) for k, v in vars(obj).items() if type(v) in (str, int)][:ATTRS]
    return "%s.%s(%s)" % (cls.__module__, cls.__qualname__, ", ".join(shown))


def method_preview(m):
    cls = type(m.__self__)
    return "%s of %s.%s" % (m.__func__.__qualname__, cls.__module__, cls.__qualname__)


KEEP = []


async def worker(event):
    await event.wait()


async def quick():
    return 1


def counter():
    yield 1
    yield 2


def gen_states(running):
    """Generators and coroutines in each state, with the state inspect says
    (the running coroutine is running)."""
    created = quick()
    suspended = counter()
    next(suspended)
    closed = counter()
    list(closed)
    KEEP.extend([created, suspended, closed])
    objs = [(created, inspect.getcoroutinestate(created)),
            (suspended, inspect.getgeneratorstate(suspended)),
            (closed, inspect.getgeneratorstate(closed)),
            (running, inspect.getcoroutinestate(running))]
    # "CORO_SUSPENDED" -> "suspended"
    return [{"addr": id(o), "what": "%s %s" % (type(o).__name__, s), "state": s.split("_", 1)[1].lower()}
            for o, s in objs]


async def main(path):
    card = UserCard()
    method = card.render
    event = asyncio.Event()
    task = asyncio.ensure_future(worker(event))
    await asyncio.sleep(0)
    KEEP.extend([card, method, task, event])
    truth = [
        {"addr": id(card), "what": "instance of UserCard", "preview": instance_preview(card)},
        {"addr": id(method), "what": "bound method", "preview": method_preview(method)},
    ]
    if type(task).__module__ == "_asyncio":
        truth.append({"addr": id(task), "what": "pending Task",
                      "preview": "%s PENDING" % task.get_coro().__qualname__})
        done = asyncio.ensure_future(quick())
        cancelled = asyncio.ensure_future(worker(event))
        await asyncio.sleep(0)
        cancelled.cancel()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        KEEP.extend([done, cancelled])
        for t in (done, cancelled):
            state = "CANCELLED" if t.cancelled() else "FINISHED" if t.done() else "PENDING"
            truth.append({"addr": id(t), "what": "%s Task" % state.lower(),
                          "preview": "%s %s" % (t.get_coro().__qualname__, state)})
    truth.extend(gen_states(asyncio.current_task().get_coro()))
    if numpy is not None:
        for a in (numpy.zeros((3, 4)), numpy.arange(5, dtype=numpy.int32)):
            KEEP.append(a)
            truth.append({"addr": id(a), "what": "numpy array",
                          "preview": "shape=%r dtype=%s" % (a.shape, a.dtype.name)})
    with open(path, "w") as f:
        json.dump(truth, f)
    os.abort()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
