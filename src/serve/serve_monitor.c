/*
 * serve_monitor.c — windowed histograms of a served model version's inputs
 * and predictions, compared with its training reference profile.
 *
 * The buckets are the reference's own: decile bins of each numeric column
 * (a value v is in bin b when edges[b] < v <= edges[b+1], bin 0 also taking
 * edges[0], as the profiler counts), the sorted vocabulary of each
 * categorical column plus one bucket for unseen or pooled ("other")
 * categories. Counting is one relaxed atomic add per feature and row into
 * one of MONITOR_SHARDS copies chosen by thread, so concurrent requests
 * rarely touch the same cache line; there are two windows, and the monitor
 * thread flips which one requests count into, lets in-flight adds land, then
 * sums and clears the closed one.
 *
 * Measures per closed window and feature: PSI and Jensen-Shannon distance
 * (base 2) over the buckets, KS and Wasserstein-1 from the bucketed CDFs
 * (numeric; W1 exact for mass spread evenly within each bin; both are
 * approximations with the resolution of the reference deciles —
 * `keel monitor drift` computes them exactly from samples), the chi-square
 * goodness-of-fit p-value (categorical), the change in missing rate and the
 * count of values outside the reference range. PSI, JS and the chi-square
 * distribution are keel/monitor.h's, shared with `keel monitor drift`.
 */
#include "serve_monitor.h"

#include <keel/encode.h>
#include <keel/monitor.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CACHE_LINE_COUNTERS 8       /* 64 bytes of uint64 */

static double *doubles(size_t n)
{
    return calloc(n > 0 ? n : 1, sizeof(double));
}

/* Reference buckets of a numeric column of few distinct values: one per
 * value, then one for values training never had. */
static bool discrete_reference(monitor_feature *f, const json_t *col)
{
    const json_t *values = json_object_get(col, "values");
    const json_t *counts = json_object_get(col, "value_counts");
    size_t n = json_array_size(values);
    if (n == 0 || json_array_size(counts) != n)
        return false;
    f->n_buckets = n + 1;
    f->values = doubles(n);
    f->ref_p = doubles(n + 1);
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        f->values[i] = json_number_value(json_array_get(values, i));
        total += f->ref_p[i] = json_number_value(json_array_get(counts, i));
    }
    for (size_t i = 0; i < n && total > 0; i++)
        f->ref_p[i] /= total;
    return total > 0;
}

/* Reference buckets of a numeric column from its profile entry. */
static bool numeric_reference(monitor_feature *f, const json_t *col)
{
    if (json_object_get(col, "values") != NULL)
        return discrete_reference(f, col);
    const json_t *bins = json_object_get(col, "bins"), *counts = json_object_get(col, "bin_counts");
    size_t n_edges = json_array_size(bins), n_bins = json_array_size(counts);
    if (n_edges == 0 || n_bins == 0 || (n_edges > 1 && n_bins != n_edges - 1))
        return false;
    f->n_buckets = n_bins;
    f->edges = doubles(n_bins + 1);
    f->ref_p = doubles(n_bins);
    double total = 0;
    for (size_t i = 0; i < n_edges; i++)
        f->edges[i] = json_number_value(json_array_get(bins, i));
    if (n_edges == 1)
        f->edges[1] = f->edges[0];
    for (size_t i = 0; i < n_bins; i++)
        total += f->ref_p[i] = json_number_value(json_array_get(counts, i));
    for (size_t i = 0; i < n_bins && total > 0; i++)
        f->ref_p[i] /= total;
    return total > 0;
}

