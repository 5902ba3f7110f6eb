/* tls: reloadable certificate and key for the HTTPS listener, imported once
 * per load (not per handshake), and session tickets. */
#include "tls.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <yder.h>

/* One loaded pair, immutable once built; shared by reference count. The
   chain and key are imported once, when loaded, and every handshake is
   handed the same ones (GnuTLS only reads them; the callback tells it not
   to free them). A pair replaced by a reload stays on the retired list
   until tls_shutdown: a handshake that took it just before the swap may
   still be using it, and a reload is rare and a pair small. */
typedef struct tls_pair {
    unsigned refs;
    gnutls_datum_t *certs;      /* DER chain, leaf first */
    unsigned n_certs;
    gnutls_datum_t key;         /* DER (PKCS#8 or native) */
    gnutls_x509_crt_fmt_t key_fmt;
    gnutls_pcert_st *pcerts;    /* certs, imported */
    gnutls_privkey_t privkey;   /* key, imported */
    gnutls_datum_t ticket_key;  /* session tickets' master key (tls_session_start) */
    struct tls_pair *retired;   /* the next pair on the retired list */
} tls_pair;

static struct {
    pthread_mutex_t lock;
    tls_pair *current;
    tls_pair *retired;          /* replaced pairs, each holding its list reference */
    char *cert_path, *key_path;
} tls_state = { PTHREAD_MUTEX_INITIALIZER, NULL, NULL, NULL, NULL };

int tls_check_priorities(char *err, size_t errlen)
{
    gnutls_priority_t p = NULL;
    const char *where = NULL;
    int r = gnutls_priority_init(&p, TLS_PRIORITIES, &where);
    if (r < 0) {
        snprintf(err, errlen, "GnuTLS rejects the priority string at \"%s\": %s",
                 where ? where : "?", gnutls_strerror(r));
        return -1;
    }
    gnutls_priority_deinit(p);
    return 0;
}

int tls_server_init(tls_server *t, const char *client_ca_pem, char *err, size_t errlen)
{
    int r;

    t->cred = NULL;
    t->priorities = NULL;
    if ((r = gnutls_certificate_allocate_credentials(&t->cred)) < 0 ||
        (r = gnutls_priority_init(&t->priorities, TLS_PRIORITIES, NULL)) < 0) {
        snprintf(err, errlen, "TLS: cannot set up the listener's sessions: %s", gnutls_strerror(r));
        tls_server_free(t);
        return -1;
    }
    gnutls_certificate_set_retrieve_function3(t->cred, tls_cert_callback);
    if (client_ca_pem != NULL) {
        gnutls_datum_t d = { (unsigned char *)client_ca_pem, (unsigned)strlen(client_ca_pem) };
        if ((r = gnutls_certificate_set_x509_trust_mem(t->cred, &d, GNUTLS_X509_FMT_PEM)) <= 0) {
            snprintf(err, errlen, "--tls-client-ca: %s", r < 0 ? gnutls_strerror(r) : "no certificate");
            tls_server_free(t);
            return -1;
        }
    }
    return 0;
}

void tls_server_free(tls_server *t)
{
    if (t->cred != NULL) gnutls_certificate_free_credentials(t->cred);
    if (t->priorities != NULL) gnutls_priority_deinit(t->priorities);
    t->cred = NULL;
    t->priorities = NULL;
}

int tls_read_file(const char *path, char **out, char *err, size_t errlen)
{
    gnutls_datum_t d = { NULL, 0 };
    int r = gnutls_load_file(path, &d);
    *out = NULL;
    if (r < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, errno ? strerror(errno) : gnutls_strerror(r));
        return -1;
    }
    *out = malloc(d.size + 1);
    if (*out == NULL) { gnutls_free(d.data); snprintf(err, errlen, "out of memory"); return -1; }
    memcpy(*out, d.data, d.size);
    (*out)[d.size] = '\0';
    memset(d.data, 0, d.size);
    gnutls_free(d.data);
    return 0;
}

static void pair_free(tls_pair *p)
{
    if (p == NULL) return;
    if (p->pcerts) {
        for (unsigned i = 0; i < p->n_certs; i++) gnutls_pcert_deinit(&p->pcerts[i]);
        free(p->pcerts);
    }
    if (p->privkey) gnutls_privkey_deinit(p->privkey);
    if (p->ticket_key.data) {
        gnutls_memset(p->ticket_key.data, 0, p->ticket_key.size);
        gnutls_free(p->ticket_key.data);
    }
    for (unsigned i = 0; i < p->n_certs; i++) gnutls_free(p->certs[i].data);
    free(p->certs);
    if (p->key.data) {
        memset(p->key.data, 0, p->key.size);
        gnutls_free(p->key.data);
    }
    free(p);
}

