/* Sizes of objects whose sys.getsizeof() counts more than their fixed
 * layout: the C types of CPython's tree (and numpy's) with a __sizeof__ of
 * their own, read from the object as that __sizeof__ reads it.
 *
 * Which __sizeof__ an object gets is found as Python finds it: the first
 * type of its type's MRO whose dict has one.  A rule below for that type
 * (by tp_name and version) computes it; a builtin type the walker decodes
 * (dict, list, str, ...) keeps the walker's size; any other __sizeof__ (in
 * Python, or of a C type no rule knows) makes the size inexact: the object
 * is flagged PYHS_OBJ_SIZE_INEXACT and keeps its layout's size.
 *
 * The rules are facts per version: offsets of the C structs (from the
 * DWARF of CPython's own builds, 3.8 to 3.14), so a new version needs only
 * rows, not code. */
#include <string.h>

#include "heap_internal.h"

enum size_rule_kind {
	SR_NONE,
	/* + f[1] bytes when the pointer at f[0] is set (_io.Buffered*) */
	SR_BUFFER,
	/* + (word at f[0] + f[2]) * f[1] (itertools.combinations) */
	SR_COUNT,
	/* + f[1] bytes per format code at f[0] up to the one whose first word
	 * is NULL, that one included (Struct) */
	SR_STRUCT,
	/* + 8 * (len(tuple at f[0]) + word at f[1]) (permutations; f[1] < 0:
	 * product) */
	SR_TUPLE_COUNT,
	/* + allocated (f[0]) * descr (f[1]) -> int itemsize (f[2]); the
	 * items at f[3] */
	SR_ARRAY,
	/* + getsizeof(bytes at f[0]) unless shared (refcount above 1) */
	SR_BYTESIO,
	/* memo table (f[0], its allocated at f[1]) and output bytes (f[2]) */
	SR_PICKLER,
	/* memo (f[0], f[1]), marks (f[2], f[3]), C strings at f[4..6] */
	SR_UNPICKLER,
	/* extra (f[0]): its size (f[1]), children (f[2]) outside it
	 * (inline at f[3]), allocated (f[4]) */
	SR_ELEMENT,
	/* dict + StgDictObject's own part f[0], format (f[1]), ndim (f[2]),
	 * elements (f[3]) of length (f[4]) + 1 */
	SR_STGDICT,
	/* a ctypes type: its layout, and its StgInfo's format, elements and
	 * shape, the info after the type object at f[0], fields as StgDict */
	SR_CTYPE_TYPE,
	/* mpd_t at f[0]: flags (byte), alloc at f[1] */
	SR_DECIMAL,
	/* 3.11+: rounded var size, co_extra at f[0] */
	SR_CODE,
	/* 3.8-3.10: co_extra f[0], cell2arg f[1], cellvars f[2], opcache
	 * f[3] of opcache_size (byte) f[4] entries of f[6] bytes, co_code f[5] */
	SR_CODE_OLD,
	/* numpy 1.x: nd f[0], dims f[1], descr f[2], flags f[3]; descr's
	 * elsize f[4]; descr type basicsize f[5]; data f[6] */
	SR_NDARRAY,
	/* numpy scalar of a fixed item size f[0] */
	SR_NPY_SCALAR,
	/* numpy.bytes_: its length is its item size */
	SR_NPY_BYTES,
	/* numpy.void: descr at f[0], its elsize at f[1] */
	SR_NPY_VOID,
	/* regex's _regex.Pattern of basicsize f[0]: node_count f[1] nodes
	 * (list f[2]) of f[3] bytes with value_count (f[4]) 4-byte codes;
	 * true_group_count f[5] of f[6] bytes, repeat_count f[7] of 4,
	 * packed_code_list bytes f[8], call_ref_info_count f[9] of 16,
	 * locale_info f[10] of f[11] */
	SR_REGEX,
};

#define NF 12
struct size_rule {
	const char *tp_name;
	unsigned min_minor, max_minor;
	enum size_rule_kind kind;
	int32_t f[NF];
};

