/*
 * pipeline_graph.c — turning steps' `needs` and deps/outs into a DAG and
 * checking it: every need names a step, no step needs itself, no path or
 * prefix of a path is an output of two steps, and there is no cycle (one is
 * named in the error). A dep equal to (or inside) another step's output makes
 * that step a need, as in DVC, so a pipeline can be declared by its files.
 *
 * Names are looked up through a hash table so a 100,000-step pipeline checks
 * in linear time.
 */
#include "pipeline_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct name_table {
    size_t *slots;      /* step index + 1; 0 = empty */
    size_t mask;
} name_table;

static uint64_t hash_text(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* A base-name lookup matches every instance: the table maps full names, and
 * instances of a base are contiguous in p->steps. */
static long find_name(const keel_pipeline *p, const name_table *t, const char *name)
{
    for (size_t i = hash_text(name, strlen(name)) & t->mask; t->slots[i] != 0;
         i = (i + 1) & t->mask)
        if (strcmp(p->steps[t->slots[i] - 1].name, name) == 0)
            return (long)(t->slots[i] - 1);
    return -1;
}

static long find_base(const keel_pipeline *p, const name_table *t, const char *base,
                      size_t *out_count)
{
    for (size_t i = hash_text(base, strlen(base)) & t->mask; t->slots[i] != 0;
         i = (i + 1) & t->mask) {
        size_t idx = t->slots[i] - 1;
        if (strcmp(p->steps[idx].base, base) == 0 && p->steps[idx].name != p->steps[idx].base) {
            size_t n = 0;
            while (idx + n < p->n_steps && strcmp(p->steps[idx + n].base, base) == 0)
                n++;
            *out_count = n;
            return (long)idx;
        }
    }
    return -1;
}

static int table_build(const keel_pipeline *p, name_table *t, keel_err *err)
{
    size_t cap = 16;
    while (cap < p->n_steps * 4)
        cap *= 2;
    t->slots = calloc(cap, sizeof *t->slots);
    if (t->slots == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    t->mask = cap - 1;
    for (size_t s = 0; s < p->n_steps; s++) {
        const keel_pipeline_step *st = &p->steps[s];
        size_t i = hash_text(st->name, strlen(st->name)) & t->mask;
        while (t->slots[i] != 0) {
            if (strcmp(p->steps[t->slots[i] - 1].name, st->name) == 0) {
                free(t->slots);
                if (st->name == st->base)
                    return keel_errf(err, KEEL_EINVAL, "%s:%zu:%zu: step '%s' is declared twice",
                                     p->file, st->line, st->column, st->name);
                return keel_errf(err, KEEL_EINVAL, "%s:%zu:%zu: step instance '%s' appears twice "
                                 "(two foreach items give the same name)",
                                 p->file, st->line, st->column, st->name);
            }
            i = (i + 1) & t->mask;
        }
        t->slots[i] = s + 1;
        /* The first instance of a foreach also answers to its base name. */
        if (st->name != st->base && (s == 0 || strcmp(p->steps[s - 1].base, st->base) != 0)) {
            size_t j = hash_text(st->base, strlen(st->base)) & t->mask;
            while (t->slots[j] != 0)
                j = (j + 1) & t->mask;
            t->slots[j] = s + 1;
        }
    }
    return KEEL_OK;
}

/* mark[x] == stamp while `step` is being filled and x is already one of its
 * needs: a base name standing for 100,000 instances, or a dep directory
 * holding as many outputs, then costs O(1) per edge instead of a scan. */
static void add_need(keel_pipeline *p, size_t *counts, size_t **lists, size_t *caps,
                     size_t *mark, size_t stamp, size_t step, size_t need)
{
    if (mark[need] == stamp)
        return;
    mark[need] = stamp;
    if (counts[step] == caps[step]) {
        size_t cap = caps[step] ? caps[step] * 2 : 4;
        size_t *grown = keel_arena_alloc(&p->arena, cap * sizeof *grown);
        if (counts[step])
            memcpy(grown, lists[step], counts[step] * sizeof *grown);
        lists[step] = grown;
        caps[step] = cap;
    }
    lists[step][counts[step]++] = need;
}

/* Normalised relative form of a dep or out for comparisons: no "./", no
 * trailing '/'. */
static const char *norm_path(keel_arena *a, const char *path)
{
    while (path[0] == '.' && path[1] == '/')
        path += 2;
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    return keel_arena_strndup(a, path, n);
}

typedef struct out_ref {
    const char *path;
    size_t step;
} out_ref;

/* By path, then by declaration order, so a clash is always reported at the
 * later step whatever qsort does with equal keys. */
static int cmp_out(const void *x, const void *y)
{
    const out_ref *a = x, *b = y;
    int c = strcmp(a->path, b->path);
    return c != 0 ? c : (a->step > b->step) - (a->step < b->step);
}

/* Some component of path is "..". */
static bool has_dotdot(const char *path)
{
    for (const char *p = path; p != NULL; p = strchr(p, '/'), p = p != NULL ? p + 1 : NULL)
        if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == '\0'))
            return true;
    return false;
}

