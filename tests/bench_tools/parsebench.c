/* parsebench.c — bytes to validated value: the C side of bench-parse.
 *
 *   parsebench CASES.json SECONDS            rates (bodies/s)
 *   parsebench --callgrind CASES.json        one pass per body under
 *       valgrind --tool=callgrind --collect-atstart=no: each body's
 *       instructions are dumped on their own ("<path> <case> <group> <body>")
 *
 * CASES.json (prep_parse.js): [{"name", "dialect", "index", "bodies":
 * [{"text", "valid", "kind"}]}]; the schema tables come from valgen
 * (b30_schemas[], b31_schemas[]), as in valbench.c.
 *
 * Every way of reading a body has one shape (parsebench.h): bytes in, a
 * validated value out, every violation appended; 0 = valid, > 0 = violations
 * added (malformed JSON is one, keyword "json"), < 0 = out of memory.
 * Measured per case, over its valid bodies and over all of them (mix):
 *   ours       the byte parser oapigen generates for the schema (gen_parse,
 *              emitted by valgen as b30_parsers[] / b31_parsers[]): one pass
 *              over rt_jread, every keyword in generated code, the value an
 *              rt_value tree in the arena (rt_parse_value: the parser
 *              builds no json_t; its reader's tokens build the tree)
 *   json       the same parser building the json_t a handler without a
 *              model receives (released with json_decref)
 *   jread      rt_jread_skip over the whole body, no validation: the floor a
 *              generated parser starts from
 *   loadb      json_loadb alone
 *   today      json_loadb (rt_http.c's flags) + rt_schema_validate: the
 *              request path before the generated parsers ("before"); its
 *              verdict and error count are compared with ours on every body
 *   typed      a parser of parsebench.h linked in beside (bench_parsers[],
 *              weak; parse_models.c: the model parsers generated for the
 *              create bodies): where a case has one, it is "ours"
 * Prints per case and group: "case<TAB>name<TAB>group<TAB>ours/s<TAB>errors
 * per pass<TAB>wrong verdicts<TAB>jread/s<TAB>loadb/s<TAB>today/s<TAB>bodies
 * where ours (or json) and today differ<TAB>json/s".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <valgrind/callgrind.h>

#include "rt_arena.h"
#include "rt_errors.h"
#include "rt_jread.h"
#include "rt_parse.h"
#include "rt_schema.h"

extern const rt_parse_fn b30_parsers[], b31_parsers[];
extern const rt_parse_vfn b30_roots[], b31_roots[];
extern const rt_schema *const b30_schemas[];
extern const size_t b30_nschemas;
extern const rt_schema *const b31_schemas[];
extern const size_t b31_nschemas;

#include "parsebench.h"

/* weak: parsebench links and runs without any typed parser */
extern const bench_parser bench_parsers[] __attribute__((weak));

typedef struct body {
	char *text; /* exactly len bytes, no NUL after them */
	size_t len;
	int valid;
} body;

static const rt_schema *today_schema;
static rt_parse_fn ours_fn;
static rt_parse_vfn ours_root;

/* ours: the byte parser gen_parse generated for the schema (the schemas
   here have no C model), the value an rt_value tree in the arena
   (rt_parse_value: the parser builds no json_t; its reader's tokens build
   the tree as it reads them) */
static int ours_parse(const char *buf, size_t len, rt_arena *arena, void *model_out, rt_errors *errs)
{
	int rc = rt_parse_value(ours_root, buf, len, arena, RT_DIR_NONE, 0, (const rt_value **)model_out, errs);

	return rc == RT_PARSE_NOMEM ? -1 : (int)errs->n;
}

/* the same parser building the json_t a handler without a model gets */
static int json_parse(const char *buf, size_t len, rt_arena *arena, void *model_out, rt_errors *errs)
{
	int rc = ours_fn(buf, len, arena, RT_DIR_NONE, 0, (json_t **)model_out, errs);

	return rc == RT_PARSE_NOMEM ? -1 : (int)errs->n;
}

