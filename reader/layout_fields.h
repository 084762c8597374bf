/*
 * The CPython layout facts pyheapsnap needs, one X() per fact:
 *   X(field, "DWARF type name", "member.path")
 * A NULL member path means sizeof(type). The type name is the name DWARF
 * gives the struct or its typedef; alternatives for other versions are
 * separated by '|' and tried in order. A fact a version does not have is -1.
 * This list drives the built-in tables, the DWARF reader and the test that
 * compares the two.
 */

/* _PyRuntimeState */
X(rt_size,                    "_PyRuntimeState|pyruntimestate", NULL)
X(rt_interpreters_head,       "_PyRuntimeState|pyruntimestate", "interpreters.head")
X(rt_gc,                      "_PyRuntimeState|pyruntimestate", "gc")          /* 3.8 only */
X(rt_gilstate_tstate_current, "_PyRuntimeState|pyruntimestate", "gilstate.tstate_current") /* <=3.11 */
X(rt_main_interpreter,        "_PyRuntimeState|pyruntimestate", "_main_interpreter")       /* 3.11+ */

/* PyInterpreterState */
X(interp_size,                "PyInterpreterState|_is", NULL)
X(interp_next,                "PyInterpreterState|_is", "next")
X(interp_tstate_head,         "PyInterpreterState|_is", "tstate_head|threads.head")
X(interp_gc,                  "PyInterpreterState|_is", "gc")                  /* 3.9+ */
X(interp_modules,             "PyInterpreterState|_is", "modules|imports.modules")
X(interp_sysdict,             "PyInterpreterState|_is", "sysdict")
X(interp_builtins,            "PyInterpreterState|_is", "builtins")
X(interp_interned,            "PyInterpreterState|_is", "cached_objects.interned_strings") /* 3.12+ */
X(interp_types_builtins,      "PyInterpreterState|_is", "types.builtins.initialized|types.builtins") /* 3.12+ */
X(static_type_state_size,     "managed_static_type_state|static_builtin_state", NULL)
X(static_type_state_type,     "managed_static_type_state|static_builtin_state", "type")
X(static_type_state_tp_dict,  "managed_static_type_state|static_builtin_state", "tp_dict")

/* PyThreadState */
X(tstate_size,                "PyThreadState|_ts", NULL)
X(tstate_next,                "PyThreadState|_ts", "next")
X(tstate_interp,              "PyThreadState|_ts", "interp")
X(tstate_frame,               "PyThreadState|_ts", "frame")          /* <=3.10: PyFrameObject* */
X(tstate_cframe,              "PyThreadState|_ts", "cframe")         /* 3.10-3.12 */
X(tstate_current_frame,       "PyThreadState|_ts", "current_frame")  /* 3.13+ */
X(tstate_thread_id,           "PyThreadState|_ts", "thread_id")
X(tstate_native_thread_id,    "PyThreadState|_ts", "native_thread_id") /* 3.11+ */
X(tstate_dict,                "PyThreadState|_ts", "dict")
X(cframe_current_frame,       "_PyCFrame|CFrame", "current_frame")   /* 3.11, 3.12 */

/* struct _gc_runtime_state and struct gc_generation */
X(gc_state_size,              "_gc_runtime_state", NULL)
X(gc_generations,             "_gc_runtime_state", "generations|young")
X(gc_permanent_generation,    "_gc_runtime_state", "permanent_generation")
X(gc_collecting,              "_gc_runtime_state", "collecting")
X(gc_enabled,                 "_gc_runtime_state", "enabled")
X(gc_generation_size,         "gc_generation", NULL)
X(gc_generation_threshold,    "gc_generation", "threshold")
X(gc_generation_count,        "gc_generation", "count")

