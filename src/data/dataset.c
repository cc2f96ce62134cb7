/*
 * dataset.c — dataset versions: a CSV file's bytes in the object store under
 * their SHA-256, its name, version number, schema and profile in the
 * metadata store.
 */
#include <keel/dataset.h>
#include <keel/json.h>
#include <keel/util.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *default_name(keel_arena *a, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    size_t n = strlen(base);
    static const char *const suffixes[] = { ".gz", ".csv", ".tsv" };
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t k = strlen(suffixes[i]);
        if (n > k && strcmp(base + n - k, suffixes[i]) == 0)
            n -= k;
    }
    return keel_arena_strndup(a, base, n);
}

static int check_name(const char *name, keel_err *err)
{
    if (name == NULL || name[0] == '\0')
        return keel_errf(err, KEEL_EINVAL, "dataset name must not be empty");
    if (strlen(name) > 200)
        return keel_errf(err, KEEL_EINVAL, "dataset name is longer than 200 characters");
    for (const char *p = name; *p != '\0'; p++) {
        if (*p == '@' || *p == '/' || (unsigned char)*p < 0x20)
            return keel_errf(err, KEEL_EINVAL, "dataset name '%s' may not contain '@', '/' or "
                             "control characters", name);
    }
    return KEEL_OK;
}

#define VERSION_COLUMNS \
    "name, version, digest, source, size_bytes, n_rows, n_cols, schema, profile, created_time"

static const char *dup(keel_arena *a, keel_stmt *st, int col)
{
    const char *t = keel_stmt_text(st, col);
    return keel_arena_strdup(a, t != NULL ? t : "");
}

static void read_version(keel_stmt *st, keel_arena *a, keel_dataset_version *out)
{
    out->name = dup(a, st, 0);
    out->version = keel_stmt_int64(st, 1);
    out->digest = dup(a, st, 2);
    out->source = dup(a, st, 3);
    out->size_bytes = keel_stmt_int64(st, 4);
    out->n_rows = keel_stmt_int64(st, 5);
    out->n_cols = keel_stmt_int64(st, 6);
    out->schema_json = dup(a, st, 7);
    out->profile_json = dup(a, st, 8);
    out->created_time = keel_stmt_int64(st, 9);
}

static int find_by_digest(keel_store *s, const char *name, const char *digest, keel_arena *a,
                          keel_dataset_version *out, bool *found, keel_err *err)
{
    keel_stmt *st;
    int rc = keel_store_prepare(s, "SELECT " VERSION_COLUMNS " FROM dataset_versions "
                                   "WHERE name = ? AND digest = ?", true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, name, -1);
    keel_stmt_bind_text(st, 2, digest, -1);
    enum keel_step r = keel_stmt_step(st, err);
    *found = r == KEEL_STEP_ROW;
    if (*found)
        read_version(st, a, out);
    keel_stmt_release(st);
    return r == KEEL_STEP_ERROR ? err->code : KEEL_OK;
}

int keel_dataset_add(keel_workspace *ws, const char *path, const char *name, keel_arena *a,
                     keel_dataset_version *out, bool *out_existed, keel_err *err)
{
    if (name == NULL)
        name = default_name(a, path);
    int rc = check_name(name, err);
    if (rc != KEEL_OK)
        return rc;
    keel_frame *frame = NULL;
    rc = keel_csv_read(path, NULL, &frame, err);
    if (rc != KEEL_OK)
        return rc;
    char digest[KEEL_SHA256_HEX_LEN + 1];
    int64_t size = 0;
    rc = keel_cas_put_file(ws->cas, path, digest, &size, err);
    bool found = false;
    if (rc == KEEL_OK)
        rc = find_by_digest(ws->store, name, digest, a, out, &found, err);
    if (rc != KEEL_OK || found) {
        keel_frame_destroy(frame);
        if (out_existed != NULL)
            *out_existed = found;
        return rc;
    }
    json_t *schema = keel_frame_schema(frame);
    json_t *profile = keel_frame_profile(frame, NULL, 0);
    char *schema_text = keel_json_dumps(schema, false);
    char *profile_text = keel_json_dumps(profile, false);
    json_decref(schema);
    json_decref(profile);
    char *abs = realpath(path, NULL);
    int64_t n_rows = (int64_t)frame->n_rows, n_cols = (int64_t)frame->n_cols;
    keel_frame_destroy(frame);

    rc = keel_store_begin(ws->store, err);
    int64_t version = 0;
    if (rc == KEEL_OK) {
        keel_stmt *st;
        rc = keel_store_prepare(ws->store, "SELECT COALESCE(MAX(version), 0) + 1 FROM "
                                           "dataset_versions WHERE name = ?", true, &st, err);
        if (rc == KEEL_OK) {
            keel_stmt_bind_text(st, 1, name, -1);
            if (keel_stmt_step(st, err) == KEEL_STEP_ROW)
                version = keel_stmt_int64(st, 0);
            keel_stmt_release(st);
        }
        if (rc == KEEL_OK)
            rc = keel_store_execv(ws->store,
                "INSERT INTO dataset_versions (" VERSION_COLUMNS ") VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                NULL, err, "tittiiitti", name, version, digest, abs != NULL ? abs : path, size,
                n_rows, n_cols, schema_text, profile_text, keel_now_ms());
        if (rc == KEEL_OK)
            rc = keel_store_commit(ws->store, err);
        else
            keel_store_rollback(ws->store);
    }
    free(abs);
    free(schema_text);
    free(profile_text);
    if (rc == KEEL_OK)
        rc = find_by_digest(ws->store, name, digest, a, out, &found, err);
    if (out_existed != NULL)
        *out_existed = false;
    return rc;
}