static void pair_unref(tls_pair *p)
{
    int last;
    if (p == NULL) return;
    pthread_mutex_lock(&tls_state.lock);
    last = --p->refs == 0;
    pthread_mutex_unlock(&tls_state.lock);
    if (last) pair_free(p);
}

static tls_pair *pair_current(void)
{
    tls_pair *p;
    pthread_mutex_lock(&tls_state.lock);
    p = tls_state.current;
    if (p) p->refs++;
    pthread_mutex_unlock(&tls_state.lock);
    return p;
}

/* Makes p current (under tls_state.lock); the pair it replaces goes to the
   retired list with the reference the state held. */
static void pair_retire(tls_pair *p)
{
    tls_pair *old = tls_state.current;
    tls_state.current = p;
    if (old != NULL) {
        old->retired = tls_state.retired;
        tls_state.retired = old;
    }
}

/* The leaf's validity period against now: 0, or -1 with why set. */
static int pair_check_time(gnutls_x509_crt_t leaf, const char *cert_path, char *why, size_t len)
{
    time_t now = time(NULL), from = gnutls_x509_crt_get_activation_time(leaf),
           until = gnutls_x509_crt_get_expiration_time(leaf);
    char when[32];
    struct tm tm;

    if (until != (time_t)-1 && now > until) {
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&until, &tm));
        snprintf(why, len, "%s: the certificate expired on %s", cert_path, when);
        return -1;
    }
    if (from != (time_t)-1 && now < from) {
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&from, &tm));
        snprintf(why, len, "%s: the certificate is not valid before %s", cert_path, when);
        return -1;
    }
    return 0;
}

/* Warns when others than the owner can read the key file. */
static void pair_check_key_mode(const char *key_path)
{
    struct stat st;
    if (stat(key_path, &st) == 0 && (st.st_mode & 077) != 0)
        y_log_message(Y_LOG_LEVEL_WARNING, "TLS key %s is readable by group or others (mode %04o); "
                      "chmod 600 it", key_path, (unsigned)(st.st_mode & 07777));
}

/* Loads and checks a pair: the chain parses, the key parses, and the key
   belongs to the leaf certificate; the leaf's validity period covers now
   (refused when strict_time, a warning otherwise). */
