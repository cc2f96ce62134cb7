/*
 * serve_monitor_loop.c — the monitor thread of `keel serve` and what it
 * publishes: every MONITOR_TICK_MS it closes the windows that are due (by
 * time or by rows), writes the drift measures and the rolling performance
 * of each model version to the metadata store as time series
 * (monitor_drift, monitor_perf), and evaluates the alert rules. /metrics
 * reads the last closed window of each version.
 *
 * The thread has its own store handle; without a keel home (a model served
 * from a bare path) measures are only on /metrics.
 */
#include "serve.h"

#include <keel/store.h>
#include <keel/util.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MONITOR_TICK_MS 250

static void store_window(keel_store *store, const char *model, served_model *m)
{
    model_monitor *mon = m->mon;
    keel_err err;
    if (keel_store_begin(store, &err) != KEEL_OK) {
        keel_log(KEEL_LOG_WARN, "monitor: %s", err.msg);
        return;
    }
    int rc = KEEL_OK;
    pthread_mutex_lock(&mon->lock);
    const monitor_scores *sc = &mon->scores;
    for (size_t f = 0; rc == KEEL_OK && f < mon->n_features; f++)
        for (size_t k = 0; rc == KEEL_OK && k < MONITOR_N_DRIFT; k++) {
            double v = monitor_drift_value(sc, k, f);
            if (isnan(v))
                continue;
            rc = keel_store_execv(store, "INSERT OR REPLACE INTO monitor_drift (model, version, "
                                         "feature, measure, window_end, value, rows) VALUES "
                                         "(?, ?, ?, ?, ?, ?, ?)", NULL, &err, "ttttidi", model,
                                  m->version_text, mon->features[f].name, monitor_drift_names[k],
                                  sc->window_end_ms, v, (int64_t)sc->rows);
        }
    int64_t end = sc->window_end_ms;
    pthread_mutex_unlock(&mon->lock);
    monitor_perf_values pv;
    monitor_perf_compute(mon, &pv);
    for (size_t i = 0; rc == KEEL_OK && i < MONITOR_N_PERF && pv.n > 0; i++)
        if (!isnan(monitor_perf_value(&pv, i)))
            rc = keel_store_execv(store, "INSERT OR REPLACE INTO monitor_perf (model, version, "
                                         "measure, time, value, n) VALUES (?, ?, ?, ?, ?, ?)",
                                  NULL, &err, "tttidi", model, m->version_text,
                                  monitor_perf_names[i], end, monitor_perf_value(&pv, i),
                                  (int64_t)pv.n);
    if (rc == KEEL_OK)
        rc = keel_store_commit(store, &err);
    else
        keel_store_rollback(store);
    if (rc != KEEL_OK)
        keel_log(KEEL_LOG_WARN, "monitor: storing a window of %s failed: %s", model, err.msg);
}

static void tick(serve_app *app, keel_store *store)
{
    int64_t now = keel_now_ms();
    for (size_t i = 0; i < app->n_slots; i++) {
        model_slot *slot = &app->slots[i];
        served_model *ms[2];
        slot_acquire_answering(slot, ms);
        for (int r = 0; r < 2; r++) {
            served_model *m = ms[r];
            if (m == NULL)
                continue;
            if (m->mon != NULL &&
                monitor_maybe_close(m->mon, now, app->window_ms, app->window_rows,
                                    app->min_rows)) {
                if (store != NULL)
                    store_window(store, slot->name, m);
                if (r == 0 && app->rules != NULL)
                    serve_rules_evaluate(app, store, i, m);
            }
            served_model_release(m);
        }
    }
}

static void *monitor_loop(void *arg)
{
    serve_app *app = arg;
    keel_store *store = NULL;
    if (app->home[0] != '\0') {
        char uri[4200];
        const char *env = getenv("KEEL_STORE_URI");
        snprintf(uri, sizeof uri, "%s", env != NULL ? env : "");
        if (env == NULL)
            snprintf(uri, sizeof uri, "%s/keel.db", app->home);
        keel_err err;
        if (keel_store_open(uri, &store, &err) != KEEL_OK)
            keel_log(KEEL_LOG_WARN, "monitor: no store, measures only on /metrics: %s", err.msg);
    }
    while (serve_sleep(app, MONITOR_TICK_MS))
        tick(app, store);
    keel_store_close(store);
    return NULL;
}

int serve_monitor_start(serve_app *app, keel_err *err)
{
    if (pthread_create(&app->monitor_thread, NULL, monitor_loop, app) != 0)
        return keel_errf(err, KEEL_EINTERNAL, "cannot start the monitor thread");
    app->monitoring = true;
    return KEEL_OK;
}

