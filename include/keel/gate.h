/*
 * keel/gate.h — CI/CD for models: validation gates a model version must pass
 * before an alias (usually "production") moves to it, promotion, rollback.
 *
 * A policy is YAML kept in git (docs/gates.md):
 *
 *   evaluation:                 # data the scoring gates use
 *     data: adult@1             # a dataset version or a CSV path
 *     target: income            # optional: the model's own target
 *   gates:
 *     - metrics.test_auc >= 0.90          # a metric of the version's run
 *     - metric: test_logloss              # the same, long form: min / max
 *       max: 0.35
 *     - beats: production                 # score both on the data, now
 *       metric: auc
 *       margin: 0.002
 *     - max_size_mb: 50                   # the model file
 *     - max_latency_ms: 5                 # p99 of single-row predictions, measured now
 *     - signature_compatible_with: production
 *
 * Errors in a policy name the file, line and column.
 */
#ifndef KEEL_GATE_H
#define KEEL_GATE_H

#include <keel/arena.h>
#include <keel/error.h>
#include <keel/registry.h>
#include <keel/workspace.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEEL_GATE_POLICY_MAX_BYTES (1u << 20)
#define KEEL_GATE_MAX_GATES 100

enum keel_gate_kind {
    KEEL_GATE_METRIC,      /* a run metric against a bound */
    KEEL_GATE_BEATS,       /* better than the alias's version on data, by a margin */
    KEEL_GATE_MAX_SIZE,    /* model file size */
    KEEL_GATE_MAX_LATENCY, /* single-row prediction latency */
    KEEL_GATE_SIGNATURE,   /* inputs compatible with the alias's version */
};

enum keel_gate_cmp { KEEL_CMP_GE, KEEL_CMP_GT, KEEL_CMP_LE, KEEL_CMP_LT, KEEL_CMP_EQ };

typedef struct keel_gate {
    enum keel_gate_kind kind;
    const char *label;        /* how the report names it, e.g. "metrics.test_auc >= 0.9" */
    const char *metric;       /* METRIC, BEATS */
    enum keel_gate_cmp cmp;   /* METRIC */
    double bound;             /* METRIC; MAX_SIZE (MiB); MAX_LATENCY (ms) */
    double margin;            /* BEATS */
    const char *alias;        /* BEATS, SIGNATURE */
    int line, column;         /* 1-based position in the policy file */
} keel_gate;

typedef struct keel_gate_policy {
    const char *path;
    const char *data;         /* evaluation.data, or NULL */
    const char *target;       /* evaluation.target, or NULL */
    keel_gate *gates;
    size_t n_gates;
    keel_arena arena;         /* owns everything */
} keel_gate_policy;

/* Reads and checks a policy file (at most KEEL_GATE_POLICY_MAX_BYTES).
 * KEEL_EPARSE / KEEL_EINVAL with "gates.yaml:7:5: …". */
int keel_gate_policy_load(const char *path, keel_gate_policy **out, keel_err *err);

/* The same from counted bytes; name is used in messages. */
int keel_gate_policy_parse(const char *name, const char *text, size_t len,
                           keel_gate_policy **out, keel_err *err);

void keel_gate_policy_free(keel_gate_policy *p);

typedef struct keel_gate_result {
    const keel_gate *gate;
    bool passed;
    const char *observed;     /* what was measured, e.g. "0.9287" */
    const char *detail;       /* why it passed or failed */
} keel_gate_result;

/* Checks every gate of p for model/version. *out_passed is true when all
 * pass. Gates that cannot be evaluated (a metric the run lacks, no data for
 * a scoring gate) fail, saying why; only store or I/O errors are returned as
 * errors. Results come from arena a. */
int keel_gate_check(keel_workspace *ws, const keel_gate_policy *p, const char *model,
                    int64_t version, keel_arena *a, keel_gate_result **out, size_t *out_n,
                    bool *out_passed, keel_err *err);

typedef struct keel_promotion {
    const char *model;
    int64_t version;
    const char *alias;        /* NULL = "production" */
    const keel_gate_policy *policy;   /* NULL: no gates */
    bool force;               /* move even when gates fail: reason required, audited */
    const char *reason;
    const char *actor;
} keel_promotion;

/* Checks the gates, then moves the alias with a compare-and-set against the
 * version it pointed at when the checks began, so a concurrent promotion
 * cannot be overwritten (KEEL_ECONFLICT). Failed gates: KEEL_ESTATE, the
 * alias unchanged, the failure audited. Results as keel_gate_check. */
int keel_model_promote(keel_workspace *ws, const keel_promotion *p, keel_arena *a,
                       keel_gate_result **out, size_t *out_n, keel_err *err);

/* Moves alias (NULL = "production") back: to to_version, or (0) to the
 * version it pointed at before its last move. The new version goes to
 * *out_version. */
int keel_model_rollback(keel_workspace *ws, const char *model, const char *alias,
                        int64_t to_version, const char *actor, const char *reason,
                        int64_t *out_version, keel_err *err);

#endif
