/*
 * registry_version.c — model versions: create (numbered max + 1 per model,
 * deleted numbers never reused, as MLflow), get, update, delete, tags, stage
 * transitions and the latest version per stage.
 *
 * A deleted version keeps its row with current_stage REGISTRY_STAGE_DELETED
 * and its fields redacted, exactly as MLflow's SQL store does, so the next
 * version after deleting the newest still gets a new number; its tags and
 * the aliases pointing at it are removed.
 */
#include "registry_internal.h"

#include <keel/util.h>

#include <stdio.h>
#include <string.h>

static int finish(keel_store *s, int rc, keel_err *err)
{
    if (rc != KEEL_OK) {
        keel_store_rollback(s);
        return rc;
    }
    return keel_store_commit(s, err);
}

static int check_ref(const char *name, int64_t version, keel_err *err)
{
    int rc = registry_check_model_name(name, err);
    if (rc == KEEL_OK)
        rc = registry_check_version(name, version, err);
    return rc;
}

/* The run behind a new version: the given id (checked), else the one in a
 * runs:/ or mlflow-artifacts:/ source, else "" (no run). */
static int resolve_run_id(const keel_model_version_create *c, keel_arena *a,
                          const char **out, keel_err *err)
{
    *out = "";
    if (c->run_id != NULL && c->run_id[0] != '\0') {
        int rc = keel_validate_run_id(c->run_id, err);
        if (rc != KEEL_OK)
            return keel_err_prefix(err, "model '%s'", c->name);
        *out = c->run_id;
        return KEEL_OK;
    }
    if (!registry_source_has_run(c->source))
        return KEEL_OK;
    const char *path;
    return registry_source_split(c->source, a, out, &path, err);
}

static int next_version(keel_store *s, const char *name, int64_t *out, keel_err *err)
{
    keel_stmt *st;
    /* deleted versions keep their rows, so their numbers count too */
    int rc = keel_store_prepare(s,
        "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE name = ?", true, &st,
        err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, name, -1);
    enum keel_step r = keel_stmt_step(st, err);
    if (r == KEEL_STEP_ROW)
        *out = keel_stmt_int64(st, 0);
    keel_stmt_release(st);
    if (r == KEEL_STEP_ERROR)
        return err->code;
    if (r == KEEL_STEP_DONE)
        return keel_errf(err, KEEL_ESTORE, "cannot number a new version of model '%s'", name);
    return KEEL_OK;
}

static int put_version_tag(keel_store *s, const char *name, int64_t version, const char *key,
                           const char *value, keel_err *err)
{
    return keel_store_execv(s,
        "INSERT INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
        NULL, err, "titt", name, version, key, value != NULL ? value : "");
}

int keel_model_version_create_run(keel_store *s, const keel_model_version_create *c,
                                  const char *actor, int64_t *out_version, keel_err *err)
{
    if (c == NULL)
        return keel_errf(err, KEEL_EINVAL, "model version: no request");
    int rc = registry_check_model_name(c->name, err);
    if (rc != KEEL_OK)
        return rc;
    if (c->source == NULL || c->source[0] == '\0')
        return keel_errf(err, KEEL_EINVAL, "model '%s': a new version needs a source",
                         c->name);
    rc = registry_check_text("version source", c->source, REGISTRY_SOURCE_MAX, err);
    if (rc == KEEL_OK)
        rc = registry_check_text("version description", c->description,
                                 REGISTRY_DESCRIPTION_MAX, err);
    if (rc == KEEL_OK)
        rc = registry_check_text("run_link", c->run_link, REGISTRY_SOURCE_MAX, err);
    for (size_t i = 0; rc == KEEL_OK && i < c->n_tags; i++)
        rc = registry_check_tag(c->tags[i].key, c->tags[i].value, err);
    if (rc != KEEL_OK)
        return keel_err_prefix(err, "model '%s'", c->name);
    keel_arena a;
    keel_arena_init(&a, 0);
    const char *run_id = "";
    if ((rc = resolve_run_id(c, &a, &run_id, err)) != KEEL_OK) {
        keel_arena_free(&a);
        return rc;
    }
    if ((rc = keel_store_begin(s, err)) != KEEL_OK) {
        keel_arena_free(&a);
        return rc;
    }
    int64_t version = 0;
    int64_t now = keel_now_ms();
    rc = registry_model_require(s, c->name, err);
    if (rc == KEEL_OK)
        rc = next_version(s, c->name, &version, err);
    if (rc == KEEL_OK)
        rc = keel_store_execv(s,
            "INSERT INTO model_versions (name, version, creation_time, last_updated_time, "
            "description, user_id, current_stage, source, run_id, run_link, status, "
            "status_message, signature) VALUES (?, ?, ?, ?, ?, ?, 'None', ?, ?, ?, 'READY', '', ?)",
            NULL, err, "tiiitttttt", c->name, version, now, now, c->description,
            c->user_id != NULL ? c->user_id : registry_actor(actor), c->source, run_id, c->run_link != NULL ? c->run_link : "",
            c->signature);
    for (size_t i = 0; rc == KEEL_OK && i < c->n_tags; i++)
        rc = put_version_tag(s, c->name, version, c->tags[i].key, c->tags[i].value, err);
    if (rc == KEEL_OK)
        rc = registry_model_touch(s, c->name, now, err);
    if (rc == KEEL_OK)
        rc = registry_audit_append(s, actor, "create_version", c->name, version, "source", NULL,
                                   c->source, NULL, err);
    keel_arena_free(&a);
    rc = finish(s, rc, err);
    if (rc == KEEL_OK && out_version != NULL)
        *out_version = version;
    return rc;
}

