/* testapi: slow and echo endpoints for the server tests. */
#include "testapi.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <time.h>

static int testapi_slow(const struct _u_request *req, struct _u_response *res, void *data)
{
    const char *ms_s = u_map_get(req->map_url, "ms");
    long ms = ms_s ? strtol(ms_s, NULL, 10) : 1000;
    struct timespec ts;
    json_t *body;

    (void)data;
    if (ms < 0 || ms > 60000) ms = 1000;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
    body = json_pack("{sI}", "slept_ms", (json_int_t)ms);   /* new */
    ulfius_set_json_body_response(res, 200, body);          /* copies */
    json_decref(body);
    return U_CALLBACK_COMPLETE;
}

static int testapi_bare(const struct _u_request *req, struct _u_response *res, void *data)
{
    json_t *body = json_pack("{sb}", "ok", 1);   /* new */
    (void)req;
    (void)data;
    ulfius_set_json_body_response(res, 200, body);
    json_decref(body);
    return U_CALLBACK_COMPLETE;
}

static int testapi_echo(const struct _u_request *req, struct _u_response *res, void *data)
{
    json_t *body = json_pack("{sI}", "bytes", (json_int_t)req->binary_body_length); /* new */
    (void)data;
    ulfius_set_json_body_response(res, 200, body);
    json_decref(body);
    return U_CALLBACK_COMPLETE;
}

int testapi_register(struct _u_instance *u, const char *base)
{
    if (ulfius_add_endpoint_by_val(u, "GET", base, "/slow", 1, testapi_slow, NULL) != U_OK ||
        ulfius_add_endpoint_by_val(u, "POST", base, "/echo", 1, testapi_echo, NULL) != U_OK ||
        ulfius_add_endpoint_by_val(u, "GET", base, "/bare", 1, testapi_bare, NULL) != U_OK)
        return -1;
    return 0;
}
