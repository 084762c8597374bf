"""Helpers the test scripts share: interpreters, environments and cores.

Scripts in tests/*/ import it with their parent directory on sys.path:

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from pyhs_test import clean_env, find_core, unlimited_core
"""

import glob
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import time


def pyenv_root():
    """$(pyenv root), else $PYENV_ROOT, else ~/.pyenv."""
    exe = shutil.which("pyenv")
    if exe:
        try:
            out = subprocess.run([exe, "root"], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, timeout=30)
            root = out.stdout.decode().strip()
            if out.returncode == 0 and root:
                return root
        except (OSError, subprocess.SubprocessError):
            pass
    return os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")


def interpreters():
    """(label, path or None, searched pattern) for each interpreter the
    tests want: the newest pyenv 3.8-3.13, and Debian's python3.11."""
    root = pyenv_root()
    found = []
    for minor in range(8, 14):
        version = "3.%d" % minor
        pattern = os.path.join(root, "versions", version + ".*", "bin",
                               "python" + version)
        best, best_patch = None, -1
        for p in glob.glob(pattern):
            m = re.search(re.escape("/versions/" + version + ".") + r"(\d+)/", p)
            if m and os.access(p, os.X_OK) and int(m.group(1)) > best_patch:
                best, best_patch = p, int(m.group(1))
        found.append(("pyenv " + version, best, pattern))
    p = "/usr/bin/python3.11"
    found.append(("debian 3.11", p if os.access(p, os.X_OK) else None, p))
    return found


def read_proc(path, default=""):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def unlimited_core():
    """preexec_fn: let the child dump a core of any size."""
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
    if hard != resource.RLIM_INFINITY:
        try:
            resource.setrlimit(resource.RLIMIT_CORE,
                               (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        except (ValueError, OSError):
            pass


def clean_env():
    """The environment without what changes how CPython lays out or checks
    its heap (PYTHON*: debug allocator, dev mode, tracemalloc; interpreters
    run with -I ignore them anyway) and glibc's malloc debugging (meson test
    sets MALLOC_PERTURB_): the heap programs run as plainly as possible."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("PYTHON") and k not in ("MALLOC_PERTURB_", "MALLOC_CHECK_")}


def core_candidates(pattern, workdir, pid, exe):
    """Paths where the kernel may have written the core of pid, from
    /proc/sys/kernel/core_pattern (see core(5)), then the usual names."""
    comm = os.path.basename(exe)[:15]
    known = {
        "%": "%", "p": str(pid), "P": str(pid), "i": str(pid), "I": str(pid),
        "u": str(os.getuid()), "g": str(os.getgid()), "s": str(signal.SIGABRT),
        "e": comm, "h": socket.gethostname(),
    }
    out = []
    expanded = ""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "%" and i + 1 < len(pattern):
            expanded += known.get(pattern[i + 1], "*")
            i += 2
        else:
            expanded += c
            i += 1
    if "%p" not in pattern and read_proc("/proc/sys/kernel/core_uses_pid") == "1":
        expanded += "." + str(pid)
    if not os.path.isabs(expanded):
        expanded = os.path.join(workdir, expanded)
    out.extend(sorted(glob.glob(expanded)))
    for name in ("core", "core.%d" % pid):
        path = os.path.join(workdir, name)
        if os.path.isfile(path) and path not in out:
            out.append(path)
    return out


def find_core(workdir, pid):
    """The core the kernel wrote for pid in workdir (core.PID, core, else
    the first core* file), or None."""
    for name in ("core.%d" % pid, "core"):
        path = os.path.join(workdir, name)
        if os.path.isfile(path):
            return path
    found = sorted(p for p in glob.glob(os.path.join(workdir, "core*"))
                   if os.path.isfile(p))
    return found[0] if found else None


class NoCore(Exception):
    """Why a program left no core to test with (the test skips)."""


def run_to_core(argv, workdir, env, timeout):
    """Runs argv, a program that calls os.abort(), in workdir with env and
    returns the path of the core the kernel wrote; raises NoCore saying why
    there is none."""
    proc = subprocess.Popen(argv, cwd=workdir, env=env, preexec_fn=unlimited_core,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise NoCore("%s did not abort within %d s" % (argv[0], timeout))
    if proc.returncode != -signal.SIGABRT:
        raise NoCore("%s exited with status %d instead of aborting: %s"
                     % (argv[0], proc.returncode,
                        err.decode(errors="replace").strip()[:300]))
    core = find_core(workdir, proc.pid)
    if not core:
        raise NoCore("%s aborted but wrote no core in %s (kernel.core_pattern is %r)"
                     % (argv[0], workdir, read_proc("/proc/sys/kernel/core_pattern", "?")))
    return core


def proc_state(pid):
    """(state letter of /proc/PID/stat, TracerPid) or (None, None) if pid is
    gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
        with open("/proc/%d/status" % pid) as f:
            status = f.read()
    except OSError:
        return None, None
    state = stat[stat.rindex(")") + 2]
    m = re.search(r"^TracerPid:\s*(\d+)", status, re.M)
    return state, int(m.group(1)) if m else 0


def wait_running(pid, timeout=2.0):
    """True once pid is neither stopped nor traced (it may sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        state, tracer = proc_state(pid)
        if state is None:
            return False
        if state not in "tT" and tracer == 0:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


# Checks' results, for scripts that report "ok:" and "FAIL:" lines and
# exit with verdict().
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, flush=True)


def ok(msg):
    print("ok: " + msg, flush=True)


def verdict(ran):
    """The exit status once the checks are done: 1 if any failed, 77 (a
    skip) if nothing could be tested (ran is false), else 0."""
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    if not ran:
        print("skip: no interpreter could be tested")
        return 77
    print("all passed")
    return 0


def ptrace_refusal():
    """Why this machine refuses ptrace outright, or None."""
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope") as f:
            scope = int(f.read())
    except (OSError, ValueError):
        scope = 0
    if scope == 3:
        return "kernel.yama.ptrace_scope is 3: ptrace is disabled"
    return None
