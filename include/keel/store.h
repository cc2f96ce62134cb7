/*
 * keel/store.h — the SQL seam: one interface over the metadata databases.
 *
 * Callers write portable SQL with `?` placeholders and use prepared
 * statements only; values are always bound, never spliced into SQL text. A
 * backend (SQLite now, PostgreSQL next) implements struct keel_store_backend;
 * nothing above this header knows which one it is talking to.
 *
 * Statements are cached per store by their SQL text, so a hot path that
 * prepares the same SQL each call pays for parsing once. A store handle is
 * used by one thread at a time; open one per thread.
 */
#ifndef KEEL_STORE_H
#define KEEL_STORE_H

#include <keel/error.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct keel_store keel_store;
typedef struct keel_stmt keel_stmt;

enum keel_step { KEEL_STEP_ERROR = -1, KEEL_STEP_DONE = 0, KEEL_STEP_ROW = 1 };

enum keel_dialect { KEEL_DIALECT_SQLITE, KEEL_DIALECT_POSTGRES };

/* Opens the store at uri — "sqlite:PATH", a plain PATH (SQLite), or
 * "postgresql://…" — and brings its schema to the newest migration.
 * Returns a handle for keel_store_close in *out. */
int keel_store_open(const char *uri, keel_store **out, keel_err *err);

/* Closes the store, finalizing cached statements. NULL is fine. */
void keel_store_close(keel_store *s);

enum keel_dialect keel_store_dialect(const keel_store *s);

/* The schema version the store is at, after migrations. */
int keel_store_schema_version(keel_store *s, int *out, keel_err *err);

/* Runs SQL without parameters (DDL; several statements allowed). */
int keel_store_exec(keel_store *s, const char *sql, keel_err *err);

/* Returns a prepared statement for sql, borrowed from the store's cache:
 * call keel_stmt_release when done with it. sql must stay valid for the
 * store's lifetime when cache is true (use string literals); with cache false
 * the statement is private and keel_stmt_release finalizes it (for SQL built
 * at run time, such as compiled search filters). */
int keel_store_prepare(keel_store *s, const char *sql, bool cache, keel_stmt **out,
                       keel_err *err);

/* Binds parameter idx (1-based). Text is copied; len may be -1 for a
 * NUL-terminated string. NULL text binds SQL NULL. */
int keel_stmt_bind_text(keel_stmt *st, int idx, const char *text, int64_t len);
int keel_stmt_bind_int64(keel_stmt *st, int idx, int64_t v);
int keel_stmt_bind_double(keel_stmt *st, int idx, double v);
int keel_stmt_bind_null(keel_stmt *st, int idx);

/* Advances: KEEL_STEP_ROW with a row to read, KEEL_STEP_DONE at the end,
 * KEEL_STEP_ERROR with err filled. */
enum keel_step keel_stmt_step(keel_stmt *st, keel_err *err);

/* Column readers for the current row (0-based). Text is borrowed until the
 * next step or release; NULL for SQL NULL. */
const char *keel_stmt_text(keel_stmt *st, int col);
int64_t keel_stmt_int64(keel_stmt *st, int col);
double keel_stmt_double(keel_stmt *st, int col);
bool keel_stmt_is_null(keel_stmt *st, int col);

/* Rows changed by the last completed INSERT/UPDATE/DELETE on st. */
int64_t keel_stmt_changes(keel_stmt *st);

/* Resets bindings and returns a cached statement to the cache (or finalizes
 * a private one). NULL is fine. */
void keel_stmt_release(keel_stmt *st);

/* Runs a statement that returns no rows, then releases it. */
int keel_stmt_run(keel_stmt *st, keel_err *err);

/* Makes every outermost transaction of s hold lock (a process-wide mutex
 * shared by the store handles of one process) from begin to commit or
 * rollback, so threads of one process queue on the mutex instead of sleeping
 * in SQLite's busy handler. lock must outlive s. NULL removes it. */
struct keel_store_lock;
void keel_store_set_write_lock(keel_store *s, struct keel_store_lock *lock);

/* A write lock to share (heap; keel_store_lock_destroy it). */
struct keel_store_lock *keel_store_lock_new(void);
void keel_store_lock_destroy(struct keel_store_lock *lock);

/* Prepares sql (cached: pass a string literal), binds the arguments
 * described by types — one letter each: 't' const char * (NULL binds NULL),
 * 'i' int64_t, 'd' double, 'n' nothing (binds NULL) — runs it to completion
 * and releases it. *out_changes (may be NULL) gets the rows changed. For
 * statements that return no rows. */
int keel_store_execv(keel_store *s, const char *sql, int64_t *out_changes, keel_err *err,
                     const char *types, ...);

/* Transactions nest by depth: only the outermost begin/commit reach the
 * database. A rollback at any depth rolls the whole transaction back, and
 * the outer commit then fails with KEEL_ESTATE. begin takes the write lock
 * at once (SQLite: BEGIN IMMEDIATE), waiting up to the busy timeout. */
int keel_store_begin(keel_store *s, keel_err *err);
int keel_store_commit(keel_store *s, keel_err *err);
void keel_store_rollback(keel_store *s);

#endif
