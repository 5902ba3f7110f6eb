/* serve: the two listeners (plain HTTP and HTTPS), each a ulfius instance on
 * a libmicrohttpd epoll thread pool, sharing one endpoint set:
 *
 *   priority 0         "*" guard: the request id (X-Request-Id kept when
 *                      valid, else made; put on the request and the
 *                      response); 400 for invalid UTF-8 in the path, query,
 *                      headers or cookies; 413 for a body over --max-body
 *   priority 1         GET /healthz -> 200 {"status":"ok"}
 *   priority 1         GET /readyz -> 200 {"status":"ready"} when the key
 *                      store reads and takes a write (serve_set_ready's
 *                      check, bounded in time), else 503 {"status":
 *                      "unavailable","reason":...}: /healthz is liveness
 *                      (the process answers), /readyz readiness (send traffic)
 *   priority 1         GET /metrics (--metrics loopback, the default):
 *                      Prometheus text for loopback peers, 403 for others;
 *                      --metrics HOST:PORT serves it on a libmicrohttpd
 *                      daemon of its own instead (server/metrics.h)
 *   priority >= 1      every mounted API (server/apis.c), shifted by one so
 *                      the guard always runs first
 *   priority UINT_MAX  "*" fallback: 404 in JSON
 *
 * In front of ulfius, on the request head alone (serve_front, reached
 * because apikeyd defines MHD_start_daemon, the call ulfius makes): 400 for
 * two Content-Length, Content-Length with Transfer-Encoding, HTTP/1.1
 * without exactly one Host; 501 for a coding other than chunked; 415 for a
 * multipart body; 400 for a line end that is a bare LF (and obs-fold, a
 * NUL or CR in a header, blanks before a colon); each closes the
 * connection. HEAD runs the GET route. libmicrohttpd's own error answers
 * (414, 431, 505, an unparsable Content-Length, ...) are replaced by the
 * same JSON refusals, written once (server/mhdfix.h).
 * Connections: --max-connections per listener (503 on plain HTTP over it),
 * --max-connections-per-ip, and a reaper thread that closes a connection
 * with no whole request --request-timeout after its accept or last
 * response (--tls-handshake-timeout before a TLS connection's first
 * request line). The TLS listener's socket is the gate's (server/gate.h):
 * a connection reaches libmicrohttpd once its ClientHello is whole, and
 * one that never sends it is closed by the gate at the handshake deadline,
 * under the same limits. Every response carries nosniff and no-store; HTTPS
 * ones HSTS.
 *
 * One access-log line per request is written when libmicrohttpd reports
 * the request complete (status, duration, client, request id), with the
 * key id and the operation noted by serve_on_request
 * (rt_api_config.on_request); the same moment counts the request for the
 * metrics, and the APIs' authentication hook is wrapped to count outcomes.
 *
 * serve_start() returns a running server; serve_quiesce() stops accepting,
 * serve_wait_idle() waits for in-flight requests, serve_stop() stops the
 * daemons and frees everything. */
#ifndef APIKEYD_SERVE_H
#define APIKEYD_SERVE_H
#include <stddef.h>
#include <jansson.h>
#include "config.h"
#include "rt_http.h"

typedef struct serve serve;

/* app: the key service, passed to every API's handlers and to authenticate,
   its authentication hook (NULL until a key service exists). */
int serve_start(const config *cfg, void *app, rt_auth_fn authenticate, serve **out,
        char *err, size_t errlen);
void serve_quiesce(serve *s);
/* 0 when no request is in flight, -1 when timeout_s passed first. */
int serve_wait_idle(serve *s, unsigned timeout_s);
void serve_stop(serve *s);
/* Number of requests received but not yet completed. */
unsigned serve_in_flight(serve *s);

/* rt_api_config.on_request: notes the principal of an API request for its
   access-log line. */
void serve_on_request(void *app, const rt_ctx *ctx, int status);

/* /readyz's check: 0 when ready, else -1 with why. Until one is set,
   /readyz answers 503. */
/* details: an object the hook may add members to (borrowed; the store's backend and epochs) */
typedef int (*serve_ready_fn)(void *app, char *why, size_t len, json_t *details);
void serve_set_ready(serve *s, serve_ready_fn fn);

#endif
