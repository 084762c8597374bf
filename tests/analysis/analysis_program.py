"""Analysis test program for pyheapsnap: a heap whose answers are known.

Runs under any CPython 3.8-3.14 with nothing but the standard library.  It
builds a few structures whose retained sizes, cycles, paths and stacks are
known by construction, writes what it knows to a JSON truth file, then calls
os.abort() so that the kernel writes a core.  run_analysis.py runs the
analysis verbs of pyheapsnap on that core and compares.

    python3 analysis_program.py TRUTH_FILE

What the heap holds (module globals unless said otherwise):

  HOLDER      a RetainedHolder (__slots__) reachable only through this
              global.  It holds a label str and a dict of N_ITEMS unique,
              non-interned str keys -> RetainedItem (__slots__) instances,
              each holding a unique bytes blob and a unique list of a bytes,
              a big int and a float.  Nothing in it is shared with anything
              else (no interned strings, small ints, cached or constant
              objects), so its retained size is the sum of sys.getsizeof()
              over every object in it.  The program checks that: it walks
              the structure with gc.get_referents() and checks the reference
              count of every object in it.
  CACHE       a dict 'k0'..'k19' -> small lists; the truth names CACHE['k12'].
  LIVE_CYCLE  a list holding two CycleNode instances that refer to each other:
              a reference cycle that is not garbage.
  garbage     GARBAGE_CYCLES cycles of 2 or 3 CycleNode instances and one list
              that contains itself, made with the collector disabled and then
              dropped: garbage that gc.collect() would free.
  leaked      two lists kept alive only by a reference taken from C
              (Py_IncRef through ctypes) after every Python reference is gone;
              one of them contains itself (so it is a cycle, but not garbage).
  a thread    blocked_worker, blocked on an Event, with a local variable
              `data` (a list) that nothing else refers to.

Truth file: one JSON object; see write_truth().

Exit status 77 (and no core) if the interpreter cannot give a meaningful
truth (free-threaded build, dev mode, PYTHONMALLOC, no ctypes).
"""

import gc
import os
import sys

# Before anything else: no automatic collection from here to the abort, so
# the garbage stays in memory and nothing moves.
gc.disable()

EXIT_UNSUPPORTED = 77

N_ITEMS = 1200  # RetainedItem instances under HOLDER
BLOB_REPEAT = 200  # the blob of each item is about 2.4 KiB
GARBAGE_CYCLES = 6  # cycles of CycleNode instances, plus one self-list
CACHE_KEYS = 20
CACHE_TARGET = "k12"


def unsupported(why):
    sys.stderr.write("analysis_program.py: unsupported interpreter: %s\n" % why)
    sys.exit(EXIT_UNSUPPORTED)


def check_interpreter():
    import sysconfig
    if sys.version_info < (3, 8):
        unsupported("Python %d.%d (3.8 or newer needed)" % sys.version_info[:2])
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        unsupported("free-threaded build")
    if sys.flags.dev_mode:
        unsupported("-X dev mode")
    if os.environ.get("PYTHONMALLOC"):
        unsupported("PYTHONMALLOC is set")


if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
    sys.stderr.write("usage: analysis_program.py TRUTH_FILE\n")
    sys.exit(2)
TRUTH_PATH = sys.argv[1]
check_interpreter()

import json  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

try:
    import ctypes  # noqa: E402
except ImportError:
    unsupported("no ctypes module")


# ---------------------------------------------------------------------------
# Classes.  All use __slots__: their instances have no __dict__ (3.11+ would
# otherwise keep values inline or in managed dicts, which sys.getsizeof does
# not count the same way everywhere).
# ---------------------------------------------------------------------------

class RetainedHolder(object):
    __slots__ = ("table", "label")

    def __init__(self, table, label):
        self.table = table
        self.label = label


class RetainedItem(object):
    __slots__ = ("blob", "parts")

    def __init__(self, blob, parts):
        self.blob = blob
        self.parts = parts


class CycleNode(object):
    __slots__ = ("peer", "tag")

    def __init__(self, tag):
        self.peer = None
        self.tag = tag


HOLDER = None
CACHE = {}
LIVE_CYCLE = None
# 3.15+ (PEP 810): a lazy import leaves a lazy_import object in the module's
# dict until the name is first used, which it never is here.
if sys.version_info >= (3, 15):
    exec("lazy import colorsys as LAZY_MODULE", globals())
WORKER = None
WORKER_READY = threading.Event()
WORKER_RELEASE = threading.Event()  # never set
WORKER_DATA_ID = []  # id(data) of the worker's local, an int


class ProgramError(Exception):
    """The program failed to build the heap it promises: a bug here, not in
    the tool."""


# ---------------------------------------------------------------------------
# (1) Retained size by construction
# ---------------------------------------------------------------------------

