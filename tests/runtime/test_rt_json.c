/* test_rt_json.c — rt_json_dumpb, and the writer generated serializers call,
 * write what json_dumps writes; rt_pattern.h's rewrites of the ECMA-262
 * patterns PCRE2 cannot hold as written match what the pattern matches. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_json.h"
#include "rt_http.h"
#include "rt_utf8.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "rt_pattern.h"

#define FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)

/* v (stolen) dumps to the same bytes as jansson's, through a buffer of
   every size from 0 up (the json_dumpb contract), recording the line. */
static void same_as_jansson(json_t *v, int line)
{
	char *want = json_dumps(v, FLAGS);
	size_t wl, n;
	char *got;

	ck_assert_msg(want != NULL, "line %d: jansson cannot dump the case", line);
	wl = strlen(want);
	got = malloc(wl + 8);
	n = rt_json_dumpb(v, got, wl + 8);
	ck_assert_msg(n == wl && memcmp(got, want, wl) == 0, "line %d: got %.*s, want %s", line,
	              (int)(n < wl + 8 ? n : wl + 8), got, want);
	for (size_t size = 0; size < wl; size += 1 + size / 4) {
		memset(got, '#', wl + 8);
		ck_assert_msg(rt_json_dumpb(v, got, size) == wl, "line %d: size %zu", line, size);
		ck_assert_msg(memcmp(got, want, size) == 0 && got[size] == '#', "line %d: prefix of %zu", line, size);
	}
	free(got);
	free(want);
	json_decref(v);
}
#define SAME(v) same_as_jansson((v), __LINE__)

