#!/usr/bin/env python3
"""Tests of the cache of heaps read from cores (formats/cache.c, cli/cache.c).

    test_cache.py --tool PATH/TO/pyheapsnap --python SPEC [--mechanics]

1. Answers.  On a core of a small program, every verb that a snapshot can
   answer (summary, summary --json, top, top --group type, cycles, stacks,
   tasks, export, show and path of one object) prints the same, on stdout
   and stderr and with the same exit status, from the cache as with
   --no-cache; the second verb reads the entry, not the core (strace: the
   core is not opened), and --no-cache neither reads nor leaves an entry.
   A truncated core (a partial heap with warnings) answers the same from
   the cache too, warnings included.
2. Mechanics (--mechanics): an entry truncated, corrupted, or of another
   snapshot format version is ignored and replaced by a good one; a core
   that changed gets a new entry in place of the old; four runs at once
   leave one good entry and no temporary file; a cache directory that
   cannot be made, and one whose file system refuses the write (a file size
   limit), cost one stderr line and nothing else; $PYHEAPSNAP_CACHE_SIZE
   bounds the directory, the least recently used entry going first; `show`
   on a core with tracemalloc traces reads the core (the traces are in no
   entry) while `summary` answers from the cache; a core that cannot be
   read leaves no entry; SIGTERM as the entry is written (with one thread
   and with two) leaves no temporary file.

Each check prints "ok: NAME" or "FAIL: NAME: why"; exit status 0, 1 if one
failed, 77 if the interpreter cannot be had.
"""
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pyhs_test import NoCore, fail, ok, parse_runner_args, run_to_core, verdict  # noqa: E402

PROGRAM = r'''
import os, sys%(traced)s
class Node:
    def __init__(self, name, parent=None):
        self.name = name
        self.parent = parent
        self.children = []
root = Node("root")
for i in range(300):
    n = Node("n%%d" %% i, root)
    root.children.append(n)
    n.children.append({"k%%d" %% i: [i, str(i)]})
cycle = [1]
cycle.append(cycle)
with open("addr", "w") as f:
    f.write(hex(id(root)))
os.abort()
'''

TIMEOUT = 120


class Tool:
    def __init__(self, args, cache):
        self.args = args
        self.cache = cache

    def env(self, **extra):
        env = dict(os.environ, PYHEAPSNAP_CACHE_DIR=self.cache)
        env.update(extra)
        return env

    def run(self, verb, core, *rest, env=None, preexec=None, strace=None):
        argv = [self.args.tool, verb, core] + list(rest) + self.args.tool_args
        env = env or self.env()
        if strace:
            argv = ["strace", "-f", "-qq", "-e", "trace=open,openat", "-o", strace] + argv
            # LeakSanitizer cannot work under ptrace.
            env = dict(env, ASAN_OPTIONS=env.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, preexec_fn=preexec, timeout=TIMEOUT)
        return p.returncode, p.stdout, p.stderr

    def entries(self):
        if not os.path.isdir(self.cache):
            return []
        return sorted(f for f in os.listdir(self.cache) if f.endswith(".phs"))

    def leftovers(self):
        if not os.path.isdir(self.cache):
            return []
        return [f for f in os.listdir(self.cache) if f.endswith(".tmp")]


def make_core(args, workdir, traced=False):
    prog = os.path.join(workdir, "prog.py")
    with open(prog, "w") as f:
        f.write(PROGRAM % {"traced": "\nimport tracemalloc; tracemalloc.start()" if traced else ""})
    core = run_to_core(args.interp.argv("-I", prog), workdir, args.interp.environ(), 60)
    with open(os.path.join(workdir, "addr")) as f:
        return core, f.read().strip()


def opened(trace, path):
    """Whether the strace log shows path opened to be read as a core: more
    than the one open that looks at its first bytes (is it a snapshot?)."""
    with open(trace) as f:
        return sum(('"%s"' % path) in line for line in f) > 1


def verbs(addr):
    return [("summary",), ("summary", "--json"), ("top",), ("top", "--group", "type"),
            ("cycles",), ("stacks",), ("tasks",), ("export", "--format", "jsonl"),
            ("show", addr), ("path", addr)]


