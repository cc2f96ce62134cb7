/*
 * gate_check.c — evaluating a gate policy for a model version, promotion
 * (gates, then a compare-and-set of the alias) and rollback.
 *
 * Scoring gates run the bundle now, on the policy's evaluation data: "beats"
 * scores the candidate and the alias's version on the same rows; latency is
 * the p99 of single-row predictions through the bundle, timed here.
 */
#include <keel/dataset.h>
#include <keel/gate.h>
#include <keel/json.h>
#include <keel/train.h>
#include <keel/util.h>
#include <keel/webhook.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LATENCY_SAMPLES 200

typedef struct checker {
    keel_workspace *ws;
    const keel_gate_policy *p;
    keel_arena *a;
    keel_model_version version;
    keel_bundle *bundle;           /* the candidate, opened on first need */
    keel_frame *data;              /* evaluation data, loaded on first need */
    const char *open_error;
} checker;

static bool compare(double v, enum keel_gate_cmp c, double bound)
{
    switch (c) {
    case KEEL_CMP_GE: return v >= bound;
    case KEEL_CMP_GT: return v > bound;
    case KEEL_CMP_LE: return v <= bound;
    case KEEL_CMP_LT: return v < bound;
    case KEEL_CMP_EQ: return v == bound;
    }
    return false;
}

/* Lower is better for losses and errors; higher for everything else. */
static bool higher_is_better(const char *metric)
{
    static const char *const lower[] = { "logloss", "rmse", "mae", "mse", "error" };
    for (size_t i = 0; i < sizeof lower / sizeof lower[0]; i++)
        if (strstr(metric, lower[i]) != NULL)
            return false;
    return true;
}

static int open_bundle(checker *c, const keel_model_version *v, keel_bundle **out, keel_err *err)
{
    const char *run_id = NULL, *path = NULL;
    int rc = keel_model_version_artifacts(v, c->a, &run_id, &path, err);
    if (rc == KEEL_OK)
        rc = keel_bundle_open(c->ws, run_id, path, out, err);
    return rc;
}

static int candidate(checker *c, keel_err *err)
{
    if (c->bundle != NULL)
        return KEEL_OK;
    return open_bundle(c, &c->version, &c->bundle, err);
}

static int evaluation_data(checker *c, keel_err *err)
{
    if (c->data != NULL)
        return KEEL_OK;
    if (c->p->data == NULL)
        return keel_errf(err, KEEL_EINVAL, "the policy has no evaluation.data for this gate");
    keel_dataset_version meta;
    return keel_dataset_load(c->ws, c->p->data, c->a, &c->data, &meta, err);
}

static void result(keel_gate_result *r, checker *c, bool passed, const char *observed,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void result(keel_gate_result *r, checker *c, bool passed, const char *observed,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    r->passed = passed;
    r->observed = observed != NULL ? observed : "-";
    r->detail = keel_arena_vsprintf(c->a, fmt, ap);
    va_end(ap);
}

static double eval_metric(const keel_eval *e, const char *name, bool *found)
{
    const char *keys[8];
    double values[8];
    size_t n = keel_eval_metrics(e, keys, values);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(keys[i], name) == 0) {
            *found = true;
            return values[i];
        }
    }
    *found = false;
    return NAN;
}

static void check_metric(checker *c, const keel_gate *g, keel_gate_result *r)
{
    keel_err err;
    keel_run run;
    if (c->version.run_id == NULL || c->version.run_id[0] == '\0') {
        result(r, c, false, NULL, "version %lld has no run to read metrics from",
               (long long)c->version.version);
        return;
    }
    if (keel_run_get(c->ws->store, c->version.run_id, c->a, &run, &err) != KEEL_OK) {
        result(r, c, false, NULL, "%s", err.msg);
        return;
    }
    for (size_t i = 0; i < run.n_metrics; i++) {
        if (strcmp(run.metrics[i].key, g->metric) != 0)
            continue;
        double v = run.metrics[i].value;
        bool ok = compare(v, g->cmp, g->bound);
        result(r, c, ok, keel_arena_sprintf(c->a, "%.6g", v), "%s %.6g %s %g", g->metric, v,
               ok ? "meets" : "fails", g->bound);
        return;
    }
    result(r, c, false, NULL, "run %s has no metric '%s'", c->version.run_id, g->metric);
}

