/*
 * The HTML report: one self-contained file (inline CSS and JavaScript, no
 * network: a Content-Security-Policy forbids every load) with the summary,
 * the largest retainers and where they are held, the dominator tree as a
 * zoomable icicle, the largest types and, given a growth table, what grew
 * by holder. The tables are plain HTML; the icicle is drawn by the script
 * from a JSON copy of the tree in which the subtrees under a threshold are
 * grouped by holder name, so that the file stays small at any heap size.
 */
#include <errno.h>
#include <inttypes.h>
#include <time.h>

#include "common/format.h"
#include "formats.h"
#include "strtab.h"

/* The icicle keeps at most this many subtrees whole, and none under
 * 1/TREE_FRACTION of the reachable bytes. */
#define TREE_NODES 4000
#define TREE_FRACTION 2000
/* Groups drawn under one parent; the rest are one group. */
#define TREE_GROUPS 40
/* Levels of groups inside a group, and the tree size past which groups
 * get no inner groups. */
#define GROUP_DEPTH 3
#define GROUP_NODES 20000
#define NRETAINERS 20
#define NTYPES 40

static void html(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		default:
			if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
				putc(' ', out);
			else
				putc(*s, out);
		}
	}
}

/* A JSON string that is safe inside <script>: no "</" can close it. */
static void json_in_script(FILE *out, const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	if (!m) {
		fputs("\"\"", out);
		return;
	}
	pyhs_json_string(m, s);
	fclose(m);
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '<')
			fputs("\\u003c", out);
		else
			putc(buf[i], out);
	}
	free(buf);
}

static const char *bytes(uint64_t v, char *buf)
{
	return pyhs_format_bytes(v, buf, 32);
}

static const char STYLE[] =
	"body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}"
	"h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}"
	"table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left;vertical-align:top}"
	"th{background:#f0f0f0}tr:nth-child(even) td{background:#fafafa}"
	"td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
	"code,.mono{font-family:ui-monospace,monospace;font-size:12px}"
	"#crumbs{margin:6px 0;font-size:13px}#crumbs a{cursor:pointer;color:#0645ad}"
	"#icicle{position:relative;width:100%;overflow:hidden;border:1px solid #ccc;background:#fcfcfc}"
	".node{position:absolute;height:21px;box-sizing:border-box;border:1px solid #fff;"
	"overflow:hidden;white-space:nowrap;font:11px/19px ui-monospace,monospace;padding:0 3px;"
	"cursor:pointer;color:#111}.node.grp{background-image:repeating-linear-gradient(45deg,"
	"transparent 0 4px,rgba(255,255,255,.35) 4px 8px)}.node:hover{border-color:#333}"
	".note{color:#666;font-size:13px}";

/* Draws the icicle of TREE (nodes: [name, retained, shallow, objects,
 * parent, grouped]) into #icicle; a click zooms into a node. */
