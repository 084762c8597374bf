"""The test harness every Python test uses: interpreters, environments,
cores, live targets, command lines and skips.

Scripts in tests/*/ import it with their parent directory on sys.path:

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from pyhs_test import parse_runner_args, core_of, run_main

A runner's shape (see parse_runner_args, test_workdir, core_of, run_main):

    def main():
        args = parse_runner_args(__doc__.splitlines()[0])  # skips if --python is missing
        with test_workdir(args, "name") as workdir:
            core = core_of(args.interp, ["program.py", ...], workdir)
            ...
    run_main(main)          # Skip / NoCore: exit 77 with why; ProgramFailed: exit 1

Run as a program, `pyhs_test.py --list` prints the interpreters every suite
runs on, one "NAME LABEL SPEC" a line (tests/meson.build makes the tests
from it): NAME as test names have it (3.8, debian-3.11, 3.14d), LABEL as
the tasks and memory tests have it (pyenv-3.8, debian-3.11, sid-3.14d) and
SPEC for --python (see interpreter()).
"""

import argparse
import contextlib
import glob
import json
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
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

    def need(self):
        """self, or Skip saying why this interpreter cannot be had."""
        if not self.path:
            raise Skip("%s: %s" % (self.label, self.missing))
        return self

    def environ(self, base=None):
        """base (default: clean_env()) with what this interpreter needs."""
        env = dict(clean_env() if base is None else base)
        env.update(self.env)
        return env

    def bare_environ(self):
        """A bare environment, for heaps that must hold nothing of the one
        the test runs in (a committed snapshot): PATH, LANG and what this
        interpreter needs."""
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
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


# The --python specs every suite runs on (tests/meson.build lists them with
# `pyhs_test.py --list`).
PREFERRED_PYTHON = "/usr/bin/python3.11"
SPECS = ["pyenv:3.%d" % m for m in range(8, 14)] + ["/usr/bin/python3.11"] + \
    ["sid:%s%s" % (v, d) for v in ("3.14", "3.15") for d in ("", "d")]


def interpreters(fetch=True):
    """An Interpreter for each the tests want: the newest pyenv 3.8-3.13,
    Debian's python3.11, and sid's 3.14, 3.14d, 3.15 and 3.15d.  Those that
    cannot be had have path None and say why in missing.  Each also has
    spec (its SPECS entry) and name (as test names have it: 3.8,
    debian-3.11, 3.14d)."""
    found = [interpreter(spec, fetch=fetch) for spec in SPECS]
    for spec, i in zip(SPECS, found):
        if i.label == "python3.11":
            i.label = "debian 3.11"
        i.spec = spec
        i.name = i.label.split(" ", 1)[1] if not i.label.startswith("debian ") \
            else label_name(i.label)
    return found


def label_name(label):
    """A label as test names spell it: "pyenv 3.11" -> "pyenv-3.11"."""
    return label.replace(" ", "-")


def interpreter_named(name, fetch=True):
    """The Interpreter of interpreters() whose name or label_name(label) is
    name (3.11, pyenv-3.11, debian-3.11, 3.14d, sid-3.14d), or None."""
    for spec, i in zip(SPECS, interpreters(fetch=False)):
        if name in (i.name, label_name(i.label)):
            if fetch and not i.path:
                found = interpreter(spec, fetch=True)
                found.label, found.spec, found.name = i.label, i.spec, i.name
                return found
            return i
    return None


def default_interpreter():
    """The interpreter tests that need just one make their cores with:
    Debian's python3.11 (its debug file is installed), else python3."""
    return interpreter(PREFERRED_PYTHON if os.access(PREFERRED_PYTHON, os.X_OK)
                       else (shutil.which("python3") or "python3"))


def chosen_interpreters(specs):
    """The installed interpreters of specs (--python SPEC ...), or of
    interpreters() when specs is empty, saying "skip: ..." for each that
    cannot be had; Skip if none can."""
    found = [interpreter(s) for s in specs] if specs else interpreters()
    for i in found:
        if not i.path:
            print("skip: %s: %s" % (i.label, i.missing), flush=True)
    present = [i for i in found if i.path]
    if not present:
        raise Skip("no interpreter installed")
    return present


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


EXIT_SKIP = 77  # meson's "skipped"


class Skip(Exception):
    """Why a test cannot run here: run_main() exits 77 saying so."""


class NoCore(Skip):
    """Why a program left no core to test with (the test skips): it exited
    77 (what it needs is not there) or the kernel wrote none."""


class ProgramFailed(Exception):
    """A program that was to abort hung or exited: a failure, not a skip
    (run_main() exits 1 saying so)."""


def skip(why):
    """Ends the test as skipped (exit 77), saying why."""
    print("skipped: %s" % why, flush=True)
    sys.exit(EXIT_SKIP)


