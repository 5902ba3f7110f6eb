/* mhdfix: libmicrohttpd 0.9.75's own answers and its line-end leniency
 * (see mhdfix.h for what and why). What this relies on, read in the
 * 0.9.75 source (src/microhttpd/connection.c) and in Debian 12's
 * libmicrohttpd.so.12 (objdump: the one call of
 * MHD_create_response_from_buffer@plt, in transmit_error_response_len, is
 * followed by MHD_queue_response@plt):
 * - transmit_error_response_len makes every error answer of the library
 *   from a static string (MHD_RESPMEM_PERSISTENT) and queues it at once,
 *   on the connection's thread, with the state set to FULL_REQ_RECEIVED;
 *   if the queue fails it closes the connection (CONNECTION_CLOSE_ERROR)
 *   and writes nothing;
 * - get_next_header_line replaces CR LF by two NULs and a bare LF by one,
 *   in place, in the read buffer, which keeps the head contiguous from the
 *   request line (connection->method) to the end of the empty line
 *   (MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE is that distance); a header's
 *   name and value point into that buffer (the colon made a NUL, the
 *   blanks after it skipped, the value's length its strlen); only an
 *   obs-fold moves a header elsewhere (process_broken_line). */
#include "mhdfix.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <gnutls/gnutls.h>

typedef struct MHD_Response *(*mhdfix_create_fn)(size_t size, void *buffer, enum MHD_ResponseMemoryMode mode);
typedef enum MHD_Result (*mhdfix_queue_fn)(struct MHD_Connection *con, unsigned int status, struct MHD_Response *r);

#define MHDFIX_SEGMENTS 8
/* the direct write (b): how long the connection's thread may wait for room
   for the rest, once part went out (it starts only when there is room) */
#define MHDFIX_WRITE_MS 50

static struct {
    pthread_once_t once;
    mhdfix_create_fn create;     /* libmicrohttpd's own definitions */
    mhdfix_queue_fn queue;
    uintptr_t seg[MHDFIX_SEGMENTS][2];   /* libmicrohttpd's loaded segments: [start, end) */
    unsigned n_seg;
    unsigned active;             /* MHDFIX_* */
    mhdfix_answer_fn answer;
    void *answer_cls;
    atomic_ulong replaced;
} mhdfix = { .once = PTHREAD_ONCE_INIT };

/* The error answer libmicrohttpd made last on this thread, until it is
   queued: its response and text. */
static _Thread_local struct MHD_Response *mhdfix_made;
static _Thread_local const char *mhdfix_made_text;
static _Thread_local size_t mhdfix_made_len;

/* libmicrohttpd's messages (0.9.75, HAVE_MESSAGES), recognised by status
   and a phrase of their text; direct: raised after the head was parsed,
   where 0.9.75 writes the head twice (b). An answer not in the table keeps
   its status and gets the status's reason phrase. */
static const struct {
    unsigned status;
    const char *phrase, *code, *why;
    int direct;
} mhdfix_known[] = {
    { 400, "wrong value for <b>Content-Length", "BadRequest", "Content-Length must be a decimal number", 1 },
    { 413, "too large value for <b>Content-Length", "ContentTooLarge", "Content-Length is too large", 1 },
    { 400, "&quot;Host:&quot; header required", "BadRequest", "an HTTP/1.1 request needs a Host header", 1 },
    { 431, "header was too big", "RequestHeaderFieldsTooLarge",
      "the request's header fields are larger than this server accepts", 0 },
    { 414, "header was too big", "URITooLong", "the request line is longer than this server accepts", 0 },
    { 400, "chunked encoding was syntactically", "BadRequest", "the chunked body is malformed", 0 },
    { 413, "chunk size used in your HTTP chunked", "ContentTooLarge", "a chunk size is too large", 0 },
    { 400, "request was syntactically incorrect", "BadRequest", "the request is not valid HTTP/1.1", 0 },
    { 505, "HTTP version", "HTTPVersionNotSupported", "the HTTP version is not supported; use HTTP/1.1", 0 },
    { 500, "Internal server error", "InternalServerError", "the server could not take the request", 0 },
};

