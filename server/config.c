/* config: command line, environment and config file, merged. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <yder.h>

#include "version.h"

enum opt_kind { OPT_CHOICE /* one word of a list: --log-format, --log-target, --metrics */, OPT_ADDR, OPT_FLAG, OPT_PATH, OPT_STR, OPT_LEVEL, OPT_SIZE, OPT_UINT, OPT_MOUNT,
                 OPT_NET /* a whole number for the connection limits and the request deadline */ };

typedef struct opt_def {
    const char *name;       /* long option without "--"; also the file key */
    const char *env;        /* environment variable or NULL */
    enum opt_kind kind;
    size_t min, max;        /* OPT_SIZE / OPT_UINT bounds */
    const char *help;       /* NULL: hidden */
    const char *arg;        /* metavariable in --help */
} opt_def;

static const opt_def opt_defs[] = {
    { "listen", "APIKEYD_LISTEN", OPT_ADDR, 0, 0,
      "plain HTTP address (default 127.0.0.1:8080); \"off\" disables it;\n"
      "                          a non-loopback address needs --allow-plain-http", "HOST:PORT" },
    { "tls-listen", "APIKEYD_TLS_LISTEN", OPT_ADDR, 0, 0,
      "HTTPS address (default 127.0.0.1:8443); \"off\" disables it", "HOST:PORT" },
    { "allow-plain-http", "APIKEYD_ALLOW_PLAIN_HTTP", OPT_FLAG, 0, 0,
      "allow --listen on a non-loopback address", NULL },
    { "tls-cert", "APIKEYD_TLS_CERT", OPT_PATH, 0, 0,
      "PEM certificate chain; with --tls-key. Without both, a self-signed\n"
      "                          certificate for localhost is created in --state-dir\n"
      "                          (tls-cert.pem, tls-key.pem) and reused", "FILE" },
    { "tls-key", "APIKEYD_TLS_KEY", OPT_PATH, 0, 0, "PEM private key", "FILE" },
    { "tls-client-ca", "APIKEYD_TLS_CLIENT_CA", OPT_PATH, 0, 0,
      "require TLS client certificates signed by these CAs (PEM)", "FILE" },
    { "db", "APIKEYD_DB", OPT_PATH, 0, 0,
      "the key store: an SQLite database file (default var/apikeyd.db;\n"
      "                          its folder is created), or a PostgreSQL URI\n"
      "                          (postgresql://...) or conninfo (host=... dbname=...)\n"
      "                          as libpq reads them (several hosts and\n"
      "                          target_session_attrs=read-write work)", "PATH" },
    { "stale-if-error", "APIKEYD_STALE_IF_ERROR", OPT_UINT, 0, 3600,
      "with PostgreSQL: seconds a key this node verified may still be\n"
      "                          accepted from its cache while the store cannot tell it of\n"
      "                          revocations (listener down); default 0: from the first\n"
      "                          moment, every request asks the store (503 while it is down)", "SECONDS" },
    { "state-dir", "APIKEYD_STATE_DIR", OPT_PATH, 0, 0,
      "folder of the secret (apikeyd.secret) and the self-signed certificate;\n"
      "                          default: the SQLite database's folder, or var/ with\n"
      "                          PostgreSQL", "DIR" },
    { "secret", "APIKEYD_SECRET", OPT_PATH, 0, 0,
      "the HMAC secret file, mode 0600 (32 bytes, or the keyring that\n"
      "                          `apikeyd secret rotate` writes); default: apikeyd.secret\n"
      "                          in --state-dir, created on first start.\n"
      "                          With PostgreSQL it must exist already (never created):\n"
      "                          every node shares one; it never enters the database", "FILE" },
    { "jwt-key", "APIKEYD_JWT_KEY", OPT_PATH, 0, 0,
      "PEM public key or JWKS file verifying Bearer JWTs\n"
      "                          on feldera, nebula and nebula_uuid: signed by this key\n"
      "                          only (tokens with jku, x5u, jwk, x5c, crit or an alg the\n"
      "                          key does not imply are refused, alg none too); exp\n"
      "                          required; nbf, iat; sub names a user; default: no JWTs", "FILE" },
    { "jwt-issuer", "APIKEYD_JWT_ISSUER", OPT_STR, 0, 0,
      "JWTs must carry iss equal to ISSUER (default: iss not checked)", "ISSUER" },
    { "jwt-audience", "APIKEYD_JWT_AUDIENCE", OPT_STR, 0, 0,
      "JWTs must carry aud equal to AUD, or an aud array\n"
      "                          holding it (default: aud not checked)", "AUD" },
    { "jwt-max-lifetime", "APIKEYD_JWT_MAX_LIFETIME", OPT_UINT, 0, 315360000,
      "refuse JWTs whose exp - iat is longer, and JWTs without\n"
      "                          iat (default 86400 = 24 h; 0: no bound, iat optional)", "SEC" },
    { "jwt-leeway", "APIKEYD_JWT_LEEWAY", OPT_UINT, 0, 3600,
      "clock skew allowed on a JWT's exp, nbf and iat (default 60)", "SEC" },
    { "log-level", "APIKEYD_LOG_LEVEL", OPT_LEVEL, 0, 0,
      "none, error, warning, info (default) or debug", "LEVEL" },
    { "log-format", "APIKEYD_LOG_FORMAT", OPT_CHOICE, 0, 0,
      "text (default: one line per event) or json (one JSON object per\n"
      "                          line: time in ms, level, msg; access lines add\n"
      "                          request_id, api, operation, method, path, status,\n"
      "                          duration_ms, client, key_id)", "FORMAT" },
    { "log-target", "APIKEYD_LOG_TARGET", OPT_CHOICE, 0, 0,
      "stderr (default), syslog or journald: their datagram sockets,\n"
      "                          never waiting for the daemon (a line it takes no\n"
      "                          more of is given up and counted)", "TARGET" },
    { "log-socket", "APIKEYD_LOG_SOCKET", OPT_PATH, 0, 0,
      "with --log-target syslog or journald: the daemon's socket\n"
      "                          (default /dev/log, or /run/systemd/journal/socket)", "PATH" },
    { "metrics", "APIKEYD_METRICS", OPT_CHOICE, 0, 0,
      "where GET /metrics (Prometheus text format) is served: loopback\n"
      "                          (default: on the API listeners, to loopback clients\n"
      "                          only; others get 403), HOST:PORT (a plain-HTTP\n"
      "                          listener of its own, and not on the API listeners),\n"
      "                          or off", "WHERE" },
    { "max-body", "APIKEYD_MAX_BODY", OPT_SIZE, 1, 64u << 20,
      "largest request body, bytes or with K/M suffix (default 64K); 413 beyond", "SIZE" },
    { "max-header", "APIKEYD_MAX_HEADER", OPT_SIZE, 4096, 1u << 20,
      "per-connection memory for the request line and headers (default 16K,\n"
      "                          which holds a head of about 11 KB in 50 lines; 431 beyond)", "SIZE" },
    { "conn-timeout", "APIKEYD_CONN_TIMEOUT", OPT_UINT, 1, 3600,
      "close a connection idle this many seconds (default 30)", "SECONDS" },
    { "shutdown-timeout", "APIKEYD_SHUTDOWN_TIMEOUT", OPT_UINT, 0, 3600,
      "on SIGTERM/SIGINT wait this long for in-flight requests (default 30)", "SECONDS" },
    { "threads", "APIKEYD_THREADS", OPT_UINT, 0, 256,
      "worker threads per listener (default 0 = 2 per core)", "N" },
    { "tls-threads", "APIKEYD_TLS_THREADS", OPT_UINT, 0, 256,
      "worker threads of the TLS listener (default 0 = as --threads); the\n"
      "                          handshakes are done by the listener's own thread", "N" },
    { "key-quota", "APIKEYD_KEY_QUOTA", OPT_UINT, 0, 100000000,
      "unrevoked keys one user may hold (default 1000); a create beyond\n"
      "                          it is 403 in the family's error shape; 0 = no quota", "N" },
    { "revoke-cascade", "APIKEYD_REVOKE_CASCADE", OPT_FLAG, 0, 0,
      "revoking or deleting a key through any API also revokes every key\n"
      "                          it minted, and theirs (default off: one key at a time)", NULL },
    { "user", NULL, OPT_PATH, 0, 0,
      "with `key list`: the user whose keys to list", "NAME" },
    { "cascade", NULL, OPT_FLAG, 0, 0,
      "with `key revoke`: also revoke every key the key minted, and theirs", NULL },
    /* the operating commands (server/admin.c; `apikeyd COMMAND --help`) */
    { "family", NULL, OPT_PATH, 0, 0,
      "with `key list`: only the keys of one API (heron, feldera, ...)", "API" },
    { "since", NULL, OPT_PATH, 0, 0,
      "with `audit`: rows from this time on (unix seconds, 2026-12-01T12:00:00Z,\n"
      "                          or an age: 90s, 15m, 2h, 7d)", "TIME" },
    { "json", NULL, OPT_FLAG, 0, 0,
      "with the listing commands: one JSON object per line", NULL },
    { "force", NULL, OPT_FLAG, 0, 0,
      "with `restore`: replace an existing store and keyring", NULL },
    { "mount", "APIKEYD_MOUNT", OPT_MOUNT, 0, 0,
      "serve API at BASEPATH, or leave it out with API=off; repeatable\n"
      "                          (APIKEYD_MOUNT: comma-separated list)", "API=BASEPATH" },
    { "validate-responses", "APIKEYD_VALIDATE_RESPONSES", OPT_FLAG, 0, 0,
      "check every response against its OpenAPI document; a violation\n"
      "                          becomes a 500 naming it (for tests; off by default)", NULL },
    /* connection limits and the request deadline */
    { "max-connections", "APIKEYD_MAX_CONNECTIONS", OPT_NET, 0, 1000000,
      "connections held at once per listener; more are closed at accept\n"
      "                          (default 0: sized from the open-file limit, which is\n"
      "                          raised to its hard limit at start)", "N" },
    { "max-connections-per-ip", "APIKEYD_MAX_CONNECTIONS_PER_IP", OPT_NET, 0, 1000000,
      "connections held at once per listener from one client address\n"
      "                          (default 128; 0: no limit, e.g. behind a proxy)", "N" },
    { "request-timeout", "APIKEYD_REQUEST_TIMEOUT", OPT_NET, 1, 3600,
      "close a connection that has not sent a whole request (TLS\n"
      "                          handshake, head and body) this many seconds after it\n"
      "                          was accepted or after its previous response (default 10)", "SECONDS" },
    { "tls-handshake-timeout", "APIKEYD_TLS_HANDSHAKE_TIMEOUT", OPT_NET, 1, 3600,
      "close a TLS connection whose handshake and first request line\n"
      "                          have not arrived this many seconds after its accept\n"
      "                          (default 5; at most --request-timeout)", "SECONDS" },
    { "test-slow-endpoint", NULL, OPT_FLAG, 0, 0, NULL, NULL },
};
#define N_OPTS (sizeof opt_defs / sizeof opt_defs[0])