int keel_model_version_get(keel_store *s, const char *name, int64_t version, keel_arena *a,
                           keel_model_version *out, keel_err *err)
{
    int rc = check_ref(name, version, err);
    if (rc != KEEL_OK)
        return rc;
    return registry_version_load(s, name, version, a, out, err);
}

/* The version's description (NULL when none) for the audit's old value. */
static int read_version_text(keel_store *s, const char *sql, const char *name, int64_t version,
                             keel_arena *a, const char **out, keel_err *err)
{
    keel_stmt *st;
    int rc = keel_store_prepare(s, sql, true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, name, -1);
    keel_stmt_bind_int64(st, 2, version);
    enum keel_step r = keel_stmt_step(st, err);
    *out = NULL;
    if (r == KEEL_STEP_ROW && keel_stmt_text(st, 0) != NULL) {
        *out = keel_arena_strdup(a, keel_stmt_text(st, 0));
        if (*out == NULL)
            rc = keel_errf(err, KEEL_ENOMEM, "out of memory reading model '%s'", name);
    }
    keel_stmt_release(st);
    return r == KEEL_STEP_ERROR ? err->code : rc;
}

int keel_model_version_update(keel_store *s, const char *name, int64_t version,
                              const char *description, const char *actor, keel_err *err)
{
    int rc = check_ref(name, version, err);
    if (rc == KEEL_OK)
        rc = registry_check_text("version description", description, REGISTRY_DESCRIPTION_MAX,
                                 err);
    if (rc != KEEL_OK)
        return rc;
    if ((rc = keel_store_begin(s, err)) != KEEL_OK)
        return rc;
    keel_arena a;
    keel_arena_init(&a, 0);
    const char *old = NULL;
    rc = registry_version_require(s, name, version, NULL, 0, err);
    if (rc == KEEL_OK)
        rc = read_version_text(s,
            "SELECT description FROM model_versions WHERE name = ? AND version = ?", name,
            version, &a, &old, err);
    if (rc == KEEL_OK)
        rc = keel_store_execv(s,
            "UPDATE model_versions SET description = ?, last_updated_time = ? "
            "WHERE name = ? AND version = ?",
            NULL, err, "titi", description, keel_now_ms(), name, version);
    if (rc == KEEL_OK)
        rc = registry_audit_append(s, actor, "update_version", name, version, "description",
                                   old, description, NULL, err);
    keel_arena_free(&a);
    return finish(s, rc, err);
}

