/*
 * search_filter.c — MLflow's search filter and order_by grammar, parsed into
 * the trees of search_filter.h. The SQL compiler is in search_sql.c.
 *
 * The parser is a hand-written recursive descent over counted bytes: it
 * never reads past len, never trusts a NUL inside the text, and its
 * recursion is bounded by KEEL_FILTER_MAX_DEPTH (parentheses are the only
 * construct that recurses; AND/OR chains are built iteratively, leaning
 * left). Everything it returns is allocated from the caller's arena.
 *
 * Errors carry the byte offset (0-based) and the offending token:
 *   KEEL_EPARSE  the text is not in the grammar;
 *   KEEL_EINVAL  it is, but names an unknown entity or attribute, or uses an
 *                operator or a value type the entity does not take;
 *   KEEL_ELIMIT  it is longer than KEEL_FILTER_MAX_LEN, has more than
 *                KEEL_FILTER_MAX_CLAUSES clauses, nests parentheses deeper
 *                than KEEL_FILTER_MAX_DEPTH, or binds too many values.
 *
 * Quoted text: 'single' and "double" strings and `backticked` or "double"
 * keys end at the matching quote; a doubled quote ('it''s') or a backslash
 * before the quote or a backslash stands for that character.
 */
#include "search_rules.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Values (plus one key per clause) a filter may bind: half of what keel_sql
 * holds, leaving the rest to the caller's own conditions. */
#define FILTER_MAX_BOUND (KEEL_SQL_MAX_ARGS / 2)

/* Longest token quoted back in an error message. */
#define ERR_TOKEN_MAX 40

/* ---- tables ---- */

static const struct entity_prefix {
    const char *word;
    enum keel_filter_entity entity;
} entity_prefixes[] = {
    {"metrics", KEEL_FILTER_METRIC},       {"metric", KEEL_FILTER_METRIC},
    {"params", KEEL_FILTER_PARAM},         {"param", KEEL_FILTER_PARAM},
    {"parameters", KEEL_FILTER_PARAM},     {"parameter", KEEL_FILTER_PARAM},
    {"tags", KEEL_FILTER_TAG},             {"tag", KEEL_FILTER_TAG},
    {"attributes", KEEL_FILTER_ATTRIBUTE}, {"attribute", KEEL_FILTER_ATTRIBUTE},
    {"attr", KEEL_FILTER_ATTRIBUTE},       {"run", KEEL_FILTER_ATTRIBUTE},
    {"datasets", KEEL_FILTER_DATASET},     {"dataset", KEEL_FILTER_DATASET},
};

static const char *const entity_names[] = {
    [KEEL_FILTER_METRIC] = "metrics",       [KEEL_FILTER_PARAM] = "params",
    [KEEL_FILTER_TAG] = "tags",             [KEEL_FILTER_ATTRIBUTE] = "attributes",
    [KEEL_FILTER_DATASET] = "datasets",
};

/* Canonical names first for each target: the "valid attributes" list in
 * error messages is built from the rows whose name is canonical. */
