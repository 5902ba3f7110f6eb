/* mkusers: N users with one key each, for bench-perf's many-keys workloads.
 *
 *   mkusers --db FILE --secret FILE --users N --out FILE [--threads T]
 *
 * Creates users u0..u(N-1) in the SQLite database (and the secret file when
 * it is missing, as apikeyd would) through the key service, each with its
 * first key, and writes one "x-api-key: TOKEN" line per user to --out (the
 * header file of loadgen --header-file and of the wrk script keys.lua).
 * synchronous=NORMAL: a scratch database, durability is not the point. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keysvc.h"

typedef struct mkusers_job {
	keysvc *ks;
	int from, to;                 /* user numbers [from, to) */
	char (*tokens)[TOKEN_MAX];
	int failed;
} mkusers_job;

static void *mkusers_run(void *arg)
{
	mkusers_job *j = arg;
	char name[32];
	int64_t id;

	for (int i = j->from; i < j->to && !j->failed; i++) {
		snprintf(name, sizeof name, "u%d", i);
		if (keysvc_user_add(j->ks, name, j->tokens[i], TOKEN_MAX, &id) != KEYSVC_OK)
			j->failed = 1;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *db = NULL, *secret = NULL, *out = NULL;
	int users = 0, threads = 8, started = 0, joined = 0, rc = 1;
	keysvc_config cfg = { .synchronous_full = 0, .key_quota = -1 };
	keysvc *ks = NULL;
	char err[300];
	char (*tokens)[TOKEN_MAX] = NULL;
	mkusers_job *jobs = NULL;
	pthread_t *th = NULL;
	FILE *f = NULL;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--db") == 0) db = argv[i + 1];
		else if (strcmp(argv[i], "--secret") == 0) secret = argv[i + 1];
		else if (strcmp(argv[i], "--out") == 0) out = argv[i + 1];
		else if (strcmp(argv[i], "--users") == 0) users = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
		else { fprintf(stderr, "mkusers: unknown option %s\n", argv[i]); return 2; }
	}
	if (db == NULL || out == NULL || users <= 0 || threads <= 0 || argc % 2 == 0) {
		fprintf(stderr, "usage: mkusers --db FILE --secret FILE --users N --out FILE [--threads T]\n");
		return 2;
	}
	cfg.db_path = db;
	cfg.secret_path = secret;
	if (keysvc_open(&cfg, &ks, err, sizeof err) != 0) {
		fprintf(stderr, "mkusers: %s\n", err);
		goto cleanup;
	}
	tokens = calloc((size_t)users, sizeof *tokens);
	jobs = calloc((size_t)threads, sizeof *jobs);
	th = calloc((size_t)threads, sizeof *th);
	if (tokens == NULL || jobs == NULL || th == NULL) goto cleanup;
	for (int t = 0; t < threads; t++) {
		jobs[t] = (mkusers_job){ .ks = ks, .from = users * t / threads, .to = users * (t + 1) / threads,
		                         .tokens = tokens };
		if (pthread_create(&th[t], NULL, mkusers_run, &jobs[t]) != 0) goto cleanup;
		started++;
	}
	for (; joined < started; joined++) {
		pthread_join(th[joined], NULL);
		if (jobs[joined].failed) { fprintf(stderr, "mkusers: a user could not be created\n"); joined++; goto cleanup; }
	}
	if ((f = fopen(out, "w")) == NULL) { fprintf(stderr, "mkusers: cannot write %s\n", out); goto cleanup; }
	for (int i = 0; i < users; i++)
		fprintf(f, "x-api-key: %s\n", tokens[i]);
	rc = fclose(f) == 0 ? 0 : 1;
	f = NULL;
cleanup:
	/* the threads not joined yet (none started when the key service did not open) */
	for (; joined < started; joined++)
		pthread_join(th[joined], NULL);
	if (f) fclose(f);
	keysvc_close(ks);
	free(th);
	free(jobs);
	free(tokens);
	return rc;
}
