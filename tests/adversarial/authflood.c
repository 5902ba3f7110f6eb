/* authflood.c — failed authentications from many client addresses, as raw
 * HTTP/1.1 on keep-alive sockets, each bound to its own loopback source
 * address (127.B.C.D), for tests/adversarial/ratelimit.sh.
 *
 *   authflood HOST PORT PATH HEADER FIRST COUNT PER [THREADS]
 *
 * Sends PER requests `GET PATH` with the header line HEADER (its "%u" is
 * replaced by a running number, so every credential differs) from each of
 * COUNT addresses starting at FIRST (dotted IPv4, counted up). Prints one
 * line: "requests N 200 N 401 N 429 N other N no429 N first429max N", where
 * no429 counts the addresses that never got a 429 and first429max is the
 * largest 1-based request index of an address's first 429 (0 if none).
 * Exit 0 when every request was answered, 1 otherwise.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static const char *host, *path, *header;
static unsigned port, per;
static uint32_t first;
static unsigned count;
static unsigned next_addr;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long n_req, n200, n401, n429, n_other, no429, first429max, lost;

/* One response: the status, the body skipped by Content-Length. -1 on error. */
static int authflood_read(int fd, char *buf, size_t cap, size_t *have)
{
	for (;;) {
		char *end = memmem(buf, *have, "\r\n\r\n", 4);
		if (end) {
			size_t head = (size_t)(end - buf) + 4, body = 0;
			int status = 0;
			char *cl;
			buf[head - 1] = '\0';
			if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
				return -1;
			cl = strcasestr(buf, "\r\ncontent-length:");
			if (cl)
				body = strtoul(cl + 17, NULL, 10);
			while (*have < head + body) {
				ssize_t r;
				if (*have == cap)
					return -1;
				r = read(fd, buf + *have, cap - *have);
				if (r <= 0)
					return -1;
				*have += (size_t)r;
			}
			memmove(buf, buf + head + body, *have - head - body);
			*have -= head + body;
			return status;
		}
		if (*have == cap)
			return -1;
		ssize_t r = read(fd, buf + *have, cap - *have);
		if (r <= 0)
			return -1;
		*have += (size_t)r;
	}
}

static int authflood_connect(uint32_t src)
{
	struct sockaddr_in a = { .sin_family = AF_INET }, b = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	a.sin_addr.s_addr = htonl(src);
	b.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, host, &b.sin_addr);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || connect(fd, (struct sockaddr *)&b, sizeof b) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void *authflood_worker(void *arg)
{
	static __thread char buf[65536];
	char req[4096], hdr[2048];

	(void)arg;
	for (;;) {
		unsigned i, got429 = 0, s200 = 0, s401 = 0, s429 = 0, so = 0, missing = 0;
		size_t have = 0;
		int fd;

		pthread_mutex_lock(&lock);
		i = next_addr < count ? next_addr++ : count;
		pthread_mutex_unlock(&lock);
		if (i == count)
			return NULL;
		fd = authflood_connect(first + i);
		for (unsigned k = 0; k < per; k++) {
			int st = -1;
			size_t len;
			snprintf(hdr, sizeof hdr, header, i * per + k);
			len = (size_t)snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n\r\n", path, host, hdr);
			for (int attempt = 0; attempt < 2 && st < 0; attempt++) {
				if (fd < 0) {
					fd = authflood_connect(first + i);
					have = 0;
				}
				if (fd >= 0 && write(fd, req, len) == (ssize_t)len)
					st = authflood_read(fd, buf, sizeof buf, &have);
				if (st < 0 && fd >= 0) {
					close(fd);
					fd = -1;
				}
			}
			if (st == 200) s200++;
			else if (st == 401) s401++;
			else if (st == 429) { s429++; if (!got429) got429 = k + 1; }
			else if (st < 0) missing++;
			else so++;
		}
		if (fd >= 0)
			close(fd);
		pthread_mutex_lock(&lock);
		n_req += per;
		n200 += s200; n401 += s401; n429 += s429; n_other += so; lost += missing;
		if (!got429) no429++;
		if (got429 > first429max) first429max = got429;
		pthread_mutex_unlock(&lock);
	}
}

int main(int argc, char **argv)
{
	struct in_addr f;
	unsigned threads = 4;
	pthread_t t[64];

	if (argc < 8 || inet_pton(AF_INET, argv[5], &f) != 1) {
		fprintf(stderr, "usage: authflood HOST PORT PATH HEADER FIRST COUNT PER [THREADS]\n");
		return 2;
	}
	host = argv[1];
	port = (unsigned)atoi(argv[2]);
	path = argv[3];
	header = argv[4];
	first = ntohl(f.s_addr);
	count = (unsigned)atoi(argv[6]);
	per = (unsigned)atoi(argv[7]);
	if (argc > 8)
		threads = (unsigned)atoi(argv[8]);
	if (threads < 1 || threads > 64)
		threads = 4;
	for (unsigned i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, authflood_worker, NULL);
	for (unsigned i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	printf("requests %lu 200 %lu 401 %lu 429 %lu other %lu no429 %lu first429max %lu lost %lu\n", n_req, n200, n401,
	       n429, n_other, no429, first429max, lost);
	return lost ? 1 : 0;
}
