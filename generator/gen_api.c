/* gen_api.c — the OpenAPI model of one document, and its C. */
#include "gen_api.h"
#include "conv2.h"
#include "docset.h"
#include "gen_model.h"
#include "gen_parse.h"
#include "gen_schema.h"
#include "gen_text.h"
#include "load.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

enum { GA_IN_PATH, GA_IN_QUERY, GA_IN_HEADER, GA_IN_COOKIE, GA_IN_QUERYSTRING };
enum { GA_C_STRING, GA_C_INT64, GA_C_DOUBLE, GA_C_BOOL, GA_C_JSON };

typedef struct ga_param {
	char *name;
	char *cname;
	int in, style, explode, required, ctype, has_default;
	int content;              /* content-encoded: 1 JSON text, 2 a form (querystring) */
	int constrained;          /* the schema tells values apart from any text */
	const char *schema;       /* symbol or NULL */
} ga_param;

typedef struct ga_hdr {          /* a response header the spec documents */
	char *name;               /* as written: "Retry-After" */
	char *cname;              /* its member in the headers struct: retry_after */
	int ctype;                /* GA_C_STRING, _INT64, _DOUBLE, _BOOL */
	int required;
	char *fixed;              /* a schema of one string (const, one-value enum): the builder sends it */
	char *description;
} ga_hdr;

typedef struct ga_resp {
	ga_hdr *hdrs;
	size_t nh;
	int nh_given;             /* how many the handler gives (not fixed): a headers struct when > 0 */
	char *hdr_type;           /* its C type: <api>_<Response>_headers for a components/responses
	                             entry of the document, else <api>_<op>_respond_<key>_headers */
	char *key;                /* "201", "4XX", "default" */
	int status;               /* 201; 4 for 4XX; 0 for default */
	char *content_type;       /* or NULL */
	const char *schema;       /* or NULL */
	int items;                /* content_type is sequential and schema its itemSchema (3.2):
	                             the builder takes the items as a json_t array */
	char *description;
	const char *model;        /* the body's C model (owned by the gen_model), or NULL: a json_t */
	const char *why;          /* why not */
} ga_resp;

typedef struct ga_sec_req {
	char *scheme;
	const char *kind;         /* RT_CRED_* */
	char *name;
	const char *http_scheme;  /* type http's scheme (borrowed from the document), or NULL */
	const json_t *scopes;     /* the requirement's array of scope names (borrowed) */
} ga_sec_req;

typedef struct ga_sec_alt {
	ga_sec_req *v;
	size_t n;
} ga_sec_alt;

typedef struct ga_op {
	char *opid;
	const char *opid_src;     /* the operationId as written (borrowed), NULL when derived */
	char *method;             /* "GET" */
	char *path;
	char *route;
	char *pointer;            /* JSON pointer of the operation */
	char *loc;                /* where its object is (ga_loc): differs when it is a $ref */
	char *summary;
	unsigned priority;
	ga_param *params;
	size_t np;
	char **body_types;
	size_t nbt;
	int has_body, body_required;
	const char *body_schema;
	const char *form_schema;  /* application/x-www-form-urlencoded, or NULL */
	char *item_type;          /* the sequential media type with an itemSchema (3.2), or NULL */
	const char *item_schema;  /* its itemSchema's symbol */
	const char *body_model;   /* the request body's C model, or NULL: a json_t */
	const char *body_why;     /* why not */
	ga_resp *resps;
	size_t nr;
	ga_sec_alt *sec;
	size_t nsec;
	int validation_status;
	int shares_route;         /* its route is another's too, apart by query strings */
} ga_op;

typedef struct ga {
	const gen_api_options *opt;
	docset *ds;
	gen_schema *gs;
	gen_model *gm;
	gen_parse *gp;      /* byte parsers of the JSON request bodies */
	const char *uri;          /* the document's base URI */
	const json_t *doc;
	int dialect;
	char *base_path;
	ga_op *ops;
	size_t nops, capops;
	json_t *opids;            /* C name of an operation -> its index in ops */
	json_t *routes;           /* "METHOD route" (template names left out) -> the operation's pointer */
	json_t *route_queries;    /* an operation's pointer -> its path key's query string, when it has one */
	const char *warned_path;  /* the last path key a warning was given for (borrowed) */
	int dialect_minor;        /* 2 for OpenAPI 3.2 (query, additionalOperations, querystring, ...) */
	char *err;
	size_t errlen;
} ga;

static int ga_error(ga *a, const char *pointer, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int ga_error(ga *a, const char *pointer, const char *fmt, ...)
{
	char what[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (pointer && pointer[0] && pointer[0] != '/' && strchr(pointer, '#')) { /* a URI (ga_loc) */
		const char *frag = strchr(pointer, '#') + 1;
		snprintf(a->err, a->errlen, "%s: %s: %s", docset_display(a->ds, pointer), *frag ? frag : "/", what);
	} else {
		snprintf(a->err, a->errlen, "%s: %s: %s", a->opt->spec_path, pointer && *pointer ? pointer : "/", what);
	}
	return -1;
}

/* Where a node is, for messages and further look-ups: its pointer when it
 * is in the main document, else its full URI "file:///x.yaml#/pointer" (new). */
static char *ga_loc(const ga *a, const char *uri)
{
	size_t n = strlen(a->uri);

	if (strncmp(uri, a->uri, n) == 0 && uri[n] == '#')
		return strdup(uri + n + 1);
	return strdup(uri);
}

/* pointer + "/" + escaped token (new) */
static char *ga_ptr(const char *base, const char *tok)
{
	return docset_pointer_join(base, tok);
}

static char *ga_ptr_index(const char *base, size_t i)
{
	char idx[32];

	snprintf(idx, sizeof idx, "%zu", i);
	return ga_ptr(base, idx);
}

/* Follows a $ref (if any) of node; returns the target and sets *target_uri
 * (new) to its full URI. pointer says where node is: a pointer into the main
 * document, or a full URI for a node in another file (see ga_loc). */
static const json_t *ga_deref(ga *a, const json_t *node, const char *pointer, char **target_uri)
{
	char *uri = NULL;
	int external = pointer[0] && pointer[0] != '/'; /* a URI (ga_loc), not a pointer */

	*target_uri = NULL;
	for (int hops = 0; hops < 32; hops++) {
		const json_t *ref = json_object_get(node, "$ref");
		const json_t *next;
		char *base = NULL;
		if (!json_is_string(ref)) {
			if (!uri && external)
				uri = strdup(pointer);
			else if (!uri)
				uri = gen_text_concat(a->uri, "#", pointer);
			*target_uri = uri;
			return node;
		}
		/* a $ref resolves against the file it is written in */
		base = uri ? docset_base_of(a->ds, uri) : external ? docset_base_of(a->ds, pointer) : strdup(a->uri);
		free(uri);
		uri = NULL;
		next = docset_resolve(a->ds, base, json_string_value(ref), &uri, a->err, a->errlen);
		free(base);
		if (!next) {
			char why[400];
			snprintf(why, sizeof why, "%s", a->err);
			ga_error(a, pointer, "%s", why);
			return NULL;
		}
		node = next;
	}
	ga_error(a, pointer, "$ref chain is circular or longer than 32 references");
	free(uri);
	return NULL;
}

static const char *ga_pointer_of(const char *uri)
{
	const char *h = strchr(uri, '#');

	return h ? h + 1 : "";
}

/* The schema's first JSON type (following $ref and a lone allOf), or NULL. */
static const char *ga_schema_type(ga *a, const json_t *schema, const char *uri)
{
	char *cur = uri ? strdup(uri) : NULL;
	const char *result = NULL;

	for (int hops = 0; schema && hops < 16; hops++) {
		const json_t *t = json_object_get(schema, "type");
		if (json_is_string(t)) {
			result = json_string_value(t);
			break;
		}
		if (json_is_array(t)) {
			for (size_t i = 0; i < json_array_size(t); i++) {
				const char *s = json_string_value(json_array_get(t, i));
				if (s && strcmp(s, "null") != 0) {
					result = s;
					break;
				}
			}
			break;
		}
		const json_t *ref = json_object_get(schema, "$ref");
		const json_t *all = json_object_get(schema, "allOf");
		if (json_is_string(ref) && cur) {
			char *base = docset_base_of(a->ds, cur), *next = NULL;
			char err[200];
			schema = docset_resolve(a->ds, base, json_string_value(ref), &next, err, sizeof err);
			free(base);
			free(cur);
			cur = next;
		} else if (json_array_size(all) == 1 && cur) {
			char *next = NULL;
			if (asprintf(&next, "%s/allOf/0", cur) < 0)
				next = NULL;
			schema = json_array_get(all, 0);
			free(cur);
			cur = next;
		} else {
			break;
		}
	}
	free(cur);
	return result;
}

/* Whether the schema (following $ref and a lone allOf) tells its values
 * apart from any text: a type other than string, or an enum, const,
 * pattern, format or maxLength. */
static int ga_schema_constrained(ga *a, const json_t *schema, const char *uri)
{
	static const char *const kws[] = { "enum", "const", "pattern", "format", "maxLength" };
	const char *t = ga_schema_type(a, schema, uri);
	char *cur = uri ? strdup(uri) : NULL;
	int found = t && strcmp(t, "string") != 0;

	for (int hops = 0; !found && schema && hops < 16; hops++) {
		const json_t *ref = json_object_get(schema, "$ref");
		const json_t *all = json_object_get(schema, "allOf");
		for (size_t k = 0; k < sizeof kws / sizeof kws[0]; k++)
			found |= json_object_get(schema, kws[k]) != NULL;
		if (json_is_string(ref) && cur) {
			char *base = docset_base_of(a->ds, cur), *next = NULL;
			char err[200];
			schema = docset_resolve(a->ds, base, json_string_value(ref), &next, err, sizeof err);
			free(base);
			free(cur);
			cur = next;
		} else if (json_array_size(all) == 1) {
			schema = json_array_get(all, 0);
		} else {
			break;
		}
	}
	free(cur);
	return found;
}

/* Compiles the schema at uri; one that is not a component is named
 * <opid>_<what> ("createKey_body", "getKey_200", "listKeys_limit"). */
static int ga_compile(ga *a, const char *uri, const ga_op *op, const char *what, const char **sym)
{
	char *name = NULL, *id;
	int rc;

	if (!(name = gen_text_concat(op->opid, "_", what)))
		return -1;
	id = gen_text_ident(name);
	rc = id ? gen_schema_compile_named(a->gs, uri, id, sym, a->err, a->errlen) : -1;
	free(name);
	free(id);
	return rc;
}

static int ga_is_json_media(const char *mt)
{
	size_t n = strcspn(mt, ";");

	while (n && mt[n - 1] == ' ')
		n--;
	return (n == 16 && strncasecmp(mt, "application/json", 16) == 0) ||
	       (n > 5 && strncasecmp(mt + n - 5, "+json", 5) == 0) || (n == 3 && strncmp(mt, "*/*", 3) == 0);
}

static const char *const ga_c_keywords[] = {
	"auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
	"extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return",
	"short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void",
	"volatile", "while", "bool", "true", "false", "errno", "ctx", "p", "body", "app", NULL
};

/* A member name from a spec name: a C keyword, or a name in capitals only
 * (NULL, EOF, INT64_MAX, U_OK: the macros of the headers generated code
 * includes are spelled so), gets a trailing '_' (new). */
static char *ga_cname(const char *name)
{
	char *id = gen_text_ident(name);
	int caps = 0;

	if (!id)
		return NULL;
	for (const char *c = id; *c && caps >= 0; c++)
		caps = (*c >= 'a' && *c <= 'z') ? -1 : caps || (*c >= 'A' && *c <= 'Z');
	for (const char *const *k = ga_c_keywords; *k; k++) {
		if (caps > 0 || strcmp(id, *k) == 0) {
			char *out = NULL;
			if (asprintf(&out, "%s_", id) < 0)
				out = NULL;
			free(id);
			return out;
		}
	}
	return id;
}

/* ---- parameters ---- */

/* gp->style from the parameter's style (NULL: its location's default),
 * where the OpenAPI style table defines it: label and matrix in the path,
 * deepObject in the query (the other styles elsewhere are tolerated). */
static int ga_param_style(ga *a, ga_param *gp, const char *style, const char *pointer, const char *turi)
{
	static const char *const names[] = { "simple", "form", "label", "matrix", "spaceDelimited", "pipeDelimited",
	                                     "deepObject" };
	static const char *const where[] = { "path", "query", "header", "cookie", "querystring" };
	char *pp;

	gp->style = -1;
	if (!style)
		gp->style = (gp->in == GA_IN_QUERY || gp->in == GA_IN_COOKIE) ? 1 : 0;
	for (int i = 0; style && i < (int)(sizeof names / sizeof names[0]); i++)
		if (strcmp(style, names[i]) == 0)
			gp->style = i;
	if (style && strcmp(style, "cookie") == 0 && gp->in == GA_IN_COOKIE && a->dialect_minor >= 2)
		gp->style = 1; /* 3.2's cookie style: a name=value pair, as form reads it */
	if (gp->style < 0)
		return ga_error(a, pointer, "parameter style \"%s\" is unknown", style);
	if (!(((gp->style == 2 || gp->style == 3) && gp->in != GA_IN_PATH) || (gp->style == 6 && gp->in != GA_IN_QUERY)))
		return 0;
	pp = ga_ptr(ga_pointer_of(turi), "style");
	ga_error(a, pp, "parameter style \"%s\" is defined only for %s parameters, not %s", style,
	         gp->style <= 3 ? "path" : "query", where[gp->in]);
	free(pp);
	return -1;
}

/* An array parameter (schema at suri) whose items are objects, in a style
 * other than deepObject: each item is its object's JSON text, the list split
 * at the style's separator outside those texts (rt_params). A cookie cannot
 * carry that text (RFC 6265 cookie values have no '"', ',' or ';'): refused. */
static int ga_param_object_items(ga *a, const ga_param *gp, const json_t *schema, const char *suri, const char *turi)
{
	char *ruri = NULL, *iuri = NULL;
	const json_t *rs = ga_deref(a, schema, ga_pointer_of(suri), &ruri);
	const char *it = NULL;
	int rc = rs ? 0 : -1;

	if (rs && ruri && asprintf(&iuri, "%s/items", ruri) >= 0)
		it = ga_schema_type(a, json_object_get(rs, "items"), iuri);
	if (it && strcmp(it, "object") == 0 && gp->in == GA_IN_COOKIE) {
		char *pp = ga_ptr(ga_pointer_of(turi), "in");
		ga_error(a, pp, "cookie parameter \"%s\" is an array of objects, whose items a request sends as JSON "
		         "text, which no cookie value can hold (RFC 6265: no '\"', ',' or ';'); make it a query parameter "
		         "(%s=<JSON object> an item each, or style deepObject: %s[0][field]=v) or a header", gp->name,
		         gp->name, gp->name);
		free(pp);
		rc = -1;
	}
	free(ruri);
	free(iuri);
	return rc;
}

/* gp->ctype from the type of the parameter's schema (at suri), and what
 * its style needs of it: deepObject an object or array; object items. */
static int ga_param_shape(ga *a, ga_param *gp, const json_t *schema, const char *suri, const char *turi)
{
	const char *t = ga_schema_type(a, schema, suri);

	gp->ctype = !t ? GA_C_STRING : strcmp(t, "integer") == 0 ? GA_C_INT64 : strcmp(t, "number") == 0 ? GA_C_DOUBLE
	          : strcmp(t, "boolean") == 0 ? GA_C_BOOL : (strcmp(t, "array") == 0 || strcmp(t, "object") == 0) ? GA_C_JSON
	          : GA_C_STRING;
	if (gp->style == 6 && t && strcmp(t, "object") != 0 && strcmp(t, "array") != 0) {
		char *pp = ga_ptr(ga_pointer_of(turi), "style");
		ga_error(a, pp, "parameter style \"deepObject\" needs an object or array schema, not %s", t);
		free(pp);
		return -1;
	}
	if (gp->style == 6)
		gp->ctype = GA_C_JSON;
	if (gp->style != 6 && t && strcmp(t, "array") == 0)
		return ga_param_object_items(a, gp, schema, suri, turi);
	return 0;
}

/* A parameter's "in" (turi: where the parameter is): *out, or -1 with an
 * error naming its place. */
static int ga_param_in(ga *a, const char *in, const char *turi, int *out)
{
	if (strcmp(in, "path") == 0)
		*out = GA_IN_PATH;
	else if (strcmp(in, "query") == 0)
		*out = GA_IN_QUERY;
	else if (strcmp(in, "header") == 0)
		*out = GA_IN_HEADER;
	else if (strcmp(in, "cookie") == 0)
		*out = GA_IN_COOKIE;
	else if (strcmp(in, "querystring") == 0 && a->dialect_minor >= 2)
		*out = GA_IN_QUERYSTRING;
	else {
		char *pp = ga_ptr(ga_pointer_of(turi), "in");
		if (strcmp(in, "querystring") == 0)
			ga_error(a, pp, "parameter location \"querystring\" is OpenAPI 3.2; this document is %s",
			         json_string_value(json_object_get(a->doc, "openapi")));
		else
			ga_error(a, pp, "parameter location \"%s\" is not one of path, query, header, cookie%s", in,
			         a->dialect_minor >= 2 ? ", querystring" : "");
		free(pp);
		return -1;
	}
	return 0;
}

/* The rules of a parameter's fixed fields (p, at turi, in its location
 * in): 0, or -1 with an error naming the field. */
static int ga_param_fields(ga *a, const json_t *p, int in, const char *turi)
{
	const json_t *sc = json_object_get(p, "schema"), *ct = json_object_get(p, "content");
	const char *why = NULL, *at = NULL;

	if (in == GA_IN_QUERYSTRING && (json_object_get(p, "schema") || json_object_size(json_object_get(p, "content")) != 1 ||
	                                   json_object_get(p, "style") || json_object_get(p, "explode"))) {
		char *pp = ga_ptr(ga_pointer_of(turi), json_object_get(p, "schema") ? "schema" : "content");
		ga_error(a, pp, "a querystring parameter has exactly one media type in \"content\", and no schema, "
		         "style or explode");
		free(pp);
		return -1;
	}
	if (in == GA_IN_PATH && !json_is_true(json_object_get(p, "required")))
		why = "a path parameter must be required (\"required\": true)", at = "required";
	else if (sc && ct)
		why = "a parameter has either \"schema\" or \"content\", not both";
	else if (!sc && !ct)
		why = "a parameter needs \"schema\" or \"content\"";
	else if (ct && (!json_is_object(ct) || json_object_size(ct) != 1))
		why = "\"content\" of a parameter must hold exactly one media type", at = "content";
	if (why) {
		char *pp = at ? ga_ptr(ga_pointer_of(turi), at) : strdup(ga_pointer_of(turi));
		ga_error(a, pp, "%s", why);
		free(pp);
		return -1;
	}
	return 0;
}

/* A content-encoded parameter (p, at turi): *schema is the first media
 * type's schema, the value given as JSON text (for a querystring, JSON or
 * form-urlencoded); 0, or -1 with an error naming the media type. */
static int ga_param_content(ga *a, ga_param *gp, const json_t *p, const char *turi, const json_t **schema)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)json_object_get(p, "content"), k, v) {
		(void)k;
		*schema = json_object_get(v, "schema");
		break;
	}
	gp->ctype = GA_C_JSON;
	gp->content = 1;
	if (gp->in == GA_IN_QUERYSTRING) {
		json_object_foreach((json_t *)json_object_get(p, "content"), k, v) {
			(void)v;
			if (strncasecmp(k, "application/x-www-form-urlencoded", 33) == 0)
				gp->content = 2;
			else if (!ga_is_json_media(k)) {
				char *c1 = ga_ptr(ga_pointer_of(turi), "content"), *c2 = c1 ? ga_ptr(c1, k) : NULL;
				ga_error(a, c2, "a querystring parameter's media type must be application/x-www-form-urlencoded "
				         "or JSON, not %s", k);
				free(c1);
				free(c2);
				return -1;
			}
		}
	}
	return 0;
}

