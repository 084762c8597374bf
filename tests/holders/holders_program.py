"""Heap for the holders test: objects held only by C code that no root
explains (planted orphans) and objects held only by known C holders.

    python holders_program.py TRUTH.json

Plants orphans: a list, a dict and an instance of a class of its own, each
given one reference from C (ctypes.pythonapi.Py_IncRef) that nothing ever
gives back, after which every Python reference to them is dropped (objects
the collector tracks: an untracked one nothing refers to is found by no
walk). Then writes TRUTH.json
({"orphans": {name: address}, "sorted_list_len": N}) and aborts from the
key function of sorted(), whose new list only the C stack holds.

Exit status 77 (and no core) if ctypes cannot be had.
"""

import json
import os
import sys

try:
    import ctypes
except ImportError:
    sys.exit(77)


def leak(obj):
    before = sys.getrefcount(obj)
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))
    if sys.getrefcount(obj) != before + 1:
        raise SystemExit("Py_IncRef through ctypes did not add one reference")
    return id(obj)


class Orphan:
    def __init__(self, pid):
        self.pid = pid


def plant():
    pid = os.getpid()
    return {
        "list": leak([b"orphan-list-%d" % pid, 10 ** 30 + pid]),
        "dict": leak({"orphan-dict-%d" % pid: 10 ** 31 + pid}),
        "instance": leak(Orphan(pid)),
    }


SORTED_LEN = 4321


def main():
    truth = {"orphans": plant(), "sorted_list_len": SORTED_LEN}
    with open(sys.argv[1], "w") as f:
        json.dump(truth, f)

    def key(x):
        os.abort()

    sorted(range(SORTED_LEN), key=key)


if __name__ == "__main__":
    main()
