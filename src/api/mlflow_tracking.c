/*
 * mlflow_tracking.c — MLflow's tracking REST API (experiments, runs,
 * metrics, artifact listing) over the tracking C API. Request and response
 * fields are MLflow's (service.proto); so are error codes and statuses.
 */
#include "api.h"
#include "mlflow_handlers.h"

#include <keel/json.h>
#include <keel/tracking.h>

#include <stdio.h>
#include <string.h>

static json_t *id_string(int64_t id)
{
    char text[32];
    snprintf(text, sizeof text, "%lld", (long long)id);
    return json_string(text);
}

/* ---- experiments ---- */

int mlflow_experiments_create(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *name = NULL, *location = NULL;
    keel_kv *tags = NULL;
    size_t n_tags = 0;
    int64_t id = 0;
    rc = api_get_string(resp, msg, "name", true, &name);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "artifact_location", false, &location);
    if (rc == KEEL_OK)
        rc = keel_kv_list_from_json(msg, "tags", req->arena, &tags, &n_tags, &err);
    if (rc == KEEL_OK)
        rc = keel_experiment_create(s, name, location, tags, n_tags, &id, &err);
    return api_finish(resp, msg, rc, &err, rc == KEEL_OK ? json_pack("{s:o}", "experiment_id",
                                                                 id_string(id)) : NULL);
}

static int answer_experiment(keel_http_resp *resp, json_t *msg, int rc, keel_err *err,
                             const keel_experiment *e)
{
    return api_finish(resp, msg, rc, err, rc == KEEL_OK ? json_pack("{s:o}", "experiment",
                                                                keel_experiment_to_json(e))
                                                    : NULL);
}

int mlflow_experiments_get(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    int64_t id = 0;
    keel_experiment e;
    rc = api_get_experiment_id(resp, msg, "experiment_id", &id);
    if (rc == KEEL_OK)
        rc = keel_experiment_get(s, id, req->arena, &e, &err);
    return answer_experiment(resp, msg, rc, &err, &e);
}

int mlflow_experiments_get_by_name(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *name = NULL;
    keel_experiment e;
    rc = api_get_string(resp, msg, "experiment_name", true, &name);
    if (rc == KEEL_OK)
        rc = keel_experiment_get_by_name(s, name, req->arena, &e, &err);
    return answer_experiment(resp, msg, rc, &err, &e);
}

/* ViewType as MLflow takes it: a name ("ACTIVE_ONLY") or its number (1-3). */
static int view_from_message(keel_http_resp *resp, const json_t *msg, const char *field,
                             enum keel_view_type *out, keel_err *err)
{
    const json_t *v = json_object_get(msg, field);
    *out = KEEL_VIEW_ACTIVE_ONLY;
    if (v == NULL || json_is_null(v))
        return KEEL_OK;
    static const enum keel_view_type by_number[] = { KEEL_VIEW_ACTIVE_ONLY, KEEL_VIEW_ACTIVE_ONLY,
                                                     KEEL_VIEW_DELETED_ONLY, KEEL_VIEW_ALL };
    if (json_is_integer(v) && json_integer_value(v) >= 1 && json_integer_value(v) <= 3) {
        *out = by_number[json_integer_value(v)];
        return KEEL_OK;
    }
    if (json_is_string(v) && keel_view_type_parse(json_string_value(v), out, err) == KEEL_OK)
        return KEEL_OK;
    keel_errf(err, KEEL_EINVAL, "invalid value for field '%s': expected ACTIVE_ONLY, "
              "DELETED_ONLY or ALL", field);
    return api_error(resp, KEEL_EINVAL, err->msg);
}

static int search_experiments(keel_http_req *req, keel_http_resp *resp, bool legacy_list)
{
    API_HANDLER_START;
    keel_experiment_search q = { 0 };
    const char **order = NULL;
    size_t n_order = 0;
    rc = api_get_int64(resp, msg, "max_results", false, &q.max_results);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "page_token", false, &q.page_token);
    if (rc == KEEL_OK && !legacy_list)
        rc = api_get_string(resp, msg, "filter", false, &q.filter);
    if (rc == KEEL_OK && !legacy_list)
        rc = api_string_list(req, resp, msg, "order_by", &order, &n_order);
    if (rc == KEEL_OK)
        rc = view_from_message(resp, msg, "view_type", &q.view, &err);
    q.order_by = order;
    q.n_order_by = n_order;
    keel_experiment *list = NULL;
    size_t n = 0;
    const char *next = NULL;
    if (rc == KEEL_OK)
        rc = keel_experiment_search_run(s, &q, req->arena, &list, &n, &next, &err);
    json_t *body = NULL;
    if (rc == KEEL_OK) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, keel_experiment_to_json(&list[i]));
        body = api_page("experiments", arr, next);
    }
    return api_finish(resp, msg, rc, &err, body);
}

