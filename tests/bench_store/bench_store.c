/* bench_store.c — durable key creates per second, with group commit and
 * with one transaction (one fsync) per insert, in the same run, on a real
 * file with synchronous=FULL. Usage: bench_store [THREADS] [CREATES]
 * With BENCH_DIR set, also appends its row to $BENCH_DIR/bench-store.tsv. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "keysvc.h"

static keysvc *ks;
static int64_t user;
static int per_thread;

static void *bench_worker(void *arg)
{
	keysvc_principal me = { .user_id = user };   /* the account holder (as a JWT is) */
	keysvc_key k;
	char t[TOKEN_MAX];
	long *ok = arg;

	for (int i = 0; i < per_thread; i++)
		*ok += keysvc_create(ks, &me, KEYSVC_HERON, "bench", NULL, NULL, "bench", &k, t, sizeof t) == KEYSVC_OK;
	return NULL;
}

static double bench_run(int naive, int threads, int total)
{
	char dir[] = "/tmp/bench-store.XXXXXX", db[128], cmd[160], err[300], tok[TOKEN_MAX];
	keysvc_config cfg = { .synchronous_full = 1, .naive_commit = naive, .key_quota = -1 };
	pthread_t *th = calloc((size_t)threads, sizeof *th);
	long *ok = calloc((size_t)threads, sizeof *ok);
	struct timespec a, b;
	long done = 0;

	if (!mkdtemp(dir))
		return -1;
	snprintf(db, sizeof db, "%s/b.db", dir);
	cfg.db_path = db;
	if (keysvc_open(&cfg, &ks, err, sizeof err) != 0 || keysvc_user_add(ks, "bench", tok, sizeof tok, &user) != 0) {
		fprintf(stderr, "bench_store: %s\n", err);
		return -1;
	}
	per_thread = total / threads;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, bench_worker, &ok[i]);
	for (int i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		done += ok[i];
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	keysvc_close(ks);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_store: cannot remove %s\n", dir);
	free(th);
	free(ok);
	if (done != (long)per_thread * threads)
		fprintf(stderr, "bench_store: only %ld of %d creates succeeded\n", done, per_thread * threads);
	return (double)done / ((double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 64;
	int total = argc > 2 ? atoi(argv[2]) : 6400;
	double naive = bench_run(1, threads, total / 4);
	double group = bench_run(0, threads, total);

	printf("durable creates/s (synchronous=FULL, %d threads): group commit %.0f, one fsync per insert %.0f, ratio %.1fx\n",
	       threads, group, naive, naive > 0 ? group / naive : 0);
	printf("goal: >= 10000/s and >= 3x: %s\n", group >= 10000 && group >= 3 * naive ? "met" : "NOT met");
	if (getenv("BENCH_DIR") != NULL) {	/* a row of make bench's closing table (tests/bench_report) */
		char path[4096];
		FILE *f;
		snprintf(path, sizeof path, "%s/bench-store.tsv", getenv("BENCH_DIR"));
		f = fopen(path, "a");
		if (f == NULL) {
			perror(path);
			return 1;
		}
		fprintf(f, "durable creates/s, group commit (synchronous=FULL, %d threads)\t%.0f/s\tone fsync per insert: %.0f/s\t%.1fx\t"
		        ">= 10,000/s and >= 3x\t%s\n", threads, group, naive, naive > 0 ? group / naive : 0,
		        group >= 10000 && group >= 3 * naive ? "met" : "missed");
		fclose(f);
	}
	return group > 0 && naive > 0 ? 0 : 1;
}
