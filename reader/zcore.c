/* zstd-compressed cores (systemd-coredump's): decompressed into an unlinked
 * temporary file and mapped, so that a core costs disk (sparse: its zero
 * pages cost nothing) rather than memory, and a stream that would
 * decompress to more than the core's own headers need, or than the cap,
 * is stopped early. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "target.h"

#define BLOCK 4096u

/* An unlinked file for reading and writing in $TMPDIR, else /var/tmp
 * (disk, where /tmp may be memory), else /tmp. */
static int open_temp(const char **ret_dir)
{
	const char *env = getenv("TMPDIR");
	const char *dirs[] = { env && env[0] ? env : NULL, "/var/tmp", "/tmp" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (!dirs[i])
			continue;
		int fd = open(dirs[i], O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/pyheapsnap-core-XXXXXX", dirs[i]);
			fd = mkostemp(path, O_CLOEXEC);
			if (fd >= 0)
				unlink(path);
		}
		if (fd >= 0) {
			*ret_dir = dirs[i];
			return fd;
		}
	}
	return -1;
}

/* "64.0 GiB", "512.0 KiB": for messages. */
static const char *fmt_size(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)n;
	size_t u = 0;
	while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " bytes", n);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		if (w)
			return false;
	}
	return true;
}

/* Writes buf at off, leaving whole zero blocks as holes. */
static bool write_sparse(int fd, const uint8_t *buf, size_t n, uint64_t off)
{
	size_t i = 0;
	while (i < n) {
		size_t len = n - i < BLOCK ? n - i : BLOCK;
		if (len == BLOCK && all_zero(buf + i, len)) {
			i += len;
			continue;
		}
		/* A run of blocks that are not all zero. */
		size_t j = i + len;
		while (j < n) {
			size_t l = n - j < BLOCK ? n - j : BLOCK;
			if (l == BLOCK && all_zero(buf + j, l))
				break;
			j += l;
		}
		for (size_t k = i; k < j;) {
			ssize_t w = pwrite(fd, buf + k, j - k, (off_t)(off + k));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				if (w == 0)
					errno = EIO;
				return false;
			}
			k += (size_t)w;
		}
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
	int fd = open_temp(&dir);
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
						path, fmt_size(max, m, sizeof(m)));
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
							path, fmt_size(needed, n, sizeof(n)),
							fmt_size(max, m, sizeof(m)));
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
	void *p = mmap(NULL, (size_t)total, PROT_READ, MAP_PRIVATE, fd, 0);
	int e = errno;
	close(fd);
	if (p == MAP_FAILED)
		return pyhs_error_os(e, "cannot map the decompressed '%s'", path);
	struct pyhs_mapped_file mf = { p, (size_t)total };
	if (!pyhs_mapped_file_vector_append(&t->maps, mf)) {
		munmap(p, (size_t)total);
		return &pyhs_enomem;
	}
	*ret = p;
	*ret_size = (size_t)total;
	return NULL;
}
