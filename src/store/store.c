/*
 * store.c — backend dispatch, the per-store statement cache, nested
 * transactions and migrations.
 *
 * Invariants: a cached statement is handed to one user at a time (a second
 * prepare of the same SQL while the first is out gets a private statement);
 * migrations run inside one write transaction, so processes that open the
 * same store at once apply each migration exactly once.
 */
#include <keel/store.h>
#include <keel/buf.h>
#include <keel/util.h>

#include "store_backend.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define STMT_CACHE_MAX 128

struct keel_stmt {
    keel_store *store;
    void *raw;
    const char *sql;
    bool cached;
    bool in_use;
};

struct keel_store {
    const struct keel_store_backend *be;
    void *conn;
    keel_stmt *cache[STMT_CACHE_MAX];
    int cache_len;
    int tx_depth;
    bool tx_failed;
    struct keel_store_lock *write_lock;
};

struct keel_store_lock {
    pthread_mutex_t mutex;
};

struct keel_store_lock *keel_store_lock_new(void)
{
    struct keel_store_lock *lock = calloc(1, sizeof *lock);
    if (lock != NULL)
        pthread_mutex_init(&lock->mutex, NULL);
    return lock;
}

void keel_store_lock_destroy(struct keel_store_lock *lock)
{
    if (lock == NULL)
        return;
    pthread_mutex_destroy(&lock->mutex);
    free(lock);
}

void keel_store_set_write_lock(keel_store *s, struct keel_store_lock *lock)
{
    s->write_lock = lock;
}

static void unlock_writes(keel_store *s)
{
    if (s->write_lock != NULL)
        pthread_mutex_unlock(&s->write_lock->mutex);
}

enum keel_dialect keel_store_dialect(const keel_store *s)
{
    return s->be->dialect;
}

static int migrate(keel_store *s, keel_err *err);

int keel_store_open(const char *uri, keel_store **out, keel_err *err)
{
    if (uri == NULL || uri[0] == '\0')
        return keel_errf(err, KEEL_EINVAL, "store URI is empty");
    const struct keel_store_backend *be = NULL;
    const char *target = uri;
    if (strncmp(uri, "postgresql://", 13) == 0 || strncmp(uri, "postgres://", 11) == 0)
        return keel_errf(err, KEEL_EINVAL,
                         "store '%s': the PostgreSQL backend is not built into this keel yet",
                         uri);
    if (strncmp(uri, "sqlite:", 7) == 0)
        target = uri + 7;
    be = &keel_store_sqlite_backend;

    keel_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return keel_errf(err, KEEL_ENOMEM, "store: out of memory");
    s->be = be;
    int rc = be->open(target, &s->conn, err);
    if (rc != KEEL_OK) {
        free(s);
        return rc;
    }
    rc = migrate(s, err);
    if (rc != KEEL_OK) {
        keel_store_close(s);
        return rc;
    }
    *out = s;
    return KEEL_OK;
}

void keel_store_close(keel_store *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < s->cache_len; i++) {
        s->be->finalize(s->cache[i]->raw);
        free(s->cache[i]);
    }
    s->be->close(s->conn);
    free(s);
}

int keel_store_exec(keel_store *s, const char *sql, keel_err *err)
{
    return s->be->exec(s->conn, sql, err);
}

int keel_store_prepare(keel_store *s, const char *sql, bool cache, keel_stmt **out,
                       keel_err *err)
{
    if (cache) {
        for (int i = 0; i < s->cache_len; i++) {
            keel_stmt *st = s->cache[i];
            if (!st->in_use && (st->sql == sql || strcmp(st->sql, sql) == 0)) {
                st->in_use = true;
                *out = st;
                return KEEL_OK;
            }
        }
    }
    keel_stmt *st = calloc(1, sizeof *st);
    if (st == NULL)
        return keel_errf(err, KEEL_ENOMEM, "store: out of memory");
    int rc = s->be->prepare(s->conn, sql, &st->raw, err);
    if (rc != KEEL_OK) {
        free(st);
        return rc;
    }
    st->store = s;
    st->sql = sql;
    st->in_use = true;
    if (cache && s->cache_len < STMT_CACHE_MAX) {
        st->cached = true;
        s->cache[s->cache_len++] = st;
    }
    *out = st;
    return KEEL_OK;
}

