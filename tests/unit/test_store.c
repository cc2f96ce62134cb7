/*
 * test_store.c — the SQL seam: migrations, prepared statements and the
 * cache, nested transactions, concurrent writers in separate processes.
 */
#include "testutil.h"

#include <keel/store.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[PATH_MAX];
static char db[PATH_MAX + 16];

static int setup(void **state)
{
    (void)state;
    keel_test_tmpdir(dir);
    snprintf(db, sizeof db, "%s/keel.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    keel_test_rmrf(dir);
    return 0;
}

static int64_t count(keel_store *s, const char *sql)
{
    keel_stmt *st;
    keel_err err;
    assert_int_equal(keel_store_prepare(s, sql, false, &st, &err), KEEL_OK);
    assert_int_equal(keel_stmt_step(st, &err), KEEL_STEP_ROW);
    int64_t n = keel_stmt_int64(st, 0);
    keel_stmt_release(st);
    return n;
}

static void open_migrates_once_and_reopens(void **state)
{
    (void)state;
    keel_store *s = NULL;
    keel_err err;
    assert_int_equal(keel_store_open(db, &s, &err), KEEL_OK);
    int version = 0;
    assert_int_equal(keel_store_schema_version(s, &version, &err), KEEL_OK);
    assert_true(version >= 3);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM experiments WHERE experiment_id = 0"), 1);
    keel_store_close(s);
    assert_int_equal(keel_store_open(db, &s, &err), KEEL_OK);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM schema_version"), version);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM experiments"), 1);
    keel_store_close(s);
}

static void open_rejects_bad_uris_and_newer_schemas(void **state)
{
    (void)state;
    keel_store *s = NULL;
    keel_err err;
    assert_int_equal(keel_store_open("", &s, &err), KEEL_EINVAL);
    assert_int_equal(keel_store_open("postgresql://localhost/x", &s, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "PostgreSQL"));
    assert_int_not_equal(keel_store_open("/nonexistent-dir/x/keel.db", &s, &err), KEEL_OK);
    /* A file that is not a database. */
    char junk[PATH_MAX + 16];
    snprintf(junk, sizeof junk, "%s/junk.db", dir);
    keel_test_write(junk, "this is not an sqlite database, just text that is long enough....");
    assert_int_not_equal(keel_store_open(junk, &s, &err), KEEL_OK);
    /* A schema from a future keel is refused, not silently used. */
    assert_int_equal(keel_store_open(db, &s, &err), KEEL_OK);
    assert_int_equal(keel_store_exec(s, "INSERT INTO schema_version VALUES (9999, 0, 'future')",
                                     &err), KEEL_OK);
    keel_store_close(s);
    assert_int_equal(keel_store_open(db, &s, &err), KEEL_ESTATE);
    assert_non_null(strstr(err.msg, "upgrade keel"));
}

static void statements_bind_and_cache(void **state)
{
    (void)state;
    keel_store *s = NULL;
    keel_err err;
    assert_int_equal(keel_store_open(db, &s, &err), KEEL_OK);
    assert_int_equal(keel_store_exec(s, "CREATE TABLE t (a TEXT, b BIGINT, c DOUBLE PRECISION)",
                                     &err), KEEL_OK);
    static const char insert[] = "INSERT INTO t (a, b, c) VALUES (?, ?, ?)";
    keel_stmt *first = NULL;
    for (int i = 0; i < 10; i++) {
        keel_stmt *st;
        assert_int_equal(keel_store_prepare(s, insert, true, &st, &err), KEEL_OK);
        if (i == 0)
            first = st;
        assert_ptr_equal(st, first); /* the cached statement comes back */
        keel_stmt_bind_text(st, 1, "x'; DROP TABLE t; --", -1);
        keel_stmt_bind_int64(st, 2, i);
        if (i % 2 == 0)
            keel_stmt_bind_double(st, 3, i * 0.5);
        else
            keel_stmt_bind_null(st, 3);
        assert_int_equal(keel_stmt_run(st, &err), KEEL_OK);
    }
    assert_int_equal(count(s, "SELECT COUNT(*) FROM t WHERE a = 'x''; DROP TABLE t; --'"), 10);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM t WHERE c IS NULL"), 5);
    /* The same SQL prepared while the cached one is in use gets its own. */
    keel_stmt *a, *b;
    assert_int_equal(keel_store_prepare(s, insert, true, &a, &err), KEEL_OK);
    assert_int_equal(keel_store_prepare(s, insert, true, &b, &err), KEEL_OK);
    assert_ptr_not_equal(a, b);
    keel_stmt_release(b);
    keel_stmt_release(a);
    /* Bad SQL is an error with sqlite's message. */
    keel_stmt *bad;
    assert_int_equal(keel_store_prepare(s, "SELEKT 1", false, &bad, &err), KEEL_ESTORE);
    assert_non_null(strstr(err.msg, "syntax"));
    keel_store_close(s);
}

