/* routes: ulfius's endpoint list cut by literal path prefix and method
   (routes.h). */
#include "routes.h"

#include <ctype.h>
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
    /* the same endpoints as routes_match tries them: by priority, ties in
       list order (what ulfius's sort of its matches gives) */
    const routes_hit **end_hits[ROUTES_CLASSES], **miss_hits[ROUTES_CLASSES];
} routes_node;

struct routes {
    const struct _u_instance *whole;
    routes_node *root;
    routes_hit *hits;                   /* one per endpoint of whole, in its order */
    char ***segs;                       /* each one's segments (routes_split) */
    size_t n_hits;
    routes_hit dflt;                    /* whole's default endpoint, or e NULL */
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
   empty endpoint ulfius stops at, and its hits with the same endpoints by
   priority; then its children's. */
static int routes_fill(const routes *r, routes_node *node, char **path, size_t depth)
{
    const struct _u_instance *whole = r->whole;

    for (size_t c = 0; c < 2 * ROUTES_CLASSES; c++) {
        int n = 0, ends = c < ROUTES_CLASSES;
        size_t cls = c % ROUTES_CLASSES;
        struct _u_instance *set = ends ? &node->end[cls] : &node->miss[cls];
        const routes_hit ***hits = ends ? &node->end_hits[cls] : &node->miss_hits[cls];
        struct _u_endpoint *list = calloc((size_t)whole->nb_endpoints + 1, sizeof *list);
        if (list == NULL || (*hits = calloc((size_t)whole->nb_endpoints + 1, sizeof **hits)) == NULL) {
            free(list);
            return -1;
        }
        for (int i = 0; i < whole->nb_endpoints; i++) {
            const struct _u_endpoint *e = &whole->endpoint_list[i];
            if (routes_method_fits(e->http_method, cls) && routes_may_match(r->segs[i], path, depth) &&
                routes_may_stop(r->segs[i], depth, node, ends)) {
                /* insertion by priority, after those of the same: a stable sort */
                int k = n;
                while (k > 0 && (*hits)[k - 1]->e->priority > e->priority) {
                    (*hits)[k] = (*hits)[k - 1];
                    k--;
                }
                (*hits)[k] = &r->hits[i];
                list[n++] = *e;
            }
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
        if (routes_fill(r, node->kids[k], path, depth + 1) != 0) return -1;
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
        free(n->end_hits[c]);
        free(n->miss_hits[c]);
    }
    free(n->kids);
    free(n->seg);
    free(n);
}

/* hit's path parameters: the words of its format that begin with ':' or
   '@', each at the path word after the prefix's words and the format's
   before it (ulfius_parse_url splits both with strtok_r on '/', so empty
   words do not count, and the format's words after '?' do). 0 or -1. */
static int routes_hit_params(routes_hit *h)
{
    const char *parts[2] = { h->e->url_prefix ? h->e->url_prefix : "", h->e->url_format ? h->e->url_format : "" };
    size_t word = 0;

    for (int i = 0; i < 2; i++) {
        for (const char *p = parts[i];;) {
            size_t len;
            p += strspn(p, "/");
            if ((len = strcspn(p, "/")) == 0) break;
            if (i == 1 && (p[0] == ':' || p[0] == '@')) {
                routes_param *more = realloc(h->params, (h->n_params + 1) * sizeof *more);
                if (more == NULL) return -1;
                h->params = more;
                if ((more[h->n_params].name = strndup(p + 1, len - 1)) == NULL) return -1;
                more[h->n_params++].word = word;
            }
            word++;
            p += len;
        }
    }
    return 0;
}

int routes_build(const struct _u_instance *u, routes **out)
{
    routes *r = calloc(1, sizeof *r);
    char **path = NULL;
    size_t deepest = 0;
    int rc = -1;

    *out = NULL;
    if (r == NULL || (r->segs = calloc((size_t)u->nb_endpoints + 1, sizeof *r->segs)) == NULL ||
        (r->hits = calloc((size_t)u->nb_endpoints + 1, sizeof *r->hits)) == NULL ||
        (r->root = calloc(1, sizeof *r->root)) == NULL)
        goto cleanup;
    r->whole = u;
    r->n_hits = (size_t)u->nb_endpoints;
    /* a node for each literal prefix of any endpoint's segments */
    for (int i = 0; i < u->nb_endpoints; i++) {
        const struct _u_endpoint *e = &u->endpoint_list[i];
        routes_node *n = r->root;
        size_t d;
        char **segs = r->segs[i] = routes_split(e->url_prefix, e->url_format);
        if (segs == NULL) goto cleanup;
        r->hits[i].e = e;
        r->hits[i].segs = segs;
        if (routes_hit_params(&r->hits[i]) != 0) goto cleanup;
        for (d = 0; segs[d] && routes_literal(segs, d); d++) {
            routes_node *kid = routes_child(n, segs[d], strlen(segs[d]));
            if (kid == NULL && (kid = routes_add_child(n, segs[d])) == NULL) goto cleanup;
            n = kid;
        }
        if (d > deepest) deepest = d;
    }
    if (u->default_endpoint != NULL && u->default_endpoint->callback_function != NULL) {
        r->dflt.e = u->default_endpoint;       /* no prefix or format: no parameters */
        r->dflt.segs = NULL;
    }
    if ((path = calloc(deepest + 1, sizeof *path)) == NULL) goto cleanup;
    if (routes_fill(r, r->root, path, 0) != 0) goto cleanup;
    *out = r;
    r = NULL;
    rc = 0;
cleanup:
    free(path);
    routes_free(r);
    return rc;
}

/* The node a walk of url_path stops at, and whether the path ends there. */
static const routes_node *routes_node_of(const routes *r, const char *url_path, int *ends)
{
    const routes_node *n = r->root;

    for (const char *p = url_path;;) {
        const routes_node *kid;
        size_t len;
        p += strspn(p, "/");
        len = strcspn(p, "/");
        if (len == 0) {
            *ends = 1;
            return n;
        }
        if ((kid = routes_child(n, p, len)) == NULL) {
            *ends = 0;
            return n;
        }
        n = kid;
        p += len;
    }
}

static size_t routes_class(const char *method)
{
    size_t c;

    for (c = 0; c < ROUTES_NAMED; c++)
        if (strcasecmp(method, routes_methods[c]) == 0) break;
    return c;
}

static const struct _u_instance *routes_walk(const routes *r, size_t c, const char *url_path)
{
    int ends;
    const routes_node *n = routes_node_of(r, url_path, &ends);

    return ends ? &n->end[c] : &n->miss[c];
}

const struct _u_instance *routes_pick(const routes *r, const char *method, const char *url_path)
{
    if (url_path == NULL || method == NULL) return r->whole;
    return routes_walk(r, routes_class(method), url_path);
}

const struct _u_instance *routes_pick_any(const routes *r, const char *url_path)
{
    return url_path == NULL ? r->whole : routes_walk(r, ROUTES_OTHER, url_path);
}

int routes_match(const routes *r, const char *method, const char *url_path, const routes_hit **hits, size_t max)
{
    const char *word[ROUTES_MAX_WORDS + 1];
    size_t word_len[ROUTES_MAX_WORDS + 1], n_words = 0, c, n = 0;
    const routes_node *node;
    const routes_hit *const *set;
    int ends;

    if (method == NULL || url_path == NULL) return -1;
    /* the path's words, as ulfius_split_url gives them */
    for (const char *p = url_path;;) {
        size_t len;
        p += strspn(p, "/");
        if ((len = strcspn(p, "/")) == 0) break;
        if (n_words == ROUTES_MAX_WORDS) return -1;
        word[n_words] = p;
        word_len[n_words++] = len;
        p += len;
    }
    c = routes_class(method);
    node = routes_node_of(r, url_path, &ends);
    set = ends ? node->end_hits[c] : node->miss_hits[c];
    for (size_t i = 0; set[i] != NULL; i++) {
        const routes_hit *h = set[i];
        char **segs = h->segs;
        size_t k;
        /* ulfius_endpoint_match: the method without case, or "*" */
        if (h->e->http_method[0] != '*' && strcasecmp(h->e->http_method, method) != 0) continue;
        /* ulfius_url_format_match */
        for (k = 0; segs[k] != NULL; k++) {
            if (segs[k][0] == '*' && segs[k + 1] == NULL) break;
            if (k == n_words) break;
            if (segs[k][0] != '@' && segs[k][0] != ':' &&
                (strncmp(segs[k], word[k], word_len[k]) != 0 || segs[k][word_len[k]] != '\0'))
                break;
        }
        if (segs[k] != NULL ? !(segs[k][0] == '*' && segs[k + 1] == NULL) : k != n_words) continue;
        if (n == max) return -1;
        hits[n++] = h;
    }
    if (n == 0 && r->dflt.e != NULL) {
        if (max == 0) return -1;
        hits[n++] = &r->dflt;   /* ulfius's default endpoint, when nothing matched */
    }
    return (int)n;
}

/* ulfius_url_decode's rules: "%XY" is the byte XY (its digits read without
   a check), "+" is a space, a '%' with fewer than two characters after it
   is dropped; into out (len + 1 bytes). */
static void routes_decode(const char *in, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '%') {
            if (i + 2 < len) {
                char hi = in[i + 1], lo = in[i + 2];
                hi = (char)(isdigit((unsigned char)hi) ? hi - '0' : tolower((unsigned char)hi) - 'a' + 10);
                lo = (char)(isdigit((unsigned char)lo) ? lo - '0' : tolower((unsigned char)lo) - 'a' + 10);
                *out++ = (char)(hi << 4 | lo);
                i += 2;
            }
        } else {
            *out++ = in[i] == '+' ? ' ' : in[i];
        }
    }
    *out = '\0';
}