int mlflow_experiments_search(keel_http_req *req, keel_http_resp *resp)
{
    return search_experiments(req, resp, false);
}

int mlflow_experiments_list(keel_http_req *req, keel_http_resp *resp)
{
    return search_experiments(req, resp, true);
}

/* The experiment writes share one shape: id from the message, one call. */
enum experiment_write { EXP_UPDATE, EXP_DELETE, EXP_RESTORE, EXP_SET_TAG };

static int experiment_write(keel_http_req *req, keel_http_resp *resp, enum experiment_write what)
{
    API_HANDLER_START;
    int64_t id = 0;
    const char *a = NULL, *b = NULL;
    rc = api_get_experiment_id(resp, msg, "experiment_id", &id);
    if (rc == KEEL_OK && what == EXP_UPDATE)
        rc = api_get_string(resp, msg, "new_name", true, &a);
    if (rc == KEEL_OK && what == EXP_SET_TAG)
        rc = api_get_string(resp, msg, "key", true, &a);
    if (rc == KEEL_OK && what == EXP_SET_TAG)
        rc = api_get_string(resp, msg, "value", false, &b);
    if (rc == KEEL_OK) {
        switch (what) {
        case EXP_UPDATE: rc = keel_experiment_rename(s, id, a, &err); break;
        case EXP_DELETE: rc = keel_experiment_delete(s, id, &err); break;
        case EXP_RESTORE: rc = keel_experiment_restore(s, id, &err); break;
        case EXP_SET_TAG: rc = keel_experiment_set_tag(s, id, a, b != NULL ? b : "", &err); break;
        }
    }
    return api_finish(resp, msg, rc, &err, rc == KEEL_OK ? json_object() : NULL);
}

int mlflow_experiments_update(keel_http_req *req, keel_http_resp *resp)
{
    return experiment_write(req, resp, EXP_UPDATE);
}

int mlflow_experiments_delete(keel_http_req *req, keel_http_resp *resp)
{
    return experiment_write(req, resp, EXP_DELETE);
}

int mlflow_experiments_restore(keel_http_req *req, keel_http_resp *resp)
{
    return experiment_write(req, resp, EXP_RESTORE);
}

int mlflow_experiments_set_tag(keel_http_req *req, keel_http_resp *resp)
{
    return experiment_write(req, resp, EXP_SET_TAG);
}

/* ---- runs ---- */

static json_t *run_body(keel_store *s, keel_http_req *req, const char *run_id, int *rc,
                        keel_err *err)
{
    keel_run run;
    *rc = keel_run_get(s, run_id, req->arena, &run, err);
    return *rc == KEEL_OK ? json_pack("{s:o}", "run", keel_run_to_json(&run)) : NULL;
}

/* Answers {"run": …} or {"runs": [...], "next_page_token"} written straight
 * into the response: no JSON tree for what can be thousands of objects. */
static int answer_runs(keel_http_resp *resp, json_t *msg, const char *wrapper,
                       const keel_run *runs, size_t n, const char *next)
{
    json_decref(msg);
    keel_buf *b = &resp->body;
    keel_buf_reset(b);
    int rc = keel_buf_puts(b, "{");
    bool list = strcmp(wrapper, "runs") == 0;
    if (rc == KEEL_OK && (n > 0 || !list))
        rc = keel_buf_puts(b, list ? "\"runs\":[" : "\"run\":");
    for (size_t i = 0; rc == KEEL_OK && i < n; i++) {
        if (i > 0)
            rc = keel_buf_puts(b, ",");
        if (rc == KEEL_OK)
            rc = keel_run_write_json(b, &runs[i], true);
    }
    if (rc == KEEL_OK && list && n > 0)
        rc = keel_buf_puts(b, "]");
    if (rc == KEEL_OK && next != NULL) {
        rc = keel_buf_puts(b, n > 0 ? ",\"next_page_token\":" : "\"next_page_token\":");
        if (rc == KEEL_OK)
            rc = keel_json_write_string(b, next, strlen(next));
    }
    if (rc == KEEL_OK)
        rc = keel_buf_puts(b, "}");
    if (rc != KEEL_OK)
        return api_error(resp, KEEL_ELIMIT, "response too large");
    resp->status = 200;
    resp->content_type = "application/json";
    return KEEL_OK;
}

