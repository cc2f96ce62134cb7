/*
 * trainer.c — `keel train xgboost`: versioned data in, an evaluated,
 * reproducible model bundle out, everything recorded on a run.
 *
 * Order of work: load and split the data, fit the target map and the
 * encoders on the training rows only, build XGBoost matrices, boost with
 * early stopping on the held-out rows (logging every round), keep the best
 * rounds, evaluate with keel's own metrics, write the bundle (model.json +
 * keel.json) and log it. A failure after the run exists ends it FAILED with
 * the reason as a tag, so no run is left RUNNING.
 */
#include "train_internal.h"
#include "xgb.h"

#include <keel/dataset.h>
#include <keel/json.h>
#include <keel/util.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_ROUNDS 500
#define DEFAULT_EARLY_STOPPING 30
#define METRIC_FLUSH 900

typedef struct job {
    keel_workspace *ws;
    const keel_train_opts *o;
    keel_arena *a;
    keel_err *err;
    keel_frame *frame;
    keel_frame *valid_frame;
    keel_dataset_version data_meta, valid_meta;
    size_t *train_rows, *test_rows;
    size_t n_train, n_test;
    target_map target;
    keel_encoder *enc;
    DMatrixHandle dtrain, dtest;
    BoosterHandle booster, best;
    const char *run_id;
    keel_metric pending[METRIC_FLUSH + 8];
    size_t n_pending;
    const char *eval_metric;
    bool maximize;
    int64_t best_round;
    double best_score;
    json_t *params_json;
    json_t *prediction_profile;   /* the test predictions' distribution, for monitoring */
} job;

static const char *objective_for(const target_map *t)
{
    static const char *const by_task[] = { "binary:logistic", "multi:softprob",
                                           "reg:squarederror" };
    return by_task[t->task];
}

static const char *default_metric(enum keel_task task)
{
    static const char *const by_task[] = { "logloss", "mlogloss", "rmse" };
    return by_task[task];
}

static bool metric_maximizes(const char *name)
{
    static const char *const up[] = { "auc", "aucpr", "ndcg", "map", "pre" };
    for (size_t i = 0; i < sizeof up / sizeof up[0]; i++)
        if (strncmp(name, up[i], strlen(up[i])) == 0)
            return true;
    return false;
}

static int load_data(job *j)
{
    const keel_train_opts *o = j->o;
    int rc = keel_dataset_load(j->ws, o->data, j->a, &j->frame, &j->data_meta, j->err);
    if (rc != KEEL_OK)
        return rc;
    if (j->frame->n_rows == 0)
        return keel_errf(j->err, KEEL_EINVAL, "%s has no rows", o->data);
    if (o->valid != NULL) {
        rc = keel_dataset_load(j->ws, o->valid, j->a, &j->valid_frame, &j->valid_meta, j->err);
        if (rc == KEEL_OK && j->valid_frame->n_rows == 0)
            rc = keel_errf(j->err, KEEL_EINVAL, "%s has no rows", o->valid);
        if (rc != KEEL_OK)
            return rc;
        j->n_train = j->frame->n_rows;
        j->n_test = j->valid_frame->n_rows;
        j->train_rows = keel_arena_alloc(j->a, (j->n_train + 1) * sizeof(size_t));
        j->test_rows = keel_arena_alloc(j->a, (j->n_test + 1) * sizeof(size_t));
        if (j->train_rows == NULL || j->test_rows == NULL)
            return keel_errf(j->err, KEEL_ENOMEM, "out of memory");
        for (size_t i = 0; i < j->n_train; i++)
            j->train_rows[i] = i;
        for (size_t i = 0; i < j->n_test; i++)
            j->test_rows[i] = i;
        return KEEL_OK;
    }
    keel_split_spec spec;
    const char *split = o->split != NULL
                            ? o->split
                            : keel_arena_sprintf(j->a, "random:0.2:%llu",
                                                 (unsigned long long)(o->seed ? o->seed : 42));
    rc = keel_split_parse(split, j->a, &spec, j->err);
    if (rc == KEEL_OK)
        rc = keel_split_apply(j->frame, &spec, j->a, &j->train_rows, &j->n_train, &j->test_rows,
                              &j->n_test, j->err);
    return rc;
}

