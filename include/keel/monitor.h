/*
 * keel/monitor.h — production monitoring: how far current data has moved
 * from a reference (the training rows, a dataset version, a file).
 *
 * Drift measures compare one feature at a time. A numeric feature is binned
 * on the reference's decile edges (keel_frame_profile's "bins": linear
 * quantiles as numpy computes them, duplicates dropped); a value x falls in
 * bin b when edges[b] < x <= edges[b+1], the first bin closed on the left,
 * and values below the first edge or above the last one count in the first
 * or last bin. A constant reference (one edge) is the exception: its PSI
 * and JS run over three buckets, below, at and above the value. Decile
 * bins are blind inside a bin (a 0/1 feature whose deciles are {0, 1} has
 * the single bin [0, 1]); KS, when there are samples, still sees it. A
 * categorical feature is binned on the reference's categories, plus one
 * bucket for everything else (the reference profile's "other", and every
 * category the reference never had).
 *
 * Every function here is reentrant; the frame comparisons run features on
 * threads of their own.
 *
 * Missing values (NaN, a missing CSV cell) are left out of every
 * distribution measure; they count only in the missing rates. A measure
 * that cannot be computed (no values on one side, a p-value with no degrees
 * of freedom) is NaN.
 *
 * The formulas, as scipy computes them (tests/integration/test_drift.sh
 * recomputes every one in Python):
 *
 *   PSI   sum_i (c_i - r_i) * ln(c_i / r_i), r_i and c_i the reference's and
 *         the current data's share of bin i, each raised to at least
 *         KEEL_DRIFT_PSI_EPSILON (1e-4) so an empty bin keeps PSI finite;
 *         nothing renormalised. (keel serve's online monitor does the same.)
 *   JS    scipy.spatial.distance.jensenshannon(R, C, base=2) on the bin
 *         counts: sqrt((KL(r || m) + KL(c || m)) / 2) in bits, m = (r + c)/2.
 *         0 for identical shares, 1 for disjoint ones.
 *   KS    two-sample Kolmogorov–Smirnov D = sup |F_ref - F_cur| over the
 *         empirical CDFs, and scipy.stats.ks_2samp(method='asymp')'s p-value:
 *         the two-sided one-sample Kolmogorov distribution's survival
 *         function at D for n = round(n1 n2 / (n1 + n2)) (kstwo.sf).
 *   W1    scipy.stats.wasserstein_distance: the integral of |F_ref - F_cur|.
 *   chi2  scipy.stats.chisquare(f_obs, f_exp) over the buckets the
 *         reference has values in: f_obs the current counts there, f_exp the
 *         reference's shares times sum(f_obs); p = chi2.sf(stat, k - 1).
 *         Values in a bucket the reference never had (unseen categories)
 *         are left out of it: they are counted apart, and move PSI and JS.
 */
#ifndef KEEL_MONITOR_H
#define KEEL_MONITOR_H

#include <keel/arena.h>
#include <keel/data.h>
#include <keel/error.h>

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- drift measures ---- */

#define KEEL_DRIFT_PSI_EPSILON 1e-4
#define KEEL_DRIFT_MAX_EDGES 11           /* deciles: 10 bins at most */
#define KEEL_DRIFT_MAX_CATEGORIES 100000  /* named reference categories */

/* Decile edges of a reference: strictly increasing, 1 to 11 of them.
 * n edges make n - 1 bins; one edge (a constant reference) one bin, which
 * PSI and JS split into below, at and above it. */
typedef struct keel_drift_bins {
    double edges[KEEL_DRIFT_MAX_EDGES];
    size_t n_edges;
} keel_drift_bins;

static inline size_t keel_drift_bins_count(const keel_drift_bins *b)
{
    return b->n_edges > 1 ? b->n_edges - 1 : 1;
}

/* Moves the non-NaN values of v[0..n) to its front, sorted ascending
 * (radix sort: linear time for most inputs), the rest NaN, and sets
 * *out_n_values to how many there are. -0.0 and 0.0 compare equal here and
 * everywhere below, so they may come in either order. KEEL_EINVAL for NULL
 * arguments, KEEL_ENOMEM (scratch space of 2n values). */
