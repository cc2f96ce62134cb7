/*
 * run_search.c — loading full runs in bulk and searching them.
 *
 * A search is two steps: one query picks the page of run ids (filter and
 * order compiled by search_sql.c, values bound), then tracking_runs_load
 * fetches their info, params, tags, latest metrics and inputs with one query
 * per kind for the whole page, never one query per run.
 */
#include "search_filter.h"
#include "tracking_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define LOAD_CHUNK 500

const char *tracking_view_condition(enum keel_view_type view, char alias)
{
    static const char *const runs[] = {
        " AND r.lifecycle_stage = 'active'", " AND r.lifecycle_stage = 'deleted'", "" };
    static const char *const experiments[] = {
        " AND e.lifecycle_stage = 'active'", " AND e.lifecycle_stage = 'deleted'", "" };
    return alias == 'r' ? runs[view] : experiments[view];
}

void tracking_bind_sql_args(keel_stmt *st, const keel_sql *sql, int first)
{
    for (size_t i = 0; i < sql->n_args; i++) {
        const keel_sql_arg *arg = &sql->args[i];
        int idx = first + (int)i;
        if (arg->type == KEEL_SQL_TEXT)
            keel_stmt_bind_text(st, idx, arg->text, -1);
        else if (arg->type == KEEL_SQL_DOUBLE)
            keel_stmt_bind_double(st, idx, arg->d);
        else
            keel_stmt_bind_int64(st, idx, arg->i);
    }
}

/* ---- id -> position map for one load ---- */

typedef struct run_index {
    const char *const *ids;
    int32_t *slots;     /* position + 1, 0 = empty */
    size_t mask;
} run_index;

static uint64_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int index_build(run_index *ix, const char *const *ids, size_t n, keel_arena *a)
{
    size_t size = 16;
    while (size < n * 2)
        size *= 2;
    ix->ids = ids;
    ix->mask = size - 1;
    ix->slots = keel_arena_alloc(a, size * sizeof *ix->slots);
    if (ix->slots == NULL)
        return KEEL_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t at = hash_id(ids[i]) & ix->mask;
        while (ix->slots[at] != 0)
            at = (at + 1) & ix->mask;
        ix->slots[at] = (int32_t)i + 1;
    }
    return KEEL_OK;
}

static long index_find(const run_index *ix, const char *id)
{
    if (id == NULL)
        return -1;
    size_t at = hash_id(id) & ix->mask;
    while (ix->slots[at] != 0) {
        size_t pos = (size_t)ix->slots[at] - 1;
        if (strcmp(ix->ids[pos], id) == 0)
            return (long)pos;
        at = (at + 1) & ix->mask;
    }
    return -1;
}

/* Grows an arena array of elem-sized items by doubling. */
static void *grow(keel_arena *a, void *items, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap)
        return items;
    size_t ncap = *cap == 0 ? 8 : *cap * 2;
    void *fresh = keel_arena_alloc(a, ncap * elem);
    if (fresh == NULL)
        return NULL;
    if (n > 0)
        memcpy(fresh, items, n * elem);
    *cap = ncap;
    return fresh;
}

static const char *dup_col(keel_arena *a, keel_stmt *st, int col)
{
    const char *t = keel_stmt_text(st, col);
    return t != NULL ? keel_arena_strdup(a, t) : NULL;
}

/* Builds "<head> IN (?,?,…)<tail>" for n ids into buf. */
static int in_list_sql(keel_buf *buf, const char *head, size_t n, const char *tail)
{
    keel_buf_reset(buf);
    int rc = keel_buf_puts(buf, head);
    rc = rc != KEEL_OK ? rc : keel_buf_puts(buf, " IN (");
    for (size_t i = 0; rc == KEEL_OK && i < n; i++)
        rc = keel_buf_puts(buf, i == 0 ? "?" : ",?");
    rc = rc != KEEL_OK ? rc : keel_buf_puts(buf, ")");
    return rc != KEEL_OK ? rc : keel_buf_puts(buf, tail);
}

enum load_kind { LOAD_INFO, LOAD_PARAMS, LOAD_TAGS, LOAD_METRICS, LOAD_INPUTS, LOAD_INPUT_TAGS };

