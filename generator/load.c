/* load.c — YAML 1.2 / JSON documents into jansson through libfyaml.
 *
 * The jansson tree is built straight from libfyaml's parser events: no
 * libfyaml document is built. Its document builder checks each key of a
 * mapping against every key before it, and its alias resolver does so again
 * (quadratic: Microsoft Graph beta's 14,000 paths took a minute), and the
 * document costs several times the memory of the jansson tree. Here a
 * duplicate key is found through jansson's hash, and an alias shares the
 * anchored value (one more reference) instead of copying it. */
#include "load.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libfyaml.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Deeper documents are refused rather than risking the stack of whoever
 * walks the tree; the depth counts aliases expanded. */
#define LOAD_MAX_DEPTH 1000
#define LOAD_MAX_DEPTH_TEXT "1000"
/* Aliases may make the document stand for more nodes than it has (a
 * "billion laughs"): every walker downstream would visit them all. */
#define LOAD_MAX_EXPANSION(nodes) (16 * (nodes) + 1000000)

static int load_scalar_is(const char *s, size_t n, const char *const *words)
{
	for (; *words; words++)
		if (strlen(*words) == n && memcmp(*words, s, n) == 0)
			return 1;
	return 0;
}

/* YAML 1.2 core schema integer: [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+ */
static int load_parse_int(const char *s, size_t n, json_int_t *out)
{
	char buf[72];
	char *end;
	int base = 10;
	size_t i = 0;

	if (n == 0 || n >= sizeof buf)
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (n > 2 && buf[0] == '0' && buf[1] == 'o') {
		base = 8;
		i = 2;
	} else if (n > 2 && buf[0] == '0' && buf[1] == 'x') {
		base = 16;
		i = 2;
	} else if (buf[0] == '-' || buf[0] == '+') {
		i = 1;
	}
	if (i >= n)
		return 0;
	for (size_t j = i; j < n; j++) {
		char c = buf[j];
		int ok = base == 16 ? (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
		       : base == 8 ? (c >= '0' && c <= '7') : (c >= '0' && c <= '9');
		if (!ok)
			return 0;
	}
	errno = 0;
	long long v = strtoll(base == 10 ? buf : buf + 2, &end, base);
	if (errno == ERANGE)
		return -1; /* an integer, but too big: caller makes it a real */
	*out = (json_int_t)v;
	return 1;
}

/* YAML 1.2 core schema float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static int load_parse_float(const char *s, size_t n, double *out)
{
	static const char *const inf[] = { ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", NULL };
	static const char *const ninf[] = { "-.inf", "-.Inf", "-.INF", NULL };
	static const char *const nan_[] = { ".nan", ".NaN", ".NAN", NULL };
	char buf[128];
	size_t i = 0;
	int digits = 0;

	if (load_scalar_is(s, n, inf) || load_scalar_is(s, n, ninf) || load_scalar_is(s, n, nan_))
		return -1; /* not representable in JSON */
	if (n == 0 || n >= sizeof buf)
		return 0;
	if (s[i] == '-' || s[i] == '+')
		i++;
	while (i < n && s[i] >= '0' && s[i] <= '9') {
		i++;
		digits++;
	}
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			i++;
			digits++;
		}
	}
	if (!digits)
		return 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		if (i >= n)
			return 0;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i != n)
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	*out = strtod(buf, NULL);
	return isfinite(*out) ? 1 : -1;
}

static void load_where(const struct fy_mark *m, const char *name, char *err, size_t errlen, const char *what)
{
	if (m)
		snprintf(err, errlen, "%s:%d:%d: %s", name, m->line + 1, m->column + 1, what);
	else
		snprintf(err, errlen, "%s: %s", name, what);
}

/* A scalar's value by the YAML 1.2 core schema (new), or NULL with err set. */
static json_t *load_scalar(struct fy_event *ev, const char *name, char *err, size_t errlen)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
	static const char *const trues[] = { "true", "True", "TRUE", NULL };
	static const char *const falses[] = { "false", "False", "FALSE", NULL };
	struct fy_token *vt = ev->scalar.value, *tt = ev->scalar.tag;
	const struct fy_mark *m = fy_event_start_mark(ev);
	size_t len = 0, taglen = 0;
	const char *s = vt ? fy_token_get_text(vt, &len) : NULL;
	const char *tag = tt ? fy_token_get_text(tt, &taglen) : NULL;
	int plain = !vt || fy_token_scalar_style(vt) == FYSS_PLAIN;
	json_t *out = NULL;
	json_int_t iv;
	double dv;
	int r;

	if (!s) {
		s = "";
		len = 0;
	}
	if (tag && taglen && !(taglen == 1 && tag[0] == '!')) {
		if (taglen >= 3 && memcmp(tag + taglen - 3, "str", 3) == 0)
			goto string;
		/* other explicit tags fall through to plain resolution */
	} else if (!plain) {
		goto string;
	}
	if (load_scalar_is(s, len, nulls))
		return json_null();
	if (load_scalar_is(s, len, trues))
		return json_true();
	if (load_scalar_is(s, len, falses))
		return json_false();
	r = load_parse_int(s, len, &iv);
	if (r == 1)
		return json_integer(iv);
	if (r == 0 || r == -1) {
		int f = load_parse_float(s, len, &dv);
		if (f == 1)
			return json_real(dv);
		if (f == -1 || r == -1) {
			load_where(m, name, err, errlen, "number cannot be represented in JSON (infinite, NaN or out of range)");
			return NULL;
		}
	}
