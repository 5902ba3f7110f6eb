/* gen_text.c — C string literals and identifiers. */
#include "gen_text.h"

#include <stdlib.h>
#include <string.h>

static void gen_text_byte(FILE *out, unsigned char c)
{
	switch (c) {
	case '"': fputs("\\\"", out); break;
	case '\\': fputs("\\\\", out); break;
	case '\n': fputs("\\n", out); break;
	case '\t': fputs("\\t", out); break;
	case '?': fputs("\\?", out); break;
	default:
		if (c < 0x20 || c >= 0x7f)
			fprintf(out, "\\%03o", c);
		else
			fputc(c, out);
	}
}

void gen_text_cstring(FILE *out, const char *s, size_t len, size_t width, int indent)
{
	size_t col = 0;

	fputc('"', out);
	for (size_t i = 0; i < len; i++) {
		if (width && col >= width) {
			fputs("\"\n", out);
			for (int k = 0; k < indent; k++)
				fputc('\t', out);
			fputc('"', out);
			col = 0;
		}
		gen_text_byte(out, (unsigned char)s[i]);
		col++;
		/* break after a newline in the text, so generated YAML reads as YAML */
		if (width && s[i] == '\n' && i + 1 < len)
			col = width;
	}
	fputc('"', out);
}

void gen_text_cstr(FILE *out, const char *s)
{
	gen_text_cstring(out, s, strlen(s), 0, 0);
}

char *gen_text_ident(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(4 * n + 2), *o = out;

	if (!out)
		return NULL;
	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
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
