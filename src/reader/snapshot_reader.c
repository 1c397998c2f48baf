#include "pyheap/snapshot_reader.h"
#include "pyheap/snapshot_input.h"

#include "../util.h"
#include "pyheap/big_alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct scanner {
	const char *p, *end;
	const char *start;
};

/* A graph too big for pyheap's memory budget says so (exit 15). */
static struct ph_error *out_of_memory(const char *what)
{
	char text[96];
	snprintf(text, sizeof(text), "loading %s", what);
	return ph_budget_refusal() ? ph_budget_error(text, ph_budget_refusal()) : &ph_error_out_of_memory;
}

static struct ph_error *bad(struct scanner *s, const char *what)
{
	return ph_error_new(PH_EXIT_BAD_INPUT, "not a valid pyheap snapshot: %s (at byte %lld)", what,
			    (long long)(s->p - s->start));
}

static void skip_ws(struct scanner *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
		s->p++;
}

static bool skip_string(struct scanner *s)
{
	if (s->p >= s->end || *s->p != '"')
		return false;
	for (s->p++; s->p < s->end; s->p++) {
		if (*s->p == '\\') {
			s->p++;
			continue;
		}
		if (*s->p == '"') {
			s->p++;
			return true;
		}
	}
	return false;
}

/* Skips one JSON value (any type), tracking nesting without recursion;
 * the structure of skipped values is not validated. */
static bool skip_value(struct scanner *s)
{
	skip_ws(s);
	if (s->p >= s->end)
		return false;
	char c = *s->p;
	if (c == '"')
		return skip_string(s);
	if (c == '{' || c == '[') {
		int depth = 0;
		while (s->p < s->end) {
			c = *s->p;
			if (c == '"') {
				if (!skip_string(s))
					return false;
				continue;
			}
			if (c == '{' || c == '[') {
				if (++depth > 512)
					return false;
			} else if (c == '}' || c == ']') {
				if (--depth == 0) {
					s->p++;
					return true;
				}
			}
			s->p++;
		}
		return false;
	}
	const char *start = s->p;
	while (s->p < s->end && *s->p != ',' && *s->p != '}' && *s->p != ']' && *s->p != ' ' &&
	       *s->p != '\n' && *s->p != '\r' && *s->p != '\t')
		s->p++;
	return s->p > start;
}

/* Reads "key": leaving p at the value; *done at the end of the object.
 * *members counts the members read so far: all but the first need a comma. */
static struct ph_error *next_key(struct scanner *s, char *key, size_t size, bool *done,
				 unsigned *members)
{
	skip_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		*done = true;
		return NULL;
	}
	if (*members > 0) {
		if (s->p >= s->end || *s->p != ',')
			return bad(s, "expected ',' between members");
		s->p++;
		skip_ws(s);
	}
	(*members)++;
	const char *k = s->p;
	if (!skip_string(s))
		return bad(s, "expected a key");
	size_t len = (size_t)(s->p - k) - 2;
	if (len >= size)
		len = size - 1;
	memcpy(key, k + 1, len);
	key[len] = '\0';
	skip_ws(s);
	if (s->p >= s->end || *s->p != ':')
		return bad(s, "expected ':'");
	s->p++;
	skip_ws(s);
	*done = false;
	return NULL;
}

static struct ph_error *parse_json_value(struct scanner *s, cJSON **out, const char *what)
{
	const char *value = s->p;
	if (!skip_value(s))
		return bad(s, what);
	*out = cJSON_ParseWithLength(value, (size_t)(s->p - value));
	if (!*out)
		return bad(s, what);
	return NULL;
}

/* Parses an array of integers, calling put for each; count returned. */
static struct ph_error *parse_ints(struct scanner *s, const char *what, void *ctx,
				   bool (*put)(void *ctx, uint64_t i, int64_t value),
				   uint64_t *count)
{
	*count = 0;
	skip_ws(s);
	if (s->p >= s->end || *s->p != '[')
		return bad(s, what);
	s->p++;
	uint64_t n = 0;
	for (;;) {
		skip_ws(s);
		if (s->p < s->end && *s->p == ']') {
			s->p++;
			break;
		}
		if (n > 0) {
			if (s->p >= s->end || *s->p != ',')
				return bad(s, what);
			s->p++;
			skip_ws(s);
		}
		bool negative = false;
		if (s->p < s->end && *s->p == '-') {
			negative = true;
			s->p++;
		}
		if (s->p >= s->end || *s->p < '0' || *s->p > '9')
			return bad(s, what);
		uint64_t v = 0;
		int digits = 0;
		while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
			if (++digits > 19)
				return bad(s, what);
			v = v * 10 + (uint64_t)(*s->p++ - '0');
		}
		int64_t value = negative ? -(int64_t)v : (int64_t)v;
		if (!put(ctx, n, value))
			return bad(s, what);
		n++;
	}
	*count = n;
	return NULL;
}