string:
	out = json_stringn(s, len);
	if (!out)
		load_where(m, name, err, errlen, "string is not valid UTF-8");
	return out;
}

/* One open mapping or sequence while its events arrive. */
typedef struct load_frame {
	json_t *v;             /* the object or array being filled */
	char *key;             /* an object's key waiting for its value; NULL: a key comes next */
	int key_merge;         /* that key is a plain "<<" (a merge key) */
	struct fy_mark key_mark;
	json_t *merged;        /* keys a merge key brought in, which a later key may replace */
	char *anchor;          /* its anchor, defined when it closes */
	uint64_t size, height; /* the nodes and the depth it stands for, aliases expanded */
} load_frame;

typedef struct load_anchor {
	json_t *v;             /* a reference held until the end */
	uint64_t size, height;
} load_anchor;

typedef struct load_ctx {
	const char *name;
	char *err;
	size_t errlen;
	load_frame *st;
	size_t n, cap;
	json_t *anchor_index;  /* anchor name -> index into av */
	load_anchor *av;
	size_t na, capa;
	uint64_t nodes;        /* values built */
	uint64_t expanded;     /* values the document stands for */
	json_t *root;
} load_ctx;

static int load_fail(load_ctx *c, const struct fy_mark *m, const char *what)
{
	load_where(m, c->name, c->err, c->errlen, what);
	return -1;
}

static int load_define_anchor(load_ctx *c, const char *name, size_t nlen, json_t *v, uint64_t size, uint64_t height)
{
	char *k = strndup(name, nlen);
	int rc = -1;

	if (!k)
		return -1;
	if (c->na == c->capa) {
		size_t cap = c->capa ? c->capa * 2 : 16;
		load_anchor *av = realloc(c->av, cap * sizeof *av);
		if (!av)
			goto cleanup;
		c->av = av;
		c->capa = cap;
	}
	/* a name defined again names the new node from here on */
	if (json_object_set_new(c->anchor_index, k, json_integer((json_int_t)c->na)) != 0)
		goto cleanup;
	c->av[c->na].v = json_incref(v);
	c->av[c->na].size = size;
	c->av[c->na].height = height;
	c->na++;
	rc = 0;
cleanup:
	free(k);
	return rc;
}

/* Copies the keys of src that dst lacks into dst, in order (a merge key). */
static int load_merge(load_frame *f, const json_t *src)
{
	const char *k;
	json_t *v;

	if (!f->merged && !(f->merged = json_object()))
		return -1;
	json_object_foreach((json_t *)src, k, v) {
		if (json_object_get(f->v, k))
			continue;
		if (json_object_set(f->v, k, v) != 0 || json_object_set_new(f->merged, k, json_true()) != 0)
			return -1;
	}
	return 0;
}

/* Puts a finished value (stolen) where it belongs: the root, an array's next
 * item, or the value of the key waiting in an object. */
static int load_put(load_ctx *c, json_t *v, uint64_t size, uint64_t height)
{
	load_frame *f = c->n ? &c->st[c->n - 1] : NULL;
	int rc = -1;

	if (!v)
		return -1;
	if (!f) {
		if (c->root) {
			json_decref(v);
			return 0;
		}
		c->root = v;
		return 0;
	}
	f->size += size;
	if (height + 1 > f->height)
		f->height = height + 1;
	if (json_is_array(f->v))
		return json_array_append_new(f->v, v);
	if (f->key_merge) {
		/* "<<: *a" or "<<: [*a, *b]": the keys of the mappings the key lacks;
		 * anything else stays an ordinary key "<<" */
		int all = json_is_object(v) || json_is_array(v);
		for (size_t i = 0; json_is_array(v) && i < json_array_size(v); i++)
			all = all && json_is_object(json_array_get(v, i));
		if (all && json_array_size(v) + json_is_object(v) > 0) {
			rc = 0;
			if (json_is_object(v))
				rc = load_merge(f, v);
			for (size_t i = 0; rc == 0 && i < json_array_size(v); i++)
				rc = load_merge(f, json_array_get(v, i));
			json_decref(v);
			goto done;
		}
	}
	rc = json_object_set_new(f->v, f->key, v);
done:
	free(f->key);
	f->key = NULL;
	f->key_merge = 0;
	return rc;
}

