/*
 * keel/dataset.h — splits, profiles, dataset versions and data validation.
 *
 * A dataset version is a file stored by content hash in the object store,
 * with its name, version number, schema and profile in the metadata store.
 * Adding the same bytes under the same name again returns the existing
 * version. A profile summarises every column (missing rate; for numbers
 * min/max/mean/std, quantiles and decile bins; for strings the category
 * frequencies): it is the reference that validation and, later, drift
 * monitoring compare new data against.
 */
#ifndef KEEL_DATASET_H
#define KEEL_DATASET_H

#include <keel/arena.h>
#include <keel/data.h>
#include <keel/error.h>
#include <keel/workspace.h>

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- splits ---- */

enum keel_split_kind { KEEL_SPLIT_RANDOM, KEEL_SPLIT_COLUMN, KEEL_SPLIT_TIME };

typedef struct keel_split_spec {
    enum keel_split_kind kind;
    double test_fraction;        /* RANDOM, TIME by fraction */
    uint64_t seed;               /* RANDOM */
    const char *column;          /* COLUMN, TIME */
    const char *train_value;     /* COLUMN: default "train" */
    const char *test_value;      /* COLUMN: default "test" */
    bool has_cutoff;             /* TIME: rows before cutoff train, the rest test */
    int64_t cutoff;              /* in the column's unit (days or seconds) */
    const char *cutoff_text;
} keel_split_spec;

/* Parses "random:0.2[:SEED]", "column:NAME[:TRAIN/TEST]",
 * "time:COLUMN:0.2" (last 20% by time) or "time:COLUMN@2012-10-01" (before
 * the date trains). Strings are arena copies. */
int keel_split_parse(const char *text, keel_arena *a, keel_split_spec *out, keel_err *err);

/* Row indexes of each side, arena arrays. A random split puts row i in test
 * when splitmix64(seed ^ i) / 2^64 < test_fraction, so any tool can redo it. */
int keel_split_apply(const keel_frame *f, const keel_split_spec *s, keel_arena *a,
                     size_t **out_train, size_t *out_n_train, size_t **out_test,
                     size_t *out_n_test, keel_err *err);

/* splitmix64, the mixing function of random splits. */
uint64_t keel_splitmix64(uint64_t x);

/* ---- profiles ---- */

/* Profile of f's rows (all when rows is NULL): {"rows": n, "columns": {name:
 * {"type", "missing", "missing_rate", numeric: "min", "max", "mean", "std",
 * "quantiles": {"0.01": …}, "bins": [edges…], "bin_counts": […], and for
 * columns of at most 16 distinct values "values": [sorted…], "value_counts";
 * string: "distinct", "top": {value: count} (50 most frequent), "other"}}}.
 * New reference. */
json_t *keel_frame_profile(const keel_frame *f, const size_t *rows, size_t n);

/* The numeric part of a column profile (missing_rate, min, max, mean, std,
 * quantiles, decile bins and counts) of values (NaN = missing); used for the
 * distribution of a model's predictions. New reference. */
json_t *keel_profile_values(const double *values, size_t n);

/* The same for the named columns only (all when columns is NULL). */
json_t *keel_frame_profile_columns(const keel_frame *f, const size_t *rows, size_t n,
                                   const char *const *columns, size_t n_columns);

/* {"columns": [{"name", "type"}…]} */
json_t *keel_frame_schema(const keel_frame *f);

/* ---- dataset versions ---- */

typedef struct keel_dataset_version {
    const char *name;
    int64_t version;
    const char *digest;          /* SHA-256 of the file's bytes = its object hash */
    const char *source;          /* where it was added from */
    int64_t size_bytes;
    int64_t n_rows;
    int64_t n_cols;
    const char *schema_json;
    const char *profile_json;
    int64_t created_time;
} keel_dataset_version;

/* Reads path as CSV (must parse), stores its bytes, records a new version
 * of name (NULL: the file's base name without .csv/.gz). */
int keel_dataset_add(keel_workspace *ws, const char *path, const char *name, keel_arena *a,
                     keel_dataset_version *out, bool *out_existed, keel_err *err);

/* "NAME" (newest version) or "NAME@VERSION". KEEL_ENOTFOUND otherwise. */
int keel_dataset_get(keel_store *s, const char *ref, keel_arena *a, keel_dataset_version *out,
                     keel_err *err);

/* Every version, newest first per name. */
int keel_dataset_list(keel_store *s, keel_arena *a, keel_dataset_version **out, size_t *out_n,
                      keel_err *err);

/* Loads data named by ref: a dataset version ("NAME" or "NAME@V"; its object
 * is verified) or else a CSV file path. *out_meta gets the version, or for a
 * plain file name = path, version 0 and the file's digest. */
int keel_dataset_load(keel_workspace *ws, const char *ref, keel_arena *a, keel_frame **out,
                      keel_dataset_version *out_meta, keel_err *err);

/* ---- validation against a reference profile ---- */

typedef struct keel_validate_limits {
    double max_missing_increase;   /* absolute rise in missing rate; default 0.05 */
    double max_out_of_range;       /* share of values outside [min, max]; default 0.01 */
    double max_unseen;             /* share of unseen categories; default 0.01 */
} keel_validate_limits;

/* Compares f with a reference profile and schema: missing and new columns,
 * type changes, out-of-range numbers, unseen categories, missing-rate jumps.
 * *out_report: {"anomalies": [{"column", "check", "value", "limit",
 * "severity": "error"|"warning", "message"}], "errors": n, "warnings": n}.
 * limits NULL = defaults. */
int keel_data_validate(const keel_frame *f, const json_t *reference_profile,
                       const keel_validate_limits *limits, json_t **out_report, keel_err *err);

#endif
