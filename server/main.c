/* apikeyd: serve every API over HTTP and HTTPS, or run one command on the
 * key store: `user add NAME`, `user key NAME`, and the operating commands
 * of admin.h (user list, key list|show|revoke, audit, secret, backup,
 * restore).
 *
 * Signals are blocked in every thread and taken synchronously by the main
 * thread with sigwait(): SIGHUP re-reads the TLS certificate and key, and
 * the settings (main_reload: the log level; the rest is named as needing a
 * restart),
 * SIGTERM/SIGINT stop accepting, wait for in-flight requests, stop the
 * listeners and close the database. No work happens in a signal handler. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <gnutls/gnutls.h>
#include <yder.h>

#include "apis.h"
#include "certgen.h"
#include "config.h"
#include "log.h"
#include "notify.h"
#include "serve.h"
#include "tls.h"
#ifdef APIKEYD_HAVE_KEYSVC
#include "keysvc.h"
#include "app.h"
#include "store_migrate.h"
#include "admin.h"
#endif

#define EXIT_USAGE 2

/* The folder of the local state (the secret, the self-signed certificate),
   created if missing (mkdir -p); dir receives it: --state-dir, else the
   SQLite database's folder, else (a store that is not a file: PostgreSQL)
   var/. */
static int main_make_dir(const config *cfg, char *dir, size_t dirlen, char *err, size_t errlen)
{
    const char *path = cfg->db_path;
    char given[2048];
#ifdef APIKEYD_HAVE_KEYSVC
    const char *be = store_backend_for(path);
    if (be && strcmp(be, "sqlite") != 0) path = "var/state";
#endif
    if (cfg->state_dir) {
        /* the folder itself: a file name inside it */
        snprintf(given, sizeof given, "%s/x", cfg->state_dir);
        path = given;
    }
    const char *slash = strrchr(path, '/');
    if (strlen(path) >= dirlen) {
        snprintf(err, errlen, "database path too long: %.200s...", path);
        return -1;
    }
    if (strcmp(path, ":memory:") == 0) {
        snprintf(dir, dirlen, "var");
    } else if (slash == NULL) {
        snprintf(dir, dirlen, ".");
        return 0;
    } else if (slash == path) {
        snprintf(dir, dirlen, "/");
        return 0;
    } else {
        snprintf(dir, dirlen, "%.*s", (int)(slash - path), path);
    }
    for (char *p = dir + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
                snprintf(err, errlen, "cannot create folder %.300s: %s", dir, strerror(errno));
                *p = c;
                return -1;
            }
            *p = c;
            if (c == '\0') break;
        }
    }
    return 0;
}

#ifdef APIKEYD_HAVE_KEYSVC
/* The application context every API's hooks and handlers receive. */
static app main_app;

static rt_auth_fn main_authenticate_fn(void)
{
    return app_authenticate;
}

/* 1 once log_init ran (the server); the CLI writes to standard error. */
static int main_logging;

/* keysvc_config.log: store errors and start-up warnings. */
static void main_store_log(int level, const char *msg)
{
    if (main_logging)
        y_log_message(level == STORE_LOG_WARNING ? Y_LOG_LEVEL_WARNING : Y_LOG_LEVEL_ERROR, "%s", msg);
    else
        fprintf(stderr, "apikeyd: %s\n", msg);
}

/* serve_ready_fn: /readyz asks the store (2 s at most). */
static int main_ready(void *appv, char *why, size_t len, json_t *details)
{
    keysvc *ks = ((app *)appv)->ks;
    int64_t seen = 0, current = 0;

    json_object_set_new(details, "backend", json_string(keysvc_store_backend(ks)));
    if (keysvc_store_epochs(ks, &seen, &current) == KEYSVC_OK) {
        /* the change epoch this node has applied, and the store's */
        json_object_set_new(details, "epoch_seen", json_integer(seen));
        json_object_set_new(details, "epoch", json_integer(current));
    }
    return keysvc_ready(ks, 2000, why, len) == KEYSVC_OK ? 0 : -1;
}

/* Prints the new user's first key, alone, on stdout. */
static int main_user_add_keysvc(keysvc *ks, const char *name)
{
    char token[TOKEN_MAX];
    int64_t user = 0;
    int rc = keysvc_user_add(ks, name, token, sizeof token, &user);

    if (rc != KEYSVC_OK) {
        fprintf(stderr, "apikeyd: user add %s: %s\n", name, keysvc_strerror(rc));
        return 1;
    }
    printf("%s\n", token);
    fflush(stdout);
    memset(token, 0, sizeof token);
    fprintf(stderr, "apikeyd: created user %s (id %lld); its first API key is on standard output\n", name,
            (long long)user);
    return 0;
}

