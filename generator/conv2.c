/* conv2.c — Swagger 2.0 documents read as OpenAPI 3.0 (see conv2.h). */
#include "conv2.h"
#include "docset.h"
#include "load.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct conv2 {
	const json_t *src;    /* the 2.0 document */
	const char *name;     /* its file, for messages */
	json_t *map;          /* converted pointer -> original pointer */
	const json_t *consumes, *produces; /* the document's defaults */
	char *err;
	size_t errlen;
	int failed;
} conv2;

/* what conv2_load converted: file (as given and as shown) -> map */
static json_t *conv2_maps;

static int cv_fail(conv2 *c, const char *ptr, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int cv_fail(conv2 *c, const char *ptr, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	if (c->failed)
		return -1;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s: %s: %s", c->name, ptr && *ptr ? ptr : "/", what);
	c->failed = 1;
	return -1;
}

/* pointer + "/" + escaped token (new) */
static char *cv_ptr(const char *base, const char *tok)
{
	return docset_pointer_join(base, tok);
}

static char *cv_idx(const char *base, size_t i)
{
	char b[32];

	snprintf(b, sizeof b, "%zu", i);
	return cv_ptr(base, b);
}

/* The node at `to` in the converted document came from `from` in the original. */
static void cv_note(conv2 *c, const char *to, const char *from)
{
	if (to && from && strcmp(to, from) != 0)
		json_object_set_new(c->map, to, json_string(from));
}

static void cv_note2(conv2 *c, const char *to, const char *to_tok, const char *from)
{
	char *p = cv_ptr(to, to_tok);
	cv_note(c, p, from);
	free(p);
}

static int cv_is(const json_t *v, const char *s)
{
	return json_is_string(v) && strcmp(json_string_value(v), s) == 0;
}

/* A $ref of the 2.0 document's own sections, as the 3.0 one names them (new). */
static json_t *cv_ref(const json_t *ref)
{
	static const struct { const char *from, *to; } pre[] = {
		{ "#/definitions/", "#/components/schemas/" },
		{ "#/parameters/", "#/components/parameters/" },
		{ "#/responses/", "#/components/responses/" },
	};
	const char *r = json_string_value(ref);

	for (size_t i = 0; r && i < sizeof pre / sizeof pre[0]; i++) {
		size_t n = strlen(pre[i].from);
		char *s = NULL;
		json_t *out;
		if (strncmp(r, pre[i].from, n) != 0)
			continue;
		if (asprintf(&s, "%s%s", pre[i].to, r + n) < 0)
			return NULL;
		out = json_string(s);
		free(s);
		return out;
	}
	return json_deep_copy(ref);
}

static int cv_set(json_t *obj, const char *k, json_t *v)
{
	return v ? json_object_set_new(obj, k, v) : -1;
}

/* A 2.0 schema as a 3.0 one (new): $refs renamed, type: file a binary
 * string, x-nullable nullable, a discriminator an object. */
static json_t *cv_schema(conv2 *c, const json_t *s)
{
	json_t *out, *v;
	const char *k;
	int file = 0;

	if (!json_is_object(s))
		return json_deep_copy(s);
	out = json_object();
	json_object_foreach((json_t *)s, k, v) {
		json_t *nv;
		if (strcmp(k, "$ref") == 0 && json_is_string(v)) {
			nv = cv_ref(v);
		} else if ((strcmp(k, "properties") == 0 || strcmp(k, "patternProperties") == 0) && json_is_object(v)) {
			const char *pk;
			json_t *pv;
			nv = json_object();
			json_object_foreach(v, pk, pv)
				cv_set(nv, pk, cv_schema(c, pv));
		} else if ((strcmp(k, "items") == 0 || strcmp(k, "additionalProperties") == 0 || strcmp(k, "not") == 0) &&
		           json_is_object(v)) {
			nv = cv_schema(c, v);
		} else if ((strcmp(k, "items") == 0 || strcmp(k, "allOf") == 0 || strcmp(k, "anyOf") == 0 ||
		            strcmp(k, "oneOf") == 0) && json_is_array(v)) {
			nv = json_array();
			for (size_t i = 0; i < json_array_size(v); i++)
				json_array_append_new(nv, cv_schema(c, json_array_get(v, i)));
		} else if (strcmp(k, "x-nullable") == 0) {
			if (json_is_true(v) && !json_object_get(s, "nullable"))
				json_object_set_new(out, "nullable", json_true());
			continue;
		} else if (strcmp(k, "type") == 0 && cv_is(v, "file")) {
			nv = json_string("string");
			file = 1;
		} else if (strcmp(k, "discriminator") == 0 && json_is_string(v)) {
			nv = json_pack("{s:O}", "propertyName", v);
		} else {
			nv = json_deep_copy(v);
		}
		cv_set(out, k, nv);
	}
	if (file)
		json_object_set_new(out, "format", json_string("binary"));
	return out;
}

/* The schema a non-body parameter, a header or their items describe with
 * their own keywords (new). */
static json_t *cv_simple_schema(conv2 *c, const json_t *p)
{
	static const char *const keys[] = { "type", "format", "items", "default", "maximum", "exclusiveMaximum",
		"minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
		"uniqueItems", "enum", "multipleOf", NULL };
	json_t *s = json_object();

	for (const char *const *k = keys; *k; k++) {
		const json_t *v = json_object_get(p, *k);
		if (!v)
			continue;
		if (strcmp(*k, "items") == 0 && json_is_object(v))
			cv_set(s, *k, cv_simple_schema(c, v));
		else if (strcmp(*k, "type") == 0 && cv_is(v, "file"))
			cv_set(s, *k, json_string("string"));
		else
			cv_set(s, *k, json_deep_copy(v));
	}
	if (cv_is(json_object_get(p, "type"), "file"))
		json_object_set_new(s, "format", json_string("binary"));
	if (json_is_true(json_object_get(p, "x-nullable")))
		json_object_set_new(s, "nullable", json_true());
	return s;
}

/* collectionFormat of an array parameter at ptr as style and explode. */
static int cv_collection(conv2 *c, const json_t *p, const char *in, const char *ptr, json_t *out)
{
	const json_t *cf = json_object_get(p, "collectionFormat");
	const char *f = json_is_string(cf) ? json_string_value(cf) : "csv";
	int query = strcmp(in, "query") == 0 || strcmp(in, "formData") == 0;
	char *fp = cv_ptr(ptr, "collectionFormat");
	int rc = 0;

	if (!cv_is(json_object_get(p, "type"), "array")) {
		free(fp);
		return 0;
	}
	if (strcmp(f, "csv") == 0) {
		json_object_set_new(out, "style", json_string(query ? "form" : "simple"));
		json_object_set_new(out, "explode", json_false());
	} else if (strcmp(f, "multi") == 0 && query) {
		json_object_set_new(out, "style", json_string("form"));
		json_object_set_new(out, "explode", json_true());
	} else if ((strcmp(f, "ssv") == 0 || strcmp(f, "pipes") == 0) && query) {
		json_object_set_new(out, "style", json_string(f[0] == 's' ? "spaceDelimited" : "pipeDelimited"));
		json_object_set_new(out, "explode", json_false());
	} else if (strcmp(f, "tsv") == 0) {
		rc = cv_fail(c, fp, "collectionFormat \"tsv\" has no OpenAPI 3 equivalent");
	} else if (strcmp(f, "multi") == 0 || strcmp(f, "ssv") == 0 || strcmp(f, "pipes") == 0) {
		rc = cv_fail(c, fp, "collectionFormat \"%s\" has no OpenAPI 3 equivalent in a %s parameter", f, in);
	} else {
		rc = cv_fail(c, fp, "unknown collectionFormat \"%s\" (csv, ssv, tsv, pipes, multi)", f);
	}
	free(fp);
	return rc;
}

/* A query, path or header parameter (from: where it is in the original;
 * to: where it goes in the converted document). */
static json_t *cv_param(conv2 *c, const json_t *p, const char *from, const char *to)
{
	static const char *const keep[] = { "name", "in", "description", "required", "deprecated", "allowEmptyValue", NULL };
	const char *in = json_string_value(json_object_get(p, "in"));
	json_t *out, *v;
	const char *k;

	if (json_is_string(json_object_get(p, "$ref")))
		return json_pack("{s:o}", "$ref", cv_ref(json_object_get(p, "$ref")));
	if (!json_is_object(p)) {
		cv_fail(c, from, "a parameter must be an object");
		return NULL;
	}
	if (!in) {
		char *ip = cv_ptr(from, "in");
		cv_fail(c, ip, "missing: a parameter says where it is (path, query, header, body, formData)");
		free(ip);
		return NULL;
	}
	if (cv_is(json_object_get(p, "type"), "file")) {
		char *tp = cv_ptr(from, "type");
		cv_fail(c, tp, "type \"file\" is only for formData parameters");
		free(tp);
		return NULL;
	}
	out = json_object();
	for (const char *const *kk = keep; *kk; kk++)
		if ((v = json_object_get(p, *kk)) != NULL)
			cv_set(out, *kk, json_deep_copy(v));
	if (cv_collection(c, p, in, from, out) != 0) {
		json_decref(out);
		return NULL;
	}
	cv_set(out, "schema", cv_simple_schema(c, p));
	cv_note(c, to, from);
	cv_note2(c, to, "schema", from);
	json_object_foreach((json_t *)p, k, v)
		if (k[0] == 'x' && k[1] == '-' && strcmp(k, "x-nullable") != 0)
			cv_set(out, k, json_deep_copy(v));
	return out;
}

/* A media type list of the operation or the document, or the default. */
static const json_t *cv_types(const json_t *own, const json_t *doc, json_t *fallback)
{
	if (json_array_size(own))
		return own;
	if (json_array_size(doc))
		return doc;
	return fallback;
}

/* A body parameter p (resolved) as a requestBody at `to` (new). */
static json_t *cv_body(conv2 *c, const json_t *p, const char *from, const char *to, const json_t *consumes)
{
	json_t *rb = json_object(), *content = json_object(), *v;
	char *cto = cv_ptr(to, "content");
	char *sfrom = cv_ptr(from, "schema");

	if ((v = json_object_get(p, "description")) != NULL)
		cv_set(rb, "description", json_deep_copy(v));
	if (json_is_true(json_object_get(p, "required")))
		json_object_set_new(rb, "required", json_true());
	for (size_t i = 0; i < json_array_size(consumes); i++) {
		const char *mt = json_string_value(json_array_get(consumes, i));
		char *mto;
		if (!mt || json_object_get(content, mt))
			continue;
		cv_set(content, mt, json_pack("{s:o}", "schema", cv_schema(c, json_object_get(p, "schema"))));
		mto = cv_ptr(cto, mt);
		cv_note2(c, mto, "schema", sfrom);
		free(mto);
	}
	json_object_set_new(rb, "content", content);
	cv_note(c, to, from);
	free(cto);
	free(sfrom);
	return rb;
}

/* One parameter of an operation's list, the $ref of the document's own
 * section followed to see where it is. */
typedef struct cv_item {
	const json_t *raw, *p; /* as written; resolved */
	char *from;
	const char *name, *in;
	const char *ref_name;  /* X of "#/parameters/X", or NULL */
} cv_item;

static int cv_collect(conv2 *c, const json_t *list, const char *ptr, cv_item **v, size_t *n)
{
	if (!list)
		return 0;
	if (!json_is_array(list))
		return cv_fail(c, ptr, "\"parameters\" must be an array");
	for (size_t i = 0; i < json_array_size(list); i++) {
		const json_t *raw = json_array_get(list, i), *p = raw;
		const char *ref = json_string_value(json_object_get(raw, "$ref"));
		const char *ref_name = NULL;
		cv_item *it;
		if (ref && strncmp(ref, "#/parameters/", 13) == 0) {
			p = docset_pointer(c->src, ref + 1);
			if (!p) {
				char *ip = cv_idx(ptr, i);
				cv_fail(c, ip, "cannot resolve \"%s\": no such JSON pointer", ref);
				free(ip);
				return -1;
			}
			ref_name = ref + 13;
		}
		const char *name = json_string_value(json_object_get(p, "name"));
		const char *in = json_string_value(json_object_get(p, "in"));
		/* an operation's parameter replaces the path's of the same name and place */
		for (size_t k = 0; name && in && k < *n; k++) {
			if ((*v)[k].name && (*v)[k].in && strcmp((*v)[k].name, name) == 0 && strcmp((*v)[k].in, in) == 0) {
				free((*v)[k].from);
				memmove(&(*v)[k], &(*v)[k + 1], (*n - k - 1) * sizeof **v);
				(*n)--;
				break;
			}
		}
		it = realloc(*v, (*n + 1) * sizeof **v);
		if (!it)
			return -1;
		*v = it;
		it = &(*v)[(*n)++];
		it->raw = raw;
		it->p = p;
		it->from = cv_idx(ptr, i);
		it->name = name;
		it->in = in;
		it->ref_name = ref_name;
	}
	return 0;
}

static int cv_is_form(const char *in)
{
	return in && strcmp(in, "formData") == 0;
}

static int cv_is_body(const char *in)
{
	return in && strcmp(in, "body") == 0;
}

/* formData parameters as a requestBody at `to` (new). */
static json_t *cv_form(conv2 *c, const cv_item *v, size_t n, const char *to, const json_t *consumes)
{
	json_t *rb = json_object(), *content = json_object(), *schema = json_object(), *props = json_object();
	json_t *required = json_array(), *encoding = json_object(), *types = json_array();
	int file = 0, any = 0;
	char *cto = cv_ptr(to, "content");

	for (size_t i = 0; i < json_array_size(consumes); i++) {
		const json_t *t = json_array_get(consumes, i);
		if (cv_is(t, "multipart/form-data") || cv_is(t, "application/x-www-form-urlencoded"))
			json_array_append(types, (json_t *)t);
	}
	json_object_set_new(schema, "type", json_string("object"));
	for (size_t i = 0; i < n && !c->failed; i++) {
		json_t *ps, *enc;
		if (!cv_is_form(v[i].in) || !v[i].name)
			continue;
		if (!any)
			cv_note(c, to, v[i].from);
		any = 1;
		file |= cv_is(json_object_get(v[i].p, "type"), "file");
		ps = cv_simple_schema(c, v[i].p);
		if (json_object_get(v[i].p, "description"))
			cv_set(ps, "description", json_deep_copy(json_object_get(v[i].p, "description")));
		cv_set(props, v[i].name, ps);
		if (json_is_true(json_object_get(v[i].p, "required")))
			json_array_append_new(required, json_string(v[i].name));
		enc = json_object();
		if (cv_collection(c, v[i].p, "formData", v[i].from, enc) == 0 && json_object_size(enc))
			json_object_set(encoding, v[i].name, enc);
		json_decref(enc);
	}
	if (!json_array_size(types))
		json_array_append_new(types, json_string(file ? "multipart/form-data" : "application/x-www-form-urlencoded"));
	json_object_set_new(schema, "properties", props);
	if (json_array_size(required))
		json_object_set(schema, "required", required);
	for (size_t t = 0; t < json_array_size(types); t++) {
		const char *mt = json_string_value(json_array_get(types, t));
		json_t *media = json_pack("{s:O}", "schema", schema);
		char *mto = cv_ptr(cto, mt), *sto = cv_ptr(mto, "schema"), *pto = cv_ptr(sto, "properties");
		if (json_object_size(encoding))
			json_object_set(media, "encoding", encoding);
		cv_set(content, mt, media);
		for (size_t i = 0; i < n; i++)
			if (cv_is_form(v[i].in) && v[i].name)
				cv_note2(c, pto, v[i].name, v[i].from);
		free(mto);
		free(sto);
		free(pto);
	}
	json_object_set_new(rb, "content", content);
	json_decref(schema);
	json_decref(required);
	json_decref(encoding);
	json_decref(types);
	free(cto);
	return rb;
}

/* One response at `to` from `from` (new). */
static json_t *cv_response(conv2 *c, const json_t *r, const char *from, const char *to, const json_t *produces)
{
	json_t *out, *v;
	const char *k;

	if (json_is_string(json_object_get(r, "$ref")))
		return json_pack("{s:o}", "$ref", cv_ref(json_object_get(r, "$ref")));
	if (!json_is_object(r)) {
		cv_fail(c, from, "a response must be an object");
		return NULL;
	}
	out = json_object();
	cv_set(out, "description", json_object_get(r, "description") ? json_deep_copy(json_object_get(r, "description"))
	                                                               : json_string(""));
	if (json_is_object(json_object_get(r, "headers"))) {
		json_t *hs = json_object();
		char *hfrom = cv_ptr(from, "headers"), *hto = cv_ptr(to, "headers");
		json_object_foreach(json_object_get(r, "headers"), k, v) {
			json_t *h = json_object();
			char *f = cv_ptr(hfrom, k), *t = cv_ptr(hto, k);
			if (json_object_get(v, "description"))
				cv_set(h, "description", json_deep_copy(json_object_get(v, "description")));
			cv_set(h, "schema", cv_simple_schema(c, v));
			cv_note(c, t, f);
			cv_note2(c, t, "schema", f);
			cv_set(hs, k, h);
			free(f);
			free(t);
		}
		json_object_set_new(out, "headers", hs);
		free(hfrom);
		free(hto);
	}
	if (json_object_get(r, "schema")) {
		json_t *content = json_object();
		const json_t *examples = json_object_get(r, "examples");
		char *sfrom = cv_ptr(from, "schema"), *cto = cv_ptr(to, "content");
		for (size_t i = 0; i < json_array_size(produces); i++) {
			const char *mt = json_string_value(json_array_get(produces, i));
			json_t *media;
			char *mto;
			if (!mt || json_object_get(content, mt))
				continue;
			media = json_pack("{s:o}", "schema", cv_schema(c, json_object_get(r, "schema")));
			if (media && json_object_get(examples, mt))
				json_object_set_new(media, "example", json_deep_copy(json_object_get(examples, mt)));
			cv_set(content, mt, media);
			mto = cv_ptr(cto, mt);
			cv_note2(c, mto, "schema", sfrom);
			free(mto);
		}
		json_object_set_new(out, "content", content);
		free(sfrom);
		free(cto);
	}
	json_object_foreach((json_t *)r, k, v)
		if (k[0] == 'x' && k[1] == '-')
			cv_set(out, k, json_deep_copy(v));
	return out;
}

static json_t *cv_responses(conv2 *c, const json_t *rs, const char *ptr, const json_t *produces)
{
	json_t *out;
	const char *k;
	json_t *v;

	if (!json_is_object(rs)) {
		cv_fail(c, ptr, "\"responses\" must be an object");
		return NULL;
	}
	out = json_object();
	json_object_foreach((json_t *)rs, k, v) {
		char *p = cv_ptr(ptr, k);
		if (k[0] == 'x' && k[1] == '-')
			cv_set(out, k, json_deep_copy(v));
		else
			cv_set(out, k, cv_response(c, v, p, p, produces));
		free(p);
	}
	return out;
}

static const char *const cv_methods[] = { "get", "put", "post", "delete", "options", "head", "patch", NULL };

static int cv_is_method(const char *k)
{
	for (const char *const *m = cv_methods; *m; m++)
		if (strcmp(*m, k) == 0)
			return 1;
	return 0;
}

static void cv_items_free(cv_item *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].from);
	free(v);
}

