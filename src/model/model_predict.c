/*
 * model_predict.c — the hot loop: walks the compiled trees of
 * model_internal.h over rows of floats, the way XGBoost 1.7's CPU predictor
 * does, so that results agree to the last bit in the common case.
 *
 * Each walk step reads one node and one feature and picks a child without a
 * branch: right when !(x < threshold), except that a missing value (NaN)
 * takes the node's default side. Leaves point at themselves, so every walk
 * runs a fixed number of steps, and LANES walks go in lockstep (LANES trees
 * of one row, or one tree over LANES rows) to overlap their memory loads.
 *
 * Sums are float, start at base_score in margin space and add the trees'
 * leaves in tree order, as XGBoost's do; then the objective's transform.
 * No allocation: accumulators live in `out`, or on the stack for
 * multi:softmax, whose single output is the winning class.
 */
#include "model/model_internal.h"

#include <math.h>
#include <string.h>

#define ROW_BLOCK KEEL_MODEL_SIMD_BLOCK

/* The lane loops must be unrolled so that the walks' indices stay in
 * registers (-O2 does not unroll them by itself). */
#define UNROLL_LANES _Pragma("GCC unroll 8")

static inline uint32_t step(const keel_model_node *nodes, uint32_t i, const float *x)
{
    const keel_model_node *nd = &nodes[i];
    uint32_t f = nd->feature;
    float v = x[f & KEEL_MODEL_FEATURE_MASK];
    uint32_t right = !(v < nd->value);
    uint32_t missing_left = (uint32_t)(v != v) & (f >> 31);
    return nd->child[right & ~missing_left];
}

static inline size_t perfect_step(const keel_model_split *splits, size_t i, const float *x)
{
    const keel_model_split sp = splits[i];
    float v = x[sp.feature & KEEL_MODEL_FEATURE_MASK];
    uint32_t right = !(v < sp.threshold);
    uint32_t missing_left = (uint32_t)(v != v) & (sp.feature >> 31);
    return 2 * i + 1 + (right & ~missing_left);
}

/* row_all_trees over the perfect layout. */
static void row_all_trees_perfect_scalar(const keel_model *m, const float *x, float *acc)
{
    const uint32_t D = m->perfect_depth;
    const size_t inner = ((size_t)1 << D) - 1, n_leaves = (size_t)1 << D;
    const keel_model_split *splits = m->perfect_splits;
    const float *leaves = m->perfect_leaves - inner; /* indexed by heap slot */
    const bool one_group = m->n_groups == 1;
    float sum = acc[0];
    for (size_t b = 0; b < m->n_trees_padded; b += KEEL_MODEL_LANES) {
        size_t idx[KEEL_MODEL_LANES] = {0};
        const keel_model_split *tree = splits + b * inner;
        for (uint32_t d = 0; d < D; d++)
            UNROLL_LANES
            for (int k = 0; k < KEEL_MODEL_LANES; k++)
                idx[k] = perfect_step(tree + (size_t)k * inner, idx[k], x);
        const float *lv = leaves + b * n_leaves;
        if (one_group) {
            UNROLL_LANES
            for (int k = 0; k < KEEL_MODEL_LANES; k++)
                sum += lv[(size_t)k * n_leaves + idx[k]];
        } else {
            UNROLL_LANES
            for (int k = 0; k < KEEL_MODEL_LANES; k++)
                acc[m->tree_group[b + k]] += lv[(size_t)k * n_leaves + idx[k]];
        }
    }
    if (one_group)
        acc[0] = sum;
}

/* The SIMD walk when the CPU has it. */
static void row_all_trees_perfect(const keel_model *m, const float *x, float *acc)
{
    if (!keel_model_row_perfect_simd(m, x, acc))
        row_all_trees_perfect_scalar(m, x, acc);
}

/* block_tree_by_tree over the perfect layout. */
static void block_tree_by_tree_perfect_scalar(const keel_model *m, const float *x, size_t n,
                                              float *acc)
{
    const uint32_t D = m->perfect_depth;
    const size_t inner = ((size_t)1 << D) - 1, n_leaves = (size_t)1 << D;
    const size_t nf = m->n_features, ng = m->n_groups;
    for (size_t t = 0; t < m->n_trees; t++) {
        const keel_model_split *tree = m->perfect_splits + t * inner;
        const float *lv = m->perfect_leaves + t * n_leaves - inner;
        const size_t g = m->tree_group[t];
        size_t r = 0;
        for (; r + KEEL_MODEL_LANES <= n; r += KEEL_MODEL_LANES) {
            size_t idx[KEEL_MODEL_LANES] = {0};
            const float *row = x + r * nf;
            for (uint32_t d = 0; d < D; d++)
                UNROLL_LANES
                for (int k = 0; k < KEEL_MODEL_LANES; k++)
                    idx[k] = perfect_step(tree, idx[k], row + (size_t)k * nf);
            UNROLL_LANES
            for (int k = 0; k < KEEL_MODEL_LANES; k++)
                acc[(r + (size_t)k) * ng + g] += lv[idx[k]];
        }
        for (; r < n; r++) {
            size_t i = 0;
            for (uint32_t d = 0; d < D; d++)
                i = perfect_step(tree, i, x + r * nf);
            acc[r * ng + g] += lv[i];
        }
    }
}