/* Drops rows whose label is missing; returns the labels of the rest. */
static float *labels_for(job *j, const keel_frame *f, size_t *rows, size_t *n)
{
    float *labels = keel_arena_alloc(j->a, (*n + 1) * sizeof *labels);
    if (labels == NULL)
        return NULL;
    target_map_labels(&j->target, f, rows, *n, labels);
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++) {
        if (isnan(labels[i]))
            continue;
        rows[kept] = rows[i];
        labels[kept++] = labels[i];
    }
    *n = kept;
    return labels;
}

static int build_matrix(job *j, const keel_frame *f, const size_t *rows, size_t n,
                        const float *labels, DMatrixHandle *out)
{
    size_t width = j->enc->n_features;
    float *x = malloc((n * width + 1) * sizeof *x);
    if (x == NULL)
        return keel_errf(j->err, KEEL_ENOMEM, "out of memory for a %zu x %zu matrix", n, width);
    int rc = keel_encoder_transform(j->enc, f, rows, n, x, NULL, j->err);
    if (rc == KEEL_OK)
        rc = xgb_matrix(x, n, width, labels, j->enc->feature_names, out, j->err);
    free(x);
    return rc;
}

static int prepare(job *j)
{
    const keel_train_opts *o = j->o;
    int rc = target_map_fit(j->frame, j->train_rows, j->n_train, o->target, o->objective,
                            o->positive, j->a, &j->target, j->err);
    if (rc != KEEL_OK)
        return rc;
    const keel_frame *test_frame = j->valid_frame != NULL ? j->valid_frame : j->frame;
    float *train_labels = labels_for(j, j->frame, j->train_rows, &j->n_train);
    float *test_labels = labels_for(j, test_frame, j->test_rows, &j->n_test);
    if (train_labels == NULL || test_labels == NULL)
        return keel_errf(j->err, KEEL_ENOMEM, "out of memory");
    if (j->n_train == 0 || j->n_test == 0)
        return keel_errf(j->err, KEEL_EINVAL, "after dropping rows without a target there are "
                         "%zu training and %zu test rows", j->n_train, j->n_test);
    /* Features: every column but the target, the dropped ones and a split column. */
    const char **exclude = keel_arena_alloc(j->a, (o->n_drop + 3) * sizeof(char *));
    size_t n_exclude = 0;
    exclude[n_exclude++] = o->target;
    for (size_t i = 0; i < o->n_drop; i++) {
        if (keel_frame_column(j->frame, o->drop[i]) == NULL)
            return keel_errf(j->err, KEEL_EINVAL, "--drop: the data has no column '%s'",
                             o->drop[i]);
        exclude[n_exclude++] = o->drop[i];
    }
    if (o->split != NULL && strncmp(o->split, "column:", 7) == 0) {
        keel_split_spec spec;
        if (keel_split_parse(o->split, j->a, &spec, j->err) == KEEL_OK)
            exclude[n_exclude++] = spec.column;
    }
    for (size_t i = 0; i < j->frame->n_cols; i++) {
        const keel_column *c = &j->frame->cols[i];
        bool excluded = false;   /* the target, --drop columns, a split column */
        for (size_t k = 0; k < n_exclude && !excluded; k++)
            excluded = strcmp(c->name, exclude[k]) == 0;
        if (c->n_missing == j->frame->n_rows && !excluded)
            return keel_errf(j->err, KEEL_EINVAL, "column '%s' is missing in every row; drop it "
                             "with --drop %s", c->name, c->name);
    }
    rc = keel_encoder_fit(j->frame, j->train_rows, j->n_train, exclude, n_exclude,
                          o->max_onehot ? o->max_onehot : KEEL_DEFAULT_MAX_ONEHOT, &j->enc,
                          j->err);
    if (rc == KEEL_OK)
        rc = build_matrix(j, j->frame, j->train_rows, j->n_train, train_labels, &j->dtrain);
    if (rc == KEEL_OK)
        rc = build_matrix(j, test_frame, j->test_rows, j->n_test, test_labels, &j->dtest);
    return rc;
}

