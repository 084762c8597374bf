"""A small service with a leak, bundled with pyheapsnap for `pyheapsnap demo`.

It builds a cache that only grows, a few threads that wait for work, and
some reference cycles. Then it takes commands on standard input, one a
line: "grow N" serves N more requests (the cache grows) and answers "ok";
"abort" aborts so that the kernel writes a core file; end of input stops
the workers and exits.
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
    served = 5000
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["grow"] and len(words) == 2:
            for n in range(served, served + int(words[1])):
                handle_request(n)
            served += int(words[1])
            print("ok", flush=True)
        elif words == ["abort"]:
            sys.stdout.flush()
            os.abort()
    event.set()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
