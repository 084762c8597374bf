"""A heap with words of C statics that only look like references, for the
stale-candidate test: PyOS_InputHook (a C static no code calls before the
abort) is set to a buffer laid out as a tuple whose header is intact and
whose items are no pointers (0x1, 0x20, 0xffffffffffffffff), as a freed or
half-built object's may be; PyOS_ReadlineFunctionPointer to a real tuple
that only it holds (a reference given by Py_IncRef that nothing gives
back). Writes the two addresses to the file argv[1] as JSON, then aborts to
leave a core."""

import ctypes
import json
import os
import sys

fake = (ctypes.c_uint64 * 8)()
fake[0] = 1                   # ob_refcnt
fake[1] = id(tuple)           # ob_type
fake[2] = 3                   # ob_size
fake[3:6] = [0x1, 0x20, 0xffffffffffffffff]

held = tuple(["held by a C static %d" % os.getpid()])
ctypes.pythonapi.Py_IncRef(ctypes.py_object(held))
held_addr = id(held)
del held

ctypes.c_void_p.in_dll(ctypes.pythonapi, "PyOS_InputHook").value = ctypes.addressof(fake)
ctypes.c_void_p.in_dll(ctypes.pythonapi, "PyOS_ReadlineFunctionPointer").value = held_addr

with open(sys.argv[1], "w") as f:
    json.dump({"fake": ctypes.addressof(fake), "held": held_addr}, f)
sys.stdout.flush()
os.abort()
