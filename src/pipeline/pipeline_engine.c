/*
 * pipeline_engine.c — running a pipeline: the event-driven scheduler.
 *
 * Each step counts the needs it still waits for; when a step ends well, its
 * dependents' counts drop and those reaching zero join a FIFO of ready steps.
 * Nothing scans all steps: only the live ones (running or waiting to retry)
 * are looked at for deadlines and retries, and the loop sleeps in poll() on a signalfd (SIGCHLD
 * for local jobs, SIGINT/SIGTERM/SIGHUP to cancel) with a timeout that is
 * the nearest of: a job's deadline, a retry's backoff, the executor's poll
 * interval (Slurm). A ready step first gets its cache key (from its deps'
 * digests); a key with a cached manifest restores the outputs and the step
 * is done without running; otherwise it starts when the executor has a free
 * slot.
 *
 * Failure: a failed attempt is retried after backoff*2^(attempt-1) while
 * retries remain; a step that fails for good stops the run (running steps are
 * cancelled) unless keep_going, in which case only its dependents are
 * skipped. A signal cancels: running jobs are killed or scancelled, and they
 * and everything not yet run are recorded CANCELLED.
 *
 * Records are written in one transaction per loop turn, so a burst of cached
 * or finished steps costs one commit.
 */
#include "pipeline_record.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum step_status {
    ST_PENDING, ST_RUNNING, ST_RETRY_WAIT, ST_SUCCEEDED, ST_CACHED, ST_FAILED, ST_CANCELLED,
    ST_SKIPPED,
};
static const char *const status_names[] = { "PENDING", "RUNNING", "RETRY", "SUCCEEDED",
                                            "CACHED", "FAILED", "CANCELLED", "SKIPPED" };

typedef struct step_rt {
    enum step_status status;
    size_t waiting;                 /* needs not yet done */
    int attempt;
    pipeline_job job;
    int64_t started_ns, deadline_ns, retry_at_ns;
    bool timed_out;
    bool would_run;                 /* dry run: this step would execute */
    bool in_live;                   /* listed in engine.live */
    const char *step_run;
    char key[KEEL_SHA256_HEX_LEN + 1];
    json_t *inputs;
    json_t *manifest;
    const char *reason;
} step_rt;

typedef struct engine {
    keel_workspace *ws;
    const keel_pipeline *p;
    const keel_run_options *o;
    keel_arena *a;
    keel_err *err;
    FILE *out;
    pipeline_recorder rec;
    pipeline_executor *ex;
    const char *executor_name;
    step_rt *rt;
    size_t *ready, ready_head, ready_tail;
    size_t *live, n_live;           /* steps RUNNING or waiting to retry: the only ones
                                       the loop looks at for deadlines and retries */
    size_t n_active, limit;
    size_t n_final;
    bool stopping, cancelled, failed;
    int sfd;
    char **base_env;
    size_t n_base_env;
    const char *log_dir;
    int64_t t0;
    int64_t last_draw_ns;
    keel_run_summary *sum;
    bool in_txn;                    /* records of this burst not yet committed */
    int64_t txn_start_ns;
} engine;

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000ll + t.tv_nsec;
}

/* Opens the transaction the records of a burst of events go into, when
 * there is something to record; the loop commits it (see loop). Steps
 * themselves write to the store too (keel train, models register), so the
 * write lock is taken only when needed and never held while waiting. */
static int txn(engine *e)
{
    if (e->in_txn || e->o->dry_run)
        return KEEL_OK;
    int rc = keel_store_begin(e->ws->store, e->err);
    if (rc == KEEL_OK) {
        e->in_txn = true;
        e->txn_start_ns = mono_ns();
    }
    return rc;
}

static void live_add(engine *e, size_t s)
{
    if (!e->rt[s].in_live) {
        e->rt[s].in_live = true;
        e->live[e->n_live++] = s;
    }
}

/* Drops steps that are no longer running or waiting from the live list. */
static void live_prune(engine *e)
{
    size_t kept = 0;
    for (size_t i = 0; i < e->n_live; i++) {
        size_t s = e->live[i];
        if (e->rt[s].status == ST_RUNNING || e->rt[s].status == ST_RETRY_WAIT)
            e->live[kept++] = s;
        else
            e->rt[s].in_live = false;
    }
    e->n_live = kept;
}

/* ---- progress ---- */

static void status_line(engine *e, bool force)
{
    if (!e->o->tty)
        return;
    int64_t now = mono_ns();
    if (!force && now - e->last_draw_ns < 100000000ll)
        return;
    e->last_draw_ns = now;
    size_t running = e->n_active, pending = e->p->n_steps - e->n_final - e->n_active;
    fprintf(e->out, "\r\033[K[%6.1fs] %zu running, %zu done, %zu cached, %zu failed, "
                    "%zu pending", (double)(now - e->t0) / 1e9, running, e->sum->n_succeeded,
            e->sum->n_cached, e->sum->n_failed, pending);
    fflush(e->out);
}

