/* bytes.c — the typed serializer sends the bytes the json_t path would.
 *
 * For every response example of the five APIs' documents (each API's
 * generated <api>_spec_json: `example` and `examples/<name>/value` under a
 * JSON media type of a response, $refs followed) whose response has a
 * model: the example is checked against its response schema
 * (<api>_validate_response), read into the model (<Model>_from_json) and
 * written (<Model>_write). The text written must
 *   - hold the same values as the example (json_equal), and
 *   - be byte for byte what the json_t path sends for those values in
 *     that order: rt_json_dumpb (what rt_respond writes) and json_dumps
 *     (compact) of the text's own parse;
 *   - and, when the example lists its members in the document's order,
 *     be rt_json_dumpb of the example itself.
 * The table of typed responses (op, status, model) is made from the
 * generated headers' builder prototypes (typed_models.inc, module.mk).
 * Prints "typed-bytes: N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastapi_api.h"
#include "feldera_api.h"
#include "heron_api.h"
#include "nebula_api.h"
#include "nebula_uuid_api.h"
#include "rt_errors.h"
#include "rt_json.h"

typedef int (*bt_write_fn)(const json_t *j, rt_arena *a, rt_json_writer *w);
typedef int (*bt_check_fn)(const char *op, int status, const char *ctype, const char *body, size_t len, rt_errors *e);

/* one writer per typed response: read j into its model, write it */
#define M(api, op, st, T)                                                            \
	static int bt_##api##_##op##_##st(const json_t *j, rt_arena *a, rt_json_writer *w) \
	{                                                                            \
		T m;                                                                 \
		if (T##_from_json(j, a, &m) != 0)                                    \
			return -1;                                                   \
		T##_write(w, &m);                                                    \
		return 0;                                                            \
	}
#include "typed_models.inc"
#undef M

static const struct bt_model {
	const char *api, *op, *status, *type;
	bt_write_fn write;
} bt_models[] = {
#define M(api, op, st, T) { #api, #op, #st, #T, bt_##api##_##op##_##st },
#include "typed_models.inc"
#undef M
};

static const struct bt_api {
	const char *name;
	const char *spec;
	bt_check_fn check;
} bt_apis[] = {
	{ "fastapi", fastapi_spec_json, fastapi_validate_response },
	{ "feldera", feldera_spec_json, feldera_validate_response },
	{ "heron", heron_spec_json, heron_validate_response },
	{ "nebula", nebula_spec_json, nebula_validate_response },
	{ "nebula_uuid", nebula_uuid_spec_json, nebula_uuid_validate_response },
};

static int pass, fail;

static void bt_fail(const char *where, const char *fmt, const char *a, const char *b)
{
	fail++;
	printf("FAIL  %s: ", where);
	printf(fmt, a, b);
	printf("\n");
}

/* doc's local $ref target of v, or v */
static const json_t *bt_deref(const json_t *doc, const json_t *v)
{
	for (int hops = 0; hops < 16 && json_is_string(json_object_get(v, "$ref")); hops++) {
		const char *ref = json_string_value(json_object_get(v, "$ref"));
		char part[256];
		const json_t *at = doc;
		if (strncmp(ref, "#/", 2) != 0)
			return NULL;
		for (const char *p = ref + 2; at && *p;) {
			size_t n = strcspn(p, "/");
			if (n >= sizeof part)
				return NULL;
			memcpy(part, p, n);
			part[n] = '\0';
			at = json_object_get(at, part); /* the five documents need no ~ escapes */
			p += n + (p[n] == '/');
		}
		v = at;
	}
	return v;
}

static const struct bt_model *bt_find(const char *api, const char *op, const char *status)
{
	for (size_t i = 0; i < sizeof bt_models / sizeof bt_models[0]; i++)
		if (strcmp(bt_models[i].api, api) == 0 && strcmp(bt_models[i].op, op) == 0 &&
		    strcmp(bt_models[i].status, status) == 0)
			return &bt_models[i];
	return NULL;
}

/* One example: the checks of the header comment. */
static void bt_example(const struct bt_api *api, const struct bt_model *m, const char *ctype, const json_t *ex,
                       const char *where)
{
	char *ex_text = json_dumps(ex, JSON_COMPACT | JSON_ENCODE_ANY);
	_Alignas(max_align_t) char first[1024];
	rt_json_writer w;
	rt_arena a;
	rt_errors e;
	json_t *back = NULL;
	char dump[8192], *dumps = NULL;
	size_t n;

	rt_errors_init(&e);
	rt_json_writer_init(&w);
	rt_arena_init(&a, first, sizeof first);
	if (api->check(m->op, atoi(m->status), ctype, ex_text, strlen(ex_text), &e) != 0) {
		bt_fail(where, "the example breaks its schema: %s (%s)", e.n ? e.v[0].message : "?", ex_text);
		goto cleanup;
	}
	if (m->write(ex, &a, &w) != 0 || w.failed) {
		bt_fail(where, "%s does not read or write %s", m->type, ex_text);
		goto cleanup;
	}
	back = json_loadb(w.buf, w.used, JSON_DECODE_ANY, NULL);
	if (!back || !json_equal(back, ex)) {
		bt_fail(where, "%s wrote other values: %s", m->type, ex_text);
		goto cleanup;
	}
	n = rt_json_dumpb(back, dump, sizeof dump);
	dumps = json_dumps(back, JSON_COMPACT | JSON_ENCODE_ANY);
	if (n != w.used || memcmp(dump, w.buf, n) != 0 || !dumps || strlen(dumps) != w.used ||
	    memcmp(dumps, w.buf, w.used) != 0) {
		bt_fail(where, "the model's bytes differ from the json_t path's: %s vs %s", ex_text, dumps ? dumps : "");
		goto cleanup;
	}
	n = rt_json_dumpb(ex, dump, sizeof dump);
	if (n == w.used && memcmp(dump, w.buf, n) == 0)
		printf("ok    %s: %s, the example's own bytes (%zu)\n", where, m->type, n);
	else
		printf("ok    %s: %s, %zu bytes (the example lists its members in another order)\n", where, m->type,
		       w.used);
	pass++;

cleanup:
	free(dumps);
	json_decref(back);
	rt_errors_free(&e);
	rt_arena_free(&a);
	rt_json_writer_free(&w);
	free(ex_text);
}

/* Every example of one response (resp: dereferenced). */
static void bt_response(const struct bt_api *api, const json_t *doc, const char *op, const char *status,
                        const json_t *resp, size_t *seen)
{
	const char *mt;
	const json_t *media;
	const struct bt_model *m = bt_find(api->name, op, status);

	json_object_foreach((json_t *)json_object_get(resp, "content"), mt, media) {
		const char *name;
		const json_t *ex;
		char where[300];
		if (!strstr(mt, "json"))
			continue;
		if (json_object_get(media, "example")) {
			snprintf(where, sizeof where, "%s %s %s example", api->name, op, status);
			(*seen)++;
			if (!m)
				bt_fail(where, "%s%s: no typed builder takes a model", "", "");
			else
				bt_example(api, m, mt, json_object_get(media, "example"), where);
		}
		json_object_foreach((json_t *)json_object_get(media, "examples"), name, ex) {
			const json_t *value = json_object_get(bt_deref(doc, ex), "value");
			if (!value)
				continue;
			snprintf(where, sizeof where, "%s %s %s examples/%s", api->name, op, status, name);
			(*seen)++;
			if (!m)
				bt_fail(where, "%s%s: no typed builder takes a model", "", "");
			else
				bt_example(api, m, mt, value, where);
		}
	}
}

int main(void)
{
	for (size_t i = 0; i < sizeof bt_apis / sizeof bt_apis[0]; i++) {
		const struct bt_api *api = &bt_apis[i];
		json_t *doc = json_loads(api->spec, 0, NULL);
		const char *path, *method, *status;
		const json_t *item, *opnode, *resp;
		size_t seen = 0;

		if (!doc) {
			bt_fail(api->name, "%s%sits document does not parse", "", "");
			continue;
		}
		json_object_foreach(json_object_get(doc, "paths"), path, item) {
			json_object_foreach((json_t *)item, method, opnode) {
				const char *op = json_string_value(json_object_get(opnode, "operationId"));
				if (!op)
					continue;
				json_object_foreach(json_object_get(opnode, "responses"), status, resp)
					bt_response(api, doc, op, status, bt_deref(doc, resp), &seen);
			}
		}
		/* a document whose examples all vanished would pass by testing nothing */
		if (seen == 0)
			bt_fail(api->name, "%s%sno response example found", "", "");
		json_decref(doc);
	}
	printf("typed-bytes: %d passed, %d failed\n", pass, fail);
	return fail ? 1 : 0;
}
