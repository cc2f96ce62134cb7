/*
 * test_training_set.c — point-in-time joins (keel_training_set_build) on
 * repos built by hand and small CSVs whose answers were worked out by hand:
 * a label at exactly a feature row's time joins it, a second earlier does
 * not; TTL boundaries (inclusive, in ms); int, string and two-entity keys;
 * created_timestamp corrections; unknown keys; two views with different
 * TTLs over one source and a view over another; bad label rows failing
 * with their physical line or skipped and counted; type mismatches; label
 * records copied verbatim; a gzip source and a dataset-version source; the
 * output left untouched on failure; float text that reads back exactly.
 * Then a randomised comparison with a brute-force join over clustered,
 * duplicated timestamps (the time directory's hard cases).
 */
#include "testutil.h"

#include <keel/dataset.h>
#include <keel/features.h>
#include <keel/util.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OK(call) assert_int_equal((call), KEEL_OK)
#define HOUR_MS (3600 * 1000LL)

/* ---- a repo built by hand ---- */

typedef struct fixture {
    keel_test_ws base;           /* workspace (used by the dataset test) */
    keel_feature_repo *repo;
    char path[PATH_MAX];         /* scratch for file names */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    void *base = NULL;
    keel_test_ws_setup(&base);
    f->base = *(keel_test_ws *)base;
    free(base);
    f->repo = calloc(1, sizeof *f->repo);
    assert_non_null(f->repo);
    keel_arena_init(&f->repo->arena, 0);
    keel_arena *a = &f->repo->arena;
    f->repo->entities = keel_arena_alloc(a, 8 * sizeof(keel_entity));
    f->repo->sources = keel_arena_alloc(a, 8 * sizeof(keel_feature_source));
    f->repo->views = keel_arena_alloc(a, 8 * sizeof(keel_feature_view));
    f->repo->file = "features.yaml";
    f->repo->dir = f->base.dir;
    f->repo->project = "test";
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    keel_arena_free(&f->repo->arena);
    free(f->repo);
    keel_test_ws *base = malloc(sizeof *base);
    *base = f->base;
    void *p = base;
    keel_test_ws_teardown(&p);
    free(f);
    return 0;
}

static const char *file_in(fixture *f, const char *name)
{
    return keel_arena_sprintf(&f->repo->arena, "%s/%s", f->base.dir, name);
}

static const char *write_file(fixture *f, const char *name, const char *text)
{
    const char *p = file_in(f, name);
    keel_test_write(p, text);
    return p;
}

/* An entity with join keys "name:type,name:type". */
static size_t add_entity(fixture *f, const char *name, const char *keys)
{
    keel_feature_repo *r = f->repo;
    keel_arena *a = &r->arena;
    keel_entity *e = &r->entities[r->n_entities];
    e->name = name;
    e->join_keys = keel_arena_alloc(a, 4 * sizeof *e->join_keys);
    e->key_types = keel_arena_alloc(a, 4 * sizeof *e->key_types);
    char *copy = keel_arena_strdup(a, keys);
    for (char *tok = strtok(copy, ","); tok != NULL; tok = strtok(NULL, ",")) {
        char *colon = strchr(tok, ':');
        *colon = '\0';
        e->join_keys[e->n_join_keys] = tok;
        e->key_types[e->n_join_keys++] =
            strcmp(colon + 1, "int") == 0 ? KEEL_COL_INT : KEEL_COL_STRING;
    }
    return r->n_entities++;
}

static size_t add_source(fixture *f, const char *name, const char *path, const char *ts,
                         const char *created)
{
    keel_feature_repo *r = f->repo;
    r->sources[r->n_sources] = (keel_feature_source){ .name = name, .path = path,
                                                      .timestamp = ts,
                                                      .created_timestamp = created };
    return r->n_sources++;
}

/* A view over entities (indexes, -1 ended) with features "name:type,…". */
static size_t add_view(fixture *f, const char *name, const long *entities, size_t source,
                       int64_t ttl_ms, const char *features)
{
    keel_feature_repo *r = f->repo;
    keel_arena *a = &r->arena;
    keel_feature_view *v = &r->views[r->n_views];
    v->name = name;
    v->entities = keel_arena_alloc(a, 4 * sizeof *v->entities);
    for (size_t i = 0; entities[i] >= 0; i++)
        v->entities[v->n_entities++] = (size_t)entities[i];
    v->source = source;
    v->ttl_ms = ttl_ms;
    v->features = keel_arena_alloc(a, 16 * sizeof *v->features);
    char *copy = keel_arena_strdup(a, features);
    for (char *tok = strtok(copy, ","); tok != NULL; tok = strtok(NULL, ",")) {
        char *colon = strchr(tok, ':');
        *colon = '\0';
        enum keel_col_type t = KEEL_COL_STRING;
        assert_int_equal(keel_col_type_parse(colon + 1, &t, NULL), KEEL_OK);
        v->features[v->n_features++] = (keel_feature){ .name = tok, .type = t };
    }
    return r->n_views++;
}