/* Index of an entry of the sorted list equal to path[0..len), or -1. */
static long find_out(const out_ref *outs, size_t n, const char *path, size_t len)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strncmp(outs[mid].path, path, len);
        if (c == 0 && outs[mid].path[len] != '\0')
            c = 1;
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* First entry of the sorted list not sorting before key. */
static size_t lower_bound(const out_ref *outs, size_t n, const char *key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(outs[mid].path, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Finds the output covering path in the sorted list (path itself, else the
 * nearest directory above it), or -1. One binary search per '/' in path:
 * scanning back over neighbours instead is quadratic when many outputs
 * share a directory. */
static long covering_out(const out_ref *outs, size_t n, const char *path)
{
    size_t len = strlen(path);
    long i = find_out(outs, n, path, len);
    while (i < 0 && len-- > 0)
        if (path[len] == '/')
            i = find_out(outs, n, path, len);
    return i;
}

static int check_outs(keel_pipeline *p, out_ref **out_list, size_t *out_n, keel_err *err)
{
    size_t total = 0;
    for (size_t s = 0; s < p->n_steps; s++)
        total += p->steps[s].n_outs;
    out_ref *outs = keel_arena_alloc(&p->arena, (total + 1) * sizeof *outs);
    size_t n = 0;
    for (size_t s = 0; s < p->n_steps; s++)
        for (size_t i = 0; i < p->steps[s].n_outs; i++) {
            const char *path = norm_path(&p->arena, p->steps[s].outs[i]);
            if (path[0] == '/' || has_dotdot(path) || strcmp(path, ".") == 0)
                return keel_errf(err, KEEL_EINVAL, "%s:%zu:%zu: step '%s': output '%s' must be "
                                 "a path inside the pipeline's directory", p->file,
                                 p->steps[s].line, p->steps[s].column, p->steps[s].name,
                                 p->steps[s].outs[i]);
            outs[n++] = (out_ref){ path, s };
        }
    qsort(outs, n, sizeof *outs, cmp_out);
    for (size_t i = 1; i < n; i++) {
        /* After sorting, a clash is with some earlier entry that is a prefix;
         * checking the covering entry among the earlier ones finds it. */
        long c = covering_out(outs, i, outs[i].path);
        if (c >= 0) {
            const keel_pipeline_step *a = &p->steps[outs[c].step], *b = &p->steps[outs[i].step];
            return keel_errf(err, KEEL_EINVAL, "%s:%zu:%zu: '%s' is an output of both step '%s' "
                             "(line %zu) and step '%s'%s", p->file, b->line, b->column,
                             outs[i].path, a->name, a->line, b->name,
                             strcmp(outs[c].path, outs[i].path) == 0 ? ""
                                 : " (inside the other's output directory)");
        }
    }
    *out_list = outs;
    *out_n = n;
    return KEEL_OK;
}

/* Kahn's algorithm; on a cycle, walks needs from a leftover step until a
 * step repeats, and names that loop. */
static int check_cycles(keel_pipeline *p, keel_err *err)
{
    size_t n = p->n_steps;
    size_t *indeg = calloc(n, sizeof *indeg), *queue = calloc(n + 1, sizeof *queue);
    if (indeg == NULL || queue == NULL) {
        free(indeg);
        free(queue);
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    }
    size_t head = 0, tail = 0, done = 0;
    for (size_t s = 0; s < n; s++)
        if ((indeg[s] = p->steps[s].n_needs) == 0)
            queue[tail++] = s;
    while (head < tail) {
        size_t s = queue[head++];
        done++;
        for (size_t i = 0; i < p->steps[s].n_dependents; i++)
            if (--indeg[p->steps[s].dependents[i]] == 0)
                queue[tail++] = p->steps[s].dependents[i];
    }
    int rc = KEEL_OK;
    if (done < n) {
        size_t start = 0;
        while (indeg[start] == 0)
            start++;
        /* Follow unfinished needs; within n steps one must repeat. */
        unsigned char *seen = calloc(n, 1);
        size_t cur = start;
        while (seen != NULL && !seen[cur]) {
            seen[cur] = 1;
            for (size_t i = 0; i < p->steps[cur].n_needs; i++)
                if (indeg[p->steps[cur].needs[i]] != 0) {
                    cur = p->steps[cur].needs[i];
                    break;
                }
        }
        char loop[400] = "";
        size_t at = cur;
        do {
            snprintf(loop + strlen(loop), sizeof loop - strlen(loop), "%s -> ",
                     p->steps[at].name);
            for (size_t i = 0; i < p->steps[at].n_needs; i++)
                if (indeg[p->steps[at].needs[i]] != 0) {
                    at = p->steps[at].needs[i];
                    break;
                }
        } while (at != cur && strlen(loop) < sizeof loop - 80);
        snprintf(loop + strlen(loop), sizeof loop - strlen(loop), "%s", p->steps[cur].name);
        free(seen);
        rc = keel_errf(err, KEEL_EINVAL, "%s:%zu:%zu: the steps form a cycle: %s (each needs "
                       "the next)", p->file, p->steps[cur].line, p->steps[cur].column, loop);
    }
    free(indeg);
    free(queue);
    return rc;
}

int keel_pipeline_graph(keel_pipeline *p, keel_err *err)
{
    name_table t = { NULL, 0 };
    int rc = table_build(p, &t, err);
    if (rc != KEEL_OK)
        return rc;
    size_t n = p->n_steps;
    size_t *counts = calloc(n, sizeof *counts), *caps = calloc(n, sizeof *caps);
    size_t **lists = calloc(n, sizeof *lists);
    size_t *mark = calloc(n, sizeof *mark);
    out_ref *outs = NULL;
    size_t n_outs = 0;
    if (counts == NULL || caps == NULL || lists == NULL || mark == NULL) {
        rc = keel_errf(err, KEEL_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t s = 0; s < n && rc == KEEL_OK; s++) {
        keel_pipeline_step *st = &p->steps[s];
        for (size_t i = 0; i < st->n_need_names && rc == KEEL_OK; i++) {
            const char *need = st->need_names[i];
            size_t count = 1;
            long idx = find_base(p, &t, need, &count);
            if (idx < 0) {
                idx = find_name(p, &t, need);
                count = 1;
            }
            if (idx < 0) {
                rc = keel_errf(err, KEEL_EINVAL, "%s:%zu:%zu: step '%s' needs '%s', which is "
                               "not a step of pipeline '%s'", p->file, st->line, st->column,
                               st->name, need, p->name);
                break;
            }
            for (size_t k = 0; k < count; k++) {
                if ((size_t)idx + k == s) {
                    rc = keel_errf(err, KEEL_EINVAL, "%s:%zu:%zu: step '%s' needs itself",
                                   p->file, st->line, st->column, st->name);
                    break;
                }
                add_need(p, counts, lists, caps, mark, s + 1, s, (size_t)idx + k);
            }
        }
    }
    if (rc == KEEL_OK)
        rc = check_outs(p, &outs, &n_outs, err);
    for (size_t s = 0; s < n && rc == KEEL_OK; s++) {
        keel_pipeline_step *st = &p->steps[s];
        size_t stamp = n + 1 + s;
        for (size_t i = 0; i < counts[s]; i++)
            mark[lists[s][i]] = stamp;
        for (size_t i = 0; i < st->n_deps; i++) {
            const char *dep = norm_path(&p->arena, st->deps[i]);
            long c = covering_out(outs, n_outs, dep);
            if (c >= 0 && outs[c].step != s)
                add_need(p, counts, lists, caps, mark, stamp, s, outs[c].step);
            else if (c >= 0)
                rc = keel_errf(err, KEEL_EINVAL, "%s:%zu:%zu: step '%s' has '%s' both as a dep "
                               "and as an output", p->file, st->line, st->column, st->name, dep);
            if (c >= 0 || rc != KEEL_OK)
                continue;
            /* A dep that is a directory containing outputs needs their steps
             * too: the outputs under "dep/" are one run of the sorted list. */
            const char *under = keel_arena_sprintf(&p->arena, "%s/", dep);
            size_t len = strlen(under);
            for (size_t o = lower_bound(outs, n_outs, under);
                 o < n_outs && strncmp(outs[o].path, under, len) == 0; o++)
                if (outs[o].step != s)
                    add_need(p, counts, lists, caps, mark, stamp, s, outs[o].step);
        }
    }
    if (rc != KEEL_OK)
        goto done;
    for (size_t s = 0; s < n; s++) {
        p->steps[s].needs = lists[s];
        p->steps[s].n_needs = counts[s];
    }
    /* Dependents: the reverse edges, in one arena block. */
    size_t *n_dep = calloc(n, sizeof *n_dep);
    if (n_dep == NULL) {
        rc = keel_errf(err, KEEL_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t s = 0; s < n; s++)
        for (size_t i = 0; i < counts[s]; i++)
            n_dep[lists[s][i]]++;
    for (size_t s = 0; s < n; s++) {
        p->steps[s].dependents = keel_arena_alloc(&p->arena, (n_dep[s] + 1) * sizeof(size_t));
        p->steps[s].n_dependents = 0;
    }
    for (size_t s = 0; s < n; s++)
        for (size_t i = 0; i < counts[s]; i++) {
            keel_pipeline_step *need = &p->steps[lists[s][i]];
            need->dependents[need->n_dependents++] = s;
        }
    free(n_dep);
    rc = check_cycles(p, err);
done:
    free(t.slots);
    free(counts);
    free(caps);
    free(lists);
    free(mark);
    return rc;
}