static void say(engine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(engine *e, const char *fmt, ...)
{
    if (e->o->dry_run)
        return;
    if (e->o->tty)
        fputs("\r\033[K", e->out);
    fprintf(e->out, "[%6.1fs] ", (double)(mono_ns() - e->t0) / 1e9);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(e->out, fmt, ap);
    va_end(ap);
    fputc('\n', e->out);
    fflush(e->out);      /* progress is read live, also from files and pipes */
    status_line(e, true);
}

/* The last lines of a failed step's stderr, indented, so the reason is on
 * screen without another command. */
static void show_tail(engine *e, const char *path)
{
    FILE *f = path != NULL ? fopen(path, "r") : NULL;
    if (f == NULL)
        return;
    char buf[2048];
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0, SEEK_SET);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    int lines = 0;
    char *start = buf + n;
    while (start > buf && lines < 6)
        if (*--start == '\n' && start + 1 < buf + n)
            lines++;
    for (char *line = start; line != NULL && *line;) {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        if (*line)
            fprintf(e->out, "           | %s\n", line);
        line = nl != NULL ? nl + 1 : NULL;
    }
}

/* ---- environment ---- */

static int build_base_env(engine *e)
{
    size_t n = 0;
    while (environ[n] != NULL)
        n++;
    e->base_env = keel_arena_alloc(e->a, (n + 8) * sizeof *e->base_env);
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "KEEL_HOME=", 10) != 0)
            e->base_env[e->n_base_env++] = environ[i];
    char home[PATH_MAX];
    snprintf(home, sizeof home, "%s", e->ws->home);
    e->base_env[e->n_base_env++] = keel_arena_sprintf(e->a, "KEEL_HOME=%s", home);
    return KEEL_OK;
}

static char **job_env(engine *e, size_t s)
{
    const keel_pipeline_step *st = &e->p->steps[s];
    size_t cap = e->n_base_env + st->n_env + 6, n = 0;
    char **env = keel_arena_alloc(e->a, cap * sizeof *env);
    for (size_t i = 0; i < e->n_base_env; i++) {
        const char *eq = strchr(e->base_env[i], '=');
        size_t klen = eq != NULL ? (size_t)(eq - e->base_env[i]) : strlen(e->base_env[i]);
        bool overridden = false;
        for (size_t j = 0; j < st->n_env && !overridden; j++)
            overridden = strlen(st->env[j].key) == klen &&
                         strncmp(st->env[j].key, e->base_env[i], klen) == 0;
        if (!overridden)
            env[n++] = e->base_env[i];
    }
    for (size_t j = 0; j < st->n_env; j++)
        env[n++] = keel_arena_sprintf(e->a, "%s=%s", st->env[j].key, st->env[j].value);
    env[n++] = keel_arena_sprintf(e->a, "KEEL_PIPELINE=%s", e->p->name);
    env[n++] = keel_arena_sprintf(e->a, "KEEL_PIPELINE_RUN_ID=%s", e->rec.run_id);
    env[n++] = keel_arena_sprintf(e->a, "KEEL_STEP=%s", st->name);
    if (e->rt[s].step_run != NULL)
        env[n++] = keel_arena_sprintf(e->a, "KEEL_PARENT_RUN_ID=%s", e->rt[s].step_run);
    env[n] = NULL;
    return env;
}

/* ---- state changes ---- */

static void enqueue(engine *e, size_t s)
{
    e->ready[e->ready_tail++] = s;
}

static void release_dependents(engine *e, size_t s)
{
    const keel_pipeline_step *st = &e->p->steps[s];
    for (size_t i = 0; i < st->n_dependents; i++) {
        size_t d = st->dependents[i];
        if (--e->rt[d].waiting == 0 && e->rt[d].status == ST_PENDING)
            enqueue(e, d);
    }
}

