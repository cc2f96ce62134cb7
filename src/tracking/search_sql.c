/*
 * search_sql.c — compiles parsed search filters and order_by items to
 * parameterized SQL, and reads and writes MLflow's page tokens.
 *
 * Invariants: no value and no key ever reaches the SQL text; each is a `?`
 * with an entry in keel_sql.args, appended in the order the placeholders
 * appear. The SQL is portable between SQLite (3.30+, for NULLS LAST) and
 * PostgreSQL. A failed compile leaves the keel_sql as it was before the call.
 * Text arguments borrow the strings of the tree or order_by item; they must
 * outlive the keel_sql's use.
 */
#include "search_rules.h"

#include <keel/json.h>

#include <inttypes.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#define SQL_TEXT_MAX (256 * 1024)
#define PAGE_TOKEN_MAX 256

/* Trees come from keel_filter_parse, which bounds them; this guards trees
 * built by hand. */
#define COMPILE_MAX_DEPTH (2 * KEEL_FILTER_MAX_CLAUSES + KEEL_FILTER_MAX_DEPTH)

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- tables ---- */

/* Where a keyed entity (metric, param, tag) lives, per target. */
static const struct keyed_source {
    enum keel_search_target target;
    enum keel_filter_entity entity;
    const char *outer;       /* the searched row's id */
    const char *inner;       /* the same id in the keyed table */
    const char *from;
    const char *key;
    const char *value;
    const char *comparable;  /* extra condition for comparisons */
    const char *order_value; /* what order_by sorts on */
    bool order_nan_last;     /* add a term putting NaN after values, before missing */
    const char *select;      /* inner as a select list, when it is a row value (NULL: inner) */
} keyed_sources[] = {
    {KEEL_SEARCH_RUNS, KEEL_FILTER_METRIC, "r.run_uuid", "m.run_uuid", "latest_metrics m",
     "m.key", "m.value", " AND m.is_nan = 0", "CASE WHEN m.is_nan = 1 THEN NULL ELSE m.value END",
     true},
    {KEEL_SEARCH_RUNS, KEEL_FILTER_PARAM, "r.run_uuid", "p.run_uuid", "params p", "p.key",
     "p.value", "", "p.value", false},
    {KEEL_SEARCH_RUNS, KEEL_FILTER_TAG, "r.run_uuid", "t.run_uuid", "tags t", "t.key", "t.value",
     "", "t.value", false},
    {KEEL_SEARCH_EXPERIMENTS, KEEL_FILTER_TAG, "e.experiment_id", "t.experiment_id",
     "experiment_tags t", "t.key", "t.value", "", "t.value", false},
    {KEEL_SEARCH_MODELS, KEEL_FILTER_TAG, "rm.name", "t.name", "registered_model_tags t",
     "t.key", "t.value", "", "t.value", false},
    /* a version is keyed by (name, version): row values, which SQLite (3.15+)
     * and PostgreSQL both compare and match against the primary key */
    {KEEL_SEARCH_MODEL_VERSIONS, KEEL_FILTER_TAG, "(mv.name, mv.version)",
     "(t.name, t.version)", "model_version_tags t", "t.key", "t.value", "", "t.value", false,
     "t.name, t.version"},
};

/* A run's dataset inputs; context is the input's mlflow.data.context tag. */
static const struct dataset_column {
    const char *key;
    const char *column;
    bool via_input_tag;
} dataset_columns[] = {
    {"name", "d.name", false},
    {"digest", "d.digest", false},
    {"context", "it.value", true},
};

static const char dataset_context_tag[] = "mlflow.data.context";

/* SQL around a column for each operator; list operators add "?, ?, …)". */
static const struct op_sql {
    const char *before;
    const char *after;
    bool list;
} op_sql[] = {
    [KEEL_OP_EQ] = {"", " = ?", false},
    [KEEL_OP_NE] = {"", " <> ?", false},
    [KEEL_OP_GT] = {"", " > ?", false},
    [KEEL_OP_GE] = {"", " >= ?", false},
    [KEEL_OP_LT] = {"", " < ?", false},
    [KEEL_OP_LE] = {"", " <= ?", false},
    [KEEL_OP_LIKE] = {"", " LIKE ?", false},
    [KEEL_OP_ILIKE] = {"LOWER(", ") LIKE LOWER(?)", false},
    [KEEL_OP_IN] = {"", " IN (", true},
    [KEEL_OP_NOT_IN] = {"", " NOT IN (", true},
    [KEEL_OP_IS_NULL] = {"", " IS NULL", false},
    [KEEL_OP_IS_NOT_NULL] = {"", " IS NOT NULL", false},
};

