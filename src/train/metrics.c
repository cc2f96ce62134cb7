/*
 * metrics.c — evaluation metrics computed by keel itself (not by XGBoost),
 * so training, `keel evaluate` and monitoring report the same numbers.
 *
 * AUC is the Mann-Whitney statistic with ties counted half, from one sort.
 * Log loss clips probabilities to [1e-15, 1 - 1e-15] as scikit-learn does.
 */
#include <keel/train.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOGLOSS_EPS 1e-15

const char *keel_task_name(enum keel_task t)
{
    static const char *const names[] = { "binary", "multiclass", "regression" };
    return t <= KEEL_TASK_REGRESSION ? names[t] : "unknown";
}

typedef struct scored {
    double p;
    double y;
} scored;

static int by_score(const void *a, const void *b)
{
    double x = ((const scored *)a)->p, y = ((const scored *)b)->p;
    return (x > y) - (x < y);
}

static double clip(double p)
{
    return p < LOGLOSS_EPS ? LOGLOSS_EPS : p > 1 - LOGLOSS_EPS ? 1 - LOGLOSS_EPS : p;
}

int keel_eval_binary(const double *y, const double *p, size_t n, keel_eval *out, keel_err *err)
{
    memset(out, 0, sizeof *out);
    out->task = KEEL_TASK_BINARY;
    scored *s = malloc((n > 0 ? n : 1) * sizeof *s);
    if (s == NULL)
        return keel_errf(err, KEEL_ENOMEM, "evaluate: out of memory for %zu rows", n);
    size_t m = 0, pos = 0, tp = 0, fp = 0, fn = 0, correct = 0;
    double logloss = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(y[i]) || isnan(p[i]))
            continue;
        bool positive = y[i] > 0.5;
        bool predicted = p[i] >= 0.5;
        s[m++] = (scored){ p[i], positive ? 1.0 : 0.0 };
        pos += positive;
        tp += positive && predicted;
        fp += !positive && predicted;
        fn += positive && !predicted;
        correct += positive == predicted;
        double q = clip(p[i]);
        logloss -= positive ? log(q) : log(1 - q);
    }
    if (m == 0) {
        free(s);
        return keel_errf(err, KEEL_EINVAL, "evaluate: no rows with both a label and a prediction");
    }
    qsort(s, m, sizeof *s, by_score);
    /* Sum of positive ranks, ties sharing their mean rank. */
    double rank_sum = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i;
        double positives = 0;
        while (j < m && s[j].p == s[i].p)
            positives += s[j++].y;
        rank_sum += positives * ((double)(i + 1 + j) / 2.0);
        i = j;
    }
    free(s);
    size_t neg = m - pos;
    out->n = m;
    out->auc = pos > 0 && neg > 0
                   ? (rank_sum - (double)pos * ((double)pos + 1) / 2.0) / ((double)pos * (double)neg)
                   : NAN;
    out->logloss = logloss / (double)m;
    out->accuracy = (double)correct / (double)m;
    out->precision = tp + fp > 0 ? (double)tp / (double)(tp + fp) : 0;
    out->recall = tp + fn > 0 ? (double)tp / (double)(tp + fn) : 0;
    out->f1 = out->precision + out->recall > 0
                  ? 2 * out->precision * out->recall / (out->precision + out->recall) : 0;
    return KEEL_OK;
}

int keel_eval_multiclass(const double *y, const double *p, size_t n, size_t k, keel_eval *out,
                         keel_err *err)
{
    memset(out, 0, sizeof *out);
    out->task = KEEL_TASK_MULTICLASS;
    if (k < 2)
        return keel_errf(err, KEEL_EINVAL, "evaluate: multiclass needs at least 2 classes");
    size_t *tp = calloc(k * 3, sizeof *tp);
    if (tp == NULL)
        return keel_errf(err, KEEL_ENOMEM, "evaluate: out of memory");
    size_t *fp = tp + k, *fn = tp + 2 * k;
    size_t m = 0, correct = 0;
    double logloss = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(y[i]) || y[i] < 0 || y[i] >= (double)k)
            continue;
        size_t label = (size_t)y[i], best = 0;
        const double *row = p + i * k;
        for (size_t c = 1; c < k; c++)
            if (row[c] > row[best])
                best = c;
        m++;
        correct += best == label;
        if (best == label) {
            tp[label]++;
        } else {
            fp[best]++;
            fn[label]++;
        }
        logloss -= log(clip(row[label]));
    }
    double f1_sum = 0;
    for (size_t c = 0; c < k; c++) {
        double prec = tp[c] + fp[c] > 0 ? (double)tp[c] / (double)(tp[c] + fp[c]) : 0;
        double rec = tp[c] + fn[c] > 0 ? (double)tp[c] / (double)(tp[c] + fn[c]) : 0;
        f1_sum += prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0;
    }
    free(tp);
    if (m == 0)
        return keel_errf(err, KEEL_EINVAL, "evaluate: no rows with a valid class label");
    out->n = m;
    out->accuracy = (double)correct / (double)m;
    out->logloss = logloss / (double)m;
    out->f1 = f1_sum / (double)k;
    out->auc = NAN;
    return KEEL_OK;
}

int keel_eval_regression(const double *y, const double *p, size_t n, keel_eval *out,
                         keel_err *err)
{
    memset(out, 0, sizeof *out);
    out->task = KEEL_TASK_REGRESSION;
    size_t m = 0;
    double sum_y = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isnan(y[i]) && !isnan(p[i])) {
            sum_y += y[i];
            m++;
        }
    }
    if (m == 0)
        return keel_errf(err, KEEL_EINVAL, "evaluate: no rows with both a label and a prediction");
    double mean = sum_y / (double)m, sse = 0, sae = 0, sst = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(y[i]) || isnan(p[i]))
            continue;
        double d = y[i] - p[i];
        sse += d * d;
        sae += fabs(d);
        sst += (y[i] - mean) * (y[i] - mean);
    }
    out->n = m;
    out->rmse = sqrt(sse / (double)m);
    out->mae = sae / (double)m;
    out->r2 = sst > 0 ? 1 - sse / sst : NAN;
    return KEEL_OK;
}

size_t keel_eval_metrics(const keel_eval *e, const char **keys, double *values)
{
    size_t n = 0;
#define PUT(name, field) (keys[n] = (name), values[n++] = e->field)
    switch (e->task) {
    case KEEL_TASK_BINARY:
        PUT("auc", auc);
        PUT("logloss", logloss);
        PUT("accuracy", accuracy);
        PUT("precision", precision);
        PUT("recall", recall);
        PUT("f1", f1);
        break;
    case KEEL_TASK_MULTICLASS:
        PUT("accuracy", accuracy);
        PUT("logloss", logloss);
        PUT("f1_macro", f1);
        break;
    case KEEL_TASK_REGRESSION:
        PUT("rmse", rmse);
        PUT("mae", mae);
        PUT("r2", r2);
        break;
    }
#undef PUT
    return n;
}
