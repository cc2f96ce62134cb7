/*
 * test_search_filter.c — the search grammar: parse trees for valid filters,
 * errors that name position and token, order_by items, page tokens, and the
 * compiled SQL executed against a real SQLite store so each filter's meaning
 * (not just its text) is checked: which runs come back, in which order.
 */
#include "testutil.h"

#include "tracking/search_filter.h"

#include <keel/store.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static keel_filter_node *parse_ok(keel_arena *a, const char *text,
                                  enum keel_search_target target)
{
    keel_filter_node *root = NULL;
    keel_err err = {0};
    int rc = keel_filter_parse(text, target, a, &root, &err);
    if (rc != KEEL_OK)
        fail_msg("parse '%s': %s", text, err.msg);
    assert_non_null(root);
    return root;
}

static void expect_clause(const keel_filter_node *n, enum keel_filter_entity entity,
                          const char *key, enum keel_filter_op op, size_t n_values)
{
    assert_non_null(n);
    assert_int_equal(n->kind, KEEL_FILTER_CLAUSE);
    assert_int_equal(n->entity, entity);
    assert_string_equal(n->key, key);
    assert_int_equal(n->op, op);
    assert_int_equal(n->n_values, n_values);
}

static void expect_text(const keel_filter_node *n, size_t i, const char *text)
{
    assert_true(i < n->n_values);
    assert_false(n->values[i].is_number);
    assert_string_equal(n->values[i].text, text);
}

static void expect_number(const keel_filter_node *n, size_t i, double d)
{
    assert_true(i < n->n_values);
    assert_true(n->values[i].is_number);
    assert_true(fabs(n->values[i].number - d) < 1e-12 * (1 + fabs(d)));
}

/* Parsing text for target fails with code and a message holding each of the
 * NULL-terminated fragments. */
static void expect_error(const char *text, enum keel_search_target target, int code, ...)
{
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_filter_node *root = NULL;
    keel_err err = {0};
    int rc = keel_filter_parse(text, target, &a, &root, &err);
    if (rc != code)
        fail_msg("parse '%.60s': expected %s, got %s (%s)", text, keel_rc_name(code),
                 keel_rc_name(rc), err.msg);
    assert_int_equal(err.code, code);
    va_list ap;
    va_start(ap, code);
    const char *want;
    while ((want = va_arg(ap, const char *)) != NULL)
        if (strstr(err.msg, want) == NULL)
            fail_msg("parse '%.60s': message '%s' lacks '%s'", text, err.msg, want);
    va_end(ap);
    keel_arena_free(&a);
}

/* ---- parse trees ---- */

static void test_parse_metric(void **state)
{
    (void)state;
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_filter_node *n = parse_ok(&a, "metrics.acc > 0.5", KEEL_SEARCH_RUNS);
    expect_clause(n, KEEL_FILTER_METRIC, "acc", KEEL_OP_GT, 1);
    expect_number(n, 0, 0.5);
    assert_int_equal(n->pos, 0);

    n = parse_ok(&a, "  metric.loss<=-1.5e3", KEEL_SEARCH_RUNS);
    expect_clause(n, KEEL_FILTER_METRIC, "loss", KEEL_OP_LE, 1);
    expect_number(n, 0, -1500);
    assert_int_equal(n->pos, 2);

    n = parse_ok(&a, "metrics.\"error rate\" != .25", KEEL_SEARCH_RUNS);
    expect_clause(n, KEEL_FILTER_METRIC, "error rate", KEEL_OP_NE, 1);
    expect_number(n, 0, 0.25);

    n = parse_ok(&a, "metrics.`1st-epoch` <> +3 ", KEEL_SEARCH_RUNS);
    expect_clause(n, KEEL_FILTER_METRIC, "1st-epoch", KEEL_OP_NE, 1);
    expect_number(n, 0, 3);

    n = parse_ok(&a, "metrics.a = 10 AND metrics.b >= 1E-2 AND metrics.c < 7", KEEL_SEARCH_RUNS);
    assert_int_equal(n->kind, KEEL_FILTER_AND);
    assert_int_equal(n->left->kind, KEEL_FILTER_AND);
    expect_clause(n->left->left, KEEL_FILTER_METRIC, "a", KEEL_OP_EQ, 1);
    expect_clause(n->left->right, KEEL_FILTER_METRIC, "b", KEEL_OP_GE, 1);
    expect_number(n->left->right, 0, 0.01);
    expect_clause(n->right, KEEL_FILTER_METRIC, "c", KEEL_OP_LT, 1);
    assert_int_equal(n->right->pos, 41);
    keel_arena_free(&a);
}

