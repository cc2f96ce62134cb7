/*
 * bench_search.c — run search on a store of 100,000 runs: keel_run_search_run
 * against the same query written by hand with the sqlite3 C API.
 *
 * The store: one experiment, 100,000 runs, each with 5 params p0..p4 (values
 * "v0".."v9"), 5 metrics m0..m4 (uniform in [0, 1), one history point and
 * the latest value) and the two tags keel_run_create sets. Data come from a
 * fixed-seed generator, so every build of the store is the same. Building it
 * takes tens of seconds, so the file is kept in $KEEL_BENCH_CACHE (default
 * /tmp/keel-bench-cache) under a name carrying STORE_VERSION and the run
 * count; bump STORE_VERSION whenever the generator changes. Rows are written
 * with keel's store API (keel_store_prepare + bound values) into tables made
 * by keel_store_open, so the schema and indexes are keel's own.
 *
 * The query: filter "metrics.m0 > 0.5 and params.p1 = 'v3'" (about 5% of
 * runs), order_by "metrics.m1 DESC", max_results 100 and 1000; 2 warm-up
 * calls, then REPS timed calls; median and p95 reported.
 *
 *   keel           keel_run_search_run: full runs (info, params, tags,
 *                  latest metrics, inputs) in an arena freed after each call.
 *   plain page     one hand-written JOIN query returning the page's run ids.
 *   plain full     that query, then per run prepared point lookups of info,
 *                  params, tags and latest metrics copied into memory: the
 *                  same result keel returns, written by hand.
 *
 * Each side runs in its own forked child, so its peak RSS is its own.
 * Usage: bench_search [--runs N] [--reps N]
 * Exit status: 0 whatever the timings; 1 when a call fails; 2 on a crash.
 */
#include "bench_common.h"

#include <keel/arena.h>
#include <keel/error.h>
#include <keel/store.h>
#include <keel/tracking.h>

#include <sqlite3.h>

#define STORE_VERSION 2
#define DEFAULT_RUNS 100000
#define DEFAULT_REPS 21
#define MAX_REPS 21
#define WARMUP 2
#define N_PARAMS 5
#define N_METRICS 5
#define COMMIT_EVERY 5000
#define TARGET_MEDIAN_MS 50.0
#define EXPERIMENT_NAME "bench-search"

static const char search_filter[] = "metrics.m0 > 0.5 and params.p1 = 'v3'";
static const char search_order[] = "metrics.m1 DESC";
static const int64_t page_sizes[] = { 100, 1000 };
#define N_PAGE_SIZES (sizeof page_sizes / sizeof page_sizes[0])

typedef struct search_config {
    int runs;
    int reps;
    char db_path[1024];
} search_config;

/* ---- the store ---- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int keel_fail(const char *what, const keel_err *err)
{
    fprintf(stderr, "%s: %s\n", what, err->msg);
    return -1;
}

static const char sql_run[] =
    "INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, "
    "lifecycle_stage, artifact_uri) VALUES (?, ?, ?, 'bench', 'FINISHED', ?, ?, 'active', ?)";
static const char sql_tag[] = "INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?)";
static const char sql_param[] = "INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?)";
static const char sql_metric[] =
    "INSERT INTO metrics (run_uuid, key, value, timestamp, step, is_nan) "
    "VALUES (?, ?, ?, ?, 0, 0)";
static const char sql_latest[] =
    "INSERT INTO latest_metrics (run_uuid, key, value, timestamp, step, is_nan) "
    "VALUES (?, ?, ?, ?, 0, 0)";

/* Prepares (from the store's cache) and runs one INSERT with the given
 * text/int/double arguments: kinds is a string of 't', 'i', 'd'. */
