"""Oracle heap program for pyheapsnap.

Runs under any CPython 3.8-3.14 with nothing but the standard library.  It
builds a varied, known heap, writes the truth about every garbage-collected
object to a file (JSON lines), then calls os.abort() so that the kernel
writes a core of the whole process.  run_oracle.py compares pyheapsnap's
export of that core with the truth.

    python3 heap_program.py TRUTH_FILE [--debug-check]

Truth file layout (one JSON object per line):

  1. header: version, hexversion, executable, pid, threshold, count,
     freeze_count, plus objects, untracked, refcnt_base and
     collections_during_recording (0 unless something went wrong).  It is
     written first as a padded placeholder and overwritten in place at the
     very end, so that "count" is taken just before the abort.
  2. one line per object: addr (id), type ("dict", "function", ... for
     builtins, else module.qualname), size (sys.getsizeof), refcnt (what
     ob_refcnt holds in the core; null plus "immortal": true for immortal
     objects), gen (from gc.get_objects(generation=N): 0, 1, 2, or
     "permanent" for frozen objects), refs (ids from gc.get_referents).
     Lines with "untracked": true (and gen null) describe objects that the
     collector does not track (str, int, float, bytes, bytearray, and on
     3.12+ a few immortal singletons); they are informational.
  3. {"threads": [...]}: the extra threads (ident, native_id, name, the user
     function they block in, its locals, their stack innermost first).
  4. {"main_stack": [...], "leaf_locals": [...]}: function names of the main
     thread at the abort, innermost first, and the locals still bound in the
     innermost one.

The heap: gc.freeze() early on a small marked set (and whatever the
interpreter built at startup), then three stages: the first is moved to
generation 2 by gc.collect(), the second to generation 1 by gc.collect(0),
the third stays in generation 0.  (On 3.14, whose collector is incremental,
gc.get_objects() reports generation 1 as empty and the old spaces as 2.)  Each
stage holds every kind of object.  The permanent generation is recorded as far
as it can be found by following references (startup objects that nothing in
reach refers to are left out).

Rules the recording follows so that the truth is what the core holds:

  * gc.disable() first: no automatic collection ever moves or frees objects.
    The only collections are the explicit ones that spread the heap over the
    generations, all before the recording.
  * The recording runs in the innermost frame of the main thread (the frame
    that calls os.abort), so the frame stack during the recording is the
    frame stack in the core.  The snapshot lists are locals of that frame and
    are deleted before the abort.  The worker threads are blocked in a lock
    acquire (GIL released) before it starts.
  * A reference count is read with sys.getrefcount() while the object is
    held by exactly one snapshot list and the loop variable.  What those and
    getrefcount's argument add is measured at run time with a probe object
    that goes through the very same loop, and subtracted.
  * Nothing that the recording creates holds a reference to a heap object
    after the recording.  Excluded from the truth: the innermost frame (its
    locals are the recording's) and the builtins sys.getrefcount and
    os.abort (each is on the stack while it runs, one reference more).
    Objects created by the recording are in no snapshot.
  * Output goes through os.write() on a raw descriptor: no Python file
    objects exist during the recording.

--debug-check (not used by the test): just before the abort, check every
recorded object by other means (ob_refcnt and ob_type read with ctypes;
size, referents and generation taken afresh) and write a summary to stderr
and TRUTH_FILE.debug.json.
"""

import gc
import os
import sys

# Before anything else: no automatic collection from here to the abort.
gc.disable()

HEXVERSION = sys.hexversion
# Objects can be immortal from 3.12 on; 3.14 has sys._is_immortal.
IS_IMMORTAL = getattr(sys, "_is_immortal", None)
IMMORTAL_MIN_REFCNT = 1 << 31 if HEXVERSION >= 0x030C0000 else None

HEADER_PAD = 8192  # bytes reserved for the header line
EXIT_UNSUPPORTED = 77  # the interpreter cannot give a meaningful truth


def parse_args(argv):
    if len(argv) < 2 or argv[1].startswith("-"):
        sys.stderr.write("usage: heap_program.py TRUTH_FILE [--debug-check] [--numpy]\n")
        sys.exit(2)
    return argv[1], "--debug-check" in argv[2:], "--numpy" in argv[2:]


def check_interpreter():
    """The truth only makes sense for the default (GIL) build with the
    ordinary allocator."""
    import sysconfig
    why = None
    if sys.version_info < (3, 8):
        why = "Python %d.%d (3.8 or newer needed)" % sys.version_info[:2]
    elif sysconfig.get_config_var("Py_GIL_DISABLED"):
        why = "free-threaded build"
    elif sys.flags.dev_mode:
        why = "-X dev mode"
    elif os.environ.get("PYTHONMALLOC"):
        why = "PYTHONMALLOC is set"
    if why:
        sys.stderr.write("heap_program.py: unsupported interpreter: %s\n" % why)
        sys.exit(EXIT_UNSUPPORTED)


TRUTH_PATH, DEBUG_CHECK, WITH_NUMPY = parse_args(sys.argv)
check_interpreter()
if DEBUG_CHECK:
    import ctypes  # imported early: the import allocates many objects