static const char SCRIPT[] =
	"(function(){\n"
	"var T=JSON.parse(document.getElementById('tree-data').textContent),N=T.nodes,K=[];\n"
	"for(var i=0;i<N.length;i++)K.push([]);\n"
	"for(var i=1;i<N.length;i++)K[N[i][4]].push(i);\n"
	"var box=document.getElementById('icicle'),crumbs=document.getElementById('crumbs'),"
	"ROW=22,DEPTH=16;\n"
	"function fmt(b){var u=['B','KiB','MiB','GiB','TiB'],k=0;while(b>=1024&&k<4){b/=1024;k++;}"
	"return (k?b.toFixed(1):b)+' '+u[k];}\n"
	"function hue(s){var t=s.split(' ');t=t[t.length-1];var h=0;for(var i=0;i<t.length;i++)"
	"h=(h*31+t.charCodeAt(i))%360;return h;}\n"
	"function draw(v,x,w,d,out){if(w<2||d>DEPTH)return;var n=N[v],e=document.createElement('div');"
	"e.className='node'+(n[5]?' grp':'');e.style.left=x+'px';e.style.top=(d*ROW)+'px';"
	"e.style.width=w+'px';e.style.background='hsl('+hue(n[0])+',55%,'+(n[5]?'82%':'72%')+')';"
	"e.textContent=n[0]+'  '+fmt(n[1]);e.title=n[0]+'\\nretained '+fmt(n[1])+', own '+fmt(n[2])+"
	"', '+n[3]+' objects'+(n[5]?'\\n(grouped: small subtrees held alike)':'');"
	"e.onclick=function(){zoom(v);};out.push(e);if(d+1>depth)depth=d+1;"
	"var cx=x;for(var k=0;k<K[v].length;k++){var c=K[v][k],cw=n[1]?w*N[c][1]/n[1]:0;"
	"draw(c,cx,cw,d+1,out);cx+=cw;}}\n"
	"var depth=0;\n"
	"function zoom(v){var out=[];depth=0;box.textContent='';"
	"draw(v,0,box.clientWidth||1000,0,out);"
	"for(var i=0;i<out.length;i++)box.appendChild(out[i]);box.style.height=(depth*ROW+2)+'px';"
	"crumbs.textContent='';var p=[],u=v;while(u>=0){p.unshift(u);u=u?N[u][4]:-1;}"
	"p.forEach(function(u,j){if(j)crumbs.appendChild(document.createTextNode(' \\u203a '));"
	"var a=document.createElement('a');a.textContent=N[u][0];a.onclick=function(){zoom(u);};"
	"crumbs.appendChild(a);});}\n"
	"zoom(0);window.addEventListener('resize',function(){zoom(0);});\n"
	"})();\n";

struct tree_out {
	uint64_t threshold; /* subtrees retaining less are grouped */
	uint64_t nodes, grouped_objects, groups_written;
};

static void tree_node(FILE *out, const char *name, uint64_t retained, uint64_t shallow,
		      uint64_t count, int64_t parent, bool grouped, uint64_t *nodes)
{
	fputs(*nodes ? ",\n[" : "[", out);
	json_in_script(out, name);
	fprintf(out, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRId64 ",%d]", retained, shallow,
		count, parent, grouped);
	++*nodes;
}

/* Subtrees grouped under one holder name: how many, what they retain and
 * own, how many objects they hold. */
struct group {
	uint64_t subtrees, retained, shallow, count;
};

static const struct group *group_sort;
static int group_by_retained(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	uint64_t ra = group_sort[a].retained, rb = group_sort[b].retained;
	if (ra != rb)
		return ra < rb ? 1 : -1;
	return a < b ? -1 : a > b;
}

/*
 * Small subtrees (members, the children of one node, or of the members of
 * one group) as groups by merged holder name under parent: the TREE_GROUPS
 * largest names, then one "other" group. Inside each named group that is
 * not small itself, what its members dominate is grouped the same way,
 * GROUP_DEPTH levels down, so a group of a million dicts shows the strs and
 * ints they hold.
 */