static int ga_param_add(ga *a, ga_op *op, const json_t *pnode, const char *pointer)
{
	char *turi = NULL;
	const json_t *p = ga_deref(a, pnode, pointer, &turi);
	const char *name, *in;
	ga_param gp = { 0 };
	const json_t *schema;

	if (!p)
		return -1;
	name = json_string_value(json_object_get(p, "name"));
	in = json_string_value(json_object_get(p, "in"));
	if (!name || !in) {
		free(turi);
		return ga_error(a, pointer, "a parameter needs \"name\" and \"in\"");
	}
	if (ga_param_in(a, in, turi, &gp.in) != 0) {
		free(turi);
		return -1;
	}
	/* the same name and location again: the later one (operation level) wins */
	for (size_t i = 0; i < op->np; i++) {
		if (op->params[i].in == gp.in && strcmp(op->params[i].name, name) == 0) {
			free(op->params[i].name);
			free(op->params[i].cname);
			memmove(&op->params[i], &op->params[i + 1], (op->np - i - 1) * sizeof op->params[0]);
			op->np--;
			break;
		}
	}
	/* header parameters named Accept, Content-Type or Authorization are ignored (OpenAPI) */
	if (gp.in == GA_IN_HEADER && (strcasecmp(name, "Accept") == 0 || strcasecmp(name, "Content-Type") == 0 ||
	                              strcasecmp(name, "Authorization") == 0)) {
		free(turi);
		return 0;
	}
	if (ga_param_fields(a, p, gp.in, turi) != 0) {
		free(turi);
		return -1;
	}
	gp.name = strdup(name);
	gp.required = gp.in == GA_IN_PATH || json_is_true(json_object_get(p, "required"));
	if (ga_param_style(a, &gp, json_string_value(json_object_get(p, "style")), pointer, turi) != 0) {
		free(turi);
		free(gp.name);
		return -1;
	}
	gp.explode = json_object_get(p, "explode") ? json_is_true(json_object_get(p, "explode")) : gp.style == 1;
	schema = json_object_get(p, "schema");
	if (!schema && json_object_get(p, "content") && ga_param_content(a, &gp, p, turi, &schema) != 0) {
		free(turi);
		free(gp.name);
		return -1;
	}
	if (schema) {
		char *suri = NULL;
		if (asprintf(&suri, "%s/%s", turi, json_object_get(p, "schema") ? "schema" : "content") < 0)
			suri = NULL;
		if (!json_object_get(p, "schema")) {
			/* point at content/<first>/schema */
			const char *k;
			json_t *v;
			json_object_foreach((json_t *)json_object_get(p, "content"), k, v) {
				char *c1 = ga_ptr(suri, k), *c2 = c1 ? ga_ptr(c1, "schema") : NULL;
				free(c1);
				free(suri);
				suri = c2;
				(void)v;
				break;
			}
		}
		if (!suri || ga_compile(a, suri, op, gp.name, &gp.schema) != 0) {
			free(suri);
			free(turi);
			free(gp.name);
			return -1;
		}
		if (gp.ctype != GA_C_JSON && ga_param_shape(a, &gp, schema, suri, turi) != 0) {
			free(suri);
			free(turi);
			free(gp.name);
			return -1;
		}
		gp.has_default = json_object_get(schema, "default") != NULL;
		gp.constrained = gp.content || ga_schema_constrained(a, schema, suri);
		free(suri);
	}
	free(turi);
	ga_param *v = realloc(op->params, (op->np + 1) * sizeof *v);
	if (!v) {
		free(gp.name);
		return -1;
	}
	op->params = v;
	op->params[op->np++] = gp;
	return 0;
}

/* ---- security ---- */

/* RFC 9110 token characters (an auth-scheme) */
#define GA_TOKEN_CHARS "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

static int ga_all_strings(const json_t *arr)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (!json_is_string(v))
			return 0;
	return 1;
}

