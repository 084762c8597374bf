"""Heap for the holders test: objects held only by C code that no root
explains (planted orphans) and objects held only by known C holders.

    python holders_program.py TRUTH.json

Plants orphans: a list, a dict and an instance of a class of its own, each
given one reference from C (ctypes.pythonapi.Py_IncRef) that nothing ever
gives back, after which every Python reference to them is dropped (objects
the collector tracks: an untracked one nothing refers to is found by no
walk). They are planted by a thread that has ended: a stale copy of an
address in a live C frame (or in a free list's array) cannot be told from
a reference, so an orphan whose address the stopped thread's stack still
holds in a slot no call has overwritten is taken as held by that stack. Then writes TRUTH.json
({"orphans": {name: address}}) and aborts from the key function of
sorted(), whose new list only the C stack holds.

Exit status 77 (and no core) if ctypes cannot be had.
"""

import json
import os
import sys
import threading

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
    # Lists and dicts come from free lists of recently freed ones, whose
    # addresses stale slots of the main thread's C stack may still hold (a
    # conservative scan takes such a slot as a reference). Emptying the free
    # lists first gives the orphans memory no stack has seen.
    fresh = [[] for _ in range(200)] + [{} for _ in range(200)]  # noqa: F841
    return {
        "list": leak([b"orphan-list-%d" % pid, 10 ** 30 + pid]),
        "dict": leak({"orphan-dict-%d" % pid: [10 ** 31 + pid]}),
        "instance": leak(Orphan(pid)),
    }


def main():
    planted = {}
    t = threading.Thread(target=lambda: planted.update(plant()))
    t.start()
    t.join()
    truth = {"orphans": planted}
    with open(sys.argv[1], "w") as f:
        json.dump(truth, f)

    def key(x):
        os.abort()

    # Two items, each given one more reference by the array list.sort
    # moved the list's items to (C memory no scan follows).
    sorted(["sorted-b", "sorted-a"], key=key)


if __name__ == "__main__":
    main()