static const opt_def *opt_find(const char *name, size_t len)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (strlen(opt_defs[i].name) == len && strncmp(opt_defs[i].name, name, len) == 0)
            return &opt_defs[i];
    return NULL;
}

void config_usage(FILE *f)
{
    fprintf(f,
        "Usage: apikeyd [OPTION]...             serve every API\n"
        "       apikeyd user add NAME [--db PATH] create a user; print its first API key\n"
        "       apikeyd user key NAME             a new key for an existing user (recovery);\n"
        "                                         printed once, audited\n"
        "       apikeyd key list [--user NAME] [--family API]\n"
        "                                         keys, one per line, never the key itself: id,\n"
        "                                         uuid, family, name, state, parent, created, ...\n"
        "       apikeyd key show ID | key revoke ID [--cascade]\n"
        "                                         one key; revoke it (--cascade: and every key it\n"
        "                                         minted), refused at a running server's next request\n"
        "       apikeyd user list | audit [--since TIME]    the users; the audit rows\n"
        "       apikeyd secret list | rotate | retire ID    the HMAC keyring (rotation)\n"
        "       apikeyd backup DIR | restore DIR [--force]  a consistent copy, with the keyring\n"
        "                                         (apikeyd COMMAND --help for each)\n"
        "       apikeyd migrate --from FILE --to POSTGRESQL\n"
        "                                      copy a SQLite store into an empty PostgreSQL\n"
        "                                      store, verified (apikeyd migrate --help)\n"
        "\n"
        "Options (each also read from the environment variable shown, and from the\n"
        "config file as `name = value`):\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        const opt_def *d = &opt_defs[i];
        char head[64];
        if (d->help == NULL) continue;
        snprintf(head, sizeof head, "--%s%s%s", d->name, d->arg ? " " : "", d->arg ? d->arg : "");
        fprintf(f, "  %-22s  %s\n", head, d->help);
        if (d->env) fprintf(f, "                          [%s]\n", d->env);
    }
    fprintf(f,
        "  %-22s  %s\n", "--config FILE", "read settings from FILE [APIKEYD_CONFIG]");
    fprintf(f,
        "  %-22s  %s\n"
        "  %-22s  %s\n"
        "\n"
        "Precedence: command line > environment > config file > built-in defaults.\n"
        "Config file: one `name = value` per line (names as the long options,\n"
        "without --), `#` starts a comment; flags take true/false.\n"
        "Signals: SIGHUP re-reads the TLS certificate and key, the JWT key file, and\n"
        "the settings (config file, environment, command line): log-level and\n"
        "jwt-issuer/-audience/-max-lifetime/-leeway apply at once; the log names\n"
        "what it applied and which changed settings need a restart. SIGTERM/SIGINT\n"
        "stop accepting, let in-flight requests finish, close the database, exit 0.\n"
        "Health: GET /healthz answers 200 while the process runs; GET /readyz 200\n"
        "when the key store answers a read and a write within 2 s, else 503.\n"
        "Exit status: 0 ok, 1 runtime error, 2 usage error.\n",
        "--help", "show this help and exit",
        "--version", "show the version and exit");
}