/* An operation at ptr (the same place in both documents); path_params: the
 * path item's parameter list, whose body and formData parameters become the
 * operation's. */
static json_t *cv_operation(conv2 *c, const json_t *op, const char *ptr, const json_t *path_params, const char *path_ptr)
{
	const json_t *consumes, *produces;
	json_t *out = NULL, *params = NULL, *rb = NULL, *v, *def = json_pack("[s]", "application/json");
	cv_item *items = NULL;
	size_t n = 0, nform = 0;
	const cv_item *body = NULL;
	char *pp = cv_ptr(ptr, "parameters"), *rbp = cv_ptr(ptr, "requestBody");
	const char *k;

	if (!json_is_object(op)) {
		cv_fail(c, ptr, "an operation must be an object");
		goto cleanup;
	}
	consumes = cv_types(json_object_get(op, "consumes"), c->consumes, def);
	produces = cv_types(json_object_get(op, "produces"), c->produces, def);
	if (cv_collect(c, path_params, path_ptr, &items, &n) != 0 ||
	    cv_collect(c, json_object_get(op, "parameters"), pp, &items, &n) != 0)
		goto cleanup;
	params = json_array();
	for (size_t i = 0; i < n; i++) {
		int own = strncmp(items[i].from, pp, strlen(pp)) == 0 && items[i].from[strlen(pp)] == '/';
		if (cv_is_body(items[i].in)) {
			if (body) {
				cv_fail(c, items[i].from, "a second body parameter (the first is at %s)", body->from);
				goto cleanup;
			}
			body = &items[i];
		} else if (cv_is_form(items[i].in)) {
			nform++;
		} else if (own) {
			char *to = cv_idx(pp, json_array_size(params));
			json_t *p = cv_param(c, items[i].raw, items[i].from, to);
			free(to);
			if (!p)
				goto cleanup;
			json_array_append_new(params, p);
		}
	}
	if (body && nform) {
		cv_fail(c, body->from, "a body parameter and formData parameters in one operation");
		goto cleanup;
	}
	if (body && body->ref_name) {
		char *r = NULL;
		if (asprintf(&r, "#/components/requestBodies/%s", body->ref_name) < 0)
			goto cleanup;
		rb = json_pack("{s:s}", "$ref", r);
		free(r);
		cv_note(c, rbp, body->from);
	} else if (body) {
		rb = cv_body(c, body->p, body->from, rbp, consumes);
	} else if (nform) {
		rb = cv_form(c, items, n, rbp, consumes);
	}
	if (c->failed)
		goto cleanup;
	out = json_object();
	json_object_foreach((json_t *)op, k, v) {
		if (strcmp(k, "consumes") == 0 || strcmp(k, "produces") == 0 || strcmp(k, "schemes") == 0)
			continue;
		if (strcmp(k, "parameters") == 0) {
			if (json_array_size(params))
				json_object_set(out, "parameters", params);
		} else if (strcmp(k, "responses") == 0) {
			char *rp = cv_ptr(ptr, "responses");
			if (rb) {
				json_object_set(out, "requestBody", rb);
				json_decref(rb);
				rb = NULL;
			}
			cv_set(out, k, cv_responses(c, v, rp, produces));
			free(rp);
		} else {
			cv_set(out, k, json_deep_copy(v));
		}
	}
	if (rb)
		json_object_set(out, "requestBody", rb);
	if (c->failed) {
		json_decref(out);
		out = NULL;
	}
cleanup:
	cv_items_free(items, n);
	json_decref(params);
	json_decref(rb);
	json_decref(def);
	free(pp);
	free(rbp);
	return out;
}

