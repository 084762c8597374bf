/* ELF files named by a core: opening, build-ids, bias, debug files, symbols. */
#include <elf.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "target.h"

#define MAX_NOTES_BYTES (1u << 20)

static size_t build_id_from_notes(const uint8_t *notes, size_t len,
				  uint8_t *out, size_t out_size)
{
	size_t off = 0;
	while (off + 12 <= len) {
		uint32_t namesz, descsz, type;
		memcpy(&namesz, notes + off, 4);
		memcpy(&descsz, notes + off + 4, 4);
		memcpy(&type, notes + off + 8, 4);
		size_t name_off = off + 12;
		size_t desc_off = name_off + ((namesz + 3u) & ~3u);
		if (namesz > len || descsz > len || desc_off > len ||
		    descsz > len - desc_off)
			return 0;
		if (type == NT_GNU_BUILD_ID && namesz == 4 &&
		    memcmp(notes + name_off, "GNU", 4) == 0) {
			size_t n = descsz < out_size ? descsz : out_size;
			memcpy(out, notes + desc_off, n);
			return n;
		}
		off = desc_off + ((descsz + 3u) & ~3u);
	}
	return 0;
}

size_t pyhs_elf_build_id(const uint8_t *data, size_t size, uint8_t *out,
			 size_t out_size)
{
	Elf *elf = elf_memory((char *)data, size);
	if (!elf)
		return 0;
	size_t n = 0;
	Elf_Scn *scn = NULL;
	while (!n && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		if (sh.sh_offset > size || sh.sh_size > size - sh.sh_offset)
			continue;
		n = build_id_from_notes(data + sh.sh_offset, sh.sh_size, out,
					out_size);
	}
	elf_end(elf);
	return n;
}

/* The build-id of the image whose ELF header is at addr in the core. */
static size_t memory_build_id(struct pyhs_target *t, uint64_t addr,
			      uint8_t *out, size_t out_size)
{
	Elf64_Ehdr eh;
	if (!pyhs_memory_read(&t->mem, addr, &eh, sizeof(eh)) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > 256)
		return 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		if (!pyhs_memory_read(&t->mem, addr + eh.e_phoff + i * sizeof(ph),
				      &ph, sizeof(ph)))
			return 0;
		if (ph.p_type != PT_NOTE || ph.p_filesz > MAX_NOTES_BYTES)
			continue;
		/* p_vaddr is unbiased; the note sits at the same distance
		 * from the header as in the file. */
		uint8_t *buf = malloc(ph.p_filesz ? ph.p_filesz : 1);
		if (!buf)
			return 0;
		size_t n = 0;
		if (pyhs_memory_read(&t->mem, addr + ph.p_offset, buf,
				     ph.p_filesz))
			n = build_id_from_notes(buf, ph.p_filesz, out, out_size);
		free(buf);
		if (n)
			return n;
	}
	return 0;
}

static char *hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = '\0';
	return out;
}

