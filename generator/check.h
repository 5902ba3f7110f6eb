/* check.h — checks of a whole document that the model does not make.
 *
 * Every `pattern` and `patternProperties` key of the document compiles with
 * PCRE2 as the runtime will compile it at start (rt_pattern.h), except a
 * `pattern` beyond PCRE2's own limits (rt_pattern_limit): a warning on
 * stderr, and the model leaves it out (not enforced); an
 * operation documents at least one response (`responses: {}` is refused);
 * a document without operations is generated, with a warning on stderr.
 */
#ifndef CHECK_H
#define CHECK_H

#include <stddef.h>
#include <jansson.h>

/* doc (borrowed) as read from name. 0, or -1 with err "name: /pointer: what";
 * warnings go to stderr as "name: /pointer: warning: what". A gen_api_options
 * check. */
int check_document(const char *name, const json_t *doc, char *err, size_t errlen);

#endif
