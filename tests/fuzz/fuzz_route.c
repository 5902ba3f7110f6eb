/* fuzz_route.c — one request through any route of the five generated APIs,
 * as ulfius would hand it over after routing: security, parameters (path,
 * query, header), the body (Content-Type, size, JSON, every request-body
 * schema of the five documents), then the real handlers over an in-memory
 * key store, with response validation on.
 *
 * Input (text, so that seeds read like requests):
 *   line 1      "<api> <METHOD> <route>", e.g. "heron POST /api/credentials/keys"
 *               (route in ulfius form, /keys/:id); a line that names no route
 *               picks one by its CRC32, so every mutation still lands somewhere
 *   "?k=v"      a path or query parameter (ulfius puts both in map_url)
 *   "Name: v"   a request header
 *   ""          an empty line, then the body (any bytes) to the end
 *
 * Oracle, besides the sanitizers: no response is a 500. A 500 here means a
 * handler or the store failed on hostile input, or a response broke its own
 * spec (validate_responses), and is a finding.
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ulfius.h>

#include "app.h"
#include "token.h"
#include "heron_api.h"
#include "feldera_api.h"
#include "nebula_api.h"
#include "nebula_uuid_api.h"
#include "fastapi_api.h"

#define FUZZ_ROUTE_RESET 4096 /* a fresh store every so many inputs */

typedef struct fuzz_route_api {
	const char *name;
	size_t first, end;        /* its endpoints in the instance's list */
} fuzz_route_api;

static struct _u_instance fuzz_u;
static app fuzz_app;
static int64_t fuzz_user;
static unsigned long fuzz_calls;
static rt_api_config fuzz_cfg[5];
static fuzz_route_api fuzz_apis[5];

/* Any credential the route finds authenticates as the fuzz user: the
 * credential checks have their own targets (fuzz_token, fuzz_jwt). */
static enum rt_auth_result fuzz_route_auth(void *appv, const rt_auth_request *req, rt_principal *out,
                                           unsigned *retry_after)
{
	(void)appv;
	(void)retry_after;
	if (!*req->credential)
		return RT_AUTH_REJECTED;
	memset(out, 0, sizeof *out);
	out->id = fuzz_user;
	out->credential_id = 1;
	snprintf(out->ref, sizeof out->ref, "fuzz");
	return RT_AUTH_OK;
}

static void fuzz_route_store(void)
{
	keysvc_config kc = { .db_path = ":memory:" };
	char err[256], token[TOKEN_MAX];

	keysvc_close(fuzz_app.ks);
	fuzz_app.ks = NULL;
	if (keysvc_open(&kc, &fuzz_app.ks, err, sizeof err) != 0 ||
	    keysvc_user_add(fuzz_app.ks, "fuzz", token, sizeof token, &fuzz_user) != KEYSVC_OK) {
		fprintf(stderr, "fuzz_route: cannot open the store: %s\n", err);
		abort();
	}
}

static int fuzz_route_mount(size_t i, const char *name, int (*reg)(struct _u_instance *, rt_api_config *),
                            rt_error_shape_fn shape)
{
	fuzz_cfg[i].authenticate = fuzz_route_auth;
	fuzz_cfg[i].app = &fuzz_app;
	fuzz_cfg[i].error_shape = shape;
	fuzz_cfg[i].validate_responses = 1;
	fuzz_apis[i].name = name;
	fuzz_apis[i].first = fuzz_u.nb_endpoints;
	if (reg(&fuzz_u, &fuzz_cfg[i]) != 0)
		return -1;
	fuzz_apis[i].end = fuzz_u.nb_endpoints;
	return 0;
}

static int fuzz_reg_heron(struct _u_instance *u, rt_api_config *c)
{
	return heron_register(u, HERON_DEFAULT_BASE, heron_handlers_get(), c);
}
static int fuzz_reg_feldera(struct _u_instance *u, rt_api_config *c)
{
	return feldera_register(u, FELDERA_DEFAULT_BASE, feldera_handlers_get(), c);
}
static int fuzz_reg_nebula(struct _u_instance *u, rt_api_config *c)
{
	return nebula_register(u, NEBULA_DEFAULT_BASE, nebula_handlers_get(), c);
}
static int fuzz_reg_nebula_uuid(struct _u_instance *u, rt_api_config *c)
{
	return nebula_uuid_register(u, NEBULA_UUID_DEFAULT_BASE, nebula_uuid_handlers_get(), c);
}
static int fuzz_reg_fastapi(struct _u_instance *u, rt_api_config *c)
{
	return fastapi_register(u, FASTAPI_DEFAULT_BASE, fastapi_handlers_get(), c);
}

