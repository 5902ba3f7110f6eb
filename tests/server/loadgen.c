/* loadgen: a small HTTP/1.1 load generator for `make bench`.
 * One thread per connection, keep-alive, optionally over TLS (GnuTLS,
 * verifying the server against --ca). After every connection is up (and
 * its handshake done) the threads send GET PATH for SECONDS:
 *   closed loop (default): back to back, as fast as the server answers;
 *   open loop (--rate R):  at a fixed total rate of R requests/s, spread
 *                          evenly over the connections. Each request has a
 *                          scheduled start; its latency is measured from
 *                          that schedule to the last byte of the response,
 *                          so a stalled server is charged for the requests
 *                          it delayed (no coordinated omission).
 *
 *   loadgen --port P [--tls --ca FILE] --path /x [--header "K: V"]...
 *           [--header-file FILE] [--body-file FILE] [--conns 64] [--seconds 5] [--rate R]
 *
 * --header-file FILE: one header line per line of FILE; each request takes
 * the next line (one counter shared by every connection, round-robin over
 * the file), after the --header lines: the key-cache miss path with many
 * distinct keys.
 *
 * --new-conn: every request on a connection of its own (connect, the TLS
 * handshake, one request, close), as a script running curl does; latency
 * then includes the connect and the handshake. --resume (with --tls and
 * --new-conn): each thread keeps the session of its last connection and
 * offers it on the next (a session ticket), as a returning client would.
 *
 * --body-file FILE: one JSON body per line; each request is then a POST of
 * the next line (Content-Type: application/json), with the --header-file
 * line of the same turn when both are given.
 *
 * Prints one line: "<requests/s> req/s <n> requests <bad> non-2xx <errors> errors"
 * followed, in either mode, by " p50 <us> us p99 <us> us p999 <us> us max <us> us"
 * from a log-linear latency histogram (about 3% resolution), and with
 * --new-conn --tls by " resumed <n>" (handshakes the server resumed). */
#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Latency histogram in microseconds: exact below 64, then 32 buckets per
   power of two (relative error under 3%), up to 2^40 us. */
#define LOADGEN_SUB 32
#define LOADGEN_BUCKETS (64 + 35 * LOADGEN_SUB)

typedef struct loadgen_opts {
    int port, tls, conns, seconds;
    int new_conn, resume;        /* a connection per request; offer the last session */
    double rate;                 /* total requests/s; 0 = closed loop */
    const char *ca, *path;
    char headers[2048];
    char **lines;                /* --header-file, one header each */
    size_t n_lines;
    char **bodies;               /* --body-file, one POST body each */
    size_t n_bodies;
} loadgen_opts;

typedef struct loadgen_worker {
    pthread_t th;
    int index;
    const loadgen_opts *o;
    gnutls_certificate_credentials_t cred;
    unsigned long done, bad, errors, resumed;
    gnutls_datum_t session;      /* --resume: the last connection's session data */
    unsigned long hist[LOADGEN_BUCKETS];
} loadgen_worker;

static pthread_barrier_t loadgen_start;
static volatile int loadgen_stop;
static atomic_size_t loadgen_next_line;

static double loadgen_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static unsigned loadgen_bucket(double seconds)
{
    unsigned long long us = seconds <= 0 ? 0 : (unsigned long long)(seconds * 1e6);
    unsigned msb;

    if (us < 64) return (unsigned)us;
    msb = 63u - (unsigned)__builtin_clzll(us);
    if (msb > 40) return LOADGEN_BUCKETS - 1;
    return 64 + (msb - 6) * LOADGEN_SUB + (unsigned)((us >> (msb - 5)) & (LOADGEN_SUB - 1));
}

/* The middle of bucket b, in microseconds. */
static double loadgen_bucket_us(unsigned b)
{
    unsigned msb, sub;
    double lo, width;

    if (b < 64) return b;
    msb = 6 + (b - 64) / LOADGEN_SUB;
    sub = (b - 64) % LOADGEN_SUB;
    width = (double)(1ull << (msb - 5));
    lo = (double)(1ull << msb) + sub * width;
    return lo + width / 2;
}

