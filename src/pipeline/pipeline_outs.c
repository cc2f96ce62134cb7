/*
 * pipeline_outs.c — a step's outputs in and out of the object store.
 *
 * After a step succeeds, each declared output (a file or a directory) is
 * copied into the content-addressed store and described by a manifest entry:
 *   {"path": "work/model", "type": "dir", "digest": D,
 *    "files": [{"path": "model.json", "hash": H, "mode": 420}, …]}
 *   {"path": "work/train.csv", "type": "file", "digest": H, "hash": H, "mode": 420}
 * The manifest is what the step cache remembers; restoring it writes the
 * same bytes back (atomically per file, each object verified on read), so a
 * fresh checkout sharing the store gets the outputs without running the step.
 * A digest here is the same one keel_pipeline_path_digest computes, so lineage
 * edges and cache keys agree.
 */
#include "pipeline_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *join(keel_arena *a, const char *dir, const char *rel)
{
    return keel_arena_sprintf(a, "%s/%s", dir, rel);
}

typedef struct store_ctx {
    keel_cas *cas;
    json_t *files;
} store_ctx;

static int visit_store(void *ctx, const char *abs, const char *rel, const struct stat *st,
                       char out[KEEL_SHA256_HEX_LEN + 1], keel_err *err)
{
    store_ctx *sc = ctx;
    int rc = keel_cas_put_file(sc->cas, abs, out, NULL, err);
    if (rc == KEEL_OK)
        json_array_append_new(sc->files, json_pack("{s:s, s:s, s:i}", "path", rel, "hash", out,
                                                   "mode", (json_int_t)(st->st_mode & 07777)));
    return rc;
}

int pipeline_outs_store(keel_workspace *ws, const keel_pipeline *p,
                        const keel_pipeline_step *step, json_t **out_manifest, keel_err *err)
{
    keel_arena a;
    keel_arena_init(&a, 0);
    json_t *manifest = json_array();
    int rc = KEEL_OK;
    for (size_t i = 0; i < step->n_outs && rc == KEEL_OK; i++) {
        const char *abs = join(&a, p->dir, step->outs[i]);
        struct stat st;
        char hash[KEEL_SHA256_HEX_LEN + 1];
        if (stat(abs, &st) != 0) {
            rc = keel_errf(err, KEEL_ENOTFOUND, "step '%s' did not write its declared output "
                           "'%s'", step->name, step->outs[i]);
        } else if (S_ISREG(st.st_mode)) {
            rc = keel_cas_put_file(ws->cas, abs, hash, NULL, err);
            if (rc == KEEL_OK)
                json_array_append_new(manifest, json_pack("{s:s, s:s, s:s, s:s, s:i}", "path",
                                                          step->outs[i], "type", "file", "digest",
                                                          hash, "hash", hash, "mode",
                                                          (json_int_t)(st.st_mode & 07777)));
        } else if (S_ISDIR(st.st_mode)) {
            store_ctx sc = { ws->cas, json_array() };
            rc = pipeline_dir_walk(abs, visit_store, &sc, hash, err);
            if (rc == KEEL_OK)
                json_array_append_new(manifest, json_pack("{s:s, s:s, s:s, s:o}", "path",
                                                          step->outs[i], "type", "dir", "digest",
                                                          hash, "files", sc.files));
            else
                json_decref(sc.files);
        } else {
            rc = keel_errf(err, KEEL_EINVAL, "step '%s': output '%s' is neither a file nor a "
                           "directory", step->name, step->outs[i]);
        }
    }
    keel_arena_free(&a);
    if (rc != KEEL_OK) {
        json_decref(manifest);
        return rc;
    }
    *out_manifest = manifest;
    return KEEL_OK;
}

static int parent_dirs(const char *path, keel_err *err)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir)
        return KEEL_OK;
    *slash = '\0';
    return keel_mkdir_p(dir, err);
}

/* Writes one object to dest unless dest already holds those bytes. */
static int restore_file(keel_workspace *ws, const char *dest, const char *hash, int mode,
                        keel_err *err)
{
    char have[KEEL_SHA256_HEX_LEN + 1];
    keel_err ignored;
    if (keel_pipeline_path_digest(ws->store, dest, have, &ignored) == KEEL_OK &&
        strcmp(have, hash) == 0)
        return KEEL_OK;
    int rc = parent_dirs(dest, err);
    if (rc == KEEL_OK)
        rc = keel_cas_get_file(ws->cas, hash, dest, err);
    if (rc == KEEL_OK && mode > 0 && chmod(dest, (mode_t)mode) != 0)
        rc = keel_errf(err, KEEL_EIO, "cannot set the mode of %s: %s", dest, strerror(errno));
    return rc;
}

int pipeline_outs_restore(keel_workspace *ws, const keel_pipeline *p, json_t *manifest,
                          keel_err *err)
{
    keel_arena a;
    keel_arena_init(&a, 0);
    int rc = KEEL_OK;
    size_t i;
    json_t *entry;
    json_array_foreach(manifest, i, entry) {
        const char *path = json_string_value(json_object_get(entry, "path"));
        const char *type = json_string_value(json_object_get(entry, "type"));
        const char *digest = json_string_value(json_object_get(entry, "digest"));
        if (path == NULL || type == NULL || digest == NULL) {
            rc = keel_errf(err, KEEL_ECORRUPT, "a cached output manifest entry lacks path, type "
                           "or digest");
            break;
        }
        const char *abs = join(&a, p->dir, path);
        if (strcmp(type, "file") == 0) {
            rc = restore_file(ws, abs, digest,
                              (int)json_integer_value(json_object_get(entry, "mode")), err);
        } else {
            /* A directory is rewritten whole when its digest differs, so no
             * stale file survives in it. */
            char have[KEEL_SHA256_HEX_LEN + 1];
            keel_err ignored;
            if (keel_pipeline_path_digest(ws->store, abs, have, &ignored) == KEEL_OK &&
                strcmp(have, digest) == 0)
                continue;
            if (keel_path_exists(abs))
                rc = keel_remove_tree(abs, err);
            if (rc == KEEL_OK)
                rc = keel_mkdir_p(abs, err);
            size_t j;
            json_t *file;
            json_array_foreach(json_object_get(entry, "files"), j, file) {
                const char *rel = json_string_value(json_object_get(file, "path"));
                const char *hash = json_string_value(json_object_get(file, "hash"));
                if (rc != KEEL_OK)
                    break;
                if (rel == NULL || hash == NULL || rel[0] == '/' || strstr(rel, "..") != NULL) {
                    rc = keel_errf(err, KEEL_ECORRUPT, "cached output %s: bad file entry", path);
                    break;
                }
                rc = restore_file(ws, join(&a, abs, rel), hash,
                                  (int)json_integer_value(json_object_get(file, "mode")), err);
            }
        }
        if (rc != KEEL_OK)
            break;
    }
    keel_arena_free(&a);
    return rc;
}
