/*
 * pipeline_spec.c — reading keel.yaml (libyaml's document API) into steps:
 * key and type checks, `foreach` expansion (a list or a matrix of params, one
 * step instance per item) and ${params.x} / ${item} / ${item.k}
 * substitution. Every error is placed at file:line:column of the node it is
 * about. The graph checks (needs, cycles, outputs) are in pipeline_graph.c.
 *
 * Invariants: a loaded step has exactly one of run/uses; every string it
 * holds has been substituted (other ${…} forms are left for the shell); step
 * instance names are unique.
 */
#include "core/yaml_doc.h"
#include "pipeline_internal.h"

#include <keel/buf.h>
#include <keel/util.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#define SPEC_MAX_BYTES   (4u << 20)
#define SPEC_MAX_STEPS   100000
#define SUBST_MAX_BYTES  (64u << 10)

typedef struct reader {
    const char *file;
    yaml_document_t *doc;
    keel_pipeline *p;
    keel_err *err;
} reader;

static int fail_at(reader *r, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(reader *r, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = keel_yaml_vfail(r->err, r->file, n, KEEL_EINVAL, fmt, ap);
    va_end(ap);
    return rc;
}

static yaml_node_t *node(reader *r, int id)
{
    return yaml_document_get_node(r->doc, id);
}

/* Looks a key up in a table of allowed keys; unknown keys are errors that
 * list what is allowed. */
static int key_index(reader *r, const yaml_node_t *k, const char *const *keys, size_t n_keys,
                     const char *where, size_t *out)
{
    return keel_yaml_key_index(r->err, r->file, k, keys, n_keys, where, out);
}

static int want_mapping(reader *r, const yaml_node_t *n, const char *what)
{
    return n->type == YAML_MAPPING_NODE ? KEEL_OK : fail_at(r, n, "%s must be a mapping", what);
}

static int want_scalar(reader *r, const yaml_node_t *n, const char *what, const char **out)
{
    if (n->type != YAML_SCALAR_NODE)
        return fail_at(r, n, "%s must be a string or number, not a %s", what,
                       n->type == YAML_MAPPING_NODE ? "mapping" : "list");
    *out = keel_yaml_scalar(n);
    return KEEL_OK;
}

static int parse_bool(reader *r, const yaml_node_t *n, const char *what, bool *out)
{
    const char *s = keel_yaml_scalar(n);
    if (s != NULL && (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "on") == 0)) {
        *out = true;
        return KEEL_OK;
    }
    if (s != NULL && (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 || strcmp(s, "off") == 0)) {
        *out = false;
        return KEEL_OK;
    }
    return fail_at(r, n, "%s must be true or false", what);
}

static int parse_int(reader *r, const yaml_node_t *n, const char *what, long lo, long hi,
                     long *out)
{
    const char *s = keel_yaml_scalar(n);
    char *end = NULL;
    errno = 0;
    long v = s != NULL ? strtol(s, &end, 10) : 0;
    if (s == NULL || end == s || *end != '\0' || errno != 0 || v < lo || v > hi)
        return fail_at(r, n, "%s must be a whole number from %ld to %ld", what, lo, hi);
    *out = v;
    return KEEL_OK;
}

static int parse_duration_node(reader *r, const yaml_node_t *n, const char *what, double *out)
{
    if (keel_parse_duration(keel_yaml_scalar(n), out) != KEEL_OK)
        return fail_at(r, n, "%s must be a duration such as 30s, 5m, 2h or a number of seconds",
                       what);
    return KEEL_OK;
}

/* "4G", "512M", "1024" (MiB) → MiB. */
static int parse_memory(reader *r, const yaml_node_t *n, int64_t *out)
{
    const char *s = keel_yaml_scalar(n);
    char *end = NULL;
    errno = 0;
    double v = s != NULL ? strtod(s, &end) : NAN;
    double mult = 0;
    if (s != NULL && end != s && errno == 0 && isfinite(v) && v > 0) {
        if (*end == '\0' || strcasecmp(end, "M") == 0 || strcasecmp(end, "MB") == 0 ||
            strcasecmp(end, "MiB") == 0)
            mult = 1;
        else if (strcasecmp(end, "G") == 0 || strcasecmp(end, "GB") == 0 ||
                 strcasecmp(end, "GiB") == 0)
            mult = 1024;
        else if (strcasecmp(end, "T") == 0 || strcasecmp(end, "TB") == 0 ||
                 strcasecmp(end, "TiB") == 0)
            mult = 1024 * 1024;
    }
    if (mult == 0 || v * mult > 1e12)
        return fail_at(r, n, "memory must be a size such as 512M or 4G");
    *out = (int64_t)ceil(v * mult);
    return KEEL_OK;
}

/* ---- substitution ---- */

