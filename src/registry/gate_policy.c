/*
 * gate_policy.c — reading a gate policy (YAML, libyaml's document API), with
 * every error placed at file:line:column. The format is in keel/gate.h and
 * docs/gates.md.
 */
#include "core/yaml_doc.h"
#include <keel/gate.h>
#include <keel/util.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct reader {
    const char *name;
    yaml_document_t *doc;
    keel_gate_policy *p;
    keel_err *err;
} reader;

static int fail_at(reader *r, const yaml_node_t *n, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(reader *r, const yaml_node_t *n, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    code = keel_yaml_vfail(r->err, r->name, n, code, fmt, ap);
    va_end(ap);
    return code;
}

static int number(reader *r, const yaml_node_t *n, const char *what, double *out)
{
    const char *text = keel_yaml_scalar(n);
    char *end = NULL;
    errno = 0;
    double v = text != NULL ? strtod(text, &end) : NAN;
    if (text == NULL || end == text || *end != '\0' || errno != 0 || !isfinite(v))
        return fail_at(r, n, KEEL_EINVAL, "%s must be a number", what);
    *out = v;
    return KEEL_OK;
}

static int text_value(reader *r, const yaml_node_t *n, const char *what, const char **out)
{
    const char *text = keel_yaml_scalar(n);
    if (text == NULL || text[0] == '\0')
        return fail_at(r, n, KEEL_EINVAL, "%s must be a non-empty string", what);
    *out = keel_arena_strdup(&r->p->arena, text);
    return KEEL_OK;
}

static const struct {
    const char *text;
    enum keel_gate_cmp cmp;
} comparisons[] = {
    { ">=", KEEL_CMP_GE }, { "<=", KEEL_CMP_LE }, { "==", KEEL_CMP_EQ },
    { ">", KEEL_CMP_GT }, { "<", KEEL_CMP_LT },
};

/* "metrics.test_auc >= 0.90" */
static int short_metric_gate(reader *r, const yaml_node_t *n, keel_gate *g)
{
    const char *text = keel_yaml_scalar(n);
    const char *expect = "expected a gate like \"metrics.test_auc >= 0.90\"";
    if (strncmp(text, "metrics.", 8) != 0)
        return fail_at(r, n, KEEL_EINVAL, "%s", expect);
    const char *key = text + 8;
    size_t key_len = strcspn(key, " <>=");
    const char *rest = key + key_len;
    while (*rest == ' ')
        rest++;
    size_t i = 0;
    for (; i < sizeof comparisons / sizeof comparisons[0]; i++)
        if (strncmp(rest, comparisons[i].text, strlen(comparisons[i].text)) == 0)
            break;
    if (key_len == 0 || i == sizeof comparisons / sizeof comparisons[0])
        return fail_at(r, n, KEEL_EINVAL, "%s", expect);
    g->kind = KEEL_GATE_METRIC;
    g->metric = keel_arena_strndup(&r->p->arena, key, key_len);
    g->cmp = comparisons[i].cmp;
    const char *num = rest + strlen(comparisons[i].text);
    char *end = NULL;
    errno = 0;
    g->bound = strtod(num, &end);
    while (end != NULL && *end == ' ')
        end++;
    if (end == num || *end != '\0' || errno != 0 || !isfinite(g->bound))
        return fail_at(r, n, KEEL_EINVAL, "the bound of '%s' must be a number", text);
    g->label = keel_arena_strdup(&r->p->arena, text);
    return KEEL_OK;
}

/* The keys a long-form gate may have, and which kind each first key makes. */
static const char *const gate_keys[] = { "metric", "min", "max", "beats", "margin",
                                         "max_size_mb", "max_latency_ms",
                                         "signature_compatible_with" };

static int long_gate(reader *r, const yaml_node_t *n, keel_gate *g)
{
    const yaml_node_t *field[sizeof gate_keys / sizeof gate_keys[0]] = { NULL };
    for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top;
         pair++) {
        const yaml_node_t *k = yaml_document_get_node(r->doc, pair->key);
        const yaml_node_t *v = yaml_document_get_node(r->doc, pair->value);
        const char *key = keel_yaml_scalar(k);
        size_t i = 0;
        for (; key != NULL && i < sizeof gate_keys / sizeof gate_keys[0]; i++)
            if (strcmp(key, gate_keys[i]) == 0)
                break;
        if (key == NULL || i == sizeof gate_keys / sizeof gate_keys[0])
            return fail_at(r, k, KEEL_EINVAL, "unknown gate key '%s' (known: metric, min, max, "
                           "beats, margin, max_size_mb, max_latency_ms, "
                           "signature_compatible_with)", key != NULL ? key : "?");
        field[i] = v;
    }
    enum { METRIC, MIN, MAX, BEATS, MARGIN, SIZE, LATENCY, SIGNATURE };
    keel_arena *a = &r->p->arena;
    int rc = KEEL_OK;
    if (field[BEATS] != NULL) {
        g->kind = KEEL_GATE_BEATS;
        rc = text_value(r, field[BEATS], "beats", &g->alias);
        if (rc == KEEL_OK && field[METRIC] == NULL)
            rc = fail_at(r, n, KEEL_EINVAL, "a 'beats' gate needs a 'metric'");
        if (rc == KEEL_OK)
            rc = text_value(r, field[METRIC], "metric", &g->metric);
        if (rc == KEEL_OK && field[MARGIN] != NULL)
            rc = number(r, field[MARGIN], "margin", &g->margin);
        if (rc == KEEL_OK)
            g->label = keel_arena_sprintf(a, "beats @%s on %s by %g", g->alias, g->metric,
                                          g->margin);
    } else if (field[METRIC] != NULL) {
        g->kind = KEEL_GATE_METRIC;
        rc = text_value(r, field[METRIC], "metric", &g->metric);
        if (rc == KEEL_OK && (field[MIN] == NULL) == (field[MAX] == NULL))
            rc = fail_at(r, n, KEEL_EINVAL, "a metric gate needs exactly one of 'min' or 'max'");
        if (rc == KEEL_OK) {
            g->cmp = field[MIN] != NULL ? KEEL_CMP_GE : KEEL_CMP_LE;
            rc = number(r, field[MIN] != NULL ? field[MIN] : field[MAX], "the bound", &g->bound);
        }
        if (rc == KEEL_OK)
            g->label = keel_arena_sprintf(a, "metrics.%s %s %g", g->metric,
                                          g->cmp == KEEL_CMP_GE ? ">=" : "<=", g->bound);
    } else if (field[SIZE] != NULL) {
        g->kind = KEEL_GATE_MAX_SIZE;
        rc = number(r, field[SIZE], "max_size_mb", &g->bound);
        if (rc == KEEL_OK)
            g->label = keel_arena_sprintf(a, "model size <= %g MiB", g->bound);
    } else if (field[LATENCY] != NULL) {
        g->kind = KEEL_GATE_MAX_LATENCY;
        rc = number(r, field[LATENCY], "max_latency_ms", &g->bound);
        if (rc == KEEL_OK)
            g->label = keel_arena_sprintf(a, "p99 single-row latency <= %g ms", g->bound);
    } else if (field[SIGNATURE] != NULL) {
        g->kind = KEEL_GATE_SIGNATURE;
        rc = text_value(r, field[SIGNATURE], "signature_compatible_with", &g->alias);
        if (rc == KEEL_OK)
            g->label = keel_arena_sprintf(a, "inputs compatible with @%s", g->alias);
    } else {
        rc = fail_at(r, n, KEEL_EINVAL, "a gate needs one of: metric, beats, max_size_mb, "
                     "max_latency_ms, signature_compatible_with");
    }
    if (rc == KEEL_OK && g->kind != KEEL_GATE_METRIC && (field[MIN] != NULL || field[MAX] != NULL))
        rc = fail_at(r, n, KEEL_EINVAL, "'min' and 'max' belong to metric gates");
    if (rc == KEEL_OK && (g->kind == KEEL_GATE_MAX_SIZE || g->kind == KEEL_GATE_MAX_LATENCY) &&
        !(g->bound > 0))
        rc = fail_at(r, n, KEEL_EINVAL, "the limit must be greater than 0");
    return rc;
}