static int ga_security(ga *a, ga_op *op, const json_t *sec, const char *pointer)
{
	const json_t *schemes = json_object_get(json_object_get(a->doc, "components"), "securitySchemes");

	if (!json_is_array(sec))
		return ga_error(a, pointer, "\"security\" must be an array of requirement objects");
	op->nsec = json_array_size(sec);
	op->sec = calloc(op->nsec ? op->nsec : 1, sizeof *op->sec);
	if (!op->sec)
		return -1;
	for (size_t i = 0; i < op->nsec; i++) {
		const json_t *req = json_array_get(sec, i);
		char *rp = ga_ptr_index(pointer, i);
		const char *k;
		json_t *v;
		if (!json_is_object(req)) {
			ga_error(a, rp, "a security requirement must be an object");
			free(rp);
			return -1;
		}
		op->sec[i].v = calloc(json_object_size(req) ? json_object_size(req) : 1, sizeof *op->sec[i].v);
		if (!op->sec[i].v) {
			free(rp);
			return -1;
		}
		json_object_foreach((json_t *)req, k, v) {
			const json_t *s = json_object_get(schemes, k);
			char *sp = NULL, *turi = NULL;
			ga_sec_req *r = &op->sec[i].v[op->sec[i].n];
			const char *type;
			if (!s) {
				ga_error(a, rp, "security scheme \"%s\" is not defined in components/securitySchemes", k);
				free(rp);
				return -1;
			}
			sp = ga_ptr("/components/securitySchemes", k);
			s = ga_deref(a, s, sp, &turi);
			free(turi);
			if (!s) {
				free(sp);
				free(rp);
				return -1;
			}
			type = json_string_value(json_object_get(s, "type"));
			r->scheme = strdup(k);
			op->sec[i].n++; /* counted now, so ga_free frees it on any error below */
			if (!json_is_array(v) || !ga_all_strings(v)) {
				char *kp = ga_ptr(rp, k);
				ga_error(a, kp, "the scopes of a security requirement must be an array of strings");
				free(kp);
				free(sp);
				free(rp);
				return -1;
			}
			r->scopes = v;
			if (type && strcmp(type, "apiKey") == 0) {
				const char *in = json_string_value(json_object_get(s, "in"));
				const char *name = json_string_value(json_object_get(s, "name"));
				if (!in || !name) {
					ga_error(a, sp, "an apiKey scheme needs \"in\" and \"name\"");
					free(sp);
					free(rp);
					return -1;
				}
				r->kind = strcmp(in, "header") == 0 ? "RT_CRED_APIKEY_HEADER" : strcmp(in, "query") == 0 ? "RT_CRED_APIKEY_QUERY"
				        : strcmp(in, "cookie") == 0 ? "RT_CRED_APIKEY_COOKIE" : NULL;
				if (!r->kind) {
					ga_error(a, sp, "apiKey location \"%s\" is not one of header, query, cookie", in);
					free(sp);
					free(rp);
					return -1;
				}
				r->name = strdup(name);
			} else if (type && strcmp(type, "http") == 0) {
				const char *scheme = json_string_value(json_object_get(s, "scheme"));
				if (scheme && strcasecmp(scheme, "bearer") == 0) {
					r->kind = "RT_CRED_HTTP_BEARER";
				} else if (scheme && strcasecmp(scheme, "basic") == 0) {
					r->kind = "RT_CRED_HTTP_BASIC";
				} else if (scheme && scheme[0] && strspn(scheme, GA_TOKEN_CHARS) == strlen(scheme)) {
					/* OAuth, Digest, HMAC-SHA256, ...: the hook gets the whole header */
					r->kind = "RT_CRED_HTTP_OTHER";
				} else {
					char *pp = ga_ptr(sp, "scheme");
					ga_error(a, pp, "HTTP authentication scheme \"%s\" is not a token (RFC 9110 auth-scheme)",
					         scheme ? scheme : "(none)");
					free(pp);
					free(sp);
					free(rp);
					return -1;
				}
				r->http_scheme = scheme;
			} else if (type && ((strcmp(type, "oauth2") == 0 && !json_is_object(json_object_get(s, "flows"))) ||
			                    (strcmp(type, "openIdConnect") == 0 &&
			                     !json_is_string(json_object_get(s, "openIdConnectUrl"))))) {
				char *pp = ga_ptr(sp, strcmp(type, "oauth2") == 0 ? "flows" : "openIdConnectUrl");
				ga_error(a, pp, "missing: an %s scheme needs %s", type,
				         strcmp(type, "oauth2") == 0 ? "its flows" : "its openIdConnectUrl");
				free(pp);
				free(sp);
				free(rp);
				return -1;
			} else if (type && (strcmp(type, "oauth2") == 0 || strcmp(type, "openIdConnect") == 0)) {
				/* the access token arrives as a bearer token; the hook checks it */
				r->kind = "RT_CRED_HTTP_BEARER";
			} else if (type && strcmp(type, "mutualTLS") == 0) {
				/* the TLS client certificate the server verified; the hook
				 * gets its SHA-256 fingerprint */
				r->kind = "RT_CRED_MUTUAL_TLS";
			} else {
				ga_error(a, sp, "security scheme type \"%s\" is not supported", type ? type : "(none)");
				free(sp);
				free(rp);
				return -1;
			}
			free(sp);
		}
		free(rp);
	}
	return 0;
}

/* ---- operations ---- */

static int ga_status_of(const char *key, int *status)
{
	if (strcmp(key, "default") == 0) {
		*status = 0;
		return 0;
	}
	if (strlen(key) == 3 && key[0] >= '1' && key[0] <= '5' && (key[1] == 'X' || key[1] == 'x') &&
	    (key[2] == 'X' || key[2] == 'x')) {
		*status = key[0] - '0';
		return 0;
	}
	if (strlen(key) == 3 && key[0] >= '1' && key[0] <= '5' && key[1] >= '0' && key[1] <= '9' && key[2] >= '0' &&
	    key[2] <= '9') {
		*status = atoi(key);
		return 0;
	}
	return -1;
}

/* One documented response header (hnode: dereferenced, at huri) into h:
 * its C type from its schema's type (anything else is its text), and a
 * schema of exactly one string is sent by the builder itself. */
static int ga_resp_header(ga *a, ga_hdr *h, const char *name, const json_t *hnode, const char *huri)
{
	char *suri = NULL, *sp = ga_ptr(huri, "schema");
	const json_t *schema = json_object_get(hnode, "schema");
	const json_t *type, *one = NULL;
	char *lower = strdup(name);

	for (char *c = lower; c && *c; c++) /* header names are case-insensitive: members in lower case */
		*c = (char)tolower((unsigned char)*c);
	h->name = strdup(name);
	h->cname = lower ? ga_cname(lower) : NULL;
	free(lower);
	h->required = json_is_true(json_object_get(hnode, "required"));
	if (json_is_string(json_object_get(hnode, "description")))
		h->description = strdup(json_string_value(json_object_get(hnode, "description")));
	h->ctype = GA_C_STRING;
	if (schema) {
		schema = sp ? ga_deref(a, schema, sp, &suri) : NULL;
		free(suri);
		if (!schema) {
			free(sp);
			return -1;
		}
	}
	free(sp);
	type = json_object_get(schema, "type");
	if (json_is_string(type)) {
		const char *t = json_string_value(type);
		h->ctype = strcmp(t, "integer") == 0 ? GA_C_INT64 : strcmp(t, "number") == 0 ? GA_C_DOUBLE
		           : strcmp(t, "boolean") == 0 ? GA_C_BOOL : GA_C_STRING;
	}
	if (json_is_string(json_object_get(schema, "const")))
		one = json_object_get(schema, "const");
	else if (json_array_size(json_object_get(schema, "enum")) == 1 &&
	         json_is_string(json_array_get(json_object_get(schema, "enum"), 0)))
		one = json_array_get(json_object_get(schema, "enum"), 0);
	if (one)
		h->fixed = strdup(json_string_value(one));
	return h->name && h->cname && (!one || h->fixed) ? 0 : -1;
}

/* The headers object of a response (NULL: none) at turi into r->hdrs;
 * Content-Type is left out, as OpenAPI says. */
static int ga_resp_headers(ga *a, ga_resp *r, const json_t *headers, const char *turi)
{
	char *hp = ga_ptr(turi, "headers");
	const char *name;
	json_t *v;
	int rc = -1;

	if (!headers) {
		free(hp);
		return 0;
	}
	if (!hp)
		return -1;
	if (!json_is_object(headers)) {
		ga_error(a, hp, "\"headers\" must be an object");
		goto cleanup;
	}
	r->hdrs = calloc(json_object_size(headers) + 1, sizeof *r->hdrs);
	if (!r->hdrs)
		goto cleanup;
	json_object_foreach((json_t *)headers, name, v) {
		char *p, *huri = NULL;
		const json_t *hnode;
		int bad;
		if (strcasecmp(name, "Content-Type") == 0)
			continue;
		p = ga_ptr(hp, name);
		hnode = p ? ga_deref(a, v, p, &huri) : NULL;
		bad = !hnode;
		if (!bad) /* counted first, so ga_free frees a half-filled one */
			bad = ga_resp_header(a, &r->hdrs[r->nh++], name, hnode, huri) != 0;
		for (size_t i = 0; !bad && i + 1 < r->nh; i++) {
			const ga_hdr *h = &r->hdrs[i];
			if (strcasecmp(h->name, name) == 0 || strcmp(h->cname, r->hdrs[r->nh - 1].cname) == 0) {
				ga_error(a, p, "headers \"%s\" and \"%s\" would be one C member", h->name, name);
				bad = 1;
			}
		}
		free(huri);
		free(p);
		if (bad)
			goto cleanup;
		if (!r->hdrs[r->nh - 1].fixed)
			r->nh_given++;
	}
	rc = 0;
cleanup:
	free(hp);
	return rc;
}

/* r->hdr_type: one struct for every use of a response component of the
 * document (turi: where the response is), one per response otherwise. */
static int ga_resp_header_type(ga *a, const ga_op *op, ga_resp *r, const char *turi)
{
	static const char comp[] = "#/components/responses/";
	size_t n = strlen(a->uri);
	const char *name = strncmp(turi, a->uri, n) == 0 && strncmp(turi + n, comp, sizeof comp - 1) == 0
	                   ? turi + n + sizeof comp - 1 : NULL;
	char *id = NULL;
	int rc;

	if (name && *name && !strpbrk(name, "/~") && (id = gen_text_ident(name)) != NULL)
		rc = asprintf(&r->hdr_type, "%s_%s_headers", a->opt->name, id);
	else
		rc = asprintf(&r->hdr_type, "%s_%s_respond_%s_headers", a->opt->name, op->opid, r->key);
	free(id);
	if (rc < 0)
		r->hdr_type = NULL;
	return r->hdr_type ? 0 : -1;
}

static int ga_is_sequential_media(const char *mt);

/* 3.2's itemSchema in a response's content (turi: where the response is):
 * only a 3.2 document, only on a sequential media type. */
static int ga_resp_items_check(ga *a, const json_t *resp, const char *turi)
{
	const char *mt;
	json_t *mv;

	json_object_foreach((json_t *)json_object_get(resp, "content"), mt, mv) {
		char *c1, *c2;
		if (!json_object_get(mv, "itemSchema") || (a->dialect_minor >= 2 && ga_is_sequential_media(mt)))
			continue;
		c1 = ga_ptr(ga_pointer_of(turi), "content");
		c2 = c1 ? ga_ptr(c1, mt) : NULL;
		ga_error(a, c2, a->dialect_minor < 2 ? "itemSchema is OpenAPI 3.2; this document is not"
		         : "itemSchema is for sequential media types (application/jsonl, application/x-ndjson, "
		           "application/json-seq, text/event-stream), not %s", mt);
		free(c1);
		free(c2);
		return -1;
	}
	return 0;
}

/* The media type a response's builder sends and its schema: the first JSON
 * one, else the first with an itemSchema (the builder then takes the
 * items), else the first; an itemSchema not chosen is said in a warning. */
static int ga_resp_content(ga *a, const ga_op *op, ga_resp *r, const json_t *content, const char *turi)
{
	const char *mt, *chosen = NULL, *what = "schema";
	char *c1 = ga_ptr(turi, "content"), *c2 = NULL, *c3 = NULL, *name = NULL;
	json_t *mv;
	int rc = -1, best = -1;

	json_object_foreach((json_t *)content, mt, mv) {
		int rank = ga_is_json_media(mt) ? 2 : json_object_get(mv, "itemSchema") ? 1 : 0;
		if (!chosen || rank > best)
			chosen = mt, best = rank;
	}
	json_object_foreach((json_t *)content, mt, mv) {
		char *w1, *w2;
		if (mt == chosen || !json_object_get(mv, "itemSchema"))
			continue;
		w1 = c1 ? ga_ptr(c1, mt) : NULL;
		w2 = w1 ? ga_ptr(w1, "itemSchema") : NULL;
		fprintf(stderr, "%s: %s: warning: response %s is sent as %s by its builder; the %s items of this "
		        "itemSchema are not (one media type a response)\n", a->opt->spec_path, w2 ? ga_pointer_of(w2) : "",
		        r->key, chosen, mt);
		free(w1);
		free(w2);
	}
	r->content_type = strdup(strcmp(chosen, "*/*") == 0 ? "application/json" : chosen);
	r->items = json_object_get(json_object_get(content, chosen), "itemSchema") != NULL;
	if (r->items)
		what = "itemSchema";
	else if (!ga_is_json_media(chosen) || !json_object_get(json_object_get(content, chosen), "schema"))
		rc = 0;
	if (rc == 0 || !c1 || !r->content_type)
		goto cleanup;
	c2 = ga_ptr(c1, chosen);
	c3 = c2 ? ga_ptr(c2, what) : NULL;
	if (!c3 || asprintf(&name, "%s%s", r->key, r->items ? "_items" : "") < 0) {
		name = NULL;
		goto cleanup;
	}
	rc = ga_compile(a, c3, op, name, &r->schema);
cleanup:
	free(c1);
	free(c2);
	free(c3);
	free(name);
	return rc;
}

static int ga_responses(ga *a, ga_op *op, const json_t *resps, const char *pointer)
{
	const char *k;
	json_t *v;

	if (!resps) {
		/* 3.1 makes responses optional: the handler can only answer errors */
		op->resps = calloc(1, sizeof *op->resps);
		return op->resps ? 0 : -1;
	}
	if (!json_is_object(resps))
		return ga_error(a, pointer, "\"responses\" must be an object");
	op->resps = calloc(json_object_size(resps) ? json_object_size(resps) : 1, sizeof *op->resps);
	if (!op->resps)
		return -1;
	json_object_foreach((json_t *)resps, k, v) {
		char *rp = ga_ptr(pointer, k), *turi = NULL;
		ga_resp *r = &op->resps[op->nr];
		const json_t *resp, *content;
		if (k[0] == 'x' && k[1] == '-') {
			free(rp);
			continue;
		}
		if (ga_status_of(k, &r->status) != 0) {
			ga_error(a, rp, "\"%s\" is not a status code, a range like 4XX, or default", k);
			free(rp);
			return -1;
		}
		resp = ga_deref(a, v, rp, &turi);
		if (!resp) {
			free(rp);
			return -1;
		}
		if (ga_resp_items_check(a, resp, turi) != 0) {
			free(turi);
			free(rp);
			return -1;
		}
		r->key = strdup(k);
		for (char *c = r->key; *c; c++)
			if (*c == 'x')
				*c = 'X';
		for (size_t i = 0; r->key && i < op->nr; i++) {
			if (strcmp(op->resps[i].key, r->key) == 0) {
				ga_error(a, rp, "\"%s\" names the same statuses as \"%s\"", k, op->resps[i].key);
				free(r->key);
				r->key = NULL;
				free(turi);
				free(rp);
				return -1;
			}
		}
		op->nr++; /* counted now, so ga_free frees what follows on any error */
		r->description = json_string_value(json_object_get(resp, "description"))
		                 ? strdup(json_string_value(json_object_get(resp, "description"))) : NULL;
		content = json_object_get(resp, "content");
		if (json_object_size(content) && ga_resp_content(a, op, r, content, turi) != 0) {
			free(turi);
			free(rp);
			return -1;
		}
		if (ga_resp_headers(a, r, json_object_get(resp, "headers"), turi) != 0 ||
		    (r->nh_given && ga_resp_header_type(a, op, r, turi) != 0)) {
			free(turi);
			free(rp);
			return -1;
		}
		free(turi);
		free(rp);
		if (r->status == 422)
			op->validation_status = 422;
	}
	return 0;
}

