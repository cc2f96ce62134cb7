/*
 * artifact_tree.c — a run's artifacts as a tree of relative paths, each
 * mapped to an object in the content-addressed store (table run_artifacts).
 *
 * Only files are rows; directories exist because some file's path has them
 * as a prefix, as in an object store bucket. Invariants kept here:
 *   - every stored path passes keel_artifact_path_check;
 *   - no path is both a file and a directory: a file cannot be logged where
 *     a directory is, nor below a file (KEEL_ECONFLICT), so a tree can always
 *     be written back out to a filesystem;
 *   - writes (log, put_entry, delete) need the run to exist and not be
 *     deleted; a multi-row log is one transaction, so readers see all of it
 *     or none;
 *   - objects are written before their rows, outside the transaction (long
 *     I/O must not hold the database write lock); an object whose rows never
 *     commit is garbage, never a dangling reference.
 * "Below p" is matched with LIKE 'p/%' (with % and _ escaped) rather than a
 * range comparison, so the result does not depend on a database collation.
 */
#include <keel/artifacts.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ARTIFACT_PATH_MAX 1024

/* One file row waiting to be written, or read back for a fetch. */
struct pending_row {
    struct pending_row *next;
    const char *path;
    char hash[KEEL_SHA256_HEX_LEN + 1];
    int64_t size;
};

/* State of one directory walk in keel_artifacts_log. */
struct walk {
    keel_cas *cas;
    keel_arena *arena;
    struct pending_row *rows;
    char local[PATH_MAX];
    char rel[ARTIFACT_PATH_MAX + 2];
};

static bool is_root(const char *path)
{
    return path == NULL || path[0] == '\0';
}

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

int keel_artifact_path_check(const char *path, keel_err *err)
{
    if (path == NULL || path[0] == '\0')
        return keel_errf(err, KEEL_EINVAL, "artifact path is empty");
    size_t n = strlen(path);
    if (n > ARTIFACT_PATH_MAX)
        return keel_errf(err, KEEL_EINVAL, "artifact path '%.64s…' is %zu bytes, limit is %d",
                         path, n, ARTIFACT_PATH_MAX);
    if (path[0] == '/')
        return keel_errf(err, KEEL_EINVAL, "artifact path '%s' is absolute", path);
    if (strchr(path, '\\') != NULL)
        return keel_errf(err, KEEL_EINVAL, "artifact path '%s' contains a backslash", path);
    const char *seg = path;
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t len = end != NULL ? (size_t)(end - seg) : strlen(seg);
        if (len == 0)
            return keel_errf(err, KEEL_EINVAL, "artifact path '%s' has an empty segment",
                             path);
        if (len == 1 && seg[0] == '.')
            return keel_errf(err, KEEL_EINVAL, "artifact path '%s' has a '.' segment", path);
        if (len == 2 && seg[0] == '.' && seg[1] == '.')
            return keel_errf(err, KEEL_EINVAL, "artifact path '%s' has a '..' segment",
                             path);
        if (end == NULL)
            break;
        seg = end + 1;
    }
    return KEEL_OK;
}

/* NULL or "" (the root) or a valid path. */
static int check_path_or_root(const char *path, keel_err *err)
{
    return is_root(path) ? KEEL_OK : keel_artifact_path_check(path, err);
}

static int check_run_id(const char *run_id, keel_err *err)
{
    if (run_id == NULL || run_id[0] == '\0')
        return keel_errf(err, KEEL_EINVAL, "run id is empty");
    if (strlen(run_id) > 256)
        return keel_errf(err, KEEL_EINVAL, "run id '%.64s…' is too long", run_id);
    return KEEL_OK;
}

/* Writes the LIKE pattern matching everything strictly below path into out
 * (at least 2 * ARTIFACT_PATH_MAX + 3 bytes). path has been checked. */
static void below_pattern(const char *path, char *out)
{
    size_t o = 0;
    for (const char *p = path; *p != '\0'; p++) {
        if (*p == '%' || *p == '_' || *p == '\\')
            out[o++] = '\\';
        out[o++] = *p;
    }
    out[o++] = '/';
    out[o++] = '%';
    out[o] = '\0';
}

/* KEEL_ENOTFOUND for an unknown run; with for_write, KEEL_ESTATE for a
 * deleted one. */