static void check_beats(checker *c, const keel_gate *g, keel_gate_result *r)
{
    keel_err err;
    keel_model_version incumbent;
    int rc = keel_model_alias_get(c->ws->store, c->version.name, g->alias, c->a, &incumbent, &err);
    if (rc == KEEL_ENOTFOUND) {
        result(r, c, true, NULL, "no version is @%s yet: nothing to beat", g->alias);
        return;
    }
    if (rc == KEEL_OK && incumbent.version == c->version.version) {
        result(r, c, true, NULL, "version %lld already is @%s", (long long)c->version.version,
               g->alias);
        return;
    }
    keel_bundle *other = NULL;
    keel_eval mine, theirs;
    if (rc == KEEL_OK)
        rc = candidate(c, &err);
    if (rc == KEEL_OK)
        rc = evaluation_data(c, &err);
    if (rc == KEEL_OK)
        rc = open_bundle(c, &incumbent, &other, &err);
    if (rc == KEEL_OK)
        rc = keel_bundle_evaluate(c->bundle, c->data, c->p->target, &mine, &err);
    if (rc == KEEL_OK)
        rc = keel_bundle_evaluate(other, c->data, c->p->target, &theirs, &err);
    keel_bundle_close(other);
    if (rc != KEEL_OK) {
        result(r, c, false, NULL, "cannot score: %s", err.msg);
        return;
    }
    bool found_a, found_b;
    double a = eval_metric(&mine, g->metric, &found_a);
    double b = eval_metric(&theirs, g->metric, &found_b);
    if (!found_a || !found_b) {
        result(r, c, false, NULL, "metric '%s' does not apply to a %s model", g->metric,
               keel_task_name(mine.task));
        return;
    }
    double gain = higher_is_better(g->metric) ? a - b : b - a;
    bool ok = gain >= g->margin;
    result(r, c, ok, keel_arena_sprintf(c->a, "%.6g vs %.6g", a, b),
           "%s on %s: %.6g, @%s (version %lld): %.6g; %s by %.6g (needs %g)", g->metric,
           c->p->data, a, g->alias, (long long)incumbent.version, b,
           gain >= 0 ? "better" : "worse", fabs(gain), g->margin);
}

static void check_size(checker *c, const keel_gate *g, keel_gate_result *r)
{
    keel_err err;
    if (candidate(c, &err) != KEEL_OK) {
        result(r, c, false, NULL, "%s", err.msg);
        return;
    }
    double mib = (double)keel_bundle_model_size(c->bundle) / (1024.0 * 1024.0);
    bool ok = mib <= g->bound;
    result(r, c, ok, keel_arena_sprintf(c->a, "%.2f MiB", mib), "model file %.2f MiB, limit %g",
           mib, g->bound);
}

static int by_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static void check_latency(checker *c, const keel_gate *g, keel_gate_result *r)
{
    keel_err err;
    if (candidate(c, &err) != KEEL_OK || evaluation_data(c, &err) != KEEL_OK) {
        result(r, c, false, NULL, "%s", err.msg);
        return;
    }
    if (c->data->n_rows == 0) {
        result(r, c, false, NULL, "the evaluation data has no rows to time");
        return;
    }
    double samples[LATENCY_SAMPLES];
    for (size_t i = 0; i < LATENCY_SAMPLES; i++) {
        size_t row = i % c->data->n_rows;
        float *pred = NULL;
        size_t width = 0;
        int64_t t0 = keel_monotonic_ns();
        int rc = keel_bundle_predict(c->bundle, c->data, &row, 1, &pred, &width, &err);
        samples[i] = (double)(keel_monotonic_ns() - t0) / 1e6;
        free(pred);
        if (rc != KEEL_OK) {
            result(r, c, false, NULL, "prediction failed: %s", err.msg);
            return;
        }
    }
    qsort(samples, LATENCY_SAMPLES, sizeof samples[0], by_double);
    double p50 = samples[LATENCY_SAMPLES / 2], p99 = samples[LATENCY_SAMPLES * 99 / 100];
    bool ok = p99 <= g->bound;
    result(r, c, ok, keel_arena_sprintf(c->a, "p99 %.3f ms", p99),
           "%d single-row predictions: p50 %.3f ms, p99 %.3f ms, limit %g ms", LATENCY_SAMPLES,
           p50, p99, g->bound);
}

static const json_t *signature_inputs(keel_bundle *b)
{
    return json_object_get(json_object_get(keel_bundle_manifest(b), "signature"), "inputs");
}

