/* log_slots_test: server/log.c's per-thread access-line buffers, from
 * inside. Standard error goes to a file; threads write access lines as if
 * other requests were in flight (more = 1), so each line waits in its
 * thread's slot. Checked:
 *   - 400 threads, 50 at a time, 20 lines each: more threads than
 *     LOG_PEND_SLOTS (256), so slots must be given back at a thread's end;
 *     every line comes out, whole, and each thread's in the order written;
 *   - the lines come out with no log_close and no further request: the
 *     flusher (or the thread's end) writes them within a moment;
 *   - a living thread's lines are written by the flusher, woken by the
 *     first of them from its untimed sleep;
 *   - a line written with more = 0 after a pause takes every waiting line
 *     out with it, within the call;
 *   - lines of more = 0 back to back (a busy server) wait too, and go out
 *     in a few write(2) calls (/proc/self/io), not one each.
 *   - a request id may hold exactly A-Z a-z 0-9 - _ . : @ + / = (every byte
 *     value tried).
 * Prints "log-slots: N passed, M failed". */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <yder.h>

#include "log_test.h"

#define THREADS 400
#define AT_ONCE 50
#define LINES 20

/* write(2)-like calls this process has made (/proc/self/io's syscw), -1
   when it cannot be read */
static long syscw(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	char buf[128];
	long v = -1;

	if (f == NULL) return -1;
	while (fgets(buf, sizeof buf, f) != NULL)
		if (sscanf(buf, "syscw: %ld", &v) == 1) break;
	fclose(f);
	return v;
}

static void *writer(void *arg)
{
	int t = (int)(intptr_t)arg;
	char rid[32];

	for (int i = 0; i < LINES; i++) {
		snprintf(rid, sizeof rid, "t%d-%d", t, i);
		line(rid, 1);
	}
	return NULL;
}

/* Lines of the file that are access lines of ours; *bad: those out of
   their thread's order or not whole. */
static int count(const char *path, int *bad)
{
	FILE *f = fopen(path, "r");
	char buf[4096];
	static int next[THREADS];
	int n = 0;

	*bad = 0;
	memset(next, 0, sizeof next);
	if (f == NULL) return -1;
	while (fgets(buf, sizeof buf, f) != NULL) {
		int t, i;
		const char *p = strstr(buf, "rid=t");
		if (p == NULL) continue;
		if (sscanf(p, "rid=t%d-%d GET /healthz 200 ", &t, &i) != 2 || t < 0 || t >= THREADS ||
		    strstr(buf, "127.0.0.1\n") == NULL || i != next[t]) {
			(*bad)++;
			continue;
		}
		next[t]++;
		n++;
	}
	fclose(f);
	return n;
}

int main(void)
{
	char path[] = "/tmp/log-slots-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO), n = 0, bad = 0;
	pthread_t th[AT_ONCE];

	if (fd < 0 || saved < 0 || dup2(fd, STDERR_FILENO) < 0) {
		perror("log_slots_test");
		return 1;
	}
	if (log_init(Y_LOG_LEVEL_INFO, LOG_FORMAT_TEXT, LOG_TARGET_STDERR, NULL, NULL, 0) != 0) {
		dup2(saved, STDERR_FILENO);
		fprintf(stderr, "log_slots_test: log_init failed\n");
		return 1;
	}
	for (int base = 0; base < THREADS; base += AT_ONCE) {
		for (int k = 0; k < AT_ONCE; k++) pthread_create(&th[k], NULL, writer, (void *)(intptr_t)(base + k));
		for (int k = 0; k < AT_ONCE; k++) pthread_join(th[k], NULL);
	}
	for (int w = 0; w < 100 && (n = count(path, &bad)) < THREADS * LINES; w++) usleep(20000);
	check("8,000 lines from 400 threads (more than the 256 slots) all out, with no close and no further request",
	      n == THREADS * LINES);
	check("each line whole, and each thread's lines in the order written", bad == 0);

	/* a thread that lives on: its waiting lines go out by the flusher, which
	   slept while nothing waited and is woken by the first of them */
	line("t1-20", 1);
	line("t1-21", 1);
	for (int w = 0; w < 100 && (n = count(path, &bad)) < THREADS * LINES + 2; w++) usleep(20000);
	check("a living thread's waiting lines written by the flusher, woken from its sleep", n == THREADS * LINES + 2 && bad == 0);

	/* lines waiting in this thread's slot go out with a line of more = 0
	   that comes after a pause (the server not busy): at once, within the
	   call, not by the flusher LOG_PEND_MS later */
	line("t0-20", 1);
	line("t0-21", 1);
	usleep(5000);
	{
		/* written within the call: to the copier's pipe (standard error is a
		   file here, log.c's log_copier), which puts them in the file a
		   moment later; the flusher would have waited LOG_PEND_MS */
		long w0 = syscw(), w1;
		line("t0-22", 0);
		w1 = syscw();
		for (int w = 0; w < 10 && (n = count(path, &bad)) < THREADS * LINES + 5; w++) usleep(20000);
		check("a line with no other request in flight, 5 ms after the one before, takes the waiting ones out with it "
		      "within the call, in order", w0 >= 0 && w1 > w0 && n == THREADS * LINES + 5 && bad == 0);
	}

	/* a busy server: lines of more = 0 each within a moment of the one
	   before wait too, and go out together, not a write(2) each */
	{
		long w0 = syscw(), w1;
		char rid[32];
		for (int i = 0; i < 200; i++) {
			snprintf(rid, sizeof rid, "t1-%d", 22 + i);
			line(rid, 0);
		}
		w1 = syscw();
		for (int w = 0; w < 10 && (n = count(path, &bad)) < THREADS * LINES + 205; w++) usleep(20000);
		check("200 lines back to back, no other request in flight: all out within 200 ms, in order",
		      n == THREADS * LINES + 205 && bad == 0);
		printf("      (%ld write calls for the 200 lines)\n", w1 - w0);
		check("200 lines back to back: in at most 20 write calls, not one each", w0 >= 0 && w1 - w0 <= 20);
	}
	/* request ids: exactly these characters, every byte value tried */
	{
		int wrong = 0;
		for (int c = 1; c < 256; c++) {
			char id[4] = { 'a', (char)c, 'b', 0 };
			int want = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			           strchr("-_.:@+/=", c) != NULL;
			if (log_request_id_valid(id) != want) wrong++;
		}
		check("a request id may hold A-Z a-z 0-9 - _ . : @ + / = and no other byte (all 255 tried)", wrong == 0);
	}
	log_close();
	dup2(saved, STDERR_FILENO);
	unlink(path);
	printf("log-slots: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}
