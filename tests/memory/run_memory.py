#!/usr/bin/env python3
"""The memory verb against CPython's own accounts of its memory.

    run_memory.py --tool PATH/TO/pyheapsnap --label LABEL [--python SPEC]
                  [--keep DIR] [--tool-args ARG ...]

LABEL names one of the interpreters `tests/pyhs_test.py --list` prints
(pyenv-3.11, sid-3.14d, ...), or names the test when --python gives the
interpreter. For that interpreter:

  pymalloc: fragment_program.py fragments pymalloc, records
    sys._debugmallocstats() and aborts; `pyheapsnap memory --json CORE` must
    give every size class the pools, blocks in use and free blocks CPython
    printed, and the same number of arenas; `memory` of a snapshot of that
    core says what it says of the core.
  no pymalloc: under PYTHONMALLOC=malloc the verb must say pymalloc held no
    arenas, not give zeros as if counted.
  regions: the regions of that core, and of the oracle tests' heap program's
    core, add up to the core's mapped bytes within 1 %, pymalloc's arenas
    among them.
  live: `memory --pid` of a running program: the regions add up to its
    mappings, their resident bytes to its Rss within 1 %, its 20 MiB
    bytearray's bytes are among the blocks objects own ("bytearray bytes"), and the 1000
    small chunks it freed count as free (7 of them in the tcache), with
    the glibc release its libc file gives and a layout known for it.
  newer glibc (interpreters launched with sid's own ld.so): the same
    program with a copy of that libc whose release string says 2.99: the
    verb must name 2.99 as newer than its layouts, and count no chunk as
    free in the tcache but its in-use ones as "in use or cached".
  allocation sites: the same program under tracemalloc records
    tracemalloc.take_snapshot().statistics('lineno'); the top sites of
    `pyheapsnap memory --json --by line` must equal its top sites in file,
    line, size and count, those of `--by traceback` its statistics('traceback')
    (5 frames traced), the same from a snapshot of the core, and `show` of
    an object must name its line.

Exit status: 0 if everything agrees, 1 if not, 77 (skipped) if the
interpreter is not installed or leaves no core.
"""

import json
import os
import re
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from pyhs_test import (clean_env, core_of, parse_runner_args, run_main, run_to_core,  # noqa: E402
                       test_workdir)

PROGRAM = os.path.join(HERE, "fragment_program.py")
ORACLE_PROGRAM = os.path.join(os.path.dirname(HERE), "oracle", "heap_program.py")
failures = []
# --expect-missing: the interpreter is stripped and its debug file hidden;
# pymalloc's and tracemalloc's statics have no symbols, and the verb must
# say so (status "missing" and why) instead of counting.
EXPECT_MISSING = False


def check_missing(label, what, part):
    """In --expect-missing runs: part says it is missing, and why."""
    check(part["status"] == "missing" and part["missing"],
          "%s: %s without symbols: status %r, missing %r"
          % (label, what, part["status"], part["missing"]))
    print("%s: %s: %s" % (label, what, part["missing"]), flush=True)


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL: " + msg, flush=True)
    return cond


