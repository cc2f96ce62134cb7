/*
 * test_tracking.c — experiments, runs, params, metrics, tags, batches,
 * inputs, history, search and git lineage through the C API.
 */
#include "testutil.h"

#include <keel/tracking.h>
#include <keel/util.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixture {
    char dir[PATH_MAX];
    keel_store *store;
    keel_arena arena;
    keel_err err;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    keel_test_tmpdir(f->dir);
    char db[PATH_MAX + 16];
    snprintf(db, sizeof db, "%s/keel.db", f->dir);
    assert_int_equal(keel_store_open(db, &f->store, &f->err), KEEL_OK);
    keel_arena_init(&f->arena, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    keel_store_close(f->store);
    keel_arena_free(&f->arena);
    keel_test_rmrf(f->dir);
    free(f);
    return 0;
}

static const char *new_run_at(fixture *f, int64_t exp, const char *name, int64_t start_time)
{
    keel_run_create_opts opts = { .experiment_id = exp, .run_name = name,
                                  .start_time = start_time };
    const char *id = NULL;
    assert_int_equal(keel_run_create(f->store, &opts, &f->arena, &id, &f->err), KEEL_OK);
    return id;
}

static const char *new_run(fixture *f, int64_t exp, const char *name)
{
    return new_run_at(f, exp, name, 0);
}

static const char *tag_value(const keel_kv *tags, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(tags[i].key, key) == 0)
            return tags[i].value;
    }
    return NULL;
}

static void experiments_create_get_rename_delete_restore(void **state)
{
    fixture *f = *state;
    keel_kv tags[] = { { "team", "risk" } };
    int64_t id = 0;
    assert_int_equal(keel_experiment_create(f->store, "fraud", NULL, tags, 1, &id, &f->err),
                     KEEL_OK);
    assert_true(id > 0);
    assert_int_equal(keel_experiment_create(f->store, "fraud", NULL, NULL, 0, &id, &f->err),
                     KEEL_EEXIST);
    assert_non_null(strstr(f->err.msg, "fraud"));
    assert_int_equal(keel_experiment_create(f->store, "", NULL, NULL, 0, &id, &f->err),
                     KEEL_EINVAL);

    keel_experiment e;
    assert_int_equal(keel_experiment_get_by_name(f->store, "fraud", &f->arena, &e, &f->err),
                     KEEL_OK);
    assert_string_equal(e.lifecycle_stage, "active");
    assert_string_equal(tag_value(e.tags, e.n_tags, "team"), "risk");
    char expected[64];
    snprintf(expected, sizeof expected, "mlflow-artifacts:/%lld", (long long)e.experiment_id);
    assert_string_equal(e.artifact_location, expected);

    int64_t resolved = -1;
    assert_int_equal(keel_experiment_resolve(f->store, "fraud", &resolved, &f->err), KEEL_OK);
    assert_int_equal(resolved, e.experiment_id);
    assert_int_equal(keel_experiment_resolve(f->store, "0", &resolved, &f->err), KEEL_OK);
    assert_int_equal(resolved, 0);
    assert_int_equal(keel_experiment_resolve(f->store, "nope", &resolved, &f->err),
                     KEEL_ENOTFOUND);

    assert_int_equal(keel_experiment_rename(f->store, e.experiment_id, "fraud-v2", &f->err),
                     KEEL_OK);
    assert_int_equal(keel_experiment_get_by_name(f->store, "fraud", &f->arena, &e, &f->err),
                     KEEL_ENOTFOUND);
    assert_int_equal(keel_experiment_rename(f->store, e.experiment_id, "Default", &f->err),
                     KEEL_EEXIST);
    assert_int_equal(keel_experiment_rename(f->store, 999, "x", &f->err), KEEL_ENOTFOUND);

    const char *run = new_run(f, id, "r1");
    assert_int_equal(keel_experiment_delete(f->store, id, &f->err), KEEL_OK);
    assert_int_equal(keel_experiment_delete(f->store, id, &f->err), KEEL_ESTATE);
    keel_run r;
    assert_int_equal(keel_run_get(f->store, run, &f->arena, &r, &f->err), KEEL_OK);
    assert_string_equal(r.info.lifecycle_stage, "deleted");
    keel_run_create_opts opts = { .experiment_id = id };
    const char *ignored;
    assert_int_equal(keel_run_create(f->store, &opts, &f->arena, &ignored, &f->err),
                     KEEL_ESTATE);
    assert_int_equal(keel_experiment_restore(f->store, id, &f->err), KEEL_OK);
    assert_int_equal(keel_run_get(f->store, run, &f->arena, &r, &f->err), KEEL_OK);
    assert_string_equal(r.info.lifecycle_stage, "active");
    assert_int_equal(keel_experiment_delete(f->store, 0, &f->err), KEEL_EINVAL);
}