/* PyFrameObject (<=3.10: the frame; 3.11+: a thin wrapper) */
X(frame_size,                 "PyFrameObject|_frame", NULL)
X(frame_f_back,               "PyFrameObject|_frame", "f_back")
X(frame_f_code,               "PyFrameObject|_frame", "f_code")        /* <=3.10 */
X(frame_f_locals,             "PyFrameObject|_frame", "f_locals")      /* <=3.10 */
X(frame_f_lasti,              "PyFrameObject|_frame", "f_lasti")       /* <=3.10 */
X(frame_f_lineno,             "PyFrameObject|_frame", "f_lineno")
X(frame_f_valuestack,         "PyFrameObject|_frame", "f_valuestack")  /* <=3.10 */
X(frame_f_stacktop,           "PyFrameObject|_frame", "f_stacktop")    /* 3.8, 3.9 */
X(frame_f_stackdepth,         "PyFrameObject|_frame", "f_stackdepth")  /* 3.10 */
X(frame_f_localsplus,         "PyFrameObject|_frame", "f_localsplus")  /* <=3.10 */
X(frame_f_frame,              "PyFrameObject|_frame", "f_frame")       /* 3.11+ */
X(frame_f_frame_data,         "PyFrameObject|_frame", "_f_frame_data") /* 3.11+ */

/* _PyInterpreterFrame (3.11+) */
X(iframe_size,                "_PyInterpreterFrame", NULL)
X(iframe_code,                "_PyInterpreterFrame", "f_code|f_executable")
X(iframe_previous,            "_PyInterpreterFrame", "previous")
X(iframe_func,                "_PyInterpreterFrame", "f_func|f_funcobj")
X(iframe_globals,             "_PyInterpreterFrame", "f_globals")
X(iframe_builtins,            "_PyInterpreterFrame", "f_builtins")
X(iframe_locals,              "_PyInterpreterFrame", "f_locals")
X(iframe_frame_obj,           "_PyInterpreterFrame", "frame_obj")
X(iframe_instr,               "_PyInterpreterFrame", "prev_instr|instr_ptr")
X(iframe_stacktop,            "_PyInterpreterFrame", "stacktop|stackpointer")
X(iframe_owner,               "_PyInterpreterFrame", "owner")
X(iframe_localsplus,          "_PyInterpreterFrame", "localsplus")

/* PyCodeObject */
X(code_size,                  "PyCodeObject", NULL)
X(code_argcount,              "PyCodeObject", "co_argcount")
X(code_nlocals,               "PyCodeObject", "co_nlocals")
X(code_nlocalsplus,           "PyCodeObject", "co_nlocalsplus")     /* 3.11+ */
X(code_stacksize,             "PyCodeObject", "co_stacksize")
X(code_framesize,             "PyCodeObject", "co_framesize")       /* 3.12+ */
X(code_firstlineno,           "PyCodeObject", "co_firstlineno")
X(code_code,                  "PyCodeObject", "co_code")            /* <=3.10 */
X(code_consts,                "PyCodeObject", "co_consts")
X(code_names,                 "PyCodeObject", "co_names")
X(code_varnames,              "PyCodeObject", "co_varnames")        /* <=3.10 */
X(code_freevars,              "PyCodeObject", "co_freevars")        /* <=3.10 */
X(code_cellvars,              "PyCodeObject", "co_cellvars")        /* <=3.10 */
X(code_localsplusnames,       "PyCodeObject", "co_localsplusnames") /* 3.11+ */
X(code_localspluskinds,       "PyCodeObject", "co_localspluskinds") /* 3.11+ */
X(code_filename,              "PyCodeObject", "co_filename")
X(code_name,                  "PyCodeObject", "co_name")
X(code_qualname,              "PyCodeObject", "co_qualname")        /* 3.11+ */
X(code_linetable,             "PyCodeObject", "co_linetable|co_lnotab")
X(code_zombieframe,           "PyCodeObject", "co_zombieframe")     /* <=3.10 */
X(code_extra,                 "PyCodeObject", "co_extra")
X(code_code_adaptive,         "PyCodeObject", "co_code_adaptive")   /* 3.11+ */
X(code_nplaincellvars,        "PyCodeObject", "co_nplaincellvars")  /* 3.11 */

