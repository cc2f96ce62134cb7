/*
 * pipeline_digest.c — content digests of deps and outputs, step cache keys,
 * and the explanation of a cache miss.
 *
 * A file's digest is the SHA-256 of its bytes; a directory's is the SHA-256
 * of its files' "relative-path NUL digest LF" lines in byte order of the
 * paths, so it changes when any file is added, removed, renamed or edited.
 * Reading every dep on every run would make a cached pipeline as slow as its
 * data is large, so digests are remembered in table file_digests keyed by
 * absolute path with (size, mtime, ctime, inode). As in git's "racy" rule, an
 * entry is trusted only if the file's mtime is more than a second older than
 * when the entry was recorded: a write in the same clock tick as the hashing
 * cannot hide behind an unchanged stat.
 *
 * The cache key is the SHA-256 of the step's inputs object serialized with
 * sorted keys: command (or the `uses` text, so keel's own install path does
 * not matter), env, params, deps with digests, outs, keel's version. Paths are
 * relative to the pipeline's directory, so a fresh checkout elsewhere that
 * shares the object store gets the same keys.
 */
#include "pipeline_internal.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define DIGEST_MAX_DIR_ENTRIES 1000000
#define RACY_WINDOW_NS 1000000000ll

static int64_t ts_ns(struct timespec t)
{
    return (int64_t)t.tv_sec * 1000000000ll + t.tv_nsec;
}

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return ts_ns(t);
}