# ---------------------------------------------------------------------------
# Phase 1: a small marked set, then gc.freeze() so that a permanent
# generation exists.  gc.freeze() moves every tracked object (the marked set
# and everything the interpreter built at startup) to the permanent
# generation; FROZEN_TYPES remembers which addresses were frozen, with the
# id of their type, so that the recording can recognise them later.
# ---------------------------------------------------------------------------

class FrozenMarker(object):
    """Instances are created just before gc.freeze()."""

    def __init__(self, n):
        self.n = n
        self.label = "frozen-marker-%d" % n
        self.items = [n, [n]]


def snapshot_frozen_types():
    return dict((id(o), id(type(o))) for o in gc.get_objects())


gc.collect()  # no garbage in the frozen set
FROZEN_MARKED = [FrozenMarker(i) for i in range(4)]
FROZEN_MARKED.append({"frozen-dict": [1, 2, 3], "marker": FROZEN_MARKED[0]})
FROZEN_MARKED.append([["frozen-list"], FROZEN_MARKED[1]])
FROZEN_MARKED.append((["frozen", "tuple"], FROZEN_MARKED[2]))
FROZEN_TYPES = snapshot_frozen_types()
gc.freeze()

# Everything below is imported after the freeze, so its modules, functions
# and classes live in the ordinary generations.
import builtins  # noqa: E402
import collections  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
import weakref  # noqa: E402
# Modules whose C types size themselves (__sizeof__ of their own, or data
# held outside the object header).
import array  # noqa: E402
import ctypes  # noqa: E402
import decimal  # noqa: E402
import io  # noqa: E402
import itertools  # noqa: E402
import mmap  # noqa: E402
import pickle  # noqa: E402
import re  # noqa: E402
import struct  # noqa: E402
import tempfile  # noqa: E402
import xml.etree.ElementTree as ElementTree  # noqa: E402

try:
    import regex as REGEX  # noqa: E402
except ImportError:
    REGEX = None

# --numpy: numpy and pandas objects too, and LEAK, a list of arrays that own
# their data; its retained size must be the sum of its items' sizes.
NP = PD = None
LEAK = None
if WITH_NUMPY:
    try:
        import numpy as NP  # noqa: E402
        import pandas as PD  # noqa: E402
    except ImportError as e:
        sys.stderr.write("heap_program.py: --numpy: %s\n" % e)
        sys.exit(EXIT_UNSUPPORTED)
    LEAK = [NP.full(16384, i, dtype="f8") for i in range(40)]  # 128 KiB each

# Every object the stages build is kept alive from here (or from the locals
# of the main thread's frames and the worker threads).
HEAP = {}
# Untracked objects (str, int, float, bytes, bytearray) created at run time,
# each unique, recorded as informational "untracked" truth lines.
ATOMS = []


def atom(value):
    """Remembers an untracked object for the truth and returns it."""
    ATOMS.append(value)
    return value


if HEXVERSION >= 0x030C0000:
    # A few immortal objects (3.12+), so that the informational section also
    # exercises the "immortal" flag: no tracked object is immortal before
    # 3.14.  (Before 3.12 their reference counts change all the time.)
    ATOMS.extend([None, True, 5, "", (), int, type(None),
                  sys.intern("oracle_interned_" + str(HEXVERSION))])


# ---------------------------------------------------------------------------
# Classes used by the heap.
# ---------------------------------------------------------------------------

class Plain(object):
    """An ordinary class: instances have a (split-table) __dict__."""

    kind = "plain"

    def __init__(self, a, b):
        self.a = a
        self.b = b
        self.c = [a, b]

    def method(self):
        return self.a

    @classmethod
    def make(cls, a):
        return cls(a, a)

    @staticmethod
    def helper(x):
        return x * 2

    @property
    def total(self):
        return len(self.c)


class Slotted(object):
    __slots__ = ("x", "y", "z")

    def __init__(self, x, y):
        self.x = x
        self.y = y
        # z stays unset on purpose


class SlottedWithDict(object):
    __slots__ = ("x", "__dict__", "__weakref__")

    def __init__(self, x):
        self.x = x
        self.extra = [x]


class ListSub(list):
    def __init__(self, items, tag):
        list.__init__(self, items)
        self.tag = tag


class DictSub(dict):
    pass


class StrSub(str):
    pass


class SelfRef(object):
    def __init__(self, name):
        self.name = name
        self.me = self


class Suspend(object):
    """An awaitable that suspends its coroutine once."""

    def __await__(self):
        yield "suspended"


def gen_counter(limit, tag):
    gen_local_tag = [tag, "generator-local"]
    i = 0
    while i < limit:
        yield (i, gen_local_tag)
        i += 1


async def coro_waiter(tag):
    coro_local = {"coroutine": tag}
    await Suspend()
    return coro_local


async def agen_counter(tag):
    agen_local = ["async-generator", tag]
    yield agen_local
    yield tag


def make_closure(start, tag):
    """Returns a function with two cells in its closure."""
    counter = [start]
    label = "closure-" + tag

    def bump(step=1):
        counter[0] += step
        return label, counter[0]

    return bump


def raise_nested(depth, tag):
    tb_local = ["traceback-local", tag, depth]
    if depth:
        raise_nested(depth - 1, tag)
    raise ValueError("oracle error", tag, tb_local)


def weakref_callback(ref):
    pass


