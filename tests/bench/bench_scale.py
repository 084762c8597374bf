#!/usr/bin/env python3
"""Benchmark at scale: pyheapsnap beside drgn, first and second question,
memory per object, export beside summary.

    bench_scale.py --tool build-rel/cli/pyheapsnap [--python PYTHON]
                   [--sizes 1000000,2000000] [--big] [--keep]

For each size N (1 and 2 million objects, and 10 million with --big), a
CPython 3.12 program (pyenv's, unless --python says another) builds a heap
of about N objects, writes the address of one list to a file and aborts
into a core. On that core it prints, in one run:

  - `summary --no-cache` (a full read and analysis), wall and CPU seconds
    and CPU nanoseconds per object, beside drgn's bare walk of the
    collector's lists (each generation's PyGC_Head list, reading each
    object's ob_type through drgn.Object; Debian's python3-drgn under
    /usr/bin/python3), per object walked; that column is skipped with a
    message when drgn cannot be imported;
  - the first and the second question on the same core with the cache on
    (in a cache directory of the run's own): `summary`, then `show` and
    `path` of the list and `top -n 20`;
  - peak RSS of each run (getrusage of the child), and the peak of its
    anonymous RSS (/proc/PID/status sampled every millisecond: memory no
    file backs, so neither the core nor a cached snapshot, nor the heap's
    columns kept in the spill file (--spill-above), whether their pages are
    resident or not) in bytes per object, beside the model's own bytes
    (summary --json), and `summary --no-cache --no-spill` for comparison;
    and at the end, per heap, that figure for the runs that read the core
    beside the target of 48 bytes per object;
  - `export --format jsonl` to /dev/null beside `summary`.

Numbers, not assertions: the machine is shared and noisy, so read ratios
within one run. Without --big the run takes a few minutes.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pyhs_test import clean_env, pyenv_interpreter, run_to_core  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_bench import PROGRAM as HEAP_PROGRAM  # noqa: E402

# run_bench.py's heap, and the address of its list of rows for `show`.
PROGRAM = HEAP_PROGRAM.replace("os.abort()", """with open("addr", "w") as f:
    f.write(hex(id(rows)))
os.abort()""")
assert "addr" in PROGRAM

# drgn's bare walk of the collector's lists: every generation's list (3.12:
# interp->gc.generations[0..2] and permanent_generation), each object's
# ob_type read. Prints "objects cpu_seconds wall_seconds" of the walk alone
# (not drgn's loading of the core and its debug info).
DRGN_WALK = r'''
import sys, time, drgn
from drgn import Object
prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
try:
    prog.load_default_debug_info()
except drgn.MissingDebugInfoError:
    pass
c0, w0 = time.process_time(), time.monotonic()
gc = prog["_PyRuntime"].interpreters.head.gc
hdr = drgn.sizeof(prog.type("PyGC_Head"))
heads = [gc.generations[i].head.address_ for i in range(3)]
heads.append(gc.permanent_generation.head.address_)
n = 0
for h in heads:
    g = Object(prog, "PyGC_Head *", value=h)._gc_next.value_()
    while g and g != h:
        Object(prog, "PyObject *", value=g + hdr).ob_type.value_()
        n += 1
        g = Object(prog, "PyGC_Head *", value=g)._gc_next.value_()
print(n, time.process_time() - c0, time.monotonic() - w0)
'''

DRGN_PYTHON = "/usr/bin/python3"


def anon_rss(pid):
    """The child's resident memory not backed by a file (RssAnon plus
    RssShmem, bytes), or None once it has exited."""
    try:
        with open("/proc/%d/status" % pid, "rb") as f:
            text = f.read()
    except OSError:
        return None
    total, seen = 0, False
    for line in text.splitlines():
        if line.startswith((b"RssAnon:", b"RssShmem:")):
            total += int(line.split()[1]) * 1024
            seen = True
    return total if seen else None


class AnonPeak(threading.Thread):
    """Samples a child's anon_rss every millisecond until it exits (not
    reaped yet, it has none): the
    peak of the memory it holds beyond the files it maps (the core among
    them, resident or not). A sampled peak: a spike shorter than the
    interval can be missed, but an array of a million entries takes longer
    than that to fill."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak = pid, 0
        self.start()

    def run(self):
        while True:
            v = anon_rss(self.pid)
            if v is None:
                break
            self.peak = max(self.peak, v)
            time.sleep(0.001)


