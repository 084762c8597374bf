#!/usr/bin/env python3
"""What a live capture leaves behind, and what it stops (issue 14).

    test_interrupt.py --tool PATH/TO/pyheapsnap --probe PATH/TO/live_probe
                      [--python PATH ...] [--kills N]

For every interpreter tests/pyhs_test.py's interpreters() gives (missing
ones are reported and skipped):

  * kills: `snapshot --pid` and `gcore --pid` of a 1 M-object program,
    each sent SIGTERM or SIGINT at a random moment of the capture or the
    write (N per interpreter; by default 24 in all, at least 4 each): afterwards the output
    directory holds nothing or the complete output (it reads back), no
    temporary file; the tool exited 0 or 128 + the signal, saying
    "interrupted" in one line; the program is running, traced by no one;
  * the same signals sent while the program is seen stopped (state 't'):
    it runs on, nothing is left, the tool exits 128 + the signal;
  * a temporary file of a killed writer (a dead pid in its name) is removed
    by the next run in the same directory, which says so;
  * under `strace -f -e trace=ptrace`: `summary --pid` of a process that is
    not Python, and `snapshot --pid P -o /missing/dir/x`, fail without any
    PTRACE_SEIZE;
  * a zombie leader (the main thread called pthread_exit) whose thread
    runs is read: the objects it made are found, of the right type;
  * live_probe --no-stop of a quiescent program agrees with a stopped
    capture of it (the same digest of every object) and says the view is
    not consistent.

Exit status: 0 if all passed, 1 if any failed, 77 if no interpreter could
be tested or ptrace is refused here.
"""

import argparse
import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pyhs_test import (chosen_interpreters, fail, ok, proc_state, need_ptrace,  # noqa: E402
                       run_main, verdict, wait_running)


# A quiescent program: its heap, then it blocks reading stdin.
BIG = r'''
import gc, os, sys
gc.disable()
class Marker:
    pass
keep = [Marker() for _ in range(int(sys.argv[1]))]
more = [str(i) for i in range(int(sys.argv[1]) // 2)]
sys.stdout.write("%d %d\n" % (os.getpid(), id(keep[0])))
sys.stdout.flush()
sys.stdin.readline()
'''

# The main thread exits with pthread_exit; another thread runs on.
ZOMBIE = r'''
import ctypes, os, sys, threading, time
class Marker:
    pass
keep = [Marker() for _ in range(1000)]
def worker():
    while True:
        time.sleep(0.05)
threading.Thread(target=worker).start()
sys.stdout.write("%d %d\n" % (os.getpid(), id(keep[0])))
sys.stdout.flush()
ctypes.CDLL(None).pthread_exit(None)
'''