static void experiment_search_filters_and_pages(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "exp-%d", i);
        keel_kv tags[] = { { "parity", i % 2 == 0 ? "even" : "odd" } };
        assert_int_equal(keel_experiment_create(f->store, name, NULL, tags, 1, NULL, &f->err),
                         KEEL_OK);
    }
    const char *by_name[] = { "name ASC" };
    keel_experiment_search q = { .filter = "tags.parity = 'even'", .order_by = by_name,
                                 .n_order_by = 1 };
    keel_experiment *list;
    size_t n;
    const char *next;
    assert_int_equal(keel_experiment_search_run(f->store, &q, &f->arena, &list, &n, &next,
                                                &f->err), KEEL_OK);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].name, "exp-0");
    assert_string_equal(list[2].name, "exp-4");
    assert_null(next);

    keel_experiment_search paged = { .order_by = by_name, .n_order_by = 1, .max_results = 4 };
    assert_int_equal(keel_experiment_search_run(f->store, &paged, &f->arena, &list, &n, &next,
                                                &f->err), KEEL_OK);
    assert_int_equal(n, 4);
    assert_non_null(next);
    paged.page_token = next;
    assert_int_equal(keel_experiment_search_run(f->store, &paged, &f->arena, &list, &n, &next,
                                                &f->err), KEEL_OK);
    assert_int_equal(n, 2); /* 5 created + Default */
    assert_null(next);

    /* Ties on the first key are broken by the second. */
    assert_int_equal(keel_store_exec(f->store, "UPDATE experiments SET creation_time = "
                                     "CASE WHEN name IN ('exp-1', 'exp-3') THEN 1 ELSE 2 END",
                                     &f->err), KEEL_OK);
    const char *two_keys[] = { "creation_time ASC", "name DESC" };
    keel_experiment_search tied = { .order_by = two_keys, .n_order_by = 2 };
    assert_int_equal(keel_experiment_search_run(f->store, &tied, &f->arena, &list, &n, &next,
                                                &f->err), KEEL_OK);
    assert_int_equal(n, 6);
    assert_string_equal(list[0].name, "exp-3");
    assert_string_equal(list[1].name, "exp-1");
    assert_string_equal(list[2].name, "exp-4");
    assert_string_equal(list[5].name, "Default");

    keel_experiment_search bad = { .filter = "tags.parity ~ 'x'" };
    assert_int_not_equal(keel_experiment_search_run(f->store, &bad, &f->arena, &list, &n, &next,
                                                    &f->err), KEEL_OK);
    const char *bad_key[] = { "name ASC", "metrics.x DESC" };
    keel_experiment_search bad_order = { .order_by = bad_key, .n_order_by = 2 };
    assert_int_equal(keel_experiment_search_run(f->store, &bad_order, &f->arena, &list, &n, &next,
                                                &f->err), KEEL_EINVAL);
}

static void params_are_immutable(void **state)
{
    fixture *f = *state;
    const char *run = new_run(f, 0, "p");
    assert_int_equal(keel_run_log_param(f->store, run, "lr", "0.1", &f->err), KEEL_OK);
    assert_int_equal(keel_run_log_param(f->store, run, "lr", "0.1", &f->err), KEEL_OK);
    assert_int_equal(keel_run_log_param(f->store, run, "lr", "0.2", &f->err), KEEL_ECONFLICT);
    assert_non_null(strstr(f->err.msg, "'0.1'"));
    assert_non_null(strstr(f->err.msg, "'0.2'"));
    keel_run r;
    assert_int_equal(keel_run_get(f->store, run, &f->arena, &r, &f->err), KEEL_OK);
    assert_int_equal(r.n_params, 1);
    assert_string_equal(r.params[0].value, "0.1");
}

