/* test_keysvc.c — the key service and the store, without HTTP. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <gnutls/crypto.h>
#include <rhonabwy.h>
#include <sqlite3.h>

#include "app.h"
#include "keycache.h"
#include "keyring.h"
#include "keylimit.h"
#include "keysvc.h"
#include "listcache.h"
#include "bigmem.h"
#include "kmetrics.h"
#include "ratelimit.h"

/* A user as the caller of a mutation: the account holder itself (key_id 0,
   as a JWT is), who holds every right. */
#define AS(u) (&(keysvc_principal){ .user_id = (u) })
/* the holder of key k of user u (the rights of k's role; k is the parent of what it mints) */
#define BY(u, k) (&(keysvc_principal){ .user_id = (u), .key_id = (k) })

static char tmpdir[256];
static keysvc *ks;
static int64_t alice, bob;
static char alice_key[TOKEN_MAX], bob_first[TOKEN_MAX];

static void open_at(const char *db, const char *jwt_key)
{
	keysvc_config cfg = { .db_path = db, .synchronous_full = 1, .jwt_key_path = jwt_key };
	char err[300] = "";

	ck_assert_msg(keysvc_open(&cfg, &ks, err, sizeof err) == 0, "keysvc_open: %s", err);
}

static void setup(void)
{
	char db[300];

	snprintf(tmpdir, sizeof tmpdir, "/tmp/keysvc-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(db, sizeof db, "%s/k.db", tmpdir);
	open_at(db, NULL);
	ck_assert_int_eq(keysvc_user_add(ks, "alice", alice_key, sizeof alice_key, &alice), KEYSVC_OK);
	ck_assert_int_eq(keysvc_user_add(ks, "bob", bob_first, sizeof bob_first, &bob), KEYSVC_OK);
}

static void teardown(void)
{
	char cmd[300];

	keysvc_close(ks);
	ks = NULL;
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* ---- tokens ---- */

START_TEST(token_format)
{
	char t[TOKEN_MAX];

	ck_assert_int_eq(token_new("ak_", t, sizeof t), 0);
	ck_assert_uint_eq(strlen(t), 3 + TOKEN_BODY_LEN + TOKEN_CRC_LEN);
	ck_assert(token_check(t));
	for (size_t i = 3; t[i]; i++) {
		char saved = t[i];
		t[i] = saved == 'a' ? 'b' : 'a';
		ck_assert_msg(!token_check(t), "a change at %zu passed the checksum", i);
		t[i] = saved;
	}
	ck_assert(!token_check("ak_"));
	ck_assert(!token_check("zz_abc"));
	ck_assert_uint_eq(token_crc32("123456789", 9), 0xCBF43926u); /* the CRC-32 check value */
	/* the word-at-a-time CRC against the bitwise definition, every length
	   and alignment up to 70 bytes */
	{
		unsigned char buf[80];
		for (size_t i = 0; i < sizeof buf; i++)
			buf[i] = (unsigned char)(i * 151u + 7u);
		for (size_t off = 0; off < 4; off++)
			for (size_t len = 0; len <= 70; len++) {
				uint32_t c = 0xFFFFFFFFu;
				for (size_t i = 0; i < len; i++) {
					c ^= buf[off + i];
					for (int k = 0; k < 8; k++)
						c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
				}
				ck_assert_uint_eq(token_crc32(buf + off, len), c ^ 0xFFFFFFFFu);
			}
	}
	/* a byte outside base62 anywhere after the prefix: refused before the CRC */
	for (size_t i = 3; t[i]; i++) {
		static const char bad[] = { '-', '_', '+', '/', '=', ' ', '.', '~', '\x7f', '\x80', '\xff', '@', '[', '`', '{', ':' };
		char saved = t[i];
		for (size_t b = 0; b < sizeof bad; b++) {
			t[i] = bad[b];
			ck_assert_msg(!token_check(t), "byte 0x%02x at %zu passed", (unsigned char)bad[b], i);
		}
		t[i] = saved;
	}
	ck_assert(token_check(t));
}
END_TEST

/* ---- keys ---- */

START_TEST(create_list_get_every_family)
{
	for (int fam = 0; fam < KEYSVC_NFAMILIES; fam++) {
		keysvc_key k, got, *v = NULL;
		char t[TOKEN_MAX];
		size_t n;
		int64_t total;
		keysvc_principal p;
		unsigned ra = 0;

		ck_assert_int_eq(keysvc_create(ks, AS(alice), fam, "k", "d", NULL, "127.0.0.1", &k, t, sizeof t), KEYSVC_OK);
		ck_assert_int_eq(strncmp(k.prefix, t, 8), 0);
		ck_assert_uint_eq(strlen(k.prefix), 8);
		ck_assert_int_eq(keysvc_list(ks, alice, fam, NULL, 0, 0, -1, &v, &n, &total), KEYSVC_OK);
		ck_assert_uint_ge(n, 1);
		ck_assert_str_eq(v[0].uuid, k.uuid);
		free(v);
		ck_assert_int_eq(keysvc_get_uuid(ks, alice, fam, k.uuid, &got), KEYSVC_OK);
		ck_assert_int_eq(keysvc_get_id(ks, alice, fam, k.id, &got), KEYSVC_OK);
		/* another user's key is not found, whatever the id */
		ck_assert_int_eq(keysvc_get_uuid(ks, bob, fam, k.uuid, &got), KEYSVC_NOT_FOUND);
		ck_assert_int_eq(keysvc_get_id(ks, bob, fam, k.id, &got), KEYSVC_NOT_FOUND);
		ck_assert_int_eq(keysvc_delete(ks, AS(bob), k.id, "x"), KEYSVC_NOT_FOUND);
		/* created through one family, it authenticates (for every family) */
		ck_assert_int_eq(keysvc_authenticate(ks, t, "127.0.0.1", &p, &ra), KEYSVC_OK);
		ck_assert_int_eq(p.user_id, alice);
		ck_assert_int_eq(p.key_id, k.id);
	}
}
END_TEST

/* The documents count a name's 128 characters (JSON Schema maxLength), not its
 * bytes: 128 two-byte characters are a valid name (fuzz_route found them
 * answered 500), 129 are not. */
START_TEST(name_limits_count_characters)
{
	char name[129 * 2 + 1] = "", desc[1024 * 3 + 2] = "", token[TOKEN_MAX];
	keysvc_key k, got;

	for (int i = 0; i < 128; i++)
		strcat(name, "\xc5\xbc"); /* U+017C */
	for (int i = 0; i < 1024; i++)
		strcat(desc, "\xe2\x82\xac"); /* U+20AC */
	for (int f = 0; f < KEYSVC_NFAMILIES; f++) {
		ck_assert_int_eq(keysvc_create(ks, AS(alice), f, name, desc, NULL, "t", &k, token, sizeof token), KEYSVC_OK);
		ck_assert_int_eq(keysvc_get_uuid(ks, alice, f, k.uuid, &got), KEYSVC_OK);
		ck_assert_str_eq(got.name, name);
		ck_assert_str_eq(got.description, desc);
	}
	strcat(name, "\xc5\xbc");
	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_NEBULA, name, NULL, NULL, "t", &k, token, sizeof token),
	                 KEYSVC_INVALID);
	strcat(desc, "x");
	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_NEBULA, "n", desc, NULL, "t", &k, token, sizeof token),
	                 KEYSVC_INVALID);
}
END_TEST

START_TEST(feldera_names_unique_per_owner)
{
	keysvc_key k;
	char t[TOKEN_MAX];

	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_FELDERA, "n", NULL, NULL, "", &k, t, sizeof t), KEYSVC_OK);
	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_FELDERA, "n", NULL, NULL, "", &k, t, sizeof t), KEYSVC_DUPLICATE);
	ck_assert_int_eq(keysvc_create(ks, AS(bob), KEYSVC_FELDERA, "n", NULL, NULL, "", &k, t, sizeof t), KEYSVC_OK);
	/* other families allow repeated names */
	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_HERON, "n", NULL, NULL, "", &k, t, sizeof t), KEYSVC_OK);
	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_HERON, "n", NULL, NULL, "", &k, t, sizeof t), KEYSVC_OK);
	ck_assert_int_eq(keysvc_get_name(ks, alice, KEYSVC_FELDERA, "n", &k), KEYSVC_OK);
}
END_TEST

START_TEST(state_changes_take_effect_at_once)
{
	keysvc_key k;
	char t[TOKEN_MAX];
	keysvc_principal p;
	unsigned ra;
	int64_t n;

	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_HERON, "s", NULL, NULL, "10.0.0.1", &k, t, sizeof t), KEYSVC_OK);
	ck_assert_int_eq(keysvc_authenticate(ks, t, "c1", &p, &ra), KEYSVC_OK);
	ck_assert_int_eq(keysvc_set_active(ks, AS(alice), k.id, 0, "10.0.0.1"), KEYSVC_OK);
	ck_assert_int_eq(keysvc_authenticate(ks, t, "c1", &p, &ra), KEYSVC_REJECTED);
	ck_assert_int_eq(keysvc_set_active(ks, AS(alice), k.id, 1, "10.0.0.1"), KEYSVC_OK);
	ck_assert_int_eq(keysvc_authenticate(ks, t, "c1", &p, &ra), KEYSVC_OK);
	ck_assert_int_eq(keysvc_revoke(ks, AS(alice), k.id, "10.0.0.1"), KEYSVC_OK);
	ck_assert_int_eq(keysvc_authenticate(ks, t, "c1", &p, &ra), KEYSVC_REJECTED);
	ck_assert_int_eq(keysvc_delete(ks, AS(alice), k.id, "10.0.0.1"), KEYSVC_OK);
	ck_assert_int_eq(keysvc_authenticate(ks, t, "c1", &p, &ra), KEYSVC_REJECTED);
	/* every change left an audit row */
	static const char *const actions[] = { "create", "deactivate", "activate", "revoke", "delete" };
	for (size_t i = 0; i < 5; i++) {
		ck_assert_int_eq(store_audit_count(keysvc_store(ks), k.id, actions[i], &n), STORE_OK);
		ck_assert_msg(n >= 1, "no audit row for %s", actions[i]);
	}
}
END_TEST

START_TEST(checksum_refused_without_lookup)
{
	keysvc_stats before, after;
	keysvc_principal p;
	unsigned ra;
	char t[TOKEN_MAX];

	snprintf(t, sizeof t, "%s", alice_key);
	t[10] = t[10] == 'x' ? 'y' : 'x';
	keysvc_get_stats(ks, &before);
	ck_assert_int_eq(keysvc_authenticate(ks, t, "c2", &p, &ra), KEYSVC_BAD_TOKEN);
	keysvc_get_stats(ks, &after);
	ck_assert_uint_eq(after.hash_lookups, before.hash_lookups);
	ck_assert_uint_eq(after.bad_tokens, before.bad_tokens + 1);
	ck_assert_int_eq(keysvc_authenticate(ks, alice_key, "c2", &p, &ra), KEYSVC_OK);
	keysvc_get_stats(ks, &after);
	ck_assert_uint_eq(after.hash_lookups, before.hash_lookups + 1);
	/* the key cached now (its checksum is asked only on a miss): a changed
	   body or checksum still misses the cache and is refused the same way */
	ck_assert_int_eq(keysvc_authenticate(ks, alice_key, "c2", &p, &ra), KEYSVC_OK);
	for (size_t at = 10; at < strlen(alice_key); at += strlen(alice_key) - 11) {
		snprintf(t, sizeof t, "%s", alice_key);
		t[at] = t[at] == 'x' ? 'y' : 'x';
		keysvc_get_stats(ks, &before);
		ck_assert_int_eq(keysvc_authenticate(ks, t, "c2", &p, &ra), KEYSVC_BAD_TOKEN);
		keysvc_get_stats(ks, &after);
		ck_assert_uint_eq(after.hash_lookups, before.hash_lookups);
		ck_assert_uint_eq(after.bad_tokens, before.bad_tokens + 1);
	}
}
END_TEST

START_TEST(rate_limited_after_failures)
{
	keysvc_principal p;
	unsigned ra = 0;

	/* a blocked address: its failures are 429, its valid keys authenticate
	   (answered from the authentication cache or from the store) */
	ck_assert_int_eq(keysvc_authenticate(ks, alice_key, "192.0.2.9", &p, &ra), KEYSVC_OK);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(keysvc_authenticate(ks, "key_nonsense", "192.0.2.7", &p, &ra), KEYSVC_BAD_TOKEN);
	ra = 0;
	ck_assert_int_eq(keysvc_authenticate(ks, "key_nonsense", "192.0.2.7", &p, &ra), KEYSVC_RATE_LIMITED);
	ck_assert_uint_gt(ra, 0);
	ck_assert_int_eq(keysvc_authenticate(ks, alice_key, "192.0.2.7", &p, &ra), KEYSVC_OK);
	ck_assert_int_eq(p.user_id, alice);
	ck_assert_int_eq(keysvc_authenticate(ks, bob_first, "192.0.2.7", &p, &ra), KEYSVC_OK);  /* never used: the store */
	ck_assert_int_eq(p.user_id, bob);
	/* another address is not affected */
	ck_assert_int_eq(keysvc_authenticate(ks, "key_nonsense", "192.0.2.8", &p, &ra), KEYSVC_BAD_TOKEN);
}
END_TEST

/* What a blocked address costs: well-formed tokens that are no key (right
   checksum, unknown HMAC) are refused 429 without a store lookup; a valid
   key still reaches the store and authenticates, also one inserted by
   another process since this one started. */
START_TEST(blocked_failures_skip_the_store)
{
	char t[TOKEN_MAX], other_key[TOKEN_MAX], db[300], err[300] = "";
	keysvc_config cfg = { .synchronous_full = 1 };
	keysvc_stats before, after;
	keysvc_principal p;
	keysvc *other = NULL;
	keysvc_key k;
	unsigned ra = 0;

	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(token_new("fa_", t, sizeof t), 0);
		ck_assert_int_eq(keysvc_authenticate(ks, t, "198.51.100.3", &p, &ra), KEYSVC_REJECTED);
	}
	keysvc_get_stats(ks, &before);
	for (int i = 0; i < 200; i++) {
		ck_assert_int_eq(token_new("fa_", t, sizeof t), 0);
		ck_assert_int_eq(keysvc_authenticate(ks, t, "198.51.100.3", &p, &ra), KEYSVC_RATE_LIMITED);
	}
	keysvc_get_stats(ks, &after);
	ck_assert_msg(after.hash_lookups - before.hash_lookups <= 2, "%llu store lookups for 200 non-keys from a blocked address",
	              (unsigned long long)(after.hash_lookups - before.hash_lookups));
	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_FASTAPI, "new", NULL, NULL, "t", &k, t, sizeof t), KEYSVC_OK);
	ck_assert_int_eq(keysvc_authenticate(ks, t, "198.51.100.3", &p, &ra), KEYSVC_OK);
	/* a key another process (the CLI) added */
	snprintf(db, sizeof db, "%s/k.db", tmpdir);
	cfg.db_path = db;
	ck_assert_msg(keysvc_open(&cfg, &other, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(keysvc_create(other, AS(bob), KEYSVC_HERON, "cli", NULL, NULL, "cli", &k, other_key, sizeof other_key),
	                 KEYSVC_OK);
	keysvc_close(other);
	sleep(1);
	ck_assert_int_eq(keysvc_authenticate(ks, other_key, "198.51.100.3", &p, &ra), KEYSVC_OK);
	ck_assert_int_eq(p.user_id, bob);
}
END_TEST

START_TEST(nothing_at_rest)
{
	char path[300], t[TOKEN_MAX], *buf;
	keysvc_key k;
	FILE *f;
	long len;
	const char *suffixes[] = { "", "-wal" };

	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_NEBULA, "rest", NULL, NULL, "", &k, t, sizeof t), KEYSVC_OK);
	for (size_t s = 0; s < 2; s++) {
		snprintf(path, sizeof path, "%s/k.db%s", tmpdir, suffixes[s]);
		f = fopen(path, "rb");
		if (!f)
			continue;
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		fseek(f, 0, SEEK_SET);
		buf = malloc((size_t)len + 1);
		ck_assert_uint_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
		fclose(f);
		/* neither the new key's secret part nor alice's first key */
		ck_assert_ptr_null(memmem(buf, (size_t)len, t + 3, TOKEN_BODY_LEN));
		ck_assert_ptr_null(memmem(buf, (size_t)len, alice_key + 4, TOKEN_BODY_LEN));
		free(buf);
	}
}
END_TEST

START_TEST(reopen_keeps_keys)
{
	char db[300];
	keysvc_principal p;
	unsigned ra;

	keysvc_close(ks);
	snprintf(db, sizeof db, "%s/k.db", tmpdir);
	open_at(db, NULL);
	ck_assert_int_eq(keysvc_authenticate(ks, alice_key, "c3", &p, &ra), KEYSVC_OK);
}
END_TEST


/* ---- key ids are never reused ---- */

START_TEST(ids_never_reused)
{
	keysvc_key a, b;
	char t[TOKEN_MAX];
	int64_t n = -1;

	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_NEBULA, "a", NULL, NULL, "c", &a, t, sizeof t), KEYSVC_OK);
	ck_assert_int_eq(keysvc_delete(ks, AS(alice), a.id, "c"), KEYSVC_OK);
	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_NEBULA, "b", NULL, NULL, "c", &b, t, sizeof t), KEYSVC_OK);
	ck_assert_int_gt(b.id, a.id); /* the deleted key's id (and its audit rows) stay its own */
	ck_assert_int_eq(store_audit_count(keysvc_store(ks), b.id, "delete", &n), STORE_OK);
	ck_assert_int_eq(n, 0);
}
END_TEST

/* A schema-1 database (ids could be reused) is migrated (to the latest, 4): its keys keep their
 * ids and new ids start past every id its audit table has seen. */
START_TEST(migrates_schema_1)
{
	static const char *const v1 =
		"CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created INTEGER NOT NULL);"
		"CREATE TABLE keys (id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE,"
		"  user_id INTEGER NOT NULL REFERENCES users(id), family INTEGER NOT NULL, name TEXT NOT NULL,"
		"  description TEXT, role TEXT NOT NULL DEFAULT '', prefix TEXT NOT NULL, tail TEXT NOT NULL,"
		"  hash BLOB NOT NULL, active INTEGER NOT NULL DEFAULT 1, revoked INTEGER NOT NULL DEFAULT 0,"
		"  created INTEGER NOT NULL, last_used INTEGER);"
		"CREATE UNIQUE INDEX keys_hash ON keys(hash);"
		"CREATE INDEX keys_owner ON keys(user_id, family, id);"
		"CREATE UNIQUE INDEX keys_feldera_name ON keys(user_id, name) WHERE family = 1;"
		"CREATE TABLE audit (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor INTEGER, key_id INTEGER,"
		"  action TEXT NOT NULL, client TEXT);"
		"CREATE INDEX audit_key ON audit(key_id, action);"
		"INSERT INTO users VALUES (1, 'carol', 0);"
		"INSERT INTO keys(id, uuid, user_id, family, name, prefix, tail, hash, created)"
		"  VALUES (3, '00000000-0000-4000-8000-000000000003', 1, 2, 'old', 'ak_xxxxx', 'yyy', x'00', 0);"
		"INSERT INTO audit(at, actor, key_id, action, client) VALUES (0, 1, 3, 'create', ''),"
		"  (0, 1, 9, 'create', ''), (0, 1, 9, 'delete', '');"
		"PRAGMA user_version = 1;";
	char db[300], t[TOKEN_MAX];
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	keysvc_key k;

	keysvc_close(ks);
	snprintf(db, sizeof db, "%s/v1.db", tmpdir);
	ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h, v1, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	open_at(db, NULL);
	ck_assert_int_eq(keysvc_get_id(ks, 1, KEYSVC_NEBULA, 3, &k), KEYSVC_OK);
	ck_assert_str_eq(k.name, "old");
	ck_assert_int_eq(k.parent_id, 0);
	/* schema 5: a key from before has no attributes */
	ck_assert_int_eq(k.expires_at, 0);
	ck_assert_str_eq(k.scopes, "");
	ck_assert_int_eq(k.has_remaining, 0);
	ck_assert_int_eq(k.rl_limit, 0);
	ck_assert_int_eq(keysvc_create(ks, AS(1), KEYSVC_NEBULA, "new", NULL, NULL, "c", &k, t, sizeof t), KEYSVC_OK);
	ck_assert_int_eq(k.id, 10);
	ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(st, 0), 6);   /* the latest schema (3: meta, 4: parent_id, 5: secret_id, 6: key attributes) */
	sqlite3_finalize(st);
	sqlite3_close(h);
}
END_TEST
/* A second handle on the same file stands for another process: its
   deletes, deactivations and creates are seen by this one's caches on the
   very next call, many times over (the WAL index check, then data_version
   and the epoch row), also right after this handle's own writes. */
/* One descriptor per family: what each family issues, how it is addressed,
   whether it takes JWTs; keys made through a family carry its prefix. */
START_TEST(family_descriptors)
{
	static const char *const apis[KEYSVC_NFAMILIES] = { "heron", "feldera", "nebula", "nebula_uuid", "fastapi", "apikeyd" };
	keysvc_key k;
	char t[TOKEN_MAX], name[32];

	ck_assert_ptr_null(keysvc_family(-1));
	ck_assert_ptr_null(keysvc_family(KEYSVC_NFAMILIES));
	ck_assert_ptr_null(keysvc_family_of_api("stripe"));
	for (int f = 0; f < KEYSVC_NFAMILIES; f++) {
		const keysvc_family_desc *d = keysvc_family(f);
		ck_assert_ptr_nonnull(d);
		ck_assert_str_eq(d->api, apis[f]);
		ck_assert_ptr_eq(keysvc_family_of_api(apis[f]), d);
		snprintf(name, sizeof name, "desc-%d", f);
		ck_assert_int_eq(keysvc_create(ks, AS(alice), f, name, NULL, NULL, "c", &k, t, sizeof t), KEYSVC_OK);
		ck_assert_msg(strncmp(t, d->prefix, strlen(d->prefix)) == 0, "%s key %.12s does not start with %s", d->api, t,
		              d->prefix);
	}
	ck_assert_int_eq(keysvc_family(KEYSVC_FELDERA)->unique_names, 1);
	ck_assert_str_eq(keysvc_family(KEYSVC_FELDERA)->default_role, "read");
	ck_assert_int_eq(keysvc_family(KEYSVC_HERON)->accepts_jwt, 0);
	ck_assert_int_eq(keysvc_family(KEYSVC_NEBULA)->id, KEYSVC_ID_INTEGER);
}
END_TEST