static const struct target_sql {
    const char *alias;
    const char *tie_break;      /* after the caller's items */
    const char *default_order;  /* when there are none */
} target_sql[] = {
    [KEEL_SEARCH_RUNS] = {"r", "r.start_time DESC NULLS LAST, r.run_uuid ASC",
                          "r.start_time DESC NULLS LAST, r.run_uuid ASC"},
    [KEEL_SEARCH_EXPERIMENTS] = {"e", "e.experiment_id ASC",
                                 "e.last_update_time DESC NULLS LAST, e.experiment_id ASC"},
    [KEEL_SEARCH_MODELS] = {"rm", "rm.name ASC", "rm.name ASC"},
    [KEEL_SEARCH_MODEL_VERSIONS] = {"mv", "mv.name ASC, mv.version DESC",
                                    "mv.name ASC, mv.version DESC"},
};

/* ---- keel_sql ---- */

void keel_sql_init(keel_sql *sql)
{
    keel_buf_init(&sql->text, SQL_TEXT_MAX);
    sql->n_args = 0;
}

void keel_sql_free(keel_sql *sql)
{
    keel_buf_free(&sql->text);
    sql->n_args = 0;
}

static int sql_add(keel_sql *sql, keel_sql_arg arg)
{
    if (sql->n_args >= KEEL_SQL_MAX_ARGS)
        return KEEL_ELIMIT;
    sql->args[sql->n_args++] = arg;
    return KEEL_OK;
}

int keel_sql_add_text(keel_sql *sql, const char *text)
{
    return sql_add(sql, (keel_sql_arg){.type = KEEL_SQL_TEXT, .text = text});
}

int keel_sql_add_double(keel_sql *sql, double d)
{
    return sql_add(sql, (keel_sql_arg){.type = KEEL_SQL_DOUBLE, .d = d});
}

int keel_sql_add_int64(keel_sql *sql, int64_t i)
{
    return sql_add(sql, (keel_sql_arg){.type = KEEL_SQL_INT64, .i = i});
}

/* ---- emitting ---- */

/* Output with a sticky result: after the first failure every call is a
 * no-op, so emitters read straight through and the caller checks once. */
struct emit {
    keel_sql *sql;
    enum keel_search_target target;
    int rc;
    const keel_filter_node *driver;  /* compiled as IN (…); others as EXISTS */
};

static void put(struct emit *e, const char *text)
{
    if (e->rc == KEEL_OK)
        e->rc = keel_buf_puts(&e->sql->text, text);
}

static void bind_text(struct emit *e, const char *text)
{
    if (e->rc == KEEL_OK)
        e->rc = keel_sql_add_text(e->sql, text);
}

/* Binds a clause value the way its column compares: metrics as doubles,
 * integral numbers for BIGINT/INTEGER columns as int64, strings as text. */
static void bind_value(struct emit *e, const keel_filter_value *v, enum keel__attr_type type,
                       bool is_metric)
{
    if (e->rc != KEEL_OK)
        return;
    int64_t id = 0;
    if (!v->is_number) {
        if (type == KEEL__ATTR_ID && keel__parse_id(v->text, &id))
            e->rc = keel_sql_add_int64(e->sql, id);
        else
            e->rc = keel_sql_add_text(e->sql, v->text);
    } else if (!is_metric && v->number == floor(v->number) && fabs(v->number) < 9.0e18) {
        e->rc = keel_sql_add_int64(e->sql, (int64_t)v->number);
    } else {
        e->rc = keel_sql_add_double(e->sql, v->number);
    }
}

/* column <op> value(s) */
static void put_comparison(struct emit *e, const char *column, const keel_filter_node *n,
                           enum keel__attr_type type, bool is_metric)
{
    const struct op_sql *o = &op_sql[n->op];
    put(e, o->before);
    put(e, column);
    put(e, o->after);
    if (!o->list) {
        if (n->n_values == 1)
            bind_value(e, &n->values[0], type, is_metric);
        return;
    }
    for (size_t i = 0; i < n->n_values; i++) {
        put(e, i == 0 ? "?" : ", ?");
        bind_value(e, &n->values[i], type, is_metric);
    }
    put(e, ")");
}

static const struct keyed_source *find_keyed(enum keel_search_target target,
                                             enum keel_filter_entity entity)
{
    for (size_t i = 0; i < COUNT(keyed_sources); i++)
        if (keyed_sources[i].target == target && keyed_sources[i].entity == entity)
            return &keyed_sources[i];
    return NULL;
}