static void cfg_set_str(char **slot, const char *v)
{
    free(*slot);
    *slot = strdup(v);
}

static int parse_bool(const char *v, int *out)
{
    static const char *yes[] = { "1", "true", "yes", "on" };
    static const char *no[] = { "0", "false", "no", "off" };
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) { *out = 1; return 0; }
        if (strcasecmp(v, no[i]) == 0) { *out = 0; return 0; }
    }
    return -1;
}

static int parse_size(const char *v, size_t *out)
{
    char *end = NULL;
    unsigned long long n;
    if (!isdigit((unsigned char)v[0])) return -1;
    errno = 0;
    n = strtoull(v, &end, 10);
    if (errno) return -1;
    if (*end == 'k' || *end == 'K') { n <<= 10; end++; if (*end == 'i' && end[1] == 'B') end += 2; }
    else if (*end == 'm' || *end == 'M') { n <<= 20; end++; if (*end == 'i' && end[1] == 'B') end += 2; }
    if (*end != '\0') return -1;
    *out = (size_t)n;
    return 0;
}

int config_parse_addr(const char *text, int allow_off, config_addr *out,
        char *err, size_t errlen)
{
    char host[256];
    const char *colon, *port_s;
    size_t hlen;
    struct addrinfo hints, *res = NULL;
    char *end = NULL;
    long port;
    int rc;

    if (allow_off && strcmp(text, "off") == 0) {
        out->off = 1;
        cfg_set_str(&out->text, text);
        return 0;
    }
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':') goto bad;
        hlen = (size_t)(close - text - 1);
        if (hlen == 0 || hlen >= sizeof host) goto bad;
        memcpy(host, text + 1, hlen);
        port_s = close + 2;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL || strchr(text, ':') != colon) goto bad;
        hlen = (size_t)(colon - text);
        if (hlen == 0 || hlen >= sizeof host) goto bad;
        memcpy(host, text, hlen);
        port_s = colon + 1;
    }
    host[hlen] = '\0';
    errno = 0;
    port = strtol(port_s, &end, 10);
    if (!isdigit((unsigned char)port_s[0]) || *end != '\0' || errno || port < 1 || port > 65535) {
        snprintf(err, errlen, "\"%s\": port must be a number from 1 to 65535", text);
        return -1;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(host, port_s, &hints, &res);
    if (rc != 0 || res == NULL) {
        snprintf(err, errlen, "\"%s\": cannot resolve host \"%s\": %s", text, host, gai_strerror(rc));
        if (res) freeaddrinfo(res);
        return -1;
    }
    memset(&out->sa, 0, sizeof out->sa);
    memcpy(&out->sa, res->ai_addr, res->ai_addrlen);
    out->salen = (socklen_t)res->ai_addrlen;
    out->port = (unsigned)port;
    out->off = 0;
    freeaddrinfo(res);
    cfg_set_str(&out->text, text);
    return 0;
bad:
    snprintf(err, errlen, "\"%s\": expected HOST:PORT (e.g. 127.0.0.1:8080, [::1]:8443)%s",
             text, allow_off ? " or \"off\"" : "");
    return -1;
}