# ---------------------------------------------------------------------------
# Phase 2: the heap.  build_variety() makes every kind of object and is
# called once per stage, so every generation holds every kind.  The rarer
# kinds are made KIND_REPEAT times each, so that a kind the tool gets wrong
# weighs more than the 0.1% the oracle tolerates.
# ---------------------------------------------------------------------------

KIND_REPEAT = 8


def build_variety(tag, seed):
    v = {}
    # -- dicts of every key kind, small and big ---------------------------
    v["dict_str_small"] = {"alpha": [seed], "beta": tag, "gamma": (seed, [])}
    v["dict_str_big"] = dict(("key-%s-%05d" % (tag, i), [i] if i % 25 == 0 else i)
                             for i in range(1500))
    v["dict_mixed"] = {1: "one", "two": [2], (3, 4): [3, 4], 5.5: None,
                       b"six": {"nested": [6]}, frozenset([7]): (7,), None: [8]}
    v["dict_int_small"] = dict((i, [i]) for i in range(5))
    v["dict_int_big"] = dict((i * 7919 + seed, (i, [i]) if i % 20 == 0 else i)
                             for i in range(1200))
    v["dict_empty"] = {}
    # -- sequences and sets ------------------------------------------------
    v["list"] = [seed, tag, [1, 2], {"in": "list"}]
    v["list_big"] = [[i] if i % 4 == 0 else i for i in range(400)]
    v["tuple"] = (seed, tag, [seed], ("nested", [seed]))
    v["tuple_big"] = tuple([i] if i % 4 == 0 else ("t", i) for i in range(300))
    v["set"] = set([(seed, "a"), (seed, "b"), frozenset([seed])])
    v["set_big"] = set(("s", i, tag) for i in range(200))
    v["frozenset"] = frozenset([(seed, "fs"), (seed, "fs2"), frozenset([tag])])
    # -- strings, numbers, bytes (untracked) -------------------------------
    v["str_ascii"] = atom("".join(["ascii-", tag, "-", str(seed)]))
    v["str_latin1"] = atom("".join(["latin1-\xe9\xe8\xff-", tag]))
    v["str_ucs2"] = atom("".join(["ucs2-\u0101\u4e2d\u6587-", tag]))
    v["str_ucs4"] = atom("".join(["ucs4-\U0001f600\U0001d11e-", tag]))
    v["int_zero"] = 0
    v["int_small"] = 7
    v["int_negative"] = atom(-(seed * 1000003 + 12345678))
    v["int_big"] = atom(10 ** 40 + seed)
    v["int_huge"] = atom(-(3 ** (2000 + seed)))
    v["float"] = atom(seed / 7.0 + 0.5)
    v["bytes"] = atom(("bytes-" + tag).encode("ascii") * 3)
    v["bytearray"] = atom(bytearray(b"bytearray-" + tag.encode("ascii")))
    # -- reference cycles -----------------------------------------------------
    cyc_list = [tag]
    cyc_dict = {"list": cyc_list}
    cyc_list.append(cyc_dict)
    v["cycle_list"] = cyc_list
    # Unreachable garbage cycle: stays in memory because collection is off
    # (a later explicit gc.collect() of its generation frees it).
    garbage = [("garbage", tag)]
    garbage.append(garbage)
    del garbage
    # -- everything else, several times -----------------------------------
    v["kinds"] = [build_kinds(tag + str(k), seed * 100 + k) for k in range(KIND_REPEAT)]
    return v


