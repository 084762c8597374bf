#!/usr/bin/env python3
"""Analysis tests for pyheapsnap: answers known by construction.

    run_analysis.py --tool PATH/TO/pyheapsnap --python PATH/TO/python
                    [--label NAME] [--keep DIR] [--timeout SECONDS]

Runs analysis_program.py (next to this file) under the given interpreter in
a fresh directory with RLIMIT_CORE unlimited.  The program builds a heap
whose answers it knows, writes them to truth.json and aborts; the kernel
writes a core.  Then the analysis verbs run on the core with --json and
their answers are checked:

  1. retained size: `show` of HOLDER's object gives "retained" equal to the
     sum of sys.getsizeof() over everything in it, and `top` lists it with
     that retained size;
  2. garbage: `cycles --unreachable` reports each garbage cycle the program
     made with exactly its members, and no reachable object (a live cycle
     held by a global, HOLDER, ...); plain `cycles` reports the live cycle
     as not garbage;
  3. C-held objects (a leaked Py_IncRef): `show` gives "unexplained_refs"
     >= 1, `path` starts at a path with "c_held": true, and `summary`'s
     "unexplained_refs" objects (when summary has that key) include them;
     summary's "garbage" and "dominators" are checked when present;
  4. paths: CACHE['k12'] is described as "module __main__ global CACHE
     ['k12']...", a worker thread's local `data` as that thread's frame's
     "local data";
  5. `stacks` shows the worker's frame with its local `data`;
  6. `top --group type` lists the item class of (1) with its count (and the
     retained size of all its instances together).

Prints "ok NAME" or "FAIL NAME" with expected and got for each check, then
"N passed, N failed".  Exit status: 0 if every check passed, 1 if one
failed, 77 (meson's "skipped") if the interpreter is not installed or cannot
give a truth.
"""

import json
import os
import re
import shlex
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pyhs_test import (ProgramFailed, core_of, parse_runner_args, run_main,  # noqa: E402
                       test_workdir)

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAM = os.path.join(HERE, "analysis_program.py")

EXIT_OK = 0
EXIT_FAIL = 1

PROGRAM_TIMEOUT = 120


def parse_args(argv):
    def add_arguments(p):
        p.add_argument("--timeout", type=float, default=120.0,
                       help="seconds allowed for each run of pyheapsnap (default 120)")
    return parse_runner_args("Check pyheapsnap's analysis verbs on a core whose answers "
                             "are known by construction.", add_arguments, argv=argv)


# ---------------------------------------------------------------------------
# Making the core
# ---------------------------------------------------------------------------

def make_core(args, workdir):
    truth_path = os.path.join(workdir, "truth.json")
    start = time.time()
    core = core_of(args.interp, [PROGRAM, truth_path], workdir, timeout=PROGRAM_TIMEOUT)
    if not os.path.isfile(truth_path):
        raise ProgramFailed("analysis_program.py wrote no truth file")
    with open(truth_path) as f:
        truth = json.load(f)
    print("python %s (hexversion %#x), pid %d, program %.2f s"
          % (truth["version"].split()[0], truth["hexversion"], truth["pid"],
             time.time() - start))
    print("core: %s (%.1f MiB)" % (core, os.path.getsize(core) / 1048576.0))
    return truth, core


# ---------------------------------------------------------------------------
# Running the tool
# ---------------------------------------------------------------------------

class CheckFailure(Exception):
    pass