static int mhdfix_find_image(struct dl_phdr_info *info, size_t size, void *data)
{
    uintptr_t fn = (uintptr_t)data;
    unsigned n = 0;
    int mine = 0;

    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type != PT_LOAD) continue;
        if (fn >= a && fn < a + ph->p_memsz) mine = 1;
        if (n < MHDFIX_SEGMENTS) {
            mhdfix.seg[n][0] = a;
            mhdfix.seg[n][1] = a + ph->p_memsz;
            n++;
        }
    }
    if (!mine) return 0;
    mhdfix.n_seg = n;
    return 1;
}

static void mhdfix_resolve(void)
{
    mhdfix.create = (mhdfix_create_fn)dlsym(RTLD_NEXT, "MHD_create_response_from_buffer");
    mhdfix.queue = (mhdfix_queue_fn)dlsym(RTLD_NEXT, "MHD_queue_response");
    if (mhdfix.queue != NULL) dl_iterate_phdr(mhdfix_find_image, (void *)mhdfix.queue);
}

/* Whether p lies in libmicrohttpd's image (its read-only data). */
static int mhdfix_in_library(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    for (unsigned i = 0; i < mhdfix.n_seg; i++)
        if (a >= mhdfix.seg[i][0] && a < mhdfix.seg[i][1]) return 1;
    return 0;
}

unsigned long mhdfix_replaced(void)
{
    return atomic_load(&mhdfix.replaced);
}

static int mhdfix_probe(char *why, size_t len);

unsigned mhdfix_install(mhdfix_answer_fn fn, void *cls, char *why, size_t len)
{
    const char *v = MHD_get_version();
    void *bound = dlsym(RTLD_DEFAULT, "MHD_queue_response");

    pthread_once(&mhdfix.once, mhdfix_resolve);
    why[0] = '\0';
    mhdfix.answer = fn;
    mhdfix.answer_cls = cls;
    mhdfix.active = 0;
    if (mhdfix.create == NULL || mhdfix.queue == NULL || mhdfix.n_seg == 0) {
        snprintf(why, len, "libmicrohttpd's MHD_queue_response or MHD_create_response_from_buffer was not found "
                 "behind apikeyd's");
        return 0;
    }
    if (bound != (void *)MHD_queue_response) {
        snprintf(why, len, "the dynamic linker does not bind MHD_queue_response to apikeyd's definition");
        return 0;
    }
    mhdfix.active = MHDFIX_ERRORS;
    if (v != NULL && strcmp(v, "0.9.75") == 0) mhdfix.active |= MHDFIX_ONE_HEAD | MHDFIX_LINE_ENDS;
    else
        snprintf(why, len, "libmicrohttpd %s is not 0.9.75: the single-head fix and the bare-LF check (written "
                 "against 0.9.75's parser) are off", v ? v : "?");
    if (mhdfix_probe(why, len) != 0) mhdfix.active = 0;
    return mhdfix.active;
}

struct MHD_Response *MHD_create_response_from_buffer(size_t size, void *buffer, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r;

    pthread_once(&mhdfix.once, mhdfix_resolve);
    if (mhdfix.create == NULL) return NULL;
    r = mhdfix.create(size, buffer, mode);
    mhdfix_made = NULL;
    if (r != NULL && mode == MHD_RESPMEM_PERSISTENT && mhdfix_in_library(buffer)) {
        mhdfix_made = r;
        mhdfix_made_text = buffer;
        mhdfix_made_len = size;
    }
    return r;
}

/* ---- (b): the answer written in one piece ---- */

typedef struct mhdfix_buf {
    char *p;
    size_t len, cap;
    int full;
} mhdfix_buf;

static void mhdfix_put(mhdfix_buf *b, const char *s, size_t n)
{
    if (b->full || n > b->cap - b->len) { b->full = 1; return; }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void mhdfix_puts(mhdfix_buf *b, const char *s)
{
    mhdfix_put(b, s, strlen(s));
}

static enum MHD_Result mhdfix_put_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    mhdfix_buf *b = cls;
    (void)kind;
    if (strcasecmp(key, "Content-Length") == 0) return MHD_YES;   /* ours below */
    mhdfix_puts(b, key);
    mhdfix_puts(b, ": ");
    mhdfix_puts(b, value);
    mhdfix_puts(b, "\r\n");
    return MHD_YES;
}

