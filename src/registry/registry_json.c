/*
 * registry_json.c — registered models and versions in MLflow's REST shapes
 * (model_registry.proto: RegisteredModel, ModelVersion,
 * RegisteredModelAlias). As MLflow's JSON: timestamps are numbers, a
 * version number is a string ("3"), an alias is {"alias", "version": "3"}
 * on a model and a plain string on a version. Lists are always present
 * (possibly empty), as keel's other JSON writers do.
 */
#include <keel/json.h>
#include <keel/registry.h>

#include <stdio.h>

static json_t *text(const char *s)
{
    return json_string(s != NULL ? s : "");
}

static json_t *version_text(int64_t version)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)version);
    return json_string(buf);
}

static json_t *kv_array(const keel_kv *items, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "key", text(items[i].key));
        json_object_set_new(o, "value", text(items[i].value));
        json_array_append_new(arr, o);
    }
    return arr;
}

json_t *keel_model_version_to_json(const keel_model_version *v)
{
    json_t *o = json_object();
    if (o == NULL || v == NULL)
        return o;
    json_object_set_new(o, "name", text(v->name));
    json_object_set_new(o, "version", version_text(v->version));
    json_object_set_new(o, "creation_timestamp", json_integer(v->creation_time));
    json_object_set_new(o, "last_updated_timestamp", json_integer(v->last_updated_time));
    if (v->user_id != NULL && v->user_id[0] != '\0')  /* MLflow leaves an unknown user out */
        json_object_set_new(o, "user_id", text(v->user_id));
    json_object_set_new(o, "current_stage", text(v->current_stage));
    json_object_set_new(o, "description", text(v->description));
    json_object_set_new(o, "source", text(v->source));
    json_object_set_new(o, "run_id", text(v->run_id));
    json_object_set_new(o, "status", json_string(v->status != NULL && v->status[0] != '\0'
                                                     ? v->status : "READY"));
    json_object_set_new(o, "status_message", text(v->status_message));
    json_object_set_new(o, "tags", kv_array(v->tags, v->n_tags));
    json_object_set_new(o, "run_link", text(v->run_link));
    json_t *aliases = json_array();
    for (size_t i = 0; i < v->n_aliases; i++)
        json_array_append_new(aliases, text(v->aliases[i]));
    json_object_set_new(o, "aliases", aliases);
    return o;
}

json_t *keel_registered_model_to_json(const keel_registered_model *m)
{
    json_t *o = json_object();
    if (o == NULL || m == NULL)
        return o;
    json_object_set_new(o, "name", text(m->name));
    json_object_set_new(o, "creation_timestamp", json_integer(m->creation_time));
    json_object_set_new(o, "last_updated_timestamp", json_integer(m->last_updated_time));
    json_object_set_new(o, "description", text(m->description));
    json_t *latest = json_array();
    for (size_t i = 0; i < m->n_latest_versions; i++)
        json_array_append_new(latest, keel_model_version_to_json(&m->latest_versions[i]));
    json_object_set_new(o, "latest_versions", latest);
    json_object_set_new(o, "tags", kv_array(m->tags, m->n_tags));
    json_t *aliases = json_array();
    for (size_t i = 0; i < m->n_aliases; i++) {
        json_t *a = json_object();
        json_object_set_new(a, "alias", text(m->aliases[i].alias));
        json_object_set_new(a, "version", version_text(m->aliases[i].version));
        json_array_append_new(aliases, a);
    }
    json_object_set_new(o, "aliases", aliases);
    return o;
}
