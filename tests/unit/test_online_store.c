/*
 * test_online_store.c — the online store's LMDB backend through the public
 * API: write then get, the newest event winning in both orders and across
 * batches, TTL statuses at a given "now", missing values of every type,
 * many entities in one batch, records of changed definitions reading as not
 * found, join keys missing from a request, and freshness records.
 * (The Redis backend is exercised against a real redis-server by
 * tests/integration/test_features_online.sh.)
 */
#include "testutil.h"

#include <keel/error.h>
#include <keel/features.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OK(call) assert_int_equal((call), KEEL_OK)

static const char YAML[] =
    "project: t\n"
    "entities:\n"
    "  station:\n"
    "    join_keys: {station: string}\n"
    "  sensor:\n"
    "    join_keys: {sensor: int}\n"
    "sources:\n"
    "  s:\n"
    "    dataset: s@1\n"
    "    timestamp: ts\n"
    "feature_views:\n"
    "  weather:\n"
    "    entities: [station]\n"
    "    source: s\n"
    "    ttl: 1h\n"
    "    online: true\n"
    "    features: {temp: float, wd: string, n: int, rain: bool}\n"
    "  readings:\n"
    "    entities: [station, sensor]\n"
    "    source: s\n"
    "    online: true\n"
    "    features: {v: float}\n";

