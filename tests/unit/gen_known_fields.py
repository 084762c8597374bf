#!/usr/bin/env python3
"""Writes heapmodel/known_fields.h: the object-pointer fields of CPython's C
types that no PyMemberDef names, by tp_name and minor version, read with gdb
from the DWARF of pyenv's builds of 3.8 to 3.13 (libpython and lib-dynload
modules) and of Debian unstable's release builds of 3.14 and 3.15 (the
debug files of python3.X and of its lib-dynload modules, by build-id, from
the root tests/debian_sid.py unpacks); with --states,
heapmodel/known_state_fields.h: those of extension modules' state structs,
by the module definition's m_name.

    tests/unit/gen_known_fields.py [PYENV_ROOT] > heapmodel/known_fields.h
    tests/unit/gen_known_fields.py --states [PYENV_ROOT] > heapmodel/known_state_fields.h

Each struct's top-level members whose type is an object pointer become
entries; the instance dict is left out (tp_dictoffset names it) and weak
reference lists have no name (they hold no reference). Names are the Python-level ones
where CPython has them (RENAME), else the C member's name.
"""

import glob
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import debian_sid  # noqa: E402

PYENV_VERSIONS = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]
VERSIONS = PYENV_VERSIONS + list(debian_sid.VERSIONS)

# (tp_name, struct, where): where is "lib" (libpython) or a lib-dynload
# module name; "a|b": the struct is named a, or b where there is no a (a
# later version's name).
TYPES = [
    ("BaseException", "PyBaseExceptionObject", "lib"),
    ("traceback", "PyTracebackObject", "lib"),
    ("builtin_function_or_method", "PyCFunctionObject", "lib"),
    ("method-wrapper", "wrapperobject", "lib"),
    ("mappingproxy", "mappingproxyobject", "lib"),
    ("property", "propertyobject", "lib"),
    ("types.GenericAlias", "gaobject", "lib"),
    ("builtin_method", "PyCMethodObject", "lib"),
    ("itertools.count", "countobject", "lib"),
    ("_thread._localdummy", "localdummyobject", "lib"),
    ("list_iterator", "listiterobject|_PyListIterObject", "lib"),
    ("tuple_iterator", "tupleiterobject|_PyTupleIterObject", "lib"),
    ("iterator", "seqiterobject", "lib"),
    ("enumerate", "enumobject", "lib"),
    ("map", "mapobject", "lib"),
    ("filter", "filterobject", "lib"),
    ("zip", "zipobject", "lib"),
    ("_io.TextIOWrapper", "textio", "lib"),
    ("_io.BufferedReader", "buffered", "lib"),
    ("_io.BufferedWriter", "buffered", "lib"),
    ("_io.BufferedRandom", "buffered", "lib"),
    ("_io.BufferedRWPair", "rwpair", "lib"),
    ("_io.FileIO", "fileio", "lib"),
    ("_io.BytesIO", "bytesio", "lib"),
    ("_io.StringIO", "stringio", "lib"),
    ("_io.IncrementalNewlineDecoder", "nldecoder_object", "lib"),
    ("operator.attrgetter", "attrgetterobject", "lib"),
    ("operator.itemgetter", "itemgetterobject", "lib"),
    ("operator.methodcaller", "methodcallerobject", "lib"),
    ("re.Pattern", "PatternObject", "lib"),
    ("re.Match", "MatchObject", "lib"),
    ("_abc._abc_data", "_abc_data", "lib"),
    ("_abc_data", "_abc_data", "lib"),
    ("functools.KeyWrapper", "keyobject", "lib"),
    ("dict_keyiterator", "dictiterobject", "lib"),
    ("dict_valueiterator", "dictiterobject", "lib"),
    ("dict_itemiterator", "dictiterobject", "lib"),
    ("dict_reversekeyiterator", "dictiterobject", "lib"),
    ("dict_reversevalueiterator", "dictiterobject", "lib"),
    ("dict_reverseitemiterator", "dictiterobject", "lib"),
    ("itertools.combinations", "combinationsobject", "lib"),
    ("itertools.combinations_with_replacement", "cwrobject", "lib"),
    ("itertools.permutations", "permutationsobject", "lib"),
    ("_struct.Struct", "PyStructObject", "_struct"),
    ("_json.Scanner", "PyScannerObject", "_json"),
    ("_json.Encoder", "PyEncoderObject", "_json"),
    ("_asyncio.Future", "FutureObj", "_asyncio"),
    ("_asyncio.Task", "TaskObj", "_asyncio"),
    ("_asyncio.FutureIter", "futureiterobject", "_asyncio"),
    ("TaskStepMethWrapper", "TaskStepMethWrapper", "_asyncio"),
    ("_pickle.Unpickler", "UnpicklerObject", "_pickle"),
    ("function", "PyFunctionObject", "lib"),
    ("_contextvars.Context", "PyContext", "lib"),
    ("lazy_import", "PyLazyImportObject", "lib"),
]

