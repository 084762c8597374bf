#!/usr/bin/env python3
"""asyncio tasks end to end: `pyheapsnap tasks` against what asyncio says.

    test_tasks.py --tool PYHEAPSNAP --interpreter LABEL [--keep DIR]
                  [--tool-args ARG ...]

LABEL names one of the interpreters `tests/pyhs_test.py --list` prints
(pyenv-3.11, sid-3.14d, ...; meson makes one test of each), or the test
when --python SPEC gives the interpreter.  For it, tasks_program.py runs
with tasks in every kind of wait (a sleep three coroutines deep, an Event,
a gather of two tasks, an await of another task, a TaskGroup where asyncio
has one, a pure-Python Task, one not started yet, one whose coroutine's
__qualname__ reads like a place and a state, "sleeper (decoy.py:1)
FINISHED", so that its preview misleads) and finished and cancelled tasks
kept in a list; it records asyncio's own view of each (id, name, state, the
get_coro() chain through cr_await / gi_yieldfrom with function, file and
line) and aborts inside the running loop.  Then, from the core, from a
snapshot of it and from the live process (--pid):

  * pyheapsnap lists exactly the tasks asyncio knows (by address), each
    with asyncio's name and state and, line for line, its coroutine chain;
  * the waits are named: the awaited task, the gather and its children,
    the Event, the sleep's timer, the TaskGroup and its children;
  * every pending task is found where asyncio registers it (_all_tasks,
    or _scheduled_tasks / _eager_tasks from 3.12 on, and from 3.14 on the
    thread state's list of tasks);
  * the snapshot gives the same answer as the core;
  * with the core patched so that a coroutine awaits its own awaiter, the
    task is listed with the coroutines before the loop, marked, and the
    loop counted as a warning.

A core of a program without asyncio, and one of a program whose loop has
closed, must each say so and exit 0; `summary` of one with 3,000 tasks
parked in one coroutine names them as a suspect.

Exit status 0 pass, 1 fail, 77 skipped (interpreter not installed, or no
core could be had).
"""

import json
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pyhs_test import core_of, parse_runner_args, run_main, test_workdir  # noqa: E402


HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAM = os.path.join(HERE, "tasks_program.py")


def run_tool(tool, args, timeout=120):
    p = subprocess.run([tool] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def tasks_json(tool, args, problems, what):
    rc, out, err = run_tool(tool, ["tasks", "--json"] + args)
    if rc != 0:
        problems.append("%s: tasks exited %d: %s" % (what, rc, err.strip()[:300]))
        return None
    try:
        return json.loads(out)
    except ValueError as e:
        problems.append("%s: tasks --json is not JSON: %s" % (what, e))
        return None


def check(truth, got, what, problems):
    version = tuple(truth["version"])
    by_addr = {t["addr"]: t for t in got["tasks"]}
    want = {t["addr"]: t for t in truth["tasks"]}
    for addr in sorted(set(want) - set(by_addr)):
        problems.append("%s: task %s (%s) not found" % (what, want[addr]["name"], want[addr]["state"]))
    for addr in sorted(set(by_addr) - set(want)):
        problems.append("%s: task %s at 0x%x is not one asyncio knows" % (what, by_addr[addr]["name"], addr))
    by_name = {}
    for addr, w in want.items():
        g = by_addr.get(addr)
        if not g:
            continue
        by_name[w["name"]] = g
        if g["name"] != w["name"]:
            problems.append("%s: task at 0x%x named %r, asyncio says %r" % (what, addr, g["name"], w["name"]))
        if g["state"] != w["state"]:
            problems.append("%s: task %s is %s, asyncio says %s" % (what, w["name"], g["state"], w["state"]))
        stack = [(f["function"], f["file"], f["line"]) for f in g["coroutine_stack"]]
        chain = [(f["function"], f["file"], f["line"]) for f in w["chain"]]
        if stack != chain:
            problems.append("%s: task %s: coroutine stack %r, asyncio says %r" % (what, w["name"], stack, chain))
        if g["retained"] <= 0:
            problems.append("%s: task %s retains %r bytes" % (what, w["name"], g["retained"]))
        if g["corrupt"]:
            problems.append("%s: task %s marked corrupt" % (what, w["name"]))
        if w["state"] == "pending" and not (
                set(g["found_in"]) & {"all_tasks", "scheduled_tasks", "eager_tasks", "thread_list"}):
            problems.append("%s: pending task %s not found in asyncio's registry (found in %r)"
                            % (what, w["name"], g["found_in"]))
    if got["warnings"]["count"]:
        problems.append("%s: %d warnings on a clean heap: %r" % (what, got["warnings"]["count"],
                                                               got["warnings"]["examples"]))

    def awaits(name, text):
        g = by_name.get(name)
        if g and (g["awaits"] is None or text not in g["awaits"]):
            problems.append("%s: task %s awaits %r, not something with %r" % (what, name, g["awaits"], text))

    def awaited_by(name, parent, via):
        g = by_name.get(name)
        if g and not any(a["name"] == parent and a["via"] == via for a in g["awaited_by"]):
            problems.append("%s: task %s awaited by %r, not by %s (%s)" % (what, name, g["awaited_by"], parent, via))

    g = by_name.get("not-started")
    if g and "ready" not in g["found_in"]:
        problems.append("%s: task not-started found in %r, not in the loop's _ready"
                        % (what, g["found_in"]))
    awaits("awaiter", "task conn-3")
    awaited_by("conn-3", "awaiter", "await")
    awaits("sleep-deep", "timer")
    awaits("event-waiter", "Event")
    awaits("gatherer", "gather of gather-child-0, gather-child-1")
    awaited_by("gather-child-0", "gatherer", "gather")
    awaited_by("gather-child-1", "gatherer", "gather")
    if version >= (3, 11):
        awaits("tg-parent", "TaskGroup")
        awaited_by("tg-child-0", "tg-parent", "TaskGroup")
        awaited_by("tg-child-1", "tg-parent", "TaskGroup")
    if len(got["loops"]) != 1 or got["loops"][0]["closed"]:
        problems.append("%s: loops %r, not one open loop" % (what, got["loops"]))


def core_segments(data):
    """(vaddr, offset, filesz) of each PT_LOAD of an ELF64 core."""
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    out = []
    for i in range(phnum):
        p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + i * phentsize)
        if p_type == 1:
            out.append((p_vaddr, p_offset, p_filesz))
    return out