/* What ${…} can refer to while one step instance is built. */
typedef struct scope {
    const keel_kv *step_params; size_t n_step_params;
    const keel_kv *pipe_params; size_t n_pipe_params;
    const char *item;                      /* list item, or NULL */
    const keel_kv *matrix; size_t n_matrix; /* matrix item, or NULL */
    keel_pipeline_step *step;              /* records the pipeline params used */
} scope;

/* Remembers that the step's text uses pipeline param `key`, so its cache
 * key explanation can name the param when its value changes. */
static void note_param(reader *r, const scope *sc, const keel_kv *param)
{
    keel_pipeline_step *s = sc->step;
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_uses_params; i++)
        if (strcmp(s->uses_params[i].key, param->key) == 0)
            return;
    keel_kv *grown = keel_arena_alloc(&r->p->arena, (s->n_uses_params + 1) * sizeof *grown);
    if (s->n_uses_params)
        memcpy(grown, s->uses_params, s->n_uses_params * sizeof *grown);
    grown[s->n_uses_params++] = *param;
    s->uses_params = grown;
}

static const char *kv_find(const keel_kv *kv, size_t n, const char *key, size_t key_len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(kv[i].key) == key_len && memcmp(kv[i].key, key, key_len) == 0)
            return kv[i].value;
    return NULL;
}

static int buf_add(reader *r, const yaml_node_t *n, keel_buf *b, const char *p, size_t len)
{
    if (keel_buf_append(b, p, len) != KEEL_OK)
        return fail_at(r, n, "the text after substitution is longer than %u bytes",
                       SUBST_MAX_BYTES);
    return KEEL_OK;
}

/* Replaces ${params.x}, ${item} and ${item.k} in text; anything else that
 * looks like ${…} is the shell's and stays. */
static int substitute(reader *r, const yaml_node_t *n, const scope *sc, const char *text,
                      const char **out)
{
    if (strstr(text, "${") == NULL) {
        *out = keel_arena_strdup(&r->p->arena, text);
        return KEEL_OK;
    }
    keel_buf b;
    keel_buf_init(&b, SUBST_MAX_BYTES);
    const char *p = text;
    int rc = KEEL_OK;
    while (rc == KEEL_OK && *p != '\0') {
        const char *open = strstr(p, "${");
        if (open == NULL) {
            rc = buf_add(r, n, &b, p, strlen(p));
            break;
        }
        const char *name = open + 2;
        const char *close = strchr(name, '}');
        /* Only ${params.…}, ${item} and ${item.…}: ${items[@]} is the shell's. */
        bool ours = strncmp(name, "params.", 7) == 0 ||
                    (strncmp(name, "item", 4) == 0 && (name[4] == '}' || name[4] == '.'));
        if (!ours || close == NULL) {
            if (ours)
                rc = fail_at(r, n, "unterminated '${' in \"%s\"", text);
            else
                rc = buf_add(r, n, &b, p, (size_t)(name - p));
            p = name;
            continue;
        }
        rc = buf_add(r, n, &b, p, (size_t)(open - p));
        const char *value = NULL;
        size_t len = (size_t)(close - name);
        if (strncmp(name, "params.", 7) == 0) {
            value = kv_find(sc->step_params, sc->n_step_params, name + 7, len - 7);
            for (size_t i = 0; value == NULL && i < sc->n_pipe_params; i++)
                if (strlen(sc->pipe_params[i].key) == len - 7 &&
                    memcmp(sc->pipe_params[i].key, name + 7, len - 7) == 0) {
                    value = sc->pipe_params[i].value;
                    note_param(r, sc, &sc->pipe_params[i]);
                }
        } else if (len == 4) {
            value = sc->item;
        } else if (name[4] == '.') {
            value = kv_find(sc->matrix, sc->n_matrix, name + 5, len - 5);
        }
        if (value == NULL && rc == KEEL_OK)
            rc = fail_at(r, n, "'${%.*s}' refers to nothing: %s", (int)len, name,
                         strncmp(name, "params.", 7) == 0 ? "no such step or pipeline param"
                         : sc->item == NULL && sc->matrix == NULL
                             ? "the step has no foreach"
                             : "no such foreach item key");
        if (rc == KEEL_OK)
            rc = buf_add(r, n, &b, value, strlen(value));
        p = close + 1;
    }
    if (rc == KEEL_OK)
        *out = keel_arena_strndup(&r->p->arena, b.data != NULL ? b.data : "", b.len);
    keel_buf_free(&b);
    return rc;
}

/* ---- one step, before expansion ---- */

