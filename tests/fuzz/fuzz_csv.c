/*
 * fuzz_csv.c — the CSV reader over arbitrary bytes (plain or gzip), with
 * the first byte choosing an option variant: default, ';' delimiter without
 * a header, a custom NA list with a small max_field and max_rows, and type
 * overrides; some inputs are tiled to take the two-thread path. A
 * successful frame is walked cell by cell and put through
 * keel_frame_take, so every array, bitmap and dictionary entry is touched.
 */
#include <keel/data.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void walk(const keel_frame *f)
{
    volatile double sink = 0;
    for (size_t c = 0; c < f->n_cols; c++) {
        const keel_column *col = &f->cols[c];
        sink += (double)strlen(col->name);
        for (size_t r = 0; r < f->n_rows; r++) {
            sink += keel_column_number(col, r);
            if (col->type == KEEL_COL_STRING && !keel_column_is_missing(col, r)) {
                if (col->codes[r] >= col->n_dict)
                    abort();
                sink += (double)strlen(col->dict[col->codes[r]]);
            }
        }
        if (keel_frame_column_index(f, col->name) < 0)
            abort();
    }
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static const char *const na[] = { "?", "-", "null" };
    static const keel_csv_type_override ov[] = {
        { "a", KEEL_COL_INT }, { "b", KEEL_COL_FLOAT }, { "c", KEEL_COL_STRING },
        { "d", KEEL_COL_DATETIME }, { "e", KEEL_COL_BOOL }, { "f", KEEL_COL_DATE },
    };
    keel_csv_options opts;
    memset(&opts, 0, sizeof opts);
    switch (data[0] & 3) {
    case 1:
        opts.delimiter = ';';
        opts.no_header = true;
        break;
    case 2:
        opts.na_values = na;
        opts.n_na_values = 3;
        opts.max_field = 8;
        opts.max_rows = 5;
        break;
    case 3:
        opts.delimiter = '\t';
        opts.overrides = ov;
        opts.n_overrides = sizeof ov / sizeof ov[0];
        break;
    }
    /* One input in eight is tiled past the reader's two-thread threshold,
     * so the split guess lands on whatever the bytes hold (inside quotes,
     * on a broken row) and the one-thread fallback is fuzzed too. */
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    char *tiled = NULL;
    if ((data[0] & 0x1C) == 0x1C && len > 0) {
        size_t reps = (300u << 10) / len + 1;
        tiled = malloc(reps * len);
        if (tiled == NULL)
            return 0;
        for (size_t i = 0; i < reps; i++)
            memcpy(tiled + i * len, text, len);
        text = tiled;
        len *= reps;
    }
    keel_frame *f = NULL;
    keel_err err;
    /* An override naming no column is an error by design; try without too. */
    int rc = keel_csv_parse("fuzz.csv", text, len, &opts, &f, &err);
    if (rc != KEEL_OK && opts.n_overrides > 0) {
        opts.n_overrides = 1;
        rc = keel_csv_parse("fuzz.csv", text, len, &opts, &f, &err);
    }
    free(tiled);
    if (rc != KEEL_OK) {
        if (f != NULL || err.msg[0] == '\0')
            abort();
        return 0;
    }
    walk(f);
    size_t rows[4] = { 0, 0, 0, 0 };
    size_t n = f->n_rows < 4 ? f->n_rows : 4;
    for (size_t i = 0; i < n; i++)
        rows[i] = f->n_rows - 1 - i;
    keel_frame *t = NULL;
    if (keel_frame_take(f, rows, n, &t, &err) != KEEL_OK)
        abort();
    walk(t);
    keel_frame_destroy(t);
    keel_frame_destroy(f);
    return 0;
}
