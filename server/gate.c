/* gate: the TLS listener's connections, held until their handshake is
 * done, then handed to libmicrohttpd with their session (see gate.h). */
#include "gate.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <yder.h>

#define GATE_IP_BUCKETS 4096
#define GATE_EVENTS 256
#define GATE_ACCEPTS_PER_TURN 64
/* TLS: a handshake record (content type 22) of at most 2^14 bytes of
   plaintext; 2,048 more for a record that is not plaintext */
#define GATE_TLS_HANDSHAKE 0x16
#define GATE_TLS_MAX_RECORD (16384 + 2048)
/* accept failing for want of descriptors: listen again after this long */
#define GATE_ACCEPT_PAUSE_MS 100

/* Connections of one client address (the key as libmicrohttpd's: family
   and the address, without the port). */
typedef struct gate_ip {
    unsigned char key[17];
    unsigned count;
    struct gate_ip *next;
} gate_ip;

/* A connection held: in the epoll, and in the list oldest first (every one
   has the same deadline, so the list is also in deadline order). */
typedef struct gate_held {
    int fd;
    socklen_t addrlen;
    struct sockaddr_storage addr;
    struct timespec at;
    gate_ip *ip;                /* its address's count, or NULL (no per-address limit) */
    gnutls_session_t tls;       /* once its first record is whole: the handshake under way */
    struct gate_held *prev, *next;
} gate_held;

/* What a handed-over descriptor keeps, for gate_started and gate_closed. */
typedef struct gate_fd {
    struct timespec at;
    gate_ip *ip;
    int handed;
    int started;                /* libmicrohttpd said so (gate_started) */
} gate_fd;

struct gate {
    gate_config cfg;
    int ep, wake;               /* the epoll; an eventfd that wakes it (stop, quiesce) */
    int listening;              /* cfg.listen_fd is still open (the thread's) */
    int thread_started;
    pthread_t thread;
    atomic_int stop, quiesce;
    int quiesce_asked;          /* gate_quiesce's, called from one thread */
    struct timespec accept_paused_until;
    int accept_paused;
    gate_held *head, *tail;     /* the thread's */
    pthread_mutex_t lock;       /* ips and fds */
    gate_ip *ips[GATE_IP_BUCKETS];
    gate_fd *fds;               /* cfg.max_fd entries */
};

static char gate_wake_tag;      /* epoll data of the eventfd; the listening socket's is NULL */

static double gate_ms_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* ---- the hand-over of an established session (gate.h) ---- */

typedef int (*gate_init_fn)(gnutls_session_t *session, unsigned int flags);
typedef int (*gate_handshake_fn)(gnutls_session_t session);
typedef void (*gate_deinit_fn)(gnutls_session_t session);
typedef _Atomic(gnutls_session_t) gate_slot;

static struct {
    pthread_once_t once;
    gate_init_fn init;          /* GnuTLS's own */
    gate_handshake_fn handshake;
    gate_deinit_fn deinit;
    pthread_mutex_t lock;       /* for the table's making */
    _Atomic(gate_slot *) handed;   /* by descriptor: established, handed over, not yet taken up */
    gate **owner;                  /* by descriptor: the gate that handed it (written before the note) */
    unsigned long n_handed;        /* written before handed is */
} gate_tls = { .once = PTHREAD_ONCE_INIT, .lock = PTHREAD_MUTEX_INITIALIZER };

/* The session gnutls_init gives libmicrohttpd during this thread's
   MHD_add_connection; NULL once taken (or when there is none). */
static _Thread_local gnutls_session_t gate_adopt;
/* This thread is in gate_hand's MHD_add_connection: a session freed now is
   one that gate_hand gives back itself. */
static _Thread_local int gate_handing;

static void gate_unstarted(gate *g, int fd);

static void gate_tls_resolve(void)
{
    gate_tls.init = (gate_init_fn)dlsym(RTLD_NEXT, "gnutls_init");
    gate_tls.handshake = (gate_handshake_fn)dlsym(RTLD_NEXT, "gnutls_handshake");
    gate_tls.deinit = (gate_deinit_fn)dlsym(RTLD_NEXT, "gnutls_deinit");
    if (gate_tls.init == NULL || gate_tls.handshake == NULL || gate_tls.deinit == NULL) {
        /* no GnuTLS behind this executable: nothing can work */
        fprintf(stderr, "apikeyd: cannot find GnuTLS's gnutls_init, gnutls_handshake, gnutls_deinit\n");
        abort();
    }
}

