/*
 * features_online.c — the feature store's online endpoints on `keel
 * server`, in the shapes of Feast's feature server:
 *
 *   POST /features/v1/get-online-features
 *        {"features": ["view:f", …]} or {"feature_service": NAME},
 *        "entities": {"key": [v, …], …}
 *        → {"metadata": {"feature_names": [keys…, "f", …]},
 *           "results": [{"values": [...], "statuses": [...],
 *                        "event_timestamps": [...]}, …]}
 *          one result per join key given (first, in the request's order,
 *          status PRESENT, timestamp 0) then per feature, one value per
 *          entity row; event timestamps ISO-8601 UTC as Feast writes them.
 *   POST /features/v1/push
 *        {"push_source_name" | "feature_view": NAME, "df": {col: [v, …]},
 *         "to": "online" | "offline" | "online_and_offline"}
 *        push_source_name names a source: every online view reading it is
 *        written. offline appends to the source's CSV (plain CSV only).
 *   GET  /features/v1/freshness
 *        → {"project", "views": [{"view", "max_event_timestamp",
 *           "staleness_seconds", "written_at", "rows"}]} per online view
 *
 * Definitions and the store are loaded once at server start
 * (app->feature_repo, app->online_store); both are shared by threads (the
 * repo is read-only, the store does its own locking). Offline appends are
 * serialized by app->feature_push_lock.
 */
#include "api.h"

#include "features/features_internal.h"

#include <keel/features.h>
#include <keel/util.h>

#include <errno.h>
#include <time.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MAX_ENTITY_ROWS 100000

static int features_ready(keel_http_resp *resp, const keel_api_app *app)
{
    if (app->feature_repo == NULL || app->online_store == NULL)
        return api_error(resp, KEEL_ESTATE, "this server has no feature definitions (start it "
                                            "with --features FILE, or put features.yaml beside "
                                            ".keel)");
    return KEEL_OK;
}