START_TEST(other_writer_seen_at_once)
{
	keysvc_config cfg = { .synchronous_full = 0 };
	keysvc *other = NULL;
	keysvc_principal p;
	keysvc_key k, *v = NULL;
	char db[300], err[300] = "", t[TOKEN_MAX];
	unsigned ra;
	size_t n;
	int64_t total;

	snprintf(db, sizeof db, "%s/k.db", tmpdir);
	cfg.db_path = db;
	ck_assert_msg(keysvc_open(&cfg, &other, err, sizeof err) == 0, "second keysvc_open: %s", err);
	for (int round = 0; round < 50; round++) {
		char ip[32];
		snprintf(ip, sizeof ip, "10.0.%d.1", round);   /* the refusals must not trip the rate limit */
		ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_HERON, "x", NULL, NULL, "c", &k, t, sizeof t), KEYSVC_OK);
		ck_assert_int_eq(keysvc_authenticate(ks, t, ip, &p, &ra), KEYSVC_OK);
		ck_assert_int_eq(keysvc_authenticate(ks, t, ip, &p, &ra), KEYSVC_OK);   /* cached */
		ck_assert_int_eq(keysvc_authenticate(other, t, ip, &p, &ra), KEYSVC_OK);
		if (round % 2)
			ck_assert_int_eq(keysvc_delete(other, AS(alice), k.id, "c"), KEYSVC_OK);
		else
			ck_assert_int_eq(keysvc_set_active(other, AS(alice), k.id, 0, "c"), KEYSVC_OK);
		ck_assert_msg(keysvc_authenticate(ks, t, ip, &p, &ra) == KEYSVC_REJECTED,
		              "round %d: a key the other handle removed still authenticates here", round);
		/* a whole list kept by this handle shows the other handle's create */
		ck_assert_int_eq(keysvc_list(ks, alice, KEYSVC_FASTAPI, NULL, 1, 0, -1, &v, &n, &total), KEYSVC_OK);
		free(v);
		ck_assert_int_eq(keysvc_list(ks, alice, KEYSVC_FASTAPI, NULL, 1, 0, -1, &v, &n, &total), KEYSVC_OK);
		free(v);
		ck_assert_uint_eq(n, (size_t)round);
		ck_assert_int_eq(keysvc_create(other, AS(alice), KEYSVC_FASTAPI, "y", NULL, NULL, "c", &k, t, sizeof t), KEYSVC_OK);
		ck_assert_int_eq(keysvc_list(ks, alice, KEYSVC_FASTAPI, NULL, 1, 0, -1, &v, &n, &total), KEYSVC_OK);
		free(v);
		ck_assert_msg(n == (size_t)round + 1, "round %d: the other handle's create is not listed here", round);
	}
	keysvc_close(other);
}
END_TEST

/* The hot statements are prepared once and stay prepared: binding a family,
   a name filter, a page or an id never makes SQLite parse them again. */
/* ---- roles and names ---- */

/* The principal of a key, as authentication makes it. */
static keysvc_principal principal_of(const char *token)
{
	keysvc_principal p;
	unsigned ra = 0;

	ck_assert_int_eq(keysvc_authenticate(ks, token, "127.0.0.9", &p, &ra), KEYSVC_OK);
	return p;
}

START_TEST(roles_enforced_in_the_key_service)
{
	keysvc_principal w = principal_of(alice_key), r, d, off;
	keysvc_key k, target, rk;
	char t[TOKEN_MAX], rt[TOKEN_MAX], tt[TOKEN_MAX], dt[TOKEN_MAX];
	int rights;

	ck_assert_int_eq(keysvc_rights(ks, &w, &rights), KEYSVC_OK);
	ck_assert_int_eq(rights, KEYSVC_RIGHTS_WRITE);        /* the first key */
	ck_assert_int_eq(keysvc_rights(ks, AS(alice), &rights), KEYSVC_OK);
	ck_assert_int_eq(rights, KEYSVC_RIGHTS_ADMIN);        /* a JWT: key_id 0 */
	ck_assert_int_eq(keysvc_create(ks, &w, KEYSVC_FELDERA, "reader", NULL, "read", "c", &rk, rt, sizeof rt), KEYSVC_OK);
	ck_assert_str_eq(rk.role, "read");
	r = principal_of(rt);
	ck_assert_int_eq(keysvc_rights(ks, &r, &rights), KEYSVC_OK);
	ck_assert_int_eq(rights, KEYSVC_RIGHTS_READ);
	/* Feldera's default is read; the families without roles make write keys */
	ck_assert_int_eq(keysvc_create(ks, &w, KEYSVC_FELDERA, "default", NULL, NULL, "c", &k, dt, sizeof dt), KEYSVC_OK);
	ck_assert_str_eq(k.role, "read");
	d = principal_of(dt);
	ck_assert_int_eq(keysvc_create(ks, &w, KEYSVC_HERON, "target", NULL, NULL, "c", &target, tt, sizeof tt), KEYSVC_OK);
	ck_assert_str_eq(target.role, "write");
	/* only read and write are minted, never above the caller */
	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_FELDERA, "adm", NULL, "admin", "c", &k, t, sizeof t), KEYSVC_INVALID);
	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_FELDERA, "empty", NULL, "", "c", &k, t, sizeof t), KEYSVC_INVALID);
	for (int f = 0; f < KEYSVC_NFAMILIES; f++) {
		ck_assert_int_eq(keysvc_create(ks, &r, f, "minted", NULL, NULL, "c", &k, t, sizeof t), KEYSVC_FORBIDDEN);
		ck_assert_int_eq(keysvc_create(ks, &r, f, "minted", NULL, "write", "c", &k, t, sizeof t), KEYSVC_FORBIDDEN);
		ck_assert_int_eq(keysvc_create(ks, &r, f, "minted", NULL, "read", "c", &k, t, sizeof t), KEYSVC_FORBIDDEN);
		ck_assert_int_eq(keysvc_create(ks, &d, f, "minted", NULL, NULL, "c", &k, t, sizeof t), KEYSVC_FORBIDDEN);
	}
	/* every state change, on the caller's own key and on another user's: 403 before any lookup */
	ck_assert_int_eq(keysvc_set_active(ks, &r, target.id, 0, "c"), KEYSVC_FORBIDDEN);
	ck_assert_int_eq(keysvc_revoke(ks, &r, target.id, "c"), KEYSVC_FORBIDDEN);
	ck_assert_int_eq(keysvc_delete(ks, &r, target.id, "c"), KEYSVC_FORBIDDEN);
	ck_assert_int_eq(keysvc_delete(ks, &r, rk.id, "c"), KEYSVC_FORBIDDEN);
	ck_assert_int_eq(keysvc_delete(ks, &r, 999999, "c"), KEYSVC_FORBIDDEN);
	principal_of(tt);   /* the target still works */
	principal_of(rt);
	/* a write key that is switched off has no rights left, whatever a cached principal says */
	ck_assert_int_eq(keysvc_create(ks, &w, KEYSVC_HERON, "soon-off", NULL, NULL, "c", &k, t, sizeof t), KEYSVC_OK);
	off = principal_of(t);
	ck_assert_int_eq(keysvc_set_active(ks, &w, off.key_id, 0, "c"), KEYSVC_OK);
	ck_assert_int_eq(keysvc_delete(ks, &off, target.id, "c"), KEYSVC_FORBIDDEN);
	/* the JWT mints a write key, which writes */
	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_FELDERA, "jw", NULL, "write", "c", &k, t, sizeof t), KEYSVC_OK);
	ck_assert_str_eq(k.role, "write");
	w = principal_of(t);
	ck_assert_int_eq(keysvc_delete(ks, &w, target.id, "c"), KEYSVC_OK);
}
END_TEST

START_TEST(names_nfc_and_refused)
{
	static const char *const refused[] = { "a\tb", "a\nb", "a\x01" "b", "a\x7f" "b", "a\xc2\x85" "b", "a\xc2\x9f" "b",
	                                       "a\xe2\x80\xaa" "b", "a\xe2\x80\xae" "b", "a\xe2\x81\xa6" "b", "a\xe2\x81\xa9" "b",
	                                       "a\xe2\x80\x8e" "b", "a\xe2\x80\x8f" "b", "a\xd8\x9c" "b", "a\xff" "b" };
	char out[STORE_NAME_CHARS * 4 + 1], t[TOKEN_MAX], name[200];
	keysvc_key k, *v = NULL;
	size_t n;
	int64_t total;

	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
		ck_assert_msg(keysvc_name(refused[i], out, sizeof out) == KEYSVC_INVALID, "name %zu accepted", i);
		ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_HERON, refused[i], NULL, NULL, "c", &k, t, sizeof t),
		                 KEYSVC_INVALID);
	}
	ck_assert_int_eq(keysvc_name("cafe\xcc\x81", out, sizeof out), KEYSVC_OK);
	ck_assert_str_eq(out, "caf\xc3\xa9");
	ck_assert_int_eq(keysvc_name("ok \xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb", out, sizeof out), KEYSVC_OK);  /* ZWJ stays */
	ck_assert_int_eq(keysvc_name("", out, sizeof out), KEYSVC_OK);
	/* the limit counts the NFC form: U+0958 is a composition exclusion (two
	   code points in NFC), so 64 fit in 128 characters and 65 do not */
	name[0] = '\0';
	for (int i = 0; i < 64; i++)
		strcat(name, "\xe0\xa5\x98");
	ck_assert_int_eq(keysvc_name(name, out, sizeof out), KEYSVC_OK);
	strcat(name, "\xe0\xa5\x98");
	ck_assert_int_eq(keysvc_name(name, out, sizeof out), KEYSVC_INVALID);
	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_FELDERA, "caf\xc3\xa9", NULL, NULL, "c", &k, t, sizeof t), KEYSVC_OK);
	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_FELDERA, "cafe\xcc\x81", NULL, NULL, "c", &k, t, sizeof t),
	                 KEYSVC_DUPLICATE);
	ck_assert_int_eq(keysvc_get_name(ks, alice, KEYSVC_FELDERA, "cafe\xcc\x81", &k), KEYSVC_OK);
	ck_assert_str_eq(k.name, "caf\xc3\xa9");
	ck_assert_int_eq(keysvc_list(ks, alice, KEYSVC_FELDERA, "cafe\xcc\x81", 0, 0, -1, &v, &n, &total), KEYSVC_OK);
	ck_assert_uint_eq(n, 1);
	free(v);
	ck_assert_int_eq(keysvc_list(ks, alice, KEYSVC_FELDERA, "a\xe2\x80\xae" "b", 0, 0, -1, &v, &n, &total), KEYSVC_OK);
	ck_assert_uint_eq(n, 0);
	free(v);
}
END_TEST

START_TEST(statements_never_reprepared)
{
	keysvc_key k, got, *v;
	keysvc_principal p;
	char t[TOKEN_MAX];
	unsigned ra;
	size_t n;
	int64_t total, re = -1;

	for (int round = 0; round < 3; round++) {
		char name[8];
		snprintf(name, sizeof name, "r%d", round);
		for (int fam = 0; fam < KEYSVC_NFAMILIES; fam++) {
			ck_assert_int_eq(keysvc_create(ks, AS(alice), fam, name, NULL, NULL, "", &k, t, sizeof t), KEYSVC_OK);
			ck_assert_int_eq(keysvc_list(ks, alice, fam, NULL, 0, 0, -1, &v, &n, &total), KEYSVC_OK);
			free(v);
			ck_assert_int_eq(keysvc_list(ks, bob, fam, name, 1, 1, 5, &v, &n, &total), KEYSVC_OK);
			free(v);
			ck_assert_int_eq(keysvc_get_uuid(ks, alice, fam, k.uuid, &got), KEYSVC_OK);
			ck_assert_int_eq(keysvc_get_id(ks, alice, -1, k.id, &got), KEYSVC_OK);
			ck_assert_int_eq(keysvc_get_name(ks, alice, fam, name, &got), KEYSVC_OK);
			ck_assert_int_eq(keysvc_authenticate(ks, t, "c5", &p, &ra), KEYSVC_OK);
			ck_assert_int_eq(keysvc_set_active(ks, AS(alice), k.id, 0, ""), KEYSVC_OK);
		}
	}
	ck_assert_int_eq(store_reprepares(keysvc_store(ks), &re), STORE_OK);
	ck_assert_int_eq(re, 0);
}
END_TEST

/* A key created right after a delete (once SQLite would have given it the
   deleted key's row id; ids are never reused since schema 2) writes
   last_used on its first use. */
START_TEST(key_after_delete_writes_last_used)
{
	keysvc_key k1, k2, got;
	keysvc_principal p;
	char t1[TOKEN_MAX], t2[TOKEN_MAX];
	unsigned ra;

	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_HERON, "a", NULL, NULL, "", &k1, t1, sizeof t1), KEYSVC_OK);
	ck_assert_int_eq(keysvc_authenticate(ks, t1, "c10", &p, &ra), KEYSVC_OK);
	ck_assert_int_eq(keysvc_delete(ks, AS(alice), k1.id, ""), KEYSVC_OK);
	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_HERON, "b", NULL, NULL, "", &k2, t2, sizeof t2), KEYSVC_OK);
	ck_assert_int_ne(k2.id, k1.id);
	ck_assert_int_eq(keysvc_authenticate(ks, t2, "c10", &p, &ra), KEYSVC_OK);
	ck_assert_int_eq(keysvc_get_id(ks, alice, KEYSVC_HERON, k2.id, &got), KEYSVC_OK);
	ck_assert_int_gt(got.last_used, 0);
}
END_TEST

/* A key's first use in a minute does not wait for its last_used write: with
   another connection holding SQLite's write lock, the authentication comes
   back at once (it used to wait for the lock: SQLite's busy timeout, 10 s,
   then a failed write and last_used lost until the next minute), the key
   service's reads show the time the write will store meanwhile, and once
   the lock is gone the write lands. */
START_TEST(touch_does_not_wait_for_the_write)
{
	char db[300], t[TOKEN_MAX];
	keysvc_key k, got, *v = NULL;
	keysvc_principal p;
	sqlite3 *h;
	sqlite3_stmt *st;
	size_t n = 0;
	int64_t total, stored = -1;
	unsigned ra;
	time_t t0 = time(NULL);

	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_HERON, "lazy", NULL, NULL, "", &k, t, sizeof t), KEYSVC_OK);
	snprintf(db, sizeof db, "%s/k.db", tmpdir);
	ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(keysvc_authenticate(ks, t, "c20", &p, &ra), KEYSVC_OK);
	ck_assert_int_le(time(NULL) - t0, 2);   /* not the busy timeout's 10 s */
	ck_assert_int_eq(keysvc_get_id(ks, alice, KEYSVC_HERON, k.id, &got), KEYSVC_OK);
	ck_assert_int_ge(got.last_used, (int64_t)t0);
	ck_assert_int_eq(keysvc_list(ks, alice, KEYSVC_HERON, NULL, 0, 0, -1, &v, &n, &total), KEYSVC_OK);
	for (size_t i = 0; i < n; i++)
		if (v[i].id == k.id)
			ck_assert_int_eq(v[i].last_used, got.last_used);
	free(v);
	ck_assert_int_eq(sqlite3_prepare_v2(h, "SELECT last_used FROM keys WHERE id = ?", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, k.id);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_type(st, 0), SQLITE_NULL);   /* not written yet: the lock is ours */
	sqlite3_reset(st);
	ck_assert_int_eq(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	keysvc_touch_flush(ks);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	stored = sqlite3_column_int64(st, 0);
	ck_assert_int_eq(stored, got.last_used);
	sqlite3_finalize(st);
	sqlite3_close(h);
	ck_assert_int_eq(keysvc_get_id(ks, alice, KEYSVC_HERON, k.id, &got), KEYSVC_OK);
	ck_assert_int_eq(got.last_used, stored);
}
END_TEST

/* The touch queue full (SQLite's write lock held elsewhere for longer than
   the queue lasts): a new key's first use neither waits for the store (it
   wrote its own write and waited SQLite's busy timeout, 10 s, every one)
   nor loses its last_used for good: the use is counted as not recorded,
   and the key's next use, once the store is back, writes it. */
START_TEST(touch_queue_full_does_not_wait)
{
	char db[300], t[10][TOKEN_MAX], name[16];
	keysvc_config cfg = { .synchronous_full = 1, .touch_queue = 4 };
	keysvc_key k[10];
	keysvc_principal p;
	kmetrics_view m0, m1;
	keysvc_stats stats;
	sqlite3 *h;
	sqlite3_stmt *st;
	unsigned ra;
	char err[300] = "";
	time_t t0;

	snprintf(db, sizeof db, "%s/k.db", tmpdir);
	keysvc_close(ks);
	cfg.db_path = db;
	ck_assert_msg(keysvc_open(&cfg, &ks, err, sizeof err) == 0, "keysvc_open: %s", err);
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof name, "q%d", i);
		ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_HERON, name, NULL, NULL, "", &k[i], t[i], sizeof t[i]),
		                 KEYSVC_OK);
	}
	ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	t0 = time(NULL);
	kmetrics_read(&m0);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(keysvc_authenticate(ks, t[i], "c22", &p, &ra), KEYSVC_OK);
	ck_assert_int_le(time(NULL) - t0, 2);   /* not 10 s a key past the fourth */
	keysvc_get_stats(ks, &stats);
	ck_assert_uint_ge(stats.touch_dropped, 5);   /* 4 queued, perhaps 1 more taken by the writer */
	kmetrics_read(&m1);
	ck_assert_uint_eq(m1.touch_dropped - m0.touch_dropped, stats.touch_dropped);   /* /metrics counts them */
	ck_assert_int_eq(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	keysvc_touch_flush(ks);
	/* the store back: every key's next use from the next second on records
	   what was dropped (one at a time: six at once would fill the 4 places
	   again) */
	usleep(1100 * 1000);
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(keysvc_authenticate(ks, t[i], "c22", &p, &ra), KEYSVC_OK);
		keysvc_touch_flush(ks);
	}
	ck_assert_int_eq(sqlite3_prepare_v2(h, "SELECT count(*) FROM keys WHERE name LIKE 'q%' AND last_used >= ?", -1, &st,
	                                    NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, (int64_t)t0);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int64(st, 0), 10);
	sqlite3_finalize(st);
	sqlite3_close(h);
}
END_TEST

/* A key's cache entry and its owner's list, aged (a ttl of 2 s,
   keysvc_config.cache_ttl), answer their next use without a store read on
   the request, and the refresher reads both again and puts them back; a
   revocation after that still refuses the key at once, and the list shows
   it revoked. Without the refresher the use read the store: after a pause,
   a burst of requests over many keys each waited for its SQLite reads. */
static int count_key(void *ctx, const keysvc_key *k)
{
	size_t *n = ctx;

	(*n)+= k->revoked ? 100 : 1;
	return 0;
}

START_TEST(aged_key_answered_then_refreshed)
{
	size_t seen = 0, seen0;
	char db[300], t[TOKEN_MAX], err[300] = "";
	keysvc_config cfg = { .cache_ttl = 2 };
	keysvc_key k;
	keysvc_principal p;
	keysvc_stats s0, s1;
	unsigned ra;

	snprintf(db, sizeof db, "%s/k.db", tmpdir);
	keysvc_close(ks);
	cfg.db_path = db;
	ck_assert_msg(keysvc_open(&cfg, &ks, err, sizeof err) == 0, "keysvc_open: %s", err);
	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_HERON, "aged", NULL, NULL, "", &k, t, sizeof t), KEYSVC_OK);
	ck_assert_int_eq(keysvc_authenticate(ks, t, "c30", &p, &ra), KEYSVC_OK);
	ck_assert_int_eq(keysvc_authenticate(ks, t, "c30", &p, &ra), KEYSVC_OK);
	ck_assert_int_eq(keysvc_list_each(ks, p.user_id, KEYSVC_HERON, 0, 0, count_key, &seen), KEYSVC_OK);
	seen0 = seen;   /* the user's first key and this one */
	ck_assert_uint_ge(seen0, 1);
	keysvc_get_stats(ks, &s0);
	usleep(2200 * 1000);   /* 2 or 3 s old: aged, within the grace (another 2 s) */
	ck_assert_int_eq(keysvc_authenticate(ks, t, "c30", &p, &ra), KEYSVC_OK);
	ck_assert_int_eq(p.key_id, k.id);
	seen = 0;
	ck_assert_int_eq(keysvc_list_each(ks, p.user_id, KEYSVC_HERON, 0, 0, count_key, &seen), KEYSVC_OK);
	ck_assert_uint_eq(seen, seen0);
	keysvc_get_stats(ks, &s1);
	ck_assert_uint_eq(s1.hash_lookups, s0.hash_lookups);
	ck_assert_uint_eq(s1.cache_hits, s0.cache_hits + 1);
	ck_assert_uint_eq(s1.list_hits, s0.list_hits + 1);
	for (int i = 0; i < 200 && s1.refreshes < s0.refreshes + 2; i++) {
		usleep(10 * 1000);
		keysvc_get_stats(ks, &s1);
	}
	ck_assert_uint_eq(s1.refreshes, s0.refreshes + 2);   /* the key and the list */
	ck_assert_int_eq(keysvc_authenticate(ks, t, "c30", &p, &ra), KEYSVC_OK);
	keysvc_get_stats(ks, &s0);
	ck_assert_uint_eq(s0.hash_lookups, s1.hash_lookups);   /* the refreshed entry, young */
	ck_assert_int_eq(keysvc_revoke(ks, AS(alice), k.id, "c30"), KEYSVC_OK);
	ck_assert_int_eq(keysvc_authenticate(ks, t, "c30", &p, &ra), KEYSVC_REJECTED);
	seen = 0;
	ck_assert_int_eq(keysvc_list_each(ks, p.user_id, KEYSVC_HERON, 1, 0, count_key, &seen), KEYSVC_OK);
	ck_assert_uint_eq(seen, seen0 - 1 + 100);
}
END_TEST

