/*
 * feature_registry.c — the versions of each project's feature definitions in
 * the metadata store (table feature_registry, migration 9), and the checks
 * that need a workspace (dataset sources).
 *
 * A version holds the features.yaml text itself and its SHA-256. Applying
 * the same bytes as the project's newest version changes nothing; anything
 * else becomes the next version, even bytes equal to an older version (a
 * revert): the newest version is always what was applied last, which is
 * what `keel features diff` compares against.
 */
#include "features_internal.h"

#include <keel/dataset.h>
#include <keel/util.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int feature_registry_get(keel_store *s, const char *project, int64_t version, keel_arena *a,
                         feature_definitions *out, keel_err *err)
{
    if (s == NULL || project == NULL || a == NULL || out == NULL || version < 0)
        return keel_errf(err, KEEL_EINVAL, "feature_registry_get: bad argument");
    keel_stmt *st;
    int rc = keel_store_prepare(s,
        version > 0 ? "SELECT version, digest, definitions, created_time FROM feature_registry "
                      "WHERE project = ? AND version = ?"
                    : "SELECT version, digest, definitions, created_time FROM feature_registry "
                      "WHERE project = ? ORDER BY version DESC LIMIT 1",
        true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, project, -1);
    if (version > 0)
        keel_stmt_bind_int64(st, 2, version);
    enum keel_step step = keel_stmt_step(st, err);
    if (step == KEEL_STEP_ROW) {
        out->project = keel_arena_strdup(a, project);
        out->version = keel_stmt_int64(st, 0);
        out->digest = keel_arena_strdup(a, keel_stmt_text(st, 1));
        out->text = keel_arena_strdup(a, keel_stmt_text(st, 2));
        out->created_time = keel_stmt_int64(st, 3);
        if (out->project == NULL || out->digest == NULL || out->text == NULL)
            rc = keel_errf(err, KEEL_ENOMEM, "out of memory");
    }
    keel_stmt_release(st);
    if (step == KEEL_STEP_ERROR)
        return err->code;
    if (step == KEEL_STEP_DONE)
        return version > 0 ? keel_errf(err, KEEL_ENOTFOUND, "project %s has no definitions "
                                       "version %lld", project, (long long)version)
                           : keel_errf(err, KEEL_ENOTFOUND, "project %s has no applied "
                                       "definitions (run keel features apply)", project);
    return rc;
}

/* The column names of a dataset version's schema ({"columns": [{"name"}…]}),
 * in the arena. */
static int schema_columns(const keel_dataset_version *v, keel_arena *a, const char ***out,
                          size_t *out_n, keel_err *err)
{
    json_t *schema = json_loads(v->schema_json, 0, NULL);
    json_t *cols = json_object_get(schema, "columns");
    size_t n = json_array_size(cols);
    const char **names = keel_arena_alloc(a, (n + 1) * sizeof *names);
    int rc = names != NULL ? KEEL_OK : keel_errf(err, KEEL_ENOMEM, "out of memory");
    if (rc == KEEL_OK && !json_is_array(cols))
        rc = keel_errf(err, KEEL_ECORRUPT, "dataset %s@%lld: stored schema has no columns",
                       v->name, (long long)v->version);
    for (size_t i = 0; rc == KEEL_OK && i < n; i++) {
        const char *name = json_string_value(json_object_get(json_array_get(cols, i), "name"));
        if (name == NULL)
            rc = keel_errf(err, KEEL_ECORRUPT, "dataset %s@%lld: stored schema column %zu has "
                           "no name", v->name, (long long)v->version, i);
        else if ((names[i] = keel_arena_strdup(a, name)) == NULL)
            rc = keel_errf(err, KEEL_ENOMEM, "out of memory");
    }
    json_decref(schema);
    *out = names;
    *out_n = n;
    return rc;
}