enum step_key {
    SK_RUN, SK_USES, SK_NEEDS, SK_DEPS, SK_OUTS, SK_PARAMS, SK_ENV, SK_RETRIES, SK_BACKOFF,
    SK_TIMEOUT, SK_CACHE, SK_RESOURCES, SK_FOREACH, SK_DESC, SK_COUNT
};
static const char *const step_keys[SK_COUNT] = {
    "run", "uses", "needs", "deps", "outs", "params", "env", "retries", "backoff",
    "timeout", "cache", "resources", "foreach", "desc",
};

typedef struct raw_step {
    const yaml_node_t *name_node;
    const yaml_node_t *field[SK_COUNT];
} raw_step;

/* A list of strings (a single scalar counts as a one-item list). */
static int string_list(reader *r, const yaml_node_t *n, const char *what, const scope *sc,
                       const char ***out, size_t *out_n)
{
    *out = NULL;
    *out_n = 0;
    if (n == NULL)
        return KEEL_OK;
    if (n->type == YAML_MAPPING_NODE)
        return fail_at(r, n, "%s must be a list of strings", what);
    size_t count = n->type == YAML_SCALAR_NODE ? 1
                   : (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    const char **list = keel_arena_alloc(&r->p->arena, (count + 1) * sizeof *list);
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *item =
            n->type == YAML_SCALAR_NODE ? n : node(r, n->data.sequence.items.start[i]);
        const char *text = NULL;
        int rc = want_scalar(r, item, what, &text);
        if (rc == KEEL_OK && text[0] == '\0')
            rc = fail_at(r, item, "%s: empty entry", what);
        if (rc == KEEL_OK)
            rc = substitute(r, item, sc, text, &list[i]);
        if (rc != KEEL_OK)
            return rc;
    }
    *out = list;
    *out_n = count;
    return KEEL_OK;
}

/* A mapping of scalar → scalar, values substituted. */
static int string_map(reader *r, const yaml_node_t *n, const char *what, const scope *sc,
                      keel_kv **out, size_t *out_n)
{
    *out = NULL;
    *out_n = 0;
    if (n == NULL)
        return KEEL_OK;
    int rc = want_mapping(r, n, what);
    if (rc != KEEL_OK)
        return rc;
    size_t count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    keel_kv *kv = keel_arena_alloc(&r->p->arena, (count + 1) * sizeof *kv);
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *k = node(r, n->data.mapping.pairs.start[i].key);
        const yaml_node_t *v = node(r, n->data.mapping.pairs.start[i].value);
        const char *key = NULL, *value = NULL;
        rc = want_scalar(r, k, what, &key);
        if (rc == KEEL_OK && key[0] == '\0')
            rc = fail_at(r, k, "%s: empty key", what);
        for (size_t j = 0; rc == KEEL_OK && j < i; j++)
            if (strcmp(kv[j].key, key) == 0)
                rc = fail_at(r, k, "%s: '%s' appears twice", what, key);
        if (rc == KEEL_OK)
            rc = want_scalar(r, v, what, &value);
        if (rc == KEEL_OK && sc != NULL)
            rc = substitute(r, v, sc, value, &value);
        if (rc != KEEL_OK)
            return rc;
        kv[i].key = keel_arena_strdup(&r->p->arena, key);
        kv[i].value = sc != NULL ? value : keel_arena_strdup(&r->p->arena, value);
    }
    *out = kv;
    *out_n = count;
    return KEEL_OK;
}

static int read_resources(reader *r, const yaml_node_t *n, keel_pipeline_step *s)
{
    static const char *const keys[] = { "cpus", "memory", "gpus" };
    int rc = want_mapping(r, n, "resources");
    for (yaml_node_pair_t *pair = n->data.mapping.pairs.start;
         rc == KEEL_OK && pair < n->data.mapping.pairs.top; pair++) {
        const yaml_node_t *k = node(r, pair->key), *v = node(r, pair->value);
        size_t i = 0;
        long num = 0;
        rc = key_index(r, k, keys, 3, "resources", &i);
        if (rc != KEEL_OK)
            break;
        if (i == 0 && (rc = parse_int(r, v, "resources.cpus", 1, 4096, &num)) == KEEL_OK)
            s->cpus = (int)num;
        if (i == 1)
            rc = parse_memory(r, v, &s->memory_mb);
        if (i == 2 && (rc = parse_int(r, v, "resources.gpus", 0, 64, &num)) == KEEL_OK)
            s->gpus = (int)num;
    }
    return rc;
}

/* Where keel itself lives, so `uses:` steps run the same binary everywhere. */
static const char *keel_executable(keel_arena *a)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0)
        return "keel";
    path[n] = '\0';
    /* Tests and the fuzz target link the library into other programs. */
    const char *env = getenv("KEEL_BIN");
    if (env != NULL && env[0] != '\0' && strstr(path, "/keel") == NULL)
        return keel_arena_strdup(a, env);
    const char *base = strrchr(path, '/');
    if (base != NULL && strcmp(base + 1, "keel") != 0 && env != NULL && env[0] != '\0')
        return keel_arena_strdup(a, env);
    return keel_arena_strdup(a, path);
}