static json_t *time_json(int64_t ms)
{
    char buf[64];
    time_t s = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

/* The text of an entity value (strings as they are, integers in decimal);
 * NULL for other JSON types. */
static const char *key_text(keel_arena *a, const json_t *v)
{
    if (json_is_string(v))
        return keel_arena_strndup(a, json_string_value(v), json_string_length(v));
    if (json_is_integer(v))
        return keel_arena_sprintf(a, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return NULL;
}

int keel_api_features_get_online(keel_http_req *req, keel_http_resp *resp)
{
    keel_api_app *app = req->app;
    if (features_ready(resp, app) != KEEL_OK)
        return KEEL_ESTATE;
    const keel_feature_repo *repo = app->feature_repo;
    json_t *msg = api_request_message(req, resp);
    if (msg == NULL)
        return KEEL_EINVAL;
    keel_err err = { 0 };
    keel_arena *a = req->arena;
    int rc = KEEL_OK;
    keel_feature_ref *refs = NULL;
    size_t n_refs = 0;
    json_t *features = json_object_get(msg, "features");
    json_t *service = json_object_get(msg, "feature_service");
    json_t *entities = json_object_get(msg, "entities");
    if ((features == NULL) == (service == NULL)) {
        rc = keel_errf(&err, KEEL_EINVAL, "give exactly one of 'features' (a list of "
                                          "\"view:feature\") and 'feature_service'");
    } else if (service != NULL) {
        long s = json_is_string(service)
                     ? keel_feature_service_index(repo, json_string_value(service)) : -2;
        if (s == -2)
            rc = keel_errf(&err, KEEL_EINVAL, "'feature_service' must be a string");
        else if (s < 0)
            rc = keel_errf(&err, KEEL_ENOTFOUND, "no feature service '%s' in project %s",
                           json_string_value(service), repo->project);
        else {
            refs = repo->services[s].features;
            n_refs = repo->services[s].n_features;
        }
    } else if (!json_is_array(features) || json_array_size(features) == 0) {
        rc = keel_errf(&err, KEEL_EINVAL, "'features' must be a non-empty list of "
                                          "\"view:feature\"");
    } else {
        const char *text = "";
        size_t i;
        json_t *f;
        json_array_foreach(features, i, f) {
            if (!json_is_string(f) || strchr(json_string_value(f), ',') != NULL) {
                rc = keel_errf(&err, KEEL_EINVAL, "features[%zu] must be a \"view:feature\" "
                               "string", i);
                break;
            }
            text = keel_arena_sprintf(a, "%s%s%s", text, i ? "," : "", json_string_value(f));
        }
        if (rc == KEEL_OK)
            rc = keel_feature_refs_parse(repo, text, a, &refs, &n_refs, &err);
        if (rc == KEEL_EINVAL && strstr(err.msg, "unknown") != NULL)
            rc = KEEL_ENOTFOUND;
    }
    size_t n_keys = 0, n_rows = 0;
    const char **key_names = NULL, **key_values = NULL;
    if (rc == KEEL_OK && (!json_is_object(entities) || json_object_size(entities) == 0))
        rc = keel_errf(&err, KEEL_EINVAL, "'entities' must be an object of join key → list "
                                          "of values");
    if (rc == KEEL_OK) {
        n_keys = json_object_size(entities);
        key_names = keel_arena_alloc(a, n_keys * sizeof *key_names);
        const char *k;
        json_t *list;
        size_t ki = 0;
        json_object_foreach(entities, k, list) {
            if (!json_is_array(list)) {
                rc = keel_errf(&err, KEEL_EINVAL, "entities.%s must be a list", k);
                break;
            }
            if (ki == 0)
                n_rows = json_array_size(list);
            if (json_array_size(list) != n_rows) {
                rc = keel_errf(&err, KEEL_EINVAL, "entities.%s has %zu values, entities.%s %zu: "
                               "every join key needs one per row", k, json_array_size(list),
                               key_names[0], n_rows);
                break;
            }
            key_names[ki++] = k;
        }
        if (rc == KEEL_OK && n_rows > MAX_ENTITY_ROWS)
            rc = keel_errf(&err, KEEL_ELIMIT, "%zu entity rows: at most %d per request", n_rows,
                           MAX_ENTITY_ROWS);
        if (rc == KEEL_OK) {
            key_values = keel_arena_alloc(a, (n_rows * n_keys + 1) * sizeof *key_values);
            for (size_t kk = 0; kk < n_keys && rc == KEEL_OK; kk++) {
                json_t *l = json_object_get(entities, key_names[kk]);
                for (size_t r = 0; r < n_rows; r++) {
                    const char *t = key_text(a, json_array_get(l, r));
                    if (t == NULL) {
                        rc = keel_errf(&err, KEEL_EINVAL, "entities.%s[%zu] must be a string "
                                       "or an integer", key_names[kk], r);
                        break;
                    }
                    key_values[r * n_keys + kk] = t;
                }
            }
        }
    }
    keel_feature_answer *ans = NULL;
    if (rc == KEEL_OK) {
        ans = keel_arena_alloc(a, (n_rows * n_refs + 1) * sizeof *ans);
        rc = keel_features_get(app->online_store, repo, refs, n_refs, key_names, n_keys,
                               key_values, n_rows, keel_now_ms(), a, ans, &err);
    }
    if (rc != KEEL_OK) {
        json_decref(msg);
        return api_error(resp, rc, err.msg);
    }
    json_t *names = json_array(), *results = json_array();
    for (size_t k = 0; k < n_keys; k++) {
        json_array_append_new(names, json_string(key_names[k]));
        json_t *vals = json_array(), *st = json_array(), *ts = json_array();
        json_t *l = json_object_get(entities, key_names[k]);
        for (size_t r = 0; r < n_rows; r++) {
            json_array_append(vals, json_array_get(l, r));
            json_array_append_new(st, json_string("PRESENT"));
            json_array_append_new(ts, time_json(0));
        }
        json_array_append_new(results, json_pack("{s:o, s:o, s:o}", "values", vals, "statuses",
                                                 st, "event_timestamps", ts));
    }
    for (size_t f = 0; f < n_refs; f++) {
        const keel_feature_view *fv = &repo->views[refs[f].view];
        /* Feast names a feature "view__feature" only with full_feature_names. */
        json_t *full = json_object_get(msg, "full_feature_names");
        const char *name = fv->features[refs[f].feature].name;
        json_array_append_new(names, json_is_true(full)
                                         ? json_string(keel_arena_sprintf(a, "%s__%s", fv->name,
                                                                          name))
                                         : json_string(name));
        json_t *vals = json_array(), *st = json_array(), *ts = json_array();
        for (size_t r = 0; r < n_rows; r++) {
            const keel_feature_answer *x = &ans[r * n_refs + f];
            json_array_append_new(vals, keel_feature_value_json(&x->value));
            json_array_append_new(st, json_string(keel_feature_status_name(x->status)));
            json_array_append_new(ts, time_json(x->event_ms));
        }
        json_array_append_new(results, json_pack("{s:o, s:o, s:o}", "values", vals, "statuses",
                                                 st, "event_timestamps", ts));
    }
    json_decref(msg);
    keel_http_json(resp, 200, json_pack("{s:{s:o}, s:o}", "metadata", "feature_names", names,
                                        "results", results));
    return KEEL_OK;
}

/* ---- push ---- */

/* One df column as feature values of type t; errors name the column. */
static int column_values(keel_arena *a, const char *name, const json_t *list,
                         enum keel_col_type t, size_t n, keel_feature_value *out, keel_err *err)
{
    for (size_t r = 0; r < n; r++) {
        const json_t *v = json_array_get(list, r);
        keel_feature_value *o = &out[r];
        *o = (keel_feature_value){ .type = t, .missing = json_is_null(v) };
        if (o->missing)
            continue;
        bool ok = true;
        switch (t) {
        case KEEL_COL_INT:
            ok = json_is_integer(v);
            o->i64 = json_integer_value(v);
            break;
        case KEEL_COL_FLOAT:
            ok = json_is_number(v);
            o->f64 = json_number_value(v);
            break;
        case KEEL_COL_BOOL:
            ok = json_is_boolean(v);
            o->i64 = json_is_true(v);
            break;
        default:
            ok = json_is_string(v);
            o->str = ok ? keel_arena_strndup(a, json_string_value(v), json_string_length(v))
                        : NULL;
            o->len = ok ? json_string_length(v) : 0;
            break;
        }
        if (!ok)
            return keel_errf(err, KEEL_EINVAL, "df.%s[%zu]: expected %s, got %s", name, r,
                             keel_col_type_name(t),
                             json_is_string(v) ? "a string" : json_is_boolean(v) ? "a boolean"
                             : json_is_number(v) ? "a number" : "a list or an object");
    }
    return KEEL_OK;
}

/* Event times of the df: strings "YYYY-MM-DD[ T]HH:MM[:SS]" (UTC) or
 * integers (epoch ms). */
static int event_times(const json_t *list, const char *name, size_t n, int64_t *out,
                       keel_err *err)
{
    for (size_t r = 0; r < n; r++) {
        const json_t *v = json_array_get(list, r);
        double s;
        if (json_is_integer(v)) {
            out[r] = json_integer_value(v);
        } else if (json_is_string(v)) {
            const char *t = json_string_value(v);
            size_t len = json_string_length(v);
            while (len > 0 && (t[len - 1] == 'Z'))
                len--;
            if (!keel_value_parse(KEEL_COL_DATETIME, t, len, &s))
                return keel_errf(err, KEEL_EINVAL, "df.%s[%zu]: '%s' is not a datetime "
                                 "(YYYY-MM-DD HH:MM:SS)", name, r, t);
            out[r] = (int64_t)s * 1000;
        } else {
            return keel_errf(err, KEEL_EINVAL, "df.%s[%zu] must be a datetime string or epoch "
                             "milliseconds", name, r);
        }
    }
    return KEEL_OK;
}

static int push_view(keel_api_app *app, keel_arena *a, size_t v, const json_t *df, size_t n,
                     size_t *out_written, keel_err *err)
{
    const keel_feature_repo *repo = app->feature_repo;
    const keel_feature_view *fv = &repo->views[v];
    const keel_feature_source *src = &repo->sources[fv->source];
    size_t n_keys = 0;
    for (size_t e = 0; e < fv->n_entities; e++)
        n_keys += repo->entities[fv->entities[e]].n_join_keys;
    const json_t *ts = json_object_get(df, src->timestamp);
    const char *ts_name = src->timestamp;
    if (ts == NULL) {
        ts = json_object_get(df, "event_timestamp");
        ts_name = "event_timestamp";
    }
    if (ts == NULL)
        return keel_errf(err, KEEL_EINVAL, "df has no event time column '%s' (or "
                         "'event_timestamp')", src->timestamp);
    int64_t *times = keel_arena_alloc(a, (n + 1) * sizeof *times);
    int rc = event_times(ts, ts_name, n, times, err);
    if (rc != KEEL_OK)
        return rc;
    keel_online_row *rows = keel_arena_alloc(a, (n + 1) * sizeof *rows);
    const char ***kv = keel_arena_alloc(a, (n + 1) * sizeof *kv);
    for (size_t r = 0; r < n; r++)
        kv[r] = keel_arena_alloc(a, (n_keys + 1) * sizeof **kv);
    size_t k = 0;
    for (size_t e = 0; e < fv->n_entities; e++) {
        const keel_entity *ent = &repo->entities[fv->entities[e]];
        for (size_t j = 0; j < ent->n_join_keys; j++, k++) {
            const json_t *l = json_object_get(df, ent->join_keys[j]);
            if (l == NULL)
                return keel_errf(err, KEEL_EINVAL, "df has no join key column '%s' (view %s)",
                                 ent->join_keys[j], fv->name);
            for (size_t r = 0; r < n; r++) {
                const json_t *x = json_array_get(l, r);
                bool fits = ent->key_types[j] == KEEL_COL_INT ? json_is_integer(x)
                                                              : json_is_string(x);
                if (!fits)
                    return keel_errf(err, KEEL_EINVAL, "df.%s[%zu]: expected %s", ent->join_keys[j],
                                     r, keel_col_type_name(ent->key_types[j]));
                kv[r][k] = key_text(a, x);
            }
        }
    }
    keel_feature_value *vals = keel_arena_alloc(a, (n * fv->n_features + 1) * sizeof *vals);
    keel_feature_value *col = keel_arena_alloc(a, (n + 1) * sizeof *col);
    for (size_t f = 0; f < fv->n_features; f++) {
        const json_t *l = json_object_get(df, fv->features[f].name);
        if (l == NULL) {
            for (size_t r = 0; r < n; r++)
                vals[r * fv->n_features + f] = (keel_feature_value){
                    .missing = true, .type = fv->features[f].type };
            continue;
        }
        if ((rc = column_values(a, fv->features[f].name, l, fv->features[f].type, n, col,
                                err)) != KEEL_OK)
            return rc;
        for (size_t r = 0; r < n; r++)
            vals[r * fv->n_features + f] = col[r];
    }
    for (size_t r = 0; r < n; r++)
        rows[r] = (keel_online_row){ .key_values = kv[r], .event_ms = times[r],
                                     .values = &vals[r * fv->n_features] };
    return keel_online_write(app->online_store, repo, v, rows, n, out_written, err);
}

static void csv_field(keel_buf *b, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        keel_buf_puts(b, s);
        return;
    }
    keel_buf_puts(b, "\"");
    for (; *s; s++) {
        if (*s == '"')
            keel_buf_puts(b, "\"");
        keel_buf_append(b, s, 1);
    }
    keel_buf_puts(b, "\"");
}

/* Appends the df's rows to source s's CSV, in its header's column order
 * (columns the df lacks are empty). */
static int push_offline(keel_api_app *app, keel_arena *a, size_t s, const json_t *df, size_t n,
                        keel_err *err)
{
    const keel_feature_source *src = &app->feature_repo->sources[s];
    if (src->path == NULL)
        return keel_errf(err, KEEL_EINVAL, "source %s is dataset %s: offline push appends "
                         "only to CSV sources (datasets are immutable versions)", src->name,
                         src->dataset);
    size_t pl = strlen(src->path);
    if (pl > 3 && strcmp(src->path + pl - 3, ".gz") == 0)
        return keel_errf(err, KEEL_EINVAL, "source %s is a gzip-compressed CSV (%s): offline "
                         "push appends only to a plain CSV", src->name, src->path);
    keel_frame *hdr = NULL;
    keel_csv_options o = { .max_rows = 1 };
    int rc = keel_csv_read(src->path, &o, &hdr, err);
    if (rc != KEEL_OK)
        return rc;
    const char *col;
    json_t *l;
    json_object_foreach((json_t *)df, col, l) {
        if (keel_frame_column(hdr, col) == NULL) {
            rc = keel_errf(err, KEEL_EINVAL, "df column '%s' is not in source %s (%s)", col,
                           src->name, src->path);
            break;
        }
    }
    keel_buf b;
    keel_buf_init(&b, (size_t)256 << 20);
    for (size_t r = 0; r < n && rc == KEEL_OK; r++) {
        for (size_t c = 0; c < hdr->n_cols; c++) {
            if (c > 0)
                keel_buf_puts(&b, ",");
            const json_t *v = json_array_get(json_object_get(df, hdr->cols[c].name), r);
            if (json_is_string(v))
                csv_field(&b, json_string_value(v));
            else if (json_is_integer(v))
                csv_field(&b, keel_arena_sprintf(a, "%" JSON_INTEGER_FORMAT,
                                                 json_integer_value(v)));
            else if (json_is_real(v))
                csv_field(&b, keel_arena_sprintf(a, "%.17g", json_real_value(v)));
            else if (json_is_boolean(v))
                keel_buf_puts(&b, json_is_true(v) ? "true" : "false");
        }
        keel_buf_puts(&b, "\n");
    }
    keel_frame_destroy(hdr);
    if (rc == KEEL_OK) {
        pthread_mutex_lock(&app->feature_push_lock);
        FILE *f = fopen(src->path, "a");
        if (f == NULL || fwrite(b.data, 1, b.len, f) != b.len)
            rc = keel_errf(err, KEEL_EIO, "cannot append to %s: %s", src->path, strerror(errno));
        if (f != NULL && fclose(f) != 0 && rc == KEEL_OK)
            rc = keel_errf(err, KEEL_EIO, "cannot append to %s: %s", src->path, strerror(errno));
        pthread_mutex_unlock(&app->feature_push_lock);
    }
    keel_buf_free(&b);
    return rc;
}

int keel_api_features_push(keel_http_req *req, keel_http_resp *resp)
{
    keel_api_app *app = req->app;
    if (features_ready(resp, app) != KEEL_OK)
        return KEEL_ESTATE;
    const keel_feature_repo *repo = app->feature_repo;
    json_t *msg = api_request_message(req, resp);
    if (msg == NULL)
        return KEEL_EINVAL;
    keel_err err = { 0 };
    int rc = KEEL_OK;
    const char *push = json_string_value(json_object_get(msg, "push_source_name"));
    const char *view = json_string_value(json_object_get(msg, "feature_view"));
    const char *to = json_string_value(json_object_get(msg, "to"));
    json_t *df = json_object_get(msg, "df");
    long source = -1, view_index = -1;
    bool online = true, offline = false;
    if ((push == NULL) == (view == NULL))
        rc = keel_errf(&err, KEEL_EINVAL, "give exactly one of 'push_source_name' (a source) "
                                          "and 'feature_view' (strings)");
    else if (push != NULL && (source = feature_source_index(repo, push)) < 0)
        rc = keel_errf(&err, KEEL_ENOTFOUND, "no source '%s' in project %s", push,
                       repo->project);
    else if (view != NULL && (view_index = keel_feature_view_index(repo, view)) < 0)
        rc = keel_errf(&err, KEEL_ENOTFOUND, "no feature view '%s' in project %s", view,
                       repo->project);
    if (rc == KEEL_OK && to != NULL) {
        /* "both" is what older Feast releases called online_and_offline. */
        bool both = strcmp(to, "online_and_offline") == 0 || strcmp(to, "both") == 0;
        online = both || strcmp(to, "online") == 0;
        offline = both || strcmp(to, "offline") == 0;
        if (!online && !offline)
            rc = keel_errf(&err, KEEL_EINVAL, "'to' must be online, offline or "
                                              "online_and_offline, not '%s'", to);
    }
    size_t n = 0;
    if (rc == KEEL_OK && (!json_is_object(df) || json_object_size(df) == 0))
        rc = keel_errf(&err, KEEL_EINVAL, "'df' must be an object of column → list of values");
    if (rc == KEEL_OK) {
        const char *col;
        json_t *l;
        bool first = true;
        json_object_foreach(df, col, l) {
            if (!json_is_array(l) || (!first && json_array_size(l) != n)) {
                rc = keel_errf(&err, KEEL_EINVAL, "df.%s must be a list as long as the other "
                                                  "columns", col);
                break;
            }
            n = json_array_size(l);
            first = false;
        }
        if (rc == KEEL_OK && n > MAX_ENTITY_ROWS)
            rc = keel_errf(&err, KEEL_ELIMIT, "%zu rows: at most %d per push", n,
                           MAX_ENTITY_ROWS);
    }
    if (source < 0 && view_index >= 0)
        source = (long)repo->views[view_index].source;
    json_t *written = json_object();
    /* Online views first, all checked by their writes; the offline append
     * last, so a bad value leaves the source file as it was. */
    for (size_t v = 0; rc == KEEL_OK && online && v < repo->n_views; v++) {
        if (view_index >= 0 ? (long)v != view_index
                            : !(repo->views[v].online && (long)repo->views[v].source == source))
            continue;
        size_t w = 0;
        rc = push_view(app, req->arena, v, df, n, &w, &err);
        if (rc == KEEL_OK)
            json_object_set_new(written, repo->views[v].name, json_integer((json_int_t)w));
    }
    if (rc == KEEL_OK && offline)
        rc = push_offline(app, req->arena, (size_t)source, df, n, &err);
    json_decref(msg);
    if (rc != KEEL_OK) {
        json_decref(written);
        return api_error(resp, rc, err.msg);
    }
    keel_http_json(resp, 200, json_pack("{s:I, s:o, s:b}", "rows", (json_int_t)n, "online",
                                        written, "offline", offline));
    return KEEL_OK;
}

int keel_api_features_freshness(keel_http_req *req, keel_http_resp *resp)
{
    keel_api_app *app = req->app;
    if (features_ready(resp, app) != KEEL_OK)
        return KEEL_ESTATE;
    const keel_feature_repo *repo = app->feature_repo;
    keel_err err = { 0 };
    json_t *views = json_array();
    int64_t now = keel_now_ms();
    for (size_t v = 0; v < repo->n_views; v++) {
        if (!repo->views[v].online)
            continue;
        keel_online_freshness f;
        int rc = keel_online_freshness_get(app->online_store, repo, v, &f, &err);
        if (rc != KEEL_OK) {
            json_decref(views);
            return api_error(resp, rc, err.msg);
        }
        json_t *o = json_pack("{s:s, s:I}", "view", repo->views[v].name, "rows",
                              (json_int_t)f.rows);
        json_object_set_new(o, "max_event_timestamp",
                            f.written_ms ? time_json(f.max_event_ms) : json_null());
        json_object_set_new(o, "staleness_seconds",
                            f.written_ms ? json_real((double)(now - f.max_event_ms) / 1000)
                                         : json_null());
        json_object_set_new(o, "written_at", f.written_ms ? time_json(f.written_ms)
                                                          : json_null());
        json_array_append_new(views, o);
    }
    keel_http_json(resp, 200, json_pack("{s:s, s:s, s:o}", "project", repo->project, "store",
                                        keel_online_store_uri(app->online_store), "views",
                                        views));
    return KEEL_OK;
}