int keel_drift_sort(double *v, size_t n, size_t *out_n_values, keel_err *err);

/* The decile edges of sorted[0..n) (no NaN): the quantiles at 0, 0.1, …,
 * 1 of its finite values, interpolated linearly between order statistics
 * (numpy's default), duplicates dropped — the same edges
 * keel_frame_profile records for data without infinities. KEEL_EINVAL when
 * no value is finite. */
int keel_drift_bins_from_sorted(const double *sorted, size_t n, keel_drift_bins *out,
                                keel_err *err);

/* Counts the non-NaN values of v[0..n) (any order) into the bins:
 * out_counts has keel_drift_bins_count(b) slots (overwritten). Values below
 * the first edge / above the last count in the end bins and also in
 * *out_below / *out_above (either may be NULL). */
void keel_drift_bin_counts(const keel_drift_bins *b, const double *v, size_t n,
                           double *out_counts, size_t *out_below, size_t *out_above);

/* PSI of two count vectors over the same k >= 1 buckets (non-negative
 * counts, need not be integers). NaN when either side sums to 0. */
double keel_drift_psi(const double *ref_counts, const double *cur_counts, size_t k);

/* Jensen–Shannon distance, base 2, of the same. NaN when either side sums
 * to 0. */
double keel_drift_js(const double *ref_counts, const double *cur_counts, size_t k);

/* Two-sample KS statistic and Wasserstein-1 distance of two sorted samples
 * without NaN (one merge pass). Both NaN when either sample is empty. */
void keel_drift_ks_w1_sorted(const double *ref_sorted, size_t n_ref, const double *cur_sorted,
                             size_t n_cur, double *out_ks, double *out_w1);

/* ks_2samp(method='asymp')'s two-sided p-value for statistic d between
 * samples of n1 and n2 values. NaN when n1 or n2 is 0, or when
 * round(n1 n2 / (n1 + n2)) is 0 (one value on each side). */
double keel_drift_ks_pvalue(double d, size_t n1, size_t n2);

/* The two-sided one-sample Kolmogorov–Smirnov survival function
 * P(D_n >= d) for n samples (scipy.stats.kstwo.sf(d, n)): exact where
 * scipy is (Durbin's matrix, Pomeranz, Smirnov's one-sided sum), else the
 * Pelz–Good expansion, chosen by Simard & L'Ecuyer's rules as scipy does.
 * NaN when n is not a positive integer or d is NaN. */
double keel_kstwo_sf(double d, double n);

/* The one-sided Smirnov survival function P(D_n+ >= d)
 * (scipy.special.smirnov(n, d)). NaN when n < 1 or d is outside [0, 1]. */
double keel_smirnov_sf(int64_t n, double d);

/* Regularized upper incomplete gamma function Q(a, x) = Γ(a, x) / Γ(a)
 * (scipy.special.gammaincc). NaN for a <= 0, x < 0 or NaN arguments. */
double keel_gamma_q(double a, double x);

/* Chi-square survival function with df degrees of freedom
 * (scipy.stats.chi2.sf) = Q(df / 2, x / 2). NaN for df <= 0. */
double keel_chi2_sf(double x, double df);

/* The chi-square goodness-of-fit test of current counts against the
 * reference's shares over k buckets (see the file comment: buckets with a
 * reference count of 0 are left out). *out_df is the buckets used minus 1.
 * stat and p NaN when no current value falls in a reference bucket; p NaN
 * when df is 0. */
void keel_drift_chisquare(const double *ref_counts, const double *cur_counts, size_t k,
                          double *out_stat, double *out_pvalue, double *out_df);

/* All the measures of one feature. NaN (or 0 for the counts) where a
 * measure does not apply to the feature's kind or could not be computed. */
enum keel_drift_kind { KEEL_DRIFT_NUMERIC, KEEL_DRIFT_CATEGORICAL };

