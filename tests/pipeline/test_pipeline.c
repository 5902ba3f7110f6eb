/* test_pipeline.c — the generated request pipeline, end to end over real
 * HTTP on loopback (HTTPS with client certificates for mutualTLS): the
 * kitchen, styles, dynamic, forms, mtls, stripe_customers, custom_auth,
 * openapi32 and pcre_limits fixtures' generated code (golden output)
 * registered on ulfius instances with small handlers, and a real client.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <string.h>
#include <ulfius.h>

#include "kitchen_api.h"
#include "styles_api.h"
#include "dynamic_api.h"
#include "mtls_api.h"
#include "forms_api.h"
#include "stripe_customers_api.h"
#include "custom_auth_api.h"
#include "openapi32_api.h"
#include "pcre_limits_api.h"

static struct _u_instance srv;
static unsigned port;
static int validate_responses = 1;

/* What the last handler saw. */
static int64_t seen_limit;
static int seen_tags;
static char seen_tag0[32];
static int64_t seen_user;
static char seen_mtls[80];   /* the last mutualTLS credential the hook got */
static char *client_fpr;      /* the client certificate's SHA-256 fingerprint */

/* ---- the application: authentication hook and handlers ---- */

/* custom_auth: the application's own principal, made by the hook and freed
 * by principal_free after each response */
typedef struct who {
	char scheme[32];
	char credential[160];
	char scopes[4][32];
	size_t n_scopes;
} who;
static int principals_made, principals_freed;

static void principal_free(void *app, void *data)
{
	(void)app;
	free(data);
	principals_freed++;
}

/* oauth2: bearer tok-read grants read:pets, tok-all read:pets and write:pets;
 * OAuth: any header with an oauth_signature; HMAC-SHA256: Signature=ok. */
static enum rt_auth_result custom_auth(const rt_auth_request *req, rt_principal *out)
{
	who *w;

	if (strcmp(req->scheme, "oauth2") == 0) {
		int all = strcmp(req->credential, "tok-all") == 0;
		if (!all && strcmp(req->credential, "tok-read") != 0)
			return RT_AUTH_REJECTED;
		for (size_t i = 0; i < req->n_scopes; i++)
			if (!all && strcmp(req->scopes[i], "read:pets") != 0)
				return RT_AUTH_FORBIDDEN;
	} else if (strcmp(req->scheme, "oauth1") == 0) {
		if (!strstr(req->credential, "oauth_signature=") || strcmp(req->http_scheme, "OAuth") != 0)
			return RT_AUTH_REJECTED;
	} else if (strcmp(req->scheme, "hmac") == 0) {
		if (!strstr(req->credential, "Signature=ok"))
			return RT_AUTH_REJECTED;
	} else {
		return RT_AUTH_REJECTED;
	}
	ck_assert_ptr_nonnull(req->scopes);
	ck_assert_ptr_null(req->scopes[req->n_scopes]);
	ck_assert_ptr_nonnull(req->ctx);
	w = calloc(1, sizeof *w);
	snprintf(w->scheme, sizeof w->scheme, "%s", req->http_scheme ? req->http_scheme : req->scheme);
	snprintf(w->credential, sizeof w->credential, "%s", req->credential);
	for (size_t i = 0; i < req->n_scopes && i < 4; i++)
		snprintf(w->scopes[w->n_scopes++], sizeof w->scopes[0], "%s", req->scopes[i]);
	out->data = w;
	out->id = 7;
	principals_made++;
	return RT_AUTH_OK;
}

static int answer_who(rt_ctx *ctx)
{
	const who *w = rt_ctx_principal(ctx)->data;
	rt_str sc[4];
	custom_auth_Who out;

	ck_assert_ptr_nonnull(w);
	for (size_t i = 0; i < w->n_scopes; i++)
		sc[i] = (rt_str){ w->scopes[i], strlen(w->scopes[i]) };
	out = (custom_auth_Who){ .scheme = w->scheme, .scheme_len = strlen(w->scheme), .credential = w->credential,
	                         .credential_len = strlen(w->credential), .scopes = sc, .n_scopes = w->n_scopes };
	return custom_auth_readPets_respond_200(ctx, &out);
}

static int who_timeline(rt_ctx *ctx, const custom_auth_timeline_params *p, const json_t *body, void *app)
{
	(void)p, (void)body, (void)app;
	return answer_who(ctx);
}

static int who_read(rt_ctx *ctx, const custom_auth_readPets_params *p, const json_t *body, void *app)
{
	(void)p, (void)body, (void)app;
	return answer_who(ctx);
}

static int who_write(rt_ctx *ctx, const custom_auth_writePets_params *p, const json_t *body, void *app)
{
	(void)p, (void)body, (void)app;
	return answer_who(ctx);
}

static const custom_auth_handlers custom_auth_h = { .timeline = who_timeline, .readPets = who_read, .writePets = who_write };

/* openapi32: what each 3.2 operation got */
static char seen_link[128];

static int query_items(rt_ctx *ctx, const openapi32_queryItems_params *p, const openapi32_Filter *body, void *app)
{
	json_t *f = json_object();
	int rc;

	(void)p, (void)app;
	if (body->has_color)
		json_object_set_new(f, "color", json_string(openapi32_Filter_color_text(body->color)));
	if (body->has_max)
		json_object_set_new(f, "max", json_integer(body->max));
	rc = openapi32_queryItems_respond_200(ctx, &(openapi32_queryItems_200){ .filter = f });
	json_decref(f);
	return rc;
}

static int import_items(rt_ctx *ctx, const openapi32_importItems_params *p, const json_t *body, void *app)
{
	(void)p, (void)app;
	return openapi32_importItems_respond_200(ctx, &(openapi32_importItems_200){ .count = (int64_t)json_array_size(body) });
}

static int link_items(rt_ctx *ctx, const openapi32_linkItems_params *p, const json_t *body, void *app)
{
	(void)body, (void)app;
	snprintf(seen_link, sizeof seen_link, "%s", p->Link);
	return openapi32_linkItems_respond_204(ctx);
}

static int post_events(rt_ctx *ctx, const openapi32_postEvents_params *p, const json_t *body, void *app)
{
	const json_t *ev[8];
	size_t n = json_array_size(body) < 8 ? json_array_size(body) : 8;

	(void)p, (void)app;
	for (size_t i = 0; i < n; i++)
		ev[i] = json_array_get(body, i);
	return openapi32_postEvents_respond_200(ctx, &(openapi32_postEvents_200){ .events = ev, .n_events = n });
}

/* Responses of sequential media types: the items as JSON, per mode */
static json_t *items_of(const char *text)
{
	json_t *v = json_loads(text, 0, NULL);
	ck_assert_ptr_nonnull(v);
	return v;
}

static int export_items(rt_ctx *ctx, const openapi32_exportItems_params *p, const json_t *body, void *app)
{
	const char *mode = p->mode ? p->mode : "good";

	(void)body, (void)app;
	return openapi32_exportItems_respond_200(ctx, items_of(
		strcmp(mode, "empty") == 0 ? "[]"
		: strcmp(mode, "bad") == 0 ? "[{\"sku\":\"ABC-1\",\"qty\":2},{\"sku\":\"ABC-2\",\"qty\":0}]"
		: "[{\"sku\":\"ABC-1\",\"qty\":2,\"label\":\"a \\\"b\\\" c\"},{\"sku\":\"XYZ-22\",\"qty\":1}]"));
}

static int export_seq(rt_ctx *ctx, const openapi32_exportSeq_params *p, const json_t *body, void *app)
{
	(void)body, (void)app;
	return openapi32_exportSeq_respond_200(ctx, items_of(p->mode && strcmp(p->mode, "bad") == 0
		? "[{\"sku\":\"ABC-1\",\"qty\":1},{\"sku\":\"ABC-2\",\"qty\":1},{\"sku\":\"abc\",\"qty\":1}]"
		: "[{\"sku\":\"ABC-1\",\"qty\":1}]"));
}

static int get_events(rt_ctx *ctx, const openapi32_getEvents_params *p, const json_t *body, void *app)
{
	const char *mode = p->mode ? p->mode : "good";

	(void)body, (void)app;
	return openapi32_getEvents_respond_200(ctx, items_of(
		strcmp(mode, "bad") == 0 ? "[{\"data\":\"x\"},{\"event\":\"rename\",\"data\":\"y\"}]"
		: strcmp(mode, "unframed") == 0 ? "[{\"data\":\"x\",\"id\":\"1\\ndata: forged\"}]"
		: "[{\"event\":\"add\",\"data\":\"{\\\"a\\\":1}\",\"id\":\"7\"},"
		  "{\"event\":\"remove\",\"data\":\"x\\ny\\n\",\"retry\":30},{\"data\":\"\"}]"));
}

static int search32(rt_ctx *ctx, const openapi32_search_params *p, const json_t *body, void *app)
{
	(void)body, (void)app;
	return openapi32_search_respond_200(ctx, &(openapi32_search_200){ .q = p->q, .session = p->session,
	                                    .session_len = p->has_session ? strlen(p->session) : 0, .has_session = p->has_session });
}

/* pcre_limits: the text each stored note had */
static char seen_note[64];

static int post_note(rt_ctx *ctx, const pcre_limits_postNote_params *p, const pcre_limits_Note *body, void *app)
{
	(void)p;
	(void)app;
	snprintf(seen_note, sizeof seen_note, "%.*s", (int)body->text_len, body->text);
	return pcre_limits_postNote_respond_204(ctx);
}

static const pcre_limits_handlers pcre_limits_h = { .postNote = post_note };

static const openapi32_handlers openapi32_h = { .queryItems = query_items, .importItems = import_items,
                                                .linkItems = link_items, .postEvents = post_events, .search = search32,
                                                .exportItems = export_items, .exportSeq = export_seq,
                                                .getEvents = get_events };

static enum rt_auth_result auth(void *app, const rt_auth_request *req, rt_principal *out, unsigned *retry_after)
{
	enum rt_cred_kind kind = req->kind;
	const char *scheme = req->scheme, *credential = req->credential;

	(void)app;
	if (strcmp(req->api, "custom_auth") == 0)
		return custom_auth(req, out);
	if (strcmp(req->api, "openapi32") == 0)
		return strcmp(credential, "tok") == 0 && req->n_scopes == 1 && strcmp(req->scopes[0], "catalog:read") == 0
		           ? RT_AUTH_OK : RT_AUTH_REJECTED;
	if (strcmp(credential, "slow-down") == 0) {
		*retry_after = 7;
		return RT_AUTH_RATE_LIMITED;
	}
	if (kind == RT_CRED_APIKEY_HEADER && strcmp(scheme, "headerKey") == 0 && strcmp(credential, "good") == 0) {
		out->id = 1;
		return RT_AUTH_OK;
	}
	if (kind == RT_CRED_HTTP_BEARER && strcmp(credential, "tok") == 0) {
		out->id = 2;
		return RT_AUTH_OK;
	}
	if (kind == RT_CRED_APIKEY_QUERY && strcmp(credential, "qk") == 0) {
		out->id = 2;
		return RT_AUTH_OK;
	}
	if (kind == RT_CRED_APIKEY_HEADER && strcmp(scheme, "key") == 0 && strcmp(credential, "good") == 0) {
		out->id = 4;
		return RT_AUTH_OK;
	}
	if (kind == RT_CRED_MUTUAL_TLS && strcmp(scheme, "clientCert") == 0) {
		snprintf(seen_mtls, sizeof seen_mtls, "%s", credential);
		if (client_fpr && strcmp(credential, client_fpr) == 0) {
			out->id = 3;
			return RT_AUTH_OK;
		}
	}
	return RT_AUTH_REJECTED;
}

