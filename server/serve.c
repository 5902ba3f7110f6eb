/* serve: listeners, the guard/healthz/fallback endpoints, request
 * accounting and the access log. */
#include "serve.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <netinet/in.h>
#include <microhttpd.h>
#include <orcania.h>
#include <ulfius.h>
#include <yder.h>

#include "apis.h"
#include "dispatch.h"
#include "gate.h"
#include "log.h"
#include "metrics.h"
#include "mhdfix.h"
#include "oalloc.h"
#include "routes.h"
#include "tls.h"
#include "rt_guard.h"

#define SERVE_BUCKETS 256
#define SERVE_REQ_LOCKS 16
#define SERVE_MAX_OPS 20
/* libmicrohttpd's pool: worker threads per core when --threads is 0; the
   TLS listener's when --tls-threads and --threads are 0 */
#define SERVE_THREADS_PER_CORE 2
/* HSTS on the TLS listener: a year; no includeSubDomains, as apikeyd may share
   a domain with hosts it knows nothing of */
#define SERVE_HSTS "max-age=31536000"

/* ---- connections: limits and the request deadline ----
 *
 * libmicrohttpd's CONNECTION_TIMEOUT is an inactivity timeout: it restarts
 * on every byte, so a client sending one header line every few seconds, or
 * a TLS handshake that trickles, keeps its connection (and its descriptor)
 * forever. Every connection therefore gets a record (the socket context of
 * MHD_OPTION_NOTIFY_CONNECTION) that is "armed" from its accept, and again
 * from each response, until a whole request (head and body) has arrived;
 * the reaper thread shuts down the socket of every record armed longer than
 * --request-timeout, and libmicrohttpd then closes it as a dead peer. The
 * record leaves the list in the CLOSED notification, which libmicrohttpd
 * sends before it closes the descriptor, so the reaper (holding conn_lock)
 * never shuts down a descriptor that was reused. The connection's own
 * thread arms and disarms its record without conn_lock (three times the
 * one lock of every worker per request, before): armed, armed_at and
 * tls_pending are atomic, and the list, which conn_lock keeps, is not
 * changed by it. */
struct serve_req;
typedef struct serve_conn {
    _Atomic int64_t armed_at;   /* CLOCK_MONOTONIC, ms (the coarse clock: the deadlines are seconds) */
    atomic_int armed;           /* 1: waiting for a whole request; 0: not; -1: reaped (shut down) */
    atomic_int tls_pending;     /* TLS, and no request line yet: the handshake deadline */
    struct serve_req *rec;      /* the record of its request under way (only its thread's) */
    oalloc_block *arena;        /* ulfius's allocations for that request (oalloc.h), or NULL */
    int fd;
    struct serve_listener *l;
    const void *ci;             /* ulfius's state of the request under way (its path), or NULL */
    unsigned mhd_status;        /* status of a libmicrohttpd error answer written by mhdfix */
    int target_ctl;             /* the request under way: a control byte in its raw target */
    struct serve_conn *prev, *next;
} serve_conn;

/* One request between its URI and its completion: held by its
   connection's record (serve_conn.rec), which only the connection's thread
   reads, so that finding it takes no lock; in the registry (s->reqs, under
   a lock per bucket) only when the connection has no record. */
typedef struct serve_req {
    const struct _u_request *req;
    struct timespec start;
    int64_t key_id;          /* -1: not authenticated; 0: by a JWT */
    int64_t user_id;         /* -1: not authenticated */
    struct sockaddr_storage client;  /* the full client address */
    const void *ci;          /* ulfius's connection_info_struct, which outlives ci->request */
    int refused;             /* answered by serve_front before ulfius saw it */
    int slot;                /* metrics slot of its API operation (serve_on_request), or -1 */
    struct serve_req *next;
} serve_req;

typedef struct serve_listener {
    struct _u_instance u;
    int inited, started, tls;
    int quiesced;                /* no longer accepting (listening socket closed) */
    struct MHD_OptionItem ops[SERVE_MAX_OPS];
    config_addr addr;
    struct serve *s;
    MHD_AccessHandlerCallback ulfius_dh;  /* ulfius's access handler, behind serve_front */
    void *ulfius_cls;
    routes *routes;              /* u's endpoints by first path segment (routes.h) */
    unsigned max_conns, n_conns;  /* --max-connections; records held (under conn_lock) */
    int gated;                   /* TLS: connections come through the gate, which admits them */
    gate *gate;                  /* owns the listening socket (gate.h), or NULL */
    tls_server tls_srv;          /* the gate's sessions' credentials and priorities */
} serve_listener;

struct serve {
    serve_listener l[2];         /* [0] plain, [1] TLS */
    size_t max_body;
    char *client_ca_pem;
    apis_env env;
    /* the records of requests in flight: a lock per SERVE_BUCKETS /
       SERVE_REQ_LOCKS buckets (one lock for all was taken four or five
       times per request by every worker, and fought over) */
    pthread_mutex_t req_lock[SERVE_REQ_LOCKS];
    serve_ready_fn ready;        /* /readyz (atomic) */
    rt_auth_fn authenticate;     /* the key service's hook, behind serve_authenticate */
    int metrics_mode;            /* CONFIG_METRICS_* */
    struct MHD_Daemon *metrics_d;  /* --metrics HOST:PORT */
    serve_req *reqs[SERVE_BUCKETS];
    unsigned in_flight;          /* atomic */
    /* connection records (serve_conn) and the reaper */
    pthread_mutex_t conn_lock;
    pthread_cond_t conn_cond;
    serve_conn *conns;
    unsigned request_timeout;    /* seconds */
    unsigned handshake_timeout;  /* seconds, for TLS connections before their first request line */
    unsigned reaped;             /* closed at the deadline, not yet logged */
    unsigned refused_full;       /* refused over --max-connections */
    unsigned long nofile;        /* the open-file limit: descriptors are below it */
    int reaper_started, reaper_stop;
    pthread_t reaper;
};

/* The running server, for serve_on_request (whose app is the key service). */
static serve *serve_running;

static size_t serve_hash(const void *p)
{
    return ((uintptr_t)p >> 4) % SERVE_BUCKETS;
}

/* The lock of bucket h's records. */
static pthread_mutex_t *serve_req_lock(serve *s, size_t h)
{
    return &s->req_lock[h % SERVE_REQ_LOCKS];
}

/* Now on the coarse monotonic clock, in ms: what the deadlines count on
   (a tick of a few ms; no clock read of its own). */
static int64_t serve_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static double serve_ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* ---- MHD hooks ---- */

/* The connection record of con (its socket context), or NULL. */
static serve_conn *serve_conn_of(struct MHD_Connection *con)
{
    const union MHD_ConnectionInfo *i = MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i != NULL ? i->socket_context : NULL;
}

/* Whether the request target, as sent (libmicrohttpd gives the URI log
   callback the target before it decodes it in place, when a raw CR could
   no longer be told from %0D), holds a control byte: the target is
   visible ASCII (RFC 9112 section 3.2; bytes over 0x7f are let through, as
   clients send UTF-8 paths unencoded). A NUL ends the string, and so the
   target: serve_head_check's line check sees it in the head. */
static int serve_target_has_ctl(const char *uri)
{
    for (const unsigned char *p = (const unsigned char *)uri; p != NULL && *p != '\0'; p++)
        if (*p < 0x20 || *p == 0x7f) return 1;
    return 0;
}

/* The record of the request this thread runs (serve_front sets it around
   its calls: the routes, and so serve_before and serve_on_request, run
   inside them). */
static _Thread_local struct serve_req *serve_cur;

/* The record c holds, freed (its connection closes, or a new request
   begins with the last one's completion never called). */
static void serve_req_drop(serve *s, serve_conn *c)
{
    if (serve_cur == c->rec) serve_cur = NULL;
    free(c->rec);
    c->rec = NULL;
    __atomic_sub_fetch(&s->in_flight, 1, __ATOMIC_SEQ_CST);
}

