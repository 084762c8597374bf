#!/usr/bin/env python3
"""The debug file of Debian's python3.11 from a real debuginfod server.

    test_debuginfod.py --tool PATH/TO/pyheapsnap

Starts `debuginfod` on 127.0.0.1, on a free port, serving a directory that
holds a copy of python3.11-dbg's debug file for /usr/bin/python3.11, and
reads a core of that interpreter with the reader's own lookup pointed at an
empty directory (--debug-dir), with a private DEBUGINFOD_CACHE_PATH:

  * with DEBUGINFOD_URLS naming the server, the layouts come from DWARF,
    from a file in that cache, and the heap is the one the on-disk debug
    file gives;
  * the server stopped, the same run reads the file from the cache and
    opens no socket;
  * with --no-debuginfod, or DEBUGINFOD_URLS unset, no socket is opened
    (strace -f -e trace=socket,connect), no cache is made, the layouts are
    the built-in ones;
  * a server that accepts and never answers is given up within the short
    timeout, with a warning.

The server is stopped whatever happens. Exit 0 on success, 1 on failure, 77
(skipped) when the debuginfod program, the interpreter or its debug file is
not installed, or no core can be had.
"""

import argparse
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from pyhs_test import clean_env, core_with_debug_file, run_main, skip  # noqa: E402

PYTHON = "/usr/bin/python3.11"
PROGRAM = "import json, re, os; data = {str(i): [i] for i in range(1000)}; os.abort()"
SERVER_READY_TIMEOUT = 60  # seconds for debuginfod to start and index the file
TOOL_TIMEOUT = 120
GIVE_UP_WITHIN = 15  # seconds a silent server may cost (5 s and one try)


def fail(msg):
    print("FAIL: " + msg)
    sys.stdout.flush()
    sys.exit(1)


def die_with_parent():
    """preexec_fn: the child is killed when the test dies, however it dies
    (prctl PR_SET_PDEATHSIG); a best effort where ctypes cannot say so."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(**extra):
    """The test's environment without debuginfod's variables (and with
    LeakSanitizer off: it cannot run under strace), plus extra."""
    env = {k: v for k, v in clean_env().items() if not k.startswith("DEBUGINFOD_")}
    asan = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "detect_leaks=0"
    env.update(extra)
    return env


class Server:
    """debuginfod -F serving one directory on a free port of 127.0.0.1
    (clients ask there; it takes no address to listen on), stopped by
    stop() or on leaving a with block."""

    def __init__(self, workdir, served, bid):
        self.proc = None
        self.log = os.path.join(workdir, "debuginfod.log")
        exe = shutil.which("debuginfod")
        for attempt in range(3):
            self.port = free_port()
            db = os.path.join(workdir, "debuginfod-%d.sqlite" % attempt)
            # Its own DEBUGINFOD_URLS unset: it must not ask further servers.
            env = base_env()
            with open(self.log, "ab") as log:
                self.proc = subprocess.Popen(
                    [exe, "-F", "-p", str(self.port), "-d", db, "-t", "0", "-g", "0",
                     "-c", "1", served],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                    start_new_session=True, preexec_fn=die_with_parent)
            state = self.wait_ready(bid)
            if state == "ready":
                return
            self.stop()
            if state != "exited":  # else the port was taken: another
                break
        fail("debuginfod did not serve the debug file within %d s; its log:\n%s"
             % (SERVER_READY_TIMEOUT, open(self.log, errors="replace").read()[-3000:]))

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def wait_ready(self, bid):
        """"ready" once it serves the file, "exited" if it stopped (the
        port was taken, or it failed: its log says), else "timeout"."""
        deadline = time.time() + SERVER_READY_TIMEOUT
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return "exited"
            try:
                with urllib.request.urlopen("%s/buildid/%s/debuginfo" % (self.url, bid),
                                            timeout=5) as r:
                    if r.status == 200:
                        return "ready"
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        return "timeout"

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class SilentServer:
    """Accepts connections on 127.0.0.1 and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.done.is_set():
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()


def summary(tool, core, args, env, strace_out=None):
    """summary --json of core; under strace when strace_out is a path.
    Returns (the parsed JSON, seconds taken); fails on anything on stderr."""
    argv = [tool, "summary", "--json", core] + args
    if strace_out:
        argv = ["strace", "-f", "-qq", "-e", "trace=socket,connect", "-o", strace_out] + argv
    start = time.time()
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                           timeout=TOOL_TIMEOUT)
    except subprocess.TimeoutExpired:
        fail("%s took over %d s" % (" ".join(argv), TOOL_TIMEOUT))
    took = time.time() - start
    if p.returncode != 0 or p.stderr:
        fail("%s exited %d: %s" % (" ".join(argv), p.returncode,
                                   p.stderr.decode(errors="replace")[-2000:]))
    return json.loads(p.stdout.decode()), took