struct graph_parse {
	struct ph_graph *g;
	uint64_t declared_nodes, declared_edges;
	uint64_t edge_sum;
	uint32_t *lengths; /* light mode: count container edges instead of keeping them */
	uint32_t source;   /* light mode: the node whose edges are being read */
	uint32_t light_to;
};

static bool put_node(void *ctx, uint64_t i, int64_t value)
{
	struct graph_parse *gp = ctx;
	uint64_t node = i / 6, field = i % 6;
	if (node >= gp->declared_nodes)
		return false;
	struct ph_node *n = &gp->g->nodes[node];
	switch (field) {
	case 0:
		if (value < 0)
			return false;
		n->address = (uint64_t)value;
		return true;
	case 1:
		if (value < 0 || value >= gp->g->strings.count)
			return false;
		n->type = (uint32_t)value;
		return true;
	case 2:
		if (value < 0)
			return false;
		n->size = (uint64_t)value;
		return true;
	case 3:
		if (value < 0 || value > 0xffff)
			return false;
		n->flags = (uint32_t)value;
		return true;
	case 4:
		if (value < -1 || value >= gp->g->strings.count)
			return false;
		n->detail = value < 0 ? PH_NO_STRING : (uint32_t)value;
		return true;
	default:
		if (value < 0 || (uint64_t)value > gp->declared_edges - gp->edge_sum)
			return false;
		gp->g->edge_start[node] = gp->edge_sum;
		gp->edge_sum += (uint64_t)value;
		return true;
	}
}

static bool put_light_edge(struct graph_parse *gp, uint64_t edge, uint64_t field, int64_t value)
{
	const struct ph_graph *g = gp->g;
	if (field == 0) {
		if (value < 0 || (uint64_t)value >= gp->declared_nodes)
			return false;
		while (gp->source + 1 < gp->declared_nodes && edge >= g->edge_start[gp->source + 1])
			gp->source++;
		return true;
	}
	if (field == 1) {
		if (value < 0 || value >= PH_EDGE_KIND_COUNT)
			return false;
		if (value == PH_EDGE_ITEM || value == PH_EDGE_DICT_VALUE || value == PH_EDGE_SET_ITEM)
			gp->lengths[gp->source]++;
		return true;
	}
	return value >= 0;
}

static bool put_edge(void *ctx, uint64_t i, int64_t value)
{
	struct graph_parse *gp = ctx;
	uint64_t edge = i / 3, field = i % 3;
	if (edge >= gp->declared_edges)
		return false;
	if (gp->lengths)
		return put_light_edge(gp, edge, field, value);
	struct ph_edge *e = &gp->g->edges[edge];
	switch (field) {
	case 0:
		if (value < 0 || (uint64_t)value >= gp->declared_nodes)
			return false;
		e->to = (uint32_t)value;
		return true;
	case 1:
		if (value < 0 || value >= PH_EDGE_KIND_COUNT)
			return false;
		e->kind = (uint32_t)value;
		return true;
	default:
		if (value < 0)
			return false;
		e->label = (uint64_t)value;
		return true;
	}
}

static bool put_root(void *ctx, uint64_t i, int64_t value)
{
	struct graph_parse *gp = ctx;
	struct ph_graph *g = gp->g;
	uint64_t root = i / 3, field = i % 3;
	if (field == 0) {
		if (value < 0 || (uint64_t)value >= gp->declared_nodes || root >= UINT32_MAX - 1)
			return false;
		return ph_graph_push_root(g, (struct ph_root){(uint32_t)value, 0, PH_NO_STRING});
	}
	struct ph_root *r = &g->roots[g->root_count - 1];
	if (field == 1) {
		if (value < 0 || value >= PH_ROOT_KIND_COUNT)
			return false;
		r->kind = (uint32_t)value;
		return true;
	}
	if (value < -1 || value >= g->strings.count)
		return false;
	r->name = value < 0 ? PH_NO_STRING : (uint32_t)value;
	return true;
}

static bool string_label_kind(uint32_t kind)
{
	return kind == PH_EDGE_ATTRIBUTE || kind == PH_EDGE_DICT_KEY || kind == PH_EDGE_DICT_VALUE ||
	       kind == PH_EDGE_LOCAL || kind == PH_EDGE_SLOT;
}