/* Waits until fd can take more, within the deadline; 0 when it can. */
static int mhdfix_wait(int fd, const struct timespec *t0)
{
    struct timespec t;
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    long ms;

    clock_gettime(CLOCK_MONOTONIC, &t);
    ms = MHDFIX_WRITE_MS - ((t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000);
    if (ms <= 0) return -1;
    return poll(&p, 1, (int)ms) == 1 ? 0 : -1;
}

/* Writes the whole answer: status line, r's headers, Content-Length, Date,
   body. 0 when all of it went out; -1 when nothing did; -2 when part did. */
static int mhdfix_write(struct MHD_Connection *con, unsigned status, struct MHD_Response *r, const char *body,
        size_t body_len)
{
    const union MHD_ConnectionInfo *fi = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *ti = MHD_get_connection_info(con, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t tls = ti != NULL ? (gnutls_session_t)ti->tls_session : NULL;
    static const char *const day[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    const char *reason = MHD_get_reason_phrase_for(status);
    mhdfix_buf b = { .cap = body_len + 2048 };
    char line[160];
    struct timespec t0;
    struct tm tm;
    time_t now = time(NULL);
    size_t off = 0;
    int rc = -1;
    struct pollfd room = { .events = POLLOUT };

    if (fi == NULL) return -1;
    /* a client that reads nothing fills the socket: then libmicrohttpd's
       own way (the head twice), never a worker thread kept waiting */
    room.fd = fi->connect_fd;
    if (poll(&room, 1, 0) != 1 || !(room.revents & POLLOUT) || (b.p = malloc(b.cap)) == NULL) return -1;
    gmtime_r(&now, &tm);
    snprintf(line, sizeof line, "HTTP/1.1 %u %s\r\n", status, reason && *reason ? reason : "Error");
    mhdfix_puts(&b, line);
    MHD_get_response_headers(r, mhdfix_put_header, &b);
    snprintf(line, sizeof line, "Content-Length: %zu\r\nDate: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n\r\n",
             body_len, day[tm.tm_wday % 7], tm.tm_mday, mon[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
             tm.tm_min, tm.tm_sec);
    mhdfix_puts(&b, line);
    mhdfix_put(&b, body, body_len);
    if (b.full) goto cleanup;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (tls != NULL) {
        /* one record; on AGAIN gnutls keeps it and a later call with no
           data sends the rest */
        ssize_t n = gnutls_record_send(tls, b.p, b.len);
        while (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
            rc = -2;
            if (mhdfix_wait(fi->connect_fd, &t0) != 0) goto cleanup;
            n = gnutls_record_send(tls, NULL, 0);
        }
        rc = n >= 0 ? 0 : -2;
        goto cleanup;
    }
    while (off < b.len) {
        ssize_t n = send(fi->connect_fd, b.p + off, b.len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) { off += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && mhdfix_wait(fi->connect_fd, &t0) == 0) continue;
        rc = off ? -2 : -1;
        goto cleanup;
    }
    rc = 0;
cleanup:
    free(b.p);
    return rc;
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *con, unsigned int status, struct MHD_Response *r)
{
    mhdfix_error e = { .status = status, .code = "Error", .why = NULL };
    struct MHD_Response *mine = NULL;
    char *body = NULL;
    size_t len = 0;
    int direct = 0, w;
    enum MHD_Result ret;

    pthread_once(&mhdfix.once, mhdfix_resolve);
    if (mhdfix.queue == NULL) return MHD_NO;
    if (r == NULL || r != mhdfix_made) return mhdfix.queue(con, status, r);
    /* one of libmicrohttpd's own error answers */
    mhdfix_made = NULL;
    if (!(mhdfix.active & MHDFIX_ERRORS) || mhdfix.answer == NULL) return mhdfix.queue(con, status, r);
    for (size_t i = 0; i < sizeof mhdfix_known / sizeof mhdfix_known[0]; i++) {
        if (mhdfix_known[i].status == status &&
            memmem(mhdfix_made_text, mhdfix_made_len, mhdfix_known[i].phrase, strlen(mhdfix_known[i].phrase))) {
            e.code = mhdfix_known[i].code;
            e.why = mhdfix_known[i].why;
            direct = mhdfix_known[i].direct;
            break;
        }
    }
    if (e.why == NULL) e.why = MHD_get_reason_phrase_for(status);
    if (status == 431) {
        /* after the head: a Cookie header with no memory to copy it
           (parse_connection_headers, the head would go out twice) or a
           trailer section over the memory (written once either way) */
        const union MHD_ConnectionInfo *hs = MHD_get_connection_info(con, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
        direct = hs != NULL && hs->header_size != 0;
    }
    mine = mhdfix.answer(mhdfix.answer_cls, con, &e, &body, &len);
    if (mine == NULL) {
        free(body);
        return mhdfix.queue(con, status, r);
    }
    atomic_fetch_add(&mhdfix.replaced, 1);
    if (direct && (mhdfix.active & MHDFIX_ONE_HEAD)) {
        w = mhdfix_write(con, status, mine, body, len);
        if (w != -1) {
            /* written (or cut short): libmicrohttpd closes, writing nothing */
            MHD_destroy_response(mine);
            free(body);
            return MHD_NO;
        }
    }
    ret = mhdfix.queue(con, status, mine);
    MHD_destroy_response(mine);
    free(body);
    if (ret != MHD_YES) return mhdfix.queue(con, status, r);
    return ret;
}

/* ---- the self-check ---- */

static enum MHD_Result mhdfix_probe_handler(void *cls, struct MHD_Connection *con, const char *url,
        const char *method, const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)cls; (void)con; (void)url; (void)method; (void)version; (void)upload_data; (void)upload_data_size;
    (void)con_cls;
    return MHD_NO;   /* the probe's request never gets here */
}

/* A request libmicrohttpd refuses itself (Content-Length: -1), sent to a
   daemon of its own on loopback: the answer must be the hook's (JSON, one
   head where MHDFIX_ONE_HEAD is on). -1 (with why) when it is not; 0 when
   it is, or when the probe cannot run (no loopback: nothing learnt). */
static int mhdfix_probe(char *why, size_t len)
{
    static const char req[] = "GET /mhdfix-probe HTTP/1.1\r\nHost: probe\r\nContent-Length: -1\r\n\r\n";
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t al = sizeof a;
    struct MHD_Daemon *d = NULL;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), cfd = -1, rc = 0, heads = 0;
    char buf[4096];
    size_t got = 0;
    unsigned long before = mhdfix_replaced();
    struct timespec t0;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 4) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &al) != 0)
        goto cleanup;
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, mhdfix_probe_handler, NULL,
                         MHD_OPTION_LISTEN_SOCKET, lfd, MHD_OPTION_CONNECTION_TIMEOUT, 2u, MHD_OPTION_END);
    if (d == NULL) goto cleanup;
    lfd = -1;                               /* the daemon's, closed when it stops */
    cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (cfd < 0 || connect(cfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        send(cfd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req - 1))
        goto cleanup;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {                              /* until the close, within 2 s */
        struct pollfd p = { .fd = cfd, .events = POLLIN };
        struct timespec t;
        ssize_t n;
        long ms;
        clock_gettime(CLOCK_MONOTONIC, &t);
        ms = 2000 - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
        if (ms <= 0 || poll(&p, 1, (int)ms) != 1) break;
        n = recv(cfd, buf + got, sizeof buf - 1 - got, 0);
        if (n <= 0) break;
        got += (size_t)n;
        if (got == sizeof buf - 1) break;
    }
    buf[got] = '\0';
    MHD_stop_daemon(d);                     /* joins its thread: what it did is seen from here */
    d = NULL;
    for (const char *p = buf; (p = strstr(p, "HTTP/1.1 400 ")) != NULL; p++) heads++;
    if (mhdfix_replaced() == before || strstr(buf, "Content-Type: application/problem+json") == NULL) {
        snprintf(why, len, "self-check: libmicrohttpd's own 400 went out unreplaced (its calls do not reach "
                 "apikeyd's definitions)");
        rc = -1;
    } else if ((mhdfix.active & MHDFIX_ONE_HEAD) && heads != 1) {
        snprintf(why, len, "self-check: a Content-Length libmicrohttpd cannot parse got %d response heads", heads);
        mhdfix.active &= ~MHDFIX_ONE_HEAD;
    }
cleanup:
    if (cfd >= 0) close(cfd);
    if (d != NULL) MHD_stop_daemon(d);
    if (lfd >= 0) close(lfd);
    return rc;
}

