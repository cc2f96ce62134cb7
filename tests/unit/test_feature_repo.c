/*
 * test_feature_repo.c — reading features.yaml: a repo using every field
 * (multi-key entity, CSV and dataset sources, TTLs, services), feature
 * references, every error with its exact "file:line:column: message", the
 * checks of a CSV source's header (plain and gzip; only the header is read),
 * and the registry of applied definitions: versions, unchanged bytes, the
 * dataset-source checks that need a workspace.
 *
 * Positions in expected messages were counted by hand from the YAML texts,
 * which are written one line per source line so they can be counted again.
 */
#include "testutil.h"

#include "features/features_internal.h"

#include <keel/dataset.h>
#include <keel/error.h>
#include <keel/features.h>
#include <keel/util.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OK(call) assert_int_equal((call), KEEL_OK)
#define FILE_NAME "features.yaml"

static keel_feature_repo *parse_ok(const char *yaml)
{
    keel_feature_repo *repo = NULL;
    keel_err err;
    keel_err_clear(&err);
    if (keel_feature_repo_parse(FILE_NAME, yaml, strlen(yaml), &repo, &err) != KEEL_OK)
        fail_msg("keel_feature_repo_parse: %s\n---\n%s", err.msg, yaml);
    assert_non_null(repo);
    return repo;
}

/* Parsing fails with code and exactly msg. */
static void fails_with(const char *yaml, int code, const char *msg)
{
    keel_feature_repo *repo = (keel_feature_repo *)(uintptr_t)1;
    keel_err err;
    keel_err_clear(&err);
    int rc = keel_feature_repo_parse(FILE_NAME, yaml, strlen(yaml), &repo, &err);
    if (rc != code || repo != NULL || strcmp(err.msg, msg) != 0)
        fail_msg("rc %d (want %d), message\n  \"%s\"\nwant\n  \"%s\"\n---\n%s", rc, code,
                 err.msg, msg, yaml);
    assert_int_equal(err.code, code);
}

static void fails(const char *yaml, const char *msg)
{
    fails_with(yaml, KEEL_EINVAL, msg);
}

/* Loading path fails with code and exactly msg. */
static void load_fails(const char *path, int code, const char *msg)
{
    keel_feature_repo *repo = NULL;
    keel_err err;
    keel_err_clear(&err);
    int rc = keel_feature_repo_load(path, &repo, &err);
    if (rc != code || repo != NULL || strcmp(err.msg, msg) != 0)
        fail_msg("rc %d (want %d), message\n  \"%s\"\nwant\n  \"%s\"", rc, code, err.msg, msg);
}

static keel_feature_repo *load_ok(const char *path)
{
    keel_feature_repo *repo = NULL;
    keel_err err;
    keel_err_clear(&err);
    if (keel_feature_repo_load(path, &repo, &err) != KEEL_OK)
        fail_msg("keel_feature_repo_load %s: %s", path, err.msg);
    return repo;
}

