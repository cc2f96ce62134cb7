/*
 * serve_http.c — the model server's endpoints: Open Inference Protocol v2
 * (/v2/…), MLflow's scoring protocol (/invocations, /ping, /health,
 * /version), delayed labels (/feedback, serve_feedback.c) and Prometheus
 * metrics (/metrics).
 *
 * Every prediction names the version that made it (X-Model-Version, and
 * model_version in OIP answers) and the request id (X-Request-Id, from the
 * HTTP layer). Responses are written straight into the response buffer.
 */
#include "serve.h"

#include <keel/buf.h>
#include <keel/json.h>
#include <keel/util.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double latency_bounds[SERVE_LATENCY_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
};

static void error_json(keel_http_resp *resp, int status, const char *code, const char *msg)
{
    keel_http_json(resp, status, json_pack("{s:s, s:s}", "error", msg, "error_code", code));
}

static int error_for(keel_http_resp *resp, int rc, const char *msg)
{
    int status = rc == KEEL_ELIMIT ? 413 : rc == KEEL_ENOTFOUND ? 404
                 : rc == KEEL_EINVAL || rc == KEEL_EPARSE ? 400 : 500;
    error_json(resp, status, status == 413 ? "TOO_LARGE" : status == 404 ? "NOT_FOUND"
                             : status == 400 ? "BAD_REQUEST" : "INTERNAL_ERROR", msg);
    return rc;
}

static model_slot *find_slot(serve_app *app, const char *name, size_t len)
{
    for (size_t i = 0; i < app->n_slots; i++) {
        if (strlen(app->slots[i].name) == len && strncmp(app->slots[i].name, name, len) == 0)
            return &app->slots[i];
    }
    return NULL;
}

/* The counters of version (see version_counter). */
static version_counter *version_counter_for(model_slot *slot, const char *version)
{
    size_t n = atomic_load_explicit(&slot->n_versions, memory_order_acquire);
    for (size_t i = 0; i < n; i++)
        if (strcmp(slot->versions[i].version, version) == 0)
            return &slot->versions[i];
    pthread_mutex_lock(&slot->lock);
    n = atomic_load_explicit(&slot->n_versions, memory_order_relaxed);
    version_counter *vc = NULL;
    for (size_t i = 0; i < n && vc == NULL; i++)
        if (strcmp(slot->versions[i].version, version) == 0)
            vc = &slot->versions[i];
    if (vc == NULL) {
        bool last = n == SERVE_VERSION_COUNTERS - 1;
        if (n < SERVE_VERSION_COUNTERS) {
            vc = &slot->versions[n];
            snprintf(vc->version, sizeof vc->version, "%s", last ? "other" : version);
            atomic_store_explicit(&slot->n_versions, n + 1, memory_order_release);
        } else {
            vc = &slot->versions[SERVE_VERSION_COUNTERS - 1];
        }
    }
    pthread_mutex_unlock(&slot->lock);
    return vc;
}

static void count(atomic_uint_fast64_t *ok, atomic_uint_fast64_t *client,
                  atomic_uint_fast64_t *server, int status)
{
    if (status < 300)
        atomic_fetch_add(ok, 1);
    else if (status < 500)
        atomic_fetch_add(client, 1);
    else
        atomic_fetch_add(server, 1);
}

/* Counts a request of slot answered (or refused) by m, which may be NULL
 * when no model version took it. */
static void record(model_slot *slot, const served_model *m, int status, int64_t t0)
{
    double secs = (double)(keel_monotonic_ns() - t0) / 1e9;
    count(&slot->ok, &slot->client_errors, &slot->server_errors, status);
    if (m != NULL) {
        version_counter *vc = version_counter_for(slot, m->version_text);
        count(&vc->ok, &vc->client_errors, &vc->server_errors, status);
    }
    size_t b = 0;
    while (b < SERVE_LATENCY_BUCKETS && secs > latency_bounds[b])
        b++;
    atomic_fetch_add(&slot->latency_buckets[b], 1);
    atomic_fetch_add(&slot->latency_sum_us, (uint64_t)(secs * 1e6));
}

