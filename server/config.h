/* config: apikeyd's settings from the command line, the environment
 * (APIKEYD_*) and an optional `key = value` file, merged with the
 * precedence command line > environment > config file > built-in defaults.
 *
 * config_load() fills a config whose strings are owned by it; config_free()
 * releases them. Every bad value yields a message naming the option, where
 * it came from and what was expected. */
#ifndef APIKEYD_CONFIG_H
#define APIKEYD_CONFIG_H
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

enum config_status {
    CONFIG_OK = 0,
    CONFIG_EXIT_OK,     /* --help or --version printed; exit 0 */
    CONFIG_USAGE,       /* bad usage; the message is in err; exit 2 */
};

typedef struct config_addr {
    int off;                        /* "off": this listener is disabled */
    char *text;                     /* as given: "127.0.0.1:8080" */
    struct sockaddr_storage sa;     /* resolved address */
    socklen_t salen;
    unsigned port;
} config_addr;

/* --metrics: GET /metrics on the API listeners for loopback clients only
   (default), on a listener of its own (HOST:PORT), or nowhere. */
enum { CONFIG_METRICS_LOOPBACK, CONFIG_METRICS_LISTEN, CONFIG_METRICS_OFF };

typedef struct config_mount {
    char *api;                      /* "heron" */
    char *base;                     /* "/heron", or NULL for off */
} config_mount;

typedef struct config {
    config_addr listen;             /* plain HTTP */
    config_addr tls_listen;         /* HTTPS */
    int allow_plain_http;           /* allow a non-loopback plain listener */
    char *tls_cert, *tls_key;       /* NULL: self-signed beside the database */
    char *tls_client_ca;            /* NULL: no client certificates */
    char *db_path;                  /* default var/apikeyd.db */
    char *jwt_key;                  /* NULL: no JWT */
    char *secret_path;              /* NULL: beside the SQLite database */
    char *state_dir;                /* NULL: the SQLite database's folder, or var/ */
    unsigned stale_if_error;        /* seconds of cached verification while a shared store is unreachable; 0 */
    char *jwt_issuer;               /* iss a JWT must carry; NULL: not checked */
    char *jwt_audience;             /* aud a JWT must hold; NULL: not checked */
    unsigned jwt_max_lifetime;      /* seconds exp - iat may span; 0: no bound; default 86400 */
    unsigned jwt_leeway;            /* seconds of clock skew on exp, nbf, iat; default 60 */
    char *config_file;              /* the file read, or NULL */
    unsigned long log_level;        /* yder Y_LOG_LEVEL_* */
    int log_format;                 /* enum log_format (log.h): 0 text, 1 json */
    int log_target;                 /* enum log_target (log.h): 0 stderr, 1 syslog, 2 journald */
    char *log_socket;               /* NULL: the target's own (log.h) */
    int metrics_mode;               /* CONFIG_METRICS_* */
    config_addr metrics_listen;     /* with CONFIG_METRICS_LISTEN */
    size_t max_body;                /* bytes; default 64 KiB */
    unsigned conn_timeout;          /* seconds of inactivity */
    unsigned shutdown_timeout;      /* seconds to wait for in-flight requests */
    unsigned threads;               /* worker threads per listener; 0 = 2 per core */
    unsigned tls_threads;           /* of the TLS listener; 0 = threads if set, else 2 per core */
    size_t conn_memory;             /* per-connection memory: header size limit */
    /* connection limits and the request deadline (audit issue 10, finding 4) */
    unsigned max_connections;       /* per listener; 0 = sized from RLIMIT_NOFILE */
    unsigned max_connections_per_ip; /* per listener and client address; 0 = no limit */
    unsigned request_timeout;       /* seconds from accept or the last response to a whole request */
    unsigned tls_handshake_timeout; /* seconds from accept to a TLS connection's first request line */
    int test_slow_endpoint;         /* hidden: GET /__test/slow?ms=N */
    unsigned key_quota;             /* unrevoked keys per user; 0 = none (default 1000) */
    int revoke_cascade;             /* revoke and delete take what a key minted along */
    char *user;                     /* `key list --user NAME` */
    int cascade;                    /* `key revoke ID --cascade` */
    char *family;                   /* `key list --family API` */
    char *since;                    /* `audit --since TIME` */
    int json;                       /* the operating commands: JSON lines */
    int force;                      /* `restore --force` */
    int validate_responses;         /* check responses against the spec (tests) */
    config_mount *mounts;           /* in order of precedence, last wins */
    size_t n_mounts;
    char **args;                    /* positional words ("user" "add" NAME) */
    size_t n_args;
} config;

/* Parses argv (argv[0] is the program) with the environment and the
   config file. On CONFIG_USAGE err holds the message (no trailing newline). */
int config_load(config *cfg, int argc, char **argv, char *err, size_t errlen);
void config_free(config *cfg);

/* The settings whose values differ between a and b, by option name
   ("log-level", "listen", ...; static strings): up to max into names;
   returns how many differ. For SIGHUP's re-read. */
size_t config_diff(const config *a, const config *b, const char **names, size_t max);

/* Prints the --help text to f. */
void config_usage(FILE *f);

/* 1 when the address is a loopback one (127.0.0.0/8, ::1, ::ffff:127.x). */
int config_addr_is_loopback(const config_addr *a);

/* Parses "HOST:PORT" or "[V6]:PORT" (or "off" when allow_off).
   Returns 0 or -1 with err set. */
int config_parse_addr(const char *text, int allow_off, config_addr *out,
        char *err, size_t errlen);

/* Parses "API=BASEPATH" or "API=off". Returns 0 or -1 with err set. */
int config_parse_mount(const char *text, config_mount *out, char *err, size_t errlen);

#endif