static json_t *cv_path_item(conv2 *c, const json_t *item, const char *ptr)
{
	json_t *out, *v;
	const char *k;
	const json_t *pl = json_object_get(item, "parameters");
	char *pp = cv_ptr(ptr, "parameters");

	if (!json_is_object(item)) {
		free(pp);
		return json_deep_copy(item);
	}
	out = json_object();
	json_object_foreach((json_t *)item, k, v) {
		char *mp = cv_ptr(ptr, k);
		if (strcmp(k, "parameters") == 0) {
			/* the path's own; its body and formData ones go to each operation */
			json_t *params = json_array();
			if (!json_is_array(v))
				cv_fail(c, pp, "\"parameters\" must be an array");
			for (size_t i = 0; json_is_array(v) && i < json_array_size(v) && !c->failed; i++) {
				const json_t *raw = json_array_get(v, i), *p = raw;
				const char *ref = json_string_value(json_object_get(raw, "$ref"));
				const char *in;
				if (ref && strncmp(ref, "#/parameters/", 13) == 0 && docset_pointer(c->src, ref + 1))
					p = docset_pointer(c->src, ref + 1);
				in = json_string_value(json_object_get(p, "in"));
				if (!cv_is_body(in) && !cv_is_form(in)) {
					char *from = cv_idx(pp, i), *to = cv_idx(pp, json_array_size(params));
					json_t *np = cv_param(c, raw, from, to);
					if (np)
						json_array_append_new(params, np);
					free(from);
					free(to);
				}
			}
			if (json_array_size(params))
				json_object_set(out, "parameters", params);
			json_decref(params);
		} else if (cv_is_method(k)) {
			cv_set(out, k, cv_operation(c, v, mp, pl, pp));
		} else {
			cv_set(out, k, json_deep_copy(v));
		}
		free(mp);
		if (c->failed)
			break;
	}
	free(pp);
	if (c->failed) {
		json_decref(out);
		return NULL;
	}
	return out;
}

