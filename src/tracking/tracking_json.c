/*
 * tracking_json.c — experiments, runs and metrics as MLflow's REST API
 * writes them, shared by the CLI's --json output and the server.
 */
#include <keel/json.h>
#include <keel/tracking.h>

#include <stdio.h>

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

static json_t *run_info_json(const keel_run_info *in)
{
    char exp[32];
    snprintf(exp, sizeof exp, "%lld", (long long)in->experiment_id);
    json_t *o = json_object();
    json_object_set_new(o, "run_id", json_string(in->run_id));
    json_object_set_new(o, "run_uuid", json_string(in->run_id));
    json_object_set_new(o, "run_name", json_string(in->run_name != NULL ? in->run_name : ""));
    json_object_set_new(o, "experiment_id", json_string(exp));
    json_object_set_new(o, "user_id", json_string(in->user_id != NULL ? in->user_id : ""));
    json_object_set_new(o, "status", json_string(in->status));
    json_object_set_new(o, "start_time", json_integer(in->start_time));
    if (in->end_time > 0)
        json_object_set_new(o, "end_time", json_integer(in->end_time));
    json_object_set_new(o, "artifact_uri",
                        json_string(in->artifact_uri != NULL ? in->artifact_uri : ""));
    json_object_set_new(o, "lifecycle_stage", json_string(in->lifecycle_stage));
    return o;
}

static void set_optional(json_t *o, const char *key, const char *value)
{
    if (value != NULL)
        json_object_set_new(o, key, json_string(value));
}

json_t *keel_run_to_json(const keel_run *r)
{
    json_t *metrics = json_array();
    for (size_t i = 0; i < r->n_metrics; i++)
        json_array_append_new(metrics, keel_metric_to_json(&r->metrics[i]));
    json_t *data = json_object();
    json_object_set_new(data, "metrics", metrics);
    json_object_set_new(data, "params", kv_array(r->params, r->n_params));
    json_object_set_new(data, "tags", kv_array(r->tags, r->n_tags));

    json_t *inputs = json_array();
    for (size_t i = 0; i < r->n_inputs; i++) {
        const keel_dataset *d = &r->inputs[i].dataset;
        json_t *ds = json_object();
        set_optional(ds, "name", d->name);
        set_optional(ds, "digest", d->digest);
        set_optional(ds, "source_type", d->source_type);
        set_optional(ds, "source", d->source);
        set_optional(ds, "schema", d->schema);
        set_optional(ds, "profile", d->profile);
        json_array_append_new(inputs, json_pack("{s:o, s:o}", "tags",
                                                kv_array(r->inputs[i].tags, r->inputs[i].n_tags),
                                                "dataset", ds));
    }
    return json_pack("{s:o, s:o, s:{s:o}}", "info", run_info_json(&r->info), "data", data,
                     "inputs", "dataset_inputs", inputs);
}