/* PyTypeObject / PyHeapTypeObject */
X(type_size,                  "PyTypeObject|_typeobject", NULL)
X(type_tp_name,               "PyTypeObject|_typeobject", "tp_name")
X(type_tp_basicsize,          "PyTypeObject|_typeobject", "tp_basicsize")
X(type_tp_itemsize,           "PyTypeObject|_typeobject", "tp_itemsize")
X(type_tp_flags,              "PyTypeObject|_typeobject", "tp_flags")
X(type_tp_traverse,           "PyTypeObject|_typeobject", "tp_traverse")
X(type_tp_weaklistoffset,     "PyTypeObject|_typeobject", "tp_weaklistoffset")
X(type_tp_members,            "PyTypeObject|_typeobject", "tp_members")
X(type_tp_base,               "PyTypeObject|_typeobject", "tp_base")
X(type_tp_dict,               "PyTypeObject|_typeobject", "tp_dict")
X(type_tp_dictoffset,         "PyTypeObject|_typeobject", "tp_dictoffset")
X(type_tp_is_gc,              "PyTypeObject|_typeobject", "tp_is_gc")
X(type_tp_bases,              "PyTypeObject|_typeobject", "tp_bases")
X(type_tp_mro,                "PyTypeObject|_typeobject", "tp_mro")
X(type_tp_cache,              "PyTypeObject|_typeobject", "tp_cache")
X(type_tp_subclasses,         "PyTypeObject|_typeobject", "tp_subclasses")
X(heaptype_size,              "PyHeapTypeObject|_heaptypeobject", NULL)
X(heaptype_ht_name,           "PyHeapTypeObject|_heaptypeobject", "ht_name")
X(heaptype_ht_slots,          "PyHeapTypeObject|_heaptypeobject", "ht_slots")
X(heaptype_ht_qualname,       "PyHeapTypeObject|_heaptypeobject", "ht_qualname")
X(heaptype_ht_cached_keys,    "PyHeapTypeObject|_heaptypeobject", "ht_cached_keys")
X(heaptype_ht_module,         "PyHeapTypeObject|_heaptypeobject", "ht_module") /* 3.9+ */

/* PyMemberDef (slots of heap types follow the PyHeapTypeObject) */
X(memberdef_size,             "PyMemberDef", NULL)
X(memberdef_name,             "PyMemberDef", "name")
X(memberdef_type,             "PyMemberDef", "type")
X(memberdef_offset,           "PyMemberDef", "offset")

/* dict */
X(dict_ma_used,               "PyDictObject", "ma_used")
X(dict_ma_keys,               "PyDictObject", "ma_keys")
X(dict_ma_values,             "PyDictObject", "ma_values")
X(dictkeys_size,              "PyDictKeysObject|_dictkeysobject", NULL)
X(dictkeys_dk_refcnt,         "PyDictKeysObject|_dictkeysobject", "dk_refcnt")
X(dictkeys_dk_size,           "PyDictKeysObject|_dictkeysobject", "dk_size")            /* <=3.10 */
X(dictkeys_dk_lookup,         "PyDictKeysObject|_dictkeysobject", "dk_lookup")          /* <=3.10 */
X(dictkeys_dk_log2_size,      "PyDictKeysObject|_dictkeysobject", "dk_log2_size")       /* 3.11+ */
X(dictkeys_dk_log2_index_bytes, "PyDictKeysObject|_dictkeysobject", "dk_log2_index_bytes") /* 3.11+ */
X(dictkeys_dk_kind,           "PyDictKeysObject|_dictkeysobject", "dk_kind")            /* 3.11+ */
X(dictkeys_dk_usable,         "PyDictKeysObject|_dictkeysobject", "dk_usable")
X(dictkeys_dk_nentries,       "PyDictKeysObject|_dictkeysobject", "dk_nentries")
X(dictkeys_dk_indices,        "PyDictKeysObject|_dictkeysobject", "dk_indices")
X(dictvalues_values,          "PyDictValues|_dictvalues", "values")                    /* 3.11+ */

/* list, tuple, set */
X(list_ob_item,               "PyListObject", "ob_item")
X(list_allocated,             "PyListObject", "allocated")
X(tuple_ob_item,              "PyTupleObject", "ob_item")
X(set_fill,                   "PySetObject", "fill")
X(set_used,                   "PySetObject", "used")
X(set_mask,                   "PySetObject", "mask")
X(set_table,                  "PySetObject", "table")
X(set_smalltable,             "PySetObject", "smalltable")