def check_answers(args, tool, core, addr, workdir):
    name = args.label
    base = {}
    for v in verbs(addr):
        base[v] = tool.run(v[0], core, "--no-cache", *v[1:])
    if tool.entries():
        fail("%s: --no-cache left cache entries %s" % (name, tool.entries()))
    else:
        ok("%s: --no-cache leaves no entry" % name)
    have_strace = shutil.which("strace") is not None
    first = True
    for v in verbs(addr):
        trace = os.path.join(workdir, "trace") if have_strace and not first else None
        got = tool.run(v[0], core, *v[1:], strace=trace)
        what = "%s: %s" % (name, " ".join(v[:1] + v[1:2]))
        if got != base[v]:
            fail("%s from the cache differs from --no-cache (status %d/%d, stderr %r / %r)"
                 % (what, got[0], base[v][0], got[2][-300:], base[v][2][-300:]))
        elif trace and opened(trace, core):
            fail("%s opened the core although the cache holds its heap" % what)
        else:
            ok("%s: the same from the cache%s" % (what, "" if first or not trace
                                                  else ", without opening the core"))
        if first and len(tool.entries()) != 1:
            fail("%s: the first verb left %d entries, not 1: %s"
                 % (name, len(tool.entries()), tool.entries()))
        first = False
    if have_strace:
        trace = os.path.join(workdir, "trace")
        tool.run("summary", core, "--no-cache", strace=trace)
        if opened(trace, core):
            ok("%s: --no-cache reads the core" % name)
        else:
            fail("%s: --no-cache did not open the core" % name)
    else:
        print("skip: %s: strace is not installed: which file a verb read is not checked" % name)


