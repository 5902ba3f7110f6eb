/* routes: ulfius's endpoint list cut by literal path prefix and method
   (routes.h). */
#include "routes.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The method classes a request is sorted into; ROUTES_OTHER (any method
   not named here) gets every endpoint, whatever its method. */
static const char *const routes_methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS" };
#define ROUTES_NAMED (sizeof routes_methods / sizeof routes_methods[0])
#define ROUTES_OTHER ROUTES_NAMED
#define ROUTES_CLASSES (ROUTES_NAMED + 1)

typedef struct routes_node {
    char *seg;                          /* the literal segment (NULL at the root) */
    size_t seg_len;
    struct routes_node **kids;
    size_t n_kids;
    /* shallow copies (endpoint_list ours), for the two ways a walk stops
       here: the path ends (end), or its next segment is no child's (miss) */
    struct _u_instance end[ROUTES_CLASSES], miss[ROUTES_CLASSES];
} routes_node;

struct routes {
    const struct _u_instance *whole;
    routes_node *root;
};

/* An endpoint's segments as ulfius 2.7 splits them (ulfius_split_url): the
   prefix's and the format's non-empty parts between '/', the format's parts
   that begin with '?' left out. NULL-terminated; NULL when out of memory. */
static char **routes_split(const char *prefix, const char *format)
{
    const char *parts[2] = { prefix ? prefix : "", format ? format : "" };
    size_t n = 0, cap = 8;
    char **segs = malloc(cap * sizeof *segs);

    if (segs == NULL) return NULL;
    for (int i = 0; i < 2; i++) {
        const char *p = parts[i];
        while (*p) {
            size_t len;
            p += strspn(p, "/");
            len = strcspn(p, "/");
            if (len == 0) break;
            if (!(i == 1 && p[0] == '?')) {
                if (n + 2 > cap) {
                    char **bigger = realloc(segs, (cap *= 2) * sizeof *segs);
                    if (bigger == NULL) goto oom;
                    segs = bigger;
                }
                if ((segs[n] = strndup(p, len)) == NULL) goto oom;
                n++;
            }
            p += len;
        }
    }
    segs[n] = NULL;
    return segs;
oom:
    segs[n] = NULL;
    for (size_t k = 0; k < n; k++) free(segs[k]);
    free(segs);
    return NULL;
}

static void routes_split_free(char **segs)
{
    if (segs == NULL) return;
    for (size_t k = 0; segs[k]; k++) free(segs[k]);
    free(segs);
}

/* 1 when segs[i] matches only itself: not a parameter (':' or '@') and not
   the '*' that, as the last segment, matches whatever follows. */
static int routes_literal(char **segs, size_t i)
{
    return !(segs[i][0] == ':' || segs[i][0] == '@' || (segs[i][0] == '*' && segs[i + 1] == NULL));
}

/* 0 when the endpoint whose segments are segs cannot match any path whose
   first depth segments are path[0 .. depth - 1] (ulfius_url_format_match's
   rules); 1 when it may. */
static int routes_may_match(char **segs, char *const *path, size_t depth)
{
    for (size_t i = 0; i < depth; i++) {
        if (segs[i] == NULL) return 0;                    /* the path is longer */
        if (segs[i][0] == '*' && segs[i + 1] == NULL) return 1;
        if (segs[i][0] == ':' || segs[i][0] == '@') continue;
        if (strcmp(segs[i], path[i]) != 0) return 0;
    }
    return 1;
}

/* Whether an endpoint (segs) that may match a path beginning with a node's
   depth segments may still match when that path ends there (ends), or goes
   on with a segment that is none of the node's children (else): a literal
   segment needs a path segment equal to it, and there are no more segments
   after the last. A "*" ending segs before depth matches anything. */
static int routes_may_stop(char **segs, size_t depth, const routes_node *node, int ends)
{
    size_t i;

    for (i = 0; i < depth; i++)
        if (segs[i] == NULL || (segs[i][0] == '*' && segs[i + 1] == NULL)) return 1;
    if (ends) return segs[depth] == NULL || !routes_literal(segs, depth);
    if (segs[depth] == NULL) return 0;
    if (!routes_literal(segs, depth)) return 1;
    for (size_t k = 0; k < node->n_kids; k++)
        if (strcmp(node->kids[k]->seg, segs[depth]) == 0) return 0;
    return 1;
}

static int routes_method_fits(const char *endpoint_method, size_t cls)
{
    if (cls == ROUTES_OTHER || endpoint_method[0] == '*') return 1;
    return strcasecmp(endpoint_method, routes_methods[cls]) == 0;
}

static routes_node *routes_child(const routes_node *n, const char *seg, size_t len)
{
    for (size_t k = 0; k < n->n_kids; k++)
        if (n->kids[k]->seg_len == len && memcmp(n->kids[k]->seg, seg, len) == 0) return n->kids[k];
    return NULL;
}

