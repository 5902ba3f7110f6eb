/* nebula.h — the envelope and record shapes NebulaBlock and its uuid twin
 * share (nebula.c defines them; nebula_uuid.c uses them). */
#ifndef NEBULA_H
#define NEBULA_H

#include <jansson.h>
#include "app.h"

/* the create refused by the key quota (403) */
#define NEBULA_QUOTA_MESSAGE "The user holds as many API keys as the server allows; delete one first"
/* {data, message, status: success|failed}; data stolen, NULL -> null */
json_t *nebula_envelope(json_t *data, const char *message, int ok);
json_t *nebula_description(const keysvc_key *k);   /* new: string or null */
json_t *nebula_partial(const keysvc_key *k);       /* new: "ak_...", the prefix every key shares */
/* the create response's data (new) */
json_t *nebula_created(const keysvc_key *k, const char *token);
/* the list response's data, oldest first (new), or NULL when the store fails */
json_t *nebula_list_data(rt_ctx *ctx, app *a, int family, int *rc);
int nebula_create_key(rt_ctx *ctx, app *a, int family, const json_t *body, keysvc_key *k, char *token,
                      size_t toklen);
/* Deletes the caller's key by id (NebulaBlock) or uuid (the twin, uuid
   non-NULL): KEYSVC_FORBIDDEN for a read key before any lookup. */
int nebula_delete_key(rt_ctx *ctx, app *a, int family, int64_t id, const char *uuid);
json_t *nebula_forbidden(void);   /* new: the 403 envelope */
json_t *nebula_bad_name(void);    /* new: the 400 envelope for a refused name */

#endif