static struct pyhs_error *write_groups(const struct pyhs_domtree *t, const struct pyhs_heap *h,
				       FILE *out, struct tree_out *s, const uint32_t *members,
				       uint64_t nm, int64_t parent, int depth)
{
	if (!nm)
		return NULL;
	struct pyhs_strtab names;
	pyhs_strtab_init(&names);
	struct group *g = NULL;
	size_t ng = 0, cap = 0;
	uint32_t *gid = malloc(nm * sizeof(*gid)), *order = NULL, *sorted = NULL;
	uint64_t *start = NULL;
	struct pyhs_error *err = gid ? NULL : &pyhs_enomem;
	char name[512];
	for (uint64_t m = 0; m < nm && !err; m++) {
		pyhs_domtree_name(t, members[m], true, name, sizeof(name));
		if ((err = pyhs_strtab_add(&names, name, &gid[m])))
			break;
		if (gid[m] == ng) {
			if (ng == cap) {
				cap = cap ? cap * 2 : 64;
				struct group *more = realloc(g, cap * sizeof(*g));
				if (!more) {
					err = &pyhs_enomem;
					break;
				}
				g = more;
			}
			g[ng++] = (struct group){ 0 };
		}
		struct group *gr = &g[gid[m]];
		gr->subtrees++;
		gr->retained += pyhs_domtree_retained(t, members[m]);
		gr->shallow += pyhs_heap_size(h, members[m]);
		gr->count += pyhs_domtree_count(t, members[m]);
		if (depth == 0)
			s->grouped_objects += pyhs_domtree_count(t, members[m]);
	}
	/* The members of each group side by side: sorted[start[q]..start[q+1]). */
	if (!err) {
		order = malloc(ng * sizeof(*order));
		start = calloc(ng + 1, sizeof(*start));
		sorted = malloc(nm * sizeof(*sorted));
		if (!order || !start || !sorted)
			err = &pyhs_enomem;
	}
	if (!err) {
		for (size_t q = 0; q < ng; q++) {
			order[q] = (uint32_t)q;
			start[q + 1] = start[q] + g[q].subtrees;
		}
		for (uint64_t m = 0; m < nm; m++)
			sorted[start[gid[m]] + --g[gid[m]].subtrees] = members[m];
		for (uint64_t m = 0; m < nm; m++)
			g[gid[m]].subtrees++;
		group_sort = g;
		qsort(order, ng, sizeof(*order), group_by_retained);
	}
	struct group other = { 0 };
	for (size_t q = 0; q < ng && !err; q++) {
		struct group *gr = &g[order[q]];
		if (q >= TREE_GROUPS) {
			other.subtrees++;
			other.retained += gr->retained;
			other.shallow += gr->shallow;
			other.count += gr->count;
			continue;
		}
		char label[640];
		snprintf(label, sizeof(label), "%s \u00d7%" PRIu64 " (%" PRIu64 " objects)",
			 names.strings.data[order[q]], gr->subtrees, gr->count);
		int64_t node = (int64_t)s->nodes;
		tree_node(out, label, gr->retained, gr->shallow, gr->count, parent, true, &s->nodes);
		s->groups_written++;
		if (depth >= GROUP_DEPTH || s->nodes >= GROUP_NODES || gr->count == gr->subtrees ||
		    gr->retained < s->threshold)
			continue;
		/* What the group's members dominate, grouped under it. */
		const uint32_t *range = sorted + start[order[q]];
		uint64_t nk = 0;
		for (uint64_t m = 0; m < gr->subtrees; m++) {
			const uint32_t *c;
			nk += pyhs_domtree_children(t, range[m], &c);
		}
		if (!nk)
			continue;
		uint32_t *kids = malloc(nk * sizeof(*kids));
		if (!kids) {
			err = &pyhs_enomem;
			break;
		}
		nk = 0;
		for (uint64_t m = 0; m < gr->subtrees; m++) {
			const uint32_t *c;
			uint64_t n = pyhs_domtree_children(t, range[m], &c);
			memcpy(kids + nk, c, n * sizeof(*c));
			nk += n;
		}
		err = write_groups(t, h, out, s, kids, nk, node, depth + 1);
		free(kids);
	}
	if (!err && other.subtrees) {
		char label[160];
		snprintf(label, sizeof(label), "(%" PRIu64 " objects under %" PRIu64
			 " other holder names)", other.count, other.subtrees);
		tree_node(out, label, other.retained, other.shallow, other.count, parent, true,
			  &s->nodes);
		s->groups_written++;
	}
	free(gid);
	free(order);
	free(start);
	free(sorted);
	free(g);
	pyhs_strtab_deinit(&names);
	return err;
}

/* The tree's JSON: breadth-first from the top, big subtrees whole, the
 * small children of each kept node grouped by merged holder name. */
