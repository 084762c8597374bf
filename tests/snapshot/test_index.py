#!/usr/bin/env python3
"""The index section of snapshots (formats/FORMAT.md, INDX): the same
answers with it as without it, and a damaged one never trusted.

    test_index.py --tool PATH/TO/pyheapsnap --python SPEC [--keep DIR]
    test_index.py --tool PATH/TO/pyheapsnap --write-corpus DIR

A core of a program with a leak, shared objects, garbage cycles (the
collector off) and a frame's locals is read four ways: the core itself
(--no-cache), a snapshot with its index, the same snapshot with the index
taken out (the file an older writer leaves: the heap analysed on reading),
and the cache entry the first verb on the core leaves. `show`, `path`,
`path --all` and `top` (--json and text, ranked each way, by type) must
print the same bytes from all four.

`top -n N` reads only the largest retainers (TOPR); the others read the
index (INDX): a forged index (checksums right, every object dominated by
the roots) must change `top --type`'s answer, showing that it is read.

Then the index and the largest retainers damaged: a flipped byte must be
refused by every verb, reader of the section or not, with one line naming
the section's checksum (exit 3); the index's decoded bytes cut short,
lengthened or garbled with every checksum right must be refused by the
verbs that read it (exit 3, one line), the largest retainers' make `top`
read the whole heap (the core's answer); random garbling that still
decodes may be read. A cache entry with a damaged index must be replaced
by a read of the core, with the right answers. The committed corpus
(corpora/snapshots/index-*.phs and topr-*.phs, INDEX-index) is checked as
its index says. Skipped (exit 77) when the interpreter cannot
be had.
"""

import json
import os
import random
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
from pyhs_test import Tally, core_of, parse_runner_args, run_main, test_workdir  # noqa: E402
from test_snapshot import Snapshot, flip  # noqa: E402

TIMEOUT = 60
MESSAGE_RE = re.compile(r"^pyheapsnap: \S")
CORPUS_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "corpora", "snapshots"))
CORPUS_INDEX = os.path.join(CORPUS_DIR, "INDEX-index")

PROGRAM = r'''
import gc, os
gc.disable()
class Leaf:
    def __init__(self, i):
        self.i = i
        self.tag = "leaf-%d" % i
LEAK = [{"k%d" % i: [i, str(i) * 3, Leaf(i)]} for i in range(400)]
SHARED = ["shared"]
HOLDERS = [[SHARED, (SHARED,)], {"s": SHARED}]
for i in range(60):
    a = [i]
    b = {"other": a}
    a.append(b)
garbage = id(a)
del a, b
def work(depth):
    local_list = ["local", depth]
    if depth:
        return work(depth - 1)
    with open("addrs", "w") as f:
        f.write(" ".join(hex(x) for x in (id(LEAK), id(LEAK[7]), id(SHARED),
                                         id(local_list), garbage)))
    os.abort()
work(2)
'''


def questions(addrs):
    leak, item, shared, local, garbage = addrs
    out = []
    for a in (leak, item, shared, local, garbage):
        out.append(("show", a, "--json"))
        out.append(("path", a, "--all", "--json"))
    out += [("show", item), ("path", shared), ("path", garbage),
            ("top", "-n", "20", "--json"), ("top", "--by", "shallow", "-n", "10", "--json"),
            ("top", "--group", "type", "--json"), ("top", "-n", "15"),
            ("top", "--type", "Leaf", "-n", "5", "--json"), ("top", "-n", "5", "--json"),
            ("path", shared, "--json")]
    return out


class Tool:
    def __init__(self, args, cache):
        self.args = args
        self.cache = cache

    def run(self, q, path, extra=()):
        verb, rest = q[0], list(q[1:])
        argv = [self.args.tool, verb, path] + rest + list(extra) + self.args.tool_args
        env = dict(os.environ, PYHEAPSNAP_CACHE_DIR=self.cache)
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, timeout=TIMEOUT)
        return p.returncode, p.stdout, p.stderr

    def entries(self):
        if not os.path.isdir(self.cache):
            return []
        return sorted(os.path.join(self.cache, f) for f in os.listdir(self.cache)
                      if f.endswith(".phs"))


def one_line_error(res, pattern=None):
    """None if res is exit 3 with one 'pyheapsnap: ' line (matching
    pattern), else why not."""
    status, _, err = res
    lines = err.decode(errors="replace").splitlines()
    if status != 3:
        return "exit %d, not 3 (stderr %r)" % (status, lines[:3])
    if len(lines) != 1 or not MESSAGE_RE.match(lines[0]):
        return "stderr is not one 'pyheapsnap: ' line: %r" % lines[:3]
    if pattern and not re.search(pattern, lines[0]):
        return "message %r does not match %r" % (lines[0], pattern)
    return None


