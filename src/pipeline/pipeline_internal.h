/*
 * pipeline_internal.h — what the pipeline files share: the graph pass, file
 * digests and cache keys, the executors' interface and the records kept in
 * the metadata store.
 */
#ifndef KEEL_PIPELINE_INTERNAL_H
#define KEEL_PIPELINE_INTERNAL_H

#include "cron.h"

#include <keel/pipeline.h>
#include <keel/util.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <poll.h>
#include <sys/types.h>

/* s in single quotes for /bin/sh (arena string). */
char *pipeline_shell_quote(keel_arena *a, const char *s);

/* Resolves needs (base names stand for all their instances), adds an edge
 * from the step producing a dep to its consumer, and rejects unknown needs,
 * self needs, cycles (naming one) and outputs declared twice or nested in
 * another step's output. Fills steps[].needs / dependents. */
int keel_pipeline_graph(keel_pipeline *p, keel_err *err);

/* ---- digests (pipeline_digest.c) ---- */

/* Visits every regular file under a directory (per level in byte order of
 * names, following symlinks); the visitor returns the file's digest. The
 * directory's digest (see pipeline_digest.c) goes to out_digest. */
struct stat;
typedef int (*pipeline_visit_fn)(void *ctx, const char *abs, const char *rel,
                                 const struct stat *st, char digest[KEEL_SHA256_HEX_LEN + 1],
                                 keel_err *err);
int pipeline_dir_walk(const char *abs, pipeline_visit_fn visit, void *ctx,
                      char out_digest[KEEL_SHA256_HEX_LEN + 1], keel_err *err);

/* The inputs of one step instance as a JSON object (command, env, params,
 * deps with digests, outs, keel version), and the cache key = SHA-256 of its
 * canonical form. dep_digests[i] belongs to step->deps[i]. The object is
 * returned with a new reference. */
json_t *pipeline_step_inputs(const keel_pipeline_step *step, const char *const *dep_digests);
void pipeline_cache_key(json_t *inputs, char out[KEEL_SHA256_HEX_LEN + 1]);

/* Why a step whose key has no cache entry must run, comparing its inputs
 * with those of its last success (NULL when it never succeeded): e.g.
 * "dep data/train.csv changed", "command changed". Arena string. */
const char *pipeline_explain_miss(json_t *previous, json_t *current, keel_arena *a);

/* ---- outputs (pipeline_outs.c) ---- */

/* Stores every declared output of a step in the object store and returns
 * the manifest (JSON list of {path, type, hash|files}) as a new reference.
 * A missing output is KEEL_ENOTFOUND naming it. */
int pipeline_outs_store(keel_workspace *ws, const keel_pipeline *p, const keel_pipeline_step *step,
                        json_t **out_manifest, keel_err *err);

/* Writes a cached manifest's outputs back into the working tree (files whose
 * content already matches are left alone). */
int pipeline_outs_restore(keel_workspace *ws, const keel_pipeline *p, json_t *manifest,
                          keel_err *err);

/* ---- executors (exec_local.c, exec_slurm.c) ---- */

enum job_state { JOB_RUNNING, JOB_EXITED, JOB_FAILED_TO_START };

/* One attempt of one step, as an executor sees it. */
typedef struct pipeline_job {
    size_t step;                /* index in the pipeline */
    int attempt;                /* 1, 2, … */
    const char *command;
    char **envp;                /* NULL-terminated, whole environment */
    const char *cwd;
    const char *log_out, *log_err;  /* files the job's stdout/stderr go to */
    const char *script;         /* Slurm: where the batch script is written */
    const char *job_name;
    double timeout_s;
    int cpus;
    int64_t memory_mb;
    int gpus;
    /* executor state */
    pid_t pid;                  /* local: also the process group */
    char job_id[32];            /* Slurm job id or the pid as text */
    enum job_state state;
    int exit_code;              /* valid when JOB_EXITED; 128+N for signal N */
    bool killed;                /* a cancel was sent */
    char detail[200];           /* why it failed to start, or the Slurm state */
    void *priv;
} pipeline_job;

typedef struct pipeline_executor pipeline_executor;

typedef struct pipeline_executor_ops {
    const char *name;
    /* Starts a job; KEEL_OK also when the job could not start but that is
     * the job's failure (state JOB_FAILED_TO_START, detail set). Other codes
     * mean the executor itself is broken (e.g. the Slurm controller is down). */
    int (*start)(pipeline_executor *ex, pipeline_job *job, keel_err *err);
    /* Collects jobs that ended since the last call (non-blocking); returns
     * how many were put into ended[] (at most max), or -1 with err set. */
    int (*reap)(pipeline_executor *ex, pipeline_job **ended, size_t max, keel_err *err);
    /* Asks a running job to stop (SIGTERM to its group, then SIGKILL after a
     * grace period; scancel). The job is reaped as usual afterwards. */
    void (*cancel)(pipeline_executor *ex, pipeline_job *job);
    /* Descriptors the engine polls besides its own (output pipes); NULL
     * when the executor has none. Returns how many were written. */
    size_t (*poll_fds)(pipeline_executor *ex, struct pollfd *fds, size_t max);
    /* How often reap must be called when nothing signals (ms; -1 = only
     * after SIGCHLD). */
    int poll_ms;
    void (*destroy)(pipeline_executor *ex);
} pipeline_executor_ops;

struct pipeline_executor {
    const pipeline_executor_ops *ops;
    size_t limit;               /* most jobs at once for this executor */
    const char *partition, *account;
    void *state;
};

/* Creates the executor by name ("local", "slurm"). The Slurm one checks that
 * its controller answers (KEEL_EIO with the command's message if not). */
int pipeline_executor_new(const char *name, const keel_pipeline *p, pipeline_executor **out,
                          keel_err *err);
void pipeline_executor_destroy(pipeline_executor *ex);

/* Runs argv (no shell) and captures up to out_size-1 bytes of stdout into out
 * and of stderr into errbuf; returns the exit status (or -1 with err set when
 * it could not run). Used for the Slurm commands. */
int pipeline_command(char *const argv[], char *out, size_t out_size, char *errbuf,
                     size_t err_size, keel_err *err);

#endif