/* The SIMD walk for the rows it takes, the scalar one for the rest. */
static void block_tree_by_tree_perfect(const keel_model *m, const float *x, size_t n, float *acc)
{
    size_t done = keel_model_block_perfect_simd(m, x, n, acc);
    if (done < n)
        block_tree_by_tree_perfect_scalar(m, x + done * m->n_features, n - done,
                                          acc + done * m->n_groups);
}

/* One row through every tree into acc[n_groups] (which starts at base). */
static void row_all_trees(const keel_model *m, const float *x, float *acc)
{
    const keel_model_node *nodes = m->nodes;
    const uint32_t *roots = m->tree_root;
    if (m->n_groups == 1) {
        float sum = acc[0];
        for (size_t b = 0; b < m->n_trees_padded; b += KEEL_MODEL_LANES) {
            uint32_t idx[KEEL_MODEL_LANES];
            UNROLL_LANES
            for (int k = 0; k < KEEL_MODEL_LANES; k++)
                idx[k] = roots[b + k];
            for (uint32_t d = m->block_depth[b / KEEL_MODEL_LANES]; d > 0; d--)
                UNROLL_LANES
                for (int k = 0; k < KEEL_MODEL_LANES; k++)
                    idx[k] = step(nodes, idx[k], x);
            UNROLL_LANES
            for (int k = 0; k < KEEL_MODEL_LANES; k++)
                sum += nodes[idx[k]].value;
        }
        acc[0] = sum;
        return;
    }
    const uint32_t *groups = m->tree_group;
    for (size_t b = 0; b < m->n_trees_padded; b += KEEL_MODEL_LANES) {
        uint32_t idx[KEEL_MODEL_LANES];
        UNROLL_LANES
        for (int k = 0; k < KEEL_MODEL_LANES; k++)
            idx[k] = roots[b + k];
        for (uint32_t d = m->block_depth[b / KEEL_MODEL_LANES]; d > 0; d--)
            UNROLL_LANES
            for (int k = 0; k < KEEL_MODEL_LANES; k++)
                idx[k] = step(nodes, idx[k], x);
        UNROLL_LANES
        for (int k = 0; k < KEEL_MODEL_LANES; k++)
            acc[groups[b + k]] += nodes[idx[k]].value;
    }
}

/* rows x[0..n) (n <= ROW_BLOCK) tree by tree into acc (n x n_groups). */
static void block_tree_by_tree(const keel_model *m, const float *x, size_t n, float *acc)
{
    const keel_model_node *nodes = m->nodes;
    const size_t nf = m->n_features, ng = m->n_groups;
    for (size_t t = 0; t < m->n_trees; t++) {
        const uint32_t root = m->tree_root[t], depth = m->tree_depth[t];
        const size_t g = m->tree_group[t];
        size_t r = 0;
        for (; r + KEEL_MODEL_LANES <= n; r += KEEL_MODEL_LANES) {
            uint32_t idx[KEEL_MODEL_LANES];
            const float *row = x + r * nf;
            UNROLL_LANES
            for (int k = 0; k < KEEL_MODEL_LANES; k++)
                idx[k] = root;
            for (uint32_t d = depth; d > 0; d--)
                UNROLL_LANES
                for (int k = 0; k < KEEL_MODEL_LANES; k++)
                    idx[k] = step(nodes, idx[k], row + (size_t)k * nf);
            UNROLL_LANES
            for (int k = 0; k < KEEL_MODEL_LANES; k++)
                acc[(r + (size_t)k) * ng + g] += nodes[idx[k]].value;
        }
        for (; r < n; r++) {
            uint32_t i = root;
            for (uint32_t d = depth; d > 0; d--)
                i = step(nodes, i, x + r * nf);
            acc[r * ng + g] += nodes[i].value;
        }
    }
}

static float sigmoid(float v)
{
    return 1.0f / (1.0f + expf(-v));
}