/* Compiles content/<mt>/schema of the request body at turi into *sym. */
static int ga_body_schema(ga *a, const ga_op *op, const char *turi, const char *mt, const char *what, const char **sym)
{
	char *c1 = ga_ptr(turi, "content"), *c2 = c1 ? ga_ptr(c1, mt) : NULL;
	char *c3 = c2 ? ga_ptr(c2, strcmp(what, "items") == 0 ? "itemSchema" : "schema") : NULL;
	int rc = c3 ? ga_compile(a, c3, op, what, sym) : -1;

	free(c1);
	free(c2);
	free(c3);
	return rc;
}

/* The media types OpenAPI 3.2's itemSchema describes item by item. */
static int ga_is_sequential_media(const char *mt)
{
	static const char *const seq[] = { "application/jsonl", "application/x-ndjson", "application/json-seq",
	                                   "text/event-stream" };
	size_t n = strcspn(mt, "; ");

	for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++)
		if (strlen(seq[i]) == n && strncasecmp(mt, seq[i], n) == 0)
			return 1;
	return 0;
}

static int ga_body(ga *a, ga_op *op, const json_t *rb, const char *pointer)
{
	char *turi = NULL;
	const json_t *body = ga_deref(a, rb, pointer, &turi);
	const json_t *content;
	const char *mt, *json_mt = NULL;
	const char *form_mt = NULL;
	json_t *mv;

	if (!body)
		return -1;
	content = json_object_get(body, "content");
	op->has_body = 1;
	op->body_required = json_is_true(json_object_get(body, "required"));
	op->body_types = calloc(json_object_size(content) + 1, sizeof *op->body_types);
	if (!op->body_types) {
		free(turi);
		return -1;
	}
	json_object_foreach((json_t *)content, mt, mv) {
		if (json_object_get(mv, "itemSchema")) {
			char *c1 = ga_ptr(turi, "content"), *c2 = c1 ? ga_ptr(c1, mt) : NULL, *c3 = c2 ? ga_ptr(c2, "itemSchema") : NULL;
			int bad = a->dialect_minor < 2 ? 1 : !ga_is_sequential_media(mt) ? 2 : op->item_type ? 3 : 0;
			if (bad)
				ga_error(a, c3 ? ga_pointer_of(c3) : pointer, bad == 1 ? "itemSchema is OpenAPI 3.2; this document is not"
				         : bad == 2 ? "itemSchema is for sequential media types (application/jsonl, application/x-ndjson, "
				                      "application/json-seq, text/event-stream), not %s"
				                    : "itemSchema on more than one media type of a request body (%s) is not supported", mt);
			free(c1);
			free(c2);
			free(c3);
			if (bad || ga_body_schema(a, op, turi, mt, "items", &op->item_schema) != 0) {
				free(turi);
				return -1;
			}
			op->item_type = strdup(mt);
		}
		op->body_types[op->nbt++] = strdup(mt);
		if (!json_mt && ga_is_json_media(mt))
			json_mt = mt;
		if (!form_mt && strncasecmp(mt, "application/x-www-form-urlencoded", 33) == 0 &&
		    (mt[33] == '\0' || mt[33] == ';' || mt[33] == ' '))
			form_mt = mt;
	}
	if (op->item_schema && json_mt && json_object_get(json_object_get(content, json_mt), "schema")) {
		free(turi);
		return ga_error(a, pointer, "itemSchema (%s) and a JSON schema (%s) in one request body are not supported: "
		                "the handler gets either the items or one document", op->item_type, json_mt);
	}
	if ((json_mt && json_object_get(json_object_get(content, json_mt), "schema") &&
	     ga_body_schema(a, op, turi, json_mt, "body", &op->body_schema) != 0) ||
	    (form_mt && json_object_get(json_object_get(content, form_mt), "schema") &&
	     ga_body_schema(a, op, turi, form_mt, "form", &op->form_schema) != 0)) {
		free(turi);
		return -1;
	}
	free(turi);
	return 0;
}

/* The ulfius route of an OpenAPI path: "{id}" -> ":id". A segment where a
 * template shares the segment with other text ("{sid}.json", "{a}-{b}",
 * "{id}{ext}") becomes one parameter named after its first template; the
 * runtime cuts the values out of it (rt_params). A query string in the
 * path key ("/search?query={q}") is not part of the route: the runtime
 * reads its templates from the query and checks its literal pairs. */
static char *ga_route(const char *path, unsigned *templated)
{
	char *out = malloc(strlen(path) + 1), *o = out;

	*templated = 0;
	if (!out)
		return NULL;
	for (const char *s = path; *s && *s != '?'; s++) {
		const char *seg_end = s + strcspn(s, "/?");
		const char *open = memchr(s, '{', (size_t)(seg_end - s));
		const char *e = open ? strchr(open, '}') : NULL;
		if (*s == '/' || !open || !e) {
			*o++ = *s;
			continue;
		}
		*o++ = ':';
		memcpy(o, open + 1, (size_t)(e - open - 1));
		o += e - open - 1;
		for (const char *t = s; t < seg_end; t++)
			*templated += *t == '{';
		s = seg_end - 1;
	}
	*o = '\0';
	return out;
}

static int ga_needs_has(const ga_param *p);

/* Whether name is taken by a member of op's params struct before params[upto]. */
static int ga_member_taken(const ga_op *op, size_t upto, const char *name)
{
	for (size_t k = 0; k < upto; k++) {
		const char *c = op->params[k].cname;
		if (strcmp(c, name) == 0 ||
		    (ga_needs_has(&op->params[k]) && strncmp(name, "has_", 4) == 0 && strcmp(c, name + 4) == 0))
			return 1;
	}
	return 0;
}

static int ga_param_cnames(ga_op *op)
{
	static const char *const where[] = { "path", "query", "header", "cookie", "querystring" };

	for (size_t i = 0; i < op->np; i++) {
		ga_param *p = &op->params[i];
		char *base = ga_cname(p->name), *name = NULL, *has = NULL;
		if (!base)
			return -1;
		for (unsigned k = 0;; k++) {
			free(name);
			free(has);
			name = has = NULL;
			if ((k == 0 ? asprintf(&name, "%s", base) : k == 1 ? asprintf(&name, "%s_%s", base, where[p->in])
			     : asprintf(&name, "%s_%s%u", base, where[p->in], k)) < 0 || asprintf(&has, "has_%s", name) < 0) {
				free(name);
				free(base);
				return -1;
			}
			if (!ga_member_taken(op, i, name) && !(ga_needs_has(p) && ga_member_taken(op, i, has)))
				break;
		}
		free(has);
		free(base);
		p->cname = name;
	}
	return 0;
}

/* Gives the derived name of op a suffix no other operation has. */
static int ga_rename_derived(ga *a, ga_op *op)
{
	for (unsigned k = 2;; k++) {
		char *name = NULL;
		if (asprintf(&name, "%s_%u", op->opid, k) < 0)
			return -1;
		if (!json_object_get(a->opids, name)) {
			free(op->opid);
			op->opid = name;
			return 0;
		}
		free(name);
	}
}

/* The parameters of op: the path item's first, then the operation's, which
 * override the same name and location; only the survivors are compiled. */
static int ga_op_params(ga *a, ga_op *op, const json_t *item, const json_t *opnode, const char *item_loc)
{
	struct ga_pv { const json_t *node; char *ptr; const char *name, *in; int level; } *pv = NULL;
	size_t npv = 0, cap = 0;
	int bad = 0;

	for (int level = 0; level < 2 && !bad; level++) {
		const json_t *list = json_object_get(level ? opnode : item, "parameters");
		char *pp = ga_ptr(level ? op->loc : item_loc, "parameters");
		if (list && !json_is_array(list)) {
			ga_error(a, pp, "\"parameters\" must be an array");
			bad = 1;
		}
		for (size_t i = 0; !bad && i < json_array_size(list); i++) {
			char *ip = ga_ptr_index(pp, i), *turi = NULL;
			const json_t *p = ga_deref(a, json_array_get(list, i), ip, &turi);
			free(turi);
			if (!p) {
				free(ip);
				bad = 1;
				break;
			}
			const char *nm = json_string_value(json_object_get(p, "name"));
			const char *in = json_string_value(json_object_get(p, "in"));
			for (size_t k = 0; nm && in && k < npv; k++) {
				if (pv[k].name && strcmp(pv[k].name, nm) == 0 && strcmp(pv[k].in, in) == 0 && pv[k].level == level) {
					/* the same list twice: OpenAPI forbids it */
					ga_error(a, ip, "parameter \"%s\" in %s is listed twice (also at %s)", nm, in, pv[k].ptr);
					free(ip);
					bad = 1;
					break;
				}
				if (pv[k].name && strcmp(pv[k].name, nm) == 0 && strcmp(pv[k].in, in) == 0) {
					free(pv[k].ptr);
					memmove(&pv[k], &pv[k + 1], (npv - k - 1) * sizeof pv[0]);
					npv--;
					break;
				}
			}
			if (bad)
				break;
			if (npv == cap) {
				struct ga_pv *v = realloc(pv, (cap = cap ? 2 * cap : 16) * sizeof *pv);
				if (!v) {
					free(ip);
					bad = 1;
					break;
				}
				pv = v;
			}
			pv[npv].node = json_array_get(list, i);
			pv[npv].ptr = ip;
			pv[npv].name = nm;
			pv[npv].in = in ? in : "";
			pv[npv].level = level;
			npv++;
		}
		free(pp);
	}
	for (size_t k = 0; k < npv; k++) {
		if (!bad && ga_param_add(a, op, pv[k].node, pv[k].ptr) != 0)
			bad = 1;
		free(pv[k].ptr);
	}
	free(pv);
	return bad ? -1 : 0;
}

static const ga_param *ga_path_param(const ga_op *op, const char *name, size_t len);

/* The query parameter a template of the path key's query string stands
 * for (key={name} with key a declared query parameter and no path
 * parameter name), or NULL. */
static const ga_param *ga_query_param_of(const ga_op *op, const char *query, const char *tmpl)
{
	const char *k = tmpl - 1, *close = strchr(tmpl, '}');

	while (k > query && k[-1] != '&' && k[-1] != '?')
		k--;
	if (!close || ga_path_param(op, tmpl + 1, (size_t)(close - tmpl - 1)))
		return NULL;
	for (size_t i = 0; i < op->np; i++)
		if (op->params[i].in == GA_IN_QUERY && strlen(op->params[i].name) == (size_t)(tmpl - 1 - k) &&
		    strncmp(op->params[i].name, k, (size_t)(tmpl - 1 - k)) == 0)
			return &op->params[i];
	return NULL;
}

/* 1 the first time for path (its operations come one after another). */
static int ga_warn_once(ga *a, const char *path)
{
	if (a->warned_path && strcmp(a->warned_path, path) == 0)
		return 0;
	a->warned_path = path;
	return 1;
}

/* op's path parameter named by the template at name (len bytes), or NULL. */
static const ga_param *ga_path_param(const ga_op *op, const char *name, size_t len)
{
	for (size_t i = 0; i < op->np; i++)
		if (op->params[i].in == GA_IN_PATH && strlen(op->params[i].name) == len &&
		    strncmp(op->params[i].name, name, len) == 0)
			return &op->params[i];
	return NULL;
}

/* Every {name} of the path must be a declared path parameter. Two adjacent
 * templates ({id}{ext}) are read where at least one of them has a schema
 * that tells its values apart (a type other than string, an enum, a
 * pattern, a format, a length bound), with a warning; a query string in the
 * path key holds key={template} and literal pairs. */
