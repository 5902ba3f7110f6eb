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

/* One of the gate's threads: its epoll, and the connections it holds. */
typedef struct gate_worker {
    struct gate *g;
    int ep, wake;               /* the epoll; an eventfd that wakes it (stop, quiesce) */
    int thread_started;
    pthread_t thread;
    int listening;              /* the listening socket is this thread's to accept from */
    int accept_paused;          /* ... but out of its epoll until accept_paused_until */
    struct timespec accept_paused_until;
    gate_held *head, *tail;     /* held, oldest first */
} gate_worker;

struct gate {
    gate_config cfg;
    unsigned n_workers;
    gate_worker *w;             /* n_workers */
    atomic_int stop, quiesce;
    int quiesce_asked;          /* gate_quiesce's, called from one thread */
    atomic_uint listeners;      /* threads that still accept; the last to stop closes the socket */
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

static void gate_unlink(gate_worker *w, gate_held *c)
{
    if (c->prev) c->prev->next = c->next;
    else w->head = c->next;
    if (c->next) c->next->prev = c->prev;
    else w->tail = c->prev;
    c->prev = c->next = NULL;
}

/* Closes a held connection and gives back what it counted. */
static void gate_drop(gate_worker *w, gate_held *c)
{
    gate *g = w->g;

    gate_unlink(w, c);
    close(c->fd);               /* leaves the epoll with it */
    if (c->tls != NULL) gnutls_deinit(c->tls);
    gate_ip_drop(g, c->ip);
    g->cfg.hooks.release(g->cfg.hooks.cls);
    free(c);
}

/* The handshake is done: to libmicrohttpd, session and all (gate.h). */
static void gate_hand(gate_worker *w, gate_held *c)
{
    gate *g = w->g;
    int fd = c->fd;
    gate_ip *ip = c->ip;
    gnutls_session_t tls = c->tls;
    struct sockaddr_storage addr = c->addr;
    socklen_t addrlen = c->addrlen;
    enum MHD_Result r;

    gate_unlink(w, c);
    epoll_ctl(w->ep, EPOLL_CTL_DEL, fd, NULL);
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
static void gate_shake(gate_worker *w, gate_held *c)
{
    int r;

    /* a warning alert is not the end (GnuTLS: call again); each one read
       is a record of the client's, so this ends with its bytes */
    do r = gate_tls.handshake(c->tls);
    while (r == GNUTLS_E_INTERRUPTED || (r < 0 && r != GNUTLS_E_AGAIN && !gnutls_error_is_fatal(r)));
    if (r == GNUTLS_E_SUCCESS) {
        gate_hand(w, c);
    } else if (r != GNUTLS_E_AGAIN) {
        y_log_message(Y_LOG_LEVEL_DEBUG, "TLS handshake failed: %s", gnutls_strerror(r));
        gate_drop(w, c);
    }
}

/* libmicrohttpd's ALPN list (0.9.75, new_connection_prepare_) */
static const gnutls_datum_t gate_alpn[] = {
    { (unsigned char *)"http/1.1", 8 }, { (unsigned char *)"http/1.0", 8 },
};

/* c's first record is whole (or is no TLS): its session, and the first
   step of its handshake. */
static void gate_begin(gate_worker *w, gate_held *c)
{
    gate *g = w->g;

    if (gate_tls.init(&c->tls, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL) != GNUTLS_E_SUCCESS) {
        c->tls = NULL;
        gate_drop(w, c);
        return;
    }
    if (gnutls_priority_set(c->tls, g->cfg.priorities) < 0 ||
        gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, g->cfg.cred) < 0 ||
        gnutls_alpn_set_protocols(c->tls, gate_alpn, 2, 0) < 0 ||
        (g->cfg.hooks.session != NULL && g->cfg.hooks.session(g->cfg.hooks.cls, c->tls) != 0)) {
        gate_drop(w, c);
        return;
    }
    gnutls_transport_set_int(c->tls, c->fd);
    gate_shake(w, c);
}

/* Bytes arrived on c, room to send came (or it closed): a step of its
   handshake, or, before its first record is whole, a look at what came. */
static void gate_look(gate_worker *w, gate_held *c, uint32_t events)
{
    unsigned char h[5];
    ssize_t got;
    int avail = 0;
    size_t len;

    if (c->tls != NULL) {
        gate_shake(w, c);
        return;
    }
    got = recv(c->fd, h, sizeof h, MSG_PEEK | MSG_DONTWAIT);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        if (events & (EPOLLERR | EPOLLHUP)) gate_drop(w, c);
        return;
    }
    if (got <= 0) {             /* the peer left, or an error */
        gate_drop(w, c);
        return;
    }
    if (h[0] != GATE_TLS_HANDSHAKE) {   /* no TLS: gnutls says so */
        gate_begin(w, c);
        return;
    }
    if (got == (ssize_t)sizeof h) {
        len = (size_t)h[3] << 8 | h[4];
        if (len == 0 || len > GATE_TLS_MAX_RECORD ||
            (ioctl(c->fd, FIONREAD, &avail) == 0 && (size_t)avail >= sizeof h + len)) {
            gate_begin(w, c);
            return;
        }
    }
    /* not whole yet; the peer half-closed: it never will be */
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) gate_drop(w, c);
}

