/* gen_strtab.h — a table of strings to pointers, for the lookups the
 * schema compiler makes at every schema it reaches (its URI, its C name):
 * open addressing, a hash of eight bytes at a time, each key's hash and
 * length kept beside it. The keys and values are borrowed: they must
 * outlive the table (the compiler's live in its gen_arena). Starts zeroed
 * ({ 0 }); gen_strtab_free returns the slots.
 *
 * The _h forms take the key's length and gen_strtab_hash, for a caller
 * that looks a key up and then puts it (one hash, not two). */
#ifndef GEN_STRTAB_H
#define GEN_STRTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct gen_strtab_slot {
	uint64_t hash;
	const char *key;  /* NULL: the slot is free */
	size_t len;
	void *value;
} gen_strtab_slot;

typedef struct gen_strtab {
	gen_strtab_slot *v;
	size_t mask, n;   /* mask + 1 slots, n of them taken */
} gen_strtab;

uint64_t gen_strtab_hash(const char *key, size_t len);
/* The value of key, or NULL when it is absent. */
void *gen_strtab_get(const gen_strtab *t, const char *key);
/* The same for key[0..len) (no NUL needed there), h its hash. */
void *gen_strtab_get_h(const gen_strtab *t, const char *key, size_t len, uint64_t h);
/* key -> value (borrowed), replacing what key had; 0, or -1 out of memory. */
int gen_strtab_put(gen_strtab *t, const char *key, void *value);
/* The same, len = strlen(key) and h its hash. */
int gen_strtab_put_h(gen_strtab *t, const char *key, size_t len, uint64_t h, void *value);
void gen_strtab_free(gen_strtab *t);

#endif
