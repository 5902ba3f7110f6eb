/* gen_arena.h — regions: memory carved from 1 MB blocks and never freed
 * one by one, all of it returned at once.
 *
 * One region holds jansson's memory in a run that keeps its documents until
 * it ends (oapigen --check): malloc and free for the half million values of
 * Stripe's document were a sixth of checking it. gen_arena_begin before the
 * first jansson call; gen_arena_end, once every jansson value is gone,
 * returns the blocks and puts jansson back on malloc. Memory a value had is
 * not reused before then: not for runs that make and drop many values
 * (generation writes the document out again).
 *
 * Others are a module's own (gen_arena_new): the schema compiler keeps its
 * schemas and their strings in one, and gen_arena_free returns it whole. */
#ifndef GEN_ARENA_H
#define GEN_ARENA_H

#include <stddef.h>

void gen_arena_begin(void);
void gen_arena_end(void);

typedef struct gen_arena gen_arena;

gen_arena *gen_arena_new(void); /* NULL out of memory */
void gen_arena_free(gen_arena *a); /* everything carved from a, and a */
/* n bytes (aligned for any type), zeroed; NULL out of memory */
void *gen_arena_zalloc(gen_arena *a, size_t n);
/* n bytes for characters (not aligned, not zeroed); NULL out of memory */
char *gen_arena_chars(gen_arena *a, size_t n);
/* A copy of s[0..n) and a NUL; of s (NULL gives NULL); NULL out of memory */
char *gen_arena_strndup(gen_arena *a, const char *s, size_t n);
char *gen_arena_strdup(gen_arena *a, const char *s);

#endif