/* A scalar in key position of the object on top. */
static int load_key(load_ctx *c, struct fy_event *ev)
{
	load_frame *f = &c->st[c->n - 1];
	struct fy_token *vt = ev->scalar.value;
	const struct fy_mark *m = fy_event_start_mark(ev);
	size_t klen = 0;
	const char *ks = vt ? fy_token_get_text(vt, &klen) : NULL;

	if (!ks) {
		ks = "";
		klen = 0;
	}
	if (memchr(ks, '\0', klen))
		return load_fail(c, m, "mapping key contains a NUL character");
	f->key = strndup(ks, klen);
	if (!f->key)
		return -1;
	if (json_object_get(f->v, f->key)) {
		if (f->merged && json_object_get(f->merged, f->key)) {
			json_object_del(f->merged, f->key); /* an explicit key wins over a merged one */
		} else {
			char msg[256];
			snprintf(msg, sizeof msg, "duplicate key \"%.200s\"", f->key);
			return load_fail(c, m, msg);
		}
	}
	f->key_merge = klen == 2 && memcmp(ks, "<<", 2) == 0 && fy_token_scalar_style(vt) == FYSS_PLAIN;
	if (m)
		f->key_mark = *m;
	return 0;
}

static int load_expect_value(load_ctx *c, struct fy_event *ev)
{
	load_frame *f = c->n ? &c->st[c->n - 1] : NULL;

	if (f && json_is_object(f->v) && !f->key)
		return load_fail(c, fy_event_start_mark(ev), "mapping key is not a scalar");
	return 0;
}

static int load_open(load_ctx *c, struct fy_event *ev, int mapping)
{
	struct fy_token *at = fy_event_get_anchor_token(ev);
	load_frame *f;

	if (load_expect_value(c, ev) != 0)
		return -1;
	if (c->n > LOAD_MAX_DEPTH)
		return load_fail(c, fy_event_start_mark(ev), "document is nested more than " LOAD_MAX_DEPTH_TEXT " levels deep (oapigen's limit)");
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		load_frame *st = realloc(c->st, cap * sizeof *st);
		if (!st)
			return -1;
		c->st = st;
		c->cap = cap;
	}
	f = &c->st[c->n++];
	memset(f, 0, sizeof *f);
	f->v = mapping ? json_object() : json_array();
	f->size = 1;
	c->nodes++;
	c->expanded++;
	if (at) {
		size_t alen = 0;
		const char *a = fy_token_get_text(at, &alen);
		f->anchor = a ? strndup(a, alen) : NULL;
	}
	return f->v ? 0 : -1;
}

static int load_close(load_ctx *c)
{
	load_frame f = c->st[--c->n];
	int rc = 0;

	json_decref(f.merged);
	free(f.key);
	if (f.anchor)
		rc = load_define_anchor(c, f.anchor, strlen(f.anchor), f.v, f.size, f.height);
	free(f.anchor);
	if (rc != 0) {
		json_decref(f.v);
		return -1;
	}
	return load_put(c, f.v, f.size, f.height);
}

static int load_on_scalar(load_ctx *c, struct fy_event *ev)
{
	load_frame *f = c->n ? &c->st[c->n - 1] : NULL;
	struct fy_token *at = fy_event_get_anchor_token(ev);
	json_t *v;

	if (f && json_is_object(f->v) && !f->key)
		return load_key(c, ev);
	if (c->n > LOAD_MAX_DEPTH)
		return load_fail(c, fy_event_start_mark(ev), "document is nested more than " LOAD_MAX_DEPTH_TEXT " levels deep (oapigen's limit)");
	v = load_scalar(ev, c->name, c->err, c->errlen);
	if (!v)
		return -1;
	c->nodes++;
	c->expanded++;
	if (at) {
		size_t alen = 0;
		const char *a = fy_token_get_text(at, &alen);
		if (a && load_define_anchor(c, a, alen, v, 1, 0) != 0) {
			json_decref(v);
			return -1;
		}
	}
	return load_put(c, v, 1, 0);
}

