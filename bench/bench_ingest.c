/*
 * bench_ingest.c — metric ingest: keel_run_log_batch against a plain SQLite
 * prepared-insert loop (and, when python3 is there, Python's sqlite3 module)
 * on the same data, into the same schema, with the same pragmas.
 *
 * Workload: one run, B batches of 1000 points (default 200 = 200,000 points),
 * four keys ("loss", "accuracy", "learning_rate", "grad_norm") in turn with
 * increasing steps. Each batch is one transaction on every side.
 *
 *   keel    keel_store_open + keel_run_create on a fresh file, then
 *           keel_run_log_batch per batch (which also validates keys, checks
 *           the run is active and keeps latest_metrics up to date).
 *   plain   the same file setup through keel (so the tables and indexes are
 *           identical), then its own sqlite3 connection with keel's pragmas
 *           (journal_mode=WAL, synchronous=NORMAL, foreign_keys=ON) and per
 *           batch: BEGIN; one prepared INSERT INTO metrics per point; COMMIT.
 *   python  the same setup, then python3's sqlite3 module: executemany of the
 *           batch inside BEGIN/COMMIT, same pragmas. The floor under any
 *           Python tracking tool that writes SQLite.
 *
 * Each side runs --reps times (default 3), interleaved, each time in a fresh
 * forked child on a fresh database; the median rate is reported, and the
 * child's peak RSS (ru_maxrss). Only the batch loop is timed: generating the
 * points, opening the store and creating the run are not.
 *
 * Usage: bench_ingest [--batches N] [--reps N] [--no-python]
 * Exit status: 0 whatever the timings; 1 when a call fails; 2 on a crash.
 */
#include "bench_common.h"

#include <keel/arena.h>
#include <keel/error.h>
#include <keel/store.h>
#include <keel/tracking.h>

#include <sqlite3.h>

#define BATCH_POINTS 1000
#define MAX_REPS BENCH_MAX_SAMPLES
#define TARGET_RATIO 0.70
#define PYTHON_TIMEOUT_S 300

static const char *const metric_keys[] = { "loss", "accuracy", "learning_rate", "grad_norm" };
#define N_KEYS (sizeof metric_keys / sizeof metric_keys[0])

/* Point i of the workload. The Python peer computes the same formula. */
static keel_metric workload_point(uint64_t i)
{
    return (keel_metric){
        .key = metric_keys[i % N_KEYS],
        .value = (double)((i * 2654435761ULL) % 1000003ULL) / 1000003.0,
        .timestamp = 1700000000000LL + (int64_t)(i / N_KEYS),
        .step = (int64_t)(i / N_KEYS),
    };
}

static const char python_script[] =
    "import sqlite3, sys, time\n"
    "path, batches, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])\n"
    "keys = ('loss', 'accuracy', 'learning_rate', 'grad_norm')\n"
    "db = sqlite3.connect(path, isolation_level=None)\n"
    "db.execute('PRAGMA journal_mode=WAL')\n"
    "db.execute('PRAGMA synchronous=NORMAL')\n"
    "db.execute('PRAGMA foreign_keys=ON')\n"
    "run = db.execute('SELECT run_uuid FROM runs').fetchone()[0]\n"
    "rows = [(run, keys[i % 4], ((i * 2654435761) % 1000003) / 1000003.0,\n"
    "         1700000000000 + i // 4, i // 4, 0) for i in range(batches * size)]\n"
    "sql = ('INSERT INTO metrics (run_uuid, key, value, timestamp, step, is_nan) '\n"
    "       'VALUES (?, ?, ?, ?, ?, ?)')\n"
    "t0 = time.perf_counter()\n"
    "for b in range(batches):\n"
    "    db.execute('BEGIN')\n"
    "    db.executemany(sql, rows[b * size:(b + 1) * size])\n"
    "    db.execute('COMMIT')\n"
    "elapsed = time.perf_counter() - t0\n"
    "n = db.execute('SELECT COUNT(*) FROM metrics').fetchone()[0]\n"
    "db.close()\n"
    "print(elapsed, n)\n";

typedef struct ingest_config {
    int batches;
    int reps;
    bool python;
} ingest_config;

/* What one side's child reports in its bench_samples. */
enum { S_SECONDS, S_POINTS, S_RSS_KB, S_COUNT };

/* ---- shared setup ---- */

/* A fresh database made by keel (schema at the newest migration) holding one
 * run; its id goes to out_run_id. The store is left open in *out_store when
 * out_store is not NULL, else closed. */