static void names_and_ids_are_validated(void **state)
{
    fixture *f = *state;
    const char *run = new_run(f, 0, "v");
    static const char *const bad_keys[] = { "", "a/../b", "/abs", "trailing/", "a//b",
                                            "semi;colon", "quote'", "new\nline", ".." };
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        assert_int_equal(keel_run_log_param(f->store, run, bad_keys[i], "x", &f->err),
                         KEEL_EINVAL);
        assert_int_equal(keel_run_log_metric(f->store, run, bad_keys[i], 1, 0, 0, &f->err),
                         KEEL_EINVAL);
    }
    char long_key[300];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    assert_int_equal(keel_run_set_tag(f->store, run, long_key, "x", &f->err), KEEL_EINVAL);
    assert_int_equal(keel_run_log_param(f->store, run, "ok/name-1.x:y z", "v", &f->err), KEEL_OK);
    char *long_value = malloc(KEEL_MAX_PARAM_VALUE_LEN + 2);
    memset(long_value, 'v', KEEL_MAX_PARAM_VALUE_LEN + 1);
    long_value[KEEL_MAX_PARAM_VALUE_LEN + 1] = '\0';
    assert_int_equal(keel_run_log_param(f->store, run, "big", long_value, &f->err), KEEL_EINVAL);
    free(long_value);

    assert_int_equal(keel_run_log_param(f->store, "not-a-run", "a", "b", &f->err),
                     KEEL_ENOTFOUND);
    assert_int_equal(keel_run_log_param(f->store, "", "a", "b", &f->err), KEEL_EINVAL);
    keel_run_create_opts clash = { .run_name = "a", .tags = &(keel_kv){ "mlflow.runName", "b" },
                                   .n_tags = 1 };
    const char *ignored = NULL;
    assert_int_equal(keel_run_create(f->store, &clash, &f->arena, &ignored, &f->err),
                     KEEL_EINVAL);
    assert_int_equal(keel_run_log_param(f->store, "0123456789abcdef0123456789abcdef", "a", "b",
                                        &f->err), KEEL_ENOTFOUND);
    keel_run r;
    assert_int_equal(keel_run_get(f->store, "0123456789abcdef0123456789abcdef", &f->arena, &r,
                                  &f->err), KEEL_ENOTFOUND);
    assert_int_equal(keel_run_update(f->store, run, "DONE", 0, NULL, &f->err), KEEL_EINVAL);
    assert_non_null(strstr(f->err.msg, "DONE"));
}

static void metrics_keep_history_and_latest(void **state)
{
    fixture *f = *state;
    const char *run = new_run(f, 0, "m");
    assert_int_equal(keel_run_log_metric(f->store, run, "loss", 0.9, 1000, 1, &f->err), KEEL_OK);
    assert_int_equal(keel_run_log_metric(f->store, run, "loss", 0.5, 1000, 3, &f->err), KEEL_OK);
    /* An older step logged later does not become the latest value. */
    assert_int_equal(keel_run_log_metric(f->store, run, "loss", 0.7, 2000, 2, &f->err), KEEL_OK);
    assert_int_equal(keel_run_log_metric(f->store, run, "odd", NAN, 0, 0, &f->err), KEEL_OK);
    assert_int_equal(keel_run_log_metric(f->store, run, "big", INFINITY, 0, 0, &f->err), KEEL_OK);
    assert_int_equal(keel_run_log_metric(f->store, run, "loss", 1, -5, 0, &f->err), KEEL_EINVAL);

    keel_run r;
    assert_int_equal(keel_run_get(f->store, run, &f->arena, &r, &f->err), KEEL_OK);
    assert_int_equal(r.n_metrics, 3);
    for (size_t i = 0; i < r.n_metrics; i++) {
        const keel_metric *m = &r.metrics[i];
        if (strcmp(m->key, "loss") == 0) {
            assert_true(m->value == 0.5);
            assert_int_equal(m->step, 3);
        } else if (strcmp(m->key, "odd") == 0) {
            assert_true(isnan(m->value));
        } else {
            assert_true(m->value == DBL_MAX); /* stored as MLflow stores +Inf */
        }
    }
    keel_metric *hist;
    size_t n;
    const char *next;
    assert_int_equal(keel_run_metric_history(f->store, run, "loss", 0, NULL, &f->arena, &hist,
                                             &n, &next, &f->err), KEEL_OK);
    assert_int_equal(n, 3);
    assert_int_equal(hist[0].step, 1);
    assert_int_equal(hist[1].step, 2);
    assert_int_equal(hist[2].step, 3);
    assert_null(next);
    assert_int_equal(keel_run_metric_history(f->store, run, "loss", 2, NULL, &f->arena, &hist,
                                             &n, &next, &f->err), KEEL_OK);
    assert_int_equal(n, 2);
    assert_non_null(next);
    assert_int_equal(keel_run_metric_history(f->store, run, "loss", 2, next, &f->arena, &hist,
                                             &n, &next, &f->err), KEEL_OK);
    assert_int_equal(n, 1);
    assert_true(hist[0].value == 0.5);
    assert_int_equal(keel_run_metric_history(f->store, run, "loss", 2, "garbage!", &f->arena,
                                             &hist, &n, &next, &f->err), KEEL_EINVAL);
}

