/*
 * target.c — from a target column to labels: the task (binary, multiclass,
 * regression) and, for classification, the class list in a fixed order
 * (sorted), so a bundle maps labels back the same way everywhere.
 */
#include "train_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CLASSES 100

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Distinct non-missing values of the target over rows, as text, sorted (by
 * number for numeric columns). */
static int distinct_values(const keel_column *c, const size_t *rows, size_t n, keel_arena *a,
                           const char ***out, size_t *out_n, keel_err *err)
{
    *out_n = 0;
    if (c->type == KEEL_COL_STRING) {
        uint8_t *seen = calloc(c->n_dict + 1, 1);
        const char **vals = keel_arena_alloc(a, (c->n_dict + 1) * sizeof *vals);
        if (seen == NULL || vals == NULL) {
            free(seen);
            return keel_errf(err, KEEL_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < n; i++) {
            size_t r = rows != NULL ? rows[i] : i;
            if (!keel_column_is_missing(c, r))
                seen[c->codes[r]] = 1;
        }
        for (size_t k = 0; k < c->n_dict; k++)
            if (seen[k])
                vals[(*out_n)++] = c->dict[k];
        free(seen);
        qsort(vals, *out_n, sizeof *vals, cmp_str);
        *out = vals;
        return KEEL_OK;
    }
    double *v = malloc((n + 1) * sizeof *v);
    if (v == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        double x = keel_column_number(c, rows != NULL ? rows[i] : i);
        if (!isnan(x))
            v[m++] = x;
    }
    qsort(v, m, sizeof *v, cmp_double);
    size_t distinct = 0;
    for (size_t i = 0; i < m; i++)
        distinct += i == 0 || v[i] != v[i - 1];
    /* Only small sets become class lists; the count is what matters otherwise. */
    size_t keep = distinct <= MAX_CLASSES ? distinct : 0;
    const char **vals = keel_arena_alloc(a, (keep + 1) * sizeof *vals);
    for (size_t i = 0, k = 0; vals != NULL && k < keep && i < m; i++) {
        if (i == 0 || v[i] != v[i - 1])
            vals[k++] = keel_arena_sprintf(a, "%.17g", v[i]);
    }
    free(v);
    *out = vals;
    *out_n = distinct;
    return vals != NULL ? KEEL_OK : keel_errf(err, KEEL_ENOMEM, "out of memory");
}

int target_map_fit(const keel_frame *f, const size_t *rows, size_t n, const char *column,
                   const char *objective, const char *positive, keel_arena *a, target_map *out,
                   keel_err *err)
{
    memset(out, 0, sizeof *out);
    const keel_column *c = keel_frame_column(f, column);
    if (c == NULL)
        return keel_errf(err, KEEL_EINVAL, "target column '%s' is not in the data", column);
    if (c->type == KEEL_COL_DATE || c->type == KEEL_COL_DATETIME)
        return keel_errf(err, KEEL_EINVAL, "target column '%s' is a %s; a target must be a "
                         "label or a number", column, keel_col_type_name(c->type));
    const char **vals = NULL;
    size_t n_vals = 0;
    int rc = distinct_values(c, rows, n, a, &vals, &n_vals, err);
    if (rc != KEEL_OK)
        return rc;
    if (n_vals == 0)
        return keel_errf(err, KEEL_EINVAL, "target column '%s' has no values in the training "
                         "rows", column);
    if (n_vals == 1)
        return keel_errf(err, KEEL_EINVAL, "target column '%s' is constant ('%s'): nothing to "
                         "learn", column, vals[0]);
    out->column = keel_arena_strdup(a, column);
    out->type = c->type;
    if (objective != NULL) {
        out->task = strncmp(objective, "binary:", 7) == 0  ? KEEL_TASK_BINARY
                    : strncmp(objective, "multi:", 6) == 0 ? KEEL_TASK_MULTICLASS
                                                           : KEEL_TASK_REGRESSION;
    } else if (c->type == KEEL_COL_STRING || c->type == KEEL_COL_BOOL) {
        out->task = n_vals == 2 ? KEEL_TASK_BINARY : KEEL_TASK_MULTICLASS;
    } else {
        out->task = c->type == KEEL_COL_INT && n_vals == 2 ? KEEL_TASK_BINARY : KEEL_TASK_REGRESSION;
    }
    if (out->task == KEEL_TASK_REGRESSION) {
        if (c->type == KEEL_COL_STRING)
            return keel_errf(err, KEEL_EINVAL, "target column '%s' holds text; regression needs "
                             "numbers", column);
        return KEEL_OK;
    }
    if (n_vals > MAX_CLASSES)
        return keel_errf(err, KEEL_EINVAL, "target column '%s' has %zu distinct values; keel "
                         "classifies up to %d classes", column, n_vals, MAX_CLASSES);
    if (out->task == KEEL_TASK_BINARY && n_vals != 2)
        return keel_errf(err, KEEL_EINVAL, "a binary objective needs a target with 2 values; "
                         "'%s' has %zu", column, n_vals);
    if (out->task == KEEL_TASK_BINARY && positive != NULL) {
        int at = strcmp(vals[0], positive) == 0 ? 0 : strcmp(vals[1], positive) == 0 ? 1 : -1;
        if (at < 0)
            return keel_errf(err, KEEL_EINVAL, "positive class '%s' is not a value of '%s' "
                             "('%s', '%s')", positive, column, vals[0], vals[1]);
        if (at == 0) {
            const char *t = vals[0];
            vals[0] = vals[1];
            vals[1] = t;
        }
    }
    out->classes = vals;
    out->n_classes = n_vals;
    return KEEL_OK;
}

void target_map_labels(const target_map *t, const keel_frame *f, const size_t *rows, size_t n,
                       float *out)
{
    const keel_column *c = keel_frame_column(f, t->column);
    for (size_t i = 0; i < n; i++) {
        size_t r = rows != NULL ? rows[i] : i;
        out[i] = NAN;
        if (c == NULL || keel_column_is_missing(c, r))
            continue;
        if (t->task == KEEL_TASK_REGRESSION) {
            out[i] = (float)keel_column_number(c, r);
            continue;
        }
        char num[40];
        const char *v = c->dict != NULL && c->type == KEEL_COL_STRING ? c->dict[c->codes[r]]
                                                                      : NULL;
        if (v == NULL) {
            snprintf(num, sizeof num, "%.17g", keel_column_number(c, r));
            v = num;
        }
        for (size_t k = 0; k < t->n_classes; k++) {
            if (strcmp(t->classes[k], v) == 0) {
                out[i] = (float)k;
                break;
            }
        }
    }
}

json_t *target_map_to_json(const target_map *t)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "column", t->column, "type",
                          keel_col_type_name(t->type), "task", keel_task_name(t->task));
    if (t->n_classes > 0) {
        json_t *classes = json_array();
        for (size_t k = 0; k < t->n_classes; k++)
            json_array_append_new(classes, json_string(t->classes[k]));
        json_object_set_new(o, "classes", classes);
        if (t->task == KEEL_TASK_BINARY)
            json_object_set_new(o, "positive", json_string(t->classes[1]));
    }
    return o;
}