static void test_parse_params_tags(void **state)
{
    (void)state;
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_filter_node *n = parse_ok(&a, "params.lr = '0.01'", KEEL_SEARCH_RUNS);
    expect_clause(n, KEEL_FILTER_PARAM, "lr", KEEL_OP_EQ, 1);
    expect_text(n, 0, "0.01");

    n = parse_ok(&a, "param.model = \"LogisticRegression\"", KEEL_SEARCH_RUNS);
    expect_clause(n, KEEL_FILTER_PARAM, "model", KEEL_OP_EQ, 1);
    expect_text(n, 0, "LogisticRegression");

    n = parse_ok(&a, "tags.mlflow.runName LIKE 'run-%'", KEEL_SEARCH_RUNS);
    expect_clause(n, KEEL_FILTER_TAG, "mlflow.runName", KEEL_OP_LIKE, 1);
    expect_text(n, 0, "run-%");

    n = parse_ok(&a, "tag.`my key` ilike '%X%'", KEEL_SEARCH_RUNS);
    expect_clause(n, KEEL_FILTER_TAG, "my key", KEEL_OP_ILIKE, 1);

    n = parse_ok(&a, "tags.\"model-type\" NOT IN ('a', \"b\",'c')", KEEL_SEARCH_RUNS);
    expect_clause(n, KEEL_FILTER_TAG, "model-type", KEEL_OP_NOT_IN, 3);
    expect_text(n, 0, "a");
    expect_text(n, 1, "b");
    expect_text(n, 2, "c");

    n = parse_ok(&a, "params.a = 'it''s' AND params.b = 'a\\'b' AND params.c = \"q\"\"q\"",
                 KEEL_SEARCH_RUNS);
    expect_text(n->left->left, 0, "it's");
    expect_text(n->left->right, 0, "a'b");
    expect_text(n->right, 0, "q\"q");

    n = parse_ok(&a, "tags.team IS NULL", KEEL_SEARCH_RUNS);
    expect_clause(n, KEEL_FILTER_TAG, "team", KEEL_OP_IS_NULL, 0);
    n = parse_ok(&a, "params.x is  not\tnull", KEEL_SEARCH_RUNS);
    expect_clause(n, KEEL_FILTER_PARAM, "x", KEEL_OP_IS_NOT_NULL, 0);
    n = parse_ok(&a, "params.path = 'a b/c:d'", KEEL_SEARCH_RUNS);
    expect_text(n, 0, "a b/c:d");
    n = parse_ok(&a, "params.k:v/w-x = ''", KEEL_SEARCH_RUNS);
    expect_clause(n, KEEL_FILTER_PARAM, "k:v/w-x", KEEL_OP_EQ, 1);
    expect_text(n, 0, "");
    keel_arena_free(&a);
}

static void test_parse_attributes_datasets(void **state)
{
    (void)state;
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_filter_node *n = parse_ok(&a, "attributes.status IN ('FINISHED', 'FAILED')",
                                   KEEL_SEARCH_RUNS);
    expect_clause(n, KEEL_FILTER_ATTRIBUTE, "status", KEEL_OP_IN, 2);
    expect_text(n, 1, "FAILED");
    n = parse_ok(&a, "status = 'RUNNING'", KEEL_SEARCH_RUNS);
    expect_clause(n, KEEL_FILTER_ATTRIBUTE, "status", KEEL_OP_EQ, 1);
    n = parse_ok(&a, "attr.run_uuid = 'abc'", KEEL_SEARCH_RUNS);
    expect_clause(n, KEEL_FILTER_ATTRIBUTE, "run_id", KEEL_OP_EQ, 1);
    n = parse_ok(&a, "run.created > 1700000000000", KEEL_SEARCH_RUNS);
    expect_clause(n, KEEL_FILTER_ATTRIBUTE, "start_time", KEEL_OP_GT, 1);
    expect_number(n, 0, 1700000000000.0);
    n = parse_ok(&a, "`Run name` = 'alpha'", KEEL_SEARCH_RUNS);
    expect_clause(n, KEEL_FILTER_ATTRIBUTE, "run_name", KEEL_OP_EQ, 1);
    n = parse_ok(&a, "attribute.\"run name\" LIKE 'a%'", KEEL_SEARCH_RUNS);
    expect_clause(n, KEEL_FILTER_ATTRIBUTE, "run_name", KEEL_OP_LIKE, 1);
    n = parse_ok(&a, "end_time IS NULL", KEEL_SEARCH_RUNS);
    expect_clause(n, KEEL_FILTER_ATTRIBUTE, "end_time", KEEL_OP_IS_NULL, 0);
    n = parse_ok(&a, "datasets.context = 'train'", KEEL_SEARCH_RUNS);
    expect_clause(n, KEEL_FILTER_DATASET, "context", KEEL_OP_EQ, 1);
    n = parse_ok(&a, "dataset.digest IN ('abc')", KEEL_SEARCH_RUNS);
    expect_clause(n, KEEL_FILTER_DATASET, "digest", KEEL_OP_IN, 1);

    n = parse_ok(&a, "name LIKE 'exp%' AND tags.team = 'ml'", KEEL_SEARCH_EXPERIMENTS);
    expect_clause(n->left, KEEL_FILTER_ATTRIBUTE, "name", KEEL_OP_LIKE, 1);
    expect_clause(n->right, KEEL_FILTER_TAG, "team", KEEL_OP_EQ, 1);
    n = parse_ok(&a, "attributes.creation_time >= 10", KEEL_SEARCH_EXPERIMENTS);
    expect_clause(n, KEEL_FILTER_ATTRIBUTE, "creation_time", KEEL_OP_GE, 1);
    n = parse_ok(&a, "experiment_id IN ('1', 2)", KEEL_SEARCH_EXPERIMENTS);
    expect_clause(n, KEEL_FILTER_ATTRIBUTE, "experiment_id", KEEL_OP_IN, 2);
    expect_text(n, 0, "1");
    expect_number(n, 1, 2);
    keel_arena_free(&a);
}

