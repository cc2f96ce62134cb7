/*
 * materialize.c — moves the newest values of each online feature view from
 * its offline source into the online store: per entity key, the row with
 * the greatest event time in (start, end] (ties: the later row in the file,
 * or the later created_timestamp when the source has one). Each view's end
 * is recorded in feature_materializations (migration 10), where
 * materialize-incremental picks up.
 *
 * Sources are read whole with keel_csv_read (one source once for all the
 * views reading it), a CSV path or a dataset version's object.
 */
#include "features_internal.h"
#include <keel/features.h>
#include <keel/util.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Entity key text → the winning row so far: an open-addressing table of
 * indexes into dense arrays (indexes stay put when the table grows). */
typedef struct newest {
    size_t *slots;                    /* dense index + 1; 0 = empty */
    size_t cap;
    char **keys;
    size_t *rows;
    int64_t *ms, *created;
    size_t n, dense_cap;
} newest;

static uint64_t hash_text(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static int newest_grow(newest *t)
{
    size_t cap = t->cap ? t->cap * 2 : 1024;
    size_t *slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return KEEL_ENOMEM;
    for (size_t i = 0; i < t->n; i++) {
        size_t j = hash_text(t->keys[i]) & (cap - 1);
        while (slots[j] != 0)
            j = (j + 1) & (cap - 1);
        slots[j] = i + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    size_t dc = cap / 2;
    char **keys = realloc(t->keys, dc * sizeof *keys);
    if (keys != NULL)
        t->keys = keys;
    size_t *rows = realloc(t->rows, dc * sizeof *rows);
    if (rows != NULL)
        t->rows = rows;
    int64_t *ms = realloc(t->ms, dc * sizeof *ms);
    if (ms != NULL)
        t->ms = ms;
    int64_t *cr = realloc(t->created, dc * sizeof *cr);
    if (cr != NULL)
        t->created = cr;
    if (keys == NULL || rows == NULL || ms == NULL || cr == NULL)
        return KEEL_ENOMEM;
    t->dense_cap = dc;
    return KEEL_OK;
}

/* The dense index of key (added when new: *out_new). */
static int newest_find(newest *t, const char *key, size_t *out, bool *out_new)
{
    if (t->n + 1 > t->cap / 2 && newest_grow(t) != KEEL_OK)
        return KEEL_ENOMEM;
    size_t j = hash_text(key) & (t->cap - 1);
    while (t->slots[j] != 0 && strcmp(t->keys[t->slots[j] - 1], key) != 0)
        j = (j + 1) & (t->cap - 1);
    *out_new = t->slots[j] == 0;
    if (*out_new) {
        if ((t->keys[t->n] = strdup(key)) == NULL)
            return KEEL_ENOMEM;
        t->slots[j] = ++t->n;
    }
    *out = t->slots[j] - 1;
    return KEEL_OK;
}

static void newest_free(newest *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->keys[i]);
    free(t->slots);
    free(t->keys);
    free(t->rows);
    free(t->ms);
    free(t->created);
}

/* Event time of a row in ms, false when missing or not a time. */
static bool event_ms(const keel_column *c, size_t row, int64_t *out)
{
    if (keel_column_is_missing(c, row))
        return false;
    switch (c->type) {
    case KEEL_COL_DATETIME:
        *out = c->i64[row] * 1000;
        return true;
    case KEEL_COL_DATE:
        *out = c->i64[row] * 86400000;
        return true;
    case KEEL_COL_STRING: {
        double s;
        const char *t = c->dict[c->codes[row]];
        if (!keel_value_parse(KEEL_COL_DATETIME, t, strlen(t), &s))
            return false;
        *out = (int64_t)s * 1000;
        return true;
    }
    default:
        return false;
    }
}

static const char *cell_text(keel_arena *a, const keel_column *c, size_t row)
{
    if (keel_column_is_missing(c, row))
        return NULL;
    if (c->type == KEEL_COL_STRING)
        return c->dict[c->codes[row]];
    if (c->type == KEEL_COL_FLOAT)
        return keel_arena_sprintf(a, "%.17g", c->f64[row]);
    return keel_arena_sprintf(a, "%" PRId64, c->i64[row]);
}

static int last_end(keel_workspace *ws, const char *project, const char *view, int64_t *out,
                    keel_err *err)
{
    keel_stmt *q = NULL;
    int rc = keel_store_prepare(ws->store, "SELECT MAX(end_time) FROM feature_materializations "
                                           "WHERE project = ? AND view = ?", true, &q, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(q, 1, project, -1);
    keel_stmt_bind_text(q, 2, view, -1);
    *out = INT64_MIN;
    if (keel_stmt_step(q, err) == KEEL_STEP_ROW && !keel_stmt_is_null(q, 0))
        *out = keel_stmt_int64(q, 0);
    keel_stmt_release(q);
    return KEEL_OK;
}

static int materialize_view(keel_workspace *ws, const keel_feature_repo *repo, size_t v,
                            const keel_frame *f, keel_online_store *st, int64_t start,
                            int64_t end, keel_arena *a, keel_materialize_view_result *res,
                            keel_err *err)
{
    const keel_feature_view *fv = &repo->views[v];
    const keel_feature_source *src = &repo->sources[fv->source];
    int64_t t0 = keel_monotonic_ns();
    *res = (keel_materialize_view_result){ .view = v, .start_ms = start, .end_ms = end };
    const keel_column *ts = keel_frame_column(f, src->timestamp);
    const keel_column *created =
        src->created_timestamp ? keel_frame_column(f, src->created_timestamp) : NULL;
    if (ts == NULL)
        return keel_errf(err, KEEL_EINVAL, "source %s has no column '%s'", src->name,
                         src->timestamp);
    size_t n_keys = 0;
    for (size_t e = 0; e < fv->n_entities; e++)
        n_keys += repo->entities[fv->entities[e]].n_join_keys;
    const keel_column **kc = keel_arena_alloc(a, (n_keys + 1) * sizeof *kc);
    const keel_column **fc = keel_arena_alloc(a, (fv->n_features + 1) * sizeof *fc);
    size_t k = 0;
    for (size_t e = 0; e < fv->n_entities; e++) {
        const keel_entity *ent = &repo->entities[fv->entities[e]];
        for (size_t j = 0; j < ent->n_join_keys; j++)
            if ((kc[k++] = keel_frame_column(f, ent->join_keys[j])) == NULL)
                return keel_errf(err, KEEL_EINVAL, "source %s has no join key column '%s'",
                                 src->name, ent->join_keys[j]);
    }
    for (size_t i = 0; i < fv->n_features; i++)
        if ((fc[i] = keel_frame_column(f, fv->features[i].name)) == NULL)
            return keel_errf(err, KEEL_EINVAL, "source %s has no feature column '%s'",
                             src->name, fv->features[i].name);

    newest t = { 0 };
    int rc = KEEL_OK;
    keel_arena tmp;
    keel_arena_init(&tmp, 0);
    for (size_t row = 0; row < f->n_rows && rc == KEEL_OK; row++) {
        int64_t ms, cr = 0;
        if (!event_ms(ts, row, &ms) || ms > end || (start != INT64_MIN && ms <= start))
            continue;
        if (created != NULL && !event_ms(created, row, &cr))
            cr = INT64_MIN;
        res->rows_read++;
        char keybuf[1024];
        size_t at = 0;
        bool missing_key = false;
        for (size_t j = 0; j < n_keys && at < sizeof keybuf; j++) {
            const char *s = cell_text(&tmp, kc[j], row);
            if (s == NULL) {
                missing_key = true;
                break;
            }
            at += (size_t)snprintf(keybuf + at, sizeof keybuf - at, "%s%s", j ? "\x1f" : "", s);
        }
        if (missing_key || at >= sizeof keybuf)
            continue;
        size_t i;
        bool fresh;
        if (newest_find(&t, keybuf, &i, &fresh) != KEEL_OK) {
            rc = keel_errf(err, KEEL_ENOMEM, "out of memory");
            break;
        }
        if (fresh || ms > t.ms[i] || (ms == t.ms[i] && cr >= t.created[i])) {
            t.rows[i] = row;
            t.ms[i] = ms;
            t.created[i] = cr;
        }
        if ((row & 4095) == 0) {
            keel_arena_free(&tmp);
            keel_arena_init(&tmp, 0);
        }
    }
    keel_arena_free(&tmp);

    keel_online_row *rows = NULL;
    if (rc == KEEL_OK && t.n > 0) {
        rows = keel_arena_alloc(a, t.n * sizeof *rows);
        size_t n = 0;
        for (size_t i = 0; i < t.n && rc == KEEL_OK; i++) {
            size_t row = t.rows[i];
            const char **kv = keel_arena_alloc(a, (n_keys + 1) * sizeof *kv);
            for (size_t j = 0; j < n_keys; j++)
                kv[j] = cell_text(a, kc[j], row);
            keel_feature_value *vals = keel_arena_alloc(a, (fv->n_features + 1) * sizeof *vals);
            for (size_t j = 0; j < fv->n_features; j++) {
                bool fits;
                keel_feature_value_from_cell(fc[j], row, fv->features[j].type, &vals[j], &fits);
                if (!fits && fv->features[j].type == KEEL_COL_STRING) {
                    const char *s = cell_text(a, fc[j], row);
                    vals[j] = (keel_feature_value){ .type = KEEL_COL_STRING, .str = s,
                                                    .len = strlen(s) };
                } else if (!fits) {
                    rc = keel_errf(err, KEEL_EINVAL, "source %s line %zu: column '%s' is not "
                                   "a %s", src->name, row + 2, fv->features[j].name,
                                   keel_col_type_name(fv->features[j].type));
                    break;
                }
            }
            rows[n++] = (keel_online_row){ .key_values = kv, .event_ms = t.ms[i],
                                           .values = vals };
        }
        res->entities = n;
        if (rc == KEEL_OK)
            rc = keel_online_write(st, repo, v, rows, n, &res->written, err);
    }
    newest_free(&t);
    if (rc == KEEL_OK)
        rc = keel_store_execv(ws->store, "INSERT INTO feature_materializations (project, view, "
                              "end_time, start_time, rows, store, created_time) VALUES "
                              "(?, ?, ?, ?, ?, ?, ?)", NULL, err, "tti" "ii" "ti",
                              repo->project, fv->name, end, start,
                              (int64_t)res->written, keel_online_store_uri(st), keel_now_ms());
    res->seconds = (double)(keel_monotonic_ns() - t0) / 1e9;
    return rc;
}

int keel_features_materialize(keel_workspace *ws, const keel_feature_repo *repo,
                              keel_online_store *st, const keel_materialize_opts *o,
                              keel_arena *a, keel_materialize_view_result **out, size_t *out_n,
                              keel_err *err)
{
    if (ws == NULL || repo == NULL || st == NULL || o == NULL || out == NULL || out_n == NULL)
        return keel_errf(err, KEEL_EINVAL, "keel_features_materialize: bad arguments");
    *out = keel_arena_alloc(a, (repo->n_views + 1) * sizeof **out);
    *out_n = 0;
    for (size_t s = 0; s < repo->n_sources; s++) {
        const keel_feature_source *src = &repo->sources[s];
        bool wanted = false;
        for (size_t v = 0; v < repo->n_views; v++)
            wanted |= repo->views[v].online && repo->views[v].source == s;
        if (!wanted)
            continue;
        const char *file = NULL, *shown = NULL;
        int rc = feature_source_file(ws, src, a, &file, &shown, err);
        if (rc != KEEL_OK)
            return rc;
        keel_frame *f = NULL;
        rc = keel_csv_read(file, NULL, &f, err);
        if (rc != KEEL_OK)
            return rc;
        for (size_t v = 0; v < repo->n_views && rc == KEEL_OK; v++) {
            if (!repo->views[v].online || repo->views[v].source != s)
                continue;
            int64_t start = o->start_ms;
            if (o->incremental &&
                (rc = last_end(ws, repo->project, repo->views[v].name, &start, err)) != KEEL_OK)
                break;
            if (o->incremental && start == INT64_MIN) {
                rc = keel_errf(err, KEEL_ESTATE, "view %s has never been materialized: run "
                               "keel features materialize --end T first",
                               repo->views[v].name);
                break;
            }
            rc = materialize_view(ws, repo, v, f, st, start, o->end_ms, a, &(*out)[*out_n],
                                  err);
            if (rc == KEEL_OK)
                (*out_n)++;
            else
                keel_err_prefix(err, "feature view %s: ", repo->views[v].name);
        }
        keel_frame_destroy(f);
        if (rc != KEEL_OK)
            return rc;
    }
    return KEEL_OK;
}