#define ALL 8, 15
/* Offsets from the DWARF of pyenv's 3.8-3.13 and Debian's 3.11, 3.14 and
 * 3.15 builds, each row checked against the oracle. */
static const struct size_rule rules[] = {
	{ "_io.BufferedReader", 8, 15, SR_BUFFER, { 56, 120 } },
	{ "_io.BufferedWriter", 8, 15, SR_BUFFER, { 56, 120 } },
	{ "_io.BufferedRandom", 8, 15, SR_BUFFER, { 56, 120 } },
	{ "_io.BytesIO", 8, 15, SR_BYTESIO, { 16 } },
	{ "Struct", 8, 8, SR_STRUCT, { 32, 32 } },
	{ "_struct.Struct", 9, 15, SR_STRUCT, { 32, 32 } },
	{ "collections.deque", ALL, SR_NONE, { 0 } },
	{ "itertools.combinations", 8, 15, SR_COUNT, { 40, 8, 0 } },
	{ "itertools.combinations_with_replacement", 8, 15, SR_COUNT, { 40, 8, 0 } },
	{ "itertools.permutations", 8, 15, SR_TUPLE_COUNT, { 16, 48 } },
	{ "itertools.product", 8, 15, SR_TUPLE_COUNT, { 16, -1 } },
	{ "array.array", 8, 15, SR_ARRAY, { 32, 40, 4, 24 } },
	{ "_pickle.Pickler", 8, 12, SR_PICKLER, { 16, 16, 64 } },
	{ "_pickle.Pickler", 13, 13, SR_PICKLER, { 16, 16, 56 } },
	{ "_pickle.Pickler", 14, 15, SR_PICKLER, { 16, 16, 64 } },
	{ "_pickle.Unpickler", 8, 12, SR_UNPICKLER, { 24, 32, 240, 256, 152, 224, 232 } },
	{ "_pickle.Unpickler", 13, 13, SR_UNPICKLER, { 24, 32, 232, 248, 144, 216, 224 } },
	{ "_pickle.Unpickler", 14, 14, SR_UNPICKLER, { 24, 32, 256, 272, 152, 240, 248 } },
	{ "_pickle.Unpickler", 15, 15, SR_UNPICKLER, { 24, 32, 264, 280, 160, 248, 256 } },
	{ "xml.etree.ElementTree.Element", 8, 15, SR_ELEMENT, { 40, 64, 24, 32, 16 } },
	{ "StgDict", 8, 12, SR_STGDICT, { 192 - 48, 168, 176, 88, 64 } },
	{ "_ctypes.CType_Type", 13, 13, SR_CTYPE_TYPE, { 0, 136, 144, 48, 24 } },
	{ "_ctypes.CType_Type", 14, 15, SR_CTYPE_TYPE, { 0, 144, 152, 48, 24 } },
	{ "decimal.Decimal", 8, 15, SR_DECIMAL, { 24, 32 } },
	{ "code", 8, 10, SR_CODE_OLD, { 144, 96, 88, 160, 172, 48, 32 } },
	{ "code", 11, 11, SR_CODE, { 176 } },
	{ "code", 12, 12, SR_CODE, { 184 } },
	{ "code", 13, 13, SR_CODE, { 192 } },
	{ "code", 14, 15, SR_CODE, { 200 } },
	/* numpy 1.x (PyArrayObject_fields, PyArray_Descr of 96 bytes) */
	{ "numpy.ndarray", ALL, SR_NDARRAY, { 24, 32, 56, 64, 32, 96, 16 } },
	{ "numpy.bool_", ALL, SR_NPY_SCALAR, { 1 } },
	{ "numpy.int8", ALL, SR_NPY_SCALAR, { 1 } },
	{ "numpy.uint8", ALL, SR_NPY_SCALAR, { 1 } },
	{ "numpy.int16", ALL, SR_NPY_SCALAR, { 2 } },
	{ "numpy.uint16", ALL, SR_NPY_SCALAR, { 2 } },
	{ "numpy.float16", ALL, SR_NPY_SCALAR, { 2 } },
	{ "numpy.int32", ALL, SR_NPY_SCALAR, { 4 } },
	{ "numpy.uint32", ALL, SR_NPY_SCALAR, { 4 } },
	{ "numpy.float32", ALL, SR_NPY_SCALAR, { 4 } },
	{ "numpy.int64", ALL, SR_NPY_SCALAR, { 8 } },
	{ "numpy.uint64", ALL, SR_NPY_SCALAR, { 8 } },
	{ "numpy.longlong", ALL, SR_NPY_SCALAR, { 8 } },
	{ "numpy.ulonglong", ALL, SR_NPY_SCALAR, { 8 } },
	{ "numpy.float64", ALL, SR_NPY_SCALAR, { 8 } },
	{ "numpy.complex64", ALL, SR_NPY_SCALAR, { 8 } },
	{ "numpy.datetime64", ALL, SR_NPY_SCALAR, { 8 } },
	{ "numpy.timedelta64", ALL, SR_NPY_SCALAR, { 8 } },
	{ "numpy.float128", ALL, SR_NPY_SCALAR, { 16 } },
	{ "numpy.complex128", ALL, SR_NPY_SCALAR, { 16 } },
	{ "numpy.complex256", ALL, SR_NPY_SCALAR, { 32 } },
	{ "numpy.bytes_", ALL, SR_NPY_BYTES, { 0 } },
	{ "numpy.void", ALL, SR_NPY_VOID, { 32, 32 } },
	/* regex 2026.5 (its PatternObject of 352 bytes) */
	{ "_regex.Pattern", ALL, SR_REGEX,
	  { 352, 168, 176, 104, 80, 64, 24, 88, 32, 208, 264, 1024 } },
};

