/* checker.c — the contract runner's second validator: the response checks
 * oapigen generated for one document (<api>_validate_response), as a filter.
 *
 * Built once per API with -DCHECK_API=<api> -DCHECK_HEADER=<api>_api.h and
 * linked with that API's generated C and the runtime. Reads one JSON object
 * per line on stdin:
 *   {"operation": "create_key", "status": 201,
 *    "content_type": "application/json" | null, "body": "<text>" | null}
 * and writes one line per request: {"errors": [{pointer, keyword, message}]}
 * (empty when the response matches the document). A line that is not such
 * an object is answered with one error naming what is wrong with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#define CHECK_STR2(x) #x
#define CHECK_STR(x) CHECK_STR2(x)
#define CHECK_CAT2(a, b) a##b
#define CHECK_CAT(a, b) CHECK_CAT2(a, b)

#include CHECK_STR(CHECK_HEADER)

#define checker_validate CHECK_CAT(CHECK_API, _validate_response)

/* Checks one request line; returns the answer (new). */
static json_t *checker_line(const char *line)
{
	json_error_t jerr;
	json_t *req = json_loads(line, 0, &jerr);   /* new */
	json_t *answer = NULL;
	const json_t *op, *status, *ctype, *body;
	rt_errors errs;

	rt_errors_init(&errs);
	if (!req || !json_is_object(req)) {
		rt_errors_add(&errs, "", "input", "not a JSON object: %s", req ? "another value" : jerr.text);
		goto cleanup;
	}
	op = json_object_get(req, "operation");
	status = json_object_get(req, "status");
	ctype = json_object_get(req, "content_type");
	body = json_object_get(req, "body");
	if (!json_is_string(op) || !json_is_integer(status) || (ctype && !json_is_null(ctype) && !json_is_string(ctype)) ||
	    (body && !json_is_null(body) && !json_is_string(body))) {
		rt_errors_add(&errs, "", "input", "want {operation: string, status: integer, content_type: string|null, body: string|null}");
		goto cleanup;
	}
	checker_validate(json_string_value(op), (int)json_integer_value(status),
	                 json_is_string(ctype) ? json_string_value(ctype) : NULL,
	                 json_is_string(body) ? json_string_value(body) : NULL,
	                 json_is_string(body) ? json_string_length(body) : 0, &errs);
cleanup:
	answer = json_pack("{s:o}", "errors", rt_errors_to_json(&errs));
	rt_errors_free(&errs);
	json_decref(req);
	return answer;
}

int main(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = 0;

	while ((len = getline(&line, &cap, stdin)) > 0) {
		json_t *answer;
		char *text;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		answer = checker_line(line);
		text = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
		json_decref(answer);
		if (!text) {
			rc = 1;
			break;
		}
		printf("%s\n", text);
		fflush(stdout);
		free(text);
	}
	free(line);
	return rc;
}
