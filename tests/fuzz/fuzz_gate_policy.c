/*
 * fuzz_gate_policy.c — the gate policy reader: bytes as a policy file
 * through keel_gate_policy_parse (libyaml's document API, then keel's
 * checks), and the policy freed.
 *
 * Invariants checked (abort on violation): a failure carries its code and a
 * message naming the file; an accepted policy has at most
 * KEEL_GATE_MAX_GATES gates, each a known kind with a label, the fields its
 * kind needs (metric, alias), a finite bound or margin and a 1-based
 * position. Every string of an accepted policy is read to its end, so a
 * dangling or unterminated one shows up under ASan.
 */
#include <keel/gate.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char policy_name[] = "fuzz.yaml";

static void check_text(const char *s, bool required)
{
    if (s == NULL) {
        if (required)
            abort();
        return;
    }
    if (required && s[0] == '\0')
        abort();
    volatile size_t n = strlen(s);
    (void)n;
}

static void check_gate(const keel_gate *g)
{
    check_text(g->label, true);
    if (g->line < 1 || g->column < 1)
        abort();
    switch (g->kind) {
    case KEEL_GATE_METRIC:
        check_text(g->metric, true);
        if (!isfinite(g->bound) || g->cmp < KEEL_CMP_GE || g->cmp > KEEL_CMP_EQ)
            abort();
        break;
    case KEEL_GATE_BEATS:
        check_text(g->metric, true);
        check_text(g->alias, true);
        if (!isfinite(g->margin))
            abort();
        break;
    case KEEL_GATE_MAX_SIZE:
    case KEEL_GATE_MAX_LATENCY:
        if (!isfinite(g->bound) || !(g->bound > 0))
            abort();
        break;
    case KEEL_GATE_SIGNATURE:
        check_text(g->alias, true);
        break;
    default:
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    keel_gate_policy *p = NULL;
    keel_err err;
    memset(&err, 0, sizeof err);
    int rc = keel_gate_policy_parse(policy_name, (const char *)data, size, &p, &err);
    if (rc != KEEL_OK) {
        if (err.code != rc || err.msg[0] == '\0' ||
            strncmp(err.msg, policy_name, sizeof policy_name - 1) != 0)
            abort();
        return 0;
    }
    if (p == NULL || p->n_gates > KEEL_GATE_MAX_GATES || (p->n_gates > 0 && p->gates == NULL))
        abort();
    check_text(p->path, true);
    check_text(p->data, false);
    check_text(p->target, false);
    for (size_t i = 0; i < p->n_gates; i++)
        check_gate(&p->gates[i]);
    keel_gate_policy_free(p);
    return 0;
}
