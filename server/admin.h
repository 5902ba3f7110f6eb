/* admin.h — apikeyd's operating commands (issue 14): the key store as an
 * operator sees it, on a running server's database (SQLite with WAL, or
 * PostgreSQL), through the key service only, so every change reaches the
 * running servers' caches as an API request's would (the SQLite epoch row,
 * PostgreSQL's change rows and NOTIFY):
 *
 *   user list                          every user, with its unrevoked keys
 *   key list [--user U] [--family F]   keys, never the key itself nor its hash
 *   key show ID                        one key
 *   key revoke ID [--cascade]          refused by a running server at its next request
 *   audit [--since T]                  the audit rows, oldest first
 *   secret list | rotate | retire ID   the HMAC keyring (keysvc.h)
 *   backup DIR | restore DIR [--force] a consistent copy of the store and the keyring
 *
 * Listings print one tab-separated line per row (a name's control
 * characters shown as '?', so a name cannot forge a line or a column), or
 * with --json one JSON object per line. Results on standard output,
 * diagnostics on standard error; exit 0, 1 (the command failed) or 2 (bad
 * usage). */
#ifndef APIKEYD_ADMIN_H
#define APIKEYD_ADMIN_H
#include <stddef.h>

#include "config.h"
#include "keysvc.h"

#define ADMIN_EXIT_USAGE 2

/* 1 when cfg->args name one of the commands above (any arity: admin_run
   checks it). */
int admin_is_command(const config *cfg);
/* 1 for the one command that must not open the store first (restore). */
int admin_is_restore(const config *cfg);
/* Runs the command on an open key service; the exit status. */
int admin_run(keysvc *ks, const config *cfg);
/* apikeyd restore DIR [--force]: the copy's store into cfg->db_path and its
   keyring into secret_path, then checked by opening them (open_ks); the exit status. */
typedef int (*admin_open_fn)(const config *cfg, keysvc **ks, char *err, size_t errlen);
int admin_restore(const config *cfg, const char *secret_path, admin_open_fn open_ks);
/* `apikeyd WORD ... --help`: prints the command's help and returns 1 (exit
   0); 0 when argv is no operating command asking for help. */
int admin_help(int argc, char **argv);

#endif
