/*
 * registry_alias.c — aliases: named pointers from a model to one of its
 * versions ("production", "candidate"). Setting, moving and deleting are
 * audited with the previous version. keel_model_alias_move is the
 * compare-and-set behind promotion: the read, the comparison and the write
 * happen inside one write transaction (SQLite: BEGIN IMMEDIATE), so of two
 * concurrent moves from the same expected version exactly one wins.
 */
#include "registry_internal.h"

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

/* The version alias points at into *out (0 when unset). */
static int read_alias(keel_store *s, const char *name, const char *alias, int64_t *out,
                      keel_err *err)
{
    keel_stmt *st;
    int rc = keel_store_prepare(s,
        "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?", true, &st,
        err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, name, -1);
    keel_stmt_bind_text(st, 2, alias, -1);
    enum keel_step r = keel_stmt_step(st, err);
    *out = r == KEEL_STEP_ROW ? keel_stmt_int64(st, 0) : 0;
    keel_stmt_release(st);
    return r == KEEL_STEP_ERROR ? err->code : KEEL_OK;
}

/* Points alias at version and audits the change from old (0 = unset). */
static int write_alias(keel_store *s, const char *name, const char *alias, int64_t old,
                       int64_t version, const char *action, const char *actor,
                       const char *reason, keel_err *err)
{
    int rc = keel_store_execv(s,
        "INSERT INTO registered_model_aliases (name, alias, version) VALUES (?, ?, ?) "
        "ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
        NULL, err, "tti", name, alias, version);
    char old_text[24], new_text[24];
    if (rc == KEEL_OK)
        rc = registry_audit_append(s, actor, action, name, version, alias,
                                   old != 0 ? registry_i64(old_text, old) : NULL,
                                   registry_i64(new_text, version), reason, err);
    return rc;
}

static int check_args(const char *name, const char *alias, keel_err *err)
{
    int rc = registry_check_model_name(name, err);
    if (rc == KEEL_OK)
        rc = registry_check_alias(alias, err);
    return rc;
}

int keel_model_alias_set(keel_store *s, const char *name, const char *alias, int64_t version,
                         const char *actor, const char *reason, keel_err *err)
{
    int rc = check_args(name, alias, err);
    if (rc == KEEL_OK)
        rc = registry_check_version(name, version, err);
    if (rc != KEEL_OK)
        return rc;
    if ((rc = keel_store_begin(s, err)) != KEEL_OK)
        return rc;
    int64_t old = 0;
    rc = registry_model_require(s, name, err);
    if (rc == KEEL_OK)
        rc = registry_version_require(s, name, version, NULL, 0, err);
    if (rc == KEEL_OK)
        rc = read_alias(s, name, alias, &old, err);
    if (rc == KEEL_OK)
        rc = write_alias(s, name, alias, old, version, "alias_set", actor, reason, err);
    return finish(s, rc, err);
}

int keel_model_alias_delete(keel_store *s, const char *name, const char *alias,
                            const char *actor, keel_err *err)
{
    int rc = check_args(name, alias, err);
    if (rc != KEEL_OK)
        return rc;
    if ((rc = keel_store_begin(s, err)) != KEEL_OK)
        return rc;
    int64_t old = 0;
    rc = registry_model_require(s, name, err);
    if (rc == KEEL_OK)
        rc = read_alias(s, name, alias, &old, err);
    /* MLflow: deleting an alias that is not set succeeds and changes nothing */
    if (rc == KEEL_OK && old != 0)
        rc = keel_store_execv(s,
            "DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?", NULL, err, "tt",
            name, alias);
    char old_text[24];
    if (rc == KEEL_OK && old != 0)
        rc = registry_audit_append(s, actor, "alias_delete", name, old, alias,
                                   registry_i64(old_text, old), NULL, NULL, err);
    return finish(s, rc, err);
}

