/*
 * serve_feedback.c — delayed labels: every answered request is remembered
 * (request id → model version and its predictions) in a bounded table, and
 * POST /feedback joins labels to it, feeding the version's rolling
 * performance and the feedback log (.keel/feedback/MODEL.jsonl, which
 * `keel monitor export` joins with the prediction log for retraining).
 *
 * The table is a ring of `capacity` entries (the oldest is forgotten first)
 * indexed by an open-addressing hash of the request id with backward-shift
 * deletion; entries older than the TTL are "expired". An entry holds a
 * reference to its served_model, so a label for a version that was swapped
 * out still lands on that version. Up to FEEDBACK_ROWS predictions per
 * request are kept; labels for more rows are refused as invalid.
 */
#include "serve.h"

#include <keel/buf.h>
#include <keel/json.h>
#include <keel/util.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FEEDBACK_ROWS 8
#define FEEDBACK_MAX_ITEMS 10000

typedef struct feedback_entry {
    char id[33];
    served_model *model;            /* referenced; NULL when the slot is free */
    size_t slot;
    int64_t time_ms;
    uint8_t n;
    float pred[FEEDBACK_ROWS];
} feedback_entry;

struct feedback_table {
    pthread_mutex_t lock;
    feedback_entry *ring;
    size_t capacity, next;
    int32_t *index;                 /* ring position, -1 = empty */
    size_t index_mask;
    int64_t ttl_ms;
};

static uint64_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

int feedback_table_new(size_t capacity, int64_t ttl_ms, feedback_table **out, keel_err *err)
{
    if (capacity == 0 || capacity > (1u << 30))
        return keel_errf(err, KEEL_EINVAL, "the feedback table holds 1 to 2^30 predictions");
    feedback_table *t = calloc(1, sizeof *t);
    size_t slots = 16;
    while (slots < capacity * 2)
        slots *= 2;
    if (t != NULL) {
        t->ring = calloc(capacity, sizeof *t->ring);
        t->index = malloc(slots * sizeof *t->index);
    }
    if (t == NULL || t->ring == NULL || t->index == NULL) {
        if (t != NULL) {
            free(t->ring);
            free(t->index);
        }
        free(t);
        return keel_errf(err, KEEL_ENOMEM, "out of memory for the feedback table");
    }
    memset(t->index, 0xff, slots * sizeof *t->index);
    t->capacity = capacity;
    t->index_mask = slots - 1;
    t->ttl_ms = ttl_ms;
    pthread_mutex_init(&t->lock, NULL);
    *out = t;
    return KEEL_OK;
}

void feedback_table_free(feedback_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->capacity; i++)
        served_model_release(t->ring[i].model);
    pthread_mutex_destroy(&t->lock);
    free(t->ring);
    free(t->index);
    free(t);
}

static size_t find_slot(const feedback_table *t, const char *id)
{
    size_t i = hash_id(id) & t->index_mask;
    while (t->index[i] >= 0 && strcmp(t->ring[t->index[i]].id, id) != 0)
        i = (i + 1) & t->index_mask;
    return i;
}

