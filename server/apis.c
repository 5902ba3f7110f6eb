/* apis: which APIs apikeyd serves, and where.
 *
 * HOW TO MOUNT AN API. Each row of apis_table names an API, its default base
 * path (DESIGN.md's table) and a register function. For a generated API
 * <api> (generated/<api>/<api>_api.h) with its handlers (handlers/<api>.h),
 * add one wrapper and one row:
 *
 *     #include "heron_api.h"      (generated/heron/, on the include path)
 *     #include "heron.h"          (handlers/: heron_handlers_get, heron_error_shape)
 *
 *     static int apis_mount_heron(struct _u_instance *u, const char *base,
 *             rt_api_config *cfg)
 *     {
 *         cfg->error_shape = heron_error_shape;
 *         return heron_register(u, base, heron_handlers_get(), cfg);
 *     }
 *
 *     { "heron", "/heron", apis_mount_heron, 0 },
 *
 * apis_mount() fills cfg (authenticate, app, max_body, on_request,
 * validate_responses) before calling the wrapper; cfg lives in static
 * storage for the life of the process, one per row, shared by the plain
 * and the TLS instance. --mount heron=/v2/heron moves the row's base path,
 * --mount heron=off leaves it out. */
#include "apis.h"

#include <stdio.h>
#include <string.h>

#include "docs.h"
#include "testapi.h"
#ifdef APIKEYD_HAVE_KEYSVC
#include "app.h"
#include "heron_api.h"
#include "feldera_api.h"
#include "nebula_api.h"
#include "nebula_uuid_api.h"
#include "fastapi_api.h"
#include "apikeyd_api.h"
#endif

typedef int (*apis_register_fn)(struct _u_instance *u, const char *base, rt_api_config *cfg);

typedef struct apis_entry {
    const char *name;
    const char *default_base;
    apis_register_fn reg;
    int test_only;          /* only with --test-slow-endpoint */
} apis_entry;

static int apis_mount_test(struct _u_instance *u, const char *base, rt_api_config *cfg)
{
    if (testapi_register(u, base) != 0) return -1;
#ifdef APIKEYD_HAVE_KEYSVC
    if (cfg->app && app_register_test_clock(u, base, cfg->app) != 0) return -1;
#else
    (void)cfg;
#endif
    return 0;
}

#ifdef APIKEYD_HAVE_KEYSVC
static int apis_mount_heron(struct _u_instance *u, const char *base, rt_api_config *cfg)
{
    cfg->error_shape = heron_error_shape;
    return heron_register(u, base, heron_handlers_get(), cfg);
}

static int apis_mount_feldera(struct _u_instance *u, const char *base, rt_api_config *cfg)
{
    cfg->error_shape = feldera_error_shape;
    return feldera_register(u, base, feldera_handlers_get(), cfg);
}

static int apis_mount_nebula(struct _u_instance *u, const char *base, rt_api_config *cfg)
{
    cfg->error_shape = nebula_error_shape;
    return nebula_register(u, base, nebula_handlers_get(), cfg);
}

static int apis_mount_nebula_uuid(struct _u_instance *u, const char *base, rt_api_config *cfg)
{
    cfg->error_shape = nebula_error_shape;
    return nebula_uuid_register(u, base, nebula_uuid_handlers_get(), cfg);
}

static int apis_mount_fastapi(struct _u_instance *u, const char *base, rt_api_config *cfg)
{
    cfg->error_shape = NULL; /* problem details */
    return fastapi_register(u, base, fastapi_handlers_get(), cfg);
}

static int apis_mount_apikeyd(struct _u_instance *u, const char *base, rt_api_config *cfg)
{
    cfg->error_shape = NULL; /* problem details */
    return apikeyd_register(u, base, apikeyd_handlers_get(), cfg);
}
#endif

static const apis_entry apis_table[] = {
#ifdef APIKEYD_HAVE_KEYSVC
    { "heron", HERON_DEFAULT_BASE, apis_mount_heron, 0 },
    { "feldera", FELDERA_DEFAULT_BASE, apis_mount_feldera, 0 },
    { "nebula", NEBULA_DEFAULT_BASE, apis_mount_nebula, 0 },
    { "nebula_uuid", NEBULA_UUID_DEFAULT_BASE, apis_mount_nebula_uuid, 0 },
    { "fastapi", FASTAPI_DEFAULT_BASE, apis_mount_fastapi, 0 },
    { "apikeyd", APIKEYD_DEFAULT_BASE, apis_mount_apikeyd, 0 },
#endif
    { "test", "/__test", apis_mount_test, 1 },
};
#define APIS_N (sizeof apis_table / sizeof apis_table[0])

