/* check.c — whole-document checks (see check.h). */
#include "check.h"
#include "docset.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_pattern.h"

typedef struct check {
	const char *name;
	char *err;
	size_t errlen;
	int minor;      /* 0, 1 or 2: OpenAPI 3.0, 3.1, 3.2 */
	int needs_items; /* OpenAPI 3.0: an array schema has items */
} check;

/* Values that are data, not schemas: a "pattern" in them is not one. */
static int check_opaque(const char *k)
{
	/* the first byte first: this runs for every key of the document */
	switch (k[0]) {
	case 'e':
		return strcmp(k, "enum") == 0 || strcmp(k, "example") == 0 || strcmp(k, "examples") == 0;
	case 'c':
		return strcmp(k, "const") == 0;
	case 'd':
		return strcmp(k, "default") == 0;
	case 'x':
		return k[1] == '-';
	default:
		return 0;
	}
}

/* Keywords whose value maps names to schemas: its keys are names. */
static int check_name_map(const char *k)
{
	switch (k[0]) {
	case 'p':
		return strcmp(k, "properties") == 0 || strcmp(k, "patternProperties") == 0;
	case '$':
		return strcmp(k, "$defs") == 0;
	case 'd':
		return strcmp(k, "definitions") == 0 || strcmp(k, "dependentSchemas") == 0;
	case 's':
		return strcmp(k, "schemas") == 0;
	default:
		return 0;
	}
}

/* A pattern PCRE2 refuses for one of its own limits is not enforced (a
 * warning; the model leaves it out, gen_schema.c) where it is a "pattern";
 * a patternProperties name cannot be left out without changing which
 * schema applies, so it is refused (names: 1). */
static int check_pattern(check *c, const char *re, const char *ptr, int names)
{
	int ec;
	PCRE2_SIZE off;
	pcre2_code *code = rt_pattern_compile(re, &ec, &off);
	PCRE2_UCHAR msg[160];

	if (code) {
		pcre2_code_free(code);
		return 0;
	}
	if (ec == 0) {
		snprintf(c->err, c->errlen, "%s: out of memory", c->name);
		return -1;
	}
	pcre2_get_error_message(ec, msg, sizeof msg);
	if (rt_pattern_limit(ec) && !names) {
		fprintf(stderr, "%s: %s: warning: pattern \"%.200s\" is valid ECMA-262 but exceeds a PCRE2 limit "
		        "(at offset %zu): %s; the pattern is not enforced\n", c->name, ptr, re, (size_t)off, (char *)msg);
		return 0;
	}
	snprintf(c->err, c->errlen, "%s: %s: pattern \"%.200s\" does not compile (PCRE2, at offset %zu): %s%s",
	         c->name, ptr, re, (size_t)off, (char *)msg,
	         rt_pattern_limit(ec) ? " (a PCRE2 limit; a patternProperties name cannot be left unenforced)" : "");
	return -1;
}

static int check_fail(check *c, const char *ptr, const char *what)
{
	snprintf(c->err, c->errlen, "%s: %s: %s", c->name, ptr, what);
	return -1;
}

/* The fixed fields OpenAPI requires at the top and in info and servers. */
static int check_top(check *c, const json_t *doc)
{
	const json_t *info = json_object_get(doc, "info"), *servers = json_object_get(doc, "servers");
	const char *const fields[] = { "title", "version" };

	if (!json_object_get(doc, "openapi"))
		return 0; /* the model says what this is */
	if (!info)
		return check_fail(c, "/info", "missing: an OpenAPI document has an info object");
	if (!json_is_object(info))
		return check_fail(c, "/info", "must be an object");
	for (size_t i = 0; i < 2; i++) {
		const json_t *v = json_object_get(info, fields[i]);
		char ptr[32];
		snprintf(ptr, sizeof ptr, "/info/%s", fields[i]);
		if (!v)
			return check_fail(c, ptr, "missing: info needs a title and a version");
		if (!json_is_string(v))
			return check_fail(c, ptr, "must be a string");
	}
	if (servers && !json_is_array(servers))
		return check_fail(c, "/servers", "must be an array of server objects");
	for (size_t i = 0; i < json_array_size(servers); i++) {
		const json_t *sv = json_array_get(servers, i);
		char ptr[48];
		snprintf(ptr, sizeof ptr, "/servers/%zu/url", i);
		if (!json_is_object(sv) || !json_object_get(sv, "url"))
			return check_fail(c, ptr, "missing: a server needs a url");
		if (!json_is_string(json_object_get(sv, "url")))
			return check_fail(c, ptr, "must be a string");
	}
	return 0;
}

