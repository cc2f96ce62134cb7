/*
 * keel_pipelines.c — keel's own pipeline endpoints on `keel server`:
 *
 *   POST /api/keel/v1/pipelines/NAME/runs   {"params": {"k": "v"}, "executor": "local"}
 *        → 200 {"run_id", "pipeline", "status": "RUNNING"}; the run goes on in
 *          the background (later issues trigger retraining through this)
 *   GET  /api/keel/v1/pipelines/runs/RUN    → the run and its steps
 *
 * The pipeline file is the server's --pipelines (default: keel.yaml beside
 * the keel home). The pipeline and params are checked here first, so bad
 * input is a 400/404 naming what is wrong, before any process starts.
 */
#include "api.h"

#include <keel/pipeline.h>

#include <stdio.h>
#include <string.h>

static int start_run(keel_http_req *req, keel_http_resp *resp, const char *name)
{
    keel_api_app *app = req->app;
    if (app->pipeline_file[0] == '\0')
        return api_error(resp, KEEL_ESTATE, "this server has no pipeline file (start it with "
                                            "--pipelines FILE, or put keel.yaml beside .keel)");
    json_t *msg = api_request_message(req, resp);
    if (msg == NULL)
        return KEEL_EINVAL;
    keel_err err = { 0 };
    json_t *params = json_object_get(msg, "params");
    const char *executor = json_string_value(json_object_get(msg, "executor"));
    int rc = KEEL_OK;
    if (params != NULL && !json_is_object(params))
        rc = keel_errf(&err, KEEL_EINVAL, "'params' must be an object of strings");
    if (json_object_get(msg, "executor") != NULL && executor == NULL)
        rc = keel_errf(&err, KEEL_EINVAL, "'executor' must be a string");
    size_t n = params != NULL ? json_object_size(params) : 0;
    keel_kv *kv = keel_arena_alloc(req->arena, (n + 1) * sizeof *kv);
    size_t i = 0;
    const char *key;
    json_t *v;
    if (rc == KEEL_OK && params != NULL) {
        json_object_foreach(params, key, v) {
            char num[64];
            const char *text = json_string_value(v);
            if (text == NULL && json_is_number(v)) {
                snprintf(num, sizeof num, "%.17g", json_number_value(v));
                text = num;
            }
            if (text == NULL) {
                rc = keel_errf(&err, KEEL_EINVAL, "params.%s must be a string or a number", key);
                break;
            }
            kv[i++] = (keel_kv){ keel_arena_strdup(req->arena, key),
                                 keel_arena_strdup(req->arena, text) };
        }
    }
    keel_pipeline *p = NULL;
    if (rc == KEEL_OK)
        rc = keel_pipeline_load(app->pipeline_file, name, kv, i, &p, &err);
    char run_id[33] = "";
    if (rc == KEEL_OK) {
        keel_pipeline_trigger_opts t = { .home = app->home, .file = app->pipeline_file,
                                         .workdir = p->dir, .pipeline = name, .params = kv,
                                         .n_params = i, .executor = executor,
                                         .trigger = "http" };
        rc = keel_pipeline_trigger(&t, run_id, &err);
    }
    keel_pipeline_free(p);
    json_decref(msg);
    if (rc != KEEL_OK)
        return api_error(resp, rc, err.msg);
    keel_http_json(resp, 200, json_pack("{s:s, s:s, s:s}", "run_id", run_id, "pipeline", name,
                                        "status", "RUNNING"));
    return KEEL_OK;
}

static int get_run(keel_http_req *req, keel_http_resp *resp, const char *run_id)
{
    keel_store *s = api_store(req, resp);
    if (s == NULL)
        return KEEL_ESTORE;
    keel_err err = { 0 };
    keel_stmt *q = NULL;
    int rc = keel_store_prepare(s, "SELECT pipeline, status, executor, trigger, start_time, "
                                   "end_time, params FROM pipeline_runs WHERE run_id = ?",
                                true, &q, &err);
    if (rc != KEEL_OK)
        return api_error(resp, rc, err.msg);
    keel_stmt_bind_text(q, 1, run_id, -1);
    if (keel_stmt_step(q, &err) != KEEL_STEP_ROW) {
        keel_stmt_release(q);
        char m[200];
        snprintf(m, sizeof m, "no pipeline run %.64s", run_id);
        return api_error(resp, KEEL_ENOTFOUND, m);
    }
    json_t *run = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:o}", "run_id", run_id, "pipeline",
                            keel_stmt_text(q, 0), "status", keel_stmt_text(q, 1), "executor",
                            keel_stmt_text(q, 2), "trigger", keel_stmt_text(q, 3), "start_time",
                            (json_int_t)keel_stmt_int64(q, 4), "params",
                            json_loads(keel_stmt_text(q, 6), 0, NULL));
    if (!keel_stmt_is_null(q, 5))
        json_object_set_new(run, "end_time", json_integer(keel_stmt_int64(q, 5)));
    keel_stmt_release(q);
    json_t *steps = json_array();
    rc = keel_store_prepare(s, "SELECT step, status, attempts, exit_code, job_id, reason, "
                               "step_run_id FROM pipeline_steps WHERE run_id = ? ORDER BY seq",
                            true, &q, &err);
    if (rc == KEEL_OK) {
        keel_stmt_bind_text(q, 1, run_id, -1);
        while (keel_stmt_step(q, &err) == KEEL_STEP_ROW) {
            json_t *st = json_pack("{s:s, s:s, s:I}", "step", keel_stmt_text(q, 0), "status",
                                   keel_stmt_text(q, 1), "attempts",
                                   (json_int_t)keel_stmt_int64(q, 2));
            if (!keel_stmt_is_null(q, 3))
                json_object_set_new(st, "exit_code", json_integer(keel_stmt_int64(q, 3)));
            for (int c = 4; c <= 6; c++)
                if (keel_stmt_text(q, c) != NULL)
                    json_object_set_new(st, c == 4 ? "job_id" : c == 5 ? "reason" : "step_run_id",
                                        json_string(keel_stmt_text(q, c)));
            json_array_append_new(steps, st);
        }
        keel_stmt_release(q);
    }
    json_object_set_new(run, "steps", steps);
    keel_http_json(resp, 200, run);
    return KEEL_OK;
}

/* POST …/pipelines/NAME/runs */
int keel_api_pipeline_runs_post(keel_http_req *req, keel_http_resp *resp)
{
    const char *rest = req->path_rest;
    const char *slash = strchr(rest, '/');
    if (slash == NULL || strcmp(slash, "/runs") != 0 || slash == rest)
        return api_error(resp, KEEL_ENOTFOUND, "expected POST /api/keel/v1/pipelines/NAME/runs");
    return start_run(req, resp, keel_arena_strndup(req->arena, rest, (size_t)(slash - rest)));
}

/* GET …/pipelines/runs/RUN */
int keel_api_pipeline_runs_get(keel_http_req *req, keel_http_resp *resp)
{
    const char *rest = req->path_rest;
    if (strncmp(rest, "runs/", 5) != 0 || rest[5] == '\0' || strchr(rest + 5, '/') != NULL)
        return api_error(resp, KEEL_ENOTFOUND, "expected GET /api/keel/v1/pipelines/runs/RUN");
    return get_run(req, resp, rest + 5);
}
