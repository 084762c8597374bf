#!/usr/bin/env python3
"""A corpus of corrupted cores, made from a real one.

    make_corrupt_cores.py --tool PATH/TO/pyheapsnap --out DIR [--python PY]...

Makes a core of PROGRAM below with each interpreter (default: the ones
find_pythons() finds: /usr/bin/python3.11 and a pyenv 3.12), learns its
objects from `pyheapsnap export`, and writes each corrupted variant
corrupt_cases() makes into DIR as LABEL-CASE.core (a few MB each: mind the
disk).  test_corrupt_cores.py uses the same functions and keeps no files.

The cases, all from one pristine core:

  * the ELF framing: truncations at many offsets (inside the ELF header,
    the program headers, the notes, the memory), the ELF header's and the
    program headers' fields made absurd, the memory at odd file offsets, note sizes and NT_FILE's count,
    page size and names made absurd, NT_FILE naming a directory and a
    FIFO (opening a FIFO blocks until a writer comes: it must not be
    opened), zstd: the core compressed, then truncated, flipped, and a
    256 KiB frame that expands to 8 GiB;
  * the memory: bit flips and zeroed pages in the writable segments, GC
    lists turned into loops (an object's _gc_next aimed at itself or at an
    earlier object), pointers aimed at NULL, unmapped, non-canonical and
    kernel addresses and at the object itself (ob_type, ob_item, ma_keys),
    reference counts of 2^63, sizes that lie (list, tuple, str, int, dict),
    objects given the type of another, types that are their own base, the
    function and code types with instances of a megabyte, every tuple
    claiming a million items (each one then overlaps the heap after it) and
    every list's items being the biggest segment.

Every case is deterministic (seeded by its name).
"""

import argparse
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pyhs_test import Skip, core_of, interpreter, pyenv_interpreter  # noqa: E402


# The heap the cores hold: a few of each container, instances with a
# __dict__ and with __slots__, and 3000 functions (so that a walker that
# pays a megabyte per function when the function type lies about its size,
# see function-and-code-types-basicsize-1mib, takes long enough to show).
PROGRAM = """\
import collections, os
class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y
class Slotted:
    __slots__ = ("a", "b")
    def __init__(self, a, b):
        self.a = a
        self.b = b
POINTS = [Point(i, str(i)) for i in range(200)]
TABLE = {"key-%d" % i: (i, i * 1.5, b"v%d" % i) for i in range(300)}
SLOTS = [Slotted(i, [i]) for i in range(50)]
QUEUE = collections.deque(range(100))
SETS = [frozenset({i, i + 1}) for i in range(30)]
BIG = 2 ** 200
HANDLERS = [(lambda event, n=i: (event, n)) for i in range(3000)]
CYCLE = []
CYCLE.append(CYCLE)
os.abort()
"""

PROGRAM_TIMEOUT = 60.0

PT_LOAD, PT_NOTE = 1, 4
PF_W = 2
NT_FILE = 0x46494C45
NT_PRSTATUS = 1
NT_AUXV = 6

UNMAPPED = 0xDEAD0000
KERNEL = 0xFFFF800000000000
NONCANONICAL = 0x0000800000000000


# ---------------------------------------------------------------------------
# Interpreters and cores
# ---------------------------------------------------------------------------

def find_pythons():
    """[(label, Interpreter)]: Debian's python3.11 and pyenv's 3.12, those
    installed."""
    found = [("python3.11", interpreter("/usr/bin/python3.11")),
             ("pyenv-3.12", pyenv_interpreter("3.12"))]
    return [(label, i) for label, i in found if i.path]


def named_pythons(paths):
    """[(label, Interpreter)] for --python PATH ..."""
    return [(os.path.basename(p), interpreter(p)) for p in paths]


def make_core(interp, workdir):
    """Runs PROGRAM with interp in workdir until it aborts; the core's path."""
    return core_of(interp, ["-S", "-c", PROGRAM], workdir, timeout=PROGRAM_TIMEOUT,
                   env=interp.bare_environ())