static void batch_is_all_or_nothing(void **state)
{
    fixture *f = *state;
    const char *run = new_run(f, 0, "b");
    assert_int_equal(keel_run_log_param(f->store, run, "fixed", "1", &f->err), KEEL_OK);
    keel_metric metrics[] = { { "acc", 0.8, 0, 1 }, { "acc", 0.9, 0, 2 } };
    keel_kv params[] = { { "depth", "6" }, { "fixed", "2" } }; /* the second conflicts */
    keel_kv tags[] = { { "team", "risk" } };
    assert_int_equal(keel_run_log_batch(f->store, run, metrics, 2, params, 2, tags, 1, &f->err),
                     KEEL_ECONFLICT);
    keel_run r;
    assert_int_equal(keel_run_get(f->store, run, &f->arena, &r, &f->err), KEEL_OK);
    assert_int_equal(r.n_metrics, 0);
    assert_int_equal(r.n_params, 1);
    assert_null(tag_value(r.tags, r.n_tags, "team"));

    params[1].value = "1";
    assert_int_equal(keel_run_log_batch(f->store, run, metrics, 2, params, 2, tags, 1, &f->err),
                     KEEL_OK);
    assert_int_equal(keel_run_get(f->store, run, &f->arena, &r, &f->err), KEEL_OK);
    assert_int_equal(r.n_metrics, 1);
    assert_true(r.metrics[0].value == 0.9);
    assert_int_equal(r.n_params, 2);
    assert_string_equal(tag_value(r.tags, r.n_tags, "team"), "risk");

    /* MLflow's limits. */
    keel_kv many[101];
    for (int i = 0; i < 101; i++)
        many[i] = (keel_kv){ "k", "v" };
    assert_int_equal(keel_run_log_batch(f->store, run, NULL, 0, many, 101, NULL, 0, &f->err),
                     KEEL_EINVAL);
    assert_non_null(strstr(f->err.msg, "100 params"));
    keel_kv dup[] = { { "x", "1" }, { "x", "2" } };
    assert_int_equal(keel_run_log_batch(f->store, run, NULL, 0, dup, 2, NULL, 0, &f->err),
                     KEEL_EINVAL);
}

static void runs_update_delete_restore(void **state)
{
    fixture *f = *state;
    const char *run = new_run(f, 0, NULL);
    keel_run r;
    assert_int_equal(keel_run_get(f->store, run, &f->arena, &r, &f->err), KEEL_OK);
    assert_true(strlen(r.info.run_name) > 3); /* a generated name */
    assert_string_equal(tag_value(r.tags, r.n_tags, "mlflow.runName"), r.info.run_name);
    assert_string_equal(r.info.status, "RUNNING");
    assert_int_equal(r.info.end_time, 0);

    assert_int_equal(keel_run_update(f->store, run, "FINISHED", 0, "renamed", &f->err), KEEL_OK);
    assert_int_equal(keel_run_get(f->store, run, &f->arena, &r, &f->err), KEEL_OK);
    assert_string_equal(r.info.status, "FINISHED");
    assert_true(r.info.end_time > 0);
    assert_string_equal(r.info.run_name, "renamed");

    assert_int_equal(keel_run_set_tag(f->store, run, "mlflow.runName", "by-tag", &f->err),
                     KEEL_OK);
    assert_int_equal(keel_run_get(f->store, run, &f->arena, &r, &f->err), KEEL_OK);
    assert_string_equal(r.info.run_name, "by-tag");
    assert_int_equal(keel_run_delete_tag(f->store, run, "missing", &f->err), KEEL_ENOTFOUND);

    assert_int_equal(keel_run_delete(f->store, run, &f->err), KEEL_OK);
    assert_int_equal(keel_run_log_metric(f->store, run, "x", 1, 0, 0, &f->err), KEEL_ESTATE);
    assert_non_null(strstr(f->err.msg, "deleted"));
    assert_int_equal(keel_run_restore(f->store, run, &f->err), KEEL_OK);
    assert_int_equal(keel_run_log_metric(f->store, run, "x", 1, 0, 0, &f->err), KEEL_OK);
}

