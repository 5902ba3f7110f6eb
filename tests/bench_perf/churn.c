/* churn: the background writer of bench-perf's workload (e): creates and
 * deletes Heron keys at a fixed rate over one HTTP keep-alive connection,
 * until SIGTERM, while the many-keys load runs.
 *
 *   churn --port P --key TOKEN [--rate 50]
 *
 * Every 1/RATE s it creates a key (POST /heron/api/credentials/keys) and
 * deletes the one it created before (DELETE .../{heron_id}), so RATE keys
 * are created and RATE revoked a second, each through the key service and
 * its caches. Prints "<created> created <deleted> deleted <errors> errors"
 * when it stops; exits 1 when any request failed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t churn_stop;

static void churn_on_term(int sig)
{
	(void)sig;
	churn_stop = 1;
}

static int churn_connect(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0) return -1;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { close(fd); return -1; }
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

/* Sends req, reads one response into buf; its status, or -1. */
static int churn_exchange(int fd, const char *req, char *buf, size_t cap)
{
	size_t off = 0, len = strlen(req), have = 0, need = 0;
	char *end = NULL, *cl;
	int status;

	while (off < len) {
		ssize_t r = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) return -1;
		off += (size_t)r;
	}
	while (end == NULL || have < need) {
		ssize_t r;
		if (have + 1 >= cap) return -1;
		r = recv(fd, buf + have, cap - have - 1, 0);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) return -1;
		have += (size_t)r;
		buf[have] = '\0';
		if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
			long clen = 0;
			cl = strcasestr(buf, "\r\nContent-Length:");
			if (cl != NULL && cl < end) clen = strtol(cl + 17, NULL, 10);
			need = (size_t)(end + 4 - buf) + (size_t)clen;
		}
		if (end == NULL) need = cap;
	}
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) return -1;
	return status;
}

int main(int argc, char **argv)
{
	const char *key = NULL;
	int port = 0, fd, status;
	double rate = 50;
	char req[1024], buf[16384], prev[80] = "";
	unsigned long created = 0, deleted = 0, errors = 0;
	struct timespec next;
	const char *body = "{\"name\":\"churn\"}";

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port") == 0) port = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--key") == 0) key = argv[i + 1];
		else if (strcmp(argv[i], "--rate") == 0) rate = atof(argv[i + 1]);
		else { fprintf(stderr, "churn: unknown option %s\n", argv[i]); return 2; }
	}
	if (port <= 0 || key == NULL || rate <= 0 || argc % 2 == 0) {
		fprintf(stderr, "usage: churn --port P --key TOKEN [--rate 50]\n");
		return 2;
	}
	signal(SIGTERM, churn_on_term);
	signal(SIGINT, churn_on_term);
	if ((fd = churn_connect(port)) < 0) { fprintf(stderr, "churn: cannot connect to port %d\n", port); return 1; }
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!churn_stop) {
		const char *id;
		long ns = (long)(1e9 / rate);

		snprintf(req, sizeof req, "POST /heron/api/credentials/keys HTTP/1.1\r\nHost: localhost\r\nx-api-key: %s\r\n"
		         "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", key, strlen(body), body);
		status = churn_exchange(fd, req, buf, sizeof buf);
		if (status == 201 && (id = strstr(buf, "\"heron_id\":\"")) != NULL) {
			created++;
			id += 12;
			if (prev[0]) {
				snprintf(req, sizeof req, "DELETE /heron/api/credentials/keys/%s HTTP/1.1\r\nHost: localhost\r\n"
				         "x-api-key: %s\r\n\r\n", prev, key);
				if (churn_exchange(fd, req, buf, sizeof buf) == 204) deleted++;
				else errors++;
			}
			snprintf(prev, sizeof prev, "%.*s", (int)strcspn(id, "\""), id);
		} else if (!churn_stop) {
			errors++;
			if (status < 0) {
				close(fd);
				if ((fd = churn_connect(port)) < 0) break;
			}
		}
		next.tv_nsec += ns;
		while (next.tv_nsec >= 1000000000L) { next.tv_sec++; next.tv_nsec -= 1000000000L; }
		while (!churn_stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {}
	}
	if (fd >= 0) close(fd);
	printf("%lu created %lu deleted %lu errors\n", created, deleted, errors);
	return errors > 0 ? 1 : 0;
}