/* The q-quantile (0..1) of a merged histogram of n samples. */
static double loadgen_quantile(const unsigned long *h, unsigned long n, double q)
{
    unsigned long want = (unsigned long)(q * (double)n), seen = 0;

    if (want >= n) want = n ? n - 1 : 0;
    for (unsigned b = 0; b < LOADGEN_BUCKETS; b++) {
        seen += h[b];
        if (seen > want) return loadgen_bucket_us(b);
    }
    return 0;
}

static void loadgen_sleep_until(double t)
{
    struct timespec ts;

    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
}

typedef struct loadgen_conn {
    int fd;
    gnutls_session_t s;
} loadgen_conn;

static ssize_t loadgen_send(loadgen_conn *c, const char *b, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t r = c->s ? gnutls_record_send(c->s, b + off, n - off) : send(c->fd, b + off, n - off, MSG_NOSIGNAL);
        if (r < 0 && (c->s ? (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) : errno == EINTR)) continue;
        if (r <= 0) return -1;
        off += (size_t)r;
    }
    return (ssize_t)n;
}

static ssize_t loadgen_recv(loadgen_conn *c, char *b, size_t n)
{
    for (;;) {
        ssize_t r = c->s ? gnutls_record_recv(c->s, b, n) : recv(c->fd, b, n, 0);
        if (r < 0 && (c->s ? (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) : errno == EINTR)) continue;
        return r;
    }
}

static int loadgen_connect(loadgen_worker *w, loadgen_conn *c)
{
    struct sockaddr_in a;
    int one = 1, r;

    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0) return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)w->o->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) return -1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!w->o->tls) return 0;
    if (gnutls_init(&c->s, GNUTLS_CLIENT) < 0) return -1;
    gnutls_set_default_priority(c->s);
    gnutls_server_name_set(c->s, GNUTLS_NAME_DNS, "localhost", 9);
    gnutls_credentials_set(c->s, GNUTLS_CRD_CERTIFICATE, w->cred);
    gnutls_session_set_verify_cert(c->s, "localhost", 0);
    gnutls_transport_set_int(c->s, c->fd);
    if (w->o->resume && w->session.data != NULL) gnutls_session_set_data(c->s, w->session.data, w->session.size);
    do r = gnutls_handshake(c->s); while (r < 0 && !gnutls_error_is_fatal(r));
    if (r < 0) {
        fprintf(stderr, "loadgen: handshake: %s\n", gnutls_strerror(r));
        return -1;
    }
    return 0;
}

static void loadgen_close(loadgen_conn *c)
{
    if (c->s) gnutls_deinit(c->s);
    if (c->fd >= 0) close(c->fd);
}

/* Reads one response; 1 = 2xx, 0 = other status, -1 = connection error. */
static int loadgen_response(loadgen_conn *c, char *buf, size_t cap)
{
    size_t have = 0, need;
    char *end = NULL, *cl;
    long clen = 0;
    int status;

    while (end == NULL) {
        ssize_t r;
        if (have + 1 >= cap) return -1;
        r = loadgen_recv(c, buf + have, cap - have - 1);
        if (r <= 0) return -1;
        have += (size_t)r;
        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) return -1;
    cl = strcasestr(buf, "\r\nContent-Length:");
    if (cl != NULL && cl < end) clen = strtol(cl + 17, NULL, 10);
    need = (size_t)(end + 4 - buf) + (size_t)clen;
    while (have < need) {
        char sink[16384];
        size_t want = need - have < sizeof sink ? need - have : sizeof sink;
        ssize_t r = loadgen_recv(c, sink, want);
        if (r <= 0) return -1;
        have += (size_t)r;
    }
    return status >= 200 && status < 300;
}