static json_t *cv_security_scheme(conv2 *c, const json_t *s, const char *ptr)
{
	const char *type = json_string_value(json_object_get(s, "type"));
	json_t *out = json_object(), *v;
	const char *k;
	char *tp = cv_ptr(ptr, "type");

	if (type && strcmp(type, "basic") == 0) {
		json_object_set_new(out, "type", json_string("http"));
		json_object_set_new(out, "scheme", json_string("basic"));
	} else if (type && strcmp(type, "apiKey") == 0) {
		json_object_set_new(out, "type", json_string("apiKey"));
		if (json_object_get(s, "name"))
			cv_set(out, "name", json_deep_copy(json_object_get(s, "name")));
		if (json_object_get(s, "in"))
			cv_set(out, "in", json_deep_copy(json_object_get(s, "in")));
	} else if (type && strcmp(type, "oauth2") == 0) {
		static const struct { const char *v2, *v3; int auth, token; } flows[] = {
			{ "implicit", "implicit", 1, 0 },
			{ "password", "password", 0, 1 },
			{ "application", "clientCredentials", 0, 1 },
			{ "accessCode", "authorizationCode", 1, 1 },
		};
		const char *flow = json_string_value(json_object_get(s, "flow"));
		size_t i;
		json_t *f;
		for (i = 0; flow && i < sizeof flows / sizeof flows[0]; i++)
			if (strcmp(flows[i].v2, flow) == 0)
				break;
		if (!flow || i == sizeof flows / sizeof flows[0]) {
			char *fp = cv_ptr(ptr, "flow");
			cv_fail(c, fp, "an oauth2 flow is implicit, password, application or accessCode");
			free(fp);
			goto fail;
		}
		f = json_object();
		if (flows[i].auth && json_object_get(s, "authorizationUrl"))
			cv_set(f, "authorizationUrl", json_deep_copy(json_object_get(s, "authorizationUrl")));
		if (flows[i].token && json_object_get(s, "tokenUrl"))
			cv_set(f, "tokenUrl", json_deep_copy(json_object_get(s, "tokenUrl")));
		cv_set(f, "scopes", json_object_get(s, "scopes") ? json_deep_copy(json_object_get(s, "scopes")) : json_object());
		json_object_set_new(out, "type", json_string("oauth2"));
		json_object_set_new(out, "flows", json_pack("{s:o}", flows[i].v3, f));
	} else {
		cv_fail(c, tp, "security scheme type \"%s\" is not one of Swagger 2.0's (basic, apiKey, oauth2)",
		        type ? type : "");
		goto fail;
	}
	json_object_foreach((json_t *)s, k, v)
		if (strcmp(k, "description") == 0 || (k[0] == 'x' && k[1] == '-'))
			cv_set(out, k, json_deep_copy(v));
	free(tp);
	return out;
fail:
	free(tp);
	json_decref(out);
	return NULL;
}

