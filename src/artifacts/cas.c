/*
 * cas.c — the content-addressed object store: SHA-256 named, immutable files
 * under one root directory.
 *
 * Layout: ROOT/ab/<62 more hex digits> holds the object whose SHA-256 is
 * "ab…"; ROOT/tmp/ holds objects being written. Invariants:
 *   - an object file is complete or absent: bytes go to a temp file in
 *     ROOT/tmp (same filesystem), which is fsynced, renamed into its shard
 *     and the shard directory fsynced;
 *   - storing bytes that are already present keeps the existing object and
 *     drops the temp file (deduplication);
 *   - every read recomputes the hash, and nothing reaches a caller's file or
 *     buffer unless it matches (KEEL_ECORRUPT otherwise);
 *   - a hash is validated (64 lowercase hex digits) before it is turned into
 *     a path, so no caller string can name a file outside the store;
 *   - data moves through a 64 KiB buffer; no object is ever loaded whole
 *     except by keel_cas_get_bytes, which has a caller-given cap.
 */
#include <keel/artifacts.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CAS_CHUNK (64 * 1024)

struct keel_cas {
    char root[PATH_MAX];
    char tmp_dir[PATH_MAX];
};

struct keel_cas_writer {
    keel_cas *cas;
    int fd;
    char tmp_path[PATH_MAX];
    keel_sha256 hash;
    int64_t size;
    size_t buf_len;
    unsigned char buf[CAS_CHUNK];
};

