/*
 * bench_registry.c — the model registry at 1,000 models × 20 versions:
 * alias resolution in-process and over HTTP, and registry search by tags.
 *
 * The store: 1,000 registered models "model-0000".."model-0999", each with
 * 20 versions (source "runs:/<32 hex>/model", a distinct run id per version)
 * and 3 tags: team=team<i % 10>, domain=d<(i / 10) % 20>, tier=<gold, silver,
 * bronze>[i % 3]. Every model has @production (a version from 5 to 19); two
 * models in three also have @candidate (version 20). Everything is written
 * through keel's registry API (keel_model_create, keel_model_version_create_run,
 * keel_model_alias_set, which also write the audit log) into a store made by
 * keel_store_open, in transactions of 50 models. It takes a few seconds, so
 * the file is kept in $KEEL_BENCH_CACHE (default /tmp/keel-bench-cache) under
 * a name carrying STORE_VERSION and the sizes; bump STORE_VERSION whenever the
 * generator changes. Setup is not timed.
 *
 * Measured, each in-process part in its own forked child (peak RSS its own):
 *   alias        10,000 random "models:/NAME@ALIAS" (production or candidate)
 *                through keel_model_uri_resolve + keel_model_version_artifacts
 *                (run id and path of the version's files), an arena per
 *                lookup; median, p99. Target: median < 100 µs.
 *   search       keel_model_search_run with
 *                "tags.team = 'team3' and tags.domain = 'd7' and tags.tier =
 *                'silver'" (2 models), and with "tags.team = 'team3'" (100
 *                models, max_results 100) for scale; 2 warm-up calls, then 50
 *                timed; median, p95. Target: median < 10 ms for the 3-tag one.
 *                MLflow users report about 0.85 s for a tag search over a few
 *                hundred models: a reference from users' reports, not
 *                measured here.
 *   http         `keel server` (the keel next to this program, or --keel) on
 *                a free port over the same store; 10,000 GET
 *                /api/2.0/mlflow/registered-models/alias?name=…&alias=production
 *                on one keep-alive libcurl handle; median, p99, and the
 *                server's VmHWM. Twice: client and server free to run on any
 *                core, then both pinned to one core. On this VM a request that
 *                wakes a thread on the other, idle, core costs ~40 µs per
 *                wake-up, which the one-core figure leaves out.
 * Every answer is checked (version number, run id / source), untimed.
 *
 * Usage: bench_registry [--models N] [--versions N] [--lookups N] [--reps N]
 *                       [--keel PATH] [--no-http]
 * Exit status: 0 whatever the timings; 1 when a call fails; 2 on a crash.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_setaffinity */
#endif
#include "bench_common.h"

#include <keel/arena.h>
#include <keel/error.h>
#include <keel/registry.h>
#include <keel/store.h>

#include <curl/curl.h>
#include <sched.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>

#define STORE_VERSION 1
#define DEFAULT_MODELS 1000
#define DEFAULT_VERSIONS 20
#define DEFAULT_LOOKUPS 10000
#define DEFAULT_REPS 50
#define MAX_LOOKUPS 1000000
#define MAX_REPS 63 /* 2 * reps + 2 samples fit in bench_samples */
#define WARMUP_LOOKUPS 200
#define WARMUP_SEARCHES 2
#define MODELS_PER_TX 50
#define TARGET_ALIAS_US 100.0
#define TARGET_SEARCH_MS 10.0
#define MLFLOW_SEARCH_REPORTED_S 0.85

static const char *const tier_names[] = { "gold", "silver", "bronze" };
static const char search_filter3[] =
    "tags.team = 'team3' and tags.domain = 'd7' and tags.tier = 'silver'";
static const char search_filter1[] = "tags.team = 'team3'";

typedef struct reg_config {
    int models, versions, lookups, reps;
    bool http;
    char db_path[1024];
    char keel_bin[PATH_MAX];
} reg_config;

/* ---- the generator: every name, source and alias is a function of (i, v) ---- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void model_name(int i, char *out, size_t size)
{
    snprintf(out, size, "model-%04d", i);
}

/* The run id behind version v (1-based) of model i: 32 hex digits. */
static void version_run_id(int i, int v, char out[33])
{
    uint64_t st = ((uint64_t)i << 20) + (uint64_t)v;
    unsigned long long a = splitmix64(&st), b = splitmix64(&st);
    snprintf(out, 33, "%016llx%016llx", a, b);
}

