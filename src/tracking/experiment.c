/*
 * experiment.c — experiments: create, get, search, rename, delete/restore,
 * tags. Deleting an experiment also deletes its active runs; restoring it
 * restores the runs deleted with it (those deleted at or after its deletion).
 */
#include "search_filter.h"
#include "tracking_internal.h"

#include <keel/util.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_name(const char *name, keel_err *err)
{
    if (name == NULL || name[0] == '\0')
        return keel_errf(err, KEEL_EINVAL, "experiment name must not be empty");
    return tracking_check_len("experiment name", name, KEEL_MAX_NAME_LEN, err);
}

static int put_experiment_tag(keel_store *s, int64_t id, const char *key, const char *value,
                              keel_err *err)
{
    int rc = tracking_check_kv("tag", key, value, KEEL_MAX_TAG_VALUE_LEN, err);
    if (rc != KEEL_OK)
        return rc;
    return keel_store_execv(s,
        "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) "
        "ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
        NULL, err, "itt", id, key, value != NULL ? value : "");
}

int keel_experiment_create(keel_store *s, const char *name, const char *artifact_location,
                           const keel_kv *tags, size_t n_tags, int64_t *out_id, keel_err *err)
{
    int rc = check_name(name, err);
    if (rc != KEEL_OK)
        return rc;
    rc = keel_store_begin(s, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt *st = NULL;
    rc = keel_store_prepare(s, "SELECT experiment_id FROM experiments WHERE name = ?", true,
                            &st, err);
    if (rc != KEEL_OK)
        goto fail;
    keel_stmt_bind_text(st, 1, name, -1);
    enum keel_step r = keel_stmt_step(st, err);
    keel_stmt_release(st);
    if (r == KEEL_STEP_ERROR) {
        rc = err->code;
        goto fail;
    }
    if (r == KEEL_STEP_ROW) {
        rc = keel_errf(err, KEEL_EEXIST, "experiment '%s' already exists", name);
        goto fail;
    }
    rc = keel_store_prepare(s, "SELECT COALESCE(MAX(experiment_id), 0) + 1 FROM experiments",
                            true, &st, err);
    if (rc != KEEL_OK)
        goto fail;
    int64_t id = 0;
    if (keel_stmt_step(st, err) == KEEL_STEP_ROW)
        id = keel_stmt_int64(st, 0);
    keel_stmt_release(st);
    if (id == 0) {
        rc = keel_errf(err, KEEL_ESTORE, "cannot allocate an experiment id");
        goto fail;
    }
    char location[64];
    if (artifact_location == NULL || artifact_location[0] == '\0') {
        snprintf(location, sizeof location, "mlflow-artifacts:/%lld", (long long)id);
        artifact_location = location;
    }
    int64_t now = keel_now_ms();
    rc = keel_store_execv(s,
        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, "
        "creation_time, last_update_time) VALUES (?, ?, ?, 'active', ?, ?)",
        NULL, err, "ittii", id, name, artifact_location, now, now);
    for (size_t i = 0; rc == KEEL_OK && i < n_tags; i++)
        rc = put_experiment_tag(s, id, tags[i].key, tags[i].value, err);
    if (rc != KEEL_OK)
        goto fail;
    rc = keel_store_commit(s, err);
    if (rc == KEEL_OK && out_id != NULL)
        *out_id = id;
    return rc;
fail:
    keel_store_rollback(s);
    return rc;
}

#define EXPERIMENT_COLUMNS \
    "e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, " \
    "e.last_update_time"

static int read_experiment_row(keel_stmt *st, keel_arena *a, keel_experiment *out)
{
    memset(out, 0, sizeof *out);
    out->experiment_id = keel_stmt_int64(st, 0);
    const char *cols[3];
    for (int i = 0; i < 3; i++) {
        const char *t = keel_stmt_text(st, 1 + i);
        cols[i] = keel_arena_strdup(a, t != NULL ? t : "");
        if (cols[i] == NULL)
            return KEEL_ENOMEM;
    }
    out->name = cols[0];
    out->artifact_location = cols[1];
    out->lifecycle_stage = cols[2];
    out->creation_time = keel_stmt_int64(st, 4);
    out->last_update_time = keel_stmt_int64(st, 5);
    return KEEL_OK;
}

static int load_experiment_tags(keel_store *s, keel_arena *a, keel_experiment *e, keel_err *err)
{
    keel_stmt *st;
    int rc = keel_store_prepare(s,
        "SELECT key, value FROM experiment_tags WHERE experiment_id = ? ORDER BY key", true, &st,
        err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_int64(st, 1, e->experiment_id);
    size_t cap = 0;
    enum keel_step r;
    while ((r = keel_stmt_step(st, err)) == KEEL_STEP_ROW) {
        if (e->n_tags == cap) {
            size_t ncap = cap == 0 ? 8 : cap * 2;
            keel_kv *grown = keel_arena_alloc(a, ncap * sizeof *grown);
            if (grown == NULL) {
                keel_stmt_release(st);
                return keel_errf(err, KEEL_ENOMEM, "out of memory reading experiment tags");
            }
            if (e->n_tags > 0)
                memcpy(grown, e->tags, e->n_tags * sizeof *grown);
            e->tags = grown;
            cap = ncap;
        }
        const char *v = keel_stmt_text(st, 1);
        e->tags[e->n_tags].key = keel_arena_strdup(a, keel_stmt_text(st, 0));
        e->tags[e->n_tags].value = keel_arena_strdup(a, v != NULL ? v : "");
        e->n_tags++;
    }
    keel_stmt_release(st);
    return r == KEEL_STEP_ERROR ? err->code : KEEL_OK;
}

static int get_one(keel_store *s, const char *sql, int64_t id, const char *name, keel_arena *a,
                   keel_experiment *out, keel_err *err)
{
    keel_stmt *st;
    int rc = keel_store_prepare(s, sql, true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    if (name != NULL)
        keel_stmt_bind_text(st, 1, name, -1);
    else
        keel_stmt_bind_int64(st, 1, id);
    enum keel_step r = keel_stmt_step(st, err);
    if (r == KEEL_STEP_ROW)
        rc = read_experiment_row(st, a, out);
    keel_stmt_release(st);
    if (r == KEEL_STEP_ERROR)
        return err->code;
    if (r == KEEL_STEP_DONE) {
        if (name != NULL)
            return keel_errf(err, KEEL_ENOTFOUND, "experiment '%s' does not exist", name);
        return keel_errf(err, KEEL_ENOTFOUND, "no experiment with id %lld", (long long)id);
    }
    if (rc != KEEL_OK)
        return keel_errf(err, rc, "out of memory reading experiment");
    return load_experiment_tags(s, a, out, err);
}

int keel_experiment_get(keel_store *s, int64_t id, keel_arena *a, keel_experiment *out,
                        keel_err *err)
{
    return get_one(s, "SELECT " EXPERIMENT_COLUMNS " FROM experiments e WHERE e.experiment_id = ?",
                   id, NULL, a, out, err);
}

int keel_experiment_get_by_name(keel_store *s, const char *name, keel_arena *a,
                                keel_experiment *out, keel_err *err)
{
    if (name == NULL || name[0] == '\0')
        return keel_errf(err, KEEL_EINVAL, "experiment name must not be empty");
    return get_one(s, "SELECT " EXPERIMENT_COLUMNS " FROM experiments e WHERE e.name = ?", 0,
                   name, a, out, err);
}

int keel_experiment_resolve(keel_store *s, const char *id_or_name, int64_t *out_id,
                            keel_err *err)
{
    if (id_or_name == NULL || id_or_name[0] == '\0')
        return keel_errf(err, KEEL_EINVAL, "experiment must be given by id or name");
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_experiment e;
    int rc = keel_experiment_get_by_name(s, id_or_name, &a, &e, err);
    if (rc == KEEL_ENOTFOUND) {
        char *end = NULL;
        errno = 0;
        long long id = strtoll(id_or_name, &end, 10);
        if (end != id_or_name && *end == '\0' && errno == 0 && id >= 0) {
            rc = keel_experiment_get(s, id, &a, &e, err);
            if (rc == KEEL_ENOTFOUND)
                keel_errf(err, KEEL_ENOTFOUND, "no experiment named or numbered '%s'",
                          id_or_name);
        }
    }
    if (rc == KEEL_OK)
        *out_id = e.experiment_id;
    keel_arena_free(&a);
    return rc;
}

int keel_experiment_search_run(keel_store *s, const keel_experiment_search *q, keel_arena *a,
                               keel_experiment **out, size_t *out_n,
                               const char **out_next_page_token, keel_err *err)
{
    int64_t max = q->max_results == 0 ? KEEL_SEARCH_DEFAULT_MAX : q->max_results;
    if (max < 0 || max > KEEL_SEARCH_MAX_RESULTS)
        return keel_errf(err, KEEL_EINVAL, "max_results must be between 1 and %d, got %lld",
                         KEEL_SEARCH_MAX_RESULTS, (long long)max);
    int64_t offset = 0;
    int rc = KEEL_OK;
    if (q->page_token != NULL && q->page_token[0] != '\0')
        rc = keel_page_token_decode(q->page_token, &offset, err);
    keel_filter_node *filter = NULL;
    if (rc == KEEL_OK)
        rc = keel_filter_parse(q->filter, KEEL_SEARCH_EXPERIMENTS, a, &filter, err);
    keel_order_by *order = keel_arena_alloc(a, (q->n_order_by + 1) * sizeof *order);
    size_t n_order = 0;
    if (order == NULL)
        rc = keel_errf(err, KEEL_ENOMEM, "out of memory");
    for (size_t i = 0; rc == KEEL_OK && i < q->n_order_by; i++) {
        if (q->order_by[i] == NULL || q->order_by[i][0] == '\0')
            continue;
        rc = keel_order_by_parse(q->order_by[i], KEEL_SEARCH_EXPERIMENTS, a, &order[n_order],
                                 err);
        n_order++;
    }
    if (rc != KEEL_OK)
        return rc;

    keel_sql sql;
    keel_sql_init(&sql);
    keel_buf_puts(&sql.text, "SELECT " EXPERIMENT_COLUMNS " FROM experiments e WHERE (");
    rc = keel_filter_compile(filter, KEEL_SEARCH_EXPERIMENTS, &sql, err);
    if (rc == KEEL_OK) {
        keel_buf_puts(&sql.text, ")");
        keel_buf_puts(&sql.text, tracking_view_condition(q->view, 'e'));
        keel_buf_puts(&sql.text, " ");
        rc = keel_order_by_compile(n_order > 0 ? order : NULL, n_order,
                                   KEEL_SEARCH_EXPERIMENTS, &sql, err);
    }
    if (rc == KEEL_OK && keel_buf_puts(&sql.text, " LIMIT ? OFFSET ?") != KEEL_OK)
        rc = keel_errf(err, KEEL_ELIMIT, "search query too long");
    keel_stmt *st = NULL;
    if (rc == KEEL_OK)
        rc = keel_store_prepare(s, sql.text.data, false, &st, err);
    if (rc != KEEL_OK) {
        keel_sql_free(&sql);
        return rc;
    }
    tracking_bind_sql_args(st, &sql, 1);
    keel_stmt_bind_int64(st, (int)sql.n_args + 1, max + 1);
    keel_stmt_bind_int64(st, (int)sql.n_args + 2, offset);

    keel_experiment *list = keel_arena_alloc(a, (size_t)(max + 1) * sizeof *list);
    size_t n = 0;
    enum keel_step r = KEEL_STEP_DONE;
    if (list == NULL)
        rc = keel_errf(err, KEEL_ENOMEM, "out of memory for %lld experiments", (long long)max);
    while (rc == KEEL_OK && (r = keel_stmt_step(st, err)) == KEEL_STEP_ROW) {
        rc = read_experiment_row(st, a, &list[n]);
        n++;
    }
    keel_stmt_release(st);
    keel_sql_free(&sql);
    if (rc == KEEL_OK && r == KEEL_STEP_ERROR)
        rc = err->code;
    *out_next_page_token = NULL;
    if (rc == KEEL_OK && n > (size_t)max) {
        n = (size_t)max;
        *out_next_page_token = keel_page_token_encode(a, offset + max);
    }
    for (size_t i = 0; rc == KEEL_OK && i < n; i++)
        rc = load_experiment_tags(s, a, &list[i], err);
    if (rc != KEEL_OK)
        return rc;
    *out = list;
    *out_n = n;
    return KEEL_OK;
}

/* Runs an UPDATE on one experiment; KEEL_ENOTFOUND when nothing matched. */
static int update_experiment(keel_store *s, const char *sql, int64_t id, const char *text,
                             keel_err *err)
{
    int64_t changed = 0;
    int rc = keel_store_execv(s, sql, &changed, err, "tii", text, keel_now_ms(), id);
    if (rc != KEEL_OK)
        return rc;
    if (changed == 0)
        return keel_errf(err, KEEL_ENOTFOUND, "no experiment with id %lld", (long long)id);
    return KEEL_OK;
}

int keel_experiment_rename(keel_store *s, int64_t id, const char *new_name, keel_err *err)
{
    int rc = check_name(new_name, err);
    if (rc != KEEL_OK)
        return rc;
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_experiment existing;
    rc = keel_experiment_get_by_name(s, new_name, &a, &existing, err);
    bool taken = rc == KEEL_OK && existing.experiment_id != id;
    keel_arena_free(&a);
    if (taken)
        return keel_errf(err, KEEL_EEXIST, "experiment '%s' already exists", new_name);
    if (rc != KEEL_OK && rc != KEEL_ENOTFOUND)
        return rc;
    return update_experiment(s,
        "UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?", id,
        new_name, err);
}

static int set_lifecycle(keel_store *s, int64_t id, bool deleted, keel_err *err)
{
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_experiment e;
    int rc = keel_experiment_get(s, id, &a, &e, err);
    bool is_deleted = rc == KEEL_OK && strcmp(e.lifecycle_stage, "deleted") == 0;
    int64_t deleted_at = rc == KEEL_OK ? e.last_update_time : 0;
    keel_arena_free(&a);
    if (rc != KEEL_OK)
        return rc;
    if (deleted && id == 0)
        return keel_errf(err, KEEL_EINVAL, "the default experiment (id 0) cannot be deleted");
    if (deleted == is_deleted)
        return keel_errf(err, KEEL_ESTATE, "experiment %lld is already %s", (long long)id,
                         deleted ? "deleted" : "active");
    rc = keel_store_begin(s, err);
    if (rc != KEEL_OK)
        return rc;
    int64_t now = keel_now_ms();
    rc = keel_store_execv(s,
        "UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? WHERE experiment_id = ?",
        NULL, err, "tii", deleted ? "deleted" : "active", now, id);
    if (rc == KEEL_OK && deleted)
        rc = keel_store_execv(s,
            "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ? "
            "WHERE experiment_id = ? AND lifecycle_stage = 'active'",
            NULL, err, "ii", now, id);
    else if (rc == KEEL_OK)
        rc = keel_store_execv(s,
            "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL "
            "WHERE experiment_id = ? AND lifecycle_stage = 'deleted' AND deleted_time >= ?",
            NULL, err, "ii", id, deleted_at);
    if (rc != KEEL_OK) {
        keel_store_rollback(s);
        return rc;
    }
    return keel_store_commit(s, err);
}

int keel_experiment_delete(keel_store *s, int64_t id, keel_err *err)
{
    return set_lifecycle(s, id, true, err);
}

int keel_experiment_restore(keel_store *s, int64_t id, keel_err *err)
{
    return set_lifecycle(s, id, false, err);
}

int keel_experiment_set_tag(keel_store *s, int64_t id, const char *key, const char *value,
                            keel_err *err)
{
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_experiment e;
    int rc = keel_experiment_get(s, id, &a, &e, err);
    bool deleted = rc == KEEL_OK && strcmp(e.lifecycle_stage, "active") != 0;
    keel_arena_free(&a);
    if (rc != KEEL_OK)
        return rc;
    if (deleted)
        return keel_errf(err, KEEL_ESTATE,
                         "experiment %lld is deleted; restore it before setting tags",
                         (long long)id);
    return put_experiment_tag(s, id, key, value, err);
}
