/* test_keysvc.c — the key service and the store, without HTTP. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <rhonabwy.h>

#include "keysvc.h"

static char tmpdir[256];
static keysvc *ks;
static int64_t alice, bob;
static char alice_key[TOKEN_MAX];

static void open_at(const char *db, const char *jwt_key)
{
	keysvc_config cfg = { .db_path = db, .synchronous_full = 1, .jwt_key_path = jwt_key };
	char err[300] = "";

	ck_assert_msg(keysvc_open(&cfg, &ks, err, sizeof err) == 0, "keysvc_open: %s", err);
}

static void setup(void)
{
	char db[300], bob_key[TOKEN_MAX];

	snprintf(tmpdir, sizeof tmpdir, "/tmp/keysvc-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(db, sizeof db, "%s/k.db", tmpdir);
	open_at(db, NULL);
	ck_assert_int_eq(keysvc_user_add(ks, "alice", alice_key, sizeof alice_key, &alice), KEYSVC_OK);
	ck_assert_int_eq(keysvc_user_add(ks, "bob", bob_key, sizeof bob_key, &bob), KEYSVC_OK);
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

		ck_assert_int_eq(keysvc_create(ks, alice, fam, "k", "d", NULL, "127.0.0.1", &k, t, sizeof t), KEYSVC_OK);
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
		ck_assert_int_eq(keysvc_delete(ks, bob, k.id, "x"), KEYSVC_NOT_FOUND);
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
		ck_assert_int_eq(keysvc_create(ks, alice, f, name, desc, NULL, "t", &k, token, sizeof token), KEYSVC_OK);
		ck_assert_int_eq(keysvc_get_uuid(ks, alice, f, k.uuid, &got), KEYSVC_OK);
		ck_assert_str_eq(got.name, name);
		ck_assert_str_eq(got.description, desc);
	}
	strcat(name, "\xc5\xbc");
	ck_assert_int_eq(keysvc_create(ks, alice, KEYSVC_NEBULA, name, NULL, NULL, "t", &k, token, sizeof token),
	                 KEYSVC_INVALID);
	strcat(desc, "x");
	ck_assert_int_eq(keysvc_create(ks, alice, KEYSVC_NEBULA, "n", desc, NULL, "t", &k, token, sizeof token),
	                 KEYSVC_INVALID);
}
END_TEST

START_TEST(feldera_names_unique_per_owner)
{
	keysvc_key k;
	char t[TOKEN_MAX];

	ck_assert_int_eq(keysvc_create(ks, alice, KEYSVC_FELDERA, "n", NULL, NULL, "", &k, t, sizeof t), KEYSVC_OK);
	ck_assert_int_eq(keysvc_create(ks, alice, KEYSVC_FELDERA, "n", NULL, NULL, "", &k, t, sizeof t), KEYSVC_DUPLICATE);
	ck_assert_int_eq(keysvc_create(ks, bob, KEYSVC_FELDERA, "n", NULL, NULL, "", &k, t, sizeof t), KEYSVC_OK);
	/* other families allow repeated names */
	ck_assert_int_eq(keysvc_create(ks, alice, KEYSVC_HERON, "n", NULL, NULL, "", &k, t, sizeof t), KEYSVC_OK);
	ck_assert_int_eq(keysvc_create(ks, alice, KEYSVC_HERON, "n", NULL, NULL, "", &k, t, sizeof t), KEYSVC_OK);
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

	ck_assert_int_eq(keysvc_create(ks, alice, KEYSVC_HERON, "s", NULL, NULL, "10.0.0.1", &k, t, sizeof t), KEYSVC_OK);
	ck_assert_int_eq(keysvc_authenticate(ks, t, "c1", &p, &ra), KEYSVC_OK);
	ck_assert_int_eq(keysvc_set_active(ks, alice, k.id, 0, "10.0.0.1"), KEYSVC_OK);
	ck_assert_int_eq(keysvc_authenticate(ks, t, "c1", &p, &ra), KEYSVC_REJECTED);
	ck_assert_int_eq(keysvc_set_active(ks, alice, k.id, 1, "10.0.0.1"), KEYSVC_OK);
	ck_assert_int_eq(keysvc_authenticate(ks, t, "c1", &p, &ra), KEYSVC_OK);
	ck_assert_int_eq(keysvc_revoke(ks, alice, k.id, "10.0.0.1"), KEYSVC_OK);
	ck_assert_int_eq(keysvc_authenticate(ks, t, "c1", &p, &ra), KEYSVC_REJECTED);
	ck_assert_int_eq(keysvc_delete(ks, alice, k.id, "10.0.0.1"), KEYSVC_OK);
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
}
END_TEST

START_TEST(rate_limited_after_failures)
{
	keysvc_principal p;
	unsigned ra = 0;
	int rc = KEYSVC_OK;

	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(keysvc_authenticate(ks, "key_nonsense", "192.0.2.7", &p, &ra), KEYSVC_BAD_TOKEN);
	rc = keysvc_authenticate(ks, alice_key, "192.0.2.7", &p, &ra);
	ck_assert_int_eq(rc, KEYSVC_RATE_LIMITED);
	ck_assert_uint_gt(ra, 0);
	/* another address is not affected */
	ck_assert_int_eq(keysvc_authenticate(ks, alice_key, "192.0.2.8", &p, &ra), KEYSVC_OK);
}
END_TEST

START_TEST(nothing_at_rest)
{
	char path[300], t[TOKEN_MAX], *buf;
	keysvc_key k;
	FILE *f;
	long len;
	const char *suffixes[] = { "", "-wal" };

	ck_assert_int_eq(keysvc_create(ks, alice, KEYSVC_NEBULA, "rest", NULL, NULL, "", &k, t, sizeof t), KEYSVC_OK);
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
		w->ok += keysvc_create(ks, alice, KEYSVC_FASTAPI, "c", NULL, NULL, "", &k, w->tokens[i], TOKEN_MAX) == KEYSVC_OK;
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
	tcase_add_test(tc, nothing_at_rest);
	tcase_add_test(tc, reopen_keeps_keys);
	tcase_add_test(tc, concurrent_creates);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tj, jwt_setup, jwt_teardown);
	tcase_add_test(tj, jwt_good_bad_none_expired);
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
