/*
 * registry_model.c — registered models: create, get, rename, update,
 * delete, tags. Each write is one transaction that also appends its audit
 * rows; a rename carries versions, tags and aliases along (the schema's ON
 * UPDATE CASCADE) and moves the model's audit history to the new name.
 */
#include "registry_internal.h"

#include <keel/util.h>

#include <string.h>

int registry_model_touch(keel_store *s, const char *name, int64_t now_ms, keel_err *err)
{
    return keel_store_execv(s, "UPDATE registered_models SET last_updated_time = ? WHERE name = ?",
                            NULL, err, "it", now_ms, name);
}

/* Ends a write: commits on success, rolls back otherwise; returns rc or the
 * commit's result. */
static int finish(keel_store *s, int rc, keel_err *err)
{
    if (rc != KEEL_OK) {
        keel_store_rollback(s);
        return rc;
    }
    return keel_store_commit(s, err);
}

static int model_absent(keel_store *s, const char *name, keel_err *err)
{
    keel_err probe;
    int rc = registry_model_require(s, name, &probe);
    if (rc == KEEL_OK)
        return keel_errf(err, KEEL_EEXIST, "Registered Model (name=%s) already exists", name);
    if (rc != KEEL_ENOTFOUND) {
        *err = probe;
        return rc;
    }
    return KEEL_OK;
}

static int put_model_tag(keel_store *s, const char *name, const char *key, const char *value,
                         keel_err *err)
{
    return keel_store_execv(s,
        "INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?) "
        "ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
        NULL, err, "ttt", name, key, value != NULL ? value : "");
}

int keel_model_create(keel_store *s, const char *name, const char *description,
                      const keel_kv *tags, size_t n_tags, const char *actor, keel_err *err)
{
    int rc = registry_check_model_name(name, err);
    if (rc == KEEL_OK)
        rc = registry_check_text("model description", description, REGISTRY_DESCRIPTION_MAX,
                                 err);
    for (size_t i = 0; rc == KEEL_OK && i < n_tags; i++)
        rc = registry_check_tag(tags[i].key, tags[i].value, err);
    if (rc != KEEL_OK)
        return rc;
    if ((rc = keel_store_begin(s, err)) != KEEL_OK)
        return rc;
    rc = model_absent(s, name, err);
    int64_t now = keel_now_ms();
    if (rc == KEEL_OK)
        rc = keel_store_execv(s,
            "INSERT INTO registered_models (name, creation_time, last_updated_time, description) "
            "VALUES (?, ?, ?, ?)", NULL, err, "tiit", name, now, now, description);
    for (size_t i = 0; rc == KEEL_OK && i < n_tags; i++)
        rc = put_model_tag(s, name, tags[i].key, tags[i].value, err);
    if (rc == KEEL_OK)
        rc = registry_audit_append(s, actor, "create_model", name, 0, "", NULL, description,
                                   NULL, err);
    return finish(s, rc, err);
}