static int team_of(int i) { return i % 10; }
static int domain_of(int i) { return (i / 10) % 20; }
static int tier_of(int i) { return i % 3; }

/* @production's version for model i (within 1..versions), 0 for none. */
static int64_t production_of(int i, int versions)
{
    int64_t v = 5 + (int64_t)((i * 7) % 15);
    return v <= versions ? v : versions;
}

/* @candidate's version: the newest, for two models in three; else 0. */
static int64_t candidate_of(int i, int versions)
{
    return i % 3 != 0 ? versions : 0;
}

static int keel_fail(const char *what, const keel_err *err)
{
    fprintf(stderr, "%s: %s\n", what, err->msg);
    return -1;
}

/* ---- the store ---- */

static int add_model(keel_store *s, int i, int versions, keel_err *err)
{
    char name[32], team[16], domain[16], source[128], run_id[33];
    model_name(i, name, sizeof name);
    snprintf(team, sizeof team, "team%d", team_of(i));
    snprintf(domain, sizeof domain, "d%d", domain_of(i));
    keel_kv tags[3] = {
        { .key = "team", .value = team },
        { .key = "domain", .value = domain },
        { .key = "tier", .value = tier_names[tier_of(i)] },
    };
    int rc = keel_model_create(s, name, "bench model", tags, 3, "bench", err);
    for (int v = 1; rc == KEEL_OK && v <= versions; v++) {
        version_run_id(i, v, run_id);
        snprintf(source, sizeof source, "runs:/%s/model", run_id);
        keel_model_version_create c = { .name = name, .source = source };
        int64_t got = 0;
        rc = keel_model_version_create_run(s, &c, "bench", &got, err);
        if (rc == KEEL_OK && got != v)
            rc = keel_errf(err, KEEL_ESTORE, "%s: new version is %lld, expected %d", name,
                           (long long)got, v);
    }
    if (rc == KEEL_OK)
        rc = keel_model_alias_set(s, name, "production", production_of(i, versions), "bench",
                                  "bench setup", err);
    if (rc == KEEL_OK && candidate_of(i, versions) != 0)
        rc = keel_model_alias_set(s, name, "candidate", candidate_of(i, versions), "bench",
                                  "bench setup", err);
    return rc;
}

