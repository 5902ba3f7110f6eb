/* test_rt_jread.c — rt_arena and the JSON pull reader rt_jread.
 *
 * Tables: TEST(input, expect) renders the reader's tokens of input
 * (duplicate names checked per object through rt_jread_names_add) and
 * compares them with expect, recording the line. Every input of every table
 * is also read by jansson (json_loadb with rt_http.c's flags) and by a tree
 * built on the reader (jread_tree.h): both accept or both refuse, and an
 * accepted text gives the same value; skipping the whole value with
 * rt_jread_skip accepts and refuses the same texts.
 */
#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jread_tree.h"
#include "rt_value.h"
#include "rt_arena.h"
#include "rt_jread.h"

#define JFLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)

static const char *const err_names[] = {
#define ERR_NAME(name, msg) #name,
	RT_JREAD_ERROR_MAP(ERR_NAME)
#undef ERR_NAME
};

/* ---- the arena ---- */

START_TEST(arena_first_block_then_malloc)
{
	_Alignas(max_align_t) char first[256];
	rt_arena a;
	char *prev = NULL;

	rt_arena_init(&a, first, sizeof first);
	for (int i = 0; i < 2000; i++) {
		size_t n = (size_t)(1 + (i * 37) % 200);
		unsigned char *p = rt_arena_alloc(&a, n);
		ck_assert_ptr_nonnull(p);
		ck_assert_msg(((uintptr_t)p % RT_ARENA_ALIGN) == 0, "allocation %d misaligned", i);
		if (i == 0)
			ck_assert_msg((char *)p >= first && (char *)p < first + sizeof first, "the first allocation is not in the first block");
		memset(p, i & 0xff, n); /* writable, and the sanitizers see overlaps */
		ck_assert_msg(prev == NULL || (char *)p != prev, "same pointer twice");
		prev = (char *)p;
	}
	ck_assert_ptr_nonnull(a.blocks);
	ck_assert_uint_gt(a.used, 2000);
	{
		void *p16 = rt_arena_alloc_aligned(&a, 3, 64);
		char *c = rt_arena_alloc_aligned(&a, 1, 1), *d = rt_arena_alloc_aligned(&a, 1, 1);
		ck_assert_msg(((uintptr_t)p16 % 64) == 0, "64-byte alignment");
		ck_assert_ptr_eq(d, c + 1);  /* align 1 packs */
	}
	{
		char *big = rt_arena_alloc(&a, 1u << 20);  /* larger than any block so far */
		ck_assert_ptr_nonnull(big);
		memset(big, 1, 1u << 20);
	}
	ck_assert_ptr_null(rt_arena_alloc(&a, SIZE_MAX - 8));
	rt_arena_free(&a);
	ck_assert_ptr_null(a.blocks);
}
END_TEST

/* A block the arena malloc'd is kept for the thread's next arena, not given
   back to malloc at once (freeing large blocks made glibc consolidate its
   free lists on every request); a block over RT_ARENA_KEEP_MAX is not. */
START_TEST(arena_keeps_a_freed_block_for_the_next)
{
	_Alignas(max_align_t) char first[64];
	rt_arena a;
	char *big, *kept, *again;

	rt_arena_init(&a, first, sizeof first);
	kept = big = rt_arena_alloc(&a, 100000);
	ck_assert_ptr_nonnull(big);
	rt_arena_free(&a);
	rt_arena_init(&a, first, sizeof first);
	again = rt_arena_alloc(&a, 50000);
	ck_assert_ptr_nonnull(again);
	memset(again, 2, 50000);
	ck_assert_msg(again == big, "the freed block was not reused");
	rt_arena_free(&a);

	rt_arena_init(&a, first, sizeof first);
	big = rt_arena_alloc(&a, RT_ARENA_KEEP_MAX + 1);
	ck_assert_ptr_nonnull(big);
	rt_arena_free(&a);
	rt_arena_init(&a, first, sizeof first);
	again = rt_arena_alloc(&a, 50000); /* the block kept before, not the huge one */
	ck_assert_msg(again == kept, "a block over RT_ARENA_KEEP_MAX was kept");
	rt_arena_free(&a);
}
END_TEST

/* rt_value_get finds members by name, escaped names decoded; not in an
   array, a scalar or NULL */
START_TEST(value_get)
{
	RT_ARENA_ON_STACK(a, 1024);
	static const char in[] = "{\"a\":1,\"b\\u00e9\":[true,\"x\\ny\"],\"c\":{\"d\":null}}";
	const rt_value *v = NULL, *b;

	ck_assert_int_eq(rt_value_read(in, sizeof in - 1, &a, &v), 0);
	ck_assert_int_eq(v->type, RT_V_OBJECT);
	ck_assert_uint_eq(v->u.object.n, 3);
	ck_assert_int_eq(rt_value_get(v, "a")->type, RT_V_INTEGER);
	ck_assert_int_eq(rt_value_get(v, "a")->u.i, 1);
	b = rt_value_get(v, "b\xc3\xa9");
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(b->type, RT_V_ARRAY);
	ck_assert_uint_eq(b->u.array.n, 2);
	ck_assert_int_eq(b->u.array.v[1].type, RT_V_STRING);
	ck_assert_uint_eq(b->u.array.v[1].u.str.len, 3);
	ck_assert_int_eq(memcmp(b->u.array.v[1].u.str.s, "x\ny", 3), 0);
	ck_assert_int_eq(rt_value_get(rt_value_get(v, "c"), "d")->type, RT_V_NULL);
	ck_assert_ptr_null(rt_value_get(v, "e"));
	ck_assert_ptr_null(rt_value_get(b, "a"));
	ck_assert_ptr_null(rt_value_get(rt_value_get(v, "a"), "a"));
	ck_assert_ptr_null(rt_value_get(NULL, "a"));
	ck_assert_int_eq(rt_value_read("[1,", 3, &a, &v), -1); /* not one JSON value: refused, not read past */
	ck_assert_ptr_null(v);
	rt_arena_free(&a);
}
END_TEST

START_TEST(arena_strndup_and_stack)
{
	RT_ARENA_ON_STACK(a, 64);
	const char src[] = "abc\0def";
	char *s = rt_arena_strndup(&a, src, 3), *t;

	ck_assert_str_eq(s, "abc");
	ck_assert_msg(s >= a_first && s < a_first + sizeof a_first, "the copy is on the stack block");
	t = rt_arena_strndup(&a, "0123456789012345678901234567890123456789012345678901234567890123456789", 70);
	ck_assert_int_eq((int)strlen(t), 70);
	ck_assert_msg(!(t >= a_first && t < a_first + sizeof a_first), "70 bytes do not fit the 64-byte block");
	ck_assert_str_eq(s, "abc");
	rt_arena_free(&a);
	/* no first block at all */
	rt_arena_init(&a, NULL, 0);
	ck_assert_str_eq(rt_arena_strndup(&a, "x", 1), "x");
	rt_arena_free(&a);
}
END_TEST

/* ---- the reader's tokens ---- */

static void put(char *out, size_t size, size_t *n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void put(char *out, size_t size, size_t *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (*n < size)
		*n += (size_t)vsnprintf(out + *n, size - *n, fmt, ap);
	va_end(ap);
}

static void put_str(char *out, size_t size, size_t *n, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			put(out, size, n, "\\x%02x", c);
		else
			put(out, size, n, "%c", c);
	}
}

/* The tokens of in[0..len) as text: "{ a: [ 1 r2.5 \"x\" true ] }", an
   error as "!NAME@line:column", the pointer of an error after it ("#/a/0")
   when it is not the root. */