static const keel__search_attr search_attrs[] = {
    {KEEL_SEARCH_RUNS, "run_id", "run_id", "run_uuid", KEEL__ATTR_STRING},
    {KEEL_SEARCH_RUNS, "run_name", "run_name", "name", KEEL__ATTR_STRING},
    {KEEL_SEARCH_RUNS, "status", "status", "status", KEEL__ATTR_STRING},
    {KEEL_SEARCH_RUNS, "start_time", "start_time", "start_time", KEEL__ATTR_NUMBER},
    {KEEL_SEARCH_RUNS, "end_time", "end_time", "end_time", KEEL__ATTR_NUMBER},
    {KEEL_SEARCH_RUNS, "user_id", "user_id", "user_id", KEEL__ATTR_STRING},
    {KEEL_SEARCH_RUNS, "artifact_uri", "artifact_uri", "artifact_uri", KEEL__ATTR_STRING},
    {KEEL_SEARCH_RUNS, "lifecycle_stage", "lifecycle_stage", "lifecycle_stage",
     KEEL__ATTR_STRING},
    /* MLflow's aliases (SearchUtils.translate_key_alias), plus the column name. */
    {KEEL_SEARCH_RUNS, "run_uuid", "run_id", "run_uuid", KEEL__ATTR_STRING},
    {KEEL_SEARCH_RUNS, "created", "start_time", "start_time", KEEL__ATTR_NUMBER},
    {KEEL_SEARCH_RUNS, "Created", "start_time", "start_time", KEEL__ATTR_NUMBER},
    {KEEL_SEARCH_RUNS, "run name", "run_name", "name", KEEL__ATTR_STRING},
    {KEEL_SEARCH_RUNS, "Run name", "run_name", "name", KEEL__ATTR_STRING},
    {KEEL_SEARCH_RUNS, "Run Name", "run_name", "name", KEEL__ATTR_STRING},

    {KEEL_SEARCH_EXPERIMENTS, "name", "name", "name", KEEL__ATTR_STRING},
    {KEEL_SEARCH_EXPERIMENTS, "creation_time", "creation_time", "creation_time",
     KEEL__ATTR_NUMBER},
    {KEEL_SEARCH_EXPERIMENTS, "last_update_time", "last_update_time", "last_update_time",
     KEEL__ATTR_NUMBER},
    {KEEL_SEARCH_EXPERIMENTS, "experiment_id", "experiment_id", "experiment_id",
     KEEL__ATTR_ID},

    /* Registered models: MLflow filters on name and tags and orders by name
     * and the timestamps; keel lets the timestamps filter too. */
    {KEEL_SEARCH_MODELS, "name", "name", "name", KEEL__ATTR_STRING},
    {KEEL_SEARCH_MODELS, "creation_timestamp", "creation_timestamp", "creation_time",
     KEEL__ATTR_NUMBER},
    {KEEL_SEARCH_MODELS, "last_updated_timestamp", "last_updated_timestamp",
     "last_updated_time", KEEL__ATTR_NUMBER},
    /* MLflow's SearchUtils.VALID_TIMESTAMP_ORDER_BY_KEYS */
    {KEEL_SEARCH_MODELS, "timestamp", "last_updated_timestamp", "last_updated_time",
     KEEL__ATTR_NUMBER},

    {KEEL_SEARCH_MODEL_VERSIONS, "name", "name", "name", KEEL__ATTR_STRING},
    {KEEL_SEARCH_MODEL_VERSIONS, "version", "version", "version", KEEL__ATTR_NUMBER},
    {KEEL_SEARCH_MODEL_VERSIONS, "run_id", "run_id", "run_id", KEEL__ATTR_STRING},
    {KEEL_SEARCH_MODEL_VERSIONS, "source_path", "source_path", "source", KEEL__ATTR_STRING},
    {KEEL_SEARCH_MODEL_VERSIONS, "current_stage", "current_stage", "current_stage",
     KEEL__ATTR_STRING},
    {KEEL_SEARCH_MODEL_VERSIONS, "creation_timestamp", "creation_timestamp", "creation_time",
     KEEL__ATTR_NUMBER},
    {KEEL_SEARCH_MODEL_VERSIONS, "last_updated_timestamp", "last_updated_timestamp",
     "last_updated_time", KEEL__ATTR_NUMBER},
    /* MLflow's names: version_number (SearchModelVersionUtils), timestamp */
    {KEEL_SEARCH_MODEL_VERSIONS, "version_number", "version", "version", KEEL__ATTR_NUMBER},
    {KEEL_SEARCH_MODEL_VERSIONS, "timestamp", "last_updated_timestamp", "last_updated_time",
     KEEL__ATTR_NUMBER},
};

static const char *const target_names[] = {
    [KEEL_SEARCH_RUNS] = "runs",
    [KEEL_SEARCH_EXPERIMENTS] = "experiments",
    [KEEL_SEARCH_MODELS] = "registered models",
    [KEEL_SEARCH_MODEL_VERSIONS] = "model versions",
};

static const char *const dataset_keys[] = {"name", "digest", "context"};

static const char *const op_names[] = {
    [KEEL_OP_EQ] = "=",          [KEEL_OP_NE] = "!=",          [KEEL_OP_GT] = ">",
    [KEEL_OP_GE] = ">=",         [KEEL_OP_LT] = "<",           [KEEL_OP_LE] = "<=",
    [KEEL_OP_LIKE] = "LIKE",     [KEEL_OP_ILIKE] = "ILIKE",    [KEEL_OP_IN] = "IN",
    [KEEL_OP_NOT_IN] = "NOT IN", [KEEL_OP_IS_NULL] = "IS NULL",
    [KEEL_OP_IS_NOT_NULL] = "IS NOT NULL",
};

#define OP_BIT(op) (1u << (op))
#define OPS_NUMERIC                                                                      \
    (OP_BIT(KEEL_OP_EQ) | OP_BIT(KEEL_OP_NE) | OP_BIT(KEEL_OP_GT) | OP_BIT(KEEL_OP_GE) | \
     OP_BIT(KEEL_OP_LT) | OP_BIT(KEEL_OP_LE))
#define OPS_STRING                                                                     \
    (OP_BIT(KEEL_OP_EQ) | OP_BIT(KEEL_OP_NE) | OP_BIT(KEEL_OP_LIKE) |                  \
     OP_BIT(KEEL_OP_ILIKE) | OP_BIT(KEEL_OP_IN) | OP_BIT(KEEL_OP_NOT_IN))
#define OPS_NULL (OP_BIT(KEEL_OP_IS_NULL) | OP_BIT(KEEL_OP_IS_NOT_NULL))

enum value_kind { VALUES_NUMBER, VALUES_STRING, VALUES_ID };

/* What a kind of clause accepts. */
struct clause_rule {
    unsigned ops;
    enum value_kind values;
};

