/*
 * serve_rules.c — alert rules of `keel serve --rules FILE` (docs/monitoring.md):
 *
 *   pipelines: ../keel.yaml            # where `pipeline:` actions are declared
 *   rules:
 *     - name: accuracy-drop
 *       model: elec                    # a served model
 *       measure: accuracy              # accuracy auc log_loss rmse mae | psi js ks w1 chi2_p missing_delta
 *       feature: nswprice              # drift measures: a feature or "any" (the worst)
 *       below: 0.7                     # or above:
 *       for: 2                         # consecutive windows
 *       min_labels: 200                # performance measures wait for this many labels
 *       actions:
 *         - pipeline: retrain          # started through keel run, with params
 *           params: {days: "30"}
 *           retries: 2                 # a trigger that fails is tried again next window
 *         - webhook: true              # event alert_fired to the registered webhooks
 *
 * A rule is evaluated after each closed window of its model's primary
 * version. It fires once per episode — when its condition has held for `for`
 * consecutive windows — and resolves when the condition stops holding; both
 * are recorded in monitor_events with their evidence and what the actions
 * did. A window without enough data leaves the rule's state as it was.
 * Everything is checked at load: unknown keys, models that are not served or
 * have no reference profile, unknown measures or features, pipelines the
 * pipeline file does not declare — with file:line:column.
 */
#include "core/yaml_doc.h"
#include "serve.h"

#include <keel/pipeline.h>
#include <keel/util.h>
#include <keel/webhook.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define RULES_MAX_BYTES (1u << 20)

typedef struct rule_action {
    char *pipeline;                 /* NULL for a webhook action */
    char last_run[33];              /* the run it started last ("" = none) */
    keel_kv *params;
    size_t n_params;
    int retries;
    bool webhook;
} rule_action;

typedef struct rule {
    char *name, *model, *measure, *feature;
    size_t slot;
    bool above;
    double threshold;
    int for_windows;
    size_t min_labels;
    rule_action *actions;
    size_t n_actions;
    /* state (monitor thread only) */
    int consecutive;
    atomic_bool firing;             /* read by /metrics */
    int retries_left;
    bool trigger_pending;
    atomic_uint_fast64_t fired;
} rule;

struct serve_rules {
    char *file;
    char *pipeline_file;            /* absolute, or NULL */
    rule *rules;
    size_t n_rules;
};

typedef struct reader {
    const char *file;
    yaml_document_t *doc;
    keel_err *err;
} reader;