/* Puts a step in a final state and records it. */
static int finish(engine *e, size_t s, enum step_status status, const char *reason,
                  bool has_exit, int exit_code)
{
    step_rt *r = &e->rt[s];
    r->status = status;
    r->reason = reason;
    e->n_final++;
    switch (status) {
    case ST_SUCCEEDED: e->sum->n_succeeded++; break;
    case ST_CACHED: e->sum->n_cached++; break;
    case ST_FAILED: e->sum->n_failed++; break;
    case ST_CANCELLED: e->sum->n_cancelled++; break;
    default: e->sum->n_skipped++; break;
    }
    if (e->o->dry_run)
        return KEEL_OK;
    int rc = txn(e);
    if (rc != KEEL_OK)
        return rc;
    step_outcome o = {
        .step = s, .step_run = r->step_run, .status = status_names[status],
        .cache_hit = status == ST_CACHED, .has_exit_code = has_exit, .exit_code = exit_code,
        .attempts = r->attempt, .job_id = r->job.job_id[0] ? r->job.job_id : NULL,
        .cache_key = r->key[0] ? r->key : NULL, .reason = reason, .inputs = r->inputs,
        .manifest = r->manifest,
    };
    rc = record_step_end(&e->rec, &o, e->err);
    if (rc == KEEL_OK && (status == ST_SUCCEEDED || status == ST_CACHED))
        release_dependents(e, s);
    return rc;
}

/* A dep's digest: from a needed step's output manifest when that step was
 * only simulated (dry run) or restored, else from the file itself. */
static int dep_digest(engine *e, size_t s, const char *dep, char out[KEEL_SHA256_HEX_LEN + 1])
{
    const keel_pipeline_step *st = &e->p->steps[s];
    for (size_t i = 0; i < st->n_needs; i++) {
        size_t k;
        json_t *entry;
        json_array_foreach(e->rt[st->needs[i]].manifest, k, entry) {
            const char *path = json_string_value(json_object_get(entry, "path"));
            if (path != NULL && strcmp(path, dep) == 0) {
                snprintf(out, KEEL_SHA256_HEX_LEN + 1, "%s",
                         json_string_value(json_object_get(entry, "digest")));
                return KEEL_OK;
            }
        }
    }
    const char *abs = keel_arena_sprintf(e->a, "%s/%s", e->p->dir, dep);
    return keel_pipeline_path_digest(e->ws->store, abs, out, e->err);
}

/* Computes the step's inputs and key; *out_hit tells whether the cache has
 * it (and the outputs were restored). A missing dep fails the step. */
static int prepare(engine *e, size_t s, bool *out_hit, bool *out_failed)
{
    const keel_pipeline_step *st = &e->p->steps[s];
    step_rt *r = &e->rt[s];
    *out_hit = false;
    *out_failed = false;
    if (e->o->dry_run) {
        for (size_t i = 0; i < st->n_needs; i++)
            if (e->rt[st->needs[i]].would_run) {
                r->would_run = true;
                r->reason = keel_arena_sprintf(e->a, "after '%s', which will run",
                                               e->p->steps[st->needs[i]].name);
                return KEEL_OK;
            }
    }
    const char **digests = keel_arena_alloc(e->a, (st->n_deps + 1) * sizeof *digests);
    for (size_t i = 0; i < st->n_deps; i++) {
        char d[KEEL_SHA256_HEX_LEN + 1];
        int rc = dep_digest(e, s, st->deps[i], d);
        if (rc == KEEL_ENOTFOUND) {
            *out_failed = true;
            r->reason = keel_arena_sprintf(e->a, "dep '%s' does not exist (%s/%s)", st->deps[i],
                                           e->p->dir, st->deps[i]);
            return KEEL_OK;
        }
        if (rc != KEEL_OK)
            return keel_err_prefix(e->err, "step '%s', dep '%s'", st->name, st->deps[i]);
        digests[i] = keel_arena_strdup(e->a, d);
    }
    r->inputs = pipeline_step_inputs(st, digests);
    pipeline_cache_key(r->inputs, r->key);
    if (!st->cache) {
        r->reason = "cache: false";
        r->would_run = true;
        return KEEL_OK;
    }
    json_t *manifest = NULL;
    int rc = record_cache_lookup(&e->rec, r->key, &manifest, e->err);
    if (rc != KEEL_OK)
        return rc;
    if (manifest == NULL) {
        json_t *previous = record_last_inputs(&e->rec, st->name);
        r->reason = pipeline_explain_miss(previous, r->inputs, e->a);
        json_decref(previous);
        r->would_run = true;
        return KEEL_OK;
    }
    r->manifest = manifest;
    if (!e->o->dry_run) {
        keel_err restore_err;
        rc = pipeline_outs_restore(e->ws, e->p, manifest, &restore_err);
        if (rc != KEEL_OK) {
            /* A cache entry whose objects are gone or corrupt is a miss. */
            r->reason = keel_arena_sprintf(e->a, "cached outputs unusable: %s", restore_err.msg);
            json_decref(r->manifest);
            r->manifest = NULL;
            r->would_run = true;
            return KEEL_OK;
        }
    }
    *out_hit = true;
    return KEEL_OK;
}