/* Whether s is a session the gate handed over and nobody took up yet:
   its descriptor, the note taken off (once: the first caller alone gets
   it), or -1. */
static int gate_tls_take(gnutls_session_t s)
{
    gate_slot *t = atomic_load_explicit(&gate_tls.handed, memory_order_acquire);
    gnutls_session_t want = s;
    int fd;

    if (t == NULL || s == NULL) return -1;
    fd = gnutls_transport_get_int(s);
    if (fd < 0 || (unsigned long)fd >= gate_tls.n_handed) return -1;
    return atomic_compare_exchange_strong(&t[fd], &want, NULL) ? fd : -1;
}

int gnutls_init(gnutls_session_t *session, unsigned int flags)
{
    gnutls_session_t s = gate_adopt;

    if (s != NULL) {            /* libmicrohttpd's, for the connection being handed over */
        gate_adopt = NULL;
        *session = s;
        return GNUTLS_E_SUCCESS;
    }
    pthread_once(&gate_tls.once, gate_tls_resolve);
    return gate_tls.init(session, flags);
}

int gnutls_handshake(gnutls_session_t session)
{
    pthread_once(&gate_tls.once, gate_tls_resolve);
    if (gate_tls_take(session) >= 0) return GNUTLS_E_SUCCESS;   /* the gate did it */
    return gate_tls.handshake(session);
}

void gnutls_deinit(gnutls_session_t session)
{
    int fd;

    pthread_once(&gate_tls.once, gate_tls_resolve);
    /* freed before its first handshake call: libmicrohttpd dropped the
       connection, perhaps without starting it (before its socket closes) */
    fd = gate_tls_take(session);
    if (fd >= 0 && !gate_handing) gate_unstarted(gate_tls.owner[fd], fd);
    gate_tls.deinit(session);
}

/* The table of handed sessions, for descriptors below max_fd: 0, or -1
   (out of memory, or a table made for fewer descriptors already). */
static int gate_tls_table(unsigned long max_fd)
{
    int rc = 0;

    pthread_once(&gate_tls.once, gate_tls_resolve);
    pthread_mutex_lock(&gate_tls.lock);
    if (atomic_load(&gate_tls.handed) == NULL) {
        gate_slot *t = calloc(max_fd, sizeof *t);   /* untouched pages cost nothing */
        gate_tls.owner = calloc(max_fd, sizeof *gate_tls.owner);
        if (t == NULL || gate_tls.owner == NULL) {
            free(t);
            free(gate_tls.owner);
            gate_tls.owner = NULL;
            rc = -1;
        } else {
            gate_tls.n_handed = max_fd;
            atomic_store_explicit(&gate_tls.handed, t, memory_order_release);
        }
    } else if (gate_tls.n_handed < max_fd) {
        rc = -1;                /* one open-file limit per process: never seen */
    }
    pthread_mutex_unlock(&gate_tls.lock);
    return rc;
}

/* ---- per-address counts (under g->lock) ---- */

static int gate_ip_key(const struct sockaddr_storage *sa, unsigned char key[17])
{
    memset(key, 0, 17);
    if (sa->ss_family == AF_INET) {
        key[0] = 4;
        memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return 0;
    }
    if (sa->ss_family == AF_INET6) {
        key[0] = 6;
        memcpy(key + 1, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return 0;
    }
    return -1;
}

static size_t gate_ip_hash(const unsigned char key[17])
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 17; i++) h = (h ^ key[i]) * 16777619u;
    return h % GATE_IP_BUCKETS;
}

/* One connection more for sa's address: 0 (*out its count, or NULL when
   there is no limit or the address has no key), or -1 when the address is
   at its limit or out of memory. */
static int gate_ip_take(gate *g, const struct sockaddr_storage *sa, gate_ip **out)
{
    unsigned char key[17];
    gate_ip *ip;
    size_t h;
    int rc = -1;

    *out = NULL;
    if (g->cfg.per_ip == 0 || gate_ip_key(sa, key) != 0) return 0;
    h = gate_ip_hash(key);
    pthread_mutex_lock(&g->lock);
    for (ip = g->ips[h]; ip != NULL && memcmp(ip->key, key, sizeof key) != 0; ip = ip->next) {}
    if (ip == NULL && (ip = calloc(1, sizeof *ip)) != NULL) {
        memcpy(ip->key, key, sizeof key);
        ip->next = g->ips[h];
        g->ips[h] = ip;
    }
    if (ip != NULL && ip->count < g->cfg.per_ip) {
        ip->count++;
        *out = ip;
        rc = 0;
    }
    pthread_mutex_unlock(&g->lock);
    return rc;
}

