/* testapi: endpoints that exist only when apikeyd runs with the hidden
 * --test-slow-endpoint option (tests/server uses them); mounted through the
 * APIs table as "test" at /__test by default:
 *   GET  <base>/slow?ms=N  sleeps N ms (0..60000), then 200 {"slept_ms":N}
 *   POST <base>/echo       200 {"bytes":N}, N = request body length
 *   GET  <base>/bare       200 {"ok":true}: a bare ulfius endpoint, the
 *                          ceiling `make bench` compares API requests to */
#ifndef APIKEYD_TESTAPI_H
#define APIKEYD_TESTAPI_H
#include <ulfius.h>

int testapi_register(struct _u_instance *u, const char *base);

#endif