/* Accepts what the backlog holds (a bounded number per turn). */
static void gate_accept(gate_worker *w)
{
    gate *g = w->g;

    for (int i = 0; i < GATE_ACCEPTS_PER_TURN; i++) {
        struct sockaddr_storage addr;
        socklen_t addrlen = sizeof addr;
        struct epoll_event ev;
        gate_held *c;
        gate_ip *ip = NULL;
        int fd = accept4(g->cfg.listen_fd, (struct sockaddr *)&addr, &addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* the listening socket stays readable: look again later,
                   not at once (out of the epoll: an exclusive wake-up
                   cannot be modified) */
                if (!w->accept_paused) epoll_ctl(w->ep, EPOLL_CTL_DEL, g->cfg.listen_fd, NULL);
                clock_gettime(CLOCK_MONOTONIC, &w->accept_paused_until);
                w->accept_paused_until.tv_nsec += GATE_ACCEPT_PAUSE_MS * 1000000L;
                if (w->accept_paused_until.tv_nsec >= 1000000000L) {
                    w->accept_paused_until.tv_sec++;
                    w->accept_paused_until.tv_nsec -= 1000000000L;
                }
                if (!w->accept_paused)
                    y_log_message(Y_LOG_LEVEL_WARNING, "TLS listener: cannot accept: %s", strerror(errno));
                w->accept_paused = 1;
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
        c->prev = w->tail;
        if (w->tail) w->tail->next = c;
        else w->head = c;
        w->tail = c;
        memset(&ev, 0, sizeof ev);
        /* the handshake sends too: room to send wakes it as bytes do */
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.ptr = c;
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) != 0) gate_drop(w, c);
        else gate_look(w, c, 0);   /* a client's ClientHello is often there with its accept */
    }
}

/* The listening socket into w's epoll: each thread's wake-up exclusive
   (one thread, not all, wakes for a connection), level-triggered (what one
   turn leaves, the next accepts). 0 or -1. */
static int gate_listen_add(gate_worker *w)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.ptr = NULL;
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->g->cfg.listen_fd, &ev) != 0) return -1;
    if (!w->listening) {
        w->listening = 1;
        atomic_fetch_add(&w->g->listeners, 1);
    }
    return 0;
}

/* Closes every connection held past the deadline; the time to wait until
   the next one is due (ms, for epoll_wait), or -1. */
static int gate_reap(gate_worker *w)
{
    gate *g = w->g;
    struct timespec now;
    unsigned n = 0;
    int wait = -1;

    clock_gettime(CLOCK_MONOTONIC, &now);
    while (w->head != NULL) {
        double left = (double)g->cfg.deadline_ms - gate_ms_between(&w->head->at, &now);
        if (left > 0) {
            wait = (int)left + 1;
            break;
        }
        gate_drop(w, w->head);
        n++;
    }
    if (n > 0 && g->cfg.hooks.reaped) g->cfg.hooks.reaped(g->cfg.hooks.cls, n);
    if (w->accept_paused && w->listening) {
        double left = gate_ms_between(&now, &w->accept_paused_until);
        if (left <= 0) {
            if (gate_listen_add(w) == 0) w->accept_paused = 0;
            else wait = GATE_ACCEPT_PAUSE_MS;
        } else if (wait < 0 || left + 1 < wait) {
            wait = (int)left + 1;
        }
    }
    return wait;
}

/* This thread accepts no more: the listening socket leaves its epoll, and
   the last thread to stop accepting closes it. */
static void gate_listen_leave(gate_worker *w)
{
    if (!w->listening) return;
    if (!w->accept_paused) epoll_ctl(w->ep, EPOLL_CTL_DEL, w->g->cfg.listen_fd, NULL);
    w->listening = 0;
    if (atomic_fetch_sub(&w->g->listeners, 1) == 1) close(w->g->cfg.listen_fd);
}

static void *gate_main(void *arg)
{
    gate_worker *w = arg;
    gate *g = w->g;
    struct epoll_event ev[GATE_EVENTS];
    int wait = -1;

    while (!atomic_load(&g->stop)) {
        int n = epoll_wait(w->ep, ev, GATE_EVENTS, wait);
        if (n < 0 && errno != EINTR) {
            y_log_message(Y_LOG_LEVEL_ERROR, "TLS listener: epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            if (ev[i].data.ptr == &gate_wake_tag) {
                uint64_t v;
                (void)!read(w->wake, &v, sizeof v);
            } else if (ev[i].data.ptr == NULL) {
                if (w->listening && !w->accept_paused) gate_accept(w);
            } else {
                gate_look(w, ev[i].data.ptr, ev[i].events);
            }
        }
        if (atomic_load(&g->quiesce)) gate_listen_leave(w);
        wait = gate_reap(w);
    }
    return NULL;
}

