/*
 * online_store.c — the feature store's online store: the newest values of
 * each (project, view, entity key), behind one interface with two backends.
 *
 *   LMDB   one environment (<keel home>/online/ by default), the unnamed
 *          database, keys "project \x1f view \x1f key1 \x1f key2 …".
 *   Redis  the same keys, each a hash {t: event ms, v: record}, written by
 *          a script that compares t first, so a late older event cannot
 *          replace a newer one even with several writers.
 *
 * A record is binary: version byte, event ms (i64), a digest of the view's
 * feature names and types (u32; a record written under other definitions
 * reads as not found rather than as shifted columns), the count (u32), then
 * per value a tag (0 missing, 1 int, 2 float, 3 bool, 4 string) and its
 * payload (8 bytes, or u32 length + bytes). Host byte order (little-endian
 * machines; the store is a cache rebuilt by materialization).
 *
 * Per view a freshness record sits at "project \x1e view": the newest event
 * written, when, and how many rows the last write stored.
 *
 * Invariants: a stored event time never decreases; LMDB writes are one
 * transaction per batch; the Redis connection is used under st->lock and
 * dropped on any error (the next call reconnects).
 */
#include "resp.h"

#include <keel/features.h>
#include <keel/util.h>

#include <errno.h>
#include <lmdb.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define RECORD_VERSION 1
#define LMDB_MAP_SIZE ((size_t)8 << 30)
#define REDIS_CHUNK 2000                  /* commands per pipelined round trip */
#define REDIS_TIMEOUT_S 5

enum backend { BACKEND_LMDB, BACKEND_REDIS };

struct keel_online_store {
    enum backend backend;
    char uri[1024];
    /* LMDB */
    MDB_env *env;
    MDB_dbi dbi;
    /* Redis */
    char host[256];
    char port[16];
    int db;
    int fd;
    pthread_mutex_t lock;
    char *rbuf;                       /* reply bytes read, not yet parsed */
    size_t rlen, rpos, rcap;
};

const char *keel_feature_status_name(enum keel_feature_status s)
{
    static const char *const names[] = { "PRESENT", "NOT_FOUND", "OUTSIDE_MAX_AGE" };
    return (unsigned)s < 3 ? names[s] : "UNKNOWN";
}

const char *keel_online_store_uri(const keel_online_store *st)
{
    return st->uri;
}

/* ---- bytes ---- */

typedef struct bytes {
    char *p;
    size_t len, cap;
    bool oom;
} bytes;

static void put(bytes *b, const void *p, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (q == NULL) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void put_str(bytes *b, const char *s)
{
    put(b, s, strlen(s));
}

static uint32_t view_digest(const keel_feature_view *fv)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < fv->n_features; i++) {
        for (const char *c = fv->features[i].name; *c; c++)
            h = (h ^ (uint8_t)*c) * 16777619u;
        h = (h ^ (uint8_t)(0x80 + fv->features[i].type)) * 16777619u;
    }
    return h;
}

static size_t view_key_count(const keel_feature_repo *repo, const keel_feature_view *fv)
{
    size_t n = 0;
    for (size_t e = 0; e < fv->n_entities; e++)
        n += repo->entities[fv->entities[e]].n_join_keys;
    return n;
}

static void entity_key(bytes *b, const keel_feature_repo *repo, const keel_feature_view *fv,
                       const char *const *key_values)
{
    b->len = 0;
    put_str(b, repo->project);
    put(b, "\x1f", 1);
    put_str(b, fv->name);
    size_t n = view_key_count(repo, fv);
    for (size_t k = 0; k < n; k++) {
        put(b, "\x1f", 1);
        put_str(b, key_values[k]);
    }
}

static void meta_key(bytes *b, const keel_feature_repo *repo, const keel_feature_view *fv)
{
    b->len = 0;
    put_str(b, repo->project);
    put(b, "\x1e", 1);
    put_str(b, fv->name);
}

static int encode_record(bytes *b, const keel_feature_view *fv, const keel_online_row *row,
                         keel_err *err)
{
    b->len = 0;
    uint8_t version = RECORD_VERSION;
    uint32_t digest = view_digest(fv), n = (uint32_t)fv->n_features;
    put(b, &version, 1);
    put(b, &row->event_ms, 8);
    put(b, &digest, 4);
    put(b, &n, 4);
    for (size_t i = 0; i < fv->n_features; i++) {
        const keel_feature_value *v = &row->values[i];
        enum keel_col_type t = fv->features[i].type;
        uint8_t tag = 0;
        if (!v->missing && v->type != t)
            return keel_errf(err, KEEL_EINVAL, "feature %s:%s is %s, not %s", fv->name,
                             fv->features[i].name, keel_col_type_name(t),
                             keel_col_type_name(v->type));
        if (!v->missing)
            tag = t == KEEL_COL_INT ? 1 : t == KEEL_COL_FLOAT ? 2 : t == KEEL_COL_BOOL ? 3 : 4;
        put(b, &tag, 1);
        if (tag == 1 || tag == 3) {
            put(b, &v->i64, 8);
        } else if (tag == 2) {
            put(b, &v->f64, 8);
        } else if (tag == 4) {
            uint32_t len = (uint32_t)v->len;
            put(b, &len, 4);
            put(b, v->str, v->len);
        }
    }
    return b->oom ? keel_errf(err, KEEL_ENOMEM, "out of memory encoding a record") : KEEL_OK;
}

