/* dispatch: the last call of a request (its head and whole body in), run
 * over routes_match() instead of by ulfius 2.7's dispatcher.
 *
 * ulfius_webservice_dispatcher, on that call, splits the path and, for
 * every endpoint of the list whose method fits, the endpoint's prefix and
 * format into freshly allocated words (ulfius_endpoint_match), copies each
 * one that matches, and for each one it runs copies and splits the path
 * again (ulfius_parse_url); every request meets three at least (the guard,
 * its route, the not-found catch-all). dispatch_run takes the matching
 * endpoints from routes_match (split once, at start-up; no allocation) and
 * then does what ulfius does, in its order (ulfius 2.7.13, src/ulfius.c):
 *  - a response (ulfius_init_response); before each endpoint the request's
 *    map_url is the query's parameters (con_info->map_url_initial) plus that
 *    endpoint's path parameters (routes_params_put), re-made only when a
 *    parameter changed it;
 *  - each callback in turn; all but U_CALLBACK_IGNORE count in
 *    callback_position; a response timeout goes to the connection; a
 *    stream response ends the run; U_CALLBACK_CONTINUE and _IGNORE go on to
 *    the next endpoint, and from the last one end the run as
 *    U_CALLBACK_COMPLETE does (the response as the callbacks made it);
 *    U_CALLBACK_UNAUTHORIZED answers 401 (with the response's or the
 *    instance's realm, a basic-auth challenge); U_CALLBACK_ERROR and
 *    anything else answer 500 "Server Error" with no headers;
 *  - nothing matched: ulfius's default endpoint (routes_match gives it);
 *  - the response's headers are the instance's default headers that no
 *    callback set, then the callbacks' own, then its cookies.
 * What it leaves out, because no endpoint of apikeyd uses it: websocket
 * upgrades (a callback that asks for one gets the response as it is), and
 * request->auth_basic_user/password (ulfius reads the Authorization header
 * into them for every request; nothing here reads them). The body is
 * handed to libmicrohttpd, not copied (ulfius copies it, then frees it).
 *
 * Ownership: nothing kept; the response is libmicrohttpd's once queued. */
#ifndef APIKEYD_DISPATCH_H
#define APIKEYD_DISPATCH_H
#include <microhttpd.h>
#include <ulfius.h>

#include "routes.h"

/* Runs the endpoints of u (whose routes r are) that match ci's request,
   with method (HEAD already made GET), and queues the answer: 0 with *ret
   what the access handler returns, or -1 when it did nothing (a path
   routes_match leaves to ulfius, u's check_utf8 on, or out of memory
   before any callback ran): the caller then hands the call to ulfius. */
int dispatch_run(const routes *r, const struct _u_instance *u, struct MHD_Connection *con,
                 struct connection_info_struct *ci, const char *method, enum MHD_Result *ret);

#endif
