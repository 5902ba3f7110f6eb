/* keyfilter.h — which HMACs may be keys: a Bloom filter over the HMAC of
 * every key row the key service has seen, so that an address blocked for
 * failed authentications costs no store lookup for a token that is no key.
 *
 * No false negatives for what was added; false positives at about 0.05%
 * while the filter holds up to `capacity` hashes, more beyond (it never
 * refuses an add: it only answers "maybe" more often). The HMAC is already
 * uniform, so its bytes are the bit indices; nothing secret is kept (the
 * store holds the same HMACs). Fixed size; adds and lookups are lock-free
 * (atomic bit operations). Thread-safe.
 */
#ifndef KEYFILTER_H
#define KEYFILTER_H

#include <stddef.h>
#include "store.h"

typedef struct keyfilter keyfilter;

/* capacity: hashes it is sized for (0 = 65536). */
int keyfilter_new(size_t capacity, keyfilter **out);
void keyfilter_free(keyfilter *f);
void keyfilter_add(keyfilter *f, const unsigned char hash[STORE_HASH_LEN]);
/* 0: no hash added was this one; 1: maybe. */
int keyfilter_maybe(const keyfilter *f, const unsigned char hash[STORE_HASH_LEN]);
/* Hashes added, and the capacity it was sized for. */
size_t keyfilter_count(const keyfilter *f);
size_t keyfilter_capacity(const keyfilter *f);

#endif
