/* log: apikeyd's logging through yder (console = standard error).
 * log_access() writes the one line per request; it takes only what may be
 * logged (no query string, no header values), so a credential cannot reach
 * the log through it. */
#ifndef APIKEYD_LOG_H
#define APIKEYD_LOG_H
#include <stdint.h>
#include <sys/socket.h>

/* Starts yder on the console at level (Y_LOG_LEVEL_*). Returns 0 or -1. */
int log_init(unsigned long level);
void log_close(void);

/* "GET /heron/keys 200 1.3ms 127.0.0.1 key=42" (an API key), "... user=7"
   (a JWT: key_id 0). path is cut at the first '?' and control or non-ASCII
   bytes are escaped as \xHH; key_id and user_id < 0: not authenticated. */
void log_access(const char *method, const char *path, unsigned status, double ms,
        const struct sockaddr *client, int64_t key_id, int64_t user_id);

/* Formats client into buf ("127.0.0.1", "::1", "-"). */
void log_format_addr(const struct sockaddr *client, char *buf, size_t len);

#endif
