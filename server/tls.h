/* tls: the HTTPS listener's certificate and key, swappable at run time.
 *
 * tls_init() reads the PEM certificate chain and key; tls_reload() re-reads
 * them (SIGHUP) and swaps them in atomically, keeping the old pair when the
 * new files are bad: unparsable, a key that is not the certificate's, or a
 * certificate outside its validity period (tls_init only warns of that).
 * Both warn when the key file is readable by group or others. A pair is
 * imported (X.509 chain and private key) once, when loaded; every handshake
 * is handed the current pair's imports through tls_cert_callback, and a
 * replaced pair is kept until tls_shutdown(), so a swap never touches a
 * connection in progress. tls_session_start() turns on session tickets for
 * a new connection: a returning client resumes without the full handshake
 * (no certificate, no signature). The state is process-wide;
 * tls_shutdown() frees it. */
#ifndef APIKEYD_TLS_H
#define APIKEYD_TLS_H
#include <stddef.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

/* TLS 1.3 and 1.2 only, AEAD ciphers with ECDHE, server preference. Key
   exchange X25519 first, then P-256: SECURE256 alone put P-384 first, and
   with server precedence every handshake paid a P-384 key pair and ECDH
   (3.5 of the 6.9 million instructions of a new connection's handshake and
   request, callgrind), and a client that sent only an X25519 share (curl
   with OpenSSL) a HelloRetryRequest round trip. */
#define TLS_PRIORITIES "SECURE256:+SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" \
    "-CIPHER-ALL:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-GCM:-MAC-ALL:+AEAD:" \
    "-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:" \
    "-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:+GROUP-X448:+GROUP-SECP521R1:" \
    "%SERVER_PRECEDENCE"

/* Checks that GnuTLS accepts TLS_PRIORITIES. */
int tls_check_priorities(char *err, size_t errlen);

int tls_init(const char *cert_path, const char *key_path, char *err, size_t errlen);
int tls_reload(char *err, size_t errlen);
void tls_shutdown(void);

/* SHA-256 fingerprint of the current leaf certificate, "AB:CD:..." */
int tls_fingerprint(char *buf, size_t len);

/* For MHD_OPTION_HTTPS_CERT_CALLBACK2. */
int tls_cert_callback(gnutls_session_t session, const struct gnutls_cert_retr_st *info,
        gnutls_pcert_st **certs, unsigned int *certs_length,
        gnutls_ocsp_data_st **ocsp, unsigned int *ocsp_length,
        gnutls_privkey_t *privkey, unsigned int *flags);

/* How long a session ticket is good for, in seconds; also the period of
   GnuTLS's rotation of the key that encrypts tickets. */
#define TLS_TICKET_LIFETIME 3600

/* Session tickets for session (a new server session, before its handshake),
   under the current pair's ticket master key, made anew with every load.
   0, or -1 (no pair, or GnuTLS refused): the session then does full
   handshakes only. */
int tls_session_start(gnutls_session_t session);

/* Makes session demand and verify a client certificate against the trust
   the daemon was given (MHD_OPTION_HTTPS_MEM_TRUST): no certificate, or one
   that does not verify, fails the handshake. */
void tls_require_client_cert(gnutls_session_t session);

/* The TLS listener's gate makes its sessions itself (gate.h): credentials
   that hand every handshake the current pair (tls_cert_callback) and, with
   client_ca_pem (NULL: none), trust the client certificates it signed, and
   TLS_PRIORITIES' cache. 0, or -1 with why in err. Freed with
   tls_server_free, after the last session made with them is gone. */
typedef struct tls_server {
    gnutls_certificate_credentials_t cred;
    gnutls_priority_t priorities;
} tls_server;
int tls_server_init(tls_server *t, const char *client_ca_pem, char *err, size_t errlen);
void tls_server_free(tls_server *t);

/* Reads a whole file into a NUL-terminated buffer (free()). */
int tls_read_file(const char *path, char **out, char *err, size_t errlen);

#endif
