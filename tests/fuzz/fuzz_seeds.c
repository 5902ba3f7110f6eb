/* fuzz_seeds.c — seed corpora from the spec examples, at build time:
 *   fuzz_seeds OUTDIR openapi/<api>.yaml...
 * writes OUTDIR/route/<api>-<operationId>-<n>, one request per request-body
 * example (fuzz_route's format: route line, parameters with their examples,
 * both credentials, Content-Type, the body), and OUTDIR/params/<n>, each
 * parameter example as a raw value for every schema (fuzz_params' format).
 * Only local "#/..." references are followed; the documents are ours. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "load.h"

static json_t *seeds_doc;
static unsigned seeds_nparams;

/* Follows a local $ref (borrowed result; v itself when it has none). */
static json_t *seeds_deref(json_t *v)
{
	for (int hops = 0; hops < 16 && json_is_string(json_object_get(v, "$ref")); hops++) {
		const char *ref = json_string_value(json_object_get(v, "$ref"));
		char seg[256];
		json_t *at = seeds_doc;
		if (strncmp(ref, "#/", 2) != 0)
			return NULL;
		for (const char *p = ref + 2; at && *p;) {
			size_t n = strcspn(p, "/"), k = 0;
			for (size_t i = 0; i < n && k + 1 < sizeof seg; i++) {
				if (p[i] == '~' && i + 1 < n) {
					seg[k++] = p[i + 1] == '1' ? '/' : '~';
					i++;
				} else {
					seg[k++] = p[i];
				}
			}
			seg[k] = '\0';
			at = json_object_get(at, seg);
			p += n + (p[n] == '/');
		}
		v = at;
	}
	return v;
}

/* The example of a parameter, media type or schema as raw text (new), or NULL. */
static char *seeds_example_text(json_t *holder)
{
	json_t *ex = json_object_get(holder, "example");
	json_t *schema = seeds_deref(json_object_get(holder, "schema"));

	if (!ex && json_is_object(json_object_get(holder, "examples"))) {
		const char *k;
		json_t *e;
		json_object_foreach(json_object_get(holder, "examples"), k, e) {
			ex = json_object_get(seeds_deref(e), "value");
			break;
		}
	}
	if (!ex && schema)
		ex = json_object_get(schema, "example");
	if (!ex && schema)
		ex = json_object_get(schema, "default");
	if (!ex)
		return NULL;
	if (json_is_string(ex))
		return strdup(json_string_value(ex));
	return json_dumps(ex, JSON_COMPACT | JSON_ENCODE_ANY);
}

static int seeds_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

/* Appends "?name=example" for every parameter of list; params seeds too. */
static int seeds_params(json_t *list, const char *outdir, char **head, int path_only)
{
	size_t i;
	json_t *pv;

	json_array_foreach(list, i, pv) {
		json_t *p = seeds_deref(pv);
		const char *in = json_string_value(json_object_get(p, "in"));
		const char *name = json_string_value(json_object_get(p, "name"));
		char *ex, *line = NULL, path[600];
		if (!in || !name || (path_only != (strcmp(in, "path") == 0)))
			continue;
		ex = seeds_example_text(p);
		if (!ex && strcmp(in, "path") == 0)
			ex = strdup("1");
		if (!ex)
			continue;
		for (unsigned s = 0; s < 17; s++) { /* every schema of fuzz_params, simple style */
			char *raw = NULL;
			snprintf(path, sizeof path, "%s/params/%u", outdir, seeds_nparams++);
			if (asprintf(&raw, "%c%s", (char)s, ex) < 0 || seeds_write(path, raw) != 0) {
				free(raw);
				free(ex);
				return -1;
			}
			free(raw);
		}
		if (asprintf(&line, strcmp(in, "header") == 0 ? "%s%s: %s\n" : "%s?%s=%s\n", *head, name, ex) < 0)
			line = NULL;
		free(ex);
		if (!line)
			return -1;
		free(*head);
		*head = line;
	}
	return 0;
}

static int seeds_spec(const char *outdir, const char *spec)
{
	char err[512], api[128], path[700];
	const char *base = strrchr(spec, '/') ? strrchr(spec, '/') + 1 : spec, *route, *method;
	json_t *item, *op;
	int rc = 0;

	snprintf(api, sizeof api, "%.*s", (int)strcspn(base, "."), base);
	seeds_doc = load_document(spec, err, sizeof err);
	if (!seeds_doc) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	json_object_foreach(json_object_get(seeds_doc, "paths"), route, item) {
		json_object_foreach(item, method, op) {
			char upper[16], ulf[512], *head = NULL, *body = NULL, *text = NULL;
			json_t *ct;
			size_t k = 0;
			if (!json_is_object(op) || !json_object_get(op, "responses"))
				continue;
			for (size_t i = 0; method[i] && i + 1 < sizeof upper; i++)
				upper[i] = (char)(method[i] >= 'a' && method[i] <= 'z' ? method[i] - 32 : method[i]);
			upper[strlen(method) < sizeof upper ? strlen(method) : sizeof upper - 1] = '\0';
			for (const char *r = route; *r && k + 2 < sizeof ulf; r++)
				if (*r == '{')
					ulf[k++] = ':';
				else if (*r != '}')
					ulf[k++] = *r;
			ulf[k] = '\0';
			if (asprintf(&head, "%s %s %s\n", api, upper, ulf) < 0)
				return -1;
			for (int pass = 1; pass >= 0; pass--)
				if (seeds_params(json_object_get(item, "parameters"), outdir, &head, pass) != 0 ||
				    seeds_params(json_object_get(op, "parameters"), outdir, &head, pass) != 0)
					rc = -1;
			ct = json_object_get(json_object_get(seeds_deref(json_object_get(op, "requestBody")), "content"),
			                     "application/json");
			body = ct ? seeds_example_text(ct) : NULL;
			snprintf(path, sizeof path, "%s/route/%s-%s", outdir, api,
			         json_string_value(json_object_get(op, "operationId")));
			if (asprintf(&text, "%sAuthorization: Bearer fuzz\nx-api-key: fuzz\n%s\n%s", head,
			             ct ? "Content-Type: application/json\n" : "", body ? body : ct ? "{}" : "") < 0 ||
			    seeds_write(path, text) != 0)
				rc = -1;
			free(text);
			free(body);
			free(head);
		}
	}
	json_decref(seeds_doc);
	return rc;
}

int main(int argc, char **argv)
{
	int rc = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: fuzz_seeds OUTDIR SPEC...\n");
		return 2;
	}
	for (int i = 2; i < argc; i++)
		if (seeds_spec(argv[1], argv[i]) != 0)
			rc = 1;
	return rc;
}