typedef struct keel_drift_measures {
    enum keel_drift_kind kind;
    bool from_samples;          /* KS and W1 exact and the KS p-value computed;
                                   false: approximated from a reference profile */
    size_t ref_rows, cur_rows;  /* rows, missing ones included */
    size_t ref_values, cur_values;  /* non-missing values */
    double ref_missing_rate, cur_missing_rate;
    double missing_delta;       /* cur_missing_rate - ref_missing_rate */
    size_t n_bins;              /* buckets PSI and JS ran over (3 for a constant reference) */
    double psi, js;
    double ks, ks_pvalue, wasserstein;   /* numeric */
    size_t out_of_range;        /* numeric: current values outside the reference's [min, max] */
    double chi2, chi2_pvalue, chi2_df;   /* categorical */
    size_t unseen_categories;   /* categorical: distinct current values the reference
                                   does not name (with a profile whose "other" > 0, some
                                   may be in that pooled tail) */
    size_t unseen_values;       /* categorical: current values in them */
} keel_drift_measures;

/* Numeric feature against reference samples. ref and cur are any order and
 * may hold NaN (missing); neither is modified. ref_rows / cur_rows are the
 * row counts the missing rates are taken over (>= the array lengths: rows
 * missing beyond the arrays count as NaN). KEEL_EINVAL for NULL arrays with
 * n > 0 or rows < n, KEEL_ENOMEM. */
int keel_drift_numeric(const double *ref, size_t n_ref, size_t ref_rows, const double *cur,
                       size_t n_cur, size_t cur_rows, keel_drift_measures *out, keel_err *err);

/* The same on values already sorted without NaN (keel_drift_sort), with the
 * missing counted by the caller: ref_rows - n_ref rows were missing. */
int keel_drift_numeric_sorted(const double *ref_sorted, size_t n_ref, size_t ref_rows,
                              const double *cur_sorted, size_t n_cur, size_t cur_rows,
                              keel_drift_measures *out, keel_err *err);

/* A numeric reference known only by its profile (keel_frame_profile). */
typedef struct keel_drift_numeric_ref {
    keel_drift_bins bins;       /* n_edges 0: the reference had no values */
    const double *bin_counts;   /* keel_drift_bins_count(&bins) of them; borrowed */
    size_t rows;                /* rows profiled */
    double missing_rate;
} keel_drift_numeric_ref;

/* Numeric feature against a profile: PSI and JS exact on the profile's
 * bins. KS and W1 are approximations: both sides are taken as their bin
 * shares spread evenly within each bin, while current values outside the
 * reference's [min, max] keep their place (so a shift past the range counts
 * in full and identical data gives 0). KS is then the largest CDF gap at
 * the edges, W1 the integral of the gap. No KS p-value (NaN): the sample
 * it would need is gone. cur may hold NaN; one pass, no sort. */
int keel_drift_numeric_profile(const keel_drift_numeric_ref *ref, const double *cur,
                               size_t n_cur, size_t cur_rows, keel_drift_measures *out,
                               keel_err *err);

/* Categorical feature from counts over k >= 1 buckets aligned by the
 * caller: ref_counts[i] and cur_counts[i] count the same category, and the
 * last bucket pools every category the reference does not name (its
 * reference count is the profile's "other", or 0). unseen_values is the
 * current count in that last bucket; unseen_categories (how many distinct
 * current values it holds) is reported as given. Missing values are not in
 * the counts: ref_rows / cur_rows include them. KEEL_EINVAL for k == 0,
 * negative or non-finite counts, or counts above the rows. */
int keel_drift_categorical(const double *ref_counts, const double *cur_counts, size_t k,
                           size_t ref_rows, size_t cur_rows, size_t unseen_categories,
                           keel_drift_measures *out, keel_err *err);

/* ---- drift of a whole frame ---- */

/* A feature drifts when any applicable measure passes its threshold:
 * PSI > psi, KS p-value < ks_pvalue (exact, sample references only),
 * JS > js, chi-square p-value < chi2_pvalue (categorical),
 * |missing_delta| > missing_delta. A NaN measure never triggers. */
typedef struct keel_drift_thresholds {
    double psi;             /* default 0.2 */
    double ks_pvalue;       /* default 0.01 */
    double js;              /* default 0.1 */
    double chi2_pvalue;     /* default 0.01 */
    double missing_delta;   /* default 0.1 */
} keel_drift_thresholds;