def run(argv, env, stdout=None):
    """Runs argv in a child; returns (wall s, cpu s, peak RSS bytes, peak
    anonymous RSS bytes (AnonPeak), stdout bytes); exits the benchmark if
    it fails."""
    r, w = os.pipe()
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            if stdout is None:
                os.dup2(w, 1)
            else:
                fd = os.open(stdout, os.O_WRONLY)
                os.dup2(fd, 1)
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    os.close(w)
    sampler = AnonPeak(pid)
    chunks = []
    while True:
        b = os.read(r, 1 << 20)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    sampler.join()
    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit("bench: %s exited with %d" % (" ".join(argv[:3]), code))
    return (wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, sampler.peak,
            b"".join(chunks))


def drgn_walk(core, env):
    """(objects walked, cpu s, wall s) of drgn's walk, or a string saying
    why there is none."""
    if not os.access(DRGN_PYTHON, os.X_OK):
        return "%s is not installed" % DRGN_PYTHON
    probe = subprocess.run([DRGN_PYTHON, "-c", "import drgn"], stderr=subprocess.PIPE,
                           stdout=subprocess.DEVNULL)
    if probe.returncode != 0:
        return "drgn cannot be imported by %s (Debian's python3-drgn)" % DRGN_PYTHON
    p = subprocess.run([DRGN_PYTHON, "-c", DRGN_WALK, core], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env)
    if p.returncode != 0:
        return "drgn's walk failed: %s" % p.stderr.decode(errors="replace").strip()[-300:]
    n, cpu, wall = p.stdout.split()
    return int(n), float(cpu), float(wall)


