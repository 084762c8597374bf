/*
 * Roots and edge labels as a person reads them: the one place that turns
 * them into text.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "heap_internal.h"

/* ---- roots ---- */

static const char *const root_kind_names[PYHS_ROOT_NKINDS] = {
	[PYHS_ROOT_OTHER] = "other",
	[PYHS_ROOT_SYS] = "sys",
	[PYHS_ROOT_SYS_MODULES] = "sys.modules",
	[PYHS_ROOT_BUILTINS] = "builtins",
	[PYHS_ROOT_INTERNED] = "interned",
	[PYHS_ROOT_THREAD_DICT] = "thread_dict",
	[PYHS_ROOT_FRAME] = "frame",
	[PYHS_ROOT_FRAME_LOCAL] = "frame_local",
	[PYHS_ROOT_FRAME_REF] = "frame_ref",
	[PYHS_ROOT_THREAD_TASKS] = "thread_tasks",
	[PYHS_ROOT_INTERP_TASKS] = "interpreter_tasks",
	[PYHS_ROOT_STATIC_TYPE] = "static_type",
	[PYHS_ROOT_MODULE_STATE] = "module_state",
	[PYHS_ROOT_MODULE_DEF] = "module_definition",
	[PYHS_ROOT_C_STACK] = "c_stack",
	[PYHS_ROOT_INTERP_HOLDER] = "interpreter_holder",
	[PYHS_ROOT_THREAD_STATE] = "thread_state",
	[PYHS_ROOT_C_STATICS] = "c_statics",
	[PYHS_ROOT_INTERP_FIELD] = "interpreter_field",
	[PYHS_ROOT_RUNTIME_FIELD] = "runtime_field",
};

const char *pyhs_root_kind_name(enum pyhs_root_kind kind)
{
	return kind < PYHS_ROOT_NKINDS ? root_kind_names[kind] : "?";
}

const char *pyhs_heap_root_label(const struct pyhs_heap *h, uint64_t r)
{
	return h->strings.data[h->roots.data[r].label];
}

static const char *str_or(const struct pyhs_heap *h, uint32_t id, const char *none)
{
	return id < h->strings.size ? h->strings.data[id] : none;
}

/* "thread 1 (worker-0)", or "thread 1" when threading does not name it. */
static int thread_text(const struct pyhs_heap *h, uint32_t k, char *buf, size_t n)
{
	if (k >= h->threads.size)
		return snprintf(buf, n, "thread ?");
	uint32_t name = h->threads.data[k].info.name;
	if (name == PYHS_NO_STRING)
		return snprintf(buf, n, "thread %" PRIu32, k);
	return snprintf(buf, n, "thread %" PRIu32 " (%s)", k, str_or(h, name, "?"));
}

/* "frame NAME (FILE:LINE)", or "frame NAME (FILE)" when the line is
 * unknown; FILE without its directory. */
static int frame_text(const struct pyhs_heap *h, uint32_t f, char *buf, size_t n)
{
	if (f >= h->frames.size)
		return snprintf(buf, n, "frame ?");
	const struct pyhs_frame_info *fi = &h->frames.data[f];
	const char *file = str_or(h, fi->file, "?");
	const char *base = strrchr(file, '/');
	char at[16] = "";
	if (fi->line > 0)
		snprintf(at, sizeof(at), ":%" PRId32, fi->line);
	return snprintf(buf, n, "frame %s (%s%s)", str_or(h, fi->function, "?"),
			base ? base + 1 : file, at);
}

void pyhs_heap_describe_thread(const struct pyhs_heap *h, size_t i, char *buf,
			       size_t n)
{
	thread_text(h, i < h->threads.size ? (uint32_t)i : PYHS_NO_THREAD, buf, n);
}

void pyhs_heap_describe_frame(const struct pyhs_heap *h, uint32_t f, char *buf,
			      size_t n)
{
	frame_text(h, f, buf, n);
}

