/* log: yder setup and the access-log line. */
#include "log.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <yder.h>

/* yder's console mode writes below-error levels to stdout; apikeyd keeps
   stdout for program output, so every line goes to stderr through this. */
static void log_to_stderr(void *cls, const char *app, const time_t date, const unsigned long level,
        const char *message)
{
    char when[32];
    struct tm tm;
    const char *lv = level == Y_LOG_LEVEL_ERROR ? "ERROR" : level == Y_LOG_LEVEL_WARNING ? "WARNING"
                   : level == Y_LOG_LEVEL_DEBUG ? "DEBUG" : "INFO";
    (void)cls;
    gmtime_r(&date, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    flockfile(stderr);
    fprintf(stderr, "%s %s %s: %s\n", when, app, lv, message);
    funlockfile(stderr);
}

int log_init(unsigned long level)
{
    if (level == Y_LOG_LEVEL_NONE) return 0;
    if (y_init_logs("apikeyd", Y_LOG_MODE_CALLBACK, level, NULL, NULL) != 1) return -1;
    return y_set_logs_callback(log_to_stderr, NULL, "apikeyd starting") == 1 ? 0 : -1;
}

void log_close(void)
{
    y_close_logs();
}

void log_format_addr(const struct sockaddr *client, char *buf, size_t len)
{
    if (client == NULL) { snprintf(buf, len, "-"); return; }
    if (client->sa_family == AF_INET) {
        if (inet_ntop(AF_INET, &((const struct sockaddr_in *)client)->sin_addr, buf, (socklen_t)len)) return;
    } else if (client->sa_family == AF_INET6) {
        if (inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)client)->sin6_addr, buf, (socklen_t)len)) return;
    }
    snprintf(buf, len, "-");
}

void log_access(const char *method, const char *path, unsigned status, double ms,
        const struct sockaddr *client, int64_t key_id, int64_t user_id)
{
    char p[512], m[24], addr[64], key[32];
    size_t o = 0;

    /* method and path: printable ASCII only, the query string never */
    for (size_t i = 0; method && method[i] && o + 1 < sizeof m; i++)
        m[o++] = (method[i] > 32 && method[i] < 127) ? method[i] : '?';
    m[o] = '\0';
    o = 0;
    for (size_t i = 0; path && path[i] && path[i] != '?' && o + 5 < sizeof p; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c > 32 && c < 127 && c != '\\') p[o++] = (char)c;
        else o += (size_t)snprintf(p + o, sizeof p - o, "\\x%02X", c);
    }
    p[o] = '\0';
    log_format_addr(client, addr, sizeof addr);
    if (key_id > 0) snprintf(key, sizeof key, " key=%" PRId64, key_id);
    else if (user_id > 0) snprintf(key, sizeof key, " user=%" PRId64, user_id);
    else key[0] = '\0';
    y_log_message(Y_LOG_LEVEL_INFO, "%s %s %u %.1fms %s%s", m[0] ? m : "-", p[0] ? p : "-",
                  status, ms, addr, key);
}