/* What an object's size comes from, per type (pyhs_type_info.sizing). */
enum {
	SIZING_UNKNOWN = 0,
	SIZING_LAYOUT,   /* the walker's size is sys.getsizeof()'s */
	SIZING_INEXACT,  /* a __sizeof__ we cannot follow */
	SIZING_RULE,     /* rules[sizing - SIZING_RULE] */
};

/* strlen of a C string in the target, bounded; false if unreadable. */
static bool target_strlen(const struct pyhs_heap *h, uint64_t addr,
			  uint64_t *ret)
{
	for (uint64_t i = 0; i < 65536; i++) {
		char c;
		if (!pyhs_target_read(h->t, addr + i, &c, 1))
			return false;
		if (!c) {
			*ret = i;
			return true;
		}
	}
	return false;
}

static int sizing_of_type(struct pyhs_heap *h, uint64_t type)
{
	const struct pyhs_layout *L = h->L;
	uint64_t np;
	char name[96];
	if (hrd_off(h, type, L->type_tp_name, &np) && pyhs_read_cstr(h, np, name, sizeof(name))) {
		for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]); r++)
			if (h->minor >= rules[r].min_minor &&
			    h->minor <= rules[r].max_minor &&
			    strcmp(rules[r].tp_name, name) == 0)
				return SIZING_RULE + (int)r;
	}
	/* A builtin type the walker decodes sizes itself (object too). */
	if (pyhs_addr_u32_map_search(&h->kind_by_addr, type))
		return SIZING_LAYOUT;
	uint64_t dict = pyhs_type_dict(h, type);
	if (dict && pyhs_dict_get_str(h, dict, "__sizeof__"))
		return SIZING_INEXACT;
	return SIZING_UNKNOWN;
}