static int insert_row(keel_store *s, const char *sql, const char *kinds, const char **texts,
                      const int64_t *ints, const double *doubles, keel_err *err)
{
    keel_stmt *st;
    int rc = keel_store_prepare(s, sql, true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    size_t t = 0, i = 0, d = 0;
    for (int idx = 1; kinds[idx - 1] != '\0'; idx++) {
        char k = kinds[idx - 1];
        if (k == 't')
            keel_stmt_bind_text(st, idx, texts[t++], -1);
        else if (k == 'i')
            keel_stmt_bind_int64(st, idx, ints[i++]);
        else
            keel_stmt_bind_double(st, idx, doubles[d++]);
    }
    return keel_stmt_run(st, err);
}

static int insert_run(keel_store *s, int64_t exp_id, int i, uint64_t *rng, keel_err *err)
{
    static const char *const param_keys[N_PARAMS] = { "p0", "p1", "p2", "p3", "p4" };
    static const char *const metric_keys[N_METRICS] = { "m0", "m1", "m2", "m3", "m4" };
    uint64_t id_state = (uint64_t)i * 2 + 1;
    char run_id[33], name[32], uri[128], value[8];
    snprintf(run_id, sizeof run_id, "%016llx%016llx", (unsigned long long)splitmix64(&id_state),
             (unsigned long long)splitmix64(&id_state));
    snprintf(name, sizeof name, "run-%06d", i);
    snprintf(uri, sizeof uri, "mlflow-artifacts:/%lld/%s/artifacts", (long long)exp_id, run_id);
    int64_t start = 1700000000000LL + (int64_t)i * 1000;
    int rc = insert_row(s, sql_run, "ttiiit", (const char *[]){ run_id, name, uri },
                        (const int64_t[]){ exp_id, start, start + 600000 }, NULL, err);
    if (rc == KEEL_OK)
        rc = insert_row(s, sql_tag, "ttt", (const char *[]){ run_id, "mlflow.runName", name },
                        NULL, NULL, err);
    if (rc == KEEL_OK)
        rc = insert_row(s, sql_tag, "ttt", (const char *[]){ run_id, "mlflow.user", "bench" },
                        NULL, NULL, err);
    for (int k = 0; rc == KEEL_OK && k < N_PARAMS; k++) {
        snprintf(value, sizeof value, "v%d", (int)(splitmix64(rng) % 10));
        rc = insert_row(s, sql_param, "ttt", (const char *[]){ run_id, param_keys[k], value },
                        NULL, NULL, err);
    }
    for (int k = 0; rc == KEEL_OK && k < N_METRICS; k++) {
        double v = (double)(splitmix64(rng) >> 11) * 0x1.0p-53;
        const char *texts[] = { run_id, metric_keys[k] };
        const int64_t ts[] = { start + 600000 };
        rc = insert_row(s, sql_metric, "ttdi", texts, ts, &v, err);
        if (rc == KEEL_OK)
            rc = insert_row(s, sql_latest, "ttdi", texts, ts, &v, err);
    }
    return rc;
}

/* Builds the store at tmp_path (removed first). */
static int build_store(void *ctx, bench_samples *out)
{
    const search_config *cfg = ctx;
    char tmp_path[1100];
    snprintf(tmp_path, sizeof tmp_path, "%s.tmp", cfg->db_path);
    bench_remove_db(tmp_path);
    keel_err err;
    keel_store *s = NULL;
    int64_t exp_id = 0;
    if (keel_store_open(tmp_path, &s, &err) != KEEL_OK)
        return keel_fail("keel_store_open", &err);
    int rc = keel_experiment_create(s, EXPERIMENT_NAME, NULL, NULL, 0, &exp_id, &err);
    /* Setup speed only: a big page cache for this connection. */
    if (rc == KEEL_OK)
        rc = keel_store_exec(s, "PRAGMA cache_size=-262144", &err);
    uint64_t rng = 42;
    double t0 = bench_now_s();
    for (int i = 0; rc == KEEL_OK && i < cfg->runs; i++) {
        if (i % COMMIT_EVERY == 0)
            rc = keel_store_begin(s, &err);
        if (rc == KEEL_OK)
            rc = insert_run(s, exp_id, i, &rng, &err);
        if (rc == KEEL_OK && (i % COMMIT_EVERY == COMMIT_EVERY - 1 || i == cfg->runs - 1))
            rc = keel_store_commit(s, &err);
    }
    if (rc != KEEL_OK) {
        keel_store_rollback(s);
        keel_fail("building the search store", &err);
    }
    keel_store_close(s);
    if (rc != KEEL_OK || rename(tmp_path, cfg->db_path) != 0) {
        if (rc == KEEL_OK)
            fprintf(stderr, "rename %s: %s\n", tmp_path, strerror(errno));
        bench_remove_db(tmp_path);
        return -1;
    }
    out->v[0] = bench_now_s() - t0;
    out->n = 1;
    return 0;
}

/* Opens the store and finds the bench experiment; the store stays open. */
static int open_store(const search_config *cfg, keel_store **out, int64_t *out_exp_id)
{
    keel_err err;
    if (keel_store_open(cfg->db_path, out, &err) != KEEL_OK)
        return keel_fail("keel_store_open", &err);
    if (keel_experiment_resolve(*out, EXPERIMENT_NAME, out_exp_id, &err) != KEEL_OK) {
        keel_store_close(*out);
        *out = NULL;
        return keel_fail("experiment " EXPERIMENT_NAME, &err);
    }
    return 0;
}

/* Whether the cached store is complete: it has the experiment and every run
 * (it is renamed into place only when complete, so this is a sanity check). */
static bool store_is_usable(const search_config *cfg)
{
    if (access(cfg->db_path, R_OK) != 0)
        return false;
    keel_store *s = NULL;
    int64_t exp_id = 0;
    if (open_store(cfg, &s, &exp_id) != 0)
        return false;
    keel_err err;
    keel_stmt *st;
    int64_t n = -1;
    if (keel_store_prepare(s, "SELECT COUNT(*) FROM runs WHERE experiment_id = ?", false, &st,
                           &err) == KEEL_OK) {
        keel_stmt_bind_int64(st, 1, exp_id);
        if (keel_stmt_step(st, &err) == KEEL_STEP_ROW)
            n = keel_stmt_int64(st, 0);
        keel_stmt_release(st);
    }
    keel_store_close(s);
    return n == cfg->runs;
}

/* ---- keel side ---- */

static int keel_search_once(keel_store *s, int64_t exp_id, int64_t max, keel_arena *a,
                            keel_run **out_runs, size_t *out_n)
{
    const char *order[] = { search_order };
    keel_run_search q = {
        .experiment_ids = &exp_id, .n_experiment_ids = 1, .filter = search_filter,
        .order_by = order, .n_order_by = 1, .view = KEEL_VIEW_ACTIVE_ONLY, .max_results = max,
    };
    const char *next = NULL;
    keel_err err;
    if (keel_run_search_run(s, &q, a, out_runs, out_n, &next, &err) != KEEL_OK)
        return keel_fail("keel_run_search_run", &err);
    return 0;
}

/* Samples: [k * reps + r] = ms of rep r for page size k; then one count per
 * page size. */
static int side_keel(void *ctx, bench_samples *out)
{
    const search_config *cfg = ctx;
    keel_store *s = NULL;
    int64_t exp_id = 0;
    if (open_store(cfg, &s, &exp_id) != 0)
        return 1;
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < N_PAGE_SIZES; k++) {
        for (int r = -WARMUP; rc == 0 && r < cfg->reps; r++) {
            keel_arena a;
            keel_arena_init(&a, 0);
            keel_run *runs = NULL;
            size_t n = 0;
            double t0 = bench_now_s();
            rc = keel_search_once(s, exp_id, page_sizes[k], &a, &runs, &n);
            double ms = (bench_now_s() - t0) * 1e3;
            if (rc == 0 && n > 0 && (runs[0].n_params != N_PARAMS ||
                                     runs[0].n_metrics != N_METRICS)) {
                fprintf(stderr, "keel: run %s came back with %zu params, %zu metrics\n",
                        runs[0].info.run_id, runs[0].n_params, runs[0].n_metrics);
                rc = -1;
            }
            keel_arena_free(&a);
            if (r >= 0)
                out->v[k * (size_t)cfg->reps + (size_t)r] = ms;
            out->v[N_PAGE_SIZES * (size_t)cfg->reps + k] = (double)n;
        }
    }
    out->n = (int)(N_PAGE_SIZES * ((size_t)cfg->reps + 1));
    keel_store_close(s);
    return rc == 0 ? 0 : 1;
}

