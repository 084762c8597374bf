/* Export files written atomically through stdio. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "atomic.h"
#include "formats.h"

struct pyhs_output {
	struct pyhs_atomic_file af;
	FILE *file;
};

struct pyhs_error *pyhs_output_create(const char *path, const char *what,
				      struct pyhs_output **ret)
{
	struct pyhs_output *o = calloc(1, sizeof(*o));
	if (!o)
		return &pyhs_enomem;
	struct pyhs_error *err = pyhs_atomic_create(&o->af, path, what, 0666);
	if (err) {
		free(o);
		return err;
	}
	int fd = dup(o->af.fd);
	if (fd < 0 || !(o->file = fdopen(fd, "w"))) {
		err = pyhs_atomic_fail(&o->af, errno);
		if (fd >= 0)
			close(fd);
		pyhs_atomic_abort(&o->af);
		free(o);
		return err;
	}
	*ret = o;
	return NULL;
}

FILE *pyhs_output_file(struct pyhs_output *o)
{
	return o->file;
}

struct pyhs_error *pyhs_output_commit(struct pyhs_output *o)
{
	struct pyhs_error *err = NULL;
	bool bad = ferror(o->file);
	int e = errno;
	if (fclose(o->file) != 0 || bad) {
		err = pyhs_atomic_fail(&o->af, bad ? (e ? e : EIO) : errno);
		pyhs_atomic_abort(&o->af);
	} else {
		err = pyhs_atomic_commit(&o->af);
	}
	free(o);
	return err;
}

void pyhs_output_abort(struct pyhs_output *o)
{
	if (!o)
		return;
	fclose(o->file);
	pyhs_atomic_abort(&o->af);
	free(o);
}