static void nested_transactions_roll_back_whole(void **state)
{
    (void)state;
    keel_store *s = NULL;
    keel_err err;
    assert_int_equal(keel_store_open(db, &s, &err), KEEL_OK);
    assert_int_equal(keel_store_exec(s, "CREATE TABLE t (a BIGINT)", &err), KEEL_OK);
    assert_int_equal(keel_store_begin(s, &err), KEEL_OK);
    assert_int_equal(keel_store_exec(s, "INSERT INTO t VALUES (1)", &err), KEEL_OK);
    assert_int_equal(keel_store_begin(s, &err), KEEL_OK);
    assert_int_equal(keel_store_exec(s, "INSERT INTO t VALUES (2)", &err), KEEL_OK);
    keel_store_rollback(s);
    assert_int_equal(keel_store_commit(s, &err), KEEL_ESTATE);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM t"), 0);
    assert_int_equal(keel_store_begin(s, &err), KEEL_OK);
    assert_int_equal(keel_store_exec(s, "INSERT INTO t VALUES (3)", &err), KEEL_OK);
    assert_int_equal(keel_store_commit(s, &err), KEEL_OK);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM t"), 1);
    assert_int_equal(keel_store_commit(s, &err), KEEL_ESTATE);
    keel_store_close(s);
}

/* Several processes write at once; the busy timeout serialises them and
 * nothing is lost. */
static void concurrent_writers_lose_nothing(void **state)
{
    (void)state;
    keel_store *s = NULL;
    keel_err err;
    assert_int_equal(keel_store_open(db, &s, &err), KEEL_OK);
    assert_int_equal(keel_store_exec(s, "CREATE TABLE t (who BIGINT, i BIGINT)", &err), KEEL_OK);
    keel_store_close(s);
    enum { WRITERS = 4, ROWS = 200 };
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0) {
            keel_store *child = NULL;
            keel_err cerr;
            if (keel_store_open(db, &child, &cerr) != KEEL_OK)
                _exit(1);
            for (int i = 0; i < ROWS; i++) {
                keel_stmt *st;
                if (keel_store_begin(child, &cerr) != KEEL_OK ||
                    keel_store_prepare(child, "INSERT INTO t VALUES (?, ?)", true, &st, &cerr) !=
                        KEEL_OK)
                    _exit(2);
                keel_stmt_bind_int64(st, 1, w);
                keel_stmt_bind_int64(st, 2, i);
                if (keel_stmt_run(st, &cerr) != KEEL_OK || keel_store_commit(child, &cerr) != KEEL_OK)
                    _exit(3);
            }
            keel_store_close(child);
            _exit(0);
        }
    }
    for (int w = 0; w < WRITERS; w++) {
        int status = 0;
        assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(keel_store_open(db, &s, &err), KEEL_OK);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM t"), WRITERS * ROWS);
    assert_int_equal(count(s, "SELECT COUNT(DISTINCT who * 1000 + i) FROM t"), WRITERS * ROWS);
    keel_store_close(s);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(open_migrates_once_and_reopens, setup, teardown),
        cmocka_unit_test_setup_teardown(open_rejects_bad_uris_and_newer_schemas, setup, teardown),
        cmocka_unit_test_setup_teardown(statements_bind_and_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(nested_transactions_roll_back_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_writers_lose_nothing, setup, teardown),
    };
    return keel_test_main(argc, argv, "store", tests);
}