static int fail_at(reader *r, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(reader *r, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = keel_yaml_vfail(r->err, r->file, n, KEEL_EINVAL, fmt, ap);
    va_end(ap);
    return rc;
}

static yaml_node_t *node(reader *r, int id)
{
    return yaml_document_get_node(r->doc, id);
}

static int number(reader *r, const yaml_node_t *n, const char *what, double *out)
{
    const char *s = keel_yaml_scalar(n);
    char *end = NULL;
    errno = 0;
    double v = s != NULL ? strtod(s, &end) : NAN;
    if (s == NULL || end == s || *end != '\0' || errno != 0 || !isfinite(v))
        return fail_at(r, n, "%s must be a number", what);
    *out = v;
    return KEEL_OK;
}

static int read_action(reader *r, const yaml_node_t *n, rule_action *a)
{
    if (n->type != YAML_MAPPING_NODE)
        return fail_at(r, n, "an action must be a mapping (pipeline: NAME or webhook: true)");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node(r, p->key), *v = node(r, p->value);
        const char *key = keel_yaml_scalar(k);
        double num = 0;
        /* libyaml keeps every pair of a repeated key: a second pipeline or
         * params would leak the first, or write past the first's array. */
        if (key != NULL && ((strcmp(key, "pipeline") == 0 && a->pipeline != NULL) ||
                            (strcmp(key, "params") == 0 && a->params != NULL)))
            return fail_at(r, k, "'%s' is given twice in an action", key);
        if (key != NULL && strcmp(key, "pipeline") == 0 && keel_yaml_scalar(v) != NULL) {
            a->pipeline = strdup(keel_yaml_scalar(v));
        } else if (key != NULL && strcmp(key, "webhook") == 0) {
            a->webhook = keel_yaml_scalar(v) != NULL && strcmp(keel_yaml_scalar(v), "true") == 0;
            if (!a->webhook)
                return fail_at(r, v, "webhook must be true");
        } else if (key != NULL && strcmp(key, "retries") == 0) {
            if (number(r, v, "retries", &num) != KEEL_OK || num < 0 || num > 100 ||
                num != floor(num))
                return fail_at(r, v, "retries must be a whole number from 0 to 100");
            a->retries = (int)num;
        } else if (key != NULL && strcmp(key, "params") == 0 && v->type == YAML_MAPPING_NODE) {
            size_t count = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
            a->params = calloc(count + 1, sizeof *a->params);
            for (size_t i = 0; i < count; i++) {
                const char *pk = keel_yaml_scalar(node(r, v->data.mapping.pairs.start[i].key));
                const char *pv = keel_yaml_scalar(node(r, v->data.mapping.pairs.start[i].value));
                if (pk == NULL || pv == NULL)
                    return fail_at(r, v, "params must map names to strings or numbers");
                a->params[a->n_params++] = (keel_kv){ strdup(pk), strdup(pv) };
            }
        } else {
            return fail_at(r, k, "unknown or malformed action key '%s' (allowed: pipeline, "
                                 "params, retries, webhook)", key != NULL ? key : "?");
        }
    }
    if ((a->pipeline == NULL) == !a->webhook)
        return fail_at(r, n, "an action is either 'pipeline: NAME' or 'webhook: true'");
    return KEEL_OK;
}

/* The served slot named name, with the features its primary model monitors. */
static long find_slot(const serve_app *app, const char *name)
{
    for (size_t i = 0; i < app->n_slots; i++)
        if (strcmp(app->slots[i].name, name) == 0)
            return (long)i;
    return -1;
}

