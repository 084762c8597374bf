#!/usr/bin/env python3
"""How long pyheapsnap stops a live process, beside the floor and gdb.

    bench_pause.py [--tool build/cli/pyheapsnap] [--python PATH]
                   [--objects 1000000,5000000,10000000] [--repeat 3] [--gdb PATH]
                   [--no-summary] [--no-gdb] [--dir DIR] [--watch]

For each heap size a Python program builds about that many objects (tuples
of an int and a str, in a list), then waits on stdin. Measured on it, each
--repeat times, best and median printed:

  summary   `pyheapsnap summary --pid PID --json`'s pause_ns: the time from
            the first thread stopped to the last resumed
  gcore     `pyheapsnap gcore --pid PID -o FILE --json`'s pause_ns (the same
            capture; the file is written after the process runs on), and
            the time to the written file; with --watch also the stop seen
            by polling /proc as for gdb (the poller costs the capture a
            little CPU)
  raw copy  the floor: the process is stopped with SIGSTOP, and the same
            memory a capture copies (readable anonymous and writable
            private mappings, only pages present or swapped out for private
            anonymous memory, per /proc/PID/pagemap, which is read
            beforehand) is copied with process_vm_readv, 1024 pieces per
            call, into memory given pages beforehand; only the copy is timed
  gdb gcore `gdb -batch -p PID -ex 'gcore FILE'`: how long the process is in
            a tracing stop (its /proc/PID/stat state polled every 1 ms,
            first to last sighting of 't'), and gdb's wall time

and the ratios the targets are stated in: pause / raw copy (target <= 1.2,
stated for gcore at 5 million objects, printed last) and gdb's stop /
gcore's pause (target >= 10). Prints numbers; asserts nothing. On a busy
machine both the pause and the raw copy wait for a processor: run it
with --repeat 5 or more and read the best figures. Runs as root or as the program's user with ptrace_scope 0.
"""

import argparse
import ctypes
import json
import mmap
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

PROGRAM = r'''
import gc, sys
gc.disable()
n = int(sys.argv[1])
# Three objects per entry: the tuple, the int (past the small ints) and
# the str; the list holding them is one more.
data = [(i + 1000, str(i)) for i in range(n // 3)]
sys.stdout.write("ready\n")
sys.stdout.flush()
sys.stdin.readline()
'''


class iovec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


libc = ctypes.CDLL(None, use_errno=True)
libc.process_vm_readv.argtypes = [ctypes.c_int, ctypes.POINTER(iovec), ctypes.c_ulong,
                                  ctypes.POINTER(iovec), ctypes.c_ulong, ctypes.c_ulong]
libc.process_vm_readv.restype = ctypes.c_ssize_t
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
libc.memset.restype = ctypes.c_void_p
PAGE = os.sysconf("SC_PAGE_SIZE")


def state_of(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            s = f.read()
    except OSError:
        return None
    return chr(s[s.rindex(b")") + 2])


class StopWatcher:
    """Polls /proc/PID/stat; the span from the first to the last sighting
    of a stopped state (t or T)."""

    def __init__(self, pid, states="tT", interval=0.001):
        self.pid, self.states, self.interval = pid, states, interval
        self.first = self.last = None
        self.done = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        path = "/proc/%d/stat" % self.pid
        fd = os.open(path, os.O_RDONLY)
        try:
            while not self.done:
                s = os.pread(fd, 512, 0)
                st = chr(s[s.rindex(b")") + 2])
                if st in self.states:
                    now = time.perf_counter_ns()
                    if self.first is None:
                        self.first = now
                    self.last = now
                time.sleep(self.interval)
        finally:
            os.close(fd)

    def stop(self):
        self.done = True
        self.t.join()
        if self.first is None:
            return 0
        return self.last - self.first


def read_maps(pid):
    maps = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) \S+ \d+\s*(.*)$",
                         line.rstrip("\n"))
            if m:
                maps.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3),
                             m.group(5)))
    return maps


def copied_by_capture(perms, path):
    """The rule of reader/live.c's classify() for what is copied while the
    process is stopped."""
    if perms[0] != "r":
        return False
    if not path.startswith("/"):
        return path not in ("[vvar]", "[vvar_vclock]", "[vsyscall]", "[vdso]")
    if path.startswith("/dev/") and not path.startswith(("/dev/zero", "/dev/shm/")):
        return False
    if perms[3] == "s":
        return (path.startswith(("/dev/zero", "/SYSV", "/memfd:", "/dev/shm/"))
                or path.endswith(" (deleted)"))
    return perms[1] == "w"


