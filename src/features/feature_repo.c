/*
 * feature_repo.c — reading features.yaml (libyaml's document API) into a
 * keel_feature_repo: entities, sources, feature views and services, every
 * name resolved to an index, and the columns a CSV source must have checked
 * against its header. Every error is placed at file:line:column of the node
 * it is about. The format is in keel/features.h and docs/features.md.
 *
 * Invariants of a loaded repo: names are unique within each kind and no
 * service has a view's name (`keel features show NAME` takes either); every
 * index points into its array; a source has exactly one of path (absolute)
 * and dataset; a view has at least one entity and one feature, and no join
 * key comes from two of its entities; a service lists no feature twice.
 *
 * The sections may come in any order: they are gathered first, then read
 * entities, sources, views, services, so that each refers only to what is
 * already read.
 */
#include "core/yaml_doc.h"
#include "features_internal.h"


#include <keel/util.h>

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define NAME_MAX_BYTES   200
#define COLUMN_MAX_BYTES 1024
#define TTL_MAX_MS       (INT64_C(100) * 366 * 86400 * 1000)  /* a hundred years */

/* Bounds on what one file may declare: some checks are quadratic in these
 * counts, and YAML aliases can make a small file declare a lot. */
#define SECTION_MAX      4096                  /* entities, sources, views, services */
#define KEYS_MAX         16                    /* join keys of an entity, entities of a view */
#define VIEW_FEATURES_MAX KEEL_CSV_MAX_COLUMNS /* a source has no more columns */
#define SERVICE_MAX      4096                  /* features of a service */
#define TOTAL_MAX        100000                /* features of all views */
#define TOTAL_REFS_MAX   16384                 /* features of all services */

/* The public struct and the text it was read from; keel_feature_repo_free
 * frees the whole. */
typedef struct repo_with_text {
    keel_feature_repo repo;   /* first: the public pointer is this struct's address */
    const char *text;
    size_t len;
} repo_with_text;

typedef struct reader {
    const char *file;
    yaml_document_t *doc;
    keel_feature_repo *repo;
    size_t total_features, total_refs;  /* against TOTAL_MAX, TOTAL_REFS_MAX */
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

/* KEEL_ELIMIT at n unless count (of `what`) is at most max. */
static int within(reader *r, const yaml_node_t *n, size_t count, size_t max, const char *what)
{
    if (count <= max)
        return KEEL_OK;
    return keel_errf(r->err, KEEL_ELIMIT, "%s:%zu:%zu: %s: more than %zu", r->file,
                     n->start_mark.line + 1, n->start_mark.column + 1, what, max);
}

static int oom(reader *r)
{
    return keel_errf(r->err, KEEL_ENOMEM, "%s: out of memory", r->file);
}

static yaml_node_t *node(reader *r, int id)
{
    return yaml_document_get_node(r->doc, id);
}

static const char *node_kind(const yaml_node_t *n)
{
    return n->type == YAML_MAPPING_NODE ? "a mapping" : n->type == YAML_SEQUENCE_NODE ? "a list"
                                                                                     : "a string";
}

/* Looks a key up in a table of allowed keys; unknown keys are errors that
 * list what is allowed. */
static int key_index(reader *r, const yaml_node_t *k, const char *const *keys, size_t n_keys,
                     const char *where, size_t *out)
{
    return keel_yaml_key_index(r->err, r->file, k, keys, n_keys, where, out);
}

/* Reads a mapping's values into field[] by the key table (NULL when
 * absent), rejecting unknown keys and keys given twice. key_nodes may be
 * NULL. */
static int read_fields(reader *r, const yaml_node_t *map, const char *const *keys, size_t n_keys,
                       const char *where, const yaml_node_t **field,
                       const yaml_node_t **key_nodes)
{
    if (map->type != YAML_MAPPING_NODE)
        return fail_at(r, map, "%s must be a mapping, not %s", where, node_kind(map));
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
         pair < map->data.mapping.pairs.top; pair++) {
        const yaml_node_t *k = node(r, pair->key);
        size_t i = 0;
        int rc = key_index(r, k, keys, n_keys, where, &i);
        if (rc != KEEL_OK)
            return rc;
        if (field[i] != NULL)
            return fail_at(r, k, "key '%s' appears twice in %s", keys[i], where);
        field[i] = node(r, pair->value);
        if (key_nodes != NULL)
            key_nodes[i] = k;
    }
    return KEEL_OK;
}

/* A non-empty string value (copied into the repo's arena). */
static int text_value(reader *r, const yaml_node_t *n, const char *what, const char **out)
{
    const char *s = keel_yaml_scalar(n);
    if (s == NULL)
        return fail_at(r, n, "%s must be a string, not %s", what, node_kind(n));
    if (s[0] == '\0' || strlen(s) != n->data.scalar.length)
        return fail_at(r, n, "%s must be a non-empty string without NUL bytes", what);
    if ((*out = keel_arena_strdup(&r->repo->arena, s)) == NULL)
        return oom(r);
    return KEEL_OK;
}

/* Names of entities, sources, views and services appear in references
 * ("view:feature", comma-separated lists) and in output column names. */
static int read_name(reader *r, const yaml_node_t *n, const char *what, const char **out)
{
    const char *s = keel_yaml_scalar(n);
    bool ok = s != NULL && s[0] != '\0' && strlen(s) == n->data.scalar.length &&
              strlen(s) <= NAME_MAX_BYTES;
    for (const char *p = s; ok && *p != '\0'; p++)
        ok = (unsigned char)*p > 0x20 && *p != 0x7f && strchr(":,/@", *p) == NULL;
    if (!ok)
        return fail_at(r, n, "%s must be a non-empty string of at most %d bytes without spaces, "
                       "':', ',', '/' or '@'", what, NAME_MAX_BYTES);
    if ((*out = keel_arena_strdup(&r->repo->arena, s)) == NULL)
        return oom(r);
    return KEEL_OK;
}