char *pipeline_shell_quote(keel_arena *a, const char *s)
{
    size_t extra = 2;
    for (const char *p = s; *p; p++)
        extra += *p == '\'' ? 3 : 0;
    char *q = keel_arena_alloc(a, strlen(s) + extra + 1), *w = q;
    *w++ = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'') {
            memcpy(w, "'\\''", 4);
            w += 4;
        } else {
            *w++ = *p;
        }
    }
    *w++ = '\'';
    *w = '\0';
    return q;
}

/* Builds one step instance from its raw fields within scope sc. */
static int build_step(reader *r, const raw_step *raw, const char *base, const char *instance,
                      scope *sc, keel_pipeline_step *s)
{
    keel_arena *a = &r->p->arena;
    const yaml_node_t *const *f = raw->field;
    memset(s, 0, sizeof *s);
    sc->step = s;
    s->name = instance;
    s->base = base;
    s->line = raw->name_node->start_mark.line + 1;
    s->column = raw->name_node->start_mark.column + 1;
    s->cache = true;
    s->backoff_s = 1;
    /* Step params first: they may use pipeline params and the item. */
    int rc = string_map(r, f[SK_PARAMS], "params", sc, &s->params, &s->n_params);
    sc->step_params = s->params;
    sc->n_step_params = s->n_params;
    if (rc != KEEL_OK)
        return rc;
    if ((f[SK_RUN] == NULL) == (f[SK_USES] == NULL))
        return fail_at(r, raw->name_node, "step '%s' needs exactly one of 'run' or 'uses'",
                       s->base);
    const yaml_node_t *cmd = f[SK_RUN] != NULL ? f[SK_RUN] : f[SK_USES];
    const char *text = NULL;
    rc = want_scalar(r, cmd, f[SK_RUN] != NULL ? "run" : "uses", &text);
    if (rc == KEEL_OK && text[0] == '\0')
        rc = fail_at(r, cmd, "the command is empty");
    if (rc == KEEL_OK)
        rc = substitute(r, cmd, sc, text, &text);
    if (rc != KEEL_OK)
        return rc;
    if (f[SK_USES] != NULL) {
        s->uses = text;
        s->command = keel_arena_sprintf(a, "%s %s", pipeline_shell_quote(a, keel_executable(a)), text);
    } else {
        s->command = text;
    }
    if ((rc = string_list(r, f[SK_DEPS], "deps", sc, &s->deps, &s->n_deps)) != KEEL_OK ||
        (rc = string_list(r, f[SK_OUTS], "outs", sc, &s->outs, &s->n_outs)) != KEEL_OK ||
        (rc = string_map(r, f[SK_ENV], "env", sc, &s->env, &s->n_env)) != KEEL_OK)
        return rc;
    long num = 0;
    if (f[SK_RETRIES] != NULL) {
        if ((rc = parse_int(r, f[SK_RETRIES], "retries", 0, 100, &num)) != KEEL_OK)
            return rc;
        s->retries = (int)num;
    }
    if (f[SK_BACKOFF] != NULL &&
        (rc = parse_duration_node(r, f[SK_BACKOFF], "backoff", &s->backoff_s)) != KEEL_OK)
        return rc;
    if (f[SK_TIMEOUT] != NULL &&
        (rc = parse_duration_node(r, f[SK_TIMEOUT], "timeout", &s->timeout_s)) != KEEL_OK)
        return rc;
    if (f[SK_CACHE] != NULL && (rc = parse_bool(r, f[SK_CACHE], "cache", &s->cache)) != KEEL_OK)
        return rc;
    if (f[SK_RESOURCES] != NULL && (rc = read_resources(r, f[SK_RESOURCES], s)) != KEEL_OK)
        return rc;
    if (f[SK_DESC] != NULL && f[SK_DESC]->type != YAML_SCALAR_NODE)
        return fail_at(r, f[SK_DESC], "desc must be a string");
    return KEEL_OK;
}

/* ---- foreach ---- */

/* One expansion item: a list item or one combination of the matrix. */
typedef struct item {
    const char *label;          /* "a" or "depth=3,eta=0.1" */
    const char *value;          /* list item */
    keel_kv *matrix; size_t n_matrix;
} item;

static int scalar_items(reader *r, const yaml_node_t *seq, const char *what,
                        const char ***out, size_t *out_n)
{
    if (seq->type != YAML_SEQUENCE_NODE)
        return fail_at(r, seq, "%s must be a list", what);
    size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    if (n == 0)
        return fail_at(r, seq, "%s is empty", what);
    const char **v = keel_arena_alloc(&r->p->arena, n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        int rc = want_scalar(r, node(r, seq->data.sequence.items.start[i]), what, &v[i]);
        if (rc != KEEL_OK)
            return rc;
        v[i] = keel_arena_strdup(&r->p->arena, v[i]);
    }
    *out = v;
    *out_n = n;
    return KEEL_OK;
}