static void *loadgen_run(void *arg)
{
    loadgen_worker *w = arg;
    loadgen_conn c = { -1, NULL };
    char req[4096], buf[65536];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n", w->o->path, w->o->headers);
    int up = w->o->new_conn || loadgen_connect(w, &c) == 0;
    /* open loop: this connection's share of the rate, its first slot staggered */
    double interval = w->o->rate > 0 ? (double)w->o->conns / w->o->rate : 0, next;

    if (!up) w->errors++;
    pthread_barrier_wait(&loadgen_start);
    next = loadgen_now() + interval * w->index / w->o->conns;
    while (up && !loadgen_stop) {
        int r;
        double start;
        if (interval > 0) {
            loadgen_sleep_until(next);
            if (loadgen_stop) break;
            start = next;                 /* latency from the schedule */
            next += interval;
        } else
            start = loadgen_now();
        if (w->o->n_bodies) {
            size_t turn = atomic_fetch_add(&loadgen_next_line, 1);
            const char *b = w->o->bodies[turn % w->o->n_bodies];
            n = snprintf(req, sizeof req, "POST %s HTTP/1.1\r\nHost: localhost\r\n%s%s%sContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\n\r\n%s", w->o->path, w->o->headers,
                         w->o->n_lines ? w->o->lines[turn % w->o->n_lines] : "", w->o->n_lines ? "\r\n" : "", strlen(b), b);
            if (n < 0 || (size_t)n >= sizeof req) { w->errors++; break; }
        } else if (w->o->n_lines) {
            size_t l = atomic_fetch_add(&loadgen_next_line, 1) % w->o->n_lines;
            n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\n%s%s\r\n\r\n", w->o->path, w->o->headers,
                         w->o->lines[l]);
            if (n < 0 || (size_t)n >= sizeof req) { w->errors++; break; }
        }
        if (w->o->new_conn && loadgen_connect(w, &c) != 0) {
            if (!loadgen_stop) w->errors++;
            break;
        }
        if (loadgen_send(&c, req, (size_t)n) < 0) { w->errors++; break; }
        r = loadgen_response(&c, buf, sizeof buf);
        if (r < 0) { w->errors++; break; }
        if (w->o->new_conn) {
            if (c.s != NULL) {
                if (gnutls_session_is_resumed(c.s)) w->resumed++;
                if (w->o->resume) {
                    /* TLS 1.3 tickets arrive after the handshake: take the
                       session once the response (and the ticket) was read */
                    gnutls_free(w->session.data);
                    w->session.data = NULL;
                    if (gnutls_session_get_data2(c.s, &w->session) < 0) w->session.data = NULL;
                }
            }
            loadgen_close(&c);
            c.s = NULL;
            c.fd = -1;
        }
        if (loadgen_stop) break;          /* count only what finished in time */
        w->done++;
        w->hist[loadgen_bucket(loadgen_now() - start)]++;
        if (r == 0) w->bad++;
    }
    loadgen_close(&c);
    gnutls_free(w->session.data);
    return NULL;
}

/* --header-file, --body-file: every non-empty line (without its line end). */
static int loadgen_read_lines(const char *path, char ***lines, size_t *n_lines)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    size_t cap = 0;

    if (f == NULL) { fprintf(stderr, "loadgen: cannot open %s\n", path); return -1; }
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0') continue;
        if (*n_lines == cap) {
            char **v = realloc(*lines, (cap = cap ? cap * 2 : 1024) * sizeof *v);
            if (v == NULL) { fclose(f); return -1; }
            *lines = v;
        }
        (*lines)[(*n_lines)++] = strdup(line);
    }
    fclose(f);
    if (*n_lines == 0) { fprintf(stderr, "loadgen: %s has no line\n", path); return -1; }
    return 0;
}