static bool hash_is_valid(const char *hash)
{
    if (hash == NULL)
        return false;
    for (int i = 0; i < KEEL_SHA256_HEX_LEN; i++) {
        char c = hash[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return hash[KEEL_SHA256_HEX_LEN] == '\0';
}

static int check_hash(const char *hash, keel_err *err)
{
    if (hash_is_valid(hash))
        return KEEL_OK;
    if (hash == NULL)
        return keel_errf(err, KEEL_EINVAL, "object hash is NULL");
    return keel_errf(err, KEEL_EINVAL,
                     "object hash '%.80s' is not 64 lowercase hex digits", hash);
}

/* Writes the shard directory ROOT/ab into out. hash must be valid. */
static int shard_dir(const keel_cas *cas, const char *hash, char *out, size_t out_size,
                     keel_err *err)
{
    int n = snprintf(out, out_size, "%s/%.2s", cas->root, hash);
    if (n < 0 || (size_t)n >= out_size)
        return keel_errf(err, KEEL_ELIMIT, "object %s: path too long", hash);
    return KEEL_OK;
}

/* The directory part of path, for fsync after a rename. */
static void dir_of(const char *path, char *out, size_t out_size)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(out, out_size, ".");
    else if (slash == path)
        snprintf(out, out_size, "/");
    else
        snprintf(out, out_size, "%.*s", (int)(slash - path), path);
}

/* Writes all n bytes to fd; errno is set on failure. */
static int write_all(int fd, const void *p, size_t n)
{
    const unsigned char *at = p;
    while (n > 0) {
        ssize_t w = write(fd, at, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        at += w;
        n -= (size_t)w;
    }
    return 0;
}

/* read() that retries on EINTR. */
static ssize_t read_some(int fd, void *p, size_t n)
{
    for (;;) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        return r;
    }
}

int keel_cas_open(const char *root, keel_cas **out, keel_err *err)
{
    if (root == NULL || root[0] == '\0' || out == NULL)
        return keel_errf(err, KEEL_EINVAL, "object store root is empty");
    /* Leave room for "/ab/" + 62 digits below the root. */
    if (strlen(root) + 4 + KEEL_SHA256_HEX_LEN >= PATH_MAX)
        return keel_errf(err, KEEL_ELIMIT, "object store root '%s' is too long", root);
    keel_cas *cas = calloc(1, sizeof *cas);
    if (cas == NULL)
        return keel_errf(err, KEEL_ENOMEM, "object store '%s': out of memory", root);
    snprintf(cas->root, sizeof cas->root, "%s", root);
    snprintf(cas->tmp_dir, sizeof cas->tmp_dir, "%s/tmp", root);
    int rc = keel_mkdir_p(cas->tmp_dir, err);
    if (rc != KEEL_OK) {
        keel_err_prefix(err, "object store '%s'", root);
        free(cas);
        return rc;
    }
    *out = cas;
    return KEEL_OK;
}

void keel_cas_close(keel_cas *cas)
{
    free(cas);
}

int keel_cas_object_path(keel_cas *cas, const char *hash, char *out, size_t out_size,
                         keel_err *err)
{
    if (cas == NULL || out == NULL || out_size == 0)
        return keel_errf(err, KEEL_EINVAL, "object path: missing argument");
    int rc = check_hash(hash, err);
    if (rc != KEEL_OK)
        return rc;
    int n = snprintf(out, out_size, "%s/%.2s/%s", cas->root, hash, hash + 2);
    if (n < 0 || (size_t)n >= out_size)
        return keel_errf(err, KEEL_ELIMIT, "object %s: path does not fit in %zu bytes", hash,
                         out_size);
    return KEEL_OK;
}

bool keel_cas_has(keel_cas *cas, const char *hash)
{
    char path[PATH_MAX];
    if (cas == NULL || !hash_is_valid(hash))
        return false;
    if (keel_cas_object_path(cas, hash, path, sizeof path, NULL) != KEEL_OK)
        return false;
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- writing ---- */

int keel_cas_writer_begin(keel_cas *cas, keel_cas_writer **out, keel_err *err)
{
    if (cas == NULL || out == NULL)
        return keel_errf(err, KEEL_EINVAL, "object writer: missing argument");
    keel_cas_writer *w = malloc(sizeof *w);
    if (w == NULL)
        return keel_errf(err, KEEL_ENOMEM, "object writer: out of memory");
    w->cas = cas;
    w->size = 0;
    w->buf_len = 0;
    w->hash.ctx = NULL;
    w->fd = -1;
    int rc = KEEL_OK;
    int n = snprintf(w->tmp_path, sizeof w->tmp_path, "%s/obj-XXXXXX", cas->tmp_dir);
    if (n < 0 || (size_t)n >= sizeof w->tmp_path) {
        rc = keel_errf(err, KEEL_ELIMIT, "%s: temp object path too long", cas->tmp_dir);
        goto fail;
    }
    w->fd = mkstemp(w->tmp_path);
    if (w->fd < 0) {
        rc = keel_errf(err, KEEL_EIO, "%s: create temp object: %s", w->tmp_path,
                       strerror(errno));
        goto fail;
    }
    rc = keel_sha256_init(&w->hash, err);
    if (rc != KEEL_OK)
        goto fail;
    *out = w;
    return KEEL_OK;

fail:
    if (w->fd >= 0) {
        close(w->fd);
        unlink(w->tmp_path);
    }
    free(w);
    return rc;
}

static int writer_flush(keel_cas_writer *w, keel_err *err)
{
    if (w->buf_len == 0)
        return KEEL_OK;
    if (write_all(w->fd, w->buf, w->buf_len) != 0)
        return keel_errf(err, KEEL_EIO, "%s: write: %s", w->tmp_path, strerror(errno));
    w->buf_len = 0;
    return KEEL_OK;
}

int keel_cas_writer_write(keel_cas_writer *w, const void *p, size_t n, keel_err *err)
{
    if (w == NULL || (p == NULL && n > 0))
        return keel_errf(err, KEEL_EINVAL, "object writer: missing argument");
    if (n == 0)
        return KEEL_OK;
    keel_sha256_update(&w->hash, p, n);
    w->size += (int64_t)n;
    if (w->buf_len + n <= sizeof w->buf) {
        memcpy(w->buf + w->buf_len, p, n);
        w->buf_len += n;
        return KEEL_OK;
    }
    int rc = writer_flush(w, err);
    if (rc != KEEL_OK)
        return rc;
    if (n < sizeof w->buf) {
        memcpy(w->buf, p, n);
        w->buf_len = n;
        return KEEL_OK;
    }
    if (write_all(w->fd, p, n) != 0)
        return keel_errf(err, KEEL_EIO, "%s: write: %s", w->tmp_path, strerror(errno));
    return KEEL_OK;
}

void keel_cas_writer_abort(keel_cas_writer *w)
{
    if (w == NULL)
        return;
    if (w->hash.ctx != NULL)
        keel_sha256_abort(&w->hash);
    if (w->fd >= 0)
        close(w->fd);
    unlink(w->tmp_path);
    free(w);
}

/* Frees the writer whatever the outcome; on failure the temp file is gone. */
int keel_cas_writer_commit(keel_cas_writer *w, char out_hash[KEEL_SHA256_HEX_LEN + 1],
                           int64_t *out_size, keel_err *err)
{
    if (w == NULL || out_hash == NULL)
        return keel_errf(err, KEEL_EINVAL, "object writer: missing argument");
    char hash[KEEL_SHA256_HEX_LEN + 1];
    char shard[PATH_MAX];
    char dest[PATH_MAX];
    int rc = writer_flush(w, err);
    if (rc != KEEL_OK)
        goto done;
    if (fchmod(w->fd, 0444) != 0 || fsync(w->fd) != 0) {
        rc = keel_errf(err, KEEL_EIO, "%s: fsync: %s", w->tmp_path, strerror(errno));
        goto done;
    }
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0) {
        rc = keel_errf(err, KEEL_EIO, "%s: close: %s", w->tmp_path, strerror(errno));
        goto done;
    }
    keel_sha256_final(&w->hash, hash);

    rc = shard_dir(w->cas, hash, shard, sizeof shard, err);
    if (rc != KEEL_OK)
        goto done;
    rc = keel_cas_object_path(w->cas, hash, dest, sizeof dest, err);
    if (rc != KEEL_OK)
        goto done;

    /* Deduplicate: an object of the right size is the same bytes (its name
     * is their hash). One of another size is a torn copy left by something
     * outside keel; the rename below replaces it. */
    struct stat st;
    if (stat(dest, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == w->size)
        goto done;

    if (mkdir(shard, 0755) == 0) {
        rc = keel_fsync_dir(w->cas->root, err);
        if (rc != KEEL_OK)
            goto done;
    } else if (errno != EEXIST) {
        rc = keel_errf(err, KEEL_EIO, "%s: mkdir: %s", shard, strerror(errno));
        goto done;
    }
    if (rename(w->tmp_path, dest) != 0) {
        rc = keel_errf(err, KEEL_EIO, "object %s: rename into place: %s", hash,
                       strerror(errno));
        goto done;
    }
    w->tmp_path[0] = '\0';
    rc = keel_fsync_dir(shard, err);

done:
    if (rc == KEEL_OK) {
        memcpy(out_hash, hash, sizeof hash);
        if (out_size != NULL)
            *out_size = w->size;
    }
    if (w->hash.ctx != NULL)
        keel_sha256_abort(&w->hash);
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp_path[0] != '\0')
        unlink(w->tmp_path);
    free(w);
    return rc;
}

int keel_cas_put_file(keel_cas *cas, const char *path, char out_hash[KEEL_SHA256_HEX_LEN + 1],
                      int64_t *out_size, keel_err *err)
{
    if (cas == NULL || path == NULL || out_hash == NULL)
        return keel_errf(err, KEEL_EINVAL, "put file: missing argument");
    keel_cas_writer *w = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return keel_errf(err, errno == ENOENT ? KEEL_ENOTFOUND : KEEL_EIO, "%s: %s", path,
                         strerror(errno));
    int rc = keel_cas_writer_begin(cas, &w, err);
    if (rc != KEEL_OK)
        goto done;
    /* The writer's buffer is empty between these calls, so read straight
     * into it and hand it over without another copy. */
    for (;;) {
        ssize_t r = read_some(fd, w->buf, sizeof w->buf);
        if (r < 0) {
            rc = keel_errf(err, KEEL_EIO, "%s: read: %s", path, strerror(errno));
            goto done;
        }
        if (r == 0)
            break;
        keel_sha256_update(&w->hash, w->buf, (size_t)r);
        w->size += r;
        w->buf_len = (size_t)r;
        rc = writer_flush(w, err);
        if (rc != KEEL_OK)
            goto done;
    }
    rc = keel_cas_writer_commit(w, out_hash, out_size, err);
    w = NULL;
    if (rc != KEEL_OK)
        keel_err_prefix(err, "storing %s", path);

done:
    keel_cas_writer_abort(w);
    close(fd);
    return rc;
}

int keel_cas_put_bytes(keel_cas *cas, const void *p, size_t n,
                       char out_hash[KEEL_SHA256_HEX_LEN + 1], keel_err *err)
{
    if (cas == NULL || (p == NULL && n > 0) || out_hash == NULL)
        return keel_errf(err, KEEL_EINVAL, "put bytes: missing argument");
    keel_cas_writer *w = NULL;
    int rc = keel_cas_writer_begin(cas, &w, err);
    if (rc != KEEL_OK)
        return rc;
    rc = keel_cas_writer_write(w, p, n, err);
    if (rc != KEEL_OK) {
        keel_cas_writer_abort(w);
        return rc;
    }
    return keel_cas_writer_commit(w, out_hash, NULL, err);
}

/* ---- reading ---- */

/* Opens object hash for reading: KEEL_ENOTFOUND when it is not stored. */
static int open_object(keel_cas *cas, const char *hash, int *out_fd, keel_err *err)
{
    char path[PATH_MAX];
    int rc = keel_cas_object_path(cas, hash, path, sizeof path, err);
    if (rc != KEEL_OK)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return keel_errf(err, KEEL_ENOTFOUND, "object %s is not in the store", hash);
        return keel_errf(err, KEEL_EIO, "object %s: %s: %s", hash, path, strerror(errno));
    }
    *out_fd = fd;
    return KEEL_OK;
}

