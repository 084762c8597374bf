"""A heap whose roots are known: a worker thread with a long name holding a
local, and a main thread whose frame serve() holds a local history of N
items, aborting at one of two lines of serve.

    roots_program.py N early|late
"""
import gc
import os
import sys
import threading

gc.disable()

LONG_NAME = "ThreadPoolExecutor-0_0-long-name-of-a-worker-thread"


class Item:
    pass


def worker(ready, stop):
    thread_payload = [Item() for _ in range(7)]
    ready.set()
    stop.wait()
    return thread_payload


def snap():
    sys.stdout.flush()
    os.abort()


def serve(n, at):
    history = [Item() for _ in range(n)]
    if at == "early":
        snap()
    history.append(None)
    if at == "late":
        snap()
    return history


ready, stop = threading.Event(), threading.Event()
threading.Thread(target=worker, args=(ready, stop), name=LONG_NAME, daemon=True).start()
ready.wait()
serve(int(sys.argv[1]), sys.argv[2])
