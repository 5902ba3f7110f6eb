/* gate_test: server/gate.c's hand-over of established TLS sessions, with a
 * stand-in for libmicrohttpd's MHD_add_connection (this executable's own
 * definition, which gate.o calls; libmicrohttpd is not linked) that does
 * what 0.9.75 does with a handed connection, and what its failure paths do:
 * - started: it makes its session with gnutls_init on the gate's thread,
 *   and later calls gnutls_handshake on another thread, then reads and
 *   writes records: the gate's established session, its handshake done;
 * - dropped before it started: it frees the session and closes the socket
 *   on another thread, and notifies nobody (its per-worker limit, memory):
 *   the gate gives back the address's count and the total (on d623864's
 *   gate, neither came back: the address stayed at its limit);
 * - refused after making the session, or before: given back once, not twice.
 * And what never reaches libmicrohttpd: a ClientHello answered and then
 * silence, closed at the deadline; bytes that are no TLS, closed at once;
 * and gnutls_init elsewhere in the process is GnuTLS's own. A real GnuTLS
 * client on loopback; the certificate is made by certgen. */
#include "certgen.h"
#include "gate.h"
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <poll.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static int passed, failed;

static void check(int ok, const char *what)
{
    printf("%s  %s\n", ok ? "ok  " : "FAIL", what);
    if (ok) passed++;
    else failed++;
}

/* ---- the stand-in for libmicrohttpd ---- */

enum { MHD_START, MHD_REFUSE_BEFORE, MHD_REFUSE_AFTER };

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int mode;
    int handed;                 /* connections given to us */
    gnutls_session_t s;         /* the last one's session, made by gnutls_init */
    int fd;
    int init_rc;
} mhd = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, MHD_START, 0, NULL, -1, 0 };

enum MHD_Result MHD_add_connection(struct MHD_Daemon *daemon, MHD_socket fd, const struct sockaddr *addr,
        socklen_t addrlen)
{
    gnutls_session_t s = NULL;
    enum MHD_Result r = MHD_YES;

    (void)daemon; (void)addr; (void)addrlen;
    pthread_mutex_lock(&mhd.lock);
    if (mhd.mode == MHD_REFUSE_BEFORE) {
        close(fd);
        r = MHD_NO;
    } else {
        /* new_connection_prepare_: on the caller's thread */
        mhd.init_rc = gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL);
        gnutls_transport_set_int(s, fd);
        if (mhd.mode == MHD_REFUSE_AFTER) {
            gnutls_deinit(s);
            close(fd);
            s = NULL;
            r = MHD_NO;
        }
    }
    mhd.s = s;
    mhd.fd = r == MHD_YES ? fd : -1;
    mhd.handed++;
    pthread_cond_broadcast(&mhd.cond);
    pthread_mutex_unlock(&mhd.lock);
    return r;
}

/* Waits until n connections were handed over (2 s at most). */
static int mhd_wait(int n)
{
    struct timespec until;
    int rc = 0;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    pthread_mutex_lock(&mhd.lock);
    while (mhd.handed < n && rc == 0) rc = pthread_cond_timedwait(&mhd.cond, &mhd.lock, &until);
    rc = mhd.handed >= n;
    pthread_mutex_unlock(&mhd.lock);
    return rc;
}

/* ---- the caller's hooks: the total ---- */

static atomic_int admitted, released, reaped;

static int hook_admit(void *cls) { (void)cls; atomic_fetch_add(&admitted, 1); return 0; }
static void hook_release(void *cls) { (void)cls; atomic_fetch_add(&released, 1); }
static void hook_reaped(void *cls, unsigned n) { (void)cls; atomic_fetch_add(&reaped, (int)n); }

/* Waits until released reaches n (6 s at most: past the 3 s deadline). */
static int released_wait(int n)
{
    for (int i = 0; i < 600 && atomic_load(&released) < n; i++) usleep(10000);
    return atomic_load(&released) == n;
}

/* ---- a client ---- */

static gnutls_certificate_credentials_t client_cred;

