/*
 * registry_search.c — searching registered models and model versions with
 * MLflow's filter grammar (tracking/search_filter.h, targets
 * KEEL_SEARCH_MODELS and KEEL_SEARCH_MODEL_VERSIONS), one order_by item,
 * and offset page tokens. Every value is bound; results come with their
 * tags and aliases (models also with their latest versions).
 */
#include "registry_internal.h"

#include "tracking/search_filter.h"

#include <stdlib.h>
#include <string.h>

static void bind_args(keel_stmt *st, const keel_sql *sql)
{
    for (size_t i = 0; i < sql->n_args; i++) {
        const keel_sql_arg *arg = &sql->args[i];
        int idx = 1 + (int)i;
        if (arg->type == KEEL_SQL_TEXT)
            keel_stmt_bind_text(st, idx, arg->text, -1);
        else if (arg->type == KEEL_SQL_DOUBLE)
            keel_stmt_bind_double(st, idx, arg->d);
        else
            keel_stmt_bind_int64(st, idx, arg->i);
    }
}

/* What differs between the two searches. */
typedef struct search_kind {
    enum keel_search_target target;
    const char *select;     /* "SELECT … FROM … WHERE (" */
    const char *condition;  /* after the filter's ")" */
    int64_t default_max, max_max;
    const char *what;       /* for messages */
} search_kind;

static const search_kind model_search = {
    KEEL_SEARCH_MODELS,
    "SELECT " REGISTRY_MODEL_COLUMNS " FROM registered_models rm WHERE (",
    ")",
    REGISTRY_MODELS_DEFAULT_MAX,
    REGISTRY_MODELS_MAX_RESULTS,
    "registered models",
};

static const search_kind version_search = {
    KEEL_SEARCH_MODEL_VERSIONS,
    "SELECT " REGISTRY_VERSION_COLUMNS " FROM model_versions mv WHERE (",
    ") AND mv.current_stage <> '" REGISTRY_STAGE_DELETED "'",
    REGISTRY_VERSIONS_DEFAULT_MAX,
    REGISTRY_VERSIONS_MAX_RESULTS,
    "model versions",
};

/* Parses and compiles the query into a prepared private statement, LIMIT
 * max + 1 (to see whether another page follows) OFFSET from the token. */