static int make_store(const char *db_path, keel_store **out_store, char out_run_id[33])
{
    keel_err err;
    keel_store *s = NULL;
    if (keel_store_open(db_path, &s, &err) != KEEL_OK) {
        fprintf(stderr, "keel_store_open %s: %s\n", db_path, err.msg);
        return -1;
    }
    keel_arena a;
    keel_arena_init(&a, 0);
    const char *run_id = NULL;
    keel_run_create_opts opts = { .experiment_id = 0, .run_name = "bench-ingest",
                                  .user_id = "bench" };
    int rc = keel_run_create(s, &opts, &a, &run_id, &err);
    if (rc == KEEL_OK)
        snprintf(out_run_id, 33, "%s", run_id);
    else
        fprintf(stderr, "keel_run_create: %s\n", err.msg);
    keel_arena_free(&a);
    if (rc != KEEL_OK || out_store == NULL) {
        keel_store_close(s);
        return rc == KEEL_OK ? 0 : -1;
    }
    *out_store = s;
    return 0;
}

static keel_metric *make_points(size_t n)
{
    keel_metric *points = malloc(n * sizeof *points);
    if (points == NULL) {
        fprintf(stderr, "out of memory for %zu points\n", n);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        points[i] = workload_point(i);
    return points;
}

/* ---- keel ---- */

static int keel_count_metrics(keel_store *s, int64_t *out)
{
    keel_err err;
    keel_stmt *st;
    if (keel_store_prepare(s, "SELECT COUNT(*) FROM metrics", false, &st, &err) != KEEL_OK) {
        fprintf(stderr, "count: %s\n", err.msg);
        return -1;
    }
    enum keel_step r = keel_stmt_step(st, &err);
    if (r == KEEL_STEP_ROW)
        *out = keel_stmt_int64(st, 0);
    keel_stmt_release(st);
    return r == KEEL_STEP_ROW ? 0 : -1;
}

static int side_keel(void *ctx, bench_samples *out)
{
    const ingest_config *cfg = ctx;
    size_t total = (size_t)cfg->batches * BATCH_POINTS;
    char dir[1024], db_path[1100], run_id[33];
    if (bench_scratch_dir("ingest", dir, sizeof dir) != 0)
        return 1;
    snprintf(db_path, sizeof db_path, "%s/keel.db", dir);
    keel_store *s = NULL;
    keel_metric *points = make_points(total);
    int rc = points != NULL ? make_store(db_path, &s, run_id) : -1;
    if (rc == 0) {
        keel_err err;
        double t0 = bench_now_s();
        for (int b = 0; rc == 0 && b < cfg->batches; b++) {
            if (keel_run_log_batch(s, run_id, points + (size_t)b * BATCH_POINTS, BATCH_POINTS,
                                   NULL, 0, NULL, 0, &err) != KEEL_OK) {
                fprintf(stderr, "keel_run_log_batch (batch %d): %s\n", b, err.msg);
                rc = -1;
            }
        }
        out->v[S_SECONDS] = bench_now_s() - t0;
        int64_t count = 0;
        if (rc == 0 && (rc = keel_count_metrics(s, &count)) == 0 && count != (int64_t)total) {
            fprintf(stderr, "keel stored %lld points, expected %zu\n", (long long)count, total);
            rc = -1;
        }
        out->v[S_POINTS] = (double)count;
        out->n = S_COUNT;
    }
    keel_store_close(s);
    free(points);
    bench_remove_db(db_path);
    rmdir(dir);
    return rc == 0 ? 0 : 1;
}

/* ---- plain SQLite ---- */

static int sqlite_check(sqlite3 *db, int rc, const char *what)
{
    if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW)
        return 0;
    fprintf(stderr, "sqlite3 %s: %s\n", what, sqlite3_errmsg(db));
    return -1;
}

/* BEGIN; INSERT x n; COMMIT with one prepared statement, text bound static:
 * what a careful C programmer writes by hand. */
static int plain_batch(sqlite3 *db, sqlite3_stmt *ins, const char *run_id,
                       const keel_metric *points, size_t n)
{
    if (sqlite_check(db, sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), "BEGIN") != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const keel_metric *m = &points[i];
        sqlite3_bind_text(ins, 1, run_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, m->key, -1, SQLITE_STATIC);
        sqlite3_bind_double(ins, 3, m->value);
        sqlite3_bind_int64(ins, 4, m->timestamp);
        sqlite3_bind_int64(ins, 5, m->step);
        sqlite3_bind_int(ins, 6, 0);
        int rc = sqlite3_step(ins);
        sqlite3_reset(ins);
        if (sqlite_check(db, rc, "INSERT") != 0) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    return sqlite_check(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "COMMIT");
}

