/* admin.c — apikeyd's operating commands (admin.h): listings, revocation,
 * the audit rows, the HMAC keyring, backup and restore. */
#include "admin.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <spawn.h>
#include <sys/wait.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <jansson.h>

#include "keyring.h"
#include "version.h"

#define ADMIN_BACKUP_FORMAT "apikeyd-backup 1"
#define ADMIN_BACKUP_STORE "store.db"
#define ADMIN_BACKUP_PGDUMP "store.pgdump"   /* pg_dump --format=custom */
#define ADMIN_BACKUP_KEYRING "keyring"
#define ADMIN_BACKUP_MANIFEST "manifest.json"

/* ---- each command's help ---- */

typedef struct admin_cmd {
	const char *word1, *word2;   /* "key", "list"; word2 NULL: one word ("audit") */
	int args;                    /* positional words after them */
	const char *usage;
	const char *help;
} admin_cmd;

static const admin_cmd admin_cmds[] = {
	{ "user", "list", 0, "apikeyd user list [--json] [--db PATH]",
	  "Every user, by id: id, name, created (UTC), unrevoked keys.\n" },
	{ "key", "list", 0, "apikeyd key list [--user NAME] [--family API] [--json] [--db PATH]",
	  "Keys, newest first within each user (revoked ones too): id, uuid, family, name,\n"
	  "state (active, inactive, revoked), parent key id (- for none), created, user,\n"
	  "the key's first and last characters (prefix...tail, as the APIs show them),\n"
	  "last used (- for never). Never the key itself, nor its hash.\n"
	  "  --user NAME    only this user's keys (default: every user's)\n"
	  "  --family API   only keys of this API: heron, feldera, nebula, nebula_uuid, fastapi\n" },
	{ "key", "show", 1, "apikeyd key show ID [--json] [--db PATH]",
	  "One key by id (the first column of `key list`), one field per line:\n"
	  "field<TAB>value. Never the key itself, nor its hash.\n" },
	{ "key", "revoke", 1, "apikeyd key revoke ID [--cascade] [--db PATH]",
	  "Revokes a key, audited as done by the CLI: a running apikeyd on the same\n"
	  "store refuses it at its next request (SQLite: the epoch row each request\n"
	  "looks at; PostgreSQL: NOTIFY to every node).\n"
	  "  --cascade      also every key it minted, and theirs\n" },
	{ "audit", NULL, 0, "apikeyd audit [--since TIME] [--json] [--db PATH]",
	  "The audit rows, oldest first: id, time (UTC), action (create, activate,\n"
	  "deactivate, revoke, delete), key id, actor (the user id), client (the\n"
	  "address, or cli).\n"
	  "  --since TIME   rows from TIME on: unix seconds, 2026-12-01T12:00:00Z, or an\n"
	  "                 age (90s, 15m, 2h, 7d)\n" },
	{ "secret", "list", 0, "apikeyd secret list [--json] [--secret FILE] [--db PATH]",
	  "The HMAC keyring: id, added (UTC; - before keyrings), state (current,\n"
	  "older, or missing: keys need a secret the keyring lacks), unrevoked keys\n"
	  "still made with it. A key made with an older secret moves to the current one\n"
	  "at its next successful authentication.\n" },
	{ "secret", "rotate", 0, "apikeyd secret rotate [--secret FILE] [--db PATH]",
	  "Adds a new secret to the keyring file and makes it current: new keys are\n"
	  "hashed with it, keys made with older ones keep working and are re-hashed\n"
	  "with it when next used. The file is replaced atomically (mode 0600) and a\n"
	  "running apikeyd reads it again within a second. With PostgreSQL, every node\n"
	  "must read the same keyring: copy it to each node (or share the file) before\n"
	  "any node sees it. Prints the new secret's id.\n" },
	{ "secret", "retire", 1, "apikeyd secret retire ID [--secret FILE] [--db PATH]",
	  "Removes secret ID from the keyring. Refused for the current secret, while\n"
	  "unrevoked keys were made with it (`secret list`; they move at their next\n"
	  "use, or revoke them), and for 3 s after it stopped being current.\n" },
	{ "backup", NULL, 1, "apikeyd backup DIR [--secret FILE] [--db PATH]",
	  "Writes a consistent copy of the store, taken while the server runs (SQLite's\n"
	  "online backup API: one snapshot), into DIR (created, mode 0700; an existing\n"
	  "DIR must be empty): store.db, the keyring (mode 0600; without it the keys are\n"
	  "useless) and manifest.json (format, time, files and their SHA-256). With\n"
	  "PostgreSQL: store.pgdump, made by pg_dump (one snapshot; a password in the\n"
	  "URL is visible to ps while it runs: use a pgpass file).\n" },
	{ "restore", NULL, 1, "apikeyd restore DIR [--force] [--secret FILE] [--db PATH]",
	  "The reverse of backup: checks DIR's manifest and SHA-256s, copies its store\n"
	  "into --db (an SQLite file) and its keyring into --secret (default: the\n"
	  "state folder's apikeyd.secret), then opens both to check that they match.\n"
	  "An existing store or keyring is refused without --force; with --force the\n"
	  "store is replaced in place, and a running apikeyd on it sees the restored\n"
	  "keys at its next request. A PostgreSQL backup goes into an empty database\n"
	  "(pg_restore, one transaction; no --force). An SQLite backup into PostgreSQL:\n"
	  "apikeyd migrate --from DIR/store.db.\n"
	  "  --force        replace an existing store and keyring\n" },
};
#define ADMIN_NCMDS (sizeof admin_cmds / sizeof admin_cmds[0])