/* ---- plain sqlite3 side ---- */

static const char plain_page_sql[] =
    "SELECT r.run_uuid FROM runs r "
    "JOIN latest_metrics f ON f.run_uuid = r.run_uuid AND f.key = ?1 "
    "JOIN params p ON p.run_uuid = r.run_uuid AND p.key = ?3 "
    "LEFT JOIN latest_metrics o ON o.run_uuid = r.run_uuid AND o.key = ?5 "
    "WHERE r.experiment_id = ?6 AND r.lifecycle_stage = 'active' "
    "AND f.is_nan = 0 AND f.value > ?2 AND p.value = ?4 "
    "ORDER BY o.value DESC NULLS LAST, r.start_time DESC, r.run_uuid ASC LIMIT ?7";

enum plain_lookup { L_INFO, L_PARAMS, L_TAGS, L_METRICS, L_COUNT };

static const char *const plain_lookup_sql[L_COUNT] = {
    [L_INFO] = "SELECT run_uuid, name, experiment_id, user_id, status, start_time, end_time, "
               "artifact_uri, lifecycle_stage FROM runs WHERE run_uuid = ?",
    [L_PARAMS] = "SELECT key, value FROM params WHERE run_uuid = ? ORDER BY key",
    [L_TAGS] = "SELECT key, value FROM tags WHERE run_uuid = ? ORDER BY key",
    [L_METRICS] = "SELECT key, value, timestamp, step, is_nan FROM latest_metrics "
                  "WHERE run_uuid = ? ORDER BY key",
};