const char *keel_pipeline_log_base(keel_arena *a, const char *home, const char *run_id,
                              const char *step, int attempt)
{
    char *name = keel_arena_strdup(a, step);
    for (char *p = name; *p; p++)
        if (*p == '/' || *p == ' ' || *p == '[' || *p == ']')
            *p = '_';
        else if (*p == ',')
            *p = '.';
        else if (*p == '=')
            *p = '-';
    return keel_arena_sprintf(a, "%s/pipelines/%s/%s.%d", home, run_id, name, attempt);
}

static int start_attempt(engine *e, size_t s)
{
    const keel_pipeline_step *st = &e->p->steps[s];
    step_rt *r = &e->rt[s];
    int rc = txn(e);
    if (rc != KEEL_OK)
        return rc;
    r->attempt++;
    if (r->step_run == NULL &&
        (rc = record_step_begin(&e->rec, s, e->executor_name, &r->step_run, e->err)) != KEEL_OK)
        return rc;
    /* Outputs' directories exist before the step runs, as make users
     * expect of `mkdir -p` and snakemake does. */
    for (size_t i = 0; i < st->n_outs; i++) {
        const char *out = keel_arena_sprintf(e->a, "%s/%s", e->p->dir, st->outs[i]);
        const char *slash = strrchr(out, '/');
        keel_err ignored;
        if (slash != NULL && slash > out)
            keel_mkdir_p(keel_arena_strndup(e->a, out, (size_t)(slash - out)), &ignored);
    }
    const char *base = keel_pipeline_log_base(e->a, e->ws->home, e->rec.run_id, st->name,
                                         r->attempt);
    pipeline_job *job = &r->job;
    memset(job, 0, sizeof *job);
    job->step = s;
    job->attempt = r->attempt;
    job->command = st->command;
    job->envp = job_env(e, s);
    job->cwd = e->p->dir;
    job->log_out = keel_arena_sprintf(e->a, "%s.out", base);
    job->log_err = keel_arena_sprintf(e->a, "%s.err", base);
    job->script = keel_arena_sprintf(e->a, "%s.sh", base);
    job->job_name = keel_arena_sprintf(e->a, "keel:%s:%s", e->p->name, st->name);
    job->timeout_s = st->timeout_s;
    job->cpus = st->cpus;
    job->memory_mb = st->memory_mb;
    job->gpus = st->gpus;
    if ((rc = e->ex->ops->start(e->ex, job, e->err)) != KEEL_OK)
        return rc;
    r->started_ns = mono_ns();
    r->deadline_ns = st->timeout_s > 0 ? r->started_ns + (int64_t)(st->timeout_s * 1e9) : 0;
    r->timed_out = false;
    r->status = ST_RUNNING;
    live_add(e, s);
    if (job->state == JOB_FAILED_TO_START)
        return KEEL_OK;       /* handled by the caller as an ended job */
    e->n_active++;
    rc = record_attempt_start(&e->rec, s, r->attempt, job->job_id, e->err);
    say(e, "start   %s (%s %s%s%s)", st->name, e->executor_name,
        strcmp(e->executor_name, "local") == 0 ? "pid " : "job ", job->job_id,
        r->attempt > 1 ? keel_arena_sprintf(e->a, ", attempt %d", r->attempt) : "");
    return rc;
}

static void stop_all(engine *e)
{
    if (e->stopping)
        return;
    e->stopping = true;
    for (size_t i = 0; i < e->n_live; i++)
        if (e->rt[e->live[i]].status == ST_RUNNING)
            e->ex->ops->cancel(e->ex, &e->rt[e->live[i]].job);
}

static int job_ended(engine *e, size_t s);

/* Takes ready steps while the executor has room: cached steps finish at
 * once and may make more steps ready. */
static int dispatch(engine *e)
{
    int rc = KEEL_OK;
    while (rc == KEEL_OK && !e->stopping && e->ready_head < e->ready_tail &&
           e->n_active < e->limit) {
        size_t s = e->ready[e->ready_head++];
        bool hit = false, failed = false;
        if ((rc = txn(e)) != KEEL_OK)
            break;
        rc = prepare(e, s, &hit, &failed);
        if (rc != KEEL_OK)
            break;
        step_rt *r = &e->rt[s];
        if (failed) {
            if (!e->o->dry_run && (rc = record_step_begin(&e->rec, s, e->executor_name,
                                                          &r->step_run, e->err)) != KEEL_OK)
                break;
            say(e, "FAILED  %s: %s", e->p->steps[s].name, r->reason);
            rc = finish(e, s, ST_FAILED, r->reason, false, 0);
            e->failed = true;
            if (!e->o->keep_going && !e->o->dry_run)
                stop_all(e);
        } else if (hit) {
            if (!e->o->dry_run && (rc = record_step_begin(&e->rec, s, e->executor_name,
                                                          &r->step_run, e->err)) != KEEL_OK)
                break;
            say(e, "cached  %s", e->p->steps[s].name);
            rc = finish(e, s, ST_CACHED, NULL, false, 0);
            if (e->o->dry_run)
                release_dependents(e, s);
        } else if (e->o->dry_run) {
            rc = finish(e, s, ST_SUCCEEDED, r->reason, false, 0);
            release_dependents(e, s);
        } else {
            rc = start_attempt(e, s);
            if (rc == KEEL_OK && r->job.state == JOB_FAILED_TO_START)
                rc = job_ended(e, s);
        }
    }
    return rc;
}

