#include "pyheap/snapshot_reader.h"

#include <string.h>

static const char *json_string(const cJSON *object, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
	return cJSON_IsString(item) ? item->valuestring : "";
}

static double json_number(const cJSON *object, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
	return cJSON_IsNumber(item) ? item->valuedouble : -1;
}

bool ph_snapshot_same_process(const struct ph_loaded_snapshot *a, const struct ph_loaded_snapshot *b)
{
	double pid_a = json_number(a->target, "pid"), pid_b = json_number(b->target, "pid");
	double start_a = json_number(a->target, "start_ticks");
	double start_b = json_number(b->target, "start_ticks");
	return pid_a == pid_b && pid_a > 0 &&
	       strcmp(json_string(a->target, "exe"), json_string(b->target, "exe")) == 0 &&
	       (start_a <= 0 || start_b <= 0 || start_a == start_b);
}

bool ph_snapshot_same_capture(const struct ph_loaded_snapshot *a, const struct ph_loaded_snapshot *b)
{
	const char *time_a = json_string(a->capture, "time");
	return time_a[0] && strcmp(time_a, json_string(b->capture, "time")) == 0 &&
	       json_number(a->target, "pid") == json_number(b->target, "pid");
}