typedef struct plain_conn {
    sqlite3 *db;
    sqlite3_stmt *lookup[L_COUNT];
} plain_conn;

static int plain_fail(sqlite3 *db, const char *what)
{
    fprintf(stderr, "sqlite3 %s: %s\n", what, sqlite3_errmsg(db));
    return -1;
}

static void plain_close(plain_conn *c)
{
    for (int i = 0; i < L_COUNT; i++)
        sqlite3_finalize(c->lookup[i]);
    sqlite3_close(c->db);
}

static int plain_open(const char *path, plain_conn *c)
{
    memset(c, 0, sizeof *c);
    if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(c->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                            "PRAGMA foreign_keys=ON;", NULL, NULL, NULL) != SQLITE_OK)
        return plain_fail(c->db, "open");
    for (int i = 0; i < L_COUNT; i++)
        if (sqlite3_prepare_v2(c->db, plain_lookup_sql[i], -1, &c->lookup[i], NULL) != SQLITE_OK)
            return plain_fail(c->db, "prepare lookup");
    return 0;
}

/* The page's run ids (copied into a) in order; prepared per call, as the
 * shape of a search query changes with its filter. */
static int plain_page(plain_conn *c, int64_t exp_id, int64_t max, keel_arena *a,
                      const char **ids, size_t *out_n)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, plain_page_sql, -1, &st, NULL) != SQLITE_OK)
        return plain_fail(c->db, "prepare page");
    sqlite3_bind_text(st, 1, "m0", -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, 0.5);
    sqlite3_bind_text(st, 3, "p1", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, "v3", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, "m1", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, exp_id);
    sqlite3_bind_int64(st, 7, max);
    size_t n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ids[n++] = keel_arena_strdup(a, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return plain_fail(c->db, "page");
    *out_n = n;
    return 0;
}

/* Reads every row of lookup kind for run_id, copying text into a; returns
 * the row count or -1. */
static int plain_lookup(plain_conn *c, enum plain_lookup kind, const char *run_id,
                        keel_arena *a)
{
    sqlite3_stmt *st = c->lookup[kind];
    sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
    int rows = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int cols = sqlite3_column_count(st);
        for (int i = 0; i < cols; i++) {
            if (sqlite3_column_type(st, i) == SQLITE_TEXT)
                keel_arena_strdup(a, (const char *)sqlite3_column_text(st, i));
            else
                (void)sqlite3_column_double(st, i);
        }
        rows++;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? rows : plain_fail(c->db, "lookup");
}

/* Samples: for page size k, [2k * reps + r] page-only ms, [(2k+1) * reps + r]
 * full ms; then the first page of ids is checked against nothing here (the
 * agreement check is its own child). */
