/* nebula.h — what NebulaBlock and its uuid twin share (nebula.c defines it;
 * nebula_uuid.c uses it). Each family builds its own models: the twin's ids
 * are strings (uuids), NebulaBlock's integers. */
#ifndef NEBULA_H
#define NEBULA_H

#include <jansson.h>
#include "app.h"

/* The failed envelope's messages for a read key's write (403) and a refused name (400). */
#define NEBULA_MSG_FORBIDDEN "Insufficient permissions: this API key is read-only"
/* the create refused by the key quota (403) */
#define NEBULA_QUOTA_MESSAGE "The user holds as many API keys as the server allows; delete one first"
#define NEBULA_MSG_BAD_NAME "The name must not contain control or bidirectional formatting characters"

/* keysvc_create for the caller with the body's name and optional description */
int nebula_create_key(rt_ctx *ctx, app *a, int family, const char *name, const char *description, keysvc_key *k,
                      char *token, size_t toklen);
/* fn with each of the caller's keys of family, newest first, at most
   keysvc_list_max (keysvc_list_each); KEYSVC_* status */
int nebula_list_keys(rt_ctx *ctx, app *a, int family, keysvc_each_fn fn, void *it);
/* Deletes the caller's key by id (NebulaBlock) or uuid (the twin, uuid
   non-NULL): KEYSVC_FORBIDDEN for a read key before any lookup. */
int nebula_delete_key(rt_ctx *ctx, app *a, int family, int64_t id, const char *uuid);
/* k's description, or NULL when it has none */
const char *nebula_description(const keysvc_key *k);

#endif
