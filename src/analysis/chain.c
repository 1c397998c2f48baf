#include "pyheap/chain.h"
#include "pyheap/safe_text.h"

#include <stdlib.h>
#include <string.h>

static const char *type_name(const struct ph_graph *g, uint32_t node)
{
	uint32_t t = g->nodes[node].type;
	return t < g->strings.count ? g->strings.items[t] : "?";
}

static const char *short_name(const char *qualified)
{
	if (strncmp(qualified, "builtins.", 9) == 0)
		return qualified + 9;
	return qualified;
}

bool ph_paths_compute(const struct ph_graph *g, struct ph_paths *out)
{
	size_t n = g->node_count ? g->node_count : 1;
	out->parent = malloc(n * sizeof(*out->parent));
	out->parent_edge = malloc(n * sizeof(*out->parent_edge));
	out->root_of = malloc(n * sizeof(*out->root_of));
	out->depth = malloc(n * sizeof(*out->depth));
	uint32_t *queue = malloc(n * sizeof(*queue));
	if (!out->parent || !out->parent_edge || !out->root_of || !out->depth || !queue) {
		free(queue);
		ph_paths_free(out);
		return false;
	}
	for (uint32_t i = 0; i < g->node_count; i++) {
		out->parent[i] = UINT32_MAX;
		out->depth[i] = UINT32_MAX;
		out->root_of[i] = UINT32_MAX;
	}
	size_t head = 0, tail = 0;
	/* modules, then sys/builtins, then thread frames */
	static const uint32_t order[] = {PH_ROOT_MODULE, PH_ROOT_SYSDICT, PH_ROOT_BUILTINS,
					 PH_ROOT_THREAD_FRAME};
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
		for (uint32_t r = 0; r < g->root_count; r++) {
			uint32_t node = g->roots[r].node;
			if (g->roots[r].kind != order[k] || out->depth[node] != UINT32_MAX)
				continue;
			out->depth[node] = 0;
			out->root_of[node] = r;
			queue[tail++] = node;
		}
	while (head < tail) {
		uint32_t from = queue[head++];
		for (uint64_t e = g->edge_start[from]; e < g->edge_start[from + 1]; e++) {
			uint32_t to = g->edges[e].to;
			if (out->depth[to] != UINT32_MAX)
				continue;
			out->depth[to] = out->depth[from] + 1;
			out->parent[to] = from;
			out->parent_edge[to] = e;
			out->root_of[to] = out->root_of[from];
			queue[tail++] = to;
		}
	}
	free(queue);
	return true;
}

void ph_paths_free(struct ph_paths *paths)
{
	free(paths->parent);
	free(paths->parent_edge);
	free(paths->root_of);
	free(paths->depth);
	memset(paths, 0, sizeof(*paths));
}

static bool type_matches(const char *qualified, const char *query)
{
	if (strcmp(qualified, query) == 0)
		return true;
	if (strchr(query, '.') && strncmp(query, "builtins.", 9) != 0)
		return false;
	/* short names match the last qualname component, whatever the module */
	const char *dot = strrchr(qualified, '.');
	return dot && strcmp(dot + 1, query) == 0;
}

uint32_t *ph_nodes_of_type(const struct ph_graph *g, const char *name, uint32_t *count)
{
	*count = 0;
	bool *match = calloc(g->strings.count ? g->strings.count : 1, sizeof(*match));
	uint32_t *nodes = malloc(((size_t)g->node_count + 1) * sizeof(*nodes));
	if (!match || !nodes) {
		free(match);
		free(nodes);
		return NULL;
	}
	for (uint32_t s = 0; s < g->strings.count; s++)
		match[s] = type_matches(g->strings.items[s], name);
	for (uint32_t i = 0; i < g->node_count; i++)
		if (g->nodes[i].type < g->strings.count && match[g->nodes[i].type] &&
		    !(g->nodes[i].flags & PH_NODE_PSEUDO))
			nodes[(*count)++] = i;
	free(match);
	return nodes;
}

static void describe_node_raw(const struct ph_graph *g, uint32_t node, char *buf, size_t size);
static void describe_edge_raw(const struct ph_graph *g, const struct ph_edge *e, char *buf,
			      size_t size);

