"""Fragments pymalloc, records what CPython says of it and aborts.

    python fragment_program.py OUT_DIR [--trace N]

Allocates many small objects of many sizes (bytes of 1 to 480 bytes, tuples,
lists, dicts), frees most of them at random, then writes pymalloc's own
statistics (sys._debugmallocstats(), which prints to C's stderr) to
OUT_DIR/mallocstats.txt and aborts, leaving a core.

With --trace N, tracemalloc traces N frames from the start instead, and the
program writes tracemalloc.take_snapshot().statistics('lineno') to
OUT_DIR/lineno.json ({file, line, size, count} per line) and
statistics('traceback') to OUT_DIR/traceback.json before it aborts
(pymalloc's statistics print nothing under tracemalloc), and the address of
a bytes object with the line that made it to OUT_DIR/probe.json.
"""
import gc
import json
import os
import random
import sys

out_dir = sys.argv[1]
trace = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--trace" else 0
if trace:
    import tracemalloc
    tracemalloc.start(trace)

rng = random.Random(1729)


def make_bytes(n):
    return b"x" * rng.randrange(1, 480)


def make_tuple(n):
    return tuple(range(rng.randrange(1, 40)))


def make_list(n):
    return [n] * rng.randrange(0, 30)


def make_dict(n):
    return {i: i for i in range(rng.randrange(0, 6))}


makers = [make_bytes, make_tuple, make_list, make_dict]
kept = []
for i in range(60000):
    kept.append(makers[i % 4](i))
# Free most of them at random: pools stay partly used, arenas stay.
survivors = [o for o in kept if rng.random() < 0.15]
del kept

if trace:
    # No collection from here to the core: a full one empties the free
    # lists, whose blocks tracemalloc still counts where they were first
    # allocated.
    gc.collect()
    gc.disable()
    probe = b"p" * rng.randrange(300, 400)  # PROBE LINE
    with open(os.path.join(out_dir, "probe.json"), "w") as f:
        json.dump({"addr": id(probe), "file": __file__,
                   "line": sys._getframe().f_lineno - 3}, f)
    snap = tracemalloc.take_snapshot()
    stats = [{"file": s.traceback[0].filename, "line": s.traceback[0].lineno,
              "size": s.size, "count": s.count}
             for s in snap.statistics("lineno")]
    # Frames most recent first, as the C tables keep them (a Traceback
    # iterates from the oldest).
    tb_stats = [{"size": s.size, "count": s.count,
                 "frames": [[f.filename, f.lineno] for f in reversed(s.traceback)]}
                for s in snap.statistics("traceback")]
    del snap
    with open(os.path.join(out_dir, "lineno.json"), "w") as f:
        json.dump(stats, f)
    with open(os.path.join(out_dir, "traceback.json"), "w") as f:
        json.dump(tb_stats, f)
    del f, stats, tb_stats
    os.abort()

fd = os.open(os.path.join(out_dir, "mallocstats.txt"),
             os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.dup2(fd, 2)
os.close(fd)
abort = os.abort
stats = sys._debugmallocstats
stats()
abort()