/* keysvc_close with SQLite's write lock held elsewhere and more queued
   last_used writes than one batch: the first batch waits the busy timeout
   (10 s) and fails; the rest is dropped (and logged), not tried batch by
   batch, each another 10 s. */
START_TEST(close_with_the_store_locked_drops_the_rest)
{
	static char t[1100][TOKEN_MAX];
	char db[300], name[32];
	keysvc_key k;
	keysvc_principal p;
	sqlite3 *h;
	unsigned ra;
	time_t t0;

	for (int i = 0; i < 1100; i++) {
		snprintf(name, sizeof name, "k%d", i);
		ck_assert_int_eq(keysvc_create(ks, AS(i % 2 ? alice : bob), KEYSVC_HERON, name, NULL, NULL, "", &k, t[i],
		                               sizeof t[i]), KEYSVC_OK);
	}
	snprintf(db, sizeof db, "%s/k.db", tmpdir);
	ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	for (int i = 0; i < 1100; i++)
		ck_assert_int_eq(keysvc_authenticate(ks, t[i], "c21", &p, &ra), KEYSVC_OK);
	t0 = time(NULL);
	keysvc_close(ks);
	ks = NULL;
	ck_assert_int_lt(time(NULL) - t0, 17);   /* one busy timeout, not two */
	sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(h);
}
END_TEST

/* ---- concurrent creates: group commit, every key distinct and durable ---- */

typedef struct worker {
	char tokens[20][TOKEN_MAX];
	int ok;
} worker;

static void *create_many(void *arg)
{
	worker *w = arg;
	keysvc_key k;

	for (int i = 0; i < 20; i++)
		w->ok += keysvc_create(ks, AS(alice), KEYSVC_FASTAPI, "c", NULL, NULL, "", &k, w->tokens[i], TOKEN_MAX) == KEYSVC_OK;
	return NULL;
}

START_TEST(concurrent_creates)
{
	pthread_t th[16];
	static worker w[16];
	keysvc_principal p;
	unsigned ra;
	keysvc_key *v;
	size_t n;
	int64_t total;

	memset(w, 0, sizeof w);
	for (int i = 0; i < 16; i++)
		pthread_create(&th[i], NULL, create_many, &w[i]);
	for (int i = 0; i < 16; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 16; i++) {
		ck_assert_int_eq(w[i].ok, 20);
		for (int k = 0; k < 20; k++)
			ck_assert_int_eq(keysvc_authenticate(ks, w[i].tokens[k], "c4", &p, &ra), KEYSVC_OK);
	}
	ck_assert_int_eq(keysvc_list(ks, alice, KEYSVC_FASTAPI, NULL, 1, 0, 10, &v, &n, &total), KEYSVC_OK);
	ck_assert_int_eq(total, 320);
	ck_assert_uint_eq(n, 10);
	free(v);
}
END_TEST

/* bigmem: zeroed, page-aligned, writable to its last byte; from 2 MiB up on
   a 2 MiB boundary and marked for huge pages (smaps' "hg" flag) */
static int bigmem_marked_huge(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0, hg = -1;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, ' ') == line + strcspn(line, " ")) {
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
			continue;
		}
		if (in && strncmp(line, "VmFlags:", 8) == 0) {
			hg = strstr(line, " hg") != NULL;
			break;
		}
	}
	fclose(f);
	return hg;
}

START_TEST(bigmem_tables)
{
	const size_t sizes[] = { 1, 5000, ((size_t)2 << 20) - 1, (size_t)2 << 20, ((size_t)33 << 20) + 7 };

	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		unsigned char *p = bigmem_alloc(sizes[i]);
		size_t zero = 0;
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq((uintptr_t)p % 4096, 0);
		for (size_t k = 0; k < sizes[i]; k += 4093)
			zero += p[k] == 0;
		ck_assert_uint_eq(zero, (sizes[i] + 4092) / 4093);
		p[sizes[i] - 1] = 1;
		if (sizes[i] >= (size_t)2 << 20) {
			ck_assert_uint_eq((uintptr_t)p % ((size_t)2 << 20), 0);
			ck_assert_int_eq(bigmem_marked_huge(p), 1);
		} else {
			ck_assert_int_eq(bigmem_marked_huge(p), 0);
		}
		bigmem_free(p, sizes[i]);
	}
	ck_assert_ptr_null(bigmem_alloc(0));
	ck_assert_ptr_null(bigmem_alloc(SIZE_MAX - 4096));
	bigmem_free(NULL, 10);
}
END_TEST

/* ---- the authentication cache ---- */

static void fake_hash(unsigned char h[STORE_HASH_LEN], unsigned seed)
{
	for (size_t i = 0; i < STORE_HASH_LEN; i++)
		h[i] = (unsigned char)(seed * 131u + i * 7u);
}

START_TEST(keycache_ttl_epoch_forget)
{
	keycache *c;
	keycache_entry e = { .key_id = 7, .user_id = 3, .key_uuid = "u7" }, e2 = { .key_id = 8, .user_id = 4 }, got;
	unsigned char h[STORE_HASH_LEN], h2[STORE_HASH_LEN], other[STORE_HASH_LEN];
	uint64_t ep;

	ck_assert_int_eq(keycache_new(64, 5, &c), 0);
	fake_hash(h, 1);
	fake_hash(h2, 2);
	ep = keycache_epoch(c);
	ck_assert_int_eq(keycache_get(c, h, 1000, &got), 0);
	keycache_put(c, h, &e, ep, 1000);
	keycache_put(c, h2, &e2, ep, 1000);
	ck_assert_int_eq(keycache_get(c, h, 1004, &got), 1);
	ck_assert_int_eq(got.key_id, 7);
	ck_assert_int_eq(got.user_id, 3);
	ck_assert_str_eq(got.key_uuid, "u7");
	/* same slot, one byte off elsewhere: not the same key */
	memcpy(other, h, sizeof other);
	other[STORE_HASH_LEN - 1] ^= 1;
	ck_assert_int_eq(keycache_get(c, other, 1004, &got), 0);
	/* older than the ttl: gone */
	ck_assert_int_eq(keycache_get(c, h, 1005, &got), 0);
	ck_assert_int_eq(keycache_get(c, h, 1004, &got), 0);
	/* a clock that went back does not make an entry young */
	keycache_put(c, h, &e, keycache_epoch(c), 1000);
	ck_assert_int_eq(keycache_get(c, h, 999, &got), 0);
	/* forget removes that key only */
	ep = keycache_epoch(c);
	keycache_put(c, h, &e, ep, 1000);
	keycache_forget(c, 7);
	ck_assert_int_eq(keycache_get(c, h, 1001, &got), 0);
	ck_assert_int_eq(keycache_get(c, h2, 1001, &got), 1);
	ck_assert_int_eq(got.key_id, 8);
	/* a lookup that began before a forget cannot put its answer back */
	keycache_put(c, h, &e, ep, 1001);
	ck_assert_int_eq(keycache_get(c, h, 1001, &got), 0);
	keycache_free(c);
}
END_TEST

/* keycache_get_aged: an entry past its ttl by less than the grace is the
   answer, handed out once with 2 (its caller reads the key again) and then
   a hit while held young; unrefreshed, handed out so again each hold; gone
   from ttl + grace after its put however often it was held, and never
   handed out with the clock gone back; a refresh's put begun before a
   forget does not bring it back. */
START_TEST(keycache_aged_handed_out_once)
{
	keycache *c;
	keycache_entry e = { .key_id = 7, .user_id = 3, .key_uuid = "u7" }, got;
	unsigned char h[STORE_HASH_LEN];
	uint64_t ep;

	ck_assert_int_eq(keycache_new(64, 10, &c), 0);
	fake_hash(h, 1);
	keycache_put(c, h, &e, keycache_epoch(c), 1000);
	ck_assert_int_eq(keycache_get_aged(c, h, 1009, 10, 2, &got), 1);
	ck_assert_int_eq(keycache_get_aged(c, h, 1012, 10, 2, &got), 2);
	ck_assert_int_eq(got.key_id, 7);
	ck_assert_str_eq(got.key_uuid, "u7");
	ck_assert_int_eq(keycache_get_aged(c, h, 1012, 10, 2, &got), 1);
	ck_assert_int_eq(keycache_get_aged(c, h, 1013, 10, 2, &got), 1);
	ck_assert_int_eq(keycache_get_aged(c, h, 1014, 10, 2, &got), 2);   /* no refresh came */
	for (time_t t = 1015; t < 1020; t++)
		ck_assert_int_ne(keycache_get_aged(c, h, t, 10, 2, &got), 0);
	ck_assert_int_eq(keycache_get_aged(c, h, 1020, 10, 2, &got), 0);   /* ttl + grace */
	ck_assert_int_eq(keycache_get_aged(c, h, 1015, 10, 2, &got), 0);   /* and gone */
	/* keycache_get hands out nothing aged */
	keycache_put(c, h, &e, keycache_epoch(c), 2000);
	ck_assert_int_eq(keycache_get(c, h, 2011, &got), 0);
	ck_assert_int_eq(keycache_get_aged(c, h, 2011, 10, 2, &got), 0);
	/* a clock gone back */
	keycache_put(c, h, &e, keycache_epoch(c), 3000);
	ck_assert_int_eq(keycache_get_aged(c, h, 2999, 10, 2, &got), 0);
	/* a forget after the hand-out: the refresh's put, begun before it, is dropped */
	keycache_put(c, h, &e, keycache_epoch(c), 4000);
	ep = keycache_epoch(c);
	ck_assert_int_eq(keycache_get_aged(c, h, 4011, 10, 2, &got), 2);
	keycache_forget(c, 7);
	keycache_put(c, h, &e, ep, 4011);
	ck_assert_int_eq(keycache_get_aged(c, h, 4011, 10, 2, &got), 0);
	/* the refresh's put: young again for the whole ttl */
	ck_assert_int_eq(keycache_get_aged(c, h, 4011, 10, 2, &got), 0);
	keycache_put(c, h, &e, keycache_epoch(c), 4011);
	ck_assert_int_eq(keycache_get_aged(c, h, 4012, 10, 2, &got), 1);
	ck_assert_int_eq(keycache_get(c, h, 4020, &got), 1);
	keycache_free(c);
}
END_TEST

/* An entry comes back with every field and every text as it was put:
   texts that fit in the slot, texts that fill their whole room (a long meta,
   owner and name: kept apart from the slot), and each kind replaced by the
   other in the same slot, and by an empty one. */
static void fill_text(char *d, size_t room, char c)
{
	memset(d, c, room - 1);
	d[room - 1] = '\0';
}

static void entry_same(const keycache_entry *a, const keycache_entry *b)
{
	ck_assert_int_eq(a->key_id, b->key_id);
	ck_assert_int_eq(a->user_id, b->user_id);
	ck_assert_str_eq(a->key_uuid, b->key_uuid);
	ck_assert_int_eq(a->active, b->active);
	ck_assert_int_eq(a->family, b->family);
	ck_assert_str_eq(a->role, b->role);
	ck_assert_int_eq(a->created, b->created);
	ck_assert_int_eq(a->expires_at, b->expires_at);
	ck_assert_int_eq(a->counted, b->counted);
	ck_assert_int_eq(a->rl_limit, b->rl_limit);
	ck_assert_int_eq(a->rl_window, b->rl_window);
	ck_assert_str_eq(a->name, b->name);
	ck_assert_str_eq(a->scopes, b->scopes);
	ck_assert_str_eq(a->meta, b->meta);
	ck_assert_str_eq(a->owner, b->owner);
}

START_TEST(keycache_texts_round_trip)
{
	keycache *c;
	static keycache_entry small, full, empty, got;
	unsigned char h[STORE_HASH_LEN];

	ck_assert_int_eq(keycache_new(64, 5, &c), 0);
	fake_hash(h, 9);
	small = (keycache_entry){ .key_id = 11, .user_id = 5, .key_uuid = "uuid-11", .active = 1, .family = 3,
	                          .role = "read", .created = 1700000000, .expires_at = 1800000000, .counted = 1,
	                          .rl_limit = 10, .rl_window = 60 };
	strcpy(small.name, "small key");
	strcpy(small.scopes, "orders:read keys:verify");
	strcpy(small.meta, "{\"plan\":\"pro\"}");
	strcpy(small.owner, "customer-1");
	full = small;
	full.key_id = 12;
	fill_text(full.name, sizeof full.name, 'n');
	fill_text(full.scopes, sizeof full.scopes, 's');
	fill_text(full.meta, sizeof full.meta, 'm');
	fill_text(full.owner, sizeof full.owner, 'o');
	empty = (keycache_entry){ .key_id = 13, .user_id = 6, .key_uuid = "uuid-13", .active = 1 };

	keycache_put(c, h, &small, keycache_epoch(c), 1000);
	ck_assert_int_eq(keycache_get(c, h, 1000, &got), 1);
	entry_same(&got, &small);
	keycache_put(c, h, &full, keycache_epoch(c), 1000);      /* the slot's texts move out */
	memset(&got, 'x', sizeof got);
	ck_assert_int_eq(keycache_get(c, h, 1001, &got), 1);
	entry_same(&got, &full);
	keycache_put(c, h, &full, keycache_epoch(c), 1001);      /* out again, over out */
	ck_assert_int_eq(keycache_get(c, h, 1001, &got), 1);
	entry_same(&got, &full);
	keycache_put(c, h, &small, keycache_epoch(c), 1001);     /* and back in */
	memset(&got, 'x', sizeof got);
	ck_assert_int_eq(keycache_get(c, h, 1001, &got), 1);
	entry_same(&got, &small);
	keycache_put(c, h, &empty, keycache_epoch(c), 1001);
	memset(&got, 'x', sizeof got);
	ck_assert_int_eq(keycache_get(c, h, 1001, &got), 1);
	entry_same(&got, &empty);
	/* forgotten by id whatever the texts */
	keycache_put(c, h, &full, keycache_epoch(c), 1001);
	keycache_forget(c, 12);
	ck_assert_int_eq(keycache_get(c, h, 1001, &got), 0);
	keycache_free(c);   /* frees the moved-out texts (memcheck: no leak) */
}
END_TEST

/* Readers without the lock never see a torn entry: writers put, into the
   one slot of one HMAC, entries whose every field and text follow from
   their key id (some with texts kept apart), and forget them, while
   readers check every hit against its key id. */
typedef struct cache_race {
	keycache *c;
	unsigned char h[STORE_HASH_LEN];
	int stop;
	long hits, torn;
} cache_race;

static void race_entry(keycache_entry *e, int64_t id)
{
	memset(e, 0, sizeof *e);
	e->key_id = id;
	e->user_id = id * 3;
	snprintf(e->key_uuid, sizeof e->key_uuid, "uuid-%lld", (long long)id);
	e->active = 1;
	e->created = id * 5;
	e->rl_limit = id * 7;
	snprintf(e->name, sizeof e->name, "name-%lld", (long long)id);
	snprintf(e->scopes, sizeof e->scopes, "scope-%lld", (long long)id);
	memset(e->meta, (int)('a' + id % 26), (size_t)(id % 3 == 0 ? 900 : id % 40));   /* every third apart */
	snprintf(e->owner, sizeof e->owner, "owner-%lld", (long long)id);
}

static void *race_writer(void *arg)
{
	cache_race *r = arg;
	static keycache_entry e;   /* one writer */
	for (int64_t id = 1; !__atomic_load_n(&r->stop, __ATOMIC_RELAXED); id++) {
		race_entry(&e, id);
		keycache_put(r->c, r->h, &e, keycache_epoch(r->c), 1000);
		if (id % 5 == 0)
			keycache_forget(r->c, id);
	}
	return NULL;
}

static void *race_reader(void *arg)
{
	cache_race *r = arg;
	keycache_entry *got = malloc(sizeof *got), *want = malloc(sizeof *want);
	long hits = 0, torn = 0;
	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		if (!keycache_get(r->c, r->h, 1000, got))
			continue;
		hits++;
		race_entry(want, got->key_id);
		if (got->user_id != want->user_id || strcmp(got->key_uuid, want->key_uuid) != 0 ||
		    got->created != want->created || got->rl_limit != want->rl_limit || strcmp(got->name, want->name) != 0 ||
		    strcmp(got->scopes, want->scopes) != 0 || strcmp(got->meta, want->meta) != 0 ||
		    strcmp(got->owner, want->owner) != 0)
			torn++;
	}
	__atomic_add_fetch(&r->hits, hits, __ATOMIC_RELAXED);
	__atomic_add_fetch(&r->torn, torn, __ATOMIC_RELAXED);
	free(got);
	free(want);
	return NULL;
}

