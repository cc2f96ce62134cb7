/*
 * test_pipeline_spec.c — reading keel.yaml and checking its graph: single
 * and multi-pipeline files, params and -p overrides, foreach lists and
 * matrices with ${…} substitution, needs on foreach base names, implicit
 * needs from deps that are other steps' outputs, `uses:` commands, durations
 * and sizes, and every error with its exact file:line:column. Then the
 * digests behind the step cache: file and directory digests, the
 * file_digests stat cache (and its racy window), cache keys and the
 * explanation of a miss.
 *
 * Positions in expected messages were counted by hand from the YAML texts,
 * which are written one line per source line so they can be counted again.
 */
#include "testutil.h"

#include "pipeline/pipeline_internal.h"

#include <keel/error.h>
#include <keel/pipeline.h>
#include <keel/util.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OK(call) assert_int_equal((call), KEEL_OK)
#define FILE_NAME "keel.yaml"

static keel_pipeline *parse_with(const char *yaml, const char *name, const keel_kv *overrides,
                                 size_t n_overrides)
{
    keel_pipeline *p = NULL;
    keel_err err;
    keel_err_clear(&err);
    int rc = keel_pipeline_parse(FILE_NAME, yaml, strlen(yaml), name, overrides, n_overrides,
                                 &p, &err);
    if (rc != KEEL_OK)
        fail_msg("keel_pipeline_parse: %s\n---\n%s", err.msg, yaml);
    assert_non_null(p);
    return p;
}

static keel_pipeline *parse_ok(const char *yaml)
{
    return parse_with(yaml, NULL, NULL, 0);
}

/* Parsing fails with code, the message starts with prefix ("keel.yaml:L:C: ")
 * and contains text. */
static void parse_fails_with(const char *yaml, const char *name, const keel_kv *overrides,
                             size_t n_overrides, int code, const char *prefix, const char *text)
{
    keel_pipeline *p = (keel_pipeline *)(uintptr_t)1;
    keel_err err;
    keel_err_clear(&err);
    int rc = keel_pipeline_parse(FILE_NAME, yaml, strlen(yaml), name, overrides, n_overrides,
                                 &p, &err);
    if (rc != code || p != NULL || strncmp(err.msg, prefix, strlen(prefix)) != 0 ||
        strstr(err.msg, text) == NULL)
        fail_msg("rc %d (want %d), message \"%s\"\nwant prefix \"%s\" and \"%s\"\n---\n%s", rc,
                 code, err.msg, prefix, text, yaml);
    assert_int_equal(err.code, code);
}

static void parse_fails(const char *yaml, const char *prefix, const char *text)
{
    parse_fails_with(yaml, NULL, NULL, 0, KEEL_EINVAL, prefix, text);
}

static const char *kv_get(const keel_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    return NULL;
}

static const keel_pipeline_step *step_named(const keel_pipeline *p, const char *name)
{
    long i = keel_pipeline_step_index(p, name);
    if (i < 0)
        fail_msg("no step '%s'", name);
    return &p->steps[i];
}

static bool has_index(const size_t *list, size_t n, size_t want)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == want)
            return true;
    return false;
}

/* ---- files and pipelines ---- */

static void single_pipeline_defaults_and_positions(void **state)
{
    (void)state;
    keel_pipeline *p = parse_ok("pipeline: demo\n"
                                "schedule: \"*/15 * * * *\"\n"
                                "catchup: true\n"
                                "slurm:\n"
                                "  partition: gpu\n"
                                "  account: ml\n"
                                "steps:\n"
                                "  hello:\n"
                                "    desc: says hello\n"
                                "    run: echo hello\n");
    assert_string_equal(p->name, "demo");
    assert_string_equal(p->file, FILE_NAME);
    assert_int_equal(p->dir[0], '/');
    assert_string_equal(p->schedule, "*/15 * * * *");
    assert_true(p->catchup);
    assert_string_equal(p->partition, "gpu");
    assert_string_equal(p->account, "ml");
    assert_int_equal(p->n_params, 0);
    assert_int_equal(p->n_steps, 1);
    const keel_pipeline_step *s = &p->steps[0];
    assert_string_equal(s->name, "hello");
    assert_string_equal(s->base, "hello");
    assert_string_equal(s->command, "echo hello");
    assert_null(s->uses);
    assert_int_equal(s->line, 8);
    assert_int_equal(s->column, 3);
    assert_int_equal(s->retries, 0);
    assert_true(s->backoff_s == 1.0);
    assert_true(s->timeout_s == 0.0);
    assert_true(s->cache);
    assert_int_equal(s->cpus, 0);
    assert_int_equal(s->memory_mb, 0);
    assert_int_equal(s->gpus, 0);
    assert_int_equal(s->n_deps + s->n_outs + s->n_env + s->n_params + s->n_needs, 0);
    assert_int_equal(keel_pipeline_step_index(p, "hello"), 0);
    assert_int_equal(keel_pipeline_step_index(p, "nope"), -1);
    keel_pipeline_free(p);

    /* Naming the file's only pipeline works; naming another does not. */
    const char *yaml = "pipeline: demo\nsteps:\n  a:\n    run: x\n";
    p = parse_with(yaml, "demo", NULL, 0);
    assert_string_equal(p->name, "demo");
    keel_pipeline_free(p);
    parse_fails_with(yaml, "other", NULL, 0, KEEL_ENOTFOUND,
                     "keel.yaml: no pipeline 'other' (it has 'demo')", "");
    keel_pipeline_free(NULL);
}

static const char multi_yaml[] =
    "pipelines:\n"                 /* 1 */
    "  etl:\n"                     /* 2 */
    "    params:\n"                /* 3 */
    "      day: mon\n"             /* 4 */
    "    steps:\n"                 /* 5 */
    "      load:\n"                /* 6 */
    "        run: load ${params.day}\n"
    "  train:\n"                   /* 8 */
    "    steps:\n"                 /* 9 */
    "      fit:\n"                 /* 10 */
    "        run: fit\n"           /* 11 */
    "      eval:\n"                /* 12 */
    "        run: eval\n"          /* 13 */
    "        needs: [fit]\n";      /* 14 */

