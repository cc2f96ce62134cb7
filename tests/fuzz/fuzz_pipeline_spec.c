/*
 * fuzz_pipeline_spec.c — the keel.yaml reader: bytes as a pipeline file
 * through keel_pipeline_parse (libyaml's document API, keel's key and type
 * checks, foreach expansion, ${…} substitution, then the graph pass), and
 * the pipeline freed.
 *
 * Invariants checked (abort on violation): a failure carries its code and a
 * message naming the file; an accepted pipeline has a name and at least one
 * step, each step has a name starting with its base, a command and a 1-based
 * position; needs and dependents are valid indexes that never point at the
 * step itself and mirror each other (as many of one as of the other); no two
 * instances share a name. Every string of an accepted pipeline is read to
 * its end, so a dangling or unterminated one shows up under ASan.
 */
#include <keel/pipeline.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char spec_name[] = "fuzz.yaml";

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

static void check_kv(const keel_kv *kv, size_t n)
{
    if (n > 0 && kv == NULL)
        abort();
    for (size_t i = 0; i < n; i++) {
        check_text(kv[i].key, true);
        check_text(kv[i].value, false);
        if (kv[i].value == NULL)
            abort();
    }
}

static void check_list(const char *const *list, size_t n)
{
    if (n > 0 && list == NULL)
        abort();
    for (size_t i = 0; i < n; i++)
        check_text(list[i], true);
}

static bool has_edge(const size_t *list, size_t n, size_t want)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == want)
            return true;
    return false;
}

static void check_step(const keel_pipeline *p, size_t s)
{
    const keel_pipeline_step *st = &p->steps[s];
    check_text(st->name, true);
    check_text(st->base, true);
    check_text(st->command, true);
    check_text(st->uses, false);
    if (strncmp(st->name, st->base, strlen(st->base)) != 0 || st->line < 1 || st->column < 1)
        abort();
    check_list(st->need_names, st->n_need_names);
    check_list(st->deps, st->n_deps);
    check_list(st->outs, st->n_outs);
    check_kv(st->params, st->n_params);
    check_kv(st->env, st->n_env);
    if (st->retries < 0 || st->backoff_s < 0 || st->timeout_s < 0 || st->cpus < 0 ||
        st->memory_mb < 0 || st->gpus < 0)
        abort();
    /* The reverse edge is looked up only in short lists: one step can need
     * every instance of a 100,000-item matrix. */
    for (size_t i = 0; i < st->n_needs; i++) {
        size_t need = st->needs[i];
        if (need >= p->n_steps || need == s ||
            (p->steps[need].n_dependents <= 64 &&
             !has_edge(p->steps[need].dependents, p->steps[need].n_dependents, s)))
            abort();
    }
    for (size_t i = 0; i < st->n_dependents; i++) {
        size_t dep = st->dependents[i];
        if (dep >= p->n_steps || dep == s ||
            (p->steps[dep].n_needs <= 64 &&
             !has_edge(p->steps[dep].needs, p->steps[dep].n_needs, s)))
            abort();
    }
    /* The lookup is linear; a matrix can make 100,000 instances. */
    if (p->n_steps <= 1000 && keel_pipeline_step_index(p, st->name) != (long)s)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    keel_pipeline *p = NULL;
    keel_err err;
    memset(&err, 0, sizeof err);
    int rc = keel_pipeline_parse(spec_name, (const char *)data, size, NULL, NULL, 0, &p, &err);
    if (rc != KEEL_OK) {
        if (p != NULL || err.code != rc || err.msg[0] == '\0' ||
            strncmp(err.msg, spec_name, sizeof spec_name - 1) != 0)
            abort();
        return 0;
    }
    if (p == NULL || p->n_steps == 0 || p->steps == NULL)
        abort();
    check_text(p->file, true);
    check_text(p->dir, true);
    check_text(p->name, true);
    check_text(p->schedule, false);
    check_text(p->partition, false);
    check_text(p->account, false);
    check_kv(p->params, p->n_params);
    size_t n_needs = 0, n_dependents = 0;
    for (size_t s = 0; s < p->n_steps; s++) {
        check_step(p, s);
        n_needs += p->steps[s].n_needs;
        n_dependents += p->steps[s].n_dependents;
    }
    if (n_needs != n_dependents)
        abort();
    keel_pipeline_free(p);
    return 0;
}
