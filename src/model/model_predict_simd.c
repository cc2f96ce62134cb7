/*
 * model_predict_simd.c — the batch walk over the perfect layout with AVX2:
 * eight rows of a block ride the eight lanes of one vector, and every tree
 * step is three gathers (the split's feature, its threshold, the rows'
 * values of that feature), two compares and a shift. The block's row
 * vectors are independent, so their gathers overlap.
 *
 * Each lane adds its row's leaves in tree order, exactly as the scalar walk
 * in model_predict.c does, so the results are the same bits. Chosen at run
 * time: on a CPU without AVX2 (or another architecture) the caller falls
 * back to the scalar walk.
 */
#include "model/model_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>
#include <limits.h>

#define VECS_MAX (KEEL_MODEL_SIMD_BLOCK / 8)

bool keel_model_simd_available(void)
{
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") ? 1 : 0;
    }
    return cached == 1;
}

/* One step of eight walks: idx holds heap slots, row_base the rows' offsets. */
__attribute__((target("avx2"))) static inline __m256i
step8(const int *words, const float *x, __m256i row_base, __m256i idx)
{
    const __m256i mask = _mm256_set1_epi32((int)KEEL_MODEL_FEATURE_MASK);
    __m256i w = _mm256_add_epi32(idx, idx);
    __m256i feat = _mm256_i32gather_epi32(words, w, 4);
    __m256 thr = _mm256_i32gather_ps((const float *)words + 1, w, 4);
    __m256i at = _mm256_add_epi32(row_base, _mm256_and_si256(feat, mask));
    __m256 val = _mm256_i32gather_ps(x, at, 4);
    /* right = !(val < thr), unless val is missing and the split sends
     * missing values left (the feature's top bit). */
    __m256 right = _mm256_cmp_ps(val, thr, _CMP_NLT_UQ);
    __m256 missing_left = _mm256_and_ps(_mm256_cmp_ps(val, val, _CMP_UNORD_Q),
                                        _mm256_castsi256_ps(_mm256_srai_epi32(feat, 31)));
    __m256i go = _mm256_castps_si256(_mm256_andnot_ps(missing_left, right));
    /* 2i + 1 + right, where the compare gave right as -1 or 0. */
    return _mm256_sub_epi32(_mm256_add_epi32(w, _mm256_set1_epi32(1)), go);
}

/* vecs x 8 rows of x through every tree into acc (rows x n_groups, starting
 * at the base margin). With one group the sums stay in registers: each lane
 * computes ((base + t0) + t1) + ..., the scalar walk's additions in its
 * order. */
__attribute__((target("avx2"))) static void
walk_block(const keel_model *m, const float *x, size_t vecs, float *acc)
{
    const uint32_t D = m->perfect_depth;
    const size_t inner = ((size_t)1 << D) - 1, n_leaves = (size_t)1 << D;
    const size_t ng = m->n_groups;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i nf = _mm256_set1_epi32((int)m->n_features);
    __m256i row_base[VECS_MAX];
    __m256 sum[VECS_MAX];
    for (size_t v = 0; v < vecs; v++) {
        row_base[v] = _mm256_mullo_epi32(
            _mm256_add_epi32(lane, _mm256_set1_epi32((int)(v * 8))), nf);
        sum[v] = ng == 1 ? _mm256_loadu_ps(acc + v * 8) : _mm256_setzero_ps();
    }
    for (size_t t = 0; t < m->n_trees; t++) {
        /* A split is {feature, threshold}: 32-bit words 2i and 2i+1. */
        const int *words = (const int *)(m->perfect_splits + t * inner);
        const float *lv = m->perfect_leaves + t * n_leaves - inner;
        __m256i idx[VECS_MAX];
        for (size_t v = 0; v < vecs; v++)
            idx[v] = _mm256_setzero_si256();
        for (uint32_t d = 0; d < D; d++)
            for (size_t v = 0; v < vecs; v++)
                idx[v] = step8(words, x, row_base[v], idx[v]);
        if (ng == 1) {
            for (size_t v = 0; v < vecs; v++)
                sum[v] = _mm256_add_ps(sum[v], _mm256_i32gather_ps(lv, idx[v], 4));
            continue;
        }
        const size_t g = m->tree_group[t];
        for (size_t v = 0; v < vecs; v++) {
            float leaf[8];
            _mm256_storeu_ps(leaf, _mm256_i32gather_ps(lv, idx[v], 4));
            for (size_t k = 0; k < 8; k++)
                acc[(v * 8 + k) * ng + g] += leaf[k];
        }
    }
    if (ng == 1)
        for (size_t v = 0; v < vecs; v++)
            _mm256_storeu_ps(acc + v * 8, sum[v]);
}

/* Blocks of 8 trees walked at once by the single-row walk: independent
 * gathers in flight while earlier ones wait on memory. */