static int read_gates(reader *r, const yaml_node_t *seq)
{
    if (seq->type != YAML_SEQUENCE_NODE)
        return fail_at(r, seq, KEEL_EINVAL, "'gates' must be a list");
    size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    if (n > KEEL_GATE_MAX_GATES)
        return fail_at(r, seq, KEEL_ELIMIT, "at most %d gates", KEEL_GATE_MAX_GATES);
    r->p->gates = keel_arena_alloc(&r->p->arena, (n + 1) * sizeof *r->p->gates);
    if (r->p->gates == NULL)
        return keel_errf(r->err, KEEL_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *item = yaml_document_get_node(r->doc, seq->data.sequence.items.start[i]);
        keel_gate *g = &r->p->gates[i];
        g->line = (int)item->start_mark.line + 1;
        g->column = (int)item->start_mark.column + 1;
        int rc = item->type == YAML_SCALAR_NODE    ? short_metric_gate(r, item, g)
                 : item->type == YAML_MAPPING_NODE ? long_gate(r, item, g)
                                                   : fail_at(r, item, KEEL_EINVAL,
                                                             "a gate is a string or a mapping");
        if (rc != KEEL_OK)
            return rc;
        r->p->n_gates++;
    }
    return KEEL_OK;
}

static int read_evaluation(reader *r, const yaml_node_t *map)
{
    if (map->type != YAML_MAPPING_NODE)
        return fail_at(r, map, KEEL_EINVAL, "'evaluation' must be a mapping with data and target");
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
         pair < map->data.mapping.pairs.top; pair++) {
        const yaml_node_t *k = yaml_document_get_node(r->doc, pair->key);
        const yaml_node_t *v = yaml_document_get_node(r->doc, pair->value);
        const char *key = keel_yaml_scalar(k);
        int rc;
        if (key != NULL && strcmp(key, "data") == 0)
            rc = text_value(r, v, "evaluation.data", &r->p->data);
        else if (key != NULL && strcmp(key, "target") == 0)
            rc = text_value(r, v, "evaluation.target", &r->p->target);
        else
            rc = fail_at(r, k, KEEL_EINVAL, "unknown key '%s' in evaluation (data, target)",
                         key != NULL ? key : "?");
        if (rc != KEEL_OK)
            return rc;
    }
    return KEEL_OK;
}

