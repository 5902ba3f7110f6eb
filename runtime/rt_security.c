/* rt_security.c — evaluates an operation's security requirements: any of
 * the alternatives, each an all-of set of schemes, through the
 * application's authentication hook, which gets each scheme's credential
 * and the scopes the requirement lists. */
#include "rt_http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#ifndef U_DISABLE_GNUTLS
#include <gnutls/x509.h>
#endif

/* 32 bytes as 64 lowercase hex digits and a NUL */
#define RT_SECURITY_FPR_LEN 65

/* The SHA-256 fingerprint of the client certificate the TLS layer verified
 * (ulfius keeps it only then), or NULL. */
static const char *rt_security_client_cert(const struct _u_request *req, char *fpr)
{
#ifndef U_DISABLE_GNUTLS
	unsigned char digest[32];
	size_t len = sizeof digest;

	if (!req->client_cert || gnutls_x509_crt_get_fingerprint(req->client_cert, GNUTLS_DIG_SHA256, digest, &len) != 0 ||
	    len != sizeof digest)
		return NULL;
	for (size_t i = 0; i < len; i++)
		snprintf(fpr + 2 * i, 3, "%02x", digest[i]);
	return fpr;
#else
	(void)req;
	(void)fpr;
	return NULL; /* ulfius without GnuTLS: no client certificates */
#endif
}

/* The credential a scheme reads from the request, or NULL; buf holds a
 * computed one (RT_SECURITY_FPR_LEN bytes). */
static const char *rt_security_credential(const struct _u_request *req, const rt_security_req *r, char *buf)
{
	const char *v;

	switch (r->kind) {
	case RT_CRED_APIKEY_HEADER:
		return u_map_get_case(req->map_header, r->name);
	case RT_CRED_APIKEY_QUERY:
		return u_map_get(req->map_url, r->name);
	case RT_CRED_APIKEY_COOKIE:
		return u_map_get(req->map_cookie, r->name);
	case RT_CRED_MUTUAL_TLS:
		return rt_security_client_cert(req, buf);
	case RT_CRED_HTTP_BEARER:
	case RT_CRED_HTTP_BASIC: {
		const char *want = r->kind == RT_CRED_HTTP_BEARER ? "Bearer" : "Basic";
		size_t wl = strlen(want);
		v = u_map_get_case(req->map_header, "Authorization");
		if (!v || strncasecmp(v, want, wl) != 0 || (v[wl] != ' ' && v[wl] != '\t'))
			return NULL;
		v += wl;
		while (*v == ' ' || *v == '\t')
			v++;
		return *v ? v : NULL;
	}
	case RT_CRED_HTTP_OTHER: {
		/* the whole header, when its first word is the scheme */
		size_t wl = r->http_scheme ? strlen(r->http_scheme) : 0;
		v = u_map_get_case(req->map_header, "Authorization");
		if (!v || !wl || strncasecmp(v, r->http_scheme, wl) != 0 ||
		    (v[wl] != ' ' && v[wl] != '\t' && v[wl] != '\0'))
			return NULL;
		return v;
	}
	}
	return NULL;
}

int rt_security_check(rt_ctx *c, const rt_operation *op, const char **why, unsigned *retry_after)
{
	const rt_api_config *cfg = rt_ctx_config(c);
	static const char *const no_scopes[] = { NULL };
	int rejected = 0, forbidden = 0;

	*why = NULL;
	if (op->n_security == 0)
		return 0;
	for (size_t i = 0; i < op->n_security; i++) {
		const rt_security_alt *alt = &op->security[i];
		rt_principal p = { 0 };
		int ok = 1;
		if (alt->n == 0)
			return 0; /* {} in the list: anonymous access allowed */
		for (size_t k = 0; k < alt->n && ok; k++) {
			char buf[RT_SECURITY_FPR_LEN];
			const char *cred = rt_security_credential(rt_ctx_request(c), &alt->v[k], buf);
			enum rt_auth_result r;
			unsigned retry = 0;
			if (!cred) {
				ok = 0;
				break;
			}
			if (!cfg->authenticate) {
				*why = "The server has no authentication configured";
				return 500;
			}
			{
				const rt_security_req *q = &alt->v[k];
				rt_auth_request ar = {
					.api = rt_ctx_api(c), .scheme = q->scheme, .kind = q->kind, .http_scheme = q->http_scheme,
					.credential = cred, .scopes = q->scopes ? q->scopes : no_scopes, .n_scopes = q->n_scopes,
					.client_addr = rt_ctx_client_addr(c), .ctx = c,
				};
				r = cfg->authenticate(cfg->app, &ar, &p, &retry);
			}
			switch (r) {
			case RT_AUTH_OK:
				break;
			case RT_AUTH_RATE_LIMITED:
				*retry_after = retry ? retry : 1;
				*why = "Too many failed authentication attempts from this address; try again later";
				return 429;
			case RT_AUTH_ERROR:
				*why = "Authentication failed because of a server error";
				return 500;
			case RT_AUTH_UNAVAILABLE:
				*retry_after = retry;
				*why = "The credential cannot be verified now: the key store is unavailable";
				return 503;
			case RT_AUTH_MISSING:
				ok = 0;
				break;
			case RT_AUTH_FORBIDDEN:
				forbidden = 1;
				ok = 0;
				break;
			case RT_AUTH_REJECTED:
			default:
				rejected = 1;
				ok = 0;
				break;
			}
		}
		if (ok) {
			rt_ctx_set_principal(c, &p);
			return 0;
		}
		if (p.data && cfg->principal_free)
			cfg->principal_free(cfg->app, p.data); /* a partial all-of set's */
	}
	if (forbidden && !rejected) {
		*why = "The credential does not grant what this operation requires";
		return 403;
	}
	*why = rejected ? "The credential is not valid" : "Credentials are required";
	return 401;
}