def export_objects(tool, core):
    """[(addr, type, size, gen)] of the core's heap, from `pyheapsnap export`."""
    r = subprocess.run([tool, "export", core], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    if r.returncode != 0:
        raise Skip("pyheapsnap export of the pristine core failed (exit %d): %s"
                   % (r.returncode, r.stderr.decode(errors="replace").strip()[:300]))
    objs = []
    for line in r.stdout.decode("utf-8", errors="replace").splitlines()[1:]:
        o = json.loads(line)
        if "root" in o:  # the root records follow the objects
            continue
        objs.append((o["addr"], o["type"], o["size"], o["gen"]))
    return objs


# ---------------------------------------------------------------------------
# The core's structure
# ---------------------------------------------------------------------------

class Core:
    """An x86-64 ELF core's program headers, notes and memory."""

    def __init__(self, data):
        self.data = bytes(data)
        if self.data[:4] != b"\x7fELF" or len(self.data) < 64:
            raise Skip("the core is not an ELF file")
        self.phoff, = struct.unpack_from("<Q", self.data, 32)
        self.phentsize, self.phnum = struct.unpack_from("<HH", self.data, 54)
        self.phdrs = []  # (index, type, flags, offset, vaddr, filesz, memsz)
        for i in range(self.phnum):
            at = self.phoff + 56 * i
            t, fl, off, va, _pa, fs, ms, _al = struct.unpack_from("<IIQQQQQQ", self.data, at)
            self.phdrs.append((i, t, fl, off, va, fs, ms))
        self.loads = [p for p in self.phdrs if p[1] == PT_LOAD]
        self.notes = []  # (type, name, header offset, desc offset, descsz)
        for p in self.phdrs:
            if p[1] != PT_NOTE:
                continue
            pos, end = p[3], p[3] + p[5]
            while pos + 12 <= end:
                namesz, descsz, ntype = struct.unpack_from("<III", self.data, pos)
                name_at = pos + 12
                desc_at = name_at + ((namesz + 3) & ~3)
                name = self.data[name_at:name_at + namesz].rstrip(b"\0")
                self.notes.append((ntype, name, pos, desc_at, descsz))
                pos = desc_at + ((descsz + 3) & ~3)
        self.writable = [p for p in self.loads if p[2] & PF_W and p[5] > 0]

    def phdr_at(self, i):
        return self.phoff + 56 * i

    def note(self, ntype):
        for n in self.notes:
            if n[0] == ntype and n[1] == b"CORE":
                return n
        return None

    def offset_of(self, addr, n=8):
        """File offset of [addr, addr + n) if the core holds those bytes."""
        for _i, _t, _fl, off, va, fs, _ms in self.loads:
            if va <= addr and addr + n <= va + fs and off + (addr - va) + n <= len(self.data):
                return off + (addr - va)
        return None

    def word(self, addr):
        at = self.offset_of(addr)
        return None if at is None else struct.unpack_from("<Q", self.data, at)[0]

    def nt_file_names(self):
        """[(file offset, length)] of the names in NT_FILE."""
        n = self.note(NT_FILE)
        if not n:
            return []
        desc = n[3]
        count, = struct.unpack_from("<Q", self.data, desc)
        pos = desc + 16 + 24 * count
        end = desc + n[4]
        names = []
        for _ in range(count):
            z = self.data.find(b"\0", pos, end)
            if z < 0:
                break
            names.append((pos, z - pos))
            pos = z + 1
        return names


class Patch:
    """A copy of the core's bytes to change."""

    def __init__(self, core):
        self.core = core
        self.buf = bytearray(core.data)

    def put(self, at, raw):
        if at is not None and 0 <= at and at + len(raw) <= len(self.buf):
            self.buf[at:at + len(raw)] = raw

    def u64(self, at, v):
        self.put(at, struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF))

    def u32(self, at, v):
        self.put(at, struct.pack("<I", v & 0xFFFFFFFF))

    def u16(self, at, v):
        self.put(at, struct.pack("<H", v & 0xFFFF))

    def word(self, addr, v):
        self.u64(self.core.offset_of(addr), v)

    def bytes(self):
        return bytes(self.buf)