static const struct clause_rule rule_metric = {OPS_NUMERIC | OPS_NULL, VALUES_NUMBER};
static const struct clause_rule rule_keyed_string = {OPS_STRING | OPS_NULL, VALUES_STRING};
static const struct clause_rule rule_dataset = {OPS_STRING, VALUES_STRING};
static const char *const attr_type_text[] = {
    [KEEL__ATTR_STRING] = "string",
    [KEEL__ATTR_NUMBER] = "numeric",
    [KEEL__ATTR_ID] = "id",
};

static const struct clause_rule rule_attr[] = {
    [KEEL__ATTR_STRING] = {OPS_STRING | OPS_NULL, VALUES_STRING},
    [KEEL__ATTR_NUMBER] = {OPS_NUMERIC | OPS_NULL, VALUES_NUMBER},
    [KEEL__ATTR_ID] = {OP_BIT(KEEL_OP_EQ) | OP_BIT(KEEL_OP_NE) | OP_BIT(KEEL_OP_IN) |
                           OP_BIT(KEEL_OP_NOT_IN),
                       VALUES_ID},
};

static const struct word_op {
    const char *word;
    enum keel_filter_op op;
} word_ops[] = {
    {"LIKE", KEEL_OP_LIKE},
    {"ILIKE", KEEL_OP_ILIKE},
    {"IN", KEEL_OP_IN},
};

/* Two-character operators before their one-character prefixes. */
static const struct symbol_op {
    const char *symbol;
    enum keel_filter_op op;
} symbol_ops[] = {
    {"!=", KEEL_OP_NE}, {"<>", KEEL_OP_NE}, {">=", KEEL_OP_GE}, {"<=", KEEL_OP_LE},
    {"=", KEEL_OP_EQ},  {">", KEEL_OP_GT},  {"<", KEEL_OP_LT},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- rules shared with search_sql.c ---- */

const keel__search_attr *keel__search_attr_find(enum keel_search_target target,
                                                const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < COUNT(search_attrs); i++)
        if (search_attrs[i].target == target && strcmp(search_attrs[i].name, name) == 0)
            return &search_attrs[i];
    return NULL;
}

bool keel__target_ok(enum keel_search_target target)
{
    return (unsigned)target < COUNT(target_names) && target_names[target] != NULL;
}

const char *keel__target_name(enum keel_search_target target)
{
    return keel__target_ok(target) ? target_names[target] : "?";
}

const char *keel__entity_name(enum keel_filter_entity entity)
{
    if ((unsigned)entity >= COUNT(entity_names))
        return "?";
    return entity_names[entity];
}

const char *keel__op_name(enum keel_filter_op op)
{
    if ((unsigned)op >= COUNT(op_names))
        return "?";
    return op_names[op];
}

bool keel__parse_id(const char *text, int64_t *out)
{
    if (text == NULL)
        return false;
    size_t i = (text[0] == '-' || text[0] == '+') ? 1 : 0;
    if (text[i] == '\0' || strlen(text + i) > 19)
        return false;
    for (size_t j = i; text[j] != '\0'; j++)
        if (text[j] < '0' || text[j] > '9')
            return false;
    errno = 0;
    long long v = strtoll(text, NULL, 10);
    if (errno != 0)
        return false;
    *out = (int64_t)v;
    return true;
}

static bool number_is_id(double d)
{
    return isfinite(d) && d == floor(d) && fabs(d) < 9.0e18;
}

static bool is_dataset_key(const char *key)
{
    for (size_t i = 0; i < COUNT(dataset_keys); i++)
        if (strcmp(key, dataset_keys[i]) == 0)
            return true;
    return false;
}

static const char *const value_kind_text[] = {
    [VALUES_NUMBER] = "a number",
    [VALUES_STRING] = "a quoted string",
    [VALUES_ID] = "an integer id",
};