static int corrupt(keel_err *err, const char *hash, const char *actual)
{
    return keel_errf(err, KEEL_ECORRUPT,
                     "object %s is corrupt: its content hashes to %s", hash, actual);
}

/* Hashes everything readable from fd; when out_fd >= 0 also copies it there.
 * what names the destination in messages. */
static int stream_object(int fd, const char *hash, int out_fd, const char *what,
                         char actual[KEEL_SHA256_HEX_LEN + 1], keel_err *err)
{
    unsigned char *buf = malloc(CAS_CHUNK);
    if (buf == NULL)
        return keel_errf(err, KEEL_ENOMEM, "object %s: out of memory", hash);
    keel_sha256 h;
    int rc = keel_sha256_init(&h, err);
    if (rc != KEEL_OK)
        goto done;
    for (;;) {
        ssize_t r = read_some(fd, buf, CAS_CHUNK);
        if (r < 0) {
            rc = keel_errf(err, KEEL_EIO, "object %s: read: %s", hash, strerror(errno));
            keel_sha256_abort(&h);
            goto done;
        }
        if (r == 0)
            break;
        keel_sha256_update(&h, buf, (size_t)r);
        if (out_fd >= 0 && write_all(out_fd, buf, (size_t)r) != 0) {
            rc = keel_errf(err, KEEL_EIO, "%s: write: %s", what, strerror(errno));
            keel_sha256_abort(&h);
            goto done;
        }
    }
    keel_sha256_final(&h, actual);

done:
    free(buf);
    return rc;
}