/* The sizing of a type's instances: its MRO's first __sizeof__. */
static int resolve(struct pyhs_heap *h, const struct pyhs_type_info *ti)
{
	const struct pyhs_layout *L = h->L;
	uint64_t mro, n;
	if (!hrd_off(h, ti->addr, L->type_tp_mro, &mro) || !mro ||
	    !hrd(h, mro + 16, &n) || n > 256)
		return sizing_of_type(h, ti->addr) == SIZING_INEXACT ? SIZING_INEXACT :
									SIZING_LAYOUT;
	for (uint64_t k = 0; k < n; k++) {
		uint64_t t;
		if (!hrd(h, mro + (uint64_t)L->tuple_ob_item + 8 * k, &t))
			break;
		int s = sizing_of_type(h, t);
		if (s != SIZING_UNKNOWN)
			return s;
	}
	return SIZING_LAYOUT;
}

static bool tuple_len(const struct pyhs_heap *h, uint64_t tuple, uint64_t *ret)
{
	return tuple && hrd(h, tuple + 16, ret) && *ret < (UINT64_C(1) << 32);
}

static bool rd32(const struct pyhs_heap *h, uint64_t addr, int32_t *ret)
{
	return pyhs_target_read(h->t, addr, ret, 4);
}

/* The size by rule r, given the size of the layout; false if the object
 * cannot be read as the rule says. */
