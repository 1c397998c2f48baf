/* The dominator tree against brute force: on small random graphs, remove
 * each node and see what the roots no longer reach; the fast tree must
 * agree on every node's immediate dominator and retained size. Also deep
 * structures (a chain of 1,000,000 nodes, with and without back edges),
 * which would overflow a recursive implementation. */
#include <stdlib.h>
#include <string.h>

#include "pyheap/dominators.h"
#include "unit.h"

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

struct edge_list {
	uint32_t from, to;
};

static int compare_edges(const void *x, const void *y)
{
	const struct edge_list *a = x, *b = y;
	if (a->from != b->from)
		return a->from < b->from ? -1 : 1;
	return (a->to > b->to) - (a->to < b->to);
}

/* Builds a graph of n nodes (sizes given) from an edge list; roots marked. */
static void build(struct ph_graph *g, uint32_t n, const uint64_t *sizes, const uint32_t *flags,
		  struct edge_list *edges, size_t edge_count, const uint32_t *roots, uint32_t root_count)
{
	ph_graph_init(g);
	ph_strings_intern(&g->strings, "t");
	for (uint32_t i = 0; i < n; i++) {
		uint32_t node = ph_graph_add_node(g, 0x1000 + 16ull * i, flags ? flags[i] : 0);
		g->nodes[node].size = sizes[i];
	}
	qsort(edges, edge_count, sizeof(*edges), compare_edges);
	size_t e = 0;
	for (uint32_t i = 0; i < n; i++) {
		ph_graph_begin_edges(g, i);
		for (; e < edge_count && edges[e].from == i; e++)
			ph_graph_add_edge(g, edges[e].to, PH_EDGE_ATTRIBUTE, 0);
	}
	ph_graph_finish_edges(g);
	for (uint32_t r = 0; r < root_count; r++)
		ph_graph_add_root(g, roots[r], PH_ROOT_MODULE, PH_NO_STRING);
}

/* reach[i] after a search from the roots that skips node `removed` and
 * never follows an edge into a root */
static void reach_without(const struct ph_graph *g, uint32_t removed, bool *reach, uint32_t *queue)
{
	memset(reach, 0, g->node_count * sizeof(*reach));
	size_t head = 0, tail = 0;
	for (uint32_t r = 0; r < g->root_count; r++) {
		uint32_t node = g->roots[r].node;
		if (node != removed && !reach[node]) {
			reach[node] = true;
			queue[tail++] = node;
		}
	}
	while (head < tail) {
		uint32_t from = queue[head++];
		for (uint64_t e = g->edge_start[from]; e < g->edge_start[from + 1]; e++) {
			uint32_t to = g->edges[e].to;
			if (to == removed || reach[to] || (g->nodes[to].flags & PH_NODE_ROOT))
				continue;
			reach[to] = true;
			queue[tail++] = to;
		}
	}
}