static int read_rule(reader *r, const yaml_node_t *n, const serve_app *app,
                     const char *pipeline_file, rule *ru)
{
    static const char *const keys[] = { "name", "model", "measure", "feature", "above", "below",
                                        "for", "min_labels", "actions" };
    const yaml_node_t *f[9] = { NULL };
    if (n->type != YAML_MAPPING_NODE)
        return fail_at(r, n, "a rule must be a mapping");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node(r, p->key);
        size_t i = 0;
        while (i < 9 && (keel_yaml_scalar(k) == NULL || strcmp(keel_yaml_scalar(k), keys[i]) != 0))
            i++;
        if (i == 9)
            return fail_at(r, k, "unknown key '%s' in a rule (allowed: name, model, measure, "
                                 "feature, above, below, for, min_labels, actions)",
                           keel_yaml_scalar(k) != NULL ? keel_yaml_scalar(k) : "?");
        f[i] = node(r, p->value);
    }
    for (int i = 0; i < 3; i++)
        if (f[i] == NULL || keel_yaml_scalar(f[i]) == NULL || keel_yaml_scalar(f[i])[0] == '\0')
            return fail_at(r, n, "a rule needs '%s' (a string)", keys[i]);
    ru->name = strdup(keel_yaml_scalar(f[0]));
    ru->model = strdup(keel_yaml_scalar(f[1]));
    ru->measure = strdup(keel_yaml_scalar(f[2]));
    long slot = find_slot(app, ru->model);
    if (slot < 0)
        return fail_at(r, f[1], "model '%s' is not served here", ru->model);
    ru->slot = (size_t)slot;
    bool perf = monitor_perf_index(ru->measure) >= 0;
    bool drift = monitor_drift_index(ru->measure) >= 0;
    if (!perf && !drift)
        return fail_at(r, f[2], "unknown measure '%s' (performance: accuracy, auc, log_loss, "
                                "rmse, mae; drift: psi, js, ks, w1, chi2_p, missing_delta)",
                       ru->measure);
    const model_monitor *mon = app->slots[slot].current->mon;
    if (mon == NULL)
        return fail_at(r, f[1], "model '%s' has no reference profile to monitor (a keel "
                                "bundle has one)", ru->model);
    if (drift) {
        if (f[3] == NULL || keel_yaml_scalar(f[3]) == NULL)
            return fail_at(r, n, "a drift rule needs 'feature' (a feature name or \"any\")");
        ru->feature = strdup(keel_yaml_scalar(f[3]));
        bool known = strcmp(ru->feature, "any") == 0;
        for (size_t i = 0; !known && i < mon->n_features; i++)
            known = strcmp(mon->features[i].name, ru->feature) == 0;
        if (!known)
            return fail_at(r, f[3], "model '%s' has no monitored feature '%s'", ru->model,
                           ru->feature);
    } else if (f[3] != NULL) {
        return fail_at(r, f[3], "'feature' goes with drift measures, not '%s'", ru->measure);
    }
    if ((f[4] == NULL) == (f[5] == NULL))
        return fail_at(r, n, "a rule needs exactly one of 'above' or 'below'");
    ru->above = f[4] != NULL;
    int rc = number(r, f[4] != NULL ? f[4] : f[5], ru->above ? "above" : "below",
                    &ru->threshold);
    double num = 1;
    if (rc == KEEL_OK && f[6] != NULL &&
        (number(r, f[6], "for", &num) != KEEL_OK || num < 1 || num > 10000 || num != floor(num)))
        return fail_at(r, f[6], "for must be a whole number of windows from 1 to 10000");
    ru->for_windows = (int)num;
    num = 100;
    if (rc == KEEL_OK && f[7] != NULL &&
        (number(r, f[7], "min_labels", &num) != KEEL_OK || num < 1 || num > MONITOR_PERF_WINDOW))
        return fail_at(r, f[7], "min_labels must be from 1 to %d", MONITOR_PERF_WINDOW);
    ru->min_labels = (size_t)num;
    if (rc != KEEL_OK)
        return rc;
    if (f[8] != NULL) {
        if (f[8]->type != YAML_SEQUENCE_NODE)
            return fail_at(r, f[8], "actions must be a list");
        size_t count = (size_t)(f[8]->data.sequence.items.top - f[8]->data.sequence.items.start);
        ru->actions = calloc(count + 1, sizeof *ru->actions);
        for (size_t i = 0; i < count; i++) {
            const yaml_node_t *an = node(r, f[8]->data.sequence.items.start[i]);
            if ((rc = read_action(r, an, &ru->actions[ru->n_actions++])) != KEEL_OK)
                return rc;
            const rule_action *act = &ru->actions[ru->n_actions - 1];
            if (act->pipeline == NULL)
                continue;
            if (pipeline_file == NULL)
                return fail_at(r, an, "a pipeline action needs 'pipelines: FILE' at the top of "
                                      "the rules file");
            keel_pipeline *p = NULL;
            keel_err perr;
            if (keel_pipeline_load(pipeline_file, act->pipeline, act->params, act->n_params, &p,
                                   &perr) != KEEL_OK)
                return fail_at(r, an, "pipeline '%s': %s", act->pipeline, perr.msg);
            keel_pipeline_free(p);
            ru->retries_left = act->retries;
        }
    }
    return KEEL_OK;
}

static char *resolve_beside(const char *rules_file, const char *path)
{
    char joined[PATH_MAX], out[PATH_MAX];
    if (path[0] == '/') {
        snprintf(joined, sizeof joined, "%s", path);
    } else {
        const char *slash = strrchr(rules_file, '/');
        snprintf(joined, sizeof joined, "%.*s%s", slash != NULL ? (int)(slash - rules_file + 1)
                                                                : 0, rules_file, path);
    }
    return realpath(joined, out) != NULL ? strdup(out) : NULL;
}

int serve_rules_load(const char *path, const serve_app *app, serve_rules **out, keel_err *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = keel_read_file(path, RULES_MAX_BYTES, &text, &len, err);
    if (rc != KEEL_OK)
        return rc;
    rc = serve_rules_parse(path, text, len, app, out, err);
    free(text);
    return rc;
}

