/* load_json.c — load_fast_parse against jansson's json_loadb.
 *
 *   load_json N FILE...
 *
 * For each FILE, a table of tricky texts and N mutations of each (bytes
 * replaced by JSON's own punctuation, escapes and UTF-8 pieces, or at
 * random; the text cut short; a fixed seed): whatever load_fast_parse
 * accepts, json_loadb(JSON_REJECT_DUPLICATES) must accept too, as the same
 * tree (the same types, values and key order: compact dumps compared). What
 * load_fast_parse refuses, jansson decides, so refusing is always allowed;
 * the count of texts it accepted is printed so that a parser refusing
 * everything shows. Exit status 1 on any difference, each one printed. */
#include "load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const cases[] = {
	"{\"a\":\"x\\u00e9\\ud83d\\ude00\\n\\t\\/\\\\\\\"\\b\\f\\r\",\"b\":-0,\"d\":1e-400}",
	"{\"e\":9223372036854775807,\"g\":-9223372036854775808,\"h\":\"\\uFFFF\\u0800\\u07ff\\u0080\\u007f\"}",
	"{\"e\":9223372036854775808}", "{\"f\":-9223372036854775809}", "{\"c\":1e400}", "{\"c\":-1e400}",
	"{\"a\":1,\"a\":2}", "{\"\\u0061\":1,\"a\":2}", "{\"a\":\"\\u0000\"}", "{\"a\":\"\\ud83d\"}",
	"{\"a\":\"\\ude00x\"}", "{\"a\":\"\\ud83d\\u0041\"}", "\xef\xbb\xbf{\"a\":1}", "{\"a\":[1,2,]}",
	"{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":1e}", "{\"a\":+1}", "{\"a\":-}",
	"{\"a\":1E+2,\"b\":1e-2,\"c\":0.0,\"d\":-0.0,\"e\":123.456e7,\"f\":4.9e-324}",
	"{\"a\":tru}", "{\"a\":truex}", "{\"a\":true,\"b\":false,\"c\":null,\"d\":[],\"e\":{}}",
	" [ 1 , \"x\" , { } ] \r\n", "{\"a\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}", "{\"a\":\"\xc0\xaf\"}",
	"{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\xe0\x80\x80\"}", "{\"a\":\"\xc3\"}",
	"{\"a\":\"tab\there\"}", "{\"a\":\"\\x\"}", "{\"k\\\"ey\":{\"x\":\"\\u0041\\u0042\"},\"n\":[{\"m\":\"\\\\\"}]}",
	"\"str\"", "5", "{\"a\":1}x", "{\"a\":1} {\"b\":2}", "{\"a\" 1}", "{\"a\":1,}", "{,}", "[", "{\"a\"",
	"{\"a\":\"", "{\"a\":\"\\u12\"}", "{\"\\u00e9\":1,\"\xc3\xa9\":2}", "[1]\x0b", "{\"a\":1\x00}",
};

static int same(const json_t *a, const json_t *b)
{
	char *x = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY), *y = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
	int ok = x && y && strcmp(x, y) == 0 && json_equal(a, b);

	free(x);
	free(y);
	return ok;
}

/* 0 when load_fast_parse agrees with jansson on text[0..len) */
static int check(const char *what, const char *text, size_t len, long *accepted)
{
	json_error_t e;
	json_t *fast = load_fast_parse(text, len);
	json_t *ref = fast ? json_loadb(text, len, JSON_REJECT_DUPLICATES, &e) : NULL;
	int bad = fast && (!ref || !same(fast, ref));

	if (bad)
		printf("FAIL  %s: %s\n", what, ref ? "a tree other than jansson's" : "accepted, jansson refuses it");
	*accepted += fast != NULL;
	json_decref(fast);
	json_decref(ref);
	return bad;
}

/* A 20-byte string with one byte (or UTF-8 sequence) in place of each of
 * its bytes in turn, as a key and as a value, whole and cut short: the
 * scanner reads strings eight bytes at a time, and these put what ends a
 * plain run at each place of a word and across two. */
static long word_cases(long *texts, long *accepted)
{
	static const char *const odd[] = { "\"", "\\", "\\n", "\x01", "\x1f", " ", "!", "\x7f", "\x80", "\xc3\xa9",
	                                   "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc3", "\xff", "\t" };
	const char plain[] = "abcdefghijklmnopqrst";
	long failed = 0;

	for (size_t o = 0; o < sizeof odd / sizeof odd[0]; o++) {
		for (size_t at = 0; at < sizeof plain - 1; at++) {
			char str[40], text[120];
			int n;
			snprintf(str, sizeof str, "%.*s%s%s", (int)at, plain, odd[o], plain + at + 1);
			for (int key = 0; key < 2; key++) {
				n = snprintf(text, sizeof text, key ? "{\"%s\":1}" : "{\"k\":\"%s\"}", str);
				failed += check(str, text, (size_t)n, accepted);
				failed += check(str, text, (size_t)n - 2 - (size_t)key, accepted); /* cut in or after the string */
				*texts += 2;
			}
		}
	}
	return failed;
}

int main(int argc, char **argv)
{
	static const char pool[] = "{}[]\",:\\u0123456789abcdefABCDEF.eE+- tfn\x01\x7f\x80\xbf\xc3\xa9\xed\xa0\xf0\xf4\x90";
	long n = argc > 1 ? atol(argv[1]) : 0, texts = 0, accepted = 0, failed = 0;
	unsigned seed = 12345;

	if (argc < 2 || n < 0) {
		fprintf(stderr, "usage: load_json MUTATIONS FILE...\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++, texts++)
		failed += check(cases[i], cases[i], strlen(cases[i]), &accepted);
	failed += word_cases(&texts, &accepted);
	for (int a = 2; a < argc; a++) {
		FILE *f = fopen(argv[a], "rb");
		char *text = NULL, *m = NULL;
		long len = -1;
		if (!f || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
		    !(text = malloc((size_t)len + 1)) || !(m = malloc((size_t)len + 1)) ||
		    fread(text, 1, (size_t)len, f) != (size_t)len) {
			fprintf(stderr, "load_json: %s: cannot read it\n", argv[a]);
			return 2;
		}
		fclose(f);
		texts++;
		failed += check(argv[a], text, (size_t)len, &accepted);
		for (long k = 0; k < n && len > 0; k++, texts++) {
			size_t mlen = (size_t)len;
			char what[600];
			memcpy(m, text, (size_t)len);
			for (int op = 0, ops = 1 + (int)(rand_r(&seed) % 3); op < ops; op++) {
				size_t at = (size_t)rand_r(&seed) % mlen;
				switch (rand_r(&seed) % 3) {
				case 0: m[at] = pool[(size_t)rand_r(&seed) % (sizeof pool - 1)]; break;
				case 1: mlen = at + 1; break;
				default: m[at] = (char)(rand_r(&seed) & 0xff); break;
				}
			}
			snprintf(what, sizeof what, "%s, mutation %ld", argv[a], k);
			failed += check(what, m, mlen, &accepted);
		}
		free(text);
		free(m);
	}
	printf("load_json: %ld texts, %ld read by load_fast_parse, %ld differ from jansson\n", texts, accepted, failed);
	return failed ? 1 : 0;
}