START_TEST(keycache_reads_never_torn)
{
	cache_race r = { 0 };
	pthread_t w, rd[3];
	struct timespec ts = { 0, 400 * 1000000L };

	ck_assert_int_eq(keycache_new(64, 5, &r.c), 0);
	fake_hash(r.h, 21);
	pthread_create(&w, NULL, race_writer, &r);
	for (int i = 0; i < 3; i++)
		pthread_create(&rd[i], NULL, race_reader, &r);
	nanosleep(&ts, NULL);
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
	pthread_join(w, NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(rd[i], NULL);
	ck_assert_msg(r.hits > 1000, "only %ld hits: the race did not run", r.hits);
	ck_assert_msg(r.torn == 0, "%ld of %ld hits were torn entries", r.torn, r.hits);
	keycache_free(r.c);
}
END_TEST

/* The invalidation promise under concurrency: once keycache_forget(id)
   has returned, no get finds that key until a lookup that began after it
   puts it back. Fillers play lookups (epoch, then "the store", then put),
   readers read without the lock, and other keys share the key's slot and
   its id's record; after every forget the revoker looks the key up itself. */
static void slot_hash(unsigned char h[STORE_HASH_LEN], unsigned slot, unsigned salt);

typedef struct forget_race {
	keycache *c;
	unsigned char h[4][STORE_HASH_LEN];
	int64_t id[4];
	int valid[4];            /* "the store": 1 active */
	int stop;
	long stale, forgets;
} forget_race;

static void *fr_filler(void *arg)
{
	forget_race *r = arg;
	keycache_entry e;
	for (unsigned n = 0; !__atomic_load_n(&r->stop, __ATOMIC_RELAXED); n++) {
		int k = (int)(n % 4);
		uint64_t ep = keycache_epoch(r->c);
		if (!__atomic_load_n(&r->valid[k], __ATOMIC_SEQ_CST))
			continue;
		memset(&e, 0, sizeof e);
		e.key_id = r->id[k];
		e.active = 1;
		snprintf(e.name, sizeof e.name, "k%lld", (long long)r->id[k]);
		if (n % 7 == 0)
			memset(e.meta, 'm', 600);   /* sometimes texts kept apart */
		keycache_put(r->c, r->h[k], &e, ep, 1000);
	}
	return NULL;
}

static void *fr_reader(void *arg)
{
	forget_race *r = arg;
	keycache_entry *e = malloc(sizeof *e);
	for (unsigned n = 0; !__atomic_load_n(&r->stop, __ATOMIC_RELAXED); n++)
		keycache_get(r->c, r->h[n % 4], 1000, e);
	free(e);
	return NULL;
}

START_TEST(keycache_forget_is_final)
{
	forget_race r = { 0 };
	pthread_t th[4];
	keycache_entry *e = malloc(sizeof *e);

	ck_assert_int_eq(keycache_new(64, 5, &r.c), 0);
	/* keys 7 and 71 share an id record (64 slots); 0 and 2 share a slot */
	r.id[0] = 7; r.id[1] = 71; r.id[2] = 9; r.id[3] = 135;
	slot_hash(r.h[0], 5, 1);
	slot_hash(r.h[1], 6, 2);
	slot_hash(r.h[2], 5, 3);
	slot_hash(r.h[3], 7, 4);
	for (int k = 0; k < 4; k++)
		r.valid[k] = 1;
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, fr_filler, &r);
	for (int i = 2; i < 4; i++)
		pthread_create(&th[i], NULL, fr_reader, &r);
	for (unsigned n = 0; n < 200000; n++) {
		int k = (int)(n % 4);
		__atomic_store_n(&r.valid[k], 0, __ATOMIC_SEQ_CST);   /* the revocation's write */
		keycache_forget(r.c, r.id[k]);                          /* then its forget */
		r.forgets++;
		if (keycache_get(r.c, r.h[k], 1000, e) && e->key_id == r.id[k])
			r.stale++;
		__atomic_store_n(&r.valid[k], 1, __ATOMIC_SEQ_CST);   /* active again */
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	ck_assert_msg(r.forgets > 1000, "only %ld forgets", r.forgets);
	ck_assert_msg(r.stale == 0, "%ld of %ld forgets were followed by a hit of the forgotten key", r.stale, r.forgets);
	free(e);
	keycache_free(r.c);
}
END_TEST

/* keycache_forget finds a key through its id's record, not a sweep: keys
   whose ids share a record (id modulo the slots), keys never cached, a key
   whose slot another key took, and keys forgotten in any order each leave
   exactly what they should. */
static void slot_hash(unsigned char h[STORE_HASH_LEN], unsigned slot, unsigned salt)
{
	for (size_t i = 0; i < STORE_HASH_LEN; i++)
		h[i] = (unsigned char)(salt * 37u + i * 11u + 1u);
	h[0] = (unsigned char)slot;   /* the index: the low bits of the first bytes */
	for (size_t i = 1; i < 8; i++)
		h[i] = 0;
}

/* A lookup reads only the ways whose tag (HMAC bytes 8..15) matches, and
   the tag is a hint: four keys of one set with the same tag, told apart
   only by later bytes, are each their own entry, through puts, a forget
   and an age-out; and bytes 8..15 all zero are a tag like another. */
START_TEST(keycache_tags_are_hints)
{
	keycache *c;
	keycache_entry e = { .user_id = 1 }, got;
	unsigned char h[5][STORE_HASH_LEN];

	ck_assert_int_eq(keycache_new(128, 5, &c), 0);
	for (int k = 0; k < 5; k++) {
		slot_hash(h[k], 8, 1);
		h[k][STORE_HASH_LEN - 1] = (unsigned char)k;   /* same set, same tag */
	}
	memset(h[4] + 8, 0, 8);
	for (int k = 0; k < 4; k++) {
		e.key_id = k + 1;
		keycache_put(c, h[k], &e, keycache_epoch(c), 1000 + k);
	}
	for (int k = 0; k < 4; k++)
		ck_assert_msg(keycache_get(c, h[k], 1003, &got) == 1 && got.key_id == k + 1, "key %d", k + 1);
	ck_assert_int_eq(keycache_get(c, h[4], 1003, &got), 0);
	keycache_forget(c, 2);
	ck_assert_int_eq(keycache_get(c, h[1], 1003, &got), 0);
	for (int k = 0; k < 4; k++)
		if (k != 1)
			ck_assert_msg(keycache_get(c, h[k], 1003, &got) == 1 && got.key_id == k + 1, "key %d", k + 1);
	/* key 5 (tag from zero bytes) takes the freed slot */
	e.key_id = 5;
	keycache_put(c, h[4], &e, keycache_epoch(c), 1003);
	ck_assert_int_eq(keycache_get(c, h[4], 1003, &got), 1);
	ck_assert_int_eq(got.key_id, 5);
	/* key 1 (stored at 1000) ages out at 1005; the one after it stays */
	ck_assert_int_eq(keycache_get(c, h[0], 1005, &got), 0);
	ck_assert_int_eq(keycache_get(c, h[0], 1004, &got), 0);
	ck_assert_int_eq(keycache_get(c, h[2], 1004, &got), 1);
	ck_assert_int_eq(got.key_id, 3);
	keycache_free(c);
}
END_TEST

/* Keys whose HMACs pick the same set are all kept, four of them
   (direct-mapped, each put evicted the other: 7% of requests to the store
   with 10,000 keys; in sets of two, the sets that three or more keys fell
   in still sent 200-500 requests a second of bench-perf's (b) at 8,000
   req/s to the store, 12 with four); a fifth takes an aged slot, else the
   one stored longest ago. */
START_TEST(keycache_set_holds_four)
{
	keycache *c;
	keycache_entry e = { .user_id = 1 }, got;
	unsigned char h[6][STORE_HASH_LEN];

	ck_assert_int_eq(keycache_new(128, 5, &c), 0);
	for (int k = 0; k < 5; k++)
		slot_hash(h[k], 8, (unsigned)k + 1);   /* one set, whatever its ways */
	slot_hash(h[5], 12, 6);                                      /* the next set */
	for (int k = 0; k < 4; k++) {
		e.key_id = k + 1;
		keycache_put(c, h[k], &e, keycache_epoch(c), 1000 + k);
	}
	for (int k = 0; k < 4; k++) {
		ck_assert_msg(keycache_get(c, h[k], 1003, &got) == 1, "key %d is kept", k + 1);
		ck_assert_int_eq(got.key_id, k + 1);
	}
	/* a fifth: key 1's slot, stored longest ago (1000) */
	e.key_id = 5;
	keycache_put(c, h[4], &e, keycache_epoch(c), 1003);
	ck_assert_int_eq(keycache_get(c, h[0], 1003, &got), 0);
	for (int k = 1; k < 5; k++)
		ck_assert_msg(keycache_get(c, h[k], 1003, &got) == 1 && got.key_id == k + 1, "key %d is kept", k + 1);
	/* a key put again stays in its own slot */
	e.key_id = 2;
	e.rl_limit = 9;
	keycache_put(c, h[1], &e, keycache_epoch(c), 1004);
	ck_assert_int_eq(keycache_get(c, h[1], 1004, &got), 1);
	ck_assert_int_eq(got.rl_limit, 9);
	for (int k = 2; k < 5; k++)
		ck_assert_int_eq(keycache_get(c, h[k], 1004, &got), 1);
	/* at 1007 keys 3 (1001) and 4 (1002) have aged, 5 (1003) and 2 (1004)
	   not: key 1 takes the first aged slot, key 3's, and key 4 stays */
	e.key_id = 1;
	e.rl_limit = 0;
	keycache_put(c, h[0], &e, keycache_epoch(c), 1007);
	ck_assert_int_eq(keycache_get(c, h[0], 1007, &got), 1);
	ck_assert_int_eq(keycache_get(c, h[1], 1007, &got), 1);
	ck_assert_int_eq(keycache_get(c, h[4], 1007, &got), 1);
	ck_assert_int_eq(keycache_get(c, h[2], 1005, &got), 0);
	ck_assert_int_eq(keycache_get(c, h[3], 1006, &got), 1);
	/* forgetting one leaves the others, and the next set is another set */
	e.key_id = 6;
	keycache_put(c, h[5], &e, keycache_epoch(c), 1007);
	keycache_forget(c, 2);
	ck_assert_int_eq(keycache_get(c, h[1], 1007, &got), 0);
	ck_assert_int_eq(keycache_get(c, h[0], 1007, &got), 1);
	ck_assert_int_eq(keycache_get(c, h[4], 1007, &got), 1);
	ck_assert_int_eq(keycache_get(c, h[5], 1007, &got), 1);
	keycache_forget_all(c);
	for (int k = 0; k < 6; k++)
		ck_assert_int_eq(keycache_get(c, h[k], 1007, &got), 0);
	keycache_free(c);
}
END_TEST

/* A forget of everything on a table nothing was put in since the last one
   skips the sweep (while the store fails, every request asks for one); an
   entry put after it is still forgotten by the next. */
START_TEST(keycache_forget_all_after_a_clean_one)
{
	keycache *c;
	keycache_entry e = { .user_id = 1 }, got;
	unsigned char h[2][STORE_HASH_LEN];

	ck_assert_int_eq(keycache_new(128, 60, &c), 0);
	slot_hash(h[0], 4, 1);
	slot_hash(h[1], 40, 2);
	e.key_id = 1;
	keycache_put(c, h[0], &e, keycache_epoch(c), 1000);
	keycache_forget_all(c);
	ck_assert_int_eq(keycache_get(c, h[0], 1000, &got), 0);
	keycache_forget_all(c);   /* nothing put since: no sweep */
	e.key_id = 2;
	keycache_put(c, h[1], &e, keycache_epoch(c), 1000);
	ck_assert_int_eq(keycache_get(c, h[1], 1000, &got), 1);
	keycache_forget_all(c);
	ck_assert_int_eq(keycache_get(c, h[1], 1000, &got), 0);
	/* a put that saw the epoch before a forget of everything puts nothing */
	uint64_t old = keycache_epoch(c);
	keycache_forget_all(c);
	keycache_put(c, h[0], &e, old, 1000);
	ck_assert_int_eq(keycache_get(c, h[0], 1000, &got), 0);
	keycache_free(c);
}
END_TEST

START_TEST(keycache_forget_by_id_record)
{
	keycache *c;
	keycache_entry e = { .user_id = 1 }, got;
	unsigned char h[40][STORE_HASH_LEN];
	int64_t ids[40];
	int cached[40];
	unsigned order[40];

	ck_assert_int_eq(keycache_new(128, 60, &c), 0);
	/* 40 keys from slot 3 on (key 0 alone in its set); ids 1..20 and 129..148 share records
	   (128 slots: id 1 and id 129 have the same one) */
	for (unsigned k = 0; k < 40; k++) {
		ids[k] = k < 20 ? (int64_t)k + 1 : (int64_t)k - 20 + 129;
		slot_hash(h[k], k + 3, k);
		e.key_id = ids[k];
		keycache_put(c, h[k], &e, keycache_epoch(c), 1000);
		cached[k] = 1;
	}
	/* a key never cached, whose record is another's: nothing else goes */
	keycache_forget(c, 257);
	keycache_forget(c, 5000);
	for (unsigned k = 0; k < 40; k++)
		ck_assert_int_eq(keycache_get(c, h[k], 1001, &got), 1);
	/* a key whose slot another key took (key 0 is alone in its set, slots
	   0 to KEYCACHE_WAYS - 1: the first takers fill the others, the last
	   takes key 0's, stored longest ago): its forget leaves the others */
	{
		unsigned char taker[KEYCACHE_WAYS][STORE_HASH_LEN];
		for (unsigned t = 0; t < KEYCACHE_WAYS; t++) {
			slot_hash(taker[t], 3, 99 + t);     /* key 0's set */
			e.key_id = 500 + t;
			keycache_put(c, taker[t], &e, keycache_epoch(c), 1000 + t);
		}
		cached[0] = 0;
		ck_assert_int_eq(keycache_get(c, h[0], 1001, &got), 0);
		keycache_forget(c, ids[0]);
		for (unsigned t = 0; t < KEYCACHE_WAYS; t++) {
			ck_assert_int_eq(keycache_get(c, taker[t], 1000 + KEYCACHE_WAYS, &got), 1);
			ck_assert_int_eq(got.key_id, 500 + t);
		}
		for (unsigned t = 0; t < KEYCACHE_WAYS; t++) {
			keycache_forget(c, 500 + t);
			for (unsigned u = 0; u < KEYCACHE_WAYS; u++)
				ck_assert_int_eq(keycache_get(c, taker[u], 1000 + KEYCACHE_WAYS, &got), u > t);
		}
	}
	/* the rest forgotten in a scrambled order, checking all after each */
	for (unsigned k = 0; k < 40; k++)
		order[k] = (k * 17u + 5u) % 40u;
	for (unsigned n = 0; n < 40; n++) {
		keycache_forget(c, ids[order[n]]);
		cached[order[n]] = 0;
		for (unsigned k = 0; k < 40; k++) {
			int hit = keycache_get(c, h[k], 1001, &got);
			ck_assert_int_eq(hit, cached[k]);
			if (hit)
				ck_assert_int_eq(got.key_id, ids[k]);
		}
	}
	keycache_free(c);
}
END_TEST

/* Each state change, through each family's key, takes effect on the next
   authentication even though the key was answered from the cache. */
START_TEST(cached_key_fails_after_every_change)
{
	for (int fam = 0; fam < KEYSVC_NFAMILIES; fam++) {
		keysvc_key k, k2;
		char t[TOKEN_MAX], t2[TOKEN_MAX], name[8];
		char cl[8];
		keysvc_principal p;
		keysvc_stats before, after;
		unsigned ra;

		snprintf(name, sizeof name, "c%d", fam);
		snprintf(cl, sizeof cl, "c6-%d", fam);   /* four failures each: under the rate limit */
		ck_assert_int_eq(keysvc_create(ks, AS(alice), fam, name, NULL, NULL, "", &k, t, sizeof t), KEYSVC_OK);
		ck_assert_int_eq(keysvc_authenticate(ks, t, cl, &p, &ra), KEYSVC_OK);
		keysvc_get_stats(ks, &before);
		ck_assert_int_eq(keysvc_authenticate(ks, t, cl, &p, &ra), KEYSVC_OK);
		keysvc_get_stats(ks, &after);
		ck_assert_uint_eq(after.cache_hits, before.cache_hits + 1);
		ck_assert_uint_eq(after.hash_lookups, before.hash_lookups);
		ck_assert_int_eq(p.user_id, alice);
		ck_assert_int_eq(p.key_id, k.id);
		ck_assert_str_eq(p.key_uuid, k.uuid);

		/* another user cannot change it, and it stays alice's */
		ck_assert_int_eq(keysvc_set_active(ks, AS(bob), k.id, 0, ""), KEYSVC_NOT_FOUND);
		ck_assert_int_eq(keysvc_revoke(ks, AS(bob), k.id, ""), KEYSVC_NOT_FOUND);
		ck_assert_int_eq(keysvc_delete(ks, AS(bob), k.id, ""), KEYSVC_NOT_FOUND);
		ck_assert_int_eq(keysvc_authenticate(ks, t, cl, &p, &ra), KEYSVC_OK);
		ck_assert_int_eq(p.user_id, alice);

		ck_assert_int_eq(keysvc_set_active(ks, AS(alice), k.id, 0, ""), KEYSVC_OK);
		ck_assert_int_eq(keysvc_authenticate(ks, t, cl, &p, &ra), KEYSVC_REJECTED);
		ck_assert_int_eq(keysvc_set_active(ks, AS(alice), k.id, 1, ""), KEYSVC_OK);
		ck_assert_int_eq(keysvc_authenticate(ks, t, cl, &p, &ra), KEYSVC_OK);
		ck_assert_int_eq(keysvc_authenticate(ks, t, cl, &p, &ra), KEYSVC_OK);
		ck_assert_int_eq(keysvc_revoke(ks, AS(alice), k.id, ""), KEYSVC_OK);
		ck_assert_int_eq(keysvc_authenticate(ks, t, cl, &p, &ra), KEYSVC_REJECTED);
		ck_assert_int_eq(keysvc_set_active(ks, AS(alice), k.id, 1, ""), KEYSVC_OK);
		ck_assert_int_eq(keysvc_authenticate(ks, t, cl, &p, &ra), KEYSVC_REJECTED); /* revoked stays revoked */

		snprintf(name, sizeof name, "d%d", fam);
		ck_assert_int_eq(keysvc_create(ks, AS(alice), fam, name, NULL, NULL, "", &k2, t2, sizeof t2), KEYSVC_OK);
		ck_assert_int_eq(keysvc_authenticate(ks, t2, cl, &p, &ra), KEYSVC_OK);
		ck_assert_int_eq(keysvc_authenticate(ks, t2, cl, &p, &ra), KEYSVC_OK);
		ck_assert_int_eq(keysvc_delete(ks, AS(alice), k2.id, ""), KEYSVC_OK);
		ck_assert_int_eq(keysvc_authenticate(ks, t2, cl, &p, &ra), KEYSVC_REJECTED);
	}
	/* two users' cached keys answer for their own users */
	{
		keysvc_principal p;
		unsigned ra;
		ck_assert_int_eq(keysvc_authenticate(ks, alice_key, "c7", &p, &ra), KEYSVC_OK);
		ck_assert_int_eq(keysvc_authenticate(ks, bob_first, "c7", &p, &ra), KEYSVC_OK);
		ck_assert_int_eq(keysvc_authenticate(ks, bob_first, "c7", &p, &ra), KEYSVC_OK);
		ck_assert_int_eq(p.user_id, bob);
		ck_assert_int_eq(keysvc_authenticate(ks, alice_key, "c7", &p, &ra), KEYSVC_OK);
		ck_assert_int_eq(p.user_id, alice);
	}
}
END_TEST

/* Authentications racing a revocation: once keysvc_revoke has returned, no
   thread may authenticate with that key again (a lookup that read the row
   before the revocation must not put it back into the cache). */
typedef struct racer {
	const char *token;
	volatile int *stop;
	volatile int *revoked;
	int late_ok;
} racer;

static void *race_auth(void *arg)
{
	racer *r = arg;
	keysvc_principal p;
	unsigned ra;

	while (!__atomic_load_n(r->stop, __ATOMIC_SEQ_CST)) {
		int after = __atomic_load_n(r->revoked, __ATOMIC_SEQ_CST);
		if (keysvc_authenticate(ks, r->token, "c8", &p, &ra) == KEYSVC_OK && after)
			r->late_ok++;
	}
	return NULL;
}

START_TEST(revocation_racing_authentications)
{
	for (int round = 0; round < 40; round++) {
		keysvc_key k;
		char t[TOKEN_MAX];
		pthread_t th[4];
		racer r[4];
		volatile int stop = 0, revoked = 0;
		struct timespec pause = { 0, 2000000 };

		ck_assert_int_eq(keysvc_create(ks, AS(alice), round % KEYSVC_NFAMILIES, round % 2 ? "x" : "y", NULL, NULL, "", &k,
		                               t, sizeof t) == KEYSVC_OK || round % KEYSVC_NFAMILIES == KEYSVC_FELDERA, 1);
		if (round % KEYSVC_NFAMILIES == KEYSVC_FELDERA)
			continue;   /* names are unique there; the other families cover it */
		for (int i = 0; i < 4; i++) {
			r[i] = (racer){ .token = t, .stop = &stop, .revoked = &revoked };
			pthread_create(&th[i], NULL, race_auth, &r[i]);
		}
		nanosleep(&pause, NULL);
		ck_assert_int_eq(round % 3 == 0 ? keysvc_revoke(ks, AS(alice), k.id, "")
		                 : round % 3 == 1 ? keysvc_set_active(ks, AS(alice), k.id, 0, "")
		                                  : keysvc_delete(ks, AS(alice), k.id, ""), KEYSVC_OK);
		__atomic_store_n(&revoked, 1, __ATOMIC_SEQ_CST);
		nanosleep(&pause, NULL);
		__atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
		for (int i = 0; i < 4; i++) {
			pthread_join(th[i], NULL);
			ck_assert_msg(r[i].late_ok == 0, "round %d: %d authentications after the change returned", round,
			              r[i].late_ok);
		}
	}
}
END_TEST

/* ---- the list cache ---- */

START_TEST(listcache_epoch_ttl_bounds)
{
	listcache *c;
	store_key v[3], *got;
	size_t n;
	uint64_t ep;

	memset(v, 0, sizeof v);
	for (int i = 0; i < 3; i++)
		v[i].id = 10 + i;
	ck_assert_int_eq(listcache_new(4, 2, 3, 5, &c), 0);
	ep = listcache_epoch(c, 1);
	ck_assert_int_eq(listcache_get(c, 1, 0, 0, 1000, &got, &n), 0);
	listcache_put(c, 1, 0, 0, v, 2, ep, 1000);
	listcache_put(c, 1, 1, 0, v, 0, ep, 1000);              /* an empty list is a list */
	listcache_put(c, 1, 2, 0, v, 3, ep, 1000);              /* longer than max_keys: not kept */
	v[0].id = 99;                                           /* the cache holds a copy */
	ck_assert_int_eq(listcache_get(c, 1, 0, 0, 1004, &got, &n), 1);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(got[0].id, 10);
	ck_assert_int_eq(got[1].id, 11);
	free(got);
	ck_assert_int_eq(listcache_get(c, 1, 0, 1, 1004, &got, &n), 0);   /* with revoked: another list */
	ck_assert_int_eq(listcache_get(c, 2, 0, 0, 1004, &got, &n), 0);   /* another owner */
	ck_assert_int_eq(listcache_get(c, 1, 1, 0, 1004, &got, &n), 1);
	ck_assert_uint_eq(n, 0);
	free(got);
	ck_assert_int_eq(listcache_get(c, 1, 2, 0, 1004, &got, &n), 0);
	/* rows in all: 2 held, room for 1 more */
	listcache_put(c, 2, 0, 0, v, 2, listcache_epoch(c, 2), 1000);
	ck_assert_int_eq(listcache_get(c, 2, 0, 0, 1001, &got, &n), 0);
	listcache_put(c, 2, 0, 0, v, 1, listcache_epoch(c, 2), 1000);
	ck_assert_int_eq(listcache_get(c, 2, 0, 0, 1001, &got, &n), 1);
	free(got);
	/* forgetting an owner drops its lists only, and a list read before that
	   cannot be put back */
	ep = listcache_epoch(c, 1);
	listcache_forget_user(c, 1);
	ck_assert_int_eq(listcache_get(c, 1, 0, 0, 1001, &got, &n), 0);
	ck_assert_int_eq(listcache_get(c, 1, 1, 0, 1001, &got, &n), 0);
	ck_assert_int_eq(listcache_get(c, 2, 0, 0, 1001, &got, &n), 1);
	free(got);
	listcache_put(c, 1, 0, 0, v, 1, ep, 1001);
	ck_assert_int_eq(listcache_get(c, 1, 0, 0, 1001, &got, &n), 0);
	/* older than the ttl, or from the future: gone */
	ck_assert_int_eq(listcache_get(c, 2, 0, 0, 1005, &got, &n), 0);
	listcache_put(c, 2, 0, 0, v, 1, listcache_epoch(c, 2), 1000);
	ck_assert_int_eq(listcache_get(c, 2, 0, 0, 999, &got, &n), 0);
	/* families beyond the table are never kept */
	listcache_put(c, 3, 8, 0, v, 1, listcache_epoch(c, 3), 1000);
	ck_assert_int_eq(listcache_get(c, 3, 8, 0, 1000, &got, &n), 0);
	listcache_free(c);
}
END_TEST

/* A list comes back byte for byte as it was put (lists are kept packed):
   keys as the store fills them (texts, then zero bytes), keys with no zero
   byte at all, with zero runs of every length at every phase, and with a
   last byte that is or is not zero. */
/* A key's last_used written (its first use in a minute) updates its owner's
   cached lists in place, both families' and with or without revoked keys,
   and nothing else of them; other owners' lists stay; a fill in flight
   meanwhile is not kept (the epoch moves). Before, every such write dropped
   the owner's lists: with 10,000 keys, some 200 list reads a second. */
/* listcache_set_grace: a list past its ttl by less than the grace is
   answered, once with 2 (its caller reads it again), then with 1 while
   held young; unrefreshed, with 2 again each hold; gone from ttl + grace
   after its put; a put makes it young for the whole ttl again; a forget
   still drops it; no grace (the default) keeps the old answer. */
START_TEST(listcache_aged_handed_out_once)
{
	listcache *c;
	store_key v[1], *got;
	size_t n;

	memset(v, 0, sizeof v);
	v[0].id = 10;
	ck_assert_int_eq(listcache_new(4, 2, 3, 10, &c), 0);
	listcache_put(c, 1, 0, 0, v, 1, listcache_epoch(c, 1), 1000);
	ck_assert_int_eq(listcache_get(c, 1, 0, 0, 1011, &got, &n), 0);   /* no grace: gone */
	listcache_set_grace(c, 10, 2);
	listcache_put(c, 1, 0, 0, v, 1, listcache_epoch(c, 1), 1000);
	ck_assert_int_eq(listcache_get(c, 1, 0, 0, 1009, &got, &n), 1);
	free(got);
	ck_assert_int_eq(listcache_get(c, 1, 0, 0, 1012, &got, &n), 2);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(got[0].id, 10);
	free(got);
	ck_assert_int_eq(listcache_get(c, 1, 0, 0, 1013, &got, &n), 1);
	free(got);
	ck_assert_int_eq(listcache_get(c, 1, 0, 0, 1014, &got, &n), 2);
	free(got);
	for (time_t t = 1015; t < 1020; t++) {
		ck_assert_int_ne(listcache_get(c, 1, 0, 0, t, &got, &n), 0);
		free(got);
	}
	ck_assert_int_eq(listcache_get(c, 1, 0, 0, 1020, &got, &n), 0);
	ck_assert_int_eq(listcache_get(c, 1, 0, 0, 1015, &got, &n), 0);
	/* the refresh's put: young for the whole ttl */
	listcache_put(c, 1, 0, 0, v, 1, listcache_epoch(c, 1), 2000);
	ck_assert_int_eq(listcache_get(c, 1, 0, 0, 2011, &got, &n), 2);
	free(got);
	listcache_put(c, 1, 0, 0, v, 1, listcache_epoch(c, 1), 2011);
	ck_assert_int_eq(listcache_get(c, 1, 0, 0, 2020, &got, &n), 1);
	free(got);
	/* a forget drops an aged list too; a clock gone back finds nothing */
	listcache_put(c, 1, 0, 0, v, 1, listcache_epoch(c, 1), 3000);
	ck_assert_int_eq(listcache_get(c, 1, 0, 0, 3011, &got, &n), 2);
	free(got);
	listcache_forget_user(c, 1);
	ck_assert_int_eq(listcache_get(c, 1, 0, 0, 3011, &got, &n), 0);
	listcache_put(c, 1, 0, 0, v, 1, listcache_epoch(c, 1), 4000);
	ck_assert_int_eq(listcache_get(c, 1, 0, 0, 3999, &got, &n), 0);
	listcache_free(c);
}
END_TEST

START_TEST(listcache_touch_updates_in_place)
{
	listcache *c;
	store_key v[3], *got;
	size_t n;
	uint64_t e;

	memset(v, 0, sizeof v);
	for (int i = 0; i < 3; i++) {
		v[i].id = 10 + i;
		v[i].user_id = 7;
		v[i].created = 1700000000 + i;
		snprintf(v[i].name, sizeof v[i].name, "key %d", i);
	}
	ck_assert_int_eq(listcache_new(4, 8, 100, 60, &c), 0);
	listcache_put(c, 7, 0, 0, v, 3, listcache_epoch(c, 7), 1000);
	listcache_put(c, 7, 3, 1, v, 2, listcache_epoch(c, 7), 1000);
	listcache_put(c, 8, 0, 0, v, 3, listcache_epoch(c, 8), 1000);
	e = listcache_epoch(c, 7);
	listcache_touch(c, 7, 11, 1005);
	ck_assert_int_eq(listcache_get(c, 7, 0, 0, 1006, &got, &n), 1);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(got[1].last_used, 1005);
	got[1].last_used = 0;
	ck_assert_msg(memcmp(got, v, sizeof v) == 0, "only key 11's last_used changed");
	free(got);
	ck_assert_int_eq(listcache_get(c, 7, 3, 1, 1006, &got, &n), 1);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(got[1].last_used, 1005);
	free(got);
	ck_assert_int_eq(listcache_get(c, 8, 0, 0, 1006, &got, &n), 1);
	ck_assert_int_eq(got[1].last_used, 0);   /* another owner's list is its own */
	free(got);
	/* a list filled from a read made before the touch is not kept */
	listcache_put(c, 7, 1, 0, v, 3, e, 1006);
	ck_assert_int_eq(listcache_get(c, 7, 1, 0, 1006, &got, &n), 0);
	/* a key the lists do not hold changes nothing */
	listcache_touch(c, 7, 99, 1007);
	ck_assert_int_eq(listcache_get(c, 7, 0, 0, 1007, &got, &n), 1);
	ck_assert_int_eq(got[0].last_used, 0);
	ck_assert_int_eq(got[1].last_used, 1005);
	free(got);
	listcache_free(c);
}
END_TEST

/* listcache_each's walk: each key as put, in order, up to max, until fn
   answers nonzero. */
typedef struct each_seen {
	const store_key *want;
	size_t n, stop_at;
	int bad;
} each_seen;

static int each_check(void *ctx, const store_key *k)
{
	each_seen *e = ctx;

	if (memcmp(k, &e->want[e->n], sizeof *k) != 0)
		e->bad = 1;
	return ++e->n == e->stop_at ? 7 : 0;
}

/* fn walking another list from inside a walk (a key of its own): both
   lists still come out exactly. */
typedef struct each_nested {
	listcache *c;
	each_seen outer, inner;
	int rc;
} each_nested;

static int each_nest(void *ctx, const store_key *k)
{
	each_nested *e = ctx;

	if (listcache_each(e->c, 4, 0, 0, 1000, 0, each_check, &e->inner, &e->rc) != 1)
		e->inner.bad = 1;
	e->inner.n = 0;
	return each_check(&e->outer, k);
}

START_TEST(listcache_keeps_lists_exactly)
{
	listcache *c;
	store_key v[6], *got;
	size_t n;
	unsigned seed = 7;

	memset(v, 0, sizeof v);
	v[0].id = 1;
	snprintf(v[0].name, sizeof v[0].name, "first key");
	snprintf(v[0].meta, sizeof v[0].meta, "{\"plan\":\"pro\"}");
	snprintf(v[0].owner, sizeof v[0].owner, "customer-42");
	v[0].created = 1700000000;
	memset(&v[1], 0xA5, sizeof v[1]);                  /* no zero byte */
	for (size_t i = 0; i < sizeof v[2]; i++) {         /* zero runs of 0..9 bytes */
		seed = seed * 1103515245u + 12345u;
		((unsigned char *)&v[2])[i] = (seed >> 16) % 10 < 4 ? 0 : (unsigned char)(seed >> 8) | 1;
	}
	for (size_t i = 0; i < sizeof v[3]; i++)           /* a zero run before each fifth byte */
		((unsigned char *)&v[3])[i] = i % 5 == 4 ? (unsigned char)i | 1 : 0;
	((unsigned char *)&v[4])[sizeof v[4] - 1] = 9;     /* zeros, then a last byte */
	/* v[5]: all zero */
	ck_assert_int_eq(listcache_new(4, 8, 100, 5, &c), 0);
	for (size_t k = 1; k <= 6; k++) {
		listcache_put(c, (int64_t)k, 0, 0, v, k, listcache_epoch(c, (int64_t)k), 1000);
		ck_assert_int_eq(listcache_get(c, (int64_t)k, 0, 0, 1000, &got, &n), 1);
		ck_assert_uint_eq(n, k);
		ck_assert_msg(memcmp(got, v, k * sizeof *v) == 0, "a list of %zu keys comes back as put", k);
		free(got);
		for (size_t max = 0; max <= k + 1; max++) {   /* walked one key at a time, records across keys */
			each_seen e = { v, 0, 0, 0 };
			int rc = -1;
			ck_assert_int_eq(listcache_each(c, (int64_t)k, 0, 0, 1000, max, each_check, &e, &rc), 1);
			ck_assert_int_eq(rc, 0);
			ck_assert_msg(!e.bad, "list of %zu keys, walk to %zu: a key differs", k, max);
			ck_assert_uint_eq(e.n, max == 0 || max > k ? k : max);
		}
		each_seen stop = { v, 0, k, 0 };   /* fn's nonzero answer ends the walk and is returned */
		int rc = 0;
		ck_assert_int_eq(listcache_each(c, (int64_t)k, 0, 0, 1000, 0, each_check, &stop, &rc), 1);
		ck_assert_int_eq(rc, 7);
		ck_assert_uint_eq(stop.n, k);
		ck_assert_int_eq(listcache_each(c, (int64_t)k, 0, 0, 1005, 0, each_check, &stop, &rc), 0);   /* aged out */
	}
	listcache_put(c, 6, 0, 0, v, 6, listcache_epoch(c, 6), 1000);
	listcache_put(c, 4, 0, 0, v + 2, 4, listcache_epoch(c, 4), 1000);   /* v[2..5] */
	{
		each_nested e = { c, { v, 0, 0, 0 }, { v + 2, 0, 0, 0 }, 0 };
		int rc = -1;
		ck_assert_int_eq(listcache_each(c, 6, 0, 0, 1000, 0, each_nest, &e, &rc), 1);
		ck_assert_int_eq(rc, 0);
		ck_assert_uint_eq(e.outer.n, 6);
		ck_assert_msg(!e.outer.bad && !e.inner.bad, "a walk inside a walk: a key differs");
	}
	for (size_t k = 0; k < 6; k++) {
		listcache_put(c, 10 + (int64_t)k, 1, 0, &v[k], 1, listcache_epoch(c, 10 + (int64_t)k), 1000);
		ck_assert_int_eq(listcache_get(c, 10 + (int64_t)k, 1, 0, 1000, &got, &n), 1);
		ck_assert_msg(memcmp(got, &v[k], sizeof *v) == 0, "key %zu alone comes back as put", k);
		free(got);
	}
	listcache_free(c);
}
END_TEST

/* A group's slots are shared by its owners: one group holds 16 owners'
   lists (it held one owner's per family), and a 17th list pushes out the
   least recently used. */
START_TEST(listcache_owners_share_a_group)
{
	listcache *c;
	store_key v[1], *got;
	size_t n;

	memset(v, 0, sizeof v);
	ck_assert_int_eq(listcache_new(1, 4, 100, 5, &c), 0);
	for (int64_t u = 1; u <= 16; u++) {
		v[0].id = 100 + u;
		listcache_put(c, u, (int)(u % 3), 0, v, 1, listcache_epoch(c, u), 1000);
	}
	for (int64_t u = 1; u <= 16; u++) {
		ck_assert_msg(listcache_get(c, u, (int)(u % 3), 0, 1001, &got, &n) == 1, "owner %lld's list is kept",
		              (long long)u);
		ck_assert_uint_eq(n, 1);
		ck_assert_int_eq(got[0].id, 100 + u);
		free(got);
	}
	/* owner 1 used again: owner 2's is now the least recently used */
	ck_assert_int_eq(listcache_get(c, 1, 1, 0, 1001, &got, &n), 1);
	free(got);
	listcache_put(c, 17, 0, 0, v, 1, listcache_epoch(c, 17), 1001);
	ck_assert_int_eq(listcache_get(c, 17, 0, 0, 1001, &got, &n), 1);
	free(got);
	ck_assert_int_eq(listcache_get(c, 2, 2, 0, 1001, &got, &n), 0);
	ck_assert_int_eq(listcache_get(c, 1, 1, 0, 1001, &got, &n), 1);
	free(got);
	for (int64_t u = 3; u <= 16; u++) {
		ck_assert_int_eq(listcache_get(c, u, (int)(u % 3), 0, 1001, &got, &n), 1);
		free(got);
	}
	/* a put replaces the owner's own list of that family, in its slot */
	v[0].id = 7;
	listcache_put(c, 5, 2, 0, v, 1, listcache_epoch(c, 5), 1001);
	ck_assert_int_eq(listcache_get(c, 5, 2, 0, 1001, &got, &n), 1);
	ck_assert_int_eq(got[0].id, 7);
	free(got);
	for (int64_t u = 3; u <= 17; u++) {
		ck_assert_int_eq(listcache_get(c, u, u == 17 ? 0 : (int)(u % 3), 0, 1001, &got, &n), 1);
		free(got);
	}
	listcache_free(c);
}
END_TEST

/* A group's slots are found by a one-byte tag, and a tag is a hint: with
   600 owners' lists of two families each, with and without the revoked
   keys, put through 4 groups (64 slots), many tags are alike; every hit is
   the list of the very owner, family and kind asked for, each one still
   kept is found, and a drop (forget) leaves the others. */
START_TEST(listcache_tags_are_hints)
{
	listcache *c;
	store_key v[1], *got;
	size_t n;
	int hits = 0;

	memset(v, 0, sizeof v);
	ck_assert_int_eq(listcache_new(4, 4, 100000, 5, &c), 0);
	for (int64_t u = 1; u <= 600; u++)
		for (int k = 0; k < 4; k++) {
			v[0].id = u * 10 + k;
			listcache_put(c, u, k / 2, k % 2, v, 1, listcache_epoch(c, u), 1000);
		}
	for (int64_t u = 1; u <= 600; u++)
		for (int k = 0; k < 4; k++)
			if (listcache_get(c, u, k / 2, k % 2, 1001, &got, &n) == 1) {
				ck_assert_uint_eq(n, 1);
				ck_assert_msg(got[0].id == u * 10 + k, "owner %lld list %d: got key %lld", (long long)u, k,
				              (long long)got[0].id);
				free(got);
				hits++;
			}
	ck_assert_int_eq(hits, 64);   /* each slot holds one list, found by its own */
	/* the last 16 puts of each group are kept: owner 600's four among them;
	   forgetting one owner leaves the lists of every other */
	listcache_forget_user(c, 600);
	hits = 0;
	for (int64_t u = 1; u <= 600; u++)
		for (int k = 0; k < 4; k++)
			if (listcache_get(c, u, k / 2, k % 2, 1001, &got, &n) == 1) {
				ck_assert_int_ne(u, 600);
				ck_assert_int_eq(got[0].id, u * 10 + k);
				free(got);
				hits++;
			}
	ck_assert_int_eq(hits, 60);
	listcache_free(c);
}
END_TEST

/* n keys of user in family fam: the number listed (whole list). */
static size_t listed(int64_t user, int fam, int include_revoked, int64_t key_id, keysvc_key *found)
{
	keysvc_key *v = NULL;
	size_t n = 0;
	int64_t total = -1;

	ck_assert_int_eq(keysvc_list(ks, user, fam, NULL, include_revoked, 0, -1, &v, &n, &total), KEYSVC_OK);
	ck_assert_int_eq(total, (int64_t)n);
	for (size_t i = 0; found && i < n; i++)
		if (v[i].id == key_id)
			*found = v[i];
	free(v);
	return n;
}

/* Every write to an owner's keys shows in that owner's next list, although
   the list before it came from the cache. */
START_TEST(cached_list_follows_every_change)
{
	for (int fam = 0; fam < KEYSVC_NFAMILIES; fam++) {
		keysvc_key k, f;
		keysvc_principal p;
		keysvc_stats before, after;
		char t[TOKEN_MAX], name[8], cl[8];
		unsigned ra;
		size_t n0, n, nb;

		snprintf(name, sizeof name, "l%d", fam);
		snprintf(cl, sizeof cl, "c9-%d", fam);
		n0 = listed(alice, fam, 0, 0, NULL);
		keysvc_get_stats(ks, &before);
		ck_assert_uint_eq(listed(alice, fam, 0, 0, NULL), n0);
		keysvc_get_stats(ks, &after);
		ck_assert_uint_eq(after.list_hits, before.list_hits + 1);
		nb = listed(bob, fam, 0, 0, NULL);

		ck_assert_int_eq(keysvc_create(ks, AS(alice), fam, name, NULL, NULL, "", &k, t, sizeof t), KEYSVC_OK);
		memset(&f, 0, sizeof f);
		ck_assert_uint_eq(listed(alice, fam, 0, k.id, &f), n0 + 1);
		ck_assert_int_eq(f.id, k.id);
		ck_assert_int_eq(f.active, 1);
		ck_assert_int_eq(f.last_used, 0);
		/* bob's list is his own, cached or not */
		memset(&f, 0, sizeof f);
		ck_assert_uint_eq(listed(bob, fam, 0, k.id, &f), nb);
		ck_assert_int_eq(f.id, 0);

		/* the first authentication writes last_used */
		ck_assert_int_eq(keysvc_authenticate(ks, t, cl, &p, &ra), KEYSVC_OK);
		ck_assert_uint_eq(listed(alice, fam, 0, k.id, &f), n0 + 1);
		ck_assert_int_gt(f.last_used, 0);

		ck_assert_int_eq(keysvc_set_active(ks, AS(alice), k.id, 0, ""), KEYSVC_OK);
		listed(alice, fam, 0, k.id, &f);
		ck_assert_int_eq(f.active, 0);
		ck_assert_int_eq(keysvc_set_active(ks, AS(alice), k.id, 1, ""), KEYSVC_OK);
		listed(alice, fam, 0, k.id, &f);
		ck_assert_int_eq(f.active, 1);

		listed(alice, fam, 1, 0, NULL);
		ck_assert_int_eq(keysvc_revoke(ks, AS(alice), k.id, ""), KEYSVC_OK);
		n = listed(alice, fam, 0, 0, NULL);
		ck_assert_uint_eq(n, n0);                          /* revoked keys hidden */
		ck_assert_uint_eq(listed(alice, fam, 1, k.id, &f), n0 + 1);
		ck_assert_int_eq(f.revoked, 1);

		ck_assert_int_eq(keysvc_delete(ks, AS(alice), k.id, ""), KEYSVC_OK);
		ck_assert_uint_eq(listed(alice, fam, 1, 0, NULL), n0);
		ck_assert_uint_eq(listed(alice, fam, 0, 0, NULL), n0);
	}
}
END_TEST

/* Lists racing creates: once keysvc_create has returned, every list shows
   the new key (a list read before it must not be put back afterwards). */
typedef struct lister {
	volatile int *stop;
	volatile int64_t *newest;   /* id of the newest key whose create returned */
	int missing;
} lister;

static void *race_list(void *arg)
{
	lister *l = arg;

	while (!__atomic_load_n(l->stop, __ATOMIC_SEQ_CST)) {
		int64_t want = __atomic_load_n(l->newest, __ATOMIC_SEQ_CST);
		keysvc_key *v = NULL;
		size_t n = 0;
		int64_t total;
		int seen = want == 0;

		ck_assert_int_eq(keysvc_list(ks, alice, KEYSVC_NEBULA, NULL, 0, 0, -1, &v, &n, &total), KEYSVC_OK);
		for (size_t i = 0; i < n; i++)
			seen |= v[i].id == want;
		free(v);
		if (!seen)
			l->missing++;
	}
	return NULL;
}

START_TEST(list_racing_creates)
{
	pthread_t th[4];
	lister l[4];
	volatile int stop = 0;
	volatile int64_t newest = 0;

	for (int i = 0; i < 4; i++) {
		l[i] = (lister){ .stop = &stop, .newest = &newest };
		pthread_create(&th[i], NULL, race_list, &l[i]);
	}
	for (int i = 0; i < 40; i++) {
		keysvc_key k;
		char t[TOKEN_MAX];
		ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_NEBULA, "race", NULL, NULL, "", &k, t, sizeof t), KEYSVC_OK);
		__atomic_store_n(&newest, k.id, __ATOMIC_SEQ_CST);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_msg(l[i].missing == 0, "%d lists without a key whose create had returned", l[i].missing);
	}
}
END_TEST