static const struct {
    const char *head;
    const char *tail;
} load_queries[] = {
    [LOAD_INFO] = { "SELECT run_uuid, name, experiment_id, user_id, status, start_time, "
                    "end_time, artifact_uri, lifecycle_stage FROM runs WHERE run_uuid", "" },
    [LOAD_PARAMS] = { "SELECT run_uuid, key, value FROM params WHERE run_uuid", " ORDER BY key" },
    [LOAD_TAGS] = { "SELECT run_uuid, key, value FROM tags WHERE run_uuid", " ORDER BY key" },
    [LOAD_METRICS] = { "SELECT run_uuid, key, value, timestamp, step, is_nan "
                       "FROM latest_metrics WHERE run_uuid", " ORDER BY key" },
    [LOAD_INPUTS] = { "SELECT i.destination_id, i.input_uuid, d.name, d.digest, d.source_type, "
                      "d.source, d.schema, d.profile FROM inputs i JOIN datasets d ON "
                      "d.dataset_uuid = i.source_id WHERE i.destination_type = 'RUN' AND "
                      "i.destination_id", " ORDER BY d.name" },
    [LOAD_INPUT_TAGS] = { "SELECT i.destination_id, t.input_uuid, t.name, t.value FROM input_tags t "
                          "JOIN inputs i ON i.input_uuid = t.input_uuid WHERE "
                          "i.destination_type = 'RUN' AND i.destination_id", " ORDER BY t.name" },
};

typedef struct load_state {
    keel_arena *a;
    keel_run *runs;
    run_index ix;
    size_t *caps;             /* 4 per run: params, tags, metrics, inputs */
    const char **input_ids;   /* input_uuid per (run, input) for tag matching */
    size_t *input_id_caps;
    const char ***run_input_ids;
    size_t loaded;            /* runs with info found */
} load_state;

static int load_row(load_state *ls, enum load_kind kind, keel_stmt *st)
{
    long pos = index_find(&ls->ix, keel_stmt_text(st, 0));
    if (pos < 0)
        return KEEL_OK;
    keel_arena *a = ls->a;
    keel_run *run = &ls->runs[pos];
    size_t *caps = &ls->caps[pos * 4];
    switch (kind) {
    case LOAD_INFO: {
        keel_run_info *in = &run->info;
        in->run_id = dup_col(a, st, 0);
        in->run_name = dup_col(a, st, 1);
        in->experiment_id = keel_stmt_int64(st, 2);
        in->user_id = dup_col(a, st, 3);
        in->status = dup_col(a, st, 4);
        in->start_time = keel_stmt_int64(st, 5);
        in->end_time = keel_stmt_int64(st, 6);
        in->artifact_uri = dup_col(a, st, 7);
        in->lifecycle_stage = dup_col(a, st, 8);
        ls->loaded++;
        return in->run_id != NULL ? KEEL_OK : KEEL_ENOMEM;
    }
    case LOAD_PARAMS:
    case LOAD_TAGS: {
        bool params = kind == LOAD_PARAMS;
        keel_kv **items = params ? &run->params : &run->tags;
        size_t *n = params ? &run->n_params : &run->n_tags;
        *items = grow(a, *items, *n, &caps[params ? 0 : 1], sizeof **items);
        if (*items == NULL)
            return KEEL_ENOMEM;
        (*items)[*n].key = dup_col(a, st, 1);
        const char *v = dup_col(a, st, 2);
        (*items)[*n].value = v != NULL ? v : "";
        (*n)++;
        return KEEL_OK;
    }
    case LOAD_METRICS:
        run->metrics = grow(a, run->metrics, run->n_metrics, &caps[2], sizeof *run->metrics);
        if (run->metrics == NULL)
            return KEEL_ENOMEM;
        run->metrics[run->n_metrics] = (keel_metric){
            .key = dup_col(a, st, 1),
            .value = keel_stmt_int64(st, 5) != 0 ? NAN : keel_stmt_double(st, 2),
            .timestamp = keel_stmt_int64(st, 3),
            .step = keel_stmt_int64(st, 4),
        };
        run->n_metrics++;
        return KEEL_OK;
    case LOAD_INPUTS: {
        size_t n = run->n_inputs;
        size_t cap_before = caps[3];
        run->inputs = grow(a, run->inputs, n, &caps[3], sizeof *run->inputs);
        if (run->inputs == NULL)
            return KEEL_ENOMEM;
        size_t id_cap = cap_before;
        ls->run_input_ids[pos] = grow(a, ls->run_input_ids[pos], n, &id_cap, sizeof(char *));
        if (ls->run_input_ids[pos] == NULL)
            return KEEL_ENOMEM;
        ls->run_input_ids[pos][n] = dup_col(a, st, 1);
        keel_dataset *d = &run->inputs[n].dataset;
        memset(&run->inputs[n], 0, sizeof run->inputs[n]);
        d->name = dup_col(a, st, 2);
        d->digest = dup_col(a, st, 3);
        d->source_type = dup_col(a, st, 4);
        d->source = dup_col(a, st, 5);
        d->schema = dup_col(a, st, 6);
        d->profile = dup_col(a, st, 7);
        run->n_inputs++;
        return KEEL_OK;
    }
    case LOAD_INPUT_TAGS: {
        const char *input_id = keel_stmt_text(st, 1);
        for (size_t i = 0; i < run->n_inputs; i++) {
            if (strcmp(ls->run_input_ids[pos][i], input_id) != 0)
                continue;
            keel_dataset_input *in = &run->inputs[i];
            /* Input tags are few; grow one at a time. */
            size_t cap = in->n_tags;
            in->tags = grow(a, in->tags, in->n_tags, &cap, sizeof *in->tags);
            if (in->tags == NULL)
                return KEEL_ENOMEM;
            in->tags[in->n_tags].key = dup_col(a, st, 2);
            in->tags[in->n_tags].value = dup_col(a, st, 3);
            in->n_tags++;
        }
        return KEEL_OK;
    }
    }
    return KEEL_OK;
}

