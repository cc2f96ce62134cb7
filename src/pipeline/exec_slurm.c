/*
 * exec_slurm.c — the Slurm executor, through Slurm's own commands (sbatch,
 * squeue, scontrol, scancel), which work against any controller version the
 * client tools match and need no build-time dependency.
 *
 * A job attempt becomes a batch script (cd to the pipeline's directory, then
 * the command through /bin/sh) submitted with the step's resources; its
 * environment is the step's (sbatch exports the submitter's environment).
 * State is followed with one squeue call for all active jobs per poll; the
 * exit code of a finished job comes from `scontrol show job`. A timeout is
 * enforced by the engine (scancel), with `--time` as Slurm's own backstop.
 * The controller must answer when the executor is created, so a pipeline
 * never starts half-recorded against a cluster that is down.
 */
#include "pipeline_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLURM_OUT_MAX 65536
#define SLURM_MAX_FAILED_POLLS 40   /* × poll_ms: how long the controller may be away */

typedef struct slurm_state {
    pipeline_job **active;
    size_t n_active, cap;
    int failed_polls;
} slurm_state;

static int write_script(pipeline_job *job, keel_err *err)
{
    keel_arena a;
    keel_arena_init(&a, 0);
    char *text = keel_arena_sprintf(&a, "#!/bin/sh\n# written by keel for step job %s\n"
                                        "cd %s || exit 1\nexec /bin/sh -c %s\n",
                                    job->job_name, pipeline_shell_quote(&a, job->cwd),
                                    pipeline_shell_quote(&a, job->command));
    int rc = keel_write_file_atomic(job->script, text, strlen(text), err);
    keel_arena_free(&a);
    return rc;
}

static int slurm_start(pipeline_executor *ex, pipeline_job *job, keel_err *err)
{
    slurm_state *ss = ex->state;
    if (ss->n_active == ss->cap) {
        size_t cap = ss->cap ? ss->cap * 2 : 16;
        pipeline_job **active = realloc(ss->active, cap * sizeof *active);
        if (active == NULL)
            return keel_errf(err, KEEL_ENOMEM, "out of memory");
        ss->active = active;
        ss->cap = cap;
    }
    int rc = write_script(job, err);
    if (rc != KEEL_OK)
        return rc;
    keel_arena a;
    keel_arena_init(&a, 0);
    char *argv[16];
    int n = 0;
    argv[n++] = "sbatch";
    argv[n++] = "--parsable";
    argv[n++] = keel_arena_sprintf(&a, "--job-name=%s", job->job_name);
    argv[n++] = keel_arena_sprintf(&a, "--output=%s", job->log_out);
    argv[n++] = keel_arena_sprintf(&a, "--error=%s", job->log_err);
    argv[n++] = keel_arena_sprintf(&a, "--chdir=%s", job->cwd);
    argv[n++] = keel_arena_sprintf(&a, "--cpus-per-task=%d", job->cpus > 0 ? job->cpus : 1);
    if (job->memory_mb > 0)
        argv[n++] = keel_arena_sprintf(&a, "--mem=%lldM", (long long)job->memory_mb);
    if (job->gpus > 0)
        argv[n++] = keel_arena_sprintf(&a, "--gres=gpu:%d", job->gpus);
    if (ex->partition != NULL)
        argv[n++] = keel_arena_sprintf(&a, "--partition=%s", ex->partition);
    if (ex->account != NULL)
        argv[n++] = keel_arena_sprintf(&a, "--account=%s", ex->account);
    if (job->timeout_s > 0)
        argv[n++] = keel_arena_sprintf(&a, "--time=%d",
                                       (int)ceil(job->timeout_s / 60.0) + 1);
    argv[n++] = (char *)job->script;
    argv[n] = NULL;
    /* sbatch exports its own environment to the job: give it the step's. */
    extern char **environ;
    char **saved = environ;
    environ = job->envp;
    char out[256], errbuf[1024];
    int status = pipeline_command(argv, out, sizeof out, errbuf, sizeof errbuf, err);
    environ = saved;
    keel_arena_free(&a);
    if (status < 0)
        return KEEL_EIO;
    if (status != 0) {
        /* A refused job (bad resources, unknown partition) is the step's
         * failure; a controller that does not answer is the executor's. */
        errbuf[strcspn(errbuf, "\n")] = '\0';
        if (strstr(errbuf, "Unable to contact") != NULL ||
            strstr(errbuf, "Connection refused") != NULL)
            return keel_errf(err, KEEL_EIO, "slurm: sbatch: %s", errbuf);
        job->state = JOB_FAILED_TO_START;
        snprintf(job->detail, sizeof job->detail, "sbatch refused the job: %.170s", errbuf);
        return KEEL_OK;
    }
    size_t len = strcspn(out, ";\n");
    if (len == 0 || len >= sizeof job->job_id)
        return keel_errf(err, KEEL_EIO, "slurm: sbatch printed no job id ('%s')", out);
    memcpy(job->job_id, out, len);
    job->job_id[len] = '\0';
    job->state = JOB_RUNNING;
    ss->active[ss->n_active++] = job;
    return KEEL_OK;
}

