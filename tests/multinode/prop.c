/* prop.c — how fast a key change made on one apikeyd node reaches the
 * others (tests/multinode). Plain HTTP on loopback, Heron's API, keep-alive
 * connections, one clock for every thread.
 *
 *   prop propagate A B C OWNER_KEY REPS
 *       REPS times: create a key on B; its first request on A and on C must
 *       be 200; A and C then verify it in tight loops while B deactivates
 *       (odd reps: deletes) it. For each of A and C: the time from B's
 *       response to the first refusal, and the requests sent after B's
 *       response returned that were still accepted.
 *       Prints "first-use-failures N", "accepted-after N", and
 *       "latency-ms p50 p99 max" over every (rep, node).
 *   prop mass A B C OWNER_KEY N
 *       N keys created on A and used once on A (cached there); then B and C
 *       deactivate N/2 each at the same time; then every key is tried on A.
 *       Prints "accepted-on-a N" (keys A still accepted) and "errors N".
 * A, B, C are loopback ports. Exit 0 when it could measure; the caller
 * asserts the figures.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#define BASE "/heron/api/credentials/keys"

typedef struct conn {
	int port;
	uint32_t from;   /* source address (host order); 0 = the default */
	int fd;
	char buf[65536];
	size_t have;
} conn;

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int conn_open(conn *c)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)c->port) };
	struct timeval tv = { 30, 0 };   /* a COMMIT waits for fsync, which a busy disk can stall for seconds */
	int one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	c->have = 0;
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (c->from) {
		/* another client address per prober, so the failed-authentication
		   limiter sees one refusal per address */
		struct sockaddr_in src = { .sin_family = AF_INET };
		src.sin_addr.s_addr = htonl(c->from);
		if (bind(c->fd, (struct sockaddr *)&src, sizeof src) != 0) {
			close(c->fd);
			c->fd = -1;
			return -1;
		}
	}
	if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

/* One request; the status, and the body (NUL-terminated) in body (may be
   NULL). Reconnects once if the server closed a kept-alive connection. */
static int http(conn *c, const char *method, const char *path, const char *key, const char *json, char *body,
                size_t bodylen)
{
	char req[4096];
	int n;

	if (json) {
		n = snprintf(req, sizeof req,
		             "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: %s\r\nContent-Type: application/json\r\n"
		             "Content-Length: %zu\r\n\r\n%s",
		             method, path, key, strlen(json), json);
	} else {
		n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: %s\r\nContent-Length: 0\r\n\r\n",
		             method, path, key);
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		if (c->fd < 0 && conn_open(c) != 0)
			return -1;
		if (write(c->fd, req, (size_t)n) != n) {
			close(c->fd);
			c->fd = -1;
			continue;
		}
		c->have = 0;
		for (;;) {
			ssize_t r = read(c->fd, c->buf + c->have, sizeof c->buf - 1 - c->have);
			if (r <= 0)
				break;
			c->have += (size_t)r;
			c->buf[c->have] = '\0';
			char *end = strstr(c->buf, "\r\n\r\n");
			if (!end)
				continue;
			char *cl = strcasestr(c->buf, "\r\ncontent-length:");
			size_t len = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
			size_t head = (size_t)(end + 4 - c->buf);
			if (head + len > sizeof c->buf - 1) {
				/* a body larger than the buffer (a long key list): read past it */
				size_t left = head + len - c->have;
				char sink[16384];
				while (left > 0) {
					ssize_t d = read(c->fd, sink, left < sizeof sink ? left : sizeof sink);
					if (d <= 0)
						break;
					left -= (size_t)d;
				}
				if (left > 0)
					break;
				c->have = head + len;   /* only the status and head are used below */
				len = 0;
			} else if (c->have < head + len) {
				continue;
			}
			int status = atoi(c->buf + 9);
			if (body) {
				size_t m = len < bodylen - 1 ? len : bodylen - 1;
				memcpy(body, end + 4, m);
				body[m] = '\0';
			}
			if (strcasestr(c->buf, "\r\nconnection: close")) {
				close(c->fd);
				c->fd = -1;
			}
			return status;
		}
		close(c->fd);
		c->fd = -1;
	}
	return -1;
}

