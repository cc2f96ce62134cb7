/*
 * tracking_json.c — experiments, runs and metrics as MLflow's REST API
 * writes them, shared by the CLI's --json output and the server.
 */
#include <keel/buf.h>
#include <keel/json.h>
#include <keel/tracking.h>

#include <stdio.h>
#include <string.h>

static json_t *kv_array(const keel_kv *items, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s}", "key", items[i].key, "value",
                                             items[i].value != NULL ? items[i].value : ""));
    return arr;
}

json_t *keel_experiment_to_json(const keel_experiment *e)
{
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)e->experiment_id);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "experiment_id", id, "name",
                          e->name, "artifact_location", e->artifact_location,
                          "lifecycle_stage", e->lifecycle_stage, "last_update_time",
                          (json_int_t)e->last_update_time, "creation_time",
                          (json_int_t)e->creation_time);
    json_object_set_new(o, "tags", kv_array(e->tags, e->n_tags));
    return o;
}

json_t *keel_metric_to_json(const keel_metric *m)
{
    json_t *o = json_object();
    json_object_set_new(o, "key", json_string(m->key));
    json_object_set_new(o, "value", keel_json_double(m->value));
    json_object_set_new(o, "timestamp", json_integer(m->timestamp));
    json_object_set_new(o, "step", json_integer(m->step));
    return o;
}

/* ---- direct writer ---- */

typedef struct writer {
    keel_buf *out;
    int rc;
    bool omit_empty;
} writer;

static void put_raw(writer *w, const char *text)
{
    if (w->rc == KEEL_OK)
        w->rc = keel_buf_puts(w->out, text);
}