def present_runs(pid, start, end):
    runs = []
    with open("/proc/%d/pagemap" % pid, "rb") as f:
        f.seek(start // PAGE * 8)
        raw = f.read((end - start) // PAGE * 8)
    import array
    a = array.array("Q")
    a.frombytes(raw)
    run_start = None
    addr = start
    for e in a:
        present = (e >> 62) & 3
        if present and run_start is None:
            run_start = addr
        elif not present and run_start is not None:
            runs.append((run_start, addr))
            run_start = None
        addr += PAGE
    if run_start is not None:
        runs.append((run_start, addr))
    return runs


def raw_copy(pid):
    """(ns to copy, bytes copied) with the process stopped by SIGSTOP."""
    os.kill(pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 10
        while state_of(pid) != "T":
            if time.monotonic() > deadline:
                raise RuntimeError("the process did not stop")
            time.sleep(0.001)
        pieces = []
        for start, end, perms, path in read_maps(pid):
            if not copied_by_capture(perms, path):
                continue
            if perms[3] == "p" and (not path or path.startswith("[")):
                pieces += present_runs(pid, start, end)
            else:
                pieces.append((start, end))
        total = sum(e - s for s, e in pieces)
        buf = mmap.mmap(-1, max(total, PAGE),
                        flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
        libc.memset(base, 1, total)  # give every page memory beforehand
        local = (iovec * 1024)()
        remote = (iovec * 1024)()
        batches = []
        off = 0
        for i in range(0, len(pieces), 1024):
            batch = []
            for s, e in pieces[i:i + 1024]:
                batch.append((base + off, s, e - s))
                off += e - s
            batches.append(batch)
        got = 0
        t0 = time.perf_counter_ns()
        for b in batches:
            for k, (dst, src, n) in enumerate(b):
                local[k].iov_base, local[k].iov_len = dst, n
                remote[k].iov_base, remote[k].iov_len = src, n
            r = libc.process_vm_readv(pid, local, len(b), remote, len(b), 0)
            if r < 0:
                raise OSError(ctypes.get_errno(), "process_vm_readv")
            got += r
        ns = time.perf_counter_ns() - t0
        del local, remote
        buf.close()
        return ns, got
    finally:
        os.kill(pid, signal.SIGCONT)


def fmt_ms(ns):
    return "%.2f ms" % (ns / 1e6)


def summarize(values):
    return min(values), statistics.median(values)


def rss_of(pid):
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"^VmRSS:\s*(\d+) kB", f.read(), re.M)
    return int(m.group(1)) * 1024 if m else 0


def measure_raw(pid):
    ns, nbytes = raw_copy(pid)
    return {"raw": ns, "raw_bytes": nbytes}


def measure_gcore(args, pid, workdir):
    core = os.path.join(workdir, "pyheapsnap.core")
    # Polled only with --watch: the poller takes a core of its own, which
    # slows the capture on a machine of two.
    w = StopWatcher(pid, "t") if args.watch else None
    t0 = time.perf_counter_ns()
    out = subprocess.run([args.tool, "gcore", "--pid", str(pid), "-o", core, "--json"],
                         stdout=subprocess.PIPE, check=True).stdout
    wall = time.perf_counter_ns() - t0
    seen = w.stop() if w else None
    d = json.loads(out)
    os.unlink(core)
    got = {"gcore": d["pause_ns"], "gcore_wall": wall, "gcore_bytes": d["bytes"]}
    if seen is not None:
        got["gcore_seen"] = seen
    return got


def measure_summary(args, pid):
    t0 = time.perf_counter_ns()
    out = subprocess.run([args.tool, "summary", "--pid", str(pid), "--json"],
                         stdout=subprocess.PIPE, check=True).stdout
    wall = time.perf_counter_ns() - t0
    return {"summary": json.loads(out)["pause_ns"], "summary_wall": wall}


def measure_gdb(args, pid, workdir):
    gcore_file = os.path.join(workdir, "gdb.core")
    env = dict(os.environ, DEBUGINFOD_URLS="")
    w = StopWatcher(pid, "t")
    t0 = time.perf_counter_ns()
    subprocess.run([args.gdb, "-nx", "-batch",
                    "-iex", "set auto-load python-scripts off",
                    "-iex", "set debuginfod enabled off",
                    "-p", str(pid), "-ex", "gcore " + gcore_file],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=env, check=True)
    wall = time.perf_counter_ns() - t0
    seen = w.stop()
    size = os.path.getsize(gcore_file) if os.path.exists(gcore_file) else 0
    if os.path.exists(gcore_file):
        os.unlink(gcore_file)
    return {"gdb": seen, "gdb_wall": wall, "gdb_bytes": size}


def bench_size(args, n, workdir):
    prog = os.path.join(workdir, "bench_program.py")
    with open(prog, "w") as f:
        f.write(PROGRAM)
    p = subprocess.Popen([args.python, prog, str(n)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    try:
        if p.stdout.readline().strip() != b"ready":
            raise RuntimeError("the program did not start")
        pid = p.pid
        time.sleep(0.5)
        print("\n== %s objects (pid %d, RSS %.0f MiB) ==" % (format(n, ","), pid,
                                                             rss_of(pid) / 2**20), flush=True)
        # Interleaved, so that whatever else the machine does weighs on
        # every measurement alike.
        runs = {}
        for r in range(args.repeat):
            got = measure_raw(pid)
            time.sleep(0.2)
            got.update(measure_gcore(args, pid, workdir))
            time.sleep(0.2)
            if args.summary:
                got.update(measure_summary(args, pid))
                time.sleep(0.2)
            if args.gdb and r < args.gdb_repeat:
                got.update(measure_gdb(args, pid, workdir))
                time.sleep(0.2)
            for k, v in got.items():
                runs.setdefault(k, []).append(v)
            print("  run %d: raw copy %s, gcore pause %s%s%s" % (
                r + 1, fmt_ms(got["raw"]), fmt_ms(got["gcore"]),
                ", summary pause %s" % fmt_ms(got["summary"]) if "summary" in got else "",
                ", gdb stopped %s" % fmt_ms(got["gdb"]) if "gdb" in got else ""),
                flush=True)

        def best(k):
            return min(runs[k])

        def med(k):
            return statistics.median(runs[k])

        def line(name, k, extra=""):
            print("%-34s best %10s   median %10s%s" % (name, fmt_ms(best(k)), fmt_ms(med(k)),
                                                     extra))
        line("raw copy (SIGSTOP+process_vm_readv)", "raw",
             "   (%.0f MiB)" % (runs["raw_bytes"][-1] / 2**20))
        line("pyheapsnap gcore pause", "gcore",
             "   (%score %.0f MiB, written in %s)"
             % ("seen stopped %s; " % fmt_ms(med("gcore_seen")) if "gcore_seen" in runs else "",
                runs["gcore_bytes"][-1] / 2**20, fmt_ms(med("gcore_wall"))))
        if "summary" in runs:
            line("pyheapsnap summary --pid pause", "summary",
                 "   (whole run %s)" % fmt_ms(med("summary_wall")))
        if "gdb" in runs:
            line("gdb gcore: process stopped", "gdb",
                 "   (gdb ran %s; core %.0f MiB)" % (fmt_ms(med("gdb_wall")),
                                                      runs["gdb_bytes"][-1] / 2**20))
        for stat_name, f in (("best", best), ("median", med)):
            parts = ["gcore pause / raw copy %.2f" % (f("gcore") / f("raw"))]
            if "summary" in runs:
                parts.append("summary pause / raw copy %.2f" % (f("summary") / f("raw")))
            if "gdb" in runs:
                parts.append("gdb stop / gcore pause %.1f" % (f("gdb") / f("gcore")))
                parts.append("gdb stop / raw copy %.1f (the most a full copy can reach)"
                             % (f("gdb") / f("raw")))
            print("ratios (%s): %s" % (stat_name, "; ".join(parts)))
        print("targets: pause / raw copy <= 1.2; gdb stop / pause >= 10", flush=True)
        p.stdin.write(b"\n")
        p.stdin.flush()
        p.wait(timeout=120)
        return runs
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tool", default=os.path.join(here, "..", "..", "build", "cli",
                                                   "pyheapsnap"))
    ap.add_argument("--python", default=shutil.which("python3.11") or sys.executable)
    ap.add_argument("--objects", default="1000000,5000000,10000000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--gdb-repeat", type=int, default=2)
    ap.add_argument("--gdb", default=shutil.which("gdb"))
    ap.add_argument("--no-gdb", dest="gdb", action="store_const", const=None)
    ap.add_argument("--no-summary", dest="summary", action="store_false")
    ap.add_argument("--dir", default=None, help="where to write the cores")
    ap.add_argument("--watch", action="store_true",
                    help="also poll /proc while pyheapsnap gcore runs, to check its pause_ns")
    args = ap.parse_args()
    print("python %s, tool %s, gdb %s" % (args.python, args.tool, args.gdb or "(none)"))
    workdir = tempfile.mkdtemp(prefix="pyhs-bench-pause-", dir=args.dir)
    try:
        # A copy, so that a rebuild meanwhile does not pull it away.
        tool = os.path.join(workdir, "pyheapsnap")
        shutil.copy2(args.tool, tool)
        args.tool = tool
        at = {}
        for n in [int(x) for x in args.objects.split(",")]:
            at[n] = bench_size(args, n, workdir)
        if 5000000 in at:
            runs = at[5000000]
            print("\ngcore pause / raw copy at 5,000,000 objects: best %.2f, median %.2f "
                  "(target <= 1.2)" % (min(runs["gcore"]) / min(runs["raw"]),
                                       statistics.median(runs["gcore"]) /
                                       statistics.median(runs["raw"])))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