/* servers from host, basePath and schemes (new array, or NULL for none) */
static json_t *cv_servers(conv2 *c, const json_t *src)
{
	const char *host = json_string_value(json_object_get(src, "host"));
	const char *base = json_string_value(json_object_get(src, "basePath"));
	const json_t *schemes = json_object_get(src, "schemes");
	json_t *out = json_array();

	if (!base)
		base = "";
	if (host) {
		size_t n = json_array_size(schemes);
		for (size_t i = 0; i < (n ? n : 1); i++) {
			const char *s = n ? json_string_value(json_array_get(schemes, i)) : "https";
			char *url = NULL;
			if (!s || asprintf(&url, "%s://%s%s", s, host, base) < 0)
				continue;
			json_array_append_new(out, json_pack("{s:s}", "url", url));
			free(url);
		}
		cv_note(c, "/servers", "/host");
	} else if (base[0]) {
		json_array_append_new(out, json_pack("{s:s}", "url", base));
		cv_note(c, "/servers", "/basePath");
	}
	if (!json_array_size(out)) {
		json_decref(out);
		return NULL;
	}
	return out;
}

static json_t *cv_components(conv2 *c)
{
	json_t *comp = json_object(), *v;
	const char *k;
	const json_t *defs = json_object_get(c->src, "definitions");
	const json_t *params = json_object_get(c->src, "parameters");
	const json_t *resps = json_object_get(c->src, "responses");
	const json_t *secs = json_object_get(c->src, "securityDefinitions");
	json_t *def = json_pack("[s]", "application/json");

	if (json_is_object(defs)) {
		json_t *s = json_object();
		json_object_foreach((json_t *)defs, k, v)
			cv_set(s, k, cv_schema(c, v));
		json_object_set_new(comp, "schemas", s);
		cv_note(c, "/components/schemas", "/definitions");
	}
	if (json_is_object(params)) {
		json_t *ps = json_object(), *rbs = json_object();
		json_object_foreach((json_t *)params, k, v) {
			const char *in = json_string_value(json_object_get(v, "in"));
			char *from = cv_ptr("/parameters", k), *to;
			if (cv_is_body(in)) {
				to = cv_ptr("/components/requestBodies", k);
				cv_set(rbs, k, cv_body(c, v, from, to, cv_types(NULL, c->consumes, def)));
			} else if (cv_is_form(in)) {
				to = NULL; /* written into the form of each operation that names it */
			} else {
				to = cv_ptr("/components/parameters", k);
				cv_set(ps, k, cv_param(c, v, from, to));
			}
			free(from);
			free(to);
			if (c->failed)
				break;
		}
		if (json_object_size(ps))
			json_object_set(comp, "parameters", ps);
		if (json_object_size(rbs))
			json_object_set(comp, "requestBodies", rbs);
		json_decref(ps);
		json_decref(rbs);
	}
	if (json_is_object(resps) && !c->failed) {
		json_t *rs = json_object();
		json_object_foreach((json_t *)resps, k, v) {
			char *from = cv_ptr("/responses", k), *to = cv_ptr("/components/responses", k);
			cv_set(rs, k, cv_response(c, v, from, to, cv_types(NULL, c->produces, def)));
			free(from);
			free(to);
		}
		json_object_set_new(comp, "responses", rs);
	}
	if (json_is_object(secs) && !c->failed) {
		json_t *ss = json_object();
		json_object_foreach((json_t *)secs, k, v) {
			char *from = cv_ptr("/securityDefinitions", k);
			cv_set(ss, k, cv_security_scheme(c, v, from));
			free(from);
			if (c->failed)
				break;
		}
		json_object_set_new(comp, "securitySchemes", ss);
		cv_note(c, "/components/securitySchemes", "/securityDefinitions");
	}
	json_decref(def);
	return comp;
}