int routes_params_put(const routes_hit *h, const char *url_path, struct _u_map *map)
{
    size_t w = 0, k = 0;

    if (h->n_params == 0 || url_path == NULL) return U_OK;
    for (const char *p = url_path; k < h->n_params;) {
        size_t len;
        p += strspn(p, "/");
        if ((len = strcspn(p, "/")) == 0) break;
        for (; k < h->n_params && h->params[k].word == w; k++) {
            char small[256], *v = len < sizeof small ? small : malloc(len + 1);
            const char *name = h->params[k].name, *had;
            int rc;
            if (v == NULL) return U_ERROR_MEMORY;
            routes_decode(p, len, v);
            if ((had = u_map_get(map, name)) != NULL) {
                /* a name given twice: "first,second", as ulfius joins them */
                size_t hl = strlen(had), vl = strlen(v);
                char *both = malloc(hl + vl + 2);
                if (both != NULL) {
                    memcpy(both, had, hl);
                    both[hl] = ',';
                    memcpy(both + hl + 1, v, vl + 1);
                }
                rc = both != NULL ? u_map_put(map, name, both) : U_ERROR_MEMORY;
                free(both);
            } else {
                rc = u_map_put(map, name, v);
            }
            if (v != small) free(v);
            if (rc != U_OK) return rc;
        }
        w++;
        p += len;
    }
    return U_OK;
}

void routes_free(routes *r)
{
    if (r == NULL) return;
    routes_node_free(r->root);
    for (size_t i = 0; r->hits && i < r->n_hits; i++) {
        for (size_t k = 0; k < r->hits[i].n_params; k++) free(r->hits[i].params[k].name);
        free(r->hits[i].params);
    }
    for (size_t i = 0; r->segs && i < r->n_hits; i++) routes_split_free(r->segs[i]);
    free(r->hits);
    free(r->segs);
    free(r);
}
