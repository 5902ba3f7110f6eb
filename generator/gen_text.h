/* gen_text.h — writing C text: string literals and identifiers. */
#ifndef GEN_TEXT_H
#define GEN_TEXT_H

#include <stdio.h>
#include <stddef.h>

/* Writes s[0..len) as a C string literal; bytes that are not printable
 * ASCII become octal escapes, '?' is escaped (trigraphs), and long strings
 * are split into adjacent literals of at most `width` bytes each, one per
 * line, indented by `indent` tabs (width 0 = never split). */
void gen_text_cstring(FILE *out, const char *s, size_t len, size_t width, int indent);
/* Same, for a NUL-terminated string on one line. */
void gen_text_cstr(FILE *out, const char *s);
/* A C identifier made from s: letters, digits and '_' kept, a non-ASCII
 * character becomes its code point (u00e9, joined by '_'), anything else
 * becomes '_', a leading digit gets a '_' in front (new, free()). */
char *gen_text_ident(const char *s);
/* The same into out, which has room for 4 * strlen(s) + 2 bytes; its length. */
size_t gen_text_ident_to(char *out, const char *s);
/* a, b and c one after the other (new; NULL out of memory): asprintf's
 * "%s%s%s" without a format read, for the strings made per schema. */
char *gen_text_concat(const char *a, const char *b, const char *c);
/* Writes s as the text of a C comment on one line: newlines become spaces;
 * a space goes between the characters of a comment end, a comment start and
 * a ??/ trigraph, so the comment stays one comment. */
void gen_text_comment(FILE *out, const char *s);
/* open_memstream's contract (*buf and *len hold the text and its length,
 * NUL-terminated, after each fflush and after fclose; free(*buf) then), for
 * the many small texts of one generation: the buffer starts at 64 bytes and
 * doubles, where glibc's starts at BUFSIZ and shrinks in place at fclose,
 * leaving behind each kept text a hole too small for the next stream
 * (1.2 GB of holes for Microsoft Graph beta). NULL if out of memory. */
FILE *gen_text_memstream(char **buf, size_t *len);

#endif