static routes_node *routes_add_child(routes_node *n, const char *seg)
{
    routes_node *kid = calloc(1, sizeof *kid), **kids;

    if (kid == NULL || (kid->seg = strdup(seg)) == NULL) {
        free(kid);
        return NULL;
    }
    kid->seg_len = strlen(seg);
    kids = realloc(n->kids, (n->n_kids + 1) * sizeof *kids);
    if (kids == NULL) {
        free(kid->seg);
        free(kid);
        return NULL;
    }
    n->kids = kids;
    n->kids[n->n_kids++] = kid;
    return kid;
}

/* Fills each set of node (whose path is path[0 .. depth - 1]) with the
   endpoints of whole that may match, with a method of its class, a path
   that begins so and stops there (routes_may_stop), in their order, and the
   empty endpoint ulfius stops at; then its children's. */
static int routes_fill(const struct _u_instance *whole, char ***segs, routes_node *node, char **path, size_t depth)
{
    for (size_t c = 0; c < 2 * ROUTES_CLASSES; c++) {
        int n = 0, ends = c < ROUTES_CLASSES;
        size_t cls = c % ROUTES_CLASSES;
        struct _u_instance *set = ends ? &node->end[cls] : &node->miss[cls];
        struct _u_endpoint *list = calloc((size_t)whole->nb_endpoints + 1, sizeof *list);
        if (list == NULL) return -1;
        for (int i = 0; i < whole->nb_endpoints; i++) {
            const struct _u_endpoint *e = &whole->endpoint_list[i];
            if (routes_method_fits(e->http_method, cls) && routes_may_match(segs[i], path, depth) &&
                routes_may_stop(segs[i], depth, node, ends))
                list[n++] = *e;
        }
        {   /* only as long as it is: one node per literal prefix, fourteen sets each */
            struct _u_endpoint *fit = realloc(list, ((size_t)n + 1) * sizeof *list);
            if (fit) list = fit;
        }
        *set = *whole;
        set->endpoint_list = list;
        set->nb_endpoints = n;
    }
    for (size_t k = 0; k < node->n_kids; k++) {
        path[depth] = node->kids[k]->seg;
        if (routes_fill(whole, segs, node->kids[k], path, depth + 1) != 0) return -1;
    }
    return 0;
}

static void routes_node_free(routes_node *n)
{
    if (n == NULL) return;
    for (size_t k = 0; k < n->n_kids; k++) routes_node_free(n->kids[k]);
    for (size_t c = 0; c < ROUTES_CLASSES; c++) {
        free(n->end[c].endpoint_list);
        free(n->miss[c].endpoint_list);
    }
    free(n->kids);
    free(n->seg);
    free(n);
}

int routes_build(const struct _u_instance *u, routes **out)
{
    routes *r = calloc(1, sizeof *r);
    char ***segs = calloc((size_t)u->nb_endpoints + 1, sizeof *segs);
    char **path = NULL;
    size_t deepest = 0;
    int rc = -1;

    *out = NULL;
    if (r == NULL || segs == NULL || (r->root = calloc(1, sizeof *r->root)) == NULL) goto cleanup;
    r->whole = u;
    /* a node for each literal prefix of any endpoint's segments */
    for (int i = 0; i < u->nb_endpoints; i++) {
        const struct _u_endpoint *e = &u->endpoint_list[i];
        routes_node *n = r->root;
        size_t d;
        if ((segs[i] = routes_split(e->url_prefix, e->url_format)) == NULL) goto cleanup;
        for (d = 0; segs[i][d] && routes_literal(segs[i], d); d++) {
            routes_node *kid = routes_child(n, segs[i][d], strlen(segs[i][d]));
            if (kid == NULL && (kid = routes_add_child(n, segs[i][d])) == NULL) goto cleanup;
            n = kid;
        }
        if (d > deepest) deepest = d;
    }
    if ((path = calloc(deepest + 1, sizeof *path)) == NULL) goto cleanup;
    if (routes_fill(u, segs, r->root, path, 0) != 0) goto cleanup;
    *out = r;
    r = NULL;
    rc = 0;
cleanup:
    for (int i = 0; segs && i < u->nb_endpoints; i++) routes_split_free(segs[i]);
    free(segs);
    free(path);
    routes_free(r);
    return rc;
}

static const struct _u_instance *routes_walk(const routes *r, size_t c, const char *url_path)
{
    const routes_node *n = r->root;

    for (const char *p = url_path;;) {
        const routes_node *kid;
        size_t len;
        p += strspn(p, "/");
        len = strcspn(p, "/");
        if (len == 0) return &n->end[c];
        if ((kid = routes_child(n, p, len)) == NULL) return &n->miss[c];
        n = kid;
        p += len;
    }
}

const struct _u_instance *routes_pick(const routes *r, const char *method, const char *url_path)
{
    size_t c;

    if (url_path == NULL || method == NULL) return r->whole;
    for (c = 0; c < ROUTES_NAMED; c++)
        if (strcasecmp(method, routes_methods[c]) == 0) break;
    return routes_walk(r, c, url_path);
}

const struct _u_instance *routes_pick_any(const routes *r, const char *url_path)
{
    return url_path == NULL ? r->whole : routes_walk(r, ROUTES_OTHER, url_path);
}

void routes_free(routes *r)
{
    if (r == NULL) return;
    routes_node_free(r->root);
    free(r);
}