static void inputs_record_datasets_once(void **state)
{
    fixture *f = *state;
    const char *run = new_run(f, 0, "in");
    keel_kv ctx[] = { { "mlflow.data.context", "training" } };
    keel_dataset_input in = { .dataset = { .name = "adult", .digest = "abc123",
                                           .source_type = "local", .source = "/data/adult.csv" },
                              .tags = ctx, .n_tags = 1 };
    assert_int_equal(keel_run_log_inputs(f->store, run, &in, 1, &f->err), KEEL_OK);
    assert_int_equal(keel_run_log_inputs(f->store, run, &in, 1, &f->err), KEEL_OK);
    keel_run r;
    assert_int_equal(keel_run_get(f->store, run, &f->arena, &r, &f->err), KEEL_OK);
    assert_int_equal(r.n_inputs, 1);
    assert_string_equal(r.inputs[0].dataset.digest, "abc123");
    assert_int_equal(r.inputs[0].n_tags, 1);
    assert_string_equal(r.inputs[0].tags[0].value, "training");
    keel_dataset_input nameless = { .dataset = { .digest = "x" } };
    assert_int_equal(keel_run_log_inputs(f->store, run, &nameless, 1, &f->err), KEEL_EINVAL);
}

static void search_filters_orders_and_pages(void **state)
{
    fixture *f = *state;
    int64_t exp = 0;
    assert_int_equal(keel_experiment_create(f->store, "s", NULL, NULL, 0, &exp, &f->err), KEEL_OK);
    const char *ids[6];
    for (int i = 0; i < 6; i++) {
        char name[16], lr[16];
        snprintf(name, sizeof name, "r%d", i);
        snprintf(lr, sizeof lr, "%s", i % 2 == 0 ? "0.1" : "0.01");
        ids[i] = new_run_at(f, exp, name, 1000 + i); /* distinct start times: stable order */
        keel_metric m = { "acc", 0.5 + i * 0.1, 0, 0 };
        keel_kv p = { "lr", lr };
        keel_kv t = { "team", i < 3 ? "fraud" : "growth" };
        assert_int_equal(keel_run_log_batch(f->store, ids[i], &m, 1, &p, 1, &t, 1, &f->err),
                         KEEL_OK);
    }
    const char *order[] = { "metrics.acc DESC" };
    keel_run_search q = { .experiment_ids = &exp, .n_experiment_ids = 1,
                          .filter = "metrics.acc > 0.65 and params.lr = '0.1'",
                          .order_by = order, .n_order_by = 1 };
    keel_run *runs;
    size_t n;
    const char *next;
    assert_int_equal(keel_run_search_run(f->store, &q, &f->arena, &runs, &n, &next, &f->err),
                     KEEL_OK);
    assert_int_equal(n, 2); /* r2 (0.7) and r4 (0.9) */
    assert_string_equal(runs[0].info.run_id, ids[4]);
    assert_string_equal(runs[1].info.run_id, ids[2]);
    assert_int_equal(runs[0].n_params, 1);
    assert_string_equal(tag_value(runs[0].tags, runs[0].n_tags, "team"), "growth");

    q.filter = "tags.team LIKE 'fr%' and attributes.status = 'RUNNING'";
    assert_int_equal(keel_run_search_run(f->store, &q, &f->arena, &runs, &n, &next, &f->err),
                     KEEL_OK);
    assert_int_equal(n, 3);
    assert_string_equal(runs[0].info.run_id, ids[2]);

    /* Paging walks every run exactly once. */
    q.filter = NULL;
    q.max_results = 4;
    assert_int_equal(keel_run_search_run(f->store, &q, &f->arena, &runs, &n, &next, &f->err),
                     KEEL_OK);
    assert_int_equal(n, 4);
    assert_non_null(next);
    assert_string_equal(runs[0].info.run_id, ids[5]);
    q.page_token = next;
    assert_int_equal(keel_run_search_run(f->store, &q, &f->arena, &runs, &n, &next, &f->err),
                     KEEL_OK);
    assert_int_equal(n, 2);
    assert_null(next);
    assert_string_equal(runs[1].info.run_id, ids[0]);

    /* Deleted runs only in the views that ask for them. */
    assert_int_equal(keel_run_delete(f->store, ids[5], &f->err), KEEL_OK);
    keel_run_search all = { .experiment_ids = &exp, .n_experiment_ids = 1 };
    assert_int_equal(keel_run_search_run(f->store, &all, &f->arena, &runs, &n, &next, &f->err),
                     KEEL_OK);
    assert_int_equal(n, 5);
    all.view = KEEL_VIEW_DELETED_ONLY;
    assert_int_equal(keel_run_search_run(f->store, &all, &f->arena, &runs, &n, &next, &f->err),
                     KEEL_OK);
    assert_int_equal(n, 1);

    keel_run_search bad = { .filter = "metrics.acc > 0.5 and" };
    assert_int_not_equal(keel_run_search_run(f->store, &bad, &f->arena, &runs, &n, &next,
                                             &f->err), KEEL_OK);
    assert_non_null(strstr(f->err.msg, "position"));
    keel_run_search toomany = { .max_results = KEEL_SEARCH_MAX_RESULTS + 1 };
    assert_int_equal(keel_run_search_run(f->store, &toomany, &f->arena, &runs, &n, &next,
                                         &f->err), KEEL_EINVAL);
}