static int load_on_alias(load_ctx *c, struct fy_event *ev)
{
	const struct fy_mark *m = fy_event_start_mark(ev);
	size_t alen = 0;
	const char *a = ev->alias.anchor ? fy_token_get_text(ev->alias.anchor, &alen) : NULL;
	char *name = a ? strndup(a, alen) : NULL;
	json_t *idx = name ? json_object_get(c->anchor_index, name) : NULL;
	load_anchor *an;
	char msg[256];

	if (load_expect_value(c, ev) != 0) {
		free(name);
		return -1;
	}
	if (!idx) {
		snprintf(msg, sizeof msg, "alias \"*%.200s\" names no anchor defined before it", name ? name : "");
		free(name);
		return load_fail(c, m, msg);
	}
	free(name);
	an = &c->av[json_integer_value(idx)];
	if (c->n + an->height > LOAD_MAX_DEPTH)
		return load_fail(c, m, "an alias nests the document more than " LOAD_MAX_DEPTH_TEXT " levels deep (oapigen's limit)");
	c->expanded += an->size;
	if (c->expanded > LOAD_MAX_EXPANSION(c->nodes))
		return load_fail(c, m, "aliases expand the document to too many nodes (a \"billion laughs\")");
	return load_put(c, json_incref(an->v), an->size, an->height);
}

static void load_parse_error(struct fy_diag *diag, const char *name, char *err, size_t errlen)
{
	void *it = NULL;
	struct fy_diag_error *e = diag ? fy_diag_errors_iterate(diag, &it) : NULL;

	if (e)
		snprintf(err, errlen, "%s:%d:%d: %s", name, e->line, e->column, e->msg);
	else
		snprintf(err, errlen, "%s: cannot read or parse the document", name);
}

/* Builds the first document of the stream fyp reads (new), or NULL with err set. */
static json_t *load_events(struct fy_parser *fyp, struct fy_diag *diag, const char *name, char *err, size_t errlen)
{
	load_ctx c = { .name = name, .err = err, .errlen = errlen };
	struct fy_event *ev;
	int done = 0, rc = 0, started = 0;
	json_t *doc = NULL;

	err[0] = '\0';
	c.anchor_index = json_object();
	if (!c.anchor_index)
		goto cleanup;
	while (!done && rc == 0 && (ev = fy_parser_parse(fyp)) != NULL) {
		switch (ev->type) {
		case FYET_DOCUMENT_START:
			started = 1;
			break;
		case FYET_DOCUMENT_END:
		case FYET_STREAM_END:
			done = 1;
			break;
		case FYET_MAPPING_START:
		case FYET_SEQUENCE_START:
			rc = load_open(&c, ev, ev->type == FYET_MAPPING_START);
			break;
		case FYET_MAPPING_END:
		case FYET_SEQUENCE_END:
			rc = c.n ? load_close(&c) : -1;
			break;
		case FYET_SCALAR:
			rc = load_on_scalar(&c, ev);
			break;
		case FYET_ALIAS:
			rc = load_on_alias(&c, ev);
			break;
		default:
			break;
		}
		fy_parser_event_free(fyp, ev);
	}
	if (rc != 0) {
		if (!err[0])
			snprintf(err, errlen, "%s: out of memory", name);
		goto cleanup;
	}
	if (!done || fy_parser_get_stream_error(fyp)) {
		load_parse_error(diag, name, err, errlen);
		goto cleanup;
	}
	if (!started || !c.root) {
		snprintf(err, errlen, "%s:1:1: the document is empty", name);
		goto cleanup;
	}
	doc = c.root;
	c.root = NULL;
cleanup:
	while (c.n) {
		load_frame *f = &c.st[--c.n];
		json_decref(f->v);
		json_decref(f->merged);
		free(f->key);
		free(f->anchor);
	}
	free(c.st);
	for (size_t i = 0; i < c.na; i++)
		json_decref(c.av[i].v);
	free(c.av);
	json_decref(c.anchor_index);
	json_decref(c.root);
	return doc;
}
static struct fy_diag *load_diag(void)
{
	struct fy_diag_cfg dcfg;

	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = NULL;
	dcfg.level = FYET_ERROR;
	struct fy_diag *diag = fy_diag_create(&dcfg);
	if (diag)
		fy_diag_set_collect_errors(diag, true);
	return diag;
}

/* libfyaml 0.7.12 rejects an empty entry of a block sequence ("-" alone on
 * its line) when the next line is a sibling rather than the entry's content
 * ("did not find expected node content"), though YAML reads it as null.
 * Returns a copy of text with such entries written "- ~" (new), or NULL when
 * there is none. Lines of block scalars (after a "|" or ">" indicator, more
 * indented than its line) are left alone. */