static void several_pipelines_by_name(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    keel_test_tmpdir(dir);
    snprintf(path, sizeof path, "%s/keel.yaml", dir);
    keel_test_write(path, multi_yaml);

    keel_arena a;
    keel_arena_init(&a, 0);
    keel_err err;
    const char **names = NULL;
    size_t n = 0;
    OK(keel_pipeline_names(path, &a, &names, &n, &err));
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "etl");
    assert_string_equal(names[1], "train");

    keel_pipeline *p = NULL;
    OK(keel_pipeline_load(path, "train", NULL, 0, &p, &err));
    assert_string_equal(p->name, "train");
    assert_string_equal(p->dir, dir);
    assert_int_equal(p->n_steps, 2);
    assert_string_equal(p->steps[1].name, "eval");
    assert_int_equal(p->steps[1].n_needs, 1);
    assert_int_equal(p->steps[1].needs[0], 0);
    assert_int_equal(p->steps[0].n_dependents, 1);
    assert_int_equal(p->steps[0].dependents[0], 1);
    assert_int_equal(p->steps[1].line, 12);
    assert_int_equal(p->steps[1].column, 7);
    keel_pipeline_free(p);

    OK(keel_pipeline_load(path, "etl", NULL, 0, &p, &err));
    assert_string_equal(p->name, "etl");
    assert_string_equal(p->steps[0].command, "load mon");
    keel_pipeline_free(p);

    assert_int_equal(keel_pipeline_load(path, NULL, NULL, 0, &p, &err), KEEL_EINVAL);
    assert_null(p);
    assert_non_null(strstr(err.msg, "declares 2 pipelines: name one"));
    assert_int_equal(keel_pipeline_load(path, "missing", NULL, 0, &p, &err), KEEL_ENOTFOUND);
    assert_non_null(strstr(err.msg, "keel.yaml: no pipeline 'missing'"));

    /* A single pipeline's name; a file with both forms lists them all. */
    keel_test_write(path, "pipeline: solo\nsteps:\n  a:\n    run: x\n");
    OK(keel_pipeline_names(path, &a, &names, &n, &err));
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "solo");
    keel_test_write(path, "pipelines:\n  a: {steps: {s: {run: x}}}\n  b: {steps: {s: {run: x}}}\n"
                          "pipeline: c\n");
    OK(keel_pipeline_names(path, &a, &names, &n, &err));
    assert_int_equal(n, 3);
    assert_string_equal(names[0], "a");
    assert_string_equal(names[1], "b");
    assert_string_equal(names[2], "c");
    keel_test_write(path, "pipeline: one\npipeline: two\nsteps: {}\n");
    OK(keel_pipeline_names(path, &a, &names, &n, &err));
    assert_int_equal(n, 2);
    assert_string_equal(names[1], "two");
    assert_int_equal(keel_pipeline_names("/nonexistent/keel.yaml", &a, &names, &n, &err),
                     KEEL_ENOTFOUND);

    /* One entry under pipelines: needs no name; other top-level keys are errors. */
    p = parse_ok("pipelines:\n  only:\n    steps:\n      s:\n        run: x\n");
    assert_string_equal(p->name, "only");
    keel_pipeline_free(p);
    parse_fails("pipelines:\n  a:\n    steps: {s: {run: x}}\nparams: {}\n",
                "keel.yaml:1:1: ", "a file with 'pipelines:' must have no other top-level keys");
    parse_fails("pipelines: {}\n", "keel.yaml:1:12: ", "'pipelines' is empty");
    /* An error inside the chosen pipeline is placed in the whole file. */
    parse_fails("pipelines:\n  a:\n    steps:\n      s:\n        run: x\n        rn: y\n",
                "keel.yaml:6:9: ", "unknown key 'rn' in a step");

    keel_arena_free(&a);
    keel_test_rmrf(dir);
}

static void params_and_overrides(void **state)
{
    (void)state;
    const char *yaml = "pipeline: p\n"
                       "params:\n"
                       "  lr: 0.1\n"
                       "  epochs: 3\n"
                       "steps:\n"
                       "  train:\n"
                       "    params:\n"
                       "      rate: ${params.lr}\n"
                       "      epochs: 10\n"
                       "    run: train --lr ${params.lr} --epochs ${params.epochs} --rate "
                       "${params.rate}\n";
    keel_pipeline *p = parse_ok(yaml);
    assert_int_equal(p->n_params, 2);
    assert_string_equal(kv_get(p->params, p->n_params, "lr"), "0.1");
    assert_string_equal(kv_get(p->params, p->n_params, "epochs"), "3");
    const keel_pipeline_step *s = &p->steps[0];
    /* A step param shadows the pipeline's of the same name. */
    assert_string_equal(s->command, "train --lr 0.1 --epochs 10 --rate 0.1");
    assert_string_equal(kv_get(s->params, s->n_params, "rate"), "0.1");
    keel_pipeline_free(p);

    keel_kv ov[] = { { "lr", "0.5" } };
    p = parse_with(yaml, NULL, ov, 1);
    assert_string_equal(kv_get(p->params, p->n_params, "lr"), "0.5");
    assert_string_equal(p->steps[0].command, "train --lr 0.5 --epochs 10 --rate 0.5");
    keel_pipeline_free(p);

    keel_kv bad[] = { { "lr", "0.5" }, { "momentum", "0.9" } };
    parse_fails_with(yaml, NULL, bad, 2, KEEL_EINVAL,
                     "-p momentum: pipeline 'p' (keel.yaml:1) declares no param 'momentum'", "");

    parse_fails("pipeline: p\nparams:\n  a: 1\n  a: 2\nsteps:\n  s:\n    run: x\n",
                "keel.yaml:4:3: ", "params: 'a' appears twice");
}

static void foreach_list_substitutes_everywhere(void **state)
{
    (void)state;
    keel_pipeline *p = parse_ok("pipeline: p\n"
                                "steps:\n"
                                "  fetch:\n"
                                "    foreach: [eu, us]\n"
                                "    run: get ${item} > data/${item}.csv\n"
                                "    deps: [\"src/${item}.url\"]\n"
                                "    outs: [\"data/${item}.csv\"]\n"
                                "    env:\n"
                                "      REGION: ${item}\n"
                                "    params:\n"
                                "      region: ${item}\n");
    assert_int_equal(p->n_steps, 2);
    const char *items[] = { "eu", "us" };
    for (size_t i = 0; i < 2; i++) {
        const keel_pipeline_step *s = &p->steps[i];
        char want[200];
        snprintf(want, sizeof want, "fetch[%s]", items[i]);
        assert_string_equal(s->name, want);
        assert_string_equal(s->base, "fetch");
        snprintf(want, sizeof want, "get %s > data/%s.csv", items[i], items[i]);
        assert_string_equal(s->command, want);
        snprintf(want, sizeof want, "src/%s.url", items[i]);
        assert_int_equal(s->n_deps, 1);
        assert_string_equal(s->deps[0], want);
        snprintf(want, sizeof want, "data/%s.csv", items[i]);
        assert_int_equal(s->n_outs, 1);
        assert_string_equal(s->outs[0], want);
        assert_string_equal(kv_get(s->env, s->n_env, "REGION"), items[i]);
        assert_string_equal(kv_get(s->params, s->n_params, "region"), items[i]);
        assert_int_equal(s->line, 3);
    }
    keel_pipeline_free(p);
}

static const char sweep_yaml[] =
    "pipeline: sweep\n"                                                        /* 1 */
    "params:\n"                                                                /* 2 */
    "  data: train.csv\n"                                                      /* 3 */
    "steps:\n"                                                                 /* 4 */
    "  train:\n"                                                               /* 5 */
    "    foreach:\n"                                                           /* 6 */
    "      matrix:\n"                                                          /* 7 */
    "        depth: [3, 5]\n"                                                  /* 8 */
    "        eta: [0.1, 0.3]\n"                                                /* 9 */
    "    run: train --depth ${item.depth} --eta ${item.eta} ${params.data}\n"  /* 10 */
    "    deps: [\"${params.data}\"]\n"                                         /* 11 */
    "    outs: [\"models/d${item.depth}-e${item.eta}.bin\"]\n"                 /* 12 */
    "    env:\n"                                                               /* 13 */
    "      DEPTH: ${item.depth}\n"                                             /* 14 */
    "    params:\n"                                                            /* 15 */
    "      lr: ${item.eta}\n"                                                  /* 16 */
    "  report:\n"                                                              /* 17 */
    "    needs: [train]\n"                                                     /* 18 */
    "    run: report\n"                                                        /* 19 */
    "  best:\n"                                                                /* 20 */
    "    needs: [\"train[depth=5,eta=0.3]\"]\n"                                /* 21 */
    "    deps: [models/d3-e0.1.bin]\n"                                         /* 22 */
    "    run: best\n";                                                         /* 23 */