static const admin_cmd *admin_find(const char *w1, const char *w2)
{
	for (size_t i = 0; i < ADMIN_NCMDS; i++)
		if (strcmp(admin_cmds[i].word1, w1) == 0 &&
		    (admin_cmds[i].word2 == NULL || (w2 && strcmp(admin_cmds[i].word2, w2) == 0)))
			return &admin_cmds[i];
	return NULL;
}

/* user key, user add (main.c's) are not ours; every other user/key/secret word is */
static int admin_word(const char *w1, const char *w2)
{
	if (strcmp(w1, "user") == 0)
		return w2 && strcmp(w2, "list") == 0;
	return strcmp(w1, "key") == 0 || strcmp(w1, "secret") == 0 || strcmp(w1, "audit") == 0 ||
	       strcmp(w1, "backup") == 0 || strcmp(w1, "restore") == 0;
}

int admin_help(int argc, char **argv)
{
	const char *w[2] = { NULL, NULL };
	int nw = 0, help = 0;
	const admin_cmd *c;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			help = 1;
		else if (argv[i][0] != '-' && nw < 2)
			w[nw++] = argv[i];
		else if (argv[i][0] == '-')
			break;   /* an option's value is not a command word */
	}
	if (!help || nw == 0 || !admin_word(w[0], w[1]))
		return 0;
	c = admin_find(w[0], w[1]);
	if (!c) {
		printf("Usage:\n");
		for (size_t i = 0; i < ADMIN_NCMDS; i++)
			if (strcmp(admin_cmds[i].word1, w[0]) == 0)
				printf("  %s\n", admin_cmds[i].usage);
		printf("Try 'apikeyd %s COMMAND --help'.\n", w[0]);
		return 1;
	}
	printf("Usage: %s\n%s", c->usage, c->help);
	printf("The store and the keyring are the server's: --db, --secret, --state-dir and\n"
	       "the config file apply as for `apikeyd` (apikeyd --help).\n");
	return 1;
}

int admin_is_command(const config *cfg)
{
	return cfg->n_args >= 1 && admin_word(cfg->args[0], cfg->n_args > 1 ? cfg->args[1] : NULL);
}

int admin_is_restore(const config *cfg)
{
	return cfg->n_args >= 1 && strcmp(cfg->args[0], "restore") == 0;
}

/* ---- output ---- */