def build_kinds(tag, seed):
    """One object (or a few) of each of the rarer kinds."""
    v = {}
    # Instances of one class share the keys of a split table; some __dict__s
    # are materialised (3.11+ only create them on demand), one is turned into
    # a combined table by deleting an attribute and adding others.
    plains = [Plain(i, [tag, i]) for i in range(6)]
    v["plain_instances"] = plains
    v["plain_dicts"] = [p.__dict__ for p in plains[::2]]
    odd = Plain(-1, "odd")
    odd.zzz = [1]
    del odd.a
    odd.extra = {"combined": True}
    v["plain_combined"] = odd
    v["plain_dict_combined"] = odd.__dict__
    v["dict_sub"] = DictSub(a=[1], b=[2])
    v["str_sub"] = StrSub("".join(["str-subclass-\u0100-", tag]))
    v["str_sub"].attr = [seed]
    # -- classes and instances ---------------------------------------------
    v["slotted"] = [Slotted(i, [tag]) for i in range(2)]
    v["slotted_dict"] = SlottedWithDict([tag])
    v["list_sub"] = ListSub([[1], [2], tag], tag)
    v["local_class"] = type("LocalClass" + tag, (Plain,), {"local": [tag]})
    v["local_instance"] = v["local_class"](seed, tag)
    v["self_ref"] = SelfRef(tag)
    # -- modules -------------------------------------------------------------
    mod = types.ModuleType("oracle_synthetic_" + tag, "synthetic module")
    mod.value = [seed]
    mod.func = make_closure(seed, tag)
    v["module"] = mod
    # -- functions, closures, methods, descriptors ------------------------
    v["closure"] = make_closure(seed, tag)
    v["closure"]()
    v["lambda"] = lambda x, _tag=tag: (x, _tag)
    v["code"] = make_closure.__code__
    v["bound_method"] = plains[0].method
    v["bound_classmethod"] = Plain.make
    v["classmethod"] = classmethod(make_closure)
    v["staticmethod"] = staticmethod(make_closure)
    v["property"] = property(lambda self: tag)
    v["builtin_method"] = plains.append
    # -- generators and coroutines ----------------------------------------
    v["gen_not_started"] = gen_counter(3, tag)
    suspended = gen_counter(3, tag)
    next(suspended)
    v["gen_suspended"] = suspended
    finished = gen_counter(2, tag)
    for _ in finished:
        pass
    v["gen_finished"] = finished
    coro = coro_waiter(tag)
    coro.send(None)
    v["coro_suspended"] = coro
    agen = agen_counter(tag)
    step = agen.asend(None)
    try:
        step.send(None)
    except StopIteration:
        pass
    v["agen_suspended"] = agen
    # -- weak references -----------------------------------------------------
    target = Plain("weak-target", tag)
    v["weak_target"] = target
    v["weakref"] = weakref.ref(target)
    v["weakref_callback"] = weakref.ref(target, weakref_callback)
    v["weak_proxy"] = weakref.proxy(target)
    v["weak_value_dict"] = weakref.WeakValueDictionary({"t": target})
    # -- exceptions with tracebacks ----------------------------------------
    try:
        try:
            raise_nested(2, tag)
        except ValueError as exc:
            raise KeyError(tag) from exc
    except KeyError as exc:
        v["exception"] = exc  # keeps __traceback__ and __cause__ alive
    # -- collections and functools ----------------------------------------
    # deque blocks hold 64 items: these span several
    v["deque"] = collections.deque([i] if i % 10 == 0 else i for i in range(150))
    v["deque_bounded"] = collections.deque(([i] if i % 10 == 0 else i for i in range(100)),
                                           maxlen=70)
    v["ordered_dict"] = collections.OrderedDict((k, [k]) for k in "oracle" + tag)
    dd = collections.defaultdict(list)
    for i in range(20):
        dd[i % 6].append(i)
    v["defaultdict"] = dd

    @functools.lru_cache(maxsize=32)
    def cached(n):
        return [n, tag]

    for i in range(40):
        cached(i % 24)
    v["lru_cached"] = cached
    v["partial"] = functools.partial(make_closure, seed)
    v["sized"] = build_sized(tag, seed)
    return v


# One scratch file for the buffered readers and writers, left open until
# the abort.
SCRATCH = tempfile.TemporaryFile()


