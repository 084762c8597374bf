"""Plants leaks of known size behind each kind of holder and aborts.

    leaks_program.py SCALE TRUTH.json

SCALE (1 or 2: the first or second moment) multiplies every leak. Each
holder keeps SCALE * N[holder] bytes objects of BLOB bytes:

    module global    CACHE, a dict of them under str keys
    frame local      history, a list local to serve() in the main thread
    closure cell     held, a list in the closure of the function HANDLER
    lru_cache        the cache of render()
    class attribute  Config._registry, a list
    thread-local     LOCAL.items, a list set by a worker thread

A cycle of two Nodes holding a list of ten lists is left as garbage
(the collector is off) for cycles --unreachable and summary to agree on.

TRUTH.json gets, per holder, the bytes CPython says it keeps alive (the
container's sys.getsizeof() and that of everything only it holds) under
"sizes", and under "sites" where tracemalloc says the container was
allocated (when tracing: file name and line of the most recent frame, or
null: a list off a free list keeps the trace of its first use, or none);
"blobs" counts the bytes objects blob() made.
"""
import functools
import gc
import json
import os
import sys
import threading
import tracemalloc

gc.disable()
SCALE = int(sys.argv[1])
BLOB = 2000
N = {"CACHE": 3600, "history": 3400, "held": 3200, "render": 3000,
     "_registry": 2800, "tls": 2600}
truth = {}
sites = {}


def site(key, obj):
    tb = tracemalloc.get_object_traceback(obj) if tracemalloc.is_tracing() else None
    sites[key] = tb and [os.path.basename(tb[0].filename), tb[0].lineno]


def blob(tag, i):
    return (b"%s-%d-" % (tag.encode(), i)).ljust(BLOB, b".")


def list_size(lst):
    return sys.getsizeof(lst) + sum(sys.getsizeof(x) for x in lst)


def dict_size(d):
    return sys.getsizeof(d) + sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in d.items())


CACHE = {}
for i in range(N["CACHE"] * SCALE):
    CACHE["k%d" % i] = blob("cache", i)
truth["CACHE"] = dict_size(CACHE)
site("CACHE", CACHE)


def make_handler():
    held = [blob("held", i) for i in range(N["held"] * SCALE)]
    truth["held"] = list_size(held)
    site("held", held)

    def handler():
        return len(held)
    return handler


HANDLER = make_handler()


@functools.lru_cache(maxsize=None)
def render(i):
    return blob("render", i)


# Above every version's small ints (3.15 keeps up to 1024 immortal).
for i in range(N["render"] * SCALE):
    render(100000 + i)
# The cache dict itself: lru_cache's traverse visits it.
cache = [r for r in gc.get_referents(render) if type(r) is dict and len(r) == N["render"] * SCALE]
truth["render"] = dict_size(cache[0])
site("render", cache[0])
del cache


class Config:
    _registry = [blob("registry", i) for i in range(N["_registry"] * SCALE)]


truth["_registry"] = list_size(Config._registry)
site("_registry", Config._registry)
class Node:
    pass


def plant_garbage():
    a, b = Node(), Node()
    a.other, b.other = b, a
    a.payload = [[i] for i in range(10)]  # tracked, as the collector counts


plant_garbage()
LOCAL = threading.local()
ready = threading.Event()
stop = threading.Event()


def worker():
    LOCAL.items = [blob("tls", i) for i in range(N["tls"] * SCALE)]
    truth["tls"] = list_size(LOCAL.items)
    site("tls", LOCAL.items)
    ready.set()
    stop.wait()


t = threading.Thread(target=worker, name="worker", daemon=True)
t.start()
ready.wait()


def serve():
    history = [blob("history", i) for i in range(N["history"] * SCALE)]
    truth["history"] = list_size(history)
    site("history", history)
    with open(sys.argv[2], "w") as f:
        json.dump({"sizes": truth, "sites": sites, "blobs": sum(N.values()) * SCALE}, f)
    sys.stdout.flush()
    os.abort()
    return history


serve()