int keel_cas_verify(keel_cas *cas, const char *hash, keel_err *err)
{
    if (cas == NULL)
        return keel_errf(err, KEEL_EINVAL, "verify: missing object store");
    int fd = -1;
    int rc = open_object(cas, hash, &fd, err);
    if (rc != KEEL_OK)
        return rc;
    char actual[KEEL_SHA256_HEX_LEN + 1];
    rc = stream_object(fd, hash, -1, NULL, actual, err);
    close(fd);
    if (rc != KEEL_OK)
        return rc;
    if (strcmp(actual, hash) != 0)
        return corrupt(err, hash, actual);
    return KEEL_OK;
}

int keel_cas_get_file(keel_cas *cas, const char *hash, const char *dest, keel_err *err)
{
    if (cas == NULL || dest == NULL || dest[0] == '\0')
        return keel_errf(err, KEEL_EINVAL, "get object: missing store or destination");
    int rc = check_hash(hash, err);
    if (rc != KEEL_OK)
        return rc;
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.keel-tmp-XXXXXX", dest) >= (int)sizeof tmp)
        return keel_errf(err, KEEL_ELIMIT, "%s: path too long", dest);
    int in_fd = -1;
    int out_fd = -1;
    bool tmp_made = false;
    rc = open_object(cas, hash, &in_fd, err);
    if (rc != KEEL_OK)
        goto done;
    out_fd = mkstemp(tmp);
    if (out_fd < 0) {
        rc = keel_errf(err, KEEL_EIO, "%s: create temp file: %s", dest, strerror(errno));
        goto done;
    }
    tmp_made = true;
    char actual[KEEL_SHA256_HEX_LEN + 1];
    rc = stream_object(in_fd, hash, out_fd, dest, actual, err);
    if (rc != KEEL_OK)
        goto done;
    if (strcmp(actual, hash) != 0) {
        rc = corrupt(err, hash, actual);
        goto done;
    }
    if (fchmod(out_fd, 0644) != 0 || fsync(out_fd) != 0) {
        rc = keel_errf(err, KEEL_EIO, "%s: fsync: %s", dest, strerror(errno));
        goto done;
    }
    int fd = out_fd;
    out_fd = -1;
    if (close(fd) != 0) {
        rc = keel_errf(err, KEEL_EIO, "%s: close: %s", dest, strerror(errno));
        goto done;
    }
    if (rename(tmp, dest) != 0) {
        rc = keel_errf(err, KEEL_EIO, "%s: rename: %s", dest, strerror(errno));
        goto done;
    }
    tmp_made = false;
    char dir[PATH_MAX];
    dir_of(dest, dir, sizeof dir);
    rc = keel_fsync_dir(dir, err);

done:
    if (in_fd >= 0)
        close(in_fd);
    if (out_fd >= 0)
        close(out_fd);
    if (tmp_made)
        unlink(tmp);
    return rc;
}