/* Descriptions are made of target strings: escaped for any terminal. */
void ph_describe_node(const struct ph_graph *g, uint32_t node, char *buf, size_t size)
{
	char raw[600];
	describe_node_raw(g, node, raw, sizeof(raw));
	ph_safe_text(buf, size, raw);
}

void ph_describe_edge(const struct ph_graph *g, const struct ph_edge *e, char *buf, size_t size)
{
	char raw[300];
	describe_edge_raw(g, e, raw, sizeof(raw));
	ph_safe_text(buf, size, raw);
}

static void describe_node_raw(const struct ph_graph *g, uint32_t node, char *buf, size_t size)
{
	const struct ph_node *n = &g->nodes[node];
	const char *type = short_name(type_name(g, node));
	const char *detail = n->detail < g->strings.count ? g->strings.items[n->detail] : NULL;
	if (!detail) {
		snprintf(buf, size, "%s", type);
		return;
	}
	/* "Exception('x')" already names its type */
	const char *dot = strrchr(type, '.');
	const char *bare = dot ? dot + 1 : type;
	size_t bare_len = strlen(bare);
	if (strncmp(detail, bare, bare_len) == 0 && detail[bare_len] == '(')
		snprintf(buf, size, "%s", detail);
	else if (strcmp(type, "type") == 0 || strcmp(type, "abc.ABCMeta") == 0)
		snprintf(buf, size, "class %s", detail);
	else
		snprintf(buf, size, "%s %s", type, detail);
}

static void describe_edge_raw(const struct ph_graph *g, const struct ph_edge *e, char *buf,
			      size_t size)
{
	const char *label = e->label < g->strings.count ? g->strings.items[e->label] : "?";
	switch ((enum ph_edge_kind)e->kind) {
	case PH_EDGE_ATTRIBUTE:
	case PH_EDGE_SLOT:
		snprintf(buf, size, ".%s", label);
		return;
	case PH_EDGE_ITEM:
		snprintf(buf, size, "[%llu]", (unsigned long long)e->label);
		return;
	case PH_EDGE_DICT_VALUE:
		snprintf(buf, size, "[%s]", label);
		return;
	case PH_EDGE_DICT_KEY:
		snprintf(buf, size, "key %s", label);
		return;
	case PH_EDGE_SET_ITEM:
		snprintf(buf, size, "{member}");
		return;
	case PH_EDGE_LOCAL:
		snprintf(buf, size, "local '%s'", label);
		return;
	case PH_EDGE_TYPE:
		snprintf(buf, size, ".__class__");
		return;
	case PH_EDGE_CONSERVATIVE:
		snprintf(buf, size, "(pointer at +%llu, conservative)", (unsigned long long)e->label);
		return;
	case PH_EDGE_KIND_COUNT:
		break;
	}
	snprintf(buf, size, "?");
}

int64_t ph_chain_of(const struct ph_graph *g, const struct ph_paths *paths, uint32_t target,
		    uint32_t **nodes, uint64_t **edges)
{
	(void)g;
	if (paths->depth[target] == UINT32_MAX)
		return -1;
	uint32_t hops = paths->depth[target];
	*nodes = malloc(((size_t)hops + 1) * sizeof(**nodes));
	*edges = malloc(((size_t)hops + 1) * sizeof(**edges));
	if (!*nodes || !*edges) {
		free(*nodes);
		free(*edges);
		return -1;
	}
	uint32_t at = target;
	for (int64_t i = hops; i >= 0; i--) {
		(*nodes)[i] = at;
		if (i > 0) {
			(*edges)[i - 1] = paths->parent_edge[at];
			at = paths->parent[at];
		}
	}
	return hops;
}

struct hop_text {
	char node[600];
	char edge[300];
};

static bool same_hop(const struct hop_text *a, const struct hop_text *b)
{
	return strcmp(a->node, b->node) == 0 && strcmp(a->edge, b->edge) == 0;
}

/* How many times the block of `period` hops at i repeats back to back. */
static int64_t repeats(const struct hop_text *hops, int64_t count, int64_t i, int64_t period)
{
	int64_t n = 1;
	while (i + (n + 1) * period <= count) {
		for (int64_t k = 0; k < period; k++)
			if (!same_hop(&hops[i + k], &hops[i + n * period + k]))
				return n;
		n++;
	}
	return n;
}