static int set_params(job *j)
{
    const keel_train_opts *o = j->o;
    char seed[32], threads[16], classes[16];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)(o->seed ? o->seed : 42));
    /* Below about 8M matrix cells, one thread is as fast as two here (the
     * per-round synchronisation costs what the second core gains: adult
     * 1.81 s vs 2.11 s, credit_default 0.45 s vs 0.59 s), and it never
     * competes with other processes. Larger data gets every core. */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int by_size = (double)j->n_train * (double)j->enc->n_features < 8e6 ? 1
                  : (int)(cores > 0 ? cores : 1);
    snprintf(threads, sizeof threads, "%d", o->threads > 0 ? o->threads : by_size);
    snprintf(classes, sizeof classes, "%zu", j->target.n_classes);
    const char *objective = o->objective != NULL ? o->objective : objective_for(&j->target);
    /* keel's defaults, then the user's parameters over them. */
    const keel_kv defaults[] = {
        { "objective", objective }, { "tree_method", "hist" }, { "max_depth", "6" },
        { "eta", "0.1" }, { "seed", seed }, { "nthread", threads },
        { "eval_metric", default_metric(j->target.task) }, { "validate_parameters", "1" },
    };
    j->params_json = json_object();
    int rc = KEEL_OK;
    for (size_t i = 0; rc == KEEL_OK && i < sizeof defaults / sizeof defaults[0]; i++) {
        bool overridden = false;
        for (size_t k = 0; k < o->n_params; k++)
            overridden |= strcmp(o->params[k].key, defaults[i].key) == 0;
        if (!overridden) {
            rc = xgb_set(j->booster, defaults[i].key, defaults[i].value, j->err);
            json_object_set_new(j->params_json, defaults[i].key, json_string(defaults[i].value));
        }
    }
    if (rc == KEEL_OK && j->target.task == KEEL_TASK_MULTICLASS) {
        rc = xgb_set(j->booster, "num_class", classes, j->err);
        json_object_set_new(j->params_json, "num_class", json_string(classes));
    }
    j->eval_metric = default_metric(j->target.task);
    for (size_t k = 0; rc == KEEL_OK && k < o->n_params; k++) {
        rc = xgb_set(j->booster, o->params[k].key, o->params[k].value, j->err);
        json_object_set_new(j->params_json, o->params[k].key, json_string(o->params[k].value));
        if (strcmp(o->params[k].key, "eval_metric") == 0)
            j->eval_metric = keel_arena_strdup(j->a, o->params[k].value);
    }
    j->maximize = metric_maximizes(j->eval_metric);
    return rc;
}

static int flush_metrics(job *j)
{
    if (j->n_pending == 0)
        return KEEL_OK;
    int rc = keel_run_log_batch(j->ws->store, j->run_id, j->pending, j->n_pending, NULL, 0,
                                NULL, 0, j->err);
    j->n_pending = 0;
    return rc;
}

/* "[3]\ttrain-logloss:0.41\tvalid-logloss:0.44": queues each value as a
 * metric step; returns the last valid-* value (XGBoost's early-stopping
 * convention: the last metric on the last matrix). */
static int record_round(job *j, int round, const char *text, double *out_score)
{
    *out_score = NAN;
    const char *p = strchr(text, '\t');
    while (p != NULL) {
        p++;
        const char *colon = strchr(p, ':');
        const char *tab = strchr(p, '\t');
        if (colon == NULL || (tab != NULL && colon > tab))
            break;
        char name[96];
        size_t n = (size_t)(colon - p);
        if (n >= sizeof name)
            n = sizeof name - 1;
        memcpy(name, p, n);
        name[n] = '\0';
        for (char *c = name; *c != '\0'; c++)
            if (*c == '-' || *c == '@')
                *c = '_';
        double v = strtod(colon + 1, NULL);
        if (strncmp(name, "valid_", 6) == 0)
            *out_score = v;
        j->pending[j->n_pending++] = (keel_metric){ keel_arena_strdup(j->a, name), v, 0, round };
        p = tab;
    }
    return j->n_pending >= METRIC_FLUSH ? flush_metrics(j) : KEEL_OK;
}

