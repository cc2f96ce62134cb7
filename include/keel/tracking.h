/*
 * keel/tracking.h — experiments, runs, params, metrics, tags, dataset inputs
 * and run search: the ML metadata store's C API.
 *
 * Semantics follow MLflow's tracking service so the REST layer can map 1:1:
 * experiment ids are integers shown as strings, run ids are 32 hex digits,
 * times are epoch milliseconds, a param cannot change once logged, metrics
 * are (key, value, timestamp, step) series with a latest value per key.
 *
 * Memory: every struct or string a call returns comes from the arena the
 * caller passes and lives until that arena is freed. Input strings are
 * borrowed for the duration of the call.
 */
#ifndef KEEL_TRACKING_H
#define KEEL_TRACKING_H

#include <keel/arena.h>
#include <keel/error.h>
#include <keel/store.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* MLflow's limits. */
#define KEEL_MAX_KEY_LEN         250
#define KEEL_MAX_PARAM_VALUE_LEN 6000
#define KEEL_MAX_TAG_VALUE_LEN   8000
#define KEEL_MAX_NAME_LEN        500
#define KEEL_BATCH_MAX_METRICS   1000
#define KEEL_BATCH_MAX_PARAMS    100
#define KEEL_BATCH_MAX_TAGS      100
#define KEEL_BATCH_MAX_TOTAL     1000
#define KEEL_SEARCH_MAX_RESULTS  50000
#define KEEL_SEARCH_DEFAULT_MAX  1000

/* Which lifecycle stages a list or search includes. */
enum keel_view_type { KEEL_VIEW_ACTIVE_ONLY, KEEL_VIEW_DELETED_ONLY, KEEL_VIEW_ALL };

/* Parses "ACTIVE_ONLY" | "DELETED_ONLY" | "ALL" (case-insensitive). */
int keel_view_type_parse(const char *s, enum keel_view_type *out, keel_err *err);

typedef struct keel_kv {
    const char *key;
    const char *value;
} keel_kv;

typedef struct keel_metric {
    const char *key;
    double value;        /* NaN and ±Inf accepted; ±Inf are stored as ±DBL_MAX, as MLflow does */
    int64_t timestamp;   /* epoch ms */
    int64_t step;
} keel_metric;

/* ---- experiments ---- */

typedef struct keel_experiment {
    int64_t experiment_id;
    const char *name;
    const char *artifact_location;
    const char *lifecycle_stage;   /* "active" | "deleted" */
    int64_t creation_time;
    int64_t last_update_time;
    keel_kv *tags;
    size_t n_tags;
} keel_experiment;

/* Creates an experiment. artifact_location may be NULL (keel picks
 * "mlflow-artifacts:/<id>"). KEEL_EEXIST when the name is taken (also by a
 * deleted experiment, as in MLflow). */
int keel_experiment_create(keel_store *s, const char *name, const char *artifact_location,
                           const keel_kv *tags, size_t n_tags, int64_t *out_id, keel_err *err);

int keel_experiment_get(keel_store *s, int64_t id, keel_arena *a, keel_experiment *out,
                        keel_err *err);
int keel_experiment_get_by_name(keel_store *s, const char *name, keel_arena *a,
                                keel_experiment *out, keel_err *err);

/* Resolves a user's experiment reference: an id ("12") or a name. */
int keel_experiment_resolve(keel_store *s, const char *id_or_name, int64_t *out_id,
                            keel_err *err);

typedef struct keel_experiment_search {
    enum keel_view_type view;
    const char *filter;       /* MLflow experiment filter (name, tags.*, times) or NULL */
    const char *const *order_by;  /* e.g. "name ASC", then ties by the next; none = last_update_time DESC */
    size_t n_order_by;
    int64_t max_results;      /* 0 = default (1000) */
    const char *page_token;   /* NULL for the first page */
} keel_experiment_search;

int keel_experiment_search_run(keel_store *s, const keel_experiment_search *q, keel_arena *a,
                               keel_experiment **out, size_t *out_n,
                               const char **out_next_page_token, keel_err *err);

int keel_experiment_rename(keel_store *s, int64_t id, const char *new_name, keel_err *err);
int keel_experiment_delete(keel_store *s, int64_t id, keel_err *err);
int keel_experiment_restore(keel_store *s, int64_t id, keel_err *err);
int keel_experiment_set_tag(keel_store *s, int64_t id, const char *key, const char *value,
                            keel_err *err);

/* ---- runs ---- */