static void test_parse_boolean_structure(void **state)
{
    (void)state;
    keel_arena a;
    keel_arena_init(&a, 0);
    /* AND binds tighter than OR; keywords are case-insensitive */
    keel_filter_node *n = parse_ok(
        &a, "metrics.a > 1 and params.b like 'x' Or tags.c ILIKE 'y'", KEEL_SEARCH_RUNS);
    assert_int_equal(n->kind, KEEL_FILTER_OR);
    assert_int_equal(n->left->kind, KEEL_FILTER_AND);
    expect_clause(n->left->left, KEEL_FILTER_METRIC, "a", KEEL_OP_GT, 1);
    expect_clause(n->left->right, KEEL_FILTER_PARAM, "b", KEEL_OP_LIKE, 1);
    expect_clause(n->right, KEEL_FILTER_TAG, "c", KEEL_OP_ILIKE, 1);

    n = parse_ok(&a, "metrics.a > 1 AND (params.b = 'x' OR (tags.c = 'y'))", KEEL_SEARCH_RUNS);
    assert_int_equal(n->kind, KEEL_FILTER_AND);
    assert_int_equal(n->right->kind, KEEL_FILTER_OR);
    expect_clause(n->right->right, KEEL_FILTER_TAG, "c", KEEL_OP_EQ, 1);

    /* blank means "everything" */
    keel_filter_node *root = (keel_filter_node *)&a;
    keel_err err;
    assert_int_equal(keel_filter_parse(NULL, KEEL_SEARCH_RUNS, &a, &root, &err), KEEL_OK);
    assert_null(root);
    root = (keel_filter_node *)&a;
    assert_int_equal(keel_filter_parse(" \t\n", KEEL_SEARCH_RUNS, &a, &root, &err), KEEL_OK);
    assert_null(root);

    /* exactly at the limits */
    char text[KEEL_FILTER_MAX_LEN + 2];
    size_t len = 0;
    for (int i = 0; i < KEEL_FILTER_MAX_DEPTH; i++)
        text[len++] = '(';
    len += (size_t)sprintf(text + len, "metrics.a > 1");
    for (int i = 0; i < KEEL_FILTER_MAX_DEPTH; i++)
        text[len++] = ')';
    text[len] = '\0';
    n = parse_ok(&a, text, KEEL_SEARCH_RUNS);
    expect_clause(n, KEEL_FILTER_METRIC, "a", KEEL_OP_GT, 1);

    len = 0;
    for (int i = 0; i < KEEL_FILTER_MAX_CLAUSES; i++)
        len += (size_t)sprintf(text + len, "%smetrics.m%d > %d", i > 0 ? " OR " : "", i, i);
    parse_ok(&a, text, KEEL_SEARCH_RUNS);
    keel_arena_free(&a);
}

/* ---- errors ---- */

static void test_errors_syntax(void **state)
{
    (void)state;
    const enum keel_search_target R = KEEL_SEARCH_RUNS;
    expect_error("params.a = 'abc", R, KEEL_EPARSE, "filter: at position 11: unterminated string",
                 NULL);
    expect_error("tags.\"abc = 'x'", R, KEEL_EPARSE, "position 5", "unterminated quoted key",
                 NULL);
    expect_error("metrics.a >", R, KEEL_EPARSE, "position 11", "expected a value", NULL);
    expect_error("metrics.a", R, KEEL_EPARSE, "position 9", "expected an operator", NULL);
    expect_error("metrics.a 1", R, KEEL_EPARSE, "position 10 near '1'", "expected an operator",
                 NULL);
    expect_error("metrics.a > 1 params.b = 'x'", R, KEEL_EPARSE,
                 "position 14 near 'params.b'", "expected AND, OR", NULL);
    expect_error("(metrics.a > 1", R, KEEL_EPARSE, "position 14", "expected ')'", NULL);
    expect_error("metrics.a > 1)", R, KEEL_EPARSE, "position 13 near ')'", "unbalanced", NULL);
    expect_error("status IN 'x'", R, KEEL_EPARSE, "position 10 near ''x''", "expected '('",
                 NULL);
    expect_error("status IN ()", R, KEEL_EPARSE, "position 11 near ')'", "expected a value",
                 NULL);
    expect_error("status IN ('a' 'b')", R, KEEL_EPARSE, "position 15", "expected ',' or ')'",
                 NULL);
    expect_error("status IN ('a',", R, KEEL_EPARSE, "position 15", NULL);
    expect_error("status NOT 'x'", R, KEEL_EPARSE, "position 11", "expected IN after NOT", NULL);
    expect_error("tags.a IS 'x'", R, KEEL_EPARSE, "position 10", "expected NULL", NULL);
    expect_error("metrics.a > 1abc", R, KEEL_EPARSE, "position 12 near '1abc'",
                 "malformed number", NULL);
    expect_error("metrics.a > 1e", R, KEEL_EPARSE, "malformed number", NULL);
    expect_error("metrics.a > -", R, KEEL_EPARSE, "malformed number", NULL);
    expect_error("params.a = abc", R, KEEL_EPARSE, "position 11 near 'abc'", "expected a value",
                 NULL);
    expect_error("params. = 'x'", R, KEEL_EPARSE, "position 7", "expected a key", NULL);
    expect_error("metrics.a > 1 AND", R, KEEL_EPARSE, "position 17", "expected an identifier",
                 NULL);
    expect_error("= 'x'", R, KEEL_EPARSE, "position 0 near '='", NULL);
    expect_error("metrics.a == 1", R, KEEL_EPARSE, "position 11", NULL);
    /* control bytes are not echoed raw */
    expect_error("metrics.a \x01 1", R, KEEL_EPARSE, "near '?'", NULL);
}