static bool terminal_state(const char *state)
{
    static const char *const running[] = { "PENDING", "RUNNING", "CONFIGURING", "COMPLETING",
                                           "SUSPENDED", "REQUEUED", "RESIZING", "SIGNALING",
                                           "STAGE_OUT", "STOPPED", "REQUEUE_HOLD",
                                           "REQUEUE_FED", "RESV_DEL_HOLD" };
    for (size_t i = 0; i < sizeof running / sizeof running[0]; i++)
        if (strcmp(state, running[i]) == 0)
            return false;
    return true;
}

/* Exit code and state of a finished job from `scontrol show job -o ID`. */
static void finished_job(pipeline_job *job, const char *squeue_state)
{
    char *argv[] = { "scontrol", "show", "job", "-o", job->job_id, NULL };
    char out[4096], errbuf[512];
    keel_err err;
    int status = pipeline_command(argv, out, sizeof out, errbuf, sizeof errbuf, &err);
    job->state = JOB_EXITED;
    job->exit_code = 255;
    snprintf(job->detail, sizeof job->detail, "slurm state %s", squeue_state);
    if (status != 0)
        return;
    const char *ec = strstr(out, " ExitCode=");
    int code = 0, sig = 0;
    if (ec != NULL && sscanf(ec, " ExitCode=%d:%d", &code, &sig) >= 1)
        job->exit_code = sig != 0 ? 128 + sig : code;
    /* A job cancelled or timed out by Slurm may report 0:15 or 0:0. */
    if (strcmp(squeue_state, "COMPLETED") != 0 && job->exit_code == 0)
        job->exit_code = 1;
}

static int slurm_reap(pipeline_executor *ex, pipeline_job **ended, size_t max, keel_err *err)
{
    slurm_state *ss = ex->state;
    if (ss->n_active == 0)
        return 0;
    keel_arena a;
    keel_arena_init(&a, 0);
    char *ids = keel_arena_strdup(&a, "");
    for (size_t i = 0; i < ss->n_active; i++)
        ids = keel_arena_sprintf(&a, "%s%s%s", ids, i ? "," : "", ss->active[i]->job_id);
    char *argv[] = { "squeue", "-h", "-t", "all", "-j", ids, "-o", "%i|%T", NULL };
    char *out = malloc(SLURM_OUT_MAX);
    char errbuf[1024];
    int status = out != NULL ? pipeline_command(argv, out, SLURM_OUT_MAX, errbuf, sizeof errbuf,
                                                err)
                             : -1;
    keel_arena_free(&a);
    if (status != 0) {
        free(out);
        if (++ss->failed_polls >= SLURM_MAX_FAILED_POLLS)
            return keel_errf(err, KEEL_EIO, "slurm: squeue keeps failing: %s",
                             status > 0 ? errbuf : err->msg), -1;
        return 0;
    }
    ss->failed_polls = 0;
    size_t n = 0;
    for (size_t i = 0; i < ss->n_active && n < max;) {
        pipeline_job *job = ss->active[i];
        char state[64] = "";
        size_t id_len = strlen(job->job_id);
        for (char *line = out; *line != '\0';) {
            char *nl = strchr(line, '\n');
            if (strncmp(line, job->job_id, id_len) == 0 && line[id_len] == '|') {
                size_t len = (nl != NULL ? (size_t)(nl - line) : strlen(line)) - id_len - 1;
                snprintf(state, sizeof state, "%.*s", (int)len, line + id_len + 1);
                break;
            }
            if (nl == NULL)
                break;
            line = nl + 1;
        }
        /* A job squeue no longer knows (purged) counts as finished. */
        if (state[0] == '\0' || terminal_state(state)) {
            finished_job(job, state[0] ? state : "UNKNOWN");
            ended[n++] = job;
            ss->active[i] = ss->active[--ss->n_active];
            continue;
        }
        i++;
    }
    free(out);
    return (int)n;
}

static void slurm_cancel(pipeline_executor *ex, pipeline_job *job)
{
    (void)ex;
    if (job->killed)
        return;
    job->killed = true;
    char *argv[] = { "scancel", job->job_id, NULL };
    char out[256], errbuf[256];
    keel_err err;
    pipeline_command(argv, out, sizeof out, errbuf, sizeof errbuf, &err);
}

static void slurm_destroy(pipeline_executor *ex)
{
    slurm_state *ss = ex->state;
    for (size_t i = 0; i < ss->n_active; i++)
        slurm_cancel(ex, ss->active[i]);
    free(ss->active);
    free(ss);
}

static const pipeline_executor_ops slurm_ops = {
    .name = "slurm",
    .start = slurm_start,
    .reap = slurm_reap,
    .cancel = slurm_cancel,
    .poll_ms = 250,
    .destroy = slurm_destroy,
};

int pipeline_executor_slurm(pipeline_executor *ex, keel_err *err)
{
    char *argv[] = { "scontrol", "ping", NULL };
    char out[1024], errbuf[1024];
    int status = pipeline_command(argv, out, sizeof out, errbuf, sizeof errbuf, err);
    if (status < 0)
        return keel_err_prefix(err, "slurm executor (is slurm-client installed?)");
    if (status != 0 || strstr(out, "is UP") == NULL) {
        char *msg = out[0] ? out : errbuf;
        msg[strcspn(msg, "\n")] = '\0';
        return keel_errf(err, KEEL_EIO, "slurm: the controller does not answer (scontrol ping: "
                         "%s); nothing was started", msg[0] ? msg : "no output");
    }
    ex->ops = &slurm_ops;
    ex->state = calloc(1, sizeof(slurm_state));
    if (ex->state == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    return KEEL_OK;
}
