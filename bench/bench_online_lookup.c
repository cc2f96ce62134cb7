/*
 * bench_online_lookup.c — in-process online-store lookups: one entity, one
 * view of 10 float features, through keel_features_get (key building, the
 * store read, decoding, TTL statuses), as a model server embedding keel
 * would call it.
 *
 *   bench_online_lookup STORE [N]
 *
 * STORE is a directory (LMDB) or redis://HOST:PORT[/DB]. 10,000 entities
 * are written first; then N (default 200,000; Redis 20,000) lookups of
 * random entities are timed one by one. Prints p50, p99, p99.9 and the
 * mean in microseconds, and lookups/s.
 */
#include <keel/features.h>
#include <keel/util.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENTITIES 10000

static const char YAML[] =
    "project: bench\n"
    "entities:\n"
    "  station:\n"
    "    join_keys: {station: string}\n"
    "sources:\n"
    "  s:\n"
    "    dataset: s@1\n"
    "    timestamp: ts\n"
    "feature_views:\n"
    "  weather:\n"
    "    entities: [station]\n"
    "    source: s\n"
    "    ttl: 24h\n"
    "    online: true\n"
    "    features: {f0: float, f1: float, f2: float, f3: float, f4: float, f5: float, "
    "f6: float, f7: float, f8: float, f9: float}\n";

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_online_lookup STORE [N]\n");
        return 2;
    }
    bool redis = strncmp(argv[1], "redis://", 8) == 0;
    long n = argc > 2 ? atol(argv[2]) : redis ? 20000 : 200000;
    keel_err err = { 0 };
    keel_feature_repo *repo = NULL;
    keel_online_store *st = NULL;
    if (keel_feature_repo_parse("features.yaml", YAML, strlen(YAML), &repo, &err) != KEEL_OK ||
        keel_online_store_open(argv[1], NULL, &st, &err) != KEEL_OK) {
        fprintf(stderr, "bench_online_lookup: %s\n", err.msg);
        return 1;
    }
    int64_t now = keel_now_ms();
    static char names[ENTITIES][16];
    static const char *kv[ENTITIES];
    static keel_feature_value vals[ENTITIES][10];
    static keel_online_row rows[ENTITIES];
    for (int i = 0; i < ENTITIES; i++) {
        snprintf(names[i], sizeof names[i], "station%d", i);
        kv[i] = names[i];
        for (int f = 0; f < 10; f++)
            vals[i][f] = (keel_feature_value){ .type = KEEL_COL_FLOAT, .f64 = i + f / 10.0 };
        rows[i] = (keel_online_row){ &kv[i], now - i, vals[i] };
    }
    if (keel_online_write(st, repo, 0, rows, ENTITIES, NULL, &err) != KEEL_OK) {
        fprintf(stderr, "bench_online_lookup: %s\n", err.msg);
        return 1;
    }
    keel_feature_ref refs[10];
    for (int f = 0; f < 10; f++)
        refs[f] = (keel_feature_ref){ 0, (size_t)f };
    const char *key_names[] = { "station" };
    int64_t *ns = malloc((size_t)n * sizeof *ns);
    keel_feature_answer ans[10];
    keel_arena a;
    keel_arena_init(&a, 0);
    uint64_t rnd = 88172645463325252ull;
    double check = 0;
    for (long i = 0; i < n; i++) {
        rnd ^= rnd << 13;
        rnd ^= rnd >> 7;
        rnd ^= rnd << 17;
        const char *key = kv[rnd % ENTITIES];
        int64_t t0 = keel_monotonic_ns();
        int rc = keel_features_get(st, repo, refs, 10, key_names, 1, &key, 1, now, &a, ans,
                                   &err);
        ns[i] = keel_monotonic_ns() - t0;
        if (rc != KEEL_OK || ans[9].status != KEEL_FEATURE_PRESENT) {
            fprintf(stderr, "bench_online_lookup: %s\n", rc ? err.msg : "not present");
            return 1;
        }
        check += ans[9].value.f64;
        keel_arena_free(&a);
        keel_arena_init(&a, 0);
    }
    qsort(ns, (size_t)n, sizeof *ns, cmp_i64);
    double sum = 0;
    for (long i = 0; i < n; i++)
        sum += (double)ns[i];
    printf("online lookup (%s, 1 entity x 10 features, %ld lookups): p50 %.2f us, p99 %.2f us, "
           "p99.9 %.2f us, mean %.2f us, %.0f lookups/s (check %.0f)\n",
           redis ? "redis" : "lmdb", n, ns[n / 2] / 1e3, ns[(long)(n * 0.99)] / 1e3,
           ns[(long)(n * 0.999)] / 1e3, sum / n / 1e3, n / (sum / 1e9), check);
    free(ns);
    keel_arena_free(&a);
    keel_online_store_close(st);
    keel_feature_repo_free(repo);
    return 0;
}
