/* app.h — what every family's handlers share: the application context
 * passed as `app` to hooks and handlers, the authentication hook, and small
 * helpers to turn key records into JSON.
 */
#ifndef APP_H
#define APP_H

#include <jansson.h>
#include "keysvc.h"
#include "rt_http.h"
#include "rt_arena.h"
#include "rt_json.h"

typedef struct app {
	keysvc *ks;
} app;

/* rt_auth_fn: an API key (any family's) in x-api-key or Bearer; a JWT as
 * Bearer for the APIs whose vendors accept JWTs (feldera, nebula,
 * nebula_uuid). The principal: id the user, credential_id the key (0 for a
 * JWT), ref the key's public id; no data. */
enum rt_auth_result app_authenticate(void *app, const rt_auth_request *req, rt_principal *out, unsigned *retry_after);
/* RFC 3339 UTC date-time of unix seconds (new json string), or null for 0. */
json_t *app_time(int64_t when);
/* "2026-12-01T20:00:00Z" of unix seconds from 1970 to the end of 9999 into
 * out (APP_TIME_LEN characters and a NUL), from the day count: no gmtime_r,
 * whose time-zone lock every worker took for every time of every list row.
 * Returns APP_TIME_LEN, or 0 outside that range (out untouched). */
#define APP_TIME_LEN 20
size_t app_time_format(int64_t when, char out[APP_TIME_LEN + 1]);
/* The same text in the request's arena, for a model (NULL for 0, *len 0). */
const char *app_time_text(rt_ctx *ctx, int64_t when, size_t *len);
/* What a model writer wrote, as a json_t (new; NULL when it failed), for the
 * runtime's error-shape hook; frees the writer. */
json_t *app_json_of(rt_json_writer *w);
/* A copy of s (NULL stays NULL) in the request's arena, for models built
 * from keys that do not outlive a keysvc_list_each callback; *len its length. */
const char *app_arena_str(rt_ctx *ctx, const char *s, size_t *len);
/* v with room for more than n items of size bytes (cap doubled from 64 when
 * n reached it), or NULL out of memory (v is then still allocated). */
void *app_grow(void *v, size_t *cap, size_t n, size_t size);
/* The caller's user id. */
int64_t app_user(const rt_ctx *ctx);
/* The caller as the key service's principal (what every mutation takes). */
void app_caller(const rt_ctx *ctx, keysvc_principal *out);
/* Cache-Control: no-store, for responses that hold a key. */
void app_no_store(rt_ctx *ctx);
/* A uuid from a path (validated as format uuid) in the store's lower case:
 * uuids compare case-insensitively (RFC 9562), and clients send either. */
void app_uuid_lower(const char *in, char out[37]);

/* Seconds a client is asked to wait (Retry-After) when the store is busy,
 * locked or full. */
#define APP_RETRY_AFTER 2
/* A key-service failure (rc not OK, NOT_FOUND or another status the
 * handler answers itself; APP_NOMEM: out of memory here): the families
 * answer it through their operation's typed 500 and 503 builders (each
 * document has both). app_unavailable: whether it is the 503 with
 * Retry-After (KEYSVC_UNAVAILABLE); app_failure_code and _message: the
 * error code and the text. The store logged the cause. */
#define APP_NOMEM (-1)
int app_unavailable(int rc);
const char *app_failure_code(int rc);
const char *app_failure_message(int rc);
/* The same in the pipeline's error shape (rt_respond_error: a json_t), for a
 * handler without typed builders for it. */
int app_failed(rt_ctx *ctx, int rc);

/* Each family's handler table and error shape. */
struct heron_handlers;
struct feldera_handlers;
struct nebula_handlers;
struct nebula_uuid_handlers;
struct fastapi_handlers;
struct apikeyd_handlers;
const struct heron_handlers *heron_handlers_get(void);
const struct feldera_handlers *feldera_handlers_get(void);
const struct nebula_handlers *nebula_handlers_get(void);
const struct nebula_uuid_handlers *nebula_uuid_handlers_get(void);
const struct fastapi_handlers *fastapi_handlers_get(void);
const struct apikeyd_handlers *apikeyd_handlers_get(void);
json_t *heron_error_shape(int status, const char *code, const char *message, const rt_errors *errors,
                          const char **content_type);
json_t *feldera_error_shape(int status, const char *code, const char *message, const rt_errors *errors,
                            const char **content_type);
json_t *nebula_error_shape(int status, const char *code, const char *message, const rt_errors *errors,
                           const char **content_type);

/* Test API only (mounted with --test-slow-endpoint, never otherwise):
 * POST base/clock?at=UNIX stops the key service's clock at that second,
 * POST base/clock?offset=SECONDS lets it run again, offset from the real
 * time (keysvc_clock_set), so tests cross expiries, grace periods and
 * rate-limit windows exactly, without waiting. app: the app. */
int app_register_test_clock(struct _u_instance *u, const char *base, void *app);

#endif
