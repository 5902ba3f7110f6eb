/* bare_ulfius: the external baseline of bench-perf, a separate process that
 * links only ulfius (and its libmicrohttpd and GnuTLS) and answers
 * GET /bare (any path, any method) with {"ok":true}, as apikeyd's
 * in-process /__test/bare does, but with no guard, no access log and no
 * request accounting: what ulfius itself costs on this machine.
 *
 *   bare_ulfius --port P [--tls-port P --cert PEM --key PEM]
 *               [--threads N] [--mode pool|epoll|thread-per-connection]
 *
 * Same libmicrohttpd mode as apikeyd by default (internal polling thread,
 * epoll, a pool of N threads, N = 4 per core), and over TLS the same priority
 * string and the same certificate (loaded once, as libmicrohttpd's
 * HTTPS_MEM_CERT does). Prints "bare_ulfius ready" on stderr once both
 * listeners are up; stops on SIGTERM or SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <microhttpd.h>
#include <ulfius.h>

#include "tls.h"   /* TLS_PRIORITIES: the priorities apikeyd negotiates with */

#define BARE_MAX_OPS 10

static int bare_answer(const struct _u_request *req, struct _u_response *res, void *data)
{
    json_t *body = json_pack("{sb}", "ok", 1);   /* new */
    (void)req;
    (void)data;
    ulfius_set_json_body_response(res, 200, body);   /* copies */
    json_decref(body);
    return U_CALLBACK_COMPLETE;
}

static char *bare_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f == NULL) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = calloc(1, (size_t)n + 1)) != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

/* Starts one instance on port; cert and key NULL for plain HTTP. */
static int bare_start(struct _u_instance *u, unsigned port, unsigned threads, unsigned mode_flags,
        const char *cert, const char *key)
{
    struct MHD_OptionItem ops[BARE_MAX_OPS];
    unsigned flags = mode_flags | MHD_USE_ERROR_LOG;
    size_t n = 0;

    if (ulfius_init_instance(u, port, NULL, NULL) != U_OK) return -1;
    if (ulfius_add_endpoint_by_val(u, "*", NULL, "*", 0, bare_answer, NULL) != U_OK ||
        ulfius_set_default_endpoint(u, bare_answer, NULL) != U_OK)
        return -1;
#define OP(o, v, p) (ops[n].option = (o), ops[n].value = (intptr_t)(v), ops[n].ptr_value = (p), n++)
    /* what ulfius_start_framework would pass (ulfius.h: MUST contain) */
    OP(MHD_OPTION_NOTIFY_COMPLETED, mhd_request_completed, NULL);
    OP(MHD_OPTION_URI_LOG_CALLBACK, ulfius_uri_logger, NULL);
    if (!(mode_flags & MHD_USE_THREAD_PER_CONNECTION)) OP(MHD_OPTION_THREAD_POOL_SIZE, threads, NULL);
    if (cert != NULL) {
        flags |= MHD_USE_TLS;
        OP(MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cert);
        OP(MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)key);
        OP(MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES);
    }
    OP(MHD_OPTION_END, 0, NULL);
#undef OP
    return ulfius_start_framework_with_mhd_options(u, flags, ops) == U_OK ? 0 : -1;
}

static void bare_usage(void)
{
    fprintf(stderr, "usage: bare_ulfius --port P [--tls-port P --cert PEM --key PEM] [--threads N]\n"
                    "                   [--mode pool|epoll|thread-per-connection]\n"
                    "  a bare ulfius server answering {\"ok\":true} on every path (bench-perf's baseline)\n");
}

int main(int argc, char **argv)
{
    struct _u_instance plain, tls;
    unsigned port = 0, tls_port = 0, threads = 0;
    unsigned mode = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
    const char *cert_path = NULL, *key_path = NULL;
    char *cert = NULL, *key = NULL;
    int plain_up = 0, tls_up = 0, sig, rc = 1;
    sigset_t set;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0) { bare_usage(); return 0; }
        if (v == NULL) { fprintf(stderr, "bare_ulfius: %s needs a value\n", a); bare_usage(); return 2; }
        i++;
        if (strcmp(a, "--port") == 0) port = (unsigned)atoi(v);
        else if (strcmp(a, "--tls-port") == 0) tls_port = (unsigned)atoi(v);
        else if (strcmp(a, "--cert") == 0) cert_path = v;
        else if (strcmp(a, "--key") == 0) key_path = v;
        else if (strcmp(a, "--threads") == 0) threads = (unsigned)atoi(v);
        else if (strcmp(a, "--mode") == 0) {
            if (strcmp(v, "pool") == 0 || strcmp(v, "epoll") == 0)
                mode = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
            else if (strcmp(v, "thread-per-connection") == 0)
                mode = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
            else { fprintf(stderr, "bare_ulfius: unknown --mode %s\n", v); bare_usage(); return 2; }
            if (strcmp(v, "epoll") == 0) threads = 1;   /* one epoll thread, no pool */
        } else { fprintf(stderr, "bare_ulfius: unknown option %s\n", a); bare_usage(); return 2; }
    }
    if (port == 0 || port > 65535 || tls_port > 65535 || (tls_port && (cert_path == NULL || key_path == NULL))) {
        bare_usage();
        return 2;
    }
    if (threads == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        threads = 2 * (c > 0 ? (unsigned)c : 1);   /* as apikeyd (SERVE_THREADS_PER_CORE) */
    }
    if (tls_port && ((cert = bare_read(cert_path)) == NULL || (key = bare_read(key_path)) == NULL)) {
        fprintf(stderr, "bare_ulfius: cannot read %s\n", cert == NULL ? cert_path : key_path);
        goto cleanup;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);   /* the daemon threads inherit it */
    if (bare_start(&plain, port, threads, mode, NULL, NULL) != 0) {
        fprintf(stderr, "bare_ulfius: cannot listen on port %u\n", port);
        goto cleanup;
    }
    plain_up = 1;
    if (tls_port) {
        if (bare_start(&tls, tls_port, threads, mode, cert, key) != 0) {
            fprintf(stderr, "bare_ulfius: cannot listen on TLS port %u\n", tls_port);
            goto cleanup;
        }
        tls_up = 1;
    }
    fprintf(stderr, "bare_ulfius ready\n");
    sigwait(&set, &sig);
    rc = 0;
cleanup:
    if (tls_up) ulfius_stop_framework(&tls);
    if (plain_up) ulfius_stop_framework(&plain);
    if (tls_port && tls_up) ulfius_clean_instance(&tls);
    if (plain_up) ulfius_clean_instance(&plain);
    free(cert);
    free(key);
    return rc;
}
