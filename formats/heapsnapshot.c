/*
 * V8 heap snapshots (.heapsnapshot), the format Chrome DevTools' Memory
 * panel and memlab read: a JSON object whose "snapshot.meta" names the
 * fields of the flat "nodes" and "edges" arrays, and whose "strings" array,
 * last, holds every name. Node 0 is a synthetic root with an edge to each
 * root of our dominator tree (one per object, however many roots hold it),
 * so that their dominators and retained sizes are ours; objects are "object" nodes named by their type, str objects
 * "string" nodes named by their value; edges are named by our labels,
 * references that are not strong are "weak" edges.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "formats.h"
#include "strtab.h"

/* Node and edge fields, in the order of meta.node_fields / edge_fields. */
#define NODE_FIELDS 7
enum { NODE_HIDDEN, NODE_ARRAY, NODE_STRING, NODE_OBJECT, NODE_CODE,
       NODE_CLOSURE, NODE_REGEXP, NODE_NUMBER, NODE_NATIVE, NODE_SYNTHETIC };
enum { EDGE_CONTEXT, EDGE_ELEMENT, EDGE_PROPERTY, EDGE_INTERNAL, EDGE_HIDDEN,
       EDGE_SHORTCUT, EDGE_WEAK };

static const char META[] =
	"{\"node_fields\":[\"type\",\"name\",\"id\",\"self_size\",\"edge_count\","
	"\"trace_node_id\",\"detachedness\"],"
	"\"node_types\":[[\"hidden\",\"array\",\"string\",\"object\",\"code\",\"closure\","
	"\"regexp\",\"number\",\"native\",\"synthetic\",\"concatenated string\","
	"\"sliced string\",\"symbol\",\"bigint\",\"object shape\"],\"string\",\"number\","
	"\"number\",\"number\",\"number\",\"number\"],"
	"\"edge_fields\":[\"type\",\"name_or_index\",\"to_node\"],"
	"\"edge_types\":[[\"context\",\"element\",\"property\",\"internal\",\"hidden\","
	"\"shortcut\",\"weak\"],\"string_or_number\",\"node\"],"
	"\"trace_function_info_fields\":[\"function_id\",\"name\",\"script_name\","
	"\"script_id\",\"line\",\"column\"],"
	"\"trace_node_fields\":[\"id\",\"function_info_index\",\"count\",\"size\",\"children\"],"
	"\"sample_fields\":[\"timestamp_us\",\"last_assigned_id\"],"
	"\"location_fields\":[\"object_index\",\"script_id\",\"line\",\"column\"]}";

/* Node ids: 1 for the root, odd numbers for objects as V8 gives them. */
static uint64_t node_id(uint64_t i)
{
	return 2 * i + 3;
}

static struct pyhs_error *write_edge(FILE *out, struct pyhs_strtab *s, int type,
				     const char *name, uint64_t index, uint64_t to,
				     bool *first)
{
	uint64_t name_or_index = index;
	if (name) {
		uint32_t id;
		struct pyhs_error *err = pyhs_strtab_add(s, name, &id);
		if (err)
			return err;
		name_or_index = id;
	}
	fprintf(out, "%s%d,%" PRIu64 ",%" PRIu64, *first ? "" : ",\n", type, name_or_index,
		to * NODE_FIELDS);
	*first = false;
	return NULL;
}

struct pyhs_error *pyhs_export_heapsnapshot(const struct pyhs_heap *h,
					    const struct pyhs_analysis *a,
					    FILE *out)
{
	uint64_t n = pyhs_heap_nobjects(h), nroots = pyhs_analysis_nroots(a);
	uint64_t nnamed = pyhs_heap_nroots(h);
	if (n + 1 > UINT32_MAX / NODE_FIELDS)
		return pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
					 "%" PRIu64 " objects are more than a heap snapshot holds", n);
	/* One edge from the synthetic root to each object a root holds, named
	 * by its first root: DevTools' distance search takes the root's
	 * children to be distinct. */
	bool *held = calloc(n ? n : 1, sizeof(*held));
	if (!held)
		return &pyhs_enomem;
	uint64_t nheld = 0;
	for (uint64_t k = 0; k < nroots; k++) {
		uint64_t o = pyhs_analysis_root(a, k);
		if (!held[o]) {
			held[o] = true;
			nheld++;
		}
	}
	struct pyhs_strtab s;
	pyhs_strtab_init(&s);
	struct pyhs_error *err = NULL;
	uint32_t empty, name;
	if ((err = pyhs_strtab_add(&s, "", &empty)))
		goto out;
	fprintf(out, "{\"snapshot\":{\"meta\":%s,\n\"node_count\":%" PRIu64
		",\"edge_count\":%" PRIu64 ",\"trace_function_count\":0},\n\"nodes\":[",
		META, n + 1, pyhs_heap_nedges(h) + nheld);
	fprintf(out, "%d,%" PRIu32 ",1,0,%" PRIu64 ",0,0", NODE_SYNTHETIC, empty, nheld);
	for (uint64_t i = 0; i < n; i++) {
		const char *type = pyhs_heap_type_name(h, pyhs_heap_type_of(h, i));
		const char *value = strcmp(type, "str") == 0 ? pyhs_heap_value(h, i) : NULL;
		if ((err = pyhs_strtab_add(&s, value ? value : type, &name)))
			goto out;
		uint64_t b, e;
		pyhs_heap_edges(h, i, &b, &e);
		fprintf(out, ",\n%d,%" PRIu32 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",0,0",
			value ? NODE_STRING : NODE_OBJECT, name, node_id(i),
			pyhs_heap_size(h, i), e - b);
		if (ferror(out))
			break;
	}
	fputs("],\n\"edges\":[", out);
	bool first = true;
	for (uint64_t k = 0; k < nroots && !err; k++) {
		uint64_t o = pyhs_analysis_root(a, k);
		if (!held[o])
			continue;
		held[o] = false;
		err = write_edge(out, &s, EDGE_PROPERTY,
				 k < nnamed ? pyhs_heap_root_label(h, k) : "held by C code",
				 0, o + 1, &first);
	}
	char label[256];
	for (uint64_t i = 0; i < n && !err && !ferror(out); i++) {
		uint64_t b, e;
		pyhs_heap_edges(h, i, &b, &e);
		for (uint64_t k = b; k < e && !err; k++) {
			uint32_t l = pyhs_heap_edge_label(h, k);
			uint64_t to = pyhs_heap_edge_dst(h, k) + 1;
			enum pyhs_label_kind kind = PYHS_LABEL_KIND(l);
			if (kind == PYHS_LABEL_INDEX)
				err = write_edge(out, &s, EDGE_ELEMENT, NULL, PYHS_LABEL_PAYLOAD(l),
						 to, &first);
			else if (!pyhs_heap_format_label(h, l, label, sizeof(label)))
				err = write_edge(out, &s, EDGE_HIDDEN, NULL, k - b, to, &first);
			else
				err = write_edge(out, &s, kind == PYHS_LABEL_WEAK ? EDGE_WEAK :
							  EDGE_PROPERTY, label, 0, to, &first);
		}
	}
	if (err)
		goto out;
	fputs("],\n\"trace_function_infos\":[],\"trace_tree\":[],\"samples\":[],\"locations\":[],\n"
	      "\"strings\":", out);
	pyhs_strtab_write_json(&s, out);
	fputs("}\n", out);
	if (fflush(out) != 0 || ferror(out))
		err = pyhs_error_os(errno ? errno : EIO, "cannot write the export");
out:
	pyhs_strtab_deinit(&s);
	free(held);
	return err;
}