static bool apply(const struct pyhs_heap *h, const struct pyhs_type_info *ti,
		  const struct size_rule *r, uint64_t addr, uint64_t size,
		  uint64_t *ret)
{
	const int32_t *f = r->f;
	uint64_t a = 0, b = 0, c = 0;
	int32_t i32;
	switch (r->kind) {
	case SR_NONE:
		break;
	case SR_BUFFER:
		if (!hrd(h, addr + f[0], &a) || !hrd(h, addr + f[1], &b))
			return false;
		if (a)
			size += b;
		break;
	case SR_COUNT:
		if (!hrd(h, addr + f[0], &a) || a > (UINT64_C(1) << 32))
			return false;
		size += (a + (uint64_t)f[2]) * (uint64_t)f[1];
		break;
	case SR_STRUCT:
		if (!hrd(h, addr + f[0], &a) || !a)
			return false;
		for (b = 0;; b++) {
			if (b > (1u << 20) || !hrd(h, a + b * (uint64_t)f[1], &c))
				return false;
			size += (uint64_t)f[1];
			if (!c)
				break;
		}
		break;
	case SR_TUPLE_COUNT:
		if (!hrd(h, addr + f[0], &a) || !tuple_len(h, a, &b))
			return false;
		if (f[1] >= 0 && (!hrd(h, addr + f[1], &c) || c > (UINT64_C(1) << 32)))
			return false;
		size += 8 * (b + c);
		break;
	case SR_ARRAY:
		if (!hrd(h, addr + f[0], &a) || !hrd(h, addr + f[1], &b) || !b ||
		    !rd32(h, b + f[2], &i32) || i32 < 0 || a > (UINT64_C(1) << 40))
			return false;
		size = (uint64_t)ti->basicsize + a * (uint64_t)i32;
		break;
	case SR_BYTESIO:
		if (!hrd(h, addr + f[0], &a))
			return false;
		if (a) {
			if (!hrd(h, a, &b) || !hrd(h, a + 16, &c))
				return false;
			/* 3.12+ immortal counts read as their low half */
			if (h->minor >= 12)
				b &= UINT32_MAX;
			if (b == 1)
				size += 33 + c;
		}
		break;
	case SR_PICKLER:
		if (!hrd(h, addr + f[0], &a) || !hrd(h, addr + f[2], &c))
			return false;
		if (a) {
			if (!hrd(h, a + f[1], &b))
				return false;
			size += 32 + 16 * b;
		}
		if (c) {
			if (!hrd(h, c + 16, &b))
				return false;
			size += 33 + b;
		}
		break;
	case SR_UNPICKLER:
		if (!hrd(h, addr + f[0], &a) || !hrd(h, addr + f[1], &b))
			return false;
		if (a)
			size += 8 * b;
		if (!hrd(h, addr + f[2], &a) || !hrd(h, addr + f[3], &b))
			return false;
		if (a)
			size += 8 * b;
		for (int k = 4; k < 7; k++) {
			if (!hrd(h, addr + f[k], &a))
				return false;
			if (a) {
				if (!target_strlen(h, a, &b))
					return false;
				size += b + 1;
			}
		}
		break;
	case SR_ELEMENT:
		if (!hrd(h, addr + f[0], &a))
			return false;
		if (a) {
			size += (uint64_t)f[1];
			if (!hrd(h, a + f[2], &b) || !hrd(h, a + f[4], &c))
				return false;
			if (b != a + (uint64_t)f[3])
				size += 8 * c;
		}
		break;
	case SR_STGDICT:
	case SR_CTYPE_TYPE: {
		uint64_t info = addr;
		if (r->kind == SR_STGDICT) {
			size += (uint64_t)f[0];
		} else {
			/* StgInfo follows the type object, aligned to 16;
			 * without it (not initialized) only the layout. */
			uint64_t n = 0;
			hrd(h, addr + 16, &n);
			size = (uint64_t)ti->basicsize + (uint64_t)ti->itemsize * n;
			info = addr + (((uint64_t)h->L->heaptype_size + 15) & ~UINT64_C(15));
			if (!rd32(h, info, &i32))
				return false;
			if (!i32)
				break;
		}
		if (!hrd(h, info + f[1], &a))
			return false;
		if (a) {
			if (!target_strlen(h, a, &b))
				return false;
			size += b + 1;
		}
		if (!hrd(h, info + f[2], &a) || a > (1u << 16))
			return false;
		size += 8 * a;
		if (!hrd(h, info + f[3], &a) || !hrd(h, info + f[4], &b) ||
		    b > (UINT64_C(1) << 32))
			return false;
		if (a)
			size += 8 * (b + 1);
		break;
	}
	case SR_DECIMAL: {
		uint8_t flags;
		if (!pyhs_target_read(h->t, addr + f[0], &flags, 1) ||
		    !hrd(h, addr + f[0] + f[1], &a) || a > (UINT64_C(1) << 40))
			return false;
		/* not static, shared or const data: allocated */
		if (!(flags & 0xe0))
			size += 8 * a;
		break;
	}
	case SR_CODE:
		if (!hrd(h, addr + f[0], &a))
			return false;
		size = (size + 7) & ~UINT64_C(7);
		if (a) {
			if (!hrd(h, a, &b) || !b || b > (1u << 16))
				return false;
			size += 16 + 8 * (b - 1);
		}
		break;
	case SR_CODE_OLD: {
		uint8_t nopcache;
		if (!hrd(h, addr + f[0], &a))
			return false;
		if (a) {
			if (!hrd(h, a, &b) || !b || b > (1u << 16))
				return false;
			size += 16 + 8 * (b - 1);
		}
		if (!hrd(h, addr + f[1], &a) || !hrd(h, addr + f[2], &b))
			return false;
		if (a && b) {
			if (!tuple_len(h, b, &c))
				return false;
			size += 8 * c;
		}
		if (!hrd(h, addr + f[3], &a) ||
		    !pyhs_target_read(h->t, addr + f[4], &nopcache, 1))
			return false;
		if (a) {
			if (!hrd(h, addr + f[5], &b) || !hrd(h, b + 16, &c))
				return false;
			size += c / 2 + (uint64_t)nopcache * (uint64_t)f[6];
		}
		break;
	}
	case SR_NDARRAY: {
		uint64_t descr, dims, dtype_basic = 0, dtype_type = 0;
		int32_t nd, flags, elsize;
		if (!rd32(h, addr + f[0], &nd) || nd < 0 || nd > 64 ||
		    !hrd(h, addr + f[1], &dims) || !hrd(h, addr + f[2], &descr) ||
		    !rd32(h, addr + f[3], &flags) || !descr ||
		    !hrd(h, descr + 8, &dtype_type) ||
		    !hrd_off(h, dtype_type, h->L->type_tp_basicsize, &dtype_basic) ||
		    dtype_basic != (uint64_t)f[5] ||
		    !rd32(h, descr + f[4], &elsize) || elsize < 0)
			return false;
		size = (uint64_t)ti->basicsize + 16 * (uint64_t)nd;
		if (flags & 0x4) { /* NPY_ARRAY_OWNDATA */
			uint64_t n = (uint64_t)elsize;
			for (int32_t k = 0; k < nd; k++) {
				if (!hrd(h, dims + 8 * (uint64_t)k, &a) ||
				    a > (UINT64_C(1) << 48))
					return false;
				n *= a;
				if (n > (UINT64_C(1) << 48))
					return false;
			}
			size += n;
		}
		break;
	}
	case SR_NPY_SCALAR:
		size += (uint64_t)f[0];
		break;
	case SR_NPY_BYTES:
		if (!hrd(h, addr + 16, &a) || a > (UINT64_C(1) << 40))
			return false;
		size += a;
		break;
	case SR_REGEX: {
		uint64_t nodes, code, ctype;
		uint32_t *kind;
		if ((uint64_t)ti->basicsize != (uint64_t)f[0] ||
		    !hrd(h, addr + f[1], &a) || a > (1u << 20) ||
		    !hrd(h, addr + f[2], &nodes) || (a && !nodes))
			return false;
		size = (uint64_t)f[0] + a * (uint64_t)f[3];
		for (uint64_t k = 0; k < a; k++) {
			if (!hrd(h, nodes + 8 * k, &b) || !b || !hrd(h, b + f[4], &c) ||
			    c > (1u << 24))
				return false;
			size += 4 * c;
		}
		if (!hrd(h, addr + f[5], &a) || !hrd(h, addr + f[7], &b) ||
		    a > (1u << 24) || b > (1u << 24))
			return false;
		size += a * (uint64_t)f[6] + 4 * b;
		/* packed_code_list is a bytes object: its own getsizeof */
		if (!hrd(h, addr + f[8], &code) || !code || !hrd(h, code + 8, &ctype) ||
		    !(kind = pyhs_addr_u32_map_search(&h->kind_by_addr, ctype)) ||
		    *kind != K_BYTES || !hrd(h, code + 16, &c))
			return false;
		size += 33 + c;
		if (!hrd(h, addr + f[9], &a) || a > (1u << 24) || !hrd(h, addr + f[10], &b))
			return false;
		size += 16 * a + (b ? (uint64_t)f[11] : 0);
		break;
	}
	case SR_NPY_VOID:
		if (!hrd(h, addr + f[0], &a) || !a || !rd32(h, a + f[1], &i32) || i32 < 0)
			return false;
		size += (uint64_t)i32;
		break;
	}
	*ret = size;
	return true;
}