static kitchen_Pet pet(int64_t id, const char *name)
{
	return (kitchen_Pet){ .id = id, .has_id = 1, .name = name, .name_len = strlen(name), .kind = KITCHEN_PET_KIND_CAT };
}

static int list_pets(rt_ctx *ctx, const kitchen_listPets_params *p, const json_t *body, void *app)
{
	(void)body;
	(void)app;
	seen_limit = p->limit;
	seen_tags = p->has_tags ? (int)json_array_size(p->tags) : -1;
	snprintf(seen_tag0, sizeof seen_tag0, "%s", p->has_tags ? json_string_value(json_array_get(p->tags, 0)) : "");
	seen_user = rt_ctx_principal(ctx)->id;
	kitchen_Pet tom = pet(1, "Tom");

	return kitchen_listPets_respond_200(ctx, &(kitchen_listPets_200){ .items = &tom, .n_items = 1 });
}

static int create_pet(rt_ctx *ctx, const kitchen_createPet_params *p, const kitchen_Pet *body, void *app)
{
	kitchen_Pet out = *body;

	(void)p;
	(void)app;
	out.id = 42;
	out.has_id = 1;
	if (out.name_len == 4 && memcmp(out.name, "Liar", 4) == 0) {
		/* violates the spec where a C type cannot: born is not a date */
		out.born = "yesterday";
		out.born_len = strlen(out.born);
		out.has_born = 1;
	}
	/* typed response headers: Location is required, X-Pets-Left an integer;
	   "Nowhere" gives none, "Split" one with CR LF (both answer 500) */
	kitchen_createPet_respond_201_headers h = { .location = "/kitchen/v1/pets/42", .x_pets_left = 7,
	                                            .has_x_pets_left = 1 };
	if (out.name_len == 7 && memcmp(out.name, "Nowhere", 7) == 0)
		h.location = NULL;
	if (out.name_len == 5 && memcmp(out.name, "Split", 5) == 0)
		h.location = "/pets/42\r\nX-Evil: 1";
	return kitchen_createPet_respond_201(ctx, &out, &h);
}

static int latest_pet(rt_ctx *ctx, const kitchen_latestPet_params *p, const json_t *body, void *app)
{
	(void)p;
	(void)body;
	(void)app;
	kitchen_Pet newest = pet(99, "Newest");

	return kitchen_latestPet_respond_200(ctx, &newest);
}

static int get_pet(rt_ctx *ctx, const kitchen_getPet_params *p, const json_t *body, void *app)
{
	kitchen_Pet one;

	(void)body;
	(void)app;
	if (p->petId == 404)
		return kitchen_getPet_respond_404(ctx);
	one = pet(p->petId, p->has_verbose && p->verbose ? "Verbose" : "Quiet");
	/* names a C string can hold and the spec refuses: 65 bytes (maxLength 64), a digit first (pattern) */
	if (p->petId == 900)
		one = pet(900, "Abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklm");
	if (p->petId == 901)
		one = pet(901, "9 lives");
	return kitchen_getPet_respond_200(ctx, &one);
}

static const kitchen_handlers handlers = {
	.listPets = list_pets,
	.createPet = create_pet,
	.latestPet = latest_pet,
	.getPet = get_pet,
	/* putTree has no handler: 501 */
};

static rt_api_config cfg = { .authenticate = auth, .validate_responses = 1, .principal_free = principal_free };

/* styles: every handler answers with the parameters as it got them */
static json_t *echo_json(const json_t *v)
{
	return v ? json_deep_copy(v) : json_null();
}

#define STYLES_ECHO3(op)                                                                          \
	static int echo_##op(rt_ctx *ctx, const styles_##op##_params *p, const json_t *body, void *app) \
	{                                                                                         \
		(void)body;                                                                       \
		(void)app;                                                                        \
		return styles_##op##_respond_200(ctx, json_pack("{s:I,s:o,s:o}", "prim", (json_int_t)p->prim, \
		                                                "arr", echo_json(p->arr), "obj", echo_json(p->obj))); \
	}
STYLES_ECHO3(labelFlat)
STYLES_ECHO3(labelExploded)
STYLES_ECHO3(matrixFlat)
STYLES_ECHO3(matrixExploded)

static int echo_simpleObject(rt_ctx *ctx, const styles_simpleObject_params *p, const json_t *body, void *app)
{
	(void)body;
	(void)app;
	return styles_simpleObject_respond_200(ctx, json_pack("{s:o,s:o}", "obj", echo_json(p->obj), "form",
	                                                      echo_json(p->has_form ? p->form : NULL)));
}

static int echo_deepFilter(rt_ctx *ctx, const styles_deepFilter_params *p, const json_t *body, void *app)
{
	(void)body;
	(void)app;
	return styles_deepFilter_respond_200(ctx, json_pack("{s:o,s:I,s:o}", "filter", echo_json(p->filter), "page",
	                                                    (json_int_t)(p->has_page ? p->page : -1), "where",
	                                                    echo_json(p->has_where ? p->where : NULL)));
}

static int store_page(rt_ctx *ctx, const dynamic_putPetPage_params *p, const json_t *body, void *app)
{
	(void)p;
	(void)body;
	(void)app;
	return dynamic_putPetPage_respond_204(ctx);
}

static int store_tags(rt_ctx *ctx, const dynamic_putTagPage_params *p, const json_t *body, void *app)
{
	(void)p;
	(void)body;
	(void)app;
	return dynamic_putTagPage_respond_204(ctx);
}

static const dynamic_handlers dynamic_h = { .putPetPage = store_page, .putTagPage = store_tags };

/* forms: answers with the body it got */
static int sign_up(rt_ctx *ctx, const forms_signUp_params *p, const forms_SignUp *body, void *app)
{
	(void)p;
	(void)app;
	return forms_signUp_respond_201(ctx, body);
}

static const forms_handlers forms_h = { .signUp = sign_up };

/* stripe_customers: what the handlers got, as JSON text */
static char seen_expand[256], seen_created[256], seen_form[512];

static void seen_json(char *dst, size_t len, const json_t *v)
{
	char *t = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
	snprintf(dst, len, "%s", t ? t : "absent");
	free(t);
}

static int get_customers(rt_ctx *ctx, const stripe_customers_GetCustomers_params *p, const json_t *body, void *app)
{
	(void)body;
	(void)app;
	seen_json(seen_expand, sizeof seen_expand, p->has_expand ? p->expand : NULL);
	seen_json(seen_created, sizeof seen_created, p->has_created ? p->created : NULL);
	return stripe_customers_GetCustomers_respond_200(ctx, &(stripe_customers_GetCustomers_200){
		.object = STRIPE_CUSTOMERS_GETCUSTOMERS_200_OBJECT_LIST, .url = "/v1/customers", .url_len = 13 });
}

static int post_customers(rt_ctx *ctx, const stripe_customers_PostCustomers_params *p,
                          const stripe_customers_PostCustomers_form *body, void *app)
{
	json_t *f = json_object(), *tax = json_array(), *exp = json_array();

	(void)p;
	(void)app;
	for (size_t i = 0; body && i < body->n_expand; i++)
		json_array_append_new(exp, json_stringn(body->expand[i].s, body->expand[i].len));
	for (size_t i = 0; body && i < body->n_tax_id_data; i++)
		json_array_append_new(tax, json_pack("{s:s,s:s%}", "type",
		                                     stripe_customers_PostCustomers_form_tax_id_data_items_type_text(body->tax_id_data[i].type),
		                                     "value", body->tax_id_data[i].value, body->tax_id_data[i].value_len));
	json_object_set_new(f, "expand", exp);
	json_object_set_new(f, "tax_id_data", tax);
	if (body && body->has_metadata) {
		rt_json_writer w;
		rt_json_writer_init(&w);
		stripe_customers_PostCustomers_form_metadata_write(&w, &body->metadata);
		json_object_set_new(f, "metadata", w.failed ? json_null() : json_loadb(w.buf, w.used, 0, NULL));
		rt_json_writer_free(&w);
	}
	if (body && body->has_address) {
		rt_json_writer w;
		rt_json_writer_init(&w);
		stripe_customers_PostCustomers_form_address_write(&w, &body->address);
		json_object_set_new(f, "address", w.failed ? json_null() : json_loadb(w.buf, w.used, 0, NULL));
		rt_json_writer_free(&w);
	}
	seen_json(seen_form, sizeof seen_form, f);
	json_decref(f);
	return stripe_customers_PostCustomers_respond_200(ctx, &(stripe_customers_customer){
		.id = "cus_1", .id_len = 5, .object = STRIPE_CUSTOMERS_CUSTOMER_OBJECT_CUSTOMER });
}

static const stripe_customers_handlers stripe_h = { .GetCustomers = get_customers, .PostCustomers = post_customers };

/* arrays of objects: every parameter as decoded, absent ones as null */
static int echo_pixelsInPath(rt_ctx *ctx, const styles_pixelsInPath_params *p, const json_t *body, void *app)
{
	(void)body, (void)app;
	return styles_pixelsInPath_respond_200(ctx, json_pack("{s:o,s:o,s:o,s:o,s:o}", "simple", echo_json(p->simple),
	                                       "label", echo_json(p->label), "labelx", echo_json(p->labelx),
	                                       "matrix", echo_json(p->matrix), "matrixx", echo_json(p->matrixx)));
}

static int echo_pixelsInQuery(rt_ctx *ctx, const styles_pixelsInQuery_params *p, const json_t *body, void *app)
{
	json_t *out = json_object();

	(void)body, (void)app;
	if (p->has_form)
		json_object_set_new(out, "form", echo_json(p->form));
	if (p->has_formflat)
		json_object_set_new(out, "formflat", echo_json(p->formflat));
	if (p->has_space)
		json_object_set_new(out, "space", echo_json(p->space));
	if (p->has_spacex)
		json_object_set_new(out, "spacex", echo_json(p->spacex));
	if (p->has_pipe)
		json_object_set_new(out, "pipe", echo_json(p->pipe));
	if (p->has_pipex)
		json_object_set_new(out, "pipex", echo_json(p->pipex));
	if (p->has_X_Pixels)
		json_object_set_new(out, "header", echo_json(p->X_Pixels));
	return styles_pixelsInQuery_respond_200(ctx, out);
}

static const styles_handlers styles_h = {
	.pixelsInPath = echo_pixelsInPath,
	.pixelsInQuery = echo_pixelsInQuery,
	.labelFlat = echo_labelFlat,
	.labelExploded = echo_labelExploded,
	.matrixFlat = echo_matrixFlat,
	.matrixExploded = echo_matrixExploded,
	.simpleObject = echo_simpleObject,
	.deepFilter = echo_deepFilter,
};

/* ---- a tiny client ---- */

typedef struct reply {
	long status;
	json_t *body;
	char *text;
	char *content_type;
	char *retry_after;
	char *location, *pets_left, *cache_control, *evil;
} reply;

static void reply_free(reply *r)
{
	json_decref(r->body);
	free(r->text);
	free(r->content_type);
	free(r->retry_after);
	free(r->location);
	free(r->pets_left);
	free(r->cache_control);
	free(r->evil);
	memset(r, 0, sizeof *r);
}