void keel_drift_thresholds_default(keel_drift_thresholds *out);

/* Which thresholds a feature passed (bits of keel_drift_feature.reasons). */
#define KEEL_DRIFT_REASON_LIST(X)        \
    X(KEEL_DRIFT_PSI,     "psi")         \
    X(KEEL_DRIFT_KS,      "ks_pvalue")   \
    X(KEEL_DRIFT_JS,      "js")          \
    X(KEEL_DRIFT_CHI2,    "chi2_pvalue") \
    X(KEEL_DRIFT_MISSING, "missing_delta") \
    X(KEEL_DRIFT_TYPE,    "type")

enum keel_drift_reason {
#define KEEL_DRIFT_REASON_ENUM(name, text) name##_BIT,
    KEEL_DRIFT_REASON_LIST(KEEL_DRIFT_REASON_ENUM)
#undef KEEL_DRIFT_REASON_ENUM
    KEEL_DRIFT_REASON_COUNT
};

/* "psi", "ks_pvalue", …; NULL past the list. */
const char *keel_drift_reason_name(enum keel_drift_reason r);

typedef struct keel_drift_feature {
    const char *name;
    const char *type;           /* the current column's type ("int", "string", …) */
    const char *ref_type;       /* the reference's */
    keel_drift_measures m;      /* all NaN when the types are incompatible */
    unsigned reasons;           /* 1u << KEEL_DRIFT_…_BIT per threshold passed */
    bool drifted;               /* reasons != 0 */
} keel_drift_feature;

typedef struct keel_drift_report {
    keel_drift_feature *features;   /* in the current frame's column order */
    size_t n_features;
    size_t n_drifted;
    const char **not_in_current;    /* reference columns the current data lacks */
    size_t n_not_in_current;
    bool from_samples;              /* false: against a profile */
    double seconds_measure;         /* wall time of the measuring */
} keel_drift_report;

typedef struct keel_drift_options {
    const char *const *columns;     /* compare only these (NULL: every shared column) */
    size_t n_columns;
    const keel_drift_thresholds *thresholds;   /* NULL: the defaults */
    int threads;                    /* 0: one per online core (at most 8) */
} keel_drift_options;

/* Compares every column cur shares with ref (or opts->columns, each of
 * which must be in both: KEEL_EINVAL naming the column and the side). A
 * string column is categorical, every other type numeric; a column that is
 * numeric on one side and string on the other drifts with reason "type"
 * (a column with no values at all fits either). opts may be NULL. Strings
 * and arrays in *out come from a; nothing else is kept. */
int keel_drift_compare_frames(const keel_frame *ref, const keel_frame *cur,
                              const keel_drift_options *opts, keel_arena *a,
                              keel_drift_report *out, keel_err *err);

/* The same against a reference profile (keel_frame_profile's JSON, e.g. a
 * model bundle's "reference_profile"; borrowed): measures as
 * keel_drift_numeric_profile and keel_drift_categorical give them. A
 * column profiled with non-finite edges (its data held infinities) gets no
 * bins. A malformed profile is KEEL_EINVAL naming the column and field. */
int keel_drift_compare_profile(const json_t *ref_profile, const keel_frame *cur,
                               const keel_drift_options *opts, keel_arena *a,
                               keel_drift_report *out, keel_err *err);

/* The report as JSON (new reference; t NULL: the defaults): {"features":
 * [{"name", "type", "reference_type", "kind": "numeric"|"categorical",
 * "psi", "js", "ks", "ks_pvalue", "wasserstein", "chi2", "chi2_pvalue",
 * "chi2_df", "missing_rate_reference", "missing_rate_current",
 * "missing_delta", "out_of_range", "unseen_categories", "unseen_values",
 * "bins", "reference_values", "current_values", "drifted", "reasons":
 * ["psi", …]}], "not_in_current": […], "thresholds": {…},
 * "features_compared", "drifted", "method": "samples"|"profile"}. Measures
 * that do not apply or are NaN are null. NULL when out of memory. */
json_t *keel_drift_report_json(const keel_drift_report *r, const keel_drift_thresholds *t);

#endif