static int side_plain(void *ctx, bench_samples *out)
{
    const ingest_config *cfg = ctx;
    size_t total = (size_t)cfg->batches * BATCH_POINTS;
    char dir[1024], db_path[1100], run_id[33];
    if (bench_scratch_dir("ingest", dir, sizeof dir) != 0)
        return 1;
    snprintf(db_path, sizeof db_path, "%s/keel.db", dir);
    keel_metric *points = make_points(total);
    int rc = points != NULL ? make_store(db_path, NULL, run_id) : -1;
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL;
    if (rc == 0)
        rc = sqlite_check(db, sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE |
                                              SQLITE_OPEN_NOMUTEX, NULL), "open");
    if (rc == 0)
        rc = sqlite_check(db, sqlite3_exec(db, "PRAGMA journal_mode=WAL; "
                                               "PRAGMA synchronous=NORMAL; "
                                               "PRAGMA foreign_keys=ON;", NULL, NULL, NULL),
                          "pragmas");
    if (rc == 0)
        rc = sqlite_check(db, sqlite3_prepare_v2(db,
            "INSERT INTO metrics (run_uuid, key, value, timestamp, step, is_nan) "
            "VALUES (?, ?, ?, ?, ?, ?)", -1, &ins, NULL), "prepare");
    if (rc == 0) {
        double t0 = bench_now_s();
        for (int b = 0; rc == 0 && b < cfg->batches; b++)
            rc = plain_batch(db, ins, run_id, points + (size_t)b * BATCH_POINTS, BATCH_POINTS);
        out->v[S_SECONDS] = bench_now_s() - t0;
    }
    sqlite3_stmt *count = NULL;
    if (rc == 0)
        rc = sqlite_check(db, sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM metrics", -1, &count,
                                                 NULL), "prepare count");
    if (rc == 0 && sqlite3_step(count) == SQLITE_ROW) {
        out->v[S_POINTS] = (double)sqlite3_column_int64(count, 0);
        out->n = S_COUNT;
        if (out->v[S_POINTS] != (double)total) {
            fprintf(stderr, "plain stored %.0f points, expected %zu\n", out->v[S_POINTS], total);
            rc = -1;
        }
    }
    sqlite3_finalize(count);
    sqlite3_finalize(ins);
    sqlite3_close(db);
    free(points);
    bench_remove_db(db_path);
    rmdir(dir);
    return rc == 0 ? 0 : 1;
}

/* ---- python3 ---- */

/* Runs the script in a grandchild on db_path; its own timing and count come
 * back on stdout, its peak RSS from wait4. Returns 0, 1 on failure, or 127
 * when python3 cannot be started (the peer is then skipped). */
static int run_python(const ingest_config *cfg, const char *db_path, bench_samples *out)
{
    const char *python = getenv("KEEL_BENCH_PYTHON");
    if (python == NULL || python[0] == '\0')
        python = "python3";
    char batches[32], size[32];
    snprintf(batches, sizeof batches, "%d", cfg->batches);
    snprintf(size, sizeof size, "%d", BATCH_POINTS);
    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[1]);
        alarm(PYTHON_TIMEOUT_S);
        execlp(python, python, "-c", python_script, db_path, batches, size, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char line[256] = "";
    size_t got = 0;
    ssize_t r;
    while (got < sizeof line - 1 &&
           ((r = read(fds[0], line + got, sizeof line - 1 - got)) > 0 || (r < 0 && errno == EINTR)))
        got += r > 0 ? (size_t)r : 0;
    line[got] = '\0';
    close(fds[0]);
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return 127;
    double seconds = 0, points = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        sscanf(line, "%lf %lf", &seconds, &points) != 2) {
        fprintf(stderr, "python peer failed (status %d, %s): %s\n", status,
                WIFSIGNALED(status) ? "killed" : "exited", line);
        return 1;
    }
    out->v[S_SECONDS] = seconds;
    out->v[S_POINTS] = points;
    out->v[S_RSS_KB] = (double)ru.ru_maxrss;
    out->n = S_COUNT;
    return 0;
}

static int side_python(void *ctx, bench_samples *out)
{
    const ingest_config *cfg = ctx;
    char dir[1024], db_path[1100], run_id[33];
    if (bench_scratch_dir("ingest", dir, sizeof dir) != 0)
        return 1;
    snprintf(db_path, sizeof db_path, "%s/keel.db", dir);
    int rc = make_store(db_path, NULL, run_id);
    if (rc == 0) {
        rc = run_python(cfg, db_path, out);
        if (rc == 127) {  /* no python3: reported as a skipped peer, not a failure */
            out->n = 0;
            rc = 0;
        }
    }
    bench_remove_db(db_path);
    rmdir(dir);
    return rc == 0 ? 0 : 1;
}

/* ---- driver ---- */

typedef struct side {
    const char *name;
    bench_child_fn fn;
    bool enabled;
    bool skipped;
    double rate[MAX_REPS];
    long rss_kb[MAX_REPS];
    int n;
} side;