static bool record_event_ms(const char *p, size_t len, int64_t *out)
{
    if (len < 17 || (uint8_t)p[0] != RECORD_VERSION)
        return false;
    memcpy(out, p + 1, 8);
    return true;
}

/* Decodes into out (arena values); false when the record is not of this
 * view's current definition (or damaged), which reads as not found. */
static bool decode_record(const keel_feature_view *fv, const char *p, size_t len, keel_arena *a,
                          keel_online_record *out)
{
    uint32_t digest, n;
    if (!record_event_ms(p, len, &out->event_ms))
        return false;
    memcpy(&digest, p + 9, 4);
    memcpy(&n, p + 13, 4);
    if (digest != view_digest(fv) || n != fv->n_features)
        return false;
    out->values = keel_arena_alloc(a, (n ? n : 1) * sizeof *out->values);
    size_t at = 17;
    for (size_t i = 0; i < n; i++) {
        keel_feature_value *v = &out->values[i];
        v->type = fv->features[i].type;
        if (at >= len)
            return false;
        uint8_t tag = (uint8_t)p[at++];
        v->missing = tag == 0;
        if (tag == 1 || tag == 3 || tag == 2) {
            if (len - at < 8)
                return false;
            memcpy(tag == 2 ? (void *)&v->f64 : (void *)&v->i64, p + at, 8);
            at += 8;
        } else if (tag == 4) {
            uint32_t l;
            if (len - at < 4)
                return false;
            memcpy(&l, p + at, 4);
            at += 4;
            if (len - at < l)
                return false;
            v->str = keel_arena_strndup(a, p + at, l);
            v->len = l;
            at += l;
        } else if (tag != 0) {
            return false;
        }
    }
    out->found = true;
    return true;
}

/* ---- Redis: a small RESP client ---- */

static void redis_drop(keel_online_store *st)
{
    if (st->fd >= 0)
        close(st->fd);
    st->fd = -1;
    st->rlen = st->rpos = 0;
}

static int redis_fail(keel_online_store *st, keel_err *err, const char *what, int e)
{
    redis_drop(st);
    return keel_errf(err, KEEL_EBUSY, "online store %s: %s%s%s", st->uri, what, e ? ": " : "",
                     e ? strerror(e) : "");
}