/* The driver clause (see choose_driver) becomes
 *   outer [NOT] IN (SELECT inner FROM table WHERE key = ? [AND value <op> ?])
 * which the database reads once, through the (key, value) index, and uses to
 * find the searched rows by primary key. Every other clause becomes
 *   [NOT] EXISTS (SELECT 1 FROM table WHERE inner = outer AND key = ? …)
 * a primary-key probe per candidate row. IS NULL means "has no such key";
 * IS NOT NULL "has it". */
static void put_keyed(struct emit *e, const struct keyed_source *src, const keel_filter_node *n)
{
    bool presence = n->op == KEEL_OP_IS_NULL || n->op == KEEL_OP_IS_NOT_NULL;
    bool negated = n->op == KEEL_OP_IS_NULL;
    if (n == e->driver) {
        put(e, src->outer);
        put(e, negated ? " NOT IN (SELECT " : " IN (SELECT ");
        put(e, src->select != NULL ? src->select : src->inner);
        put(e, " FROM ");
        put(e, src->from);
        put(e, " WHERE ");
    } else {
        put(e, negated ? "NOT EXISTS (SELECT 1 FROM " : "EXISTS (SELECT 1 FROM ");
        put(e, src->from);
        put(e, " WHERE ");
        put(e, src->inner);
        put(e, " = ");
        put(e, src->outer);
        put(e, " AND ");
    }
    put(e, src->key);
    put(e, " = ?");
    bind_text(e, n->key);
    if (!presence) {
        put(e, src->comparable);
        put(e, " AND ");
        put_comparison(e, src->value, n, KEEL__ATTR_STRING, n->entity == KEEL_FILTER_METRIC);
    }
    put(e, ")");
}

static void put_dataset(struct emit *e, const keel_filter_node *n)
{
    const struct dataset_column *col = NULL;
    for (size_t i = 0; i < COUNT(dataset_columns); i++)
        if (strcmp(dataset_columns[i].key, n->key) == 0)
            col = &dataset_columns[i];
    if (col == NULL) {  /* keel__clause_check let it through: cannot happen */
        e->rc = KEEL_EINTERNAL;
        return;
    }
    put(e, "r.run_uuid IN (SELECT i.destination_id FROM inputs i"
           " JOIN datasets d ON d.dataset_uuid = i.source_id");
    if (col->via_input_tag)
        put(e, " JOIN input_tags it ON it.input_uuid = i.input_uuid");
    put(e, " WHERE i.destination_type = 'RUN' AND i.source_type = 'DATASET' AND ");
    if (col->via_input_tag) {
        put(e, "it.name = ? AND ");
        bind_text(e, dataset_context_tag);
    }
    put_comparison(e, col->column, n, KEEL__ATTR_STRING, false);
    put(e, ")");
}

static int compile_clause(struct emit *e, const keel_filter_node *n, keel_err *err)
{
    enum keel__clause_part part;
    size_t bad_value;
    char why[256];
    if (keel__clause_check(e->target, n->entity, n->key, n->op, n->values, n->n_values, &part,
                           &bad_value, why, sizeof why) != KEEL_OK)
        return keel_errf(err, KEEL_EINVAL, "filter: at position %zu: %s", n->pos, why);
    if (n->entity == KEEL_FILTER_ATTRIBUTE) {
        const keel__search_attr *attr = keel__search_attr_find(e->target, n->key);
        char column[64];
        snprintf(column, sizeof column, "%s.%s", target_sql[e->target].alias, attr->column);
        put_comparison(e, column, n, attr->type, false);
    } else if (n->entity == KEEL_FILTER_DATASET) {
        put_dataset(e, n);
    } else {
        const struct keyed_source *src = find_keyed(e->target, n->entity);
        if (src == NULL)
            return keel_errf(err, KEEL_EINVAL, "filter: %s cannot be searched here",
                             keel__entity_name(n->entity));
        put_keyed(e, src, n);
    }
    return KEEL_OK;
}

static int compile_node(struct emit *e, const keel_filter_node *n, int depth, keel_err *err)
{
    if (depth > COMPILE_MAX_DEPTH)
        return keel_errf(err, KEEL_ELIMIT, "filter: nested deeper than %d", COMPILE_MAX_DEPTH);
    switch (n->kind) {
    case KEEL_FILTER_CLAUSE:
        return compile_clause(e, n, err);
    case KEEL_FILTER_AND:
    case KEEL_FILTER_OR:
        break;
    default:
        return keel_errf(err, KEEL_EINVAL, "filter: invalid node kind %d", (int)n->kind);
    }
    if (n->left == NULL || n->right == NULL)
        return keel_errf(err, KEEL_EINVAL, "filter: %s without two operands",
                         n->kind == KEEL_FILTER_AND ? "AND" : "OR");
    put(e, "(");
    int rc = compile_node(e, n->left, depth + 1, err);
    if (rc != KEEL_OK)
        return rc;
    put(e, n->kind == KEEL_FILTER_AND ? " AND " : " OR ");
    if ((rc = compile_node(e, n->right, depth + 1, err)) != KEEL_OK)
        return rc;
    put(e, ")");
    return KEEL_OK;
}

