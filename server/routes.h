/* routes: ulfius's endpoint list cut by the first path segment, so that a
 * request is matched only against the endpoints that can match it.
 *
 * ulfius 2.7 matches every request against every endpoint of its instance
 * whose method fits, and for each one splits the endpoint's prefix and
 * format into freshly allocated segments: with five mounted APIs that was a
 * third of the instructions of an authenticated request (callgrind,
 * bench-perf). routes_build() makes, for each literal first segment of any
 * endpoint ("heron", "healthz", ...), a shallow copy of the instance whose
 * endpoint list holds only the endpoints that begin with that segment plus
 * every endpoint that can match any path (a first segment that is a
 * parameter, "*", or none); and one copy with only the latter for every
 * other path. routes_pick() returns the copy for a request's url_path;
 * ulfius's own matching then runs, unchanged, over that list, so the
 * endpoints that match and their order are what the whole list gives.
 *
 * The copies share everything with the instance (strings, callbacks, maps)
 * but their endpoint arrays: the instance must outlive them and must not
 * gain or lose endpoints after routes_build(). routes_free() frees the
 * copies only. */
#ifndef APIKEYD_ROUTES_H
#define APIKEYD_ROUTES_H
#include <ulfius.h>

typedef struct routes routes;

/* 0, or -1 when out of memory (*out NULL). */
int routes_build(const struct _u_instance *u, routes **out);
/* The instance to match url_path against (never NULL). */
const struct _u_instance *routes_pick(const routes *r, const char *url_path);
void routes_free(routes *r);

#endif