static struct pyhs_error *write_tree(const struct pyhs_heap *h, const struct pyhs_domtree *t,
				     FILE *out, struct tree_out *s)
{
	uint64_t top = pyhs_domtree_top(t), total = pyhs_domtree_retained(t, top);
	uint64_t threshold = total / TREE_FRACTION ? total / TREE_FRACTION : 1;
	s->threshold = threshold;
	uint32_t *queue = malloc(TREE_NODES * sizeof(*queue));
	if (!queue)
		return &pyhs_enomem;
	struct pyhs_error *err = NULL;
	char name[512];
	fprintf(out, "{\"total\":%" PRIu64 ",\"threshold\":%" PRIu64 ",\"nodes\":[", total, threshold);
	tree_node(out, "all roots", total, 0, pyhs_domtree_count(t, top), -1, false, &s->nodes);
	/* queue[] holds kept objects; their node numbers follow from the
	 * order nodes are written in, kept in index[]. */
	uint64_t *index = malloc(TREE_NODES * sizeof(*index));
	if (!index) {
		free(queue);
		return &pyhs_enomem;
	}
	uint64_t head = 0, tail = 0, kept = 0;
	int64_t parent_node = 0;
	uint64_t v = top;
	for (;;) {
		const uint32_t *c;
		uint64_t nc = pyhs_domtree_children(t, v, &c);
		uint64_t k = 0;
		for (; k < nc && pyhs_domtree_retained(t, c[k]) >= threshold && kept < TREE_NODES; k++) {
			pyhs_domtree_name(t, c[k], false, name, sizeof(name));
			queue[tail] = c[k];
			index[tail++] = s->nodes;
			kept++;
			tree_node(out, name, pyhs_domtree_retained(t, c[k]), pyhs_heap_size(h, c[k]),
				  pyhs_domtree_count(t, c[k]), parent_node, false, &s->nodes);
		}
		err = write_groups(t, h, out, s, c + k, nc - k, parent_node, 0);
		if (err || head == tail)
			break;
		parent_node = (int64_t)index[head];
		v = queue[head++];
	}
	fputs("]}", out);
	free(queue);
	free(index);
	return err;
}

static void section_summary(const struct pyhs_heap *h, const struct pyhs_analysis *a, FILE *out)
{
	const struct pyhs_heap_meta *m = pyhs_heap_meta(h);
	uint64_t n = pyhs_heap_nobjects(h), total = 0, gbytes = 0;
	for (uint64_t i = 0; i < n; i++) {
		total += pyhs_heap_size(h, i);
		if (pyhs_analysis_is_garbage(a, i))
			gbytes += pyhs_heap_size(h, i);
	}
	uint64_t nwarn = m->nwarnings;
	for (int k = 0; k < PYHS_WARN_NKINDS; k++)
		nwarn += pyhs_heap_warning_count(h, (enum pyhs_warning_kind)k);
	char b1[32], b2[32];
	fputs("<h2 id=\"summary\">Summary</h2>\n<table>\n<tr><th>input</th><td>", out);
	html(out, m->input);
	fprintf(out, " (%s)</td></tr>\n<tr><th>process</th><td>pid %d, ", m->source, m->pid);
	html(out, m->executable);
	fputs("</td></tr>\n<tr><th>python</th><td>", out);
	html(out, m->version);
	if (m->capture_time) {
		char when[64];
		time_t ct = (time_t)m->capture_time;
		struct tm tm;
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&ct, &tm));
		fprintf(out, "</td></tr>\n<tr><th>taken</th><td>%s", when);
	}
	fprintf(out, "</td></tr>\n<tr><th>objects</th><td>%" PRIu64 " objects, %s, %" PRIu64
		" references</td></tr>\n", n, bytes(total, b1), pyhs_heap_nedges(h));
	fprintf(out, "<tr><th>reachable</th><td>%s from the roots</td></tr>\n",
		bytes(pyhs_analysis_reachable_bytes(a), b1));
	fprintf(out, "<tr><th>garbage</th><td>%" PRIu64 " objects, %s the cyclic collector would"
		" free now</td></tr>\n", pyhs_analysis_ngarbage(a), bytes(gbytes, b2));
	fprintf(out, "<tr><th>warnings</th><td>%" PRIu64 "</td></tr>\n</table>\n", nwarn);
}