static int boost(job *j)
{
    const keel_train_opts *o = j->o;
    int64_t rounds = o->rounds > 0 ? o->rounds : DEFAULT_ROUNDS;
    int64_t patience = o->early_stopping == 0 ? DEFAULT_EARLY_STOPPING : o->early_stopping;
    DMatrixHandle mats[2] = { j->dtrain, j->dtest };
    const char *names[2] = { "train", "valid" };
    j->best_round = 0;
    j->best_score = j->maximize ? -INFINITY : INFINITY;
    for (int64_t r = 0; r < rounds; r++) {
        int rc = xgb_update(j->booster, (int)r, j->dtrain, j->err);
        const char *text = NULL;
        if (rc == KEEL_OK)
            rc = xgb_eval(j->booster, (int)r, mats, names, 2, &text, j->err);
        double score = NAN;
        if (rc == KEEL_OK)
            rc = record_round(j, (int)r, text, &score);
        if (rc != KEEL_OK)
            return rc;
        bool better = j->maximize ? score > j->best_score : score < j->best_score;
        if (better || isnan(j->best_score)) {
            j->best_score = score;
            j->best_round = r + 1;
        }
        if (!o->quiet && (r % 50 == 0 || r + 1 == rounds))
            fprintf(stderr, "keel train: round %lld  %s\n", (long long)r, text);
        if (patience > 0 && r + 1 - j->best_round >= patience) {
            if (!o->quiet)
                fprintf(stderr, "keel train: stopping at round %lld; best round %lld "
                        "(valid %s %.6g)\n", (long long)r, (long long)j->best_round - 1,
                        j->eval_metric, j->best_score);
            break;
        }
    }
    int rc = flush_metrics(j);
    /* Without early stopping every round is kept, as asked for. */
    if (patience <= 0)
        j->best_round = rounds;
    if (rc == KEEL_OK)
        rc = xgb_slice(j->booster, (int)j->best_round, &j->best, j->err);
    return rc;
}

