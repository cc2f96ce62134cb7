/*
 * test_drift.c — drift measures: PSI, Jensen–Shannon, KS (statistic and
 * p-value), Wasserstein-1, chi-square, the special functions behind the
 * p-values, profile-based approximations, whole-frame comparisons, NaN and
 * empty inputs, and every error path.
 *
 * Small cases are worked by hand in the comments. Values marked "scipy"
 * were computed with scipy 1.10.1 (the integration test, test_drift.sh,
 * recomputes keel's numbers on real data the same way), e.g.
 * `scipy.stats.kstwo.sf(0.1, 100)`.
 */
#include "testutil.h"

#include "monitor/monitor_internal.h"

#include <keel/data.h>
#include <keel/dataset.h>
#include <keel/monitor.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define assert_close(got, want, rel)                                                       \
    do {                                                                                   \
        double g_ = (got), w_ = (want);                                                    \
        if (!(fabs(g_ - w_) <= (rel) * fabs(w_) || fabs(g_ - w_) <= 1e-300))               \
            fail_msg("%s = %.17g, want %.17g", #got, g_, w_);                              \
    } while (0)

#define assert_nan(x)                                                                      \
    do {                                                                                   \
        if (!isnan(x))                                                                     \
            fail_msg("%s = %.17g, want NaN", #x, (double)(x));                             \
    } while (0)

static keel_frame *frame_of(const char *csv)
{
    keel_frame *f = NULL;
    keel_err err;
    if (keel_csv_parse("test.csv", csv, strlen(csv), NULL, &f, &err) != KEEL_OK)
        fail_msg("keel_csv_parse: %s", err.msg);
    return f;
}

static const keel_drift_feature *feature(const keel_drift_report *r, const char *name)
{
    for (size_t i = 0; i < r->n_features; i++)
        if (strcmp(r->features[i].name, name) == 0)
            return &r->features[i];
    fail_msg("no feature '%s' in the report", name);
    return NULL;
}

/* ---- the measures, by hand ---- */

static void psi_by_hand(void **state)
{
    (void)state;
    /* shares .5/.5 against .25/.75: .25 ln 2 + .25 ln 1.5 = .25 ln 3 */
    assert_close(keel_drift_psi((double[]){ 50, 50 }, (double[]){ 25, 75 }, 2), 0.25 * log(3.0),
                 1e-15);
    /* symmetric in the two sides */
    assert_close(keel_drift_psi((double[]){ 25, 75 }, (double[]){ 50, 50 }, 2), 0.25 * log(3.0),
                 1e-15);
    /* an empty reference bin counts as 1e-4: .5 ln 2 + (.5 - 1e-4) ln 5000 */
    assert_close(keel_drift_psi((double[]){ 10, 0 }, (double[]){ 5, 5 }, 2),
                 0.5 * log(2.0) + 0.4999 * log(5000.0), 1e-14);
    /* shares below 1e-4 are raised to it, so both sides' tiny bins cancel */
    assert_true(keel_drift_psi((double[]){ 1, 1e6 }, (double[]){ 2, 1e6 }, 2) < 1e-11);
    assert_close(keel_drift_psi((double[]){ 3, 1, 7 }, (double[]){ 3, 1, 7 }, 3), 0, 0);
    assert_close(keel_drift_psi((double[]){ 3, 1, 7 }, (double[]){ 6, 2, 14 }, 3), 0, 0);
    assert_nan(keel_drift_psi((double[]){ 0, 0 }, (double[]){ 1, 1 }, 2));
    assert_nan(keel_drift_psi((double[]){ 1, 1 }, (double[]){ 0, 0 }, 2));
    assert_nan(keel_drift_psi(NULL, (double[]){ 1 }, 1));
}

static void js_by_hand(void **state)
{
    (void)state;
    /* disjoint: m = (.5, .5), KL = ln 2 each side, sqrt((2 ln 2 / ln 2) / 2) = 1 */
    assert_close(keel_drift_js((double[]){ 1, 0 }, (double[]){ 0, 1 }, 2), 1.0, 1e-15);
    /* (.5, .5) vs (1, 0): m = (.75, .25), sqrt(.75 log2(4/3)); scipy 0.5579230452841438 */
    assert_close(keel_drift_js((double[]){ 1, 1 }, (double[]){ 1, 0 }, 2),
                 sqrt(0.75 * log(4.0 / 3.0) / log(2.0)), 1e-15);
    assert_close(keel_drift_js((double[]){ 1, 1 }, (double[]){ 1, 0 }, 2), 0.5579230452841438,
                 1e-14);
    assert_close(keel_drift_js((double[]){ 2, 5, 9 }, (double[]){ 4, 10, 18 }, 3), 0, 0);
    assert_nan(keel_drift_js((double[]){ 0 }, (double[]){ 1 }, 1));
}

static void ks_and_w1_by_hand(void **state)
{
    (void)state;
    double d, w;
    /* {1,2,3} vs {2,3,4}: the CDFs differ by 1/3 on [1, 4); W1 = 3 x 1/3 */
    keel_drift_ks_w1_sorted((double[]){ 1, 2, 3 }, 3, (double[]){ 2, 3, 4 }, 3, &d, &w);
    assert_close(d, 1.0 / 3, 1e-15);
    assert_close(w, 1.0, 1e-15);
    /* ties across the samples: {0,0,1} vs {0,1,1} differ by 1/3 on [0, 1) */
    keel_drift_ks_w1_sorted((double[]){ 0, 0, 1 }, 3, (double[]){ 0, 1, 1 }, 3, &d, &w);
    assert_close(d, 1.0 / 3, 1e-15);
    assert_close(w, 1.0 / 3, 1e-15);
    /* equal samples, equal runs of ties: nothing */
    keel_drift_ks_w1_sorted((double[]){ 1, 1, 2 }, 3, (double[]){ 1, 1, 2 }, 3, &d, &w);
    assert_close(d, 0, 0);
    assert_close(w, 0, 0);
    /* -0.0 and 0.0 are one value */
    keel_drift_ks_w1_sorted((double[]){ -0.0 }, 1, (double[]){ 0.0 }, 1, &d, &w);
    assert_close(d, 0, 0);
    /* disjoint, different sizes: {0} vs {10, 20}: D = 1, W1 = 15 */
    keel_drift_ks_w1_sorted((double[]){ 0 }, 1, (double[]){ 10, 20 }, 2, &d, &w);
    assert_close(d, 1, 0);
    assert_close(w, 15, 1e-15);
    /* the current side running out first: {5, 6} vs {1}: D = 1, W1 = 4.5 */
    keel_drift_ks_w1_sorted((double[]){ 5, 6 }, 2, (double[]){ 1 }, 1, &d, &w);
    assert_close(d, 1, 0);
    assert_close(w, 4.5, 1e-15);
    keel_drift_ks_w1_sorted((double[]){ 1 }, 1, (double[]){ 1 }, 0, &d, &w);
    assert_nan(d);
    assert_nan(w);
}

static void ks_pvalue_matches_scipy(void **state)
{
    (void)state;
    /* ks_2samp([1,2,3], [2,3,4], method='asymp'): en = 1.5 rounds (to even)
     * to 2; kstwo.sf(1/3, 2) = 1 - (1/2 . 1/3)(1 . 1/3) = 17/18 */
    assert_close(keel_drift_ks_pvalue(1.0 / 3, 3, 3), 17.0 / 18, 1e-15);
    /* every branch of kstwo.sf (scipy) */
    assert_close(keel_kstwo_sf(0.1, 100), 0.2526927570063874, 1e-12);          /* Durbin */
    assert_close(keel_kstwo_sf(0.3, 10), 0.27053557479999946, 1e-12);          /* Pomeranz */
    assert_close(keel_kstwo_sf(0.05, 1000), 0.013012074781090332, 1e-12);      /* Smirnov */
    assert_close(keel_kstwo_sf(0.002, 200000), 0.39995085369038097, 1e-12);    /* Pelz-Good */
    assert_close(keel_kstwo_sf(0.01, 200000), 8.433125699870092e-18, 1e-10);   /* tail */
    assert_close(keel_kstwo_sf(0.02, 50000), 8.35587873542047e-18, 1e-10);
    assert_close(keel_kstwo_sf(0.6, 20), 2.0483011649719853e-07, 1e-12);       /* x >= 0.5 */
    assert_close(keel_smirnov_sf(5, 0.3), 0.34282, 1e-12);
    assert_close(keel_smirnov_sf(2000, 0.05), 4.371547897947515e-05, 1e-10);
    /* the support: at most 1/(2n) is certain, 1 impossible */
    assert_close(keel_kstwo_sf(0.004, 100), 1, 0);
    assert_close(keel_kstwo_sf(1, 100), 0, 0);
    assert_close(keel_drift_ks_pvalue(0, 1000, 1000), 1, 0);
    /* no p-value for n = round(1 . 1 / 2) = 0, n not whole, or no sample */
    assert_nan(keel_drift_ks_pvalue(1, 1, 1));
    assert_nan(keel_drift_ks_pvalue(0.5, 0, 10));
    assert_nan(keel_kstwo_sf(0.1, 2.5));
    assert_nan(keel_kstwo_sf(NAN, 10));
    assert_nan(keel_smirnov_sf(0, 0.5));
    assert_nan(keel_smirnov_sf(10, 1.5));
}

static void chi_square_by_hand(void **state)
{
    (void)state;
    /* 2 degrees of freedom: sf(x) = e^(-x/2); Q(1, x) = e^-x */
    assert_close(keel_chi2_sf(2.0, 2), exp(-1.0), 1e-15);
    assert_close(keel_gamma_q(1.0, 3.0), exp(-3.0), 1e-15);
    /* 1 degree: erfc(sqrt(x / 2)) */
    assert_close(keel_chi2_sf(19.047619047619047, 1), erfc(sqrt(19.047619047619047 / 2)), 1e-13);
    assert_close(keel_chi2_sf(3.5, 7), 0.8352254826103422, 1e-13);       /* scipy, series */
    assert_close(keel_chi2_sf(250, 200), 0.009379131668826098, 1e-12);   /* scipy, fraction */
    assert_close(keel_chi2_sf(0, 3), 1, 0);
    assert_nan(keel_chi2_sf(1, 0));
    assert_nan(keel_gamma_q(0, 1));
    assert_nan(keel_gamma_q(1, -1));
    double stat, p, df;
    /* reference 30/70, current 50/50: E = (30, 70), 400/30 + 400/70 */
    keel_drift_chisquare((double[]){ 30, 70 }, (double[]){ 50, 50 }, 2, &stat, &p, &df);
    assert_close(stat, 400.0 / 30 + 400.0 / 70, 1e-15);
    assert_close(p, 1.2749674921097076e-05, 1e-12);   /* scipy chisquare */
    assert_close(df, 1, 0);
    /* a bucket the reference lacks is left out: obs (50, 40), E = (27, 63) */
    keel_drift_chisquare((double[]){ 30, 70, 0 }, (double[]){ 50, 40, 10 }, 3, &stat, &p, &df);
    assert_close(stat, 23.0 * 23 / 27 + 23.0 * 23 / 63, 1e-14);
    assert_close(p, 1.2198067344971694e-07, 1e-12);
    assert_close(df, 1, 0);
    /* one reference category: no degrees of freedom, no p-value */
    keel_drift_chisquare((double[]){ 10, 0 }, (double[]){ 4, 6 }, 2, &stat, &p, &df);
    assert_close(stat, 0, 0);
    assert_nan(p);
    assert_close(df, 0, 0);
    /* nothing current in the reference's categories */
    keel_drift_chisquare((double[]){ 10, 0 }, (double[]){ 0, 6 }, 2, &stat, &p, &df);
    assert_nan(stat);
    assert_nan(p);
}

/* ---- sorting and bins ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void sort_moves_nan_out_and_orders(void **state)
{
    (void)state;
    double v[] = { 3, NAN, -1, INFINITY, -0.0, 2.5, NAN, -INFINITY, 0.0, 1e-310, -2 };
    size_t m = 0;
    keel_err err;
    assert_int_equal(keel_drift_sort(v, 11, &m, &err), KEEL_OK);
    assert_int_equal(m, 9);
    double want[] = { -INFINITY, -2, -1, -0.0, 0.0, 1e-310, 2.5, 3, INFINITY };
    for (size_t i = 0; i < m; i++)
        assert_true(v[i] == want[i]);
    assert_true(signbit(v[3]) != signbit(v[4]));   /* -0.0 and 0.0, either order */
    assert_true(isnan(v[9]) && isnan(v[10]));
    assert_int_equal(keel_drift_sort(NULL, 0, &m, &err), KEEL_OK);
    assert_int_equal(m, 0);
    assert_int_equal(keel_drift_sort(NULL, 3, &m, &err), KEEL_EINVAL);
    /* against qsort on 100,000 values of every sign and size */
    size_t n = 100000;
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    uint64_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = keel_splitmix64(x);
        double u = (double)(x >> 11) / 9007199254740992.0;
        a[i] = (x & 1 ? -1 : 1) * u * pow(10, (double)((x >> 3) % 40) - 20);
        if (i % 97 == 0)
            a[i] = (double)(i % 7);   /* ties */
        b[i] = a[i];
    }
    qsort(b, n, sizeof *b, cmp_double);
    assert_int_equal(keel_drift_sort(a, n, &m, &err), KEEL_OK);
    assert_int_equal(m, n);
    assert_memory_equal(a, b, n * sizeof *a);
    free(a);
    free(b);
}