int feature_repo_check_datasets(keel_workspace *ws, const keel_feature_repo *repo,
                                keel_err *err)
{
    if (ws == NULL || repo == NULL)
        return keel_errf(err, KEEL_EINVAL, "feature_repo_check_datasets: NULL argument");
    keel_arena a;
    keel_arena_init(&a, 0);
    int rc = KEEL_OK;
    for (size_t i = 0; rc == KEEL_OK && i < repo->n_sources; i++) {
        const keel_feature_source *s = &repo->sources[i];
        if (s->dataset == NULL)
            continue;
        keel_dataset_version v;
        keel_err sub;
        keel_err_clear(&sub);
        rc = keel_dataset_get(ws->store, s->dataset, &a, &v, &sub);
        if (rc != KEEL_OK) {
            keel_errf(err, rc, "%s:%zu:%zu: source '%s': %s", repo->file, s->line, s->column,
                      s->name, sub.msg);
            break;
        }
        const char **names = NULL;
        size_t n = 0;
        rc = schema_columns(&v, &a, &names, &n, err);
        const char *where = keel_arena_sprintf(&a, "dataset %s@%lld", v.name,
                                               (long long)v.version);
        if (rc == KEEL_OK)
            rc = feature_source_check_columns(repo, i, names, n, where != NULL ? where : "",
                                              err);
    }
    keel_arena_free(&a);
    return rc;
}

int keel_feature_repo_apply(keel_workspace *ws, const keel_feature_repo *repo,
                            int64_t *out_version, bool *out_created, keel_err *err)
{
    if (ws == NULL || repo == NULL || out_version == NULL || out_created == NULL)
        return keel_errf(err, KEEL_EINVAL, "keel_feature_repo_apply: NULL argument");
    size_t len = 0;
    const char *text = feature_repo_text(repo, &len);
    int rc = feature_repo_check_datasets(ws, repo, err);
    if (rc != KEEL_OK)
        return rc;
    keel_store *s = ws->store;
    if ((rc = keel_store_begin(s, err)) != KEEL_OK)
        return rc;
    keel_stmt *st;
    int64_t newest = 0;
    bool same = false;
    rc = keel_store_prepare(s, "SELECT version, digest FROM feature_registry WHERE project = ? "
                               "ORDER BY version DESC LIMIT 1", true, &st, err);
    if (rc == KEEL_OK) {
        keel_stmt_bind_text(st, 1, repo->project, -1);
        enum keel_step step = keel_stmt_step(st, err);
        if (step == KEEL_STEP_ROW) {
            newest = keel_stmt_int64(st, 0);
            same = strcmp(keel_stmt_text(st, 1), repo->digest) == 0;
        }
        keel_stmt_release(st);
        if (step == KEEL_STEP_ERROR)
            rc = err->code;
    }
    if (rc == KEEL_OK && !same)
        rc = keel_store_execv(s, "INSERT INTO feature_registry (project, version, digest, "
                                 "definitions, created_time) VALUES (?, ?, ?, ?, ?)",
                              NULL, err, "titti", repo->project, newest + 1, repo->digest,
                              text, keel_now_ms());
    if (rc == KEEL_OK)
        rc = keel_store_commit(s, err);
    else
        keel_store_rollback(s);
    if (rc != KEEL_OK)
        return rc;
    *out_version = same ? newest : newest + 1;
    *out_created = !same;
    return KEEL_OK;
}

int feature_source_file(keel_workspace *ws, const keel_feature_source *src, keel_arena *a,
                        const char **out_file, const char **out_shown, keel_err *err)
{
    if (src->path != NULL) {
        *out_file = *out_shown = src->path;
        return KEEL_OK;
    }
    if (src->dataset == NULL)
        return keel_errf(err, KEEL_EINVAL, "source '%s' has neither a path nor a dataset",
                         src->name);
    if (ws == NULL)
        return keel_errf(err, KEEL_EINVAL, "source '%s' reads dataset '%s': that needs a keel "
                         "workspace (keel init)", src->name, src->dataset);
    keel_dataset_version v;
    char object[PATH_MAX];
    int rc = keel_dataset_get(ws->store, src->dataset, a, &v, err);
    if (rc == KEEL_OK)
        rc = keel_cas_verify(ws->cas, v.digest, err);
    if (rc == KEEL_OK)
        rc = keel_cas_object_path(ws->cas, v.digest, object, sizeof object, err);
    if (rc != KEEL_OK)
        return keel_err_prefix(err, "source '%s'", src->name);
    *out_file = keel_arena_strdup(a, object);
    *out_shown = keel_arena_sprintf(a, "%s@%lld", v.name, (long long)v.version);
    return KEEL_OK;
}