int config_addr_is_loopback(const config_addr *a)
{
    if (a->sa.ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)&a->sa;
        return (ntohl(s->sin_addr.s_addr) >> 24) == 127;
    }
    if (a->sa.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&a->sa;
        if (IN6_IS_ADDR_LOOPBACK(&s->sin6_addr)) return 1;
        if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) return s->sin6_addr.s6_addr[12] == 127;
    }
    return 0;
}

int config_parse_mount(const char *text, config_mount *out, char *err, size_t errlen)
{
    const char *eq = strchr(text, '=');
    const char *base;
    size_t alen;

    if (eq == NULL || eq == text) {
        snprintf(err, errlen, "\"%s\": expected API=BASEPATH or API=off", text);
        return -1;
    }
    alen = (size_t)(eq - text);
    for (size_t i = 0; i < alen; i++) {
        char c = text[i];
        if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '_')) {
            snprintf(err, errlen, "\"%s\": API name must be lowercase letters, digits or _", text);
            return -1;
        }
    }
    base = eq + 1;
    if (strcmp(base, "off") != 0) {
        size_t blen = strlen(base);
        if (base[0] != '/' || blen < 2 || base[blen - 1] == '/' || strstr(base, "//") ||
            strpbrk(base, "?#%:*@ \t{}")) {
            snprintf(err, errlen, "\"%s\": BASEPATH must start with / and not end with /, "
                     "with no //, ?, #, %%, :, @, *, {, } or spaces (e.g. heron=/v2/heron)", text);
            return -1;
        }
    }
    out->api = strndup(text, alen);
    out->base = strcmp(base, "off") == 0 ? NULL : strdup(base);
    return 0;
}

static int mount_add(config *cfg, const char *text, char *err, size_t errlen)
{
    config_mount m, *v;
    if (config_parse_mount(text, &m, err, errlen) != 0) return -1;
    v = realloc(cfg->mounts, (cfg->n_mounts + 1) * sizeof *v);
    if (v == NULL) { free(m.api); free(m.base); snprintf(err, errlen, "out of memory"); return -1; }
    cfg->mounts = v;
    cfg->mounts[cfg->n_mounts++] = m;
    return 0;
}