typedef struct fixture {
    char dir[PATH_MAX];
    keel_feature_repo *repo;
    keel_online_store *st;
    keel_arena arena;
    keel_err err;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    keel_test_tmpdir(f->dir);
    if (keel_feature_repo_parse("features.yaml", YAML, strlen(YAML), &f->repo, &f->err) !=
        KEEL_OK) {
        fprintf(stderr, "%s\n", f->err.msg);
        return -1;
    }
    char uri[PATH_MAX + 16];
    snprintf(uri, sizeof uri, "%s/online", f->dir);
    if (keel_online_store_open(uri, NULL, &f->st, &f->err) != KEEL_OK) {
        fprintf(stderr, "%s\n", f->err.msg);
        return -1;
    }
    keel_arena_init(&f->arena, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    keel_online_store_close(f->st);
    keel_feature_repo_free(f->repo);
    keel_arena_free(&f->arena);
    keel_test_rmrf(f->dir);
    free(f);
    return 0;
}

static keel_feature_value fl(double d)
{
    return (keel_feature_value){ .type = KEEL_COL_FLOAT, .f64 = d };
}
static keel_feature_value in(int64_t i)
{
    return (keel_feature_value){ .type = KEEL_COL_INT, .i64 = i };
}
static keel_feature_value bo(int64_t i)
{
    return (keel_feature_value){ .type = KEEL_COL_BOOL, .i64 = i };
}
static keel_feature_value st(const char *s)
{
    return (keel_feature_value){ .type = KEEL_COL_STRING, .str = s, .len = strlen(s) };
}
static keel_feature_value none(enum keel_col_type t)
{
    return (keel_feature_value){ .type = t, .missing = true };
}

#define WEATHER 0
#define READINGS 1
#define H (3600 * 1000LL)

static void write_weather(fixture *f, const char *station, int64_t ms, double temp,
                          size_t want_written)
{
    const char *kv[] = { station };
    keel_feature_value v[] = { fl(temp), st("NNW"), in(7), bo(1) };
    keel_online_row row = { kv, ms, v };
    size_t written = 99;
    OK(keel_online_write(f->st, f->repo, WEATHER, &row, 1, &written, &f->err));
    assert_int_equal(written, want_written);
}

/* Answers weather:temp for one station at now. */
static keel_feature_answer temp_at(fixture *f, const char *station, int64_t now)
{
    keel_feature_ref ref = { WEATHER, 0 };
    const char *names[] = { "station" }, *values[] = { station };
    keel_feature_answer a;
    OK(keel_features_get(f->st, f->repo, &ref, 1, names, 1, values, 1, now, &f->arena, &a,
                         &f->err));
    return a;
}

static void write_then_get(void **state)
{
    fixture *f = *state;
    write_weather(f, "Aotizhongxin", 10 * H, -0.7, 1);
    const char *kv[] = { "Aotizhongxin" };
    const char *const *keys[] = { kv };
    size_t views[] = { WEATHER };
    keel_online_record rec;
    OK(keel_online_get(f->st, f->repo, views, 1, keys, &f->arena, &rec, &f->err));
    assert_true(rec.found);
    assert_int_equal(rec.event_ms, 10 * H);
    assert_true(rec.values[0].f64 == -0.7);
    assert_string_equal(rec.values[1].str, "NNW");
    assert_int_equal(rec.values[2].i64, 7);
    assert_int_equal(rec.values[3].i64, 1);
    const char *other[] = { "Dongsi" };
    keys[0] = other;
    OK(keel_online_get(f->st, f->repo, views, 1, keys, &f->arena, &rec, &f->err));
    assert_false(rec.found);
}

static void newest_wins(void **state)
{
    fixture *f = *state;
    write_weather(f, "A", 10 * H, 1.0, 1);
    write_weather(f, "A", 9 * H, 2.0, 0);     /* older: kept out */
    assert_true(temp_at(f, "A", 10 * H).value.f64 == 1.0);
    write_weather(f, "A", 11 * H, 3.0, 1);
    assert_true(temp_at(f, "A", 11 * H).value.f64 == 3.0);
    write_weather(f, "A", 11 * H, 4.0, 1);    /* equal: the write wins */
    keel_feature_answer a = temp_at(f, "A", 11 * H);
    assert_true(a.value.f64 == 4.0);
    assert_int_equal(a.event_ms, 11 * H);
    /* Within one batch, in either order. */
    const char *kv[] = { "B" };
    keel_feature_value v1[] = { fl(5), st("N"), in(1), bo(0) };
    keel_feature_value v2[] = { fl(6), st("S"), in(2), bo(0) };
    keel_online_row rows[] = { { kv, 20 * H, v1 }, { kv, 19 * H, v2 } };
    size_t w;
    OK(keel_online_write(f->st, f->repo, WEATHER, rows, 2, &w, &f->err));
    assert_int_equal(w, 1);
    assert_true(temp_at(f, "B", 20 * H).value.f64 == 5.0);
}

static void ttl_statuses(void **state)
{
    fixture *f = *state;
    write_weather(f, "A", 10 * H, 1.0, 1);
    keel_feature_answer a = temp_at(f, "A", 11 * H);       /* exactly 1h: still fresh */
    assert_int_equal(a.status, KEEL_FEATURE_PRESENT);
    a = temp_at(f, "A", 11 * H + 1);
    assert_int_equal(a.status, KEEL_FEATURE_OUTSIDE_MAX_AGE);
    assert_true(a.value.missing);
    assert_int_equal(a.event_ms, 10 * H);
    a = temp_at(f, "Z", 11 * H);
    assert_int_equal(a.status, KEEL_FEATURE_NOT_FOUND);
    assert_int_equal(a.event_ms, 0);
    assert_string_equal(keel_feature_status_name(KEEL_FEATURE_OUTSIDE_MAX_AGE),
                        "OUTSIDE_MAX_AGE");
    /* readings has no TTL: a year later it is still present. */
    const char *kv[] = { "A", "3" };
    keel_feature_value v[] = { fl(0.5) };
    keel_online_row row = { kv, 10 * H, v };
    OK(keel_online_write(f->st, f->repo, READINGS, &row, 1, NULL, &f->err));
    keel_feature_ref ref = { READINGS, 0 };
    const char *names[] = { "sensor", "station" }, *values[] = { "3", "A" };
    OK(keel_features_get(f->st, f->repo, &ref, 1, names, 2, values, 1, 10 * H + 8760 * H,
                         &f->arena, &a, &f->err));
    assert_int_equal(a.status, KEEL_FEATURE_PRESENT);
    assert_true(a.value.f64 == 0.5);
}

static void missing_values(void **state)
{
    fixture *f = *state;
    const char *kv[] = { "A" };
    keel_feature_value v[] = { none(KEEL_COL_FLOAT), none(KEEL_COL_STRING), none(KEEL_COL_INT),
                               none(KEEL_COL_BOOL) };
    keel_online_row row = { kv, 5 * H, v };
    OK(keel_online_write(f->st, f->repo, WEATHER, &row, 1, NULL, &f->err));
    keel_feature_ref refs[] = { { WEATHER, 0 }, { WEATHER, 1 }, { WEATHER, 2 }, { WEATHER, 3 } };
    const char *names[] = { "station" }, *values[] = { "A" };
    keel_feature_answer a[4];
    OK(keel_features_get(f->st, f->repo, refs, 4, names, 1, values, 1, 5 * H, &f->arena, a,
                         &f->err));
    for (int i = 0; i < 4; i++) {
        assert_int_equal(a[i].status, KEEL_FEATURE_PRESENT);
        assert_true(a[i].value.missing);
    }
    /* A value of the wrong type is refused, naming the feature. */
    v[2] = fl(1.5);
    assert_int_equal(keel_online_write(f->st, f->repo, WEATHER, &row, 1, NULL, &f->err),
                     KEEL_EINVAL);
    assert_non_null(strstr(f->err.msg, "weather:n is int, not float"));
}

static void many_entities(void **state)
{
    fixture *f = *state;
    enum { N = 20000 };
    keel_online_row *rows = calloc(N, sizeof *rows);
    char (*names)[16] = calloc(N, 16);
    const char **kv = calloc(N, sizeof *kv);
    keel_feature_value *vals = calloc((size_t)N * 4, sizeof *vals);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], 16, "s%d", i);
        kv[i] = names[i];
        vals[i * 4] = fl(i * 0.5);
        vals[i * 4 + 1] = st(names[i]);
        vals[i * 4 + 2] = in(i);
        vals[i * 4 + 3] = i % 3 ? bo(i & 1) : none(KEEL_COL_BOOL);
        rows[i] = (keel_online_row){ &kv[i], N * 1000LL - i, &vals[i * 4] };
    }
    size_t w;
    OK(keel_online_write(f->st, f->repo, WEATHER, rows, N, &w, &f->err));
    assert_int_equal(w, N);
    keel_feature_ref refs[] = { { WEATHER, 0 }, { WEATHER, 1 }, { WEATHER, 3 } };
    const char *key_names[] = { "station" };
    keel_feature_answer *a = calloc((size_t)N * 3, sizeof *a);
    OK(keel_features_get(f->st, f->repo, refs, 3, key_names, 1, kv, N, N * 1000LL, &f->arena,
                         a, &f->err));
    for (int i = 0; i < N; i++) {
        assert_true(a[i * 3].value.f64 == i * 0.5);
        assert_string_equal(a[i * 3 + 1].value.str, names[i]);
        assert_int_equal(a[i * 3 + 2].value.missing, i % 3 == 0);
        assert_int_equal(a[i * 3].event_ms, N * 1000LL - i);
    }
    keel_online_freshness fr;
    OK(keel_online_freshness_get(f->st, f->repo, WEATHER, &fr, &f->err));
    assert_int_equal(fr.max_event_ms, N * 1000LL);
    assert_int_equal(fr.rows, N);
    free(a);
    free(rows);
    free(names);
    free(kv);
    free(vals);
}