json_t *conv2_convert(const json_t *doc, const char *name, json_t **map, char *err, size_t errlen)
{
	conv2 c = { .src = doc, .name = name, .err = err, .errlen = errlen };
	const json_t *version = json_object_get(doc, "swagger");
	json_t *out = NULL, *v, *comp = NULL;
	const char *k;
	int servers_done = 0;

	*map = NULL;
	c.map = json_object();
	if (!cv_is(version, "2.0")) {
		cv_fail(&c, "/swagger", "version %s is not supported (Swagger 2.0 is read by converting it to OpenAPI 3.0)",
		        json_is_string(version) ? json_string_value(version) : "(not a string)");
		goto cleanup;
	}
	c.consumes = json_object_get(doc, "consumes");
	c.produces = json_object_get(doc, "produces");
	out = json_object();
	json_object_set_new(out, "openapi", json_string("3.0.3"));
	cv_note(&c, "/openapi", "/swagger");
	json_object_foreach((json_t *)doc, k, v) {
		if (strcmp(k, "swagger") == 0 || strcmp(k, "consumes") == 0 || strcmp(k, "produces") == 0 ||
		    strcmp(k, "definitions") == 0 || strcmp(k, "parameters") == 0 || strcmp(k, "responses") == 0 ||
		    strcmp(k, "securityDefinitions") == 0)
			continue;
		if (strcmp(k, "host") == 0 || strcmp(k, "basePath") == 0 || strcmp(k, "schemes") == 0) {
			json_t *s = servers_done ? NULL : cv_servers(&c, doc);
			servers_done = 1;
			if (s)
				json_object_set_new(out, "servers", s);
		} else if (strcmp(k, "paths") == 0 && json_is_object(v)) {
			json_t *paths = json_object(), *item;
			const char *p;
			json_object_foreach(v, p, item) {
				char *ip = cv_ptr("/paths", p);
				cv_set(paths, p, (p[0] == 'x' && p[1] == '-') ? json_deep_copy(item) : cv_path_item(&c, item, ip));
				free(ip);
				if (c.failed)
					break;
			}
			json_object_set_new(out, "paths", paths);
		} else {
			cv_set(out, k, json_deep_copy(v));
		}
		if (c.failed)
			goto cleanup;
	}
	comp = cv_components(&c);
	if (c.failed)
		goto cleanup;
	if (json_object_size(comp))
		json_object_set(out, "components", comp);
	*map = c.map;
	c.map = NULL;
cleanup:
	json_decref(comp);
	json_decref(c.map);
	if (c.failed) {
		json_decref(out);
		out = NULL;
	}
	return out;
}