static char *path_in(char *out, const char *dir, const char *name)
{
    if (snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
        fail_msg("path too long: %s/%s", dir, name);
    return out;
}

/* ---- a valid repo ---- */

#define BEIJING_CSV                                                                           \
    "No,datetime,loaded_at,station,TEMP,PRES,wd\n"                                            \
    "1,2013-03-01 00:00:00,2013-03-01 01:00:00,Aotizhongxin,-0.7,1023,NNW\n"

static const char full_yaml[] =
    "project: air\n"                                       /*  1 */
    "entities:\n"                                          /*  2 */
    "  station:\n"                                         /*  3 */
    "    join_keys: {station: string}\n"                   /*  4 */
    "  trip:\n"                                            /*  5 */
    "    join_keys:\n"                                     /*  6 */
    "      driver: int\n"                                  /*  7 */
    "      rider: string\n"                                /*  8 */
    "sources:\n"                                           /*  9 */
    "  beijing:\n"                                         /* 10 */
    "    path: ../data/./beijing.csv\n"                    /* 11 */
    "    timestamp: datetime\n"                            /* 12 */
    "    created_timestamp: loaded_at\n"                   /* 13 */
    "  trips:\n"                                           /* 14 */
    "    dataset: trips@2\n"                               /* 15 */
    "    timestamp: ts\n"                                  /* 16 */
    "feature_views:\n"                                     /* 17 */
    "  weather:\n"                                         /* 18 */
    "    entities: [station]\n"                            /* 19 */
    "    source: beijing\n"                                /* 20 */
    "    ttl: 3h\n"                                        /* 21 */
    "    online: true\n"                                   /* 22 */
    "    features: {TEMP: float, PRES: float, wd: string}\n" /* 23 */
    "  trip_stats:\n"                                      /* 24 */
    "    entities: trip\n"                                 /* 25 */
    "    source: trips\n"                                  /* 26 */
    "    features:\n"                                      /* 27 */
    "      fare: float\n"                                  /* 28 */
    "      rated: bool\n"                                  /* 29 */
    "      n_stops: int\n"                                 /* 30 */
    "feature_services:\n"                                  /* 31 */
    "  pm25: [weather:TEMP, weather:PRES, \"weather:wd\"]\n" /* 32 */
    "  fares:\n"                                           /* 33 */
    "    - trip_stats:fare\n"                              /* 34 */
    "    - weather:TEMP\n";                                /* 35 */

static void full_repo_every_field(void **state)
{
    (void)state;
    char dir[PATH_MAX], real[PATH_MAX], p[PATH_MAX], want[PATH_MAX];
    keel_test_tmpdir(dir);
    assert_non_null(realpath(dir, real));
    keel_test_write(path_in(p, dir, "data/beijing.csv"), BEIJING_CSV);
    keel_test_write(path_in(p, dir, "repo/features.yaml"), full_yaml);
    keel_feature_repo *repo = load_ok(p);

    assert_string_equal(repo->file, p);
    assert_string_equal(repo->dir, path_in(want, real, "repo"));
    assert_string_equal(repo->project, "air");
    char digest[KEEL_SHA256_HEX_LEN + 1];
    OK(keel_sha256_hex(full_yaml, strlen(full_yaml), digest, NULL));
    assert_string_equal(repo->digest, digest);
    size_t len = 0;
    assert_string_equal(feature_repo_text(repo, &len), full_yaml);
    assert_int_equal(len, strlen(full_yaml));

    assert_int_equal(repo->n_entities, 2);
    const keel_entity *station = &repo->entities[0], *trip = &repo->entities[1];
    assert_string_equal(station->name, "station");
    assert_int_equal(station->n_join_keys, 1);
    assert_string_equal(station->join_keys[0], "station");
    assert_int_equal(station->key_types[0], KEEL_COL_STRING);
    assert_int_equal(station->line, 3);
    assert_int_equal(station->column, 3);
    assert_string_equal(trip->name, "trip");
    assert_int_equal(trip->n_join_keys, 2);
    assert_string_equal(trip->join_keys[0], "driver");
    assert_int_equal(trip->key_types[0], KEEL_COL_INT);
    assert_string_equal(trip->join_keys[1], "rider");
    assert_int_equal(trip->key_types[1], KEEL_COL_STRING);
    assert_int_equal(trip->line, 5);

    assert_int_equal(repo->n_sources, 2);
    const keel_feature_source *beijing = &repo->sources[0], *trips = &repo->sources[1];
    assert_string_equal(beijing->name, "beijing");
    assert_string_equal(beijing->path, path_in(want, real, "data/beijing.csv"));
    assert_null(beijing->dataset);
    assert_string_equal(beijing->timestamp, "datetime");
    assert_string_equal(beijing->created_timestamp, "loaded_at");
    assert_int_equal(beijing->line, 10);
    assert_int_equal(beijing->column, 3);
    assert_string_equal(trips->name, "trips");
    assert_null(trips->path);
    assert_string_equal(trips->dataset, "trips@2");
    assert_string_equal(trips->timestamp, "ts");
    assert_null(trips->created_timestamp);
    assert_int_equal(trips->line, 14);

    assert_int_equal(repo->n_views, 2);
    const keel_feature_view *weather = &repo->views[0], *stats = &repo->views[1];
    assert_string_equal(weather->name, "weather");
    assert_int_equal(weather->n_entities, 1);
    assert_int_equal(weather->entities[0], 0);
    assert_int_equal(weather->source, 0);
    assert_int_equal(weather->ttl_ms, 3 * 3600 * 1000);
    assert_true(weather->online);
    assert_int_equal(weather->n_features, 3);
    assert_string_equal(weather->features[0].name, "TEMP");
    assert_int_equal(weather->features[0].type, KEEL_COL_FLOAT);
    assert_string_equal(weather->features[2].name, "wd");
    assert_int_equal(weather->features[2].type, KEEL_COL_STRING);
    assert_int_equal(weather->line, 18);
    assert_int_equal(weather->column, 3);
    assert_string_equal(stats->name, "trip_stats");
    assert_int_equal(stats->n_entities, 1);
    assert_int_equal(stats->entities[0], 1);
    assert_int_equal(stats->source, 1);
    assert_int_equal(stats->ttl_ms, 0);
    assert_false(stats->online);
    assert_int_equal(stats->n_features, 3);
    assert_int_equal(stats->features[0].type, KEEL_COL_FLOAT);
    assert_int_equal(stats->features[1].type, KEEL_COL_BOOL);
    assert_int_equal(stats->features[2].type, KEEL_COL_INT);

    assert_int_equal(repo->n_services, 2);
    const keel_feature_service *pm25 = &repo->services[0], *fares = &repo->services[1];
    assert_string_equal(pm25->name, "pm25");
    assert_int_equal(pm25->n_features, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(pm25->features[i].view, 0);
        assert_int_equal(pm25->features[i].feature, i);
    }
    assert_int_equal(pm25->line, 32);
    assert_string_equal(fares->name, "fares");
    assert_int_equal(fares->n_features, 2);
    assert_int_equal(fares->features[0].view, 1);
    assert_int_equal(fares->features[0].feature, 0);
    assert_int_equal(fares->features[1].view, 0);
    assert_int_equal(fares->features[1].feature, 0);
    assert_int_equal(fares->line, 33);

    assert_int_equal(keel_feature_view_index(repo, "trip_stats"), 1);
    assert_int_equal(keel_feature_view_index(repo, "pm25"), -1);
    assert_int_equal(keel_feature_service_index(repo, "fares"), 1);
    assert_int_equal(keel_feature_service_index(repo, "weather"), -1);
    assert_int_equal(feature_entity_index(repo, "trip"), 1);
    assert_int_equal(feature_source_index(repo, "trips"), 1);
    assert_int_equal(feature_source_index(repo, "nope"), -1);

    keel_feature_repo_free(repo);
    keel_feature_repo_free(NULL);
    keel_test_rmrf(dir);
}

/* Sections in any order, empty sections, durations and booleans. */
static void sections_any_order_and_values(void **state)
{
    (void)state;
    keel_feature_repo *repo = parse_ok("feature_services:\n"
                                       "feature_views:\n"
                                       "  v:\n"
                                       "    features: {x: int}\n"
                                       "    ttl: 90\n"
                                       "    online: no\n"
                                       "    source: s\n"
                                       "    entities: [e]\n"
                                       "sources:\n"
                                       "  s: {dataset: d, timestamp: t}\n"
                                       "entities:\n"
                                       "  e: {join_keys: {id: int}}\n"
                                       "project: p\n");
    assert_int_equal(repo->n_services, 0);
    assert_int_equal(repo->views[0].ttl_ms, 90000);
    assert_false(repo->views[0].online);
    assert_string_equal(repo->sources[0].dataset, "d");
    keel_feature_repo_free(repo);

    static const struct { const char *ttl; int64_t ms; } ttls[] = {
        { "0", 0 }, { "30s", 30000 }, { "15m", 900000 }, { "7d", 604800000 },
        { "500ms", 500 }, { "1.5h", 5400000 },
    };
    for (size_t i = 0; i < sizeof ttls / sizeof ttls[0]; i++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml,
                 "project: p\n"
                 "entities: {e: {join_keys: {id: int}}}\n"
                 "sources: {s: {dataset: d@3, timestamp: t}}\n"
                 "feature_views: {v: {entities: e, source: s, ttl: %s, online: yes, "
                 "features: {x: int}}}\n", ttls[i].ttl);
        repo = parse_ok(yaml);
        assert_int_equal(repo->views[0].ttl_ms, ttls[i].ms);
        assert_true(repo->views[0].online);
        keel_feature_repo_free(repo);
    }

    /* A project alone is a repo. */
    repo = parse_ok("project: p\nentities:\nsources: {}\nfeature_views: ~\n");
    assert_int_equal(repo->n_entities + repo->n_sources + repo->n_views + repo->n_services, 0);
    assert_int_equal(repo->dir[0], '/');
    keel_feature_repo_free(repo);
}