/* Builds the store at db_path.tmp, then renames it into place. */
static int build_store(void *ctx, bench_samples *out)
{
    const reg_config *cfg = ctx;
    char tmp_path[1100];
    snprintf(tmp_path, sizeof tmp_path, "%s.tmp", cfg->db_path);
    bench_remove_db(tmp_path);
    keel_err err;
    keel_store *s = NULL;
    if (keel_store_open(tmp_path, &s, &err) != KEEL_OK)
        return keel_fail("keel_store_open", &err);
    int rc = keel_store_exec(s, "PRAGMA cache_size=-131072", &err);
    double t0 = bench_now_s();
    for (int i = 0; rc == KEEL_OK && i < cfg->models; i++) {
        if (i % MODELS_PER_TX == 0)
            rc = keel_store_begin(s, &err);
        if (rc == KEEL_OK)
            rc = add_model(s, i, cfg->versions, &err);
        if (rc == KEEL_OK && (i % MODELS_PER_TX == MODELS_PER_TX - 1 || i == cfg->models - 1))
            rc = keel_store_commit(s, &err);
    }
    if (rc != KEEL_OK) {
        keel_store_rollback(s);
        keel_fail("building the registry store", &err);
    }
    /* fold the WAL in so the cached file stands alone */
    if (rc == KEEL_OK)
        rc = keel_store_exec(s, "PRAGMA wal_checkpoint(TRUNCATE)", &err);
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

static int64_t count_rows(keel_store *s, const char *sql)
{
    keel_err err;
    keel_stmt *st;
    int64_t n = -1;
    if (keel_store_prepare(s, sql, false, &st, &err) == KEEL_OK) {
        if (keel_stmt_step(st, &err) == KEEL_STEP_ROW)
            n = keel_stmt_int64(st, 0);
        keel_stmt_release(st);
    }
    return n;
}

/* Whether the cached store is complete (it is renamed into place only when
 * complete, so this is a sanity check). */
static bool store_is_usable(const reg_config *cfg)
{
    if (access(cfg->db_path, R_OK) != 0)
        return false;
    keel_store *s = NULL;
    keel_err err;
    if (keel_store_open(cfg->db_path, &s, &err) != KEEL_OK)
        return false;
    int64_t models = count_rows(s, "SELECT COUNT(*) FROM registered_models");
    int64_t versions = count_rows(s, "SELECT COUNT(*) FROM model_versions");
    keel_store_close(s);
    return models == cfg->models && versions == (int64_t)cfg->models * cfg->versions;
}

/* ---- alias resolution in-process ---- */

typedef struct lookup {
    char uri[64];
    int model;
    int64_t version;
} lookup;

/* n random (model, alias) pairs over the aliases that exist; fixed seed. */
static lookup *make_lookups(const reg_config *cfg, int n, bool production_only)
{
    lookup *l = calloc((size_t)n, sizeof *l);
    if (l == NULL)
        return NULL;
    uint64_t rng = 2024;
    for (int k = 0; k < n; k++) {
        int i = (int)(splitmix64(&rng) % (uint64_t)cfg->models);
        bool candidate = !production_only && candidate_of(i, cfg->versions) != 0 &&
                         (splitmix64(&rng) & 1) != 0;
        char name[32];
        model_name(i, name, sizeof name);
        snprintf(l[k].uri, sizeof l[k].uri, "models:/%s@%s", name,
                 candidate ? "candidate" : "production");
        l[k].model = i;
        l[k].version = candidate ? candidate_of(i, cfg->versions)
                                 : production_of(i, cfg->versions);
    }
    return l;
}

/* Samples: [0] median µs, [1] p99 µs, [2] mean µs, [3] max µs. */
static int side_alias(void *ctx, bench_samples *out)
{
    const reg_config *cfg = ctx;
    lookup *l = make_lookups(cfg, cfg->lookups, false);
    double *us = calloc((size_t)cfg->lookups, sizeof *us);
    keel_store *s = NULL;
    keel_err err;
    if (l == NULL || us == NULL || keel_store_open(cfg->db_path, &s, &err) != KEEL_OK) {
        fprintf(stderr, "alias: %s\n", l == NULL || us == NULL ? "out of memory" : err.msg);
        free(l);
        free(us);
        return 1;
    }
    int rc = 0;
    double sum = 0;
    for (int k = -WARMUP_LOOKUPS; rc == 0 && k < cfg->lookups; k++) {
        const lookup *q = &l[(k + cfg->lookups) % cfg->lookups];
        keel_arena a;
        keel_model_version v;
        const char *run_id = NULL, *path = NULL;
        double t0 = bench_now_s();
        keel_arena_init(&a, 0);
        int krc = keel_model_uri_resolve(s, q->uri, &a, &v, &err);
        if (krc == KEEL_OK)
            krc = keel_model_version_artifacts(&v, &a, &run_id, &path, &err);
        double t1 = bench_now_s();
        if (krc != KEEL_OK) {
            rc = keel_fail(q->uri, &err);
        } else {
            char want[33];
            version_run_id(q->model, (int)q->version, want);
            if (v.version != q->version || strcmp(run_id, want) != 0 ||
                strcmp(path, "model") != 0) {
                fprintf(stderr, "%s: got version %lld run %s path %s, expected %lld run %s\n",
                        q->uri, (long long)v.version, run_id, path, (long long)q->version,
                        want);
                rc = -1;
            }
        }
        keel_arena_free(&a);
        if (k >= 0) {
            us[k] = (t1 - t0) * 1e6;
            sum += us[k];
        }
    }
    keel_store_close(s);
    if (rc == 0) {
        out->v[0] = bench_median(us, cfg->lookups);
        out->v[1] = bench_percentile(us, cfg->lookups, 99);
        out->v[2] = sum / cfg->lookups;
        out->v[3] = us[cfg->lookups - 1];
        out->n = 4;
    }
    free(l);
    free(us);
    return rc == 0 ? 0 : 1;
}

/* ---- search ---- */

static size_t expected_matches(const reg_config *cfg, bool three)
{
    size_t n = 0;
    for (int i = 0; i < cfg->models; i++)
        n += team_of(i) == 3 && (!three || (domain_of(i) == 7 && tier_of(i) == 1));
    return n;
}

/* Samples: [0..reps) 3-tag ms, [reps..2 reps) 1-tag ms, then the two result
 * counts. */
static int side_search(void *ctx, bench_samples *out)
{
    const reg_config *cfg = ctx;
    keel_store *s = NULL;
    keel_err err;
    if (keel_store_open(cfg->db_path, &s, &err) != KEEL_OK)
        {
        keel_fail("keel_store_open", &err);
        return 1;
    }
    int rc = 0;
    for (int f = 0; rc == 0 && f < 2; f++) {
        keel_model_search q = { .filter = f == 0 ? search_filter3 : search_filter1,
                                .max_results = 100 };
        size_t want = expected_matches(cfg, f == 0);
        if (want > 100)
            want = 100;
        for (int r = -WARMUP_SEARCHES; rc == 0 && r < cfg->reps; r++) {
            keel_arena a;
            keel_arena_init(&a, 0);
            keel_registered_model *models = NULL;
            size_t n = 0;
            const char *next = NULL;
            double t0 = bench_now_s();
            int krc = keel_model_search_run(s, &q, &a, &models, &n, &next, &err);
            double ms = (bench_now_s() - t0) * 1e3;
            if (krc != KEEL_OK) {
                rc = keel_fail(q.filter, &err);
            } else if (n != want || (n > 0 && (models[0].n_tags != 3 ||
                                               models[0].n_aliases < 1))) {
                fprintf(stderr, "search %s: %zu models (expected %zu), first with %zu tags, "
                        "%zu aliases\n", q.filter, n, want, n > 0 ? models[0].n_tags : 0,
                        n > 0 ? models[0].n_aliases : 0);
                rc = -1;
            }
            keel_arena_free(&a);
            if (r >= 0)
                out->v[f * cfg->reps + r] = ms;
            out->v[2 * cfg->reps + f] = (double)n;
        }
    }
    out->n = 2 * cfg->reps + 2;
    keel_store_close(s);
    return rc == 0 ? 0 : 1;
}

/* ---- over HTTP ---- */

typedef struct server {
    pid_t pid;
    int port;
} server;

/* Starts `keel server --port 0` on the store; its stderr goes to log. */
static int server_start(const reg_config *cfg, const char *dir, server *srv)
{
    char log[1100], home[1100], objects[1100];
    snprintf(log, sizeof log, "%s/server.log", dir);
    snprintf(home, sizeof home, "%s/.keel", dir);
    snprintf(objects, sizeof objects, "%s/objects", dir);
    mkdir(home, 0700);
    mkdir(objects, 0700);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int devnull = open("/dev/null", O_RDWR);
        if (fd >= 0)
            dup2(fd, 2);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
        }
        setenv("KEEL_HOME", home, 1);
        execl(cfg->keel_bin, "keel", "server", "--port", "0", "--access-log", "off", "--store",
              cfg->db_path, "--artifacts", objects, (char *)NULL);
        _exit(127);
    }
    srv->pid = pid;
    srv->port = 0;
    for (int tries = 0; tries < 500 && srv->port == 0; tries++) {
        usleep(20000);
        FILE *f = fopen(log, "r");
        char line[1024];
        while (f != NULL && fgets(line, sizeof line, f) != NULL) {
            const char *at = strstr(line, "listening on http://");
            const char *colon = at != NULL ? strchr(at + strlen("listening on http://"), ':')
                                           : NULL;
            if (colon != NULL)
                srv->port = atoi(colon + 1);
        }
        if (f != NULL)
            fclose(f);
        int status;
        if (srv->port == 0 && waitpid(pid, &status, WNOHANG) == pid) {
            srv->pid = 0;
            break;
        }
    }
    if (srv->port <= 0) {
        fprintf(stderr, "bench_registry: keel server did not start; its log:\n");
        FILE *f = fopen(log, "r");
        char line[1024];
        while (f != NULL && fgets(line, sizeof line, f) != NULL)
            fputs(line, stderr);
        if (f != NULL)
            fclose(f);
        return -1;
    }
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

