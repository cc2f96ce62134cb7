/*
 * mlflow_handlers.h — the MLflow endpoint handlers, for the route table.
 */
#ifndef KEEL_MLFLOW_HANDLERS_H
#define KEEL_MLFLOW_HANDLERS_H

#include "http/http.h"

#define MLFLOW_HANDLER(name) int name(keel_http_req *req, keel_http_resp *resp);

#define MLFLOW_HANDLER_LIST(X)              \
    X(mlflow_experiments_create)            \
    X(mlflow_experiments_get)               \
    X(mlflow_experiments_get_by_name)       \
    X(mlflow_experiments_search)            \
    X(mlflow_experiments_list)              \
    X(mlflow_experiments_update)            \
    X(mlflow_experiments_delete)            \
    X(mlflow_experiments_restore)           \
    X(mlflow_experiments_set_tag)           \
    X(mlflow_runs_create)                   \
    X(mlflow_runs_get)                      \
    X(mlflow_runs_update)                   \
    X(mlflow_runs_delete)                   \
    X(mlflow_runs_restore)                  \
    X(mlflow_runs_set_tag)                  \
    X(mlflow_runs_delete_tag)               \
    X(mlflow_runs_log_parameter)            \
    X(mlflow_runs_log_metric)               \
    X(mlflow_runs_log_batch)                \
    X(mlflow_runs_log_inputs)               \
    X(mlflow_runs_log_model)                \
    X(mlflow_runs_search)                   \
    X(mlflow_metrics_get_history)           \
    X(mlflow_artifacts_list)                \
    X(mlflow_artifact_download)             \
    X(mlflow_artifact_delete)               \
    X(mlflow_artifact_list_proxy)           \
    X(mlflow_models_create)                 \
    X(mlflow_models_get)                    \
    X(mlflow_models_rename)                 \
    X(mlflow_models_update)                 \
    X(mlflow_models_delete)                 \
    X(mlflow_models_search)                 \
    X(mlflow_models_latest_versions)        \
    X(mlflow_models_set_tag)                \
    X(mlflow_models_delete_tag)             \
    X(mlflow_models_alias_set)              \
    X(mlflow_models_alias_delete)           \
    X(mlflow_models_alias_get)              \
    X(mlflow_versions_create)               \
    X(mlflow_versions_get)                  \
    X(mlflow_versions_update)               \
    X(mlflow_versions_delete)               \
    X(mlflow_versions_search)               \
    X(mlflow_versions_download_uri)         \
    X(mlflow_versions_transition)           \
    X(mlflow_versions_set_tag)              \
    X(mlflow_versions_delete_tag)

MLFLOW_HANDLER_LIST(MLFLOW_HANDLER)

/* Streamed PUT of an artifact into the object store. */
extern const keel_http_upload mlflow_artifact_upload;

#endif