static int main_open_keysvc(const config *cfg, const char *dir, keysvc **ks, char *err, size_t errlen)
{
    char secret[4096];
    keysvc_config kc;

    const char *be = store_backend_for(cfg->db_path);

    snprintf(secret, sizeof secret, "%s/apikeyd.secret", dir);
    memset(&kc, 0, sizeof kc);
    kc.db_path = cfg->db_path;
    kc.secret_path = cfg->secret_path ? cfg->secret_path : secret;
    /* nodes of a shared store must share one secret: never make one up */
    kc.secret_must_exist = be && strcmp(be, "sqlite") != 0;
    kc.stale_if_error = cfg->stale_if_error;
    kc.synchronous_full = 1;
    kc.jwt_key_path = cfg->jwt_key;
    kc.key_quota = cfg->key_quota ? (int64_t)cfg->key_quota : -1;
    kc.revoke_cascade = cfg->revoke_cascade;
    kc.jwt_issuer = cfg->jwt_issuer;
    kc.jwt_audience = cfg->jwt_audience;
    kc.jwt_max_lifetime = cfg->jwt_max_lifetime;
    kc.jwt_leeway = cfg->jwt_leeway;
    kc.log = main_store_log;
    return keysvc_open(&kc, ks, err, errlen);
}

/* apikeyd user key NAME: a new key for an existing user, alone on stdout. */
static int main_user_key_keysvc(keysvc *ks, const config *cfg)
{
    const char *name = cfg->args[2];
    char token[TOKEN_MAX];
    int64_t user = 0;
    keysvc_key k;
    int rc = keysvc_user_key(ks, name, token, sizeof token, &user, &k);

    if (rc != KEYSVC_OK) {
        fprintf(stderr, "apikeyd: user key %s: %s\n", name, keysvc_strerror(rc));
        return 1;
    }
    printf("%s\n", token);
    fflush(stdout);
    memset(token, 0, sizeof token);
    fprintf(stderr, "apikeyd: a new API key (id %lld) for user %s is on standard output; it is shown only once\n",
            (long long)k.id, name);
    return 0;
}

#endif

/* The commands that open the key store: mkdir of its folder, open, run. */
typedef enum main_cmd { MAIN_USER_ADD, MAIN_USER_KEY, MAIN_ADMIN } main_cmd;

static int main_command(const config *cfg, main_cmd cmd)
{
    char dir[2048], err[512];

    if (main_make_dir(cfg, dir, sizeof dir, err, sizeof err) != 0) {
        fprintf(stderr, "apikeyd: %s\n", err);
        return 1;
    }
#ifdef APIKEYD_HAVE_KEYSVC
    {
        keysvc *ks = NULL;
        int rc = 1;
        if (main_open_keysvc(cfg, dir, &ks, err, sizeof err) != 0) {
            fprintf(stderr, "apikeyd: cannot open the key store %s: %s\n", cfg->db_path, err);
            return 1;
        }
        switch (cmd) {
        case MAIN_USER_ADD: rc = main_user_add_keysvc(ks, cfg->args[2]); break;
        case MAIN_USER_KEY: rc = main_user_key_keysvc(ks, cfg); break;
        case MAIN_ADMIN: rc = admin_run(ks, cfg); break;
        }
        keysvc_close(ks);
        return rc;
    }
#else
    (void)cmd;
    fprintf(stderr, "apikeyd: this build has no key service (keysvc/)\n");
    return 1;
#endif
}

#ifdef APIKEYD_HAVE_KEYSVC
/* admin_open_fn: the key service as every command opens it. */
static int main_open_restored(const config *cfg, keysvc **ks, char *err, size_t errlen)
{
    char dir[2048];

    if (main_make_dir(cfg, dir, sizeof dir, err, errlen) != 0) return -1;
    return main_open_keysvc(cfg, dir, ks, err, errlen);
}

/* apikeyd restore DIR: the store is written before it is opened as a key service. */
static int main_restore(const config *cfg)
{
    char dir[2048], err[512], secret[4096];

    if (main_make_dir(cfg, dir, sizeof dir, err, sizeof err) != 0) {
        fprintf(stderr, "apikeyd: %s\n", err);
        return 1;
    }
    snprintf(secret, sizeof secret, "%s/apikeyd.secret", dir);
    return admin_restore(cfg, cfg->secret_path ? cfg->secret_path : secret, main_open_restored);
}
#endif

