/* valbench.c — validations per second of oapigen-compiled validators
 * (tables from valgen: b30_schemas[] for OpenAPI 3.0 schemas, b31_schemas[]
 * for 3.1), over the instances of CASES.json, every error collected
 * (rt_schema_validate appends every violation). ajv.js does the same with
 * ajv on the same file.
 *
 *   valbench CASES.json SECONDS
 *
 * CASES.json: [{"name", "dialect": 30|31, "index", "instances": [{"data", "valid"}]}]
 * Prints per case: "case<TAB>name<TAB>validations/s<TAB>errors per pass<TAB>verdicts that disagree with `valid`". */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <jansson.h>

#include "rt_errors.h"
#include "rt_schema.h"

extern const rt_schema *const b30_schemas[];
extern const size_t b30_nschemas;
extern const rt_schema *const b31_schemas[];
extern const size_t b31_nschemas;

static double valbench_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One pass over the instances; returns the errors found, *wrong = verdicts
   that disagree with the expected validity. */
static size_t valbench_pass(const rt_schema *s, json_t *inst, size_t *wrong)
{
	size_t errors = 0, i;
	json_t *it;

	json_array_foreach(inst, i, it) {
		rt_errors e;
		int n;
		rt_errors_init(&e);
		n = rt_schema_validate(s, json_object_get(it, "data"), RT_DIR_NONE, &e);
		errors += e.n;
		if ((n == 0) != json_is_true(json_object_get(it, "valid")))
			(*wrong)++;
		rt_errors_free(&e);
	}
	return errors;
}

int main(int argc, char **argv)
{
	json_error_t jerr;
	json_t *cases, *c;
	double secs;
	size_t ci;

	if (argc != 3) {
		fprintf(stderr, "usage: valbench CASES.json SECONDS\n");
		return 2;
	}
	secs = atof(argv[2]);
	cases = json_load_file(argv[1], 0, &jerr);
	if (!json_is_array(cases)) {
		fprintf(stderr, "%s:%d:%d: %s\n", argv[1], jerr.line, jerr.column, jerr.text);
		return 1;
	}
	json_array_foreach(cases, ci, c) {
		json_t *inst = json_object_get(c, "instances");
		size_t idx = (size_t)json_integer_value(json_object_get(c, "index")), wrong = 0, errors, passes = 0, sink = 0;
		int d31 = json_integer_value(json_object_get(c, "dialect")) == 31;
		const rt_schema *s;
		double t0, t;

		if (idx >= (d31 ? b31_nschemas : b30_nschemas)) {
			fprintf(stderr, "valbench: case %zu: no schema %zu\n", ci, idx);
			return 1;
		}
		s = d31 ? b31_schemas[idx] : b30_schemas[idx];
		errors = valbench_pass(s, inst, &wrong);     /* also the warm-up */
		t0 = valbench_now();
		do {
			size_t w = 0;
			sink += valbench_pass(s, inst, &w);
			passes++;
			t = valbench_now();
		} while (t - t0 < secs);
		printf("case\t%s\t%.0f\t%zu\t%zu\n", json_string_value(json_object_get(c, "name")),
		       (double)(passes * json_array_size(inst)) / (t - t0), errors, wrong);
		if (sink != errors * passes)
			fprintf(stderr, "valbench: %s: error count changed between passes\n", json_string_value(json_object_get(c, "name")));
	}
	json_decref(cases);
	return 0;
}