/* headers: NULL-terminated name, value pairs */
static reply call_at(const char *base, const char *method, const char *path, const char *const *headers,
                     const char *body, size_t len)
{
	struct _u_request req;
	struct _u_response resp;
	char url[512];
	reply r = { 0 };

	snprintf(url, sizeof url, "http://127.0.0.1:%u%s%s", port, base, path);
	ulfius_init_request(&req);
	ulfius_init_response(&resp);
	ulfius_set_request_properties(&req, U_OPT_HTTP_VERB, method, U_OPT_HTTP_URL, url, U_OPT_TIMEOUT, 10L, U_OPT_NONE);
	for (size_t i = 0; headers && headers[i]; i += 2)
		u_map_put(req.map_header, headers[i], headers[i + 1]);
	if (body)
		ulfius_set_request_properties(&req, U_OPT_BINARY_BODY, body, len, U_OPT_NONE);
	ck_assert_int_eq(ulfius_send_http_request(&req, &resp), U_OK);
	r.status = resp.status;
	r.text = strndup(resp.binary_body ? resp.binary_body : "", resp.binary_body_length);
	r.body = json_loads(r.text, JSON_DECODE_ANY, NULL);
	if (u_map_get_case(resp.map_header, "Content-Type"))
		r.content_type = strdup(u_map_get_case(resp.map_header, "Content-Type"));
	if (u_map_get_case(resp.map_header, "Retry-After"))
		r.retry_after = strdup(u_map_get_case(resp.map_header, "Retry-After"));
	if (u_map_get_case(resp.map_header, "Location"))
		r.location = strdup(u_map_get_case(resp.map_header, "Location"));
	if (u_map_get_case(resp.map_header, "X-Pets-Left"))
		r.pets_left = strdup(u_map_get_case(resp.map_header, "X-Pets-Left"));
	if (u_map_get_case(resp.map_header, "Cache-Control"))
		r.cache_control = strdup(u_map_get_case(resp.map_header, "Cache-Control"));
	if (u_map_get_case(resp.map_header, "X-Evil"))
		r.evil = strdup(u_map_get_case(resp.map_header, "X-Evil"));
	ulfius_clean_request(&req);
	ulfius_clean_response(&resp);
	return r;
}

static reply call(const char *method, const char *path, const char *const *headers, const char *body, size_t len)
{
	return call_at(KITCHEN_DEFAULT_BASE, method, path, headers, body, len);
}

/* GET on the styles API */
static reply styles_get(const char *path)
{
	return call_at(STYLES_DEFAULT_BASE, "GET", path, NULL, NULL, 0);
}

/* Sends raw bytes (for requests the client library would change) and
 * returns the status, with the whole response in out. */
static long raw_call(const char *request, char *out, size_t outlen)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t got = 0;
	ssize_t n;
	long status = -1;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(write(fd, request, strlen(request)), (ssize_t)strlen(request));
	while (got + 1 < outlen && (n = read(fd, out + got, outlen - got - 1)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(fd);
	sscanf(out, "HTTP/1.%*d %ld", &status);
	return status;
}

static const char *const KEY[] = { "X-Api-Key", "good", NULL };
static const char *const KEY_JSON[] = { "X-Api-Key", "good", "Content-Type", "application/json", NULL };

static void setup(void)
{
	for (int attempt = 0; attempt < 20; attempt++) {
		port = 20000 + (unsigned)(rand() % 30000);
		if (ulfius_init_instance(&srv, port, NULL, NULL) != U_OK)
			continue;
		cfg.validate_responses = validate_responses;
		ck_assert_int_eq(kitchen_register(&srv, KITCHEN_DEFAULT_BASE, &handlers, &cfg), 0);
		ck_assert_int_eq(styles_register(&srv, STYLES_DEFAULT_BASE, &styles_h, &cfg), 0);
		ck_assert_int_eq(dynamic_register(&srv, DYNAMIC_DEFAULT_BASE, &dynamic_h, &cfg), 0);
		ck_assert_int_eq(forms_register(&srv, FORMS_DEFAULT_BASE, &forms_h, &cfg), 0);
		ck_assert_int_eq(stripe_customers_register(&srv, "/stripe", &stripe_h, &cfg), 0);
		ck_assert_int_eq(custom_auth_register(&srv, CUSTOM_AUTH_DEFAULT_BASE, &custom_auth_h, &cfg), 0);
		ck_assert_int_eq(openapi32_register(&srv, OPENAPI32_DEFAULT_BASE, &openapi32_h, &cfg), 0);
		ck_assert_int_eq(pcre_limits_register(&srv, PCRE_LIMITS_DEFAULT_BASE, &pcre_limits_h, &cfg), 0);
		if (ulfius_start_framework(&srv) == U_OK)
			return;
		ulfius_clean_instance(&srv);
	}
	ck_abort_msg("no free port");
}

static void teardown(void)
{
	ulfius_stop_framework(&srv);
	ulfius_clean_instance(&srv);
	rt_api_release_all();
}

/* ---- security ---- */

START_TEST(missing_credentials_401)
{
	reply r = call("GET", "/pets", NULL, NULL, 0);
	ck_assert_int_eq(r.status, 401);
	ck_assert_str_eq(r.content_type, "application/problem+json");
	ck_assert_str_eq(json_string_value(json_object_get(r.body, "detail")), "Credentials are required");
	reply_free(&r);
}
END_TEST

START_TEST(wrong_credentials_401)
{
	static const char *const h[] = { "X-Api-Key", "bad", NULL };
	reply r = call("GET", "/pets", h, NULL, 0);
	ck_assert_int_eq(r.status, 401);
	ck_assert_str_eq(json_string_value(json_object_get(r.body, "detail")), "The credential is not valid");
	reply_free(&r);
}
END_TEST

START_TEST(header_key_200_and_defaults)
{
	reply r = call("GET", "/pets", KEY, NULL, 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(seen_limit, 20); /* default from a $ref into common.yaml */
	ck_assert_int_eq(seen_tags, -1);
	ck_assert_int_eq(seen_user, 1);
	ck_assert_str_eq(r.content_type, "application/json");
	reply_free(&r);
}
END_TEST

START_TEST(all_of_set_needs_both)
{
	static const char *const bearer[] = { "Authorization", "Bearer tok", NULL };
	reply r = call("GET", "/pets", bearer, NULL, 0);
	ck_assert_int_eq(r.status, 401); /* bearer alone is half of the second set */
	reply_free(&r);
	r = call("GET", "/pets?key=qk", bearer, NULL, 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(seen_user, 2);
	reply_free(&r);
}
END_TEST

START_TEST(rate_limited_429)
{
	static const char *const h[] = { "X-Api-Key", "slow-down", NULL };
	reply r = call("GET", "/pets", h, NULL, 0);
	ck_assert_int_eq(r.status, 429);
	ck_assert_str_eq(r.retry_after, "7");
	reply_free(&r);
}
END_TEST

/* ---- routes and parameters ---- */

START_TEST(literal_segment_wins_and_security_empty)
{
	reply r = call("GET", "/pets/latest", NULL, NULL, 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(json_string_value(json_object_get(r.body, "name")), "Newest");
	reply_free(&r);
}
END_TEST

START_TEST(path_integer_coerced)
{
	reply r = call("GET", "/pets/7?verbose=true", KEY, NULL, 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(json_integer_value(json_object_get(r.body, "id")), 7);
	ck_assert_str_eq(json_string_value(json_object_get(r.body, "name")), "Verbose");
	reply_free(&r);
	r = call("GET", "/pets/404", KEY, NULL, 0);
	ck_assert_int_eq(r.status, 404);
	reply_free(&r);
}
END_TEST

START_TEST(path_not_an_integer_400)
{
	reply r = call("GET", "/pets/abc", KEY, NULL, 0);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(r.body, "detail")),
	                             "path parameter \"petId\" must be an integer"));
	reply_free(&r);
}
END_TEST

START_TEST(query_bounds_and_arrays)
{
	reply r = call("GET", "/pets?limit=500", KEY, NULL, 0);
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(r.body, "errors"), 0), "keyword")),
	                 "maximum");
	reply_free(&r);
	r = call("GET", "/pets?limit=3&tags=a,b,c", KEY, NULL, 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(seen_limit, 3);
	ck_assert_int_eq(seen_tags, 3);
	ck_assert_str_eq(seen_tag0, "a");
	reply_free(&r);
	/* a comma sent encoded is part of its item, not a separator (ulfius's
	   decoded value alone would read "a,b,c" as three) */
	r = call("GET", "/pets?limit=3&tags=a%2Cb,c", KEY, NULL, 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(seen_tags, 2);
	ck_assert_str_eq(seen_tag0, "a,b");
	reply_free(&r);
	r = call("GET", "/pets?limit=3&tags=x+y%2c,%2C", KEY, NULL, 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(seen_tags, 2);
	ck_assert_str_eq(seen_tag0, "x y,");
	reply_free(&r);
	/* a parameter of one value given twice is refused as that, not read
	   as ulfius's joined "3,4" (which said "must be an integer, got 3,4",
	   and for a string passed as one value) */
	r = call("GET", "/pets?limit=3&limit=4", KEY, NULL, 0);
	ck_assert_int_eq(r.status, 400);
	ck_assert_msg(strstr(r.text, "query parameter \\\"limit\\\" is given 2 times; it takes one value") != NULL, "%s", r.text);
	reply_free(&r);
	r = call("GET", "/pets?limit=3&tags=a&limit=3&limit=3", KEY, NULL, 0);
	ck_assert_int_eq(r.status, 400);
	ck_assert_msg(strstr(r.text, "is given 3 times") != NULL, "%s", r.text);
	reply_free(&r);
	/* a comma that is part of the one value is not a second value */
	r = call("GET", "/pets?limit=3%2C4", KEY, NULL, 0);
	ck_assert_int_eq(r.status, 400);
	ck_assert_msg(strstr(r.text, "must be an integer") != NULL, "%s", r.text);
	reply_free(&r);
}
END_TEST

START_TEST(header_format_checked)
{
	static const char *const h[] = { "X-Api-Key", "good", "X-Trace", "not-a-uuid", NULL };
	reply r = call("GET", "/pets", h, NULL, 0);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(r.text, "header parameter \\\"X-Trace\\\" must be a valid uuid"));
	reply_free(&r);
}
END_TEST

/* ---- bodies ---- */

START_TEST(body_without_content_type_415)
{
	/* what the NebulaBlock docs' curl example sends: no Content-Type */
	const char *b = "{\"name\":\"Tom\",\"kind\":\"cat\"}";
	char req[512], resp[2048];
	snprintf(req, sizeof req, "POST /kitchen/v1/pets HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: good\r\n"
	         "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", strlen(b), b);
	ck_assert_int_eq(raw_call(req, resp, sizeof resp), 415);
	ck_assert_ptr_nonnull(strstr(resp, "no Content-Type header"));
}
END_TEST

START_TEST(body_wrong_content_type_415)
{
	static const char *const h[] = { "X-Api-Key", "good", "Content-Type", "text/plain", NULL };
	const char *b = "{}";
	reply r = call("POST", "/pets", h, b, strlen(b));
	ck_assert_int_eq(r.status, 415);
	reply_free(&r);
}
END_TEST

START_TEST(body_trailing_comma_400_with_position)
{
	const char *b = "{\n  \"name\": \"Tom\",\n}";
	reply r = call("POST", "/pets", KEY_JSON, b, strlen(b));
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(r.body, "detail")), "line 3, column 1"));
	reply_free(&r);
}
END_TEST

