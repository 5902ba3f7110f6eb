/* test_rt_items.c — rt_items: what the writer frames, the reader reads back
 * as the same items (every sequential media type, random event text), the
 * exact bytes of each framing, and the items no framing can carry. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_items.h"

/* items (JSON text) written in mt: the bytes want (when given), and read
   back as the same items, without an error. */
static void round_trip(const char *mt, const char *items, const char *want, int line)
{
	json_t *in = json_loads(items, 0, NULL), *back = NULL;
	rt_json_writer w;
	rt_errors e;

	ck_assert_msg(in != NULL, "line %d: bad test JSON", line);
	rt_json_writer_init(&w);
	rt_errors_init(&e);
	ck_assert_msg(rt_items_write(mt, in, &w, &e) == 0 && !w.failed, "line %d: write: %s", line,
	              e.n ? e.v[0].message : "failed");
	if (want)
		ck_assert_msg(w.used == strlen(want) && memcmp(w.buf, want, w.used) == 0, "line %d: wrote [%.*s], want [%s]",
		              line, (int)w.used, w.buf, want);
	ck_assert_msg(rt_items_read(mt, w.buf, w.used, &back, &e) == 0, "line %d: read: %s", line, e.n ? e.v[0].message : "");
	ck_assert_msg(json_equal(in, back), "line %d: read back %s", line, json_dumps(back, JSON_COMPACT));
	json_decref(in);
	json_decref(back);
	rt_errors_free(&e);
	rt_json_writer_free(&w);
}

static const struct { int line; const char *mt, *items, *want; } trips[] = {
	{ __LINE__, "application/jsonl", "[{\"a\":1},[1,2],\"s\\nt\",null,3.5]", "{\"a\":1}\n[1,2]\n\"s\\nt\"\nnull\n3.5\n" },
	{ __LINE__, "application/x-ndjson; charset=utf-8", "[{\"a\":\" \"}]", "{\"a\":\" \"}\n" },
	{ __LINE__, "application/jsonl", "[]", "" },
	{ __LINE__, "application/json-seq", "[{\"a\":1},2]", "\x1e{\"a\":1}\n\x1e" "2\n" },
	{ __LINE__, "APPLICATION/JSON-SEQ", "[\"\\u001e\"]", NULL },
	{ __LINE__, "text/event-stream", "[{\"data\":\"x\"}]", "data: x\n\n" },
	{ __LINE__, "text/event-stream", "[{\"event\":\"add\",\"id\":\"7\",\"retry\":30,\"data\":\"a\\nb\"}]",
	  "event: add\nid: 7\nretry: 30\ndata: a\ndata: b\n\n" },
	/* spaces a field value holds are its own, at either end */
	{ __LINE__, "text/event-stream", "[{\"data\":\" lead\"},{\"data\":\"trail \"},{\"event\":\" \"}]",
	  "data:  lead\n\ndata: trail \n\nevent:  \n\n" },
	/* line ends in data: \r\n and \r read back as \n, so only \n round-trips */
	{ __LINE__, "text/event-stream", "[{\"data\":\"\"},{\"data\":\"\\n\"},{\"data\":\"a\\n\\nb\\n\"}]",
	  "data: \n\ndata: \ndata: \n\ndata: a\ndata: \ndata: b\ndata: \n\n" },
	{ __LINE__, "text/event-stream", "[{\"id\":\"\"},{\"retry\":0}]", "id: \n\nretry: 0\n\n" },
};

START_TEST(framing_round_trips)
{
	for (size_t i = 0; i < sizeof trips / sizeof trips[0]; i++)
		round_trip(trips[i].mt, trips[i].items, trips[i].want, trips[i].line);
}
END_TEST

/* items the framing cannot carry: an error at pointer saying text, and
   nothing of that item written */
static const struct { int line; const char *mt, *items, *pointer, *text; } refusals[] = {
	{ __LINE__, "text/event-stream", "[{\"data\":\"x\"},\"text\"]", "/1", "must be an object" },
	{ __LINE__, "text/event-stream", "[{}]", "/0", "without a field" },
	{ __LINE__, "text/event-stream", "[{\"data\":1}]", "/0", "are strings" },
	{ __LINE__, "text/event-stream", "[{\"data\":\"x\",\"extra\":\"y\"}]", "/0", "only the fields" },
	{ __LINE__, "text/event-stream", "[{\"data\":\"x\",\"id\":\"1\\ndata: forged\"}]", "/0", "line break" },
	{ __LINE__, "text/event-stream", "[{\"event\":\"a\\rb\"}]", "/0", "line break" },
	{ __LINE__, "text/event-stream", "[{\"retry\":-1}]", "/0", "non-negative integer" },
	{ __LINE__, "text/event-stream", "[{\"retry\":\"5\"}]", "/0", "non-negative integer" },
	{ __LINE__, "text/event-stream", "{\"data\":\"x\"}", "", "must be an array" },
	{ __LINE__, "application/json", "[1]", "", "not a sequential media type" },
};