class Tool(object):
    def __init__(self, args, core, workdir):
        self.args = args
        self.core = core
        self.workdir = workdir
        self.cache = {}
        self.n = 0

    def json(self, verb, *extra):
        """Runs `pyheapsnap VERB CORE EXTRA... --json` and returns the parsed
        output; a failure raises CheckFailure with what the tool printed."""
        key = (verb,) + extra
        if key in self.cache:
            result = self.cache[key]
            if isinstance(result, CheckFailure):
                raise result
            return result
        cmd = [self.args.tool, verb, self.core] + self.args.tool_args + \
            list(extra) + ["--json"]
        shown = " ".join(shlex.quote(c) for c in cmd)
        self.n += 1
        base = os.path.join(self.workdir, "out-%02d-%s" % (self.n, verb))
        try:
            proc = subprocess.run(cmd, cwd=self.workdir, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, timeout=self.args.timeout)
            out, err, rc = proc.stdout, proc.stderr, proc.returncode
        except subprocess.TimeoutExpired:
            out, err, rc = b"", b"", None
        except OSError as e:
            raise CheckFailure("cannot run %s: %s" % (self.args.tool, e))
        with open(base + ".json", "wb") as f:
            f.write(out)
        with open(base + ".stderr", "wb") as f:
            f.write(err)
        result = None
        if rc is None:
            result = CheckFailure("%s: timed out after %.0f s" % (shown, self.args.timeout))
        elif rc != 0:
            result = CheckFailure("%s: exit status %d\nstderr (last 20 lines):\n%s"
                                  % (shown, rc, tail(err)))
        else:
            try:
                result = json.loads(out.decode("utf-8"))
            except ValueError as e:
                result = CheckFailure("%s: output is not JSON (%s): %s"
                                      % (shown, e, out[:300].decode(errors="replace")))
        self.cache[key] = result
        if isinstance(result, CheckFailure):
            raise result
        return result


def tail(data, lines=20):
    return "\n".join("  " + l for l in data.decode(errors="replace").splitlines()[-lines:])


def short(value, limit=400):
    s = json.dumps(value)
    return s if len(s) <= limit else s[:limit] + "..."


# ---------------------------------------------------------------------------
# The checks.  Each raises CheckFailure with expected and got, or returns a
# note (or None) on success; raising Skip means the tool lacks the key, or the
# interpreter the thing checked.
# ---------------------------------------------------------------------------

class Skip(Exception):
    pass


def expect(cond, what, expected, got):
    if not cond:
        raise CheckFailure("%s\n    expected: %s\n    got:      %s" % (what, expected, got))


def check_show_retained(tool, truth):
    h = truth["holder"]
    out = tool.json("show", str(h["addr"]))
    expect(out.get("type") == h["type"], "show %#x: type" % h["addr"],
           h["type"], short(out.get("type")))
    expect(out.get("retained") == h["retained"],
           "show %#x (HOLDER, %d objects): retained" % (h["addr"], h["objects"]),
           "%d (sum of sys.getsizeof over HOLDER's objects)" % h["retained"],
           "%s (%s)" % (short(out.get("retained")),
                        "differs by %+d" % (out["retained"] - h["retained"])
                        if isinstance(out.get("retained"), int) else "not a number"))
    return "retained %d" % h["retained"]


def check_top_lists(tool, truth):
    h = truth["holder"]
    out = tool.json("top")
    rows = [r for r in out if isinstance(r, dict) and r.get("addr") == h["addr"]]
    expect(rows, "top --json: HOLDER's object %#x listed" % h["addr"],
           "a row with addr %d" % h["addr"],
           "%d rows: %s" % (len(out), ", ".join("%s %s retained %s" % (
               r.get("addr"), r.get("type"), r.get("retained")) for r in out)))
    expect(rows[0].get("retained") == h["retained"], "top --json: HOLDER's retained",
           h["retained"], short(rows[0]))
    return "rank %d of %d" % (out.index(rows[0]) + 1, len(out))


def check_top_group_type(tool, truth):
    h = truth["holder"]
    out = tool.json("top", "--group", "type", "-n", "1000000")
    rows = [r for r in out if isinstance(r, dict) and r.get("type") == h["item_type"]]
    expect(rows, "top --group type --json: a row for %s" % h["item_type"],
           "type %s, count %d" % (h["item_type"], h["item_count"]),
           "types %s" % short([r.get("type") for r in out], 600))
    expect(rows[0].get("count") == h["item_count"],
           "top --group type --json: count of %s" % h["item_type"],
           h["item_count"], short(rows[0]))
    return "count %d" % h["item_count"]


def check_top_group_type_retained(tool, truth):
    h = truth["holder"]
    out = tool.json("top", "--group", "type", "-n", "1000000")
    rows = [r for r in out if isinstance(r, dict) and r.get("type") == h["item_type"]]
    expect(rows, "top --group type --json: a row for %s" % h["item_type"],
           h["item_type"], "no such row")
    expect(rows[0].get("retained") == h["items_retained"],
           "top --group type --json: retained of all %s instances together" % h["item_type"],
           "%d (sum of sys.getsizeof over the items and what they hold)" % h["items_retained"],
           short(rows[0]))
    return "retained %d" % h["items_retained"]


