/* routes: ulfius's endpoint list cut by literal path prefix and method, so
 * that a request is matched only against the endpoints that can match it.
 *
 * ulfius 2.7 matches every request against every endpoint of its instance
 * whose method fits, and for each one splits the endpoint's prefix and
 * format into freshly allocated segments: with six mounted APIs, their
 * documents and their docs pages that was a third of the instructions of an
 * authenticated request (callgrind, bench-perf, bench-verify).
 *
 * routes_build() makes a tree of the literal leading segments of every
 * endpoint ("v1", "v1/auth", "heron/api/credentials", ...) and, at each
 * node, for each method class (GET, POST, PUT, PATCH, DELETE, OPTIONS, any
 * other), a shallow copy of the instance whose endpoint list holds only the
 * endpoints that may match a path beginning with the node's segments with
 * such a method: those whose segments agree with the node's (a parameter or
 * a last "*" agrees with anything) and whose method is the class's or "*".
 * Each node has two such copies per class: for a path that ends there, and
 * for one that goes on with a segment that is none of the node's children,
 * each without the endpoints that cannot match it (a literal segment where
 * the path ends or differs, an endpoint shorter than the path): a path
 * outside the tree meets the catch-alls only, not every endpoint (a flood
 * of 404s cost 3.6 times a served request before, callgrind).
 * routes_pick() walks the request's url_path down the tree as far as its
 * segments go and returns that node's copy for the method; ulfius's own
 * matching then runs, unchanged, over that list, so the endpoints that
 * match and their order are what the whole list gives (tests/server's
 * routes_test checks it against ulfius_endpoint_match over the whole list).
 *
 * The copies share everything with the instance (strings, callbacks, maps)
 * but their endpoint arrays: the instance must outlive them and must not
 * gain or lose endpoints after routes_build(). routes_free() frees the
 * copies only. */
#ifndef APIKEYD_ROUTES_H
#define APIKEYD_ROUTES_H
#include <ulfius.h>

typedef struct routes routes;

/* The most words (non-empty parts between '/') of a path routes_match
   matches; a longer one is left to ulfius. */
#define ROUTES_MAX_WORDS 64

/* A path parameter of an endpoint: the word of its format after ':' or
   '@', and the word of the path it takes (counted from 0, empty ones not
   counted), as ulfius_parse_url reads it. */
typedef struct routes_param {
    char *name;
    size_t word;
} routes_param;

/* An endpoint of the instance as routes_match finds it (routes' own,
   freed by routes_free). */
typedef struct routes_hit {
    const struct _u_endpoint *e;
    char **segs;                  /* its segments as ulfius matches them */
    routes_param *params;         /* by word */
    size_t n_params;
} routes_hit;

/* 0, or -1 when out of memory (*out NULL). */
int routes_build(const struct _u_instance *u, routes **out);
/* The instance to match a request with method and url_path against (never
   NULL; the whole instance when either is NULL). */
const struct _u_instance *routes_pick(const routes *r, const char *method, const char *url_path);
/* The endpoints of every method that may match url_path (the whole
   instance when it is NULL): what a 405's Allow is made from. */
const struct _u_instance *routes_pick_any(const routes *r, const char *url_path);
/* The endpoints that match a request with method and url_path, in the
 * order ulfius 2.7's dispatcher runs them: those ulfius_endpoint_match
 * finds over the whole list (the method without case, or "*"; the segments
 * by ulfius_url_format_match), by priority, ties in list order (glibc's
 * qsort is a merge sort: stable); ulfius's default endpoint alone when none
 * does. Up to max into hits; returns how many, or -1 when there are more,
 * the path has more than ROUTES_MAX_WORDS words, or either is NULL (the
 * caller then leaves the request to ulfius). No allocation. */
int routes_match(const routes *r, const char *method, const char *url_path, const routes_hit **hits, size_t max);
/* Puts h's path parameters in url_path into map as ulfius_parse_url does:
   each word URL-decoded by ulfius_url_decode's rules, a name already in map
   joined to it as "old,new". U_OK, or U_ERROR_MEMORY. */
int routes_params_put(const routes_hit *h, const char *url_path, struct _u_map *map);
void routes_free(routes *r);

#endif