/* References to every feature of the given views, in order. */
static keel_feature_ref *all_features(fixture *f, const size_t *views, size_t n_views,
                                      size_t *out_n)
{
    keel_feature_ref *refs = keel_arena_alloc(&f->repo->arena, 32 * sizeof *refs);
    size_t n = 0;
    for (size_t i = 0; i < n_views; i++)
        for (size_t k = 0; k < f->repo->views[views[i]].n_features; k++)
            refs[n++] = (keel_feature_ref){ views[i], k };
    *out_n = n;
    return refs;
}

static char *slurp(const char *path)
{
    char *data = NULL;
    size_t len = 0;
    keel_err err;
    if (keel_read_file(path, 1 << 24, &data, &len, &err) != KEEL_OK)
        fail_msg("%s", err.msg);
    return data;
}

static void assert_file(const char *path, const char *want)
{
    char *got = slurp(path);
    if (strcmp(got, want) != 0)
        fail_msg("%s:\n--- got\n%s--- want\n%s", path, got, want);
    free(got);
}

typedef struct run {
    keel_training_set_result res;
    int rc;
    keel_err err;
    const char *out;
} run;

static run build(fixture *f, const char *labels, const keel_feature_ref *refs, size_t n,
                 enum keel_bad_row_policy policy)
{
    run r;
    memset(&r, 0, sizeof r);
    r.out = file_in(f, "train.csv");
    keel_training_set_opts o = { .entities_path = labels, .features = refs, .n_features = n,
                                 .out_path = r.out, .bad_rows = policy };
    keel_err_clear(&r.err);
    r.rc = keel_training_set_build(f->base.ws, f->repo, &o, &f->base.arena, &r.res, &r.err);
    return r;
}

static run build_ok(fixture *f, const char *labels, const keel_feature_ref *refs, size_t n)
{
    run r = build(f, labels, refs, n, KEEL_BAD_ROW_FAIL);
    if (r.rc != KEEL_OK)
        fail_msg("keel_training_set_build: %s", r.err.msg);
    return r;
}

static void build_fails(fixture *f, const char *labels, const keel_feature_ref *refs, size_t n,
                        int code, const char *text)
{
    run r = build(f, labels, refs, n, KEEL_BAD_ROW_FAIL);
    if (r.rc != code || strstr(r.err.msg, text) == NULL)
        fail_msg("rc %d (want %d), message \"%s\", want \"%s\"", r.rc, code, r.err.msg, text);
    assert_int_equal(access(r.out, F_OK), -1);
}

/* One entity "station" (string), one source, one view "w" with ttl. */
static keel_feature_ref *station_view(fixture *f, const char *source_csv, int64_t ttl_ms,
                                      const char *features, size_t *out_n)
{
    size_t e = add_entity(f, "station", "station:string");
    size_t s = add_source(f, "src", write_file(f, "src.csv", source_csv), "ts", NULL);
    long ents[] = { (long)e, -1 };
    size_t v = add_view(f, "w", ents, s, ttl_ms, features);
    return all_features(f, &v, 1, out_n);
}

/* ---- exact answers ---- */

static void equal_time_included_just_after_excluded(void **state)
{
    fixture *f = *state;
    size_t n;
    keel_feature_ref *refs = station_view(f,
        "station,ts,temp\n"
        "A,2020-01-01 10:00:00,1.5\n"
        "A,2020-01-01 11:00:00,2.5\n"
        "B,2020-01-01 10:30:00,7\n", 0, "temp:float", &n);
    const char *labels = write_file(f, "labels.csv",
        "station,event_timestamp,label\n"
        "A,2020-01-01 09:59:59,0\n"     /* before every row of A */
        "A,2020-01-01 10:00:00,1\n"     /* exactly at a row: included */
        "A,2020-01-01 10:59:59,0\n"     /* a second before the next: not it */
        "A,2020-01-01 11:00:00,1\n"
        "A,2030-01-01,1\n"              /* a bare date; no ttl: forever */
        "B,2020-01-01 10:29:59,0\n"
        "B,2020-01-01T10:30,1\n");      /* T separator, no seconds */
    run r = build_ok(f, labels, refs, n);
    assert_file(r.out,
        "station,event_timestamp,label,w__temp\n"
        "A,2020-01-01 09:59:59,0,\n"
        "A,2020-01-01 10:00:00,1,1.5\n"
        "A,2020-01-01 10:59:59,0,1.5\n"
        "A,2020-01-01 11:00:00,1,2.5\n"
        "A,2030-01-01,1,2.5\n"
        "B,2020-01-01 10:29:59,0,\n"
        "B,2020-01-01T10:30,1,7.0\n");
    assert_int_equal(r.res.rows, 7);
    assert_int_equal(r.res.skipped, 0);
    assert_int_equal(r.res.found[0], 5);
}