static int expand_foreach(reader *r, const yaml_node_t *n, item **out, size_t *out_n)
{
    keel_arena *a = &r->p->arena;
    if (n->type == YAML_SEQUENCE_NODE) {
        const char **values = NULL;
        size_t count = 0;
        int rc = scalar_items(r, n, "foreach", &values, &count);
        if (rc != KEEL_OK)
            return rc;
        item *items = keel_arena_alloc(a, count * sizeof *items);
        for (size_t i = 0; i < count; i++)
            items[i] = (item){ .label = values[i], .value = values[i] };
        *out = items;
        *out_n = count;
        return KEEL_OK;
    }
    const yaml_node_t *matrix = NULL;
    if (n->type == YAML_MAPPING_NODE && n->data.mapping.pairs.top - n->data.mapping.pairs.start == 1 &&
        keel_yaml_scalar(node(r, n->data.mapping.pairs.start[0].key)) != NULL &&
        strcmp(keel_yaml_scalar(node(r, n->data.mapping.pairs.start[0].key)), "matrix") == 0)
        matrix = node(r, n->data.mapping.pairs.start[0].value);
    if (matrix == NULL || matrix->type != YAML_MAPPING_NODE)
        return fail_at(r, n, "foreach must be a list, or a mapping with one key 'matrix' "
                             "mapping param names to lists");
    size_t n_axes = (size_t)(matrix->data.mapping.pairs.top - matrix->data.mapping.pairs.start);
    if (n_axes == 0)
        return fail_at(r, matrix, "foreach.matrix is empty");
    const char **names = keel_arena_alloc(a, n_axes * sizeof *names);
    const char ***values = keel_arena_alloc(a, n_axes * sizeof *values);
    size_t *sizes = keel_arena_alloc(a, n_axes * sizeof *sizes);
    size_t total = 1;
    for (size_t i = 0; i < n_axes; i++) {
        const yaml_node_t *k = node(r, matrix->data.mapping.pairs.start[i].key);
        int rc = want_scalar(r, k, "foreach.matrix key", &names[i]);
        names[i] = keel_arena_strdup(a, names[i] != NULL ? names[i] : "");
        if (rc == KEEL_OK)
            rc = scalar_items(r, node(r, matrix->data.mapping.pairs.start[i].value),
                              "foreach.matrix values", &values[i], &sizes[i]);
        if (rc != KEEL_OK)
            return rc;
        total *= sizes[i];
        if (total > SPEC_MAX_STEPS)
            return fail_at(r, matrix, "foreach.matrix has more than %d combinations",
                           SPEC_MAX_STEPS);
    }
    item *items = keel_arena_alloc(a, total * sizeof *items);
    for (size_t c = 0; c < total; c++) {
        item *it = &items[c];
        it->matrix = keel_arena_alloc(a, n_axes * sizeof *it->matrix);
        it->n_matrix = n_axes;
        char *label = keel_arena_strdup(a, "");
        size_t rest = c;
        /* The last axis varies fastest, as in the file's reading order. */
        for (size_t j = n_axes; j-- > 0;) {
            it->matrix[j] = (keel_kv){ names[j], values[j][rest % sizes[j]] };
            rest /= sizes[j];
        }
        for (size_t j = 0; j < n_axes; j++)
            label = keel_arena_sprintf(a, "%s%s%s=%s", label, j ? "," : "", names[j],
                                       it->matrix[j].value);
        it->label = label;
    }
    *out = items;
    *out_n = total;
    return KEEL_OK;
}

/* ---- the pipeline mapping ---- */