static int ga_op_path_check(ga *a, const ga_op *op, const char *path, const char *item_ptr, const char *optr)
{
	const char *query = strchr(path, '?');

	for (const char *s = strchr(path, '{'); s; s = strchr(s + 1, '{')) {
		const char *e = strchr(s, '}');
		const ga_param *p;
		if (!e)
			return ga_error(a, item_ptr, "unclosed '{' in the path \"%s\"", path);
		if (query && s > query && s[-1] == '=' && ga_query_param_of(op, query, s))
			continue; /* /search?query={query}: the query parameter itself, documented in the key */
		if (!(p = ga_path_param(op, s + 1, (size_t)(e - s - 1))))
			return ga_error(a, optr, "the path template {%.*s} has no path parameter declared", (int)(e - s - 1), s + 1);
		if (query && s > query && (s[-1] != '=' || (e[1] != '&' && e[1] != '\0')))
			return ga_error(a, item_ptr, "the template {%.*s} in the path's query string must be a whole value "
			                "(key={%.*s}) to be read", (int)(e - s - 1), s + 1, (int)(e - s - 1), s + 1);
		if (e[1] == '{') {
			const char *e2 = strchr(e + 1, '}');
			const ga_param *q = e2 ? ga_path_param(op, e + 2, (size_t)(e2 - e - 2)) : NULL;
			if (!q)
				continue; /* the next round names what is wrong */
			if (!p->constrained && !q->constrained)
				return ga_error(a, item_ptr, "path templates with nothing between them (\"%.*s\") cannot be told apart: "
				                "neither parameter's schema constrains its values (give one a pattern, an enum, "
				                "a format or a non-string type)", (int)(e2 - s + 1), s);
			if (ga_warn_once(a, path)) {
				fprintf(stderr, "%s: %s: warning: adjacent path templates \"%.*s\": a value is split where both "
				        "parameters' schemas accept it ({%.*s} longest first)\n", a->opt->spec_path, item_ptr,
				        (int)(e2 - s + 1), s, (int)(e - s - 1), s + 1);
			}
		}
	}
	for (size_t i = 0; i < op->np; i++) {
		const ga_param *p = &op->params[i];
		char *t = NULL;
		if (p->in != GA_IN_PATH)
			continue;
		if (asprintf(&t, "{%s}", p->name) < 0)
			return -1;
		if (!strstr(path, t)) {
			free(t);
			return ga_error(a, optr, "path parameter \"%s\" is not a template of the path %s", p->name, path);
		}
		free(t);
	}
	if (query) {
		for (size_t i = 0; i < op->np; i++)
			if (op->params[i].in == GA_IN_QUERY) {
				size_t nl = strlen(op->params[i].name);
				for (const char *k = query; k; k = strchr(k + 1, '&'))
					if (strncmp(k + 1, op->params[i].name, nl) == 0 && (k[1 + nl] == '=' || k[1 + nl] == '&' ||
					                                                   !k[1 + nl]) &&
					    !(k[1 + nl] == '=' && k[2 + nl] == '{' && !ga_path_param(op, k + 3 + nl, strcspn(k + 3 + nl, "}"))))
						return ga_error(a, optr, "query parameter \"%s\" is also a key of the path's query string (%s)",
						                op->params[i].name, path);
			}
		if (ga_warn_once(a, path))
			fprintf(stderr, "%s: %s: warning: the path has a query string: routed as \"%.*s\", its templates read "
			        "from the query, its literal pairs required\n", a->opt->spec_path, item_ptr,
			        (int)(query - path), path);
	}
	return 0;
}

/* op's C name: its operationId made C-safe, or one derived from method and
 * path; registered in a->opids. */
static int ga_op_name(ga *a, ga_op *op, const char *opid, const char *method, const char *path, const char *optr)
{
	if (opid) {
		op->opid = ga_cname(opid);
	} else {
		char *raw = NULL;
		if (asprintf(&raw, "%s%s", method, path) >= 0) {
			op->opid = gen_text_ident(raw);
			/* squeeze runs of '_' */
			char *w = op->opid;
			for (char *r = op->opid; r && *r; r++)
				if (!(*r == '_' && w > op->opid && w[-1] == '_'))
					*w++ = *r;
			if (w) {
				while (w > op->opid + 1 && w[-1] == '_')
					w--;
				*w = '\0';
			}
		}
		free(raw);
	}
	op->opid_src = opid;
	if (!op->opid)
		return -1;
	/* two operationIds that make the same C name stop the generator; a name
	 * derived from method and path steps aside (_2, _3, ...) */
	for (;;) {
		json_t *taken = json_object_get(a->opids, op->opid);
		ga_op *o;
		if (!taken) {
			if (json_object_set_new(a->opids, op->opid, json_integer((json_int_t)(a->nops - 1))) != 0)
				return -1;
			break;
		}
		o = &a->ops[json_integer_value(taken)];
		if (o->opid_src && op->opid_src && strcmp(o->opid_src, op->opid_src) == 0)
			return ga_error(a, optr, "operationId \"%s\" is used twice (also at %s)", op->opid_src, o->pointer);
		if (o->opid_src && op->opid_src)
			return ga_error(a, optr, "operationId \"%s\" and \"%s\" (at %s) both become the C name %s",
			                op->opid_src, o->opid_src, o->pointer, op->opid);
		if (o->opid_src || !op->opid_src) {
			if (ga_rename_derived(a, op) != 0)
				return -1;
		} else {
			/* the earlier operation's derived name steps aside */
			json_t *idx = json_incref(taken);
			json_object_del(a->opids, o->opid);
			if (ga_rename_derived(a, o) != 0 || json_object_set_new(a->opids, o->opid, idx) != 0)
				return -1;
		}
	}
	return 0;
}

/* /a/{x} and /a/{y} (or /a?k=1 and /a?k=2) are one route: OpenAPI forbids
 * the first, and a router cannot tell either apart; refused, unless both
 * have query strings that differ. op's route is registered in a->routes. */
static int ga_op_route_unique(ga *a, ga_op *op, const char *path, const char *optr)
{
	char *key = NULL, *w;
	const json_t *other;

	if (asprintf(&key, "%s %.*s", op->method, (int)strcspn(path, "?"), path) < 0)
		return -1;
	for (char *r = w = key; *r; r++) {
		*w++ = *r;
		if (*r == '{' && strchr(r, '}'))
			r = strchr(r, '}') - 1;
	}
	*w = '\0';
	other = json_object_get(a->routes, key);
	/* both with query strings that differ: the runtime tries each in turn
	 * (/rest?method=a and /rest?method=b, Flickr) */
	if (other && strchr(path, '?') && json_object_get(a->route_queries, optr) == NULL) {
		const char *oq = json_string_value(json_object_get(a->route_queries, json_string_value(other)));
		if (oq && strcmp(oq, strchr(path, '?')) != 0) {
			json_object_set_new(a->route_queries, optr, json_string(strchr(path, '?')));
			op->shares_route = 1;
			for (size_t i = 0; i + 1 < a->nops; i++)
				if (strcmp(a->ops[i].pointer, json_string_value(other)) == 0)
					a->ops[i].shares_route = 1;
			free(key);
			key = NULL;
		}
	}
	if (!key)
		;
	else if (other) {
		free(key);
		return ga_error(a, optr, "%s %s is the same route as %s: %s", op->method, path, json_string_value(other),
		                strchr(path, '?') || strchr(json_string_value(other), '?')
		                    ? "paths that differ only in their query string cannot be routed apart"
		                    : "paths that differ only in template names are not allowed (OpenAPI: Paths)");
	}
	if (key && (json_object_set_new(a->routes, key, json_string(optr)) != 0 ||
	            (strchr(path, '?') && json_object_set_new(a->route_queries, optr, json_string(strchr(path, '?'))) != 0))) {
		free(key);
		return -1;
	}
	free(key);
	return 0;
}

/* a querystring parameter is the whole query: alone there (OpenAPI 3.2) */
static int ga_op_querystring_alone(ga *a, const ga_op *op, const char *optr)
{
	size_t nqs = 0, nq = 0;

	for (size_t i = 0; i < op->np; i++) {
		nqs += op->params[i].in == GA_IN_QUERYSTRING;
		nq += op->params[i].in == GA_IN_QUERY;
	}
	if (nqs > 1 || (nqs && nq))
		return ga_error(a, optr, nqs > 1 ? "more than one querystring parameter" :
		                "a querystring parameter and query parameters cannot both be used (OpenAPI 3.2)");
	return 0;
}

/* One operation: method is its key under the path item, or under its
 * additionalOperations (OpenAPI 3.2) when extra is set. */
static int ga_operation(ga *a, const char *path, const char *method, const json_t *item, const json_t *opnode,
                        const char *item_ptr, const char *item_loc, int extra)
{
	char *xptr = extra ? ga_ptr(item_ptr, "additionalOperations") : NULL;
	char *xloc = extra ? ga_ptr(item_loc, "additionalOperations") : NULL;
	char *optr = ga_ptr(extra ? xptr : item_ptr, method), *oraw = ga_ptr(extra ? xloc : item_loc, method), *ouri = NULL;

	free(xptr);
	free(xloc);
	ga_op *op;
	const char *opid;
	const json_t *sec;
	int rc = -1;

	/* split documents often write an operation as a $ref to another file */
	opnode = oraw ? ga_deref(a, opnode, oraw, &ouri) : NULL;
	free(oraw);
	if (!opnode || !json_is_object(opnode)) {
		if (opnode)
			ga_error(a, optr, "an operation must be an object");
		free(optr);
		free(ouri);
		return -1;
	}
	opid = json_string_value(json_object_get(opnode, "operationId"));
	if (a->nops == a->capops) {
		size_t cap = a->capops ? a->capops * 2 : 16;
		ga_op *v = realloc(a->ops, cap * sizeof *v);
		if (!v) {
			free(optr);
			free(ouri);
			return -1;
		}
		a->ops = v;
		a->capops = cap;
	}
	op = &a->ops[a->nops++];
	memset(op, 0, sizeof *op);
	op->pointer = optr;
	op->loc = ga_loc(a, ouri);
	free(ouri);
	op->path = strdup(path);
	op->method = strdup(method);
	for (char *c = op->method; *c && !extra; c++) /* additionalOperations: as sent */
		*c = (char)(*c - 32 * (*c >= 'a' && *c <= 'z'));
	op->validation_status = 400;
	if (ga_op_name(a, op, opid, method, path, optr) != 0)
		return -1;
	{
		const char *summary = json_string_value(json_object_get(opnode, "summary"));
		op->summary = strdup(summary ? summary : "");
	}
	op->route = ga_route(path, &op->priority);
	op->priority = op->priority * 1000 + (unsigned)a->nops;
	if (!op->route)
		return -1;
	if (ga_op_route_unique(a, op, path, optr) != 0)
		return -1;
	if (ga_op_params(a, op, item, opnode, item_loc) != 0 || ga_op_path_check(a, op, path, item_ptr, optr) != 0)
		return -1;
	if (ga_op_querystring_alone(a, op, optr) != 0)
		return -1;
	/* C names of the parameters: unique members of the params struct,
	 * has_<name> flags included (x_query, then x_query2, ...) */
	if (ga_param_cnames(op) != 0)
		return -1;
	if (json_object_get(opnode, "requestBody")) {
		char *bp = ga_ptr(op->loc, "requestBody");
		int r = ga_body(a, op, json_object_get(opnode, "requestBody"), bp);
		free(bp);
		if (r != 0)
			return -1;
	}
	{
		char *rp = ga_ptr(op->loc, "responses");
		int r = ga_responses(a, op, json_object_get(opnode, "responses"), rp);
		free(rp);
		if (r != 0)
			return -1;
	}
	sec = json_object_get(opnode, "security");
	if (sec) {
		char *sp = ga_ptr(op->loc, "security");
		rc = ga_security(a, op, sec, sp);
		free(sp);
	} else if (json_object_get(a->doc, "security")) {
		rc = ga_security(a, op, json_object_get(a->doc, "security"), "/security");
	} else {
		rc = 0;
	}
	return rc;
}

/* The index of "query" in ga_model's methods (an operation from 3.2 on). */
#define GA_QUERY_METHOD 8

/* OpenAPI 3.2's additionalOperations: any other HTTP method (LINK, COPY,
 * PROPFIND) as it is sent, never one of the fixed ones. */
static int ga_additional_operations(ga *a, const char *path, const json_t *item, const char *ip, const char *iloc,
                                    const char *const *fixed, size_t nfixed)
{
	const json_t *more = json_object_get(item, "additionalOperations");
	const char *m;
	json_t *opnode;

	if (!more)
		return 0;
	if (a->dialect_minor < 2 || !json_is_object(more)) {
		char *pp = ga_ptr(ip, "additionalOperations");
		ga_error(a, pp, a->dialect_minor < 2 ? "additionalOperations is OpenAPI 3.2; this document is not"
		                                     : "additionalOperations must be an object of operations");
		free(pp);
		return -1;
	}
	json_object_foreach((json_t *)more, m, opnode) {
		char *pp = NULL, *xp = ga_ptr(ip, "additionalOperations");
		int bad = !m[0] || strspn(m, GA_TOKEN_CHARS) != strlen(m);
		for (size_t k = 0; k < nfixed && !bad; k++)
			bad = strcasecmp(m, fixed[k]) == 0 ? 2 : 0;
		if (bad) {
			pp = ga_ptr(xp, m);
			ga_error(a, pp, bad == 2 ? "\"%s\" is a fixed field of the path item; additionalOperations holds only "
			                           "other methods" : "\"%s\" is not an HTTP method name (a token)", m);
			free(pp);
			free(xp);
			return -1;
		}
		free(xp);
		if (ga_operation(a, path, m, item, opnode, ip, iloc, 1) != 0)
			return -1;
	}
	return 0;
}

