/*
 * fs.c — directory creation, atomic whole-file writes, bounded reads.
 *
 * Invariant: a file written by keel_write_file_atomic is either the old
 * content or the new content after a crash at any point.
 */
#include <keel/util.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return (type == FTW_DP ? rmdir(path) : unlink(path)) == 0 ? 0 : -1;
}

int keel_remove_tree(const char *path, keel_err *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? KEEL_OK : keel_errf(err, KEEL_EIO, "%s: %s", path, strerror(errno));
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return keel_errf(err, KEEL_EIO, "%s: cannot remove: %s", path, strerror(errno));
    return KEEL_OK;
}

int keel_make_temp_dir(const char *prefix, char *out, size_t out_size, keel_err *err)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    if ((size_t)snprintf(out, out_size, "%s/%s-XXXXXX", base, prefix) >= out_size)
        return keel_errf(err, KEEL_EINVAL, "temporary directory path too long");
    if (mkdtemp(out) == NULL)
        return keel_errf(err, KEEL_EIO, "%s: cannot create: %s", out, strerror(errno));
    return KEEL_OK;
}

bool keel_path_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool keel_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int keel_mkdir_p(const char *dir, keel_err *err)
{
    char path[PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path)
        return keel_errf(err, KEEL_EINVAL, "directory path is empty or too long");
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return keel_errf(err, KEEL_EIO, "%s: mkdir: %s", path, strerror(errno));
        path[i] = saved;
    }
    if (!keel_path_is_dir(dir))
        return keel_errf(err, KEEL_EIO, "%s: exists and is not a directory", dir);
    return KEEL_OK;
}

int keel_fsync_dir(const char *dir, keel_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return keel_errf(err, KEEL_EIO, "%s: open: %s", dir, strerror(errno));
    int rc = KEEL_OK;
    if (fsync(fd) != 0)
        rc = keel_errf(err, KEEL_EIO, "%s: fsync: %s", dir, strerror(errno));
    close(fd);
    return rc;
}

static void dir_of(const char *path, char *out, size_t out_size)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        snprintf(out, out_size, ".");
    } else if (slash == path) {
        snprintf(out, out_size, "/");
    } else {
        snprintf(out, out_size, "%.*s", (int)(slash - path), path);
    }
}

int keel_write_file_atomic(const char *path, const void *p, size_t n, keel_err *err)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp)
        return keel_errf(err, KEEL_EINVAL, "%s: path too long", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return keel_errf(err, KEEL_EIO, "%s: create temp: %s", path, strerror(errno));
    const char *at = p;
    size_t left = n;
    while (left > 0) {
        ssize_t w = write(fd, at, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int saved = errno;
            close(fd);
            unlink(tmp);
            return keel_errf(err, KEEL_EIO, "%s: write: %s", path, strerror(saved));
        }
        at += w;
        left -= (size_t)w;
    }
    if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
        int saved = errno;
        close(fd);
        unlink(tmp);
        return keel_errf(err, KEEL_EIO, "%s: fsync: %s", path, strerror(saved));
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int saved = errno;
        unlink(tmp);
        return keel_errf(err, KEEL_EIO, "%s: rename: %s", path, strerror(saved));
    }
    char dir[PATH_MAX];
    dir_of(path, dir, sizeof dir);
    return keel_fsync_dir(dir, err);
}

int keel_read_file(const char *path, size_t max, char **out_data, size_t *out_len,
                   keel_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return keel_errf(err, errno == ENOENT ? KEEL_ENOTFOUND : KEEL_EIO, "%s: %s", path,
                         strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return keel_errf(err, KEEL_EIO, "%s: stat: %s", path, strerror(errno));
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return keel_errf(err, KEEL_ELIMIT, "%s: file is %lld bytes, limit is %zu", path,
                         (long long)st.st_size, max);
    }
    size_t size = (size_t)st.st_size;
    char *data = malloc(size + 1);
    if (data == NULL) {
        close(fd);
        return keel_errf(err, KEEL_ENOMEM, "%s: cannot allocate %zu bytes", path, size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, data + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    data[got] = '\0';
    *out_data = data;
    *out_len = got;
    return KEEL_OK;
}

/* dir/path made absolute and tidied lexically ("." and ".." segments,
 * doubled slashes): the same text always gives the same path, whether the
 * file exists or not. */
char *keel_path_join_absolute(keel_arena *a, const char *dir, const char *path)
{
    char *joined = path[0] == '/' ? keel_arena_strdup(a, path)
                                  : keel_arena_sprintf(a, "%s/%s", dir, path);
    if (joined == NULL)
        return NULL;
    char *out = keel_arena_alloc(a, strlen(joined) + 2);
    if (out == NULL)
        return NULL;
    size_t len = 0;
    for (char *seg = joined; *seg != '\0';) {
        size_t n = strcspn(seg, "/");
        if (n == 2 && seg[0] == '.' && seg[1] == '.') {
            while (len > 0 && out[len - 1] != '/')
                len--;
            if (len > 0)
                len--;  /* the slash before the dropped segment */
        } else if (n > 0 && !(n == 1 && seg[0] == '.')) {
            out[len++] = '/';
            memcpy(out + len, seg, n);
            len += n;
        }
        seg += n;
        while (*seg == '/')
            seg++;
    }
    if (len == 0)
        out[len++] = '/';
    out[len] = '\0';
    return out;
}

const char *keel_path_dir_absolute(keel_arena *a, const char *path)
{
    char resolved[PATH_MAX];
    const char *slash = strrchr(path, '/');
    char *dir = slash == NULL ? keel_arena_strdup(a, ".")
                : slash == path ? keel_arena_strdup(a, "/")
                : keel_arena_strndup(a, path, (size_t)(slash - path));
    if (dir != NULL && realpath(dir, resolved) != NULL)
        return keel_arena_strdup(a, resolved);
    if (dir == NULL || dir[0] == '/' || getcwd(resolved, sizeof resolved) == NULL)
        return dir;
    return keel_path_join_absolute(a, resolved, dir);
}
