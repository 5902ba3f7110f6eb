/* petstore.c — a small server for the Swagger Petstore (petstore.yaml,
 * Apache 2.0, from swagger-api/swagger-petstore via @readme/oas-examples),
 * built on oapigen's output and the apikeyd runtime alone: no apikeyd.
 *
 *   petstore PORT
 *
 * Three pets in memory. GET /v2/pet/{petId} and GET /v2/store/inventory
 * take the api_key header "special-key" (as the spec's description says);
 * the petstore_auth (oauth2) operations take a bearer token: "read-token"
 * grants read:pets, "admin-token" read:pets and write:pets. The hook gets
 * the scopes each operation's requirement lists and refuses (403) a token
 * that lacks one; what it granted reaches the handlers as the principal's
 * data, and findPetsByStatus sends it back in X-Granted-Scopes. The
 * runtime's guard answers 405 with Allow, bad UTF-8 and unknown routes.
 * Operations without a handler answer 501.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ulfius.h>

#include "petstore_api.h"
#include "rt_guard.h"

/* The principal's data: the scopes the caller was granted. */
typedef struct grant {
	char scopes[64];
} grant;

static petstore_Pet pets[3];
static rt_str no_photos[1] = { { "https://example.com/pet.jpg", 27 } };

static void pets_init(void)
{
	static const char *const names[] = { "doggie", "Tom", "Jerry" };
	static const petstore_Pet_status status[] = { PETSTORE_PET_STATUS_AVAILABLE, PETSTORE_PET_STATUS_AVAILABLE,
	                                              PETSTORE_PET_STATUS_SOLD };

	for (int i = 0; i < 3; i++)
		pets[i] = (petstore_Pet){ .id = i + 1, .has_id = 1, .name = names[i], .name_len = strlen(names[i]),
		                          .photoUrls = no_photos, .n_photoUrls = 1, .status = status[i], .has_status = 1 };
}

static enum rt_auth_result petstore_auth(void *app, const rt_auth_request *req, rt_principal *out, unsigned *retry_after)
{
	const char *granted = NULL;
	grant *g;

	(void)app;
	(void)retry_after;
	if (req->kind == RT_CRED_APIKEY_HEADER)
		return strcmp(req->credential, "special-key") == 0 ? RT_AUTH_OK : RT_AUTH_REJECTED;
	if (strcmp(req->credential, "read-token") == 0)
		granted = "read:pets";
	else if (strcmp(req->credential, "admin-token") == 0)
		granted = "read:pets write:pets";
	else
		return RT_AUTH_REJECTED;
	for (size_t i = 0; i < req->n_scopes; i++) {
		const char *s = strstr(granted, req->scopes[i]);
		size_t n = strlen(req->scopes[i]);
		if (!s || (s[n] != ' ' && s[n] != '\0'))
			return RT_AUTH_FORBIDDEN;
	}
	g = malloc(sizeof *g);
	if (!g)
		return RT_AUTH_ERROR;
	snprintf(g->scopes, sizeof g->scopes, "%s", granted);
	out->data = g; /* freed by principal_free after the response */
	return RT_AUTH_OK;
}

static void principal_free(void *app, void *data)
{
	(void)app;
	free(data);
}

static int find_by_status(rt_ctx *ctx, const petstore_findPetsByStatus_params *p, const json_t *body, void *app)
{
	const grant *g = rt_ctx_principal(ctx)->data;
	petstore_Pet found[3];
	size_t n = 0, i;
	json_t *s;

	(void)body;
	(void)app;
	for (int k = 0; k < 3; k++)
		json_array_foreach(p->status, i, s)
			if (strcmp(json_string_value(s), petstore_Pet_status_text(pets[k].status)) == 0) {
				found[n++] = pets[k];
				break;
			}
	if (g)
		rt_ctx_set_header(ctx, "X-Granted-Scopes", g->scopes);
	return petstore_findPetsByStatus_respond_200(ctx, &(petstore_findPetsByStatus_200){ .items = found, .n_items = n });
}

static int get_pet(rt_ctx *ctx, const petstore_getPetById_params *p, const json_t *body, void *app)
{
	(void)body;
	(void)app;
	if (p->petId < 1 || p->petId > 3)
		return petstore_getPetById_respond_404(ctx);
	return petstore_getPetById_respond_200(ctx, &pets[p->petId - 1]);
}

static int inventory(rt_ctx *ctx, const petstore_getInventory_params *p, const json_t *body, void *app)
{
	petstore_getInventory_200_entry e[3];
	size_t n = 0;

	(void)p;
	(void)body;
	(void)app;
	for (int k = 0; k < 3; k++) {
		const char *st = petstore_Pet_status_text(pets[k].status);
		size_t i;
		for (i = 0; i < n && strcmp(e[i].key, st) != 0; i++)
			;
		if (i == n)
			e[n++] = (petstore_getInventory_200_entry){ .key = st, .key_len = strlen(st), .value = 0 };
		e[i].value++;
	}
	return petstore_getInventory_respond_200(ctx, &(petstore_getInventory_200){ .v = e, .n = n });
}

static const petstore_handlers handlers = {
	.findPetsByStatus = find_by_status,
	.getPetById = get_pet,
	.getInventory = inventory,
};

int main(int argc, char **argv)
{
	static const rt_api_config cfg = { .authenticate = petstore_auth, .principal_free = principal_free };
	static const rt_guard_config guard = { .max_url = 4096 };
	struct _u_instance u;
	sigset_t set;
	char *end = NULL;
	long port = argc == 2 ? strtol(argv[1], &end, 10) : 0;
	int sig, rc = 1;

	if (argc != 2 || !end || *end || port < 1 || port > 65535) {
		fprintf(stderr, "usage: petstore PORT\n");
		return 2;
	}
	pets_init();
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* before the framework's threads start */
	if (ulfius_init_instance(&u, (unsigned)port, NULL, NULL) != U_OK) {
		fprintf(stderr, "petstore: cannot set up port %ld\n", port);
		return 1;
	}
	if (petstore_register(&u, PETSTORE_DEFAULT_BASE, &handlers, &cfg) != 0 || rt_guard_install(&u, &guard) != 0) {
		fprintf(stderr, "petstore: cannot register the API\n");
		goto cleanup;
	}
	if (ulfius_start_framework(&u) != U_OK) {
		fprintf(stderr, "petstore: cannot listen on port %ld\n", port);
		goto cleanup;
	}
	printf("petstore: listening on http://127.0.0.1:%ld%s\n", port, PETSTORE_DEFAULT_BASE);
	fflush(stdout);
	sigwait(&set, &sig);
	ulfius_stop_framework(&u);
	rc = 0;
cleanup:
	ulfius_clean_instance(&u);
	rt_api_release_all();
	return rc;
}