static void section_retainers(const struct pyhs_heap *h, const struct pyhs_analysis *a,
			      const struct pyhs_domtree *t, const struct pyhs_retention *r,
			      FILE *out)
{
	uint64_t n = pyhs_heap_nobjects(h), best[NRETAINERS];
	size_t k = 0;
	/* The NRETAINERS largest, kept sorted (ties: lower object first). */
	for (uint64_t i = 0; i < n; i++) {
		uint64_t ri = pyhs_analysis_retained(a, i);
		if (k == NRETAINERS && ri <= pyhs_analysis_retained(a, best[k - 1]))
			continue;
		size_t pos = k < NRETAINERS ? k++ : NRETAINERS - 1;
		while (pos > 0 && pyhs_analysis_retained(a, best[pos - 1]) < ri) {
			best[pos] = best[pos - 1];
			pos--;
		}
		best[pos] = i;
	}
	char b1[32], b2[32], text[1024], preview[96];
	fputs("<h2 id=\"retainers\">Largest retainers</h2>\n<p class=\"note\">What would be freed"
	      " with each object (its dominator subtree), and where it is held.</p>\n"
	      "<table>\n<tr><th>retained</th><th>own</th><th>object</th><th>holder</th>"
	      "<th>held at</th></tr>\n", out);
	for (size_t q = 0; q < k; q++) {
		uint64_t i = best[q];
		pyhs_heap_preview(h, i, preview, sizeof(preview));
		fprintf(out, "<tr><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"mono\">"
			"0x%" PRIx64 " ", bytes(pyhs_analysis_retained(a, i), b1),
			bytes(pyhs_heap_size(h, i), b2), pyhs_heap_addr(h, i));
		html(out, pyhs_heap_type_name(h, pyhs_heap_type_of(h, i)));
		fputs(" ", out);
		html(out, preview);
		fputs("</td><td class=\"mono\">", out);
		pyhs_domtree_name(t, i, false, text, sizeof(text));
		html(out, text);
		fputs("</td><td class=\"mono\">", out);
		pyhs_retention_describe(r, i, text, sizeof(text));
		html(out, text);
		fputs("</td></tr>\n", out);
	}
	fputs("</table>\n", out);
}

struct type_row {
	uint32_t type;
	uint64_t count, bytes;
};

static int by_bytes(const void *x, const void *y)
{
	const struct type_row *a = x, *b = y;
	if (a->bytes != b->bytes)
		return a->bytes < b->bytes ? 1 : -1;
	return a->type < b->type ? -1 : a->type > b->type;
}

static struct pyhs_error *section_types(const struct pyhs_heap *h, FILE *out)
{
	uint32_t nt = pyhs_heap_ntypes(h);
	struct type_row *rows = calloc(nt ? nt : 1, sizeof(*rows));
	if (!rows)
		return &pyhs_enomem;
	for (uint32_t k = 0; k < nt; k++)
		rows[k].type = k;
	for (uint64_t i = 0; i < pyhs_heap_nobjects(h); i++) {
		rows[pyhs_heap_type_of(h, i)].count++;
		rows[pyhs_heap_type_of(h, i)].bytes += pyhs_heap_size(h, i);
	}
	qsort(rows, nt, sizeof(*rows), by_bytes);
	char b1[32];
	fputs("<h2 id=\"types\">Types</h2>\n<table>\n<tr><th>own bytes</th><th>objects</th>"
	      "<th>type</th></tr>\n", out);
	for (uint32_t k = 0; k < nt && k < NTYPES && rows[k].count; k++) {
		fprintf(out, "<tr><td class=\"n\">%s</td><td class=\"n\">%" PRIu64 "</td><td class=\"mono\">",
			bytes(rows[k].bytes, b1), rows[k].count);
		html(out, pyhs_heap_type_name(h, rows[k].type));
		fputs("</td></tr>\n", out);
	}
	fputs("</table>\n", out);
	free(rows);
	return NULL;
}

static void signed_bytes(int64_t v, char *buf)
{
	char tmp[32];
	pyhs_format_bytes((uint64_t)(v < 0 ? -v : v), tmp, sizeof(tmp));
	snprintf(buf, 40, "%s%s", v < 0 ? "-" : "+", tmp);
}

static void section_growth(const struct pyhs_report *rep, FILE *out)
{
	char b1[40];
	fputs("<h2 id=\"growth\">What grew, by holder</h2>\n<p class=\"note\">From ", out);
	html(out, rep->before_input);
	fputs(" to this heap: objects charged to where they are held (the root and the labels"
	      " and types down to them; digits in keys masked).</p>\n<table>\n<tr><th>bytes</th>"
	      "<th>objects</th><th>held by</th></tr>\n", out);
	for (size_t k = 0; k < rep->ngrowth; k++) {
		signed_bytes(rep->growth[k].bytes_delta, b1);
		fprintf(out, "<tr><td class=\"n\">%s</td><td class=\"n\">%+" PRId64 "</td>"
			"<td class=\"mono\">", b1, rep->growth[k].count_delta);
		html(out, rep->growth[k].where);
		fputs("</td></tr>\n", out);
	}
	if (!rep->ngrowth)
		fputs("<tr><td colspan=\"3\">nothing changed</td></tr>\n", out);
	fputs("</table>\n", out);
}

