/* routes: ulfius's endpoint list cut by the first path segment (routes.h). */
#include "routes.h"

#include <stdlib.h>
#include <string.h>

typedef struct routes_set {
    char *segment;                   /* NULL: the set for every other path */
    struct _u_instance u;            /* shallow copy; endpoint_list ours */
} routes_set;

struct routes {
    const struct _u_instance *whole;
    routes_set *sets;
    size_t n;                        /* sets[n - 1] is the set for other paths */
};

/* The first segment of prefix then format, as ulfius splits them (on '/',
   empty segments skipped): *len 0 when there is none. */
static const char *routes_first(const char *prefix, const char *format, size_t *len)
{
    const char *parts[2] = { prefix ? prefix : "", format ? format : "" };

    for (int i = 0; i < 2; i++) {
        const char *p = parts[i] + strspn(parts[i], "/");
        if (*p) {
            *len = strcspn(p, "/");
            return p;
        }
    }
    *len = 0;
    return "";
}

/* 1 when the endpoint may match a path whatever its first segment. */
static int routes_any(const struct _u_endpoint *e)
{
    size_t n;
    const char *s = routes_first(e->url_prefix, e->url_format, &n);
    return n == 0 || s[0] == ':' || s[0] == '@' || s[0] == '*';
}

/* Fills set with the endpoints of whole that begin with seg (NULL: none
   but those that may match any path), in their order, and the empty
   endpoint ulfius stops at. */
static int routes_fill(const struct _u_instance *whole, const char *seg, routes_set *set)
{
    int n = 0;
    struct _u_endpoint *list = calloc((size_t)whole->nb_endpoints + 1, sizeof *list);

    if (list == NULL) return -1;
    for (int i = 0; i < whole->nb_endpoints; i++) {
        const struct _u_endpoint *e = &whole->endpoint_list[i];
        size_t len;
        const char *s = routes_first(e->url_prefix, e->url_format, &len);
        if (routes_any(e) || (seg != NULL && strlen(seg) == len && strncmp(s, seg, len) == 0))
            list[n++] = *e;
    }
    set->u = *whole;
    set->u.endpoint_list = list;
    set->u.nb_endpoints = n;
    return 0;
}

int routes_build(const struct _u_instance *u, routes **out)
{
    routes *r = calloc(1, sizeof *r);
    int rc = -1;

    *out = NULL;
    if (r == NULL) goto cleanup;
    r->whole = u;
    /* at most one set per endpoint, plus the one for other paths */
    r->sets = calloc((size_t)u->nb_endpoints + 1, sizeof *r->sets);
    if (r->sets == NULL) goto cleanup;
    for (int i = 0; i < u->nb_endpoints; i++) {
        const struct _u_endpoint *e = &u->endpoint_list[i];
        size_t len, k;
        const char *s;
        if (routes_any(e)) continue;
        s = routes_first(e->url_prefix, e->url_format, &len);
        for (k = 0; k < r->n; k++)
            if (strlen(r->sets[k].segment) == len && strncmp(r->sets[k].segment, s, len) == 0) break;
        if (k < r->n) continue;
        if ((r->sets[r->n].segment = strndup(s, len)) == NULL) goto cleanup;
        if (routes_fill(u, r->sets[r->n].segment, &r->sets[r->n]) != 0) {
            free(r->sets[r->n].segment);
            goto cleanup;
        }
        r->n++;
    }
    if (routes_fill(u, NULL, &r->sets[r->n]) != 0) goto cleanup;
    r->n++;
    *out = r;
    r = NULL;
    rc = 0;
cleanup:
    routes_free(r);
    return rc;
}

const struct _u_instance *routes_pick(const routes *r, const char *url_path)
{
    const char *p;
    size_t len;

    if (url_path == NULL) return r->whole;
    p = url_path + strspn(url_path, "/");
    len = strcspn(p, "/");
    for (size_t k = 0; k + 1 < r->n; k++)
        if (strncmp(r->sets[k].segment, p, len) == 0 && r->sets[k].segment[len] == '\0')
            return &r->sets[k].u;
    return &r->sets[r->n - 1].u;
}

void routes_free(routes *r)
{
    if (r == NULL) return;
    for (size_t k = 0; k < r->n; k++) {
        free(r->sets[k].segment);
        free(r->sets[k].u.endpoint_list);
    }
    free(r->sets);
    free(r);
}
