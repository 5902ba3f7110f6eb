/* fuzz_jwt.c — Bearer values through the JWT side of the key service:
 * keysvc_is_jwt (does it look like a JWT?), the authentication hook's
 * choice between an API key and a JWT, and keysvc_authenticate_jwt
 * (rhonabwy's parsing, the alg and signature checks, exp/nbf/sub).
 *
 * Input: byte 0 picks the mode.
 *   even   the rest is a Bearer value, as the Authorization header gives it
 *   odd    the rest is "<header JSON>\n<claims JSON>"; the target signs them
 *          (ES256, with the key the service trusts) so that the claims
 *          checks behind the signature are reached too
 *
 * Oracle, besides the sanitizers: an unsigned or foreign value never
 * authenticates (the fuzzer holds no private key, so any success in the
 * first mode is a forgery); a signed one authenticates only with
 * sub "fuzz" and an integer exp in the future.
 */
#include "fuzz.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <rhonabwy.h>

#include "app.h"

static app fuzz_app;
static jwk_t *fuzz_priv, *fuzz_pub;

static void fuzz_jwt_release(void)
{
	keysvc_close(fuzz_app.ks);
	r_jwk_free(fuzz_priv);
	r_jwk_free(fuzz_pub);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	keysvc_config kc = { .db_path = ":memory:", .fail_limit = UINT_MAX };
	char path[] = "/tmp/fuzz_jwt.XXXXXX", err[256], token[TOKEN_MAX];
	unsigned char pem[4096];
	size_t pemlen = sizeof pem;
	int64_t user;
	int fd;

	(void)argc;
	(void)argv;
	if (r_jwk_init(&fuzz_priv) != RHN_OK || r_jwk_init(&fuzz_pub) != RHN_OK ||
	    r_jwk_generate_key_pair(fuzz_priv, fuzz_pub, R_KEY_TYPE_EC, 256, "fuzz") != RHN_OK ||
	    r_jwk_export_to_pem_der(fuzz_pub, R_FORMAT_PEM, pem, &pemlen, 0) != RHN_OK ||
	    (fd = mkstemp(path)) < 0) {
		fprintf(stderr, "fuzz_jwt: cannot make a key\n");
		abort();
	}
	if (write(fd, pem, pemlen) != (ssize_t)pemlen)
		abort();
	close(fd);
	kc.jwt_key_path = path;
	if (keysvc_open(&kc, &fuzz_app.ks, err, sizeof err) != 0 ||
	    keysvc_user_add(fuzz_app.ks, "fuzz", token, sizeof token, &user) != KEYSVC_OK) {
		fprintf(stderr, "fuzz_jwt: cannot open the key service: %s\n", err);
		abort();
	}
	unlink(path);
	atexit(fuzz_jwt_release);
	return 0;
}

/* Signs header and claims (JSON texts); new string or NULL. */
static char *fuzz_jwt_sign(const char *header, const char *claims)
{
	jwt_t *jwt = NULL;
	char *out = NULL;

	if (r_jwt_init(&jwt) != RHN_OK)
		return NULL;
	if (r_jwt_set_full_header_json_str(jwt, header) == RHN_OK &&
	    r_jwt_set_full_claims_json_str(jwt, claims) == RHN_OK &&
	    r_jwt_set_sign_alg(jwt, R_JWA_ALG_ES256) == RHN_OK)
		out = r_jwt_serialize_signed(jwt, fuzz_priv, 0);
	r_jwt_free(jwt);
	return out;
}

/* 1 if claims name the fuzz user and expire in the future. */
static int fuzz_jwt_claims_ok(const char *claims)
{
	json_t *c = json_loads(claims, JSON_DECODE_ANY, NULL);
	json_t *exp = json_object_get(c, "exp");
	int ok = json_is_string(json_object_get(c, "sub")) &&
	         strcmp(json_string_value(json_object_get(c, "sub")), "fuzz") == 0 &&
	         json_is_integer(exp) && json_integer_value(exp) > (json_int_t)time(NULL);

	json_decref(c);
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *claims, *signed_jwt = NULL;
	keysvc_principal p;
	rt_principal rp;
	unsigned retry = 0;
	int rc;

	if (size < 1)
		return 0;
	text = strndup((const char *)data + 1, size - 1);
	if (!text)
		return 0;
	if (!(data[0] & 1)) {
		if (keysvc_is_jwt(text)) {
			rc = keysvc_authenticate_jwt(fuzz_app.ks, text, "fuzz", &p, &retry);
			FUZZ_ASSERT(rc != KEYSVC_OK, "an unsigned value authenticated: %s", text);
		}
		FUZZ_ASSERT(app_authenticate(&fuzz_app, &(rt_auth_request){ .api = data[0] & 2 ? "feldera" : "fastapi",
		                             .scheme = "bearer", .kind = RT_CRED_HTTP_BEARER, .credential = text,
		                             .client_addr = "fuzz" }, &rp, &retry) != RT_AUTH_OK,
		            "a Bearer value authenticated: %s", text);
		goto cleanup;
	}
	claims = strchr(text, '\n');
	if (!claims)
		goto cleanup;
	*claims++ = '\0';
	signed_jwt = fuzz_jwt_sign(text, claims);
	if (!signed_jwt)
		goto cleanup;
	FUZZ_ASSERT(keysvc_is_jwt(signed_jwt), "a signed JWT is not taken for one: %s", signed_jwt);
	rc = keysvc_authenticate_jwt(fuzz_app.ks, signed_jwt, "fuzz", &p, &retry);
	if (rc == KEYSVC_OK)
		FUZZ_ASSERT(fuzz_jwt_claims_ok(claims), "claims authenticated: %s", claims);
cleanup:
	r_free(signed_jwt);
	free(text);
	return 0;
}