/* str */
X(ascii_size,                 "PyASCIIObject", NULL)
X(ascii_length,               "PyASCIIObject", "length")
X(ascii_state,                "PyASCIIObject", "state")
X(ascii_wstr,                 "PyASCIIObject", "wstr")                 /* <=3.11 */
X(compact_size,               "PyCompactUnicodeObject", NULL)
X(compact_utf8_length,        "PyCompactUnicodeObject", "utf8_length")
X(compact_utf8,               "PyCompactUnicodeObject", "utf8")
X(compact_wstr_length,        "PyCompactUnicodeObject", "wstr_length") /* <=3.11 */
X(unicode_size,               "PyUnicodeObject", NULL)
X(unicode_data,               "PyUnicodeObject", "data")

/* int, float, bytes, bytearray, complex */
X(long_digit,                 "PyLongObject|_longobject", "ob_digit|long_value.ob_digit")
X(long_lv_tag,                "PyLongObject|_longobject", "long_value.lv_tag")   /* 3.12+ */
X(float_ob_fval,              "PyFloatObject", "ob_fval")
X(bytes_ob_sval,              "PyBytesObject", "ob_sval")
X(bytearray_ob_alloc,         "PyByteArrayObject", "ob_alloc")
X(bytearray_ob_bytes,         "PyByteArrayObject", "ob_bytes")
X(bytearray_ob_bytes_object,  "PyByteArrayObject", "ob_bytes_object") /* 3.15+ */

/* module, function, cell, method, classmethod, property, weakref */
X(module_md_dict,             "PyModuleObject", "md_dict")
X(module_md_name,             "PyModuleObject", "md_name")
X(module_md_state,            "PyModuleObject", "md_state")
X(module_md_state_size,       "PyModuleObject", "md_state_size") /* 3.15+ */
X(func_code,                  "PyFunctionObject", "func_code")
X(func_globals,               "PyFunctionObject", "func_globals")
X(func_name,                  "PyFunctionObject", "func_name")
X(func_qualname,              "PyFunctionObject", "func_qualname")
X(func_closure,               "PyFunctionObject", "func_closure")
X(func_module,                "PyFunctionObject", "func_module")
X(func_defaults,              "PyFunctionObject", "func_defaults")
X(func_kwdefaults,            "PyFunctionObject", "func_kwdefaults")
X(func_annotations,           "PyFunctionObject", "func_annotations")
X(func_typeparams,            "PyFunctionObject", "func_typeparams")  /* 3.12+ */
X(func_annotate,              "PyFunctionObject", "func_annotate")    /* 3.14+ */
X(cell_ob_ref,                "PyCellObject", "ob_ref")
X(method_im_func,             "PyMethodObject", "im_func")
X(method_im_self,             "PyMethodObject", "im_self")
X(weakref_wr_object,          "PyWeakReference|_PyWeakReference", "wr_object")
X(weakref_wr_callback,        "PyWeakReference|_PyWeakReference", "wr_callback")

/* generators and coroutines */
X(gen_size,                   "PyGenObject", NULL)
X(gen_gi_frame,               "PyGenObject", "gi_frame")       /* <=3.10 */
X(gen_gi_code,                "PyGenObject", "gi_code")        /* <=3.11 */
X(gen_gi_name,                "PyGenObject", "gi_name")
X(gen_gi_qualname,            "PyGenObject", "gi_qualname")
X(gen_gi_frame_state,         "PyGenObject", "gi_frame_state") /* 3.11+ */
X(gen_gi_iframe,              "PyGenObject", "gi_iframe")      /* 3.11+ */

/* collections.deque (Modules/_collectionsmodule.c). Its block is looked up
 * by its tag first: Python/pyarena.c has another typedef named "block". */
X(deque_leftblock,            "dequeobject", "leftblock")
X(deque_rightblock,           "dequeobject", "rightblock")
X(deque_leftindex,            "dequeobject", "leftindex")
X(deque_rightindex,           "dequeobject", "rightindex")
X(deque_maxlen,               "dequeobject", "maxlen")
X(deque_block_size,           "BLOCK|block", NULL)
X(deque_block_data,           "BLOCK|block", "data")
X(deque_block_rightlink,      "BLOCK|block", "rightlink")

