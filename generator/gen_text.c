/* gen_text.c — C string literals and identifiers. */
#include "gen_text.h"

#include <stdlib.h>
#include <string.h>

/* The escape of byte c written at o (at most 4 bytes); returns its length. */
static size_t gen_text_escape(char *o, unsigned char c)
{
	switch (c) {
	case '"': o[0] = '\\'; o[1] = '"'; return 2;
	case '\\': o[0] = '\\'; o[1] = '\\'; return 2;
	case '\n': o[0] = '\\'; o[1] = 'n'; return 2;
	case '\t': o[0] = '\\'; o[1] = 't'; return 2;
	case '?': o[0] = '\\'; o[1] = '?'; return 2;
	default:
		if (c < 0x20 || c >= 0x7f) {
			o[0] = '\\';
			o[1] = (char)('0' + (c >> 6));
			o[2] = (char)('0' + ((c >> 3) & 7));
			o[3] = (char)('0' + (c & 7));
			return 4;
		}
		o[0] = (char)c;
		return 1;
	}
}

/* The literal is built in a local buffer and written in blocks: a stdio call
 * a byte made the 130 MB spec file of Microsoft Graph beta cost seconds. */
void gen_text_cstring(FILE *out, const char *s, size_t len, size_t width, int indent)
{
	char buf[8192];
	size_t col = 0, n = 0;

	buf[n++] = '"';
	for (size_t i = 0; i < len; i++) {
		if (n > sizeof buf - 8) {
			fwrite(buf, 1, n, out);
			n = 0;
		}
		if (width && col >= width) {
			buf[n++] = '"';
			buf[n++] = '\n';
			for (int k = 0; k < indent; k++) {
				if (n > sizeof buf - 8) {
					fwrite(buf, 1, n, out);
					n = 0;
				}
				buf[n++] = '\t';
			}
			buf[n++] = '"';
			col = 0;
		}
		n += gen_text_escape(buf + n, (unsigned char)s[i]);
		col++;
		/* break after a newline in the text, so generated YAML reads as YAML */
		if (width && s[i] == '\n' && i + 1 < len)
			col = width;
	}
	buf[n++] = '"';
	fwrite(buf, 1, n, out);
}

void gen_text_cstr(FILE *out, const char *s)
{
	gen_text_cstring(out, s, strlen(s), 0, 0);
}

size_t gen_text_ident_to(char *out, const char *s)
{
	char *o = out;

	if (!*s || (s[0] >= '0' && s[0] <= '9'))
		*o++ = '_';
	while (*s) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0xc0) {
			/* a UTF-8 sequence (jansson checked it): its code point, as
			 * in a C \u escape, so distinct names stay distinct */
			int more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
			unsigned long cp = c & (0x3fu >> more);
			s++;
			for (int k = 0; k < more && ((unsigned char)*s & 0xc0) == 0x80; k++, s++)
				cp = cp << 6 | ((unsigned char)*s & 0x3f);
			o += sprintf(o, "%su%04lx", o > out && o[-1] != '_' ? "_" : "", cp);
			continue;
		}
		*o++ = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') ? (char)c : '_';
		s++;
	}
	*o = '\0';
	return (size_t)(o - out);
}

char *gen_text_ident(const char *s)
{
	char *out = malloc(4 * strlen(s) + 2);

	if (out)
		gen_text_ident_to(out, s);
	return out;
}

char *gen_text_concat(const char *a, const char *b, const char *c)
{
	size_t al = strlen(a), bl = strlen(b), cl = strlen(c);
	char *out = malloc(al + bl + cl + 1);

	if (out) {
		memcpy(out, a, al);
		memcpy(out + al, b, bl);
		memcpy(out + al + bl, c, cl + 1);
	}
	return out;
}

void gen_text_comment(FILE *out, const char *s)
{
	char prev = 0;

	for (; s && *s; prev = *s++) {
		char c = *s == '\n' || *s == '\r' ? ' ' : *s;
		fputc(c, out);
		/* never end the comment, open a nested one (-Wcomment), or end
		 * a line with a ??/ trigraph (a line splice under -std=c11) */
		if ((c == '*' && s[1] == '/') || (c == '/' && s[1] == '*') || (c == '?' && prev == '?' && s[1] == '/'))
			fputc(' ', out);
	}
}

typedef struct gen_text_sink {
	char **buf;
	size_t *len;
	size_t cap;
	char io[256]; /* stdio's buffer in front of the sink */
} gen_text_sink;

static ssize_t gen_text_sink_write(void *cookie, const char *data, size_t n)
{
	gen_text_sink *s = cookie;
	size_t need = *s->len + n + 1;

	if (need > s->cap) {
		size_t cap = s->cap;
		char *b;
		while (cap < need)
			cap *= 2;
		b = realloc(*s->buf, cap);
		if (!b)
			return 0;
		*s->buf = b;
		s->cap = cap;
	}
	memcpy(*s->buf + *s->len, data, n);
	*s->len += n;
	(*s->buf)[*s->len] = '\0';
	return (ssize_t)n;
}

static int gen_text_sink_close(void *cookie)
{
	free(cookie);
	return 0;
}

FILE *gen_text_memstream(char **buf, size_t *len)
{
	static const cookie_io_functions_t io = { .write = gen_text_sink_write, .close = gen_text_sink_close };
	gen_text_sink *s = calloc(1, sizeof *s);
	FILE *f = NULL;

	*buf = malloc(64);
	*len = 0;
	if (!s || !*buf)
		goto fail;
	**buf = '\0';
	s->buf = buf;
	s->len = len;
	s->cap = 64;
	f = fopencookie(s, "w", io);
	if (!f)
		goto fail;
	setvbuf(f, s->io, _IOFBF, sizeof s->io);
	return f;
fail:
	free(s);
	free(*buf);
	*buf = NULL;
	return NULL;
}