static void radix_sort_fixes_equal_floats(void **state)
{
    (void)state;
    keel__radix_hist *h = calloc(1, sizeof *h);
    double v[] = { 5, 3, 5, 1, 3 }, tmp[40], out[40];
    const double *s = keel__drift_radix_sort(v, tmp, 5, h, NULL);
    double want[] = { 1, 3, 3, 5, 5 };
    assert_memory_equal(s, want, sizeof want);
    /* every key the same: no pass at all */
    double same[] = { 7, 7, 7 };
    assert_ptr_equal(keel__drift_radix_sort(same, tmp, 3, h, NULL), same);
    /* doubles that round to the same float: a run of 5 (insertion) and a
     * run of 30 (qsort) around 1.0 and 2.0, shuffled */
    double w[35], sorted[35];
    for (int i = 0; i < 35; i++) {
        int k = (i * 17) % 35;
        w[i] = k < 5 ? 1.0 + k * 0x1p-40 : 2.0 + (k - 5) * 0x1p-39;
        sorted[k] = w[i];
    }
    assert_ptr_equal(keel__drift_radix_sort(w, tmp, 35, h, out), out);
    assert_memory_equal(out, sorted, sizeof sorted);
    /* negative numbers, infinities, denormals and zeros */
    double mixed[] = { 1e-310, -INFINITY, -1e-310, 3e38, 1e39, -0.5, -1, INFINITY, 0.0 };
    double mixed_sorted[] = { -INFINITY, -1, -0.5, -1e-310, 0.0, 1e-310, 3e38, 1e39, INFINITY };
    keel__drift_radix_sort(mixed, tmp, 9, h, out);
    assert_memory_equal(out, mixed_sorted, sizeof mixed_sorted);
    free(h);
}