/* Predictions as JSON values: a number per row, or a list per row for
 * multi-output models. */
static int write_outputs(keel_buf *b, const float *out, size_t n, size_t k)
{
    int rc = KEEL_OK;
    for (size_t i = 0; rc == KEEL_OK && i < n; i++) {
        if (k == 1) {
            rc = keel_buf_printf(b, "%s%.9g", i > 0 ? "," : "", (double)out[i]);
            continue;
        }
        rc = keel_buf_puts(b, i > 0 ? ",[" : "[");
        for (size_t j = 0; rc == KEEL_OK && j < k; j++)
            rc = keel_buf_printf(b, "%s%.9g", j > 0 ? "," : "", (double)out[i * k + j]);
        if (rc == KEEL_OK)
            rc = keel_buf_puts(b, "]");
    }
    return rc;
}

static void log_prediction(serve_app *app, keel_http_req *req, const served_model *m,
                           const char *role, const feature_rows *rows, const float *out, size_t k,
                           int64_t latency_us)
{
    if (!prediction_log_sampled(app->log))
        return;
    keel_buf b;
    keel_buf_init(&b, (size_t)64 << 20);
    keel_buf_printf(&b, "{\"time\":%lld,\"request_id\":\"%s\",\"model\":", (long long)keel_now_ms(),
                    req->request_id);
    keel_json_write_string(&b, m->name, strlen(m->name));
    keel_buf_printf(&b, ",\"version\":\"%s\",\"role\":\"%s\",\"latency_us\":%lld,\"rows\":%zu,"
                        "\"inputs\":", m->version_text, role, (long long)latency_us, rows->n);
    if (rows->records != NULL)
        keel_json_dump_buf(rows->records, false, &b);
    else if (rows->body_is_records) {  /* decoded without a tree: the JSON body itself */
        size_t at = b.len;
        keel_buf_append(&b, req->body, req->body_len);
        /* Newlines there can only be whitespace; one record per line. */
        for (size_t i = at; i < b.len; i++)
            if (b.data[i] == '\n' || b.data[i] == '\r')
                b.data[i] = ' ';
    }
    else if (req->body != NULL)      /* CSV: the text, as a JSON string */
        keel_json_write_string(&b, req->body, req->body_len);
    else
        keel_buf_puts(&b, "null");
    keel_buf_puts(&b, ",\"outputs\":[");
    write_outputs(&b, out, rows->n, k);
    int rc = keel_buf_puts(&b, "]}");
    if (rc == KEEL_OK)
        prediction_log_push(app->log, m->name, keel_buf_take(&b));
    keel_buf_free(&b);
}

static void shadow_predict(serve_app *app, keel_http_req *req, model_slot *slot,
                           const feature_rows *rows)
{
    served_model *shadow = slot_acquire_shadow(slot);
    if (shadow == NULL)
        return;
    size_t k = keel_model_num_outputs(shadow->runtime);
    if (keel_model_num_features(shadow->runtime) <= rows->width) {
        float *out = keel_arena_alloc(req->arena, rows->n * k * sizeof *out + 1);
        int64_t t0 = keel_monotonic_ns();
        if (out != NULL) {
            keel_model_predict(shadow->runtime, rows->x, rows->n, false, out);
            log_prediction(app, req, shadow, "shadow", rows, out, k,
                           (keel_monotonic_ns() - t0) / 1000);
        }
    }
    served_model_release(shadow);
}

enum protocol { PROTO_OIP, PROTO_INVOCATIONS };