/* ---- finding 8: which key made which ---- */

static int64_t key_id_of(const char *token)
{
	keysvc_principal p;
	unsigned ra;

	ck_assert_int_eq(keysvc_authenticate(ks, token, "lineage", &p, &ra), KEYSVC_OK);
	return p.key_id;
}

/* A tree of keys across families: the children are listed with every
   family (KEYSVC_ALL) and record their parent; deleting a middle key hands
   its children to its parent; revoking the tree refuses each descendant
   at once (cached or not) and leaves the rest alone. */
START_TEST(lineage_and_cascade)
{
	char t_child[TOKEN_MAX], t_grand[TOKEN_MAX], t_great[TOKEN_MAX], t_other[TOKEN_MAX];
	keysvc_key child, grand, great, other, got;
	keysvc_principal p;
	int64_t root = key_id_of(alice_key), owner = 0;
	size_t n = 0;
	unsigned ra;

	/* each key made by the one before (write keys: a read key mints nothing) */
	ck_assert_int_eq(keysvc_create(ks, BY(alice, root), KEYSVC_FELDERA, "child", NULL, "write", "t", &child, t_child,
	                               sizeof t_child), KEYSVC_OK);
	ck_assert_int_eq(keysvc_create(ks, BY(alice, child.id), KEYSVC_FASTAPI, "grand", NULL, NULL, "t", &grand, t_grand,
	                               sizeof t_grand), KEYSVC_OK);
	ck_assert_int_eq(keysvc_create(ks, BY(alice, grand.id), KEYSVC_NEBULA, "great", NULL, NULL, "t", &great, t_great,
	                               sizeof t_great), KEYSVC_OK);
	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_HERON, "other", NULL, NULL, "t", &other, t_other, sizeof t_other),
	                 KEYSVC_OK);
	ck_assert_int_eq(keysvc_get_id(ks, alice, KEYSVC_ALL, great.id, &got), KEYSVC_OK);
	ck_assert_int_eq(got.parent_id, grand.id);
	ck_assert_int_eq(keysvc_get_id(ks, alice, KEYSVC_ALL, other.id, &got), KEYSVC_OK);
	ck_assert_int_eq(got.parent_id, 0);
	ck_assert_int_eq(keysvc_key_owner(ks, great.id, &owner), KEYSVC_OK);
	ck_assert_int_eq(owner, alice);
	/* the middle key goes: its child now descends from the root */
	ck_assert_int_eq(keysvc_delete(ks, AS(alice), grand.id, "t"), KEYSVC_OK);
	ck_assert_int_eq(keysvc_get_id(ks, alice, KEYSVC_ALL, great.id, &got), KEYSVC_OK);
	ck_assert_int_eq(got.parent_id, child.id);
	/* every descendant cached, then the tree revoked */
	ck_assert_int_eq(keysvc_authenticate(ks, t_child, "t", &p, &ra), KEYSVC_OK);
	ck_assert_int_eq(keysvc_authenticate(ks, t_great, "t", &p, &ra), KEYSVC_OK);
	ck_assert_int_eq(keysvc_revoke_tree(ks, AS(alice), root, "t", &n), KEYSVC_OK);
	ck_assert_uint_eq(n, 3);   /* root, child, great */
	ck_assert_int_eq(keysvc_authenticate(ks, alice_key, "t", &p, &ra), KEYSVC_REJECTED);
	ck_assert_int_eq(keysvc_authenticate(ks, t_child, "t", &p, &ra), KEYSVC_REJECTED);
	ck_assert_int_eq(keysvc_authenticate(ks, t_great, "t", &p, &ra), KEYSVC_REJECTED);
	ck_assert_int_eq(keysvc_authenticate(ks, t_other, "t", &p, &ra), KEYSVC_OK);
	ck_assert_int_eq(keysvc_revoke_tree(ks, AS(bob), root, "t", &n), KEYSVC_NOT_FOUND);   /* not bob's */
}
END_TEST