/* Feature and join-key names are column names: anything but ',' (feature
 * lists are comma-separated), control characters and spaces at either end. */
static int read_column_name(reader *r, const yaml_node_t *n, const char *what, const char **out)
{
    const char *s = keel_yaml_scalar(n);
    size_t len = s != NULL ? strlen(s) : 0;
    bool ok = s != NULL && len > 0 && len == n->data.scalar.length && len <= COLUMN_MAX_BYTES &&
              s[0] != ' ' && s[len - 1] != ' ';
    for (const char *p = s; ok && *p != '\0'; p++)
        ok = (unsigned char)*p >= 0x20 && *p != 0x7f && *p != ',';
    if (!ok)
        return fail_at(r, n, "%s must be a non-empty column name without ',', control "
                       "characters or spaces at either end", what);
    if ((*out = keel_arena_strdup(&r->repo->arena, s)) == NULL)
        return oom(r);
    return KEEL_OK;
}

/* A section (entities, sources, …): a mapping of name → body. An empty
 * value (`feature_views:` with nothing under it) is an empty section. */
static int section(reader *r, const yaml_node_t *n, const char *what, yaml_node_pair_t **out,
                   size_t *out_n)
{
    *out = NULL;
    *out_n = 0;
    if (n == NULL)
        return KEEL_OK;
    const char *s = keel_yaml_scalar(n);
    if (s != NULL && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        (s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0))
        return KEEL_OK;
    if (n->type != YAML_MAPPING_NODE)
        return fail_at(r, n, "'%s' must be a mapping of names, not %s", what, node_kind(n));
    *out = n->data.mapping.pairs.start;
    *out_n = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    return within(r, n, *out_n, SECTION_MAX, what);
}

/* The items of a list; a single string counts as a one-item list. */
static size_t list_items(const yaml_node_t *n, const yaml_node_item_t **out)
{
    if (n->type != YAML_SEQUENCE_NODE) {
        *out = NULL;
        return 1;
    }
    *out = n->data.sequence.items.start;
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static const yaml_node_t *list_item(reader *r, const yaml_node_t *n,
                                    const yaml_node_item_t *items, size_t i)
{
    return items == NULL ? n : node(r, items[i]);
}

/* "a, b, c" of up to ~160 bytes of names, then "…". names points at the
 * first name of an array of n structs stride_bytes apart (NULL when n is 0). */
static void name_list(char *out, size_t size, const char *const *names, size_t stride_bytes,
                      size_t n)
{
    out[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = *(const char *const *)((const char *)names + i * stride_bytes);
        if (used > 160 || used + strlen(name) + 6 >= size) {
            snprintf(out + used, size - used, "%s…", i ? ", " : "");
            return;
        }
        used += (size_t)snprintf(out + used, size - used, "%s%s", i ? ", " : "", name);
    }
    if (n == 0)
        snprintf(out, size, "none declared");
}

typedef struct type_name {
    const char *name;
    enum keel_col_type type;
} type_name;

static const type_name feature_types[] = {
    { "int", KEEL_COL_INT }, { "float", KEEL_COL_FLOAT }, { "string", KEEL_COL_STRING },
    { "bool", KEEL_COL_BOOL },
};
/* Join keys are int or string: the types whose values compare exactly. */
static const type_name key_types[] = { { "int", KEEL_COL_INT }, { "string", KEEL_COL_STRING } };

static int read_type(reader *r, const yaml_node_t *n, const char *what, const type_name *types,
                     size_t n_types, enum keel_col_type *out)
{
    const char *s = keel_yaml_scalar(n);
    char allowed[64] = "";
    for (size_t i = 0; i < n_types; i++) {
        if (s != NULL && strcmp(s, types[i].name) == 0) {
            *out = types[i].type;
            return KEEL_OK;
        }
        snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s",
                 i ? ", " : "", types[i].name);
    }
    return fail_at(r, n, "%s: unknown type '%s' (allowed: %s)", what, s != NULL ? s : "?",
                   allowed);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool sorted_has(const char *const *sorted, size_t n, const char *name)
{
    return bsearch(&name, sorted, n, sizeof *sorted, cmp_names) != NULL;
}

/* ---- entities ---- */

static int read_join_keys(reader *r, keel_entity *e, const yaml_node_t *n)
{
    if (n->type != YAML_MAPPING_NODE)
        return fail_at(r, n, "join_keys of entity '%s' must be a mapping of column: type "
                       "(int or string), not %s", e->name, node_kind(n));
    size_t count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (count == 0)
        return fail_at(r, n, "entity '%s' has no join keys", e->name);
    int rc = within(r, n, count, KEYS_MAX, "join keys");
    if (rc != KEEL_OK)
        return rc;
    keel_arena *a = &r->repo->arena;
    e->join_keys = keel_arena_alloc(a, count * sizeof *e->join_keys);
    e->key_types = keel_arena_alloc(a, count * sizeof *e->key_types);
    if (e->join_keys == NULL || e->key_types == NULL)
        return oom(r);
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *k = node(r, n->data.mapping.pairs.start[i].key);
        const yaml_node_t *v = node(r, n->data.mapping.pairs.start[i].value);
        rc = read_column_name(r, k, "a join key", &e->join_keys[i]);
        for (size_t j = 0; rc == KEEL_OK && j < i; j++)
            if (strcmp(e->join_keys[j], e->join_keys[i]) == 0)
                rc = fail_at(r, k, "entity '%s': join key '%s' appears twice", e->name,
                             e->join_keys[i]);
        char what[COLUMN_MAX_BYTES + 64];
        if (rc == KEEL_OK) {
            snprintf(what, sizeof what, "join key '%s' of entity '%s'", e->join_keys[i],
                     e->name);
            rc = read_type(r, v, what, key_types, sizeof key_types / sizeof key_types[0],
                           &e->key_types[i]);
        }
        if (rc != KEEL_OK)
            return rc;
    }
    e->n_join_keys = count;
    return KEEL_OK;
}

