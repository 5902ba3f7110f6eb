/* test_segments.c — path templates that share their segment with other
 * text, end to end over HTTP on loopback: the segment-templates fixture's
 * generated code (golden output) with handlers that echo what they got.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ulfius.h>

#include "segment_templates_api.h"
#include "rt_guard.h"

static struct _u_instance srv;
static unsigned port;

static enum rt_auth_result auth(void *app, const rt_auth_request *req, rt_principal *out, unsigned *retry_after)
{
	(void)app, (void)req, (void)out, (void)retry_after;
	return RT_AUTH_REJECTED;
}

static int get_account(rt_ctx *ctx, const segment_templates_getAccount_params *p, const json_t *body, void *app)
{
	(void)body, (void)app;
	return segment_templates_getAccount_respond_200(ctx, &(segment_templates_getAccount_200){
		.sid = p->sid, .sid_len = strlen(p->sid), .has_sid = 1 });
}

static int get_file(rt_ctx *ctx, const segment_templates_getFile_params *p, const json_t *body, void *app)
{
	(void)body, (void)app;
	return segment_templates_getFile_respond_200(ctx, json_pack("{s:I,s:I,s:s}", "major", (json_int_t)p->major,
	                                                            "minor", (json_int_t)p->minor, "name", p->name));
}

static int get_profile(rt_ctx *ctx, const segment_templates_getProfile_params *p, const json_t *body, void *app)
{
	(void)body, (void)app;
	return segment_templates_getProfile_respond_200(ctx, json_pack("{s:s,s:s}", "id", p->id, "ext", p->mediaTypeExtension));
}

static int search(rt_ctx *ctx, const segment_templates_search_params *p, const json_t *body, void *app)
{
	(void)body, (void)app;
	return segment_templates_search_respond_200(ctx, json_pack("{s:s,s:I}", "q", p->q, "page",
	                                                           (json_int_t)(p->has_page ? p->page : -1)));
}

static int get_photos(rt_ctx *ctx, const segment_templates_getPhotos_params *p, const json_t *body, void *app)
{
	(void)p, (void)body, (void)app;
	return segment_templates_getPhotos_respond_200(ctx, json_pack("{s:s}", "op", "get"));
}

static int count_photos(rt_ctx *ctx, const segment_templates_countPhotos_params *p, const json_t *body, void *app)
{
	(void)body, (void)app;
	return segment_templates_countPhotos_respond_200(ctx, json_pack("{s:s,s:s}", "op", "count", "user", p->user));
}

static int find(rt_ctx *ctx, const segment_templates_find_params *p, const json_t *body, void *app)
{
	(void)body, (void)app;
	return segment_templates_find_respond_200(ctx, json_pack("{s:s}", "query", p->query));
}

static const segment_templates_handlers handlers = { .getAccount = get_account, .getFile = get_file,
                                                     .getProfile = get_profile, .search = search,
                                                     .getPhotos = get_photos, .countPhotos = count_photos,
                                                     .find = find };
static rt_api_config cfg = { .authenticate = auth, .validate_responses = 1 };

/* GET base+path: the status, and the JSON body in *body (new). */
static long get(const char *path, json_t **body)
{
	struct _u_request req;
	struct _u_response resp;
	char url[512];
	long status;

	snprintf(url, sizeof url, "http://127.0.0.1:%u/seg%s", port, path);
	ulfius_init_request(&req);
	ulfius_init_response(&resp);
	ulfius_set_request_properties(&req, U_OPT_HTTP_VERB, "GET", U_OPT_HTTP_URL, url, U_OPT_TIMEOUT, 10L, U_OPT_NONE);
	ck_assert_int_eq(ulfius_send_http_request(&req, &resp), U_OK);
	status = resp.status;
	*body = json_loadb(resp.binary_body ? resp.binary_body : "", resp.binary_body_length, JSON_DECODE_ANY, NULL);
	ulfius_clean_request(&req);
	ulfius_clean_response(&resp);
	return status;
}

static void setup(void)
{
	for (int attempt = 0; attempt < 20; attempt++) {
		port = 20000 + (unsigned)(rand() % 30000);
		if (ulfius_init_instance(&srv, port, NULL, NULL) != U_OK)
			continue;
		ck_assert_int_eq(segment_templates_register(&srv, SEGMENT_TEMPLATES_DEFAULT_BASE, &handlers, &cfg), 0);
		ck_assert_int_eq(rt_guard_install(&srv, &(rt_guard_config){ 0 }), 0);
		if (ulfius_start_framework(&srv) == U_OK)
			return;
		ulfius_clean_instance(&srv);
	}
	ck_abort_msg("no free port");
}