static int parse_args(int argc, char **argv, ingest_config *cfg)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--no-python") == 0) {
            cfg->python = false;
        } else if ((strcmp(arg, "--batches") == 0 || strcmp(arg, "--reps") == 0) &&
                   i + 1 < argc) {
            int v = atoi(argv[++i]);
            int max = strcmp(arg, "--reps") == 0 ? MAX_REPS : 100000;
            if (v < 1 || v > max) {
                fprintf(stderr, "bench_ingest: %s must be 1..%d\n", arg, max);
                return -1;
            }
            *(strcmp(arg, "--reps") == 0 ? &cfg->reps : &cfg->batches) = v;
        } else {
            fprintf(stderr, "usage: bench_ingest [--batches N] [--reps N] [--no-python]\n");
            return -1;
        }
    }
    return 0;
}

static double side_median_rate(side *sd)
{
    double v[MAX_REPS];
    memcpy(v, sd->rate, (size_t)sd->n * sizeof v[0]);
    return bench_median(v, sd->n);
}

static long side_max_rss(const side *sd)
{
    long m = 0;
    for (int i = 0; i < sd->n; i++)
        m = sd->rss_kb[i] > m ? sd->rss_kb[i] : m;
    return m;
}

int main(int argc, char **argv)
{
    ingest_config cfg = { .batches = 200, .reps = 3, .python = true };
    if (parse_args(argc, argv, &cfg) != 0)
        return BENCH_EXIT_ERROR;
    size_t total = (size_t)cfg.batches * BATCH_POINTS;
    side sides[] = {
        { .name = "keel_run_log_batch", .fn = side_keel, .enabled = true },
        { .name = "plain sqlite3 C", .fn = side_plain, .enabled = true },
        { .name = "python3 sqlite3", .fn = side_python, .enabled = cfg.python },
    };
    const size_t n_sides = sizeof sides / sizeof sides[0];
    printf("bench_ingest: %d batches x %d points = %zu metric points, %zu keys, "
           "SQLite %s, %d runs per side (interleaved, fresh database each)\n",
           cfg.batches, BATCH_POINTS, total, N_KEYS, sqlite3_libversion(), cfg.reps);

    for (int rep = 0; rep < cfg.reps; rep++) {
        for (size_t k = 0; k < n_sides; k++) {
            side *sd = &sides[k];
            if (!sd->enabled || sd->skipped)
                continue;
            bench_samples s;
            long rss = 0;
            int rc = bench_in_child(sd->name, sd->fn, &cfg, &s, &rss);
            if (rc != BENCH_EXIT_OK)
                return rc;
            if (s.n == 0) {
                printf("  %-20s skipped (python3 not found; set KEEL_BENCH_PYTHON)\n", sd->name);
                sd->skipped = true;
                continue;
            }
            if (s.v[S_RSS_KB] > 0)
                rss = (long)s.v[S_RSS_KB];
            sd->rate[sd->n] = s.v[S_POINTS] / s.v[S_SECONDS];
            sd->rss_kb[sd->n] = rss;
            sd->n++;
            printf("  run %d  %-20s %8.3f s  %10.0f points/s  peak RSS %6.1f MiB\n", rep + 1,
                   sd->name, s.v[S_SECONDS], sd->rate[sd->n - 1], rss / 1024.0);
        }
    }

    printf("\n%-22s %14s %14s\n", "side", "points/s (med)", "peak RSS MiB");
    for (size_t k = 0; k < n_sides; k++) {
        side *sd = &sides[k];
        if (sd->n > 0)
            printf("%-22s %14.0f %14.1f\n", sd->name, side_median_rate(sd),
                   side_max_rss(sd) / 1024.0);
    }
    double keel_rate = side_median_rate(&sides[0]);
    double ratio = keel_rate / side_median_rate(&sides[1]);
    printf("\nratio keel/plain: %.2f (target >= %.2f: %s)\n", ratio, TARGET_RATIO,
           ratio >= TARGET_RATIO ? "met" : "NOT met");
    printf("summary: ingest keel %.0f points/s, plain %.0f points/s, keel/plain %.2f "
           "(target >= %.2f: %s)\n", keel_rate, side_median_rate(&sides[1]), ratio, TARGET_RATIO,
           ratio >= TARGET_RATIO ? "met" : "NOT met");
    if (sides[2].n > 0) {
        double py = side_median_rate(&sides[2]);
        printf("ratio keel/python3: %.2f\n", keel_rate / py);
        printf("summary: ingest python3 sqlite3 %.0f points/s, keel/python3 %.2f\n", py,
               keel_rate / py);
    }
    return BENCH_EXIT_OK;
}