/* json_loadb + the table validator: the request path of rt_http.c */
static int today_parse(const char *buf, size_t len, rt_arena *arena, void *model_out, rt_errors *errs)
{
	json_error_t jerr;
	json_t *doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);

	(void)arena;
	*(json_t **)model_out = doc;
	if (doc == NULL)
		return rt_errors_add(errs, "", "json", "line %d, column %d: %s", jerr.line, jerr.column, jerr.text) == 0 ? 1 : -1;
	return rt_schema_validate(today_schema, doc, RT_DIR_NONE, errs);
}

static void today_release(void *model)
{
	json_decref(*(json_t **)model);
}

/* rt_jread over the whole body, every value skipped */
static int jread_parse(const char *buf, size_t len, rt_arena *arena, void *model_out, rt_errors *errs)
{
	rt_jread r;

	(void)model_out;
	rt_jread_init(&r, buf, len, arena, 0);
	if (rt_jread_skip(&r) == 0 && rt_jread_next(&r) == RT_JR_END)
		return 0;
	return rt_jread_error_add(&r, errs) == 0 ? 1 : -1;
}

static int loadb_parse(const char *buf, size_t len, rt_arena *arena, void *model_out, rt_errors *errs)
{
	json_t *doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);

	(void)arena;
	*(json_t **)model_out = doc;
	if (doc == NULL)
		return rt_errors_add(errs, "", "json", "malformed") == 0 ? 1 : -1;
	return 0;
}

static const bench_parser today = { "today", today_parse, sizeof(json_t *), today_release };
static const bench_parser ours = { "ours", ours_parse, sizeof(const rt_value *), NULL };
static const bench_parser json = { "json", json_parse, sizeof(json_t *), today_release };
static const bench_parser jread = { "jread", jread_parse, 0, NULL };
static const bench_parser loadb = { "loadb", loadb_parse, sizeof(json_t *), today_release };

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One body through p: the violations it reported (or -1). */
static int one(const bench_parser *p, const body *b, void *model)
{
	_Alignas(max_align_t) char first[4096];
	rt_arena a;
	rt_errors e;
	int n;

	rt_arena_init(&a, first, sizeof first);
	rt_errors_init(&e);
	if (p->model_size)
		memset(model, 0, p->model_size);
	n = p->parse(b->text, b->len, &a, model, &e);
	if (p->release)
		p->release(model);
	if (n >= 0 && (size_t)n != e.n)
		n = -1;
	rt_errors_free(&e);
	rt_arena_free(&a);
	return n;
}

/* One pass: errors reported; *wrong = verdicts that disagree with valid */
static long pass(const bench_parser *p, const body *bodies, size_t n, void *model, size_t *wrong)
{
	long errors = 0;

	for (size_t i = 0; i < n; i++) {
		int k = one(p, &bodies[i], model);
		if (k < 0)
			return -1;
		errors += k;
		if ((k == 0) != bodies[i].valid)
			(*wrong)++;
	}
	return errors;
}

static double rate(const bench_parser *p, const body *bodies, size_t n, void *model, double secs, long *errors, size_t *wrong)
{
	size_t passes = 0, w = 0;
	double t0, t;

	*errors = pass(p, bodies, n, model, wrong); /* also the warm-up */
	t0 = now();
	do {
		if (pass(p, bodies, n, model, &w) != *errors)
			*errors = -1;
		passes++;
		t = now();
	} while (t - t0 < secs);
	return (double)(passes * n) / (t - t0);
}

