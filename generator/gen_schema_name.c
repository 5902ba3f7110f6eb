/* gen_schema_name.c — C names of schemas, from where they sit.
 *
 * A named component is its name (#/components/schemas/Key -> Key, and
 * #/$defs/X, #/definitions/X); a schema inside one is that name followed
 * by the way down to it (Key_tags_items, CreateKey_name, Pet_allOf0); a
 * schema the caller named (gen_schema_compile_named: a request body
 * "createKey_body") likewise; anything else is named from its document
 * and pointer. Adding a schema never renames another one: a name that is
 * taken gets the document's name, then _2, _3... */
#include "gen_schema_int.h"
#include "gen_text.h"

#include <stdlib.h>
#include <string.h>

const char *gen_schema_component_name(const char *uri)
{
	static const char *const bases[] = { "#/components/schemas/", "#/$defs/", "#/definitions/" };
	const char *hash = strchr(uri, '#');

	if (!hash)
		return NULL;
	for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
		size_t bl = strlen(bases[i]);
		if (strncmp(hash, bases[i], bl) == 0 && hash[bl] && !strchr(hash + bl, '/'))
			return hash + bl;
	}
	return NULL;
}

/* One JSON pointer token s[0..len), unescaped (~1 ~0, %XX), into out
 * (room for len + 1). */
