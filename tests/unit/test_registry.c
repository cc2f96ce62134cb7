/*
 * test_registry.c — the model registry through its C API: models, versions
 * (numbering after deletion), stages and archive_existing, aliases and the
 * compare-and-set move (raced by two processes), rename cascades, search
 * with filters, ordering and pages, models:/ URIs, the audit history,
 * lineage from a real run, and the MLflow JSON shapes.
 */
#include "testutil.h"

#include <keel/json.h>
#include <keel/registry.h>
#include <keel/tracking.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct fixture {
    char dir[PATH_MAX];
    char db[PATH_MAX + 16];
    keel_store *store;
    keel_arena arena;
    keel_err err;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    keel_test_tmpdir(f->dir);
    snprintf(f->db, sizeof f->db, "%s/keel.db", f->dir);
    assert_int_equal(keel_store_open(f->db, &f->store, &f->err), KEEL_OK);
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

#define OK(call) assert_int_equal((call), KEEL_OK)

/* Asserts call fails with code and a message containing needle. */
#define FAILS(call, want, needle)                                              \
    do {                                                                       \
        assert_int_equal((call), (want));                                      \
        assert_int_equal(f->err.code, (want));                                 \
        if (strstr(f->err.msg, (needle)) == NULL)                              \
            fail_msg("message '%s' lacks '%s'", f->err.msg, (needle));         \
    } while (0)

static const char *tag_value(const keel_kv *tags, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(tags[i].key, key) == 0)
            return tags[i].value;
    return NULL;
}

static int64_t new_version(fixture *f, const char *name, const char *source)
{
    keel_model_version_create c = { .name = name, .source = source };
    int64_t v = 0;
    OK(keel_model_version_create_run(f->store, &c, "alice", &v, &f->err));
    return v;
}

static void new_model(fixture *f, const char *name)
{
    OK(keel_model_create(f->store, name, NULL, NULL, 0, "alice", &f->err));
}

static const char *run_id_of(fixture *f, const char *name)
{
    keel_run_create_opts opts = { .experiment_id = 0, .run_name = name };
    const char *id = NULL;
    OK(keel_run_create(f->store, &opts, &f->arena, &id, &f->err));
    return id;
}

/* ---- models ---- */

static void models_create_get_update_tags_delete(void **state)
{
    fixture *f = *state;
    keel_kv tags[] = { { "team", "risk" }, { "tier", "1" } };
    OK(keel_model_create(f->store, "fraud", "catches fraud", tags, 2, "alice", &f->err));
    FAILS(keel_model_create(f->store, "fraud", NULL, NULL, 0, "bob", &f->err), KEEL_EEXIST,
          "Registered Model (name=fraud) already exists");

    FAILS(keel_model_create(f->store, "", NULL, NULL, 0, "a", &f->err), KEEL_EINVAL, "empty");
    FAILS(keel_model_create(f->store, "a/b", NULL, NULL, 0, "a", &f->err), KEEL_EINVAL, "a/b");
    FAILS(keel_model_create(f->store, NULL, NULL, NULL, 0, "a", &f->err), KEEL_EINVAL, "empty");
    char long_name[KEEL_MODEL_NAME_MAX + 2];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    FAILS(keel_model_create(f->store, long_name, NULL, NULL, 0, "a", &f->err), KEEL_EINVAL,
          "longer than");
    long_name[KEEL_MODEL_NAME_MAX] = '\0';
    OK(keel_model_create(f->store, long_name, NULL, NULL, 0, "a", &f->err));
    keel_kv bad_tag[] = { { "", "v" } };
    FAILS(keel_model_create(f->store, "t", NULL, bad_tag, 1, "a", &f->err), KEEL_EINVAL,
          "tag");
    /* nothing half-written: the failed create left no model */
    keel_registered_model m;
    FAILS(keel_model_get(f->store, "t", &f->arena, &m, &f->err), KEEL_ENOTFOUND, "name=t");

    OK(keel_model_get(f->store, "fraud", &f->arena, &m, &f->err));
    assert_string_equal(m.name, "fraud");
    assert_string_equal(m.description, "catches fraud");
    assert_int_equal(m.n_tags, 2);
    assert_string_equal(tag_value(m.tags, m.n_tags, "team"), "risk");
    assert_int_equal(m.n_aliases, 0);
    assert_int_equal(m.n_latest_versions, 0);
    assert_true(m.creation_time > 0 && m.last_updated_time == m.creation_time);

    FAILS(keel_model_get(f->store, "nope", &f->arena, &m, &f->err), KEEL_ENOTFOUND, "nope");
    FAILS(keel_model_update(f->store, "nope", "d", "a", &f->err), KEEL_ENOTFOUND, "nope");
    OK(keel_model_update(f->store, "fraud", "better", "bob", &f->err));
    OK(keel_model_get(f->store, "fraud", &f->arena, &m, &f->err));
    assert_string_equal(m.description, "better");

    OK(keel_model_set_tag(f->store, "fraud", "team", "ops", "bob", &f->err));
    OK(keel_model_delete_tag(f->store, "fraud", "tier", "bob", &f->err));
    OK(keel_model_delete_tag(f->store, "fraud", "never-set", "bob", &f->err));
    FAILS(keel_model_set_tag(f->store, "nope", "k", "v", "a", &f->err), KEEL_ENOTFOUND, "nope");
    FAILS(keel_model_set_tag(f->store, "fraud", "../x", "v", "a", &f->err), KEEL_EINVAL, "tag");
    char big[5002];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    FAILS(keel_model_set_tag(f->store, "fraud", "k", big, "a", &f->err), KEEL_EINVAL,
          "tag value");
    FAILS(keel_model_delete_tag(f->store, "nope", "k", "a", &f->err), KEEL_ENOTFOUND, "nope");
    OK(keel_model_get(f->store, "fraud", &f->arena, &m, &f->err));
    assert_int_equal(m.n_tags, 1);
    assert_string_equal(m.tags[0].value, "ops");

    int64_t v = new_version(f, "fraud", "s3://bucket/model");
    OK(keel_model_alias_set(f->store, "fraud", "prod", v, "a", NULL, &f->err));
    OK(keel_model_version_set_tag(f->store, "fraud", v, "k", "v", "a", &f->err));
    OK(keel_model_delete(f->store, "fraud", "carol", &f->err));
    FAILS(keel_model_get(f->store, "fraud", &f->arena, &m, &f->err), KEEL_ENOTFOUND, "fraud");
    FAILS(keel_model_delete(f->store, "fraud", "carol", &f->err), KEEL_ENOTFOUND, "fraud");
    /* the name is free again and numbering starts over for the new model */
    new_model(f, "fraud");
    assert_int_equal(new_version(f, "fraud", "s3://bucket/model2"), 1);
    /* the audit log kept the record of the deleted model */
    keel_audit_entry *h;
    size_t n;
    OK(keel_model_history(f->store, "fraud", &f->arena, &h, &n, &f->err));
    bool saw_delete = false;
    for (size_t i = 0; i < n; i++)
        saw_delete |= strcmp(h[i].action, "delete_model") == 0 && strcmp(h[i].actor, "carol") == 0;
    assert_true(saw_delete);
}