static void bins_are_the_profiles_deciles(void **state)
{
    (void)state;
    keel_drift_bins b;
    keel_err err;
    /* 0..10: the deciles are the values themselves */
    double v[11];
    for (int i = 0; i <= 10; i++)
        v[i] = i;
    assert_int_equal(keel_drift_bins_from_sorted(v, 11, &b, &err), KEEL_OK);
    assert_int_equal(b.n_edges, 11);
    assert_int_equal(keel_drift_bins_count(&b), 10);
    for (int i = 0; i <= 10; i++)
        assert_true(b.edges[i] == i);
    /* duplicates dropped: twenty 0s and one 1 make the single bin [0, 1] */
    double z[21] = { 0 };
    z[20] = 1;
    assert_int_equal(keel_drift_bins_from_sorted(z, 21, &b, &err), KEEL_OK);
    assert_int_equal(b.n_edges, 2);
    assert_int_equal(keel_drift_bins_count(&b), 1);
    /* the same edges keel_frame_profile records */
    keel_frame *f = frame_of("x\n3\n1.5\n7\n7\n2\n9.25\n-4\n0\n11\n6\n5\n2\n");
    json_t *p = keel_frame_profile(f, NULL, 0);
    const json_t *edges = json_object_get(json_object_get(json_object_get(p, "columns"), "x"), "bins");
    double s[] = { -4, 0, 1.5, 2, 2, 3, 5, 6, 7, 7, 9.25, 11 };
    assert_int_equal(keel_drift_bins_from_sorted(s, 12, &b, &err), KEEL_OK);
    assert_int_equal(json_array_size(edges), b.n_edges);
    for (size_t i = 0; i < b.n_edges; i++)
        assert_true(json_real_value(json_array_get(edges, i)) == b.edges[i] ||
                    (double)json_integer_value(json_array_get(edges, i)) == b.edges[i]);
    json_decref(p);
    keel_frame_destroy(f);
    /* counting: (lo, hi], the first bin closed, the ends clamped */
    keel_drift_bins q = { { 0, 1, 2 }, 3 };
    double c[2];
    size_t below, above;
    keel_drift_bin_counts(&q, (double[]){ -1, 0, 0.5, 1, 1.5, 2, 3, NAN }, 8, c, &below, &above);
    assert_true(c[0] == 4 && c[1] == 3);
    assert_int_equal(below, 1);
    assert_int_equal(above, 1);
    assert_int_equal(keel_drift_bins_from_sorted(v, 0, &b, &err), KEEL_EINVAL);
}

