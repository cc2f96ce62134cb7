/*
 * split.c — train/test splits: random (reproducible by any tool: a row's
 * side is a pure function of the seed and its index), by a column's value,
 * and by time (the last fraction, or before/after a cutoff).
 */
#include <keel/dataset.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t keel_splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static int parse_fraction(const char *text, double *out, const char *spec, keel_err *err)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || (*end != '\0' && *end != ':') || errno != 0 || !(v > 0 && v < 1))
        return keel_errf(err, KEEL_EINVAL,
                         "split '%s': the test fraction must be a number between 0 and 1", spec);
    *out = v;
    return KEEL_OK;
}

/* Days (date) or seconds (datetime) since the epoch for "YYYY-MM-DD[ HH:MM[:SS]]". */
static int parse_cutoff(const char *text, int64_t *out_days, int64_t *out_secs)
{
    int y, mo, d, h = 0, mi = 0, s = 0;
    int n = sscanf(text, "%4d-%2d-%2d%*[ T]%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &s);
    if (n < 3 || mo < 1 || mo > 12 || d < 1 || d > 31)
        return KEEL_EINVAL;
    /* days from civil (Howard Hinnant's algorithm) */
    int yy = mo <= 2 ? y - 1 : y;
    int era = (yy >= 0 ? yy : yy - 399) / 400;
    unsigned yoe = (unsigned)(yy - era * 400);
    unsigned doy = (unsigned)((153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1);
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + (int64_t)doe - 719468;
    *out_days = days;
    *out_secs = days * 86400 + h * 3600 + mi * 60 + s;
    return KEEL_OK;
}

int keel_split_parse(const char *text, keel_arena *a, keel_split_spec *out, keel_err *err)
{
    memset(out, 0, sizeof *out);
    if (text == NULL || text[0] == '\0')
        return keel_errf(err, KEEL_EINVAL, "split is empty");
    if (strncmp(text, "random:", 7) == 0) {
        out->kind = KEEL_SPLIT_RANDOM;
        out->seed = 42;
        int rc = parse_fraction(text + 7, &out->test_fraction, text, err);
        const char *seed = strchr(text + 7, ':');
        if (rc == KEEL_OK && seed != NULL) {
            char *end = NULL;
            errno = 0;
            out->seed = strtoull(seed + 1, &end, 10);
            if (end == seed + 1 || *end != '\0' || errno != 0)
                rc = keel_errf(err, KEEL_EINVAL, "split '%s': the seed must be an integer", text);
        }
        return rc;
    }
    if (strncmp(text, "column:", 7) == 0) {
        out->kind = KEEL_SPLIT_COLUMN;
        const char *name = text + 7;
        const char *colon = strchr(name, ':');
        out->column = keel_arena_strndup(a, name, colon != NULL ? (size_t)(colon - name)
                                                                : strlen(name));
        out->train_value = "train";
        out->test_value = "test";
        if (colon != NULL) {
            const char *slash = strchr(colon + 1, '/');
            if (slash == NULL || slash == colon + 1 || slash[1] == '\0')
                return keel_errf(err, KEEL_EINVAL,
                                 "split '%s': expected column:NAME:TRAIN_VALUE/TEST_VALUE", text);
            out->train_value = keel_arena_strndup(a, colon + 1, (size_t)(slash - colon - 1));
            out->test_value = keel_arena_strdup(a, slash + 1);
        }
        if (out->column[0] == '\0')
            return keel_errf(err, KEEL_EINVAL, "split '%s': no column named", text);
        return KEEL_OK;
    }
    if (strncmp(text, "time:", 5) == 0) {
        out->kind = KEEL_SPLIT_TIME;
        const char *name = text + 5;
        const char *sep = strpbrk(name, ":@");
        if (sep == NULL || sep == name)
            return keel_errf(err, KEEL_EINVAL,
                             "split '%s': expected time:COLUMN:FRACTION or time:COLUMN@DATE", text);
        out->column = keel_arena_strndup(a, name, (size_t)(sep - name));
        if (*sep == ':')
            return parse_fraction(sep + 1, &out->test_fraction, text, err);
        out->has_cutoff = true;
        out->cutoff_text = keel_arena_strdup(a, sep + 1);
        return KEEL_OK;
    }
    return keel_errf(err, KEEL_EINVAL,
                     "unknown split '%s': use random:FRACTION[:SEED], column:NAME[:TRAIN/TEST], "
                     "time:COLUMN:FRACTION or time:COLUMN@DATE", text);
}

typedef struct timed_row {
    double t;
    size_t row;
} timed_row;

static int by_time(const void *a, const void *b)
{
    const timed_row *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);  /* stable: file order breaks ties */
}

static int split_time(const keel_frame *f, const keel_split_spec *s, const keel_column *col,
                      size_t *train, size_t *n_train, size_t *test, size_t *n_test, keel_err *err)
{
    if (col->type == KEEL_COL_STRING)
        return keel_errf(err, KEEL_EINVAL, "split: time column '%s' is a string column; it must "
                         "be a date, datetime or number", s->column);
    if (s->has_cutoff) {
        int64_t days, secs;
        double cut;
        if (col->type == KEEL_COL_DATE || col->type == KEEL_COL_DATETIME) {
            if (parse_cutoff(s->cutoff_text, &days, &secs) != KEEL_OK)
                return keel_errf(err, KEEL_EINVAL, "split: cutoff '%s' is not "
                                 "YYYY-MM-DD[ HH:MM[:SS]]", s->cutoff_text);
            cut = col->type == KEEL_COL_DATE ? (double)days : (double)secs;
        } else {
            /* A number column (a year, an epoch) is cut at a number. */
            char *end = NULL;
            cut = strtod(s->cutoff_text, &end);
            if (end == s->cutoff_text || *end != '\0' || isnan(cut))
                return keel_errf(err, KEEL_EINVAL, "split: cutoff '%s' for number column '%s' "
                                 "is not a number", s->cutoff_text, s->column);
        }
        for (size_t r = 0; r < f->n_rows; r++) {
            double t = keel_column_number(col, r);
            if (isnan(t))
                continue;
            if (t < cut)
                train[(*n_train)++] = r;
            else
                test[(*n_test)++] = r;
        }
        return KEEL_OK;
    }
    timed_row *order = malloc((f->n_rows + 1) * sizeof *order);
    if (order == NULL)
        return keel_errf(err, KEEL_ENOMEM, "split: out of memory");
    size_t m = 0;
    for (size_t r = 0; r < f->n_rows; r++) {
        double t = keel_column_number(col, r);
        if (!isnan(t))
            order[m++] = (timed_row){ t, r };
    }
    qsort(order, m, sizeof *order, by_time);
    size_t cut = m - (size_t)llround((double)m * s->test_fraction);
    for (size_t i = 0; i < m; i++) {
        if (i < cut)
            train[(*n_train)++] = order[i].row;
        else
            test[(*n_test)++] = order[i].row;
    }
    free(order);
    return KEEL_OK;
}

int keel_split_apply(const keel_frame *f, const keel_split_spec *s, keel_arena *a,
                     size_t **out_train, size_t *out_n_train, size_t **out_test,
                     size_t *out_n_test, keel_err *err)
{
    size_t *train = keel_arena_alloc(a, (f->n_rows + 1) * sizeof *train);
    size_t *test = keel_arena_alloc(a, (f->n_rows + 1) * sizeof *test);
    if (train == NULL || test == NULL)
        return keel_errf(err, KEEL_ENOMEM, "split: out of memory for %zu rows", f->n_rows);
    size_t n_train = 0, n_test = 0;
    const keel_column *col = NULL;
    if (s->kind != KEEL_SPLIT_RANDOM) {
        col = keel_frame_column(f, s->column);
        if (col == NULL)
            return keel_errf(err, KEEL_EINVAL, "split: the data has no column '%s'", s->column);
    }
    int rc = KEEL_OK;
    if (s->kind == KEEL_SPLIT_RANDOM) {
        for (size_t r = 0; r < f->n_rows; r++) {
            double u = (double)(keel_splitmix64(s->seed ^ (uint64_t)r) >> 11) * 0x1.0p-53;
            if (u < s->test_fraction)
                test[n_test++] = r;
            else
                train[n_train++] = r;
        }
    } else if (s->kind == KEEL_SPLIT_COLUMN) {
        if (col->type != KEEL_COL_STRING)
            return keel_errf(err, KEEL_EINVAL, "split: column '%s' must hold the values '%s' and "
                             "'%s'", s->column, s->train_value, s->test_value);
        for (size_t r = 0; r < f->n_rows; r++) {
            if (keel_column_is_missing(col, r))
                continue;
            const char *v = col->dict[col->codes[r]];
            if (strcmp(v, s->train_value) == 0)
                train[n_train++] = r;
            else if (strcmp(v, s->test_value) == 0)
                test[n_test++] = r;
        }
    } else {
        rc = split_time(f, s, col, train, &n_train, test, &n_test, err);
    }
    if (rc == KEEL_OK && (n_train == 0 || n_test == 0))
        rc = keel_errf(err, KEEL_EINVAL, "split leaves %zu training and %zu test rows; both "
                       "sides need rows", n_train, n_test);
    if (rc != KEEL_OK)
        return rc;
    *out_train = train;
    *out_n_train = n_train;
    *out_test = test;
    *out_n_test = n_test;
    return KEEL_OK;
}