static void test_errors_semantic(void **state)
{
    (void)state;
    const enum keel_search_target R = KEEL_SEARCH_RUNS, E = KEEL_SEARCH_EXPERIMENTS;
    expect_error("metrics.accuracy LIKE 'x'", R, KEEL_EINVAL,
                 "filter: at position 17 near 'LIKE': operator LIKE is not valid for metrics",
                 NULL);
    expect_error("metrics.acc > 'x'", R, KEEL_EINVAL, "position 14 near ''x''",
                 "expected a number for metrics", NULL);
    expect_error("metrics.acc IN (1, 2)", R, KEEL_EINVAL, "operator IN", NULL);
    expect_error("params.a = 1", R, KEEL_EINVAL, "position 11 near '1'",
                 "expected a quoted string for params", NULL);
    expect_error("tags.a > 'x'", R, KEEL_EINVAL, "operator > is not valid for tags", NULL);
    expect_error("tags.a IN ('x', 2)", R, KEEL_EINVAL, "position 16 near '2'", NULL);
    expect_error("foo.bar = 'x'", R, KEEL_EINVAL, "position 0 near 'foo.bar'",
                 "unknown entity 'foo'", NULL);
    expect_error("metrics.a > 1 AND attributes.nope = 'x'", R, KEEL_EINVAL, "position 18",
                 "unknown attribute 'nope'", "run_id", NULL);
    expect_error("start_time = 'x'", R, KEEL_EINVAL, "numeric attribute 'start_time'", NULL);
    expect_error("start_time LIKE 1", R, KEEL_EINVAL, "operator LIKE", NULL);
    expect_error("status > 'x'", R, KEEL_EINVAL, "string attribute 'status'", NULL);
    expect_error("datasets.foo = 'x'", R, KEEL_EINVAL, "unknown dataset key 'foo'", NULL);
    expect_error("datasets.name IS NULL", R, KEEL_EINVAL, "operator IS NULL", NULL);
    expect_error("metrics.a > 1e999", R, KEEL_EINVAL, "position 12", "out of range", NULL);
    expect_error("name = 'x'", R, KEEL_EINVAL, "unknown attribute 'name'", NULL);
    expect_error("metrics.a > 1", E, KEEL_EINVAL, "position 0",
                 "metrics cannot be searched for experiments", NULL);
    expect_error("datasets.name = 'x'", E, KEEL_EINVAL, "cannot be searched", NULL);
    expect_error("status = 'x'", E, KEEL_EINVAL, "unknown attribute 'status'", NULL);
    expect_error("experiment_id = 'abc'", E, KEEL_EINVAL, "expected an integer id", NULL);
    expect_error("experiment_id = 1.5", E, KEEL_EINVAL, "expected an integer id", NULL);
    expect_error("experiment_id LIKE '1'", E, KEEL_EINVAL, "operator LIKE", NULL);
}

static void test_errors_limits(void **state)
{
    (void)state;
    static char text[3 * KEEL_FILTER_MAX_LEN];
    size_t len = 0;
    for (int i = 0; i < KEEL_FILTER_MAX_DEPTH + 1; i++)
        text[len++] = '(';
    len += (size_t)sprintf(text + len, "metrics.a > 1");
    for (int i = 0; i < KEEL_FILTER_MAX_DEPTH + 1; i++)
        text[len++] = ')';
    text[len] = '\0';
    expect_error(text, KEEL_SEARCH_RUNS, KEEL_ELIMIT, "position 16 near '('", "deeper than 16",
                 NULL);

    len = 0;
    for (int i = 0; i < KEEL_FILTER_MAX_CLAUSES + 1; i++)
        len += (size_t)sprintf(text + len, "%smetrics.m%d > %d", i > 0 ? " AND " : "", i, i);
    expect_error(text, KEEL_SEARCH_RUNS, KEEL_ELIMIT, "more than 100 clauses", NULL);

    memset(text, ' ', KEEL_FILTER_MAX_LEN + 1);
    text[KEEL_FILTER_MAX_LEN + 1] = '\0';
    expect_error(text, KEEL_SEARCH_RUNS, KEEL_ELIMIT, "longer than 8192 bytes", NULL);

    /* a huge IN list fails at parse time, before it could overflow keel_sql */
    len = (size_t)sprintf(text, "status IN (");
    for (int i = 0; i < 600; i++)
        len += (size_t)sprintf(text + len, "%s'%d'", i > 0 ? "," : "", i);
    sprintf(text + len, ")");
    expect_error(text, KEEL_SEARCH_RUNS, KEEL_ELIMIT, "values in one filter", NULL);
}