int keel_model_version_delete(keel_store *s, const char *name, int64_t version,
                              const char *actor, keel_err *err)
{
    int rc = check_ref(name, version, err);
    if (rc != KEEL_OK)
        return rc;
    if ((rc = keel_store_begin(s, err)) != KEEL_OK)
        return rc;
    char stage[32] = "";
    int64_t now = keel_now_ms();
    rc = registry_version_require(s, name, version, stage, sizeof stage, err);
    if (rc == KEEL_OK)
        rc = registry_aliases_drop_for_version(s, name, version, actor, "version deleted", err);
    if (rc == KEEL_OK)
        rc = keel_store_execv(s,
            "DELETE FROM model_version_tags WHERE name = ? AND version = ?", NULL, err, "ti",
            name, version);
    /* MLflow's redaction of a deleted version */
    if (rc == KEEL_OK)
        rc = keel_store_execv(s,
            "UPDATE model_versions SET current_stage = '" REGISTRY_STAGE_DELETED "', "
            "last_updated_time = ?, description = NULL, user_id = NULL, "
            "source = 'REDACTED-SOURCE-PATH', run_id = 'REDACTED-RUN-ID', "
            "run_link = 'REDACTED-RUN-LINK', status_message = NULL, signature = NULL "
            "WHERE name = ? AND version = ?",
            NULL, err, "iti", now, name, version);
    if (rc == KEEL_OK)
        rc = registry_model_touch(s, name, now, err);
    if (rc == KEEL_OK)
        rc = registry_audit_append(s, actor, "delete_version", name, version, "stage", stage,
                                   NULL, NULL, err);
    return finish(s, rc, err);
}

int keel_model_version_set_tag(keel_store *s, const char *name, int64_t version,
                               const char *key, const char *value, const char *actor,
                               keel_err *err)
{
    int rc = check_ref(name, version, err);
    if (rc == KEEL_OK)
        rc = registry_check_tag(key, value, err);
    if (rc != KEEL_OK)
        return rc;
    if ((rc = keel_store_begin(s, err)) != KEEL_OK)
        return rc;
    keel_arena a;
    keel_arena_init(&a, 0);
    const char *old = NULL;
    rc = registry_version_require(s, name, version, NULL, 0, err);
    if (rc == KEEL_OK)
        rc = read_version_text(s,
            "SELECT value FROM model_version_tags WHERE name = ? AND version = ? AND key = ?",
            name, version, &a, &old, err);
    if (rc == KEEL_OK)
        rc = put_version_tag(s, name, version, key, value, err);
    if (rc == KEEL_OK)
        rc = registry_audit_append(s, actor, "set_version_tag", name, version, key, old,
                                   value != NULL ? value : "", NULL, err);
    keel_arena_free(&a);
    return finish(s, rc, err);
}

int keel_model_version_delete_tag(keel_store *s, const char *name, int64_t version,
                                  const char *key, const char *actor, keel_err *err)
{
    int rc = check_ref(name, version, err);
    if (rc == KEEL_OK)
        rc = keel_validate_key("tag", key, err);
    if (rc != KEEL_OK)
        return rc;
    if ((rc = keel_store_begin(s, err)) != KEEL_OK)
        return rc;
    rc = registry_version_require(s, name, version, NULL, 0, err);
    keel_arena a;
    keel_arena_init(&a, 0);
    const char *old = NULL;
    keel_stmt *st = NULL;
    if (rc == KEEL_OK)
        rc = keel_store_prepare(s,
            "SELECT value FROM model_version_tags WHERE name = ? AND version = ? AND key = ?",
            true, &st, err);
    if (rc == KEEL_OK) {
        keel_stmt_bind_text(st, 1, name, -1);
        keel_stmt_bind_int64(st, 2, version);
        keel_stmt_bind_text(st, 3, key, -1);
        enum keel_step r = keel_stmt_step(st, err);
        if (r == KEEL_STEP_ROW) {
            const char *v = keel_stmt_text(st, 0);
            old = keel_arena_strdup(&a, v != NULL ? v : "");
            if (old == NULL)
                rc = keel_errf(err, KEEL_ENOMEM, "out of memory");
        } else if (r == KEEL_STEP_ERROR) {
            rc = err->code;
        }
        keel_stmt_release(st);
    }
    /* MLflow: deleting a tag that is not set succeeds and changes nothing */
    if (rc == KEEL_OK && old != NULL)
        rc = keel_store_execv(s,
            "DELETE FROM model_version_tags WHERE name = ? AND version = ? AND key = ?", NULL,
            err, "tit", name, version, key);
    if (rc == KEEL_OK && old != NULL)
        rc = registry_audit_append(s, actor, "delete_version_tag", name, version, key, old,
                                   NULL, NULL, err);
    keel_arena_free(&a);
    return finish(s, rc, err);
}

