/*
 * SIGTERM, SIGINT, SIGHUP and SIGPIPE while pyheapsnap reads a live
 * process or writes a file.
 *
 * The libraries touch no signal state: they look at a cancel flag (struct
 * pyhs_open_options.cancel, pyhs_output_create's cancel) and undo what
 * they began once it is raised. Here the handlers raise it. While a
 * library call that honours the flag runs (signals_defer), the handler
 * only records the signal: the call resumes every thread it stopped,
 * removes its temporary file and returns PYHS_ERROR_CANCELLED, and the
 * verb exits 128 + the signal after one line. At any other moment nothing
 * is stopped, so the handler removes the output's temporary file itself,
 * says the same line and exits at once. SIGTSTP, SIGTTIN and SIGTTOU wait
 * (blocked) while a call is deferred: this process must not be stopped
 * while it holds another one stopped.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "pyheapsnap.h"

static const int handled[] = { SIGTERM, SIGINT, SIGHUP, SIGPIPE };

volatile sig_atomic_t signals_cancel;      /* the signal that came, or 0 */
static volatile sig_atomic_t deferred;
static volatile sig_atomic_t writes;       /* the verb writes a file */
static const char *volatile temporary;     /* the output's temporary file */
static const char *volatile cache_temporary; /* the cache entry's */
static bool installed;
static sigset_t old_mask;

static struct sigaction xfsz_old;
static bool xfsz_ignored;

void signals_ignore_xfsz(void)
{
	struct sigaction ign = { .sa_handler = SIG_IGN };
	sigemptyset(&ign.sa_mask);
	xfsz_ignored = sigaction(SIGXFSZ, &ign, &xfsz_old) == 0;
}

void signals_child_defaults(void)
{
	if (xfsz_ignored)
		sigaction(SIGXFSZ, &xfsz_old, NULL);
}

static void say(const char *s)
{
	ssize_t r = write(STDERR_FILENO, s, strlen(s));
	(void)r;
}

/* What is said of signal sig: nothing of a broken pipe (the reader of
 * the answer went away, as in `| head`) unless a file was being written. */
static const char *line(int sig)
{
	if (writes)
		return "pyheapsnap: interrupted: nothing written\n";
	return sig == SIGPIPE ? "" : "pyheapsnap: interrupted\n";
}

static void on_signal(int sig)
{
	if (!signals_cancel)
		signals_cancel = sig;
	if (deferred)
		return;
	int saved = errno;
	const char *tmp = temporary;
	if (tmp)
		unlink(tmp);
	if ((tmp = cache_temporary))
		unlink(tmp);
	say(line(sig));
	errno = saved;
	_exit(128 + sig);
}

void signals_install(bool writes_file)
{
	if (writes_file)
		writes = 1;
	if (installed)
		return;
	installed = true;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
		sigaddset(&sa.sa_mask, handled[i]);
	for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++) {
		struct sigaction old;
		/* A signal the caller ignores (nohup, SIGPIPE ignored) stays
		 * ignored. */
		if (sigaction(handled[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue;
		sigaction(handled[i], &sa, NULL);
	}
}

void signals_cache_temporary(const char *path)
{
	cache_temporary = path;
}

void signals_written(void)
{
	writes = 0;
}

void signals_temporary(const char *path)
{
	temporary = path;
}

void signals_defer(bool on)
{
	if (on) {
		sigset_t stops;
		sigemptyset(&stops);
		sigaddset(&stops, SIGTSTP);
		sigaddset(&stops, SIGTTIN);
		sigaddset(&stops, SIGTTOU);
		sigprocmask(SIG_BLOCK, &stops, &old_mask);
		deferred = 1;
	} else {
		deferred = 0;
		sigprocmask(SIG_SETMASK, &old_mask, NULL);
	}
}

int signals_exit_status(void)
{
	int sig = signals_cancel;
	if (!sig)
		return 0;
	const char *tmp = temporary;
	if (tmp)
		unlink(tmp);
	if ((tmp = cache_temporary))
		unlink(tmp);
	say(line(sig));
	return 128 + sig;
}
