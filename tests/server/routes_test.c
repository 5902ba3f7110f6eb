/* routes_test: server/routes.c's cut lists give, for every request, the
 * endpoints ulfius's own matching gives over the whole list, in the same
 * order. A differential test: ulfius_endpoint_match (exported by
 * libulfius 2.7, not declared in its header) over the instance, and over
 * routes_pick()'s copy, for many methods and paths made from the endpoints'
 * own formats, mutated (a segment changed, dropped or added, slashes doubled,
 * a trailing slash, a query). */
#include "routes.h"
#include "rt_guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _u_endpoint **ulfius_endpoint_match(const char *method, const char *url, struct _u_endpoint *endpoint_list);
int ulfius_parse_url(const char *url, const struct _u_endpoint *endpoint, struct _u_map *map, int check_utf8);

static int cb(const struct _u_request *req, struct _u_response *res, void *data)
{
    (void)req; (void)res; (void)data;
    return U_CALLBACK_CONTINUE;
}

static int cb2(const struct _u_request *req, struct _u_response *res, void *data)
{
    (void)req; (void)res; (void)data;
    return U_CALLBACK_COMPLETE;
}

/* method, prefix, format, priority: shaped like what apikeyd mounts (six
   APIs, their documents and docs pages, the guard's catch-alls, the test
   API) and the corners of ulfius's matching rules */
static const struct { const char *method, *prefix, *format; unsigned prio; } eps[] = {
    { "*", NULL, "*", 0 },
    { "*", NULL, "*", 4294967295u },
    { "GET", NULL, "/healthz", 1 },
    { "GET", NULL, "/readyz", 1 },
    { "GET", NULL, "/metrics", 1 },
    { "GET", "/heron", "/api/credentials/keys", 1 },
    { "POST", "/heron", "/api/credentials/keys", 1 },
    { "DELETE", "/heron", "/api/credentials/keys/:key_id", 1 },
    { "PATCH", "/heron", "/api/credentials/keys/:key_id/activate", 1 },
    { "GET", "/heron", "/openapi.json", 0 },
    { "GET", "/heron", "/docs", 0 },
    { "GET", "/heron", "/docs/swagger-ui.css", 0 },
    { "GET", "/heron", "/docs/swagger-ui-bundle.js", 0 },
    { "GET", "/v1", "/keys", 1 },
    { "POST", "/v1", "/keys", 1 },
    { "GET", "/v1", "/keys/:key_id", 1 },
    { "PATCH", "/v1", "/keys/:key_id", 1 },
    { "DELETE", "/v1", "/keys/:key_id", 1 },
    { "POST", "/v1", "/keys/:key_id/rotate", 1 },
    { "POST", "/v1", "/verify", 1 },
    { "GET", "/v1", "/auth", 1 },
    { "GET", "/v1", "/openapi.yaml", 0 },
    { "GET", "/v1", "/docs", 0 },
    { "GET", "/nebulablock/api/v1", "/keys", 1 },
    { "POST", "/nebulablock/api/v1", "/keys/:id/reset", 2 },
    { "GET", "/nebulablock-uuid/api/v1", "/keys/@id", 1 },
    { "PUT", "/fastapi/api", "/keys/:key_id/scopes", 1 },
    { "post", "/fastapi/api", "/keys", 1 },             /* ulfius compares methods without case */
    { "GET", "/__test", "/slow", 1 },
    { "POST", "/__test", "/echo", 1 },
    { "GET", "/a/*", "/b", 1 },                          /* '*' not last: a literal "*" */
    { "GET", "/a", "/*", 3 },                            /* '*' last: anything after /a */
    { "GET", "/a/:x", "/c/*", 2 },
    { "OPTIONS", "", "/:any/:thing", 5 },
    { "GET", "/", "/", 1 },                              /* the root only */
    { "GET", "//double", "//slash/", 1 },
    { "GET", "/q", "/list/?ignored", 1 },                /* a format part after '?' is left out */
    { "GET", "/x", "/@p/y", 1 },                         /* parameters under a literal prefix */
    { "GET", "/x", "/:q/w", 1 },                         /* that other endpoints go deeper in */
    { "GET", "/x", "/lit/z", 1 },
    { "HEAD", "/v1", "/auth", 1 },
    { "FOO", "/v1", "/keys", 1 },
    { "*", "/v1", "/keys/:key_id", 9 },
    { "GET", "/p", "/:x/:x", 1 },                        /* a name twice: "first,second" */
    { "GET", "/p/:a", "/q/:b", 1 },                      /* a parameter in the prefix: not one */
    { "GET", "/r", "/:x", 1 },                           /* "x": also the query's */
    { "GET", "/r", "/:x", 1 },                           /* the same again: list order */
    { "GET", "/s", "//:y//?z/:w", 1 },                   /* a '?' word counts for the parameters' places */
};
#define N_EPS (sizeof eps / sizeof eps[0])

