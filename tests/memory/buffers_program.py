"""Allocates buffers objects own, records their sizes as CPython gives
them, and aborts.

    python buffers_program.py OUT_DIR

Makes numpy arrays (a large one in its own mapping, smaller ones among the
heap's chunks) and a pandas frame where numpy and pandas are installed, an
io.BytesIO, a buffered file, array.array, collections.deque and large lists,
then finds every object the garbage collector can reach (gc.get_objects()
and, transitively, gc.get_referents()) and writes OUT_DIR/buffers.json:
for each kind of owned block ("numpy.ndarray data", "list items", ...) the
bytes and the number of blocks of all those objects that glibc's malloc
holds, as CPython counts them (nbytes, __sizeof__() less the object's
layout, array.buffer_info()), and the sizes of a large str and bytes. Then
it aborts, leaving a core.
"""
import array
import collections
import gc
import io
import json
import os
import sys

out_dir = sys.argv[1]
keep = []
try:
    import numpy as np
except ImportError:
    np = None
if np is not None:
    keep += [np.zeros(40 << 17), np.ones(100000), np.arange(3000, dtype=np.int32),
             np.zeros((300, 40)), np.ones((1000, 7), dtype=np.float32)[::2]]
    try:
        import pandas as pd
        frame = pd.DataFrame({"a": np.arange(200000, dtype=np.float64),
                              "b": np.arange(200000, dtype=np.float64),
                              "c": np.arange(200000, dtype=np.int64)})
        frame._consolidate_inplace()
        keep.append(frame)
    except ImportError:
        pass
bio = io.BytesIO()
bio.write(b"x" * 300000)
keep.append(bio)
f = open(os.path.join(out_dir, "written.dat"), "wb", buffering=65536)
f.write(b"a")
keep.append(f)
keep.append(array.array("d", range(70000)))
keep.append(array.array("b", bytes(5000)))
keep.append(collections.deque(range(10000)))
keep.append(list(range(50000)))
big_str = "y" * 1000000
big_bytes = b"z" * 2000000
keep += [big_str, big_bytes]

# PyMem_Malloc serves up to 512 bytes from pymalloc; larger blocks, and
# every numpy data block (PyDataMem, malloc itself), come from glibc.
SMALL = 512
seen = {}
todo = gc.get_objects()
while todo:
    o = todo.pop()
    if id(o) in seen:
        continue
    seen[id(o)] = o
    todo.extend(gc.get_referents(o))
    # An array's base (a view's owner) is no referent: numpy arrays are
    # not tracked by the collector.
    if np is not None and isinstance(o, np.ndarray) and o.base is not None:
        todo.append(o.base)

totals = {}


def count(kind, n, pymem=True):
    """A block of n bytes (PyMem's: from glibc only above SMALL)."""
    if n > SMALL or not pymem:
        totals.setdefault(kind, []).append(n)


for o in seen.values():
    t = type(o)
    if np is not None and isinstance(o, np.ndarray):
        if o.flags.owndata:
            count("numpy.ndarray data", o.nbytes, pymem=False)
    elif t is io.BytesIO:
        if not o.closed:
            count("_io.BytesIO buffer", o.__sizeof__() - object.__sizeof__(o))
    elif t in (io.BufferedReader, io.BufferedWriter, io.BufferedRandom):
        count("_io." + t.__name__ + " buffer",
              o.__sizeof__() - object.__sizeof__(o))
    elif t is array.array:
        # allocated * itemsize; buffer_info() gives the items in use
        count("array.array items", o.__sizeof__() - object.__sizeof__(o))
    elif t is collections.deque:
        n = o.__sizeof__() - object.__sizeof__(o)
        for _ in range(n // 528):
            count("collections.deque blocks", 528)
    elif t is list:
        count("list items", o.__sizeof__() - [].__sizeof__())

with open(os.path.join(out_dir, "buffers.json"), "w") as out:
    json.dump({"blocks": totals, "str": sys.getsizeof(big_str),
               "bytes": sys.getsizeof(big_bytes),
               "numpy": np is not None and np.__version__,
               "pandas": "pd" in globals() and pd.__version__}, out)
os.abort()