/* ---- one feature ---- */

static void identical_samples_do_not_drift(void **state)
{
    (void)state;
    double a[200];
    for (int i = 0; i < 200; i++)
        a[i] = sin(i) * 10;
    keel_drift_measures m;
    keel_err err;
    assert_int_equal(keel_drift_numeric(a, 200, 200, a, 200, 200, &m, &err), KEEL_OK);
    assert_true(m.from_samples);
    assert_int_equal(m.n_bins, 10);
    assert_close(m.psi, 0, 0);
    assert_close(m.js, 0, 0);
    assert_close(m.ks, 0, 0);
    assert_close(m.ks_pvalue, 1, 0);
    assert_close(m.wasserstein, 0, 0);
    assert_close(m.missing_delta, 0, 0);
    assert_int_equal(m.out_of_range, 0);
    assert_int_equal(keel_drift_categorical((double[]){ 5, 3, 0 }, (double[]){ 5, 3, 0 }, 3, 8, 8,
                                            0, &m, &err),
                     KEEL_OK);
    assert_close(m.psi, 0, 0);
    assert_close(m.chi2, 0, 0);
    assert_close(m.chi2_pvalue, 1, 0);
}

static void nan_is_missing(void **state)
{
    (void)state;
    keel_drift_measures m;
    keel_err err;
    /* reference {1,2,4} + 1 missing of 4 rows; current {1,2} + 2 missing,
     * and 2 more rows missing past the array (6 rows) */
    double ref[] = { 1, 2, NAN, 4 }, cur[] = { NAN, NAN, 1, 2 };
    assert_int_equal(keel_drift_numeric(ref, 4, 4, cur, 4, 6, &m, &err), KEEL_OK);
    assert_int_equal(m.ref_values, 3);
    assert_int_equal(m.cur_values, 2);
    assert_close(m.ref_missing_rate, 0.25, 0);
    assert_close(m.cur_missing_rate, 4.0 / 6, 1e-15);
    assert_close(m.missing_delta, 4.0 / 6 - 0.25, 1e-15);
    /* {1,2,4} vs {1,2}: CDF gaps 1/6 on [1, 2) and 1/3 on [2, 4):
     * D = 1/3, W1 = 1/6 + 2/3 */
    assert_close(m.ks, 1.0 / 3, 1e-15);
    assert_close(m.wasserstein, 5.0 / 6, 1e-15);
    /* the inputs are left as they were */
    assert_true(isnan(ref[2]) && ref[3] == 4 && isnan(cur[0]));
}

static void infinities_stay_out_of_the_edges(void **state)
{
    (void)state;
    keel_drift_measures m;
    keel_err err;
    /* edges from the finite values {1, 2, 3}; the infinities count in the
     * end bins, and W1 is not finite (NaN, as scipy's) */
    double v[] = { 1, INFINITY, -INFINITY, 2, 3 };
    assert_int_equal(keel_drift_numeric(v, 5, 5, v, 5, 5, &m, &err), KEEL_OK);
    assert_int_equal(m.n_bins, 10);
    assert_close(m.psi, 0, 0);
    assert_close(m.ks, 0, 0);
    assert_int_equal(m.out_of_range, 0);
    assert_nan(m.wasserstein);
    double finite[] = { 1, 2, 3 };
    assert_int_equal(keel_drift_numeric(finite, 3, 3, v, 5, 5, &m, &err), KEEL_OK);
    assert_int_equal(m.out_of_range, 2);
    assert_close(m.ks, 0.2, 1e-15);   /* scipy ks_2samp: 1/5 at -inf */
    /* only infinite reference values: no bins, KS still */
    double inf2[] = { INFINITY, INFINITY };
    assert_int_equal(keel_drift_numeric(inf2, 2, 2, finite, 3, 3, &m, &err), KEEL_OK);
    assert_int_equal(m.n_bins, 0);
    assert_nan(m.psi);
    assert_close(m.ks, 1, 0);
    keel_drift_bins b;
    assert_int_equal(keel_drift_bins_from_sorted(inf2, 2, &b, &err), KEEL_EINVAL);
}

