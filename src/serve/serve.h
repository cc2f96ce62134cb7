/*
 * serve.h — keel's model server: served models (reference-counted, swapped
 * atomically on hot reload), request decoding into feature matrices, the
 * prediction log and the metrics. Internal to src/serve/ and the CLI.
 */
#ifndef KEEL_SERVE_H
#define KEEL_SERVE_H

#include "http/http.h"
#include "serve_monitor.h"

#include <keel/buf.h>
#include <keel/data.h>
#include <keel/encode.h>
#include <keel/features.h>
#include <keel/model.h>
#include <keel/workspace.h>

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define SERVE_MAX_ROWS 10000
#define SERVE_MAX_BODY (16u << 20)
#define SERVE_LATENCY_BUCKETS 12

/* One loaded model version; immutable once loaded, freed by its last user. */
typedef struct served_model {
    atomic_int refs;
    char *name;
    int64_t version;              /* 0 for a model loaded from a path */
    char version_text[32];
    keel_model *runtime;
    keel_encoder *enc;            /* NULL: a bare XGBoost model (raw feature vectors) */
    json_t *manifest;             /* NULL for a bare model */
    const char *task;             /* "binary", "multiclass", "regression" or "unknown" */
    json_t *classes;              /* classification: the labels, borrowed from manifest */
    enum keel_col_type *input_types;  /* per encoder column */
    model_monitor *mon;           /* NULL without a reference profile or with --no-monitor */
} served_model;

/* Loads ref: "NAME@ALIAS", "models:/NAME/VERSION", "models:/NAME@ALIAS", a
 * bundle directory (keel.json + model.json) or an XGBoost model.json file.
 * *out has one reference. */
int served_model_load(keel_workspace *ws, const char *ref, served_model **out, keel_err *err);
void served_model_release(served_model *m);

/* Requests answered by one version of a slot's model. The last of the
 * SERVE_VERSION_COUNTERS entries is shared by versions past the others,
 * under the label "other". Entries are filled under the slot's lock and
 * published by n_versions, so readers need no lock. */
#define SERVE_VERSION_COUNTERS 16
typedef struct version_counter {
    char version[32];
    atomic_uint_fast64_t ok, client_errors, server_errors;
} version_counter;

/* A name the server answers to, with the model behind it now. */
typedef struct model_slot {
    char *name;                   /* route name */
    char *ref;                    /* what to load */
    bool follows_alias;           /* reload when the alias moves */
    pthread_mutex_t lock;
    served_model *current;
    served_model *canary;         /* gets canary_percent of requests */
    char *canary_ref;
    int canary_percent;
    served_model *shadow;         /* sees copies; answers only logged */
    char *shadow_ref;
    atomic_uint_fast64_t counter;
    /* metrics */
    atomic_uint_fast64_t ok, client_errors, server_errors;
    atomic_uint_fast64_t latency_buckets[SERVE_LATENCY_BUCKETS + 1];
    atomic_uint_fast64_t latency_sum_us;
    atomic_uint_fast64_t reloads, reload_failures;
    version_counter versions[SERVE_VERSION_COUNTERS];
    atomic_size_t n_versions;
} model_slot;

/* Takes a reference to the slot's current model (or its canary, for that
 * share of requests): release it when done. role says which. */
served_model *slot_acquire(model_slot *slot, const char **role);
served_model *slot_acquire_shadow(model_slot *slot);
/* References to the versions that answer requests now: out[0] the current
 * one, out[1] the canary (NULL when none). Release both. */
void slot_acquire_answering(model_slot *slot, served_model *out[2]);

/* ---- prediction log ---- */

typedef struct prediction_log prediction_log;

/* Appends JSON lines to dir/<model>.jsonl from a writer thread; at most
 * capacity records wait, more are dropped and counted. sample in (0, 1]. */
int prediction_log_open(const char *dir, size_t capacity, double sample, prediction_log **out,
                        keel_err *err);
/* Takes the line (heap string) unless it is dropped (then it is freed). */
void prediction_log_push(prediction_log *log, const char *model, char *line);
bool prediction_log_sampled(prediction_log *log);
uint64_t prediction_log_dropped(const prediction_log *log);
uint64_t prediction_log_written(const prediction_log *log);
void prediction_log_close(prediction_log *log);

/* ---- delayed labels (serve_feedback.c) ---- */

typedef struct feedback_table feedback_table;
int feedback_table_new(size_t capacity, int64_t ttl_ms, feedback_table **out, keel_err *err);
void feedback_table_free(feedback_table *t);
/* Remembers request id → (slot, version m, its predictions n x k). */
void feedback_remember(feedback_table *t, const char *id, size_t slot, served_model *m,
                       const float *out, size_t n, size_t k);
int serve_feedback(keel_http_req *req, keel_http_resp *resp);

/* ---- alert rules (serve_rules.c) ---- */

