"""Builds a known heap, optionally grows it, and aborts into a core.

    grow_program.py ENTRIES [EXTRA_LISTS]

CACHE gets ENTRIES instances of Leaky (each with its own bytes payload)
under keys 'k0', 'k1', ...; with EXTRA_LISTS, a global EXTRA holds that
many one-item lists. Two runs with different numbers differ by exactly
that growth.
"""
import gc
import os
import sys

gc.disable()


class Leaky:
    def __init__(self, i):
        self.payload = b"p" * 100 + str(i).encode()


CACHE = {}


def fill(n):
    for i in range(n):
        CACHE["k%d" % i] = Leaky(i)


fill(int(sys.argv[1]))
if len(sys.argv) > 2:
    EXTRA = [[i] for i in range(int(sys.argv[2]))]
sys.stdout.flush()
os.abort()