static int side_plain(void *ctx, bench_samples *out)
{
    const search_config *cfg = ctx;
    keel_store *s = NULL;
    int64_t exp_id = 0;
    if (open_store(cfg, &s, &exp_id) != 0)
        return 1;
    keel_store_close(s);
    plain_conn c;
    int rc = plain_open(cfg->db_path, &c);
    const char *ids[1000];
    for (size_t k = 0; rc == 0 && k < N_PAGE_SIZES; k++) {
        for (int full = 0; rc == 0 && full <= 1; full++) {
            for (int r = -WARMUP; rc == 0 && r < cfg->reps; r++) {
                keel_arena a;
                keel_arena_init(&a, 0);
                size_t n = 0;
                double t0 = bench_now_s();
                rc = plain_page(&c, exp_id, page_sizes[k], &a, ids, &n);
                for (size_t i = 0; full && rc == 0 && i < n; i++)
                    for (int kind = 0; rc == 0 && kind < L_COUNT; kind++)
                        rc = plain_lookup(&c, (enum plain_lookup)kind, ids[i], &a) < 0 ? -1 : 0;
                double ms = (bench_now_s() - t0) * 1e3;
                keel_arena_free(&a);
                if (r >= 0)
                    out->v[(2 * k + (size_t)full) * (size_t)cfg->reps + (size_t)r] = ms;
            }
        }
    }
    out->n = (int)(2 * N_PAGE_SIZES * (size_t)cfg->reps);
    plain_close(&c);
    return rc == 0 ? 0 : 1;
}

/* ---- agreement ---- */

/* v[0]: 1 when keel's and the plain query's first 100 ids are the same, in
 * order; v[1]: how many runs match the filter. */
static int check_agreement(void *ctx, bench_samples *out)
{
    const search_config *cfg = ctx;
    keel_store *s = NULL;
    int64_t exp_id = 0;
    if (open_store(cfg, &s, &exp_id) != 0)
        return 1;
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_run *runs = NULL;
    size_t n_keel = 0, n_plain = 0;
    const char *ids[100];
    plain_conn c;
    int rc = keel_search_once(s, exp_id, 100, &a, &runs, &n_keel);
    keel_store_close(s);
    if (rc == 0)
        rc = plain_open(cfg->db_path, &c);
    if (rc == 0) {
        rc = plain_page(&c, exp_id, 100, &a, ids, &n_plain);
        sqlite3_stmt *st = NULL;
        if (rc == 0 && sqlite3_prepare_v2(c.db,
                "SELECT COUNT(*) FROM latest_metrics f JOIN params p ON p.run_uuid = f.run_uuid "
                "AND p.key = 'p1' AND p.value = 'v3' WHERE f.key = 'm0' AND f.value > 0.5",
                -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            out->v[1] = (double)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        plain_close(&c);
    }
    bool same = rc == 0 && n_keel == n_plain;
    for (size_t i = 0; same && i < n_keel; i++)
        same = strcmp(runs[i].info.run_id, ids[i]) == 0;
    out->v[0] = same ? 1 : 0;
    out->n = 2;
    keel_arena_free(&a);
    return rc == 0 ? 0 : 1;
}

/* ---- driver ---- */

static int parse_args(int argc, char **argv, search_config *cfg)
{
    for (int i = 1; i < argc; i++) {
        bool runs = strcmp(argv[i], "--runs") == 0, reps = strcmp(argv[i], "--reps") == 0;
        if ((runs || reps) && i + 1 < argc) {
            int v = atoi(argv[++i]);
            int max = reps ? MAX_REPS : 10000000;
            if (v < 1 || v > max) {
                fprintf(stderr, "bench_search: %s must be 1..%d\n", argv[i - 1], max);
                return -1;
            }
            *(reps ? &cfg->reps : &cfg->runs) = v;
        } else {
            fprintf(stderr, "usage: bench_search [--runs N] [--reps N]\n");
            return -1;
        }
    }
    return 0;
}

/* The cache directory: $KEEL_BENCH_CACHE or /tmp/keel-bench-cache, made
 * (one level) when missing. */
static int cache_path(search_config *cfg)
{
    const char *dir = getenv("KEEL_BENCH_CACHE");
    if (dir == NULL || dir[0] == '\0')
        dir = "/tmp/keel-bench-cache";
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "bench_search: cannot make cache directory %s: %s\n", dir,
                strerror(errno));
        return -1;
    }
    int n = snprintf(cfg->db_path, sizeof cfg->db_path, "%s/search-v%d-runs%d.db", dir,
                     STORE_VERSION, cfg->runs);
    return n > 0 && (size_t)n < sizeof cfg->db_path ? 0 : -1;
}