static void ttl_text_and_paths(void **state)
{
    (void)state;
    keel_arena a;
    keel_arena_init(&a, 0);
    assert_string_equal(feature_ttl_text(&a, 0), "forever");
    assert_string_equal(feature_ttl_text(&a, 3 * 3600000), "3h");
    assert_string_equal(feature_ttl_text(&a, 90 * 60000), "90m");
    assert_string_equal(feature_ttl_text(&a, 2 * 86400000), "2d");
    assert_string_equal(feature_ttl_text(&a, 1500), "1500ms");
    assert_string_equal(feature_ttl_text(&a, 45000), "45s");
    keel_arena_free(&a);

    /* Paths are made absolute and tidied without touching the disk. */
    static const char yaml[] = "project: p\n"
                               "sources:\n"
                               "  a: {path: /x/./y//../z.csv, timestamp: t}\n"
                               "  b: {path: /../../z.csv, timestamp: t}\n";
    keel_feature_repo *repo = NULL;
    keel_err err;
    OK(feature_repo_parse_opts(FILE_NAME, yaml, strlen(yaml), false, &repo, &err));
    assert_string_equal(repo->sources[0].path, "/x/z.csv");
    assert_string_equal(repo->sources[1].path, "/z.csv");
    keel_feature_repo_free(repo);
}

/* ---- references ---- */

static const char refs_yaml[] =
    "project: p\n"
    "entities: {e: {join_keys: {id: int}}}\n"
    "sources: {s: {dataset: d, timestamp: t}}\n"
    "feature_views:\n"
    "  a: {entities: e, source: s, features: {x: int, y: float, \"z:1\": string}}\n"
    "  b: {entities: e, source: s, features: {x: bool}}\n"
    "feature_services:\n"
    "  svc: [b:x, a:x]\n";

static void refs_fail(const keel_feature_repo *repo, const char *text, int code, const char *msg)
{
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_feature_ref *refs = NULL;
    size_t n = 99;
    keel_err err;
    keel_err_clear(&err);
    int rc = keel_feature_refs_parse(repo, text, &a, &refs, &n, &err);
    if (rc != code || strcmp(err.msg, msg) != 0)
        fail_msg("'%s': rc %d (want %d), message\n  \"%s\"\nwant\n  \"%s\"", text, rc, code,
                 err.msg, msg);
    assert_null(refs);
    assert_int_equal(n, 0);
    keel_arena_free(&a);
}

static void refs_parse_and_errors(void **state)
{
    (void)state;
    keel_feature_repo *repo = parse_ok(refs_yaml);
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_feature_ref *refs = NULL;
    size_t n = 0;
    keel_err err;
    OK(keel_feature_refs_parse(repo, "a:y, b:x ,a:z:1", &a, &refs, &n, &err));
    assert_int_equal(n, 3);
    assert_int_equal(refs[0].view, 0);
    assert_int_equal(refs[0].feature, 1);
    assert_int_equal(refs[1].view, 1);
    assert_int_equal(refs[1].feature, 0);
    assert_int_equal(refs[2].view, 0);
    assert_int_equal(refs[2].feature, 2);
    OK(keel_feature_refs_parse(repo, "b:x", &a, &refs, &n, &err));
    assert_int_equal(n, 1);
    assert_int_equal(repo->services[0].features[0].view, 1);
    assert_int_equal(repo->services[0].features[1].view, 0);

    refs_fail(repo, "", KEEL_EINVAL, "no features given (view:feature, comma-separated)");
    refs_fail(repo, "  ", KEEL_EINVAL, "no features given (view:feature, comma-separated)");
    refs_fail(repo, "a:x,,b:x", KEEL_EINVAL, "an empty feature reference in 'a:x,,b:x'");
    refs_fail(repo, "a:x,", KEEL_EINVAL, "an empty feature reference in 'a:x,'");
    refs_fail(repo, "a:x, x", KEEL_EINVAL, "'x' is not a feature reference (view:feature)");
    refs_fail(repo, ":x", KEEL_EINVAL, "':x' is not a feature reference (view:feature)");
    refs_fail(repo, "a:", KEEL_EINVAL, "'a:' is not a feature reference (view:feature)");
    refs_fail(repo, "c:x", KEEL_ENOTFOUND, "no feature view 'c' (views: a, b)");
    refs_fail(repo, "b:y", KEEL_ENOTFOUND, "feature view 'b' has no feature 'y' (features: x)");
    refs_fail(repo, "a:x, a:y, a:x", KEEL_EINVAL, "a:x is given twice");
    assert_int_equal(keel_feature_refs_parse(NULL, "a:x", &a, &refs, &n, &err), KEEL_EINVAL);
    keel_arena_free(&a);
    keel_feature_repo_free(repo);
}

/* ---- errors ---- */

