/* pyheapsnap demo: run the bundled example program, take a core, summarise. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo_app.h"
#include "pyheapsnap.h"

static void help(void)
{
	printf("usage: pyheapsnap demo [OPTIONS]\n"
	       "\n"
	       "Runs a bundled Python program (a service whose cache leaks), takes two\n"
	       "live snapshots of it a moment apart while it serves more requests, and\n"
	       "shows the summary, the largest retainers and what grew. Where the\n"
	       "process cannot be attached to, it takes a core of it instead.\n"
	       "\n"
	       "Options:\n"
	       "      --python PATH      the interpreter to run (default: python3 in PATH)\n"
	       "      --keep DIR         leave the program and the snapshots (or core) in DIR\n"
	       "      --json             print the summary as JSON\n"
	       "      --no-debuginfod    never ask the debuginfod servers of\n"
	       "                         $DEBUGINFOD_URLS for a debug file not on disk\n"
	       "  -h, --help             show this help\n");
}

static int write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		off += (size_t)n;
	}
	return close(fd) < 0 ? -errno : 0;
}

/* The core the kernel wrote in dir: "core" or "core.PID". */
static char *find_core(const char *dir, pid_t pid)
{
	char *path;
	if (asprintf(&path, "%s/core.%d", dir, (int)pid) < 0)
		return NULL;
	if (access(path, R_OK) == 0)
		return path;
	free(path);
	if (asprintf(&path, "%s/core", dir) < 0)
		return NULL;
	if (access(path, R_OK) == 0)
		return path;
	free(path);
	return NULL;
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *p;
		if (asprintf(&p, "%s/%s", dir, e->d_name) >= 0) {
			unlink(p);
			free(p);
		}
	}
	closedir(d);
	rmdir(dir);
}

/* A line from the program's output, within a time limit; false at its end. */
static bool read_line(int fd, char *buf, size_t n, int timeout_ms)
{
	size_t o = 0;
	while (o + 1 < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, timeout_ms);
		if (r <= 0)
			return false;
		char c;
		ssize_t got = read(fd, &c, 1);
		if (got <= 0)
			return false;
		if (c == '\n')
			break;
		buf[o++] = c;
	}
	buf[o] = '\0';
	return true;
}

/* Reads the live program's heap and saves it as a snapshot. */
static struct pyhs_error *live_snapshot(pid_t pid, const char *path,
					const struct pyhs_open_options *opts)
{
	struct pyhs_target *t;
	struct pyhs_error *err = pyhs_target_open_pid((int)pid, opts, &t);
	if (err)
		return err;
	struct pyhs_heap *h;
	char name[32];
	snprintf(name, sizeof(name), "pid %d", (int)pid);
	err = pyhs_heap_build(t, name, NULL, &h);
	pyhs_target_destroy(t);
	if (err)
		return err;
	err = pyhs_snapshot_write(h, path);
	pyhs_heap_destroy(h);
	return err;
}

static int run_verb(int (*verb)(int, char **), char **argv)
{
	int argc = 0;
	while (argv[argc])
		argc++;
	fflush(stdout);
	int r = verb(argc, argv);
	fflush(stdout);
	return r;
}