static void stats(const double *samples, int n, double *out_median, double *out_p95)
{
    double v[MAX_REPS];
    memcpy(v, samples, (size_t)n * sizeof v[0]);
    *out_median = bench_median(v, n);
    *out_p95 = bench_percentile(v, n, 95.0);
}

int main(int argc, char **argv)
{
    search_config cfg = { .runs = DEFAULT_RUNS, .reps = DEFAULT_REPS };
    if (parse_args(argc, argv, &cfg) != 0 || cache_path(&cfg) != 0)
        return BENCH_EXIT_ERROR;
    bench_samples s;
    long rss = 0;
    int rc;
    if (store_is_usable(&cfg)) {
        printf("bench_search: store %s (cached)\n", cfg.db_path);
    } else {
        printf("bench_search: building %s (%d runs; not timed) ...\n", cfg.db_path, cfg.runs);
        if ((rc = bench_in_child("build store", build_store, &cfg, &s, &rss)) != BENCH_EXIT_OK)
            return rc;
        printf("bench_search: built in %.1f s\n", s.v[0]);
    }
    if ((rc = bench_in_child("agreement check", check_agreement, &cfg, &s, &rss)) !=
        BENCH_EXIT_OK)
        return rc;
    bool agree = s.v[0] == 1;
    printf("bench_search: %d runs x (%d params, %d metrics), SQLite %s; filter \"%s\" matches "
           "%.0f runs; order_by \"%s\"; %d warm-up + %d timed calls\n",
           cfg.runs, N_PARAMS, N_METRICS, sqlite3_libversion(), search_filter, s.v[1],
           search_order, WARMUP, cfg.reps);
    printf("bench_search: keel's first 100 ids %s the plain query's\n",
           agree ? "equal" : "DIFFER FROM");

    bench_samples ks, ps;
    long keel_rss = 0, plain_rss = 0;
    if ((rc = bench_in_child("keel search", side_keel, &cfg, &ks, &keel_rss)) != BENCH_EXIT_OK)
        return rc;
    if ((rc = bench_in_child("plain search", side_plain, &cfg, &ps, &plain_rss)) !=
        BENCH_EXIT_OK)
        return rc;

    printf("\n%-12s %-26s %10s %10s %12s\n", "max_results", "side", "median ms", "p95 ms",
           "peak RSS MiB");
    for (size_t k = 0; k < N_PAGE_SIZES; k++) {
        double km, kp, pm, pp, fm, fp;
        stats(&ks.v[k * (size_t)cfg.reps], cfg.reps, &km, &kp);
        stats(&ps.v[2 * k * (size_t)cfg.reps], cfg.reps, &pm, &pp);
        stats(&ps.v[(2 * k + 1) * (size_t)cfg.reps], cfg.reps, &fm, &fp);
        double got = ks.v[N_PAGE_SIZES * (size_t)cfg.reps + k];
        printf("%-12lld %-26s %10.2f %10.2f %12.1f   (%.0f runs)\n", (long long)page_sizes[k],
               "keel_run_search_run", km, kp, keel_rss / 1024.0, got);
        printf("%-12s %-26s %10.2f %10.2f %12.1f\n", "", "plain sqlite3: page ids", pm, pp,
               plain_rss / 1024.0);
        printf("%-12s %-26s %10.2f %10.2f %12s\n", "", "plain sqlite3: full runs", fm, fp, "");
        printf("%-12s time keel/plain-full %.2f, keel/plain-page %.2f (below 1: keel "
               "faster); target median < %.0f ms: %s\n", "", km / fm, km / pm, TARGET_MEDIAN_MS,
               km < TARGET_MEDIAN_MS ? "met" : "NOT met");
        printf("summary: search max_results=%lld keel median %.2f ms p95 %.2f ms, plain full "
               "%.2f ms (time keel/plain %.2f) (target < %.0f ms: %s)\n", (long long)page_sizes[k],
               km, kp, fm, km / fm, TARGET_MEDIAN_MS, km < TARGET_MEDIAN_MS ? "met" : "NOT met");
    }
    return BENCH_EXIT_OK;
}
