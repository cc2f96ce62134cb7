/*
 * validate.c — checks new data against a dataset's recorded schema and
 * profile, the first gate of an automated pipeline: missing and new
 * columns, type changes, numbers outside the seen range, unseen categories,
 * jumps in the missing rate. Each finding is an anomaly with a severity;
 * errors are what a pipeline must stop on.
 */
#include <keel/dataset.h>
#include <keel/json.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

static void add_anomaly(json_t *list, const char *column, const char *check, double value,
                        double limit, bool error, const char *message)
{
    json_t *a = json_pack("{s:s, s:s, s:s, s:s}", "column", column, "check", check, "severity",
                          error ? "error" : "warning", "message", message);
    if (!isnan(value))
        json_object_set_new(a, "value", keel_json_double(value));
    if (!isnan(limit))
        json_object_set_new(a, "limit", keel_json_double(limit));
    json_array_append_new(list, a);
}

static double number_field(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    double d = NAN;
    keel_json_to_double(v, key, &d, NULL);
    return v != NULL ? d : NAN;
}

static bool numeric_type(const char *type)
{
    return strcmp(type, "string") != 0;
}

static void check_column(json_t *list, const keel_column *c, const json_t *ref,
                         const keel_validate_limits *lim, size_t n_rows)
{
    char msg[512];
    const char *ref_type = json_string_value(json_object_get(ref, "type"));
    const char *type = keel_col_type_name(c->type);
    if (ref_type == NULL)
        return;
    bool int_to_float = strcmp(ref_type, "int") == 0 && c->type == KEEL_COL_FLOAT;
    if (strcmp(ref_type, type) != 0) {
        bool compatible = int_to_float || (numeric_type(ref_type) && numeric_type(type));
        snprintf(msg, sizeof msg, "type changed from %s to %s", ref_type, type);
        add_anomaly(list, c->name, "type", NAN, NAN, !compatible, msg);
        if (numeric_type(ref_type) != numeric_type(type))
            return;
    }
    double rate = n_rows > 0 ? (double)c->n_missing / (double)n_rows : 0;
    double ref_rate = number_field(ref, "missing_rate");
    if (!isnan(ref_rate) && rate - ref_rate > lim->max_missing_increase) {
        snprintf(msg, sizeof msg, "missing rate rose from %.4f to %.4f", ref_rate, rate);
        add_anomaly(list, c->name, "missing_rate", rate - ref_rate, lim->max_missing_increase,
                    true, msg);
    }
    if (c->type != KEEL_COL_STRING) {
        double lo = number_field(ref, "min"), hi = number_field(ref, "max");
        if (isnan(lo) || isnan(hi))
            return;
        size_t outside = 0, present = 0;
        double seen_lo = INFINITY, seen_hi = -INFINITY;
        for (size_t r = 0; r < n_rows; r++) {
            double x = keel_column_number(c, r);
            if (isnan(x))
                continue;
            present++;
            if (x < lo || x > hi) {
                outside++;
                seen_lo = x < seen_lo ? x : seen_lo;
                seen_hi = x > seen_hi ? x : seen_hi;
            }
        }
        double share = present > 0 ? (double)outside / (double)present : 0;
        if (outside > 0) {
            snprintf(msg, sizeof msg, "%zu values (%.2f%%) outside the seen range [%g, %g] "
                     "(found %g to %g)", outside, 100 * share, lo, hi, seen_lo, seen_hi);
            add_anomaly(list, c->name, "out_of_range", share, lim->max_out_of_range,
                        share > lim->max_out_of_range, msg);
        }
        return;
    }
    const json_t *top = json_object_get(ref, "top");
    const json_t *other = json_object_get(ref, "other");
    /* With categories beyond the recorded top ones, "unseen" is unknowable. */
    if (!json_is_object(top) || (json_is_integer(other) && json_integer_value(other) > 0))
        return;
    size_t unseen = 0, present = 0;
    const char *example = NULL;
    for (size_t r = 0; r < n_rows; r++) {
        if (keel_column_is_missing(c, r))
            continue;
        present++;
        const char *v = c->dict[c->codes[r]];
        if (json_object_get(top, v) == NULL) {
            unseen++;
            example = example != NULL ? example : v;
        }
    }
    double share = present > 0 ? (double)unseen / (double)present : 0;
    if (unseen > 0) {
        snprintf(msg, sizeof msg, "%zu values (%.2f%%) are categories never seen, e.g. '%.80s'",
                 unseen, 100 * share, example);
        add_anomaly(list, c->name, "unseen_category", share, lim->max_unseen,
                    share > lim->max_unseen, msg);
    }
}

int keel_data_validate(const keel_frame *f, const json_t *reference_profile,
                       const keel_validate_limits *limits, json_t **out_report, keel_err *err)
{
    keel_validate_limits lim = { 0.05, 0.01, 0.01 };
    if (limits != NULL)
        lim = *limits;
    const json_t *ref_cols = json_object_get(reference_profile, "columns");
    if (!json_is_object(ref_cols))
        return keel_errf(err, KEEL_EINVAL, "reference profile has no 'columns' object");
    json_t *list = json_array();
    const char *name;
    const json_t *ref;
    json_object_foreach((json_t *)ref_cols, name, ref) {
        const keel_column *c = keel_frame_column(f, name);
        if (c == NULL)
            add_anomaly(list, name, "missing_column", NAN, NAN, true,
                        "column is in the reference but not in the data");
        else
            check_column(list, c, ref, &lim, f->n_rows);
    }
    for (size_t i = 0; i < f->n_cols; i++) {
        if (json_object_get(ref_cols, f->cols[i].name) == NULL)
            add_anomaly(list, f->cols[i].name, "new_column", NAN, NAN, false,
                        "column is not in the reference");
    }
    size_t errors = 0;
    for (size_t i = 0; i < json_array_size(list); i++)
        errors += strcmp(json_string_value(json_object_get(json_array_get(list, i), "severity")),
                         "error") == 0;
    *out_report = json_pack("{s:o, s:I, s:I, s:I}", "anomalies", list, "errors",
                            (json_int_t)errors, "warnings",
                            (json_int_t)(json_array_size(list) - errors), "rows",
                            (json_int_t)f->n_rows);
    return KEEL_OK;
}