static void foreach_matrix_last_axis_fastest(void **state)
{
    (void)state;
    keel_pipeline *p = parse_ok(sweep_yaml);
    assert_int_equal(p->n_steps, 6);
    static const struct { const char *name, *depth, *eta; } want[] = {
        { "train[depth=3,eta=0.1]", "3", "0.1" },
        { "train[depth=3,eta=0.3]", "3", "0.3" },
        { "train[depth=5,eta=0.1]", "5", "0.1" },
        { "train[depth=5,eta=0.3]", "5", "0.3" },
    };
    for (size_t i = 0; i < 4; i++) {
        const keel_pipeline_step *s = &p->steps[i];
        char text[200];
        assert_string_equal(s->name, want[i].name);
        assert_string_equal(s->base, "train");
        snprintf(text, sizeof text, "train --depth %s --eta %s train.csv", want[i].depth,
                 want[i].eta);
        assert_string_equal(s->command, text);
        assert_string_equal(s->deps[0], "train.csv");
        snprintf(text, sizeof text, "models/d%s-e%s.bin", want[i].depth, want[i].eta);
        assert_string_equal(s->outs[0], text);
        assert_string_equal(kv_get(s->env, s->n_env, "DEPTH"), want[i].depth);
        assert_string_equal(kv_get(s->params, s->n_params, "lr"), want[i].eta);
        assert_int_equal(s->n_needs, 0);
        assert_int_equal(keel_pipeline_step_index(p, want[i].name), (long)i);
    }
    /* needs: [train] is every instance. */
    const keel_pipeline_step *report = step_named(p, "report");
    assert_int_equal(report->n_need_names, 1);
    assert_string_equal(report->need_names[0], "train");
    assert_int_equal(report->n_needs, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_true(has_index(report->needs, report->n_needs, i));
        assert_true(has_index(p->steps[i].dependents, p->steps[i].n_dependents, 4));
    }
    /* An instance by its full name, plus the producer of a dep. */
    const keel_pipeline_step *best = step_named(p, "best");
    assert_int_equal(best->n_needs, 2);
    assert_true(has_index(best->needs, best->n_needs, 3));
    assert_true(has_index(best->needs, best->n_needs, 0));
    assert_int_equal(p->steps[1].n_dependents, 1);   /* report only */
    keel_pipeline_free(p);

    /* -p reaches inside foreach instances too. */
    keel_kv ov[] = { { "data", "big.csv" } };
    p = parse_with(sweep_yaml, NULL, ov, 1);
    assert_string_equal(p->steps[2].command, "train --depth 5 --eta 0.1 big.csv");
    assert_string_equal(p->steps[2].deps[0], "big.csv");
    keel_pipeline_free(p);
}

static void implicit_needs_from_outputs(void **state)
{
    (void)state;
    keel_pipeline *p = parse_ok("pipeline: p\n"
                                "steps:\n"
                                "  prep:\n"
                                "    run: prep\n"
                                "    outs: [data/clean.csv, models/]\n"
                                "  stats:\n"
                                "    run: stats\n"
                                "    outs: [data/stats.json]\n"
                                "  train:\n"
                                "    run: train\n"
                                "    deps: [./data/clean.csv, train.py]\n"
                                "  use:\n"
                                "    run: use\n"
                                "    deps: [models/tree/m.bin]\n"
                                "  bundle:\n"
                                "    run: bundle\n"
                                "    deps: [data/]\n"
                                "  lone:\n"
                                "    run: lone\n"
                                "    deps: [data.csv, dat, models2]\n");
    const keel_pipeline_step *train = step_named(p, "train");
    assert_int_equal(train->n_needs, 1);
    assert_int_equal(train->needs[0], 0);
    /* A dep inside another step's output directory. */
    const keel_pipeline_step *use = step_named(p, "use");
    assert_int_equal(use->n_needs, 1);
    assert_int_equal(use->needs[0], 0);
    /* A dep directory holding outputs of two steps needs both. */
    const keel_pipeline_step *bundle = step_named(p, "bundle");
    assert_int_equal(bundle->n_needs, 2);
    assert_true(has_index(bundle->needs, bundle->n_needs, 0));
    assert_true(has_index(bundle->needs, bundle->n_needs, 1));
    /* Shared prefixes that are not path components do not count. */
    assert_int_equal(step_named(p, "lone")->n_needs, 0);
    assert_int_equal(p->steps[0].n_dependents, 3);
    assert_int_equal(p->steps[1].n_dependents, 1);
    keel_pipeline_free(p);
}

/* Names that sort between a directory and what is inside it ("m-1" and
 * "m.txt" fall between "m" and "m/x") neither hide nor fake a nesting. */
static void outputs_with_sibling_names(void **state)
{
    (void)state;
    keel_pipeline *p = parse_ok("pipeline: p\n"
                                "steps:\n"
                                "  dir:\n"
                                "    run: a\n"
                                "    outs: [m/b]\n"
                                "  dash:\n"
                                "    run: b\n"
                                "    outs: [m-b, m.c, m/bb]\n"
                                "  top:\n"
                                "    run: c\n"
                                "    outs: [m0]\n"
                                "  deep:\n"
                                "    run: d\n"
                                "    deps: [m/b/c/d.txt]\n"
                                "  under_m:\n"
                                "    run: e\n"
                                "    deps: [m]\n"
                                "  under_mb:\n"
                                "    run: f\n"
                                "    deps: [m/b/]\n");
    const keel_pipeline_step *deep = step_named(p, "deep");
    assert_int_equal(deep->n_needs, 1);
    assert_int_equal(deep->needs[0], 0);
    const keel_pipeline_step *under_m = step_named(p, "under_m");
    assert_int_equal(under_m->n_needs, 2);   /* m/b and m/bb, not m-b, m.c or m0 */
    assert_true(has_index(under_m->needs, under_m->n_needs, 0));
    assert_true(has_index(under_m->needs, under_m->n_needs, 1));
    const keel_pipeline_step *under_mb = step_named(p, "under_mb");
    assert_int_equal(under_mb->n_needs, 1);
    assert_int_equal(under_mb->needs[0], 0);
    keel_pipeline_free(p);

    parse_fails("pipeline: p\n"
                "steps:\n"
                "  a:\n"
                "    run: x\n"
                "    outs: [m, m-1, m.txt]\n"
                "  b:\n"
                "    run: y\n"
                "    outs: [m0, m/x/y]\n",
                "keel.yaml:6:3: ",
                "'m/x/y' is an output of both step 'a' (line 3) and step 'b' (inside");
}

/* A 50,000-instance matrix whose outputs share one directory, needed by
 * base name and through that directory: each edge costs O(1) or a binary
 * search, not a scan of the others (this took minutes when it did). */
