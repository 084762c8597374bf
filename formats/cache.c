/* A cache of heaps read from cores: one snapshot file per core, so that the
 * next verb on the same core reads the snapshot instead of the core. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/containers.h"
#include "formats.h"
#include "reader.h"

/* Bumped when what an entry's name stands for changes. */
#define CACHE_KEY_VERSION 1
/* "<slot>-<state>.phs" or "<slot>-<state>.traced.phs", 16 hex digits each. */
#define HASH_HEX 16
#define SUFFIX ".phs"
#define TRACED_SUFFIX ".traced.phs"

struct pyhs_cache {
	char *dir;
	uint64_t max_bytes;
	char *core;       /* the core's path as given */
	struct stat core_st;
	char slot[HASH_HEX + 1];
	char state[HASH_HEX + 1];
	char *path;        /* the entry of a core without tracemalloc traces */
	char *traced_path; /* the entry of a core with some */
};

/* The bytes hashed into an entry's name, built up field by field. */
DEFINE_VECTOR(key_bytes, uint8_t)
struct key {
	struct key_bytes b;
	bool failed;
};

static void key_add(struct key *k, const void *src, size_t n)
{
	if (!k->failed && !key_bytes_append_n(&k->b, src, n))
		k->failed = true;
}

static void key_u64(struct key *k, uint64_t v)
{
	key_add(k, &v, sizeof(v));
}

/* A string, NULL told apart from "". */
static void key_str(struct key *k, const char *s)
{
	key_u64(k, s ? strlen(s) + 1 : 0);
	if (s)
		key_add(k, s, strlen(s));
}

static void key_time(struct key *k, const struct timespec *ts)
{
	key_u64(k, (uint64_t)ts->tv_sec);
	key_u64(k, (uint64_t)ts->tv_nsec);
}

static void key_hex(const struct key *k, char out[HASH_HEX + 1])
{
	snprintf(out, HASH_HEX + 1, "%016" PRIx64, pyhs_xxh64(k->b.data, k->b.size));
}

static char *default_dir(void)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	char *dir;
	/* The XDG specification: a relative $XDG_CACHE_HOME is ignored. */
	if (xdg && xdg[0] == '/')
		return asprintf(&dir, "%s/pyheapsnap", xdg) < 0 ? NULL : dir;
	const char *home = getenv("HOME");
	if (!home || home[0] != '/')
		return NULL;
	return asprintf(&dir, "%s/.cache/pyheapsnap", home) < 0 ? NULL : dir;
}

void pyhs_cache_destroy(struct pyhs_cache *c)
{
	if (!c)
		return;
	free(c->dir);
	free(c->core);
	free(c->path);
	free(c->traced_path);
	free(c);
}

const char *pyhs_cache_dir(const struct pyhs_cache *c)
{
	return c->dir;
}

