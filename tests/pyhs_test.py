"""Helpers the test scripts share: interpreters, environments and cores.

Scripts in tests/*/ import it with their parent directory on sys.path:

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from pyhs_test import clean_env, find_core, unlimited_core
"""

import argparse
import glob
import os
import sys
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import atexit


def private_cache():
    """Gives this test run a cache of heaps read from cores of its own
    (pyheapsnap's $PYHEAPSNAP_CACHE_DIR), removed at exit: the verbs of one
    test answer from the entries that test's runs left, never another's."""
    d = tempfile.mkdtemp(prefix="pyheapsnap-cache-")
    os.environ["PYHEAPSNAP_CACHE_DIR"] = d
    atexit.register(shutil.rmtree, d, True)


private_cache()


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


class Interpreter:
    """One interpreter the tests run: what to exec and with what.

    label      name in messages ("pyenv 3.12", "sid 3.15d")
    version    "3.X"
    path       the interpreter's executable, or None when it cannot be had
    missing    why not (a test skips with it)
    prefix     argv before the script's own arguments (the ld.so launcher
               and its --library-path for sid's, else just path)
    env        variables to add to the environment (PYTHONHOME for sid's)
    debug_dir  where its separate debug files are, when not /usr/lib/debug
    tool_args  arguments pyheapsnap needs to read its cores (--debug-dir)
    debug      a Py_DEBUG build (python3.Xd)
    """

    def __init__(self, label, version, path, missing=None, prefix=None, env=None,
                 debug_dir=None, debug=False):
        self.label = label
        self.version = version
        self.path = path
        self.missing = missing if path is None else None
        self.prefix = list(prefix) if prefix else ([path] if path else [])
        self.env = dict(env or {})
        self.debug_dir = debug_dir
        self.tool_args = ["--debug-dir", debug_dir] if debug_dir else []
        self.debug = debug

    def argv(self, *args):
        """The command that runs this interpreter with args."""
        return self.prefix + list(args)

    def environ(self, base=None):
        """base (default: clean_env()) with what this interpreter needs."""
        env = dict(clean_env() if base is None else base)
        env.update(self.env)
        return env

    def __repr__(self):
        return "Interpreter(%r, %r)" % (self.label, self.path)


def pyenv_interpreter(version):
    """The newest pyenv patch release of version (3.X)."""
    pattern = os.path.join(pyenv_root(), "versions", version + ".*", "bin",
                           "python" + version)
    best, best_patch = None, -1
    for p in glob.glob(pattern):
        m = re.search(re.escape("/versions/" + version + ".") + r"(\d+)/", p)
        if m and os.access(p, os.X_OK) and int(m.group(1)) > best_patch:
            best, best_patch = p, int(m.group(1))
    return Interpreter("pyenv " + version, version, best,
                       missing="%s not installed" % pattern)


def sid_interpreter(version, debug=False, fetch=True):
    """python<version>[d] from Debian unstable, unpacked into the test cache
    (tests/debian_sid.py), fetched first when fetch is true and the cache
    lacks it."""
    import debian_sid
    exe = "python" + version + ("d" if debug else "")
    label = "sid " + version + ("d" if debug else "")
    try:
        if fetch:
            root = debian_sid.ensure(version)
        else:
            root = os.path.join(debian_sid.cache_dir(), "root")
            if not os.path.exists(debian_sid.stamp_path(root, version)):
                raise debian_sid.Unavailable("not in the cache %s (run tests/debian_sid.py fetch)"
                                             % debian_sid.cache_dir())
    except (debian_sid.Unavailable, OSError, subprocess.SubprocessError) as e:
        return Interpreter(label, version, None, missing="%s from Debian sid cannot be had: %s"
                           % (exe, e), debug=debug)
    prefix, env = debian_sid.command(root, exe)
    return Interpreter(label, version, prefix[-1], prefix=prefix, env=env,
                       debug_dir=os.path.join(root, "usr", "lib", "debug"),
                       debug=debug)


