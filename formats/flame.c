/*
 * Retention flame graphs: the dominator tree with siblings of the same
 * holder name merged (a trie of names), each object's shallow size the
 * weight of its own stack. Written as folded stacks or as a speedscope
 * file. Stacks deeper than MAX_DEPTH frames end in one "(deeper)" frame
 * that takes the weight of everything below it.
 */
#include <errno.h>
#include <inttypes.h>

#include "formats.h"
#include "strtab.h"

#define MAX_DEPTH 128
#define DEEPER "(deeper)"

DEFINE_HASH_MAP(flame_child_map, uint64_t, uint32_t, pyhs_hash_u64, PYHS_EQ_SCALAR)
DEFINE_VECTOR(flame_u32_vector, uint32_t)
DEFINE_VECTOR(flame_u64_vector, uint64_t)

struct flame {
	struct pyhs_strtab names;
	struct flame_child_map children; /* parent << 32 | name -> node */
	/* Per trie node; node 0 is the top, with no frame. */
	struct flame_u32_vector parent, name, depth;
	struct flame_u64_vector weight;
	uint64_t total;
};

static void flame_deinit(struct flame *f)
{
	pyhs_strtab_deinit(&f->names);
	flame_child_map_deinit(&f->children);
	flame_u32_vector_deinit(&f->parent);
	flame_u32_vector_deinit(&f->name);
	flame_u32_vector_deinit(&f->depth);
	flame_u64_vector_deinit(&f->weight);
}

static struct pyhs_error *flame_node(struct flame *f, uint32_t parent,
				     const char *name, uint32_t *ret)
{
	uint32_t id;
	struct pyhs_error *err = pyhs_strtab_add(&f->names, name, &id);
	if (err)
		return err;
	bool inserted;
	uint32_t *slot = flame_child_map_insert(&f->children,
						((uint64_t)parent << 32) | id, &inserted);
	if (!slot)
		return &pyhs_enomem;
	if (inserted) {
		uint32_t depth = f->depth.data[parent] + 1;
		if (!flame_u32_vector_append(&f->parent, parent) ||
		    !flame_u32_vector_append(&f->name, id) ||
		    !flame_u32_vector_append(&f->depth, depth) ||
		    !flame_u64_vector_append(&f->weight, 0))
			return &pyhs_enomem;
		*slot = (uint32_t)(f->parent.size - 1);
	}
	*ret = *slot;
	return NULL;
}

/* Frame names as folded stacks allow them: no ';' and no control
 * characters (line breaks). */