static int job_outcome(engine *e, size_t s);

/* A job attempt is over: success, retry or failure. Its log files, stored
 * as artifacts of the step run by then, are removed. */
static int job_ended(engine *e, size_t s)
{
    pipeline_job *job = &e->rt[s].job;
    int rc = job_outcome(e, s);
    unlink(job->log_out);
    unlink(job->log_err);
    if (job->script != NULL)
        unlink(job->script);
    return rc;
}

static int job_outcome(engine *e, size_t s)
{
    const keel_pipeline_step *st = &e->p->steps[s];
    step_rt *r = &e->rt[s];
    pipeline_job *job = &r->job;
    bool started = job->state != JOB_FAILED_TO_START;
    if (started)
        e->n_active--;
    double secs = (double)(mono_ns() - r->started_ns) / 1e9;
    int rc = txn(e);
    if (rc != KEEL_OK)
        return rc;
    rc = record_attempt_logs(&e->rec, r->step_run, r->attempt, job->log_out, job->log_err,
                                 e->err);
    if (rc != KEEL_OK)
        return rc;
    if (job->killed && !r->timed_out && e->stopping) {
        say(e, "cancel  %s", st->name);
        return finish(e, s, ST_CANCELLED, e->cancelled ? "cancelled" : "stopped after a failure",
                      started, job->exit_code);
    }
    const char *reason = NULL;
    if (!started)
        reason = keel_arena_strdup(e->a, job->detail);
    else if (r->timed_out)
        reason = keel_arena_sprintf(e->a, "timed out after %gs", st->timeout_s);
    else if (job->exit_code == 127 && strcmp(e->executor_name, "local") == 0)
        reason = "exit 127: command not found";
    else if (job->exit_code != 0)
        reason = keel_arena_sprintf(e->a, "exit %d%s%s", job->exit_code,
                                    job->detail[0] ? ", " : "", job->detail);
    if (reason == NULL) {
        json_t *manifest = NULL;
        keel_err out_err;
        if (pipeline_outs_store(e->ws, e->p, st, &manifest, &out_err) == KEEL_OK) {
            r->manifest = manifest;
            say(e, "done    %s (%.2fs)", st->name, secs);
            return finish(e, s, ST_SUCCEEDED, NULL, true, 0);
        }
        reason = keel_arena_strdup(e->a, out_err.msg);
    }
    if (r->attempt <= st->retries && !e->stopping) {
        double wait = st->backoff_s * pow(2, r->attempt - 1);
        r->status = ST_RETRY_WAIT;
        r->retry_at_ns = mono_ns() + (int64_t)(wait * 1e9);
        say(e, "retry   %s: %s; attempt %d of %d in %.1fs", st->name, reason, r->attempt + 1,
            st->retries + 1, wait);
        return KEEL_OK;
    }
    say(e, "FAILED  %s: %s (attempt %d; logs: keel pipeline logs %s %s)", st->name, reason,
        r->attempt, e->rec.run_id, st->name);
    if (started)
        show_tail(e, job->log_err);
    e->failed = true;
    rc = finish(e, s, ST_FAILED, reason, started, job->exit_code);
    if (!e->o->keep_going)
        stop_all(e);
    return rc;
}

/* ---- the loop ---- */

static int wait_timeout_ms(engine *e)
{
    int64_t now = mono_ns(), next = -1;
    live_prune(e);
    for (size_t k = 0; k < e->n_live; k++) {
        const step_rt *r = &e->rt[e->live[k]];
        int64_t t = r->status == ST_RUNNING && r->deadline_ns > 0 && !r->timed_out
                        ? r->deadline_ns
                    : r->status == ST_RETRY_WAIT ? r->retry_at_ns
                                                 : -1;
        if (t >= 0 && (next < 0 || t < next))
            next = t;
    }
    int ms = next < 0 ? -1 : (int)((next - now + 999999) / 1000000);
    if (ms < 0 && next >= 0)
        ms = 0;
    bool need_poll = e->n_active > 0 && (e->ex->ops->poll_ms > 0) &&
                     (strcmp(e->executor_name, "local") != 0 || e->stopping ||
                      next >= 0);
    if (need_poll && (ms < 0 || ms > e->ex->ops->poll_ms))
        ms = e->ex->ops->poll_ms;
    if (e->o->tty && e->n_active > 0 && (ms < 0 || ms > 1000))
        ms = 1000;
    return ms;
}