static void document_errors(void **state)
{
    (void)state;
    fails_with("project: [air\n", KEEL_EPARSE,
               "features.yaml:2:1: did not find expected ',' or ']'");
    fails("", "features.yaml: empty: expected a mapping with project, entities, sources, "
              "feature_views");
    fails("- a\n", "features.yaml:1:1: features.yaml must be a mapping, not a list");
    fails("project: air\nviews: {}\n",
          "features.yaml:2:1: unknown key 'views' in features.yaml (allowed: project, entities, "
          "sources, feature_views, feature_services)");
    fails("project: air\nproject: air\n",
          "features.yaml:2:1: key 'project' appears twice in features.yaml");
    fails("entities: {}\n", "features.yaml:1:1: features.yaml needs a project ('project: NAME')");
    fails("project: a b\n", "features.yaml:1:10: project must be a non-empty string of at most "
                            "200 bytes without spaces, ':', ',', '/' or '@'");
    fails("project: [a]\n", "features.yaml:1:10: project must be a non-empty string of at most "
                            "200 bytes without spaces, ':', ',', '/' or '@'");
    fails("project: air\nentities: [a]\n",
          "features.yaml:2:11: 'entities' must be a mapping of names, not a list");
    fails("project: air\nfeature_services: text\n",
          "features.yaml:2:19: 'feature_services' must be a mapping of names, not a string");
    keel_err err;
    keel_feature_repo *repo = NULL;
    assert_int_equal(keel_feature_repo_parse(NULL, "", 0, &repo, &err), KEEL_EINVAL);
    assert_int_equal(keel_feature_repo_load("/nonexistent/features.yaml", &repo, &err),
                     KEEL_ENOTFOUND);
    assert_null(repo);
}

static void entity_errors(void **state)
{
    (void)state;
    fails("project: air\n"
          "entities:\n"
          "  station:\n"
          "    keys: {station: string}\n",
          "features.yaml:4:5: unknown key 'keys' in entity 'station' (allowed: join_keys)");
    fails("project: air\n"
          "entities:\n"
          "  station: {}\n",
          "features.yaml:3:3: entity 'station' needs join_keys (column: type)");
    fails("project: air\n"
          "entities:\n"
          "  station: x\n",
          "features.yaml:3:12: entity 'station' must be a mapping, not a string");
    fails("project: air\n"
          "entities:\n"
          "  station:\n"
          "    join_keys: [station]\n",
          "features.yaml:4:16: join_keys of entity 'station' must be a mapping of column: type "
          "(int or string), not a list");
    fails("project: air\n"
          "entities:\n"
          "  station:\n"
          "    join_keys: {}\n",
          "features.yaml:4:16: entity 'station' has no join keys");
    fails("project: air\n"
          "entities:\n"
          "  station:\n"
          "    join_keys: {station: float}\n",
          "features.yaml:4:26: join key 'station' of entity 'station': unknown type 'float' "
          "(allowed: int, string)");
    fails("project: air\n"
          "entities:\n"
          "  station:\n"
          "    join_keys: {a: int, a: int}\n",
          "features.yaml:4:25: entity 'station': join key 'a' appears twice");
    fails("project: air\n"
          "entities:\n"
          "  station:\n"
          "    join_keys: {station: string}\n"
          "  station:\n"
          "    join_keys: {station: string}\n",
          "features.yaml:5:3: entity 'station' is declared twice (first at line 3)");
    fails("project: air\n"
          "entities:\n"
          "  \"st ation\":\n"
          "    join_keys: {station: string}\n",
          "features.yaml:3:3: an entity name must be a non-empty string of at most 200 bytes "
          "without spaces, ':', ',', '/' or '@'");
    fails("project: air\n"
          "entities:\n"
          "  station:\n"
          "    join_keys: {\" station\": string}\n",
          "features.yaml:4:17: a join key must be a non-empty column name without ',', control "
          "characters or spaces at either end");
}

#define ENTITY_HEAD                                                                           \
    "project: air\n"                                                        /* 1 */           \
    "entities:\n"                                                           /* 2 */           \
    "  station:\n"                                                          /* 3 */           \
    "    join_keys: {station: string}\n"                                    /* 4 */           \
    "sources:\n"                                                            /* 5 */

static void source_errors(void **state)
{
    (void)state;
    fails(ENTITY_HEAD
          "  s:\n"
          "    timestamp: ts\n",
          "features.yaml:6:3: source 's' needs a path (a CSV file) or a dataset (NAME[@VERSION])");
    fails(ENTITY_HEAD
          "  s:\n"
          "    path: x.csv\n"
          "    dataset: d\n"
          "    timestamp: ts\n",
          "features.yaml:8:5: source 's' has both a path and a dataset: give one");
    fails(ENTITY_HEAD
          "  s:\n"
          "    dataset: d\n",
          "features.yaml:6:3: source 's' needs a timestamp (its event-time column)");
    fails(ENTITY_HEAD
          "  s:\n"
          "    dataset: d@0\n"
          "    timestamp: ts\n",
          "features.yaml:7:14: dataset must be NAME or NAME@VERSION (a version from 1), not "
          "'d@0'");
    fails(ENTITY_HEAD
          "  s:\n"
          "    dataset: a/b\n"
          "    timestamp: ts\n",
          "features.yaml:7:14: dataset must be NAME or NAME@VERSION (a version from 1), not "
          "'a/b'");
    fails(ENTITY_HEAD
          "  s:\n"
          "    dataset: d\n"
          "    timestamp: ts\n"
          "    created_timestamp: ts\n",
          "features.yaml:9:24: source 's': created_timestamp must be another column than "
          "timestamp");
    fails(ENTITY_HEAD
          "  s:\n"
          "    dataset: d\n"
          "    timestmp: ts\n",
          "features.yaml:8:5: unknown key 'timestmp' in source 's' (allowed: path, dataset, "
          "timestamp, created_timestamp)");
    fails(ENTITY_HEAD
          "  s:\n"
          "    dataset: d\n"
          "    dataset: e\n",
          "features.yaml:8:5: key 'dataset' appears twice in source 's'");
    fails(ENTITY_HEAD
          "  s:\n"
          "    path: \"\"\n"
          "    timestamp: ts\n",
          "features.yaml:7:11: path must be a non-empty string without NUL bytes");
    fails(ENTITY_HEAD
          "  s:\n"
          "    path: [a]\n"
          "    timestamp: ts\n",
          "features.yaml:7:11: path must be a string, not a list");
    fails(ENTITY_HEAD
          "  s: {dataset: d, timestamp: ts}\n"
          "  s: {dataset: d, timestamp: ts}\n",
          "features.yaml:7:3: source 's' is declared twice (first at line 6)");
    fails(ENTITY_HEAD
          "  a/b: {dataset: d, timestamp: ts}\n",
          "features.yaml:6:3: a source name must be a non-empty string of at most 200 bytes "
          "without spaces, ':', ',', '/' or '@'");
}