/* Reports a sticky emit failure and restores sql to its state on entry. */
static int finish(struct emit *e, int rc, size_t text_len, size_t n_args, const char *what,
                  keel_err *err)
{
    if (rc == KEEL_OK && e->rc != KEEL_OK)
        rc = e->rc == KEEL_ELIMIT
                 ? keel_errf(err, KEEL_ELIMIT, "%s: query exceeds %d bound values or %d bytes",
                             what, KEEL_SQL_MAX_ARGS, SQL_TEXT_MAX)
                 : keel_errf(err, e->rc, "%s: cannot build SQL (%s)", what, keel_rc_text(e->rc));
    if (rc != KEEL_OK) {
        if (e->sql->text.data != NULL) {
            e->sql->text.len = text_len;
            e->sql->text.data[text_len] = '\0';
        }
        e->sql->n_args = n_args;
    }
    return rc;
}

static bool target_ok(enum keel_search_target target)
{
    return keel__target_ok(target) && (unsigned)target < COUNT(target_sql) &&
           target_sql[target].alias != NULL;
}

/* How well a clause can drive the search: a positive clause on an indexed
 * (key, value) that is likely selective. Negations (!=, NOT IN, IS NULL)
 * match most rows and never drive. */
static int driver_score(const keel_filter_node *n)
{
    if (n->kind != KEEL_FILTER_CLAUSE)
        return 0;
    bool keyed = n->entity == KEEL_FILTER_PARAM || n->entity == KEEL_FILTER_TAG;
    if (keyed && (n->op == KEEL_OP_EQ || n->op == KEEL_OP_IN))
        return 4;
    if (keyed && n->op == KEEL_OP_LIKE)
        return 2;
    if (n->entity == KEEL_FILTER_METRIC && n->op == KEEL_OP_EQ)
        return 3;
    if (n->entity == KEEL_FILTER_METRIC && (n->op == KEEL_OP_GT || n->op == KEEL_OP_GE ||
                                            n->op == KEEL_OP_LT || n->op == KEEL_OP_LE))
        return 1;
    return 0;
}

/* The best driver among the clauses every match must satisfy (the
 * top-level AND chain); none under an OR. */
static const keel_filter_node *choose_driver(const keel_filter_node *n)
{
    if (n == NULL)
        return NULL;
    if (n->kind == KEEL_FILTER_AND && n->left != NULL && n->right != NULL) {
        const keel_filter_node *l = choose_driver(n->left);
        const keel_filter_node *r = choose_driver(n->right);
        if (l == NULL)
            return r;
        return r != NULL && driver_score(r) > driver_score(l) ? r : l;
    }
    return driver_score(n) > 0 ? n : NULL;
}

int keel_filter_compile(const keel_filter_node *root, enum keel_search_target target,
                        keel_sql *sql, keel_err *err)
{
    return keel_filter_compile_driven(root, target, sql, NULL, err);
}

int keel_filter_compile_driven(const keel_filter_node *root, enum keel_search_target target,
                               keel_sql *sql, bool *out_driven, keel_err *err)
{
    if (sql == NULL || !target_ok(target))
        return keel_errf(err, KEEL_EINVAL, "filter: no SQL buffer or unknown target");
    struct emit e = {.sql = sql, .target = target, .rc = KEEL_OK, .driver = choose_driver(root)};
    if (out_driven != NULL)
        *out_driven = e.driver != NULL;
    size_t text_len = sql->text.len, n_args = sql->n_args;
    int rc = KEEL_OK;
    if (root == NULL)
        put(&e, "1=1");
    else
        rc = compile_node(&e, root, 0, err);
    return finish(&e, rc, text_len, n_args, "filter", err);
}

/* ---- order_by ---- */