/* Reference buckets of a categorical column: its vocabulary, then "other". */
static bool category_reference(monitor_feature *f, const keel_column_encoder *c, const json_t *col)
{
    const json_t *top = json_object_get(col, "top");
    f->n_buckets = c->n_vocab + 1;
    f->ref_p = doubles(f->n_buckets);
    double total = json_number_value(json_object_get(col, "other"));
    f->ref_p[c->n_vocab] = total;
    for (size_t i = 0; i < c->n_vocab; i++) {
        double n = json_number_value(json_object_get(top, c->vocab[i]));
        f->ref_p[i] = n;
        total += n;
    }
    for (size_t i = 0; i < f->n_buckets && total > 0; i++)
        f->ref_p[i] /= total;
    /* One-hot encodes a missing value as all zeros, like an unseen one, so
     * the window counts it in the last bucket: the reference does the same. */
    if (c->kind == KEEL_ENC_ONEHOT && total > 0) {
        double missing = fmin(fmax(f->ref_missing, 0), 1);
        for (size_t i = 0; i < f->n_buckets; i++)
            f->ref_p[i] *= 1 - missing;
        f->ref_p[c->n_vocab] += missing;
        f->ref_missing = 0;
    }
    return total > 0;
}

model_monitor *monitor_new(const json_t *manifest, const keel_encoder *enc, const char *task)
{
    const json_t *profile = json_object_get(manifest, "reference_profile");
    const json_t *columns = json_object_get(profile, "columns");
    if (enc == NULL || !json_is_object(columns))
        return NULL;
    model_monitor *mon = calloc(1, sizeof *mon);
    if (mon == NULL)
        return NULL;
    mon->features = calloc(enc->n_cols + 1, sizeof *mon->features);
    mon->task = task;
    size_t counter = 0;
    for (size_t i = 0; i < enc->n_cols && mon->features != NULL; i++) {
        const keel_column_encoder *c = &enc->cols[i];
        const json_t *col = json_object_get(columns, c->column);
        monitor_feature *f = &mon->features[mon->n_features];
        memset(f, 0, sizeof *f);
        f->enc_kind = c->kind;
        f->first_feature = c->first_feature;
        f->n_vocab = c->n_vocab;
        f->ref_missing = json_number_value(json_object_get(col, "missing_rate"));
        bool ok = c->kind == KEEL_ENC_NUMERIC ? numeric_reference(f, col)
                                              : category_reference(f, c, col);
        f->kind = c->kind == KEEL_ENC_NUMERIC ? MON_NUMERIC : MON_CATEGORY;
        if (!ok) {
            free(f->edges);
            free(f->ref_p);
            continue;
        }
        f->name = strdup(c->column);
        f->counter = counter;
        counter += f->n_buckets + 2;
        mon->n_features++;
    }
    /* The prediction, when the bundle profiled the model's outputs. */
    const json_t *pred = json_object_get(manifest, "prediction_profile");
    if (mon->features != NULL && pred != NULL) {
        monitor_feature *f = &mon->features[mon->n_features];
        memset(f, 0, sizeof *f);
        f->kind = MON_PREDICTION;
        if (numeric_reference(f, pred)) {
            f->name = strdup("prediction");
            f->counter = counter;
            counter += f->n_buckets + 2;
            mon->n_features++;
        }
    }
    mon->n_counters = (counter + CACHE_LINE_COUNTERS - 1) / CACHE_LINE_COUNTERS *
                      CACHE_LINE_COUNTERS;
    mon->counts = calloc(2 * MONITOR_SHARDS * mon->n_counters + 1, sizeof *mon->counts);
    monitor_scores *sc = &mon->scores;
    size_t n = mon->n_features;
    sc->psi = doubles(n);
    sc->js = doubles(n);
    sc->ks = doubles(n);
    sc->w1 = doubles(n);
    sc->chi2_p = doubles(n);
    sc->missing_delta = doubles(n);
    sc->out_of_range = calloc(n + 1, sizeof *sc->out_of_range);
    pthread_mutex_init(&mon->lock, NULL);
    pthread_mutex_init(&mon->perf.lock, NULL);
    mon->window_start_ms = 0;
    if (mon->features == NULL || mon->counts == NULL || sc->out_of_range == NULL ||
        mon->n_features == 0) {
        monitor_free(mon);
        return NULL;
    }
    return mon;
}

void monitor_free(model_monitor *mon)
{
    if (mon == NULL)
        return;
    for (size_t i = 0; mon->features != NULL && i < mon->n_features; i++) {
        free(mon->features[i].name);
        free(mon->features[i].edges);
        free(mon->features[i].values);
        free(mon->features[i].ref_p);
    }
    free(mon->features);
    free(mon->counts);
    monitor_scores *sc = &mon->scores;
    free(sc->psi);
    free(sc->js);
    free(sc->ks);
    free(sc->w1);
    free(sc->chi2_p);
    free(sc->missing_delta);
    free(sc->out_of_range);
    pthread_mutex_destroy(&mon->lock);
    pthread_mutex_destroy(&mon->perf.lock);
    free(mon);
}

