import os, collections, functools, gc, weakref
# Everything made so far goes to the permanent generation, which the fuzz
# target empties: the generations it walks hold what follows.
gc.collect()
gc.freeze()
class C:
    def __init__(s, i):
        s.a = i
        s.b = [i]
class S:
    __slots__ = ("p", "q")
@functools.lru_cache(8)
def f(n):
    return n * 2
for i in range(5):
    f(i)
def g():
    yield 1
gen = g()
next(gen)
x = [{1: 2}] * 3
s = S()
s.p = "slot"
y = (collections.deque(range(70)), collections.OrderedDict(a=1), {1, 2, 3},
     frozenset({4}), bytearray(b"ab"), 1.5, 2 ** 70, "\xe9", b"b", [C(1), C(2)], s, 1j)
w = weakref.ref(C)
l = []
l.append(l)
os.abort()