static bool file_has_section(const uint8_t *data, size_t size,
			     const char *want)
{
	Elf *elf = elf_memory((char *)data, size);
	if (!elf)
		return false;
	size_t shstrndx;
	bool found = false;
	if (elf_getshdrstrndx(elf, &shstrndx) == 0) {
		Elf_Scn *scn = NULL;
		while (!found && (scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			if (!gelf_getshdr(scn, &sh))
				continue;
			const char *name = elf_strptr(elf, shstrndx, sh.sh_name);
			if (name && strcmp(name, want) == 0 &&
			    sh.sh_type != SHT_NOBITS && sh.sh_size > 0)
				found = true;
		}
	}
	elf_end(elf);
	return found;
}

/* Load bias: where the file's first PT_LOAD (offset 0) landed. */
static bool compute_bias(const uint8_t *data, size_t size, uint64_t header_addr,
			 uint64_t *ret)
{
	Elf *elf = elf_memory((char *)data, size);
	if (!elf)
		return false;
	size_t phnum;
	bool ok = false;
	if (elf_getphdrnum(elf, &phnum) == 0) {
		for (size_t i = 0; i < phnum; i++) {
			GElf_Phdr ph;
			if (!gelf_getphdr(elf, (int)i, &ph) ||
			    ph.p_type != PT_LOAD)
				continue;
			uint64_t vaddr = ph.p_vaddr - (ph.p_offset & 0xfff);
			*ret = header_addr - (vaddr & ~(uint64_t)0xfff);
			ok = true;
			break;
		}
	}
	elf_end(elf);
	return ok;
}

struct pyhs_error *pyhs_module_load(struct pyhs_target *t,
				    struct pyhs_module *m)
{
	const char *path = m->path;
	char *owned = NULL;
	bool is_exe = t->entry >= m->start && t->entry < m->end;
	if (is_exe && t->opts.exe) {
		path = t->opts.exe;
	} else if (t->opts.sysroot && t->opts.sysroot[0]) {
		if (asprintf(&owned, "%s%s", t->opts.sysroot, m->path) < 0)
			return &pyhs_enomem;
		path = owned;
	}
	if (strstr(m->path, " (deleted)") || strncmp(m->path, "/memfd:", 7) == 0 ||
	    strncmp(m->path, "/dev/", 5) == 0) {
		free(owned);
		return NULL;
	}
	const uint8_t *data;
	size_t size;
	struct pyhs_error *err = pyhs_map_file(t, path, &data, &size);
	if (err) {
		if (err == &pyhs_enomem) {
			free(owned);
			return err;
		}
		pyhs_target_warn(t, "%s; memory it backs and is not in the core is unreadable",
				 err->message);
		pyhs_error_destroy(err);
		free(owned);
		return NULL;
	}
	m->opened_path = owned ? owned : strdup(path);
	if (!m->opened_path)
		return &pyhs_enomem;
	if (size < SELFMAG || memcmp(data, ELFMAG, SELFMAG) != 0) {
		/* A data file (locale archive and such): bytes only. */
		m->file = data;
		m->file_size = size;
		return NULL;
	}
	m->build_id_len = pyhs_elf_build_id(data, size, m->build_id,
					    sizeof(m->build_id));
	uint8_t mem_id[64];
	size_t mem_id_len = memory_build_id(t, m->bias, mem_id, sizeof(mem_id));
	char h1[129], h2[129];
	if (mem_id_len && (mem_id_len != m->build_id_len ||
			   memcmp(mem_id, m->build_id, mem_id_len) != 0)) {
		pyhs_target_warn(t,
				 "build-id of '%s' (%s) does not match the core (%s); not using it",
				 path, hex(m->build_id, m->build_id_len, h1),
				 hex(mem_id, mem_id_len, h2));
		/* Keep the build-id the core says, for the debug file. */
		memcpy(m->build_id, mem_id, mem_id_len);
		m->build_id_len = mem_id_len;
	} else {
		m->file = data;
		m->file_size = size;
		if (compute_bias(data, size, m->bias, &m->bias))
			m->bias_known = true;
		m->has_debug_info = file_has_section(data, size, ".debug_info");
	}
	const char *debug_dir = t->opts.debug_dir ? t->opts.debug_dir :
							 "/usr/lib/debug";
	if (debug_dir[0] && m->build_id_len >= 2) {
		char *dpath;
		if (asprintf(&dpath, "%s/.build-id/%02x/%s.debug", debug_dir,
			     m->build_id[0],
			     hex(m->build_id + 1, m->build_id_len - 1, h1)) < 0)
			return &pyhs_enomem;
		struct stat st;
		if (stat(dpath, &st) == 0) {
			err = pyhs_map_file(t, dpath, &m->debug_file,
					    &m->debug_file_size);
			if (err) {
				if (err == &pyhs_enomem) {
					free(dpath);
					return err;
				}
				pyhs_target_warn(t, "%s", err->message);
				pyhs_error_destroy(err);
				free(dpath);
			} else {
				m->debug_path = dpath;
			}
		} else {
			free(dpath);
		}
	}
	return NULL;
}

static struct pyhs_error *load_symbols(struct pyhs_module *m,
				       const uint8_t *data, size_t size)
{
	Elf *elf = elf_memory((char *)data, size);
	if (!elf)
		return NULL;
	Elf_Scn *scn = NULL;
	struct pyhs_error *err = NULL;
	while (!err && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) ||
		    (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		if (!d || !sh.sh_entsize)
			continue;
		size_t n = sh.sh_size / sh.sh_entsize;
		for (size_t i = 0; i < n; i++) {
			GElf_Sym sym;
			if (!gelf_getsym(d, (int)i, &sym))
				break;
			if (sym.st_shndx == SHN_UNDEF || !sym.st_name)
				continue;
			int type = GELF_ST_TYPE(sym.st_info);
			if (type != STT_OBJECT && type != STT_FUNC &&
			    type != STT_NOTYPE && type != STT_TLS)
				continue;
			const char *name = elf_strptr(elf, sh.sh_link,
						      sym.st_name);
			if (!name || !name[0])
				continue;
			bool inserted;
			struct pyhs_symbol *s = pyhs_symbol_map_insert(
				&m->symbols, name, &inserted);
			if (!s) {
				err = &pyhs_enomem;
				break;
			}
			/* Prefer a global definition over a local one. */
			if (inserted || GELF_ST_BIND(sym.st_info) == STB_GLOBAL) {
				s->name = name;
				s->value = sym.st_value;
				s->size = sym.st_size;
			}
		}
	}
	elf_end(elf);
	return err;
}

const struct pyhs_symbol *pyhs_module_symbol(struct pyhs_target *t,
					     struct pyhs_module *m,
					     const char *name)
{
	if (!m->symbols_loaded) {
		m->symbols_loaded = true;
		if (m->file && m->bias_known &&
		    load_symbols(m, m->file, m->file_size))
			return NULL;
		if (m->debug_file && m->bias_known)
			load_symbols(m, m->debug_file, m->debug_file_size);
	}
	return pyhs_symbol_map_search(&m->symbols, name);
}