/* Applies one option value; where = "--listen", "APIKEYD_LISTEN" or "file:3". */
static int opt_apply(config *cfg, const opt_def *d, const char *v, const char *where,
        char *err, size_t errlen)
{
    char why[400];
    size_t sz;
    int b;

    why[0] = '\0';
    switch (d->kind) {
    case OPT_CHOICE:
        if (strcmp(d->name, "log-format") == 0) {
            if (strcmp(v, "text") == 0) cfg->log_format = 0;
            else if (strcmp(v, "json") == 0) cfg->log_format = 1;
            else { snprintf(why, sizeof why, "\"%s\": expected text or json", v); goto bad; }
        } else if (strcmp(d->name, "log-target") == 0) {
            if (strcmp(v, "stderr") == 0) cfg->log_target = 0;
            else if (strcmp(v, "syslog") == 0) cfg->log_target = 1;
            else if (strcmp(v, "journald") == 0) cfg->log_target = 2;
            else { snprintf(why, sizeof why, "\"%s\": expected stderr, syslog or journald", v); goto bad; }
        } else if (strcmp(v, "loopback") == 0) {
            cfg->metrics_mode = CONFIG_METRICS_LOOPBACK;
        } else if (strcmp(v, "off") == 0) {
            cfg->metrics_mode = CONFIG_METRICS_OFF;
        } else {
            char aw[300];
            if (config_parse_addr(v, 0, &cfg->metrics_listen, aw, sizeof aw) != 0) {
                snprintf(why, sizeof why, "expected loopback, off or HOST:PORT: %s", aw);
                goto bad;
            }
            cfg->metrics_mode = CONFIG_METRICS_LISTEN;
        }
        return 0;
    case OPT_ADDR: {
        config_addr *a = strcmp(d->name, "listen") == 0 ? &cfg->listen : &cfg->tls_listen;
        if (config_parse_addr(v, 1, a, why, sizeof why) != 0) goto bad;
        return 0;
    }
    case OPT_FLAG:
        if (v == NULL) b = 1;
        else if (parse_bool(v, &b) != 0) { snprintf(why, sizeof why, "\"%s\": expected true or false", v); goto bad; }
        if (strcmp(d->name, "allow-plain-http") == 0) cfg->allow_plain_http = b;
        else if (strcmp(d->name, "validate-responses") == 0) cfg->validate_responses = b;
        else if (strcmp(d->name, "revoke-cascade") == 0) cfg->revoke_cascade = b;
        else if (strcmp(d->name, "cascade") == 0) cfg->cascade = b;
        else if (strcmp(d->name, "json") == 0) cfg->json = b;
        else if (strcmp(d->name, "force") == 0) cfg->force = b;
        else cfg->test_slow_endpoint = b;
        return 0;
    case OPT_PATH: {
        char **slot = strcmp(d->name, "tls-cert") == 0 ? &cfg->tls_cert
                    : strcmp(d->name, "tls-key") == 0 ? &cfg->tls_key
                    : strcmp(d->name, "tls-client-ca") == 0 ? &cfg->tls_client_ca
                    : strcmp(d->name, "db") == 0 ? &cfg->db_path
                    : strcmp(d->name, "secret") == 0 ? &cfg->secret_path
                    : strcmp(d->name, "state-dir") == 0 ? &cfg->state_dir
                    : strcmp(d->name, "user") == 0 ? &cfg->user
                    : strcmp(d->name, "family") == 0 ? &cfg->family
                    : strcmp(d->name, "log-socket") == 0 ? &cfg->log_socket
                    : strcmp(d->name, "since") == 0 ? &cfg->since : &cfg->jwt_key;
        if (v[0] == '\0') { snprintf(why, sizeof why, "a path must not be empty"); goto bad; }
        cfg_set_str(slot, v);
        return 0;
    }
    case OPT_STR: {
        char **slot = strcmp(d->name, "jwt-issuer") == 0 ? &cfg->jwt_issuer : &cfg->jwt_audience;
        if (v[0] == '\0') { snprintf(why, sizeof why, "must not be empty (leave the option out not to check it)"); goto bad; }
        cfg_set_str(slot, v);
        return 0;
    }
    case OPT_LEVEL:
        if (strcmp(v, "none") == 0) cfg->log_level = Y_LOG_LEVEL_NONE;
        else if (strcmp(v, "error") == 0) cfg->log_level = Y_LOG_LEVEL_ERROR;
        else if (strcmp(v, "warning") == 0) cfg->log_level = Y_LOG_LEVEL_WARNING;
        else if (strcmp(v, "info") == 0) cfg->log_level = Y_LOG_LEVEL_INFO;
        else if (strcmp(v, "debug") == 0) cfg->log_level = Y_LOG_LEVEL_DEBUG;
        else { snprintf(why, sizeof why, "\"%s\": expected none, error, warning, info or debug", v); goto bad; }
        return 0;
    case OPT_SIZE:
        if (parse_size(v, &sz) != 0 || sz < d->min || sz > d->max) {
            snprintf(why, sizeof why, "\"%s\": expected a size from %zu to %zu bytes (suffix K or M allowed)",
                     v, d->min, d->max);
            goto bad;
        }
        if (strcmp(d->name, "max-body") == 0) cfg->max_body = sz;
        else cfg->conn_memory = sz;
        return 0;
    case OPT_UINT: {
        char *end = NULL;
        unsigned long n;
        errno = 0;
        n = strtoul(v, &end, 10);
        if (!isdigit((unsigned char)v[0]) || *end != '\0' || errno || n < d->min || n > d->max) {
            snprintf(why, sizeof why, "\"%s\": expected a whole number from %zu to %zu", v, d->min, d->max);
            goto bad;
        }
        if (strcmp(d->name, "conn-timeout") == 0) cfg->conn_timeout = (unsigned)n;
        else if (strcmp(d->name, "shutdown-timeout") == 0) cfg->shutdown_timeout = (unsigned)n;
        else if (strcmp(d->name, "key-quota") == 0) cfg->key_quota = (unsigned)n;
        else if (strcmp(d->name, "jwt-max-lifetime") == 0) cfg->jwt_max_lifetime = (unsigned)n;
        else if (strcmp(d->name, "jwt-leeway") == 0) cfg->jwt_leeway = (unsigned)n;
        else if (strcmp(d->name, "stale-if-error") == 0) cfg->stale_if_error = (unsigned)n;
        else if (strcmp(d->name, "tls-threads") == 0) cfg->tls_threads = (unsigned)n;
        else cfg->threads = (unsigned)n;
        return 0;
    }
    case OPT_NET: {
        char *end = NULL;
        unsigned long n;
        errno = 0;
        n = strtoul(v, &end, 10);
        if (!isdigit((unsigned char)v[0]) || *end != '\0' || errno || n < d->min || n > d->max) {
            snprintf(why, sizeof why, "\"%s\": expected a whole number from %zu to %zu", v, d->min, d->max);
            goto bad;
        }
        if (strcmp(d->name, "max-connections") == 0) cfg->max_connections = (unsigned)n;
        else if (strcmp(d->name, "max-connections-per-ip") == 0) cfg->max_connections_per_ip = (unsigned)n;
        else if (strcmp(d->name, "request-timeout") == 0) cfg->request_timeout = (unsigned)n;
        else cfg->tls_handshake_timeout = (unsigned)n;
        return 0;
    }
    case OPT_MOUNT:
        if (d->env != NULL && strcmp(where, d->env) == 0) {
            /* the environment variable holds a comma-separated list */
            char *copy = strdup(v), *save = NULL, *tok;
            int rc = 0;
            for (tok = strtok_r(copy, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save))
                if (mount_add(cfg, tok, why, sizeof why) != 0) rc = -1;
            free(copy);
            if (rc != 0) goto bad;
            return 0;
        }
        if (mount_add(cfg, v, why, sizeof why) != 0) goto bad;
        return 0;
    }
bad:
    snprintf(err, errlen, "%s%s: %s", strncmp(where, "APIKEYD_", 8) == 0 ? "environment " : "",
             where, why);
    return -1;
}