/* ---- order_by ---- */

static void test_order_by_parse(void **state)
{
    (void)state;
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_order_by o;
    keel_err err = {0};
    static const struct {
        const char *text;
        enum keel_search_target target;
        enum keel_filter_entity entity;
        const char *key;
        bool descending;
    } ok[] = {
        {"metrics.auc DESC", KEEL_SEARCH_RUNS, KEEL_FILTER_METRIC, "auc", true},
        {"params.lr", KEEL_SEARCH_RUNS, KEEL_FILTER_PARAM, "lr", false},
        {"attributes.start_time ASC", KEEL_SEARCH_RUNS, KEEL_FILTER_ATTRIBUTE, "start_time",
         false},
        {" created desc ", KEEL_SEARCH_RUNS, KEEL_FILTER_ATTRIBUTE, "start_time", true},
        {"tags.`my tag` asc", KEEL_SEARCH_RUNS, KEEL_FILTER_TAG, "my tag", false},
        {"name", KEEL_SEARCH_EXPERIMENTS, KEEL_FILTER_ATTRIBUTE, "name", false},
        {"last_update_time DESC", KEEL_SEARCH_EXPERIMENTS, KEEL_FILTER_ATTRIBUTE,
         "last_update_time", true},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int rc = keel_order_by_parse(ok[i].text, ok[i].target, &a, &o, &err);
        if (rc != KEEL_OK)
            fail_msg("order_by '%s': %s", ok[i].text, err.msg);
        assert_int_equal(o.entity, ok[i].entity);
        assert_string_equal(o.key, ok[i].key);
        assert_int_equal(o.descending, ok[i].descending);
    }
    static const struct {
        const char *text;
        enum keel_search_target target;
        int code;
        const char *msg;
    } bad[] = {
        {"metrics.auc SIDEWAYS", KEEL_SEARCH_RUNS, KEEL_EPARSE,
         "order_by: at position 12 near 'SIDEWAYS': expected ASC or DESC"},
        {"metrics.auc DESC x", KEEL_SEARCH_RUNS, KEEL_EPARSE, "position 17"},
        {"datasets.name", KEEL_SEARCH_RUNS, KEEL_EINVAL, "cannot order runs by datasets"},
        {"tags.x", KEEL_SEARCH_EXPERIMENTS, KEEL_EINVAL, "cannot order experiments by tags"},
        {"bogus", KEEL_SEARCH_RUNS, KEEL_EINVAL, "unknown attribute 'bogus'"},
        {"", KEEL_SEARCH_RUNS, KEEL_EINVAL, "empty"},
        {"metrics.'x'", KEEL_SEARCH_RUNS, KEEL_EPARSE, "expected a key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = keel_order_by_parse(bad[i].text, bad[i].target, &a, &o, &err);
        assert_int_equal(rc, bad[i].code);
        if (strstr(err.msg, bad[i].msg) == NULL)
            fail_msg("order_by '%s': message '%s' lacks '%s'", bad[i].text, err.msg, bad[i].msg);
    }
    keel_arena_free(&a);
}

/* ---- page tokens ---- */

static void expect_bad_token(const char *token)
{
    keel_err err = {0};
    int64_t off = 42;
    assert_int_equal(keel_page_token_decode(token, &off, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "invalid page token"));
}

static void test_page_tokens(void **state)
{
    (void)state;
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_err err = {0};
    int64_t off = -1;
    /* MLflow's own token for offset 100: base64 of '{"offset": 100}' */
    const char *t = keel_page_token_encode(&a, 100);
    assert_string_equal(t, "eyJvZmZzZXQiOiAxMDB9");
    assert_int_equal(keel_page_token_decode(t, &off, &err), KEEL_OK);
    assert_int_equal(off, 100);
    for (int64_t v = 0; v < 5000000000LL; v = v * 7 + 1) {
        t = keel_page_token_encode(&a, v);
        assert_int_equal(keel_page_token_decode(t, &off, &err), KEEL_OK);
        assert_int_equal(off, v);
    }
    assert_int_equal(keel_page_token_decode(NULL, &off, &err), KEEL_OK);
    assert_int_equal(off, 0);
    assert_int_equal(keel_page_token_decode("", &off, &err), KEEL_OK);
    assert_int_equal(off, 0);
    /* offset given as a string, as Python's json of str would */
    assert_int_equal(keel_page_token_decode("eyJvZmZzZXQiOiAiNyJ9", &off, &err), KEEL_OK);
    assert_int_equal(off, 7);

    expect_bad_token("!!!!");
    expect_bad_token("abc");
    expect_bad_token("eyJvZmZzZXQiOiAxMDB9====");
    expect_bad_token("WzFd");                 /* [1] */
    expect_bad_token("eyJvZmZzZXQiOiAtNX0="); /* {"offset": -5} */
    expect_bad_token("eyJ4IjogMX0=");         /* {"x": 1} */
    expect_bad_token("eyJvZmZzZXQiOiAieCJ9"); /* {"offset": "x"} */
    expect_bad_token("bm90IGpzb24=");         /* not json */
    keel_arena_free(&a);
}

/* ---- SQL shape ---- */

static void test_sql_binds_everything(void **state)
{
    (void)state;
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_err err = {0};
    keel_sql sql;
    keel_sql_init(&sql);
    keel_filter_node *n = parse_ok(
        &a, "params.model = \"x' OR '1'='1\" AND tags.`a' OR 1=1 --` = 'v'", KEEL_SEARCH_RUNS);
    assert_int_equal(keel_filter_compile(n, KEEL_SEARCH_RUNS, &sql, &err), KEEL_OK);
    assert_null(strstr(sql.text.data, "'1'"));
    assert_null(strstr(sql.text.data, "1=1"));
    assert_null(strstr(sql.text.data, "model"));
    assert_int_equal(sql.n_args, 4);
    assert_int_equal(sql.args[0].type, KEEL_SQL_TEXT);
    assert_string_equal(sql.args[0].text, "model");
    assert_string_equal(sql.args[1].text, "x' OR '1'='1");
    assert_string_equal(sql.args[2].text, "a' OR 1=1 --");

    keel_buf_reset(&sql.text);
    sql.n_args = 0;
    n = parse_ok(&a, "metrics.acc > 0.5", KEEL_SEARCH_RUNS);
    assert_int_equal(keel_filter_compile(n, KEEL_SEARCH_RUNS, &sql, &err), KEEL_OK);
    assert_string_equal(sql.text.data,
                        "r.run_uuid IN (SELECT m.run_uuid FROM latest_metrics m WHERE m.key = ? "
                        "AND m.is_nan = 0 AND m.value > ?)");
    assert_int_equal(sql.args[1].type, KEEL_SQL_DOUBLE);

    /* root NULL, and a failed compile leaves the SQL as it was */
    keel_buf_reset(&sql.text);
    sql.n_args = 0;
    assert_int_equal(keel_filter_compile(NULL, KEEL_SEARCH_RUNS, &sql, &err), KEEL_OK);
    assert_string_equal(sql.text.data, "1=1");
    assert_int_equal(keel_filter_compile(n, KEEL_SEARCH_EXPERIMENTS, &sql, &err), KEEL_EINVAL);
    assert_string_equal(sql.text.data, "1=1");
    assert_int_equal(sql.n_args, 0);
    keel_filter_node bogus = {.kind = KEEL_FILTER_AND};
    assert_int_equal(keel_filter_compile(&bogus, KEEL_SEARCH_RUNS, &sql, &err), KEEL_EINVAL);

    keel_sql_free(&sql);
    keel_arena_free(&a);
}

/* ---- semantics against a real store ---- */

struct fixture {
    char dir[PATH_MAX];
    keel_store *store;
    keel_arena arena;
};

static const char fixture_sql[] =
    "INSERT INTO experiments (experiment_id, name, creation_time, last_update_time)"
    "  VALUES (1, 'exp-a', 10, 50), (2, 'Exp-B', 20, 60);"
    "INSERT INTO experiment_tags VALUES (1, 'team', 'ml'), (2, 'team', 'data');"
    "INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time,"
    "  artifact_uri) VALUES"
    "  ('r1', 'alpha', 1, 'ann', 'FINISHED', 100, 200, 'a/1'),"
    "  ('r2', 'beta',  1, 'bob', 'FAILED',   200, NULL, 'a/2'),"
    "  ('r3', 'Gamma', 1, 'ann', 'RUNNING',  300, NULL, 'a/3'),"
    "  ('r4', 'delta', 1, 'Ann', 'FINISHED', 300, 400, 'a/4');"
    "INSERT INTO latest_metrics VALUES"
    "  ('r1', 'acc', 0.9, 1, 0, 0), ('r2', 'acc', 0.5, 1, 0, 0), ('r3', 'acc', 0, 1, 0, 1),"
    "  ('r1', 'loss', 0.1, 1, 0, 0), ('r2', 'loss', 0.2, 1, 0, 0),"
    "  ('r3', 'loss', 0.3, 1, 0, 0), ('r4', 'loss', 0.4, 1, 0, 0);"
    "INSERT INTO params VALUES ('r1', 'lr', '0.01'), ('r2', 'lr', '0.1'), ('r3', 'lr', '0.01'),"
    "  ('r1', 'model', 'LogReg'), ('r2', 'model', 'logreg'), ('r3', 'model', 'XGB'),"
    "  ('r4', 'model', 'xgboost');"
    "INSERT INTO tags VALUES ('r1', 'team', 'ml'), ('r2', 'team', 'ML'), ('r4', 'team', 'data'),"
    "  ('r1', 'mlflow.runName', 'alpha');"
    "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest) VALUES"
    "  ('d1', 1, 'iris', 'abc'), ('d2', 1, 'wine', 'def');"
    "INSERT INTO inputs VALUES ('i1', 'DATASET', 'd1', 'RUN', 'r1'),"
    "  ('i2', 'DATASET', 'd2', 'RUN', 'r2'), ('i3', 'DATASET', 'd1', 'RUN', 'r3');"
    "INSERT INTO input_tags VALUES ('i1', 'mlflow.data.context', 'train'),"
    "  ('i2', 'mlflow.data.context', 'test'), ('i3', 'mlflow.data.context', 'test');";

static int fixture_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    keel_test_tmpdir(f->dir);
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/keel.db", f->dir);
    keel_err err = {0};
    if (keel_store_open(path, &f->store, &err) != KEEL_OK)
        fail_msg("open %s: %s", path, err.msg);
    if (keel_store_exec(f->store, fixture_sql, &err) != KEEL_OK)
        fail_msg("fixture: %s", err.msg);
    keel_arena_init(&f->arena, 0);
    *state = f;
    return 0;
}