static void clean_name(char *s)
{
	for (; *s; s++)
		if (*s == ';')
			*s = ',';
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

static struct pyhs_error *flame_build(const struct pyhs_heap *h,
				      const struct pyhs_domtree *t,
				      struct flame *f)
{
	uint64_t n = pyhs_heap_nobjects(h), top = pyhs_domtree_top(t);
	*f = (struct flame){ 0 };
	pyhs_strtab_init(&f->names);
	uint32_t *at = malloc((n ? n : 1) * sizeof(*at));     /* object -> trie node */
	uint32_t *queue = malloc((n ? n : 1) * sizeof(*queue));
	if (!at || !queue || !flame_u32_vector_append(&f->parent, 0) ||
	    !flame_u32_vector_append(&f->name, 0) || !flame_u32_vector_append(&f->depth, 0) ||
	    !flame_u64_vector_append(&f->weight, 0)) {
		free(at);
		free(queue);
		return &pyhs_enomem;
	}
	/* Name 0 is DEEPER's (the top node has none). */
	uint32_t deeper;
	struct pyhs_error *err = pyhs_strtab_add(&f->names, DEEPER, &deeper);
	char name[512];
	/* Breadth-first from the top: a parent's trie node is known first.
	 * Then the objects no root reaches, under the top. */
	uint64_t head = 0, tail = 0;
	const uint32_t *c;
	uint64_t nc = pyhs_domtree_children(t, top, &c);
	for (uint64_t k = 0; k < nc; k++)
		queue[tail++] = c[k];
	for (uint64_t i = 0; i < n; i++)
		if (pyhs_domtree_parent(t, i) == UINT64_MAX)
			queue[tail++] = (uint32_t)i;
	while (head < tail && !err) {
		uint32_t v = queue[head++];
		uint64_t p = pyhs_domtree_parent(t, v);
		uint32_t pt = p == UINT64_MAX || p == top ? 0 : at[p];
		if (pt && f->name.data[pt] == deeper)
			at[v] = pt;
		else if (f->depth.data[pt] >= MAX_DEPTH)
			err = flame_node(f, pt, DEEPER, &at[v]);
		else {
			pyhs_domtree_name(t, v, true, name, sizeof(name));
			clean_name(name);
			err = flame_node(f, pt, name, &at[v]);
		}
		if (err)
			break;
		f->weight.data[at[v]] += pyhs_heap_size(h, v);
		f->total += pyhs_heap_size(h, v);
		if (p == UINT64_MAX)
			continue;
		nc = pyhs_domtree_children(t, v, &c);
		for (uint64_t k = 0; k < nc; k++)
			queue[tail++] = c[k];
	}
	free(at);
	free(queue);
	return err;
}

/* The frames of trie node v from the top down into stack; returns how many. */
static size_t flame_stack(const struct flame *f, uint32_t v, uint32_t *stack)
{
	size_t d = f->depth.data[v];
	for (size_t k = d; k-- > 0; v = f->parent.data[v])
		stack[k] = f->name.data[v];
	return d;
}

struct pyhs_error *pyhs_export_folded(const struct pyhs_heap *h,
				      const struct pyhs_domtree *t, FILE *out)
{
	struct flame f;
	struct pyhs_error *err = flame_build(h, t, &f);
	uint32_t stack[MAX_DEPTH + 2];
	for (size_t v = 1; !err && v < f.parent.size && !ferror(out); v++) {
		if (!f.weight.data[v])
			continue;
		size_t d = flame_stack(&f, (uint32_t)v, stack);
		for (size_t k = 0; k < d; k++) {
			if (k)
				putc(';', out);
			fputs(f.names.strings.data[stack[k]], out);
		}
		fprintf(out, " %" PRIu64 "\n", f.weight.data[v]);
	}
	flame_deinit(&f);
	if (!err && (fflush(out) != 0 || ferror(out)))
		err = pyhs_error_os(errno ? errno : EIO, "cannot write the export");
	return err;
}

struct pyhs_error *pyhs_export_speedscope(const struct pyhs_heap *h,
					  const struct pyhs_domtree *t,
					  FILE *out)
{
	struct flame f;
	struct pyhs_error *err = flame_build(h, t, &f);
	if (err) {
		flame_deinit(&f);
		return err;
	}
	const struct pyhs_heap_meta *m = pyhs_heap_meta(h);
	fputs("{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\n"
	      "\"exporter\":\"pyheapsnap\",\"name\":", out);
	pyhs_json_string(out, m->input);
	fputs(",\"activeProfileIndex\":0,\n\"shared\":{\"frames\":[", out);
	for (size_t i = 0; i < f.names.strings.size; i++) {
		fputs(i ? ",\n{\"name\":" : "{\"name\":", out);
		pyhs_json_string(out, f.names.strings.data[i]);
		putc('}', out);
	}
	fputs("]},\n\"profiles\":[{\"type\":\"sampled\",\"name\":\"retention by holder (shallow bytes)\","
	      "\"unit\":\"bytes\",\"startValue\":0,", out);
	fprintf(out, "\"endValue\":%" PRIu64 ",\n\"samples\":[", f.total);
	uint32_t stack[MAX_DEPTH + 2];
	bool first = true;
	for (size_t v = 1; v < f.parent.size && !ferror(out); v++) {
		if (!f.weight.data[v])
			continue;
		size_t d = flame_stack(&f, (uint32_t)v, stack);
		fputs(first ? "[" : ",\n[", out);
		first = false;
		for (size_t k = 0; k < d; k++)
			fprintf(out, "%s%" PRIu32, k ? "," : "", stack[k]);
		putc(']', out);
	}
	fputs("],\n\"weights\":[", out);
	first = true;
	for (size_t v = 1; v < f.parent.size && !ferror(out); v++) {
		if (!f.weight.data[v])
			continue;
		fprintf(out, "%s%" PRIu64, first ? "" : ",", f.weight.data[v]);
		first = false;
	}
	fputs("]}]}\n", out);
	flame_deinit(&f);
	if (fflush(out) != 0 || ferror(out))
		return pyhs_error_os(errno ? errno : EIO, "cannot write the export");
	return NULL;
}