int keel__clause_check(enum keel_search_target target, enum keel_filter_entity entity,
                       const char *key, enum keel_filter_op op,
                       const keel_filter_value *values, size_t n_values,
                       enum keel__clause_part *out_part, size_t *out_value,
                       char *why, size_t why_size)
{
    *out_part = KEEL__PART_IDENT;
    *out_value = 0;
    if ((unsigned)entity >= COUNT(entity_names) || key == NULL) {
        snprintf(why, why_size, "invalid clause");
        return KEEL_EINVAL;
    }
    if (target != KEEL_SEARCH_RUNS && entity != KEEL_FILTER_TAG &&
        entity != KEEL_FILTER_ATTRIBUTE) {
        snprintf(why, why_size, "%s cannot be searched for %s (only tags and attributes)",
                 entity_names[entity], keel__target_name(target));
        return KEEL_EINVAL;
    }

    const struct clause_rule *rule = NULL;
    char what[96];
    snprintf(what, sizeof what, "%s", entity_names[entity]);
    switch (entity) {
    case KEEL_FILTER_METRIC:
        rule = &rule_metric;
        break;
    case KEEL_FILTER_PARAM:
    case KEEL_FILTER_TAG:
        rule = &rule_keyed_string;
        break;
    case KEEL_FILTER_DATASET:
        if (!is_dataset_key(key)) {
            snprintf(why, why_size, "unknown dataset key '%.64s' (valid: name, digest, context)",
                     key);
            return KEEL_EINVAL;
        }
        rule = &rule_dataset;
        break;
    case KEEL_FILTER_ATTRIBUTE: {
        const keel__search_attr *attr = keel__search_attr_find(target, key);
        if (attr == NULL) {
            snprintf(why, why_size, "unknown attribute '%.64s'", key);
            return KEEL_EINVAL;
        }
        rule = &rule_attr[attr->type];
        snprintf(what, sizeof what, "%s attribute '%s'", attr_type_text[attr->type],
                 attr->canonical);
        break;
    }
    }

    *out_part = KEEL__PART_OP;
    if ((unsigned)op >= COUNT(op_names) || (rule->ops & OP_BIT(op)) == 0) {
        snprintf(why, why_size, "operator %s is not valid for %s", keel__op_name(op), what);
        return KEEL_EINVAL;
    }
    bool is_null_op = op == KEEL_OP_IS_NULL || op == KEEL_OP_IS_NOT_NULL;
    bool is_list_op = op == KEEL_OP_IN || op == KEEL_OP_NOT_IN;
    if ((is_null_op && n_values != 0) || (is_list_op && n_values == 0) ||
        (!is_null_op && !is_list_op && n_values != 1) || (n_values > 0 && values == NULL)) {
        snprintf(why, why_size, "wrong number of values for %s", keel__op_name(op));
        return KEEL_EINVAL;
    }

    *out_part = KEEL__PART_VALUE;
    for (size_t i = 0; i < n_values; i++) {
        const keel_filter_value *v = &values[i];
        bool ok = false;
        int64_t id;
        switch (rule->values) {
        case VALUES_NUMBER:
            ok = v->is_number && isfinite(v->number);
            break;
        case VALUES_STRING:
            ok = !v->is_number && v->text != NULL;
            break;
        case VALUES_ID:
            ok = v->is_number ? number_is_id(v->number) : keel__parse_id(v->text, &id);
            break;
        }
        if (!ok) {
            *out_value = i;
            snprintf(why, why_size, "expected %s for %s, got %s", value_kind_text[rule->values],
                     what, v->is_number ? "a number" : "a string");
            return KEEL_EINVAL;
        }
    }
    return KEEL_OK;
}

/* ---- lexer ---- */