START_TEST(body_schema_all_violations_422)
{
	const char *b = "{\"id\": 5, \"name\": \"\", \"kind\": \"cow\", \"extra\": 1}";
	reply r = call("POST", "/pets", KEY_JSON, b, strlen(b));
	json_t *errs;
	int seen_ro = 0, seen_min = 0, seen_enum = 0, seen_addl = 0;
	ck_assert_int_eq(r.status, 422); /* the operation documents 422, so validation uses it */
	errs = json_object_get(r.body, "errors");
	for (size_t i = 0; i < json_array_size(errs); i++) {
		const char *kw = json_string_value(json_object_get(json_array_get(errs, i), "keyword"));
		const char *ptr = json_string_value(json_object_get(json_array_get(errs, i), "pointer"));
		seen_ro |= strcmp(kw, "readOnly") == 0 && strcmp(ptr, "/id") == 0;
		seen_min |= strcmp(kw, "minLength") == 0 && strcmp(ptr, "/name") == 0;
		seen_enum |= strcmp(kw, "enum") == 0 && strcmp(ptr, "/kind") == 0;
		seen_addl |= strcmp(kw, "additionalProperties") == 0 && strcmp(ptr, "/extra") == 0;
	}
	ck_assert(seen_ro && seen_min && seen_enum && seen_addl);
	reply_free(&r);
}
END_TEST

START_TEST(body_valid_201_readonly_not_required)
{
	const char *b = "{\"name\": \"Tom\", \"kind\": \"cat\", \"details\": {\"type\": \"Cat\", \"indoor\": true}}";
	reply r = call("POST", "/pets", KEY_JSON, b, strlen(b));
	ck_assert_int_eq(r.status, 201);
	ck_assert_int_eq(json_integer_value(json_object_get(r.body, "id")), 42);
	reply_free(&r);
}
END_TEST

/* The builder sends the headers the spec documents, typed: the handler's
 * Location and X-Pets-Left, and the spec's one value of Cache-Control. */
START_TEST(typed_response_headers)
{
	const char *b = "{\"name\": \"Tom\", \"kind\": \"cat\"}";
	reply r = call("POST", "/pets", KEY_JSON, b, strlen(b));
	ck_assert_int_eq(r.status, 201);
	ck_assert_str_eq(r.location, "/kitchen/v1/pets/42");
	ck_assert_str_eq(r.pets_left, "7");
	ck_assert_str_eq(r.cache_control, "no-store");
	reply_free(&r);
}
END_TEST

/* A required header the handler leaves out, or a value with CR LF, is a
 * 500 naming the header; nothing of the value is sent. */
START_TEST(typed_response_headers_refused)
{
	static const char *const bodies[] = { "{\"name\": \"Nowhere\", \"kind\": \"cat\"}",
	                                      "{\"name\": \"Split\", \"kind\": \"cat\"}" };

	for (size_t i = 0; i < 2; i++) {
		reply r = call("POST", "/pets", KEY_JSON, bodies[i], strlen(bodies[i]));
		const char *detail = json_string_value(json_object_get(r.body, "detail"));
		ck_assert_int_eq(r.status, 500);
		ck_assert_msg(detail && strstr(detail, "Location"), "%s", r.text);
		ck_assert_ptr_null(r.evil);
		ck_assert_ptr_null(r.location);
		reply_free(&r);
	}
}
END_TEST

START_TEST(body_too_large_413)
{
	size_t n = 70 * 1024;
	char *b = malloc(n);
	memset(b, ' ', n);
	b[0] = '{';
	b[n - 1] = '}';
	reply r = call("POST", "/pets", KEY_JSON, b, n);
	ck_assert_int_eq(r.status, 413);
	reply_free(&r);
	free(b);
}
END_TEST

START_TEST(no_handler_501)
{
	static const char *const h[] = { "X-Api-Key", "good", "Content-Type", "application/json", NULL };
	const char *b = "{\"value\": 1.5}";
	reply r = call("PUT", "/trees", h, b, strlen(b));
	ck_assert_int_eq(r.status, 501);
	reply_free(&r);
}
END_TEST

START_TEST(recursive_body_validated_deep)
{
	const char *b = "{\"children\": [{\"children\": [{\"value\": 0.3}]}]}";
	reply r = call("PUT", "/trees", KEY_JSON, b, strlen(b));
	ck_assert_int_eq(r.status, 400); /* putTree lists no 422 */
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(r.body, "errors"), 0), "pointer")),
	                 "/children/0/children/0/value");
	reply_free(&r);
}
END_TEST

START_TEST(response_validation_500)
{
	const char *b = "{\"name\": \"Liar\", \"kind\": \"cat\"}";
	reply r = call("POST", "/pets", KEY_JSON, b, strlen(b));
	ck_assert_int_eq(r.status, 500);
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(r.body, "detail")), "violates the spec"));
	reply_free(&r);
}
END_TEST

/* A typed response breaking what its C type cannot carry (maxLength,
 * pattern) is caught in test mode: a 500 naming the keyword and the field. */
START_TEST(response_validation_max_length_and_pattern)
{
	static const struct {
		const char *path, *keyword;
	} cases[] = { { "/pets/900", "maxLength" }, { "/pets/901", "pattern" } };

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		reply r = call("GET", cases[i].path, KEY, NULL, 0);
		const json_t *e0 = json_array_get(json_object_get(r.body, "errors"), 0);
		const char *detail = json_string_value(json_object_get(r.body, "detail"));
		ck_assert_int_eq(r.status, 500);
		ck_assert_msg(detail && strstr(detail, "violates the spec: /name"), "%s: %s", cases[i].path, r.text);
		ck_assert_msg(e0 && strcmp(json_string_value(json_object_get(e0, "keyword")), cases[i].keyword) == 0,
		              "%s: want %s: %s", cases[i].path, cases[i].keyword, r.text);
		reply_free(&r);
	}
}
END_TEST

/* kitchen_validate_response: a response as a client received it. */
static const struct {
	int line;
	const char *op;
	int status;
	const char *ctype, *body;
	int want;            /* violations, -1 unknown operation */
	const char *keyword; /* of the first violation */
} check_cases[] = {
	{ __LINE__, "getPet", 200, "application/json", "{\"id\":1,\"name\":\"Rex\",\"kind\":\"dog\"}", 0, NULL },
	{ __LINE__, "getPet", 200, "application/json; charset=utf-8", "{\"id\":1,\"name\":\"Rex\",\"kind\":\"dog\"}", 0, NULL },
	{ __LINE__, "getPet", 200, "application/json", "{\"id\":1,\"name\":\"Rex\",\"kind\":\"cow\"}", 1, "enum" },
	{ __LINE__, "getPet", 200, "application/json", "{\"name\":\"\",\"kind\":\"cow\"}", 4, "required" }, /* id, minLength, pattern, enum */
	{ __LINE__, "getPet", 200, "application/json", "{\"id\":1,", 1, "json" },
	{ __LINE__, "getPet", 200, "text/html", "<p>", 1, "content-type" },
	{ __LINE__, "getPet", 200, NULL, NULL, 1, "body" },
	{ __LINE__, "getPet", 404, NULL, NULL, 0, NULL },
	{ __LINE__, "getPet", 404, "text/plain", "gone", 1, "body" },
	{ __LINE__, "getPet", 418, NULL, NULL, 1, "status" },
	{ __LINE__, "createPet", 500, "application/json", "{\"code\":\"E1\",\"message\":\"x\"}", 0, NULL }, /* default */
	{ __LINE__, "createPet", 500, "application/json", "{\"code\":500,\"message\":\"x\"}", 1, "type" },
	{ __LINE__, "noSuchOp", 200, NULL, NULL, -1, "operation" },
};

START_TEST(validate_response_table)
{
	for (size_t i = 0; i < sizeof check_cases / sizeof check_cases[0]; i++) {
		rt_errors e;
		int n;
		rt_errors_init(&e);
		n = kitchen_validate_response(check_cases[i].op, check_cases[i].status, check_cases[i].ctype,
		                              check_cases[i].body, check_cases[i].body ? strlen(check_cases[i].body) : 0, &e);
		ck_assert_msg(n == check_cases[i].want, "line %d: %d violations, want %d (%s)", check_cases[i].line, n,
		              check_cases[i].want, e.n ? e.v[0].message : "");
		if (check_cases[i].keyword)
			ck_assert_msg(e.n && strcmp(e.v[0].keyword, check_cases[i].keyword) == 0, "line %d: keyword %s, want %s",
			              check_cases[i].line, e.n ? e.v[0].keyword : "(none)", check_cases[i].keyword);
		rt_errors_free(&e);
	}
}
END_TEST

START_TEST(spec_served)
{
	reply r = call("GET", "/openapi.json", NULL, NULL, 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r.body, "info"), "title")), "Kitchen");
	reply_free(&r);
	r = call("GET", "/openapi.yaml", NULL, NULL, 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.text, "openapi: 3.0.3"));
	reply_free(&r);
}
END_TEST

/* ---- parameter styles (the styles fixture) ---- */

/* GET path on the styles API answers 200 with exactly the JSON want. */
static void expect_echo(const char *path, const char *want)
{
	json_t *w = json_loads(want, 0, NULL);
	reply r = styles_get(path);
	ck_assert_msg(r.status == 200, "%s: status %ld: %s", path, r.status, r.text);
	ck_assert_ptr_nonnull(w);
	ck_assert_msg(json_equal(r.body, w), "%s: got %s, want %s", path, r.text, want);
	json_decref(w);
	reply_free(&r);
}

/* GET path answers 400 whose errors include one at pointer with keyword
 * whose message contains text. */
static void expect_error(const char *path, const char *pointer, const char *keyword, const char *text)
{
	reply r = styles_get(path);
	json_t *errs = json_object_get(r.body, "errors");
	int found = 0;
	ck_assert_msg(r.status == 400, "%s: status %ld: %s", path, r.status, r.text);
	for (size_t i = 0; i < json_array_size(errs); i++) {
		json_t *e = json_array_get(errs, i);
		found |= strcmp(json_string_value(json_object_get(e, "pointer")), pointer) == 0 &&
		         strcmp(json_string_value(json_object_get(e, "keyword")), keyword) == 0 &&
		         strstr(json_string_value(json_object_get(e, "message")), text) != NULL;
	}
	ck_assert_msg(found, "%s: no %s error at \"%s\" saying \"%s\" in %s", path, keyword, pointer, text, r.text);
	reply_free(&r);
}

START_TEST(label_styles)
{
	expect_echo("/label/.5/.1,2,3/.R,100,G,200", "{\"prim\":5,\"arr\":[1,2,3],\"obj\":{\"R\":100,\"G\":200}}");
	expect_echo("/labelx/.5/.1.2.3/.R=100.G=200", "{\"prim\":5,\"arr\":[1,2,3],\"obj\":{\"R\":100,\"G\":200}}");
	/* (an empty label value, ".", is a dot segment clients remove from the path) */
	expect_echo("/label/.7/.4/.B,0", "{\"prim\":7,\"arr\":[4],\"obj\":{\"B\":0}}");
}
END_TEST

START_TEST(matrix_styles)
{
	expect_echo("/matrix/;prim=5/;arr=1,2,3/;obj=R,100,G,200", "{\"prim\":5,\"arr\":[1,2,3],\"obj\":{\"R\":100,\"G\":200}}");
	expect_echo("/matrixx/;prim=5/;arr=1;arr=2;arr=3/;R=100;G=200;B=0",
	            "{\"prim\":5,\"arr\":[1,2,3],\"obj\":{\"R\":100,\"G\":200,\"B\":0}}");
	expect_echo("/matrixx/;prim=9/;arr/;B=1", "{\"prim\":9,\"arr\":[],\"obj\":{\"B\":1}}");
	expect_echo("/matrix/;prim=9/;arr=/;obj", "{\"prim\":9,\"arr\":[],\"obj\":{}}");
}
END_TEST

