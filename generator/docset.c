/* docset.c — loaded documents and $ref resolution. */
#include "docset.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct docset_entry {
	char *uri;        /* absolute URI without fragment */
	char *display;    /* name for messages */
	json_t *doc;
	int owned;        /* doc is a document (1) or an $id'd sub-tree (0) */
	char *doc_uri;    /* for $id entries: the URI of the enclosing document */
	char *pointer;    /* for $id entries: where in that document */
} docset_entry;

struct docset {
	docset_loader_fn loader;
	docset_entry *v;
	size_t n, cap;
	json_t *anchors;  /* "uri#name" -> "docuri#/pointer" */
	json_t *dynanchors; /* resource uri -> { $dynamicAnchor name -> "docuri#/pointer" } */
};

docset *docset_new(docset_loader_fn loader)
{
	docset *ds = calloc(1, sizeof *ds);

	if (!ds)
		return NULL;
	ds->loader = loader;
	ds->anchors = json_object();
	ds->dynanchors = json_object();
	return ds;
}

void docset_free(docset *ds)
{
	if (!ds)
		return;
	for (size_t i = 0; i < ds->n; i++) {
		free(ds->v[i].uri);
		free(ds->v[i].display);
		free(ds->v[i].doc_uri);
		free(ds->v[i].pointer);
		if (ds->v[i].owned)
			json_decref(ds->v[i].doc);
	}
	free(ds->v);
	json_decref(ds->anchors);
	json_decref(ds->dynanchors);
	free(ds);
}

static docset_entry *docset_find(docset *ds, const char *uri, size_t len)
{
	for (size_t i = 0; i < ds->n; i++)
		if (strlen(ds->v[i].uri) == len && memcmp(ds->v[i].uri, uri, len) == 0)
			return &ds->v[i];
	return NULL;
}

static docset_entry *docset_push(docset *ds)
{
	if (ds->n == ds->cap) {
		size_t cap = ds->cap ? ds->cap * 2 : 8;
		docset_entry *v = realloc(ds->v, cap * sizeof *v);
		if (!v)
			return NULL;
		ds->v = v;
		ds->cap = cap;
	}
	memset(&ds->v[ds->n], 0, sizeof ds->v[0]);
	return &ds->v[ds->n++];
}

/* ---- URIs ---- */

