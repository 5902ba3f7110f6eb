/* metrics: lock-free counters and the Prometheus page (see metrics.h). */
#include "metrics.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <ulfius.h>

#include "version.h"
#include "log.h"
#ifdef APIKEYD_HAVE_KEYSVC
#include "kmetrics.h"
#else
#define KMETRICS_LATENCY_BOUNDS 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
#define KMETRICS_N_LATENCY 14
#endif

#define METRICS_MAX_APIS 32
#define METRICS_N_STATUS 501         /* 100..599, then "other" */
#define METRICS_N_BUCKETS (KMETRICS_N_LATENCY + 1)

#define METRICS_ADD(a, n) atomic_fetch_add_explicit(&(a), (n), memory_order_relaxed)
#define METRICS_GET(a) atomic_load_explicit(&(a), memory_order_relaxed)

/* The counters are kept in METRICS_SHARDS copies, each thread adding to
   its own (given out in turn at its first request), and summed when the
   page is rendered: one copy for all had every worker's increments fight
   over the same cache lines, four or five atomic adds per request (perf:
   0.17 us of a request with the key service's). A copy's memory is touched
   only where its threads count. */
#define METRICS_SHARDS 8

typedef struct metrics_slot {
    const char *api, *operation;
} metrics_slot;

typedef struct metrics_counts {
    atomic_uint_fast64_t status[METRICS_N_STATUS];
    atomic_uint_fast64_t bucket[METRICS_N_BUCKETS];   /* per bucket, not cumulative (their sum: the count) */
    atomic_uint_fast64_t sum_ns;
} metrics_counts;

/* the counters of no API operation, one cache line's worth per copy */
typedef struct metrics_misc {
    _Alignas(64) atomic_uint_fast64_t auths[METRICS_N_AUTH];
    atomic_uint_fast64_t tls_ok, tls_failed;
} metrics_misc;

/* The server's own slots, before the APIs' operations. */
enum { METRICS_HEALTHZ, METRICS_READYZ, METRICS_METRICS, METRICS_SPEC, METRICS_OTHER, METRICS_N_OWN };
static const char *const metrics_own[METRICS_N_OWN] = { "healthz", "readyz", "metrics", "spec", "other" };

static const double metrics_bounds[KMETRICS_N_LATENCY] = { KMETRICS_LATENCY_BOUNDS };

static struct {
    const rt_api *api;
    size_t first;                    /* its first operation's slot */
} metrics_apis[METRICS_MAX_APIS];
static size_t metrics_n_apis;
static metrics_slot *metrics_slots;  /* set once by metrics_init */
static metrics_counts *metrics_counted[METRICS_SHARDS];   /* metrics_n_slots each */
static size_t metrics_n_slots;
static metrics_misc metrics_misc_of[METRICS_SHARDS];
static atomic_uint metrics_next_shard;
static _Thread_local unsigned metrics_my_shard = METRICS_SHARDS;   /* none yet */

/* This thread's copy of the counters. */
static unsigned metrics_shard(void)
{
    if (metrics_my_shard == METRICS_SHARDS)
        metrics_my_shard = atomic_fetch_add_explicit(&metrics_next_shard, 1, memory_order_relaxed) % METRICS_SHARDS;
    return metrics_my_shard;
}

static uint64_t metrics_sum_auth(int i)
{
    uint64_t v = 0;
    for (size_t k = 0; k < METRICS_SHARDS; k++) v += METRICS_GET(metrics_misc_of[k].auths[i]);
    return v;
}
static time_t metrics_started;

