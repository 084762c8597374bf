/* JSON-lines export: one header line, then one line per object. */
#include <errno.h>
#include <inttypes.h>

#include "formats.h"

struct pyhs_error *pyhs_export_jsonl(const struct pyhs_heap *h, FILE *out)
{
	return pyhs_export_jsonl_gen(h, -1, out);
}

struct pyhs_error *pyhs_export_jsonl_gen(const struct pyhs_heap *h, int gen,
					 FILE *out)
{
	const struct pyhs_heap_meta *m = pyhs_heap_meta(h);
	uint32_t v = m->hexversion;
	fprintf(out, "{\"format\": \"%s\", \"format_version\": %d, \"version\": ",
		PYHS_JSONL_FORMAT, PYHS_JSONL_VERSION);
	pyhs_json_string(out, m->version);
	fprintf(out, ", \"hexversion\": %" PRIu32 ", \"executable\": ", v);
	pyhs_json_string(out, m->executable);
	uint64_t n = pyhs_heap_nobjects(h), lines = 0;
	for (uint64_t i = 0; i < n; i++)
		lines += gen < 0 || (int)pyhs_heap_gen(h, i) == gen;
	uint64_t nroots = 0;
	for (uint64_t r = 0; r < pyhs_heap_nroots(h); r++)
		nroots += gen < 0 || (int)pyhs_heap_gen(h, pyhs_heap_root_object(h, r)) == gen;
	/* "objects" lines follow, then "roots" lines. */
	fprintf(out, ", \"pid\": %d, \"objects\": %" PRIu64 ", \"roots\": %" PRIu64 "}\n",
		m->pid, lines, nroots);
	char label[256];
	for (uint64_t i = 0; i < n; i++) {
		if (gen >= 0 && (int)pyhs_heap_gen(h, i) != gen)
			continue;
		fprintf(out, "{\"addr\": %" PRIu64 ", \"type\": ", pyhs_heap_addr(h, i));
		pyhs_json_string(out, pyhs_heap_type_name(h, pyhs_heap_type_of(h, i)));
		unsigned flags = pyhs_heap_flags(h, i);
		fprintf(out, ", \"size\": %" PRIu64 ", \"refcnt\": %" PRIu64,
			pyhs_heap_size(h, i), pyhs_heap_refcnt(h, i));
		if (flags & PYHS_OBJ_SIZE_INEXACT)
			fputs(", \"size_exact\": false", out);
		if (flags & PYHS_OBJ_IMMORTAL)
			fputs(", \"immortal\": true", out);
		fputs(", \"gen\": ", out);
		pyhs_json_gen(out, pyhs_heap_gen(h, i));
		uint64_t b, e;
		pyhs_heap_edges(h, i, &b, &e);
		fputs(", \"refs\": [", out);
		for (uint64_t k = b; k < e; k++)
			fprintf(out, "%s%" PRIu64, k == b ? "" : ", ",
				pyhs_heap_addr(h, pyhs_heap_edge_dst(h, k)));
		fputs("], \"edges\": [", out);
		for (uint64_t k = b; k < e; k++) {
			if (k != b)
				fputs(", ", out);
			if (pyhs_heap_format_label(h, pyhs_heap_edge_label(h, k),
						   label, sizeof(label)))
				pyhs_json_string(out, label);
			else
				fputs("null", out);
		}
		fputs("]}\n", out);
		if (ferror(out))
			break;
	}
	for (uint64_t r = 0; r < pyhs_heap_nroots(h) && !ferror(out); r++) {
		uint32_t o = pyhs_heap_root_object(h, r);
		if (gen >= 0 && (int)pyhs_heap_gen(h, o) != gen)
			continue;
		fputs("{\"root\": ", out);
		pyhs_json_string(out, pyhs_heap_root_label(h, r));
		fprintf(out, ", \"object\": %" PRIu64 ", \"owned\": %s}\n", pyhs_heap_addr(h, o),
			pyhs_heap_root_holds_ref(h, r) ? "true" : "false");
	}
	if (fflush(out) != 0 || ferror(out))
		return pyhs_error_os(errno ? errno : EIO, "cannot write the export");
	return NULL;
}