int keel_dataset_get(keel_store *s, const char *ref, keel_arena *a, keel_dataset_version *out,
                     keel_err *err)
{
    if (ref == NULL || ref[0] == '\0')
        return keel_errf(err, KEEL_EINVAL, "dataset reference is empty");
    const char *at = strchr(ref, '@');
    char name[256];
    int64_t version = 0;
    if (at != NULL) {
        char *end = NULL;
        errno = 0;
        version = strtoll(at + 1, &end, 10);
        if (end == at + 1 || *end != '\0' || errno != 0 || version < 1)
            return keel_errf(err, KEEL_EINVAL, "dataset reference '%s': expected NAME@VERSION "
                             "with a version from 1", ref);
    }
    size_t n = at != NULL ? (size_t)(at - ref) : strlen(ref);
    if (n >= sizeof name)
        return keel_errf(err, KEEL_EINVAL, "dataset name is too long");
    memcpy(name, ref, n);
    name[n] = '\0';
    keel_stmt *st;
    int rc = keel_store_prepare(s,
        version > 0 ? "SELECT " VERSION_COLUMNS " FROM dataset_versions WHERE name = ? AND "
                      "version = ?"
                    : "SELECT " VERSION_COLUMNS " FROM dataset_versions WHERE name = ? "
                      "ORDER BY version DESC LIMIT 1",
        true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, name, -1);
    if (version > 0)
        keel_stmt_bind_int64(st, 2, version);
    enum keel_step r = keel_stmt_step(st, err);
    if (r == KEEL_STEP_ROW)
        read_version(st, a, out);
    keel_stmt_release(st);
    if (r == KEEL_STEP_ERROR)
        return err->code;
    if (r == KEEL_STEP_DONE)
        return keel_errf(err, KEEL_ENOTFOUND, "no dataset '%s'", ref);
    return KEEL_OK;
}

int keel_dataset_list(keel_store *s, keel_arena *a, keel_dataset_version **out, size_t *out_n,
                      keel_err *err)
{
    keel_stmt *st;
    int rc = keel_store_prepare(s, "SELECT " VERSION_COLUMNS " FROM dataset_versions "
                                   "ORDER BY name, version DESC", true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    size_t n = 0, cap = 0;
    keel_dataset_version *list = NULL;
    enum keel_step r;
    while ((r = keel_stmt_step(st, err)) == KEEL_STEP_ROW) {
        if (n == cap) {
            size_t ncap = cap == 0 ? 16 : cap * 2;
            keel_dataset_version *grown = keel_arena_alloc(a, ncap * sizeof *grown);
            if (grown == NULL) {
                keel_stmt_release(st);
                return keel_errf(err, KEEL_ENOMEM, "out of memory listing datasets");
            }
            if (n > 0)
                memcpy(grown, list, n * sizeof *grown);
            list = grown;
            cap = ncap;
        }
        read_version(st, a, &list[n++]);
    }
    keel_stmt_release(st);
    if (r == KEEL_STEP_ERROR)
        return err->code;
    *out = list;
    *out_n = n;
    return KEEL_OK;
}

int keel_dataset_load(keel_workspace *ws, const char *ref, keel_arena *a, keel_frame **out,
                      keel_dataset_version *out_meta, keel_err *err)
{
    memset(out_meta, 0, sizeof *out_meta);
    keel_err lookup;
    bool is_file = keel_path_exists(ref) && !keel_path_is_dir(ref);
    if (!is_file && keel_dataset_get(ws->store, ref, a, out_meta, &lookup) == KEEL_OK) {
        char object[4096];
        int rc = keel_cas_verify(ws->cas, out_meta->digest, err);
        if (rc == KEEL_OK)
            rc = keel_cas_object_path(ws->cas, out_meta->digest, object, sizeof object, err);
        if (rc == KEEL_OK)
            rc = keel_csv_read(object, NULL, out, err);
        if (rc != KEEL_OK)
            keel_err_prefix(err, "dataset %s@%lld", out_meta->name, (long long)out_meta->version);
        return rc;
    }
    if (!is_file)
        return keel_errf(err, KEEL_ENOTFOUND, "'%s' is neither a dataset name nor a file", ref);
    char digest[KEEL_SHA256_HEX_LEN + 1];
    int64_t size = 0;
    int rc = keel_sha256_file(ref, digest, &size, err);
    if (rc == KEEL_OK)
        rc = keel_csv_read(ref, NULL, out, err);
    if (rc != KEEL_OK)
        return rc;
    out_meta->name = keel_arena_strdup(a, ref);
    out_meta->digest = keel_arena_strdup(a, digest);
    out_meta->source = out_meta->name;
    out_meta->size_bytes = size;
    out_meta->n_rows = (int64_t)(*out)->n_rows;
    out_meta->n_cols = (int64_t)(*out)->n_cols;
    return KEEL_OK;
}
