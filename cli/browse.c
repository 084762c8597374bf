/* pyheapsnap browse: the dominator tree in the terminal, as ncdu shows a
 * disk: one screen per object, its children largest first. */
#include <curses.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pyheapsnap.h"

#define NAME_MAX_LEN 512

static void help(void)
{
	printf("usage: pyheapsnap browse [OPTIONS] INPUT\n"
	       "\n"
	       "Browses the dominator tree of the heap in INPUT (a core file or a\n"
	       "snapshot) in the terminal, like ncdu: each object's children (what it\n"
	       "alone keeps alive) with their retained and own size and object count,\n"
	       "largest first.\n"
	       "\n"
	       "Keys:\n"
	       "  Up, Down, PgUp, PgDn, Home, End   move\n"
	       "  Enter, Right       descend into the object\n"
	       "  Backspace, Left    go up\n"
	       "  s                  sort by retained size, own size, count or name\n"
	       "  /                  find a type or holder name (n: the next match)\n"
	       "  p                  the path from a root to the object\n"
	       "  q                  quit\n"
	       "\n"
	       "Options:\n"
	       INPUT_OPTIONS_HELP
	       "                         (--json prints the first screen's rows, no terminal)\n"
	       "  -h, --help             show this help\n");
}

static int option(void *ctx, int opt, const char *arg)
{
	return usage_error("browse", "unknown option");
}

enum sort_key { SORT_RETAINED, SORT_SHALLOW, SORT_COUNT, SORT_NAME, NSORT };
static const char *const sort_names[] = { "retained", "own size", "count", "name" };

struct view {
	uint64_t node;
	enum sort_key sort; /* the order rows are in */
	uint32_t *rows;     /* the node's children, in sort order */
	uint64_t nrows;
	uint64_t cursor, scroll;
};