static int check_run(keel_store *store, const char *run_id, bool for_write, keel_err *err)
{
    keel_stmt *st = NULL;
    int rc = keel_store_prepare(store, "SELECT lifecycle_stage FROM runs WHERE run_uuid = ?",
                                true, &st, err);
    if (rc != KEEL_OK)
        return keel_err_prefix(err, "run '%s'", run_id);
    keel_stmt_bind_text(st, 1, run_id, -1);
    enum keel_step r = keel_stmt_step(st, err);
    if (r == KEEL_STEP_ERROR) {
        rc = keel_err_prefix(err, "run '%s'", run_id);
    } else if (r == KEEL_STEP_DONE) {
        rc = keel_errf(err, KEEL_ENOTFOUND, "run '%s' not found", run_id);
    } else if (for_write) {
        const char *stage = keel_stmt_text(st, 0);
        if (stage != NULL && strcmp(stage, "deleted") == 0)
            rc = keel_errf(err, KEEL_ESTATE,
                           "run '%s' is deleted; restore it before logging artifacts", run_id);
    }
    keel_stmt_release(st);
    return rc;
}

/* The checks a read or delete starts with, in order: a well-formed run id,
 * a well-formed path (or the root, when root_ok), and a run that exists
 * (and is active, for a write). */
static int check_request(keel_store *store, const char *run_id, const char *path, bool root_ok,
                         bool for_write, keel_err *err)
{
    int rc = check_run_id(run_id, err);
    if (rc == KEEL_OK)
        rc = root_ok ? check_path_or_root(path, err) : keel_artifact_path_check(path, err);
    if (rc == KEEL_OK)
        rc = check_run(store, run_id, for_write, err);
    return rc;
}

/* Sets *out to whether any row matches sql, which binds run_id and one text. */
static int row_exists(keel_store *store, const char *sql, const char *run_id,
                      const char *text, bool *out, keel_err *err)
{
    keel_stmt *st = NULL;
    int rc = keel_store_prepare(store, sql, true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, run_id, -1);
    keel_stmt_bind_text(st, 2, text, -1);
    enum keel_step r = keel_stmt_step(st, err);
    if (r == KEEL_STEP_ERROR)
        rc = err->code;
    *out = r == KEEL_STEP_ROW;
    keel_stmt_release(st);
    return rc;
}

/* KEEL_ECONFLICT when a file at path would shadow a directory or sit below
 * a file. */
