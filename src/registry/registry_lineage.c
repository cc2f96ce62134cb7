/*
 * registry_lineage.c — a model version traced back to what made it: the
 * run (experiment, status, start, code commit and dirty flag), its params,
 * latest metrics and dataset inputs with their context (training,
 * validation …). A version registered without a run, or whose run is not in
 * this store, traces back to its source only.
 */
#include "registry_internal.h"

#include <keel/json.h>

#include <stdio.h>
#include <string.h>

static const char *find_tag(const keel_kv *tags, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (tags[i].key != NULL && strcmp(tags[i].key, key) == 0)
            return tags[i].value;
    return NULL;
}

static json_t *text_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static json_t *run_json(const keel_run *r)
{
    char exp[24];
    snprintf(exp, sizeof exp, "%lld", (long long)r->info.experiment_id);
    json_t *o = json_object();
    json_object_set_new(o, "run_id", json_string(r->info.run_id));
    json_object_set_new(o, "run_name", text_or_null(r->info.run_name));
    json_object_set_new(o, "experiment_id", json_string(exp));
    json_object_set_new(o, "status", text_or_null(r->info.status));
    json_object_set_new(o, "start_time", json_integer(r->info.start_time));
    json_object_set_new(o, "git_commit",
                        text_or_null(find_tag(r->tags, r->n_tags, "mlflow.source.git.commit")));
    const char *dirty = find_tag(r->tags, r->n_tags, "keel.source.git.dirty");
    json_object_set_new(o, "git_dirty",
                        dirty == NULL ? json_null() : json_boolean(strcmp(dirty, "true") == 0));
    return o;
}

static json_t *datasets_json(const keel_run *r)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < r->n_inputs; i++) {
        const keel_dataset_input *in = &r->inputs[i];
        json_t *d = json_object();
        json_object_set_new(d, "name", text_or_null(in->dataset.name));
        json_object_set_new(d, "digest", text_or_null(in->dataset.digest));
        json_object_set_new(d, "source", text_or_null(in->dataset.source));
        json_object_set_new(d, "context",
                            text_or_null(find_tag(in->tags, in->n_tags, "mlflow.data.context")));
        json_array_append_new(arr, d);
    }
    return arr;
}

int keel_model_lineage(keel_store *s, const char *name, int64_t version, keel_arena *a,
                       json_t **out, keel_err *err)
{
    keel_model_version v;
    int rc = keel_model_version_get(s, name, version, a, &v, err);
    if (rc != KEEL_OK)
        return rc;
    keel_run run;
    bool have_run = false;
    if (v.run_id[0] != '\0') {
        keel_err why;
        rc = keel_run_get(s, v.run_id, a, &run, &why);
        if (rc == KEEL_OK)
            have_run = true;
        else if (rc != KEEL_ENOTFOUND) {
            *err = why;
            return keel_err_prefix(err, "lineage of model '%s' version %lld", name,
                                   (long long)version);
        }
    }
    json_t *o = json_object();
    if (o == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    json_object_set_new(o, "model", json_string(v.name));
    json_object_set_new(o, "version", json_integer(v.version));
    json_object_set_new(o, "source", json_string(v.source));
    if (!have_run && v.run_id[0] != '\0') {
        /* the version names a run this store does not hold */
        json_t *r = json_object();
        json_object_set_new(r, "run_id", json_string(v.run_id));
        json_object_set_new(o, "run", r);
    }
    if (have_run) {
        json_object_set_new(o, "run", run_json(&run));
        json_object_set_new(o, "datasets", datasets_json(&run));
        json_t *params = json_object();
        for (size_t i = 0; i < run.n_params; i++)
            json_object_set_new(params, run.params[i].key, json_string(run.params[i].value));
        json_object_set_new(o, "params", params);
        json_t *metrics = json_object();
        for (size_t i = 0; i < run.n_metrics; i++)
            json_object_set_new(metrics, run.metrics[i].key,
                                keel_json_double(run.metrics[i].value));
        json_object_set_new(o, "metrics", metrics);
    }
    *out = o;
    return KEEL_OK;
}