START_TEST(scalars_and_strings)
{
	SAME(json_null());
	SAME(json_true());
	SAME(json_false());
	SAME(json_integer(0));
	SAME(json_integer(-1));
	SAME(json_integer(1234567890123LL));
	SAME(json_integer(INT64_MAX));
	SAME(json_integer(INT64_MIN));
	SAME(json_real(0.0));
	SAME(json_real(-0.5));
	SAME(json_real(1e300));
	SAME(json_real(3.0));
	SAME(json_real(0.1));
	SAME(json_string(""));
	SAME(json_string("plain"));
	SAME(json_string("quote \" backslash \\ slash / tab \t nl \n cr \r bs \b ff \f"));
	SAME(json_string("\x01\x02\x1f\x7f end"));
	SAME(json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91 \xe2\x80\xa8"));
	SAME(json_stringn("nul\0inside", 10));
	SAME(json_string("2026-11-23T08:22:09Z"));
}
END_TEST

START_TEST(containers)
{
	SAME(json_array());
	SAME(json_object());
	SAME(json_pack("[i,s,b,n,[],{}]", 1, "a", 0));
	SAME(json_pack("{s:{s:[i,i]},s:s,s:{}}", "a", "b", 1, 2, "c\"key\n", "v", "empty"));
	SAME(json_pack("{s:[{s:s,s:s,s:b,s:s,s:s,s:n}]}", "keys", "created", "2026-11-23T08:22:09Z", "heron_id",
	               "0b8f7a3e-1234-4abc-9def-0123456789ab", "is_active", 1, "name", "first key", "token_prefix",
	               "key_8jva", "last_used"));
	{
		/* insertion order, kept through deletions and re-insertions */
		json_t *o = json_object();
		json_object_set_new(o, "z", json_integer(1));
		json_object_set_new(o, "a", json_integer(2));
		json_object_set_new(o, "m", json_integer(3));
		json_object_del(o, "a");
		json_object_set_new(o, "a", json_integer(4));
		json_object_set_new(o, "z", json_integer(5));
		json_object_setn_new(o, "k\0y", 3, json_true());
		SAME(o);
	}
}
END_TEST

/* A small deterministic generator of random documents. */
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static json_t *rnd_string(void)
{
	static const char *const pieces[] = { "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f", "\x7f",
	                                      "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x94\x91", "\xef\xbf\xbf", "key_" };
	char buf[128];
	size_t n = 0, k = rnd(12);

	for (size_t i = 0; i < k; i++) {
		const char *p = pieces[rnd(sizeof pieces / sizeof *pieces)];
		size_t l = strlen(p);
		if (n + l >= sizeof buf)
			break;
		memcpy(buf + n, p, l);
		n += l;
	}
	if (rnd(10) == 0 && n + 1 < sizeof buf)
		buf[n++] = '\0';    /* an embedded NUL */
	return json_stringn(buf, n);
}

static json_t *rnd_value(int depth)
{
	switch (rnd(depth > 4 ? 6 : 8)) {
	case 0: return json_null();
	case 1: return json_boolean(rnd(2));
	case 2: return json_integer((json_int_t)rnd(2000000) - 1000000);
	case 3: return json_real((double)rnd(100000) / (double)(1 + rnd(1000)));
	case 4:
	case 5: return rnd_string();
	case 6: {
		json_t *a = json_array();
		for (unsigned i = rnd(5); i > 0; i--)
			json_array_append_new(a, rnd_value(depth + 1));
		return a;
	}
	default: {
		json_t *o = json_object();
		for (unsigned i = rnd(5); i > 0; i--) {
			json_t *k = rnd_string();
			json_object_setn_new(o, json_string_value(k), json_string_length(k), rnd_value(depth + 1));
			json_decref(k);
		}
		return o;
	}
	}
}

START_TEST(random_documents)
{
	for (int i = 0; i < 3000; i++)
		SAME(rnd_value(0));
}
END_TEST

START_TEST(refused)
{
	char buf[64];
	json_t *bad = json_string_nocheck("\xc3\x28"), *deep = json_array(), *cur = deep;

	/* invalid UTF-8 (made without the check): refused, like jansson does */
	ck_assert_ptr_null(json_dumps(bad, FLAGS));
	ck_assert_uint_eq(rt_json_dumpb(bad, buf, sizeof buf), 0);
	json_decref(bad);
	bad = json_string_nocheck("\xed\xa0\x80");   /* a surrogate */
	ck_assert_uint_eq(rt_json_dumpb(bad, buf, sizeof buf), 0);
	json_decref(bad);
	bad = json_string_nocheck("\xe0\x80\x80");   /* overlong */
	ck_assert_uint_eq(rt_json_dumpb(bad, buf, sizeof buf), 0);
	json_decref(bad);
	bad = json_string_nocheck("\xf4\x90\x80\x80"); /* above U+10FFFF */
	ck_assert_uint_eq(rt_json_dumpb(bad, buf, sizeof buf), 0);
	json_decref(bad);
	ck_assert_uint_eq(rt_json_dumpb(NULL, buf, sizeof buf), 0);
	/* deeper than RT_JSON_MAX_DEPTH: refused (the caller uses json_dumps) */
	for (int i = 0; i < RT_JSON_MAX_DEPTH + 1; i++) {
		json_t *next = json_array();
		json_array_append_new(cur, next);
		cur = next;
	}
	ck_assert_uint_eq(rt_json_dumpb(deep, NULL, 0), 0);
	json_decref(deep);
}
END_TEST

/* The writer's bytes for one scalar against jansson's for the same value. */
static void writer_same(json_t *v, int line)
{
	char *want = json_dumps(v, FLAGS);
	rt_json_writer w;

	rt_json_writer_init(&w);
	if (json_is_real(v))
		rt_json_write_real(&w, json_real_value(v));
	else if (json_is_integer(v))
		rt_json_write_integer(&w, json_integer_value(v));
	else if (json_is_string(v))
		rt_json_write_string(&w, json_string_value(v), json_string_length(v));
	else
		rt_json_write_value(&w, v);
	ck_assert_msg(want && !w.failed && w.used == strlen(want) && memcmp(w.buf, want, w.used) == 0,
	              "line %d: writer %.*s, jansson %s", line, (int)w.used, w.buf ? w.buf : "", want ? want : "(null)");
	rt_json_writer_free(&w);
	free(want);
	json_decref(v);
}
#define WSAME(v) writer_same((v), __LINE__)

START_TEST(writer_reals)
{
	static const double fixed[] = { 0.0, -0.0, 1.0, -1.0, 0.5, 1e20, 1e21, 1e22, 1e-5, 1e-7, 123456789012345678.0,
	                                1.7976931348623157e308, 4.9e-324, 2.2250738585072014e-308, 0.1, 1.0 / 3.0,
	                                100.0, 1e100, -1e-100, 9007199254740993.0 };

	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		WSAME(json_real(fixed[i]));
	/* random bit patterns: every exponent, every digit count */
	for (int i = 0; i < 20000; i++) {
		uint64_t bits = ((uint64_t)rnd(1u << 31) << 33) ^ ((uint64_t)rnd(1u << 31) << 2) ^ rnd(4);
		double d;
		memcpy(&d, &bits, sizeof d);
		if (d != d || d - d != 0)
			continue; /* NaN and infinities: jansson has no text for them */
		WSAME(json_real(d));
	}
}
END_TEST

START_TEST(writer_scalars)
{
	WSAME(json_integer(0));
	WSAME(json_integer(INT64_MIN));
	WSAME(json_integer(INT64_MAX));
	WSAME(json_string(""));
	WSAME(json_stringn("a\0b", 3));
	for (int i = 0; i < 3000; i++)
		WSAME(rnd_string());
	for (int i = 0; i < 1000; i++)
		WSAME(rnd_value(0)); /* rt_json_write_value: whole documents */
}
END_TEST

/* Strings long enough for the eight-bytes-at-a-time scans (rt_json_string,
   rt_utf8_valid): each odd piece at every offset of a plain run, alone and
   next to a second one, written as jansson writes it, and refused (the
   writer fails, rt_utf8_valid says 0) exactly when jansson refuses it. */
START_TEST(long_strings)
{
	static const char *const odd[] = { "\"", "\\", "\n", "\x01", "\x1f", "\x7f", " ", "~", "\xc3\xa9",
	                                   "\xe2\x82\xac", "\xf0\x9f\x94\x91", "\xed\xa0\x80", "\xc0\xaf", "\xff",
	                                   "\xe2\x82", "\x80", "\xf4\x90\x80\x80" };
	char buf[96];

	for (size_t a = 0; a < sizeof odd / sizeof *odd; a++)
		for (size_t b = 0; b < sizeof odd / sizeof *odd; b += 3)
			for (size_t at = 0; at < 40; at++) {
				size_t la = strlen(odd[a]), lb = strlen(odd[b]), n = 48;
				json_t *j;
				rt_json_writer w;

				memset(buf, 'k', n);
				memcpy(buf + at, odd[a], la);
				if (at + la + 9 + lb <= n)
					memcpy(buf + at + la + 9, odd[b], lb);
				j = json_stringn(buf, n);
				ck_assert_msg(rt_utf8_valid(buf, n) == (j != NULL), "utf8: %zu at %zu, %zu", a, at, b);
				if (j != NULL) {
					WSAME(j);
					continue;
				}
				rt_json_writer_init(&w);
				rt_json_write_string(&w, buf, n);
				ck_assert_msg(w.failed, "writer took invalid UTF-8: %zu at %zu", a, at);
				rt_json_writer_free(&w);
			}
}
END_TEST

START_TEST(writer_refuses)
{
	rt_json_writer w;
	int first = 1;

	rt_json_writer_init(&w);
	rt_json_write_raw(&w, "{", 1);
	rt_json_write_key(&w, "a", 1, &first);
	rt_json_write_integer(&w, 1);
	rt_json_write_key(&w, "b\"", 2, &first);
	rt_json_write_bool(&w, 0);
	rt_json_write_raw(&w, "}", 1);
	ck_assert(!w.failed && w.used == 19 && memcmp(w.buf, "{\"a\":1,\"b\\\"\":false}", 19) == 0);
	rt_json_write_string(&w, "\xc3\x28", 2); /* invalid UTF-8 */
	ck_assert(w.failed);
	rt_json_writer_free(&w);
	/* keys: every key as jansson writes the string, whatever it holds and
	   however long (the plain short ones take a shortcut) */
	for (int i = 0; i < 3000; i++) {
		json_t *k = rnd_string();
		char *want = json_dumps(k, JSON_ENCODE_ANY | JSON_COMPACT);
		first = i % 2;
		rt_json_writer_init(&w);
		rt_json_write_key(&w, json_string_value(k), json_string_length(k), &first);
		ck_assert(!w.failed && !first);
		ck_assert_uint_eq(w.used, strlen(want) + 1 + (i % 2 ? 0 : 1));
		ck_assert(memcmp(w.buf + (i % 2 ? 0 : 1), want, strlen(want)) == 0 && w.buf[w.used - 1] == ':');
		ck_assert(i % 2 || w.buf[0] == ',');
		rt_json_writer_free(&w);
		free(want);
		json_decref(k);
	}
	{
		char longkey[100];
		memset(longkey, 'k', sizeof longkey);
		first = 1;
		rt_json_writer_init(&w);
		rt_json_write_key(&w, longkey, sizeof longkey, &first);
		ck_assert(!w.failed && w.used == sizeof longkey + 3 && w.buf[0] == '"' && w.buf[101] == '"');
		rt_json_writer_free(&w);
	}
	rt_json_writer_init(&w);
	rt_json_write_real(&w, 0.0 / 0.0);
	ck_assert(w.failed);
	rt_json_writer_free(&w);
	rt_json_writer_init(&w);
	rt_json_write_text(&w, NULL); /* an enum value outside its enum */
	ck_assert(w.failed);
	rt_json_writer_free(&w);
}
END_TEST

START_TEST(as_numbers)
{
	int64_t i = 0;
	double d = 0;
	json_t *v;

	v = json_real(3.0);
	ck_assert(rt_json_as_int64(v, &i) == 0 && i == 3);
	json_decref(v);
	v = json_real(3.5);
	ck_assert(rt_json_as_int64(v, &i) != 0);
	json_decref(v);
	v = json_real(1e30);
	ck_assert(rt_json_as_int64(v, &i) != 0);
	json_decref(v);
	v = json_integer(-7);
	ck_assert(rt_json_as_double(v, &d) == 0 && d == -7.0 && rt_json_as_int64(v, &i) == 0 && i == -7);
	json_decref(v);
	v = json_string("7");
	ck_assert(rt_json_as_double(v, &d) != 0 && rt_json_as_int64(v, &i) != 0);
	json_decref(v);
}
END_TEST

/* ECMA-262 patterns PCRE2 cannot hold as written, rewritten to match the
 * same valid UTF-8 strings (rt_pattern.h); 1 when re matches subject. */
static int pattern_matches(const char *re, const char *subject)
{
	int ec;
	PCRE2_SIZE off;
	pcre2_code *code = rt_pattern_compile(re, &ec, &off);
	pcre2_match_data *md = code ? pcre2_match_data_create_from_pattern(code, NULL) : NULL;
	int r;

	ck_assert_msg(code != NULL, "%s does not compile (%d)", re, ec);
	r = pcre2_match(code, (PCRE2_SPTR)subject, strlen(subject), 0, 0, md, NULL);
	pcre2_match_data_free(md);
	pcre2_code_free(code);
	return r >= 0;
}

START_TEST(pattern_rewrites)
{
	static const struct { const char *re, *subject; int match; } t[] = {
		/* lone surrogates match nothing in UTF-8: a class without them */
		{ "^[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDBFF-\\uDC00\\uDFFF\\t]*$", "ok \xf0\x9f\x98\x80", 0 },
		{ "^[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDBFF-\\uDC00\\uDFFF\\t]*$", "ok \xe2\x82\xac\t", 1 },
		{ "^[\\u0001-\\uFFFF]$", "\xef\xbf\xbf", 1 },
		{ "^[\\u0001-\\uFFFF]$", "\xf0\x9f\x98\x80", 0 },
		{ "^a[\\uD800]?b$", "ab", 1 },
		{ "[\\uD800-\\uDFFF]", "\xf0\x9f\x98\x80", 0 },
		{ "^[^\\uD800-\\uDFFF]$", "\xf0\x9f\x98\x80", 1 },
		{ "^[^\\uD800]$", "\n", 1 },
		{ "a\\uD800|b", "a", 0 },
		{ "a\\uD800|b", "b", 1 },
		{ "^[-\\uD800]$", "-", 1 },
		{ "^\\uD83D\\uDE00$", "\xf0\x9f\x98\x80", 1 },
		/* a repeat over 65535 that ends the pattern decides on its minimum */
		{ "^[a-z]{2,2097152}", "ab1", 1 },
		{ "^[a-z]{2,2097152}", "a1", 0 },
		{ "^[a-z]{2,2097152}?", "xyz", 1 },
	};
	int ec;
	PCRE2_SIZE off;

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		ck_assert_msg(pattern_matches(t[i].re, t[i].subject) == t[i].match, "%s on \"%s\"", t[i].re, t[i].subject);
	/* beyond PCRE2, not rewritten: a limit, not a syntax error */
	ck_assert_ptr_null(rt_pattern_compile("^.{0,262144}$", &ec, &off));
	ck_assert_int_eq(rt_pattern_limit(ec), 1);
	ck_assert_int_eq(rt_pattern_unenforced("^.{0,262144}$"), 1);
	ck_assert_ptr_null(rt_pattern_compile("^a{1,70000}b", &ec, &off));
	ck_assert_int_eq(rt_pattern_limit(ec), 1);
	ck_assert_int_eq(rt_pattern_unenforced("^[a-\\uD800]"), 1);
	/* syntax errors stay errors */
	ck_assert_ptr_null(rt_pattern_compile("^[\\uDFFF-\\uD800]$", &ec, &off));
	ck_assert_int_eq(rt_pattern_limit(ec), 0);
	ck_assert_ptr_null(rt_pattern_compile("^([a-z]+$", &ec, &off));
	ck_assert_int_eq(rt_pattern_limit(ec), 0);
	ck_assert_int_eq(rt_pattern_unenforced("^([a-z]+$"), 0);
}
END_TEST


/* rt_json_write_json: one JSON value goes out byte for byte; anything else
   (nothing, two values, trailing bytes, bad UTF-8, a duplicate name, an
   unclosed container, a lone surrogate) fails the writer and writes nothing. */
START_TEST(write_json_text)
{
	static const char *const good[] = { "{}", "{\"plan\":\"pro\",\"seats\":3}", "[1,2,{\"a\":[true,null]}]",
	                                    " {\"a\" : 1 } ", "\"caf\xc3\xa9\"", "-0.5e3", "null" };
	static const char *const bad[] = { "", " ", "{} {}", "{}x", "{\"a\":1,\"a\":2}", "{\"a\":", "[1,",
	                                   "\"\xc3\x28\"", "\"\\ud800\"", "{'a':1}", "01", "[1,]", "nul" };
	rt_json_writer w;

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		rt_json_writer_init(&w);
		rt_json_write_raw(&w, "[", 1);
		rt_json_write_json(&w, good[i]);
		ck_assert_msg(!w.failed, "refused %s", good[i]);
		ck_assert_uint_eq(w.used, 1 + strlen(good[i]));
		ck_assert(memcmp(w.buf + 1, good[i], strlen(good[i])) == 0);
		rt_json_writer_free(&w);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		rt_json_writer_init(&w);
		rt_json_write_json(&w, bad[i]);
		ck_assert_msg(w.failed, "accepted %s", bad[i]);
		ck_assert_uint_eq(w.used, 0);
		rt_json_writer_free(&w);
	}
}
END_TEST

