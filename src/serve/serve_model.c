/*
 * serve_model.c — loading a model version for serving (from the registry, a
 * bundle directory or a bare XGBoost file), reference counting, and the
 * atomic swap behind hot reload and canaries.
 *
 * Invariant: a request holds a reference to the served_model it started
 * with, so a reload can swap a slot's pointer at any moment and the old
 * version is freed only when its last request finishes.
 */
#include "serve.h"

#include <keel/json.h>
#include <keel/registry.h>
#include <keel/util.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#define BUNDLE_MAX ((size_t)1 << 31)

static int read_artifact(keel_workspace *ws, const char *run_id, const char *path, char **out,
                         size_t *len, keel_err *err)
{
    char hash[KEEL_SHA256_HEX_LEN + 1];
    int64_t size = 0;
    int rc = keel_artifacts_stat(ws->store, run_id, path, hash, &size, err);
    if (rc == KEEL_OK)
        rc = keel_cas_get_bytes(ws->cas, hash, BUNDLE_MAX, out, len, err);
    return rc;
}

static int finish_load(served_model *m, const char *model_json, size_t model_len,
                       const char *manifest_json, size_t manifest_len, keel_err *err)
{
    int rc = keel_model_load(model_json, model_len, &m->runtime, err);
    if (rc != KEEL_OK || manifest_json == NULL)
        return rc;
    rc = keel_json_parse(manifest_json, manifest_len, KEEL_JSON_MAX_DEPTH, &m->manifest, err);
    if (rc == KEEL_OK)
        rc = keel_encoder_from_json(json_object_get(m->manifest, "encoder"), &m->enc, err);
    if (rc != KEEL_OK)
        return keel_err_prefix(err, "bundle keel.json");
    if (m->enc->n_features != keel_model_num_features(m->runtime) &&
        keel_model_num_features(m->runtime) > m->enc->n_features)
        return keel_errf(err, KEEL_ECORRUPT, "bundle: the model reads %zu features, the encoder "
                         "makes %zu", keel_model_num_features(m->runtime), m->enc->n_features);
    const json_t *target = json_object_get(m->manifest, "target");
    const char *task = json_string_value(json_object_get(target, "task"));
    m->task = task != NULL ? task : "unknown";
    m->classes = json_object_get(target, "classes");
    m->input_types = calloc(m->enc->n_cols + 1, sizeof *m->input_types);
    if (m->input_types == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    for (size_t i = 0; i < m->enc->n_cols; i++)
        m->input_types[i] = m->enc->cols[i].type;
    m->mon = monitor_new(m->manifest, m->enc, m->task);
    return KEEL_OK;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL && slash[1] != '\0' ? slash + 1 : path;
}

static int load_from_path(served_model *m, const char *path, keel_err *err)
{
    char *model = NULL, *manifest = NULL;
    size_t model_len = 0, manifest_len = 0;
    int rc;
    if (keel_path_is_dir(path)) {
        char file[4096 + 32];
        snprintf(file, sizeof file, "%s/model.json", path);
        rc = keel_read_file(file, BUNDLE_MAX, &model, &model_len, err);
        snprintf(file, sizeof file, "%s/keel.json", path);
        if (rc == KEEL_OK)
            rc = keel_read_file(file, BUNDLE_MAX, &manifest, &manifest_len, err);
    } else {
        rc = keel_read_file(path, BUNDLE_MAX, &model, &model_len, err);
    }
    if (rc == KEEL_OK)
        rc = finish_load(m, model, model_len, manifest, manifest_len, err);
    free(model);
    free(manifest);
    m->name = strdup(base_name(path));
    snprintf(m->version_text, sizeof m->version_text, "file");
    if (m->task == NULL)
        m->task = "unknown";
    return rc;
}

static int load_from_registry(served_model *m, keel_workspace *ws, const char *uri,
                              keel_err *err)
{
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_model_version v;
    const char *run_id = NULL, *path = NULL;
    char *model = NULL, *manifest = NULL;
    size_t model_len = 0, manifest_len = 0;
    int rc = keel_model_uri_resolve(ws->store, uri, &a, &v, err);
    if (rc == KEEL_OK)
        rc = keel_model_version_artifacts(&v, &a, &run_id, &path, err);
    if (rc == KEEL_OK)
        rc = read_artifact(ws, run_id, keel_arena_sprintf(&a, "%s/model.json", path), &model,
                           &model_len, err);
    if (rc == KEEL_OK)
        rc = read_artifact(ws, run_id, keel_arena_sprintf(&a, "%s/keel.json", path), &manifest,
                           &manifest_len, err);
    if (rc == KEEL_OK)
        rc = finish_load(m, model, model_len, manifest, manifest_len, err);
    if (rc == KEEL_OK) {
        m->name = strdup(v.name);
        m->version = v.version;
        snprintf(m->version_text, sizeof m->version_text, "%lld", (long long)v.version);
    }
    free(model);
    free(manifest);
    keel_arena_free(&a);
    if (rc != KEEL_OK)
        keel_err_prefix(err, "%s", uri);
    return rc;
}

int served_model_load(keel_workspace *ws, const char *ref, served_model **out, keel_err *err)
{
    served_model *m = calloc(1, sizeof *m);
    if (m == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    atomic_init(&m->refs, 1);
    int rc;
    if (strncmp(ref, "models:/", 8) == 0) {
        rc = load_from_registry(m, ws, ref, err);
    } else if (keel_path_exists(ref)) {
        rc = load_from_path(m, ref, err);
    } else if (strchr(ref, '@') != NULL) {
        char uri[1024];
        snprintf(uri, sizeof uri, "models:/%s", ref);
        rc = load_from_registry(m, ws, uri, err);
    } else {
        rc = keel_errf(err, KEEL_ENOTFOUND, "model '%s' is not a file, a directory, NAME@ALIAS "
                       "or models:/…", ref);
    }
    if (rc != KEEL_OK) {
        served_model_release(m);
        return rc;
    }
    *out = m;
    return KEEL_OK;
}

void served_model_release(served_model *m)
{
    if (m == NULL || atomic_fetch_sub(&m->refs, 1) != 1)
        return;
    keel_model_free(m->runtime);
    monitor_free(m->mon);
    keel_encoder_destroy(m->enc);
    json_decref(m->manifest);
    free(m->input_types);
    free(m->name);
    free(m);
}

static served_model *take(model_slot *slot, served_model *m)
{
    if (m != NULL)
        atomic_fetch_add(&m->refs, 1);
    (void)slot;
    return m;
}

served_model *slot_acquire(model_slot *slot, const char **role)
{
    uint64_t n = atomic_fetch_add(&slot->counter, 1);
    pthread_mutex_lock(&slot->lock);
    served_model *m;
    if (slot->canary != NULL && (int)(n % 100) < slot->canary_percent) {
        m = take(slot, slot->canary);
        *role = "canary";
    } else {
        m = take(slot, slot->current);
        *role = "primary";
    }
    pthread_mutex_unlock(&slot->lock);
    return m;
}

void slot_acquire_answering(model_slot *slot, served_model *out[2])
{
    pthread_mutex_lock(&slot->lock);
    out[0] = take(slot, slot->current);
    out[1] = take(slot, slot->canary);
    pthread_mutex_unlock(&slot->lock);
}

served_model *slot_acquire_shadow(model_slot *slot)
{
    pthread_mutex_lock(&slot->lock);
    served_model *m = take(slot, slot->shadow);
    pthread_mutex_unlock(&slot->lock);
    return m;
}

/* Reloads one role of a slot when its alias points at another version. */
static void refresh(serve_app *app, model_slot *slot, const char *ref, served_model **which)
{
    keel_err err;
    char uri[1024];
    snprintf(uri, sizeof uri, "%s%s", strncmp(ref, "models:/", 8) == 0 ? "" : "models:/", ref);
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_model_version v;
    int rc = keel_model_uri_resolve(app->ws->store, uri, &a, &v, &err);
    pthread_mutex_lock(&slot->lock);
    int64_t have = *which != NULL ? (*which)->version : -1;
    pthread_mutex_unlock(&slot->lock);
    keel_arena_free(&a);
    if (rc != KEEL_OK || v.version == have)
        return;
    served_model *fresh = NULL;
    if (served_model_load(app->ws, ref, &fresh, &err) != KEEL_OK) {
        atomic_fetch_add(&slot->reload_failures, 1);
        keel_log(KEEL_LOG_ERROR, "reload of %s failed, still serving version %lld: %s", ref,
                 (long long)have, err.msg);
        return;
    }
    pthread_mutex_lock(&slot->lock);
    served_model *old = *which;
    *which = fresh;
    pthread_mutex_unlock(&slot->lock);
    served_model_release(old);
    atomic_fetch_add(&slot->reloads, 1);
    keel_log(KEEL_LOG_INFO, "%s: now serving version %lld (was %lld)", ref, (long long)v.version,
             (long long)have);
}

bool serve_sleep(serve_app *app, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)ms * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&app->stop_lock);
    /* One timed wait: a spurious wake-up only makes a tick early. */
    if (!app->stopping)
        pthread_cond_timedwait(&app->stop_cond, &app->stop_lock, &until);
    bool go_on = !app->stopping;
    pthread_mutex_unlock(&app->stop_lock);
    return go_on;
}