static const char *const entity_keys[] = { "join_keys" };

static int read_entities(reader *r, const yaml_node_t *sec)
{
    keel_feature_repo *repo = r->repo;
    yaml_node_pair_t *pairs;
    size_t n;
    int rc = section(r, sec, "entities", &pairs, &n);
    if (rc != KEEL_OK)
        return rc;
    repo->entities = keel_arena_alloc(&repo->arena, (n + 1) * sizeof *repo->entities);
    if (repo->entities == NULL)
        return oom(r);
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *k = node(r, pairs[i].key), *v = node(r, pairs[i].value);
        keel_entity *e = &repo->entities[i];
        if ((rc = read_name(r, k, "an entity name", &e->name)) != KEEL_OK)
            return rc;
        long dup = feature_entity_index(repo, e->name);
        if (dup >= 0)
            return fail_at(r, k, "entity '%s' is declared twice (first at line %zu)", e->name,
                           repo->entities[dup].line);
        e->line = k->start_mark.line + 1;
        e->column = k->start_mark.column + 1;
        const yaml_node_t *field[1] = { NULL };
        char where[NAME_MAX_BYTES + 16];
        snprintf(where, sizeof where, "entity '%s'", e->name);
        if ((rc = read_fields(r, v, entity_keys, 1, where, field, NULL)) != KEEL_OK)
            return rc;
        if (field[0] == NULL)
            return fail_at(r, k, "entity '%s' needs join_keys (column: type)", e->name);
        if ((rc = read_join_keys(r, e, field[0])) != KEEL_OK)
            return rc;
        repo->n_entities = i + 1;
    }
    return KEEL_OK;
}

/* ---- sources ---- */

/* "NAME" or "NAME@V" with V from 1, as keel_dataset_get takes it. */
static bool dataset_ref_ok(const char *s)
{
    const char *at = strchr(s, '@');
    size_t name_len = at != NULL ? (size_t)(at - s) : strlen(s);
    if (name_len == 0 || name_len > NAME_MAX_BYTES || memchr(s, '/', name_len) != NULL)
        return false;
    if (at == NULL)
        return true;
    const char *v = at + 1;
    if (*v < '1' || *v > '9' || strlen(v) > 18)
        return false;
    for (; *v != '\0'; v++)
        if (*v < '0' || *v > '9')
            return false;
    return true;
}

enum source_key { SRC_PATH, SRC_DATASET, SRC_TIMESTAMP, SRC_CREATED, SRC_COUNT };
static const char *const source_keys[SRC_COUNT] = { "path", "dataset", "timestamp",
                                                    "created_timestamp" };

static int read_source(reader *r, const yaml_node_t *k, const yaml_node_t *v,
                       keel_feature_source *s)
{
    const yaml_node_t *field[SRC_COUNT] = { NULL }, *keys[SRC_COUNT] = { NULL };
    char where[NAME_MAX_BYTES + 16];
    snprintf(where, sizeof where, "source '%s'", s->name);
    int rc = read_fields(r, v, source_keys, SRC_COUNT, where, field, keys);
    if (rc != KEEL_OK)
        return rc;
    if (field[SRC_PATH] == NULL && field[SRC_DATASET] == NULL)
        return fail_at(r, k, "source '%s' needs a path (a CSV file) or a dataset "
                       "(NAME[@VERSION])", s->name);
    if (field[SRC_PATH] != NULL && field[SRC_DATASET] != NULL)
        return fail_at(r, keys[SRC_DATASET], "source '%s' has both a path and a dataset: give "
                       "one", s->name);
    if (field[SRC_PATH] != NULL) {
        const char *path = NULL;
        if ((rc = text_value(r, field[SRC_PATH], "path", &path)) != KEEL_OK)
            return rc;
        if ((s->path = keel_path_join_absolute(&r->repo->arena, r->repo->dir, path)) == NULL)
            return oom(r);
    } else {
        if ((rc = text_value(r, field[SRC_DATASET], "dataset", &s->dataset)) != KEEL_OK)
            return rc;
        if (!dataset_ref_ok(s->dataset))
            return fail_at(r, field[SRC_DATASET], "dataset must be NAME or NAME@VERSION "
                           "(a version from 1), not '%s'", s->dataset);
    }
    if (field[SRC_TIMESTAMP] == NULL)
        return fail_at(r, k, "source '%s' needs a timestamp (its event-time column)", s->name);
    if ((rc = read_column_name(r, field[SRC_TIMESTAMP], "timestamp", &s->timestamp)) != KEEL_OK)
        return rc;
    if (field[SRC_CREATED] != NULL) {
        if ((rc = read_column_name(r, field[SRC_CREATED], "created_timestamp",
                                   &s->created_timestamp)) != KEEL_OK)
            return rc;
        if (strcmp(s->created_timestamp, s->timestamp) == 0)
            return fail_at(r, field[SRC_CREATED], "source '%s': created_timestamp must be "
                           "another column than timestamp", s->name);
    }
    return KEEL_OK;
}