int mlflow_runs_create(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    keel_run_create_opts opts = { 0 };
    keel_kv *tags = NULL;
    const char *run_id = NULL;
    json_t *body = NULL;
    if (json_object_get(msg, "experiment_id") != NULL)
        rc = api_get_experiment_id(resp, msg, "experiment_id", &opts.experiment_id);
    opts.user_id = "";  /* MLflow stores what the client sends, nothing else */
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "user_id", false, &opts.user_id);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "run_name", false, &opts.run_name);
    if (rc == KEEL_OK)
        rc = api_get_int64(resp, msg, "start_time", false, &opts.start_time);
    if (rc == KEEL_OK)
        rc = keel_kv_list_from_json(msg, "tags", req->arena, &tags, &opts.n_tags, &err);
    opts.tags = tags;
    if (rc == KEEL_OK)
        rc = keel_run_create(s, &opts, req->arena, &run_id, &err);
    if (rc == KEEL_OK)
        body = run_body(s, req, run_id, &rc, &err);
    return api_finish(resp, msg, rc, &err, body);
}

int mlflow_runs_get(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *run_id = NULL;
    keel_run run;
    rc = api_get_run_id(resp, msg, &run_id);
    if (rc == KEEL_OK)
        rc = keel_run_get(s, run_id, req->arena, &run, &err);
    if (rc != KEEL_OK)
        return api_finish(resp, msg, rc, &err, NULL);
    return answer_runs(resp, msg, "run", &run, 1, NULL);
}

int mlflow_runs_update(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *run_id = NULL, *status = NULL, *name = NULL;
    int64_t end_time = 0;
    json_t *body = NULL;
    rc = api_get_run_id(resp, msg, &run_id);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "status", false, &status);
    if (rc == KEEL_OK)
        rc = api_get_int64(resp, msg, "end_time", false, &end_time);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "run_name", false, &name);
    if (rc == KEEL_OK)
        rc = keel_run_update(s, run_id, status, end_time, name, &err);
    if (rc == KEEL_OK) {
        keel_run run;
        rc = keel_run_get(s, run_id, req->arena, &run, &err);
        if (rc == KEEL_OK) {
            json_t *full = keel_run_to_json(&run);
            body = json_pack("{s:O}", "run_info", json_object_get(full, "info"));
            json_decref(full);
        }
    }
    return api_finish(resp, msg, rc, &err, body);
}

/* Run writes with an id and up to two string fields. */
enum run_write { RUN_DELETE, RUN_RESTORE, RUN_SET_TAG, RUN_DELETE_TAG, RUN_LOG_PARAM };

static int run_write(keel_http_req *req, keel_http_resp *resp, enum run_write what)
{
    API_HANDLER_START;
    const char *run_id = NULL, *key = NULL, *value = NULL;
    rc = api_get_run_id(resp, msg, &run_id);
    bool keyed = what == RUN_SET_TAG || what == RUN_DELETE_TAG || what == RUN_LOG_PARAM;
    if (rc == KEEL_OK && keyed)
        rc = api_get_string(resp, msg, "key", true, &key);
    if (rc == KEEL_OK && (what == RUN_SET_TAG || what == RUN_LOG_PARAM))
        rc = api_get_string(resp, msg, "value", what == RUN_LOG_PARAM, &value);
    if (rc == KEEL_OK) {
        switch (what) {
        case RUN_DELETE: rc = keel_run_delete(s, run_id, &err); break;
        case RUN_RESTORE: rc = keel_run_restore(s, run_id, &err); break;
        case RUN_SET_TAG: rc = keel_run_set_tag(s, run_id, key, value, &err); break;
        case RUN_DELETE_TAG: rc = keel_run_delete_tag(s, run_id, key, &err); break;
        case RUN_LOG_PARAM: rc = keel_run_log_param(s, run_id, key, value, &err); break;
        }
    }
    return api_finish(resp, msg, rc, &err, rc == KEEL_OK ? json_object() : NULL);
}

int mlflow_runs_delete(keel_http_req *req, keel_http_resp *resp)
{
    return run_write(req, resp, RUN_DELETE);
}

int mlflow_runs_restore(keel_http_req *req, keel_http_resp *resp)
{
    return run_write(req, resp, RUN_RESTORE);
}

int mlflow_runs_set_tag(keel_http_req *req, keel_http_resp *resp)
{
    return run_write(req, resp, RUN_SET_TAG);
}