/* One connection less (caller holds g->lock); the count goes at 0. */
static void gate_ip_drop_locked(gate *g, gate_ip *ip)
{
    gate_ip **pp;

    if (ip == NULL || --ip->count > 0) return;
    for (pp = &g->ips[gate_ip_hash(ip->key)]; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == ip) {
            *pp = ip->next;
            free(ip);
            return;
        }
    }
}

static void gate_ip_drop(gate *g, gate_ip *ip)
{
    if (ip == NULL) return;
    pthread_mutex_lock(&g->lock);
    gate_ip_drop_locked(g, ip);
    pthread_mutex_unlock(&g->lock);
}

/* ---- held connections (the thread's) ---- */

static void gate_unlink(gate *g, gate_held *c)
{
    if (c->prev) c->prev->next = c->next;
    else g->head = c->next;
    if (c->next) c->next->prev = c->prev;
    else g->tail = c->prev;
    c->prev = c->next = NULL;
}

/* Closes a held connection and gives back what it counted. */
static void gate_drop(gate *g, gate_held *c)
{
    gate_unlink(g, c);
    close(c->fd);               /* leaves the epoll with it */
    if (c->tls != NULL) gnutls_deinit(c->tls);
    gate_ip_drop(g, c->ip);
    g->cfg.hooks.release(g->cfg.hooks.cls);
    free(c);
}

/* The handshake is done: to libmicrohttpd, session and all (gate.h). */
static void gate_hand(gate *g, gate_held *c)
{
    int fd = c->fd;
    gate_ip *ip = c->ip;
    gnutls_session_t tls = c->tls;
    struct sockaddr_storage addr = c->addr;
    socklen_t addrlen = c->addrlen;
    enum MHD_Result r;

    gate_unlink(g, c);
    epoll_ctl(g->ep, EPOLL_CTL_DEL, fd, NULL);
    pthread_mutex_lock(&g->lock);
    g->fds[fd].at = c->at;
    g->fds[fd].ip = ip;
    g->fds[fd].handed = 1;
    g->fds[fd].started = 0;
    pthread_mutex_unlock(&g->lock);
    free(c);
    /* fd is below max_fd (gate_accept), the table's size (gate_start) */
    gate_tls.owner[fd] = g;
    atomic_store(&atomic_load(&gate_tls.handed)[fd], tls);
    gate_adopt = tls;
    gate_handing = 1;
    r = MHD_add_connection(g->cfg.d, fd, (const struct sockaddr *)&addr, addrlen);
    if (gate_adopt != NULL) {   /* libmicrohttpd made no session: it is still the gate's */
        gate_adopt = NULL;
        gnutls_deinit(tls);     /* the note under fd too */
    }
    gate_handing = 0;
    if (r == MHD_YES) return;
    /* refused (its limit, memory): libmicrohttpd closed the socket */
    pthread_mutex_lock(&g->lock);
    g->fds[fd].handed = 0;
    g->fds[fd].ip = NULL;
    gate_ip_drop_locked(g, ip);
    pthread_mutex_unlock(&g->lock);
    g->cfg.hooks.release(g->cfg.hooks.cls);
}

/* A step of c's handshake, as far as the socket lets it go: done (to
   libmicrohttpd), failed (closed), or waiting for the epoll. */
static void gate_shake(gate *g, gate_held *c)
{
    int r;

    /* a warning alert is not the end (GnuTLS: call again); each one read
       is a record of the client's, so this ends with its bytes */
    do r = gate_tls.handshake(c->tls);
    while (r == GNUTLS_E_INTERRUPTED || (r < 0 && r != GNUTLS_E_AGAIN && !gnutls_error_is_fatal(r)));
    if (r == GNUTLS_E_SUCCESS) {
        gate_hand(g, c);
    } else if (r != GNUTLS_E_AGAIN) {
        y_log_message(Y_LOG_LEVEL_DEBUG, "TLS handshake failed: %s", gnutls_strerror(r));
        gate_drop(g, c);
    }
}