/* apikeyd user add NAME: the key alone on stdout, diagnostics on stderr. */
static int main_user_add(const config *cfg, const char *name)
{
    if (name[0] == '\0') {
        fprintf(stderr, "apikeyd: user add: NAME must not be empty\n");
        return EXIT_USAGE;
    }
    return main_command(cfg, MAIN_USER_ADD);
}

/* The HTTPS certificate: given, or self-signed beside the database. */
static int main_tls_setup(const config *cfg, const char *dir)
{
    char cert[4096], key[4096], err[512], fp[128];
    const char *cp = cfg->tls_cert, *kp = cfg->tls_key;
    int created = 0;

    if (tls_check_priorities(err, sizeof err) != 0) {
        y_log_message(Y_LOG_LEVEL_ERROR, "%s", err);
        return -1;
    }
    if (cp == NULL) {
        snprintf(cert, sizeof cert, "%s/tls-cert.pem", dir);
        snprintf(key, sizeof key, "%s/tls-key.pem", dir);
        if (certgen_ensure(cert, key, &created, err, sizeof err) != 0) {
            y_log_message(Y_LOG_LEVEL_ERROR, "self-signed certificate: %s", err);
            return -1;
        }
        if (created)
            y_log_message(Y_LOG_LEVEL_INFO, "created a self-signed certificate for localhost: %s (key %s)",
                          cert, key);
        cp = cert;
        kp = key;
    }
    if (tls_init(cp, kp, err, sizeof err) != 0) {
        y_log_message(Y_LOG_LEVEL_ERROR, "TLS: %s", err);
        return -1;
    }
    if (tls_fingerprint(fp, sizeof fp) == 0)
        y_log_message(Y_LOG_LEVEL_INFO, "TLS certificate %s sha256 %s", cp, fp);
    return 0;
}

/* The store for the log: a PostgreSQL URI or conninfo without its password. */
static void main_store_label(const char *path, char *out, size_t len)
{
    const char *scheme = strstr(path, "://"), *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = scheme && at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    const char *pw = strstr(path, "password=");

    if (colon)
        snprintf(out, len, "%.*s:***%s", (int)(colon - path), path, at);
    else if (pw) {
        const char *end = strpbrk(pw, " &");
        snprintf(out, len, "%.*spassword=***%s", (int)(pw - path), path, end ? end : "");
    } else
        snprintf(out, len, "%s", path);
}

static int main_str_differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

#ifdef APIKEYD_HAVE_KEYSVC
/* SIGHUP: the JWT settings of next, and the key file read again (its keys
   may have rotated under the same name); live takes them when they load. */
static void main_reload_jwt(keysvc *ks, config *live, const config *next, char *applied, size_t len, size_t *o)
{
    keysvc_config kc;
    char err[512];

    if (next->jwt_key == NULL && live->jwt_key == NULL) return;
    memset(&kc, 0, sizeof kc);
    kc.jwt_key_path = next->jwt_key;
    kc.jwt_issuer = next->jwt_issuer;
    kc.jwt_audience = next->jwt_audience;
    kc.jwt_max_lifetime = next->jwt_max_lifetime;
    kc.jwt_leeway = next->jwt_leeway;
    if (keysvc_jwt_reload(ks, &kc, err, sizeof err) != KEYSVC_OK) {
        y_log_message(Y_LOG_LEVEL_ERROR, "SIGHUP: keeping the current JWT keys and settings: %s", err);
        return;
    }
    *o += (size_t)snprintf(applied + *o, *o < len ? len - *o : 0, "%sjwt-key %s%s", *o ? ", " : "",
                           next->jwt_key ? next->jwt_key : "off (no JWTs)",
                           main_str_differs(live->jwt_issuer, next->jwt_issuer) ||
                           main_str_differs(live->jwt_audience, next->jwt_audience) ||
                           live->jwt_max_lifetime != next->jwt_max_lifetime || live->jwt_leeway != next->jwt_leeway
                           ? " (with new jwt-issuer/audience/max-lifetime/leeway)" : " (re-read)");
    free(live->jwt_key);
    free(live->jwt_issuer);
    free(live->jwt_audience);
    live->jwt_key = next->jwt_key ? strdup(next->jwt_key) : NULL;
    live->jwt_issuer = next->jwt_issuer ? strdup(next->jwt_issuer) : NULL;
    live->jwt_audience = next->jwt_audience ? strdup(next->jwt_audience) : NULL;
    live->jwt_max_lifetime = next->jwt_max_lifetime;
    live->jwt_leeway = next->jwt_leeway;
}
#endif

