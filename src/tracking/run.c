/*
 * run.c — run lifecycle: create, get, update status/end/name, delete and
 * restore. Logging lives in run_log.c, search in run_search.c.
 */
#include "tracking_internal.h"

#include <keel/util.h>

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const run_statuses[] = { "RUNNING", "SCHEDULED", "FINISHED", "FAILED",
                                            "KILLED" };

static bool status_is_valid(const char *status)
{
    for (size_t i = 0; i < sizeof run_statuses / sizeof run_statuses[0]; i++) {
        if (strcmp(status, run_statuses[i]) == 0)
            return true;
    }
    return false;
}

static bool status_is_terminal(const char *status)
{
    return strcmp(status, "FINISHED") == 0 || strcmp(status, "FAILED") == 0 ||
           strcmp(status, "KILLED") == 0;
}

int tracking_run_require_active(keel_store *s, const char *run_id, int64_t *out_experiment_id,
                                keel_err *err)
{
    int rc = tracking_run_ref_check(run_id, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt *st;
    rc = keel_store_prepare(s, "SELECT lifecycle_stage, experiment_id FROM runs WHERE run_uuid = ?",
                            true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, run_id, -1);
    enum keel_step r = keel_stmt_step(st, err);
    bool active = false;
    if (r == KEEL_STEP_ROW) {
        const char *stage = keel_stmt_text(st, 0);
        active = stage != NULL && strcmp(stage, "active") == 0;
        if (out_experiment_id != NULL)
            *out_experiment_id = keel_stmt_int64(st, 1);
    }
    keel_stmt_release(st);
    if (r == KEEL_STEP_ERROR)
        return err->code;
    if (r == KEEL_STEP_DONE)
        return keel_errf(err, KEEL_ENOTFOUND, "run '%s' not found", run_id);
    if (!active)
        return keel_errf(err, KEEL_ESTATE,
                         "run '%s' is deleted; it must be active (restore it first)", run_id);
    return KEEL_OK;
}

int keel_run_check_active(keel_store *s, const char *run_id, keel_err *err)
{
    return tracking_run_require_active(s, run_id, NULL, err);
}

/* A memorable default name, as MLflow gives runs: "<adjective>-<noun>-<n>". */
static void generate_run_name(const char *run_id, char *out, size_t out_size)
{
    static const char *const adjectives[] = {
        "amber", "bold", "brisk", "calm", "clever", "crisp", "eager", "fleet", "gentle",
        "keen", "lucid", "merry", "nimble", "quiet", "rapid", "steady", "sunny", "vivid" };
    static const char *const nouns[] = {
        "otter", "heron", "lynx", "finch", "badger", "falcon", "marten", "wren", "ibex",
        "orca", "puffin", "raven", "stoat", "tern", "vole", "wolf", "yak", "zebra" };
    unsigned long bits = strtoul((char[9]){ run_id[0], run_id[1], run_id[2], run_id[3],
                                            run_id[4], run_id[5], run_id[6], run_id[7], 0 },
                                 NULL, 16);
    size_t na = sizeof adjectives / sizeof adjectives[0];
    size_t nn = sizeof nouns / sizeof nouns[0];
    snprintf(out, out_size, "%s-%s-%lu", adjectives[bits % na], nouns[(bits / na) % nn],
             (bits / (na * nn)) % 1000);
}

int keel_run_create(keel_store *s, const keel_run_create_opts *opts, keel_arena *a,
                    const char **out_run_id, keel_err *err)
{
    if (opts->run_name != NULL) {
        int rc = tracking_check_len("run name", opts->run_name, KEEL_MAX_NAME_LEN, err);
        if (rc != KEEL_OK)
            return rc;
    }
    char run_id[33];
    int rc = keel_random_hex32(run_id, err);
    if (rc != KEEL_OK)
        return rc;
    char generated[64];
    const char *name = opts->run_name;
    for (size_t i = 0; i < opts->n_tags; i++) {
        if (strcmp(opts->tags[i].key, "mlflow.runName") != 0)
            continue;
        const char *tagged = opts->tags[i].value != NULL ? opts->tags[i].value : "";
        if (name != NULL && name[0] != '\0' && strcmp(name, tagged) != 0)
            return keel_errf(err, KEEL_EINVAL,
                             "run name '%s' and tag mlflow.runName '%s' differ; give one",
                             name, tagged);
        name = tagged;
    }
    if (name == NULL || name[0] == '\0') {
        generate_run_name(run_id, generated, sizeof generated);
        name = generated;
    }
    const char *user = opts->user_id;
    if (user == NULL)
        user = getenv("USER");
    if (user == NULL) {
        struct passwd *pw = getpwuid(getuid());
        user = pw != NULL ? pw->pw_name : "unknown";
    }

    rc = keel_store_begin(s, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt *st;
    rc = keel_store_prepare(s, "SELECT lifecycle_stage, artifact_location FROM experiments "
                               "WHERE experiment_id = ?", true, &st, err);
    if (rc != KEEL_OK)
        goto fail;
    keel_stmt_bind_int64(st, 1, opts->experiment_id);
    enum keel_step r = keel_stmt_step(st, err);
    bool active = false;
    char location[1024] = "";
    if (r == KEEL_STEP_ROW) {
        const char *stage = keel_stmt_text(st, 0);
        const char *loc = keel_stmt_text(st, 1);
        active = stage != NULL && strcmp(stage, "active") == 0;
        snprintf(location, sizeof location, "%s", loc != NULL ? loc : "");
    }
    keel_stmt_release(st);
    if (r == KEEL_STEP_ERROR) {
        rc = err->code;
        goto fail;
    }
    if (r == KEEL_STEP_DONE) {
        rc = keel_errf(err, KEEL_ENOTFOUND, "no experiment with id %lld",
                       (long long)opts->experiment_id);
        goto fail;
    }
    if (!active) {
        rc = keel_errf(err, KEEL_ESTATE, "experiment %lld is deleted; cannot create runs in it",
                       (long long)opts->experiment_id);
        goto fail;
    }
    char artifact_uri[1200];
    snprintf(artifact_uri, sizeof artifact_uri, "%s/%s/artifacts", location, run_id);
    rc = keel_store_execv(s,
        "INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, "
        "lifecycle_stage, artifact_uri) VALUES (?, ?, ?, ?, 'RUNNING', ?, 'active', ?)",
        NULL, err, "ttitit", run_id, name, opts->experiment_id, user,
        opts->start_time != 0 ? opts->start_time : keel_now_ms(), artifact_uri);
    for (size_t i = 0; rc == KEEL_OK && i < opts->n_tags; i++)
        rc = tracking_tag_put(s, run_id, opts->tags[i].key, opts->tags[i].value, err);
    if (rc == KEEL_OK)
        rc = tracking_tag_put(s, run_id, "mlflow.runName", name, err);
    if (rc != KEEL_OK)
        goto fail;
    rc = keel_store_commit(s, err);
    if (rc != KEEL_OK)
        return rc;
    *out_run_id = keel_arena_strdup(a, run_id);
    return *out_run_id != NULL ? KEEL_OK : keel_errf(err, KEEL_ENOMEM, "out of memory");
fail:
    keel_store_rollback(s);
    return rc;
}

int keel_run_get(keel_store *s, const char *run_id, keel_arena *a, keel_run *out, keel_err *err)
{
    int rc = tracking_run_ref_check(run_id, err);
    if (rc != KEEL_OK)
        return rc;
    return tracking_runs_load(s, &run_id, 1, a, out, err);
}

int keel_run_update(keel_store *s, const char *run_id, const char *status, int64_t end_time,
                    const char *run_name, keel_err *err)
{
    if (status != NULL && !status_is_valid(status))
        return keel_errf(err, KEEL_EINVAL,
                         "invalid run status '%s': expected RUNNING, SCHEDULED, FINISHED, "
                         "FAILED or KILLED", status);
    if (end_time < 0)
        return keel_errf(err, KEEL_EINVAL, "end time must not be negative");
    if (run_name != NULL) {
        int rc = tracking_check_len("run name", run_name, KEEL_MAX_NAME_LEN, err);
        if (rc != KEEL_OK)
            return rc;
    }
    int rc = keel_store_begin(s, err);
    if (rc != KEEL_OK)
        return rc;
    rc = tracking_run_require_active(s, run_id, NULL, err);
    if (rc == KEEL_OK && status != NULL) {
        if (end_time == 0 && status_is_terminal(status))
            end_time = keel_now_ms();
        static const char sql[] =
            "UPDATE runs SET status = ?, end_time = COALESCE(?, end_time) WHERE run_uuid = ?";
        if (end_time > 0)
            rc = keel_store_execv(s, sql, NULL, err, "tit", status, end_time, run_id);
        else
            rc = keel_store_execv(s, sql, NULL, err, "tnt", status, run_id);
    } else if (rc == KEEL_OK && end_time > 0) {
        rc = keel_store_execv(s, "UPDATE runs SET end_time = ? WHERE run_uuid = ?", NULL, err,
                              "it", end_time, run_id);
    }
    if (rc == KEEL_OK && run_name != NULL && run_name[0] != '\0')
        rc = tracking_tag_put(s, run_id, "mlflow.runName", run_name, err);
    if (rc != KEEL_OK) {
        keel_store_rollback(s);
        return rc;
    }
    return keel_store_commit(s, err);
}

static int set_run_lifecycle(keel_store *s, const char *run_id, bool deleted, keel_err *err)
{
    int rc = tracking_run_ref_check(run_id, err);
    if (rc != KEEL_OK)
        return rc;
    int64_t changed = 0;
    if (deleted)
        rc = keel_store_execv(s,
            "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ? WHERE run_uuid = ?",
            &changed, err, "it", keel_now_ms(), run_id);
    else
        rc = keel_store_execv(s,
            "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE run_uuid = ?",
            &changed, err, "t", run_id);
    if (rc != KEEL_OK)
        return rc;
    if (changed == 0)
        return keel_errf(err, KEEL_ENOTFOUND, "run '%s' not found", run_id);
    return KEEL_OK;
}

int keel_run_delete(keel_store *s, const char *run_id, keel_err *err)
{
    return set_run_lifecycle(s, run_id, true, err);
}

int keel_run_restore(keel_store *s, const char *run_id, keel_err *err)
{
    return set_run_lifecycle(s, run_id, false, err);
}
