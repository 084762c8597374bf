/* pyheapsnap summary: what a heap holds. */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pyheapsnap.h"

#define TOP_TYPES 10

struct type_total {
	uint32_t type;
	uint64_t count;
	uint64_t bytes;
};

static int by_bytes(const void *a, const void *b)
{
	const struct type_total *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return x->type < y->type ? -1 : x->type > y->type;
}

#define OLD_TYPES 5
/* The analysis summary needs: no cycles asked for (those of the garbage
 * are found among it), no paths. The cache entry's index holds the same. */
#define SUMMARY_ANALYSIS PYHS_ANALYSIS_TREE
/* Pending tasks parked at one place that make a suspect. */
#define TASK_SUSPECT_MIN 1000
#define TASK_SUSPECTS 5
#define TOP_DOMINATORS 10
#define MAX_UNEXPLAINED 1000

/* What summary reports of the analyses. */
struct analysis_facts {
	uint64_t dom[TOP_DOMINATORS];
	uint64_t retained[TOP_DOMINATORS];
	size_t ndom;
	uint64_t reachable_bytes;
	uint64_t garbage_objects, garbage_bytes, garbage_cycles;
	uint64_t *unexplained; /* object numbers, largest retained first */
	size_t nunexplained;
	uint64_t unexplained_refs;
	uint64_t unexplained_excluded;
};

static void analysis_facts_free(struct analysis_facts *f)
{
	free(f->unexplained);
}

static int by_retained(const void *x, const void *y, void *ctx)
{
	const struct pyhs_analysis *an = ctx;
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	uint64_t ra = pyhs_analysis_retained(an, a), rb = pyhs_analysis_retained(an, b);
	if (ra != rb)
		return ra < rb ? 1 : -1;
	return a < b ? -1 : a > b;
}

/* Keeps f->dom the TOP_DOMINATORS largest by retained size. */
static void top_insert(struct analysis_facts *f, uint64_t i, uint64_t retained)
{
	size_t k;
	if (f->ndom < TOP_DOMINATORS)
		k = f->ndom++;
	else if (retained > f->retained[TOP_DOMINATORS - 1])
		k = TOP_DOMINATORS - 1;
	else
		return;
	while (k > 0 && f->retained[k - 1] < retained) {
		f->dom[k] = f->dom[k - 1];
		f->retained[k] = f->retained[k - 1];
		k--;
	}
	f->dom[k] = i;
	f->retained[k] = retained;
}

static struct pyhs_error *analysis_facts(const struct pyhs_heap *h,
					 const struct pyhs_analysis *a,
					 struct analysis_facts *ret)
{
	struct analysis_facts f = { 0 };
	struct pyhs_error *err;
	/* The groups cycles --unreachable lists, first: their search's arrays
	 * are freed before the per-object arrays below are made (a lower
	 * peak). */
	struct pyhs_cycles *c;
	err = pyhs_analysis_garbage(a, &c);
	if (err)
		return err;
	for (uint64_t q = 0; q < c->n; q++) {
		f.garbage_cycles += c->ncycle[q] != 0;
		f.garbage_bytes += c->bytes[q];
	}
	f.garbage_objects = c->start[c->n];
	pyhs_cycles_free(c);
	uint64_t n = pyhs_heap_nobjects(h);
	f.unexplained = malloc((n ? n : 1) * sizeof(*f.unexplained));
	if (!f.unexplained)
		return &pyhs_enomem;
	f.reachable_bytes = pyhs_analysis_reachable_bytes(a);
	for (uint64_t i = 0; i < n; i++) {
		/* Top-level retainers: dominated by nothing but the roots. */
		if (pyhs_analysis_idom(a, i) == PYHS_DOM_ROOT)
			top_insert(&f, i, pyhs_analysis_retained(a, i));
		uint64_t u = pyhs_analysis_unexplained(a, i);
		if (!u)
			continue;
		/* Types and modules are held from C all the time (static type
		 * pointers, the module table): counted apart. */
		if (pyhs_heap_is_type(h, i) || pyhs_heap_is_module(h, i)) {
			f.unexplained_excluded++;
			continue;
		}
		f.unexplained[f.nunexplained++] = i;
		f.unexplained_refs += u;
	}
	qsort_r(f.unexplained, f.nunexplained, sizeof(*f.unexplained), by_retained,
		(void *)a);
	*ret = f;
	return NULL;
}

