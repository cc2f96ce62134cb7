/*
 * store_sqlite.c — the SQLite backend: WAL journal, a busy timeout so the
 * CLI, pipeline steps and the server can write at once, foreign keys on.
 *
 * synchronous=NORMAL in WAL mode: a committed transaction survives a crash of
 * the process (kill -9); KEEL_SQLITE_SYNC=full also makes it survive power
 * loss at the cost of an fsync per commit.
 */
#include "store_backend.h"

#include <keel/util.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define SQLITE_BUSY_TIMEOUT_MS 30000

static int sqlite_fail(sqlite3 *db, int code, keel_err *err, const char *what)
{
    int keel_code = KEEL_ESTORE;
    int primary = code & 0xff;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
        keel_code = KEEL_EBUSY;
    else if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB)
        keel_code = KEEL_ECORRUPT;
    else if (primary == SQLITE_FULL || primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN)
        keel_code = KEEL_EIO;
    else if (primary == SQLITE_CONSTRAINT)
        keel_code = KEEL_ECONFLICT;
    return keel_errf(err, keel_code, "sqlite: %s: %s", what,
                     db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(code));
}

static int sq_exec(void *conn, const char *sql, keel_err *err)
{
    sqlite3 *db = conn;
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return sqlite_fail(db, rc, err, "exec");
    return KEEL_OK;
}

/* Before SQLite initialises: no global memory statistics (a mutex taken on
 * every allocation); keel never asks for them. */
static pthread_once_t sqlite_config_once = PTHREAD_ONCE_INIT;

static void configure_sqlite(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int sq_open(const char *target, void **out_conn, keel_err *err)
{
    pthread_once(&sqlite_config_once, configure_sqlite);
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(target, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        keel_errf(err, KEEL_EIO, "sqlite: cannot open '%s': %s", target,
                  db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return err->code;
    }
    sqlite3_busy_timeout(db, SQLITE_BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(db, 1);
    const char *sync = getenv("KEEL_SQLITE_SYNC");
    /* A 16 MiB page cache (allocated as used) and memory-mapped reads: the
     * search queries touch many pages of a large store. */
    static const char common[] = "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; "
                                 "PRAGMA case_sensitive_like=ON; PRAGMA cache_size=-16384; "
                                 "PRAGMA mmap_size=268435456;";
    bool full_sync = sync != NULL && strcmp(sync, "full") == 0;
    rc = sqlite3_exec(db, full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                      NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, common, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        int code = sqlite_fail(db, rc, err, target);
        sqlite3_close(db);
        return code;
    }
    *out_conn = db;
    return KEEL_OK;
}

static void sq_close(void *conn)
{
    /* Keeps the planner's statistics current, cheaply (SQLite's advice for
     * long-lived and short-lived connections alike). */
    sqlite3_exec(conn, "PRAGMA analysis_limit=400; PRAGMA optimize;", NULL, NULL, NULL);
    sqlite3_close(conn);
}

static int sq_prepare(void *conn, const char *sql, void **out_stmt, keel_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(conn, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK)
        return sqlite_fail(conn, rc, err, "prepare");
    *out_stmt = st;
    return KEEL_OK;
}

static void sq_finalize(void *stmt)
{
    sqlite3_finalize(stmt);
}

static void sq_reset(void *stmt)
{
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
}

static int sq_bind_text(void *stmt, int idx, const char *text, int64_t len)
{
    return sqlite3_bind_text64(stmt, idx, text, len < 0 ? strlen(text) : (sqlite3_uint64)len,
                               SQLITE_TRANSIENT, SQLITE_UTF8) == SQLITE_OK
               ? KEEL_OK : KEEL_ESTORE;
}

static int sq_bind_int64(void *stmt, int idx, int64_t v)
{
    return sqlite3_bind_int64(stmt, idx, v) == SQLITE_OK ? KEEL_OK : KEEL_ESTORE;
}

static int sq_bind_double(void *stmt, int idx, double v)
{
    return sqlite3_bind_double(stmt, idx, v) == SQLITE_OK ? KEEL_OK : KEEL_ESTORE;
}

static int sq_bind_null(void *stmt, int idx)
{
    return sqlite3_bind_null(stmt, idx) == SQLITE_OK ? KEEL_OK : KEEL_ESTORE;
}

static enum keel_step sq_step(void *conn, void *stmt, keel_err *err)
{
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        return KEEL_STEP_ROW;
    if (rc == SQLITE_DONE)
        return KEEL_STEP_DONE;
    sqlite_fail(conn, rc, err, "step");
    sqlite3_reset(stmt);
    return KEEL_STEP_ERROR;
}

static const char *sq_col_text(void *stmt, int col)
{
    return (const char *)sqlite3_column_text(stmt, col);
}

static int64_t sq_col_int64(void *stmt, int col)
{
    return sqlite3_column_int64(stmt, col);
}

static double sq_col_double(void *stmt, int col)
{
    return sqlite3_column_double(stmt, col);
}

static bool sq_col_is_null(void *stmt, int col)
{
    return sqlite3_column_type(stmt, col) == SQLITE_NULL;
}

static int64_t sq_changes(void *conn)
{
    return sqlite3_changes64(conn);
}

const struct keel_store_backend keel_store_sqlite_backend = {
    .name = "sqlite",
    .dialect = KEEL_DIALECT_SQLITE,
    .open = sq_open,
    .close = sq_close,
    .exec = sq_exec,
    .prepare = sq_prepare,
    .finalize = sq_finalize,
    .reset = sq_reset,
    .bind_text = sq_bind_text,
    .bind_int64 = sq_bind_int64,
    .bind_double = sq_bind_double,
    .bind_null = sq_bind_null,
    .step = sq_step,
    .col_text = sq_col_text,
    .col_int64 = sq_col_int64,
    .col_double = sq_col_double,
    .col_is_null = sq_col_is_null,
    .changes = sq_changes,
    .begin_sql = "BEGIN IMMEDIATE",
};
