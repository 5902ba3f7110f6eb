/* fuzz_params.c — the parameter parser of runtime/rt_params.c: one raw
 * parameter value (as ulfius hands it over, percent-decoded) through
 * rt_params_coerce for every schema type a parameter can have and every
 * style, then through the validator.
 *
 * Input: byte 0 picks the schema (low bits) and the style (high bits); the
 * rest is the raw value up to its first NUL (C strings, as ulfius gives).
 *
 * Oracle, besides the sanitizers: a value comes back exactly when no error
 * was added; a value has one of the schema's types; an integer is the one
 * strtoll reads; the validator's count is the number of errors it added.
 */
#include "fuzz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_http.h"

/* a table as oapigen writes one: a limit only with its RT_S_HAS_* flag */
#define FUZZ_S(...) { .where = "fuzz", __VA_ARGS__ }

static rt_schema_cache fuzz_pattern = { .pattern = "^[A-Za-z0-9_-]{1,40}$" };
static rt_schema_cache fuzz_enum = { .enum_json = "[\"asc\", \"desc\", 1, true]" };

static const rt_schema fuzz_int = FUZZ_S(.types = RT_T_INTEGER, .flags = RT_S_HAS_MIN | RT_S_HAS_MAX,
                                         .minimum = 1, .maximum = 1000);
static const rt_schema fuzz_int64 = FUZZ_S(.types = RT_T_INTEGER, .format = RT_FMT_INT64);
static const rt_schema fuzz_num = FUZZ_S(.types = RT_T_NUMBER, .flags = RT_S_HAS_MULTIPLE, .multiple_of = 0.5);
static const rt_schema fuzz_bool = FUZZ_S(.types = RT_T_BOOLEAN);
static const rt_schema fuzz_uuid = FUZZ_S(.types = RT_T_STRING, .format = RT_FMT_UUID, .flags = RT_S_FORMAT_ASSERT);
static const rt_schema fuzz_name = FUZZ_S(.types = RT_T_STRING, .flags = RT_S_HAS_MAX_LENGTH, .max_length = 40, .cache = &fuzz_pattern);
static const rt_schema fuzz_time = FUZZ_S(.types = RT_T_STRING, .format = RT_FMT_DATE_TIME,
                                          .flags = RT_S_FORMAT_ASSERT);
static const rt_schema fuzz_enumed = FUZZ_S(.types = 0, .cache = &fuzz_enum);
static const rt_schema fuzz_int_or_str = FUZZ_S(.types = RT_T_INTEGER | RT_T_STRING, .flags = RT_S_HAS_MIN_LENGTH, .min_length = 1);
static const rt_schema fuzz_int_or_num = FUZZ_S(.types = RT_T_INTEGER | RT_T_NUMBER | RT_T_NULL);
static const rt_schema fuzz_any = FUZZ_S(.types = 0);
static const rt_schema fuzz_obj = FUZZ_S(.types = RT_T_OBJECT);
static const rt_schema fuzz_arr_int = FUZZ_S(.types = RT_T_ARRAY, .flags = RT_S_HAS_MAX_ITEMS, .max_items = 8, .items = &fuzz_int);
static const rt_schema fuzz_arr_str = FUZZ_S(.types = RT_T_ARRAY, .items = &fuzz_name, .flags = RT_S_UNIQUE);
static const rt_schema fuzz_arr_num = FUZZ_S(.types = RT_T_ARRAY, .flags = RT_S_HAS_MIN_ITEMS, .min_items = 1, .items = &fuzz_num);
static const rt_schema fuzz_arr_bool = FUZZ_S(.types = RT_T_ARRAY, .items = &fuzz_bool);
static const rt_schema fuzz_arr_any = FUZZ_S(.types = RT_T_ARRAY);
static const rt_schema fuzz_arr_obj = FUZZ_S(.types = RT_T_ARRAY, .flags = RT_S_HAS_MAX_ITEMS, .max_items = 4,
                                             .items = &fuzz_obj); /* an item each object's JSON text */

static const rt_schema *const fuzz_schemas[] = {
	&fuzz_int, &fuzz_int64, &fuzz_num, &fuzz_bool, &fuzz_uuid, &fuzz_name, &fuzz_time, &fuzz_enumed,
	&fuzz_int_or_str, &fuzz_int_or_num, &fuzz_any, &fuzz_obj, &fuzz_arr_int, &fuzz_arr_str, &fuzz_arr_num,
	&fuzz_arr_bool, &fuzz_arr_any, &fuzz_arr_obj,
};
#define FUZZ_NSCHEMAS (sizeof fuzz_schemas / sizeof fuzz_schemas[0])

