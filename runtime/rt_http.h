/* rt_http.h — the request pipeline generated routes run, and the tables
 * oapigen emits for it.
 *
 * Per request, in order: security (any-of over all-of sets, through the
 * application's one authentication hook), parameters (decoded per style,
 * coerced from strings, defaults applied, validated), body (Content-Type,
 * size, JSON with line and column, schema, defaults), then the typed
 * handler. Every error is rendered by the API's error-shape hook. Response
 * builders validate the body against the spec when the API's configuration
 * asks for it (tests), and never otherwise (production).
 *
 * Ownership: the runtime owns every rt_ctx; handlers borrow it for the
 * duration of the call. Response bodies passed to rt_respond are stolen.
 */
#ifndef RT_HTTP_H
#define RT_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <ulfius.h>
#include "rt_arena.h"
#include "rt_errors.h"
#include "rt_schema.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Who the authentication hook said the caller is: the application's own.
 * The runtime keeps it for the request (rt_ctx_principal) and never reads
 * it, except id and credential_id for the access log hook. data is the
 * application's pointer; when it must be freed, the hook sets
 * rt_api_config.principal_free, called once after the response. */
typedef struct rt_principal {
	int64_t id;              /* the caller's number in the application, 0: none */
	int64_t credential_id;   /* the credential's (an API key's), 0: none */
	char ref[40];            /* a public reference for logs; never the secret */
	void *data;              /* the application's own, or NULL */
} rt_principal;

/* What the credential string is, per kind: the apiKey value; the bearer token
 * or base64 "user:password" after the scheme word; for RT_CRED_HTTP_OTHER
 * (any other HTTP scheme the document names: OAuth, HMAC, Digest, ...) the
 * whole Authorization header value, scheme word and all, when that word is
 * the document's scheme (case-insensitively), so that the application
 * checks signatures itself; for RT_CRED_MUTUAL_TLS the SHA-256 fingerprint
 * (64 lowercase hex digits) of the client certificate the TLS layer
 * verified against the server's trusted CAs (no certificate, or one that
 * did not verify: the scheme's credential is missing). */
enum rt_cred_kind {
	RT_CRED_APIKEY_HEADER, RT_CRED_APIKEY_QUERY, RT_CRED_APIKEY_COOKIE,
	RT_CRED_HTTP_BEARER, RT_CRED_HTTP_BASIC, RT_CRED_MUTUAL_TLS, RT_CRED_HTTP_OTHER
};
/* RT_AUTH_UNAVAILABLE: the credential cannot be checked now (the key store
 * failed): 503, never 401, with Retry-After when *retry_after is set.
 * RT_AUTH_FORBIDDEN: the credential is valid but lacks what the
 * requirement asks (its scopes): 403. */
enum rt_auth_result { RT_AUTH_OK = 0, RT_AUTH_MISSING, RT_AUTH_REJECTED, RT_AUTH_RATE_LIMITED, RT_AUTH_ERROR,
                      RT_AUTH_UNAVAILABLE, RT_AUTH_FORBIDDEN };

struct rt_ctx;
typedef struct rt_ctx rt_ctx;

/* One credential to check, as the operation's security requirement names
 * it (every pointer borrowed for the call). */
typedef struct rt_auth_request {
	const char *api;              /* the API's name */
	const char *scheme;           /* the securitySchemes name */
	enum rt_cred_kind kind;
	const char *http_scheme;      /* type http: the scheme as the document writes it
	                                 ("bearer", "OAuth", "HMAC-SHA256"); else NULL */
	const char *credential;       /* see enum rt_cred_kind */
	const char *const *scopes;    /* the scopes the requirement lists for this scheme
	                                 (oauth2, openIdConnect, or any scheme in 3.1):
	                                 n_scopes of them, NULL-terminated */
	size_t n_scopes;
	const char *client_addr;
	const rt_ctx *ctx;            /* the request (method, URL, headers: what an
	                                 OAuth 1.0 or HMAC signature covers) */
} rt_auth_request;