/* ---- references held in memory the object owns ---- */

enum ref_rule_kind {
	/* extra at f[0]: attrib at f[1] (.attrib), length f[2] children
	 * pointers at f[3] ([i]) (ElementTree elements) */
	RR_ELEMENT,
	/* memo table at f[0]: f[1] (allocated) entries at f[2] of 16 bytes,
	 * their keys (Pickler) */
	RR_MEMO_TABLE,
	/* array at f[0] of the count at f[1] ([i]) (Unpickler memo) */
	RR_ARRAY,
	/* a ctypes type: its StgDict's proto (f[0]), which the type's own
	 * traverse visits (.proto) */
	RR_STGDICT_PROTO,
	/* array at f[0] of the int count at f[1] ([i]) (Cython functions'
	 * defaults) */
	RR_ARRAY_INT,
};

struct ref_rule {
	const char *tp_name;
	unsigned min_minor, max_minor;
	int64_t basicsize; /* the layout the offsets are for; 0: any */
	enum ref_rule_kind kind;
	int32_t f[4];
};

static const struct ref_rule ref_rules[] = {
	{ "xml.etree.ElementTree.Element", 8, 15, 0, RR_ELEMENT, { 40, 0, 8, 24 } },
	{ "_pickle.Pickler", 8, 15, 0, RR_MEMO_TABLE, { 16, 16, 24 } },
	{ "_pickle.Unpickler", 8, 15, 0, RR_ARRAY, { 24, 32 } },
	{ "_ctypes.PyCPointerType", 8, 12, 0, RR_STGDICT_PROTO, { 96 } },
	{ "_ctypes.PyCArrayType", 8, 12, 0, RR_STGDICT_PROTO, { 96 } },
	{ "_ctypes.PyCSimpleType", 8, 12, 0, RR_STGDICT_PROTO, { 96 } },
	{ "_ctypes.PyCFuncPtrType", 8, 12, 0, RR_STGDICT_PROTO, { 96 } },
	{ "_ctypes.PyCStructType", 8, 12, 0, RR_STGDICT_PROTO, { 96 } },
	{ "_ctypes.UnionType", 8, 12, 0, RR_STGDICT_PROTO, { 96 } },
	/* Cython 0.29's functions (a 184-byte layout): their defaults */
	{ "cython_function_or_method", 8, 15, 184, RR_ARRAY_INT, { 120, 128 } },
};

