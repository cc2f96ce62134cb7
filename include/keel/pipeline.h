/*
 * keel/pipeline.h — pipelines: a DAG of steps declared in keel.yaml, run by
 * an executor (local processes or Slurm), with every step's outputs cached by
 * a content hash of what went into it. The file format is in
 * docs/pipelines.md.
 *
 * Memory: a loaded keel_pipeline owns everything it points to (one arena);
 * free it with keel_pipeline_free. Strings passed in are borrowed.
 */
#ifndef KEEL_PIPELINE_H
#define KEEL_PIPELINE_H

#include <keel/arena.h>
#include <keel/error.h>
#include <keel/tracking.h>
#include <keel/util.h>
#include <keel/workspace.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One step instance after foreach expansion and ${…} substitution. */
typedef struct keel_pipeline_step {
    const char *name;          /* "train" or, for a foreach instance, "train[depth=3]" */
    const char *base;          /* the name in keel.yaml */
    const char *command;       /* the shell command: `run`, or keel + `uses` */
    const char *uses;          /* the keel subcommand when the step `uses:` one, else NULL */
    const char **need_names; size_t n_need_names; /* as written (base or instance names) */
    const char **deps;  size_t n_deps;
    const char **outs;  size_t n_outs;
    keel_kv *params;    size_t n_params;   /* step params, resolved */
    keel_kv *uses_params; size_t n_uses_params; /* pipeline params its text refers to */
    keel_kv *env;       size_t n_env;
    int retries;               /* extra attempts after a failure */
    double backoff_s;          /* wait before retry k is backoff_s * 2^(k-1) */
    double timeout_s;          /* 0 = none */
    bool cache;                /* false: always runs, outputs not cached */
    int cpus;                  /* 0 = executor default */
    int64_t memory_mb;         /* 0 = executor default */
    int gpus;
    size_t line, column;       /* where the step is declared */
    /* The graph, filled by validation: indexes into keel_pipeline.steps. */
    size_t *needs;      size_t n_needs;
    size_t *dependents; size_t n_dependents;
} keel_pipeline_step;

typedef struct keel_pipeline {
    keel_arena arena;
    const char *file;          /* the keel.yaml path as given */
    const char *dir;           /* absolute directory of the file: steps run there */
    const char *name;
    keel_kv *params;    size_t n_params;   /* after -p overrides */
    const char *schedule;      /* cron expression or NULL */
    bool catchup;
    const char *partition;     /* Slurm defaults from the file's `slurm:` block */
    const char *account;
    keel_pipeline_step *steps;   size_t n_steps;    /* in declaration order */
} keel_pipeline;

/* Loads pipeline `name` (NULL: the file's only pipeline) from a keel.yaml,
 * applies `-p key=value` overrides (a key the pipeline does not declare is an
 * error), expands foreach, substitutes ${params.x} and ${item…}, and
 * validates the whole DAG: unknown keys, wrong types, unknown needs, cycles,
 * an output declared by two steps. Errors are "file:line:column: message".
 * A dep that is another step's output adds that step to needs. */
int keel_pipeline_load(const char *path, const char *name, const keel_kv *overrides,
                       size_t n_overrides, keel_pipeline **out, keel_err *err);

/* Same, from bytes in memory (the fuzz target and tests); `path` names the
 * file in messages and fixes the working directory. */
int keel_pipeline_parse(const char *path, const char *text, size_t len, const char *name,
                        const keel_kv *overrides, size_t n_overrides, keel_pipeline **out,
                        keel_err *err);

/* Names of the pipelines a keel.yaml declares (arena copies). */
int keel_pipeline_names(const char *path, keel_arena *a, const char ***out_names,
                        size_t *out_n, keel_err *err);

void keel_pipeline_free(keel_pipeline *p);

/* Index of a step by instance name, or -1. */
long keel_pipeline_step_index(const keel_pipeline *p, const char *name);

/* ---- running ---- */

