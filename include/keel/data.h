/*
 * keel/data.h — typed columnar frames and the CSV reader.
 *
 * A frame holds named, typed columns of equal length, all memory in one
 * arena freed with the frame. Strings are dictionary-encoded per column
 * (codes into a table of distinct values), which is what the encoders and
 * the profiler want anyway. Missing values are a per-column bitmap.
 *
 * The CSV reader follows RFC 4180 (quoted fields, doubled quotes, CRLF or LF,
 * newlines inside quotes), reads gzip input (detected by its magic bytes),
 * validates UTF-8, and infers each column's type over all rows: int, float,
 * bool, date, datetime, else string. Every error names the file, the line
 * and the column.
 */
#ifndef KEEL_DATA_H
#define KEEL_DATA_H

#include <keel/arena.h>
#include <keel/error.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEEL_CSV_MAX_COLUMNS 4096
#define KEEL_CSV_DEFAULT_MAX_FIELD (1u << 20)   /* bytes in one field */

enum keel_col_type {
    KEEL_COL_INT,       /* i64 */
    KEEL_COL_FLOAT,     /* f64 */
    KEEL_COL_BOOL,      /* i64: 0 / 1 (true/false, True/False, TRUE/FALSE) */
    KEEL_COL_DATE,      /* i64: days since 1970-01-01 (YYYY-MM-DD) */
    KEEL_COL_DATETIME,  /* i64: seconds since 1970-01-01 00:00:00 (YYYY-MM-DD[ T]HH:MM[:SS]), no zone */
    KEEL_COL_STRING,    /* codes into dict */
};

/* "int", "float", "bool", "date", "datetime", "string". */
const char *keel_col_type_name(enum keel_col_type t);
int keel_col_type_parse(const char *name, enum keel_col_type *out, keel_err *err);

typedef struct keel_column {
    const char *name;
    enum keel_col_type type;
    int64_t *i64;             /* INT, BOOL, DATE, DATETIME */
    double *f64;              /* FLOAT */
    uint32_t *codes;          /* STRING: index into dict */
    const char **dict;        /* STRING: distinct values, in order of first appearance */
    size_t n_dict;
    uint8_t *missing;         /* bit per row, 1 = missing; NULL when none is */
    size_t n_missing;
} keel_column;

typedef struct keel_frame {
    keel_column *cols;
    size_t n_cols;
    size_t n_rows;
    keel_arena arena;         /* owns everything above */
} keel_frame;

typedef struct keel_csv_type_override {
    const char *column;
    enum keel_col_type type;
} keel_csv_type_override;

typedef struct keel_csv_options {
    char delimiter;                         /* 0 = ',' */
    bool no_header;                         /* columns are then named c0, c1, … */
    const char *const *na_values;           /* NULL = { "", "NA" } */
    size_t n_na_values;
    const keel_csv_type_override *overrides;
    size_t n_overrides;
    size_t max_field;                       /* 0 = KEEL_CSV_DEFAULT_MAX_FIELD */
    size_t max_rows;                        /* 0 = all */
} keel_csv_options;

/* Reads a whole CSV (or .csv.gz) file into a new frame (keel_frame_destroy
 * it). opts may be NULL for the defaults. Errors: KEEL_EIO (cannot read),
 * KEEL_EPARSE ("adult.csv:17: column 4 ('age'): unterminated quote", ragged
 * rows, invalid UTF-8), KEEL_EINVAL (a value that does not fit an
 * overridden type, an override naming no column, duplicate column names),
 * KEEL_ELIMIT (a field over max_field, too many columns). */
int keel_csv_read(const char *path, const keel_csv_options *opts, keel_frame **out,
                  keel_err *err);

/* The same over counted bytes in memory (name is used in messages). */
int keel_csv_parse(const char *name, const char *data, size_t len, const keel_csv_options *opts,
                   keel_frame **out, keel_err *err);

/* A CSV (or .csv.gz) file read as frames of whole records, about
 * chunk_bytes each (0 = 16 MiB), so that row-by-row work over a file of
 * any size holds one chunk at a time. Every chunk's frame has the file's
 * header; types are inferred per chunk unless opts overrides them. The
 * delimiter (0 = ',') is given at open, and replaces opts->delimiter.
 * Errors name the file and its line, as keel_csv_read's do.
 * keel_csv_chunks_next sets *out to NULL at the end. */
typedef struct keel_csv_chunks keel_csv_chunks;
int keel_csv_chunks_open(const char *path, char delimiter, size_t chunk_bytes,
                         keel_csv_chunks **out, keel_err *err);
int keel_csv_chunks_next(keel_csv_chunks *c, const keel_csv_options *opts, keel_frame **out,
                         keel_err *err);
/* The header alone, as a frame with no rows (its column names). */
int keel_csv_chunks_header(const keel_csv_chunks *c, keel_frame **out, keel_err *err);
void keel_csv_chunks_close(keel_csv_chunks *c);

void keel_frame_destroy(keel_frame *f);

/* Column by name, or NULL. */
const keel_column *keel_frame_column(const keel_frame *f, const char *name);
int keel_frame_column_index(const keel_frame *f, const char *name);

static inline bool keel_column_is_missing(const keel_column *c, size_t row)
{
    return c->missing != NULL && (c->missing[row >> 3] >> (row & 7)) & 1;
}

/* A numeric view of one cell: the value for INT/FLOAT/BOOL/DATE/DATETIME,
 * NAN when missing or for STRING columns. */
double keel_column_number(const keel_column *c, size_t row);

/* Parses one text value as a column of type t would hold it (int, float,
 * bool: 0/1, date: days, datetime: seconds) into *out. false when it does
 * not fit (or for STRING). */
bool keel_value_parse(enum keel_col_type t, const char *text, size_t len, double *out);

/* A new frame holding rows[0..n) of f, in that order (for splits). */
int keel_frame_take(const keel_frame *f, const size_t *rows, size_t n, keel_frame **out,
                    keel_err *err);

#endif