int serve_rules_parse(const char *path, const char *text, size_t len, const serve_app *app,
                      serve_rules **out, keel_err *err)
{
    int rc = KEEL_OK;
    yaml_document_t doc;
    if ((rc = keel_yaml_parse(path, text, len, RULES_MAX_BYTES, &doc, err)) != KEEL_OK)
        return rc;
    reader r = { .file = path, .doc = &doc, .err = err };
    serve_rules *rs = calloc(1, sizeof *rs);
    rs->file = strdup(path);
    const yaml_node_t *root = yaml_document_get_root_node(&doc);
    const yaml_node_t *list = NULL;
    if (root == NULL || root->type != YAML_MAPPING_NODE)
        rc = keel_errf(err, KEEL_EINVAL, "%s: expected a mapping with 'rules'", path);
    for (yaml_node_pair_t *p = rc == KEEL_OK ? root->data.mapping.pairs.start : NULL;
         p != NULL && p < root->data.mapping.pairs.top && rc == KEEL_OK; p++) {
        const yaml_node_t *k = node(&r, p->key), *v = node(&r, p->value);
        const char *key = keel_yaml_scalar(k);
        if (key != NULL && strcmp(key, "pipelines") == 0 && rs->pipeline_file != NULL) {
            rc = fail_at(&r, k, "'pipelines' is given twice");
        } else if (key != NULL && strcmp(key, "rules") == 0 && v->type == YAML_SEQUENCE_NODE) {
            list = v;
        } else if (key != NULL && strcmp(key, "pipelines") == 0 && keel_yaml_scalar(v) != NULL) {
            rs->pipeline_file = resolve_beside(path, keel_yaml_scalar(v));
            if (rs->pipeline_file == NULL)
                rc = fail_at(&r, v, "pipeline file '%s' does not exist", keel_yaml_scalar(v));
        } else {
            rc = fail_at(&r, k, "unknown or malformed key '%s' (allowed: pipelines: FILE, rules: "
                                "[…])", key != NULL ? key : "?");
        }
    }
    if (rc == KEEL_OK && list == NULL)
        rc = keel_errf(err, KEEL_EINVAL, "%s: no 'rules' list", path);
    if (rc == KEEL_OK) {
        size_t count = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
        rs->rules = calloc(count + 1, sizeof *rs->rules);
        for (size_t i = 0; i < count && rc == KEEL_OK; i++) {
            rule *ru = &rs->rules[rs->n_rules++];
            rc = read_rule(&r, node(&r, list->data.sequence.items.start[i]), app,
                           rs->pipeline_file, ru);
            for (size_t j = 0; rc == KEEL_OK && j + 1 < rs->n_rules; j++)
                if (strcmp(rs->rules[j].name, ru->name) == 0)
                    rc = fail_at(&r, node(&r, list->data.sequence.items.start[i]),
                                 "rule '%s' is declared twice", ru->name);
        }
    }
    yaml_document_delete(&doc);
    if (rc != KEEL_OK) {
        serve_rules_free(rs);
        return rc;
    }
    *out = rs;
    return KEEL_OK;
}

void serve_rules_free(serve_rules *rs)
{
    if (rs == NULL)
        return;
    for (size_t i = 0; i < rs->n_rules; i++) {
        rule *ru = &rs->rules[i];
        for (size_t a = 0; a < ru->n_actions; a++) {
            for (size_t p = 0; p < ru->actions[a].n_params; p++) {
                free((char *)ru->actions[a].params[p].key);
                free((char *)ru->actions[a].params[p].value);
            }
            free(ru->actions[a].params);
            free(ru->actions[a].pipeline);
        }
        free(ru->actions);
        free(ru->name);
        free(ru->model);
        free(ru->measure);
        free(ru->feature);
    }
    free(rs->rules);
    free(rs->file);
    free(rs->pipeline_file);
    free(rs);
}

