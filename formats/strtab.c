/* A table of distinct strings numbered in order of first use. */
#include <inttypes.h>
#include <string.h>

#include "formats.h"
#include "strtab.h"

void pyhs_strtab_init(struct pyhs_strtab *t)
{
	pyhs_strtab_map_init(&t->index);
	pyhs_strtab_vector_init(&t->strings);
}

void pyhs_strtab_deinit(struct pyhs_strtab *t)
{
	for (size_t i = 0; i < t->strings.size; i++)
		free(t->strings.data[i]);
	pyhs_strtab_vector_deinit(&t->strings);
	pyhs_strtab_map_deinit(&t->index);
}

struct pyhs_error *pyhs_strtab_add(struct pyhs_strtab *t, const char *s,
				   uint32_t *ret)
{
	uint32_t *v = pyhs_strtab_map_search(&t->index, s);
	if (v) {
		*ret = *v;
		return NULL;
	}
	if (t->strings.size >= UINT32_MAX)
		return pyhs_error_create(PYHS_ERROR_UNSUPPORTED, "more than %" PRIu32 " distinct strings",
					 UINT32_MAX);
	char *copy = strdup(s);
	if (!copy || !pyhs_strtab_vector_append(&t->strings, copy)) {
		free(copy);
		return &pyhs_enomem;
	}
	bool inserted;
	v = pyhs_strtab_map_insert(&t->index, copy, &inserted);
	if (!v) {
		t->strings.size--;
		free(copy);
		return &pyhs_enomem;
	}
	*v = (uint32_t)(t->strings.size - 1);
	*ret = *v;
	return NULL;
}

void pyhs_strtab_write_json(const struct pyhs_strtab *t, FILE *out)
{
	putc('[', out);
	for (size_t i = 0; i < t->strings.size; i++) {
		if (i)
			fputs(",\n", out);
		pyhs_json_string(out, t->strings.data[i]);
	}
	putc(']', out);
}