static int fixture_teardown(void **state)
{
    struct fixture *f = *state;
    keel_store_close(f->store);
    keel_arena_free(&f->arena);
    keel_test_rmrf(f->dir);
    free(f);
    return 0;
}

/* Runs "SELECT <id> FROM <table> WHERE <filter> <order_by>" and checks the
 * ids that come back, comma-separated, in order. */
static void expect_ids(struct fixture *f, enum keel_search_target target, const char *filter,
                       const char *order_by, const char *expected)
{
    keel_err err = {0};
    keel_filter_node *root = NULL;
    if (keel_filter_parse(filter, target, &f->arena, &root, &err) != KEEL_OK)
        fail_msg("parse '%s': %s", filter, err.msg);
    keel_order_by item;
    size_t n_items = 0;
    if (order_by != NULL) {
        if (keel_order_by_parse(order_by, target, &f->arena, &item, &err) != KEEL_OK)
            fail_msg("order_by '%s': %s", order_by, err.msg);
        n_items = 1;
    }
    keel_sql sql;
    keel_sql_init(&sql);
    keel_buf_puts(&sql.text, target == KEEL_SEARCH_RUNS
                                 ? "SELECT r.run_uuid FROM runs r WHERE "
                                 : "SELECT e.experiment_id FROM experiments e WHERE ");
    assert_int_equal(keel_filter_compile(root, target, &sql, &err), KEEL_OK);
    assert_int_equal(keel_order_by_compile(&item, n_items, target, &sql, &err), KEEL_OK);

    keel_stmt *st = NULL;
    if (keel_store_prepare(f->store, sql.text.data, false, &st, &err) != KEEL_OK)
        fail_msg("prepare '%s': %s", sql.text.data, err.msg);
    for (size_t i = 0; i < sql.n_args; i++) {
        const keel_sql_arg *arg = &sql.args[i];
        int idx = (int)i + 1;
        if (arg->type == KEEL_SQL_TEXT)
            keel_stmt_bind_text(st, idx, arg->text, -1);
        else if (arg->type == KEEL_SQL_DOUBLE)
            keel_stmt_bind_double(st, idx, arg->d);
        else
            keel_stmt_bind_int64(st, idx, arg->i);
    }
    char got[256] = "";
    enum keel_step step;
    while ((step = keel_stmt_step(st, &err)) == KEEL_STEP_ROW) {
        size_t used = strlen(got);
        snprintf(got + used, sizeof got - used, "%s%s", used > 0 ? "," : "",
                 keel_stmt_text(st, 0));
    }
    if (step == KEEL_STEP_ERROR)
        fail_msg("step '%s': %s", sql.text.data, err.msg);
    keel_stmt_release(st);
    if (strcmp(got, expected) != 0)
        fail_msg("filter '%s' order '%s': expected [%s], got [%s]\nSQL: %s", filter,
                 order_by ? order_by : "", expected, got, sql.text.data);
    keel_sql_free(&sql);
}

