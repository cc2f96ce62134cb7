/*
 * registry_audit.c — the registry's audit log: one registry_audit row per
 * change (who, what, which model and version, the field, old and new value,
 * why), appended inside the transaction of the change it records, and read
 * back oldest first. Rows outlive the model they are about; a rename moves
 * them to the new name (registry_model.c).
 */
#include "registry_internal.h"

#include <keel/util.h>

#include <string.h>

int registry_audit_append(keel_store *s, const char *actor, const char *action,
                          const char *model, int64_t version, const char *field,
                          const char *old_value, const char *new_value, const char *reason,
                          keel_err *err)
{
    return keel_store_execv(s,
        "INSERT INTO registry_audit (time, actor, action, model, version, field, old_value, "
        "new_value, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        NULL, err, "itttitttt", keel_now_ms(), registry_actor(actor), action, model, version,
        field != NULL ? field : "", old_value, new_value, reason);
}

int keel_model_audit(keel_store *s, const char *actor, const char *action, const char *model,
                     int64_t version, const char *field, const char *old_value,
                     const char *new_value, const char *reason, keel_err *err)
{
    if (action == NULL || action[0] == '\0')
        return keel_errf(err, KEEL_EINVAL, "audit entry for model '%s' needs an action",
                         model != NULL ? model : "");
    int rc = registry_check_model_name(model, err);
    if (rc == KEEL_OK && version < 0)
        rc = keel_errf(err, KEEL_EINVAL, "audit entry for model '%s': version %lld is negative",
                       model, (long long)version);
    if (rc != KEEL_OK)
        return rc;
    if ((rc = keel_store_begin(s, err)) != KEEL_OK)
        return rc;
    rc = registry_audit_append(s, actor, action, model, version, field, old_value, new_value,
                               reason, err);
    if (rc != KEEL_OK) {
        keel_store_rollback(s);
        return rc;
    }
    return keel_store_commit(s, err);
}

static const char *dup_or_null(keel_arena *a, const char *t, bool *oom)
{
    if (t == NULL)
        return NULL;
    char *c = keel_arena_strdup(a, t);
    if (c == NULL)
        *oom = true;
    return c;
}

/* Insertion order breaks ties between entries of one millisecond. SQLite's
 * rowid gives it; PostgreSQL tables have no such column, so there time alone
 * orders (entries of one transaction share a time anyway). */
static const char *history_sql(keel_store *s)
{
    if (keel_store_dialect(s) == KEEL_DIALECT_SQLITE)
        return "SELECT time, actor, action, model, version, field, old_value, new_value, reason "
               "FROM registry_audit WHERE model = ? ORDER BY time, rowid";
    return "SELECT time, actor, action, model, version, field, old_value, new_value, reason "
           "FROM registry_audit WHERE model = ? ORDER BY time";
}

int keel_model_history(keel_store *s, const char *name, keel_arena *a, keel_audit_entry **out,
                       size_t *out_n, keel_err *err)
{
    int rc = registry_check_model_name(name, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt *st;
    if ((rc = keel_store_prepare(s, history_sql(s), true, &st, err)) != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, name, -1);
    keel_audit_entry *list = NULL;
    size_t n = 0, cap = 0;
    bool oom = false;
    enum keel_step r = KEEL_STEP_DONE;
    while (!oom && (r = keel_stmt_step(st, err)) == KEEL_STEP_ROW) {
        if (n == cap) {
            size_t ncap = cap == 0 ? 16 : cap * 2;
            keel_audit_entry *grown = keel_arena_alloc(a, ncap * sizeof *grown);
            if (grown == NULL) {
                oom = true;
                break;
            }
            if (n > 0)
                memcpy(grown, list, n * sizeof *grown);
            list = grown;
            cap = ncap;
        }
        keel_audit_entry *e = &list[n++];
        e->time = keel_stmt_int64(st, 0);
        e->actor = dup_or_null(a, keel_stmt_text(st, 1), &oom);
        e->action = dup_or_null(a, keel_stmt_text(st, 2), &oom);
        e->model = dup_or_null(a, keel_stmt_text(st, 3), &oom);
        e->version = keel_stmt_int64(st, 4);
        const char *field = keel_stmt_text(st, 5);
        e->field = dup_or_null(a, field != NULL ? field : "", &oom);
        e->old_value = dup_or_null(a, keel_stmt_text(st, 6), &oom);
        e->new_value = dup_or_null(a, keel_stmt_text(st, 7), &oom);
        e->reason = dup_or_null(a, keel_stmt_text(st, 8), &oom);
    }
    keel_stmt_release(st);
    if (oom)
        return keel_errf(err, KEEL_ENOMEM, "out of memory reading the history of model '%s'",
                         name);
    if (r == KEEL_STEP_ERROR)
        return err->code;
    if (n == 0) {
        /* a model without entries is one that never existed */
        rc = registry_model_require(s, name, err);
        if (rc != KEEL_OK)
            return rc;
    }
    *out = list;
    *out_n = n;
    return KEEL_OK;
}
