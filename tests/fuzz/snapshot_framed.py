#!/usr/bin/env python3
"""Writes a snapshot file in the fuzz_snapshot.c's FZSN form.

    snapshot_framed.py SNAPSHOT.phs OUT

The FZSN form holds the file's sections raw (a compressed section
decompressed, with mode bit 1 so that the harness compresses it again),
its required sections marked (mode bit 0), and its RAND section with mode
bit 2, so that the harness gives the records the binding of the sections
it writes: mutations of the seed then reach the section decoders and the
object records rather than the checksums. The seeds framed-rand-* of
corpora/fuzz/snapshot were made so from corpora/snapshots/rand-*.phs.
"""
import struct
import subprocess
import sys

HEADER_MAGIC = b"\x89PYHSNAP"
ENTRY_SIZE = 40


def framed(data):
    if data[:8] != HEADER_MAGIC:
        sys.exit("not a snapshot file")
    count, = struct.unpack_from("<I", data, 12)
    table, n, m = struct.unpack_from("<QQQ", data, 24)
    out = bytearray(b"FZSN" + struct.pack("<QQ", n, m))
    for k in range(count):
        entry = data[table + ENTRY_SIZE * k:table + ENTRY_SIZE * (k + 1)]
        sid = entry[:4]
        flags, = struct.unpack_from("<H", entry, 4)
        codec = entry[6]
        offset, stored, _ = struct.unpack_from("<QQQ", entry, 8)
        body = data[offset:offset + stored]
        if codec == 1:
            body = subprocess.run(["zstd", "-d", "-c"], input=body, stdout=subprocess.PIPE,
                                  check=True).stdout
        elif codec != 0:
            sys.exit("section %r: codec %d" % (sid, codec))
        mode = (flags & 1) | (2 if codec == 1 else 0) | (4 if sid == b"RAND" else 0)
        out += sid + bytes([mode]) + struct.pack("<I", len(body)) + body
    return bytes(out)


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    with open(argv[0], "rb") as f:
        data = f.read()
    with open(argv[1], "wb") as f:
        f.write(framed(data))


if __name__ == "__main__":
    main(sys.argv[1:])
