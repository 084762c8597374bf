/* pyheapsnap tasks: asyncio tasks, what each waits on and who awaits it. */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pyheapsnap.h"

static void help(void)
{
	printf("usage: pyheapsnap tasks [OPTIONS] INPUT\n"
	       "\n"
	       "Lists the asyncio tasks in INPUT by event loop, as a tree of who awaits\n"
	       "whom: each task's name, state (pending, done, cancelled) and retained\n"
	       "size, the coroutines it is suspended in (outermost first, with function,\n"
	       "file and line) and what it waits on (a task, a gather, a timer, a future\n"
	       "of an Event, Lock or Queue, ...).\n"
	       "\n"
	       "Options:\n"
	       INPUT_OPTIONS_HELP
	       "  -h, --help             show this help\n");
}

static const char *state_name(enum pyhs_task_state s)
{
	switch (s) {
	case PYHS_TASK_PENDING: return "pending";
	case PYHS_TASK_DONE: return "done";
	case PYHS_TASK_CANCELLED: return "cancelled";
	default: return "unknown";
	}
}

static const struct {
	unsigned bit;
	const char *name;
} places[] = {
	{ PYHS_TASK_IN_ALL_TASKS, "all_tasks" },
	{ PYHS_TASK_IN_SCHEDULED_TASKS, "scheduled_tasks" },
	{ PYHS_TASK_IN_EAGER_TASKS, "eager_tasks" },
	{ PYHS_TASK_IN_READY, "ready" },
	{ PYHS_TASK_IN_SCHEDULED, "scheduled" },
	{ PYHS_TASK_IN_THREAD_LIST, "thread_list" },
};

static void print_node(const struct pyhs_heap *h, const struct pyhs_analysis *a,
		       const struct pyhs_tasks *ts, bool *printed, uint32_t i,
		       char *prefix, size_t plen, bool last)
{
	const struct pyhs_task *t = &ts->tasks[i];
	char b[32];
	printf("%s%s(T) %s  %s  retained %s\n", prefix, last ? "└── " : "├── ",
	       t->name ? t->name : "?", state_name(t->state),
	       pyhs_format_bytes(pyhs_analysis_retained(a, t->obj), b, sizeof(b)));
	printed[i] = true;
	size_t add = strlen(last ? "    " : "│   ");
	if (plen + add + 1 > 4096)
		return;
	memcpy(prefix + plen, last ? "    " : "│   ", add + 1);
	bool kids = ts->child_start[i + 1] > ts->child_start[i];
	for (size_t f = 0; f < t->nframes; f++) {
		const struct pyhs_task_frame *fr = &t->frames[f];
		if (fr->line > 0)
			printf("%s%s  %s %s:%d\n", prefix, kids ? "│" : " ", fr->function, fr->file, fr->line);
		else
			printf("%s%s  %s %s\n", prefix, kids ? "│" : " ", fr->function, fr->file);
	}
	if (t->awaits)
		printf("%s%s  awaits %s\n", prefix, kids ? "│" : " ", t->awaits);
	if (t->corrupt)
		printf("%s%s  (coroutine chain cut: it loops or is unreadable)\n", prefix,
		       kids ? "│" : " ");
	for (uint64_t k = ts->child_start[i]; k < ts->child_start[i + 1]; k++) {
		uint32_t c = ts->child[k];
		if (printed[c])
			continue;
		print_node(h, a, ts, printed, c, prefix, plen + add,
			   k + 1 == ts->child_start[i + 1]);
	}
	prefix[plen] = '\0';
}

static void print_text(const struct pyhs_heap *h, const struct pyhs_analysis *a,
		       const struct pyhs_tasks *ts, bool *printed)
{
	static char prefix[4200];
	char c1[32];
	for (size_t l = 0; l <= ts->nloops; l++) {
		uint32_t loop = l < ts->nloops ? ts->loops[l].obj : UINT32_MAX;
		size_t count = 0;
		for (size_t i = 0; i < ts->n; i++)
			count += ts->tasks[i].loop == loop;
		if (l == ts->nloops && !count)
			break;
		if (loop != UINT32_MAX)
			printf("%sevent loop %s at 0x%" PRIx64 "%s: %s task%s\n", l ? "\n" : "",
			       pyhs_heap_type_name(h, pyhs_heap_type_of(h, loop)),
			       pyhs_heap_addr(h, loop), ts->loops[l].closed ? " (closed)" : "",
			       fmt_count(count, c1, sizeof(c1)), count == 1 ? "" : "s");
		else
			printf("%stasks without an event loop: %s\n", l ? "\n" : "",
			       fmt_count(count, c1, sizeof(c1)));
		/* Roots: tasks of this loop no task of it awaits. */
		for (int pass = 0; pass < 2; pass++) {
			size_t last = SIZE_MAX;
			for (size_t i = 0; i < ts->n; i++) {
				const struct pyhs_task *t = &ts->tasks[i];
				if (t->loop != loop || printed[i])
					continue;
				if (pass == 0 && t->nawaited_by)
					continue;
				last = i;
			}
			for (size_t i = 0; i < ts->n && last != SIZE_MAX; i++) {
				const struct pyhs_task *t = &ts->tasks[i];
				if (t->loop != loop || printed[i] || (pass == 0 && t->nawaited_by))
					continue;
				prefix[0] = '\0';
				print_node(h, a, ts, printed, (uint32_t)i, prefix, 0, i == last);
			}
		}
	}
	if (ts->nwarnings) {
		printf("\nwarnings: %" PRIu64 " task%s whose coroutine chain could not be read whole\n",
		       ts->nwarnings, ts->nwarnings == 1 ? "" : "s");
		for (size_t i = 0; i < ts->nexamples; i++)
			printf("  %s\n", ts->examples[i]);
	}
}

