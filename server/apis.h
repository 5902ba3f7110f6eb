/* apis: the table of APIs apikeyd serves, {name, default base path,
 * register function}, and --mount's edits to their base paths.
 *
 * apis_set_base() is called once per --mount (last one wins); apis_mount()
 * registers every enabled API on one ulfius instance. The table is static;
 * nothing here is freed by the caller. */
#ifndef APIKEYD_APIS_H
#define APIKEYD_APIS_H
#include <stddef.h>
#include <ulfius.h>
#include "rt_http.h"

/* What every API registration gets. */
typedef struct apis_env {
    void *app;                  /* the key service */
    rt_auth_fn authenticate;    /* the key service's authentication hook */
    size_t max_body;            /* --max-body */
    int validate_responses;     /* 0 in production */
    int test_endpoints;         /* --test-slow-endpoint: enable the "test" API */
    void (*on_request)(void *app, const rt_ctx *ctx, int status);
} apis_env;

/* base NULL = off. Unknown api -> -1 with err listing the known ones. */
int apis_set_base(const char *api, const char *base, char *err, size_t errlen);

/* Registers every enabled API on u. -1 with err naming the API on failure. */
int apis_mount(struct _u_instance *u, const apis_env *env, char *err, size_t errlen);

/* An error the server itself answers (unknown route, a request the guard
   refuses) for a request under a mounted API: *body (new, NULL for a bare
   status) and *content_type in that API's own error shape. -1 when path
   belongs to no API. */
int apis_error_body(const char *path, const apis_env *env, int status, const char *code, const char *message,
                    json_t **body, const char **content_type);

/* Writes "heron=/heron feldera=off ..." (what apis_mount would serve). */
void apis_describe(const apis_env *env, char *buf, size_t len);

#endif