static int predict(keel_http_req *req, keel_http_resp *resp, model_slot *slot,
                   enum protocol proto, const char *want_version)
{
    serve_app *app = req->app;
    int64_t t0 = keel_monotonic_ns();
    if (atomic_fetch_add(&app->in_flight, 1) >= app->max_in_flight) {
        atomic_fetch_sub(&app->in_flight, 1);
        atomic_fetch_add(&app->rejected_busy, 1);
        error_json(resp, 429, "TOO_MANY_REQUESTS", "the server is at its in-flight limit; retry");
        record(slot, NULL, 429, t0);
        return KEEL_EBUSY;
    }
    const char *role = "primary";
    served_model *m = slot_acquire(slot, &role);
    keel_err err = { 0 };
    feature_rows rows;
    json_t *doc = NULL;
    int rc = KEEL_OK;
    if (want_version != NULL && strcmp(want_version, m->version_text) != 0) {
        served_model_release(m);
        m = NULL;
        rc = keel_errf(&err, KEEL_ENOTFOUND, "version %s of '%s' is not loaded", want_version,
                       slot->name);
    }
    if (rc == KEEL_OK) {
        const char *type = keel_http_header(req, "Content-Type");
        bool csv = type != NULL && strncmp(type, "text/csv", 8) == 0;
        const char *body = req->body;
        size_t body_len = req->body_len;
        bool enrich = app->n_enrich > 0 && proto == PROTO_INVOCATIONS && !csv;
        if (enrich)
            rc = serve_enrich(app, req, &body, &body_len, &err);
        bool fast = rc == KEEL_OK && proto == PROTO_INVOCATIONS && !csv && !enrich &&
                    decode_records_fast(m, body, body_len, req->arena, &rows);
        if (rc == KEEL_OK && !fast)
            rc = proto == PROTO_OIP ? decode_oip(m, body, body_len, req->arena, &rows, &doc,
                                                 &err)
                                    : decode_invocations(m, body, body_len, csv, req->arena,
                                                         &rows, &doc, &err);
    }
    size_t k = m != NULL ? keel_model_num_outputs(m->runtime) : 1;
    float *out = rc == KEEL_OK ? keel_arena_alloc(req->arena, rows.n * k * sizeof *out + 1) : NULL;
    if (rc == KEEL_OK && out == NULL)
        rc = keel_errf(&err, KEEL_ENOMEM, "out of memory");
    int64_t latency_us = 0;
    if (rc == KEEL_OK) {
        int64_t p0 = keel_monotonic_ns();
        keel_model_predict(m->runtime, rows.x, rows.n, false, out);
        latency_us = (keel_monotonic_ns() - p0) / 1000;
        keel_buf *b = &resp->body;
        keel_buf_reset(b);
        if (proto == PROTO_OIP) {
            keel_buf_puts(b, "{\"model_name\":");
            keel_json_write_string(b, slot->name, strlen(slot->name));
            keel_buf_printf(b, ",\"model_version\":\"%s\",\"id\":\"%s\",\"outputs\":[{\"name\":"
                               "\"predict\",\"datatype\":\"FP32\",\"shape\":[%zu%s%s],\"data\":[",
                            m->version_text, req->request_id, rows.n, k > 1 ? "," : "",
                            k > 1 ? keel_arena_sprintf(req->arena, "%zu", k) : "");
            /* OIP data is flat, row-major. */
            write_outputs(b, out, rows.n * k, 1);
            rc = keel_buf_puts(b, "]}]}");
        } else {
            keel_buf_puts(b, "{\"predictions\":[");
            write_outputs(b, out, rows.n, k);
            rc = keel_buf_puts(b, "]}");
        }
        if (rc != KEEL_OK)
            rc = keel_errf(&err, KEEL_ELIMIT, "response too large");
    }
    if (rc == KEEL_OK) {
        resp->status = 200;
        resp->content_type = "application/json";
        keel_http_header_add(resp, "X-Model-Version",
                             keel_arena_sprintf(req->arena, "%s/%s", m->name, m->version_text));
        log_prediction(app, req, m, role, &rows, out, k, latency_us);
        if (app->monitor && m->mon != NULL)
            monitor_observe(m->mon, rows.x, rows.n, rows.width, out, k);
        if (app->feedback != NULL)
            feedback_remember(app->feedback, req->request_id, (size_t)(slot - app->slots), m,
                              out, rows.n, k);
        if (slot->shadow != NULL)
            shadow_predict(app, req, slot, &rows);
    } else {
        error_for(resp, rc, err.msg);
    }
    record(slot, m, resp->status, t0);
    json_decref(doc);
    served_model_release(m);
    atomic_fetch_sub(&app->in_flight, 1);
    return rc;
}