static void ttl_boundaries(void **state)
{
    fixture *f = *state;
    size_t e = add_entity(f, "station", "station:string");
    size_t s = add_source(f, "src", write_file(f, "src.csv",
        "station,ts,x\n"
        "A,2020-01-01 10:00:00,1\n"), "ts", NULL);
    long ents[] = { (long)e, -1 };
    size_t views[] = { add_view(f, "hour", ents, s, HOUR_MS, "x:int"),
                       add_view(f, "ms", ents, s, 1500, "x:int") };
    size_t n;
    keel_feature_ref *refs = all_features(f, views, 2, &n);
    const char *labels = write_file(f, "labels.csv",
        "station,event_timestamp\n"
        "A,2020-01-01 10:00:00\n"
        "A,2020-01-01 10:00:01\n"      /* 1000 ms <= 1500 */
        "A,2020-01-01 10:00:02\n"      /* 2000 ms > 1500 */
        "A,2020-01-01 11:00:00\n"      /* exactly the ttl: still valid */
        "A,2020-01-01 11:00:01\n");    /* a second past it */
    run r = build_ok(f, labels, refs, n);
    assert_file(r.out,
        "station,event_timestamp,hour__x,ms__x\n"
        "A,2020-01-01 10:00:00,1,1\n"
        "A,2020-01-01 10:00:01,1,1\n"
        "A,2020-01-01 10:00:02,1,\n"
        "A,2020-01-01 11:00:00,1,\n"
        "A,2020-01-01 11:00:01,,\n");
    assert_int_equal(r.res.found[0], 4);
    assert_int_equal(r.res.found[1], 2);
}

static void int_string_and_two_entity_keys(void **state)
{
    fixture *f = *state;
    size_t cust = add_entity(f, "customer", "customer_id:int");
    size_t store = add_entity(f, "store", "store:string");
    /* Rows out of time order, keys interleaved. */
    size_t s = add_source(f, "tx", write_file(f, "tx.csv",
        "customer_id,store,ts,spend,vip,tier\n"
        "7,north,2021-05-02,20.25,true,gold\n"
        "7,south,2021-05-01,3,false,\"silver, old\"\n"
        "12,north,2021-05-01,1e3,false,\n"
        "7,north,2021-05-01,10,false,bronze\n"
        "-3,north,2021-05-01,-0.5,true,x\n"), "ts", NULL);
    long by_cust[] = { (long)cust, -1 };
    long by_both[] = { (long)cust, (long)store, -1 };
    size_t views[] = { add_view(f, "c", by_cust, s, 0, "spend:float"),
                       add_view(f, "cs", by_both, s, 0, "spend:float,vip:bool,tier:string") };
    size_t n;
    keel_feature_ref *refs = all_features(f, views, 2, &n);
    const char *labels = write_file(f, "labels.csv",
        "store,customer_id,event_timestamp\n"
        "north,7,2021-05-01 12:00\n"
        "south,7,2021-05-03\n"
        "north,7,2021-05-03\n"
        "west,7,2021-05-03\n"          /* unknown store: cs missing, c found */
        "north,99,2021-05-03\n"        /* unknown customer */
        "north,12,2021-05-03\n"
        "north,-3,2021-05-01\n");
    run r = build_ok(f, labels, refs, n);
    /* c: customer 7 on 05-03 sees three rows; the latest is 05-02 (20.25).
     * On 05-01 12:00, two rows of 05-01 for customer 7 (south 3, north 10):
     * the later in the file wins. */
    assert_file(r.out,
        "store,customer_id,event_timestamp,c__spend,cs__spend,cs__vip,cs__tier\n"
        "north,7,2021-05-01 12:00,10.0,10.0,false,bronze\n"
        "south,7,2021-05-03,20.25,3.0,false,\"silver, old\"\n"
        "north,7,2021-05-03,20.25,20.25,true,gold\n"
        "west,7,2021-05-03,20.25,,,\n"
        "north,99,2021-05-03,,,,\n"
        "north,12,2021-05-03,1000.0,1000.0,false,\n"
        "north,-3,2021-05-01,-0.5,-0.5,true,x\n");
    assert_int_equal(r.res.found[3], 4);  /* cs__tier: 12's is missing */
}