static void test_sql_runs_filters(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *filter;
        const char *expected;  /* default order: start_time DESC, run_uuid ASC */
    } cases[] = {
        {NULL, "r3,r4,r2,r1"},
        {"metrics.acc > 0.6", "r1"},
        {"metrics.acc >= 0", "r2,r1"},           /* r3's NaN never matches */
        {"metrics.acc != 0.9", "r2"},
        {"metrics.acc = 0", ""},                 /* NaN is stored as 0 with is_nan = 1 */
        {"metrics.acc IS NULL", "r4"},
        {"metrics.acc IS NOT NULL", "r3,r2,r1"},
        {"metrics.loss < 0.25 AND metrics.loss > 0.15", "r2"},
        {"params.model LIKE 'log%'", "r2"},     /* LIKE is case-sensitive */
        {"params.model ILIKE 'LOG%'", "r2,r1"},
        {"params.model = 'logreg'", "r2"},
        {"params.model != 'logreg'", "r3,r4,r1"},
        {"params.lr IN ('0.01', '0.1')", "r3,r2,r1"},
        {"params.lr NOT IN ('0.01')", "r2"},    /* r4 has no lr: no match, as MLflow */
        {"params.lr IS NULL", "r4"},
        {"tags.team = 'ml' OR tags.team = 'data'", "r4,r1"},
        {"(tags.team = 'ml' OR tags.team = 'ML') AND metrics.loss < 0.15", "r1"},
        {"tags.team = 'ml' OR tags.team = 'ML' AND metrics.loss < 0.15", "r1"},
        {"(tags.team = 'ml' OR tags.team = 'ML') AND (metrics.loss > 0.15 OR status = 'X')",
         "r2"},
        {"tags.team IS NULL", "r3"},
        {"tags.team IS NOT NULL", "r4,r2,r1"},
        {"tags.mlflow.runName = 'alpha'", "r1"},
        {"tags.team ILIKE 'm_'", "r2,r1"},
        {"attributes.status = 'FINISHED'", "r4,r1"},
        {"status != 'FINISHED'", "r3,r2"},
        {"attributes.status IN ('RUNNING', 'FAILED')", "r3,r2"},
        {"attributes.status NOT IN ('RUNNING', 'FAILED')", "r4,r1"},
        {"attributes.end_time IS NULL", "r3,r2"},
        {"end_time > 250", "r4"},
        {"run_name LIKE 'gamma'", ""},
        {"run_name ILIKE 'gamma'", "r3"},
        {"`Run Name` = 'beta'", "r2"},
        {"attributes.start_time >= 200 AND attributes.start_time < 300", "r2"},
        {"created = 100", "r1"},
        {"start_time > 150.5", "r3,r4,r2"},
        {"user_id = 'ann'", "r3,r1"},
        {"user_id ILIKE 'ann'", "r3,r4,r1"},
        {"run_id IN ('r1', 'r4')", "r4,r1"},
        {"artifact_uri LIKE 'a/%' AND run_uuid != 'r3'", "r4,r2,r1"},
        {"lifecycle_stage = 'active'", "r3,r4,r2,r1"},
        {"datasets.name = 'iris'", "r3,r1"},
        {"datasets.context = 'test'", "r3,r2"},
        {"datasets.digest IN ('def')", "r2"},
        {"datasets.name = 'iris' AND datasets.context = 'test'", "r3"},
        {"dataset.name ILIKE 'WI%'", "r2"},
        /* values are data, never SQL */
        {"params.model = \"x' OR '1'='1\"", ""},
        {"tags.`team' OR 1=1 --` = 'ml'", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_ids(f, KEEL_SEARCH_RUNS, cases[i].filter, NULL, cases[i].expected);
}

static void test_sql_runs_order_by(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *order_by;
        const char *expected;
    } cases[] = {
        /* values, then NaN, then missing — in both directions, as MLflow */
        {"metrics.acc DESC", "r1,r2,r3,r4"},
        {"metrics.acc ASC", "r2,r1,r3,r4"},
        {"metrics.loss DESC", "r4,r3,r2,r1"},
        /* ties broken by start_time DESC, run_uuid ASC; NULLs last */
        {"params.lr ASC", "r3,r1,r2,r4"},
        {"params.lr DESC", "r2,r3,r1,r4"},
        {"tags.team DESC", "r1,r4,r2,r3"},
        {"attributes.end_time DESC", "r4,r1,r3,r2"},
        {"end_time ASC", "r1,r4,r3,r2"},
        {"run_name", "r3,r1,r2,r4"},
        {"attributes.start_time ASC", "r1,r2,r3,r4"},
        {"created DESC", "r3,r4,r2,r1"},
        {"run_id DESC", "r4,r3,r2,r1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_ids(f, KEEL_SEARCH_RUNS, NULL, cases[i].order_by, cases[i].expected);
    expect_ids(f, KEEL_SEARCH_RUNS, "metrics.loss > 0.15", "metrics.acc DESC", "r2,r3,r4");
}

static void test_sql_experiments(void **state)
{
    struct fixture *f = *state;
    const enum keel_search_target E = KEEL_SEARCH_EXPERIMENTS;
    /* default order: last_update_time DESC, experiment_id ASC */
    expect_ids(f, E, NULL, NULL, "2,1,0");
    expect_ids(f, E, "name LIKE 'exp%'", NULL, "1");
    expect_ids(f, E, "name ILIKE 'exp%'", NULL, "2,1");
    expect_ids(f, E, "attributes.name = 'Default'", NULL, "0");
    expect_ids(f, E, "tags.team = 'ml'", NULL, "1");
    expect_ids(f, E, "tags.team IS NULL", NULL, "0");
    expect_ids(f, E, "tags.team != 'ml' OR experiment_id = 0", NULL, "2,0");
    expect_ids(f, E, "experiment_id IN ('0', 2)", NULL, "2,0");
    expect_ids(f, E, "experiment_id NOT IN (1)", NULL, "2,0");
    expect_ids(f, E, "creation_time > 5 AND last_update_time <= 55", NULL, "1");
    expect_ids(f, E, NULL, "name", "0,2,1");
    expect_ids(f, E, NULL, "creation_time DESC", "2,1,0");
    expect_ids(f, E, "creation_time >= 0", "experiment_id DESC", "2,1,0");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_metric),
        cmocka_unit_test(test_parse_params_tags),
        cmocka_unit_test(test_parse_attributes_datasets),
        cmocka_unit_test(test_parse_boolean_structure),
        cmocka_unit_test(test_errors_syntax),
        cmocka_unit_test(test_errors_semantic),
        cmocka_unit_test(test_errors_limits),
        cmocka_unit_test(test_order_by_parse),
        cmocka_unit_test(test_page_tokens),
        cmocka_unit_test(test_sql_binds_everything),
        cmocka_unit_test_setup_teardown(test_sql_runs_filters, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_sql_runs_order_by, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_sql_experiments, fixture_setup, fixture_teardown),
    };
    return keel_test_main(argc, argv, "search_filter", tests);
}