int verb_demo(int argc, char **argv)
{
	enum { OPT_PYTHON = OPT_VERB_FIRST, OPT_KEEP };
	struct pyhs_open_options opts = { 0 };
	static const struct option longopts[] = {
		{ "python", required_argument, NULL, OPT_PYTHON },
		{ "keep", required_argument, NULL, OPT_KEEP },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "no-debuginfod", no_argument, NULL, OPT_NO_DEBUGINFOD },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *python = "python3", *keep = NULL;
	bool json = false;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			help();
			return EXIT_OK;
		case OPT_PYTHON:
			python = optarg;
			break;
		case OPT_KEEP:
			keep = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_NO_DEBUGINFOD:
			opts.no_debuginfod = true;
			break;
		case ':':
			return usage_error("demo", "option '%s' needs an argument", argv[optind - 1]);
		default:
			return usage_error("demo", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("demo", "unexpected argument '%s'", argv[optind]);

	char tmpl[] = "/tmp/pyheapsnap-demo.XXXXXX";
	char *dir = tmpl;
	if (keep) {
		if (mkdir(keep, 0755) < 0 && errno != EEXIST) {
			log_error("cannot create '%s': %s", keep, strerror(errno));
			return EXIT_INPUT;
		}
		dir = (char *)keep;
	} else if (!mkdtemp(tmpl)) {
		log_error("cannot create a temporary directory: %s", strerror(errno));
		return EXIT_INPUT;
	}
	char script[4200], before[4200], after[4200];
	snprintf(script, sizeof(script), "%s/app.py", dir);
	snprintf(before, sizeof(before), "%s/before.phs", dir);
	snprintf(after, sizeof(after), "%s/after.phs", dir);
	int r = write_file(script, demo_app, sizeof(demo_app) - 1);
	if (r < 0) {
		log_error("cannot write '%s': %s", script, strerror(-r));
		return EXIT_INPUT;
	}
	int to_child[2], from_child[2];
	if (pipe2(to_child, O_CLOEXEC) < 0 || pipe2(from_child, O_CLOEXEC) < 0) {
		log_error("cannot make pipes: %s", strerror(errno));
		return EXIT_INPUT;
	}
	if (!json)
		printf("running %s %s, a small service whose cache leaks ...\n", python, script);
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		log_error("cannot start '%s': %s", python, strerror(errno));
		return EXIT_INPUT;
	}
	if (pid == 0) {
		struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
		if (setrlimit(RLIMIT_CORE, &rl) < 0) {
			struct rlimit cur;
			getrlimit(RLIMIT_CORE, &cur);
			rl.rlim_cur = cur.rlim_max;
			setrlimit(RLIMIT_CORE, &rl);
		}
		if (chdir(dir) < 0)
			_exit(126);
		signals_child_defaults();
		unsetenv("PYTHONMALLOC");
		unsetenv("PYTHONDEVMODE");
		dup2(to_child[0], 0);
		dup2(from_child[1], 1);
		execlp(python, python, "app.py", (char *)NULL);
		_exit(127);
	}
	close(to_child[0]);
	close(from_child[1]);
	FILE *cmd = fdopen(to_child[1], "w");
	char line[64];
	int status;
	if (!cmd || !read_line(from_child[0], line, sizeof(line), 120000) ||
	    strcmp(line, "ready") != 0) {
		if (cmd)
			fclose(cmd);
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
			log_error("cannot run '%s': not found (use --python PATH)", python);
		else
			log_error("the demo program did not start (status %d)", status);
		close(from_child[0]);
		if (!keep)
			remove_dir(dir);
		return EXIT_INPUT;
	}
	/* Two live snapshots a moment apart, the cache growing between. */
	if (!json)
		printf("snapshot of pid %d ...\n", (int)pid);
	fflush(stdout);
	struct pyhs_error *err = live_snapshot(pid, before, &opts);
	bool live = !err;
	if (live) {
		fputs("grow 3000\n", cmd);
		fflush(cmd);
		if (!read_line(from_child[0], line, sizeof(line), 120000) || strcmp(line, "ok")) {
			log_error("the demo program stopped answering");
			kill(pid, SIGKILL);
		}
		if (!json)
			printf("it served 3,000 more requests; snapshot again ...\n\n");
		fflush(stdout);
		err = live_snapshot(pid, after, &opts);
		fclose(cmd);
	} else {
		/* No ptrace here: fall back to a core of the program. */
		if (!json)
			printf("cannot attach (%s); taking a core instead\n", err->message);
		pyhs_error_destroy(err);
		err = NULL;
		fputs("abort\n", cmd);
		fclose(cmd);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	close(from_child[0]);
	if (err) {
		r = report_error(err);
		if (!keep)
			remove_dir(dir);
		return r;
	}
	if (!live) {
		char *core = find_core(dir, pid);
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT || !core) {
			log_error("the demo program aborted but no core was written in '%s' "
				  "(is kernel.core_pattern a pipe? is the core size limit 0?)", dir);
			free(core);
			if (!keep)
				remove_dir(dir);
			return EXIT_INPUT;
		}
		snprintf(after, sizeof(after), "%s", core);
		free(core);
	}
	/* The verbs read a core (no live snapshot) as told. */
	char *flags[2] = { NULL, NULL };
	int nflags = 0;
	if (json)
		flags[nflags++] = "--json";
	if (opts.no_debuginfod)
		flags[nflags++] = "--no-debuginfod";
	char *summary_argv[] = { "summary", after, flags[0], flags[1], NULL };
	char *top_argv[] = { "top", after, "-n", "5", flags[0], flags[1], NULL };
	char *diff_argv[] = { "diff", before, after, "--by", "path", "-n", "8",
			      flags[0], flags[1], NULL };
	if (json)
		fputs("{\"summary\": ", stdout);
	r = run_verb(verb_summary, summary_argv);
	if (!r) {
		fputs(json ? ", \"top\": " : "\nthe largest retainers:\n", stdout);
		r = run_verb(verb_top, top_argv);
	}
	if (!r && live) {
		fputs(json ? ", \"diff\": " : "\nwhat grew between the two snapshots, and who holds it:\n", stdout);
		r = run_verb(verb_diff, diff_argv);
	}
	if (json)
		fputs("}\n", stdout);
	if (keep && !json)
		printf("\nkept in %s: app.py%s\n", dir,
		       live ? ", before.phs and after.phs" : " and its core");
	if (!keep)
		remove_dir(dir);
	return r;
}