/* What SIGHUP re-reads besides the certificate: the settings again (the
 * same command line and environment, the config file read anew). The
 * reloadable ones (log-level; the JWT key file, always read again, and
 * jwt-issuer, -audience, -max-lifetime, -leeway) are applied against live,
 * the values in force; every other setting that differs from what the
 * server started with (cfg) is named as needing a restart. A config file
 * that no longer loads changes nothing. ks: the key service, or NULL. */
static void main_reload(const config *cfg, config *live, void *ks, int argc, char **argv)
{
    config next;
    char err[1024], applied[512] = "", restart[512] = "";
    const char *names[64];
    size_t n, o = 0, r = 0;

    if (config_load(&next, argc, argv, err, sizeof err) != CONFIG_OK) {
        y_log_message(Y_LOG_LEVEL_ERROR, "SIGHUP: the settings do not load, every current one is kept: %s", err);
        config_free(&next);
        return;
    }
    if (next.log_level != live->log_level) {
        o += (size_t)snprintf(applied + o, sizeof applied - o, "%slog-level %s", o ? ", " : "",
                              log_level_name(next.log_level));
        /* logged before the level changes, so a lower level still says so */
        y_log_message(Y_LOG_LEVEL_WARNING, "SIGHUP: log-level %s -> %s", log_level_name(live->log_level),
                      log_level_name(next.log_level));
        log_set_level(next.log_level);
        live->log_level = next.log_level;
    }
#ifdef APIKEYD_HAVE_KEYSVC
    if (ks) main_reload_jwt(ks, live, &next, applied, sizeof applied, &o);
#else
    (void)ks;
#endif
    n = config_diff(cfg, &next, names, sizeof names / sizeof names[0]);
    for (size_t i = 0; i < n && i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(names[i], "log-level") == 0 || strncmp(names[i], "jwt-", 4) == 0) continue;
        r += (size_t)snprintf(restart + r, r < sizeof restart ? sizeof restart - r : 0, "%s%s", r ? ", " : "",
                              names[i]);
    }
    y_log_message(Y_LOG_LEVEL_INFO, "SIGHUP: settings re-read%s%s: applied: %s; need a restart: %s",
                  cfg->config_file ? " from " : "", cfg->config_file ? cfg->config_file : "",
                  o ? applied : "nothing changed", r ? restart : "none");
    if (r) y_log_message(Y_LOG_LEVEL_WARNING, "SIGHUP: changed settings that only a restart applies: %s", restart);
    config_free(&next);
}