#define MAX_OWNED_REFS (1u << 20)

static int ref_rule_of(struct pyhs_heap *h, const struct pyhs_type_info *ti)
{
	const struct pyhs_layout *L = h->L;
	uint64_t mro, n, t, np;
	char name[96];
	if (!hrd_off(h, ti->addr, L->type_tp_mro, &mro) || !mro ||
	    !hrd(h, mro + 16, &n) || n > 256)
		n = 0;
	for (uint64_t k = 0; k < (n ? n : 1); k++) {
		if (!n)
			t = ti->addr;
		else if (!hrd(h, mro + (uint64_t)L->tuple_ob_item + 8 * k, &t))
			break;
		if (!hrd_off(h, t, L->type_tp_name, &np) ||
		    !pyhs_read_cstr(h, np, name, sizeof(name)))
			continue;
		uint64_t basic = 0;
		hrd_off(h, t, L->type_tp_basicsize, &basic);
		for (size_t r = 0; r < sizeof(ref_rules) / sizeof(ref_rules[0]); r++)
			if (h->minor >= ref_rules[r].min_minor &&
			    h->minor <= ref_rules[r].max_minor &&
			    strcmp(ref_rules[r].tp_name, name) == 0 &&
			    (!ref_rules[r].basicsize ||
			     (uint64_t)ref_rules[r].basicsize == basic))
				return (int)r + 1;
	}
	return -1;
}