/* Writes model.json, keel.json and feature_importance.json into dir. */
static int write_bundle(job *j, const char *dir, const keel_eval *eval, char *out_sha)
{
    const char *model = NULL;
    size_t model_len = 0;
    int rc = xgb_save_json(j->best, &model, &model_len, j->err);
    char path[4096 + 64];
    if (rc == KEEL_OK) {
        snprintf(path, sizeof path, "%s/model.json", dir);
        rc = keel_write_file_atomic(path, model, model_len, j->err);
    }
    if (rc == KEEL_OK)
        rc = keel_sha256_hex(model, model_len, out_sha, j->err);
    if (rc != KEEL_OK)
        return rc;

    json_t *metrics = json_object();
    const char *keys[8];
    double values[8];
    size_t n = keel_eval_metrics(eval, keys, values);
    for (size_t i = 0; i < n; i++)
        json_object_set_new(metrics, keys[i], keel_json_double(values[i]));
    json_t *inputs = json_array();
    const keel_frame *f = j->frame;
    /* The reference profile covers what monitoring will see: inputs and target. */
    const char **profiled = keel_arena_alloc(j->a, (j->enc->n_cols + 1) * sizeof(char *));
    size_t n_profiled = 0;
    for (size_t c = 0; profiled != NULL && c < j->enc->n_cols; c++)
        profiled[n_profiled++] = j->enc->cols[c].column;
    if (profiled != NULL)
        profiled[n_profiled++] = j->o->target;
    for (size_t c = 0; c < j->enc->n_cols; c++) {
        const keel_column *col = keel_frame_column(f, j->enc->cols[c].column);
        json_array_append_new(inputs, json_pack("{s:s, s:s}", "name", col->name, "type",
                                                keel_col_type_name(col->type)));
    }
    json_t *datasets = json_array();
    json_array_append_new(datasets, json_pack("{s:s, s:s, s:I, s:s}", "name", j->data_meta.name,
                                              "digest", j->data_meta.digest, "version",
                                              (json_int_t)j->data_meta.version, "role", "training"));
    if (j->valid_frame != NULL)
        json_array_append_new(datasets, json_pack("{s:s, s:s, s:I, s:s}", "name",
                                                  j->valid_meta.name, "digest",
                                                  j->valid_meta.digest, "version",
                                                  (json_int_t)j->valid_meta.version, "role",
                                                  "validation"));
    json_t *manifest = json_pack(
        "{s:s, s:s, s:s, s:s, s:o, s:o, s:O, s:I, s:{s:o}, s:o, s:o, s:o, s:s, s:I}",
        "format", "keel-bundle/1", "keel_version", KEEL_VERSION, "flavor", "xgboost",
        "model_file", "model.json", "task", json_string(keel_task_name(j->target.task)),
        "target", target_map_to_json(&j->target), "params", j->params_json, "best_round",
        (json_int_t)j->best_round, "signature", "inputs", inputs, "encoder",
        keel_encoder_to_json(j->enc), "reference_profile",
        keel_frame_profile_columns(f, j->train_rows, j->n_train, profiled, n_profiled), "metrics",
        metrics, "model_sha256",
        out_sha, "created_time", (json_int_t)keel_now_ms());
    json_object_set_new(manifest, "datasets", datasets);
    if (j->prediction_profile != NULL)
        json_object_set(manifest, "prediction_profile", j->prediction_profile);
    char *text = keel_json_dumps(manifest, true);
    json_decref(manifest);
    snprintf(path, sizeof path, "%s/keel.json", dir);
    rc = text != NULL ? keel_write_file_atomic(path, text, strlen(text), j->err)
                      : keel_errf(j->err, KEEL_ENOMEM, "out of memory");
    free(text);
    if (rc != KEEL_OK)
        return rc;

    bst_ulong n_feat = 0, dim = 0;
    const char **feat = NULL;
    const bst_ulong *shape = NULL;
    const float *scores = NULL;
    json_t *importance = json_object();
    if (XGBoosterFeatureScore(j->best, "{\"importance_type\": \"gain\"}", &n_feat, &feat, &dim,
                              &shape, &scores) == 0) {
        for (bst_ulong i = 0; i < n_feat; i++)
            json_object_set_new(importance, feat[i], keel_json_double(scores[i]));
    }
    text = keel_json_dumps(importance, true);
    json_decref(importance);
    snprintf(path, sizeof path, "%s/feature_importance.json", dir);
    rc = keel_write_file_atomic(path, text, strlen(text), j->err);
    free(text);
    return rc;
}

static int log_run_start(job *j)
{
    const keel_train_opts *o = j->o;
    keel_run_create_opts ro = { 0 };
    int rc = keel_experiment_resolve(j->ws->store, o->experiment != NULL ? o->experiment : "0",
                                     &ro.experiment_id, j->err);
    if (rc == KEEL_ENOTFOUND && o->experiment != NULL)
        rc = keel_experiment_create(j->ws->store, o->experiment, NULL, NULL, 0,
                                    &ro.experiment_id, j->err);
    if (rc != KEEL_OK)
        return rc;
    ro.run_name = o->run_name;
    keel_kv tags[] = { { "keel.trainer", "xgboost" }, { "mlflow.source.type", "LOCAL" },
                       { "mlflow.parentRunId", o->parent_run_id } };
    ro.tags = tags;
    ro.n_tags = o->parent_run_id != NULL && o->parent_run_id[0] != '\0' ? 3 : 2;
    rc = keel_run_create(j->ws->store, &ro, j->a, &j->run_id, j->err);
    if (rc != KEEL_OK)
        return rc;
    char cwd[4096];
    const char *dir = o->source_dir != NULL ? o->source_dir : getcwd(cwd, sizeof cwd);
    keel_err ignored;
    if (dir != NULL)
        keel_run_record_git(j->ws->store, j->run_id, dir, &ignored);
    return KEEL_OK;
}