static void render(const char *in, size_t len, char *out, size_t size)
{
	RT_ARENA_ON_STACK(a, 512);
	rt_jread_names sets[64];
	rt_jread r;
	size_t n = 0;
	int t;

	out[0] = '\0';
	rt_jread_init(&r, in, len, &a, 0);
	while ((t = rt_jread_next(&r)) != RT_JR_END) {
		const char *sep = n ? " " : "";
		switch (t) {
		case RT_JR_NULL: put(out, size, &n, "%snull", sep); break;
		case RT_JR_TRUE: put(out, size, &n, "%strue", sep); break;
		case RT_JR_FALSE: put(out, size, &n, "%sfalse", sep); break;
		case RT_JR_INTEGER: put(out, size, &n, "%s%" PRId64, sep, r.i); break;
		case RT_JR_REAL: put(out, size, &n, "%sr%.17g", sep, r.d); break;
		case RT_JR_STRING:
			put(out, size, &n, "%s\"", sep);
			put_str(out, size, &n, r.str, r.len);
			put(out, size, &n, "\"");
			break;
		case RT_JR_NAME:
			if (r.depth <= 64 && rt_jread_names_add(&r, &sets[r.depth - 1]) != 0)
				goto error;
			put(out, size, &n, "%s", sep);
			put_str(out, size, &n, r.str, r.len);
			put(out, size, &n, ":");
			break;
		case RT_JR_OBJECT_BEGIN:
			if (r.depth <= 64)
				memset(&sets[r.depth - 1], 0, sizeof sets[0]);
			put(out, size, &n, "%s{", sep);
			break;
		case RT_JR_OBJECT_END: put(out, size, &n, "%s}", sep); break;
		case RT_JR_ARRAY_BEGIN: put(out, size, &n, "%s[", sep); break;
		case RT_JR_ARRAY_END: put(out, size, &n, "%s]", sep); break;
		default: goto error;
		}
	}
	rt_arena_free(&a);
	return;
error:
	{
		int line, col;
		char ptr[128];
		rt_jread_position(&r, &line, &col);
		put(out, size, &n, "%s!%s@%d:%d", n ? " " : "", err_names[r.err], line, col);
		if (rt_jread_pointer(&r, ptr, sizeof ptr) > 0)
			put(out, size, &n, "#%s", ptr);
	}
	rt_arena_free(&a);
}

/* rt_value (rt_value.h) of text jansson accepted as want: built from a
   checking reader's tokens as it skips the value, and read again trusted,
   it is want, members in their order (the compact texts are the same
   bytes); so is its copy from want. */
static void value_agrees(const json_t *want, const char *in, size_t len, rt_arena *a, int line)
{
	const rt_value *v = NULL, *c = NULL;
	json_t *back, *back2;
	char *w, *g, *g2;

	/* first a checking reader that skips the whole value: its tokens, strings
	   read raw, still make the tree (rt_parse_value's reader, skipping) */
	{
		rt_value_builder b;
		rt_jread r;
		rt_value_builder_init(&b, a);
		rt_jread_init(&r, in, len, a, 0);
		rt_jread_sink_set(&r, &b.sink);
		ck_assert_msg(rt_jread_skip(&r) == 0 && rt_jread_next(&r) == RT_JR_END, "line %d: skip with a sink failed", line);
		ck_assert_msg(rt_value_builder_end(&b, &v) == 0, "line %d: the builder made no value", line);
		rt_value_builder_free(&b);
		back = rt_value_to_json(v);
		w = json_dumps(want, JSON_ENCODE_ANY | JSON_COMPACT);
		g = json_dumps(back, JSON_ENCODE_ANY | JSON_COMPACT);
		ck_assert_msg(jread_tree_same(want, back) && strcmp(w, g) == 0, "line %d: %.*s: jansson %s, skipped into rt_value %s",
		              line, (int)len, in, w, g);
		free(w);
		free(g);
		json_decref(back);
	}
	ck_assert_msg(rt_value_read(in, len, a, &v) == 0 && v != NULL, "line %d: %.*s: rt_value_read failed", line, (int)len, in);
	ck_assert_msg(rt_value_from_json(want, a, &c) == 0 && c != NULL, "line %d: rt_value_from_json failed", line);
	back = rt_value_to_json(v);
	back2 = rt_value_to_json(c);
	ck_assert_ptr_nonnull(back);
	ck_assert_ptr_nonnull(back2);
	w = json_dumps(want, JSON_ENCODE_ANY | JSON_COMPACT);
	g = json_dumps(back, JSON_ENCODE_ANY | JSON_COMPACT);
	g2 = json_dumps(back2, JSON_ENCODE_ANY | JSON_COMPACT);
	ck_assert_msg(jread_tree_same(want, back) && strcmp(w, g) == 0, "line %d: %.*s: jansson %s, rt_value %s", line, (int)len,
	              in, w, g);
	ck_assert_msg(jread_tree_same(want, back2) && strcmp(w, g2) == 0, "line %d: jansson %s, rt_value_from_json %s", line, w, g2);
	free(w);
	free(g);
	free(g2);
	json_decref(back);
	json_decref(back2);
}

/* jansson and the reader agree on in[0..len): accept/refuse, and the value
   (also as an rt_value); skipping agrees too. Returns 1 when jansson
   accepted. */
static int agree(const char *in, size_t len, int line)
{
	RT_ARENA_ON_STACK(a, 1024);
	json_error_t jerr;
	json_t *want = json_loadb(in, len, JFLAGS, &jerr), *got;
	rt_jread r;
	int skipped, accepted = want != NULL;

	got = jread_tree(&r, in, len, &a);
	ck_assert_msg((got != NULL) == accepted, "line %d: %.*s: jansson %s (%s), rt_jread %s (%s)", line, (int)len, in,
	              accepted ? "accepts" : "refuses", accepted ? "" : jerr.text, got ? "accepts" : "refuses",
	              got ? "" : rt_jread_strerror(r.err));
	if (accepted) {
		char *w = json_dumps(want, JSON_ENCODE_ANY | JSON_COMPACT), *g = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);
		ck_assert_msg(jread_tree_same(want, got), "line %d: %.*s: jansson %s, rt_jread %s", line, (int)len, in, w, g);
		free(w);
		free(g);
	}
	rt_arena_free(&a);
	rt_arena_init(&a, a_first, sizeof a_first);
	if (accepted)
		value_agrees(want, in, len, &a, line);
	rt_arena_free(&a);
	rt_arena_init(&a, a_first, sizeof a_first);
	skipped = jread_tree_skip_all(in, len, &a, &r);
	ck_assert_msg(skipped == accepted, "line %d: %.*s: jansson %s, rt_jread_skip %s (%s)", line, (int)len, in,
	              accepted ? "accepts" : "refuses", skipped ? "accepts" : "refuses", rt_jread_strerror(r.err));
	json_decref(want);
	json_decref(got);
	rt_arena_free(&a);
	return accepted;
}

static void check_tokens(const char *in, size_t len, const char *expect, int line)
{
	char got[4096];

	render(in, len, got, sizeof got);
	ck_assert_msg(strcmp(got, expect) == 0, "line %d: %.*s: got %s, want %s", line, (int)len, in, got, expect);
	agree(in, len, line);
}
/* input may hold NUL bytes: it is a string literal, sizeof - 1 long */
#define TEST(input, expect) check_tokens(input, sizeof input - 1, expect, __LINE__)