char *conv2_original_pointer(const json_t *map, const char *pointer)
{
	char *buf = strdup(pointer), *out = NULL;
	size_t n = buf ? strlen(buf) : 0;

	while (buf && n > 0) {
		const char *o = json_string_value(json_object_get(map, buf));
		char *slash;
		if (o) {
			if (asprintf(&out, "%s%s", o, pointer + n) < 0)
				out = NULL;
			break;
		}
		slash = strrchr(buf, '/');
		if (!slash)
			break;
		*slash = '\0';
		n = (size_t)(slash - buf);
	}
	free(buf);
	return out ? out : strdup(pointer);
}

/* The name docset shows for path (relative to the working folder when it is in it). */
static char *cv_display(const char *path)
{
	char cwd[PATH_MAX];
	size_t cl;

	if (path[0] == '/' && getcwd(cwd, sizeof cwd) && (cl = strlen(cwd)) > 1 && strncmp(path, cwd, cl) == 0 &&
	    path[cl] == '/')
		return strdup(path + cl + 1);
	return strdup(path);
}

json_t *conv2_load(const char *path, char *err, size_t errlen)
{
	json_t *doc = load_document(path, err, errlen), *out, *map = NULL;
	char *shown;

	if (!json_is_object(doc) || !json_object_get(doc, "swagger") || json_object_get(doc, "openapi"))
		return doc;
	out = conv2_convert(doc, path, &map, err, errlen);
	json_decref(doc);
	if (!out)
		return NULL;
	if (!conv2_maps)
		conv2_maps = json_object();
	shown = cv_display(path);
	json_object_set(conv2_maps, path, map);
	if (shown)
		json_object_set(conv2_maps, shown, map);
	free(shown);
	json_decref(map);
	return out;
}

int conv2_converted(const char *path)
{
	return json_object_get(conv2_maps, path) != NULL;
}

void conv2_explain(char *err, size_t errlen)
{
	const char *name;
	json_t *map;

	json_object_foreach(conv2_maps, name, map) {
		size_t n = strlen(name);
		const char *p, *end;
		char *ptr, *orig, *out = NULL;
		if (strncmp(err, name, n) != 0 || strncmp(err + n, ": /", 3) != 0)
			continue;
		p = err + n + 2;
		end = strstr(p, ": ");
		if (!end)
			end = p + strlen(p);
		ptr = strndup(p, (size_t)(end - p));
		orig = ptr ? conv2_original_pointer(map, ptr) : NULL;
		if (orig && asprintf(&out, "%.*s%s%s", (int)(p - err), err, orig, end) >= 0) {
			snprintf(err, errlen, "%s", out);
			free(out);
		}
		free(ptr);
		free(orig);
		return;
	}
}

void conv2_forget(void)
{
	json_decref(conv2_maps);
	conv2_maps = NULL;
}