static int invocations(keel_http_req *req, keel_http_resp *resp)
{
    serve_app *app = req->app;
    return predict(req, resp, &app->slots[0], PROTO_INVOCATIONS, NULL);
}

static int text_reply(keel_http_resp *resp, int status, const char *text)
{
    resp->status = status;
    resp->content_type = "text/plain";
    keel_buf_reset(&resp->body);
    keel_buf_puts(&resp->body, text);
    return KEEL_OK;
}

static int ping(keel_http_req *req, keel_http_resp *resp)
{
    (void)req;
    return text_reply(resp, 200, "\n");
}

static int version(keel_http_req *req, keel_http_resp *resp)
{
    (void)req;
    return text_reply(resp, 200, KEEL_VERSION);
}

static int live(keel_http_req *req, keel_http_resp *resp)
{
    (void)req;
    keel_http_json(resp, 200, json_pack("{s:b}", "live", 1));
    return KEEL_OK;
}

static int ready(keel_http_req *req, keel_http_resp *resp)
{
    (void)req;
    keel_http_json(resp, 200, json_pack("{s:b}", "ready", 1));
    return KEEL_OK;
}

static int server_metadata(keel_http_req *req, keel_http_resp *resp)
{
    (void)req;
    keel_http_json(resp, 200, json_pack("{s:s, s:s, s:[]}", "name", "keel", "version",
                                        KEEL_VERSION, "extensions"));
    return KEEL_OK;
}

static const char *oip_datatype(enum keel_col_type t)
{
    return t == KEEL_COL_STRING ? "BYTES" : t == KEEL_COL_FLOAT ? "FP64" : "INT64";
}

static int model_metadata(keel_http_resp *resp, served_model *m, const char *name)
{
    json_t *inputs = json_array();
    if (m->enc != NULL) {
        for (size_t i = 0; i < m->enc->n_cols; i++)
            json_array_append_new(inputs, json_pack("{s:s, s:s, s:[i]}", "name",
                                                    m->enc->cols[i].column, "datatype",
                                                    oip_datatype(m->input_types[i]), "shape", -1));
    } else {
        json_array_append_new(inputs, json_pack("{s:s, s:s, s:[i,I]}", "name", "input-0",
                                                "datatype", "FP32", "shape", -1,
                                                (json_int_t)keel_model_num_features(m->runtime)));
    }
    size_t k = keel_model_num_outputs(m->runtime);
    json_t *shape = k > 1 ? json_pack("[i,I]", -1, (json_int_t)k) : json_pack("[i]", -1);
    keel_http_json(resp, 200, json_pack("{s:s, s:[s], s:s, s:o, s:[{s:s, s:s, s:o}], s:{s:s}}",
                                        "name", name, "versions", m->version_text, "platform",
                                        "xgboost_json", "inputs", inputs, "outputs", "name",
                                        "predict", "datatype", "FP32", "shape", shape,
                                        "parameters", "task", m->task));
    return KEEL_OK;
}

/* /v2/models/NAME[/versions/V][/ready|/infer] */
static int models_prefix(keel_http_req *req, keel_http_resp *resp)
{
    serve_app *app = req->app;
    const char *p = req->path_rest;
    size_t name_len = strcspn(p, "/");
    model_slot *slot = find_slot(app, p, name_len);
    if (slot == NULL) {
        error_json(resp, 404, "NOT_FOUND",
                   keel_arena_sprintf(req->arena, "no model '%.*s' is served", (int)name_len, p));
        return KEEL_ENOTFOUND;
    }
    const char *rest = p + name_len;
    const char *want = NULL;
    if (strncmp(rest, "/versions/", 10) == 0) {
        size_t v_len = strcspn(rest + 10, "/");
        want = keel_arena_strndup(req->arena, rest + 10, v_len);
        rest += 10 + v_len;
    }
    bool post = strcmp(req->method, "POST") == 0;
    if (post && strcmp(rest, "/infer") == 0)
        return predict(req, resp, slot, PROTO_OIP, want);
    if (post) {
        error_json(resp, 404, "NOT_FOUND", "POST goes to /v2/models/NAME[/versions/V]/infer");
        return KEEL_ENOTFOUND;
    }
    const char *role;
    served_model *m = slot_acquire(slot, &role);
    int rc = KEEL_OK;
    if (want != NULL && strcmp(want, m->version_text) != 0) {
        error_json(resp, 404, "NOT_FOUND", keel_arena_sprintf(req->arena, "version %s of '%s' "
                                                              "is not loaded", want, slot->name));
        rc = KEEL_ENOTFOUND;
    } else if (strcmp(rest, "/ready") == 0) {
        keel_http_json(resp, 200, json_pack("{s:s, s:b}", "name", slot->name, "ready", 1));
    } else if (rest[0] == '\0') {
        model_metadata(resp, m, slot->name);
    } else {
        error_json(resp, 404, "NOT_FOUND", "unknown model endpoint");
        rc = KEEL_ENOTFOUND;
    }
    served_model_release(m);
    return rc;
}