# ---------------------------------------------------------------------------
# zstd, for the compressed cases (the zstd program, if there is one)
# ---------------------------------------------------------------------------

def zstd_compress(data):
    z = shutil.which("zstd")
    if not z:
        return None
    r = subprocess.run([z, "-1", "-q", "-c"], input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, timeout=120)
    return r.stdout if r.returncode == 0 else None


def zstd_bomb(gib=8):
    """A zstd frame of RLE blocks of 128 KiB each: 4 bytes each, gib GiB in
    all (256 KiB of file for 8 GiB), no content size in the header."""
    out = bytearray(b"\x28\xb5\x2f\xfd" + bytes([0x00, 0x38]))  # window 128 KiB
    n = gib * 8192
    for i in range(n):
        h = (131072 << 3) | (1 << 1) | (1 if i == n - 1 else 0)
        out += struct.pack("<I", h)[:3] + b"\0"
    return bytes(out)


def zstd_then_zeros(data, gib):
    """One zstd frame: data in raw blocks, then gib GiB of zeros in RLE
    blocks of 128 KiB (4 bytes each), no content size in the header."""
    out = bytearray(b"\x28\xb5\x2f\xfd" + bytes([0x00, 0x38]))  # window 128 KiB
    blocks = [(0, data[i:i + 131072]) for i in range(0, len(data), 131072)]
    blocks += [(1, None)] * (gib * 8192)
    for k, (rle, chunk) in enumerate(blocks):
        last = 1 if k == len(blocks) - 1 else 0
        n = 131072 if rle else len(chunk)
        out += struct.pack("<I", (n << 3) | (rle << 1) | last)[:3]
        out += b"\0" if rle else chunk
    return bytes(out)


# ---------------------------------------------------------------------------
# The cases
# ---------------------------------------------------------------------------

def _flip(buf, pos, bit):
    buf[pos] ^= 1 << bit