struct pyhs_error *pyhs_owned_refs(struct pyhs_heap *h, uint32_t type,
				   uint64_t addr, pyhs_owned_ref_fn *fn,
				   void *arg)
{
	struct pyhs_type_info *ti = &h->types.data[type];
	if (!ti->owned_refs)
		ti->owned_refs = ref_rule_of(h, ti);
	if (ti->owned_refs < 0)
		return NULL;
	const struct ref_rule *r = &ref_rules[ti->owned_refs - 1];
	const int32_t *f = r->f;
	uint64_t a, b, c, v;
	struct pyhs_error *err;
	uint32_t id;
	switch (r->kind) {
	case RR_ELEMENT:
		if (!hrd(h, addr + f[0], &a) || !a)
			break;
		if (hrd(h, a + f[1], &v) && v) {
			if ((err = pyhs_heap_intern_string(h, ".attrib", &id)))
				return err;
			fn(arg, v, PYHS_LABEL(PYHS_LABEL_FIELD, id));
		}
		if (!hrd(h, a + f[2], &b) || !hrd(h, a + f[3], &c) || b > MAX_OWNED_REFS)
			break;
		for (uint64_t k = 0; k < b; k++)
			if (hrd(h, c + 8 * k, &v) && v)
				fn(arg, v, PYHS_LABEL(PYHS_LABEL_INDEX, k));
		break;
	case RR_MEMO_TABLE:
		if (!hrd(h, addr + f[0], &a) || !a || !hrd(h, a + f[1], &b) ||
		    !hrd(h, a + f[2], &c) || b > MAX_OWNED_REFS)
			break;
		for (uint64_t k = 0; k < b; k++)
			if (hrd(h, c + 16 * k, &v) && v)
				fn(arg, v, PYHS_LABEL(PYHS_LABEL_DICT_KEY, 0));
		break;
	case RR_ARRAY:
		if (!hrd(h, addr + f[0], &a) || !a || !hrd(h, addr + f[1], &b) ||
		    b > MAX_OWNED_REFS)
			break;
		for (uint64_t k = 0; k < b; k++)
			if (hrd(h, a + 8 * k, &v) && v)
				fn(arg, v, PYHS_LABEL(PYHS_LABEL_INDEX, k));
		break;
	case RR_ARRAY_INT: {
		int32_t n;
		if (!hrd(h, addr + f[0], &a) || !a || !rd32(h, addr + f[1], &n) ||
		    n < 0 || (uint32_t)n > MAX_OWNED_REFS)
			break;
		for (uint64_t k = 0; k < (uint64_t)n; k++)
			if (hrd(h, a + 8 * k, &v) && v)
				fn(arg, v, PYHS_LABEL(PYHS_LABEL_INDEX, k));
		break;
	}
	case RR_STGDICT_PROTO:
		a = pyhs_type_dict(h, addr);
		if (a && hrd(h, a + f[0], &v) && v) {
			if ((err = pyhs_heap_intern_string(h, ".proto", &id)))
				return err;
			fn(arg, v, PYHS_LABEL(PYHS_LABEL_FIELD, id));
		}
		break;
	}
	return NULL;
}

/* ---- memory the object owns, by block ---- */

void pyhs_owned_blocks(struct pyhs_heap *h, uint32_t type, uint64_t addr,
		       pyhs_owned_block_fn *fn, void *arg)
{
	struct pyhs_type_info *ti = &h->types.data[type];
	if (ti->sizing == SIZING_UNKNOWN)
		ti->sizing = resolve(h, ti);
	if (ti->sizing < SIZING_RULE)
		return;
	const struct size_rule *r = &rules[ti->sizing - SIZING_RULE];
	const int32_t *f = r->f;
	uint64_t a = 0, b = 0;
	int32_t flags;
	switch (r->kind) {
	case SR_BUFFER: /* the buffer, of buffer_size bytes */
		if (hrd(h, addr + f[0], &a) && a)
			fn(arg, a, "buffer");
		break;
	case SR_BYTESIO: /* its bytes object, unless shared */
		if (hrd(h, addr + f[0], &a) && a && hrd(h, a, &b) &&
		    (h->minor >= 12 ? b & UINT32_MAX : b) == 1)
			fn(arg, a, "buffer");
		break;
	case SR_ARRAY:
		if (hrd(h, addr + f[3], &a) && a)
			fn(arg, a, "items");
		break;
	case SR_NDARRAY:
		/* The data if the array owns it; shape and strides, one block. */
		if (rd32(h, addr + f[3], &flags) && (flags & 0x4) &&
		    hrd(h, addr + f[6], &a) && a)
			fn(arg, a, "data");
		if (hrd(h, addr + f[1], &b) && b)
			fn(arg, b, "shape and strides");
		break;
	default:
		break;
	}
}

uint64_t pyhs_size_adjust(struct pyhs_heap *h, uint32_t type, uint64_t addr,
			  uint64_t size, bool *ret_inexact)
{
	struct pyhs_type_info *ti = &h->types.data[type];
	if (ti->sizing == SIZING_UNKNOWN)
		ti->sizing = resolve(h, ti);
	*ret_inexact = false;
	if (ti->sizing == SIZING_LAYOUT)
		return size;
	if (ti->sizing == SIZING_INEXACT) {
		*ret_inexact = true;
		return size;
	}
	uint64_t out;
	if (!apply(h, ti, &rules[ti->sizing - SIZING_RULE], addr, size, &out)) {
		*ret_inexact = true;
		return size;
	}
	return out;
}