static int metrics(keel_http_req *req, keel_http_resp *resp)
{
    serve_app *app = req->app;
    keel_buf *b = &resp->body;
    keel_buf_reset(b);
    keel_buf_puts(b, "# HELP keel_requests_total Prediction requests by model and outcome.\n"
                     "# TYPE keel_requests_total counter\n");
    for (size_t i = 0; i < app->n_slots; i++) {
        model_slot *s = &app->slots[i];
        keel_buf_printf(b, "keel_requests_total{model=\"%s\",code=\"2xx\"} %llu\n", s->name,
                        (unsigned long long)atomic_load(&s->ok));
        keel_buf_printf(b, "keel_requests_total{model=\"%s\",code=\"4xx\"} %llu\n", s->name,
                        (unsigned long long)atomic_load(&s->client_errors));
        keel_buf_printf(b, "keel_requests_total{model=\"%s\",code=\"5xx\"} %llu\n", s->name,
                        (unsigned long long)atomic_load(&s->server_errors));
    }
    keel_buf_puts(b, "# HELP keel_model_version_requests_total Prediction requests by model "
                     "version and outcome.\n# TYPE keel_model_version_requests_total counter\n");
    for (size_t i = 0; i < app->n_slots; i++) {
        model_slot *s = &app->slots[i];
        size_t n = atomic_load_explicit(&s->n_versions, memory_order_acquire);
        for (size_t v = 0; v < n; v++) {
            version_counter *vc = &s->versions[v];
            const char *codes[] = { "2xx", "4xx", "5xx" };
            uint64_t counts[] = { atomic_load(&vc->ok), atomic_load(&vc->client_errors),
                                  atomic_load(&vc->server_errors) };
            for (int c = 0; c < 3; c++)
                keel_buf_printf(b, "keel_model_version_requests_total{model=\"%s\",version=\"%s\","
                                   "code=\"%s\"} %llu\n", s->name, vc->version, codes[c],
                                (unsigned long long)counts[c]);
        }
    }
    keel_buf_puts(b, "# HELP keel_request_duration_seconds Time to answer a prediction request.\n"
                     "# TYPE keel_request_duration_seconds histogram\n");
    for (size_t i = 0; i < app->n_slots; i++) {
        model_slot *s = &app->slots[i];
        uint64_t cumulative = 0;
        for (size_t k = 0; k <= SERVE_LATENCY_BUCKETS; k++) {
            cumulative += atomic_load(&s->latency_buckets[k]);
            if (k < SERVE_LATENCY_BUCKETS)
                keel_buf_printf(b, "keel_request_duration_seconds_bucket{model=\"%s\",le=\"%g\"} "
                                   "%llu\n", s->name, latency_bounds[k],
                                (unsigned long long)cumulative);
            else
                keel_buf_printf(b, "keel_request_duration_seconds_bucket{model=\"%s\",le=\"+Inf\"}"
                                   " %llu\n", s->name, (unsigned long long)cumulative);
        }
        keel_buf_printf(b, "keel_request_duration_seconds_sum{model=\"%s\"} %.6f\n", s->name,
                        (double)atomic_load(&s->latency_sum_us) / 1e6);
        keel_buf_printf(b, "keel_request_duration_seconds_count{model=\"%s\"} %llu\n", s->name,
                        (unsigned long long)cumulative);
    }
    keel_buf_puts(b, "# HELP keel_model_info The model version serving each role.\n"
                     "# TYPE keel_model_info gauge\n");
    for (size_t i = 0; i < app->n_slots; i++) {
        model_slot *s = &app->slots[i];
        const char *roles[] = { "primary", "canary", "shadow" };
        pthread_mutex_lock(&s->lock);
        served_model *ms[] = { s->current, s->canary, s->shadow };
        for (int r = 0; r < 3; r++) {
            if (ms[r] != NULL)
                keel_buf_printf(b, "keel_model_info{model=\"%s\",version=\"%s\",role=\"%s\"} 1\n",
                                s->name, ms[r]->version_text, roles[r]);
        }
        pthread_mutex_unlock(&s->lock);
        keel_buf_printf(b, "keel_model_reloads_total{model=\"%s\"} %llu\n"
                           "keel_model_reload_failures_total{model=\"%s\"} %llu\n", s->name,
                        (unsigned long long)atomic_load(&s->reloads), s->name,
                        (unsigned long long)atomic_load(&s->reload_failures));
    }
    keel_buf_printf(b, "# TYPE keel_requests_in_flight gauge\nkeel_requests_in_flight %d\n"
                       "# TYPE keel_requests_rejected_total counter\n"
                       "keel_requests_rejected_total %llu\n"
                       "# TYPE keel_prediction_log_dropped_total counter\n"
                       "keel_prediction_log_dropped_total %llu\n"
                       "# TYPE keel_prediction_log_written_total counter\n"
                       "keel_prediction_log_written_total %llu\n"
                       "# TYPE keel_uptime_seconds gauge\nkeel_uptime_seconds %.3f\n",
                    atomic_load(&app->in_flight), (unsigned long long)atomic_load(&app->rejected_busy),
                    (unsigned long long)prediction_log_dropped(app->log),
                    (unsigned long long)prediction_log_written(app->log),
                    (double)(keel_now_ms() - app->started_ms) / 1000.0);
    serve_monitor_metrics(app, b);
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4";
    return KEEL_OK;
}