/* Moves the other versions in stage to Archived, auditing each. */
static int archive_others(keel_store *s, const char *name, int64_t version, const char *stage,
                          int64_t now, const char *actor, keel_err *err)
{
    keel_stmt *st;
    int rc = keel_store_prepare(s,
        "SELECT version FROM model_versions WHERE name = ? AND current_stage = ? "
        "AND version <> ? ORDER BY version", true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, name, -1);
    keel_stmt_bind_text(st, 2, stage, -1);
    keel_stmt_bind_int64(st, 3, version);
    int64_t found[64];
    size_t n = 0;
    bool more = false;
    enum keel_step r;
    while ((r = keel_stmt_step(st, err)) == KEEL_STEP_ROW) {
        if (n == sizeof found / sizeof found[0]) {
            more = true;
            break;
        }
        found[n++] = keel_stmt_int64(st, 0);
    }
    keel_stmt_release(st);
    if (r == KEEL_STEP_ERROR)
        return err->code;
    char reason[96];
    snprintf(reason, sizeof reason, "archive_existing: version %lld moved to %s",
             (long long)version, stage);
    for (size_t i = 0; rc == KEEL_OK && i < n; i++) {
        rc = keel_store_execv(s,
            "UPDATE model_versions SET current_stage = 'Archived', last_updated_time = ? "
            "WHERE name = ? AND version = ?", NULL, err, "iti", now, name, found[i]);
        if (rc == KEEL_OK)
            rc = registry_audit_append(s, actor, "transition", name, found[i], "stage", stage,
                                       "Archived", reason, err);
    }
    /* rarely more than one version shares a stage; take the rest in batches */
    if (rc == KEEL_OK && more)
        return archive_others(s, name, version, stage, now, actor, err);
    return rc;
}

int keel_model_version_transition(keel_store *s, const char *name, int64_t version,
                                  const char *stage, bool archive_existing, const char *actor,
                                  keel_err *err)
{
    int rc = check_ref(name, version, err);
    if (rc != KEEL_OK)
        return rc;
    const char *canonical = registry_stage_canonical(stage);
    if (canonical == NULL)
        return keel_errf(err, KEEL_EINVAL,
                         "invalid stage '%s' for model '%s' version %lld (valid: None, Staging, "
                         "Production, Archived)", stage != NULL ? stage : "", name,
                         (long long)version);
    bool active = strcmp(canonical, "Staging") == 0 || strcmp(canonical, "Production") == 0;
    if (archive_existing && !active)
        return keel_errf(err, KEEL_EINVAL,
                         "model '%s': cannot archive existing versions when moving version %lld "
                         "to '%s'; only Staging and Production archive others", name,
                         (long long)version, canonical);
    if ((rc = keel_store_begin(s, err)) != KEEL_OK)
        return rc;
    char old[32] = "";
    int64_t now = keel_now_ms();
    rc = registry_version_require(s, name, version, old, sizeof old, err);
    if (rc == KEEL_OK && archive_existing)
        rc = archive_others(s, name, version, canonical, now, actor, err);
    if (rc == KEEL_OK)
        rc = keel_store_execv(s,
            "UPDATE model_versions SET current_stage = ?, last_updated_time = ? "
            "WHERE name = ? AND version = ?", NULL, err, "titi", canonical, now, name, version);
    if (rc == KEEL_OK)
        rc = registry_model_touch(s, name, now, err);
    if (rc == KEEL_OK)
        rc = registry_audit_append(s, actor, "transition", name, version, "stage", old,
                                   canonical, NULL, err);
    return finish(s, rc, err);
}

int keel_model_latest_versions(keel_store *s, const char *name, const char *const *stages,
                               size_t n_stages, keel_arena *a, keel_model_version **out,
                               size_t *out_n, keel_err *err)
{
    int rc = registry_check_model_name(name, err);
    if (rc != KEEL_OK)
        return rc;
    if (n_stages > 0 && stages == NULL)
        return keel_errf(err, KEEL_EINVAL, "model '%s': %zu stages but no list", name,
                         n_stages);
    const char **canonical = NULL;
    if (n_stages > 0) {
        canonical = keel_arena_alloc(a, n_stages * sizeof *canonical);
        if (canonical == NULL)
            return keel_errf(err, KEEL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n_stages; i++) {
        canonical[i] = registry_stage_canonical(stages[i]);
        if (canonical[i] == NULL)
            return keel_errf(err, KEEL_EINVAL,
                             "invalid stage '%s' (valid: None, Staging, Production, Archived)",
                             stages[i] != NULL ? stages[i] : "");
    }
    if ((rc = registry_model_require(s, name, err)) != KEEL_OK)
        return rc;
    return registry_latest_versions(s, name, canonical, n_stages, a, out, out_n, err);
}