/* One operation's fixed fields (as written; a $ref'd operation is checked
 * where the model reads it). */
static int check_operation(check *c, const json_t *op, const char *mp, int minor)
{
	const json_t *rs = json_object_get(op, "responses"), *id = json_object_get(op, "operationId");
	const json_t *rb = json_object_get(op, "requestBody");
	const char *code;
	json_t *r;
	char *p = NULL;
	int rc = 0;

	if (json_object_get(op, "$ref"))
		return 0;
	if (id && !json_is_string(id)) {
		p = docset_pointer_join(mp, "operationId");
		rc = check_fail(c, p ? p : mp, "must be a string");
	} else if (!rs && minor == 0) {
		p = docset_pointer_join(mp, "responses");
		rc = check_fail(c, p ? p : mp, "missing: an operation documents its responses (OpenAPI 3.0)");
	} else if (rb && json_is_object(rb) && !json_object_get(rb, "$ref") && !json_is_object(json_object_get(rb, "content"))) {
		p = docset_pointer_join(mp, "requestBody");
		char *q = p ? docset_pointer_join(p, "content") : NULL;
		rc = check_fail(c, q ? q : mp, json_object_get(rb, "content") ? "must be an object of media types"
		                                                                : "missing: a request body has content");
		free(q);
	}
	free(p);
	if (rc || minor >= 2 || !json_is_object(rs))
		return rc;
	/* a response's description is required until 3.2 */
	json_object_foreach((json_t *)rs, code, r) {
		if (!json_is_object(r) || json_object_get(r, "$ref") || json_object_get(r, "description") ||
		    (code[0] == 'x' && code[1] == '-'))
			continue;
		p = docset_pointer_join(mp, "responses");
		char *q = p ? docset_pointer_join(p, code) : NULL, *d = q ? docset_pointer_join(q, "description") : NULL;
		rc = check_fail(c, d ? d : mp, "missing: a response needs a description (until OpenAPI 3.2)");
		free(p);
		free(q);
		free(d);
		return rc;
	}
	return 0;
}

