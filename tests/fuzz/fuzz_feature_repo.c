/*
 * fuzz_feature_repo.c — the features.yaml reader: bytes as a feature repo
 * through keel_feature_repo_parse (libyaml's document API, keel's key, name
 * and type checks, every name resolved to an index, then the header of each
 * CSV source), and the repo freed.
 *
 * The sources an input names rarely exist; those that do are read only up
 * to their header, which is unbounded for a device or a FIFO
 * (path: /dev/zero). So each input is first read without the column checks,
 * and read in full only when every CSV source is missing or a small
 * regular file: nothing slow or blocking happens per input.
 *
 * Invariants checked (abort on violation): a failure carries its code and a
 * message naming the file; an accepted repo has a project and a digest,
 * every entity has 1..16 join keys of type int or string, every source
 * exactly one of an absolute path and a dataset and a timestamp, every view
 * at least one entity and one feature with in-range entity and source
 * indexes and known types, every service reference an in-range view and
 * feature; names are unique per kind and found by the lookups. Every string
 * is read to its end, so a dangling or unterminated one shows up under
 * ASan.
 */
#include "features/features_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char repo_name[] = "fuzz/features.yaml";

#define SMALL_FILE_BYTES (1 << 20)

static void check_text(const char *s, bool required)
{
    if (s == NULL) {
        if (required)
            abort();
        return;
    }
    if (required && s[0] == '\0')
        abort();
    volatile size_t n = strlen(s);
    (void)n;
}

static void check_type(enum keel_col_type t)
{
    if (t != KEEL_COL_INT && t != KEEL_COL_FLOAT && t != KEEL_COL_STRING && t != KEEL_COL_BOOL)
        abort();
}

static void check_repo(const keel_feature_repo *repo)
{
    check_text(repo->file, true);
    check_text(repo->dir, true);
    check_text(repo->project, true);
    if (strlen(repo->digest) != 64)
        abort();
    for (size_t i = 0; i < repo->n_entities; i++) {
        const keel_entity *e = &repo->entities[i];
        check_text(e->name, true);
        if (e->n_join_keys < 1 || e->n_join_keys > 16 || e->line < 1 || e->column < 1)
            abort();
        for (size_t k = 0; k < e->n_join_keys; k++) {
            check_text(e->join_keys[k], true);
            if (e->key_types[k] != KEEL_COL_INT && e->key_types[k] != KEEL_COL_STRING)
                abort();
        }
        if (repo->n_entities <= 256 && feature_entity_index(repo, e->name) != (long)i)
            abort();
    }
    for (size_t i = 0; i < repo->n_sources; i++) {
        const keel_feature_source *s = &repo->sources[i];
        check_text(s->name, true);
        check_text(s->path, false);
        check_text(s->dataset, false);
        check_text(s->timestamp, true);
        check_text(s->created_timestamp, false);
        if ((s->path == NULL) == (s->dataset == NULL) || (s->path != NULL && s->path[0] != '/'))
            abort();
        if (repo->n_sources <= 256 && feature_source_index(repo, s->name) != (long)i)
            abort();
    }
    for (size_t i = 0; i < repo->n_views; i++) {
        const keel_feature_view *v = &repo->views[i];
        check_text(v->name, true);
        if (v->n_entities < 1 || v->n_features < 1 || v->source >= repo->n_sources ||
            v->ttl_ms < 0)
            abort();
        for (size_t e = 0; e < v->n_entities; e++)
            if (v->entities[e] >= repo->n_entities)
                abort();
        for (size_t f = 0; f < v->n_features; f++) {
            check_text(v->features[f].name, true);
            check_type(v->features[f].type);
        }
        if (repo->n_views <= 256 && keel_feature_view_index(repo, v->name) != (long)i)
            abort();
    }
    for (size_t i = 0; i < repo->n_services; i++) {
        const keel_feature_service *svc = &repo->services[i];
        check_text(svc->name, true);
        for (size_t f = 0; f < svc->n_features; f++) {
            const keel_feature_ref *ref = &svc->features[f];
            if (ref->view >= repo->n_views || ref->feature >= repo->views[ref->view].n_features)
                abort();
        }
        if (keel_feature_view_index(repo, svc->name) >= 0)
            abort();
        if (repo->n_services <= 256 && keel_feature_service_index(repo, svc->name) != (long)i)
            abort();
    }
}

static void check_failure(int rc, const keel_feature_repo *repo, const keel_err *err)
{
    if (repo != NULL || err->code != rc || err->msg[0] == '\0' ||
        strncmp(err->msg, repo_name, sizeof repo_name - 1) != 0)
        abort();
}

/* Whether reading the header of every CSV source is quick: each is
 * missing, or a regular file of at most SMALL_FILE_BYTES. */
static bool sources_are_quick(const keel_feature_repo *repo)
{
    for (size_t i = 0; i < repo->n_sources; i++) {
        struct stat sb;
        const char *path = repo->sources[i].path;
        if (path == NULL || stat(path, &sb) != 0)
            continue;
        if (!S_ISREG(sb.st_mode) || sb.st_size > SMALL_FILE_BYTES)
            return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    keel_feature_repo *repo = NULL;
    keel_err err;
    memset(&err, 0, sizeof err);
    int rc = feature_repo_parse_opts(repo_name, text, size, false, &repo, &err);
    if (rc != KEEL_OK) {
        check_failure(rc, repo, &err);
        return 0;
    }
    if (repo == NULL)
        abort();
    check_repo(repo);
    bool quick = sources_are_quick(repo);
    size_t n_views = repo->n_views, n_services = repo->n_services;
    keel_feature_repo_free(repo);
    if (!quick)
        return 0;

    repo = NULL;
    memset(&err, 0, sizeof err);
    rc = keel_feature_repo_parse(repo_name, text, size, &repo, &err);
    if (rc != KEEL_OK) {
        check_failure(rc, repo, &err);
        return 0;
    }
    if (repo == NULL || repo->n_views != n_views || repo->n_services != n_services)
        abort();
    check_repo(repo);
    keel_feature_repo_free(repo);
    return 0;
}