/* ---- versions ---- */

static void versions_number_and_never_reuse_after_delete(void **state)
{
    fixture *f = *state;
    new_model(f, "m");
    keel_registered_model m;
    OK(keel_model_get(f->store, "m", &f->arena, &m, &f->err));
    int64_t created = m.last_updated_time;
    OK(keel_store_execv(f->store, "UPDATE registered_models SET last_updated_time = 1", NULL,
                        &f->err, ""));
    assert_int_equal(new_version(f, "m", "s3://a/1"), 1);
    OK(keel_model_get(f->store, "m", &f->arena, &m, &f->err));
    assert_true(m.last_updated_time >= created);  /* bumped with the new version */
    assert_int_equal(new_version(f, "m", "s3://a/2"), 2);
    assert_int_equal(new_version(f, "m", "s3://a/3"), 3);
    OK(keel_model_alias_set(f->store, "m", "champion", 3, "a", "best", &f->err));
    OK(keel_model_version_set_tag(f->store, "m", 3, "k", "v", "a", &f->err));
    OK(keel_model_version_delete(f->store, "m", 3, "bob", &f->err));
    FAILS(keel_model_version_delete(f->store, "m", 3, "bob", &f->err), KEEL_ENOTFOUND,
          "version=3");
    keel_model_version v;
    FAILS(keel_model_version_get(f->store, "m", 3, &f->arena, &v, &f->err), KEEL_ENOTFOUND,
          "Model Version (name=m, version=3) not found");
    /* MLflow keeps counting: the deleted number is not handed out again */
    assert_int_equal(new_version(f, "m", "s3://a/4"), 4);
    /* the alias went with the version */
    FAILS(keel_model_alias_get(f->store, "m", "champion", &f->arena, &v, &f->err),
          KEEL_ENOTFOUND, "champion");
    FAILS(keel_model_version_set_tag(f->store, "m", 3, "k", "v", "a", &f->err), KEEL_ENOTFOUND,
          "version=3");
    FAILS(keel_model_version_transition(f->store, "m", 3, "Staging", false, "a", &f->err),
          KEEL_ENOTFOUND, "version=3");

    /* errors name the model and version */
    keel_model_version_create c = { .name = "ghost", .source = "s3://x" };
    int64_t out = 0;
    FAILS(keel_model_version_create_run(f->store, &c, "a", &out, &f->err), KEEL_ENOTFOUND,
          "ghost");
    c = (keel_model_version_create){ .name = "m", .source = "" };
    FAILS(keel_model_version_create_run(f->store, &c, "a", &out, &f->err), KEEL_EINVAL, "source");
    FAILS(keel_model_version_get(f->store, "m", 0, &f->arena, &v, &f->err), KEEL_EINVAL, "0");
    FAILS(keel_model_version_get(f->store, "m", 99, &f->arena, &v, &f->err), KEEL_ENOTFOUND,
          "version=99");
    FAILS(keel_model_version_get(f->store, "nope", 1, &f->arena, &v, &f->err), KEEL_ENOTFOUND,
          "nope");

    /* get, update, tags */
    OK(keel_model_version_get(f->store, "m", 2, &f->arena, &v, &f->err));
    assert_string_equal(v.name, "m");
    assert_int_equal(v.version, 2);
    assert_string_equal(v.source, "s3://a/2");
    assert_string_equal(v.current_stage, "None");
    assert_string_equal(v.status, "READY");
    assert_string_equal(v.user_id, "alice");
    assert_string_equal(v.run_id, "");
    assert_string_equal(v.description, "");
    assert_null(v.signature);
    OK(keel_model_version_update(f->store, "m", 2, "second", "bob", &f->err));
    FAILS(keel_model_version_update(f->store, "m", 3, "x", "bob", &f->err), KEEL_ENOTFOUND,
          "version=3");
    OK(keel_model_version_set_tag(f->store, "m", 2, "validated", "yes", "bob", &f->err));
    OK(keel_model_version_set_tag(f->store, "m", 2, "owner", "bob", "bob", &f->err));
    OK(keel_model_version_delete_tag(f->store, "m", 2, "owner", "bob", &f->err));
    OK(keel_model_version_delete_tag(f->store, "m", 2, "never", "bob", &f->err));
    FAILS(keel_model_version_delete_tag(f->store, "m", 7, "k", "bob", &f->err), KEEL_ENOTFOUND,
          "version=7");
    OK(keel_model_version_get(f->store, "m", 2, &f->arena, &v, &f->err));
    assert_string_equal(v.description, "second");
    assert_int_equal(v.n_tags, 1);
    assert_string_equal(v.tags[0].key, "validated");

    /* run ids from sources, checked */
    const char *run = run_id_of(f, "trainer");
    char src[256];
    snprintf(src, sizeof src, "runs:/%s/model", run);
    c = (keel_model_version_create){ .name = "m", .source = src, .description = "d",
                                     .signature = "{\"inputs\":[]}" };
    keel_kv vtags[] = { { "k", "v" } };
    c.tags = vtags;
    c.n_tags = 1;
    OK(keel_model_version_create_run(f->store, &c, "a", &out, &f->err));
    assert_int_equal(out, 5);
    OK(keel_model_version_get(f->store, "m", 5, &f->arena, &v, &f->err));
    assert_string_equal(v.run_id, run);
    assert_string_equal(v.run_link, "");
    assert_string_equal(v.signature, "{\"inputs\":[]}");
    assert_int_equal(v.n_tags, 1);
    const char *rid, *path;
    OK(keel_model_version_artifacts(&v, &f->arena, &rid, &path, &f->err));
    assert_string_equal(rid, run);
    assert_string_equal(path, "model");

    snprintf(src, sizeof src, "mlflow-artifacts:/0/%s/artifacts/models/xgb/", run);
    c = (keel_model_version_create){ .name = "m", .source = src };
    OK(keel_model_version_create_run(f->store, &c, "a", &out, &f->err));
    OK(keel_model_version_get(f->store, "m", out, &f->arena, &v, &f->err));
    assert_string_equal(v.run_id, run);
    OK(keel_model_version_artifacts(&v, &f->arena, &rid, &path, &f->err));
    assert_string_equal(path, "models/xgb");

    c = (keel_model_version_create){ .name = "m", .source = "runs:/not-a-run/model" };
    FAILS(keel_model_version_create_run(f->store, &c, "a", &out, &f->err), KEEL_EINVAL,
          "not-a-run");
    c = (keel_model_version_create){ .name = "m", .source = "s3://x", .run_id = "xyz" };
    FAILS(keel_model_version_create_run(f->store, &c, "a", &out, &f->err), KEEL_EINVAL, "xyz");
    c = (keel_model_version_create){ .name = "m", .source = "s3://x", .run_id = run,
                                     .run_link = "http://elsewhere/run" };
    OK(keel_model_version_create_run(f->store, &c, "a", &out, &f->err));
    OK(keel_model_version_get(f->store, "m", out, &f->arena, &v, &f->err));
    assert_string_equal(v.run_id, run);
    assert_string_equal(v.run_link, "http://elsewhere/run");
    FAILS(keel_model_version_artifacts(&v, &f->arena, &rid, &path, &f->err), KEEL_EINVAL,
          "s3://x");
}

