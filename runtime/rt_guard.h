/* rt_guard.h — what every generated server needs around its routes, so a
 * program built on the generated code and this runtime alone answers like
 * apikeyd does:
 *  - a guard before every route: strict UTF-8 in the URL path, the query,
 *    header and cookie names and values (400); the request target's and
 *    the headers' sizes (414, 431) and the body's (413);
 *  - for a request no route answered: 405 with Allow when the path exists
 *    for other methods, else 404;
 * each error as RFC 9457 problem details, or in the application's shape
 * through its error hook.
 *
 * Ownership: rt_guard_install copies the configuration; the copies are
 * freed by rt_api_release_all (after the framework has stopped).
 */
#ifndef RT_GUARD_H
#define RT_GUARD_H

#include <stddef.h>
#include <ulfius.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes the response of an error the guard answers (status, its reason
 * phrase title, a short code such as "BadRequest", a sentence detail);
 * returns U_CALLBACK_COMPLETE. */
typedef int (*rt_guard_error_fn)(void *app, const struct _u_request *req, struct _u_response *res, int status,
                                 const char *title, const char *code, const char *detail);

typedef struct rt_guard_config {
	size_t max_body;              /* bytes; 0: 64 KiB (413 above) */
	size_t max_url;               /* bytes of the request target; 0: 8 KiB (414 above) */
	size_t max_headers;           /* bytes of all header names and values; 0: 32 KiB (431 above) */
	void *app;                    /* passed to the hooks */
	/* first, on every request (it may set response headers, such as a
	   request id); may be NULL */
	void (*before)(void *app, const struct _u_request *req, struct _u_response *res);
	rt_guard_error_fn error;      /* NULL: problem details */
	/* the endpoints of u that may match path, whatever their method (a
	   shallow copy of u with fewer of them), for the not-found answer's
	   Allow, which is then the same as over all of u; NULL (or a NULL
	   answer): all of u */
	const struct _u_instance *(*scope)(void *app, const struct _u_instance *u, const char *path);
} rt_guard_config;

/* Call once every route of u is added (rt_api_register): every endpoint
 * there moves one priority step down, the guard takes priority 0, and the
 * not-found answer takes the last one and ulfius's default endpoint; u's
 * check_utf8 goes off (ulfius would drop what is not UTF-8 unseen).
 * Returns 0, or -1 (out of memory, or ulfius refused an endpoint). */
int rt_guard_install(struct _u_instance *u, const rt_guard_config *cfg);

/* The methods the endpoints of u accept at path, comma-separated ("GET,
 * POST"); "" when none ("*" endpoints are not counted). */
void rt_guard_allowed(const struct _u_instance *u, const char *path, char *allow, size_t len);

/* RFC 9457 problem details (the default error hook); a request that carries
 * X-Request-Id gets it back as the extension member request_id. */
int rt_guard_problem(void *app, const struct _u_request *req, struct _u_response *res, int status, const char *title,
                     const char *code, const char *detail);

/* Frees what rt_guard_install allocated (rt_api_release_all calls it). */
void rt_guard_release_all(void);

#ifdef __cplusplus
}
#endif

#endif