static int read_sources(reader *r, const yaml_node_t *sec)
{
    keel_feature_repo *repo = r->repo;
    yaml_node_pair_t *pairs;
    size_t n;
    int rc = section(r, sec, "sources", &pairs, &n);
    if (rc != KEEL_OK)
        return rc;
    repo->sources = keel_arena_alloc(&repo->arena, (n + 1) * sizeof *repo->sources);
    if (repo->sources == NULL)
        return oom(r);
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *k = node(r, pairs[i].key), *v = node(r, pairs[i].value);
        keel_feature_source *s = &repo->sources[i];
        if ((rc = read_name(r, k, "a source name", &s->name)) != KEEL_OK)
            return rc;
        long dup = feature_source_index(repo, s->name);
        if (dup >= 0)
            return fail_at(r, k, "source '%s' is declared twice (first at line %zu)", s->name,
                           repo->sources[dup].line);
        s->line = k->start_mark.line + 1;
        s->column = k->start_mark.column + 1;
        if ((rc = read_source(r, k, v, s)) != KEEL_OK)
            return rc;
        repo->n_sources = i + 1;
    }
    return KEEL_OK;
}

/* ---- feature views ---- */

static int read_view_entities(reader *r, keel_feature_view *fv, const yaml_node_t *n)
{
    keel_feature_repo *repo = r->repo;
    if (n->type == YAML_MAPPING_NODE)
        return fail_at(r, n, "entities of feature view '%s' must be a list of entity names",
                       fv->name);
    const yaml_node_item_t *items;
    size_t count = list_items(n, &items);
    if (count == 0)
        return fail_at(r, n, "feature view '%s' needs at least one entity", fv->name);
    int rc = within(r, n, count, KEYS_MAX, "entities");
    if (rc != KEEL_OK)
        return rc;
    if ((fv->entities = keel_arena_alloc(&repo->arena, count * sizeof *fv->entities)) == NULL)
        return oom(r);
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *item = list_item(r, n, items, i);
        const char *name = keel_yaml_scalar(item);
        if (name == NULL)
            return fail_at(r, item, "feature view '%s': an entity is a name, not %s", fv->name,
                           node_kind(item));
        long e = feature_entity_index(repo, name);
        if (e < 0) {
            char known[256];
            name_list(known, sizeof known, repo->n_entities ? &repo->entities[0].name : NULL,
                      sizeof *repo->entities, repo->n_entities);
            return fail_at(r, item, "feature view '%s': no entity '%s' (entities: %s)", fv->name,
                           name, known);
        }
        for (size_t j = 0; j < i; j++) {
            if (fv->entities[j] == (size_t)e)
                return fail_at(r, item, "feature view '%s' lists entity '%s' twice", fv->name,
                               name);
            /* Two entities sharing a join key would make a label row's value
             * for that column mean two things. */
            const keel_entity *a = &repo->entities[fv->entities[j]], *b = &repo->entities[e];
            for (size_t x = 0; x < a->n_join_keys; x++)
                for (size_t y = 0; y < b->n_join_keys; y++)
                    if (strcmp(a->join_keys[x], b->join_keys[y]) == 0)
                        return fail_at(r, item, "feature view '%s': join key '%s' is in both "
                                       "entity '%s' and entity '%s'", fv->name,
                                       a->join_keys[x], a->name, b->name);
        }
        fv->entities[i] = (size_t)e;
    }
    fv->n_entities = count;
    return KEEL_OK;
}

static int read_view_features(reader *r, keel_feature_view *fv, const yaml_node_t *n)
{
    if (n->type != YAML_MAPPING_NODE)
        return fail_at(r, n, "features of feature view '%s' must be a mapping of column: type "
                       "(int, float, string, bool), not %s", fv->name, node_kind(n));
    size_t count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (count == 0)
        return fail_at(r, n, "feature view '%s' has no features", fv->name);
    r->total_features += count;
    int rc = within(r, n, count, VIEW_FEATURES_MAX, "features");
    if (rc == KEEL_OK)
        rc = within(r, n, r->total_features, TOTAL_MAX, "features in all views");
    if (rc != KEEL_OK)
        return rc;
    if ((fv->features = keel_arena_alloc(&r->repo->arena, count * sizeof *fv->features)) == NULL)
        return oom(r);
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *k = node(r, n->data.mapping.pairs.start[i].key);
        const yaml_node_t *v = node(r, n->data.mapping.pairs.start[i].value);
        keel_feature *f = &fv->features[i];
        char what[COLUMN_MAX_BYTES + 64];
        rc = read_column_name(r, k, "a feature name", &f->name);
        if (rc == KEEL_OK) {
            snprintf(what, sizeof what, "feature '%s'", f->name);
            rc = read_type(r, v, what, feature_types,
                           sizeof feature_types / sizeof feature_types[0], &f->type);
        }
        if (rc != KEEL_OK)
            return rc;
    }
    /* Sorted, so that a view of thousands of features is checked quickly. */
    const char **names = malloc(count * sizeof *names);
    if (names == NULL)
        return oom(r);
    for (size_t i = 0; i < count; i++)
        names[i] = fv->features[i].name;
    qsort(names, count, sizeof *names, cmp_names);
    const char *dup = NULL;
    for (size_t i = 1; i < count && dup == NULL; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            dup = names[i];
    free(names);
    if (dup != NULL) {
        /* Report the name's second place in the file. */
        size_t seen = 0, i = 0;
        while (i < count && (strcmp(fv->features[i].name, dup) != 0 || ++seen < 2))
            i++;
        return fail_at(r, node(r, n->data.mapping.pairs.start[i].key),
                       "feature view '%s': feature '%s' appears twice", fv->name, dup);
    }
    fv->n_features = count;
    return KEEL_OK;
}