def live_addresses(truth):
    """Objects the program keeps alive (by a global, a thread's local, or a
    leaked C reference): the collector would free none of them."""
    live = {}
    for a in truth["live_cycle"]:
        live[a] = "LIVE_CYCLE node"
    live[truth["live_cycle_holder"]] = "LIVE_CYCLE list"
    live[truth["holder"]["addr"]] = "HOLDER"
    live[truth["holder"]["table"]] = "HOLDER.table"
    live[truth["leaked"]["plain"]] = "leaked list"
    live[truth["leaked"]["self_list"]] = "leaked self-referencing list"
    live[truth["cache"]["addr"]] = "CACHE['%s']" % truth["cache"]["key"]
    live[truth["cache"]["dict"]] = "CACHE"
    live[truth["worker"]["addr"]] = "the worker's local data"
    return live


def check_garbage_cycles(tool, truth):
    out = tool.json("cycles", "--unreachable")
    by_set = {}
    for c in out:
        by_set.setdefault(frozenset(c.get("objects") or ()), c)
    problems = []
    for members in truth["garbage_cycles"]:
        want = frozenset(members)
        c = by_set.get(want)
        if c is None:
            near = [sorted(x) for x in by_set if x & want]
            problems.append("cycle %s not reported%s" % (
                sorted(want), "; reported cycles sharing members: %s" % near if near
                else "; no reported cycle has any of its members"))
        elif c.get("garbage") is not True:
            problems.append("cycle %s reported with \"garbage\": %s"
                            % (sorted(want), short(c.get("garbage"))))
    expect(not problems, "cycles --unreachable --json: the %d garbage cycles the program "
           "made" % len(truth["garbage_cycles"]),
           "each reported with exactly its members and \"garbage\": true",
           "\n      ".join([""] + problems))
    return "%d cycles found among %d reported" % (len(truth["garbage_cycles"]), len(out))


def check_no_live_garbage(tool, truth):
    out = tool.json("cycles", "--unreachable")
    live = live_addresses(truth)
    problems = []
    for c in out:
        hit = [a for a in c.get("objects") or () if a in live]
        if hit:
            problems.append("reported cycle of %d objects (%s) holds %s"
                            % (len(c.get("objects")), short(c.get("types"), 200),
                               ", ".join("%#x %s" % (a, live[a]) for a in hit)))
        if c.get("garbage") is not True:
            problems.append("reported cycle %s has \"garbage\": %s"
                            % (short(c.get("objects"), 200), short(c.get("garbage"))))
    expect(not problems, "cycles --unreachable --json: no reachable object",
           "none of %s" % ", ".join(sorted(set(live.values()))),
           "\n      ".join([""] + problems))


def check_live_cycle(tool, truth):
    out = tool.json("cycles")
    nodes = set(truth["live_cycle"])
    rows = [c for c in out if nodes <= set(c.get("objects") or ())]
    expect(rows, "cycles --json: a cycle holding both LIVE_CYCLE nodes %s" % sorted(nodes),
           "one cycle (strongly connected group) containing both",
           "none; cycles with either: %s" % short(
               [len(c.get("objects")) for c in out if nodes & set(c.get("objects") or ())]))
    expect(rows[0].get("garbage") is False, "cycles --json: the live cycle's \"garbage\"",
           "false", short(rows[0].get("garbage")))
    return "in a cycle of %d objects" % len(rows[0]["objects"])


def check_leaked_show(name):
    def check(tool, truth):
        addr = truth["leaked"][name]
        out = tool.json("show", str(addr))
        u = out.get("unexplained_refs")
        expect(isinstance(u, int) and u >= 1,
               "show %#x (leaked %s, held only by Py_IncRef): unexplained_refs"
               % (addr, name), ">= 1",
               "%s (refcnt %s, referrers %s)" % (short(u), short(out.get("refcnt")),
                                                 short(out.get("referrers"), 200)))
        expect(out.get("garbage") is False, "show %#x (leaked %s): garbage" % (addr, name),
               "false (the collector cannot free what C code holds)",
               short(out.get("garbage")))
        return "unexplained_refs %d" % u
    return check


