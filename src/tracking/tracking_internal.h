/*
 * tracking_internal.h — helpers shared by the files of src/tracking/.
 */
#ifndef KEEL_TRACKING_INTERNAL_H
#define KEEL_TRACKING_INTERNAL_H

#include <keel/tracking.h>

/* Fails with KEEL_ENOTFOUND for an unknown run and KEEL_ESTATE for a deleted
 * one; *out_experiment_id (may be NULL) gets the run's experiment. */
int tracking_run_require_active(keel_store *s, const char *run_id, int64_t *out_experiment_id,
                                keel_err *err);

/* A run id given to look a run up: empty is KEEL_EINVAL; anything that is
 * not 32 hex digits cannot name a run, so it is KEEL_ENOTFOUND, as MLflow
 * answers. */
int tracking_run_ref_check(const char *run_id, keel_err *err);

/* Loads n full runs by id into out[0..n) in the given order (one query per
 * kind of data, not per run). A missing id is KEEL_ENOTFOUND. */
int tracking_runs_load(keel_store *s, const char *const *ids, size_t n, keel_arena *a,
                       keel_run *out, keel_err *err);

/* Stores a tag; the mlflow.runName tag also renames the run. No transaction
 * of its own. */
int tracking_tag_put(keel_store *s, const char *run_id, const char *key, const char *value,
                     keel_err *err);

/* Checks a value's length against a limit, naming what it is. */
int tracking_check_len(const char *what, const char *value, size_t max, keel_err *err);

/* A key by MLflow's naming rule and its value by length: what is "tag",
 * "param"…; value NULL counts as "". */
int tracking_check_kv(const char *what, const char *key, const char *value, size_t max_value,
                      keel_err *err);

struct keel_sql;

/* " AND <alias>.lifecycle_stage = …" for a view type ('' for ALL). alias is
 * 'r' (runs) or 'e' (experiments). */
const char *tracking_view_condition(enum keel_view_type view, char alias);

/* Binds a compiled query's arguments to st, from parameter first on. */
void tracking_bind_sql_args(keel_stmt *st, const struct keel_sql *sql, int first);

#endif