static void trim(char **s)
{
    char *b = *s, *e;
    while (isspace((unsigned char)*b)) b++;
    e = b + strlen(b);
    while (e > b && isspace((unsigned char)e[-1])) *--e = '\0';
    *s = b;
}

static int config_read_file(config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    unsigned lineno = 0;
    int rc = -1;

    if (f == NULL) {
        snprintf(err, errlen, "--config: cannot open \"%s\": %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        char *p = line, *eq, *key, *val, *hash;
        char where[300];
        const opt_def *d;
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, errlen, "%s:%u: line too long", path, lineno);
            goto cleanup;
        }
        hash = strchr(p, '#');
        if (hash) *hash = '\0';
        trim(&p);
        if (*p == '\0') continue;
        eq = strchr(p, '=');
        if (eq == NULL) {
            snprintf(err, errlen, "%s:%u: expected `name = value`", path, lineno);
            goto cleanup;
        }
        *eq = '\0';
        key = p; val = eq + 1;
        trim(&key); trim(&val);
        d = opt_find(key, strlen(key));
        if (d == NULL) {
            snprintf(err, errlen, "%s:%u: unknown setting \"%s\" (see --help)", path, lineno, key);
            goto cleanup;
        }
        snprintf(where, sizeof where, "%s:%u", path, lineno);
        if (opt_apply(cfg, d, val, where, err, errlen) != 0) goto cleanup;
    }
    rc = 0;
cleanup:
    fclose(f);
    return rc;
}

static int arg_add(config *cfg, const char *a)
{
    char **v = realloc(cfg->args, (cfg->n_args + 1) * sizeof *v);
    if (v == NULL) return -1;
    cfg->args = v;
    cfg->args[cfg->n_args++] = strdup(a);
    return 0;
}