# (the module definition's m_name, state struct, where)
STATES = [
    ("posix", "_posixstate", "lib"),
    ("io", "_PyIO_State", "lib"),
    ("_functools", "_functools_state", "lib"),
    ("_abc", "_abcmodule_state", "lib"),
    ("_thread", "thread_module_state", "lib"),
    ("_collections", "collections_state", "lib"),
    ("itertools", "itertools_state", "lib"),
    ("_operator", "_operator_state", "lib"),
    ("_sre", "_sremodulestate", "lib"),
    ("time", "time_module_state", "lib"),
    ("_signal", "_signal_module_state", "lib"),
    ("_struct", "_structmodulestate", "_struct"),
    ("_asyncio", "asyncio_state", "_asyncio"),
    ("zlib", "zlibstate", "zlib"),
    ("select", "_selectstate", "select"),
    ("_socket", "socket_state", "_socket"),
    ("_random", "_randomstate", "_random"),
    ("array", "array_state", "array"),
    ("_json", "_jsonmodulestate", "_json"),
    ("_pickle", "PickleState", "_pickle"),
    ("_datetime", "datetime_state", "_datetime"),
    ("decimal", "decimal_state", "_decimal"),
    ("math", "math_module_state", "math"),
    ("_ssl", "_sslmodulestate", "_ssl"),
    ("_csv", "_csvstate", "_csv"),
]

# C member -> Python name, per tp_name ("*": any type).
RENAME = {
    "BaseException": {"args": "args", "notes": "__notes__", "traceback": "__traceback__",
                      "context": "__context__", "cause": "__cause__"},
    "builtin_function_or_method": {"m_self": "__self__", "m_module": "__module__"},
    "builtin_method": {"m_self": "__self__", "m_module": "__module__"},
    "property": {"prop_get": "fget", "prop_set": "fset", "prop_del": "fdel",
                 "prop_doc": "__doc__", "prop_name": "__name__"},
    "types.GenericAlias": {"origin": "__origin__", "args": "__args__",
                           "parameters": "__parameters__"},
    "function": {"func_globals": "__globals__", "func_builtins": "__builtins__",
                 "func_name": "__name__", "func_qualname": "__qualname__",
                 "func_code": "__code__", "func_defaults": "__defaults__",
                 "func_kwdefaults": "__kwdefaults__", "func_closure": "__closure__",
                 "func_doc": "__doc__", "func_module": "__module__",
                 "func_annotations": "__annotations__", "func_annotate": "__annotate__",
                 "func_typeparams": "__type_params__"},
    "_asyncio.Future": {"source_tb": "_source_traceback", "cancel_msg": "_cancel_message"},
    "_asyncio.Task": {"source_tb": "_source_traceback", "cancel_msg": "_cancel_message"},
}
# Left out: the instance dict (tp_dictoffset names it). Weak reference
# lists are written with no name: words that hold no reference.
SKIP = {"dict", "func_dict", "ob_base"}
WEAKLISTS = {"weakreflist", "in_weakreflist", "fut_weakreflist", "task_weakreflist",
             "func_weakreflist", "m_weakreflist", "ctx_weakreflist"}

MEMBER = re.compile(r"^/\*\s+(\d+)\s+\|\s+8 \*/ {4}(?P<type>[A-Za-z_][\w ]*?) \*(?P<name>\w+);$")
OBJECT_POINTER = re.compile(r"^(PyObject|PyTypeObject|struct _object|Py\w*Object|PyContext|Pdata|_PyErr_StackItem)$")


def pyenv_root():
    return sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.pyenv")


BUILD_ID = re.compile(r"Build ID: ([0-9a-f]{2})([0-9a-f]+)")


def debug_file(root, path):
    """The debug file of the ELF file at path, by its build-id, under root."""
    out = subprocess.run(["readelf", "-n", path], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, universal_newlines=True).stdout
    m = BUILD_ID.search(out)
    if not m:
        return None
    found = os.path.join(root, "usr", "lib", "debug", ".build-id", m.group(1), m.group(2) + ".debug")
    return found if os.path.exists(found) else None