void serve_request_stop(serve_app *app)
{
    pthread_mutex_lock(&app->stop_lock);
    app->stopping = true;
    pthread_cond_broadcast(&app->stop_cond);
    pthread_mutex_unlock(&app->stop_lock);
}

static void *watch_loop(void *arg)
{
    serve_app *app = arg;
    while (serve_sleep(app, app->poll_ms)) {
        for (size_t i = 0; i < app->n_slots; i++) {
            model_slot *slot = &app->slots[i];
            if (slot->follows_alias)
                refresh(app, slot, slot->ref, &slot->current);
            if (slot->canary_ref != NULL && strchr(slot->canary_ref, '@') != NULL)
                refresh(app, slot, slot->canary_ref, &slot->canary);
            if (slot->shadow_ref != NULL && strchr(slot->shadow_ref, '@') != NULL)
                refresh(app, slot, slot->shadow_ref, &slot->shadow);
        }
    }
    return NULL;
}

int serve_watch_start(serve_app *app, keel_err *err)
{
    if (pthread_create(&app->watcher, NULL, watch_loop, app) != 0)
        return keel_errf(err, KEEL_EINTERNAL, "cannot start the reload thread");
    app->watching = true;
    return KEEL_OK;
}

void serve_watch_stop(serve_app *app)
{
    if (!app->watching)
        return;
    serve_request_stop(app);
    pthread_join(app->watcher, NULL);
    app->watching = false;
}