int main(int argc, char **argv)
{
    loadgen_opts o = { .conns = 64, .seconds = 5, .path = "/" };
    gnutls_certificate_credentials_t cred = NULL;
    loadgen_worker *w;
    unsigned long done = 0, bad = 0, errors = 0, resumed = 0;
    static unsigned long hist[LOADGEN_BUCKETS];
    unsigned maxb = 0;
    double t0, t1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--tls") == 0) { o.tls = 1; continue; }
        if (strcmp(a, "--new-conn") == 0) { o.new_conn = 1; continue; }
        if (strcmp(a, "--resume") == 0) { o.resume = 1; continue; }
        if (v == NULL) { fprintf(stderr, "loadgen: %s needs a value\n", a); return 2; }
        i++;
        if (strcmp(a, "--port") == 0) o.port = atoi(v);
        else if (strcmp(a, "--ca") == 0) o.ca = v;
        else if (strcmp(a, "--path") == 0) o.path = v;
        else if (strcmp(a, "--conns") == 0) o.conns = atoi(v);
        else if (strcmp(a, "--seconds") == 0) o.seconds = atoi(v);
        else if (strcmp(a, "--rate") == 0) o.rate = atof(v);
        else if (strcmp(a, "--header-file") == 0) {
            if (loadgen_read_lines(v, &o.lines, &o.n_lines) != 0) return 1;
        }
        else if (strcmp(a, "--body-file") == 0) {
            if (loadgen_read_lines(v, &o.bodies, &o.n_bodies) != 0) return 1;
        }
        else if (strcmp(a, "--header") == 0) {
            size_t l = strlen(o.headers);
            snprintf(o.headers + l, sizeof o.headers - l, "%s\r\n", v);
        } else { fprintf(stderr, "loadgen: unknown option %s\n", a); return 2; }
    }
    if (o.port <= 0 || o.conns <= 0 || o.seconds <= 0 || o.rate < 0 || (o.tls && o.ca == NULL) ||
        (o.resume && !(o.tls && o.new_conn))) {
        fprintf(stderr, "usage: loadgen --port P [--tls --ca FILE] --path /x [--header 'K: V'] [--header-file FILE] [--body-file FILE] [--conns 64] [--seconds 5] [--rate R] [--new-conn [--resume]]\n");
        return 2;
    }
    if (o.tls) {
        if (gnutls_certificate_allocate_credentials(&cred) < 0 ||
            gnutls_certificate_set_x509_trust_file(cred, o.ca, GNUTLS_X509_FMT_PEM) <= 0) {
            fprintf(stderr, "loadgen: cannot load CA %s\n", o.ca);
            return 1;
        }
    }
    w = calloc((size_t)o.conns, sizeof *w);
    if (w == NULL) return 1;
    pthread_barrier_init(&loadgen_start, NULL, (unsigned)o.conns + 1);
    for (int i = 0; i < o.conns; i++) {
        w[i].index = i;
        w[i].o = &o;
        w[i].cred = cred;
        if (pthread_create(&w[i].th, NULL, loadgen_run, &w[i]) != 0) { fprintf(stderr, "loadgen: thread\n"); return 1; }
    }
    pthread_barrier_wait(&loadgen_start);
    t0 = loadgen_now();
    {
        struct timespec d = { o.seconds, 0 };
        nanosleep(&d, NULL);
    }
    loadgen_stop = 1;
    t1 = loadgen_now();
    for (int i = 0; i < o.conns; i++) {
        pthread_join(w[i].th, NULL);
        done += w[i].done;
        bad += w[i].bad;
        errors += w[i].errors;
        resumed += w[i].resumed;
        for (unsigned b = 0; b < LOADGEN_BUCKETS; b++) {
            hist[b] += w[i].hist[b];
            if (w[i].hist[b] && b > maxb) maxb = b;
        }
    }
    printf("%.0f req/s %lu requests %lu non-2xx %lu errors p50 %.0f us p99 %.0f us p999 %.0f us max %.0f us",
           (double)done / (t1 - t0), done, bad, errors, loadgen_quantile(hist, done, 0.50),
           loadgen_quantile(hist, done, 0.99), loadgen_quantile(hist, done, 0.999), done ? loadgen_bucket_us(maxb) : 0);
    if (o.new_conn && o.tls) printf(" resumed %lu", resumed);
    printf("\n");
    free(w);
    if (cred) gnutls_certificate_free_credentials(cred);
    return errors > 0 || bad > 0 ? 1 : 0;
}