static int random_case(int index)
{
	uint32_t n = 1 + (uint32_t)(rng() % 40);
	size_t edge_count = (size_t)(rng() % (3 * n + 1));
	uint64_t sizes[64];
	uint32_t flags[64];
	struct edge_list edges[200];
	uint32_t roots[4];
	uint32_t root_count = 1 + (uint32_t)(rng() % 3);
	for (uint32_t i = 0; i < n; i++) {
		sizes[i] = 1 + rng() % 1000;
		flags[i] = rng() % 10 == 0 ? PH_NODE_PSEUDO : 0;
	}
	for (size_t e = 0; e < edge_count; e++)
		edges[e] = (struct edge_list){(uint32_t)(rng() % n), (uint32_t)(rng() % n)};
	for (uint32_t r = 0; r < root_count; r++)
		roots[r] = (uint32_t)(rng() % n);
	struct ph_graph g;
	build(&g, n, sizes, flags, edges, edge_count, roots, root_count);

	struct ph_dominators d;
	struct ph_error *err = ph_dominators_compute(&g, &d);
	CHECK(!err, "case %d: %s", index, err ? err->message : "");
	if (err) {
		ph_graph_free(&g);
		return 1;
	}
	bool reach_all[64], reach[64];
	uint32_t queue[64];
	reach_without(&g, UINT32_MAX, reach_all, queue);
	/* dominated[x][y]: removing x makes y unreachable */
	static bool dominated[64][64];
	uint32_t dom_count[64] = {0};
	for (uint32_t x = 0; x < n; x++) {
		reach_without(&g, x, reach, queue);
		for (uint32_t y = 0; y < n; y++) {
			dominated[x][y] = reach_all[y] && (y == x || !reach[y]);
			dom_count[y] += dominated[x][y];
		}
	}
	int bad = 0;
	uint64_t unreachable_bytes = 0;
	for (uint32_t y = 0; y < n; y++) {
		if (!reach_all[y]) {
			unreachable_bytes += sizes[y];
			bad += d.idom[y] != PH_DOM_UNREACHABLE;
			continue;
		}
		/* the immediate dominator is the strict dominator with the most dominators */
		uint32_t want = PH_DOM_VIRTUAL_ROOT, best = 0;
		for (uint32_t x = 0; x < n; x++)
			if (x != y && dominated[x][y] && dom_count[x] > best) {
				best = dom_count[x];
				want = x;
			}
		uint64_t retained = 0;
		uint32_t objects = 0;
		for (uint32_t z = 0; z < n; z++)
			if (dominated[y][z]) {
				retained += sizes[z];
				objects += !(flags[z] & PH_NODE_PSEUDO);
			}
		if (d.idom[y] != want || d.retained[y] != retained || d.retained_objects[y] != objects) {
			bad++;
			printf("        case %d node %u: idom %u (want %u), retained %llu (want %llu), objects "
			       "%u (want %u)\n",
			       index, y, d.idom[y], want, (unsigned long long)d.retained[y],
			       (unsigned long long)retained, d.retained_objects[y], objects);
		}
	}
	CHECK(d.unreachable_bytes == unreachable_bytes, "case %d: unreachable %llu, want %llu", index,
	      (unsigned long long)d.unreachable_bytes, (unsigned long long)unreachable_bytes);
	/* ph_dominates agrees with brute force too */
	for (uint32_t x = 0; x < n; x++)
		for (uint32_t y = 0; y < n; y++)
			bad += ph_dominates(&d, x, y) != dominated[x][y];
	ph_dominators_free(&d);
	ph_graph_free(&g);
	return bad;
}

static void test_random(void)
{
	int bad_cases = 0;
	for (int i = 0; i < 3000; i++)
		bad_cases += random_case(i) != 0;
	CHECK(bad_cases == 0, "%d of 3000 random graphs disagree with brute force", bad_cases);
}

/* root -> 1 -> 2 -> ... -> n-1; with back_edges, each node also points
 * back to the root and to its predecessor (cycles all along). */
static void test_deep_chain(bool back_edges)
{
	const uint32_t n = 1000000;
	size_t edge_count = back_edges ? 3ull * n : n;
	struct edge_list *edges = malloc(edge_count * sizeof(*edges));
	uint64_t *sizes = malloc(n * sizeof(*sizes));
	size_t e = 0;
	for (uint32_t i = 0; i < n; i++) {
		sizes[i] = 2;
		if (i + 1 < n)
			edges[e++] = (struct edge_list){i, i + 1};
		if (back_edges && i > 0) {
			edges[e++] = (struct edge_list){i, 0};
			edges[e++] = (struct edge_list){i, i - 1};
		}
	}
	uint32_t root = 0;
	struct ph_graph g;
	build(&g, n, sizes, NULL, edges, e, &root, 1);
	struct ph_dominators d;
	struct ph_error *err = ph_dominators_compute(&g, &d);
	CHECK(!err, "deep chain: %s", err ? err->message : "");
	if (!err) {
		uint32_t bad = 0;
		for (uint32_t i = 0; i < n; i++)
			bad += d.retained[i] != 2ull * (n - i) || d.retained_objects[i] != n - i ||
			       d.idom[i] != (i ? i - 1 : PH_DOM_VIRTUAL_ROOT);
		CHECK(bad == 0, "deep chain%s: %u of %u nodes wrong", back_edges ? " with back edges" : "",
		      bad, n);
		err = ph_dominators_children(&d);
		CHECK(!err && d.child_start[n + 1] - d.child_start[n] == 1 && d.children[d.child_start[n]] == 0,
		      "the virtual root has one child, the chain's root");
		ph_error_free(err);
		ph_dominators_free(&d);
	}
	ph_error_free(err);
	ph_graph_free(&g);
	free(edges);
	free(sizes);
}