def check_leaked_path(name):
    def check(tool, truth):
        addr = truth["leaked"][name]
        out = tool.json("path", str(addr))
        paths = out.get("paths") or []
        expect(paths, "path %#x (leaked %s): a path" % (addr, name),
               "a path starting with \"c_held\": true", short(out))
        expect(paths[0].get("c_held") is True,
               "path %#x (leaked %s): first path's c_held" % (addr, name),
               "true", short(paths[0]))
        return paths[0].get("description")
    return check


def check_summary_unexplained(tool, truth):
    out = tool.json("summary")
    if "unexplained_refs" not in out:
        raise Skip("summary --json has no \"unexplained_refs\" key")
    u = out["unexplained_refs"]
    objs = u.get("objects") if isinstance(u, dict) else None
    expect(isinstance(objs, list), "summary --json: unexplained_refs.objects",
           "a list of addresses", short(u))
    leaked = truth["leaked"]
    missing = ["%#x (%s)" % (a, n) for n, a in sorted(leaked.items()) if a not in objs]
    expect(not missing, "summary --json: unexplained_refs.objects holds the leaked lists",
           ", ".join("%#x (%s)" % (a, n) for n, a in sorted(leaked.items())),
           "missing %s; count %s, objects [%s]"
           % (", ".join(missing), short(u.get("count")),
              ", ".join("%#x" % a if isinstance(a, int) else short(a) for a in objs)))
    count = u.get("count")
    expect(isinstance(count, int) and count >= len(objs) and count >= len(leaked),
           "summary --json: unexplained_refs.count", ">= %d and >= the objects listed (%d)"
           % (len(leaked), len(objs)), short(count))
    return "count %d" % count


def check_summary_garbage(tool, truth):
    out = tool.json("summary")
    if "garbage" not in out:
        raise Skip("summary --json has no \"garbage\" key")
    g = out["garbage"]
    n_cycles = len(truth["garbage_cycles"])
    n_objects = sum(len(c) for c in truth["garbage_cycles"])
    expect(isinstance(g, dict), "summary --json: garbage", "an object", short(g))
    if "objects" in g:
        expect(isinstance(g["objects"], int) and g["objects"] >= n_objects,
               "summary --json: garbage.objects", ">= %d (the program's garbage cycles' "
               "members)" % n_objects, short(g))
    if "cycles" in g:
        expect(isinstance(g["cycles"], int) and g["cycles"] >= n_cycles,
               "summary --json: garbage.cycles", ">= %d" % n_cycles, short(g))
        cyc = tool.json("cycles", "--unreachable")
        expect(g["cycles"] == len(cyc), "summary --json: garbage.cycles",
               "%d (as many as cycles --unreachable --json lists)" % len(cyc), short(g))
    return short(g)


def check_summary_dominators(tool, truth):
    out = tool.json("summary")
    if "dominators" not in out:
        raise Skip("summary --json has no \"dominators\" key")
    d = out["dominators"]
    main_dict = truth["main_globals"]
    expect(isinstance(d, list) and d, "summary --json: dominators", "a non-empty list",
           short(d))
    rows = [r for r in d if isinstance(r, dict) and r.get("addr") == main_dict]
    expect(rows, "summary --json: dominators lists __main__'s globals dict %#x "
           "(it holds HOLDER, the largest structure)" % main_dict,
           "a row with addr %d" % main_dict, short(d, 800))
    expect(isinstance(rows[0].get("retained"), int)
           and rows[0]["retained"] >= truth["holder"]["retained"],
           "summary --json: retained of __main__'s globals dict",
           ">= %d (HOLDER's retained size)" % truth["holder"]["retained"], short(rows[0]))
    return "rank %d of %d" % (d.index(rows[0]) + 1, len(d))


def check_path_global(tool, truth):
    c = truth["cache"]
    out = tool.json("path", str(c["addr"]))
    paths = out.get("paths") or []
    prefix = "module __main__ global %s" % c["global"]
    label = "['%s']" % c["key"]
    expect(paths, "path %#x (CACHE['%s']): a path" % (c["addr"], c["key"]),
           "a path", short(out))
    desc = paths[0].get("description") or ""
    expect(desc.startswith(prefix) and label in desc,
           "path %#x (CACHE['%s']): description" % (c["addr"], c["key"]),
           "starts with %r and contains %r" % (prefix, label), repr(desc))
    return repr(desc)


