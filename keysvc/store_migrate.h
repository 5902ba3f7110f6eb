/* store_migrate.h — copies a SQLite key store into an empty PostgreSQL
 * store (`apikeyd migrate`). The only code that reads both backends' SQL
 * schemas at once; it lives in store_migrate.c beside them.
 */
#ifndef STORE_MIGRATE_H
#define STORE_MIGRATE_H

#include <stdint.h>
#include <stdio.h>

typedef struct store_migrate_stats {
	int64_t users, keys, audit;   /* rows copied (and found again in the target) */
	int64_t hashes_checked;       /* keys whose HMAC in the target equals the source's */
	int secret_check;             /* 1: the secret's check value was copied */
	int64_t next_key_id;          /* the target's next key id */
} store_migrate_stats;

/* from: a SQLite store file (opened read-only, never written); to: a
 * PostgreSQL URI or conninfo naming an empty store (created at this
 * program's schema if it has none). Copies users, keys (every column, ids
 * and uuids kept), audit rows and meta secret_check in one transaction,
 * moves the target's sequences past the copied ids, then verifies row
 * counts and every key's hash before COMMIT: on any failure the target is
 * left as it was. 0 = done; -1 with err set. */
int store_migrate(const char *from, const char *to, store_migrate_stats *st, char *err, size_t errlen);

#endif
