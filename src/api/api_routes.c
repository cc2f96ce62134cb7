/*
 * api_routes.c — the server's route table: MLflow's tracking API under both
 * of its prefixes, the artifact proxy, keel's pipeline endpoints, the
 * feature store's online endpoints, health and version.
 */
#include "api.h"
#include "mlflow_handlers.h"

#include <stdio.h>

#define SMALL_BODY  (1u << 20)      /* one entity */
#define BATCH_BODY  (16u << 20)     /* log-batch: 1000 metrics with long keys */
#define UPLOAD_BODY ((size_t)64 << 30)

/* MLflow endpoints: method, path below the prefix, handler, body limit. */
#define MLFLOW_ENDPOINTS(X)                                                      \
    X("POST", "experiments/create", mlflow_experiments_create, SMALL_BODY)        \
    X("GET", "experiments/get", mlflow_experiments_get, SMALL_BODY)               \
    X("GET", "experiments/get-by-name", mlflow_experiments_get_by_name, SMALL_BODY) \
    X("POST", "experiments/search", mlflow_experiments_search, SMALL_BODY)        \
    X("GET", "experiments/search", mlflow_experiments_search, SMALL_BODY)         \
    X("GET", "experiments/list", mlflow_experiments_list, SMALL_BODY)             \
    X("POST", "experiments/update", mlflow_experiments_update, SMALL_BODY)        \
    X("POST", "experiments/delete", mlflow_experiments_delete, SMALL_BODY)        \
    X("POST", "experiments/restore", mlflow_experiments_restore, SMALL_BODY)      \
    X("POST", "experiments/set-experiment-tag", mlflow_experiments_set_tag, SMALL_BODY) \
    X("POST", "runs/create", mlflow_runs_create, SMALL_BODY)                      \
    X("POST", "runs/update", mlflow_runs_update, SMALL_BODY)                      \
    X("GET", "runs/get", mlflow_runs_get, SMALL_BODY)                             \
    X("POST", "runs/delete", mlflow_runs_delete, SMALL_BODY)                      \
    X("POST", "runs/restore", mlflow_runs_restore, SMALL_BODY)                    \
    X("POST", "runs/set-tag", mlflow_runs_set_tag, SMALL_BODY)                    \
    X("POST", "runs/delete-tag", mlflow_runs_delete_tag, SMALL_BODY)              \
    X("POST", "runs/log-parameter", mlflow_runs_log_parameter, SMALL_BODY)        \
    X("POST", "runs/log-metric", mlflow_runs_log_metric, SMALL_BODY)              \
    X("POST", "runs/log-batch", mlflow_runs_log_batch, BATCH_BODY)                \
    X("POST", "runs/log-inputs", mlflow_runs_log_inputs, BATCH_BODY)              \
    X("POST", "runs/log-model", mlflow_runs_log_model, SMALL_BODY)                \
    X("POST", "runs/search", mlflow_runs_search, SMALL_BODY)                      \
    X("GET", "runs/search", mlflow_runs_search, SMALL_BODY)                       \
    X("GET", "metrics/get-history", mlflow_metrics_get_history, SMALL_BODY)       \
    X("GET", "artifacts/list", mlflow_artifacts_list, SMALL_BODY)                 \
    X("POST", "registered-models/create", mlflow_models_create, SMALL_BODY)      \
    X("GET", "registered-models/get", mlflow_models_get, SMALL_BODY)             \
    X("POST", "registered-models/rename", mlflow_models_rename, SMALL_BODY)      \
    X("PATCH", "registered-models/update", mlflow_models_update, SMALL_BODY)     \
    X("DELETE", "registered-models/delete", mlflow_models_delete, SMALL_BODY)    \
    X("GET", "registered-models/search", mlflow_models_search, SMALL_BODY)       \
    X("POST", "registered-models/get-latest-versions", mlflow_models_latest_versions, SMALL_BODY) \
    X("GET", "registered-models/get-latest-versions", mlflow_models_latest_versions, SMALL_BODY) \
    X("POST", "registered-models/set-tag", mlflow_models_set_tag, SMALL_BODY)    \
    X("DELETE", "registered-models/delete-tag", mlflow_models_delete_tag, SMALL_BODY) \
    X("POST", "registered-models/alias", mlflow_models_alias_set, SMALL_BODY)    \
    X("DELETE", "registered-models/alias", mlflow_models_alias_delete, SMALL_BODY) \
    X("GET", "registered-models/alias", mlflow_models_alias_get, SMALL_BODY)     \
    X("POST", "model-versions/create", mlflow_versions_create, SMALL_BODY)       \
    X("GET", "model-versions/get", mlflow_versions_get, SMALL_BODY)              \
    X("PATCH", "model-versions/update", mlflow_versions_update, SMALL_BODY)      \
    X("DELETE", "model-versions/delete", mlflow_versions_delete, SMALL_BODY)     \
    X("GET", "model-versions/search", mlflow_versions_search, SMALL_BODY)        \
    X("GET", "model-versions/get-download-uri", mlflow_versions_download_uri, SMALL_BODY) \
    X("POST", "model-versions/transition-stage", mlflow_versions_transition, SMALL_BODY) \
    X("POST", "model-versions/set-tag", mlflow_versions_set_tag, SMALL_BODY)     \
    X("DELETE", "model-versions/delete-tag", mlflow_versions_delete_tag, SMALL_BODY)

