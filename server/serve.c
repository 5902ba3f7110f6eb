/* serve: listeners, the guard/healthz/fallback endpoints, request
 * accounting and the access log. */
#include "serve.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <netinet/in.h>
#include <microhttpd.h>
#include <orcania.h>
#include <ulfius.h>
#include <yder.h>

#include "apis.h"
#include "log.h"
#include "tls.h"
#include "utf8.h"

#define SERVE_BUCKETS 256
#define SERVE_MAX_OPS 16

/* One request between its URI and its completion. */
typedef struct serve_req {
    const struct _u_request *req;
    struct timespec start;
    int64_t key_id;          /* -1: not authenticated; 0: by a JWT */
    int64_t user_id;         /* -1: not authenticated */
    struct sockaddr_storage client;  /* the full client address */
    struct serve_req *next;
} serve_req;

typedef struct serve_listener {
    struct _u_instance u;
    int inited, started, tls;
    int quiesced;                /* no longer accepting (listening socket closed) */
    struct MHD_OptionItem ops[SERVE_MAX_OPS];
    config_addr addr;
} serve_listener;

struct serve {
    serve_listener l[2];         /* [0] plain, [1] TLS */
    size_t max_body;
    char *client_ca_pem;
    apis_env env;
    pthread_mutex_t lock;
    serve_ready_fn ready;        /* /readyz (atomic) */
    serve_req *reqs[SERVE_BUCKETS];
    unsigned in_flight;
};

/* The running server, for serve_on_request (whose app is the key service). */
static serve *serve_running;

static size_t serve_hash(const void *p)
{
    return ((uintptr_t)p >> 4) % SERVE_BUCKETS;
}

static double serve_ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* ---- MHD hooks ---- */

/* MHD_OPTION_URI_LOG_CALLBACK: ulfius's own logger (which creates its
   per-request state) plus our start time and in-flight count. */
static void *serve_uri_log(void *cls, const char *uri, struct MHD_Connection *con)
{
    serve *s = cls;
    struct connection_info_struct *ci = ulfius_uri_logger(NULL, uri);
    serve_req *r;
    size_t h;

    const union MHD_ConnectionInfo *ca;

    if (ci == NULL || ci->request == NULL) return ci;
    r = calloc(1, sizeof *r);
    if (r == NULL) return ci;
    ca = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ca != NULL && ca->client_addr != NULL)
        memcpy(&r->client, ca->client_addr, ca->client_addr->sa_family == AF_INET6
               ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
    r->req = ci->request;
    r->key_id = -1;
    r->user_id = -1;
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    h = serve_hash(r->req);
    pthread_mutex_lock(&s->lock);
    r->next = s->reqs[h];
    s->reqs[h] = r;
    s->in_flight++;
    pthread_mutex_unlock(&s->lock);
    return ci;
}