int metrics_init(void)
{
    const rt_api *apis[METRICS_MAX_APIS];
    size_t n, total = METRICS_N_OWN;

    if (metrics_slots != NULL) return 0;
    n = rt_api_registered(apis, METRICS_MAX_APIS);
    if (n > METRICS_MAX_APIS) n = METRICS_MAX_APIS;
    for (size_t i = 0; i < n; i++) total += apis[i]->n_ops;
    metrics_slots = calloc(total, sizeof *metrics_slots);
    for (size_t k = 0; k < METRICS_SHARDS && metrics_slots != NULL; k++) {
        metrics_counted[k] = calloc(total, sizeof *metrics_counted[k]);
        if (metrics_counted[k] == NULL) {
            while (k-- > 0) {
                free(metrics_counted[k]);
                metrics_counted[k] = NULL;
            }
            free(metrics_slots);
            metrics_slots = NULL;
        }
    }
    if (metrics_slots == NULL) return -1;
    for (size_t i = 0; i < METRICS_N_OWN; i++) {
        metrics_slots[i].api = "apikeyd";
        metrics_slots[i].operation = metrics_own[i];
    }
    metrics_n_slots = METRICS_N_OWN;
    for (size_t i = 0; i < n; i++) {
        metrics_apis[i].api = apis[i];
        metrics_apis[i].first = metrics_n_slots;
        for (size_t k = 0; k < apis[i]->n_ops; k++) {
            metrics_slots[metrics_n_slots].api = apis[i]->name;
            metrics_slots[metrics_n_slots++].operation = apis[i]->ops[k].operation_id;
        }
    }
    metrics_n_apis = n;
    metrics_started = time(NULL);
    return 0;
}

int metrics_slot_of(const rt_ctx *ctx)
{
    const rt_api *api = rt_ctx_api_def(ctx);
    const rt_operation *op = rt_ctx_operation(ctx);

    for (size_t i = 0; i < metrics_n_apis; i++)
        if (metrics_apis[i].api == api && op >= api->ops && op < api->ops + api->n_ops)
            return (int)(metrics_apis[i].first + (size_t)(op - api->ops));
    return METRICS_OTHER;
}

int metrics_slot_of_path(const char *path)
{
    size_t n = path ? strlen(path) : 0;

    if (n == 0) return METRICS_OTHER;
    if (strcmp(path, "/healthz") == 0) return METRICS_HEALTHZ;
    if (strcmp(path, "/readyz") == 0) return METRICS_READYZ;
    if (strcmp(path, "/metrics") == 0) return METRICS_METRICS;
    if ((n >= 13 && strcmp(path + n - 13, "/openapi.json") == 0) ||
        (n >= 13 && strcmp(path + n - 13, "/openapi.yaml") == 0))
        return METRICS_SPEC;
    return METRICS_OTHER;
}

void metrics_slot_names(int slot, const char **api, const char **operation)
{
    if (metrics_slots == NULL || slot < 0 || (size_t)slot >= metrics_n_slots) {
        *api = "apikeyd";
        *operation = "other";
        return;
    }
    *api = metrics_slots[slot].api;
    *operation = metrics_slots[slot].operation;
}

void metrics_request(int slot, unsigned status, double seconds)
{
    metrics_counts *s;
    size_t b = 0;

    if (metrics_slots == NULL || slot < 0 || (size_t)slot >= metrics_n_slots) return;
    s = &metrics_counted[metrics_shard()][slot];
    METRICS_ADD(s->status[status >= 100 && status < 600 ? status - 100 : METRICS_N_STATUS - 1], 1);
    while (b < KMETRICS_N_LATENCY && seconds > metrics_bounds[b]) b++;
    METRICS_ADD(s->bucket[b], 1);
    METRICS_ADD(s->sum_ns, (uint_fast64_t)(seconds > 0 ? seconds * 1e9 : 0));
}

void metrics_auth(enum metrics_auth outcome)
{
    METRICS_ADD(metrics_misc_of[metrics_shard()].auths[outcome], 1);
}

void metrics_tls_handshake(int ok)
{
    metrics_misc *m = &metrics_misc_of[metrics_shard()];
    if (ok) METRICS_ADD(m->tls_ok, 1);
    else METRICS_ADD(m->tls_failed, 1);
}

/* ---- the page ---- */

/* A label value: backslash, double quote and newline escaped. */
static void metrics_label(FILE *f, const char *v)
{
    for (; v && *v; v++) {
        if (*v == '\\' || *v == '"') fprintf(f, "\\%c", *v);
        else if (*v == '\n') fputs("\\n", f);
        else fputc(*v, f);
    }
}

static void metrics_head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One histogram's series: labels ("api=\"x\",operation=\"y\"" or ""),
   per-bucket counts over bounds, count and sum. */
