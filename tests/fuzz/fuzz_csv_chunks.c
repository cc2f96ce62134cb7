/*
 * fuzz_csv_chunks.c — the chunked CSV reader (keel_csv_chunks) against the
 * whole-file reader on the same bytes. The first byte picks the chunk size
 * (1 to 64 bytes, so records straddle chunks everywhere) and the delimiter
 * (',' or ';'); the rest is the file. Whenever keel_csv_parse accepts the file, reading it in chunks must
 * succeed too, give the same columns and the same number of rows.
 */
#include <keel/data.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[64];

static void remove_file(void)
{
    if (path[0] != '\0')
        unlink(path);
}

static int write_file(const uint8_t *data, size_t size)
{
    if (path[0] == '\0') {
        snprintf(path, sizeof path, "/tmp/fuzz_csv_chunks.%ld.csv", (long)getpid());
        atexit(remove_file);
    }
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t w = size > 0 ? fwrite(data, 1, size, f) : 0;
    return fclose(f) == 0 && w == size ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t chunk = 1 + (data[0] & 63);
    char delim = (data[0] & 64) != 0 ? ';' : ',';
    data++;
    size--;
    if (write_file(data, size) != 0)
        abort();
    keel_err err;
    keel_frame *whole = NULL;
    keel_csv_options opts = { .delimiter = delim };
    bool whole_ok = keel_csv_parse(path, (const char *)data, size, &opts, &whole, &err) == KEEL_OK;

    keel_csv_chunks *c = NULL;
    size_t rows = 0;
    bool chunks_ok = keel_csv_chunks_open(path, delim, chunk, &c, &err) == KEEL_OK;
    keel_frame *header = NULL;
    if (chunks_ok && keel_csv_chunks_header(c, &header, &err) != KEEL_OK)
        chunks_ok = false;
    keel_frame *f = NULL;
    while (chunks_ok) {
        if (keel_csv_chunks_next(c, NULL, &f, &err) != KEEL_OK) {
            chunks_ok = false;
            break;
        }
        if (f == NULL)
            break;
        if (whole_ok && f->n_cols != whole->n_cols)
            abort();
        rows += f->n_rows;
        keel_frame_destroy(f);
    }
    if (whole_ok) {
        if (!chunks_ok) {
            fprintf(stderr, "chunked read failed where the whole read did not: %s\n", err.msg);
            abort();
        }
        if (header->n_cols != whole->n_cols || rows != whole->n_rows)
            abort();
        for (size_t i = 0; i < whole->n_cols; i++)
            if (strcmp(header->cols[i].name, whole->cols[i].name) != 0)
                abort();
    }
    keel_frame_destroy(header);
    keel_csv_chunks_close(c);
    keel_frame_destroy(whole);
    return 0;
}