static void admin_time(int64_t when, char *buf, size_t len)
{
	time_t t = (time_t)when;
	struct tm tm;

	if (when <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* text for a column: control characters as '?' */
static void admin_clean(char *s)
{
	for (unsigned char *p = (unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
}

static json_t *admin_json_time(int64_t when)
{
	char buf[32];

	if (when <= 0)
		return json_null();
	admin_time(when, buf, sizeof buf);
	return json_string(buf);
}

/* One JSON line; obj stolen. */
static void admin_json_line(json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);

	if (text)
		printf("%s\n", text);
	free(text);
	json_decref(obj);
}

static const char *admin_family_name(int family)
{
	const keysvc_family_desc *d = keysvc_family(family);

	return d ? d->api : "?";
}

static const char *admin_state(const keysvc_key *k)
{
	return k->revoked ? "revoked" : k->active ? "active" : "inactive";
}

/* ---- arguments ---- */

static int admin_id(const char *cmd, const char *arg, int64_t *id)
{
	char *end = NULL;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (!*arg || *end || errno || v <= 0) {
		fprintf(stderr, "apikeyd: %s: \"%s\" is not an id (a whole number from 1)\nTry 'apikeyd %s --help'.\n",
		        cmd, arg, cmd);
		return -1;
	}
	*id = v;
	return 0;
}

static int admin_family(const char *name, int *family)
{
	const keysvc_family_desc *d = keysvc_family_of_api(name);

	if (d) {
		*family = (int)(d - keysvc_family(0));
		return 0;
	}
	fprintf(stderr, "apikeyd: key list: --family %s: no such API; the families are", name);
	for (int f = 0; f < KEYSVC_NFAMILIES; f++)
		fprintf(stderr, "%s %s", f ? "," : "", keysvc_family(f)->api);
	fprintf(stderr, "\n");
	return -1;
}

/* --since: unix seconds, an ISO 8601 UTC time, or an age (90s, 15m, 2h, 7d). */
static int admin_since(const char *text, int64_t *out)
{
	char *end = NULL;
	long long v;
	struct tm tm;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (*text >= '0' && *text <= '9' && !errno && end != text) {
		static const struct { char unit; int64_t mult; } units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
		if (*end == '\0') {
			*out = v;
			return 0;
		}
		for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
			if (end[0] == units[i].unit && end[1] == '\0' && v <= INT64_MAX / units[i].mult) {
				*out = (int64_t)time(NULL) - v * units[i].mult;
				return 0;
			}
	}
	memset(&tm, 0, sizeof tm);
	end = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end && (strcmp(end, "Z") == 0 || *end == '\0')) {
		*out = (int64_t)timegm(&tm);
		return 0;
	}
	fprintf(stderr, "apikeyd: audit: --since %s: expected unix seconds, a UTC time (2026-12-01T12:00:00Z) or an "
	        "age (90s, 15m, 2h, 7d)\n", text);
	return -1;
}

/* ---- user list, key list, key show ---- */

static int admin_user_list(keysvc *ks, const config *cfg)
{
	store_user *u = NULL;
	size_t n = 0;
	char created[32];
	int rc = keysvc_user_list(ks, &u, &n);

	if (rc != KEYSVC_OK) {
		fprintf(stderr, "apikeyd: user list: %s\n", keysvc_strerror(rc));
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (cfg->json) {
			admin_json_line(json_pack("{sI ss so sI}", "id", (json_int_t)u[i].id, "name", u[i].name, "created",
			                          admin_json_time(u[i].created), "keys", (json_int_t)u[i].keys));
			continue;
		}
		admin_time(u[i].created, created, sizeof created);
		admin_clean(u[i].name);
		printf("%" PRId64 "\t%s\t%s\t%" PRId64 "\n", u[i].id, u[i].name, created, u[i].keys);
	}
	free(u);
	fflush(stdout);
	return 0;
}

/* key list's context: the owners' names, the output form */
typedef struct admin_keys {
	const char *user;
	int json;
} admin_keys;

static json_t *admin_key_json(const keysvc_key *k, const char *user)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(k->id));
	json_object_set_new(o, "uuid", json_string(k->uuid));
	json_object_set_new(o, "user_id", json_integer(k->user_id));
	json_object_set_new(o, "user", user ? json_string(user) : json_null());
	json_object_set_new(o, "family", json_string(admin_family_name(k->family)));
	json_object_set_new(o, "name", json_string(k->name));
	json_object_set_new(o, "description", k->has_description ? json_string(k->description) : json_null());
	json_object_set_new(o, "role", k->role[0] ? json_string(k->role) : json_null());
	json_object_set_new(o, "prefix", json_string(k->prefix));
	json_object_set_new(o, "tail", json_string(k->tail));
	json_object_set_new(o, "state", json_string(admin_state(k)));
	json_object_set_new(o, "parent_id", k->parent_id ? json_integer(k->parent_id) : json_null());
	json_object_set_new(o, "created", admin_json_time(k->created));
	json_object_set_new(o, "last_used", admin_json_time(k->last_used));
	return o;
}

/* keysvc_each_fn: columns 1-7 as before the operating commands (id, uuid,
   family, name, state, parent, created), then user, prefix...tail, last used */
static int admin_key_line(void *ctx, const keysvc_key *k)
{
	const admin_keys *a = ctx;
	char name[sizeof k->name], user[STORE_NAME_CHARS * 4 + 1], created[32], used[32], parent[24];

	if (a->json) {
		admin_json_line(admin_key_json(k, a->user));
		return 0;
	}
	snprintf(name, sizeof name, "%s", k->name);
	admin_clean(name);
	snprintf(user, sizeof user, "%s", a->user);
	admin_clean(user);
	admin_time(k->created, created, sizeof created);
	admin_time(k->last_used, used, sizeof used);
	if (k->parent_id)
		snprintf(parent, sizeof parent, "%" PRId64, k->parent_id);
	else
		snprintf(parent, sizeof parent, "-");
	printf("%" PRId64 "\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s...%s\t%s\n", k->id, k->uuid, admin_family_name(k->family), name,
	       admin_state(k), parent, created, user, k->prefix, k->tail, used);
	return 0;
}

static int admin_key_list(keysvc *ks, const config *cfg)
{
	store_user *u = NULL;
	size_t n = 0;
	int family = KEYSVC_ALL, rc, found = 0;

	if (cfg->family && admin_family(cfg->family, &family) != 0)
		return ADMIN_EXIT_USAGE;
	rc = keysvc_user_list(ks, &u, &n);
	for (size_t i = 0; rc == KEYSVC_OK && i < n; i++) {
		admin_keys a = { .user = u[i].name, .json = cfg->json };
		if (cfg->user && strcmp(cfg->user, u[i].name) != 0)
			continue;
		found = 1;
		rc = keysvc_list_each(ks, u[i].id, family, 1, 0, admin_key_line, &a);
	}
	free(u);
	fflush(stdout);
	if (rc == KEYSVC_OK && cfg->user && !found)
		rc = KEYSVC_NO_USER;
	if (rc != KEYSVC_OK) {
		fprintf(stderr, "apikeyd: key list%s%s: %s\n", cfg->user ? " --user " : "", cfg->user ? cfg->user : "",
		        keysvc_strerror(rc));
		return 1;
	}
	return 0;
}

/* The owner's name (NULL if the user is gone meanwhile); *u freed by the caller. */
static const char *admin_user_name(keysvc *ks, int64_t user, store_user **u)
{
	size_t n = 0;

	*u = NULL;
	if (keysvc_user_list(ks, u, &n) != KEYSVC_OK)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((*u)[i].id == user)
			return (*u)[i].name;
	return NULL;
}