static void empty_and_all_missing(void **state)
{
    (void)state;
    keel_drift_measures m;
    keel_err err;
    double ref[] = { 1, 2, 3 }, nan3[] = { NAN, NAN, NAN };
    /* empty current: nothing to measure, no missing rate either */
    assert_int_equal(keel_drift_numeric(ref, 3, 3, NULL, 0, 0, &m, &err), KEEL_OK);
    assert_nan(m.psi);
    assert_nan(m.ks);
    assert_nan(m.ks_pvalue);
    assert_nan(m.wasserstein);
    assert_nan(m.cur_missing_rate);
    assert_nan(m.missing_delta);
    /* every current value missing: only the missing rate moves */
    assert_int_equal(keel_drift_numeric(ref, 3, 3, nan3, 3, 3, &m, &err), KEEL_OK);
    assert_nan(m.psi);
    assert_nan(m.js);
    assert_close(m.missing_delta, 1, 0);
    /* every reference value missing */
    assert_int_equal(keel_drift_numeric(nan3, 3, 3, ref, 3, 3, &m, &err), KEEL_OK);
    assert_nan(m.psi);
    assert_int_equal(m.n_bins, 0);
    assert_close(m.missing_delta, -1, 0);
    /* categorical: no current value */
    assert_int_equal(keel_drift_categorical((double[]){ 4, 0 }, (double[]){ 0, 0 }, 2, 4, 2, 0,
                                            &m, &err),
                     KEEL_OK);
    assert_nan(m.psi);
    assert_nan(m.chi2);
    assert_close(m.cur_missing_rate, 1, 0);
}

static void constant_reference_gets_three_buckets(void **state)
{
    (void)state;
    keel_drift_measures m;
    keel_err err;
    /* {5,5,5} vs {5,5,6}: buckets below/at/above 5 are (0,3,0) vs (0,2,1) */
    assert_int_equal(keel_drift_numeric((double[]){ 5, 5, 5 }, 3, 3, (double[]){ 5, 5, 6 }, 3, 3,
                                        &m, &err),
                     KEEL_OK);
    assert_int_equal(m.n_bins, 3);
    assert_int_equal(m.out_of_range, 1);
    assert_close(m.psi, 2.8382532243304146, 1e-14);    /* numpy, the formula in monitor.h */
    assert_close(m.js, 0.43689186833942056, 1e-14);    /* scipy jensenshannon */
    assert_close(m.ks, 1.0 / 3, 1e-15);
    assert_close(m.wasserstein, 1.0 / 3, 1e-15);
    /* every value shifted below: PSI and JS see it too */
    assert_int_equal(keel_drift_numeric((double[]){ 5, 5 }, 2, 2, (double[]){ 4, 4 }, 2, 2, &m,
                                        &err),
                     KEEL_OK);
    assert_close(m.js, 1, 1e-15);
    assert_true(m.psi > 10);
    /* a 0/1 column whose deciles are {0, 1} is one clamped bin: PSI and JS
     * are blind to the share of ones (documented), KS is not */
    double ref[21] = { 0 }, cur[21];
    ref[20] = 1;
    for (int i = 0; i < 21; i++)
        cur[i] = i % 2;
    assert_int_equal(keel_drift_numeric(ref, 21, 21, cur, 21, 21, &m, &err), KEEL_OK);
    assert_int_equal(m.n_bins, 1);
    assert_close(m.psi, 0, 0);
    assert_close(m.js, 0, 0);
    assert_close(m.ks, 9.0 / 21, 1e-15);   /* at 0: 20/21 vs 11/21 */
}