static int prepare_search(keel_store *s, const search_kind *k, const char *filter,
                          const char *order_by, int64_t max_results, const char *page_token,
                          keel_arena *a, keel_stmt **out, int64_t *out_max,
                          int64_t *out_offset, keel_err *err)
{
    int64_t max = max_results == 0 ? k->default_max : max_results;
    if (max < 1 || max > k->max_max)
        return keel_errf(err, KEEL_EINVAL,
                         "max_results for %s must be between 1 and %lld, got %lld", k->what,
                         (long long)k->max_max, (long long)max);
    int64_t offset = 0;
    int rc = keel_page_token_decode(page_token, &offset, err);
    keel_filter_node *root = NULL;
    if (rc == KEEL_OK)
        rc = keel_filter_parse(filter, k->target, a, &root, err);
    keel_order_by order;
    size_t n_order = 0;
    if (rc == KEEL_OK && order_by != NULL && order_by[0] != '\0') {
        rc = keel_order_by_parse(order_by, k->target, a, &order, err);
        n_order = 1;
    }
    if (rc != KEEL_OK)
        return rc;
    keel_sql *sql = malloc(sizeof *sql);
    if (sql == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory searching %s", k->what);
    keel_sql_init(sql);
    if (keel_buf_puts(&sql->text, k->select) != KEEL_OK)
        rc = keel_errf(err, KEEL_ELIMIT, "search query too long");
    if (rc == KEEL_OK)
        rc = keel_filter_compile(root, k->target, sql, err);
    if (rc == KEEL_OK && keel_buf_puts(&sql->text, k->condition) != KEEL_OK)
        rc = keel_errf(err, KEEL_ELIMIT, "search query too long");
    if (rc == KEEL_OK)
        rc = keel_order_by_compile(n_order > 0 ? &order : NULL, n_order, k->target, sql, err);
    if (rc == KEEL_OK && keel_buf_puts(&sql->text, " LIMIT ? OFFSET ?") != KEEL_OK)
        rc = keel_errf(err, KEEL_ELIMIT, "search query too long");
    keel_stmt *st = NULL;
    if (rc == KEEL_OK)
        rc = keel_store_prepare(s, sql->text.data, false, &st, err);
    if (rc == KEEL_OK) {
        bind_args(st, sql);
        keel_stmt_bind_int64(st, (int)sql->n_args + 1, max + 1);
        keel_stmt_bind_int64(st, (int)sql->n_args + 2, offset);
    }
    keel_sql_free(sql);
    free(sql);
    if (rc != KEEL_OK)
        return rc;
    *out = st;
    *out_max = max;
    *out_offset = offset;
    return KEEL_OK;
}

int keel_model_search_run(keel_store *s, const keel_model_search *q, keel_arena *a,
                          keel_registered_model **out, size_t *out_n,
                          const char **out_next_page_token, keel_err *err)
{
    static const keel_model_search none = {0};
    if (q == NULL)
        q = &none;
    keel_stmt *st;
    int64_t max, offset;
    int rc = prepare_search(s, &model_search, q->filter, q->order_by, q->max_results,
                            q->page_token, a, &st, &max, &offset, err);
    if (rc != KEEL_OK)
        return rc;
    /* max + 1 rows at most, so the list is allocated once */
    keel_registered_model *list = keel_arena_alloc(a, (size_t)(max + 1) * sizeof *list);
    size_t n = 0;
    enum keel_step r = KEEL_STEP_DONE;
    if (list == NULL)
        rc = keel_errf(err, KEEL_ENOMEM, "out of memory for %lld models", (long long)max);
    while (rc == KEEL_OK && n <= (size_t)max && (r = keel_stmt_step(st, err)) == KEEL_STEP_ROW)
        rc = registry_model_read(st, a, &list[n++], err);
    keel_stmt_release(st);
    if (rc == KEEL_OK && r == KEEL_STEP_ERROR)
        rc = err->code;
    const char *next = NULL;
    if (rc == KEEL_OK && n > (size_t)max) {
        n = (size_t)max;
        next = keel_page_token_encode(a, offset + max);
        if (next == NULL)
            rc = keel_errf(err, KEEL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; rc == KEEL_OK && i < n; i++)
        rc = registry_model_load_extras(s, a, &list[i], err);
    if (rc != KEEL_OK)
        return rc;
    *out = list;
    *out_n = n;
    *out_next_page_token = next;
    return KEEL_OK;
}

int keel_model_version_search_run(keel_store *s, const keel_model_version_search *q,
                                  keel_arena *a, keel_model_version **out, size_t *out_n,
                                  const char **out_next_page_token, keel_err *err)
{
    static const keel_model_version_search none = {0};
    if (q == NULL)
        q = &none;
    keel_stmt *st;
    int64_t max, offset;
    int rc = prepare_search(s, &version_search, q->filter, q->order_by, q->max_results,
                            q->page_token, a, &st, &max, &offset, err);
    if (rc != KEEL_OK)
        return rc;
    /* grown as rows come: max may be large while the result is small */
    keel_model_version *list = NULL;
    size_t n = 0, cap = 0;
    enum keel_step r = KEEL_STEP_DONE;
    while (rc == KEEL_OK && n <= (size_t)max && (r = keel_stmt_step(st, err)) == KEEL_STEP_ROW) {
        if (n == cap) {
            size_t ncap = cap == 0 ? 16 : cap * 2;
            keel_model_version *grown = keel_arena_alloc(a, ncap * sizeof *grown);
            if (grown == NULL) {
                rc = keel_errf(err, KEEL_ENOMEM, "out of memory for %zu model versions", ncap);
                break;
            }
            if (n > 0)
                memcpy(grown, list, n * sizeof *grown);
            list = grown;
            cap = ncap;
        }
        rc = registry_version_read(st, 0, a, &list[n++], err);
    }
    keel_stmt_release(st);
    if (rc == KEEL_OK && r == KEEL_STEP_ERROR)
        rc = err->code;
    const char *next = NULL;
    if (rc == KEEL_OK && n > (size_t)max) {
        n = (size_t)max;
        next = keel_page_token_encode(a, offset + max);
        if (next == NULL)
            rc = keel_errf(err, KEEL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; rc == KEEL_OK && i < n; i++)
        rc = registry_version_load_extras(s, a, &list[i], err);
    if (rc != KEEL_OK)
        return rc;
    *out = list;
    *out_n = n;
    *out_next_page_token = next;
    return KEEL_OK;
}
