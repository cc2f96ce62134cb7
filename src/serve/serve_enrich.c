/*
 * serve_enrich.c — request enrichment from the online feature store:
 * `keel serve MODEL --features features.yaml --feature-service S` lets a
 * client send only entity keys (e.g. {"station": "Aotizhongxin"}); each
 * record gets the service's features, named view__feature as in training
 * sets built by `keel features training-set`, looked up for all rows of the
 * request at once. A value the client sends itself wins; a feature the
 * store does not have (or has only past its view's TTL) is null, i.e.
 * missing, which the model handles as in training. Only dataframe_records
 * bodies are enriched (other shapes are decoded as they are).
 */
#include "serve.h"

#include <keel/json.h>
#include <keel/util.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int serve_enrich_setup(serve_app *app, const char *features_file, const char *service,
                       const char *store_uri, keel_err *err)
{
    int rc = keel_feature_repo_load(features_file, &app->feature_repo, err);
    if (rc != KEEL_OK)
        return rc;
    const keel_feature_repo *repo = app->feature_repo;
    long s = keel_feature_service_index(repo, service);
    if (s < 0)
        return keel_errf(err, KEEL_ENOTFOUND, "%s declares no feature service '%s'",
                         features_file, service);
    const keel_feature_service *svc = &repo->services[s];
    app->enrich_refs = svc->features;
    app->n_enrich = svc->n_features;
    app->enrich_columns = calloc(svc->n_features + 1, sizeof *app->enrich_columns);
    /* The join keys every view of the service needs, each once. */
    app->enrich_keys = calloc(64, sizeof *app->enrich_keys);
    if (app->enrich_columns == NULL || app->enrich_keys == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    for (size_t i = 0; i < svc->n_features; i++) {
        const keel_feature_view *v = &repo->views[svc->features[i].view];
        app->enrich_columns[i] = keel_arena_sprintf(&app->feature_repo->arena, "%s__%s", v->name,
                                                    v->features[svc->features[i].feature].name);
        for (size_t e = 0; e < v->n_entities; e++) {
            const keel_entity *ent = &repo->entities[v->entities[e]];
            for (size_t k = 0; k < ent->n_join_keys; k++) {
                size_t j = 0;
                while (j < app->n_enrich_keys && strcmp(app->enrich_keys[j], ent->join_keys[k]))
                    j++;
                if (j == app->n_enrich_keys && j < 64)
                    app->enrich_keys[app->n_enrich_keys++] = ent->join_keys[k];
            }
        }
    }
    return keel_online_store_open(store_uri, app->home[0] ? app->home : NULL, &app->online, err);
}

void serve_enrich_free(serve_app *app)
{
    keel_online_store_close(app->online);
    free(app->enrich_columns);
    free(app->enrich_keys);
    keel_feature_repo_free(app->feature_repo);
}


/* The entity key of a record as the store's text (ints in decimal). */
static const char *key_text(keel_arena *a, const json_t *v)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        return keel_arena_sprintf(a, "%lld", (long long)json_integer_value(v));
    if (json_is_real(v) && json_real_value(v) == (double)(long long)json_real_value(v))
        return keel_arena_sprintf(a, "%lld", (long long)json_real_value(v));
    return NULL;
}

int serve_enrich(serve_app *app, keel_http_req *req, const char **out_body, size_t *out_len,
                 keel_err *err)
{
    *out_body = req->body;
    *out_len = req->body_len;
    json_t *doc = NULL;
    if (keel_json_parse(req->body != NULL ? req->body : "", req->body_len, KEEL_JSON_MAX_DEPTH,
                        &doc, err) != KEEL_OK)
        return KEEL_EINVAL;
    json_t *records = json_object_get(doc, "dataframe_records");
    if (!json_is_array(records)) {
        json_decref(doc);
        return KEEL_OK;
    }
    size_t n = json_array_size(records), nk = app->n_enrich_keys;
    const char **keys = keel_arena_alloc(req->arena, (n * nk + 1) * sizeof *keys);
    int rc = KEEL_OK;
    for (size_t r = 0; r < n && rc == KEEL_OK; r++) {
        const json_t *rec = json_array_get(records, r);
        for (size_t k = 0; k < nk && rc == KEEL_OK; k++) {
            keys[r * nk + k] = key_text(req->arena, json_object_get(rec, app->enrich_keys[k]));
            if (keys[r * nk + k] == NULL)
                rc = keel_errf(err, KEEL_EINVAL, "row %zu: the entity key '%s' is missing or "
                               "not a string or whole number", r, app->enrich_keys[k]);
        }
    }
    keel_feature_answer *ans = rc == KEEL_OK
        ? keel_arena_alloc(req->arena, (n * app->n_enrich + 1) * sizeof *ans) : NULL;
    if (rc == KEEL_OK)
        rc = keel_features_get(app->online, app->feature_repo, app->enrich_refs, app->n_enrich,
                               app->enrich_keys, nk, keys, n, keel_now_ms(), req->arena, ans,
                               err);
    if (rc == KEEL_OK) {
        for (size_t r = 0; r < n; r++) {
            json_t *rec = json_array_get(records, r);
            for (size_t f = 0; f < app->n_enrich; f++)
                if (json_object_get(rec, app->enrich_columns[f]) == NULL)
                    json_object_set_new(rec, app->enrich_columns[f],
                                        keel_feature_value_json(&ans[r * app->n_enrich + f].value));
            /* The keys served their purpose; the model does not read them. */
            for (size_t k = 0; k < nk; k++)
                json_object_del(rec, app->enrich_keys[k]);
        }
        char *text = json_dumps(doc, JSON_COMPACT);
        if (text == NULL) {
            rc = keel_errf(err, KEEL_ENOMEM, "out of memory");
        } else {
            *out_body = keel_arena_strdup(req->arena, text);
            *out_len = strlen(text);
            free(text);
        }
    }
    json_decref(doc);
    return rc;
}