static void git_lineage_records_commit_and_dirty_flag(void **state)
{
    fixture *f = *state;
    char repo[PATH_MAX + 16];
    snprintf(repo, sizeof repo, "%s/repo", f->dir);
    assert_int_equal(keel_test_sh("mkdir -p '%s' && cd '%s' && git init -q && "
                                  "git config user.email t@example.com && git config user.name t && "
                                  "echo a > f.txt && git add f.txt && git commit -qm init", repo,
                                  repo), 0);
    const char *run = new_run(f, 0, "git");
    assert_int_equal(keel_run_record_git(f->store, run, repo, &f->err), KEEL_OK);
    keel_run r;
    assert_int_equal(keel_run_get(f->store, run, &f->arena, &r, &f->err), KEEL_OK);
    const char *commit = tag_value(r.tags, r.n_tags, "mlflow.source.git.commit");
    assert_non_null(commit);
    assert_int_equal(strlen(commit), 40);
    assert_string_equal(tag_value(r.tags, r.n_tags, "keel.source.git.dirty"), "false");
    assert_int_equal(keel_test_sh("cd '%s' && git rev-parse HEAD | grep -q %s", repo, commit), 0);

    assert_int_equal(keel_test_sh("echo b >> '%s/f.txt'", repo), 0);
    const char *dirty = new_run(f, 0, "dirty");
    assert_int_equal(keel_run_record_git(f->store, dirty, repo, &f->err), KEEL_OK);
    assert_int_equal(keel_run_get(f->store, dirty, &f->arena, &r, &f->err), KEEL_OK);
    assert_string_equal(tag_value(r.tags, r.n_tags, "keel.source.git.dirty"), "true");

    /* Outside any repository nothing is recorded and nothing fails. */
    const char *plain = new_run(f, 0, "plain");
    assert_int_equal(keel_run_record_git(f->store, plain, "/", &f->err), KEEL_OK);
    assert_int_equal(keel_run_get(f->store, plain, &f->arena, &r, &f->err), KEEL_OK);
    assert_null(tag_value(r.tags, r.n_tags, "mlflow.source.git.commit"));
}

int main(int argc, char **argv)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(experiments_create_get_rename_delete_restore),
        T(experiment_search_filters_and_pages),
        T(params_are_immutable),
        T(names_and_ids_are_validated),
        T(metrics_keep_history_and_latest),
        T(batch_is_all_or_nothing),
        T(runs_update_delete_restore),
        T(inputs_record_datasets_once),
        T(search_filters_orders_and_pages),
        T(git_lineage_records_commit_and_dirty_flag),
    };
    return keel_test_main(argc, argv, "tracking", tests);
}
