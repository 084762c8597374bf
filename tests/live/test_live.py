#!/usr/bin/env python3
"""Live-process tests for pyheapsnap (reader/live.c).

    test_live.py --probe PATH/TO/live_probe [--tool PATH/TO/pyheapsnap]
                 [--python PATH ...] [--quick]

For every installed interpreter ($(pyenv root)/versions/3.X.*/bin/python3.X
for 3.8 to 3.13, newest patch release, and /usr/bin/python3.11; missing ones
are reported and skipped) a program builds a heap, measures the reference
counts of a few known objects with sys.getrefcount (less getrefcount's own
references, measured on a probe object), prints their id()s, type names
and counts, and waits on stdin.  live_probe (pyhs_target_open_pid and
pyhs_heap_build) must then report

  * the same type name and refcount at every address,
  * the program's threads (native ids) and version, a pause > 0;

after it the program must run on: it answers "done" on stdin and exits 0.
The process is then killed with SIGABRT to get a core, and live_probe on the
core must agree with the live capture object for object (a digest of every
object, its size, refcount, generation and references).

With the first interpreter found, also:

  * a pid that does not exist, and a process that is not Python: one error;
  * live_probe killed with SIGKILL while the target is stopped (its state
    in /proc/PID/stat is 't'), several times: the target always runs on;
  * SIGTERM and SIGINT to live_probe while the target is stopped: the
    probe finishes resuming the target, then dies of the signal;
  * the target killed while it is stopped: "exited during capture";
  * another tracer attached: the error names it; a capture by another
    user (when run as root): the error says so; a capture of a process of
    one's own as an unprivileged user works;
  * pyheapsnap summary --pid PID, if the tool has --pid.

Exit status: 0 if all passed, 1 if any failed, 77 (meson's "skipped") if no
interpreter is installed or ptrace is not allowed here at all.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pyhs_test import (Target, chosen_interpreters, clean_env, fail, failures,  # noqa: E402
                       find_core, ok, proc_state, need_ptrace, run_main, verdict,
                       wait_running)


# The target program: its heap, the truth about a few objects, then it
# waits for a line on stdin, answers "done" and exits 0.
PROGRAM = r'''
import gc, json, os, sys, threading

gc.disable()
N = int(sys.argv[1])
NTHREADS = int(sys.argv[2])


class Foo:
    def __init__(self, i):
        self.i = i


def func():
    pass


big = [Foo(i) for i in range(N)]
strs = ["s%d" % i for i in range(N)]
event = threading.Event()
native_ids = []
ready = threading.Barrier(NTHREADS + 1)


def worker():
    native_ids.append(threading.get_native_id())
    ready.wait()
    event.wait()


threads = [threading.Thread(target=worker, daemon=True) for _ in range(NTHREADS)]
for t in threads:
    t.start()
ready.wait()

holder = [
    [1, 2, 3],
    {"k": "v", "n": N},
    Foo(-1),
    "".join(["abc", str(N)]),
    tuple(range(5)) + (N,),
    10 ** 30 + N,
    float(N) + 0.5,
    {1, 2, N},
    bytes(range(10)) + bytes([N % 256]),
    Foo,
    func,
    big,
    object(),  # last: the probe object, held by holder alone
]
alias = holder[0]  # one more reference to the first list
alias2 = holder[2]


def type_name(tp):
    module = getattr(tp, "__module__", None)
    qualname = getattr(tp, "__qualname__", None) or tp.__name__
    if module == "builtins" or not isinstance(module, str):
        return qualname
    return module + "." + qualname


def measure():
    counts = [sys.getrefcount(holder[i]) for i in range(len(holder))]
    delta = counts[-1] - 1
    return [
        {"addr": id(holder[i]), "type": type_name(type(holder[i])),
         "refcnt": counts[i] - delta}
        for i in range(len(holder))
    ]


truth = measure()
line = json.dumps({
    "pid": os.getpid(),
    "hexversion": sys.hexversion,
    "tids": [threading.get_native_id()] + native_ids,
    "objects": truth,
})
sys.stdout.write(line + "\n")
sys.stdout.flush()
del line, truth
sys.stdin.readline()
event.set()
sys.stdout.write("done\n")
sys.stdout.flush()
'''

# A tracer that attaches with PTRACE_SEIZE and holds on until killed.
TRACER = r'''
import ctypes, sys, time
libc = ctypes.CDLL(None, use_errno=True)
r = libc.ptrace(0x4206, int(sys.argv[1]), None, None)
sys.stdout.write("%d %d\n" % (r, ctypes.get_errno()))
sys.stdout.flush()
time.sleep(120)
'''

def start_target(interp, n, nthreads, workdir, core=False):
    """The target program under interp with n objects and nthreads threads."""
    return Target(interp, PROGRAM, [n, nthreads], workdir, name="live_program.py", core=core)


def run_probe(probe, args, timeout=120, **kw):
    p = subprocess.run([probe] + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout, **kw)
    out = p.stdout.decode(errors="replace").strip()
    try:
        data = json.loads(out) if out else {}
    except ValueError:
        data = {"error": "unparsable output: " + out[:300]}
    return p.returncode, data, p.stderr.decode(errors="replace").strip()


def check_capture(label, probe, target):
    info = target.info
    addrs = [o["addr"] for o in info["objects"]]
    rc, d, err = run_probe(probe, [target.pid] + addrs)
    if rc != 0:
        fail("%s: live_probe failed (%d): %s" % (label, rc, err))
        return None
    problems = []
    if d.get("source") != "pid":
        problems.append("source %r" % d.get("source"))
    if d.get("pid") != target.pid:
        problems.append("pid %r" % d.get("pid"))
    if not d.get("pause_ns"):
        problems.append("no pause measured")
    if d.get("hexversion") != info["hexversion"]:
        problems.append("hexversion %#x, the program says %#x"
                        % (d.get("hexversion") or 0, info["hexversion"]))
    if sorted(d.get("tids", [])) != sorted(info["tids"]):
        problems.append("threads %s, the program has %s" % (d.get("tids"), info["tids"]))
    elif d.get("tids", [None])[0] != target.pid:
        problems.append("the main thread is not first: %s" % d.get("tids"))
    at = {o["addr"]: o for o in d.get("at", [])}
    for o in info["objects"]:
        got = at.get(o["addr"])
        if not got or not got.get("found"):
            problems.append("%s at %#x: not found" % (o["type"], o["addr"]))
        elif got["type"] != o["type"] or got["refcnt"] != o["refcnt"]:
            problems.append("%#x: %s refcnt %s, the program says %s refcnt %s"
                            % (o["addr"], got["type"], got["refcnt"], o["type"], o["refcnt"]))
    if problems:
        fail("%s: %s" % (label, "; ".join(problems)))
    else:
        ok("%s: %d objects, %d threads, pause %.2f ms; %d known objects agree in type and refcount"
           % (label, d["objects"], d["nthreads"], d["pause_ns"] / 1e6, len(addrs)))
    state, tracer = proc_state(target.pid)
    if state in ("t", "T") or tracer:
        fail("%s: the program is left stopped (state %s, tracer %s)" % (label, state, tracer))
    return d


def check_core_agrees(label, probe, interp, workdir):
    """Live capture, then a core of the same unchanged process: the same heap."""
    pattern = ""
    try:
        with open("/proc/sys/kernel/core_pattern") as f:
            pattern = f.read().strip()
    except OSError:
        pass
    if pattern.startswith("|") or "/" in pattern:
        print("skip: %s: core comparison (core_pattern %r does not write cores "
              "into the working directory)" % (label, pattern), flush=True)
        return
    cdir = tempfile.mkdtemp(dir=workdir, prefix="core-")
    target = start_target(interp, 20000, 2, cdir, core=True)
    try:
        rc, live, err = run_probe(probe, [target.pid])
        if rc != 0:
            fail("%s: live_probe failed before the core: %s" % (label, err))
            return
        os.kill(target.pid, signal.SIGABRT)
        target.p.communicate(timeout=120)
        core = find_core(cdir, target.pid)
        if not core:
            print("skip: %s: core comparison (no core appeared; RLIMIT_CORE?)" % label,
                  flush=True)
            return
        rc, cored, err = run_probe(probe, ["--core", core])
        if rc != 0:
            fail("%s: live_probe on the core failed: %s" % (label, err))
            return
        keys = ("objects", "edges", "digest", "hexversion", "version", "nthreads")
        diff = ["%s live %r core %r" % (k, live.get(k), cored.get(k))
                for k in keys if live.get(k) != cored.get(k)]
        if diff:
            fail("%s: the live capture and a core of the same process differ: %s"
                 % (label, "; ".join(diff)))
        else:
            ok("%s: live capture and core agree on all %d objects and %d references"
               % (label, live["objects"], live["edges"]))
    finally:
        target.kill()
        shutil.rmtree(cdir, ignore_errors=True)


def default_signals():
    """The probe must die of SIGINT and SIGTERM even if we ignore them."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def start_probe_when_stopped(probe, pid, timeout=20.0):
    """Starts live_probe on pid and returns it once pid is in a ptrace stop,
    or (probe, False) if the capture ended before that was seen."""
    p = subprocess.Popen([probe, "--no-heap", str(pid)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, preexec_fn=default_signals)
    deadline = time.monotonic() + timeout
    path = "/proc/%d/stat" % pid
    while p.poll() is None and time.monotonic() < deadline:
        try:
            with open(path) as f:
                stat = f.read()
        except OSError:
            break
        if stat[stat.rindex(")") + 2] == "t":
            return p, True
    return p, False


def check_robustness(probe, tool, interp, workdir):
    label = "robustness (%s)" % interp.label

    # A pid that does not exist.
    pid = 4194303
    while os.path.exists("/proc/%d" % pid) and pid > 1000:
        pid -= 1
    rc, d, err = run_probe(probe, [pid])
    if rc == 1 and "no process with pid %d" % pid in d.get("error", ""):
        ok("missing pid: %s" % d["error"])
    else:
        fail("missing pid %d: status %d, %r" % (pid, rc, d))

    # Not Python.
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        time.sleep(0.1)
        rc, d, err = run_probe(probe, [sleeper.pid])
        if rc == 1 and "no CPython runtime found" in d.get("error", ""):
            ok("not Python: %s" % d["error"])
        else:
            fail("not Python: status %d, %r" % (rc, d))
        if not wait_running(sleeper.pid):
            fail("not Python: sleep was left stopped")
    finally:
        sleeper.kill()
        sleeper.wait()

    # A big heap, so that the capture takes a while.
    target = start_target(interp, 400000, 3, workdir)
    try:
        rc, d, err = run_probe(probe, ["--no-heap", target.pid])
        if rc == 0:
            print("info: %s: a %s-object process: pause %.2f ms, whole capture %.1f ms"
                  % (label, "~1.2M", d["pause_ns"] / 1e6, d["open_ns"] / 1e6), flush=True)

        # SIGKILL to the tool while the target is stopped.
        hits = 0
        for attempt in range(6):
            p, stopped = start_probe_when_stopped(probe, target.pid)
            if stopped:
                p.kill()
                hits += 1
            p.communicate(timeout=60)
            if not wait_running(target.pid):
                state, tracer = proc_state(target.pid)
                fail("SIGKILL to live_probe (attempt %d): the target is left %s, tracer %s"
                     % (attempt, state, tracer))
                break
        else:
            if hits:
                ok("SIGKILL to live_probe while the target was stopped (%d times): "
                   "it always ran on" % hits)
            else:
                fail("SIGKILL to live_probe: never caught the target stopped")

        # SIGTERM and SIGINT: the probe resumes the target, then dies.
        for sig in (signal.SIGTERM, signal.SIGINT):
            p, stopped = start_probe_when_stopped(probe, target.pid)
            if stopped:
                p.send_signal(sig)
            p.communicate(timeout=60)
            running = wait_running(target.pid)
            if not stopped:
                fail("%s: never caught the target stopped" % sig.name)
            elif not running:
                fail("%s to live_probe: the target is left stopped" % sig.name)
            elif p.returncode != -sig:
                fail("%s to live_probe: it exited with %s, not by the signal"
                     % (sig.name, p.returncode))
            else:
                ok("%s to live_probe while the target was stopped: the target ran "
                   "on, the probe then died of the signal" % sig.name)

        # Another tracer.
        tracer = subprocess.Popen([sys.executable, "-c", TRACER, str(target.pid)],
                                  stdout=subprocess.PIPE)
        try:
            line = tracer.stdout.readline().split()
            if line and line[0] == b"0":
                rc, d, err = run_probe(probe, ["--no-heap", target.pid])
                e = d.get("error", "")
                if rc == 1 and "another tracer is attached (pid %d" % tracer.pid in e:
                    ok("another tracer: %s" % e)
                else:
                    fail("another tracer: status %d, %r" % (rc, d))
            else:
                print("skip: another tracer: the helper could not attach (%r)" % line,
                      flush=True)
        finally:
            tracer.kill()
            tracer.wait()
        if not wait_running(target.pid):
            fail("the target stays traced after the other tracer died")

        # Another user.
        if os.geteuid() == 0:
            def drop():
                os.setgroups([])
                os.setresgid(65534, 65534, 65534)
                os.setresuid(65534, 65534, 65534)
            rc, d, err = run_probe(probe, ["--no-heap", target.pid], preexec_fn=drop)
            e = d.get("error", "")
            if rc == 1 and "operation not permitted" in e and "run as" in e:
                ok("another user: %s" % e)
            else:
                fail("another user: status %d, %r" % (rc, d))

        # The CLI, once it has --pid.
        if tool:
            p = subprocess.run([tool, "summary", "--pid", str(target.pid)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=120)
            err = p.stderr.decode(errors="replace")
            if p.returncode == 0:
                ok("pyheapsnap summary --pid works")
            elif "--pid" in err or "unknown option" in err or "no input" in err:
                print("skip: pyheapsnap summary --pid: not in the tool yet (%s)"
                      % err.strip().splitlines()[-1:], flush=True)
            else:
                fail("pyheapsnap summary --pid: status %d: %s" % (p.returncode, err.strip()))
            if not wait_running(target.pid):
                fail("pyheapsnap summary --pid left the target stopped")

        target.finish(label + ", after all of the above", ok, fail)
    finally:
        target.kill()

    # The target exits during the capture.
    target = start_target(interp, 400000, 1, workdir)
    try:
        p, stopped = start_probe_when_stopped(probe, target.pid)
        if stopped:
            target.p.kill()
        out, err = p.communicate(timeout=60)
        msg = out.decode(errors="replace")
        if not stopped:
            fail("exit during capture: never caught the target stopped")
        elif p.returncode == 1 and "process %d exited during capture" % target.pid in msg:
            ok("exit during capture: %s" % json.loads(msg)["error"])
        else:
            fail("exit during capture: status %s, %r" % (p.returncode, msg))
    finally:
        target.kill()

    # Unprivileged, one's own process.
    if os.geteuid() == 0 and os.access("/usr/bin/python3.11", os.X_OK):
        udir = tempfile.mkdtemp(dir=workdir, prefix="nobody-")
        os.chmod(udir, 0o777)
        os.chmod(workdir, 0o755)

        def drop():
            os.setgroups([])
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
        prog = os.path.join(udir, "p.py")
        with open(prog, "w") as f:
            f.write(PROGRAM)
        t = subprocess.Popen(["/usr/bin/python3.11", "-I", prog, "1000", "1"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, cwd=udir, env=clean_env(),
                             preexec_fn=drop)
        try:
            first = t.stdout.readline()
            if first:
                pid = json.loads(first)["pid"]
                rc, d, err = run_probe(probe, [pid], preexec_fn=drop)
                if rc == 0 and d.get("objects"):
                    ok("as uid 65534, a process of uid 65534: %d objects" % d["objects"])
                elif "operation not permitted" in d.get("error", ""):
                    print("skip: as uid 65534: %s" % d["error"], flush=True)
                else:
                    fail("as uid 65534, a process of uid 65534: status %d, %r" % (rc, d))
            else:
                print("skip: the program cannot run as uid 65534: %s"
                      % t.stderr.read().decode(errors="replace")[-300:], flush=True)
        finally:
            if t.poll() is None:
                t.kill()
            t.communicate()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--probe", required=True)
    ap.add_argument("--tool")
    ap.add_argument("--python", action="append",
                    help="test this interpreter only (repeatable)")
    ap.add_argument("--quick", action="store_true",
                    help="no core comparison, no robustness checks")
    args = ap.parse_args()

    need_ptrace()

    pythons = chosen_interpreters(args.python or [])
    workdir = tempfile.mkdtemp(prefix="pyhs-live-")
    ran = 0
    try:
        first = None
        for interp in pythons:
            label = interp.label
            try:
                target = start_target(interp, 50000, 2, workdir)
            except (RuntimeError, OSError, ValueError) as e:
                fail("%s: %s" % (label, e))
                continue
            try:
                d = check_capture(label, args.probe, target)
                if d is None and "operation not permitted" in "".join(failures[-1:]):
                    print("ptrace is refused here: " + failures[-1])
                if d is not None:
                    ran += 1
                    first = first or interp
                target.finish(label, ok, fail)
            finally:
                target.kill()
            if not args.quick:
                check_core_agrees(label, args.probe, interp, workdir)
        if first and not args.quick:
            check_robustness(args.probe, args.tool, first, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    return verdict(ran)


if __name__ == "__main__":
    run_main(main)
