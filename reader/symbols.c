/* ELF files named by a core: opening, build-ids, bias, debug files, symbols. */
#include <elf.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "debuginfod.h"
#include "symbols.h"
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

bool pyhs_elf_has_section(const uint8_t *data, size_t size, const char *want)
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

/* Maps the debug file at path (malloc'd, kept as m->debug_path or freed)
 * for m, if its build-id is m's; where names where it came from in the
 * warnings of a file that cannot be used. Errors: out of memory only. */
static struct pyhs_error *use_debug_file(struct pyhs_target *t,
					 struct pyhs_module *m, char *path,
					 const char *where)
{
	const uint8_t *data;
	size_t size;
	struct pyhs_error *err = pyhs_map_file(t, path, &data, &size);
	if (!err) {
		uint8_t id[64];
		char h1[129], h2[129];
		size_t n = pyhs_elf_build_id(data, size, id, sizeof(id));
		if (n != m->build_id_len || memcmp(id, m->build_id, n) != 0)
			err = pyhs_error_create(PYHS_ERROR_INPUT,
						"debug file '%s'%s has build-id %s, not %s; not using it",
						path, where, n ? hex(id, n, h1) : "none",
						hex(m->build_id, m->build_id_len, h2));
	}
	if (err) {
		free(path);
		if (err == &pyhs_enomem)
			return err;
		pyhs_target_warn(t, "%s", err->message);
		pyhs_error_destroy(err);
		return NULL;
	}
	m->debug_file = data;
	m->debug_file_size = size;
	m->debug_path = path;
	return NULL;
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
		m->has_debug_info = pyhs_elf_has_section(data, size, ".debug_info");
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
		if (stat(dpath, &st) == 0)
			return use_debug_file(t, m, dpath, "");
		free(dpath);
	}
	return NULL;
}

struct pyhs_error *pyhs_module_fetch_debug(struct pyhs_target *t,
					   struct pyhs_module *m)
{
	const char *debug_dir = t->opts.debug_dir;
	if (m->debug_file || m->has_debug_info || m->build_id_len < 2 ||
	    t->opts.no_debuginfod || (debug_dir && !debug_dir[0]) ||
	    !pyhs_debuginfod_configured())
		return NULL;
	char *path;
	struct pyhs_error *err = pyhs_debuginfod_find(m->build_id, m->build_id_len,
						      &path);
	if (err) {
		if (err == &pyhs_enomem)
			return err;
		char h[129];
		if (err->code != PYHS_ERROR_NOT_FOUND)
			pyhs_target_warn(t, "no debug file for '%s' (build-id %s): %s",
					 m->path, hex(m->build_id, m->build_id_len, h),
					 err->message);
		pyhs_error_destroy(err);
		return NULL;
	}
	err = use_debug_file(t, m, path, " from debuginfod");
	if (!err)
		m->symbols_loaded = false; /* read again, with the debug file's */
	return err;
}

/* A definition of a kind that names an address (not a section, file or
 * undefined reference). */
static bool symbol_kept(unsigned shndx, unsigned char info)
{
	int type = GELF_ST_TYPE(info);
	return shndx != SHN_UNDEF && (type == STT_OBJECT || type == STT_FUNC ||
				      type == STT_NOTYPE || type == STT_TLS);
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
			if (!sym.st_name || !symbol_kept(sym.st_shndx, sym.st_info))
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

/* Finds the file's .gnu.hash and the .dynsym and string table it indexes
 * (64-bit files of this machine's byte order; anything else, or anything
 * out of the file's bounds, leaves m->gnu_hash NULL). */
static void check_gnu_hash(struct pyhs_module *m)
{
	m->hash_checked = true;
	if (!m->file)
		return;
	Elf *elf = elf_memory((char *)m->file, m->file_size);
	if (!elf)
		return;
	GElf_Ehdr eh;
	bool native = gelf_getehdr(elf, &eh) && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
		      eh.e_ident[EI_DATA] == (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ?
						      ELFDATA2LSB : ELFDATA2MSB);
	Elf_Scn *scn = NULL;
	GElf_Shdr hash = { 0 };
	while (native && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_SYMTAB)
			m->has_symtab = true;
		else if (sh.sh_type == SHT_GNU_HASH)
			hash = sh;
	}
	GElf_Shdr sym, str;
	Elf_Scn *s;
	if (native && hash.sh_type == SHT_GNU_HASH &&
	    (s = elf_getscn(elf, hash.sh_link)) && gelf_getshdr(s, &sym) &&
	    sym.sh_type == SHT_DYNSYM && sym.sh_entsize == sizeof(Elf64_Sym) &&
	    (s = elf_getscn(elf, sym.sh_link)) && gelf_getshdr(s, &str) &&
	    str.sh_type == SHT_STRTAB &&
	    hash.sh_offset <= m->file_size && hash.sh_size <= m->file_size - hash.sh_offset &&
	    sym.sh_offset <= m->file_size && sym.sh_size <= m->file_size - sym.sh_offset &&
	    str.sh_offset <= m->file_size && str.sh_size <= m->file_size - str.sh_offset) {
		m->gnu_hash = m->file + hash.sh_offset;
		m->gnu_hash_size = hash.sh_size;
		m->dynsym = m->file + sym.sh_offset;
		m->ndynsym = sym.sh_size / sizeof(Elf64_Sym);
		m->dynstr = m->file + str.sh_offset;
		m->dynstr_size = str.sh_size;
	}
	elf_end(elf);
}