START_TEST(grammar)
{
	TEST("null", "null");
	TEST(" \t\r\n true \n", "true");
	TEST("false", "false");
	TEST("[]", "[ ]");
	TEST("{}", "{ }");
	TEST("[ ]", "[ ]");
	TEST("{ \n }", "{ }");
	TEST("[[[]],[]]", "[ [ [ ] ] [ ] ]");
	TEST("{\"a\":{\"b\":[true,false,null]},\"c\":\"d\"}", "{ a: { b: [ true false null ] } c: \"d\" }");
	TEST("{\"\":0}", "{ : 0 }");
	TEST(" [1 , 2 ]\r\n", "[ 1 2 ]");
	/* refused, with where */
	TEST("", "!EOF@1:1");
	TEST("   ", "!EOF@1:4");
	TEST("[", "[ !EOF@1:2");
	TEST("[1", "[ 1 !EOF@1:3#/0");
	TEST("{", "{ !EOF@1:2");
	TEST("{\"a\"", "{ !EOF@1:5#/a");
	TEST("{\"a\":", "{ a: !EOF@1:6#/a");
	TEST("[1,]", "[ 1 !VALUE@1:4#/1");
	TEST("[,1]", "[ !VALUE@1:2#/0");
	TEST("[1 2]", "[ 1 !ARRAY_NEXT@1:4#/0");
	TEST("[1:2]", "[ 1 !ARRAY_NEXT@1:3#/0");
	TEST("{\"a\" 1}", "{ !COLON@1:6#/a");
	TEST("{\"a\"::1}", "{ a: !VALUE@1:6#/a");
	TEST("{\"a\":1,}", "{ a: 1 !NAME@1:8#/a");
	TEST("{\"a\":1 \"b\":2}", "{ a: 1 !OBJECT_NEXT@1:8#/a");
	TEST("{1:2}", "{ !NAME@1:2");
	TEST("{'a':1}", "{ !NAME@1:2");
	TEST("{\"a\":1]", "{ a: 1 !OBJECT_NEXT@1:7#/a");
	TEST("[1}", "[ 1 !ARRAY_NEXT@1:3#/0");
	TEST("[1]x", "[ 1 ] !TRAILING@1:4");
	TEST("[1]]", "[ 1 ] !TRAILING@1:4");
	TEST("1 2", "1 !TRAILING@1:3");
	TEST("{}}", "{ } !TRAILING@1:3");
	TEST("[][]", "[ ] !TRAILING@1:3");
	TEST("]", "!VALUE@1:1");
	TEST("}", "!VALUE@1:1");
	TEST(":", "!VALUE@1:1");
	TEST("tru", "!TOKEN@1:1");
	TEST("nul", "!TOKEN@1:1");
	TEST("True", "!TOKEN@1:1");
	TEST("truex", "true !TRAILING@1:5");
	TEST("[nulll]", "[ null !ARRAY_NEXT@1:6#/0");
	TEST("NaN", "!TOKEN@1:1");
	TEST("[1,\n2,\n@]", "[ 1 2 !TOKEN@3:1#/2");
	TEST("\xef\xbb\xbf{}", "!TOKEN@1:1");               /* a BOM is not whitespace */
	TEST("[\x0c]", "[ !TOKEN@1:2#/0");                   /* nor form feed */
	TEST("[\xc2\xa0]", "[ !TOKEN@1:2#/0");               /* nor NBSP */
	TEST("[1]\0", "[ 1 ] !TRAILING@1:4");
	TEST("{\"a\":[1,{\"b\":x}]}", "{ a: [ 1 { b: !TOKEN@1:14#/a/1/b");
	TEST("{\"a/b~c\":[x]}", "{ a/b~c: [ !TOKEN@1:11#/a~1b~0c/0");
	TEST("\"\xc3\xa9\" x", "\"\xc3\xa9\" !TRAILING@1:5");   /* columns count characters */
	TEST("/*c*/1", "!TOKEN@1:1");
	TEST("1//c", "1 !TRAILING@1:2");
}
END_TEST

START_TEST(numbers)
{
	TEST("0", "0");
	TEST("-0", "0");
	TEST("[1,-2,0,123456789]", "[ 1 -2 0 123456789 ]");
	TEST("9223372036854775807", "9223372036854775807");
	TEST("-9223372036854775808", "-9223372036854775808");
	TEST("9223372036854775808", "!INTEGER_RANGE@1:1");
	TEST("-9223372036854775809", "!INTEGER_RANGE@1:1");
	TEST("9999999999999999999", "!INTEGER_RANGE@1:1");
	TEST("18446744073709551616", "!INTEGER_RANGE@1:1");
	TEST("[100000000000000000000]", "[ !INTEGER_RANGE@1:2#/0");
	TEST("1.5", "r1.5");
	TEST("-0.0", "r-0");
	TEST("0.0", "r0");
	TEST("1e2", "r100");
	TEST("1E+2", "r100");
	TEST("1e-2", "r0.01");
	TEST("0e1", "r0");
	TEST("-0e-5", "r-0");
	TEST("0.1", "r0.10000000000000001");
	TEST("1.7976931348623157e308", "r1.7976931348623157e+308");
	TEST("1.7976931348623159e308", "!REAL_RANGE@1:1");
	TEST("1e400", "!REAL_RANGE@1:1");
	TEST("-1e400", "!REAL_RANGE@1:1");
	TEST("0e99999999999999999999", "r0");
	TEST("1e-400", "r0");
	TEST("4.9406564584124654e-324", "r4.9406564584124654e-324");
	TEST("2.2250738585072011e-308", "r2.2250738585072009e-308");
	TEST("123456789012345678901234567890", "!INTEGER_RANGE@1:1");
	TEST("123456789012345678901234567890.0", "r1.2345678901234568e+29");
	TEST("0.30000000000000000000000000000001", "r0.29999999999999999");
	TEST("9007199254740993.0", "r9007199254740992");
	TEST("1.00000000000000011102230246251565404236316680908203125", "r1");
	TEST("1.00000000000000011102230246251565404236316680908203126", "r1.0000000000000002");
	TEST("01", "!NUMBER@1:1");
	TEST("-01", "!NUMBER@1:1");
	TEST("00", "!NUMBER@1:1");
	TEST("-", "!NUMBER@1:1");
	TEST("-a", "!NUMBER@1:1");
	TEST("- 1", "!NUMBER@1:1");
	TEST("1.", "!NUMBER@1:1");
	TEST("1.e1", "!NUMBER@1:1");
	TEST(".5", "!TOKEN@1:1");
	TEST("+1", "!TOKEN@1:1");
	TEST("1e", "!NUMBER@1:1");
	TEST("1e+", "!NUMBER@1:1");
	TEST("1e-x", "!NUMBER@1:1");
	TEST("0x10", "0 !TRAILING@1:2");
	TEST("1.5.2", "r1.5 !TRAILING@1:4");
	TEST("[1e5x]", "[ r100000 !ARRAY_NEXT@1:5#/0");
	TEST("-Infinity", "!NUMBER@1:1");
}
END_TEST