static void created_timestamp_corrections(void **state)
{
    fixture *f = *state;
    size_t e = add_entity(f, "id", "id:int");
    size_t s = add_source(f, "src", write_file(f, "src.csv",
        "id,ts,loaded,v\n"
        "1,2020-01-01 00:00,2020-01-05 00:00,corrected\n"
        "1,2020-01-01 00:00,2020-01-02 00:00,first\n"
        "1,2020-01-01 00:00,,unknown_load_time\n"
        "1,2020-01-02 00:00,2020-01-02 00:00,next_day\n"
        "2,2020-01-01 00:00,2020-01-01 00:00,a\n"
        "2,2020-01-01 00:00,2020-01-01 00:00,b_same_load_later_in_file\n"), "ts", "loaded");
    long ents[] = { (long)e, -1 };
    size_t v = add_view(f, "v", ents, s, 0, "v:string");
    size_t n;
    keel_feature_ref *refs = all_features(f, &v, 1, &n);
    const char *labels = write_file(f, "labels.csv",
        "id,event_timestamp\n"
        "1,2020-01-01 12:00\n"
        "1,2020-01-02 00:00\n"
        "2,2020-01-01 00:00\n");
    run r = build_ok(f, labels, refs, n);
    assert_file(r.out,
        "id,event_timestamp,v__v\n"
        "1,2020-01-01 12:00,corrected\n"
        "1,2020-01-02 00:00,next_day\n"
        "2,2020-01-01 00:00,b_same_load_later_in_file\n");
}

static void two_views_two_sources_different_ttls(void **state)
{
    fixture *f = *state;
    size_t e = add_entity(f, "station", "station:string");
    size_t air = add_source(f, "air", write_file(f, "air.csv",
        "station,datetime,temp,pm10\n"
        "S1,2020-03-01 00:00:00,1.25,10\n"
        "S1,2020-03-01 01:00:00,,11\n"         /* temp missing in the latest row */
        "S2,2020-03-01 00:00:00,5,50\n"), "datetime", NULL);
    size_t ev = add_source(f, "events", write_file(f, "events.csv",
        "when,station,alert\n"
        "2020-02-29 23:00:00,S2,yes\n"), "when", NULL);
    long ents[] = { (long)e, -1 };
    size_t views[] = { add_view(f, "weather", ents, air, 1 * HOUR_MS, "temp:float"),
                       add_view(f, "pollution", ents, air, 3 * HOUR_MS, "pm10:int"),
                       add_view(f, "alerts", ents, ev, 0, "alert:string") };
    size_t n;
    keel_feature_ref *refs = all_features(f, views, 3, &n);
    /* Requested out of view order: pm10, alert, temp. */
    keel_feature_ref order[] = { refs[1], refs[2], refs[0] };
    const char *labels = write_file(f, "labels.csv",
        "event_timestamp,station\n"
        "2020-03-01 00:30:00,S1\n"
        "2020-03-01 01:30:00,S1\n"
        "2020-03-01 02:30:00,S1\n"     /* weather (1h) expired, pollution (3h) not */
        "2020-03-01 04:00:00,S1\n"     /* both: 3h exactly */
        "2020-03-01 04:00:01,S1\n"
        "2020-03-01 00:00:00,S2\n");
    run r = build_ok(f, labels, order, 3);
    assert_file(r.out,
        "event_timestamp,station,pollution__pm10,alerts__alert,weather__temp\n"
        "2020-03-01 00:30:00,S1,10,,1.25\n"
        "2020-03-01 01:30:00,S1,11,,\n"
        "2020-03-01 02:30:00,S1,11,,\n"
        "2020-03-01 04:00:00,S1,11,,\n"
        "2020-03-01 04:00:01,S1,,,\n"
        "2020-03-01 00:00:00,S2,50,yes,5.0\n");
    assert_int_equal(r.res.found[0], 5);
    assert_int_equal(r.res.found[1], 1);
    assert_int_equal(r.res.found[2], 2);
}

static void label_records_copied_verbatim(void **state)
{
    fixture *f = *state;
    size_t n;
    keel_feature_ref *refs = station_view(f, "station,ts,x\nA,2020-01-01,4\n", 0, "x:int", &n);
    /* CRLF, a BOM, quoted fields with a comma, a doubled quote and a
     * newline, a blank line, a last line without its newline. */
    const char *labels = write_file(f, "labels.csv",
        "\xEF\xBB\xBF" "note,\"station\",event_timestamp\r\n"
        "\"a, b\",A,2020-01-02\r\n"
        "\r\n"
        "\"say \"\"hi\"\"\nthere\",\"A\",2020-01-02\r\n"
        "plain,A,2019-12-31");
    run r = build_ok(f, labels, refs, n);
    assert_file(r.out,
        "note,\"station\",event_timestamp,w__x\n"
        "\"a, b\",A,2020-01-02,4\n"
        "\"say \"\"hi\"\"\nthere\",\"A\",2020-01-02,4\n"
        "plain,A,2019-12-31,\n");
    assert_int_equal(r.res.rows, 3);
}