def objfiles(version, where):
    """The files whose DWARF may describe a struct of where, in the order
    they are searched."""
    if version not in PYENV_VERSIONS:
        # Debian links most extension modules into the interpreter.
        try:
            root = debian_sid.ensure(version)
        except debian_sid.Unavailable:
            return []
        found = [debug_file(root, os.path.join(root, "usr", "bin", "python" + version))]
        if where != "lib":
            found += [debug_file(root, m) for m in glob.glob(os.path.join(
                root, "usr", "lib", "python" + version, "lib-dynload",
                where + ".cpython-%s-*.so" % version.replace(".", "")))]
        return [f for f in found if f]
    base = glob.glob(os.path.join(pyenv_root(), "versions", version + ".*"))
    if not base:
        return []
    base = sorted(base)[-1]
    if where == "lib":
        return glob.glob(os.path.join(base, "lib", "libpython%s.so.1.0" % version))[:1]
    return glob.glob(os.path.join(base, "lib", "python" + version, "lib-dynload",
                                  where + ".cpython-*.so"))[:1]


PTYPES = {}  # path -> {struct: gdb's ptype /o output}


def ptypes(path, structs):
    """gdb's ptype /o of each of structs in path's DWARF (one gdb run)."""
    if path not in PTYPES:
        argv = ["gdb", "-batch"]
        for struct in structs:
            argv += ["-ex", "echo @@ %s\\n" % struct, "-ex", "ptype /o " + struct]
        out = subprocess.run(argv + [path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             universal_newlines=True).stdout
        PTYPES[path] = {}
        for part in out.split("@@ ")[1:]:
            struct, _, text = part.partition("\n")
            PTYPES[path][struct] = text
    return PTYPES[path]


def members(paths, struct, structs):
    """The object-pointer members of struct (or of the first of its
    names that has a definition) in the first of paths whose DWARF has it."""
    for name in struct.split("|"):
        for path in paths:
            out = ptypes(path, structs).get(name, "")
            if not out.startswith("type = "):
                continue
            for line in out.splitlines():
                m = MEMBER.match(line)
                if m and OBJECT_POINTER.match(m.group("type")) and m.group("type") != "_PyErr_StackItem":
                    yield int(m.group(1)), m.group("name")
            return


def python_name(tp_name, name):
    for prefix in ("fut_", "task_"):
        if tp_name.startswith("_asyncio.") and name.startswith(prefix):
            name = name[len(prefix):]
            name = RENAME.get(tp_name, {}).get(name, name)
            return "._" + name.lstrip("_") if not name.startswith("_") else "." + name
    return "." + RENAME.get(tp_name, {}).get(name, name)


def main():
    states = "--states" in sys.argv[1:]
    if states:
        sys.argv.remove("--states")
    table = STATES if states else TYPES
    rows = {}
    for version in VERSIONS:
        if not objfiles(version, "lib"):
            # A table without a version's rows would drop them unnoticed.
            sys.exit("gen_known_fields.py: no DWARF of CPython %s found" % version)
        minor = int(version.split(".")[1])
        for tp_name, struct, where in table:
            for off, name in members(objfiles(version, where), struct,
                                     sorted({n for t in table for n in t[1].split("|")})):
                if name in SKIP:
                    continue
                if states:
                    key = (tp_name, off, "state." + name)
                else:
                    key = (tp_name, off, None if name in WEAKLISTS else python_name(tp_name, name))
                rows.setdefault(key, []).append(minor)
    print("/* Generated by tests/unit/gen_known_fields.py%s from the DWARF of pyenv's"
          % (" --states" if states else ""))
    print(" * CPython 3.8 to 3.13 builds and Debian unstable's 3.14 and 3.15:")
    if states:
        print(" * object-pointer fields of extension modules' state structs, by the")
        print(" * module definition's m_name, minor versions and offset. */")
    else:
        print(" * object-pointer fields of C types that no PyMemberDef names, by")
        print(" * tp_name, minor versions and offset (NULL: a weak reference list, no")
        print(" * reference). */")
    order = {t[0]: i for i, t in enumerate(STATES if states else TYPES)}
    for (tp_name, off, name), minors in sorted(rows.items(), key=lambda r: (order[r[0][0]], r[0][1], min(r[1]))):
        # Runs of consecutive minor versions.
        minors = sorted(set(minors))
        start = prev = minors[0]
        for m in minors[1:] + [None]:
            if m is not None and m == prev + 1:
                prev = m
                continue
            print('{ "%s", %d, %d, %d, %s },' % (tp_name, start, prev, off,
                                               '"%s"' % name if name else "NULL"))
            if m is not None:
                start = prev = m


if __name__ == "__main__":
    main()