static int admin_key_show(keysvc *ks, const config *cfg)
{
	int64_t id = 0, user = 0;
	store_user *users = NULL;
	const char *owner;
	keysvc_key k;
	int rc;

	if (admin_id("key show", cfg->args[2], &id) != 0)
		return ADMIN_EXIT_USAGE;
	rc = keysvc_key_owner(ks, id, &user);
	if (rc == KEYSVC_OK)
		rc = keysvc_get_id(ks, user, KEYSVC_ALL, id, &k);
	if (rc == KEYSVC_NOT_FOUND) {
		fprintf(stderr, "apikeyd: key show %" PRId64 ": no key has this id (deleted, or never made)\n", id);
		return 1;
	}
	if (rc != KEYSVC_OK) {
		fprintf(stderr, "apikeyd: key show %" PRId64 ": %s\n", id, keysvc_strerror(rc));
		return 1;
	}
	owner = admin_user_name(ks, k.user_id, &users);
	if (cfg->json) {
		admin_json_line(admin_key_json(&k, owner));
	} else {
		char created[32], used[32], name[sizeof k.name], desc[sizeof k.description], who[STORE_NAME_CHARS * 4 + 1];
		snprintf(name, sizeof name, "%s", k.name);
		snprintf(desc, sizeof desc, "%s", k.has_description ? k.description : "-");
		snprintf(who, sizeof who, "%s", owner ? owner : "-");
		admin_clean(name);
		admin_clean(desc);
		admin_clean(who);
		admin_time(k.created, created, sizeof created);
		admin_time(k.last_used, used, sizeof used);
		printf("id\t%" PRId64 "\nuuid\t%s\nuser_id\t%" PRId64 "\nuser\t%s\nfamily\t%s\nname\t%s\ndescription\t%s\n"
		       "role\t%s\nprefix\t%s\ntail\t%s\nstate\t%s\n", k.id, k.uuid, k.user_id, who,
		       admin_family_name(k.family), name, desc, k.role[0] ? k.role : "-", k.prefix, k.tail, admin_state(&k));
		if (k.parent_id)
			printf("parent_id\t%" PRId64 "\n", k.parent_id);
		else
			printf("parent_id\t-\n");
		printf("created\t%s\nlast_used\t%s\n", created, used);
	}
	free(users);
	fflush(stdout);
	return 0;
}

/* ---- key revoke ---- */

static int admin_key_revoke(keysvc *ks, const config *cfg)
{
	int64_t id = 0, user = 0;
	size_t n = 0;
	int rc;

	if (admin_id("key revoke", cfg->args[2], &id) != 0)
		return ADMIN_EXIT_USAGE;
	rc = keysvc_key_owner(ks, id, &user);
	if (rc == KEYSVC_NOT_FOUND) {
		fprintf(stderr, "apikeyd: key revoke %" PRId64 ": no key has this id (deleted, or never made)\n", id);
		return 1;
	}
	/* the CLI acts as the key's owner itself (no key: the rights of a JWT) */
	keysvc_principal owner = { .user_id = user };
	if (rc == KEYSVC_OK && cfg->cascade) {
		rc = keysvc_revoke_tree(ks, &owner, id, "cli", &n);
	} else if (rc == KEYSVC_OK) {
		rc = keysvc_revoke(ks, &owner, id, "cli");
		n = rc == KEYSVC_OK;
		if (rc == KEYSVC_NOT_FOUND) {
			fprintf(stderr, "apikeyd: key revoke %" PRId64 ": the key is revoked already\n", id);
			return 1;
		}
	}
	if (rc != KEYSVC_OK) {
		fprintf(stderr, "apikeyd: key revoke %" PRId64 ": %s\n", id, keysvc_strerror(rc));
		return 1;
	}
	fprintf(stderr, "apikeyd: revoked %zu key(s)%s; a running apikeyd refuses them at their next request\n", n,
	        cfg->cascade ? " (the key and every key it minted)" : "");
	return 0;
}

/* ---- audit ---- */

static int admin_audit_line(void *ctx, const store_audit *a)
{
	const config *cfg = ctx;
	char at[32], client[sizeof a->client];

	if (cfg->json) {
		admin_json_line(json_pack("{sI so sI ss sI sI ss}", "id", (json_int_t)a->id, "time", admin_json_time(a->at),
		                          "at", (json_int_t)a->at, "action", a->action, "key_id", (json_int_t)a->key_id,
		                          "actor", (json_int_t)a->actor, "client", a->client));
		return 0;
	}
	admin_time(a->at, at, sizeof at);
	snprintf(client, sizeof client, "%s", a->client[0] ? a->client : "-");
	admin_clean(client);
	printf("%" PRId64 "\t%s\t%s\t%" PRId64 "\t%" PRId64 "\t%s\n", a->id, at, a->action, a->key_id, a->actor, client);
	return 0;
}

static int admin_audit(keysvc *ks, const config *cfg)
{
	int64_t since = 0;
	int rc;

	if (cfg->since && admin_since(cfg->since, &since) != 0)
		return ADMIN_EXIT_USAGE;
	rc = keysvc_audit_each(ks, since, admin_audit_line, (void *)cfg);
	fflush(stdout);
	if (rc != KEYSVC_OK) {
		fprintf(stderr, "apikeyd: audit: %s\n", keysvc_strerror(rc));
		return 1;
	}
	return 0;
}