static const char *methods[] = { "GET", "get", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "FOO", "Post" };

static int failures, checks;

static void free_matches(struct _u_endpoint **m)
{
    for (size_t i = 0; m && m[i]; i++) {
        ulfius_clean_endpoint(m[i]);
        free(m[i]);
    }
    free(m);
}

static void compare(const struct _u_instance *whole, const routes *r, const char *method, const char *path)
{
    const struct _u_instance *cut = routes_pick(r, method, path);
    struct _u_endpoint **a = ulfius_endpoint_match(method, path, whole->endpoint_list);
    struct _u_endpoint **b = ulfius_endpoint_match(method, path, cut->endpoint_list);
    size_t i;

    checks++;
    for (i = 0; a[i] && b[i]; i++)
        if (strcmp(a[i]->http_method, b[i]->http_method) != 0 || a[i]->priority != b[i]->priority ||
            strcmp(a[i]->url_prefix ? a[i]->url_prefix : "", b[i]->url_prefix ? b[i]->url_prefix : "") != 0 ||
            strcmp(a[i]->url_format ? a[i]->url_format : "", b[i]->url_format ? b[i]->url_format : "") != 0)
            break;
    if (a[i] || b[i]) {
        if (failures++ < 20)
            fprintf(stderr, "FAIL  %s %s: whole list and cut list differ at match %zu (%s%s vs %s%s); the cut has %d of %d endpoints\n",
                    method, path, i, a[i] ? a[i]->url_prefix : "-", a[i] ? a[i]->url_format : "",
                    b[i] ? b[i]->url_prefix : "-", b[i] ? b[i]->url_format : "", cut->nb_endpoints,
                    whole->nb_endpoints);
    }
    /* routes_match: the same endpoints (the very ones of the instance) in
       the same order, ulfius's default endpoint when none matches; and
       each one's path parameters as ulfius_parse_url puts them */
    {
        const routes_hit *hits[64];
        int n = routes_match(r, method, path, hits, 64), k;
        checks++;
        for (k = 0; k < n && a[k]; k++)
            if (hits[k]->e->callback_function != a[k]->callback_function || hits[k]->e->user_data != a[k]->user_data)
                break;
        if (a[0] == NULL && n == 1 && hits[0]->e == whole->default_endpoint) k = n = 0;
        if (n < 0 || k != n || a[k] != NULL) {
            if (failures++ < 20)
                fprintf(stderr, "FAIL  %s %s: routes_match gives %d endpoints, differing from ulfius's at %d\n", method,
                        path, n, k);
        }
        for (k = 0; k < n; k++) {
            struct _u_map ours, theirs;
            u_map_init(&ours);
            u_map_init(&theirs);
            u_map_put(&ours, "x", "query");         /* a query parameter of the same name as a path one */
            u_map_put(&theirs, "x", "query");
            checks++;
            if (routes_params_put(hits[k], path, &ours) != U_OK ||
                ulfius_parse_url(path, hits[k]->e, &theirs, 0) != U_OK || ours.nb_values != theirs.nb_values) {
                if (failures++ < 20)
                    fprintf(stderr, "FAIL  %s %s: endpoint %s%s's parameters: %d, ulfius %d\n", method, path,
                            hits[k]->e->url_prefix ? hits[k]->e->url_prefix : "", hits[k]->e->url_format,
                            ours.nb_values, theirs.nb_values);
            } else {
                for (int j = 0; j < theirs.nb_values; j++) {
                    const char *v = u_map_get(&ours, theirs.keys[j]);
                    if (v == NULL || strcmp(v, theirs.values[j]) != 0) {
                        if (failures++ < 20)
                            fprintf(stderr, "FAIL  %s %s: parameter %s of %s%s is \"%s\", ulfius \"%s\"\n", method,
                                    path, theirs.keys[j], hits[k]->e->url_prefix ? hits[k]->e->url_prefix : "",
                                    hits[k]->e->url_format, v ? v : "(none)", theirs.values[j]);
                        break;
                    }
                }
            }
            u_map_clean(&ours);
            u_map_clean(&theirs);
        }
    }
    free_matches(a);
    free_matches(b);
}