static int read_steps(reader *r, const yaml_node_t *steps)
{
    keel_pipeline *p = r->p;
    keel_arena *a = &p->arena;
    int rc = want_mapping(r, steps, "steps");
    if (rc != KEEL_OK)
        return rc;
    size_t n_raw = (size_t)(steps->data.mapping.pairs.top - steps->data.mapping.pairs.start);
    if (n_raw == 0)
        return fail_at(r, steps, "the pipeline has no steps");
    size_t cap = n_raw, n = 0;
    keel_pipeline_step *out = keel_arena_alloc(a, cap * sizeof *out);
    for (size_t si = 0; si < n_raw; si++) {
        raw_step raw = { .name_node = node(r, steps->data.mapping.pairs.start[si].key) };
        const yaml_node_t *body = node(r, steps->data.mapping.pairs.start[si].value);
        const char *name = keel_yaml_scalar(raw.name_node);
        if (name == NULL || name[0] == '\0' || strpbrk(name, "[]/ \t\n,=") != NULL)
            return fail_at(r, raw.name_node, "a step name must be a non-empty string without "
                                             "spaces, '/', ',', '=' or brackets");
        /* A name declared twice is caught by the graph pass's name table. */
        if ((rc = want_mapping(r, body, "a step")) != KEEL_OK)
            return rc;
        for (yaml_node_pair_t *pair = body->data.mapping.pairs.start;
             pair < body->data.mapping.pairs.top; pair++) {
            size_t k = 0;
            const yaml_node_t *kn = node(r, pair->key);
            if ((rc = key_index(r, kn, step_keys, SK_COUNT, "a step", &k)) != KEEL_OK)
                return rc;
            if (raw.field[k] != NULL)
                return fail_at(r, kn, "key '%s' appears twice", step_keys[k]);
            raw.field[k] = node(r, pair->value);
        }
        const char *base = keel_arena_strdup(a, name);
        item *items = NULL;
        size_t n_items = 1;
        if (raw.field[SK_FOREACH] != NULL &&
            (rc = expand_foreach(r, raw.field[SK_FOREACH], &items, &n_items)) != KEEL_OK)
            return rc;
        if (n + n_items > SPEC_MAX_STEPS)
            return fail_at(r, raw.name_node, "more than %d steps", SPEC_MAX_STEPS);
        if (n + n_items > cap) {
            size_t new_cap = (n + n_items) * 2;
            keel_pipeline_step *grown = keel_arena_alloc(a, new_cap * sizeof *grown);
            memcpy(grown, out, n * sizeof *out);
            out = grown;
            cap = new_cap;
        }
        for (size_t i = 0; i < n_items; i++) {
            scope sc = { .pipe_params = p->params, .n_pipe_params = p->n_params };
            const char *instance = base;
            if (items != NULL) {
                sc.item = items[i].value;
                sc.matrix = items[i].matrix;
                sc.n_matrix = items[i].n_matrix;
                instance = keel_arena_sprintf(a, "%s[%s]", name, items[i].label);
            }
            keel_pipeline_step *s = &out[n++];
            if ((rc = build_step(r, &raw, base, instance, &sc, s)) != KEEL_OK)
                return rc;
            /* needs are names: kept raw here, resolved by the graph pass. */
            if ((rc = string_list(r, raw.field[SK_NEEDS], "needs", &sc, &s->need_names,
                                  &s->n_need_names)) != KEEL_OK)
                return rc;
        }
    }
    p->steps = out;
    p->n_steps = n;
    return KEEL_OK;
}

static int apply_overrides(reader *r, const yaml_node_t *where, const keel_kv *overrides,
                           size_t n_overrides)
{
    keel_pipeline *p = r->p;
    for (size_t i = 0; i < n_overrides; i++) {
        size_t j = 0;
        while (j < p->n_params && strcmp(p->params[j].key, overrides[i].key) != 0)
            j++;
        if (j == p->n_params)
            return keel_errf(r->err, KEEL_EINVAL,
                             "-p %s: pipeline '%s' (%s:%zu) declares no param '%s'",
                             overrides[i].key, p->name, r->file, where->start_mark.line + 1,
                             overrides[i].key);
        p->params[j].value = keel_arena_strdup(&p->arena, overrides[i].value);
    }
    return KEEL_OK;
}

enum pipe_key { PK_PIPELINE, PK_PARAMS, PK_SCHEDULE, PK_CATCHUP, PK_SLURM, PK_STEPS, PK_COUNT };
static const char *const pipe_keys[PK_COUNT] = { "pipeline", "params", "schedule", "catchup",
                                                 "slurm", "steps" };