/* The record of req, found without a lock when it is the connection's
   (serve_cur), else in the registry with its bucket's lock held (*lock,
   for serve_req_done); NULL, and no lock held, when there is none. */
static serve_req *serve_req_find(serve *s, const struct _u_request *req, pthread_mutex_t **lock)
{
    serve_req *r = serve_cur;
    size_t h = serve_hash(req);

    *lock = NULL;
    if (r != NULL && r->req == req) return r;
    pthread_mutex_lock(serve_req_lock(s, h));
    for (r = s->reqs[h]; r; r = r->next)
        if (r->req == req) {
            *lock = serve_req_lock(s, h);
            return r;
        }
    pthread_mutex_unlock(serve_req_lock(s, h));
    return NULL;
}

static void serve_req_done(pthread_mutex_t *lock)
{
    if (lock != NULL) pthread_mutex_unlock(lock);
}

/* MHD_OPTION_URI_LOG_CALLBACK: ulfius's own logger (which creates its
   per-request state) plus our start time and in-flight count. */
static void *serve_uri_log(void *cls, const char *uri, struct MHD_Connection *con)
{
    serve *s = cls;
    struct connection_info_struct *ci;
    serve_req *r;
    size_t h;
    serve_conn *c = serve_conn_of(con);
    const union MHD_ConnectionInfo *ca;

    if (c != NULL) {   /* a block for ulfius's state of this request; a stale one is emptied */
        oalloc_put(c->arena);
        c->arena = oalloc_get();
        oalloc_bind(c->arena);
        oalloc_on();
    }
    ci = ulfius_uri_logger(NULL, uri);
    oalloc_bind(NULL);
    if (c != NULL) {                /* a request line: a TLS handshake is done */
        if (atomic_load_explicit(&c->tls_pending, memory_order_relaxed)) atomic_store(&c->tls_pending, 0);
        c->ci = ci;                 /* only this connection's thread reads these */
        c->target_ctl = serve_target_has_ctl(uri);
    }
    if (ci == NULL || ci->request == NULL) return ci;
    r = calloc(1, sizeof *r);
    if (r == NULL) return ci;
    ca = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ca != NULL && ca->client_addr != NULL)
        memcpy(&r->client, ca->client_addr, ca->client_addr->sa_family == AF_INET6
               ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
    r->req = ci->request;
    r->ci = ci;
    r->key_id = -1;
    r->user_id = -1;
    r->slot = -1;
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    if (c != NULL) {
        if (c->rec != NULL) serve_req_drop(s, c);   /* its completion never came */
        c->rec = r;
        __atomic_add_fetch(&s->in_flight, 1, __ATOMIC_SEQ_CST);
        return ci;
    }
    h = serve_hash(r->req);
    pthread_mutex_lock(serve_req_lock(s, h));
    r->next = s->reqs[h];
    s->reqs[h] = r;
    __atomic_add_fetch(&s->in_flight, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(serve_req_lock(s, h));
    return ci;
}

/* Removes and returns the record of req (caller frees), or NULL; *left:
   the requests still in flight. */
static serve_req *serve_req_take(serve *s, const struct _u_request *req, unsigned *left)
{
    serve_req **pp, *r = NULL;
    size_t h = serve_hash(req);
    pthread_mutex_lock(serve_req_lock(s, h));
    for (pp = &s->reqs[h]; *pp; pp = &(*pp)->next) {
        if ((*pp)->req == req) {
            r = *pp;
            *pp = r->next;
            break;
        }
    }
    pthread_mutex_unlock(serve_req_lock(s, h));
    *left = r != NULL ? __atomic_sub_fetch(&s->in_flight, 1, __ATOMIC_SEQ_CST)
                      : __atomic_load_n(&s->in_flight, __ATOMIC_SEQ_CST);
    return r;
}

/* The same, found by ulfius's per-request state: ulfius drops ci->request
   when it gives up on a request (a post processor it cannot create), and
   the record must still go, or in_flight never returns to 0. */
static serve_req *serve_req_take_ci(serve *s, const void *ci, unsigned *left)
{
    serve_req **pp, *r = NULL;
    for (size_t h = 0; h < SERVE_BUCKETS && r == NULL; h++) {
        pthread_mutex_lock(serve_req_lock(s, h));
        for (pp = &s->reqs[h]; *pp; pp = &(*pp)->next) {
            if ((*pp)->ci == ci) {
                r = *pp;
                *pp = r->next;
                break;
            }
        }
        pthread_mutex_unlock(serve_req_lock(s, h));
    }
    *left = r != NULL ? __atomic_sub_fetch(&s->in_flight, 1, __ATOMIC_SEQ_CST)
                      : __atomic_load_n(&s->in_flight, __ATOMIC_SEQ_CST);
    return r;
}

/* Arms (a whole request is awaited from now) or disarms con's deadline.
   Disarming a connection the reaper has closed meanwhile gives -1: its
   request, though whole in the socket's buffer, is not to run (the reaper
   shut the socket: the client saw it closed, and a create that ran after
   that would be a key the client was never told of); else 0. */
static int serve_conn_arm(struct MHD_Connection *con, int armed)
{
    serve_conn *c = serve_conn_of(con);
    int was = armed ? 0 : 1;

    if (c == NULL) return 0;
    if (armed) {
        atomic_store(&c->armed_at, serve_now_ms());
        (void)atomic_compare_exchange_strong(&c->armed, &was, 1);   /* a reaped one (-1) stays so */
        return 0;
    }
    if (atomic_compare_exchange_strong(&c->armed, &was, 0)) return 0;
    return was < 0 ? -1 : 0;
}

/* MHD_OPTION_NOTIFY_COMPLETED: the access-log line, then ulfius's cleanup;
   the connection waits for its next request from now. */
static void serve_completed(void *cls, struct MHD_Connection *con, void **con_cls,
        enum MHD_RequestTerminationCode toe)
{
    serve *s = cls;
    struct connection_info_struct *ci = con_cls ? *con_cls : NULL;
    serve_conn *c = serve_conn_of(con);
    unsigned written = 0;

    if (c != NULL) {
        written = c->mhd_status;
        c->ci = NULL;
        c->mhd_status = 0;
    }
    if (ci != NULL) {
        unsigned left = 0;
        serve_req *r;
        if (c != NULL && c->rec != NULL && c->rec->ci == ci) {   /* the connection's: no lock */
            r = c->rec;
            c->rec = NULL;
            if (serve_cur == r) serve_cur = NULL;
            left = __atomic_sub_fetch(&s->in_flight, 1, __ATOMIC_SEQ_CST);
        } else {
            r = ci->request != NULL ? serve_req_take(s, ci->request, &left) : serve_req_take_ci(s, ci, &left);
        }
        if (r != NULL) {
            const union MHD_ConnectionInfo *st = MHD_get_connection_info(con, MHD_CONNECTION_INFO_HTTP_STATUS);
            const union MHD_ConnectionInfo *ca = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
            unsigned status = st ? st->http_status : written;
            const char *verb = ci->request && ci->request->http_verb ? ci->request->http_verb : "-";
            const char *path = ci->request ? ci->request->url_path : "-";
            double ms = serve_ms_since(&r->start);
            int slot = r->slot >= 0 ? r->slot : metrics_slot_of_path(path);
            log_request lr = { .method = verb, .path = path, .ms = ms, .client = ca ? ca->client_addr : NULL,
                               .key_id = r->key_id, .user_id = r->user_id, .more = left > 0,
                               .request_id = ci->request ? u_map_get_case(ci->request->map_header, "X-Request-Id")
                                                         : NULL };
            if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && status == 0) status = 499;
            lr.status = status;
            metrics_request(slot, status, ms / 1e3);
            metrics_slot_names(slot, &lr.api, &lr.operation);
            log_access(&lr);
            free(r);
        }
    }
    serve_conn_arm(con, 1);
    mhd_request_completed(NULL, con, con_cls, toe);
    if (c != NULL) {   /* ulfius has freed the request's state: its block goes back */
        oalloc_put(c->arena);
        c->arena = NULL;
    }
}

