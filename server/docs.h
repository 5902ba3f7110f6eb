/* docs: the <base>/docs page of every mounted API, Swagger UI rendering the
 * API's own document (<base>/openapi.json) with "Try it out" aimed at this
 * server.
 *
 * Swagger UI's files (npm swagger-ui-dist, pinned in
 * server/swagger-ui/package-lock.json) are fetched at build time and
 * compiled in as data by server/swagger-ui/embed.js into
 * $(BUILD)/server/docs_assets.c, as the specs are in generated/<api>/
 * <api>_spec.c; nothing is fetched at run time. A build without npm gets an
 * empty table (docs_assets[0].name == NULL) and no docs page.
 *
 * Every docs response carries DOCS_CSP. Nothing here allocates at
 * registration: the page is written per request from base, which the caller
 * keeps alive for the life of the process (apis.c's static storage). */
#ifndef APIKEYD_DOCS_H
#define APIKEYD_DOCS_H
#include <stddef.h>
#include <ulfius.h>

/* What the page needs and nothing more: its scripts and styles are files of
 * this server (the init script too: no inline script), the document and "Try
 * it out" are fetches to this server, and Swagger UI's stylesheet draws its
 * icons as data: SVG images. No 'unsafe-eval', no 'unsafe-inline'. */
#define DOCS_CSP                                                                      \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "      \
    "frame-ancestors 'none'"

typedef struct docs_asset {
    const char *name;           /* served at <base>/docs/<name>; NULL ends the table */
    const char *content_type;
    const char *data;
    size_t len;
} docs_asset;

/* The embedded files (the generated docs_assets.c) and Swagger UI's version
   ("" without them). */
extern const docs_asset docs_assets[];
extern const char docs_ui_version[];

/* 1 when this build has the docs page. */
int docs_available(void);

/* Adds GET <base>/docs (the page) and <base>/docs/<file> for every embedded
   file. base is borrowed for the life of u; api names the page. Without the
   embedded files it adds nothing and returns 0. -1 when ulfius refuses an
   endpoint. */
int docs_register(struct _u_instance *u, const char *base, const char *api);

#endif