static char *load_patch_empty_entries(const char *text, size_t len, size_t *outlen)
{
	char *out = malloc(2 * len + 3), *o = out;
	size_t i = 0, changed = 0;
	long scalar_indent = -1; /* inside a block scalar: the indent of its line */

	if (!out)
		return NULL;
	while (i < len) {
		size_t eol = i, ind = 0, j, k;
		while (eol < len && text[eol] != '\n')
			eol++;
		while (i + ind < eol && text[i + ind] == ' ')
			ind++;
		j = i + ind; /* first non-space */
		k = eol;     /* end of content, without trailing blanks and \r */
		while (k > j && (text[k - 1] == ' ' || text[k - 1] == '\t' || text[k - 1] == '\r'))
			k--;
		if (scalar_indent >= 0 && (j == k || (long)ind > scalar_indent)) {
			memcpy(o, text + i, eol - i);
			o += eol - i;
		} else {
			int bare_dash = k == j + 1 && text[j] == '-';
			scalar_indent = -1;
			if (bare_dash) {
				/* the next line with content decides: more indented is the entry's content */
				size_t n = eol;
				while (n < len) {
					size_t ni = 0, ne;
					n++;
					while (n + ni < len && text[n + ni] == ' ')
						ni++;
					ne = n + ni;
					if (ne < len && text[ne] != '\n' && text[ne] != '\r' && text[ne] != '#') {
						bare_dash = ni <= ind;
						break;
					}
					while (n < len && text[n] != '\n')
						n++;
				}
			}
			memcpy(o, text + i, k - i);
			o += k - i;
			if (bare_dash) {
				memcpy(o, " ~", 2);
				o += 2;
				changed++;
			}
			memcpy(o, text + k, eol - k);
			o += eol - k;
			/* a block scalar starts: "key: |", "- >-", "|2+" ... (a comment may follow) */
			{
				size_t e = k, c = j;
				while (c < k && !(text[c] == '#' && (c == j || text[c - 1] == ' ')))
					c++;
				if (c < k)
					e = c;
				while (e > j && (text[e - 1] == ' ' || text[e - 1] == '\t'))
					e--;
				size_t b = e;
				while (b > j && strchr("+-0123456789", text[b - 1]))
					b--;
				if (b > j && (text[b - 1] == '|' || text[b - 1] == '>') &&
				    (b - 1 == j || text[b - 2] == ' '))
					scalar_indent = (long)ind;
			}
		}
		if (eol < len)
			*o++ = '\n';
		i = eol + 1;
	}
	if (!changed) {
		free(out);
		return NULL;
	}
	*outlen = (size_t)(o - out);
	return out;
}

static int load_is_json(const char *path)
{
	size_t n = strlen(path);

	return n >= 5 && strcasecmp(path + n - 5, ".json") == 0;
}

/* Parses the file at path, or text when it is not NULL, with flags. *syntax
 * is set when libfyaml refused the text (not when load_events did). */
static json_t *load_parse(unsigned flags, const char *name, const char *path, const char *text, size_t len,
                          int *syntax, char *err, size_t errlen)
{
	struct fy_diag *diag = load_diag();
	struct fy_parse_cfg cfg = { .flags = flags, .diag = diag };
	struct fy_parser *fyp = diag ? fy_parser_create(&cfg) : NULL;
	json_t *doc = NULL;

	*syntax = 0;
	if (!fyp) {
		snprintf(err, errlen, "%s: out of memory", name);
		goto cleanup;
	}
	if ((text ? fy_parser_set_string(fyp, text, len) : fy_parser_set_input_file(fyp, path)) != 0) {
		snprintf(err, errlen, "%s: cannot read or parse the document", name);
		*syntax = 1;
		goto cleanup;
	}
	doc = load_events(fyp, diag, name, err, errlen);
	if (!doc && fy_parser_get_stream_error(fyp))
		*syntax = 1;
cleanup:
	fy_parser_destroy(fyp);
	fy_diag_destroy(diag);
	return doc;
}

#define LOAD_FY_FLAGS (FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_DEFAULT_VERSION_1_2)

/* The deepest nesting below v (0 for a scalar); jansson's own parser stops
 * at 2048 levels, so the recursion is bounded. */
static size_t load_height(const json_t *v)
{
	size_t h = 0, c;
	const char *k;
	json_t *x;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, x)
			if ((c = load_height(x) + 1) > h)
				h = c;
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++)
			if ((c = load_height(json_array_get(v, i)) + 1) > h)
				h = c;
	}
	return h;
}

/* ---- JSON text straight into jansson ----
 * jansson's parser reads a byte at a time through a callback and copies
 * each byte into a token buffer: three quarters of the time oapigen --check
 * spent loading Stripe's 7 MB. This one scans the text in place and builds
 * the same values with the same jansson calls, and gives up (NULL) on
 * anything it is not sure jansson reads the same way (a number it would
 * refuse, a \u0000, a duplicate key, bad UTF-8, deep nesting, any syntax
 * error): jansson's parser then reads the text as before, so what is
 * accepted, and as what, does not change. */
typedef struct load_fast {
	const char *p, *end;
	char *scratch; /* a string with escapes, decoded */
	size_t cap;
	int depth;
} load_fast;

