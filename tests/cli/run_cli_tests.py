#!/usr/bin/env python3
"""Command-line tests for pyheapsnap: a table of cases, zstd style.

    run_cli_tests.py --tool PATH/TO/pyheapsnap [--keep DIR] [--verbose] [--python SPEC]

Each case is an argument vector, the exit status it must give and a regular
expression its stderr must match:

  * an input error (exit 3) prints exactly one line, "pyheapsnap: <message>",
    the message not capitalised like a sentence;
  * a usage error (exit 2) prints that line and then exactly one
    "Try 'pyheapsnap [VERB] --help' for more information." line;
  * a success (exit 0) prints nothing on stderr, and its stdout is checked
    (JSON parses, has the expected keys, ...).

Every run must finish within TIMEOUT seconds: a hang or a death by a signal
is a failure.

The inputs are made in a temporary directory: a real core of a tiny Python
program (/usr/bin/python3.11, else the first python3 in PATH, or --python's), the same core
compressed with zstd(1), two truncated copies, an empty file, an ELF
executable, a text file, a core of a non-Python process (/bin/sleep), a
directory and a path that does not exist.  Cases whose input cannot be made
here (no zstd, no core written) are reported as skipped.

Prints one line per case ("ok NAME", "FAIL NAME" with the reason,
"skip NAME: why") and then "N passed, N failed[, N skipped]".  Exit status:
0 if nothing failed, 1 otherwise.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pyhs_test import (ProgramFailed, Skip, core_of, default_interpreter, find_core,  # noqa: E402
                       parse_runner_args, read_proc, run_main, test_workdir, unlimited_core)

TIMEOUT = 10.0  # seconds allowed for each run of the tool
PROGRAM_TIMEOUT = 60.0  # seconds allowed for the Python program to abort

# The program whose core the tests read: as small as a Python program gets.
PROGRAM = """\
import os
MARKER = ["pyheapsnap-marker-%d" % i for i in range(7)]
os.abort()
"""

SUMMARY_JSON_KEYS = ("objects", "bytes", "gc", "types", "warnings", "python")
EXPORT_OBJECT_KEYS = ("addr", "type", "size", "refcnt", "gen", "refs", "edges")

MESSAGE_RE = re.compile(r"^pyheapsnap: (?![A-Z][a-z])\S.*$")
TRY_RE = re.compile(r"^Try 'pyheapsnap( [a-z]+)? --help' for more information\.$")


class CaseFailure(Exception):
    pass


# ---------------------------------------------------------------------------
# Making the inputs
# ---------------------------------------------------------------------------

# The interpreter the Python core is made with (--python, else
# pyhs_test.default_interpreter()); set by main().
INTERP = None


def make_python_core(workdir):
    """Runs PROGRAM in workdir until it aborts; returns the core's path, or
    raises Skip."""
    script = os.path.join(workdir, "program.py")
    with open(script, "w") as f:
        f.write(PROGRAM)
    return core_of(INTERP, [script], workdir, timeout=PROGRAM_TIMEOUT)


def make_sleep_core(workdir):
    """A core of /bin/sleep killed by SIGABRT: an ELF core of a process that
    is not Python."""
    proc = subprocess.Popen(["/bin/sleep", "30"], cwd=workdir,
                            preexec_fn=unlimited_core,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Popen returns once the child has exec'd; let the loader finish.
    time.sleep(0.2)
    proc.send_signal(signal.SIGABRT)
    proc.wait(timeout=PROGRAM_TIMEOUT)
    if proc.returncode != -signal.SIGABRT:
        raise ProgramFailed("/bin/sleep ended with status %d, not by SIGABRT" % proc.returncode)
    core = find_core(workdir, proc.pid)
    if not core:
        raise Skip("/bin/sleep aborted but wrote no core (kernel.core_pattern is %r)"
                   % read_proc("/proc/sys/kernel/core_pattern", "?"))
    return core


def copy_prefix(src, dst, size):
    with open(src, "rb") as f:
        data = f.read(size)
    with open(dst, "wb") as f:
        f.write(data)
    return dst


def make_inputs(tmp):
    """Returns {name: path}; inputs that cannot be made map to Skip."""
    inputs = {}

    def mkdir(name):
        path = os.path.join(tmp, name)
        os.mkdir(path)
        return path

    try:
        core = make_python_core(mkdir("python"))
        inputs["core"] = core
    except Skip as why:
        core = None
        for name in ("core", "core_zst", "truncated_64k", "truncated_half"):
            inputs[name] = why

    if core:
        if shutil.which("zstd"):
            zst = os.path.join(tmp, "core.zst")
            r = subprocess.run(["zstd", "-q", "-f", core, "-o", zst],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            if r.returncode == 0:
                inputs["core_zst"] = zst
            else:
                inputs["core_zst"] = Skip("zstd failed: %s"
                                          % r.stderr.decode(errors="replace").strip())
        else:
            inputs["core_zst"] = Skip("the zstd command is not installed")
        size = os.path.getsize(core)
        inputs["truncated_64k"] = copy_prefix(core, os.path.join(tmp, "truncated-64k"),
                                              64 * 1024)
        inputs["truncated_half"] = copy_prefix(core, os.path.join(tmp, "truncated-half"),
                                               size // 2)

    try:
        inputs["sleep_core"] = make_sleep_core(mkdir("sleep"))
    except Skip as why:
        inputs["sleep_core"] = why

    empty = os.path.join(tmp, "empty")
    open(empty, "wb").close()
    inputs["empty"] = empty
    text = os.path.join(tmp, "notes.txt")
    with open(text, "w") as f:
        f.write("this is a text file, not a core\n" * 100)
    inputs["text"] = text
    inputs["elf_exe"] = "/bin/true" if os.path.isfile("/bin/true") else Skip("no /bin/true")
    inputs["directory"] = mkdir("a-directory")
    inputs["missing"] = os.path.join(tmp, "no-such-core")
    inputs["missing_dir"] = os.path.join(tmp, "no-such-dir")
    inputs["tmp"] = tmp
    inputs["tmpdir_zst"] = mkdir("tmpdir-zst")
    return inputs


# ---------------------------------------------------------------------------
# Checks of standard output
# ---------------------------------------------------------------------------

def check_summary_text(out, run):
    text = out.decode()
    for word in ("objects:", "python:", "garbage collector"):
        if word not in text:
            raise CaseFailure("text summary lacks %r:\n%s" % (word, text[:2000]))


def check_summary_json(out, run):
    try:
        doc = json.loads(out.decode())
    except ValueError as e:
        raise CaseFailure("summary --json is not JSON (%s):\n%s" % (e, out[:2000]))
    if not isinstance(doc, dict):
        raise CaseFailure("summary --json is not an object: %r" % (doc,))
    missing = [k for k in SUMMARY_JSON_KEYS if k not in doc]
    if missing:
        raise CaseFailure("summary --json lacks %s; has %s" % (missing, sorted(doc)))
    if not isinstance(doc["objects"], int) or doc["objects"] <= 0:
        raise CaseFailure("summary --json: objects is %r" % (doc["objects"],))
    if not isinstance(doc["bytes"], int) or doc["bytes"] <= 0:
        raise CaseFailure("summary --json: bytes is %r" % (doc["bytes"],))


def check_export(out, run):
    lines = out.decode().splitlines()
    if not lines:
        raise CaseFailure("export wrote nothing")
    try:
        header = json.loads(lines[0])
    except ValueError as e:
        raise CaseFailure("export header is not JSON (%s): %s" % (e, lines[0][:300]))
    if not isinstance(header, dict) or "format" not in header:
        raise CaseFailure("export header has no \"format\": %s" % lines[0][:300])
    for n, line in enumerate(lines[1:], start=2):
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise CaseFailure("export line %d is not JSON (%s): %s" % (n, e, line[:300]))
        if not isinstance(obj, dict):
            raise CaseFailure("export line %d is not an object: %s" % (n, line[:300]))
        if "root" in obj:
            continue
        missing = [k for k in EXPORT_OBJECT_KEYS if k not in obj]
        if missing:
            raise CaseFailure("export line %d lacks %s: %s" % (n, missing, line[:300]))
        if len(obj["refs"]) != len(obj["edges"]):
            raise CaseFailure("export line %d: %d refs but %d edges"
                              % (n, len(obj["refs"]), len(obj["edges"])))
    if len(lines) < 2:
        raise CaseFailure("export has a header and no objects")
    roots = [json.loads(line) for line in lines[1:] if line.startswith('{"root"')]
    if header.get("objects") != len(lines) - 1 - len(roots):
        raise CaseFailure("export header says %r objects, %d object lines follow"
                          % (header.get("objects"), len(lines) - 1 - len(roots)))
    if header.get("roots") != len(roots) or not roots:
        raise CaseFailure("export header says %r roots, %d root lines follow"
                          % (header.get("roots"), len(roots)))
    for r in roots:
        if set(r) != {"root", "object", "owned"} or not isinstance(r["object"], int):
            raise CaseFailure("export root line is not {root, object, owned}: %r" % (r,))


def check_folded_file(out, path):
    if out:
        raise CaseFailure("export -o also wrote %d bytes to stdout" % len(out))
    with open(path, "rb") as f:
        lines = f.read().decode().split("\n")
    if lines[-1] != "" or not all(re.match(r"^\S.* \d+$", line) for line in lines[:-1]):
        raise CaseFailure("not folded stacks: %r" % lines[:3])


def check_help(word):
    def check(out, run):
        text = out.decode()
        if word not in text:
            raise CaseFailure("help does not mention %r:\n%s" % (word, text))
    return check


def check_version(out, run):
    text = out.decode()
    if not re.match(r"^pyheapsnap \d+\.\d+(\.\d+)?\S*\n$", text):
        raise CaseFailure("--version printed %r" % text)


def check_export_file(template):
    """Checks the export written to template (expanded like an argument)."""
    def check(out, run):
        path = run.expand(template)
        if out:
            raise CaseFailure("export -o also wrote %d bytes to stdout" % len(out))
        with open(path, "rb") as f:
            check_export(f.read(), run)
    return check


def check_nothing_written(template):
    """Neither the file template names nor a temporary file beside it."""
    def check(out, run):
        path = run.expand(template)
        d, base = os.path.split(path)
        left = [f for f in os.listdir(d) if f == base or f.startswith("." + base + ".")]
        if left:
            raise CaseFailure("left behind in %s: %s" % (d, ", ".join(left)))
    return check


def check_nothing_in(template):
    """The directory template names is empty."""
    def check(out, run):
        d = run.expand(template)
        if os.listdir(d):
            raise CaseFailure("left behind in %s: %s" % (d, ", ".join(os.listdir(d))))
    return check


# ---------------------------------------------------------------------------
# The cases
# ---------------------------------------------------------------------------

class Case:
    def __init__(self, name, argv, status, stderr=None, stdout=None, fsize=None, env=None):
        self.name = name
        self.argv = argv
        self.status = status
        self.stderr = stderr  # regex for the message line, None: no stderr
        self.stdout = stdout  # function(stdout bytes, runner) or None
        self.fsize = fsize    # RLIMIT_FSIZE in bytes (ulimit -f), None: as it is
        self.env = env        # variables to set (expanded like arguments)


OK, GATE, USAGE, INPUT = 0, 1, 2, 3

CASES = [
    # A good core, plain and compressed.
    Case("summary core", ["summary", "{core}"], OK, stdout=check_summary_text),
    Case("summary --json core", ["summary", "--json", "{core}"], OK,
         stdout=check_summary_json),
    Case("export core", ["export", "--format", "jsonl", "{core}"], OK,
         stdout=check_export),
    Case("export core (default format)", ["export", "{core}"], OK, stdout=check_export),
    Case("export -o FILE core", ["export", "-o", "{tmp}/export.jsonl", "{core}"], OK,
         stdout=check_export_file("{tmp}/export.jsonl")),
    Case("summary zstd core", ["summary", "{core_zst}"], OK, stdout=check_summary_text),
    Case("summary --json zstd core", ["summary", "--json", "{core_zst}"], OK,
         stdout=check_summary_json),
    Case("export zstd core", ["export", "--format", "jsonl", "{core_zst}"], OK,
         stdout=check_export),
    # Inputs that are not what they should be: exit 3, one line.
    Case("summary truncated core (64 KiB)", ["summary", "{truncated_64k}"], INPUT,
         r"truncated|missing from the core"),
    Case("export truncated core (64 KiB)", ["export", "{truncated_64k}"], INPUT,
         r"truncated|missing from the core"),
    Case("summary truncated core (half)", ["summary", "{truncated_half}"], INPUT,
         r"truncated|missing from the core"),
    Case("summary empty file", ["summary", "{empty}"], INPUT, r"empty"),
    Case("export empty file", ["export", "{empty}"], INPUT, r"empty"),
    Case("summary ELF executable", ["summary", "{elf_exe}"], INPUT, r"not a core file"),
    Case("summary text file", ["summary", "{text}"], INPUT, r"not an ELF core file"),
    Case("summary core of a non-Python process", ["summary", "{sleep_core}"], INPUT,
         r"no CPython runtime found"),
    Case("export core of a non-Python process", ["export", "{sleep_core}"], INPUT,
         r"no CPython runtime found"),
    Case("summary directory", ["summary", "{directory}"], INPUT, r"not a regular file"),
    Case("summary nonexistent file", ["summary", "{missing}"], INPUT,
         r"cannot open .*no-such-core.*: no such file or directory$"),
    Case("export nonexistent file", ["export", "--format", "jsonl", "{missing}"], INPUT,
         r"cannot open .*no-such-core.*: no such file or directory$"),
    Case("summary --sysroot without the binaries",
         ["summary", "--sysroot", "/nonexistent-sysroot", "{core}"], INPUT,
         r"(binaries|files).*(missing|not found)"),
    # Past the largest file the process may write (ulimit -f): a write
    # fails, one line, and nothing is left, rather than SIGXFSZ.
    Case("snapshot -o FILE past ulimit -f",
         ["snapshot", "--no-cache", "{core}", "-o", "{tmp}/limited.phs"], INPUT,
         r"cannot write snapshot '.*limited\.phs': file too large", fsize=8192,
         stdout=check_nothing_written("{tmp}/limited.phs")),
    Case("export -o FILE past ulimit -f",
         ["export", "--no-cache", "{core}", "-o", "{tmp}/limited.jsonl"], INPUT,
         r"cannot write the export: file too large", fsize=8192,
         stdout=check_nothing_written("{tmp}/limited.jsonl")),
    Case("summary zstd core past ulimit -f",
         ["summary", "--no-cache", "{core_zst}"], INPUT,
         r"cannot decompress '.*core\.zst' into '.*': file too large", fsize=8192,
         env={"TMPDIR": "{tmpdir_zst}"}, stdout=check_nothing_in("{tmpdir_zst}")),
    Case("summary zstd core over --max-core-size",
         ["summary", "--max-core-size", "64KiB", "{core_zst}"], INPUT,
         r"(is a core of .* by its headers|decompresses to) more than the cap of 64\.0 KiB \(raise it with --max-core-size\)$"),
    Case("summary zstd core under --max-core-size",
         ["summary", "--max-core-size", "1TiB", "{core_zst}"], OK),
    Case("export -o into a missing directory",
         ["export", "-o", "{missing_dir}/out.jsonl", "{core}"], INPUT,
         r"cannot write export .*no-such-dir/out\.jsonl.*: no such file or directory$"),
    Case("memory core", ["memory", "{core}"], OK, stdout=check_help("regions:")),
    Case("memory core of a non-Python process", ["memory", "{sleep_core}"], INPUT,
         r"no CPython runtime found"),
    Case("memory text file", ["memory", "{text}"], INPUT, r"not an ELF core file"),
    Case("memory --by xml", ["memory", "--by", "xml", "{core}"], USAGE,
         r"--by takes line or traceback, not 'xml'"),
    # Usage errors: exit 2, the message and a pointer to --help.
    Case("no verb", [], USAGE, r"no verb given"),
    Case("unknown verb", ["frobnicate"], USAGE, r"unknown verb 'frobnicate'"),
    Case("unknown top-level option", ["--frobnicate"], USAGE,
         r"unknown option '--frobnicate'"),
    Case("summary unknown option", ["summary", "--frobnicate", "{core}"], USAGE,
         r"unknown option '--frobnicate'"),
    Case("export unknown option", ["export", "--frobnicate", "{core}"], USAGE,
         r"unknown option '--frobnicate'"),
    Case("demo unknown option", ["demo", "--frobnicate"], USAGE,
         r"unknown option '--frobnicate'"),
    Case("summary missing input", ["summary"], USAGE, r"no input given"),
    Case("export missing input", ["export", "--format", "jsonl"], USAGE, r"no input given"),
    Case("summary two inputs", ["summary", "{core}", "{core}"], USAGE,
         r"unexpected argument"),
    Case("export --format xml", ["export", "--format", "xml", "{core}"], USAGE,
         r"unknown format 'xml'"),
    Case("export --format without a value", ["export", "--format"], USAGE,
         r"'--format' needs an argument"),
    Case("summary --max-objects abc", ["summary", "--max-objects", "abc", "{core}"], USAGE,
         r"--max-objects .*'abc'"),
    Case("export --max-objects abc", ["export", "--max-objects", "abc", "{core}"], USAGE,
         r"--max-objects .*'abc'"),
    Case("summary --max-edges 0", ["summary", "--max-edges", "0", "{core}"], USAGE,
         r"--max-edges .*'0'"),
    Case("summary --max-core-size 1x", ["summary", "--max-core-size", "1x", "{core}"],
         USAGE, r"--max-core-size takes a size .*'1x'"),
    Case("export -o ''", ["export", "-o", "", "{core}"], USAGE,
         r"the output file name is empty"),
    Case("snapshot -o ''", ["snapshot", "-o", "", "{core}"], USAGE,
         r"the output file name is empty"),
    Case("export --format csv without -o", ["export", "--format", "csv", "{core}"], USAGE,
         r"--format csv writes three tables"),
    Case("export --format heapsnapshot --gen 2",
         ["export", "--format", "heapsnapshot", "--gen", "2", "{core}"], USAGE,
         r"--gen applies to --format jsonl only"),
    Case("path --json --format dot", ["path", "--json", "--format", "dot", "{core}", "0x1"],
         USAGE, r"--json and --format dot do not go together"),
    Case("cycles --format svg", ["cycles", "--format", "svg", "{core}"], USAGE,
         r"unknown format 'svg'"),
    Case("report --json without -o", ["report", "--json", "{core}"], USAGE,
         r"--json prints what was written"),
    Case("report three inputs", ["report", "{core}", "{core}", "{core}"], USAGE,
         r"unexpected argument"),
    Case("browse without a terminal", ["browse", "{core}"], USAGE, r"needs a terminal"),
    Case("export -o FILE --format folded", ["export", "--format", "folded", "-o",
                                            "{tmp}/heap.folded", "{core}"], OK,
         stdout=lambda out, run: check_folded_file(out, run.expand("{tmp}/heap.folded"))),
    # Help and version.
    Case("--help", ["--help"], OK, stdout=check_help("summary")),
    Case("-h", ["-h"], OK, stdout=check_help("export")),
    Case("summary --help", ["summary", "--help"], OK, stdout=check_help("summary")),
    Case("export --help", ["export", "--help"], OK, stdout=check_help("export")),
    Case("demo --help", ["demo", "--help"], OK, stdout=check_help("demo")),
    Case("memory --help", ["memory", "--help"], OK, stdout=check_help("pymalloc")),
    Case("--help lists memory", ["--help"], OK, stdout=check_help("memory")),
    Case("--version", ["--version"], OK, stdout=check_version),
]


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------

class Runner:
    def __init__(self, tool, inputs, verbose):
        self.tool = tool
        self.inputs = inputs
        self.verbose = verbose
        self.outputs = {}  # case name -> stdout, for comparisons

    def expand(self, arg):
        def sub(m):
            value = self.inputs[m.group(1)]
            if isinstance(value, Skip):
                raise value
            return value
        return re.sub(r"\{([a-z0-9_]+)\}", sub, arg)

    def run(self, argv, fsize=None, env=None):
        cmd = [self.tool] + argv
        if fsize is not None:
            cmd = ["sh", "-c", 'ulimit -f %d && exec "$@"' % (fsize // 512), "sh"] + cmd
        full_env = None
        if env:
            full_env = dict(os.environ)
            full_env.update({k: self.expand(v) for k, v in env.items()})
        try:
            r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=TIMEOUT, env=full_env)
        except subprocess.TimeoutExpired:
            raise CaseFailure("did not finish within %g s: %s" % (TIMEOUT, " ".join(cmd)))
        if r.returncode < 0:
            raise CaseFailure("killed by signal %d (%s)\nstderr:\n%s"
                              % (-r.returncode, signal.Signals(-r.returncode).name,
                                 r.stderr.decode(errors="replace")))
        return r

    def check(self, case):
        argv = [self.expand(a) for a in case.argv]
        r = self.run(argv, case.fsize, case.env)
        err = r.stderr.decode(errors="replace")
        shown = "$ pyheapsnap %s\nexit %d, stderr:\n%s" % (" ".join(argv), r.returncode, err)
        if r.returncode != case.status:
            raise CaseFailure("exit status %d, expected %d\n%s"
                              % (r.returncode, case.status, shown))
        lines = err.splitlines()
        if case.stderr is None:
            if err:
                raise CaseFailure("unexpected stderr\n%s" % shown)
        else:
            want = 2 if case.status == USAGE else 1
            if len(lines) != want or not err.endswith("\n"):
                raise CaseFailure("%d stderr line(s), expected %d\n%s"
                                  % (len(lines), want, shown))
            if not MESSAGE_RE.match(lines[0]):
                raise CaseFailure("message is not one lowercase 'pyheapsnap: ' line\n%s"
                                  % shown)
            if not re.search(case.stderr, lines[0]):
                raise CaseFailure("message does not match /%s/\n%s" % (case.stderr, shown))
            if want == 2 and not TRY_RE.match(lines[1]):
                raise CaseFailure("second line is not a pointer to --help\n%s" % shown)
            if r.stdout:
                raise CaseFailure("an error, yet %d bytes on stdout\n%s"
                                  % (len(r.stdout), shown))
        if case.stdout:
            case.stdout(r.stdout, self)
        self.outputs[case.name] = r.stdout
        if self.verbose:
            print(shown.rstrip())


def compare_exports(runner):
    """The zstd core and the plain core give the same export."""
    plain = runner.outputs.get("export core")
    packed = runner.outputs.get("export zstd core")
    for name in ("core", "core_zst"):
        if isinstance(runner.inputs[name], Skip):
            raise runner.inputs[name]
    if plain is None or packed is None:
        raise CaseFailure("no export to compare (see the export cases above)")
    if plain != packed:
        a, b = plain.decode().splitlines(), packed.decode().splitlines()
        for n, (x, y) in enumerate(zip(a, b), start=1):
            if x != y:
                raise CaseFailure("exports differ at line %d:\n  plain: %s\n  zstd:  %s"
                                  % (n, x[:300], y[:300]))
        raise CaseFailure("exports differ in length: %d and %d lines" % (len(a), len(b)))


def main():
    args = parse_runner_args(__doc__.split("\n\n")[0], lambda p: p.add_argument(
        "--verbose", action="store_true", help="show every run's stderr"),
        need_python=False, default_python=default_interpreter())
    global INTERP
    INTERP = args.interp
    with test_workdir(args, "cli") as tmp:
        return run_checks(args, args.tool, tmp)


def run_checks(args, tool, tmp):
    passed = failed = skipped = 0
    inputs = make_inputs(tmp)
    runner = Runner(tool, inputs, args.verbose)
    checks = [(c.name, lambda c=c: runner.check(c)) for c in CASES]
    checks.append(("export of zstd core equals export of plain core",
                   lambda: compare_exports(runner)))
    for name, check in checks:
        try:
            check()
        except Skip as why:
            print("skip %s: %s" % (name, why))
            skipped += 1
        except CaseFailure as why:
            detail = str(why).rstrip().split("\n")
            print("FAIL %s: %s" % (name, detail[0]))
            for line in detail[1:]:
                print("    " + line)
            failed += 1
        else:
            print("ok   %s" % name)
            passed += 1
        sys.stdout.flush()
    summary = "%d passed, %d failed" % (passed, failed)
    if skipped:
        summary += ", %d skipped" % skipped
    print(summary)
    return 1 if failed else (0 if passed else 77)


if __name__ == "__main__":
    run_main(main)
