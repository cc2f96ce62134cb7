/*
 * keel/json.h — helpers over jansson: bounded parsing with the offending
 * position in the error, typed field access that names the field on error,
 * and numbers that may be non-finite (written as protobuf's JSON does:
 * "NaN", "Infinity", "-Infinity").
 */
#ifndef KEEL_JSON_H
#define KEEL_JSON_H

#include <keel/error.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define KEEL_JSON_MAX_DEPTH 64

/* Parses len counted bytes (no NUL needed) into a new reference (json_decref
 * it). Fails with KEEL_EPARSE naming line:column, or KEEL_ELIMIT when arrays
 * and objects nest deeper than max_depth. */
int keel_json_parse(const char *data, size_t len, int max_depth, json_t **out, keel_err *err);

/* A new reference for d: a real, or a string for NaN and the infinities. */
json_t *keel_json_double(double d);

/* Reads a number or one of the strings above into *out. */
int keel_json_to_double(const json_t *v, const char *field, double *out, keel_err *err);

/* Field getters. A missing field: KEEL_EINVAL when required, else *out keeps
 * its value. A field of the wrong type: KEEL_EINVAL naming it. Integers may
 * also be given as decimal strings (proto3 JSON writes int64 that way).
 * Strings are borrowed from obj. */
int keel_json_get_string(const json_t *obj, const char *field, bool required,
                         const char **out, keel_err *err);
int keel_json_get_int64(const json_t *obj, const char *field, bool required,
                        int64_t *out, keel_err *err);
int keel_json_get_bool(const json_t *obj, const char *field, bool required,
                       bool *out, keel_err *err);

/* Serialises v in insertion order, reals in their shortest round-trip form
 * ("0.1"), pretty with two-space indents when asked; free() the result.
 * NULL when out of memory. */
char *keel_json_dumps(const json_t *v, bool pretty);

struct keel_buf;

/* The same, appended to out (which caps the size: KEEL_ELIMIT past it). */
int keel_json_dump_buf(const json_t *v, bool pretty, struct keel_buf *out);

/* Pieces for writers that emit JSON directly, without a tree: a quoted,
 * escaped string of n bytes; a number in shortest round-trip form (NaN and
 * the infinities as protobuf's strings). */
int keel_json_write_string(struct keel_buf *out, const char *s, size_t n);
int keel_json_write_double(struct keel_buf *out, double d);

/* For readers that scan JSON without a tree: the length of the number
 * literal at p (before end) by JSON's grammar exactly,
 * -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, or 0 when there is none;
 * *out_integral says whether it has neither fraction nor exponent. */
size_t keel_json_number_span(const char *p, const char *end, bool *out_integral);

#endif
