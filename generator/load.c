/* load.c — YAML 1.2 / JSON documents into jansson through libfyaml. */
#include "load.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libfyaml.h>

/* Deeper documents are refused rather than risking the stack. */
#define LOAD_MAX_DEPTH 1000

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

static void load_where(struct fy_node *n, const char *name, char *err, size_t errlen, const char *what)
{
	struct fy_token *t = fy_node_get_type(n) == FYNT_SCALAR ? fy_node_get_scalar_token(n) : NULL;
	const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;

	if (m) {
		snprintf(err, errlen, "%s:%d:%d: %s", name, m->line + 1, m->column + 1, what);
	} else {
		char *path = fy_node_get_path(n);
		snprintf(err, errlen, "%s: at %s: %s", name, path ? path : "/", what);
		free(path);
	}
}

static json_t *load_node(struct fy_node *n, const char *name, int depth, char *err, size_t errlen);

static json_t *load_scalar(struct fy_node *n, const char *name, char *err, size_t errlen)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
	static const char *const trues[] = { "true", "True", "TRUE", NULL };
	static const char *const falses[] = { "false", "False", "FALSE", NULL };
	size_t len = 0;
	const char *s = fy_node_get_scalar(n, &len);
	size_t taglen = 0;
	const char *tag = fy_node_get_tag(n, &taglen);
	enum fy_node_style style = fy_node_get_style(n);
	json_int_t iv;
	double dv;
	int r;

	if (!s)
		s = "";
	if (tag && taglen && !(taglen == 1 && tag[0] == '!')) {
		if (taglen >= 3 && memcmp(tag + taglen - 3, "str", 3) == 0)
			return json_stringn(s, len);
		/* other explicit tags fall through to plain resolution */
	} else if (style != FYNS_PLAIN) {
		json_t *str = json_stringn(s, len);
		if (!str)
			load_where(n, name, err, errlen, "string is not valid UTF-8");
		return str;
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
			load_where(n, name, err, errlen, "number cannot be represented in JSON (infinite, NaN or out of range)");
			return NULL;
		}
	}
	json_t *str = json_stringn(s, len);
	if (!str)
		load_where(n, name, err, errlen, "string is not valid UTF-8");
	return str;
}

static json_t *load_node(struct fy_node *n, const char *name, int depth, char *err, size_t errlen)
{
	json_t *out = NULL;
	void *it = NULL;

	if (!n)
		return json_null();
	if (depth > LOAD_MAX_DEPTH) {
		load_where(n, name, err, errlen, "document is nested too deeply");
		return NULL;
	}
	switch (fy_node_get_type(n)) {
	case FYNT_SCALAR:
		return load_scalar(n, name, err, errlen);
	case FYNT_SEQUENCE: {
		struct fy_node *item;
		out = json_array();
		while ((item = fy_node_sequence_iterate(n, &it)) != NULL) {
			json_t *v = load_node(item, name, depth + 1, err, errlen);
			if (!v || json_array_append_new(out, v) != 0)
				goto fail;
		}
		return out;
	}
	case FYNT_MAPPING: {
		struct fy_node_pair *p;
		out = json_object();
		while ((p = fy_node_mapping_iterate(n, &it)) != NULL) {
			struct fy_node *k = fy_node_pair_key(p);
			size_t klen = 0;
			const char *ks;
			char *key;
			json_t *v;

			if (!k || fy_node_get_type(k) != FYNT_SCALAR) {
				load_where(k ? k : n, name, err, errlen, "mapping key is not a scalar");
				goto fail;
			}
			ks = fy_node_get_scalar(k, &klen);
			if (!ks)
				ks = "";
			if (memchr(ks, '\0', klen)) {
				load_where(k, name, err, errlen, "mapping key contains a NUL character");
				goto fail;
			}
			key = strndup(ks, klen);
			if (!key)
				goto fail;
			if (json_object_get(out, key)) {
				char msg[256];
				snprintf(msg, sizeof msg, "duplicate key \"%.200s\"", key);
				load_where(k, name, err, errlen, msg);
				free(key);
				goto fail;
			}
			v = load_node(fy_node_pair_value(p), name, depth + 1, err, errlen);
			if (!v || json_object_set_new(out, key, v) != 0) {
				free(key);
				goto fail;
			}
			free(key);
		}
		return out;
	}
	}
	load_where(n, name, err, errlen, "unknown YAML node type");
fail:
	json_decref(out);
	return NULL;
}