static int check_clash(keel_store *store, const char *run_id, const char *path,
                       keel_err *err)
{
    char pattern[2 * ARTIFACT_PATH_MAX + 3];
    char prefix[ARTIFACT_PATH_MAX + 1];
    bool found = false;
    below_pattern(path, pattern);
    int rc = row_exists(store,
                        "SELECT 1 FROM run_artifacts WHERE run_uuid = ? AND path LIKE ? "
                        "ESCAPE '\\' LIMIT 1",
                        run_id, pattern, &found, err);
    if (rc != KEEL_OK)
        return rc;
    if (found)
        return keel_errf(err, KEEL_ECONFLICT,
                         "artifact '%s' in run '%s' is a directory; cannot log a file there",
                         path, run_id);
    for (const char *slash = strchr(path, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
        size_t len = (size_t)(slash - path);
        memcpy(prefix, path, len);
        prefix[len] = '\0';
        rc = row_exists(store, "SELECT 1 FROM run_artifacts WHERE run_uuid = ? AND path = ?",
                        run_id, prefix, &found, err);
        if (rc != KEEL_OK)
            return rc;
        if (found)
            return keel_errf(err, KEEL_ECONFLICT,
                             "artifact '%s' in run '%s' is a file; cannot log '%s' below it",
                             prefix, run_id, path);
    }
    return KEEL_OK;
}

/* Checks for clashes and upserts one row; the caller holds a transaction. */
static int upsert_row(keel_store *store, const char *run_id, const char *path,
                      const char *hash, int64_t size, int64_t now, keel_err *err)
{
    int rc = check_clash(store, run_id, path, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt *st = NULL;
    rc = keel_store_prepare(store,
                            "INSERT INTO run_artifacts (run_uuid, path, object_hash, size, "
                            "created_time) VALUES (?, ?, ?, ?, ?) "
                            "ON CONFLICT (run_uuid, path) DO UPDATE SET "
                            "object_hash = excluded.object_hash, size = excluded.size, "
                            "created_time = excluded.created_time",
                            true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, run_id, -1);
    keel_stmt_bind_text(st, 2, path, -1);
    keel_stmt_bind_text(st, 3, hash, -1);
    keel_stmt_bind_int64(st, 4, size);
    keel_stmt_bind_int64(st, 5, now);
    rc = keel_stmt_run(st, err);
    if (rc != KEEL_OK)
        keel_err_prefix(err, "run '%s' artifact '%s'", run_id, path);
    return rc;
}

/* Writes rows in one transaction, re-checking the run inside it. */
static int write_rows(keel_store *store, const char *run_id, const struct pending_row *rows,
                      keel_err *err)
{
    int rc = keel_store_begin(store, err);
    if (rc != KEEL_OK)
        return keel_err_prefix(err, "run '%s' artifacts", run_id);
    rc = check_run(store, run_id, true, err);
    int64_t now = keel_now_ms();
    for (const struct pending_row *r = rows; rc == KEEL_OK && r != NULL; r = r->next)
        rc = upsert_row(store, run_id, r->path, r->hash, r->size, now, err);
    if (rc != KEEL_OK) {
        keel_store_rollback(store);
        return rc;
    }
    rc = keel_store_commit(store, err);
    if (rc != KEEL_OK)
        keel_err_prefix(err, "run '%s' artifacts", run_id);
    return rc;
}

int keel_artifacts_put_entry(keel_store *store, const char *run_id, const char *path,
                             const char *hash, int64_t size, keel_err *err)
{
    keel_err scratch;
    if (err == NULL)
        err = &scratch;
    if (store == NULL)
        return keel_errf(err, KEEL_EINVAL, "put artifact: missing store");
    int rc = check_run_id(run_id, err);
    if (rc != KEEL_OK)
        return rc;
    rc = keel_artifact_path_check(path, err);
    if (rc != KEEL_OK)
        return rc;
    if (!hash_is_valid(hash))
        return keel_errf(err, KEEL_EINVAL,
                         "artifact '%s': object hash '%.80s' is not 64 lowercase hex digits",
                         path, hash != NULL ? hash : "(null)");
    if (size < 0)
        return keel_errf(err, KEEL_EINVAL, "artifact '%s': negative size %lld", path,
                         (long long)size);
    struct pending_row row = {.next = NULL, .path = path, .size = size};
    memcpy(row.hash, hash, sizeof row.hash);
    return write_rows(store, run_id, &row, err);
}

/* ---- logging local files ---- */

static int add_file(struct walk *w, keel_err *err)
{
    int rc = keel_artifact_path_check(w->rel, err);
    if (rc != KEEL_OK)
        return keel_err_prefix(err, "%s", w->local);
    struct pending_row *row = keel_arena_alloc(w->arena, sizeof *row);
    const char *path = keel_arena_strdup(w->arena, w->rel);
    if (row == NULL || path == NULL)
        return keel_errf(err, KEEL_ENOMEM, "%s: out of memory", w->local);
    rc = keel_cas_put_file(w->cas, w->local, row->hash, &row->size, err);
    if (rc != KEEL_OK)
        return rc;
    row->path = path;
    row->next = w->rows;
    w->rows = row;
    return KEEL_OK;
}

/* Walks the directory named by w->local, whose artifact path is w->rel
 * ("" for the root). Regular files and directories are taken, following
 * symlinks to files; symlinks to directories are skipped (no cycles), as
 * are sockets, FIFOs and devices. w->local and w->rel are restored. */
static int walk_dir(struct walk *w, keel_err *err)
{
    size_t local_len = strlen(w->local);
    size_t rel_len = strlen(w->rel);
    int rc = KEEL_OK;
    DIR *d = opendir(w->local);
    if (d == NULL)
        return keel_errf(err, KEEL_EIO, "%s: opendir: %s", w->local, strerror(errno));
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (de == NULL) {
            if (errno != 0)
                rc = keel_errf(err, KEEL_EIO, "%s: readdir: %s", w->local, strerror(errno));
            break;
        }
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        int n = snprintf(w->local + local_len, sizeof w->local - local_len, "/%s", name);
        if (n < 0 || (size_t)n >= sizeof w->local - local_len) {
            w->local[local_len] = '\0';
            rc = keel_errf(err, KEEL_ELIMIT, "%s/%s: path too long", w->local, name);
            break;
        }
        n = snprintf(w->rel + rel_len, sizeof w->rel - rel_len, "%s%s",
                     rel_len > 0 ? "/" : "", name);
        if (n < 0 || (size_t)n >= sizeof w->rel - rel_len) {
            rc = keel_errf(err, KEEL_EINVAL, "%s: artifact path would exceed %d bytes",
                           w->local, ARTIFACT_PATH_MAX);
            break;
        }
        struct stat lst, st;
        if (lstat(w->local, &lst) != 0) {
            rc = keel_errf(err, KEEL_EIO, "%s: lstat: %s", w->local, strerror(errno));
            break;
        }
        if (stat(w->local, &st) != 0) {
            if (S_ISLNK(lst.st_mode) && errno == ENOENT)
                continue;  /* a dangling symlink is not an artifact */
            rc = keel_errf(err, KEEL_EIO, "%s: stat: %s", w->local, strerror(errno));
            break;
        }
        if (S_ISREG(st.st_mode))
            rc = add_file(w, err);
        else if (S_ISDIR(st.st_mode) && !S_ISLNK(lst.st_mode))
            rc = walk_dir(w, err);
        else
            keel_log(KEEL_LOG_DEBUG, "artifacts: skipping %s (not a regular file or directory)",
                     w->local);
        if (rc != KEEL_OK)
            break;
    }
    closedir(d);
    w->local[local_len] = '\0';
    w->rel[rel_len] = '\0';
    return rc;
}

int keel_artifacts_log(keel_store *store, keel_cas *cas, const char *run_id,
                       const char *local_path, const char *artifact_path, keel_err *err)
{
    keel_err scratch;
    if (err == NULL)
        err = &scratch;
    if (store == NULL || cas == NULL || local_path == NULL || local_path[0] == '\0')
        return keel_errf(err, KEEL_EINVAL, "log artifacts: missing store, object store or path");
    int rc = check_run_id(run_id, err);
    if (rc != KEEL_OK)
        return rc;
    rc = check_path_or_root(artifact_path, err);
    if (rc != KEEL_OK)
        return rc;
    struct stat st;
    if (stat(local_path, &st) != 0)
        return keel_errf(err, errno == ENOENT ? KEEL_ENOTFOUND : KEEL_EIO, "%s: %s",
                         local_path, strerror(errno));
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return keel_errf(err, KEEL_EINVAL, "%s: not a regular file or directory", local_path);
    rc = check_run(store, run_id, true, err);
    if (rc != KEEL_OK)
        return rc;

    keel_arena arena;
    keel_arena_init(&arena, 0);
    struct walk *w = calloc(1, sizeof *w);
    if (w == NULL) {
        rc = keel_errf(err, KEEL_ENOMEM, "%s: out of memory", local_path);
        goto done;
    }
    w->cas = cas;
    w->arena = &arena;
    if (snprintf(w->local, sizeof w->local, "%s", local_path) >= (int)sizeof w->local) {
        rc = keel_errf(err, KEEL_ELIMIT, "%s: path too long", local_path);
        goto done;
    }
    snprintf(w->rel, sizeof w->rel, "%s", is_root(artifact_path) ? "" : artifact_path);
    if (S_ISDIR(st.st_mode)) {
        rc = walk_dir(w, err);
    } else {
        size_t end = strlen(w->local);
        while (end > 1 && w->local[end - 1] == '/')
            end--;
        w->local[end] = '\0';
        const char *slash = strrchr(w->local, '/');
        const char *base = slash != NULL ? slash + 1 : w->local;
        size_t rel_len = strlen(w->rel);
        int n = snprintf(w->rel + rel_len, sizeof w->rel - rel_len, "%s%s",
                         rel_len > 0 ? "/" : "", base);
        if (n < 0 || (size_t)n >= sizeof w->rel - rel_len)
            rc = keel_errf(err, KEEL_EINVAL, "%s: artifact path would exceed %d bytes",
                           local_path, ARTIFACT_PATH_MAX);
        else
            rc = add_file(w, err);
    }
    if (rc == KEEL_OK && w->rows != NULL)
        rc = write_rows(store, run_id, w->rows, err);

done:
    free(w);
    keel_arena_free(&arena);
    return rc;
}

/* ---- reading the tree ---- */

/* Reads the rows at or below path (all rows for the root) into *out, in
 * arena a. */
static int read_rows(keel_store *store, const char *run_id, const char *path, keel_arena *a,
                     struct pending_row **out, keel_err *err)
{
    char pattern[2 * ARTIFACT_PATH_MAX + 3];
    keel_stmt *st = NULL;
    int rc;
    if (is_root(path)) {
        rc = keel_store_prepare(store,
                                "SELECT path, object_hash, size FROM run_artifacts "
                                "WHERE run_uuid = ? ORDER BY path",
                                true, &st, err);
    } else {
        rc = keel_store_prepare(store,
                                "SELECT path, object_hash, size FROM run_artifacts "
                                "WHERE run_uuid = ? AND (path = ? OR path LIKE ? ESCAPE '\\') "
                                "ORDER BY path",
                                true, &st, err);
    }
    if (rc != KEEL_OK)
        return keel_err_prefix(err, "run '%s' artifacts", run_id);
    keel_stmt_bind_text(st, 1, run_id, -1);
    if (!is_root(path)) {
        below_pattern(path, pattern);
        keel_stmt_bind_text(st, 2, path, -1);
        keel_stmt_bind_text(st, 3, pattern, -1);
    }
    struct pending_row *head = NULL;
    struct pending_row **tail = &head;
    for (;;) {
        enum keel_step r = keel_stmt_step(st, err);
        if (r == KEEL_STEP_ERROR) {
            rc = keel_err_prefix(err, "run '%s' artifacts", run_id);
            break;
        }
        if (r == KEEL_STEP_DONE)
            break;
        const char *row_path = keel_stmt_text(st, 0);
        const char *hash = keel_stmt_text(st, 1);
        struct pending_row *row = keel_arena_alloc(a, sizeof *row);
        if (row == NULL || row_path == NULL || !hash_is_valid(hash)) {
            rc = row == NULL
                ? keel_errf(err, KEEL_ENOMEM, "run '%s' artifacts: out of memory", run_id)
                : keel_errf(err, KEEL_ECORRUPT, "run '%s' artifact '%s': bad object hash",
                            run_id, row_path != NULL ? row_path : "(null)");
            break;
        }
        row->path = keel_arena_strdup(a, row_path);
        if (row->path == NULL) {
            rc = keel_errf(err, KEEL_ENOMEM, "run '%s' artifacts: out of memory", run_id);
            break;
        }
        memcpy(row->hash, hash, sizeof row->hash);
        row->size = keel_stmt_int64(st, 2);
        *tail = row;
        tail = &row->next;
    }
    keel_stmt_release(st);
    if (rc == KEEL_OK)
        *out = head;
    return rc;
}

static int entry_cmp(const void *pa, const void *pb)
{
    const keel_artifact_entry *a = pa;
    const keel_artifact_entry *b = pb;
    int c = strcmp(a->path, b->path);
    if (c != 0)
        return c;
    return (int)a->is_dir - (int)b->is_dir;
}

int keel_artifacts_list(keel_store *store, const char *run_id, const char *path,
                        keel_arena *a, keel_artifact_entry **out, size_t *out_n,
                        keel_err *err)
{
    keel_err scratch;
    if (err == NULL)
        err = &scratch;
    if (store == NULL || a == NULL || out == NULL || out_n == NULL)
        return keel_errf(err, KEEL_EINVAL, "list artifacts: missing argument");
    int rc = check_request(store, run_id, path, true, false, err);
    if (rc != KEEL_OK)
        return rc;

    /* The rows are scratch; only the entries go to the caller's arena. */
    keel_arena rows_arena;
    keel_arena_init(&rows_arena, 0);
    keel_artifact_entry *entries = NULL;
    size_t n = 0;
    size_t cap = 0;
    struct pending_row *rows = NULL;
    rc = read_rows(store, run_id, path, &rows_arena, &rows, err);
    if (rc != KEEL_OK)
        goto done;
    size_t skip = is_root(path) ? 0 : strlen(path) + 1;
    for (const struct pending_row *r = rows; r != NULL; r = r->next) {
        if (strlen(r->path) < skip)
            continue;  /* path itself is a file: it has no children */
        const char *rest = r->path + skip;
        const char *slash = strchr(rest, '/');
        size_t child_len = skip + (slash != NULL ? (size_t)(slash - rest) : strlen(rest));
        /* Rows come sorted, so a directory's files are usually adjacent. */
        if (slash != NULL && n > 0 && entries[n - 1].is_dir &&
            strlen(entries[n - 1].path) == child_len &&
            memcmp(entries[n - 1].path, r->path, child_len) == 0) {
            entries[n - 1].size += r->size;
            continue;
        }
        if (n == cap) {
            size_t new_cap = cap == 0 ? 16 : cap * 2;
            keel_artifact_entry *grown = realloc(entries, new_cap * sizeof *grown);
            if (grown == NULL) {
                rc = keel_errf(err, KEEL_ENOMEM, "run '%s' artifacts: out of memory", run_id);
                goto done;
            }
            entries = grown;
            cap = new_cap;
        }
        keel_artifact_entry *e = &entries[n];
        e->path = keel_arena_strndup(a, r->path, child_len);
        e->is_dir = slash != NULL;
        e->size = r->size;
        e->hash = slash != NULL ? NULL : keel_arena_strdup(a, r->hash);
        if (e->path == NULL || (slash == NULL && e->hash == NULL)) {
            rc = keel_errf(err, KEEL_ENOMEM, "run '%s' artifacts: out of memory", run_id);
            goto done;
        }
        n++;
    }
    if (n > 0)
        qsort(entries, n, sizeof *entries, entry_cmp);
    /* Merge directories split up by an ordering other than bytewise. */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (kept > 0 && entries[i].is_dir && entries[kept - 1].is_dir &&
            strcmp(entries[i].path, entries[kept - 1].path) == 0) {
            entries[kept - 1].size += entries[i].size;
            continue;
        }
        entries[kept++] = entries[i];
    }
    keel_artifact_entry *result = NULL;
    if (kept > 0) {
        result = keel_arena_alloc(a, kept * sizeof *result);
        if (result == NULL) {
            rc = keel_errf(err, KEEL_ENOMEM, "run '%s' artifacts: out of memory", run_id);
            goto done;
        }
        memcpy(result, entries, kept * sizeof *result);
    }
    *out = result;
    *out_n = kept;

done:
    free(entries);
    keel_arena_free(&rows_arena);
    return rc;
}