static int read_ttl(reader *r, const yaml_node_t *n, int64_t *out)
{
    double seconds = 0;
    if (keel_parse_duration(keel_yaml_scalar(n), &seconds) != KEEL_OK)
        return fail_at(r, n, "ttl must be a duration such as 30s, 15m, 3h or 7d (0 = values "
                       "never expire)");
    double ms = seconds * 1000;
    if (ms > (double)TTL_MAX_MS)
        return fail_at(r, n, "ttl must be at most a hundred years (0 = values never expire)");
    if (ms > 0 && ms < 1)
        return fail_at(r, n, "ttl must be at least 1ms (0 = values never expire)");
    *out = llround(ms);
    return KEEL_OK;
}

static int read_bool(reader *r, const yaml_node_t *n, const char *what, bool *out)
{
    static const char *const yes[] = { "true", "True", "TRUE", "yes", "on" };
    static const char *const no[] = { "false", "False", "FALSE", "no", "off" };
    const char *s = keel_yaml_scalar(n);
    for (size_t i = 0; s != NULL && i < sizeof yes / sizeof yes[0]; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return KEEL_OK;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return KEEL_OK;
        }
    }
    return fail_at(r, n, "%s must be true or false", what);
}

enum view_key { VK_ENTITIES, VK_SOURCE, VK_TTL, VK_ONLINE, VK_FEATURES, VK_COUNT };
static const char *const view_keys[VK_COUNT] = { "entities", "source", "ttl", "online",
                                                 "features" };

static int read_view(reader *r, const yaml_node_t *k, const yaml_node_t *v,
                     keel_feature_view *fv)
{
    keel_feature_repo *repo = r->repo;
    const yaml_node_t *field[VK_COUNT] = { NULL };
    char where[NAME_MAX_BYTES + 24];
    snprintf(where, sizeof where, "feature view '%s'", fv->name);
    int rc = read_fields(r, v, view_keys, VK_COUNT, where, field, NULL);
    if (rc != KEEL_OK)
        return rc;
    if (field[VK_ENTITIES] == NULL)
        return fail_at(r, k, "feature view '%s' needs entities", fv->name);
    if ((rc = read_view_entities(r, fv, field[VK_ENTITIES])) != KEEL_OK)
        return rc;
    if (field[VK_SOURCE] == NULL)
        return fail_at(r, k, "feature view '%s' needs a source", fv->name);
    const char *source = keel_yaml_scalar(field[VK_SOURCE]);
    if (source == NULL)
        return fail_at(r, field[VK_SOURCE], "source of feature view '%s' must be a source name",
                       fv->name);
    long si = feature_source_index(repo, source);
    if (si < 0) {
        char known[256];
        name_list(known, sizeof known, repo->n_sources ? &repo->sources[0].name : NULL,
                  sizeof *repo->sources, repo->n_sources);
        return fail_at(r, field[VK_SOURCE], "feature view '%s': no source '%s' (sources: %s)",
                       fv->name, source, known);
    }
    fv->source = (size_t)si;
    if (field[VK_TTL] != NULL && (rc = read_ttl(r, field[VK_TTL], &fv->ttl_ms)) != KEEL_OK)
        return rc;
    if (field[VK_ONLINE] != NULL &&
        (rc = read_bool(r, field[VK_ONLINE], "online", &fv->online)) != KEEL_OK)
        return rc;
    if (field[VK_FEATURES] == NULL)
        return fail_at(r, k, "feature view '%s' needs features (column: type)", fv->name);
    return read_view_features(r, fv, field[VK_FEATURES]);
}

static int read_views(reader *r, const yaml_node_t *sec)
{
    keel_feature_repo *repo = r->repo;
    yaml_node_pair_t *pairs;
    size_t n;
    int rc = section(r, sec, "feature_views", &pairs, &n);
    if (rc != KEEL_OK)
        return rc;
    repo->views = keel_arena_alloc(&repo->arena, (n + 1) * sizeof *repo->views);
    if (repo->views == NULL)
        return oom(r);
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *k = node(r, pairs[i].key), *v = node(r, pairs[i].value);
        keel_feature_view *fv = &repo->views[i];
        if ((rc = read_name(r, k, "a feature view name", &fv->name)) != KEEL_OK)
            return rc;
        long dup = keel_feature_view_index(repo, fv->name);
        if (dup >= 0)
            return fail_at(r, k, "feature view '%s' is declared twice (first at line %zu)",
                           fv->name, repo->views[dup].line);
        fv->line = k->start_mark.line + 1;
        fv->column = k->start_mark.column + 1;
        if ((rc = read_view(r, k, v, fv)) != KEEL_OK)
            return rc;
        repo->n_views = i + 1;
    }
    return KEEL_OK;
}

/* ---- references and services ---- */

static long view_index_n(const keel_feature_repo *repo, const char *name, size_t len)
{
    for (size_t i = 0; i < repo->n_views; i++)
        if (strlen(repo->views[i].name) == len && memcmp(repo->views[i].name, name, len) == 0)
            return (long)i;
    return -1;
}

/* Resolves one "view:feature" in text[0..len) (spaces around it ignored).
 * On failure writes why into msg and returns KEEL_EINVAL (not a reference)
 * or KEEL_ENOTFOUND (no such view or feature). */
