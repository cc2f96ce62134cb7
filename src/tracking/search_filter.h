/*
 * search_filter.h — MLflow's search grammar: filter strings parsed into a
 * tree, order_by clauses, page tokens; and their compilation to
 * parameterized SQL. Values are never spliced into SQL text: each becomes a
 * `?` with an entry in keel_sql.args.
 *
 * Grammar (MLflow's, plus OR and parentheses as an extension):
 *   filter  := or_expr
 *   or_expr := and_expr ( OR and_expr )*
 *   and_expr:= primary ( AND primary )*
 *   primary := '(' or_expr ')' | clause
 *   clause  := ident op value | ident IS [NOT] NULL
 *   ident   := [entity '.'] key      entity: metrics|metric|params|param|tags|tag|
 *                                    attributes|attribute|attr|run|datasets|dataset
 *              key: bare word ([A-Za-z0-9_.:/-]+ after the dot), `backticked`, or "double quoted"
 *              an ident without an entity is an attribute (e.g. `status`, `name`)
 *   op      := = != <> > >= < <= LIKE ILIKE IN NOT IN   (keywords case-insensitive)
 *   value   := number | 'single' | "double" | '(' value (',' value)* ')'
 *
 * Errors name the byte offset and the offending token, e.g.
 *   "filter: at position 17 near 'LIKE': operator LIKE is not valid for metrics".
 */
#ifndef KEEL_SEARCH_FILTER_H
#define KEEL_SEARCH_FILTER_H

#include <keel/arena.h>
#include <keel/buf.h>
#include <keel/error.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEEL_FILTER_MAX_LEN     8192   /* bytes of filter text */
#define KEEL_FILTER_MAX_CLAUSES 100
#define KEEL_FILTER_MAX_DEPTH   16     /* parenthesis nesting */

/* What is being searched; decides which entities and attributes exist.
 * Registered models (alias `rm`, table registered_models) and model versions
 * (alias `mv`, table model_versions) take attributes and tags only, as
 * experiments do. */
enum keel_search_target {
    KEEL_SEARCH_RUNS,
    KEEL_SEARCH_EXPERIMENTS,
    KEEL_SEARCH_MODELS,
    KEEL_SEARCH_MODEL_VERSIONS,
    KEEL_SEARCH_TARGET_COUNT
};

enum keel_filter_entity {
    KEEL_FILTER_METRIC,
    KEEL_FILTER_PARAM,
    KEEL_FILTER_TAG,
    KEEL_FILTER_ATTRIBUTE,
    KEEL_FILTER_DATASET,
};

enum keel_filter_op {
    KEEL_OP_EQ, KEEL_OP_NE, KEEL_OP_GT, KEEL_OP_GE, KEEL_OP_LT, KEEL_OP_LE,
    KEEL_OP_LIKE, KEEL_OP_ILIKE, KEEL_OP_IN, KEEL_OP_NOT_IN,
    KEEL_OP_IS_NULL, KEEL_OP_IS_NOT_NULL,
};

typedef struct keel_filter_value {
    bool is_number;
    double number;      /* when is_number */
    const char *text;   /* when !is_number; arena copy, quotes removed */
} keel_filter_value;

enum keel_filter_node_kind { KEEL_FILTER_AND, KEEL_FILTER_OR, KEEL_FILTER_CLAUSE };

typedef struct keel_filter_node {
    enum keel_filter_node_kind kind;
    /* AND / OR */
    struct keel_filter_node *left, *right;
    /* CLAUSE */
    enum keel_filter_entity entity;
    const char *key;               /* attribute names are canonical: run_id, run_name,
                                      status, start_time, end_time, user_id, artifact_uri,
                                      lifecycle_stage; experiments: name, creation_time,
                                      last_update_time, experiment_id; models: name,
                                      creation_timestamp, last_updated_timestamp; versions:
                                      name, version, run_id, source_path, current_stage,
                                      creation_timestamp, last_updated_timestamp */
    enum keel_filter_op op;
    keel_filter_value *values;     /* 1 value, or n for IN / NOT IN, 0 for IS [NOT] NULL */
    size_t n_values;
    size_t pos;                    /* byte offset of the clause in the filter text */
} keel_filter_node;

