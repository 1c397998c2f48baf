#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "pyheap/json_writer.h"
#include "unit.h"

static char *render(void (*build)(struct ph_json_writer *), bool pretty)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	struct ph_json_writer w;
	ph_json_init(&w, out, pretty);
	build(&w);
	bool ok = ph_json_finish(&w);
	fclose(out);
	if (!ok) {
		free(text);
		return NULL;
	}
	return text;
}

static void build_nested(struct ph_json_writer *w)
{
	ph_json_begin_object(w);
	ph_json_key(w, "name");
	ph_json_string(w, "__main__.Book");
	ph_json_key(w, "count");
	ph_json_uint(w, 18446744073709551615ull);
	ph_json_key(w, "list");
	ph_json_begin_array(w);
	ph_json_int(w, -5);
	ph_json_double(w, 2.5);
	ph_json_bool(w, true);
	ph_json_null(w);
	ph_json_begin_object(w);
	ph_json_end_object(w);
	ph_json_begin_array(w);
	ph_json_end_array(w);
	ph_json_end_array(w);
	ph_json_end_object(w);
}

static const char hostile[] = "q\"b\\s\n\t\x01\x7f caf\xc3\xa9 bad\xff\xfe \xe2\x82 end \xed\xa0\x80";

static void build_hostile(struct ph_json_writer *w)
{
	ph_json_begin_object(w);
	ph_json_key(w, hostile);
	ph_json_string_n(w, hostile, sizeof(hostile) - 1);
	ph_json_end_object(w);
}

static void build_unbalanced(struct ph_json_writer *w)
{
	ph_json_begin_object(w);
}

int main(void)
{
	for (int pretty = 0; pretty < 2; pretty++) {
		char *text = render(build_nested, pretty);
		CHECK(text != NULL, "nested document failed");
		cJSON *doc = text ? cJSON_Parse(text) : NULL;
		CHECK(doc != NULL, "cJSON cannot parse: %s", text ? text : "(null)");
		if (doc) {
			cJSON *name = cJSON_GetObjectItem(doc, "name");
			CHECK(cJSON_IsString(name) && strcmp(name->valuestring, "__main__.Book") == 0,
			      "name");
			cJSON *list = cJSON_GetObjectItem(doc, "list");
			CHECK(cJSON_GetArraySize(list) == 6, "list has %d items", cJSON_GetArraySize(list));
			CHECK(cJSON_GetArrayItem(list, 1)->valuedouble == 2.5, "double");
			cJSON_Delete(doc);
		}
		CHECK(text && strstr(text, "18446744073709551615"), "uint64 max written exactly");
		free(text);
	}

	char *text = render(build_hostile, false);
	CHECK(text != NULL, "hostile document failed");
	cJSON *doc = text ? cJSON_Parse(text) : NULL;
	CHECK(doc != NULL, "hostile strings must still give valid JSON: %s", text ? text : "");
	if (doc) {
		const char *value = doc->child ? doc->child->valuestring : NULL;
		CHECK(value && strncmp(value, "q\"b\\s\n\t\x01\x7f caf\xc3\xa9 bad", 18) == 0,
		      "escapes round-trip: %s", value ? value : "(null)");
		CHECK(value && strstr(value, "\xef\xbf\xbd"), "invalid UTF-8 became U+FFFD");
		cJSON_Delete(doc);
	}
	CHECK(text && strchr(text, '\n') != NULL, "finish adds a newline");
	CHECK(text && strstr(text, "\\u0001") != NULL, "control characters escaped");
	free(text);

	CHECK(render(build_unbalanced, false) == NULL, "unbalanced nesting is reported");
	return unit_finish("unit-json-writer");
}