def build_holder():
    """Builds HOLDER; returns the ids and sizes the truth needs."""
    global HOLDER
    pid = os.getpid()
    table = {}
    for i in range(N_ITEMS):
        # Every object made at run time from variables: fresh and unique.
        key = "retained-key-%d-%06d" % (pid, i)
        blob = (b"blob-%06d-" % i) * BLOB_REPEAT
        # float(i) first: from 3.15 on, 0 + 0.25 is the code's constant
        # 0.25 itself, shared with the code object.
        parts = [b"part-%06d" % i, 10 ** 30 + i + 1, float(i) + 0.25]
        table[key] = RetainedItem(blob, parts)
    HOLDER = RetainedHolder(table, "holder-label-%d" % pid)
    del table, key, blob, parts
    return measure_holder()


def collect_built():
    """The objects under HOLDER, as the construction says: the holder, its
    dict and label first, then per item its key, the item, its blob, its
    list and the list's elements.  Also the ids of the objects each item
    retains (the item and all under it)."""
    built = [HOLDER, HOLDER.table, HOLDER.label]
    under_items = set()
    for key, item in HOLDER.table.items():
        mine = [item, item.blob, item.parts] + list(item.parts)
        built.append(key)
        built.extend(mine)
        under_items.update(map(id, mine))
    return built, under_items


def referents_ids():
    """The ids of the objects under HOLDER as gc.get_referents() sees them
    (types are shared: left out).  A dict whose keys are all str does not
    visit its keys: those are added."""
    seen = set([id(HOLDER)])
    frontier = [HOLDER]
    while frontier:
        nxt = []
        for o in frontier:
            refs = gc.get_referents(o)
            if type(o) is dict:
                refs.extend(o)
            for r in refs:
                if not isinstance(r, type) and id(r) not in seen:
                    seen.add(id(r))
                    nxt.append(r)
        frontier = nxt
    return seen


def measure_holder():
    built, under_items = collect_built()
    built_ids = set(map(id, built))
    if len(built_ids) != len(built):
        raise ProgramError("objects under HOLDER are shared among themselves")
    walked = referents_ids()
    if built_ids != walked:
        raise ProgramError("the referents walk from HOLDER finds %d objects, the "
                           "construction %d" % (len(walked), len(built_ids)))
    truth = {
        "addr": id(HOLDER),
        "type": type_name(type(HOLDER)),
        "retained": sum(sys.getsizeof(o) for o in built),
        "objects": len(built),
        "table": id(HOLDER.table),
        "item_type": type_name(RetainedItem),
        "item_count": len(HOLDER.table),
        "items_retained": sum(sys.getsizeof(o) for o in built if id(o) in under_items),
    }
    # Each object must have exactly one reference, from its container (the
    # holder: from the global), besides the lists here.  What the loop adds
    # is measured with a probe object that goes through the same statement.
    check = [object()]  # the probe: held by check only
    check.extend(built)
    del built
    base = None
    bad = []
    for o in check:
        raw = sys.getrefcount(o)
        if base is None:
            base = raw
            continue
        if raw - base != 1:
            bad.append("%s at %#x: %d references" % (type(o).__name__, id(o), raw - base))
    del o, check
    if bad:
        raise ProgramError("objects under HOLDER are not held exactly once: "
                           + "; ".join(bad[:10]))
    return truth


def type_name(tp):
    module = getattr(tp, "__module__", None)
    if module == "builtins" or not isinstance(module, str):
        return tp.__qualname__
    return module + "." + tp.__qualname__


# ---------------------------------------------------------------------------
# (2) Garbage cycles, and a live one
# ---------------------------------------------------------------------------

def make_garbage():
    """Makes the garbage cycles; returns their members' ids, one list per
    cycle.  Nothing refers to them once this returns."""
    cycles = []
    for c in range(GARBAGE_CYCLES):
        size = 2 + c % 2
        nodes = [CycleNode(b"garbage-%d-%d" % (c, j)) for j in range(size)]
        for j in range(size):
            nodes[j].peer = nodes[(j + 1) % size]
        cycles.append([id(n) for n in nodes])
        del nodes
    selfish = [b"garbage-self-list-%d" % os.getpid()]
    selfish.append(selfish)
    cycles.append([id(selfish)])
    del selfish
    return cycles


def make_live_cycle():
    global LIVE_CYCLE
    a = CycleNode(b"live-a")
    b = CycleNode(b"live-b")
    a.peer = b
    b.peer = a
    LIVE_CYCLE = [a, b]
    return [id(a), id(b)]


# ---------------------------------------------------------------------------
# (3) Objects held only by a leaked C-level reference
# ---------------------------------------------------------------------------