typedef struct keel_run_options {
    const char *executor;      /* "local" (default) | "slurm" */
    int jobs;                  /* at most this many steps at once; 0 = number of cores */
    bool dry_run;              /* say what would run and why; change nothing */
    bool keep_going;           /* after a failure, run what does not depend on it */
    const char *resume_run_id; /* continue this pipeline run */
    const char *run_id_file;   /* when set, the new run's id is written there once recorded */
    const char *trigger;       /* "cli" | "schedule" | "http" (recorded) */
    bool tty;                  /* live progress line instead of plain lines */
    FILE *out;                 /* progress and results; NULL = stdout */
} keel_run_options;

typedef struct keel_run_summary {
    const char *run_id;        /* the pipeline run (arena of the caller) */
    size_t n_succeeded, n_cached, n_failed, n_cancelled, n_skipped;
    bool cancelled;            /* stopped by a signal or `keel pipeline cancel` */
    /* Per step (dry run): "cached" | "run" | "fail", and why. */
    const char **actions;
    const char **reasons;
} keel_run_summary;

/* Runs (or, with dry_run, explains) the pipeline in workspace ws. Returns
 * KEEL_OK when every step succeeded or was cached; KEEL_ESTATE when some step
 * failed or the run was cancelled (summary says which); other codes when the
 * run could not start (nothing is recorded then). */
int keel_pipeline_run(keel_workspace *ws, const keel_pipeline *p, const keel_run_options *o,
                      keel_arena *a, keel_run_summary *out, keel_err *err);

/* ---- background runs (HTTP trigger, schedules, alert rules) ---- */

typedef struct keel_pipeline_trigger_opts {
    const char *home;          /* the keel home (.keel) the run records into */
    const char *file;          /* keel.yaml */
    const char *workdir;       /* where `keel run` starts (NULL = ".") */
    const char *pipeline;
    const keel_kv *params;  size_t n_params;
    const char *executor;      /* NULL = local */
    const char *trigger;       /* recorded: "http", "schedule", … */
    const char *keel_exe;      /* NULL = this program */
} keel_pipeline_trigger_opts;

/* Starts `keel run` detached and returns the new pipeline run's id once it
 * is recorded (KEEL_EINVAL with keel's message when the run refused to
 * start, e.g. an unknown param). */
int keel_pipeline_trigger(const keel_pipeline_trigger_opts *t, char out_run_id[33],
                          keel_err *err);

/* The schedules of a keel.yaml, run by a thread of `keel server`: every
 * pipeline with `schedule:` is started when its cron expression comes due
 * (UTC). Runs missed while no server was up are reported (logged and
 * counted in pipeline_schedules.missed) and, with `catchup: true`, made up
 * by a single run. The file is re-read at every check, so edits apply
 * without a restart. */
typedef struct keel_scheduler keel_scheduler;
int keel_scheduler_start(const char *store_uri, const char *home, const char *file,
                         keel_scheduler **out, keel_err *err);
void keel_scheduler_stop(keel_scheduler *s);

/* One check at time `now` (epoch seconds): what the thread does each time
 * it wakes. Exposed for tests. Returns how many runs it started. */
int keel_scheduler_check(keel_store *store, const char *home, const char *file, int64_t now,
                         FILE *log, keel_err *err);

/* Content digest of a file or a directory (a directory's covers its files'
 * relative paths and digests), as cache keys and lineage use it. Unchanged
 * files (same size, mtime, ctime and inode, last modified over a second
 * before they were hashed) take their digest from the store instead of being
 * read again. KEEL_ENOTFOUND when path does not exist. */
int keel_pipeline_path_digest(keel_store *s, const char *path,
                              char out[KEEL_SHA256_HEX_LEN + 1], keel_err *err);

/* Where an attempt's logs live while it runs: <home>/pipelines/RUN/STEP.N
 * (+ ".out", ".err", ".sh"); step names are made file-name safe. Arena
 * string. */
const char *keel_pipeline_log_base(keel_arena *a, const char *home, const char *run_id,
                                   const char *step, int attempt);

/* The keel version that goes into every cache key. */
const char *keel_pipeline_cache_version(void);

#endif