static const bench_parser *typed_for(const char *name)
{
	if (bench_parsers == NULL)
		return NULL;
	for (const bench_parser *p = bench_parsers; p->name != NULL; p++)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

int main(int argc, char **argv)
{
	_Alignas(max_align_t) unsigned char model[1 << 16];
	int cg = argc == 3 && strcmp(argv[1], "--callgrind") == 0;
	json_error_t jerr;
	json_t *cases, *c;
	double secs = 0;
	size_t ci;

	if (!cg && argc != 3) {
		fprintf(stderr, "usage: parsebench CASES.json SECONDS | parsebench --callgrind CASES.json\n");
		return 2;
	}
	if (!cg)
		secs = atof(argv[2]);
	cases = json_load_file(argv[cg ? 2 : 1], 0, &jerr);
	if (!json_is_array(cases)) {
		fprintf(stderr, "%s:%d:%d: %s\n", argv[cg ? 2 : 1], jerr.line, jerr.column, jerr.text);
		return 1;
	}
	json_array_foreach(cases, ci, c) {
		json_t *jb = json_object_get(c, "bodies"), *it;
		const char *name = json_string_value(json_object_get(c, "name"));
		size_t idx = (size_t)json_integer_value(json_object_get(c, "index")), nb = json_array_size(jb), bi;
		int d31 = json_integer_value(json_object_get(c, "dialect")) == 31;
		const bench_parser *gen = typed_for(name);
		body *all = calloc(nb, sizeof *all), *valid = calloc(nb, sizeof *valid);
		size_t nvalid = 0;

		if (idx >= (d31 ? b31_nschemas : b30_nschemas) || all == NULL || valid == NULL) {
			fprintf(stderr, "parsebench: case %zu: no schema %zu\n", ci, idx);
			return 1;
		}
		today_schema = d31 ? b31_schemas[idx] : b30_schemas[idx];
		ours_fn = d31 ? b31_parsers[idx] : b30_parsers[idx];
		ours_root = d31 ? b31_roots[idx] : b30_roots[idx];
		if (gen != NULL && gen->model_size > sizeof model) {
			fprintf(stderr, "parsebench: %s: model of %zu bytes\n", name, gen->model_size);
			return 1;
		}
		json_array_foreach(jb, bi, it) {
			const char *t = json_string_value(json_object_get(it, "text"));
			all[bi].len = json_string_length(json_object_get(it, "text"));
			all[bi].text = malloc(all[bi].len ? all[bi].len : 1); /* exact size: no NUL to lean on */
			memcpy(all[bi].text, t, all[bi].len);
			all[bi].valid = json_is_true(json_object_get(it, "valid"));
			if (all[bi].valid)
				valid[nvalid++] = all[bi];
		}
		if (cg) {
			const bench_parser *paths[] = { &today, &jread, &json, &ours, gen };
			static const char *const what[] = { "today", "jread", "json", "ours", "typed" };
			size_t w = 0;
			for (size_t k = 0; k < 5 && paths[k] != NULL; k++)
				pass(paths[k], all, nb, model, &w); /* warm: patterns compiled, locale made */
			for (size_t k = 0; k < 5 && paths[k] != NULL; k++)
				for (bi = 0; bi < nb; bi++) {
					CALLGRIND_TOGGLE_COLLECT;
					one(paths[k], &all[bi], model);
					CALLGRIND_TOGGLE_COLLECT;
					CALLGRIND_DUMP_STATS_AT(what[k]);
					printf("dump\t%s\t%zu\t%s\t%s\t%zu\n", what[k], ci, name, all[bi].valid ? "valid" : "invalid",
					       all[bi].len);
				}
		} else {
			for (int g = 0; g < 2; g++) {
				const body *bs = g ? all : valid;
				size_t n = g ? nb : nvalid, wrong = 0, w2 = 0;
				long errors, e2;
				size_t differ = 0;
				const bench_parser *mine = gen ? gen : &ours;
				double rg = rate(&json, bs, n, model, secs, &e2, &w2);
				double ro = rate(mine, bs, n, model, secs, &errors, &wrong);
				double rj = rate(&jread, bs, n, model, secs, &e2, &w2);
				double rl = rate(&loadb, bs, n, model, secs, &e2, &w2);
				double rt = rate(&today, bs, n, model, secs, &e2, &w2);
				for (size_t i = 0; i < n; i++) /* the same verdict and error count as today's path */
					differ += one(mine, &bs[i], model) != one(&today, &bs[i], model) ||
					          one(&ours, &bs[i], model) != one(&today, &bs[i], model) ||
					          one(&json, &bs[i], model) != one(&today, &bs[i], model);
				printf("case\t%s\t%s\t%.0f\t%ld\t%zu\t%.0f\t%.0f\t%.0f\t%zu\t%.0f\n", name, g ? "mix" : "valid", ro,
				       errors, wrong, rj, rl, rt, differ, rg);
			}
		}
		fflush(stdout);
		for (bi = 0; bi < nb; bi++)
			free(all[bi].text);
		free(all);
		free(valid);
	}
	json_decref(cases);
	return 0;
}