typedef struct keel_run_info {
    const char *run_id;
    const char *run_name;
    int64_t experiment_id;
    const char *user_id;
    const char *status;           /* RUNNING SCHEDULED FINISHED FAILED KILLED */
    int64_t start_time;
    int64_t end_time;             /* 0 when not ended */
    const char *artifact_uri;
    const char *lifecycle_stage;
} keel_run_info;

typedef struct keel_dataset {
    const char *name;
    const char *digest;
    const char *source_type;      /* e.g. "local", "keel" */
    const char *source;           /* e.g. a path or a dataset URI */
    const char *schema;           /* JSON text or NULL */
    const char *profile;          /* JSON text or NULL */
} keel_dataset;

typedef struct keel_dataset_input {
    keel_dataset dataset;
    keel_kv *tags;                /* e.g. mlflow.data.context=training */
    size_t n_tags;
} keel_dataset_input;

typedef struct keel_run {
    keel_run_info info;
    keel_metric *metrics;         /* latest value per key */
    size_t n_metrics;
    keel_kv *params;
    size_t n_params;
    keel_kv *tags;
    size_t n_tags;
    keel_dataset_input *inputs;
    size_t n_inputs;
} keel_run;

typedef struct keel_run_create_opts {
    int64_t experiment_id;
    const char *run_name;         /* NULL: a generated name */
    const char *user_id;          /* NULL: $USER (the REST API passes "" as MLflow does) */
    int64_t start_time;           /* 0: now */
    const keel_kv *tags;
    size_t n_tags;
} keel_run_create_opts;

/* Creates a RUNNING run in an active experiment; its id (32 hex digits, from
 * arena a) goes to *out_run_id. The run's name is also its mlflow.runName tag
 * (a different name in both places is KEEL_EINVAL). */
int keel_run_create(keel_store *s, const keel_run_create_opts *opts, keel_arena *a,
                    const char **out_run_id, keel_err *err);

/* Full run: info, latest metrics, params, tags, inputs. */
int keel_run_get(keel_store *s, const char *run_id, keel_arena *a, keel_run *out,
                 keel_err *err);

/* Updates status (NULL = unchanged), end_time (0 = unchanged; ending statuses
 * without an end time get now) and run_name (NULL = unchanged). */
int keel_run_update(keel_store *s, const char *run_id, const char *status, int64_t end_time,
                    const char *run_name, keel_err *err);

/* KEEL_OK when the run exists and is active; KEEL_ENOTFOUND / KEEL_ESTATE
 * (deleted) otherwise. */
int keel_run_check_active(keel_store *s, const char *run_id, keel_err *err);

int keel_run_delete(keel_store *s, const char *run_id, keel_err *err);
int keel_run_restore(keel_store *s, const char *run_id, keel_err *err);

/* A param is immutable: the same key again with the same value is fine, with
 * another value KEEL_ECONFLICT naming both values. */
int keel_run_log_param(keel_store *s, const char *run_id, const char *key, const char *value,
                       keel_err *err);

/* timestamp 0 = now. */
int keel_run_log_metric(keel_store *s, const char *run_id, const char *key, double value,
                        int64_t timestamp, int64_t step, keel_err *err);

int keel_run_set_tag(keel_store *s, const char *run_id, const char *key, const char *value,
                     keel_err *err);
int keel_run_delete_tag(keel_store *s, const char *run_id, const char *key, keel_err *err);

/* Metrics, params and tags in one transaction: all are stored or none. Limits
 * as MLflow's (1000 metrics, 100 params, 100 tags, 1000 in all). */
int keel_run_log_batch(keel_store *s, const char *run_id, const keel_metric *metrics,
                       size_t n_metrics, const keel_kv *params, size_t n_params,
                       const keel_kv *tags, size_t n_tags, keel_err *err);

/* Records datasets as inputs of the run (deduplicated by name+digest within
 * the experiment). */
int keel_run_log_inputs(keel_store *s, const char *run_id, const keel_dataset_input *inputs,
                        size_t n_inputs, keel_err *err);

/* Every value logged for key, ordered by step then timestamp. max_results 0 =
 * all; page_token NULL for the first page; *out_next_page_token NULL when
 * there is no more. */
int keel_run_metric_history(keel_store *s, const char *run_id, const char *key,
                            int64_t max_results, const char *page_token, keel_arena *a,
                            keel_metric **out, size_t *out_n,
                            const char **out_next_page_token, keel_err *err);