static int resolve_ref(const keel_feature_repo *repo, const char *text, size_t len,
                       keel_feature_ref *out, char *msg, size_t msg_size)
{
    while (len > 0 && (*text == ' ' || *text == '\t')) {
        text++;
        len--;
    }
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    const char *colon = memchr(text, ':', len);
    if (colon == NULL || colon == text || colon == text + len - 1) {
        snprintf(msg, msg_size, "'%.*s' is not a feature reference (view:feature)",
                 (int)(len > 200 ? 200 : len), text);
        return KEEL_EINVAL;
    }
    size_t view_len = (size_t)(colon - text);
    long vi = view_index_n(repo, text, view_len);
    if (vi < 0) {
        char known[256];
        name_list(known, sizeof known, repo->n_views ? &repo->views[0].name : NULL,
                  sizeof *repo->views, repo->n_views);
        snprintf(msg, msg_size, "no feature view '%.*s' (views: %s)",
                 (int)(view_len > 200 ? 200 : view_len), text, known);
        return KEEL_ENOTFOUND;
    }
    const keel_feature_view *fv = &repo->views[vi];
    const char *feature = colon + 1;
    size_t feature_len = len - view_len - 1;
    for (size_t i = 0; i < fv->n_features; i++)
        if (strlen(fv->features[i].name) == feature_len &&
            memcmp(fv->features[i].name, feature, feature_len) == 0) {
            out->view = (size_t)vi;
            out->feature = i;
            return KEEL_OK;
        }
    char known[256];
    name_list(known, sizeof known, fv->n_features ? &fv->features[0].name : NULL,
              sizeof *fv->features, fv->n_features);
    snprintf(msg, msg_size, "feature view '%s' has no feature '%.*s' (features: %s)", fv->name,
             (int)(feature_len > 200 ? 200 : feature_len), feature, known);
    return KEEL_ENOTFOUND;
}

static bool ref_listed(const keel_feature_ref *refs, size_t n, keel_feature_ref ref)
{
    for (size_t i = 0; i < n; i++)
        if (refs[i].view == ref.view && refs[i].feature == ref.feature)
            return true;
    return false;
}

static int read_service(reader *r, const yaml_node_t *n, keel_feature_service *svc)
{
    const keel_feature_repo *repo = r->repo;
    if (n->type == YAML_MAPPING_NODE)
        return fail_at(r, n, "feature service '%s' must be a list of view:feature", svc->name);
    const yaml_node_item_t *items;
    size_t count = list_items(n, &items);
    if (count == 0)
        return fail_at(r, n, "feature service '%s' has no features", svc->name);
    r->total_refs += count;
    int rc = within(r, n, count, SERVICE_MAX, "features");
    if (rc == KEEL_OK)
        rc = within(r, n, r->total_refs, TOTAL_REFS_MAX, "features in all services");
    if (rc != KEEL_OK)
        return rc;
    svc->features = keel_arena_alloc(&r->repo->arena, count * sizeof *svc->features);
    if (svc->features == NULL)
        return oom(r);
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *item = list_item(r, n, items, i);
        const char *text = keel_yaml_scalar(item);
        if (text == NULL)
            return fail_at(r, item, "feature service '%s': a feature is view:feature, not %s",
                           svc->name, node_kind(item));
        char msg[400];
        keel_feature_ref ref;
        if (resolve_ref(repo, text, item->data.scalar.length, &ref, msg, sizeof msg) != KEEL_OK)
            return fail_at(r, item, "feature service '%s': %s", svc->name, msg);
        if (ref_listed(svc->features, i, ref))
            return fail_at(r, item, "feature service '%s' lists %s:%s twice", svc->name,
                           repo->views[ref.view].name,
                           repo->views[ref.view].features[ref.feature].name);
        svc->features[i] = ref;
    }
    svc->n_features = count;
    return KEEL_OK;
}

static int read_services(reader *r, const yaml_node_t *sec)
{
    keel_feature_repo *repo = r->repo;
    yaml_node_pair_t *pairs;
    size_t n;
    int rc = section(r, sec, "feature_services", &pairs, &n);
    if (rc != KEEL_OK)
        return rc;
    repo->services = keel_arena_alloc(&repo->arena, (n + 1) * sizeof *repo->services);
    if (repo->services == NULL)
        return oom(r);
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *k = node(r, pairs[i].key), *v = node(r, pairs[i].value);
        keel_feature_service *svc = &repo->services[i];
        if ((rc = read_name(r, k, "a feature service name", &svc->name)) != KEEL_OK)
            return rc;
        long dup = keel_feature_service_index(repo, svc->name);
        if (dup >= 0)
            return fail_at(r, k, "feature service '%s' is declared twice (first at line %zu)",
                           svc->name, repo->services[dup].line);
        long view = keel_feature_view_index(repo, svc->name);
        if (view >= 0)
            return fail_at(r, k, "feature service '%s' has the name of the feature view at line "
                           "%zu: give it another", svc->name, repo->views[view].line);
        svc->line = k->start_mark.line + 1;
        svc->column = k->start_mark.column + 1;
        if ((rc = read_service(r, v, svc)) != KEEL_OK)
            return rc;
        repo->n_services = i + 1;
    }
    return KEEL_OK;
}

/* ---- columns of sources ---- */