static int read_pipeline(reader *r, const yaml_node_t *map, const char *name,
                         const keel_kv *overrides, size_t n_overrides)
{
    keel_pipeline *p = r->p;
    const yaml_node_t *field[PK_COUNT] = { NULL };
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
         pair < map->data.mapping.pairs.top; pair++) {
        size_t k = 0;
        const yaml_node_t *kn = node(r, pair->key);
        int rc = key_index(r, kn, pipe_keys, PK_COUNT, "a pipeline", &k);
        if (rc != KEEL_OK)
            return rc;
        if (field[k] != NULL)
            return fail_at(r, kn, "key '%s' appears twice", pipe_keys[k]);
        field[k] = node(r, pair->value);
    }
    int rc = KEEL_OK;
    if (name == NULL && field[PK_PIPELINE] != NULL &&
        (rc = want_scalar(r, field[PK_PIPELINE], "pipeline", &name)) != KEEL_OK)
        return rc;
    if (name == NULL)
        return fail_at(r, map, "the pipeline needs a name ('pipeline: NAME')");
    if (name[0] == '\0' || strpbrk(name, "/ \t\n") != NULL)
        return fail_at(r, field[PK_PIPELINE] != NULL ? field[PK_PIPELINE] : map,
                       "a pipeline name must be non-empty, without spaces or '/'");
    p->name = keel_arena_strdup(&p->arena, name);
    if ((rc = string_map(r, field[PK_PARAMS], "params", NULL, &p->params, &p->n_params)) !=
            KEEL_OK ||
        (rc = apply_overrides(r, map, overrides, n_overrides)) != KEEL_OK)
        return rc;
    if (field[PK_SCHEDULE] != NULL &&
        (rc = want_scalar(r, field[PK_SCHEDULE], "schedule", &p->schedule)) != KEEL_OK)
        return rc;
    if (p->schedule != NULL)
        p->schedule = keel_arena_strdup(&p->arena, p->schedule);
    if (p->schedule != NULL) {
        keel_cron cron;
        keel_err cron_err;
        if (keel_cron_parse(p->schedule, &cron, &cron_err) != KEEL_OK)
            return fail_at(r, field[PK_SCHEDULE], "%s", cron_err.msg);
    }
    if (field[PK_CATCHUP] != NULL &&
        (rc = parse_bool(r, field[PK_CATCHUP], "catchup", &p->catchup)) != KEEL_OK)
        return rc;
    if (field[PK_SLURM] != NULL) {
        keel_kv *kv = NULL;
        size_t n = 0;
        if ((rc = string_map(r, field[PK_SLURM], "slurm", NULL, &kv, &n)) != KEEL_OK)
            return rc;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(kv[i].key, "partition") == 0)
                p->partition = kv[i].value;
            else if (strcmp(kv[i].key, "account") == 0)
                p->account = kv[i].value;
            else
                return fail_at(r, field[PK_SLURM],
                               "unknown key '%s' in slurm (allowed: partition, account)",
                               kv[i].key);
        }
    }
    if (field[PK_STEPS] == NULL)
        return fail_at(r, map, "pipeline '%s' has no 'steps'", p->name);
    return read_steps(r, field[PK_STEPS]);
}

/* Finds the pipeline mapping: the document itself, or pipelines.NAME. */
static int find_pipeline(reader *r, const yaml_node_t *root, const char *name,
                         const yaml_node_t **out_map, const char **out_name)
{
    const yaml_node_t *pipelines = NULL;
    for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
         pair < root->data.mapping.pairs.top; pair++) {
        const char *key = keel_yaml_scalar(node(r, pair->key));
        if (key != NULL && strcmp(key, "pipelines") == 0)
            pipelines = node(r, pair->value);
    }
    if (pipelines == NULL) {
        *out_map = root;
        *out_name = NULL;
        if (name != NULL) {
            for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
                 pair < root->data.mapping.pairs.top; pair++) {
                const char *key = keel_yaml_scalar(node(r, pair->key));
                const char *value = keel_yaml_scalar(node(r, pair->value));
                if (key != NULL && strcmp(key, "pipeline") == 0 && value != NULL &&
                    strcmp(value, name) != 0)
                    return keel_errf(r->err, KEEL_ENOTFOUND, "%s: no pipeline '%s' (it has '%s')",
                                     r->file, name, value);
            }
        }
        return KEEL_OK;
    }
    if (root->data.mapping.pairs.top - root->data.mapping.pairs.start != 1)
        return fail_at(r, root, "a file with 'pipelines:' must have no other top-level keys");
    int rc = want_mapping(r, pipelines, "pipelines");
    if (rc != KEEL_OK)
        return rc;
    size_t count = (size_t)(pipelines->data.mapping.pairs.top - pipelines->data.mapping.pairs.start);
    if (count == 0)
        return fail_at(r, pipelines, "'pipelines' is empty");
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *k = node(r, pipelines->data.mapping.pairs.start[i].key);
        const yaml_node_t *v = node(r, pipelines->data.mapping.pairs.start[i].value);
        if ((rc = want_mapping(r, v, "a pipeline")) != KEEL_OK)
            return rc;
        if ((name == NULL && count == 1) || (name != NULL && keel_yaml_scalar(k) != NULL &&
                                             strcmp(keel_yaml_scalar(k), name) == 0)) {
            *out_map = v;
            *out_name = keel_yaml_scalar(k);
            return KEEL_OK;
        }
    }
    if (name == NULL)
        return keel_errf(r->err, KEEL_EINVAL, "%s declares %zu pipelines: name one", r->file,
                         count);
    return keel_errf(r->err, KEEL_ENOTFOUND, "%s: no pipeline '%s'", r->file, name);
}