/* Removes the scratch directory with whatever the server left in it. */
static void remove_tree(const char *dir)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void server_stop(server *srv)
{
    if (srv->pid > 0) {
        kill(srv->pid, SIGTERM);
        int status;
        while (waitpid(srv->pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    srv->pid = 0;
}

/* A field of /proc/PID/status in kB, or -1. */
static long proc_status_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    size_t n = strlen(field);
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            kb = atol(line + n + 1);
    if (f != NULL)
        fclose(f);
    return kb;
}

typedef struct body {
    char data[16384];
    size_t len;
} body;

static size_t collect(char *p, size_t size, size_t nmemb, void *ctx)
{
    body *b = ctx;
    size_t n = size * nmemb;
    size_t room = sizeof b->data - 1 - b->len;
    size_t take = n < room ? n : room;
    memcpy(b->data + b->len, p, take);
    b->len += take;
    b->data[b->len] = '\0';
    return n;
}

/* Samples: [0] median µs, [1] p99 µs, [2] mean µs, [3] server VmHWM kB. */
static int side_http(const reg_config *cfg, const server *srv, bench_samples *out)
{
    lookup *l = make_lookups(cfg, cfg->lookups, true);
    double *us = calloc((size_t)cfg->lookups, sizeof *us);
    char (*urls)[160] = calloc((size_t)cfg->lookups, sizeof *urls);
    CURL *h = curl_easy_init();
    if (l == NULL || us == NULL || urls == NULL || h == NULL) {
        fprintf(stderr, "http: out of memory\n");
        free(l);
        free(us);
        free(urls);
        if (h != NULL)
            curl_easy_cleanup(h);
        return 1;
    }
    for (int k = 0; k < cfg->lookups; k++) {
        char name[32];
        model_name(l[k].model, name, sizeof name);
        snprintf(urls[k], sizeof urls[k],
                 "http://127.0.0.1:%d/api/2.0/mlflow/registered-models/alias?name=%s"
                 "&alias=production", srv->port, name);
    }
    body *b = malloc(sizeof *b);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    int rc = b != NULL ? 0 : -1;
    double sum = 0;
    long connects = 0;
    for (int k = -WARMUP_LOOKUPS; rc == 0 && k < cfg->lookups; k++) {
        const lookup *q = &l[(k + cfg->lookups) % cfg->lookups];
        const char *url = urls[(k + cfg->lookups) % cfg->lookups];
        b->len = 0;
        b->data[0] = '\0';
        curl_easy_setopt(h, CURLOPT_URL, url);
        double t0 = bench_now_s();
        CURLcode c = curl_easy_perform(h);
        double t1 = bench_now_s();
        long status = 0, conns = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &conns);
        if (k >= 0)
            connects += conns;
        char want_run[33], want_version[32];
        version_run_id(q->model, (int)q->version, want_run);
        snprintf(want_version, sizeof want_version, "\"%lld\"", (long long)q->version);
        if (c != CURLE_OK || status != 200 || strstr(b->data, want_run) == NULL ||
            strstr(b->data, want_version) == NULL) {
            fprintf(stderr, "GET %s: %s, status %ld, body %.300s (expected version %lld, run %s)\n",
                    url, curl_easy_strerror(c), status, b->data, (long long)q->version,
                    want_run);
            rc = -1;
        }
        if (k >= 0) {
            us[k] = (t1 - t0) * 1e6;
            sum += us[k];
        }
    }
    curl_easy_cleanup(h);
    if (rc == 0) {
        out->v[0] = bench_median(us, cfg->lookups);
        out->v[1] = bench_percentile(us, cfg->lookups, 99);
        out->v[2] = sum / cfg->lookups;
        out->v[3] = (double)proc_status_kb(srv->pid, "VmHWM");
        out->v[4] = (double)connects;
        out->n = 5;
    }
    free(b);
    free(l);
    free(us);
    free(urls);
    return rc == 0 ? 0 : 1;
}

/* ---- main ---- */

static const char *met(bool ok)
{
    return ok ? "met" : "NOT met";
}

static int parse_int(const char *flag, const char *value, int lo, int hi, int *out)
{
    char *end = NULL;
    long v = value != NULL ? strtol(value, &end, 10) : 0;
    if (value == NULL || end == value || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "bench_registry: %s takes a number from %d to %d\n", flag, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* The keel executable next to this program. */
static void default_keel_bin(char *out, size_t size)
{
    char self[PATH_MAX - 16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    out[0] = '\0';
    if (n <= 0)
        return;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash != NULL)
        *slash = '\0';
    snprintf(out, size, "%s/keel", self);
}

int main(int argc, char **argv)
{
    reg_config cfg = { .models = DEFAULT_MODELS, .versions = DEFAULT_VERSIONS,
                       .lookups = DEFAULT_LOOKUPS, .reps = DEFAULT_REPS, .http = true };
    default_keel_bin(cfg.keel_bin, sizeof cfg.keel_bin);
    for (int i = 1; i < argc; i++) {
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (strcmp(argv[i], "--models") == 0)
            rc = parse_int("--models", next, 10, 100000, &cfg.models), i++;
        else if (strcmp(argv[i], "--versions") == 0)
            rc = parse_int("--versions", next, 1, 1000, &cfg.versions), i++;
        else if (strcmp(argv[i], "--lookups") == 0)
            rc = parse_int("--lookups", next, 1, MAX_LOOKUPS, &cfg.lookups), i++;
        else if (strcmp(argv[i], "--reps") == 0)
            rc = parse_int("--reps", next, 1, MAX_REPS, &cfg.reps), i++;
        else if (strcmp(argv[i], "--keel") == 0 && next != NULL)
            snprintf(cfg.keel_bin, sizeof cfg.keel_bin, "%s", next), i++;
        else if (strcmp(argv[i], "--no-http") == 0)
            cfg.http = false;
        else {
            fprintf(stderr, "usage: bench_registry [--models N] [--versions N] [--lookups N] "
                            "[--reps N] [--keel PATH] [--no-http]\n");
            return BENCH_EXIT_ERROR;
        }
        if (rc != 0)
            return BENCH_EXIT_ERROR;
    }

    const char *cache = getenv("KEEL_BENCH_CACHE");
    if (cache == NULL || cache[0] == '\0')
        cache = "/tmp/keel-bench-cache";
    mkdir(cache, 0755);
    snprintf(cfg.db_path, sizeof cfg.db_path, "%s/registry-v%d-%dx%d.db", cache, STORE_VERSION,
             cfg.models, cfg.versions);

    bench_samples s;
    long rss = 0;
    int rc;
    printf("registry: %d models x %d versions (3 tags each; @production on every model, "
           "@candidate on 2 in 3)\n", cfg.models, cfg.versions);
    if (store_is_usable(&cfg)) {
        printf("store: %s (cached)\n", cfg.db_path);
    } else {
        printf("store: building %s through keel's registry API (not timed) ...\n", cfg.db_path);
        fflush(stdout);
        if ((rc = bench_in_child("build", build_store, &cfg, &s, &rss)) != BENCH_EXIT_OK)
            return rc;
        printf("store: built in %.1f s\n", s.v[0]);
        if (!store_is_usable(&cfg)) {
            fprintf(stderr, "bench_registry: the built store does not hold the models\n");
            return BENCH_EXIT_ERROR;
        }
    }

    /* (a) alias resolution in-process */
    printf("\n--- alias resolution in-process: %d random models:/NAME@ALIAS "
           "(keel_model_uri_resolve + keel_model_version_artifacts)\n", cfg.lookups);
    if ((rc = bench_in_child("alias", side_alias, &cfg, &s, &rss)) != BENCH_EXIT_OK)
        return rc;
    double alias_median = s.v[0], alias_p99 = s.v[1];
    printf("median %.1f us, p99 %.1f us, mean %.1f us, max %.1f us; peak RSS %.1f MiB\n",
           s.v[0], s.v[1], s.v[2], s.v[3], rss / 1024.0);

    /* (c) search */
    printf("\n--- registry search over %d models: %d timed calls after %d warm-up\n",
           cfg.models, cfg.reps, WARMUP_SEARCHES);
    if ((rc = bench_in_child("search", side_search, &cfg, &s, &rss)) != BENCH_EXIT_OK)
        return rc;
    double n3 = s.v[2 * cfg.reps], n1 = s.v[2 * cfg.reps + 1];
    double search3_median = bench_median(s.v, cfg.reps);
    double search3_p95 = bench_percentile(s.v, cfg.reps, 95);
    double search1_median = bench_median(s.v + cfg.reps, cfg.reps);
    double search1_p95 = bench_percentile(s.v + cfg.reps, cfg.reps, 95);
    printf("%-72s %8s %8s %6s\n", "filter", "median", "p95", "models");
    printf("%-72s %5.2f ms %5.2f ms %6.0f\n", search_filter3, search3_median, search3_p95, n3);
    printf("%-72s %5.2f ms %5.2f ms %6.0f\n", search_filter1, search1_median, search1_p95, n1);
    printf("peak RSS %.1f MiB\n", rss / 1024.0);

    /* (b) over HTTP: twice, client and server free to use every core, then
     * both pinned to one core (the server inherits the affinity) */
    bool have_http = false;
    double http_median[2] = { 0, 0 }, http_p99[2] = { 0, 0 };
    static const char *const http_mode[2] = { "any core", "one core" };
    if (!cfg.http) {
        printf("\n--- HTTP: skipped (--no-http)\n");
    } else if (access(cfg.keel_bin, X_OK) != 0) {
        printf("\n--- HTTP: no keel executable at %s; skipped (build it, or pass --keel)\n",
               cfg.keel_bin);
    } else {
        printf("\n--- HTTP: %d GET registered-models/alias?name=...&alias=production, one "
               "keep-alive libcurl connection to keel server\n", cfg.lookups);
        char dir[1024];
        if (bench_scratch_dir("registry", dir, sizeof dir) != 0)
            return BENCH_EXIT_ERROR;
        curl_global_init(CURL_GLOBAL_DEFAULT);
        cpu_set_t all;
        CPU_ZERO(&all);
        sched_getaffinity(0, sizeof all, &all);
        rc = BENCH_EXIT_OK;
        for (int m = 0; rc == BENCH_EXIT_OK && m < 2; m++) {
            if (m == 1) {
                cpu_set_t one;
                CPU_ZERO(&one);
                for (int c = 0; c < CPU_SETSIZE; c++)
                    if (CPU_ISSET(c, &all)) {
                        CPU_SET(c, &one);
                        break;
                    }
                sched_setaffinity(0, sizeof one, &one);
            }
            server srv = { 0, 0 };
            rc = server_start(&cfg, dir, &srv) == 0 ? BENCH_EXIT_OK : BENCH_EXIT_ERROR;
            if (rc == BENCH_EXIT_OK) {
                long idle = proc_status_kb(srv.pid, "VmRSS");
                memset(&s, 0, sizeof s);
                rc = side_http(&cfg, &srv, &s) == 0 ? BENCH_EXIT_OK : BENCH_EXIT_ERROR;
                if (rc == BENCH_EXIT_OK) {
                    http_median[m] = s.v[0];
                    http_p99[m] = s.v[1];
                    printf("%s: median %.1f us, p99 %.1f us, mean %.1f us; connections opened "
                           "while timed: %.0f; server VmRSS idle %.1f MiB, peak (VmHWM) "
                           "%.1f MiB\n", http_mode[m], s.v[0], s.v[1], s.v[2], s.v[4],
                           idle / 1024.0, s.v[3] / 1024.0);
                }
            }
            server_stop(&srv);
        }
        sched_setaffinity(0, sizeof all, &all);
        have_http = rc == BENCH_EXIT_OK;
        curl_global_cleanup();
        remove_tree(dir);
        if (rc != BENCH_EXIT_OK)
            return rc;
    }

    printf("\nMLflow reference: users report about %.2f s for a tag search over a few hundred "
           "registered models (users' reports, not measured here).\n", MLFLOW_SEARCH_REPORTED_S);
    printf("\n");
    printf("summary: registry alias resolve in-process (%d models x %d versions) median %.1f us "
           "p99 %.1f us (target median < %.0f us: %s)\n", cfg.models, cfg.versions,
           alias_median, alias_p99, TARGET_ALIAS_US, met(alias_median < TARGET_ALIAS_US));
    for (int m = 0; have_http && m < 2; m++)
        printf("summary: registry alias GET over HTTP keep-alive (%s) median %.1f us p99 "
               "%.1f us\n", http_mode[m], http_median[m], http_p99[m]);
    printf("summary: registry search 3 tag filters over %d models (%.0f match) median %.2f ms "
           "p95 %.2f ms (target < %.0f ms: %s; MLflow ~%.2f s per users' reports, not "
           "measured)\n", cfg.models, n3, search3_median, search3_p95, TARGET_SEARCH_MS,
           met(search3_median < TARGET_SEARCH_MS), MLFLOW_SEARCH_REPORTED_S);
    printf("summary: registry search 1 tag filter over %d models (%.0f returned) median %.2f ms "
           "p95 %.2f ms\n", cfg.models, n1, search1_median, search1_p95);
    return BENCH_EXIT_OK;
}