struct pyhs_error *pyhs_report_write(const struct pyhs_report *rep, FILE *out,
				     struct pyhs_report_stats *ret_stats)
{
	const struct pyhs_heap *h = rep->heap;
	const struct pyhs_heap_meta *m = pyhs_heap_meta(h);
	struct pyhs_retention *r;
	struct pyhs_error *err = pyhs_retention_create(h, &r);
	if (err)
		return err;
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width\">\n<title>pyheapsnap: ", out);
	html(out, m->input);
	fprintf(out, "</title>\n<style>%s</style></head>\n<body>\n<h1>Python heap of ", STYLE);
	html(out, m->input);
	fputs("</h1>\n<p class=\"note\"><a href=\"#summary\">summary</a> &middot; "
	      "<a href=\"#retainers\">largest retainers</a> &middot; <a href=\"#tree\">dominator "
	      "tree</a> &middot; <a href=\"#types\">types</a>", out);
	if (rep->growth)
		fputs(" &middot; <a href=\"#growth\">what grew</a>", out);
	fputs("</p>\n", out);
	section_summary(h, rep->analysis, out);
	if (rep->growth)
		section_growth(rep, out);
	section_retainers(h, rep->analysis, rep->tree, r, out);
	fputs("<h2 id=\"tree\">Dominator tree by retained size</h2>\n<p class=\"note\">Each bar"
	      " is an object, as wide as what it retains, under the object that dominates it;"
	      " click one to zoom in, the path above to zoom out.", out);
	char *tree = NULL;
	size_t tree_len = 0;
	FILE *tm = open_memstream(&tree, &tree_len);
	struct tree_out s = { 0 };
	if (!tm)
		err = &pyhs_enomem;
	else {
		err = write_tree(h, rep->tree, tm, &s);
		if (fclose(tm) != 0 && !err)
			err = &pyhs_enomem;
	}
	if (!err) {
		char b1[32];
		uint64_t top = pyhs_domtree_top(rep->tree);
		uint64_t total = pyhs_domtree_retained(rep->tree, top);
		uint64_t threshold = total / TREE_FRACTION ? total / TREE_FRACTION : 1;
		fprintf(out, " Subtrees under %s (1/%d of what the roots reach) are not drawn one by"
			" one: %" PRIu64 " objects in them are shown as %" PRIu64 " striped groups,"
			" one per holder name under each parent (the %d largest names, then one"
			" for the rest), labelled with how many subtrees each stands for"
			" (\u00d7N) and the objects they hold; inside a group, what its subtrees"
			" hold is grouped the same way (for groups over that size), up to %d levels down.</p>\n"
			"<div id=\"crumbs\"></div>\n"
			"<div id=\"icicle\"><noscript>The tree needs JavaScript.</noscript></div>\n",
			bytes(threshold, b1), TREE_FRACTION, s.grouped_objects, s.groups_written,
			TREE_GROUPS, GROUP_DEPTH);
		err = section_types(h, out);
	}
	if (!err) {
		fputs("<script type=\"application/json\" id=\"tree-data\">", out);
		fwrite(tree, 1, tree_len, out);
		fprintf(out, "</script>\n<script>%s</script>\n<p class=\"note\">pyheapsnap report,"
			" %" PRIu64 " tree nodes.</p>\n</body></html>\n", SCRIPT, s.nodes);
		if (ret_stats) {
			ret_stats->nodes = s.nodes;
			ret_stats->grouped_objects = s.grouped_objects;
			ret_stats->groups = s.groups_written;
		}
	}
	free(tree);
	pyhs_retention_destroy(r);
	if (!err && (fflush(out) != 0 || ferror(out)))
		err = pyhs_error_os(errno ? errno : EIO, "cannot write the report");
	return err;
}