/* libmicrohttpd's ALPN list (0.9.75, new_connection_prepare_) */
static const gnutls_datum_t gate_alpn[] = {
    { (unsigned char *)"http/1.1", 8 }, { (unsigned char *)"http/1.0", 8 },
};

/* c's first record is whole (or is no TLS): its session, and the first
   step of its handshake. */
static void gate_begin(gate *g, gate_held *c)
{
    if (gate_tls.init(&c->tls, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL) != GNUTLS_E_SUCCESS) {
        c->tls = NULL;
        gate_drop(g, c);
        return;
    }
    if (gnutls_priority_set(c->tls, g->cfg.priorities) < 0 ||
        gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, g->cfg.cred) < 0 ||
        gnutls_alpn_set_protocols(c->tls, gate_alpn, 2, 0) < 0 ||
        (g->cfg.hooks.session != NULL && g->cfg.hooks.session(g->cfg.hooks.cls, c->tls) != 0)) {
        gate_drop(g, c);
        return;
    }
    gnutls_transport_set_int(c->tls, c->fd);
    gate_shake(g, c);
}

/* Bytes arrived on c, room to send came (or it closed): a step of its
   handshake, or, before its first record is whole, a look at what came. */
static void gate_look(gate *g, gate_held *c, uint32_t events)
{
    unsigned char h[5];
    ssize_t got;
    int avail = 0;
    size_t len;

    if (c->tls != NULL) {
        gate_shake(g, c);
        return;
    }
    got = recv(c->fd, h, sizeof h, MSG_PEEK | MSG_DONTWAIT);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        if (events & (EPOLLERR | EPOLLHUP)) gate_drop(g, c);
        return;
    }
    if (got <= 0) {             /* the peer left, or an error */
        gate_drop(g, c);
        return;
    }
    if (h[0] != GATE_TLS_HANDSHAKE) {   /* no TLS: gnutls says so */
        gate_begin(g, c);
        return;
    }
    if (got == (ssize_t)sizeof h) {
        len = (size_t)h[3] << 8 | h[4];
        if (len == 0 || len > GATE_TLS_MAX_RECORD ||
            (ioctl(c->fd, FIONREAD, &avail) == 0 && (size_t)avail >= sizeof h + len)) {
            gate_begin(g, c);
            return;
        }
    }
    /* not whole yet; the peer half-closed: it never will be */
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) gate_drop(g, c);
}

/* Accepts what the backlog holds (a bounded number per turn). */
static void gate_accept(gate *g)
{
    for (int i = 0; i < GATE_ACCEPTS_PER_TURN; i++) {
        struct sockaddr_storage addr;
        socklen_t addrlen = sizeof addr;
        struct epoll_event ev;
        gate_held *c;
        gate_ip *ip = NULL;
        int fd = accept4(g->cfg.listen_fd, (struct sockaddr *)&addr, &addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* the listening socket stays readable: look again later, not at once */
                struct epoll_event off = { 0 };
                off.data.ptr = NULL;
                epoll_ctl(g->ep, EPOLL_CTL_MOD, g->cfg.listen_fd, &off);
                clock_gettime(CLOCK_MONOTONIC, &g->accept_paused_until);
                g->accept_paused_until.tv_nsec += GATE_ACCEPT_PAUSE_MS * 1000000L;
                if (g->accept_paused_until.tv_nsec >= 1000000000L) {
                    g->accept_paused_until.tv_sec++;
                    g->accept_paused_until.tv_nsec -= 1000000000L;
                }
                if (!g->accept_paused)
                    y_log_message(Y_LOG_LEVEL_WARNING, "TLS listener: cannot accept: %s", strerror(errno));
                g->accept_paused = 1;
            }
            return;             /* EAGAIN, or a connection that left first */
        }
        if ((unsigned long)fd >= g->cfg.max_fd || gate_ip_take(g, &addr, &ip) != 0) {
            close(fd);          /* over the per-address limit */
            continue;
        }
        if (g->cfg.hooks.admit(g->cfg.hooks.cls) != 0) {
            close(fd);          /* over the total: no session yet to carry an answer */
            gate_ip_drop(g, ip);
            continue;
        }
        c = calloc(1, sizeof *c);
        if (c == NULL) {
            close(fd);
            gate_ip_drop(g, ip);
            g->cfg.hooks.release(g->cfg.hooks.cls);
            continue;
        }
        c->fd = fd;
        c->addr = addr;
        c->addrlen = addrlen;
        c->ip = ip;
        clock_gettime(CLOCK_MONOTONIC, &c->at);
        c->prev = g->tail;
        if (g->tail) g->tail->next = c;
        else g->head = c;
        g->tail = c;
        memset(&ev, 0, sizeof ev);
        /* the handshake sends too: room to send wakes it as bytes do */
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.ptr = c;
        if (epoll_ctl(g->ep, EPOLL_CTL_ADD, fd, &ev) != 0) gate_drop(g, c);
        else gate_look(g, c, 0);   /* a client's ClientHello is often there with its accept */
    }
}