START_TEST(label_matrix_invalid_400)
{
	expect_error("/label/5/.1/.R,1", "", "style", "path parameter \"prim\" must start with \".\" (label style)");
	expect_error("/label/.5/.1,x/.R,1", "/1", "type", "path parameter \"arr\" at /1 must be an integer, got \"x\"");
	expect_error("/label/.0/.1/.R,1", "", "minimum", "path parameter \"prim\" must be at least 1");
	expect_error("/labelx/.5/.1.2.3.4/.R=1", "", "maxItems", "path parameter \"arr\" must have at most 3 items");
	expect_error("/labelx/.5/.1/.R", "", "style", "path parameter \"obj\" must be name=value pairs");
	expect_error("/labelx/.5/.1/.R=300", "/R", "maximum", "path parameter \"obj\" at /R must be at most 255");
	expect_error("/matrix/;p=5/;arr=1/;obj=R,1", "", "style", "path parameter \"prim\" must start with \";prim=\"");
	expect_error("/matrix/;prim=5/;arr=1/;obj=R,1,G", "", "style", "path parameter \"obj\" must be name,value pairs");
	expect_error("/matrix/;prim=5/;arr=1/;obj=R,red", "/R", "type", "path parameter \"obj\" at /R must be an integer");
	expect_error("/matrixx/;prim=5/;arr=1;other=2/;R=1", "/1", "style", "path parameter \"arr\": item 1 must be written \"arr=<value>\"");
	expect_error("/matrixx/;prim=5/;arr=1/;R=1;X=2", "/X", "additionalProperties", "path parameter \"obj\" at /X is not allowed");
	expect_error("/matrixx/prim=5/;arr=1/;R=1", "", "style", "path parameter \"prim\" must start with \";prim\"");
	/* every bad parameter of the request is reported, not just the first */
	{
		reply r = styles_get("/matrix/5/;arr=x/;obj=R");
		ck_assert_int_eq(r.status, 400);
		ck_assert_int_eq(json_array_size(json_object_get(r.body, "errors")), 3);
		reply_free(&r);
	}
}
END_TEST

START_TEST(simple_and_form_objects)
{
	expect_echo("/simple/R=1,G=2?R=3&B=4&other=x", "{\"obj\":{\"R\":1,\"G\":2},\"form\":{\"R\":3,\"B\":4}}");
	expect_echo("/simple/B=9", "{\"obj\":{\"B\":9},\"form\":null}");
	expect_error("/simple/R=1?G=256", "/G", "maximum", "query parameter \"form\" at /G must be at most 255");
	expect_error("/simple/R,1", "", "style", "path parameter \"obj\" must be name=value pairs");
}
END_TEST

START_TEST(deep_object)
{
	expect_echo("/deep?filter[color]=red&filter[size]=2&page=3",
	            "{\"filter\":{\"color\":\"red\",\"size\":2},\"page\":3,\"where\":null}");
	expect_echo("/deep?filter%5Bcolor%5D=blue&filter%5Btags%5D=a&filter%5Btags%5D=b",
	            "{\"filter\":{\"color\":\"blue\",\"tags\":[\"a\",\"b\"]},\"page\":-1,\"where\":null}");
	expect_error("/deep?filter[color]=red&filter[size]=x", "/size", "type",
	             "query parameter \"filter\" at /size must be an integer, got \"x\"");
	expect_error("/deep?filter[color]=red&filter[size]=11", "/size", "maximum",
	             "query parameter \"filter\" at /size must be at most 10");
	expect_error("/deep?filter[color]=green", "/color", "enum", "query parameter \"filter\" at /color must be one of");
	expect_error("/deep?filter[color]=red&filter[shape]=round", "/shape", "additionalProperties",
	             "query parameter \"filter\" at /shape is not allowed");
	expect_error("/deep?filter[size]=2", "", "required", "query parameter \"filter\" must have the required property \"color\"");
	expect_error("/deep?page=1", "", "required", "query parameter \"filter\" is required");
	expect_error("/deep?filter=red", "", "required", "query parameter \"filter\" is required");
	/* nesting follows the schema: color is a string */
	expect_error("/deep?filter[color][x]=red", "/color", "style", "\"filter[color][x]\": /color is not an object (deepObject style)");
	/* a content-encoded parameter is JSON text, not a comma list */
	expect_echo("/deep?filter[color]=red&where=%5B1,%202%5D", "{\"filter\":{\"color\":\"red\"},\"page\":-1,\"where\":[1,2]}");
	expect_error("/deep?filter[color]=red&where=%5B1,2,3%5D", "", "maxItems", "query parameter \"where\" must have at most 2 items");
}
END_TEST

/* ---- arrays of objects in every style but deepObject: an item its JSON text ---- */

/* text with every byte but unreserved ones and those in keep percent-encoded (static buffer) */
static const char *pct(const char *text, const char *keep)
{
	static char out[8][1024];
	static int turn;
	char *o = out[turn++ % 8], *start = o;

	for (const unsigned char *c = (const unsigned char *)text; *c && o - start < 1000; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("-._~", *c) ||
		    strchr(keep, *c))
			*o++ = (char)*c;
		else
			o += sprintf(o, "%%%02X", *c);
	}
	*o = '\0';
	return start;
}

START_TEST(object_items_in_path)
{
	char path[1024];

	/* simple, label and matrix, explode false and true: commas, dots and
	 * semicolons inside an object's text are its own */
	snprintf(path, sizeof path, "/pixels/%s/%s/%s/%s/%s", pct("{\"x\":1},{\"x\":2,\"tag\":\"a,b\"}", ","),
	         pct(".{\"x\":3},{\"x\":4}", ".,"), pct(".{\"x\":5}.{\"x\":6,\"tag\":\"1.5\"}", "."),
	         pct(";matrix={\"x\":7},{\"x\":8}", ";=,"), pct(";matrixx={\"x\":9};matrixx={\"x\":0,\"tag\":\"a;b\"}", ";="));
	expect_echo(path, "{\"simple\":[{\"x\":1},{\"x\":2,\"tag\":\"a,b\"}],\"label\":[{\"x\":3},{\"x\":4}],"
	                  "\"labelx\":[{\"x\":5},{\"x\":6,\"tag\":\"1.5\"}],\"matrix\":[{\"x\":7},{\"x\":8}],"
	                  "\"matrixx\":[{\"x\":9},{\"x\":0,\"tag\":\"a;b\"}]}");
	/* each item validated against the item schema */
	snprintf(path, sizeof path, "/pixels/%s/.%s/.%s/;matrix=%s/;matrixx=%s", pct("{\"x\":1},{\"x\":12}", ","),
	         pct("{\"x\":1}", ""), pct("{\"x\":1}", ""), pct("{\"x\":1}", ""), pct("{\"x\":1}", ""));
	expect_error(path, "/1/x", "maximum", "path parameter \"simple\" at /1/x must be at most 9");
	snprintf(path, sizeof path, "/pixels/%s/.%s/.%s/;matrix=%s/;matrixx=%s", pct("{\"x\":1}", ""), pct("{\"x\":1}", ""),
	         pct("{\"x\":1}", ""), pct("{\"x\":1}", ""), pct("x=1", "="));
	expect_error(path, "/0", "type", "path parameter \"matrixx\" at /0 must be an object as JSON text");
}
END_TEST

START_TEST(object_items_in_query_and_header)
{
	static const char *const hdr[] = { "X-Pixels", "{\"x\":1},{\"x\":2,\"tag\":\"a, b\"}", NULL };
	char path[1024];
	reply r;
	json_t *want;

	/* form explode true: each form=<JSON> an item; explode false: one list */
	snprintf(path, sizeof path, "/pixels?form=%s&form=%s&formflat=%s", pct("{\"x\":1}", ""),
	         pct("{\"x\":2,\"tag\":\"a,b\"}", ""), pct("{\"x\":3},{\"x\":4,\"tag\":\"}\"}", ","));
	expect_echo(path, "{\"form\":[{\"x\":1},{\"x\":2,\"tag\":\"a,b\"}],\"formflat\":[{\"x\":3},{\"x\":4,\"tag\":\"}\"}]}");
	/* spaceDelimited and pipeDelimited, explode false (one value, split) and true (repeated, as form) */
	snprintf(path, sizeof path, "/pixels?space=%s&spacex=%s&spacex=%s&pipe=%s&pipex=%s&pipex=%s",
	         pct("{\"x\":1} {\"x\":2,\"tag\":\"a b\"}", ""), pct("{\"x\":3}", ""), pct("{\"x\":4,\"tag\":\"c d\"}", ""),
	         pct("{\"x\":5}|{\"x\":6,\"tag\":\"e|f\"}", "|"), pct("{\"x\":7}", ""), pct("{\"x\":8}", ""));
	expect_echo(path, "{\"space\":[{\"x\":1},{\"x\":2,\"tag\":\"a b\"}],\"spacex\":[{\"x\":3},{\"x\":4,\"tag\":\"c d\"}],"
	                  "\"pipe\":[{\"x\":5},{\"x\":6,\"tag\":\"e|f\"}],\"pipex\":[{\"x\":7},{\"x\":8}]}");
	/* a header, simple */
	r = call_at(STYLES_DEFAULT_BASE, "GET", "/pixels", hdr, NULL, 0);
	want = json_loads("{\"header\":[{\"x\":1},{\"x\":2,\"tag\":\"a, b\"}]}", 0, NULL);
	ck_assert_msg(r.status == 200 && json_equal(r.body, want), "X-Pixels: %ld %s", r.status, r.text);
	json_decref(want);
	reply_free(&r);
	/* what is not an object's text, or breaks the item schema, or the array's */
	expect_error("/pixels?form=x", "/0", "type", "query parameter \"form\" at /0 must be an object as JSON text");
	snprintf(path, sizeof path, "/pixels?formflat=%s", pct("{\"x\":1}x,{\"x\":2}", ","));
	expect_error(path, "/0", "type", "query parameter \"formflat\" at /0 must be an object as JSON text");
	snprintf(path, sizeof path, "/pixels?form=%s&form=%s", pct("{\"x\":1}", ""), pct("{\"y\":1}", ""));
	expect_error(path, "/1/y", "additionalProperties", "query parameter \"form\" at /1/y is not allowed");
	expect_error(path, "/1", "required", "query parameter \"form\" at /1 must have the required property \"x\"");
	snprintf(path, sizeof path, "/pixels?pipe=%s", pct("{\"x\":1}|{\"x\":2}|{\"x\":3}|{\"x\":4}", "|"));
	expect_error(path, "", "maxItems", "query parameter \"pipe\" must have at most 3 items");
}
END_TEST

/* ---- any HTTP scheme, scopes and the application's principal (custom_auth) ---- */

/* method path with Authorization: authz answers status; for 200 the body
 * says the scheme, credential and scopes the hook got. */
static void custom_call(const char *method, const char *path, const char *authz, long status, const char *want)
{
	const char *const h[] = { "Authorization", authz, NULL };
	reply r = call_at(CUSTOM_AUTH_DEFAULT_BASE, method, path, authz ? h : NULL, NULL, 0);
	json_t *w = want ? json_loads(want, 0, NULL) : NULL;

	ck_assert_msg(r.status == status, "%s %s (%s): status %ld: %s", method, path, authz, r.status, r.text);
	if (want)
		ck_assert_msg(json_equal(r.body, w), "%s %s: got %s, want %s", method, path, r.text, want);
	json_decref(w);
	reply_free(&r);
}