void ph_chain_print(FILE *out, const struct ph_graph *g, const struct ph_paths *paths,
		    uint32_t target)
{
	uint32_t *nodes;
	uint64_t *edges;
	char node_text[600];
	int64_t hops = ph_chain_of(g, paths, target, &nodes, &edges);
	ph_describe_node(g, target, node_text, sizeof(node_text));
	if (hops < 0) {
		fprintf(out, "%s at 0x%llx: reachable from no root (garbage awaiting collection, or "
			     "held only by something pyheap cannot see)\n",
			node_text, (unsigned long long)g->nodes[target].address);
		return;
	}
	struct hop_text *text = malloc(((size_t)hops + 1) * sizeof(*text));
	if (!text) {
		free(nodes);
		free(edges);
		return;
	}
	for (int64_t i = 0; i < hops; i++) {
		ph_describe_node(g, nodes[i], text[i].node, sizeof(text[i].node));
		ph_describe_edge(g, &g->edges[edges[i]], text[i].edge, sizeof(text[i].edge));
	}
	const struct ph_root *root = &g->roots[paths->root_of[nodes[0]]];
	if (root->kind == PH_ROOT_THREAD_FRAME) {
		fputc('(', out);
		ph_fputs_safe(root->name < g->strings.count ? g->strings.items[root->name] : "thread", out);
		fputs(") ", out);
	}
	else if (root->kind != PH_ROOT_MODULE)
		fprintf(out, "(%s) ", root->kind == PH_ROOT_SYSDICT ? "sys.__dict__" : "builtins");
	for (int64_t i = 0; i < hops;) {
		/* fold the longest run of a repeating block of 1 to 4 hops */
		int64_t best_period = 1, best_times = 1;
		for (int64_t period = 1; period <= 4 && i + 2 * period <= hops; period++) {
			int64_t times = repeats(text, hops, i, period);
			if (times >= 2 && times * period > best_times * best_period) {
				best_period = period;
				best_times = times;
			}
		}
		for (int64_t k = 0; k < best_period; k++) {
			if (i + k)
				fprintf(out, "  -> %-44s %s\n", text[i + k].node, text[i + k].edge);
			else
				fprintf(out, "%-49s %s\n", text[i + k].node, text[i + k].edge);
		}
		if (best_times > 1) {
			if (best_period == 1)
				fprintf(out, "     ... (the hop above, x%lld in all)\n", (long long)best_times);
			else
				fprintf(out, "     ... (the %lld hops above, x%lld in all)\n",
					(long long)best_period, (long long)best_times);
		}
		i += best_period * best_times;
	}
	free(text);
	ph_describe_node(g, target, node_text, sizeof(node_text));
	fprintf(out, "%s%s at 0x%llx\n", hops ? "  -> " : "", node_text,
		(unsigned long long)g->nodes[target].address);
	free(nodes);
	free(edges);
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 200 || lb > 200)
		return 1000;
	size_t row[201];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t keep = row[j];
			size_t cost = (a[i - 1] | 32) == (b[j - 1] | 32) ? 0 : 1;
			size_t best = prev + cost;
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = keep;
		}
	}
	return row[lb];
}

size_t ph_closest_type_names(const struct ph_graph *g, const char *query, const char **out,
			     size_t max)
{
	bool *used = calloc(g->strings.count ? g->strings.count : 1, sizeof(*used));
	if (!used)
		return 0;
	for (uint32_t i = 0; i < g->node_count; i++)
		if (g->nodes[i].type < g->strings.count)
			used[g->nodes[i].type] = true;
	size_t found = 0;
	size_t best_score[16];
	for (uint32_t s = 0; s < g->strings.count; s++) {
		if (!used[s])
			continue;
		const char *name = g->strings.items[s];
		const char *dot = strrchr(name, '.');
		size_t d1 = edit_distance(query, name), d2 = dot ? edit_distance(query, dot + 1) : d1;
		size_t score = d1 < d2 ? d1 : d2;
		if (strstr(name, query))
			score = 0;
		size_t at = found < max ? found++ : max;
		if (at == max && (max == 0 || score >= best_score[max - 1]))
			continue;
		if (at == max)
			at = max - 1;
		while (at > 0 && best_score[at - 1] > score) {
			best_score[at] = best_score[at - 1];
			out[at] = out[at - 1];
			at--;
		}
		best_score[at] = score;
		out[at] = name;
	}
	free(used);
	return found;
}