/* What summary counts of the heap alone, with no analysis: the totals by
 * type, of the old generation's types and by generation, and the asyncio
 * tasks with the places thousands of them are parked. Counted while the
 * analysis is made, on a thread of its own where the heap has jobs. */
struct summary_totals {
	const struct pyhs_heap *h;
	const struct input_options *o;
	struct type_total *tt, *old; /* by bytes, largest first */
	uint64_t total, nshown, gen_count[5], gen_bytes[5];
	struct pyhs_tasks *ts;
	struct pyhs_task_group *tg;
	size_t ntg;
};

static struct pyhs_error *summary_totals(void *ctx, size_t k)
{
	(void)k;
	struct summary_totals *t = ctx;
	const struct pyhs_heap *h = t->h;
	uint64_t n = pyhs_heap_nobjects(h);
	uint32_t ntypes = pyhs_heap_ntypes(h);
	t->tt = calloc(ntypes ? ntypes : 1, sizeof(*t->tt));
	t->old = calloc(ntypes ? ntypes : 1, sizeof(*t->old));
	if (!t->tt || !t->old)
		return &pyhs_enomem;
	for (uint32_t k = 0; k < ntypes; k++)
		t->tt[k].type = t->old[k].type = k;
	/* With --gen, the totals and types are of that generation; the
	 * generation table always shows them all. */
	for (uint64_t i = 0; i < n; i++) {
		uint64_t s = pyhs_heap_size(h, i);
		uint32_t ty = pyhs_heap_type_of(h, i);
		if (gen_matches(t->o, h, i)) {
			t->tt[ty].count++;
			t->tt[ty].bytes += s;
			t->total += s;
			t->nshown++;
		}
		enum pyhs_gen g = pyhs_heap_gen(h, i);
		t->gen_count[g]++;
		t->gen_bytes[g] += s;
		/* The types that dominate the old generation (long-lived
		 * growth). */
		if (g == PYHS_GEN_2) {
			t->old[ty].count++;
			t->old[ty].bytes += s;
		}
	}
	qsort(t->tt, ntypes, sizeof(*t->tt), by_bytes);
	qsort(t->old, ntypes, sizeof(*t->old), by_bytes);
	struct pyhs_error *err = pyhs_tasks_find(h, &t->ts);
	if (!err)
		err = pyhs_tasks_pending_groups(t->ts, TASK_SUSPECT_MIN, &t->tg, &t->ntg);
	return err;
}

static void summary_totals_free(struct summary_totals *t)
{
	free(t->tt);
	free(t->old);
	free(t->tg);
	pyhs_tasks_destroy(t->ts);
}

/* What summary computes from the analysis, in two halves that share
 * nothing (run at once on a heap with jobs): the facts; the dominator
 * tree, holders and suspects. On one thread in that order: the garbage
 * search's arrays are gone before the tree's are made. */
struct summary_parts {
	const struct pyhs_heap *h;
	struct pyhs_analysis *an;
	struct heap_view hv;
	bool have_hv;
	struct analysis_facts af;
	bool have_af;
};

static struct pyhs_error *summary_part(void *ctx, size_t k)
{
	struct summary_parts *p = ctx;
	struct pyhs_error *err;
	if (k == 1) {
		err = heap_view_create(p->h, p->an,
				       &(struct pyhs_suspect_options){ 0.10, 10 }, &p->hv);
		p->have_hv = !err;
		return err;
	}
	err = analysis_facts(p->h, p->an, &p->af);
	p->have_af = !err;
	return err;
}

static const char *gen_name(int g)
{
	static const char *const names[] = { "0", "1", "2", "permanent", "untracked" };
	return names[g];
}

/* print_summary with the heap's analysis, when there is one (NULL: one is
 * made, with summary's flags). */
static int print_summary_with(struct pyhs_heap *h, const struct pyhs_analysis *given,
			      const struct input_options *o, FILE *out);

