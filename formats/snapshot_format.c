/*
 * Snapshot files: the tables their writer and reader share, the sections
 * and the metadata keys (FORMAT.md).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "snapshot_format.h"

const uint8_t pyhs_snapshot_magic[PYHS_SNAPSHOT_MAGIC_SIZE] = {
	0x89, 'P', 'Y', 'H', 'S', 'N', 'A', 'P',
};

const struct pyhs_snapshot_section pyhs_snapshot_sections[NSECTIONS] = {
	[S_META] = { "META", "metadata", false },
	[S_THRD] = { "THRD", "threads", false },
	[S_WARN] = { "WARN", "warnings", false },
	[S_TYPE] = { "TYPE", "types", false },
	[S_STRS] = { "STRS", "strings", false },
	[S_ROOT] = { "ROOT", "roots", false },
	[S_ADDR] = { "ADDR", "addresses", false },
	[S_OTYP] = { "OTYP", "object types", false },
	[S_SIZE] = { "SIZE", "sizes", false },
	[S_RCNT] = { "RCNT", "refcounts", false },
	[S_GENS] = { "GENS", "generations", false },
	[S_FLAG] = { "FLAG", "flags", false },
	[S_VOFF] = { "VOFF", "value offsets", false },
	[S_VTXT] = { "VTXT", "value texts", false },
	[S_ECNT] = { "ECNT", "edge counts", false },
	[S_EDST] = { "EDST", "edges", false },
	[S_ELKD] = { "ELKD", "edge labels", false },
	[S_ELPL] = { "ELPL", "edge label payloads", false },
	[S_ASYN] = { "ASYN", "coroutines and futures", true },
	[S_MEMS] = { "MEMS", "allocator state", true },
	[S_INDX] = { "INDX", "index", true },
	[S_TOPR] = { "TOPR", "largest retainers", true },
	[S_RAND] = { "RAND", "object records", true },
};

/* The metadata keys, in the order they are written. A run of PER_GEN keys
 * is written once per collector generation ("gc.%d.KEY", generations
 * outermost), a PER_WARNING key once per warning kind ("warnings.%s"). */
enum meta_repeat { ONCE, PER_GEN, PER_WARNING };

#define PART(f) offsetof(struct pyhs_heap_parts, f)
#define ONCE_KEY(k, v, f) { .key = k, .value = v, .offset = PART(f) }

static const struct {
	const char *key;
	enum snapshot_meta_value value;
	size_t offset;          /* in struct pyhs_heap_parts */
	enum meta_repeat repeat;
	size_t stride;          /* between repeats */
	bool optional;
} meta_keys[] = {
	ONCE_KEY("source", META_VALUE_STR, meta.source),
	ONCE_KEY("input", META_VALUE_STR, meta.input),
	ONCE_KEY("pid", META_VALUE_INT, meta.pid),
	ONCE_KEY("signal", META_VALUE_INT, meta.signal),
	ONCE_KEY("executable", META_VALUE_STR, meta.executable),
	ONCE_KEY("cmdline", META_VALUE_STR, meta.cmdline),
	ONCE_KEY("hexversion", META_VALUE_U32, meta.hexversion),
	ONCE_KEY("version", META_VALUE_STR, meta.version),
	ONCE_KEY("library", META_VALUE_STR, meta.library),
	ONCE_KEY("layout", META_VALUE_STR, meta.layout),
	ONCE_KEY("debug_file", META_VALUE_STR, meta.debug_file),
	ONCE_KEY("capture_time", META_VALUE_U64, meta.capture_time),
	ONCE_KEY("start_time", META_VALUE_U64, meta.start_time),
	ONCE_KEY("pause_ns", META_VALUE_U64, meta.pause_ns),
	{ .key = "unstopped", .value = META_VALUE_BOOL, .offset = PART(meta.unstopped),
	  .optional = true },
	ONCE_KEY("gc.enabled", META_VALUE_BOOL, gc_enabled),
#define GC(f, v) { .key = "gc.%d." #f, .value = v, .offset = PART(gc[0].f), .repeat = PER_GEN, \
		    .stride = sizeof(struct pyhs_gc_generation_info) }
	GC(threshold, META_VALUE_INT),
	GC(count, META_VALUE_INT),
	GC(objects, META_VALUE_U64),
	GC(bytes, META_VALUE_U64),
#undef GC
	{ .key = "warnings.%s", .value = META_VALUE_U64, .offset = PART(warn_count[0]),
	  .repeat = PER_WARNING, .stride = sizeof(uint64_t) },
};

#define NMETA_KEYS (sizeof(meta_keys) / sizeof(meta_keys[0]))

static int meta_repeats(enum meta_repeat r)
{
	return r == PER_GEN ? 4 : r == PER_WARNING ? PYHS_WARN_NKINDS : 1;
}

size_t snapshot_meta_fields(struct pyhs_heap_parts *p,
			    struct snapshot_meta_field *ret)
{
	size_t n = 0;
	for (size_t i = 0; i < NMETA_KEYS;) {
		enum meta_repeat rep = meta_keys[i].repeat;
		size_t run = 1;
		while (rep != ONCE && i + run < NMETA_KEYS && meta_keys[i + run].repeat == rep)
			run++;
		for (int r = 0; r < meta_repeats(rep); r++) {
			for (size_t k = i; k < i + run; k++) {
				struct snapshot_meta_field *f = &ret[n++];
				if (rep == PER_WARNING)
					snprintf(f->key, sizeof(f->key), meta_keys[k].key,
						 pyhs_heap_warning_kind_name((enum pyhs_warning_kind)r));
				else if (rep == PER_GEN)
					snprintf(f->key, sizeof(f->key), meta_keys[k].key, r);
				else
					snprintf(f->key, sizeof(f->key), "%s", meta_keys[k].key);
				f->value = meta_keys[k].value;
				f->p = (char *)p + meta_keys[k].offset + (size_t)r * meta_keys[k].stride;
				f->optional = meta_keys[k].optional;
			}
		}
		i += run;
	}
	return n;
}

const struct snapshot_meta_field *
snapshot_meta_find(const struct snapshot_meta_field *fields, size_t n,
		   const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(fields[i].key, key) == 0)
			return &fields[i];
	return NULL;
}

uint64_t snapshot_rand_binding(const uint8_t *table, size_t count)
{
	uint8_t sums[NSECTIONS * 8];
	size_t nsums = 0;
	for (int sec = 0; sec < NSECTIONS; sec++)
		for (size_t k = 0; k < count && rand_binds((enum section)sec); k++)
			if (!memcmp(table + k * ENTRY_SIZE, pyhs_snapshot_sections[sec].id, 4)) {
				memcpy(sums + 8 * nsums++, table + k * ENTRY_SIZE + 32, 8);
				break;
			}
	return pyhs_xxh64(sums, 8 * nsums);
}
