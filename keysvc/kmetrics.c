/* kmetrics.c — the key service's lock-free counters (see kmetrics.h). */
#include "kmetrics.h"

#include <stdatomic.h>
#include <string.h>

typedef struct kmetrics_hist {
	atomic_uint_fast64_t bucket[KMETRICS_N_LATENCY + 1];
	atomic_uint_fast64_t count;
	atomic_uint_fast64_t sum;   /* nanoseconds, or batch items */
} kmetrics_hist;

static const double kmetrics_latency[KMETRICS_N_LATENCY] = { KMETRICS_LATENCY_BOUNDS };
static const unsigned kmetrics_batches[KMETRICS_N_BATCH] = { KMETRICS_BATCH_BOUNDS };

/* The caches' counts, added on every request: in KMETRICS_SHARDS copies of
   a cache line each, a thread adding to its own (given out in turn), summed
   by kmetrics_read; one copy had every worker fight over its line. */
#define KMETRICS_SHARDS 8
static struct kmetrics_caches {
	_Alignas(64) atomic_uint_fast64_t hits[KMETRICS_N_CACHES];
	atomic_uint_fast64_t misses[KMETRICS_N_CACHES];
} kmetrics_caches[KMETRICS_SHARDS];
static atomic_uint kmetrics_next_shard;
static _Thread_local unsigned kmetrics_my_shard = KMETRICS_SHARDS;   /* none yet */
static kmetrics_hist kmetrics_store_hist[KMETRICS_N_STORE_OPS];
static atomic_uint_fast64_t kmetrics_store_errors[KMETRICS_N_STORE_OPS];
static kmetrics_hist kmetrics_batch_hist;
static atomic_uint_fast64_t kmetrics_dropped;

#define KMETRICS_ADD(a, n) atomic_fetch_add_explicit(&(a), (n), memory_order_relaxed)
#define KMETRICS_GET(a) atomic_load_explicit(&(a), memory_order_relaxed)

void kmetrics_cache(enum kmetrics_cache c, int hit)
{
	struct kmetrics_caches *k;

	if (kmetrics_my_shard == KMETRICS_SHARDS)
		kmetrics_my_shard = atomic_fetch_add_explicit(&kmetrics_next_shard, 1, memory_order_relaxed) % KMETRICS_SHARDS;
	k = &kmetrics_caches[kmetrics_my_shard];
	if (hit)
		KMETRICS_ADD(k->hits[c], 1);
	else
		KMETRICS_ADD(k->misses[c], 1);
}

void kmetrics_store(enum kmetrics_store_op op, const struct timespec *t0, int rc)
{
	struct timespec t;
	int64_t ns;
	double s;
	size_t i = 0;
	kmetrics_hist *h = &kmetrics_store_hist[op];

	clock_gettime(CLOCK_MONOTONIC, &t);
	ns = (int64_t)(t.tv_sec - t0->tv_sec) * 1000000000 + (t.tv_nsec - t0->tv_nsec);
	if (ns < 0)
		ns = 0;
	s = (double)ns / 1e9;
	while (i < KMETRICS_N_LATENCY && s > kmetrics_latency[i])
		i++;
	KMETRICS_ADD(h->bucket[i], 1);
	KMETRICS_ADD(h->count, 1);
	KMETRICS_ADD(h->sum, (uint_fast64_t)ns);
	if (rc < 0)
		KMETRICS_ADD(kmetrics_store_errors[op], 1);
}

void kmetrics_touch_dropped(void)
{
	KMETRICS_ADD(kmetrics_dropped, 1);
}

void kmetrics_batch(unsigned n)
{
	size_t i = 0;

	while (i < KMETRICS_N_BATCH && n > kmetrics_batches[i])
		i++;
	KMETRICS_ADD(kmetrics_batch_hist.bucket[i], 1);
	KMETRICS_ADD(kmetrics_batch_hist.count, 1);
	KMETRICS_ADD(kmetrics_batch_hist.sum, n);
}

static void kmetrics_hist_read(kmetrics_hist *h, size_t n, double scale, kmetrics_hist_view *out)
{
	for (size_t i = 0; i <= n; i++)
		out->bucket[i] = KMETRICS_GET(h->bucket[i]);
	out->count = KMETRICS_GET(h->count);
	out->sum = (double)KMETRICS_GET(h->sum) * scale;
}

void kmetrics_read(kmetrics_view *out)
{
	memset(out, 0, sizeof *out);
	for (int c = 0; c < KMETRICS_N_CACHES; c++)
		for (size_t k = 0; k < KMETRICS_SHARDS; k++) {
			out->cache_hit[c] += KMETRICS_GET(kmetrics_caches[k].hits[c]);
			out->cache_miss[c] += KMETRICS_GET(kmetrics_caches[k].misses[c]);
		}
	for (int op = 0; op < KMETRICS_N_STORE_OPS; op++) {
		kmetrics_hist_read(&kmetrics_store_hist[op], KMETRICS_N_LATENCY, 1e-9, &out->store[op]);
		out->store_errors[op] = KMETRICS_GET(kmetrics_store_errors[op]);
	}
	kmetrics_hist_read(&kmetrics_batch_hist, KMETRICS_N_BATCH, 1, &out->batch);
	out->touch_dropped = KMETRICS_GET(kmetrics_dropped);
}

const char *kmetrics_cache_name(enum kmetrics_cache c)
{
	return c == KMETRICS_CACHE_KEY ? "key" : "list";
}

const char *kmetrics_store_op_name(enum kmetrics_store_op op)
{
	return op == KMETRICS_STORE_LOOKUP ? "lookup" : op == KMETRICS_STORE_READ ? "read" : "write";
}