struct parser {
    const char *s;
    size_t len;
    size_t pos;
    const char *what;  /* "filter" or "order_by", first word of every error */
    enum keel_search_target target;
    keel_arena *a;
    keel_err *err;
    size_t clauses;
    size_t bound;      /* keys and values that will become SQL arguments */
    int depth;
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_word(char c)
{
    return is_alpha(c) || is_digit(c) || c == '_';
}

static bool is_key_char(char c)
{
    return is_word(c) || c == '.' || c == ':' || c == '/' || c == '-';
}

static bool is_quote(char c)
{
    return c == '\'' || c == '"' || c == '`';
}

static bool is_symbol(char c)
{
    return c == '=' || c == '!' || c == '<' || c == '>';
}

static size_t run_len(const struct parser *p, size_t at, bool (*in_run)(char))
{
    size_t n = 0;
    while (at + n < p->len && in_run(p->s[at + n]))
        n++;
    return n;
}

static void skip_space(struct parser *p)
{
    p->pos += run_len(p, p->pos, is_space);
}

/* Length of the token starting at at, for error messages. */
static size_t token_len(const struct parser *p, size_t at)
{
    char c = p->s[at];
    if (is_quote(c)) {
        size_t n = 1;
        while (at + n < p->len && p->s[at + n] != c)
            n++;
        return at + n < p->len ? n + 1 : n;
    }
    if (is_key_char(c))
        return run_len(p, at, is_key_char);
    if (is_symbol(c))
        return run_len(p, at, is_symbol);
    return 1;
}

static int vfail(struct parser *p, int code, size_t at, bool near, const char *fmt, va_list ap)
{
    char why[320];
    vsnprintf(why, sizeof why, fmt, ap);
    if (at >= p->len || !near)
        return keel_errf(p->err, code, "%s: at position %zu: %s", p->what, at, why);
    size_t n = token_len(p, at);
    char tok[ERR_TOKEN_MAX + 4];
    size_t shown = n > ERR_TOKEN_MAX ? ERR_TOKEN_MAX : n;
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)p->s[at + i];
        tok[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (shown < n) {
        memcpy(tok + shown, "...", 3);
        shown += 3;
    }
    tok[shown] = '\0';
    return keel_errf(p->err, code, "%s: at position %zu near '%s': %s", p->what, at, tok, why);
}

/* Fails naming position at and the token there. */
__attribute__((format(printf, 4, 5)))
static int fail(struct parser *p, int code, size_t at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(p, code, at, true, fmt, ap);
    va_end(ap);
    return rc;
}

/* Fails naming position at only (the token there would be unhelpful). */
__attribute__((format(printf, 4, 5)))
static int fail_at(struct parser *p, int code, size_t at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(p, code, at, false, fmt, ap);
    va_end(ap);
    return rc;
}

static int fail_nomem(struct parser *p)
{
    return keel_errf(p->err, KEEL_ENOMEM, "%s: out of memory", p->what);
}

/* True when the word at the position is kw (case-insensitive, whole word). */
static bool word_is(const struct parser *p, size_t at, const char *kw)
{
    size_t n = run_len(p, at, is_word);
    return n == strlen(kw) && strncasecmp(p->s + at, kw, n) == 0;
}

static bool accept_word(struct parser *p, const char *kw)
{
    skip_space(p);
    if (!word_is(p, p->pos, kw))
        return false;
    p->pos += strlen(kw);
    return true;
}

/* Reads a quoted string or key at p->pos (which holds the quote) into an
 * arena copy without the quotes. */
static int read_quoted(struct parser *p, const char *what, const char **out)
{
    size_t start = p->pos;
    char quote = p->s[start];
    char *text = keel_arena_alloc(p->a, p->len - start);
    if (text == NULL)
        return fail_nomem(p);
    size_t n = 0;
    size_t i = start + 1;
    for (;;) {
        if (i >= p->len)
            return fail_at(p, KEEL_EPARSE, start, "unterminated %s", what);
        char c = p->s[i];
        if (c == quote && i + 1 < p->len && p->s[i + 1] == quote) {
            text[n++] = quote;
            i += 2;
        } else if (c == quote) {
            i++;
            break;
        } else if (c == '\\' && i + 1 < p->len && (p->s[i + 1] == quote || p->s[i + 1] == '\\')) {
            text[n++] = p->s[i + 1];
            i += 2;
        } else {
            text[n++] = c;
            i++;
        }
    }
    text[n] = '\0';
    p->pos = i;
    *out = text;
    return KEEL_OK;
}

/* ---- parser ---- */

static const struct entity_prefix *find_entity(const char *word, size_t n)
{
    for (size_t i = 0; i < COUNT(entity_prefixes); i++)
        if (strlen(entity_prefixes[i].word) == n && memcmp(entity_prefixes[i].word, word, n) == 0)
            return &entity_prefixes[i];
    return NULL;
}

/* ident := [entity '.'] key. Writes the entity, the key as written (arena)
 * and the identifier's position. */
static int parse_ident(struct parser *p, enum keel_filter_entity *out_entity,
                       const char **out_key, size_t *out_pos)
{
    skip_space(p);
    *out_pos = p->pos;
    if (p->pos >= p->len)
        return fail_at(p, KEEL_EPARSE, p->pos, "unexpected end of %s, expected an identifier",
                       p->what);
    *out_entity = KEEL_FILTER_ATTRIBUTE;
    char c = p->s[p->pos];
    if (c == '`' || c == '"')
        return read_quoted(p, "quoted key", out_key);
    if (!is_key_char(c))
        return fail(p, KEEL_EPARSE, p->pos, "expected an identifier");
    size_t word = run_len(p, p->pos, is_word);
    if (word > 0 && p->pos + word < p->len && p->s[p->pos + word] == '.') {
        const struct entity_prefix *e = find_entity(p->s + p->pos, word);
        if (e == NULL)
            return fail(p, KEEL_EINVAL, p->pos,
                        "unknown entity '%.*s' (valid: metrics, params, tags, attributes, "
                        "datasets)", (int)word, p->s + p->pos);
        *out_entity = e->entity;
        p->pos += word + 1;
        if (p->pos < p->len && (p->s[p->pos] == '`' || p->s[p->pos] == '"'))
            return read_quoted(p, "quoted key", out_key);
    }
    size_t n = run_len(p, p->pos, is_key_char);
    if (n == 0)
        return fail_at(p, KEEL_EPARSE, p->pos, "expected a key after '%s.'",
                       entity_names[*out_entity]);
    *out_key = keel_arena_strndup(p->a, p->s + p->pos, n);
    if (*out_key == NULL)
        return fail_nomem(p);
    p->pos += n;
    return KEEL_OK;
}

/* Turns an attribute name into its canonical spelling, or fails naming the
 * valid ones. */
static int canonical_attr(struct parser *p, const char *key, size_t at, const char **out)
{
    const keel__search_attr *attr = keel__search_attr_find(p->target, key);
    if (attr != NULL) {
        *out = attr->canonical;
        return KEEL_OK;
    }
    char valid[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < COUNT(search_attrs); i++) {
        const keel__search_attr *r = &search_attrs[i];
        if (r->target != p->target || strcmp(r->name, r->canonical) != 0)
            continue;
        int w = snprintf(valid + used, sizeof valid - used, "%s%s", used > 0 ? ", " : "",
                         r->name);
        if (w < 0 || (size_t)w >= sizeof valid - used)
            break;
        used += (size_t)w;
    }
    return fail(p, KEEL_EINVAL, at, "unknown attribute '%.64s' (valid: %s)", key, valid);
}

static int parse_op(struct parser *p, enum keel_filter_op *out, size_t *out_pos)
{
    skip_space(p);
    *out_pos = p->pos;
    if (p->pos >= p->len)
        return fail_at(p, KEEL_EPARSE, p->pos, "unexpected end of filter, expected an operator");
    for (size_t i = 0; i < COUNT(symbol_ops); i++) {
        size_t n = strlen(symbol_ops[i].symbol);
        if (p->len - p->pos >= n && memcmp(p->s + p->pos, symbol_ops[i].symbol, n) == 0) {
            p->pos += n;
            *out = symbol_ops[i].op;
            return KEEL_OK;
        }
    }
    for (size_t i = 0; i < COUNT(word_ops); i++) {
        if (accept_word(p, word_ops[i].word)) {
            *out = word_ops[i].op;
            return KEEL_OK;
        }
    }
    if (accept_word(p, "NOT")) {
        if (!accept_word(p, "IN"))
            return fail(p, KEEL_EPARSE, p->pos, "expected IN after NOT");
        *out = KEEL_OP_NOT_IN;
        return KEEL_OK;
    }
    if (accept_word(p, "IS")) {
        bool negated = accept_word(p, "NOT");
        if (!accept_word(p, "NULL"))
            return fail(p, KEEL_EPARSE, p->pos, "expected NULL after IS%s",
                        negated ? " NOT" : "");
        *out = negated ? KEEL_OP_IS_NOT_NULL : KEEL_OP_IS_NULL;
        return KEEL_OK;
    }
    return fail(p, KEEL_EPARSE, p->pos,
                "expected an operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL)");
}

/* number := [+-] digits [. digits] [e [+-] digits], not glued to a word. */
static int parse_number(struct parser *p, keel_filter_value *out)
{
    size_t start = p->pos;
    size_t i = start;
    if (p->s[i] == '+' || p->s[i] == '-')
        i++;
    size_t digits = run_len(p, i, is_digit);
    i += digits;
    if (i < p->len && p->s[i] == '.') {
        i++;
        size_t frac = run_len(p, i, is_digit);
        digits += frac;
        i += frac;
    }
    if (digits == 0)
        return fail(p, KEEL_EPARSE, start, "malformed number");
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-'))
            i++;
        size_t exp = run_len(p, i, is_digit);
        if (exp == 0)
            return fail(p, KEEL_EPARSE, start, "malformed number");
        i += exp;
    }
    if (i < p->len && (is_word(p->s[i]) || p->s[i] == '.'))
        return fail(p, KEEL_EPARSE, start, "malformed number");
    char *copy = keel_arena_strndup(p->a, p->s + start, i - start);
    if (copy == NULL)
        return fail_nomem(p);
    double d = strtod(copy, NULL);
    if (!isfinite(d))
        return fail(p, KEEL_EINVAL, start, "number out of range");
    out->is_number = true;
    out->number = d;
    out->text = NULL;
    p->pos = i;
    return KEEL_OK;
}

