/* An address space made of segments backed by bytes we hold. */
#include "memory.h"

void pyhs_memory_init(struct pyhs_memory *mem)
{
	pyhs_segment_vector_init(&mem->segments);
}

void pyhs_memory_deinit(struct pyhs_memory *mem)
{
	pyhs_segment_vector_deinit(&mem->segments);
}

/* This thread's last segment found, in whichever memory: an index only,
 * checked against the memory read before it is used. */
static _Thread_local size_t segment_hint __attribute__((tls_model("initial-exec")));

/* Index of the first segment whose end is > addr. */
static size_t segment_lower_bound(const struct pyhs_memory *mem, uint64_t addr)
{
	size_t h = segment_hint;
	if (h < mem->segments.size && mem->segments.data[h].start <= addr &&
	    mem->segments.data[h].end > addr)
		return h;
	size_t lo = 0, hi = mem->segments.size;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (mem->segments.data[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	segment_hint = lo;
	return lo;
}

static struct pyhs_error *insert_segment(struct pyhs_memory *mem, size_t at,
					 struct pyhs_segment seg)
{
	if (!pyhs_segment_vector_append(&mem->segments, seg))
		return &pyhs_enomem;
	struct pyhs_segment *d = mem->segments.data;
	memmove(&d[at + 1], &d[at],
		(mem->segments.size - 1 - at) * sizeof(*d));
	d[at] = seg;
	return NULL;
}

struct pyhs_error *pyhs_memory_add(struct pyhs_memory *mem, uint64_t start,
				   uint64_t len, const uint8_t *data)
{
	if (len == 0)
		return NULL;
	uint64_t end = start + len;
	if (end < start)
		end = UINT64_MAX;
	/* Fill only the gaps between existing segments. */
	uint64_t cur = start;
	size_t i = segment_lower_bound(mem, cur);
	while (cur < end) {
		if (i < mem->segments.size &&
		    mem->segments.data[i].start <= cur) {
			cur = mem->segments.data[i].end;
			i++;
			continue;
		}
		uint64_t gap_end = end;
		if (i < mem->segments.size &&
		    mem->segments.data[i].start < gap_end)
			gap_end = mem->segments.data[i].start;
		struct pyhs_segment seg = {
			.start = cur,
			.end = gap_end,
			.data = data + (cur - start),
		};
		struct pyhs_error *err = insert_segment(mem, i, seg);
		if (err)
			return err;
		i++;
		cur = gap_end;
	}
	return NULL;
}

const void *pyhs_memory_ptr(const struct pyhs_memory *mem, uint64_t addr,
			    size_t len)
{
	size_t i = segment_lower_bound(mem, addr);
	if (i >= mem->segments.size)
		return NULL;
	const struct pyhs_segment *s = &mem->segments.data[i];
	if (s->start > addr || s->end - addr < len)
		return NULL;
	return s->data + (addr - s->start);
}

bool pyhs_memory_read(const struct pyhs_memory *mem, uint64_t addr, void *buf,
		      size_t len)
{
	uint8_t *out = buf;
	size_t i = segment_lower_bound(mem, addr);
	/* Most reads are a word or two within one segment: copied without a
	 * call. */
	if (i < mem->segments.size) {
		const struct pyhs_segment *s = &mem->segments.data[i];
		if (s->start <= addr && s->end - addr >= len) {
			const uint8_t *p = s->data + (addr - s->start);
			switch (len) {
			case 8: memcpy(out, p, 8); return true;
			case 16: memcpy(out, p, 16); return true;
			case 4: memcpy(out, p, 4); return true;
			case 1: *out = *p; return true;
			default: memcpy(out, p, len); return true;
			}
		}
	}
	while (len) {
		if (i >= mem->segments.size)
			return false;
		const struct pyhs_segment *s = &mem->segments.data[i];
		if (s->start > addr)
			return false;
		uint64_t avail = s->end - addr;
		size_t n = avail < len ? (size_t)avail : len;
		memcpy(out, s->data + (addr - s->start), n);
		out += n;
		addr += n;
		len -= n;
		i++;
	}
	return true;
}