def bench_arguments(doc, sizes):
    """The options the benchmarks on these heaps share (--tool, --python,
    --sizes, --big), with sizes the default list."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--tool", required=True, help="pyheapsnap (a release build)")
    ap.add_argument("--python", help="the interpreter (default: pyenv's newest 3.12)")
    ap.add_argument("--sizes", default=sizes)
    ap.add_argument("--big", action="store_true", help="also the 10 million object heap")
    return ap


def bench_setup(args):
    """(tool, python, sizes) from bench_arguments' options; exits 77 when
    there is no interpreter."""
    python = args.python
    if not python:
        interp = pyenv_interpreter("3.12")
        if not interp.path:
            print("bench: skipped: %s" % interp.missing)
            sys.exit(77)
        python = interp.path
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.big and 10000000 not in sizes:
        sizes.append(10000000)
    return os.path.abspath(args.tool), python, sizes


def main():
    ap = bench_arguments(__doc__, "1000000,2000000")
    ap.add_argument("--keep", action="store_true", help="keep the cores")
    args = ap.parse_args()
    tool, python, sizes = bench_setup(args)
    print("interpreter: %s" % python)
    print("ns/obj: CPU nanoseconds per object (user + system); anon: peak anonymous RSS "
          "(memory no file backs, the core's pages never in it); B/obj: anon per object")
    memory = []
    for n in sizes:
        workdir = tempfile.mkdtemp(prefix="pyheapsnap-bench-")
        try:
            memory.append(bench_one(tool, python, n, workdir))
        finally:
            if args.keep:
                print("kept", workdir)
            else:
                shutil.rmtree(workdir, ignore_errors=True)
        sys.stdout.flush()
    print("\npeak anonymous RSS (beyond the core and every other file mapped), bytes per "
          "object (target: at most %d)" % MEMORY_TARGET)
    print("  %-6s %10s %10s %10s %10s" % ("heap", "objects", "summary", "export", "1st question"))
    for label, objects, figures in memory:
        print("  %-6s %10d %10.1f %10.1f %10.1f%s" %
              ((label, objects) + tuple(figures) +
               ("" if max(figures) <= MEMORY_TARGET else "  (above the target)",)))


# Peak memory beyond the mapped core, bytes per object (issue 15).
MEMORY_TARGET = 48


def bench_one(tool, python, n, workdir):
    label = "%dM" % (n // 1000000) if n >= 1000000 else str(n)
    env = clean_env()
    t0 = time.monotonic()
    prog = os.path.join(workdir, "bench_heap.py")
    with open(prog, "w") as f:
        f.write(PROGRAM)
    core = run_to_core([python, prog, str(n)], workdir, env, timeout=600)
    made = time.monotonic() - t0
    with open(os.path.join(workdir, "addr")) as f:
        addr = f.read().strip()
    size = os.path.getsize(core)
    cache = os.path.join(workdir, "cache")
    env = dict(env, PYHEAPSNAP_CACHE_DIR=cache)
    # A build without the cache (to compare with an older one) runs
    # without --no-cache, and its second question reads the core again.
    help_text = subprocess.run([tool, "summary", "--help"], stdout=subprocess.PIPE).stdout
    nc = ["--no-cache"] if b"--no-cache" in help_text else []
    if not nc:
        print("(this build has no cache: every run reads the core)")
    _, _, _, _, out = run([tool, "summary", "--json"] + nc + [core], env)
    facts = json.loads(out)
    objects, edges = facts["objects"], facts["edges"]
    print("\n%s heap: %d objects, %d references, core %.0f MiB, made in %.1f s; model %.1f B/obj"
          % (label, objects, edges, size / 2**20, made, facts["model_bytes"] / objects))
    print("  %-34s %8s %8s %8s %9s %9s %8s" % ("run", "wall s", "CPU s", "ns/obj", "peak RSS",
                                              "anon", "B/obj"))

    def row(what, r):
        """One run's figures; returns its anonymous bytes per object."""
        wall, cpu, rss, anon, _ = r
        print("  %-34s %8.2f %8.2f %8.0f %8.0fM %8.0fM %8.1f" %
              (what, wall, cpu, cpu * 1e9 / objects, rss / 2**20, anon / 2**20,
               anon / objects))
        sys.stdout.flush()
        return anon / objects

    beyond = []  # B/obj of the runs that read the core
    r = run([tool, "summary"] + nc + [core], env)
    beyond.append(row("summary --no-cache", r))
    summary_cpu = r[1]
    # The heap's columns in memory, not in the spill file, for comparison
    # (not a run the target is for).
    if b"--no-spill" in help_text:
        row("summary --no-cache --no-spill", run([tool, "summary", "--no-spill"] + nc + [core], env))
    d = drgn_walk(core, env)
    if isinstance(d, str):
        print("  %-34s skipped: %s" % ("drgn walk of the GC lists", d))
    else:
        walked, dcpu, dwall = d
        print("  %-34s %8.2f %8.2f %8.0f  (%d tracked objects walked; ns/obj per walked object)"
              % ("drgn walk of the GC lists", dwall, dcpu, dcpu * 1e9 / max(walked, 1), walked))
        print("  %-34s %.1fx (drgn's CPU ns per walked object / ours per object)" %
              ("summary vs drgn, per object", (dcpu / max(walked, 1)) / (summary_cpu / objects)))
    r = run([tool, "export"] + nc + [core, "--format", "jsonl"], env, stdout=os.devnull)
    beyond.append(row("export --format jsonl --no-cache", r))
    print("  %-34s %.2fx CPU of summary" % ("export vs summary", r[1] / summary_cpu))
    first = run([tool, "summary", core], env)
    beyond.append(row("1st question: summary (cache on)", first))
    second = run([tool, "show", core, addr], env)
    row("2nd question: show %s" % addr, second)
    print("  %-34s %.1fx faster (wall), %.1fx less CPU" %
          ("2nd vs 1st question", first[0] / max(second[0], 1e-9),
           first[1] / max(second[1], 1e-9)))
    for q in (["path", core, addr], ["top", "-n", "20", core]):
        row("2nd question: %s" % " ".join(x for x in q if x != core), run([tool] + q, env))
    row("export --format jsonl (cache hit)",
        run([tool, "export", core, "--format", "jsonl"], env, stdout=os.devnull))
    entries = glob.glob(os.path.join(cache, "*.phs"))
    print("  cache: %d entries, %.1f MiB" %
          (len(entries), sum(os.path.getsize(e) for e in entries) / 2**20))
    return label, objects, beyond


if __name__ == "__main__":
    main()