/* What a plain-HTTP connection over --max-connections reads before the close. */
static const char serve_full_503[] =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\nRetry-After: 1\r\n"
    "Connection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nContent-Length: 104\r\n\r\n"
    "{\"type\":\"about:blank\",\"status\":503,\"title\":\"Service Unavailable\",\"detail\":\"too many connections; retry\"}";

/* MHD_OPTION_NOTIFY_CONNECTION: the connection record (see serve_conn);
   over --max-connections a connection is refused here, with a 503 on the
   plain listener (a TLS connection comes through the gate, which refused it
   at its accept) and a shutdown. */
static void serve_conn_notify(void *cls, struct MHD_Connection *con, void **socket_context,
        enum MHD_ConnectionNotificationCode code)
{
    serve_listener *l = cls;
    serve *s = l->s;
    serve_conn *c;
    struct timespec accepted;
    int gated;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ti = MHD_get_connection_info(con, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        const union MHD_ConnectionInfo *fi = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
        /* TLS: the gate finished the handshake before the hand-over, with
           tickets and client certificates set up (serve_gate_session); a
           handshake that failed the gate counted (serve_gate_release) */
        if (ti != NULL && ti->tls_session != NULL) metrics_tls_handshake(1);
        *socket_context = NULL;
        if (fi == NULL) return;
        /* through the gate: started (the gate releases it no more), and
           the deadline counts from the accept, when the gate counted it
           (serve_gate_admit) */
        gated = l->gated && gate_started(l->gate, fi->connect_fd, &accepted) == 0;
        c = calloc(1, sizeof *c);
        pthread_mutex_lock(&s->conn_lock);
        if (l->gated && c == NULL) {        /* admitted by the gate: untracked from now */
            l->n_conns--;
            pthread_mutex_unlock(&s->conn_lock);
            gate_closed(l->gate, fi->connect_fd);
            return;
        }
        if (!l->gated && l->n_conns >= l->max_conns) {
            s->refused_full++;
            pthread_mutex_unlock(&s->conn_lock);
            free(c);
            if (!l->tls) (void)!send(fi->connect_fd, serve_full_503, sizeof serve_full_503 - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            shutdown(fi->connect_fd, SHUT_RDWR);   /* libmicrohttpd closes it at once */
            return;
        }
        if (c == NULL) {                    /* no record: no deadline, still limited by libmicrohttpd */
            pthread_mutex_unlock(&s->conn_lock);
            return;
        }
        c->l = l;
        c->fd = fi->connect_fd;
        atomic_store(&c->armed, 1);
        atomic_store(&c->tls_pending, l->tls);
        atomic_store(&c->armed_at, gated ? (int64_t)accepted.tv_sec * 1000 + accepted.tv_nsec / 1000000 : serve_now_ms());
        if (!l->gated) l->n_conns++;
        c->next = s->conns;
        if (s->conns) s->conns->prev = c;
        s->conns = c;
        pthread_mutex_unlock(&s->conn_lock);
        *socket_context = c;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && (c = *socket_context) != NULL) {
        pthread_mutex_lock(&s->conn_lock);
        c->l->n_conns--;
        if (c->prev) c->prev->next = c->next;
        else s->conns = c->next;
        if (c->next) c->next->prev = c->prev;
        pthread_mutex_unlock(&s->conn_lock);
        if (c->l->gated) gate_closed(c->l->gate, c->fd);
        if (c->rec != NULL) serve_req_drop(s, c);
        oalloc_put(c->arena);
        free(c);
        *socket_context = NULL;
    }
}

/* The gate's hooks (gate.h), for the TLS listener: its held connections
   count in n_conns with those libmicrohttpd has, from the accept on. */
static int serve_gate_admit(void *cls)
{
    serve_listener *l = cls;
    int rc = 0;

    pthread_mutex_lock(&l->s->conn_lock);
    if (l->n_conns >= l->max_conns) {
        l->s->refused_full++;
        rc = -1;
    } else {
        l->n_conns++;
    }
    pthread_mutex_unlock(&l->s->conn_lock);
    return rc;
}

/* A new session of the gate's, before its handshake: session tickets,
   and with --tls-client-ca a client certificate that must verify. */
static int serve_gate_session(void *cls, gnutls_session_t session)
{
    serve_listener *l = cls;

    if (tls_session_start(session) != 0)
        y_log_message(Y_LOG_LEVEL_DEBUG, "TLS: no session tickets for this connection");
    if (l->s->client_ca_pem != NULL) tls_require_client_cert(session);
    return 0;
}

/* A TLS connection the gate closed (its handshake failed or ran out of
   time) or libmicrohttpd refused or dropped before starting it: a failed
   handshake for /metrics, as it was never served. */
static void serve_gate_release(void *cls)
{
    serve_listener *l = cls;

    pthread_mutex_lock(&l->s->conn_lock);
    l->n_conns--;
    pthread_mutex_unlock(&l->s->conn_lock);
    metrics_tls_handshake(0);
}

static void serve_gate_reaped(void *cls, unsigned n)
{
    serve_listener *l = cls;

    pthread_mutex_lock(&l->s->conn_lock);
    l->s->reaped += n;
    pthread_mutex_unlock(&l->s->conn_lock);
}

/* The reaper: every 100 ms, shuts down the sockets whose deadline passed;
   once a second at most, logs how many. */
static void *serve_reaper(void *arg)
{
    serve *s = arg;
    struct timespec last_log, now, wake;
    int64_t now_ms;
    unsigned logged = 0, logged_full = 0;

    clock_gettime(CLOCK_MONOTONIC, &last_log);
    pthread_mutex_lock(&s->conn_lock);
    while (!s->reaper_stop) {
        clock_gettime(CLOCK_REALTIME, &wake);
        wake.tv_nsec += 100 * 1000000L;
        if (wake.tv_nsec >= 1000000000L) { wake.tv_sec++; wake.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&s->conn_cond, &s->conn_lock, &wake);
        clock_gettime(CLOCK_MONOTONIC, &now);
        now_ms = serve_now_ms();
        for (serve_conn *c = s->conns; c; ) {
            int64_t ms = now_ms - atomic_load(&c->armed_at);
            int one = 1;
            if (atomic_load(&c->armed) != 1 ||
                ms < (int64_t)(atomic_load(&c->tls_pending) ? s->handshake_timeout : s->request_timeout) * 1000 ||
                !atomic_compare_exchange_strong(&c->armed, &one, -1)) {   /* -1: reaped; its thread disarms no more */
                c = c->next;
                continue;
            }
            shutdown(c->fd, SHUT_RDWR);   /* libmicrohttpd sees the peer gone and closes it */
            if (++s->reaped % 64 == 0) {
                /* thousands due at once: let the workers' accepts and
                   completions in between, then rescan (the list changed) */
                pthread_mutex_unlock(&s->conn_lock);
                pthread_mutex_lock(&s->conn_lock);
                c = s->conns;
                continue;
            }
            c = c->next;
        }
        if ((s->reaped > logged || s->refused_full > logged_full) && serve_ms_since(&last_log) >= 1000) {
            unsigned n = s->reaped - logged, f = s->refused_full - logged_full;
            logged = s->reaped;
            logged_full = s->refused_full;
            last_log = now;
            pthread_mutex_unlock(&s->conn_lock);
            if (n) y_log_message(Y_LOG_LEVEL_INFO, "request deadline: closed %u connection(s) that sent no whole "
                                 "request in time (%us; a TLS handshake %us)", n, s->request_timeout,
                                 s->handshake_timeout);
            if (f) y_log_message(Y_LOG_LEVEL_WARNING, "connection limit: refused %u connection(s) over "
                                 "--max-connections", f);
            pthread_mutex_lock(&s->conn_lock);
        }
    }
    pthread_mutex_unlock(&s->conn_lock);
    if (s->reaped > logged)
        y_log_message(Y_LOG_LEVEL_INFO, "request deadline: closed %u connection(s) that sent no whole "
                      "request in time (%us; a TLS handshake %us)", s->reaped - logged, s->request_timeout,
                      s->handshake_timeout);
    return NULL;
}

static void serve_mhd_log(void *cls, const char *fm, va_list ap)
{
    char buf[512];
    size_t n;
    (void)cls;
    vsnprintf(buf, sizeof buf, fm, ap);
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = '\0';
    y_log_message(Y_LOG_LEVEL_DEBUG, "libmicrohttpd: %s", buf);
}

/* ---- endpoints ---- */

/* An error the server answers itself: in the error shape of the API the
   request's path belongs to (a bare status for Heron, the envelope for
   NebulaBlock, ...), problem details outside every API. */
static int serve_error(void *data, const struct _u_request *req, struct _u_response *res, int status,
                       const char *title, const char *code, const char *detail)
{
    serve *s = data;
    json_t *body = NULL;   /* new */
    const char *ct = NULL;
    const char *rid = u_map_get_case(req->map_header, "X-Request-Id");

    if (apis_error_body(req->url_path, &s->env, status, code, detail, &body, &ct) != 0)
        return rt_guard_problem(NULL, req, res, status, title, code, detail);   /* outside every API */
    /* an API's problem details have room for the request id (an extension member) */
    if (rid != NULL && json_is_object(body) && ct != NULL && strcmp(ct, "application/problem+json") == 0)
        json_object_set_new(body, "request_id", json_string(rid));
    if (body != NULL) {
        ulfius_set_json_body_response(res, (unsigned)status, body);   /* copies */
        json_decref(body);
    } else {
        res->status = (unsigned)status;
    }
    if (ct != NULL) u_map_put(res->map_header, "Content-Type", ct);
    return U_CALLBACK_COMPLETE;
}

/* ulfius 2.7 copies only sizeof(struct sockaddr) (16 bytes) of the client
   address, which cuts an IPv6 address in half (and readers of sin6_addr run
   past the copy). Before any route sees the request, put the whole address
   there, from what libmicrohttpd reported when the request began. */
static void serve_fix_client_address(void *data, const struct _u_request *req)
{
    serve *s = data;
    struct _u_request *w = (struct _u_request *)req;   /* ours until the routes run */
    struct sockaddr_in6 *full = NULL;
    pthread_mutex_t *lock;
    serve_req *r;

    if (req->client_address == NULL || req->client_address->sa_family != AF_INET6) return;
    if ((r = serve_req_find(s, req, &lock)) != NULL && r->client.ss_family == AF_INET6) {
        full = o_malloc(sizeof *full);
        if (full) memcpy(full, &r->client, sizeof *full);
    }
    serve_req_done(lock);
    if (full == NULL) return;
    o_free(w->client_address);
    w->client_address = (struct sockaddr *)full;
}

/* First on every request (the runtime's guard calls it before its checks):
   the request id, the client's when it is a valid one, else made here; in
   the request's headers from now on (the log line reads it there) and on
   the response; and the client's address as the listener saw it. */
static void serve_before(void *data, const struct _u_request *req, struct _u_response *res)
{
    serve *s = data;
    char made[48];
    const char *rid = u_map_get_case(req->map_header, "X-Request-Id");

    oalloc_on();   /* the maps' new entries from the request's block, as the rest of them */
    if (!log_request_id_valid(rid)) {
        log_request_id_new(made, sizeof made);
        if (rid != NULL) u_map_remove_from_key_case(req->map_header, "X-Request-Id");
        u_map_put(req->map_header, "X-Request-Id", made);
        rid = made;
    }
    u_map_put(res->map_header, "X-Request-Id", rid);
    oalloc_off();
    serve_fix_client_address(s, req);
}

/* ---- the front: between the request head and ulfius ----
 *
 * ulfius runs its routes (and so the guard) only once the body has arrived,
 * and creates a form post processor before anything of ours sees the head.
 * Framing errors must be refused on the head alone: a Transfer-Encoding
 * libmicrohttpd does not decode makes it read the body until the peer
 * closes, and a second Content-Length is smuggling. serve_front is the
 * access handler libmicrohttpd calls; it checks the head on the first call,
 * answers a refusal itself (closing the connection), and otherwise hands
 * every call to ulfius's handler. */

/* What the head says about the message's framing. */
typedef struct serve_head {
    unsigned n_cl, n_te, n_host;
    const char *cl, *te, *ct;
} serve_head;

static enum MHD_Result serve_head_field(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    serve_head *h = cls;
    (void)kind;
    if (strcasecmp(key, "Content-Length") == 0) { h->n_cl++; h->cl = value; }
    else if (strcasecmp(key, "Transfer-Encoding") == 0) { h->n_te++; h->te = value; }
    else if (strcasecmp(key, "Host") == 0) h->n_host++;
    else if (strcasecmp(key, "Content-Type") == 0 && h->ct == NULL) h->ct = value;
    return MHD_YES;
}

/* The refusal for this head, or 0: status, code and detail for the body. */
static int serve_head_check(struct MHD_Connection *con, const char *method, const char *version, const char **code,
        char *why, size_t len)
{
    serve_head h;
    serve_conn *c = serve_conn_of(con);
    memset(&h, 0, sizeof h);
    *code = "BadRequest";
    /* line ends, read where libmicrohttpd parsed them (server/mhdfix.h) */
    if (mhdfix_head_check(con, method, version, why, len) != 0) return 400;
    if (c != NULL && c->target_ctl) {
        snprintf(why, len, "the request target holds a control character; encode it (%%0D, %%09, ...)");
        return 400;
    }
    MHD_get_connection_values(con, MHD_HEADER_KIND, serve_head_field, &h);
    if (h.n_cl > 1) {
        snprintf(why, len, "more than one Content-Length header");
        return 400;
    }
    /* libmicrohttpd answers most of these itself, before any callback */
    if (h.n_cl == 1 && (h.cl[0] == '\0' || h.cl[strspn(h.cl, "0123456789")] != '\0')) {
        snprintf(why, len, "Content-Length must be a decimal number");
        return 400;
    }
    if (h.n_te > 0 && h.n_cl > 0) {
        snprintf(why, len, "both Transfer-Encoding and Content-Length");
        return 400;
    }
    if (h.n_te > 1 || (h.n_te == 1 && strcasecmp(h.te, "chunked") != 0)) {
        *code = "NotImplemented";
        snprintf(why, len, "Transfer-Encoding \"%.40s\" is not supported; only chunked", h.te);
        return 501;
    }
    if (h.n_host != 1 && strcmp(version, "HTTP/1.1") == 0) {
        snprintf(why, len, h.n_host ? "more than one Host header" : "an HTTP/1.1 request needs a Host header");
        return 400;
    }
    if (h.ct != NULL && strncasecmp(h.ct, "multipart/", 10) == 0) {
        *code = "UnsupportedMediaType";
        snprintf(why, len, "multipart bodies are not accepted; send JSON");
        return 415;
    }
    return 0;
}

/* Security headers on every response (also set as ulfius's defaults). */
static void serve_security_headers(struct MHD_Response *r, int tls)
{
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (tls) MHD_add_response_header(r, "Strict-Transport-Security", SERVE_HSTS);
}

/* A refusal: status with a body in the error shape of path's API (problem
   details outside every API, or with no path), Connection: close and the
   security headers; *text is the body (new, malloc'ed, *len bytes; the
   response holds a copy). NULL when out of memory. */
static struct MHD_Response *serve_refusal(serve *s, int tls, const char *path, int status, const char *code,
        const char *why, char **text, size_t *len)
{
    json_t *body = NULL;   /* new */
    const char *ct = NULL;
    struct MHD_Response *r;

    *text = NULL;
    *len = 0;
    if (path == NULL || apis_error_body(path, &s->env, status, code, why, &body, &ct) != 0) {
        body = json_pack("{sssissss?}", "type", "about:blank", "status", status, "title", code, "detail", why);
        ct = "application/problem+json";
    }
    if (body != NULL) *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    *len = *text ? strlen(*text) : 0;
    r = MHD_create_response_from_buffer(*len, *text ? *text : (char *)"", MHD_RESPMEM_MUST_COPY);
    if (r == NULL) return NULL;
    if (ct != NULL) MHD_add_response_header(r, "Content-Type", ct);
    MHD_add_response_header(r, "Connection", "close");
    serve_security_headers(r, tls);
    return r;
}

/* Queues status with a body in the error shape of path's API, and closes. */
static enum MHD_Result serve_front_refuse(serve_listener *l, struct MHD_Connection *con, const char *path,
        int status, const char *code, const char *why)
{
    char *text = NULL;
    size_t len;
    struct MHD_Response *r = serve_refusal(l->s, l->tls, path, status, code, why, &text, &len);
    enum MHD_Result ret;

    free(text);
    if (r == NULL) return MHD_NO;
    ret = MHD_queue_response(con, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

/* mhdfix's hook: libmicrohttpd's own error answer as a refusal of the
   front, in the shape of the request's API when its path is known (the
   request line was read), else problem details. */
static struct MHD_Response *serve_mhd_answer(void *cls, struct MHD_Connection *con, const mhdfix_error *e,
        char **body, size_t *len)
{
    serve *s = cls;
    serve_conn *c = serve_conn_of(con);
    const struct connection_info_struct *ci = c != NULL ? c->ci : NULL;
    const union MHD_ConnectionInfo *ti = MHD_get_connection_info(con, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    int tls = ti != NULL && ti->tls_session != NULL;
    const char *path = ci != NULL && ci->request != NULL ? ci->request->url_path : NULL;
    struct MHD_Response *r = serve_refusal(s, tls, path, (int)e->status, e->code, e->why, body, len);

    if (r != NULL && c != NULL) c->mhd_status = e->status;   /* for the access log, if written directly */
    return r;
}

/* mhdfix's hook, and the self-check: what is not in effect is logged, and
   the server goes on as before without it. */
static void serve_mhdfix_install(serve *s)
{
    char why[200];

    if (mhdfix_install(serve_mhd_answer, s, why, sizeof why) == 0)
        y_log_message(Y_LOG_LEVEL_WARNING, "libmicrohttpd's own error answers stay HTML (%s)", why);
    else if (why[0] != '\0')
        y_log_message(Y_LOG_LEVEL_WARNING, "framing: %s", why);
}

/* Marks the request answered by the front (*was: it already was). */
static void serve_req_refused(serve *s, const struct _u_request *req, int set, int *was)
{
    pthread_mutex_t *lock;
    serve_req *r = serve_req_find(s, req, &lock);

    *was = 0;
    if (r != NULL) {
        *was = r->refused;
        if (set) r->refused = 1;
    }
    serve_req_done(lock);
}

static enum MHD_Result serve_front_run(void *cls, struct MHD_Connection *con, const char *url, const char *method,
        const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    serve_listener *l = cls;
    struct connection_info_struct *ci = *con_cls;
    int was = 0;

    if (ci != NULL && ci->request != NULL) {
        if (ci->callback_first_iteration) {
            const char *code = NULL;
            char why[128];
            int status;
            status = serve_head_check(con, method, version, &code, why, sizeof why);
            if (status != 0) {
                serve_req_refused(l->s, ci->request, 1, &was);
                if (ci->request->http_verb == NULL) ci->request->http_verb = o_strdup(method);   /* for the log */
                return serve_front_refuse(l, con, ci->request->url_path, status, code, why);
            }
        } else {
            serve_req_refused(l->s, ci->request, 0, &was);
            if (was) { *upload_data_size = 0; return MHD_YES; }
            /* the whole request is here; one whose connection the reaper shut
               meanwhile (its thread was held) is closed, not run */
            if (*upload_data_size == 0 && serve_conn_arm(con, 0) != 0) return MHD_NO;
        }
    }
    /* HEAD is GET without the body: libmicrohttpd leaves the body out */
    if (strcmp(method, "HEAD") == 0) method = "GET";
    /* the last call (head and body in): its endpoints run here, over the
       routes (dispatch.h); what dispatch_run leaves goes to ulfius, which
       then matches only the endpoints that can match this path (the other
       calls read the instance's settings alone) */
    if (l->routes != NULL && ci != NULL && ci->request != NULL && l->ulfius_cls == &l->u &&
        !ci->callback_first_iteration && *upload_data_size == 0) {
        enum MHD_Result ret;
        if (dispatch_run(l->routes, &l->u, con, ci, method, &ret) == 0) return ret;
        return l->ulfius_dh((void *)routes_pick(l->routes, method, ci->request->url_path), con, url, method, version,
                            upload_data, upload_data_size, con_cls);
    }
    return l->ulfius_dh(l->ulfius_cls, con, url, method, version, upload_data, upload_data_size, con_cls);
}

/* libmicrohttpd's access handler: serve_front_run, with the connection's
   request record as this thread's (serve_cur) while it runs. */
static enum MHD_Result serve_front(void *cls, struct MHD_Connection *con, const char *url, const char *method,
        const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    serve_conn *c = serve_conn_of(con);
    const struct connection_info_struct *ci = *con_cls;
    enum MHD_Result ret;

    serve_cur = c != NULL ? c->rec : NULL;
    /* ulfius's own steps draw from the request's block: the head's (its
       maps) and the body's; the last call's routes do not (dispatch_run
       draws for its own set-up) */
    oalloc_bind(c != NULL ? c->arena : NULL);
    if (ci != NULL && (ci->callback_first_iteration || *upload_data_size > 0)) oalloc_on();
    ret = serve_front_run(cls, con, url, method, version, upload_data, upload_data_size, con_cls);
    oalloc_bind(NULL);
    serve_cur = NULL;
    return ret;
}

/* The listener being started, for MHD_start_daemon below. */
static serve_listener *serve_starting;

/* ulfius_start_framework_with_mhd_options() passes its own access handler
   to MHD_start_daemon(); this definition, found before libmicrohttpd's by
   the dynamic linker, puts serve_front in front of it. */
struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc,
        void *apc_cls, MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
    struct MHD_Daemon *d;
    va_list ap;
    serve_listener *l = serve_starting;

    va_start(ap, dh_cls);
    if (l != NULL) {
        l->ulfius_dh = dh;
        l->ulfius_cls = dh_cls;
        dh = serve_front;
        dh_cls = l;
    }
    d = MHD_start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
    va_end(ap);
    return d;
}

static int serve_healthz(const struct _u_request *req, struct _u_response *res, void *data)
{
    json_t *body = json_pack("{ss}", "status", "ok");   /* new */
    (void)req;
    (void)data;
    ulfius_set_json_body_response(res, 200, body);
    json_decref(body);
    return U_CALLBACK_COMPLETE;
}

/* ---- /metrics ---- */

static int serve_listen_socket(const config_addr *a, const char *what, int *out, char *err, size_t errlen);

static int serve_peer_is_loopback(const struct sockaddr *sa)
{
    config_addr a;

    if (sa == NULL || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)) return 0;
    memset(&a, 0, sizeof a);
    memcpy(&a.sa, sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
    return config_addr_is_loopback(&a);
}

#define SERVE_METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* GET /metrics on the API listeners (--metrics loopback): loopback peers only. */
static int serve_metrics(const struct _u_request *req, struct _u_response *res, void *data)
{
    serve *s = data;
    size_t len = 0;
    char *text;

    if (!serve_peer_is_loopback(req->client_address))
        return rt_guard_problem(NULL, req, res, 403, "Forbidden", "Forbidden", "/metrics is served to loopback "
                                "clients only (--metrics HOST:PORT gives it a listener of its own)");
    text = metrics_render(serve_in_flight(s), &len);
    if (text == NULL) return rt_guard_problem(NULL, req, res, 500, "Internal Server Error", "OutOfMemory", "out of memory");
    ulfius_set_binary_body_response(res, 200, text, len);
    free(text);
    u_map_put(res->map_header, "Content-Type", SERVE_METRICS_TYPE);
    return U_CALLBACK_COMPLETE;
}

/* The access handler of --metrics HOST:PORT: GET (or HEAD) /metrics, and
   404 for anything else. */
static enum MHD_Result serve_metrics_front(void *cls, struct MHD_Connection *con, const char *url,
        const char *method, const char *version, const char *upload_data, size_t *upload_data_size,
        void **con_cls)
{
    serve *s = cls;
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0, found = strcmp(url, "/metrics") == 0;
    size_t len = 0;
    char *text = NULL;
    struct MHD_Response *r;
    enum MHD_Result ret;
    unsigned status = 200;

    (void)version; (void)upload_data;
    if (*con_cls == NULL) { *con_cls = s; return MHD_YES; }   /* the head: wait for the end */
    if (*upload_data_size != 0) { *upload_data_size = 0; return MHD_YES; }   /* a body: ignored */
    if (found && get) text = metrics_render(serve_in_flight(s), &len);
    if (text == NULL) {
        status = !found ? 404 : !get ? 405 : 500;
        text = strdup(!found ? "not found: this listener serves GET /metrics only\n"
                      : !get ? "method not allowed: GET /metrics\n" : "out of memory\n");
        len = text ? strlen(text) : 0;
    }
    r = MHD_create_response_from_buffer(len, text ? text : (char *)"", MHD_RESPMEM_MUST_FREE);
    if (r == NULL) { free(text); return MHD_NO; }
    MHD_add_response_header(r, "Content-Type", status == 200 ? SERVE_METRICS_TYPE : "text/plain; charset=utf-8");
    if (status == 405) MHD_add_response_header(r, "Allow", "GET, HEAD");
    serve_security_headers(r, 0);
    ret = MHD_queue_response(con, status, r);
    MHD_destroy_response(r);
    return ret;
}

static int serve_metrics_listen(serve *s, const config_addr *a, char *err, size_t errlen)
{
    int fd = -1;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

    if (serve_listen_socket(a, "--metrics", &fd, err, errlen) != 0) return -1;
    if (a->sa.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    s->metrics_d = MHD_start_daemon(flags, 0, NULL, NULL, serve_metrics_front, s,
                                    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_EXTERNAL_LOGGER, serve_mhd_log, NULL,
                                    MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_CONNECTION_LIMIT, 64u,
                                    MHD_OPTION_END);
    if (s->metrics_d == NULL) {
        snprintf(err, errlen, "--metrics %s: libmicrohttpd did not start", a->text);
        close(fd);
        return -1;
    }
    return 0;
}

/* ---- /readyz: readiness, asked of the key store ---- */

void serve_set_ready(serve *s, serve_ready_fn fn)
{
    __atomic_store_n(&s->ready, fn, __ATOMIC_SEQ_CST);
}

static int serve_readyz(const struct _u_request *req, struct _u_response *res, void *data)
{
    serve *s = data;
    serve_ready_fn fn = __atomic_load_n(&s->ready, __ATOMIC_SEQ_CST);
    char why[300] = "starting";
    json_t *store = json_object();   /* new: what the hook tells of the store */
    int ok = fn && fn(s->env.app, why, sizeof why, store) == 0;
    json_t *body = ok ? json_pack("{ss}", "status", "ready")
                      : json_pack("{ssss}", "status", "unavailable", "reason", why);   /* new */
    (void)req;
    if (json_object_size(store))
        json_object_set(body, "store", store);
    json_decref(store);
    ulfius_set_json_body_response(res, ok ? 200 : 503, body);
    json_decref(body);
    return U_CALLBACK_COMPLETE;
}

/* What serve_authenticate saw during this thread's current dispatch (a
   route runs on one thread, from its security check to on_request): one
   bit per rt_auth_result. */
static _Thread_local unsigned serve_auth_seen;

/* The authentication hook the APIs get: the key service's, with its
   outcome noted for the metrics. */
static enum rt_auth_result serve_authenticate(void *app, const rt_auth_request *rq, rt_principal *out,
        unsigned *retry_after)
{
    serve *s = serve_running;
    enum rt_auth_result r = s && s->authenticate ? s->authenticate(app, rq, out, retry_after) : RT_AUTH_ERROR;
    serve_auth_seen |= 1u << r;
    return r;
}

/* The request's authentication outcome, as rt_security_check decided it. */
static void serve_count_auth(int status)
{
    unsigned seen = serve_auth_seen;

    serve_auth_seen = 0;
    if (seen & (1u << RT_AUTH_OK)) metrics_auth(METRICS_AUTH_OK);
    else if (seen & (1u << RT_AUTH_RATE_LIMITED)) metrics_auth(METRICS_AUTH_RATE_LIMITED);
    else if (seen & ((1u << RT_AUTH_UNAVAILABLE) | (1u << RT_AUTH_ERROR))) metrics_auth(METRICS_AUTH_UNAVAILABLE);
    else if (seen & (1u << RT_AUTH_REJECTED)) metrics_auth(METRICS_AUTH_REJECTED);
    else if (seen || status == 401) metrics_auth(METRICS_AUTH_MISSING);   /* no credential was there to check */
}

void serve_on_request(void *app, const rt_ctx *ctx, int status)
{
    serve *s = serve_running;
    const struct _u_request *req = rt_ctx_request(ctx);
    const rt_principal *p = rt_ctx_principal(ctx);
    int slot = metrics_slot_of(ctx);
    pthread_mutex_t *lock;
    serve_req *r;

    (void)app;
    serve_count_auth(status);
    if (s == NULL || req == NULL) return;
    if ((r = serve_req_find(s, req, &lock)) != NULL) {
        r->slot = slot;
        if (p != NULL && (p->credential_id > 0 || p->id > 0)) { r->key_id = p->credential_id; r->user_id = p->id; }
    }
    serve_req_done(lock);
}

/* ---- listeners ---- */

/* rt_guard_config.scope: for a not-found answer's Allow, the endpoints of
   the listener's routes that may match path (a 404 looked through every
   endpoint of the instance: 22k of the 138k instructions of GET /nope). */
static const struct _u_instance *serve_scope(void *data, const struct _u_instance *u, const char *path)
{
    serve *s = data;

    for (int i = 0; i < 2; i++)
        if (&s->l[i].u == u && s->l[i].routes != NULL) return routes_pick_any(s->l[i].routes, path);
    return NULL;
}

static int serve_endpoints(serve *s, serve_listener *l, char *err, size_t errlen)
{
    struct _u_instance *u = &l->u;
    /* the runtime's guard and not-found answer, in each API's error shape;
       libmicrohttpd's connection memory bounds the target and the headers
       (431) before the guard could */
    const rt_guard_config guard = {
        .max_body = s->max_body, .max_url = SIZE_MAX, .max_headers = SIZE_MAX, .app = s,
        .before = serve_before, .error = serve_error, .scope = serve_scope,
    };

    if (apis_mount(u, &s->env, err, errlen) != 0) return -1;
    /* the operations are known now, before any request: number them */
    if (metrics_init() != 0) {
        snprintf(err, errlen, "out of memory for the metrics");
        return -1;
    }
    if (rt_guard_install(u, &guard) != 0) {
        snprintf(err, errlen, "cannot add the request guard");
        return -1;
    }
    if (ulfius_add_endpoint_by_val(u, "GET", NULL, "/healthz", 1, serve_healthz, s) != U_OK ||
        ulfius_add_endpoint_by_val(u, "GET", NULL, "/readyz", 1, serve_readyz, s) != U_OK ||
        (s->metrics_mode == CONFIG_METRICS_LOOPBACK &&
         ulfius_add_endpoint_by_val(u, "GET", NULL, "/metrics", 1, serve_metrics, s) != U_OK)) {
        snprintf(err, errlen, "cannot add the built-in endpoints");
        return -1;
    }
    return 0;
}

/* Opens the listening socket ourselves, so a failure names its cause
   ("Address already in use") rather than MHD_start_daemon's NULL. */
static int serve_listen_socket(const config_addr *a, const char *what, int *out, char *err, size_t errlen)
{
    int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    *out = -1;
    if (fd < 0) {
        snprintf(err, errlen, "%s %s: cannot create a socket: %s", what, a->text, strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (a->sa.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)&a->sa, a->salen) != 0 || listen(fd, SOMAXCONN) != 0) {
        snprintf(err, errlen, "%s %s: cannot listen: %s", what, a->text, strerror(errno));
        close(fd);
        return -1;
    }
    *out = fd;
    return 0;
}

static unsigned serve_cores(void)
{
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    return c > 0 ? (unsigned)c : 1;
}

static int serve_listener_start(serve *s, serve_listener *l, const config *cfg, int tls,
        unsigned max_conns, char *err, size_t errlen)
{
    int fd = -1;
    unsigned threads = tls && cfg->tls_threads ? cfg->tls_threads : cfg->threads;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    size_t n = 0;
    int up;

    l->tls = tls;
    l->s = s;
    if (ulfius_init_instance(&l->u, l->addr.port, NULL, NULL) != U_OK) {
        snprintf(err, errlen, "cannot initialise the ulfius instance for %s", l->addr.text);
        return -1;
    }
    l->inited = 1;
    l->u.check_utf8 = 0;                       /* the guard rejects, never drops */
    l->u.max_post_body_size = s->max_body + 1; /* one byte more: over-size is seen, not cut */
    l->u.allowed_post_processor = U_POST_PROCESS_URL_ENCODED;   /* no API takes multipart */
    if (u_map_put(l->u.default_headers, "X-Content-Type-Options", "nosniff") != U_OK ||
        u_map_put(l->u.default_headers, "Cache-Control", "no-store") != U_OK ||
        (tls && u_map_put(l->u.default_headers, "Strict-Transport-Security", SERVE_HSTS) != U_OK)) {
        snprintf(err, errlen, "cannot set the default response headers");
        return -1;
    }
    if (serve_endpoints(s, l, err, errlen) != 0) return -1;
    if (routes_build(&l->u, &l->routes) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    if (threads == 0) {
        /* two per core. More than one: a request waits for SQLite now and
           then (a read the caches missed, a durable commit), and with one
           thread per core each wait idled that core's share of the
           connections (bench-perf: 2 threads vs 8 on 2 cores, the same CPU
           per request, 1.6-2x the requests/s, and (e)'s creates and
           revokes no longer halve it). Not four, as it was: with every
           worker woken for a connection or two, 8 workers on 2 cores
           switched context 0.36-0.39 times a request against 4 workers'
           0.16-0.19, and took 14.7 against 12.6 us of server CPU a
           keep-alive HTTPS request on 10,000 users' keys (8.7 against 8.1
           over HTTP), with (e)'s creates and revokes no slower (alternating
           runs, issue 16) */
        /* TLS too: the gate does the handshakes (gate.h), so a worker
           holding one no longer spins as libmicrohttpd's own handshake
           made it (SECURITY.md, section 4), and the fewer workers that
           once limited that cost a quarter of keep-alive HTTPS */
        threads = SERVE_THREADS_PER_CORE * serve_cores();
    }
    if (l->addr.sa.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    if (serve_listen_socket(&l->addr, tls ? "--tls-listen" : "--listen", &fd, err, errlen) != 0) return -1;
#define OP(o, v, p) (l->ops[n].option = (o), l->ops[n].value = (intptr_t)(v), l->ops[n].ptr_value = (p), n++)
    OP(MHD_OPTION_EXTERNAL_LOGGER, serve_mhd_log, NULL);
    OP(MHD_OPTION_NOTIFY_COMPLETED, serve_completed, s);
    OP(MHD_OPTION_URI_LOG_CALLBACK, serve_uri_log, s);
    /* TLS: the gate owns the socket and hands libmicrohttpd each
       connection once its handshake is done (gate.h) */
    l->gated = tls;
    if (l->gated) flags |= MHD_USE_NO_LISTEN_SOCKET;
    else OP(MHD_OPTION_LISTEN_SOCKET, fd, NULL);
    OP(MHD_OPTION_THREAD_POOL_SIZE, threads, NULL);
    OP(MHD_OPTION_CONNECTION_TIMEOUT, cfg->conn_timeout, NULL);
    OP(MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->conn_memory, NULL);
    /* libmicrohttpd at its own limit stops accepting, and connections wait
       in the backlog; a little above ours, it accepts them for
       serve_conn_notify to refuse */
    l->max_conns = max_conns;
    OP(MHD_OPTION_CONNECTION_LIMIT, max_conns + max_conns / 4 + 64, NULL);
    /* the gate counts a TLS listener's addresses itself, held ones included */
    if (cfg->max_connections_per_ip > 0 && !l->gated)
        OP(MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_connections_per_ip, NULL);
    OP(MHD_OPTION_NOTIFY_CONNECTION, serve_conn_notify, l);
    if (tls) {
        flags |= MHD_USE_TLS;
        OP(MHD_OPTION_HTTPS_CERT_CALLBACK2, 0, (void *)tls_cert_callback);
        OP(MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES);
        if (s->client_ca_pem != NULL) {
            OP(MHD_OPTION_HTTPS_MEM_TRUST, 0, s->client_ca_pem);
            l->u.use_client_cert_auth = 1;
        }
    }
    OP(MHD_OPTION_END, 0, NULL);
#undef OP
    serve_starting = l;
    up = ulfius_start_framework_with_mhd_options(&l->u, flags, l->ops) == U_OK;
    serve_starting = NULL;
    if (up && l->ulfius_dh == NULL) {
        /* ulfius did not start its daemon through MHD_start_daemon (above) */
        snprintf(err, errlen, "%s %s: the request front was not installed", tls ? "--tls-listen" : "--listen",
                 l->addr.text);
        l->started = 1;
        return -1;
    }
    if (!up) {
        snprintf(err, errlen, "%s %s: libmicrohttpd did not start (run with --log-level debug for its reason)",
                 tls ? "--tls-listen" : "--listen", l->addr.text);
        close(fd);
        return -1;
    }
    l->started = 1;
    if (l->gated) {
        gate_config gc = {
            .listen_fd = fd, .d = l->u.mhd_daemon, .deadline_ms = s->handshake_timeout * 1000,
            .per_ip = cfg->max_connections_per_ip, .max_fd = s->nofile, .threads = serve_cores(),
            .hooks = { .cls = l, .admit = serve_gate_admit, .release = serve_gate_release,
                       .session = serve_gate_session, .reaped = serve_gate_reaped },
        };
        if (tls_server_init(&l->tls_srv, s->client_ca_pem, err, errlen) != 0) {
            close(fd);
            return -1;
        }
        gc.cred = l->tls_srv.cred;
        gc.priorities = l->tls_srv.priorities;
        if (gate_start(&gc, &l->gate, err, errlen) != 0) {
            close(fd);
            return -1;
        }
    }
    return 0;
}

static int serve_load_client_ca(serve *s, const char *path, char *err, size_t errlen)
{
    gnutls_x509_crt_t *crts = NULL;
    unsigned n = 0;
    gnutls_datum_t d;
    char why[300];
    int r;

    if (tls_read_file(path, &s->client_ca_pem, why, sizeof why) != 0) {
        snprintf(err, errlen, "--tls-client-ca: %s", why);
        return -1;
    }
    d.data = (unsigned char *)s->client_ca_pem;
    d.size = (unsigned)strlen(s->client_ca_pem);
    r = gnutls_x509_crt_list_import2(&crts, &n, &d, GNUTLS_X509_FMT_PEM, 0);
    for (unsigned i = 0; i < n; i++) gnutls_x509_crt_deinit(crts[i]);
    gnutls_free(crts);
    if (r < 0 || n == 0) {
        snprintf(err, errlen, "--tls-client-ca %s: not a PEM certificate list: %s", path,
                 r < 0 ? gnutls_strerror(r) : "no certificate");
        return -1;
    }
    return 0;
}

/* Raises the soft open-file limit to the hard one (a connection is a
   descriptor; the common soft default of 1024 would cap the listeners near
   1,020 connections) and returns the soft limit now in force. */
static unsigned long serve_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t want = rl.rlim_max == RLIM_INFINITY ? (rlim_t)1 << 20 : rl.rlim_max;
        struct rlimit up = { want, rl.rlim_max };
        if (setrlimit(RLIMIT_NOFILE, &up) == 0) rl.rlim_cur = want;
    }
    return rl.rlim_cur == RLIM_INFINITY ? 1ul << 20 : (unsigned long)rl.rlim_cur;
}

int serve_start(const config *cfg, void *app, rt_auth_fn authenticate, serve **out,
        char *err, size_t errlen)
{
    serve *s = calloc(1, sizeof *s);
    int rc = -1;
    unsigned long nofile = serve_raise_nofile();
    unsigned listeners = (unsigned)!cfg->listen.off + (unsigned)!cfg->tls_listen.off, max_conns;

    *out = NULL;
    if (s == NULL) { snprintf(err, errlen, "out of memory"); return -1; }
    if (oalloc_install() != 0)   /* then every request's state is glibc's, as before */
        y_log_message(Y_LOG_LEVEL_WARNING, "ulfius's request state: no block region (%s); malloc it is",
                      strerror(errno));
    for (size_t i = 0; i < SERVE_REQ_LOCKS; i++) pthread_mutex_init(&s->req_lock[i], NULL);
    pthread_mutex_init(&s->conn_lock, NULL);
    pthread_cond_init(&s->conn_cond, NULL);
    s->request_timeout = cfg->request_timeout;
    s->nofile = nofile;
    s->handshake_timeout = cfg->tls_handshake_timeout < cfg->request_timeout ? cfg->tls_handshake_timeout
                                                                              : cfg->request_timeout;
    /* each listener its share of the descriptors, less a reserve for the
       database, the listening sockets and the log */
    max_conns = cfg->max_connections;
    if (max_conns == 0) {
        unsigned long share = (nofile > 256 ? nofile - 128 : nofile / 2) / (listeners ? listeners : 1);
        max_conns = share > 1000000 ? 1000000 : share < 16 ? 16 : (unsigned)share;
    }
    s->max_body = cfg->max_body;
    s->env.app = app;
    s->authenticate = authenticate;
    s->env.authenticate = authenticate ? serve_authenticate : NULL;
    s->metrics_mode = cfg->metrics_mode;
    s->env.max_body = cfg->max_body;
    s->env.test_endpoints = cfg->test_slow_endpoint;
    s->env.validate_responses = cfg->validate_responses;
    s->env.on_request = serve_on_request;
    s->l[0].addr = cfg->listen;
    s->l[1].addr = cfg->tls_listen;
    serve_running = s;
    serve_mhdfix_install(s);
    if (!cfg->tls_listen.off && cfg->tls_client_ca &&
        serve_load_client_ca(s, cfg->tls_client_ca, err, errlen) != 0)
        goto cleanup;
    if (!cfg->listen.off && serve_listener_start(s, &s->l[0], cfg, 0, max_conns, err, errlen) != 0) goto cleanup;
    if (pthread_create(&s->reaper, NULL, serve_reaper, s) != 0) {
        snprintf(err, errlen, "cannot start the request-deadline thread");
        goto cleanup;
    }
    s->reaper_started = 1;
    if (!cfg->tls_listen.off && serve_listener_start(s, &s->l[1], cfg, 1, max_conns, err, errlen) != 0) goto cleanup;
    if (cfg->metrics_mode == CONFIG_METRICS_LISTEN && serve_metrics_listen(s, &cfg->metrics_listen, err, errlen) != 0)
        goto cleanup;
    y_log_message(Y_LOG_LEVEL_INFO, "connections: at most %u per listener, %u per client address%s; "
                  "a whole request within %us, a TLS handshake within %us (open files %lu)", max_conns,
                  cfg->max_connections_per_ip, cfg->max_connections_per_ip ? "" : " (no limit)", cfg->request_timeout,
                  s->handshake_timeout, nofile);
    *out = s;
    s = NULL;
    rc = 0;
cleanup:
    if (s) serve_stop(s);
    return rc;
}

void serve_quiesce(serve *s)
{
    for (int i = 0; i < 2; i++) {
        serve_listener *l = &s->l[i];
        if (l->started && !l->quiesced) {
            /* MHD hands the listening socket back; closing it now makes new
               connections fail at once instead of waiting in the backlog */
            MHD_socket fd = l->gate ? MHD_INVALID_SOCKET : MHD_quiesce_daemon(l->u.mhd_daemon);
            if (fd != MHD_INVALID_SOCKET) close(fd);
            gate_quiesce(l->gate);
            l->quiesced = 1;
        }
    }
}

unsigned serve_in_flight(serve *s)
{
    return __atomic_load_n(&s->in_flight, __ATOMIC_SEQ_CST);
}

int serve_wait_idle(serve *s, unsigned timeout_s)
{
    struct timespec t0, tick = { 0, 10 * 1000000L };
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (serve_in_flight(s) > 0) {
        if (serve_ms_since(&t0) >= (double)timeout_s * 1e3) return -1;
        nanosleep(&tick, NULL);
    }
    return 0;
}

void serve_stop(serve *s)
{
    if (s == NULL) return;
    if (s->reaper_started) {
        pthread_mutex_lock(&s->conn_lock);
        s->reaper_stop = 1;
        pthread_cond_signal(&s->conn_cond);
        pthread_mutex_unlock(&s->conn_lock);
        pthread_join(s->reaper, NULL);
    }
    if (s->metrics_d) MHD_stop_daemon(s->metrics_d);
    for (int i = 0; i < 2; i++) {
        serve_listener *l = &s->l[i];
        gate_stop(l->gate);   /* hands nothing more to the daemon */
        if (l->started) ulfius_stop_framework(&l->u);
        gate_free(l->gate);
        l->gate = NULL;
        tls_server_free(&l->tls_srv);   /* after the last session made with it */
        routes_free(l->routes);
        if (l->inited) ulfius_clean_instance(&l->u);
    }
    for (size_t h = 0; h < SERVE_BUCKETS; h++) {
        while (s->reqs[h]) {
            serve_req *r = s->reqs[h];
            s->reqs[h] = r->next;
            free(r);
        }
    }
    if (serve_running == s) serve_running = NULL;
    free(s->client_ca_pem);
    for (size_t i = 0; i < SERVE_REQ_LOCKS; i++) pthread_mutex_destroy(&s->req_lock[i]);
    pthread_mutex_destroy(&s->conn_lock);
    pthread_cond_destroy(&s->conn_cond);
    free(s);
}