int keel_stmt_bind_text(keel_stmt *st, int idx, const char *text, int64_t len)
{
    if (text == NULL)
        return st->store->be->bind_null(st->raw, idx);
    return st->store->be->bind_text(st->raw, idx, text, len);
}

int keel_stmt_bind_int64(keel_stmt *st, int idx, int64_t v)
{
    return st->store->be->bind_int64(st->raw, idx, v);
}

int keel_stmt_bind_double(keel_stmt *st, int idx, double v)
{
    return st->store->be->bind_double(st->raw, idx, v);
}

int keel_stmt_bind_null(keel_stmt *st, int idx)
{
    return st->store->be->bind_null(st->raw, idx);
}

enum keel_step keel_stmt_step(keel_stmt *st, keel_err *err)
{
    return st->store->be->step(st->store->conn, st->raw, err);
}

const char *keel_stmt_text(keel_stmt *st, int col)
{
    return st->store->be->col_text(st->raw, col);
}

int64_t keel_stmt_int64(keel_stmt *st, int col)
{
    return st->store->be->col_int64(st->raw, col);
}

double keel_stmt_double(keel_stmt *st, int col)
{
    return st->store->be->col_double(st->raw, col);
}

bool keel_stmt_is_null(keel_stmt *st, int col)
{
    return st->store->be->col_is_null(st->raw, col);
}

int64_t keel_stmt_changes(keel_stmt *st)
{
    return st->store->be->changes(st->store->conn);
}

void keel_stmt_release(keel_stmt *st)
{
    if (st == NULL)
        return;
    st->store->be->reset(st->raw);
    if (st->cached) {
        st->in_use = false;
        return;
    }
    st->store->be->finalize(st->raw);
    free(st);
}

int keel_stmt_run(keel_stmt *st, keel_err *err)
{
    enum keel_step r = keel_stmt_step(st, err);
    keel_stmt_release(st);
    return r == KEEL_STEP_ERROR ? err->code : KEEL_OK;
}