static void put_str(writer *w, const char *s)
{
    if (w->rc == KEEL_OK)
        w->rc = keel_json_write_string(w->out, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

static void put_int(writer *w, int64_t v)
{
    if (w->rc == KEEL_OK)
        w->rc = keel_buf_printf(w->out, "%lld", (long long)v);
}

/* ,"key":"value" — first fields pass lead = "" */
static void field_str(writer *w, const char *lead, const char *key, const char *value)
{
    put_raw(w, lead);
    put_str(w, key);
    put_raw(w, ":");
    put_str(w, value);
}

static void field_int(writer *w, const char *key, int64_t value)
{
    put_raw(w, ",");
    put_str(w, key);
    put_raw(w, ":");
    put_int(w, value);
}

static bool open_list(writer *w, const char *lead, const char *key, size_t n)
{
    if (n == 0 && w->omit_empty)
        return false;
    put_raw(w, lead);
    put_str(w, key);
    put_raw(w, ":[");
    return true;
}

static void kv_list(writer *w, const char *lead, const char *key, const keel_kv *items, size_t n)
{
    if (!open_list(w, lead, key, n))
        return;
    for (size_t i = 0; i < n; i++) {
        put_raw(w, i > 0 ? ",{" : "{");
        field_str(w, "", "key", items[i].key);
        field_str(w, ",", "value", items[i].value);
        put_raw(w, "}");
    }
    put_raw(w, "]");
}

static void run_info(writer *w, const keel_run_info *in)
{
    char exp[32];
    snprintf(exp, sizeof exp, "%lld", (long long)in->experiment_id);
    field_str(w, "{", "run_id", in->run_id);
    field_str(w, ",", "run_uuid", in->run_id);
    field_str(w, ",", "run_name", in->run_name);
    field_str(w, ",", "experiment_id", exp);
    field_str(w, ",", "user_id", in->user_id);
    field_str(w, ",", "status", in->status);
    field_int(w, "start_time", in->start_time);
    if (in->end_time > 0)
        field_int(w, "end_time", in->end_time);
    field_str(w, ",", "artifact_uri", in->artifact_uri);
    field_str(w, ",", "lifecycle_stage", in->lifecycle_stage);
    put_raw(w, "}");
}

static void dataset_inputs(writer *w, const keel_run *r)
{
    put_raw(w, ",\"inputs\":{");
    if (open_list(w, "", "dataset_inputs", r->n_inputs)) {
        for (size_t i = 0; i < r->n_inputs; i++) {
            const keel_dataset *d = &r->inputs[i].dataset;
            put_raw(w, i > 0 ? ",{" : "{");
            kv_list(w, "", "tags", r->inputs[i].tags, r->inputs[i].n_tags);
            put_raw(w, r->inputs[i].n_tags > 0 || !w->omit_empty ? ",\"dataset\":{"
                                                                  : "\"dataset\":{");
            const char *lead = "";
            const char *const keys[] = { "name", "digest", "source_type", "source", "schema",
                                         "profile" };
            const char *const values[] = { d->name, d->digest, d->source_type, d->source,
                                           d->schema, d->profile };
            for (size_t k = 0; k < 6; k++) {
                if (values[k] == NULL)
                    continue;
                field_str(w, lead, keys[k], values[k]);
                lead = ",";
            }
            put_raw(w, "}}");
        }
        put_raw(w, "]");
    }
    put_raw(w, "}");
}

int keel_run_write_json(keel_buf *out, const keel_run *r, bool omit_empty)
{
    writer w = { out, KEEL_OK, omit_empty };
    put_raw(&w, "{\"info\":");
    run_info(&w, &r->info);
    put_raw(&w, ",\"data\":{");
    const char *lead = "";
    if (open_list(&w, lead, "metrics", r->n_metrics)) {
        for (size_t i = 0; i < r->n_metrics; i++) {
            const keel_metric *m = &r->metrics[i];
            put_raw(&w, i > 0 ? ",{" : "{");
            field_str(&w, "", "key", m->key);
            put_raw(&w, ",\"value\":");
            if (w.rc == KEEL_OK)
                w.rc = keel_json_write_double(out, m->value);
            field_int(&w, "timestamp", m->timestamp);
            field_int(&w, "step", m->step);
            put_raw(&w, "}");
        }
        put_raw(&w, "]");
        lead = ",";
    }
    if (r->n_params > 0 || !omit_empty) {
        kv_list(&w, lead, "params", r->params, r->n_params);
        lead = ",";
    }
    kv_list(&w, lead, "tags", r->tags, r->n_tags);
    put_raw(&w, "}");
    dataset_inputs(&w, r);
    put_raw(&w, "}");
    return w.rc;
}

json_t *keel_run_to_json(const keel_run *r)
{
    keel_buf b;
    keel_buf_init(&b, (size_t)1 << 30);
    json_t *v = NULL;
    if (keel_run_write_json(&b, r, false) == KEEL_OK)
        v = json_loadb(b.data, b.len, 0, NULL);
    keel_buf_free(&b);
    return v;
}

static const char *arena_copy(keel_arena *a, const char *s)
{
    return s != NULL ? keel_arena_strdup(a, s) : NULL;
}

static int list_field(const json_t *msg, const char *field, const json_t **out, keel_err *err)
{
    const json_t *arr = json_object_get(msg, field);
    *out = NULL;
    if (arr == NULL || json_is_null(arr))
        return KEEL_OK;
    if (!json_is_array(arr))
        return keel_errf(err, KEEL_EINVAL, "field '%s' must be an array", field);
    *out = arr;
    return KEEL_OK;
}

int keel_kv_list_from_json(const json_t *msg, const char *field, keel_arena *a, keel_kv **out,
                           size_t *out_n, keel_err *err)
{
    const json_t *arr;
    int rc = list_field(msg, field, &arr, err);
    *out_n = 0;
    *out = NULL;
    if (rc != KEEL_OK || arr == NULL)
        return rc;
    size_t n = json_array_size(arr);
    keel_kv *items = keel_arena_alloc(a, (n + 1) * sizeof *items);
    if (items == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *item = json_array_get(arr, i);
        const char *key = NULL, *value = NULL;
        if (!json_is_object(item))
            return keel_errf(err, KEEL_EINVAL, "%s[%zu] must be an object", field, i);
        if (keel_json_get_string(item, "key", true, &key, err) != KEEL_OK ||
            keel_json_get_string(item, "value", false, &value, err) != KEEL_OK)
            return keel_err_prefix(err, "%s[%zu]", field, i);
        items[i].key = arena_copy(a, key);
        items[i].value = arena_copy(a, value != NULL ? value : "");
    }
    *out = items;
    *out_n = n;
    return KEEL_OK;
}

static int metric_from_json(const json_t *m, keel_arena *a, keel_metric *out, keel_err *err)
{
    if (!json_is_object(m))
        return keel_errf(err, KEEL_EINVAL, "must be an object");
    const char *key = NULL;
    int64_t ts = 0, step = 0;
    const json_t *v = json_object_get(m, "value");
    int rc = keel_json_get_string(m, "key", true, &key, err);
    if (rc == KEEL_OK && (v == NULL || json_is_null(v)))
        rc = keel_errf(err, KEEL_EINVAL, "missing value for required field 'value'");
    if (rc == KEEL_OK)
        rc = keel_json_to_double(v, "value", &out->value, err);
    if (rc == KEEL_OK)
        rc = keel_json_get_int64(m, "timestamp", false, &ts, err);
    if (rc == KEEL_OK)
        rc = keel_json_get_int64(m, "step", false, &step, err);
    if (rc != KEEL_OK)
        return rc;
    out->key = arena_copy(a, key);
    out->timestamp = ts;
    out->step = step;
    return KEEL_OK;
}

int keel_batch_from_json(const json_t *msg, keel_arena *a, keel_batch *out, keel_err *err)
{
    memset(out, 0, sizeof *out);
    const json_t *metrics;
    int rc = list_field(msg, "metrics", &metrics, err);
    size_t n = metrics != NULL ? json_array_size(metrics) : 0;
    if (rc == KEEL_OK && n > 0) {
        out->metrics = keel_arena_alloc(a, n * sizeof *out->metrics);
        if (out->metrics == NULL)
            return keel_errf(err, KEEL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; rc == KEEL_OK && i < n; i++) {
        rc = metric_from_json(json_array_get(metrics, i), a, &out->metrics[i], err);
        if (rc != KEEL_OK)
            return keel_err_prefix(err, "metrics[%zu]", i);
        out->n_metrics = i + 1;
    }
    if (rc == KEEL_OK)
        rc = keel_kv_list_from_json(msg, "params", a, &out->params, &out->n_params, err);
    if (rc == KEEL_OK)
        rc = keel_kv_list_from_json(msg, "tags", a, &out->tags, &out->n_tags, err);
    return rc;
}

static int dataset_from_json(const json_t *d, keel_arena *a, keel_dataset *out, keel_err *err)
{
    if (!json_is_object(d))
        return keel_errf(err, KEEL_EINVAL, "field 'dataset' must be an object");
    static const char *const fields[] = { "name", "digest", "source_type", "source", "schema",
                                          "profile" };
    const char *values[6] = { NULL };
    for (size_t i = 0; i < 6; i++) {
        bool required = i < 2;
        int rc = keel_json_get_string(d, fields[i], required, &values[i], err);
        if (rc != KEEL_OK)
            return keel_err_prefix(err, "dataset");
    }
    out->name = arena_copy(a, values[0]);
    out->digest = arena_copy(a, values[1]);
    out->source_type = arena_copy(a, values[2]);
    out->source = arena_copy(a, values[3]);
    out->schema = arena_copy(a, values[4]);
    out->profile = arena_copy(a, values[5]);
    return KEEL_OK;
}

int keel_dataset_inputs_from_json(const json_t *msg, const char *field, keel_arena *a,
                                  keel_dataset_input **out, size_t *out_n, keel_err *err)
{
    const json_t *arr;
    int rc = list_field(msg, field, &arr, err);
    *out = NULL;
    *out_n = 0;
    if (rc != KEEL_OK || arr == NULL)
        return rc;
    size_t n = json_array_size(arr);
    keel_dataset_input *items = keel_arena_alloc(a, (n + 1) * sizeof *items);
    if (items == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *item = json_array_get(arr, i);
        if (!json_is_object(item))
            return keel_errf(err, KEEL_EINVAL, "%s[%zu] must be an object", field, i);
        rc = dataset_from_json(json_object_get(item, "dataset"), a, &items[i].dataset, err);
        if (rc == KEEL_OK)
            rc = keel_kv_list_from_json(item, "tags", a, &items[i].tags, &items[i].n_tags, err);
        if (rc != KEEL_OK)
            return keel_err_prefix(err, "%s[%zu]", field, i);
    }
    *out = items;
    *out_n = n;
    return KEEL_OK;
}