def build_sized(tag, seed):
    """Objects of the C types whose size is more than their header: a
    __sizeof__ of their own, or items held outside the object."""
    v = {}
    n = seed % 50
    # array.array: the item buffer, of each item size
    v["array"] = [array.array("i", range(n)), array.array("d", [0.5] * (n % 7)),
                  array.array("b"), array.array("Q", range(n + 100))]
    grown = array.array("h")
    for i in range(n + 3):
        grown.append(i)  # over-allocated
    v["array_grown"] = grown
    v["bytearray"] = [bytearray(b"b" * (n + 1)), bytearray()]
    grown_ba = bytearray()
    for i in range(n + 5):
        grown_ba.append(i & 0xff)
    v["bytearray_grown"] = grown_ba
    # io: BytesIO owns its buffer unless getvalue() shares it
    v["bytesio"] = io.BytesIO(("bytesio-" + tag).encode() * (n + 1))
    v["bytesio_empty"] = io.BytesIO()
    shared = io.BytesIO(b"shared-" + tag.encode())
    v["bytesio_shared"] = (shared, shared.getvalue())
    written = io.BytesIO()
    written.write(b"w" * (n * 10 + 1))
    v["bytesio_written"] = written
    v["stringio"] = io.StringIO("stringio-" + tag * (n + 1))
    v["buffered_reader"] = open(os.devnull, "rb", buffering=512 + n)
    v["buffered_writer"] = open(os.devnull, "wb")
    v["buffered_random"] = io.BufferedRandom(io.FileIO(os.dup(SCRATCH.fileno()), "r+b"),
                                             buffer_size=1024 + n)
    v["text_wrapper"] = open(os.devnull, "r")
    v["buffered_rwpair"] = io.BufferedRWPair(io.BytesIO(b"r"), io.BytesIO())
    # struct
    v["struct"] = struct.Struct("<%dih%ds" % (n + 1, n + 2))
    v["struct_empty"] = struct.Struct("")
    # ctypes types (their StgDict / type info) and instances
    fields = [("x", ctypes.c_int), ("y", ctypes.c_double)]
    if n % 2:
        fields.append(("name", ctypes.c_char * (n + 1)))
    point = type("Point" + tag, (ctypes.Structure,), {"_fields_": fields})
    union = type("Union" + tag, (ctypes.Union,), {"_fields_": fields})
    simple = type("Int" + tag, (ctypes.c_int,), {})
    v["ctypes_struct_type"] = point
    v["ctypes_union_type"] = union
    v["ctypes_simple_type"] = simple
    v["ctypes_pointer_type"] = ctypes.POINTER(point)
    v["ctypes_array_type"] = point * (n + 2)
    v["ctypes_funcptr_type"] = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(point))
    v["ctypes_instances"] = [point(1, 2.0), union(), simple(seed), ctypes.c_double(0.5),
                             (point * (n + 2))(), ctypes.pointer(point()),
                             ctypes.create_string_buffer(100 + n),
                             ctypes.c_char_p(b"ctypes")]
    # collections
    d = {"k%d" % i: [i] for i in range(n + 3)}
    v["dict_views"] = [d, d.keys(), d.values(), d.items(), iter(d), iter(d.items())]
    v["ordered_dict"] = collections.OrderedDict((k, [k]) for k in tag * (n + 1))
    v["deque_grown"] = collections.deque(range(n * 10))
    v["set_sized"] = [set(range(n)), frozenset(range(n + 10)), set()]
    v["list_sized"] = [[None] * n, list(range(n + 1))]
    # mmap
    v["mmap"] = mmap.mmap(-1, 4096 * (1 + n % 3))
    # re
    pattern = re.compile("(?P<word>[a-z]+)-(%d)+" % seed)
    v["re_pattern"] = pattern
    v["re_match"] = [pattern.search("xx abc-%d yy" % seed), re.match("(a)(b)(c)?", "abc")]
    # pickle
    pickler = pickle.Pickler(io.BytesIO(), protocol=2)
    pickler.dump([tag, [seed], {"k": (tag,)}])
    v["pickler"] = pickler
    data = pickle.dumps([tag, [seed] * 3, {"k": tag}])
    unpickler = pickle.Unpickler(io.BytesIO(data + data))
    unpickler.load()
    v["unpickler"] = unpickler
    # itertools with a __sizeof__
    v["itertools"] = [itertools.product("ab", range(n % 4 + 1)),
                      itertools.combinations(range(n + 3), 3),
                      itertools.combinations_with_replacement("abc", 2),
                      itertools.permutations(range(n % 5 + 3), 2),
                      itertools.count(seed), itertools.cycle([tag]),
                      itertools.tee([1, 2, 3])[0]]
    # decimal: small values live in the object, big ones outside
    v["decimal"] = [decimal.Decimal("1.5"), decimal.Decimal(10 ** (60 + n) + seed),
                    decimal.Decimal(7) ** (200 + n), decimal.Decimal(-(10 ** 120) - seed)]
    # ElementTree elements with and without children
    root = ElementTree.Element("root", {"tag": tag})
    for i in range(n % 6):
        ElementTree.SubElement(root, "child", {"i": str(i)})
    v["element"] = [root, ElementTree.Element("leaf")]
    if REGEX is not None:
        # the regex package (pyenv 3.11 has it): a pattern's nodes, groups
        # and code outside the object
        v["regex"] = [REGEX.compile("(?P<w>[a-z]+)-(%d)+|x{2,%d}" % (seed, n + 3)),
                      REGEX.compile("(?i)caf\u00e9|(a)(b)?(c)*"), REGEX.compile("")]
    if NP is not None:
        owned = NP.arange(n + 10, dtype="f8")
        grid = NP.zeros((n + 2, 3), dtype="i4")
        v["np_owned"] = [owned, grid, NP.array([tag] * 3), NP.empty(0)]
        v["np_views"] = [grid[1:], owned[::2], owned.reshape(-1, 1), grid.T]
        v["np_scalars"] = [NP.float64(seed), NP.int64(seed), NP.int32(n), NP.uint8(n),
                           NP.float32(0.5), NP.float16(1), NP.complex128(1j), NP.bool_(n % 2),
                           NP.longdouble(2), NP.datetime64("2020-01-01") + n,
                           NP.timedelta64(seed, "s"), NP.bytes_(b"np" * (n + 1)),
                           NP.str_("s" * (n + 1)), NP.void(b"void" * (n + 1))]
        v["pd_series"] = PD.Series(range(n + 5), name=tag)
        v["pd_frame"] = PD.DataFrame({"a": range(n + 3), "b": [tag] * (n + 3)})
    return v


# ---------------------------------------------------------------------------
# Worker threads: blocked for good, with recognisable locals.
# ---------------------------------------------------------------------------

def oracle_worker_event(ready, release, tag):
    oracle_thread_tag = "thread-" + tag
    oracle_thread_payload = {"owner": tag, "items": [tag] * 3}
    oracle_thread_number = 424242
    ready.set()
    release.wait()  # never set: blocks until the abort
    return oracle_thread_tag, oracle_thread_payload, oracle_thread_number


def oracle_worker_lock(ready, lock, tag):
    oracle_lock_tag = "lock-" + tag
    oracle_lock_items = [tag, (1, 2, 3)]
    ready.set()
    lock.acquire()  # held by the main thread: blocks until the abort
    return oracle_lock_tag, oracle_lock_items


WORKERS = []  # (thread, user function)
RELEASE = threading.Event()
BLOCK_LOCK = threading.Lock()


def start_worker(target, name, *args):
    ready = threading.Event()
    t = threading.Thread(target=target, name=name, args=(ready,) + args)
    t.daemon = True
    t.start()
    if not ready.wait(30):
        raise RuntimeError("worker %s did not start" % name)
    WORKERS.append((t, target))


