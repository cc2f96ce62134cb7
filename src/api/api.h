/*
 * api.h — keel's REST API: MLflow's tracking API and artifact proxy (and,
 * as later issues land, keel's own endpoints), as a route table for the
 * HTTP layer.
 *
 * Handlers read their request message with api_request_message (JSON body
 * for POST, query string for GET), call the C API, and answer with MLflow's
 * JSON shapes and errors: {"error_code": "...", "message": "..."}.
 */
#ifndef KEEL_API_H
#define KEEL_API_H

#include "http/http.h"

#include <keel/artifacts.h>
#include <keel/store.h>

#include <pthread.h>

typedef struct keel_api_app {
    char store_uri[4096];
    keel_cas *cas;                     /* immutable after open: shared by threads */
    struct keel_store_lock *write_lock;
    pthread_key_t store_key;           /* each pool thread's own store handle */
    /* SQLite: WAL checkpoints run on this thread, not inside requests. */
    pthread_t checkpointer;
    bool checkpointer_running;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    bool stopping;
    /* Pipelines (keel_pipelines.c): the keel home runs record into and the
     * pipeline file; empty when the server has none. */
    char home[4096];
    char pipeline_file[4096];
    /* Feature store (features_online.c): definitions read at start (the
     * server's --features, else features.yaml beside .keel) and the online
     * store; NULL when the server has none. Owned by the app. */
    struct keel_feature_repo *feature_repo;
    struct keel_online_store *online_store;
    pthread_mutex_t feature_push_lock;  /* offline appends to source CSVs */
} keel_api_app;

/* Opens the object store and prepares per-thread store handles (the store
 * is opened once here too, so a bad URI fails at startup). */
int keel_api_app_init(keel_api_app *app, const char *store_uri, const char *artifacts_root,
                      keel_err *err);
void keel_api_app_free(keel_api_app *app);

/* The route table for keel_http_config, and the fallbacks. */
extern const keel_http_route keel_api_routes[];
extern const size_t keel_api_n_routes;
int keel_api_not_found(keel_http_req *req, keel_http_resp *resp);
void keel_api_too_large(keel_http_req *req, keel_http_resp *resp, size_t limit);

/* GET /metrics: pipeline runs, feature freshness (keel_metrics.c). */
int keel_api_metrics(keel_http_req *req, keel_http_resp *resp);

/* keel's pipeline endpoints (keel_pipelines.c). */
int keel_api_pipeline_runs_post(keel_http_req *req, keel_http_resp *resp);
int keel_api_pipeline_runs_get(keel_http_req *req, keel_http_resp *resp);

/* The feature store's online endpoints (features_online.c). */
int keel_api_features_get_online(keel_http_req *req, keel_http_resp *resp);
int keel_api_features_push(keel_http_req *req, keel_http_resp *resp);
int keel_api_features_freshness(keel_http_req *req, keel_http_resp *resp);

/* ---- for handlers ---- */

/* The calling thread's store handle (opened on first use). NULL with an
 * error response already set when it cannot be opened. */
keel_store *api_store(keel_http_req *req, keel_http_resp *resp);

/* Parses the request message: the JSON body (an object; empty = {}) for
 * POST/PUT/PATCH, the query string for GET and DELETE. New reference, or
 * NULL with a 400 response set. */
json_t *api_request_message(keel_http_req *req, keel_http_resp *resp);

/* Answers with MLflow's error shape for a keel error code. Returns code. */
int api_error(keel_http_resp *resp, int code, const char *message);

/* Answers 200 with body (takes the reference). Empty repeated fields are
 * left out, as MLflow's protobuf JSON does. */
int api_ok(keel_http_resp *resp, json_t *body);

/* A field as a string: "run_id" falls back to "run_uuid". Errors become
 * responses (400 naming the field). */
int api_get_run_id(keel_http_resp *resp, const json_t *msg, const char **out);
int api_get_string(keel_http_resp *resp, const json_t *msg, const char *field, bool required,
                   const char **out);
int api_get_int64(keel_http_resp *resp, const json_t *msg, const char *field, bool required,
                  int64_t *out);
int api_get_experiment_id(keel_http_resp *resp, const json_t *msg, const char *field,
                          int64_t *out);

/* The start every REST handler shares: the request message in `msg`, the
 * thread's store in `s`, an error `err` and a result `rc`; returns early
 * (with the response already set) when either cannot be had. */
#define API_HANDLER_START                                   \
    json_t *msg = api_request_message(req, resp);           \
    if (msg == NULL)                                        \
        return KEEL_EINVAL;                                 \
    keel_store *s = api_store(req, resp);                   \
    if (s == NULL) {                                        \
        json_decref(msg);                                   \
        return KEEL_ESTORE;                                 \
    }                                                       \
    keel_err err = { 0 };                                   \
    int rc = KEEL_OK

/* The end: frees msg; on success answers 200 with body (taken), else the
 * error (unless a field check already answered). */
int api_finish(keel_http_resp *resp, json_t *msg, int rc, keel_err *err, json_t *body);

/* A repeated string field: a JSON list in a body; from a query string a name
 * given once arrives as one string. Arena array of borrowed strings. */
int api_string_list(keel_http_req *req, keel_http_resp *resp, const json_t *msg,
                    const char *field, const char ***out, size_t *out_n);

/* The fields every search endpoint takes: filter, max_results, page_token
 * and the repeated order_by. */
typedef struct api_search_args {
    const char *filter;
    int64_t max_results;
    const char *page_token;
    const char **order_by;
    size_t n_order_by;
} api_search_args;
int api_search_args_get(keel_http_req *req, keel_http_resp *resp, const json_t *msg,
                        api_search_args *out);

/* {field: items, "next_page_token": next (when not NULL)}; takes items. */
json_t *api_page(const char *field, json_t *items, const char *next_page_token);

/* Runs fn inside one write transaction (holding the process's write lock),
 * turning a failure into an error response. */
int api_write_begin(keel_store *s, keel_http_resp *resp);
int api_write_end(keel_store *s, keel_http_resp *resp, int rc, keel_err *err);

#endif