int keel_artifacts_get(keel_store *store, keel_cas *cas, const char *run_id, const char *path,
                       const char *dest_dir, keel_err *err)
{
    keel_err scratch;
    if (err == NULL)
        err = &scratch;
    if (store == NULL || cas == NULL || dest_dir == NULL || dest_dir[0] == '\0')
        return keel_errf(err, KEEL_EINVAL,
                         "get artifacts: missing store, object store or destination");
    int rc = check_request(store, run_id, path, true, false, err);
    if (rc != KEEL_OK)
        return rc;

    keel_arena arena;
    keel_arena_init(&arena, 0);
    struct pending_row *rows = NULL;
    char dest[PATH_MAX];
    rc = read_rows(store, run_id, path, &arena, &rows, err);
    if (rc != KEEL_OK)
        goto done;
    if (rows == NULL) {
        rc = is_root(path)
            ? keel_errf(err, KEEL_ENOTFOUND, "run '%s' has no artifacts", run_id)
            : keel_errf(err, KEEL_ENOTFOUND, "artifact '%s' not found in run '%s'", path,
                        run_id);
        goto done;
    }
    rc = keel_mkdir_p(dest_dir, err);
    if (rc != KEEL_OK)
        goto done;
    size_t skip = is_root(path) ? 0 : strlen(path) + 1;
    for (const struct pending_row *r = rows; r != NULL; r = r->next) {
        /* Rows written by other tools must not steer writes outside
         * dest_dir. */
        rc = keel_artifact_path_check(r->path, err);
        if (rc != KEEL_OK) {
            keel_err_prefix(err, "run '%s'", run_id);
            goto done;
        }
        /* A file keeps its base name; a directory's files keep their paths
         * relative to it. */
        const char *rel;
        if (!is_root(path) && strcmp(r->path, path) == 0) {
            const char *slash = strrchr(r->path, '/');
            rel = slash != NULL ? slash + 1 : r->path;
        } else {
            rel = r->path + skip;
        }
        int n = snprintf(dest, sizeof dest, "%s/%s", dest_dir, rel);
        if (n < 0 || (size_t)n >= sizeof dest) {
            rc = keel_errf(err, KEEL_ELIMIT, "%s/%s: path too long", dest_dir, rel);
            goto done;
        }
        char *last = strrchr(dest, '/');
        *last = '\0';
        rc = keel_mkdir_p(dest, err);
        *last = '/';
        if (rc != KEEL_OK)
            goto done;
        rc = keel_cas_get_file(cas, r->hash, dest, err);
        if (rc != KEEL_OK) {
            keel_err_prefix(err, "run '%s' artifact '%s'", run_id, r->path);
            goto done;
        }
    }

done:
    keel_arena_free(&arena);
    return rc;
}

