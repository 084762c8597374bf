"""A heap whose references CPython names, for the names test.

    python names_program.py TRUTH.json

Builds objects whose references have names in CPython (a closure cell's
contents by its free variable, a function's __dict__, an lru_cache's cache
and wrapped function, members of C types, __slots__ of a class, asyncio
Future and Task fields, an exception's args), records for each the source
and target addresses, the name and whether gc.get_referents() of the source
lists the target; and C memory (a ctypes buffer) holding an object's
address and the address of bytes that look like an object. Then it aborts
to leave a core.
"""

import asyncio
import functools
import gc
import json
import os
import sys


class Marker(object):
    """An object of its own type, easy to tell apart."""

    def __init__(self, tag):
        self.tag = tag


def make_handler():
    held = Marker("held by a closure")

    def HANDLER():
        return held

    return HANDLER


HANDLER = make_handler()


def with_dict():
    pass


with_dict.attr = Marker("in a function's __dict__")


@functools.lru_cache(maxsize=32)
def render(key):
    return Marker("cached result of " + key)


render("k1")


def target(a, b):
    return a


PARTIAL = functools.partial(target, Marker("a partial's argument"))


class Slotted(object):
    __slots__ = ("first", "second")


SLOTTED = Slotted()
SLOTTED.second = Marker("in a slot")

ERROR = KeyError(Marker("an exception's argument"))

LOOP = asyncio.new_event_loop()
FUTURE = LOOP.create_future()
FUTURE.set_result(Marker("a future's result"))


async def _coro():
    return 1


CORO = _coro()
TASK = LOOP.create_task(CORO)

# C memory no type describes: a ctypes array's inline buffer, scanned
# conservatively. One word is the address of an object (a reference); the
# other the address of bytes made to look like a float object, which must
# not become one.
try:
    import ctypes
except ImportError:
    ctypes = None
if ctypes:
    KNOWN = Marker("held by C memory")
    FAKE = (ctypes.c_uint64 * 2)(1, id(float))
    HOLDER = (ctypes.c_uint64 * 2)(ctypes.addressof(FAKE), id(KNOWN))


def record():
    expected = []

    def expect(what, src, dst, name):
        expected.append({"what": what, "src": id(src), "dst": id(dst), "name": name,
                         "referent": any(r is dst for r in gc.get_referents(src)),
                         "src_type": type(src).__name__})

    cell = HANDLER.__closure__[0]
    freevar = HANDLER.__code__.co_freevars[0]
    expect("closure", HANDLER, HANDLER.__closure__, ".__closure__")
    expect("cell", cell, cell.cell_contents, ".cell_contents (%s)" % freevar)
    expect("function __dict__", with_dict, with_dict.__dict__, ".__dict__")
    cache = [r for r in gc.get_referents(render)
             if isinstance(r, dict) and "k1" in r]
    if len(cache) == 1:
        expect("lru_cache cache", render, cache[0], ".cache")
    expect("lru_cache wrapped", render, render.__wrapped__, ".__wrapped__")
    expect("member func", PARTIAL, PARTIAL.func, ".func")
    expect("member args", PARTIAL, PARTIAL.args, ".args")
    expect("slot", SLOTTED, SLOTTED.second, "." + Slotted.__slots__[1])
    expect("exception args", ERROR, ERROR.args, ".args")
    if type(FUTURE).__module__ == "_asyncio" and sys.version_info < (3, 14):
        expect("future result", FUTURE, FUTURE.result(), "._result")
        expect("future loop", FUTURE, LOOP, "._loop")
        expect("task coro", TASK, CORO, "._coro")
    # What extension modules' m_traverse visits beyond their __dict__: the
    # objects their state holds, named state.FIELD by the state struct's
    # field where it is known, else state+0x... by offset. Types only:
    # a state's other objects may be held through C arrays, or be found
    # nowhere else (a scan of C memory makes no objects).
    for mod in sorted(set(sys.modules.values()), key=lambda m: getattr(m, "__name__", "")):
        if type(mod) is not type(sys):
            continue
        held = [r for r in gc.get_referents(mod) if isinstance(r, type)]
        for r in held[:4]:
            expected.append({"what": "module %s state" % mod.__name__, "src": id(mod),
                             "dst": id(r), "name": "state", "prefix": True,
                             "referent": True, "src_type": "module",
                             "root": "module %s state" % mod.__name__})
    scan = None
    if ctypes:
        scan = {"holder": id(HOLDER), "known": id(KNOWN), "fake": ctypes.addressof(FAKE),
                "holder_type": type(HOLDER).__name__}
    return {"pid": os.getpid(), "version": list(sys.version_info[:3]), "scan": scan,
            "cache_found": len(cache) == 1, "expected": expected,
            "held": id(HANDLER.__closure__[0].cell_contents),
            "slot_value": id(SLOTTED.second)}


def main():
    truth = record()
    with open(sys.argv[1], "w") as f:
        json.dump(truth, f)
    sys.stdout.flush()
    os.abort()


if __name__ == "__main__":
    main()