def sockets_opened(strace_out):
    with open(strace_out, errors="replace") as f:
        return [line.strip() for line in f if "socket(" in line or "connect(" in line]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tool", required=True)
    args = ap.parse_args()
    tool = os.path.abspath(args.tool)
    # A timeout's SIGTERM unwinds too, so that the server is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("FAIL: terminated"))
    if not shutil.which("debuginfod"):
        skip("the debuginfod program is not installed (Debian package debuginfod)")
    if not shutil.which("strace"):
        fail("strace is not installed (.ci/deps installs it)")
    with tempfile.TemporaryDirectory(prefix="pyheapsnap-debuginfod-") as tmp:
        core, bid, dbg = core_with_debug_file(PYTHON, PROGRAM, tmp)  # no core: a skip
        empty = os.path.join(tmp, "empty")
        served = os.path.join(tmp, "served")
        cache = os.path.join(tmp, "cache")
        os.mkdir(empty)
        os.mkdir(served)
        shutil.copyfile(dbg, os.path.join(served, "python3.11.debug"))
        hidden = ["--debug-dir", empty]

        ref, _ = summary(tool, core, ["--no-debuginfod"], base_env())
        if ref["python"]["layout"] != "dwarf":
            fail("the on-disk debug file gave layout %r" % ref["python"]["layout"])
        print("on disk: %d objects, %d edges, DWARF from %s"
              % (ref["objects"], ref["edges"], ref["python"]["debug_file"]))

        def same_heap(s, what):
            if s["python"]["layout"] != "dwarf":
                fail("%s: layout %r, not dwarf; warnings %s"
                     % (what, s["python"]["layout"], s["warnings"]["examples"]))
            if not s["python"]["debug_file"].startswith(cache + os.sep):
                fail("%s: DWARF from %r, not from the cache %s"
                     % (what, s["python"]["debug_file"], cache))
            if (s["objects"], s["edges"]) != (ref["objects"], ref["edges"]):
                fail("%s: %d objects and %d edges, not %d and %d" % (
                    what, s["objects"], s["edges"], ref["objects"], ref["edges"]))
            print("%s: %d objects, DWARF from %s" % (what, s["objects"],
                                                    s["python"]["debug_file"]))

        with Server(tmp, served, bid) as server:
            # The library's progress and verbose messages asked for, and
            # not printed (summary() fails on any stderr).
            env = base_env(DEBUGINFOD_URLS=server.url, DEBUGINFOD_CACHE_PATH=cache,
                           DEBUGINFOD_PROGRESS="1", DEBUGINFOD_VERBOSE="1")
            s, took = summary(tool, core, hidden, env)
            same_heap(s, "from debuginfod (%.1f s)" % took)
            trace = os.path.join(tmp, "strace-off.txt")
            s, _ = summary(tool, core, hidden + ["--no-debuginfod"], env, trace)
            if s["python"]["layout"] != "builtin" or sockets_opened(trace):
                fail("--no-debuginfod: layout %r, sockets %s"
                     % (s["python"]["layout"], sockets_opened(trace)))
            print("--no-debuginfod: built-in layouts, no socket")
        # libdebuginfod's requests name it (the test's own are Python's).
        log = open(server.log, errors="replace").read()
        if not any("UA:elfutils/" in line and "/buildid/%s/debuginfo 200" % bid in line
                   for line in log.splitlines()):
            fail("the server's log shows no request of libdebuginfod answered:\n"
                 + log[-2000:])

        # The server gone, the cache answers, without a socket.
        trace = os.path.join(tmp, "strace-cache.txt")
        s, _ = summary(tool, core, hidden, env, trace)
        same_heap(s, "from the cache, server stopped")
        if sockets_opened(trace):
            fail("reading from the cache opened sockets: %s" % sockets_opened(trace))

        # No DEBUGINFOD_URLS: no client at all (no socket, no cache made).
        unused_cache = os.path.join(tmp, "cache-unused")
        trace = os.path.join(tmp, "strace-unset.txt")
        s, _ = summary(tool, core, hidden, base_env(DEBUGINFOD_CACHE_PATH=unused_cache), trace)
        if s["python"]["layout"] != "builtin":
            fail("DEBUGINFOD_URLS unset: layout %r" % s["python"]["layout"])
        if sockets_opened(trace):
            fail("DEBUGINFOD_URLS unset, yet sockets: %s" % sockets_opened(trace))
        if os.path.exists(unused_cache):
            fail("DEBUGINFOD_URLS unset, yet a cache was made at %s" % unused_cache)
        print("DEBUGINFOD_URLS unset: built-in layouts, no socket, no cache")

        # A server that never answers costs the short timeout, and says so.
        with SilentServer() as silent:
            env = base_env(DEBUGINFOD_URLS="http://127.0.0.1:%d" % silent.port,
                           DEBUGINFOD_CACHE_PATH=os.path.join(tmp, "cache-silent"))
            s, took = summary(tool, core, hidden, env)
        said = [w for w in s["warnings"]["examples"] if "debuginfod" in w]
        if took > GIVE_UP_WITHIN or s["python"]["layout"] != "builtin" or not said:
            fail("a silent server: %.1f s (at most %d), layout %r, warnings %s"
                 % (took, GIVE_UP_WITHIN, s["python"]["layout"], s["warnings"]["examples"]))
        print("a silent server: given up after %.1f s: %s" % (took, said[0]))
    print("PASS")


if __name__ == "__main__":
    run_main(main)