static size_t shard_of_thread(void)
{
    static _Thread_local size_t shard = (size_t)-1;
    static atomic_size_t next;
    if (shard == (size_t)-1)
        shard = atomic_fetch_add_explicit(&next, 1, memory_order_relaxed) % MONITOR_SHARDS;
    return shard;
}

/* Bucket of a numeric value, or -1 for missing; *oor when outside the
 * reference range. */
static long numeric_bucket(const monitor_feature *f, double v, bool *oor)
{
    if (isnan(v))
        return -1;
    if (f->values != NULL) {         /* discrete: the value's own bucket, or "other" */
        size_t n = f->n_buckets - 1, lo = 0, hi = n;
        *oor = v < f->values[0] || v > f->values[n - 1];
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (f->values[mid] < v)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo < n && f->values[lo] == v ? (long)lo : (long)n;
    }
    *oor = v < f->edges[0] || v > f->edges[f->n_buckets];
    size_t lo = 0, hi = f->n_buckets - 1;     /* count inner edges < v */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (f->edges[mid + 1] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo;
}

/* Categories the reference did not list (pooled into its "other" past the
 * profile's top 50) count in the last bucket too. */
static long category_bucket(const monitor_feature *f, const float *row)
{
    if (f->enc_kind == KEEL_ENC_ORDINAL) {
        float v = row[f->first_feature];
        if (isnan(v))
            return -1;
        long i = (long)v;
        return i >= 0 && (size_t)i < f->n_vocab && f->ref_p[i] > 0 ? i : (long)f->n_vocab;
    }
    for (size_t i = 0; i < f->n_vocab; i++)
        if (row[f->first_feature + i] == 1.0f)
            return f->ref_p[i] > 0 ? (long)i : (long)f->n_vocab;
    return (long)f->n_vocab;        /* unseen (or missing: one-hot cannot tell) */
}

void monitor_observe(model_monitor *mon, const float *x, size_t n, size_t width,
                     const float *out, size_t k)
{
    int w = atomic_load_explicit(&mon->active, memory_order_acquire);
    atomic_uint_fast64_t *c = mon->counts + ((size_t)w * MONITOR_SHARDS + shard_of_thread()) *
                                                mon->n_counters;
    for (size_t r = 0; r < n; r++) {
        const float *row = x + r * width;
        for (size_t i = 0; i < mon->n_features; i++) {
            const monitor_feature *f = &mon->features[i];
            bool oor = false;
            long b;
            if (f->kind == MON_CATEGORY)
                b = category_bucket(f, row);
            else if (f->kind == MON_NUMERIC)
                b = numeric_bucket(f, row[f->first_feature], &oor);
            else
                b = k >= 1 ? numeric_bucket(f, out[r * k], &oor) : -1;
            size_t slot = b < 0 ? f->n_buckets : (size_t)b;
            atomic_fetch_add_explicit(&c[f->counter + slot], 1, memory_order_relaxed);
            if (oor)
                atomic_fetch_add_explicit(&c[f->counter + f->n_buckets + 1], 1,
                                          memory_order_relaxed);
        }
    }
    atomic_fetch_add_explicit(&mon->rows[w], n, memory_order_relaxed);
}

/* Measures of one feature from its closed-window counts. */
static void measure(const monitor_feature *f, const uint64_t *counts, monitor_scores *sc,
                    size_t i)
{
    uint64_t present = 0;
    double *cur = calloc(f->n_buckets + 1, sizeof *cur);
    for (size_t b = 0; b < f->n_buckets; b++) {
        present += counts[b];
        if (cur != NULL)
            cur[b] = (double)counts[b];
    }
    uint64_t missing = counts[f->n_buckets];
    uint64_t total = present + missing;
    double ks = 0, w1 = 0, chi2 = 0, cref = 0, ccur = 0;
    for (size_t b = 0; b < f->n_buckets && present > 0; b++) {
        double p = f->ref_p[b], q = (double)counts[b] / (double)present;
        double before = cref - ccur;
        cref += p;
        ccur += q;
        double after = cref - ccur;
        if (fabs(after) > ks)
            ks = fabs(after);
        /* Mass spread evenly within each bin: both CDFs are linear there,
         * and the integral of |F - G| over the bin is exact. */
        if (f->values != NULL) {
            /* Point masses: |F - G| holds from one value to the next. */
            if (b + 2 < f->n_buckets)
                w1 += fabs(after) * (f->values[b + 1] - f->values[b]);
        } else if (f->edges != NULL) {
            double width = f->edges[b + 1] - f->edges[b];
            double ab = fabs(before) + fabs(after);
            w1 += width * (before * after >= 0 ? ab / 2
                           : (before * before + after * after) / (2 * ab));
        }
        double expect = p * (double)present;
        if (expect > 0)
            chi2 += ((double)counts[b] - expect) * ((double)counts[b] - expect) / expect;
    }
    size_t dof = 0;
    for (size_t b = 0; b < f->n_buckets; b++)
        dof += f->ref_p[b] > 0;
    bool have = present > 0 && cur != NULL;
    sc->psi[i] = have ? keel_drift_psi(f->ref_p, cur, f->n_buckets) : NAN;
    sc->js[i] = have ? keel_drift_js(f->ref_p, cur, f->n_buckets) : NAN;
    sc->ks[i] = f->kind != MON_CATEGORY && present > 0 ? ks : NAN;
    sc->w1[i] = f->kind != MON_CATEGORY && present > 0 ? w1 : NAN;
    sc->chi2_p[i] = f->kind == MON_CATEGORY && present > 0 && dof > 1
                        ? keel_chi2_sf(chi2, (double)(dof - 1)) : NAN;
    sc->missing_delta[i] = total > 0 ? (double)missing / (double)total - f->ref_missing : NAN;
    sc->out_of_range[i] = counts[f->n_buckets + 1];
    free(cur);
}

bool monitor_maybe_close(model_monitor *mon, int64_t now_ms, int64_t window_ms,
                         uint64_t window_rows, uint64_t min_rows)
{
    int w = atomic_load(&mon->active);
    uint64_t rows = atomic_load(&mon->rows[w]);
    if (mon->window_start_ms == 0)
        mon->window_start_ms = now_ms;
    bool due = rows >= window_rows || now_ms - mon->window_start_ms >= window_ms;
    if (!due || rows < min_rows)
        return false;
    atomic_store_explicit(&mon->active, w ^ 1, memory_order_release);
    /* Requests that read the old index a moment ago finish their adds. */
    struct timespec pause = { 0, 2000000 };
    nanosleep(&pause, NULL);
    uint64_t *sum = calloc(mon->n_counters + 1, sizeof *sum);
    if (sum == NULL)
        return false;
    atomic_uint_fast64_t *base = mon->counts + (size_t)w * MONITOR_SHARDS * mon->n_counters;
    for (size_t s = 0; s < MONITOR_SHARDS; s++)
        for (size_t c = 0; c < mon->n_counters; c++)
            sum[c] += atomic_exchange_explicit(&base[s * mon->n_counters + c], 0,
                                               memory_order_relaxed);
    rows = atomic_exchange(&mon->rows[w], 0);
    pthread_mutex_lock(&mon->lock);
    for (size_t i = 0; i < mon->n_features; i++)
        measure(&mon->features[i], sum + mon->features[i].counter, &mon->scores, i);
    mon->scores.rows = rows;
    mon->scores.window_end_ms = now_ms;
    mon->scores.valid = true;
    pthread_mutex_unlock(&mon->lock);
    mon->window_start_ms = now_ms;
    mon->windows_closed++;
    free(sum);
    return true;
}

void monitor_perf_add(model_monitor *mon, const float *score, const float *label, size_t n)
{
    monitor_perf *p = &mon->perf;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < n; i++) {
        p->score[p->next] = score[i];
        p->label[p->next] = label[i];
        p->next = (p->next + 1) % MONITOR_PERF_WINDOW;
        if (p->n < MONITOR_PERF_WINDOW)
            p->n++;
        p->total++;
    }
    pthread_mutex_unlock(&p->lock);
}