/* ---- bad rows and errors ---- */

static const char *bad_labels(fixture *f)
{
    return write_file(f, "labels.csv",
        "station,event_timestamp,label\n"          /* line 1 */
        "A,2020-01-02,\"two\nlines\"\n"             /* lines 2-3 */
        "\n"                                        /* 4: blank */
        "A,yesterday,1\n"                           /* 5: bad timestamp */
        ",2020-01-02,1\n"                           /* 6: missing key */
        "A,,1\n"                                    /* 7: missing timestamp */
        "NA,2020-01-02,1\n"                         /* 8: NA key */
        "A,2020-01-02 10:00:00.5,1\n"               /* 9: fractional seconds */
        "A,2020-01-03,ok\n");                       /* 10 */
}

static void bad_rows_fail_with_their_line(void **state)
{
    fixture *f = *state;
    size_t n;
    keel_feature_ref *refs = station_view(f, "station,ts,x\nA,2020-01-01,4\n", 0, "x:int", &n);
    const char *labels = bad_labels(f);
    build_fails(f, labels, refs, n, KEEL_EINVAL,
                "labels.csv:5: column 'event_timestamp': 'yesterday' is not a date-time");
    write_file(f, "labels.csv", "station,event_timestamp\nA,2020-01-01\n,2020-01-02\n");
    build_fails(f, labels, refs, n, KEEL_EINVAL,
                "labels.csv:3: missing join key 'station' (entity 'station')");
    write_file(f, "labels.csv", "station,event_timestamp\nA,2020-01-01\nA,\n");
    build_fails(f, labels, refs, n, KEEL_EINVAL,
                "labels.csv:3: missing timestamp in column 'event_timestamp'");
    write_file(f, "labels.csv", "station,event_timestamp\nA,2020-01-01\nA\n");
    build_fails(f, labels, refs, n, KEEL_EPARSE, "labels.csv:3: 1 fields, the header has 2");
    write_file(f, "labels.csv", "station,event_timestamp\nA,\"2020-01-01\n");
    build_fails(f, labels, refs, n, KEEL_EPARSE, "labels.csv:2: column 2: unterminated quote");
}

static void bad_rows_skipped_and_counted(void **state)
{
    fixture *f = *state;
    size_t n;
    keel_feature_ref *refs = station_view(f, "station,ts,x\nA,2020-01-01,4\n", 0, "x:int", &n);
    run r = build(f, bad_labels(f), refs, n, KEEL_BAD_ROW_SKIP);
    OK(r.rc);
    assert_int_equal(r.res.rows, 2);
    assert_int_equal(r.res.skipped, 5);
    assert_int_equal(r.res.found[0], 2);
    assert_file(r.out,
        "station,event_timestamp,label,w__x\n"
        "A,2020-01-02,\"two\nlines\",4\n"
        "A,2020-01-03,ok,4\n");
}

static void type_mismatches_and_missing_columns(void **state)
{
    fixture *f = *state;
    size_t e = add_entity(f, "customer", "customer_id:int");
    size_t s = add_source(f, "src", write_file(f, "src.csv",
        "customer_id,ts,x\n1,2020-01-01,1\n"), "ts", NULL);
    long ents[] = { (long)e, -1 };
    size_t v = add_view(f, "v", ents, s, 0, "x:int");
    size_t n;
    keel_feature_ref *refs = all_features(f, &v, 1, &n);
    const char *labels = write_file(f, "labels.csv",
        "customer_id,event_timestamp\n1,2020-01-02\nC-17,2020-01-02\n");
    build_fails(f, labels, refs, n, KEEL_EINVAL,
                "labels.csv:3: column 'customer_id': 'C-17' is not an int, but entity "
                "'customer' declares join key 'customer_id' as int");
    /* The same under skip: a type error is not a bad row. */
    assert_int_equal(build(f, labels, refs, n, KEEL_BAD_ROW_SKIP).rc, KEEL_EINVAL);

    write_file(f, "labels.csv", "customer,event_timestamp\n1,2020-01-02\n");
    build_fails(f, labels, refs, n, KEEL_EINVAL,
                "labels.csv has no column 'customer_id' (join key of entity 'customer')");
    write_file(f, "labels.csv", "customer_id,ts\n1,2020-01-02\n");
    build_fails(f, labels, refs, n, KEEL_EINVAL, "labels.csv has no timestamp column "
                "'event_timestamp'");
    write_file(f, "labels.csv", "customer_id,event_timestamp,v__x\n1,2020-01-02,3\n");
    build_fails(f, labels, refs, n, KEEL_EINVAL, "already has a column 'v__x'");

    write_file(f, "labels.csv", "customer_id,event_timestamp\n1,2020-01-02\n");
    write_file(f, "src.csv", "customer_id,ts,x\n1,2020-01-01,1\nC-9,2020-01-01,2\n");
    build_fails(f, labels, refs, n, KEEL_EINVAL, "src.csv:3");
    write_file(f, "src.csv", "customer_id,ts,y\n1,2020-01-01,1\n");
    build_fails(f, labels, refs, n, KEEL_EINVAL, "has no column 'x' (feature v:x)");
    write_file(f, "src.csv", "customer_id,ts,x\n1,2020-01-01,1.5\n");
    build_fails(f, labels, refs, n, KEEL_EINVAL, "src.csv:2");

    keel_feature_ref twice[] = { refs[0], refs[0] };
    build_fails(f, labels, twice, 2, KEEL_EINVAL, "feature v:x is requested twice");
}