static void profile_measures_by_hand(void **state)
{
    (void)state;
    keel_drift_measures m;
    keel_err err;
    /* bins [0,1], (1,2] with 5 each; current {0.5, 1.5, 3}, 1 row missing */
    keel_drift_numeric_ref ref = { { { 0, 1, 2 }, 3 }, (double[]){ 5, 5 }, 10, 0.0 };
    double cur[] = { 0.5, NAN, 1.5, 3 };
    assert_int_equal(keel_drift_numeric_profile(&ref, cur, 4, 4, &m, &err), KEEL_OK);
    assert_false(m.from_samples);
    assert_int_equal(m.out_of_range, 1);
    assert_close(m.cur_missing_rate, 0.25, 0);
    /* PSI on (5,5) vs (1,2) clamped */
    assert_close(m.psi, keel_drift_psi((double[]){ 5, 5 }, (double[]){ 1, 2 }, 2), 0);
    /* CDFs at the edges, mass spread in bins: at 1: .5 vs 1/3, at 2: 1 vs 2/3 */
    assert_close(m.ks, 1.0 / 3, 1e-15);
    /* W1: beyond 2: 1/3; bin 1: (0 + 1/6)/2; bin 2: (1/6 + 1/3)/2 */
    assert_close(m.wasserstein, 1.0 / 3 + 1.0 / 12 + 1.0 / 4, 1e-15);
    assert_nan(m.ks_pvalue);
    /* the gap changing sign inside a bin: reference uniform on [0, 3] (three
     * bins of 1), current all in (1, 2]: gaps +1/3 at 1, -1/3 at 2; W1 is
     * 1/6 per bin, exactly uniform[0,3] against uniform[1,2] */
    keel_drift_numeric_ref flip = { { { 0, 1, 2, 3 }, 4 }, (double[]){ 1, 1, 1 }, 3, 0 };
    assert_int_equal(keel_drift_numeric_profile(&flip, (double[]){ 1.5, 1.2, 1.8, 1.9 }, 4, 4, &m,
                                                &err),
                     KEEL_OK);
    assert_close(m.ks, 1.0 / 3, 1e-15);
    assert_close(m.wasserstein, 0.5, 1e-15);
    /* identical data, profile path: all zero */
    keel_drift_numeric_ref same = { { { 0, 1, 2 }, 3 }, (double[]){ 2, 2 }, 4, 0 };
    assert_int_equal(keel_drift_numeric_profile(&same, (double[]){ 0, 1, 1.5, 2 }, 4, 4, &m, &err),
                     KEEL_OK);
    assert_close(m.psi, 0, 0);
    assert_close(m.ks, 0, 0);
    assert_close(m.wasserstein, 0, 0);
    /* a constant profile */
    keel_drift_numeric_ref one = { { { 7 }, 1 }, (double[]){ 4 }, 4, 0 };
    assert_int_equal(keel_drift_numeric_profile(&one, (double[]){ 7, 9, 9, 6 }, 4, 4, &m, &err),
                     KEEL_OK);
    assert_int_equal(m.n_bins, 3);
    assert_close(m.ks, 0.5, 0);
    assert_close(m.wasserstein, (1.0 + 2 + 2) / 4, 1e-15);
    /* a profile with no values */
    keel_drift_numeric_ref none = { { { 0 }, 0 }, NULL, 4, 1.0 };
    assert_int_equal(keel_drift_numeric_profile(&none, (double[]){ 1 }, 1, 1, &m, &err), KEEL_OK);
    assert_nan(m.psi);
    assert_close(m.missing_delta, -1, 0);
}

static void categorical_by_hand(void **state)
{
    (void)state;
    keel_drift_measures m;
    keel_err err;
    /* reference 30/70/-, current 50/40 and 10 in two unseen categories */
    assert_int_equal(keel_drift_categorical((double[]){ 30, 70, 0 }, (double[]){ 50, 40, 10 }, 3,
                                            100, 120, 2, &m, &err),
                     KEEL_OK);
    assert_int_equal(m.unseen_categories, 2);
    assert_int_equal(m.unseen_values, 10);
    assert_close(m.cur_missing_rate, 20.0 / 120, 1e-15);
    assert_close(m.psi, 0.9601346135041404, 1e-14);   /* numpy */
    assert_close(m.js, 0.3132303166994885, 1e-14);    /* scipy */
    assert_close(m.chi2, 23.0 * 23 / 27 + 23.0 * 23 / 63, 1e-14);
    assert_close(m.chi2_df, 1, 0);
    assert_nan(m.ks);
}

static void errors(void **state)
{
    (void)state;
    keel_drift_measures m;
    keel_err err;
    double v[] = { 1, 2 };
    assert_int_equal(keel_drift_numeric(NULL, 2, 2, v, 2, 2, &m, &err), KEEL_EINVAL);
    assert_int_equal(keel_drift_numeric(v, 2, 1, v, 2, 2, &m, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "fewer than values"));
    assert_int_equal(keel_drift_numeric_sorted(v, 2, 2, v, 2, 2, NULL, &err), KEEL_EINVAL);
    keel_drift_numeric_ref bad = { { { 0, 2, 1 }, 3 }, (double[]){ 1, 1 }, 2, 0 };
    assert_int_equal(keel_drift_numeric_profile(&bad, v, 2, 2, &m, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "increase"));
    keel_drift_numeric_ref neg = { { { 0, 1 }, 2 }, (double[]){ -1 }, 2, 0 };
    assert_int_equal(keel_drift_numeric_profile(&neg, v, 2, 2, &m, &err), KEEL_EINVAL);
    keel_drift_numeric_ref inf = { { { 0, INFINITY }, 2 }, (double[]){ 1 }, 2, 0 };
    assert_int_equal(keel_drift_numeric_profile(&inf, v, 2, 2, &m, &err), KEEL_EINVAL);
    keel_drift_numeric_ref nocounts = { { { 0, 1 }, 2 }, NULL, 2, 0 };
    assert_int_equal(keel_drift_numeric_profile(&nocounts, v, 2, 2, &m, &err), KEEL_EINVAL);
    assert_int_equal(keel_drift_categorical(NULL, NULL, 0, 1, 1, 0, &m, &err), KEEL_EINVAL);
    assert_int_equal(keel_drift_categorical((double[]){ 1 }, (double[]){ -1 }, 1, 1, 1, 0, &m,
                                            &err),
                     KEEL_EINVAL);
    assert_int_equal(keel_drift_categorical((double[]){ 5 }, (double[]){ 1 }, 1, 4, 1, 0, &m,
                                            &err),
                     KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "exceed"));
}

/* ---- whole frames ---- */