static int ga_model(ga *a)
{
	static const char *const methods[] = { "get", "put", "post", "delete", "options", "head", "patch", "trace", "query" };
	const char *version = json_string_value(json_object_get(a->doc, "openapi"));
	const json_t *paths = json_object_get(a->doc, "paths");
	const char *path;
	json_t *item;

	if (!json_is_object(a->doc))
		return ga_error(a, "", "the document is not an object");
	if (!version) {
		if (json_object_get(a->doc, "swagger"))
			return ga_error(a, "/swagger", "Swagger 2.0 is not supported; convert the document to OpenAPI 3");
		return ga_error(a, "/openapi", "missing: this is not an OpenAPI document");
	}
	if (strncmp(version, "3.0.", 4) == 0 || strcmp(version, "3.0") == 0)
		a->dialect = GEN_DIALECT_30;
	else if (strncmp(version, "3.1.", 4) == 0 || strcmp(version, "3.1") == 0)
		a->dialect = GEN_DIALECT_31;
	else if (strncmp(version, "3.2.", 4) == 0 || strcmp(version, "3.2") == 0) {
		a->dialect = GEN_DIALECT_31; /* the same JSON Schema 2020-12 dialect */
		a->dialect_minor = 2;
	} else
		return ga_error(a, "/openapi", "version \"%s\" is not supported (3.0.x, 3.1.x and 3.2.x are)", version);
	/* $self (3.2): the document's own URI; references to it are to this file */
	if (json_object_get(a->doc, "$self")) {
		const char *self = json_string_value(json_object_get(a->doc, "$self"));
		char *abs;
		if (a->dialect_minor < 2)
			return ga_error(a, "/$self", "$self is OpenAPI 3.2; this document is %s", version);
		if (!self || strchr(self, '#'))
			return ga_error(a, "/$self", "$self must be a URI reference without a fragment");
		abs = docset_uri_resolve(a->uri, self);
		if (!abs || docset_alias(a->ds, abs, a->uri) != 0) {
			free(abs);
			return -1;
		}
		free(abs);
	}
	a->gs = gen_schema_new(a->ds, a->opt->name, a->dialect);
	if (!a->gs)
		return -1;
	/* base path: servers[0].url's path, variables at their defaults */
	{
		const json_t *s0 = json_array_get(json_object_get(a->doc, "servers"), 0);
		const char *url = json_string_value(json_object_get(s0, "url"));
		const char *p = url ? strstr(url, "://") : NULL;
		char *buf = NULL;
		size_t o = 0;
		FILE *f = open_memstream(&buf, &o);
		if (!f)
			return -1;
		/* the path of an absolute URL, of a network-path reference (//host/path) or
		 * of a relative URL, without its query */
		p = p ? strchr(p + 3, '/') : url && url[0] == '/' && url[1] == '/' ? strchr(url + 2, '/') : url;
		for (; p && *p && *p != '?' && *p != '#'; p++) {
			if (*p == '{') {
				const char *e = strchr(p, '}');
				const json_t *vars = json_object_get(s0, "variables"), *var;
				if (!e)
					break;
				var = json_object_getn(vars, p + 1, (size_t)(e - p - 1));
				fputs(json_string_value(json_object_get(var, "default")) ? json_string_value(json_object_get(var, "default"))
				                                                         : "", f);
				p = e;
			} else {
				fputc(*p, f);
			}
		}
		if (fclose(f) != 0 || !buf) {
			free(buf);
			return -1;
		}
		o = strlen(buf);
		while (o > 0 && buf[o - 1] == '/')
			buf[--o] = '\0';
		a->base_path = buf;
	}
	if (paths && !json_is_object(paths))
		return ga_error(a, "/paths", "must be an object");
	json_object_foreach((json_t *)paths, path, item) {
		char *ip = ga_ptr("/paths", path), *turi = NULL, *iloc = NULL;
		const json_t *it;
		if (path[0] == 'x' && path[1] == '-') {
			free(ip);
			continue;
		}
		if (path[0] != '/') {
			ga_error(a, ip, "a path must start with '/'");
			free(ip);
			return -1;
		}
		it = ga_deref(a, item, ip, &turi);
		iloc = it ? ga_loc(a, turi) : NULL;
		free(turi);
		if (!iloc) {
			free(ip);
			return -1;
		}
		for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
			const json_t *opnode = json_object_get(it, methods[m]);
			if (m == GA_QUERY_METHOD && a->dialect_minor < 2) {
				if (opnode)
					fprintf(stderr, "%s: %s/query: warning: \"query\" is an operation only in OpenAPI 3.2; "
					        "ignored in %s\n", a->opt->spec_path, ip, version);
				continue;
			}
			if (opnode && ga_operation(a, path, methods[m], it, opnode, ip, iloc, 0) != 0) {
				free(ip);
				free(iloc);
				return -1;
			}
		}
		if (ga_additional_operations(a, path, it, ip, iloc, methods, sizeof methods / sizeof methods[0]) != 0) {
			free(ip);
			free(iloc);
			return -1;
		}
		free(ip);
		free(iloc);
	}
	return 0;
}

/* ---- emission ---- */

static void ga_comment(FILE *out, const char *s)
{
	gen_text_comment(out, s);
}

static const char *ga_ctype(int c)
{
	static const char *const t[] = { "const char *", "int64_t ", "double ", "int ", "const json_t *" };
	return t[c];
}

static const char *ga_rt_ctype(int c)
{
	static const char *const t[] = { "RT_C_STRING", "RT_C_INT64", "RT_C_DOUBLE", "RT_C_BOOL", "RT_C_JSON" };
	return t[c];
}

static int ga_needs_has(const ga_param *p)
{
	return !p->required && !p->has_default;
}

/* ---- typed bodies ---- */

/* The C model of every request and response body (gen_model), or why a
 * body stays a json_t. */
static int ga_typed(ga *a)
{
	a->gm = gen_model_new(a->gs, a->opt->name);
	a->gp = gen_parse_new(a->gs);
	if (!a->gm || !a->gp)
		return -1;
	for (size_t i = 0; i < a->nops; i++) {
		ga_op *op = &a->ops[i];
		const char *fm = NULL, *fwhy = NULL;
		if (op->body_schema && gen_parse_root(a->gp, op->body_schema) != 0)
			return -1;
		if ((op->body_schema && gen_model_body(a->gm, op->body_schema, GEN_MODEL_REQUEST, &op->body_model,
		                                       &op->body_why, a->err, a->errlen) != 0) ||
		    (op->form_schema && gen_model_body(a->gm, op->form_schema, GEN_MODEL_REQUEST, &fm, &fwhy, a->err,
		                                       a->errlen) != 0))
			return -1;
		if (op->body_schema && op->body_model &&
		    gen_parse_model(a->gp, a->gm, op->body_schema, op->body_model) != 0)
			return -1;
		if (!op->body_schema) {
			op->body_model = fm;
			op->body_why = fwhy;
		} else if (op->form_schema && (!fm || !op->body_model || strcmp(fm, op->body_model) != 0)) {
			/* one handler type for both: the same model, or a json_t */
			op->body_model = NULL;
			op->body_why = "a JSON and a form body of different shapes";
		}
		for (size_t k = 0; k < op->nr; k++) {
			ga_resp *r = &op->resps[k];
			if (r->schema && !r->items && gen_model_body(a->gm, r->schema, GEN_MODEL_RESPONSE, &r->model, &r->why,
			                                a->err, a->errlen) != 0)
				return -1;
		}
	}
	return 0;
}

static void ga_respond_proto(FILE *out, const ga *a, const ga_op *op, const ga_resp *r)
{
	const char *n = a->opt->name;

	fprintf(out, "int %s_%s_respond_%s(rt_ctx *ctx", n, op->opid, r->key);
	if (r->status < 100)
		fprintf(out, ", int status");
	if (r->model)
		fprintf(out, ", const %s *body", r->model);
	else if (r->items)
		fprintf(out, ", json_t *items /* stolen: an array, an element per item%s */",
		        strncasecmp(r->content_type, "text/event-stream", 17) == 0 ? " (an event: an object of its fields)" : "");
	else if (r->content_type)
		fprintf(out, ", json_t *body /* stolen */");
	if (r->nh_given)
		fprintf(out, ", const %s *headers", r->hdr_type);
	fprintf(out, ")");
}

static int ga_resp_requires_header(const ga_resp *r)
{
	for (size_t h = 0; h < r->nh; h++)
		if (r->hdrs[h].required && !r->hdrs[h].fixed)
			return 1;
	return 0;
}

/* The typed headers of response r: a struct of those the handler gives
 * (a NULL string or an unset has_ flag: not sent), and a comment naming
 * those the builder sends itself. */
static void ga_write_resp_headers(FILE *out, const ga_resp *r, json_t *written)
{
	for (size_t h = 0; h < r->nh; h++) {
		if (!r->hdrs[h].fixed)
			continue;
		fprintf(out, "/* %s: the builder sends ", r->key);
		ga_comment(out, r->hdrs[h].name);
		fprintf(out, ": ");
		ga_comment(out, r->hdrs[h].fixed);
		fprintf(out, " */\n");
	}
	if (!r->nh_given || json_object_get(written, r->hdr_type))
		return;
	json_object_set_new(written, r->hdr_type, json_true());
	fprintf(out, "/* %s: the headers the spec documents (headers NULL, a NULL string or an unset has_: not sent%s) */\n"
	             "typedef struct %s {\n", r->key, ga_resp_requires_header(r) ? "; a required one missing answers 500" : "",
	        r->hdr_type);
	for (size_t h = 0; h < r->nh; h++) {
		const ga_hdr *hd = &r->hdrs[h];
		if (hd->fixed)
			continue;
		fprintf(out, "\t%s%s; /* ", ga_ctype(hd->ctype), hd->cname);
		ga_comment(out, hd->name);
		if (hd->required)
			fprintf(out, ", required");
		if (hd->description) {
			fprintf(out, ": ");
			ga_comment(out, hd->description);
		}
		fprintf(out, " */\n");
		if (!hd->required && hd->ctype != GA_C_STRING)
			fprintf(out, "\tint has_%s;\n", hd->cname);
	}
	fprintf(out, "} %s;\n", r->hdr_type);
}

/* The builder's lines that set r's headers before it answers: a value that
 * cannot be sent (or a required one missing) has the runtime answer 500. */
static void ga_write_builder_headers(FILE *out, const ga_resp *r)
{
	const char *fail = r->model || !r->content_type ? "return -1;" : r->items ? "{\n\t\tjson_decref(items);\n\t\treturn -1;\n\t}"
	                   : "{\n\t\tjson_decref(body);\n\t\treturn -1;\n\t}";

	static const char *const setter[] = { "rt_respond_header", "rt_respond_header_int", "rt_respond_header_real",
	                                      "rt_respond_header_bool" };

	for (size_t h = 0; h < r->nh; h++) {
		const ga_hdr *hd = &r->hdrs[h];
		if (hd->fixed) {
			fprintf(out, "\tif (rt_respond_header(ctx, ");
			gen_text_cstr(out, hd->name);
			fprintf(out, ", ");
			gen_text_cstr(out, hd->fixed);
			fprintf(out, ") != 0)\n\t\t%s\n", fail);
			continue;
		}
		if (hd->required) {
			fprintf(out, "\tif ((!headers%s%s) && rt_respond_missing_header(ctx, ", hd->ctype == GA_C_STRING
			        ? " || !headers->" : "", hd->ctype == GA_C_STRING ? hd->cname : "");
			gen_text_cstr(out, hd->name);
			fprintf(out, ") != 0)\n\t\t%s\n", fail);
		}
		fprintf(out, "\tif (headers && ");
		if (hd->ctype == GA_C_STRING)
			fprintf(out, "headers->%s", hd->cname);
		else if (!hd->required)
			fprintf(out, "headers->has_%s", hd->cname);
		else
			fprintf(out, "1");
		fprintf(out, " && %s(ctx, ", setter[hd->ctype]);
		gen_text_cstr(out, hd->name);
		fprintf(out, ", headers->%s) != 0)\n\t\t%s\n", hd->cname, fail);
	}
}