int feature_source_check_columns(const keel_feature_repo *repo, size_t source,
                                 const char *const *columns, size_t n_columns, const char *where,
                                 keel_err *err)
{
    const keel_feature_source *s = &repo->sources[source];
    char have[256];
    name_list(have, sizeof have, columns, sizeof *columns, n_columns);
    const char **sorted = malloc((n_columns + 1) * sizeof *sorted);
    if (sorted == NULL)
        return keel_errf(err, KEEL_ENOMEM, "%s: out of memory", repo->file);
    if (n_columns > 0)
        memcpy(sorted, columns, n_columns * sizeof *sorted);
    qsort(sorted, n_columns, sizeof *sorted, cmp_names);
    int rc = KEEL_OK;
    const char *need[2] = { s->timestamp, s->created_timestamp };
    const char *role[2] = { "timestamp", "created_timestamp" };
    for (size_t i = 0; rc == KEEL_OK && i < 2; i++)
        if (need[i] != NULL && !sorted_has(sorted, n_columns, need[i]))
            rc = keel_errf(err, KEEL_EINVAL, "%s:%zu:%zu: source '%s': %s column '%s' is not "
                           "in %s (columns: %s)", repo->file, s->line, s->column, s->name,
                           role[i], need[i], where, have);
    for (size_t v = 0; rc == KEEL_OK && v < repo->n_views; v++) {
        const keel_feature_view *fv = &repo->views[v];
        if (fv->source != source)
            continue;
        for (size_t e = 0; rc == KEEL_OK && e < fv->n_entities; e++) {
            const keel_entity *ent = &repo->entities[fv->entities[e]];
            for (size_t k = 0; rc == KEEL_OK && k < ent->n_join_keys; k++)
                if (!sorted_has(sorted, n_columns, ent->join_keys[k]))
                    rc = keel_errf(err, KEEL_EINVAL, "%s:%zu:%zu: feature view '%s': join key "
                                   "'%s' (entity '%s') is not a column of source '%s' in %s "
                                   "(columns: %s)", repo->file, fv->line, fv->column, fv->name,
                                   ent->join_keys[k], ent->name, s->name, where, have);
        }
        for (size_t f = 0; rc == KEEL_OK && f < fv->n_features; f++)
            if (!sorted_has(sorted, n_columns, fv->features[f].name))
                rc = keel_errf(err, KEEL_EINVAL, "%s:%zu:%zu: feature view '%s': feature '%s' is "
                               "not a column of source '%s' in %s (columns: %s)", repo->file,
                               fv->line, fv->column, fv->name, fv->features[f].name, s->name,
                               where, have);
    }
    free(sorted);
    return rc;
}

/* Reads the header of each CSV source (only the header: a source may be
 * large) and checks the columns it must have. */
static int check_csv_sources(keel_feature_repo *repo, keel_err *err)
{
    for (size_t i = 0; i < repo->n_sources; i++) {
        const keel_feature_source *s = &repo->sources[i];
        if (s->path == NULL)
            continue;
        keel_csv_chunks *chunks = NULL;
        keel_frame *header = NULL;
        keel_err sub;
        keel_err_clear(&sub);
        /* A device or a pipe has no end to find a header line in. */
        struct stat st;
        int rc = stat(s->path, &st) == 0 && !S_ISREG(st.st_mode)
                     ? keel_errf(&sub, KEEL_EINVAL, "%s is not a regular file", s->path)
                     : KEEL_OK;
        if (rc == KEEL_OK)
            rc = keel_csv_chunks_open(s->path, 0, 0, &chunks, &sub);
        if (rc == KEEL_OK)
            rc = keel_csv_chunks_header(chunks, &header, &sub);
        keel_csv_chunks_close(chunks);
        if (rc == KEEL_OK && header->n_cols == 0)
            rc = keel_errf(&sub, KEEL_EINVAL, "%s: no header (the file is empty)", s->path);
        if (rc != KEEL_OK) {
            keel_frame_destroy(header);
            return keel_errf(err, rc, "%s:%zu:%zu: source '%s': %s", repo->file, s->line,
                             s->column, s->name, sub.msg);
        }
        const char **names = calloc(header->n_cols, sizeof *names);
        if (names == NULL) {
            keel_frame_destroy(header);
            return keel_errf(err, KEEL_ENOMEM, "%s: out of memory", repo->file);
        }
        for (size_t c = 0; c < header->n_cols; c++)
            names[c] = header->cols[c].name;
        rc = feature_source_check_columns(repo, i, names, header->n_cols, s->path, err);
        free(names);
        keel_frame_destroy(header);
        if (rc != KEEL_OK)
            return rc;
    }
    return KEEL_OK;
}

/* ---- the file ---- */

enum root_key { RK_PROJECT, RK_ENTITIES, RK_SOURCES, RK_VIEWS, RK_SERVICES, RK_COUNT };
static const char *const root_keys[RK_COUNT] = { "project", "entities", "sources",
                                                 "feature_views", "feature_services" };

static int read_root(reader *r, const yaml_node_t *root)
{
    const yaml_node_t *field[RK_COUNT] = { NULL };
    int rc = read_fields(r, root, root_keys, RK_COUNT, "features.yaml", field, NULL);
    if (rc != KEEL_OK)
        return rc;
    if (field[RK_PROJECT] == NULL)
        return fail_at(r, root, "features.yaml needs a project ('project: NAME')");
    if ((rc = read_name(r, field[RK_PROJECT], "project", &r->repo->project)) != KEEL_OK ||
        (rc = read_entities(r, field[RK_ENTITIES])) != KEEL_OK ||
        (rc = read_sources(r, field[RK_SOURCES])) != KEEL_OK ||
        (rc = read_views(r, field[RK_VIEWS])) != KEEL_OK)
        return rc;
    return read_services(r, field[RK_SERVICES]);
}

static int load_document(const char *path, const char *text, size_t len, yaml_document_t *doc,
                         keel_err *err)
{
    int rc = keel_yaml_parse(path, text, len, FEATURE_REPO_MAX_BYTES, doc, err);
    if (rc == KEEL_OK && yaml_document_get_root_node(doc) == NULL) {
        yaml_document_delete(doc);
        rc = keel_errf(err, KEEL_EINVAL, "%s: empty: expected a mapping with project, entities, "
                       "sources, feature_views", path);
    }
    return rc;
}