static void wide_matrix_needs_stay_linear(void **state)
{
    (void)state;
    keel_pipeline *p = parse_ok(
        "pipeline: p\n"
        "steps:\n"
        "  t:\n"
        "    foreach: {matrix: {a: [0,1,2,3,4,5,6,7,8,9], b: [0,1,2,3,4,5,6,7,8,9], "
        "c: [0,1,2,3,4,5,6,7,8,9], d: [0,1,2,3,4,5,6,7,8,9], e: [0,1,2,3,4]}}\n"
        "    run: x\n"
        "    deps: [in.csv]\n"
        "    outs: [\"o/${item.a}${item.b}${item.c}${item.d}${item.e}\"]\n"
        "  r:\n"
        "    needs: [t]\n"
        "    deps: [o, o/12345]\n"
        "    run: y\n");
    assert_int_equal(p->n_steps, 50001);
    assert_string_equal(p->steps[49999].name, "t[a=9,b=9,c=9,d=9,e=4]");
    const keel_pipeline_step *r = &p->steps[50000];
    assert_int_equal(r->n_needs, 50000);
    for (size_t i = 0; i < 50000; i++) {
        assert_int_equal(p->steps[i].n_needs, 0);
        assert_int_equal(p->steps[i].n_dependents, 1);
        assert_int_equal(p->steps[i].dependents[0], 50000);
    }
    keel_pipeline_free(p);
}

static void uses_builds_a_quoted_keel_command(void **state)
{
    (void)state;
    const char *old = getenv("KEEL_BIN");
    char *saved = old != NULL ? strdup(old) : NULL;
    setenv("KEEL_BIN", "/opt/it's keel/keel", 1);
    keel_pipeline *p = parse_ok("pipeline: p\n"
                                "params:\n"
                                "  exp: demo\n"
                                "steps:\n"
                                "  list:\n"
                                "    uses: experiments list --name ${params.exp}\n");
    const keel_pipeline_step *s = &p->steps[0];
    assert_string_equal(s->uses, "experiments list --name demo");
    assert_string_equal(s->command, "'/opt/it'\\''s keel/keel' experiments list --name demo");
    keel_pipeline_free(p);
    if (saved != NULL)
        setenv("KEEL_BIN", saved, 1);
    else
        unsetenv("KEEL_BIN");
    free(saved);

    /* Shell expansions other than keel's stay for the shell. */
    p = parse_ok("pipeline: p\n"
                 "params:\n"
                 "  x: 1\n"
                 "steps:\n"
                 "  a:\n"
                 "    run: echo ${HOME} $HOME ${params.x} ${#PATH} ${itemz:-} ${\n");
    assert_null(p->steps[0].uses);
    assert_string_equal(p->steps[0].command, "echo ${HOME} $HOME 1 ${#PATH} ${itemz:-} ${");
    keel_pipeline_free(p);
}