static int pair_load(const char *cert_path, const char *key_path, int strict_time, tls_pair **out,
        char *err, size_t errlen)
{
    char why[300];
    gnutls_datum_t cert_file = { NULL, 0 }, key_file = { NULL, 0 };
    gnutls_x509_crt_t *crts = NULL;
    unsigned n_crts = 0;
    gnutls_privkey_t pk = NULL;
    gnutls_pubkey_t pub_cert = NULL, pub_key = NULL;
    gnutls_x509_privkey_t xk = NULL;
    unsigned char id1[64], id2[64];
    size_t id1_len = sizeof id1, id2_len = sizeof id2;
    tls_pair *p = NULL;
    int r, rc = -1;

    *out = NULL;
    if ((r = gnutls_load_file(cert_path, &cert_file)) < 0) {
        snprintf(err, errlen, "cannot read certificate %s: %s", cert_path, gnutls_strerror(r));
        goto cleanup;
    }
    if ((r = gnutls_load_file(key_path, &key_file)) < 0) {
        snprintf(err, errlen, "cannot read key %s: %s", key_path, gnutls_strerror(r));
        goto cleanup;
    }
    r = gnutls_x509_crt_list_import2(&crts, &n_crts, &cert_file, GNUTLS_X509_FMT_PEM, 0);
    if (r < 0 || n_crts == 0) {
        snprintf(err, errlen, "%s: not a PEM certificate chain: %s", cert_path,
                 r < 0 ? gnutls_strerror(r) : "no certificate");
        goto cleanup;
    }
    if ((r = gnutls_privkey_init(&pk)) < 0 ||
        (r = gnutls_privkey_import_x509_raw(pk, &key_file, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
        snprintf(err, errlen, "%s: not a usable PEM private key (unencrypted PKCS#8, RSA or EC): %s",
                 key_path, gnutls_strerror(r));
        goto cleanup;
    }
    if ((r = gnutls_pubkey_init(&pub_cert)) < 0 || (r = gnutls_pubkey_import_x509(pub_cert, crts[0], 0)) < 0 ||
        (r = gnutls_pubkey_init(&pub_key)) < 0 || (r = gnutls_pubkey_import_privkey(pub_key, pk, 0, 0)) < 0 ||
        (r = gnutls_pubkey_get_key_id(pub_cert, GNUTLS_KEYID_USE_SHA256, id1, &id1_len)) < 0 ||
        (r = gnutls_pubkey_get_key_id(pub_key, GNUTLS_KEYID_USE_SHA256, id2, &id2_len)) < 0) {
        snprintf(err, errlen, "%s / %s: cannot compare key and certificate: %s", cert_path, key_path,
                 gnutls_strerror(r));
        goto cleanup;
    }
    if (id1_len != id2_len || memcmp(id1, id2, id1_len) != 0) {
        snprintf(err, errlen, "%s does not hold the key of the certificate in %s", key_path, cert_path);
        goto cleanup;
    }
    if (pair_check_time(crts[0], cert_path, why, sizeof why) != 0) {
        if (strict_time) {
            snprintf(err, errlen, "%s", why);
            goto cleanup;
        }
        y_log_message(Y_LOG_LEVEL_WARNING, "TLS: %s; clients will refuse it", why);
    }
    pair_check_key_mode(key_path);
    p = calloc(1, sizeof *p);
    if (p == NULL || (p->certs = calloc(n_crts, sizeof *p->certs)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto cleanup;
    }
    for (unsigned i = 0; i < n_crts; i++) {
        if ((r = gnutls_x509_crt_export2(crts[i], GNUTLS_X509_FMT_DER, &p->certs[i])) < 0) {
            snprintf(err, errlen, "%s: certificate %u: %s", cert_path, i + 1, gnutls_strerror(r));
            goto cleanup;
        }
        p->n_certs = i + 1;
    }
    if ((r = gnutls_privkey_export_x509(pk, &xk)) < 0 ||
        (r = gnutls_x509_privkey_export2_pkcs8(xk, GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN, &p->key)) < 0) {
        snprintf(err, errlen, "%s: cannot export key: %s", key_path, gnutls_strerror(r));
        goto cleanup;
    }
    p->key_fmt = GNUTLS_X509_FMT_DER;
    /* what every handshake is handed (tls_cert_callback) */
    if ((p->pcerts = calloc(p->n_certs, sizeof *p->pcerts)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto cleanup;
    }
    for (unsigned i = 0; i < p->n_certs; i++) {
        if ((r = gnutls_pcert_import_x509_raw(&p->pcerts[i], &p->certs[i], GNUTLS_X509_FMT_DER, 0)) < 0) {
            for (unsigned j = 0; j < i; j++) gnutls_pcert_deinit(&p->pcerts[j]);
            free(p->pcerts);
            p->pcerts = NULL;
            snprintf(err, errlen, "%s: certificate %u: %s", cert_path, i + 1, gnutls_strerror(r));
            goto cleanup;
        }
    }
    if ((r = gnutls_privkey_init(&p->privkey)) < 0 ||
        (r = gnutls_privkey_import_x509_raw(p->privkey, &p->key, p->key_fmt, NULL, 0)) < 0) {
        snprintf(err, errlen, "%s: cannot import key: %s", key_path, gnutls_strerror(r));
        goto cleanup;
    }
    /* a new ticket master key with every load: a reload also ends the
       tickets issued before it */
    if ((r = gnutls_session_ticket_key_generate(&p->ticket_key)) < 0) {
        snprintf(err, errlen, "cannot make a session ticket key: %s", gnutls_strerror(r));
        goto cleanup;
    }
    p->refs = 1;
    *out = p;
    p = NULL;
    rc = 0;
cleanup:
    pair_free(p);
    if (xk) gnutls_x509_privkey_deinit(xk);
    if (pub_cert) gnutls_pubkey_deinit(pub_cert);
    if (pub_key) gnutls_pubkey_deinit(pub_key);
    if (pk) gnutls_privkey_deinit(pk);
    for (unsigned i = 0; i < n_crts; i++) gnutls_x509_crt_deinit(crts[i]);
    gnutls_free(crts);
    if (key_file.data) { memset(key_file.data, 0, key_file.size); gnutls_free(key_file.data); }
    gnutls_free(cert_file.data);
    return rc;
}

int tls_init(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
    tls_pair *p = NULL;
    if (pair_load(cert_path, key_path, 0, &p, err, errlen) != 0) return -1;
    pthread_mutex_lock(&tls_state.lock);
    free(tls_state.cert_path);
    free(tls_state.key_path);
    tls_state.cert_path = strdup(cert_path);
    tls_state.key_path = strdup(key_path);
    pair_retire(p);
    pthread_mutex_unlock(&tls_state.lock);
    return 0;
}

int tls_reload(char *err, size_t errlen)
{
    tls_pair *p = NULL;
    char *cert_path, *key_path;
    int rc;

    pthread_mutex_lock(&tls_state.lock);
    cert_path = tls_state.cert_path ? strdup(tls_state.cert_path) : NULL;
    key_path = tls_state.key_path ? strdup(tls_state.key_path) : NULL;
    pthread_mutex_unlock(&tls_state.lock);
    if (cert_path == NULL || key_path == NULL) {
        snprintf(err, errlen, "TLS is not configured");
        rc = -1;
        goto cleanup;
    }
    rc = pair_load(cert_path, key_path, 1, &p, err, errlen);
    if (rc != 0) goto cleanup;
    pthread_mutex_lock(&tls_state.lock);
    pair_retire(p);
    pthread_mutex_unlock(&tls_state.lock);
cleanup:
    free(cert_path);
    free(key_path);
    return rc;
}

void tls_shutdown(void)
{
    tls_pair *old, *retired;
    pthread_mutex_lock(&tls_state.lock);
    old = tls_state.current;
    tls_state.current = NULL;
    retired = tls_state.retired;
    tls_state.retired = NULL;
    free(tls_state.cert_path);
    free(tls_state.key_path);
    tls_state.cert_path = tls_state.key_path = NULL;
    pthread_mutex_unlock(&tls_state.lock);
    pair_unref(old);
    while (retired) {
        tls_pair *next = retired->retired;
        pair_unref(retired);
        retired = next;
    }
}

int tls_fingerprint(char *buf, size_t len)
{
    tls_pair *p = pair_current();
    unsigned char md[32];
    size_t o = 0;
    int rc = -1;

    if (p == NULL) return -1;
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, p->certs[0].data, p->certs[0].size, md) == 0 && len >= 96) {
        for (size_t i = 0; i < sizeof md; i++)
            o += (size_t)snprintf(buf + o, len - o, i ? ":%02X" : "%02X", md[i]);
        rc = 0;
    }
    pair_unref(p);
    return rc;
}

int tls_cert_callback(gnutls_session_t session, const struct gnutls_cert_retr_st *info,
        gnutls_pcert_st **certs, unsigned int *certs_length,
        gnutls_ocsp_data_st **ocsp, unsigned int *ocsp_length,
        gnutls_privkey_t *privkey, unsigned int *flags)
{
    tls_pair *p = pair_current();

    (void)session;
    (void)info;
    *certs = NULL;
    *certs_length = 0;
    *ocsp = NULL;
    *ocsp_length = 0;
    *privkey = NULL;
    if (p == NULL) return -1;
    /* the pair's own imports, shared by every handshake: GnuTLS must not
       free them (flags 0); the pair lives until tls_shutdown (retired) */
    *certs = p->pcerts;
    *certs_length = p->n_certs;
    *privkey = p->privkey;
    *flags = 0;
    pair_unref(p);
    return 0;
}

int tls_session_start(gnutls_session_t session)
{
    tls_pair *p = pair_current();
    int r;

    if (p == NULL) return -1;
    /* TLS 1.3 tickets (and 1.2 ones) under the pair's master key; GnuTLS
       derives the key that encrypts them from it and rotates that key
       every TLS_TICKET_LIFETIME (its TOTP scheme, GnuTLS >= 3.6.4), and a
       ticket is good for as long */
    gnutls_db_set_cache_expiration(session, TLS_TICKET_LIFETIME);
    r = gnutls_session_ticket_enable_server(session, &p->ticket_key);
    pair_unref(p);
    return r < 0 ? -1 : 0;
}

void tls_require_client_cert(gnutls_session_t session)
{
    gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
    /* verify the chain during the handshake (no host name for clients) */
    gnutls_session_set_verify_cert(session, NULL, 0);
}