static void metrics_hist(FILE *f, const char *name, const char *labels, const double *bounds, size_t n,
                         const uint64_t *bucket, uint64_t count, double sum)
{
    uint64_t cum = 0;
    const char *sep = labels[0] ? "," : "";

    for (size_t i = 0; i < n; i++) {
        cum += bucket[i];
        fprintf(f, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, bounds[i], (unsigned long long)cum);
    }
    fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)count);
    if (labels[0]) {
        fprintf(f, "%s_sum{%s} %.9g\n%s_count{%s} %llu\n", name, labels, sum, name, labels,
                (unsigned long long)count);
    } else {
        fprintf(f, "%s_sum %.9g\n%s_count %llu\n", name, sum, name, (unsigned long long)count);
    }
}

static void metrics_requests(FILE *f)
{
    metrics_head(f, "apikeyd_http_requests_total", "counter",
                 "Requests answered, by API, operation (the spec's operationId) and status.");
    for (size_t i = 0; i < metrics_n_slots; i++) {
        metrics_slot *s = &metrics_slots[i];
        for (size_t k = 0; k < METRICS_N_STATUS; k++) {
            uint64_t v = 0;
            for (size_t c = 0; c < METRICS_SHARDS; c++) v += METRICS_GET(metrics_counted[c][i].status[k]);
            if (v == 0) continue;
            fputs("apikeyd_http_requests_total{api=\"", f);
            metrics_label(f, s->api);
            fputs("\",operation=\"", f);
            metrics_label(f, s->operation);
            if (k == METRICS_N_STATUS - 1) fputs("\",status=\"other\"} ", f);
            else fprintf(f, "\",status=\"%zu\"} ", k + 100);
            fprintf(f, "%llu\n", (unsigned long long)v);
        }
    }
    metrics_head(f, "apikeyd_http_request_duration_seconds", "histogram",
                 "Time from the request line to the response sent, by API and operation.");
    for (size_t i = 0; i < metrics_n_slots; i++) {
        metrics_slot *s = &metrics_slots[i];
        uint64_t bucket[METRICS_N_BUCKETS], count = 0, sum_ns = 0;
        char *labels = NULL;
        size_t llen = 0;
        FILE *lf;
        for (size_t b = 0; b < METRICS_N_BUCKETS; b++) {
            bucket[b] = 0;
            for (size_t c = 0; c < METRICS_SHARDS; c++) bucket[b] += METRICS_GET(metrics_counted[c][i].bucket[b]);
            count += bucket[b];
        }
        if (count == 0) continue;
        for (size_t c = 0; c < METRICS_SHARDS; c++) sum_ns += METRICS_GET(metrics_counted[c][i].sum_ns);
        lf = open_memstream(&labels, &llen);
        if (lf == NULL) continue;
        fputs("api=\"", lf);
        metrics_label(lf, s->api);
        fputs("\",operation=\"", lf);
        metrics_label(lf, s->operation);
        fputc('"', lf);
        fclose(lf);
        metrics_hist(f, "apikeyd_http_request_duration_seconds", labels, metrics_bounds, KMETRICS_N_LATENCY,
                     bucket, count, (double)sum_ns / 1e9);
        free(labels);
    }
}

