/*
 * test_durability.c — `kill -9` in the middle of batch logging leaves every
 * batch either whole or absent, the latest-metric table consistent with the
 * history, and the database intact.
 *
 * A child process logs batches of 980 metrics + 10 params + 10 tags in a
 * loop; the parent kills it with SIGKILL at a random moment, then reopens the
 * store and checks. Repeated many times, so kills land inside transactions,
 * between them and during commit.
 */
#include "testutil.h"

#include <keel/store.h>
#include <keel/tracking.h>
#include <keel/util.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCH_METRICS 980   /* + 10 params + 10 tags = MLflow's 1000 */
#define BATCH_PARAMS  10
#define ROUNDS        25

static int64_t count(keel_store *s, const char *sql, const char *run_id)
{
    keel_stmt *st;
    keel_err err;
    assert_int_equal(keel_store_prepare(s, sql, false, &st, &err), KEEL_OK);
    if (run_id != NULL)
        keel_stmt_bind_text(st, 1, run_id, -1);
    assert_int_equal(keel_stmt_step(st, &err), KEEL_STEP_ROW);
    int64_t n = keel_stmt_int64(st, 0);
    keel_stmt_release(st);
    return n;
}

/* Child: log numbered batches forever. Batch b has steps b*1000 .. b*1000+999,
 * params p<b>_0..9 and tags t<b>_0..9, so a partial batch would show. */
static void writer(const char *db, const char *run_id, int64_t first_batch)
{
    keel_store *s = NULL;
    keel_err err;
    if (keel_store_open(db, &s, &err) != KEEL_OK)
        _exit(10);
    keel_metric metrics[BATCH_METRICS];
    keel_kv params[BATCH_PARAMS], tags[BATCH_PARAMS];
    char names[2 * BATCH_PARAMS][32];
    for (int64_t b = first_batch;; b++) {
        for (int i = 0; i < BATCH_METRICS; i++)
            metrics[i] = (keel_metric){ "loss", 1.0 / (double)(b * BATCH_METRICS + i + 1),
                                        1000 + b, b * BATCH_METRICS + i };
        for (int i = 0; i < BATCH_PARAMS; i++) {
            snprintf(names[i], sizeof names[i], "p%lld_%d", (long long)b, i);
            snprintf(names[BATCH_PARAMS + i], sizeof names[i], "t%lld_%d", (long long)b, i);
            params[i] = (keel_kv){ names[i], "v" };
            tags[i] = (keel_kv){ names[BATCH_PARAMS + i], "v" };
        }
        if (keel_run_log_batch(s, run_id, metrics, BATCH_METRICS, params, BATCH_PARAMS, tags,
                               BATCH_PARAMS, &err) != KEEL_OK) {
            fprintf(stderr, "writer: %s\n", err.msg);
            _exit(11);
        }
    }
}

static void kill9_during_batches_keeps_whole_batches(void **state)
{
    (void)state;
    char dir[PATH_MAX], db[PATH_MAX + 16];
    keel_test_tmpdir(dir);
    snprintf(db, sizeof db, "%s/keel.db", dir);
    keel_store *s = NULL;
    keel_err err;
    keel_arena a;
    keel_arena_init(&a, 0);
    assert_int_equal(keel_store_open(db, &s, &err), KEEL_OK);
    keel_run_create_opts opts = { .experiment_id = 0, .run_name = "durable" };
    const char *run_id = NULL;
    assert_int_equal(keel_run_create(s, &opts, &a, &run_id, &err), KEEL_OK);
    keel_store_close(s);

    srand((unsigned)time(NULL));
    int64_t batches = 0;
    int killed_with_partial_work = 0;
    for (int round = 0; round < ROUNDS; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            writer(db, run_id, batches);
        struct timespec delay = { 0, (long)(5 + rand() % 60) * 1000000L };
        nanosleep(&delay, NULL);
        kill(pid, SIGKILL);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status))
            fail_msg("the writer exited by itself with status %d", WEXITSTATUS(status));

        assert_int_equal(keel_store_open(db, &s, &err), KEEL_OK);
        int64_t points = count(s, "SELECT COUNT(*) FROM metrics WHERE run_uuid = ?", run_id);
        int64_t params = count(s, "SELECT COUNT(*) FROM params WHERE run_uuid = ?", run_id);
        int64_t tags = count(s, "SELECT COUNT(*) FROM tags WHERE run_uuid = ? AND key LIKE 't%'",
                             run_id);
        assert_int_equal(points % BATCH_METRICS, 0);
        int64_t whole = points / BATCH_METRICS;
        assert_int_equal(params, whole * BATCH_PARAMS);
        assert_int_equal(tags, whole * BATCH_PARAMS);
        /* Steps are contiguous: no batch is missing in the middle. */
        if (whole > 0) {
            assert_int_equal(count(s, "SELECT MAX(step) FROM metrics WHERE run_uuid = ?", run_id),
                             whole * BATCH_METRICS - 1);
            assert_int_equal(count(s, "SELECT step FROM latest_metrics WHERE run_uuid = ?",
                                   run_id), whole * BATCH_METRICS - 1);
        }
        if (whole > batches)
            killed_with_partial_work++;
        batches = whole;
        keel_stmt *st;
        assert_int_equal(keel_store_prepare(s, "PRAGMA integrity_check", false, &st, &err),
                         KEEL_OK);
        assert_int_equal(keel_stmt_step(st, &err), KEEL_STEP_ROW);
        assert_string_equal(keel_stmt_text(st, 0), "ok");
        keel_stmt_release(st);
        keel_store_close(s);
    }
    /* The writer made progress in most rounds, so the kills hit live work. */
    assert_true(batches > 0);
    assert_true(killed_with_partial_work > ROUNDS / 3);
    keel_arena_free(&a);
    keel_test_rmrf(dir);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kill9_during_batches_keeps_whole_batches),
    };
    return keel_test_main(argc, argv, "durability", tests);
}