def wait_workers_blocked():
    """Waits until every worker is blocked in its lock acquire (GIL released),
    so that no worker runs Python code while the main thread records."""
    deadline = time.time() + 30
    # Event.wait() appends its waiter lock to this deque (CPython internals,
    # hence the getattr) just before it blocks.
    waiters = getattr(getattr(RELEASE, "_cond", None), "_waiters", None)
    n_event = sum(1 for t, target in WORKERS if target is oracle_worker_event)
    while time.time() < deadline:
        ok = waiters is None or len(waiters) >= n_event
        for t, target in WORKERS:
            if target.__name__ not in thread_stack(t.ident):
                ok = False
        if ok:
            break
        time.sleep(0.01)
    # The last few bytecodes before the acquire run in a blink once the GIL is
    # free; give them ample time.
    time.sleep(0.2)


def thread_stack(ident):
    """Function names of a thread's stack, innermost first."""
    f = sys._current_frames().get(ident)
    names = []
    while f is not None:
        names.append(f.f_code.co_name)
        f = f.f_back
    return names


def thread_truth():
    out = []
    for t, target in WORKERS:
        code = target.__code__
        out.append({
            "ident": t.ident,
            "native_id": getattr(t, "native_id", None),
            "name": t.name,
            "function": code.co_name,
            # all of the function's locals are bound before it blocks
            "locals": list(code.co_varnames),
            "stack": thread_stack(t.ident),  # innermost first
        })
    return out


def main_stack_names():
    """Function names of the caller's stack, innermost first."""
    f = sys._getframe(1)
    names = []
    while f is not None:
        names.append(f.f_code.co_name)
        f = f.f_back
    return names


# ---------------------------------------------------------------------------
# Recording helpers (called before the snapshots, or with no heap object
# in flight, so their frames never perturb the truth).
# ---------------------------------------------------------------------------

def type_name_json(tp):
    module = getattr(tp, "__module__", None)
    qualname = getattr(tp, "__qualname__", None) or tp.__name__
    if module == "builtins" or not isinstance(module, str):
        name = qualname
    else:
        name = module + "." + qualname
    return json.dumps(name)


def find_permanent(gen_lists, skip_ids):
    """Objects of the permanent generation, found by following references
    from the ordinary generations and from a few roots.  An object counts as
    frozen if gc tracks it, it is in none of the ordinary generations, and
    its address held an object of the same type when gc.freeze() ran."""
    seen = set(skip_ids)
    for lst in gen_lists:
        seen.update(map(id, lst))
    frontier = list(FROZEN_MARKED)
    frontier.extend([FROZEN_MARKED, sys.modules, sys, builtins])
    for lst in gen_lists:
        for o in lst:
            if id(o) not in skip_ids:
                frontier.extend(gc.get_referents(o))
    perm = []
    while frontier:
        nxt = []
        for o in frontier:
            i = id(o)
            if i in seen:
                continue
            seen.add(i)
            if FROZEN_TYPES.get(i) != id(type(o)) or not gc.is_tracked(o):
                continue
            perm.append(o)
            nxt.extend(gc.get_referents(o))
        frontier = nxt
    return perm


def untracked_atoms():
    seen = set()
    out = []
    for a in ATOMS:
        if id(a) not in seen and not gc.is_tracked(a):
            seen.add(id(a))
            out.append(a)
    return out


# Untracked types that stay informational (see ATOMS).
ATOM_TYPES = (str, int, float, complex, bytes, type(None), type(Ellipsis),
              type(NotImplemented))


def untracked_sized(gen_lists, skip_ids):
    """Untracked objects of other types (code objects, arrays, mmaps,
    decimals, bytearrays, ...) that the tracked objects refer to, and the
    code objects in the constants of those: part of the verdict."""
    seen = set(skip_ids)
    seen.update(map(id, ATOMS))
    out = []
    frontier = []
    for lst in gen_lists:
        for o in lst:
            if id(o) not in skip_ids:
                frontier.extend(gc.get_referents(o))
    while frontier:
        nxt = []
        for o in frontier:
            if id(o) in seen:
                continue
            seen.add(id(o))
            if gc.is_tracked(o) or isinstance(o, ATOM_TYPES):
                continue
            out.append(o)
            if isinstance(o, types.CodeType):
                nxt.extend(o.co_consts)
        frontier = nxt
    return out


def python_sizeof(tp):
    """True when sys.getsizeof() runs Python code for this type: a class
    defines __sizeof__ in Python, so no reader of memory can compute it."""
    return isinstance(getattr(tp, "__sizeof__", None), types.FunctionType)


def collections_so_far():
    return sum(s.get("collections", 0) for s in gc.get_stats())


def write_all(fd, data):
    data = data.encode("utf-8")
    while data:
        n = os.write(fd, data)
        data = data[n:]