START_TEST(custom_schemes_and_scopes)
{
	principals_made = principals_freed = 0;
	custom_call("GET", "/timeline", "OAuth oauth_consumer_key=\"k\", oauth_signature=\"s\"", 200,
	            "{\"scheme\":\"OAuth\",\"credential\":\"OAuth oauth_consumer_key=\\\"k\\\", oauth_signature=\\\"s\\\"\",\"scopes\":[]}");
	custom_call("GET", "/timeline", "oauth oauth_signature=x", 200, NULL); /* scheme words are case-insensitive */
	custom_call("GET", "/timeline", "OAuth oauth_consumer_key=k", 401, NULL);
	custom_call("GET", "/timeline", "Bearer oauth_signature=x", 401, NULL);
	custom_call("GET", "/timeline", "OAuthx oauth_signature=x", 401, NULL);
	custom_call("GET", "/timeline", NULL, 401, NULL);
	/* the scopes each requirement lists reach the hook, which enforces them */
	custom_call("GET", "/pets", "Bearer tok-read", 200,
	            "{\"scheme\":\"oauth2\",\"credential\":\"tok-read\",\"scopes\":[\"read:pets\"]}");
	custom_call("POST", "/pets", "Bearer tok-read", 403, NULL);
	custom_call("POST", "/pets", "Bearer tok-all", 200,
	            "{\"scheme\":\"oauth2\",\"credential\":\"tok-all\",\"scopes\":[\"write:pets\",\"read:pets\"]}");
	custom_call("POST", "/pets", "HMAC-SHA256 Credential=a, Signature=ok", 200,
	            "{\"scheme\":\"HMAC-SHA256\",\"credential\":\"HMAC-SHA256 Credential=a, Signature=ok\",\"scopes\":[\"pets.admin\"]}");
	custom_call("POST", "/pets", "HMAC-SHA256 Signature=bad", 401, NULL);
	/* every principal the hook made was freed after its response */
	ck_assert_int_eq(principals_made, 5);
	ck_assert_int_eq(principals_freed, principals_made);
}
END_TEST

/* ---- OpenAPI 3.2 (the openapi32 fixture) ---- */

/* method path with headers and body on the 3.2 API: status, and the body
 * equal to want (JSON) when given, or containing text. */
static void v32_call(const char *method, const char *path, const char *const *h, const char *body, long status,
                     const char *want)
{
	reply r = call_at(OPENAPI32_DEFAULT_BASE, method, path, h, body, body ? strlen(body) : 0);
	json_t *w = want && want[0] == '{' ? json_loads(want, 0, NULL) : NULL;

	ck_assert_msg(r.status == status, "%s %s: status %ld: %s", method, path, r.status, r.text);
	if (w)
		ck_assert_msg(json_equal(r.body, w), "%s %s: got %s, want %s", method, path, r.text, want);
	else if (want)
		ck_assert_msg(strstr(r.text, want) != NULL, "%s %s: %s lacks \"%s\"", method, path, r.text, want);
	json_decref(w);
	reply_free(&r);
}

/* ---- patterns beyond PCRE2's limits (the pcre_limits fixture) ---- */

/* POST /notes with body: status, and a body containing want when given */
static void note_call(const char *body, long status, const char *want)
{
	static const char *const json[] = { "Content-Type", "application/json", NULL };
	reply r = call_at(PCRE_LIMITS_DEFAULT_BASE, "POST", "/notes", json, body, strlen(body));

	ck_assert_msg(r.status == status, "%s: status %ld: %s", body, r.status, r.text);
	if (want)
		ck_assert_msg(strstr(r.text, want) != NULL, "%s: %s lacks \"%s\"", body, r.text, want);
	reply_free(&r);
}

START_TEST(pcre_limits_start_and_validate)
{
	/* the server started (setup registered the API): each other keyword holds */
	seen_note[0] = '\0';
	note_call("{\"text\":\"hi\",\"tag\":\"AB\",\"head\":\"a1\",\"kind\":\"a\"}", 204, NULL);
	ck_assert_str_eq(seen_note, "hi");
	note_call("{\"text\":\"123456789\",\"tag\":\"AB\",\"head\":\"a\"}", 400, "maxLength");
	note_call("{\"text\":\"hi\",\"tag\":\"AB\",\"head\":\"a\",\"kind\":\"c\"}", 400, "must be one of");
	note_call("{\"text\":\"hi\",\"tag\":\"AB\"}", 400, "head");
	note_call("{\"text\":\"hi\",\"tag\":\"AB\",\"head\":\"a\",\"x\":1}", 400, NULL);
	/* ^.{0,262144}$ is not enforced (oapigen warned): a line break passes */
	note_call("{\"text\":\"a\\nb\",\"tag\":\"AB\",\"head\":\"a\"}", 204, NULL);
	/* the tag's class without its lone surrogates is [A-Z]: enforced, and no
	 * half of U+1F600's surrogate pair matches it */
	note_call("{\"text\":\"hi\",\"tag\":\"Ab\",\"head\":\"a\"}", 400, "pattern");
	note_call("{\"text\":\"hi\",\"tag\":\"A\xf0\x9f\x98\x80\",\"head\":\"a\"}", 400, "pattern");
	note_call("{\"text\":\"hi\",\"tag\":\"A\\ud83d\\ude00\",\"head\":\"a\"}", 400, "pattern");
	/* ^[a-z]{1,2097152} searched as ^[a-z]{1}: the first character decides */
	note_call("{\"text\":\"hi\",\"tag\":\"AB\",\"head\":\"1a\"}", 400, "pattern");
	note_call("{\"text\":\"hi\",\"tag\":\"AB\",\"head\":\"\"}", 400, "pattern");
}
END_TEST

START_TEST(v32_query_method_and_additional_operations)
{
	static const char *const json[] = { "Content-Type", "application/json", NULL };
	static const char *const link[] = { "Link", "</items/1>; rel=\"item\"", NULL };

	/* QUERY with a body, its schema reached through $self's URI */
	v32_call("QUERY", "/items", json, "{\"color\":\"red\",\"max\":5}", 200, "{\"filter\":{\"color\":\"red\",\"max\":5}}");
	v32_call("QUERY", "/items", json, "{\"color\":\"green\"}", 400, "must be one of");
	v32_call("QUERY", "/items", NULL, NULL, 400, "A request body is required");
	/* LINK from additionalOperations, as sent */
	seen_link[0] = '\0';
	v32_call("LINK", "/items", link, NULL, 204, NULL);
	ck_assert_str_eq(seen_link, "</items/1>; rel=\"item\"");
	v32_call("LINK", "/items", NULL, NULL, 400, "Link\\\" is required");
}
END_TEST

START_TEST(v32_item_schema_each_item_validated)
{
	static const char *const jsonl[] = { "Content-Type", "application/jsonl", "Authorization", "Bearer tok", NULL };
	static const char *const sse[] = { "Content-Type", "text/event-stream", NULL };

	v32_call("POST", "/items", jsonl, "{\"sku\":\"ABC-1\",\"qty\":2}\n{\"sku\":\"XYZ-22\",\"qty\":1}\n\n", 200, "{\"count\":2}");
	v32_call("POST", "/items", jsonl, "{\"sku\":\"ABC-1\",\"qty\":2}\r\n{\"sku\":\"abc\",\"qty\":0}\n", 400,
	         "/1/qty");
	v32_call("POST", "/items", jsonl, "{\"sku\":\"ABC-1\",\"qty\":2}\n{oops\n", 400, "item 1 is not JSON");
	/* patterns with ECMA-262 \\u escapes */
	v32_call("POST", "/items", jsonl, "{\"sku\":\"ABC-1\",\"qty\":1,\"label\":\"plain ~ASCII\",\"mark\":\"\xf0\x9f\x98\x80\"}\n"
	         "{\"sku\":\"ABC-2\",\"qty\":1,\"mark\":\"\xc3\xa9\"}", 200, "{\"count\":2}");
	v32_call("POST", "/items", jsonl, "{\"sku\":\"ABC-1\",\"qty\":1,\"label\":\"caf\xc3\xa9\"}", 400, "/0/label");
	v32_call("POST", "/items", jsonl, "{\"sku\":\"ABC-1\",\"qty\":1,\"mark\":\"e\"}", 400, "/0/mark");
	/* Server-Sent Events: each event an object of its fields */
	v32_call("POST", "/events", sse, ": a comment\nevent: add\ndata: {\"a\":1}\nid: 7\n\nevent: remove\ndata: x\ndata: y\nretry: 30\n\n",
	         200, "{\"events\":[{\"event\":\"add\",\"data\":\"{\\\"a\\\":1}\",\"id\":\"7\"},"
	              "{\"event\":\"remove\",\"data\":\"x\\ny\",\"retry\":30}]}");
	v32_call("POST", "/events", sse, "event: rename\ndata: x\n\n", 400, "/0/event");
	v32_call("POST", "/events", sse, "event: add\n\n", 400, "item 0: must have the required property");
}
END_TEST

/* GET path on the 3.2 API answers status with exactly the bytes want and
 * Content-Type ctype, or (status 500) an error naming pointer and text. */
static void v32_stream(const char *path, long status, const char *ctype, const char *want, const char *pointer)
{
	reply r = call_at(OPENAPI32_DEFAULT_BASE, "GET", path, NULL, NULL, 0);

	ck_assert_msg(r.status == status, "%s: status %ld: %s", path, r.status, r.text);
	if (status == 200) {
		ck_assert_msg(r.content_type && strcmp(r.content_type, ctype) == 0, "%s: Content-Type %s", path, r.content_type);
		ck_assert_msg(strcmp(r.text, want) == 0, "%s: got [%s], want [%s]", path, r.text, want);
	} else {
		json_t *e0 = json_array_get(json_object_get(r.body, "errors"), 0);
		ck_assert_msg(e0 && strcmp(json_string_value(json_object_get(e0, "pointer")), pointer) == 0,
		              "%s: the first error is not at %s: %s", path, pointer, r.text);
		ck_assert_msg(strstr(r.text, want) != NULL, "%s: %s lacks \"%s\"", path, r.text, want);
	}
	reply_free(&r);
}

START_TEST(v32_item_schema_responses)
{
	/* JSON Lines: a compact text a line; each item validated (response validation is on) */
	v32_stream("/items", 200, "application/jsonl",
	           "{\"sku\":\"ABC-1\",\"qty\":2,\"label\":\"a \\\"b\\\" c\"}\n{\"sku\":\"XYZ-22\",\"qty\":1}\n", NULL);
	v32_stream("/items?mode=empty", 200, "application/jsonl", "", NULL);
	v32_stream("/items?mode=bad", 500, NULL, "response 200 of exportItems violates the spec: /1/qty: item 1 at /qty", "/1/qty");
	/* RFC 7464: each text after a record separator */
	v32_stream("/items/seq", 200, "application/json-seq", "\x1e{\"sku\":\"ABC-1\",\"qty\":1}\n", NULL);
	v32_stream("/items/seq?mode=bad", 500, NULL, "item 2 at /sku", "/2/sku");
	/* Server-Sent Events: the fields as lines, data a line per line, a blank line after each */
	v32_stream("/events", 200, "text/event-stream",
	           "event: add\ndata: {\"a\":1}\nid: 7\n\nevent: remove\ndata: x\ndata: y\ndata: \nretry: 30\n\ndata: \n\n", NULL);
	v32_stream("/events?mode=bad", 500, NULL, "item 1 at /event", "/1/event");
	/* a line break in id would forge a field: not written at all */
	v32_stream("/events?mode=unframed", 500, NULL, "cannot hold a line break", "/0");
}
END_TEST