static void gsn_token(char *out, const char *s, size_t len)
{
	char *o = out;

	if (!memchr(s, '~', len) && !memchr(s, '%', len)) {
		memcpy(out, s, len);
		out[len] = '\0';
		return;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '~' && i + 1 < len && (s[i + 1] == '0' || s[i + 1] == '1')) {
			*o++ = s[++i] == '1' ? '/' : '~';
		} else if (s[i] == '%' && i + 2 < len && strchr("0123456789abcdefABCDEF", s[i + 1]) &&
		           strchr("0123456789abcdefABCDEF", s[i + 2])) {
			char hex[3] = { s[i + 1], s[i + 2], 0 };
			*o++ = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
}

/* What a keyword of the way down contributes to a name. */
static const struct { const char *kw, *piece; int takes_name; } gsn_keywords[] = {
	{ "properties", NULL, 1 }, { "patternProperties", "pattern", 1 }, { "dependentSchemas", "dep", 1 },
	{ "dependencies", "dep", 1 }, { "$defs", NULL, 1 }, { "definitions", NULL, 1 }, { "items", "items", 0 }, { "prefixItems", "item", 0 },
	{ "additionalItems", "more_items", 0 }, { "additionalProperties", "value", 0 },
	{ "propertyNames", "key", 0 }, { "unevaluatedItems", "unevaluated_items", 0 },
	{ "unevaluatedProperties", "unevaluated", 0 }, { "contains", "contains", 0 }, { "not", "not", 0 },
	{ "if", "if", 0 }, { "then", "then", 0 }, { "else", "else", 0 }, { "allOf", "allOf", 0 },
	{ "anyOf", "anyOf", 0 }, { "oneOf", "oneOf", 0 }, { "requestBody", "body", 0 },
	{ "content", NULL, 1 /* the media type: left out */ }, { "schema", NULL, 0 }, { "paths", NULL, 0 },
	{ "responses", NULL, 0 }, { "parameters", "param", 0 }, { "components", NULL, 0 },
};

static int gsn_digits(const char *t)
{
	size_t n = strspn(t, "0123456789");

	return n && !t[n];
}

/* A name being built: one buffer, the caller's at first (own 0) and new
 * once it has to grow (own 1: free() it); bad once out of memory. */
typedef struct gsn_buf {
	char *s;
	size_t len, cap;
	int own, bad;
} gsn_buf;

static void gsn_put(gsn_buf *b, const char *s, size_t n)
{
	if (b->bad)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *v = b->own ? realloc(b->s, cap) : malloc(cap);
		if (!v) {
			b->bad = 1;
			return;
		}
		if (!b->own)
			memcpy(v, b->s, b->len);
		b->s = v;
		b->cap = cap;
		b->own = 1;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* Appends "_" and piece, without a '_' of its own in front. */
static void gsn_piece(gsn_buf *b, const char *piece, size_t n)
{
	if (piece[0] == '_')
		piece++, n--;
	gsn_put(b, "_", 1);
	gsn_put(b, piece, n);
}

/* Appends the names of toks[from..n) to b; scratch has room for the C
 * identifier of any of them. Returns whether the last token is a keyword
 * that names what follows (properties, ...) and had nothing after it: the
 * way down to a schema below would read that token otherwise. */
static int gsn_way(gsn_buf *b, char **toks, size_t from, size_t n, char *scratch)
{
	int open = 0;

	for (size_t i = from; i < n; i++) {
		size_t k = 0, nk = sizeof gsn_keywords / sizeof gsn_keywords[0];
		const char *piece = NULL;
		size_t plen = 0;
		while (k < nk && (gsn_keywords[k].kw[0] != toks[i][0] || strcmp(gsn_keywords[k].kw, toks[i]) != 0))
			k++;
		open = 0;
		if (k < nk) {
			piece = gsn_keywords[k].piece;
			plen = piece ? strlen(piece) : 0;
			open = gsn_keywords[k].takes_name;
			if (gsn_keywords[k].takes_name && i + 1 < n) {
				i++;
				open = 0;
				if (strcmp(toks[i - 1], "content") == 0) {
					piece = NULL;
				} else {
					if (piece)
						gsn_piece(b, piece, plen);
					plen = gen_text_ident_to(scratch, toks[i]);
					piece = scratch;
				}
			}
		} else if (gsn_digits(toks[i])) {
			gsn_put(b, toks[i], strlen(toks[i])); /* an index goes right after its keyword: allOf0 */
			continue;
		} else {
			plen = gen_text_ident_to(scratch, toks[i]);
			piece = scratch;
		}
		if (piece && *piece)
			gsn_piece(b, piece, plen);
	}
	return open;
}

/* The stem of a document URI: ".../heron.yaml" -> "heron" (new). */
static char *gsn_stem(const char *uri)
{
	size_t end = strcspn(uri, "#"), start = end, dot;
	char *s, *id;

	while (start && uri[start - 1] != '/' && uri[start - 1] != ':')
		start--;
	s = strndup(uri + start, end - start);
	if (!s)
		return NULL;
	dot = strcspn(s, ".");
	s[dot ? dot : strlen(s)] = '\0';
	id = gen_text_ident(*s ? s : "root");
	free(s);
	return id;
}

/* The hint given for the way down uri[0..cut), or NULL. */
static const char *gsn_hint(gen_schema *g, const char *uri, size_t cut)
{
	/* most prefixes are no hint: no hash of them */
	unsigned bit = gen_schema_hint_bit(uri, cut);

	return g->hint_filter[bit / 8] >> (bit % 8) & 1 ? gen_strtab_get_h(&g->hints, uri, cut, gen_strtab_hash(uri, cut)) : NULL;
}

/* Whether the way down to toks[j] (uri[0..cut)) makes a named place: a
 * hint, or a component; its name into scratch, else NULL. */
static const char *gsn_place(gen_schema *g, const char *uri, size_t cut, char **toks, size_t j, char *scratch)
{
	const char *hint = gsn_hint(g, uri, cut);

	if (hint)
		return hint;
	if ((j == 2 && (strcmp(toks[0], "$defs") == 0 || strcmp(toks[0], "definitions") == 0)) ||
	    (j == 3 && strcmp(toks[0], "components") == 0 && strcmp(toks[1], "schemas") == 0)) {
		gen_text_ident_to(scratch, toks[j - 1]);
		return scratch;
	}
	return NULL;
}

/* The tokens of a pointer, unescaped, in one block with their cuts and the
 * room for an identifier: uri[0..cuts[i]) is the way down to toks[i - 1].
 * The block is local when it fits there (most pointers), else new. */
typedef struct gsn_toks {
	void *block;
	union {
		max_align_t align;
		char bytes[1024];
	} local;
	char **toks;
	size_t *cuts;
	size_t n;
	char *scratch;
} gsn_toks;

/* The tokens of uri from uri[from] (a '/' or the end) on; -1 out of memory.
 * gsn_split_free after. */
static int gsn_split(gsn_toks *t, const char *uri, size_t from)
{
	const char *rest = uri + from;
	size_t rlen = strlen(rest), maxtok = 1, need;
	char *dec;

	for (const char *p = strchr(rest, '/'); p; p = strchr(p + 1, '/'))
		maxtok++;
	need = maxtok * sizeof *t->toks + (maxtok + 1) * sizeof *t->cuts + (rlen + maxtok) + (4 * rlen + 2);
	t->block = need <= sizeof t->local ? (void *)t->local.bytes : malloc(need);
	if (!t->block)
		return -1;
	t->toks = t->block;
	t->cuts = (size_t *)(t->toks + maxtok);
	dec = (char *)(t->cuts + maxtok + 1);
	t->scratch = dec + rlen + maxtok;
	t->n = 0;
	t->cuts[0] = from;
	for (const char *p = rest; *p == '/';) {
		size_t len = strcspn(p + 1, "/");
		t->toks[t->n] = dec;
		gsn_token(dec, p + 1, len);
		dec += strlen(dec) + 1;
		p += 1 + len;
		t->cuts[++t->n] = (size_t)(p - uri);
	}
	return 0;
}

static void gsn_split_free(gsn_toks *t)
{
	if (t->block != (void *)t->local.bytes)
		free(t->block);
}

/* b (empty) = place, then the way down from toks[from]; the name's memo
 * into s. 0, or -1 out of memory. */
static int gsn_finish(gsn_buf *b, const char *place, size_t plen, gsn_toks *t, size_t from, si_schema *s)
{
	int open;

	gsn_put(b, "", 0);
	gsn_put(b, place, plen);
	open = gsn_way(b, t->toks, from, t->n, t->scratch);
	if (b->bad)
		return -1;
	if (s) {
		s->name_base = b->len;
		s->name_open = open;
	}
	return 0;
}

/* b (empty) = the name of the schema at uri, before uniqueness; with s,
 * what naming the schemas below it from it needs goes there. 0, or -1 out
 * of memory. */
static int gsn_base(gen_schema *g, const char *uri, si_schema *s, gsn_buf *b)
{
	const char *hash = strchr(uri, '#'), *place = NULL;
	size_t j;
	char *stem = NULL;
	gsn_toks t;
	int rc;

	if (gsn_split(&t, uri, hash ? (size_t)(hash - uri) + 1 : strlen(uri)) != 0)
		return -1;
	for (j = t.n + 1; j-- > 0 && !place;)
		place = gsn_place(g, uri, t.cuts[j], t.toks, j, t.scratch);
	j++;
	if (!place) {
		place = stem = gsn_stem(uri);
		j = 0;
	}
	rc = place ? gsn_finish(b, place, strlen(place), &t, j, s) : -1;
	if (rc == 0 && s)
		s->name_ntok = t.n;
	gsn_split_free(&t);
	free(stem);
	return rc;
}

/* The same for a schema below parent (its uri runs on from the parent's),
 * from the parent's name: the way down from the parent, when no hint is
 * met on it. 1 when named so; 0 to name it from scratch; -1 out of
 * memory. A component is three tokens down at most
 * (#/components/schemas/X): below a parent as deep, none is met. */
static int gsn_base_below(gen_schema *g, const char *uri, const si_schema *parent, si_schema *s, gsn_buf *b)
{
	size_t plen = strlen(parent->uri);
	gsn_toks t;
	int rc = 0;

	if (parent->name_ntok < 3 || parent->name_open || parent->name_hints != g->nhints ||
	    strncmp(uri, parent->uri, plen) != 0 || uri[plen] != '/' || gsn_split(&t, uri, plen) != 0)
		return 0;
	for (size_t j = 1; j <= t.n; j++)
		if (gsn_hint(g, uri, t.cuts[j]))
			goto cleanup;
	rc = gsn_finish(b, parent->model_name, parent->name_base, &t, 0, s) == 0 ? 1 : -1;
	if (rc == 1)
		s->name_ntok = parent->name_ntok + (unsigned)t.n;
cleanup:
	gsn_split_free(&t);
	return rc;
}

static int gsn_same_document(const char *a, const char *b)
{
	size_t la = strcspn(a, "#"), lb = strcspn(b, "#");

	return la == lb && strncmp(a, b, la) == 0;
}

/* *out = "<prefix><kind><base>[_<stem>|_<k>]", the first one free (in
 * g->mem), and *model (when asked) its tail after <prefix><kind>; the stem
 * only made when the base alone is taken. Then registered in g->names,
 * holder the uri it names (borrowed). */
static int gsn_unique(gen_schema *g, const char *uri, const char *kind, const char *base, int component,
                      const char *holder_uri, char **out, char **model, char *err, size_t errlen)
{
	size_t pl = strlen(g->prefix), kl = strlen(kind), pk = pl + kl, bl = strlen(base), cap = pk + bl + 24;
	char local[256], *sym = cap <= sizeof local ? local : malloc(cap), *stem = NULL;

	*out = NULL;
	if (!sym)
		return -1;
	memcpy(sym, g->prefix, pl);
	memcpy(sym + pl, kind, kl);
	memcpy(sym + pk, base, bl + 1);
	for (unsigned k = 1;; k++) {
		const char *holder;
		size_t sl;
		uint64_t h;
		if (k == 2) {
			if (!(stem = gsn_stem(uri)))
				break;
			sl = strlen(stem);
			if (pk + bl + sl + 24 > cap) {
				char *v = malloc(cap = pk + bl + sl + 24);
				if (!v)
					break;
				memcpy(v, sym, pk + bl);
				if (sym != local)
					free(sym);
				sym = v;
			}
			sym[pk + bl] = '_';
			memcpy(sym + pk + bl + 1, stem, sl + 1);
		} else if (k > 2) {
			snprintf(sym + pk + bl, 24, "_%u", k - 1);
		}
		sl = strlen(sym);
		h = gen_strtab_hash(sym, sl);
		holder = gen_strtab_get_h(&g->names, sym, sl, h);
		if (k == 1 && holder && component && gen_schema_component_name(holder) && gsn_same_document(holder, uri)) {
			const char *hash = strchr(uri, '#');
			snprintf(err, errlen, "%s: %s: schema name collides with %s (both become the C name %s)",
			         docset_display(g->ds, uri), hash && hash[1] ? hash + 1 : "/", holder, sym);
			break;
		}
		if (!holder) {
			*out = gen_arena_strndup(g->mem, sym, sl);
			if (*out && gen_strtab_put_h(&g->names, *out, sl, h, (void *)holder_uri) != 0)
				*out = NULL;
			if (model && *out)
				*model = *out + pk;
			break;
		}
	}
	if (sym != local)
		free(sym);
	free(stem);
	return *out ? 0 : -1;
}

int gen_schema_name_schema(gen_schema *g, si_schema *s, const si_schema *parent, char *err, size_t errlen)
{
	char local[256];
	gsn_buf b = { .s = local, .cap = sizeof local };
	int below = parent ? gsn_base_below(g, s->uri, parent, s, &b) : 0, rc = -1;

	/* named from its parent, it is no component (see gsn_base_below) */
	if (below == 1 || (below == 0 && gsn_base(g, s->uri, s, &b) == 0))
		rc = gsn_unique(g, s->uri, "_schema_", b.s, below == 0 && gen_schema_component_name(s->uri) != NULL,
		                s->uri, &s->symbol, &s->model_name, err, errlen);
	s->name_hints = g->nhints;
	if (b.own)
		free(b.s);
	return rc;
}

int gen_schema_name_resource(gen_schema *g, const char *uri, char **symbol, char *err, size_t errlen)
{
	char local[256];
	gsn_buf b = { .s = local, .cap = sizeof local };
	char *holder = gen_arena_strdup(g->mem, uri);
	int rc = holder && gsn_base(g, uri, NULL, &b) == 0 ?
	         gsn_unique(g, uri, "_resource_", b.s, 0, holder, symbol, NULL, err, errlen) : -1;

	if (b.own)
		free(b.s);
	return rc;
}