int config_load(config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    const char *config_path = NULL;
    char why[300];
    int only_args = 0;

    memset(cfg, 0, sizeof *cfg);
    cfg->log_level = Y_LOG_LEVEL_INFO;
    cfg->max_body = 64u << 10;
    /* 16 KiB, as Node.js's header limit: libmicrohttpd clears it after every
       request (memset, about one and a half times its size), and at 32 KiB,
       its own default, that was 0.8 us of a keep-alive request (perf) and
       49,000 of its 112,000 instructions (callgrind; 25,000 at 16 KiB) */
    cfg->conn_memory = 16u << 10;
    cfg->conn_timeout = 30;
    cfg->shutdown_timeout = 30;
    cfg->key_quota = 1000;
    cfg->jwt_max_lifetime = 86400;
    cfg->jwt_leeway = 60;
    cfg->max_connections_per_ip = 128;   /* connection limits and the request deadline */
    cfg->request_timeout = 10;
    cfg->tls_handshake_timeout = 5;
    cfg->db_path = strdup("var/apikeyd.db");
    if (config_parse_addr("127.0.0.1:8080", 1, &cfg->listen, why, sizeof why) != 0 ||
        config_parse_addr("127.0.0.1:8443", 1, &cfg->tls_listen, why, sizeof why) != 0) {
        snprintf(err, errlen, "default address: %s", why);
        return CONFIG_USAGE;
    }

    /* --help / --version / --config first: they decide what else is read */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            config_usage(stdout);
            return CONFIG_EXIT_OK;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("apikeyd %s\n", APIKEYD_VERSION);
            return CONFIG_EXIT_OK;
        }
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) { snprintf(err, errlen, "--config: missing FILE"); return CONFIG_USAGE; }
            config_path = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            config_path = argv[i] + 9;
        }
    }
    if (config_path == NULL) config_path = getenv("APIKEYD_CONFIG");
    if (config_path != NULL && config_path[0] != '\0') {
        cfg->config_file = strdup(config_path);
        if (config_read_file(cfg, config_path, err, errlen) != 0) return CONFIG_USAGE;
    }

    for (size_t i = 0; i < N_OPTS; i++) {
        const char *v;
        if (opt_defs[i].env == NULL || (v = getenv(opt_defs[i].env)) == NULL) continue;
        if (opt_apply(cfg, &opt_defs[i], v, opt_defs[i].env, err, errlen) != 0) return CONFIG_USAGE;
    }

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *name, *eq, *val = NULL;
        const opt_def *d;
        char where[80];
        size_t nlen;

        if (only_args || a[0] != '-' || a[1] == '\0') {
            if (arg_add(cfg, a) != 0) { snprintf(err, errlen, "out of memory"); return CONFIG_USAGE; }
            continue;
        }
        if (strcmp(a, "--") == 0) { only_args = 1; continue; }
        if (a[1] != '-') {
            snprintf(err, errlen, "%s: unknown option (options are long: --listen, ...; see --help)", a);
            return CONFIG_USAGE;
        }
        name = a + 2;
        eq = strchr(name, '=');
        nlen = eq ? (size_t)(eq - name) : strlen(name);
        if (nlen == 6 && strncmp(name, "config", 6) == 0) {
            if (!eq) i++;
            continue;
        }
        d = opt_find(name, nlen);
        if (d == NULL) {
            snprintf(err, errlen, "--%.*s: unknown option (see --help)", (int)nlen, name);
            return CONFIG_USAGE;
        }
        if (eq) val = eq + 1;
        else if (d->kind != OPT_FLAG) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "--%s: missing %s", d->name, d->arg ? d->arg : "value");
                return CONFIG_USAGE;
            }
            val = argv[++i];
        }
        snprintf(where, sizeof where, "--%s", d->name);
        if (opt_apply(cfg, d, val, where, err, errlen) != 0) return CONFIG_USAGE;
    }

    if (cfg->log_socket != NULL && cfg->log_target == 0) {
        snprintf(err, errlen, "--log-socket %s: only with --log-target syslog or journald (standard error has no socket to name)",
                 cfg->log_socket);
        return CONFIG_USAGE;
    }
    if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
        snprintf(err, errlen, "%s given without %s: give both, or neither for a self-signed certificate",
                 cfg->tls_cert ? "--tls-cert" : "--tls-key", cfg->tls_cert ? "--tls-key" : "--tls-cert");
        return CONFIG_USAGE;
    }
    if (!cfg->listen.off && !cfg->allow_plain_http && !config_addr_is_loopback(&cfg->listen)) {
        snprintf(err, errlen, "--listen %s: refusing plain HTTP on a non-loopback address "
                 "(API keys would cross the network in clear text); use --tls-listen, "
                 "or add --allow-plain-http if a TLS proxy sits in front", cfg->listen.text);
        return CONFIG_USAGE;
    }
    if (cfg->n_args == 0 && cfg->listen.off && cfg->tls_listen.off) {
        snprintf(err, errlen, "--listen off and --tls-listen off: nothing to serve");
        return CONFIG_USAGE;
    }
    if (cfg->listen.off == 0 && cfg->tls_listen.off == 0 &&
        cfg->listen.salen == cfg->tls_listen.salen &&
        memcmp(&cfg->listen.sa, &cfg->tls_listen.sa, cfg->listen.salen) == 0) {
        snprintf(err, errlen, "--listen and --tls-listen are the same address %s", cfg->listen.text);
        return CONFIG_USAGE;
    }
    for (int i = 0; cfg->metrics_mode == CONFIG_METRICS_LISTEN && i < 2; i++) {
        const config_addr *a = i ? &cfg->tls_listen : &cfg->listen;
        if (!a->off && a->salen == cfg->metrics_listen.salen &&
            memcmp(&a->sa, &cfg->metrics_listen.sa, a->salen) == 0) {
            snprintf(err, errlen, "--metrics %s: the same address as %s", cfg->metrics_listen.text,
                     i ? "--tls-listen" : "--listen");
            return CONFIG_USAGE;
        }
    }
    return CONFIG_OK;
}

