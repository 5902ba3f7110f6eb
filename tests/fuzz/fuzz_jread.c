/* fuzz_jread.c — the JSON pull reader of runtime/rt_jread.c against jansson.
 *
 * Input: the bytes of a request body. Oracle, besides the sanitizers:
 * json_loadb(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY) (rt_http.c's flags)
 * and a tree built from rt_jread's tokens (tests/runtime/jread_tree.h)
 * accept and refuse the same inputs, an accepted input gives the same value
 * (reals bit for bit); skipping the whole value with rt_jread_skip agrees
 * too; a refusal has a position inside the input and a JSON pointer.
 * One deliberate difference: jansson drops a NUL byte that directly follows
 * a number or a literal ("[1\0]" is accepted); rt_jread refuses it.
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jread_tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	RT_ARENA_ON_STACK(a, 2048);
	const char *in = (const char *)data;
	json_error_t jerr;
	json_t *want = json_loadb(in, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr), *got;
	rt_jread r;
	int skipped;

	got = jread_tree(&r, in, size, &a);
	if (want != NULL && memchr(in, '\0', size) != NULL) {
		/* jansson's one known leniency: a NUL byte right after a number or
		   a literal is dropped (its lexer's unget of the lookahead byte
		   loses a NUL); rt_jread refuses every NUL outside strings */
		FUZZ_ASSERT(got == NULL, "rt_jread accepts a NUL byte");
		json_decref(want);
		want = NULL;
	}
	FUZZ_ASSERT((got != NULL) == (want != NULL), "jansson %s (%s), rt_jread %s (%s at %zu)",
	            want ? "accepts" : "refuses", want ? "" : jerr.text, got ? "accepts" : "refuses",
	            got ? "" : rt_jread_strerror(r.err), r.err_off);
	if (got == NULL) {
		char ptr[64];
		int line, col;
		FUZZ_ASSERT(r.err != RT_JREAD_E_OK && r.err_off <= size, "error %d at %zu of %zu", r.err, r.err_off, size);
		rt_jread_position(&r, &line, &col);
		FUZZ_ASSERT(line >= 1 && col >= 1, "position %d:%d", line, col);
		rt_jread_pointer(&r, ptr, sizeof ptr);
		FUZZ_ASSERT(r.err == RT_JREAD_E_NOMEM || rt_jread_next(&r) == RT_JR_ERROR, "a failed reader goes on");
	} else {
		FUZZ_ASSERT(jread_tree_same(want, got), "jansson and rt_jread read different values");
	}
	rt_arena_free(&a);
	rt_arena_init(&a, a_first, sizeof a_first);
	skipped = jread_tree_skip_all(in, size, &a, &r);
	FUZZ_ASSERT(skipped == (want != NULL), "jansson %s, rt_jread_skip %s (%s)", want ? "accepts" : "refuses",
	            skipped ? "accepts" : "refuses", rt_jread_strerror(r.err));
	json_decref(want);
	json_decref(got);
	rt_arena_free(&a);
	return 0;
}