static void fuzz_route_release(void)
{
	ulfius_clean_instance(&fuzz_u);
	rt_api_release_all();
	keysvc_close(fuzz_app.ks);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (ulfius_init_instance(&fuzz_u, 1, NULL, NULL) /* never started */ != U_OK ||
	    fuzz_route_mount(0, "heron", fuzz_reg_heron, heron_error_shape) != 0 ||
	    fuzz_route_mount(1, "feldera", fuzz_reg_feldera, feldera_error_shape) != 0 ||
	    fuzz_route_mount(2, "nebula", fuzz_reg_nebula, nebula_error_shape) != 0 ||
	    fuzz_route_mount(3, "nebula_uuid", fuzz_reg_nebula_uuid, nebula_error_shape) != 0 ||
	    fuzz_route_mount(4, "fastapi", fuzz_reg_fastapi, NULL) != 0) {
		fprintf(stderr, "fuzz_route: cannot register the APIs\n");
		abort();
	}
	fuzz_route_store();
	atexit(fuzz_route_release);
	return 0;
}

/* The endpoint line 1 names, or one picked by its CRC32. */
static const struct _u_endpoint *fuzz_route_pick(const char *line)
{
	char want[512];

	for (size_t a = 0; a < 5; a++)
		for (size_t i = fuzz_apis[a].first; i < fuzz_apis[a].end; i++) {
			const struct _u_endpoint *e = &fuzz_u.endpoint_list[i];
			snprintf(want, sizeof want, "%s %s %s", fuzz_apis[a].name, e->http_method, e->url_format);
			if (strcmp(want, line) == 0)
				return e;
		}
	return &fuzz_u.endpoint_list[token_crc32(line, strlen(line)) % fuzz_u.nb_endpoints];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct _u_request req;
	struct _u_response resp;
	const struct _u_endpoint *e;
	char *text = malloc(size + 1), *line, *next, *body;
	size_t head;

	if (!text)
		return 0;
	if (++fuzz_calls % FUZZ_ROUTE_RESET == 0)
		fuzz_route_store();
	memcpy(text, data, size);
	text[size] = '\0';
	/* the head ends at the first empty line; the body is what follows, NULs and all */
	body = strstr(text, "\n\n");
	head = body ? (size_t)(body - text) : size;
	if (body) {
		*body = '\0';
		body += 2;
	}
	ulfius_init_request(&req);
	ulfius_init_response(&resp);
	next = strchr(text, '\n');
	if (next)
		*next++ = '\0';
	e = fuzz_route_pick(text);
	for (line = next; line && line < text + head; line = next) {
		char *sep;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (line[0] == '?' && (sep = strchr(line, '=')) != NULL) {
			*sep = '\0';
			u_map_put(req.map_url, line + 1, sep + 1);
		} else if ((sep = strchr(line, ':')) != NULL) {
			*sep++ = '\0';
			while (*sep == ' ')
				sep++;
			u_map_put(req.map_header, line, sep);
		}
	}
	if (body) {
		size_t n = size - (size_t)(body - text);
		req.binary_body = malloc(n ? n : 1);
		if (req.binary_body) {
			memcpy(req.binary_body, body, n);
			req.binary_body_length = n;
		}
	}
	e->callback_function(&req, &resp, e->user_data);
	FUZZ_ASSERT(resp.status != 500, "%s %s%s answered 500: %.*s", e->http_method, e->url_prefix, e->url_format,
	            (int)(resp.binary_body_length > 400 ? 400 : resp.binary_body_length),
	            resp.binary_body ? (const char *)resp.binary_body : "");
	ulfius_clean_response(&resp);
	ulfius_clean_request(&req);
	free(text);
	return 0;
}