static void ga_write_header(ga *a, FILE *out, const char *guard)
{
	const char *n = a->opt->name;
	const json_t *info = json_object_get(a->doc, "info");
	json_t *written = json_object(); /* the headers structs printed so far */

	fprintf(out, "/* Generated by oapigen from ");
	ga_comment(out, a->opt->spec_path);
	fprintf(out, " — DO NOT EDIT. */\n");
	fprintf(out, "/* ");
	ga_comment(out, json_string_value(json_object_get(info, "title")));
	fprintf(out, " ");
	ga_comment(out, json_string_value(json_object_get(info, "version")));
	fprintf(out, ": the typed handler interface.\n * A handler answers only through the %s_<op>_respond_<status> builders,\n"
	             " * one per status the spec documents. */\n", n);
	fprintf(out, "#ifndef %s\n#define %s\n\n#include <stdint.h>\n#include <jansson.h>\n#include <ulfius.h>\n"
	             "#include \"rt_http.h\"\n#include \"rt_json.h\"\n#include \"rt_arena.h\"\n#include \"rt_parse.h\"\n\n", guard, guard);
	fprintf(out, "/* The base path of servers[0] in the spec. */\n#define %.*s_DEFAULT_BASE ", (int)(strlen(guard) - 6), guard);
	gen_text_cstr(out, a->base_path);
	fprintf(out, "\n\n");
	gen_model_write_coverage(a->gm, out);
	fputc('\n', out);
	gen_model_write_header(a->gm, out);
	fprintf(out, "/* Request bodies from their bytes to a validated json_t (rt_parse.h). */\n");
	gen_parse_write_header(a->gp, out);
	fprintf(out, "/* Request bodies from their bytes straight into their C model (rt_parse.h). */\n");
	gen_parse_write_model_header(a->gp, out);
	fprintf(out, "/* Every JSON request body: its table and its parser (tests compare them). */\n");
	{
		char name[200];
		snprintf(name, sizeof name, "%s_request_bodies", a->opt->name);
		gen_parse_write_roots(a->gp, out, name, 1);
	}
	fputc('\n', out);
	for (size_t i = 0; i < a->nops; i++) {
		const ga_op *op = &a->ops[i];
		fprintf(out, "/* #");
		ga_comment(out, op->pointer);
		fprintf(out, "\n * %s ", op->method);
		ga_comment(out, op->path);
		if (op->summary[0]) {
			fprintf(out, " — ");
			ga_comment(out, op->summary);
		}
		fprintf(out, " */\ntypedef struct %s_%s_params {\n", n, op->opid);
		for (size_t k = 0; k < op->np; k++) {
			const ga_param *p = &op->params[k];
			fprintf(out, "\t%s%s; /* %s ", ga_ctype(p->ctype), p->cname,
			        (const char *const[]){ "path", "query", "header", "cookie", "querystring" }[p->in]);
			ga_comment(out, p->name);
			fprintf(out, "%s */\n", p->required ? ", required" : p->has_default ? ", has a default" : "");
			if (ga_needs_has(p))
				fprintf(out, "\tint has_%s;\n", p->cname);
		}
		if (op->np == 0)
			fprintf(out, "\tchar no_parameters;\n");
		fprintf(out, "} %s_%s_params;\n", n, op->opid);
		fprintf(out, "typedef int (*%s_%s_fn)(rt_ctx *ctx, const %s_%s_params *p, const %s *body, void *app);\n",
		        n, op->opid, n, op->opid, op->body_model ? op->body_model : "json_t");
		if (op->has_body && !op->body_model && op->body_why) {
			fprintf(out, "/* body: a json_t: ");
			ga_comment(out, op->body_why);
			fprintf(out, " */\n");
		}
		for (size_t k = 0; k < op->nr; k++) {
			if (op->resps[k].description) {
				fprintf(out, "/* %s: ", op->resps[k].key);
				ga_comment(out, op->resps[k].description);
				fprintf(out, " */\n");
			}
			ga_write_resp_headers(out, &op->resps[k], written);
			ga_respond_proto(out, a, op, &op->resps[k]);
			fprintf(out, ";\n");
		}
		fprintf(out, "\n");
	}
	fprintf(out, "/* One handler per operation; NULL answers 501. */\ntypedef struct %s_handlers {\n", n);
	for (size_t i = 0; i < a->nops; i++)
		fprintf(out, "\t%s_%s_fn %s;\n", n, a->ops[i].opid, a->ops[i].opid);
	if (a->nops == 0)
		fprintf(out, "\tchar no_operations;\n");
	fprintf(out, "} %s_handlers;\n\n", n);
	fprintf(out, "/* Adds every route under base (e.g. %.*s_DEFAULT_BASE), and base/openapi.json\n"
	             " * and base/openapi.yaml. handlers and cfg must outlive the server. */\n"
	             "int %s_register(struct _u_instance *u, const char *base, const %s_handlers *handlers,\n"
	             "\t\tconst rt_api_config *cfg);\n\n", (int)(strlen(guard) - 6), guard, n, n);
	fprintf(out, "/* Checks a response of operation_id as a client received it (contract tests\n"
	             " * of any server): documented status, body and media type, JSON body against\n"
	             " * the response schema. body: the raw bytes (NULL = none). Appends every\n"
	             " * violation to errs; returns how many, or -1 for an unknown operation_id. */\n"
	             "int %s_validate_response(const char *operation_id, int status, const char *content_type,\n"
	             "\t\tconst char *body, size_t body_len, rt_errors *errs);\n\n", n);
	fprintf(out, "extern const char %s_spec_json[];\nextern const char %s_spec_yaml[];\n\n#endif\n", n, n);
	json_decref(written);
}

/* The tables of one operation: parameters, body media types, responses, security. */
static void ga_write_op_tables(ga *a, FILE *out, const ga_op *op)
{
	const char *n = a->opt->name;

	fprintf(out, "/* #");
	ga_comment(out, op->pointer);
	fprintf(out, " */\n");
	if (op->np) {
		fprintf(out, "static const rt_param %s_%s_param_table[] = {\n", n, op->opid);
		for (size_t k = 0; k < op->np; k++) {
			const ga_param *p = &op->params[k];
			static const char *const ins[] = { "RT_IN_PATH", "RT_IN_QUERY", "RT_IN_HEADER", "RT_IN_COOKIE", "RT_IN_QUERYSTRING" };
			static const char *const styles[] = { "RT_STYLE_SIMPLE", "RT_STYLE_FORM", "RT_STYLE_LABEL",
			                                      "RT_STYLE_MATRIX", "RT_STYLE_SPACE_DELIMITED",
			                                      "RT_STYLE_PIPE_DELIMITED", "RT_STYLE_DEEP_OBJECT" };
			fprintf(out, "\t{ .name = ");
			gen_text_cstr(out, p->name);
			fprintf(out, ", .in = %s, .style = %s, .explode = %d, .required = %d,\n\t  .schema = %s%s, .ctype = %s,\n"
			             "\t  .offset = offsetof(%s_%s_params, %s)",
			        ins[p->in], styles[p->style], p->explode, p->required, p->schema ? "&" : "",
			        p->schema ? p->schema : "NULL", ga_rt_ctype(p->ctype), n, op->opid, p->cname);
			if (ga_needs_has(p))
				fprintf(out, ",\n\t  .has_flag = 1, .has_offset = offsetof(%s_%s_params, has_%s)", n, op->opid,
				        p->cname);
			if (p->content)
				fprintf(out, ", .content = %d", p->content);
			fprintf(out, " },\n");
		}
		fprintf(out, "};\n");
	}
	if (op->has_body) {
		fprintf(out, "static const char *const %s_%s_body_types[] = { ", n, op->opid);
		for (size_t k = 0; k < op->nbt; k++) {
			gen_text_cstr(out, op->body_types[k]);
			fprintf(out, ", ");
		}
		fprintf(out, "NULL };\n");
	}
	fprintf(out, "static const rt_response %s_%s_responses[] = {\n", n, op->opid);
	for (size_t k = 0; k < op->nr; k++) {
		const ga_resp *r = &op->resps[k];
		fprintf(out, "\t{ %d, ", r->status);
		if (r->content_type)
			gen_text_cstr(out, r->content_type);
		else
			fprintf(out, "NULL");
		fprintf(out, ", %s%s },\n", r->schema ? "&" : "", r->schema ? r->schema : "NULL");
	}
	if (op->nr == 0)
		fprintf(out, "\t{ 0, NULL, NULL },\n");
	fprintf(out, "};\n");
	for (size_t s = 0; s < op->nsec; s++) {
		if (!op->sec[s].n)
			continue;
		for (size_t k = 0; k < op->sec[s].n; k++) {
			const json_t *sc = op->sec[s].v[k].scopes;
			size_t i;
			json_t *v;
			if (!json_array_size(sc))
				continue;
			fprintf(out, "static const char *const %s_%s_sec%zu_%zu_scopes[] = { ", n, op->opid, s, k);
			json_array_foreach(sc, i, v) {
				gen_text_cstr(out, json_string_value(v));
				fprintf(out, ", ");
			}
			fprintf(out, "NULL };\n");
		}
		fprintf(out, "static const rt_security_req %s_%s_sec%zu[] = {\n", n, op->opid, s);
		for (size_t k = 0; k < op->sec[s].n; k++) {
			const ga_sec_req *r = &op->sec[s].v[k];
			fprintf(out, "\t{ .scheme = ");
			gen_text_cstr(out, r->scheme);
			fprintf(out, ", .kind = %s", r->kind);
			if (r->name) {
				fprintf(out, ", .name = ");
				gen_text_cstr(out, r->name);
			}
			if (r->http_scheme && strcmp(r->kind, "RT_CRED_HTTP_OTHER") == 0) {
				fprintf(out, ", .http_scheme = ");
				gen_text_cstr(out, r->http_scheme);
			}
			if (json_array_size(r->scopes))
				fprintf(out, ", .scopes = %s_%s_sec%zu_%zu_scopes, .n_scopes = %zu", n, op->opid, s, k,
				        json_array_size(r->scopes));
			fprintf(out, " },\n");
		}
		fprintf(out, "};\n");
	}
	if (op->nsec) {
		fprintf(out, "static const rt_security_alt %s_%s_security[] = {\n", n, op->opid);
		for (size_t s = 0; s < op->nsec; s++) {
			if (op->sec[s].n)
				fprintf(out, "\t{ %s_%s_sec%zu, %zu },\n", n, op->opid, s, op->sec[s].n);
			else
				fprintf(out, "\t{ NULL, 0 },\n");
		}
		fprintf(out, "};\n");
	}
}

/* The call from the pipeline into the handler: a typed body is read from
 * the validated json_t into its model, in the request's arena. */
static void ga_write_op_call(ga *a, FILE *out, const ga_op *op)
{
	const char *n = a->opt->name;

	if (op->body_model && op->body_schema && gen_parse_model_name(a->gp, op->body_schema))
		fprintf(out, "static int %s_%s_body_model(const char *buf, size_t len, rt_arena *a, unsigned flags, void *out,\n"
		             "\t\tjson_t **keep, rt_errors *errs)\n{\n\treturn %s_parse(buf, len, a, flags, out, keep, errs);\n}\n",
		        n, op->opid, gen_parse_model_name(a->gp, op->body_schema));

	fprintf(out, "static int %s_%s_call(rt_ctx *ctx, const void *params, const json_t *body,\n"
	             "\t\tconst void *handlers, void *app)\n{\n\tconst %s_handlers *h = handlers;\n",
	        n, op->opid, n);
	if (op->body_model)
		fprintf(out, "\t%s model;\n", op->body_model);
	fprintf(out, "\n\tif (!h || !h->%s)\n\t\treturn rt_not_implemented(ctx);\n", op->opid);
	if (op->body_model && op->body_schema && gen_parse_model_name(a->gp, op->body_schema))
		fprintf(out, "\tif (rt_ctx_body_model(ctx)) /* parsed from the bytes */\n\t\treturn h->%s(ctx, params, rt_ctx_body_model(ctx), app);\n",
		        op->opid);
	if (op->body_model) {
		fprintf(out, "\tif (body && %s_from_json(body, rt_ctx_arena(ctx), &model) != 0)\n"
		             "\t\treturn rt_respond_error(ctx, 500, \"BodyModel\", \"The validated body does not fit its model\");\n"
		             "\treturn h->%s(ctx, params, body ? &model : NULL, app);\n}\n", op->body_model, op->opid);
	} else {
		fprintf(out, "\treturn h->%s(ctx, params, body, app);\n}\n", op->opid);
	}
}

/* One builder per documented status: a model is written straight to JSON
 * text (no json_t); a json_t body is stolen, as are the items of a
 * sequential media type (written in its framing by the runtime). */
static void ga_write_op_builders(ga *a, FILE *out, const ga_op *op)
{
	for (size_t k = 0; k < op->nr; k++) {
		const ga_resp *r = &op->resps[k];
		char status[16];
		snprintf(status, sizeof status, "%d", r->status);
		ga_respond_proto(out, a, op, r);
		fprintf(out, "\n{\n");
		if (r->model)
			fprintf(out, "\trt_json_writer w;\n\tint rc;\n\n");
		if (r->status > 0 && r->status < 100)
			fprintf(out, "\tif (status / 100 != %d)\n\t\treturn rt_respond_error(ctx, 500, \"UndocumentedStatus\", "
			             "\"status outside %s\");\n", r->status, r->key);
		if (r->status < 100)
			snprintf(status, sizeof status, "status");
		ga_write_builder_headers(out, r);
		if (r->items) {
			fprintf(out, "\treturn rt_respond_items(ctx, %s, items);\n}\n", status);
			continue;
		}
		if (!r->model) {
			fprintf(out, "\treturn rt_respond(ctx, %s, %s);\n}\n", status, r->content_type ? "body" : "NULL");
			continue;
		}
		fprintf(out, "\tif (!body)\n\t\treturn rt_respond_writer(ctx, %s, NULL);\n\trt_json_writer_init(&w);\n"
		             "\t%s_write(&w, body);\n\trc = rt_respond_writer(ctx, %s, &w);\n\trt_json_writer_free(&w);\n"
		             "\treturn rc;\n}\n", status, r->model, status);
	}
	fprintf(out, "\n");
}