/* Closes every connection held past the deadline; the time to wait until
   the next one is due (ms, for epoll_wait), or -1. */
static int gate_reap(gate *g)
{
    struct timespec now;
    unsigned n = 0;
    int wait = -1;

    clock_gettime(CLOCK_MONOTONIC, &now);
    while (g->head != NULL) {
        double left = (double)g->cfg.deadline_ms - gate_ms_between(&g->head->at, &now);
        if (left > 0) {
            wait = (int)left + 1;
            break;
        }
        gate_drop(g, g->head);
        n++;
    }
    if (n > 0 && g->cfg.hooks.reaped) g->cfg.hooks.reaped(g->cfg.hooks.cls, n);
    if (g->accept_paused && g->listening) {
        double left = gate_ms_between(&now, &g->accept_paused_until);
        if (left <= 0) {
            struct epoll_event on = { 0 };
            on.events = EPOLLIN;
            on.data.ptr = NULL;
            epoll_ctl(g->ep, EPOLL_CTL_MOD, g->cfg.listen_fd, &on);
            g->accept_paused = 0;
        } else if (wait < 0 || left + 1 < wait) {
            wait = (int)left + 1;
        }
    }
    return wait;
}

static void *gate_main(void *arg)
{
    gate *g = arg;
    struct epoll_event ev[GATE_EVENTS];
    int wait = -1;

    while (!atomic_load(&g->stop)) {
        int n = epoll_wait(g->ep, ev, GATE_EVENTS, wait);
        if (n < 0 && errno != EINTR) {
            y_log_message(Y_LOG_LEVEL_ERROR, "TLS listener: epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            if (ev[i].data.ptr == &gate_wake_tag) {
                uint64_t v;
                (void)!read(g->wake, &v, sizeof v);
            } else if (ev[i].data.ptr == NULL) {
                if (g->listening) gate_accept(g);
            } else {
                gate_look(g, ev[i].data.ptr, ev[i].events);
            }
        }
        if (atomic_load(&g->quiesce) && g->listening) {
            epoll_ctl(g->ep, EPOLL_CTL_DEL, g->cfg.listen_fd, NULL);
            close(g->cfg.listen_fd);
            g->listening = 0;
        }
        wait = gate_reap(g);
    }
    return NULL;
}