static void durations_sizes_and_flags(void **state)
{
    (void)state;
    keel_pipeline *p = parse_ok("pipeline: p\n"
                                "steps:\n"
                                "  a:\n"
                                "    run: x\n"
                                "    retries: 3\n"
                                "    backoff: 30s\n"
                                "    timeout: 5m\n"
                                "    cache: false\n"
                                "    resources:\n"
                                "      cpus: 4\n"
                                "      memory: 512M\n"
                                "      gpus: 1\n"
                                "  b:\n"
                                "    run: y\n"
                                "    backoff: 500ms\n"
                                "    timeout: 90\n"
                                "    cache: yes\n"
                                "    resources:\n"
                                "      memory: 4G\n"
                                "  c:\n"
                                "    run: z\n"
                                "    timeout: 2h\n"
                                "    resources: {memory: 1.5g}\n"
                                "  d:\n"
                                "    run: w\n"
                                "    resources: {memory: 1024}\n");
    const keel_pipeline_step *a = &p->steps[0], *b = &p->steps[1], *c = &p->steps[2],
                             *d = &p->steps[3];
    assert_int_equal(a->retries, 3);
    assert_true(a->backoff_s == 30.0);
    assert_true(a->timeout_s == 300.0);
    assert_false(a->cache);
    assert_int_equal(a->cpus, 4);
    assert_int_equal(a->memory_mb, 512);
    assert_int_equal(a->gpus, 1);
    assert_true(b->backoff_s == 0.5);
    assert_true(b->timeout_s == 90.0);
    assert_true(b->cache);
    assert_int_equal(b->memory_mb, 4096);
    assert_int_equal(b->cpus, 0);
    assert_true(c->timeout_s == 7200.0);
    assert_int_equal(c->memory_mb, 1536);
    assert_int_equal(d->memory_mb, 1024);
    keel_pipeline_free(p);

    double v = -1;
    OK(keel_parse_duration("1d", &v));
    assert_true(v == 86400.0);
    OK(keel_parse_duration("1.5m", &v));
    assert_true(v == 90.0);
    OK(keel_parse_duration("0", &v));
    assert_true(v == 0.0);
    const char *bad[] = { "", "s", "-1s", "5x", "5 s", "nan", "inf", "1e999", "5sec" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (keel_parse_duration(bad[i], &v) != KEEL_EINVAL)
            fail_msg("duration \"%s\" accepted", bad[i]);
    assert_int_equal(keel_parse_duration(NULL, &v), KEEL_EINVAL);
}

/* ---- errors ---- */

static void yaml_and_document_errors(void **state)
{
    (void)state;
    parse_fails_with("pipeline: p\nsteps: @bad\n", NULL, NULL, 0, KEEL_EPARSE,
                     "keel.yaml:2:8: ", "found character that cannot start any token");
    parse_fails_with("pipeline: p\nsteps:\n  a: [x\n", NULL, NULL, 0, KEEL_EPARSE,
                     "keel.yaml:4:1: ", "did not find expected ',' or ']'");
    parse_fails("- a\n- b\n", "keel.yaml: expected a mapping with 'pipeline' and 'steps'", "");
    parse_fails("just text\n", "keel.yaml: expected a mapping", "");
    parse_fails("", "keel.yaml: expected a mapping", "");
    parse_fails("steps:\n  a:\n    run: x\n", "keel.yaml:1:1: ",
                "the pipeline needs a name ('pipeline: NAME')");
    parse_fails("pipeline: \"my pipe\"\nsteps:\n  a:\n    run: x\n", "keel.yaml:1:11: ",
                "a pipeline name must be non-empty, without spaces or '/'");
    parse_fails("pipeline: p\n", "keel.yaml:1:1: ", "pipeline 'p' has no 'steps'");
    parse_fails("pipeline: p\nsteps: {}\n", "keel.yaml:2:8: ", "the pipeline has no steps");
    parse_fails("pipeline: p\nsteps: [a, b]\n", "keel.yaml:2:8: ", "steps must be a mapping");
}

static void unknown_and_duplicate_keys(void **state)
{
    (void)state;
    parse_fails("pipeline: p\n"
                "stages: {}\n"
                "steps:\n"
                "  a:\n"
                "    run: x\n",
                "keel.yaml:2:1: ",
                "unknown key 'stages' in a pipeline (allowed: pipeline, params, schedule, "
                "catchup, slurm, steps)");
    parse_fails("pipeline: p\n"
                "steps:\n"
                "  a:\n"
                "    run: x\n"
                "    retry: 2\n",
                "keel.yaml:5:5: ", "unknown key 'retry' in a step (allowed: run, uses, needs,");
    parse_fails("pipeline: p\n"
                "steps:\n"
                "  a:\n"
                "    run: x\n"
                "    resources:\n"
                "      cpus: 2\n"
                "      cpu: 2\n",
                "keel.yaml:7:7: ",
                "unknown key 'cpu' in resources (allowed: cpus, memory, gpus)");
    parse_fails("pipeline: p\nslurm:\n  queue: gpu\nsteps:\n  a:\n    run: x\n",
                "keel.yaml:3:3: ", "unknown key 'queue' in slurm (allowed: partition, account)");
    parse_fails("pipeline: p\n"
                "steps:\n"
                "  a:\n"
                "    run: x\n"
                "  a:\n"
                "    run: y\n",
                "keel.yaml:5:3: ", "step 'a' is declared twice");
    parse_fails("pipeline: p\n"
                "steps:\n"
                "  a:\n"
                "    run: x\n"
                "    run: y\n",
                "keel.yaml:5:5: ", "key 'run' appears twice");
    parse_fails("pipeline: p\nsteps:\n  a:\n    run: x\n    env: {A: 1, A: 2}\n",
                "keel.yaml:5:17: ", "env: 'A' appears twice");
}

static void bad_step_names(void **state)
{
    (void)state;
    const char *names[] = { "x/y", "\"a b\"", "\"t[1]\"", "\"a,b\"", "\"a=b\"", "\"\"" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char yaml[200];
        snprintf(yaml, sizeof yaml, "pipeline: p\nsteps:\n  %s:\n    run: x\n", names[i]);
        parse_fails(yaml, "keel.yaml:3:3: ", "a step name must be a non-empty string without "
                                             "spaces, '/', ',', '=' or brackets");
    }
    parse_fails("pipeline: p\nsteps:\n  [a]:\n    run: x\n", "keel.yaml:3:3: ",
                "a step name must be");
    parse_fails("pipeline: p\nsteps:\n  a: echo\n", "keel.yaml:3:6: ", "a step must be a mapping");
}

static void run_and_uses_exactly_one(void **state)
{
    (void)state;
    parse_fails("pipeline: p\n"
                "steps:\n"
                "  a:\n"
                "    run: x\n"
                "    uses: experiments list\n",
                "keel.yaml:3:3: ", "step 'a' needs exactly one of 'run' or 'uses'");
    parse_fails("pipeline: p\n"
                "steps:\n"
                "  a:\n"
                "    retries: 1\n",
                "keel.yaml:3:3: ", "step 'a' needs exactly one of 'run' or 'uses'");
    parse_fails("pipeline: p\nsteps:\n  a:\n    run: \"\"\n", "keel.yaml:4:10: ",
                "the command is empty");
    parse_fails("pipeline: p\nsteps:\n  a:\n    run: x\n    deps: [a, \"\"]\n",
                "keel.yaml:5:15: ", "deps: empty entry");
}

static void wrong_types(void **state)
{
    (void)state;
    static const struct { const char *line; const char *prefix; const char *text; } cases[] = {
        { "    retries: x\n", "keel.yaml:5:14: ", "retries must be a whole number from 0 to 100" },
        { "    retries: 101\n", "keel.yaml:5:14: ",
          "retries must be a whole number from 0 to 100" },
        { "    retries: 2.5\n", "keel.yaml:5:14: ", "retries must be a whole number" },
        { "    cache: maybe\n", "keel.yaml:5:12: ", "cache must be true or false" },
        { "    timeout: soon\n", "keel.yaml:5:14: ",
          "timeout must be a duration such as 30s, 5m, 2h or a number of seconds" },
        { "    backoff: -5s\n", "keel.yaml:5:14: ", "backoff must be a duration" },
        { "    resources: {memory: lots}\n", "keel.yaml:5:25: ",
          "memory must be a size such as 512M or 4G" },
        { "    resources: {memory: 0}\n", "keel.yaml:5:25: ", "memory must be a size" },
        { "    resources: {cpus: 0}\n", "keel.yaml:5:23: ",
          "resources.cpus must be a whole number from 1 to 4096" },
        { "    resources: [cpus]\n", "keel.yaml:5:16: ", "resources must be a mapping" },
        { "    env: {A: [1]}\n", "keel.yaml:5:14: ", "env must be a string or number, not a list" },
        { "    env: [A]\n", "keel.yaml:5:10: ", "env must be a mapping" },
        { "    deps: {a: 1}\n", "keel.yaml:5:11: ", "deps must be a list of strings" },
        { "    outs: [{a: 1}]\n", "keel.yaml:5:12: ",
          "outs must be a string or number, not a mapping" },
        { "    desc: [a]\n", "keel.yaml:5:11: ", "desc must be a string" },
        { "    needs: {a: b}\n", "keel.yaml:5:12: ", "needs must be a list of strings" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char yaml[300];
        snprintf(yaml, sizeof yaml, "pipeline: p\nsteps:\n  a:\n    run: x\n%s", cases[i].line);
        parse_fails(yaml, cases[i].prefix, cases[i].text);
    }
    /* A mapping where the command should be. */
    parse_fails("pipeline: p\nsteps:\n  a:\n    run: {a: 1}\n", "keel.yaml:4:10: ",
                "run must be a string or number, not a mapping");
    parse_fails("pipeline: p\nsteps:\n  a:\n    uses: [a]\n", "keel.yaml:4:11: ",
                "uses must be a string or number, not a list");
    parse_fails("pipeline: p\ncatchup: sometimes\nsteps:\n  a:\n    run: x\n", "keel.yaml:2:10: ",
                "catchup must be true or false");
    parse_fails("pipeline: p\nparams: [a]\nsteps:\n  a:\n    run: x\n", "keel.yaml:2:9: ",
                "params must be a mapping");
    parse_fails("pipeline: p\nschedule: {a: 1}\nsteps:\n  a:\n    run: x\n", "keel.yaml:2:11: ",
                "schedule must be a string or number, not a mapping");
}

static void substitution_errors(void **state)
{
    (void)state;
    parse_fails("pipeline: p\n"
                "steps:\n"
                "  a:\n"
                "    run: echo ${params.missing}\n",
                "keel.yaml:4:10: ",
                "'${params.missing}' refers to nothing: no such step or pipeline param");
    parse_fails("pipeline: p\n"
                "steps:\n"
                "  a:\n"
                "    run: x\n"
                "    outs: [\"out/${item}\"]\n",
                "keel.yaml:5:12: ", "'${item}' refers to nothing: the step has no foreach");
    parse_fails("pipeline: p\n"
                "params:\n"
                "  x: 1\n"
                "steps:\n"
                "  a:\n"
                "    run: echo ${params.x\n",
                "keel.yaml:6:10: ", "unterminated '${' in \"echo ${params.x\"");
    parse_fails("pipeline: p\n"
                "steps:\n"
                "  a:\n"
                "    foreach: [1, 2]\n"
                "    run: echo ${item.k}\n",
                "keel.yaml:5:10: ", "'${item.k}' refers to nothing: no such foreach item key");
    parse_fails("pipeline: p\n"
                "steps:\n"
                "  a:\n"
                "    foreach: []\n"
                "    run: x\n",
                "keel.yaml:4:14: ", "foreach is empty");
    parse_fails("pipeline: p\nsteps:\n  a:\n    foreach: {matrix: {}}\n    run: x\n",
                "keel.yaml:4:23: ", "foreach.matrix is empty");
    parse_fails("pipeline: p\nsteps:\n  a:\n    foreach: {matrix: {k: []}}\n    run: x\n",
                "keel.yaml:4:27: ", "foreach.matrix values is empty");
    parse_fails("pipeline: p\nsteps:\n  a:\n    foreach: {k: [1]}\n    run: x\n",
                "keel.yaml:4:14: ", "foreach must be a list, or a mapping with one key 'matrix'");
    parse_fails("pipeline: p\nsteps:\n  a:\n    foreach: [[1]]\n    run: x\n",
                "keel.yaml:4:15: ", "foreach must be a string or number, not a list");
    parse_fails("pipeline: p\nsteps:\n  a:\n    foreach: [x, x]\n    run: x\n",
                "keel.yaml:3:3: ", "step instance 'a[x]' appears twice");
}

static void graph_errors(void **state)
{
    (void)state;
    parse_fails("pipeline: p\n"
                "steps:\n"
                "  a:\n"
                "    run: x\n"
                "    needs: [zz]\n",
                "keel.yaml:3:3: ", "step 'a' needs 'zz', which is not a step of pipeline 'p'");
    parse_fails("pipeline: p\n"
                "steps:\n"
                "  a:\n"
                "    run: x\n"
                "    needs: [a]\n",
                "keel.yaml:3:3: ", "step 'a' needs itself");
    /* A foreach instance needing its own base needs itself too. */
    parse_fails("pipeline: p\n"
                "steps:\n"
                "  a:\n"
                "    foreach: [1, 2]\n"
                "    run: x\n"
                "    needs: [a]\n",
                "keel.yaml:3:3: ", "step 'a[1]' needs itself");
    parse_fails("pipeline: p\n"
                "steps:\n"
                "  a:\n"
                "    run: x\n"
                "    needs: [b]\n"
                "  b:\n"
                "    run: y\n"
                "    needs: [a]\n",
                "keel.yaml:3:3: ", "the steps form a cycle: a -> b -> a (each needs the next)");
    /* d leads into the loop but is not part of it. */
    parse_fails("pipeline: p\n"
                "steps:\n"
                "  d:\n"
                "    run: d\n"
                "    needs: [a]\n"
                "  a:\n"
                "    run: x\n"
                "    needs: [b]\n"
                "  b:\n"
                "    run: y\n"
                "    needs: [c]\n"
                "  c:\n"
                "    run: z\n"
                "    needs: [a]\n",
                "keel.yaml:6:3: ", "the steps form a cycle: a -> b -> c -> a");
    /* A cycle made of files alone. */
    parse_fails("pipeline: p\n"
                "steps:\n"
                "  a:\n"
                "    run: x\n"
                "    deps: [b.txt]\n"
                "    outs: [a.txt]\n"
                "  b:\n"
                "    run: y\n"
                "    deps: [a.txt]\n"
                "    outs: [b.txt]\n",
                "keel.yaml:3:3: ", "the steps form a cycle: a -> b -> a");
    parse_fails("pipeline: p\n"
                "steps:\n"
                "  a:\n"
                "    run: x\n"
                "    outs: [o.txt]\n"
                "  b:\n"
                "    run: y\n"
                "    outs: [./o.txt]\n",
                "keel.yaml:6:3: ", "'o.txt' is an output of both step 'a' (line 3) and step 'b'");
    parse_fails("pipeline: p\n"
                "steps:\n"
                "  a:\n"
                "    run: x\n"
                "    outs: [models/]\n"
                "  b:\n"
                "    run: y\n"
                "    outs: [models/m.bin]\n",
                "keel.yaml:6:3: ",
                "'models/m.bin' is an output of both step 'a' (line 3) and step 'b' (inside "
                "the other's output directory)");
    parse_fails("pipeline: p\nsteps:\n  a:\n    run: x\n    outs: [../x]\n", "keel.yaml:3:3: ",
                "step 'a': output '../x' must be a path inside the pipeline's directory");
    parse_fails("pipeline: p\nsteps:\n  a:\n    run: x\n    outs: [/abs/x]\n", "keel.yaml:3:3: ",
                "step 'a': output '/abs/x' must be a path inside the pipeline's directory");
    parse_fails("pipeline: p\nsteps:\n  a:\n    run: x\n    outs: [a/../../x]\n",
                "keel.yaml:3:3: ", "output 'a/../../x' must be a path inside");
    parse_fails("pipeline: p\nsteps:\n  a:\n    run: x\n    outs: [a/..]\n",
                "keel.yaml:3:3: ", "output 'a/..' must be a path inside");
    parse_fails("pipeline: p\nsteps:\n  a:\n    run: x\n    outs: [.]\n", "keel.yaml:3:3: ",
                "output '.' must be a path inside");
    parse_fails("pipeline: p\nsteps:\n  a:\n    run: x\n    deps: [o/in]\n    outs: [o]\n",
                "keel.yaml:3:3: ", "step 'a' has 'o/in' both as a dep and as an output");
    parse_fails("pipeline: p\n"
                "schedule: 61 * * * *\n"
                "steps:\n"
                "  a:\n"
                "    run: x\n",
                "keel.yaml:2:11: ", "cron \"61 * * * *\": minute field: 61 is out of range 0-59");
}

/* ---- digests ---- */

static const char hello_sha256[] =
    "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

static void path_in(char out[PATH_MAX], const keel_test_ws *f, const char *rel)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", f->dir, rel);
    assert_true(n > 0 && n < PATH_MAX);
}

static void digest_of(keel_test_ws *f, const char *rel, char out[KEEL_SHA256_HEX_LEN + 1])
{
    char path[PATH_MAX];
    path_in(path, f, rel);
    int rc = keel_pipeline_path_digest(f->ws->store, path, out, &f->err);
    if (rc != KEEL_OK)
        fail_msg("digest of %s: %s", rel, f->err.msg);
}

static void file_digest_is_sha256_of_content(void **state)
{
    keel_test_ws *f = *state;
    char path[PATH_MAX], d[KEEL_SHA256_HEX_LEN + 1];
    path_in(path, f, "data/hello.txt");
    keel_test_write(path, "hello\n");
    digest_of(f, "data/hello.txt", d);
    assert_string_equal(d, hello_sha256);
    /* A second look (from the cache or not) agrees. */
    digest_of(f, "data/hello.txt", d);
    assert_string_equal(d, hello_sha256);
    path_in(path, f, "data/missing.txt");
    assert_int_equal(keel_pipeline_path_digest(f->ws->store, path, d, &f->err), KEEL_ENOTFOUND);
    assert_non_null(strstr(f->err.msg, "missing.txt does not exist"));
}

static void expected_dir_digest(const char *const *rels, const char *const *digests, size_t n,
                                char out[KEEL_SHA256_HEX_LEN + 1])
{
    keel_sha256 h;
    keel_err err;
    OK(keel_sha256_init(&h, &err));
    keel_sha256_update(&h, "dir\n", 4);
    for (size_t i = 0; i < n; i++) {
        keel_sha256_update(&h, rels[i], strlen(rels[i]) + 1);
        keel_sha256_update(&h, digests[i], KEEL_SHA256_HEX_LEN);
        keel_sha256_update(&h, "\n", 1);
    }
    keel_sha256_final(&h, out);
}

static void dir_digest_tracks_edits_adds_removes_renames(void **state)
{
    keel_test_ws *f = *state;
    char path[PATH_MAX], to[PATH_MAX];
    char d0[KEEL_SHA256_HEX_LEN + 1], d[KEEL_SHA256_HEX_LEN + 1], x[KEEL_SHA256_HEX_LEN + 1];
    path_in(path, f, "ds/b.txt");
    keel_test_write(path, "hello\n");
    path_in(path, f, "ds/a.txt");
    keel_test_write(path, "aaaa");
    path_in(path, f, "ds/sub/c.txt");
    keel_test_write(path, "hello\n");
    digest_of(f, "ds", d0);
    /* The documented form: "path NUL digest LF" per file, paths in byte order. */
    char a_digest[KEEL_SHA256_HEX_LEN + 1];
    keel_err err;
    OK(keel_sha256_hex("aaaa", 4, a_digest, &err));
    const char *rels[] = { "a.txt", "b.txt", "sub/c.txt" };
    const char *digests[] = { a_digest, hello_sha256, hello_sha256 };
    expected_dir_digest(rels, digests, 3, x);
    assert_string_equal(d0, x);
    digest_of(f, "ds/", d);
    assert_string_equal(d, d0);

    /* Edited in place, same size. */
    path_in(path, f, "ds/a.txt");
    keel_test_write(path, "bbbb");
    digest_of(f, "ds", d);
    assert_string_not_equal(d, d0);
    keel_test_write(path, "aaaa");
    digest_of(f, "ds", d);
    assert_string_equal(d, d0);

    /* Added, then removed again. */
    path_in(path, f, "ds/sub/new.txt");
    keel_test_write(path, "");
    digest_of(f, "ds", d);
    assert_string_not_equal(d, d0);
    assert_int_equal(unlink(path), 0);
    digest_of(f, "ds", d);
    assert_string_equal(d, d0);

    /* Removed. */
    path_in(path, f, "ds/b.txt");
    assert_int_equal(unlink(path), 0);
    digest_of(f, "ds", d);
    assert_string_not_equal(d, d0);
    keel_test_write(path, "hello\n");
    digest_of(f, "ds", d);
    assert_string_equal(d, d0);

    /* Renamed: same content under another name. */
    path_in(to, f, "ds/z.txt");
    assert_int_equal(rename(path, to), 0);
    digest_of(f, "ds", d);
    assert_string_not_equal(d, d0);
    const char *renamed_rels[] = { "a.txt", "sub/c.txt", "z.txt" };
    expected_dir_digest(renamed_rels, digests, 3, x);
    assert_string_equal(d, x);
    assert_int_equal(rename(to, path), 0);
    digest_of(f, "ds", d);
    assert_string_equal(d, d0);

    /* An empty directory has a digest of its own. */
    path_in(path, f, "empty");
    assert_int_equal(mkdir(path, 0755), 0);
    digest_of(f, "empty", d);
    expected_dir_digest(NULL, NULL, 0, x);
    assert_string_equal(d, x);
}

static int64_t ns_of(struct timespec t)
{
    return (int64_t)t.tv_sec * 1000000000ll + t.tv_nsec;
}

static void remember(keel_test_ws *f, const char *abs, const struct stat *st, int64_t recorded,
                     const char *digest)
{
    OK(keel_store_execv(f->ws->store,
                        "INSERT OR REPLACE INTO file_digests (path, size, mtime_ns, ctime_ns, "
                        "inode, recorded_ns, digest) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        NULL, &f->err, "tiiiiit", abs, (int64_t)st->st_size,
                        ns_of(st->st_mtim), ns_of(st->st_ctim), (int64_t)st->st_ino, recorded,
                        digest));
}

static const char *remembered(keel_test_ws *f, const char *abs, int64_t *out_recorded)
{
    keel_stmt *q = NULL;
    OK(keel_store_prepare(f->ws->store, "SELECT digest, recorded_ns FROM file_digests "
                                        "WHERE path = ?", false, &q, &f->err));
    keel_stmt_bind_text(q, 1, abs, -1);
    const char *digest = NULL;
    if (keel_stmt_step(q, &f->err) == KEEL_STEP_ROW) {
        digest = keel_arena_strdup(&f->arena, keel_stmt_text(q, 0));
        if (out_recorded != NULL)
            *out_recorded = keel_stmt_int64(q, 1);
    }
    keel_stmt_release(q);
    return digest;
}

static void set_mtime(const char *path, time_t when)
{
    struct timespec times[2] = { { when, 0 }, { when, 0 } };
    assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
}

static void stat_cache_serves_unchanged_files_outside_racy_window(void **state)
{
    keel_test_ws *f = *state;
    static const char fake[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char path[PATH_MAX], abs[PATH_MAX], d[KEEL_SHA256_HEX_LEN + 1];
    struct stat st;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);

    /* Hashing records the file's stat and digest. */
    path_in(path, f, "cache/old.txt");
    keel_test_write(path, "hello\n");
    assert_non_null(realpath(path, abs));
    int64_t before = ns_of(now);
    digest_of(f, "cache/old.txt", d);
    assert_string_equal(d, hello_sha256);
    int64_t recorded = 0;
    const char *kept = remembered(f, abs, &recorded);
    assert_non_null(kept);
    assert_string_equal(kept, hello_sha256);
    assert_true(recorded >= before);

    /* An old file whose stat matches a row recorded well after its mtime is
     * not read: the (wrong) remembered digest comes back, also inside a
     * directory digest. */
    set_mtime(path, now.tv_sec - 3600);
    assert_int_equal(stat(abs, &st), 0);
    remember(f, abs, &st, ns_of(now), fake);
    digest_of(f, "cache/old.txt", d);
    assert_string_equal(d, fake);
    digest_of(f, "cache", d);
    char x[KEEL_SHA256_HEX_LEN + 1];
    const char *rels[] = { "old.txt" };
    const char *digests[] = { fake };
    expected_dir_digest(rels, digests, 1, x);
    assert_string_equal(d, x);

    /* Same size and mtime but a new ctime (content rewritten, mtime put
     * back): read again. */
    keel_test_write(path, "HELLO\n");
    set_mtime(path, now.tv_sec - 3600);
    char upper[KEEL_SHA256_HEX_LEN + 1];
    keel_err err;
    OK(keel_sha256_hex("HELLO\n", 6, upper, &err));
    digest_of(f, "cache/old.txt", d);
    assert_string_equal(d, upper);
    assert_string_equal(remembered(f, abs, NULL), upper);

    /* Racy: modified less than a second before the row was recorded, so
     * a later write in the same tick could hide; hashed again. */
    path_in(path, f, "cache/fresh.txt");
    keel_test_write(path, "hello\n");
    assert_non_null(realpath(path, abs));
    assert_int_equal(stat(abs, &st), 0);
    remember(f, abs, &st, ns_of(st.st_mtim) + 500000000ll, fake);
    digest_of(f, "cache/fresh.txt", d);
    assert_string_equal(d, hello_sha256);
    assert_string_equal(remembered(f, abs, NULL), hello_sha256);
    /* The same row recorded two seconds after the mtime is trusted. */
    remember(f, abs, &st, ns_of(st.st_mtim) + 2000000000ll, fake);
    digest_of(f, "cache/fresh.txt", d);
    assert_string_equal(d, fake);
    /* A different inode (a replaced file) is not. */
    struct stat other = st;
    other.st_ino = st.st_ino + 1;
    remember(f, abs, &other, ns_of(st.st_mtim) + 2000000000ll, fake);
    digest_of(f, "cache/fresh.txt", d);
    assert_string_equal(d, hello_sha256);
}

/* ---- cache keys ---- */

typedef struct step_fixture {
    keel_kv env[1];
    keel_kv params[2];
    const char *deps[2];
    const char *outs[1];
    const char *digests[2];
    keel_pipeline_step step;
} step_fixture;

static void step_fixture_init(step_fixture *s)
{
    memset(s, 0, sizeof *s);
    s->env[0] = (keel_kv){ "SEED", "1" };
    s->params[0] = (keel_kv){ "lr", "0.1" };
    s->params[1] = (keel_kv){ "depth", "3" };
    s->deps[0] = "data/train.csv";
    s->deps[1] = "train.py";
    s->outs[0] = "model.bin";
    s->digests[0] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    s->digests[1] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    s->step = (keel_pipeline_step){
        .name = "train", .base = "train", .command = "python train.py",
        .deps = s->deps, .n_deps = 2, .outs = s->outs, .n_outs = 1,
        .params = s->params, .n_params = 2, .env = s->env, .n_env = 1, .cache = true,
    };
}

static void key_of(const step_fixture *s, char out[KEEL_SHA256_HEX_LEN + 1])
{
    json_t *in = pipeline_step_inputs(&s->step, s->digests);
    assert_non_null(in);
    pipeline_cache_key(in, out);
    json_decref(in);
    assert_int_equal(strlen(out), KEEL_SHA256_HEX_LEN);
}

static void cache_key_stable_and_sensitive(void **state)
{
    (void)state;
    step_fixture s;
    char base[KEEL_SHA256_HEX_LEN + 1], k[KEEL_SHA256_HEX_LEN + 1];
    step_fixture_init(&s);
    key_of(&s, base);
    key_of(&s, k);
    assert_string_equal(k, base);
    /* Equal inputs built separately, params in another order: same key. */
    step_fixture t;
    step_fixture_init(&t);
    t.params[0] = s.params[1];
    t.params[1] = s.params[0];
    t.step.name = "train[x=1]";      /* the instance name is not an input */
    key_of(&t, k);
    assert_string_equal(k, base);
    json_t *in = pipeline_step_inputs(&s.step, s.digests);
    assert_string_equal(json_string_value(json_object_get(in, "keel")),
                        keel_pipeline_cache_version());
    assert_string_equal(json_string_value(json_object_get(json_object_get(in, "deps"),
                                                          "train.py")),
                        s.digests[1]);
    json_decref(in);

    step_fixture_init(&t);
    t.step.command = "python train.py --fast";
    key_of(&t, k);
    assert_string_not_equal(k, base);
    step_fixture_init(&t);
    t.env[0].value = "2";
    key_of(&t, k);
    assert_string_not_equal(k, base);
    step_fixture_init(&t);
    t.params[0].value = "0.2";
    key_of(&t, k);
    assert_string_not_equal(k, base);
    step_fixture_init(&t);
    t.step.n_params = 1;
    key_of(&t, k);
    assert_string_not_equal(k, base);
    step_fixture_init(&t);
    t.digests[0] = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
    key_of(&t, k);
    assert_string_not_equal(k, base);
    step_fixture_init(&t);
    t.deps[1] = "train2.py";
    key_of(&t, k);
    assert_string_not_equal(k, base);
    step_fixture_init(&t);
    t.outs[0] = "model2.bin";
    key_of(&t, k);
    assert_string_not_equal(k, base);

    /* A `uses:` step keys on its keel subcommand, not where keel is installed. */
    char u1[KEEL_SHA256_HEX_LEN + 1], u2[KEEL_SHA256_HEX_LEN + 1];
    step_fixture_init(&t);
    t.step.uses = "experiments list";
    t.step.command = "'/usr/bin/keel' experiments list";
    key_of(&t, u1);
    t.step.command = "'/opt/keel/bin/keel' experiments list";
    key_of(&t, u2);
    assert_string_equal(u1, u2);
    assert_string_not_equal(u1, base);
    t.step.uses = "experiments list --all";
    key_of(&t, u2);
    assert_string_not_equal(u1, u2);
}

static void explain_miss_names_what_changed(void **state)
{
    (void)state;
    keel_arena a;
    keel_arena_init(&a, 0);
    step_fixture s, t;
    step_fixture_init(&s);
    json_t *prev = pipeline_step_inputs(&s.step, s.digests);

    step_fixture_init(&t);
    json_t *cur = pipeline_step_inputs(&t.step, t.digests);
    assert_non_null(strstr(pipeline_explain_miss(NULL, cur, &a), "never ran"));
    assert_string_equal(pipeline_explain_miss(prev, cur, &a),
                        "inputs as before, but no cached result (objects missing?)");
    json_decref(cur);

    t.digests[0] = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
    cur = pipeline_step_inputs(&t.step, t.digests);
    assert_string_equal(pipeline_explain_miss(prev, cur, &a),
                        "dep data/train.csv changed (aaaaaaaa → cccccccc)");
    json_decref(cur);

    step_fixture_init(&t);
    t.params[0].value = "0.2";
    cur = pipeline_step_inputs(&t.step, t.digests);
    assert_string_equal(pipeline_explain_miss(prev, cur, &a), "param lr changed (0.1 → 0.2)");
    json_decref(cur);

    step_fixture_init(&t);
    t.env[0].value = "7";
    cur = pipeline_step_inputs(&t.step, t.digests);
    assert_string_equal(pipeline_explain_miss(prev, cur, &a), "env SEED changed (1 → 7)");
    json_decref(cur);

    step_fixture_init(&t);
    t.step.command = "python train.py --fast";
    cur = pipeline_step_inputs(&t.step, t.digests);
    assert_string_equal(pipeline_explain_miss(prev, cur, &a), "command changed");
    json_decref(cur);

    /* Several at once, joined; params added and removed; outputs. */
    step_fixture_init(&t);
    t.step.command = "python train.py --fast";
    t.params[1] = (keel_kv){ "eta", "0.3" };
    t.deps[1] = "train2.py";
    t.outs[0] = "model2.bin";
    cur = pipeline_step_inputs(&t.step, t.digests);
    const char *why = pipeline_explain_miss(prev, cur, &a);
    assert_non_null(strstr(why, "command changed; "));
    assert_non_null(strstr(why, "new dep train2.py"));
    assert_non_null(strstr(why, "dep train.py removed"));
    assert_non_null(strstr(why, "new param eta"));
    assert_non_null(strstr(why, "param depth removed"));
    assert_non_null(strstr(why, "outputs changed"));
    assert_null(strstr(why, "env"));
    json_decref(cur);

    json_decref(prev);
    keel_arena_free(&a);
}

int main(int argc, char **argv)
{
#define WS(fn) cmocka_unit_test_setup_teardown(fn, keel_test_ws_setup, keel_test_ws_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(single_pipeline_defaults_and_positions),
        cmocka_unit_test(several_pipelines_by_name),
        cmocka_unit_test(params_and_overrides),
        cmocka_unit_test(foreach_list_substitutes_everywhere),
        cmocka_unit_test(foreach_matrix_last_axis_fastest),
        cmocka_unit_test(implicit_needs_from_outputs),
        cmocka_unit_test(outputs_with_sibling_names),
        cmocka_unit_test(wide_matrix_needs_stay_linear),
        cmocka_unit_test(uses_builds_a_quoted_keel_command),
        cmocka_unit_test(durations_sizes_and_flags),
        cmocka_unit_test(yaml_and_document_errors),
        cmocka_unit_test(unknown_and_duplicate_keys),
        cmocka_unit_test(bad_step_names),
        cmocka_unit_test(run_and_uses_exactly_one),
        cmocka_unit_test(wrong_types),
        cmocka_unit_test(substitution_errors),
        cmocka_unit_test(graph_errors),
        WS(file_digest_is_sha256_of_content),
        WS(dir_digest_tracks_edits_adds_removes_renames),
        WS(stat_cache_serves_unchanged_files_outside_racy_window),
        cmocka_unit_test(cache_key_stable_and_sensitive),
        cmocka_unit_test(explain_miss_names_what_changed),
    };
    return keel_test_main(argc, argv, "pipeline_spec", tests);
}
