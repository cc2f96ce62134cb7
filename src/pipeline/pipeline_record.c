/*
 * pipeline_record.c — what a pipeline run leaves in the metadata store.
 *
 * A pipeline run is a tracking run in experiment "pipeline:NAME" (params =
 * the pipeline's params; tags keel.pipeline, keel.executor, keel.trigger,
 * git commit) plus a row in pipeline_runs; each step instance is a child
 * tracking run (mlflow.parentRunId) plus a row in pipeline_steps, so MLflow
 * clients see the whole thing and keel can resume and explain it. A step's
 * logs are artifacts of its run (logs/attempt-N/stdout.txt, stderr.txt); its
 * deps and outputs with their digests are lineage_edges; a success stores
 * its output manifest under its cache key (pipeline_cache) and its inputs
 * (pipeline_step_inputs) to explain the next miss.
 *
 * Invariant: a step is recorded SUCCEEDED only after its process exited 0
 * and every declared output was stored; the cache row is written in the same
 * transaction, so a crash leaves either both or neither.
 */
#include "pipeline_record.h"

#include <keel/artifacts.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAG_MAX 8000

static const char *tracking_status(const char *status)
{
    if (strcmp(status, "SUCCEEDED") == 0 || strcmp(status, "CACHED") == 0)
        return "FINISHED";
    if (strcmp(status, "CANCELLED") == 0 || strcmp(status, "SKIPPED") == 0)
        return "KILLED";
    return "FAILED";
}

static int experiment_for(pipeline_recorder *r, keel_err *err)
{
    const char *name = keel_arena_sprintf(r->a, "pipeline:%s", r->p->name);
    int rc = keel_experiment_resolve(r->ws->store, name, &r->experiment_id, err);
    if (rc == KEEL_ENOTFOUND)
        rc = keel_experiment_create(r->ws->store, name, NULL, NULL, 0, &r->experiment_id, err);
    return rc;
}