def test_loop(tool, tool_args, truth, core, workdir, problems):
    """The chain of sleep-deep made to loop (mid awaits top again, where it
    awaited leaf): the task is still listed, with top and mid, marked, and
    the loop counted in the warnings."""
    task = [t for t in truth["tasks"] if t["name"] == "sleep-deep"][0]
    top, mid, leaf = task["chain"][:3]
    with open(core, "rb") as f:
        data = bytearray(f.read())
    # 3.11+ keep the awaited object in the coroutine, <= 3.10 in its frame.
    where, size = (mid["frame"], mid["frame_size"]) if mid["frame_size"] and \
        tuple(truth["version"]) < (3, 11) else (mid["addr"], mid["size"])
    old, new = struct.pack("<Q", leaf["addr"]), struct.pack("<Q", top["addr"])
    patched = 0
    for vaddr, offset, filesz in core_segments(data):
        if vaddr <= where < vaddr + filesz:
            start = offset + (where - vaddr)
            at = data.find(old, start, start + size)
            if at >= 0 and (at - start) % 8 == 0:
                data[at:at + 8] = new
                patched += 1
    if patched != 1:
        problems.append("loop: found the awaited pointer %d times in the core" % patched)
        return
    looped = os.path.join(workdir, "looped.core")
    with open(looped, "wb") as f:
        f.write(data)
    got = tasks_json(tool, tool_args + [looped], problems, "loop")
    os.unlink(looped)
    if not got:
        return
    t = [t for t in got["tasks"] if t["name"] == "sleep-deep"]
    if not t:
        problems.append("loop: sleep-deep not listed")
        return
    stack = [f["function"] for f in t[0]["coroutine_stack"]]
    if stack != ["top", "mid"] or not t[0]["corrupt"] or got["warnings"]["count"] != 1 or \
            "loops" not in " ".join(got["warnings"]["examples"]):
        problems.append("loop: sleep-deep listed with %r, corrupt %r, warnings %r"
                        % (stack, t[0]["corrupt"], got["warnings"]))


