/*
 * mlflow_registry.c — MLflow's model registry REST API (registered-models/…,
 * model-versions/…) over keel's registry. Shapes follow
 * model_registry.proto; version numbers travel as strings, as MLflow's do.
 * The audit log's actor is the X-Keel-Actor header, else "api".
 */
#include "api.h"
#include "mlflow_handlers.h"

#include <keel/json.h>
#include <keel/registry.h>
#include <keel/webhook.h>

#include <stdio.h>
#include <string.h>

static const char *actor_of(keel_http_req *req)
{
    const char *who = keel_http_header(req, "X-Keel-Actor");
    return who != NULL && who[0] != '\0' && strlen(who) < 128 ? who : "api";
}

static json_t *model_body(keel_store *s, keel_http_req *req, const char *name, int *rc,
                          keel_err *err)
{
    keel_registered_model m;
    *rc = keel_model_get(s, name, req->arena, &m, err);
    return *rc == KEEL_OK ? json_pack("{s:o}", "registered_model", keel_registered_model_to_json(&m))
                          : NULL;
}

static json_t *version_body(keel_store *s, keel_http_req *req, const char *name, int64_t version,
                            int *rc, keel_err *err)
{
    keel_model_version v;
    *rc = keel_model_version_get(s, name, version, req->arena, &v, err);
    return *rc == KEEL_OK ? json_pack("{s:o}", "model_version", keel_model_version_to_json(&v))
                          : NULL;
}

static int name_and_version(keel_http_resp *resp, const json_t *msg, const char **name,
                            int64_t *version)
{
    int rc = api_get_string(resp, msg, "name", true, name);
    if (rc == KEEL_OK)
        rc = api_get_int64(resp, msg, "version", true, version);
    return rc;
}

int mlflow_models_create(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *name = NULL, *description = NULL;
    keel_kv *tags = NULL;
    size_t n_tags = 0;
    json_t *body = NULL;
    rc = api_get_string(resp, msg, "name", true, &name);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "description", false, &description);
    if (rc == KEEL_OK)
        rc = keel_kv_list_from_json(msg, "tags", req->arena, &tags, &n_tags, &err);
    if (rc == KEEL_OK)
        rc = keel_model_create(s, name, description, tags, n_tags, actor_of(req), &err);
    if (rc == KEEL_OK)
        body = model_body(s, req, name, &rc, &err);
    return api_finish(resp, msg, rc, &err, body);
}

int mlflow_models_get(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *name = NULL;
    json_t *body = NULL;
    rc = api_get_string(resp, msg, "name", true, &name);
    if (rc == KEEL_OK)
        body = model_body(s, req, name, &rc, &err);
    return api_finish(resp, msg, rc, &err, body);
}

int mlflow_models_rename(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *name = NULL, *new_name = NULL;
    json_t *body = NULL;
    rc = api_get_string(resp, msg, "name", true, &name);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "new_name", true, &new_name);
    if (rc == KEEL_OK)
        rc = keel_model_rename(s, name, new_name, actor_of(req), &err);
    if (rc == KEEL_OK)
        body = model_body(s, req, new_name, &rc, &err);
    return api_finish(resp, msg, rc, &err, body);
}

int mlflow_models_update(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *name = NULL, *description = NULL;
    json_t *body = NULL;
    rc = api_get_string(resp, msg, "name", true, &name);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "description", false, &description);
    if (rc == KEEL_OK)
        rc = keel_model_update(s, name, description != NULL ? description : "", actor_of(req),
                               &err);
    if (rc == KEEL_OK)
        body = model_body(s, req, name, &rc, &err);
    return api_finish(resp, msg, rc, &err, body);
}

int mlflow_models_delete(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *name = NULL;
    rc = api_get_string(resp, msg, "name", true, &name);
    if (rc == KEEL_OK)
        rc = keel_model_delete(s, name, actor_of(req), &err);
    return api_finish(resp, msg, rc, &err, rc == KEEL_OK ? json_object() : NULL);
}

int mlflow_models_search(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    api_search_args a;
    rc = api_search_args_get(req, resp, msg, &a);
    /* The registry orders by one key: the first given. */
    keel_model_search q = { .filter = a.filter, .max_results = a.max_results,
                 .page_token = a.page_token, .order_by = a.n_order_by > 0 ? a.order_by[0] : NULL };
    keel_registered_model *list = NULL;
    size_t n = 0;
    const char *next = NULL;
    if (rc == KEEL_OK)
        rc = keel_model_search_run(s, &q, req->arena, &list, &n, &next, &err);
    json_t *body = NULL;
    if (rc == KEEL_OK) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, keel_registered_model_to_json(&list[i]));
        body = api_page("registered_models", arr, next);
    }
    return api_finish(resp, msg, rc, &err, body);
}