static int file_digest(keel_store *s, const char *abs, const struct stat *st,
                       char out[KEEL_SHA256_HEX_LEN + 1], keel_err *err)
{
    keel_stmt *q = NULL;
    int rc = keel_store_prepare(s, "SELECT size, mtime_ns, ctime_ns, inode, recorded_ns, digest "
                                   "FROM file_digests WHERE path = ?", true, &q, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(q, 1, abs, -1);
    bool hit = false;
    if (keel_stmt_step(q, err) == KEEL_STEP_ROW) {
        hit = keel_stmt_int64(q, 0) == (int64_t)st->st_size &&
              keel_stmt_int64(q, 1) == ts_ns(st->st_mtim) &&
              keel_stmt_int64(q, 2) == ts_ns(st->st_ctim) &&
              keel_stmt_int64(q, 3) == (int64_t)st->st_ino &&
              ts_ns(st->st_mtim) < keel_stmt_int64(q, 4) - RACY_WINDOW_NS;
        if (hit)
            snprintf(out, KEEL_SHA256_HEX_LEN + 1, "%s", keel_stmt_text(q, 5));
    }
    keel_stmt_release(q);
    if (hit)
        return KEEL_OK;
    int64_t recorded = now_ns();
    rc = keel_sha256_file(abs, out, NULL, err);
    if (rc != KEEL_OK)
        return rc;
    /* Remembering is an optimisation: a failure here (e.g. a read-only store
     * in a dry run) is not the caller's failure. */
    keel_err ignored;
    keel_store_execv(s, "INSERT OR REPLACE INTO file_digests (path, size, mtime_ns, ctime_ns, "
                        "inode, recorded_ns, digest) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     NULL, &ignored, "tiiiiit", abs, (int64_t)st->st_size,
                     ts_ns(st->st_mtim), ts_ns(st->st_ctim), (int64_t)st->st_ino, recorded, out);
    return KEEL_OK;
}

typedef struct dir_walk {
    pipeline_visit_fn visit;
    void *ctx;
    keel_sha256 hash;
    size_t entries;
    keel_err *err;
} dir_walk;

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_names(dir_walk *w, const char *abs, char ***out, size_t *out_n)
{
    DIR *d = opendir(abs);
    if (d == NULL)
        return keel_errf(w->err, KEEL_EIO, "cannot read directory %s: %s", abs, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = KEEL_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (++w->entries > DIGEST_MAX_DIR_ENTRIES) {
            rc = keel_errf(w->err, KEEL_ELIMIT, "%s: more than %d entries", abs,
                           DIGEST_MAX_DIR_ENTRIES);
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **grown = realloc(names, cap * sizeof *names);
            if (grown == NULL) {
                rc = keel_errf(w->err, KEEL_ENOMEM, "out of memory");
                break;
            }
            names = grown;
        }
        if ((names[n] = strdup(e->d_name)) == NULL) {
            rc = keel_errf(w->err, KEEL_ENOMEM, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == KEEL_OK && n > 0)
        qsort(names, n, sizeof *names, cmp_names);
    *out = names;
    *out_n = n;
    return rc;
}

static int walk_dir(dir_walk *w, const char *abs, const char *rel)
{
    char **names = NULL;
    size_t n = 0;
    int rc = read_names(w, abs, &names, &n);
    for (size_t i = 0; i < n && rc == KEEL_OK; i++) {
        char child[PATH_MAX], child_rel[PATH_MAX];
        struct stat st;
        if (snprintf(child, sizeof child, "%s/%s", abs, names[i]) >= (int)sizeof child ||
            snprintf(child_rel, sizeof child_rel, "%s%s%s", rel, rel[0] ? "/" : "", names[i]) >=
                (int)sizeof child_rel) {
            rc = keel_errf(w->err, KEEL_ELIMIT, "path too long under %s", abs);
            break;
        }
        if (stat(child, &st) != 0) {
            rc = keel_errf(w->err, KEEL_EIO, "cannot stat %s: %s", child, strerror(errno));
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            rc = walk_dir(w, child, child_rel);
        } else if (S_ISREG(st.st_mode)) {
            char digest[KEEL_SHA256_HEX_LEN + 1];
            rc = w->visit(w->ctx, child, child_rel, &st, digest, w->err);
            if (rc == KEEL_OK) {
                keel_sha256_update(&w->hash, child_rel, strlen(child_rel) + 1);
                keel_sha256_update(&w->hash, digest, KEEL_SHA256_HEX_LEN);
                keel_sha256_update(&w->hash, "\n", 1);
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int pipeline_dir_walk(const char *abs, pipeline_visit_fn visit, void *ctx,
                      char out_digest[KEEL_SHA256_HEX_LEN + 1], keel_err *err)
{
    dir_walk w = { .visit = visit, .ctx = ctx, .err = err };
    int rc = keel_sha256_init(&w.hash, err);
    if (rc != KEEL_OK)
        return rc;
    keel_sha256_update(&w.hash, "dir\n", 4);
    rc = walk_dir(&w, abs, "");
    if (rc != KEEL_OK) {
        keel_sha256_abort(&w.hash);
        return rc;
    }
    keel_sha256_final(&w.hash, out_digest);
    return KEEL_OK;
}

static int visit_digest(void *ctx, const char *abs, const char *rel, const struct stat *st,
                        char out[KEEL_SHA256_HEX_LEN + 1], keel_err *err)
{
    (void)rel;
    return file_digest(ctx, abs, st, out, err);
}

int keel_pipeline_path_digest(keel_store *s, const char *path, char out[KEEL_SHA256_HEX_LEN + 1],
                         keel_err *err)
{
    char abs[PATH_MAX];
    struct stat st;
    if (realpath(path, abs) == NULL || stat(abs, &st) != 0)
        return keel_errf(err, KEEL_ENOTFOUND, "%s does not exist", path);
    if (S_ISREG(st.st_mode))
        return file_digest(s, abs, &st, out, err);
    if (!S_ISDIR(st.st_mode))
        return keel_errf(err, KEEL_EINVAL, "%s is neither a file nor a directory", path);
    return pipeline_dir_walk(abs, visit_digest, s, out, err);
}

static json_t *kv_object(const keel_kv *kv, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, kv[i].key, json_string(kv[i].value));
    return o;
}

json_t *pipeline_step_inputs(const keel_pipeline_step *step, const char *const *dep_digests)
{
    json_t *in = json_object();
    json_object_set_new(in, "keel", json_string(keel_pipeline_cache_version()));
    if (step->uses != NULL)
        json_object_set_new(in, "uses", json_string(step->uses));
    else
        json_object_set_new(in, "command", json_string(step->command));
    json_object_set_new(in, "env", kv_object(step->env, step->n_env));
    json_object_set_new(in, "params", kv_object(step->params, step->n_params));
    json_object_set_new(in, "pipeline_params", kv_object(step->uses_params,
                                                         step->n_uses_params));
    json_t *deps = json_object();
    for (size_t i = 0; i < step->n_deps; i++)
        json_object_set_new(deps, step->deps[i], json_string(dep_digests[i]));
    json_object_set_new(in, "deps", deps);
    json_t *outs = json_array();
    for (size_t i = 0; i < step->n_outs; i++)
        json_array_append_new(outs, json_string(step->outs[i]));
    json_object_set_new(in, "outs", outs);
    return in;
}

void pipeline_cache_key(json_t *inputs, char out[KEEL_SHA256_HEX_LEN + 1])
{
    char *text = json_dumps(inputs, JSON_SORT_KEYS | JSON_COMPACT);
    keel_err err;
    if (text == NULL || keel_sha256_hex(text, strlen(text), out, &err) != KEEL_OK)
        memset(out, '0', KEEL_SHA256_HEX_LEN), out[KEEL_SHA256_HEX_LEN] = '\0';
    free(text);
}

static const char *str_of(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static bool same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Appends "what key changed" lines for a {key: string} object pair. */
static void diff_map(json_t *old, json_t *cur, const char *what, bool digests, keel_arena *a,
                     const char **text)
{
    const char *key;
    json_t *v;
    json_object_foreach(cur, key, v) {
        const char *before = json_string_value(json_object_get(old, key));
        const char *after = json_string_value(v);
        if (before == NULL)
            *text = keel_arena_sprintf(a, "%s%snew %s %s", *text, **text ? "; " : "", what, key);
        else if (!same_str(before, after))
            *text = digests
                ? keel_arena_sprintf(a, "%s%s%s %s changed (%.8s → %.8s)", *text,
                                     **text ? "; " : "", what, key, before, after)
                : keel_arena_sprintf(a, "%s%s%s %s changed (%s → %s)", *text,
                                     **text ? "; " : "", what, key, before, after);
    }
    json_object_foreach(old, key, v) {
        if (json_object_get(cur, key) == NULL)
            *text = keel_arena_sprintf(a, "%s%s%s %s removed", *text, **text ? "; " : "", what,
                                       key);
    }
}

const char *pipeline_explain_miss(json_t *previous, json_t *current, keel_arena *a)
{
    if (previous == NULL)
        return "never ran with a cached result";
    const char *text = "";
    if (!same_str(str_of(previous, "command"), str_of(current, "command")) ||
        !same_str(str_of(previous, "uses"), str_of(current, "uses")))
        text = "command changed";
    diff_map(json_object_get(previous, "deps"), json_object_get(current, "deps"), "dep", true, a,
             &text);
    diff_map(json_object_get(previous, "params"), json_object_get(current, "params"), "param",
             false, a, &text);
    diff_map(json_object_get(previous, "pipeline_params"),
             json_object_get(current, "pipeline_params"), "pipeline param", false, a, &text);
    diff_map(json_object_get(previous, "env"), json_object_get(current, "env"), "env", false, a,
             &text);
    if (!json_equal(json_object_get(previous, "outs"), json_object_get(current, "outs")))
        text = keel_arena_sprintf(a, "%s%soutputs changed", text, text[0] ? "; " : "");
    if (!same_str(str_of(previous, "keel"), str_of(current, "keel")))
        text = keel_arena_sprintf(a, "%s%skeel version changed", text, text[0] ? "; " : "");
    return text[0] ? text : "inputs as before, but no cached result (objects missing?)";
}

const char *keel_pipeline_cache_version(void)
{
    return "keel-" KEEL_VERSION "/step-cache-1";
}