/* Compatible: every column the candidate needs is one the incumbent's
 * callers already send, with the same type (int may become float). */
static void check_signature(checker *c, const keel_gate *g, keel_gate_result *r)
{
    keel_err err;
    keel_model_version incumbent;
    int rc = keel_model_alias_get(c->ws->store, c->version.name, g->alias, c->a, &incumbent, &err);
    if (rc == KEEL_ENOTFOUND) {
        result(r, c, true, NULL, "no version is @%s yet", g->alias);
        return;
    }
    keel_bundle *other = NULL;
    if (rc == KEEL_OK)
        rc = candidate(c, &err);
    if (rc == KEEL_OK)
        rc = open_bundle(c, &incumbent, &other, &err);
    if (rc != KEEL_OK) {
        keel_bundle_close(other);
        result(r, c, false, NULL, "%s", err.msg);
        return;
    }
    const json_t *mine = signature_inputs(c->bundle), *theirs = signature_inputs(other);
    const char *problem = NULL;
    for (size_t i = 0; problem == NULL && i < json_array_size(mine); i++) {
        const char *name = json_string_value(json_object_get(json_array_get(mine, i), "name"));
        const char *type = json_string_value(json_object_get(json_array_get(mine, i), "type"));
        const char *was = NULL;
        for (size_t k = 0; k < json_array_size(theirs); k++) {
            const json_t *col = json_array_get(theirs, k);
            if (name != NULL && strcmp(name, json_string_value(json_object_get(col, "name"))) == 0)
                was = json_string_value(json_object_get(col, "type"));
        }
        if (name == NULL || type == NULL)
            problem = "the candidate's signature is malformed";
        else if (was == NULL)
            problem = keel_arena_sprintf(c->a, "needs column '%s', which @%s callers do not send",
                                         name, g->alias);
        else if (strcmp(was, type) != 0 && !(strcmp(was, "int") == 0 && strcmp(type, "float") == 0))
            problem = keel_arena_sprintf(c->a, "column '%s' changed type from %s to %s", name, was,
                                         type);
    }
    keel_bundle_close(other);
    result(r, c, problem == NULL, NULL, "%s", problem != NULL ? problem
                                                    : "every input is one the callers send");
}