/* Two holders share an object: neither retains it; their common
 * dominator does. A cycle hanging from one holder is retained by it. */
static void test_shared_and_cycles(void)
{
	/* 0 root -> 1, 2; 1 -> 3; 2 -> 3; 1 -> 4 -> 5 -> 4 (cycle); 6 unreachable -> 3 */
	uint64_t sizes[] = {1, 10, 20, 100, 1000, 10000, 7};
	struct edge_list edges[] = {{0, 1}, {0, 2}, {1, 3}, {2, 3}, {1, 4}, {4, 5}, {5, 4}, {6, 3}};
	uint32_t root = 0;
	struct ph_graph g;
	build(&g, 7, sizes, NULL, edges, 8, &root, 1);
	struct ph_dominators d;
	struct ph_error *err = ph_dominators_compute(&g, &d);
	CHECK(!err, "%s", err ? err->message : "");
	if (!err) {
		CHECK(d.retained[1] == 11010, "holder 1 retains itself and its cycle: %llu",
		      (unsigned long long)d.retained[1]);
		CHECK(d.retained[2] == 20, "holder 2 retains only itself: %llu", (unsigned long long)d.retained[2]);
		CHECK(d.idom[3] == 0, "the shared object is dominated by the root: %u", d.idom[3]);
		CHECK(d.retained[0] == 11131, "the root retains everything reachable: %llu",
		      (unsigned long long)d.retained[0]);
		CHECK(d.unreachable_objects == 1 && d.unreachable_bytes == 7 && d.idom[6] == PH_DOM_UNREACHABLE,
		      "the unreachable node is counted apart");
		CHECK(d.reachable_bytes == 11131, "reachable bytes %llu", (unsigned long long)d.reachable_bytes);
		ph_dominators_free(&d);
	}
	ph_error_free(err);
	ph_graph_free(&g);
}

/* An edge into a root does not make the root a dominated node. */
static void test_edges_into_roots(void)
{
	/* roots 0 and 1; 0 -> 1 -> 2; 0 -> 3 */
	uint64_t sizes[] = {1, 2, 4, 8};
	struct edge_list edges[] = {{0, 1}, {1, 2}, {0, 3}};
	uint32_t roots[] = {0, 1};
	struct ph_graph g;
	build(&g, 4, sizes, NULL, edges, 3, roots, 2);
	struct ph_dominators d;
	struct ph_error *err = ph_dominators_compute(&g, &d);
	CHECK(!err, "%s", err ? err->message : "");
	if (!err) {
		CHECK(d.idom[1] == PH_DOM_VIRTUAL_ROOT && d.retained[0] == 9 && d.retained[1] == 6,
		      "root 1 stays top-level: idom %u, retained %llu/%llu", d.idom[1],
		      (unsigned long long)d.retained[0], (unsigned long long)d.retained[1]);
		ph_dominators_free(&d);
	}
	ph_error_free(err);
	ph_graph_free(&g);
}

int main(void)
{
	test_shared_and_cycles();
	test_edges_into_roots();
	test_random();
	test_deep_chain(false);
	test_deep_chain(true);
	return unit_finish("unit-dominators");
}