static json_t *load_finish(struct fy_document *fyd, struct fy_diag *diag, const char *name,
                           char *err, size_t errlen)
{
	json_t *doc = NULL;

	if (!fyd) {
		void *it = NULL;
		struct fy_diag_error *e = diag ? fy_diag_errors_iterate(diag, &it) : NULL;
		if (e)
			snprintf(err, errlen, "%s:%d:%d: %s", name, e->line, e->column, e->msg);
		else
			snprintf(err, errlen, "%s: cannot read or parse the document", name);
		return NULL;
	}
	if (fy_document_resolve(fyd) != 0) {
		snprintf(err, errlen, "%s: cannot resolve anchors and aliases", name);
		return NULL;
	}
	if (!fy_document_root(fyd)) {
		snprintf(err, errlen, "%s:1:1: the document is empty", name);
		return NULL;
	}
	doc = load_node(fy_document_root(fyd), name, 0, err, errlen);
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

json_t *load_document(const char *path, char *err, size_t errlen)
{
	struct fy_diag *diag = load_diag();
	char *text_kept = NULL; /* the text of a document built from a string lives as long as it */
	struct fy_parse_cfg cfg = {
		.flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_DEFAULT_VERSION_1_2 | FYPCF_JSON_AUTO,
		.diag = diag,
	};
	struct fy_document *fyd;
	json_t *doc;

	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		fy_diag_destroy(diag);
		return NULL;
	}
	fyd = fy_document_build_from_file(&cfg, path);
	if (!fyd && !load_is_json(path)) {
		/* once more with empty sequence entries spelled out (see
		 * load_patch_empty_entries); the first error stands if that fails too */
		char *text = NULL, *patched = NULL;
		size_t len = 0, plen = 0;
		FILE *mem = open_memstream(&text, &len);
		char buf[65536];
		size_t r;
		rewind(f);
		while (mem && (r = fread(buf, 1, sizeof buf, f)) > 0)
			fwrite(buf, 1, r, mem);
		if (mem && fclose(mem) == 0 && !ferror(f))
			patched = load_patch_empty_entries(text, len, &plen);
		if (patched) {
			struct fy_diag *diag2 = load_diag();
			struct fy_parse_cfg cfg2 = cfg;
			struct fy_document *fyd2;
			cfg2.flags &= ~(unsigned)FYPCF_JSON_AUTO;
			cfg2.diag = diag2;
			fyd2 = fy_document_build_from_string(&cfg2, patched, plen);
			if (fyd2) {
				fyd = fyd2;
				fy_diag_destroy(diag);
				diag = diag2;
				text_kept = patched;
				patched = NULL;
			} else {
				fy_diag_destroy(diag2);
			}
		}
		free(patched);
		free(text);
	}
	fclose(f);
	doc = load_finish(fyd, diag, path, err, errlen);
	fy_document_destroy(fyd);
	fy_diag_destroy(diag);
	free(text_kept);
	return doc;
}

json_t *load_document_string(const char *name, const char *text, size_t len,
                             char *err, size_t errlen)
{
	struct fy_diag *diag = load_diag();
	struct fy_parse_cfg cfg = {
		.flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_DEFAULT_VERSION_1_2,
		.diag = diag,
	};
	struct fy_document *fyd = fy_document_build_from_string(&cfg, text, len);
	json_t *doc = load_finish(fyd, diag, name, err, errlen);

	fy_document_destroy(fyd);
	fy_diag_destroy(diag);
	return doc;
}