/* Removes index slot i, shifting later members of its probe run back. */
static void index_delete(feedback_table *t, size_t i)
{
    size_t j = i;
    for (;;) {
        j = (j + 1) & t->index_mask;
        if (t->index[j] < 0)
            break;
        size_t home = hash_id(t->ring[t->index[j]].id) & t->index_mask;
        /* Move j back to i unless its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            t->index[i] = t->index[j];
            i = j;
        }
    }
    t->index[i] = -1;
}

void feedback_remember(feedback_table *t, const char *id, size_t slot, served_model *m,
                       const float *out, size_t n, size_t k)
{
    /* A longer id would be stored cut short, and its index slot never found
     * again (left stale, it fills the index and lookups probe forever). */
    if (t == NULL || id == NULL || id[0] == '\0' || strlen(id) >= sizeof t->ring->id)
        return;
    served_model *old = NULL;
    pthread_mutex_lock(&t->lock);
    feedback_entry *e = &t->ring[t->next];
    if (e->model != NULL) {
        size_t at = find_slot(t, e->id);
        if (t->index[at] == (int32_t)t->next)
            index_delete(t, at);
        old = e->model;
    }
    size_t at = find_slot(t, id);
    if (t->index[at] >= 0) {        /* a client reused an id: the newest wins */
        index_delete(t, at);
        at = find_slot(t, id);
    }
    snprintf(e->id, sizeof e->id, "%s", id);
    atomic_fetch_add(&m->refs, 1);
    e->model = m;
    e->slot = slot;
    e->time_ms = keel_now_ms();
    e->n = (uint8_t)(n < FEEDBACK_ROWS ? n : FEEDBACK_ROWS);
    for (size_t r = 0; r < e->n; r++) {
        if (k == 1) {
            e->pred[r] = out[r];
            continue;
        }
        size_t best = 0;              /* multiclass: the predicted class */
        for (size_t c = 1; c < k; c++)
            if (out[r * k + c] > out[r * k + best])
                best = c;
        e->pred[r] = (float)best;
    }
    e->n = n > FEEDBACK_ROWS ? 0 : e->n;  /* too many rows to take labels for */
    t->index[at] = (int32_t)t->next;
    t->next = (t->next + 1) % t->capacity;
    pthread_mutex_unlock(&t->lock);
    served_model_release(old);
}

/* A label as the model's target: a number, a bool, or a class name. */
static int label_value(const served_model *m, const json_t *v, float *out, char *why,
                       size_t why_size)
{
    if (json_is_number(v) && isfinite(json_number_value(v))) {
        *out = (float)json_number_value(v);
        return KEEL_OK;
    }
    if (json_is_boolean(v)) {
        *out = json_is_true(v) ? 1.0f : 0.0f;
        return KEEL_OK;
    }
    if (json_is_string(v) && json_is_array(m->classes)) {
        size_t i;
        json_t *c;
        json_array_foreach(m->classes, i, c) {
            const char *name = json_string_value(c);
            char num[64];
            if (name == NULL && json_is_number(c)) {
                snprintf(num, sizeof num, "%g", json_number_value(c));
                name = num;
            }
            if (name != NULL && strcmp(name, json_string_value(v)) == 0) {
                *out = (float)i;
                return KEEL_OK;
            }
        }
        /* Quoted up to a length that fits, cut before a whole UTF-8
         * character: the message goes into a JSON answer. */
        const char *s = json_string_value(v);
        size_t shown = strnlen(s, 100);
        while (shown > 0 && ((unsigned char)s[shown] & 0xc0) == 0x80)
            shown--;
        snprintf(why, why_size, "label '%.*s%s' is not a class of the model", (int)shown, s,
                 s[shown] != '\0' ? "…" : "");
        return KEEL_EINVAL;
    }
    snprintf(why, why_size, "a label must be a number, true/false or a class name");
    return KEEL_EINVAL;
}

typedef struct feedback_result {
    size_t accepted, unknown, expired, invalid;
    json_t *errors;
} feedback_result;

static void note(feedback_result *r, const char *id, const char *why)
{
    if (json_array_size(r->errors) < 20)
        json_array_append_new(r->errors, json_pack("{s:s, s:s}", "request_id", id ? id : "",
                                                   "error", why));
}

static void one_item(serve_app *app, const json_t *item, feedback_result *r)
{
    const char *id = json_string_value(json_object_get(item, "request_id"));
    const json_t *label = json_object_get(item, "label");
    const json_t *labels = json_object_get(item, "labels");
    if (id == NULL || (label == NULL) == (labels == NULL) ||
        (labels != NULL && !json_is_array(labels))) {
        r->invalid++;
        note(r, id, "each item needs a string request_id and one of label or labels (a list)");
        return;
    }
    feedback_table *t = app->feedback;
    pthread_mutex_lock(&t->lock);
    size_t at = find_slot(t, id);
    feedback_entry e = t->index[at] >= 0 ? t->ring[t->index[at]] : (feedback_entry){ 0 };
    if (e.model != NULL)
        atomic_fetch_add(&e.model->refs, 1);
    pthread_mutex_unlock(&t->lock);
    if (e.model == NULL) {
        r->unknown++;
        atomic_fetch_add(&app->feedback_unknown, 1);
        note(r, id, "no prediction with this request id is remembered");
        return;
    }
    size_t n = labels != NULL ? json_array_size(labels) : 1;
    float values[FEEDBACK_ROWS];
    char why[200] = "";
    int rc = KEEL_OK;
    if (keel_now_ms() - e.time_ms > t->ttl_ms) {
        r->expired++;
        atomic_fetch_add(&app->feedback_expired, 1);
        note(r, id, "the prediction is older than the feedback TTL");
        served_model_release(e.model);
        return;
    }
    if (e.n == 0) {
        snprintf(why, sizeof why, "the request had more than %d rows: labels are taken only for "
                 "requests of up to %d rows", FEEDBACK_ROWS, FEEDBACK_ROWS);
        rc = KEEL_EINVAL;
    } else if (n != e.n) {
        snprintf(why, sizeof why, "the request predicted %u row(s), got %zu label(s)",
                 (unsigned)e.n, n);
        rc = KEEL_EINVAL;
    }
    for (size_t i = 0; rc == KEEL_OK && i < n; i++)
        rc = label_value(e.model, labels != NULL ? json_array_get(labels, i) : label, &values[i],
                         why, sizeof why);
    if (rc != KEEL_OK) {
        r->invalid++;
        atomic_fetch_add(&app->feedback_invalid, 1);
        note(r, id, why);
        served_model_release(e.model);
        return;
    }
    if (e.model->mon != NULL)
        monitor_perf_add(e.model->mon, e.pred, values, n);
    r->accepted++;
    atomic_fetch_add(&app->feedback_joined, 1);
    if (app->feedback_log != NULL) {
        keel_buf b;
        keel_buf_init(&b, 1 << 20);
        keel_buf_printf(&b, "{\"time\":%lld,\"request_id\":", (long long)keel_now_ms());
        keel_json_write_string(&b, id, strlen(id));
        keel_buf_puts(&b, ",\"model\":");
        keel_json_write_string(&b, e.model->name, strlen(e.model->name));
        keel_buf_printf(&b, ",\"version\":\"%s\",\"labels\":", e.model->version_text);
        json_t *lj = labels != NULL ? json_incref((json_t *)labels) : json_pack("[O]", label);
        keel_json_dump_buf(lj, false, &b);
        json_decref(lj);
        if (keel_buf_puts(&b, "}") == KEEL_OK)
            prediction_log_push(app->feedback_log, e.model->name, keel_buf_take(&b));
        keel_buf_free(&b);
    }
    served_model_release(e.model);
}

/* POST /feedback: {"request_id", "label"|"labels"} or {"feedback": [...]} */
int serve_feedback(keel_http_req *req, keel_http_resp *resp)
{
    serve_app *app = req->app;
    json_t *doc = NULL;
    keel_err err;
    if (app->feedback == NULL) {
        keel_http_json(resp, 404, json_pack("{s:s, s:s}", "error_code", "NOT_FOUND", "error",
                                            "feedback is off (keel serve --feedback-capacity 0)"));
        return KEEL_ENOTFOUND;
    }
    if (keel_json_parse(req->body != NULL ? req->body : "", req->body_len, KEEL_JSON_MAX_DEPTH,
                        &doc, &err) != KEEL_OK || !json_is_object(doc)) {
        json_t *answer = json_pack("{s:s, s:s}", "error_code", "BAD_REQUEST", "error",
                                   doc == NULL ? err.msg : "the body must be an object");
        if (answer == NULL)     /* the parser's message quotes bytes that are not UTF-8 */
            answer = json_pack("{s:s, s:s}", "error_code", "BAD_REQUEST", "error",
                               "the body is not valid JSON (or not UTF-8)");
        keel_http_json(resp, 400, answer);
        json_decref(doc);
        return KEEL_EINVAL;
    }
    feedback_result r = { .errors = json_array() };
    const json_t *items = json_object_get(doc, "feedback");
    if (items != NULL && (!json_is_array(items) || json_array_size(items) > FEEDBACK_MAX_ITEMS)) {
        keel_http_json(resp, 400, json_pack("{s:s, s:s}", "error_code", "BAD_REQUEST", "error",
                                            "'feedback' must be a list of at most 10000 items"));
        json_decref(r.errors);
        json_decref(doc);
        return KEEL_EINVAL;
    }
    if (items != NULL) {
        size_t i;
        json_t *item;
        json_array_foreach(items, i, item) one_item(app, item, &r);
    } else {
        one_item(app, doc, &r);
    }
    json_decref(doc);
    keel_http_json(resp, r.accepted > 0 || r.invalid == 0 ? 200 : 400,
                   json_pack("{s:I, s:I, s:I, s:I, s:o}", "accepted", (json_int_t)r.accepted,
                             "unknown", (json_int_t)r.unknown, "expired", (json_int_t)r.expired,
                             "invalid", (json_int_t)r.invalid, "errors", r.errors));
    return KEEL_OK;
}
