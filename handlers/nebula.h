/* nebula.h — what NebulaBlock and its uuid twin share (nebula.c defines it;
 * nebula_uuid.c uses it). Each family builds its own models: the twin's ids
 * are strings (uuids), NebulaBlock's integers. */
#ifndef NEBULA_H
#define NEBULA_H

#include <jansson.h>
#include "app.h"

/* keysvc_create with the body's name and optional description */
int nebula_create_key(rt_ctx *ctx, app *a, int family, const char *name, const char *description, keysvc_key *k,
                      char *token, size_t toklen);
/* The caller's keys of family, oldest first (*v malloc'd, free()); KEYSVC_* status */
int nebula_list_keys(rt_ctx *ctx, app *a, int family, keysvc_key **v, size_t *n);
/* k's description, or NULL when it has none */
const char *nebula_description(const keysvc_key *k);

#endif
