/*
 * model_load.c — reads XGBoost's JSON model format (1.x: what
 * Booster.save_model("m.json") and keel's trainer write), checks every field
 * a prediction depends on, and compiles the trees into the flat layout of
 * model_internal.h.
 *
 * Nothing in the input is trusted: array lengths must agree with
 * tree_param.num_nodes, children must lie inside the tree, and every node
 * must be reached exactly once from the root, so a cycle or a shared subtree
 * is refused here and a walk in model_predict.c always ends on a leaf.
 * Categorical splits, multi-target leaves (size_leaf_vector > 0), gblinear
 * and objectives whose output keel cannot reproduce exactly are refused with
 * an error naming the field.
 */
#include "model/model_internal.h"

#include <keel/json.h>
#include <keel/util.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum base_kind { BASE_IDENTITY, BASE_LOGIT, BASE_LOG };

typedef struct objective_rule {
    const char *name;
    enum base_kind base;
    enum keel_model_transform transform;
} objective_rule;

/* Objectives whose prediction transform and base_score conversion are those
 * of XGBoost 1.7 (ObjFunction::PredTransform / ProbToMargin). */
static const objective_rule objective_rules[] = {
    {"reg:squarederror", BASE_IDENTITY, KEEL_TF_IDENTITY},
    {"reg:linear", BASE_IDENTITY, KEEL_TF_IDENTITY},
    {"reg:squaredlogerror", BASE_IDENTITY, KEEL_TF_IDENTITY},
    {"reg:pseudohubererror", BASE_IDENTITY, KEEL_TF_IDENTITY},
    {"reg:absoluteerror", BASE_IDENTITY, KEEL_TF_IDENTITY},
    {"reg:logistic", BASE_LOGIT, KEEL_TF_SIGMOID},
    {"binary:logistic", BASE_LOGIT, KEEL_TF_SIGMOID},
    {"binary:logitraw", BASE_IDENTITY, KEEL_TF_IDENTITY},
    {"binary:hinge", BASE_IDENTITY, KEEL_TF_HINGE},
    {"count:poisson", BASE_LOG, KEEL_TF_EXP},
    {"reg:gamma", BASE_LOG, KEEL_TF_EXP},
    {"reg:tweedie", BASE_LOG, KEEL_TF_EXP},
    {"multi:softprob", BASE_IDENTITY, KEEL_TF_SOFTMAX},
    {"multi:softmax", BASE_IDENTITY, KEEL_TF_ARGMAX},
    {"rank:pairwise", BASE_IDENTITY, KEEL_TF_IDENTITY},
    {"rank:ndcg", BASE_IDENTITY, KEEL_TF_IDENTITY},
    {"rank:map", BASE_IDENTITY, KEEL_TF_IDENTITY},
};

/* The member `field` of obj as an object/array/string, or an error naming
 * path.field. */
static int get_typed(const json_t *obj, const char *path, const char *field, json_type type,
                     json_t **out, keel_err *err)
{
    static const char *const type_names[] = {"an object", "an array", "a string",
                                              "an integer", "a real", "true", "false",
                                              "null"};
    json_t *v = json_object_get(obj, field);
    if (v == NULL)
        return keel_errf(err, KEEL_EINVAL, "%s.%s: missing", path, field);
    if (json_typeof(v) != type)
        return keel_errf(err, KEEL_EINVAL, "%s.%s: expected %s", path, field,
                         type_names[type]);
    *out = v;
    return KEEL_OK;
}

/* An integer field written as a number or as a decimal string (XGBoost
 * writes its parameters as strings), within [lo, hi]. */
static int get_int_param(const json_t *obj, const char *path, const char *field, bool required,
                         int64_t lo, int64_t hi, int64_t *out, keel_err *err)
{
    int rc = keel_json_get_int64(obj, field, required, out, err);
    if (rc != KEEL_OK)
        return keel_err_prefix(err, "%s", path);
    if (*out < lo || *out > hi)
        return keel_errf(err, KEEL_EINVAL, "%s.%s: %lld is out of range [%lld, %lld]", path,
                         field, (long long)*out, (long long)lo, (long long)hi);
    return KEEL_OK;
}

