/*
 * profile.c — column profiles and schemas: the reference later data is
 * validated and monitored against.
 *
 * Quantiles interpolate linearly between order statistics (numpy's default),
 * so Python users reproduce the same numbers. Bins are the deciles' edges;
 * counts per bin use the same (lo, hi] rule monitoring uses later, with the
 * first bin closed on the left.
 */
#include <keel/dataset.h>
#include <keel/json.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROFILE_TOP_CATEGORIES 50

static const double quantile_points[] = { 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99 };

/* Radix sort of doubles (no NaNs): each value as a 64-bit key whose
 * unsigned order is the numeric order, then eight 8-bit passes. Linear time:
 * profiling sorts every numeric column of every training set. */
static uint64_t sort_key(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return (u >> 63) != 0 ? ~u : u | (1ull << 63);
}

static double from_key(uint64_t k)
{
    uint64_t u = (k >> 63) != 0 ? k & ~(1ull << 63) : ~k;
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static int sort_doubles(double *v, size_t n)
{
    uint64_t *a = malloc((n + 1) * sizeof *a), *b = malloc((n + 1) * sizeof *b);
    if (a == NULL || b == NULL) {
        free(a);
        free(b);
        return KEEL_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        a[i] = sort_key(v[i]);
    for (int shift = 0; shift < 64; shift += 8) {
        size_t count[257] = { 0 };
        for (size_t i = 0; i < n; i++)
            count[((a[i] >> shift) & 0xff) + 1]++;
        if (count[((a[0] >> shift) & 0xff) + 1] == n)
            continue;  /* every key has the same byte here */
        for (int k = 0; k < 256; k++)
            count[k + 1] += count[k];
        for (size_t i = 0; i < n; i++)
            b[count[(a[i] >> shift) & 0xff]++] = a[i];
        uint64_t *t = a;
        a = b;
        b = t;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = from_key(a[i]);
    free(a);
    free(b);
    return KEEL_OK;
}

static double quantile(const double *sorted, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    double frac = pos - (double)lo;
    return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

/* Numeric statistics of v[0..m) (no NaN), sorted in place. */
#define PROFILE_MAX_DISCRETE 16

static void profile_sorted_numbers(json_t *o, double *v, size_t m, double sum);

static void profile_numeric(json_t *o, const keel_column *c, const size_t *rows, size_t n)
{
    double *v = malloc((n + 1) * sizeof *v);
    if (v == NULL)
        return;
    size_t m = 0;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double x = keel_column_number(c, rows != NULL ? rows[i] : i);
        if (!isnan(x)) {
            v[m++] = x;
            sum += x;
        }
    }
    profile_sorted_numbers(o, v, m, sum);
}

json_t *keel_profile_values(const double *values, size_t n)
{
    json_t *o = json_object();
    double *v = malloc((n + 1) * sizeof *v);
    if (v == NULL)
        return o;
    size_t m = 0;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(values[i])) {
            v[m++] = values[i];
            sum += values[i];
        }
    json_object_set_new(o, "missing_rate", keel_json_double(n > 0 ? (double)(n - m) / (double)n
                                                                  : 0));
    profile_sorted_numbers(o, v, m, sum);
    return o;
}

static void profile_sorted_numbers(json_t *o, double *v, size_t m, double sum)
{
    if (m == 0) {
        free(v);
        return;
    }
    if (sort_doubles(v, m) != KEEL_OK) {
        free(v);
        return;
    }
    double mean = sum / (double)m, ss = 0;
    for (size_t i = 0; i < m; i++)
        ss += (v[i] - mean) * (v[i] - mean);
    json_object_set_new(o, "min", keel_json_double(v[0]));
    json_object_set_new(o, "max", keel_json_double(v[m - 1]));
    json_object_set_new(o, "mean", keel_json_double(mean));
    json_object_set_new(o, "std", keel_json_double(m > 1 ? sqrt(ss / (double)(m - 1)) : 0));
    json_t *q = json_object();
    for (size_t i = 0; i < sizeof quantile_points / sizeof quantile_points[0]; i++) {
        char key[16];
        snprintf(key, sizeof key, "%g", quantile_points[i]);
        json_object_set_new(q, key, keel_json_double(quantile(v, m, quantile_points[i])));
    }
    json_object_set_new(o, "quantiles", q);
    /* Decile edges, duplicates dropped, and the count in each bin. */
    double edges[11];
    size_t n_edges = 0;
    for (int d = 0; d <= 10; d++) {
        double e = quantile(v, m, d / 10.0);
        if (n_edges == 0 || e > edges[n_edges - 1])
            edges[n_edges++] = e;
    }
    json_t *je = json_array(), *jc = json_array();
    for (size_t i = 0; i < n_edges; i++)
        json_array_append_new(je, keel_json_double(edges[i]));
    size_t n_bins = n_edges > 1 ? n_edges - 1 : 1;
    size_t counts[10] = { 0 };
    for (size_t i = 0, b = 0; i < m; i++) {
        while (b + 1 < n_bins && v[i] > edges[b + 1])
            b++;
        counts[b]++;
    }
    for (size_t b = 0; b < n_bins; b++)
        json_array_append_new(jc, json_integer((json_int_t)counts[b]));
    json_object_set_new(o, "bins", je);
    json_object_set_new(o, "bin_counts", jc);
    /* A column of few distinct values (flags, codes, counts of a few) has
     * deciles that collapse into one or two bins; its exact distribution is
     * kept too, so monitoring can see a shift between its values. */
    size_t distinct = 0;
    for (size_t i = 0; i < m && distinct <= PROFILE_MAX_DISCRETE; i++)
        distinct += i == 0 || v[i] != v[i - 1];
    if (distinct <= PROFILE_MAX_DISCRETE) {
        json_t *jv = json_array(), *jn = json_array();
        for (size_t i = 0; i < m;) {
            size_t j = i;
            while (j < m && v[j] == v[i])
                j++;
            json_array_append_new(jv, keel_json_double(v[i]));
            json_array_append_new(jn, json_integer((json_int_t)(j - i)));
            i = j;
        }
        json_object_set_new(o, "values", jv);
        json_object_set_new(o, "value_counts", jn);
    }
    free(v);
}

typedef struct category {
    size_t code;
    size_t count;
} category;

static int by_count_desc(const void *a, const void *b)
{
    const category *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return (x->code > y->code) - (x->code < y->code);
}

static void profile_string(json_t *o, const keel_column *c, const size_t *rows, size_t n)
{
    category *cats = calloc(c->n_dict + 1, sizeof *cats);
    if (cats == NULL)
        return;
    for (size_t k = 0; k < c->n_dict; k++)
        cats[k].code = k;
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) {
        size_t row = rows != NULL ? rows[i] : i;
        if (!keel_column_is_missing(c, row))
            cats[c->codes[row]].count++;
    }
    for (size_t k = 0; k < c->n_dict; k++)
        distinct += cats[k].count > 0;
    qsort(cats, c->n_dict, sizeof *cats, by_count_desc);
    json_t *top = json_object();
    size_t other = 0;
    for (size_t k = 0; k < c->n_dict; k++) {
        if (cats[k].count == 0)
            continue;
        if (k < PROFILE_TOP_CATEGORIES)
            json_object_set_new(top, c->dict[cats[k].code], json_integer((json_int_t)cats[k].count));
        else
            other += cats[k].count;
    }
    json_object_set_new(o, "distinct", json_integer((json_int_t)distinct));
    json_object_set_new(o, "top", top);
    json_object_set_new(o, "other", json_integer((json_int_t)other));
    free(cats);
}

json_t *keel_frame_profile(const keel_frame *f, const size_t *rows, size_t n)
{
    return keel_frame_profile_columns(f, rows, n, NULL, 0);
}

static bool wanted(const char *name, const char *const *columns, size_t n_columns)
{
    if (columns == NULL)
        return true;
    for (size_t i = 0; i < n_columns; i++)
        if (strcmp(columns[i], name) == 0)
            return true;
    return false;
}

json_t *keel_frame_profile_columns(const keel_frame *f, const size_t *rows, size_t n,
                                   const char *const *columns, size_t n_columns)
{
    if (rows == NULL)
        n = f->n_rows;
    json_t *cols = json_object();
    for (size_t i = 0; i < f->n_cols; i++) {
        const keel_column *c = &f->cols[i];
        if (!wanted(c->name, columns, n_columns))
            continue;
        size_t missing = 0;
        for (size_t r = 0; r < n; r++)
            missing += keel_column_is_missing(c, rows != NULL ? rows[r] : r);
        json_t *o = json_pack("{s:s, s:I, s:o}", "type", keel_col_type_name(c->type), "missing",
                              (json_int_t)missing, "missing_rate",
                              keel_json_double(n > 0 ? (double)missing / (double)n : 0));
        if (c->type == KEEL_COL_STRING)
            profile_string(o, c, rows, n);
        else
            profile_numeric(o, c, rows, n);
        json_object_set_new(cols, c->name, o);
    }
    return json_pack("{s:I, s:o}", "rows", (json_int_t)n, "columns", cols);
}

json_t *keel_frame_schema(const keel_frame *f)
{
    json_t *cols = json_array();
    for (size_t i = 0; i < f->n_cols; i++)
        json_array_append_new(cols, json_pack("{s:s, s:s}", "name", f->cols[i].name, "type",
                                              keel_col_type_name(f->cols[i].type)));
    return json_pack("{s:o}", "columns", cols);
}
