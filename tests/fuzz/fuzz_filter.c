/*
 * fuzz_filter.c — libFuzzer target for the search grammar: every input is
 * parsed as a filter and as an order_by item for every search target (runs,
 * experiments, registered models, model versions), each parsed tree is
 * compiled for every target (a tree compiled for the wrong target must fail
 * cleanly), and the input is also decoded as a page token.
 *
 * Invariants checked (abort on violation): a tree parsed for a target
 * compiles for it; the SQL has exactly one `?` per bound argument, so no
 * value was spliced into the text; a failure always carries a message.
 */
#include "tracking/search_filter.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t count_placeholders(const keel_sql *sql)
{
    size_t n = 0;
    for (size_t i = 0; i < sql->text.len; i++)
        n += sql->text.data[i] == '?';
    return n;
}

static void check_failure(int rc, const keel_err *err)
{
    if (rc != KEEL_OK && (err->code != rc || err->msg[0] == '\0'))
        abort();
}

static void compile_filter(const keel_filter_node *root, enum keel_search_target parsed_for,
                           enum keel_search_target target)
{
    keel_sql sql;
    keel_err err;
    keel_sql_init(&sql);
    int rc = keel_filter_compile(root, target, &sql, &err);
    check_failure(rc, &err);
    if (rc != KEEL_OK && target == parsed_for)
        abort();
    if (rc == KEEL_OK && count_placeholders(&sql) != sql.n_args)
        abort();
    keel_sql_free(&sql);
}

static void compile_order(const keel_order_by *item, enum keel_search_target target)
{
    keel_sql sql;
    keel_err err;
    keel_sql_init(&sql);
    int rc = keel_order_by_compile(item, 1, target, &sql, &err);
    check_failure(rc, &err);
    if (rc == KEEL_OK && count_placeholders(&sql) != sql.n_args)
        abort();
    keel_sql_free(&sql);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2 * KEEL_FILTER_MAX_LEN)
        return 0;
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    keel_arena a;
    keel_arena_init(&a, 0);
    for (int t = 0; t < KEEL_SEARCH_TARGET_COUNT; t++) {
        enum keel_search_target target = (enum keel_search_target)t;
        keel_err err;
        keel_filter_node *root = NULL;
        int rc = keel_filter_parse(text, target, &a, &root, &err);
        check_failure(rc, &err);
        if (rc == KEEL_OK)
            for (int c = 0; c < KEEL_SEARCH_TARGET_COUNT; c++)
                compile_filter(root, target, (enum keel_search_target)c);
        keel_order_by item;
        rc = keel_order_by_parse(text, target, &a, &item, &err);
        check_failure(rc, &err);
        if (rc == KEEL_OK)
            for (int c = 0; c < KEEL_SEARCH_TARGET_COUNT; c++)
                compile_order(&item, (enum keel_search_target)c);
    }
    keel_err err;
    int64_t offset;
    int rc = keel_page_token_decode(text, &offset, &err);
    check_failure(rc, &err);
    if (rc == KEEL_OK && offset < 0)
        abort();
    keel_arena_free(&a);
    free(text);
    return 0;
}