/* Removes and returns the record of req (caller frees), or NULL. */
static serve_req *serve_req_take(serve *s, const struct _u_request *req)
{
    serve_req **pp, *r = NULL;
    pthread_mutex_lock(&s->lock);
    for (pp = &s->reqs[serve_hash(req)]; *pp; pp = &(*pp)->next) {
        if ((*pp)->req == req) {
            r = *pp;
            *pp = r->next;
            s->in_flight--;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

/* MHD_OPTION_NOTIFY_COMPLETED: the access-log line, then ulfius's cleanup. */
static void serve_completed(void *cls, struct MHD_Connection *con, void **con_cls,
        enum MHD_RequestTerminationCode toe)
{
    serve *s = cls;
    struct connection_info_struct *ci = con_cls ? *con_cls : NULL;

    if (ci != NULL && ci->request != NULL) {
        serve_req *r = serve_req_take(s, ci->request);
        if (r != NULL) {
            const union MHD_ConnectionInfo *st = MHD_get_connection_info(con, MHD_CONNECTION_INFO_HTTP_STATUS);
            const union MHD_ConnectionInfo *ca = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
            unsigned status = st ? st->http_status : 0;
            if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && status == 0) status = 499;
            log_access(ci->request->http_verb, ci->request->url_path, status, serve_ms_since(&r->start),
                       ca ? ca->client_addr : NULL, r->key_id, r->user_id);
            free(r);
        }
    }
    mhd_request_completed(NULL, con, con_cls, toe);
}

/* MHD_OPTION_NOTIFY_CONNECTION (TLS with --tls-client-ca): every new TLS
   session must present a client certificate that verifies. */
static void serve_conn_notify(void *cls, struct MHD_Connection *con, void **socket_context,
        enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    (void)socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (ci != NULL && ci->tls_session != NULL) tls_require_client_cert(ci->tls_session);
    }
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

static int serve_problem(struct _u_response *res, int status, const char *title, const char *detail)
{
    json_t *body = json_pack("{sssissss}", "type", "about:blank", "status", status,
                             "title", title, "detail", detail);   /* new */
    ulfius_set_json_body_response(res, (unsigned)status, body);   /* copies */
    json_decref(body);
    u_map_put(res->map_header, "Content-Type", "application/problem+json");
    return U_CALLBACK_COMPLETE;
}

/* An error the server answers itself: in the error shape of the API the
   request's path belongs to (a bare status for Heron, the envelope for
   NebulaBlock, ...), problem details outside every API. */
static int serve_error(serve *s, const struct _u_request *req, struct _u_response *res, int status,
                       const char *title, const char *code, const char *detail)
{
    json_t *body = NULL;   /* new */
    const char *ct = NULL;

    if (apis_error_body(req->url_path, &s->env, status, code, detail, &body, &ct) != 0)
        return serve_problem(res, status, title, detail);
    if (body != NULL) {
        ulfius_set_json_body_response(res, (unsigned)status, body);   /* copies */
        json_decref(body);
    } else {
        res->status = (unsigned)status;
    }
    if (ct != NULL) u_map_put(res->map_header, "Content-Type", ct);
    return U_CALLBACK_COMPLETE;
}

static const char *serve_bad_utf8_in_map(const struct _u_map *m, const char *what, char *buf, size_t len)
{
    if (m == NULL) return NULL;
    for (int i = 0; i < m->nb_values; i++) {
        const char *k = m->keys[i], *v = m->values[i];
        if (!utf8_valid(k, strlen(k))) {
            snprintf(buf, len, "invalid UTF-8 in a %s name", what);
            return buf;
        }
        if (v != NULL && !utf8_valid(v, strlen(v))) {
            snprintf(buf, len, "invalid UTF-8 in the value of %s %s", what, k);
            return buf;
        }
    }
    return NULL;
}

/* ulfius 2.7 copies only sizeof(struct sockaddr) (16 bytes) of the client
   address, which cuts an IPv6 address in half (and readers of sin6_addr run
   past the copy). Before any route sees the request, put the whole address
   there, from what libmicrohttpd reported when the request began. */
static void serve_fix_client_address(serve *s, const struct _u_request *req)
{
    struct _u_request *w = (struct _u_request *)req;   /* ours until the routes run */
    struct sockaddr_in6 *full = NULL;

    if (req->client_address == NULL || req->client_address->sa_family != AF_INET6) return;
    pthread_mutex_lock(&s->lock);
    for (serve_req *r = s->reqs[serve_hash(req)]; r; r = r->next) {
        if (r->req == req && r->client.ss_family == AF_INET6) {
            full = o_malloc(sizeof *full);
            if (full) memcpy(full, &r->client, sizeof *full);
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (full == NULL) return;
    o_free(w->client_address);
    w->client_address = (struct sockaddr *)full;
}

/* "*" at priority 0: runs before every route. */
static int serve_guard(const struct _u_request *req, struct _u_response *res, void *data)
{
    serve *s = data;
    const char *url = req->http_url ? req->http_url : "";
    const char *q = strchr(url, '?');
    size_t path_len = q ? (size_t)(q - url) : strlen(url);
    const char *cl;
    char why[300];

    serve_fix_client_address(s, req);
    if (!utf8_valid_percent_decoded(url, path_len))
        return serve_error(s, req, res, 400, "Bad Request", "BadRequest", "invalid UTF-8 in the URL path");
    if (q && !utf8_valid_percent_decoded(q + 1, strlen(q + 1)))
        return serve_error(s, req, res, 400, "Bad Request", "BadRequest", "invalid UTF-8 in the query string");
    if (serve_bad_utf8_in_map(req->map_url, "query parameter", why, sizeof why) ||
        serve_bad_utf8_in_map(req->map_header, "header", why, sizeof why) ||
        serve_bad_utf8_in_map(req->map_cookie, "cookie", why, sizeof why))
        return serve_error(s, req, res, 400, "Bad Request", "BadRequest", why);
    cl = u_map_get_case(req->map_header, "Content-Length");
    if ((cl != NULL && strtoull(cl, NULL, 10) > s->max_body) || req->binary_body_length > s->max_body) {
        snprintf(why, sizeof why, "request body larger than %zu bytes", s->max_body);
        return serve_error(s, req, res, 413, "Content Too Large", "PayloadTooLarge", why);
    }
    return U_CALLBACK_CONTINUE;
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
    int ok = fn && fn(s->env.app, why, sizeof why) == 0;
    json_t *body = ok ? json_pack("{ss}", "status", "ready")
                      : json_pack("{ssss}", "status", "unavailable", "reason", why);   /* new */
    (void)req;
    ulfius_set_json_body_response(res, ok ? 200 : 503, body);
    json_decref(body);
    return U_CALLBACK_COMPLETE;
}

/* Next path segment of *p ("" at the end); segments are split on '/' and
   empty ones skipped, as ulfius matches routes. */
static size_t serve_segment(const char **p, const char **seg)
{
    size_t n;
    while (**p == '/') (*p)++;
    *seg = *p;
    n = strcspn(*p, "/");
    *p += n;
    return n;
}

/* 1 when route prefix + format (":name" a parameter, "*" the rest) matches path. */
static int serve_route_matches(const char *prefix, const char *format, const char *path)
{
    const char *parts[2] = { prefix ? prefix : "", format ? format : "" }, *seg, *pseg;
    size_t n, pn;

    for (int i = 0; i < 2; i++) {
        const char *r = parts[i];
        while ((n = serve_segment(&r, &seg)) > 0) {
            if (n == 1 && *seg == '*') return 1;
            pn = serve_segment(&path, &pseg);
            if (pn == 0) return 0;
            if ((*seg == ':' || *seg == '@') && n > 1) continue;
            if (pn != n || strncmp(seg, pseg, n) != 0) return 0;
        }
    }
    return serve_segment(&path, &pseg) == 0;
}

/* The methods the API routes accept at path ("GET, POST"); "" when none. */
static void serve_allowed(const struct _u_instance *u, const char *path, char *allow, size_t len)
{
    size_t o = 0;

    allow[0] = '\0';
    for (int i = 0; path && i < u->nb_endpoints && o < len; i++) {
        const struct _u_endpoint *e = &u->endpoint_list[i];
        if (e->http_method == NULL || strcmp(e->http_method, "*") == 0 || strstr(allow, e->http_method) != NULL ||
            !serve_route_matches(e->url_prefix, e->url_format, path))
            continue;
        o += (size_t)snprintf(allow + o, len - o, "%s%s", o ? ", " : "", e->http_method);
    }
}

/* No route answered: 405 with Allow when the path exists for other methods
   (as every vendor's framework answers), else 404; in the API's shape. */
static int serve_not_found(const struct _u_request *req, struct _u_response *res, void *data)
{
    serve *s = data;
    char allow[128], msg[256];

    serve_allowed(s->l[0].inited ? &s->l[0].u : &s->l[1].u, req->url_path, allow, sizeof allow);
    if (allow[0] == '\0')
        return serve_error(s, req, res, 404, "Not Found", "NotFound", "no such resource");
    snprintf(msg, sizeof msg, "method %.20s is not allowed here; allowed: %s", req->http_verb, allow);
    u_map_put(res->map_header, "Allow", allow);
    return serve_error(s, req, res, 405, "Method Not Allowed", "MethodNotAllowed", msg);
}

void serve_on_request(void *app, const rt_ctx *ctx, int status)
{
    serve *s = serve_running;
    const struct _u_request *req = rt_ctx_request(ctx);
    const rt_principal *p = rt_ctx_principal(ctx);

    (void)app;
    (void)status;
    if (s == NULL || req == NULL || p == NULL || (p->key_id <= 0 && p->user_id <= 0)) return;
    pthread_mutex_lock(&s->lock);
    for (serve_req *r = s->reqs[serve_hash(req)]; r; r = r->next)
        if (r->req == req) { r->key_id = p->key_id; r->user_id = p->user_id; break; }
    pthread_mutex_unlock(&s->lock);
}

/* ---- listeners ---- */

static int serve_endpoints(serve *s, serve_listener *l, char *err, size_t errlen)
{
    struct _u_instance *u = &l->u;

    if (ulfius_add_endpoint_by_val(u, "*", NULL, "*", 0, serve_guard, s) != U_OK) {
        snprintf(err, errlen, "cannot add the request guard");
        return -1;
    }
    if (apis_mount(u, &s->env, err, errlen) != 0) return -1;
    /* every API route one step after the guard, whatever priority it asked for */
    for (int i = 0; i < u->nb_endpoints; i++) {
        struct _u_endpoint *e = &u->endpoint_list[i];
        if (e->callback_function != serve_guard && e->priority < UINT_MAX - 1) e->priority++;
    }
    if (ulfius_add_endpoint_by_val(u, "GET", NULL, "/healthz", 1, serve_healthz, s) != U_OK ||
        ulfius_add_endpoint_by_val(u, "GET", NULL, "/readyz", 1, serve_readyz, s) != U_OK ||
        ulfius_add_endpoint_by_val(u, "*", NULL, "*", UINT_MAX, serve_not_found, s) != U_OK ||
        ulfius_set_default_endpoint(u, serve_not_found, s) != U_OK) {
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

static int serve_listener_start(serve *s, serve_listener *l, const config *cfg, int tls,
        char *err, size_t errlen)
{
    int fd = -1;
    unsigned threads = cfg->threads;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    size_t n = 0;

    l->tls = tls;
    if (ulfius_init_instance(&l->u, l->addr.port, NULL, NULL) != U_OK) {
        snprintf(err, errlen, "cannot initialise the ulfius instance for %s", l->addr.text);
        return -1;
    }
    l->inited = 1;
    l->u.check_utf8 = 0;                       /* the guard rejects, never drops */
    l->u.max_post_body_size = s->max_body + 1; /* one byte more: over-size is seen, not cut */
    if (serve_endpoints(s, l, err, errlen) != 0) return -1;

    if (threads == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        threads = c > 0 ? (unsigned)c : 1;
    }
    if (l->addr.sa.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    if (serve_listen_socket(&l->addr, tls ? "--tls-listen" : "--listen", &fd, err, errlen) != 0) return -1;
#define OP(o, v, p) (l->ops[n].option = (o), l->ops[n].value = (intptr_t)(v), l->ops[n].ptr_value = (p), n++)
    OP(MHD_OPTION_EXTERNAL_LOGGER, serve_mhd_log, NULL);
    OP(MHD_OPTION_NOTIFY_COMPLETED, serve_completed, s);
    OP(MHD_OPTION_URI_LOG_CALLBACK, serve_uri_log, s);
    OP(MHD_OPTION_LISTEN_SOCKET, fd, NULL);
    OP(MHD_OPTION_THREAD_POOL_SIZE, threads, NULL);
    OP(MHD_OPTION_CONNECTION_TIMEOUT, cfg->conn_timeout, NULL);
    OP(MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->conn_memory, NULL);
    if (tls) {
        flags |= MHD_USE_TLS;
        OP(MHD_OPTION_HTTPS_CERT_CALLBACK2, 0, (void *)tls_cert_callback);
        OP(MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES);
        if (s->client_ca_pem != NULL) {
            OP(MHD_OPTION_HTTPS_MEM_TRUST, 0, s->client_ca_pem);
            OP(MHD_OPTION_NOTIFY_CONNECTION, serve_conn_notify, s);
            l->u.use_client_cert_auth = 1;
        }
    }
    OP(MHD_OPTION_END, 0, NULL);
#undef OP
    if (ulfius_start_framework_with_mhd_options(&l->u, flags, l->ops) != U_OK) {
        snprintf(err, errlen, "%s %s: libmicrohttpd did not start (run with --log-level debug for its reason)",
                 tls ? "--tls-listen" : "--listen", l->addr.text);
        close(fd);
        return -1;
    }
    l->started = 1;
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

int serve_start(const config *cfg, void *app, rt_auth_fn authenticate, serve **out,
        char *err, size_t errlen)
{
    serve *s = calloc(1, sizeof *s);
    int rc = -1;

    *out = NULL;
    if (s == NULL) { snprintf(err, errlen, "out of memory"); return -1; }
    pthread_mutex_init(&s->lock, NULL);
    s->max_body = cfg->max_body;
    s->env.app = app;
    s->env.authenticate = authenticate;
    s->env.max_body = cfg->max_body;
    s->env.test_endpoints = cfg->test_slow_endpoint;
    s->env.validate_responses = cfg->validate_responses;
    s->env.on_request = serve_on_request;
    s->l[0].addr = cfg->listen;
    s->l[1].addr = cfg->tls_listen;
    serve_running = s;
    if (!cfg->tls_listen.off && cfg->tls_client_ca &&
        serve_load_client_ca(s, cfg->tls_client_ca, err, errlen) != 0)
        goto cleanup;
    if (!cfg->listen.off && serve_listener_start(s, &s->l[0], cfg, 0, err, errlen) != 0) goto cleanup;
    if (!cfg->tls_listen.off && serve_listener_start(s, &s->l[1], cfg, 1, err, errlen) != 0) goto cleanup;
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
            MHD_socket fd = MHD_quiesce_daemon(l->u.mhd_daemon);
            if (fd != MHD_INVALID_SOCKET) close(fd);
            l->quiesced = 1;
        }
    }
}

unsigned serve_in_flight(serve *s)
{
    unsigned n;
    pthread_mutex_lock(&s->lock);
    n = s->in_flight;
    pthread_mutex_unlock(&s->lock);
    return n;
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
    for (int i = 0; i < 2; i++) {
        serve_listener *l = &s->l[i];
        if (l->started) ulfius_stop_framework(&l->u);
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
    pthread_mutex_destroy(&s->lock);
    free(s);
}