int keel_artifacts_stat(keel_store *store, const char *run_id, const char *path,
                        char out_hash[KEEL_SHA256_HEX_LEN + 1], int64_t *out_size,
                        keel_err *err)
{
    keel_err scratch;
    if (err == NULL)
        err = &scratch;
    if (store == NULL || out_hash == NULL)
        return keel_errf(err, KEEL_EINVAL, "stat artifact: missing argument");
    int rc = check_request(store, run_id, path, false, false, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt *st = NULL;
    rc = keel_store_prepare(store,
                            "SELECT object_hash, size FROM run_artifacts "
                            "WHERE run_uuid = ? AND path = ?",
                            true, &st, err);
    if (rc != KEEL_OK)
        return keel_err_prefix(err, "run '%s' artifact '%s'", run_id, path);
    keel_stmt_bind_text(st, 1, run_id, -1);
    keel_stmt_bind_text(st, 2, path, -1);
    enum keel_step r = keel_stmt_step(st, err);
    if (r == KEEL_STEP_ERROR) {
        rc = keel_err_prefix(err, "run '%s' artifact '%s'", run_id, path);
    } else if (r == KEEL_STEP_DONE) {
        rc = keel_errf(err, KEEL_ENOTFOUND, "artifact '%s' not found in run '%s' (or is a "
                       "directory)", path, run_id);
    } else {
        const char *hash = keel_stmt_text(st, 0);
        if (!hash_is_valid(hash)) {
            rc = keel_errf(err, KEEL_ECORRUPT, "run '%s' artifact '%s': bad object hash",
                           run_id, path);
        } else {
            memcpy(out_hash, hash, KEEL_SHA256_HEX_LEN + 1);
            if (out_size != NULL)
                *out_size = keel_stmt_int64(st, 1);
        }
    }
    keel_stmt_release(st);
    return rc;
}

int keel_artifacts_delete(keel_store *store, const char *run_id, const char *path,
                          keel_err *err)
{
    keel_err scratch;
    if (err == NULL)
        err = &scratch;
    if (store == NULL)
        return keel_errf(err, KEEL_EINVAL, "delete artifacts: missing store");
    int rc = check_request(store, run_id, path, true, true, err);
    if (rc != KEEL_OK)
        return rc;
    char pattern[2 * ARTIFACT_PATH_MAX + 3];
    keel_stmt *st = NULL;
    if (is_root(path)) {
        rc = keel_store_prepare(store, "DELETE FROM run_artifacts WHERE run_uuid = ?", true,
                                &st, err);
    } else {
        rc = keel_store_prepare(store,
                                "DELETE FROM run_artifacts WHERE run_uuid = ? "
                                "AND (path = ? OR path LIKE ? ESCAPE '\\')",
                                true, &st, err);
    }
    if (rc != KEEL_OK)
        return keel_err_prefix(err, "run '%s' artifacts", run_id);
    keel_stmt_bind_text(st, 1, run_id, -1);
    if (!is_root(path)) {
        below_pattern(path, pattern);
        keel_stmt_bind_text(st, 2, path, -1);
        keel_stmt_bind_text(st, 3, pattern, -1);
    }
    enum keel_step r = keel_stmt_step(st, err);
    int64_t changed = r == KEEL_STEP_ERROR ? 0 : keel_stmt_changes(st);
    keel_stmt_release(st);
    if (r == KEEL_STEP_ERROR)
        return keel_err_prefix(err, "run '%s' artifact '%s'", run_id,
                               is_root(path) ? "" : path);
    if (changed == 0 && !is_root(path))
        return keel_errf(err, KEEL_ENOTFOUND, "artifact '%s' not found in run '%s'", path,
                         run_id);
    return KEEL_OK;
}