/* ---- the keyring ---- */

static int admin_secret_list(keysvc *ks, const config *cfg)
{
	keysvc_secret_info *v = NULL;
	size_t n = 0;
	char added[32];
	int rc = keysvc_secret_list(ks, &v, &n);

	if (rc != KEYSVC_OK) {
		fprintf(stderr, "apikeyd: secret list: %s\n", keysvc_strerror(rc));
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		const char *state = v[i].missing ? "missing" : v[i].current ? "current" : "older";
		if (cfg->json) {
			admin_json_line(json_pack("{sI so ss sI}", "id", (json_int_t)v[i].id, "added", admin_json_time(v[i].added),
			                          "state", state, "keys", (json_int_t)v[i].keys));
			continue;
		}
		admin_time(v[i].added, added, sizeof added);
		printf("%" PRId64 "\t%s\t%s\t%" PRId64 "\n", v[i].id, added, state, v[i].keys);
	}
	free(v);
	fflush(stdout);
	return 0;
}

static int admin_secret_rotate(keysvc *ks)
{
	int64_t id = 0;
	int rc = keysvc_secret_rotate(ks, &id);

	if (rc != KEYSVC_OK) {
		fprintf(stderr, "apikeyd: secret rotate: %s\n",
		        rc == KEYSVC_UNSUPPORTED ? "an in-memory store has no keyring file" : keysvc_strerror(rc));
		return 1;
	}
	printf("%" PRId64 "\n", id);
	fflush(stdout);
	fprintf(stderr, "apikeyd: secret %" PRId64 " added to %s and current: new keys use it, older keys move to it at "
	        "their next use; a running apikeyd reads the keyring again within a second\n", id, keysvc_secret_path(ks));
	return 0;
}

static int admin_secret_retire(keysvc *ks, const config *cfg)
{
	int64_t id = 0, still = 0;
	int rc;

	if (admin_id("secret retire", cfg->args[2], &id) != 0)
		return ADMIN_EXIT_USAGE;
	rc = keysvc_secret_retire(ks, id, &still);
	if (rc == KEYSVC_SECRET_IN_USE && still > 0) {
		fprintf(stderr, "apikeyd: secret retire %" PRId64 ": refused: %" PRId64 " unrevoked key(s) were made with it; "
		        "each moves to the current secret at its next use (or revoke it); see `apikeyd secret list`\n", id, still);
		return 1;
	}
	if (rc == KEYSVC_SECRET_IN_USE) {
		fprintf(stderr, "apikeyd: secret retire %" PRId64 ": refused: it was current less than 3 s ago (a create "
		        "may still be using it); try again in a moment\n", id);
		return 1;
	}
	if (rc != KEYSVC_OK) {
		fprintf(stderr, "apikeyd: secret retire %" PRId64 ": %s\n", id,
		        rc == KEYSVC_UNSUPPORTED ? "an in-memory store has no keyring file" : keysvc_strerror(rc));
		return 1;
	}
	fprintf(stderr, "apikeyd: secret %" PRId64 " removed from %s\n", id, keysvc_secret_path(ks));
	return 0;
}

/* ---- backup ---- */

extern char **environ;

/* Runs argv (found in PATH), its output and errors on ours; 0 when it
   exited 0, else -1 with why. */
static int admin_spawn(char *const argv[], char *why, size_t len)
{
	pid_t pid;
	int st = 0, e = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);

	if (e != 0) {
		snprintf(why, len, "cannot run %s: %s (the PostgreSQL client programs are needed)", argv[0], strerror(e));
		return -1;
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		snprintf(why, len, "%s failed (exit %d; its message is above)", argv[0], WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		return -1;
	}
	return 0;
}

/* The store into file: SQLite's online backup, or pg_dump (one snapshot,
   the custom format pg_restore reads). */
static int admin_copy_store(keysvc *ks, const config *cfg, const char *file, char *why, size_t len)
{
	char out[4300], db[4300];

	if (strcmp(keysvc_store_backend(ks), "postgresql") != 0)
		return keysvc_backup(ks, file, why, len) == KEYSVC_OK ? 0 : -1;
	snprintf(out, sizeof out, "--file=%s", file);
	snprintf(db, sizeof db, "--dbname=%s", cfg->db_path);
	char *argv[] = { "pg_dump", "--format=custom", "--no-owner", "--no-privileges", out, db, NULL };
	return admin_spawn(argv, why, len);
}