static void failure_leaves_the_old_output(void **state)
{
    fixture *f = *state;
    size_t n;
    keel_feature_ref *refs = station_view(f, "station,ts,x\nA,2020-01-01,4\n", 0, "x:int", &n);
    const char *out = write_file(f, "train.csv", "old contents\n");
    run r = build(f, bad_labels(f), refs, n, KEEL_BAD_ROW_FAIL);
    assert_int_equal(r.rc, KEEL_EINVAL);
    assert_file(out, "old contents\n");
    /* No temp file left beside it. */
    assert_int_equal(keel_test_sh("ls '%s' | grep -q tmp-", f->base.dir), 1);
}

static void gzip_and_dataset_sources(void **state)
{
    fixture *f = *state;
    size_t e = add_entity(f, "station", "station:string");
    const char *csv = write_file(f, "air.csv",
        "station,ts,temp\n"
        "A,2020-01-01 00:00,1\n"
        "A,2020-01-01 01:00,2\n");
    assert_int_equal(keel_test_sh("gzip -k '%s'", csv), 0);
    const char *gz = file_in(f, "air.csv.gz");
    keel_dataset_version dv;
    bool existed;
    OK(keel_dataset_add(f->base.ws, csv, "air", &f->base.arena, &dv, &existed, &f->base.err));
    size_t s_gz = add_source(f, "gz", gz, "ts", NULL);
    size_t s_ds = add_source(f, "ds", NULL, "ts", NULL);
    f->repo->sources[s_ds].dataset = "air@1";
    long ents[] = { (long)e, -1 };
    size_t views[] = { add_view(f, "g", ents, s_gz, 0, "temp:float"),
                       add_view(f, "d", ents, s_ds, 0, "temp:float") };
    size_t n;
    keel_feature_ref *refs = all_features(f, views, 2, &n);
    const char *labels = write_file(f, "labels.csv",
        "station,event_timestamp\nA,2020-01-01 00:59\nA,2020-01-01 01:00\n");
    run r = build_ok(f, labels, refs, n);
    assert_file(r.out,
        "station,event_timestamp,g__temp,d__temp\n"
        "A,2020-01-01 00:59,1.0,1.0\n"
        "A,2020-01-01 01:00,2.0,2.0\n");

    /* Without a workspace a dataset source is an error that says why. */
    keel_training_set_opts o = { .entities_path = labels, .features = refs, .n_features = n,
                                 .out_path = r.out };
    keel_training_set_result res;
    keel_err err;
    assert_int_equal(keel_training_set_build(NULL, f->repo, &o, &f->base.arena, &res, &err),
                     KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "needs a keel workspace"));

    /* A bad value deep in a gzip source names the .gz file and its line. */
    char *big = malloc(1 << 23);
    size_t len = (size_t)sprintf(big, "station,ts,temp\n");
    for (int i = 0; i < 200000; i++)
        len += (size_t)sprintf(big + len, "A,2020-01-01 00:00,%d\n", i);
    sprintf(big + len, "A,2020-01-01 00:00,warm\n");
    keel_test_write(csv, big);
    free(big);
    assert_int_equal(keel_test_sh("gzip -kf '%s'", csv), 0);
    keel_feature_ref only_gz = refs[0];
    run bad = build(f, labels, &only_gz, 1, KEEL_BAD_ROW_FAIL);
    assert_int_equal(bad.rc, KEEL_EINVAL);
    if (strstr(bad.err.msg, "air.csv.gz:200002") == NULL)
        fail_msg("message: %s", bad.err.msg);
}

/* Every float comes out as text that reads back as the same double (and
 * as Python writes the usual ones); NaN and missing are empty. Each value
 * is written twice, the second time from the text cache. */