/* The application's one authentication hook. On RT_AUTH_RATE_LIMITED (and,
 * when the cause may pass, RT_AUTH_UNAVAILABLE) set *retry_after (s). */
typedef enum rt_auth_result (*rt_auth_fn)(void *app, const rt_auth_request *req, rt_principal *out,
                                          unsigned *retry_after);

/* Builds the body of an error response in the API's own shape (new json_t,
 * or NULL for a bare status) and sets its content type. errors may be NULL. */
typedef json_t *(*rt_error_shape_fn)(int status, const char *code, const char *message,
                                     const rt_errors *errors, const char **content_type);
/* RFC 9457 problem details, the default shape. */
json_t *rt_error_shape_problem(int status, const char *code, const char *message,
                               const rt_errors *errors, const char **content_type);

typedef struct rt_api_config {
	rt_auth_fn authenticate;      /* required when the API has security */
	void *app;                    /* passed to hooks and handlers */
	rt_error_shape_fn error_shape;/* NULL: problem details */
	int validate_responses;       /* on in tests, off in production */
	size_t max_body;              /* 0: 64 KiB */
	void (*on_request)(void *app, const rt_ctx *ctx, int status); /* access log; may be NULL */
	void (*principal_free)(void *app, void *data); /* frees rt_principal.data after the
	                                 response when it is set; may be NULL */
} rt_api_config;

/* ---- tables emitted by oapigen ---- */

/* RT_IN_QUERYSTRING (OpenAPI 3.2): the whole query string is the value,
 * a form (content 2: decoded per the schema's properties) or JSON text. */
enum rt_param_in { RT_IN_PATH, RT_IN_QUERY, RT_IN_HEADER, RT_IN_COOKIE, RT_IN_QUERYSTRING };
enum rt_style { RT_STYLE_SIMPLE, RT_STYLE_FORM, RT_STYLE_LABEL, RT_STYLE_MATRIX,
                RT_STYLE_SPACE_DELIMITED, RT_STYLE_PIPE_DELIMITED, RT_STYLE_DEEP_OBJECT };
enum rt_ctype { RT_C_STRING, RT_C_INT64, RT_C_DOUBLE, RT_C_BOOL, RT_C_JSON };

typedef struct rt_param {
	const char *name;
	enum rt_param_in in;
	enum rt_style style;
	int explode;
	int required;
	const rt_schema *schema;
	enum rt_ctype ctype;
	size_t offset;                /* of the value in the params struct */
	int has_flag;                 /* the params struct has an int has_<name> flag ... */
	size_t has_offset;            /* ... at this offset (absent: both 0) */
	int content;                  /* content-encoded: 1 the value is JSON text; 2 a
	                                 form (querystring) */
} rt_param;

typedef struct rt_response {
	int status;                   /* 200..599; 1..5 for "1XX".."5XX"; 0 for default */
	const char *content_type;     /* NULL: no body */
	const rt_schema *schema;      /* JSON body schema, or NULL; for a sequential
	                                 media type (rt_items_is_sequential) the
	                                 schema of each item (OpenAPI 3.2 itemSchema) */
} rt_response;

typedef struct rt_security_req { /* one scheme of an all-of set */
	const char *scheme;
	enum rt_cred_kind kind;
	const char *name;             /* header, query or cookie name for apiKey */
	const char *http_scheme;      /* type http: the scheme word, else NULL */
	const char *const *scopes;    /* NULL-terminated, or NULL for none */
	size_t n_scopes;
} rt_security_req;

typedef struct rt_security_alt { /* an all-of set; n == 0 means anonymous */
	const rt_security_req *v;
	size_t n;
} rt_security_alt;

typedef int (*rt_call_fn)(rt_ctx *ctx, const void *params, const json_t *body,
                          const void *handlers, void *app);