/* Every pattern below node (at ptr); names: node's keys are names, not keywords. */
static int check_walk(check *c, const json_t *node, docset_ptrbuf *ptr, int names)
{
	const char *k;
	json_t *v;
	int rc = 0;

	if (json_is_array(node)) {
		for (size_t i = 0; rc == 0 && i < json_array_size(node); i++) {
			char idx[32];
			size_t at;
			if (!json_is_object(json_array_get(node, i)) && !json_is_array(json_array_get(node, i)))
				continue;
			docset_index_token(idx, i);
			if ((at = docset_ptrbuf_push(ptr, idx)) == (size_t)-1)
				return -1;
			rc = check_walk(c, json_array_get(node, i), ptr, 0);
			docset_ptrbuf_cut(ptr, at);
		}
		return rc;
	}
	if (!json_is_object(node))
		return 0;
	json_object_foreach((json_t *)node, k, v) {
		size_t at = ptr->len; /* k's pointer, made only where it is needed */
		if (!names && check_opaque(k))
			continue;
		if (!names && c->needs_items && k[0] == 't' && strcmp(k, "type") == 0 && json_is_string(v) &&
		    strcmp(json_string_value(v), "array") == 0 && !json_object_get(node, "items") &&
		    !json_object_get(node, "$ref")) {
			rc = check_fail(c, ptr->len ? ptr->s : "/", "an array schema needs \"items\" (OpenAPI 3.0)");
		} else if (!names && (k[0] == 'd' || k[0] == 'p' || k[0] == 'i') &&
		           (strcmp(k, "defaultMapping") == 0 || strcmp(k, "prefixEncoding") == 0 || strcmp(k, "itemEncoding") == 0)) {
			if (docset_ptrbuf_push(ptr, k) == (size_t)-1)
				return -1;
			snprintf(c->err, c->errlen, "%s: %s: %s (OpenAPI 3.2) is not supported by oapigen", c->name, ptr->s, k);
			rc = -1;
		} else if (!names && k[0] == 'p' && strcmp(k, "pattern") == 0 && json_is_string(v)) {
			if (docset_ptrbuf_push(ptr, k) == (size_t)-1)
				return -1;
			rc = check_pattern(c, json_string_value(v), ptr->s, 0);
		} else if (!names && k[0] == 'p' && strcmp(k, "patternProperties") == 0 && json_is_object(v)) {
			const char *re;
			json_t *s;
			if (docset_ptrbuf_push(ptr, k) == (size_t)-1)
				return -1;
			json_object_foreach(v, re, s) {
				size_t pat = docset_ptrbuf_push(ptr, re);
				rc = pat == (size_t)-1 ? -1 : check_pattern(c, re, ptr->s, 1);
				if (rc == 0)
					rc = check_walk(c, s, ptr, 0);
				if (pat != (size_t)-1)
					docset_ptrbuf_cut(ptr, pat);
				if (rc != 0)
					break;
			}
		} else if (json_is_object(v) || json_is_array(v)) { /* a scalar holds nothing to check */
			if (docset_ptrbuf_push(ptr, k) == (size_t)-1)
				return -1;
			rc = check_walk(c, v, ptr, !names && check_name_map(k));
		}
		docset_ptrbuf_cut(ptr, at);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Counts the operations; refuses one whose responses are empty. *unknown: a
 * path item is a $ref (its operations are elsewhere). */
static int check_operations(check *c, const json_t *paths, size_t *n, int *unknown)
{
	static const char *const methods[] = { "get", "put", "post", "delete", "options", "head", "patch", "trace",
	                                       "query", NULL };
	const char *path;
	json_t *item;

	json_object_foreach((json_t *)paths, path, item) {
		if (!json_is_object(item) || (path[0] == 'x' && path[1] == '-'))
			continue;
		if (json_object_get(item, "$ref"))
			*unknown = 1;
		*n += json_object_size(json_object_get(item, "additionalOperations"));
		for (const char *const *m = methods; *m; m++) {
			const json_t *op = json_object_get(item, *m);
			const json_t *rs = json_object_get(op, "responses");
			if (!json_is_object(op))
				continue;
			(*n)++;
			{
				char *ip = docset_pointer_join("/paths", path), *mp = ip ? docset_pointer_join(ip, *m) : NULL;
				int r = mp ? check_operation(c, op, mp, c->minor) : -1;
				free(ip);
				free(mp);
				if (r != 0)
					return -1;
			}
			if (json_is_object(rs) && json_object_size(rs) == 0) {
				char *ip = docset_pointer_join("/paths", path), *mp = ip ? docset_pointer_join(ip, *m) : NULL;
				snprintf(c->err, c->errlen, "%s: %s/responses: no response is documented "
				         "(an operation lists at least one: \"responses: {}\" is not enough)",
				         c->name, mp ? mp : "/paths");
				free(ip);
				free(mp);
				return -1;
			}
		}
	}
	return 0;
}

int check_document(const char *name, const json_t *doc, char *err, size_t errlen)
{
	check c = { .name = name, .err = err, .errlen = errlen };
	size_t n = 0;
	int unknown = 0;

	if (!json_is_object(doc))
		return 0; /* the model says what is wrong */
	{
		const char *v = json_string_value(json_object_get(doc, "openapi"));
		c.minor = v && strncmp(v, "3.", 2) == 0 && v[2] >= '0' && v[2] <= '9' ? v[2] - '0' : 0;
		c.needs_items = c.minor == 0 && v;
	}
	if (check_top(&c, doc) != 0)
		return -1;
	if (json_object_get(json_object_get(doc, "components"), "mediaTypes")) {
		snprintf(err, errlen, "%s: /components/mediaTypes: reusable media types (OpenAPI 3.2) are not supported "
		         "by oapigen", name);
		return -1;
	}
	{
		docset_ptrbuf ptr = { 0 };
		int rc = check_walk(&c, doc, &ptr, 0);
		free(ptr.s);
		if (rc != 0)
			return -1;
	}
	if (check_operations(&c, json_object_get(doc, "paths"), &n, &unknown) != 0)
		return -1;
	if (n == 0 && !unknown)
		fprintf(stderr, "%s: /paths: warning: the document has no operations; the generated API is empty\n", name);
	return 0;
}