static int load_kind_chunk(keel_store *s, load_state *ls, enum load_kind kind,
                           const char *const *ids, size_t n, keel_buf *sql, keel_err *err)
{
    int rc = in_list_sql(sql, load_queries[kind].head, n, load_queries[kind].tail);
    if (rc != KEEL_OK)
        return keel_errf(err, rc, "run load query too long");
    keel_stmt *st;
    rc = keel_store_prepare(s, sql->data, false, &st, err);
    if (rc != KEEL_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        keel_stmt_bind_text(st, (int)i + 1, ids[i], -1);
    enum keel_step r;
    while ((r = keel_stmt_step(st, err)) == KEEL_STEP_ROW) {
        rc = load_row(ls, kind, st);
        if (rc != KEEL_OK) {
            keel_stmt_release(st);
            return keel_errf(err, rc, "out of memory loading runs");
        }
    }
    keel_stmt_release(st);
    return r == KEEL_STEP_ERROR ? err->code : KEEL_OK;
}

int tracking_runs_load(keel_store *s, const char *const *ids, size_t n, keel_arena *a,
                       keel_run *out, keel_err *err)
{
    if (n == 0)
        return KEEL_OK;
    memset(out, 0, n * sizeof *out);
    load_state ls = { .a = a, .runs = out };
    ls.caps = keel_arena_alloc(a, n * 4 * sizeof *ls.caps);
    ls.run_input_ids = keel_arena_alloc(a, n * sizeof *ls.run_input_ids);
    if (ls.caps == NULL || ls.run_input_ids == NULL || index_build(&ls.ix, ids, n, a) != KEEL_OK)
        return keel_errf(err, KEEL_ENOMEM, "out of memory loading %zu runs", n);
    keel_buf sql;
    keel_buf_init(&sql, 1 << 20);
    int rc = KEEL_OK;
    for (int kind = LOAD_INFO; rc == KEEL_OK && kind <= LOAD_INPUT_TAGS; kind++) {
        for (size_t at = 0; rc == KEEL_OK && at < n; at += LOAD_CHUNK) {
            size_t len = n - at < LOAD_CHUNK ? n - at : LOAD_CHUNK;
            rc = load_kind_chunk(s, &ls, (enum load_kind)kind, ids + at, len, &sql, err);
        }
        if (rc == KEEL_OK && kind == LOAD_INFO && ls.loaded < n) {
            for (size_t i = 0; i < n; i++) {
                if (out[i].info.run_id == NULL) {
                    rc = keel_errf(err, KEEL_ENOTFOUND, "run '%s' not found", ids[i]);
                    break;
                }
            }
        }
    }
    keel_buf_free(&sql);
    return rc;
}

static int check_search(const keel_run_search *q, int64_t *out_max, keel_err *err)
{
    int64_t max = q->max_results == 0 ? KEEL_SEARCH_DEFAULT_MAX : q->max_results;
    if (max < 0 || max > KEEL_SEARCH_MAX_RESULTS)
        return keel_errf(err, KEEL_EINVAL,
                         "invalid value %lld for max_results: it must be at most %d",
                         (long long)max, KEEL_SEARCH_MAX_RESULTS);
    if (q->n_experiment_ids > 1000)
        return keel_errf(err, KEEL_EINVAL, "at most 1000 experiment ids per search");
    *out_max = max;
    return KEEL_OK;
}

/* Builds the page query: ids of matching runs in order, max + 1 of them so
 * the caller knows whether another page follows. */
static int build_search_sql(const keel_run_search *q, keel_arena *a, keel_sql *sql,
                            keel_err *err)
{
    keel_filter_node *filter = NULL;
    int rc = keel_filter_parse(q->filter, KEEL_SEARCH_RUNS, a, &filter, err);
    if (rc != KEEL_OK)
        return rc;
    keel_order_by *order = NULL;
    if (q->n_order_by > 0) {
        order = keel_arena_alloc(a, q->n_order_by * sizeof *order);
        if (order == NULL)
            return keel_errf(err, KEEL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < q->n_order_by; i++) {
        rc = keel_order_by_parse(q->order_by[i], KEEL_SEARCH_RUNS, a, &order[i], err);
        if (rc != KEEL_OK)
            return rc;
    }
    /* The filter comes first: when it has a driving clause, the experiment
     * condition must not compete for the index ("+" keeps SQLite off
     * runs_experiment_start; harmless elsewhere). */
    keel_buf *t = &sql->text;
    if (keel_buf_puts(t, "SELECT r.run_uuid FROM runs r WHERE (") != KEEL_OK)
        return keel_errf(err, KEEL_ELIMIT, "search query too large");
    bool driven = false;
    rc = keel_filter_compile_driven(filter, KEEL_SEARCH_RUNS, sql, &driven, err);
    if (rc != KEEL_OK)
        return rc;
    rc = keel_buf_puts(t, ")");
    if (rc == KEEL_OK && q->n_experiment_ids > 0) {
        rc = keel_buf_puts(t, driven ? " AND +r.experiment_id IN (" : " AND r.experiment_id IN (");
        for (size_t i = 0; rc == KEEL_OK && i < q->n_experiment_ids; i++) {
            rc = keel_buf_puts(t, i == 0 ? "?" : ",?");
            if (rc == KEEL_OK)
                rc = keel_sql_add_int64(sql, q->experiment_ids[i]);
        }
        rc = rc != KEEL_OK ? rc : keel_buf_puts(t, ")");
    }
    rc = rc != KEEL_OK ? rc : keel_buf_puts(t, tracking_view_condition(q->view, 'r'));
    rc = rc != KEEL_OK ? rc : keel_buf_puts(t, " ");
    if (rc != KEEL_OK)
        return keel_errf(err, rc, "search query too large");
    rc = keel_order_by_compile(order, q->n_order_by, KEEL_SEARCH_RUNS, sql, err);
    if (rc != KEEL_OK)
        return rc;
    if (keel_buf_puts(t, " LIMIT ? OFFSET ?") != KEEL_OK)
        return keel_errf(err, KEEL_ELIMIT, "search query too large");
    return KEEL_OK;
}

int keel_run_search_run(keel_store *s, const keel_run_search *q, keel_arena *a, keel_run **out,
                        size_t *out_n, const char **out_next_page_token, keel_err *err)
{
    int64_t max = 0;
    int rc = check_search(q, &max, err);
    int64_t offset = 0;
    if (rc == KEEL_OK && q->page_token != NULL && q->page_token[0] != '\0')
        rc = keel_page_token_decode(q->page_token, &offset, err);
    if (rc != KEEL_OK)
        return rc;
    keel_sql sql;
    keel_sql_init(&sql);
    keel_stmt *st = NULL;
    const char **ids = NULL;
    size_t n = 0;
    rc = build_search_sql(q, a, &sql, err);
    if (rc == KEEL_OK)
        rc = keel_store_prepare(s, sql.text.data, false, &st, err);
    if (rc == KEEL_OK) {
        tracking_bind_sql_args(st, &sql, 1);
        keel_stmt_bind_int64(st, (int)sql.n_args + 1, max + 1);
        keel_stmt_bind_int64(st, (int)sql.n_args + 2, offset);
        ids = keel_arena_alloc(a, (size_t)(max + 1) * sizeof *ids);
        if (ids == NULL)
            rc = keel_errf(err, KEEL_ENOMEM, "out of memory for %lld results", (long long)max);
    }
    enum keel_step r = KEEL_STEP_DONE;
    while (rc == KEEL_OK && (r = keel_stmt_step(st, err)) == KEEL_STEP_ROW) {
        ids[n] = keel_arena_strdup(a, keel_stmt_text(st, 0));
        if (ids[n++] == NULL)
            rc = keel_errf(err, KEEL_ENOMEM, "out of memory");
    }
    keel_stmt_release(st);
    keel_sql_free(&sql);
    if (rc == KEEL_OK && r == KEEL_STEP_ERROR)
        rc = err->code;
    if (rc != KEEL_OK)
        return rc;
    *out_next_page_token = NULL;
    if (n > (size_t)max) {
        n = (size_t)max;
        *out_next_page_token = keel_page_token_encode(a, offset + max);
    }
    keel_run *runs = keel_arena_alloc(a, (n > 0 ? n : 1) * sizeof *runs);
    if (runs == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    rc = tracking_runs_load(s, ids, n, a, runs, err);
    if (rc != KEEL_OK)
        return rc;
    *out = runs;
    *out_n = n;
    return KEEL_OK;
}