int keel_model_get(keel_store *s, const char *name, keel_arena *a, keel_registered_model *out,
                   keel_err *err)
{
    int rc = registry_check_model_name(name, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt *st;
    rc = keel_store_prepare(s,
        "SELECT " REGISTRY_MODEL_COLUMNS " FROM registered_models rm WHERE rm.name = ?", true,
        &st, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, name, -1);
    enum keel_step r = keel_stmt_step(st, err);
    if (r == KEEL_STEP_ROW)
        rc = registry_model_read(st, a, out, err);
    keel_stmt_release(st);
    if (r == KEEL_STEP_ERROR)
        return err->code;
    if (r == KEEL_STEP_DONE)
        return keel_errf(err, KEEL_ENOTFOUND, "Registered Model with name=%s not found", name);
    if (rc != KEEL_OK)
        return rc;
    return registry_model_load_extras(s, a, out, err);
}

int keel_model_rename(keel_store *s, const char *name, const char *new_name, const char *actor,
                      keel_err *err)
{
    int rc = registry_check_model_name(name, err);
    if (rc == KEEL_OK)
        rc = registry_check_model_name(new_name, err);
    if (rc != KEEL_OK)
        return rc;
    if ((rc = keel_store_begin(s, err)) != KEEL_OK)
        return rc;
    rc = registry_model_require(s, name, err);
    if (rc == KEEL_OK && strcmp(name, new_name) != 0)
        rc = model_absent(s, new_name, err);
    int64_t now = keel_now_ms();
    /* versions, tags and aliases follow through ON UPDATE CASCADE */
    if (rc == KEEL_OK)
        rc = keel_store_execv(s,
            "UPDATE registered_models SET name = ?, last_updated_time = ? WHERE name = ?", NULL,
            err, "tit", new_name, now, name);
    if (rc == KEEL_OK)
        rc = keel_store_execv(s,
            "UPDATE model_versions SET last_updated_time = ? WHERE name = ?", NULL, err, "it",
            now, new_name);
    if (rc == KEEL_OK)
        rc = keel_store_execv(s, "UPDATE registry_audit SET model = ? WHERE model = ?", NULL,
                              err, "tt", new_name, name);
    if (rc == KEEL_OK)
        rc = registry_audit_append(s, actor, "rename_model", new_name, 0, "name", name,
                                   new_name, NULL, err);
    return finish(s, rc, err);
}

/* The model's description, for the audit's old value (NULL when none). */
static int read_description(keel_store *s, const char *name, keel_arena *a, const char **out,
                            keel_err *err)
{
    keel_stmt *st;
    int rc = keel_store_prepare(s, "SELECT description FROM registered_models WHERE name = ?",
                                true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, name, -1);
    enum keel_step r = keel_stmt_step(st, err);
    *out = NULL;
    if (r == KEEL_STEP_ROW && keel_stmt_text(st, 0) != NULL) {
        *out = keel_arena_strdup(a, keel_stmt_text(st, 0));
        if (*out == NULL)
            rc = keel_errf(err, KEEL_ENOMEM, "out of memory reading model '%s'", name);
    }
    keel_stmt_release(st);
    if (r == KEEL_STEP_ERROR)
        return err->code;
    if (r == KEEL_STEP_DONE)
        return keel_errf(err, KEEL_ENOTFOUND, "Registered Model with name=%s not found", name);
    return rc;
}

int keel_model_update(keel_store *s, const char *name, const char *description,
                      const char *actor, keel_err *err)
{
    int rc = registry_check_model_name(name, err);
    if (rc == KEEL_OK)
        rc = registry_check_text("model description", description, REGISTRY_DESCRIPTION_MAX,
                                 err);
    if (rc != KEEL_OK)
        return rc;
    if ((rc = keel_store_begin(s, err)) != KEEL_OK)
        return rc;
    keel_arena a;
    keel_arena_init(&a, 0);
    const char *old = NULL;
    rc = read_description(s, name, &a, &old, err);
    if (rc == KEEL_OK)
        rc = keel_store_execv(s,
            "UPDATE registered_models SET description = ?, last_updated_time = ? WHERE name = ?",
            NULL, err, "tit", description, keel_now_ms(), name);
    if (rc == KEEL_OK)
        rc = registry_audit_append(s, actor, "update_model", name, 0, "description", old,
                                   description, NULL, err);
    keel_arena_free(&a);
    return finish(s, rc, err);
}

int keel_model_delete(keel_store *s, const char *name, const char *actor, keel_err *err)
{
    int rc = registry_check_model_name(name, err);
    if (rc != KEEL_OK)
        return rc;
    if ((rc = keel_store_begin(s, err)) != KEEL_OK)
        return rc;
    rc = registry_model_require(s, name, err);
    /* children first: the foreign keys have no ON DELETE action */
    static const char *const deletes[] = {
        "DELETE FROM model_version_tags WHERE name = ?",
        "DELETE FROM registered_model_aliases WHERE name = ?",
        "DELETE FROM model_versions WHERE name = ?",
        "DELETE FROM registered_model_tags WHERE name = ?",
        "DELETE FROM registered_models WHERE name = ?",
    };
    for (size_t i = 0; rc == KEEL_OK && i < sizeof deletes / sizeof deletes[0]; i++)
        rc = keel_store_execv(s, deletes[i], NULL, err, "t", name);
    if (rc == KEEL_OK)
        rc = registry_audit_append(s, actor, "delete_model", name, 0, "", name, NULL, NULL,
                                   err);
    return finish(s, rc, err);
}

/* The current value of a model tag into *out (NULL when unset). */
static int read_model_tag(keel_store *s, const char *name, const char *key, keel_arena *a,
                          const char **out, keel_err *err)
{
    keel_stmt *st;
    int rc = keel_store_prepare(s,
        "SELECT value FROM registered_model_tags WHERE name = ? AND key = ?", true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, name, -1);
    keel_stmt_bind_text(st, 2, key, -1);
    enum keel_step r = keel_stmt_step(st, err);
    *out = NULL;
    if (r == KEEL_STEP_ROW) {
        const char *v = keel_stmt_text(st, 0);
        *out = keel_arena_strdup(a, v != NULL ? v : "");
        if (*out == NULL)
            rc = keel_errf(err, KEEL_ENOMEM, "out of memory reading a tag of model '%s'", name);
    }
    keel_stmt_release(st);
    return r == KEEL_STEP_ERROR ? err->code : rc;
}

int keel_model_set_tag(keel_store *s, const char *name, const char *key, const char *value,
                       const char *actor, keel_err *err)
{
    int rc = registry_check_model_name(name, err);
    if (rc == KEEL_OK)
        rc = registry_check_tag(key, value, err);
    if (rc != KEEL_OK)
        return rc;
    if ((rc = keel_store_begin(s, err)) != KEEL_OK)
        return rc;
    keel_arena a;
    keel_arena_init(&a, 0);
    const char *old = NULL;
    rc = registry_model_require(s, name, err);
    if (rc == KEEL_OK)
        rc = read_model_tag(s, name, key, &a, &old, err);
    if (rc == KEEL_OK)
        rc = put_model_tag(s, name, key, value, err);
    if (rc == KEEL_OK)
        rc = registry_audit_append(s, actor, "set_model_tag", name, 0, key, old,
                                   value != NULL ? value : "", NULL, err);
    keel_arena_free(&a);
    return finish(s, rc, err);
}

int keel_model_delete_tag(keel_store *s, const char *name, const char *key, const char *actor,
                          keel_err *err)
{
    int rc = registry_check_model_name(name, err);
    if (rc == KEEL_OK)
        rc = keel_validate_key("tag", key, err);
    if (rc != KEEL_OK)
        return rc;
    if ((rc = keel_store_begin(s, err)) != KEEL_OK)
        return rc;
    keel_arena a;
    keel_arena_init(&a, 0);
    const char *old = NULL;
    rc = registry_model_require(s, name, err);
    if (rc == KEEL_OK)
        rc = read_model_tag(s, name, key, &a, &old, err);
    /* MLflow: deleting a tag that is not set succeeds and changes nothing */
    if (rc == KEEL_OK && old != NULL)
        rc = keel_store_execv(s, "DELETE FROM registered_model_tags WHERE name = ? AND key = ?",
                              NULL, err, "tt", name, key);
    if (rc == KEEL_OK && old != NULL)
        rc = registry_audit_append(s, actor, "delete_model_tag", name, 0, key, old, NULL, NULL,
                                   err);
    keel_arena_free(&a);
    return finish(s, rc, err);
}