/* base_score: a string float ("5E-1") as XGBoost writes it, or a number. */
static int get_base_score(const json_t *param, float *out, keel_err *err)
{
    const char *field = "learner.learner_model_param.base_score";
    json_t *v = json_object_get(param, "base_score");
    if (v == NULL) {
        *out = 0.5f;
        return KEEL_OK;
    }
    if (json_is_number(v)) {
        *out = (float)json_number_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end = NULL;
        errno = 0;
        *out = strtof(s, &end);
        if (end == s || *end != '\0' || errno == ERANGE)
            return keel_errf(err, KEEL_EINVAL, "%s: '%.40s' is not a number", field, s);
    } else {
        return keel_errf(err, KEEL_EINVAL, "%s: expected a number or a string", field);
    }
    if (!isfinite(*out))
        return keel_errf(err, KEEL_EINVAL, "%s: must be finite", field);
    return KEEL_OK;
}

static int set_objective(struct keel_model *m, const json_t *learner, float base_score,
                         keel_err *err)
{
    json_t *objective;
    int rc = get_typed(learner, "learner", "objective", JSON_OBJECT, &objective, err);
    if (rc != KEEL_OK)
        return rc;
    json_t *name;
    if ((rc = get_typed(objective, "learner.objective", "name", JSON_STRING, &name, err)) !=
        KEEL_OK)
        return rc;
    const char *s = json_string_value(name);
    const objective_rule *rule = NULL;
    for (size_t i = 0; i < sizeof objective_rules / sizeof objective_rules[0]; i++)
        if (strcmp(objective_rules[i].name, s) == 0)
            rule = &objective_rules[i];
    if (rule == NULL)
        return keel_errf(err, KEEL_EINVAL, "learner.objective.name: unsupported objective '%.64s'",
                         s);
    snprintf(m->objective, sizeof m->objective, "%s", rule->name);
    m->transform = rule->transform;
    switch (rule->base) {
    case BASE_IDENTITY:
        m->base_margin = base_score;
        break;
    case BASE_LOGIT:
        if (!(base_score > 0.0f && base_score < 1.0f))
            return keel_errf(err, KEEL_EINVAL,
                             "learner.learner_model_param.base_score: %g must be in (0, 1) "
                             "for %s",
                             (double)base_score, rule->name);
        m->base_margin = -logf(1.0f / base_score - 1.0f);
        break;
    case BASE_LOG:
        if (!(base_score > 0.0f))
            return keel_errf(err, KEEL_EINVAL,
                             "learner.learner_model_param.base_score: %g must be positive for %s",
                             (double)base_score, rule->name);
        m->base_margin = logf(base_score);
        break;
    }
    return KEEL_OK;
}

/* The arrays of one tree, checked to hold n elements each. */
typedef struct tree_arrays {
    const json_t *left, *right, *split_indices, *split_conditions, *default_left, *split_type;
    size_t n;
} tree_arrays;

static int tree_array(const json_t *tree, const char *path, const char *field, size_t n,
                      bool required, const json_t **out, keel_err *err)
{
    json_t *v = json_object_get(tree, field);
    if (v == NULL && !required) {
        *out = NULL;
        return KEEL_OK;
    }
    if (v == NULL)
        return keel_errf(err, KEEL_EINVAL, "%s.%s: missing", path, field);
    if (!json_is_array(v))
        return keel_errf(err, KEEL_EINVAL, "%s.%s: expected an array", path, field);
    if (json_array_size(v) != n)
        return keel_errf(err, KEEL_EINVAL,
                         "%s.%s: has %zu elements, tree_param.num_nodes is %zu", path, field,
                         json_array_size(v), n);
    *out = v;
    return KEEL_OK;
}

static int array_int(const json_t *arr, const char *path, const char *field, size_t i,
                     int64_t *out, keel_err *err)
{
    const json_t *v = json_array_get(arr, i);
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return KEEL_OK;
    }
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return KEEL_OK;
    }
    return keel_errf(err, KEEL_EINVAL, "%s.%s[%zu]: expected an integer", path, field, i);
}