def interpreter(spec, fetch=True):
    """The Interpreter a test's --python names: sid:3.X or sid:3.Xd
    (Debian unstable's, see sid_interpreter), pyenv:3.X, or a path."""
    m = re.match(r"^sid:(3\.\d+)(d?)$", spec)
    if m:
        return sid_interpreter(m.group(1), debug=bool(m.group(2)), fetch=fetch)
    m = re.match(r"^pyenv:(3\.\d+)$", spec)
    if m:
        return pyenv_interpreter(m.group(1))
    path = os.path.abspath(spec) if os.sep in spec else (shutil.which(spec) or spec)
    ok = os.access(path, os.X_OK) and os.path.isfile(path)
    m = re.search(r"python(3\.\d+)", os.path.basename(path))
    return Interpreter(os.path.basename(path), m.group(1) if m else "", path if ok else None,
                       missing="%s not installed" % path,
                       debug=os.path.basename(path).endswith("d"))


def python_arg(args):
    """For a script's --python SPEC (see interpreter()): sets args.interp to
    its Interpreter, args.python to its path (SPEC when it cannot be had)
    and args.label, if unset, to its label."""
    args.interp = interpreter(args.python)
    args.python = args.interp.path or args.python
    if not getattr(args, "label", None):
        args.label = args.interp.label
    return args.interp


# The --python specs every suite runs on (the meson test lists name the same).
SPECS = ["pyenv:3.%d" % m for m in range(8, 14)] + ["/usr/bin/python3.11"] + \
    ["sid:%s%s" % (v, d) for v in ("3.14", "3.15") for d in ("", "d")]


def interpreters(fetch=True):
    """An Interpreter for each the tests want: the newest pyenv 3.8-3.13,
    Debian's python3.11, and sid's 3.14, 3.14d, 3.15 and 3.15d.  Those that
    cannot be had have path None and say why in missing."""
    found = [interpreter(spec, fetch=fetch) for spec in SPECS]
    for i in found:
        if i.label == "python3.11":
            i.label = "debian 3.11"
    return found


def build_id(path):
    """The GNU build-id of the ELF file at path, in hex (readelf), or None."""
    try:
        out = subprocess.run(["readelf", "-nW", path], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, timeout=60).stdout.decode()
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        if "Build ID:" in line:
            return line.split("Build ID:")[1].strip()
    return None


def debug_file(path):
    """(build-id, its separate debug file under /usr/lib/debug/.build-id)
    of the ELF file at path; the file is None when not installed."""
    bid = build_id(path)
    if not bid:
        return None, None
    found = "/usr/lib/debug/.build-id/%s/%s.debug" % (bid[:2], bid[2:])
    return bid, found if os.path.isfile(found) else None


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


class Tally:
    """Checks' results, printed as they come ("ok: ...", "FAIL: ...") and
    closed by "N passed, N failed"."""

    def __init__(self):
        self.passes, self.failures = [], []

    def ok(self, msg):
        self.passes.append(msg)
        print("ok: " + msg, flush=True)

    def fail(self, msg):
        self.failures.append(msg)
        print("FAIL: " + msg, flush=True)

    def close(self):
        """Prints the closing line; the exit status (0, or 1 if any failed)."""
        print("%d passed, %d failed" % (len(self.passes), len(self.failures)))
        return 1 if self.failures else 0


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


def core_with_debug_file(python, program, workdir, timeout=60):
    """A core of `python -I -c program` run in workdir, for the tests of a
    stripped interpreter and its separate debug file: (core, build-id,
    debug file); raises NoCore saying why there is none (the interpreter
    or its debug file not installed, no core written)."""
    if not os.access(python, os.X_OK):
        raise NoCore("%s is not installed" % python)
    bid, dbg = debug_file(python)
    if not dbg:
        raise NoCore("the debug file of %s (build-id %s) is not installed under /usr/lib/debug"
                     % (python, bid))
    return run_to_core([python, "-I", "-c", program], workdir, clean_env(), timeout), bid, dbg


def parse_runner_args(description, add_arguments=None):
    """The command line of a test runner: --tool, --python, --label and
    --tool-args ARG ... (everything after it, for the tool); add_arguments
    (parser) adds the runner's own. --tool is made absolute; --label
    defaults to the interpreter's file name."""
    argv = sys.argv[1:]
    tool_args = []
    if "--tool-args" in argv:
        i = argv.index("--tool-args")
        argv, tool_args = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--tool", required=True, help="the pyheapsnap executable")
    p.add_argument("--python", required=True, help="the interpreter to test")
    p.add_argument("--label", help="name of this test")
    if add_arguments:
        add_arguments(p)
    args = p.parse_args(argv)
    args.tool = os.path.abspath(args.tool)
    spec = args.python
    python_arg(args)
    args.tool_args = args.interp.tool_args + tool_args
    args.label = args.label or os.path.basename(spec)
    return args


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