#define SOURCE_HEAD                                                                           \
    ENTITY_HEAD                                                                               \
    "  s:\n"                                                                /* 6 */           \
    "    dataset: beijing@1\n"                                              /* 7 */           \
    "    timestamp: ts\n"                                                   /* 8 */           \
    "feature_views:\n"                                                      /* 9 */           \
    "  weather:\n"                                                          /* 10 */

static void view_errors(void **state)
{
    (void)state;
    fails(SOURCE_HEAD
          "    entity: [station]\n",
          "features.yaml:11:5: unknown key 'entity' in feature view 'weather' (allowed: "
          "entities, source, ttl, online, features)");
    fails(SOURCE_HEAD
          "    entities: [station, city]\n"
          "    source: s\n"
          "    features: {TEMP: float}\n",
          "features.yaml:11:25: feature view 'weather': no entity 'city' (entities: station)");
    fails(SOURCE_HEAD
          "    entities: [station]\n"
          "    source: nope\n"
          "    features: {TEMP: float}\n",
          "features.yaml:12:13: feature view 'weather': no source 'nope' (sources: s)");
    fails(SOURCE_HEAD
          "    entities: [station]\n"
          "    source: s\n"
          "    ttl: 3 hours\n"
          "    features: {TEMP: float}\n",
          "features.yaml:13:10: ttl must be a duration such as 30s, 15m, 3h or 7d (0 = values "
          "never expire)");
    fails(SOURCE_HEAD
          "    entities: [station]\n"
          "    source: s\n"
          "    ttl: -1s\n"
          "    features: {TEMP: float}\n",
          "features.yaml:13:10: ttl must be a duration such as 30s, 15m, 3h or 7d (0 = values "
          "never expire)");
    fails(SOURCE_HEAD
          "    entities: [station]\n"
          "    source: s\n"
          "    ttl: 0.5ms\n"
          "    features: {TEMP: float}\n",
          "features.yaml:13:10: ttl must be at least 1ms (0 = values never expire)");
    fails(SOURCE_HEAD
          "    entities: [station]\n"
          "    source: s\n"
          "    ttl: 40000d\n"
          "    features: {TEMP: float}\n",
          "features.yaml:13:10: ttl must be at most a hundred years (0 = values never expire)");
    fails(SOURCE_HEAD
          "    entities: [station]\n"
          "    source: s\n"
          "    online: maybe\n"
          "    features: {TEMP: float}\n",
          "features.yaml:13:13: online must be true or false");
    fails(SOURCE_HEAD
          "    entities: [station]\n"
          "    source: s\n"
          "    features: {TEMP: double}\n",
          "features.yaml:13:22: feature 'TEMP': unknown type 'double' (allowed: int, float, "
          "string, bool)");
    fails(SOURCE_HEAD
          "    entities: [station]\n"
          "    source: s\n"
          "    features: {TEMP: datetime}\n",
          "features.yaml:13:22: feature 'TEMP': unknown type 'datetime' (allowed: int, float, "
          "string, bool)");
    fails(SOURCE_HEAD
          "    entities: [station]\n"
          "    source: s\n"
          "    features: {TEMP: float, TEMP: int}\n",
          "features.yaml:13:29: feature view 'weather': feature 'TEMP' appears twice");
    fails(SOURCE_HEAD
          "    entities: [station]\n"
          "    source: s\n"
          "    features: {\"a,b\": float}\n",
          "features.yaml:13:16: a feature name must be a non-empty column name without ',', "
          "control characters or spaces at either end");
    fails(SOURCE_HEAD
          "    entities: [station]\n"
          "    source: s\n",
          "features.yaml:10:3: feature view 'weather' needs features (column: type)");
    fails(SOURCE_HEAD
          "    entities: [station]\n"
          "    source: s\n"
          "    features: {}\n",
          "features.yaml:13:15: feature view 'weather' has no features");
    fails(SOURCE_HEAD
          "    entities: [station]\n"
          "    source: s\n"
          "    features: [TEMP]\n",
          "features.yaml:13:15: features of feature view 'weather' must be a mapping of column: "
          "type (int, float, string, bool), not a list");
    fails(SOURCE_HEAD
          "    source: s\n"
          "    features: {TEMP: float}\n",
          "features.yaml:10:3: feature view 'weather' needs entities");
    fails(SOURCE_HEAD
          "    entities: []\n"
          "    source: s\n"
          "    features: {TEMP: float}\n",
          "features.yaml:11:15: feature view 'weather' needs at least one entity");
    fails(SOURCE_HEAD
          "    entities: {station: 1}\n",
          "features.yaml:11:15: entities of feature view 'weather' must be a list of entity "
          "names");
    fails(SOURCE_HEAD
          "    entities: [station, station]\n",
          "features.yaml:11:25: feature view 'weather' lists entity 'station' twice");
    fails(SOURCE_HEAD
          "    entities: [station]\n"
          "    features: {TEMP: float}\n",
          "features.yaml:10:3: feature view 'weather' needs a source");
    fails(SOURCE_HEAD
          "    entities: [station]\n"
          "    source: [s]\n"
          "    features: {TEMP: float}\n",
          "features.yaml:12:13: source of feature view 'weather' must be a source name");
    fails(SOURCE_HEAD
          "    entities: [station]\n"
          "    source: s\n"
          "    features: {TEMP: float}\n"
          "  weather:\n"
          "    entities: [station]\n"
          "    source: s\n"
          "    features: {TEMP: float}\n",
          "features.yaml:14:3: feature view 'weather' is declared twice (first at line 10)");
    fails(SOURCE_HEAD
          "    - station\n",
          "features.yaml:11:5: feature view 'weather' must be a mapping, not a list");
    /* Two entities of one view with a join key in common. */
    fails("project: air\n"
          "entities:\n"
          "  station: {join_keys: {station: string}}\n"
          "  site: {join_keys: {city: string, station: string}}\n"
          "sources: {s: {dataset: d, timestamp: ts}}\n"
          "feature_views:\n"
          "  w: {entities: [station, site], source: s, features: {x: int}}\n",
          "features.yaml:7:27: feature view 'w': join key 'station' is in both entity "
          "'station' and entity 'site'");
}