class Program:
    def __init__(self, interp, source, args, workdir):
        self.p = subprocess.Popen(interp.argv("-I", "-c", source, *[str(a) for a in args]),
                                  cwd=workdir, env=interp.environ(), stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.p.stdout.readline().split()
        if len(line) != 2:
            self.kill()
            raise RuntimeError("the program did not start: %s"
                               % self.p.stderr.read().decode(errors="replace")[-300:])
        self.pid, self.addr = int(line[0]), int(line[1])

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.communicate()


def default_signals():
    """preexec_fn: the tool gets SIGINT, SIGTERM and SIGHUP at their
    defaults even where this script runs with them ignored (as a background
    job of a shell does)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)


def run(argv, timeout=180, **kw):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, **kw)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def reads_back(tool, path):
    rc, out, err = run([tool, "summary", "--json", path])
    return rc == 0


def check_kills(label, tool, target, workdir, kills, rng):
    # How long an uninterrupted capture of each kind takes, to aim within.
    durations = {}
    for verb in ("snapshot", "gcore"):
        out = os.path.join(workdir, "whole." + verb)
        t0 = time.monotonic()
        rc, _, err = run([tool, verb, "--pid", str(target.pid), "-o", out])
        durations[verb] = time.monotonic() - t0
        if rc != 0:
            fail("%s: %s --pid: status %d: %s" % (label, verb, rc, err.strip()))
            return
        os.unlink(out)
    outcomes = {"interrupted": 0, "finished": 0, "before": 0}
    for k in range(kills):
        verb = ("snapshot", "gcore")[k % 2]
        sig = (signal.SIGTERM, signal.SIGINT)[(k // 2) % 2]
        d = tempfile.mkdtemp(prefix="kill-", dir=workdir)
        out = os.path.join(d, "out." + verb)
        delay = rng.uniform(0.0, durations[verb])
        p = subprocess.Popen([tool, verb, "--pid", str(target.pid), "-o", out],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=default_signals)
        time.sleep(delay)
        p.send_signal(sig)
        _, err = p.communicate(timeout=120)
        err = err.decode(errors="replace").strip()
        what = "%s: %s %s after %.3f s" % (label, sig.name, verb, delay)
        left = sorted(os.listdir(d))
        if not wait_running(target.pid):
            state, tracer = proc_state(target.pid)
            fail("%s: the program is left %s, tracer %s" % (what, state, tracer))
            return
        if p.returncode == -sig and not left:
            # Killed while it started, before main() (the sanitizers'
            # start-up): nothing was made yet.
            outcomes["before"] += 1
        elif p.returncode not in (0, 128 + sig):
            fail("%s: status %d (%s)" % (what, p.returncode, err))
        elif left not in ([], ["out." + verb]):
            fail("%s: left %s in the directory" % (what, left))
        elif left and not reads_back(tool, out):
            fail("%s: left an output that does not read back" % what)
        elif p.returncode == 128 + sig and err and err not in (
                "pyheapsnap: interrupted: nothing written", "pyheapsnap: interrupted"):
            fail("%s: said %r" % (what, err))
        elif p.returncode == 128 + sig and left and "nothing written" in err:
            fail("%s: said nothing was written, but wrote %s" % (what, out))
        elif p.returncode == 128 + sig and not left and err != \
                "pyheapsnap: interrupted: nothing written" and delay > 0.05:
            fail("%s: wrote nothing but said %r" % (what, err))
        else:
            outcomes["finished" if left else "interrupted"] += 1
        shutil.rmtree(d, ignore_errors=True)
    ok("%s: %d captures killed with SIGTERM or SIGINT at random moments (%d "
       "interrupted, %d finished first, %d killed as the tool started; a whole "
       "capture takes %.2f s for snapshot, %.2f s for gcore): no temporary file "
       "left, the program always ran on"
       % (label, kills, outcomes["interrupted"], outcomes["finished"],
          outcomes["before"], durations["snapshot"], durations["gcore"]))


def check_kill_in_stop(label, tool, target, workdir):
    """SIGTERM or SIGINT while the program is seen stopped (its state 't'):
    the tool resumes it, removes its temporary file and exits 128 + the
    signal, saying so."""
    caught = 0
    for verb, sig in (("snapshot", signal.SIGTERM), ("gcore", signal.SIGINT),
                      ("snapshot", signal.SIGINT), ("gcore", signal.SIGTERM)):
        d = tempfile.mkdtemp(prefix="stop-", dir=workdir)
        p = subprocess.Popen([tool, verb, "--pid", str(target.pid), "-o",
                              os.path.join(d, "out")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=default_signals)
        seen = False
        deadline = time.monotonic() + 60
        while p.poll() is None and time.monotonic() < deadline:
            if proc_state(target.pid)[0] == "t":
                p.send_signal(sig)
                seen = True
                break
        _, err = p.communicate(timeout=120)
        err = err.decode(errors="replace").strip()
        left = os.listdir(d)
        shutil.rmtree(d, ignore_errors=True)
        what = "%s: %s to %s while the program was stopped" % (label, sig.name, verb)
        if not wait_running(target.pid):
            fail("%s: the program is left %s" % (what, proc_state(target.pid)))
            return
        if not seen:
            continue
        caught += 1
        if p.returncode != 128 + sig or left or \
                err != "pyheapsnap: interrupted: nothing written":
            fail("%s: status %d, left %s, said %r" % (what, p.returncode, left, err))
            return
    if caught:
        ok("%s: SIGTERM or SIGINT while the program was stopped (%d of 4 caught "
           "in the stop): it ran on, nothing was left, exit 128 + the signal"
           % (label, caught))
    else:
        print("info: %s: the stop was never seen, so no signal was sent in it"
              % label, flush=True)


def check_stale(label, tool, target, workdir):
    d = tempfile.mkdtemp(prefix="stale-", dir=workdir)
    # A pid that does not exist, with a start time that cannot match.
    pid = 4194303
    while os.path.exists("/proc/%d" % pid) and pid > 1000:
        pid -= 1
    stale = os.path.join(d, ".old.phs.pyhs-%d-12345-0badc0de.tmp" % pid)
    mine = os.path.join(d, ".other.pyhs-%d-0-00000000.tmp" % os.getpid())
    with open(stale, "w") as f:
        f.write("left by a writer killed with SIGKILL")
    with open(mine, "w") as f:
        f.write("a live writer's")
    with open("/proc/self/stat") as f:
        start = f.read().rsplit(")", 1)[1].split()[19]
    live = os.path.join(d, ".other.pyhs-%d-%s-00000000.tmp" % (os.getpid(), start))
    os.rename(mine, live)
    out = os.path.join(d, "x.core")
    rc, _, err = run([tool, "gcore", "--pid", str(target.pid), "-o", out])
    left = sorted(os.listdir(d))
    if rc != 0:
        fail("%s: stale temporaries: gcore failed: %s" % (label, err.strip()))
    elif os.path.exists(stale) or not os.path.exists(live):
        fail("%s: stale temporaries: left %s" % (label, left))
    elif "removed 1 temporary file that a killed run left behind" not in err:
        fail("%s: stale temporaries: removed without a word: %r" % (label, err))
    else:
        ok("%s: a dead writer's temporary file is removed by the next run, "
           "which says so; a live writer's stays" % label)
    shutil.rmtree(d, ignore_errors=True)


def seizes(strace, argv, workdir):
    """(status, stderr, [the PTRACE_SEIZE lines]) of argv under strace."""
    log = os.path.join(workdir, "strace.log")
    # LeakSanitizer cannot run under a tracer.
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    rc, _, err = run([strace, "-f", "-qq", "-e", "trace=ptrace", "-o", log] + argv, env=env)
    with open(log) as f:
        lines = [l for l in f if "PTRACE_SEIZE" in l]
    os.unlink(log)
    return rc, err.strip(), lines


def check_no_seize(label, tool, target, workdir):
    strace = shutil.which("strace")
    if not strace:
        fail("%s: strace is not installed (.ci/deps installs it)" % label)
        return
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        time.sleep(0.05)
        rc, err, lines = seizes(strace, [tool, "summary", "--pid", str(sleeper.pid)], workdir)
        if rc == 3 and "no CPython runtime found" in err and not lines:
            ok("%s: summary --pid of sleep: %s, and no PTRACE_SEIZE" % (label, err))
        else:
            fail("%s: summary --pid of sleep: status %d, %r, %d PTRACE_SEIZE"
                 % (label, rc, err, len(lines)))
        # gcore of a process that is not Python still works.
        out = os.path.join(workdir, "sleep.core")
        rc, _, err = run([tool, "gcore", "--pid", str(sleeper.pid), "-o", out])
        if rc == 0 and os.path.getsize(out) > 0:
            ok("%s: gcore --pid of sleep works" % label)
        else:
            fail("%s: gcore --pid of sleep: status %d, %r" % (label, rc, err))
        if os.path.exists(out):
            os.unlink(out)
    finally:
        sleeper.kill()
        sleeper.wait()
    rc, err, lines = seizes(strace, [tool, "snapshot", "--pid", str(target.pid), "-o",
                                     os.path.join(workdir, "missing", "dir", "x")], workdir)
    if rc == 3 and "cannot write snapshot" in err and not lines:
        ok("%s: snapshot --pid -o /missing/dir/x: %s, and no PTRACE_SEIZE" % (label, err))
    else:
        fail("%s: snapshot -o into a missing directory: status %d, %r, %d PTRACE_SEIZE"
             % (label, rc, err, len(lines)))


def probe(probe_exe, args):
    p = subprocess.run([probe_exe] + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=180)
    try:
        return p.returncode, json.loads(p.stdout.decode())
    except ValueError:
        return p.returncode, {"error": p.stderr.decode(errors="replace")}


def check_zombie(label, probe_exe, interp, workdir):
    try:
        z = Program(interp, ZOMBIE, [], workdir)
    except RuntimeError as e:
        fail("%s: zombie leader: %s" % (label, e))
        return
    try:
        deadline = time.monotonic() + 5
        while proc_state(z.pid)[0] != "Z" and time.monotonic() < deadline:
            time.sleep(0.01)
        if proc_state(z.pid)[0] != "Z":
            fail("%s: zombie leader: the main thread did not exit" % label)
            return
        rc, d = probe(probe_exe, [z.pid, z.addr])
        at = (d.get("at") or [{}])[0]
        if rc == 0 and at.get("found") and at.get("type") == "__main__.Marker" and \
                d.get("nthreads", 0) >= 1:
            ok("%s: a zombie leader whose thread runs is read (%d objects, threads %s)"
               % (label, d["objects"], d["tids"]))
        else:
            fail("%s: zombie leader: status %d, %r" % (label, rc, d))
        for tid in os.listdir("/proc/%d/task" % z.pid):
            with open("/proc/%d/task/%s/stat" % (z.pid, tid)) as f:
                stat = f.read()
            if stat[stat.rindex(")") + 2] in "tT":
                fail("%s: zombie leader: thread %s is left stopped" % (label, tid))
    finally:
        z.kill()


def check_no_stop(label, probe_exe, target):
    rc1, stopped = probe(probe_exe, [target.pid])
    rc2, unstopped = probe(probe_exe, ["--no-stop", target.pid])
    if rc1 or rc2:
        fail("%s: --no-stop: status %d / %d: %r %r" % (label, rc1, rc2, stopped.get("error"),
                                                       unstopped.get("error")))
    elif unstopped.get("pause_ns") != 0 or unstopped.get("consistent") is not False:
        fail("%s: --no-stop: pause %r, consistent %r" % (label, unstopped.get("pause_ns"),
                                                        unstopped.get("consistent")))
    elif stopped["digest"] != unstopped["digest"] or stopped["objects"] != unstopped["objects"]:
        fail("%s: --no-stop disagrees with a stopped capture: %d objects %s / %d objects %s"
             % (label, stopped["objects"], stopped["digest"], unstopped["objects"],
                unstopped["digest"]))
    else:
        ok("%s: --no-stop of a quiescent program agrees with a stopped capture "
           "(%d objects, digest %s), with no pause" % (label, stopped["objects"],
                                                       stopped["digest"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--probe", required=True)
    ap.add_argument("--python", action="append")
    ap.add_argument("--kills", type=int, default=0,
                    help="kills per interpreter (default: 24 in all, at least 4 each)")
    ap.add_argument("--objects", type=int, default=700000,
                    help="Marker instances; with half as many strings and "
                         "the interpreter's own, about 1 M objects")
    args = ap.parse_args()
    need_ptrace()
    pythons = chosen_interpreters(args.python or [])
    kills = args.kills or max(4, -(-24 // len(pythons)))
    rng = random.Random(os.getpid())
    workdir = tempfile.mkdtemp(prefix="pyhs-interrupt-")
    ran = 0
    try:
        for interp in pythons:
            label = interp.label
            try:
                target = Program(interp, BIG, [args.objects], workdir)
            except RuntimeError as e:
                fail("%s: %s" % (label, e))
                continue
            try:
                ran += 1
                check_no_seize(label, args.tool, target, workdir)
                check_no_stop(label, args.probe, target)
                check_kills(label, args.tool, target, workdir, kills, rng)
                check_kill_in_stop(label, args.tool, target, workdir)
                check_stale(label, args.tool, target, workdir)
                if not wait_running(target.pid):
                    fail("%s: the program does not run at the end" % label)
            finally:
                target.kill()
            check_zombie(label, args.probe, interp, workdir)
            stray = glob.glob(os.path.join(workdir, "**", ".*.tmp"), recursive=True)
            if stray:
                fail("%s: temporary files left: %s" % (label, stray))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return verdict(ran)


if __name__ == "__main__":
    run_main(main)
