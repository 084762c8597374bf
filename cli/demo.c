/* pyheapsnap demo: run the bundled example program, take a core, summarise. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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
	       "Runs a bundled Python program (a service whose cache leaks), lets it\n"
	       "abort so the kernel writes a core of it, and summarises that core.\n"
	       "\n"
	       "Options:\n"
	       "      --python PATH      the interpreter to run (default: python3 in PATH)\n"
	       "      --keep DIR         leave the program and its core in DIR\n"
	       "      --json             print the summary as JSON\n"
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

int verb_demo(int argc, char **argv)
{
	enum { OPT_PYTHON = OPT_VERB_FIRST, OPT_KEEP };
	static const struct option longopts[] = {
		{ "python", required_argument, NULL, OPT_PYTHON },
		{ "keep", required_argument, NULL, OPT_KEEP },
		{ "json", no_argument, NULL, OPT_JSON },
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
		case ':':
			return usage_error("demo", "option '%s' needs an argument", argv[optind - 1]);
		default:
			return usage_error("demo", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("demo", "unexpected argument '%s'", argv[optind]);

	char pattern[256] = "";
	FILE *cp = fopen("/proc/sys/kernel/core_pattern", "r");
	if (cp) {
		if (!fgets(pattern, sizeof(pattern), cp))
			pattern[0] = '\0';
		fclose(cp);
	}
	if (pattern[0] == '|') {
		pattern[strcspn(pattern, "\n")] = '\0';
		log_error("cannot take a core: kernel.core_pattern sends cores to '%s'; "
			  "run 'sysctl kernel.core_pattern=core' as root, or summarise a core you have with 'pyheapsnap summary CORE'",
			  pattern + 1);
		return EXIT_INPUT;
	}

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
	char *script;
	if (asprintf(&script, "%s/app.py", dir) < 0)
		return report_error(&pyhs_enomem);
	int r = write_file(script, demo_app, sizeof(demo_app) - 1);
	if (r < 0) {
		log_error("cannot write '%s': %s", script, strerror(-r));
		free(script);
		return EXIT_INPUT;
	}
	if (!json)
		printf("running %s %s (it aborts to leave a core) ...\n", python, script);
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		log_error("cannot start '%s': %s", python, strerror(errno));
		free(script);
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
		unsetenv("PYTHONMALLOC");
		unsetenv("PYTHONDEVMODE");
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0 && json)
			dup2(devnull, 1);
		execlp(python, python, "app.py", (char *)NULL);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	free(script);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		log_error("cannot run '%s': not found (use --python PATH)", python);
		if (!keep)
			remove_dir(dir);
		return EXIT_INPUT;
	}
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT) {
		log_error("the demo program did not abort as expected (status %d)", status);
		if (!keep)
			remove_dir(dir);
		return EXIT_INPUT;
	}
	char *core = find_core(dir, pid);
	if (!core) {
		log_error("the demo program aborted but no core was written in '%s' "
			  "(kernel.core_pattern is '%.*s'; the core size limit may be 0)",
			  dir, (int)strcspn(pattern, "\n"), pattern);
		if (!keep)
			remove_dir(dir);
		return EXIT_INPUT;
	}
	if (!json)
		printf("core written: %s\n\n", core);
	struct input_options o = { 0 };
	struct pyhs_heap *h;
	r = input_open(core, &o, &h);
	if (!r) {
		r = print_summary(h, json, stdout);
		pyhs_heap_destroy(h);
	}
	free(core);
	if (!keep)
		remove_dir(dir);
	return r;
}