int mlflow_runs_delete_tag(keel_http_req *req, keel_http_resp *resp)
{
    return run_write(req, resp, RUN_DELETE_TAG);
}

int mlflow_runs_log_parameter(keel_http_req *req, keel_http_resp *resp)
{
    return run_write(req, resp, RUN_LOG_PARAM);
}

int mlflow_runs_log_metric(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *run_id = NULL;
    keel_metric m = { 0 };
    rc = api_get_run_id(resp, msg, &run_id);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "key", true, &m.key);
    if (rc == KEEL_OK) {
        const json_t *v = json_object_get(msg, "value");
        if (v == NULL || json_is_null(v))
            rc = api_error(resp, KEEL_EINVAL, "missing value for required field 'value'");
        else if (keel_json_to_double(v, "value", &m.value, &err) != KEEL_OK)
            rc = api_error(resp, err.code, err.msg);
    }
    if (rc == KEEL_OK)
        rc = api_get_int64(resp, msg, "timestamp", true, &m.timestamp);
    if (rc == KEEL_OK)
        rc = api_get_int64(resp, msg, "step", false, &m.step);
    if (rc == KEEL_OK)
        rc = keel_run_log_metric(s, run_id, m.key, m.value, m.timestamp, m.step, &err);
    return api_finish(resp, msg, rc, &err, rc == KEEL_OK ? json_object() : NULL);
}

int mlflow_runs_log_batch(keel_http_req *req, keel_http_resp *resp)
{
    /* The hot path: the plain shape decoded without a JSON tree. */
    const char *fast_run_id = NULL;
    keel_batch fast;
    if (keel_batch_parse_fast(req->body, req->body_len, req->arena, &fast_run_id, &fast) ==
            KEEL_OK && fast_run_id != NULL && fast_run_id[0] != '\0') {
        keel_store *s = api_store(req, resp);
        if (s == NULL)
            return KEEL_ESTORE;
        keel_err err = { 0 };
        int rc = keel_run_log_batch(s, fast_run_id, fast.metrics, fast.n_metrics, fast.params,
                                    fast.n_params, fast.tags, fast.n_tags, &err);
        return api_finish(resp, NULL, rc, &err, rc == KEEL_OK ? json_object() : NULL);
    }
    API_HANDLER_START;
    const char *run_id = NULL;
    keel_batch b;
    rc = api_get_run_id(resp, msg, &run_id);
    if (rc == KEEL_OK)
        rc = keel_batch_from_json(msg, req->arena, &b, &err);
    if (rc == KEEL_OK)
        rc = keel_run_log_batch(s, run_id, b.metrics, b.n_metrics, b.params, b.n_params, b.tags,
                                b.n_tags, &err);
    return api_finish(resp, msg, rc, &err, rc == KEEL_OK ? json_object() : NULL);
}

int mlflow_runs_log_inputs(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *run_id = NULL;
    keel_dataset_input *inputs = NULL;
    size_t n = 0;
    rc = api_get_run_id(resp, msg, &run_id);
    if (rc == KEEL_OK)
        rc = keel_dataset_inputs_from_json(msg, "datasets", req->arena, &inputs, &n, &err);
    if (rc == KEEL_OK)
        rc = keel_run_log_inputs(s, run_id, inputs, n, &err);
    return api_finish(resp, msg, rc, &err, rc == KEEL_OK ? json_object() : NULL);
}

/* MLflow keeps logged models as a JSON list in the tag
 * mlflow.log-model.history; log-model appends to it. */