static void float_text_round_trips(void **state)
{
    fixture *f = *state;
    static const struct { const char *in, *out; } known[] = {
        { "4", "4.0" }, { "0.1", "0.1" }, { "-0.7", "-0.7" }, { "1013.25", "1013.25" },
        { "-0", "-0.0" }, { "0", "0.0" }, { "0.30000000000000004", "0.30000000000000004" },
        { "1e22", "1e+22" }, { "123456789012345.6", "123456789012345.6" },
        { "nan", "" }, { "", "" }, { "inf", "inf" }, { "-1.5e-300", "-1.5e-300" },
    };
    enum { N_KNOWN = sizeof known / sizeof known[0], N_RANDOM = 3000 };
    char *text = malloc(1 << 20);
    double *want = calloc(N_KNOWN + N_RANDOM, sizeof *want);
    size_t len = (size_t)sprintf(text, "id,ts,x\n");
    uint64_t seed = 7;
    for (int i = 0; i < N_KNOWN + N_RANDOM; i++) {
        char value[64];
        if (i < N_KNOWN) {
            snprintf(value, sizeof value, "%s", known[i].in);
        } else {
            /* Short decimals (the fast path) and arbitrary doubles. */
            uint64_t u = keel_splitmix64(seed++);
            double d = u % 3 == 0 ? (double)(int64_t)(u >> 20) / 1e4
                     : u % 3 == 1 ? (double)(int64_t)(u >> 11) * 1e-9
                                  : ldexp((double)(u >> 11), (int)(u % 200) - 120);
            snprintf(value, sizeof value, "%.17g", (u & 8) ? -d : d);
            want[i] = strtod(value, NULL);
        }
        len += (size_t)sprintf(text + len, "%d,2020-01-01,%s\n", i, value);
    }
    keel_test_write(file_in(f, "src.csv"), text);
    size_t e = add_entity(f, "id", "id:int");
    size_t s = add_source(f, "src", file_in(f, "src.csv"), "ts", NULL);
    long ents[] = { (long)e, -1 };
    size_t v = add_view(f, "v", ents, s, 0, "x:float");
    size_t n;
    keel_feature_ref *refs = all_features(f, &v, 1, &n);
    len = (size_t)sprintf(text, "id,event_timestamp\n");
    for (int rep = 0; rep < 2; rep++)
        for (int i = 0; i < N_KNOWN + N_RANDOM; i++)
            len += (size_t)sprintf(text + len, "%d,2020-01-02\n", i);
    keel_test_write(file_in(f, "labels.csv"), text);
    run r = build_ok(f, file_in(f, "labels.csv"), refs, n);
    char *out = slurp(r.out);
    char *line = strchr(out, '\n') + 1;
    for (int k = 0; k < 2 * (N_KNOWN + N_RANDOM); k++) {
        int i = k % (N_KNOWN + N_RANDOM);
        char *end = strchr(line, '\n');
        *end = '\0';
        const char *field = strrchr(line, ',') + 1;
        if (i < N_KNOWN) {
            if (strcmp(field, known[i].out) != 0)
                fail_msg("%s came out as '%s', want '%s'", known[i].in, field, known[i].out);
        } else {
            char *stop;
            double got = strtod(field, &stop);
            if (*stop != '\0' || memcmp(&got, &want[i], sizeof got) != 0)
                fail_msg("%.17g came out as '%s'", want[i], field);
        }
        line = end + 1;
    }
    free(out);
    free(text);
    free(want);
}

/* ---- randomised, against a brute-force join ---- */

typedef struct src_row {
    int key;
    int64_t ts, created;
    bool created_missing;
    int value;
} src_row;

static uint64_t next_rand(uint64_t *s)
{
    return keel_splitmix64((*s)++);
}

