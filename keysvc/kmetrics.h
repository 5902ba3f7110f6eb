/* kmetrics: the key service's counters for the metrics page, process-wide:
 * cache hits and misses (the key cache and the list cache), the store's
 * latency and errors per kind of call, and the sizes of group-commit
 * batches. Every count is a C11 atomic added to with relaxed order: no
 * lock, nothing allocated, safe from any thread. kmetrics_read() copies
 * them out for the server's /metrics (server/metrics.c); nothing to free.
 *
 * Histograms keep per-bucket counts (not cumulative); bucket i counts the
 * observations <= bounds[i] and above bounds[i-1], the last bucket the
 * rest (+Inf). */
#ifndef KMETRICS_H
#define KMETRICS_H
#include <stdint.h>
#include <time.h>

/* latency bounds in seconds (also used by server/metrics.c) */
#define KMETRICS_LATENCY_BOUNDS 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
#define KMETRICS_N_LATENCY 14
/* group-commit batch sizes (requests per transaction) */
#define KMETRICS_BATCH_BOUNDS 1, 2, 4, 8, 16, 32, 64, 128, 256
#define KMETRICS_N_BATCH 9

enum kmetrics_cache { KMETRICS_CACHE_KEY, KMETRICS_CACHE_LIST, KMETRICS_N_CACHES };
/* the store's calls by kind: lookup (authentication: by hash), read (one
   key, a list), write (insert, state changes, touch) */
enum kmetrics_store_op { KMETRICS_STORE_LOOKUP, KMETRICS_STORE_READ, KMETRICS_STORE_WRITE, KMETRICS_N_STORE_OPS };

typedef struct kmetrics_hist_view {
	uint64_t bucket[KMETRICS_N_LATENCY + 1];
	uint64_t count;
	double sum;                 /* seconds, or batch items */
} kmetrics_hist_view;

typedef struct kmetrics_view {
	uint64_t cache_hit[KMETRICS_N_CACHES], cache_miss[KMETRICS_N_CACHES];
	kmetrics_hist_view store[KMETRICS_N_STORE_OPS];
	uint64_t store_errors[KMETRICS_N_STORE_OPS];
	kmetrics_hist_view batch;   /* bucket[0..KMETRICS_N_BATCH] */
	uint64_t touch_dropped;     /* last_used writes not recorded: the queue was full */
} kmetrics_view;

void kmetrics_cache(enum kmetrics_cache c, int hit);
/* A store call of kind op that began at t0 (CLOCK_MONOTONIC) and returned
   rc (< 0: STORE_ERROR or STORE_UNAVAILABLE, counted as an error). */
void kmetrics_store(enum kmetrics_store_op op, const struct timespec *t0, int rc);
/* One group-commit transaction of n inserts. */
void kmetrics_batch(unsigned n);
/* A use whose last_used write found the touch queue full (not recorded). */
void kmetrics_touch_dropped(void);
void kmetrics_read(kmetrics_view *out);
const char *kmetrics_cache_name(enum kmetrics_cache c);
const char *kmetrics_store_op_name(enum kmetrics_store_op op);

#endif