static int redis_write_all(keel_online_store *st, const char *p, size_t n, keel_err *err)
{
    while (n > 0) {
        ssize_t w = send(st->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return redis_fail(st, err, "cannot send", w < 0 ? errno : EPIPE);
        p += w;
        n -= (size_t)w;
    }
    return KEEL_OK;
}

/* Makes at least need unparsed bytes available. */
static int redis_fill(keel_online_store *st, size_t need, keel_err *err)
{
    while (st->rlen - st->rpos < need) {
        if (st->rpos > 0) {
            memmove(st->rbuf, st->rbuf + st->rpos, st->rlen - st->rpos);
            st->rlen -= st->rpos;
            st->rpos = 0;
        }
        if (st->rcap - st->rlen < 65536 || st->rcap < need) {
            size_t cap = st->rcap ? st->rcap * 2 : 131072;
            while (cap < need + 65536)
                cap *= 2;
            char *q = realloc(st->rbuf, cap);
            if (q == NULL)
                return keel_errf(err, KEEL_ENOMEM, "out of memory reading from %s", st->uri);
            st->rbuf = q;
            st->rcap = cap;
        }
        ssize_t r = recv(st->fd, st->rbuf + st->rlen, st->rcap - st->rlen, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            return redis_fail(st, err, "connection closed by the server", 0);
        if (r < 0)
            return redis_fail(st, err, "cannot read", errno);
        st->rlen += (size_t)r;
    }
    return KEEL_OK;
}

/* Reads one reply (keel_resp_reply_free it), receiving until it is all
 * there; a protocol error drops the connection. */
static int redis_read(keel_online_store *st, keel_resp_reply *out, keel_err *err)
{
    for (;;) {
        size_t n = 0;
        enum keel_resp_status s =
            keel_resp_parse(st->rbuf != NULL ? st->rbuf + st->rpos : "", st->rlen - st->rpos,
                            out, &n);
        if (s == KEEL_RESP_OK) {
            st->rpos += n;
            return KEEL_OK;
        }
        if (s == KEEL_RESP_NOMEM) {
            redis_drop(st);  /* the rest of this reply is still unread */
            return keel_errf(err, KEEL_ENOMEM, "out of memory reading from %s", st->uri);
        }
        if (s != KEEL_RESP_INCOMPLETE)
            return redis_fail(st, err, keel_resp_status_text(s), 0);
        int rc = redis_fill(st, n, err);
        if (rc != KEEL_OK)
            return rc;
    }
}

/* Appends one command (argv as counted strings) in RESP. */
static void redis_cmd(bytes *b, int argc, const char *const *argv, const size_t *lens)
{
    char head[32];
    snprintf(head, sizeof head, "*%d\r\n", argc);
    put_str(b, head);
    for (int i = 0; i < argc; i++) {
        size_t len = lens ? lens[i] : strlen(argv[i]);
        snprintf(head, sizeof head, "$%zu\r\n", len);
        put_str(b, head);
        put(b, argv[i], len);
        put(b, "\r\n", 2);
    }
}

static int redis_connect(keel_online_store *st, keel_err *err)
{
    if (st->fd >= 0)
        return KEEL_OK;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
    int g = getaddrinfo(st->host, st->port, &hints, &res);
    if (g != 0)
        return keel_errf(err, KEEL_EBUSY, "online store %s: cannot resolve %s: %s", st->uri,
                         st->host, gai_strerror(g));
    int e = 0;
    for (struct addrinfo *ai = res; ai != NULL && st->fd < 0; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        struct timeval tv = { .tv_sec = REDIS_TIMEOUT_S };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            st->fd = fd;
        } else {
            e = errno;
            close(fd);
        }
    }
    freeaddrinfo(res);
    if (st->fd < 0)
        return keel_errf(err, KEEL_EBUSY, "online store %s: cannot connect: %s", st->uri,
                         strerror(e));
    st->rlen = st->rpos = 0;
    if (st->db != 0) {
        char dbs[16];
        snprintf(dbs, sizeof dbs, "%d", st->db);
        const char *argv[] = { "SELECT", dbs };
        bytes b = { 0 };
        redis_cmd(&b, 2, argv, NULL);
        int rc = b.oom ? keel_errf(err, KEEL_ENOMEM, "out of memory")
                       : redis_write_all(st, b.p, b.len, err);
        free(b.p);
        keel_resp_reply r;
        if (rc == KEEL_OK && (rc = redis_read(st, &r, err)) == KEEL_OK) {
            if (r.type == '-')
                rc = keel_errf(err, KEEL_EINVAL, "online store %s: SELECT: %s", st->uri, r.str);
            keel_resp_reply_free(&r);
        }
        if (rc != KEEL_OK) {
            redis_drop(st);
            return rc;
        }
    }
    return KEEL_OK;
}

/* Sends the pipelined commands in b (n of them) and reads n replies into
 * replies[0..n) (reply_free each). Under st->lock. */
static int redis_roundtrip(keel_online_store *st, const bytes *b, size_t n,
                           keel_resp_reply *replies, keel_err *err)
{
    if (b->oom)
        return keel_errf(err, KEEL_ENOMEM, "out of memory building a Redis pipeline");
    /* A kept connection may have been closed by a restart since its last
     * use: one retry on a fresh connection (writes are safe to repeat, the
     * script keeps the newest event). */
    int rc = KEEL_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        bool reused = st->fd >= 0;
        rc = redis_connect(st, err);
        if (rc == KEEL_OK)
            rc = redis_write_all(st, b->p, b->len, err);
        for (size_t i = 0; rc == KEEL_OK && i < n; i++)
            rc = redis_read(st, &replies[i], err);
        if (rc == KEEL_OK)
            break;
        for (size_t j = 0; j < n; j++)
            keel_resp_reply_free(&replies[j]);
        if (!reused || rc != KEEL_EBUSY)
            return rc;
    }
    if (rc != KEEL_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (replies[i].type == '-') {
            keel_errf(err, KEEL_EINVAL, "online store %s: %s", st->uri, replies[i].str);
            for (size_t j = 0; j < n; j++)
                keel_resp_reply_free(&replies[j]);
            return KEEL_EINVAL;
        }
    return KEEL_OK;
}

static const char WRITE_SCRIPT[] =
    "local t = redis.call('HGET', KEYS[1], 't') "
    "if t and tonumber(t) > tonumber(ARGV[1]) then return 0 end "
    "redis.call('HSET', KEYS[1], 't', ARGV[1], 'v', ARGV[2]) return 1";

static const char META_SCRIPT[] =
    "local m = redis.call('HGET', KEYS[1], 'max') "
    "if not m or tonumber(m) < tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 'max', "
    "ARGV[1]) end redis.call('HSET', KEYS[1], 'written', ARGV[2], 'rows', ARGV[3]) return 1";

/* ---- open / close ---- */

static int parse_redis_uri(keel_online_store *st, const char *uri, keel_err *err)
{
    const char *p = uri + strlen("redis://");
    const char *colon = strchr(p, ':'), *slash = strchr(p, '/');
    const char *host_end = colon ? colon : slash ? slash : p + strlen(p);
    if (host_end == p || (size_t)(host_end - p) >= sizeof st->host)
        return keel_errf(err, KEEL_EINVAL, "online store %s: expected redis://HOST:PORT[/DB]",
                         uri);
    memcpy(st->host, p, (size_t)(host_end - p));
    st->host[host_end - p] = '\0';
    snprintf(st->port, sizeof st->port, "6379");
    if (colon != NULL) {
        const char *pe = slash ? slash : colon + strlen(colon);
        size_t pl = (size_t)(pe - colon - 1);
        if (pl == 0 || pl >= sizeof st->port || strspn(colon + 1, "0123456789") < pl)
            return keel_errf(err, KEEL_EINVAL, "online store %s: bad port", uri);
        memcpy(st->port, colon + 1, pl);
        st->port[pl] = '\0';
    }
    if (slash != NULL && slash[1] != '\0') {
        char *end;
        long db = strtol(slash + 1, &end, 10);
        if (*end != '\0' || db < 0 || db > 1000)
            return keel_errf(err, KEEL_EINVAL, "online store %s: bad database number", uri);
        st->db = (int)db;
    }
    return KEEL_OK;
}

static int lmdb_fail(int mrc, keel_err *err, const char *what, const char *dir)
{
    return keel_errf(err, mrc == MDB_MAP_FULL ? KEEL_ELIMIT : KEEL_EIO, "online store %s: %s: %s",
                     dir, what, mdb_strerror(mrc));
}

static int lmdb_open(keel_online_store *st, const char *dir, keel_err *err)
{
    int rc = keel_mkdir_p(dir, err);
    if (rc != KEEL_OK)
        return rc;
    int mrc = mdb_env_create(&st->env);
    if (mrc == 0)
        mrc = mdb_env_set_mapsize(st->env, LMDB_MAP_SIZE);
    if (mrc == 0)
        mrc = mdb_env_set_maxreaders(st->env, 512);
    /* NOTLS: read transactions are begun and ended on any server thread. */
    if (mrc == 0)
        mrc = mdb_env_open(st->env, dir, MDB_NOTLS, 0664);
    if (mrc != 0)
        return lmdb_fail(mrc, err, "cannot open", dir);
    MDB_txn *txn;
    if ((mrc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0)
        return lmdb_fail(mrc, err, "cannot begin", dir);
    if ((mrc = mdb_dbi_open(txn, NULL, 0, &st->dbi)) != 0) {
        mdb_txn_abort(txn);
        return lmdb_fail(mrc, err, "cannot open the database", dir);
    }
    if ((mrc = mdb_txn_commit(txn)) != 0)
        return lmdb_fail(mrc, err, "cannot commit", dir);
    return KEEL_OK;
}

int keel_online_store_open(const char *uri, const char *home, keel_online_store **out,
                           keel_err *err)
{
    *out = NULL;
    if (uri == NULL || uri[0] == '\0')
        uri = getenv("KEEL_ONLINE_STORE");
    char dflt[4200];
    if (uri == NULL || uri[0] == '\0') {
        if (home == NULL || home[0] == '\0')
            return keel_errf(err, KEEL_EINVAL, "no online store: give a URI or a keel home");
        snprintf(dflt, sizeof dflt, "%s/online", home);
        uri = dflt;
    }
    if (strlen(uri) >= sizeof((keel_online_store *)0)->uri)
        return keel_errf(err, KEEL_EINVAL, "online store URI too long");
    keel_online_store *st = calloc(1, sizeof *st);
    if (st == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    st->fd = -1;
    memcpy(st->uri, uri, strlen(uri) + 1);
    pthread_mutex_init(&st->lock, NULL);
    int rc;
    if (strncmp(uri, "redis://", 8) == 0) {
        st->backend = BACKEND_REDIS;
        rc = parse_redis_uri(st, uri, err);
    } else if (strstr(uri, "://") != NULL) {
        rc = keel_errf(err, KEEL_EINVAL, "online store %s: expected redis://HOST:PORT[/DB], "
                                         "lmdb:DIR or a directory", uri);
    } else {
        st->backend = BACKEND_LMDB;
        rc = lmdb_open(st, strncmp(uri, "lmdb:", 5) == 0 ? uri + 5 : uri, err);
    }
    if (rc != KEEL_OK) {
        keel_online_store_close(st);
        return rc;
    }
    *out = st;
    return KEEL_OK;
}

void keel_online_store_close(keel_online_store *st)
{
    if (st == NULL)
        return;
    if (st->env != NULL)
        mdb_env_close(st->env);
    redis_drop(st);
    free(st->rbuf);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

/* ---- write ---- */

static int lmdb_write(keel_online_store *st, const keel_feature_repo *repo,
                      const keel_feature_view *fv, const keel_online_row *rows, size_t n,
                      size_t *out_written, int64_t *max_event, keel_err *err)
{
    MDB_txn *txn;
    int mrc = mdb_txn_begin(st->env, NULL, 0, &txn);
    if (mrc != 0)
        return lmdb_fail(mrc, err, "cannot begin a write", st->uri);
    bytes key = { 0 }, val = { 0 };
    int rc = KEEL_OK;
    size_t written = 0;
    for (size_t i = 0; i < n && rc == KEEL_OK; i++) {
        entity_key(&key, repo, fv, rows[i].key_values);
        if ((rc = encode_record(&val, fv, &rows[i], err)) != KEEL_OK)
            break;
        if (key.oom)
            rc = keel_errf(err, KEEL_ENOMEM, "out of memory");
        if (key.len > (size_t)mdb_env_get_maxkeysize(st->env)) {
            rc = keel_errf(err, KEEL_ELIMIT, "entity key of %s longer than LMDB's %d bytes",
                           fv->name, mdb_env_get_maxkeysize(st->env));
            break;
        }
        MDB_val k = { key.len, key.p }, old;
        int64_t old_ms;
        mrc = mdb_get(txn, st->dbi, &k, &old);
        if (mrc == 0 && record_event_ms(old.mv_data, old.mv_size, &old_ms) &&
            old_ms > rows[i].event_ms)
            continue;
        MDB_val v = { val.len, val.p };
        if ((mrc = mdb_put(txn, st->dbi, &k, &v, 0)) != 0) {
            rc = lmdb_fail(mrc, err, "cannot write", st->uri);
            break;
        }
        written++;
        if (rows[i].event_ms > *max_event)
            *max_event = rows[i].event_ms;
    }
    if (rc == KEEL_OK) {
        meta_key(&key, repo, fv);
        MDB_val k = { key.len, key.p }, old;
        keel_online_freshness f = { 0 };
        if (mdb_get(txn, st->dbi, &k, &old) == 0 && old.mv_size == sizeof f)
            memcpy(&f, old.mv_data, sizeof f);
        if (*max_event > f.max_event_ms)
            f.max_event_ms = *max_event;
        f.written_ms = keel_now_ms();
        f.rows = (int64_t)written;
        MDB_val v = { sizeof f, &f };
        if ((mrc = mdb_put(txn, st->dbi, &k, &v, 0)) != 0)
            rc = lmdb_fail(mrc, err, "cannot write", st->uri);
    }
    if (rc == KEEL_OK && (mrc = mdb_txn_commit(txn)) != 0)
        rc = lmdb_fail(mrc, err, "cannot commit", st->uri);
    else if (rc != KEEL_OK)
        mdb_txn_abort(txn);
    free(key.p);
    free(val.p);
    if (rc == KEEL_OK && out_written)
        *out_written = written;
    return rc;
}

static int redis_write(keel_online_store *st, const keel_feature_repo *repo,
                       const keel_feature_view *fv, const keel_online_row *rows, size_t n,
                       size_t *out_written, int64_t *max_event, keel_err *err)
{
    bytes cmd = { 0 }, key = { 0 }, val = { 0 };
    keel_resp_reply *replies = calloc(REDIS_CHUNK + 1, sizeof *replies);
    if (replies == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    size_t written = 0;
    int rc = KEEL_OK;
    pthread_mutex_lock(&st->lock);
    for (size_t at = 0; at < n && rc == KEEL_OK; at += REDIS_CHUNK) {
        size_t m = n - at < REDIS_CHUNK ? n - at : REDIS_CHUNK;
        cmd.len = 0;
        for (size_t i = at; i < at + m && rc == KEEL_OK; i++) {
            entity_key(&key, repo, fv, rows[i].key_values);
            rc = encode_record(&val, fv, &rows[i], err);
            char ms[32];
            snprintf(ms, sizeof ms, "%lld", (long long)rows[i].event_ms);
            const char *argv[] = { "EVAL", WRITE_SCRIPT, "1", key.p, ms, val.p };
            size_t lens[] = { 4, sizeof WRITE_SCRIPT - 1, 1, key.len, strlen(ms), val.len };
            redis_cmd(&cmd, 6, argv, lens);
        }
        if (rc == KEEL_OK)
            rc = redis_roundtrip(st, &cmd, m, replies, err);
        for (size_t i = 0; rc == KEEL_OK && i < m; i++) {
            if (replies[i].type == ':' && replies[i].integer == 1) {
                written++;
                if (rows[at + i].event_ms > *max_event)
                    *max_event = rows[at + i].event_ms;
            }
            keel_resp_reply_free(&replies[i]);
        }
    }
    if (rc == KEEL_OK) {
        meta_key(&key, repo, fv);
        char mx[32], now[32], cnt[32];
        snprintf(mx, sizeof mx, "%lld", (long long)*max_event);
        snprintf(now, sizeof now, "%lld", (long long)keel_now_ms());
        snprintf(cnt, sizeof cnt, "%zu", written);
        const char *argv[] = { "EVAL", META_SCRIPT, "1", key.p, mx, now, cnt };
        size_t lens[] = { 4, sizeof META_SCRIPT - 1, 1, key.len, strlen(mx), strlen(now),
                          strlen(cnt) };
        cmd.len = 0;
        redis_cmd(&cmd, 7, argv, lens);
        if ((rc = redis_roundtrip(st, &cmd, 1, replies, err)) == KEEL_OK)
            keel_resp_reply_free(&replies[0]);
    }
    pthread_mutex_unlock(&st->lock);
    free(replies);
    free(cmd.p);
    free(key.p);
    free(val.p);
    if (rc == KEEL_OK && out_written)
        *out_written = written;
    return rc;
}

int keel_online_write(keel_online_store *st, const keel_feature_repo *repo, size_t view,
                      const keel_online_row *rows, size_t n, size_t *out_written, keel_err *err)
{
    if (st == NULL || repo == NULL || view >= repo->n_views || (rows == NULL && n > 0))
        return keel_errf(err, KEEL_EINVAL, "keel_online_write: bad arguments");
    int64_t max_event = INT64_MIN;
    const keel_feature_view *fv = &repo->views[view];
    return st->backend == BACKEND_LMDB
               ? lmdb_write(st, repo, fv, rows, n, out_written, &max_event, err)
               : redis_write(st, repo, fv, rows, n, out_written, &max_event, err);
}

/* ---- read ---- */

/* Fetches the records at keys[0..n) (each of view views[i]) into out[i]. */
static int fetch(keel_online_store *st, const keel_feature_repo *repo, const size_t *views,
                 bytes *keys, size_t n, keel_arena *a, keel_online_record *out, keel_err *err)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (keel_online_record){ 0 };
    if (st->backend == BACKEND_LMDB) {
        MDB_txn *txn;
        int mrc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
        if (mrc != 0)
            return lmdb_fail(mrc, err, "cannot begin a read", st->uri);
        for (size_t i = 0; i < n; i++) {
            MDB_val k = { keys[i].len, keys[i].p }, v;
            if (keys[i].len > 0 && keys[i].len <= (size_t)mdb_env_get_maxkeysize(st->env) &&
                mdb_get(txn, st->dbi, &k, &v) == 0 &&
                !decode_record(&repo->views[views[i]], v.mv_data, v.mv_size, a, &out[i]))
                out[i] = (keel_online_record){ 0 };
        }
        mdb_txn_abort(txn);
        return KEEL_OK;
    }
    keel_resp_reply *replies = calloc(REDIS_CHUNK, sizeof *replies);
    bytes cmd = { 0 };
    if (replies == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    int rc = KEEL_OK;
    pthread_mutex_lock(&st->lock);
    for (size_t at = 0; at < n && rc == KEEL_OK; at += REDIS_CHUNK) {
        size_t m = n - at < REDIS_CHUNK ? n - at : REDIS_CHUNK;
        cmd.len = 0;
        for (size_t i = at; i < at + m; i++) {
            const char *argv[] = { "HGET", keys[i].p ? keys[i].p : "", "v" };
            size_t lens[] = { 4, keys[i].len, 1 };
            redis_cmd(&cmd, 3, argv, lens);
        }
        if ((rc = redis_roundtrip(st, &cmd, m, replies, err)) != KEEL_OK)
            break;
        for (size_t i = 0; i < m; i++) {
            if (replies[i].type == '$' && replies[i].str != NULL &&
                !decode_record(&repo->views[views[at + i]], replies[i].str, replies[i].len, a,
                               &out[at + i]))
                out[at + i] = (keel_online_record){ 0 };
            keel_resp_reply_free(&replies[i]);
        }
    }
    pthread_mutex_unlock(&st->lock);
    free(cmd.p);
    free(replies);
    return rc;
}

int keel_online_get(keel_online_store *st, const keel_feature_repo *repo, const size_t *views,
                    size_t n_views, const char *const *const *key_values, keel_arena *a,
                    keel_online_record *out, keel_err *err)
{
    if (st == NULL || repo == NULL || (n_views > 0 && (views == NULL || key_values == NULL)))
        return keel_errf(err, KEEL_EINVAL, "keel_online_get: bad arguments");
    bytes *keys = calloc(n_views ? n_views : 1, sizeof *keys);
    if (keys == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    int rc = KEEL_OK;
    for (size_t v = 0; v < n_views && rc == KEEL_OK; v++) {
        if (views[v] >= repo->n_views)
            rc = keel_errf(err, KEEL_EINVAL, "keel_online_get: no view %zu", views[v]);
        else
            entity_key(&keys[v], repo, &repo->views[views[v]], key_values[v]);
    }
    if (rc == KEEL_OK)
        rc = fetch(st, repo, views, keys, n_views, a, out, err);
    for (size_t v = 0; v < n_views; v++)
        free(keys[v].p);
    free(keys);
    return rc;
}

int keel_features_get(keel_online_store *st, const keel_feature_repo *repo,
                      const keel_feature_ref *refs, size_t n_refs, const char *const *key_names,
                      size_t n_keys, const char *const *key_values, size_t n_rows,
                      int64_t now_ms, keel_arena *a, keel_feature_answer *out, keel_err *err)
{
    if (st == NULL || repo == NULL || (n_refs > 0 && refs == NULL) ||
        (n_rows > 0 && n_keys > 0 && key_values == NULL))
        return keel_errf(err, KEEL_EINVAL, "keel_features_get: bad arguments");
    /* The distinct views asked for, and where each view's join keys are
     * among key_names. */
    size_t *views = keel_arena_alloc(a, (n_refs ? n_refs : 1) * sizeof *views);
    size_t *slot = keel_arena_alloc(a, (n_refs ? n_refs : 1) * sizeof *slot);
    size_t n_views = 0;
    for (size_t r = 0; r < n_refs; r++) {
        size_t v = 0;
        while (v < n_views && views[v] != refs[r].view)
            v++;
        if (v == n_views)
            views[n_views++] = refs[r].view;
        slot[r] = v;
    }
    size_t **key_pos = keel_arena_alloc(a, (n_views ? n_views : 1) * sizeof *key_pos);
    for (size_t v = 0; v < n_views; v++) {
        const keel_feature_view *fv = &repo->views[views[v]];
        key_pos[v] = keel_arena_alloc(a, (view_key_count(repo, fv) + 1) * sizeof **key_pos);
        size_t k = 0;
        for (size_t e = 0; e < fv->n_entities; e++) {
            const keel_entity *ent = &repo->entities[fv->entities[e]];
            for (size_t j = 0; j < ent->n_join_keys; j++, k++) {
                size_t at = 0;
                while (at < n_keys && strcmp(key_names[at], ent->join_keys[j]) != 0)
                    at++;
                if (at == n_keys)
                    return keel_errf(err, KEEL_EINVAL, "feature view %s needs join key '%s' "
                                     "(entity %s) among the entities", fv->name,
                                     ent->join_keys[j], ent->name);
                key_pos[v][k] = at;
            }
        }
    }
    size_t n_fetch = n_rows * n_views;
    bytes *keys = calloc(n_fetch ? n_fetch : 1, sizeof *keys);
    size_t *fetch_views = keel_arena_alloc(a, (n_fetch ? n_fetch : 1) * sizeof *fetch_views);
    keel_online_record *recs = keel_arena_alloc(a, (n_fetch ? n_fetch : 1) * sizeof *recs);
    const char **kv = keel_arena_alloc(a, (n_keys + 1) * sizeof *kv);
    if (keys == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    for (size_t row = 0; row < n_rows; row++)
        for (size_t v = 0; v < n_views; v++) {
            const keel_feature_view *fv = &repo->views[views[v]];
            size_t nk = view_key_count(repo, fv);
            for (size_t k = 0; k < nk; k++)
                kv[k] = key_values[row * n_keys + key_pos[v][k]];
            entity_key(&keys[row * n_views + v], repo, fv, kv);
            fetch_views[row * n_views + v] = views[v];
        }
    int rc = fetch(st, repo, fetch_views, keys, n_fetch, a, recs, err);
    for (size_t i = 0; i < n_fetch; i++)
        free(keys[i].p);
    free(keys);
    if (rc != KEEL_OK)
        return rc;
    for (size_t row = 0; row < n_rows; row++)
        for (size_t r = 0; r < n_refs; r++) {
            const keel_online_record *rec = &recs[row * n_views + slot[r]];
            const keel_feature_view *fv = &repo->views[refs[r].view];
            keel_feature_answer *ans = &out[row * n_refs + r];
            *ans = (keel_feature_answer){ .status = KEEL_FEATURE_NOT_FOUND };
            ans->value.missing = true;
            ans->value.type = fv->features[refs[r].feature].type;
            if (!rec->found)
                continue;
            ans->event_ms = rec->event_ms;
            if (fv->ttl_ms > 0 && now_ms - rec->event_ms > fv->ttl_ms) {
                ans->status = KEEL_FEATURE_OUTSIDE_MAX_AGE;
                continue;
            }
            ans->status = KEEL_FEATURE_PRESENT;
            ans->value = rec->values[refs[r].feature];
        }
    return KEEL_OK;
}

int keel_online_freshness_get(keel_online_store *st, const keel_feature_repo *repo,
                              size_t view, keel_online_freshness *out, keel_err *err)
{
    *out = (keel_online_freshness){ 0 };
    if (st == NULL || repo == NULL || view >= repo->n_views)
        return keel_errf(err, KEEL_EINVAL, "keel_online_freshness_get: bad arguments");
    bytes key = { 0 };
    meta_key(&key, repo, &repo->views[view]);
    int rc = KEEL_OK;
    if (st->backend == BACKEND_LMDB) {
        MDB_txn *txn;
        int mrc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
        if (mrc != 0) {
            free(key.p);
            return lmdb_fail(mrc, err, "cannot begin a read", st->uri);
        }
        MDB_val k = { key.len, key.p }, v;
        if (mdb_get(txn, st->dbi, &k, &v) == 0 && v.mv_size == sizeof *out)
            memcpy(out, v.mv_data, sizeof *out);
        mdb_txn_abort(txn);
    } else {
        bytes cmd = { 0 };
        const char *argv[] = { "HMGET", key.p, "max", "written", "rows" };
        size_t lens[] = { 5, key.len, 3, 7, 4 };
        redis_cmd(&cmd, 5, argv, lens);
        keel_resp_reply r = { 0 };
        pthread_mutex_lock(&st->lock);
        rc = redis_roundtrip(st, &cmd, 1, &r, err);
        pthread_mutex_unlock(&st->lock);
        if (rc == KEEL_OK && r.type == '*' && r.integer == 3) {
            int64_t *f[] = { &out->max_event_ms, &out->written_ms, &out->rows };
            for (int i = 0; i < 3; i++)
                if (r.elems[i].str != NULL)
                    *f[i] = strtoll(r.elems[i].str, NULL, 10);
        }
        keel_resp_reply_free(&r);
        free(cmd.p);
    }
    free(key.p);
    return rc;
}

/* ---- cells ---- */

void keel_feature_value_from_cell(const keel_column *c, size_t row, enum keel_col_type t,
                                  keel_feature_value *out, bool *out_fits)
{
    *out = (keel_feature_value){ .missing = true, .type = t };
    *out_fits = true;
    if (keel_column_is_missing(c, row))
        return;
    if (t == KEEL_COL_STRING) {
        if (c->type == KEEL_COL_STRING) {
            out->str = c->dict[c->codes[row]];
            out->len = strlen(out->str);
            out->missing = false;
        } else {
            *out_fits = false;    /* the caller formats numbers as text when it wants to */
        }
        return;
    }
    if (c->type == KEEL_COL_STRING) {
        double d;
        const char *s = c->dict[c->codes[row]];
        if (!keel_value_parse(t, s, strlen(s), &d)) {
            *out_fits = false;
            return;
        }
        if (t == KEEL_COL_FLOAT)
            out->f64 = d;
        else
            out->i64 = (int64_t)d;
        out->missing = false;
        return;
    }
    double d = keel_column_number(c, row);
    if (t == KEEL_COL_FLOAT) {
        out->f64 = d;
    } else if (t == KEEL_COL_INT || t == KEEL_COL_BOOL) {
        if (c->type == KEEL_COL_FLOAT && d != (double)(int64_t)d) {
            *out_fits = false;
            return;
        }
        out->i64 = c->type == KEEL_COL_FLOAT ? (int64_t)d : c->i64[row];
        if (t == KEEL_COL_BOOL && out->i64 != 0 && out->i64 != 1) {
            *out_fits = false;
            return;
        }
    } else {
        *out_fits = false;
        return;
    }
    out->missing = false;
}

json_t *keel_feature_value_json(const keel_feature_value *v)
{
    if (v->missing)
        return json_null();
    switch (v->type) {
    case KEEL_COL_INT:
        return json_integer(v->i64);
    case KEEL_COL_FLOAT:
        return json_real(v->f64);
    case KEEL_COL_BOOL:
        return json_boolean(v->i64 != 0);
    default:
        return json_stringn(v->str, v->len);
    }
}