typedef struct rt_operation {
	const char *operation_id;
	const char *method;
	const char *path;             /* as in the spec, for logs */
	const char *route;            /* ulfius form: {id} -> :id */
	unsigned priority;            /* literal segments first */
	const rt_param *params;
	size_t n_params;
	size_t params_size;
	const char *const *body_types;/* accepted media types (NULL-terminated), NULL: no body */
	int body_required;
	const rt_schema *body_schema; /* for JSON media types */
	/* body_schema's generated byte parser (rt_parse.h): bytes to the
	   validated json_t, defaults filled; the table is then not walked */
	int (*body_parse)(const char *buf, size_t len, rt_arena *a, enum rt_dir dir, unsigned flags, json_t **out,
	                  rt_errors *errs);
	/* the model parser of the body (request bytes straight into the handler's
	   C model, body_model_size bytes, in the request's arena); preferred to
	   body_parse; the call finds the model with rt_ctx_body_model */
	int (*body_model_parse)(const char *buf, size_t len, rt_arena *a, unsigned flags, void *out, json_t **keep,
	                        rt_errors *errs);
	size_t body_model_size;
	const rt_schema *form_schema; /* for application/x-www-form-urlencoded: the fields,
	                                 decoded per property type, are the handler's body */
	const char *item_type;        /* a sequential media type (OpenAPI 3.2 itemSchema):
	                                 application/jsonl, application/x-ndjson,
	                                 application/json-seq or text/event-stream */
	const rt_schema *item_schema; /* each item of such a body; the handler gets the
	                                 items as a JSON array (an event: an object of
	                                 its fields, data as text) */
	const rt_response *responses;
	size_t n_responses;
	const rt_security_alt *security; /* any-of */
	size_t n_security;            /* 0: no security */
	int validation_status;        /* 400 or 422 */
	int shares_route;             /* another operation has this route, apart by
	                                 their path keys' query strings: a request
	                                 whose query does not match is the next one's */
	rt_call_fn call;
} rt_operation;

typedef struct rt_api {
	const char *name;
	const rt_operation *ops;
	size_t n_ops;
	rt_schema_cache *const *caches; /* NULL-terminated; prepared at registration */
	const char *spec_json;
	const char *spec_yaml;
} rt_api;

/* Adds every route of api under base ("" or "/heron"), plus
 * <base>/openapi.json and <base>/openapi.yaml. Compiles every pattern
 * first; a pattern PCRE2 rejects fails the registration (-1). */
int rt_api_register(struct _u_instance *u, const char *base, const rt_api *api,
                    const void *handlers, const rt_api_config *cfg);
/* Checks one response of operation operation_id as a client saw it (contract
 * tests of any server): the status is documented, a body comes exactly when
 * the spec gives one, with the documented media type, and a JSON body (the
 * raw bytes, body_len of them; body NULL or body_len 0 = none) parses and
 * matches the response schema (response direction). Appends every violation
 * to errs; returns how many (0 = valid), or -1 when api has no such
 * operation (errs says so). Needs no registration; thread-safe. */
int rt_api_check_response(const rt_api *api, const char *operation_id, int status,
                          const char *content_type, const char *body, size_t body_len, rt_errors *errs);
/* The distinct APIs registered so far (each once, however many instances
 * it is on), in registration order: up to max of them into apis (borrowed,
 * static); returns how many there are. For label sets fixed at start
 * (metrics): an operation is api->ops[i], rt_ctx_operation() - api->ops. */
size_t rt_api_registered(const rt_api **apis, size_t max);
/* Frees what registrations and rt_guard_install allocated (after the framework
 * has stopped). */
void rt_api_release_all(void);

/* ---- for handlers ---- */
const rt_principal *rt_ctx_principal(const rt_ctx *c);
const char *rt_ctx_client_addr(const rt_ctx *c);
const rt_operation *rt_ctx_operation(const rt_ctx *c);
const char *rt_ctx_api(const rt_ctx *c);
const rt_api *rt_ctx_api_def(const rt_ctx *c);
const char *rt_ctx_base(const rt_ctx *c);
const struct _u_request *rt_ctx_request(const rt_ctx *c);
/* The text of an IPv4 or IPv6 address (a client's) into out: 0, or -1 when
   sa is NULL, of another family, or out too short (out then unchanged or
   undefined). */