static uint32_t word32(const uint8_t *p, size_t i)
{
	uint32_t v;
	memcpy(&v, p + 4 * i, 4);
	return v;
}

/* Looks name up in the GNU hash table, as the dynamic linker does: the
 * bucket of its hash gives the first symbol of a chain whose hashes, low
 * bit aside, are compared before the names. Every index is checked
 * against the tables' sizes. */
static bool gnu_hash_lookup(const struct pyhs_module *m, const char *name,
			    Elf64_Sym *ret)
{
	size_t nwords = m->gnu_hash_size / 4;
	if (nwords < 4)
		return false;
	uint32_t nbuckets = word32(m->gnu_hash, 0), symoffset = word32(m->gnu_hash, 1);
	uint32_t bloom_size = word32(m->gnu_hash, 2);
	/* Header, bloom filter (64-bit words), buckets, then chains. */
	uint64_t buckets = 4 + 2 * (uint64_t)bloom_size;
	uint64_t chains = buckets + nbuckets;
	if (!nbuckets || chains > nwords)
		return false;
	uint32_t h = 5381;
	for (const unsigned char *c = (const unsigned char *)name; *c; c++)
		h = h * 33 + *c;
	uint32_t i = word32(m->gnu_hash, (size_t)buckets + h % nbuckets);
	if (i < symoffset)
		return false;
	size_t len = strlen(name);
	for (; i < m->ndynsym && chains + (i - symoffset) < nwords; i++) {
		uint32_t h2 = word32(m->gnu_hash, (size_t)(chains + (i - symoffset)));
		if ((h | 1) == (h2 | 1)) {
			Elf64_Sym sym;
			memcpy(&sym, m->dynsym + (size_t)i * sizeof(sym), sizeof(sym));
			if (sym.st_name < m->dynstr_size) {
				const char *n = (const char *)m->dynstr + sym.st_name;
				size_t left = m->dynstr_size - sym.st_name;
				if (len < left && memcmp(n, name, len + 1) == 0) {
					*ret = sym;
					return true;
				}
			}
		}
		if (h2 & 1)
			break;
	}
	return false;
}

const struct pyhs_symbol *pyhs_module_symbol(struct pyhs_target *t,
					     struct pyhs_module *m,
					     const char *name)
{
	if (!m->bias_known)
		return NULL;
	const struct pyhs_symbol *found = pyhs_symbol_map_search(&m->symbols, name);
	if (found || m->symbols_loaded)
		return found;
	/* A name the file exports is found by its hash; the whole tables
	 * are read only for one it does not (a static symbol, in .symtab or
	 * the debug file). */
	if (!m->hash_checked)
		check_gnu_hash(m);
	Elf64_Sym sym;
	if (m->gnu_hash && gnu_hash_lookup(m, name, &sym) &&
	    symbol_kept(sym.st_shndx, sym.st_info)) {
		bool inserted;
		const char *stored = (const char *)m->dynstr + sym.st_name;
		struct pyhs_symbol *s = pyhs_symbol_map_insert(&m->symbols, stored,
							       &inserted);
		if (!s)
			return NULL;
		s->name = stored;
		s->value = sym.st_value;
		s->size = sym.st_size;
		return s;
	}
	if (m->gnu_hash && ((!m->has_symtab && !m->debug_file) ||
			    (t && (t->opts.runtime_skip & PYHS_SKIP_STATIC_SYMBOLS))))
		return NULL; /* .dynsym is all there is, and its hash said no */
	m->symbols_loaded = true;
	if (m->file && load_symbols(m, m->file, m->file_size))
		return NULL;
	if (m->debug_file)
		load_symbols(m, m->debug_file, m->debug_file_size);
	return pyhs_symbol_map_search(&m->symbols, name);
}

