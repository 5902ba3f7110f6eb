/* slowloris: many slow or idle connections against one apikeyd listener,
 * and a prober that times legitimate requests meanwhile.
 *
 *   slowloris attack -m slow|idle|hello|shake -n N -P PORT [-f ADDR | -F] -d SECONDS
 *       opens N connections from ADDR (default 127.0.0.9), or with -F from N
 *       addresses 127.20.x.y, and holds them SECONDS:
 *         slow   a request line, then one header line every 2 s, never the end
 *         idle   nothing at all (a TCP connection that never speaks)
 *         hello  the first bytes of a TLS ClientHello, never the rest
 *         shake  a whole ClientHello (GnuTLS), then nothing: the server's
 *                handshake waits for the client's second flight
 *       It watches for the server to close each one (EOF or reset) and
 *       prints one line: opened= refused= closed= open= and the close times
 *       (ms after connect) min/median/max.
 *   slowloris probe -P HTTP_PORT -T HTTPS_PORT -f ADDR -d SECONDS
 *       every 100 ms a GET /healthz on a new connection to each port (HTTPS
 *       with GnuTLS, certificate not checked), from ADDR; prints
 *       http_ok= http_fail= http_p50_ms= http_p90_ms= http_p99_ms= http_max_ms=
 *       http_max_served_ms= and the same for https. "served" leaves out the
 *       time the prober itself waited for a CPU (its run-queue wait, from
 *       /proc/thread-self/schedstat): on a shared machine other work, not
 *       the server, can hold a 2-core box for 100 ms and more.
 * Loopback only; every loop is bounded by SECONDS. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int open_socket(const char *from, unsigned port, int nonblock)
{
    struct sockaddr_in src, dst;
    int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0), one = 1;
    if (fd < 0) return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    memset(&src, 0, sizeof src);
    src.sin_family = AF_INET;
    inet_pton(AF_INET, from, &src.sin_addr);
    if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) { close(fd); return -1; }
    memset(&dst, 0, sizeof dst);
    dst.sin_family = AF_INET;
    dst.sin_port = htons((unsigned short)port);
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS) { close(fd); return -1; }
    return fd;
}

/* ---- attack ---- */

typedef struct conn { int fd; double t0, closed_at; int sent; gnutls_session_t tls; } conn;

/* shake's reads: there are none, so the client never goes past its
   ClientHello, however soon the server's answer is there */
static ssize_t never_read(gnutls_transport_ptr_t p, void *buf, size_t n)
{
    (void)p; (void)buf; (void)n;
    errno = EAGAIN;
    return -1;
}