#define ROW_BLOCKS 4

/* One row through every tree of the perfect layout: 8 trees per vector
 * (lanes = trees), ROW_BLOCKS vectors at a time. The leaves are added to
 * acc one by one in tree order, as the scalar walk does. */
__attribute__((target("avx2"))) static void walk_row(const keel_model *m, const float *x,
                                                     float *acc)
{
    const uint32_t D = m->perfect_depth;
    const int inner = (1 << D) - 1, n_leaves = 1 << D;
    const int *words = (const int *)m->perfect_splits;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask = _mm256_set1_epi32((int)KEEL_MODEL_FEATURE_MASK);
    const bool one_group = m->n_groups == 1;
    float sum = acc[0];
    for (size_t b = 0; b < m->n_trees_padded; b += 8 * ROW_BLOCKS) {
        size_t blocks = (m->n_trees_padded - b) / 8;
        if (blocks > ROW_BLOCKS)
            blocks = ROW_BLOCKS;
        __m256i tree[ROW_BLOCKS], idx[ROW_BLOCKS];
        for (size_t v = 0; v < blocks; v++) {
            tree[v] = _mm256_add_epi32(lane, _mm256_set1_epi32((int)(b + v * 8)));
            idx[v] = _mm256_setzero_si256();
        }
        for (uint32_t d = 0; d < D; d++) {
            for (size_t v = 0; v < blocks; v++) {
                /* split word 2 * (tree * inner + idx) */
                __m256i slot = _mm256_add_epi32(_mm256_mullo_epi32(tree[v], _mm256_set1_epi32(inner)),
                                                idx[v]);
                __m256i w = _mm256_add_epi32(slot, slot);
                __m256i feat = _mm256_i32gather_epi32(words, w, 4);
                __m256 thr = _mm256_i32gather_ps((const float *)words + 1, w, 4);
                __m256 val = _mm256_i32gather_ps(x, _mm256_and_si256(feat, mask), 4);
                __m256 right = _mm256_cmp_ps(val, thr, _CMP_NLT_UQ);
                __m256 missing_left = _mm256_and_ps(_mm256_cmp_ps(val, val, _CMP_UNORD_Q),
                                                    _mm256_castsi256_ps(_mm256_srai_epi32(feat, 31)));
                __m256i go = _mm256_castps_si256(_mm256_andnot_ps(missing_left, right));
                idx[v] = _mm256_sub_epi32(
                    _mm256_add_epi32(_mm256_add_epi32(idx[v], idx[v]), _mm256_set1_epi32(1)), go);
            }
        }
        for (size_t v = 0; v < blocks; v++) {
            /* leaf tree * n_leaves + (idx - inner) */
            __m256i at = _mm256_add_epi32(_mm256_mullo_epi32(tree[v], _mm256_set1_epi32(n_leaves)),
                                          _mm256_sub_epi32(idx[v], _mm256_set1_epi32(inner)));
            float leaf[8];
            _mm256_storeu_ps(leaf, _mm256_i32gather_ps(m->perfect_leaves, at, 4));
            size_t t0 = b + v * 8;
            if (one_group) {
                for (int k = 0; k < 8; k++)
                    sum += leaf[k];
            } else {
                for (size_t k = 0; k < 8; k++)
                    acc[m->tree_group[t0 + k]] += leaf[k];
            }
        }
    }
    if (one_group)
        acc[0] = sum;
}

bool keel_model_row_perfect_simd(const keel_model *m, const float *x, float *acc)
{
    size_t words = m->n_trees_padded * (((size_t)1 << m->perfect_depth) - 1) * 2;
    size_t leaves = m->n_trees_padded << m->perfect_depth;
    if (!keel_model_simd_available() || words >= INT_MAX || leaves >= INT_MAX ||
        m->n_features >= INT_MAX || m->n_trees_padded % 8 != 0)
        return false;
    walk_row(m, x, acc);
    return true;
}

size_t keel_model_block_perfect_simd(const keel_model *m, const float *x, size_t n, float *acc)
{
    size_t vecs = n / 8;
    if (vecs > VECS_MAX)
        vecs = VECS_MAX;
    /* Gather offsets are 32-bit: the block's rows must fit. */
    if (vecs == 0 || !keel_model_simd_available() ||
        m->n_features > (size_t)INT_MAX / KEEL_MODEL_SIMD_BLOCK)
        return 0;
    walk_block(m, x, vecs, acc);
    return vecs * 8;
}

#else

bool keel_model_simd_available(void)
{
    return false;
}

size_t keel_model_block_perfect_simd(const keel_model *m, const float *x, size_t n, float *acc)
{
    (void)m, (void)x, (void)n, (void)acc;
    return 0;
}

bool keel_model_row_perfect_simd(const keel_model *m, const float *x, float *acc)
{
    (void)m, (void)x, (void)acc;
    return false;
}

#endif