#define VIEW_HEAD                                                                             \
    SOURCE_HEAD                                                                               \
    "    entities: [station]\n"                                             /* 11 */          \
    "    source: s\n"                                                       /* 12 */          \
    "    features: {TEMP: float}\n"                                         /* 13 */          \
    "feature_services:\n"                                                   /* 14 */

static void service_errors(void **state)
{
    (void)state;
    keel_feature_repo *repo = parse_ok(VIEW_HEAD "  pm25: weather:TEMP\n");
    assert_int_equal(repo->services[0].n_features, 1);
    keel_feature_repo_free(repo);
    fails(VIEW_HEAD "  pm25: [weather:TEMP, nope:TEMP]\n",
          "features.yaml:15:24: feature service 'pm25': no feature view 'nope' (views: "
          "weather)");
    fails(VIEW_HEAD "  pm25: [weather:PRES]\n",
          "features.yaml:15:10: feature service 'pm25': feature view 'weather' has no feature "
          "'PRES' (features: TEMP)");
    fails(VIEW_HEAD "  pm25: [TEMP]\n",
          "features.yaml:15:10: feature service 'pm25': 'TEMP' is not a feature reference "
          "(view:feature)");
    fails(VIEW_HEAD "  pm25: [weather:TEMP, weather:TEMP]\n",
          "features.yaml:15:24: feature service 'pm25' lists weather:TEMP twice");
    fails(VIEW_HEAD "  pm25: [[weather:TEMP]]\n",
          "features.yaml:15:10: feature service 'pm25': a feature is view:feature, not a list");
    fails(VIEW_HEAD "  weather: [weather:TEMP]\n",
          "features.yaml:15:3: feature service 'weather' has the name of the feature view at "
          "line 10: give it another");
    fails(VIEW_HEAD "  pm25: []\n", "features.yaml:15:9: feature service 'pm25' has no features");
    fails(VIEW_HEAD "  pm25: {weather: TEMP}\n",
          "features.yaml:15:9: feature service 'pm25' must be a list of view:feature");
    fails(VIEW_HEAD "  pm25: [weather:TEMP]\n  pm25: [weather:TEMP]\n",
          "features.yaml:16:3: feature service 'pm25' is declared twice (first at line 15)");
}

/* Counts are bounded, also when YAML aliases repeat one mapping many times. */
static void limits(void **state)
{
    (void)state;
    size_t cap = 1 << 20, len = 0;
    char *yaml = malloc(cap);
    assert_non_null(yaml);
    len += (size_t)snprintf(yaml + len, cap - len, SOURCE_HEAD "    entities: [station]\n"
                            "    source: s\n"
                            "    features: {");
    for (int i = 0; i <= 4096; i++)
        len += (size_t)snprintf(yaml + len, cap - len, "%sf%d: int", i ? ", " : "", i);
    snprintf(yaml + len, cap - len, "}\n");
    fails_with(yaml, KEEL_ELIMIT, "features.yaml:13:15: features: more than 4096");

    /* 25 views sharing 4000 features through an alias are fine; 26 are not. */
    for (int views = 25; views <= 26; views++) {
        len = (size_t)snprintf(yaml, cap, SOURCE_HEAD "    entities: [station]\n"
                               "    source: s\n"
                               "    features: &many {");
        for (int i = 0; i < 4000; i++)
            len += (size_t)snprintf(yaml + len, cap - len, "%sf%d: int", i ? ", " : "", i);
        len += (size_t)snprintf(yaml + len, cap - len, "}\n");
        for (int v = 1; v < views; v++)
            len += (size_t)snprintf(yaml + len, cap - len,
                                    "  v%d: {entities: station, source: s, features: *many}\n",
                                    v);
        if (views == 25) {
            keel_feature_repo *repo = parse_ok(yaml);
            assert_int_equal(repo->n_views, 25);
            assert_int_equal(repo->views[24].n_features, 4000);
            keel_feature_repo_free(repo);
        } else {
            fails_with(yaml, KEEL_ELIMIT,
                       "features.yaml:13:15: features in all views: more than 100000");
        }
    }
    free(yaml);
}

/* ---- CSV sources: the header ---- */

static const char csv_yaml[] =
    "project: air\n"                                        /*  1 */
    "entities:\n"                                           /*  2 */
    "  station:\n"                                          /*  3 */
    "    join_keys: {%s: string}\n"                         /*  4 */
    "sources:\n"                                            /*  5 */
    "  beijing:\n"                                          /*  6 */
    "    path: %s\n"                                        /*  7 */
    "    timestamp: %s\n"                                   /*  8 */
    "    created_timestamp: %s\n"                           /*  9 */
    "feature_views:\n"                                      /* 10 */
    "  weather:\n"                                          /* 11 */
    "    entities: [station]\n"                             /* 12 */
    "    source: beijing\n"                                 /* 13 */
    "    features: {TEMP: float, %s: string}\n";            /* 14 */

static void write_csv_yaml(const char *yaml_path, const char *key, const char *path,
                           const char *ts, const char *created, const char *feature)
{
    char text[2048];
    snprintf(text, sizeof text, csv_yaml, key, path, ts, created, feature);
    keel_test_write(yaml_path, text);
}