static void random_against_brute_force(void **state)
{
    fixture *f = *state;
    enum { N_SRC = 3000, N_LAB = 4000, N_KEYS = 5 };
    const int64_t base = 1577836800;  /* 2020-01-01 00:00:00 */
    uint64_t seed = 42;
    src_row *rows = calloc(N_SRC, sizeof *rows);
    char *text = malloc(1 << 22);
    size_t len = (size_t)sprintf(text, "k,ts,created,v\n");
    for (int i = 0; i < N_SRC; i++) {
        src_row *r = &rows[i];
        r->key = (int)(next_rand(&seed) % N_KEYS);
        /* Clustered: most rows in a few bursts, some far out, many ties. */
        uint64_t u = next_rand(&seed) % 100;
        r->ts = u < 60 ? base + (int64_t)(next_rand(&seed) % 50)
              : u < 90 ? base + 86400 + (int64_t)(next_rand(&seed) % 5000)
                       : base + (int64_t)(next_rand(&seed) % (400 * 86400));
        r->created = base + (int64_t)(next_rand(&seed) % 4);
        r->created_missing = next_rand(&seed) % 10 == 0;
        r->value = i;
        char ts[32], cr[32];
        keel_format_time(r->ts * 1000, ts, sizeof ts);
        keel_format_time(r->created * 1000, cr, sizeof cr);
        len += (size_t)sprintf(text + len, "%d,%s,%s,%d\n", r->key, ts,
                               r->created_missing ? "" : cr, r->value);
    }
    keel_test_write(file_in(f, "src.csv"), text);
    size_t e = add_entity(f, "k", "k:int");
    size_t s = add_source(f, "src", file_in(f, "src.csv"), "ts", "created");
    long ents[] = { (long)e, -1 };
    const int64_t ttls[] = { 0, 30 * 1000, 3600 * 1000 };
    size_t views[3];
    for (int v = 0; v < 3; v++)
        views[v] = add_view(f, keel_arena_sprintf(&f->repo->arena, "v%d", v), ents, s, ttls[v],
                            "v:int");
    size_t n;
    keel_feature_ref *refs = all_features(f, views, 3, &n);

    int64_t *lab_ts = calloc(N_LAB, sizeof *lab_ts);
    int *lab_key = calloc(N_LAB, sizeof *lab_key);
    len = (size_t)sprintf(text, "k,event_timestamp\n");
    for (int i = 0; i < N_LAB; i++) {
        lab_key[i] = (int)(next_rand(&seed) % (N_KEYS + 1));  /* N_KEYS: unknown */
        uint64_t u = next_rand(&seed) % 4;
        lab_ts[i] = u == 0 ? rows[next_rand(&seed) % N_SRC].ts  /* exactly a row's time */
                  : u == 1 ? rows[next_rand(&seed) % N_SRC].ts - 1
                           : base - 100 + (int64_t)(next_rand(&seed) % (401 * 86400));
        char ts[32];
        keel_format_time(lab_ts[i] * 1000, ts, sizeof ts);
        len += (size_t)sprintf(text + len, "%d,%s\n", lab_key[i], ts);
    }
    keel_test_write(file_in(f, "labels.csv"), text);
    run r = build_ok(f, file_in(f, "labels.csv"), refs, n);

    len = (size_t)sprintf(text, "k,event_timestamp,v0__v,v1__v,v2__v\n");
    for (int i = 0; i < N_LAB; i++) {
        char ts[32];
        keel_format_time(lab_ts[i] * 1000, ts, sizeof ts);
        len += (size_t)sprintf(text + len, "%d,%s", lab_key[i], ts);
        int best = -1;
        for (int j = 0; j < N_SRC; j++) {
            const src_row *c = &rows[j];
            if (c->key != lab_key[i] || c->ts > lab_ts[i])
                continue;
            int64_t cc = c->created_missing ? INT64_MIN : c->created;
            if (best >= 0) {
                const src_row *b = &rows[best];
                int64_t bc = b->created_missing ? INT64_MIN : b->created;
                if (c->ts < b->ts || (c->ts == b->ts && cc < bc))
                    continue;  /* ties in both: the later in the file (j) wins */
            }
            best = j;
        }
        for (int v = 0; v < 3; v++) {
            bool ok = best >= 0 &&
                      (ttls[v] == 0 || (lab_ts[i] - rows[best].ts) * 1000 <= ttls[v]);
            if (ok)
                len += (size_t)sprintf(text + len, ",%d", rows[best].value);
            else
                len += (size_t)sprintf(text + len, ",");
        }
        len += (size_t)sprintf(text + len, "\n");
    }
    assert_file(r.out, text);
    free(text);
    free(rows);
    free(lab_ts);
    free(lab_key);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(equal_time_included_just_after_excluded, setup, teardown),
        cmocka_unit_test_setup_teardown(ttl_boundaries, setup, teardown),
        cmocka_unit_test_setup_teardown(int_string_and_two_entity_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(created_timestamp_corrections, setup, teardown),
        cmocka_unit_test_setup_teardown(two_views_two_sources_different_ttls, setup, teardown),
        cmocka_unit_test_setup_teardown(label_records_copied_verbatim, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_rows_fail_with_their_line, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_rows_skipped_and_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(type_mismatches_and_missing_columns, setup, teardown),
        cmocka_unit_test_setup_teardown(failure_leaves_the_old_output, setup, teardown),
        cmocka_unit_test_setup_teardown(gzip_and_dataset_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(float_text_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(random_against_brute_force, setup, teardown),
    };
    return keel_test_main(argc, argv, "training_set", tests);
}