static int tcp_connect(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* A client's reads that never read: it sends its ClientHello and never
   goes further, however soon the server's answer is there. */
static ssize_t never_read(gnutls_transport_ptr_t p, void *buf, size_t n)
{
    (void)p; (void)buf; (void)n;
    errno = EAGAIN;
    return -1;
}

/* A whole handshake (blocking, 3 s at most): the session, or NULL. */
static gnutls_session_t tls_client(int fd)
{
    gnutls_session_t c = NULL;
    int r;

    if (gnutls_init(&c, GNUTLS_CLIENT) < 0) return NULL;
    gnutls_set_default_priority(c);
    gnutls_credentials_set(c, GNUTLS_CRD_CERTIFICATE, client_cred);
    gnutls_server_name_set(c, GNUTLS_NAME_DNS, "localhost", 9);
    gnutls_transport_set_int(c, fd);
    gnutls_handshake_set_timeout(c, 3000);
    do r = gnutls_handshake(c);
    while (r < 0 && !gnutls_error_is_fatal(r));
    if (r < 0) {
        fprintf(stderr, "client handshake: %s\n", gnutls_strerror(r));
        gnutls_deinit(c);
        return NULL;
    }
    return c;
}

/* Whether the address may open one more connection: with a per-address
   limit of 1, a TCP connection the gate holds rather than closes at its
   accept. A connection it held is given back when this one closes: that
   is waited for, so the counts are as before. */
static int address_has_room(int port)
{
    struct timeval tv = { 0, 300000 };
    int fd = tcp_connect(port), ok, before = atomic_load(&released);
    char b;

    if (fd < 0) return 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    /* over the limit the gate closes it at once: recv sees the end */
    ok = recv(fd, &b, 1, 0) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    close(fd);
    if (ok) released_wait(before + 1);
    atomic_store(&released, before);
    return ok;
}

static int handed(void)
{
    int n;
    pthread_mutex_lock(&mhd.lock);
    n = mhd.handed;
    pthread_mutex_unlock(&mhd.lock);
    return n;
}

int main(void)
{
    char dir[] = "/tmp/gate_test.XXXXXX", cert[256], key[256], err[256];
    gate *g = NULL;
    tls_server ts;
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t alen = sizeof a;
    int lfd, port;

    if (mkdtemp(dir) == NULL) return 1;
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    if (certgen_create(cert, key, err, sizeof err) != 0 || tls_init(cert, key, err, sizeof err) != 0 ||
        tls_server_init(&ts, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "gate_test: %s\n", err);
        return 1;
    }
    gnutls_certificate_allocate_credentials(&client_cred);
    gnutls_certificate_set_x509_trust_file(client_cred, cert, GNUTLS_X509_FMT_PEM);

    lfd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 64) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) != 0) {
        perror("gate_test: listen");
        return 1;
    }
    port = ntohs(a.sin_port);
    gate_config gc = {
        .listen_fd = lfd, .d = NULL, .deadline_ms = 3000, .per_ip = 1, .max_fd = 4096, .threads = 2,
        .cred = ts.cred, .priorities = ts.priorities,
        .hooks = { .admit = hook_admit, .release = hook_release, .reaped = hook_reaped },
    };
    if (gate_start(&gc, &g, err, sizeof err) != 0) {
        fprintf(stderr, "gate_test: %s\n", err);
        return 1;
    }

    /* 1. started: the established session, handed over */
    {
        int before = handed(), fd = tcp_connect(port), ok, r = GNUTLS_E_AGAIN;
        gnutls_session_t c = fd >= 0 ? tls_client(fd) : NULL;
        struct timespec at;
        char buf[8] = { 0 };

        check(c != NULL, "started: the client's handshake with the gate completes");
        check(mhd_wait(before + 1) && mhd.init_rc == GNUTLS_E_SUCCESS && mhd.s != NULL,
              "started: handed over; libmicrohttpd's gnutls_init answers with a session");
        check(gate_started(g, mhd.fd, &at) == 0, "started: gate_started knows the descriptor");
        check(gnutls_handshake(mhd.s) == GNUTLS_E_SUCCESS,
              "started: libmicrohttpd's first gnutls_handshake, on another thread, answers success");
        ok = c != NULL && gnutls_record_send(c, "ping", 4) == 4;
        for (int i = 0; i < 300 && r == GNUTLS_E_AGAIN; i++) {   /* non-blocking, as libmicrohttpd reads */
            r = gnutls_record_recv(mhd.s, buf, 4);
            if (r == GNUTLS_E_AGAIN) usleep(10000);
        }
        check(ok && r == 4 && memcmp(buf, "ping", 4) == 0, "started: it is the gate's session: it reads the client's record");
        ok = gnutls_record_send(mhd.s, "pong", 4) == 4;
        memset(buf, 0, sizeof buf);
        ok = ok && c != NULL && gnutls_record_recv(c, buf, 4) == 4 && memcmp(buf, "pong", 4) == 0;
        check(ok, "started: and the client reads what libmicrohttpd writes");
        check(!address_has_room(port), "started: the address is at its limit (1) while libmicrohttpd has it");
        /* libmicrohttpd closes it: CLOSED, then the session freed, then the socket */
        gate_closed(g, mhd.fd);
        gnutls_deinit(mhd.s);
        close(mhd.fd);
        usleep(100000);
        check(atomic_load(&released) == 0, "started: closed by libmicrohttpd: the gate gives back no total (the caller does)");
        check(address_has_room(port), "started: the address has room again after the close");
        if (c) gnutls_deinit(c);
        close(fd);
    }

    /* 2. dropped by libmicrohttpd before it started, on another thread */
    {
        int before = handed(), fd = tcp_connect(port);
        gnutls_session_t c = fd >= 0 ? tls_client(fd) : NULL;

        check(mhd_wait(before + 1) && mhd.s != NULL, "dropped: handed over");
        check(!address_has_room(port), "dropped: the address is at its limit while libmicrohttpd has it");
        gnutls_deinit(mhd.s);   /* new_connection_process_'s failure path: no notification */
        close(mhd.fd);
        check(released_wait(1), "dropped: the gate gives back the total, once");
        atomic_store(&released, 0);
        check(address_has_room(port), "dropped: and the address's count (the address has room again)");
        if (c) gnutls_deinit(c);
        close(fd);
    }

    /* 3. refused after libmicrohttpd made its session, and before */
    for (int m = MHD_REFUSE_AFTER; m >= MHD_REFUSE_BEFORE; m--) {
        const char *when = m == MHD_REFUSE_AFTER ? "after" : "before";
        int before = handed(), fd, once;
        gnutls_session_t c;
        char what[120];

        pthread_mutex_lock(&mhd.lock);
        mhd.mode = m;
        pthread_mutex_unlock(&mhd.lock);
        fd = tcp_connect(port);
        c = fd >= 0 ? tls_client(fd) : NULL;
        once = mhd_wait(before + 1) && released_wait(1);
        usleep(100000);
        snprintf(what, sizeof what, "refused %s libmicrohttpd's session: the total given back once, not twice", when);
        check(once && atomic_load(&released) == 1, what);
        atomic_store(&released, 0);
        snprintf(what, sizeof what, "refused %s libmicrohttpd's session: the address has room again", when);
        check(address_has_room(port), what);
        if (c) gnutls_deinit(c);
        close(fd);
    }
    pthread_mutex_lock(&mhd.lock);
    mhd.mode = MHD_START;
    pthread_mutex_unlock(&mhd.lock);

    /* 4. what never reaches libmicrohttpd */
    {
        int before = handed(), fd = tcp_connect(port);
        gnutls_session_t c = NULL;
        char b;

        /* a ClientHello, the server's answer left unread, then silence */
        if (fd >= 0 && fcntl(fd, F_SETFL, O_NONBLOCK) == 0 && gnutls_init(&c, GNUTLS_CLIENT | GNUTLS_NONBLOCK) >= 0) {
            gnutls_set_default_priority(c);
            gnutls_credentials_set(c, GNUTLS_CRD_CERTIFICATE, client_cred);
            gnutls_transport_set_int(c, fd);
            gnutls_transport_set_pull_function(c, never_read);
            (void)gnutls_handshake(c);
        }
        {   /* the server's flight (3 s at most: a loaded machine) */
            struct pollfd pf = { .fd = fd, .events = POLLIN };
            check(poll(&pf, 1, 3000) == 1 && recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 1,
                  "silent after its ClientHello: the gate answered it");
        }
        check(atomic_load(&released) == 0 && handed() == before, "silent after its ClientHello: held, not handed over");
        check(released_wait(1) && atomic_load(&reaped) == 1,
              "silent after its ClientHello: closed at the 3 s deadline (reaped), its total given back");
        if (c) gnutls_deinit(c);
        close(fd);
        atomic_store(&released, 0);

        fd = tcp_connect(port);
        (void)!send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, MSG_NOSIGNAL);
        check(released_wait(1) && handed() == before, "plain HTTP on the TLS port: closed by the gate, not handed over");
        check(atomic_load(&reaped) == 1, "plain HTTP on the TLS port: at once, not at the deadline");
        close(fd);
        atomic_store(&released, 0);
    }

    /* 5. gnutls_init anywhere else is GnuTLS's own */
    {
        gnutls_session_t s1 = NULL, s2 = NULL;
        check(gnutls_init(&s1, GNUTLS_SERVER) == 0 && gnutls_init(&s2, GNUTLS_SERVER) == 0 && s1 != s2 &&
              s1 != mhd.s, "elsewhere: gnutls_init makes new sessions");
        check(gnutls_handshake(s1) < 0, "elsewhere: a new session's gnutls_handshake is GnuTLS's (no transport: fails)");
        gnutls_deinit(s1);
        gnutls_deinit(s2);
    }

    gate_stop(g);
    gate_free(g);
    tls_server_free(&ts);
    tls_shutdown();
    gnutls_certificate_free_credentials(client_cred);
    unlink(cert);
    unlink(key);
    rmdir(dir);
    printf("gate: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