int target_map_from_json(const json_t *j, keel_arena *a, target_map *out, keel_err *err)
{
    memset(out, 0, sizeof *out);
    const char *column = json_string_value(json_object_get(j, "column"));
    const char *type = json_string_value(json_object_get(j, "type"));
    const char *task = json_string_value(json_object_get(j, "task"));
    if (column == NULL || type == NULL || task == NULL)
        return keel_errf(err, KEEL_ECORRUPT, "bundle: target needs column, type and task");
    int rc = keel_col_type_parse(type, &out->type, err);
    if (rc != KEEL_OK)
        return rc;
    out->column = keel_arena_strdup(a, column);
    out->task = strcmp(task, "binary") == 0       ? KEEL_TASK_BINARY
                : strcmp(task, "multiclass") == 0 ? KEEL_TASK_MULTICLASS
                                                  : KEEL_TASK_REGRESSION;
    const json_t *classes = json_object_get(j, "classes");
    out->n_classes = json_array_size(classes);
    out->classes = keel_arena_alloc(a, (out->n_classes + 1) * sizeof(char *));
    for (size_t k = 0; out->classes != NULL && k < out->n_classes; k++) {
        const char *v = json_string_value(json_array_get(classes, k));
        out->classes[k] = keel_arena_strdup(a, v != NULL ? v : "");
    }
    return KEEL_OK;
}

int evaluate_predictions(enum keel_task task, const float *labels, const float *pred, size_t n,
                         size_t n_classes, keel_eval *out, keel_err *err)
{
    size_t width = task == KEEL_TASK_MULTICLASS ? n_classes : 1;
    double *y = malloc((n + 1) * sizeof *y);
    double *p = malloc((n * width + 1) * sizeof *p);
    if (y == NULL || p == NULL) {
        free(y);
        free(p);
        return keel_errf(err, KEEL_ENOMEM, "out of memory evaluating %zu rows", n);
    }
    for (size_t i = 0; i < n; i++)
        y[i] = labels[i];
    for (size_t i = 0; i < n * width; i++)
        p[i] = pred[i];
    int rc = task == KEEL_TASK_BINARY       ? keel_eval_binary(y, p, n, out, err)
             : task == KEEL_TASK_MULTICLASS ? keel_eval_multiclass(y, p, n, n_classes, out, err)
                                            : keel_eval_regression(y, p, n, out, err);
    free(y);
    free(p);
    return rc;
}