def check_truncated_core(args, tool, core, addr, workdir):
    """A truncated core: the partial heap and its warnings, the same from
    the cache; a core too short to read leaves no entry."""
    name = args.label
    part = os.path.join(workdir, "truncated.core")
    size = os.path.getsize(core)
    with open(core, "rb") as f, open(part, "wb") as g:
        g.write(f.read(size * 3 // 4))
    before = set(tool.entries())
    for v in (("summary",), ("export", "--format", "jsonl"), ("show", addr)):
        want = tool.run(v[0], part, "--no-cache", *v[1:])
        got1 = tool.run(v[0], part, *v[1:])
        got2 = tool.run(v[0], part, *v[1:])
        if not (want == got1 == got2):
            fail("%s: %s of a truncated core differs with the cache (status %d/%d/%d)"
                 % (name, v[0], want[0], got1[0], got2[0]))
        else:
            ok("%s: %s of a truncated core (status %d) the same from the cache"
               % (name, v[0], want[0]))
    tiny = os.path.join(workdir, "tiny.core")
    with open(core, "rb") as f, open(tiny, "wb") as g:
        g.write(f.read(100))
    before = set(tool.entries())
    st, _, err = tool.run("summary", tiny)
    st2, _, err2 = tool.run("summary", tiny)
    if st != 3 or st2 != 3 or err != err2 or set(tool.entries()) != before:
        fail("%s: an unreadable core: status %d/%d, new entries %s" %
             (name, st, st2, sorted(set(tool.entries()) - before)))
    else:
        ok("%s: an unreadable core leaves no entry and fails the same twice" % name)


def check_entry_damage(args, tool, core, workdir):
    name = args.label
    want = tool.run("summary", core, "--no-cache")
    tool.run("summary", core)
    [entry] = tool.entries()
    path = os.path.join(tool.cache, entry)
    good = open(path, "rb").read()

    keep = None

    def damaged(how, data):
        with open(path, "wb") as f:
            f.write(data)
        got = tool.run("summary", core)
        now = [e for e in tool.entries() if e != keep]
        if got != want:
            fail("%s: an entry %s: summary differs from the core's (status %d, stderr %r)"
                 % (name, how, got[0], got[2][-300:]))
        elif now != [entry] or open(path, "rb").read() != good:
            fail("%s: an entry %s was not replaced by a good one (entries %s)"
                 % (name, how, now))
        else:
            ok("%s: an entry %s is ignored and replaced" % (name, how))

    damaged("truncated", good[:len(good) // 2])
    damaged("empty", b"")
    mid = bytearray(good)
    for k in range(len(mid) // 3, len(mid) // 3 + 64):
        mid[k] ^= 0x5a
    damaged("corrupted", bytes(mid))
    # The format version follows the 8-byte magic number (formats/FORMAT.md).
    other = bytearray(good)
    other[8] = (other[8] + 1) & 0xff
    damaged("of another format version", bytes(other))
    # Another core's heap under this core's name (a hash collision): the
    # entry's own metadata names another input.
    other_core = os.path.join(workdir, "other.core")
    shutil.copyfile(core, other_core)
    tool.run("summary", other_core)
    [other_entry] = [e for e in tool.entries() if e != entry]
    keep = other_entry
    damaged("made from another core", open(os.path.join(tool.cache, other_entry), "rb").read())
    os.unlink(other_core)
    os.unlink(os.path.join(tool.cache, other_entry))


def check_core_changed(args, tool, core, workdir):
    name = args.label
    copy = os.path.join(workdir, "changing.core")
    shutil.copyfile(core, copy)
    tool.run("summary", copy)
    before = set(tool.entries())
    with open(copy, "ab") as f:
        f.write(b"\0" * 4096)
    want = tool.run("summary", copy, "--no-cache")
    got = tool.run("summary", copy)
    after = set(tool.entries())
    if got != want:
        fail("%s: a changed core: summary differs from the core's" % name)
    elif len(after) != len(before) or after == before:
        fail("%s: a changed core: entries %s before, %s after (want the old replaced)"
             % (name, sorted(before), sorted(after)))
    else:
        ok("%s: a core that changed gets a new entry in place of the old" % name)
    os.unlink(copy)
    tool.run("summary", core)  # tidies the copy's entry away only when over the bound


def check_concurrent(args, tool, core):
    name = args.label
    shutil.rmtree(tool.cache, ignore_errors=True)
    want = tool.run("export", core, "--no-cache", "--format", "jsonl")
    argv = [args.tool, "export", core, "--format", "jsonl"] + args.tool_args
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=tool.env()) for _ in range(4)]
    outs = [p.communicate(timeout=TIMEOUT) for p in procs]
    bad = [i for i, (p, o) in enumerate(zip(procs, outs)) if (p.returncode, o[0], o[1]) != want]
    got = tool.run("export", core, "--format", "jsonl")
    if bad or got != want:
        fail("%s: runs at once: runs %s (and the one after: %s) differ" %
             (name, bad, got != want))
    elif len(tool.entries()) != 1 or tool.leftovers():
        fail("%s: runs at once left entries %s and temporary files %s"
             % (name, tool.entries(), tool.leftovers()))
    else:
        ok("%s: four runs at once leave one good entry" % name)


def check_unwritable(args, tool, core, workdir):
    name = args.label
    want = tool.run("summary", core, "--no-cache")
    blocker = os.path.join(workdir, "not-a-dir")
    with open(blocker, "w") as f:
        f.write("x")

    def lim():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    full = os.path.join(workdir, "full-cache")
    for how, env, pre in (("that cannot be made", tool.env(PYHEAPSNAP_CACHE_DIR=blocker + "/c"),
                           None),
                          ("on a full file system (file size limit)",
                           tool.env(PYHEAPSNAP_CACHE_DIR=full), lim)):
        st, out, err = tool.run("summary", core, env=env, preexec=pre)
        lines = err.decode(errors="replace").splitlines()
        extra = [ln for ln in lines if ln not in want[2].decode(errors="replace").splitlines()]
        if st != want[0] or out != want[1]:
            fail("%s: a cache directory %s changed the answer (status %d)" % (name, how, st))
        elif len(extra) != 1 or "cache" not in extra[0]:
            fail("%s: a cache directory %s: want one stderr line about the cache, got %r"
                 % (name, how, extra))
        elif os.path.isdir(full) and any(f.endswith(".tmp") or f.endswith(".phs")
                                         for f in os.listdir(full)):
            fail("%s: a cache directory %s kept files %s" % (name, how, os.listdir(full)))
        else:
            ok("%s: a cache directory %s costs one line: %s" % (name, how, extra[0]))


def check_killed(args, tool, core):
    """SIGTERM once the entry's temporary file is there: none left after."""
    name = args.label
    for j in ("1", "2"):
        bad = []
        for delay in (0, 0.002, 0.01):
            shutil.rmtree(tool.cache, ignore_errors=True)
            os.makedirs(tool.cache)
            argv = [args.tool, "summary", core, "-j", j] + args.tool_args
            p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 env=tool.env())
            while p.poll() is None and not tool.leftovers():
                time.sleep(0.0005)
            time.sleep(delay)
            p.send_signal(signal.SIGTERM)
            _, err = p.communicate(timeout=TIMEOUT)
            if p.returncode not in (0, 128 + signal.SIGTERM) or tool.leftovers():
                bad.append("after %g s: exit %d, left %s, stderr %r"
                           % (delay, p.returncode, tool.leftovers(), err[-200:]))
        if bad:
            fail("%s: SIGTERM as the entry is written (-j%s): %s" % (name, j, "; ".join(bad)))
        else:
            ok("%s: SIGTERM as the entry is written (-j%s) leaves no temporary file" % (name, j))


def check_broken_pipe(args, tool, core):
    """A reader that stops reading (`| head`) ends the run as the default
    action of SIGPIPE does, without a word, whether the verb fills the
    cache or answers from it."""
    name = args.label
    shutil.rmtree(tool.cache, ignore_errors=True)
    for when in ("filling the cache", "from the cache"):
        argv = [args.tool, "export", core, "--format", "jsonl"] + args.tool_args
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=tool.env(), preexec_fn=lambda: signal.signal(
                                 signal.SIGPIPE, signal.SIG_DFL))
        p.stdout.readline()
        p.stdout.close()
        err = p.stderr.read()
        p.wait(timeout=TIMEOUT)
        if p.returncode not in (-signal.SIGPIPE, 128 + signal.SIGPIPE) or err:
            fail("%s: export | head, %s: exit %d, stderr %r"
                 % (name, when, p.returncode, err[-200:]))
        else:
            ok("%s: export | head, %s: ends at the broken pipe, without a word" % (name, when))


def check_bound(args, tool, core, workdir):
    name = args.label
    shutil.rmtree(tool.cache, ignore_errors=True)
    tool.run("summary", core)
    [first] = tool.entries()
    one = os.path.getsize(os.path.join(tool.cache, first))
    env = tool.env(PYHEAPSNAP_CACHE_SIZE=str(one + one // 2 + 8192))
    a = os.path.join(workdir, "a.core")
    shutil.copyfile(core, a)
    tool.run("summary", a, env=env)
    entries = tool.entries()
    if len(entries) != 1 or entries[0] == first:
        fail("%s: over the bound, want only the newest entry, have %s (first %s)"
             % (name, entries, first))
    else:
        ok("%s: $PYHEAPSNAP_CACHE_SIZE bounds the cache, oldest out first" % name)
    st, out, err = tool.run("summary", core, env=tool.env(PYHEAPSNAP_CACHE_SIZE="0"))
    if tool.entries() != entries or st != 0:
        fail("%s: PYHEAPSNAP_CACHE_SIZE=0 still used the cache (%s)" % (name, tool.entries()))
    else:
        ok("%s: PYHEAPSNAP_CACHE_SIZE=0 turns the cache off" % name)
    os.unlink(a)


def check_traced(args, tool, workdir):
    name = args.label
    d = os.path.join(workdir, "traced")
    os.mkdir(d)
    try:
        core, addr = make_core(args, d, traced=True)
    except NoCore as e:
        fail("%s: no core of the traced program: %s" % (name, e))
        return
    # show and summary name allocation sites (summary's suspects'), so they
    # read the traced core; top reads no traces and answers from the cache.
    want_show = tool.run("show", core, addr, "--no-cache")
    want_sum = tool.run("summary", core, "--no-cache")
    want_top = tool.run("top", core, "--no-cache")
    tool.run("top", core)
    trace = os.path.join(workdir, "trace")
    got_show = tool.run("show", core, addr, strace=trace)
    show_opened = opened(trace, core)
    got_sum = tool.run("summary", core, strace=trace)
    sum_opened = opened(trace, core)
    got_top = tool.run("top", core, strace=trace)
    top_opened = opened(trace, core)
    if got_show != want_show or got_sum != want_sum or got_top != want_top:
        fail("%s: a traced core: show, summary or top differ with the cache" % name)
    elif b"traceback" not in want_show[1] and b"allocated" not in want_show[1]:
        fail("%s: show of a traced core names no allocation site: %r"
             % (name, want_show[1][-300:]))
    elif not show_opened or not sum_opened or top_opened:
        fail("%s: a traced core: show opened the core %s, summary %s, top %s (want yes, yes, no)"
             % (name, show_opened, sum_opened, top_opened))
    else:
        ok("%s: show and summary of a traced core read the core, top the cache" % name)


def main():
    args = parse_runner_args(__doc__.split("\n")[0], lambda p: p.add_argument(
        "--mechanics", action="store_true", help="also the cache's own cases"))
    if not args.interp.path:
        print("skip: %s" % args.interp.missing)
        return 77
    workdir = tempfile.mkdtemp(prefix="pyheapsnap-cache-test-")
    try:
        tool = Tool(args, os.path.join(workdir, "cache"))
        try:
            core, addr = make_core(args, workdir)
        except NoCore as e:
            print("skip: %s" % e)
            return 77
        check_answers(args, tool, core, addr, workdir)
        check_truncated_core(args, tool, core, addr, workdir)
        if args.mechanics:
            shutil.rmtree(tool.cache, ignore_errors=True)
            check_entry_damage(args, tool, core, workdir)
            check_core_changed(args, tool, core, workdir)
            check_concurrent(args, tool, core)
            check_unwritable(args, tool, core, workdir)
            check_killed(args, tool, core)
            check_broken_pipe(args, tool, core)
            check_bound(args, tool, core, workdir)
            if shutil.which("strace"):
                check_traced(args, tool, workdir)
            else:
                print("skip: %s: strace is not installed: the traced core's case" % args.label)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return verdict(True)


if __name__ == "__main__":
    sys.exit(main())
