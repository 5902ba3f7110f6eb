/* test_rt_jalloc.c — rt_jalloc: the json_t a generated parser builds lives
 * in its thread's slot and goes with its arena; meanwhile a handler may
 * change it as it likes (what it adds is malloc'd); what outlives the
 * request comes from malloc (a schema's cached default and enum values,
 * copies); another thread may change and free the body; an inner arena's
 * release leaves the outer's body alone; a body larger than the slot goes
 * on in malloc. Parsers: the generated apikeyd and feldera create bodies
 * (json_t entry points). Also run under AddressSanitizer (make
 * SANITIZE=address,undefined test-runtime), where the released slot is
 * poisoned: a use after the release, or a free() of slot memory, fails. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apikeyd_api.h"
#include "feldera_api.h"
#include "rt_jalloc.h"
#include "rt_parse.h"

static const char create[] = "{\"name\":\"ci\",\"scopes\":[\"keys:read\",\"keys:write\"],"
                             "\"meta\":{\"team\":\"core\",\"tags\":[1,2,3]}}";

/* the root of apikeyd's create body: its table (for the caches) */
static const rt_schema *create_schema(void)
{
	for (const rt_parse_root *r = apikeyd_request_bodies; r->where; r++)
		if (r->parse == apikeyd_schema_create_key_body_parse)
			return r->schema;
	return NULL;
}

/* the body (new) of text, parsed with a and RT_PARSE_DEFAULTS */
static json_t *parse(const char *text, size_t len, rt_arena *a)
{
	json_t *v = NULL;
	rt_errors e;
	int rc;

	rt_errors_init(&e);
	rc = apikeyd_schema_create_key_body_parse(text, len, a, RT_DIR_REQUEST, RT_PARSE_DEFAULTS, &v, &e);
	ck_assert_msg(rc == RT_PARSE_OK && v != NULL, "rc %d: %s", rc, e.n ? e.v[0].message : "");
	rt_errors_free(&e);
	return v;
}

static void same_text(const json_t *v, const char *want)
{
	char *got = json_dumps(v, JSON_COMPACT);

	ck_assert_msg(got != NULL && strcmp(got, want) == 0, "got %s, want %s", got ? got : "(null)", want);
	free(got); /* json_dumps's text, freed as callers free it */
}

START_TEST(body_lives_in_the_slot)
{
	RT_ARENA_ON_STACK(a, 1024);
	const rt_schema *enabled = rt_schema_property(create_schema(), "enabled");
	json_t *v = parse(create, strlen(create), &a);
	const json_t *d;

	ck_assert(rt_jalloc_owns(v));
	ck_assert(rt_jalloc_owns(json_object_get(v, "meta")));
	ck_assert(rt_jalloc_owns(json_array_get(json_object_get(v, "scopes"), 1)));
	/* the default went in (true: jansson's singleton, in neither) */
	d = rt_schema_default(enabled);
	ck_assert(d != NULL && json_is_true(d) && json_is_true(json_object_get(v, "enabled")));
	same_text(v, "{\"name\":\"ci\",\"scopes\":[\"keys:read\",\"keys:write\"],\"meta\":{\"team\":\"core\",\"tags\":[1,2,3]},"
	             "\"enabled\":true}");
	json_decref(v);
	rt_arena_free(&a);
	ck_assert(a.jslot == NULL);
}
END_TEST

