/*
 * sha256.c — SHA-256 through OpenSSL's EVP interface, and random ids.
 */
#include <keel/util.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static void to_hex(const unsigned char *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

int keel_sha256_init(keel_sha256 *h, keel_err *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return keel_errf(err, KEEL_ENOMEM, "sha256: cannot allocate context");
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return keel_errf(err, KEEL_EINTERNAL, "sha256: digest init failed");
    }
    h->ctx = ctx;
    return KEEL_OK;
}

void keel_sha256_update(keel_sha256 *h, const void *p, size_t n)
{
    EVP_DigestUpdate(h->ctx, p, n);
}

void keel_sha256_final(keel_sha256 *h, char out_hex[KEEL_SHA256_HEX_LEN + 1])
{
    unsigned char md[32];
    unsigned int len = 0;
    EVP_DigestFinal_ex(h->ctx, md, &len);
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
    to_hex(md, 32, out_hex);
}

void keel_sha256_abort(keel_sha256 *h)
{
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}

int keel_sha256_hex(const void *p, size_t n, char out_hex[KEEL_SHA256_HEX_LEN + 1],
                    keel_err *err)
{
    keel_sha256 h = { 0 };
    int rc = keel_sha256_init(&h, err);
    if (rc != KEEL_OK)
        return rc;
    keel_sha256_update(&h, p, n);
    keel_sha256_final(&h, out_hex);
    return KEEL_OK;
}

int keel_sha256_file(const char *path, char out_hex[KEEL_SHA256_HEX_LEN + 1],
                     int64_t *out_size, keel_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return keel_errf(err, KEEL_EIO, "%s: %s", path, strerror(errno));
    keel_sha256 h = { 0 };
    int rc = keel_sha256_init(&h, err);
    if (rc != KEEL_OK) {
        close(fd);
        return rc;
    }
    static const size_t chunk = 1 << 16;
    unsigned char buf[1 << 16];
    int64_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = keel_errf(err, KEEL_EIO, "%s: read: %s", path, strerror(errno));
            keel_sha256_abort(&h);
            close(fd);
            return rc;
        }
        if (n == 0)
            break;
        keel_sha256_update(&h, buf, (size_t)n);
        total += n;
    }
    close(fd);
    keel_sha256_final(&h, out_hex);
    if (out_size != NULL)
        *out_size = total;
    return KEEL_OK;
}

int keel_random_hex32(char out[33], keel_err *err)
{
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1)
        return keel_errf(err, KEEL_EINTERNAL, "random: RAND_bytes failed");
    to_hex(bytes, sizeof bytes, out);
    return KEEL_OK;
}