START_TEST(strings)
{
	TEST("\"\"", "\"\"");
	TEST("\"plain text\"", "\"plain text\"");
	TEST("\"a\\u00e9\"", "\"a\xc3\xa9\"");
	TEST("\"\\u0041\\u00DF\\u6771\"", "\"A\xc3\x9f\xe6\x9d\xb1\"");
	TEST("\"\\ud83d\\udd11\"", "\"\xf0\x9f\x94\x91\"");
	TEST("\"\\uDBFF\\uDFFF\"", "\"\xf4\x8f\xbf\xbf\"");
	TEST("\"\\/\\b\\f\\n\\r\\t\\\\\\\"\"", "\"/\\x08\\x0c\\x0a\\x0d\\x09\\\"\"");
	TEST("\"\\u001f\\u007f\"", "\"\\x1f\\x7f\"");
	TEST("\"a\x7f\"", "\"a\\x7f\"");
	TEST("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91\xef\xbf\xbf\xf4\x8f\xbf\xbf\"",
	     "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91\xef\xbf\xbf\xf4\x8f\xbf\xbf\"");
	TEST("\"a long string of more than eight bytes with \\n an escape in the middle and more after it\"",
	     "\"a long string of more than eight bytes with \\x0a an escape in the middle and more after it\"");
	TEST("\"\\\\u0000\"", "\"\\u0000\"");
	/* refused */
	TEST("\"abc", "!EOF@1:5");
	TEST("\"abcdefghijklmnop", "!EOF@1:18");
	TEST("\"\\", "!EOF@1:3");
	TEST("\"\\u00", "!EOF@1:6");
	TEST("\"\\u0x\"", "!ESCAPE@1:2");
	TEST("\"\\x\"", "!ESCAPE@1:2");
	TEST("\"\\a\"", "!ESCAPE@1:2");
	TEST("\"\\U0041\"", "!ESCAPE@1:2");
	TEST("\"\\u0000\"", "!NUL@1:2");
	TEST("{\"\\u0000\":1}", "{ !NUL@1:3");
	TEST("\"\\ud83d\"", "!SURROGATE@1:2");
	TEST("\"\\ud83dx\"", "!SURROGATE@1:2");
	TEST("\"\\ud83d\\n\"", "!SURROGATE@1:2");
	TEST("\"\\ud83d\\u0041\"", "!SURROGATE@1:2");
	TEST("\"\\ud83d\\ud83d\"", "!SURROGATE@1:2");
	TEST("\"\\ud83d\\u12\"", "!ESCAPE@1:8");
	TEST("\"\\udd11\"", "!SURROGATE@1:2");
	TEST("\"\x01\"", "!CONTROL@1:2");
	TEST("\"a\nb\"", "!CONTROL@1:3");
	TEST("\"\t\"", "!CONTROL@1:2");
	TEST("\"\0\"", "!CONTROL@1:2");
	TEST("\"\x80\"", "!UTF8@1:2");           /* a continuation byte first */
	TEST("\"\xc0\xaf\"", "!UTF8@1:2");       /* overlong '/' */
	TEST("\"\xc1\xbf\"", "!UTF8@1:2");
	TEST("\"\xe0\x80\xaf\"", "!UTF8@1:2");   /* overlong, 3 bytes */
	TEST("\"\xe0\x9f\xbf\"", "!UTF8@1:2");
	TEST("\"\xf0\x80\x80\xaf\"", "!UTF8@1:2");
	TEST("\"\xf0\x8f\xbf\xbf\"", "!UTF8@1:2");
	TEST("\"\xed\xa0\x80\"", "!UTF8@1:2");   /* U+D800 */
	TEST("\"\xed\xbf\xbf\"", "!UTF8@1:2");   /* U+DFFF */
	TEST("\"\xf4\x90\x80\x80\"", "!UTF8@1:2"); /* U+110000 */
	TEST("\"\xf5\x80\x80\x80\"", "!UTF8@1:2");
	TEST("\"\xff\"", "!UTF8@1:2");
	TEST("\"\xc3\"", "!UTF8@1:2");           /* truncated by the quote */
	TEST("\"\xc3", "!UTF8@1:2");             /* truncated by the end */
	TEST("\"\xe2\x82\"", "!UTF8@1:2");
	TEST("\"\xf0\x9f\x94\"", "!UTF8@1:2");
	TEST("\"\xe2\x28\xa1\"", "!UTF8@1:2");
	TEST("\"abcdefgh\xc3\x28\"", "!UTF8@1:10");
	TEST("[\xc3\xa9]", "[ !TOKEN@1:2#/0");
}
END_TEST

START_TEST(duplicates)
{
	TEST("{\"a\":1,\"a\":2}", "{ a: 1 !DUPLICATE@1:8#/a");
	TEST("{\"a\":1,\"\\u0061\":2}", "{ a: 1 !DUPLICATE@1:8#/a");
	TEST("{\"a\":1,\"b\":{\"a\":1},\"c\":[{\"a\":1},{\"a\":2}]}",
	     "{ a: 1 b: { a: 1 } c: [ { a: 1 } { a: 2 } ] }");
	TEST("{\"a\":{\"x\":1,\"x\":1}}", "{ a: { x: 1 !DUPLICATE@1:13#/a/x");
	TEST("{\"ab\":1,\"a\":2,\"b\":3,\"ba\":4}", "{ ab: 1 a: 2 b: 3 ba: 4 }");
	/* past the linear search: the hash index */
	TEST("{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9,\"k10\":0,"
	     "\"k11\":1,\"k12\":2,\"k13\":3,\"k14\":4,\"k3\":5}",
	     "{ k0: 0 k1: 1 k2: 2 k3: 3 k4: 4 k5: 5 k6: 6 k7: 7 k8: 8 k9: 9 k10: 0 k11: 1 k12: 2 k13: 3 k14: 4 "
	     "!DUPLICATE@1:112#/k3");
}
END_TEST

/* a document of n names, unique, or with the last equal to the one at dup */
static void many_names(size_t n, long dup, int line)
{
	size_t cap = n * 16 + 16, len = 0;
	char *buf = malloc(cap);
	RT_ARENA_ON_STACK(a, 256);
	rt_jread r;

	buf[len++] = '{';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s\"n%zu\":%zu", i ? "," : "",
		                        dup >= 0 && i == n - 1 ? (size_t)dup : i, i);
	buf[len++] = '}';
	ck_assert_int_eq(agree(buf, len, line), dup < 0);
	ck_assert_int_eq(jread_tree_skip_all(buf, len, &a, &r), dup < 0);
	if (dup >= 0)
		ck_assert_int_eq(r.err, RT_JREAD_E_DUPLICATE);
	rt_arena_free(&a);
	free(buf);
}

START_TEST(duplicates_many)
{
	many_names(5000, -1, __LINE__);
	many_names(5000, 0, __LINE__);
	many_names(5000, 4998, __LINE__);
	many_names(13, 12 - 1, __LINE__);
	many_names(300, 150, __LINE__);
}
END_TEST

