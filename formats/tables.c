/*
 * CSV tables of a heap (RFC 4180: a header row, commas, fields with a comma,
 * quote or line break quoted with quotes doubled): objects.csv, edges.csv
 * and roots.csv in one directory, which DuckDB, pandas or a spreadsheet read
 * as they are. Columns (pyheapsnap-export(1)):
 *   objects: addr,type,size,refcnt,gen,immortal
 *   edges:   src,dst,kind,label
 *   roots:   label,object,owned
 * Addresses are decimal, gen is 0, 1, 2, permanent or untracked, booleans
 * are true/false, kind names the label kind (see label_kind_name).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "formats.h"

static void csv_field(FILE *out, const char *s)
{
	if (!s[strcspn(s, ",\"\r\n")]) {
		fputs(s, out);
		return;
	}
	putc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			putc('"', out);
		putc(*s, out);
	}
	putc('"', out);
}

static const char *label_kind_name(enum pyhs_label_kind k)
{
	static const char *const names[] = {
		[PYHS_LABEL_NONE] = "none", [PYHS_LABEL_INDEX] = "index",
		[PYHS_LABEL_DICT_VALUE] = "value", [PYHS_LABEL_DICT_KEY] = "key",
		[PYHS_LABEL_ATTR] = "attr", [PYHS_LABEL_FIELD] = "field",
		[PYHS_LABEL_LOCAL] = "local", [PYHS_LABEL_CONSERVATIVE] = "scanned",
		[PYHS_LABEL_WEAK] = "weak", [PYHS_LABEL_ITEM] = "item",
		[PYHS_LABEL_CELL] = "cell",
	};
	return (unsigned)k < sizeof(names) / sizeof(names[0]) && names[k] ? names[k] : "none";
}

static const char *const gen_names[] = { "0", "1", "2", "permanent", "untracked" };

static void write_objects(const struct pyhs_heap *h, FILE *out)
{
	fputs("addr,type,size,refcnt,gen,immortal\r\n", out);
	for (uint64_t i = 0; i < pyhs_heap_nobjects(h) && !ferror(out); i++) {
		fprintf(out, "%" PRIu64 ",", pyhs_heap_addr(h, i));
		csv_field(out, pyhs_heap_type_name(h, pyhs_heap_type_of(h, i)));
		fprintf(out, ",%" PRIu64 ",%" PRIu64 ",%s,%s\r\n", pyhs_heap_size(h, i),
			pyhs_heap_refcnt(h, i), gen_names[pyhs_heap_gen(h, i)],
			pyhs_heap_flags(h, i) & PYHS_OBJ_IMMORTAL ? "true" : "false");
	}
}

static void write_edges(const struct pyhs_heap *h, FILE *out)
{
	char label[256];
	fputs("src,dst,kind,label\r\n", out);
	for (uint64_t i = 0; i < pyhs_heap_nobjects(h) && !ferror(out); i++) {
		uint64_t b, e;
		pyhs_heap_edges(h, i, &b, &e);
		for (uint64_t k = b; k < e; k++) {
			uint32_t l = pyhs_heap_edge_label(h, k);
			fprintf(out, "%" PRIu64 ",%" PRIu64 ",%s,", pyhs_heap_addr(h, i),
				pyhs_heap_addr(h, pyhs_heap_edge_dst(h, k)),
				label_kind_name(PYHS_LABEL_KIND(l)));
			if (pyhs_heap_format_label(h, l, label, sizeof(label)))
				csv_field(out, label);
			fputs("\r\n", out);
		}
	}
}

static void write_roots(const struct pyhs_heap *h, FILE *out)
{
	fputs("label,object,owned\r\n", out);
	for (uint64_t r = 0; r < pyhs_heap_nroots(h); r++) {
		csv_field(out, pyhs_heap_root_label(h, r));
		fprintf(out, ",%" PRIu64 ",%s\r\n", pyhs_heap_addr(h, pyhs_heap_root_object(h, r)),
			pyhs_heap_root_holds_ref(h, r) ? "true" : "false");
	}
}

struct pyhs_error *pyhs_export_csv(const struct pyhs_heap *h, const char *dir,
				   const volatile sig_atomic_t *cancel)
{
	static const struct {
		const char *name;
		void (*write)(const struct pyhs_heap *, FILE *);
	} tables[] = {
		{ "objects.csv", write_objects },
		{ "edges.csv", write_edges },
		{ "roots.csv", write_roots },
	};
	if (mkdir(dir, 0777) != 0 && errno != EEXIST)
		return pyhs_error_os(errno, "cannot make directory '%s'", dir);
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		char *path;
		if (asprintf(&path, "%s/%s", dir, tables[t].name) < 0)
			return &pyhs_enomem;
		struct pyhs_output *o;
		struct pyhs_error *err = pyhs_output_create(path, PYHS_OUTPUT_TABLE, cancel, &o);
		if (!err) {
			FILE *f = pyhs_output_stream(o);
			if (f) {
				tables[t].write(h, f);
				err = pyhs_output_commit(o);
			} else {
				err = pyhs_error_os(errno, "cannot write table '%s'", path);
			}
			pyhs_output_destroy(o);
		}
		free(path);
		if (err)
			return err;
	}
	return NULL;
}