int mlflow_models_latest_versions(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *name = NULL;
    const char **stages = NULL;
    size_t n_stages = 0;
    rc = api_get_string(resp, msg, "name", true, &name);
    if (rc == KEEL_OK)
        rc = api_string_list(req, resp, msg, "stages", &stages, &n_stages);
    keel_model_version *list = NULL;
    size_t n = 0;
    if (rc == KEEL_OK)
        rc = keel_model_latest_versions(s, name, stages, n_stages, req->arena, &list, &n, &err);
    json_t *body = NULL;
    if (rc == KEEL_OK) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, keel_model_version_to_json(&list[i]));
        body = json_pack("{s:o}", "model_versions", arr);
    }
    return api_finish(resp, msg, rc, &err, body);
}

int mlflow_models_set_tag(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *name = NULL, *key = NULL, *value = NULL;
    rc = api_get_string(resp, msg, "name", true, &name);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "key", true, &key);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "value", false, &value);
    if (rc == KEEL_OK)
        rc = keel_model_set_tag(s, name, key, value != NULL ? value : "", actor_of(req), &err);
    return api_finish(resp, msg, rc, &err, rc == KEEL_OK ? json_object() : NULL);
}

int mlflow_models_delete_tag(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *name = NULL, *key = NULL;
    rc = api_get_string(resp, msg, "name", true, &name);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "key", true, &key);
    if (rc == KEEL_OK)
        rc = keel_model_delete_tag(s, name, key, actor_of(req), &err);
    return api_finish(resp, msg, rc, &err, rc == KEEL_OK ? json_object() : NULL);
}

int mlflow_models_alias_set(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *name = NULL, *alias = NULL;
    int64_t version = 0;
    rc = name_and_version(resp, msg, &name, &version);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "alias", true, &alias);
    keel_model_version previous;
    keel_err ignored;
    bool had = rc == KEEL_OK &&
               keel_model_alias_get(s, name, alias, req->arena, &previous, &ignored) == KEEL_OK;
    if (rc == KEEL_OK)
        rc = keel_model_alias_set(s, name, alias, version, actor_of(req), NULL, &err);
    if (rc == KEEL_OK)
        keel_webhooks_fire(s, "alias_moved",
                           json_pack("{s:s, s:s, s:I, s:I}", "model", name, "alias", alias,
                                     "version", (json_int_t)version, "previous_version",
                                     (json_int_t)(had ? previous.version : 0)));
    return api_finish(resp, msg, rc, &err, rc == KEEL_OK ? json_object() : NULL);
}

int mlflow_models_alias_delete(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *name = NULL, *alias = NULL;
    rc = api_get_string(resp, msg, "name", true, &name);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "alias", true, &alias);
    if (rc == KEEL_OK)
        rc = keel_model_alias_delete(s, name, alias, actor_of(req), &err);
    return api_finish(resp, msg, rc, &err, rc == KEEL_OK ? json_object() : NULL);
}

int mlflow_models_alias_get(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *name = NULL, *alias = NULL;
    keel_model_version v;
    rc = api_get_string(resp, msg, "name", true, &name);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "alias", true, &alias);
    if (rc == KEEL_OK)
        rc = keel_model_alias_get(s, name, alias, req->arena, &v, &err);
    /* MLflow: an alias that is not set on an existing model is a bad
     * parameter (400), not a missing resource. */
    keel_registered_model m;
    keel_err probe;
    if (rc == KEEL_ENOTFOUND && keel_model_get(s, name, req->arena, &m, &probe) == KEEL_OK) {
        char text[512];
        snprintf(text, sizeof text, "Registered model alias %s not found.", alias);
        json_decref(msg);
        return api_error(resp, KEEL_EINVAL, text);
    }
    return api_finish(resp, msg, rc, &err,
                rc == KEEL_OK ? json_pack("{s:o}", "model_version", keel_model_version_to_json(&v))
                              : NULL);
}

int mlflow_versions_create(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    keel_model_version_create c = { 0 };
    keel_kv *tags = NULL;
    int64_t version = 0;
    json_t *body = NULL;
    rc = api_get_string(resp, msg, "name", true, &c.name);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "source", true, &c.source);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "run_id", false, &c.run_id);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "run_link", false, &c.run_link);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "description", false, &c.description);
    if (rc == KEEL_OK)
        rc = keel_kv_list_from_json(msg, "tags", req->arena, &tags, &c.n_tags, &err);
    c.tags = tags;
    c.user_id = "";  /* MLflow's handler records no user for REST-created versions */
    if (c.run_id != NULL && c.run_id[0] == '\0')
        c.run_id = NULL;
    if (rc == KEEL_OK)
        rc = keel_model_version_create_run(s, &c, actor_of(req), &version, &err);
    if (rc == KEEL_OK) {
        body = version_body(s, req, c.name, version, &rc, &err);
        if (rc == KEEL_OK)
            keel_webhooks_fire(s, "version_created",
                               json_pack("{s:s, s:I, s:s}", "model", c.name, "version",
                                         (json_int_t)version, "source", c.source));
    }
    return api_finish(resp, msg, rc, &err, body);
}