def parse_mallocstats(text):
    """{size: (pools, in use, free)} and the current arena count."""
    classes = {}
    arenas = None
    for line in text.splitlines():
        m = re.match(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$", line)
        if m and arenas is None:
            _, size, pools, used, free = map(int, m.groups())
            classes[size] = (pools, used, free)
        m = re.match(r"^# arenas allocated current\s*=\s*([\d,]+)", line)
        if m:
            arenas = int(m.group(1).replace(",", ""))
    return classes, arenas


def core_mapped_bytes(core):
    """Sum of the core's PT_LOAD segments' memory sizes."""
    with open(core, "rb") as f:
        head = f.read(64)
        phoff, = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    total = 0
    for i in range(phnum):
        ptype, = struct.unpack_from("<I", table, i * phentsize)
        memsz, = struct.unpack_from("<Q", table, i * phentsize + 40)
        if ptype == 1:
            total += memsz
    return total


def check_regions(label, what, d, core):
    """The regions add up to the core's mapped bytes (within 1 %), and
    pymalloc's arenas are all among them."""
    regions = d["regions"]
    total = sum(r["bytes"] for r in regions)
    mapped = core_mapped_bytes(core)
    check(mapped and abs(total - mapped) <= mapped / 100,
          "%s: %s: regions add up to %d bytes; the core maps %d"
          % (label, what, total, mapped))
    p = d["pymalloc"]
    if p["status"] == "ok":
        arenas = sum(r["bytes"] for r in regions if r["kind"] == "pymalloc")
        check(arenas == p["bytes"], "%s: %s: pymalloc regions %d bytes, its arenas %d"
              % (label, what, arenas, p["bytes"]))
    kinds = {}
    for r in regions:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + r["bytes"]
    print("%s: %s: regions %d of %d mapped bytes: %s" % (
        label, what, total, mapped,
        ", ".join("%s %d" % kv for kv in sorted(kinds.items()))), flush=True)


BIG = 20 << 20
NFREED = 1000  # malloc(100) then free: 112-byte chunks to tcache and fastbins
LIVE_PROGRAM = "BIG = %d\nNFREED = %d\n" % (BIG, NFREED) + """
import sys, time
kept = [bytes(200) for _ in range(50000)] + [list(range(1000)) for _ in range(100)]
big = bytearray(BIG)
import ctypes
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
chunks = [libc.malloc(100) for _ in range(NFREED)]
for p in chunks:
    libc.free(p)
print("ready", flush=True)
time.sleep(60)
"""


def proc_kib(pid, key):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return None


def libc_release(path):
    """The "2.NN" a libc file's release string gives, or None."""
    with open(path, "rb") as f:
        m = re.search(rb"release version (2\.[0-9]+)", f.read())
    return m.group(1).decode() if m else None


def check_newer_glibc(label, interp, tool, tool_args, workdir):
    """A libc whose release is newer than the layouts known is said, and
    its cached chunks are not claimed to be told apart."""
    if "--library-path" not in interp.prefix:
        return
    at = interp.prefix.index("--library-path") + 1
    libc = [os.path.join(d, "libc.so.6") for d in interp.prefix[at].split(":")
            if os.path.exists(os.path.join(d, "libc.so.6"))]
    if not check(libc, "%s: no libc.so.6 in %s" % (label, interp.prefix[at])):
        return
    with open(libc[0], "rb") as f:
        data = f.read()
    key = re.search(rb"release version 2\.[0-9]+", data)
    newdir = os.path.join(workdir, "newer-libc")
    os.makedirs(newdir)
    with open(os.path.join(newdir, "libc.so.6"), "wb") as f:
        f.write(data[:key.start()] + b"release version 2." + b"9" * (key.end() - key.start() - 18)
                + data[key.end():])
    newer = libc_release(os.path.join(newdir, "libc.so.6"))
    prefix = list(interp.prefix)
    prefix[at] = newdir + ":" + prefix[at]
    proc = subprocess.Popen(prefix + ["-I", "-c", LIVE_PROGRAM], stdout=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=interp.environ())
    try:
        if not check(proc.stdout.readline().strip() == b"ready",
                     "%s: the live program with glibc %s did not start" % (label, newer)):
            return
        argv = [tool, "memory", "--pid", str(proc.pid)] + tool_args
        out = subprocess.run(argv[:2] + ["--json"] + argv[2:], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=300)
        text = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    finally:
        proc.kill()
        proc.wait()
    if not check(out.returncode == 0 and text.returncode == 0,
                 "%s: memory --pid with glibc %s exited %d / %d" % (
                     label, newer, out.returncode, text.returncode)):
        return
    d = json.loads(out.stdout)
    names = [r["name"] for r in d["regions"] if r["kind"] == "malloc"]
    check(d["glibc"] == newer and d["glibc_layout_known"] is False,
          "%s: glibc %s: the verb says glibc %r, layout known %r"
          % (label, newer, d["glibc"], d["glibc_layout_known"]))
    check("free (tcache and fastbins)" not in names
          and any(n.startswith("in use or cached") for n in names)
          and not any(n.startswith("in use (") for n in names),
          "%s: glibc %s: malloc regions %s" % (label, newer, names))
    check(("glibc %s is newer than the malloc layouts known" % newer).encode() in text.stdout,
          "%s: glibc %s: the text output does not say it is newer than the layouts known"
          % (label, newer))
    print("%s: glibc %s: said newer than the layouts known; malloc regions %s"
          % (label, newer, ", ".join(sorted(set(names)))), flush=True)


def check_live(label, interp, tool, tool_args):
    """memory --pid: the regions add up to the process's mappings, and
    their resident bytes to its Rss (smaps_rollup) within 1 %."""
    proc = subprocess.Popen(interp.argv("-I", "-c", LIVE_PROGRAM), stdout=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=interp.environ())
    try:
        if not check(proc.stdout.readline().strip() == b"ready",
                     "%s: the live program did not start" % label):
            return
        out = subprocess.run([tool, "memory", "--json", "--pid", str(proc.pid)] + tool_args,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        with open("/proc/%d/maps" % proc.pid) as f:
            libcs = sorted(set(line.split()[5] for line in f if len(line.split()) > 5
                               and os.path.basename(line.split()[5]).startswith("libc.so")))
        rss = proc_kib(proc.pid, "Rss")
        mapped = 0
        with open("/proc/%d/maps" % proc.pid) as f:
            for line in f:
                lo, hi = line.split()[0].split("-")
                mapped += int(hi, 16) - int(lo, 16)
    finally:
        proc.kill()
        proc.wait()
    if not check(out.returncode == 0, "%s: memory --pid exited %d: %s" % (
            label, out.returncode, out.stderr.decode(errors="replace").strip())):
        return
    d = json.loads(out.stdout)
    release = libc_release(libcs[0]) if len(libcs) == 1 else None
    check(release and d["glibc"] == release and d["glibc_layout_known"] is True,
          "%s: libc %s says glibc %s; the verb says %r, layout known %r"
          % (label, libcs, release, d["glibc"], d["glibc_layout_known"]))
    regions = d["regions"]
    total = sum(r["bytes"] for r in regions)
    resident = sum(r.get("resident", 0) for r in regions)
    check(total == mapped, "%s: live regions add up to %d bytes; /proc maps %d"
          % (label, total, mapped))
    owned = sum(r["bytes"] for r in regions
                if r["kind"] == "buffers" and r["name"] == "bytearray bytes")
    check(owned >= BIG, "%s: bytearrays' bytes among malloc's chunks: %d bytes, with a "
          "bytearray of %d" % (label, owned, BIG))
    # The first 7 stay in the tcache; the rest sit in a fastbin unless a
    # larger request consolidated them into free chunks (or the top).
    cached = sum(r["bytes"] for r in regions if r["name"] == "free (tcache and fastbins)")
    free = sum(r["bytes"] for r in regions
               if r["kind"] == "malloc" and r["name"].startswith(("free", "top")))
    check(cached >= 7 * 112 and free >= NFREED * 112,
          "%s: %d bytes free in tcache and fastbins, %d free in all; %d chunks of "
          "112 bytes were freed" % (label, cached, free, NFREED))
    check(rss and abs(resident - rss) <= rss / 100,
          "%s: live regions resident %d bytes; smaps_rollup says %s" % (label, resident, rss))
    if not EXPECT_MISSING:
        check(d["pymalloc"]["status"] == "ok", "%s: live pymalloc status %r"
              % (label, d["pymalloc"]["status"]))
    print("%s: live: regions %d of %d mapped bytes, %d resident (Rss %s)"
          % (label, total, mapped, resident, rss), flush=True)


def check_oracle_regions(label, interp, tool, tool_args, workdir):
    case = os.path.join(workdir, "oracle")
    core = core_of(interp, [ORACLE_PROGRAM, os.path.join(case, "truth.jsonl")], case)
    d = run_tool(tool, tool_args, core)
    if d is not None:
        check_regions(label, "oracle core", d, core)


def run_tool(tool, args, core):
    out = subprocess.run([tool, "memory", "--json", core] + args,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    if out.returncode != 0:
        check(False, "pyheapsnap memory exited %d: %s"
              % (out.returncode, out.stderr.decode(errors="replace").strip()))
        return None
    return json.loads(out.stdout)


def check_pymalloc(label, interp, tool, tool_args, workdir):
    case = os.path.join(workdir, "pymalloc")
    core = core_of(interp, [PROGRAM, case], case)
    with open(os.path.join(case, "mallocstats.txt")) as f:
        truth, arenas = parse_mallocstats(f.read())
    if not check(truth and arenas is not None,
                 "%s: no pymalloc statistics from sys._debugmallocstats()" % label):
        return
    d = run_tool(tool, tool_args, core)
    if d is None:
        return
    p = d["pymalloc"]
    if EXPECT_MISSING:
        check_missing(label, "pymalloc", p)
        check_regions(label, "fragmented core", d, core)
        return
    if not check(p["status"] == "ok", "%s: pymalloc status %r (%s)"
                 % (label, p["status"], p["missing"])):
        return
    check(p["warnings"] == 0, "%s: %d warnings on a clean heap (%s)"
          % (label, p["warnings"], p["warning"]))
    check(p["arenas"] == arenas, "%s: %d arenas, CPython says %d"
          % (label, p["arenas"], arenas))
    ours = {c["size"]: (c["pools"], c["blocks_in_use"], c["blocks_free"])
            for c in p["size_classes"]}
    wrong = 0
    for size in sorted(set(truth) | set(ours)):
        t = truth.get(size, (0, 0, 0))
        o = ours.get(size, (0, 0, 0))
        if t != o:
            wrong += 1
            check(False, "%s: size class %d: pools, in use, free %s; CPython says %s"
                  % (label, size, o, t))
    check_regions(label, "fragmented core", d, core)
    check_corrupt_pools(label, tool, tool_args, d, core, case)
    check_snapshot(label, tool, tool_args, core, case, [])
    check(d["allocations"]["status"] == "off",
          "%s: allocations status %r without tracemalloc" % (label, d["allocations"]["status"]))
    blocks = sum(t[1] for t in truth.values())
    print("%s: pymalloc: %d arenas, %d size classes, %d blocks in use; %d classes differ"
          % (label, arenas, len(truth), blocks, wrong), flush=True)


def check_snapshot(label, tool, tool_args, core, workdir, variants):
    """A snapshot of the core keeps the allocators' state: memory --json
    (and its text) from the snapshot is what it is from the core, with
    each of variants' arguments too."""
    snap = os.path.join(workdir, "memory.phs")
    made = subprocess.run([tool, "snapshot", "-o", snap, core] + tool_args,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    if not check(made.returncode == 0, "%s: snapshot exited %d: %s" % (
            label, made.returncode, made.stderr.decode(errors="replace").strip())):
        return
    before = len(failures)
    for extra in [["--json"], []] + [["--json"] + v for v in variants]:
        outs = [subprocess.run([tool, "memory"] + extra + [path] + tool_args,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
                for path in (core, snap)]
        check(outs[0].returncode == 0 and outs[1].returncode == 0
              and outs[0].stdout == outs[1].stdout,
              "%s: memory %s of the snapshot (exit %d) differs from the core's (exit %d): %s"
              % (label, " ".join(extra), outs[1].returncode, outs[0].returncode,
                 outs[1].stderr.decode(errors="replace").strip()))
    if len(failures) == before:
        print("%s: memory from a snapshot of the core: the same (text, %s)"
              % (label, ", ".join(" ".join(["--json"] + v) for v in [[]] + variants)),
              flush=True)
    os.unlink(snap)


def patch_core(core, out, patches):
    """Copies core to out with the 4-byte values of patches ({address:
    value}) written where the core holds those addresses."""
    with open(core, "rb") as f:
        data = bytearray(f.read())
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    loads = []
    for i in range(phnum):
        ptype, _fl, off, va, _pa, fs = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        if ptype == 1:
            loads.append((va, fs, off))
    done = 0
    for addr, value in patches.items():
        for va, fs, off in loads:
            if va <= addr and addr + 4 <= va + fs:
                struct.pack_into("<I", data, off + addr - va, value)
                done += 1
                break
    with open(out, "wb") as f:
        f.write(data)
    return done == len(patches)


def check_corrupt_pools(label, tool, tool_args, d, core, workdir):
    """Pool headers that lie (a size class that does not exist, more blocks
    in use than fit) are counted as warnings, not believed or crashed on."""
    p = d["pymalloc"]
    pool = p["pool_size"]
    firsts = [(a + pool - 1) // pool * pool for a in p["arena_addresses"][:2]]
    if not check(len(firsts) == 2, "%s: fewer than two arenas to corrupt" % label):
        return
    bad = os.path.join(workdir, "corrupt-core")
    # pool_header: ref.count at 0, szidx at 36 (every version).
    if not check(patch_core(core, bad, {firsts[0] + 36: 200, firsts[1]: 1 << 30}),
                 "%s: the pools to corrupt are not in the core" % label):
        return
    out = subprocess.run([tool, "memory", "--json", bad] + tool_args,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    if check(out.returncode == 0, "%s: memory of a core with corrupt pools exited %d: %s"
             % (label, out.returncode, out.stderr.decode(errors="replace")[-300:])):
        w = json.loads(out.stdout)["pymalloc"]["warnings"]
        check(w >= 2, "%s: corrupt pool headers gave %d warnings" % (label, w))
        print("%s: corrupt pool headers: %d warnings" % (label, w), flush=True)
    os.unlink(bad)


def check_no_pymalloc(label, interp, tool, tool_args, workdir):
    """PYTHONMALLOC=malloc: pymalloc holds no arenas, and says so."""
    case = os.path.join(workdir, "malloc")
    os.makedirs(case)
    env = clean_env()
    env["PYTHONMALLOC"] = "malloc"
    core = run_to_core(interp.argv("-s", "-S", PROGRAM, case), case, interp.environ(env), 120)
    d = run_tool(tool, tool_args, core)
    if d is None:
        return
    p = d["pymalloc"]
    if EXPECT_MISSING:
        return
    check(p["status"] == "unused" and p["arenas"] == 0,
          "%s: PYTHONMALLOC=malloc: pymalloc status %r, %d arenas"
          % (label, p["status"], p["arenas"]))
    print("%s: PYTHONMALLOC=malloc: pymalloc %s (allocator %r)"
          % (label, p["status"], p["allocator"]), flush=True)


TOP_SITES = 5


def check_allocations(label, interp, tool, tool_args, workdir):
    case = os.path.join(workdir, "tracemalloc")
    core = core_of(interp, [PROGRAM, case, "--trace", "5"], case)
    with open(os.path.join(case, "lineno.json")) as f:
        truth = json.load(f)
    d = run_tool(tool, ["-n", "100000"] + tool_args, core)
    if d is None:
        return
    a = d["allocations"]
    if EXPECT_MISSING:
        check_missing(label, "allocations", a)
        return
    if not check(a["status"] == "ok", "%s: allocations status %r (%s)"
                 % (label, a["status"], a["missing"])):
        return
    check(a["warnings"] == 0, "%s: %d warnings reading the traces (%s)"
          % (label, a["warnings"], a["warning"]))
    check(d["pymalloc"]["status"] == "ok" and d["pymalloc"]["traced"],
          "%s: pymalloc under tracemalloc: status %r, traced %r"
          % (label, d["pymalloc"]["status"], d["pymalloc"]["traced"]))
    ours = {(s["file"], s["line"]): (s["size"], s["count"]) for s in a["by_line"]}
    top = truth[:TOP_SITES]
    for s in top:
        key = (s["file"], s["line"])
        check(ours.get(key) == (s["size"], s["count"]),
              "%s: %s:%d: size, count %s; tracemalloc says %s"
              % (label, key[0], key[1], ours.get(key), (s["size"], s["count"])))
    ranked = [(s["file"], s["line"]) for s in a["by_line"][:TOP_SITES]]
    check(ranked == [(s["file"], s["line"]) for s in top],
          "%s: top sites %s; tracemalloc's %s" % (label, ranked, top))
    print("%s: allocations: %d traces; top %d of %d tracemalloc sites compared"
          % (label, a["traces"], len(top), len(truth)), flush=True)
    # --by traceback: the same traces grouped by their whole traceback.
    d = run_tool(tool, ["-n", "100000", "--by", "traceback"] + tool_args, core)
    with open(os.path.join(case, "traceback.json")) as f:
        tb_truth = json.load(f)
    if d is not None:
        ours_tb = {tuple(tuple((fr["file"], fr["line"])) for fr in s["frames"]):
                   (s["size"], s["count"]) for s in d["allocations"]["by_traceback"]}
        for s in tb_truth[:TOP_SITES]:
            key = tuple(tuple(fr) for fr in s["frames"])
            check(ours_tb.get(key) == (s["size"], s["count"]),
                  "%s: traceback %s: size, count %s; tracemalloc says %s"
                  % (label, key, ours_tb.get(key), (s["size"], s["count"])))
    check_snapshot(label, tool, tool_args, core, case,
                   [["--by", "traceback"], ["-n", "3"], ["-n", "100000", "--by", "traceback"]])
    with open(os.path.join(case, "probe.json")) as f:
        probe = json.load(f)
    out = subprocess.run([tool, "show", "--json", core, hex(probe["addr"])] + tool_args,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    if check(out.returncode == 0, "%s: show exited %d: %s" % (
            label, out.returncode, out.stderr.decode(errors="replace").strip())):
        alloc = json.loads(out.stdout)["allocated"]
        first = alloc and alloc["frames"] and alloc["frames"][0]
        check(first and (first["file"], first["line"]) == (probe["file"], probe["line"]),
              "%s: show says the probe was allocated at %s, not %s:%d"
              % (label, first, probe["file"], probe["line"]))


def main():
    def add_arguments(p):
        p.add_argument("--expect-missing", action="store_true")
    args = parse_runner_args(__doc__.splitlines()[0], add_arguments)
    global EXPECT_MISSING
    EXPECT_MISSING = args.expect_missing
    label, interp, tool, tool_args = args.label, args.interp, args.tool, args.tool_args
    with test_workdir(args, "memory") as workdir:
        check_pymalloc(label, interp, tool, tool_args, workdir)
        check_allocations(label, interp, tool, tool_args, workdir)
        check_no_pymalloc(label, interp, tool, tool_args, workdir)
        check_oracle_regions(label, interp, tool, tool_args, workdir)
        check_live(label, interp, tool, tool_args)
        check_newer_glibc(label, interp, tool, tool_args, workdir)
    if failures:
        print("%d failures" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    run_main(main)