#ifdef APIKEYD_HAVE_KEYSVC
static void metrics_keysvc(FILE *f)
{
    static const double batch_bounds[KMETRICS_N_BATCH] = { KMETRICS_BATCH_BOUNDS };
    kmetrics_view v;
    char labels[64];

    kmetrics_read(&v);
    metrics_head(f, "apikeyd_cache_requests_total", "counter",
                 "Key service cache look-ups: key (verified keys by hash), list (key lists per user).");
    for (int c = 0; c < KMETRICS_N_CACHES; c++) {
        fprintf(f, "apikeyd_cache_requests_total{cache=\"%s\",result=\"hit\"} %llu\n", kmetrics_cache_name(c),
                (unsigned long long)v.cache_hit[c]);
        fprintf(f, "apikeyd_cache_requests_total{cache=\"%s\",result=\"miss\"} %llu\n", kmetrics_cache_name(c),
                (unsigned long long)v.cache_miss[c]);
    }
    metrics_head(f, "apikeyd_store_duration_seconds", "histogram",
                 "Key store calls: lookup (a key by its hash), read (keys, lists), write (inserts, changes).");
    for (int op = 0; op < KMETRICS_N_STORE_OPS; op++) {
        snprintf(labels, sizeof labels, "op=\"%s\"", kmetrics_store_op_name(op));
        metrics_hist(f, "apikeyd_store_duration_seconds", labels, metrics_bounds, KMETRICS_N_LATENCY,
                     v.store[op].bucket, v.store[op].count, v.store[op].sum);
    }
    metrics_head(f, "apikeyd_store_errors_total", "counter",
                 "Key store calls that failed (an error, or unavailable: busy, locked, full, unreachable).");
    for (int op = 0; op < KMETRICS_N_STORE_OPS; op++)
        fprintf(f, "apikeyd_store_errors_total{op=\"%s\"} %llu\n", kmetrics_store_op_name(op),
                (unsigned long long)v.store_errors[op]);
    metrics_head(f, "apikeyd_store_batch_size", "histogram",
                 "Key inserts committed together in one group-commit transaction.");
    metrics_hist(f, "apikeyd_store_batch_size", "", batch_bounds, KMETRICS_N_BATCH, v.batch.bucket,
                 v.batch.count, v.batch.sum);
    metrics_head(f, "apikeyd_last_used_dropped_total", "counter",
                 "Key uses whose last_used write was not recorded: the writes waiting for the store filled their queue.");
    fprintf(f, "apikeyd_last_used_dropped_total %llu\n", (unsigned long long)v.touch_dropped);
}
#endif

char *metrics_render(unsigned in_flight, size_t *len)
{
    static const char *const auth_names[METRICS_N_AUTH] = { "ok", "missing", "rejected", "rate_limited",
                                                            "unavailable" };
    char *out = NULL;
    FILE *f = open_memstream(&out, len);
    uint64_t tls_ok = 0, tls_failed = 0;

    if (f == NULL) return NULL;
    if (metrics_slots != NULL) metrics_requests(f);
    metrics_head(f, "apikeyd_auth_total", "counter",
                 "Authentications of API requests: ok, missing (no credential), rejected, rate_limited "
                 "(too many failures from the address), unavailable (the store could not tell).");
    for (int i = 0; i < METRICS_N_AUTH; i++)
        fprintf(f, "apikeyd_auth_total{outcome=\"%s\"} %llu\n", auth_names[i],
                (unsigned long long)metrics_sum_auth(i));
#ifdef APIKEYD_HAVE_KEYSVC
    metrics_keysvc(f);
#endif
    metrics_head(f, "apikeyd_tls_handshakes_total", "counter", "TLS handshakes completed.");
    for (size_t k = 0; k < METRICS_SHARDS; k++) {
        tls_ok += METRICS_GET(metrics_misc_of[k].tls_ok);
        tls_failed += METRICS_GET(metrics_misc_of[k].tls_failed);
    }
    fprintf(f, "apikeyd_tls_handshakes_total %llu\n", (unsigned long long)tls_ok);
    metrics_head(f, "apikeyd_tls_handshake_failures_total", "counter",
                 "TLS connections closed before their handshake completed (refused, failed or abandoned).");
    fprintf(f, "apikeyd_tls_handshake_failures_total %llu\n", (unsigned long long)tls_failed);
    metrics_head(f, "apikeyd_requests_in_flight", "gauge", "Requests received and not yet answered.");
    fprintf(f, "apikeyd_requests_in_flight %u\n", in_flight);
    metrics_head(f, "apikeyd_log_lines_dropped_total", "counter",
                 "Log lines given up: standard error's reader, or the syslog or journal daemon, took no more (stalled), or a write to it failed.");
    fprintf(f, "apikeyd_log_lines_dropped_total %lu\n", log_lines_dropped());
    metrics_head(f, "apikeyd_build_info", "gauge", "Always 1; the labels name the build and its libraries.");
    fprintf(f, "apikeyd_build_info{version=\"%s\",ulfius=\"%s\",libmicrohttpd=\"%s\",gnutls=\"%s\"} 1\n",
            APIKEYD_VERSION, ULFIUS_VERSION_STR, MHD_get_version(), gnutls_check_version(NULL));
    metrics_head(f, "apikeyd_start_time_seconds", "gauge", "When the server started, in Unix seconds.");
    fprintf(f, "apikeyd_start_time_seconds %lld\n", (long long)metrics_started);
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}