/* openapi32_validate_response on streams, as a contract checker sees them */
static const struct {
	int line;
	const char *op, *ctype, *body;
	int want;
	const char *pointer; /* of the first violation */
} stream_cases[] = {
	{ __LINE__, "exportItems", "application/jsonl", "{\"sku\":\"ABC-1\",\"qty\":2}\n\n{\"sku\":\"ABC-2\",\"qty\":1}", 0, NULL },
	{ __LINE__, "exportItems", "application/jsonl", "", 0, NULL },
	{ __LINE__, "exportItems", "application/jsonl", "{\"sku\":\"ABC-1\",\"qty\":2}\n{\"sku\":\"ABC-2\",\"qty\":-1}\n", 1, "/1/qty" },
	{ __LINE__, "exportItems", "application/jsonl", "{\"sku\":\"ABC-1\",\"qty\":2}\n{\"sku\":\n", 1, "/1" },
	{ __LINE__, "exportItems", "application/json", "{\"sku\":\"ABC-1\",\"qty\":2}", 1, "" },
	{ __LINE__, "exportSeq", "application/json-seq", "\x1e{\"sku\":\"ABC-1\",\"qty\":1}\n\x1e{\"qty\":1}\n", 1, "/1" },
	{ __LINE__, "getEvents", "text/event-stream", "data: a\n\n: ping\n\nevent: remove\ndata: b\n\n", 0, NULL },
	{ __LINE__, "getEvents", "text/event-stream", "data: a\n\nevent: x\n\n", 2, "/1" }, /* required data, enum */
};

START_TEST(v32_validate_stream_response)
{
	for (size_t i = 0; i < sizeof stream_cases / sizeof stream_cases[0]; i++) {
		rt_errors e;
		int n;
		rt_errors_init(&e);
		n = openapi32_validate_response(stream_cases[i].op, 200, stream_cases[i].ctype, stream_cases[i].body,
		                                strlen(stream_cases[i].body), &e);
		ck_assert_msg(n == stream_cases[i].want, "line %d: %d violations, want %d (%s)", stream_cases[i].line, n,
		              stream_cases[i].want, e.n ? e.v[0].message : "");
		if (stream_cases[i].pointer)
			ck_assert_msg(e.n && strcmp(e.v[0].pointer, stream_cases[i].pointer) == 0, "line %d: pointer %s, want %s",
			              stream_cases[i].line, e.n ? e.v[0].pointer : "(none)", stream_cases[i].pointer);
		rt_errors_free(&e);
	}
}
END_TEST

START_TEST(v32_querystring_and_cookie_style)
{
	static const char *const cookie[] = { "Cookie", "session=s1", NULL };

	v32_call("GET", "/search?color=blue&max=10&tags=a&tags=b", cookie, NULL, 200,
	         "{\"q\":{\"color\":\"blue\",\"max\":10,\"tags\":[\"a\",\"b\"]},\"session\":\"s1\"}");
	v32_call("GET", "/search?color=red", NULL, NULL, 200, "{\"q\":{\"color\":\"red\"}}");
	v32_call("GET", "/search?max=101", NULL, NULL, 400, "at most 100");
	v32_call("GET", "/search?other=1", NULL, NULL, 400, "/other");
	v32_call("GET", "/search", NULL, NULL, 400, "q\\\" is required");
}
END_TEST

/* ---- Stripe's deepObject conventions (the stripe_customers fixture) ---- */

static const char *const STRIPE_AUTH[] = { "Authorization", "Bearer tok", NULL };
static const char *const STRIPE_FORM[] = { "Authorization", "Bearer tok", "Content-Type",
                                           "application/x-www-form-urlencoded", NULL };

/* GET /stripe/v1/customers?query: 200, and the handler saw expand and created as want_*. */
static void stripe_get(const char *query, const char *want_expand, const char *want_created)
{
	char path[512];
	reply r;

	snprintf(path, sizeof path, "/v1/customers%s", query);
	seen_expand[0] = seen_created[0] = '\0';
	r = call_at("/stripe", "GET", path, STRIPE_AUTH, NULL, 0);
	ck_assert_msg(r.status == 200, "%s: status %ld: %s", path, r.status, r.text);
	ck_assert_str_eq(seen_expand, want_expand);
	ck_assert_str_eq(seen_created, want_created);
	reply_free(&r);
}

/* GET /stripe/v1/customers?query: 400 with an error whose message contains text. */
static void stripe_get_400(const char *query, const char *text)
{
	char path[512];
	reply r;

	snprintf(path, sizeof path, "/v1/customers%s", query);
	r = call_at("/stripe", "GET", path, STRIPE_AUTH, NULL, 0);
	ck_assert_msg(r.status == 400 && strstr(r.text, text), "%s: status %ld: %s (want \"%s\")", path, r.status, r.text, text);
	reply_free(&r);
}

START_TEST(stripe_deep_object_arrays)
{
	stripe_get("?expand[]=data.default_source&expand[]=data.tax_ids", "[\"data.default_source\",\"data.tax_ids\"]", "absent");
	stripe_get("?expand%5B%5D=data.sources", "[\"data.sources\"]", "absent");
	stripe_get("?expand[0]=a&expand[1]=b", "[\"a\",\"b\"]", "absent");
	stripe_get("?expand[1]=b&expand[0]=a", "[\"a\",\"b\"]", "absent");
	stripe_get("?limit=3", "absent", "absent");
	/* created is anyOf [range object, integer]: either form */
	stripe_get("?created[gte]=1700000000&created[lt]=1800000000", "absent", "{\"gte\":1700000000,\"lt\":1800000000}");
	stripe_get("?created=1700000000", "absent", "1700000000");
	stripe_get_400("?expand[0]=a&expand[2]=c&limit=1", "item 1 is missing");
	stripe_get_400("?expand[5]=a", "leaves a gap");
	stripe_get_400("?expand[x]=a", "is not an object");
	stripe_get_400("?created[gt]=soon", "must be an integer");
	stripe_get_400("?expand[][x]=a", "[] must be the last bracket");
}
END_TEST

START_TEST(stripe_form_body_brackets)
{
	static const char body[] = "expand[]=sources&expand[]=tax_ids&metadata[order_id]=6735&metadata[channel]=web"
	                           "&tax_id_data[0][type]=eu_vat&tax_id_data[0][value]=DE123456789"
	                           "&tax_id_data[1][type]=gb_vat&tax_id_data[1][value]=GB123"
	                           "&address[city]=Berlin&address[postal_code]=10115";
	reply r = call_at("/stripe", "POST", "/v1/customers", STRIPE_FORM, body, strlen(body));
	ck_assert_msg(r.status == 200, "status %ld: %s", r.status, r.text);
	ck_assert_str_eq(seen_form, "{\"address\":{\"city\":\"Berlin\",\"postal_code\":\"10115\"},"
	                            "\"expand\":[\"sources\",\"tax_ids\"],\"metadata\":{\"channel\":\"web\",\"order_id\":\"6735\"},"
	                            "\"tax_id_data\":[{\"type\":\"eu_vat\",\"value\":\"DE123456789\"},"
	                            "{\"type\":\"gb_vat\",\"value\":\"GB123\"}]}");
	reply_free(&r);
	/* an item without its required value, and a tax id type outside the enum */
	{
		static const char bad[] = "tax_id_data[0][type]=eu_vat&tax_id_data[1][type]=xx_vat&tax_id_data[1][value]=1";
		r = call_at("/stripe", "POST", "/v1/customers", STRIPE_FORM, bad, strlen(bad));
		ck_assert_msg(r.status == 400 && strstr(r.text, "/tax_id_data/0") && strstr(r.text, "/tax_id_data/1/type"),
		              "status %ld: %s", r.status, r.text);
		reply_free(&r);
	}
}
END_TEST

/* ---- $dynamicRef (the dynamic fixture): one generic Page, two item types ---- */

/* PUT body to the dynamic API; returns the reply. */
static reply dynamic_put(const char *path, const char *body)
{
	static const char *const h[] = { "Content-Type", "application/json", NULL };
	return call_at(DYNAMIC_DEFAULT_BASE, "PUT", path, h, body, strlen(body));
}

/* The reply is a 400 with an error at pointer with keyword. */
static void expect_body_error(reply *r, const char *pointer, const char *keyword)
{
	json_t *errs = json_object_get(r->body, "errors");
	int found = 0;
	ck_assert_msg(r->status == 400, "status %ld: %s", r->status, r->text);
	for (size_t i = 0; i < json_array_size(errs); i++) {
		json_t *e = json_array_get(errs, i);
		found |= strcmp(json_string_value(json_object_get(e, "pointer")), pointer) == 0 &&
		         strcmp(json_string_value(json_object_get(e, "keyword")), keyword) == 0;
	}
	ck_assert_msg(found, "no %s error at \"%s\" in %s", keyword, pointer, r->text);
	reply_free(r);
}

START_TEST(dynamic_ref_binds_page_items)
{
	reply r = dynamic_put("/pets", "{\"items\": [{\"name\": \"Tom\"}], \"next\": null}");
	ck_assert_msg(r.status == 204, "status %ld: %s", r.status, r.text);
	reply_free(&r);
	r = dynamic_put("/tags", "{\"items\": [\"red\", \"blue\"]}");
	ck_assert_msg(r.status == 204, "status %ld: %s", r.status, r.text);
	reply_free(&r);
	/* the same Page schema, items checked as Pets here ... */
	r = dynamic_put("/pets", "{\"items\": [{\"name\": \"\"}]}");
	expect_body_error(&r, "/items/0/name", "minLength");
	r = dynamic_put("/pets", "{\"items\": [{\"name\": \"Tom\", \"age\": 3}]}");
	expect_body_error(&r, "/items/0/age", "additionalProperties");
	r = dynamic_put("/pets", "{\"items\": [\"red\"]}");
	expect_body_error(&r, "/items/0", "type");
	/* ... and as non-empty strings here */
	r = dynamic_put("/tags", "{\"items\": [{\"name\": \"Tom\"}]}");
	expect_body_error(&r, "/items/0", "type");
	r = dynamic_put("/tags", "{\"items\": [\"\"]}");
	expect_body_error(&r, "/items/0", "minLength");
	/* Page's own keywords still apply */
	r = dynamic_put("/tags", "{\"items\": [], \"extra\": 1}");
	expect_body_error(&r, "/extra", "unevaluatedProperties");
}
END_TEST

/* ---- form bodies (the forms fixture) ---- */

static reply form_post(const char *content_type, const char *body)
{
	const char *const h[] = { "Content-Type", content_type, NULL };
	return call_at(FORMS_DEFAULT_BASE, "POST", "/signup", h, body, strlen(body));
}

static void expect_form_error(const char *body, const char *pointer, const char *keyword)
{
	reply r = form_post("application/x-www-form-urlencoded", body);
	json_t *errs = json_object_get(r.body, "errors");
	int found = 0;
	ck_assert_msg(r.status == 422, "%s: status %ld: %s", body, r.status, r.text);
	for (size_t i = 0; i < json_array_size(errs); i++) {
		json_t *e = json_array_get(errs, i);
		found |= strcmp(json_string_value(json_object_get(e, "pointer")), pointer) == 0 &&
		         strcmp(json_string_value(json_object_get(e, "keyword")), keyword) == 0;
	}
	ck_assert_msg(found, "%s: no %s error at \"%s\" in %s", body, keyword, pointer, r.text);
	reply_free(&r);
}