static int log_inputs(job *j)
{
    keel_kv train_ctx = { "mlflow.data.context", "training" };
    keel_kv valid_ctx = { "mlflow.data.context", "validation" };
    keel_dataset_input in[2];
    size_t n = 0;
    const keel_dataset_version *metas[2] = { &j->data_meta, &j->valid_meta };
    for (size_t i = 0; i < (j->valid_frame != NULL ? 2u : 1u); i++) {
        in[n] = (keel_dataset_input){
            .dataset = { .name = metas[i]->name, .digest = metas[i]->digest,
                         .source_type = metas[i]->version > 0 ? "keel" : "local",
                         .source = metas[i]->version > 0
                                       ? keel_arena_sprintf(j->a, "%s@%lld", metas[i]->name,
                                                            (long long)metas[i]->version)
                                       : metas[i]->source },
            .tags = i == 0 ? &train_ctx : &valid_ctx, .n_tags = 1 };
        n++;
    }
    return keel_run_log_inputs(j->ws->store, j->run_id, in, n, j->err);
}

static int log_results(job *j, const keel_eval *eval, const char *sha)
{
    const keel_train_opts *o = j->o;
    keel_kv params[64];
    size_t n_params = 0;
    const char *key;
    json_t *value;
    json_object_foreach(j->params_json, key, value) {
        if (n_params < 50)
            params[n_params++] = (keel_kv){ key, json_string_value(value) };
    }
    params[n_params++] = (keel_kv){ "target", o->target };
    params[n_params++] = (keel_kv){ "task", keel_task_name(j->target.task) };
    params[n_params++] = (keel_kv){ "split", o->valid != NULL ? "separate validation data"
                                             : o->split != NULL ? o->split : "random:0.2" };
    params[n_params++] = (keel_kv){ "data", o->data };
    params[n_params++] = (keel_kv){ "rounds", keel_arena_sprintf(j->a, "%lld",
                                        (long long)(o->rounds > 0 ? o->rounds : DEFAULT_ROUNDS)) };
    keel_metric metrics[16];
    size_t n_metrics = 0;
    const char *keys[8];
    double values[8];
    size_t n = keel_eval_metrics(eval, keys, values);
    for (size_t i = 0; i < n; i++)
        metrics[n_metrics++] = (keel_metric){ keel_arena_sprintf(j->a, "test_%s", keys[i]),
                                              values[i], 0, j->best_round };
    metrics[n_metrics++] = (keel_metric){ "best_round", (double)j->best_round, 0, 0 };
    metrics[n_metrics++] = (keel_metric){ "n_train", (double)j->n_train, 0, 0 };
    metrics[n_metrics++] = (keel_metric){ "n_test", (double)j->n_test, 0, 0 };
    keel_kv tags[] = { { "keel.model_sha256", sha }, { "keel.task", keel_task_name(j->target.task) } };
    return keel_run_log_batch(j->ws->store, j->run_id, metrics, n_metrics, params, n_params, tags,
                              2, j->err);
}

static void job_free(job *j)
{
    if (j->best != NULL)
        XGBoosterFree(j->best);
    if (j->booster != NULL)
        XGBoosterFree(j->booster);
    if (j->dtrain != NULL)
        XGDMatrixFree(j->dtrain);
    if (j->dtest != NULL)
        XGDMatrixFree(j->dtest);
    keel_encoder_destroy(j->enc);
    keel_frame_destroy(j->frame);
    keel_frame_destroy(j->valid_frame);
    json_decref(j->params_json);
    json_decref(j->prediction_profile);
}

static double seconds_now(void)
{
    return (double)keel_monotonic_ns() / 1e9;
}

/* Seconds since *t0, which moves to now. */
static double lap(double *t0)
{
    double now = seconds_now(), d = now - *t0;
    *t0 = now;
    return d;
}