/* The i-th writable loadable segment of module m. */
static bool module_data(const struct pyhs_module *m, size_t i, uint64_t *start,
			uint64_t *end)
{
	if (!m->file || !m->bias_known)
		return false;
	Elf *elf = elf_memory((char *)m->file, m->file_size);
	if (!elf)
		return false;
	size_t phnum, n = 0;
	bool found = false;
	if (elf_getphdrnum(elf, &phnum) == 0) {
		for (size_t k = 0; k < phnum && !found; k++) {
			GElf_Phdr ph;
			if (!gelf_getphdr(elf, (int)k, &ph) || ph.p_type != PT_LOAD ||
			    !(ph.p_flags & PF_W) || !ph.p_memsz ||
			    ph.p_vaddr > UINT64_MAX - m->bias - ph.p_memsz || n++ != i)
				continue;
			*start = ph.p_vaddr + m->bias;
			*end = *start + ph.p_memsz;
			found = true;
		}
	}
	elf_end(elf);
	return found;
}

/* The NUL-terminated string at addr in the target, cut to size - 1. */
static void read_cstring(struct pyhs_target *t, uint64_t addr, char *buf, size_t size)
{
	size_t n = 0;
	while (n < size - 1 && pyhs_memory_read(&t->mem, addr + n, &buf[n], 1) && buf[n])
		n++;
	buf[n] = '\0';
}

/* The program a dynamic loader run as a command loaded (ld-linux-x86-64.so.2
 * --library-path ... python3.15: the kernel's entry point is the loader's):
 * the module holding the dynamic section of the first entry of the loader's
 * link map, _r_debug.r_map (its l_name is "" either way). NULL if m is no
 * such loader. */
static const struct pyhs_module *loader_program(struct pyhs_target *t,
						struct pyhs_module *m)
{
	const struct pyhs_symbol *rd = pyhs_module_symbol(t, m, "_r_debug");
	uint64_t map = 0, ld = 0;
	/* struct r_debug { int r_version; struct link_map *r_map; ... } and
	 * struct link_map { l_addr; char *l_name; ElfW(Dyn) *l_ld; ... } */
	if (!rd || !pyhs_memory_read(&t->mem, rd->value + m->bias + 8, &map, 8) || !map ||
	    !pyhs_memory_read(&t->mem, map + 16, &ld, 8))
		return NULL;
	for (size_t i = 0; i < t->modules.size; i++) {
		const struct pyhs_module *p = &t->modules.data[i];
		if (p != m && ld >= p->start && ld < p->end)
			return p;
	}
	return NULL;
}

struct pyhs_error *pyhs_target_find_executable(struct pyhs_target *t)
{
	/* The executable: the mapping holding the entry point, or the program
	 * it loaded if that is the dynamic loader. */
	char buf[4096];
	for (size_t i = 0; i < t->modules.size && !t->executable; i++) {
		struct pyhs_module *m = &t->modules.data[i];
		if (t->entry >= m->start && t->entry < m->end) {
			const struct pyhs_module *program = loader_program(t, m);
			t->executable = strdup(program ? program->path : m->path);
			if (!t->executable)
				return &pyhs_enomem;
		}
	}
	if (!t->executable && t->execfn) {
		read_cstring(t, t->execfn, buf, sizeof(buf));
		t->executable = strdup(buf);
		if (!t->executable)
			return &pyhs_enomem;
	}
	return NULL;
}

bool pyhs_target_symbol(const struct pyhs_target *tc, const char *name,
			uint64_t *ret)
{
	struct pyhs_target *t = (struct pyhs_target *)tc; /* lazy symbol load */
	/* CPython's symbols are in the module that holds _PyRuntime, once it
	 * is known: a symbol missing there (a static one of a stripped
	 * binary) is not worth loading every library's table for. */
	size_t first = 0, end = t->modules.size;
	if (t->runtime_module < end)
		first = t->runtime_module, end = first + 1;
	for (size_t i = first; i < end; i++) {
		struct pyhs_module *m = &t->modules.data[i];
		const struct pyhs_symbol *s = pyhs_module_symbol(t, m, name);
		if (s) {
			*ret = s->value + m->bias;
			return true;
		}
	}
	return false;
}

bool pyhs_target_static_symbol(const struct pyhs_target *t, const char *name,
			       uint64_t *ret)
{
	char buf[96];
	if (pyhs_target_symbol(t, name, ret))
		return true;
	for (int i = 0; i < 2; i++) {
		snprintf(buf, sizeof(buf), "%s.lto_priv.%d", name, i);
		if (pyhs_target_symbol(t, buf, ret))
			return true;
	}
	return false;
}

bool pyhs_target_py_data(const struct pyhs_target *t, size_t i,
			 uint64_t *start, uint64_t *end)
{
	return t->runtime_module < t->modules.size &&
	       module_data(&t->modules.data[t->runtime_module], i, start, end);
}

size_t pyhs_target_nfiles(const struct pyhs_target *t)
{
	return t->modules.size;
}

bool pyhs_target_file_data(const struct pyhs_target *t, size_t file, size_t i,
			   uint64_t *start, uint64_t *end, const char **path)
{
	if (file >= t->modules.size ||
	    !module_data(&t->modules.data[file], i, start, end))
		return false;
	*path = t->modules.data[file].path;
	return true;
}
