/*
 * value_parse.c — one text value read the way the CSV reader reads a column
 * of a given type, for callers with values that do not come from a file
 * (serving requests).
 */
#include "data_internal.h"

bool keel_value_parse(enum keel_col_type t, const char *text, size_t len, double *out)
{
    int64_t i;
    switch (t) {
    case KEEL_COL_INT:
        if (!keel__parse_i64(text, len, &i))
            return false;
        *out = (double)i;
        return true;
    case KEEL_COL_FLOAT:
        return keel__parse_f64(text, len, out);
    case KEEL_COL_BOOL:
        if (!keel__parse_bool(text, len, &i))
            return false;
        *out = (double)i;
        return true;
    case KEEL_COL_DATE:
        if (!keel__parse_date(text, len, &i))
            return false;
        *out = (double)i;
        return true;
    case KEEL_COL_DATETIME:
        if (!keel__parse_datetime(text, len, true, &i))
            return false;
        *out = (double)i;
        return true;
    case KEEL_COL_STRING:
        return false;
    }
    return false;
}
