"""A list of arrays that own their buffers, then an abort into a core.

    buffers_program.py KIND MIB

KIND is "array" (array.array of doubles) or "numpy" (numpy arrays; exit 77
when numpy cannot be imported).  ARRAYS gets MIB one-MiB arrays.  Two runs
with 0 and 20 differ by 20 MiB of buffers and a few hundred bytes of
objects.
"""
import gc
import os
import sys

gc.disable()
KIND, MIB = sys.argv[1], int(sys.argv[2])
if KIND == "numpy":
    try:
        import numpy
    except ImportError as e:
        sys.stderr.write("buffers_program.py: %s\n" % e)
        sys.exit(77)
    ARRAYS = [numpy.full(131072, i, dtype="f8") for i in range(MIB)]
else:
    import array
    ARRAYS = [array.array("d", [float(i)]) * 131072 for i in range(MIB)]
sys.stdout.flush()
os.abort()
