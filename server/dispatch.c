/* dispatch: a request's last call, over routes_match (dispatch.h). */
#include "dispatch.h"
#include "oalloc.h"

#include <string.h>
#include <orcania.h>
#include <yder.h>

/* the most endpoints one request matches (apikeyd's: the guard, a route or
   a few apart by their query strings, the catch-all); more: ulfius's turn */
#define DISPATCH_MAX_HITS 32

/* ulfius_set_response_cookie (exported by libulfius 2.7, not declared in
   its header): res's cookies as Set-Cookie headers; -1 on failure. */
int ulfius_set_response_cookie(struct MHD_Response *mhd_response, const struct _u_response *response);

/* res as libmicrohttpd's response: its body (taken from res, not copied),
   or a stream; u's default headers that res does not set, res's headers
   and cookies. NULL when out of memory. */
static struct MHD_Response *dispatch_response(const struct _u_instance *u, struct _u_response *res)
{
    struct MHD_Response *mr;
    const struct _u_map *d = u->default_headers, *h = res->map_header;

    if (res->stream_callback != NULL) {
        mr = MHD_create_response_from_callback(res->stream_size, res->stream_block_size, res->stream_callback,
                                               res->stream_user_data, res->stream_callback_free);
    } else if (res->binary_body != NULL && res->binary_body_length > 0) {
        mr = MHD_create_response_from_buffer_with_free_callback(res->binary_body_length, res->binary_body, &o_free);
        if (mr != NULL) {   /* libmicrohttpd's now */
            res->binary_body = NULL;
            res->binary_body_length = 0;
        }
    } else {
        mr = MHD_create_response_from_buffer_with_free_callback(0, NULL, &o_free);
    }
    if (mr == NULL) return NULL;
    for (int i = 0; d != NULL && i < d->nb_values; i++)
        if (d->values[i] != NULL && !u_map_has_key(h, d->keys[i]) &&
            MHD_add_response_header(mr, d->keys[i], d->values[i]) == MHD_NO)
            goto fail;
    for (int i = 0; h != NULL && i < h->nb_values; i++)
        if (h->values[i] != NULL && MHD_add_response_header(mr, h->keys[i], h->values[i]) == MHD_NO) goto fail;
    if (ulfius_set_response_cookie(mr, res) == -1) goto fail;
    return mr;
fail:
    MHD_destroy_response(mr);
    return NULL;
}

/* ulfius's answer to U_CALLBACK_ERROR: 500, "Server Error", no headers. */
static struct MHD_Response *dispatch_error(struct _u_response *res)
{
    char *body = o_strdup(ULFIUS_HTTP_ERROR_BODY);
    struct MHD_Response *mr;

    res->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    if (body == NULL) return NULL;
    mr = MHD_create_response_from_buffer_with_free_callback(strlen(body), body, &o_free);
    if (mr == NULL) o_free(body);
    return mr;
}

int dispatch_run(const routes *r, const struct _u_instance *u, struct MHD_Connection *con,
                 struct connection_info_struct *ci, const char *method, enum MHD_Result *ret)
{
    const routes_hit *hits[DISPATCH_MAX_HITS];
    struct _u_request *req = ci->request;
    struct _u_response *res = NULL;
    struct MHD_Response *mr = NULL;
    const char *realm = NULL;
    int n, unauthorized = 0, done = 0;

    *ret = MHD_NO;
    if (req == NULL || u->check_utf8) return -1;
    if ((n = routes_match(r, method, req->url_path, hits, DISPATCH_MAX_HITS)) <= 0) return -1;
    oalloc_on();   /* the response's maps and the URL map from the request's block (oalloc.h) */
    if ((res = o_malloc(sizeof *res)) == NULL || ulfius_init_response(res) != U_OK) {
        o_free(res);
        oalloc_off();
        return -1;
    }
    for (int i = 0; i < n && !done; i++) {
        const routes_hit *h = hits[i];
        int cb;
        /* map_url: the query's parameters and this endpoint's path ones */
        if (i == 0 || hits[i - 1]->n_params > 0) {
            if (i > 0) u_map_empty(req->map_url);
            u_map_copy_into(req->map_url, &ci->map_url_initial);
        }
        if (routes_params_put(h, req->url_path, req->map_url) != U_OK) {
            mr = dispatch_error(res);
            break;
        }
        oalloc_off();   /* the callbacks' allocations are their own (malloc) */
        cb = h->e->callback_function(req, res, h->e->user_data);
        oalloc_on();
        if (cb != U_CALLBACK_IGNORE) req->callback_position++;
        if (res->timeout > 0 && MHD_set_connection_option(con, MHD_CONNECTION_OPTION_TIMEOUT, res->timeout) != MHD_YES)
            y_log_message(Y_LOG_LEVEL_ERROR, "dispatch: cannot set the connection's timeout");
        if (res->stream_callback != NULL) {     /* a stream is always the last */
            mr = dispatch_response(u, res);
            break;
        }
        if ((cb == U_CALLBACK_CONTINUE || cb == U_CALLBACK_IGNORE) && i + 1 == n) cb = U_CALLBACK_COMPLETE;
        switch (cb) {
        case U_CALLBACK_CONTINUE:
        case U_CALLBACK_IGNORE:
            break;
        case U_CALLBACK_COMPLETE:
            done = 1;
            mr = dispatch_response(u, res);
            break;
        case U_CALLBACK_UNAUTHORIZED:
            done = 1;
            unauthorized = 1;
            mr = dispatch_response(u, res);
            realm = res->auth_realm != NULL ? res->auth_realm : u->default_auth_realm;
            break;
        default:   /* U_CALLBACK_ERROR */
            done = 1;
            mr = dispatch_error(res);
            break;
        }
    }
    if (mr != NULL) {
        if (unauthorized && realm != NULL) *ret = MHD_queue_basic_auth_fail_response(con, realm, mr);
        else *ret = MHD_queue_response(con, unauthorized ? MHD_HTTP_UNAUTHORIZED : (unsigned)res->status, mr);
        MHD_destroy_response(mr);
        oalloc_off();   /* the route's own callback, as the others */
        if (res->free_shared_data != NULL && res->shared_data != NULL) res->free_shared_data(res->shared_data);
        oalloc_on();
    }
    ulfius_clean_response_full(res);
    oalloc_off();
    return 0;
}