int mlflow_versions_get(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *name = NULL;
    int64_t version = 0;
    json_t *body = NULL;
    rc = name_and_version(resp, msg, &name, &version);
    if (rc == KEEL_OK)
        body = version_body(s, req, name, version, &rc, &err);
    return api_finish(resp, msg, rc, &err, body);
}

int mlflow_versions_update(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *name = NULL, *description = NULL;
    int64_t version = 0;
    json_t *body = NULL;
    rc = name_and_version(resp, msg, &name, &version);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "description", false, &description);
    if (rc == KEEL_OK)
        rc = keel_model_version_update(s, name, version, description != NULL ? description : "",
                                       actor_of(req), &err);
    if (rc == KEEL_OK)
        body = version_body(s, req, name, version, &rc, &err);
    return api_finish(resp, msg, rc, &err, body);
}

int mlflow_versions_delete(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *name = NULL;
    int64_t version = 0;
    rc = name_and_version(resp, msg, &name, &version);
    if (rc == KEEL_OK)
        rc = keel_model_version_delete(s, name, version, actor_of(req), &err);
    return api_finish(resp, msg, rc, &err, rc == KEEL_OK ? json_object() : NULL);
}

int mlflow_versions_search(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    api_search_args a;
    rc = api_search_args_get(req, resp, msg, &a);
    /* The registry orders by one key: the first given. */
    keel_model_version_search q = { .filter = a.filter, .max_results = a.max_results,
                 .page_token = a.page_token, .order_by = a.n_order_by > 0 ? a.order_by[0] : NULL };
    keel_model_version *list = NULL;
    size_t n = 0;
    const char *next = NULL;
    if (rc == KEEL_OK)
        rc = keel_model_version_search_run(s, &q, req->arena, &list, &n, &next, &err);
    json_t *body = NULL;
    if (rc == KEEL_OK) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, keel_model_version_to_json(&list[i]));
        body = api_page("model_versions", arr, next);
    }
    return api_finish(resp, msg, rc, &err, body);
}

int mlflow_versions_download_uri(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *name = NULL;
    int64_t version = 0;
    keel_model_version v;
    rc = name_and_version(resp, msg, &name, &version);
    if (rc == KEEL_OK)
        rc = keel_model_version_get(s, name, version, req->arena, &v, &err);
    /* The source as stored: MLflow's clients resolve runs:/ URIs themselves. */
    json_t *body = rc == KEEL_OK ? json_pack("{s:s}", "artifact_uri", v.source) : NULL;
    return api_finish(resp, msg, rc, &err, body);
}

int mlflow_versions_transition(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *name = NULL, *stage = NULL;
    int64_t version = 0;
    bool archive = false;
    json_t *body = NULL;
    rc = name_and_version(resp, msg, &name, &version);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "stage", true, &stage);
    if (rc == KEEL_OK && keel_json_get_bool(msg, "archive_existing_versions", false, &archive,
                                            &err) != KEEL_OK) {
        const char *text = NULL;
        /* From a query string it arrives as "true"/"false". */
        if (keel_json_get_string(msg, "archive_existing_versions", false, &text, &err) == KEEL_OK &&
            text != NULL)
            archive = strcmp(text, "true") == 0;
        else
            rc = api_error(resp, KEEL_EINVAL, "field 'archive_existing_versions' must be a boolean");
    }
    if (rc == KEEL_OK)
        rc = keel_model_version_transition(s, name, version, stage, archive, actor_of(req), &err);
    if (rc == KEEL_OK)
        body = version_body(s, req, name, version, &rc, &err);
    return api_finish(resp, msg, rc, &err, body);
}

int mlflow_versions_set_tag(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *name = NULL, *key = NULL, *value = NULL;
    int64_t version = 0;
    rc = name_and_version(resp, msg, &name, &version);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "key", true, &key);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "value", false, &value);
    if (rc == KEEL_OK)
        rc = keel_model_version_set_tag(s, name, version, key, value != NULL ? value : "",
                                        actor_of(req), &err);
    return api_finish(resp, msg, rc, &err, rc == KEEL_OK ? json_object() : NULL);
}

int mlflow_versions_delete_tag(keel_http_req *req, keel_http_resp *resp)
{
    API_HANDLER_START;
    const char *name = NULL, *key = NULL;
    int64_t version = 0;
    rc = name_and_version(resp, msg, &name, &version);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "key", true, &key);
    if (rc == KEEL_OK)
        rc = keel_model_version_delete_tag(s, name, version, key, actor_of(req), &err);
    return api_finish(resp, msg, rc, &err, rc == KEEL_OK ? json_object() : NULL);
}