/* XGBoost's common::Softmax: max-shifted exponentials over a double sum. */
static void softmax(float *v, size_t n)
{
    float wmax = v[0];
    for (size_t i = 1; i < n; i++)
        wmax = fmaxf(v[i], wmax);
    double wsum = 0.0;
    for (size_t i = 0; i < n; i++) {
        v[i] = expf(v[i] - wmax);
        wsum += v[i];
    }
    for (size_t i = 0; i < n; i++)
        v[i] /= (float)wsum;
}

static float argmax(const float *v, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return (float)best;
}

/* Applies the objective's transform to n rows of acc (n x n_groups) in
 * place; not for ARGMAX, whose output shape differs. */
static void transform_rows(const keel_model *m, float *acc, size_t n)
{
    const size_t total = n * m->n_groups;
    switch (m->transform) {
    case KEEL_TF_IDENTITY:
    case KEEL_TF_ARGMAX:
        break;
    case KEEL_TF_SIGMOID:
        for (size_t i = 0; i < total; i++)
            acc[i] = sigmoid(acc[i]);
        break;
    case KEEL_TF_EXP:
        for (size_t i = 0; i < total; i++)
            acc[i] = expf(acc[i]);
        break;
    case KEEL_TF_HINGE:
        for (size_t i = 0; i < total; i++)
            acc[i] = acc[i] > 0.0f ? 1.0f : 0.0f;
        break;
    case KEEL_TF_SOFTMAX:
        for (size_t r = 0; r < n; r++)
            softmax(acc + r * m->n_groups, m->n_groups);
        break;
    }
}

static void fill_base(const keel_model *m, float *acc, size_t n)
{
    const size_t total = n * m->n_groups;
    for (size_t i = 0; i < total; i++)
        acc[i] = m->base_margin;
}

void keel_model_predict_with(const keel_model *m, const float *x, size_t n, bool margin,
                             float *out, enum keel_model_strategy strategy)
{
    if (m == NULL || n == 0)
        return;
    const size_t nf = m->n_features, ng = m->n_groups;
    bool perfect = m->perfect_depth > 0;
    if (strategy == KEEL_MODEL_NODES_ROWS_OUTER || strategy == KEEL_MODEL_NODES_TREES_OUTER) {
        perfect = false;
        strategy = strategy == KEEL_MODEL_NODES_ROWS_OUTER ? KEEL_MODEL_ROWS_OUTER
                                                           : KEEL_MODEL_TREES_OUTER;
    }
    void (*row_fn)(const keel_model *, const float *, float *) =
        perfect ? row_all_trees_perfect : row_all_trees;
    void (*block_fn)(const keel_model *, const float *, size_t, float *) =
        perfect ? block_tree_by_tree_perfect : block_tree_by_tree;
    if (strategy == KEEL_MODEL_SCALAR_TREES_OUTER || strategy == KEEL_MODEL_SCALAR_ROWS_OUTER) {
        row_fn = perfect ? row_all_trees_perfect_scalar : row_all_trees;
        block_fn = perfect ? block_tree_by_tree_perfect_scalar : block_tree_by_tree;
        strategy = strategy == KEEL_MODEL_SCALAR_TREES_OUTER ? KEEL_MODEL_TREES_OUTER
                                                             : KEEL_MODEL_ROWS_OUTER;
    }
    if (m->transform == KEEL_TF_ARGMAX) {
        /* One output per row from n_groups accumulators on the stack. */
        float acc[KEEL_MODEL_MAX_GROUPS];
        for (size_t r = 0; r < n; r++) {
            fill_base(m, acc, 1);
            row_fn(m, x + r * nf, acc);
            out[r] = argmax(acc, ng);
        }
        return;
    }
    if (strategy == KEEL_MODEL_AUTO)
        strategy = n >= KEEL_MODEL_LANES ? KEEL_MODEL_TREES_OUTER : KEEL_MODEL_ROWS_OUTER;
    if (strategy == KEEL_MODEL_ROWS_OUTER) {
        for (size_t r = 0; r < n; r++) {
            float *acc = out + r * ng;
            fill_base(m, acc, 1);
            row_fn(m, x + r * nf, acc);
            if (!margin)
                transform_rows(m, acc, 1);
        }
        return;
    }
    for (size_t r = 0; r < n; r += ROW_BLOCK) {
        size_t rows = n - r < ROW_BLOCK ? n - r : ROW_BLOCK;
        float *acc = out + r * ng;
        fill_base(m, acc, rows);
        block_fn(m, x + r * nf, rows, acc);
        if (!margin)
            transform_rows(m, acc, rows);
    }
}

void keel_model_predict(const keel_model *m, const float *x, size_t n, bool margin, float *out)
{
    keel_model_predict_with(m, x, n, margin, out, KEEL_MODEL_AUTO);
}
