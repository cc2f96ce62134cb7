/*
 * serve_log.c — the prediction log: requests' inputs and outputs, written as
 * JSON lines by a background thread so a slow disk never slows a request.
 * The queue is bounded; when it is full a record is dropped (never a
 * request) and counted. Sampling keeps a fraction of requests.
 */
#include "serve.h"

#include <keel/util.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_MAX_FILES 64

typedef struct log_item {
    char *model;
    char *line;
} log_item;

struct prediction_log {
    char dir[4096];
    log_item *ring;
    size_t capacity, head, count;
    double sample;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    pthread_t writer;
    atomic_uint_fast64_t dropped, written;
    atomic_uint_fast64_t sample_state;
    struct { char *model; FILE *f; } files[LOG_MAX_FILES];
    size_t n_files;
};

static FILE *file_for(prediction_log *log, const char *model)
{
    for (size_t i = 0; i < log->n_files; i++)
        if (strcmp(log->files[i].model, model) == 0)
            return log->files[i].f;
    if (log->n_files == LOG_MAX_FILES)
        return NULL;
    char path[4096 + 300];
    snprintf(path, sizeof path, "%s/%s.jsonl", log->dir, model);
    FILE *f = fopen(path, "a");
    if (f == NULL) {
        keel_log(KEEL_LOG_ERROR, "prediction log %s: %s", path, strerror(errno));
        return NULL;
    }
    log->files[log->n_files].model = strdup(model);
    log->files[log->n_files].f = f;
    log->n_files++;
    return f;
}

static void *writer_loop(void *arg)
{
    prediction_log *log = arg;
    pthread_mutex_lock(&log->lock);
    for (;;) {
        while (log->count == 0 && !log->stopping)
            pthread_cond_wait(&log->wake, &log->lock);
        if (log->count == 0 && log->stopping)
            break;
        log_item item = log->ring[log->head];
        log->head = (log->head + 1) % log->capacity;
        log->count--;
        bool drained = log->count == 0;
        pthread_mutex_unlock(&log->lock);
        FILE *f = file_for(log, item.model);
        if (f != NULL && fputs(item.line, f) >= 0 && fputc('\n', f) != EOF)
            atomic_fetch_add(&log->written, 1);
        else
            atomic_fetch_add(&log->dropped, 1);
        if (drained)
            for (size_t i = 0; i < log->n_files; i++)
                fflush(log->files[i].f);
        free(item.model);
        free(item.line);
        pthread_mutex_lock(&log->lock);
    }
    pthread_mutex_unlock(&log->lock);
    return NULL;
}

int prediction_log_open(const char *dir, size_t capacity, double sample, prediction_log **out,
                        keel_err *err)
{
    int rc = keel_mkdir_p(dir, err);
    if (rc != KEEL_OK)
        return rc;
    prediction_log *log = calloc(1, sizeof *log);
    if (log == NULL || (log->ring = calloc(capacity, sizeof *log->ring)) == NULL) {
        free(log);
        return keel_errf(err, KEEL_ENOMEM, "out of memory for the prediction log");
    }
    snprintf(log->dir, sizeof log->dir, "%s", dir);
    log->capacity = capacity;
    log->sample = sample;
    atomic_init(&log->sample_state, (uint64_t)keel_monotonic_ns() | 1);
    pthread_mutex_init(&log->lock, NULL);
    pthread_cond_init(&log->wake, NULL);
    if (pthread_create(&log->writer, NULL, writer_loop, log) != 0) {
        free(log->ring);
        free(log);
        return keel_errf(err, KEEL_EINTERNAL, "cannot start the prediction log writer");
    }
    *out = log;
    return KEEL_OK;
}

bool prediction_log_sampled(prediction_log *log)
{
    if (log == NULL)
        return false;
    if (log->sample >= 1.0)
        return true;
    /* xorshift on a shared state: cheap, and exact enough for sampling. */
    uint64_t x = atomic_fetch_add(&log->sample_state, 0x9e3779b97f4a7c15ull);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (double)(x >> 11) * 0x1.0p-53 < log->sample;
}

void prediction_log_push(prediction_log *log, const char *model, char *line)
{
    if (log == NULL || line == NULL) {
        free(line);
        return;
    }
    pthread_mutex_lock(&log->lock);
    if (log->count == log->capacity || log->stopping) {
        pthread_mutex_unlock(&log->lock);
        atomic_fetch_add(&log->dropped, 1);
        free(line);
        return;
    }
    size_t at = (log->head + log->count) % log->capacity;
    log->ring[at].model = strdup(model);
    log->ring[at].line = line;
    log->count++;
    pthread_cond_signal(&log->wake);
    pthread_mutex_unlock(&log->lock);
}

uint64_t prediction_log_dropped(const prediction_log *log)
{
    return log != NULL ? atomic_load(&((prediction_log *)log)->dropped) : 0;
}

uint64_t prediction_log_written(const prediction_log *log)
{
    return log != NULL ? atomic_load(&((prediction_log *)log)->written) : 0;
}

void prediction_log_close(prediction_log *log)
{
    if (log == NULL)
        return;
    pthread_mutex_lock(&log->lock);
    log->stopping = true;
    pthread_cond_signal(&log->wake);
    pthread_mutex_unlock(&log->lock);
    pthread_join(log->writer, NULL);
    for (size_t i = 0; i < log->n_files; i++) {
        fflush(log->files[i].f);
        fsync(fileno(log->files[i].f));
        fclose(log->files[i].f);
        free(log->files[i].model);
    }
    free(log->ring);
    free(log);
}