def check_lazy_import(tool, truth):
    """3.15+: the lazy import object a module's dict holds (PEP 810)."""
    z = truth.get("lazy_import")
    if not z:
        raise Skip("no lazy imports before 3.15")
    out = tool.json("show", str(z["addr"]))
    expect(out.get("type") == z["type"] and out.get("size") == z["size"],
           "show %#x (lazy import LAZY_MODULE): type and size" % z["addr"],
           "%s, %d bytes" % (z["type"], z["size"]),
           "%s, %s bytes" % (short(out.get("type")), short(out.get("size"))))
    refs = out.get("referents") or []
    expect(len(refs) >= z["refs"], "show %#x (lazy import): referents" % z["addr"],
           ">= %d (gc.get_referents)" % z["refs"], short(refs, 300))
    path = tool.json("path", str(z["addr"]))
    desc = ((path.get("paths") or [{}])[0]).get("description") or ""
    expect(desc == "module __main__ global %s" % z["global"],
           "path %#x (lazy import): description" % z["addr"],
           "module __main__ global %s" % z["global"], repr(desc))
    return "%s, %d bytes, %s" % (z["type"], z["size"], desc)


def frame_re(function, filename):
    """A frame as the tool names it: "FUNCTION (FILE)" or "FUNCTION
    (FILE:LINE)"; group 1 is the line, if given."""
    return r"%s \(%s(?::(\d+))?\)" % (re.escape(function), re.escape(filename))


def check_line(what, line, truth):
    """A line number in a frame's name must be the line the worker is
    blocked at."""
    w = truth["worker"]
    if line is not None and w.get("line") is not None:
        expect(int(line) == w["line"], what,
               "line %d (the worker's release.wait())" % w["line"], "line %s" % line)


def worker_thread_in_stacks(tool, truth):
    """The thread number `stacks` gives the worker, or None."""
    try:
        out = tool.json("stacks")
    except CheckFailure:
        return None
    want = re.compile(frame_re(truth["worker"]["function"], truth["worker"]["file"]) + "$")
    for t in out.get("threads") or []:
        for fr in t.get("frames") or []:
            if want.match(fr.get("frame") or ""):
                return t.get("thread")
    return None


def check_path_thread_local(tool, truth):
    w = truth["worker"]
    out = tool.json("path", str(w["addr"]))
    paths = out.get("paths") or []
    expect(paths, "path %#x (the worker's local %s): a path" % (w["addr"], w["local"]),
           "a path", short(out))
    desc = paths[0].get("description") or ""
    # "thread K (NAME) frame ...": the thread's name when threading knows it.
    pattern = r"thread (\d+)(?: \([^)]*\))? frame " + frame_re(w["function"], w["file"])
    m = re.search(pattern, desc)
    expect(m and ("local " + w["local"]) in desc,
           "path %#x (the worker's local %s): description" % (w["addr"], w["local"]),
           "names the thread's frame (/%s/) and contains %r"
           % (pattern, "local " + w["local"]), repr(desc))
    check_line("path %#x: the frame's line" % w["addr"], m.group(2), truth)
    k = worker_thread_in_stacks(tool, truth)
    if k is not None:
        expect(int(m.group(1)) == k, "path %#x: the thread in the description" % w["addr"],
               "thread %d (the worker's number in stacks --json)" % k, repr(desc))
    expect(paths[0].get("c_held") is False, "path %#x: c_held" % w["addr"], "false",
           short(paths[0]))
    return repr(desc)


def check_path_thread_local_only(tool, truth):
    w = truth["worker"]
    out = tool.json("path", str(w["addr"]), "--all")
    paths = out.get("paths") or []
    bad = [p.get("description") for p in paths
           if not re.match(r"thread \d+(?: \([^)]*\))? frame ", p.get("description") or "")]
    expect(paths and not bad,
           "path --all %#x (the worker's local %s, held by nothing else)"
           % (w["addr"], w["local"]),
           "only paths from the worker's frame",
           "%d paths; others: %s" % (len(paths), short(bad, 600)))
    return "%d path%s" % (len(paths), "" if len(paths) == 1 else "s")