static void teardown(void)
{
	ulfius_stop_framework(&srv);
	ulfius_clean_instance(&srv);
	rt_api_release_all();
}

START_TEST(suffix_cut_off)
{
	json_t *b = NULL;
	ck_assert_int_eq(get("/accounts/AC123.json", &b), 200);
	ck_assert_str_eq(json_string_value(json_object_get(b, "sid")), "AC123");
	json_decref(b);
}
END_TEST

START_TEST(value_validated_without_suffix)
{
	json_t *b = NULL;
	/* "XY1" breaks the pattern ^AC: the value, not "XY1.json", is checked */
	ck_assert_int_eq(get("/accounts/XY1.json", &b), 400);
	json_decref(b);
}
END_TEST

START_TEST(missing_suffix_400)
{
	json_t *b = NULL;
	char *text;
	ck_assert_int_eq(get("/accounts/AC123", &b), 400);
	text = json_dumps(b, 0);
	ck_assert_ptr_nonnull(strstr(text, "does not match /accounts/{sid}.json"));
	free(text);
	json_decref(b);
}
END_TEST

START_TEST(two_templates_in_one_segment)
{
	json_t *b = NULL;
	ck_assert_int_eq(get("/v2.15/files/a.txt", &b), 200);
	ck_assert_int_eq(json_integer_value(json_object_get(b, "major")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(b, "minor")), 15);
	ck_assert_str_eq(json_string_value(json_object_get(b, "name")), "a.txt");
	json_decref(b);
	ck_assert_int_eq(get("/v2/files/a.txt", &b), 400);
	json_decref(b);
	ck_assert_int_eq(get("/v2.x/files/a.txt", &b), 400);
	json_decref(b);
}
END_TEST

/* GET path answers 200 with exactly the JSON want, or status when want is NULL. */
static void expect(const char *path, long status, const char *want)
{
	json_t *b = NULL, *w = want ? json_loads(want, 0, NULL) : NULL;
	long st = get(path, &b);
	char *text = json_dumps(b, JSON_ENCODE_ANY);

	ck_assert_msg(st == status, "%s: status %ld: %s", path, st, text);
	if (w)
		ck_assert_msg(json_equal(b, w), "%s: got %s, want %s", path, text, want);
	free(text);
	json_decref(w);
	json_decref(b);
}

START_TEST(adjacent_templates_split_by_schema)
{
	expect("/profiles/ada.json", 200, "{\"id\":\"ada\",\"ext\":\".json\"}");
	expect("/profiles/a.b.c.xml", 200, "{\"id\":\"a.b.c\",\"ext\":\".xml\"}");
	expect("/profiles/ada.json.xml", 200, "{\"id\":\"ada.json\",\"ext\":\".xml\"}");
	expect("/profiles/ada.yaml", 400, NULL);
	expect("/profiles/.json", 400, NULL); /* the id may not be empty */
}
END_TEST

START_TEST(query_string_in_the_path_key)
{
	expect("/search?query=cats&view=full", 200, "{\"q\":\"cats\",\"page\":-1}");
	expect("/search?view=full&query=cats&page=2", 200, "{\"q\":\"cats\",\"page\":2}");
	expect("/search?query=c&view=full", 400, NULL);    /* minLength 2: the value is validated */
	expect("/search?query=cats", 400, NULL);           /* view=full is part of the path */
	expect("/search?query=cats&view=brief", 400, NULL);
	expect("/search?view=full", 400, NULL);            /* q is required */
}
END_TEST

START_TEST(operations_apart_by_query_string)
{
	expect("/rest?method=photos.get", 200, "{\"op\":\"get\"}");
	expect("/rest?method=photos.count&user=ada", 200, "{\"op\":\"count\",\"user\":\"ada\"}");
	expect("/rest?user=ada&method=photos.count", 200, "{\"op\":\"count\",\"user\":\"ada\"}");
	expect("/rest?method=photos.count", 404, NULL); /* no user: neither operation */
	expect("/rest?method=photos.delete", 404, NULL);
	expect("/rest", 404, NULL);
	/* a query template that is the query parameter it names */
	expect("/find?query=cats", 200, "{\"query\":\"cats\"}");
	expect("/find", 400, NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("segments");
	TCase *tc = tcase_create("http");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, suffix_cut_off);
	tcase_add_test(tc, value_validated_without_suffix);
	tcase_add_test(tc, missing_suffix_400);
	tcase_add_test(tc, two_templates_in_one_segment);
	tcase_add_test(tc, adjacent_templates_split_by_schema);
	tcase_add_test(tc, query_string_in_the_path_key);
	tcase_add_test(tc, operations_apart_by_query_string);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srand((unsigned)getpid());
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