#define ROW_API(method, path, handler, limit) \
    { method, "/api/2.0/mlflow/" path, KEEL_ROUTE_EXACT, handler, NULL, limit },
#define ROW_AJAX(method, path, handler, limit) \
    { method, "/ajax-api/2.0/mlflow/" path, KEEL_ROUTE_EXACT, handler, NULL, limit },

static int health(keel_http_req *req, keel_http_resp *resp)
{
    (void)req;
    resp->status = 200;
    resp->content_type = "text/plain";
    keel_buf_puts(&resp->body, "OK");
    return 0;
}

static int version(keel_http_req *req, keel_http_resp *resp)
{
    (void)req;
    resp->status = 200;
    resp->content_type = "text/plain";
    keel_buf_puts(&resp->body, KEEL_VERSION);
    return 0;
}

const keel_http_route keel_api_routes[] = {
    MLFLOW_ENDPOINTS(ROW_API)
    MLFLOW_ENDPOINTS(ROW_AJAX)
    { "GET", "/api/2.0/mlflow-artifacts/artifacts", KEEL_ROUTE_EXACT,
      mlflow_artifact_list_proxy, NULL, SMALL_BODY },
    { "GET", "/api/2.0/mlflow-artifacts/artifacts/", KEEL_ROUTE_PREFIX,
      mlflow_artifact_download, NULL, SMALL_BODY },
    { "PUT", "/api/2.0/mlflow-artifacts/artifacts/", KEEL_ROUTE_PREFIX, NULL,
      &mlflow_artifact_upload, UPLOAD_BODY },
    { "DELETE", "/api/2.0/mlflow-artifacts/artifacts/", KEEL_ROUTE_PREFIX,
      mlflow_artifact_delete, NULL, SMALL_BODY },
    { "POST", "/api/keel/v1/pipelines/", KEEL_ROUTE_PREFIX, keel_api_pipeline_runs_post, NULL,
      SMALL_BODY },
    { "GET", "/api/keel/v1/pipelines/", KEEL_ROUTE_PREFIX, keel_api_pipeline_runs_get, NULL,
      SMALL_BODY },
    { "POST", "/features/v1/get-online-features", KEEL_ROUTE_EXACT,
      keel_api_features_get_online, NULL, BATCH_BODY },
    { "POST", "/features/v1/push", KEEL_ROUTE_EXACT, keel_api_features_push, NULL, BATCH_BODY },
    { "GET", "/features/v1/freshness", KEEL_ROUTE_EXACT, keel_api_features_freshness, NULL,
      SMALL_BODY },
    { "GET", "/metrics", KEEL_ROUTE_EXACT, keel_api_metrics, NULL, SMALL_BODY },
    { "GET", "/health", KEEL_ROUTE_EXACT, health, NULL, SMALL_BODY },
    { "GET", "/version", KEEL_ROUTE_EXACT, version, NULL, SMALL_BODY },
};

const size_t keel_api_n_routes = sizeof keel_api_routes / sizeof keel_api_routes[0];

int keel_api_not_found(keel_http_req *req, keel_http_resp *resp)
{
    char msg[600];
    bool wrong_method = resp->status == 405;
    snprintf(msg, sizeof msg, "%s %.16s %.500s", wrong_method ? "Method not allowed:"
                                                                : "No API endpoint",
             req->method, req->url);
    keel_http_json(resp, wrong_method ? 405 : 404,
                   json_pack("{s:s, s:s}", "error_code",
                             wrong_method ? "BAD_REQUEST" : "ENDPOINT_NOT_FOUND", "message", msg));
    return 0;
}

void keel_api_too_large(keel_http_req *req, keel_http_resp *resp, size_t limit)
{
    char msg[600];
    snprintf(msg, sizeof msg, "request body for %.500s is larger than the %zu-byte limit of "
             "this endpoint", req->url, limit);
    keel_http_json(resp, 413, json_pack("{s:s, s:s}", "error_code", "BAD_REQUEST", "message",
                                        msg));
}
