/* docs: Swagger UI at <base>/docs (see docs.h). */
#include "docs.h"

#include <stdio.h>
#include <string.h>

typedef struct docs_page {
    const char *base;           /* borrowed: apis.c's static storage */
    const char *api;
} docs_page;

/* One row per registration (apis.c mounts each API at most once per
   listener; two listeners, plain and TLS, share the rows). */
#define DOCS_MAX_PAGES 64
static docs_page docs_pages[DOCS_MAX_PAGES];
static size_t docs_n_pages;

int docs_available(void)
{
    return docs_assets[0].name != NULL;
}

static void docs_headers(struct _u_response *res, const char *content_type)
{
    u_map_put(res->map_header, "Content-Type", content_type);
    u_map_put(res->map_header, "Content-Security-Policy", DOCS_CSP);
    u_map_put(res->map_header, "Referrer-Policy", "no-referrer");
}

/* Appends s to buf[*o..len) with &, <, >, " and ' as HTML entities. */
static void docs_escape(char *buf, size_t len, size_t *o, const char *s)
{
    for (; *s && *o + 7 < len; s++) {
        const char *e = NULL;
        switch (*s) {
        case '&': e = "&amp;"; break;
        case '<': e = "&lt;"; break;
        case '>': e = "&gt;"; break;
        case '"': e = "&quot;"; break;
        case '\'': e = "&#39;"; break;
        default: buf[(*o)++] = *s; continue;
        }
        size_t n = strlen(e);
        memcpy(buf + *o, e, n);
        *o += n;
    }
    buf[*o] = '\0';
}

static int docs_page_cb(const struct _u_request *req, struct _u_response *res, void *data)
{
    const docs_page *p = data;
    char base[1600], api[400], html[16384];
    size_t o = 0;

    (void)req;
    docs_escape(base, sizeof base, &o, p->base);
    o = 0;
    docs_escape(api, sizeof api, &o, p->api);
    /* base "" (an API at the root): the document's server is "/" */
    snprintf(html, sizeof html,
             "<!DOCTYPE html>\n"
             "<html lang=\"en\">\n"
             "<head>\n"
             "<meta charset=\"utf-8\">\n"
             "<title>%s API — apikeyd</title>\n"
             "<link rel=\"stylesheet\" href=\"%s/docs/swagger-ui.css\">\n"
             "<link rel=\"stylesheet\" href=\"%s/docs/docs.css\">\n"
             "<link rel=\"icon\" type=\"image/png\" href=\"%s/docs/favicon-32x32.png\">\n"
             "</head>\n"
             "<body>\n"
             "<div id=\"swagger-ui\" data-spec=\"%s/openapi.json\" data-base=\"%s\"></div>\n"
             "<script src=\"%s/docs/swagger-ui-bundle.js\"></script>\n"
             "<script src=\"%s/docs/docs.js\"></script>\n"
             "</body>\n"
             "</html>\n",
             api, base, base, base, base, base[0] ? base : "/", base, base);
    ulfius_set_string_body_response(res, 200, html);
    docs_headers(res, "text/html; charset=utf-8");
    return U_CALLBACK_COMPLETE;
}

/* The files are sent straight from the binary's read-only data, block by
   block, never copied into a per-request buffer (the bundle is 1.7 MB). */
static ssize_t docs_asset_read(void *data, uint64_t offset, char *out, size_t max)
{
    const docs_asset *a = data;
    size_t n;

    if (offset >= a->len) return MHD_CONTENT_READER_END_OF_STREAM;
    n = a->len - (size_t)offset < max ? a->len - (size_t)offset : max;
    memcpy(out, a->data + offset, n);
    return (ssize_t)n;
}

static int docs_asset_cb(const struct _u_request *req, struct _u_response *res, void *data)
{
    const docs_asset *a = data;

    (void)req;
    if (ulfius_set_stream_response(res, 200, docs_asset_read, NULL, a->len, 64 * 1024, data) != U_OK)
        return U_CALLBACK_ERROR;
    docs_headers(res, a->content_type);
    return U_CALLBACK_COMPLETE;
}

int docs_register(struct _u_instance *u, const char *base, const char *api)
{
    docs_page *p = NULL;
    char path[256];

    if (!docs_available()) return 0;
    for (size_t i = 0; i < docs_n_pages; i++)
        if (docs_pages[i].base == base && strcmp(docs_pages[i].api, api) == 0) p = &docs_pages[i];
    if (p == NULL) {
        if (docs_n_pages == DOCS_MAX_PAGES) return -1;
        p = &docs_pages[docs_n_pages++];
        p->base = base;
        p->api = api;
    }
    if (ulfius_add_endpoint_by_val(u, "GET", base, "/docs", 0, docs_page_cb, p) != U_OK) return -1;
    for (const docs_asset *a = docs_assets; a->name; a++) {
        snprintf(path, sizeof path, "/docs/%s", a->name);
        if (ulfius_add_endpoint_by_val(u, "GET", base, path, 0, docs_asset_cb, (void *)a) != U_OK) return -1;
    }
    return 0;
}
