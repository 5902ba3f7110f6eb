/* log: apikeyd's logging, through yder's callback, to standard error
 * (default), syslog or the journal (their sockets, never waiting for the
 * daemon), as text (default) or as one JSON object per line.
 * log_access() writes the one line per request; it takes only what may be
 * logged (no query string, no header values but the validated request id),
 * so a credential cannot reach the log through it. log_request_id_*()
 * make and check X-Request-Id values. Nothing here allocates for the
 * caller. */
#ifndef APIKEYD_LOG_H
#define APIKEYD_LOG_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };
enum log_target { LOG_TARGET_STDERR, LOG_TARGET_SYSLOG, LOG_TARGET_JOURNALD };
#define LOG_SYSLOG_SOCKET "/dev/log"
#define LOG_JOURNAL_SOCKET "/run/systemd/journal/socket"

/* Starts yder at level (Y_LOG_LEVEL_*) with format to target: standard
   error, or syslog's or the journal's datagram socket (socket_path, NULL:
   LOG_SYSLOG_SOCKET or LOG_JOURNAL_SOCKET), which must take datagrams now.
   0, or -1 with the reason in err. */
int log_init(unsigned long level, enum log_format format, enum log_target target, const char *socket_path,
             char *err, size_t errlen);
/* Changes the level of a running log (SIGHUP). */
void log_set_level(unsigned long level);
void log_close(void);
const char *log_level_name(unsigned long level);

/* One request, as the access log line tells it. */
typedef struct log_request {
    const char *method, *path;      /* path is cut at the first '?' */
    unsigned status;
    double ms;
    const struct sockaddr *client;
    int64_t key_id, user_id;        /* < 0: not authenticated; key_id 0: a JWT */
    const char *request_id;         /* NULL: none */
    const char *api, *operation;    /* "heron", "createKey"; "apikeyd", "healthz" */
    int more;                       /* other requests are in flight: on standard error the
                                       line may wait (LOG_PEND_MS at most) to go out with theirs */
} log_request;

/* text: "rid=R GET /heron/keys 200 1.3ms 127.0.0.1 key=42" (an API key),
   "... user=7" (a JWT); control or non-ASCII bytes of the path are escaped
   as \xHH, a path segment that looks like a key is written [key]. json: {"time":"...Z" (ms),"level":"info","msg":"access",
   "request_id","api","operation","method","path","status","duration_ms",
   "client","key_id","user_id"}. */
void log_access(const log_request *r);

/* Log lines given up so far: standard error's reader, or the syslog or
   journal daemon, took no more of them (a full pipe, a paused terminal, a
   stalled daemon: no thread waits for it), or a write failed; said in a
   warning once the reader takes lines again. */
unsigned long log_lines_dropped(void);

/* Writes the access lines still waiting (log_access with more set); every
   other message and log_close do it first themselves. */
void log_flush(void);

/* Formats client into buf ("127.0.0.1", "::1", "-"). */
void log_format_addr(const struct sockaddr *client, char *buf, size_t len);

/* 1 when the n bytes at s could be an API key (a key prefix, and at least
   as long as a key): left out of the log wherever they appear. */
int log_looks_like_key(const char *s, size_t n);

#define LOG_REQUEST_ID_MAX 128
/* 1 when v may be kept as a request id: 1 to LOG_REQUEST_ID_MAX characters
   of A-Z a-z 0-9 and - _ . : @ + / =, and not a key (log_looks_like_key) */
int log_request_id_valid(const char *v);
/* A new request id: 16 random hex digits of this process, '-', a counter
   (12 hex digits; lock-free). buf holds at least 30 bytes. */
void log_request_id_new(char *buf, size_t len);

#endif