static int attack(const char *mode, int n, unsigned port, const char *from, int many, double secs)
{
    static const unsigned char hello[] = {
        0x16, 0x03, 0x01, 0x01, 0x00,             /* handshake record, 256 bytes announced */
        0x01, 0x00, 0x00, 0xfc, 0x03, 0x03,       /* ClientHello, 252 bytes, TLS 1.2 */
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };  /* part of the random */
    conn *c = calloc((size_t)n, sizeof *c);
    struct pollfd *pf = calloc((size_t)n, sizeof *pf);
    double *closes = calloc((size_t)n, sizeof *closes), start = now_ms(), next_line = start + 2000;
    int opened = 0, refused = 0, closed = 0, nclose = 0;
    char buf[4096];
    gnutls_certificate_credentials_t cred = NULL;

    if (!c || !pf || !closes) return 2;
    if (strcmp(mode, "shake") == 0 &&
        (gnutls_global_init() < 0 || gnutls_certificate_allocate_credentials(&cred) < 0)) return 2;
    for (int i = 0; i < n; i++) {
        char addr[32];
        if (many) snprintf(addr, sizeof addr, "127.20.%d.%d", i / 250, i % 250 + 1);
        else snprintf(addr, sizeof addr, "%s", from);
        c[i].fd = open_socket(addr, port, 1);
        c[i].t0 = now_ms();
        if (i % 100 == 99) usleep(5000);   /* a ramp of 2,000 in about 0.1 s, not one SYN burst */
        if (c[i].fd < 0) { refused++; continue; }
        opened++;
    }
    /* wait for the connects, then send each mode's opening bytes */
    while (now_ms() - start < secs * 1e3) {
        int np = 0, left = 0;
        double t = now_ms();
        for (int i = 0; i < n; i++) {
            if (c[i].fd < 0) continue;
            left++;
            pf[np].fd = c[i].fd;
            pf[np].events = POLLIN | (c[i].sent ? 0 : POLLOUT);
            pf[np].revents = 0;
            np++;
        }
        if (left == 0) break;
        if (poll(pf, (nfds_t)np, 50) < 0 && errno != EINTR) break;
        t = now_ms();
        for (int i = 0, k = 0; i < n; i++) {
            if (c[i].fd < 0) continue;
            short r = pf[k++].revents;
            if (r & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t got = recv(c[i].fd, buf, sizeof buf, 0);
                if (got > 0) continue;   /* a response (e.g. 503 or 408): keep reading until the close */
                if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
                close(c[i].fd);
                c[i].fd = -1;
                if (!c[i].sent && got < 0 && errno == ECONNREFUSED) { refused++; opened--; continue; }
                c[i].closed_at = t - c[i].t0;
                closes[nclose++] = c[i].closed_at;
                closed++;
                continue;
            }
            if ((r & POLLOUT) && !c[i].sent) {
                c[i].sent = 1;
                if (strcmp(mode, "slow") == 0) {
                    static const char line[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n";
                    (void)!send(c[i].fd, line, sizeof line - 1, MSG_NOSIGNAL);
                } else if (strcmp(mode, "hello") == 0) {
                    (void)!send(c[i].fd, hello, sizeof hello, MSG_NOSIGNAL);
                } else if (strcmp(mode, "shake") == 0 && gnutls_init(&c[i].tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK) >= 0) {
                    gnutls_set_default_priority(c[i].tls);
                    gnutls_credentials_set(c[i].tls, GNUTLS_CRD_CERTIFICATE, cred);
                    gnutls_transport_set_int(c[i].tls, c[i].fd);
                    gnutls_transport_set_pull_function(c[i].tls, never_read);
                    (void)gnutls_handshake(c[i].tls);   /* sends the ClientHello; the rest never comes */
                }
            }
        }
        if (strcmp(mode, "slow") == 0 && t >= next_line) {
            next_line = t + 2000;
            for (int i = 0; i < n; i++)
                if (c[i].fd >= 0 && c[i].sent) (void)!send(c[i].fd, "X-a: b\r\n", 8, MSG_NOSIGNAL);
        }
    }
    qsort(closes, (size_t)nclose, sizeof *closes, cmp_double);
    printf("opened=%d refused=%d closed=%d open=%d close_ms_min=%.0f close_ms_median=%.0f close_ms_max=%.0f\n",
           opened, refused, closed, opened - closed, nclose ? closes[0] : -1.0,
           nclose ? closes[nclose / 2] : -1.0, nclose ? closes[nclose - 1] : -1.0);
    for (int i = 0; i < n; i++) {
        if (c[i].fd >= 0) close(c[i].fd);
        if (c[i].tls) gnutls_deinit(c[i].tls);
    }
    if (cred) gnutls_certificate_free_credentials(cred);
    free(c); free(pf); free(closes);
    return 0;
}

/* ---- probe ---- */

/* Reads until the peer closes or 2 s pass; 0 when a "HTTP/1.1 200" came. */
static int read_status(int fd, gnutls_session_t s)
{
    char buf[2048];
    size_t have = 0;
    double t0 = now_ms();
    for (;;) {
        struct pollfd p = { fd, POLLIN, 0 };
        ssize_t got;
        if (s && gnutls_record_check_pending(s) == 0 && poll(&p, 1, 200) == 0) {
            if (now_ms() - t0 > 2000) return -1;
            continue;
        }
        if (!s && poll(&p, 1, 200) == 0) {
            if (now_ms() - t0 > 2000) return -1;
            continue;
        }
        got = s ? gnutls_record_recv(s, buf + have, sizeof buf - 1 - have) : recv(fd, buf + have, sizeof buf - 1 - have, 0);
        if (s && (got == GNUTLS_E_AGAIN || got == GNUTLS_E_INTERRUPTED)) continue;
        if (got <= 0) break;
        have += (size_t)got;
        if (have >= 12 || have == sizeof buf - 1) break;
    }
    buf[have] = '\0';
    return strncmp(buf, "HTTP/1.1 200", 12) == 0 ? 0 : -1;
}

static double probe_one(const char *from, unsigned port, int tls)
{
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    double t0 = now_ms();
    gnutls_session_t s = NULL;
    gnutls_certificate_credentials_t cred = NULL;
    int fd = open_socket(from, port, 0), rc = -1;
    struct timeval tv = { 2, 0 };

    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (tls) {
        int r;
        if (gnutls_certificate_allocate_credentials(&cred) < 0 || gnutls_init(&s, GNUTLS_CLIENT) < 0) goto done;
        gnutls_set_default_priority(s);
        gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
        gnutls_server_name_set(s, GNUTLS_NAME_DNS, "localhost", 9);
        gnutls_transport_set_int(s, fd);
        gnutls_handshake_set_timeout(s, 2000);
        do r = gnutls_handshake(s); while (r < 0 && !gnutls_error_is_fatal(r));
        if (r < 0) goto done;
        if (gnutls_record_send(s, req, sizeof req - 1) < 0) goto done;
    } else if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)sizeof req - 1) {
        goto done;
    }
    rc = read_status(fd, s);