static int compile_order_item(struct emit *e, const keel_order_by *item, keel_err *err)
{
    const char *dir = item->descending ? " DESC NULLS LAST" : " ASC NULLS LAST";
    if (item->key == NULL)
        return keel_errf(err, KEEL_EINVAL, "order_by: no key");
    if (item->entity == KEEL_FILTER_ATTRIBUTE) {
        const keel__search_attr *attr = keel__search_attr_find(e->target, item->key);
        if (attr == NULL)
            return keel_errf(err, KEEL_EINVAL, "order_by: unknown attribute '%.64s'", item->key);
        put(e, target_sql[e->target].alias);
        put(e, ".");
        put(e, attr->column);
        put(e, dir);
        return KEEL_OK;
    }
    const struct keyed_source *src = find_keyed(e->target, item->entity);
    /* MLflow orders experiments, models and versions by attributes only */
    if (src == NULL || e->target != KEEL_SEARCH_RUNS)
        return keel_errf(err, KEEL_EINVAL, "order_by: cannot order %s by %s",
                         keel__target_name(e->target), keel__entity_name(item->entity));
    const char *terms[2] = {src->order_value, src->order_nan_last ? "m.is_nan" : NULL};
    for (size_t i = 0; i < COUNT(terms) && terms[i] != NULL; i++) {
        put(e, i == 0 ? "(SELECT " : ", (SELECT ");
        put(e, terms[i]);
        put(e, " FROM ");
        put(e, src->from);
        put(e, " WHERE ");
        put(e, src->inner);
        put(e, " = ");
        put(e, src->outer);
        put(e, " AND ");
        put(e, src->key);
        put(e, " = ?)");
        bind_text(e, item->key);
        /* NaN (is_nan 1) before a missing metric (NULL), in either direction */
        put(e, i == 0 ? dir : " ASC NULLS LAST");
    }
    return KEEL_OK;
}

int keel_order_by_compile(const keel_order_by *items, size_t n, enum keel_search_target target,
                          keel_sql *sql, keel_err *err)
{
    if (sql == NULL || !target_ok(target) || (n > 0 && items == NULL))
        return keel_errf(err, KEEL_EINVAL, "order_by: no SQL buffer, items or target");
    struct emit e = {.sql = sql, .target = target, .rc = KEEL_OK};
    size_t text_len = sql->text.len, n_args = sql->n_args;
    int rc = KEEL_OK;
    put(&e, " ORDER BY ");
    for (size_t i = 0; rc == KEEL_OK && i < n; i++) {
        rc = compile_order_item(&e, &items[i], err);
        put(&e, ", ");
    }
    if (rc == KEEL_OK)
        put(&e, n > 0 ? target_sql[target].tie_break : target_sql[target].default_order);
    return finish(&e, rc, text_len, n_args, "order_by", err);
}

/* ---- page tokens ---- */

const char *keel_page_token_encode(keel_arena *a, int64_t offset)
{
    char json[64];
    int n = snprintf(json, sizeof json, "{\"offset\": %" PRId64 "}", offset < 0 ? 0 : offset);
    char *out = keel_arena_alloc(a, 4 * (((size_t)n + 2) / 3) + 1);
    if (out == NULL)
        return NULL;
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)json, n);
    return out;
}

static bool is_base64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

int keel_page_token_decode(const char *token, int64_t *out_offset, keel_err *err)
{
    if (out_offset == NULL)
        return keel_errf(err, KEEL_EINVAL, "invalid page token (no output)");
    *out_offset = 0;
    if (token == NULL || token[0] == '\0')
        return KEEL_OK;
    size_t len = strnlen(token, PAGE_TOKEN_MAX + 1);
    if (len > PAGE_TOKEN_MAX || len % 4 != 0)
        return keel_errf(err, KEEL_EINVAL, "invalid page token (not base64)");
    size_t pad = 0;
    while (pad < 2 && token[len - 1 - pad] == '=')
        pad++;
    for (size_t i = 0; i < len - pad; i++)
        if (!is_base64_char(token[i]))
            return keel_errf(err, KEEL_EINVAL, "invalid page token (not base64)");
    unsigned char raw[PAGE_TOKEN_MAX];
    int n = EVP_DecodeBlock(raw, (const unsigned char *)token, (int)len);
    if (n < 0 || (size_t)n < pad)
        return keel_errf(err, KEEL_EINVAL, "invalid page token (not base64)");
    n -= (int)pad;

    json_t *doc = NULL;
    keel_err jerr;
    int64_t offset = -1;
    int rc = KEEL_OK;
    if (keel_json_parse((const char *)raw, (size_t)n, 2, &doc, &jerr) != KEEL_OK ||
        !json_is_object(doc))
        rc = keel_errf(err, KEEL_EINVAL, "invalid page token (not a JSON object)");
    else if (keel_json_get_int64(doc, "offset", true, &offset, &jerr) != KEEL_OK || offset < 0)
        rc = keel_errf(err, KEEL_EINVAL, "invalid page token (no valid offset)");
    json_decref(doc);
    if (rc == KEEL_OK)
        *out_offset = offset;
    return rc;
}