static int main_serve(const config *cfg, int argc, char **argv)
{
    sigset_t set;
    serve *srv = NULL;
    char dir[2048], err[512], apis[512];
    void *app_data = NULL;
    rt_auth_fn authenticate = NULL;
    int rc = 1, sig = 0;
    config live;                /* the reloadable settings in force (SIGHUP) */
#ifdef APIKEYD_HAVE_KEYSVC
    keysvc *ks = NULL;
#endif

    memset(&live, 0, sizeof live);
    live.log_level = cfg->log_level;
    live.jwt_key = cfg->jwt_key ? strdup(cfg->jwt_key) : NULL;
    live.jwt_issuer = cfg->jwt_issuer ? strdup(cfg->jwt_issuer) : NULL;
    live.jwt_audience = cfg->jwt_audience ? strdup(cfg->jwt_audience) : NULL;
    live.jwt_max_lifetime = cfg->jwt_max_lifetime;
    live.jwt_leeway = cfg->jwt_leeway;

    /* Taken by sigwait() below: default dispositions first (a shell starts
       background jobs with SIGINT ignored, and an ignored signal is never
       delivered to sigwait), then blocked before any thread exists, so every
       thread inherits the mask. */
    signal(SIGHUP, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    for (size_t i = 0; i < cfg->n_mounts; i++) {
        if (apis_set_base(cfg->mounts[i].api, cfg->mounts[i].base, err, sizeof err) != 0) {
            fprintf(stderr, "apikeyd: %s\n", err);
            return EXIT_USAGE;
        }
    }
    if (log_init(cfg->log_level, (enum log_format)cfg->log_format, (enum log_target)cfg->log_target, cfg->log_socket,
                 err, sizeof err) != 0) {
        fprintf(stderr, "apikeyd: cannot start logging: %s\n", err);
        return 1;
    }
    if (main_make_dir(cfg, dir, sizeof dir, err, sizeof err) != 0) {
        y_log_message(Y_LOG_LEVEL_ERROR, "%s", err);
        goto cleanup;
    }
    if (!cfg->tls_listen.off && main_tls_setup(cfg, dir) != 0) goto cleanup;
#ifdef APIKEYD_HAVE_KEYSVC
    main_logging = 1;
    if (main_open_keysvc(cfg, dir, &ks, err, sizeof err) != 0) {
        {
        char label[512];
        main_store_label(cfg->db_path, label, sizeof label);
        y_log_message(Y_LOG_LEVEL_ERROR, "cannot open the key store %s: %s", label, err);
    }
        goto cleanup;
    }
    main_app.ks = ks;
    {
        char why[300] = "";
        if (keysvc_ready(ks, 2000, why, sizeof why) != KEYSVC_OK)
            y_log_message(Y_LOG_LEVEL_WARNING, "the key store is not ready: %s (/readyz answers 503 until it is)", why);
    }
    app_data = &main_app;
    authenticate = main_authenticate_fn();
#endif
    if (serve_start(cfg, app_data, authenticate, &srv, err, sizeof err) != 0) {
        y_log_message(Y_LOG_LEVEL_ERROR, "%s", err);
        goto cleanup;
    }
#ifdef APIKEYD_HAVE_KEYSVC
    serve_set_ready(srv, main_ready);
#endif
    {
        apis_env env;
        memset(&env, 0, sizeof env);
        env.test_endpoints = cfg->test_slow_endpoint;
        apis_describe(&env, apis, sizeof apis);
    }
    char store_label[512];
    main_store_label(cfg->db_path, store_label, sizeof store_label);
    y_log_message(Y_LOG_LEVEL_INFO, "apikeyd ready: http %s, https %s, database %s, APIs: %s",
                  cfg->listen.off ? "off" : cfg->listen.text,
                  cfg->tls_listen.off ? "off" : cfg->tls_listen.text, store_label,
                  apis[0] ? apis : "(none)");
    notify_check();
    notify_ready(NULL);

    for (;;) {
        if (sigwait(&set, &sig) != 0) continue;
        if (sig == SIGHUP) {
            char fp[128];
            notify_reloading();
            if (cfg->tls_listen.off) {
                y_log_message(Y_LOG_LEVEL_INFO, "SIGHUP: no HTTPS listener, no certificate to reload");
            } else if (tls_reload(err, sizeof err) != 0) {
                y_log_message(Y_LOG_LEVEL_ERROR, "SIGHUP: keeping the current certificate: %s", err);
            } else {
                if (tls_fingerprint(fp, sizeof fp) != 0) snprintf(fp, sizeof fp, "?");
                y_log_message(Y_LOG_LEVEL_INFO, "SIGHUP: TLS certificate reloaded, sha256 %s", fp);
            }
#ifdef APIKEYD_HAVE_KEYSVC
            main_reload(cfg, &live, ks, argc, argv);
#else
            main_reload(cfg, &live, NULL, argc, argv);
#endif
            notify_ready(NULL);
            continue;
        }
        if (sig == SIGTERM || sig == SIGINT) break;
    }
    notify_stopping();
    y_log_message(Y_LOG_LEVEL_INFO, "%s: no longer accepting; waiting for %u request(s) in flight",
                  sig == SIGTERM ? "SIGTERM" : "SIGINT", serve_in_flight(srv));
    serve_quiesce(srv);
    if (serve_wait_idle(srv, cfg->shutdown_timeout) != 0)
        y_log_message(Y_LOG_LEVEL_WARNING, "shutdown: %u request(s) still running after %us; stopping anyway",
                      serve_in_flight(srv), cfg->shutdown_timeout);
    serve_stop(srv);
    srv = NULL;
    rc = 0;
cleanup:
    serve_stop(srv);
#ifdef APIKEYD_HAVE_KEYSVC
    if (ks) keysvc_close(ks);
#endif
    tls_shutdown();
    config_free(&live);
    if (rc == 0) y_log_message(Y_LOG_LEVEL_INFO, "apikeyd stopped");
    log_close();
    return rc;
}


/* apikeyd migrate --from FILE --to POSTGRESQL: its own two options (none of
 * the server's settings, environment or config file apply). */
static int main_migrate(int argc, char **argv)
{
    const char *from = NULL, *to = NULL;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], **slot = NULL, *v = NULL;
        if (strcmp(a, "--help") == 0) {
            printf("Usage: apikeyd migrate --from FILE --to POSTGRESQL\n"
                   "Copies the SQLite key store FILE (opened read-only) into an empty PostgreSQL\n"
                   "store (a URI postgresql://... or a conninfo host=... dbname=...): users, keys\n"
                   "(ids, uuids and hashes kept), audit rows and the secret's check value; then\n"
                   "checks the row counts and every key's hash before committing. Start apikeyd\n"
                   "on PostgreSQL with --secret naming the same secret file.\n");
            return 0;
        }
        if (strncmp(a, "--from", 6) == 0 && (a[6] == '\0' || a[6] == '=')) slot = &from;
        else if (strncmp(a, "--to", 4) == 0 && (a[4] == '\0' || a[4] == '=')) slot = &to;
        else {
            fprintf(stderr, "apikeyd migrate: unexpected argument \"%s\"\nTry 'apikeyd migrate --help'.\n", a);
            return EXIT_USAGE;
        }
        v = strchr(a, '=') ? strchr(a, '=') + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (v == NULL || *v == '\0') {
            fprintf(stderr, "apikeyd migrate: %s needs a value\nTry 'apikeyd migrate --help'.\n", a);
            return EXIT_USAGE;
        }
        *slot = v;
    }
    if (from == NULL || to == NULL) {
        fprintf(stderr, "apikeyd migrate: both --from FILE and --to POSTGRESQL are required\n"
                "Try 'apikeyd migrate --help'.\n");
        return EXIT_USAGE;
    }