struct pyhs_error *pyhs_cache_open(const char *dir, uint64_t max_bytes,
				   const char *core,
				   const struct pyhs_open_options *open,
				   const struct pyhs_heap_options *heap,
				   struct pyhs_cache **ret)
{
	struct pyhs_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return &pyhs_enomem;
	struct pyhs_error *err = NULL;
	c->max_bytes = max_bytes ? max_bytes : PYHS_CACHE_DEFAULT_MAX;
	if (stat(core, &c->core_st) != 0) {
		err = pyhs_error_os(errno, "cannot open core '%s'", core);
		goto fail;
	}
	if (!S_ISREG(c->core_st.st_mode)) {
		err = pyhs_error_create(PYHS_ERROR_INVALID,
					"'%s' is not a regular file: not cached", core);
		goto fail;
	}
	c->dir = dir ? strdup(dir) : default_dir();
	if (!c->dir) {
		err = dir ? &pyhs_enomem
			  : pyhs_error_create(PYHS_ERROR_INVALID,
					      "no cache directory: neither $XDG_CACHE_HOME nor $HOME is an absolute path");
		goto fail;
	}
	if (!(c->core = strdup(core))) {
		err = &pyhs_enomem;
		goto fail;
	}
	/* The slot: which core (by path as given, which the heap's metadata
	 * names, and by file), read how, by which build of pyheapsnap. */
	struct key k = { .failed = false };
	key_bytes_init(&k.b);
	key_u64(&k, CACHE_KEY_VERSION);
	key_str(&k, core);
	key_u64(&k, (uint64_t)c->core_st.st_dev);
	key_u64(&k, (uint64_t)c->core_st.st_ino);
	struct stat self;
	if (stat("/proc/self/exe", &self) == 0) {
		key_u64(&k, (uint64_t)self.st_dev);
		key_u64(&k, (uint64_t)self.st_ino);
		key_u64(&k, (uint64_t)self.st_size);
		key_time(&k, &self.st_mtim);
	}
	key_str(&k, open->sysroot);
	key_str(&k, open->exe);
	key_str(&k, open->debug_dir);
	key_u64(&k, open->no_dwarf);
	key_u64(&k, open->no_debuginfod);
	key_str(&k, open->no_debuginfod ? NULL : getenv("DEBUGINFOD_URLS"));
	key_str(&k, open->no_debuginfod ? NULL : getenv("DEBUGINFOD_CACHE_PATH"));
	key_u64(&k, open->no_python);
	key_u64(&k, open->runtime_skip);
	key_u64(&k, open->max_core_size);
	key_u64(&k, heap->max_objects);
	key_u64(&k, heap->max_edges);
	key_hex(&k, c->slot);
	/* The state: the core's contents, by size and times, and the
	 * snapshot format the entry is written in. */
	key_bytes_clear(&k.b);
	key_u64(&k, PYHS_SNAPSHOT_VERSION);
	key_u64(&k, (uint64_t)c->core_st.st_size);
	key_time(&k, &c->core_st.st_mtim);
	key_time(&k, &c->core_st.st_ctim);
	key_hex(&k, c->state);
	bool failed = k.failed;
	key_bytes_deinit(&k.b);
	if (failed ||
	    asprintf(&c->path, "%s/%s-%s" SUFFIX, c->dir, c->slot, c->state) < 0 ||
	    asprintf(&c->traced_path, "%s/%s-%s" TRACED_SUFFIX, c->dir, c->slot,
		     c->state) < 0) {
		err = &pyhs_enomem;
		goto fail;
	}
	*ret = c;
	return NULL;
fail:
	pyhs_cache_destroy(c);
	return err;
}

/* Whether a file the heap was read with (its executable, library or debug
 * file) is unchanged since the entry was written: no such file, or one
 * whose status last changed before the entry. */
static bool unchanged_since(const char *file, const struct timespec *written)
{
	struct stat st;
	if (!file || !file[0] || stat(file, &st) != 0)
		return true;
	return st.st_ctim.tv_sec < written->tv_sec ||
	       (st.st_ctim.tv_sec == written->tv_sec &&
		st.st_ctim.tv_nsec <= written->tv_nsec);
}

/* Whether an entry written at st's time, of a heap with metadata m, is
 * of this core and of files unchanged since. */
static bool trusted(const struct pyhs_cache *c, const struct pyhs_heap_meta *m,
		    const struct stat *st)
{
	return m->source && strcmp(m->source, "core") == 0 && m->input &&
	       strcmp(m->input, c->core) == 0 &&
	       unchanged_since(m->executable, &st->st_mtim) &&
	       unchanged_since(m->library, &st->st_mtim) &&
	       unchanged_since(m->debug_file, &st->st_mtim);
}

/* The largest retainers the entry at path keeps, if it is one to trust
 * and has them; an entry that is not to trust is removed. */
static bool read_entry_top(const struct pyhs_cache *c, const char *path,
			   struct pyhs_snapshot_top **ret)
{
	struct stat st;
	struct pyhs_snapshot_top *t;
	if (stat(path, &st) != 0)
		return false;
	struct pyhs_error *err = pyhs_snapshot_read_top(path, &t);
	if (err || (t && !trusted(c, &t->meta, &st))) {
		pyhs_error_destroy(err);
		pyhs_snapshot_top_destroy(err ? NULL : t);
		unlink(path);
		return false;
	}
	if (!t)
		return false;
	utimensat(AT_FDCWD, path, NULL, 0);
	*ret = t;
	return true;
}

bool pyhs_cache_get_top(struct pyhs_cache *c, struct pyhs_snapshot_top **ret)
{
	return read_entry_top(c, c->path, ret) || read_entry_top(c, c->traced_path, ret);
}