static int handle_signals(engine *e)
{
    struct signalfd_siginfo si;
    while (read(e->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGCHLD)
            continue;
        if (!e->cancelled) {
            say(e, "cancel requested (%s): stopping %zu running step(s)",
                strsignal((int)si.ssi_signo), e->n_active);
            e->cancelled = true;
            e->sum->cancelled = true;
        }
        stop_all(e);
    }
    return KEEL_OK;
}

static int turn(engine *e)
{
    int rc = handle_signals(e);
    pipeline_job *ended[64];
    int n = e->ex->ops->reap(e->ex, ended, 64, e->err);
    if (n < 0) {
        stop_all(e);
        return KEEL_EIO;
    }
    for (int i = 0; i < n && rc == KEEL_OK; i++)
        rc = job_ended(e, ended[i]->step);
    int64_t now = mono_ns();
    live_prune(e);
    for (size_t k = 0, n_live = e->n_live; k < n_live && rc == KEEL_OK; k++) {
        size_t i = e->live[k];
        step_rt *r = &e->rt[i];
        if (r->status == ST_RUNNING && r->deadline_ns > 0 && !r->timed_out &&
            now >= r->deadline_ns) {
            r->timed_out = true;
            e->ex->ops->cancel(e->ex, &r->job);
        } else if (r->status == ST_RETRY_WAIT && (e->stopping || now >= r->retry_at_ns)) {
            if (e->stopping) {
                rc = finish(e, i, e->cancelled ? ST_CANCELLED : ST_SKIPPED,
                            e->cancelled ? "cancelled" : "stopped after a failure", false, 0);
            } else {
                rc = start_attempt(e, i);
                if (rc == KEEL_OK && r->job.state == JOB_FAILED_TO_START)
                    rc = job_ended(e, i);
            }
        }
    }
    return rc;
}

static bool has_retry_waiting(const engine *e)
{
    for (size_t i = 0; i < e->n_live; i++)
        if (e->rt[e->live[i]].status == ST_RETRY_WAIT)
            return true;
    return false;
}

/* Records are committed at most COMMIT_NS after the first write of a
 * transaction, and before the loop sleeps past that: a burst of finished or
 * cached steps costs one commit, and the write lock is never held while
 * nothing happens. A crash loses at most that window of records — of steps
 * that then run again on --resume; nothing is ever recorded that did not
 * happen. */
#define COMMIT_NS 50000000ll

static int commit(engine *e)
{
    if (!e->in_txn)
        return KEEL_OK;
    e->in_txn = false;
    return keel_store_commit(e->ws->store, e->err);
}

static int loop(engine *e)
{
    int rc = KEEL_OK;
    size_t max_fds = 1 + 2 * e->limit;
    struct pollfd *fds = keel_arena_alloc(e->a, max_fds * sizeof *fds);
    for (;;) {
        rc = dispatch(e);
        if (rc == KEEL_OK && !e->o->dry_run)
            rc = turn(e);
        if (rc == KEEL_OK)
            rc = dispatch(e);
        if (rc != KEEL_OK) {
            if (e->in_txn)
                keel_store_rollback(e->ws->store);
            e->in_txn = false;
            return rc;
        }
        status_line(e, false);
        bool more_ready = !e->stopping && e->ready_head < e->ready_tail;
        bool done = e->n_active == 0 && !more_ready && !has_retry_waiting(e);
        int64_t now = mono_ns();
        if ((done || now - e->txn_start_ns >= COMMIT_NS) && (rc = commit(e)) != KEEL_OK)
            return rc;
        if (done)
            return KEEL_OK;
        if (e->o->dry_run || (more_ready && e->n_active < e->limit))
            continue;
        int timeout = wait_timeout_ms(e);
        if (e->in_txn) {
            int left = (int)((e->txn_start_ns + COMMIT_NS - now + 999999) / 1000000);
            if (timeout < 0 || timeout > left)
                timeout = left > 0 ? left : 0;
        }
        fds[0] = (struct pollfd){ e->sfd, POLLIN, 0 };
        size_t n_fds = 1;
        if (e->ex->ops->poll_fds != NULL)
            n_fds += e->ex->ops->poll_fds(e->ex, fds + 1, max_fds - 1);
        if (poll(fds, n_fds, timeout) < 0 && errno != EINTR) {
            if (e->in_txn)
                keel_store_rollback(e->ws->store);
            e->in_txn = false;
            return keel_errf(e->err, KEEL_EIO, "poll: %s", strerror(errno));
        }
    }
}