int keel_store_execv(keel_store *s, const char *sql, int64_t *out_changes, keel_err *err,
                     const char *types, ...)
{
    keel_stmt *st;
    int rc = keel_store_prepare(s, sql, true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    va_list ap;
    va_start(ap, types);
    for (int i = 0; types[i] != '\0'; i++) {
        switch (types[i]) {
        case 't': keel_stmt_bind_text(st, i + 1, va_arg(ap, const char *), -1); break;
        case 'i': keel_stmt_bind_int64(st, i + 1, va_arg(ap, int64_t)); break;
        case 'd': keel_stmt_bind_double(st, i + 1, va_arg(ap, double)); break;
        default: keel_stmt_bind_null(st, i + 1); break;
        }
    }
    va_end(ap);
    enum keel_step r = keel_stmt_step(st, err);
    if (out_changes != NULL)
        *out_changes = r == KEEL_STEP_ERROR ? 0 : keel_stmt_changes(st);
    keel_stmt_release(st);
    return r == KEEL_STEP_ERROR ? err->code : KEEL_OK;
}

int keel_store_begin(keel_store *s, keel_err *err)
{
    if (s->tx_depth > 0) {
        s->tx_depth++;
        return KEEL_OK;
    }
    if (s->write_lock != NULL)
        pthread_mutex_lock(&s->write_lock->mutex);
    int rc = s->be->exec(s->conn, s->be->begin_sql, err);
    if (rc != KEEL_OK) {
        unlock_writes(s);
        return rc;
    }
    s->tx_depth = 1;
    s->tx_failed = false;
    return KEEL_OK;
}

int keel_store_commit(keel_store *s, keel_err *err)
{
    if (s->tx_depth == 0)
        return keel_errf(err, KEEL_ESTATE, "store: commit without a transaction");
    if (--s->tx_depth > 0)
        return KEEL_OK;
    if (s->tx_failed) {
        s->tx_failed = false;
        unlock_writes(s);
        return keel_errf(err, KEEL_ESTATE, "store: transaction was rolled back");
    }
    int rc = s->be->exec(s->conn, "COMMIT", err);
    if (rc != KEEL_OK) {
        keel_err ignored;
        s->be->exec(s->conn, "ROLLBACK", &ignored);
    }
    unlock_writes(s);
    return rc;
}

void keel_store_rollback(keel_store *s)
{
    if (s->tx_depth == 0)
        return;
    keel_err ignored;
    if (!s->tx_failed)
        s->be->exec(s->conn, "ROLLBACK", &ignored);
    if (--s->tx_depth > 0) {
        s->tx_failed = true;
    } else {
        s->tx_failed = false;
        unlock_writes(s);
    }
}

int keel_store_schema_version(keel_store *s, int *out, keel_err *err)
{
    keel_stmt *st;
    int rc = keel_store_prepare(s, "SELECT MAX(version) FROM schema_version", true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    *out = 0;
    enum keel_step r = keel_stmt_step(st, err);
    if (r == KEEL_STEP_ROW && !keel_stmt_is_null(st, 0))
        *out = (int)keel_stmt_int64(st, 0);
    keel_stmt_release(st);
    return r == KEEL_STEP_ERROR ? err->code : KEEL_OK;
}

/* A step's SQL for this store's dialect: PostgreSQL has no WITHOUT ROWID. */
static int run_migration_sql(keel_store *s, const struct keel_migration *m, keel_err *err)
{
    if (s->be->dialect != KEEL_DIALECT_POSTGRES)
        return keel_store_exec(s, m->sql, err);
    if (m->sql_postgres != NULL)
        return keel_store_exec(s, m->sql_postgres, err);
    static const char clause[] = " WITHOUT ROWID";
    keel_buf b;
    keel_buf_init(&b, 1 << 20);
    int rc = KEEL_OK;
    for (const char *at = m->sql; rc == KEEL_OK && *at != '\0';) {
        const char *hit = strstr(at, clause);
        size_t n = hit != NULL ? (size_t)(hit - at) : strlen(at);
        rc = keel_buf_append(&b, at, n);
        at += n + (hit != NULL ? sizeof clause - 1 : 0);
    }
    if (rc == KEEL_OK)
        rc = keel_store_exec(s, b.data, err);
    else
        keel_errf(err, rc, "migration %d: SQL too long", m->version);
    keel_buf_free(&b);
    return rc;
}

static int migrate(keel_store *s, keel_err *err)
{
    int rc = keel_store_exec(s,
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, applied_time BIGINT NOT NULL, description TEXT)",
        err);
    if (rc != KEEL_OK)
        return rc;
    rc = keel_store_begin(s, err);
    if (rc != KEEL_OK)
        return rc;
    int current = 0;
    rc = keel_store_schema_version(s, &current, err);
    for (int i = 0; rc == KEEL_OK && i < keel_migration_count; i++) {
        const struct keel_migration *m = &keel_migrations[i];
        if (m->version <= current)
            continue;
        rc = run_migration_sql(s, m, err);
        if (rc != KEEL_OK) {
            keel_err_prefix(err, "migration %d (%s)", m->version, m->description);
            break;
        }
        keel_stmt *st;
        rc = keel_store_prepare(s,
            "INSERT INTO schema_version (version, applied_time, description) VALUES (?, ?, ?)",
            false, &st, err);
        if (rc != KEEL_OK)
            break;
        keel_stmt_bind_int64(st, 1, m->version);
        keel_stmt_bind_int64(st, 2, keel_now_ms());
        keel_stmt_bind_text(st, 3, m->description, -1);
        rc = keel_stmt_run(st, err);
    }
    if (rc != KEEL_OK) {
        keel_store_rollback(s);
        return rc;
    }
    if (current > keel_migrations[keel_migration_count - 1].version) {
        keel_store_rollback(s);
        return keel_errf(err, KEEL_ESTATE,
                         "store schema version %d is newer than this keel understands (%d); "
                         "upgrade keel",
                         current, keel_migrations[keel_migration_count - 1].version);
    }
    return keel_store_commit(s, err);
}