static size_t docset_scheme_len(const char *s)
{
	size_t i = 0;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return 0;
	while (s[i] && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
	                (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' || s[i] == '.'))
		i++;
	return s[i] == ':' ? i : 0;
}

/* Removes dot segments of a path in place (RFC 3986 5.2.4). */
static void docset_remove_dots(char *path)
{
	char *out = path, *in = path;

	while (*in) {
		if (strncmp(in, "../", 3) == 0) {
			in += 3;
		} else if (strncmp(in, "./", 2) == 0) {
			in += 2;
		} else if (strncmp(in, "/./", 3) == 0) {
			in += 2;
		} else if (strcmp(in, "/.") == 0) {
			in[1] = '\0';
		} else if (strncmp(in, "/../", 4) == 0 || strcmp(in, "/..") == 0) {
			in += 3;
			if (*in == '\0') {
				in--;
				*in = '/';
			}
			while (out > path && *--out != '/')
				;
			*out = '\0';
		} else if (strcmp(in, ".") == 0 || strcmp(in, "..") == 0) {
			in += strlen(in);
		} else {
			do
				*out++ = *in++;
			while (*in && *in != '/');
		}
	}
	*out = '\0';
}

char *docset_uri_resolve(const char *base, const char *ref)
{
	char *out = NULL;
	size_t bs;
	const char *bfrag, *auth_end;
	size_t base_nofrag;

	if (docset_scheme_len(ref)) {
		out = strdup(ref);
		goto normalize;
	}
	bfrag = strchr(base, '#');
	base_nofrag = bfrag ? (size_t)(bfrag - base) : strlen(base);
	if (ref[0] == '\0') {
		out = strndup(base, base_nofrag);
		return out;
	}
	if (ref[0] == '#') { /* most references: the base's document */
		size_t rl = strlen(ref);
		if ((out = malloc(base_nofrag + rl + 1)) != NULL) {
			memcpy(out, base, base_nofrag);
			memcpy(out + base_nofrag, ref, rl + 1);
		}
		return out;
	}
	bs = docset_scheme_len(base);
	auth_end = base + bs + 1;
	if (strncmp(auth_end, "//", 2) == 0) {
		auth_end += 2;
		while (*auth_end && *auth_end != '/' && *auth_end != '?' && *auth_end != '#')
			auth_end++;
	}
	if (ref[0] == '/' && ref[1] == '/') {
		if (asprintf(&out, "%.*s%s", (int)(bs + 1), base, ref) < 0)
			return NULL;
	} else if (ref[0] == '/') {
		if (asprintf(&out, "%.*s%s", (int)(auth_end - base), base, ref) < 0)
			return NULL;
	} else if (ref[0] == '?') {
		const char *q = memchr(base, '?', base_nofrag);
		size_t upto = q ? (size_t)(q - base) : base_nofrag;
		if (asprintf(&out, "%.*s%s", (int)upto, base, ref) < 0)
			return NULL;
	} else {
		/* merge with the base path up to its last '/' */
		const char *q = memchr(base, '?', base_nofrag);
		size_t upto = q ? (size_t)(q - base) : base_nofrag;
		const char *slash = NULL;
		for (const char *p = auth_end; p < base + upto; p++)
			if (*p == '/')
				slash = p;
		if (slash) {
			if (asprintf(&out, "%.*s%s", (int)(slash + 1 - base), base, ref) < 0)
				return NULL;
		} else if (asprintf(&out, "%.*s/%s", (int)(auth_end - base), base, ref) < 0) {
			return NULL;
		}
	}
normalize:
	if (out) {
		/* dot-segment removal on the path part only */
		size_t s2 = docset_scheme_len(out);
		char *path = out + s2 + 1;
		if (strncmp(path, "//", 2) == 0) {
			path += 2;
			while (*path && *path != '/' && *path != '?' && *path != '#')
				path++;
		}
		char *endp = path + strcspn(path, "?#");
		char saved = *endp;
		/* a dot segment starts the path or follows a '/': without one
		 * (most URIs) there is nothing to remove */
		int dots = path[0] == '.';
		for (const char *d = path; !dots && (d = memchr(d, '/', (size_t)(endp - d))) != NULL; d++)
			dots = d + 1 < endp && d[1] == '.';
		if (!dots)
			return out;
		char *rest = strdup(endp);
		*endp = '\0';
		docset_remove_dots(path);
		(void)saved;
		if (rest) {
			char *joined = NULL;
			if (asprintf(&joined, "%s%s", out, rest) >= 0) {
				free(out);
				out = joined;
			}
			free(rest);
		}
	}
	return out;
}

static int docset_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static char *docset_percent_decode(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		if (*s == '%' && docset_hexval(s[1]) >= 0 && docset_hexval(s[2]) >= 0) {
			*o++ = (char)(docset_hexval(s[1]) * 16 + docset_hexval(s[2]));
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return out;
}

const json_t *docset_pointer(const json_t *root, const char *pointer)
{
	char *p = strchr(pointer, '%') ? docset_percent_decode(pointer) : strdup(pointer), *tok, *save = NULL;
	const json_t *cur = root;

	if (!p)
		return NULL;
	if (p[0] == '\0') {
		free(p);
		return root;
	}
	if (p[0] != '/') {
		free(p);
		return NULL;
	}
	/* split on '/', keeping empty tokens */
	char *s = p + 1;
	for (;;) {
		char *slash = strchr(s, '/');
		if (slash)
			*slash = '\0';
		tok = s;
		/* unescape ~1 then ~0 */
		char *w = tok;
		for (char *r = tok; *r; r++) {
			if (r[0] == '~' && r[1] == '1') {
				*w++ = '/';
				r++;
			} else if (r[0] == '~' && r[1] == '0') {
				*w++ = '~';
				r++;
			} else {
				*w++ = *r;
			}
		}
		*w = '\0';
		if (json_is_object(cur)) {
			cur = json_object_get(cur, tok);
		} else if (json_is_array(cur)) {
			char *end;
			unsigned long idx = strtoul(tok, &end, 10);
			cur = (*tok && *end == '\0' && !(tok[0] == '0' && tok[1])) ? json_array_get(cur, idx) : NULL;
		} else {
			cur = NULL;
		}
		if (!cur || !slash)
			break;
		s = slash + 1;
	}
	(void)save;
	free(p);
	return cur;
}

/* The length of tok escaped as a pointer token (~0 ~1); *plain: how many
 * of its bytes come before the first to escape. */
static size_t docset_token_len(const char *tok, size_t *plain)
{
	size_t n = *plain = strcspn(tok, "~/");

	for (const char *s = tok + n; *s; s++)
		n += (*s == '~' || *s == '/') ? 2 : 1;
	return n;
}

/* tok escaped at o (room for docset_token_len), then a NUL. */
static void docset_token_put(char *o, const char *tok, size_t plain)
{
	memcpy(o, tok, plain); /* most tokens have nothing to escape */
	o += plain;
	for (const char *s = tok + plain; *s; s++) {
		if (*s == '~' || *s == '/') {
			*o++ = '~';
			*o++ = *s == '~' ? '0' : '1';
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* Escapes one pointer token. */
char *docset_pointer_join(const char *base, const char *tok)
{
	size_t bl = strlen(base), plain, extra = docset_token_len(tok, &plain);
	char *out = malloc(bl + extra + 2);

	if (!out)
		return NULL;
	memcpy(out, base, bl);
	out[bl] = '/';
	docset_token_put(out + bl + 1, tok, plain);
	return out;
}

size_t docset_token_escape(char *out, const char *tok)
{
	size_t plain, n = docset_token_len(tok, &plain);

	if (out)
		docset_token_put(out, tok, plain);
	return n;
}

size_t docset_ptrbuf_push(docset_ptrbuf *b, const char *tok)
{
	size_t plain, n = docset_token_len(tok, &plain), at = b->len;

	if (at + n + 2 > b->cap) {
		size_t cap = (at + n + 2) * 2;
		char *v = realloc(b->s, cap);
		if (!v)
			return (size_t)-1;
		b->s = v;
		b->cap = cap;
	}
	b->s[at] = '/';
	docset_token_put(b->s + at + 1, tok, plain);
	b->len = at + n + 1;
	return at;
}

void docset_index_token(char *out, size_t i)
{
	char tmp[24], *t = tmp + sizeof tmp;

	*--t = '\0';
	do
		*--t = (char)('0' + i % 10);
	while (i /= 10);
	memcpy(out, t, (size_t)(tmp + sizeof tmp - t));
}

void docset_ptrbuf_cut(docset_ptrbuf *b, size_t len)
{
	b->len = len;
	if (b->s)
		b->s[len] = '\0';
}

/* Keywords whose values are not schemas: $id/$anchor inside them mean nothing. */
static int docset_opaque_keyword(const char *k)
{
	return (k[0] == 'e' && (strcmp(k, "enum") == 0 || strcmp(k, "example") == 0 || strcmp(k, "examples") == 0)) ||
	       (k[0] == 'c' && strcmp(k, "const") == 0) || (k[0] == 'd' && strcmp(k, "default") == 0);
}

/* Indexes $id and $anchor below node (at ptr); base is the base URI in force. */
static void docset_index(docset *ds, const char *doc_uri, const json_t *node, const char *base,
                         docset_ptrbuf *ptr, int depth)
{
	char *mybase = NULL;
	const char *key;
	json_t *val;

	if (depth > 200 || !(json_is_object(node) || json_is_array(node)))
		return;
	if (json_is_object(node)) {
		/* the five keywords in one pass over the keys: every object of the
		 * document comes here, and few have any of them */
		const json_t *jid = NULL, *janchor = NULL, *jref = NULL, *jid4 = NULL, *jdanchor = NULL;
		json_object_foreach((json_t *)node, key, val) {
			if (key[0] == '$') {
				if (strcmp(key, "$id") == 0)
					jid = val;
				else if (strcmp(key, "$anchor") == 0)
					janchor = val;
				else if (strcmp(key, "$ref") == 0)
					jref = val;
				else if (strcmp(key, "$dynamicAnchor") == 0)
					jdanchor = val;
			} else if (key[0] == 'i' && key[1] == 'd' && !key[2]) {
				jid4 = val;
			}
		}
		const char *id = json_string_value(jid);
		const char *anchor = json_string_value(janchor);
		if (!id && !jref) /* draft 4; its $ref hides siblings */
			id = json_string_value(jid4);
		if (id && id[0] == '#') { /* a plain-name fragment is an anchor */
			if (!anchor)
				anchor = id + 1;
			id = NULL;
		}
		const char *danchor = json_string_value(jdanchor);
		if (id && depth > 0) {
			mybase = docset_uri_resolve(base, id);
			if (mybase) {
				char *hash = strchr(mybase, '#');
				if (hash)
					*hash = '\0';
				if (!docset_find(ds, mybase, strlen(mybase))) {
					docset_entry *e = docset_push(ds);
					if (e) {
						e->uri = strdup(mybase);
						e->display = strdup(mybase);
						e->doc = (json_t *)node;
						e->owned = 0;
						e->doc_uri = strdup(doc_uri);
						e->pointer = strdup(docset_ptrbuf_get(ptr));
					}
				}
				base = mybase;
			}
		}
		for (int a = 0; a < 2; a++) {
			const char *name = a ? danchor : anchor;
			char *k = NULL, *target = NULL;
			if (!name)
				continue;
			if (asprintf(&k, "%s#%s", base, name) >= 0 && asprintf(&target, "%s#%s", doc_uri, docset_ptrbuf_get(ptr)) >= 0 &&
			    !json_object_get(ds->anchors, k))
				json_object_set_new(ds->anchors, k, json_string(target));
			if (a && target) {
				json_t *res = json_object_get(ds->dynanchors, base);
				if (!res)
					json_object_set_new(ds->dynanchors, base, res = json_object());
				if (!json_object_get(res, name))
					json_object_set_new(res, name, json_string(target));
			}
			free(k);
			free(target);
		}
		json_object_foreach((json_t *)node, key, val) {
			size_t at;
			if (docset_opaque_keyword(key) || !(json_is_object(val) || json_is_array(val)))
				continue; /* nor does a scalar hold any */
			if ((at = docset_ptrbuf_push(ptr, key)) != (size_t)-1) {
				docset_index(ds, doc_uri, val, base, ptr, depth + 1);
				docset_ptrbuf_cut(ptr, at);
			}
		}
	} else {
		for (size_t i = 0; i < json_array_size(node); i++) {
			char idx[32];
			size_t at;
			if (!json_is_object(json_array_get(node, i)) && !json_is_array(json_array_get(node, i)))
				continue;
			docset_index_token(idx, i);
			if ((at = docset_ptrbuf_push(ptr, idx)) != (size_t)-1) {
				docset_index(ds, doc_uri, json_array_get(node, i), base, ptr, depth + 1);
				docset_ptrbuf_cut(ptr, at);
			}
		}
	}
	free(mybase);
}

int docset_add(docset *ds, const char *uri, json_t *doc)
{
	docset_entry *e = docset_push(ds);
	const char *rootid;

	if (!e) {
		json_decref(doc);
		return -1;
	}
	e->uri = strdup(uri);
	e->display = strdup(uri);
	e->doc = doc;
	e->owned = 1;
	if (!e->uri || !e->display)
		return -1;
	/* a root $id is an alias of the document */
	rootid = json_is_object(doc) ? json_string_value(json_object_get(doc, "$id")) : NULL;
	if (!rootid && json_is_object(doc) && !json_object_get(doc, "$ref")) /* draft 4 */
		rootid = json_string_value(json_object_get(doc, "id"));
	if (rootid && rootid[0] == '#')
		rootid = NULL;
	char *uri_copy = strdup(uri);
	docset_ptrbuf ptr = { 0 };
	if (rootid) {
		char *abs = docset_uri_resolve(uri, rootid);
		if (abs) {
			char *hash = strchr(abs, '#');
			if (hash)
				*hash = '\0';
			if (!docset_find(ds, abs, strlen(abs))) {
				docset_entry *a = docset_push(ds);
				if (a) {
					a->uri = strdup(abs);
					a->display = strdup(uri_copy);
					a->doc = doc;
					a->owned = 0;
					a->doc_uri = strdup(uri_copy);
					a->pointer = strdup("");
				}
			}
			docset_index(ds, uri_copy, doc, abs, &ptr, 0);
			free(abs);
		}
	} else {
		docset_index(ds, uri_copy, doc, uri_copy, &ptr, 0);
	}
	free(ptr.s);
	free(uri_copy);
	return 0;
}

int docset_alias(docset *ds, const char *alias_uri, const char *doc_uri)
{
	docset_entry *d = docset_find(ds, doc_uri, strlen(doc_uri)), *a;

	if (!d)
		return -1;
	if (docset_find(ds, alias_uri, strlen(alias_uri)))
		return 0;
	a = docset_push(ds);
	if (!a)
		return -1;
	a->uri = strdup(alias_uri);
	a->display = strdup(d->display);
	a->doc = d->doc;
	a->owned = 0;
	a->doc_uri = strdup(doc_uri);
	a->pointer = strdup("");
	return a->uri && a->display && a->doc_uri && a->pointer ? 0 : -1;
}

static char *docset_file_uri(const char *path)
{
	char abs[PATH_MAX];
	char *out = NULL;

	if (!realpath(path, abs))
		return NULL;
	if (asprintf(&out, "file://%s", abs) < 0)
		return NULL;
	return out;
}

const char *docset_display(docset *ds, const char *uri)
{
	const char *hash = strchr(uri, '#');
	docset_entry *e = docset_find(ds, uri, hash ? (size_t)(hash - uri) : strlen(uri));

	return e ? e->display : uri;
}

const json_t *docset_load(docset *ds, const char *path, const char **uri, char *err, size_t errlen)
{
	char *u = docset_file_uri(path);
	docset_entry *e;
	json_t *doc;

	if (!u) {
		snprintf(err, errlen, "%s: cannot open the file", path);
		return NULL;
	}
	e = docset_find(ds, u, strlen(u));
	if (e) {
		free(u);
		*uri = e->uri;
		return e->doc;
	}
	doc = ds->loader ? ds->loader(path, err, errlen) : NULL;
	if (!doc) {
		if (!ds->loader)
			snprintf(err, errlen, "%s: no loader for files", path);
		free(u);
		return NULL;
	}
	if (docset_add(ds, u, doc) != 0) {
		free(u);
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	free(u);
	e = &ds->v[ds->n - 1];
	/* messages name the file as it was given, or relative to the working
	 * folder when it was found through a reference (never an absolute path
	 * in generated code) */
	while (e > ds->v && !e->owned)
		e--;
	free(e->display);
	{
		char cwd[PATH_MAX];
		size_t cl;
		if (path[0] == '/' && getcwd(cwd, sizeof cwd) && (cl = strlen(cwd)) > 1 &&
		    strncmp(path, cwd, cl) == 0 && path[cl] == '/')
			e->display = strdup(path + cl + 1);
		else
			e->display = strdup(path);
	}
	*uri = e->uri;
	return e->doc;
}

static const json_t *docset_lookup(docset *ds, const char *abs, char **out_uri, char *err, size_t errlen)
{
	const char *hash = strchr(abs, '#');
	size_t ulen = hash ? (size_t)(hash - abs) : strlen(abs);
	const char *frag = hash ? hash + 1 : "";
	docset_entry *e = docset_find(ds, abs, ulen);
	const json_t *node;
	char *canon = NULL;

	if (!e && ulen > 7 && strncmp(abs, "file://", 7) == 0) {
		char *path = strndup(abs + 7, ulen - 7);
		char *decoded = path ? docset_percent_decode(path) : NULL;
		const char *u;
		if (decoded && access(decoded, R_OK) == 0 && docset_load(ds, decoded, &u, err, errlen))
			e = docset_find(ds, abs, ulen);
		free(path);
		free(decoded);
		if (!e)
			return NULL;
	}
	if (!e) {
		snprintf(err, errlen, "cannot resolve \"%s\": no such document is loaded (remote references are not fetched)", abs);
		return NULL;
	}
	if (frag[0] == '\0' || frag[0] == '/') {
		node = docset_pointer(e->doc, frag);
		if (!node) {
			snprintf(err, errlen, "cannot resolve \"%s\": no such JSON pointer", abs);
			return NULL;
		}
		if (e->owned) { /* abs itself, with a '#' */
			size_t fl = strlen(frag);
			if (!(canon = malloc(ulen + fl + 2)))
				return NULL;
			memcpy(canon, abs, ulen);
			canon[ulen] = '#';
			memcpy(canon + ulen + 1, frag, fl + 1);
		} else {
			char *dec = docset_percent_decode(frag);
			/* re-encode is unnecessary: our pointers are stored decoded */
			if (asprintf(&canon, "%s#%s%s", e->doc_uri, e->pointer, dec ? dec : frag) < 0)
				canon = NULL;
			free(dec);
		}
		*out_uri = canon;
		return node;
	}
	/* an anchor */
	{
		char *k = NULL;
		const char *target;
		if (asprintf(&k, "%.*s#%s", (int)ulen, abs, frag) < 0)
			return NULL;
		target = json_string_value(json_object_get(ds->anchors, k));
		free(k);
		if (!target) {
			snprintf(err, errlen, "cannot resolve \"%s\": no such anchor", abs);
			return NULL;
		}
		return docset_lookup(ds, target, out_uri, err, errlen);
	}
}

const json_t *docset_resolve(docset *ds, const char *base_uri, const char *ref,
                             char **out_uri, char *err, size_t errlen)
{
	char *abs = docset_uri_resolve(base_uri, ref);
	const json_t *node;

	*out_uri = NULL;
	if (!abs) {
		snprintf(err, errlen, "cannot resolve \"%s\"", ref);
		return NULL;
	}
	node = docset_lookup(ds, abs, out_uri, err, errlen);
	free(abs);
	return node;
}

const json_t *docset_dynamic_anchors(docset *ds, const char *resource_uri)
{
	const json_t *res = json_object_get(ds->dynanchors, resource_uri);

	return json_object_size(res) ? res : NULL;
}

char *docset_base_of(docset *ds, const char *canonical_uri)
{
	const char *hash = strchr(canonical_uri, '#');
	size_t ulen = hash ? (size_t)(hash - canonical_uri) : strlen(canonical_uri);
	const char *ptr = hash ? hash + 1 : "";
	const char *best = NULL;
	size_t best_len = 0;

	/* the $id'd sub-tree with the longest pointer prefix of ptr */
	for (size_t i = 0; i < ds->n; i++) {
		docset_entry *e = &ds->v[i];
		size_t pl;
		if (e->owned || !e->doc_uri || strlen(e->doc_uri) != ulen || memcmp(e->doc_uri, canonical_uri, ulen) != 0)
			continue;
		pl = strlen(e->pointer);
		if (strncmp(ptr, e->pointer, pl) == 0 && (ptr[pl] == '\0' || ptr[pl] == '/') && (!best || pl >= best_len)) {
			best = e->uri;
			best_len = pl;
		}
	}
	return best ? strdup(best) : strndup(canonical_uri, ulen);
}
