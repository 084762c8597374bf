"""Plants leaks of known size behind each kind of holder and aborts.

    leaks_program.py SCALE

SCALE (1 or 2: the first or second moment) multiplies every leak: each
holder keeps SCALE * N[holder] bytes objects of 1,000 bytes each.

- module global:  CACHE, a dict of bytes
- frame local:    history, a list local to serve() in the main thread
- closure cell:   the cell 'held' of the function HANDLER
- lru_cache:      the cache of render()
- class attribute: Config._registry, a list
- thread-local:   a list in a threading.local, local to a worker thread
"""
import functools
import gc
import os
import sys
import threading

gc.disable()
SCALE = int(sys.argv[1])
BLOB = 1000
N = {"CACHE": 3000, "history": 2500, "held": 2000, "render": 1500,
     "_registry": 1200, "tls": 1000}


def blob(tag, i):
    return (b"%s-%d-" % (tag.encode(), i)).ljust(BLOB, b".")


CACHE = {}
for i in range(N["CACHE"] * SCALE):
    CACHE["k%d" % i] = blob("cache", i)


def make_handler():
    held = [blob("held", i) for i in range(N["held"] * SCALE)]

    def handler():
        return len(held)
    return handler


HANDLER = make_handler()


@functools.lru_cache(maxsize=None)
def render(i):
    return blob("render", i)


for i in range(N["render"] * SCALE):
    render(i)


class Config:
    _registry = [blob("registry", i) for i in range(N["_registry"] * SCALE)]


LOCAL = threading.local()
ready = threading.Event()
stop = threading.Event()


def worker():
    LOCAL.items = [blob("tls", i) for i in range(N["tls"] * SCALE)]
    ready.set()
    stop.wait()


t = threading.Thread(target=worker, name="worker", daemon=True)
t.start()
ready.wait()


def serve():
    history = [blob("history", i) for i in range(N["history"] * SCALE)]
    sys.stdout.flush()
    os.abort()
    return history


serve()
