/*
 * yaml_doc.h — what keel's YAML readers (keel.yaml, features.yaml, gate
 * policies, alert rules) share: loading a document from counted bytes with
 * a syntax error placed at file:line:column, messages placed at a node, and
 * a node's scalar text.
 */
#ifndef KEEL_CORE_YAML_DOC_H
#define KEEL_CORE_YAML_DOC_H

#include <keel/error.h>

#include <stdarg.h>
#include <stddef.h>
#include <yaml.h>

/* Parses text[0..len) into *doc (yaml_document_delete it after KEEL_OK).
 * KEEL_ELIMIT past max_bytes; KEEL_EPARSE with "file:line:column: problem"
 * on a syntax error. */
int keel_yaml_parse(const char *file, const char *text, size_t len, size_t max_bytes,
                    yaml_document_t *doc, keel_err *err);

/* Sets err to code and "file:line:column: message" at node n; returns code. */
int keel_yaml_vfail(keel_err *err, const char *file, const yaml_node_t *n, int code,
                    const char *fmt, va_list ap);

/* Index of key node k in keys[0..n_keys) into *out; an unknown key is
 * KEEL_EINVAL at k: "unknown key 'x' in WHERE (allowed: a, b, …)". */
int keel_yaml_key_index(keel_err *err, const char *file, const yaml_node_t *k,
                        const char *const *keys, size_t n_keys, const char *where, size_t *out);

/* The text of a scalar node; NULL for NULL, a mapping or a sequence. */
const char *keel_yaml_scalar(const yaml_node_t *n);

#endif