int feature_repo_parse_opts(const char *path, const char *text, size_t len, bool check_columns,
                            keel_feature_repo **out, keel_err *err)
{
    if (path == NULL || text == NULL || out == NULL)
        return keel_errf(err, KEEL_EINVAL, "keel_feature_repo_parse: NULL argument");
    *out = NULL;
    yaml_document_t doc;
    int rc = load_document(path, text, len, &doc, err);
    if (rc != KEEL_OK)
        return rc;
    repo_with_text *whole = calloc(1, sizeof *whole);
    if (whole == NULL) {
        yaml_document_delete(&doc);
        return keel_errf(err, KEEL_ENOMEM, "%s: out of memory", path);
    }
    keel_feature_repo *repo = &whole->repo;
    keel_arena_init(&repo->arena, 0);
    repo->file = keel_arena_strdup(&repo->arena, path);
    repo->dir = keel_path_dir_absolute(&repo->arena, path);
    whole->text = keel_arena_strndup(&repo->arena, text, len);
    whole->len = len;
    reader r = { .file = path, .doc = &doc, .repo = repo, .err = err };
    if (repo->file == NULL || repo->dir == NULL || whole->text == NULL)
        rc = oom(&r);
    if (rc == KEEL_OK)
        rc = keel_sha256_hex(text, len, repo->digest, err);
    if (rc == KEEL_OK)
        rc = read_root(&r, yaml_document_get_root_node(&doc));
    yaml_document_delete(&doc);
    if (rc == KEEL_OK && check_columns)
        rc = check_csv_sources(repo, err);
    if (rc != KEEL_OK) {
        keel_feature_repo_free(repo);
        return rc;
    }
    *out = repo;
    return KEEL_OK;
}

int keel_feature_repo_parse(const char *path, const char *text, size_t len,
                            keel_feature_repo **out, keel_err *err)
{
    return feature_repo_parse_opts(path, text, len, true, out, err);
}

int keel_feature_repo_load(const char *path, keel_feature_repo **out, keel_err *err)
{
    if (path == NULL || out == NULL)
        return keel_errf(err, KEEL_EINVAL, "keel_feature_repo_load: NULL argument");
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = keel_read_file(path, FEATURE_REPO_MAX_BYTES, &text, &len, err);
    if (rc != KEEL_OK)
        return rc;
    rc = keel_feature_repo_parse(path, text, len, out, err);
    free(text);
    return rc;
}

void keel_feature_repo_free(keel_feature_repo *repo)
{
    if (repo == NULL)
        return;
    keel_arena_free(&repo->arena);
    free((repo_with_text *)repo);
}

const char *feature_repo_text(const keel_feature_repo *repo, size_t *out_len)
{
    const repo_with_text *whole = (const repo_with_text *)repo;
    *out_len = whole->len;
    return whole->text;
}

/* ---- lookups ---- */

long keel_feature_view_index(const keel_feature_repo *repo, const char *name)
{
    for (size_t i = 0; repo != NULL && name != NULL && i < repo->n_views; i++)
        if (strcmp(repo->views[i].name, name) == 0)
            return (long)i;
    return -1;
}

long keel_feature_service_index(const keel_feature_repo *repo, const char *name)
{
    for (size_t i = 0; repo != NULL && name != NULL && i < repo->n_services; i++)
        if (strcmp(repo->services[i].name, name) == 0)
            return (long)i;
    return -1;
}

long feature_entity_index(const keel_feature_repo *repo, const char *name)
{
    for (size_t i = 0; repo != NULL && name != NULL && i < repo->n_entities; i++)
        if (strcmp(repo->entities[i].name, name) == 0)
            return (long)i;
    return -1;
}

long feature_source_index(const keel_feature_repo *repo, const char *name)
{
    for (size_t i = 0; repo != NULL && name != NULL && i < repo->n_sources; i++)
        if (strcmp(repo->sources[i].name, name) == 0)
            return (long)i;
    return -1;
}

int keel_feature_refs_parse(const keel_feature_repo *repo, const char *text, keel_arena *a,
                            keel_feature_ref **out, size_t *out_n, keel_err *err)
{
    if (repo == NULL || text == NULL || a == NULL || out == NULL || out_n == NULL)
        return keel_errf(err, KEEL_EINVAL, "keel_feature_refs_parse: NULL argument");
    *out = NULL;
    *out_n = 0;
    size_t cap = 1;
    for (const char *p = text; *p != '\0'; p++)
        cap += *p == ',';
    keel_feature_ref *refs = keel_arena_alloc(a, cap * sizeof *refs);
    if (refs == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    if (text[strspn(text, " \t")] == '\0')
        return keel_errf(err, KEEL_EINVAL, "no features given (view:feature, comma-separated)");
    size_t n = 0;
    for (const char *p = text;; p++) {
        size_t len = strcspn(p, ",");
        size_t blank = strspn(p, " \t");
        if (blank >= len)
            return keel_errf(err, KEEL_EINVAL, "an empty feature reference in '%s'", text);
        char msg[400];
        int rc = resolve_ref(repo, p, len, &refs[n], msg, sizeof msg);
        if (rc != KEEL_OK)
            return keel_errf(err, rc, "%s", msg);
        if (ref_listed(refs, n, refs[n]))
            return keel_errf(err, KEEL_EINVAL, "%s:%s is given twice",
                             repo->views[refs[n].view].name,
                             repo->views[refs[n].view].features[refs[n].feature].name);
        n++;
        p += len;
        if (*p == '\0')
            break;
    }
    *out = refs;
    *out_n = n;
    return KEEL_OK;
}

const char *feature_ttl_text(keel_arena *a, int64_t ttl_ms)
{
    static const struct { const char *unit; int64_t ms; } units[] = {
        { "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 },
    };
    if (ttl_ms <= 0)
        return "forever";
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (ttl_ms % units[i].ms == 0)
            return keel_arena_sprintf(a, "%lld%s", (long long)(ttl_ms / units[i].ms),
                                      units[i].unit);
    return keel_arena_sprintf(a, "%lldms", (long long)ttl_ms);
}
