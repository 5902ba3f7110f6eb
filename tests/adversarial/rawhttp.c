/* rawhttp: raw bytes to an HTTP listener on loopback, and what came back.
 *
 *   rawhttp [-s] [-t MS] [-f ADDR] PORT < BYTES
 *       one connection: sends BYTES as they are, then reads until the server
 *       closes or MS (default 2000) pass; writes what it read to stdout and
 *       one line to stderr: "closed after N ms" or "open after N ms".
 *       -s: over TLS (the server's certificate is not checked); the BYTES
 *       go in one record, and the close is the end of the TLS stream.
 *   rawhttp -n N [-P THREADS] [-t MS] [-f ADDR] PORT < BYTES
 *       N such connections, THREADS at a time; prints one line counting the
 *       first status code of each ("415=20000"), "none=" (closed without a
 *       response) and "open=" (no close within MS).
 * Every read is bounded by MS; the request count by N. */
#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char *req;
static size_t req_len;
static const char *from = "127.0.0.1";
static unsigned port;
static int timeout_ms = 2000;
static int total = 1, next_i, use_tls;
static gnutls_certificate_credentials_t cred;
static unsigned counts[1000], none, still_open;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* One exchange; out receives up to cap bytes (NUL-terminated). Returns 1
   when the server closed, 0 when still open at the timeout, -1 on error. */
static int exchange(char *out, size_t cap, size_t *got, double *ms)
{
    struct sockaddr_in src, dst;
    int fd = socket(AF_INET, SOCK_STREAM, 0), rc = -1, r;
    gnutls_session_t s = NULL;
    double t0 = now_ms();
    size_t off = 0;

    *got = 0;
    if (fd < 0) return -1;
    memset(&src, 0, sizeof src);
    src.sin_family = AF_INET;
    inet_pton(AF_INET, from, &src.sin_addr);
    memset(&dst, 0, sizeof dst);
    dst.sin_family = AF_INET;
    dst.sin_port = htons((unsigned short)port);
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0 || connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0)
        goto done;
    if (use_tls) {
        if (gnutls_init(&s, GNUTLS_CLIENT) < 0) goto done;
        gnutls_set_default_priority(s);
        gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
        gnutls_server_name_set(s, GNUTLS_NAME_DNS, "localhost", 9);
        gnutls_transport_set_int(s, fd);
        gnutls_handshake_set_timeout(s, (unsigned)timeout_ms);
        do r = gnutls_handshake(s); while (r < 0 && !gnutls_error_is_fatal(r));
        if (r < 0) goto done;
        while (off < req_len) {
            ssize_t n = gnutls_record_send(s, req + off, req_len - off);
            if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) continue;
            if (n <= 0) break;
            off += (size_t)n;
        }
    }
    while (!use_tls && off < req_len) {
        ssize_t n = send(fd, req + off, req_len - off, MSG_NOSIGNAL);
        if (n <= 0) break;       /* the server may close before taking it all */
        off += (size_t)n;
    }
    for (;;) {
        int left = timeout_ms - (int)(now_ms() - t0);
        struct pollfd p = { fd, POLLIN, 0 };
        ssize_t n;
        if (left <= 0) { rc = 0; break; }
        if ((s == NULL || gnutls_record_check_pending(s) == 0) && poll(&p, 1, left) <= 0) continue;
        n = s ? gnutls_record_recv(s, out + *got, cap - 1 - *got) : recv(fd, out + *got, cap - 1 - *got, 0);
        if (n < 0 && (errno == EINTR || (s && (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)))) continue;
        if (n <= 0) { rc = 1; break; }   /* end of stream, or (TLS) a close without close_notify */
        *got += (size_t)n;
        if (*got >= cap - 1) *got = 0;   /* keep reading; only the close matters then */
    }
done:
    out[*got] = '\0';
    *ms = now_ms() - t0;
    if (s) gnutls_deinit(s);
    close(fd);
    return rc;
}

static void *worker(void *arg)
{
    static __thread char buf[65536];
    (void)arg;
    for (;;) {
        size_t got;
        double ms;
        int i, r, code = 0;
        pthread_mutex_lock(&lock);
        i = next_i++;
        pthread_mutex_unlock(&lock);
        if (i >= total) break;
        r = exchange(buf, sizeof buf, &got, &ms);
        if (got >= 12 && strncmp(buf, "HTTP/1.", 7) == 0) code = atoi(buf + 9);
        pthread_mutex_lock(&lock);
        if (r == 0) still_open++;
        if (code > 0 && code < 1000) counts[code]++;
        else none++;
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int opt, threads = 1;
    size_t cap = 0;

    while ((opt = getopt(argc, argv, "st:n:P:f:")) != -1) {
        switch (opt) {
        case 's': use_tls = 1; break;
        case 't': timeout_ms = atoi(optarg); break;
        case 'n': total = atoi(optarg); break;
        case 'P': threads = atoi(optarg); break;
        case 'f': from = optarg; break;
        default: goto usage;
        }
    }
    if (optind != argc - 1 || total < 1 || total > 1000000 || threads < 1 || threads > 64 ||
        timeout_ms < 1 || timeout_ms > 60000)
        goto usage;
    port = (unsigned)atoi(argv[optind]);
    if (use_tls && (gnutls_global_init() < 0 || gnutls_certificate_allocate_credentials(&cred) < 0)) return 2;
    for (;;) {                       /* the request bytes from stdin */
        size_t n;
        if (req_len == cap && (req = realloc(req, cap = cap * 2 + 4096)) == NULL) return 2;
        n = fread(req + req_len, 1, cap - req_len, stdin);
        if (n == 0) break;
        req_len += n;
    }
    if (total == 1) {
        static char buf[1 << 20];
        size_t got;
        double ms;
        int r = exchange(buf, sizeof buf, &got, &ms);
        fwrite(buf, 1, got, stdout);
        fprintf(stderr, "%s after %.0f ms\n", r == 1 ? "closed" : r == 0 ? "open" : "error", ms);
        return r < 0 ? 1 : 0;
    } else {
        pthread_t t[64];
        for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, NULL);
        for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
        for (int c = 0; c < 1000; c++) if (counts[c]) printf("%d=%u ", c, counts[c]);
        printf("none=%u open=%u\n", none, still_open);
    }
    free(req);
    return 0;
usage:
    fprintf(stderr, "usage: rawhttp [-s] [-n N] [-P THREADS] [-t MS] [-f ADDR] PORT < BYTES\n");
    return 2;
}
