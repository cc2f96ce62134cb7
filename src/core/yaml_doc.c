/*
 * yaml_doc.c — shared pieces of keel's YAML readers (see yaml_doc.h).
 * libyaml keeps marks 0-based; messages are 1-based like compilers'.
 */
#include "yaml_doc.h"

#include <stdio.h>
#include <string.h>

int keel_yaml_parse(const char *file, const char *text, size_t len, size_t max_bytes,
                    yaml_document_t *doc, keel_err *err)
{
    if (len > max_bytes)
        return keel_errf(err, KEEL_ELIMIT, "%s: larger than %zu bytes", file, max_bytes);
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return keel_errf(err, KEEL_ENOMEM, "%s: cannot start the YAML parser", file);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = KEEL_OK;
    if (!yaml_parser_load(&parser, doc))
        rc = keel_errf(err, KEEL_EPARSE, "%s:%zu:%zu: %s", file, parser.problem_mark.line + 1,
                       parser.problem_mark.column + 1,
                       parser.problem != NULL ? parser.problem : "YAML syntax error");
    yaml_parser_delete(&parser);
    return rc;
}

int keel_yaml_vfail(keel_err *err, const char *file, const yaml_node_t *n, int code,
                    const char *fmt, va_list ap)
{
    char msg[400];
    vsnprintf(msg, sizeof msg, fmt, ap);
    return keel_errf(err, code, "%s:%zu:%zu: %s", file, n->start_mark.line + 1,
                     n->start_mark.column + 1, msg);
}

const char *keel_yaml_scalar(const yaml_node_t *n)
{
    return n != NULL && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int fail(keel_err *err, const char *file, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(keel_err *err, const char *file, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = keel_yaml_vfail(err, file, n, KEEL_EINVAL, fmt, ap);
    va_end(ap);
    return rc;
}

int keel_yaml_key_index(keel_err *err, const char *file, const yaml_node_t *k,
                        const char *const *keys, size_t n_keys, const char *where, size_t *out)
{
    const char *key = keel_yaml_scalar(k);
    for (size_t i = 0; key != NULL && i < n_keys; i++)
        if (strcmp(key, keys[i]) == 0) {
            *out = i;
            return KEEL_OK;
        }
    char allowed[300] = "";
    for (size_t i = 0; i < n_keys; i++)
        snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s",
                 i ? ", " : "", keys[i]);
    return fail(err, file, k, "unknown key '%s' in %s (allowed: %s)", key != NULL ? key : "?",
                where, allowed);
}