static json_t *load_fast_value(load_fast *f);

static void load_fast_ws(load_fast *f)
{
	while (f->p < f->end && (*f->p == ' ' || *f->p == '\n' || *f->p == '\r' || *f->p == '\t'))
		f->p++;
}

/* Whether a scalar may end here. */
static int load_fast_delim(const load_fast *f)
{
	return f->p == f->end || memchr(" \t\r\n,]}", *f->p, 7) != NULL;
}

/* The length of the UTF-8 sequence at p (1 to 4), 0 if jansson refuses it
 * (overlong, a surrogate, past U+10FFFF, cut short). */
static size_t load_fast_utf8(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0], cp;
	size_t n;

	if (c < 0x80)
		return 1;
	n = c < 0xc2 ? 0 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf5 ? 4 : 0;
	if (!n || (size_t)(end - p) < n)
		return 0;
	cp = c & (0x7fu >> n);
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static int load_fast_hex4(const char *p, const char *end, unsigned *v)
{
	*v = 0;
	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
		           : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16;
		if (d == 16)
			return -1;
		*v = *v << 4 | d;
	}
	return 0;
}

/* How many plain bytes (ASCII, neither a control byte, '"' nor '\\') q
 * starts with: sixteen at a time with SSE2, then eight at a time (most of a
 * document is such text), each test of a word the bytes' high bits ("has a
 * byte below 0x20", "has a '"'"...), its lowest set bit the first byte that
 * is not plain. */
static size_t load_fast_plain(const unsigned char *q, const unsigned char *end)
{
	const unsigned char *p = q;
#if defined(__SSE2__)
	/* sixteen at a time: a signed "below ' '" takes control bytes and high bits at once */
	const __m128i quotes = _mm_set1_epi8('"'), bslashes = _mm_set1_epi8('\\'), spaces = _mm_set1_epi8(' ');

	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		int stop = _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quotes), _mm_cmpeq_epi8(v, bslashes)),
		                                          _mm_cmplt_epi8(v, spaces)));
		if (stop)
			return (size_t)(p - q) + (size_t)__builtin_ctz((unsigned)stop);
		p += 16;
	}
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t ones = 0x0101010101010101u, high = ones * 0x80;

	while (end - p >= 8) {
		uint64_t v, quote, bslash, stop;
		memcpy(&v, p, 8);
		quote = v ^ ones * '"';
		bslash = v ^ ones * '\\';
		stop = (((v - ones * 0x20) & ~v) | ((quote - ones) & ~quote) | ((bslash - ones) & ~bslash) | v) & high;
		if (stop)
			return (size_t)(p - q) + (size_t)__builtin_ctzll(stop) / 8;
		p += 8;
	}
#endif
	while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
		p++;
	return (size_t)(p - q);
}

/* The string whose '"' is at f->p: *s, *n point into the text, or into
 * f->scratch when it has escapes (valid until the next string). */
static int load_fast_string(load_fast *f, const char **s, size_t *n)
{
	const unsigned char *q = (const unsigned char *)++f->p, *end = (const unsigned char *)f->end;
	size_t used;

	for (;;) {
		size_t k;
		q += load_fast_plain(q, end);
		if (q == end || *q == '"' || *q == '\\')
			break;
		k = *q < 0x20 ? 0 : load_fast_utf8(q, end);
		if (!k)
			return -1;
		q += k;
	}
	if (q == end)
		return -1;
	if (*q == '"') {
		*s = f->p;
		*n = (size_t)((const char *)q - f->p);
		f->p = (const char *)q + 1;
		return 0;
	}
	used = (size_t)((const char *)q - f->p);
	for (int first = 1;; first = 0) {
		if (used + 8 > f->cap) {
			size_t cap = (used + 8) * 2;
			char *v = realloc(f->scratch, cap);
			if (!v)
				return -1;
			f->scratch = v;
			f->cap = cap;
		}
		if (first)
			memcpy(f->scratch, f->p, used); /* the plain text before the first escape */
		if (q == end || *q < 0x20)
			return -1;
		if (*q == '"')
			break;
		if (*q != '\\') {
			size_t k = load_fast_utf8(q, end);
			if (!k)
				return -1;
			memcpy(f->scratch + used, q, k);
			used += k;
			q += k;
			continue;
		}
		if (++q == end)
			return -1;
		switch (*q) {
		case '"': case '\\': case '/':
			f->scratch[used++] = (char)*q++;
			break;
		case 'b': f->scratch[used++] = '\b'; q++; break;
		case 'f': f->scratch[used++] = '\f'; q++; break;
		case 'n': f->scratch[used++] = '\n'; q++; break;
		case 'r': f->scratch[used++] = '\r'; q++; break;
		case 't': f->scratch[used++] = '\t'; q++; break;
		case 'u': {
			unsigned cp, lo;
			if (load_fast_hex4((const char *)q + 1, f->end, &cp) != 0 || cp == 0 || (cp >= 0xdc00 && cp <= 0xdfff))
				return -1;
			q += 5;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (end - q < 6 || q[0] != '\\' || q[1] != 'u' || load_fast_hex4((const char *)q + 2, f->end, &lo) != 0 ||
				    lo < 0xdc00 || lo > 0xdfff)
					return -1;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				q += 6;
			}
			if (cp < 0x80) {
				f->scratch[used++] = (char)cp;
			} else if (cp < 0x800) {
				f->scratch[used++] = (char)(0xc0 | cp >> 6);
				f->scratch[used++] = (char)(0x80 | (cp & 0x3f));
			} else if (cp < 0x10000) {
				f->scratch[used++] = (char)(0xe0 | cp >> 12);
				f->scratch[used++] = (char)(0x80 | (cp >> 6 & 0x3f));
				f->scratch[used++] = (char)(0x80 | (cp & 0x3f));
			} else {
				f->scratch[used++] = (char)(0xf0 | cp >> 18);
				f->scratch[used++] = (char)(0x80 | (cp >> 12 & 0x3f));
				f->scratch[used++] = (char)(0x80 | (cp >> 6 & 0x3f));
				f->scratch[used++] = (char)(0x80 | (cp & 0x3f));
			}
			break;
		}
		default:
			return -1;
		}
	}
	*s = f->scratch;
	*n = used;
	f->p = (const char *)q + 1;
	return 0;
}