static const char ref_csv[] =
    "x,city,flag,empty,only_ref\n"
    "1.5,paris,1,,a\n2.5,rome,0,,b\n3.5,paris,1,,c\n4.5,oslo,1,,d\n5.5,paris,0,,e\n"
    "6.5,rome,1,,f\n7.5,paris,1,,g\n8.5,oslo,0,,h\n9.5,paris,1,,i\n10.5,rome,1,,j\n";
static const char cur_csv[] =
    "x,city,flag,empty,extra\n"
    "11.5,lima,a,1,z\n12.5,rome,b,2,z\n13.5,,c,3,z\n14.5,lima,d,4,z\n15.5,paris,e,5,z\n";

static void frames_compare_by_column_kind(void **state)
{
    (void)state;
    keel_frame *ref = frame_of(ref_csv), *cur = frame_of(cur_csv);
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_drift_report r;
    keel_err err;
    keel_drift_options opts = { .threads = 1 };
    assert_int_equal(keel_drift_compare_frames(ref, cur, &opts, &a, &r, &err), KEEL_OK);
    assert_int_equal(r.n_features, 4);   /* x, city, flag, empty: shared */
    assert_int_equal(r.n_not_in_current, 1);
    assert_string_equal(r.not_in_current[0], "only_ref");
    const keel_drift_feature *x = feature(&r, "x");
    assert_int_equal(x->m.kind, KEEL_DRIFT_NUMERIC);
    assert_close(x->m.ks, 1, 0);
    assert_close(x->m.ks_pvalue, keel_drift_ks_pvalue(1, 10, 5), 0);
    assert_int_equal(x->m.out_of_range, 5);
    assert_true(x->drifted && (x->reasons & (1u << KEEL_DRIFT_PSI_BIT)));
    const keel_drift_feature *city = feature(&r, "city");
    assert_int_equal(city->m.kind, KEEL_DRIFT_CATEGORICAL);
    /* reference oslo 2, paris 5, rome 3 (sorted), rest 0; current 0, 1, 1, lima 2 */
    assert_int_equal(city->m.unseen_categories, 1);
    assert_int_equal(city->m.unseen_values, 2);
    assert_close(city->m.cur_missing_rate, 0.2, 1e-15);
    assert_close(city->m.psi, keel_drift_psi((double[]){ 2, 5, 3, 0 }, (double[]){ 0, 1, 1, 2 }, 4),
                 0);
    /* a number column that became text */
    const keel_drift_feature *flag = feature(&r, "flag");
    assert_true(flag->drifted);
    assert_int_equal(flag->reasons, 1u << KEEL_DRIFT_TYPE_BIT);
    assert_string_equal(flag->ref_type, "int");
    assert_string_equal(flag->type, "string");
    /* no values in the reference: fits the current kind, only missing moves */
    const keel_drift_feature *empty = feature(&r, "empty");
    assert_int_equal(empty->m.kind, KEEL_DRIFT_NUMERIC);
    assert_nan(empty->m.psi);
    assert_true(empty->reasons == (1u << KEEL_DRIFT_MISSING_BIT));
    assert_int_equal(r.n_drifted, 4);

    /* the same with four threads */
    keel_drift_report r4;
    opts.threads = 4;
    assert_int_equal(keel_drift_compare_frames(ref, cur, &opts, &a, &r4, &err), KEEL_OK);
    for (size_t i = 0; i < r.n_features; i++) {
        assert_string_equal(r.features[i].name, r4.features[i].name);
        assert_memory_equal(&r.features[i].m, &r4.features[i].m, sizeof r.features[i].m);
    }

    /* thresholds decide */
    keel_drift_thresholds lax = { 1e9, 0, 1, 0, 1 };
    opts.thresholds = &lax;
    const char *only_x[] = { "x" };
    opts.columns = only_x;
    opts.n_columns = 1;
    assert_int_equal(keel_drift_compare_frames(ref, cur, &opts, &a, &r, &err), KEEL_OK);
    assert_int_equal(r.n_features, 1);
    assert_int_equal(r.n_drifted, 0);

    /* a reference against itself */
    assert_int_equal(keel_drift_compare_frames(ref, ref, NULL, &a, &r, &err), KEEL_OK);
    assert_int_equal(r.n_drifted, 0);
    assert_int_equal(r.n_features, 5);

    /* --columns naming a column one side lacks */
    const char *bad[] = { "x", "nope" };
    opts.columns = bad;
    opts.n_columns = 2;
    assert_int_equal(keel_drift_compare_frames(ref, cur, &opts, &a, &r, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "'nope' is not in the current data"));
    const char *only_ref[] = { "only_ref" };
    opts.columns = only_ref;
    opts.n_columns = 1;
    assert_int_equal(keel_drift_compare_frames(ref, cur, &opts, &a, &r, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "'only_ref'"));
    const char *extra[] = { "extra" };
    opts.columns = extra;
    assert_int_equal(keel_drift_compare_frames(ref, cur, &opts, &a, &r, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "not in the reference"));
    assert_int_equal(keel_drift_compare_frames(NULL, cur, NULL, &a, &r, &err), KEEL_EINVAL);

    keel_arena_free(&a);
    keel_frame_destroy(ref);
    keel_frame_destroy(cur);
}