int print_summary(struct pyhs_heap *h, const struct input_options *o, FILE *out)
{
	return print_summary_with(h, NULL, o, out);
}

static int print_summary_with(struct pyhs_heap *h, const struct pyhs_analysis *given,
			      const struct input_options *o, FILE *out)
{
	bool json = o->json;
	const struct pyhs_heap_meta *m = pyhs_heap_meta(h);
	const char *input = m->input;
	uint32_t ntypes = pyhs_heap_ntypes(h);
	/* The analysis is only read from here on (the cache entry may be
	 * written from it on another thread meanwhile). With the cache entry
	 * written on a thread meanwhile, everything takes turns on this one:
	 * more at once would hold the writer's arrays beside the others' for
	 * no time gained on two cores. */
	unsigned jobs = cache_writing(o) ? 1 : pyhs_heap_jobs(h);
	struct summary_totals st = { .h = h, .o = o };
	struct pyhs_job *totals = jobs > 1 ? pyhs_job_start(summary_totals, &st) : NULL;
	struct pyhs_error *err = totals ? NULL : summary_totals(&st, 0);
	struct summary_parts parts = { .h = h, .an = (struct pyhs_analysis *)given };
	if (!err && !given)
		err = pyhs_analysis_create_with(h, SUMMARY_ANALYSIS, &parts.an);
	if (!err) {
		err = pyhs_jobs_run(jobs, 2, summary_part, &parts, NULL);
		if (parts.have_hv)
			parts.hv.own_analysis = !given;
		else if (!given)
			pyhs_analysis_destroy(parts.an);
	} else if (!given) {
		parts.an = NULL;
	}
	if (totals) {
		struct pyhs_error *terr = pyhs_job_finish(totals);
		if (err)
			pyhs_error_destroy(terr);
		else
			err = terr;
	}
	if (err) {
		if (parts.have_hv)
			heap_view_destroy(&parts.hv);
		if (parts.have_af)
			analysis_facts_free(&parts.af);
		summary_totals_free(&st);
		return report_error(err);
	}
	struct analysis_facts af = parts.af;
	struct heap_view hv = parts.hv;
	struct type_total *tt = st.tt, *old = st.old;
	uint64_t total = st.total, nshown = st.nshown;
	const uint64_t *gen_count = st.gen_count, *gen_bytes = st.gen_bytes;
	struct pyhs_tasks *ts = st.ts;
	struct pyhs_task_group *tg = st.tg;
	size_t ntg = st.ntg, npending = 0;
	for (size_t k = 0; k < ts->n; k++)
		npending += ts->tasks[k].state == PYHS_TASK_PENDING;
	uint32_t nold = 0;
	while (nold < ntypes && nold < OLD_TYPES && old[nold].count)
		nold++;
	uint32_t ntop = ntypes < TOP_TYPES ? ntypes : TOP_TYPES;
	struct pyhs_gc_generation_info gi[4];
	for (int g = 0; g < 4; g++)
		pyhs_heap_gc_info(h, g, &gi[g]);
	uint64_t nwarn = m->nwarnings;
	for (int k = 0; k < PYHS_WARN_NKINDS; k++)
		nwarn += pyhs_heap_warning_count(h, (enum pyhs_warning_kind)k);
	uint32_t v = m->hexversion;
	char holder[512];
	const char *dbg = m->debug_file[0] ? m->debug_file : NULL;

	if (json) {
		fprintf(out, "{\"gen_filter\": ");
		if (o->gen >= 0)
			pyhs_json_gen(out, (enum pyhs_gen)o->gen);
		else
			fputs("null", out);
		fputs(", \"input\": ", out);
		pyhs_json_string(out, input);
		fputs(", \"snapshot\": ", out);
		if (o->snapshot)
			pyhs_json_string(out, o->snapshot);
		else
			fputs("null", out);
		fputs(", \"source\": ", out);
		pyhs_json_string(out, m->source);
		fprintf(out, ", \"pid\": %d, \"signal\": %d, \"pause_ns\": %" PRIu64
			", \"consistent\": %s"
			", \"capture_time\": %" PRIu64 ", \"start_time\": %" PRIu64
			", \"executable\": ",
			m->pid, m->signal, m->pause_ns, m->unstopped ? "false" : "true",
			m->capture_time, m->start_time);
		pyhs_json_string(out, m->executable);
		fputs(", \"cmdline\": ", out);
		pyhs_json_string(out, m->cmdline);
		fputs(", \"python\": {\"version\": ", out);
		pyhs_json_string(out, m->version);
		fprintf(out, ", \"hexversion\": %" PRIu32 ", \"library\": ", v);
		pyhs_json_string(out, m->library);
		fprintf(out, ", \"layout\": \"%s\", \"debug_file\": ", m->layout);
		if (dbg)
			pyhs_json_string(out, dbg);
		else
			fputs("null", out);
		fputs("}, \"threads\": [", out);
		size_t nt = m->ntids;
		for (size_t i = 0; i < nt; i++)
			fprintf(out, "%s{\"tid\": %d}", i ? ", " : "",
				m->tids[i]);
		fputs("], \"python_threads\": [", out);
		size_t npt = pyhs_heap_nthreads(h);
		for (size_t i = 0; i < npt; i++)
			fprintf(out, "%s{\"ident\": %" PRIu64 ", \"native_id\": %" PRIu64 "}",
				i ? ", " : "", pyhs_heap_thread_ident(h, i),
				pyhs_heap_thread_native_id(h, i));
		fprintf(out, "], \"objects\": %" PRIu64 ", \"bytes\": %" PRIu64
			", \"edges\": %" PRIu64 ", \"model_bytes\": %" PRIu64,
			nshown, total, pyhs_heap_nedges(h), pyhs_heap_memory_bytes(h));
		fprintf(out, ", \"gc\": {\"enabled\": %s, \"generations\": [",
			pyhs_heap_gc_enabled(h) ? "true" : "false");
		for (int g = 0; g < 4; g++) {
			fprintf(out, "%s{\"gen\": ", g ? ", " : "");
			pyhs_json_gen(out, (enum pyhs_gen)g);
			fprintf(out, ", \"objects\": %" PRIu64 ", \"bytes\": %" PRIu64,
				gen_count[g], gen_bytes[g]);
			if (g < 3)
				fprintf(out, ", \"threshold\": %d, \"count\": %d",
					gi[g].threshold, gi[g].count);
			fputs("}", out);
		}
		fprintf(out, "], \"untracked\": {\"objects\": %" PRIu64 ", \"bytes\": %" PRIu64 "}}",
			gen_count[4], gen_bytes[4]);
		fputs(", \"types\": [", out);
		for (uint32_t k = 0; k < ntop; k++) {
			fprintf(out, "%s{\"type\": ", k ? ", " : "");
			pyhs_json_string(out, pyhs_heap_type_name(h, tt[k].type));
			fprintf(out, ", \"count\": %" PRIu64 ", \"bytes\": %" PRIu64 "}",
				tt[k].count, tt[k].bytes);
		}
		fputs("], \"old_generation_types\": [", out);
		for (uint32_t k = 0; k < nold; k++) {
			fprintf(out, "%s{\"type\": ", k ? ", " : "");
			pyhs_json_string(out, pyhs_heap_type_name(h, old[k].type));
			fprintf(out, ", \"count\": %" PRIu64 ", \"bytes\": %" PRIu64 "}",
				old[k].count, old[k].bytes);
		}
		fputs("], \"suspects\": ", out);
		print_suspects_json(&hv, hv.suspects, o->allocations, out);
		fprintf(out, ", \"reachable_bytes\": %" PRIu64 ", \"dominators\": [",
			af.reachable_bytes);
		for (size_t k = 0; k < af.ndom; k++) {
			char preview[128];
			uint64_t i = af.dom[k];
			pyhs_heap_preview(h, i, preview, sizeof(preview));
			fprintf(out, "%s{\"addr\": %" PRIu64 ", \"holder\": ", k ? ", " : "",
				pyhs_heap_addr(h, i));
			pyhs_holders_name(hv.holders, i, holder, sizeof(holder));
			pyhs_json_string(out, holder);
			fputs(", \"type\": ", out);
			pyhs_json_string(out, pyhs_heap_type_name(h, pyhs_heap_type_of(h, i)));
			fprintf(out, ", \"size\": %" PRIu64 ", \"retained\": %" PRIu64 ", \"preview\": ",
				pyhs_heap_size(h, i), af.retained[k]);
			pyhs_json_string(out, preview);
			fputs("}", out);
		}
		fprintf(out, "], \"garbage\": {\"objects\": %" PRIu64 ", \"bytes\": %" PRIu64
			", \"cycles\": %" PRIu64 "}", af.garbage_objects, af.garbage_bytes,
			af.garbage_cycles);
		fprintf(out, ", \"unexplained_refs\": {\"count\": %zu, \"references\": %" PRIu64
			", \"excluded_types_and_modules\": %" PRIu64 ", \"objects\": [",
			af.nunexplained, af.unexplained_refs, af.unexplained_excluded);
		for (size_t k = 0; k < af.nunexplained && k < MAX_UNEXPLAINED; k++)
			fprintf(out, "%s%" PRIu64, k ? ", " : "", pyhs_heap_addr(h, af.unexplained[k]));
		fprintf(out, "]}");
		fprintf(out, ", \"asyncio_tasks\": {\"count\": %zu, \"pending\": %zu, \"suspects\": [",
			ts->n, npending);
		for (size_t k = 0; k < ntg && k < TASK_SUSPECTS; k++) {
			const struct pyhs_task_frame *f = &ts->tasks[tg[k].task].frames[0];
			fprintf(out, "%s{\"pending\": %" PRIu64 ", \"function\": ", k ? ", " : "",
				tg[k].count);
			pyhs_json_string(out, f->function);
			fputs(", \"file\": ", out);
			pyhs_json_string(out, f->file);
			if (f->line > 0)
				fprintf(out, ", \"line\": %d}", f->line);
			else
				fputs(", \"line\": null}", out);
		}
		fputs("]}", out);
		fprintf(out, ", \"dropped_candidates\": %" PRIu64, pyhs_heap_dropped_candidates(h));
		fprintf(out, ", \"warnings\": {\"count\": %" PRIu64 ", \"kinds\": {", nwarn);
		fprintf(out, "\"reader\": %zu", m->nwarnings);
		for (int k = 0; k < PYHS_WARN_NKINDS; k++)
			fprintf(out, ", \"%s\": %" PRIu64,
				pyhs_heap_warning_kind_name((enum pyhs_warning_kind)k),
				pyhs_heap_warning_count(h, (enum pyhs_warning_kind)k));
		fputs("}, \"examples\": [", out);
		size_t ne = 0;
		for (size_t i = 0; i < m->nwarnings; i++, ne++) {
			fputs(ne ? ", " : "", out);
			pyhs_json_string(out, m->warnings[i]);
		}
		for (size_t i = 0; i < pyhs_heap_nwarning_examples(h); i++, ne++) {
			fputs(ne ? ", " : "", out);
			pyhs_json_string(out, pyhs_heap_warning_example(h, i));
		}
		fputs("]}}\n", out);
		free(tt);
		free(old);
		free(tg);
		pyhs_tasks_destroy(ts);
		analysis_facts_free(&af);
		heap_view_destroy(&hv);
		return EXIT_OK;
	}

	char b1[32], b2[32];
	fprintf(out, "input:       %s (%s)\n", input, m->source);
	if (o->snapshot)
		fprintf(out, "snapshot:    %s\n", o->snapshot);
	if (m->unstopped)
		fprintf(out, "process:     pid %d, %zu thread%s, read while it ran (--no-stop): the view is not consistent\n",
			m->pid, m->ntids, m->ntids == 1 ? "" : "s");
	else if (!strcmp(m->source, "pid"))
		fprintf(out, "process:     pid %d, %zu thread%s, stopped for %.1f ms while its memory was copied\n",
			m->pid, m->ntids, m->ntids == 1 ? "" : "s", (double)m->pause_ns / 1e6);
	else
		fprintf(out, "process:     pid %d, signal %d, %zu thread%s\n",
			m->pid, m->signal, m->ntids, m->ntids == 1 ? "" : "s");
	fprintf(out, "executable:  %s\n", m->executable);
	if (m->cmdline[0]) {
		fputs("command:     ", out);
		for (const char *c = m->cmdline; *c; c++)
			fputc(*c == '\n' || *c == '\t' ? ' ' : *c, out);
		fputc('\n', out);
	}
	fprintf(out, "python:      %s\n", m->version[0] ? m->version : "?");
	fprintf(out, "runtime:     %s, layout from %s%s%s\n",
		m->library, strcmp(m->layout, "dwarf") == 0 ? "DWARF" : "built-in tables",
		dbg ? " in " : "", dbg ? dbg : "");
	fprintf(out, "threads:     %zu Python thread state%s\n", pyhs_heap_nthreads(h),
		pyhs_heap_nthreads(h) == 1 ? "" : "s");
	if (o->gen >= 0)
		fprintf(out, "generation:  only objects of generation %s below\n", gen_name(o->gen));
	fprintf(out, "objects:     %s, %s (%s references)\n", fmt_count(nshown, b1, sizeof(b1)),
		pyhs_format_bytes(total, b2, sizeof(b2)),
		fmt_count(pyhs_heap_nedges(h), (char[32]){ 0 }, 32));
	fputc('\n', out);
	print_suspects_text(&hv, hv.suspects, o->allocations, true, out);
	fprintf(out, "\ngarbage collector: %s; thresholds %d/%d/%d; counts %d/%d/%d\n",
		pyhs_heap_gc_enabled(h) ? "enabled" : "disabled",
		gi[0].threshold, gi[1].threshold, gi[2].threshold,
		gi[0].count, gi[1].count, gi[2].count);
	fprintf(out, "  %-12s %14s %14s\n", "generation", "objects", "bytes");
	for (int g = 0; g < 5; g++)
		fprintf(out, "  %-12s %14s %14s\n", gen_name(g),
			fmt_count(gen_count[g], b1, sizeof(b1)),
			pyhs_format_bytes(gen_bytes[g], b2, sizeof(b2)));
	fprintf(out, "\nlargest types by shallow size:\n");
	fprintf(out, "  %14s %14s  %s\n", "bytes", "count", "type");
	for (uint32_t k = 0; k < ntop; k++)
		fprintf(out, "  %14s %14s  %s\n", pyhs_format_bytes(tt[k].bytes, b1, sizeof(b1)),
			fmt_count(tt[k].count, b2, sizeof(b2)),
			pyhs_heap_type_name(h, tt[k].type));
	if (nold) {
		fprintf(out, "\nold generation (2) by type:\n");
		for (uint32_t k = 0; k < nold; k++)
			fprintf(out, "  %14s %14s  %s\n", pyhs_format_bytes(old[k].bytes, b1, sizeof(b1)),
				fmt_count(old[k].count, b2, sizeof(b2)),
				pyhs_heap_type_name(h, old[k].type));
	}
	fprintf(out, "\nlargest retainers (retained size, what would be freed with them):\n");
	for (size_t k = 0; k < af.ndom; k++) {
		char preview[96];
		uint64_t i = af.dom[k];
		pyhs_heap_preview(h, i, preview, sizeof(preview));
		pyhs_holders_name(hv.holders, i, holder, sizeof(holder));
		fprintf(out, "  %14s  0x%-14" PRIx64 " %-24s %-20.20s %s\n",
			pyhs_format_bytes(af.retained[k], b1, sizeof(b1)), pyhs_heap_addr(h, i),
			pyhs_heap_type_name(h, pyhs_heap_type_of(h, i)), preview, holder);
	}
	fprintf(out, "\ngarbage:     %s objects, %s in %s cycle%s the collector would free now\n",
		fmt_count(af.garbage_objects, b1, sizeof(b1)),
		pyhs_format_bytes(af.garbage_bytes, b2, sizeof(b2)),
		fmt_count(af.garbage_cycles, (char[32]){ 0 }, 32),
		af.garbage_cycles == 1 ? "" : "s");
	fprintf(out, "unexplained: %zu object%s with references no object explains (C code:"
		" a leaked Py_INCREF, a C static)%s\n",
		af.nunexplained, af.nunexplained == 1 ? "" : "s",
		af.nunexplained ? ", largest retained first:" : "");
	for (size_t k = 0; k < af.nunexplained && k < 5; k++) {
		char preview[96];
		uint64_t i = af.unexplained[k];
		pyhs_heap_preview(h, i, preview, sizeof(preview));
		fprintf(out, "  0x%-14" PRIx64 " %-24s %s\n", pyhs_heap_addr(h, i),
			pyhs_heap_type_name(h, pyhs_heap_type_of(h, i)), preview);
	}
	if (ts->n) {
		fprintf(out, "asyncio:     %s task%s, %s pending%s\n",
			fmt_count(ts->n, b1, sizeof(b1)), ts->n == 1 ? "" : "s",
			fmt_count(npending, b2, sizeof(b2)),
			ntg ? "; suspects:" : " (pyheapsnap tasks lists them)");
		for (size_t k = 0; k < ntg && k < TASK_SUSPECTS; k++) {
			const struct pyhs_task_frame *f = &ts->tasks[tg[k].task].frames[0];
			const char *base = strrchr(f->file, '/');
			char at[16] = "";
			if (f->line > 0)
				snprintf(at, sizeof(at), ":%d", f->line);
			fprintf(out, "  %s pending tasks suspended in %s (%s%s)\n",
				fmt_count(tg[k].count, b1, sizeof(b1)), f->function,
				base ? base + 1 : f->file, at);
		}
	}
	fprintf(out, "\nwarnings:    %" PRIu64 "\n", nwarn);
	for (size_t i = 0; i < m->nwarnings; i++)
		fprintf(out, "  %s\n", m->warnings[i]);
	for (int k = 0; k < PYHS_WARN_NKINDS; k++) {
		uint64_t c = pyhs_heap_warning_count(h, (enum pyhs_warning_kind)k);
		if (c)
			fprintf(out, "  %s: %" PRIu64 "\n",
				pyhs_heap_warning_kind_name((enum pyhs_warning_kind)k), c);
	}
	for (size_t i = 0; i < pyhs_heap_nwarning_examples(h); i++)
		fprintf(out, "    e.g. %s\n", pyhs_heap_warning_example(h, i));
	free(tt);
	free(old);
	free(tg);
	pyhs_tasks_destroy(ts);
	analysis_facts_free(&af);
	heap_view_destroy(&hv);
	return EXIT_OK;
}