START_TEST(unframable_items_refused)
{
	for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
		json_t *in = json_loads(refusals[i].items, JSON_DECODE_ANY, NULL);
		rt_json_writer w;
		rt_errors e;
		rt_json_writer_init(&w);
		rt_errors_init(&e);
		ck_assert_msg(rt_items_write(refusals[i].mt, in, &w, &e) == 1, "line %d: %zu errors", refusals[i].line, e.n);
		ck_assert_msg(strcmp(e.v[0].pointer, refusals[i].pointer) == 0 && strstr(e.v[0].message, refusals[i].text),
		              "line %d: %s: %s", refusals[i].line, e.v[0].pointer, e.v[0].message);
		ck_assert_msg(!strstr(w.used ? w.buf : "", "forged"), "line %d: wrote the item", refusals[i].line);
		json_decref(in);
		rt_errors_free(&e);
		rt_json_writer_free(&w);
	}
}
END_TEST

/* what a reader makes of bytes: items (JSON) and the first error's pointer */
static const struct { int line; const char *mt, *bytes, *items, *pointer; } reads[] = {
	{ __LINE__, "application/jsonl", "{\"a\":1}\r\n\n  \n[2]", "[{\"a\":1},[2]]", NULL },
	{ __LINE__, "application/jsonl", "1\n{oops\n3", "[1,null,3]", "/1" },
	{ __LINE__, "application/jsonl", "{\"a\":1,\"a\":2}", "[null]", "/0" },
	{ __LINE__, "application/json-seq", "\x1e" "1\n\x1e\x1e" "2", "[1,2]", NULL },
	{ __LINE__, "text/event-stream", ": only a comment\n\ndata: a\r\ndata: b\r\n\r\nretry: x\nid: 1\n\n", "[{\"data\":\"a\\nb\"},{\"id\":\"1\"}]", NULL },
	{ __LINE__, "text/event-stream", "data\n\nretry: 99999999999999999999\ndata:x", "[{\"data\":\"\"},{\"data\":\"x\"}]", NULL },
	{ __LINE__, "text/event-stream", "", "[]", NULL },
};

START_TEST(reader_reads)
{
	for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
		json_t *want = json_loads(reads[i].items, 0, NULL), *got = NULL;
		size_t len = strlen(reads[i].bytes);
		char *copy = malloc(len + 1); /* no NUL after the bytes: the reader stays inside them */
		rt_errors e;
		memcpy(copy, reads[i].bytes, len);
		rt_errors_init(&e);
		rt_items_read(reads[i].mt, copy, len, &got, &e);
		ck_assert_msg(json_equal(got, want), "line %d: read %s", reads[i].line, json_dumps(got, JSON_COMPACT));
		if (reads[i].pointer)
			ck_assert_msg(e.n && strcmp(e.v[0].pointer, reads[i].pointer) == 0, "line %d: error at %s", reads[i].line,
			              e.n ? e.v[0].pointer : "(none)");
		else
			ck_assert_msg(e.n == 0, "line %d: %s", reads[i].line, e.n ? e.v[0].message : "");
		free(copy);
		json_decref(want);
		json_decref(got);
		rt_errors_free(&e);
	}
}
END_TEST

/* random events of text with spaces, colons and \n: each written and read back as itself */
START_TEST(random_events_round_trip)
{
	static const char alphabet[] = "ab :\n \t{}\"\xc3\xa9";
	srand(7);
	for (int round = 0; round < 2000; round++) {
		json_t *items = json_array();
		char *text;
		for (int k = rand() % 4; k >= 0; k--) {
			char data[24], id[12];
			size_t dn = (size_t)(rand() % 20), in = (size_t)(rand() % 10), o = 0;
			json_t *ev = json_object();
			for (size_t j = 0; j < dn; j++) {
				size_t c = (size_t)rand() % (sizeof alphabet - 1);
				if (c >= sizeof alphabet - 3) /* é whole, never half */
					data[o++] = '\xc3', data[o++] = '\xa9', j++;
				else
					data[o++] = alphabet[c];
			}
			data[o] = '\0';
			for (size_t j = 0; j < in; j++)
				id[j] = "xy :"[rand() % 4];
			id[in] = '\0';
			json_object_set_new(ev, "data", json_string(data));
			if (rand() % 2)
				json_object_set_new(ev, "id", json_string(id));
			json_array_append_new(items, ev);
		}
		text = json_dumps(items, JSON_COMPACT);
		round_trip("text/event-stream", text, NULL, __LINE__);
		free(text);
		json_decref(items);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rt_items");
	TCase *tc = tcase_create("items");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, framing_round_trips);
	tcase_add_test(tc, unframable_items_refused);
	tcase_add_test(tc, reader_reads);
	tcase_add_test(tc, random_events_round_trip);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
