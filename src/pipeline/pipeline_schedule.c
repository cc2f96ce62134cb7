/*
 * pipeline_schedule.c — cron schedules of pipelines, checked by a thread of
 * `keel server`.
 *
 * For each pipeline with a schedule, table pipeline_schedules remembers the
 * last time it was checked. A check at `now` looks at the fire times in
 * (last_check, now]: one within the last SCHEDULE_SLACK_S seconds is on time
 * and starts a run; older ones were missed (no server was up) — they are
 * reported and counted, and with `catchup: true` one run makes up for all of
 * them. A pipeline seen for the first time starts its count at `now`, so a
 * new schedule never fires for the past. The thread sleeps until the next
 * fire time of any pipeline (at most SCHEDULE_MAX_SLEEP_S, so edits to
 * keel.yaml are picked up), and wakes at once to stop.
 */
#include "pipeline_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCHEDULE_SLACK_S 90
#define SCHEDULE_MAX_SLEEP_S 30
#define SCHEDULE_MAX_COUNT 100000

struct keel_scheduler {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stopping;
    keel_store *store;
    char *home, *file;
};

static void fmt_utc(int64_t t, char *out, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, size, "%Y-%m-%d %H:%M UTC", &tm);
}

/* Checks one pipeline; returns 1 when it started a run. */
static int check_one(keel_store *store, const char *home, const char *file,
                     const keel_pipeline *p, int64_t now, FILE *log, keel_err *err)
{
    keel_cron cron;
    if (keel_cron_parse(p->schedule, &cron, err) != KEEL_OK)
        return -1;
    keel_stmt *q = NULL;
    int rc = keel_store_prepare(store, "SELECT last_check FROM pipeline_schedules WHERE "
                                       "pipeline = ?", true, &q, err);
    if (rc != KEEL_OK)
        return -1;
    keel_stmt_bind_text(q, 1, p->name, -1);
    bool known = keel_stmt_step(q, err) == KEEL_STEP_ROW;
    int64_t last = known ? keel_stmt_int64(q, 0) : now;
    keel_stmt_release(q);
    if (!known)
        return keel_store_execv(store, "INSERT INTO pipeline_schedules (pipeline, last_check) "
                                       "VALUES (?, ?)", NULL, err, "ti", p->name, now) == KEEL_OK
                   ? 0 : -1;
    int64_t missed = 0, first_missed = -1, last_missed = -1;
    bool on_time = false;
    for (int64_t t = keel_cron_next(&cron, last); t >= 0 && t <= now;
         t = keel_cron_next(&cron, t)) {
        if (now - t <= SCHEDULE_SLACK_S) {
            on_time = true;
        } else if (missed < SCHEDULE_MAX_COUNT) {
            missed++;
            if (first_missed < 0)
                first_missed = t;
            last_missed = t;
        } else {
            break;
        }
    }
    char run_id[33] = "";
    bool run = on_time || (missed > 0 && p->catchup);
    if (missed > 0 && log != NULL) {
        char a[40], b[40];
        fmt_utc(first_missed, a, sizeof a);
        fmt_utc(last_missed, b, sizeof b);
        fprintf(log, "keel scheduler: pipeline %s missed %lld scheduled run(s) from %s to %s "
                     "while no server was up%s\n", p->name, (long long)missed, a, b,
                p->catchup ? "; catchup: running it once now" : " (catchup is off)");
    }
    int started = 0;
    if (run) {
        keel_pipeline_trigger_opts t = { .home = home, .file = file, .workdir = p->dir,
                                         .pipeline = p->name, .trigger = "schedule" };
        keel_err trigger_err;
        if (keel_pipeline_trigger(&t, run_id, &trigger_err) == KEEL_OK) {
            started = 1;
            if (log != NULL)
                fprintf(log, "keel scheduler: started pipeline %s (run %s)\n", p->name, run_id);
        } else if (log != NULL) {
            fprintf(log, "keel scheduler: pipeline %s did not start: %s\n", p->name,
                    trigger_err.msg);
        }
    }
    rc = keel_store_execv(store, "UPDATE pipeline_schedules SET last_check = ?, missed = missed + "
                                 "?, last_run_id = COALESCE(?, last_run_id) WHERE pipeline = ?",
                          NULL, err, "iitt", now, missed, started ? run_id : NULL, p->name);
    return rc == KEEL_OK ? started : -1;
}