def section(snap, sid):
    for s in snap.sections:
        if s[0] == sid:
            return s
    return None


def zstd_raw(stored, codec):
    if codec == 0:
        return stored
    r = subprocess.run(["zstd", "-d", "-q", "-c"], input=stored, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("zstd -d failed: %s" % r.stderr.decode(errors="replace"))
    return r.stdout


def with_index_raw(good, raw, sid="INDX"):
    """good with its section sid replaced by raw, stored, every checksum
    right."""
    s = Snapshot(good)
    x = section(s, sid)
    x[2], x[3], x[4] = 0, raw, len(raw)
    return s.build(version=s.version)


def damaged_indexes(good):
    """[(name, section, data, what must happen)]: 'checksum' (every verb
    refuses it naming the section's checksum), 'refused' (the verbs that
    read the section refuse it), 'read whole' (the verbs that would read
    the section read the whole heap instead: the answers are the core's),
    'refused or read'."""
    snap = Snapshot(good)
    offs = dict((sid, (off, n)) for sid, off, n in snap.offsets())
    out = []
    for sid in ("INDX", "TOPR"):
        x = section(snap, sid)
        off, n = offs[sid]
        raw = zstd_raw(x[3], x[2])
        out += [("%s byte %d flipped" % (sid, k), sid, flip(good, off + k, k % 8), "checksum")
                for k in sorted({0, n // 2, n - 1})]
        for what, new in (("cut short", raw[:-1]), ("cut to a third", raw[:len(raw) // 3]),
                          ("one byte more", raw + b"\x00"), ("all 0xff", b"\xff" * len(raw)),
                          ("empty", b"")):
            out.append(("%s %s" % (sid, what), sid, with_index_raw(good, new, sid),
                        "refused" if sid == "INDX" else "read whole"))
        rng = random.Random(15)
        for k in range(8):
            b = bytearray(raw)
            for _ in range(1 + k):
                b[rng.randrange(len(b))] = rng.choice((0, 1, 2, 3, 0x7f, 0x80, 0xff))
            out.append(("%s garbled %d" % (sid, k), sid, with_index_raw(good, bytes(b), sid),
                        "refused or read"))
    return out


def strip_index(good):
    s = Snapshot(good)
    s.sections = [x for x in s.sections if x[0] != "INDX"]
    return s.build(version=s.version)


def check(args, tally, workdir):
    name = args.label
    core = core_of(args.interp, [write_program(workdir)], workdir, timeout=TIMEOUT)
    with open(os.path.join(workdir, "addrs")) as f:
        addrs = f.read().split()
    tool = Tool(args, os.path.join(workdir, "cache"))
    indexed = os.path.join(workdir, "indexed.phs")
    status, _, err = tool.run(("snapshot",), core, ["--no-cache", "-o", indexed])
    if status != 0:
        tally.fail("%s: snapshot: exit %d: %s" % (name, status, err.decode(errors="replace")))
        return
    with open(indexed, "rb") as f:
        good = f.read()
    x = section(Snapshot(good), "INDX")
    if not x:
        tally.fail("%s: the snapshot has no INDX section" % name)
        return
    if x[1] & 1:
        tally.fail("%s: the INDX section is flagged required" % name)
    else:
        tally.ok("%s: the snapshot has an optional INDX section (%d bytes stored)"
                 % (name, len(x[3])))
    plain = os.path.join(workdir, "plain.phs")
    with open(plain, "wb") as f:
        f.write(strip_index(good))

    # The same answers from the core, the snapshots and the cache.
    qs = questions(addrs)
    base = {q: tool.run(q, core, ["--no-cache"]) for q in qs}
    tool.run(("summary",), core)  # the first question fills the cache
    entries = tool.entries()
    if len(entries) != 1 or not section(Snapshot(open(entries[0], "rb").read()), "INDX"):
        tally.fail("%s: the first verb did not leave one entry with an index: %s"
                   % (name, entries))
    bad = []
    for q in qs:
        if base[q][0] != 0:
            bad.append("%s: exit %d from the core: %r" % (" ".join(q), base[q][0], base[q][2][-300:]))
            continue
        for what, path in (("indexed snapshot", indexed), ("snapshot without index", plain),
                           ("cache", core)):
            got = tool.run(q, path)
            if got != base[q]:
                bad.append("%s from the %s differs from the core (exit %d, stderr %r)"
                           % (" ".join(q), what, got[0], got[2][-300:]))
    if bad:
        tally.fail("%s: %d differences:\n  %s" % (name, len(bad), "\n  ".join(bad[:10])))
    else:
        tally.ok("%s: %d questions answered the same from the core, the indexed snapshot, "
                 "the snapshot without index and the cache" % (name, len(qs)))
    # Not a check of speed: that the index is what answered, shown by an
    # index whose checksums are right and whose dominators are all "the
    # roots" giving other retained sizes than the heap's own analysis.
    probe = ("top", "--type", "Leaf", "-n", "3", "--json")
    forged = os.path.join(workdir, "forged.phs")
    with open(forged, "wb") as f:
        f.write(with_index_raw(good, forged_index(Snapshot(good).nobjects)))
    got = tool.run(probe, forged)
    if got[0] == 0 and got[1] != tool.run(probe, indexed)[1]:
        tally.ok("%s: the verbs answer from the index (a forged one changes top)" % name)
    else:
        tally.fail("%s: a forged index did not change top (exit %d): the index is not read"
                   % (name, got[0]))

    # Damaged indexes.
    damaged = os.path.join(workdir, "damaged.phs")
    bad = []
    for what, sid, data, rule in damaged_indexes(good):
        with open(damaged, "wb") as f:
            f.write(data)
        name_re = {"INDX": "index", "TOPR": "largest retainers"}[sid]
        for q in (("top", "-n", "5", "--json"), ("top", "--type", "Leaf", "-n", "5", "--json"),
                  ("show", addrs[1], "--json"), ("path", addrs[2], "--json"),
                  ("summary", "--json")):
            got = tool.run(q, damaged)
            # top -n alone reads the largest retainers, not the index; the
            # others the index, not the largest retainers; summary neither.
            reads = "TOPR" if q[:2] == ("top", "-n") else None if q[0] == "summary" else "INDX"
            if rule == "checksum":
                why = one_line_error(got, r"checksum mismatch in section " + name_re)
            elif rule == "refused" and reads == sid:
                why = one_line_error(got, r"in section " + name_re)
            elif rule == "read whole" and q in base:
                why = None if got == base[q] else "exit %d, not the core's answer" % got[0]
            else:
                # summary does not decode the index; a garbled index that
                # still decodes, with its checksums forged, may be read.
                why = None if got[0] == 0 else one_line_error(got)
            if why:
                bad.append("%s, %s: %s" % (what, " ".join(q), why))
    if bad:
        tally.fail("%s: damaged indexes:\n  %s" % (name, "\n  ".join(bad[:10])))
    else:
        tally.ok("%s: damaged indexes refused with one line" % name)

    # A cache entry whose index is damaged: replaced, the answers right.
    entry = tool.entries()[0]
    with open(entry, "rb") as f:
        data = f.read()
    off, n = dict((sid, (o, k)) for sid, o, k in Snapshot(data).offsets())["INDX"]
    with open(entry, "wb") as f:
        f.write(flip(data, off + n // 2, 3))
    q = ("show", addrs[1], "--json")
    got = tool.run(q, core)
    after = tool.entries()
    if got != base[q]:
        tally.fail("%s: with a damaged cache entry, show differs (exit %d, %r)"
                   % (name, got[0], got[2][-300:]))
    elif len(after) != 1 or open(after[0], "rb").read() == flip(data, off + n // 2, 3):
        tally.fail("%s: the damaged cache entry was not replaced: %s" % (name, after))
    elif tool.run(q, core) != base[q]:
        tally.fail("%s: the replaced cache entry answers otherwise" % name)
    else:
        tally.ok("%s: a cache entry with a damaged index is replaced, answers right" % name)


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7f) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def forged_index(n):
    """An index of n objects, well formed, that says the roots dominate
    every object, none is garbage and every reference is explained."""
    return varint(0) + varint(1) * n + varint(0) * n + varint(0)


def write_program(workdir):
    prog = os.path.join(workdir, "prog.py")
    with open(prog, "w") as f:
        f.write(PROGRAM)
    return prog


def check_corpus(args, tally):
    """The committed files: each with the exit status and message INDEX-index
    gives for a verb that reads the index and for summary."""
    if not os.path.exists(CORPUS_INDEX):
        tally.fail("no %s" % CORPUS_INDEX)
        return
    tool = Tool(args, os.path.join("/nonexistent", "cache"))
    with open(CORPUS_INDEX) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            fname, verb, status, pattern = (line.split(" ", 3) + [""])[:4]
            path = os.path.join(CORPUS_DIR, fname)
            q = {"top": ("top", "-n", "3", "--json"), "cycles": ("cycles", "--json"),
                 "summary": ("summary", "--json")}[verb]
            got = tool.run(q, path)
            if int(status) == 0:
                why = None if got[0] == 0 else "exit %d: %r" % (got[0], got[2][-300:])
            else:
                why = one_line_error(got, pattern or None)
            if why:
                tally.fail("corpus %s, %s: %s" % (fname, verb, why))
            else:
                tally.ok("corpus %s, %s: exit %s" % (fname, verb, status))


def write_corpus(args, directory):
    """The committed corpus, from a small snapshot (300 objects) of this
    interpreter."""
    with test_workdir(args, "index-corpus") as tmp:
        core = core_of(args.interp, [write_program(tmp)], tmp, timeout=TIMEOUT)
        path = os.path.join(tmp, "small.phs")
        subprocess.run([args.tool, "snapshot", "--no-cache", "--max-objects", "300", core, "-o",
                        path] + args.tool_args,
                       check=True, stdout=subprocess.DEVNULL)
        with open(path, "rb") as f:
            good = f.read()
        snap = Snapshot(good)
        off, n = dict((sid, (o, k)) for sid, o, k in snap.offsets())["INDX"]
        raw = zstd_raw(section(snap, "INDX")[3], section(snap, "INDX")[2])
        toff, tn = dict((sid, (o, k)) for sid, o, k in snap.offsets())["TOPR"]
        traw = zstd_raw(section(snap, "TOPR")[3], section(snap, "TOPR")[2])
        files = [
            ("index-valid.phs", good, [("cycles", 0, ""), ("top", 0, ""), ("summary", 0, "")]),
            ("index-flipped.phs", flip(good, off + n // 2, 2),
             [("cycles", 3, r"checksum mismatch in section index"),
              ("top", 3, r"checksum mismatch in section index"),
              ("summary", 3, r"checksum mismatch in section index")]),
            ("index-cut.phs", with_index_raw(good, raw[:len(raw) // 2]),
             [("cycles", 3, r"in section index"), ("top", 0, ""), ("summary", 0, "")]),
            ("index-trailing.phs", with_index_raw(good, raw + b"\x00"),
             [("cycles", 3, r"in section index: 1 bytes left over"), ("summary", 0, "")]),
            ("index-bomb.phs", None, [("cycles", 3, r"does not fit"), ("top", 3, r"does not fit"),
                                      ("summary", 3, r"does not fit")]),
            ("topr-flipped.phs", flip(good, toff + tn // 2, 4),
             [("top", 3, r"checksum mismatch in section largest retainers"),
              ("cycles", 3, r"checksum mismatch in section largest retainers")]),
            ("topr-cut.phs", with_index_raw(good, traw[:len(traw) // 2], "TOPR"),
             [("top", 0, ""), ("cycles", 0, "")]),
        ]
        bomb = Snapshot(good)
        section(bomb, "INDX")[4] = (4 * bomb.nobjects + 2) * 10 + 1
        os.makedirs(directory, exist_ok=True)
        lines = []
        for fname, data, rules in files:
            data = data if data is not None else bomb.build(version=bomb.version)
            with open(os.path.join(directory, fname), "wb") as f:
                f.write(data)
            for verb, status, pattern in rules:
                lines.append("%s %s %d %s" % (fname, verb, status, pattern))
            print("wrote %s (%d bytes)" % (fname, len(data)))
        with open(os.path.join(directory, "INDEX-index"), "w") as f:
            f.write("# file, verb (cycles reads the index, top -n 3 the largest retainers,\n"
                    "# summary neither but checks their checksums), the exit status\n"
                    "# pyheapsnap must give and a regular expression its one-line message\n"
                    "# must match. Made by tests/snapshot/test_index.py --write-corpus\n"
                    "# corpora/snapshots --python /usr/bin/python3.11\n")
            f.write("\n".join(lines) + "\n")


def main():
    def add_arguments(ap):
        ap.add_argument("--write-corpus", metavar="DIR")
    args = parse_runner_args(__doc__.splitlines()[0], add_arguments)
    if args.write_corpus:
        write_corpus(args, args.write_corpus)
        return 0
    tally = Tally()
    with test_workdir(args, "index") as workdir:
        check(args, tally, workdir)
    check_corpus(args, tally)
    return tally.close()


if __name__ == "__main__":
    run_main(main)