struct browser {
	struct pyhs_heap *h;
	struct pyhs_analysis *a;
	struct pyhs_domtree *t;
	enum sort_key sort;
	struct view *stack; /* stack[0] is the top node */
	size_t depth, cap;
	char message[256];
	char query[128];
	uint32_t *bfs;      /* every node breadth-first, for find; built once */
	uint64_t nbfs, found_at;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

/* Sorting a view: the key of each row. */
static const struct browser *sort_b;
static uint64_t key_of(const struct browser *b, uint32_t v)
{
	switch (b->sort) {
	case SORT_SHALLOW:
		return pyhs_heap_size(b->h, v);
	case SORT_COUNT:
		return pyhs_domtree_count(b->t, v);
	default:
		return pyhs_domtree_retained(b->t, v);
	}
}

static int by_key(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, c = *(const uint32_t *)y;
	uint64_t ka = key_of(sort_b, a), kc = key_of(sort_b, c);
	if (ka != kc)
		return ka < kc ? 1 : -1;
	return a < c ? -1 : a > c;
}

struct named_row {
	uint32_t v;
	char *name;
};

static int by_name(const void *x, const void *y)
{
	const struct named_row *a = x, *c = y;
	int r = strcmp(a->name, c->name);
	return r ? r : (a->v < c->v ? -1 : a->v > c->v);
}

static int sort_view(struct browser *b, struct view *w)
{
	w->sort = b->sort;
	if (w->nrows < 2)
		return 0;
	if (b->sort != SORT_NAME) {
		sort_b = b;
		qsort(w->rows, w->nrows, sizeof(*w->rows), by_key);
		return 0;
	}
	struct named_row *nr = calloc(w->nrows, sizeof(*nr));
	if (!nr)
		return -1;
	char name[NAME_MAX_LEN];
	int r = 0;
	for (uint64_t k = 0; k < w->nrows && !r; k++) {
		nr[k].v = w->rows[k];
		pyhs_domtree_name(b->t, w->rows[k], false, name, sizeof(name));
		if (!(nr[k].name = strdup(name)))
			r = -1;
	}
	if (!r) {
		qsort(nr, w->nrows, sizeof(*nr), by_name);
		for (uint64_t k = 0; k < w->nrows; k++)
			w->rows[k] = nr[k].v;
	}
	for (uint64_t k = 0; k < w->nrows; k++)
		free(nr[k].name);
	free(nr);
	return r;
}

/* Pushes the view of node v. */
static int push_view(struct browser *b, uint64_t v)
{
	if (b->depth == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct view *s = realloc(b->stack, cap * sizeof(*s));
		if (!s)
			return -1;
		b->stack = s;
		b->cap = cap;
	}
	const uint32_t *c;
	uint64_t n = pyhs_domtree_children(b->t, v, &c);
	struct view *w = &b->stack[b->depth];
	*w = (struct view){ .node = v, .nrows = n };
	w->rows = malloc((n ? n : 1) * sizeof(*w->rows));
	if (!w->rows)
		return -1;
	memcpy(w->rows, c, n * sizeof(*c));
	if (sort_view(b, w)) {
		free(w->rows);
		return -1;
	}
	b->depth++;
	return 0;
}

static void pop_view(struct browser *b)
{
	free(b->stack[--b->depth].rows);
}

/* Back up one level, the view there put in the current order. */
static int go_up(struct browser *b)
{
	pop_view(b);
	struct view *w = &b->stack[b->depth - 1];
	if (w->sort == b->sort)
		return 0;
	uint32_t at = w->nrows ? w->rows[w->cursor] : 0;
	int r = sort_view(b, w);
	for (uint64_t k = 0; k < w->nrows; k++)
		if (w->rows[k] == at)
			w->cursor = k;
	return r;
}

static void fmt_size(uint64_t v, char *buf)
{
	pyhs_format_bytes(v, buf, 32);
}

static void draw(struct browser *b)
{
	erase();
	int rows = LINES - 3;
	struct view *w = &b->stack[b->depth - 1];
	char name[NAME_MAX_LEN], s1[32], s2[32], s3[32];
	/* Line 0: where we are. */
	pyhs_domtree_name(b->t, w->node, false, name, sizeof(name));
	fmt_size(pyhs_domtree_retained(b->t, w->node), s1);
	attron(A_REVERSE);
	mvhline(0, 0, ' ', COLS);
	mvprintw(0, 0, " pyheapsnap browse  %s  --  %s retained, %" PRIu64 " objects", name, s1,
		 pyhs_domtree_count(b->t, w->node));
	attroff(A_REVERSE);
	mvprintw(1, 0, "%10s %10s %10s  %s (sorted by %s)", "retained", "own", "objects",
		 "holder", sort_names[b->sort]);
	if (rows < 1)
		rows = 1;
	if (w->cursor < w->scroll)
		w->scroll = w->cursor;
	if (w->cursor >= w->scroll + (uint64_t)rows)
		w->scroll = w->cursor - (uint64_t)rows + 1;
	for (int r = 0; r < rows && w->scroll + (uint64_t)r < w->nrows; r++) {
		uint64_t k = w->scroll + (uint64_t)r;
		uint32_t v = w->rows[k];
		pyhs_domtree_name(b->t, v, false, name, sizeof(name));
		fmt_size(pyhs_domtree_retained(b->t, v), s1);
		fmt_size(pyhs_heap_size(b->h, v), s2);
		fmt_count(pyhs_domtree_count(b->t, v), s3, sizeof(s3));
		if (k == w->cursor)
			attron(A_REVERSE);
		mvhline(2 + r, 0, ' ', COLS);
		mvprintw(2 + r, 0, "%10s %10s %10s %c%s", s1, s2, s3,
			 pyhs_domtree_children(b->t, v, &(const uint32_t *){ 0 }) ? '/' : ' ', name);
		if (k == w->cursor)
			attroff(A_REVERSE);
	}
	if (!w->nrows)
		mvprintw(2, 0, "  (it dominates nothing: nothing else would be freed with it)");
	attron(A_REVERSE);
	mvhline(LINES - 1, 0, ' ', COLS);
	if (b->message[0])
		mvprintw(LINES - 1, 0, " %s", b->message);
	else
		mvprintw(LINES - 1, 0, " Enter: in  Backspace: up  s: sort  /: find  p: path  q: quit"
			 "   %" PRIu64 "/%" PRIu64, w->nrows ? w->cursor + 1 : 0, w->nrows);
	attroff(A_REVERSE);
	refresh();
}

/* A line typed at the bottom; false if cancelled (Esc, interrupt). */
static bool prompt(const char *what, char *buf, size_t n)
{
	size_t len = 0;
	buf[0] = '\0';
	for (;;) {
		attron(A_REVERSE);
		mvhline(LINES - 1, 0, ' ', COLS);
		mvprintw(LINES - 1, 0, " %s%s", what, buf);
		attroff(A_REVERSE);
		refresh();
		int c = getch();
		if (interrupted || c == ERR || c == 27)
			return false;
		if (c == '\n' || c == '\r' || c == KEY_ENTER)
			return len > 0;
		if ((c == KEY_BACKSPACE || c == 127 || c == 8) && len)
			buf[--len] = '\0';
		else if (c >= 0x20 && c < 0x7f && len + 1 < n) {
			buf[len++] = (char)c;
			buf[len] = '\0';
		}
	}
}

/* Opens the views from the top down to v's parent, the cursor on v. */
static int go_to(struct browser *b, uint32_t v)
{
	uint64_t top = pyhs_domtree_top(b->t), chain[256];
	size_t nchain = 0;
	for (uint64_t u = pyhs_domtree_parent(b->t, v); u != UINT64_MAX && nchain < 256;
	     u = u == top ? UINT64_MAX : pyhs_domtree_parent(b->t, u))
		chain[nchain++] = u;
	if (nchain == 256 || !nchain || chain[nchain - 1] != top)
		return -1;
	while (b->depth > 1)
		pop_view(b);
	for (size_t k = nchain - 1; k-- > 0;) {
		struct view *w = &b->stack[b->depth - 1];
		for (uint64_t i = 0; i < w->nrows; i++)
			if (w->rows[i] == chain[k])
				w->cursor = i;
		if (push_view(b, chain[k]))
			return -1;
	}
	struct view *w = &b->stack[b->depth - 1];
	for (uint64_t i = 0; i < w->nrows; i++)
		if (w->rows[i] == v)
			w->cursor = i;
	return 0;
}

static void find(struct browser *b, bool again)
{
	if (!again && !prompt("find: ", b->query, sizeof(b->query)))
		return;
	if (!b->query[0])
		return;
	uint64_t n = pyhs_heap_nobjects(b->h), top = pyhs_domtree_top(b->t);
	/* Names are made as the search goes: on a big heap it takes a while. */
	attron(A_REVERSE);
	mvhline(LINES - 1, 0, ' ', COLS);
	mvprintw(LINES - 1, 0, " searching for '%s'...", b->query);
	attroff(A_REVERSE);
	refresh();
	if (!b->bfs) {
		if (!(b->bfs = malloc((n ? n : 1) * sizeof(*b->bfs)))) {
			snprintf(b->message, sizeof(b->message), "out of memory");
			return;
		}
		const uint32_t *c;
		uint64_t nc = pyhs_domtree_children(b->t, top, &c), head = 0;
		for (uint64_t k = 0; k < nc; k++)
			b->bfs[b->nbfs++] = c[k];
		while (head < b->nbfs) {
			nc = pyhs_domtree_children(b->t, b->bfs[head++], &c);
			for (uint64_t k = 0; k < nc; k++)
				b->bfs[b->nbfs++] = c[k];
		}
	}
	if (!again)
		b->found_at = UINT64_MAX;
	char name[NAME_MAX_LEN];
	for (uint64_t q = 0; q < b->nbfs; q++) {
		uint64_t k = (b->found_at + 1 + q) % b->nbfs;
		pyhs_domtree_name(b->t, b->bfs[k], false, name, sizeof(name));
		if (!strstr(name, b->query))
			continue;
		b->found_at = k;
		if (go_to(b, b->bfs[k]))
			snprintf(b->message, sizeof(b->message), "found '%s' too deep to open", b->query);
		else
			snprintf(b->message, sizeof(b->message), "found '%s' (n: next)", b->query);
		return;
	}
	snprintf(b->message, sizeof(b->message), "no holder or type has '%s'", b->query);
}

static void show_path(struct browser *b)
{
	struct view *w = &b->stack[b->depth - 1];
	if (!w->nrows)
		return;
	uint32_t v = w->rows[w->cursor];
	struct pyhs_path *paths = NULL;
	size_t np = 0;
	char desc[2048];
	struct pyhs_error *err = pyhs_analysis_paths(b->a, v, 1, &paths, &np);
	if (err) {
		snprintf(desc, sizeof(desc), "no root reaches it");
		pyhs_error_destroy(err);
	} else {
		describe_path(b->h, &paths[0], desc, sizeof(desc));
	}
	erase();
	attron(A_REVERSE);
	mvhline(0, 0, ' ', COLS);
	mvprintw(0, 0, " path from a root to 0x%" PRIx64 " %s", pyhs_heap_addr(b->h, v),
		 pyhs_heap_type_name(b->h, pyhs_heap_type_of(b->h, v)));
	attroff(A_REVERSE);
	int y = 2;
	size_t len = strlen(desc), cols = COLS > 4 ? (size_t)COLS - 2 : 1;
	for (size_t o = 0; o < len && y < LINES - 2; o += cols)
		mvprintw(y++, 1, "%.*s", (int)cols, desc + o);
	if (np && y < LINES - 2) {
		y++;
		char l[160];
		uint32_t cur = paths[0].start;
		mvprintw(y++, 1, "%s  %s", paths[0].c_held ? "(held by C code)" :
			 pyhs_heap_root_label(b->h, paths[0].root),
			 pyhs_heap_type_name(b->h, pyhs_heap_type_of(b->h, cur)));
		for (uint64_t k = 0; k < paths[0].nedges && y < LINES - 2; k++) {
			uint64_t e = paths[0].edges[k];
			cur = pyhs_heap_edge_dst(b->h, e);
			if (!pyhs_heap_format_label(b->h, pyhs_heap_edge_label(b->h, e), l, sizeof(l)))
				snprintf(l, sizeof(l), "->");
			mvprintw(y++, 3, "%-30s 0x%" PRIx64 " %s", l, pyhs_heap_addr(b->h, cur),
				 pyhs_heap_type_name(b->h, pyhs_heap_type_of(b->h, cur)));
		}
	}
	pyhs_paths_free(paths, np);
	attron(A_REVERSE);
	mvhline(LINES - 1, 0, ' ', COLS);
	mvprintw(LINES - 1, 0, " any key: back");
	attroff(A_REVERSE);
	refresh();
	getch();
}

/* The first screen's rows as JSON, for scripts. */
static void print_json(struct browser *b)
{
	struct view *w = &b->stack[0];
	char name[NAME_MAX_LEN];
	printf("{\"retained\": %" PRIu64 ", \"objects\": %" PRIu64 ", \"rows\": [",
	       pyhs_domtree_retained(b->t, w->node), pyhs_domtree_count(b->t, w->node));
	for (uint64_t k = 0; k < w->nrows; k++) {
		uint32_t v = w->rows[k];
		pyhs_domtree_name(b->t, v, false, name, sizeof(name));
		printf("%s{\"addr\": %" PRIu64 ", \"holder\": ", k ? ", " : "", pyhs_heap_addr(b->h, v));
		pyhs_json_string(stdout, name);
		printf(", \"retained\": %" PRIu64 ", \"size\": %" PRIu64 ", \"objects\": %" PRIu64 "}",
		       pyhs_domtree_retained(b->t, v), pyhs_heap_size(b->h, v),
		       pyhs_domtree_count(b->t, v));
	}
	fputs("]}\n", stdout);
}

/* The interactive loop; returns the exit code. */
static int run(struct browser *b)
{
	SCREEN *screen = newterm(NULL, stdout, stdin);
	if (!screen) {
		log_error("cannot drive the terminal (TERM is '%s')",
			  getenv("TERM") ? getenv("TERM") : "");
		return EXIT_USAGE;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a signal ends the wait for a key. */
	struct sigaction old_int, old_term, old_hup;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	int code = EXIT_OK;
	int errors = 0;
	for (;;) {
		draw(b);
		int c = getch();
		if (interrupted)
			break;
		if (c == ERR) {
			/* A closed terminal gives errors for ever: stop. */
			if (++errors > 3 || !isatty(STDIN_FILENO))
				break;
			continue;
		}
		errors = 0;
		b->message[0] = '\0';
		struct view *w = &b->stack[b->depth - 1];
		int page = LINES > 4 ? LINES - 3 : 1;
		switch (c) {
		case 'q':
		case 'Q':
			goto out;
		case KEY_UP:
		case 'k':
			if (w->cursor)
				w->cursor--;
			break;
		case KEY_DOWN:
		case 'j':
			if (w->cursor + 1 < w->nrows)
				w->cursor++;
			break;
		case KEY_PPAGE:
			w->cursor = w->cursor > (uint64_t)page ? w->cursor - (uint64_t)page : 0;
			break;
		case KEY_NPAGE:
			w->cursor = w->nrows && w->cursor + (uint64_t)page >= w->nrows ?
					    w->nrows - 1 : w->cursor + (uint64_t)page;
			break;
		case KEY_HOME:
			w->cursor = 0;
			break;
		case KEY_END:
			w->cursor = w->nrows ? w->nrows - 1 : 0;
			break;
		case '\n':
		case '\r':
		case KEY_ENTER:
		case KEY_RIGHT:
		case 'l':
			if (w->nrows && push_view(b, w->rows[w->cursor]))
				snprintf(b->message, sizeof(b->message), "out of memory");
			break;
		case KEY_BACKSPACE:
		case 127:
		case 8:
		case KEY_LEFT:
		case 'h':
			if (b->depth > 1 && go_up(b))
				snprintf(b->message, sizeof(b->message), "out of memory");
			break;
		case 's': {
			b->sort = (enum sort_key)((b->sort + 1) % NSORT);
			uint32_t at = w->nrows ? w->rows[w->cursor] : 0;
			if (sort_view(b, w))
				snprintf(b->message, sizeof(b->message), "out of memory");
			for (uint64_t k = 0; k < w->nrows; k++)
				if (w->rows[k] == at)
					w->cursor = k;
			break;
		}
		case '/':
			find(b, false);
			break;
		case 'n':
			find(b, true);
			break;
		case 'p':
			show_path(b);
			break;
		case KEY_RESIZE:
			break;
		default:
			break;
		}
		if (interrupted)
			break;
	}
out:
	endwin();
	delscreen(screen);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	if (interrupted)
		code = 128 + interrupted;
	return code;
}

int verb_browse(int argc, char **argv)
{
	struct verb_spec spec = { "browse", "", NULL, help, option, NULL, 1, 1 };
	struct input_options o = { 0 };
	char **args;
	int nargs;
	int r = parse_verb_args(&spec, argc, argv, &o, &args, &nargs);
	if (r >= 0)
		return r;
	if (o.gen >= 0)
		return usage_error("browse", "--gen does not apply: the tree is of the whole heap");
	if (!o.json && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)))
		return usage_error("browse", "needs a terminal (or --json for the first screen's rows)");
	struct browser b = { .sort = SORT_RETAINED };
	if ((r = input_open_analysed(args[0], &o, &b.h, &b.a)))
		return r;
	struct pyhs_error *err = pyhs_domtree_create(b.a, &b.t);
	if (!err && push_view(&b, pyhs_domtree_top(b.t)))
		err = &pyhs_enomem;
	if (err)
		r = report_error(err);
	else if (o.json)
		print_json(&b);
	else
		r = run(&b);
	while (b.depth)
		pop_view(&b);
	free(b.stack);
	free(b.bfs);
	pyhs_domtree_destroy(b.t);
	input_close(&o, b.h, b.a);
	return r;
}
