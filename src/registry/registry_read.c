/*
 * registry_read.c — reading registry rows into the structs of registry.h:
 * models with their tags, aliases and latest versions; versions with their
 * tags and the aliases pointing at them. Everything returned is copied into
 * the caller's arena. Deleted versions (REGISTRY_STAGE_DELETED) are never
 * returned.
 */
#include "registry_internal.h"

#include <stdio.h>
#include <string.h>

static const char *dup_text(keel_arena *a, const char *t, bool *oom)
{
    char *c = keel_arena_strdup(a, t != NULL ? t : "");
    if (c == NULL)
        *oom = true;
    return c;
}

/* Grows an arena array of elem-sized items by doubling; false when out of
 * memory. */
static bool grow(keel_arena *a, void **items, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap == 0 ? 8 : *cap * 2;
    void *grown = keel_arena_alloc(a, ncap * elem);
    if (grown == NULL)
        return false;
    if (n > 0)
        memcpy(grown, *items, n * elem);
    *items = grown;
    *cap = ncap;
    return true;
}

int registry_model_require(keel_store *s, const char *name, keel_err *err)
{
    keel_stmt *st;
    int rc = keel_store_prepare(s, "SELECT 1 FROM registered_models WHERE name = ?", true, &st,
                                err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, name, -1);
    enum keel_step r = keel_stmt_step(st, err);
    keel_stmt_release(st);
    if (r == KEEL_STEP_ERROR)
        return err->code;
    if (r == KEEL_STEP_DONE)
        return keel_errf(err, KEEL_ENOTFOUND, "Registered Model with name=%s not found", name);
    return KEEL_OK;
}

int registry_version_require(keel_store *s, const char *name, int64_t version, char *stage_buf,
                             size_t stage_size, keel_err *err)
{
    keel_stmt *st;
    int rc = keel_store_prepare(s,
        "SELECT current_stage FROM model_versions WHERE name = ? AND version = ? "
        "AND current_stage <> '" REGISTRY_STAGE_DELETED "'", true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, name, -1);
    keel_stmt_bind_int64(st, 2, version);
    enum keel_step r = keel_stmt_step(st, err);
    if (r == KEEL_STEP_ROW && stage_buf != NULL) {
        const char *stage = keel_stmt_text(st, 0);
        snprintf(stage_buf, stage_size, "%s", stage != NULL ? stage : "None");
    }
    keel_stmt_release(st);
    if (r == KEEL_STEP_ERROR)
        return err->code;
    if (r == KEEL_STEP_DONE)
        return keel_errf(err, KEEL_ENOTFOUND, "Model Version (name=%s, version=%lld) not found",
                         name, (long long)version);
    return KEEL_OK;
}

int registry_version_read(keel_stmt *st, int first, keel_arena *a, keel_model_version *out,
                          keel_err *err)
{
    memset(out, 0, sizeof *out);
    bool oom = false;
    out->name = dup_text(a, keel_stmt_text(st, first + 0), &oom);
    out->version = keel_stmt_int64(st, first + 1);
    out->creation_time = keel_stmt_int64(st, first + 2);
    out->last_updated_time = keel_stmt_int64(st, first + 3);
    out->description = dup_text(a, keel_stmt_text(st, first + 4), &oom);
    out->user_id = dup_text(a, keel_stmt_text(st, first + 5), &oom);
    out->current_stage = dup_text(a, keel_stmt_text(st, first + 6), &oom);
    out->source = dup_text(a, keel_stmt_text(st, first + 7), &oom);
    out->run_id = dup_text(a, keel_stmt_text(st, first + 8), &oom);
    out->run_link = dup_text(a, keel_stmt_text(st, first + 9), &oom);
    out->status = dup_text(a, keel_stmt_text(st, first + 10), &oom);
    out->status_message = dup_text(a, keel_stmt_text(st, first + 11), &oom);
    const char *signature = keel_stmt_text(st, first + 12);
    if (signature != NULL)
        out->signature = dup_text(a, signature, &oom);
    if (oom)
        return keel_errf(err, KEEL_ENOMEM, "out of memory reading a model version");
    return KEEL_OK;
}