/* Steps never reached: skipped behind a failure, or cancelled. */
static int close_out(engine *e)
{
    int rc = txn(e);
    for (size_t i = 0; i < e->p->n_steps && rc == KEEL_OK; i++) {
        step_rt *r = &e->rt[i];
        if (r->status != ST_PENDING)
            continue;
        const char *why = e->cancelled ? "cancelled" : "an upstream step failed";
        const keel_pipeline_step *st = &e->p->steps[i];
        for (size_t k = 0; k < st->n_needs && !e->cancelled; k++) {
            enum step_status ns = e->rt[st->needs[k]].status;
            if (ns == ST_FAILED || ns == ST_SKIPPED || ns == ST_CANCELLED) {
                why = keel_arena_sprintf(e->a, "needs '%s', which %s",
                                         e->p->steps[st->needs[k]].name,
                                         ns == ST_FAILED ? "failed" : "did not run");
                break;
            }
        }
        if (!e->cancelled && e->stopping && r->waiting == 0)
            why = "stopped after a failure";
        rc = finish(e, i, e->cancelled ? ST_CANCELLED : ST_SKIPPED, why, false, 0);
    }
    if (rc != KEEL_OK) {
        if (e->in_txn)
            keel_store_rollback(e->ws->store);
        e->in_txn = false;
        return rc;
    }
    return commit(e);
}

static int setup_signals(engine *e, sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, old) != 0)
        return keel_errf(e->err, KEEL_EIO, "sigprocmask: %s", strerror(errno));
    e->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (e->sfd < 0) {
        sigprocmask(SIG_SETMASK, old, NULL);
        return keel_errf(e->err, KEEL_EIO, "signalfd: %s", strerror(errno));
    }
    return KEEL_OK;
}

/* Marks steps a resumed run already finished well as done. */
static void apply_resume(engine *e, char **statuses)
{
    for (size_t i = 0; i < e->p->n_steps; i++) {
        if (statuses[i] == NULL ||
            (strcmp(statuses[i], "SUCCEEDED") != 0 && strcmp(statuses[i], "CACHED") != 0))
            continue;
        /* A step whose outputs were deleted since runs again (from the cache
         * when it can). */
        bool outs_present = true;
        for (size_t k = 0; k < e->p->steps[i].n_outs && outs_present; k++) {
            struct stat sb;
            outs_present = stat(keel_arena_sprintf(e->a, "%s/%s", e->p->dir,
                                                   e->p->steps[i].outs[k]), &sb) == 0;
        }
        if (!outs_present)
            continue;
        e->rt[i].status = strcmp(statuses[i], "CACHED") == 0 ? ST_CACHED : ST_SUCCEEDED;
        e->n_final++;
        if (e->rt[i].status == ST_CACHED)
            e->sum->n_cached++;
        else
            e->sum->n_succeeded++;
    }
    for (size_t i = 0; i < e->p->n_steps; i++)
        if (e->rt[i].status == ST_SUCCEEDED || e->rt[i].status == ST_CACHED)
            for (size_t k = 0; k < e->p->steps[i].n_dependents; k++)
                e->rt[e->p->steps[i].dependents[k]].waiting--;
}

