/* ELF core files, plain or zstd-compressed: their segments, notes and
 * mappings make a target (target.c). */
#include <elf.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>

#include "python.h"
#include "symbols.h"
#include "target.h"
#include "zcore.h"

#define ZSTD_MAGIC 0xFD2FB528u

/* Gives the mapping of a PT_LOAD that starts at start its file, as an
 * NT_FILE entry names it (for writing the target out again). */
static struct pyhs_error *name_mapping(struct pyhs_target *t, uint64_t start,
				       uint64_t end, uint64_t offset,
				       const char *name)
{
	size_t lo = 0, hi = t->mappings.size;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->mappings.data[mid].start < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == t->mappings.size || t->mappings.data[lo].start != start ||
	    t->mappings.data[lo].end != end)
		return NULL;
	struct pyhs_mapping *m = &t->mappings.data[lo];
	char *path = strdup(name);
	if (!path)
		return &pyhs_enomem;
	free(m->path);
	m->path = path;
	m->offset = offset;
	return NULL;
}

static int compare_mappings(const void *a, const void *b)
{
	const struct pyhs_mapping *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static int compare_segments(const void *a, const void *b)
{
	const struct pyhs_segment *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* A PT_LOAD as a mapping, and its bytes in the core as a segment. */
static struct pyhs_error *add_load(struct pyhs_target *t, const GElf_Phdr *ph,
				   const uint8_t *data, uint64_t len)
{
	if (ph->p_memsz == 0 || ph->p_vaddr + ph->p_memsz < ph->p_vaddr)
		return NULL;
	struct pyhs_mapping m = {
		.start = ph->p_vaddr,
		.end = ph->p_vaddr + ph->p_memsz,
		.perms = {
			ph->p_flags & PF_R ? 'r' : '-',
			ph->p_flags & PF_W ? 'w' : '-',
			ph->p_flags & PF_X ? 'x' : '-',
			'p', '\0',
		},
		.path = strdup(""),
	};
	if (!m.path || !pyhs_mapping_vector_append(&t->mappings, m)) {
		free(m.path);
		return &pyhs_enomem;
	}
	if (len) {
		struct pyhs_segment seg = { ph->p_vaddr, ph->p_vaddr + len,
					    data };
		if (!pyhs_segment_vector_append(&t->captured, seg))
			return &pyhs_enomem;
	}
	return NULL;
}

struct nt_file_entry {
	uint64_t start, end;
	uint64_t offset; /* in bytes */
	const char *name;
};

/* NT_FILE: count, page size, count * {start, end, page offset}, names.
 * Calls fn for each well-formed entry; returns fn's first error. */
static struct pyhs_error *nt_file_foreach(
	struct pyhs_target *t, const uint8_t *desc, size_t size,
	struct pyhs_error *(*fn)(struct pyhs_target *t,
				 const struct nt_file_entry *e))
{
	if (size < 16)
		return NULL;
	uint64_t count, page_size;
	memcpy(&count, desc, 8);
	memcpy(&page_size, desc + 8, 8);
	if (count > (size - 16) / 24 || !page_size)
		return NULL;
	const char *names = (const char *)desc + 16 + count * 24;
	const char *names_end = (const char *)desc + size;
	for (uint64_t i = 0; i < count; i++) {
		uint64_t e[3];
		memcpy(e, desc + 16 + i * 24, 24);
		size_t n = strnlen(names, (size_t)(names_end - names));
		if (names + n >= names_end)
			break;
		struct nt_file_entry entry = { e[0], e[1], e[2] * page_size, names };
		names += n + 1;
		if (e[1] <= e[0] || e[2] > UINT64_MAX / page_size)
			continue;
		struct pyhs_error *err = fn(t, &entry);
		if (err)
			return err;
	}
	return NULL;
}

static struct pyhs_error *register_mapping(struct pyhs_target *t,
					   const struct nt_file_entry *e)
{
	struct pyhs_error *err = pyhs_target_add_module_mapping(
		t, e->name, e->start, e->end, e->offset == 0);
	if (!err)
		err = name_mapping(t, e->start, e->end, e->offset, e->name);
	return err;
}

/* First pass over NT_FILE: the modules and what each mapping is. */
static struct pyhs_error *parse_nt_file(struct pyhs_target *t,
					const uint8_t *desc, size_t size)
{
	uint64_t count = 0, page_size = 0;
	if (size >= 16) {
		memcpy(&count, desc, 8);
		memcpy(&page_size, desc + 8, 8);
	}
	if (size < 16 || count > (size - 16) / 24 || !page_size) {
		pyhs_target_warn(t, "NT_FILE note is corrupt: %llu entries of %llu-byte pages",
				 (unsigned long long)count, (unsigned long long)page_size);
		return NULL;
	}
	return nt_file_foreach(t, desc, size, register_mapping);
}

static struct pyhs_error *back_mapping(struct pyhs_target *t,
				       const struct nt_file_entry *e)
{
	return pyhs_target_add_file_bytes(t, e->name, e->start, e->end, e->offset);
}

/* Second pass over NT_FILE: back each mapping with the module's file. */
static struct pyhs_error *add_file_backed(struct pyhs_target *t,
					  const uint8_t *desc, size_t size)
{
	return nt_file_foreach(t, desc, size, back_mapping);
}

/* Offsets in struct elf_prstatus and elf_prpsinfo on x86-64. */
#define PRSTATUS_CURSIG 12
#define PRSTATUS_PID 32
#define PRSTATUS_REG 112
#define PRPSINFO_SNAME 1
#define PRPSINFO_NICE 3
#define PRPSINFO_FLAG 8
#define PRPSINFO_UID 16
#define PRPSINFO_PID 24
#define PRPSINFO_FNAME 40
#define PRPSINFO_PSARGS 56

static struct pyhs_error *parse_notes(struct pyhs_target *t, Elf *elf,
				      const GElf_Phdr *ph, size_t core_size,
				      const uint8_t **nt_file, size_t *nt_file_size)
{
	if (ph->p_offset >= core_size)
		return NULL;
	size_t len = ph->p_filesz;
	if (len > core_size - ph->p_offset)
		len = core_size - ph->p_offset;
	Elf_Data *data = elf_getdata_rawchunk(elf, (int64_t)ph->p_offset, len,
					      ELF_T_NHDR);
	if (!data) {
		pyhs_target_warn(t, "cannot read core notes: %s",
				 elf_errmsg(-1));
		return NULL;
	}
	size_t off = 0, name_off, desc_off;
	GElf_Nhdr nh;
	while (off < data->d_size &&
	       (off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
		const uint8_t *desc = (const uint8_t *)data->d_buf + desc_off;
		const char *name = (const char *)data->d_buf + name_off;
		if (nh.n_namesz < 4 || strncmp(name, "CORE", 4) != 0)
			continue;
		switch (nh.n_type) {
		case NT_PRSTATUS:
			if (nh.n_descsz >= PRSTATUS_PID + 4) {
				int32_t tid;
				int16_t sig;
				memcpy(&tid, desc + PRSTATUS_PID, 4);
				memcpy(&sig, desc + PRSTATUS_CURSIG, 2);
				struct pyhs_thread_state ts = { .signal = sig };
				if (nh.n_descsz >= PRSTATUS_REG + PYHS_REGS_SIZE) {
					memcpy(ts.regs, desc + PRSTATUS_REG,
					       PYHS_REGS_SIZE);
					ts.has_regs = true;
				}
				if (!pyhs_int_vector_append(&t->tids, tid) ||
				    !pyhs_thread_state_vector_append(
					    &t->thread_states, ts))
					return &pyhs_enomem;
				if (t->tids.size == 1)
					t->signal = sig;
			}
			break;
		case NT_PRFPREG:
			/* The registers of the NT_PRSTATUS before it. */
			if (nh.n_descsz >= PYHS_FPREGS_SIZE &&
			    t->thread_states.size) {
				struct pyhs_thread_state *ts =
					&t->thread_states.data[t->thread_states.size - 1];
				memcpy(ts->fpregs, desc, PYHS_FPREGS_SIZE);
				ts->has_fpregs = true;
			}
			break;
		case NT_PRPSINFO:
			if (nh.n_descsz >= PRPSINFO_PSARGS + 80) {
				int32_t pid;
				memcpy(&pid, desc + PRPSINFO_PID, 4);
				t->pid = pid;
				free(t->cmdline);
				t->cmdline = strndup((const char *)desc +
							     PRPSINFO_PSARGS, 80);
				if (!t->cmdline)
					return &pyhs_enomem;
				struct pyhs_target_process *p = &t->process;
				int32_t v[4];
				uint32_t ids[2];
				uint64_t flags;
				memcpy(v, desc + PRPSINFO_PID, sizeof(v));
				memcpy(ids, desc + PRPSINFO_UID, sizeof(ids));
				memcpy(&flags, desc + PRPSINFO_FLAG, 8);
				p->pid = v[0];
				p->ppid = v[1];
				p->pgrp = v[2];
				p->sid = v[3];
				p->uid = ids[0];
				p->gid = ids[1];
				p->flags = flags;
				p->state = (char)desc[PRPSINFO_SNAME];
				p->nice = (int8_t)desc[PRPSINFO_NICE];
				memcpy(p->comm, desc + PRPSINFO_FNAME, 15);
				p->comm[15] = '\0';
			}
			break;
		case NT_AUXV:
			if (!t->auxv && nh.n_descsz >= 16) {
				t->auxv = malloc(nh.n_descsz);
				if (!t->auxv)
					return &pyhs_enomem;
				memcpy(t->auxv, desc, nh.n_descsz);
				t->auxv_size = nh.n_descsz - nh.n_descsz % 16;
			}
			for (size_t i = 0; i + 16 <= nh.n_descsz; i += 16) {
				uint64_t k, v;
				memcpy(&k, desc + i, 8);
				memcpy(&v, desc + i + 8, 8);
				if (k == AT_ENTRY)
					t->entry = v;
				else if (k == AT_EXECFN)
					t->execfn = v;
			}
			break;
		case NT_FILE:
			*nt_file = desc;
			*nt_file_size = nh.n_descsz;
			break;
		}
	}
	return NULL;
}

struct pyhs_error *pyhs_target_open_core(const char *path,
					 const struct pyhs_open_options *opts,
					 struct pyhs_target **ret)
{
	if (!pyhs_libelf_ready())
		return pyhs_error_create(PYHS_ERROR_OS, "libelf is unusable");
	struct pyhs_target *t;
	struct pyhs_error *err = pyhs_target_create(opts, &t);
	if (err)
		return err;
	const uint8_t *core;
	size_t core_size;
	err = pyhs_map_file(t, path, &core, &core_size);
	if (err) {
		if (err->code == PYHS_ERROR_INPUT) {
			/* "'x' is empty" and friends read better as-is. */
		}
		goto fail;
	}
	uint32_t magic = 0;
	if (core_size >= 4)
		memcpy(&magic, core, 4);
	if (magic == ZSTD_MAGIC) {
		err = pyhs_decompress_core(t, path, core, core_size, &core,
					   &core_size);
		if (err)
			goto fail;
	}
	if (core_size < EI_NIDENT || memcmp(core, ELFMAG, SELFMAG) != 0) {
		err = pyhs_error_create(PYHS_ERROR_INPUT,
					"'%s' is not an ELF core file", path);
		goto fail;
	}
	Elf *elf = elf_memory((char *)core, core_size);
	if (!elf) {
		err = pyhs_error_create(PYHS_ERROR_INPUT, "cannot read '%s': %s",
					path, elf_errmsg(-1));
		goto fail;
	}
	GElf_Ehdr eh;
	if (!gelf_getehdr(elf, &eh)) {
		err = pyhs_error_create(PYHS_ERROR_INPUT,
					"cannot read '%s': truncated ELF header",
					path);
		goto fail_elf;
	}
	if (eh.e_type != ET_CORE) {
		err = pyhs_error_create(PYHS_ERROR_INPUT,
					"'%s' is an ELF %s, not a core file",
					path,
					eh.e_type == ET_EXEC ? "executable" :
					eh.e_type == ET_DYN ? "shared object or PIE executable" :
					"file");
		goto fail_elf;
	}
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB) {
		err = pyhs_error_create(PYHS_ERROR_UNSUPPORTED,
					"'%s' is not an x86-64 core file", path);
		goto fail_elf;
	}
	size_t phnum;
	if (elf_getphdrnum(elf, &phnum) != 0) {
		err = pyhs_error_create(PYHS_ERROR_INPUT,
					"cannot read program headers of '%s': %s",
					path, elf_errmsg(-1));
		goto fail_elf;
	}
	const uint8_t *nt_file = NULL;
	size_t nt_file_size = 0;
	uint64_t missing = 0;
	size_t nload = 0;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph)) {
			err = pyhs_error_create(PYHS_ERROR_INPUT,
						"cannot read program header %zu of '%s': truncated",
						i, path);
			goto fail_elf;
		}
		if (ph.p_type == PT_NOTE) {
			err = parse_notes(t, elf, &ph, core_size, &nt_file,
					  &nt_file_size);
			if (err)
				goto fail_elf;
		} else if (ph.p_type == PT_LOAD) {
			nload++;
			uint64_t len = ph.p_filesz;
			if (len > ph.p_memsz)
				len = ph.p_memsz;
			if (ph.p_offset >= core_size) {
				missing += len;
				err = add_load(t, &ph, NULL, 0);
				if (err)
					goto fail_elf;
				continue;
			}
			if (len > core_size - ph.p_offset) {
				missing += len - (core_size - ph.p_offset);
				len = core_size - ph.p_offset;
			}
			err = pyhs_memory_add(&t->mem, ph.p_vaddr, len,
					      core + ph.p_offset);
			if (!err)
				err = add_load(t, &ph, core + ph.p_offset, len);
			if (err)
				goto fail_elf;
		}
	}
	/* (qsort must not see the NULL of an empty vector.) */
	if (t->mappings.size > 1)
		qsort(t->mappings.data, t->mappings.size, sizeof(*t->mappings.data),
		      compare_mappings);
	if (t->captured.size > 1)
		qsort(t->captured.data, t->captured.size, sizeof(*t->captured.data),
		      compare_segments);
	if (nload == 0) {
		err = pyhs_error_create(PYHS_ERROR_INPUT,
					"'%s' holds no memory segments", path);
		goto fail_elf;
	}
	if (missing)
		pyhs_target_warn(t,
				 "core '%s' is truncated: %llu bytes of memory are missing",
				 path, (unsigned long long)missing);
	if (!nt_file) {
		pyhs_target_warn(t, "core has no NT_FILE note: mapped files cannot be found");
	} else {
		err = parse_nt_file(t, nt_file, nt_file_size);
		if (err)
			goto fail_elf;
		for (size_t i = 0; i < t->modules.size; i++) {
			err = pyhs_module_load(t, &t->modules.data[i]);
			if (err)
				goto fail_elf;
		}
		err = add_file_backed(t, nt_file, nt_file_size);
		if (err)
			goto fail_elf;
	}
	elf_end(elf);

	err = pyhs_target_find_executable(t);
	if (err)
		goto fail;
	err = t->opts.no_python ? NULL : pyhs_python_find(t);
	if (err && missing)
		err = pyhs_error_wrap(err, "core '%s' is truncated (%llu bytes of memory missing)",
				      path, (unsigned long long)missing);
	if (err)
		goto fail;
	*ret = t;
	return NULL;

fail_elf:
	elf_end(elf);
fail:
	pyhs_target_destroy(t);
	return err;
}