int keel_gate_check(keel_workspace *ws, const keel_gate_policy *p, const char *model,
                    int64_t version, keel_arena *a, keel_gate_result **out, size_t *out_n,
                    bool *out_passed, keel_err *err)
{
    checker c = { .ws = ws, .p = p, .a = a };
    int rc = keel_model_version_get(ws->store, model, version, a, &c.version, err);
    if (rc != KEEL_OK)
        return rc;
    keel_gate_result *results = keel_arena_alloc(a, (p->n_gates + 1) * sizeof *results);
    if (results == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    bool all = true;
    for (size_t i = 0; i < p->n_gates; i++) {
        const keel_gate *g = &p->gates[i];
        results[i].gate = g;
        switch (g->kind) {
        case KEEL_GATE_METRIC: check_metric(&c, g, &results[i]); break;
        case KEEL_GATE_BEATS: check_beats(&c, g, &results[i]); break;
        case KEEL_GATE_MAX_SIZE: check_size(&c, g, &results[i]); break;
        case KEEL_GATE_MAX_LATENCY: check_latency(&c, g, &results[i]); break;
        case KEEL_GATE_SIGNATURE: check_signature(&c, g, &results[i]); break;
        }
        all &= results[i].passed;
    }
    keel_bundle_close(c.bundle);
    keel_frame_destroy(c.data);
    *out = results;
    *out_n = p->n_gates;
    *out_passed = all;
    return KEEL_OK;
}

int keel_model_promote(keel_workspace *ws, const keel_promotion *p, keel_arena *a,
                       keel_gate_result **out, size_t *out_n, keel_err *err)
{
    const char *alias = p->alias != NULL ? p->alias : "production";
    const char *actor = p->actor != NULL ? p->actor : "unknown";
    if (p->force && (p->reason == NULL || p->reason[0] == '\0'))
        return keel_errf(err, KEEL_EINVAL, "--force needs a --reason (it is audited)");
    /* What the alias points at now: the compare-and-set expects it unchanged. */
    keel_model_version current;
    int64_t expected = 0;
    int rc = keel_model_alias_get(ws->store, p->model, alias, a, &current, err);
    if (rc == KEEL_OK)
        expected = current.version;
    else if (rc != KEEL_ENOTFOUND)
        return rc;
    keel_model_version target;
    rc = keel_model_version_get(ws->store, p->model, p->version, a, &target, err);
    if (rc != KEEL_OK)
        return rc;
    *out = NULL;
    *out_n = 0;
    bool passed = true;
    if (p->policy != NULL) {
        rc = keel_gate_check(ws, p->policy, p->model, p->version, a, out, out_n, &passed, err);
        if (rc != KEEL_OK)
            return rc;
    }
    if (!passed) {
        size_t failed = 0;
        for (size_t i = 0; i < *out_n; i++)
            failed += !(*out)[i].passed;
        const char *why = keel_arena_sprintf(a, "%zu of %zu gates failed (%s)", failed, *out_n,
                                             p->policy->path);
        keel_err audit_err;
        keel_model_audit(ws->store, actor, p->force ? "gates_overridden" : "gate_failed",
                         p->model, p->version, alias, NULL, NULL,
                         p->force ? keel_arena_sprintf(a, "%s; forced: %s", why, p->reason) : why,
                         &audit_err);
        keel_webhooks_fire(ws->store, "gate_failed",
                           json_pack("{s:s, s:I, s:s, s:s, s:b}", "model", p->model, "version",
                                     (json_int_t)p->version, "alias", alias, "reason", why,
                                     "forced", p->force));
        if (!p->force)
            return keel_errf(err, KEEL_ESTATE, "version %lld of '%s' was not promoted to @%s: %s",
                             (long long)p->version, p->model, alias, why);
    }
    const char *reason = p->force ? keel_arena_sprintf(a, "forced: %s", p->reason)
                         : p->reason != NULL ? p->reason
                         : p->policy != NULL ? keel_arena_sprintf(a, "gates passed (%s)",
                                                                  p->policy->path)
                                             : "promoted without a policy";
    int rc2 = keel_model_alias_move(ws->store, p->model, alias, expected, p->version, actor,
                                    reason, err);
    if (rc2 == KEEL_OK)
        keel_webhooks_fire(ws->store, "alias_moved",
                           json_pack("{s:s, s:s, s:I, s:I, s:s}", "model", p->model, "alias", alias,
                                     "version", (json_int_t)p->version, "previous_version",
                                     (json_int_t)expected, "reason", reason));
    return rc2;
}

int keel_model_rollback(keel_workspace *ws, const char *model, const char *alias,
                        int64_t to_version, const char *actor, const char *reason,
                        int64_t *out_version, keel_err *err)
{
    if (alias == NULL)
        alias = "production";
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_model_version current;
    int rc = keel_model_alias_get(ws->store, model, alias, &a, &current, err);
    if (rc == KEEL_ENOTFOUND)
        rc = keel_errf(err, KEEL_ESTATE, "'%s' has no @%s to roll back", model, alias);
    int64_t target = to_version;
    if (rc == KEEL_OK && target == 0) {
        /* The version the alias left on its most recent move. */
        keel_audit_entry *h = NULL;
        size_t n = 0;
        rc = keel_model_history(ws->store, model, &a, &h, &n, err);
        for (size_t i = n; rc == KEEL_OK && i-- > 0;) {
            if (strcmp(h[i].field, alias) != 0 || h[i].old_value == NULL ||
                h[i].old_value[0] == '\0' || strncmp(h[i].action, "alias_", 6) != 0)
                continue;
            long long v = strtoll(h[i].old_value, NULL, 10);
            if (v > 0 && v != current.version) {
                target = v;
                break;
            }
        }
        if (rc == KEEL_OK && target == 0)
            rc = keel_errf(err, KEEL_ESTATE, "@%s of '%s' has no earlier version to go back to",
                           alias, model);
    }
    if (rc == KEEL_OK)
        rc = keel_model_alias_move(ws->store, model, alias, current.version, target,
                                   actor != NULL ? actor : "unknown",
                                   reason != NULL ? reason : "rollback", err);
    if (rc == KEEL_OK) {
        *out_version = target;
        keel_webhooks_fire(ws->store, "alias_moved",
                           json_pack("{s:s, s:s, s:I, s:I, s:s}", "model", model, "alias", alias,
                                     "version", (json_int_t)target, "previous_version",
                                     (json_int_t)current.version, "reason", "rollback"));
    }
    keel_arena_free(&a);
    return rc;
}