/* Reads key/value rows (columns 0 and 1) of st into an arena array. */
static int read_kv(keel_stmt *st, keel_arena *a, keel_kv **out, size_t *out_n, keel_err *err)
{
    keel_kv *list = NULL;
    size_t n = 0, cap = 0;
    bool oom = false;
    enum keel_step r = KEEL_STEP_DONE;
    while (!oom && (r = keel_stmt_step(st, err)) == KEEL_STEP_ROW) {
        if (!grow(a, (void **)&list, n, &cap, sizeof *list)) {
            oom = true;
            break;
        }
        list[n].key = dup_text(a, keel_stmt_text(st, 0), &oom);
        list[n].value = dup_text(a, keel_stmt_text(st, 1), &oom);
        n++;
    }
    if (oom)
        return keel_errf(err, KEEL_ENOMEM, "out of memory reading tags");
    if (r == KEEL_STEP_ERROR)
        return err->code;
    *out = list;
    *out_n = n;
    return KEEL_OK;
}

int registry_version_load_extras(keel_store *s, keel_arena *a, keel_model_version *v,
                                 keel_err *err)
{
    keel_stmt *st;
    int rc = keel_store_prepare(s,
        "SELECT key, value FROM model_version_tags WHERE name = ? AND version = ? ORDER BY key",
        true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, v->name, -1);
    keel_stmt_bind_int64(st, 2, v->version);
    rc = read_kv(st, a, &v->tags, &v->n_tags, err);
    keel_stmt_release(st);
    if (rc != KEEL_OK)
        return rc;

    rc = keel_store_prepare(s,
        "SELECT alias FROM registered_model_aliases WHERE name = ? AND version = ? "
        "ORDER BY alias", true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, v->name, -1);
    keel_stmt_bind_int64(st, 2, v->version);
    const char **list = NULL;
    size_t n = 0, cap = 0;
    bool oom = false;
    enum keel_step r = KEEL_STEP_DONE;
    while (!oom && (r = keel_stmt_step(st, err)) == KEEL_STEP_ROW) {
        if (!grow(a, (void **)&list, n, &cap, sizeof *list)) {
            oom = true;
            break;
        }
        list[n++] = dup_text(a, keel_stmt_text(st, 0), &oom);
    }
    keel_stmt_release(st);
    if (oom)
        return keel_errf(err, KEEL_ENOMEM, "out of memory reading aliases of model '%s'",
                         v->name);
    if (r == KEEL_STEP_ERROR)
        return err->code;
    v->aliases = list;
    v->n_aliases = n;
    return KEEL_OK;
}

int registry_version_load(keel_store *s, const char *name, int64_t version, keel_arena *a,
                          keel_model_version *out, keel_err *err)
{
    keel_stmt *st;
    int rc = keel_store_prepare(s,
        "SELECT " REGISTRY_VERSION_COLUMNS " FROM model_versions mv "
        "WHERE mv.name = ? AND mv.version = ? AND mv.current_stage <> '" REGISTRY_STAGE_DELETED
        "'", true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, name, -1);
    keel_stmt_bind_int64(st, 2, version);
    enum keel_step r = keel_stmt_step(st, err);
    if (r == KEEL_STEP_ROW)
        rc = registry_version_read(st, 0, a, out, err);
    keel_stmt_release(st);
    if (r == KEEL_STEP_ERROR)
        return err->code;
    if (r == KEEL_STEP_DONE)
        return keel_errf(err, KEEL_ENOTFOUND, "Model Version (name=%s, version=%lld) not found",
                         name, (long long)version);
    if (rc != KEEL_OK)
        return rc;
    return registry_version_load_extras(s, a, out, err);
}