static int parse_value(struct parser *p, keel_filter_value *out, size_t *out_pos)
{
    skip_space(p);
    *out_pos = p->pos;
    if (p->pos >= p->len)
        return fail_at(p, KEEL_EPARSE, p->pos, "unexpected end of filter, expected a value");
    if (++p->bound > FILTER_MAX_BOUND)
        return fail(p, KEEL_ELIMIT, p->pos, "more than %d values in one filter",
                    FILTER_MAX_BOUND);
    char c = p->s[p->pos];
    if (c == '\'' || c == '"') {
        out->is_number = false;
        out->number = 0;
        return read_quoted(p, "string", &out->text);
    }
    if (is_digit(c) || c == '.' || c == '+' || c == '-')
        return parse_number(p, out);
    return fail(p, KEEL_EPARSE, p->pos, "expected a value (a number or a quoted string)");
}

/* Values of a clause while they are parsed, with their positions. */
struct value_list {
    keel_filter_value *values;
    size_t *pos;
    size_t n, cap;
};

static int value_list_push(struct parser *p, struct value_list *l, keel_filter_value **out_v,
                           size_t **out_pos)
{
    if (l->n == l->cap) {
        size_t cap = l->cap == 0 ? 4 : l->cap * 2;
        keel_filter_value *v = keel_arena_alloc(p->a, cap * sizeof *v);
        size_t *pos = keel_arena_alloc(p->a, cap * sizeof *pos);
        if (v == NULL || pos == NULL)
            return fail_nomem(p);
        if (l->n > 0) {
            memcpy(v, l->values, l->n * sizeof *v);
            memcpy(pos, l->pos, l->n * sizeof *pos);
        }
        l->values = v;
        l->pos = pos;
        l->cap = cap;
    }
    *out_v = &l->values[l->n];
    *out_pos = &l->pos[l->n];
    l->n++;
    return KEEL_OK;
}