int keel_scheduler_check(keel_store *store, const char *home, const char *file, int64_t now,
                         FILE *log, keel_err *err)
{
    keel_arena a;
    keel_arena_init(&a, 0);
    const char **names = NULL;
    size_t n = 0;
    int rc = keel_pipeline_names(file, &a, &names, &n, err);
    int started = 0;
    for (size_t i = 0; rc == KEEL_OK && i < n; i++) {
        keel_pipeline *p = NULL;
        keel_err load_err;
        if (keel_pipeline_load(file, names[i], NULL, 0, &p, &load_err) != KEEL_OK) {
            /* One broken pipeline must not stop the others' schedules. */
            if (log != NULL)
                fprintf(log, "keel scheduler: %s\n", load_err.msg);
            continue;
        }
        if (p->schedule != NULL) {
            int r = check_one(store, home, file, p, now, log, err);
            if (r < 0)
                rc = err->code != KEEL_OK ? err->code : KEEL_EINTERNAL;
            else
                started += r;
        }
        keel_pipeline_free(p);
    }
    keel_arena_free(&a);
    return rc == KEEL_OK ? started : -1;
}

/* Seconds until the next fire time of any scheduled pipeline. */
static int64_t next_sleep(const char *file, int64_t now)
{
    keel_arena a;
    keel_arena_init(&a, 0);
    const char **names = NULL;
    size_t n = 0;
    keel_err err;
    int64_t best = SCHEDULE_MAX_SLEEP_S;
    if (keel_pipeline_names(file, &a, &names, &n, &err) == KEEL_OK) {
        for (size_t i = 0; i < n; i++) {
            keel_pipeline *p = NULL;
            if (keel_pipeline_load(file, names[i], NULL, 0, &p, &err) != KEEL_OK)
                continue;
            keel_cron cron;
            if (p->schedule != NULL && keel_cron_parse(p->schedule, &cron, &err) == KEEL_OK) {
                int64_t t = keel_cron_next(&cron, now);
                if (t >= 0 && t - now < best)
                    best = t - now;
            }
            keel_pipeline_free(p);
        }
    }
    keel_arena_free(&a);
    return best > 0 ? best : 1;
}

static void *scheduler_loop(void *arg)
{
    keel_scheduler *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        pthread_mutex_unlock(&s->lock);
        keel_err err;
        int64_t now = (int64_t)time(NULL);
        if (keel_scheduler_check(s->store, s->home, s->file, now, stderr, &err) < 0)
            fprintf(stderr, "keel scheduler: %s\n", err.msg);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += next_sleep(s->file, (int64_t)until.tv_sec);
        until.tv_nsec = 0;
        pthread_mutex_lock(&s->lock);
        while (!s->stopping &&
               pthread_cond_timedwait(&s->cond, &s->lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int keel_scheduler_start(const char *store_uri, const char *home, const char *file,
                         keel_scheduler **out, keel_err *err)
{
    keel_scheduler *s = calloc(1, sizeof *s);
    if (s == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    s->home = strdup(home);
    s->file = strdup(file);
    int rc = s->home != NULL && s->file != NULL ? keel_store_open(store_uri, &s->store, err)
                                                : keel_errf(err, KEEL_ENOMEM, "out of memory");
    if (rc == KEEL_OK) {
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->cond, NULL);
        if (pthread_create(&s->thread, NULL, scheduler_loop, s) != 0) {
            rc = keel_errf(err, KEEL_EIO, "cannot start the scheduler thread");
            pthread_mutex_destroy(&s->lock);
            pthread_cond_destroy(&s->cond);
        }
    }
    if (rc != KEEL_OK) {
        keel_store_close(s->store);
        free(s->home);
        free(s->file);
        free(s);
        return rc;
    }
    *out = s;
    return KEEL_OK;
}

void keel_scheduler_stop(keel_scheduler *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    keel_store_close(s->store);
    free(s->home);
    free(s->file);
    free(s);
}
