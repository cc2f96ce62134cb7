/*
 * search_rules.h — private to search_filter.c and search_sql.c: the tables
 * that say which attributes exist for each search target, what type they
 * have and which column holds them, and the one check of an
 * entity/operator/value combination that both the parser (to report a
 * position) and the compiler (to refuse hand-built trees) apply.
 */
#ifndef KEEL_SEARCH_RULES_H
#define KEEL_SEARCH_RULES_H

#include "search_filter.h"

/* How an attribute's values are typed and compared. */
enum keel__attr_type {
    KEEL__ATTR_STRING,  /* quoted strings; = != LIKE ILIKE IN NOT IN IS [NOT] NULL */
    KEEL__ATTR_NUMBER,  /* numbers; = != > >= < <= IS [NOT] NULL */
    KEEL__ATTR_ID,      /* integer ids, given as numbers or quoted digits; = != IN NOT IN */
};

typedef struct keel__search_attr {
    enum keel_search_target target;
    const char *name;       /* as spelled in a filter (canonical name or alias) */
    const char *canonical;  /* the name stored in trees */
    const char *column;     /* column of the target's table (alias r, e, rm or mv) */
    enum keel__attr_type type;
} keel__search_attr;

/* The attribute spelled name for target (aliases included), or NULL. */
const keel__search_attr *keel__search_attr_find(enum keel_search_target target,
                                                const char *name);

/* True for the targets of enum keel_search_target. */
bool keel__target_ok(enum keel_search_target target);

/* Display name of a target, plural ("runs", "experiments", "registered
 * models", "model versions"); "?" when out of range. */
const char *keel__target_name(enum keel_search_target target);

/* Display name of an entity ("metrics", "params", ...). */
const char *keel__entity_name(enum keel_filter_entity entity);

/* Spelling of an operator ("LIKE", "NOT IN", ">="); "?" when out of range. */
const char *keel__op_name(enum keel_filter_op op);

/* Which part of a clause a rule violation is about. */
enum keel__clause_part { KEEL__PART_IDENT, KEEL__PART_OP, KEEL__PART_VALUE };

/* Checks one clause for target. On failure returns KEEL_EINVAL, writes a
 * message (without position) into why (why_size bytes), the offending part
 * into *out_part and, for a value, its index into *out_value. */
int keel__clause_check(enum keel_search_target target, enum keel_filter_entity entity,
                       const char *key, enum keel_filter_op op,
                       const keel_filter_value *values, size_t n_values,
                       enum keel__clause_part *out_part, size_t *out_value,
                       char *why, size_t why_size);

/* Parses text (decimal digits, optional sign) as an int64 id. */
bool keel__parse_id(const char *text, int64_t *out);

#endif