typedef struct serve_rules serve_rules;
struct serve_app;
/* Reads a rules file; models and measures are checked against the served
 * slots; errors are file:line:column. */
int serve_rules_load(const char *path, const struct serve_app *app, serve_rules **out,
                     keel_err *err);
/* The same from bytes in memory (tests, the fuzz target); path names the
 * file in messages and anchors `pipelines:`. */
int serve_rules_parse(const char *path, const char *text, size_t len,
                      const struct serve_app *app, serve_rules **out, keel_err *err);
void serve_rules_free(serve_rules *r);
/* Evaluates the rules of slot after a closed window of its primary model. */
struct keel_store;
void serve_rules_evaluate(struct serve_app *app, struct keel_store *store, size_t slot,
                          served_model *m);
/* Prometheus lines for the rules (keel_alert_firing). */
void serve_rules_metrics(const serve_rules *r, keel_buf *b);

/* ---- the server ---- */

typedef struct serve_app {
    keel_workspace *ws;           /* for loading; used by the reload thread only */
    char store_uri[4096];
    model_slot *slots;
    size_t n_slots;
    prediction_log *log;
    int max_in_flight;
    atomic_int in_flight;
    atomic_uint_fast64_t rejected_busy;
    int poll_ms;
    pthread_t watcher;
    bool watching;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    bool stopping;
    int64_t started_ms;
    /* monitoring */
    bool monitor;                 /* windows and drift on (default) */
    int64_t window_ms;
    uint64_t window_rows, min_rows;
    feedback_table *feedback;
    prediction_log *feedback_log;
    atomic_uint_fast64_t feedback_joined, feedback_unknown, feedback_expired, feedback_invalid;
    serve_rules *rules;
    char home[4096];              /* the keel home, for pipeline triggers */
    pthread_t monitor_thread;
    bool monitoring;
    /* request enrichment from the online feature store (serve_enrich.c) */
    keel_feature_repo *feature_repo;
    keel_online_store *online;
    const keel_feature_ref *enrich_refs;
    size_t n_enrich;
    const char **enrich_columns;  /* view__feature, as in training sets */
    const char **enrich_keys;     /* the join keys the service's views need */
    size_t n_enrich_keys;
} serve_app;

/* Decoded request rows as the model's feature matrix. */
typedef struct feature_rows {
    float *x;                     /* n x width, arena */
    size_t n;
    size_t width;
    json_t *records;              /* what the request sent, for the log (borrowed) */
    bool body_is_records;         /* no tree: the raw body is the JSON to log */
    size_t unseen, bad;
} feature_rows;

/* MLflow scoring bodies: dataframe_split, dataframe_records, instances,
 * inputs (JSON), or CSV text when csv is true. Errors name the column/row. */
int decode_invocations(const served_model *m, const char *body, size_t len, bool csv,
                       keel_arena *a, feature_rows *out, json_t **out_doc, keel_err *err);
/* The plain {"dataframe_records": [...]} body decoded without a JSON tree;
 * false means "not decoded here" (use decode_invocations, which gives the
 * same rows or the error). out->records stays NULL. */
bool decode_records_fast(const served_model *m, const char *body, size_t len, keel_arena *a,
                         feature_rows *out);

/* OIP v2 infer request body. */
int decode_oip(const served_model *m, const char *body, size_t len, keel_arena *a,
               feature_rows *out, json_t **out_doc, keel_err *err);

/* Routes and handlers (serve_http.c). */
extern const keel_http_route serve_routes[];
extern const size_t serve_n_routes;
int serve_not_found(keel_http_req *req, keel_http_resp *resp);
void serve_too_large(keel_http_req *req, keel_http_resp *resp, size_t limit);

/* Enrichment: loads the feature service and opens the online store
 * (store_uri NULL = KEEL_ONLINE_STORE or the home's LMDB). */
int serve_enrich_setup(serve_app *app, const char *features_file, const char *service,
                       const char *store_uri, keel_err *err);
void serve_enrich_free(serve_app *app);
/* The request body with the service's features added to each of its
 * dataframe_records (arena copy), or the body as it was. */
int serve_enrich(serve_app *app, keel_http_req *req, const char **out_body, size_t *out_len,
                 keel_err *err);

/* The server's background threads wait with this: up to ms, or until the
 * server stops (false then). serve_request_stop wakes them all. */
bool serve_sleep(serve_app *app, int ms);
void serve_request_stop(serve_app *app);

/* The monitor thread: closes windows, stores measures, runs the rules. */
int serve_monitor_start(serve_app *app, keel_err *err);
void serve_monitor_stop(serve_app *app);
/* Prometheus lines for drift, performance and feedback. */
void serve_monitor_metrics(serve_app *app, keel_buf *b);

/* Starts the thread that reloads alias-following slots every poll_ms. */
int serve_watch_start(serve_app *app, keel_err *err);
void serve_watch_stop(serve_app *app);

#endif