def run_main(main, *args):
    """sys.exit(main(*args)): a Skip or NoCore that reaches here is exit 77
    with its message, a ProgramFailed exit 1."""
    try:
        status = main(*args)
    except ProgramFailed as e:
        print("FAIL: %s" % e, flush=True)
        status = 1
    except Skip as e:
        print("skipped: %s" % e, flush=True)
        status = EXIT_SKIP
    sys.exit(status)


def run_to_core(argv, workdir, env, timeout):
    """Runs argv, a program that calls os.abort(), in workdir with env and
    returns the path of the core the kernel wrote. Raises NoCore when the
    program exits 77 (what it needs is missing: its stderr says what) or no
    core appears, ProgramFailed when it hangs or exits otherwise."""
    pattern = read_proc("/proc/sys/kernel/core_pattern", "core")
    if pattern.startswith("|"):
        raise NoCore("core dumps are piped to a program (kernel.core_pattern is %r); "
                     "set it to 'core' (sysctl -w kernel.core_pattern=core)" % pattern)
    proc = subprocess.Popen(argv, cwd=workdir, env=env, preexec_fn=unlimited_core,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise ProgramFailed("%s did not abort within %d s: %s"
                            % (" ".join(argv), timeout, tail(err)))
    if proc.returncode == EXIT_SKIP:
        raise NoCore(tail(err) or "%s exited 77 (cannot run here)" % " ".join(argv))
    if proc.returncode != -signal.SIGABRT:
        raise ProgramFailed("%s exited with status %d instead of aborting: %s"
                            % (" ".join(argv), proc.returncode, tail(err)))
    cores = core_candidates(pattern, workdir, proc.pid, argv[0])
    core = cores[0] if cores else find_core(workdir, proc.pid)
    if not core:
        raise NoCore("%s aborted but wrote no core in %s (kernel.core_pattern is %r; "
                     "RLIMIT_CORE's hard limit?)" % (argv[0], workdir, pattern))
    return core


def tool_output(tool, *argv, timeout=120):
    """The standard output of `TOOL ARGV...` as text; RuntimeError naming
    the command, its exit status and its stderr if it does not exit 0."""
    p = subprocess.run([tool] + list(argv), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (" ".join(argv), p.returncode,
                                                 p.stderr.decode(errors="replace")))
    return p.stdout.decode()


def tail(data, limit=1500):
    """The end of a program's output, decoded, for a message."""
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def core_of(interp, args, workdir, timeout=120, env=None, subdir=None):
    """The core of interp running `-I args` (a program that aborts) in
    workdir, or in its new subdirectory subdir; env defaults to
    interp.environ(). Raises NoCore or ProgramFailed (see run_to_core),
    Skip when interp cannot be had."""
    interp.need()
    if subdir:
        workdir = os.path.join(workdir, subdir)
    os.makedirs(workdir, exist_ok=True)
    return run_to_core(interp.argv("-I", *args), workdir,
                       interp.environ() if env is None else env, timeout)


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


def parse_runner_args(description, add_arguments=None, need_python=True,
                      default_python=None, argv=None):
    """The command line of a test runner, the one opening they all share:
    --tool (made absolute; not an executable is a failure, exit 1),
    --python SPEC (see interpreter()), --label (default: the --python
    argument's file name), --keep DIR (work there and keep it, see
    test_workdir) and --tool-args ARG ... (everything after it, or
    --tool-args="ARGS" split as a shell would, for the tool); add_arguments
    (parser) adds the runner's own.

    --python may be left out when --label names one of interpreters() (its
    name or label, e.g. 3.11, pyenv-3.11) or default_python (an Interpreter,
    or a spec looked up only then) is given. With need_python, or --python given, an interpreter that cannot
    be had ends the test as skipped (exit 77, saying why).

    Sets args.interp (the Interpreter), args.python (its path, else the
    spec), args.label, args.env (args.interp.environ()), args.tool_args
    (what the interpreter's cores need, then those given),
    args.given_tool_args (those given alone) and args.python_given (whether
    --python was)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    tool_args, rest = [], []
    for i, a in enumerate(argv):
        if a == "--tool-args":
            tool_args.extend(argv[i + 1:])
            break
        if a.startswith("--tool-args="):
            tool_args.extend(shlex.split(a[len("--tool-args="):]))
        else:
            rest.append(a)
    # A runner's own option of the same name (--keep, say) wins.
    p = argparse.ArgumentParser(
        description=description, conflict_handler="resolve",
        epilog="--tool-args ARG ...: more arguments for pyheapsnap; it takes "
               "everything after it, so put it last.")
    p.add_argument("--tool", required=True, help="the pyheapsnap executable")
    p.add_argument("--python", metavar="SPEC",
                   help="the interpreter to test: a path, pyenv:3.X or sid:3.X[d]")
    p.add_argument("--label", help="name of this test (default: the interpreter's name)")
    p.add_argument("--keep", metavar="DIR", help="work in DIR and keep what is made there")
    if add_arguments:
        add_arguments(p)
    args = p.parse_args(rest)
    args.tool = os.path.abspath(args.tool)
    if not (os.path.isfile(args.tool) and os.access(args.tool, os.X_OK)):
        print("FAIL: %s: no such executable (--tool)" % args.tool, flush=True)
        sys.exit(1)
    given = args.python_given = bool(args.python)
    if given:
        spec = args.python
        args.interp = interpreter(spec)
    elif args.label and interpreter_named(args.label, fetch=False):
        args.interp = interpreter_named(args.label)
        spec = args.interp.name
    elif default_python is not None:
        args.interp = interpreter(default_python) if isinstance(default_python, str) \
            else default_python
        spec = args.interp.path or args.interp.label
    else:
        p.error("--python is required (or --label naming one of: %s)"
                % ", ".join(i.name for i in interpreters(fetch=False)))
    args.python = args.interp.path or spec
    args.label = args.label or os.path.basename(spec)
    if (need_python or given) and not args.interp.path:
        skip("%s: %s" % (args.label, args.interp.missing))
    args.env = args.interp.environ()
    args.given_tool_args = tool_args
    args.tool_args = args.interp.tool_args + tool_args
    return args


@contextlib.contextmanager
def test_workdir(args, what):
    """A directory to work in: --keep DIR (made, stale cores removed, kept),
    else a new temporary one, removed afterwards unless keep is true."""
    keep = getattr(args, "keep", None)
    if isinstance(keep, str):
        workdir = os.path.abspath(keep)
        os.makedirs(workdir, exist_ok=True)
        for stale in glob.glob(os.path.join(workdir, "core*")):
            os.unlink(stale)
        yield workdir
        return
    label = re.sub(r"[^A-Za-z0-9.-]+", "_", getattr(args, "label", None) or "")
    workdir = tempfile.mkdtemp(prefix="pyheapsnap-%s-%s-" % (what, label))
    try:
        yield workdir
    finally:
        if keep:
            print("kept " + workdir, flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def settle(pid, timeout=5.0):
    """Waits until every thread of pid has been asleep for a while, so that
    two captures in a row see the same heap."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 3 and time.monotonic() < deadline:
        states = []
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                    stat = f.read()
                states.append(stat[stat.rindex(")") + 2])
            except OSError:
                pass
        quiet = quiet + 1 if states and all(st == "S" for st in states) else 0
        time.sleep(0.05)


class Target:
    """A live Python program to read: program (its source) is written to
    workdir/name and run with args under interp. It must print one JSON
    line with its "pid" once its heap is built (kept in info), then wait
    for a line on stdin, answer "done" and exit 0. With core, it may dump
    a core of any size."""

    def __init__(self, interp, program, args, workdir, name="target_program.py",
                 core=False):
        self.workdir = workdir
        prog = os.path.join(workdir, name)
        with open(prog, "w") as f:
            f.write(program)
        self.p = subprocess.Popen(interp.argv("-I", prog, *[str(a) for a in args]),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, cwd=workdir,
                                  env=interp.environ(),
                                  preexec_fn=unlimited_core if core else None)
        first = self.p.stdout.readline()
        if not first:
            err = self.p.stderr.read().decode(errors="replace")
            self.p.wait()
            raise RuntimeError("the program did not start: " + err.strip()[-500:])
        self.info = json.loads(first)
        self.pid = self.info["pid"]
        settle(self.pid)

    def finish(self, label, ok, fail, after="the capture"):
        """Lets the program go on; ok() if it says "done" and exits 0,
        else fail()."""
        try:
            out, err = self.p.communicate(b"go\n", timeout=60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            fail("%s: the program did not finish after %s" % (label, after))
            return
        if self.p.returncode != 0 or out.decode().strip() != "done":
            fail("%s: the program went wrong after %s: status %s, "
                 "stdout %r, stderr %r" % (label, after, self.p.returncode, out[-200:],
                                           err[-500:]))
        else:
            ok("%s: the program ran on after %s and exited 0" % (label, after))

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        try:
            self.p.communicate(timeout=30)
        except (subprocess.TimeoutExpired, ValueError, OSError):
            pass


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


def need_ptrace():
    """Skip when this machine refuses ptrace outright (live processes
    cannot be read here)."""
    why = ptrace_refusal()
    if why:
        raise Skip("live processes cannot be read here: " + why)


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


def main(argv):
    """pyhs_test.py --list: the interpreters, one "NAME LABEL SPEC" a line."""
    if argv != ["--list"]:
        sys.stderr.write("usage: pyhs_test.py --list\n")
        return 2
    for i in interpreters(fetch=False):
        print("%s %s %s" % (i.name, label_name(i.label), i.spec))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