static int array_float(const json_t *arr, const char *path, const char *field, size_t i,
                       float *out, keel_err *err)
{
    const json_t *v = json_array_get(arr, i);
    if (!json_is_number(v))
        return keel_errf(err, KEEL_EINVAL, "%s.%s[%zu]: expected a number", path, field, i);
    double d = json_number_value(v);
    float f = (float)d;
    if (isnan(d) || (isinf(f) && !isinf(d)))
        return keel_errf(err, KEEL_EINVAL, "%s.%s[%zu]: %g does not fit a float", path, field, i,
                         d);
    *out = f;
    return KEEL_OK;
}

/* Growable node array with an upper bound. */
typedef struct node_vec {
    keel_model_node *v;
    size_t n, cap;
} node_vec;

static int node_vec_reserve(node_vec *nv, size_t more, keel_err *err)
{
    if (more > KEEL_MODEL_MAX_NODES || nv->n + more > KEEL_MODEL_MAX_NODES)
        return keel_errf(err, KEEL_ELIMIT, "the model has more than %zu nodes",
                         KEEL_MODEL_MAX_NODES);
    if (nv->n + more <= nv->cap)
        return KEEL_OK;
    size_t cap = nv->cap ? nv->cap : 1024;
    while (cap < nv->n + more)
        cap *= 2;
    keel_model_node *p = realloc(nv->v, cap * sizeof *p);
    if (p == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory compiling the model");
    nv->v = p;
    nv->cap = cap;
    return KEEL_OK;
}

/* Scratch reused across trees: old index -> new index, and the walk stack. */
typedef struct compile_scratch {
    uint32_t *new_index;   /* UINT32_MAX = not reached yet */
    uint32_t *stack;
    uint32_t *depth;       /* depth of each stacked node */
    size_t cap;
} compile_scratch;

static int scratch_reserve(compile_scratch *s, size_t n, keel_err *err)
{
    if (n <= s->cap)
        return KEEL_OK;
    uint32_t *a = realloc(s->new_index, n * sizeof *a);
    if (a != NULL)
        s->new_index = a;
    uint32_t *b = realloc(s->stack, n * sizeof *b);
    if (b != NULL)
        s->stack = b;
    uint32_t *c = realloc(s->depth, n * sizeof *c);
    if (c != NULL)
        s->depth = c;
    if (a == NULL || b == NULL || c == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory compiling the model");
    s->cap = n;
    return KEEL_OK;
}

/* Compiles tree `t` (JSON object at path) into nv, in depth-first preorder.
 * dart_weight multiplies every leaf (1 for gbtree). Writes the root index
 * and the tree's depth (0 for a single leaf). */
static int compile_tree(const json_t *tree, const char *path, float dart_weight, node_vec *nv,
                        compile_scratch *s, size_t *max_feature, uint32_t *out_root,
                        uint32_t *out_depth, keel_err *err)
{
    if (!json_is_object(tree))
        return keel_errf(err, KEEL_EINVAL, "%s: expected an object", path);
    json_t *tree_param;
    int rc = get_typed(tree, path, "tree_param", JSON_OBJECT, &tree_param, err);
    if (rc != KEEL_OK)
        return rc;
    char ppath[160];
    snprintf(ppath, sizeof ppath, "%s.tree_param", path);
    int64_t num_nodes = 0, leaf_vector = 0;
    if ((rc = get_int_param(tree_param, ppath, "num_nodes", true, 1,
                            (int64_t)KEEL_MODEL_MAX_NODES, &num_nodes, err)) != KEEL_OK)
        return rc;
    if ((rc = get_int_param(tree_param, ppath, "size_leaf_vector", false, 0, INT32_MAX,
                            &leaf_vector, err)) != KEEL_OK)
        return rc;
    if (leaf_vector != 0)
        return keel_errf(err, KEEL_EINVAL,
                         "%s.tree_param.size_leaf_vector: vector leaves are not supported", path);
    size_t n = (size_t)num_nodes;
    tree_arrays a = {.n = n};
    if ((rc = tree_array(tree, path, "left_children", n, true, &a.left, err)) != KEEL_OK ||
        (rc = tree_array(tree, path, "right_children", n, true, &a.right, err)) != KEEL_OK ||
        (rc = tree_array(tree, path, "split_indices", n, true, &a.split_indices, err)) !=
            KEEL_OK ||
        (rc = tree_array(tree, path, "split_conditions", n, true, &a.split_conditions, err)) !=
            KEEL_OK ||
        (rc = tree_array(tree, path, "default_left", n, true, &a.default_left, err)) != KEEL_OK ||
        (rc = tree_array(tree, path, "split_type", n, false, &a.split_type, err)) != KEEL_OK)
        return rc;
    const json_t *categories = json_object_get(tree, "categories");
    if (categories != NULL && (!json_is_array(categories) || json_array_size(categories) != 0))
        return keel_errf(err, KEEL_EINVAL,
                         "%s.categories: categorical splits are not supported (encode the "
                         "column one-hot or ordinal)",
                         path);
    if ((rc = scratch_reserve(s, n, err)) != KEEL_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        s->new_index[i] = UINT32_MAX;

    /* Depth-first from the root; a node seen twice means a cycle or a shared
     * subtree. New indices are given in visiting order, so a parent always
     * precedes its children; children are patched once they are placed. */
    size_t top = 0;
    uint32_t tree_depth = 0;
    s->stack[top] = 0;
    s->depth[top] = 0;
    top++;
    s->new_index[0] = 0; /* reserved: marks "reached" */
    size_t first = nv->n;
    while (top > 0) {
        top--;
        uint32_t old = s->stack[top], depth = s->depth[top];
        if ((rc = node_vec_reserve(nv, 1, err)) != KEEL_OK)
            return rc;
        uint32_t idx = (uint32_t)nv->n++;
        s->new_index[old] = idx;
        if (depth > tree_depth)
            tree_depth = depth;
        keel_model_node *node = &nv->v[idx];
        int64_t left, right;
        if ((rc = array_int(a.left, path, "left_children", old, &left, err)) != KEEL_OK ||
            (rc = array_int(a.right, path, "right_children", old, &right, err)) != KEEL_OK)
            return rc;
        float value;
        if ((rc = array_float(a.split_conditions, path, "split_conditions", old, &value, err)) !=
            KEEL_OK)
            return rc;
        if (left == -1 && right == -1) {
            node->feature = 0;
            node->value = dart_weight == 1.0f ? value : value * dart_weight;
            node->child[0] = node->child[1] = idx;
            continue;
        }
        if (left == -1 || right == -1)
            return keel_errf(err, KEEL_EINVAL,
                             "%s: node %u has one child (left_children %lld, right_children "
                             "%lld)",
                             path, old, (long long)left, (long long)right);
        if (left < 0 || (size_t)left >= n || right < 0 || (size_t)right >= n)
            return keel_errf(err, KEEL_EINVAL,
                             "%s.%s[%u]: child index %lld is out of range [0, %zu)", path,
                             left < 0 || (size_t)left >= n ? "left_children" : "right_children",
                             old, left < 0 || (size_t)left >= n ? (long long)left
                                                                : (long long)right,
                             n);
        if (left == right || s->new_index[left] != UINT32_MAX ||
            s->new_index[right] != UINT32_MAX)
            return keel_errf(err, KEEL_EINVAL,
                             "%s: node %u links to node %lld, which is already in the tree "
                             "(a cycle or a shared subtree)",
                             path, old,
                             left == right || s->new_index[left] != UINT32_MAX ? (long long)left
                                                                               : (long long)right);
        int64_t feature, default_left, split_type = 0;
        if ((rc = array_int(a.split_indices, path, "split_indices", old, &feature, err)) !=
                KEEL_OK ||
            (rc = array_int(a.default_left, path, "default_left", old, &default_left, err)) !=
                KEEL_OK)
            return rc;
        if (a.split_type != NULL &&
            (rc = array_int(a.split_type, path, "split_type", old, &split_type, err)) != KEEL_OK)
            return rc;
        if (split_type != 0)
            return keel_errf(err, KEEL_EINVAL,
                             "%s.split_type[%u]: categorical splits are not supported (encode "
                             "the column one-hot or ordinal)",
                             path, old);
        if (feature < 0 || (size_t)feature >= KEEL_MODEL_MAX_FEATURES)
            return keel_errf(err, KEEL_EINVAL, "%s.split_indices[%u]: %lld is out of range", path,
                             old, (long long)feature);
        if (default_left != 0 && default_left != 1)
            return keel_errf(err, KEEL_EINVAL, "%s.default_left[%u]: expected 0 or 1", path, old);
        if ((size_t)feature + 1 > *max_feature)
            *max_feature = (size_t)feature + 1;
        node->feature = (uint32_t)feature | (default_left ? KEEL_MODEL_DEFAULT_LEFT : 0);
        node->value = value;
        /* Children are placed later; remember their old indices for now. */
        node->child[0] = (uint32_t)left;
        node->child[1] = (uint32_t)right;
        s->new_index[left] = s->new_index[right] = 0; /* reached */
        s->stack[top] = (uint32_t)right;
        s->depth[top] = depth + 1;
        top++;
        s->stack[top] = (uint32_t)left;
        s->depth[top] = depth + 1;
        top++;
    }
    /* Patch children from old to new indices. */
    for (size_t i = first; i < nv->n; i++) {
        keel_model_node *node = &nv->v[i];
        if (node->child[0] == node->child[1])
            continue; /* a leaf (an inner node's children differ) */
        node->child[0] = s->new_index[node->child[0]];
        node->child[1] = s->new_index[node->child[1]];
    }
    *out_root = (uint32_t)first;
    *out_depth = tree_depth;
    return KEEL_OK;
}

/* Writes node i of the compiled trees and its subtree at heap slot pos
 * (depth d) of a perfect tree of depth D. */
static void fill_perfect(const keel_model_node *nodes, uint32_t i, size_t pos, uint32_t d,
                         uint32_t D, keel_model_split *splits, float *leaves)
{
    const keel_model_node *nd = &nodes[i];
    const size_t inner = ((size_t)1 << D) - 1;
    if (d == D) {
        leaves[pos - inner] = nd->value;
        return;
    }
    if (nd->child[0] == nd->child[1]) {
        /* A leaf above the last level: always right (x < NaN is false,
         * missing goes right) down to one slot. */
        splits[pos] = (keel_model_split){.feature = 0, .threshold = NAN};
        fill_perfect(nodes, i, 2 * pos + 2, d + 1, D, splits, leaves);
        return;
    }
    splits[pos] = (keel_model_split){.feature = nd->feature, .threshold = nd->value};
    fill_perfect(nodes, nd->child[0], 2 * pos + 1, d + 1, D, splits, leaves);
    fill_perfect(nodes, nd->child[1], 2 * pos + 2, d + 1, D, splits, leaves);
}

/* Builds the perfect layout when every tree is at most
 * KEEL_MODEL_PERFECT_MAX_DEPTH deep and it costs at most 16 MiB or 4x the
 * node array; otherwise leaves it off (perfect_depth 0). */
static int compile_perfect(struct keel_model *m, keel_err *err)
{
    uint32_t D = 0;
    for (size_t t = 0; t < m->n_trees; t++)
        if (m->tree_depth[t] > D)
            D = m->tree_depth[t];
    if (D == 0 || D > KEEL_MODEL_PERFECT_MAX_DEPTH)
        return KEEL_OK;
    size_t inner = ((size_t)1 << D) - 1, leaves = (size_t)1 << D;
    size_t bytes = m->n_trees_padded * (inner * sizeof(keel_model_split) + leaves * sizeof(float));
    if (bytes > ((size_t)16 << 20) && bytes > 4 * m->n_nodes * sizeof *m->nodes)
        return KEEL_OK;
    m->perfect_splits = calloc(m->n_trees_padded * inner, sizeof *m->perfect_splits);
    m->perfect_leaves = calloc(m->n_trees_padded * leaves, sizeof *m->perfect_leaves);
    if (m->perfect_splits == NULL || m->perfect_leaves == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory compiling the model");
    /* Padding trees stay all zero: every walk ends on a 0 leaf. */
    for (size_t t = 0; t < m->n_trees; t++)
        fill_perfect(m->nodes, m->tree_root[t], 0, 0, D, m->perfect_splits + t * inner,
                     m->perfect_leaves + t * leaves);
    m->perfect_depth = D;
    return KEEL_OK;
}

/* gradient_booster → the gbtree model object and, for dart, weight_drop. */
static int find_gbtree(const json_t *learner, const json_t **out_model,
                       const json_t **out_weights, keel_err *err)
{
    json_t *booster, *name;
    int rc = get_typed(learner, "learner", "gradient_booster", JSON_OBJECT, &booster, err);
    if (rc != KEEL_OK)
        return rc;
    if ((rc = get_typed(booster, "learner.gradient_booster", "name", JSON_STRING, &name, err)) !=
        KEEL_OK)
        return rc;
    const char *s = json_string_value(name);
    json_t *model;
    *out_weights = NULL;
    if (strcmp(s, "gbtree") == 0) {
        if ((rc = get_typed(booster, "learner.gradient_booster", "model", JSON_OBJECT, &model,
                            err)) != KEEL_OK)
            return rc;
    } else if (strcmp(s, "dart") == 0) {
        json_t *inner, *weights;
        if ((rc = get_typed(booster, "learner.gradient_booster", "gbtree", JSON_OBJECT, &inner,
                            err)) != KEEL_OK ||
            (rc = get_typed(inner, "learner.gradient_booster.gbtree", "model", JSON_OBJECT,
                            &model, err)) != KEEL_OK ||
            (rc = get_typed(booster, "learner.gradient_booster", "weight_drop", JSON_ARRAY,
                            &weights, err)) != KEEL_OK)
            return rc;
        *out_weights = weights;
    } else {
        return keel_errf(err, KEEL_EINVAL,
                         "learner.gradient_booster.name '%.32s' is not supported (gbtree and dart "
                         "are)",
                         s);
    }
    *out_model = model;
    return KEEL_OK;
}

static int compile(const json_t *root, struct keel_model *m, keel_err *err)
{
    if (!json_is_object(root))
        return keel_errf(err, KEEL_EINVAL, "model: expected a JSON object");
    json_t *learner, *param;
    int rc = get_typed(root, "model", "learner", JSON_OBJECT, &learner, err);
    if (rc != KEEL_OK)
        return rc;
    rc = get_typed(learner, "learner", "learner_model_param", JSON_OBJECT, &param, err);
    if (rc != KEEL_OK)
        return rc;
    const char *ppath = "learner.learner_model_param";
    int64_t num_class = 0, num_feature = 0, num_target = 1;
    float base_score = 0.5f;
    if ((rc = get_int_param(param, ppath, "num_class", false, 0, KEEL_MODEL_MAX_GROUPS,
                            &num_class, err)) != KEEL_OK ||
        (rc = get_int_param(param, ppath, "num_feature", true, 0,
                            (int64_t)KEEL_MODEL_MAX_FEATURES, &num_feature, err)) != KEEL_OK ||
        (rc = get_int_param(param, ppath, "num_target", false, 1, KEEL_MODEL_MAX_GROUPS,
                            &num_target, err)) != KEEL_OK ||
        (rc = get_base_score(param, &base_score, err)) != KEEL_OK)
        return rc;
    if ((rc = set_objective(m, learner, base_score, err)) != KEEL_OK)
        return rc;
    m->n_groups = (size_t)(num_class > num_target ? num_class : num_target);
    if (m->n_groups == 0)
        m->n_groups = 1;
    bool multi = strncmp(m->objective, "multi:", 6) == 0;
    if (multi && num_class < 1)
        return keel_errf(err, KEEL_EINVAL, "%s.num_class: must be positive for %s", ppath,
                         m->objective);
    if (!multi && m->n_groups != 1)
        return keel_errf(err, KEEL_EINVAL, "%s: %zu output groups with objective %s", ppath,
                         m->n_groups, m->objective);
    m->n_outputs = m->transform == KEEL_TF_ARGMAX ? 1 : m->n_groups;

    const json_t *model = NULL, *weights = NULL;
    if ((rc = find_gbtree(learner, &model, &weights, err)) != KEEL_OK)
        return rc;
    const char *mpath = "learner.gradient_booster.model";
    json_t *trees, *tree_info, *gparam = json_object_get(model, "gbtree_model_param");
    if ((rc = get_typed(model, mpath, "trees", JSON_ARRAY, &trees, err)) != KEEL_OK ||
        (rc = get_typed(model, mpath, "tree_info", JSON_ARRAY, &tree_info, err)) != KEEL_OK)
        return rc;
    size_t n_trees = json_array_size(trees);
    if (json_array_size(tree_info) != n_trees)
        return keel_errf(err, KEEL_EINVAL, "%s.tree_info: has %zu elements for %zu trees", mpath,
                         json_array_size(tree_info), n_trees);
    if (weights != NULL && json_array_size(weights) != n_trees)
        return keel_errf(err, KEEL_EINVAL,
                         "learner.gradient_booster.weight_drop: has %zu elements for %zu trees",
                         json_array_size(weights), n_trees);
    if (gparam != NULL) {
        int64_t parallel = 1, num_trees = (int64_t)n_trees;
        if (!json_is_object(gparam))
            return keel_errf(err, KEEL_EINVAL, "%s.gbtree_model_param: expected an object",
                             mpath);
        if ((rc = get_int_param(gparam, "learner.gradient_booster.model.gbtree_model_param",
                                "num_parallel_tree", false, 1, INT32_MAX, &parallel, err)) !=
                KEEL_OK ||
            (rc = get_int_param(gparam, "learner.gradient_booster.model.gbtree_model_param",
                                "num_trees", false, 0, INT64_MAX, &num_trees, err)) != KEEL_OK)
            return rc;
        if ((size_t)num_trees != n_trees)
            return keel_errf(err, KEEL_EINVAL,
                             "%s.gbtree_model_param.num_trees: %lld, but trees has %zu", mpath,
                             (long long)num_trees, n_trees);
    }
    if (n_trees > KEEL_MODEL_MAX_NODES)
        return keel_errf(err, KEEL_ELIMIT, "%s.trees: too many trees", mpath);

    size_t padded = (n_trees + KEEL_MODEL_LANES - 1) / KEEL_MODEL_LANES * KEEL_MODEL_LANES;
    if (padded == 0)
        padded = KEEL_MODEL_LANES;
    m->n_trees = n_trees;
    m->n_trees_padded = padded;
    m->tree_root = calloc(padded, sizeof *m->tree_root);
    m->tree_group = calloc(padded, sizeof *m->tree_group);
    m->tree_depth = calloc(padded, sizeof *m->tree_depth);
    m->block_depth = calloc(padded / KEEL_MODEL_LANES, sizeof *m->block_depth);
    if (m->tree_root == NULL || m->tree_group == NULL || m->tree_depth == NULL ||
        m->block_depth == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory compiling the model");

    node_vec nv = {0};
    compile_scratch s = {0};
    size_t max_feature = (size_t)num_feature;
    for (size_t t = 0; t < n_trees && rc == KEEL_OK; t++) {
        char path[96];
        snprintf(path, sizeof path, "%s.trees[%zu]", mpath, t);
        const json_t *g = json_array_get(tree_info, t);
        if (!json_is_integer(g) || json_integer_value(g) < 0 ||
            (size_t)json_integer_value(g) >= m->n_groups) {
            rc = keel_errf(err, KEEL_EINVAL,
                           "%s.tree_info[%zu]: expected an output group in [0, %zu)", mpath, t,
                           m->n_groups);
            break;
        }
        m->tree_group[t] = (uint32_t)json_integer_value(g);
        float w = 1.0f;
        if (weights != NULL) {
            rc = array_float(weights, "learner.gradient_booster", "weight_drop", t, &w, err);
            if (rc != KEEL_OK)
                break;
        }
        uint32_t depth = 0;
        rc = compile_tree(json_array_get(trees, t), path, w, &nv, &s, &max_feature,
                          &m->tree_root[t], &depth, err);
        m->tree_depth[t] = depth;
        if (rc == KEEL_OK && depth > m->block_depth[t / KEEL_MODEL_LANES])
            m->block_depth[t / KEEL_MODEL_LANES] = depth;
    }
    if (rc == KEEL_OK)
        rc = node_vec_reserve(&nv, 1, err);
    if (rc == KEEL_OK) {
        /* The padding trees' shared leaf. */
        uint32_t pad = (uint32_t)nv.n++;
        nv.v[pad] = (keel_model_node){.feature = 0, .value = 0.0f, .child = {pad, pad}};
        for (size_t t = n_trees; t < padded; t++)
            m->tree_root[t] = pad;
        /* Give back the slack. */
        keel_model_node *shrunk = realloc(nv.v, nv.n * sizeof *nv.v);
        if (shrunk != NULL)
            nv.v = shrunk;
        m->nodes = nv.v;
        m->n_nodes = nv.n;
        nv.v = NULL;
        m->n_features = max_feature;
        rc = compile_perfect(m, err);
    }
    free(nv.v);
    free(s.new_index);
    free(s.stack);
    free(s.depth);
    return rc;
}

int keel_model_load(const char *json, size_t len, keel_model **out, keel_err *err)
{
    if (out == NULL || (json == NULL && len > 0))
        return keel_errf(err, KEEL_EINVAL, "keel_model_load: no input or output");
    *out = NULL;
    if (len > KEEL_MODEL_MAX_BYTES)
        return keel_errf(err, KEEL_ELIMIT, "model: %zu bytes is over the limit of %zu", len,
                         KEEL_MODEL_MAX_BYTES);
    json_t *root = NULL;
    int rc = keel_json_parse(json, len, KEEL_JSON_MAX_DEPTH, &root, err);
    if (rc != KEEL_OK)
        return keel_err_prefix(err, "model");
    struct keel_model *m = calloc(1, sizeof *m);
    if (m == NULL) {
        json_decref(root);
        return keel_errf(err, KEEL_ENOMEM, "out of memory loading the model");
    }
    rc = compile(root, m, err);
    json_decref(root);
    if (rc != KEEL_OK) {
        keel_model_free(m);
        return rc;
    }
    *out = m;
    return KEEL_OK;
}

int keel_model_load_file(const char *path, keel_model **out, keel_err *err)
{
    if (path == NULL || out == NULL)
        return keel_errf(err, KEEL_EINVAL, "keel_model_load_file: no path or output");
    *out = NULL;
    char *data = NULL;
    size_t len = 0;
    int rc = keel_read_file(path, KEEL_MODEL_MAX_BYTES, &data, &len, err);
    if (rc != KEEL_OK)
        return rc;
    rc = keel_model_load(data, len, out, err);
    free(data);
    if (rc != KEEL_OK)
        return keel_err_prefix(err, "%s", path);
    return KEEL_OK;
}

void keel_model_free(keel_model *m)
{
    if (m == NULL)
        return;
    free(m->nodes);
    free(m->tree_root);
    free(m->tree_group);
    free(m->tree_depth);
    free(m->block_depth);
    free(m->perfect_splits);
    free(m->perfect_leaves);
    free(m);
}

size_t keel_model_num_features(const keel_model *m)
{
    return m->n_features;
}

size_t keel_model_num_outputs(const keel_model *m)
{
    return m->n_outputs;
}

size_t keel_model_num_trees(const keel_model *m)
{
    return m->n_trees;
}

const char *keel_model_objective(const keel_model *m)
{
    return m->objective;
}