done:
    if (s) gnutls_deinit(s);
    if (cred) gnutls_certificate_free_credentials(cred);
    close(fd);
    return rc == 0 ? now_ms() - t0 : -1;
}

/* This thread's time waiting on a run queue so far (ms), or 0 when the
   kernel does not say. */
static double run_wait_ms(void)
{
    unsigned long long run = 0, wait = 0;
    FILE *f = fopen("/proc/thread-self/schedstat", "r");
    if (f == NULL) return 0;
    if (fscanf(f, "%llu %llu", &run, &wait) != 2) wait = 0;
    fclose(f);
    return (double)wait / 1e6;
}

static int probe(const char *from, unsigned http_port, unsigned tls_port, double secs)
{
    enum { MAXP = 4096 };
    static double lat[2][MAXP];
    double served_max[2] = { -1, -1 };
    int ok[2] = { 0, 0 }, bad[2] = { 0, 0 };
    double start = now_ms();
    gnutls_global_init();
    while (now_ms() - start < secs * 1e3) {
        double t = now_ms();
        for (int k = 0; k < 2; k++) {
            unsigned port = k ? tls_port : http_port;
            double ms, w0, waited;
            if (port == 0) continue;
            w0 = run_wait_ms();
            ms = probe_one(from, port, k);
            waited = run_wait_ms() - w0;
            if (ms > 50 || ms < 0)
                fprintf(stderr, "probe: %s %.1f ms at +%.0f ms (%.1f ms of it waiting for a CPU)\n", k ? "https" : "http",
                        ms, t - start, waited);
            if (ms < 0) bad[k]++;
            else if (ok[k] < MAXP) lat[k][ok[k]++] = ms;
            if (ms >= 0 && ms - waited > served_max[k]) served_max[k] = ms - waited;
        }
        t = 100 - (now_ms() - t);
        if (t > 0) usleep((useconds_t)(t * 1000));
    }
    for (int k = 0; k < 2; k++) {
        qsort(lat[k], (size_t)ok[k], sizeof lat[k][0], cmp_double);
        const char *w = k ? "https" : "http";
        printf("%s_ok=%d %s_fail=%d %s_p50_ms=%.1f %s_p90_ms=%.1f %s_p99_ms=%.1f %s_max_ms=%.1f %s_max_served_ms=%.1f%s",
               w, ok[k], w, bad[k], w, ok[k] ? lat[k][ok[k] / 2] : -1.0, w, ok[k] ? lat[k][ok[k] * 9 / 10] : -1.0,
               w, ok[k] ? lat[k][ok[k] * 99 / 100] : -1.0, w, ok[k] ? lat[k][ok[k] - 1] : -1.0, w, served_max[k],
               k ? "\n" : " ");
    }
    gnutls_global_deinit();
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = "idle", *from = "127.0.0.9";
    unsigned port = 0, tls_port = 0;
    int n = 100, many = 0, opt;
    double secs = 5;

    if (argc < 2) goto usage;
    optind = 2;
    while ((opt = getopt(argc, argv, "m:n:P:T:f:Fd:")) != -1) {
        switch (opt) {
        case 'm': mode = optarg; break;
        case 'n': n = atoi(optarg); break;
        case 'P': port = (unsigned)atoi(optarg); break;
        case 'T': tls_port = (unsigned)atoi(optarg); break;
        case 'f': from = optarg; break;
        case 'F': many = 1; break;
        case 'd': secs = atof(optarg); break;
        default: goto usage;
        }
    }
    if (secs <= 0 || secs > 120 || n < 1 || n > 20000) goto usage;
    if (strcmp(argv[1], "attack") == 0 && port) return attack(mode, n, port, from, many, secs);
    if (strcmp(argv[1], "probe") == 0 && (port || tls_port)) return probe(from, port, tls_port, secs);
usage:
    fprintf(stderr, "usage: slowloris attack -m slow|idle|hello|shake -n N -P PORT [-f ADDR|-F] -d SECONDS\n"
                    "       slowloris probe -P HTTP_PORT -T HTTPS_PORT -f ADDR -d SECONDS\n");
    return 2;
}