static struct ph_error *parse_graph(struct scanner *s, struct ph_graph *g, unsigned flags,
				   uint32_t **lengths)
{
	skip_ws(s);
	if (s->p >= s->end || *s->p != '{')
		return bad(s, "graph is not an object");
	s->p++;
	struct graph_parse gp = {g, UINT64_MAX, UINT64_MAX, 0, NULL, 0, 0};
	bool have_nodes = false, have_edges = false, have_strings = false, have_roots = false;
	unsigned members = 0;
	for (;;) {
		char key[64];
		bool done;
		struct ph_error *err = next_key(s, key, sizeof(key), &done, &members);
		if (err)
			return err;
		if (done)
			break;
		if (strcmp(key, "node_count") == 0 || strcmp(key, "edge_count") == 0) {
			cJSON *n;
			if ((err = parse_json_value(s, &n, key)))
				return err;
			double v = cJSON_IsNumber(n) ? n->valuedouble : -1;
			cJSON_Delete(n);
			uint64_t count;
			if (!ph_double_to_u64(v, key[0] == 'e' ? (1ull << 38) : 4000000000ull, &count))
				return bad(s, key);
			if (key[0] == 'n')
				gp.declared_nodes = count;
			else
				gp.declared_edges = count;
		} else if (strcmp(key, "strings") == 0) {
			if (have_strings)
				return bad(s, "graph.strings appears twice");
			cJSON *array;
			if ((err = parse_json_value(s, &array, "graph.strings")))
				return err;
			if (!cJSON_IsArray(array)) {
				cJSON_Delete(array);
				return bad(s, "graph.strings is not an array");
			}
			cJSON *item;
			cJSON_ArrayForEach(item, array)
			{
				if (!cJSON_IsString(item)) {
					cJSON_Delete(array);
					return bad(s, "graph.strings holds a non-string");
				}
				/* no interning: indexes must stay as written */
				if (g->strings.count == g->strings.capacity) {
					uint32_t capacity = g->strings.capacity ? g->strings.capacity * 2 : 1024;
					char **grown = realloc(g->strings.items, capacity * sizeof(*grown));
					if (!grown) {
						cJSON_Delete(array);
						return &ph_error_out_of_memory;
					}
					g->strings.items = grown;
					g->strings.capacity = capacity;
				}
				g->strings.items[g->strings.count] = strdup(item->valuestring);
				if (!g->strings.items[g->strings.count]) {
					cJSON_Delete(array);
					return &ph_error_out_of_memory;
				}
				g->strings.count++;
			}
			cJSON_Delete(array);
			have_strings = true;
		} else if (strcmp(key, "nodes") == 0) {
			if (have_nodes)
				return bad(s, "graph.nodes appears twice");
			if (!have_strings || gp.declared_nodes == UINT64_MAX || gp.declared_edges == UINT64_MAX)
				return bad(s, "graph.nodes before node_count, edge_count and strings");
			/* huge pages, within the memory budget (pyheap/big_alloc.h) */
			g->nodes = ph_big_calloc(gp.declared_nodes ? gp.declared_nodes : 1, sizeof(*g->nodes));
			g->edge_start = ph_big_calloc(gp.declared_nodes + 1, sizeof(*g->edge_start));
			if (!g->nodes || !g->edge_start)
				return out_of_memory("the graph's nodes");
			g->node_count = g->node_capacity = (uint32_t)gp.declared_nodes;
			uint64_t n;
			if ((err = parse_ints(s, "graph.nodes", &gp, put_node, &n)))
				return err;
			if (n != gp.declared_nodes * 6 || gp.edge_sum != gp.declared_edges)
				return bad(s, "graph.nodes does not match node_count/edge_count");
			g->edge_start[gp.declared_nodes] = gp.edge_sum;
			have_nodes = true;
		} else if (strcmp(key, "edges") == 0) {
			if (have_edges)
				return bad(s, "graph.edges appears twice");
			if (!have_nodes)
				return bad(s, "graph.edges before graph.nodes");
			if (flags & PH_LOAD_NO_EDGES) {
				*lengths = calloc(gp.declared_nodes ? gp.declared_nodes : 1, sizeof(**lengths));
				if (!*lengths)
					return &ph_error_out_of_memory;
				gp.lengths = *lengths;
			} else {
				g->edges = ph_big_calloc(gp.declared_edges ? gp.declared_edges : 1, sizeof(*g->edges));
				if (!g->edges)
					return out_of_memory("the graph's edges");
				g->edge_count = g->edge_capacity = gp.declared_edges;
			}
			uint64_t n;
			if ((err = parse_ints(s, "graph.edges", &gp, put_edge, &n)))
				return err;
			if (n != gp.declared_edges * 3)
				return bad(s, "graph.edges does not match edge_count");
			for (uint64_t e = 0; e < g->edge_count; e++)
				if (string_label_kind(g->edges[e].kind) && g->edges[e].label >= g->strings.count)
					return bad(s, "an edge label names no string");
			have_edges = true;
		} else if (strcmp(key, "roots") == 0) {
			if (have_roots)
				return bad(s, "graph.roots appears twice");
			if (!have_nodes)
				return bad(s, "graph.roots before graph.nodes");
			uint64_t n;
			if ((err = parse_ints(s, "graph.roots", &gp, put_root, &n)))
				return err;
			if (n % 3)
				return bad(s, "graph.roots is not made of triples");
			for (uint32_t r = 0; r < g->root_count; r++)
				g->nodes[g->roots[r].node].flags |= PH_NODE_ROOT;
			have_roots = true;
		} else if (!skip_value(s)) {
			return bad(s, "unreadable graph member");
		}
	}
	if (!have_nodes || !have_edges || !have_roots)
		return bad(s, "the graph lacks nodes, edges or roots");
	return NULL;
}