START_TEST(cached_enum_outlives_the_request)
{
	static const char body[] = "{\"name\":\"k\",\"role\":\"write\"}";
	const rt_schema *role = NULL;
	const rt_schema_cache *c = NULL;

	for (const rt_parse_root *r = feldera_request_bodies; r->where; r++)
		if (r->parse == feldera_schema_create_api_key_body_parse)
			role = rt_schema_property(r->schema, "role");
	for (int hops = 0; role && hops < 16 && !c; hops++, role = role->ref)
		if (role->cache && role->cache->enum_json)
			c = role->cache;
	ck_assert(c != NULL);
	for (int round = 0; round < 3; round++) {
		RT_ARENA_ON_STACK(a, 1024);
		json_t *v = NULL;
		rt_errors e;

		rt_errors_init(&e);
		/* the enum's values are built by the first parse that checks one */
		ck_assert_int_eq(feldera_schema_create_api_key_body_parse(body, strlen(body), &a, RT_DIR_REQUEST, 0, &v, &e),
		                 RT_PARSE_OK);
		ck_assert(c->enum_values != NULL && !rt_jalloc_owns(c->enum_values));
		ck_assert(!rt_jalloc_owns(json_array_get(c->enum_values, 1)));
		ck_assert(rt_jalloc_owns(v));
		json_decref(v);
		rt_arena_free(&a);
		/* and still right once the slot has been released and reused */
		rt_errors_init(&e);
		ck_assert_int_eq(feldera_schema_create_api_key_body_parse("{\"name\":\"k\",\"role\":\"admin\"}", 27, &a,
		                                                          RT_DIR_REQUEST, 0, NULL, &e),
		                 RT_PARSE_INVALID);
		ck_assert_str_eq(e.v[0].keyword, "enum");
		rt_errors_free(&e);
		rt_arena_free(&a);
	}
}
END_TEST

START_TEST(a_handler_changes_the_body)
{
	RT_ARENA_ON_STACK(a, 1024);
	json_t *v = parse(create, strlen(create), &a), *first = v, *meta, *tags, *added, *copy;

	meta = json_object_get(v, "meta");
	tags = json_object_get(meta, "tags");
	/* what a handler does with a body it owns for the request */
	ck_assert_int_eq(json_object_set_new(v, "added", json_string("x")), 0);
	added = json_object_get(v, "added");
	ck_assert(!rt_jalloc_owns(added)); /* made outside the parse: malloc */
	ck_assert_int_eq(json_object_del(v, "scopes"), 0);
	ck_assert_int_eq(json_array_append_new(tags, json_integer(4)), 0);
	ck_assert_int_eq(json_array_remove(tags, 0), 0);
	ck_assert_int_eq(json_object_set(meta, "again", json_object_get(v, "name")), 0);
	for (int i = 0; i < 40; i++) /* grows the slot's hash table out of the slot */
		ck_assert_int_eq(json_object_set_new(meta, (char[]){ 'k', (char)('0' + i), 0 }, json_integer(i)), 0);
	ck_assert_int_eq(json_object_set_new(v, "name", json_string("renamed")), 0);
	/* a piece kept past the request is copied, not shared */
	copy = json_deep_copy(json_object_get(v, "meta"));
	ck_assert(copy != NULL && !rt_jalloc_owns(copy));
	json_decref(v);
	rt_arena_free(&a);
	ck_assert_int_eq((int)json_object_size(copy), 43);
	ck_assert_str_eq(json_string_value(json_object_get(copy, "again")), "ci");
	same_text(json_object_get(copy, "tags"), "[2,3,4]");
	json_decref(copy);
	/* the next request's body starts where the released one did */
	v = parse(create, strlen(create), &a);
	ck_assert_ptr_eq(v, first);
	json_decref(v);
	rt_arena_free(&a);
}
END_TEST

struct hand_off {
	json_t *body; /* stolen by the thread */
	int ok;
};

/* another thread changes the body, frees it, and parses one of its own */
static void *hand_off_run(void *arg)
{
	struct hand_off *h = arg;
	RT_ARENA_ON_STACK(a, 256);
	json_t *mine;
	rt_errors e;

	h->ok = json_object_set_new(h->body, "by", json_string("thread")) == 0 &&
	        json_object_del(h->body, "meta") == 0 && json_object_size(h->body) == 4;
	json_decref(h->body);
	mine = NULL;
	rt_errors_init(&e);
	if (apikeyd_schema_create_key_body_parse(create, strlen(create), &a, RT_DIR_REQUEST, 0, &mine, &e) != RT_PARSE_OK ||
	    !rt_jalloc_owns(mine))
		h->ok = 0;
	json_decref(mine);
	rt_errors_free(&e);
	rt_arena_free(&a);
	return NULL;
}