/* user key: a new key for a user whose every key is gone */
START_TEST(user_key_recovers)
{
	char t[TOKEN_MAX];
	keysvc_principal p;
	keysvc_key k;
	int64_t u = 0, n = 0;
	unsigned ra;

	ck_assert_int_eq(keysvc_delete(ks, AS(bob), key_id_of(bob_first), "t"), KEYSVC_OK);
	ck_assert_int_eq(keysvc_authenticate(ks, bob_first, "t", &p, &ra), KEYSVC_REJECTED);
	ck_assert_int_eq(keysvc_user_key(ks, "bob", t, sizeof t, &u, &k), KEYSVC_OK);
	ck_assert_int_eq(u, bob);
	ck_assert_int_eq(keysvc_authenticate(ks, t, "t", &p, &ra), KEYSVC_OK);
	ck_assert_int_eq(p.user_id, bob);
	ck_assert_int_eq(store_audit_count(keysvc_store(ks), k.id, "create", &n), STORE_OK);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(keysvc_user_key(ks, "nobody", t, sizeof t, &u, &k), KEYSVC_NO_USER);
}
END_TEST

/* ---- finding 9: the quota and lists in pages ---- */

typedef struct quota_run {
	int ok, quota, other;
} quota_run;

static pthread_mutex_t quota_lock = PTHREAD_MUTEX_INITIALIZER;

static void *quota_worker(void *arg)
{
	quota_run *r = arg;
	char t[TOKEN_MAX];
	keysvc_key k;

	for (int i = 0; i < 10; i++) {
		int rc = keysvc_create(ks, AS(alice), KEYSVC_NEBULA, "q", NULL, NULL, "t", &k, t, sizeof t);
		pthread_mutex_lock(&quota_lock);
		if (rc == KEYSVC_OK) r->ok++;
		else if (rc == KEYSVC_QUOTA) r->quota++;
		else r->other++;
		pthread_mutex_unlock(&quota_lock);
	}
	return NULL;
}

/* 80 concurrent creates against a quota of 50 (alice holds 1): exactly 49
   succeed, whatever the group commit batches together; revoked keys make
   room, deactivated ones do not. */
START_TEST(quota_exact_under_concurrency)
{
	keysvc_config cfg = { .synchronous_full = 0, .key_quota = 50 };
	quota_run r = { 0 };
	pthread_t th[8];
	char db[300], err[300] = "", t[TOKEN_MAX];
	int64_t first;
	keysvc_key k;

	keysvc_close(ks);
	snprintf(db, sizeof db, "%s/k.db", tmpdir);
	cfg.db_path = db;
	ck_assert_msg(keysvc_open(&cfg, &ks, err, sizeof err) == 0, "%s", err);
	first = key_id_of(alice_key);
	for (int i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, quota_worker, &r);
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(r.ok, 49);
	ck_assert_int_eq(r.quota, 31);
	ck_assert_int_eq(r.other, 0);
	ck_assert_int_eq(keysvc_set_active(ks, AS(alice), first, 0, "t"), KEYSVC_OK);
	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_HERON, "x", NULL, NULL, "t", &k, t, sizeof t), KEYSVC_QUOTA);
	ck_assert_int_eq(keysvc_revoke(ks, AS(alice), first, "t"), KEYSVC_OK);
	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_HERON, "y", NULL, NULL, "t", &k, t, sizeof t), KEYSVC_OK);
	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_HERON, "z", NULL, NULL, "t", &k, t, sizeof t), KEYSVC_QUOTA);
	ck_assert_int_eq(keysvc_create(ks, AS(bob), KEYSVC_HERON, "bob's", NULL, NULL, "t", &k, t, sizeof t), KEYSVC_OK);
}
END_TEST

typedef struct walk {
	size_t n;
	int64_t last;
	int ordered;
} walk;

static int walk_one(void *ctx, const keysvc_key *k)
{
	walk *w = ctx;

	if (w->n && k->id >= w->last)
		w->ordered = 0;
	w->last = k->id;
	w->n++;
	return 0;
}

/* A list of any length is walked in pages, newest first, each key once;
   the whole list of a short one is kept by the list cache. */
START_TEST(list_each_pages)
{
	keysvc_stats before, after;
	char t[TOKEN_MAX];
	keysvc_key k;
	walk w = { .ordered = 1 };

	for (int i = 0; i < 150; i++)
		ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_NEBULA, "p", NULL, NULL, "t", &k, t, sizeof t), KEYSVC_OK);
	ck_assert_int_eq(keysvc_list_each(ks, alice, KEYSVC_NEBULA, 0, 0, walk_one, &w), KEYSVC_OK);
	ck_assert_uint_eq(w.n, 150);
	ck_assert(w.ordered);
	w = (walk){ .ordered = 1 };
	ck_assert_int_eq(keysvc_list_each(ks, alice, KEYSVC_ALL, 0, 0, walk_one, &w), KEYSVC_OK);
	ck_assert_uint_eq(w.n, 151);   /* and alice's first (Heron) key */
	ck_assert(w.ordered);
	w = (walk){ .ordered = 1 };
	ck_assert_int_eq(keysvc_list_each(ks, alice, KEYSVC_NEBULA, 0, 100, walk_one, &w), KEYSVC_OK);
	ck_assert_uint_eq(w.n, 100);   /* at most max, the newest */
	ck_assert_int_eq(w.last, k.id - 99);
	ck_assert_uint_eq(keysvc_list_max(ks), KEYSVC_DEFAULT_QUOTA);
	w = (walk){ .ordered = 1 };
	ck_assert_int_eq(keysvc_list_each(ks, bob, KEYSVC_ALL, 0, 0, walk_one, &w), KEYSVC_OK);
	keysvc_get_stats(ks, &before);
	w = (walk){ .ordered = 1 };
	ck_assert_int_eq(keysvc_list_each(ks, bob, KEYSVC_ALL, 0, 0, walk_one, &w), KEYSVC_OK);
	keysvc_get_stats(ks, &after);
	ck_assert_uint_eq(w.n, 1);
	ck_assert_uint_eq(after.list_hits, before.list_hits + 1);
}
END_TEST
/* ---- JWT ---- */

static jwk_t *jwt_priv, *jwt_pub, *other_priv, *other_pub;

static char *make_jwt(jwk_t *key, const char *sub, long exp_offset)
{
	jwt_t *jwt;
	char *s;

	r_jwt_init(&jwt);
	r_jwt_set_sign_alg(jwt, R_JWA_ALG_ES256);
	r_jwt_set_claim_str_value(jwt, "sub", sub);
	r_jwt_set_claim_int_value(jwt, "exp", (rhn_int_t)(time(NULL) + exp_offset));
	s = r_jwt_serialize_signed(jwt, key, 0);
	r_jwt_free(jwt);
	return s;
}

static void jwt_setup(void)
{
	char db[300], pem_path[300];
	unsigned char pem[4096];
	size_t pemlen = sizeof pem;
	FILE *f;

	setup();
	keysvc_close(ks);
	r_jwk_init(&jwt_priv);
	r_jwk_init(&jwt_pub);
	r_jwk_init(&other_priv);
	r_jwk_init(&other_pub);
	ck_assert_int_eq(r_jwk_generate_key_pair(jwt_priv, jwt_pub, R_KEY_TYPE_EC, 256, "k1"), RHN_OK);
	ck_assert_int_eq(r_jwk_generate_key_pair(other_priv, other_pub, R_KEY_TYPE_EC, 256, "k1"), RHN_OK);
	ck_assert_int_eq(r_jwk_export_to_pem_der(jwt_pub, R_FORMAT_PEM, pem, &pemlen, 0), RHN_OK);
	snprintf(pem_path, sizeof pem_path, "%s/jwt.pem", tmpdir);
	f = fopen(pem_path, "wb");
	fwrite(pem, 1, pemlen, f);
	fclose(f);
	snprintf(db, sizeof db, "%s/k.db", tmpdir);
	open_at(db, pem_path);
}

static void jwt_teardown(void)
{
	r_jwk_free(jwt_priv);
	r_jwk_free(jwt_pub);
	r_jwk_free(other_priv);
	r_jwk_free(other_pub);
	teardown();
}

START_TEST(jwt_good_bad_none_expired)
{
	keysvc_principal p;
	unsigned ra;
	char *good = make_jwt(jwt_priv, "alice", 300);
	char *forged = make_jwt(other_priv, "alice", 300);
	char *expired = make_jwt(jwt_priv, "alice", -300);
	char *stranger = make_jwt(jwt_priv, "mallory", 300);
	/* {"alg":"none"}.{"sub":"alice","exp":4102444800}. */
	const char *none = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6NDEwMjQ0NDgwMH0.";

	ck_assert(keysvc_is_jwt(good));
	ck_assert(!keysvc_is_jwt(alice_key));
	ck_assert_int_eq(keysvc_authenticate_jwt(ks, good, "j", &p, &ra), KEYSVC_OK);
	ck_assert_int_eq(p.user_id, alice);
	ck_assert_int_eq(keysvc_authenticate_jwt(ks, forged, "j", &p, &ra), KEYSVC_REJECTED);
	ck_assert_int_eq(keysvc_authenticate_jwt(ks, expired, "j", &p, &ra), KEYSVC_REJECTED);
	ck_assert_int_eq(keysvc_authenticate_jwt(ks, stranger, "j", &p, &ra), KEYSVC_REJECTED);
	ck_assert_int_eq(keysvc_authenticate_jwt(ks, none, "j", &p, &ra), KEYSVC_REJECTED);
	r_free(good);
	r_free(forged);
	r_free(expired);
	r_free(stranger);
}
END_TEST

/* Reopens the key service on the fixture's database with key file
   key_path and the JWT rules of cfg (db_path and jwt_key_path filled here). */
static int jwt_reopen(keysvc_config cfg, const char *key_path, char *err, size_t errlen)
{
	char db[300];

	keysvc_close(ks);
	ks = NULL;
	snprintf(db, sizeof db, "%s/k.db", tmpdir);
	cfg.db_path = db;
	cfg.synchronous_full = 1;
	cfg.jwt_key_path = key_path;
	return keysvc_open(&cfg, &ks, err, errlen);
}

/* Expands a template: @P is port, @<signed number> is now + that number. */
static void jwt_expand(const char *tpl, time_t now, int port, char *out, size_t outlen)
{
	size_t n = 0;

	while (*tpl && n + 24 < outlen) {
		if (tpl[0] == '@' && tpl[1] == 'P') {
			n += (size_t)snprintf(out + n, outlen - n, "%d", port);
			tpl += 2;
		} else if (tpl[0] == '@') {
			char *end;
			long long d = strtoll(tpl + 1, &end, 10);
			n += (size_t)snprintf(out + n, outlen - n, "%lld", (long long)now + d);
			tpl = end;
		} else {
			out[n++] = *tpl++;
		}
	}
	ck_assert_msg(*tpl == '\0', "template too long");
	out[n] = '\0';
}

/* A compact JWS of this header and these claims, signed by key. */
static char *jwt_sign(jwk_t *key, const char *header, const char *claims)
{
	jws_t *jws = NULL;
	char *s;

	/* without a kid of its own: rhonabwy would put it in a header that has no string kid */
	key = r_jwk_copy(key);
	ck_assert_ptr_nonnull(key);
	r_jwk_delete_property_str(key, "kid");
	ck_assert_int_eq(r_jws_init(&jws), RHN_OK);
	ck_assert_msg(r_jws_set_full_header_json_str(jws, header) == RHN_OK, "header %s", header);
	ck_assert_int_eq(r_jws_set_payload(jws, (const unsigned char *)claims, strlen(claims)), RHN_OK);
	s = r_jws_serialize(jws, key, 0);
	r_jws_free(jws);
	r_jwk_free(key);
	ck_assert_msg(s != NULL, "cannot sign %s . %s", header, claims);
	return s;
}

/* A loopback listener nobody should ever connect to: its port. */
static int jwt_listener(int *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

#define JWT_ES "{\"alg\":\"ES256\"}"
#define JWT_IA "\"sub\":\"alice\",\"iss\":\"https://idp.test\",\"aud\":\"svc\""
#define JWT_OKC "{" JWT_IA ",\"iat\":@0,\"exp\":@600}"

/* Every header and claim rule, each row a correctly signed token that only
   the rule under test can refuse; no row may reach the network. */
START_TEST(jwt_header_and_claim_rules)
{
	static const struct { const char *header, *claims; int want, line; } t[] = {
		{ JWT_ES, JWT_OKC, KEYSVC_OK, __LINE__ },
		{ "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"unknown\"}", JWT_OKC, KEYSVC_OK, __LINE__ },
		/* keys named or carried by the token */
		{ "{\"alg\":\"ES256\",\"jku\":\"http://127.0.0.1:@P/jwks\"}", JWT_OKC, KEYSVC_REJECTED, __LINE__ },
		{ "{\"alg\":\"ES256\",\"jku\":\"https://127.0.0.1:@P/jwks\"}", JWT_OKC, KEYSVC_REJECTED, __LINE__ },
		{ "{\"alg\":\"ES256\",\"x5u\":\"http://127.0.0.1:@P/cert\"}", JWT_OKC, KEYSVC_REJECTED, __LINE__ },
		{ "{\"alg\":\"ES256\",\"x5u\":\"file:///dev/zero\"}", JWT_OKC, KEYSVC_REJECTED, __LINE__ },
		{ "{\"alg\":\"ES256\",\"x5c\":[\"MIIB\"]}", JWT_OKC, KEYSVC_REJECTED, __LINE__ },
		{ "{\"alg\":\"ES256\",\"jwk\":{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}}", JWT_OKC, KEYSVC_REJECTED, __LINE__ },
		/* other headers */
		{ "{\"alg\":\"ES256\",\"crit\":[\"exp\"],\"exp\":1}", JWT_OKC, KEYSVC_REJECTED, __LINE__ },
		{ "{\"alg\":\"ES256\",\"crit\":[]}", JWT_OKC, KEYSVC_REJECTED, __LINE__ },
		{ "{\"alg\":\"ES256\",\"zip\":\"DEF\"}", JWT_OKC, KEYSVC_REJECTED, __LINE__ },
		{ "{\"alg\":\"ES256\",\"cty\":\"jwt\"}", JWT_OKC, KEYSVC_REJECTED, __LINE__ },
		{ "{\"alg\":\"ES256\",\"enc\":\"A128GCM\"}", JWT_OKC, KEYSVC_REJECTED, __LINE__ },
		{ "{\"alg\":\"ES256\",\"kid\":5}", JWT_OKC, KEYSVC_REJECTED, __LINE__ },
		/* iss, aud */
		{ JWT_ES, "{\"sub\":\"alice\",\"aud\":\"svc\",\"iat\":@0,\"exp\":@600}", KEYSVC_REJECTED, __LINE__ },
		{ JWT_ES, "{\"sub\":\"alice\",\"iss\":\"https://idp.test/\",\"aud\":\"svc\",\"iat\":@0,\"exp\":@600}", KEYSVC_REJECTED, __LINE__ },
		{ JWT_ES, "{\"sub\":\"alice\",\"iss\":\"https://idp.test\",\"iat\":@0,\"exp\":@600}", KEYSVC_REJECTED, __LINE__ },
		{ JWT_ES, "{\"sub\":\"alice\",\"iss\":\"https://idp.test\",\"aud\":\"svc2\",\"iat\":@0,\"exp\":@600}", KEYSVC_REJECTED, __LINE__ },
		{ JWT_ES, "{\"sub\":\"alice\",\"iss\":\"https://idp.test\",\"aud\":[\"x\",\"svc\"],\"iat\":@0,\"exp\":@600}", KEYSVC_OK, __LINE__ },
		{ JWT_ES, "{\"sub\":\"alice\",\"iss\":\"https://idp.test\",\"aud\":[\"x\",\"y\"],\"iat\":@0,\"exp\":@600}", KEYSVC_REJECTED, __LINE__ },
		{ JWT_ES, "{\"sub\":\"alice\",\"iss\":\"https://idp.test\",\"aud\":[],\"iat\":@0,\"exp\":@600}", KEYSVC_REJECTED, __LINE__ },
		{ JWT_ES, "{\"sub\":\"alice\",\"iss\":\"https://idp.test\",\"aud\":[\"svc\",7],\"iat\":@0,\"exp\":@600}", KEYSVC_REJECTED, __LINE__ },
		/* lifetime (maximum 3600 s here), leeway (60 s here) */
		{ JWT_ES, "{" JWT_IA ",\"iat\":@0,\"exp\":@3600}", KEYSVC_OK, __LINE__ },
		{ JWT_ES, "{" JWT_IA ",\"iat\":@0,\"exp\":@3601}", KEYSVC_REJECTED, __LINE__ },
		{ JWT_ES, "{" JWT_IA ",\"exp\":@600}", KEYSVC_REJECTED, __LINE__ },
		{ JWT_ES, "{" JWT_IA ",\"iat\":@30,\"exp\":@600}", KEYSVC_OK, __LINE__ },
		{ JWT_ES, "{" JWT_IA ",\"iat\":@90,\"exp\":@600}", KEYSVC_REJECTED, __LINE__ },
		{ JWT_ES, "{" JWT_IA ",\"iat\":@-600,\"exp\":@-30}", KEYSVC_OK, __LINE__ },
		{ JWT_ES, "{" JWT_IA ",\"iat\":@-600,\"exp\":@-90}", KEYSVC_REJECTED, __LINE__ },
		{ JWT_ES, "{" JWT_IA ",\"iat\":@0,\"exp\":@-10}", KEYSVC_REJECTED, __LINE__ },
		{ JWT_ES, "{" JWT_IA ",\"iat\":@0,\"exp\":@600,\"nbf\":@30}", KEYSVC_OK, __LINE__ },
		{ JWT_ES, "{" JWT_IA ",\"iat\":@0,\"exp\":@600,\"nbf\":@90}", KEYSVC_REJECTED, __LINE__ },
		/* types and ranges */
		{ JWT_ES, "{" JWT_IA ",\"iat\":@0,\"exp\":\"@600\"}", KEYSVC_REJECTED, __LINE__ },
		{ JWT_ES, "{" JWT_IA ",\"iat\":@0,\"exp\":@600.0}", KEYSVC_REJECTED, __LINE__ },
		{ JWT_ES, "{" JWT_IA ",\"iat\":@0,\"exp\":1e300}", KEYSVC_REJECTED, __LINE__ },
		{ JWT_ES, "{" JWT_IA ",\"iat\":@0,\"exp\":-1}", KEYSVC_REJECTED, __LINE__ },
		{ JWT_ES, "{" JWT_IA ",\"iat\":@0,\"exp\":253402300800}", KEYSVC_REJECTED, __LINE__ },
		{ JWT_ES, "{" JWT_IA ",\"iat\":@0,\"exp\":@600,\"nbf\":\"@0\"}", KEYSVC_REJECTED, __LINE__ },
		{ JWT_ES, "{" JWT_IA ",\"iat\":@0,\"exp\":@600,\"nbf\":-1}", KEYSVC_REJECTED, __LINE__ },
		{ JWT_ES, "{" JWT_IA ",\"iat\":true,\"exp\":@600}", KEYSVC_REJECTED, __LINE__ },
		{ JWT_ES, "{" JWT_IA ",\"iat\":-5,\"exp\":@600}", KEYSVC_REJECTED, __LINE__ },
		{ JWT_ES, "{\"sub\":7,\"iss\":\"https://idp.test\",\"aud\":\"svc\",\"iat\":@0,\"exp\":@600}", KEYSVC_REJECTED, __LINE__ },
		{ JWT_ES, "{\"sub\":\"mallory\",\"iss\":\"https://idp.test\",\"aud\":\"svc\",\"iat\":@0,\"exp\":@600}", KEYSVC_REJECTED, __LINE__ },
		{ JWT_ES, "[\"alice\"]", KEYSVC_REJECTED, __LINE__ },
	};
	keysvc_config cfg = { .jwt_issuer = "https://idp.test", .jwt_audience = "svc",
	                      .jwt_max_lifetime = 3600, .jwt_leeway = 60 };
	char key_path[300], err[300] = "", header[512], claims[1024], client[32];
	int port, lfd = jwt_listener(&port);

	snprintf(key_path, sizeof key_path, "%s/jwt.pem", tmpdir);
	ck_assert_msg(jwt_reopen(cfg, key_path, err, sizeof err) == 0, "%s", err);
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		keysvc_principal p;
		unsigned ra = 0;
		time_t now = time(NULL);
		char *tok;
		int rc;

		jwt_expand(t[i].header, now, port, header, sizeof header);
		jwt_expand(t[i].claims, now, port, claims, sizeof claims);
		tok = jwt_sign(jwt_priv, header, claims);
		snprintf(client, sizeof client, "row %d", t[i].line);   /* under the failure limit */
		rc = keysvc_authenticate_jwt(ks, tok, client, &p, &ra);
		ck_assert_msg(rc == t[i].want, "line %d: %s . %s: %s, want %s", t[i].line, header, claims,
		              keysvc_strerror(rc), keysvc_strerror(t[i].want));
		if (rc == KEYSVC_OK)
			ck_assert_int_eq(p.user_id, alice);
		ck_assert_msg(accept(lfd, NULL, NULL) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK),
		              "line %d: the key service connected to the listener", t[i].line);
		r_free(tok);
	}
	close(lfd);
}
END_TEST

