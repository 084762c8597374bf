/*
 * Generators, coroutines and C asyncio futures as data: where each
 * generator's frame is suspended (its __qualname__, its code's file and
 * line) and each C future's or task's state, read from the objects' fields
 * (the layouts of reader/, from DWARF or built in per version) while the
 * target is there, and kept in the model (and in snapshots) for the tasks
 * analysis. The value texts say the same for display only.
 */
#include <inttypes.h>
#include <string.h>

#include "heap_internal.h"
#include "lines.h"

bool pyhs_future_state_read(struct pyhs_heap *h, uint64_t addr, int32_t *ret)
{
	const struct pyhs_asyncio_layout *A = pyhs_heap_asyncio_layout(h);
	return A && A->fut_state >= 0 &&
	       pyhs_target_read(h->t, addr + (uint64_t)A->fut_state, ret, 4);
}

/* A C Future's fut_state: PENDING, CANCELLED, FINISHED as _asyncio
 * numbers them. */
static enum pyhs_task_state future_state(struct pyhs_heap *h, uint64_t addr)
{
	int32_t state;
	if (!pyhs_future_state_read(h, addr, &state))
		return PYHS_TASK_UNKNOWN;
	switch (state) {
	case 0: return PYHS_TASK_PENDING;
	case 1: return PYHS_TASK_CANCELLED;
	case 2: return PYHS_TASK_DONE;
	default: return PYHS_TASK_UNKNOWN;
	}
}

static struct pyhs_error *intern_or_none(struct pyhs_heap *h, bool known, const char *s,
					 uint32_t *ret)
{
	if (!known) {
		*ret = PYHS_NO_STRING;
		return NULL;
	}
	return pyhs_heap_intern_string(h, s, ret);
}

bool pyhs_gen_place(const struct pyhs_heap *h, uint64_t addr, char *name, size_t nname,
		    char *file, size_t nfile, int *ret_line, bool *ret_finished)
{
	struct pyhs_gen_frame g;
	if (!pyhs_gen_frame(h, addr, &g))
		return false;
	int line;
	pyhs_code_location(h, g.code, g.instr, g.is_iframe, true, name, nname, file, nfile,
			   &line);
	uint64_t q;
	if (hrd_off(h, addr, h->L->gen_gi_qualname, &q))
		pyhs_read_str(h, q, name, nname);
	*ret_line = line > 0 && !g.finished ? line : -1;
	*ret_finished = g.finished;
	return true;
}

/* Where the generator at addr is, as strings of the heap. */
static struct pyhs_error *gen_place(struct pyhs_heap *h, uint64_t addr,
				    struct pyhs_async_info *a)
{
	a->function = a->file = PYHS_NO_STRING;
	a->line = -1;
	char name[256], file[1024];
	int line;
	bool finished;
	if (!pyhs_gen_place(h, addr, name, sizeof(name), file, sizeof(file), &line, &finished))
		return NULL;
	a->state = finished ? PYHS_TASK_DONE : PYHS_TASK_PENDING;
	a->line = line;
	struct pyhs_error *err = intern_or_none(h, strcmp(name, "?") != 0, name, &a->function);
	if (!err)
		err = intern_or_none(h, strcmp(file, "?") != 0, file, &a->file);
	return err;
}

struct pyhs_error *pyhs_async_build(struct pyhs_heap *h)
{
	for (uint64_t i = 0; i < h->addr.size; i++) {
		enum pyhs_kind k = h->types.data[h->type.data[i]].kind;
		if (k != K_GEN && k != K_FUTURE && k != K_TASK)
			continue;
		struct pyhs_async_info a = {
			.obj = (uint32_t)i, .state = PYHS_TASK_UNKNOWN,
			.function = PYHS_NO_STRING, .file = PYHS_NO_STRING, .line = -1,
		};
		if (k == K_GEN) {
			struct pyhs_error *err = gen_place(h, h->addr.data[i], &a);
			if (err)
				return err;
		} else {
			a.state = (uint8_t)future_state(h, h->addr.data[i]);
		}
		if (!pyhs_async_vector_append(&h->async, a))
			return &pyhs_enomem;
	}
	pyhs_async_vector_shrink(&h->async);
	return NULL;
}

uint64_t pyhs_heap_nasync(const struct pyhs_heap *h)
{
	return h->async.size;
}

const struct pyhs_async_info *pyhs_heap_async_records(const struct pyhs_heap *h)
{
	return h->async.data;
}

const struct pyhs_async_info *pyhs_heap_async(const struct pyhs_heap *h, uint64_t i)
{
	size_t lo = 0, hi = h->async.size;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (h->async.data[mid].obj < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < h->async.size && h->async.data[lo].obj == i ? &h->async.data[lo] : NULL;
}