/* rt_addr_text: every IPv4 address a sample of the 2^32 (each octet at
   0, 1, 9, 10, 99, 100, 199, 200, 255 and random ones) as inet_ntop writes
   it; IPv6 through inet_ntop; a buffer too short, no address, another
   family refused. */
START_TEST(addr_text)
{
	static const unsigned char oct[] = { 0, 1, 9, 10, 99, 100, 101, 199, 200, 250, 255 };
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	char got[64], want[64];
	unsigned seed = 7;
	size_t n = sizeof oct;

	for (size_t i = 0; i < n * n * n * n + 20000; i++) {
		unsigned char *b = (unsigned char *)&a4.sin_addr;
		if (i < n * n * n * n) {
			b[0] = oct[i % n]; b[1] = oct[i / n % n]; b[2] = oct[i / n / n % n]; b[3] = oct[i / n / n / n];
		} else {
			for (int k = 0; k < 4; k++) {
				seed = seed * 1103515245u + 12345u;
				b[k] = (unsigned char)(seed >> 16);
			}
		}
		ck_assert_ptr_nonnull(inet_ntop(AF_INET, &a4.sin_addr, want, sizeof want));
		ck_assert_int_eq(rt_addr_text((struct sockaddr *)&a4, got, sizeof got), 0);
		ck_assert_str_eq(got, want);
	}
	inet_pton(AF_INET, "255.255.255.255", &a4.sin_addr);
	ck_assert_int_eq(rt_addr_text((struct sockaddr *)&a4, got, 16), 0);   /* exactly fits */
	ck_assert_str_eq(got, "255.255.255.255");
	ck_assert_int_eq(rt_addr_text((struct sockaddr *)&a4, got, 15), -1);
	inet_pton(AF_INET6, "2001:db8::ff00:42:8329", &a6.sin6_addr);
	ck_assert_int_eq(rt_addr_text((struct sockaddr *)&a6, got, sizeof got), 0);
	ck_assert_str_eq(got, "2001:db8::ff00:42:8329");
	inet_pton(AF_INET6, "::ffff:10.1.2.3", &a6.sin6_addr);
	ck_assert_int_eq(rt_addr_text((struct sockaddr *)&a6, got, sizeof got), 0);
	ck_assert_str_eq(got, "::ffff:10.1.2.3");
	ck_assert_int_eq(rt_addr_text((struct sockaddr *)&un, got, sizeof got), -1);
	ck_assert_int_eq(rt_addr_text(NULL, got, sizeof got), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rt_json");
	TCase *tc = tcase_create("dump");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, scalars_and_strings);
	tcase_add_test(tc, addr_text);
	tcase_add_test(tc, write_json_text);
	tcase_add_test(tc, containers);
	tcase_add_test(tc, random_documents);
	tcase_add_test(tc, refused);
	tcase_add_test(tc, writer_reals);
	tcase_add_test(tc, writer_scalars);
	tcase_add_test(tc, writer_refuses);
	tcase_add_test(tc, long_strings);
	tcase_add_test(tc, as_numbers);
	tcase_add_test(tc, pattern_rewrites);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