/* The exceptions section: each item's scalar fields; tracebacks skipped. */
static struct ph_error *parse_exceptions(struct scanner *s, struct ph_loaded_snapshot *out)
{
	skip_ws(s);
	if (s->p >= s->end || *s->p != '[')
		return bad(s, "exceptions is not an array");
	s->p++;
	size_t capacity = 0;
	for (;;) {
		skip_ws(s);
		if (s->p < s->end && *s->p == ']') {
			s->p++;
			return NULL;
		}
		if (out->exception_count > 0) {
			if (s->p >= s->end || *s->p != ',')
				return bad(s, "exceptions: expected ','");
			s->p++;
			skip_ws(s);
		}
		if (s->p >= s->end || *s->p != '{')
			return bad(s, "exceptions: expected an object");
		s->p++;
		if (out->exception_count == capacity) {
			capacity = capacity ? capacity * 2 : 64;
			struct ph_exception_summary *grown =
			    realloc(out->exceptions, capacity * sizeof(*grown));
			if (!grown)
				return &ph_error_out_of_memory;
			out->exceptions = grown;
		}
		struct ph_exception_summary *e = &out->exceptions[out->exception_count++];
		memset(e, 0, sizeof(*e));
		unsigned members = 0;
		for (;;) {
			char key[64];
			bool done;
			struct ph_error *err = next_key(s, key, sizeof(key), &done, &members);
			if (err)
				return err;
			if (done)
				break;
			if (strcmp(key, "address") && strcmp(key, "type") && strcmp(key, "repr") &&
			    strcmp(key, "traceback_length")) {
				if (!skip_value(s))
					return bad(s, "exceptions: unreadable value");
				continue;
			}
			cJSON *value;
			if ((err = parse_json_value(s, &value, "exceptions")))
				return err;
			if (key[0] == 'a' && cJSON_IsNumber(value))
				ph_double_to_u64(value->valuedouble, UINT64_MAX, &e->address);
			else if (key[0] == 't' && key[1] == 'y' && cJSON_IsString(value) && !e->type)
				e->type = strdup(value->valuestring);
			else if (key[0] == 'r' && cJSON_IsString(value) && !e->repr)
				e->repr = strdup(value->valuestring);
			else if (key[0] == 't' && cJSON_IsNumber(value))
				ph_double_to_u64(value->valuedouble, UINT64_MAX, &e->traceback_length);
			cJSON_Delete(value);
		}
		if (!e->type || !e->repr)
			return bad(s, "exceptions: an item lacks type or repr");
	}
}

struct ph_error *ph_snapshot_parse(const char *text, size_t len, struct ph_loaded_snapshot *out)
{
	return ph_snapshot_parse_flags(text, len, PH_LOAD_FULL, out);
}