/* Thread i's epoll, with its eventfd and the listening socket: 0 or -1. */
static int gate_worker_init(gate *g, gate_worker *w)
{
    struct epoll_event ev;

    w->g = g;
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->ep < 0 || w->wake < 0) return -1;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = &gate_wake_tag;
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->wake, &ev) != 0) return -1;
    return gate_listen_add(w);
}

int gate_start(const gate_config *cfg, gate **out, char *err, size_t errlen)
{
    gate *g = calloc(1, sizeof *g);
    int rc = -1, flags;
    unsigned i;

    *out = NULL;
    if (g == NULL || cfg->max_fd == 0 || cfg->hooks.admit == NULL || cfg->hooks.release == NULL ||
        cfg->cred == NULL || cfg->priorities == NULL) {
        snprintf(err, errlen, "TLS listener: %s", g == NULL ? "out of memory" : "bad gate settings");
        free(g);
        return -1;
    }
    g->cfg = *cfg;
    g->n_workers = cfg->threads > 0 ? cfg->threads : 1;
    pthread_mutex_init(&g->lock, NULL);
    g->fds = calloc(cfg->max_fd, sizeof *g->fds);   /* untouched pages cost nothing */
    g->w = calloc(g->n_workers, sizeof *g->w);
    if (g->fds == NULL || g->w == NULL || gate_tls_table(cfg->max_fd) != 0) {
        snprintf(err, errlen, "TLS listener: out of memory");
        goto cleanup;
    }
    for (i = 0; i < g->n_workers; i++) g->w[i].ep = g->w[i].wake = -1;
    flags = fcntl(cfg->listen_fd, F_GETFL);
    if (flags < 0 || fcntl(cfg->listen_fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        snprintf(err, errlen, "TLS listener: fcntl: %s", strerror(errno));
        goto cleanup;
    }
    for (i = 0; i < g->n_workers; i++) {
        if (gate_worker_init(g, &g->w[i]) != 0) {
            snprintf(err, errlen, "TLS listener: cannot create its epoll: %s", strerror(errno));
            goto cleanup;
        }
    }
    *out = g;                   /* before the first hand-over: the daemon's hooks read it */
    for (i = 0; i < g->n_workers; i++) {
        char name[16];
        if (pthread_create(&g->w[i].thread, NULL, gate_main, &g->w[i]) != 0) {
            snprintf(err, errlen, "TLS listener: cannot start its accepting threads");
            *out = NULL;
            goto cleanup;
        }
        g->w[i].thread_started = 1;
        snprintf(name, sizeof name, "apikeyd-gate%u", i % 100);
        pthread_setname_np(g->w[i].thread, name);   /* for top -H and /proc: which threads hold them */
    }
    g = NULL;
    rc = 0;
cleanup:
    if (g != NULL) {
        /* listen_fd is not taken: the caller closes it */
        atomic_store(&g->listeners, 0);
        for (i = 0; g->w != NULL && i < g->n_workers; i++) g->w[i].listening = 0;
        gate_free(g);
    }
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
    for (unsigned i = 0; i < g->n_workers; i++) (void)!write(g->w[i].wake, &one, sizeof one);
}

void gate_quiesce(gate *g)
{
    if (g == NULL || g->quiesce_asked) return;
    g->quiesce_asked = 1;
    /* refused from now; then the threads leave it, and the last closes the
       descriptor (only once the flag says this shutdown is done) */
    shutdown(g->cfg.listen_fd, SHUT_RDWR);
    atomic_store(&g->quiesce, 1);
    gate_wake(g);
}

void gate_stop(gate *g)
{
    if (g == NULL) return;
    atomic_store(&g->stop, 1);
    gate_wake(g);
    for (unsigned i = 0; i < g->n_workers; i++) {
        gate_worker *w = &g->w[i];
        if (w->thread_started) pthread_join(w->thread, NULL);
        w->thread_started = 0;
    }
    for (unsigned i = 0; i < g->n_workers; i++) {
        gate_worker *w = &g->w[i];
        while (w->head != NULL) gate_drop(w, w->head);
        gate_listen_leave(w);
    }
}

void gate_free(gate *g)
{
    if (g == NULL) return;
    if (g->w != NULL) gate_stop(g);
    for (size_t h = 0; h < GATE_IP_BUCKETS; h++) {
        while (g->ips[h] != NULL) {
            gate_ip *ip = g->ips[h];
            g->ips[h] = ip->next;
            free(ip);
        }
    }
    for (unsigned i = 0; g->w != NULL && i < g->n_workers; i++) {
        if (g->w[i].ep >= 0) close(g->w[i].ep);
        if (g->w[i].wake >= 0) close(g->w[i].wake);
    }
    free(g->w);
    free(g->fds);
    pthread_mutex_destroy(&g->lock);
    free(g);
}
