/*
 * store_backend.h — what a metadata-store backend implements. Internal to
 * src/store/; callers see only keel/store.h.
 */
#ifndef KEEL_STORE_BACKEND_H
#define KEEL_STORE_BACKEND_H

#include <keel/store.h>

struct keel_store_backend {
    const char *name;
    enum keel_dialect dialect;
    int (*open)(const char *target, void **out_conn, keel_err *err);
    void (*close)(void *conn);
    int (*exec)(void *conn, const char *sql, keel_err *err);
    int (*prepare)(void *conn, const char *sql, void **out_stmt, keel_err *err);
    void (*finalize)(void *stmt);
    void (*reset)(void *stmt);
    int (*bind_text)(void *stmt, int idx, const char *text, int64_t len);
    int (*bind_int64)(void *stmt, int idx, int64_t v);
    int (*bind_double)(void *stmt, int idx, double v);
    int (*bind_null)(void *stmt, int idx);
    enum keel_step (*step)(void *conn, void *stmt, keel_err *err);
    const char *(*col_text)(void *stmt, int col);
    int64_t (*col_int64)(void *stmt, int col);
    double (*col_double)(void *stmt, int col);
    bool (*col_is_null)(void *stmt, int col);
    int64_t (*changes)(void *conn);
    const char *begin_sql;
};

extern const struct keel_store_backend keel_store_sqlite_backend;

/* One schema step. sql runs on every backend unless a dialect-specific
 * text is given. */
struct keel_migration {
    int version;
    const char *description;
    const char *sql;
    const char *sql_postgres;  /* NULL: same as sql */
};

/* The ordered migration list and its length (store_migrations.c). */
extern const struct keel_migration keel_migrations[];
extern const int keel_migration_count;

#endif