struct ph_error *ph_snapshot_parse_flags(const char *text, size_t len, unsigned flags,
					 struct ph_loaded_snapshot *out)
{
	memset(out, 0, sizeof(*out));
	ph_graph_init(&out->graph);
	struct scanner s = {text, text + len, text};
	struct ph_error *err = NULL;
	skip_ws(&s);
	if (s.p >= s.end || *s.p != '{')
		return bad(&s, "it is not a JSON object");
	s.p++;
	bool format_ok = false;
	int version = -1;
	unsigned members = 0;
	for (;;) {
		char key[64];
		bool done;
		if ((err = next_key(&s, key, sizeof(key), &done, &members)))
			goto fail;
		if (done)
			break;
		cJSON *value = NULL;
		if ((strcmp(key, "graph") == 0 && out->has_graph) ||
		    (strcmp(key, "exceptions") == 0 && out->has_exceptions) ||
		    (strcmp(key, "target") == 0 && out->target) ||
		    (strcmp(key, "capture") == 0 && out->capture) ||
		    (strcmp(key, "types") == 0 && out->types)) {
			err = bad(&s, "a section appears twice");
			goto fail;
		}
		if (strcmp(key, "graph") == 0) {
			if (!format_ok || version != 1) {
				err = bad(&s, "the graph comes before the format header");
				goto fail;
			}
			if ((err = parse_graph(&s, &out->graph, flags, &out->lengths)))
				goto fail;
			out->has_graph = true;
			continue;
		}
		if (strcmp(key, "exceptions") == 0) {
			if ((err = parse_exceptions(&s, out)))
				goto fail;
			out->has_exceptions = true;
			continue;
		}
		if (strcmp(key, "format") && strcmp(key, "version") && strcmp(key, "target") &&
		    strcmp(key, "capture") && strcmp(key, "types")) {
			if (!skip_value(&s)) {
				err = bad(&s, "unreadable value");
				goto fail;
			}
			continue;
		}
		if ((err = parse_json_value(&s, &value, key)))
			goto fail;
		if (strcmp(key, "format") == 0) {
			format_ok = cJSON_IsString(value) && strcmp(value->valuestring, "pyheap-snapshot") == 0;
			cJSON_Delete(value);
			if (!format_ok) {
				err = ph_error_new(PH_EXIT_BAD_INPUT,
						   "not a pyheap snapshot (\"format\" is not \"pyheap-snapshot\")");
				goto fail;
			}
		} else if (strcmp(key, "version") == 0) {
			version = cJSON_IsNumber(value) ? value->valueint : -1;
			cJSON_Delete(value);
			if (version != 1) {
				err = ph_error_new(PH_EXIT_BAD_INPUT,
						   "snapshot format version %d: this pyheap reads version 1 "
						   "(a newer pyheap wrote it?)",
						   version);
				goto fail;
			}
		} else if (strcmp(key, "target") == 0) {
			out->target = value;
		} else if (strcmp(key, "capture") == 0) {
			out->capture = value;
		} else {
			out->types = value;
		}
	}
	if (!format_ok || version != 1 || !out->target || !out->capture || !cJSON_IsArray(out->types)) {
		err = ph_error_new(PH_EXIT_BAD_INPUT,
				   "not a complete pyheap snapshot: format, version, target, capture "
				   "and types are required");
		goto fail;
	}
	return NULL;
fail:
	ph_snapshot_unload(out);
	return err;
}

struct ph_error *ph_snapshot_load(const char *path, struct ph_loaded_snapshot *out)
{
	return ph_snapshot_load_flags(path, PH_LOAD_FULL, out);
}

struct ph_error *ph_snapshot_load_flags(const char *path, unsigned flags,
					struct ph_loaded_snapshot *out)
{
	int fd;
	struct ph_error *open_err = ph_input_open(path, &fd);
	if (open_err)
		return open_err;
	const char *name = ph_input_name(path);
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return ph_error_new(PH_EXIT_BAD_INPUT, "%s is not a regular file", name);
	}
	if (st.st_size == 0) {
		close(fd);
		return ph_error_new(PH_EXIT_BAD_INPUT, "%s is empty: no snapshot", name);
	}
	void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return ph_error_new(PH_EXIT_BAD_INPUT, "cannot map %s: %s", name, strerror(errno));
	struct ph_error *err = ph_snapshot_parse_flags(map, (size_t)st.st_size, flags, out);
	munmap(map, (size_t)st.st_size);
	return err ? ph_error_wrap(err, "%s", name) : NULL;
}

void ph_snapshot_unload(struct ph_loaded_snapshot *s)
{
	cJSON_Delete(s->target);
	cJSON_Delete(s->capture);
	cJSON_Delete(s->types);
	ph_graph_free(&s->graph);
	for (size_t i = 0; i < s->exception_count; i++) {
		free(s->exceptions[i].type);
		free(s->exceptions[i].repr);
	}
	free(s->exceptions);
	free(s->lengths);
	memset(s, 0, sizeof(*s));
}