def corrupt_cases(core_bytes, objects, fifo_path=None, dir_path=None):
    """[(name, thunk)]: thunk() gives the corrupted core's bytes.

    objects: export_objects() of the pristine core.  fifo_path, dir_path:
    an existing FIFO and directory to name in NT_FILE (where their paths
    fit, as long as a name already there)."""
    core = Core(core_bytes)
    cases = []

    size = len(core.data)
    by_type = {}
    for o in objects:
        by_type.setdefault(o[1], []).append(o)
    tracked = [o for o in objects if o[3] in (0, 1, 2)]

    def pick(kind, n, name):
        lst = by_type.get(kind, [])
        rnd = random.Random(zlib.crc32(name.encode()))
        return rnd.sample(lst, min(n, len(lst)))

    # -- the ELF framing -------------------------------------------------

    first_load = min((p[3] for p in core.loads if p[5]), default=size // 2)
    notes_at = [n[2] for n in core.notes]
    cuts = {0, 1, 4, 16, 40, 63, 64, 64 + 20, core.phoff + 56 * (core.phnum // 2) + 7,
            core.phoff + 56 * core.phnum}
    cuts.update(notes_at[:3])
    cuts.update(n[3] + 5 for n in core.notes[:3])
    ntf = core.note(NT_FILE)
    if ntf:
        cuts.add(ntf[3] + ntf[4] // 2)
    cuts.update({first_load, first_load + 4096 + 13, size // 3, size // 2, size - 4096, size - 1})
    rnd = random.Random(1)
    cuts.update(rnd.randrange(first_load, size) for _ in range(6))
    for cut in sorted(c for c in cuts if 0 <= c < size):
        cases.append(("truncated-at-%d" % cut, lambda cut=cut: core.data[:cut]))

    def patch_case(name, fn):
        """A case made by fn(Patch of the core)."""
        def make():
            p = Patch(core)
            fn(p)
            return p.bytes()
        cases.append((name, make))

    patch_case("ehdr-phoff-huge", lambda p: p.u64(32, 1 << 62))
    patch_case("ehdr-phoff-past-end", lambda p: p.u64(32, size - 20))
    patch_case("ehdr-phnum-zero", lambda p: p.u16(56, 0))
    patch_case("ehdr-phnum-max", lambda p: p.u16(56, 0xFFFF))
    patch_case("ehdr-phentsize-odd", lambda p: p.u16(54, 55))
    patch_case("ehdr-type-exec", lambda p: p.u16(16, 2))
    patch_case("ehdr-machine-arm", lambda p: p.u16(18, 183))
    patch_case("ehdr-class-32", lambda p: p.put(4, b"\x01"))
    patch_case("ehdr-shoff-garbage", lambda p: (p.u64(40, (1 << 64) - 64), p.u16(60, 0xFFFF),
                                                 p.u16(62, 0xFFFE)))

    def each_load(fn):
        def apply(p):
            for ph in core.loads:
                fn(p, core.phdr_at(ph[0]), ph)
        return apply

    patch_case("phdr-offset-huge", each_load(lambda p, at, ph: p.u64(at + 8, (1 << 63) + ph[3])))
    patch_case("phdr-filesz-huge", each_load(lambda p, at, ph: p.u64(at + 32, 1 << 62)))
    patch_case("phdr-filesz-above-memsz", each_load(lambda p, at, ph: p.u64(at + 40, ph[6] // 2)))
    patch_case("phdr-vaddr-wraps", each_load(lambda p, at, ph: p.u64(at + 16, (1 << 64) - 4096)))
    patch_case("phdr-vaddr-all-same", each_load(lambda p, at, ph: p.u64(at + 16, core.loads[0][4])))
    patch_case("phdr-vaddr-kernel", each_load(lambda p, at, ph: p.u64(at + 16, KERNEL + ph[4])))
    patch_case("phdr-memsz-max", each_load(lambda p, at, ph: p.u64(at + 40, (1 << 64) - 1)))
    patch_case("phdr-loads-become-null", each_load(lambda p, at, ph: p.u32(at, 0)))
    patch_case("phdr-note-becomes-load",
                lambda p: [p.u32(core.phdr_at(ph[0]), PT_LOAD) for ph in core.phdrs if ph[1] == PT_NOTE])
    patch_case("phdr-note-filesz-huge",
                lambda p: [p.u64(core.phdr_at(ph[0]) + 32, 1 << 40) for ph in core.phdrs if ph[1] == PT_NOTE])
    patch_case("phdr-note-past-end",
                lambda p: [p.u64(core.phdr_at(ph[0]) + 8, size + 100) for ph in core.phdrs if ph[1] == PT_NOTE])

    def notes_case(name, fn):
        def make():
            p = Patch(core)
            for n in core.notes:
                fn(p, n)
            return p.bytes()
        cases.append((name, make))

    notes_case("notes-namesz-huge", lambda p, n: p.u32(n[2], 0xFFFFFFF0))
    notes_case("notes-descsz-huge", lambda p, n: p.u32(n[2] + 4, 0xFFFFFFF0))
    notes_case("notes-descsz-zero", lambda p, n: p.u32(n[2] + 4, 0))
    notes_case("notes-descsz-short", lambda p, n: p.u32(n[2] + 4, 12))
    notes_case("notes-all-nt-file", lambda p, n: p.u32(n[2] + 8, NT_FILE))
    notes_case("notes-all-prstatus", lambda p, n: p.u32(n[2] + 8, NT_PRSTATUS))
    notes_case("notes-all-auxv", lambda p, n: p.u32(n[2] + 8, NT_AUXV))
    if ntf:
        desc = ntf[3]
        patch_case("nt-file-count-huge", lambda p: p.u64(desc, 1 << 60))
        patch_case("nt-file-count-plus-one", lambda p: p.u64(desc, struct.unpack_from("<Q", core.data, desc)[0] + 1))
        patch_case("nt-file-page-size-zero", lambda p: p.u64(desc + 8, 0))
        patch_case("nt-file-page-size-huge", lambda p: p.u64(desc + 8, 1 << 63))

        def nt_entries(fn):
            def apply(p):
                count, = struct.unpack_from("<Q", core.data, desc)
                for i in range(count):
                    fn(p, desc + 16 + 24 * i)
            return apply

        patch_case("nt-file-start-after-end", nt_entries(lambda p, at: p.u64(at, (1 << 64) - 1)))
        patch_case("nt-file-offsets-huge", nt_entries(lambda p, at: p.u64(at + 16, 1 << 60)))
        patch_case("nt-file-ranges-swapped", nt_entries(
            lambda p, at: p.put(at, core.data[at + 8:at + 16] + core.data[at:at + 8])))
        names = core.nt_file_names()
        patch_case("nt-file-names-unterminated",
                    lambda p: [p.put(at + ln, b"/") for at, ln in names])
        patch_case("nt-file-names-empty",
                    lambda p: [p.put(at, b"\0" * ln) for at, ln in names])
        patch_case("nt-file-names-relative",
                    lambda p: [p.put(at, b"x") for at, ln in names])

        def rename(name, target):
            """Every NT_FILE name at least as long as target, but the
            interpreter's (so that the core still opens), becomes target,
            padded with slashes ("/a" and "///a" name the same file)."""
            tb = target.encode()
            hits = [(at, ln) for at, ln in names if ln >= len(tb) and
                    b"python" not in core.data[at:at + ln]]
            if not hits:
                return
            def apply(p):
                for at, ln in hits:
                    p.put(at, b"/" * (ln - len(tb)) + tb)
            patch_case(name, apply)

        if dir_path:
            rename("nt-file-names-a-directory", dir_path)
        if fifo_path:
            rename("nt-file-names-a-fifo", fifo_path)
        rename("nt-file-names-dev-zero", "/dev/zero")
        rename("nt-file-names-proc-self-mem", "/proc/self/mem")
        rename("nt-file-names-proc-self-fd-0", "/proc/self/fd/0")
    auxv = core.note(NT_AUXV)
    if auxv:
        def auxv_values(v):
            def apply(p):
                for i in range(0, auxv[4] - 15, 16):
                    key, = struct.unpack_from("<Q", core.data, auxv[3] + i)
                    if key in (9, 31):  # AT_ENTRY, AT_EXECFN
                        p.u64(auxv[3] + i + 8, v)
            return apply
        patch_case("auxv-entry-execfn-kernel", auxv_values(KERNEL))
        patch_case("auxv-entry-execfn-unmapped", auxv_values(UNMAPPED))

    def flips_in(name, lo, hi, n):
        def make():
            r = random.Random(zlib.crc32(name.encode()))
            buf = bytearray(core.data)
            for _ in range(n):
                _flip(buf, r.randrange(lo, hi), r.randrange(8))
            return bytes(buf)
        cases.append((name, make))

    def misaligned():
        # One byte inserted before the memory: every segment's bytes at an
        # odd offset in the file (and so, mapped, at odd addresses).
        buf = bytearray(core.data)
        for ph in core.phdrs:
            if ph[3] >= first_load:
                struct.pack_into("<Q", buf, core.phdr_at(ph[0]) + 8, ph[3] + 1)
        buf[first_load:first_load] = b"\0"
        return bytes(buf)
    cases.append(("segments-at-odd-file-offsets", misaligned))

    meta_end = max([core.phoff + 56 * core.phnum] + [n[3] + n[4] for n in core.notes])
    for k in range(4):
        flips_in("flips-in-headers-and-notes-%d" % k, 0, min(meta_end, size), 4 + 4 * k)

    zcore = [None]

    def compressed():
        if zcore[0] is None:
            zcore[0] = zstd_compress(core.data) or b""
        return zcore[0]

    if shutil.which("zstd"):
        cases.append(("zstd-whole", compressed))
        cases.append(("zstd-truncated-half", lambda: compressed()[:len(compressed()) // 2]))
        cases.append(("zstd-truncated-tail", lambda: compressed()[:-3]))

        def zflip():
            buf = bytearray(compressed())
            r = random.Random(7)
            for _ in range(20):
                _flip(buf, r.randrange(16, len(buf)), r.randrange(8))
            return bytes(buf)
        cases.append(("zstd-flipped", zflip))

        def zsize_lies():
            # The frame header's content size made huge, in whatever width
            # the header gives it.
            buf = bytearray(compressed())
            fhd = buf[4]
            single = (fhd >> 5) & 1
            width = [1 if single else 0, 2, 4, 8][fhd >> 6]
            at = 5 + (0 if single else 1) + [0, 1, 2, 4][fhd & 3]
            if width:
                value = (1 << 39) if width == 8 else (1 << (8 * width)) - 1
                buf[at:at + width] = value.to_bytes(width, "little")
            return bytes(buf)
        cases.append(("zstd-content-size-lies", zsize_lies))
    cases.append(("zstd-bomb-8-gib", zstd_bomb))
    # The core, then 8 GiB of zeros its headers do not account for: read
    # no further than they do.
    cases.append(("zstd-core-then-8-gib-of-zeros",
                  lambda: zstd_then_zeros(core.data, 8)))

    def zclaims():
        # The last segment claims 1 TiB of file, and the stream goes on
        # with zeros: refused from the headers, before decompressing more.
        buf = bytearray(core.data)
        last = core.loads[-1]
        struct.pack_into("<Q", buf, core.phoff + 56 * last[0] + 32, 1 << 40)
        return zstd_then_zeros(bytes(buf), 8)
    cases.append(("zstd-segment-claims-1-tib", zclaims))

    # -- the memory ------------------------------------------------------

    if core.writable:
        wr = [(p[3], p[3] + p[5]) for p in core.writable]
        total = sum(b - a for a, b in wr)

        def at_writable(x):
            for a, b in wr:
                if x < b - a:
                    return a + x
                x -= b - a
            return wr[-1][1] - 1

        def mem_flips(name, n):
            def make():
                r = random.Random(zlib.crc32(name.encode()))
                buf = bytearray(core.data)
                for _ in range(n):
                    _flip(buf, at_writable(r.randrange(total)), r.randrange(8))
                return bytes(buf)
            cases.append((name, make))

        for k, n in enumerate([10, 10, 100, 100, 1000, 1000, 10000, 10000]):
            mem_flips("memory-bit-flips-%d-%d" % (n, k), n)

        def zero_pages(name, n, pages):
            def make():
                r = random.Random(zlib.crc32(name.encode()))
                buf = bytearray(core.data)
                for _ in range(n):
                    at = at_writable(r.randrange(total)) & ~4095
                    ln = 4096 * pages
                    buf[at:at + ln] = bytes(len(buf[at:at + ln]))
                return bytes(buf)
            cases.append((name, make))

        for k, (n, pages) in enumerate([(1, 1), (4, 1), (16, 1), (64, 1), (4, 16), (1, 256)]):
            zero_pages("memory-zeroed-pages-%dx%d" % (n, pages), n, pages)

        def segment_zeroed(name, which):
            def make():
                buf = bytearray(core.data)
                _i, _t, _fl, off, _va, fs, _ms = which
                buf[off:off + fs] = bytes(len(buf[off:off + fs]))
                return bytes(buf)
            cases.append((name, make))

        for k, ph in enumerate(sorted(core.writable, key=lambda p: -p[5])[:3]):
            segment_zeroed("memory-segment-zeroed-%d" % k, ph)

    if tracked:
        def gc_self_loops(p):
            for o in random.Random(11).sample(tracked, min(5, len(tracked))):
                p.word(o[0] - 16, o[0] - 16)
        patch_case("gc-next-to-itself", gc_self_loops)

        def gc_back(p):
            r = random.Random(12)
            for _ in range(5):
                a, b = sorted(r.sample(tracked, 2))
                p.word(b[0] - 16, a[0] - 16)
                p.word(a[0] - 16, b[0] - 16)
        patch_case("gc-next-loop-pairs", gc_back)

        def gc_many(p):
            r = random.Random(13)
            for o in r.sample(tracked, min(200, len(tracked))):
                p.word(o[0] - 16, r.choice(tracked)[0] - 16)
        patch_case("gc-next-redirected-200", gc_many)
        patch_case("gc-next-wild", lambda p: [p.word(o[0] - 16, v) for o, v in zip(
            random.Random(14).sample(tracked, min(4, len(tracked))),
            [0, UNMAPPED, KERNEL, NONCANONICAL])])
        patch_case("gc-prev-garbage", lambda p: [p.word(o[0] - 8, 0x4141414141414141)
                                                   for o in tracked[:500]])
        patch_case("gc-next-tagged", lambda p: [p.word(o[0] - 16, (p.core.word(o[0] - 16) or 0) | 3)
                                                  for o in tracked[:50]])

    bad_values = [("null", 0), ("unmapped", UNMAPPED), ("kernel", KERNEL),
                  ("noncanonical", NONCANONICAL), ("odd", 0x1001), ("max", (1 << 64) - 8)]
    for field, off, kinds in [("ob_type", 8, None), ("ob_item", 24, ["list"]),
                              ("ma_keys", 32, ["dict"]), ("tuple_item", 24, ["tuple"])]:
        for vname, v in bad_values:
            name = "%s-%s" % (field, vname)
            pool = objects if kinds is None else [o for o in objects if o[1] in kinds]
            if not pool:
                continue
            targets = random.Random(zlib.crc32(name.encode())).sample(pool, min(40, len(pool)))
            patch_case(name, lambda p, targets=targets, off=off, v=v:
                         [p.word(o[0] + off, v) for o in targets])
        name = "%s-itself" % field
        pool = objects if kinds is None else [o for o in objects if o[1] in kinds]
        if pool:
            targets = random.Random(zlib.crc32(name.encode())).sample(pool, min(40, len(pool)))
            patch_case(name, lambda p, targets=targets, off=off:
                         [p.word(o[0] + off, o[0]) for o in targets])

    def sizes(name, kinds, off, values, n=40):
        pool = [o for o in objects if o[1] in kinds]
        if not pool:
            return
        targets = random.Random(zlib.crc32(name.encode())).sample(pool, min(n, len(pool)))
        patch_case(name, lambda p: [p.word(o[0] + off, values[i % len(values)])
                                      for i, o in enumerate(targets)])

    big = [1 << 63, 1 << 40, (1 << 64) - 1, 1 << 31, (1 << 63) - 1]
    sizes("refcnt-huge", set(by_type), 0, big + [0], n=500)
    sizes("list-ob-size-lies", {"list"}, 16, big)
    sizes("list-allocated-lies", {"list"}, 32, big)
    sizes("tuple-ob-size-lies", {"tuple"}, 16, big)
    sizes("str-length-lies", {"str"}, 16, big, n=200)
    sizes("str-state-garbage", {"str"}, 32, [0xFFFFFFFF, 0x1C, 0x04], n=200)
    sizes("int-size-lies", {"int"}, 16, big)
    sizes("bytes-size-lies", {"bytes"}, 16, big)
    sizes("dict-ma-used-lies", {"dict"}, 16, big)
    sizes("set-mask-lies", {"set", "frozenset"}, 32, big)
    sizes("deque-len-lies", {"collections.deque"}, 16, big)

    dicts = [o for o in objects if o[1] == "dict"]
    if dicts:
        def keys_lies(p, log2, nentries):
            for o in random.Random(21).sample(dicts, min(40, len(dicts))):
                keys = core.word(o[0] + 32)
                if keys:
                    if log2 is not None:
                        p.put(core.offset_of(keys + 8, 1), bytes([log2]))
                    if nentries is not None:
                        p.word(keys + 24, nentries)
        patch_case("dict-keys-log2-size-63", lambda p: keys_lies(p, 63, None))
        patch_case("dict-keys-log2-size-40", lambda p: keys_lies(p, 40, 1 << 39))
        patch_case("dict-keys-nentries-2-to-40", lambda p: keys_lies(p, None, 1 << 40))

    def confuse(name, src_kind, dst_kinds, n=40):
        src = by_type.get(src_kind)
        pool = [o for o in objects if o[1] in dst_kinds]
        if not src or not pool:
            return
        t = core.word(src[0][0] + 8)
        if t is None:
            return
        targets = random.Random(zlib.crc32(name.encode())).sample(pool, min(n, len(pool)))
        patch_case(name, lambda p: [p.word(o[0] + 8, t) for o in targets])

    confuse("type-confusion-as-dict", "dict", {"str", "tuple", "int", "bytes", "float"})
    confuse("type-confusion-as-list", "list", {"str", "dict", "int", "function"})
    confuse("type-confusion-as-tuple", "tuple", {"str", "int", "float", "code"})
    confuse("type-confusion-as-type", "type", {"dict", "str", "tuple"})
    confuse("type-confusion-as-str", "str", {"dict", "list", "type"})

    types = [o for o in objects if o[1] == "type"]
    if types:
        # PyTypeObject: tp_basicsize at 32, tp_flags at 168, tp_base at
        # 256, tp_dict at 264, tp_mro at 344 (3.11 and 3.12).
        targets = random.Random(31).sample(types, min(40, len(types)))
        patch_case("type-is-its-own-base", lambda p: [
            (p.word(o[0] + 256, o[0]), p.word(o[0] + 344, o[0])) for o in targets])
        patch_case("type-basicsize-huge", lambda p: [p.word(o[0] + 32, 1 << 40) for o in targets])
        patch_case("type-flags-all", lambda p: [p.word(o[0] + 168, (1 << 64) - 1) for o in targets])
        patch_case("type-dict-wild", lambda p: [p.word(o[0] + 264, KERNEL) for o in targets])

    def type_of(kind):
        """The address of the type object of the objects of a kind."""
        lst = by_type.get(kind)
        return core.word(lst[0][0] + 8) if lst else None

    scanned = [t for t in (type_of("function"), type_of("code")) if t]
    if scanned:
        # The walker scans these objects' words: a megabyte each.
        patch_case("function-and-code-types-basicsize-1mib",
                     lambda p: [p.word(t + 32, (1 << 20) - 8) for t in scanned])

    tuples = [o for o in objects if o[1] == "tuple"]
    if tuples:
        patch_case("every-tuple-claims-a-million-items",
                     lambda p: [p.word(o[0] + 16, 1 << 20) for o in tuples])
    lists = [o for o in objects if o[1] == "list"]
    if lists and core.writable:
        biggest = max(core.writable, key=lambda ph: ph[5])
        patch_case("every-list-over-the-biggest-segment", lambda p: [
            (p.word(o[0] + 24, biggest[4]), p.word(o[0] + 16, biggest[5] // 8)) for o in lists])
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tool", required=True, help="the pyheapsnap executable")
    ap.add_argument("--out", required=True, help="directory for the corrupted cores")
    ap.add_argument("--python", action="append", help="interpreter(s) to make cores with")
    args = ap.parse_args()
    tool = os.path.abspath(args.tool)
    os.makedirs(args.out, exist_ok=True)
    pythons = named_pythons(args.python) if args.python else find_pythons()
    if not pythons:
        print("no interpreter found", file=sys.stderr)
        return 1
    work = tempfile.mkdtemp(prefix="pyhs-corrupt-")
    try:
        for label, python in pythons:
            core = make_core(python, os.path.join(work, label))
            objects = export_objects(tool, core)
            with open(core, "rb") as f:
                data = f.read()
            shutil.copy(core, os.path.join(args.out, "%s-pristine.core" % label))
            for name, make in corrupt_cases(data, objects):
                with open(os.path.join(args.out, "%s-%s.core" % (label, name)), "wb") as f:
                    f.write(make())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
