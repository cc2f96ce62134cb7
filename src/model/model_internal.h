/*
 * model_internal.h — the compiled form of a tree ensemble, shared by the
 * loader (model_load.c) and the evaluator (model_predict.c).
 *
 * All trees live back to back in one node array. A node is 16 bytes:
 * the split feature (top bit: missing values go left), the threshold — or,
 * for a leaf, the leaf value (dart's weight already applied) — and the two
 * children as absolute indices into the array. A leaf's children are itself,
 * so walking a tree a fixed number of steps (its depth) always ends on its
 * leaf: the walk has no data-dependent branch, and several walks (trees, or
 * rows) run in lockstep to keep the core busy while loads are in flight.
 *
 * Trees are padded with empty trees (a shared leaf of value 0 in group 0) to
 * a multiple of KEEL_MODEL_LANES, and each block of LANES trees records the
 * largest depth in it.
 */
#ifndef KEEL_MODEL_INTERNAL_H
#define KEEL_MODEL_INTERNAL_H

#include <keel/model.h>

#include <stdint.h>

#define KEEL_MODEL_LANES 8
#define KEEL_MODEL_DEFAULT_LEFT 0x80000000u
#define KEEL_MODEL_FEATURE_MASK 0x7fffffffu
#define KEEL_MODEL_MAX_FEATURES ((size_t)1 << 28)
#define KEEL_MODEL_MAX_GROUPS 4096
#define KEEL_MODEL_MAX_NODES ((size_t)1 << 30)

typedef struct keel_model_node {
    uint32_t feature;   /* split feature | KEEL_MODEL_DEFAULT_LEFT; 0 for a leaf */
    float value;        /* threshold (go left when x < value), or the leaf value */
    uint32_t child[2];  /* [0] left, [1] right; a leaf's are its own index */
} keel_model_node;

/* The same trees as perfect binary trees of one depth D, when D is small:
 * splits in heap order (children of i at 2i+1, 2i+2), (2^D - 1) per tree,
 * then 2^D leaf values per tree. A leaf above depth D becomes "always
 * right" splits (threshold NaN, missing right) down to its slot, so a walk
 * is D steps of pure arithmetic with no child pointers to load. */
#define KEEL_MODEL_PERFECT_MAX_DEPTH 8

typedef struct keel_model_split {
    uint32_t feature;   /* as keel_model_node.feature */
    float threshold;
} keel_model_split;

enum keel_model_transform {
    KEEL_TF_IDENTITY,
    KEEL_TF_SIGMOID,
    KEEL_TF_EXP,
    KEEL_TF_SOFTMAX,
    KEEL_TF_ARGMAX,
    KEEL_TF_HINGE,
};

struct keel_model {
    keel_model_node *nodes;     /* n_nodes, trees back to back, then the padding leaf */
    size_t n_nodes;
    uint32_t *tree_root;        /* n_trees_padded */
    uint32_t *tree_group;       /* n_trees_padded: output group of each tree */
    uint32_t *tree_depth;       /* n_trees_padded: steps from the root to the deepest leaf */
    uint32_t *block_depth;      /* n_trees_padded / LANES: max depth in the block */
    uint32_t perfect_depth;     /* D; 0 = no perfect layout (see above) */
    keel_model_split *perfect_splits;   /* n_trees_padded x (2^D - 1) */
    float *perfect_leaves;              /* n_trees_padded x 2^D */
    size_t n_trees;             /* real trees */
    size_t n_trees_padded;
    size_t n_groups;            /* accumulators per row */
    size_t n_outputs;           /* 1 for multi:softmax, else n_groups */
    size_t n_features;
    float base_margin;          /* base_score in margin space */
    enum keel_model_transform transform;
    char objective[64];
};

/* How keel_model_predict walks a batch (the bench compares them). */
enum keel_model_strategy {
    KEEL_MODEL_AUTO,
    KEEL_MODEL_ROWS_OUTER,   /* each row through all trees, LANES trees in lockstep */
    KEEL_MODEL_TREES_OUTER,  /* blocks of rows, each tree over the block, LANES rows in lockstep */
    /* The same two walks over the node array even when the perfect layout
     * exists (tests compare the layouts; the bench measures them). */
    KEEL_MODEL_NODES_ROWS_OUTER,
    KEEL_MODEL_NODES_TREES_OUTER,
    /* ROWS_OUTER and TREES_OUTER over the perfect layout without the SIMD
     * walks. */
    KEEL_MODEL_SCALAR_ROWS_OUTER,
    KEEL_MODEL_SCALAR_TREES_OUTER,
};

/* Rows per block of the batch walk, and at most what the SIMD walk takes. */
#define KEEL_MODEL_SIMD_BLOCK 64

/* The batch walk over the perfect layout with AVX2 (model_predict_simd.c):
 * walks the first multiple of 8 rows of x[0..n) (at most SIMD_BLOCK) into
 * acc, as block_tree_by_tree_perfect would, and returns how many; 0 when the
 * CPU or the build cannot. */
bool keel_model_simd_available(void);
size_t keel_model_block_perfect_simd(const keel_model *m, const float *x, size_t n, float *acc);
/* One row through every tree of the perfect layout with AVX2 (8 trees per
 * vector), as row_all_trees_perfect would; false when the CPU or the build
 * cannot (nothing is written then). */
bool keel_model_row_perfect_simd(const keel_model *m, const float *x, float *acc);

void keel_model_predict_with(const keel_model *m, const float *x, size_t n, bool margin,
                             float *out, enum keel_model_strategy strategy);

#endif
