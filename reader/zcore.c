/* zstd-compressed cores (systemd-coredump's): decompressed into an unlinked
 * temporary file and mapped, so that a core costs disk (sparse: its zero
 * pages cost nothing) rather than memory, and a stream that would
 * decompress to more than the core's own headers need, or than the cap,
 * is stopped early. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <zstd.h>

#include "common/format.h"
#include "common/tempfile.h"
#include "target.h"
#include "zcore.h"

#define BLOCK 4096u

/* Whether the bytes from i of buf[0, n) start a whole block of zeros. */
static bool is_hole(const uint8_t *buf, size_t n, size_t i)
{
	if (n - i < BLOCK)
		return false;
	for (size_t k = i; k < i + BLOCK; k += 8) {
		uint64_t w;
		memcpy(&w, buf + k, 8);
		if (w)
			return false;
	}
	return true;
}

static bool pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return false;
		}
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return true;
}

/* Writes buf at off, leaving whole zero blocks as holes. */
static bool write_sparse(int fd, const uint8_t *buf, size_t n, uint64_t off)
{
	for (size_t i = 0; i < n;) {
		if (is_hole(buf, n, i)) {
			i += BLOCK;
			continue;
		}
		size_t j = i; /* the end of a run of blocks that are not holes */
		do
			j += n - j < BLOCK ? n - j : BLOCK;
		while (j < n && !is_hole(buf, n, j));
		if (!pwrite_all(fd, buf + i, j - i, off + i))
			return false;
		i = j;
	}
	return true;
}

/* How many bytes of an ELF64 core its headers account for (the program
 * and section header tables, and every segment's bytes), once the program
 * headers are among the first `have` bytes of fd; 0 when that cannot be
 * told yet, or at all (not ELF64, more than PN_XNUM program headers). */
static uint64_t elf_extent(int fd, uint64_t have, bool *ret_final)
{
	Elf64_Ehdr eh;
	*ret_final = false;
	if (have < sizeof(eh))
		return 0;
	memset(&eh, 0, sizeof(eh));
	if (pread(fd, &eh, sizeof(eh), 0) < (ssize_t)EI_NIDENT ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phnum == PN_XNUM ||
	    (eh.e_phnum && eh.e_phentsize != sizeof(Elf64_Phdr))) {
		*ret_final = true; /* not a core we read: its bytes so far do */
		return have;
	}
	uint64_t ph_end = eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr);
	if (ph_end < eh.e_phoff) {
		*ret_final = true;
		return have;
	}
	if (have < ph_end)
		return 0;
	uint64_t end = ph_end > sizeof(eh) ? ph_end : sizeof(eh);
	if (eh.e_shoff) {
		uint64_t sh_end = eh.e_shoff + (uint64_t)eh.e_shnum * eh.e_shentsize;
		if (sh_end > end && sh_end >= eh.e_shoff)
			end = sh_end;
	}
	for (uint16_t i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memset(&ph, 0, sizeof(ph));
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * sizeof(ph))) < 0)
			break;
		uint64_t e = ph.p_offset + ph.p_filesz;
		if (e < ph.p_offset)
			e = UINT64_MAX;
		if (ph.p_filesz && e > end)
			end = e;
	}
	*ret_final = true;
	return end;
}

struct pyhs_error *pyhs_decompress_core(struct pyhs_target *t, const char *path,
					const uint8_t *src, size_t src_size,
					const uint8_t **ret, size_t *ret_size)
{
	uint64_t max = t->opts.max_core_size ? t->opts.max_core_size :
					       PYHS_DEFAULT_MAX_CORE_SIZE;
	const char *dir = "";
	int fd = pyhs_temp_open("core", &dir);
	if (fd < 0)
		return pyhs_error_os(errno,
				     "cannot decompress '%s': cannot make a temporary file (set TMPDIR)",
				     path);
	ZSTD_DStream *ds = ZSTD_createDStream();
	size_t chunk = ZSTD_DStreamOutSize();
	uint8_t *buf = malloc(chunk);
	if (!ds || !buf) {
		ZSTD_freeDStream(ds);
		free(buf);
		close(fd);
		return &pyhs_enomem;
	}
	ZSTD_inBuffer in = { src, src_size, 0 };
	struct pyhs_error *err = NULL;
	uint64_t total = 0, needed = 0;
	bool needed_final = false;
	size_t r = 1;
	while (in.pos < in.size || r != 0) {
		ZSTD_outBuffer out = { buf, chunk, 0 };
		size_t before_in = in.pos;
		r = ZSTD_decompressStream(ds, &out, &in);
		if (ZSTD_isError(r)) {
			err = pyhs_error_create(PYHS_ERROR_INPUT, "cannot decompress '%s': %s",
						path, ZSTD_getErrorName(r));
			break;
		}
		if (out.pos > max - total) {
			char m[32];
			err = pyhs_error_create(PYHS_ERROR_INPUT,
						"'%s' decompresses to more than the cap of %s (raise it with --max-core-size)",
						path, pyhs_format_bytes(max, m, sizeof(m)));
			break;
		}
		if (out.pos && !write_sparse(fd, buf, out.pos, total)) {
			err = pyhs_error_os(errno, "cannot decompress '%s' into '%s'", path, dir);
			break;
		}
		total += out.pos;
		if (!needed_final) {
			needed = elf_extent(fd, total, &needed_final);
			if (needed_final && needed > max) {
				char n[32], m[32];
				err = pyhs_error_create(PYHS_ERROR_INPUT,
							"'%s' is a core of %s by its headers, more than the cap of %s (raise it with --max-core-size)",
							path, pyhs_format_bytes(needed, n, sizeof(n)),
							pyhs_format_bytes(max, m, sizeof(m)));
				break;
			}
		}
		/* What the headers account for is all that is read. */
		if (needed_final && total >= needed)
			break;
		if (in.pos == in.size && before_in == in.pos && out.pos < out.size &&
		    r != 0) {
			err = pyhs_error_create(PYHS_ERROR_INPUT,
						"cannot decompress '%s': truncated zstd stream",
						path);
			break;
		}
	}
	ZSTD_freeDStream(ds);
	free(buf);
	if (!err && ftruncate(fd, (off_t)total) != 0)
		err = pyhs_error_os(errno, "cannot decompress '%s' into '%s'", path, dir);
	if (err) {
		close(fd);
		return err;
	}
	if (total == 0) {
		close(fd);
		static const uint8_t nothing;
		*ret = &nothing;
		*ret_size = 0;
		return NULL;
	}
	err = pyhs_map_fd(t, fd, (size_t)total, path, ret);
	close(fd);
	if (err)
		return err;
	*ret_size = (size_t)total;
	return NULL;
}