/* The object records the entry at path keeps (pyhs_snapshot_view_open),
 * as read_entry_top reads its rows. */
static bool read_entry_view(const struct pyhs_cache *c, const char *path,
			    struct pyhs_snapshot_view **ret)
{
	struct stat st;
	struct pyhs_snapshot_view *v;
	if (stat(path, &st) != 0)
		return false;
	struct pyhs_error *err = pyhs_snapshot_view_open(path, &v);
	if (err || (v && !trusted(c, pyhs_snapshot_view_meta(v), &st))) {
		pyhs_error_destroy(err);
		pyhs_snapshot_view_destroy(err ? NULL : v);
		unlink(path);
		return false;
	}
	if (!v)
		return false;
	utimensat(AT_FDCWD, path, NULL, 0);
	*ret = v;
	return true;
}

bool pyhs_cache_get_view(struct pyhs_cache *c, bool need_untraced,
			 struct pyhs_snapshot_view **ret)
{
	return read_entry_view(c, c->path, ret) ||
	       (!need_untraced && read_entry_view(c, c->traced_path, ret));
}

/* The heap in the entry at path, if it is one to trust; an entry that is
 * not is removed. */
static bool read_entry(const struct pyhs_cache *c, const char *path,
		       struct pyhs_heap **ret, struct pyhs_analysis **ret_a)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return false;
	struct pyhs_heap *h;
	struct pyhs_analysis *a = NULL;
	struct pyhs_error *err = pyhs_snapshot_read_analysed(path, &h, ret_a ? &a : NULL);
	if (err) {
		/* Truncated, corrupt, of another format version, or gone
		 * (evicted by another run) since the stat. */
		pyhs_error_destroy(err);
		unlink(path);
		return false;
	}
	if (!trusted(c, pyhs_heap_meta(h), &st)) {
		pyhs_analysis_destroy(a);
		pyhs_heap_destroy(h);
		unlink(path);
		return false;
	}
	/* Used now: the last to go when the directory is over its bound. */
	utimensat(AT_FDCWD, path, NULL, 0);
	*ret = h;
	if (ret_a)
		*ret_a = a;
	return true;
}

bool pyhs_cache_get(struct pyhs_cache *c, bool need_untraced,
		    struct pyhs_heap **ret)
{
	return pyhs_cache_get_analysed(c, need_untraced, ret, NULL);
}

bool pyhs_cache_get_analysed(struct pyhs_cache *c, bool need_untraced,
			     struct pyhs_heap **ret, struct pyhs_analysis **ret_a)
{
	if (read_entry(c, c->path, ret, ret_a))
		return true;
	return !need_untraced && read_entry(c, c->traced_path, ret, ret_a);
}

/* mkdir -p, mode 0700 for what it makes. */
static int make_dirs(const char *dir)
{
	char *p = strdup(dir);
	if (!p)
		return ENOMEM;
	int e = 0;
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char was = *s;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			e = errno;
			break;
		}
		*s = was;
		if (!was)
			break;
	}
	free(p);
	return e;
}

/* Whether name is an entry's: HEX-HEX.phs or HEX-HEX.traced.phs; with
 * slot, only that slot's. */
static bool entry_name(const char *name, const char *slot)
{
	size_t n = strlen(name);
	if (n < 2 * HASH_HEX + 1 || name[HASH_HEX] != '-')
		return false;
	for (size_t i = 0; i < 2 * HASH_HEX + 1; i++)
		if (i != HASH_HEX && !strchr("0123456789abcdef", name[i]))
			return false;
	const char *rest = name + 2 * HASH_HEX + 1;
	if (strcmp(rest, SUFFIX) != 0 && strcmp(rest, TRACED_SUFFIX) != 0)
		return false;
	return !slot || strncmp(name, slot, HASH_HEX) == 0;
}

struct entry {
	char *name;
	uint64_t bytes;
	struct timespec used;
};
DEFINE_VECTOR(entry_vector, struct entry)