static void ga_write_source(ga *a, FILE *out)
{
	const char *n = a->opt->name;

	fprintf(out, "/* Generated by oapigen from ");
	ga_comment(out, a->opt->spec_path);
	fprintf(out, " — DO NOT EDIT. */\n");
	fprintf(out, "#include <stddef.h>\n#include <string.h>\n#include \"%s_api.h\"\n\n", n);
	gen_schema_write(a->gs, out);
	gen_parse_write(a->gp, out);
	gen_parse_write_models(a->gp, out);
	{
		char name[200];
		snprintf(name, sizeof name, "%s_request_bodies", n);
		gen_parse_write_roots(a->gp, out, name, 0);
	}
	gen_model_write_source(a->gm, out);
	for (size_t i = 0; i < a->nops; i++) {
		ga_write_op_tables(a, out, &a->ops[i]);
		ga_write_op_call(a, out, &a->ops[i]);
		ga_write_op_builders(a, out, &a->ops[i]);
	}
	fprintf(out, "static const rt_operation %s_operations[] = {\n", n);
	for (size_t i = 0; i < a->nops; i++) {
		const ga_op *op = &a->ops[i];
		fprintf(out, "\t{\n\t\t.operation_id = ");
		gen_text_cstr(out, op->opid);
		fprintf(out, ",\n\t\t.method = \"%s\",\n\t\t.path = ", op->method);
		gen_text_cstr(out, op->path);
		fprintf(out, ",\n\t\t.route = ");
		gen_text_cstr(out, op->route);
		fprintf(out, ",\n\t\t.priority = %u,\n", op->priority);
		if (op->np)
			fprintf(out, "\t\t.params = %s_%s_param_table, .n_params = %zu,\n", n, op->opid, op->np);
		fprintf(out, "\t\t.params_size = sizeof(%s_%s_params),\n", n, op->opid);
		if (op->has_body)
			fprintf(out, "\t\t.body_types = %s_%s_body_types, .body_required = %d, .body_schema = %s%s,\n", n, op->opid,
			        op->body_required, op->body_schema ? "&" : "", op->body_schema ? op->body_schema : "NULL");
		if (op->has_body && op->body_schema)
			fprintf(out, "\t\t.body_parse = %s_parse,\n", op->body_schema);
		if (op->has_body && op->body_schema && op->body_model && gen_parse_model_name(a->gp, op->body_schema))
			fprintf(out, "\t\t.body_model_parse = %s_%s_body_model, .body_model_size = sizeof(%s),\n", n, op->opid,
			        gen_parse_model_name(a->gp, op->body_schema));
		if (op->form_schema)
			fprintf(out, "\t\t.form_schema = &%s,\n", op->form_schema);
		if (op->item_schema) {
			fprintf(out, "\t\t.item_type = ");
			gen_text_cstr(out, op->item_type);
			fprintf(out, ", .item_schema = &%s,\n", op->item_schema);
		}
		fprintf(out, "\t\t.responses = %s_%s_responses, .n_responses = %zu,\n", n, op->opid, op->nr);
		if (op->nsec)
			fprintf(out, "\t\t.security = %s_%s_security, .n_security = %zu,\n", n, op->opid, op->nsec);
		if (op->shares_route)
			fprintf(out, "\t\t.shares_route = 1,\n");
		fprintf(out, "\t\t.validation_status = %d,\n\t\t.call = %s_%s_call,\n\t},\n", op->validation_status, n, op->opid);
	}
	if (a->nops == 0)
		fprintf(out, "\t{ .operation_id = NULL },\n");
	fprintf(out, "};\n\n");
	{
		char arr[200];
		snprintf(arr, sizeof arr, "%s_caches", n);
		gen_schema_write_cache_list(a->gs, out, arr);
	}
	fprintf(out, "\nstatic const rt_api %s_api = {\n\t.name = ", n);
	gen_text_cstr(out, n);
	fprintf(out, ",\n\t.ops = %s_operations,\n\t.n_ops = %zu,\n\t.caches = %s_caches,\n"
	             "\t.spec_json = %s_spec_json,\n\t.spec_yaml = %s_spec_yaml,\n};\n\n",
	        n, a->nops, n, n, n);
	fprintf(out, "int %s_register(struct _u_instance *u, const char *base, const %s_handlers *handlers,\n"
	             "\t\tconst rt_api_config *cfg)\n{\n\treturn rt_api_register(u, base, &%s_api, handlers, cfg);\n}\n",
	        n, n, n);
	fprintf(out, "\nint %s_validate_response(const char *operation_id, int status, const char *content_type,\n"
	             "\t\tconst char *body, size_t body_len, rt_errors *errs)\n{\n"
	             "\treturn rt_api_check_response(&%s_api, operation_id, status, content_type, body, body_len, errs);\n}\n",
	        n, n);
}

static int ga_write_spec(ga *a, FILE *out)
{
	FILE *in = fopen(a->opt->spec_path, "rb");
	char *text = NULL, *json;
	size_t len = 0, cap = 0;
	const char *n = a->opt->name;

	if (!in)
		return ga_error(a, "", "cannot read the file again: %s", strerror(errno));
	for (;;) {
		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 65536;
			char *t = realloc(text, cap);
			if (!t) {
				fclose(in);
				free(text);
				return -1;
			}
			text = t;
		}
		size_t r = fread(text + len, 1, cap - len, in);
		len += r;
		if (r == 0)
			break;
	}
	fclose(in);
	json = json_dumps(a->doc, JSON_INDENT(1));
	if (json && conv2_converted(a->opt->spec_path)) {
		/* a Swagger 2.0 document is served as the OpenAPI 3.0 one it was read
		 * as, at both addresses (JSON is YAML 1.2) */
		free(text);
		text = strdup(json);
		len = text ? strlen(text) : 0;
	}
	fprintf(out, "/* Generated by oapigen from ");
	ga_comment(out, a->opt->spec_path);
	fprintf(out, " — DO NOT EDIT. */\n");
	fprintf(out, "/* The document itself, served at <base>/openapi.json and <base>/openapi.yaml. */\n");
	fprintf(out, "#include \"%s_api.h\"\n\n", n);
	fprintf(out, "const char %s_spec_yaml[] =\n\t", n);
	gen_text_cstring(out, text, len, 76, 1);
	fprintf(out, ";\n\nconst char %s_spec_json[] =\n\t", n);
	gen_text_cstring(out, json ? json : "{}", json ? strlen(json) : 2, 76, 1);
	fprintf(out, ";\n");
	free(json);
	free(text);
	return 0;
}

/* One output file, written as a temporary beside it and renamed into place
 * once all three are complete, so a failed run leaves the old files. The C
 * goes straight to the file: Microsoft Graph beta's is 350 MB. */
typedef struct ga_out {
	char *path, *tmp;
	FILE *f;
} ga_out;

static int ga_out_open(ga *a, ga_out *o, const char *dir, const char *file)
{
	if (asprintf(&o->path, "%s/%s", dir, file) < 0 || asprintf(&o->tmp, "%s/.%s.tmp", dir, file) < 0) {
		o->path = o->tmp = NULL;
		return -1;
	}
	o->f = fopen(o->tmp, "wb");
	if (!o->f) {
		snprintf(a->err, a->errlen, "%s: %s", o->tmp, strerror(errno));
		return -1;
	}
	return 0;
}

static int ga_out_close(ga *a, ga_out *o)
{
	int bad = ferror(o->f);

	if (fclose(o->f) != 0)
		bad = 1;
	o->f = NULL;
	if (bad) {
		snprintf(a->err, a->errlen, "%s: write failed", o->tmp);
		return -1;
	}
	return 0;
}

static int ga_out_commit(ga *a, ga_out *o)
{
	if (rename(o->tmp, o->path) != 0) {
		snprintf(a->err, a->errlen, "%s: %s", o->path, strerror(errno));
		return -1;
	}
	free(o->tmp);
	o->tmp = NULL;
	return 0;
}

/* Closes and removes what is left of o. */
static void ga_out_discard(ga_out *o)
{
	if (o->f)
		fclose(o->f);
	if (o->tmp)
		unlink(o->tmp);
	free(o->path);
	free(o->tmp);
}

static void ga_free(ga *a)
{
	for (size_t i = 0; i < a->nops; i++) {
		ga_op *op = &a->ops[i];
		free(op->opid);
		free(op->method);
		free(op->path);
		free(op->route);
		free(op->pointer);
		free(op->loc);
		free(op->summary);
		for (size_t k = 0; k < op->np; k++) {
			free(op->params[k].name);
			free(op->params[k].cname);
		}
		free(op->params);
		for (size_t k = 0; k < op->nbt; k++)
			free(op->body_types[k]);
		free(op->body_types);
		free(op->item_type);
		for (size_t k = 0; k < op->nr; k++) {
			free(op->resps[k].key);
			free(op->resps[k].content_type);
			free(op->resps[k].description);
			for (size_t h = 0; h < op->resps[k].nh; h++) {
				free(op->resps[k].hdrs[h].name);
				free(op->resps[k].hdrs[h].cname);
				free(op->resps[k].hdrs[h].fixed);
				free(op->resps[k].hdrs[h].description);
			}
			free(op->resps[k].hdrs);
			free(op->resps[k].hdr_type);
		}
		free(op->resps);
		for (size_t s = 0; s < op->nsec; s++) {
			for (size_t k = 0; k < op->sec[s].n; k++) {
				free(op->sec[s].v[k].scheme);
				free(op->sec[s].v[k].name);
			}
			free(op->sec[s].v);
		}
		free(op->sec);
	}
	free(a->ops);
	json_decref(a->opids);
	json_decref(a->routes);
	json_decref(a->route_queries);
	free(a->base_path);
	gen_model_free(a->gm);
	gen_parse_free(a->gp);
	gen_schema_free(a->gs);
	docset_free(a->ds);
}

int gen_api_run(const gen_api_options *opt, char *err, size_t errlen)
{
	static const char *const suffix[3] = { "_api.h", "_api.c", "_spec.c" };
	ga a = { .opt = opt, .err = err, .errlen = errlen };
	ga_out out[3] = { { 0 } };
	char *guard = NULL, *fname = NULL;
	int rc = -1;

	a.ds = docset_new(conv2_load); /* Swagger 2.0 is read as OpenAPI 3.0 */
	a.opids = json_object();
	a.routes = json_object();
	a.route_queries = json_object();
	if (!a.ds || !a.opids)
		goto cleanup;
	a.doc = docset_load(a.ds, opt->spec_path, &a.uri, err, errlen);
	if (!a.doc)
		goto cleanup;
	if (opt->check && opt->check(opt->spec_path, a.doc, err, errlen) != 0)
		goto cleanup;
	/* --check stops after the model: the typed bodies (gen_model, gen_parse)
	 * refuse nothing, they only shape the C that is written */
	if (ga_model(&a) != 0 || (opt->out_dir && ga_typed(&a) != 0))
		goto cleanup;
	if (!opt->out_dir) {
		rc = 0;
		goto cleanup;
	}
	guard = gen_text_ident(opt->name);
	for (char *g = guard; g && *g; g++)
		*g = (char)(*g - 32 * (*g >= 'a' && *g <= 'z'));
	if (!guard || asprintf(&fname, "%s_API_H", guard) < 0)
		goto cleanup;
	/* mkdir -p */
	for (const char *slash = strchr(opt->out_dir + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		char *parent = strndup(opt->out_dir, (size_t)(slash - opt->out_dir));
		int bad = !parent || (mkdir(parent, 0755) != 0 && errno != EEXIST);
		if (bad)
			snprintf(err, errlen, "%s: %s", parent ? parent : opt->out_dir, strerror(errno));
		free(parent);
		if (bad)
			goto cleanup;
	}
	if (mkdir(opt->out_dir, 0755) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", opt->out_dir, strerror(errno));
		goto cleanup;
	}
	for (int i = 0; i < 3; i++) {
		char *file = NULL;
		int r = asprintf(&file, "%s%s", opt->name, suffix[i]) < 0 ? -1 : ga_out_open(&a, &out[i], opt->out_dir, file);
		free(file);
		if (r != 0)
			goto cleanup;
	}
	ga_write_header(&a, out[0].f, fname);
	ga_write_source(&a, out[1].f);
	if (ga_write_spec(&a, out[2].f) != 0)
		goto cleanup;
	for (int i = 0; i < 3; i++)
		if (ga_out_close(&a, &out[i]) != 0)
			goto cleanup;
	for (int i = 0; i < 3; i++)
		if (ga_out_commit(&a, &out[i]) != 0)
			goto cleanup;
	rc = 0;
cleanup:
	for (int i = 0; i < 3; i++)
		ga_out_discard(&out[i]);
	if (rc != 0)
		conv2_explain(err, errlen); /* a pointer into the 2.0 document as written */
	conv2_forget();
	free(guard);
	free(fname);
	ga_free(&a);
	return rc;
}