typedef struct scored {
    float score, label;
} scored;

static int cmp_score(const void *a, const void *b)
{
    float x = ((const scored *)a)->score, y = ((const scored *)b)->score;
    return (x > y) - (x < y);
}

/* Rank-sum AUC with ties averaged. */
static double auc_of(scored *s, size_t n)
{
    qsort(s, n, sizeof *s, cmp_score);
    double pos = 0, neg = 0, rank_sum = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && s[j].score == s[i].score)
            j++;
        double avg_rank = (double)(i + j + 1) / 2.0;   /* ranks i+1 … j */
        for (size_t t = i; t < j; t++)
            if (s[t].label > 0.5) {
                rank_sum += avg_rank;
                pos++;
            } else {
                neg++;
            }
        i = j;
    }
    if (pos == 0 || neg == 0)
        return NAN;
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

void monitor_perf_compute(model_monitor *mon, monitor_perf_values *out)
{
    monitor_perf *p = &mon->perf;
    *out = (monitor_perf_values){ NAN, NAN, NAN, NAN, NAN, 0 };
    scored *s = malloc(MONITOR_PERF_WINDOW * sizeof *s);
    if (s == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    size_t n = p->n;
    for (size_t i = 0; i < n; i++)
        s[i] = (scored){ p->score[i], p->label[i] };
    pthread_mutex_unlock(&p->lock);
    out->n = n;
    if (n == 0) {
        free(s);
        return;
    }
    bool binary = mon->task != NULL && strcmp(mon->task, "binary") == 0;
    bool regression = mon->task != NULL && strcmp(mon->task, "regression") == 0;
    double correct = 0, ll = 0, se = 0, ae = 0;
    for (size_t i = 0; i < n; i++) {
        double y = s[i].label, q = s[i].score;
        if (binary) {
            correct += (q >= 0.5) == (y > 0.5);
            double pc = fmin(fmax(q, 1e-15), 1 - 1e-15);
            ll -= y > 0.5 ? log(pc) : log(1 - pc);
        } else if (regression) {
            se += (q - y) * (q - y);
            ae += fabs(q - y);
        } else {
            correct += q == y;      /* multiclass: the predicted class index */
        }
    }
    if (!regression)
        out->accuracy = correct / (double)n;
    if (binary) {
        out->log_loss = ll / (double)n;
        out->auc = auc_of(s, n);
    }
    if (regression) {
        out->rmse = sqrt(se / (double)n);
        out->mae = ae / (double)n;
    }
    free(s);
}

#define MONITOR_NAME(m) #m,
const char *const monitor_drift_names[MONITOR_N_DRIFT] = { MONITOR_DRIFT_MEASURES(MONITOR_NAME) };
const char *const monitor_perf_names[MONITOR_N_PERF] = { MONITOR_PERF_MEASURES(MONITOR_NAME) };
#undef MONITOR_NAME

static long name_index(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; name != NULL && i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (long)i;
    return -1;
}

long monitor_drift_index(const char *name)
{
    return name_index(monitor_drift_names, MONITOR_N_DRIFT, name);
}

long monitor_perf_index(const char *name)
{
    return name_index(monitor_perf_names, MONITOR_N_PERF, name);
}

double monitor_drift_value(const monitor_scores *sc, size_t k, size_t f)
{
#define MONITOR_ARRAY(m) sc->m,
    const double *arrays[MONITOR_N_DRIFT] = { MONITOR_DRIFT_MEASURES(MONITOR_ARRAY) };
#undef MONITOR_ARRAY
    return k < MONITOR_N_DRIFT ? arrays[k][f] : NAN;
}

double monitor_perf_value(const monitor_perf_values *v, size_t k)
{
#define MONITOR_FIELD(m) v->m,
    const double values[MONITOR_N_PERF] = { MONITOR_PERF_MEASURES(MONITOR_FIELD) };
#undef MONITOR_FIELD
    return k < MONITOR_N_PERF ? values[k] : NAN;
}