/* Parses text (NULL or blank = match everything: *out = NULL) into a tree
 * allocated from a. Checks entity/operator/value-type combinations for the
 * target (metrics take numbers and comparison operators; params, tags and
 * string attributes take quoted strings with = != LIKE ILIKE IN NOT IN;
 * numeric attributes take numbers). KEEL_EPARSE / KEEL_EINVAL / KEEL_ELIMIT
 * with position and token. */
int keel_filter_parse(const char *text, enum keel_search_target target, keel_arena *a,
                      keel_filter_node **out, keel_err *err);

/* Bound SQL built up by the compilers. */
enum keel_sql_arg_type { KEEL_SQL_TEXT, KEEL_SQL_DOUBLE, KEEL_SQL_INT64 };

typedef struct keel_sql_arg {
    enum keel_sql_arg_type type;
    const char *text;
    double d;
    int64_t i;
} keel_sql_arg;

#define KEEL_SQL_MAX_ARGS 512

typedef struct keel_sql {
    keel_buf text;                       /* SQL with ? placeholders */
    keel_sql_arg args[KEEL_SQL_MAX_ARGS];
    size_t n_args;
} keel_sql;

/* Appends a boolean SQL expression equivalent to root, over table alias `r`
 * (runs: columns run_uuid, name, experiment_id, user_id, status, start_time,
 * end_time, lifecycle_stage, artifact_uri), `e` (experiments: experiment_id,
 * name, creation_time, last_update_time, lifecycle_stage), `rm`
 * (registered_models) or `mv` (model_versions). Metric, param,
 * tag and dataset clauses become `r.run_uuid IN (SELECT …)` subqueries over
 * latest_metrics / params / tags / inputs+datasets (experiment tags:
 * experiment_tags; model tags: registered_model_tags; version tags:
 * model_version_tags, matched on (name, version)). LIKE is case-sensitive (the store enables
 * case_sensitive_like), ILIKE compares LOWER() of both sides. NaN metric values
 * (is_nan = 1) never satisfy a comparison. root NULL appends "1=1". */
int keel_filter_compile(const keel_filter_node *root, enum keel_search_target target,
                        keel_sql *sql, keel_err *err);

/* The same, choosing one clause that every match must satisfy (a positive
 * param/tag/metric clause in the top-level AND chain) to drive the query:
 * it is compiled as `r.run_uuid IN (SELECT …)` and the other keyed clauses as
 * correlated EXISTS probes. *out_driven tells whether a driver was chosen,
 * so the caller can keep the database from preferring another index
 * (SQLite: "+r.experiment_id"). */
int keel_filter_compile_driven(const keel_filter_node *root, enum keel_search_target target,
                               keel_sql *sql, bool *out_driven, keel_err *err);

/* One order_by item: "metrics.auc DESC", "params.lr", "attributes.start_time ASC",
 * "name" (experiments). */
typedef struct keel_order_by {
    enum keel_filter_entity entity;
    const char *key;        /* canonical attribute name, or metric/param/tag key */
    bool descending;
} keel_order_by;

/* Parses one order_by item. */
int keel_order_by_parse(const char *text, enum keel_search_target target, keel_arena *a,
                        keel_order_by *out, keel_err *err);

/* Appends "ORDER BY …" for the items (NULLs last for each), then the
 * target's tie-breakers: runs start_time DESC, run_uuid ASC; experiments
 * experiment_id ASC; models name ASC; versions name ASC, version DESC. With
 * no items the default order is: runs start_time DESC, run_uuid ASC;
 * experiments last_update_time DESC, experiment_id ASC; models name ASC;
 * versions name ASC, version DESC. Models and versions order by attributes
 * only, as experiments do. */
int keel_order_by_compile(const keel_order_by *items, size_t n, enum keel_search_target target,
                          keel_sql *sql, keel_err *err);

/* Page tokens are base64 of {"offset": N}, as MLflow's. Decode rejects
 * anything else with KEEL_EINVAL ("invalid page token"). Encode returns an
 * arena string. */
int keel_page_token_decode(const char *token, int64_t *out_offset, keel_err *err);
const char *keel_page_token_encode(keel_arena *a, int64_t offset);

/* Helpers for callers building the rest of the query. */
void keel_sql_init(keel_sql *sql);
void keel_sql_free(keel_sql *sql);
int keel_sql_add_text(keel_sql *sql, const char *text);
int keel_sql_add_double(keel_sql *sql, double d);
int keel_sql_add_int64(keel_sql *sql, int64_t i);

#endif