/* The rule's measure on model m's last window (NAN when not available). */
static double current_value(const rule *ru, served_model *m, size_t *out_n, const char **out_feat)
{
    model_monitor *mon = m->mon;
    *out_feat = NULL;
    long k = monitor_perf_index(ru->measure);
    if (k >= 0) {
        monitor_perf_values pv;
        monitor_perf_compute(mon, &pv);
        *out_n = pv.n;
        return pv.n < ru->min_labels ? NAN : monitor_perf_value(&pv, (size_t)k);
    }
    k = monitor_drift_index(ru->measure);
    bool low_is_bad = strcmp(ru->measure, "chi2_p") == 0;
    double best = NAN;
    pthread_mutex_lock(&mon->lock);
    const monitor_scores *sc = &mon->scores;
    *out_n = sc->rows;
    for (size_t f = 0; f < mon->n_features; f++) {
        if (strcmp(ru->feature, "any") != 0 && strcmp(ru->feature, mon->features[f].name) != 0)
            continue;
        double v = monitor_drift_value(sc, (size_t)k, f);
        if (isnan(v))
            continue;
        if (isnan(best) || (low_is_bad ? v < best : v > best)) {
            best = v;
            *out_feat = mon->features[f].name;
        }
    }
    pthread_mutex_unlock(&mon->lock);
    return best;
}

/* The pipeline run is still going: recorded RUNNING and its keel process
 * alive (a run whose process died is not waited for). */
static bool still_running(keel_store *store, const char *run_id)
{
    keel_stmt *q = NULL;
    keel_err err;
    bool running = false;
    if (store == NULL || run_id[0] == '\0' ||
        keel_store_prepare(store, "SELECT status, pid FROM pipeline_runs WHERE run_id = ?", true,
                           &q, &err) != KEEL_OK)
        return false;
    keel_stmt_bind_text(q, 1, run_id, -1);
    if (keel_stmt_step(q, &err) == KEEL_STEP_ROW)
        running = strcmp(keel_stmt_text(q, 0), "RUNNING") == 0 && keel_stmt_int64(q, 1) > 0 &&
                  kill((pid_t)keel_stmt_int64(q, 1), 0) == 0;
    keel_stmt_release(q);
    return running;
}

static json_t *run_actions(serve_app *app, keel_store *store, rule *ru, json_t *evidence)
{
    json_t *results = json_array();
    ru->trigger_pending = false;
    for (size_t i = 0; i < ru->n_actions; i++) {
        rule_action *a = &ru->actions[i];
        if (a->webhook) {
            int delivered = store != NULL ? keel_webhooks_fire(store, "alert_fired", evidence) : -1;
            json_array_append_new(results, json_pack("{s:s, s:i}", "webhook", "alert_fired",
                                                     "delivered", delivered));
            continue;
        }
        /* One run at a time per action: a new episode while the last run
         * it started is still going does not start another. */
        if (still_running(store, a->last_run)) {
            json_array_append_new(results, json_pack("{s:s, s:s, s:s}", "pipeline", a->pipeline,
                                                     "skipped", "the run it started last is "
                                                     "still running", "run_id", a->last_run));
            continue;
        }
        char run_id[33] = "";
        char trigger[300];
        snprintf(trigger, sizeof trigger, "alert:%s", ru->name);
        keel_pipeline_trigger_opts t = { .home = app->home, .file = app->rules->pipeline_file,
                                         .pipeline = a->pipeline, .params = a->params,
                                         .n_params = a->n_params, .trigger = trigger };
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", app->rules->pipeline_file);
        char *slash = strrchr(dir, '/');
        if (slash != NULL)
            *slash = '\0';
        t.workdir = dir;
        keel_err err;
        if (app->home[0] != '\0' && keel_pipeline_trigger(&t, run_id, &err) == KEEL_OK) {
            json_array_append_new(results, json_pack("{s:s, s:s}", "pipeline", a->pipeline,
                                                     "run_id", run_id));
            snprintf(a->last_run, sizeof a->last_run, "%s", run_id);
            keel_log(KEEL_LOG_INFO, "rule %s: started pipeline %s (run %s)", ru->name,
                     a->pipeline, run_id);
        } else {
            const char *msg = app->home[0] != '\0' ? err.msg : "no keel home to record runs in";
            json_array_append_new(results, json_pack("{s:s, s:s, s:i}", "pipeline", a->pipeline,
                                                     "error", msg, "retries_left",
                                                     ru->retries_left));
            keel_log(KEEL_LOG_WARN, "rule %s: pipeline %s did not start: %s", ru->name,
                     a->pipeline, msg);
            ru->trigger_pending = ru->retries_left-- > 0;
        }
    }
    return results;
}