static int config_str_differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

static int config_addr_differs(const config_addr *a, const config_addr *b)
{
    return a->off != b->off || config_str_differs(a->text, b->text);
}

size_t config_diff(const config *a, const config *b, const char **names, size_t max)
{
    size_t n = 0;
    int mounts = a->n_mounts != b->n_mounts;

    for (size_t i = 0; !mounts && i < a->n_mounts; i++)
        mounts = config_str_differs(a->mounts[i].api, b->mounts[i].api) ||
                 config_str_differs(a->mounts[i].base, b->mounts[i].base);
#define DIFF(cond, name) do { if (cond) { if (n < max) names[n] = (name); n++; } } while (0)
    DIFF(config_addr_differs(&a->listen, &b->listen), "listen");
    DIFF(config_addr_differs(&a->tls_listen, &b->tls_listen), "tls-listen");
    DIFF(a->allow_plain_http != b->allow_plain_http, "allow-plain-http");
    DIFF(config_str_differs(a->tls_cert, b->tls_cert), "tls-cert");
    DIFF(config_str_differs(a->tls_key, b->tls_key), "tls-key");
    DIFF(config_str_differs(a->tls_client_ca, b->tls_client_ca), "tls-client-ca");
    DIFF(config_str_differs(a->db_path, b->db_path), "db");
    DIFF(a->stale_if_error != b->stale_if_error, "stale-if-error");
    DIFF(config_str_differs(a->state_dir, b->state_dir), "state-dir");
    DIFF(config_str_differs(a->secret_path, b->secret_path), "secret");
    DIFF(config_str_differs(a->jwt_key, b->jwt_key), "jwt-key");
    DIFF(config_str_differs(a->jwt_issuer, b->jwt_issuer), "jwt-issuer");
    DIFF(config_str_differs(a->jwt_audience, b->jwt_audience), "jwt-audience");
    DIFF(a->jwt_max_lifetime != b->jwt_max_lifetime, "jwt-max-lifetime");
    DIFF(a->jwt_leeway != b->jwt_leeway, "jwt-leeway");
    DIFF(a->log_level != b->log_level, "log-level");
    DIFF(a->log_format != b->log_format, "log-format");
    DIFF(a->log_target != b->log_target, "log-target");
    DIFF(config_str_differs(a->log_socket, b->log_socket), "log-socket");
    DIFF(a->metrics_mode != b->metrics_mode || (a->metrics_mode == CONFIG_METRICS_LISTEN &&
         config_addr_differs(&a->metrics_listen, &b->metrics_listen)), "metrics");
    DIFF(a->max_body != b->max_body, "max-body");
    DIFF(a->conn_memory != b->conn_memory, "max-header");
    DIFF(a->conn_timeout != b->conn_timeout, "conn-timeout");
    DIFF(a->shutdown_timeout != b->shutdown_timeout, "shutdown-timeout");
    DIFF(a->threads != b->threads, "threads");
    DIFF(a->tls_threads != b->tls_threads, "tls-threads");
    DIFF(a->key_quota != b->key_quota, "key-quota");
    DIFF(a->revoke_cascade != b->revoke_cascade, "revoke-cascade");
    DIFF(mounts, "mount");
    DIFF(a->validate_responses != b->validate_responses, "validate-responses");
    DIFF(a->max_connections != b->max_connections, "max-connections");
    DIFF(a->max_connections_per_ip != b->max_connections_per_ip, "max-connections-per-ip");
    DIFF(a->request_timeout != b->request_timeout, "request-timeout");
    DIFF(a->tls_handshake_timeout != b->tls_handshake_timeout, "tls-handshake-timeout");
#undef DIFF
    return n;
}

void config_free(config *cfg)
{
    free(cfg->listen.text);
    free(cfg->tls_listen.text);
    free(cfg->metrics_listen.text);
    free(cfg->tls_cert);
    free(cfg->tls_key);
    free(cfg->tls_client_ca);
    free(cfg->db_path);
    free(cfg->jwt_key);
    free(cfg->log_socket);
    free(cfg->secret_path);
    free(cfg->state_dir);
    free(cfg->user);
    free(cfg->family);
    free(cfg->since);
    free(cfg->jwt_issuer);
    free(cfg->jwt_audience);
    free(cfg->config_file);
    for (size_t i = 0; i < cfg->n_mounts; i++) {
        free(cfg->mounts[i].api);
        free(cfg->mounts[i].base);
    }
    free(cfg->mounts);
    for (size_t i = 0; i < cfg->n_args; i++) free(cfg->args[i]);
    free(cfg->args);
    memset(cfg, 0, sizeof *cfg);
}