static int parse_values(struct parser *p, enum keel_filter_op op, struct value_list *l)
{
    keel_filter_value *v;
    size_t *at;
    int rc;
    if (op == KEEL_OP_IS_NULL || op == KEEL_OP_IS_NOT_NULL)
        return KEEL_OK;
    if (op != KEEL_OP_IN && op != KEEL_OP_NOT_IN) {
        if ((rc = value_list_push(p, l, &v, &at)) != KEEL_OK)
            return rc;
        return parse_value(p, v, at);
    }
    skip_space(p);
    if (p->pos >= p->len || p->s[p->pos] != '(')
        return p->pos >= p->len
                   ? fail_at(p, KEEL_EPARSE, p->pos, "expected '(' after %s", op_names[op])
                   : fail(p, KEEL_EPARSE, p->pos, "expected '(' after %s", op_names[op]);
    p->pos++;
    for (;;) {
        if ((rc = value_list_push(p, l, &v, &at)) != KEEL_OK)
            return rc;
        if ((rc = parse_value(p, v, at)) != KEEL_OK)
            return rc;
        skip_space(p);
        if (p->pos >= p->len)
            return fail_at(p, KEEL_EPARSE, p->pos, "unterminated value list, expected ')'");
        if (p->s[p->pos] == ')') {
            p->pos++;
            return KEEL_OK;
        }
        if (p->s[p->pos] != ',')
            return fail(p, KEEL_EPARSE, p->pos, "expected ',' or ')' in value list");
        p->pos++;
    }
}

static int parse_clause(struct parser *p, keel_filter_node **out)
{
    skip_space(p);
    if (++p->clauses > KEEL_FILTER_MAX_CLAUSES)
        return fail(p, KEEL_ELIMIT, p->pos, "more than %d clauses", KEEL_FILTER_MAX_CLAUSES);
    keel_filter_node *n = keel_arena_alloc(p->a, sizeof *n);
    if (n == NULL)
        return fail_nomem(p);
    n->kind = KEEL_FILTER_CLAUSE;
    const char *key = NULL;
    size_t op_pos = 0;
    int rc = parse_ident(p, &n->entity, &key, &n->pos);
    if (rc == KEEL_OK && n->entity == KEEL_FILTER_ATTRIBUTE)
        rc = canonical_attr(p, key, n->pos, &key);
    if (rc == KEEL_OK && ++p->bound > FILTER_MAX_BOUND)
        rc = fail(p, KEEL_ELIMIT, n->pos, "more than %d values in one filter",
                  FILTER_MAX_BOUND);
    n->key = key;
    if (rc == KEEL_OK)
        rc = parse_op(p, &n->op, &op_pos);
    struct value_list values = {0};
    if (rc == KEEL_OK)
        rc = parse_values(p, n->op, &values);
    if (rc != KEEL_OK)
        return rc;
    n->values = values.values;
    n->n_values = values.n;

    enum keel__clause_part part;
    size_t bad_value;
    char why[256];
    if (keel__clause_check(p->target, n->entity, n->key, n->op, n->values, n->n_values, &part,
                           &bad_value, why, sizeof why) != KEEL_OK) {
        size_t at = part == KEEL__PART_IDENT ? n->pos
                    : part == KEEL__PART_OP  ? op_pos
                                             : values.pos[bad_value];
        return fail(p, KEEL_EINVAL, at, "%s", why);
    }
    *out = n;
    return KEEL_OK;
}

static int parse_or(struct parser *p, keel_filter_node **out);

/* primary := '(' or_expr ')' | clause */
static int parse_primary(struct parser *p, keel_filter_node **out)
{
    skip_space(p);
    if (p->pos >= p->len || p->s[p->pos] != '(')
        return parse_clause(p, out);
    size_t open = p->pos;
    if (p->depth >= KEEL_FILTER_MAX_DEPTH)
        return fail(p, KEEL_ELIMIT, open, "parentheses nest deeper than %d",
                    KEEL_FILTER_MAX_DEPTH);
    p->depth++;
    p->pos++;
    int rc = parse_or(p, out);
    if (rc != KEEL_OK)
        return rc;
    skip_space(p);
    if (p->pos >= p->len)
        return fail_at(p, KEEL_EPARSE, p->pos, "expected ')' to close '(' at position %zu", open);
    if (p->s[p->pos] != ')')
        return fail(p, KEEL_EPARSE, p->pos, "expected ')' to close '(' at position %zu", open);
    p->pos++;
    p->depth--;
    return KEEL_OK;
}