int keel_pipeline_run(keel_workspace *ws, const keel_pipeline *p, const keel_run_options *o,
                      keel_arena *a, keel_run_summary *sum, keel_err *err)
{
    if (ws == NULL || p == NULL || o == NULL || a == NULL || sum == NULL)
        return keel_errf(err, KEEL_EINVAL, "keel_pipeline_run: NULL argument");
    memset(sum, 0, sizeof *sum);
    engine e = { .ws = ws, .p = p, .o = o, .a = a, .err = err, .sfd = -1, .sum = sum,
                 .out = o->out != NULL ? o->out : stdout };
    e.executor_name = o->executor != NULL ? o->executor : "local";
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    e.limit = o->jobs > 0 ? (size_t)o->jobs : cores > 0 ? (size_t)cores : 1;
    e.rec = (pipeline_recorder){ .ws = ws, .p = p, .a = a };
    e.rt = keel_arena_alloc(a, p->n_steps * sizeof *e.rt);
    e.ready = keel_arena_alloc(a, (p->n_steps + 1) * sizeof *e.ready);
    e.live = keel_arena_alloc(a, (p->n_steps + 1) * sizeof *e.live);
    sum->actions = keel_arena_alloc(a, p->n_steps * sizeof *sum->actions);
    sum->reasons = keel_arena_alloc(a, p->n_steps * sizeof *sum->reasons);
    for (size_t i = 0; i < p->n_steps; i++)
        e.rt[i].waiting = p->steps[i].n_needs;
    int rc = KEEL_OK;
    if (!o->dry_run && (rc = pipeline_executor_new(e.executor_name, p, &e.ex, err)) != KEEL_OK)
        return rc;
    if (e.ex != NULL && strcmp(e.executor_name, "slurm") == 0 && o->jobs <= 0)
        e.limit = 64;
    sigset_t old_mask;
    bool signals = false;
    if (o->dry_run) {
        e.rec.run_id = "dry-run";
    } else if (o->resume_run_id != NULL) {
        char **statuses = keel_arena_alloc(a, p->n_steps * sizeof *statuses);
        rc = record_run_resume(&e.rec, o->resume_run_id, e.executor_name, statuses, err);
        if (rc == KEEL_OK)
            apply_resume(&e, statuses);
    } else {
        rc = record_run_begin(&e.rec, o, e.executor_name, err);
    }
    if (rc == KEEL_OK && o->run_id_file != NULL)
        rc = keel_write_file_atomic(o->run_id_file, e.rec.run_id, strlen(e.rec.run_id), err);
    if (rc == KEEL_OK && !o->dry_run) {
        e.log_dir = keel_arena_sprintf(a, "%s/pipelines/%s", ws->home, e.rec.run_id);
        rc = keel_mkdir_p(e.log_dir, err);
    }
    if (rc == KEEL_OK && !o->dry_run && (rc = setup_signals(&e, &old_mask)) == KEEL_OK)
        signals = true;
    if (rc == KEEL_OK)
        rc = build_base_env(&e);
    sum->run_id = e.rec.run_id;
    e.t0 = mono_ns();
    if (rc == KEEL_OK) {
        if (!o->dry_run)
            say(&e, "pipeline %s: run %s, %zu steps, executor %s, up to %zu at once", p->name,
                e.rec.run_id, p->n_steps, e.executor_name, e.limit);
        for (size_t i = 0; i < p->n_steps; i++)
            if (e.rt[i].waiting == 0 && e.rt[i].status == ST_PENDING)
                enqueue(&e, i);
        rc = loop(&e);
        if (rc != KEEL_OK) {
            /* The engine itself failed (store, executor): stop what runs and
             * record the run as failed, keeping the original error. */
            keel_err saved = *err;
            stop_all(&e);
            e.cancelled = true;
            while (e.ex != NULL && e.n_active > 0) {
                pipeline_job *ended[64];
                int n = e.ex->ops->reap(e.ex, ended, 64, err);
                if (n <= 0) {
                    poll(NULL, 0, 100);
                    if (n < 0)
                        break;
                }
                for (int i = 0; i < n; i++)
                    job_ended(&e, ended[i]->step);
            }
            *err = saved;
        }
        int crc = close_out(&e);
        if (rc == KEEL_OK)
            rc = crc;
        if (!o->dry_run) {
            keel_err end_err;
            const char *status = e.cancelled ? "CANCELLED" : e.failed || rc != KEEL_OK
                                                                 ? "FAILED" : "SUCCEEDED";
            record_run_end(&e.rec, status, &end_err);
            if (o->tty)
                fputs("\r\033[K", e.out);
            fprintf(e.out, "pipeline %s %s in %.2fs: %zu run, %zu cached, %zu failed, "
                           "%zu cancelled, %zu skipped (run %s)\n",
                    p->name, status, (double)(mono_ns() - e.t0) / 1e9, sum->n_succeeded,
                    sum->n_cached, sum->n_failed, sum->n_cancelled, sum->n_skipped,
                    e.rec.run_id);
        }
    }
    for (size_t i = 0; i < p->n_steps; i++) {
        step_rt *r = &e.rt[i];
        sum->actions[i] = r->status == ST_CACHED ? "cached"
                          : r->status == ST_FAILED ? "fail"
                          : r->status == ST_SUCCEEDED ? (o->dry_run ? "run" : "ran")
                          : r->status == ST_SKIPPED ? "skip" : "cancel";
        sum->reasons[i] = r->reason != NULL ? r->reason : "";
        json_decref(r->inputs);
        json_decref(r->manifest);
    }
    if (signals) {
        close(e.sfd);
        /* Drain pending SIGCHLDs before unblocking so none is delivered. */
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        struct timespec zero = { 0, 0 };
        while (sigtimedwait(&chld, NULL, &zero) > 0)
            ;
        sigprocmask(SIG_SETMASK, &old_mask, NULL);
    }
    pipeline_executor_destroy(e.ex);
    if (rc == KEEL_OK && (sum->n_failed > 0 || sum->cancelled))
        rc = keel_errf(err, KEEL_ESTATE, "pipeline %s %s: %zu step(s) failed",
                       p->name, sum->cancelled ? "cancelled" : "failed", sum->n_failed);
    return rc;
}