/* SHA-256 of a file, in hex. */
static int admin_sha256(const char *path, char out[65])
{
	unsigned char buf[65536], d[32];
	gnutls_hash_hd_t h;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;

	if (fd < 0 || gnutls_hash_init(&h, GNUTLS_DIG_SHA256) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((n = read(fd, buf, sizeof buf)) > 0)
		gnutls_hash(h, buf, (size_t)n);
	gnutls_hash_deinit(h, d);
	if (n == 0) {
		for (int i = 0; i < 32; i++)
			snprintf(out + 2 * i, 3, "%02x", d[i]);
		rc = 0;
	}
	gnutls_memset(buf, 0, sizeof buf);
	close(fd);
	return rc;
}

/* DIR for a backup: created (0700), or an existing empty folder. */
static int admin_backup_dir(const char *dir)
{
	DIR *d;
	struct dirent *e;
	int empty = 1;

	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno != EEXIST) {
		fprintf(stderr, "apikeyd: backup: cannot create %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (!(d = opendir(dir))) {
		fprintf(stderr, "apikeyd: backup: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	if (!empty) {
		fprintf(stderr, "apikeyd: backup: %s exists and is not empty: name a new folder\n", dir);
		return -1;
	}
	return 0;
}

/* Writes text to path through a new file beside it: fsync, rename. */
static int admin_write_atomic(const char *path, const char *text)
{
	char tmp[4300];
	size_t len = strlen(text);
	int fd, rc = -1;

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (write(fd, text, len) == (ssize_t)len && fsync(fd) == 0)
		rc = 0;
	if (close(fd) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	if (rc != 0)
		unlink(tmp);
	return rc;
}

static int admin_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = -1;

	if (fd >= 0) {
		rc = fsync(fd);
		close(fd);
	}
	return rc;
}

static int admin_same_ring(const keyring *a, const keyring *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (a->s[i].id != b->s[i].id || memcmp(a->s[i].key, b->s[i].key, KEYRING_SECRET_LEN) != 0)
			return 0;
	return 1;
}

static int admin_backup(keysvc *ks, const config *cfg)
{
	const char *dir = cfg->args[1], *ringpath = keysvc_secret_path(ks);
	char store_file[4200], ring_file[4200], manifest[4200], why[600], err[600], sum_store[65], sum_ring[65];
	keyring before, after;
	json_t *m = NULL, *ids = NULL;
	char *text = NULL;
	int rc = 1, kr;

	memset(&before, 0, sizeof before);
	memset(&after, 0, sizeof after);
	int pg = strcmp(keysvc_store_backend(ks), "postgresql") == 0;

	if (!ringpath) {
		fprintf(stderr, "apikeyd: backup: an in-memory store has nothing to back up\n");
		return 1;
	}
	if (admin_backup_dir(dir) != 0)
		return 1;
	snprintf(store_file, sizeof store_file, "%s/%s", dir, pg ? ADMIN_BACKUP_PGDUMP : ADMIN_BACKUP_STORE);
	snprintf(ring_file, sizeof ring_file, "%s/" ADMIN_BACKUP_KEYRING, dir);
	snprintf(manifest, sizeof manifest, "%s/" ADMIN_BACKUP_MANIFEST, dir);
	/* the keyring before and after the snapshot: the same, or a rotation or
	   a retire ran meanwhile and the copy is taken again */
	for (int attempt = 0;; attempt++) {
		keyring_wipe(&before);
		keyring_wipe(&after);
		if ((kr = keyring_load(ringpath, &before, err, sizeof err)) != 0) {
			fprintf(stderr, "apikeyd: backup: the keyring: %s\n", kr > 0 ? "the file is gone" : err);
			goto cleanup;
		}
		if (admin_copy_store(ks, cfg, store_file, why, sizeof why) != 0) {
			fprintf(stderr, "apikeyd: backup: %s\n", why);
			unlink(store_file);
			goto cleanup;
		}
		if ((kr = keyring_load(ringpath, &after, err, sizeof err)) != 0) {
			fprintf(stderr, "apikeyd: backup: the keyring: %s\n", kr > 0 ? "the file is gone" : err);
			goto cleanup;
		}
		if (admin_same_ring(&before, &after))
			break;
		unlink(store_file);
		if (attempt == 2) {
			fprintf(stderr, "apikeyd: backup: the keyring changed during each of 3 copies; try again\n");
			goto cleanup;
		}
	}
	if (keyring_save(ring_file, &after, err, sizeof err) != 0) {
		fprintf(stderr, "apikeyd: backup: %s\n", err);
		goto cleanup;
	}
	if (admin_sha256(store_file, sum_store) != 0 || admin_sha256(ring_file, sum_ring) != 0) {
		fprintf(stderr, "apikeyd: backup: cannot read back the copy in %s\n", dir);
		goto cleanup;
	}
	ids = json_array();
	for (size_t i = 0; i < after.n; i++)
		json_array_append_new(ids, json_integer(after.s[i].id));
	m = json_pack("{ss ss so sI ss s{ss ss} s{ss ss sO}}", "format", ADMIN_BACKUP_FORMAT, "apikeyd", APIKEYD_VERSION,
	              "created", admin_json_time((int64_t)time(NULL)), "created_unix", (json_int_t)time(NULL),
	              "backend", keysvc_store_backend(ks),
	              "store", "file", pg ? ADMIN_BACKUP_PGDUMP : ADMIN_BACKUP_STORE, "sha256", sum_store,
	              "keyring", "file", ADMIN_BACKUP_KEYRING, "sha256", sum_ring, "secrets", ids);
	text = m ? json_dumps(m, JSON_INDENT(2)) : NULL;
	if (!text || admin_write_atomic(manifest, text) != 0 || admin_sync_dir(dir) != 0) {
		fprintf(stderr, "apikeyd: backup: cannot write %s\n", manifest);
		goto cleanup;
	}
	printf("%s\n", dir);
	fflush(stdout);
	fprintf(stderr, "apikeyd: backed up the store (%s) and the keyring (%zu secret(s)) into %s\n",
	        pg ? ADMIN_BACKUP_PGDUMP : ADMIN_BACKUP_STORE, after.n, dir);
	rc = 0;
cleanup:
	keyring_wipe(&before);
	keyring_wipe(&after);
	json_decref(ids);
	json_decref(m);
	free(text);
	return rc;
}

/* ---- restore ---- */

/* The backup in dir as its manifest describes it: checked, then ring loaded. */
static int admin_restore_check(const char *dir, keyring *ring, char *store_file, size_t len, char *kind, size_t klen)
{
	char manifest[4200], ring_file[4200], sum[65], err[600];
	const char *format = NULL, *backend = NULL, *sfile = NULL, *ssum = NULL, *rfile = NULL, *rsum = NULL;
	json_error_t je;
	json_t *m;
	int rc = -1;

	snprintf(manifest, sizeof manifest, "%s/" ADMIN_BACKUP_MANIFEST, dir);
	m = json_load_file(manifest, JSON_REJECT_DUPLICATES, &je);
	if (!m) {
		fprintf(stderr, "apikeyd: restore: %s: %s (not a folder `apikeyd backup` wrote?)\n", manifest, je.text);
		return -1;
	}
	if (json_unpack_ex(m, &je, 0, "{ss ss s{ss ss} s{ss ss}}", "format", &format, "backend", &backend, "store", "file",
	                   &sfile, "sha256", &ssum, "keyring", "file", &rfile, "sha256", &rsum) != 0 ||
	    strcmp(format, ADMIN_BACKUP_FORMAT) != 0) {
		fprintf(stderr, "apikeyd: restore: %s: not an \"%s\" manifest (%s)\n", manifest, ADMIN_BACKUP_FORMAT,
		        format ? format : je.text);
		goto cleanup;
	}
	if ((strcmp(backend, "sqlite") != 0 && strcmp(backend, "postgresql") != 0) || strchr(sfile, '/') || strchr(rfile, '/')) {
		fprintf(stderr, "apikeyd: restore: %s: a %s backup, or files outside the folder: not one this program "
		        "restores\n", manifest, backend);
		goto cleanup;
	}
	snprintf(kind, klen, "%s", backend);
	snprintf(store_file, len, "%s/%s", dir, sfile);
	snprintf(ring_file, sizeof ring_file, "%s/%s", dir, rfile);
	if (admin_sha256(store_file, sum) != 0 || strcmp(sum, ssum) != 0) {
		fprintf(stderr, "apikeyd: restore: %s: missing, or not the file the backup wrote (SHA-256 differs)\n",
		        store_file);
		goto cleanup;
	}
	if (admin_sha256(ring_file, sum) != 0 || strcmp(sum, rsum) != 0) {
		fprintf(stderr, "apikeyd: restore: %s: missing, or not the file the backup wrote (SHA-256 differs)\n",
		        ring_file);
		goto cleanup;
	}
	if (keyring_load(ring_file, ring, err, sizeof err) != 0) {
		fprintf(stderr, "apikeyd: restore: the keyring: %s\n", err);
		goto cleanup;
	}
	rc = 0;
cleanup:
	json_decref(m);
	return rc;
}

int admin_restore(const config *cfg, const char *secret_path, admin_open_fn open_ks)
{
	const char *dir, *be = store_backend_for(cfg->db_path);
	char store_file[4200], why[600], err[600], kind[16];
	struct stat sb;
	keyring ring;
	store_config sc;
	store *st = NULL;
	keysvc *ks = NULL;
	keysvc_secret_info *v = NULL;
	size_t n = 0;
	int rc = 1, db_exists, ring_exists;

	memset(&ring, 0, sizeof ring);
	if (cfg->n_args != 2) {
		fprintf(stderr, "apikeyd: restore: expected one folder: apikeyd restore DIR [--force]\n"
		        "Try 'apikeyd restore --help'.\n");
		return ADMIN_EXIT_USAGE;
	}
	dir = cfg->args[1];
	if (admin_restore_check(dir, &ring, store_file, sizeof store_file, kind, sizeof kind) != 0)
		goto cleanup;
	if (strcmp(kind, "sqlite") == 0 && (!be || strcmp(be, "sqlite") != 0 || strcmp(cfg->db_path, ":memory:") == 0)) {
		fprintf(stderr, "apikeyd: restore: an SQLite backup: --db must name an SQLite file; into PostgreSQL, copy it "
		        "with `apikeyd migrate --from %s/" ADMIN_BACKUP_STORE " --to URL` and its keyring to --secret\n", dir);
		rc = ADMIN_EXIT_USAGE;
		goto cleanup;
	}
	if (strcmp(kind, "postgresql") == 0 && (!be || strcmp(be, "postgresql") != 0 || cfg->force)) {
		fprintf(stderr, "apikeyd: restore: a PostgreSQL backup goes into an empty PostgreSQL database (--db "
		        "postgresql://...), never over a live one (no --force)\n");
		rc = ADMIN_EXIT_USAGE;
		goto cleanup;
	}
	db_exists = strcmp(kind, "sqlite") == 0 && stat(cfg->db_path, &sb) == 0 && sb.st_size > 0;
	ring_exists = stat(secret_path, &sb) == 0;
	if ((db_exists || ring_exists) && !cfg->force) {
		fprintf(stderr, "apikeyd: restore: %s exists (a live store?): refusing to overwrite it; --force replaces it "
		        "in place (a running apikeyd on it sees the restored keys at its next request)\n",
		        db_exists ? cfg->db_path : secret_path);
		goto cleanup;
	}
	if (strcmp(kind, "postgresql") == 0) {
		/* one transaction: a database that is not empty (a table exists)
		   fails it, and nothing is left half restored */
		char in[4300], db[4300];
		snprintf(in, sizeof in, "%s", store_file);
		snprintf(db, sizeof db, "--dbname=%s", cfg->db_path);
		char *argv[] = { "pg_restore", "--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges", db,
		                 in, NULL };
		if (admin_spawn(argv, why, sizeof why) != 0) {
			fprintf(stderr, "apikeyd: restore: %s; the target database must be empty\n", why);
			goto cleanup;
		}
	} else {
		/* the store first, through its backend (a live file is written under
		   SQLite's locks and its epoch moves), then the keyring it needs */
		memset(&sc, 0, sizeof sc);
		sc.path = cfg->db_path;
		sc.synchronous_full = 1;
		sc.group_commit = 1;
		if (store_open(&sc, &st, err, sizeof err) != 0) {
			fprintf(stderr, "apikeyd: restore: cannot open %s: %s\n", cfg->db_path, err);
			goto cleanup;
		}
		if (store_restore(st, store_file, why, sizeof why) != STORE_OK) {
			fprintf(stderr, "apikeyd: restore: into %s: %s\n", cfg->db_path, why);
			goto cleanup;
		}
		store_close(st);
		st = NULL;
	}
	if (keyring_save(secret_path, &ring, err, sizeof err) != 0) {
		fprintf(stderr, "apikeyd: restore: the keyring: %s\n", err);
		goto cleanup;
	}
	/* both together, as a server opens them: the check values match */
	if (open_ks(cfg, &ks, err, sizeof err) != 0) {
		fprintf(stderr, "apikeyd: restore: restored, but the store and the keyring do not open together: %s\n", err);
		goto cleanup;
	}
	if (keysvc_secret_list(ks, &v, &n) != KEYSVC_OK) {
		fprintf(stderr, "apikeyd: restore: restored, but the store cannot be read back\n");
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++)
		if (v[i].missing) {
			fprintf(stderr, "apikeyd: restore: %" PRId64 " key(s) need secret %" PRId64 ", which the keyring lacks\n",
			        v[i].keys, v[i].id);
			goto cleanup;
		}
	fprintf(stderr, "apikeyd: restored %s into the %s store, its keyring (%zu secret(s)) into %s\n", dir, kind, ring.n,
	        secret_path);
	rc = 0;
cleanup:
	free(v);
	if (st)
		store_close(st);
	if (ks)
		keysvc_close(ks);
	keyring_wipe(&ring);
	return rc;
}

/* ---- dispatch ---- */

int admin_run(keysvc *ks, const config *cfg)
{
	const char *w1 = cfg->args[0], *w2 = cfg->n_args > 1 ? cfg->args[1] : NULL;
	const admin_cmd *c = admin_find(w1, w2);
	size_t want;

	if (!c) {
		fprintf(stderr, "apikeyd: %s %s: no such command; the %s commands are:\n", w1, w2 ? w2 : "", w1);
		for (size_t i = 0; i < ADMIN_NCMDS; i++)
			if (strcmp(admin_cmds[i].word1, w1) == 0)
				fprintf(stderr, "  %s\n", admin_cmds[i].usage);
		return ADMIN_EXIT_USAGE;
	}
	want = (c->word2 ? 2 : 1) + (size_t)c->args;
	if (cfg->n_args != want) {
		fprintf(stderr, "apikeyd: %s%s%s: expected %s\nTry 'apikeyd %s%s%s --help'.\n", w1, c->word2 ? " " : "",
		        c->word2 ? c->word2 : "", c->usage, w1, c->word2 ? " " : "", c->word2 ? c->word2 : "");
		return ADMIN_EXIT_USAGE;
	}
	if (strcmp(w1, "user") == 0)
		return admin_user_list(ks, cfg);
	if (strcmp(w1, "audit") == 0)
		return admin_audit(ks, cfg);
	if (strcmp(w1, "backup") == 0)
		return admin_backup(ks, cfg);
	if (strcmp(w1, "key") == 0)
		return strcmp(w2, "list") == 0 ? admin_key_list(ks, cfg) : strcmp(w2, "show") == 0 ? admin_key_show(ks, cfg)
		     : admin_key_revoke(ks, cfg);
	return strcmp(w2, "list") == 0 ? admin_secret_list(ks, cfg) : strcmp(w2, "rotate") == 0 ? admin_secret_rotate(ks)
	     : admin_secret_retire(ks, cfg);
}