int keel_cas_get_bytes(keel_cas *cas, const char *hash, size_t max, char **out_data,
                       size_t *out_len, keel_err *err)
{
    if (cas == NULL || out_data == NULL || out_len == NULL)
        return keel_errf(err, KEEL_EINVAL, "get object bytes: missing argument");
    int fd = -1;
    char *data = NULL;
    int rc = open_object(cas, hash, &fd, err);
    if (rc != KEEL_OK)
        return rc;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = keel_errf(err, KEEL_EIO, "object %s: stat: %s", hash, strerror(errno));
        goto done;
    }
    if ((uint64_t)st.st_size > max) {
        rc = keel_errf(err, KEEL_ELIMIT, "object %s is %lld bytes, limit is %zu", hash,
                       (long long)st.st_size, max);
        goto done;
    }
    size_t size = (size_t)st.st_size;
    data = malloc(size + 1);
    if (data == NULL) {
        rc = keel_errf(err, KEEL_ENOMEM, "object %s: cannot allocate %zu bytes", hash, size);
        goto done;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read_some(fd, data + got, size - got);
        if (r < 0) {
            rc = keel_errf(err, KEEL_EIO, "object %s: read: %s", hash, strerror(errno));
            goto done;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    data[got] = '\0';
    char actual[KEEL_SHA256_HEX_LEN + 1];
    rc = keel_sha256_hex(data, got, actual, err);
    if (rc != KEEL_OK)
        goto done;
    if (strcmp(actual, hash) != 0) {
        rc = corrupt(err, hash, actual);
        goto done;
    }
    *out_data = data;
    *out_len = got;
    data = NULL;

done:
    free(data);
    close(fd);
    return rc;
}