# (name, program, verb, what its text output must say)
MESSAGE_CASES = [
    ("no asyncio", "import os; os.abort()", "tasks", "no asyncio"),
    ("closed loop", "import asyncio, os\n"
     "async def f(): return 1\n"
     "loop = asyncio.new_event_loop()\n"
     "loop.run_until_complete(f())\n"
     "loop.close()\nos.abort()", "tasks", "the event loop is closed"),
    # Thousands of tasks parked in one coroutine: a suspect in summary.
    ("suspects", "import asyncio, os\n"
     "async def handler(i):\n"
     "    await asyncio.sleep(1000)\n"
     "async def main():\n"
     "    for i in range(3000):\n"
     "        asyncio.ensure_future(handler(i))\n"
     "    await asyncio.sleep(0.1)\n"
     "    os.abort()\n"
     "asyncio.new_event_loop().run_until_complete(main())\n",
     "summary", "3,000 pending tasks suspended in handler (<string>:3)"),
]


def test_messages(tool, py, workdir, problems):
    for name, code, verb, says in MESSAGE_CASES:
        core = core_of(py, ["-c", code], workdir, timeout=60, subdir=name.replace(" ", "-"))
        rc, out, err = run_tool(tool, [verb] + py.tool_args + [core])
        if rc != 0 or says not in out:
            problems.append("%s: %s exit %d, no %r in %r %r"
                            % (name, verb, rc, says, out.strip()[-300:], err.strip()))


def test_pid(tool, py, workdir, problems):
    d = os.path.join(workdir, "pid")
    os.mkdir(d)
    truth_path = os.path.join(d, "truth.json")
    proc = subprocess.Popen(py.argv("-I", PROGRAM, truth_path, "pid"), cwd=d,
                            env=py.environ(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline().decode().strip()
        if line != "ready":
            problems.append("pid: the program said %r, not ready: %s"
                            % (line, proc.stderr.read().decode(errors="replace")[:300]))
            return
        with open(truth_path) as f:
            truth = json.load(f)
        got = tasks_json(tool, py.tool_args + ["--pid", str(proc.pid)], problems, "pid")
        if got:
            check(truth, got, "pid", problems)
    finally:
        proc.kill()
        proc.wait()


def main():
    args = parse_runner_args(__doc__.splitlines()[0], lambda p: p.add_argument(
        "--interpreter", dest="label", help="the same as --label"))
    with test_workdir(args, "tasks") as workdir:
        return run(args, workdir)


def run(args, workdir):
    py, label, tool_args = args.interp, args.interp.label, args.tool_args
    problems = []
    truth_path = os.path.join(workdir, "truth.json")
    core = core_of(py, [PROGRAM, truth_path, "core"], workdir)
    with open(truth_path) as f:
        truth = json.load(f)
    got = tasks_json(args.tool, tool_args + [core], problems, "core")
    if got:
        check(truth, got, "core", problems)
        snap = os.path.join(workdir, "tasks.phs")
        rc, _, err = run_tool(args.tool, ["snapshot"] + tool_args + [core, "-o", snap])
        if rc != 0:
            problems.append("snapshot: exit %d: %s" % (rc, err.strip()))
        else:
            from_snap = tasks_json(args.tool, [snap], problems, "snapshot")
            if from_snap is not None and from_snap != got:
                problems.append("snapshot: tasks differ from the core's")
        rc, out, err = run_tool(args.tool, ["tasks"] + tool_args + [core])
        if rc != 0 or "(T) sleep-deep" not in out:
            problems.append("text: exit %d, no sleep-deep task in %r" % (rc, out[:300]))
        test_loop(args.tool, tool_args, truth, core, workdir, problems)
    n = len(truth["tasks"])
    if args.given_tool_args:
        if problems:
            for p in problems:
                print("FAIL %s %s: %s" % (label, " ".join(args.given_tool_args), p))
            return 1
        print("ok %s %s: %d tasks from the core and a snapshot"
              % (label, " ".join(args.given_tool_args), n))
        return 0
    test_messages(args.tool, py, workdir, problems)
    test_pid(args.tool, py, workdir, problems)
    if problems:
        for p in problems:
            print("FAIL %s: %s" % (label, p))
        return 1
    states = [t["state"] for t in truth["tasks"]]
    print("ok %s: %d tasks (%s) from the core, a snapshot and --pid" % (
        label, n, ", ".join("%d %s" % (states.count(s), s) for s in sorted(set(states)))))
    return 0


if __name__ == "__main__":
    run_main(main)