/* A string, or null. */
static void json_string_or_null(const char *s)
{
	if (s)
		pyhs_json_string(stdout, s);
	else
		fputs("null", stdout);
}

/* An object's address, or null. */
static void json_addr_or_null(const struct pyhs_heap *h, uint32_t obj)
{
	if (obj != UINT32_MAX)
		printf("%" PRIu64, pyhs_heap_addr(h, obj));
	else
		fputs("null", stdout);
}

static void print_json(const struct pyhs_heap *h, const struct pyhs_analysis *a,
		       const struct pyhs_tasks *ts)
{
	printf("{\"asyncio\": %s, \"loops\": [", ts->asyncio_imported ? "true" : "false");
	for (size_t l = 0; l < ts->nloops; l++) {
		printf("%s{\"addr\": %" PRIu64 ", \"type\": ", l ? ", " : "",
		       pyhs_heap_addr(h, ts->loops[l].obj));
		pyhs_json_string(stdout, pyhs_heap_type_name(h, pyhs_heap_type_of(h, ts->loops[l].obj)));
		printf(", \"closed\": %s}", ts->loops[l].closed ? "true" : "false");
	}
	fputs("], \"tasks\": [", stdout);
	for (size_t i = 0; i < ts->n; i++) {
		const struct pyhs_task *t = &ts->tasks[i];
		printf("%s{\"addr\": %" PRIu64 ", \"name\": ", i ? ", " : "", pyhs_heap_addr(h, t->obj));
		json_string_or_null(t->name);
		printf(", \"type\": ");
		pyhs_json_string(stdout, pyhs_heap_type_name(h, pyhs_heap_type_of(h, t->obj)));
		printf(", \"state\": \"%s\", \"loop\": ", state_name(t->state));
		json_addr_or_null(h, t->loop);
		fputs(", \"coroutine_stack\": [", stdout);
		for (size_t f = 0; f < t->nframes; f++) {
			fputs(f ? ", {\"function\": " : "{\"function\": ", stdout);
			pyhs_json_string(stdout, t->frames[f].function);
			fputs(", \"file\": ", stdout);
			pyhs_json_string(stdout, t->frames[f].file);
			if (t->frames[f].line > 0)
				printf(", \"line\": %d}", t->frames[f].line);
			else
				fputs(", \"line\": null}", stdout);
		}
		fputs("], \"awaits\": ", stdout);
		json_string_or_null(t->awaits);
		fputs(", \"awaits_addr\": ", stdout);
		json_addr_or_null(h, t->awaits_obj);
		fputs(", \"awaited_by\": [", stdout);
		for (size_t k = 0; k < t->nawaited_by; k++) {
			const struct pyhs_task *p = &ts->tasks[t->awaited_by[k].task];
			printf("%s{\"addr\": %" PRIu64 ", \"name\": ", k ? ", " : "",
			       pyhs_heap_addr(h, p->obj));
			json_string_or_null(p->name);
			printf(", \"via\": \"%s\"}", t->awaited_by[k].via);
		}
		fputs("], \"found_in\": [", stdout);
		bool first = true;
		for (size_t k = 0; k < sizeof(places) / sizeof(places[0]); k++)
			if (t->found_in & places[k].bit) {
				printf("%s\"%s\"", first ? "" : ", ", places[k].name);
				first = false;
			}
		printf("], \"retained\": %" PRIu64 ", \"corrupt\": %s}",
		       pyhs_analysis_retained(a, t->obj), t->corrupt ? "true" : "false");
	}
	printf("], \"warnings\": {\"count\": %" PRIu64 ", \"examples\": [", ts->nwarnings);
	for (size_t i = 0; i < ts->nexamples; i++) {
		if (i)
			fputs(", ", stdout);
		pyhs_json_string(stdout, ts->examples[i]);
	}
	fputs("]}}\n", stdout);
}

int verb_tasks(int argc, char **argv)
{
	struct verb_spec spec = { "tasks", "", NULL, help, NULL, NULL, 1, 1 };
	struct input_options o = { 0 };
	char **args;
	int nargs;
	int r = parse_verb_args(&spec, argc, argv, &o, &args, &nargs);
	if (r >= 0)
		return r;
	struct pyhs_heap *h;
	if ((r = input_open(args[0], &o, &h)))
		return r;
	struct pyhs_tasks *ts = NULL;
	struct pyhs_analysis *a = NULL;
	struct pyhs_error *err = pyhs_tasks_find(h, &ts);
	if (!err)
		err = pyhs_analysis_create(h, &a);
	if (err) {
		r = report_error(err);
		pyhs_tasks_destroy(ts);
		pyhs_heap_destroy(h);
		return r;
	}
	if (o.json) {
		print_json(h, a, ts);
	} else if (!ts->asyncio_imported && !ts->n) {
		printf("no asyncio in this process: the asyncio module is not imported\n");
	} else {
		bool all_closed = ts->nloops > 0;
		for (size_t l = 0; l < ts->nloops; l++)
			all_closed &= ts->loops[l].closed;
		if (all_closed)
			printf("the event loop%s closed\n", ts->nloops == 1 ? " is" : "s are");
		else if (!ts->nloops && !ts->n)
			printf("asyncio is imported, but there is no event loop and no task\n");
		bool *printed = calloc(ts->n ? ts->n : 1, sizeof(*printed));
		if (!printed) {
			r = report_error(&pyhs_enomem);
		} else if (ts->n || ts->nloops) {
			if (all_closed)
				putchar('\n');
			print_text(h, a, ts, printed);
		}
		free(printed);
	}
	pyhs_analysis_destroy(a);
	pyhs_tasks_destroy(ts);
	pyhs_heap_destroy(h);
	return r > 0 ? r : EXIT_OK;
}