def check_stacks(tool, truth):
    w = truth["worker"]
    out = tool.json("stacks")
    threads = out.get("threads") or []
    frames = []
    for t in threads:
        for fr in t.get("frames") or []:
            frames.append((t.get("thread"), fr))
    want = re.compile(frame_re(w["function"], w["file"]) + "$")
    found = [(k, fr, want.match(fr.get("frame") or "")) for k, fr in frames]
    found = [x for x in found if x[2]]
    expect(found, "stacks --json: the worker's frame",
           "a frame /%s/" % want.pattern,
           "frames %s" % short(["%s: %s" % (k, fr.get("frame")) for k, fr in frames], 800))
    k, fr, m = found[0]
    check_line("stacks --json: the worker's frame %r" % fr.get("frame"), m.group(1), truth)
    locs = fr.get("locals") or []
    mine = [l for l in locs if l.get("name") == w["local"]]
    expect(mine, "stacks --json: frame %r has a local %r" % (fr.get("frame"), w["local"]),
           "a local named %r" % w["local"],
           "locals %s" % short([l.get("name") for l in locs]))
    expect(mine[0].get("addr") == w["addr"],
           "stacks --json: the address of local %r" % w["local"],
           w["addr"], short(mine[0]))
    main_re = re.compile(frame_re(truth["main_function"], w["file"]) + "$")
    mains = [t.get("thread") for t in threads for f in t.get("frames") or []
             if main_re.match(f.get("frame") or "")]
    expect(mains and k not in mains, "stacks --json: the worker's frame is in its own thread",
           "a thread other than the main thread's (%s)" % short(mains),
           "thread %s" % short(k))
    return "thread %s, %r" % (k, fr.get("frame"))


CHECKS = [
    ("1-retained-show", check_show_retained),
    ("1-retained-top", check_top_lists),
    ("2-garbage-cycles", check_garbage_cycles),
    ("2-garbage-nothing-reachable", check_no_live_garbage),
    ("2-live-cycle-not-garbage", check_live_cycle),
    ("3-leaked-show-plain", check_leaked_show("plain")),
    ("3-leaked-show-self-list", check_leaked_show("self_list")),
    ("3-leaked-path-plain", check_leaked_path("plain")),
    ("3-leaked-path-self-list", check_leaked_path("self_list")),
    ("3-summary-unexplained-refs", check_summary_unexplained),
    ("3-summary-garbage", check_summary_garbage),
    ("3-summary-dominators", check_summary_dominators),
    ("4-path-global", check_path_global),
    ("4-path-thread-local", check_path_thread_local),
    ("4-path-thread-local-only", check_path_thread_local_only),
    ("5-stacks-local", check_stacks),
    ("6-top-group-type-count", check_top_group_type),
    ("6-top-group-type-retained", check_top_group_type_retained),
    ("7-lazy-import-in-module-dict", check_lazy_import),
]


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def main(argv):
    args = parse_args(argv)
    with test_workdir(args, "analysis") as workdir:
        return run(args, workdir)


def run(args, workdir):
    print("analysis %s: %s" % (args.label, args.python))
    truth, core = make_core(args, workdir)
    tool = Tool(args, core, workdir)
    passed = failed = skipped = 0
    start = time.time()
    for name, check in CHECKS:
        try:
            note = check(tool, truth)
        except Skip as e:
            skipped += 1
            print("skip %s: %s" % (name, e))
        except CheckFailure as e:
            failed += 1
            print("FAIL %s: %s" % (name, e))
        except Exception as e:  # a malformed answer: a failure, with why
            failed += 1
            print("FAIL %s: %s: %s (the tool's answer has an unexpected shape?)"
                  % (name, type(e).__name__, e))
        else:
            passed += 1
            print("ok %s%s" % (name, ": " + note if note else ""))
        sys.stdout.flush()
    print("%d runs of pyheapsnap, %.1f s; %d check%s skipped (key absent, or not in this version)"
          % (tool.n, time.time() - start, skipped, "" if skipped == 1 else "s"))
    if failed and not args.keep:
        print("(rerun with --keep DIR to keep the core, truth and outputs)")
    print("%d passed, %d failed" % (passed, failed))
    return EXIT_FAIL if failed else EXIT_OK


if __name__ == "__main__":
    run_main(main, sys.argv[1:])