static void changed_definitions_and_keys(void **state)
{
    fixture *f = *state;
    write_weather(f, "A", 10 * H, 1.0, 1);
    /* The same view with one more feature: the old record reads as not found. */
    char *yaml2 = strdup(YAML);
    char *at = strstr(yaml2, "rain: bool}");
    memcpy(at, "rain: int} ", 11);
    keel_feature_repo *repo2 = NULL;
    OK(keel_feature_repo_parse("features.yaml", yaml2, strlen(yaml2), &repo2, &f->err));
    keel_feature_ref ref = { WEATHER, 0 };
    const char *names[] = { "station" }, *values[] = { "A" };
    keel_feature_answer a;
    OK(keel_features_get(f->st, repo2, &ref, 1, names, 1, values, 1, 10 * H, &f->arena, &a,
                         &f->err));
    assert_int_equal(a.status, KEEL_FEATURE_NOT_FOUND);
    keel_feature_repo_free(repo2);
    free(yaml2);
    /* A view whose join key is not among the request's keys. */
    keel_feature_ref r2 = { READINGS, 0 };
    assert_int_equal(keel_features_get(f->st, f->repo, &r2, 1, names, 1, values, 1, 10 * H,
                                       &f->arena, &a, &f->err),
                     KEEL_EINVAL);
    assert_non_null(strstr(f->err.msg, "join key 'sensor'"));
}

static void bad_uri(void **state)
{
    (void)state;
    keel_online_store *s = NULL;
    keel_err err;
    keel_err_clear(&err);
    assert_int_equal(keel_online_store_open("redis://", NULL, &s, &err), KEEL_EINVAL);
    assert_int_equal(keel_online_store_open("mongodb://x", NULL, &s, &err), KEEL_EINVAL);
    /* Redis connects lazily: a closed port fails the call, with the URI. */
    OK(keel_online_store_open("redis://127.0.0.1:1", NULL, &s, &err));
    keel_feature_repo *repo = NULL;
    OK(keel_feature_repo_parse("features.yaml", YAML, strlen(YAML), &repo, &err));
    keel_online_freshness fr;
    assert_int_equal(keel_online_freshness_get(s, repo, WEATHER, &fr, &err), KEEL_EBUSY);
    assert_non_null(strstr(err.msg, "redis://127.0.0.1:1: cannot connect"));
    keel_feature_repo_free(repo);
    keel_online_store_close(s);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(write_then_get, setup, teardown),
        cmocka_unit_test_setup_teardown(newest_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(ttl_statuses, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_values, setup, teardown),
        cmocka_unit_test_setup_teardown(many_entities, setup, teardown),
        cmocka_unit_test_setup_teardown(changed_definitions_and_keys, setup, teardown),
        cmocka_unit_test(bad_uri),
    };
    return keel_test_main(argc, argv, "online_store", tests);
}