/* The bound on a token's length: a valid token near it passes, one past
   it is refused before anything else. */
START_TEST(jwt_length_bound)
{
	keysvc_config cfg = { .jwt_max_lifetime = 3600, .jwt_leeway = 60 };
	char key_path[300], err[300] = "", *claims = malloc(8192), *tok;
	keysvc_principal p;
	unsigned ra;
	time_t now = time(NULL);

	snprintf(key_path, sizeof key_path, "%s/jwt.pem", tmpdir);
	ck_assert_msg(jwt_reopen(cfg, key_path, err, sizeof err) == 0, "%s", err);
	for (int pad = 5000; pad <= 7000; pad += 2000) {
		int n = snprintf(claims, 8192, "{\"sub\":\"alice\",\"iat\":%lld,\"exp\":%lld,\"pad\":\"",
		                 (long long)now, (long long)now + 600);
		memset(claims + n, 'a', (size_t)pad);
		strcpy(claims + n + pad, "\"}");
		tok = jwt_sign(jwt_priv, JWT_ES, claims);
		ck_assert_int_eq(keysvc_authenticate_jwt(ks, tok, pad == 5000 ? "short" : "long", &p, &ra),
		                 strlen(tok) <= KEYSVC_JWT_MAX_LEN ? KEYSVC_OK : KEYSVC_REJECTED);
		ck_assert(pad == 5000 ? strlen(tok) <= KEYSVC_JWT_MAX_LEN : strlen(tok) > KEYSVC_JWT_MAX_LEN);
		r_free(tok);
	}
	free(claims);
}
END_TEST

/* A JWKS: the kid's key alone when the token names one we have; a key's
   own alg pins it; keys that cannot verify stop the start. */
START_TEST(jwt_jwks_kid_alg_and_bad_keys)
{
	static const struct { const char *extra, *err_has; } bad[] = {
		{ ",\"alg\":\"RS256\"", "alg" },     /* an RSA alg on an EC key */
		{ ",\"alg\":\"none\"", "alg" },
		{ ",\"use\":\"enc\"", "use" },
	};
	keysvc_config cfg = { .jwt_leeway = 60 };
	char path[300], err[300] = "", claims[200], *pub = r_jwk_export_to_json_str(jwt_pub, 0);
	char *otherpub = r_jwk_export_to_json_str(other_pub, 0), *tok;
	keysvc_principal p;
	unsigned ra;
	FILE *f;
	time_t now = time(NULL);

	ck_assert_ptr_nonnull(pub);
	ck_assert_ptr_nonnull(otherpub);
	pub[strlen(pub) - 1] = '\0';          /* drop the closing brace: members follow */
	otherpub[strlen(otherpub) - 1] = '\0';
	snprintf(path, sizeof path, "%s/jwks.json", tmpdir);
	snprintf(claims, sizeof claims, "{\"sub\":\"alice\",\"iat\":%lld,\"exp\":%lld}", (long long)now, (long long)now + 600);

	f = fopen(path, "w");
	fprintf(f, "{\"keys\":[%s,\"kid\":\"a\",\"alg\":\"ES256\",\"use\":\"sig\"},%s,\"kid\":\"b\"}]}", otherpub, pub);
	fclose(f);
	ck_assert_msg(jwt_reopen(cfg, path, err, sizeof err) == 0, "%s", err);
	tok = jwt_sign(jwt_priv, "{\"alg\":\"ES256\",\"kid\":\"b\"}", claims);
	ck_assert_int_eq(keysvc_authenticate_jwt(ks, tok, "kid b", &p, &ra), KEYSVC_OK);
	r_free(tok);
	tok = jwt_sign(jwt_priv, "{\"alg\":\"ES256\",\"kid\":\"a\"}", claims);   /* a names the other key */
	ck_assert_int_eq(keysvc_authenticate_jwt(ks, tok, "kid a", &p, &ra), KEYSVC_REJECTED);
	r_free(tok);
	tok = jwt_sign(jwt_priv, "{\"alg\":\"ES256\",\"kid\":\"z\"}", claims);   /* no such kid: any key */
	ck_assert_int_eq(keysvc_authenticate_jwt(ks, tok, "kid z", &p, &ra), KEYSVC_OK);
	r_free(tok);
	tok = jwt_sign(jwt_priv, JWT_ES, claims);
	ck_assert_int_eq(keysvc_authenticate_jwt(ks, tok, "no kid", &p, &ra), KEYSVC_OK);
	r_free(tok);

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		f = fopen(path, "w");
		fprintf(f, "{\"keys\":[%s%s}]}", pub, bad[i].extra);
		fclose(f);
		err[0] = '\0';
		ck_assert_msg(jwt_reopen(cfg, path, err, sizeof err) != 0, "a key with %s was taken", bad[i].extra);
		ck_assert_msg(strstr(err, bad[i].err_has) != NULL, "%s: \"%s\"", bad[i].extra, err);
	}
	f = fopen(path, "w");
	fprintf(f, "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x5u\":\"https://127.0.0.1:9/k.pem\"}]}");
	fclose(f);
	ck_assert_msg(jwt_reopen(cfg, path, err, sizeof err) != 0, "a key known only by its x5u was taken");
	r_free(pub);
	r_free(otherpub);
}
END_TEST


/* ---- the rate limiter: who counts as one client, and blocks that stay ---- */

static int rl_blocked(ratelimit *r, const char *addr, time_t now)
{
	unsigned ra = 0;
	int b = ratelimit_blocked(r, addr, now, &ra);

	if (b)
		ck_assert(ra >= 1 && ra <= 60);
	return b;
}

static void rl_fail(ratelimit *r, const char *addr, time_t now, int times)
{
	for (int i = 0; i < times; i++)
		ratelimit_fail(r, addr, now);
}

START_TEST(ratelimit_clients)
{
	/* addresses that fail, address probed, blocked? */
	static const struct { const char *fail, *probe; int blocked, line; } t[] = {
		{ "192.0.2.1", "192.0.2.1", 1, __LINE__ },
		{ "192.0.2.1", "192.0.2.2", 0, __LINE__ },
		{ "192.0.2.1", "::ffff:192.0.2.1", 1, __LINE__ },      /* mapped IPv4 is the IPv4 */
		{ "2001:db8:1:2::1", "2001:db8:1:2:ffff::9", 1, __LINE__ }, /* one /64 */
		{ "2001:db8:1:2::1", "2001:db8:1:3::1", 0, __LINE__ },   /* another /64 */
		{ "::1", "127.0.0.1", 0, __LINE__ },
		{ "not an address", "not an address", 1, __LINE__ },
		{ "not an address", "not an addresS", 0, __LINE__ },
	};
	time_t now = 1000000;

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		ratelimit *r = NULL;
		ck_assert_int_eq(ratelimit_new(10, 60, &r), 0);
		rl_fail(r, t[i].fail, now, 9);
		ck_assert_msg(!rl_blocked(r, t[i].fail, now), "line %d: blocked after 9", t[i].line);
		ratelimit_fail(r, t[i].fail, now);
		ck_assert_msg(rl_blocked(r, t[i].probe, now) == t[i].blocked, "line %d", t[i].line);
		ratelimit_free(r);
	}
}
END_TEST

START_TEST(ratelimit_window)
{
	ratelimit *r = NULL;
	time_t now = 1000000;
	unsigned ra = 0;

	ck_assert_int_eq(ratelimit_new(3, 60, &r), 0);
	rl_fail(r, "198.51.100.7", now, 2);
	rl_fail(r, "198.51.100.7", now + 61, 2);            /* the first two aged out */
	ck_assert(!rl_blocked(r, "198.51.100.7", now + 61));
	ratelimit_fail(r, "198.51.100.7", now + 62);
	ck_assert(ratelimit_blocked(r, "198.51.100.7", now + 62, &ra));
	ck_assert_uint_eq(ra, 60);
	ck_assert(rl_blocked(r, "198.51.100.7", now + 121));
	ck_assert(!rl_blocked(r, "198.51.100.7", now + 122));  /* the block ends */
	ratelimit_free(r);
}
END_TEST

/* A blocked client stays blocked however many other addresses fail after
   it: with one slot per hash, a colliding address used to take the slot
   over and lift the block. */
START_TEST(ratelimit_block_not_evicted)
{
	ratelimit *r = NULL;
	time_t now = 1000000;
	char a[64];

	ck_assert_int_eq(ratelimit_new(2, 60, &r), 0);
	rl_fail(r, "203.0.113.5", now, 2);
	ck_assert(rl_blocked(r, "203.0.113.5", now));
	for (int i = 0; i < 20000; i++) {
		snprintf(a, sizeof a, "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
		ratelimit_fail(r, a, now);
	}
	for (int i = 0; i < 20000; i++) {
		snprintf(a, sizeof a, "2001:db8:%x::1", i);
		rl_fail(r, a, now + 1, 2);
	}
	ck_assert(rl_blocked(r, "203.0.113.5", now + 1));
	ratelimit_free(r);
}
END_TEST

/* Saturation never stops counting: once blocked clients fill every way of
   the table, a fresh client's failures fall back to a shared bucket of its
   /16 (IPv4) or /32 (IPv6) and are still blocked within the limit. At the
   real size, with the existing calls. */
START_TEST(ratelimit_saturated_still_blocks)
{
	ratelimit *r = NULL;
	time_t now = 1000000;
	char a[64];
	int never = 0, late = 0;

	ck_assert_int_eq(ratelimit_new(10, 60, &r), 0);
	for (int i = 0; i < 10000; i++) {
		snprintf(a, sizeof a, "10.1.%d.%d", i >> 8 & 255, i & 255);
		rl_fail(r, a, now, 10);
	}
	for (int i = 0; i < 10000; i++) {
		snprintf(a, sizeof a, "2001:db8:%x:%x::1", i >> 8, i & 255);
		rl_fail(r, a, now, 10);
	}
	for (int i = 0; i < 500; i++) {
		int at = 0;
		snprintf(a, sizeof a, i & 1 ? "10.2.%d.%d" : "2001:db9:0:%x%02x::5", i >> 8 & 255, i & 255);
		for (int k = 1; k <= 11 && !at; k++) {
			if (rl_blocked(r, a, now + 1))
				at = k;
			else
				ratelimit_fail(r, a, now + 1);
		}
		never += !at;
		late += at > 11;
	}
	ck_assert_msg(never == 0, "%d of 500 fresh clients never blocked in 11 failures", never);
	ck_assert_int_eq(late, 0);
	ratelimit_free(r);
}
END_TEST

/* A small table (one set of 8 ways): a new client evicts the unblocked way
   whose window started first, never a block; once all 8 are blocked, the
   next client is counted in its /16's shared bucket and blocked within the
   limit, and valid blocks keep their end. */
START_TEST(ratelimit_small_table)
{
	ratelimit *r = NULL;
	time_t now = 1000000;
	char a[64];

	ck_assert_int_eq(ratelimit_new_sized(3, 60, 8, &r), 0);
	for (int i = 0; i < 6; i++) {
		snprintf(a, sizeof a, "192.0.2.%d", i);
		rl_fail(r, a, now, 3);
	}
	rl_fail(r, "198.51.100.1", now, 2);       /* way 7, oldest unblocked */
	rl_fail(r, "198.51.100.2", now + 1, 2);   /* way 8 */
	rl_fail(r, "198.51.100.3", now + 2, 1);   /* evicts .1, not a block */
	rl_fail(r, "198.51.100.2", now + 2, 1);   /* .2 kept its count: blocked */
	ck_assert(rl_blocked(r, "198.51.100.2", now + 2));
	rl_fail(r, "198.51.100.1", now + 2, 2);   /* .1 starts over (evicts .3): 2 of 3 */
	ck_assert(!rl_blocked(r, "198.51.100.1", now + 2));
	rl_fail(r, "198.51.100.1", now + 2, 1);
	ck_assert(rl_blocked(r, "198.51.100.1", now + 2));
	for (int i = 0; i < 6; i++) {
		snprintf(a, sizeof a, "192.0.2.%d", i);
		ck_assert(rl_blocked(r, a, now + 2));
	}
	/* every way blocked: 203.0.113.x share their /16's bucket */
	for (int i = 0; i < 3; i++) {
		snprintf(a, sizeof a, "203.0.113.%d", i);
		ck_assert(!rl_blocked(r, a, now + 3));
		ratelimit_fail(r, a, now + 3);
	}
	ck_assert(rl_blocked(r, "203.0.113.77", now + 3));
	ck_assert(rl_blocked(r, "203.0.200.1", now + 3));
	ratelimit_free(r);
}
END_TEST

/* ---- the HMAC keyring ---- */

static int64_t secret_keys(int64_t id)
{
	keysvc_secret_info *v = NULL;
	size_t n = 0;
	int64_t keys = -1;

	ck_assert_int_eq(keysvc_secret_list(ks, &v, &n), KEYSVC_OK);
	for (size_t i = 0; i < n; i++)
		if (v[i].id == id)
			keys = v[i].keys;
	free(v);
	return keys;
}

/* A rotation: new keys use the new secret, keys made with the old one
   authenticate and move to the new one at that use; retire is refused
   while a key needs the secret, for the current one and an unknown id. */
START_TEST(keyring_rotation_rehash)
{
	char t[TOKEN_MAX], t2[TOKEN_MAX];
	keysvc_principal p;
	keysvc_key k;
	unsigned ra = 0;
	int64_t id = 0, still = 0;

	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_HERON, "before", NULL, NULL, "c", &k, t, sizeof t), KEYSVC_OK);
	ck_assert_int_eq(k.secret_id, 1);
	ck_assert_int_eq(secret_keys(1), 3);
	ck_assert_int_eq(keysvc_secret_rotate(ks, &id), KEYSVC_OK);
	ck_assert_int_eq(id, 2);
	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_HERON, "after", NULL, NULL, "c", &k, t2, sizeof t2), KEYSVC_OK);
	ck_assert_int_eq(k.secret_id, 2);
	ck_assert_int_eq(secret_keys(2), 1);
	ck_assert_int_eq(keysvc_authenticate(ks, t, "10.0.0.1", &p, &ra), KEYSVC_OK);   /* secret 1, moved */
	ck_assert_int_eq(secret_keys(1), 2);
	ck_assert_int_eq(secret_keys(2), 2);
	ck_assert_int_eq(keysvc_authenticate(ks, t, "10.0.0.1", &p, &ra), KEYSVC_OK);
	ck_assert_int_eq(keysvc_authenticate(ks, t2, "10.0.0.1", &p, &ra), KEYSVC_OK);
	ck_assert_int_eq(keysvc_secret_retire(ks, 1, &still), KEYSVC_SECRET_IN_USE);
	ck_assert_int_eq(still, 2);   /* alice's and bob's first keys */
	ck_assert_int_eq(keysvc_secret_retire(ks, 2, &still), KEYSVC_SECRET_CURRENT);
	ck_assert_int_eq(keysvc_secret_retire(ks, 7, &still), KEYSVC_NO_SECRET);
	ck_assert_int_eq(keysvc_authenticate(ks, alice_key, "10.0.0.1", &p, &ra), KEYSVC_OK);
	ck_assert_int_eq(keysvc_authenticate(ks, bob_first, "10.0.0.1", &p, &ra), KEYSVC_OK);
	ck_assert_int_eq(secret_keys(1), 0);
	/* secret 2 became current a moment ago: a create may still use secret 1 */
	ck_assert_int_eq(keysvc_secret_retire(ks, 1, &still), KEYSVC_SECRET_IN_USE);
	ck_assert_int_eq(still, 0);
}
END_TEST

/* store_changed tells another process's writes from this one's: while this
   process writes as fast as it can, readers polling store_changed (as every
   authentication does) never see a change of their own (a reader that read
   the epoch between the writer's COMMIT and its recording the epoch took it
   for another process's: bench-perf (e), 50 creates and revokes a second,
   emptied the caches on about half of them); a write through a second
   store on the same file is seen. */
typedef struct changed_poll {
	store *st;
	atomic_int *done;
	long seen;
} changed_poll;

static void *changed_poller(void *arg)
{
	changed_poll *cp = arg;

	while (!atomic_load(cp->done))
		cp->seen += store_changed(cp->st);
	cp->seen += store_changed(cp->st);
	return NULL;
}

START_TEST(store_changed_not_by_own_writes)
{
	char t[TOKEN_MAX], db[300], err[300];
	keysvc_key k;
	store *st = keysvc_store(ks), *other;
	atomic_int done = 0;
	changed_poll cp[3];
	pthread_t th[3];
	long seen = 0;

	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_FASTAPI, "flip", NULL, NULL, "c", &k, t, sizeof t), KEYSVC_OK);
	while (store_changed(st))
		;
	for (int i = 0; i < 3; i++) {
		cp[i] = (changed_poll){ .st = st, .done = &done };
		ck_assert_int_eq(pthread_create(&th[i], NULL, changed_poller, &cp[i]), 0);
	}
	for (int i = 0; i < 400; i++)
		ck_assert_int_eq(store_key_set_active(st, k.id, i % 2, alice, "c"), STORE_OK);
	atomic_store(&done, 1);
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		seen += cp[i].seen;
	}
	ck_assert_msg(seen == 0, "%ld of 400 own writes were taken for another process's", seen);
	/* another store on the file: its write is seen */
	snprintf(db, sizeof db, "%s/k.db", tmpdir);
	ck_assert_msg(store_open(&(store_config){ .path = db, .synchronous_full = 1, .group_commit = 1 }, &other, err,
	                         sizeof err) == STORE_OK, "%s", err);
	ck_assert_int_eq(store_key_set_active(other, k.id, 1, alice, "c"), STORE_OK);
	ck_assert_int_eq(store_changed(st), 1);
	ck_assert_int_eq(store_changed(st), 0);
	store_close(other);
}
END_TEST

/* The handlers' date-time text (every created and last_used of every list
   row) is gmtime_r's, from 1970 to the end of 9999: the edges, leap days
   (2000, not 2100), and 200,000 random times; outside, nothing written. */
START_TEST(app_time_format_is_gmtime)
{
	static const int64_t edges[] = { 0, 1, 59, 86399, 86400, 951782399, 951782400, 951868800, 1709164800,
	                                 4107456000, 4107542400, 1767225599, 1767225600, INT64_C(253402300799) };
	char ours[APP_TIME_LEN + 1], libc[64];
	uint64_t x = 88172645463325252ull;

	for (size_t i = 0; i < sizeof edges / sizeof edges[0] + 200000; i++) {
		int64_t t;
		time_t tt;
		struct tm tm;
		if (i < sizeof edges / sizeof edges[0]) {
			t = edges[i];
		} else {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			t = (int64_t)(x % (UINT64_C(253402300799) + 1));
		}
		tt = (time_t)t;
		ck_assert_ptr_nonnull(gmtime_r(&tt, &tm));
		strftime(libc, sizeof libc, "%Y-%m-%dT%H:%M:%SZ", &tm);
		ck_assert_uint_eq(app_time_format(t, ours), APP_TIME_LEN);
		ck_assert_msg(strcmp(ours, libc) == 0, "%lld: %s, gmtime_r %s", (long long)t, ours, libc);
	}
	memcpy(ours, "untouched", 10);
	ck_assert_uint_eq(app_time_format(-1, ours), 0);
	ck_assert_uint_eq(app_time_format(INT64_C(253402300800), ours), 0);
	ck_assert_str_eq(ours, "untouched");
}
END_TEST

/* Another process's write whose epoch cannot be read (its row gone: what a
   failing read looks like from here) never passes for "nothing changed",
   then or on the next call, though the WAL index header has stopped
   moving: the caches are forgotten and the key it removed is refused; once
   the epoch reads again, the store settles. */
START_TEST(other_writer_unreadable_epoch)
{
	char db[300];
	sqlite3 *raw = NULL;
	keysvc_principal p;
	unsigned ra;
	store *st = keysvc_store(ks);

	ck_assert_int_eq(keysvc_authenticate(ks, alice_key, "10.1.0.1", &p, &ra), KEYSVC_OK);
	ck_assert_int_eq(keysvc_authenticate(ks, alice_key, "10.1.0.1", &p, &ra), KEYSVC_OK);   /* cached */
	while (store_changed(st))
		;
	snprintf(db, sizeof db, "%s/k.db", tmpdir);
	ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(raw, "BEGIN; DELETE FROM keys WHERE user_id = (SELECT id FROM users WHERE name = 'alice');"
	                           " DELETE FROM meta WHERE name = 'epoch'; COMMIT", NULL, NULL, NULL) == SQLITE_OK,
	              "%s", sqlite3_errmsg(raw));
	ck_assert_msg(keysvc_authenticate(ks, alice_key, "10.1.0.2", &p, &ra) != KEYSVC_OK,
	              "a key another process deleted, its epoch unreadable, still authenticates from the cache");
	ck_assert_msg(store_changed(st) == 1, "an unreadable epoch passed for no change on the next call");
	ck_assert_int_eq(sqlite3_exec(raw, "INSERT INTO meta(name, value) VALUES ('epoch', 1000000)", NULL, NULL, NULL),
	                 SQLITE_OK);
	ck_assert_int_eq(store_changed(st), 1);
	ck_assert_int_eq(store_changed(st), 0);
	sqlite3_close(raw);
}
END_TEST

