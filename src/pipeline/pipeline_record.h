/*
 * pipeline_record.h — the metadata records of pipeline runs and steps (see
 * pipeline_record.c for what is kept where).
 */
#ifndef KEEL_PIPELINE_RECORD_H
#define KEEL_PIPELINE_RECORD_H

#include "pipeline_internal.h"

typedef struct pipeline_recorder {
    keel_workspace *ws;
    const keel_pipeline *p;
    keel_arena *a;              /* strings below live here */
    int64_t experiment_id;
    const char *run_id;         /* the pipeline run */
} pipeline_recorder;

/* How one step instance ended. Strings are borrowed. */
typedef struct step_outcome {
    size_t step;
    const char *step_run;       /* its tracking run (NULL when it never started) */
    const char *status;         /* SUCCEEDED CACHED FAILED CANCELLED SKIPPED */
    bool cache_hit;
    bool has_exit_code;
    int exit_code;
    int attempts;
    const char *job_id;
    const char *cache_key;
    const char *reason;
    json_t *inputs;             /* borrowed; may be NULL */
    json_t *manifest;           /* outputs stored (success) or restored (hit); may be NULL */
} step_outcome;

/* Creates the pipeline run (tracking run, pipeline_runs row, a PENDING row
 * per step) in one transaction; sets r->run_id. */
int record_run_begin(pipeline_recorder *r, const keel_run_options *o, const char *executor,
                     keel_err *err);

/* Takes over an earlier run: refuses one still alive or already succeeded,
 * stops processes and Slurm jobs of steps it left RUNNING, and fills
 * statuses[i] with step i's recorded status (NULL for steps it did not
 * have). */
int record_run_resume(pipeline_recorder *r, const char *run_id, const char *executor,
                      char **statuses, keel_err *err);

/* The step's tracking run, created when it first starts or hits the cache. */
int record_step_begin(pipeline_recorder *r, size_t step, const char *executor,
                      const char **out_step_run, keel_err *err);
int record_attempt_start(pipeline_recorder *r, size_t step, int attempt, const char *job_id,
                         keel_err *err);
int record_attempt_logs(pipeline_recorder *r, const char *step_run, int attempt,
                        const char *log_out, const char *log_err, keel_err *err);

/* The step's final state, lineage and (for a success) its cache entry, in
 * one transaction. */
int record_step_end(pipeline_recorder *r, const step_outcome *o, keel_err *err);

/* status: SUCCEEDED FAILED CANCELLED. */
int record_run_end(pipeline_recorder *r, const char *status, keel_err *err);

/* The cached output manifest for key (new reference), or *out NULL. */
int record_cache_lookup(pipeline_recorder *r, const char *key, json_t **out_manifest,
                        keel_err *err);

/* Inputs of the step's last success (new reference) or NULL. */
json_t *record_last_inputs(pipeline_recorder *r, const char *step);

#endif