int registry_model_read(keel_stmt *st, keel_arena *a, keel_registered_model *out,
                        keel_err *err)
{
    memset(out, 0, sizeof *out);
    bool oom = false;
    out->name = dup_text(a, keel_stmt_text(st, 0), &oom);
    out->creation_time = keel_stmt_int64(st, 1);
    out->last_updated_time = keel_stmt_int64(st, 2);
    out->description = dup_text(a, keel_stmt_text(st, 3), &oom);
    if (oom)
        return keel_errf(err, KEEL_ENOMEM, "out of memory reading a registered model");
    return KEEL_OK;
}

int registry_latest_versions(keel_store *s, const char *name, const char *const *stages,
                             size_t n_stages, keel_arena *a, keel_model_version **out,
                             size_t *out_n, keel_err *err)
{
    keel_stmt *st;
    int rc = keel_store_prepare(s,
        "SELECT " REGISTRY_VERSION_COLUMNS " FROM model_versions mv "
        "WHERE mv.name = ? AND mv.current_stage <> '" REGISTRY_STAGE_DELETED "' "
        "AND mv.version = (SELECT MAX(v2.version) FROM model_versions v2 "
        "  WHERE v2.name = mv.name AND v2.current_stage = mv.current_stage) "
        "ORDER BY CASE mv.current_stage WHEN 'None' THEN 0 WHEN 'Staging' THEN 1 "
        "  WHEN 'Production' THEN 2 ELSE 3 END",
        true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, name, -1);
    keel_model_version *list = NULL;
    size_t n = 0, cap = 0;
    enum keel_step r = KEEL_STEP_DONE;
    while (rc == KEEL_OK && (r = keel_stmt_step(st, err)) == KEEL_STEP_ROW) {
        const char *stage = keel_stmt_text(st, 6);
        bool wanted = n_stages == 0;
        for (size_t i = 0; !wanted && i < n_stages; i++)
            wanted = stage != NULL && strcmp(stage, stages[i]) == 0;
        if (!wanted)
            continue;
        if (!grow(a, (void **)&list, n, &cap, sizeof *list)) {
            rc = keel_errf(err, KEEL_ENOMEM, "out of memory reading versions of model '%s'",
                           name);
            break;
        }
        rc = registry_version_read(st, 0, a, &list[n], err);
        n++;
    }
    keel_stmt_release(st);
    if (rc == KEEL_OK && r == KEEL_STEP_ERROR)
        rc = err->code;
    for (size_t i = 0; rc == KEEL_OK && i < n; i++)
        rc = registry_version_load_extras(s, a, &list[i], err);
    if (rc != KEEL_OK)
        return rc;
    *out = list;
    *out_n = n;
    return KEEL_OK;
}

int registry_model_load_extras(keel_store *s, keel_arena *a, keel_registered_model *m,
                               keel_err *err)
{
    keel_stmt *st;
    int rc = keel_store_prepare(s,
        "SELECT key, value FROM registered_model_tags WHERE name = ? ORDER BY key", true, &st,
        err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, m->name, -1);
    rc = read_kv(st, a, &m->tags, &m->n_tags, err);
    keel_stmt_release(st);
    if (rc != KEEL_OK)
        return rc;

    rc = keel_store_prepare(s,
        "SELECT alias, version FROM registered_model_aliases WHERE name = ? ORDER BY alias",
        true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, m->name, -1);
    keel_model_alias *list = NULL;
    size_t n = 0, cap = 0;
    bool oom = false;
    enum keel_step r = KEEL_STEP_DONE;
    while (!oom && (r = keel_stmt_step(st, err)) == KEEL_STEP_ROW) {
        if (!grow(a, (void **)&list, n, &cap, sizeof *list)) {
            oom = true;
            break;
        }
        list[n].alias = dup_text(a, keel_stmt_text(st, 0), &oom);
        list[n].version = keel_stmt_int64(st, 1);
        n++;
    }
    keel_stmt_release(st);
    if (oom)
        return keel_errf(err, KEEL_ENOMEM, "out of memory reading aliases of model '%s'",
                         m->name);
    if (r == KEEL_STEP_ERROR)
        return err->code;
    m->aliases = list;
    m->n_aliases = n;
    return registry_latest_versions(s, m->name, NULL, 0, a, &m->latest_versions,
                                    &m->n_latest_versions, err);
}