def debug_check(path, checks):
    """Checks the truth of every recorded object against the process as it
    is just before the abort, by other means than the recording used:

    1. ob_refcnt and ob_type read from memory with ctypes (before anything
       else, and without making a reference to any object);
    2. then, with the objects fetched back from their addresses: size,
       referents and generation (from fresh gc.get_objects() lists), which
       must not have changed since the recording.

    checks: (addr, refcnt or None if immortal, id(type), size, refs, gen)
    tuples, size/refs/gen as written to the truth.  The check itself holds a
    few objects: this function (being called), the ctypes types and
    descriptor it uses and, before 3.11, the globals and builtins dicts (held
    by its frame); their reference counts are not compared."""
    busy = set([id(debug_check), id(ctypes.c_ssize_t), id(ctypes.c_size_t),
                id(ctypes._SimpleCData.__dict__["value"])])  # cached by 3.13+
    if sys.version_info < (3, 11):
        busy.update((id(globals()), id(builtins.__dict__)))
    bad = []
    for addr, rc, tid, size, refs, gen in checks:
        got_rc = ctypes.c_ssize_t.from_address(addr).value
        got_tid = ctypes.c_size_t.from_address(addr + ctypes.sizeof(ctypes.c_ssize_t)).value
        if (rc is not None and got_rc != rc and addr not in busy) or got_tid != tid:
            bad.append(["refcnt/type", addr, rc, got_rc, tid, got_tid])
    n_refcnt_bad = len(bad)
    # Phase 2 makes references: only now.
    gens = {}
    for g in (0, 1, 2):
        for o in gc.get_objects(generation=g):
            gens[id(o)] = g
    for addr, rc, tid, size, refs, gen in checks:
        o = ctypes.cast(addr, ctypes.py_object).value
        try:
            got_size = "%d" % sys.getsizeof(o)
        except Exception:
            got_size = "null"
        got_refs = ",".join(map(str, map(id, gc.get_referents(o))))
        if addr in gens:
            got_gen = "%d" % gens[addr]
        elif gc.is_tracked(o):
            got_gen = '"permanent"'
        else:
            got_gen = "null"
        if (got_size, got_refs, got_gen) != (size, refs, gen):
            bad.append(["size/refs/gen", addr, size, got_size, gen, got_gen,
                        refs == got_refs, repr(o)[:200]])
    del o
    for b in bad[:50]:
        if b[0] == "refcnt/type":
            b.append(repr(ctypes.cast(b[1], ctypes.py_object).value)[:200])
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    write_all(fd, json.dumps({"checked": len(checks), "mismatches": len(bad),
                              "refcnt_type_mismatches": n_refcnt_bad,
                              "first": bad[:50]}) + "\n")
    os.close(fd)
    write_all(2, "debug-check: %d objects checked: %d refcnt/type mismatches, "
              "%d size/refs/gen mismatches\n" % (len(checks), n_refcnt_bad,
                                                  len(bad) - n_refcnt_bad))


# ---------------------------------------------------------------------------
# Phase 3: the main thread's frame stack; the innermost frame records the
# truth and aborts.
# ---------------------------------------------------------------------------

# The locals of leaf_record_and_abort that are still bound at the abort.
LEAF_LOCALS_AT_ABORT = ("truth_path", "debug", "leaf_marker", "leaf_payload",
                        "leaf_variety")


