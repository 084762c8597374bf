#!/usr/bin/env python3
"""Tests of the ways to look at a heap: exports that other tools load (V8
heap snapshots in memlab, CSV tables, JSON lines roots, speedscope and
folded flame graphs), Graphviz output, the HTML report in headless
Chromium and the terminal browser under tmux.

    test_look.py --tool PATH/TO/pyheapsnap --python PYTHON [--label L]
                 [--third-party] [--keep DIR]

Runs tests/oracle/heap_program.py under PYTHON (with --third-party,
third_party_program.py next to this file: flask, pydantic and sympy), lets
it abort into a core, saves a snapshot of it (read faster than the core,
with the same answers), and checks each view of that heap against what
pyheapsnap's own verbs say (top, summary); the heap snapshot memlab reads is
exported from the core itself, and also loaded into the Memory panel of
Chrome DevTools (the front end Chromium bundles, driven headless by
puppeteer-core: devtools_memory.js). The npm packages the checks use
(@memlab/heap-analysis, speedscope, ajv, puppeteer-core) are installed with --ignore-scripts
into $XDG_CACHE_HOME/pyheapsnap/npm (default ~/.cache), outside the
repository, on first use.

Prints "ok NAME", "FAIL NAME: why" or "skip NAME: why" per check, the times
memlab and pyheapsnap take for the same graph, then "N passed, N failed,
N skipped". Exit status: 0 if nothing failed, 1 if something did, 77 if the
interpreter or its core cannot be had.
"""

import csv
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from pyhs_test import (NoCore, ProgramFailed, core_of, parse_runner_args, run_main,  # noqa: E402
                       test_workdir)

NPM_PACKAGES = ["@memlab/heap-analysis@2", "speedscope@1", "ajv@8", "puppeteer-core@24"]


class Failure(Exception):
    pass


class Skip(Exception):
    pass