/* the path of an endpoint with its parameters filled in */
static void concrete(char *out, size_t cap, const char *prefix, const char *format)
{
    char tmp[512];
    size_t o = 0;
    snprintf(tmp, sizeof tmp, "%s/%s", prefix ? prefix : "", format ? format : "");
    for (char *p = tmp; *p && o + 8 < cap; p++) {
        if ((*p == ':' || *p == '@') && (p == tmp || p[-1] == '/')) {
            o += (size_t)snprintf(out + o, cap - o, "val");
            while (p[1] && p[1] != '/') p++;
        } else
            out[o++] = *p;
    }
    out[o] = '\0';
}

int main(void)
{
    struct _u_instance u;
    routes *r = NULL;
    static char paths[N_EPS * 16][600];
    size_t np = 0;
    const char *extra[] = { "", "/", "//", "/v1", "/v1/", "/v1/auth", "/v1//auth", "/v1/auth/x", "/v2/auth",
                            "/V1/auth", "/heron", "/heron/api", "/a", "/a/*", "/a/*/b", "/a/x/b", "/a/x/c", "/a/x/c/d/e",
                            "/nothing/at/all", "/healthz/", "/healthz/x", "/?x", "/q/list", "/q/list/?ignored",
                            "/double/slash", "/keys", "/x/lit/y", "/x/lit/w", "/x/lit/z", "/x/lit", "/fastapi/api/keys", "/v1/keys/abc/rotate/more",
                            "/v1/nothing", "/x/nothing/w", "/x/nothing/y", "/x/nothing", "/nothing/at", "/a/nothing",
                            "/heron/nothing/credentials/keys", "/__test/nothing", "/fastapi/api/keys/k/scopes/x",
                            "/p/a%20b/c+d", "/p/%41%4a%6b/%", "/p/%4/x%", "/p/%%41/%2F", "/r/%E2%82%AC", "/r//x//",
                            "/s/1/2/3", "/s/1/2", "/p/a/q/b", "/v1/keys/%00x" };

    if (ulfius_init_instance(&u, 8080, NULL, NULL) != U_OK) {
        fprintf(stderr, "routes_test: ulfius_init_instance failed\n");
        return 1;
    }
    for (size_t i = 0; i < N_EPS; i++)
        /* each its own user data, for routes_match's hits to be told apart */
        if (ulfius_add_endpoint_by_val(&u, eps[i].method, eps[i].prefix, eps[i].format, eps[i].prio, cb,
                                       (void *)(eps + i)) != U_OK) {
            fprintf(stderr, "routes_test: ulfius_add_endpoint_by_val %s %s%s failed\n", eps[i].method,
                    eps[i].prefix ? eps[i].prefix : "", eps[i].format);
            return 1;
        }
    if (ulfius_set_default_endpoint(&u, cb2, NULL) != U_OK) {
        fprintf(stderr, "routes_test: ulfius_set_default_endpoint failed\n");
        return 1;
    }
    if (routes_build(&u, &r) != 0) {
        fprintf(stderr, "routes_test: routes_build failed\n");
        return 1;
    }
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) snprintf(paths[np++], sizeof paths[0], "%s", extra[i]);
    for (size_t i = 0; i < N_EPS; i++) {
        char base[512];
        size_t len;
        concrete(base, sizeof base, eps[i].prefix, eps[i].format);
        len = strlen(base);
        snprintf(paths[np++], sizeof paths[0], "%s", base);                 /* as it is */
        snprintf(paths[np++], sizeof paths[0], "%s/", base);                /* a trailing slash */
        snprintf(paths[np++], sizeof paths[0], "%s/more", base);            /* one segment more */
        snprintf(paths[np++], sizeof paths[0], "/%s", base);                /* doubled leading slash */
        snprintf(paths[np++], sizeof paths[0], "%sX", base);                /* the last segment changed */
        for (size_t k = len; k > 0; k--)                                     /* the last segment dropped */
            if (base[k - 1] == '/' && k - 1 > 0) {
                snprintf(paths[np++], sizeof paths[0], "%.*s", (int)(k - 1), base);
                break;
            }
        {
            char *first = strchr(base + 1, '/');                             /* the first segment changed */
            if (first) snprintf(paths[np++], sizeof paths[0], "/zz%s", first);
        }
        {
            char dup[600]; size_t o = 0;                                     /* every slash doubled */
            for (size_t k = 0; base[k] && o + 3 < sizeof dup; k++) {
                dup[o++] = base[k];
                if (base[k] == '/') dup[o++] = '/';
            }
            dup[o] = '\0';
            snprintf(paths[np++], sizeof paths[0], "%s", dup);
        }
    }
    for (size_t p = 0; p < np; p++)
        for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) compare(&u, r, methods[m], paths[p]);
    /* a 405's Allow from routes_pick_any's cut is the whole list's */
    for (size_t p = 0; p < np; p++) {
        char whole[512], cut[512];
        const char *path = paths[p][0] ? paths[p] : "/";
        checks++;
        rt_guard_allowed(&u, path, whole, sizeof whole);
        rt_guard_allowed(routes_pick_any(r, path), path, cut, sizeof cut);
        if (strcmp(whole, cut) != 0 && failures++ < 20)
            fprintf(stderr, "FAIL  Allow of %s: \"%s\" over the whole list, \"%s\" over routes_pick_any's\n", path, whole,
                    cut);
    }
    if (routes_pick_any(r, "/nothing/at/all")->nb_endpoints != 3) {
        fprintf(stderr, "FAIL  routes_pick_any of /nothing/at/all has %d endpoints, not 3 (the two catch-alls and "
                "OPTIONS /:any/:thing)\n", routes_pick_any(r, "/nothing/at/all")->nb_endpoints);
        failures++;
    }
    /* a NULL path or method: the whole instance */
    if (routes_pick(r, NULL, "/v1") != &u || routes_pick(r, "GET", NULL) != &u) {
        fprintf(stderr, "FAIL  routes_pick with a NULL method or path is not the whole instance\n");
        failures++;
    }
    /* and the cut does cut: GET /v1/auth is matched against the guard's two
       catch-alls and itself, not every endpoint */
    {
        const struct _u_instance *cut = routes_pick(r, "GET", "/v1/auth");
        if (cut->nb_endpoints != 3) {
            fprintf(stderr, "FAIL  GET /v1/auth's list has %d endpoints, not 3 (the two catch-alls and itself)\n",
                    cut->nb_endpoints);
            failures++;
        }
    }
    /* a path that leaves the tree (an unknown first segment: what a scan or
       a flood of 404s sends) meets only the endpoints that can take an
       unknown segment there: the two catch-alls, not the whole list */
    {
        static const struct { const char *method, *path; int n; } cuts[] = {
            { "GET", "/nothing/at/all", 2 },      /* the two catch-alls */
            { "GET", "/", 3 },                    /* and GET / */
            { "OPTIONS", "/nothing/at", 3 },      /* and OPTIONS /:any/:thing */
            { "GET", "/v1/nothing", 2 },          /* /v1's endpoints are all literal there */
            { "GET", "/x/nothing/w", 4 },         /* and /x/@p/y, /x/:q/w */
        };
        for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
            const struct _u_instance *cut = routes_pick(r, cuts[i].method, cuts[i].path);
            if (cut->nb_endpoints != cuts[i].n) {
                fprintf(stderr, "FAIL  %s %s's list has %d endpoints, not %d\n", cuts[i].method, cuts[i].path,
                        cut->nb_endpoints, cuts[i].n);
                failures++;
            }
        }
    }
    /* what routes_match leaves to ulfius: a path of more than
       ROUTES_MAX_WORDS words, more matches than the caller has room for */
    {
        char deep[4 * (ROUTES_MAX_WORDS + 2)];
        const routes_hit *hits[4];
        size_t o = 0;
        for (int i = 0; i <= ROUTES_MAX_WORDS; i++) o += (size_t)snprintf(deep + o, sizeof deep - o, "/a");
        if (routes_match(r, "GET", deep, hits, 4) != -1) {
            fprintf(stderr, "FAIL  routes_match of a path of %d words is not -1\n", ROUTES_MAX_WORDS + 1);
            failures++;
        }
        deep[2 * ROUTES_MAX_WORDS] = '\0';   /* ROUTES_MAX_WORDS words: matched (the catch-alls, /a/'*') */
        if (routes_match(r, "GET", deep, hits, 4) != 3 || routes_match(r, "GET", deep, hits, 2) != -1) {
            fprintf(stderr, "FAIL  routes_match of a path of %d words: not its 3 matches, or not -1 with room for 2\n",
                    ROUTES_MAX_WORDS);
            failures++;
        }
        if (routes_match(r, NULL, "/v1", hits, 4) != -1 || routes_match(r, "GET", NULL, hits, 4) != -1) {
            fprintf(stderr, "FAIL  routes_match with a NULL method or path is not -1\n");
            failures++;
        }
        checks += 3;
    }
    routes_free(r);
    ulfius_clean_instance(&u);
    printf("routes_test: %d requests compared, %d failed\n", checks, failures);
    return failures != 0;
}