/* A number as jansson reads it: an integer (strtoll) unless it has a
 * fraction or an exponent, then a real (strtod); NULL where jansson
 * refuses it (out of range) or might read it otherwise. */
static json_t *load_fast_number(load_fast *f)
{
	const char *s = f->p, *q = s, *end = f->end;
	char buf[64];
	int real = 0;

#define LOAD_FAST_DIGITS() while (q < end && *q >= '0' && *q <= '9') q++
	if (q < end && *q == '-')
		q++;
	if (q < end && *q == '0')
		q++;
	else if (q < end && *q >= '1' && *q <= '9')
		LOAD_FAST_DIGITS();
	else
		return NULL;
	if (q < end && *q == '.') {
		real = 1;
		if (++q == end || *q < '0' || *q > '9')
			return NULL;
		LOAD_FAST_DIGITS();
	}
	if (q < end && (*q == 'e' || *q == 'E')) {
		real = 1;
		if (++q < end && (*q == '+' || *q == '-'))
			q++;
		if (q == end || *q < '0' || *q > '9')
			return NULL;
		LOAD_FAST_DIGITS();
	}
#undef LOAD_FAST_DIGITS
	f->p = q;
	if (!load_fast_delim(f) || (size_t)(q - s) >= sizeof buf)
		return NULL;
	memcpy(buf, s, (size_t)(q - s));
	buf[q - s] = '\0';
	errno = 0;
	if (!real) {
		json_int_t v = strtoll(buf, NULL, 10);
		return errno == ERANGE ? NULL : json_integer(v);
	} else {
		double d = strtod(buf, NULL);
		return (d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE ? NULL : json_real(d);
	}
}

static json_t *load_fast_word(load_fast *f, const char *word, json_t *v)
{
	size_t n = strlen(word);

	if ((size_t)(f->end - f->p) < n || memcmp(f->p, word, n) != 0)
		return NULL;
	f->p += n;
	return load_fast_delim(f) ? v : NULL;
}

static json_t *load_fast_container(load_fast *f, int object)
{
	json_t *c = object ? json_object() : json_array();

	if (!c || ++f->depth > LOAD_MAX_DEPTH)
		goto fail;
	f->p++;
	load_fast_ws(f);
	if (f->p < f->end && *f->p == (object ? '}' : ']')) {
		f->p++;
		f->depth--;
		return c;
	}
	for (;;) {
		json_t *v;
		if (object) {
			const char *k;
			char *copy = NULL;
			size_t kn, size;
			int bad;
			if (f->p == f->end || *f->p != '"' || load_fast_string(f, &k, &kn) != 0)
				goto fail;
			if (k == f->scratch && !(k = copy = strndup(k, kn))) /* the value's strings reuse scratch */
				goto fail;
			load_fast_ws(f);
			if (f->p == f->end || *f->p != ':') {
				free(copy);
				goto fail;
			}
			f->p++;
			load_fast_ws(f);
			v = load_fast_value(f);
			size = json_object_size(c);
			/* v taken either way; a duplicate key (the set replaced a
			 * value: the size stayed) is refused by jansson */
			bad = !v || json_object_setn_new_nocheck(c, k, kn, v) != 0 || json_object_size(c) == size;
			free(copy);
			if (bad)
				goto fail;
		} else {
			if (!(v = load_fast_value(f)) || json_array_append_new(c, v) != 0)
				goto fail;
		}
		load_fast_ws(f);
		if (f->p < f->end && *f->p == ',') {
			f->p++;
			load_fast_ws(f);
			continue;
		}
		if (f->p < f->end && *f->p == (object ? '}' : ']')) {
			f->p++;
			break;
		}
		goto fail;
	}
	f->depth--;
	return c;
fail:
	json_decref(c);
	return NULL;
}

static json_t *load_fast_value(load_fast *f)
{
	const char *s;
	size_t n;

	if (f->p == f->end)
		return NULL;
	switch (*f->p) {
	case '{':
		return load_fast_container(f, 1);
	case '[':
		return load_fast_container(f, 0);
	case '"':
		return load_fast_string(f, &s, &n) == 0 ? json_stringn_nocheck(s, n) : NULL;
	case 't':
		return load_fast_word(f, "true", json_true());
	case 'f':
		return load_fast_word(f, "false", json_false());
	case 'n':
		return load_fast_word(f, "null", json_null());
	default:
		return load_fast_number(f);
	}
}

json_t *load_fast_parse(const char *text, size_t len)
{
	load_fast f = { .p = text, .end = text + len };
	json_t *doc = NULL;

	load_fast_ws(&f);
	if (f.p < f.end && (*f.p == '{' || *f.p == '['))
		doc = load_fast_value(&f);
	load_fast_ws(&f);
	if (doc && f.p != f.end) {
		json_decref(doc);
		doc = NULL;
	}
	free(f.scratch);
	return doc;
}

/* A .json file (open as f) through jansson's own parser (new), NULL if it refuses it.
 * libfyaml reads JSON as one YAML flow collection and keeps every token of
 * an open flow collection until it closes: 35 times the file's size in
 * memory. jansson keeps key order, and what it accepts libfyaml reads the
 * same way (a JSON number without '.' or exponent is an integer, with one
 * a real); whatever it refuses (a duplicate key, an integer too big for
 * json_int_t, a NUL, bad UTF-8, ...) goes to libfyaml, whose errors and
 * conversions are this file's. */
static json_t *load_json(FILE *f)
{
	json_error_t e;
	json_t *doc = NULL, *deep = NULL; /* deep: what json_loadb read, its height unchecked */
	char *text = NULL;
	long len;

	/* the whole text (json_loadf reads a getc at a time), then
	 * load_fast_parse, and json_loadb where that gives up */
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (text = malloc((size_t)len + 1)) != NULL && fread(text, 1, (size_t)len, f) == (size_t)len &&
	    !(doc = load_fast_parse(text, (size_t)len)))
		doc = deep = json_loadb(text, (size_t)len, JSON_REJECT_DUPLICATES, &e);
	free(text);
	/* load_fast_parse refuses nesting past LOAD_MAX_DEPTH itself */
	if (deep && load_height(deep) > LOAD_MAX_DEPTH) {
		json_decref(doc);
		doc = NULL;
	}
	if (!doc)
		rewind(f); /* libfyaml reads it next */
	return doc;
}

