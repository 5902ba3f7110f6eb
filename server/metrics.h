/* metrics: apikeyd's counters and their page, GET /metrics in the
 * Prometheus text exposition format 0.0.4:
 *
 *   apikeyd_http_requests_total{api,operation,status}        counter
 *   apikeyd_http_request_duration_seconds{api,operation}     histogram
 *   apikeyd_auth_total{outcome=ok|missing|rejected|rate_limited|unavailable}
 *   apikeyd_cache_requests_total{cache=key|list,result=hit|miss}
 *   apikeyd_store_duration_seconds{op=lookup|read|write}     histogram
 *   apikeyd_store_errors_total{op}
 *   apikeyd_store_batch_size                                 histogram
 *   apikeyd_tls_handshakes_total, apikeyd_tls_handshake_failures_total
 *   apikeyd_requests_in_flight                               gauge
 *   apikeyd_build_info{version,ulfius,libmicrohttpd,gnutls}  gauge, 1
 *   apikeyd_start_time_seconds                               gauge
 *
 * The label sets are fixed at start: metrics_init() numbers every
 * operation of every registered API (rt_api_registered) plus a few of the
 * server's own (healthz, readyz, metrics, spec, other); a request finds
 * its slot by pointer arithmetic, and counting is C11 atomics with relaxed
 * order: no lock and no map lookup on the request path. The key service's
 * counters (caches, store, batches) are kmetrics (keysvc/kmetrics.h).
 *
 * metrics_render() returns a new string (free()); nothing else allocates
 * after metrics_init(). */
#ifndef APIKEYD_METRICS_H
#define APIKEYD_METRICS_H
#include <stddef.h>
#include "rt_http.h"

enum metrics_auth { METRICS_AUTH_OK, METRICS_AUTH_MISSING, METRICS_AUTH_REJECTED, METRICS_AUTH_RATE_LIMITED,
                    METRICS_AUTH_UNAVAILABLE, METRICS_N_AUTH };

/* Numbers the operations of every API registered so far; call once the
   APIs are mounted and before requests arrive (later calls do nothing).
   -1 when out of memory. */
int metrics_init(void);
/* The slot of an API operation (on_request), or of a server path
   (/healthz, /readyz, /metrics, .../openapi.json, anything else). */
int metrics_slot_of(const rt_ctx *ctx);
int metrics_slot_of_path(const char *path);
/* The labels of slot (borrowed, static): "heron", "createKey". */
void metrics_slot_names(int slot, const char **api, const char **operation);
/* One answered request: its slot, status and duration in seconds. */
void metrics_request(int slot, unsigned status, double seconds);
void metrics_auth(enum metrics_auth outcome);
void metrics_tls_handshake(int ok);
/* The page (new; free()), in_flight the gauge's value; NULL when out of memory. */
char *metrics_render(unsigned in_flight, size_t *len);

#endif