void serve_monitor_stop(serve_app *app)
{
    if (!app->monitoring)
        return;
    serve_request_stop(app);
    pthread_join(app->monitor_thread, NULL);
    app->monitoring = false;
}

static void model_metrics(keel_buf *b, const char *slot, served_model *m)
{
    model_monitor *mon = m->mon;
    pthread_mutex_lock(&mon->lock);
    const monitor_scores *sc = &mon->scores;
    if (sc->valid) {
        for (size_t f = 0; f < mon->n_features; f++) {
            for (size_t k = 0; k < MONITOR_N_DRIFT; k++) {
                double v = monitor_drift_value(sc, k, f);
                if (!isnan(v))
                    keel_buf_printf(b, "keel_feature_drift{model=\"%s\",version=\"%s\","
                                       "feature=\"%s\",measure=\"%s\"} %.9g\n", slot,
                                    m->version_text, mon->features[f].name, monitor_drift_names[k], v);
            }
            keel_buf_printf(b, "keel_feature_out_of_range{model=\"%s\",version=\"%s\","
                               "feature=\"%s\"} %llu\n", slot, m->version_text,
                            mon->features[f].name, (unsigned long long)sc->out_of_range[f]);
        }
        keel_buf_printf(b, "keel_monitor_window_rows{model=\"%s\",version=\"%s\"} %llu\n",
                        slot, m->version_text, (unsigned long long)sc->rows);
    }
    pthread_mutex_unlock(&mon->lock);
    monitor_perf_values pv;
    monitor_perf_compute(mon, &pv);
    for (size_t i = 0; i < MONITOR_N_PERF && pv.n > 0; i++)
        if (!isnan(monitor_perf_value(&pv, i)))
            keel_buf_printf(b, "keel_model_performance{model=\"%s\",version=\"%s\","
                               "measure=\"%s\"} %.9g\n", slot, m->version_text,
                            monitor_perf_names[i], monitor_perf_value(&pv, i));
    if (pv.n > 0)
        keel_buf_printf(b, "keel_model_performance_labels{model=\"%s\",version=\"%s\"} %zu\n",
                        slot, m->version_text, pv.n);
}

void serve_monitor_metrics(serve_app *app, keel_buf *b)
{
    keel_buf_puts(b, "# HELP keel_feature_drift Drift of a feature in the last closed window "
                     "against the training reference.\n# TYPE keel_feature_drift gauge\n"
                     "# HELP keel_model_performance Rolling performance from delayed labels.\n"
                     "# TYPE keel_model_performance gauge\n");
    for (size_t i = 0; i < app->n_slots; i++) {
        model_slot *slot = &app->slots[i];
        served_model *ms[2];
        slot_acquire_answering(slot, ms);
        for (int r = 0; r < 2; r++) {
            if (ms[r] != NULL && ms[r]->mon != NULL)
                model_metrics(b, slot->name, ms[r]);
            served_model_release(ms[r]);
        }
    }
    if (app->feedback != NULL)
        keel_buf_printf(b, "# TYPE keel_feedback_total counter\n"
                           "keel_feedback_total{outcome=\"joined\"} %llu\n"
                           "keel_feedback_total{outcome=\"unknown\"} %llu\n"
                           "keel_feedback_total{outcome=\"expired\"} %llu\n"
                           "keel_feedback_total{outcome=\"invalid\"} %llu\n",
                        (unsigned long long)atomic_load(&app->feedback_joined),
                        (unsigned long long)atomic_load(&app->feedback_unknown),
                        (unsigned long long)atomic_load(&app->feedback_expired),
                        (unsigned long long)atomic_load(&app->feedback_invalid));
    if (app->rules != NULL)
        serve_rules_metrics(app->rules, b);
    if (app->online != NULL) {
        /* Freshness of the online features this server enriches with. */
        keel_buf_puts(b, "# HELP keel_feature_view_staleness_seconds Age of the newest event "
                         "written to the online store, per feature view.\n"
                         "# TYPE keel_feature_view_staleness_seconds gauge\n");
        const keel_feature_repo *repo = app->feature_repo;
        int64_t now = keel_now_ms();
        for (size_t v = 0; v < repo->n_views; v++) {
            keel_online_freshness fr;
            keel_err err;
            if (!repo->views[v].online ||
                keel_online_freshness_get(app->online, repo, v, &fr, &err) != KEEL_OK ||
                fr.max_event_ms == 0)
                continue;
            keel_buf_printf(b, "keel_feature_view_staleness_seconds{project=\"%s\",view=\"%s\"} "
                               "%.3f\n", repo->project, repo->views[v].name,
                            (double)(now - fr.max_event_ms) / 1000.0);
        }
    }
}