/* ---- stages ---- */

static void stages_transition_and_archive_existing(void **state)
{
    fixture *f = *state;
    new_model(f, "m");
    for (int i = 0; i < 4; i++)
        new_version(f, "m", "s3://m");
    OK(keel_model_version_transition(f->store, "m", 1, "production", false, "a", &f->err));
    OK(keel_model_version_transition(f->store, "m", 2, "PRODUCTION", false, "a", &f->err));
    OK(keel_model_version_transition(f->store, "m", 3, "Staging", false, "a", &f->err));
    FAILS(keel_model_version_transition(f->store, "m", 4, "prod", false, "a", &f->err),
          KEEL_EINVAL, "prod");
    FAILS(keel_model_version_transition(f->store, "m", 4, "Archived", true, "a", &f->err),
          KEEL_EINVAL, "archive");
    FAILS(keel_model_version_transition(f->store, "nope", 1, "None", false, "a", &f->err),
          KEEL_ENOTFOUND, "nope");

    keel_model_version v;
    OK(keel_model_version_get(f->store, "m", 1, &f->arena, &v, &f->err));
    assert_string_equal(v.current_stage, "Production");

    keel_model_version *latest;
    size_t n;
    OK(keel_model_latest_versions(f->store, "m", NULL, 0, &f->arena, &latest, &n, &f->err));
    assert_int_equal(n, 3);  /* None: 4, Staging: 3, Production: 2 */
    assert_string_equal(latest[0].current_stage, "None");
    assert_int_equal(latest[0].version, 4);
    assert_int_equal(latest[1].version, 3);
    assert_int_equal(latest[2].version, 2);
    const char *prod[] = { "production" };
    OK(keel_model_latest_versions(f->store, "m", prod, 1, &f->arena, &latest, &n, &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(latest[0].version, 2);
    const char *bad[] = { "live" };
    FAILS(keel_model_latest_versions(f->store, "m", bad, 1, &f->arena, &latest, &n, &f->err),
          KEEL_EINVAL, "live");
    FAILS(keel_model_latest_versions(f->store, "x", NULL, 0, &f->arena, &latest, &n, &f->err),
          KEEL_ENOTFOUND, "x");

    /* version 4 to Production archives 1 and 2, not the Staging one */
    OK(keel_model_version_transition(f->store, "m", 4, "Production", true, "carol", &f->err));
    static const char *const want[] = { "Archived", "Archived", "Staging", "Production" };
    for (int i = 0; i < 4; i++) {
        OK(keel_model_version_get(f->store, "m", i + 1, &f->arena, &v, &f->err));
        assert_string_equal(v.current_stage, want[i]);
    }
    keel_registered_model m;
    OK(keel_model_get(f->store, "m", &f->arena, &m, &f->err));
    assert_int_equal(m.n_latest_versions, 3);  /* Staging 3, Production 4, Archived 2 */
    assert_int_equal(m.latest_versions[0].version, 3);
    assert_int_equal(m.latest_versions[1].version, 4);
    assert_int_equal(m.latest_versions[2].version, 2);
    assert_string_equal(m.latest_versions[2].current_stage, "Archived");

    /* each archived version is audited */
    keel_audit_entry *h;
    size_t nh;
    OK(keel_model_history(f->store, "m", &f->arena, &h, &nh, &f->err));
    int archived = 0;
    for (size_t i = 0; i < nh; i++) {
        if (strcmp(h[i].action, "transition") == 0 && h[i].new_value != NULL &&
            strcmp(h[i].new_value, "Archived") == 0) {
            archived++;
            assert_string_equal(h[i].old_value, "Production");
            assert_string_equal(h[i].actor, "carol");
            assert_non_null(strstr(h[i].reason, "version 4"));
        }
    }
    assert_int_equal(archived, 2);
}

/* ---- aliases ---- */

static void aliases_set_get_delete_and_reserved_names(void **state)
{
    fixture *f = *state;
    new_model(f, "m");
    new_version(f, "m", "s3://1");
    new_version(f, "m", "s3://2");
    OK(keel_model_alias_set(f->store, "m", "champion", 1, "a", "first", &f->err));
    OK(keel_model_alias_set(f->store, "m", "challenger", 2, "a", NULL, &f->err));
    OK(keel_model_alias_set(f->store, "m", "champion", 2, "b", "better auc", &f->err));

    keel_model_version v;
    OK(keel_model_alias_get(f->store, "m", "champion", &f->arena, &v, &f->err));
    assert_int_equal(v.version, 2);
    assert_int_equal(v.n_aliases, 2);
    assert_string_equal(v.aliases[0], "challenger");
    assert_string_equal(v.aliases[1], "champion");
    keel_registered_model m;
    OK(keel_model_get(f->store, "m", &f->arena, &m, &f->err));
    assert_int_equal(m.n_aliases, 2);
    assert_string_equal(m.aliases[1].alias, "champion");
    assert_int_equal(m.aliases[1].version, 2);

    FAILS(keel_model_alias_set(f->store, "m", "latest", 1, "a", NULL, &f->err), KEEL_EINVAL,
          "reserved");
    FAILS(keel_model_alias_set(f->store, "m", "LATEST", 1, "a", NULL, &f->err), KEEL_EINVAL,
          "reserved");
    FAILS(keel_model_alias_set(f->store, "m", "v1", 1, "a", NULL, &f->err), KEEL_EINVAL,
          "reserved");
    FAILS(keel_model_alias_set(f->store, "m", "V12", 1, "a", NULL, &f->err), KEEL_EINVAL,
          "reserved");
    OK(keel_model_alias_set(f->store, "m", "v1x", 1, "a", NULL, &f->err));
    OK(keel_model_alias_set(f->store, "m", "v", 1, "a", NULL, &f->err));
    FAILS(keel_model_alias_set(f->store, "m", "", 1, "a", NULL, &f->err), KEEL_EINVAL, "empty");
    FAILS(keel_model_alias_set(f->store, "m", "has space", 1, "a", NULL, &f->err), KEEL_EINVAL,
          "has space");
    char long_alias[300];
    memset(long_alias, 'a', sizeof long_alias - 1);
    long_alias[sizeof long_alias - 1] = '\0';
    FAILS(keel_model_alias_set(f->store, "m", long_alias, 1, "a", NULL, &f->err), KEEL_EINVAL,
          "longer than 255");
    FAILS(keel_model_alias_set(f->store, "m", "prod", 9, "a", NULL, &f->err), KEEL_ENOTFOUND,
          "version=9");
    FAILS(keel_model_alias_set(f->store, "nope", "prod", 1, "a", NULL, &f->err), KEEL_ENOTFOUND,
          "nope");
    FAILS(keel_model_alias_get(f->store, "m", "prod", &f->arena, &v, &f->err), KEEL_ENOTFOUND,
          "prod");

    OK(keel_model_alias_delete(f->store, "m", "challenger", "a", &f->err));
    OK(keel_model_alias_delete(f->store, "m", "challenger", "a", &f->err));  /* as MLflow */
    FAILS(keel_model_alias_delete(f->store, "nope", "x", "a", &f->err), KEEL_ENOTFOUND, "nope");
    FAILS(keel_model_alias_get(f->store, "m", "challenger", &f->arena, &v, &f->err),
          KEEL_ENOTFOUND, "challenger");

    /* compare-and-set */
    FAILS(keel_model_alias_move(f->store, "m", "champion", 1, 1, "a", "rollback", &f->err),
          KEEL_ECONFLICT, "points at version 2, expected version 1");
    FAILS(keel_model_alias_move(f->store, "m", "fresh", 2, 1, "a", NULL, &f->err),
          KEEL_ECONFLICT, "is unset, expected version 2");
    OK(keel_model_alias_move(f->store, "m", "fresh", 0, 1, "a", NULL, &f->err));
    FAILS(keel_model_alias_move(f->store, "m", "fresh", 0, 2, "a", NULL, &f->err),
          KEEL_ECONFLICT, "expected unset");
    OK(keel_model_alias_move(f->store, "m", "champion", 2, 1, "a", "rollback", &f->err));
    FAILS(keel_model_alias_move(f->store, "m", "champion", 1, 5, "a", NULL, &f->err),
          KEEL_ENOTFOUND, "version=5");
    OK(keel_model_alias_get(f->store, "m", "champion", &f->arena, &v, &f->err));
    assert_int_equal(v.version, 1);

    /* audit: the moves with old and new version and the reason */
    keel_audit_entry *h;
    size_t n;
    OK(keel_model_history(f->store, "m", &f->arena, &h, &n, &f->err));
    const keel_audit_entry *last = &h[n - 1];
    assert_string_equal(last->action, "alias_move");
    assert_string_equal(last->field, "champion");
    assert_string_equal(last->old_value, "2");
    assert_string_equal(last->new_value, "1");
    assert_string_equal(last->reason, "rollback");
}

/* One racer: opens its own store, waits for the start signal, moves the
 * alias from 1 to target. Exit 0 = moved, 1 = conflict, 2 = anything else. */
static void race_child(const char *db, int ready_fd, int go_fd, int64_t target)
{
    keel_store *s = NULL;
    keel_err err;
    if (keel_store_open(db, &s, &err) != KEEL_OK)
        _exit(2);
    char c = 'r';
    if (write(ready_fd, &c, 1) != 1 || read(go_fd, &c, 1) != 1)
        _exit(2);
    int rc = keel_model_alias_move(s, "m", "production", 1, target, "racer", "race", &err);
    keel_store_close(s);
    if (rc == KEEL_ECONFLICT && strstr(err.msg, "production") != NULL)
        _exit(1);
    _exit(rc == KEEL_OK ? 0 : 2);
}

static void alias_move_two_processes_one_wins(void **state)
{
    fixture *f = *state;
    new_model(f, "m");
    for (int i = 0; i < 3; i++)
        new_version(f, "m", "s3://m");
    for (int round = 0; round < 6; round++) {
        OK(keel_model_alias_set(f->store, "m", "production", 1, "setup", NULL, &f->err));
        int ready[2], go[2];
        assert_int_equal(pipe(ready), 0);
        assert_int_equal(pipe(go), 0);
        pid_t pids[2];
        for (int i = 0; i < 2; i++) {
            pids[i] = fork();
            assert_true(pids[i] >= 0);
            if (pids[i] == 0) {
                close(ready[0]);
                close(go[1]);
                race_child(f->db, ready[1], go[0], 2 + i);
            }
        }
        close(ready[1]);
        close(go[0]);
        char c;
        for (int i = 0; i < 2; i++)
            assert_int_equal(read(ready[0], &c, 1), 1);
        assert_int_equal(write(go[1], "gg", 2), 2);  /* both start at once */
        int status[2];
        for (int i = 0; i < 2; i++) {
            assert_int_equal(waitpid(pids[i], &status[i], 0), pids[i]);
            assert_true(WIFEXITED(status[i]));
        }
        close(ready[0]);
        close(go[1]);
        int code0 = WEXITSTATUS(status[0]), code1 = WEXITSTATUS(status[1]);
        assert_true((code0 == 0 && code1 == 1) || (code0 == 1 && code1 == 0));
        int64_t winner = code0 == 0 ? 2 : 3;
        keel_model_version v;
        OK(keel_model_alias_get(f->store, "m", "production", &f->arena, &v, &f->err));
        assert_int_equal(v.version, winner);
    }
}

/* ---- rename ---- */

static void rename_cascades_to_versions_tags_aliases_and_history(void **state)
{
    fixture *f = *state;
    keel_kv tags[] = { { "team", "risk" } };
    OK(keel_model_create(f->store, "old", "desc", tags, 1, "alice", &f->err));
    new_version(f, "old", "s3://1");
    new_version(f, "old", "s3://2");
    OK(keel_model_version_set_tag(f->store, "old", 2, "validated", "yes", "a", &f->err));
    OK(keel_model_alias_set(f->store, "old", "prod", 2, "a", NULL, &f->err));
    OK(keel_model_version_transition(f->store, "old", 2, "Production", false, "a", &f->err));
    new_model(f, "taken");

    FAILS(keel_model_rename(f->store, "old", "taken", "a", &f->err), KEEL_EEXIST, "taken");
    FAILS(keel_model_rename(f->store, "ghost", "new", "a", &f->err), KEEL_ENOTFOUND, "ghost");
    FAILS(keel_model_rename(f->store, "old", "a/b", "a", &f->err), KEEL_EINVAL, "a/b");
    OK(keel_model_rename(f->store, "old", "new", "bob", &f->err));

    keel_registered_model m;
    FAILS(keel_model_get(f->store, "old", &f->arena, &m, &f->err), KEEL_ENOTFOUND, "old");
    OK(keel_model_get(f->store, "new", &f->arena, &m, &f->err));
    assert_string_equal(m.description, "desc");
    assert_int_equal(m.n_tags, 1);
    assert_int_equal(m.n_aliases, 1);
    assert_string_equal(m.aliases[0].alias, "prod");
    assert_int_equal(m.n_latest_versions, 2);
    keel_model_version v;
    OK(keel_model_version_get(f->store, "new", 2, &f->arena, &v, &f->err));
    assert_string_equal(v.name, "new");
    assert_string_equal(v.current_stage, "Production");
    assert_string_equal(tag_value(v.tags, v.n_tags, "validated"), "yes");
    assert_int_equal(v.n_aliases, 1);
    OK(keel_model_alias_get(f->store, "new", "prod", &f->arena, &v, &f->err));
    assert_int_equal(v.version, 2);
    assert_int_equal(new_version(f, "new", "s3://3"), 3);

    keel_audit_entry *h;
    size_t n;
    OK(keel_model_history(f->store, "new", &f->arena, &h, &n, &f->err));
    assert_string_equal(h[0].action, "create_model");
    assert_string_equal(h[0].model, "new");
    bool renamed = false;
    for (size_t i = 0; i < n; i++)
        renamed |= strcmp(h[i].action, "rename_model") == 0 &&
                   strcmp(h[i].old_value, "old") == 0 && strcmp(h[i].new_value, "new") == 0;
    assert_true(renamed);
    FAILS(keel_model_history(f->store, "old", &f->arena, &h, &n, &f->err), KEEL_ENOTFOUND,
          "old");
}

/* ---- search ---- */

static void search_models_filters_orders_pages(void **state)
{
    fixture *f = *state;
    static const char *const names[] = { "fraud-a", "fraud-b", "churn", "fraud-c", "ltv" };
    for (int i = 0; i < 5; i++) {
        keel_kv t[] = { { "team", i % 2 == 0 ? "risk" : "growth" } };
        OK(keel_model_create(f->store, names[i], NULL, t, 1, "a", &f->err));
    }
    /* distinct update times, not in name order */
    for (int i = 0; i < 5; i++)
        OK(keel_store_execv(f->store,
                            "UPDATE registered_models SET last_updated_time = ? WHERE name = ?",
                            NULL, &f->err, "it", (int64_t)(1000 + i), names[i]));
    new_version(f, "churn", "s3://c");
    OK(keel_model_alias_set(f->store, "churn", "prod", 1, "a", NULL, &f->err));

    keel_registered_model *list;
    size_t n;
    const char *next;
    keel_model_search q = { 0 };
    OK(keel_model_search_run(f->store, &q, &f->arena, &list, &n, &next, &f->err));
    assert_int_equal(n, 5);
    assert_null(next);
    assert_string_equal(list[0].name, "churn");  /* name ASC by default */
    assert_string_equal(list[4].name, "ltv");
    assert_int_equal(list[0].n_aliases, 1);
    assert_int_equal(list[0].n_latest_versions, 1);
    assert_int_equal(list[0].n_tags, 1);

    q = (keel_model_search){ .filter = "name LIKE 'fraud%' AND tags.team = 'risk'" };
    OK(keel_model_search_run(f->store, &q, &f->arena, &list, &n, &next, &f->err));
    assert_int_equal(n, 1);  /* fraud-c is growth's */
    assert_string_equal(list[0].name, "fraud-a");

    q = (keel_model_search){ .filter = "name ILIKE 'FRAUD-%'", .order_by = "name DESC" };
    OK(keel_model_search_run(f->store, &q, &f->arena, &list, &n, &next, &f->err));
    assert_int_equal(n, 3);
    assert_string_equal(list[0].name, "fraud-c");

    q = (keel_model_search){ .order_by = "last_updated_timestamp DESC", .max_results = 2 };
    OK(keel_model_search_run(f->store, &q, &f->arena, &list, &n, &next, &f->err));
    assert_int_equal(n, 2);
    /* churn's version bumped it to now: newest */
    assert_string_equal(list[0].name, "churn");
    assert_string_equal(list[1].name, "ltv");
    assert_non_null(next);
    const char *seen[5];
    size_t total = 0;
    q.page_token = NULL;
    do {
        OK(keel_model_search_run(f->store, &q, &f->arena, &list, &n, &next, &f->err));
        for (size_t i = 0; i < n; i++)
            seen[total++] = list[i].name;
        q.page_token = next;
    } while (next != NULL && total < 5);
    assert_int_equal(total, 5);
    assert_null(next);
    assert_string_equal(seen[4], "fraud-a");

    q = (keel_model_search){ .filter = "tags.team != 'risk'", .order_by = "timestamp ASC" };
    OK(keel_model_search_run(f->store, &q, &f->arena, &list, &n, &next, &f->err));
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "fraud-b");

    q = (keel_model_search){ .filter = "metrics.auc > 1" };
    FAILS(keel_model_search_run(f->store, &q, &f->arena, &list, &n, &next, &f->err),
          KEEL_EINVAL, "cannot be searched for registered models");
    q = (keel_model_search){ .filter = "run_id = 'x'" };
    FAILS(keel_model_search_run(f->store, &q, &f->arena, &list, &n, &next, &f->err),
          KEEL_EINVAL, "unknown attribute 'run_id'");
    q = (keel_model_search){ .filter = "name = " };
    FAILS(keel_model_search_run(f->store, &q, &f->arena, &list, &n, &next, &f->err),
          KEEL_EPARSE, "filter");
    q = (keel_model_search){ .order_by = "tags.team" };
    FAILS(keel_model_search_run(f->store, &q, &f->arena, &list, &n, &next, &f->err),
          KEEL_EINVAL, "cannot order registered models by tags");
    q = (keel_model_search){ .page_token = "garbage!" };
    FAILS(keel_model_search_run(f->store, &q, &f->arena, &list, &n, &next, &f->err),
          KEEL_EINVAL, "page token");
    q = (keel_model_search){ .max_results = 1001 };
    FAILS(keel_model_search_run(f->store, &q, &f->arena, &list, &n, &next, &f->err),
          KEEL_EINVAL, "max_results");
}

static void search_versions_filters_orders_pages(void **state)
{
    fixture *f = *state;
    new_model(f, "a");
    new_model(f, "b");
    const char *run = run_id_of(f, "r");
    char src[128];
    snprintf(src, sizeof src, "runs:/%s/model", run);
    for (int i = 0; i < 3; i++)
        new_version(f, "a", i == 1 ? src : "s3://a");
    for (int i = 0; i < 2; i++)
        new_version(f, "b", "s3://b");
    OK(keel_model_version_set_tag(f->store, "a", 3, "validated", "yes", "x", &f->err));
    OK(keel_model_version_set_tag(f->store, "b", 1, "validated", "no", "x", &f->err));
    OK(keel_model_version_transition(f->store, "b", 2, "Production", false, "x", &f->err));
    OK(keel_model_alias_set(f->store, "a", "prod", 3, "x", NULL, &f->err));
    new_version(f, "a", "s3://a");
    OK(keel_model_version_delete(f->store, "a", 4, "x", &f->err));
    /* distinct creation times: a/1 < b/1 < a/2 < b/2 < a/3 */
    OK(keel_store_execv(f->store,
                        "UPDATE model_versions SET creation_time = 100 * version + "
                        "CASE name WHEN 'a' THEN 0 ELSE 1 END", NULL, &f->err, ""));

    keel_model_version *list;
    size_t n;
    const char *next;
    keel_model_version_search q = { 0 };
    OK(keel_model_version_search_run(f->store, &q, &f->arena, &list, &n, &next, &f->err));
    assert_int_equal(n, 5);  /* the deleted version is not listed */
    assert_string_equal(list[0].name, "a");  /* name ASC, version DESC */
    assert_int_equal(list[0].version, 3);
    assert_int_equal(list[0].n_aliases, 1);
    assert_int_equal(list[0].n_tags, 1);
    assert_int_equal(list[2].version, 1);
    assert_string_equal(list[3].name, "b");

    static const struct {
        const char *filter, *order_by;
        size_t n;
        const char *first_name;
        int64_t first_version;
    } cases[] = {
        { "name = 'a'", NULL, 3, "a", 3 },
        { "name = 'a' AND version > 1", "version ASC", 2, "a", 2 },
        { "version_number = 2", "name DESC", 2, "b", 2 },
        { NULL, "creation_timestamp ASC", 5, "a", 1 },
        { "tags.validated = 'yes'", NULL, 1, "a", 3 },
        { "tags.validated IS NOT NULL AND name != 'a'", NULL, 1, "b", 1 },
        { "current_stage = 'Production'", NULL, 1, "b", 2 },
        { "source_path LIKE 's3://%'", "name DESC", 4, "b", 2 },
        { "name IN ('b') OR tags.validated = 'yes'", "version DESC", 3, "a", 3 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        q = (keel_model_version_search){ .filter = cases[i].filter,
                                         .order_by = cases[i].order_by };
        if (keel_model_version_search_run(f->store, &q, &f->arena, &list, &n, &next,
                                          &f->err) != KEEL_OK)
            fail_msg("case %zu (%s): %s", i, cases[i].filter, f->err.msg);
        if (n != cases[i].n)
            fail_msg("case %zu (%s): %zu results, expected %zu", i, cases[i].filter, n,
                     cases[i].n);
        if (strcmp(list[0].name, cases[i].first_name) != 0 ||
            list[0].version != cases[i].first_version)
            fail_msg("case %zu (%s): first is %s/%lld", i, cases[i].filter, list[0].name,
                     (long long)list[0].version);
    }
    char filter[128];
    snprintf(filter, sizeof filter, "run_id = '%s'", run);
    q = (keel_model_version_search){ .filter = filter };
    OK(keel_model_version_search_run(f->store, &q, &f->arena, &list, &n, &next, &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(list[0].version, 2);
    assert_string_equal(list[0].run_id, run);

    /* pages of 2: 2 + 2 + 1 */
    q = (keel_model_version_search){ .max_results = 2 };
    size_t total = 0, pages = 0;
    do {
        OK(keel_model_version_search_run(f->store, &q, &f->arena, &list, &n, &next, &f->err));
        total += n;
        pages++;
        q.page_token = next;
    } while (next != NULL);
    assert_int_equal(total, 5);
    assert_int_equal(pages, 3);

    q = (keel_model_version_search){ .filter = "params.x = '1'" };
    FAILS(keel_model_version_search_run(f->store, &q, &f->arena, &list, &n, &next, &f->err),
          KEEL_EINVAL, "cannot be searched for model versions");
    q = (keel_model_version_search){ .filter = "version = 'two'" };
    FAILS(keel_model_version_search_run(f->store, &q, &f->arena, &list, &n, &next, &f->err),
          KEEL_EINVAL, "expected a number");
    q = (keel_model_version_search){ .order_by = "stage" };
    FAILS(keel_model_version_search_run(f->store, &q, &f->arena, &list, &n, &next, &f->err),
          KEEL_EINVAL, "unknown attribute");
}

/* ---- URIs ---- */

static void model_uris_resolve(void **state)
{
    fixture *f = *state;
    new_model(f, "m");
    for (int i = 0; i < 3; i++)
        new_version(f, "m", "s3://m");
    OK(keel_model_version_transition(f->store, "m", 2, "Production", false, "a", &f->err));
    OK(keel_model_alias_set(f->store, "m", "champion", 1, "a", NULL, &f->err));
    static const struct {
        const char *uri;
        int64_t version;
    } ok[] = {
        { "models:/m/2", 2 },
        { "models:/m@champion", 1 },
        { "models:/m/production", 2 },
        { "models:/m/Production", 2 },
        { "models:/m/None", 3 },
        { "models:/m/latest", 3 },
    };
    keel_model_version v;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (keel_model_uri_resolve(f->store, ok[i].uri, &f->arena, &v, &f->err) != KEEL_OK)
            fail_msg("%s: %s", ok[i].uri, f->err.msg);
        assert_int_equal(v.version, ok[i].version);
    }
    static const struct {
        const char *uri;
        int code;
        const char *needle;
    } bad[] = {
        { "runs:/abc/model", KEEL_EINVAL, "runs:/abc/model" },
        { "models:/m", KEEL_EINVAL, "models:/m" },
        { "models:/m/1/extra", KEEL_EINVAL, "extra" },
        { "models:/m/live", KEEL_EINVAL, "live" },
        { "models:/m/9", KEEL_ENOTFOUND, "version=9" },
        { "models:/m/Staging", KEEL_ENOTFOUND, "Staging" },
        { "models:/m@nobody", KEEL_ENOTFOUND, "nobody" },
        { "models:/ghost/1", KEEL_ENOTFOUND, "ghost" },
        { "models:/ghost/latest", KEEL_ENOTFOUND, "ghost" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        FAILS(keel_model_uri_resolve(f->store, bad[i].uri, &f->arena, &v, &f->err), bad[i].code,
              bad[i].needle);
    new_model(f, "empty");
    FAILS(keel_model_uri_resolve(f->store, "models:/empty/latest", &f->arena, &v, &f->err),
          KEEL_ENOTFOUND, "no versions");
}

/* ---- audit ---- */

static void audit_history_records_every_change(void **state)
{
    fixture *f = *state;
    OK(keel_model_create(f->store, "m", "d0", NULL, 0, "alice", &f->err));
    new_version(f, "m", "s3://m/1");
    OK(keel_model_update(f->store, "m", "d1", "bob", &f->err));
    OK(keel_model_set_tag(f->store, "m", "k", "v1", "bob", &f->err));
    OK(keel_model_set_tag(f->store, "m", "k", "v2", "bob", &f->err));
    OK(keel_model_version_transition(f->store, "m", 1, "Staging", false, "carol", &f->err));
    OK(keel_model_alias_set(f->store, "m", "prod", 1, "dave", "approved in review", &f->err));
    OK(keel_model_audit(f->store, "ci", "gate_failed", "m", 1, "auc", "0.91", "0.80",
                        "below threshold", &f->err));
    OK(keel_model_version_delete(f->store, "m", 1, "erin", &f->err));
    FAILS(keel_model_audit(f->store, "ci", "", "m", 1, NULL, NULL, NULL, NULL, &f->err),
          KEEL_EINVAL, "action");
    FAILS(keel_model_audit(f->store, "ci", "x", "", 0, NULL, NULL, NULL, NULL, &f->err),
          KEEL_EINVAL, "empty");

    keel_audit_entry *h;
    size_t n;
    OK(keel_model_history(f->store, "m", &f->arena, &h, &n, &f->err));
    static const struct {
        const char *action, *actor, *field, *old_value, *new_value;
        int64_t version;
    } want[] = {
        { "create_model", "alice", "", NULL, "d0", 0 },
        { "create_version", "alice", "source", NULL, "s3://m/1", 1 },
        { "update_model", "bob", "description", "d0", "d1", 0 },
        { "set_model_tag", "bob", "k", NULL, "v1", 0 },
        { "set_model_tag", "bob", "k", "v1", "v2", 0 },
        { "transition", "carol", "stage", "None", "Staging", 1 },
        { "alias_set", "dave", "prod", NULL, "1", 1 },
        { "gate_failed", "ci", "auc", "0.91", "0.80", 1 },
        { "alias_delete", "erin", "prod", "1", NULL, 1 },
        { "delete_version", "erin", "stage", "Staging", NULL, 1 },
    };
    assert_int_equal(n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(h[i].action, want[i].action);
        assert_string_equal(h[i].actor, want[i].actor);
        assert_string_equal(h[i].model, "m");
        assert_string_equal(h[i].field, want[i].field);
        assert_int_equal(h[i].version, want[i].version);
        if (want[i].old_value == NULL)
            assert_null(h[i].old_value);
        else
            assert_string_equal(h[i].old_value, want[i].old_value);
        if (want[i].new_value == NULL)
            assert_null(h[i].new_value);
        else
            assert_string_equal(h[i].new_value, want[i].new_value);
        assert_true(h[i].time > 0 && (i == 0 || h[i].time >= h[i - 1].time));
    }
    assert_string_equal(h[6].reason, "approved in review");
    assert_string_equal(h[7].reason, "below threshold");
    FAILS(keel_model_history(f->store, "never", &f->arena, &h, &n, &f->err), KEEL_ENOTFOUND,
          "never");
}

/* ---- lineage ---- */

static void lineage_traces_version_to_run(void **state)
{
    fixture *f = *state;
    int64_t exp = 0;
    OK(keel_experiment_create(f->store, "fraud-exp", NULL, NULL, 0, &exp, &f->err));
    keel_run_create_opts opts = { .experiment_id = exp, .run_name = "train" };
    const char *run = NULL;
    OK(keel_run_create(f->store, &opts, &f->arena, &run, &f->err));
    keel_metric metrics[] = { { "auc", 0.5, 1000, 0 }, { "auc", 0.93, 2000, 1 },
                              { "logloss", 0.21, 2000, 1 } };
    keel_kv params[] = { { "max_depth", "6" }, { "eta", "0.1" } };
    keel_kv tags[] = { { "mlflow.source.git.commit", "0123456789abcdef0123456789abcdef01234567" },
                       { "keel.source.git.dirty", "true" } };
    OK(keel_run_log_batch(f->store, run, metrics, 3, params, 2, tags, 2, &f->err));
    keel_kv train_ctx[] = { { "mlflow.data.context", "training" } };
    keel_kv eval_ctx[] = { { "mlflow.data.context", "validation" } };
    keel_dataset_input inputs[] = {
        { .dataset = { .name = "tx", .digest = "d1", .source_type = "keel",
                       .source = "keel://datasets/tx/1" }, .tags = train_ctx, .n_tags = 1 },
        { .dataset = { .name = "tx-holdout", .digest = "d2", .source_type = "local",
                       .source = "/data/holdout.csv" }, .tags = eval_ctx, .n_tags = 1 },
    };
    OK(keel_run_log_inputs(f->store, run, inputs, 2, &f->err));
    OK(keel_run_update(f->store, run, "FINISHED", 0, NULL, &f->err));

    new_model(f, "fraud");
    char src[128];
    snprintf(src, sizeof src, "runs:/%s/model", run);
    int64_t v = new_version(f, "fraud", src);

    json_t *l = NULL;
    OK(keel_model_lineage(f->store, "fraud", v, &f->arena, &l, &f->err));
    assert_string_equal(json_string_value(json_object_get(l, "model")), "fraud");
    assert_int_equal(json_integer_value(json_object_get(l, "version")), v);
    assert_string_equal(json_string_value(json_object_get(l, "source")), src);
    json_t *r = json_object_get(l, "run");
    assert_string_equal(json_string_value(json_object_get(r, "run_id")), run);
    char exp_text[24];
    snprintf(exp_text, sizeof exp_text, "%lld", (long long)exp);
    assert_string_equal(json_string_value(json_object_get(r, "experiment_id")), exp_text);
    assert_string_equal(json_string_value(json_object_get(r, "status")), "FINISHED");
    assert_true(json_integer_value(json_object_get(r, "start_time")) > 0);
    assert_string_equal(json_string_value(json_object_get(r, "git_commit")), tags[0].value);
    assert_true(json_is_true(json_object_get(r, "git_dirty")));
    json_t *p = json_object_get(l, "params");
    assert_string_equal(json_string_value(json_object_get(p, "max_depth")), "6");
    json_t *m = json_object_get(l, "metrics");
    assert_true(json_real_value(json_object_get(m, "auc")) == 0.93);  /* the latest */
    assert_int_equal(json_object_size(m), 2);
    json_t *ds = json_object_get(l, "datasets");
    assert_int_equal(json_array_size(ds), 2);
    bool saw_training = false, saw_validation = false;
    for (size_t i = 0; i < json_array_size(ds); i++) {
        json_t *d = json_array_get(ds, i);
        const char *ctx = json_string_value(json_object_get(d, "context"));
        const char *name = json_string_value(json_object_get(d, "name"));
        if (strcmp(ctx, "training") == 0) {
            saw_training = true;
            assert_string_equal(name, "tx");
            assert_string_equal(json_string_value(json_object_get(d, "digest")), "d1");
            assert_string_equal(json_string_value(json_object_get(d, "source")),
                                "keel://datasets/tx/1");
        } else if (strcmp(ctx, "validation") == 0) {
            saw_validation = strcmp(name, "tx-holdout") == 0;
        }
    }
    assert_true(saw_training && saw_validation);
    json_decref(l);

    /* a version without a run: just model, version and source */
    int64_t bare = new_version(f, "fraud", "s3://elsewhere/model");
    OK(keel_model_lineage(f->store, "fraud", bare, &f->arena, &l, &f->err));
    assert_int_equal(json_object_size(l), 3);
    assert_string_equal(json_string_value(json_object_get(l, "source")), "s3://elsewhere/model");
    json_decref(l);
    FAILS(keel_model_lineage(f->store, "fraud", 42, &f->arena, &l, &f->err), KEEL_ENOTFOUND,
          "version=42");
}

/* ---- JSON ---- */

static void json_shapes_follow_mlflow(void **state)
{
    fixture *f = *state;
    keel_kv tags[] = { { "team", "risk" } };
    OK(keel_model_create(f->store, "m", "desc", tags, 1, "alice", &f->err));
    new_version(f, "m", "s3://1");
    keel_model_version_create c = { .name = "m", .source = "s3://2", .description = "two",
                                     .tags = tags, .n_tags = 1 };
    int64_t v2 = 0;
    OK(keel_model_version_create_run(f->store, &c, "bob", &v2, &f->err));
    OK(keel_model_alias_set(f->store, "m", "champion", v2, "a", NULL, &f->err));

    keel_model_version v;
    OK(keel_model_version_get(f->store, "m", v2, &f->arena, &v, &f->err));
    json_t *j = keel_model_version_to_json(&v);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "m");
    assert_true(json_is_string(json_object_get(j, "version")));
    assert_string_equal(json_string_value(json_object_get(j, "version")), "2");
    assert_true(json_is_integer(json_object_get(j, "creation_timestamp")));
    assert_true(json_is_integer(json_object_get(j, "last_updated_timestamp")));
    assert_string_equal(json_string_value(json_object_get(j, "current_stage")), "None");
    assert_string_equal(json_string_value(json_object_get(j, "description")), "two");
    assert_string_equal(json_string_value(json_object_get(j, "user_id")), "bob");
    assert_string_equal(json_string_value(json_object_get(j, "source")), "s3://2");
    assert_string_equal(json_string_value(json_object_get(j, "status")), "READY");
    assert_non_null(json_object_get(j, "run_id"));
    assert_non_null(json_object_get(j, "run_link"));
    assert_non_null(json_object_get(j, "status_message"));
    json_t *jt = json_array_get(json_object_get(j, "tags"), 0);
    assert_string_equal(json_string_value(json_object_get(jt, "key")), "team");
    assert_string_equal(json_string_value(json_object_get(jt, "value")), "risk");
    json_t *ja = json_object_get(j, "aliases");
    assert_int_equal(json_array_size(ja), 1);
    assert_string_equal(json_string_value(json_array_get(ja, 0)), "champion");
    json_decref(j);

    keel_registered_model m;
    OK(keel_model_get(f->store, "m", &f->arena, &m, &f->err));
    j = keel_registered_model_to_json(&m);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "m");
    assert_string_equal(json_string_value(json_object_get(j, "description")), "desc");
    assert_true(json_is_integer(json_object_get(j, "creation_timestamp")));
    assert_true(json_is_integer(json_object_get(j, "last_updated_timestamp")));
    json_t *lv = json_object_get(j, "latest_versions");
    assert_int_equal(json_array_size(lv), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(lv, 0), "version")),
                        "2");
    ja = json_array_get(json_object_get(j, "aliases"), 0);
    assert_string_equal(json_string_value(json_object_get(ja, "alias")), "champion");
    assert_string_equal(json_string_value(json_object_get(ja, "version")), "2");
    assert_int_equal(json_array_size(json_object_get(j, "tags")), 1);
    json_decref(j);
}

int main(int argc, char **argv)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(models_create_get_update_tags_delete),
        T(versions_number_and_never_reuse_after_delete),
        T(stages_transition_and_archive_existing),
        T(aliases_set_get_delete_and_reserved_names),
        T(alias_move_two_processes_one_wins),
        T(rename_cascades_to_versions_tags_aliases_and_history),
        T(search_models_filters_orders_pages),
        T(search_versions_filters_orders_pages),
        T(model_uris_resolve),
        T(audit_history_records_every_change),
        T(lineage_traces_version_to_run),
        T(json_shapes_follow_mlflow),
    };
    return keel_test_main(argc, argv, "registry", tests);
}