/* What the store holds for a key is HMAC-SHA-256(secret, token) as RFC 2104
   defines it (gnutls's one-shot HMAC here), under the current secret, before
   and after a rotation: the service's pre-keyed HMAC must give the very hash
   earlier builds stored, or every existing key would stop authenticating. */
static int stored_under(const char *token, int64_t secret_id)
{
	char path[300], err[600];
	keyring ring;
	unsigned char h[STORE_HASH_LEN], stored[STORE_HASH_LEN];
	store_key k;
	const keyring_secret *sec;
	int rc;

	snprintf(path, sizeof path, "%s/apikeyd.secret", tmpdir);
	ck_assert_msg(keyring_load(path, &ring, err, sizeof err) == 0, "%s", err);
	sec = keyring_find(&ring, secret_id);
	ck_assert_ptr_nonnull(sec);
	ck_assert_int_eq(gnutls_hmac_fast(GNUTLS_MAC_SHA256, sec->key, sizeof sec->key, token, strlen(token), h), 0);
	rc = store_key_by_hash(keysvc_store(ks), h, &k, stored);
	keyring_wipe(&ring);
	return rc == STORE_OK && memcmp(h, stored, sizeof h) == 0;
}

START_TEST(stored_hash_is_hmac_sha256)
{
	char t[TOKEN_MAX], t2[TOKEN_MAX];
	keysvc_key k;
	keysvc_principal p;
	unsigned ra = 0;
	int64_t id = 0;

	ck_assert(stored_under(alice_key, 1));
	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_FASTAPI, "h", NULL, NULL, "c", &k, t, sizeof t), KEYSVC_OK);
	ck_assert(stored_under(t, 1));
	ck_assert_int_eq(keysvc_secret_rotate(ks, &id), KEYSVC_OK);
	ck_assert_int_eq(keysvc_create(ks, AS(alice), KEYSVC_FASTAPI, "h2", NULL, NULL, "c", &k, t2, sizeof t2), KEYSVC_OK);
	ck_assert_int_eq(k.secret_id, 2);
	ck_assert(stored_under(t2, 2));
	/* a key of secret 1 is moved to secret 2 at its first use */
	ck_assert_int_eq(keysvc_authenticate(ks, t, "10.0.0.1", &p, &ra), KEYSVC_OK);
	ck_assert(stored_under(t, 2));
	ck_assert(!stored_under(t, 1));
}
END_TEST

/* The file: 32 bytes is secret 1; the text format round-trips (0600);
   a bad line, a mode readable by others, ids out of order are refused. */
START_TEST(keyring_file_format)
{
	char path[300], err[600];
	keyring a, b;
	FILE *f;
	struct stat sb;

	snprintf(path, sizeof path, "%s/apikeyd.secret", tmpdir);
	ck_assert_int_eq(keyring_load(path, &a, err, sizeof err), 0);
	ck_assert(a.legacy);
	ck_assert_uint_eq(a.n, 1);
	ck_assert_int_eq(a.s[0].id, 1);
	ck_assert_int_eq(keyring_add(&a, 1000, err, sizeof err), 0);
	ck_assert_int_eq(keyring_current(&a)->id, 2);
	snprintf(path, sizeof path, "%s/ring", tmpdir);
	ck_assert_int_eq(keyring_save(path, &a, err, sizeof err), 0);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	ck_assert_int_eq(keyring_load(path, &b, err, sizeof err), 0);
	ck_assert_uint_eq(b.n, 2);
	ck_assert_int_eq(b.s[1].added, 1000);
	ck_assert(memcmp(a.s, b.s, 2 * sizeof a.s[0]) == 0);
	ck_assert_int_eq(keyring_remove(&b, 1), 0);
	ck_assert_int_eq(keyring_remove(&b, 1), -1);
	ck_assert_int_eq(keyring_current(&b)->id, 2);
	f = fopen(path, "a");
	fputs("3 zz 5\n", f);
	fclose(f);
	ck_assert_int_eq(keyring_load(path, &b, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "ring:4: expected") != NULL, "%s", err);
	f = fopen(path, "w");
	fprintf(f, "%s\n2 %064d 1\n1 %064d 1\n", KEYRING_MAGIC, 0, 0);
	fclose(f);
	ck_assert_int_eq(keyring_load(path, &b, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "must increase") != NULL, "%s", err);
	chmod(path, 0644);
	ck_assert_int_eq(keyring_load(path, &b, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "chmod 600") != NULL, "%s", err);
	snprintf(path, sizeof path, "%s/none", tmpdir);
	ck_assert_int_eq(keyring_load(path, &b, err, sizeof err), 1);
	keyring_wipe(&a);
	keyring_wipe(&b);
}
END_TEST

/* A keyring whose rotated secret is not the one the store checked: the
   key service refuses to open, naming the secret. */
START_TEST(keyring_mismatch_refused)
{
	char path[300], db[300], err[600] = "";
	keysvc_config cfg = { .synchronous_full = 1 };
	keyring r;
	int64_t id = 0;

	ck_assert_int_eq(keysvc_secret_rotate(ks, &id), KEYSVC_OK);
	keysvc_close(ks);
	ks = NULL;
	snprintf(path, sizeof path, "%s/apikeyd.secret", tmpdir);
	ck_assert_int_eq(keyring_load(path, &r, err, sizeof err), 0);
	r.s[1].key[0] ^= 1;
	ck_assert_int_eq(keyring_save(path, &r, err, sizeof err), 0);
	snprintf(db, sizeof db, "%s/k.db", tmpdir);
	cfg.db_path = db;
	ck_assert_int_eq(keysvc_open(&cfg, &ks, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "secret 2 is not the one") != NULL, "%s", err);
	r.s[1].key[0] ^= 1;
	ck_assert_int_eq(keyring_save(path, &r, err, sizeof err), 0);
	open_at(db, NULL);
	keyring_wipe(&r);
}
END_TEST

/* ---- the apikeyd API's attributes (issue 13) ---- */

START_TEST(keylimit_fixed_windows)
{
	keylimit *l = NULL;
	int64_t left, reset;

	ck_assert_int_eq(keylimit_new(0, &l), 0);
	ck_assert_int_eq(keylimit_take(l, 7, 2, 10, 101, &left, &reset), 1);
	ck_assert_int_eq(left, 1);
	ck_assert_int_eq(reset, 110);
	ck_assert_int_eq(keylimit_take(l, 7, 2, 10, 105, &left, &reset), 1);
	ck_assert_int_eq(keylimit_take(l, 7, 2, 10, 109, &left, &reset), 0);   /* over: not counted */
	ck_assert_int_eq(left, 0);
	ck_assert_int_eq(keylimit_take(l, 8, 2, 10, 109, &left, &reset), 1);   /* another key counts apart */
	ck_assert_int_eq(keylimit_take(l, 7, 2, 10, 110, &left, &reset), 1);   /* the next window */
	ck_assert_int_eq(reset, 120);
	ck_assert_int_eq(keylimit_take(l, 7, 2, 10, 111, &left, &reset), 1);
	ck_assert_int_eq(keylimit_take(l, 7, 2, 10, 112, &left, &reset), 0);
	keylimit_forget(l, 7);
	ck_assert_int_eq(keylimit_take(l, 7, 2, 10, 112, &left, &reset), 1);
	keylimit_free(l);
}
END_TEST

static keysvc_key *attrs_new(const char *name, const char *scopes)
{
	keysvc_key *k = calloc(1, sizeof *k);

	ck_assert_ptr_nonnull(k);
	snprintf(k->name, sizeof k->name, "%s", name);
	snprintf(k->scopes, sizeof k->scopes, "%s", scopes);
	k->active = 1;
	return k;
}

START_TEST(key_attributes_rules_and_reopen)
{
	keysvc_key *in = attrs_new("acme", "orders:read orders:write"), *out = calloc(1, sizeof *out), *got = calloc(1, sizeof *got);
	char t[TOKEN_MAX], t2[TOKEN_MAX], db[300];
	keysvc_principal p;
	unsigned ra;

	snprintf(in->owner, sizeof in->owner, "customer-42");
	snprintf(in->meta, sizeof in->meta, "{\"plan\":\"pro\"}");
	in->expires_at = 4000000000;
	in->has_remaining = 1;
	in->remaining = 7;
	in->rl_limit = 5;
	in->rl_window = 60;
	ck_assert_int_eq(keysvc_key_create(ks, AS(alice), in, "t", out, t, sizeof t), KEYSVC_OK);
	ck_assert_int_eq(strncmp(t, "apk_", 4), 0);
	ck_assert_str_eq(out->role, "none");   /* no keys: scope: no rights on the vendor families */
	keysvc_close(ks);
	snprintf(db, sizeof db, "%s/k.db", tmpdir);
	open_at(db, NULL);
	ck_assert_int_eq(keysvc_get_uuid(ks, alice, KEYSVC_APIKEYD, out->uuid, got), KEYSVC_OK);
	ck_assert_str_eq(got->owner, "customer-42");
	ck_assert_str_eq(got->scopes, "orders:read orders:write");
	ck_assert_str_eq(got->meta, "{\"plan\":\"pro\"}");
	ck_assert_int_eq(got->expires_at, 4000000000);
	ck_assert_int_eq(got->has_remaining, 1);
	ck_assert_int_eq(got->remaining, 7);
	ck_assert_int_eq(got->rl_limit, 5);
	ck_assert_int_eq(got->rl_window, 60);
	/* the key authenticates, with no rights to mint */
	ck_assert_int_eq(keysvc_authenticate(ks, t, "10.9.0.1", &p, &ra), KEYSVC_OK);
	ck_assert_int_eq(keysvc_scope_check(ks, &p, KEYSVC_SCOPE_READ), KEYSVC_FORBIDDEN);
	ck_assert_int_eq(keysvc_key_create(ks, &p, in, "t", out, t2, sizeof t2), KEYSVC_FORBIDDEN);
	/* bounds */
	static const char *const bad_scopes[] = { "keys:admin", "a a", "a ", " a", "a  b", "x\ty", "",
	                                          "12345678901234567890123456789012345678901234567890123456789012345" };
	for (size_t i = 0; i < sizeof bad_scopes / sizeof bad_scopes[0]; i++) {
		keysvc_key *b = attrs_new("b", bad_scopes[i]);
		int want = bad_scopes[i][0] ? KEYSVC_INVALID : KEYSVC_OK;
		ck_assert_msg(keysvc_key_create(ks, AS(alice), b, "t", out, t2, sizeof t2) == want, "scopes \"%s\"", bad_scopes[i]);
		free(b);
	}
	snprintf(in->meta, sizeof in->meta, "[1]");
	ck_assert_int_eq(keysvc_key_create(ks, AS(alice), in, "t", out, t2, sizeof t2), KEYSVC_INVALID);
	memset(in->meta, 0, sizeof in->meta);
	in->meta[0] = '{';
	in->meta[1] = '"';
	memset(in->meta + 2, 'm', KEYSVC_META_MAX - 5);
	strcat(in->meta, "\":1}");   /* 1025 bytes of a valid object */
	ck_assert_int_eq(keysvc_key_create(ks, AS(alice), in, "t", out, t2, sizeof t2), KEYSVC_INVALID);
	snprintf(in->meta, sizeof in->meta, "{}");
	in->rl_window = 0;
	ck_assert_int_eq(keysvc_key_create(ks, AS(alice), in, "t", out, t2, sizeof t2), KEYSVC_INVALID);
	free(in);
	free(out);
	free(got);
}
END_TEST

START_TEST(key_scopes_are_rights)
{
	keysvc_key *w = attrs_new("w", "keys:write"), *v = attrs_new("v", "keys:verify"), *out = calloc(1, sizeof *out);
	char tw[TOKEN_MAX], tv[TOKEN_MAX], t[TOKEN_MAX];
	keysvc_principal pw, pv;
	keysvc_verdict *vd = malloc(sizeof *vd);
	unsigned ra;

	ck_assert_int_eq(keysvc_key_create(ks, AS(alice), w, "t", out, tw, sizeof tw), KEYSVC_OK);
	ck_assert_str_eq(out->role, "write");
	ck_assert_int_eq(keysvc_key_create(ks, AS(alice), v, "t", out, tv, sizeof tv), KEYSVC_OK);
	ck_assert_int_eq(keysvc_authenticate(ks, tw, "10.9.0.2", &pw, &ra), KEYSVC_OK);
	ck_assert_int_eq(keysvc_authenticate(ks, tv, "10.9.0.2", &pv, &ra), KEYSVC_OK);
	ck_assert_int_eq(keysvc_scope_check(ks, &pw, KEYSVC_SCOPE_READ), KEYSVC_OK);     /* write implies read */
	ck_assert_int_eq(keysvc_scope_check(ks, &pw, KEYSVC_SCOPE_VERIFY), KEYSVC_FORBIDDEN);
	ck_assert_int_eq(keysvc_key_create(ks, &pw, v, "t", out, t, sizeof t), KEYSVC_FORBIDDEN);   /* more than its own */
	ck_assert_int_eq(keysvc_verify(ks, &pw, tv, NULL, vd), KEYSVC_FORBIDDEN);
	ck_assert_int_eq(keysvc_verify(ks, &pv, tw, NULL, vd), KEYSVC_OK);
	ck_assert_int_eq(vd->code, KEYSVC_CODE_VALID);
	ck_assert_int_eq(keysvc_verify(ks, &pv, tw, "keys:write", vd), KEYSVC_OK);
	ck_assert_int_eq(vd->code, KEYSVC_CODE_VALID);
	ck_assert_int_eq(keysvc_verify(ks, &pv, tw, "keys:write billing", vd), KEYSVC_OK);
	ck_assert_int_eq(vd->code, KEYSVC_CODE_INSUFFICIENT_SCOPES);
	ck_assert_int_eq(keysvc_verify(ks, &pv, bob_first, NULL, vd), KEYSVC_OK);   /* another user's key */
	ck_assert_int_eq(vd->code, KEYSVC_CODE_NOT_FOUND);
	/* a vendor write key holds all three; revoking the verifier takes its rights at once */
	ck_assert_int_eq(keysvc_authenticate(ks, alice_key, "10.9.0.2", &pw, &ra), KEYSVC_OK);
	ck_assert_int_eq(keysvc_scope_check(ks, &pw, KEYSVC_SCOPE_VERIFY), KEYSVC_OK);
	ck_assert_int_eq(keysvc_revoke(ks, AS(alice), pv.key_id, "t"), KEYSVC_OK);
	ck_assert_int_eq(keysvc_verify(ks, &pv, tw, NULL, vd), KEYSVC_FORBIDDEN);
	free(w);
	free(v);
	free(out);
	free(vd);
}
END_TEST

typedef struct uses_ctx {
	const char *token;
	keysvc_principal verifier;
	int valid;
} uses_ctx;

static void *uses_thread(void *arg)
{
	uses_ctx *c = arg;
	keysvc_verdict *v = malloc(sizeof *v);

	for (int i = 0; i < 20; i++)
		if (keysvc_verify(ks, &c->verifier, c->token, NULL, v) == KEYSVC_OK && v->code == KEYSVC_CODE_VALID)
			c->valid++;
	free(v);
	return NULL;
}

START_TEST(remaining_exact_under_threads_and_clock)
{
	keysvc_key *in = attrs_new("uses", ""), *out = calloc(1, sizeof *out);
	char t[TOKEN_MAX];
	pthread_t th[16];
	uses_ctx c[16];
	keysvc_principal me, p;
	keysvc_verdict *v = malloc(sizeof *v);
	unsigned ra;
	int valid = 0;
	int64_t now = (int64_t)time(NULL);

	ck_assert_int_eq(keysvc_authenticate(ks, alice_key, "10.9.0.3", &me, &ra), KEYSVC_OK);
	in->has_remaining = 1;
	in->remaining = 200;
	ck_assert_int_eq(keysvc_key_create(ks, AS(alice), in, "t", out, t, sizeof t), KEYSVC_OK);
	for (int i = 0; i < 16; i++) {
		c[i] = (uses_ctx){ .token = t, .verifier = me };
		ck_assert_int_eq(pthread_create(&th[i], NULL, uses_thread, &c[i]), 0);
	}
	for (int i = 0; i < 16; i++) {
		pthread_join(th[i], NULL);
		valid += c[i].valid;
	}
	ck_assert_int_eq(valid, 200);   /* 320 tries */
	ck_assert_int_eq(keysvc_verify(ks, &me, t, NULL, v), KEYSVC_OK);
	ck_assert_int_eq(v->code, KEYSVC_CODE_USAGE_EXCEEDED);
	ck_assert_int_eq(keysvc_authenticate(ks, t, "10.9.0.4", &p, &ra), KEYSVC_REJECTED);
	/* expiry, on the key service's clock, through a cached entry */
	in->has_remaining = 0;
	in->expires_at = now + 10;
	ck_assert_int_eq(keysvc_key_create(ks, AS(alice), in, "t", out, t, sizeof t), KEYSVC_OK);
	keysvc_clock_set(ks, 0, now + 9);
	ck_assert_int_eq(keysvc_authenticate(ks, t, "10.9.0.4", &p, &ra), KEYSVC_OK);   /* cached now */
	keysvc_clock_set(ks, 0, now + 10);
	ck_assert_int_eq(keysvc_authenticate(ks, t, "10.9.0.4", &p, &ra), KEYSVC_REJECTED);
	ck_assert_int_eq(keysvc_verify(ks, &me, t, NULL, v), KEYSVC_OK);
	ck_assert_int_eq(v->code, KEYSVC_CODE_EXPIRED);
	keysvc_clock_set(ks, 0, 0);
	free(in);
	free(out);
	free(v);
}
END_TEST

static Suite *keysvc_suite(void)
{
	Suite *s = suite_create("keysvc");
	TCase *tc = tcase_create("keys");
	TCase *tj = tcase_create("jwt");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, token_format);
	tcase_add_test(tc, create_list_get_every_family);
	tcase_add_test(tc, name_limits_count_characters);
	tcase_add_test(tc, feldera_names_unique_per_owner);
	tcase_add_test(tc, state_changes_take_effect_at_once);
	tcase_add_test(tc, checksum_refused_without_lookup);
	tcase_add_test(tc, rate_limited_after_failures);
	tcase_add_test(tc, blocked_failures_skip_the_store);
	tcase_add_test(tc, nothing_at_rest);
	tcase_add_test(tc, reopen_keeps_keys);
	tcase_add_test(tc, ids_never_reused);
	tcase_add_test(tc, migrates_schema_1);
	tcase_add_test(tc, concurrent_creates);
	tcase_add_test(tc, ratelimit_clients);
	tcase_add_test(tc, ratelimit_window);
	tcase_add_test(tc, ratelimit_block_not_evicted);
	tcase_add_test(tc, ratelimit_saturated_still_blocks);
	tcase_add_test(tc, ratelimit_small_table);
	tcase_add_test(tc, key_after_delete_writes_last_used);
	tcase_add_test(tc, touch_does_not_wait_for_the_write);
	tcase_add_test(tc, touch_queue_full_does_not_wait);
	tcase_add_test(tc, aged_key_answered_then_refreshed);
	tcase_add_test(tc, close_with_the_store_locked_drops_the_rest);
	tcase_add_test(tc, statements_never_reprepared);
	tcase_add_test(tc, roles_enforced_in_the_key_service);
	tcase_add_test(tc, names_nfc_and_refused);
	tcase_add_test(tc, bigmem_tables);
	tcase_add_test(tc, keycache_ttl_epoch_forget);
	tcase_add_test(tc, keycache_aged_handed_out_once);
	tcase_add_test(tc, listcache_aged_handed_out_once);
	tcase_add_test(tc, keycache_texts_round_trip);
	tcase_add_test(tc, stored_hash_is_hmac_sha256);
	tcase_add_test(tc, keycache_reads_never_torn);
	tcase_add_test(tc, keycache_forget_is_final);
	tcase_add_test(tc, keycache_forget_by_id_record);
	tcase_add_test(tc, keycache_set_holds_four);
	tcase_add_test(tc, keycache_tags_are_hints);
	tcase_add_test(tc, keycache_forget_all_after_a_clean_one);
	tcase_add_test(tc, cached_key_fails_after_every_change);
	tcase_add_test(tc, revocation_racing_authentications);
	tcase_add_test(tc, listcache_epoch_ttl_bounds);
	tcase_add_test(tc, listcache_owners_share_a_group);
	tcase_add_test(tc, listcache_tags_are_hints);
	tcase_add_test(tc, listcache_keeps_lists_exactly);
	tcase_add_test(tc, listcache_touch_updates_in_place);
	tcase_add_test(tc, store_changed_not_by_own_writes);
	tcase_add_test(tc, other_writer_unreadable_epoch);
	tcase_add_test(tc, app_time_format_is_gmtime);
	tcase_add_test(tc, cached_list_follows_every_change);
	tcase_add_test(tc, list_racing_creates);
	tcase_add_test(tc, lineage_and_cascade);
	tcase_add_test(tc, user_key_recovers);
	tcase_add_test(tc, keyring_rotation_rehash);
	tcase_add_test(tc, keyring_file_format);
	tcase_add_test(tc, keyring_mismatch_refused);
	tcase_add_test(tc, quota_exact_under_concurrency);
	tcase_add_test(tc, list_each_pages);
	tcase_add_test(tc, other_writer_seen_at_once);
	tcase_add_test(tc, family_descriptors);
	tcase_add_test(tc, keylimit_fixed_windows);
	tcase_add_test(tc, key_attributes_rules_and_reopen);
	tcase_add_test(tc, key_scopes_are_rights);
	tcase_add_test(tc, remaining_exact_under_threads_and_clock);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tj, jwt_setup, jwt_teardown);
	tcase_add_test(tj, jwt_good_bad_none_expired);
	tcase_add_test(tj, jwt_header_and_claim_rules);
	tcase_add_test(tj, jwt_length_bound);
	tcase_add_test(tj, jwt_jwks_kid_alg_and_bad_keys);
	suite_add_tcase(s, tj);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(keysvc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