def leaf_record_and_abort(truth_path, debug):
    leaf_marker = "leaf-marker-" + str(os.getpid())
    leaf_payload = {"leaf": [1, 2, 3], "marker": leaf_marker}
    leaf_variety = build_variety("L", 4)  # gen 0

    # Everything the recording needs that must exist before the snapshots is
    # kept as untracked data (str, int): tracked objects made now would be in
    # the snapshots and then die before the abort.
    threads_line = json.dumps({"threads": thread_truth()}) + "\n"
    stack_line = json.dumps({"main_stack": main_stack_names(),
                             "leaf_locals": list(LEAF_LOCALS_AT_ABORT)}) + "\n"
    wait_workers_blocked()
    sys.setswitchinterval(1000.0)  # keep the GIL in this thread
    # This frame is excluded from the truth: its locals are the recording's
    # own.  (On 3.11+ this materialises the frame object, which
    # main_stack_names() has already done anyway.)
    leaf_frame_id = id(sys._getframe())
    # The list of arrays and what its retained size must be.
    leak = None
    if LEAK is not None:
        leak = {"addr": id(LEAK),
                "retained": sys.getsizeof(LEAK) + sum(map(sys.getsizeof, LEAK))}
    fd = os.open(truth_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    write_all(fd, " " * (HEADER_PAD - 1) + "\n")  # header placeholder
    collections_before = collections_so_far()

    # ---- snapshots: from here on, no new reference to a heap object -----
    # Generation 0 first: a later snapshot list lives in generation 0 and
    # would otherwise be in it (gc.get_objects skips only its own result).
    l0 = gc.get_objects(generation=0)
    l1 = gc.get_objects(generation=1)
    l2 = gc.get_objects(generation=2)
    # Also excluded: sys.getrefcount, which sits on the stack while it
    # measures, and os.abort, which sits there in the core.  (Objects
    # created from here on are in no snapshot.)
    skip = set([leaf_frame_id, id(sys.getrefcount), id(os.abort),
                id(l0), id(l1), id(l2)])
    perm = find_permanent((l0, l1, l2), skip)
    atoms = untracked_atoms()
    sized = untracked_sized((l0, l1, l2, perm), skip)
    probe = [object()]
    names = {}  # id(type) -> JSON type name (ints and strs only)
    py_sizeof = {}  # id(type) -> its size is computed by Python code
    checks = [] if debug else None
    n_objects = 0
    n_untracked = 0
    base = None
    chunk = []
    # Each object is in exactly one of these lists.
    batches = [("probe", probe), (0, l0), (1, l1), (2, l2),
               ('"permanent"', perm), ("null", atoms), ("sized", sized)]
    for gen, objs in batches:
        for o in objs:
            # The same statement for every object, the probe included: the
            # list, the loop variable and the call's argument count in
            # `raw`; base is what they add (the probe has no other holder).
            raw = sys.getrefcount(o)
            if gen == "probe":
                base = raw
                continue
            if id(o) in skip:
                continue
            if IS_IMMORTAL is not None:
                immortal = IS_IMMORTAL(o)
            else:
                immortal = IMMORTAL_MIN_REFCNT is not None and raw >= IMMORTAL_MIN_REFCNT
            tid = id(type(o))
            tname = names.get(tid)
            if tname is None:
                tname = names[tid] = type_name_json(type(o))
                py_sizeof[tid] = python_sizeof(type(o))
            # A __sizeof__ in Python may change the heap (pandas' fills
            # caches): it is not called; the export must say it cannot
            # know that size.
            try:
                size = "null" if py_sizeof[tid] else "%d" % sys.getsizeof(o)
            except Exception:
                size = "null"
            refs = ",".join(map(str, map(id, gc.get_referents(o))))
            if immortal:
                rc = "null,\"immortal\":true"
            else:
                rc = "%d" % (raw - base)
            if checks is not None:
                checks.append((id(o), None if immortal else raw - base, tid,
                               size, refs, "null" if gen == "sized" else "%s" % gen))
            if gen == "null":
                n_untracked += 1
                extra = ",\"untracked\":true"
            elif gen == "sized":
                n_objects += 1
                extra = ",\"untracked\":true,\"verdict\":true"
            else:
                n_objects += 1
                extra = ""
            if py_sizeof[tid]:
                extra += ",\"py_sizeof\":true"
            chunk.append('{"addr":%d,"type":%s,"size":%s,"refcnt":%s,"gen":%s,"refs":[%s]%s}\n'
                         % (id(o), tname, size, rc, "null" if gen == "sized" else gen,
                            refs, extra))
            if len(chunk) >= 4000:
                write_all(fd, "".join(chunk))
                del chunk[:]
    # ---- end of the recording: drop everything that holds heap objects ---
    del o, objs, batches, l0, l1, l2, perm, atoms, sized, probe
    write_all(fd, "".join(chunk))
    del chunk, names, py_sizeof, skip
    collections_after = collections_so_far()

    write_all(fd, threads_line)
    write_all(fd, stack_line)
    del threads_line, stack_line
    count = gc.get_count()
    header = json.dumps({
        "version": sys.version,
        "hexversion": sys.hexversion,
        "executable": sys.executable,
        "pid": os.getpid(),
        "threshold": gc.get_threshold(),
        "count": count,
        "freeze_count": gc.get_freeze_count(),
        "objects": n_objects,
        "untracked": n_untracked,
        "refcnt_base": base,
        "collections_during_recording": collections_after - collections_before,
        "debug_check": bool(debug),
        "leak": leak,
    })
    if len(header) >= HEADER_PAD:
        raise RuntimeError("header too long")
    os.lseek(fd, 0, os.SEEK_SET)
    write_all(fd, header)  # the rest of the placeholder stays as spaces
    os.close(fd)
    # Leave exactly LEAF_LOCALS_AT_ABORT bound.
    del fd, header, count, leaf_frame_id, collections_before, collections_after, leak
    del n_objects, n_untracked, base, gen, raw, immortal, size, tid, tname
    del refs, rc, extra
    if debug:
        # Last of all, so that it vouches for everything done after the
        # recording too.
        debug_check(truth_path + ".debug.json", checks)
    del checks
    os.abort()


def recurse(n, truth_path, debug):
    recurse_local = ["recurse", n]
    if n:
        recurse(n - 1, truth_path, debug)
    else:
        descend_delta(truth_path, debug)
    return recurse_local


def descend_delta(truth_path, debug):
    delta_locals = {"delta": [4], "cycle": None}
    delta_locals["cycle"] = delta_locals
    leaf_record_and_abort(truth_path, debug)


def descend_gamma(truth_path, debug):
    gamma_list = ["gamma", [3]]
    gamma_gen = gen_counter(2, "gamma")
    recurse(2, truth_path, debug)
    return gamma_list, gamma_gen


def descend_beta(truth_path, debug):
    beta_tuple = ("beta", [2])
    descend_gamma(truth_path, debug)
    return beta_tuple


def main(truth_path, debug):
    main_local = ["main", {"frames": "deep"}]

    # Stage A: ends up in generation 2.
    HEAP["A"] = build_variety("A", 1)
    gc.collect()

    # Stage B: ends up in generation 1; one worker starts here.
    HEAP["B"] = build_variety("B", 2)
    BLOCK_LOCK.acquire()
    start_worker(oracle_worker_lock, "oracle-lock-worker", BLOCK_LOCK, "B")
    gc.collect(0)

    # Stage C: stays in generation 0.
    HEAP["C"] = build_variety("C", 3)
    start_worker(oracle_worker_event, "oracle-event-worker-1", RELEASE, "C1")
    start_worker(oracle_worker_event, "oracle-event-worker-2", RELEASE, "C2")

    descend_beta(truth_path, debug)
    return main_local


main(TRUTH_PATH, DEBUG_CHECK)