#ifdef APIKEYD_HAVE_KEYSVC
    {
        store_migrate_stats st;
        char err[1024];
        if (store_migrate(from, to, &st, err, sizeof err) != 0) {
            fprintf(stderr, "apikeyd migrate: %s\n", err);
            return 1;
        }
        printf("migrated %lld users, %lld keys, %lld audit rows%s\n"
               "verified: row counts equal, %lld key hashes equal; the next key id is %lld\n",
               (long long)st.users, (long long)st.keys, (long long)st.audit,
               st.secret_check ? " and the secret's check value" : " (the source had no secret check value)",
               (long long)st.hashes_checked, (long long)st.next_key_id);
        return 0;
    }
#else
    fprintf(stderr, "apikeyd migrate: this build has no key service (keysvc/)\n");
    return 1;
#endif
}

int main(int argc, char **argv)
{
    config cfg;
    char err[1024];
    int rc;

    if (argc >= 2 && strcmp(argv[1], "migrate") == 0)
        return main_migrate(argc - 2, argv + 2);
#ifdef APIKEYD_HAVE_KEYSVC
    if (admin_help(argc, argv))
        return 0;
#endif
    switch (config_load(&cfg, argc, argv, err, sizeof err)) {
    case CONFIG_OK:
        break;
    case CONFIG_EXIT_OK:
        config_free(&cfg);
        return 0;
    default:
        fprintf(stderr, "apikeyd: %s\nTry 'apikeyd --help'.\n", err);
        config_free(&cfg);
        return EXIT_USAGE;
    }
    if (cfg.n_args == 0) {
        rc = main_serve(&cfg, argc, argv);
    } else if (cfg.n_args == 3 && strcmp(cfg.args[0], "user") == 0 && strcmp(cfg.args[1], "add") == 0) {
        rc = main_user_add(&cfg, cfg.args[2]);
    } else if (cfg.n_args == 3 && strcmp(cfg.args[0], "user") == 0 && strcmp(cfg.args[1], "key") == 0) {
        rc = main_command(&cfg, MAIN_USER_KEY);
#ifdef APIKEYD_HAVE_KEYSVC
    } else if (admin_is_restore(&cfg)) {
        rc = main_restore(&cfg);
    } else if (admin_is_command(&cfg)) {
        rc = main_command(&cfg, MAIN_ADMIN);
#endif
    } else {
        fprintf(stderr, "apikeyd: unexpected argument \"%s\"; the commands are `user add NAME`, `user key NAME`,\n"
                "`user list`, `key list|show|revoke`, `audit`, `secret list|rotate|retire`, `backup DIR`,\n"
                "`restore DIR` and `migrate --from FILE --to POSTGRESQL`\n"
                "Try 'apikeyd --help' or 'apikeyd COMMAND --help'.\n", cfg.args[0]);
        rc = EXIT_USAGE;
    }
    config_free(&cfg);
    return rc;
}