static void csv_header_checks(void **state)
{
    (void)state;
    char dir[PATH_MAX], real[PATH_MAX], yaml[PATH_MAX], p[PATH_MAX], msg[3 * PATH_MAX + 512];
    keel_test_tmpdir(dir);
    assert_non_null(realpath(dir, real));
    path_in(yaml, dir, "features.yaml");
    /* Only the header is read: the ragged third record does not matter. */
    keel_test_write(path_in(p, dir, "beijing.csv"),
                    "No,datetime,loaded_at,station,TEMP,wd\n"
                    "1,2013-03-01 00:00:00,2013-03-01 01:00:00,A,-0.7,NNW\n"
                    "2,oops\n");
    const char *columns = "No, datetime, loaded_at, station, TEMP, wd";

    write_csv_yaml(yaml, "station", "beijing.csv", "datetime", "loaded_at", "wd");
    keel_feature_repo *repo = load_ok(yaml);
    keel_feature_repo_free(repo);

    write_csv_yaml(yaml, "station", "beijing.csv", "when", "loaded_at", "wd");
    snprintf(msg, sizeof msg, "%s:6:3: source 'beijing': timestamp column 'when' is not in "
             "%s/beijing.csv (columns: %s)", yaml, real, columns);
    load_fails(yaml, KEEL_EINVAL, msg);

    write_csv_yaml(yaml, "station", "beijing.csv", "datetime", "loaded", "wd");
    snprintf(msg, sizeof msg, "%s:6:3: source 'beijing': created_timestamp column 'loaded' is "
             "not in %s/beijing.csv (columns: %s)", yaml, real, columns);
    load_fails(yaml, KEEL_EINVAL, msg);

    write_csv_yaml(yaml, "site", "beijing.csv", "datetime", "loaded_at", "wd");
    snprintf(msg, sizeof msg, "%s:11:3: feature view 'weather': join key 'site' (entity "
             "'station') is not a column of source 'beijing' in %s/beijing.csv (columns: %s)",
             yaml, real, columns);
    load_fails(yaml, KEEL_EINVAL, msg);

    write_csv_yaml(yaml, "station", "beijing.csv", "datetime", "loaded_at", "WD");
    snprintf(msg, sizeof msg, "%s:11:3: feature view 'weather': feature 'WD' is not a column "
             "of source 'beijing' in %s/beijing.csv (columns: %s)", yaml, real, columns);
    load_fails(yaml, KEEL_EINVAL, msg);

    write_csv_yaml(yaml, "station", "nothere.csv", "datetime", "loaded_at", "wd");
    snprintf(msg, sizeof msg, "%s:6:3: source 'beijing': %s/nothere.csv: cannot open: No such "
             "file or directory", yaml, real);
    load_fails(yaml, KEEL_EIO, msg);

    /* A device has no end to find a header line in: refused, not read. */
    write_csv_yaml(yaml, "station", "/dev/zero", "datetime", "loaded_at", "wd");
    snprintf(msg, sizeof msg, "%s:6:3: source 'beijing': /dev/zero is not a regular file", yaml);
    load_fails(yaml, KEEL_EINVAL, msg);

    keel_test_write(path_in(p, dir, "empty.csv"), "");
    write_csv_yaml(yaml, "station", "empty.csv", "datetime", "loaded_at", "wd");
    snprintf(msg, sizeof msg, "%s:6:3: source 'beijing': %s/empty.csv:1: empty file: no header",
             yaml, real);
    load_fails(yaml, KEEL_EPARSE, msg);

    /* A gzip source: the header comes through zlib. */
    assert_int_equal(keel_test_sh("gzip -c '%s/beijing.csv' > '%s/b.csv.gz'", dir, dir), 0);
    write_csv_yaml(yaml, "station", "b.csv.gz", "datetime", "loaded_at", "wd");
    repo = load_ok(yaml);
    assert_string_equal(repo->sources[0].path, path_in(p, real, "b.csv.gz"));
    keel_feature_repo_free(repo);
    write_csv_yaml(yaml, "station", "b.csv.gz", "datetime", "loaded_at", "PM10");
    snprintf(msg, sizeof msg, "%s:11:3: feature view 'weather': feature 'PM10' is not a column "
             "of source 'beijing' in %s/b.csv.gz (columns: %s)", yaml, real, columns);
    load_fails(yaml, KEEL_EINVAL, msg);

    /* Without the column checks (stored definitions), the same file reads. */
    char *text = NULL;
    size_t len = 0;
    keel_err err;
    OK(keel_read_file(yaml, 1 << 20, &text, &len, &err));
    OK(feature_repo_parse_opts(yaml, text, len, false, &repo, &err));
    keel_feature_repo_free(repo);
    free(text);
    keel_test_rmrf(dir);
}

/* ---- the registry ---- */

