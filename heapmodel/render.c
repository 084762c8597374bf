/*
 * Roots and edge labels as a person reads them: the one place that turns
 * them into text.
 */
#include <stdio.h>
#include <string.h>

#include "heap_internal.h"

const char *pyhs_heap_root_label(const struct pyhs_heap *h, uint64_t r)
{
	return h->strings.data[h->roots.data[r].label & ~PYHS_ROOT_BORROWED];
}

/* ---- labels ---- */

static bool is_str(const struct pyhs_heap *h, uint32_t i)
{
	return i < h->addr.size && h->types.data[h->type.data[i]].kind == K_STR &&
	       pyhs_heap_value(h, i);
}

static void quote_key(const struct pyhs_heap *h, uint32_t key, char *buf,
		      size_t n)
{
	if (is_str(h, key)) {
		snprintf(buf, n, "['%.80s']", pyhs_heap_value(h, key));
		return;
	}
	char p[96];
	if (key < h->addr.size) {
		pyhs_heap_preview(h, key, p, sizeof(p));
		snprintf(buf, n, "[%s]", p);
	} else {
		snprintf(buf, n, "[?]");
	}
}

/* The str key a DICT_VALUE label names, or NULL. */
static const char *dict_key_str(const struct pyhs_heap *h, uint32_t label)
{
	if (PYHS_LABEL_KIND(label) != PYHS_LABEL_DICT_VALUE ||
	    !is_str(h, PYHS_LABEL_PAYLOAD(label)))
		return NULL;
	return pyhs_heap_value(h, PYHS_LABEL_PAYLOAD(label));
}

uint64_t pyhs_heap_describe_root(const struct pyhs_heap *h, uint64_t r,
				 const uint64_t *edges, uint64_t nedges,
				 char *buf, size_t n)
{
	const char *root = pyhs_heap_root_label(h, r);
	snprintf(buf, n, "%s", root);
	if (strcmp(root, "sys.modules") != 0 || !nedges)
		return 0;
	const char *mod = dict_key_str(h, h->edge_label.data[edges[0]]);
	if (!mod)
		return 0;
	if (nedges >= 3) {
		uint32_t l1 = h->edge_label.data[edges[1]];
		const char *global = dict_key_str(h, h->edge_label.data[edges[2]]);
		if (PYHS_LABEL_KIND(l1) == PYHS_LABEL_FIELD &&
		    !strcmp(pyhs_heap_string(h, PYHS_LABEL_PAYLOAD(l1)), ".__dict__") &&
		    global) {
			snprintf(buf, n, "module %s global %s", mod, global);
			return 3;
		}
	}
	snprintf(buf, n, "module %s", mod);
	return 1;
}

bool pyhs_heap_format_label(const struct pyhs_heap *h, uint32_t label,
			    char *buf, size_t n)
{
	uint32_t p = PYHS_LABEL_PAYLOAD(label);
	switch (PYHS_LABEL_KIND(label)) {
	case PYHS_LABEL_INDEX:
		snprintf(buf, n, "[%u]", p);
		return true;
	case PYHS_LABEL_DICT_VALUE:
		quote_key(h, p, buf, n);
		return true;
	case PYHS_LABEL_DICT_KEY:
		snprintf(buf, n, "key");
		return true;
	case PYHS_LABEL_ATTR:
		if (is_str(h, p))
			snprintf(buf, n, ".%.80s", pyhs_heap_value(h, p));
		else
			snprintf(buf, n, ".?");
		return true;
	case PYHS_LABEL_FIELD:
		snprintf(buf, n, "%s", p < h->strings.size ? h->strings.data[p] : "?");
		return true;
	case PYHS_LABEL_LOCAL:
		if (is_str(h, p))
			snprintf(buf, n, "local %.80s", pyhs_heap_value(h, p));
		else
			snprintf(buf, n, "local ?");
		return true;
	case PYHS_LABEL_CONSERVATIVE:
		snprintf(buf, n, "+0x%x?", p);
		return true;
	case PYHS_LABEL_WEAK:
		snprintf(buf, n, "weakref");
		return true;
	case PYHS_LABEL_ITEM:
		snprintf(buf, n, "item");
		return true;
	case PYHS_LABEL_NONE:
	default:
		return false;
	}
}
