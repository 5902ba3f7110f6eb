/* certgen: the self-signed certificate apikeyd uses when no --tls-cert and
 * --tls-key are given. ECDSA P-256, CN=localhost, SANs localhost, 127.0.0.1
 * and ::1, valid 365 days, made with GnuTLS's x509 API. The key file is
 * written with mode 0600. Nothing is allocated for the caller. */
#ifndef APIKEYD_CERTGEN_H
#define APIKEYD_CERTGEN_H
#include <stddef.h>

/* Writes a new key and self-signed certificate to key_path and cert_path
   (each through a temporary file and rename). Returns 0 or -1 with err. */
int certgen_create(const char *cert_path, const char *key_path, char *err, size_t errlen);

/* Reuses cert_path and key_path when both exist, creates them when neither
   does (*created = 1), and fails when only one of them is there. */
int certgen_ensure(const char *cert_path, const char *key_path, int *created,
        char *err, size_t errlen);

#endif
