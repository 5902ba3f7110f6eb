/* gen_arena.h — a region for jansson's memory in a run that keeps its
 * documents until it ends (oapigen --check): jansson's values are carved
 * from 1 MB blocks and never freed one by one (malloc and free for the
 * half million values of Stripe's document were a sixth of checking it).
 * gen_arena_begin before the first jansson call; gen_arena_end, once every
 * jansson value is gone, returns the blocks and puts jansson back on
 * malloc. Memory a value had is not reused before then: not for runs that
 * make and drop many values (generation writes the document out again). */
#ifndef GEN_ARENA_H
#define GEN_ARENA_H

void gen_arena_begin(void);
void gen_arena_end(void);

#endif