int mlflow_runs_log_model(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *run_id = NULL, *model_json = NULL;
    json_t *model = NULL, *history = NULL;
    rc = api_get_run_id(resp, msg, &run_id);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "model_json", true, &model_json);
    if (rc == KEEL_OK &&
        (keel_json_parse(model_json, strlen(model_json), KEEL_JSON_MAX_DEPTH, &model, &err) !=
             KEEL_OK || !json_is_object(model)))
        rc = api_error(resp, KEEL_EINVAL, "field 'model_json' is not a JSON object");
    static const char *const mandatory[] = { "artifact_path", "flavors", "utc_time_created",
                                             "run_id" };
    for (size_t i = 0; rc == KEEL_OK && i < sizeof mandatory / sizeof mandatory[0]; i++) {
        if (json_object_get(model, mandatory[i]) == NULL) {
            char text[200];
            snprintf(text, sizeof text, "Model json is missing mandatory fields: '%s' (needs "
                     "artifact_path, flavors, utc_time_created, run_id)", mandatory[i]);
            rc = api_error(resp, KEEL_EINVAL, text);
        }
    }
    if (rc == KEEL_OK)
        rc = api_write_begin(s, resp);
    if (rc == KEEL_OK) {
        keel_run run;
        rc = keel_run_get(s, run_id, req->arena, &run, &err);
        for (size_t i = 0; rc == KEEL_OK && i < run.n_tags; i++) {
            if (strcmp(run.tags[i].key, "mlflow.log-model.history") == 0)
                keel_json_parse(run.tags[i].value, strlen(run.tags[i].value),
                                KEEL_JSON_MAX_DEPTH, &history, &err);
        }
        if (!json_is_array(history)) {
            json_decref(history);
            history = json_array();
        }
        json_array_append(history, model);
        char *text = keel_json_dumps(history, false);
        if (rc == KEEL_OK)
            rc = keel_run_set_tag(s, run_id, "mlflow.log-model.history", text, &err);
        free(text);
        rc = api_write_end(s, resp, rc, &err);
    }
    json_decref(model);
    json_decref(history);
    json_decref(msg);
    return rc == KEEL_OK ? api_ok(resp, NULL) : rc;
}

int mlflow_runs_search(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char **exp_texts = NULL;
    size_t n_exp = 0;
    api_search_args a = { 0 };
    rc = api_string_list(req, resp, msg, "experiment_ids", &exp_texts, &n_exp);
    if (rc == KEEL_OK)
        rc = api_search_args_get(req, resp, msg, &a);
    keel_run_search q = { .filter = a.filter, .max_results = a.max_results,
                          .page_token = a.page_token, .order_by = a.order_by,
                          .n_order_by = a.n_order_by };
    if (rc == KEEL_OK)
        rc = view_from_message(resp, msg, "run_view_type", &q.view, &err);
    int64_t *ids = keel_arena_alloc(req->arena, (n_exp + 1) * sizeof *ids);
    for (size_t i = 0; rc == KEEL_OK && i < n_exp; i++) {
        json_t *one = json_pack("{s:s}", "id", exp_texts[i]);
        rc = api_get_experiment_id(resp, one, "id", &ids[i]);
        json_decref(one);
    }
    q.experiment_ids = ids;
    q.n_experiment_ids = n_exp;
    keel_run *runs = NULL;
    size_t n = 0;
    const char *next = NULL;
    /* MLflow: no experiments, no runs. */
    if (rc == KEEL_OK && n_exp > 0)
        rc = keel_run_search_run(s, &q, req->arena, &runs, &n, &next, &err);
    if (rc != KEEL_OK)
        return api_finish(resp, msg, rc, &err, NULL);
    return answer_runs(resp, msg, "runs", runs, n, next);
}

int mlflow_metrics_get_history(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *run_id = NULL, *key = NULL, *token = NULL;
    int64_t max = 0;
    rc = api_get_run_id(resp, msg, &run_id);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "metric_key", true, &key);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "page_token", false, &token);
    if (rc == KEEL_OK)
        rc = api_get_int64(resp, msg, "max_results", false, &max);
    keel_metric *list = NULL;
    size_t n = 0;
    const char *next = NULL;
    if (rc == KEEL_OK)
        rc = keel_run_metric_history(s, run_id, key, max, token, req->arena, &list, &n, &next,
                                     &err);
    json_t *body = NULL;
    if (rc == KEEL_OK) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, keel_metric_to_json(&list[i]));
        body = api_page("metrics", arr, next);
    }
    return api_finish(resp, msg, rc, &err, body);
}

int mlflow_artifacts_list(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *run_id = NULL, *path = NULL;
    rc = api_get_run_id(resp, msg, &run_id);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "path", false, &path);
    keel_run run;
    if (rc == KEEL_OK)
        rc = keel_run_get(s, run_id, req->arena, &run, &err);
    keel_artifact_entry *list = NULL;
    size_t n = 0;
    if (rc == KEEL_OK)
        rc = keel_artifacts_list(s, run_id, path, req->arena, &list, &n, &err);
    json_t *body = NULL;
    if (rc == KEEL_OK) {
        json_t *files = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *f = json_pack("{s:s, s:b}", "path", list[i].path, "is_dir", list[i].is_dir);
            if (!list[i].is_dir)
                json_object_set_new(f, "file_size", json_integer(list[i].size));
            json_array_append_new(files, f);
        }
        body = json_pack("{s:s, s:o}", "root_uri", run.info.artifact_uri, "files", files);
    }
    return api_finish(resp, msg, rc, &err, body);
}
