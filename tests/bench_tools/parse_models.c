/* parse_models.c — the model parsers oapigen generated for the five create
 * bodies (generated/<api>/, <Model>_parse: request bytes straight into the
 * C model, no json_t), in parsebench.h's shape, for bench-parse: where a
 * case has one, it is "ours" (what the server's typed path runs). */
#include <string.h>

#include "fastapi_api.h"
#include "feldera_api.h"
#include "heron_api.h"
#include "nebula_api.h"
#include "nebula_uuid_api.h"
#include "parsebench.h"

#define PM_PARSER(T) \
	static int pm_##T(const char *buf, size_t len, rt_arena *a, void *model, rt_errors *errs) \
	{ \
		json_t *keep = NULL; \
		int rc = T##_parse(buf, len, a, 0, model, &keep, errs); \
		json_decref(keep); \
		return rc == RT_PARSE_NOMEM ? -1 : (int)errs->n; \
	}
PM_PARSER(heron_CreateKeySchema)
PM_PARSER(fastapi_ApiKeyCreateRequest)
PM_PARSER(feldera_NewApiKeyRequest)
PM_PARSER(nebula_ApiKeyCreateRequest)
PM_PARSER(nebula_uuid_ApiKeyCreateRequest)

const bench_parser bench_parsers[] = {
	{ "heron CreateKeySchema", pm_heron_CreateKeySchema, sizeof(heron_CreateKeySchema), NULL },
	{ "fastapi ApiKeyCreateRequest", pm_fastapi_ApiKeyCreateRequest, sizeof(fastapi_ApiKeyCreateRequest), NULL },
	{ "feldera NewApiKeyRequest", pm_feldera_NewApiKeyRequest, sizeof(feldera_NewApiKeyRequest), NULL },
	{ "nebula ApiKeyCreateRequest", pm_nebula_ApiKeyCreateRequest, sizeof(nebula_ApiKeyCreateRequest), NULL },
	{ "nebula_uuid ApiKeyCreateRequest", pm_nebula_uuid_ApiKeyCreateRequest, sizeof(nebula_uuid_ApiKeyCreateRequest), NULL },
	{ NULL, NULL, 0, NULL },
};