class Look:
    def __init__(self, tool, core, workdir):
        self.tool = tool
        self.core = core
        self.workdir = workdir
        self._summary = None

    def run(self, *args, timeout=300, check=True):
        t0 = time.monotonic()
        p = subprocess.run([self.tool] + list(args), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        self.last_seconds = time.monotonic() - t0
        if check and p.returncode != 0:
            raise Failure("pyheapsnap %s exited %d: %s" % (
                " ".join(args), p.returncode, p.stderr.decode(errors="replace").strip()[:500]))
        if check and p.stderr:
            raise Failure("pyheapsnap %s wrote to stderr: %s" % (
                " ".join(args), p.stderr.decode(errors="replace")[:500]))
        return p

    def path(self, name):
        return os.path.join(self.workdir, name)

    def summary(self):
        if self._summary is None:
            self._summary = json.loads(self.run("summary", "--json", self.core).stdout)
        return self._summary

    def addresses(self):
        """Object addresses in object order (the order of every export)."""
        out = self.run("export", "--format", "jsonl", self.core).stdout.decode()
        return [json.loads(line)["addr"] for line in out.splitlines()[1:]
                if line.startswith('{"addr"')]


def npm_dir():
    """node_modules with the npm packages the checks use, installed on
    first use; Skip if node or npm is missing or the install fails."""
    if not shutil.which("node") or not shutil.which("npm"):
        raise Skip("node and npm are not installed")
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    prefix = os.path.join(cache, "pyheapsnap", "npm")
    mods = os.path.join(prefix, "node_modules")
    wanted = [os.path.join(mods, "@memlab", "heap-analysis"), os.path.join(mods, "speedscope"),
              os.path.join(mods, "ajv"), os.path.join(mods, "puppeteer-core")]
    if all(os.path.isdir(w) for w in wanted):
        return mods
    os.makedirs(prefix, exist_ok=True)
    p = subprocess.run(["npm", "install", "--prefix", prefix, "--ignore-scripts", "--no-audit",
                        "--no-fund", "--loglevel=error"] + NPM_PACKAGES,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=600)
    if p.returncode != 0 or not all(os.path.isdir(w) for w in wanted):
        raise Skip("npm install %s failed: %s" % (" ".join(NPM_PACKAGES),
                                                  p.stdout.decode(errors="replace")[-300:]))
    return mods


def node(script, *args, timeout=600):
    env = dict(os.environ, NODE_PATH=npm_dir())
    p = subprocess.run(["node", os.path.join(HERE, script)] + list(args), env=env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    if p.returncode != 0:
        raise Failure("node %s: %s" % (script, p.stderr.decode(errors="replace")[-800:]))
    return json.loads(p.stdout.decode().strip().splitlines()[-1])


# ---------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------

def check_heapsnapshot(look):
    """memlab loads the .heapsnapshot, computes dominators and retained sizes
    itself, and its ten largest are ours (top), object for object."""
    out = look.path("heap.heapsnapshot")
    look.run("export", "--format", "heapsnapshot", "-o", out, look.original_core)
    export_s = look.last_seconds
    ours = json.loads(look.run("top", "--json", "-n", "10", look.core).stdout)
    top_s = look.last_seconds
    theirs = node("memlab_retained.js", out, "10")
    addrs = look.addresses()
    if theirs["nodes"] != len(addrs) + 1:
        raise Failure("memlab read %d nodes, the heap has %d objects (+1 root)"
                      % (theirs["nodes"], len(addrs)))
    got = [(t["retained"], addrs[(t["id"] - 3) // 2]) for t in theirs["top"]]
    want = [(o["retained"], o["addr"]) for o in ours]
    if got != want:
        raise Failure("memlab's ten largest retained %s, ours %s" % (
            [(r, hex(a)) for r, a in got], [(r, hex(a)) for r, a in want]))
    print("  memlab: %.2f s to load %d nodes and compute retained sizes; pyheapsnap:"
          " %.2f s to export, %.2f s for top" % (theirs["seconds"], theirs["nodes"],
                                                 export_s, top_s))


def devtools_bytes(text):
    """(low, high): the bytes a size as DevTools shows it ("3,717 kB",
    "1.7 kB", "832 B") can stand for, rounded to its last digit."""
    m = re.match(r"^([\d,]+)(?:\.(\d+))?\s*(B|kB|MB|GB)$", text.replace("\xa0", " "))
    if not m:
        raise Failure("DevTools shows a size %r this test does not read" % text)
    scale = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}[m.group(3)]
    value = float(m.group(1).replace(",", "") + "." + (m.group(2) or "0"))
    half = 0.5 * 10 ** -len(m.group(2) or "") * scale
    return value * scale - half, value * scale + half


def check_devtools(look):
    """Chrome DevTools' own Memory panel (the front end bundled in Chromium,
    driven by puppeteer-core) loads the .heapsnapshot without an error; its
    Summary counts each class as we count the type, and the retained size it
    shows for each object it lists under our ten largest objects' classes is
    ours to its rounding, our ten largest among them. A truncated copy must
    not load (the check can tell a failed load)."""
    browser = chromium()
    mods = npm_dir()
    out = look.path("heap.heapsnapshot")
    if not os.path.exists(out):
        look.run("export", "--format", "heapsnapshot", "-o", out, look.original_core)
    # DevTools' distance search counts the root's children as distinct
    # nodes; a heap whose roots share objects and that has little garbage
    # overflows it ("BFS failed") when they are not.
    with open(out, encoding="utf-8") as f:
        snap = json.load(f)
    nroot = snap["nodes"][4]
    targets = [snap["edges"][3 * k + 2] for k in range(nroot)]
    if len(set(targets)) != nroot:
        raise Failure("the synthetic root has %d edges to %d objects" % (nroot, len(set(targets))))
    del snap
    bad = look.path("truncated.heapsnapshot")
    with open(out, "rb") as f, open(bad, "wb") as g:
        g.write(f.read()[:os.path.getsize(out) // 2])
    everything = json.loads(look.run("top", "--json", "-n", str(look.summary()["objects"]),
                                     look.core).stdout)
    top = everything[:10]
    classes = []
    for o in top:
        if o["type"] not in classes:
            classes.append(o["type"])
    env = dict(os.environ, NODE_PATH=mods)
    p = subprocess.run(["node", os.path.join(HERE, "devtools_memory.js"), browser,
                        tempfile.mkdtemp(prefix="devtools-", dir=look.workdir), out,
                        ",".join(classes), bad], env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    if p.returncode != 0:
        raise Failure("driving DevTools failed: %s" % p.stderr.decode(errors="replace")[-800:])
    got = json.loads(p.stdout.decode().strip().splitlines()[-1])
    if not got["loaded"]:
        raise Failure("DevTools did not load the file: %r, errors %r" % (got["status"],
                                                                       got["errors"]))
    if got["errors"]:
        raise Failure("DevTools logged errors loading the file: %r" % got["errors"][:5])
    if got.get("bad_status") is None:
        raise Failure("DevTools seemed to load a truncated file: the check cannot tell a failure")
    counts = {}
    for o in everything:
        counts[o["type"]] = counts.get(o["type"], 0) + 1
    seen = 0
    for c in got["classes"]:
        if "\u00d7" not in c["name"]:
            continue
        name, count = c["name"].rsplit("\u00d7", 1)
        ours = counts.get("str" if name == "(string)" else name)
        if ours is not None:
            seen += 1
            if int(count.replace(",", "")) != ours:
                raise Failure("DevTools counts %s %s, we count %d" % (count, name, ours))
    if seen < 5:
        raise Failure("DevTools' Summary shows %d of our types: %r" % (seen, got["classes"][:5]))
    addrs = look.addresses()
    retained = {o["addr"]: o["retained"] for o in everything}
    shown = {}
    for o in got["objects"]:
        addr = addrs[(o["id"] - 3) // 2]
        low, high = devtools_bytes(o["retained"])
        if not low <= retained[addr] <= high:
            raise Failure("DevTools shows %s retained by %s @%d (0x%x); ours is %d bytes" % (
                o["retained"], o["name"], o["id"], addr, retained[addr]))
        shown[addr] = o
    missing = [hex(o["addr"]) for o in top if o["addr"] not in shown]
    if missing:
        raise Failure("DevTools does not list our largest objects %s under their classes"
                      % missing)
    print("  DevTools: %.2f s to load and show %d nodes; %d objects' retained sizes compared"
          % (got["seconds"], len(addrs) + 1, len(shown)))


def check_jsonl_roots(look):
    out = look.run("export", "--format", "jsonl", look.core).stdout.decode().splitlines()
    header = json.loads(out[0])
    objects = {}
    roots = []
    for line in out[1:]:
        rec = json.loads(line)
        if "root" in rec:
            roots.append(rec)
        else:
            objects[rec["addr"]] = rec
    if header.get("format_version") != 2:
        raise Failure("format_version %r, not 2" % header.get("format_version"))
    if header["roots"] != len(roots) or not roots:
        raise Failure("header says %r roots, %d root lines" % (header["roots"], len(roots)))
    missing = [r for r in roots if r["object"] not in objects]
    if missing:
        raise Failure("roots name objects not exported: %r" % missing[:3])
    labels = {r["root"] for r in roots}
    for want in ("sys.modules", "builtins"):
        if not any(want in label for label in labels):
            raise Failure("no root labelled %r among %r" % (want, sorted(labels)[:10]))


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def check_csv(look):
    d = look.path("tables")
    look.run("export", "--format", "csv", "-o", d, look.core)
    objects = read_csv(os.path.join(d, "objects.csv"))
    edges = read_csv(os.path.join(d, "edges.csv"))
    roots = read_csv(os.path.join(d, "roots.csv"))
    s = look.summary()
    if len(objects) != s["objects"] or sum(int(o["size"]) for o in objects) != s["bytes"]:
        raise Failure("objects.csv: %d objects, %d bytes; summary: %d, %d" % (
            len(objects), sum(int(o["size"]) for o in objects), s["objects"], s["bytes"]))
    if len(edges) != s["edges"]:
        raise Failure("edges.csv: %d rows; summary: %d references" % (len(edges), s["edges"]))
    addrs = {o["addr"] for o in objects}
    bad = [e for e in edges if e["src"] not in addrs or e["dst"] not in addrs]
    if bad:
        raise Failure("edges name objects not in objects.csv: %r" % bad[:3])
    if not roots or any(r["object"] not in addrs for r in roots):
        raise Failure("roots.csv: %d roots, some not in objects.csv" % len(roots))
    if not any(e["kind"] == "value" and e["label"].startswith("['") for e in edges):
        raise Failure("edges.csv has no dict value labels")


PANDAS_CHECK = r"""
import sys
import pandas as pd
d = sys.argv[1]
o = pd.read_csv(d + "/objects.csv")
e = pd.read_csv(d + "/edges.csv", keep_default_na=False)
r = pd.read_csv(d + "/roots.csv")
assert str(o["addr"].dtype) == "int64" and str(o["size"].dtype) == "int64", o.dtypes
assert str(e["src"].dtype) == "int64" and str(e["dst"].dtype) == "int64", e.dtypes
assert str(r["object"].dtype) == "int64", r.dtypes
print(len(o), int(o["size"].sum()), len(e), len(r))
"""


def check_csv_pandas(look):
    py = "/usr/bin/python3.11"
    if not os.access(py, os.X_OK) or subprocess.run(
            [py, "-c", "import pandas"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL).returncode != 0:
        raise Skip("no pandas for /usr/bin/python3.11 (Debian python3-pandas)")
    d = look.path("tables")
    if not os.path.isdir(d):
        look.run("export", "--format", "csv", "-o", d, look.core)
    p = subprocess.run([py, "-c", PANDAS_CHECK, d], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=300)
    if p.returncode != 0:
        raise Failure("pandas: %s" % p.stderr.decode(errors="replace")[-600:])
    n, size, ne, nr = map(int, p.stdout.split())
    s = look.summary()
    if (n, size, ne) != (s["objects"], s["bytes"], s["edges"]):
        raise Failure("pandas read %d objects, %d bytes, %d edges; summary says %d, %d, %d"
                      % (n, size, ne, s["objects"], s["bytes"], s["edges"]))


def check_speedscope(look):
    out = look.path("heap.speedscope.json")
    look.run("export", "--format", "speedscope", "-o", out, look.core)
    got = node("speedscope_validate.js", out)
    if got["weights"] != look.summary()["bytes"]:
        raise Failure("speedscope weights add up to %d, summary says %d bytes"
                      % (got["weights"], look.summary()["bytes"]))


FOLDED_RE = re.compile(r"^[^;\n]+(;[^;\n]+)* (\d+)$")


def check_folded(look):
    out = look.run("export", "--format", "folded", look.core).stdout.decode()
    total = 0
    stacks = set()
    for line in out.split("\n")[:-1]:
        m = FOLDED_RE.match(line)
        if not m:
            raise Failure("not a folded stack line: %r" % line[:300])
        stack = line[:line.rindex(" ")]
        if stack in stacks:
            raise Failure("stack written twice: %r" % stack[:300])
        stacks.add(stack)
        total += int(m.group(2))
    if total != look.summary()["bytes"]:
        raise Failure("folded weights add up to %d, summary says %d bytes"
                      % (total, look.summary()["bytes"]))
    # The largest holder of the heap is a frame of the graph.
    top = json.loads(look.run("top", "--json", "-n", "1", look.core).stdout)[0]
    if not any(top["type"] in s for s in stacks):
        raise Failure("no stack names the type of the largest holder, %s" % top["type"])


def dot_render(look, dot_text, name):
    if not shutil.which("dot"):
        raise Skip("Graphviz's dot is not installed (Debian graphviz)")
    src = look.path(name + ".dot")
    with open(src, "wb") as f:
        f.write(dot_text)
    p = subprocess.run(["dot", "-Tsvg", src, "-o", look.path(name + ".svg")],
                       stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
    if p.returncode != 0 or p.stderr:
        raise Failure("dot -Tsvg %s: exit %d: %s" % (name, p.returncode,
                                                     p.stderr.decode(errors="replace")[:500]))
    with open(look.path(name + ".svg"), encoding="utf-8") as f:
        return html.unescape(f.read())


def check_path_dot(look):
    # An object some steps from a root: the 30th largest retainer.
    target = json.loads(look.run("top", "--json", "-n", "30", look.core).stdout)[-1]
    paths = json.loads(look.run("path", "--json", "--all", look.core, hex(target["addr"])).stdout)
    svg = dot_render(look, look.run("path", "--format", "dot", "--all", look.core,
                                    hex(target["addr"])).stdout, "path")
    want = ["0x%x" % target["addr"]] + ["0x%x" % st["addr"] for p in paths["paths"]
                                         for st in p["steps"]]
    want += [p["root"] for p in paths["paths"]]
    missing = [w for w in want if w not in svg]
    if missing:
        raise Failure("the rendered path lacks %r" % missing[:5])


def check_cycles_dot(look):
    cycles = json.loads(look.run("cycles", "--json", look.core).stdout)[:5]
    if not cycles:
        raise Failure("the heap has no cycles to draw")
    svg = dot_render(look, look.run("cycles", "--format", "dot", "-n", "5", look.core).stdout,
                     "cycles")
    for c in cycles:
        first = "0x%x" % sorted(c["objects"])[0] if len(c["objects"]) <= 200 else None
        if first and first not in svg:
            raise Failure("the rendered cycles lack object %s of a cycle of %d"
                          % (first, len(c["objects"])))
    if svg.count("<g id=\"clust") != len(cycles):
        raise Failure("%d clusters drawn for %d cycles" % (svg.count("<g id=\"clust"),
                                                           len(cycles)))


def chromium():
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    raise Skip("Chromium is not installed (Debian chromium)")


def run_chromium(look, url, *args):
    """Headless Chromium on url with its network log; returns (stdout, the
    requests the page made: URLs other than file: that Chromium did not
    start itself). Every request goes to a dead proxy on the loopback
    address and every host name fails to resolve, so nothing leaves the
    machine whatever the page asks."""
    profile = tempfile.mkdtemp(prefix="chromium-", dir=look.workdir)
    netlog = os.path.join(profile, "net.json")
    p = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                        "--host-resolver-rules=MAP * ~NOTFOUND",
                        "--user-data-dir=" + profile, "--log-net-log=" + netlog,
                        "--virtual-time-budget=5000"] + list(args) + [url],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    if p.returncode != 0:
        raise Failure("chromium %s exited %d: %s" % (" ".join(args), p.returncode,
                                                      p.stderr.decode(errors="replace")[-500:]))
    with open(netlog) as f:
        log = json.load(f)
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    requests = set()
    for e in log["events"]:
        params = e.get("params") or {}
        if (names.get(e["type"]) == "URL_REQUEST_START_JOB" and "url" in params and
                not params.get("url", "").startswith("file:") and
                params.get("initiator") != "not an origin"):
            requests.add(params.get("url", ""))
    return p.stdout, sorted(requests)


def png_pixels(path):
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB or RGBA PNG."""
    import struct
    import zlib
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise Failure("%s is not a PNG" % path)
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 6) or interlace:
                raise Skip("PNG of depth %d, colour type %d: not decoded here" % (depth, ctype))
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        ft, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ft == 1:
                line[x] = (line[x] + a) & 255
            elif ft == 2:
                line[x] = (line[x] + b) & 255
            elif ft == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif ft == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def check_report(look):
    out = look.path("report.html")
    stats = json.loads(look.run("report", "--json", "-o", out, look.core).stdout)
    if stats["tree_nodes"] < 2:
        raise Failure("the report's tree has %d nodes" % stats["tree_nodes"])
    with open(out, encoding="utf-8") as f:
        text = f.read()
    if "Content-Security-Policy" not in text or "default-src 'none'" not in text:
        raise Failure("the report does not forbid loads with a Content-Security-Policy")
    # The network check can fail: a page that loads something is caught.
    control = look.path("control.html")
    with open(control, "w") as f:
        f.write('<html><body><img src="http://127.0.0.1:9/x.png">control</body></html>')
    _, requests = run_chromium(look, "file://" + control, "--dump-dom")
    if not any("127.0.0.1:9/x.png" in r for r in requests):
        raise Failure("the network log does not show the control page's request: %r" % requests)
    dom, requests = run_chromium(look, "file://" + out, "--dump-dom")
    if requests:
        raise Failure("the report made network requests: %r" % requests[:5])
    dom = dom.decode("utf-8", errors="replace")
    top = json.loads(look.run("top", "--json", "-n", "1", look.core).stdout)[0]
    if "0x%x" % top["addr"] not in dom:
        raise Failure("the report does not name the top holder 0x%x" % top["addr"])
    icicle = dom[dom.find('id="icicle"'):]
    nodes = re.findall(r'<div class="node[^"]*"[^>]*>([^<]*)</div>', icicle)
    if len(nodes) < 3:
        raise Failure("the icicle drew %d nodes" % len(nodes))
    if not any(top["type"] in n for n in nodes[:20]):
        raise Failure("no node near the icicle's top names %s: %r" % (top["type"], nodes[:8]))
    check_report_groups(text)


GROUP_RE = re.compile(r"^.* \u00d7(\d+) \((\d+) objects\)$")


def check_report_groups(text):
    """The groups of small subtrees in the report's tree say how many
    subtrees they stand for; the groups inside a group hold, between them,
    what its subtrees hold below their tops: objects and bytes."""
    m = re.search(r'<script type="application/json" id="tree-data">(.*?)</script>', text, re.S)
    nodes = json.loads(m.group(1))["nodes"]
    kids = {}
    for i, n in enumerate(nodes):
        kids.setdefault(n[4], []).append(i)
    inner = 0
    for i, n in enumerate(nodes):
        g = GROUP_RE.match(n[0]) if n[5] else None
        if n[5] and not g and not n[0].endswith(" other holder names)"):
            raise Failure("a group's label does not say what it groups: %r" % n[0])
        if not g or i not in kids:
            continue
        inner += 1
        subtrees, count = int(g.group(1)), int(g.group(2))
        below = [nodes[k] for k in kids[i]]
        if (count != n[3] or sum(b[3] for b in below) != count - subtrees
                or sum(b[1] for b in below) != n[1] - n[2]):
            raise Failure("the groups inside %r hold %d objects, %d bytes; it has %d below its"
                          " %d tops, %d bytes" % (n[0], sum(b[3] for b in below),
                                                  sum(b[1] for b in below), count - subtrees,
                                                  subtrees, n[1] - n[2]))
    if not inner:
        raise Failure("no group of the report's tree shows what its subtrees hold")


def check_report_screenshot(look):
    out = look.path("report.html")
    if not os.path.exists(out):
        look.run("report", "-o", out, look.core)
    shot = look.path("report.png")
    run_chromium(look, "file://" + out, "--window-size=1280,1600", "--screenshot=" + shot)
    w, h, bpp, rows = png_pixels(shot)
    colours, saturated = set(), 0
    for y in range(0, h, 2):
        row = rows[y]
        for x in range(0, w * bpp, bpp * 2):
            r, g, b = row[x], row[x + 1], row[x + 2]
            colours.add((r, g, b))
            saturated += max(r, g, b) - min(r, g, b) > 50
    sampled = (h // 2) * (w // 2)
    # A blank page has one colour; the icicle's bars are the page's only
    # strongly coloured area.
    if len(colours) < 16 or saturated < sampled // 500:
        raise Failure("the screenshot looks blank: %d colours, %d of %d sampled pixels coloured"
                      % (len(colours), saturated, sampled))


def check_report_growth(look):
    grow = os.path.join(os.path.dirname(HERE), "diff", "grow_program.py")
    cores = []
    for entries in ("100", "2100"):
        try:
            cores.append(core_of(look.python, [grow, entries], look.workdir,
                                 subdir="grow-" + entries))
        except ProgramFailed as e:
            raise Failure(str(e))
        except NoCore as e:
            raise Skip(str(e))
    out = look.path("growth.html")
    stats = json.loads(look.run("report", "--json", "-o", out, *cores).stdout)
    if stats["growth_rows"] < 1:
        raise Failure("no growth rows between the two heaps")
    dom, requests = run_chromium(look, "file://" + out, "--dump-dom")
    dom = html.unescape(dom.decode("utf-8", errors="replace"))
    section = dom[dom.find('id="growth"'):dom.find('id="retainers"')]
    m = re.search(r"\+2000</td><td[^>]*>__main__\.Leaky under module __main__ global CACHE", section)
    if not m:
        raise Failure("the growth section does not show +2000 __main__.Leaky under CACHE: %r"
                      % section[:800])


class Tmux:
    """pyheapsnap browse in an 80x24 tmux window of a server of its own."""

    def __init__(self, look, name):
        if not shutil.which("tmux"):
            raise Skip("tmux is not installed")
        # A server of its own, its socket in the work directory (removed
        # with it).
        self.sock = look.path("tmux-%s.sock" % name)
        self.rc = look.path("browse-%s.rc" % name)
        cmd = "TERM=xterm-256color exec %s browse %s" % (look.tool, look.core)
        self.tmux("new-session", "-d", "-s", "b", "-x", "80", "-y", "24",
                  "sh -c 'trap \"\" INT; %s; echo $? > %s; sleep 30'"
                  % (cmd.replace("exec ", ""), self.rc))

    def tmux(self, *args):
        p = subprocess.run(["tmux", "-S", self.sock, "-f", "/dev/null"] + list(args),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        if p.returncode != 0 and args[0] not in ("kill-server",):
            raise Failure("tmux %s: %s" % (args[0], p.stderr.decode(errors="replace")))
        return p.stdout.decode(errors="replace")

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "b")

    def wait_for(self, text, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.screen()
            if text in s:
                return s
            time.sleep(0.3)
        raise Failure("the browser never showed %r; the screen:\n%s" % (text, self.screen()))

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "b", *keys)

    def exit_status(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(self.rc):
                with open(self.rc) as f:
                    text = f.read().strip()
                if text:
                    return int(text)
            time.sleep(0.2)
        raise Failure("the browser did not exit; the screen:\n%s" % self.screen())

    def close(self):
        self.tmux("kill-server")


def screen_bytes(text):
    """Bytes of a size as the browser shows it: "832 B", "1.6 KiB"."""
    number, unit = text.split()
    return float(number) * 1024 ** ["B", "KiB", "MiB", "GiB", "TiB"].index(unit)


def check_browse(look):
    first = json.loads(look.run("browse", "--json", look.core).stdout)["rows"]
    top = json.loads(look.run("top", "--json", "-n", "1", look.core).stdout)[0]
    if first[0]["addr"] != top["addr"]:
        raise Failure("browse's first row is 0x%x, top's largest 0x%x" % (first[0]["addr"],
                                                                         top["addr"]))
    t = Tmux(look, "keys")
    try:
        screen = t.wait_for("sorted by retained")
        lines = screen.split("\n")
        if len(lines) < 24 or max(len(line) for line in lines) > 80:
            raise Failure("the screen is not 80x24:\n%s" % screen)
        name = first[0]["holder"][:40]
        if name not in lines[2]:
            raise Failure("the first row is not the largest holder %r:\n%s" % (name, screen))
        t.keys("Enter")
        screen = t.wait_for(" pyheapsnap browse  " + first[0]["holder"][:30])
        t.keys("s")
        t.wait_for("sorted by own size")
        t.keys("BSpace")
        screen = t.wait_for(" pyheapsnap browse  roots")
        own = [screen_bytes(line[11:21]) for line in screen.split("\n")[2:23] if line.strip()]
        if len(own) < 2 or own != sorted(own, reverse=True):
            raise Failure("going up, the view is not in the new order (own size):\n%s" % screen)
        t.keys("p")
        t.wait_for("path from a root to 0x%x" % first[0]["addr"])
        t.keys("x")
        t.wait_for("Enter: in")
        t.keys("/")
        t.wait_for("find:")
        t.keys(first[1]["holder"][:12], "Enter")
        t.wait_for("found '%s'" % first[1]["holder"][:12])
        t.tmux("resize-window", "-t", "b", "-x", "100", "-y", "30")
        screen = t.wait_for("retained")
        if len(screen.split("\n")) < 30:
            raise Failure("the browser did not redraw at 100x30:\n%s" % screen)
        t.keys("q")
        status = t.exit_status()
        if status != 0:
            raise Failure("q exited %d" % status)
    finally:
        t.close()


def check_browse_interrupt(look):
    t = Tmux(look, "int")
    try:
        t.wait_for("sorted by retained")
        t.keys("C-c")
        status = t.exit_status()
        if status != 130:
            raise Failure("Ctrl-C exited %d, not 130" % status)
    finally:
        t.close()


def check_browse_closed_tty(look):
    t = Tmux(look, "hup")
    try:
        t.wait_for("sorted by retained")
        pids = subprocess.run(["pgrep", "-f", "browse %s" % look.core], stdout=subprocess.PIPE,
                              timeout=30).stdout.split()
        if not pids:
            raise Failure("cannot find the browser's process")
        t.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(os.path.exists("/proc/%s" % p.decode())
                                                  for p in pids):
            time.sleep(0.2)
        left = [p.decode() for p in pids if os.path.exists("/proc/%s" % p.decode())]
        if left:
            raise Failure("the browser is still running after its terminal closed: %s" % left)
    finally:
        t.close()


def run_on_pty(look, *args):
    """Runs pyheapsnap with stderr on a pseudo-terminal (stdout to a pipe);
    returns (wall seconds, what stderr got, stdout)."""
    import pty
    master, slave = pty.openpty()
    t0 = time.monotonic()
    p = subprocess.Popen([look.tool] + list(args), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    got = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        got += chunk
    out = p.stdout.read()
    p.wait(timeout=300)
    os.close(master)
    return time.monotonic() - t0, got.decode(errors="replace"), out


def check_progress(look):
    seconds, err, _ = run_on_pty(look, "top", look.original_core)
    shown = "pyheapsnap: " in err
    if shown and not err.endswith("\r\x1b[K"):
        raise Failure("the progress line is not erased at the end: %r" % err[-200:])
    # Between 0.9 and 3 s, either is right: the second counts from when
    # the input is opened, not from when the process starts.
    if seconds > 3.0 and not shown:
        raise Failure("top took %.1f s with stderr on a terminal and showed no progress" % seconds)
    if seconds < 0.9 and shown:
        raise Failure("top took %.1f s and showed progress: %r" % (seconds, err[:200]))
    steps = ("walking the heap", "reading values", "reconciling refcounts", "finding garbage",
             "finding roots", "dominator tree", "retained sizes")
    if shown and not re.match(r"^(\rpyheapsnap: (%s)(: [\d,]+ objects)?, \d+\.\d s\x1b\[K"
                              r"(\r\x1b\[K)?)+$" % "|".join(steps), err):
        raise Failure("the progress does not say what it is doing: %r" % err[:300])
    seconds_json, err_json, _ = run_on_pty(look, "top", "--json", look.original_core)
    if err_json:
        raise Failure("top --json wrote to a terminal's stderr: %r" % err_json[:200])
    print("  top: %.1f s, progress %s; with --json: %.1f s, none" % (
        seconds, "shown" if shown else "not shown (under a second)", seconds_json))


CHECKS = [
    ("heapsnapshot in memlab", check_heapsnapshot),
    ("heapsnapshot in DevTools", check_devtools),
    ("jsonl roots", check_jsonl_roots),
    ("csv tables", check_csv),
    ("csv tables in pandas", check_csv_pandas),
    ("speedscope schema", check_speedscope),
    ("folded stacks", check_folded),
    ("path as dot", check_path_dot),
    ("cycles as dot", check_cycles_dot),
    ("report in chromium", check_report),
    ("report screenshot", check_report_screenshot),
    ("report of two heaps", check_report_growth),
    ("browse under tmux", check_browse),
    ("browse interrupted", check_browse_interrupt),
    ("browse with its terminal closed", check_browse_closed_tty),
    ("progress on a terminal", check_progress),
]


def main(argv):
    def add_arguments(p):
        p.add_argument("--third-party", action="store_true")
        p.add_argument("--only", help="run the checks whose name has this text")
    args = parse_runner_args(__doc__.split("\n\n")[0], add_arguments, argv=argv)
    interp = args.interp
    with test_workdir(args, "look") as workdir:
        if args.third_party:
            program = [os.path.join(HERE, "third_party_program.py")]
        else:
            program = [os.path.join(os.path.dirname(HERE), "oracle", "heap_program.py"),
                       os.path.join(workdir, "truth.jsonl")]
        core = core_of(interp, program, workdir)
        # The checks read a snapshot of the core (the same heap, read
        # faster); the heap snapshot for memlab is exported from the core.
        snap = os.path.join(workdir, "heap.phs")
        look = Look(os.path.abspath(args.tool), core, workdir)
        look.run("snapshot", core, "-o", snap)
        look.original_core, look.core = core, snap
        look.python = interp
        passed = failed = skipped = 0
        for name, fn in CHECKS:
            if args.only and args.only not in name:
                continue
            try:
                fn(look)
            except Skip as e:
                print("skip %s: %s" % (name, e))
                skipped += 1
            except (Failure, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as e:
                print("FAIL %s: %s" % (name, e))
                failed += 1
            else:
                print("ok %s" % name)
                passed += 1
            sys.stdout.flush()
        print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
        return 1 if failed else 0


if __name__ == "__main__":
    run_main(main, sys.argv[1:])