static struct {
    int set;                 /* --mount given */
    int off;
    char base[256];
} apis_bases[APIS_N];

static rt_api_config apis_configs[APIS_N];

int apis_set_base(const char *api, const char *base, char *err, size_t errlen)
{
    for (size_t i = 0; i < APIS_N; i++) {
        if (strcmp(apis_table[i].name, api) != 0) continue;
        if (base && strlen(base) >= sizeof apis_bases[i].base) {
            snprintf(err, errlen, "--mount %s=%s: base path too long", api, base);
            return -1;
        }
        apis_bases[i].set = 1;
        apis_bases[i].off = base == NULL;
        snprintf(apis_bases[i].base, sizeof apis_bases[i].base, "%s", base ? base : "");
        return 0;
    }
    {
        size_t o = 0;
        char known[512];
        known[0] = '\0';
        for (size_t i = 0; i < APIS_N; i++)
            o += (size_t)snprintf(known + o, o < sizeof known ? sizeof known - o : 0, "%s%s",
                                  i ? ", " : "", apis_table[i].name);
        snprintf(err, errlen, "--mount %s=...: unknown API \"%s\" (this build serves: %s)",
                 api, api, known);
    }
    return -1;
}

static const char *apis_base(size_t i)
{
    if (apis_bases[i].set) return apis_bases[i].off ? NULL : apis_bases[i].base;
    return apis_table[i].default_base;
}

static int apis_enabled(size_t i, const apis_env *env)
{
    return (!apis_table[i].test_only || env->test_endpoints) && apis_base(i) != NULL;
}

int apis_mount(struct _u_instance *u, const apis_env *env, char *err, size_t errlen)
{
    for (size_t i = 0; i < APIS_N; i++) {
        rt_api_config *cfg = &apis_configs[i];
        if (!apis_enabled(i, env)) continue;
        cfg->app = env->app;
        cfg->authenticate = env->authenticate;
        cfg->max_body = env->max_body;
        cfg->validate_responses = env->validate_responses;
        cfg->on_request = env->on_request;
        if (apis_table[i].reg(u, apis_base(i), cfg) != 0) {
            snprintf(err, errlen, "cannot mount API %s at %s", apis_table[i].name, apis_base(i));
            return -1;
        }
        /* <base>/docs: Swagger UI on the API's own document */
        if (!apis_table[i].test_only && docs_register(u, apis_base(i), apis_table[i].name) != 0) {
            snprintf(err, errlen, "cannot add the docs page of API %s at %s/docs", apis_table[i].name,
                     apis_base(i));
            return -1;
        }
    }
    return 0;
}

void apis_describe(const apis_env *env, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < APIS_N && o < len; i++) {
        if (apis_table[i].test_only && !env->test_endpoints) continue;
        o += (size_t)snprintf(buf + o, len - o, "%s%s=%s", o ? " " : "", apis_table[i].name,
                              apis_base(i) ? apis_base(i) : "off");
    }
}

/* The mounted API whose base path is path or a prefix of it ending at a '/'. */
static const rt_api_config *apis_owner(const char *path, const apis_env *env)
{
    size_t best = 0;
    const rt_api_config *cfg = NULL;

    for (size_t i = 0; path && i < APIS_N; i++) {
        const char *base = apis_base(i);
        size_t n = base ? strlen(base) : 0;
        if (!apis_enabled(i, env) || n == 0 || n <= best || strncmp(path, base, n) != 0) continue;
        if (path[n] != '\0' && path[n] != '/' && base[n - 1] != '/') continue;
        best = n;
        cfg = &apis_configs[i];
    }
    return cfg;
}

int apis_error_body(const char *path, const apis_env *env, int status, const char *code, const char *message,
                    json_t **body, const char **content_type)
{
    const rt_api_config *cfg = apis_owner(path, env);

    *body = NULL;
    *content_type = NULL;
    if (cfg == NULL) return -1;
    *body = (cfg->error_shape ? cfg->error_shape : rt_error_shape_problem)(status, code, message, NULL, content_type);
    return 0;
}
