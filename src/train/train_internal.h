/*
 * train_internal.h — shared by the trainer, the bundle code and evaluate.
 */
#ifndef KEEL_TRAIN_INTERNAL_H
#define KEEL_TRAIN_INTERNAL_H

#include <keel/encode.h>
#include <keel/train.h>

#include <jansson.h>

/* How the target column maps to labels. */
typedef struct target_map {
    const char *column;
    enum keel_task task;
    enum keel_col_type type;
    const char **classes;     /* binary / multiclass: label i is classes[i] */
    size_t n_classes;
} target_map;

/* Decides the task (from the objective when given) and the classes. */
int target_map_fit(const keel_frame *f, const size_t *rows, size_t n, const char *column,
                   const char *objective, const char *positive, keel_arena *a, target_map *out,
                   keel_err *err);

/* Labels for rows (NaN where the target is missing or not a known class). */
void target_map_labels(const target_map *t, const keel_frame *f, const size_t *rows, size_t n,
                       float *out);

json_t *target_map_to_json(const target_map *t);
int target_map_from_json(const json_t *j, keel_arena *a, target_map *out, keel_err *err);

/* Evaluates predictions (XGBoost's output: probabilities or values) against
 * float labels. */
int evaluate_predictions(enum keel_task task, const float *labels, const float *pred, size_t n,
                         size_t n_classes, keel_eval *out, keel_err *err);

#endif