/* Records the source code state: the git commit, branch and dirty flag of
 * the repository containing dir (as tags mlflow.source.git.commit,
 * mlflow.source.git.branch, keel.source.git.dirty). A dir outside any git
 * repository records nothing and succeeds. */
int keel_run_record_git(keel_store *s, const char *run_id, const char *dir, keel_err *err);

/* ---- search ---- */

typedef struct keel_run_search {
    const int64_t *experiment_ids;
    size_t n_experiment_ids;
    const char *filter;           /* MLflow filter string or NULL */
    const char *const *order_by;  /* e.g. "metrics.auc DESC" */
    size_t n_order_by;
    enum keel_view_type view;
    int64_t max_results;          /* 0 = 1000 */
    const char *page_token;       /* NULL for the first page */
} keel_run_search;

/* Runs matching q, full (as keel_run_get), in order; *out_next_page_token is
 * NULL on the last page. Filter errors are KEEL_EPARSE or KEEL_EINVAL with
 * the position and token. */
int keel_run_search_run(keel_store *s, const keel_run_search *q, keel_arena *a,
                        keel_run **out, size_t *out_n, const char **out_next_page_token,
                        keel_err *err);

/* ---- JSON in MLflow's REST shapes (new references; json_decref them) ---- */

struct json_t;

/* {"experiment_id": "1", "name", "artifact_location", "lifecycle_stage",
 *  "last_update_time", "creation_time", "tags": [{"key","value"}]} */
struct json_t *keel_experiment_to_json(const keel_experiment *e);

/* {"info": {...}, "data": {"metrics", "params", "tags"}, "inputs":
 *  {"dataset_inputs": [...]}}; NaN and infinities as "NaN"/"Infinity". */
struct json_t *keel_run_to_json(const keel_run *r);

/* {"key", "value", "timestamp", "step"} */
struct json_t *keel_metric_to_json(const keel_metric *m);

/* Writes a run's JSON (the shape of keel_run_to_json) straight into out,
 * without building a tree: the server's hot path for search and get. With
 * omit_empty, empty lists are left out as MLflow's protobuf JSON does.
 * keel_run_to_json is this text, parsed. */
struct keel_buf;
int keel_run_write_json(struct keel_buf *out, const keel_run *r, bool omit_empty);

/* ---- MLflow request messages into C structs (strings copied to arena a;
 * errors name the field and index, e.g. "metrics[3]: field 'value' …") ---- */

typedef struct keel_batch {
    keel_metric *metrics;
    size_t n_metrics;
    keel_kv *params;
    size_t n_params;
    keel_kv *tags;
    size_t n_tags;
} keel_batch;

/* {"metrics": [{key, value, timestamp, step}], "params": [{key, value}],
 * "tags": [{key, value}]}; absent lists are empty. Values may be numbers or
 * "NaN"/"Infinity"/"-Infinity"; int64 fields may be decimal strings. */
int keel_batch_from_json(const struct json_t *msg, keel_arena *a, keel_batch *out,
                         keel_err *err);

/* Decodes a log-batch body ({"run_id", "metrics", "params", "tags"}) of the
 * plain shape directly, without building a JSON tree. KEEL_OK with the
 * batch and *out_run_id (run_id, else run_uuid, else NULL) in arena a; any
 * other result means "not decoded here": decode with jansson and
 * keel_batch_from_json, which gives the same batch or the error message. */
int keel_batch_parse_fast(const char *body, size_t len, keel_arena *a, const char **out_run_id,
                          keel_batch *out);

/* A list of {key, value} objects under field (absent = empty). */
int keel_kv_list_from_json(const struct json_t *msg, const char *field, keel_arena *a,
                           keel_kv **out, size_t *out_n, keel_err *err);

/* MLflow's log-inputs "datasets": [{"tags": [...], "dataset": {name, digest,
 * source_type, source, schema, profile}}]. */
int keel_dataset_inputs_from_json(const struct json_t *msg, const char *field, keel_arena *a,
                                  keel_dataset_input **out, size_t *out_n, keel_err *err);

/* ---- validation shared with the REST layer ---- */

/* MLflow's rule for metric, param and tag keys: 1..250 chars of
 * [A-Za-z0-9_ .\-/:], not resolving outside (no "..", no leading "/"). */
int keel_validate_key(const char *what, const char *key, keel_err *err);

/* A run id: exactly 32 hex digits. */
int keel_validate_run_id(const char *run_id, keel_err *err);

#endif