static int load_document(const char *path, const char *text, size_t len, yaml_document_t *doc,
                         keel_err *err)
{
    int rc = keel_yaml_parse(path, text, len, SPEC_MAX_BYTES, doc, err);
    if (rc == KEEL_OK && (yaml_document_get_root_node(doc) == NULL ||
                          yaml_document_get_root_node(doc)->type != YAML_MAPPING_NODE)) {
        yaml_document_delete(doc);
        rc = keel_errf(err, KEEL_EINVAL, "%s: expected a mapping with 'pipeline' and 'steps' "
                                         "(or 'pipelines')", path);
    }
    return rc;
}


int keel_pipeline_parse(const char *path, const char *text, size_t len, const char *name,
                        const keel_kv *overrides, size_t n_overrides, keel_pipeline **out,
                        keel_err *err)
{
    if (path == NULL || text == NULL || out == NULL)
        return keel_errf(err, KEEL_EINVAL, "keel_pipeline_parse: NULL argument");
    *out = NULL;
    yaml_document_t doc;
    int rc = load_document(path, text, len, &doc, err);
    if (rc != KEEL_OK)
        return rc;
    keel_pipeline *p = calloc(1, sizeof *p);
    if (p == NULL) {
        yaml_document_delete(&doc);
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    }
    keel_arena_init(&p->arena, 0);
    p->file = keel_arena_strdup(&p->arena, path);
    p->dir = keel_path_dir_absolute(&p->arena, path);
    reader r = { .file = path, .doc = &doc, .p = p, .err = err };
    const yaml_node_t *map = NULL;
    const char *map_name = NULL;
    rc = find_pipeline(&r, yaml_document_get_root_node(&doc), name, &map, &map_name);
    if (rc == KEEL_OK)
        rc = read_pipeline(&r, map, map_name, overrides, n_overrides);
    if (rc == KEEL_OK)
        rc = keel_pipeline_graph(p, err);
    yaml_document_delete(&doc);
    if (rc != KEEL_OK) {
        keel_pipeline_free(p);
        return rc;
    }
    *out = p;
    return KEEL_OK;
}

int keel_pipeline_load(const char *path, const char *name, const keel_kv *overrides,
                       size_t n_overrides, keel_pipeline **out, keel_err *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = keel_read_file(path, SPEC_MAX_BYTES, &text, &len, err);
    if (rc != KEEL_OK)
        return rc;
    rc = keel_pipeline_parse(path, text, len, name, overrides, n_overrides, out, err);
    free(text);
    return rc;
}

int keel_pipeline_names(const char *path, keel_arena *a, const char ***out_names, size_t *out_n,
                        keel_err *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = keel_read_file(path, SPEC_MAX_BYTES, &text, &len, err);
    if (rc != KEEL_OK)
        return rc;
    yaml_document_t doc;
    rc = load_document(path, text, len, &doc, err);
    free(text);
    if (rc != KEEL_OK)
        return rc;
    keel_pipeline scratch = { 0 };
    reader r = { .file = path, .doc = &doc, .p = &scratch, .err = err };
    const yaml_node_t *root = yaml_document_get_root_node(&doc);
    /* One array for every name: a file may hold both forms, or a key twice
     * (libyaml allows that; keel_pipeline_load then rejects the file). */
    size_t cap = 1, n = 0;
    for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
         pair < root->data.mapping.pairs.top; pair++) {
        const yaml_node_t *v = node(&r, pair->value);
        cap += v->type == YAML_MAPPING_NODE
                   ? (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start) : 1;
    }
    const char **names = keel_arena_alloc(a, cap * sizeof *names);
    for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
         pair < root->data.mapping.pairs.top; pair++) {
        const char *key = keel_yaml_scalar(node(&r, pair->key));
        const yaml_node_t *v = node(&r, pair->value);
        if (key != NULL && strcmp(key, "pipeline") == 0 && keel_yaml_scalar(v) != NULL) {
            names[n++] = keel_arena_strdup(a, keel_yaml_scalar(v));
        } else if (key != NULL && strcmp(key, "pipelines") == 0 && v->type == YAML_MAPPING_NODE) {
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top;
                 q++)
                if (keel_yaml_scalar(node(&r, q->key)) != NULL)
                    names[n++] = keel_arena_strdup(a, keel_yaml_scalar(node(&r, q->key)));
        }
    }
    yaml_document_delete(&doc);
    *out_names = names;
    *out_n = n;
    return KEEL_OK;
}

void keel_pipeline_free(keel_pipeline *p)
{
    if (p == NULL)
        return;
    keel_arena_free(&p->arena);
    free(p);
}

long keel_pipeline_step_index(const keel_pipeline *p, const char *name)
{
    for (size_t i = 0; i < p->n_steps; i++)
        if (strcmp(p->steps[i].name, name) == 0)
            return (long)i;
    return -1;
}