static const enum rt_style fuzz_styles[] = {
	RT_STYLE_SIMPLE, RT_STYLE_FORM, RT_STYLE_SPACE_DELIMITED, RT_STYLE_PIPE_DELIMITED, RT_STYLE_LABEL, RT_STYLE_MATRIX,
};
#define FUZZ_NSTYLES (sizeof fuzz_styles / sizeof fuzz_styles[0])

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	if (rt_schema_prepare(&fuzz_pattern, err, sizeof err) != 0 || rt_schema_prepare(&fuzz_enum, err, sizeof err) != 0) {
		fprintf(stderr, "fuzz_params: %s\n", err);
		abort();
	}
	return 0;
}

/* 1 if v's JSON type is one the mask allows (integers count as numbers). */
static int fuzz_params_type_ok(const json_t *v, unsigned types)
{
	if (!types)
		return 1;
	switch (json_typeof(v)) {
	case JSON_OBJECT: return (types & RT_T_OBJECT) != 0;
	case JSON_ARRAY: return (types & RT_T_ARRAY) != 0;
	case JSON_STRING: return (types & RT_T_STRING) != 0;
	case JSON_INTEGER: return (types & (RT_T_INTEGER | RT_T_NUMBER)) != 0;
	case JSON_REAL: return (types & RT_T_NUMBER) != 0;
	case JSON_TRUE:
	case JSON_FALSE: return (types & RT_T_BOOLEAN) != 0;
	case JSON_NULL: return (types & RT_T_NULL) != 0;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const rt_schema *s;
	rt_param p = { .name = "fuzz" };
	char *raw;
	json_t *v;
	rt_errors errs;
	size_t before;
	int n;

	if (size < 1)
		return 0;
	s = fuzz_schemas[data[0] % FUZZ_NSCHEMAS];
	p.schema = s;
	p.style = fuzz_styles[(data[0] / FUZZ_NSCHEMAS) % FUZZ_NSTYLES];
	p.in = p.style == RT_STYLE_SIMPLE || p.style == RT_STYLE_LABEL || p.style == RT_STYLE_MATRIX ? RT_IN_PATH : RT_IN_QUERY;
	p.explode = (data[0] & 0x80) != 0;
	raw = strndup((const char *)data + 1, size - 1);
	if (!raw)
		return 0;
	rt_errors_init(&errs);
	v = rt_params_coerce(&p, raw, "parameter \"fuzz\"", &errs);
	FUZZ_ASSERT((v != NULL) == (errs.n == 0), "value %p with %zu errors for \"%s\"", (void *)v, errs.n, raw);
	if (v) {
		FUZZ_ASSERT(fuzz_params_type_ok(v, rt_schema_types(s)), "\"%s\" became a JSON %d for types 0x%x", raw,
		            json_typeof(v), rt_schema_types(s));
		if (json_is_integer(v) && rt_schema_types(s) == RT_T_INTEGER) {
			/* the digits follow the prefix the style requires: ".22" (label) and
			   ";fuzz=22" (matrix) are 22 */
			const char *num = raw;
			if (p.style == RT_STYLE_LABEL) {
				FUZZ_ASSERT(raw[0] == '.', "label value \"%s\" accepted without its \".\"", raw);
				num = raw + 1;
			} else if (p.style == RT_STYLE_MATRIX) {
				FUZZ_ASSERT(strncmp(raw, ";fuzz=", 6) == 0, "matrix value \"%s\" accepted without \";fuzz=\"", raw);
				num = raw + 6;
			}
			errno = 0;
			FUZZ_ASSERT(strtoll(num, NULL, 10) == json_integer_value(v) && errno == 0,
			            "\"%s\" read as %lld", raw, (long long)json_integer_value(v));
		}
		before = errs.n;
		n = rt_schema_validate(s, v, RT_DIR_REQUEST, &errs);
		FUZZ_ASSERT(n >= 0 && (size_t)n == errs.n - before, "validate said %d, added %zu", n, errs.n - before);
		FUZZ_ASSERT((n == 0) == rt_schema_check(s, v, RT_DIR_REQUEST), "validate and check disagree on \"%s\"",
		            raw);
		json_decref(rt_errors_to_json(&errs)); /* every message renders */
	}
	json_decref(v);
	rt_errors_free(&errs);
	free(raw);
	return 0;
}