def leak(obj):
    before = sys.getrefcount(obj)
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))
    after = sys.getrefcount(obj)
    if after != before + 1:
        raise ProgramError("Py_IncRef through ctypes added %d references, not 1"
                           % (after - before))


def make_leaks():
    pid = os.getpid()
    plain = [b"leaked-plain-%d" % pid, 10 ** 25 + pid]
    leak(plain)
    selfish = [b"leaked-self-list-%d" % pid]
    selfish.append(selfish)
    leak(selfish)
    out = {"plain": id(plain), "self_list": id(selfish)}
    del plain, selfish
    return out


# ---------------------------------------------------------------------------
# (4) A global path and (4, 5) a thread's local
# ---------------------------------------------------------------------------

def fill_cache():
    for i in range(CACHE_KEYS):
        CACHE["k%d" % i] = [b"cache-value-%d-%d" % (os.getpid(), i)]
    return id(CACHE[CACHE_TARGET])


def blocked_worker(ready, release):
    data = [b"worker-data-%d" % os.getpid(), [os.getpid()]]
    WORKER_DATA_ID.append(id(data))
    ready.set()
    release.wait()  # never set: blocks until the abort
    return data


def start_worker():
    global WORKER
    WORKER = threading.Thread(target=blocked_worker, name="analysis-worker",
                              args=(WORKER_READY, WORKER_RELEASE))
    WORKER.daemon = True
    WORKER.start()
    if not WORKER_READY.wait(30):
        raise ProgramError("the worker thread did not start")


def thread_stack(ident):
    f = sys._current_frames().get(ident)
    names = []
    while f is not None:
        names.append(f.f_code.co_name)
        f = f.f_back
    return names


def worker_line():
    """The line the worker's blocked_worker frame is at (its release.wait())."""
    f = sys._current_frames().get(WORKER.ident)
    while f is not None and f.f_code is not blocked_worker.__code__:
        f = f.f_back
    line = f.f_lineno if f is not None else None
    del f
    return line


def wait_worker_blocked():
    """Waits until the worker is blocked in its lock acquire (GIL released)."""
    deadline = time.time() + 30
    # Event.wait() appends its waiter lock to this deque (CPython internals,
    # hence the getattr) just before it blocks.
    waiters = getattr(getattr(WORKER_RELEASE, "_cond", None), "_waiters", None)
    while time.time() < deadline:
        if ((waiters is None or len(waiters) >= 1)
                and "blocked_worker" in thread_stack(WORKER.ident)):
            break
        time.sleep(0.01)
    else:
        raise ProgramError("the worker thread did not block")
    time.sleep(0.2)


# ---------------------------------------------------------------------------
# Truth and abort
# ---------------------------------------------------------------------------

def write_truth(path, truth):
    data = (json.dumps(truth, indent=1, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    while data:
        n = os.write(fd, data)
        data = data[n:]
    os.close(fd)


def lazy_import_truth():
    """The lazy import in the globals, as the dict holds it (a subscript
    does not reify it, a name lookup would), or None."""
    d = globals()
    if "LAZY_MODULE" not in d:
        return None
    lazy = d["LAZY_MODULE"]
    return {"addr": id(lazy), "type": type(lazy).__name__, "size": sys.getsizeof(lazy),
            "global": "LAZY_MODULE", "refs": len(gc.get_referents(lazy))}


def main():
    holder = build_holder()
    garbage = make_garbage()
    live_cycle = make_live_cycle()
    leaked = make_leaks()
    cache_target = fill_cache()
    start_worker()
    wait_worker_blocked()
    truth = {
        "version": sys.version,
        "hexversion": sys.hexversion,
        "executable": sys.executable,
        "pid": os.getpid(),
        "holder": holder,
        "garbage_cycles": garbage,
        "live_cycle": live_cycle,
        "live_cycle_holder": id(LIVE_CYCLE),
        "leaked": leaked,
        "cache": {"addr": cache_target, "global": "CACHE", "key": CACHE_TARGET,
                  "dict": id(CACHE)},
        "lazy_import": lazy_import_truth(),
        "worker": {"function": blocked_worker.__code__.co_name,
                   "file": os.path.basename(blocked_worker.__code__.co_filename),
                   "local": "data", "addr": WORKER_DATA_ID[0],
                   "line": worker_line(),
                   "first_line": blocked_worker.__code__.co_firstlineno,
                   "ident": WORKER.ident,
                   "native_id": getattr(WORKER, "native_id", None)},
        "main_function": main.__code__.co_name,
        "main_first_line": main.__code__.co_firstlineno,
        "main_globals": id(globals()),
    }
    write_truth(TRUTH_PATH, truth)
    del truth, holder, garbage, live_cycle, leaked, cache_target
    sys.setswitchinterval(1000.0)  # keep the GIL in this thread
    os.abort()


main()