int keel_model_alias_get(keel_store *s, const char *name, const char *alias, keel_arena *a,
                         keel_model_version *out, keel_err *err)
{
    int rc = check_args(name, alias, err);
    if (rc != KEEL_OK)
        return rc;
    int64_t version = 0;
    rc = registry_model_require(s, name, err);
    if (rc == KEEL_OK)
        rc = read_alias(s, name, alias, &version, err);
    if (rc != KEEL_OK)
        return rc;
    if (version == 0)
        return keel_errf(err, KEEL_ENOTFOUND,
                         "Registered model alias %s not found (model '%s')", alias, name);
    return registry_version_load(s, name, version, a, out, err);
}

int keel_model_alias_move(keel_store *s, const char *name, const char *alias,
                          int64_t expected_version, int64_t new_version, const char *actor,
                          const char *reason, keel_err *err)
{
    int rc = check_args(name, alias, err);
    if (rc == KEEL_OK)
        rc = registry_check_version(name, new_version, err);
    if (rc == KEEL_OK && expected_version < 0)
        rc = keel_errf(err, KEEL_EINVAL,
                       "alias '%s' of model '%s': expected version %lld is negative (0 = unset)",
                       alias, name, (long long)expected_version);
    if (rc != KEEL_OK)
        return rc;
    if ((rc = keel_store_begin(s, err)) != KEEL_OK)
        return rc;
    int64_t current = 0;
    rc = registry_model_require(s, name, err);
    if (rc == KEEL_OK)
        rc = registry_version_require(s, name, new_version, NULL, 0, err);
    if (rc == KEEL_OK)
        rc = read_alias(s, name, alias, &current, err);
    if (rc == KEEL_OK && current != expected_version) {
        char now_text[40], want_text[40];
        if (current != 0)
            snprintf(now_text, sizeof now_text, "points at version %lld", (long long)current);
        else
            snprintf(now_text, sizeof now_text, "is unset");
        if (expected_version != 0)
            snprintf(want_text, sizeof want_text, "version %lld", (long long)expected_version);
        else
            snprintf(want_text, sizeof want_text, "unset");
        rc = keel_errf(err, KEEL_ECONFLICT,
                       "alias '%s' of model '%s' %s, expected %s: it was moved by someone else; "
                       "not moved to version %lld", alias, name, now_text, want_text,
                       (long long)new_version);
    }
    if (rc == KEEL_OK)
        rc = write_alias(s, name, alias, current, new_version, "alias_move", actor, reason, err);
    return finish(s, rc, err);
}

int registry_aliases_drop_for_version(keel_store *s, const char *name, int64_t version,
                                      const char *actor, const char *reason, keel_err *err)
{
    keel_stmt *st;
    int rc = keel_store_prepare(s,
        "SELECT alias FROM registered_model_aliases WHERE name = ? AND version = ? "
        "ORDER BY alias", true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, name, -1);
    keel_stmt_bind_int64(st, 2, version);
    keel_arena a;
    keel_arena_init(&a, 0);
    const char *aliases[64];
    size_t n = 0;
    enum keel_step r = KEEL_STEP_DONE;
    while (rc == KEEL_OK && n < sizeof aliases / sizeof aliases[0] &&
           (r = keel_stmt_step(st, err)) == KEEL_STEP_ROW) {
        aliases[n] = keel_arena_strdup(&a, keel_stmt_text(st, 0));
        if (aliases[n++] == NULL)
            rc = keel_errf(err, KEEL_ENOMEM, "out of memory reading aliases of model '%s'",
                           name);
    }
    keel_stmt_release(st);
    if (rc == KEEL_OK && r == KEEL_STEP_ERROR)
        rc = err->code;
    char old_text[24];
    for (size_t i = 0; rc == KEEL_OK && i < n; i++) {
        rc = keel_store_execv(s,
            "DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?", NULL, err, "tt",
            name, aliases[i]);
        if (rc == KEEL_OK)
            rc = registry_audit_append(s, actor, "alias_delete", name, version, aliases[i],
                                       registry_i64(old_text, version), NULL, reason, err);
    }
    keel_arena_free(&a);
    /* more than 64 aliases on one version: the next batch */
    if (rc == KEEL_OK && n == sizeof aliases / sizeof aliases[0])
        return registry_aliases_drop_for_version(s, name, version, actor, reason, err);
    return rc;
}