/* depth nested arrays (or objects) around a scalar, or around nothing */
static void nested(unsigned depth, int objects, int scalar, int line)
{
	size_t cap = (size_t)depth * 6 + 8, len = 0;
	char *buf = malloc(cap);

	for (unsigned i = 0; i < depth; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s", objects ? "{\"a\":" : "[");
	if (scalar || objects)
		buf[len++] = '1';
	for (unsigned i = 0; i < depth; i++)
		buf[len++] = objects ? '}' : ']';
	agree(buf, len, line);
	free(buf);
}

START_TEST(depth)
{
	/* jansson counts the value inside the containers too: agree at its limit */
	for (unsigned d = RT_JREAD_MAX_DEPTH - 2; d <= RT_JREAD_MAX_DEPTH + 1; d++) {
		nested(d, 0, 0, __LINE__);
		nested(d, 0, 1, __LINE__);
		nested(d, 1, 1, __LINE__);
	}
	nested(100000, 0, 0, __LINE__);
	{
		RT_ARENA_ON_STACK(a, 256);
		rt_jread r;
		int t, n = 0;
		rt_jread_init(&r, "[[[[1]]]]", 9, &a, 4);
		while ((t = rt_jread_next(&r)) == RT_JR_ARRAY_BEGIN)
			n++;
		ck_assert_int_eq(t, RT_JR_ERROR);
		ck_assert_int_eq(r.err, RT_JREAD_E_DEPTH);
		ck_assert_int_eq(n, 4);
		rt_arena_init(&a, a_first, sizeof a_first);
		rt_jread_init(&r, "[[[[]]]]", 8, &a, 4);
		ck_assert_int_eq(rt_jread_skip(&r), 0);
		rt_arena_free(&a);
	}
}
END_TEST

/* JSONTestSuite-style cases (github.com/nst/JSONTestSuite): y_ must be
   accepted, n_ refused, i_ may go either way; all agree with jansson. */
static void suite(const char *in, size_t len, int want, int line)
{
	int accepted = agree(in, len, line);
	ck_assert_msg(want < 0 || accepted == want, "line %d: %.*s: %s", line, (int)len, in, accepted ? "accepted" : "refused");
}
#define Y(input) suite(input, sizeof input - 1, 1, __LINE__)
#define N(input) suite(input, sizeof input - 1, 0, __LINE__)
#define I(input) suite(input, sizeof input - 1, -1, __LINE__)

START_TEST(json_test_suite)
{
	Y("[[]   ]"); Y("[\"\"]"); Y("[]"); Y("[\"a\"]"); Y("[false]"); Y("[null, 1, \"1\", {}]"); Y("[null]");
	Y("[1\n]"); Y(" [1]"); Y("[1,null,null,null,2]"); Y("[2] "); Y("[123e65]"); Y("[0e+1]"); Y("[0e1]");
	Y("[ 4]"); Y("[-0.000000000000000000000000000000000000000000000000000000000000000000000000000000000001]\n");
	Y("[20e1]"); Y("[-0]"); Y("[-123]"); Y("[-1]"); Y("[1E22]"); Y("[1E-2]"); Y("[1E+2]"); Y("[123e45]");
	Y("[123.456e78]"); Y("[1e-2]"); Y("[1e+2]"); Y("[123]"); Y("[123.456789]"); Y("[1.0]"); Y("[-1.0e+28]");
	Y("{\"asd\":\"sdf\", \"dfg\":\"fgh\"}"); Y("{\"asd\":\"sdf\"}"); Y("{}"); Y("{\"\":0}");
	Y("{ \"min\": -1.0e+28, \"max\": 1.0e+28 }"); Y("{\"x\":[{\"id\": \"xxxxx\"}], \"id\": \"xxxxx\"}");
	Y("{\"a\":[]}"); Y("{\"title\":\"\\u041f\\u043e\\u043b\\u0442\\u043e\\u0440\\u0430 \\u0417\\u0435\\u043c\" }");
	Y("{\n\"a\": \"b\"\n}"); Y("[\"\\u0060\\u012a\\u12AB\"]"); Y("[\"\\uD801\\udc37\"]");
	Y("[\"\\ud83d\\ude39\\ud83d\\udc8d\"]"); Y("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]"); Y("[\"\\\\u0000\"]");
	Y("[\"\\\"\"]"); Y("[\"a/*b*/c/*d//e\"]"); Y("[\"\\\\a\"]"); Y("[\"\\\\n\"]"); Y("[\"\\u0012\"]");
	Y("[\"\\uFFFF\"]"); Y("[\"asd\"]"); Y("[ \"asd\"]"); Y("[\"\\uDBFF\\uDFFF\"]"); Y("[\"new\\u00A0line\"]");
	Y("[\"\xf4\x8f\xbf\xbf\"]"); Y("[\"\xef\xbf\xbf\"]"); Y("[\"\\u002c\"]"); Y("[\"\xcf\x80\"]");
	Y("[\"\xf0\x9b\xbf\xbf\"]"); Y("[\"asd \"]"); Y("\" \""); Y("[\"\\uD834\\uDd1e\"]"); Y("[\"\\u0821\"]");
	Y("[\"\\u0123\"]"); Y("[\"\xe2\x80\xa8\"]"); Y("[\"\xe2\x80\xa9\"]"); Y("[\"\\u0061\\u30af\\u30EA\\u30b9\"]");
	Y("[\"new\\u000Aline\"]"); Y("[\"\\uA66D\"]"); Y("[\"\\u005C\"]"); Y("[\"\\uDBFF\\uDFFE\"]");
	Y("[\"\\uD83F\\uDFFE\"]"); Y("[\"\\u200B\"]"); Y("[\"\\u2064\"]"); Y("[\"\\uFDD0\"]"); Y("[\"\\uFFFE\"]");
	Y("[\"\\u0022\"]"); Y("[\"\xe2\x82\xac\xf0\x9d\x84\x9e\"]"); Y("[\"a\x7f" "a\"]"); Y("false"); Y("42");
	Y("-0.1"); Y("null"); Y("\"asd\""); Y("true"); Y("\"\""); Y("[\"a\"]\n"); Y("[true]"); Y(" [] ");
	Y("[\"\\u00e9\\u00E9\"]"); Y("{\"a\":\"b\",\"b\":\"a\"}");

	N("[1 true]"); N("[a\xe5]"); N("[\"\": 1]"); N("[\"\"],"); N("[,1]"); N("[1,,2]"); N("[\"x\",,]");
	N("[\"x\"]]"); N("[\"\",]"); N("[\"x\""); N("[x"); N("[3[4]]"); N("[\xff]"); N("[1:2]"); N("[,]");
	N("[-]"); N("[   , \"\"]"); N("[\"a\",\n4\n,1,"); N("[1,]"); N("[1,,]"); N("[\"\x0b" "a\"\\f\"]"); N("[*]");
	N("[\"\""); N("[1,"); N("[1,\n1\n,1"); N("[{}"); N("[\"a\" \"b\"]"); N("[ false, nul]"); N("[ true, fals]");
	N("[ true, tru]"); N("[a]"); N("[\n"); N("[++1234]"); N("[+1]"); N("[+Inf]"); N("[-01]"); N("[-1.0.]");
	N("[-2.]"); N("[-NaN]"); N("[.-1]"); N("[.2e-3]"); N("[0.1.2]"); N("[0.3e+]"); N("[0.3e]"); N("[0.e1]");
	N("[0E+]"); N("[0E]"); N("[0e+]"); N("[0e]"); N("[1.0e+]"); N("[1.0e-]"); N("[1.0e]"); N("[1 000.0]");
	N("[1eE2]"); N("[2.e+3]"); N("[2.e-3]"); N("[2.e3]"); N("[9.e+]"); N("[Inf]"); N("[NaN]");
	N("[\xef\xbc\x91]"); N("[1+2]"); N("[0x1]"); N("[0x42]"); N("[Infinity]"); N("[0e+-1]");
	N("[-123.123foo]"); N("[123\xe5]"); N("[1e1\xe5]"); N("[0\xe5]"); N("[-Infinity]"); N("[-foo]");
	N("[- 1]"); N("[-012]"); N("[-.123]"); N("[-1x]"); N("[1ea]"); N("[1e\xe5]"); N("[1.]"); N("[.123]");
	N("[1.2a-3]"); N("[1.8011670033376514H-308]"); N("[012]");
	N("{\"x\", null}"); N("{\"x\"::\"b\"}"); N("{\xf0\x9f\x87\xa8\xf0\x9f\x87\xad}"); N("{[: \"x\"}");
	N("{\"a\" b}"); N("{key: 'value'}"); N("{\"a\":\"a\" 123}"); N("{\"\xb9\":\"0\",}"); N("{null:null,null:null}");
	N("{\"id\":0,,,,,}"); N("{'a':0}"); N("{\"id\":0,}"); N("{\"a\":\"b\"}/**/"); N("{\"a\":\"b\"}/**//");
	N("{\"a\":\"b\"}//"); N("{\"a\":\"b\"}/"); N("{\"a\":\"b\",,\"c\":\"d\"}"); N("{a: \"b\"}"); N("{\"a\":\"a");
	N("{ \"foo\" : \"bar\", \"a\" }"); N("{\"a\":\"b\"}#"); N("{\"a\" \"b\"}"); N("{:\"b\"}"); N("{\"a\"");
	N("{1:1}"); N("{9999E9999:1}"); N("{\"\\uDFAA\":0}"); N("{\"a\":"); N("{\"a\":1,\"a\":2}");
	N("[\"\\uD800\\\"]"); N("[\"\\uD800\\u\"]"); N("[\"\\uD800\\u1\"]"); N("[\"\\uD800\\u1x\"]");
	N("[\xc3\xa9]"); N("[\"\x00\"]"); N("[\"\\\x00\"]"); N("[\"\\x00\"]"); N("[\"\\u00A\"]");
	N("[\"\\uD834\\uDd\"]"); N("[\"\\uD800\\uD800\\x\"]"); N("[\"\\uqqqq\"]"); N("[\"\\a\"]"); N("[\"\\u\"]");
	N("[\"\\"); N("[\\u0020\"asd\"]"); N("[\\n]"); N("\""); N("['single quote']"); N("abc"); N("\"\\UA66D\"");
	N("\"a\x00" "a\""); N("[\"new\nline\"]"); N("[\"\t\"]"); N("\"\\\""); N("[\"\\u0000\"]"); N("\"\\u0000\"");
	N("<.>"); N("[<null>]"); N("[1]x"); N("[1]]"); N("[\"asd]"); N("a\xc3\xa5"); N("[True]"); N("1]");
	N("{\"x\": true,"); N("[][]"); N("]"); N("\xef\xbb\xbf"); N("\xef\xbb\xbf{}"); N("["); N(""); N("[\"a\x00\"]");
	N("2@"); N("}"); N("{}}"); N("{\"\":"); N("{\"a\":/*comment*/\"b\"}"); N("{\"a\": true} \"x\""); N("['");
	N("[,"); N("[{"); N("[\"a"); N("[\"a\""); N("{"); N("{]"); N("{,"); N("{["); N("{\"a"); N("{'a'");
	N("[\"\\{[\"\\{[\"\\{[\"\\{"); N("\xe9"); N("*"); N("{\"a\":\"b\"}#{}"); N("[\\u000A\"\"]"); N("[1");
	N("[ false, tru"); N("{\"asd\":\"asd\""); N("\xef\xac\x80"); N("[\xe2\x81\xa0]"); N("<!DOCTYPE html>");
	N("[1."); N("\xff\xfe[\x00\"\x00\xe9\x00\"\x00]\x00"); N("[\"\xed\xa0\x80\"]"); N("[\"\xc0\xaf\"]");
	N("[\"\xf4\xbf\xbf\xbf\"]"); N("[\"\xe0\xff\"]"); N("[\"\xfc\x83\xbf\xbf\xbf\xbf\"]");
	N("[\"\xfc\x80\x80\x80\x80\x80\"]"); N("[\"\xc1\xbf\"]"); N("[\"\xe0\x80\x80\"]"); N("[\"\xf0\x80\x80\x80\"]");
	N("[\"\x81\"]"); N("[\"\xe9\"]"); N("[\"\xff\"]"); N("[\"\xe6\x97\xa5\xd1\x88\xfa\"]"); N("[\"\\uDADA\"]");
	N("[\"\\uD888\\u1234\"]"); N("[\"\\uD800\\n\"]"); N("[9223372036854775808]"); N("[1e309]");

	I("[123.456e-789]"); I("[-1e+9999]"); I("[1.5e+9999]"); I("[-123123e100000]"); I("[123123e100000]");
	I("[123e-10000000]"); I("[-123123123123123123123123123123]"); I("[100000000000000000000]");
	I("[-237462374673276894279832749832423479823246327846]"); I("{\"a\":\"b\",\"a\":\"c\"}");
	I("{\"foo\\u0000bar\": 42}"); I("[\"\\uDFAA\"]"); I("[0.4e006699999999999999999999999999999999999999999999]");
	I("[1.0000000000000000000000000000000000000000000000000000000000000000000000000001]");
	I("[0.00000000000000000000000000000000000000000000000000000000000000000000000000000000000000001e-300]");
	I("[123456789012345678901234567890e-30]"); I("[9223372036854775807]"); I("[-9223372036854775808]");
	I("[-9223372036854775809]"); I("[1E400]"); I("[1e-400]"); I("[4.9e-324]"); I("[2.4e-324]");
	I("[1.7976931348623157e+308]"); I("[1.7976931348623158e+308]"); I("[179769313486231580793728971405301e276]");
}
END_TEST

/* Random numbers, written as a person or a printer would: integers around
   the int64 limits and reals of every length and exponent, all agreeing
   with jansson (which calls strtoll and strtod). */
static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t rnd64(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

START_TEST(numbers_random)
{
	char buf[128];

	for (int i = 0; i < 200000; i++) {
		uint64_t x = rnd64();
		int n;
		switch (i % 6) {
		case 0: n = snprintf(buf, sizeof buf, "%" PRId64, (int64_t)x); break;
		case 1: n = snprintf(buf, sizeof buf, "%s%" PRIu64, i & 8 ? "-" : "", (uint64_t)INT64_MAX - 3 + x % 8); break;
		case 2: {
			double d;
			memcpy(&d, &x, sizeof d);
			if (!isfinite(d))
				d = 1.5;
			n = snprintf(buf, sizeof buf, "%.*g", (int)(1 + x % 17), d);
			break;
		}
		case 3: n = snprintf(buf, sizeof buf, "%" PRIu64 ".%" PRIu64 "e%d", x % 100000000, (x >> 20) % 1000000,
		                     (int)((x >> 40) % 60) - 30); break;
		case 4: n = snprintf(buf, sizeof buf, "%" PRIu64 "e-%d", x >> (x % 60), (int)(x % 30)); break;
		default: n = snprintf(buf, sizeof buf, "0.%0*" PRIu64, (int)(x % 25), x % 1000000007); break;
		}
		if (strstr(buf, "inf") || strstr(buf, "nan"))
			continue;
		agree(buf, (size_t)n, __LINE__);
	}
}
END_TEST

START_TEST(strings_random)
{
	static const char *const pieces[] = { "a", "Z", " ", "\\\"", "\\\\", "\\/", "\\n", "\\t", "\\u00e9", "\\u20AC",
	                                      "\\ud83d\\udd11", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x94\x91", "\x7f",
	                                      "\\ud83d", "\\udd11", "\xc3", "\xed\xa0\x80", "\x01", "\\u0000", "\\x",
	                                      "\"", "\\u12", "abcdefghijklmnop", "\xef\xbf\xbf" };
	char buf[512];

	for (int i = 0; i < 100000; i++) {
		size_t n = 0, k = rnd64() % 12;
		int obj = (int)(rnd64() % 3);
		if (obj)
			n += (size_t)snprintf(buf, sizeof buf, "{\"");
		else
			buf[n++] = '"';
		for (size_t j = 0; j < k; j++) {
			const char *p = pieces[rnd64() % (sizeof pieces / sizeof *pieces)];
			size_t l = strlen(p);
			memcpy(buf + n, p, l);
			n += l;
		}
		n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", obj ? "\":1}" : "\"");
		agree(buf, n, __LINE__);
	}
}
END_TEST

/* jansson's lexer drops a NUL byte that directly follows a number or a
   literal (the lookahead byte it ungets is a NUL, which its buffer reads as
   empty): it accepts these; rt_jread refuses every NUL outside strings. */
START_TEST(jansson_nul_leniency)
{
	static const struct { const char *s; size_t n; } cases[] = {
		{ "2\0", 2 }, { "[1\0]", 4 }, { "true\0", 5 }, { "{\"a\":null\0}", 11 }, { "[-0.5e3\0,1]", 11 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		RT_ARENA_ON_STACK(a, 256);
		rt_jread r;
		json_t *j = json_loadb(cases[i].s, cases[i].n, JFLAGS, NULL), *t = jread_tree(&r, cases[i].s, cases[i].n, &a);
		ck_assert_msg(j != NULL, "case %zu: jansson no longer accepts it: the fuzz oracle's exception can go", i);
		ck_assert_msg(t == NULL && r.err != RT_JREAD_E_OK,
		              "case %zu: rt_jread accepts a NUL byte", i);
		json_decref(j);
		rt_arena_free(&a);
	}
}
END_TEST

/* The pattern a generated parser follows: known names by its own bits
   (rt_jread_duplicate on a repeat), unknown ones through a names set and
   skipped; a wrong type skipped with rt_jread_skip_rest; the pointer of each
   violation from rt_jread_pointer. Returns violations, or -1 when the reader
   failed (r->err). */
static int typed_pattern(const char *in, rt_jread *r, rt_arena *a, char *log, size_t size)
{
	rt_jread_names unknown = { 0 };
	unsigned seen = 0;
	size_t n = 0;
	int t, bad = 0;

	log[0] = '\0';
	rt_jread_init(r, in, strlen(in), a, 0);
	if (rt_jread_next(r) != RT_JR_OBJECT_BEGIN)
		return -1;
	while ((t = rt_jread_next(r)) == RT_JR_NAME) {
		char ptr[64];
		int known = r->len == 1 && (r->str[0] == 'a' || r->str[0] == 'b') ? r->str[0] - 'a' + 1 : 0;
		if (known && (seen & (unsigned)known) && rt_jread_duplicate(r) != 0)
			return -1;
		if (!known && rt_jread_names_add(r, &unknown) != 0)
			return -1;
		seen |= (unsigned)known;
		rt_jread_pointer(r, ptr, sizeof ptr);
		t = rt_jread_next(r);
		if (known && t == RT_JR_INTEGER)
			continue;
		if (rt_jread_skip_rest(r, t) != 0)
			return -1;
		put(log, size, &n, "%s%s", n ? " " : "", ptr);
		bad++;
	}
	if (t != RT_JR_OBJECT_END || rt_jread_next(r) != RT_JR_END)
		return -1;
	return bad;
}

START_TEST(typed_parser_pattern)
{
	RT_ARENA_ON_STACK(a, 256);
	char log[256];
	rt_jread r;

	ck_assert_int_eq(typed_pattern("{\"a\":1,\"b\":2}", &r, &a, log, sizeof log), 0);
	ck_assert_int_eq(typed_pattern("{\"a\":\"x\",\"z\":[1,{\"q\":2}],\"b\":{\"c\":[]},\"y\":null}", &r, &a, log, sizeof log), 4);
	ck_assert_str_eq(log, "/a /z /b /y");
	ck_assert_int_eq(typed_pattern("{\"a\":1,\"b\":2,\"a\":3}", &r, &a, log, sizeof log), -1);
	ck_assert_int_eq(r.err, RT_JREAD_E_DUPLICATE);
	ck_assert_int_eq((int)r.err_off, 13);
	ck_assert_int_eq(typed_pattern("{\"z\":1,\"b\":2,\"z\":3}", &r, &a, log, sizeof log), -1);
	ck_assert_int_eq(r.err, RT_JREAD_E_DUPLICATE);
	ck_assert_int_eq(typed_pattern("{\"z\":{\"x\":1,\"x\":2}}", &r, &a, log, sizeof log), -1);
	ck_assert_int_eq(r.err, RT_JREAD_E_DUPLICATE);
	ck_assert_int_eq(typed_pattern("{\"a\":[1,2,}", &r, &a, log, sizeof log), -1);
	ck_assert_int_eq(r.err, RT_JREAD_E_VALUE);
	rt_arena_free(&a);
}
END_TEST

START_TEST(cstr_copies_once)
{
	RT_ARENA_ON_STACK(a, 256);
	const char *in = "[\"plain\",\"esc\\u00e9\"]";
	rt_jread r;
	const char *s;

	rt_jread_init(&r, in, strlen(in), &a, 0);
	ck_assert_int_eq(rt_jread_next(&r), RT_JR_ARRAY_BEGIN);
	ck_assert_int_eq(rt_jread_next(&r), RT_JR_STRING);
	ck_assert_msg(r.str == in + 2 && r.len == 5 && !r.in_arena, "an unescaped string points into the input");
	s = rt_jread_cstr(&r);
	ck_assert_str_eq(s, "plain");
	ck_assert_ptr_eq(rt_jread_cstr(&r), s); /* not copied again */
	ck_assert_int_eq(rt_jread_next(&r), RT_JR_STRING);
	ck_assert_msg(r.in_arena && r.len == 5, "an escaped string is decoded into the arena");
	s = r.str;
	ck_assert_ptr_eq(rt_jread_cstr(&r), s);
	ck_assert_str_eq(s, "esc\xc3\xa9");
	ck_assert_int_eq(rt_jread_next(&r), RT_JR_ARRAY_END);
	ck_assert_int_eq(rt_jread_next(&r), RT_JR_END);
	ck_assert_int_eq(rt_jread_next(&r), RT_JR_END);
	rt_arena_free(&a);
}
END_TEST

START_TEST(skip_and_errors)
{
	RT_ARENA_ON_STACK(a, 256);
	const char *in = "{\"keep\":1,\"skip\":{\"x\":[1,{\"y\":\"\\u00e9\"}],\"z\":null},\"also\":[[],{}],\"last\":\"v\"}";
	rt_jread r;
	rt_errors errs;
	rt_jread_names unknown = { 0 };
	int t, kept = 0;

	rt_jread_init(&r, in, strlen(in), &a, 0);
	ck_assert_int_eq(rt_jread_next(&r), RT_JR_OBJECT_BEGIN);
	while ((t = rt_jread_next(&r)) == RT_JR_NAME) {
		if (r.len == 4 && (memcmp(r.str, "keep", 4) == 0 || memcmp(r.str, "last", 4) == 0)) {
			t = rt_jread_next(&r);
			kept++;
			ck_assert(t == RT_JR_INTEGER || t == RT_JR_STRING);
		} else {
			ck_assert_int_eq(rt_jread_names_add(&r, &unknown), 0);
			ck_assert_int_eq(rt_jread_skip(&r), 0);
		}
	}
	ck_assert_int_eq(t, RT_JR_OBJECT_END);
	ck_assert_int_eq(kept, 2);
	ck_assert_int_eq(rt_jread_next(&r), RT_JR_END);

	/* an error inside a skipped value names where it is */
	in = "{\"a\":{\"b\":[1,2,{\"c\":1,\"c\":2}]}}";
	rt_jread_init(&r, in, strlen(in), &a, 0);
	ck_assert_int_eq(rt_jread_next(&r), RT_JR_OBJECT_BEGIN);
	ck_assert_int_eq(rt_jread_next(&r), RT_JR_NAME);
	ck_assert_int_eq(rt_jread_skip(&r), -1);
	ck_assert_int_eq(r.err, RT_JREAD_E_DUPLICATE);
	rt_errors_init(&errs);
	ck_assert_int_eq(rt_jread_error_add(&r, &errs), 0);
	ck_assert_str_eq(errs.v[0].pointer, "/a/b/2/c");
	ck_assert_str_eq(errs.v[0].keyword, "json");
	ck_assert_str_eq(errs.v[0].message, "line 1, column 23: duplicate object key");
	rt_errors_free(&errs);
	ck_assert_int_eq(rt_jread_next(&r), RT_JR_ERROR); /* stays failed */
	rt_arena_free(&a);
}
END_TEST

/* Walks the top object of in, skipping every member's value; the offset
   after each skip into at[] (n of them); the reader trusted with ends when
   ends is given. */
static size_t walk_skipping(const char *in, rt_jread_ends *ends, int trust, rt_arena *a, size_t *at, size_t max)
{
	rt_jread r;
	size_t n = 0;
	int t;

	rt_jread_init(&r, in, strlen(in), a, 0);
	if (trust)
		rt_jread_trust(&r, ends);
	ck_assert_int_eq(rt_jread_next(&r), RT_JR_OBJECT_BEGIN);
	while ((t = rt_jread_next(&r)) == RT_JR_NAME) {
		ck_assert_int_eq(rt_jread_skip(&r), 0);
		ck_assert_uint_lt(n, max);
		at[n++] = (size_t)(r.p - in);
	}
	ck_assert_int_eq(t, RT_JR_OBJECT_END);
	ck_assert_int_eq(rt_jread_next(&r), RT_JR_END);
	return n;
}

START_TEST(trusted_skip_by_ends)
{
	RT_ARENA_ON_STACK(a, 512);
	/* brackets and escaped quotes inside strings, containers long enough to
	   be noted nested in one that is, and short ones */
	const char *in = "{\"a\":{\"s\":\"x}]\\\"{[\",\"b\":[1,{\"c\":\"a long string that makes this object noted\"}],"
	                 "\"d\":{}},\"e\":[[],{},\"]\"],\"f\":{\"g\":{\"h\":[\"}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}\"]}},"
	                 "\"i\":1}";
	rt_jread_ends ends = { 0 };
	size_t want[8], got[8], n, m;

	n = walk_skipping(in, NULL, 0, &a, want, 8);
	ck_assert_uint_eq(n, 4);
	m = walk_skipping(in, &ends, 1, &a, got, 8); /* notes the ends */
	ck_assert_uint_eq(m, n);
	ck_assert_mem_eq(got, want, n * sizeof *got);
	ck_assert_uint_gt(ends.n, 2);
	m = walk_skipping(in, &ends, 1, &a, got, 8); /* jumps by them */
	ck_assert_uint_eq(m, n);
	ck_assert_mem_eq(got, want, n * sizeof *got);
	m = walk_skipping(in, NULL, 1, &a, got, 8); /* trusted, nothing noted */
	ck_assert_uint_eq(m, n);
	ck_assert_mem_eq(got, want, n * sizeof *got);

	/* a checking reader notes the ends of what it reads: a trusted one
	   sharing them then jumps over containers it never skipped itself */
	{
		rt_jread_ends read = { 0 };
		rt_jread r;
		int t;
		rt_jread_init(&r, in, strlen(in), &a, 0);
		rt_jread_note_ends(&r, &read);
		while ((t = rt_jread_next(&r)) > RT_JR_END)
			;
		ck_assert_int_eq(t, RT_JR_END);
		ck_assert_uint_gt(read.n, 2);
		m = walk_skipping(in, &read, 1, &a, got, 8);
		ck_assert_uint_eq(m, n);
		ck_assert_mem_eq(got, want, n * sizeof *got);
	}

	/* inside a noted container, a reader that walks into it and skips a
	   nested one lands where a checking reader does */
	{
		rt_jread r, c;
		int t;
		rt_jread_init(&r, in, strlen(in), &a, 0);
		rt_jread_init(&c, in, strlen(in), &a, 0);
		rt_jread_trust(&r, &ends);
		for (int i = 0; i < 4; i++) {
			t = rt_jread_next(&r);
			ck_assert_int_eq(rt_jread_next(&c), t);
		}
		ck_assert_int_eq(t, RT_JR_NAME); /* "s" */
		ck_assert_int_eq(rt_jread_skip(&r), 0);
		ck_assert_int_eq(rt_jread_skip(&c), 0);
		ck_assert_int_eq(rt_jread_next(&r), RT_JR_NAME); /* "b" */
		ck_assert_int_eq(rt_jread_next(&c), RT_JR_NAME);
		ck_assert_int_eq(rt_jread_skip(&r), 0);
		ck_assert_int_eq(rt_jread_skip(&c), 0);
		ck_assert_ptr_eq(r.p, c.p);
	}

	/* trusted strings: decoded when escaped, names not checked again */
	{
		const char *dup = "{\"k\":\"esc\\u00e9\\\"\",\"k\":1}";
		rt_jread r;
		rt_jread_names set = { 0 };
		rt_jread_init(&r, dup, strlen(dup), &a, 0);
		rt_jread_trust(&r, NULL);
		ck_assert_int_eq(rt_jread_next(&r), RT_JR_OBJECT_BEGIN);
		ck_assert_int_eq(rt_jread_next(&r), RT_JR_NAME);
		ck_assert_int_eq(rt_jread_names_add(&r, &set), 0);
		ck_assert_int_eq(rt_jread_next(&r), RT_JR_STRING);
		ck_assert_msg(r.in_arena && r.len == 6 && memcmp(r.str, "esc\xc3\xa9\"", 6) == 0, "decoded");
		ck_assert_int_eq(rt_jread_next(&r), RT_JR_NAME);
		ck_assert_int_eq(rt_jread_names_add(&r, &set), 0);
		ck_assert_int_eq(rt_jread_next(&r), RT_JR_INTEGER);
		ck_assert_int_eq(rt_jread_next(&r), RT_JR_OBJECT_END);
	}
	rt_arena_free(&a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rt_jread");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, arena_first_block_then_malloc);
	tcase_add_test(tc, arena_strndup_and_stack);
	tcase_add_test(tc, arena_keeps_a_freed_block_for_the_next);
	tcase_add_test(tc, value_get);
	tcase_add_test(tc, grammar);
	tcase_add_test(tc, numbers);
	tcase_add_test(tc, strings);
	tcase_add_test(tc, duplicates);
	tcase_add_test(tc, duplicates_many);
	tcase_add_test(tc, depth);
	tcase_add_test(tc, json_test_suite);
	tcase_add_test(tc, numbers_random);
	tcase_add_test(tc, strings_random);
	tcase_add_test(tc, jansson_nul_leniency);
	tcase_add_test(tc, typed_parser_pattern);
	tcase_add_test(tc, cstr_copies_once);
	tcase_add_test(tc, skip_and_errors);
	tcase_add_test(tc, trusted_skip_by_ends);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