int gate_start(const gate_config *cfg, gate **out, char *err, size_t errlen)
{
    gate *g = calloc(1, sizeof *g);
    struct epoll_event ev;
    int rc = -1, flags;

    *out = NULL;
    if (g == NULL || cfg->max_fd == 0 || cfg->hooks.admit == NULL || cfg->hooks.release == NULL ||
        cfg->cred == NULL || cfg->priorities == NULL) {
        snprintf(err, errlen, "TLS listener: %s", g == NULL ? "out of memory" : "bad gate settings");
        free(g);
        return -1;
    }
    g->cfg = *cfg;
    g->ep = g->wake = -1;
    pthread_mutex_init(&g->lock, NULL);
    g->fds = calloc(cfg->max_fd, sizeof *g->fds);   /* untouched pages cost nothing */
    if (g->fds == NULL || gate_tls_table(cfg->max_fd) != 0) {
        snprintf(err, errlen, "TLS listener: out of memory");
        goto cleanup;
    }
    g->ep = epoll_create1(EPOLL_CLOEXEC);
    g->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (g->ep < 0 || g->wake < 0) {
        snprintf(err, errlen, "TLS listener: cannot create its epoll: %s", strerror(errno));
        goto cleanup;
    }
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = &gate_wake_tag;
    if (epoll_ctl(g->ep, EPOLL_CTL_ADD, g->wake, &ev) != 0) {
        snprintf(err, errlen, "TLS listener: epoll_ctl: %s", strerror(errno));
        goto cleanup;
    }
    ev.data.ptr = NULL;         /* level-triggered: what one turn leaves, the next accepts */
    flags = fcntl(cfg->listen_fd, F_GETFL);
    if (flags < 0 || fcntl(cfg->listen_fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
        epoll_ctl(g->ep, EPOLL_CTL_ADD, cfg->listen_fd, &ev) != 0) {
        snprintf(err, errlen, "TLS listener: epoll_ctl: %s", strerror(errno));
        goto cleanup;
    }
    g->listening = 1;
    *out = g;                   /* before the first hand-over: the daemon's hooks read it */
    if (pthread_create(&g->thread, NULL, gate_main, g) != 0) {
        snprintf(err, errlen, "TLS listener: cannot start its accepting thread");
        *out = NULL;
        g->listening = 0;       /* not taken: the caller closes it */
        goto cleanup;
    }
    g->thread_started = 1;
    pthread_setname_np(g->thread, "apikeyd-gate");   /* for top -H and /proc: which thread holds them */
    g = NULL;
    rc = 0;
cleanup:
    if (g != NULL) gate_free(g);
    return rc;
}

int gate_started(gate *g, int fd, struct timespec *at)
{
    int rc = -1;

    if (g == NULL || fd < 0 || (unsigned long)fd >= g->cfg.max_fd) return -1;
    pthread_mutex_lock(&g->lock);
    if (g->fds[fd].handed) {
        g->fds[fd].started = 1;
        *at = g->fds[fd].at;
        rc = 0;
    }
    pthread_mutex_unlock(&g->lock);
    return rc;
}

void gate_closed(gate *g, int fd)
{
    if (g == NULL || fd < 0 || (unsigned long)fd >= g->cfg.max_fd) return;
    pthread_mutex_lock(&g->lock);
    if (g->fds[fd].handed) {
        gate_ip_drop_locked(g, g->fds[fd].ip);
        g->fds[fd].ip = NULL;
        g->fds[fd].handed = 0;
        g->fds[fd].started = 0;
    }
    pthread_mutex_unlock(&g->lock);
}

/* libmicrohttpd freed the session of fd, handed over by g, before its
   first handshake call: if it never started the connection either, nobody
   else will give back what it counted. */
static void gate_unstarted(gate *g, int fd)
{
    int release = 0;

    if (g == NULL) return;
    pthread_mutex_lock(&g->lock);
    if (g->fds[fd].handed && !g->fds[fd].started) {
        gate_ip_drop_locked(g, g->fds[fd].ip);
        g->fds[fd].ip = NULL;
        g->fds[fd].handed = 0;
        release = 1;
    }
    pthread_mutex_unlock(&g->lock);
    if (!release) return;
    y_log_message(Y_LOG_LEVEL_DEBUG, "TLS listener: libmicrohttpd dropped a connection without starting it");
    g->cfg.hooks.release(g->cfg.hooks.cls);
}

static void gate_wake(gate *g)
{
    uint64_t one = 1;
    (void)!write(g->wake, &one, sizeof one);
}

void gate_quiesce(gate *g)
{
    if (g == NULL || g->quiesce_asked) return;
    g->quiesce_asked = 1;
    /* refused from now; then the thread closes it (it alone closes the
       descriptor, and only once the flag says this shutdown is done) */
    shutdown(g->cfg.listen_fd, SHUT_RDWR);
    atomic_store(&g->quiesce, 1);
    gate_wake(g);
}

void gate_stop(gate *g)
{
    if (g == NULL || !g->thread_started) return;
    atomic_store(&g->stop, 1);
    gate_wake(g);
    pthread_join(g->thread, NULL);
    g->thread_started = 0;
    while (g->head != NULL) gate_drop(g, g->head);
    if (g->listening) {
        close(g->cfg.listen_fd);
        g->listening = 0;
    }
}

void gate_free(gate *g)
{
    if (g == NULL) return;
    gate_stop(g);
    for (size_t h = 0; h < GATE_IP_BUCKETS; h++) {
        while (g->ips[h] != NULL) {
            gate_ip *ip = g->ips[h];
            g->ips[h] = ip->next;
            free(ip);
        }
    }
    if (g->ep >= 0) close(g->ep);
    if (g->wake >= 0) close(g->wake);
    free(g->fds);
    pthread_mutex_destroy(&g->lock);
    free(g);
}