/* ---- (c): the line ends of a head libmicrohttpd accepted ---- */

typedef struct mhdfix_walk {
    uintptr_t pos;       /* where the next line must start */
    uintptr_t end;       /* the end of the head */
    const char *bad;     /* what was wrong, or NULL */
} mhdfix_walk;

/* RFC 9110 tchar */
static int mhdfix_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+.^_`|~", c) != NULL);
}

/* One header line: name at pos, its colon a NUL, blanks, the value, and
   two NULs (CR LF) before the next line. */
static enum MHD_Result mhdfix_line(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
        const char *value, size_t value_size)
{
    mhdfix_walk *w = cls;
    uintptr_t k = (uintptr_t)key, v = (uintptr_t)value;

    (void)kind;
    if (k != w->pos) {
        w->bad = k + 1 == w->pos ? "a line of the request head ends in a bare LF (HTTP/1.1 needs CRLF)"
                                 : "a folded header line (obs-fold) is not accepted";
        return MHD_NO;
    }
    for (size_t i = 0; i < key_size; i++) {
        if (!mhdfix_tchar((unsigned char)key[i])) {
            w->bad = key[i] == ' ' || key[i] == '\t' ? "whitespace in a header name or before its colon"
                                                      : "a header name holds a character not allowed there";
            return MHD_NO;
        }
    }
    if (key_size == 0 || v < k + key_size + 1 || v + value_size + 2 > w->end || key[key_size] != '\0') {
        w->bad = "a header line is malformed";
        return MHD_NO;
    }
    for (const char *p = key + key_size + 1; p < value; p++) {
        if (*p != ' ' && *p != '\t') {
            w->bad = "a header line is malformed";
            return MHD_NO;
        }
    }
    if (memchr(value, '\r', value_size) != NULL) {
        w->bad = "a header value holds a bare CR";
        return MHD_NO;
    }
    if (value[value_size + 1] != '\0') {
        w->bad = "a line of the request head ends in a bare LF (HTTP/1.1 needs CRLF), or a header holds a NUL";
        return MHD_NO;
    }
    w->pos = v + value_size + 2;
    return MHD_YES;
}

int mhdfix_head_check(struct MHD_Connection *con, const char *method, const char *version, char *why, size_t len)
{
    const union MHD_ConnectionInfo *hs;
    mhdfix_walk w = { 0 };
    uintptr_t m = (uintptr_t)method, v = (uintptr_t)version;

    if (!(mhdfix.active & MHDFIX_LINE_ENDS)) return 0;
    hs = MHD_get_connection_info(con, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (hs == NULL || hs->header_size == 0 || method == NULL || version == NULL) return 0;
    w.end = m + hs->header_size;
    /* the request line: "METHOD SP target SP HTTP/x.y" (the version is 8
       characters, libmicrohttpd refuses any other), then CR LF */
    if (v <= m || v + 10 > w.end || version[-1] != '\0' || version[8] != '\0')
        w.bad = "the request line is malformed";
    else if (version[9] != '\0')
        w.bad = "the request line ends in a bare LF (HTTP/1.1 needs CRLF)";
    else {
        w.pos = v + 10;
        MHD_get_connection_values_n(con, MHD_HEADER_KIND, mhdfix_line, &w);
    }
    /* the empty line: CR LF, the last two bytes of the head */
    if (w.bad == NULL && (w.pos + 2 != w.end || ((const char *)w.pos)[0] != '\0' || ((const char *)w.pos)[1] != '\0'))
        w.bad = "a line of the request head ends in a bare LF (HTTP/1.1 needs CRLF)";
    if (w.bad == NULL) return 0;
    snprintf(why, len, "%s", w.bad);
    return 400;
}