int keel_train_xgboost(keel_workspace *ws, const keel_train_opts *o, keel_arena *a,
                       keel_train_result *out, keel_err *err)
{
    if (o->data == NULL || o->target == NULL)
        return keel_errf(err, KEEL_EINVAL, "training needs --data and --target");
    if (o->valid != NULL && o->split != NULL)
        return keel_errf(err, KEEL_EINVAL, "give either --valid or --split, not both");
    job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    *j = (job){ .ws = ws, .o = o, .a = a, .err = err };
    double t_data = 0, t_train = 0, t_eval = 0, t_record = 0, t0 = seconds_now();
    int rc = load_data(j);
    if (rc == KEEL_OK)
        rc = prepare(j);
    t_data = lap(&t0);
    if (rc == KEEL_OK) {
        DMatrixHandle cache[2] = { j->dtrain, j->dtest };
        rc = xgb_booster(cache, 2, &j->booster, err);
        /* The C API, unlike XGBoost's Python package, does not give the
         * booster the matrix's feature names; without them model.json and
         * the importances would name features f0, f1, … */
        if (rc == KEEL_OK &&
            XGBoosterSetStrFeatureInfo(j->booster, "feature_name",
                                       (const char **)j->enc->feature_names,
                                       (bst_ulong)j->enc->n_features) != 0)
            rc = keel_errf(err, KEEL_EINTERNAL, "xgboost: cannot set feature names: %s",
                           XGBGetLastError());
    }
    if (rc == KEEL_OK)
        rc = set_params(j);
    t_train = lap(&t0);
    if (rc == KEEL_OK)
        rc = log_run_start(j);
    bool run_open = rc == KEEL_OK;
    if (rc == KEEL_OK)
        rc = log_inputs(j);
    t_record = lap(&t0);
    if (rc == KEEL_OK)
        rc = boost(j);
    t_train += lap(&t0);

    keel_eval eval = { 0 };
    char sha[KEEL_SHA256_HEX_LEN + 1] = "";
    char dir[4096];
    bool have_dir = false;
    if (rc == KEEL_OK) {
        const float *pred = NULL;
        size_t len = 0;
        float *labels = keel_arena_alloc(a, (j->n_test + 1) * sizeof *labels);
        rc = xgb_predict(j->best, j->dtest, &pred, &len, err);
        if (rc == KEEL_OK && labels != NULL) {
            const keel_frame *tf = j->valid_frame != NULL ? j->valid_frame : j->frame;
            target_map_labels(&j->target, tf, j->test_rows, j->n_test, labels);
            rc = evaluate_predictions(j->target.task, labels, pred, j->n_test,
                                      j->target.n_classes, &eval, err);
        }
        /* One output per row (binary probability, regression value): its
         * distribution is the reference for prediction drift. */
        double *values = rc == KEEL_OK && len == j->n_test
                             ? keel_arena_alloc(a, (len + 1) * sizeof *values) : NULL;
        for (size_t i = 0; values != NULL && i < len; i++)
            values[i] = pred[i];
        if (values != NULL)
            j->prediction_profile = keel_profile_values(values, len);
    }
    t_eval = lap(&t0);
    if (rc == KEEL_OK) {
        rc = keel_make_temp_dir("keel-bundle", dir, sizeof dir, err);
        have_dir = rc == KEEL_OK;
        if (rc == KEEL_OK)
            rc = write_bundle(j, dir, &eval, sha);
    }
    if (rc == KEEL_OK)
        rc = keel_artifacts_log(ws->store, ws->cas, j->run_id, dir, "model", err);
    if (rc == KEEL_OK)
        rc = log_results(j, &eval, sha);
    if (run_open) {
        keel_err end_err;
        if (rc != KEEL_OK)
            keel_run_set_tag(ws->store, j->run_id, "keel.error", err->msg, &end_err);
        keel_run_update(ws->store, j->run_id, rc == KEEL_OK ? "FINISHED" : "FAILED", 0, NULL,
                        &end_err);
    }
    keel_err cleanup;
    if (have_dir && keel_remove_tree(dir, &cleanup) != KEEL_OK)
        keel_log(KEEL_LOG_WARN, "%s", cleanup.msg);
    t_record += lap(&t0);
    if (rc == KEEL_OK) {
        *out = (keel_train_result){ .run_id = j->run_id, .task = j->target.task, .eval = eval,
                                    .best_round = j->best_round, .n_train = j->n_train,
                                    .n_test = j->n_test, .n_features = j->enc->n_features,
                                    .model_sha256 = keel_arena_strdup(a, sha),
                                    .seconds_data = t_data, .seconds_train = t_train,
                                    .seconds_evaluate = t_eval, .seconds_record = t_record };
    }
    job_free(j);
    free(j);
    return rc;
}
