/* log_stall_test: server/log.c when standard error's reader stops reading
 * (journald stalled, a terminal paused with ^S, a supervisor's pipe nobody
 * drains): standard error is a pipe whose read end is held and not read.
 * Checked:
 *   - 4 threads writing 5,000 access lines each (1.8 MB, the pipe holds
 *     64 KiB), and a warning among them, all return: no line waits for the
 *     reader (a watchdog fails the test after 20 s);
 *   - once the pipe is read again, what comes out is whole lines, each
 *     thread's in the order written, and a notice of the lines given up;
 *     the lines out and the notices' counts add up to every line written;
 *   - a line written after that comes out too (the log goes on).
 * The same with --log-target syslog (argument "syslog"): the "daemon" a
 * datagram socket bound here and not read (its queue holds 10 datagrams),
 * each line one datagram; the notice syslog's warning (<12>).
 * Prints "log-stall: N passed, M failed". */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <netinet/in.h>
#include <yder.h>

#include "log_test.h"

#define THREADS 4
#define LINES 5000

static volatile sig_atomic_t stall_dgram;   /* which run the watchdog names */

static void stalled(int sig)
{
	static const char m[] = "FAIL  a write to standard error waited for its reader: the log stalled the caller\n"
	                        "log-stall: 0 passed, 1 failed\n";
	static const char d[] = "FAIL  a send to syslog's socket waited for its daemon: the log stalled the caller\n"
	                        "log-stall-syslog: 0 passed, 1 failed\n";
	(void)sig;
	if (stall_dgram) (void)!write(STDOUT_FILENO, d, sizeof d - 1);
	else (void)!write(STDOUT_FILENO, m, sizeof m - 1);
	_exit(1);
}

static void *writer(void *arg)
{
	int t = (int)(intptr_t)arg;
	char rid[32];

	for (int i = 0; i < LINES; i++) {
		snprintf(rid, sizeof rid, "t%d-%d", t, i);
		line(rid, i % 10 != 0);   /* every tenth as if no other request were in flight */
	}
	return NULL;
}

/* Reads what the pipe holds until it has been quiet for quiet_ms; dgram:
   the socket's datagrams, each one line. */
static size_t drain(int fd, char **buf, size_t *len, size_t *cap, int quiet_ms, int dgram)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t got = 0;

	while (poll(&p, 1, quiet_ms) == 1) {
		ssize_t r;
		if (*cap - *len < 65536) {
			*cap = *cap * 2 + 65536;
			if ((*buf = realloc(*buf, *cap)) == NULL) return got;
		}
		r = dgram ? recv(fd, *buf + *len, *cap - *len - 2, 0) : read(fd, *buf + *len, *cap - *len - 1);
		if (r <= 0) break;
		if (dgram) (*buf)[*len + (size_t)r++] = '\n';
		*len += (size_t)r;
		got += (size_t)r;
	}
	(*buf)[*len] = '\0';
	return got;
}

int main(int argc, char **argv)
{
	int pfd[2], saved = dup(STDERR_FILENO), next[THREADS] = { 0 }, bad = 0, access = 0, notices = 0;
	int partial = 0, after = 0, dgram = argc > 1 && strcmp(argv[1], "syslog") == 0;
	unsigned long dropped = 0;
	char *buf = NULL, *p, path[64] = "", err[256] = "";
	size_t len = 0, cap = 0;
	pthread_t th[THREADS];

	if (dgram) {   /* the daemon's socket, bound and not read */
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		snprintf(path, sizeof path, "/tmp/log_stall_test.%d.sock", (int)getpid());
		memcpy(sa.sun_path, path, strlen(path) + 1);
		unlink(path);
		if ((pfd[0] = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
		    bind(pfd[0], (struct sockaddr *)&sa, sizeof sa) != 0) {
			perror("log_stall_test: socket");
			return 1;
		}
	} else if (pipe(pfd) != 0 || saved < 0 || dup2(pfd[1], STDERR_FILENO) < 0) {
		perror("log_stall_test");
		return 1;
	} else {
		close(pfd[1]);
	}
	stall_dgram = dgram;
	signal(SIGALRM, stalled);
	alarm(20);
	if (log_init(Y_LOG_LEVEL_INFO, LOG_FORMAT_TEXT, dgram ? LOG_TARGET_SYSLOG : LOG_TARGET_STDERR, dgram ? path : NULL,
	             err, sizeof err) != 0) {
		dup2(saved, STDERR_FILENO);
		fprintf(stderr, "log_stall_test: log_init failed: %s\n", err);
		return 1;
	}
	for (int k = 0; k < THREADS; k++) pthread_create(&th[k], NULL, writer, (void *)(intptr_t)k);
	y_log_message(Y_LOG_LEVEL_WARNING, "a warning while nobody reads");
	for (int k = 0; k < THREADS; k++) pthread_join(th[k], NULL);
	alarm(0);
	check(dgram ? "20,000 access lines and a warning, syslog's socket full and nobody reading: every call returned"
	            : "20,000 access lines and a warning, standard error a full pipe nobody reads: every call returned", 1);

	/* the reader comes back: what waited goes out, then the notice */
	drain(pfd[0], &buf, &len, &cap, 500, dgram);
	line("after-0", 0);
	drain(pfd[0], &buf, &len, &cap, 300, dgram);
	for (char *l = buf; l != NULL && *l; l = p) {
		int t, i;
		unsigned long d;
		const char *r;
		p = strchr(l, '\n');
		if (p == NULL) { partial++; break; }
		*p++ = '\0';
		if ((r = strstr(l, "rid=t")) != NULL) {
			if (sscanf(r, "rid=t%d-%d GET /healthz 200 ", &t, &i) != 2 || t < 0 || t >= THREADS || i < next[t] ||
			    strstr(l, " 127.0.0.1") == NULL || (dgram && strncmp(l, "<14>", 4) != 0))
				bad++;
			else {
				next[t] = i + 1;
				access++;
			}
		} else if ((r = strstr(l, dgram ? "]: " : "WARNING: ")) != NULL &&
		           sscanf(r, dgram ? "]: %lu log lines" : "WARNING: %lu log lines", &d) == 1 &&
		           (!dgram || strncmp(l, "<12>", 4) == 0)) {
			dropped += d;
			notices++;
		} else if (strstr(l, "a warning while nobody reads") != NULL) {
			access++;   /* the warning, counted with the lines */
		} else if (strstr(l, "rid=after-0") != NULL) {
			after = 1;
		}
	}
	printf("      (%d lines out, %lu given up in %d notices)\n", access, dropped, notices);
	check("what came out is whole lines, each thread's in the order written", bad == 0 && partial == 0);
	check("the lines given up were: the pipe (the socket's queue) holds far fewer than were written", notices >= 1 && dropped > 0);
	check("the lines out and the lines given up add up to every line written (20,000 and the warning)",
	      (unsigned long)access + dropped == THREADS * LINES + 1);
	check("a line written once the pipe (the socket) is read again comes out", after);
	log_close();
	dup2(saved, STDERR_FILENO);
	free(buf);
	if (dgram) unlink(path);
	printf("%s: %d passed, %d failed\n", dgram ? "log-stall-syslog" : "log-stall", passed, failed);
	return failed != 0;
}
