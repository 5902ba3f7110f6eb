/* certgen: a self-signed localhost certificate through GnuTLS's x509 API. */
#include "certgen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Writes data to path via path.tmp + rename, with the given mode. */
static int write_file(const char *path, const gnutls_datum_t *d, mode_t mode, char *err, size_t errlen)
{
    char tmp[4096];
    int fd = -1, rc = -1;
    size_t off = 0;

    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    while (off < d->size) {
        ssize_t n = write(fd, d->data + off, d->size - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno)); goto cleanup; }
        off += (size_t)n;
    }
    if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
        snprintf(err, errlen, "cannot finish %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    if (close(fd) != 0) { fd = -1; snprintf(err, errlen, "cannot close %s: %s", tmp, strerror(errno)); goto cleanup; }
    fd = -1;
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (fd >= 0) close(fd);
    if (rc != 0) unlink(tmp);
    return rc;
}

#define GT(call) do { int r_ = (call); if (r_ < 0) { \
        snprintf(err, errlen, "certificate generation: %s: %s", #call, gnutls_strerror(r_)); \
        goto cleanup; } } while (0)

int certgen_create(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t cert_pem = { NULL, 0 }, key_pem = { NULL, 0 };
    unsigned char serial[16], v4[4], v6[16], keyid[64];
    size_t keyid_len = sizeof keyid;
    time_t now = time(NULL);
    int rc = -1;

    GT(gnutls_x509_privkey_init(&key));
    GT(gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
            GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0));
    GT(gnutls_x509_crt_init(&crt));
    GT(gnutls_x509_crt_set_version(crt, 3));
    GT(gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof serial));
    serial[0] &= 0x7F;                       /* positive */
    serial[0] |= 0x01;                       /* and no leading zero byte */
    GT(gnutls_x509_crt_set_serial(crt, serial, sizeof serial));
    GT(gnutls_x509_crt_set_activation_time(crt, now - 60));
    GT(gnutls_x509_crt_set_expiration_time(crt, now + 365 * 24 * 3600));
    GT(gnutls_x509_crt_set_dn(crt, "CN=localhost,O=apikeyd self-signed", NULL));
    GT(gnutls_x509_crt_set_key(crt, key));
    /* a leaf (CA:FALSE, signing only, serverAuth): clients trust this very
       certificate (curl --cacert FILE), it issues nothing */
    GT(gnutls_x509_crt_set_basic_constraints(crt, 0, -1));
    GT(gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE));
    GT(gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0));
    GT(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "localhost", 9, GNUTLS_FSAN_APPEND));
    inet_pton(AF_INET, "127.0.0.1", v4);
    inet_pton(AF_INET6, "::1", v6);
    GT(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, v4, sizeof v4, GNUTLS_FSAN_APPEND));
    GT(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, v6, sizeof v6, GNUTLS_FSAN_APPEND));
    GT(gnutls_x509_crt_get_key_id(crt, 0, keyid, &keyid_len));
    GT(gnutls_x509_crt_set_subject_key_id(crt, keyid, keyid_len));
    GT(gnutls_x509_crt_set_authority_key_id(crt, keyid, keyid_len));
    GT(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0));
    GT(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cert_pem));
    GT(gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &key_pem));
    if (write_file(key_path, &key_pem, 0600, err, errlen) != 0) goto cleanup;
    if (write_file(cert_path, &cert_pem, 0644, err, errlen) != 0) goto cleanup;
    rc = 0;
cleanup:
    if (key_pem.data) {
        memset(key_pem.data, 0, key_pem.size);
        gnutls_free(key_pem.data);
    }
    gnutls_free(cert_pem.data);
    if (crt) gnutls_x509_crt_deinit(crt);
    if (key) gnutls_x509_privkey_deinit(key);
    return rc;
}

int certgen_ensure(const char *cert_path, const char *key_path, int *created,
        char *err, size_t errlen)
{
    int have_cert = access(cert_path, F_OK) == 0;
    int have_key = access(key_path, F_OK) == 0;

    *created = 0;
    if (have_cert && have_key) return 0;
    if (have_cert != have_key) {
        snprintf(err, errlen, "%s exists but %s does not; remove it to have a new "
                 "self-signed pair created, or pass --tls-cert and --tls-key",
                 have_cert ? cert_path : key_path, have_cert ? key_path : cert_path);
        return -1;
    }
    if (certgen_create(cert_path, key_path, err, errlen) != 0) return -1;
    *created = 1;
    return 0;
}