static void help(void)
{
	printf("usage: pyheapsnap summary [OPTIONS] INPUT\n"
	       "\n"
	       "Summarises the heap in INPUT (an ELF core file, plain or zstd-compressed):\n"
	       "process and Python version, threads, object count and bytes, the leak\n"
	       "suspects (see pyheapsnap suspects --help), GC generations with thresholds\n"
	       "and counts, the largest types, the largest retainers and their holders,\n"
	       "garbage, objects only C code holds, warnings.\n"
	       "\n"
	       "Options:\n"
	       INPUT_OPTIONS_HELP
	       "  -h, --help             show this help\n");
}

int verb_summary(int argc, char **argv)
{
	struct verb_spec spec = { "summary", "", NULL, help, NULL, NULL, 1, 1 };
	struct input_options o = { 0 };
	char **args;
	int nargs;
	int r = parse_verb_args(&spec, argc, argv, &o, &args, &nargs);
	if (r >= 0)
		return r;
	struct pyhs_heap *h;
	struct pyhs_analysis *a;
	o.want_allocations = true; /* where the suspects were allocated */
	/* One analysis for the answer and the cache entry of a core read
	 * now, the entry written beside the answer. A snapshot's own index
	 * is not read: summary analyses its heap again, and answers with the
	 * index damaged. */
	o.analysis_flags = SUMMARY_ANALYSIS;
	o.snapshot_unindexed = true;
	o.cache_beside = true;
	if ((r = input_open_analysed(args[0], &o, &h, &a)))
		return r;
	r = print_summary_with(h, a, &o, stdout);
	/* The answer out before the entry is waited for. */
	fflush(stdout);
	input_close(&o, h, a);
	return r;
}
