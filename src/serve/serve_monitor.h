/*
 * serve_monitor.h — online monitoring inside `keel serve`: per model version,
 * windowed histograms of every input feature (and of the predictions) against
 * the training reference profile in the bundle, delayed labels joined to
 * logged predictions, rolling performance, alert rules that act.
 */
#ifndef KEEL_SERVE_MONITOR_H
#define KEEL_SERVE_MONITOR_H

#include <keel/error.h>

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MONITOR_SHARDS 8            /* counter copies, so threads rarely share a line */
#define MONITOR_PERF_WINDOW 1000    /* labels in the rolling performance window */

enum monitor_kind { MON_NUMERIC, MON_CATEGORY, MON_PREDICTION };

/* One monitored input (an encoder column) or the prediction. */
typedef struct monitor_feature {
    char *name;
    enum monitor_kind kind;
    int enc_kind;                   /* keel_enc_kind of the column */
    size_t first_feature, n_vocab;  /* where its values are in a feature row */
    double *edges;                  /* numeric: bin edges (n_buckets + 1) */
    double *values;                 /* discrete numeric: the reference's values
                                       (n_buckets - 1 of them; the last bucket is "other") */
    double *ref_p;                  /* reference share of each bucket */
    size_t n_buckets;
    double ref_missing;             /* reference missing rate */
    size_t counter;                 /* first counter: buckets, then missing, out of range */
} monitor_feature;

/* Per-version rolling performance from delayed labels. */
typedef struct monitor_perf {
    pthread_mutex_t lock;
    float score[MONITOR_PERF_WINDOW];   /* prediction (probability, class or value) */
    float label[MONITOR_PERF_WINDOW];
    size_t n, next;                 /* ring */
    uint64_t total;
} monitor_perf;

/* What the last closed window measured, for /metrics and the rules. */
typedef struct monitor_scores {
    double *psi, *js, *ks, *w1, *chi2_p, *missing_delta;  /* per feature */
    uint64_t *out_of_range;
    uint64_t rows;
    int64_t window_end_ms;
    bool valid;
} monitor_scores;

typedef struct model_monitor {
    monitor_feature *features;
    size_t n_features;
    size_t n_counters;              /* per shard, padded to a cache line */
    atomic_uint_fast64_t *counts;   /* [2 windows][MONITOR_SHARDS][n_counters] */
    atomic_uint_fast64_t rows[2];
    atomic_int active;              /* the window requests count into */
    int64_t window_start_ms;
    uint64_t windows_closed;
    pthread_mutex_t lock;           /* guards scores */
    monitor_scores scores;
    monitor_perf perf;
    const char *task;               /* binary / multiclass / regression */
} model_monitor;

/* Builds the monitor of a bundle (its encoder and reference_profile, and
 * the prediction_profile when the bundle has one); NULL when the manifest
 * has no reference profile. */
struct keel_encoder;
model_monitor *monitor_new(const json_t *manifest, const struct keel_encoder *enc,
                           const char *task);
void monitor_free(model_monitor *mon);

/* Counts a batch of feature rows (n x width) and its predictions (n x k)
 * into the active window: lock-free, called on every request. */
void monitor_observe(model_monitor *mon, const float *x, size_t n, size_t width,
                     const float *out, size_t k);

/* Closes the active window when it has min_rows rows and is older than
 * window_ms or holds window_rows rows; computes the measures into
 * mon->scores. Returns true when a window was closed. Monitor thread only. */
bool monitor_maybe_close(model_monitor *mon, int64_t now_ms, int64_t window_ms,
                         uint64_t window_rows, uint64_t min_rows);

/* Adds labelled predictions to the rolling window. */
void monitor_perf_add(model_monitor *mon, const float *score, const float *label, size_t n);

/* Rolling measures (NAN when not enough labels): accuracy, auc, log_loss
 * (binary), rmse, mae (regression); *out_n labels they cover. */
typedef struct monitor_perf_values {
    double accuracy, auc, log_loss, rmse, mae;
    size_t n;
} monitor_perf_values;
void monitor_perf_compute(model_monitor *mon, monitor_perf_values *out);

/* Measure names the rules, the store and /metrics use, in this order. */
#define MONITOR_DRIFT_MEASURES(X) X(psi) X(js) X(ks) X(w1) X(chi2_p) X(missing_delta)
#define MONITOR_PERF_MEASURES(X) X(accuracy) X(auc) X(log_loss) X(rmse) X(mae)
#define MONITOR_COUNT_ONE(m) +1
enum { MONITOR_N_DRIFT = 0 MONITOR_DRIFT_MEASURES(MONITOR_COUNT_ONE),
       MONITOR_N_PERF = 0 MONITOR_PERF_MEASURES(MONITOR_COUNT_ONE) };
extern const char *const monitor_drift_names[MONITOR_N_DRIFT];
extern const char *const monitor_perf_names[MONITOR_N_PERF];

/* Index of a measure name in the lists above, or -1. */
long monitor_drift_index(const char *name);
long monitor_perf_index(const char *name);

/* Drift measure k of feature f in scores (the caller holds mon->lock), and
 * performance measure k of v: NAN when not computed. */
double monitor_drift_value(const monitor_scores *sc, size_t k, size_t f);
double monitor_perf_value(const monitor_perf_values *v, size_t k);

#endif
