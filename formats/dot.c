/*
 * Subgraphs of a heap as Graphviz DOT: objects as nodes (type, address and
 * a preview), references as labelled edges, roots as boxes.
 */
#include <inttypes.h>

#include "formats.h"

/* s as the inside of a DOT quoted string. */
static void dot_text(FILE *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c < 0x20 || c == 0x7f)
			putc(' ', out);
		else
			putc(c, out);
	}
}

void pyhs_dot_begin(FILE *out, const char *name)
{
	fputs("digraph \"", out);
	dot_text(out, name);
	fputs("\" {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"monospace\","
	      " fontsize=10];\n  edge [fontname=\"monospace\", fontsize=9];\n", out);
}

void pyhs_dot_object(const struct pyhs_heap *h, FILE *out, uint64_t i, const char *attrs)
{
	char preview[96];
	pyhs_heap_preview(h, i, preview, sizeof(preview));
	fprintf(out, "  o%" PRIx64 " [label=\"", pyhs_heap_addr(h, i));
	dot_text(out, pyhs_heap_type_name(h, pyhs_heap_type_of(h, i)));
	fprintf(out, "\\n0x%" PRIx64 ", %" PRIu64 " B", pyhs_heap_addr(h, i), pyhs_heap_size(h, i));
	if (preview[0]) {
		fputs("\\n", out);
		dot_text(out, preview);
	}
	fprintf(out, "\"%s%s];\n", attrs ? ", " : "", attrs ? attrs : "");
}

void pyhs_dot_edge(const struct pyhs_heap *h, FILE *out, uint64_t src, uint64_t e)
{
	char label[160];
	uint32_t l = pyhs_heap_edge_label(h, e);
	fprintf(out, "  o%" PRIx64 " -> o%" PRIx64, pyhs_heap_addr(h, src),
		pyhs_heap_addr(h, pyhs_heap_edge_dst(h, e)));
	if (pyhs_heap_format_label(h, l, label, sizeof(label))) {
		fputs(" [label=\"", out);
		dot_text(out, label);
		fputs(PYHS_LABEL_KIND(l) == PYHS_LABEL_WEAK ? "\", style=dashed]" : "\"]", out);
	}
	fputs(";\n", out);
}

void pyhs_dot_root(const struct pyhs_heap *h, FILE *out, uint64_t id, const char *label,
		   uint64_t obj)
{
	fprintf(out, "  r%" PRIu64 " [label=\"", id);
	dot_text(out, label);
	fprintf(out, "\", shape=box, style=\"filled\", fillcolor=\"#e8e8e8\"];\n"
		     "  r%" PRIu64 " -> o%" PRIx64 ";\n", id, pyhs_heap_addr(h, obj));
}

void pyhs_dot_note(FILE *out, uint64_t id, const char *text)
{
	fprintf(out, "  n%" PRIu64 " [label=\"", id);
	dot_text(out, text);
	fputs("\", shape=note];\n", out);
}

void pyhs_dot_cluster(FILE *out, uint64_t id, const char *label)
{
	fprintf(out, "  subgraph cluster_%" PRIu64 " {\n  label=\"", id);
	dot_text(out, label);
	fputs("\";\n", out);
}

void pyhs_dot_cluster_end(FILE *out)
{
	fputs("  }\n", out);
}

void pyhs_dot_end(FILE *out)
{
	fputs("}\n", out);
}
