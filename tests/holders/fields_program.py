"""A heap whose only holders of two functions are the interpreter's C
state, for the holder-field test: a codec search function
(codecs.register) and an atexit callback (atexit.register), each a
closure over a marker string and deleted from the module. Writes their
addresses to the file argv[1] as JSON, then aborts to leave a core."""

import atexit
import codecs
import json
import os
import sys


def make(tag):
    marker = "%s %d" % (tag, os.getpid())

    def fn(*args):
        return marker if args == (marker,) else None
    return fn


search = make("codec search")
callback = make("atexit callback")
codecs.register(search)
atexit.register(callback)
truth = {"codec_search": id(search), "atexit_callback": id(callback)}
del search, callback

with open(sys.argv[1], "w") as f:
    json.dump(truth, f)
sys.stdout.flush()
os.abort()
