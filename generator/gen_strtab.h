/* gen_strtab.h — a table of strings to pointers, for the lookups the
 * schema compiler makes at every schema it reaches (its URI, its C name):
 * open addressing, a hash of eight bytes at a time, each key's hash kept
 * beside it. The keys and values are borrowed: they must
 * outlive the table (the compiler's live in its gen_arena). Starts zeroed
 * ({ 0 }); gen_strtab_free returns the slots. */
#ifndef GEN_STRTAB_H
#define GEN_STRTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct gen_strtab_slot {
	uint64_t hash;
	const char *key;  /* NULL: the slot is free */
	void *value;
} gen_strtab_slot;

typedef struct gen_strtab {
	gen_strtab_slot *v;
	size_t mask, n;   /* mask + 1 slots, n of them taken */
} gen_strtab;

/* The value of key, or NULL when it is absent. */
void *gen_strtab_get(const gen_strtab *t, const char *key);
/* key -> value (borrowed), replacing what key had; 0, or -1 out of memory. */
int gen_strtab_put(gen_strtab *t, const char *key, void *value);
void gen_strtab_free(gen_strtab *t);

#endif