const keel_http_route serve_routes[] = {
    { "POST", "/invocations", KEEL_ROUTE_EXACT, invocations, NULL, SERVE_MAX_BODY },
    { "GET", "/ping", KEEL_ROUTE_EXACT, ping, NULL, 0 },
    { "GET", "/health", KEEL_ROUTE_EXACT, ping, NULL, 0 },
    { "GET", "/version", KEEL_ROUTE_EXACT, version, NULL, 0 },
    { "GET", "/metrics", KEEL_ROUTE_EXACT, metrics, NULL, 0 },
    { "POST", "/feedback", KEEL_ROUTE_EXACT, serve_feedback, NULL, SERVE_MAX_BODY },
    { "GET", "/v2/health/live", KEEL_ROUTE_EXACT, live, NULL, 0 },
    { "GET", "/v2/health/ready", KEEL_ROUTE_EXACT, ready, NULL, 0 },
    { "GET", "/v2", KEEL_ROUTE_EXACT, server_metadata, NULL, 0 },
    { "GET", "/v2/models/", KEEL_ROUTE_PREFIX, models_prefix, NULL, 0 },
    { "POST", "/v2/models/", KEEL_ROUTE_PREFIX, models_prefix, NULL, SERVE_MAX_BODY },
};

const size_t serve_n_routes = sizeof serve_routes / sizeof serve_routes[0];

int serve_not_found(keel_http_req *req, keel_http_resp *resp)
{
    error_json(resp, resp->status == 405 ? 405 : 404, "NOT_FOUND",
               keel_arena_sprintf(req->arena, "no endpoint %s %s", req->method, req->url));
    return KEEL_OK;
}

void serve_too_large(keel_http_req *req, keel_http_resp *resp, size_t limit)
{
    (void)req;
    error_json(resp, 413, "TOO_LARGE",
               keel_arena_sprintf(req->arena, "the body is over the %zu-byte limit", limit));
}