static void profile_reference_agrees_with_frame(void **state)
{
    (void)state;
    keel_frame *ref = frame_of(ref_csv), *cur = frame_of(cur_csv);
    json_t *profile = keel_frame_profile(ref, NULL, 0);
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_drift_report rf, rp;
    keel_err err;
    assert_int_equal(keel_drift_compare_frames(ref, cur, NULL, &a, &rf, &err), KEEL_OK);
    assert_int_equal(keel_drift_compare_profile(profile, cur, NULL, &a, &rp, &err), KEEL_OK);
    assert_false(rp.from_samples);
    assert_int_equal(rp.n_features, rf.n_features);
    /* Same bins, same categories: PSI, JS, chi-square, counts agree. */
    for (size_t i = 0; i < rf.n_features; i++) {
        const keel_drift_measures *f = &rf.features[i].m, *p = &rp.features[i].m;
        assert_string_equal(rf.features[i].name, rp.features[i].name);
        if (!isnan(f->psi)) {
            assert_close(p->psi, f->psi, 1e-15);
            assert_close(p->js, f->js, 1e-15);
        }
        if (isnan(f->missing_delta))
            assert_nan(p->missing_delta);   /* "flag": types differ, nothing measured */
        else
            assert_close(p->missing_delta, f->missing_delta, 1e-15);
        assert_int_equal(p->out_of_range, f->out_of_range);
        if (f->kind == KEEL_DRIFT_CATEGORICAL && !isnan(f->chi2))
            assert_close(p->chi2, f->chi2, 1e-15);
        assert_nan(p->ks_pvalue);
    }
    /* The report as JSON: NaN is null, reasons by name. */
    json_t *j = keel_drift_report_json(&rp, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "method")), "profile");
    const json_t *first = json_array_get(json_object_get(j, "features"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "name")), "x");
    assert_true(json_is_null(json_object_get(first, "ks_pvalue")));
    assert_true(json_is_null(json_object_get(first, "chi2")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(first, "reasons"), 0)),
                        "psi");
    json_decref(j);
    assert_string_equal(keel_drift_reason_name(KEEL_DRIFT_MISSING_BIT), "missing_delta");
    assert_null(keel_drift_reason_name(KEEL_DRIFT_REASON_COUNT));

    /* Malformed profiles name the column and what is wrong. */
    json_t *copy = json_deep_copy(profile);
    json_t *x = json_object_get(json_object_get(copy, "columns"), "x");
    json_array_set_new(json_object_get(x, "bins"), 1, json_real(-100));
    assert_int_equal(keel_drift_compare_profile(copy, cur, NULL, &a, &rp, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "column 'x'"));
    assert_non_null(strstr(err.msg, "increase"));
    json_array_append_new(json_object_get(x, "bin_counts"), json_integer(3));
    assert_int_equal(keel_drift_compare_profile(copy, cur, NULL, &a, &rp, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "bin_counts"));
    json_object_set_new(json_object_get(json_object_get(copy, "columns"), "city"), "top",
                        json_pack("{s:s}", "paris", "many"));
    json_object_del(json_object_get(copy, "columns"), "x");
    assert_int_equal(keel_drift_compare_profile(copy, cur, NULL, &a, &rp, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "'paris'"));
    json_decref(copy);
    /* a profile of data with infinities has "NaN" edges: no bins, no error */
    json_t *inf_profile = json_deep_copy(profile);
    json_t *ix = json_object_get(json_object_get(inf_profile, "columns"), "x");
    json_array_set_new(json_object_get(ix, "bins"), 0, json_string("NaN"));
    assert_int_equal(keel_drift_compare_profile(inf_profile, cur, NULL, &a, &rp, &err), KEEL_OK);
    assert_nan(feature(&rp, "x")->m.psi);
    assert_int_equal(feature(&rp, "x")->m.n_bins, 0);
    json_decref(inf_profile);
    json_t *no_columns = json_pack("{s:i}", "rows", 3);
    assert_int_equal(keel_drift_compare_profile(no_columns, cur, NULL, &a, &rp, &err),
                     KEEL_EINVAL);
    json_decref(no_columns);
    json_t *bad_type = json_pack("{s:i, s:{s:{s:s}}}", "rows", 3, "columns", "x", "type", "blob");
    assert_int_equal(keel_drift_compare_profile(bad_type, cur, NULL, &a, &rp, &err),
                     KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "column 'x'"));
    json_decref(bad_type);

    json_decref(profile);
    keel_arena_free(&a);
    keel_frame_destroy(ref);
    keel_frame_destroy(cur);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(psi_by_hand),
        cmocka_unit_test(js_by_hand),
        cmocka_unit_test(ks_and_w1_by_hand),
        cmocka_unit_test(ks_pvalue_matches_scipy),
        cmocka_unit_test(chi_square_by_hand),
        cmocka_unit_test(sort_moves_nan_out_and_orders),
        cmocka_unit_test(radix_sort_fixes_equal_floats),
        cmocka_unit_test(bins_are_the_profiles_deciles),
        cmocka_unit_test(identical_samples_do_not_drift),
        cmocka_unit_test(nan_is_missing),
        cmocka_unit_test(infinities_stay_out_of_the_edges),
        cmocka_unit_test(empty_and_all_missing),
        cmocka_unit_test(constant_reference_gets_three_buckets),
        cmocka_unit_test(profile_measures_by_hand),
        cmocka_unit_test(categorical_by_hand),
        cmocka_unit_test(errors),
        cmocka_unit_test(frames_compare_by_column_kind),
        cmocka_unit_test(profile_reference_agrees_with_frame),
    };
    return keel_test_main(argc, argv, "drift", tests);
}