json_t *load_document(const char *path, char *err, size_t errlen)
{
	char *text = NULL, *patched = NULL;
	size_t len = 0, plen = 0;
	int syntax = 0, syntax2;
	json_t *doc = NULL;
	FILE *f = fopen(path, "rb");

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (load_is_json(path) && (doc = load_json(f)) != NULL) {
		fclose(f);
		return doc;
	}
	doc = load_parse(LOAD_FY_FLAGS | FYPCF_JSON_AUTO, path, path, NULL, 0, &syntax, err, errlen);
	if (!doc && syntax && !load_is_json(path)) {
		/* once more with empty sequence entries spelled out (see
		 * load_patch_empty_entries); the first error stands if that fails too */
		FILE *mem = open_memstream(&text, &len);
		char buf[65536], err2[1];
		size_t r;
		while (mem && (r = fread(buf, 1, sizeof buf, f)) > 0)
			fwrite(buf, 1, r, mem);
		if (mem && fclose(mem) == 0 && !ferror(f))
			patched = load_patch_empty_entries(text, len, &plen);
		if (patched)
			doc = load_parse(LOAD_FY_FLAGS, path, NULL, patched, plen, &syntax2, err2, sizeof err2);
	}
	fclose(f);
	free(patched);
	free(text);
	return doc;
}

json_t *load_document_string(const char *name, const char *text, size_t len,
                             char *err, size_t errlen)
{
	int syntax;

	return load_parse(LOAD_FY_FLAGS, name, NULL, text, len, &syntax, err, errlen);
}
