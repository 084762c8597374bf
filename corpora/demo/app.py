"""A small service with a leak, bundled with pyheapsnap for `pyheapsnap demo`.

It builds a cache that only grows, a few threads that wait for work, and
some reference cycles, then aborts so that the kernel writes a core file.
"""
import gc
import os
import sys
import threading


class Session:
    def __init__(self, user, payload):
        self.user = user
        self.payload = payload
        self.history = []


class Node:
    def __init__(self, name):
        self.name = name
        self.peer = None


CACHE = {}


def handle_request(n):
    session = Session("user%d" % (n % 50), b"x" * 200)
    session.history.append({"request": n, "path": "/api/items/%d" % n})
    CACHE["k%d" % n] = session  # the leak: nothing ever evicts


def make_cycles(count):
    for i in range(count):
        a, b = Node("a%d" % i), Node("b%d" % i)
        a.peer, b.peer = b, a


def worker(event, name):
    pending = ["job-%s-%d" % (name, i) for i in range(10)]
    event.wait()
    return pending


def main():
    gc.disable()
    for n in range(5000):
        handle_request(n)
    make_cycles(200)  # garbage the collector has not freed yet
    event = threading.Event()
    threads = [threading.Thread(target=worker, args=(event, "w%d" % i), name="worker-%d" % i)
               for i in range(2)]
    for t in threads:
        t.start()
    sys.stdout.flush()
    os.abort()


if __name__ == "__main__":
    main()