static void apply_versions(void **state)
{
    keel_test_ws *f = *state;
    char yaml[PATH_MAX], p[PATH_MAX];
    path_in(yaml, f->dir, "features.yaml");
    keel_test_write(path_in(p, f->dir, "beijing.csv"), BEIJING_CSV);
    static const char v1[] = "project: air\n"
                             "entities: {station: {join_keys: {station: string}}}\n"
                             "sources: {b: {path: beijing.csv, timestamp: datetime}}\n"
                             "feature_views:\n"
                             "  weather: {entities: station, source: b, features: {TEMP: float}}\n";
    static const char v2[] = "project: air\n"
                             "entities: {station: {join_keys: {station: string}}}\n"
                             "sources: {b: {path: beijing.csv, timestamp: datetime}}\n"
                             "feature_views:\n"
                             "  weather: {entities: station, source: b, ttl: 1h,\n"
                             "            features: {TEMP: float, PRES: float}}\n";
    int64_t version = 0;
    bool created = false;

    keel_test_write(yaml, v1);
    keel_feature_repo *repo = load_ok(yaml);
    OK(keel_feature_repo_apply(f->ws, repo, &version, &created, &f->err));
    assert_int_equal(version, 1);
    assert_true(created);
    OK(keel_feature_repo_apply(f->ws, repo, &version, &created, &f->err));
    assert_int_equal(version, 1);
    assert_false(created);
    keel_feature_repo_free(repo);

    /* The same bytes read again: the same version. */
    repo = load_ok(yaml);
    OK(keel_feature_repo_apply(f->ws, repo, &version, &created, &f->err));
    assert_int_equal(version, 1);
    assert_false(created);
    keel_feature_repo_free(repo);

    keel_test_write(yaml, v2);
    repo = load_ok(yaml);
    OK(keel_feature_repo_apply(f->ws, repo, &version, &created, &f->err));
    assert_int_equal(version, 2);
    assert_true(created);
    keel_feature_repo_free(repo);

    /* Back to the first bytes: a new version, so the newest is what was
     * applied last. */
    keel_test_write(yaml, v1);
    repo = load_ok(yaml);
    OK(keel_feature_repo_apply(f->ws, repo, &version, &created, &f->err));
    assert_int_equal(version, 3);
    assert_true(created);

    feature_definitions d;
    OK(feature_registry_get(f->ws->store, "air", 0, &f->arena, &d, &f->err));
    assert_int_equal(d.version, 3);
    assert_string_equal(d.text, v1);
    assert_string_equal(d.digest, repo->digest);
    assert_string_equal(d.project, "air");
    assert_true(d.created_time > 0);
    OK(feature_registry_get(f->ws->store, "air", 2, &f->arena, &d, &f->err));
    assert_string_equal(d.text, v2);
    assert_int_equal(feature_registry_get(f->ws->store, "air", 4, &f->arena, &d, &f->err),
                     KEEL_ENOTFOUND);
    assert_string_equal(f->err.msg, "project air has no definitions version 4");
    assert_int_equal(feature_registry_get(f->ws->store, "water", 0, &f->arena, &d, &f->err),
                     KEEL_ENOTFOUND);
    assert_string_equal(f->err.msg, "project water has no applied definitions (run keel "
                                    "features apply)");
    keel_feature_repo_free(repo);

    /* Another project counts its own versions. */
    keel_test_write(yaml, "project: water\n");
    repo = load_ok(yaml);
    OK(keel_feature_repo_apply(f->ws, repo, &version, &created, &f->err));
    assert_int_equal(version, 1);
    assert_true(created);
    keel_feature_repo_free(repo);
}

/* Dataset sources are checked when a workspace is at hand. */
static void apply_checks_dataset_sources(void **state)
{
    keel_test_ws *f = *state;
    char yaml[PATH_MAX], csv[PATH_MAX], msg[PATH_MAX + 512];
    path_in(yaml, f->dir, "features.yaml");
    keel_test_write(path_in(csv, f->dir, "trips.csv"),
                    "ts,driver,rider,fare\n2024-01-01 10:00:00,7,ann,12.5\n");
    static const char text[] = "project: taxi\n"                                     /* 1 */
                               "entities: {trip: {join_keys: {driver: int, rider: string}}}\n"
                               "sources:\n"                                          /* 3 */
                               "  trips: {dataset: %s, timestamp: %s}\n"            /* 4 */
                               "feature_views:\n"                                    /* 5 */
                               "  stats: {entities: trip, source: trips, features: {%s: float}}\n";
    char body[1024];
    int64_t version = 0;
    bool created = false;

    snprintf(body, sizeof body, text, "trips@1", "ts", "fare");
    keel_test_write(yaml, body);
    keel_feature_repo *repo = load_ok(yaml);
    assert_int_equal(keel_feature_repo_apply(f->ws, repo, &version, &created, &f->err),
                     KEEL_ENOTFOUND);
    snprintf(msg, sizeof msg, "%s:4:3: source 'trips': no dataset 'trips@1'", yaml);
    assert_string_equal(f->err.msg, msg);
    keel_feature_repo_free(repo);

    keel_dataset_version dv;
    bool existed = false;
    OK(keel_dataset_add(f->ws, csv, "trips", &f->arena, &dv, &existed, &f->err));

    snprintf(body, sizeof body, text, "trips@1", "ts", "tip");
    keel_test_write(yaml, body);
    repo = load_ok(yaml);
    assert_int_equal(keel_feature_repo_apply(f->ws, repo, &version, &created, &f->err),
                     KEEL_EINVAL);
    snprintf(msg, sizeof msg, "%s:6:3: feature view 'stats': feature 'tip' is not a column of "
             "source 'trips' in dataset trips@1 (columns: ts, driver, rider, fare)", yaml);
    assert_string_equal(f->err.msg, msg);
    keel_feature_repo_free(repo);

    snprintf(body, sizeof body, text, "trips", "time", "fare");
    keel_test_write(yaml, body);
    repo = load_ok(yaml);
    assert_int_equal(keel_feature_repo_apply(f->ws, repo, &version, &created, &f->err),
                     KEEL_EINVAL);
    snprintf(msg, sizeof msg, "%s:4:3: source 'trips': timestamp column 'time' is not in "
             "dataset trips@1 (columns: ts, driver, rider, fare)", yaml);
    assert_string_equal(f->err.msg, msg);
    keel_feature_repo_free(repo);

    snprintf(body, sizeof body, text, "trips@1", "ts", "fare");
    keel_test_write(yaml, body);
    repo = load_ok(yaml);
    OK(keel_feature_repo_apply(f->ws, repo, &version, &created, &f->err));
    assert_int_equal(version, 1);
    assert_true(created);
    keel_feature_repo_free(repo);
}

int main(int argc, char **argv)
{
#define WS(fn) cmocka_unit_test_setup_teardown(fn, keel_test_ws_setup, keel_test_ws_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_repo_every_field),
        cmocka_unit_test(sections_any_order_and_values),
        cmocka_unit_test(ttl_text_and_paths),
        cmocka_unit_test(refs_parse_and_errors),
        cmocka_unit_test(document_errors),
        cmocka_unit_test(entity_errors),
        cmocka_unit_test(source_errors),
        cmocka_unit_test(view_errors),
        cmocka_unit_test(service_errors),
        cmocka_unit_test(limits),
        cmocka_unit_test(csv_header_checks),
        WS(apply_versions),
        WS(apply_checks_dataset_sources),
    };
    return keel_test_main(argc, argv, "feature_repo", tests);
}