struct sockaddr;
int rt_addr_text(const struct sockaddr *sa, char *out, size_t len);
int rt_ctx_set_header(rt_ctx *c, const char *name, const char *value);
/* Sends status with body (stolen; NULL for none). Used by the generated
 * typed builders; validates against the spec when configured. */
int rt_respond(rt_ctx *c, int status, json_t *body);
/* Sends status with the JSON text a generated model writer wrote (borrowed;
 * NULL for no body); validates the text's parse against the spec when
 * configured. A writer that failed answers 500. */
struct rt_json_writer;
int rt_respond_writer(rt_ctx *c, int status, const struct rt_json_writer *w);
/* Sends status with items (stolen: a JSON array, an element per item; an
 * event an object of its fields) written in the framing of the response's
 * sequential media type (OpenAPI 3.2 itemSchema, rt_items.h). With
 * validate_responses the very bytes are read back and each item validated
 * against the item schema: a violation answers 500 naming the item's index
 * and pointer (/2/qty). An item that cannot be framed answers 500. */
int rt_respond_items(rt_ctx *c, int status, json_t *items);
/* A response header the spec documents, set by the generated builders
 * before they answer: the value as text (an integer, a real as jansson
 * writes it, true or false). A value no header can carry (a control
 * character: CR or LF would split it) answers 500 and returns -1, as does
 * a required header the handler did not give (rt_respond_missing_header). */
int rt_respond_header(rt_ctx *c, const char *name, const char *value);
int rt_respond_header_int(rt_ctx *c, const char *name, int64_t value);
int rt_respond_header_real(rt_ctx *c, const char *name, double value);
int rt_respond_header_bool(rt_ctx *c, const char *name, int value);
int rt_respond_missing_header(rt_ctx *c, const char *name);
/* The request body's model when the operation's model parser read it, else NULL. */
const void *rt_ctx_body_model(const rt_ctx *c);
/* The request's arena: what a typed body points into lives until the response. */
struct rt_arena;
struct rt_arena *rt_ctx_arena(rt_ctx *c);
/* An error in the API's shape (for handlers' own 4xx/5xx). */
int rt_respond_error(rt_ctx *c, int status, const char *code, const char *message);
int rt_not_implemented(rt_ctx *c);

/* ---- used by the pipeline; exported for tests ---- */
/* Decodes, coerces and validates every parameter of op into params. */
int rt_params_parse(rt_ctx *c, const rt_operation *op, void *params, rt_errors *errs);
/* For a path key with a query string (/rest?method=a&id={id}): 1 when the
 * request has each literal pair and each templated key, else 0. */
int rt_params_query_matches(const rt_operation *op, const struct _u_request *req);
/* Evaluates op's security; returns 0, or the HTTP status to answer. */
int rt_security_check(rt_ctx *c, const rt_operation *op, const char **why, unsigned *retry_after);
/* Decodes one raw parameter string per p's style and explode and coerces it to
 * p's schema types (new, or NULL with errs naming the parameter). */
json_t *rt_params_coerce(const rt_param *p, const char *raw, const char *what, rt_errors *errs);
/* An application/x-www-form-urlencoded body (ulfius's map_post_body) as an
 * object: each field coerced to its property's type in schema, repeated
 * fields of an array property as its items (new, or NULL with errs). */
json_t *rt_params_form_body(const struct _u_map *fields, const rt_schema *schema, rt_errors *errs);

/* internal accessors shared by rt_params.c and rt_security.c */
json_t *rt_ctx_keep(rt_ctx *c, json_t *value); /* stolen; lives until the response */
void rt_ctx_set_principal(rt_ctx *c, const rt_principal *p);
const rt_api_config *rt_ctx_config(const rt_ctx *c);

#ifdef __cplusplus
}
#endif

#endif