static void render_root(const struct pyhs_heap *h, const struct pyhs_root_info *ri,
			char *buf, size_t n)
{
	const char *name = str_or(h, ri->name, "?");
	char th[320], fr[512];
	thread_text(h, ri->thread, th, sizeof(th));
	frame_text(h, ri->frame, fr, sizeof(fr));
	switch (ri->kind) {
	case PYHS_ROOT_SYS:
	case PYHS_ROOT_SYS_MODULES:
	case PYHS_ROOT_BUILTINS:
		snprintf(buf, n, "%s", root_kind_names[ri->kind]);
		break;
	case PYHS_ROOT_INTERNED:
		snprintf(buf, n, "interned strings");
		break;
	case PYHS_ROOT_THREAD_DICT:
		snprintf(buf, n, "%s dict", th);
		break;
	case PYHS_ROOT_FRAME:
		snprintf(buf, n, "%s %s", th, fr);
		break;
	case PYHS_ROOT_FRAME_LOCAL:
		snprintf(buf, n, "%s %s local %s", th, fr, name);
		break;
	case PYHS_ROOT_FRAME_REF:
		if (ri->name == PYHS_NO_STRING)
			snprintf(buf, n, "%s %s", th, fr);
		else
			snprintf(buf, n, "%s %s %s", th, fr, name);
		break;
	case PYHS_ROOT_THREAD_TASKS:
		snprintf(buf, n, "%s asyncio task list", th);
		break;
	case PYHS_ROOT_INTERP_TASKS:
		snprintf(buf, n, "interpreter asyncio task list");
		break;
	case PYHS_ROOT_STATIC_TYPE:
		snprintf(buf, n, "type %s", name);
		break;
	case PYHS_ROOT_MODULE_STATE:
		snprintf(buf, n, "module %s state", name);
		break;
	case PYHS_ROOT_MODULE_DEF:
		snprintf(buf, n, "module %s definition", name);
		break;
	case PYHS_ROOT_C_STACK:
		/* A thread with no Python thread state is named by its LWP. */
		snprintf(buf, n, "C stack of %s", ri->thread == PYHS_NO_THREAD ? name : th);
		break;
	case PYHS_ROOT_THREAD_STATE:
		snprintf(buf, n, "%s state", th);
		break;
	case PYHS_ROOT_C_STATICS:
		snprintf(buf, n, "C statics of %s", name);
		break;
	case PYHS_ROOT_INTERP_FIELD:
	case PYHS_ROOT_RUNTIME_FIELD:
		pyhs_state_field_text(ri->kind == PYHS_ROOT_RUNTIME_FIELD, name, buf, n);
		break;
	case PYHS_ROOT_INTERP_HOLDER:
	case PYHS_ROOT_OTHER:
	case PYHS_ROOT_NKINDS:
	default:
		snprintf(buf, n, "%s", name);
		break;
	}
}

struct pyhs_error *pyhs_render_roots(struct pyhs_heap *h)
{
	char buf[1024];
	for (uint64_t r = 0; r < h->roots.size; r++) {
		render_root(h, &h->roots.data[r].info, buf, sizeof(buf));
		struct pyhs_error *err = pyhs_heap_intern_string(h, buf, &h->roots.data[r].label);
		if (err)
			return err;
	}
	return NULL;
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
	return PYHS_LABEL_KIND(label) == PYHS_LABEL_DICT_VALUE ?
		       pyhs_heap_label_name(h, label) : NULL;
}

uint64_t pyhs_heap_describe_root(const struct pyhs_heap *h, uint64_t r,
				 const uint64_t *edges, uint64_t nedges,
				 char *buf, size_t n)
{
	snprintf(buf, n, "%s", pyhs_heap_root_label(h, r));
	if (!pyhs_root_is_modules(h, r) || !nedges)
		return 0;
	const char *mod = dict_key_str(h, h->edge_label.data[edges[0]]);
	if (!mod)
		return 0;
	if (nedges >= 3) {
		uint32_t l1 = h->edge_label.data[edges[1]];
		const char *global = dict_key_str(h, h->edge_label.data[edges[2]]);
		if (pyhs_heap_label_is(h, l1, PYHS_LABEL_FIELD, "__dict__") && global) {
			snprintf(buf, n, "module %s global %s", mod, global);
			return 3;
		}
	}
	snprintf(buf, n, "module %s", mod);
	return 1;
}

const char *pyhs_heap_label_name(const struct pyhs_heap *h, uint32_t label)
{
	uint32_t p = PYHS_LABEL_PAYLOAD(label);
	switch (PYHS_LABEL_KIND(label)) {
	case PYHS_LABEL_ATTR:
	case PYHS_LABEL_DICT_VALUE:
	case PYHS_LABEL_LOCAL:
		return is_str(h, p) ? pyhs_heap_value(h, p) : NULL;
	case PYHS_LABEL_FIELD:
		return p < h->strings.size && h->strings.data[p][0] == '.' ?
			       h->strings.data[p] + 1 : NULL;
	default:
		return NULL;
	}
}

bool pyhs_heap_label_is(const struct pyhs_heap *h, uint32_t label,
			enum pyhs_label_kind kind, const char *name)
{
	const char *s;
	return PYHS_LABEL_KIND(label) == kind && (s = pyhs_heap_label_name(h, label)) &&
	       !strcmp(s, name);
}

bool pyhs_heap_label_cell_variable(const struct pyhs_heap *h, uint32_t label,
				   char *buf, size_t n)
{
	uint32_t p = PYHS_LABEL_PAYLOAD(label);
	if (PYHS_LABEL_KIND(label) != PYHS_LABEL_CELL || p >= h->strings.size)
		return false;
	snprintf(buf, n, "%s", h->strings.data[p]);
	return true;
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
	case PYHS_LABEL_CELL:
		snprintf(buf, n, ".cell_contents (%s)", p < h->strings.size ? h->strings.data[p] : "?");
		return true;
	case PYHS_LABEL_NONE:
	default:
		return false;
	}
}