START_TEST(another_thread_frees_the_body)
{
	RT_ARENA_ON_STACK(a, 1024);
	struct hand_off h = { parse(create, strlen(create), &a), 0 };
	pthread_t t;

	for (int round = 0; round < 4; round++) { /* slots given back by ended threads are taken again */
		if (round)
			h.body = parse(create, strlen(create), &a);
		ck_assert_int_eq(pthread_create(&t, NULL, hand_off_run, &h), 0);
		ck_assert_int_eq(pthread_join(t, NULL), 0);
		ck_assert(h.ok);
	}
	rt_arena_free(&a);
}
END_TEST

START_TEST(an_inner_arena_leaves_the_outer_body)
{
	static const char other[] = "{\"name\":\"other\",\"meta\":{\"a\":\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"}}";
	const char *want = "{\"name\":\"ci\",\"scopes\":[\"keys:read\",\"keys:write\"],\"meta\":{\"team\":\"core\",\"tags\":[1,2,3]},"
	                   "\"enabled\":true}";
	RT_ARENA_ON_STACK(outer, 1024);
	json_t *v = parse(create, strlen(create), &outer);

	for (int i = 0; i < 3; i++) {
		RT_ARENA_ON_STACK(inner, 256);
		json_t *w = parse(other, strlen(other), &inner);
		json_decref(w);
		rt_arena_free(&inner);
		/* had the inner release reset the slot, this parse would write over v */
		w = parse(other, strlen(other), &inner);
		same_text(v, want);
		json_decref(w);
		rt_arena_free(&inner);
	}
	same_text(v, want);
	json_decref(v);
	rt_arena_free(&outer);
}
END_TEST

START_TEST(a_body_larger_than_the_slot)
{
	/* meta holds an array of n integers: more jansson memory than a slot */
	size_t n = RT_JALLOC_SLOT_SIZE / 24, len = 0, cap = n * 2 + 64;
	char *text = malloc(cap);
	RT_ARENA_ON_STACK(a, 1024);
	json_t *v, *big;

	ck_assert(text != NULL);
	len += (size_t)snprintf(text, cap, "{\"name\":\"big\",\"meta\":{\"n\":[");
	for (size_t i = 0; i < n; i++) {
		text[len++] = (char)('0' + i % 10);
		text[len++] = i + 1 < n ? ',' : ']';
	}
	len += (size_t)snprintf(text + len, cap - len, "}}");
	v = parse(text, len, &a);
	big = json_object_get(json_object_get(v, "meta"), "n");
	ck_assert_int_eq((int)json_array_size(big), (int)n);
	ck_assert(rt_jalloc_owns(json_array_get(big, 0)));
	ck_assert(!rt_jalloc_owns(json_array_get(big, n - 1))); /* the slot full: malloc */
	ck_assert_int_eq((int)json_integer_value(json_array_get(big, n - 1)), (int)((n - 1) % 10));
	ck_assert_int_eq(json_array_remove(big, n - 1), 0);
	json_decref(v);
	rt_arena_free(&a);
	free(text);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rt_jalloc");
	TCase *tc = tcase_create("jalloc");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, body_lives_in_the_slot);
	tcase_add_test(tc, cached_enum_outlives_the_request);
	tcase_add_test(tc, a_handler_changes_the_body);
	tcase_add_test(tc, another_thread_frees_the_body);
	tcase_add_test(tc, an_inner_arena_leaves_the_outer_body);
	tcase_add_test(tc, a_body_larger_than_the_slot);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