static void record_event(keel_store *store, const rule *ru, const served_model *m,
                         const char *state, double value, json_t *evidence, json_t *actions)
{
    if (store == NULL)
        return;
    char *ev = json_dumps(evidence, JSON_COMPACT | JSON_SORT_KEYS);
    char *ac = actions != NULL ? json_dumps(actions, JSON_COMPACT) : NULL;
    keel_err err;
    if (keel_store_execv(store, "INSERT INTO monitor_events (time, rule, model, version, state, "
                                "value, evidence, actions) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         NULL, &err, "ittttdtt", keel_now_ms(), ru->name, ru->model,
                         m->version_text, state, value, ev, ac) != KEEL_OK)
        keel_log(KEEL_LOG_WARN, "rule %s: cannot record the event: %s", ru->name, err.msg);
    free(ev);
    free(ac);
}

void serve_rules_evaluate(serve_app *app, keel_store *store, size_t slot, served_model *m)
{
    serve_rules *rs = app->rules;
    for (size_t i = 0; i < rs->n_rules; i++) {
        rule *ru = &rs->rules[i];
        if (ru->slot != slot || m->mon == NULL)
            continue;
        size_t n = 0;
        const char *feature = NULL;
        double v = current_value(ru, m, &n, &feature);
        if (isnan(v))
            continue;
        bool holds = ru->above ? v > ru->threshold : v < ru->threshold;
        json_t *evidence = json_pack("{s:s, s:s, s:s, s:s, s:f, s:s, s:f, s:I, s:i}", "rule",
                                     ru->name, "model", ru->model, "version", m->version_text,
                                     "measure", ru->measure, "value", v, "condition",
                                     ru->above ? "above" : "below", "threshold", ru->threshold,
                                     monitor_perf_index(ru->measure) >= 0
                                         ? "labels" : "rows", (json_int_t)n,
                                     "consecutive", ru->consecutive + (holds ? 1 : 0));
        if (feature != NULL)
            json_object_set_new(evidence, "feature", json_string(feature));
        if (holds) {
            ru->consecutive++;
            if (!ru->firing && ru->consecutive >= ru->for_windows) {
                ru->firing = true;
                ru->fired++;
                for (size_t a = 0; a < ru->n_actions; a++)
                    if (ru->actions[a].pipeline != NULL)
                        ru->retries_left = ru->actions[a].retries;
                json_t *actions = run_actions(app, store, ru, evidence);
                record_event(store, ru, m, "firing", v, evidence, actions);
                json_decref(actions);
            } else if (ru->firing && ru->trigger_pending) {
                json_t *actions = run_actions(app, store, ru, evidence);
                record_event(store, ru, m, "retried", v, evidence, actions);
                json_decref(actions);
            }
        } else {
            ru->consecutive = 0;
            if (ru->firing) {
                ru->firing = false;
                ru->trigger_pending = false;
                record_event(store, ru, m, "resolved", v, evidence, NULL);
            }
        }
        json_decref(evidence);
    }
}

void serve_rules_metrics(const serve_rules *rs, keel_buf *b)
{
    keel_buf_puts(b, "# HELP keel_alert_firing 1 while a rule's episode is open.\n"
                     "# TYPE keel_alert_firing gauge\n");
    for (size_t i = 0; i < rs->n_rules; i++)
        keel_buf_printf(b, "keel_alert_firing{rule=\"%s\",model=\"%s\"} %d\n"
                           "keel_alert_fired_total{rule=\"%s\",model=\"%s\"} %llu\n",
                        rs->rules[i].name, rs->rules[i].model,
                        atomic_load(&rs->rules[i].firing) ? 1 : 0, rs->rules[i].name,
                        rs->rules[i].model, (unsigned long long)atomic_load(&rs->rules[i].fired));
}
