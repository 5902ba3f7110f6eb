/* strtab.c — gen_strtab against a plain list of what was put.
 *
 *   strtab N
 *
 * N keys that share long prefixes (as a document's URIs do: ".../properties/
 * k<i>/items"), put, some put again with another value, each looked up
 * whole, by a prefix (get_h with a length) and by a key that was never
 * put; the table's answer must be the list's. Prints a count; exit status
 * 1 on any difference, each printed. */
#include "gen_strtab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fails;

static void expect(const char *what, const char *key, const void *got, const void *want)
{
	if (got != want) {
		printf("FAIL  %s \"%s\": %p, not %p\n", what, key, got, want);
		fails++;
	}
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 0;
	gen_strtab t = { 0 };
	char **keys, miss[160];
	long *vals;

	if (argc != 2 || n < 1) {
		fprintf(stderr, "usage: strtab N (N > 0)\n");
		return 2;
	}
	keys = calloc((size_t)n, sizeof *keys);
	vals = calloc((size_t)n, sizeof *vals);
	if (!keys || !vals)
		return 2;
	expect("get of an empty table", "x", gen_strtab_get(&t, "x"), NULL);
	for (long i = 0; i < n; i++) {
		char k[160];
		snprintf(k, sizeof k, "file:///work/spec.json#/paths/~1v1~1items/post/properties/k%ld%s", i,
		         i % 3 ? "/items" : "");
		keys[i] = strdup(k);
		vals[i] = i;
		if (!keys[i] || gen_strtab_put(&t, keys[i], &vals[i]) != 0)
			return 2;
	}
	for (long i = 0; i < n; i += 7) /* put again: the value is replaced, the count is not */
		if (gen_strtab_put(&t, keys[i], &vals[(i + 1) % n]) != 0)
			return 2;
	if (t.n != (size_t)n) {
		printf("FAIL  %zu keys held, not %ld\n", t.n, n);
		fails++;
	}
	for (long i = 0; i < n; i++) {
		const char *k = keys[i];
		size_t len = strlen(k);
		expect("get", k, gen_strtab_get(&t, k), i % 7 ? &vals[i] : &vals[(i + 1) % n]);
		/* a key as the prefix of a longer text (get_h reads len bytes, no
		 * NUL there): ".../k<i>" is a key when i % 3 == 0, else not */
		snprintf(miss, sizeof miss, "%s/items", k);
		if (i % 3 == 0)
			expect("get_h of a prefix", miss, gen_strtab_get_h(&t, miss, len, gen_strtab_hash(miss, len)),
			       i % 7 ? &vals[i] : &vals[(i + 1) % n]);
		else
			expect("get_h of a prefix that is no key", k,
			       gen_strtab_get_h(&t, k, len - 6, gen_strtab_hash(k, len - 6)), NULL);
		snprintf(miss, sizeof miss, "%s/x", k);
		expect("get of a key never put", miss, gen_strtab_get(&t, miss), NULL);
	}
	printf("strtab: %ld keys, %ld lookups, %d differ from the list\n", n, 3 * n + 1, fails);
	gen_strtab_free(&t);
	for (long i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	free(vals);
	return fails ? 1 : 0;
}