static int older_first(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	if (x->used.tv_sec != y->used.tv_sec)
		return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
	if (x->used.tv_nsec != y->used.tv_nsec)
		return x->used.tv_nsec < y->used.tv_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Removes the other entries of this core's slot (it changed, or its
 * entry's kind did) and then the least recently used entries while the
 * directory holds more than its bound. */
static void tidy(const struct pyhs_cache *c, const char *kept)
{
	DIR *d = opendir(c->dir);
	if (!d)
		return;
	int dfd = dirfd(d);
	struct entry_vector v;
	entry_vector_init(&v);
	uint64_t total = 0;
	struct dirent *de;
	const char *kept_base = strrchr(kept, '/') + 1;
	while ((de = readdir(d))) {
		struct stat st;
		if (!entry_name(de->d_name, NULL) ||
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (strcmp(de->d_name, kept_base) != 0 && entry_name(de->d_name, c->slot)) {
			unlinkat(dfd, de->d_name, 0);
			continue;
		}
		struct entry e = { .name = strdup(de->d_name), .used = st.st_mtim };
		e.bytes = (uint64_t)st.st_blocks * 512;
		if ((uint64_t)st.st_size > e.bytes)
			e.bytes = (uint64_t)st.st_size;
		if (!e.name || !entry_vector_append(&v, e)) {
			free(e.name);
			break;
		}
		total += e.bytes;
	}
	if (total > c->max_bytes) {
		qsort(v.data, v.size, sizeof(*v.data), older_first);
		for (size_t i = 0; i < v.size && total > c->max_bytes; i++)
			if (unlinkat(dfd, v.data[i].name, 0) == 0 || errno == ENOENT)
				total -= v.data[i].bytes;
	}
	for (size_t i = 0; i < v.size; i++)
		free(v.data[i].name);
	entry_vector_deinit(&v);
	closedir(d);
}

struct pyhs_error *pyhs_cache_put(struct pyhs_cache *c, const struct pyhs_heap *h,
				  bool traced, const volatile sig_atomic_t *cancel)
{
	return pyhs_cache_put_analysed(c, h, NULL, traced, cancel);
}

/* The zstd level of entries: read often, written once, and written while
 * the verb that read the core waits or works beside; the snapshot
 * format's own level is for files kept. */
#define ENTRY_LEVEL 3

struct pyhs_error *pyhs_cache_put_begin(struct pyhs_cache *c, bool traced,
					const volatile sig_atomic_t *cancel,
					struct pyhs_output **ret)
{
	int e = make_dirs(c->dir);
	if (e)
		return pyhs_error_os(e, "cannot make cache directory '%s'", c->dir);
	/* A core that changed while it was read: its heap is of no state
	 * the key can name. */
	struct stat st;
	if (stat(c->core, &st) != 0 || st.st_size != c->core_st.st_size ||
	    st.st_ino != c->core_st.st_ino ||
	    st.st_mtim.tv_sec != c->core_st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != c->core_st.st_mtim.tv_nsec)
		return pyhs_error_create(PYHS_ERROR_INPUT,
					 "core '%s' changed while it was read: not cached",
					 c->core);
	const char *path = traced ? c->traced_path : c->path;
	struct pyhs_output *out;
	struct pyhs_error *err = pyhs_output_create(path, PYHS_OUTPUT_SNAPSHOT, cancel, &out);
	if (err)
		return pyhs_error_wrap(err, "cannot write to cache directory '%s'", c->dir);
	pyhs_output_set_level(out, ENTRY_LEVEL);
	pyhs_output_set_zstd_workers(out, false);
	*ret = out;
	return NULL;
}

struct pyhs_error *pyhs_cache_put_end(struct pyhs_cache *c, const struct pyhs_heap *h,
				      const struct pyhs_analysis *a, bool traced,
				      struct pyhs_output *out)
{
	struct pyhs_error *err = pyhs_snapshot_write_analysed(h, a, out);
	pyhs_output_destroy(out);
	if (err)
		return pyhs_error_wrap(err, "cannot write to cache directory '%s'", c->dir);
	tidy(c, traced ? c->traced_path : c->path);
	return NULL;
}

struct pyhs_error *pyhs_cache_put_analysed(struct pyhs_cache *c, const struct pyhs_heap *h,
					   const struct pyhs_analysis *a, bool traced,
					   const volatile sig_atomic_t *cancel)
{
	struct pyhs_output *out;
	struct pyhs_error *err = pyhs_cache_put_begin(c, traced, cancel, &out);
	return err ? err : pyhs_cache_put_end(c, h, a, traced, out);
}