static int read_root(reader *r, const yaml_node_t *root)
{
    if (root == NULL)
        return keel_errf(r->err, KEEL_EPARSE, "%s: the policy is empty", r->name);
    if (root->type != YAML_MAPPING_NODE)
        return fail_at(r, root, KEEL_EINVAL, "a policy is a mapping with 'gates' (and "
                       "optionally 'evaluation')");
    bool have_gates = false;
    for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
         pair < root->data.mapping.pairs.top; pair++) {
        const yaml_node_t *k = yaml_document_get_node(r->doc, pair->key);
        const yaml_node_t *v = yaml_document_get_node(r->doc, pair->value);
        const char *key = keel_yaml_scalar(k);
        int rc;
        if (key != NULL && strcmp(key, "gates") == 0) {
            /* a second list would be counted onto the first one's n_gates */
            rc = have_gates ? fail_at(r, k, KEEL_EINVAL, "'gates' is given twice")
                            : read_gates(r, v);
            have_gates = true;
        } else if (key != NULL && strcmp(key, "evaluation") == 0) {
            rc = read_evaluation(r, v);
        } else {
            rc = fail_at(r, k, KEEL_EINVAL, "unknown key '%s' (a policy has 'evaluation' and "
                         "'gates')", key != NULL ? key : "?");
        }
        if (rc != KEEL_OK)
            return rc;
    }
    if (!have_gates)
        return fail_at(r, root, KEEL_EINVAL, "the policy has no 'gates' list");
    return KEEL_OK;
}

int keel_gate_policy_parse(const char *name, const char *text, size_t len,
                           keel_gate_policy **out, keel_err *err)
{
    if (len > KEEL_GATE_POLICY_MAX_BYTES)
        return keel_errf(err, KEEL_ELIMIT, "%s: a policy is at most %u bytes", name,
                         KEEL_GATE_POLICY_MAX_BYTES);
    keel_gate_policy *p = calloc(1, sizeof *p);
    if (p == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    keel_arena_init(&p->arena, 0);
    p->path = keel_arena_strdup(&p->arena, name);
    yaml_document_t doc;
    int rc = keel_yaml_parse(name, text, len, KEEL_GATE_POLICY_MAX_BYTES, &doc, err);
    if (rc == KEEL_OK) {
        reader r = { name, &doc, p, err };
        rc = read_root(&r, yaml_document_get_root_node(&doc));
        yaml_document_delete(&doc);
    }
    if (rc != KEEL_OK) {
        keel_gate_policy_free(p);
        return rc;
    }
    *out = p;
    return KEEL_OK;
}

int keel_gate_policy_load(const char *path, keel_gate_policy **out, keel_err *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = keel_read_file(path, KEEL_GATE_POLICY_MAX_BYTES, &text, &len, err);
    if (rc == KEEL_OK)
        rc = keel_gate_policy_parse(path, text, len, out, err);
    free(text);
    return rc;
}

void keel_gate_policy_free(keel_gate_policy *p)
{
    if (p == NULL)
        return;
    keel_arena_free(&p->arena);
    free(p);
}