START_TEST(form_body_typed_and_validated)
{
	json_t *want = json_loads("{\"name\":\"T\xc3\xb6m X\",\"age\":7,\"tags\":[\"a\",\"b\"],\"newsletter\":true}", 0, NULL);
	reply r = form_post("application/x-www-form-urlencoded", "name=T%C3%B6m+X&age=7&tags=a&tags=b&newsletter=true");
	ck_assert_msg(r.status == 201, "status %ld: %s", r.status, r.text);
	ck_assert_msg(json_equal(r.body, want), "got %s", r.text);
	json_decref(want);
	reply_free(&r);
	/* defaults apply as for JSON */
	r = form_post("application/x-www-form-urlencoded; charset=utf-8", "name=Ann&age=0");
	ck_assert_msg(r.status == 201, "status %ld: %s", r.status, r.text);
	ck_assert(json_is_false(json_object_get(r.body, "newsletter")));
	ck_assert_int_eq(json_integer_value(json_object_get(r.body, "age")), 0);
	reply_free(&r);
	/* the same operation still takes JSON */
	r = form_post("application/json", "{\"name\": \"Bo\", \"age\": 3}");
	ck_assert_msg(r.status == 201, "status %ld: %s", r.status, r.text);
	reply_free(&r);
	expect_form_error("name=Tom&age=x", "/age", "type");
	expect_form_error("name=Tom&age=-1", "/age", "minimum");
	expect_form_error("name=Tom", "", "required");
	expect_form_error("name=&age=1", "/name", "minLength");
	expect_form_error("name=Tom&age=1&admin=1", "/admin", "additionalProperties");
	expect_form_error("name=Tom&age=1&tags=a&tags=b&tags=c&tags=d", "/tags", "maxItems");
	expect_form_error("name=Tom&age=1&newsletter=yes", "/newsletter", "type");
}
END_TEST

START_TEST(form_body_required_and_content_type)
{
	char resp[2048];
	ck_assert_int_eq(raw_call("POST /forms/signup HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
	                          "Content-Length: 0\r\nConnection: close\r\n\r\n", resp, sizeof resp), 422);
	ck_assert_ptr_nonnull(strstr(resp, "A request body is required"));
	/* text/plain is not among the operation's media types */
	ck_assert_int_eq(raw_call("POST /forms/signup HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
	                          "Content-Length: 7\r\nConnection: close\r\n\r\nname=Al", resp, sizeof resp), 415);
}
END_TEST

/* ---- mutualTLS (the mtls fixture, over HTTPS) ---- */

static struct _u_instance tls_srv;
static unsigned tls_port;
static char *tls_key, *tls_cert, *tls_ca;

/* The whole file under the certificates folder (new). */
static char *cert_file(const char *name)
{
	const char *dir = getenv("PIPE_CERTS") ? getenv("PIPE_CERTS") : "build/tests/pipeline/certs";
	char path[512];
	FILE *f;
	char *text;
	long n;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "%s: missing (tests/pipeline/certs.sh makes it)", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	ck_assert_int_eq(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return text;
}

static int whoami(rt_ctx *ctx, const mtls_whoAmI_params *p, const json_t *body, void *app)
{
	(void)p;
	(void)body;
	(void)app;
	return mtls_whoAmI_respond_200(ctx, &(mtls_whoAmI_200){ .user = rt_ctx_principal(ctx)->id });
}

static int both(rt_ctx *ctx, const mtls_both_params *p, const json_t *body, void *app)
{
	(void)p;
	(void)body;
	(void)app;
	return mtls_both_respond_204(ctx);
}

static const mtls_handlers mtls_h = { .whoAmI = whoami, .both = both };

static void setup_tls(void)
{
	tls_key = cert_file("server-key.pem");
	tls_cert = cert_file("server.pem");
	tls_ca = cert_file("ca.pem");
	free(client_fpr);
	client_fpr = cert_file("client.fpr");
	client_fpr[strcspn(client_fpr, "\n")] = '\0';
	for (int attempt = 0; attempt < 20; attempt++) {
		tls_port = 20000 + (unsigned)(rand() % 30000);
		if (ulfius_init_instance(&tls_srv, tls_port, NULL, NULL) != U_OK)
			continue;
		ck_assert_int_eq(mtls_register(&tls_srv, MTLS_DEFAULT_BASE, &mtls_h, &cfg), 0);
		if (ulfius_start_secure_ca_trust_framework(&tls_srv, tls_key, tls_cert, tls_ca) == U_OK)
			return;
		ulfius_clean_instance(&tls_srv);
		rt_api_release_all();
	}
	ck_abort_msg("no free port");
}

static void teardown_tls(void)
{
	ulfius_stop_framework(&tls_srv);
	ulfius_clean_instance(&tls_srv);
	rt_api_release_all();
	free(tls_key);
	free(tls_cert);
	free(tls_ca);
	free(client_fpr);
	client_fpr = NULL;
}

/* GET over HTTPS, presenting the client certificate cert (a file name in the
 * certificates folder, or NULL for none); -1 when no HTTP answer came. */
static reply tls_get(const char *path, const char *cert, const char *const *headers)
{
	const char *dir = getenv("PIPE_CERTS") ? getenv("PIPE_CERTS") : "build/tests/pipeline/certs";
	struct _u_request req;
	struct _u_response resp;
	char url[512], certp[512], keyp[512];
	reply r = { 0 };

	snprintf(url, sizeof url, "https://localhost:%u%s%s", tls_port, MTLS_DEFAULT_BASE, path);
	snprintf(certp, sizeof certp, "%s/%s", dir, cert ? cert : "");
	snprintf(keyp, sizeof keyp, "%s/client-key.pem", dir);
	ulfius_init_request(&req);
	ulfius_init_response(&resp);
	ulfius_set_request_properties(&req, U_OPT_HTTP_VERB, "GET", U_OPT_HTTP_URL, url, U_OPT_TIMEOUT, 10L,
	                              U_OPT_CHECK_SERVER_CERTIFICATE, 0, U_OPT_NONE);
	if (cert)
		ulfius_set_request_properties(&req, U_OPT_CLIENT_CERT_FILE, certp, U_OPT_CLIENT_KEY_FILE, keyp, U_OPT_NONE);
	for (size_t i = 0; headers && headers[i]; i += 2)
		u_map_put(req.map_header, headers[i], headers[i + 1]);
	r.status = ulfius_send_http_request(&req, &resp) == U_OK ? resp.status : -1;
	r.text = strndup(resp.binary_body ? resp.binary_body : "", resp.binary_body_length);
	r.body = json_loads(r.text, JSON_DECODE_ANY, NULL);
	ulfius_clean_request(&req);
	ulfius_clean_response(&resp);
	return r;
}

START_TEST(mtls_verified_certificate_200)
{
	reply r = tls_get("/whoami", "client.pem", NULL);
	ck_assert_msg(r.status == 200, "status %ld: %s", r.status, r.text);
	ck_assert_int_eq(json_integer_value(json_object_get(r.body, "user")), 3);
	ck_assert_str_eq(seen_mtls, client_fpr); /* the hook got the certificate's SHA-256 fingerprint */
	reply_free(&r);
}
END_TEST

START_TEST(mtls_no_certificate_401)
{
	reply r = tls_get("/whoami", NULL, NULL);
	ck_assert_msg(r.status == 401, "status %ld: %s", r.status, r.text);
	ck_assert_str_eq(json_string_value(json_object_get(r.body, "detail")), "Credentials are required");
	reply_free(&r);
}
END_TEST

START_TEST(mtls_unverified_certificate_refused)
{
	/* the same key, self-signed: the TLS layer does not verify it, so the
	 * hook never sees it */
	seen_mtls[0] = '\0';
	reply r = tls_get("/whoami", "rogue.pem", NULL);
	ck_assert_msg(r.status == 401, "status %ld: %s", r.status, r.text);
	ck_assert_str_eq(seen_mtls, "");
	reply_free(&r);
}
END_TEST

START_TEST(mtls_all_of_with_api_key)
{
	static const char *const key[] = { "X-Api-Key", "good", NULL };
	reply r = tls_get("/both", "client.pem", NULL);
	ck_assert_msg(r.status == 401, "certificate alone: status %ld", r.status);
	reply_free(&r);
	r = tls_get("/both", NULL, key);
	ck_assert_msg(r.status == 401, "key alone: status %ld", r.status);
	reply_free(&r);
	r = tls_get("/both", "client.pem", key);
	ck_assert_msg(r.status == 204, "both: status %ld: %s", r.status, r.text);
	reply_free(&r);
}
END_TEST

static Suite *pipeline_suite(void)
{
	Suite *s = suite_create("pipeline");
	TCase *tc = tcase_create("http");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, missing_credentials_401);
	tcase_add_test(tc, wrong_credentials_401);
	tcase_add_test(tc, header_key_200_and_defaults);
	tcase_add_test(tc, all_of_set_needs_both);
	tcase_add_test(tc, rate_limited_429);
	tcase_add_test(tc, literal_segment_wins_and_security_empty);
	tcase_add_test(tc, path_integer_coerced);
	tcase_add_test(tc, path_not_an_integer_400);
	tcase_add_test(tc, query_bounds_and_arrays);
	tcase_add_test(tc, header_format_checked);
	tcase_add_test(tc, body_without_content_type_415);
	tcase_add_test(tc, body_wrong_content_type_415);
	tcase_add_test(tc, body_trailing_comma_400_with_position);
	tcase_add_test(tc, body_schema_all_violations_422);
	tcase_add_test(tc, body_valid_201_readonly_not_required);
	tcase_add_test(tc, typed_response_headers);
	tcase_add_test(tc, typed_response_headers_refused);
	tcase_add_test(tc, body_too_large_413);
	tcase_add_test(tc, no_handler_501);
	tcase_add_test(tc, recursive_body_validated_deep);
	tcase_add_test(tc, response_validation_500);
	tcase_add_test(tc, response_validation_max_length_and_pattern);
	tcase_add_test(tc, spec_served);
	tcase_add_test(tc, label_styles);
	tcase_add_test(tc, matrix_styles);
	tcase_add_test(tc, label_matrix_invalid_400);
	tcase_add_test(tc, simple_and_form_objects);
	tcase_add_test(tc, deep_object);
	tcase_add_test(tc, object_items_in_path);
	tcase_add_test(tc, object_items_in_query_and_header);
	tcase_add_test(tc, stripe_deep_object_arrays);
	tcase_add_test(tc, custom_schemes_and_scopes);
	tcase_add_test(tc, v32_query_method_and_additional_operations);
	tcase_add_test(tc, pcre_limits_start_and_validate);
	tcase_add_test(tc, v32_item_schema_each_item_validated);
	tcase_add_test(tc, v32_querystring_and_cookie_style);
	tcase_add_test(tc, v32_item_schema_responses);
	tcase_add_test(tc, v32_validate_stream_response);
	tcase_add_test(tc, stripe_form_body_brackets);
	tcase_add_test(tc, dynamic_ref_binds_page_items);
	tcase_add_test(tc, form_body_typed_and_validated);
	tcase_add_test(tc, form_body_required_and_content_type);
	tcase_add_test(tc, validate_response_table);
	suite_add_tcase(s, tc);
	tc = tcase_create("mtls");
	tcase_add_checked_fixture(tc, setup_tls, teardown_tls);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, mtls_verified_certificate_200);
	tcase_add_test(tc, mtls_no_certificate_401);
	tcase_add_test(tc, mtls_unverified_certificate_refused);
	tcase_add_test(tc, mtls_all_of_with_api_key);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pipeline_suite());
	int failed;

	srand((unsigned)getpid());
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