static int create_key(conn *c, const char *owner, const char *name, char *token, size_t tlen, char *id, size_t idlen)
{
	char body[8192], json[256];
	json_error_t e;

	snprintf(json, sizeof json, "{\"name\":\"%s\"}", name);
	if (http(c, "POST", BASE, owner, json, body, sizeof body) != 201)
		return -1;
	json_t *v = json_loads(body, 0, &e);
	const char *t = json_string_value(json_object_get(v, "token"));
	const char *i = json_string_value(json_object_get(v, "heron_id"));
	int rc = t && i ? 0 : -1;
	if (rc == 0) {
		snprintf(token, tlen, "%s", t);
		snprintf(id, idlen, "%s", i);
	}
	json_decref(v);
	return rc;
}

/* ---- propagate ---- */

typedef struct prober {
	int port;
	uint32_t from;
	const char *token;
	atomic_int *go, *stop;
	atomic_int ready;        /* it has seen a 200 in the loop */
	_Atomic double t_refused; /* response time of the first refusal, 0 = none */
	double *sent;            /* send times of requests answered 200 */
	size_t nsent, cap;
	int errors;
} prober;

static void *probe(void *arg)
{
	prober *p = arg;
	conn c = { .port = p->port, .from = p->from, .fd = -1 };
	/* until refused, or until the main thread gives up (3 s after the
	   revocation returned, or when the prober never got its first 200) */
	while (!atomic_load(p->stop)) {
		double t0 = now_ms();
		int st = http(&c, "GET", BASE, p->token, NULL, NULL, 0);
		double t1 = now_ms();
		if (st == 200) {
			if (p->nsent == p->cap) {
				p->cap = p->cap ? p->cap * 2 : 1024;
				p->sent = realloc(p->sent, p->cap * sizeof *p->sent);
			}
			p->sent[p->nsent++] = t0;
			atomic_store(&p->ready, 1);
		} else if (st == 401 || st == 429) {
			p->t_refused = t1;
			break;
		} else {
			p->errors++;
		}
	}
	if (c.fd >= 0)
		close(c.fd);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int propagate(int pa, int pb, int pc, const char *owner, int reps)
{
	conn b = { .port = pb, .fd = -1 }, a = { .port = pa, .fd = -1 }, cc = { .port = pc, .fd = -1 };
	double *lat = calloc((size_t)reps * 2, sizeof *lat);
	int nlat = 0, first_fail = 0, accepted_after = 0, never = 0, errors = 0;
	int revoke_failures = 0;

	for (int r = 0; r < reps; r++) {
		char token[128], id[64], name[64], path[256];
		snprintf(name, sizeof name, "prop-%d-%d", getpid(), r);
		if (create_key(&b, owner, name, token, sizeof token, id, sizeof id) != 0) {
			errors++;
			continue;
		}
		if (http(&a, "GET", BASE, token, NULL, NULL, 0) != 200)
			first_fail++;
		if (http(&cc, "GET", BASE, token, NULL, NULL, 0) != 200)
			first_fail++;
		atomic_int go = 1, stop = 0;
		uint32_t base = (127u << 24) | (1u << 16) | (uint32_t)(2 * r + 1);
		prober p[2] = { { .port = pa, .from = base, .token = token, .go = &go, .stop = &stop },
		                { .port = pc, .from = base + 1, .token = token, .go = &go, .stop = &stop } };
		pthread_t th[2];
		for (int i = 0; i < 2; i++)
			pthread_create(&th[i], NULL, probe, &p[i]);
		double wait_until = now_ms() + 3000;
		while ((!atomic_load(&p[0].ready) || !atomic_load(&p[1].ready)) && now_ms() < wait_until) {
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
		}
		if (!atomic_load(&p[0].ready) || !atomic_load(&p[1].ready)) {
			/* a prober never got its 200: nothing to measure this time */
			atomic_store(&stop, 1);
			for (int i = 0; i < 2; i++) {
				pthread_join(th[i], NULL);
				free(p[i].sent);
			}
			errors++;
			continue;
		}
		/* a fresh connection for the revocation: its answer is the clock's start */
		if (b.fd >= 0) {
			close(b.fd);
			b.fd = -1;
		}
		int st;
		if (r % 2 == 0) {
			snprintf(path, sizeof path, BASE "/%s/deactivate", id);
			st = http(&b, "PUT", path, owner, NULL, NULL, 0);
		} else {
			snprintf(path, sizeof path, BASE "/%s", id);
			st = http(&b, "DELETE", path, owner, NULL, NULL, 0);
		}
		double t_resp = now_ms();
		if (getenv("PROP_DEBUG")) { struct timespec ts; clock_gettime(CLOCK_REALTIME, &ts); fprintf(stderr, "rep %d revoked at %ld.%06ld\n", r, (long)ts.tv_sec, ts.tv_nsec / 1000); }
		if (st != 200 && st != 204) {
			if (getenv("PROP_DEBUG"))
				fprintf(stderr, "rep %d: the revocation answered %d\n", r, st);
			/* the revocation itself failed (the client saw no answer): no
			   measurement this time, counted apart */
			revoke_failures++;
			atomic_store(&stop, 1);
			for (int i = 0; i < 2; i++) {
				pthread_join(th[i], NULL);
				free(p[i].sent);
			}
			continue;
		}
		while (!(p[0].t_refused > 0 && p[1].t_refused > 0) && now_ms() < t_resp + 3000) {
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
		}
		atomic_store(&stop, 1);
		if (getenv("PROP_DEBUG"))
			fprintf(stderr, "rep %d op %s status %d\n", r, r % 2 ? "delete" : "deactivate", st);
		for (int i = 0; i < 2; i++) {
			pthread_join(th[i], NULL);
			if (p[i].t_refused == 0) {
				/* what tells a lost invalidation (200s sent until the end)
				   from a starved prober (its last 200 sent long before) */
				double last = p[i].nsent ? p[i].sent[p[i].nsent - 1] - t_resp : 0;
				size_t after = 0;
				for (size_t k = 0; k < p[i].nsent; k++)
					after += p[i].sent[k] > t_resp;
				printf("never-detail rep %d node %s: %zu answered 200 after the revocation, the last sent %.0f ms "
				       "after it; %d errors\n",
				       r, i == 0 ? "A" : "C", after, last, p[i].errors);
				never++;
			} else {
				double d = p[i].t_refused - t_resp;
				if (getenv("PROP_DEBUG"))
					fprintf(stderr, "  node %d refused after %.3f ms (%zu accepted)\n", i, d, p[i].nsent);
				lat[nlat++] = d > 0 ? d : 0;
			}
			for (size_t k = 0; k < p[i].nsent; k++)
				if (p[i].sent[k] > t_resp)
					accepted_after++;
			errors += p[i].errors;
			free(p[i].sent);
		}
	}
	qsort(lat, (size_t)nlat, sizeof *lat, cmp_double);
	printf("samples %d\n", nlat);
	printf("first-use-failures %d\n", first_fail);
	printf("never-refused %d\n", never);
	printf("accepted-after %d\n", accepted_after);
	printf("revoke-failures %d\n", revoke_failures);
	printf("errors %d\n", errors);
	if (nlat)
		printf("latency-ms %.3f %.3f %.3f\n", lat[nlat / 2], lat[(nlat * 99 + 99) / 100 - 1], lat[nlat - 1]);
	free(lat);
	return nlat ? 0 : 1;
}

/* ---- mass ---- */

typedef struct revoker {
	int port;
	uint32_t from;
	const char *owner;
	char (*ids)[64];
	int lo, hi;
	int errors;
} revoker;

static void *revoke_range(void *arg)
{
	revoker *r = arg;
	conn c = { .port = r->port, .from = r->from, .fd = -1 };
	char path[256];

	for (int i = r->lo; i < r->hi; i++) {
		snprintf(path, sizeof path, BASE "/%s/deactivate", r->ids[i]);
		int st = http(&c, "PUT", path, r->owner, NULL, NULL, 0);
		if (st != 200) {
			r->errors++;
			if (getenv("PROP_DEBUG") && r->errors < 5)
				fprintf(stderr, "mass: %s on %d: %d\n", path, r->port, st);
		}
	}
	if (c.fd >= 0)
		close(c.fd);
	return NULL;
}

static int mass(int pa, int pb, int pc, const char *owner, int n)
{
	/* owners and their keys on addresses of their own: the failed-authentication
	   limiter of the probes before must not stand in the way */
	conn a = { .port = pa, .from = (127u << 24) | (2u << 16) | 1u, .fd = -1 };
	char (*tokens)[128] = calloc((size_t)n, sizeof *tokens);
	char (*ids)[64] = calloc((size_t)n, sizeof *ids);
	int errors = 0, accepted = 0;

	for (int i = 0; i < n; i++) {
		char name[64];
		snprintf(name, sizeof name, "mass-%d-%d", getpid(), i);
		int st = create_key(&a, owner, name, tokens[i], sizeof tokens[i], ids[i], sizeof ids[i]);
		int used = st == 0 ? http(&a, "GET", BASE, tokens[i], NULL, NULL, 0) : 0;
		if (st != 0 || used != 200) {
			errors++;
			if (getenv("PROP_DEBUG") && errors < 5)
				fprintf(stderr, "mass: key %d: create %d, first use %d\n", i, st, used);
		}
	}
	revoker r[2] = { { .port = pb, .from = (127u << 24) | (2u << 16) | 2u, .owner = owner, .ids = ids, .lo = 0, .hi = n / 2 },
	                 { .port = pc, .from = (127u << 24) | (2u << 16) | 3u, .owner = owner, .ids = ids, .lo = n / 2, .hi = n } };
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, revoke_range, &r[i]);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		errors += r[i].errors;
	}
	for (int i = 0; i < n; i++) {
		/* each refused key from an address of its own (127.3.x.y): one
		   failure per address, so what answers is the key's state, not
		   the failed-authentication limiter */
		conn t = { .port = pa, .from = (127u << 24) | (3u << 16) | ((uint32_t)(i / 250) << 8) | (uint32_t)(i % 250 + 1), .fd = -1 };
		int st = http(&t, "GET", BASE, tokens[i], NULL, NULL, 0);
		if (t.fd >= 0)
			close(t.fd);
		if (getenv("PROP_DEBUG") && st != 401)
			fprintf(stderr, "mass: key %d on A after: %d\n", i, st);
		if (st == 200)
			accepted++;
		else if (st != 401)
			errors++;
	}
	printf("accepted-on-a %d\n", accepted);
	printf("errors %d\n", errors);
	free(tokens);
	free(ids);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 7 || (strcmp(argv[1], "propagate") != 0 && strcmp(argv[1], "mass") != 0)) {
		fprintf(stderr, "usage: prop propagate|mass PORT_A PORT_B PORT_C OWNER_KEY COUNT\n");
		return 2;
	}
	int pa = atoi(argv[2]), pb = atoi(argv[3]), pc = atoi(argv[4]), n = atoi(argv[6]);
	if (strcmp(argv[1], "propagate") == 0)
		return propagate(pa, pb, pc, argv[5], n);
	return mass(pa, pb, pc, argv[5], n);
}