static int join(struct parser *p, enum keel_filter_node_kind kind, keel_filter_node **left,
                keel_filter_node *right)
{
    keel_filter_node *n = keel_arena_alloc(p->a, sizeof *n);
    if (n == NULL)
        return fail_nomem(p);
    n->kind = kind;
    n->left = *left;
    n->right = right;
    n->pos = (*left)->pos;
    *left = n;
    return KEEL_OK;
}

/* and_expr := primary (AND primary)* */
static int parse_and(struct parser *p, keel_filter_node **out)
{
    int rc = parse_primary(p, out);
    while (rc == KEEL_OK && accept_word(p, "AND")) {
        keel_filter_node *right;
        rc = parse_primary(p, &right);
        if (rc == KEEL_OK)
            rc = join(p, KEEL_FILTER_AND, out, right);
    }
    return rc;
}

/* or_expr := and_expr (OR and_expr)* */
static int parse_or(struct parser *p, keel_filter_node **out)
{
    int rc = parse_and(p, out);
    while (rc == KEEL_OK && accept_word(p, "OR")) {
        keel_filter_node *right;
        rc = parse_and(p, &right);
        if (rc == KEEL_OK)
            rc = join(p, KEEL_FILTER_OR, out, right);
    }
    return rc;
}

static int parser_init(struct parser *p, const char *what, const char *text,
                       enum keel_search_target target, keel_arena *a, keel_err *err)
{
    size_t len = strnlen(text, KEEL_FILTER_MAX_LEN + 1);
    *p = (struct parser){.s = text, .len = len, .what = what, .target = target, .a = a,
                         .err = err};
    if (len > KEEL_FILTER_MAX_LEN)
        return keel_errf(err, KEEL_ELIMIT, "%s: longer than %d bytes", what,
                         KEEL_FILTER_MAX_LEN);
    return KEEL_OK;
}

int keel_filter_parse(const char *text, enum keel_search_target target, keel_arena *a,
                      keel_filter_node **out, keel_err *err)
{
    if (out == NULL || a == NULL)
        return keel_errf(err, KEEL_EINVAL, "filter: no arena or output");
    *out = NULL;
    if (!keel__target_ok(target))
        return keel_errf(err, KEEL_EINVAL, "filter: unknown search target %d", (int)target);
    if (text == NULL)
        return KEEL_OK;
    struct parser p;
    int rc = parser_init(&p, "filter", text, target, a, err);
    if (rc != KEEL_OK)
        return rc;
    skip_space(&p);
    if (p.pos == p.len)
        return KEEL_OK;
    keel_filter_node *root;
    if ((rc = parse_or(&p, &root)) != KEEL_OK)
        return rc;
    skip_space(&p);
    if (p.pos < p.len)
        return fail(&p, KEEL_EPARSE, p.pos,
                    p.s[p.pos] == ')' ? "unbalanced ')'" : "expected AND, OR or end of filter");
    *out = root;
    return KEEL_OK;
}

int keel_order_by_parse(const char *text, enum keel_search_target target, keel_arena *a,
                        keel_order_by *out, keel_err *err)
{
    if (out == NULL || a == NULL)
        return keel_errf(err, KEEL_EINVAL, "order_by: no arena or output");
    if (!keel__target_ok(target))
        return keel_errf(err, KEEL_EINVAL, "order_by: unknown search target %d", (int)target);
    if (text == NULL)
        return keel_errf(err, KEEL_EINVAL, "order_by: empty");
    struct parser p;
    int rc = parser_init(&p, "order_by", text, target, a, err);
    if (rc != KEEL_OK)
        return rc;
    skip_space(&p);
    if (p.pos == p.len)
        return keel_errf(err, KEEL_EINVAL, "order_by: empty");
    enum keel_filter_entity entity;
    const char *key;
    size_t at;
    if ((rc = parse_ident(&p, &entity, &key, &at)) != KEEL_OK)
        return rc;
    if (entity == KEEL_FILTER_DATASET ||
        (target != KEEL_SEARCH_RUNS && entity != KEEL_FILTER_ATTRIBUTE))
        return fail(&p, KEEL_EINVAL, at, "cannot order %s by %s", keel__target_name(target),
                    entity_names[entity]);
    if (entity == KEEL_FILTER_ATTRIBUTE && (rc = canonical_attr(&p, key, at, &key)) != KEEL_OK)
        return rc;
    bool descending = false;
    if (accept_word(&p, "DESC"))
        descending = true;
    else if (!accept_word(&p, "ASC") && (skip_space(&p), p.pos < p.len))
        return fail(&p, KEEL_EPARSE, p.pos, "expected ASC or DESC");
    skip_space(&p);
    if (p.pos < p.len)
        return fail(&p, KEEL_EPARSE, p.pos, "unexpected text after the order_by key");
    out->entity = entity;
    out->key = key;
    out->descending = descending;
    return KEEL_OK;
}