int record_run_begin(pipeline_recorder *r, const keel_run_options *o, const char *executor,
                     keel_err *err)
{
    keel_store *s = r->ws->store;
    int rc = keel_store_begin(s, err);
    if (rc != KEEL_OK)
        return rc;
    rc = experiment_for(r, err);
    keel_kv tags[] = {
        { "keel.pipeline", r->p->name }, { "keel.kind", "pipeline" },
        { "keel.executor", executor }, { "keel.trigger", o->trigger ? o->trigger : "cli" },
        { "keel.spec_file", r->p->file }, { "mlflow.source.type", "PROJECT" },
    };
    keel_run_create_opts ro = { .experiment_id = r->experiment_id, .run_name = r->p->name,
                                .tags = tags, .n_tags = sizeof tags / sizeof tags[0] };
    if (rc == KEEL_OK)
        rc = keel_run_create(s, &ro, r->a, &r->run_id, err);
    for (size_t i = 0; rc == KEEL_OK && i < r->p->n_params; i += KEEL_BATCH_MAX_PARAMS) {
        size_t n = r->p->n_params - i < KEEL_BATCH_MAX_PARAMS ? r->p->n_params - i
                                                              : KEEL_BATCH_MAX_PARAMS;
        rc = keel_run_log_batch(s, r->run_id, NULL, 0, r->p->params + i, n, NULL, 0, err);
    }
    json_t *params = json_object();
    for (size_t i = 0; i < r->p->n_params; i++)
        json_object_set_new(params, r->p->params[i].key, json_string(r->p->params[i].value));
    char *params_text = json_dumps(params, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(params);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    if (rc == KEEL_OK)
        rc = keel_store_execv(s, "INSERT INTO pipeline_runs (run_id, pipeline, spec_file, params, "
                                 "executor, status, trigger, start_time, pid, host) "
                                 "VALUES (?, ?, ?, ?, ?, 'RUNNING', ?, ?, ?, ?)",
                              NULL, err, "ttttttiit", r->run_id, r->p->name, r->p->file,
                              params_text != NULL ? params_text : "{}", executor,
                              o->trigger ? o->trigger : "cli", keel_now_ms(),
                              (int64_t)getpid(), host);
    free(params_text);
    for (size_t i = 0; rc == KEEL_OK && i < r->p->n_steps; i++)
        rc = keel_store_execv(s, "INSERT INTO pipeline_steps (run_id, step, seq, status) "
                                 "VALUES (?, ?, ?, 'PENDING')",
                              NULL, err, "tti", r->run_id, r->p->steps[i].name, (int64_t)i);
    if (rc != KEEL_OK) {
        keel_store_rollback(s);
        return rc;
    }
    rc = keel_store_commit(s, err);
    if (rc == KEEL_OK) {
        keel_err ignored;
        keel_run_record_git(s, r->run_id, r->p->dir, &ignored);
    }
    return rc;
}

int record_run_resume(pipeline_recorder *r, const char *run_id, const char *executor,
                      char **statuses, keel_err *err)
{
    keel_store *s = r->ws->store;
    keel_stmt *q = NULL;
    int rc = keel_store_prepare(s, "SELECT pipeline, status, pid, host FROM pipeline_runs "
                                   "WHERE run_id = ?", true, &q, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(q, 1, run_id, -1);
    if (keel_stmt_step(q, err) != KEEL_STEP_ROW) {
        keel_stmt_release(q);
        return keel_errf(err, KEEL_ENOTFOUND, "no pipeline run %s", run_id);
    }
    const char *pipeline = keel_arena_strdup(r->a, keel_stmt_text(q, 0));
    const char *status = keel_arena_strdup(r->a, keel_stmt_text(q, 1));
    int64_t pid = keel_stmt_int64(q, 2);
    const char *host = keel_arena_strdup(r->a, keel_stmt_text(q, 3) ? keel_stmt_text(q, 3) : "");
    keel_stmt_release(q);
    char me[256] = "";
    gethostname(me, sizeof me - 1);
    if (strcmp(pipeline, r->p->name) != 0)
        return keel_errf(err, KEEL_EINVAL, "run %s is of pipeline '%s', not '%s'", run_id,
                         pipeline, r->p->name);
    if (strcmp(status, "SUCCEEDED") == 0)
        return keel_errf(err, KEEL_ESTATE, "run %s already succeeded: nothing to resume", run_id);
    if (strcmp(status, "RUNNING") == 0 && strcmp(host, me) == 0 && pid > 0 &&
        pid != getpid() && kill((pid_t)pid, 0) == 0)
        return keel_errf(err, KEEL_EBUSY, "run %s is still running (pid %lld)", run_id,
                         (long long)pid);
    r->run_id = keel_arena_strdup(r->a, run_id);
    if ((rc = experiment_for(r, err)) != KEEL_OK)
        return rc;
    /* Steps left RUNNING by a process that died: their local process groups
     * may still be alive (grandchildren of a killed keel); stop them before
     * the steps run again. Slurm jobs are cancelled likewise. */
    rc = keel_store_prepare(s, "SELECT step, status, job_id, executor FROM pipeline_steps "
                               "WHERE run_id = ?", true, &q, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(q, 1, run_id, -1);
    while (keel_stmt_step(q, err) == KEEL_STEP_ROW) {
        long idx = keel_pipeline_step_index(r->p, keel_stmt_text(q, 0));
        const char *st = keel_stmt_text(q, 1), *job = keel_stmt_text(q, 2),
                   *ex = keel_stmt_text(q, 3);
        if (idx >= 0)
            statuses[idx] = keel_arena_strdup(r->a, st);
        if (strcmp(st, "RUNNING") == 0 && job != NULL && ex != NULL) {
            if (strcmp(ex, "local") == 0 && strcmp(host, me) == 0 && atoll(job) > 1)
                kill(-(pid_t)atoll(job), SIGKILL);
            else if (strcmp(ex, "slurm") == 0) {
                char *argv[] = { "scancel", (char *)job, NULL };
                char out[128], errbuf[256];
                keel_err ignored;
                pipeline_command(argv, out, sizeof out, errbuf, sizeof errbuf, &ignored);
            }
        }
    }
    keel_stmt_release(q);
    char host_now[256] = "";
    gethostname(host_now, sizeof host_now - 1);
    rc = keel_store_execv(s, "UPDATE pipeline_runs SET status = 'RUNNING', end_time = NULL, "
                             "pid = ?, host = ?, executor = ? WHERE run_id = ?",
                          NULL, err, "ittt", (int64_t)getpid(), host_now, executor, run_id);
    if (rc == KEEL_OK)
        rc = keel_run_update(s, run_id, "RUNNING", 0, NULL, err);
    /* Steps added to keel.yaml since the run began get rows now. */
    for (size_t i = 0; rc == KEEL_OK && i < r->p->n_steps; i++)
        if (statuses[i] == NULL)
            rc = keel_store_execv(s, "INSERT INTO pipeline_steps (run_id, step, seq, status) "
                                     "VALUES (?, ?, ?, 'PENDING')",
                                  NULL, err, "tti", run_id, r->p->steps[i].name, (int64_t)i);
    return rc;
}

int record_step_begin(pipeline_recorder *r, size_t step, const char *executor,
                      const char **out_step_run, keel_err *err)
{
    const keel_pipeline_step *st = &r->p->steps[step];
    keel_kv tags[] = {
        { "mlflow.parentRunId", r->run_id }, { "keel.pipeline", r->p->name },
        { "keel.pipeline.run", r->run_id }, { "keel.step", st->name },
        { "keel.kind", "step" }, { "keel.executor", executor },
        { "keel.command", keel_arena_strndup(r->a, st->command, strnlen(st->command, TAG_MAX)) },
    };
    keel_run_create_opts ro = { .experiment_id = r->experiment_id, .run_name = st->name,
                                .tags = tags, .n_tags = sizeof tags / sizeof tags[0] };
    int rc = keel_run_create(r->ws->store, &ro, r->a, out_step_run, err);
    if (rc == KEEL_OK && st->n_params > 0)
        rc = keel_run_log_batch(r->ws->store, *out_step_run, NULL, 0, st->params,
                                st->n_params < KEEL_BATCH_MAX_PARAMS ? st->n_params
                                                                     : KEEL_BATCH_MAX_PARAMS,
                                NULL, 0, err);
    if (rc == KEEL_OK)
        rc = keel_store_execv(r->ws->store, "UPDATE pipeline_steps SET step_run_id = ?, "
                                            "executor = ?, start_time = ? WHERE run_id = ? AND step = ?",
                              NULL, err, "ttitt", *out_step_run, executor, keel_now_ms(),
                              r->run_id, st->name);
    return rc;
}

int record_attempt_start(pipeline_recorder *r, size_t step, int attempt, const char *job_id,
                         keel_err *err)
{
    return keel_store_execv(r->ws->store, "UPDATE pipeline_steps SET status = 'RUNNING', "
                                          "attempts = ?, job_id = ? WHERE run_id = ? AND step = ?",
                            NULL, err, "ittt", (int64_t)attempt, job_id, r->run_id,
                            r->p->steps[step].name);
}

/* Logs a non-empty log file as an artifact of the step run. */
static int log_file(pipeline_recorder *r, const char *step_run, const char *path,
                    const char *artifact, keel_err *err)
{
    struct stat st;
    if (path == NULL || stat(path, &st) != 0 || st.st_size == 0)
        return KEEL_OK;
    char hash[KEEL_SHA256_HEX_LEN + 1];
    int64_t size = 0;
    int rc = keel_cas_put_file(r->ws->cas, path, hash, &size, err);
    if (rc == KEEL_OK)
        rc = keel_artifacts_put_entry(r->ws->store, step_run, artifact, hash, size, err);
    return rc;
}

int record_attempt_logs(pipeline_recorder *r, const char *step_run, int attempt,
                        const char *log_out, const char *log_err, keel_err *err)
{
    const char *dir = keel_arena_sprintf(r->a, "logs/attempt-%d", attempt);
    int rc = log_file(r, step_run, log_out, keel_arena_sprintf(r->a, "%s/stdout.txt", dir), err);
    if (rc == KEEL_OK)
        rc = log_file(r, step_run, log_err, keel_arena_sprintf(r->a, "%s/stderr.txt", dir), err);
    return rc;
}

static int lineage(pipeline_recorder *r, const char *step_run, const keel_pipeline_step *st,
                   json_t *inputs, json_t *manifest, keel_err *err)
{
    int rc = KEEL_OK;
    const char *path;
    json_t *v;
    json_object_foreach(json_object_get(inputs, "deps"), path, v) {
        if (rc == KEEL_OK)
            rc = keel_store_execv(r->ws->store, "INSERT OR REPLACE INTO lineage_edges "
                                                "(step_run_id, direction, path, digest) "
                                                "VALUES (?, 'in', ?, ?)",
                                  NULL, err, "ttt", step_run, path, json_string_value(v));
    }
    size_t i;
    json_array_foreach(manifest, i, v) {
        if (rc == KEEL_OK)
            rc = keel_store_execv(r->ws->store, "INSERT OR REPLACE INTO lineage_edges "
                                                "(step_run_id, direction, path, digest) "
                                                "VALUES (?, 'out', ?, ?)",
                                  NULL, err, "ttt", step_run,
                                  json_string_value(json_object_get(v, "path")),
                                  json_string_value(json_object_get(v, "digest")));
    }
    (void)st;
    return rc;
}

int record_step_end(pipeline_recorder *r, const step_outcome *o, keel_err *err)
{
    keel_store *s = r->ws->store;
    const keel_pipeline_step *st = &r->p->steps[o->step];
    int rc = keel_store_begin(s, err);
    if (rc != KEEL_OK)
        return rc;
    char code[24] = "", attempts[24];
    if (o->has_exit_code)
        snprintf(code, sizeof code, "%d", o->exit_code);
    snprintf(attempts, sizeof attempts, "%d", o->attempts);
    keel_kv tags[8];
    size_t n = 0;
    tags[n++] = (keel_kv){ "keel.status", o->status };
    tags[n++] = (keel_kv){ "keel.cache", o->cache_hit ? "hit" : st->cache ? "miss" : "off" };
    tags[n++] = (keel_kv){ "keel.attempts", attempts };
    if (o->has_exit_code)
        tags[n++] = (keel_kv){ "keel.exit_code", code };
    if (o->job_id != NULL && o->job_id[0])
        tags[n++] = (keel_kv){ "keel.job_id", o->job_id };
    if (o->cache_key != NULL)
        tags[n++] = (keel_kv){ "keel.cache_key", o->cache_key };
    if (o->reason != NULL)
        tags[n++] = (keel_kv){ "keel.reason", keel_arena_strndup(r->a, o->reason, strnlen(o->reason, TAG_MAX)) };
    if (o->step_run != NULL) {
        rc = keel_run_log_batch(s, o->step_run, NULL, 0, NULL, 0, tags, n, err);
        if (rc == KEEL_OK)
            rc = keel_run_update(s, o->step_run, tracking_status(o->status), 0, NULL, err);
    }
    if (rc == KEEL_OK)
        rc = keel_store_execv(s, "UPDATE pipeline_steps SET status = ?, cache_key = ?, "
                                 "attempts = ?, exit_code = ?, job_id = COALESCE(?, job_id), "
                                 "end_time = ?, reason = ? WHERE run_id = ? AND step = ?",
                              NULL, err, "ttittitt" "t", o->status, o->cache_key,
                              (int64_t)o->attempts, o->has_exit_code ? code : NULL,
                              o->job_id, keel_now_ms(), o->reason, r->run_id, st->name);
    if (rc == KEEL_OK && o->manifest != NULL && o->step_run != NULL && !o->cache_hit)
        rc = lineage(r, o->step_run, st, o->inputs, o->manifest, err);
    if (rc == KEEL_OK && o->manifest != NULL && st->cache && !o->cache_hit) {
        char *outs = json_dumps(o->manifest, JSON_COMPACT);
        char *inputs = json_dumps(o->inputs, JSON_SORT_KEYS | JSON_COMPACT);
        rc = keel_store_execv(s, "INSERT OR REPLACE INTO pipeline_cache (cache_key, pipeline, "
                                 "step, outs, step_run_id, created_time) VALUES (?, ?, ?, ?, ?, ?)",
                              NULL, err, "ttttti", o->cache_key, r->p->name, st->name,
                              outs != NULL ? outs : "[]", o->step_run, keel_now_ms());
        if (rc == KEEL_OK)
            rc = keel_store_execv(s, "INSERT OR REPLACE INTO pipeline_step_inputs (pipeline, "
                                     "step, cache_key, inputs) VALUES (?, ?, ?, ?)",
                                  NULL, err, "tttt", r->p->name, st->name, o->cache_key,
                                  inputs != NULL ? inputs : "{}");
        free(outs);
        free(inputs);
    }
    if (rc != KEEL_OK) {
        keel_store_rollback(s);
        return rc;
    }
    return keel_store_commit(s, err);
}

int record_run_end(pipeline_recorder *r, const char *status, keel_err *err)
{
    int rc = keel_store_execv(r->ws->store, "UPDATE pipeline_runs SET status = ?, end_time = ? "
                                            "WHERE run_id = ?",
                              NULL, err, "tit", status, keel_now_ms(), r->run_id);
    if (rc == KEEL_OK)
        rc = keel_run_update(r->ws->store, r->run_id, tracking_status(status), 0, NULL, err);
    return rc;
}

int record_cache_lookup(pipeline_recorder *r, const char *key, json_t **out_manifest,
                        keel_err *err)
{
    *out_manifest = NULL;
    keel_stmt *q = NULL;
    int rc = keel_store_prepare(r->ws->store, "SELECT outs FROM pipeline_cache WHERE cache_key = ?",
                                true, &q, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(q, 1, key, -1);
    if (keel_stmt_step(q, err) == KEEL_STEP_ROW)
        *out_manifest = json_loads(keel_stmt_text(q, 0), 0, NULL);
    keel_stmt_release(q);
    return KEEL_OK;
}

json_t *record_last_inputs(pipeline_recorder *r, const char *step)
{
    keel_stmt *q = NULL;
    keel_err err;
    json_t *inputs = NULL;
    if (keel_store_prepare(r->ws->store, "SELECT inputs FROM pipeline_step_inputs "
                                         "WHERE pipeline = ? AND step = ?", true, &q, &err) != KEEL_OK)
        return NULL;
    keel_stmt_bind_text(q, 1, r->p->name, -1);
    keel_stmt_bind_text(q, 2, step, -1);
    if (keel_stmt_step(q, &err) == KEEL_STEP_ROW)
        inputs = json_loads(keel_stmt_text(q, 0), 0, NULL);
    keel_stmt_release(q);
    return inputs;
}