/* collections.OrderedDict (Objects/odictobject.c) */
X(odict_size,                 "PyODictObject|_odictobject", NULL)
X(odict_fast_nodes_size,      "PyODictObject|_odictobject", "od_fast_nodes_size")
X(odict_inst_dict,            "PyODictObject|_odictobject", "od_inst_dict")

/* pymalloc (Objects/obmalloc.c). Up to 3.11 its state is file statics
 * found by symbol; 3.12 embeds struct _obmalloc_state in the interpreter,
 * 3.13+ point to it. */
X(rt_allocators_obj,          "_PyRuntimeState|pyruntimestate", "allocators.standard.obj") /* 3.12+ */
X(interp_obmalloc,            "PyInterpreterState|_is", "obmalloc")     /* 3.12+ */
X(obmalloc_arenas,            "_obmalloc_state", "mgmt.arenas")         /* 3.12+ */
X(obmalloc_maxarenas,         "_obmalloc_state", "mgmt.maxarenas")
X(obmalloc_narenas_current,   "_obmalloc_state", "mgmt.narenas_currently_allocated")
X(obmalloc_narenas_total,     "_obmalloc_state", "mgmt.ntimes_arena_allocated")
X(obmalloc_narenas_highwater, "_obmalloc_state", "mgmt.narenas_highwater")
X(arena_object_size,          "arena_object", NULL)
X(arena_address,              "arena_object", "address")
X(arena_pool_address,         "arena_object", "pool_address")
X(arena_nfreepools,           "arena_object", "nfreepools")
X(arena_ntotalpools,          "arena_object", "ntotalpools")
X(pool_header_size,           "pool_header", NULL)
X(pool_count,                 "pool_header", "ref.count")
X(pool_freeblock,             "pool_header", "freeblock")
X(pool_arenaindex,            "pool_header", "arenaindex")
X(pool_szidx,                 "pool_header", "szidx")
X(pool_nextoffset,            "pool_header", "nextoffset")
X(pool_maxnextoffset,         "pool_header", "maxnextoffset")

/* tracemalloc (Modules/_tracemalloc.c up to 3.11, Python/tracemalloc.c
 * after: file statics up to 3.11, _PyRuntime.tracemalloc from 3.12). */
X(rt_tracemalloc,             "_PyRuntimeState|pyruntimestate", "tracemalloc") /* 3.12+ */
X(tracemalloc_tracing,        "_tracemalloc_runtime_state|_PyTraceMalloc_Config", "config.tracing|tracing")
X(tracemalloc_traces,         "_tracemalloc_runtime_state", "traces")   /* 3.12+ */
X(tracemalloc_domains,        "_tracemalloc_runtime_state", "domains")  /* 3.12+ */
X(hashtable_nentries,         "_Py_hashtable_t", "nentries|entries")
X(hashtable_nbuckets,         "_Py_hashtable_t", "nbuckets|num_buckets")
X(hashtable_buckets,          "_Py_hashtable_t", "buckets")
X(hashtable_key_size,         "_Py_hashtable_t", "key_size")           /* 3.8 */
X(hashtable_entry_size,       "_Py_hashtable_entry_t", NULL)
X(hashtable_entry_key,        "_Py_hashtable_entry_t", "key")          /* 3.9+ */
X(hashtable_entry_value,      "_Py_hashtable_entry_t", "value")        /* 3.9+ */
X(trace_size,                 "trace_t", "size")
X(trace_traceback,            "trace_t", "traceback")
X(traceback_nframe,           "traceback_t|tracemalloc_traceback", "nframe")
X(traceback_total_nframe,     "traceback_t|tracemalloc_traceback", "total_nframe") /* 3.9+ */
X(traceback_frames,           "traceback_t|tracemalloc_traceback", "frames")
X(frame_t_size,               "frame_t|tracemalloc_frame", NULL)
X(frame_t_filename,           "frame_t|tracemalloc_frame", "filename")
X(frame_t_lineno,             "frame_t|tracemalloc_frame", "lineno")
