/*
 * drift_stats.c — drift measures between a reference and current data, per
 * feature and for whole frames (keel/monitor.h has the formulas).
 *
 * The numbers are meant to be reproduced in Python: PSI and JS are plain
 * sums over at most 11 buckets; KS and W1 come from one merge pass over the
 * two sorted samples, evaluating the empirical CDFs exactly as
 * scipy.stats.ks_2samp and wasserstein_distance do (counts divided by the
 * sample size, never a running sum of 1/n); the KS p-value follows scipy's
 * kstwo.sf branch for branch (scipy/stats/_ksstats.py, after Simard &
 * L'Ecuyer 2011) and the chi-square p-value is the regularized upper
 * incomplete gamma function (Cephes' series and continued fraction).
 *
 * Speed: each numeric column is gathered (digit counts taken on the way),
 * radix sorted on its values' float keys (three passes, then a fix-up of
 * the rare runs that share a float) and merged once for KS and W1;
 * features are spread over threads, each with its own scratch buffers, so
 * comparing two 1,000,000-row frames costs two sorts and a merge per
 * feature and no allocation per feature once the buffers have grown.
 */
#include "monitor/monitor_internal.h"

#include <keel/json.h>
#include <keel/monitor.h>
#include <keel/util.h>

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DRIFT_MAX_THREADS 8

/* ---- sorting ----
 *
 * An LSD radix sort over the 32-bit key of each value rounded to float:
 * rounding is monotone, so three 11-bit passes put the doubles in order
 * except inside runs whose floats are equal, which one pass of neighbour
 * comparisons then finds and sorts. Values printed with up to 7
 * significant digits rarely share a float, so this costs about three passes
 * instead of the five or six a 64-bit key needs; any input still ends
 * exactly sorted (a long run falls back to qsort). -0.0 and 0.0 compare
 * equal and may come in either order. */

static inline uint32_t key32(double d)
{
    float f = (float)d;
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (u >> 31) != 0 ? ~u : u | (UINT32_C(1) << 31);
}

static inline void hist_add(keel__radix_hist *h, double x)
{
    uint32_t k = key32(x);
    for (int p = 0; p < KEEL__RADIX_PASSES; p++)
        h->count[p][(k >> (p * KEEL__RADIX_BITS)) & (KEEL__RADIX_BUCKETS - 1)]++;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* After the passes only values sharing a float key can be out of order;
 * each such run is sorted by the doubles themselves. The scan is a plain
 * comparison of neighbours, so sorted output costs one cheap pass. */
static void fix_runs(double *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        if (!(v[i - 1] > v[i]))
            continue;
        uint32_t k = key32(v[i]);
        size_t lo = i - 1, hi = i + 1;
        while (lo > 0 && key32(v[lo - 1]) == k)
            lo--;
        while (hi < n && key32(v[hi]) == k)
            hi++;
        if (hi - lo <= 16) {
            for (size_t q = lo + 1; q < hi; q++) {
                double x = v[q];
                size_t r = q;
                for (; r > lo && v[r - 1] > x; r--)
                    v[r] = v[r - 1];
                v[r] = x;
            }
        } else {
            qsort(v + lo, hi - lo, sizeof *v, by_value);
        }
        i = hi;   /* v[hi] has a larger float key than the whole run */
    }
}

double *keel__drift_radix_sort(double *v, double *tmp, size_t n, keel__radix_hist *h,
                               double *out)
{
    if (!h->counted) {
        memset(h->count, 0, sizeof h->count);
        for (size_t i = 0; i < n; i++)
            hist_add(h, v[i]);
    }
    h->counted = false;
    int active[KEEL__RADIX_PASSES], n_active = 0;
    for (int p = 0; n > 0 && p < KEEL__RADIX_PASSES; p++) {
        int shift = p * KEEL__RADIX_BITS;
        if (h->count[p][(key32(v[0]) >> shift) & (KEEL__RADIX_BUCKETS - 1)] != n)
            active[n_active++] = p;   /* else every key has this digit */
    }
    double *src = v, *dst = tmp;
    for (int a = 0; a < n_active; a++) {
        int p = active[a], shift = p * KEEL__RADIX_BITS;
        size_t *pos = h->count[p], sum = 0;
        for (size_t b = 0; b < KEEL__RADIX_BUCKETS; b++) {
            size_t c = pos[b];
            pos[b] = sum;
            sum += c;
        }
        if (out != NULL && a == n_active - 1)
            dst = out;
        for (size_t i = 0; i < n; i++) {
            double x = src[i];
            dst[pos[(key32(x) >> shift) & (KEEL__RADIX_BUCKETS - 1)]++] = x;
        }
        double *t = src;
        src = dst;
        dst = t;
    }
    if (out != NULL && src != out) {
        memcpy(out, src, n * sizeof *out);
        src = out;
    }
    fix_runs(src, n);
    return src;
}

int keel_drift_sort(double *v, size_t n, size_t *out_n_values, keel_err *err)
{
    if (out_n_values == NULL || (v == NULL && n > 0))
        return keel_errf(err, KEEL_EINVAL, "keel_drift_sort: NULL argument");
    *out_n_values = 0;
    if (n == 0)
        return KEEL_OK;
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    keel__radix_hist *h = malloc(sizeof *h);
    if (a == NULL || b == NULL || h == NULL) {
        free(a);
        free(b);
        free(h);
        return keel_errf(err, KEEL_ENOMEM, "out of memory sorting %zu values", n);
    }
    memset(h, 0, sizeof *h);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isnan(v[i])) {
            a[m++] = v[i];
            hist_add(h, v[i]);
        }
    }
    h->counted = true;
    keel__drift_radix_sort(a, b, m, h, v);
    for (size_t i = m; i < n; i++)
        v[i] = NAN;
    free(a);
    free(b);
    free(h);
    *out_n_values = m;
    return KEEL_OK;
}

/* ---- bins ---- */

/* numpy's linear quantile, as keel_frame_profile computes it. */
static double quantile_sorted(const double *s, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    double frac = pos - (double)lo;
    return s[lo] + (s[hi] - s[lo]) * frac;
}

int keel_drift_bins_from_sorted(const double *sorted, size_t n, keel_drift_bins *out,
                                keel_err *err)
{
    if (out == NULL || sorted == NULL)
        return keel_errf(err, KEEL_EINVAL, "keel_drift_bins_from_sorted: NULL argument");
    out->n_edges = 0;
    /* Infinities sort to the ends; the edges come from the finite middle
     * (an infinite value would make the interpolation NaN). */
    size_t lo = 0, hi = n;
    while (lo < hi && isinf(sorted[lo]))
        lo++;
    while (hi > lo && isinf(sorted[hi - 1]))
        hi--;
    if (lo == hi)
        return keel_errf(err, KEEL_EINVAL, "no finite values to take decile edges from");
    for (int d = 0; d <= 10; d++) {
        double e = quantile_sorted(sorted + lo, hi - lo, d / 10.0);
        if (out->n_edges == 0 || e > out->edges[out->n_edges - 1])
            out->edges[out->n_edges++] = e;
    }
    return KEEL_OK;
}

/* Index of the first value > e (upper bound) in sorted[0..n). */
static size_t count_le(const double *s, size_t n, double e)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s[mid] <= e)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t count_lt(const double *s, size_t n, double e)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s[mid] < e)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Bin counts of sorted values by binary search at the edges. */
static void bin_counts_sorted(const keel_drift_bins *b, const double *s, size_t n,
                              double *counts, size_t *below, size_t *above)
{
    size_t nb = keel_drift_bins_count(b);
    size_t prev = 0;
    for (size_t k = 0; k + 1 < nb; k++) {
        size_t le = count_le(s, n, b->edges[k + 1]);
        counts[k] = (double)(le - prev);
        prev = le;
    }
    counts[nb - 1] = (double)(n - prev);
    *below = count_lt(s, n, b->edges[0]);
    *above = n - count_le(s, n, b->edges[b->n_edges - 1]);
}

/* Bin of x: the number of interior edges below it. */
static size_t bin_of(const keel_drift_bins *b, double x)
{
    size_t bin = 0;
    for (size_t k = 1; k + 1 < b->n_edges; k++)
        bin += x > b->edges[k];
    return bin;
}

void keel_drift_bin_counts(const keel_drift_bins *b, const double *v, size_t n,
                           double *out_counts, size_t *out_below, size_t *out_above)
{
    size_t nb = keel_drift_bins_count(b), below = 0, above = 0;
    for (size_t k = 0; k < nb; k++)
        out_counts[k] = 0;
    double lo = b->edges[0], hi = b->edges[b->n_edges - 1];
    for (size_t i = 0; i < n; i++) {
        double x = v[i];
        if (isnan(x))
            continue;
        below += x < lo;
        above += x > hi;
        out_counts[bin_of(b, x)] += 1;
    }
    if (out_below != NULL)
        *out_below = below;
    if (out_above != NULL)
        *out_above = above;
}

/* ---- PSI and Jensen–Shannon ---- */

static bool sums(const double *r, const double *c, size_t k, double *sr, double *sc)
{
    *sr = 0;
    *sc = 0;
    for (size_t i = 0; i < k; i++) {
        *sr += r[i];
        *sc += c[i];
    }
    return *sr > 0 && *sc > 0;
}

double keel_drift_psi(const double *ref_counts, const double *cur_counts, size_t k)
{
    double sr, sc;
    if (ref_counts == NULL || cur_counts == NULL || !sums(ref_counts, cur_counts, k, &sr, &sc))
        return NAN;
    double psi = 0;
    for (size_t i = 0; i < k; i++) {
        double r = ref_counts[i] / sr, c = cur_counts[i] / sc;
        if (r < KEEL_DRIFT_PSI_EPSILON)
            r = KEEL_DRIFT_PSI_EPSILON;
        if (c < KEEL_DRIFT_PSI_EPSILON)
            c = KEEL_DRIFT_PSI_EPSILON;
        psi += (c - r) * log(c / r);
    }
    return psi;
}

double keel_drift_js(const double *ref_counts, const double *cur_counts, size_t k)
{
    double sr, sc;
    if (ref_counts == NULL || cur_counts == NULL || !sums(ref_counts, cur_counts, k, &sr, &sc))
        return NAN;
    double left = 0, right = 0;
    for (size_t i = 0; i < k; i++) {
        double p = ref_counts[i] / sr, q = cur_counts[i] / sc, m = (p + q) / 2.0;
        if (p > 0)
            left += p * log(p / m);
        if (q > 0)
            right += q * log(q / m);
    }
    double js = (left + right) / log(2.0);
    return js > 0 ? sqrt(js / 2.0) : 0.0;
}

/* ---- KS statistic and Wasserstein-1 ---- */

/* One step of the merge: x is the next value in merged order and g the
 * CDF gap |i/na - j/nb| left by the previous value, as the integer
 * |i nb - j na| (exact; divided by na nb once at the end). The previous
 * value's gap counts toward D only when x differs from it (the last of a
 * run of ties), and toward W1 times the distance to x (0 inside a run).
 * No branches on the data: the merge order is unpredictable. W1's sum is
 * compensated (Neumaier): 2n terms of mixed size. */
typedef struct ks_state {
    int64_t dmax, gap;
    double w, comp, prev;
} ks_state;

static inline void ks_step(ks_state *st, double x, int64_t i, int64_t j, int64_t na, int64_t nb)
{
    /* Every term is >= 0: Neumaier's larger-magnitude test is a max. */
    double term = (double)st->gap * (x - st->prev), t = st->w + term;
    double hi = st->w > term ? st->w : term, lo = st->w > term ? term : st->w;
    st->comp += (hi - t) + lo;
    st->w = t;
    int64_t ends_run = (int64_t)(x != st->prev) & (int64_t)(st->gap > st->dmax);
    st->dmax = ends_run ? st->gap : st->dmax;
    int64_t num = i * nb - j * na;
    st->gap = num < 0 ? -num : num;
    st->prev = x;
}

void keel_drift_ks_w1_sorted(const double *a, size_t na, const double *b, size_t nb,
                             double *out_ks, double *out_w1)
{
    double ks = NAN, w1 = NAN;
    /* i nb - j na must fit in 64 bits: up to about 3e9 values a side. */
    if (na == 0 || nb == 0 || a == NULL || b == NULL || na > (size_t)INT32_MAX * 2 ||
        nb > (size_t)INT32_MAX * 2)
        goto done;
    int64_t A = (int64_t)na, B = (int64_t)nb, i = 0, j = 0;
    ks_state st = { 0, 0, 0, 0, a[0] <= b[0] ? a[0] : b[0] };
    while (i < A && j < B) {
        double x = a[i], y = b[j];
        int64_t take_a = x <= y;
        i += take_a;
        j += 1 - take_a;
        ks_step(&st, take_a ? x : y, i, j, A, B);
    }
    while (i < A) {
        double x = a[i++];
        ks_step(&st, x, i, j, A, B);
    }
    while (j < B) {
        double y = b[j++];
        ks_step(&st, y, i, j, A, B);
    }
    if (st.gap > st.dmax)   /* the last value ends its run */
        st.dmax = st.gap;
    /* D and W1 are multiples of 1/(na nb); scipy's D (i/na - j/nb in
     * doubles) agrees to an ulp or two. */
    double scale = (double)A * (double)B;
    ks = (double)st.dmax / scale;
    w1 = (st.w + st.comp) / scale;
done:
    if (out_ks != NULL)
        *out_ks = ks;
    if (out_w1 != NULL)
        *out_w1 = w1;
}

/* ---- the Kolmogorov distribution (scipy/stats/_ksstats.py) ---- */

#define TWO_128 0x1p128
#define TWO_M128 0x1p-128
#define LOG_2PI 1.8378770664093454836
#define SQRT_2PI 2.5066282746310005024
#define CEPHES_MINLOG (-7.08396418532264106224E2)

static double clip01(double p)
{
    if (isnan(p))
        return p;
    return p < 0 ? 0 : p > 1 ? 1 : p;
}

/* log(n! / n^n) by Stirling's series with n log n taken out up front. */
static double log_nfact_div_npown(double n)
{
    static const double stirling[] = {
        -2.955065359477124183e-2, 6.4102564102564102564e-3, -1.9175269175269175269e-3,
        8.4175084175084175084e-4, -5.952380952380952381e-4, 7.9365079365079365079e-4,
        -2.7777777777777777778e-3, 8.3333333333333333333e-2,
    };
    double rn = 1.0 / n, x = rn / n, p = 0;
    for (size_t i = 0; i < sizeof stirling / sizeof stirling[0]; i++)
        p = p * x + stirling[i];
    return log(n) / 2 - n + LOG_2PI / 2 + rn * p;
}

static void matmul(const double *a, const double *b, double *out, int m)
{
    for (int i = 0; i < m; i++) {
        double *row = out + (size_t)i * m;
        for (int j = 0; j < m; j++)
            row[j] = 0;
        for (int k = 0; k < m; k++) {
            double aik = a[(size_t)i * m + k];
            if (aik == 0)
                continue;
            const double *brow = b + (size_t)k * m;
            for (int j = 0; j < m; j++)
                row[j] += aik * brow[j];
        }
    }
}

/* P(D_n <= d) by Durbin's matrix as Marsaglia, Tsang & Wang compute it.
 * NaN when out of memory. */
static double kolmogn_dmtw(int64_t n, double d)
{
    if (d >= 1.0)
        return 1.0;
    double nd = (double)n * d;
    if (nd <= 0.5)
        return 0.0;
    int k = (int)ceil(nd);
    double h = k - nd;
    int m = 2 * k - 1;
    size_t mm = (size_t)m * (size_t)m;
    double *H = calloc(mm, sizeof *H), *P = calloc(mm, sizeof *P), *T = malloc(mm * sizeof *T);
    double *v = malloc((size_t)m * sizeof *v), *w = malloc((size_t)m * sizeof *w);
    double result = NAN;
    if (H == NULL || P == NULL || T == NULL || v == NULL || w == NULL)
        goto done;
    double fac = 1.0;
    for (int j = 1; j <= m; j++) {
        v[j - 1] = 1.0 - pow(h, j);
        w[j - 1] = fac;
        fac /= j;
        v[j - 1] *= fac;
    }
    double tt = pow(fmax(2 * h - 1.0, 0), m) - 2 * pow(h, m);
    v[m - 1] = (1.0 + tt) * fac;
    for (int i = 1; i < m; i++)
        for (int r = i - 1; r < m; r++)
            H[(size_t)r * m + i] = w[r - (i - 1)];
    for (int r = 0; r < m; r++)
        H[(size_t)r * m] = v[r];
    for (int c = 0; c < m; c++)
        H[(size_t)(m - 1) * m + c] = v[m - 1 - c];
    for (int i = 0; i < m; i++)
        P[(size_t)i * m + i] = 1.0;
    int64_t nn = n;
    int expnt = 0, hexpnt = 0;
    while (nn > 0) {
        if (nn % 2) {
            matmul(P, H, T, m);
            memcpy(P, T, mm * sizeof *P);
            expnt += hexpnt;
        }
        matmul(H, H, T, m);
        memcpy(H, T, mm * sizeof *H);
        hexpnt *= 2;
        if (fabs(H[(size_t)(k - 1) * m + (k - 1)]) > TWO_128) {
            for (size_t i = 0; i < mm; i++)
                H[i] /= TWO_128;
            hexpnt += 128;
        }
        nn /= 2;
    }
    double p = P[(size_t)(k - 1) * m + (k - 1)];
    for (int64_t i = 1; i <= n; i++) {
        p = (double)i * p / (double)n;
        if (fabs(p) < TWO_M128) {
            p *= TWO_128;
            expnt -= 128;
        }
    }
    if (expnt != 0)
        p = ldexp(p, expnt);
    result = clip01(p);
done:
    free(H);
    free(P);
    free(T);
    free(v);
    free(w);
    return result;
}

static void pomeranz_j1j2(int64_t i, int64_t n, int64_t ll, int64_t ceilf, int64_t roundf,
                          int64_t *j1, int64_t *j2)
{
    int64_t a, b;
    if (i == 0) {
        a = -ll - ceilf - 1;
        b = ll + ceilf - 1;
    } else {
        int64_t half = (i + 1) / 2, odd = (i + 1) % 2;
        if (odd == 0) {   /* i is odd */
            if (half == n + 1) {
                a = n - ll - ceilf - 1;
                b = n + ll + ceilf - 1;
            } else {
                a = half - 1 - ll - roundf - 1;
                b = half + ll - 1 + ceilf - 1;
            }
        } else {
            a = half - 1 - ll - 1;
            b = half + ll + roundf - 1;
        }
    }
    *j1 = a + 2 > 0 ? a + 2 : 0;
    *j2 = b < n ? b : n;
}

/* P(D_n <= x) by Pomeranz's recursion (used for n <= 140). */
static double kolmogn_pomeranz(int64_t n, double x)
{
    double t = (double)n * x;
    int64_t ll = (int64_t)floor(t);
    double f = t - (double)ll;
    double g = f < 1.0 - f ? f : 1.0 - f;
    int64_t ceilf = f > 0 ? 1 : 0, roundf = f > 0.5 ? 1 : 0;
    int64_t npwrs = 2 * (ll + 1);
    double *buf = calloc((size_t)npwrs * 6, sizeof *buf);
    if (buf == NULL)
        return NAN;
    double *gpower = buf, *twogpower = buf + npwrs, *onem2gpower = buf + 2 * npwrs;
    double *V0 = buf + 3 * npwrs, *V1 = buf + 4 * npwrs, *conv = buf + 5 * npwrs;
    gpower[0] = twogpower[0] = onem2gpower[0] = 1.0;
    double dn = (double)n;
    double g_n = g / dn, twog_n = 2 * g / dn, onem2g_n = (1 - 2 * g) / dn;
    for (int64_t k = 1; k < npwrs; k++) {
        gpower[k] = gpower[k - 1] * g_n / (double)k;
        twogpower[k] = twogpower[k - 1] * twog_n / (double)k;
        onem2gpower[k] = onem2gpower[k - 1] * onem2g_n / (double)k;
    }
    V1[0] = 1;
    int64_t V0s = 0, V1s = 0, j1, j2;
    int expnt = 0;
    pomeranz_j1j2(0, n, ll, ceilf, roundf, &j1, &j2);
    for (int64_t i = 1; i < 2 * n + 2; i++) {
        int64_t k1 = j1;
        double *swap = V0;
        V0 = V1;
        V1 = swap;
        int64_t s = V0s;
        V0s = V1s;
        V1s = s;
        memset(V1, 0, (size_t)npwrs * sizeof *V1);
        pomeranz_j1j2(i, n, ll, ceilf, roundf, &j1, &j2);
        const double *pwrs = (i == 1 || i == 2 * n + 1) ? gpower
                             : (i % 2) ? twogpower : onem2gpower;
        int64_t ln2 = j2 - k1 + 1;
        if (ln2 <= 0)
            continue;
        /* numpy slices past the end are cut short; so are these. */
        int64_t a0 = k1 - V0s;
        int64_t la = a0 + ln2 <= npwrs ? ln2 : npwrs - a0;
        int64_t lb = ln2 <= npwrs ? ln2 : npwrs;
        if (a0 < 0 || la <= 0)
            continue;
        int64_t lconv = la + lb - 1;
        int64_t conv_start = j1 - k1, conv_len = j2 - j1 + 1;
        for (int64_t c = 0; c < conv_len && c < npwrs; c++) {
            int64_t kk = conv_start + c;
            double sum = 0;
            if (kk >= 0 && kk < lconv) {
                int64_t lo = kk - (lb - 1) > 0 ? kk - (lb - 1) : 0;
                int64_t hi = kk < la - 1 ? kk : la - 1;
                for (int64_t q = lo; q <= hi; q++)
                    sum += V0[a0 + q] * pwrs[kk - q];
            }
            conv[c] = sum;
        }
        double vmax = 0;
        for (int64_t c = 0; c < conv_len && c < npwrs; c++) {
            V1[c] = conv[c];
            if (conv[c] > vmax)
                vmax = conv[c];
        }
        if (vmax > 0 && vmax < TWO_M128) {
            for (int64_t c = 0; c < npwrs; c++)
                V1[c] *= TWO_128;
            expnt -= 128;
        }
        V1s = V0s + j1 - k1;
    }
    int64_t idx = n - V1s;
    double ans = idx >= 0 && idx < npwrs ? V1[idx] : 0;
    free(buf);
    for (int64_t k = 1; k <= n; k++) {
        if (fabs(ans) > TWO_128) {
            ans *= TWO_M128;
            expnt += 128;
        }
        ans *= (double)k;
    }
    if (expnt != 0)
        ans = ldexp(ans, expnt);
    return clip01(ans);
}

/* The Pelz–Good approximation to P(D_n <= x). */
static double kolmogn_pelzgood(int64_t n, double x)
{
    if (x <= 0.0)
        return 0.0;
    if (x >= 1.0)
        return 1.0;
    const double pi2 = M_PI * M_PI, pi4 = pi2 * pi2, pi6 = pi4 * pi2;
    double z = sqrt((double)n) * x;
    double z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2;
    double qlog = -pi2 / 8 / z2;
    if (qlog < -708)
        return 0.0;
    double q = exp(qlog);
    double k1a = -z2, k1b = pi2 / 4;
    double k2a = 6 * z6 + 2 * z4, k2b = (2 * z4 - 5 * z2) * pi2 / 4,
           k2c = pi4 * (1 - 2 * z2) / 16;
    double k3d = pi6 * (5 - 30 * z2) / 64, k3c = pi4 * (-60 * z2 + 212 * z4) / 16,
           k3b = pi2 * (135 * z4 - 96 * z6) / 4, k3a = -30 * z6 - 90 * pow(z, 8);
    double K[4] = { 0, 0, 0, 0 };
    int64_t maxk = (int64_t)ceil(16 * z / M_PI);
    for (int64_t k = maxk; k > 0; k--) {
        double m = (double)(2 * k - 1), m2 = m * m, m4 = m2 * m2, m6 = m4 * m2;
        double qpower = pow(q, (double)(8 * k));
        double coeffs[4] = { 1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4,
                             k3a + k3b * m2 + k3c * m4 + k3d * m6 };
        for (int i = 0; i < 4; i++)
            K[i] = K[i] * qpower + coeffs[i];
    }
    double div[4] = { z, 6 * z4, 72 * pow(z, 7), 6480 * pow(z, 10) };
    for (int i = 0; i < 4; i++)
        K[i] = K[i] * q * SQRT_2PI / div[i];
    q = exp(-pi2 / 2 / z2);
    double k2extra = 0, k3extra = 0, sqrt3z = sqrt(3.0) * z;
    for (int64_t k = maxk; k > 0; k--) {
        double kk = (double)k, ksq = kk * kk, qp = pow(q, ksq), kspi = M_PI * kk;
        k2extra += ksq * qp;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ksq * qp;
    }
    K[2] += k2extra * (pi2 * SQRT_2PI / (-36 * z3));
    K[3] += k3extra * (pi2 * SQRT_2PI / (216 * z6));
    double sum = 0;
    for (int i = 0; i < 4; i++)
        sum += K[i] / pow((double)n, i / 2.0);
    return sum;
}

double keel_smirnov_sf(int64_t n, double x)
{
    if (!(n > 0 && x >= 0.0 && x <= 1.0))
        return NAN;
    if (n == 1)
        return 1 - x;
    if (x == 0.0)
        return 1.0;
    if (x == 1.0)
        return 0.0;
    double dn = (double)n;
    /* n x as an unevaluated sum, so floor(n x) and the terms' 1 - x - v/n
     * are exact where the cancellation would otherwise bite. */
    double nx = dn * x, nx_lo = fma(dn, x, -nx);
    double nxfl = floor(nx), alpha = (nx - nxfl) + nx_lo;
    if (alpha < 0) {
        nxfl -= 1;
        alpha += 1;
    } else if (alpha >= 1) {
        nxfl += 1;
        alpha -= 1;
    }
    if (nxfl == 0 || (nxfl == 1 && alpha == 0))
        return clip01(1 - x * exp((dn - 1) * log1p(x)));
    if (-2 * dn * x * x < CEPHES_MINLOG)
        return 0.0;
    if (nxfl >= dn - 1)
        return clip01(exp(dn * log1p(-x)));
    if (n > 1000000) {
        double logp = -pow(6.0 * dn * x + 1, 2) / 18.0 / dn;
        return clip01(logp < -M_LN2 ? exp(logp) : 1 + expm1(logp));
    }
    /* sf = x sum_{v=0}^{n-floor(nx)-1} C(n,v) (x+v/n)^(v-1) (1-x-v/n)^(n-v),
     * summed in logs (the terms span hundreds of orders of magnitude). */
    int64_t last = n - (int64_t)nxfl - 1;
    double logc = 0, logc_comp = 0;     /* log C(n, v), compensated */
    double lmax = -INFINITY, acc = 0, lprev = -INFINITY;
    for (int64_t v = 0; v <= last; v++) {
        double dv = (double)v;
        double t1 = ((dv + nx) + nx_lo) / dn;               /* x + v/n */
        double t2 = (((dn - dv) - nx) - nx_lo) / dn;        /* 1 - x - v/n */
        if (t2 > 0) {
            double l2 = t1 < 0.5 ? log1p(-t1) : log(t2);
            double l = (logc + logc_comp) + (dv - 1) * log(t1) + (dn - dv) * l2;
            if (l > lmax) {
                acc = acc * exp(lmax - l) + 1;
                lmax = l;
            } else {
                acc += exp(l - lmax);
            }
            if (l < lmax - 60 && l < lprev)
                break;   /* past the peak: the rest adds nothing */
            lprev = l;
        }
        double step = log((dn - dv) / (dv + 1)), t = logc + step;
        logc_comp += fabs(logc) >= fabs(step) ? (logc - t) + step : (step - t) + logc;
        logc = t;
    }
    if (acc == 0)
        return 0.0;
    return clip01(x * acc * exp(lmax));
}

/* scipy.stats._ksstats._kolmogn(n, x, cdf=False). */
static double kolmogn_sf(int64_t n, double x)
{
    if (x >= 1.0)
        return 0.0;
    if (x <= 0.0)
        return 1.0;
    double dn = (double)n, t = dn * x;
    if (t <= 1.0) {
        if (t <= 0.5)
            return 1.0;
        double prob;
        if (n <= 140) {
            prob = 1.0;
            for (int64_t i = 1; i <= n; i++)
                prob *= (double)i * (1.0 / dn) * (2 * t - 1);
        } else {
            prob = exp(log_nfact_div_npown(dn) + dn * log(2 * t - 1));
        }
        return clip01(1.0 - prob);
    }
    if (t >= dn - 1)
        return clip01(2 * pow(1.0 - x, dn));
    if (x >= 0.5)
        return clip01(2 * keel_smirnov_sf(n, x));
    double nxsquared = t * x;
    if (n <= 140) {
        if (nxsquared <= 0.754693)
            return clip01(1.0 - kolmogn_dmtw(n, x));
        if (nxsquared <= 4)
            return clip01(1.0 - kolmogn_pomeranz(n, x));
        return clip01(2 * keel_smirnov_sf(n, x));
    }
    if (nxsquared >= 370.0)
        return 0.0;
    if (nxsquared >= 2.2)
        return clip01(2 * keel_smirnov_sf(n, x));
    double cdf;
    if (n <= 100000 && dn * pow(x, 1.5) <= 1.4)
        cdf = kolmogn_dmtw(n, x);
    else
        cdf = kolmogn_pelzgood(n, x);
    return clip01(1.0 - cdf);
}

double keel_kstwo_sf(double d, double n)
{
    if (isnan(d) || isnan(n) || !(n >= 1) || n != floor(n) || n > (double)INT64_MAX / 4)
        return NAN;
    /* rv_continuous.sf: 1 at or below the support's start 0.5/n, 0 at or
     * past its end 1. */
    if (d <= 0.5 / n)
        return 1.0;
    if (d >= 1.0)
        return 0.0;
    return kolmogn_sf((int64_t)n, d);
}

double keel_drift_ks_pvalue(double d, size_t n1, size_t n2)
{
    if (n1 == 0 || n2 == 0 || isnan(d))
        return NAN;
    double a = (double)n1, b = (double)n2;
    double m = a > b ? a : b, n = a > b ? b : a;
    double en = m * n / (m + n);
    return clip01(keel_kstwo_sf(d, rint(en)));
}

/* ---- chi-square ---- */

#define IGAM_MACHEP 1.11022302462515654042E-16
#define IGAM_BIG 4.503599627370496e15
#define IGAM_BIGINV 2.22044604925031308085e-16

/* x^a e^-x / Γ(a), as a log. lgamma_r: lgamma's sign global is a race. */
static double igam_log_prefactor(double a, double x)
{
    int sign;
    return a * log(x) - x - lgamma_r(a, &sign);
}

/* P(a, x) by its power series (x < a + 1 or so). */
static double igam_series(double a, double x)
{
    double ax = igam_log_prefactor(a, x);
    if (ax < CEPHES_MINLOG)
        return 0.0;
    ax = exp(ax);
    double r = a, c = 1.0, ans = 1.0;
    do {
        r += 1.0;
        c *= x / r;
        ans += c;
    } while (c / ans > IGAM_MACHEP);
    return ans * ax / a;
}

/* Q(a, x) by its continued fraction (x >= a). */
static double igamc_fraction(double a, double x)
{
    double ax = igam_log_prefactor(a, x);
    if (ax < CEPHES_MINLOG)
        return 0.0;
    ax = exp(ax);
    double y = 1.0 - a, z = x + y + 1.0, c = 0.0;
    double pkm2 = 1.0, qkm2 = x, pkm1 = x + 1.0, qkm1 = z * x;
    double ans = pkm1 / qkm1, t;
    int iterations = 0;
    do {
        c += 1.0;
        y += 1.0;
        z += 2.0;
        double yc = y * c, pk = pkm1 * z - pkm2 * yc, qk = qkm1 * z - qkm2 * yc;
        if (qk != 0) {
            double r = pk / qk;
            t = fabs((ans - r) / r);
            ans = r;
        } else {
            t = 1.0;
        }
        pkm2 = pkm1;
        pkm1 = pk;
        qkm2 = qkm1;
        qkm1 = qk;
        if (fabs(pk) > IGAM_BIG) {
            pkm2 *= IGAM_BIGINV;
            pkm1 *= IGAM_BIGINV;
            qkm2 *= IGAM_BIGINV;
            qkm1 *= IGAM_BIGINV;
        }
    } while (t > IGAM_MACHEP && ++iterations < 100000);
    return ans * ax;
}

double keel_gamma_q(double a, double x)
{
    if (isnan(a) || isnan(x) || !(a > 0) || x < 0)
        return NAN;
    if (x == 0)
        return 1.0;
    if (isinf(x))
        return 0.0;
    if (isinf(a))
        return 1.0;
    if (x < 1.0 || x < a)
        return clip01(1.0 - igam_series(a, x));
    return clip01(igamc_fraction(a, x));
}

double keel_chi2_sf(double x, double df)
{
    if (isnan(x) || isnan(df) || !(df > 0))
        return NAN;
    if (x <= 0)
        return 1.0;
    return keel_gamma_q(df / 2.0, x / 2.0);
}

void keel_drift_chisquare(const double *ref_counts, const double *cur_counts, size_t k,
                          double *out_stat, double *out_pvalue, double *out_df)
{
    double sr = 0, so = 0;
    size_t used = 0;
    for (size_t i = 0; ref_counts != NULL && cur_counts != NULL && i < k; i++) {
        if (ref_counts[i] > 0) {
            sr += ref_counts[i];
            so += cur_counts[i];
            used++;
        }
    }
    *out_df = used > 0 ? (double)(used - 1) : NAN;
    *out_stat = NAN;
    *out_pvalue = NAN;
    if (used == 0 || !(so > 0))
        return;
    double stat = 0;
    for (size_t i = 0; i < k; i++) {
        if (!(ref_counts[i] > 0))
            continue;
        double e = ref_counts[i] / sr * so, dlt = cur_counts[i] - e;
        stat += dlt * dlt / e;
    }
    *out_stat = stat;
    *out_pvalue = used > 1 ? keel_chi2_sf(stat, (double)(used - 1)) : NAN;
}

/* ---- one feature ---- */

static void measures_init(keel_drift_measures *m, enum keel_drift_kind kind)
{
    memset(m, 0, sizeof *m);
    m->kind = kind;
    m->ref_missing_rate = m->cur_missing_rate = m->missing_delta = NAN;
    m->psi = m->js = NAN;
    m->ks = m->ks_pvalue = m->wasserstein = NAN;
    m->chi2 = m->chi2_pvalue = m->chi2_df = NAN;
}

static double rate(size_t part, size_t whole)
{
    return whole > 0 ? (double)part / (double)whole : NAN;
}

/* How many buckets PSI and JS run over: the bins, except that a constant
 * reference (one edge) gets three, below, at and above its value; one
 * clamped bin would make both blind to any shift. */
static size_t bucket_count(const keel_drift_bins *b)
{
    return b->n_edges == 1 ? 3 : keel_drift_bins_count(b);
}

static void bucket_measures(const keel_drift_bins *b, const double *ref_counts,
                            const double *cur_counts, size_t below, size_t above,
                            keel_drift_measures *out)
{
    if (b->n_edges == 1) {
        double r[3] = { 0, ref_counts[0], 0 };
        double c[3] = { (double)below, cur_counts[0] - (double)(below + above), (double)above };
        out->psi = keel_drift_psi(r, c, 3);
        out->js = keel_drift_js(r, c, 3);
        return;
    }
    size_t nb = keel_drift_bins_count(b);
    out->psi = keel_drift_psi(ref_counts, cur_counts, nb);
    out->js = keel_drift_js(ref_counts, cur_counts, nb);
}

int keel_drift_numeric_sorted(const double *ref_sorted, size_t n_ref, size_t ref_rows,
                              const double *cur_sorted, size_t n_cur, size_t cur_rows,
                              keel_drift_measures *out, keel_err *err)
{
    if (out == NULL || (ref_sorted == NULL && n_ref > 0) || (cur_sorted == NULL && n_cur > 0))
        return keel_errf(err, KEEL_EINVAL, "keel_drift_numeric_sorted: NULL argument");
    if (ref_rows < n_ref || cur_rows < n_cur)
        return keel_errf(err, KEEL_EINVAL,
                         "rows (%zu reference, %zu current) fewer than values (%zu, %zu)",
                         ref_rows, cur_rows, n_ref, n_cur);
    measures_init(out, KEEL_DRIFT_NUMERIC);
    out->from_samples = true;
    out->ref_rows = ref_rows;
    out->cur_rows = cur_rows;
    out->ref_values = n_ref;
    out->cur_values = n_cur;
    out->ref_missing_rate = rate(ref_rows - n_ref, ref_rows);
    out->cur_missing_rate = rate(cur_rows - n_cur, cur_rows);
    out->missing_delta = out->cur_missing_rate - out->ref_missing_rate;
    if (n_ref == 0)
        return KEEL_OK;
    if (n_cur == 0)
        return KEEL_OK;
    keel_drift_bins bins;
    if (keel_drift_bins_from_sorted(ref_sorted, n_ref, &bins, NULL) == KEEL_OK) {
        size_t below = 0, above = 0;
        double rc_counts[KEEL_DRIFT_MAX_EDGES], cc_counts[KEEL_DRIFT_MAX_EDGES];
        out->n_bins = bucket_count(&bins);
        bin_counts_sorted(&bins, ref_sorted, n_ref, rc_counts, &below, &above);
        bin_counts_sorted(&bins, cur_sorted, n_cur, cc_counts, &below, &above);
        bucket_measures(&bins, rc_counts, cc_counts, below, above, out);
    }   /* else every reference value is infinite: no bins */
    out->out_of_range = count_lt(cur_sorted, n_cur, ref_sorted[0]) + n_cur -
                        count_le(cur_sorted, n_cur, ref_sorted[n_ref - 1]);
    keel_drift_ks_w1_sorted(ref_sorted, n_ref, cur_sorted, n_cur, &out->ks, &out->wasserstein);
    out->ks_pvalue = keel_drift_ks_pvalue(out->ks, n_ref, n_cur);
    return KEEL_OK;
}

int keel_drift_numeric(const double *ref, size_t n_ref, size_t ref_rows, const double *cur,
                       size_t n_cur, size_t cur_rows, keel_drift_measures *out, keel_err *err)
{
    if (out == NULL || (ref == NULL && n_ref > 0) || (cur == NULL && n_cur > 0))
        return keel_errf(err, KEEL_EINVAL, "keel_drift_numeric: NULL argument");
    if (ref_rows < n_ref || cur_rows < n_cur)
        return keel_errf(err, KEEL_EINVAL,
                         "rows (%zu reference, %zu current) fewer than values (%zu, %zu)",
                         ref_rows, cur_rows, n_ref, n_cur);
    double *a = malloc((n_ref + 1) * sizeof *a), *b = malloc((n_cur + 1) * sizeof *b);
    int rc = KEEL_OK;
    size_t ma = 0, mb = 0;
    if (a == NULL || b == NULL) {
        rc = keel_errf(err, KEEL_ENOMEM, "out of memory copying %zu + %zu values", n_ref, n_cur);
        goto done;
    }
    if (n_ref > 0)
        memcpy(a, ref, n_ref * sizeof *a);
    if (n_cur > 0)
        memcpy(b, cur, n_cur * sizeof *b);
    rc = keel_drift_sort(a, n_ref, &ma, err);
    if (rc == KEEL_OK)
        rc = keel_drift_sort(b, n_cur, &mb, err);
    if (rc == KEEL_OK)
        rc = keel_drift_numeric_sorted(a, ma, ref_rows, b, mb, cur_rows, out, err);
done:
    free(a);
    free(b);
    return rc;
}

static int check_bins(const keel_drift_bins *b, keel_err *err)
{
    if (b->n_edges > KEEL_DRIFT_MAX_EDGES)
        return keel_errf(err, KEEL_EINVAL, "%zu bin edges (at most %d)", b->n_edges,
                         KEEL_DRIFT_MAX_EDGES);
    for (size_t i = 0; i < b->n_edges; i++) {
        if (!isfinite(b->edges[i]))
            return keel_errf(err, KEEL_EINVAL, "bin edge %zu is not a finite number", i);
        if (i > 0 && !(b->edges[i] > b->edges[i - 1]))
            return keel_errf(err, KEEL_EINVAL, "bin edges must increase (edge %zu)", i);
    }
    return KEEL_OK;
}

int keel_drift_numeric_profile(const keel_drift_numeric_ref *ref, const double *cur,
                               size_t n_cur, size_t cur_rows, keel_drift_measures *out,
                               keel_err *err)
{
    if (ref == NULL || out == NULL || (cur == NULL && n_cur > 0))
        return keel_errf(err, KEEL_EINVAL, "keel_drift_numeric_profile: NULL argument");
    if (cur_rows < n_cur)
        return keel_errf(err, KEEL_EINVAL, "current rows (%zu) fewer than values (%zu)",
                         cur_rows, n_cur);
    int rc = check_bins(&ref->bins, err);
    if (rc != KEEL_OK)
        return rc;
    size_t nb = keel_drift_bins_count(&ref->bins);
    double ref_total = 0;
    if (ref->bins.n_edges > 0) {
        if (ref->bin_counts == NULL)
            return keel_errf(err, KEEL_EINVAL, "bin counts missing");
        for (size_t b = 0; b < nb; b++) {
            if (!(ref->bin_counts[b] >= 0) || !isfinite(ref->bin_counts[b]))
                return keel_errf(err, KEEL_EINVAL, "bin count %zu is not a count", b);
            ref_total += ref->bin_counts[b];
        }
    }
    measures_init(out, KEEL_DRIFT_NUMERIC);
    out->ref_rows = ref->rows;
    out->cur_rows = cur_rows;
    out->ref_values = (size_t)ref_total;
    out->ref_missing_rate = ref->missing_rate;
    size_t values = 0;
    for (size_t i = 0; i < n_cur; i++)
        values += !isnan(cur[i]);
    out->cur_values = values;
    out->cur_missing_rate = rate(cur_rows - values, cur_rows);
    out->missing_delta = out->cur_missing_rate - out->ref_missing_rate;
    if (ref->bins.n_edges == 0 || !(ref_total > 0))
        return KEEL_OK;
    out->n_bins = bucket_count(&ref->bins);
    if (values == 0)
        return KEEL_OK;
    const keel_drift_bins *b = &ref->bins;
    double lo = b->edges[0], hi = b->edges[b->n_edges - 1];
    double counts[KEEL_DRIFT_MAX_EDGES] = { 0 }, inside[KEEL_DRIFT_MAX_EDGES] = { 0 };
    size_t below = 0, above = 0;
    double below_dist = 0, above_dist = 0;
    for (size_t i = 0; i < n_cur; i++) {
        double x = cur[i];
        if (isnan(x))
            continue;
        size_t bin = bin_of(b, x);
        counts[bin] += 1;
        if (x < lo) {
            below++;
            below_dist += lo - x;
        } else if (x > hi) {
            above++;
            above_dist += x - hi;
        } else {
            inside[bin] += 1;
        }
    }
    double n = (double)values;
    out->out_of_range = below + above;
    bucket_measures(b, ref->bin_counts, counts, below, above, out);
    /* Both CDFs at the edges, the mass inside each bin spread evenly. */
    double d = (double)below / n, w = (below_dist + above_dist) / n;
    if (b->n_edges == 1) {
        d = fmax(d, (double)above / n);
    } else {
        double fr = 0, fc = (double)below / n;
        for (size_t k = 0; k < nb; k++) {
            double fr1 = fr + ref->bin_counts[k] / ref_total;
            double fc1 = fc + inside[k] / n;
            double d0 = fr - fc, d1 = fr1 - fc1, width = b->edges[k + 1] - b->edges[k];
            d = fmax(d, fabs(d1));
            if ((d0 >= 0) == (d1 >= 0) || d0 == 0 || d1 == 0)
                w += width * (fabs(d0) + fabs(d1)) / 2;
            else
                w += width * (d0 * d0 + d1 * d1) / (2 * (fabs(d0) + fabs(d1)));
            fr = fr1;
            fc = fc1;
        }
    }
    out->ks = d;
    out->wasserstein = w;
    return KEEL_OK;
}

int keel_drift_categorical(const double *ref_counts, const double *cur_counts, size_t k,
                           size_t ref_rows, size_t cur_rows, size_t unseen_categories,
                           keel_drift_measures *out, keel_err *err)
{
    if (out == NULL || ((ref_counts == NULL || cur_counts == NULL) && k > 0))
        return keel_errf(err, KEEL_EINVAL, "keel_drift_categorical: NULL argument");
    if (k == 0)
        return keel_errf(err, KEEL_EINVAL, "no buckets (the last one pools unnamed categories)");
    double sr = 0, sc = 0;
    for (size_t i = 0; i < k; i++) {
        if (!(ref_counts[i] >= 0) || !(cur_counts[i] >= 0) || !isfinite(ref_counts[i]) ||
            !isfinite(cur_counts[i]))
            return keel_errf(err, KEEL_EINVAL, "bucket %zu: counts must be finite and >= 0", i);
        sr += ref_counts[i];
        sc += cur_counts[i];
    }
    if (sr > (double)ref_rows || sc > (double)cur_rows)
        return keel_errf(err, KEEL_EINVAL,
                         "counts (%.0f reference, %.0f current) exceed the rows (%zu, %zu)", sr,
                         sc, ref_rows, cur_rows);
    measures_init(out, KEEL_DRIFT_CATEGORICAL);
    out->from_samples = true;
    out->ref_rows = ref_rows;
    out->cur_rows = cur_rows;
    out->ref_values = (size_t)sr;
    out->cur_values = (size_t)sc;
    out->ref_missing_rate = rate(ref_rows - (size_t)sr, ref_rows);
    out->cur_missing_rate = rate(cur_rows - (size_t)sc, cur_rows);
    out->missing_delta = out->cur_missing_rate - out->ref_missing_rate;
    out->n_bins = k;
    out->unseen_categories = unseen_categories;
    out->unseen_values = (size_t)cur_counts[k - 1];
    out->psi = keel_drift_psi(ref_counts, cur_counts, k);
    out->js = keel_drift_js(ref_counts, cur_counts, k);
    keel_drift_chisquare(ref_counts, cur_counts, k, &out->chi2, &out->chi2_pvalue,
                         &out->chi2_df);
    return KEEL_OK;
}

/* ---- thresholds and reasons ---- */

void keel_drift_thresholds_default(keel_drift_thresholds *out)
{
    out->psi = 0.2;
    out->ks_pvalue = 0.01;
    out->js = 0.1;
    out->chi2_pvalue = 0.01;
    out->missing_delta = 0.1;
}

static const char *const reason_names[] = {
#define KEEL_DRIFT_REASON_TEXT(name, text) text,
    KEEL_DRIFT_REASON_LIST(KEEL_DRIFT_REASON_TEXT)
#undef KEEL_DRIFT_REASON_TEXT
};

const char *keel_drift_reason_name(enum keel_drift_reason r)
{
    return (unsigned)r < KEEL_DRIFT_REASON_COUNT ? reason_names[r] : NULL;
}

static unsigned drift_reasons(const keel_drift_measures *m, const keel_drift_thresholds *t)
{
    unsigned r = 0;
    if (m->psi > t->psi)
        r |= 1u << KEEL_DRIFT_PSI_BIT;
    if (m->kind == KEEL_DRIFT_NUMERIC && m->from_samples && m->ks_pvalue < t->ks_pvalue)
        r |= 1u << KEEL_DRIFT_KS_BIT;
    if (m->js > t->js)
        r |= 1u << KEEL_DRIFT_JS_BIT;
    if (m->kind == KEEL_DRIFT_CATEGORICAL && m->chi2_pvalue < t->chi2_pvalue)
        r |= 1u << KEEL_DRIFT_CHI2_BIT;
    if (fabs(m->missing_delta) > t->missing_delta)
        r |= 1u << KEEL_DRIFT_MISSING_BIT;
    return r;
}

/* ---- whole frames ---- */

/* What one feature is compared against: a reference column, or its
 * profile entry. */
typedef struct drift_job {
    keel_drift_feature *feature;
    const keel_column *cur;
    const keel_column *ref;     /* frame reference */
    const json_t *profile;      /* profile reference */
    size_t ref_rows;
} drift_job;

/* One thread's buffers, grown to the largest column seen. */
typedef struct drift_scratch {
    double *vals, *tmp;
    size_t cap_vals, cap_tmp;
    double *a, *b;
    size_t cap_a, cap_b;
    double *counts_r, *counts_c;
    size_t cap_counts_r, cap_counts_c;
    keel__radix_hist *hist;
} drift_scratch;

typedef struct drift_run {
    drift_job *jobs;
    size_t n_jobs;
    atomic_size_t next;
    atomic_int failed;
    const keel_drift_thresholds *thresholds;
    pthread_mutex_t err_lock;
    keel_err err;
} drift_run;

/* Room for need doubles in *p (kept as it was when out of memory). */
static bool grow(double **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t n = need < 1024 ? 1024 : need;
    if (n > SIZE_MAX / sizeof **p)
        return false;
    double *q = realloc(*p, n * sizeof **p);
    if (q == NULL)
        return false;
    *p = q;
    *cap = n;
    return true;
}

static bool grow_counts(drift_scratch *s, size_t k)
{
    return grow(&s->counts_r, &s->cap_counts_r, k) && grow(&s->counts_c, &s->cap_counts_c, k);
}

static void scratch_free(drift_scratch *s)
{
    free(s->vals);
    free(s->tmp);
    free(s->a);
    free(s->b);
    free(s->counts_r);
    free(s->counts_c);
    free(s->hist);
}

static bool column_is_empty(const keel_column *c, size_t rows)
{
    return c->n_missing >= rows;
}

/* The non-missing values of c (rows 0..rows) sorted into *out (grown as
 * needed); returns the count, or SIZE_MAX when out of memory. The digit
 * counts are taken while the values are gathered, and the last radix pass
 * writes into *out. */
static size_t sorted_values(drift_scratch *s, const keel_column *c, size_t rows, double **out,
                            size_t *cap)
{
    if (!grow(&s->vals, &s->cap_vals, rows + 1) || !grow(&s->tmp, &s->cap_tmp, rows + 1) ||
        !grow(out, cap, rows + 1))
        return SIZE_MAX;
    if (s->hist == NULL && (s->hist = malloc(sizeof *s->hist)) == NULL)
        return SIZE_MAX;
    keel__radix_hist *h = s->hist;
    memset(h, 0, sizeof *h);
    double *v = s->vals;
    size_t m = 0;
    if (c->type == KEEL_COL_FLOAT) {
        const double *f = c->f64;
        for (size_t i = 0; i < rows; i++) {
            if (!isnan(f[i]) && !keel_column_is_missing(c, i)) {
                v[m++] = f[i];
                hist_add(h, f[i]);
            }
        }
    } else if (c->type != KEEL_COL_STRING) {
        const int64_t *iv = c->i64;
        for (size_t i = 0; i < rows; i++) {
            if (!keel_column_is_missing(c, i)) {
                double x = (double)iv[i];
                v[m++] = x;
                hist_add(h, x);
            }
        }
    }
    h->counted = true;
    keel__drift_radix_sort(v, s->tmp, m, h, *out);
    return m;
}

/* The column's values as doubles (NaN for missing) into s->b. */
static bool raw_values(drift_scratch *s, const keel_column *c, size_t rows)
{
    if (!grow(&s->b, &s->cap_b, rows + 1))
        return false;
    for (size_t i = 0; i < rows; i++)
        s->b[i] = keel_column_number(c, i);
    return true;
}

static int fail_oom(keel_err *err, const char *column)
{
    return keel_errf(err, KEEL_ENOMEM, "out of memory measuring column '%s'", column);
}

static int numeric_from_frames(drift_scratch *s, const drift_job *j, size_t cur_rows,
                               keel_err *err)
{
    keel_drift_feature *f = j->feature;
    size_t na = 0, nb = 0;
    if (!column_is_empty(j->ref, j->ref_rows))
        na = sorted_values(s, j->ref, j->ref_rows, &s->a, &s->cap_a);
    if (na == SIZE_MAX)
        return fail_oom(err, f->name);
    if (!column_is_empty(j->cur, cur_rows))
        nb = sorted_values(s, j->cur, cur_rows, &s->b, &s->cap_b);
    if (nb == SIZE_MAX)
        return fail_oom(err, f->name);
    return keel_drift_numeric_sorted(s->a, na, j->ref_rows, s->b, nb, cur_rows, &f->m, err);
}

/* Reference category names with their bucket, sorted by name. */
typedef struct named {
    const char *name;
    size_t bucket;
} named;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

/* Counts the current column's values into the buckets of names (sorted
 * by name; bucket n_names pools every other value) and how many distinct
 * values fell there. */
static int count_current(const keel_column *cur, size_t rows, const named *names,
                         size_t n_names, double *cur_counts, size_t *out_unseen, keel_err *err,
                         const char *column)
{
    for (size_t i = 0; i <= n_names; i++)
        cur_counts[i] = 0;
    *out_unseen = 0;
    if (cur->type != KEEL_COL_STRING)
        return KEEL_OK;   /* a column with no values at all */
    size_t *per_code = calloc(cur->n_dict + 1, sizeof *per_code);
    if (per_code == NULL)
        return fail_oom(err, column);
    for (size_t r = 0; r < rows; r++)
        if (!keel_column_is_missing(cur, r))
            per_code[cur->codes[r]]++;
    for (size_t d = 0; d < cur->n_dict; d++) {
        if (per_code[d] == 0)
            continue;
        named key = { cur->dict[d], 0 };
        const named *hit = n_names > 0 ? bsearch(&key, names, n_names, sizeof *names, by_name)
                                       : NULL;
        cur_counts[hit != NULL ? hit->bucket : n_names] += (double)per_code[d];
        *out_unseen += hit == NULL;
    }
    free(per_code);
    return KEEL_OK;
}

static int categorical_from_frames(drift_scratch *s, const drift_job *j, size_t cur_rows,
                                   keel_err *err)
{
    keel_drift_feature *f = j->feature;
    const keel_column *ref = j->ref;
    size_t nd = ref->type == KEEL_COL_STRING ? ref->n_dict : 0;
    size_t *per_code = calloc(nd + 1, sizeof *per_code);
    named *names = malloc((nd + 1) * sizeof *names);
    int rc = KEEL_OK;
    if (per_code == NULL || names == NULL) {
        rc = fail_oom(err, f->name);
        goto done;
    }
    if (nd > 0)
        for (size_t r = 0; r < j->ref_rows; r++)
            if (!keel_column_is_missing(ref, r))
                per_code[ref->codes[r]]++;
    size_t k = 0;
    for (size_t d = 0; d < nd; d++)
        if (per_code[d] > 0) {
            names[k].name = ref->dict[d];
            names[k].bucket = k;
            k++;
        }
    if (!grow_counts(s, k + 1)) {
        rc = fail_oom(err, f->name);
        goto done;
    }
    for (size_t d = 0, i = 0; d < nd; d++)
        if (per_code[d] > 0)
            s->counts_r[i++] = (double)per_code[d];
    s->counts_r[k] = 0;
    qsort(names, k, sizeof *names, by_name);
    size_t unseen = 0;
    rc = count_current(j->cur, cur_rows, names, k, s->counts_c, &unseen, err, f->name);
    if (rc == KEEL_OK)
        rc = keel_drift_categorical(s->counts_r, s->counts_c, k + 1, j->ref_rows, cur_rows,
                                    unseen, &f->m, err);
done:
    free(per_code);
    free(names);
    return rc;
}

static double profile_number(const json_t *o, const char *key)
{
    double d = NAN;
    const json_t *v = json_object_get(o, key);
    if (v == NULL || keel_json_to_double(v, key, &d, NULL) != KEEL_OK)
        return NAN;
    return d;
}

static int numeric_from_profile(drift_scratch *s, const drift_job *j, size_t cur_rows,
                                keel_err *err)
{
    keel_drift_feature *f = j->feature;
    const json_t *p = j->profile;
    keel_drift_numeric_ref ref;
    memset(&ref, 0, sizeof ref);
    ref.rows = j->ref_rows;
    ref.missing_rate = profile_number(p, "missing_rate");
    const json_t *edges = json_object_get(p, "bins"), *counts = json_object_get(p, "bin_counts");
    double bc[KEEL_DRIFT_MAX_EDGES];
    if (edges != NULL || counts != NULL) {
        size_t ne = json_array_size(edges), nc = json_array_size(counts);
        if (!json_is_array(edges) || !json_is_array(counts) || ne == 0 ||
            ne > KEEL_DRIFT_MAX_EDGES || nc != (ne > 1 ? ne - 1 : 1))
            return keel_errf(err, KEEL_EINVAL,
                             "reference profile: column '%s': 'bins' needs 1 to %d edges and "
                             "'bin_counts' one count per bin",
                             f->name, KEEL_DRIFT_MAX_EDGES);
        for (size_t i = 0; i < ne; i++)
            if (keel_json_to_double(json_array_get(edges, i), "bins", &ref.bins.edges[i],
                                    NULL) != KEEL_OK)
                return keel_errf(err, KEEL_EINVAL,
                                 "reference profile: column '%s': bin edge %zu is not a number",
                                 f->name, i);
        ref.bins.n_edges = ne;
        for (size_t i = 0; i < ne; i++)
            if (!isfinite(ref.bins.edges[i]))
                ref.bins.n_edges = 0;   /* profiled data held infinities: no usable bins */
        for (size_t i = 0; i < nc; i++)
            if (keel_json_to_double(json_array_get(counts, i), "bin_counts", &bc[i], NULL) !=
                KEEL_OK)
                return keel_errf(err, KEEL_EINVAL,
                                 "reference profile: column '%s': bin count %zu is not a number",
                                 f->name, i);
        ref.bin_counts = bc;
    }
    if (!raw_values(s, j->cur, cur_rows))
        return fail_oom(err, f->name);
    int rc = keel_drift_numeric_profile(&ref, s->b, cur_rows, cur_rows, &f->m, err);
    if (rc != KEEL_OK)
        keel_err_prefix(err, "reference profile: column '%s'", f->name);
    return rc;
}

static int categorical_from_profile(drift_scratch *s, const drift_job *j, size_t cur_rows,
                                    keel_err *err)
{
    keel_drift_feature *f = j->feature;
    const json_t *top = json_object_get(j->profile, "top");
    if (top != NULL && !json_is_object(top))
        return keel_errf(err, KEEL_EINVAL, "reference profile: column '%s': 'top' is not an object",
                         f->name);
    size_t k = json_object_size(top);
    if (k > KEEL_DRIFT_MAX_CATEGORIES)
        return keel_errf(err, KEEL_ELIMIT, "reference profile: column '%s': over %d categories",
                         f->name, KEEL_DRIFT_MAX_CATEGORIES);
    named *names = malloc((k + 1) * sizeof *names);
    if (names == NULL || !grow_counts(s, k + 1)) {
        free(names);
        return fail_oom(err, f->name);
    }
    size_t i = 0;
    const char *name;
    const json_t *count;
    int rc = KEEL_OK;
    json_object_foreach((json_t *)top, name, count) {
        double c = NAN;
        if (keel_json_to_double(count, name, &c, NULL) != KEEL_OK || !(c >= 0)) {
            rc = keel_errf(err, KEEL_EINVAL,
                           "reference profile: column '%s': count of '%s' is not a count",
                           f->name, name);
            goto done;
        }
        names[i].name = name;
        names[i].bucket = i;
        s->counts_r[i] = c;
        i++;
    }
    double other = 0;
    if (json_object_get(j->profile, "other") != NULL) {
        other = profile_number(j->profile, "other");
        if (!(other >= 0)) {
            rc = keel_errf(err, KEEL_EINVAL,
                           "reference profile: column '%s': 'other' is not a count", f->name);
            goto done;
        }
    }
    s->counts_r[k] = other;
    qsort(names, k, sizeof *names, by_name);
    size_t unseen = 0;
    rc = count_current(j->cur, cur_rows, names, k, s->counts_c, &unseen, err, f->name);
    if (rc != KEEL_OK)
        goto done;
    rc = keel_drift_categorical(s->counts_r, s->counts_c, k + 1, j->ref_rows, cur_rows, unseen,
                                &f->m, err);
    if (rc == KEEL_OK)
        f->m.from_samples = false;
    else
        keel_err_prefix(err, "reference profile: column '%s'", f->name);
done:
    free(names);
    return rc;
}

static int run_job(drift_scratch *s, drift_job *j, size_t cur_rows,
                   const keel_drift_thresholds *t, keel_err *err)
{
    keel_drift_feature *f = j->feature;
    bool numeric = f->m.kind == KEEL_DRIFT_NUMERIC;
    int rc;
    if (f->reasons & (1u << KEEL_DRIFT_TYPE_BIT))
        return KEEL_OK;   /* incompatible types: nothing to measure */
    if (j->profile != NULL)
        rc = numeric ? numeric_from_profile(s, j, cur_rows, err)
                     : categorical_from_profile(s, j, cur_rows, err);
    else
        rc = numeric ? numeric_from_frames(s, j, cur_rows, err)
                     : categorical_from_frames(s, j, cur_rows, err);
    if (rc != KEEL_OK)
        return rc;
    f->reasons = drift_reasons(&f->m, t);
    f->drifted = f->reasons != 0;
    return KEEL_OK;
}

typedef struct drift_worker {
    drift_run *run;
    size_t cur_rows;
} drift_worker;

static void *worker_main(void *arg)
{
    drift_worker *w = arg;
    drift_run *r = w->run;
    drift_scratch s;
    memset(&s, 0, sizeof s);
    keel_err err;
    keel_err_clear(&err);
    for (;;) {
        if (atomic_load(&r->failed))
            break;
        size_t i = atomic_fetch_add(&r->next, 1);
        if (i >= r->n_jobs)
            break;
        if (run_job(&s, &r->jobs[i], w->cur_rows, r->thresholds, &err) != KEEL_OK) {
            pthread_mutex_lock(&r->err_lock);
            if (!atomic_load(&r->failed))
                r->err = err;
            atomic_store(&r->failed, 1);
            pthread_mutex_unlock(&r->err_lock);
            break;
        }
    }
    scratch_free(&s);
    return NULL;
}

static int thread_count(const keel_drift_options *opts, size_t n_jobs)
{
    long want = opts != NULL && opts->threads > 0 ? opts->threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (want < 1)
        want = 1;
    if (want > DRIFT_MAX_THREADS)
        want = DRIFT_MAX_THREADS;
    if ((size_t)want > n_jobs)
        want = n_jobs > 0 ? (long)n_jobs : 1;
    return (int)want;
}

static int run_jobs(drift_job *jobs, size_t n_jobs, size_t cur_rows,
                    const keel_drift_options *opts, const keel_drift_thresholds *t,
                    keel_err *err)
{
    drift_run r;
    memset(&r, 0, sizeof r);
    r.jobs = jobs;
    r.n_jobs = n_jobs;
    atomic_init(&r.next, 0);
    atomic_init(&r.failed, 0);
    r.thresholds = t;
    keel_err_clear(&r.err);
    pthread_mutex_init(&r.err_lock, NULL);
    drift_worker w = { &r, cur_rows };
    int n_threads = thread_count(opts, n_jobs);
    pthread_t threads[DRIFT_MAX_THREADS];
    int started = 0;
    for (int i = 1; i < n_threads; i++) {
        if (pthread_create(&threads[started], NULL, worker_main, &w) != 0)
            break;   /* fewer threads is still correct */
        started++;
    }
    worker_main(&w);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    pthread_mutex_destroy(&r.err_lock);
    if (atomic_load(&r.failed)) {
        if (err != NULL)
            *err = r.err;
        return r.err.code != KEEL_OK ? r.err.code : KEEL_EINTERNAL;
    }
    return KEEL_OK;
}

static bool listed(const char *name, const keel_drift_options *opts)
{
    if (opts == NULL || opts->columns == NULL)
        return true;
    for (size_t i = 0; i < opts->n_columns; i++)
        if (strcmp(opts->columns[i], name) == 0)
            return true;
    return false;
}

/* What the reference knows of a column: its type name and, for a frame,
 * the column. */
typedef struct ref_column {
    const char *name;
    const char *type;
    bool is_string;
    bool empty;                 /* no values at all: fits any type */
    const keel_column *col;
    const json_t *profile;
} ref_column;

static int compare(const ref_column *refs, size_t n_refs, size_t ref_rows,
                   const keel_frame *cur, const keel_drift_options *opts, keel_arena *a,
                   keel_drift_report *out, keel_err *err)
{
    keel_drift_thresholds defaults;
    keel_drift_thresholds_default(&defaults);
    const keel_drift_thresholds *t =
        opts != NULL && opts->thresholds != NULL ? opts->thresholds : &defaults;
    memset(out, 0, sizeof *out);
    if (opts != NULL && opts->columns != NULL) {
        for (size_t i = 0; i < opts->n_columns; i++) {
            const char *c = opts->columns[i];
            bool in_ref = false;
            for (size_t r = 0; r < n_refs && !in_ref; r++)
                in_ref = strcmp(refs[r].name, c) == 0;
            if (keel_frame_column(cur, c) == NULL)
                return keel_errf(err, KEEL_EINVAL, "column '%s' is not in the current data", c);
            if (!in_ref)
                return keel_errf(err, KEEL_EINVAL, "column '%s' is not in the reference", c);
        }
    }
    out->features = keel_arena_alloc(a, (cur->n_cols + 1) * sizeof *out->features);
    drift_job *jobs = calloc(cur->n_cols + 1, sizeof *jobs);
    out->not_in_current = keel_arena_alloc(a, (n_refs + 1) * sizeof *out->not_in_current);
    if (out->features == NULL || jobs == NULL || out->not_in_current == NULL) {
        free(jobs);
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    }
    for (size_t r = 0; r < n_refs; r++) {
        if (listed(refs[r].name, opts) && keel_frame_column(cur, refs[r].name) == NULL) {
            const char *name = keel_arena_strdup(a, refs[r].name);
            if (name == NULL) {
                free(jobs);
                return keel_errf(err, KEEL_ENOMEM, "out of memory");
            }
            out->not_in_current[out->n_not_in_current++] = name;
        }
    }
    size_t n = 0;
    for (size_t c = 0; c < cur->n_cols; c++) {
        const keel_column *col = &cur->cols[c];
        if (!listed(col->name, opts))
            continue;
        const ref_column *ref = NULL;
        for (size_t r = 0; r < n_refs && ref == NULL; r++)
            if (strcmp(refs[r].name, col->name) == 0)
                ref = &refs[r];
        if (ref == NULL)
            continue;
        keel_drift_feature *f = &out->features[n];
        bool cur_empty = column_is_empty(col, cur->n_rows);
        bool cur_string = col->type == KEEL_COL_STRING && !cur_empty;
        bool ref_string = ref->is_string;
        /* A side with no values takes the other side's kind. */
        if (ref->empty)
            ref_string = cur_string;
        else if (cur_empty)
            cur_string = ref_string;
        f->name = keel_arena_strdup(a, col->name);   /* outlives the frames */
        if (f->name == NULL) {
            free(jobs);
            return keel_errf(err, KEEL_ENOMEM, "out of memory");
        }
        f->type = keel_col_type_name(col->type);
        f->ref_type = ref->type;
        measures_init(&f->m, ref_string ? KEEL_DRIFT_CATEGORICAL : KEEL_DRIFT_NUMERIC);
        if (cur_string != ref_string) {
            f->reasons = 1u << KEEL_DRIFT_TYPE_BIT;
            f->drifted = true;
        }
        jobs[n].feature = f;
        jobs[n].cur = col;
        jobs[n].ref = ref->col;
        jobs[n].profile = ref->profile;
        jobs[n].ref_rows = ref_rows;
        n++;
    }
    out->n_features = n;
    out->from_samples = n_refs == 0 || refs[0].profile == NULL;
    int64_t start = keel_monotonic_ns();
    int rc = run_jobs(jobs, n, cur->n_rows, opts, t, err);
    out->seconds_measure = (double)(keel_monotonic_ns() - start) / 1e9;
    free(jobs);
    if (rc != KEEL_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        out->n_drifted += out->features[i].drifted;
    return KEEL_OK;
}

int keel_drift_compare_frames(const keel_frame *ref, const keel_frame *cur,
                              const keel_drift_options *opts, keel_arena *a,
                              keel_drift_report *out, keel_err *err)
{
    if (ref == NULL || cur == NULL || a == NULL || out == NULL)
        return keel_errf(err, KEEL_EINVAL, "keel_drift_compare_frames: NULL argument");
    ref_column *refs = keel_arena_alloc(a, (ref->n_cols + 1) * sizeof *refs);
    if (refs == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    for (size_t i = 0; i < ref->n_cols; i++) {
        const keel_column *c = &ref->cols[i];
        refs[i].name = c->name;
        refs[i].type = keel_col_type_name(c->type);
        refs[i].empty = column_is_empty(c, ref->n_rows);
        refs[i].is_string = c->type == KEEL_COL_STRING && !refs[i].empty;
        refs[i].col = c;
    }
    return compare(refs, ref->n_cols, ref->n_rows, cur, opts, a, out, err);
}

int keel_drift_compare_profile(const json_t *ref_profile, const keel_frame *cur,
                               const keel_drift_options *opts, keel_arena *a,
                               keel_drift_report *out, keel_err *err)
{
    if (ref_profile == NULL || cur == NULL || a == NULL || out == NULL)
        return keel_errf(err, KEEL_EINVAL, "keel_drift_compare_profile: NULL argument");
    const json_t *cols = json_object_get(ref_profile, "columns");
    int64_t rows = 0;
    if (!json_is_object(cols))
        return keel_errf(err, KEEL_EINVAL, "reference profile has no 'columns' object");
    if (keel_json_get_int64(ref_profile, "rows", true, &rows, err) != KEEL_OK || rows < 0)
        return keel_errf(err, KEEL_EINVAL, "reference profile: 'rows' must be a count");
    size_t n = json_object_size(cols);
    ref_column *refs = keel_arena_alloc(a, (n + 1) * sizeof *refs);
    if (refs == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    size_t i = 0;
    const char *name;
    const json_t *col;
    json_object_foreach((json_t *)cols, name, col) {
        const char *type = json_string_value(json_object_get(col, "type"));
        enum keel_col_type t;
        if (type == NULL || keel_col_type_parse(type, &t, NULL) != KEEL_OK)
            return keel_errf(err, KEEL_EINVAL, "reference profile: column '%s': unknown type",
                             name);
        refs[i].name = name;
        refs[i].type = keel_col_type_name(t);
        double missing = profile_number(col, "missing_rate");
        refs[i].empty = rows == 0 || missing >= 1.0;
        refs[i].is_string = t == KEEL_COL_STRING && !refs[i].empty;
        refs[i].profile = col;
        i++;
    }
    return compare(refs, n, (size_t)rows, cur, opts, a, out, err);
}

/* ---- JSON ---- */

static json_t *number_or_null(double d)
{
    return isnan(d) ? json_null() : keel_json_double(d);
}

json_t *keel_drift_report_json(const keel_drift_report *r, const keel_drift_thresholds *t)
{
    keel_drift_thresholds defaults;
    if (t == NULL) {
        keel_drift_thresholds_default(&defaults);
        t = &defaults;
    }
    json_t *features = json_array();
    for (size_t i = 0; features != NULL && i < r->n_features; i++) {
        const keel_drift_feature *f = &r->features[i];
        const keel_drift_measures *m = &f->m;
        bool numeric = m->kind == KEEL_DRIFT_NUMERIC;
        bool typed = !(f->reasons & (1u << KEEL_DRIFT_TYPE_BIT));
        json_t *o = json_object();
        json_t *reasons = json_array();
        if (o == NULL || reasons == NULL) {
            json_decref(o);
            json_decref(reasons);
            json_decref(features);
            return NULL;
        }
        for (int b = 0; b < KEEL_DRIFT_REASON_COUNT; b++)
            if (f->reasons & (1u << b))
                json_array_append_new(reasons, json_string(reason_names[b]));
        json_object_set_new(o, "name", json_string(f->name));
        json_object_set_new(o, "type", json_string(f->type));
        json_object_set_new(o, "reference_type", json_string(f->ref_type));
        json_object_set_new(o, "kind", json_string(numeric ? "numeric" : "categorical"));
        json_object_set_new(o, "psi", number_or_null(m->psi));
        json_object_set_new(o, "js", number_or_null(m->js));
        json_object_set_new(o, "ks", numeric ? number_or_null(m->ks) : json_null());
        json_object_set_new(o, "ks_pvalue", numeric ? number_or_null(m->ks_pvalue) : json_null());
        json_object_set_new(o, "wasserstein",
                            numeric ? number_or_null(m->wasserstein) : json_null());
        json_object_set_new(o, "chi2", numeric ? json_null() : number_or_null(m->chi2));
        json_object_set_new(o, "chi2_pvalue",
                            numeric ? json_null() : number_or_null(m->chi2_pvalue));
        json_object_set_new(o, "chi2_df", numeric ? json_null() : number_or_null(m->chi2_df));
        json_object_set_new(o, "missing_rate_reference", number_or_null(m->ref_missing_rate));
        json_object_set_new(o, "missing_rate_current", number_or_null(m->cur_missing_rate));
        json_object_set_new(o, "missing_delta", number_or_null(m->missing_delta));
        json_object_set_new(o, "out_of_range", numeric && typed
                                                   ? json_integer((json_int_t)m->out_of_range)
                                                   : json_null());
        json_object_set_new(o, "unseen_categories",
                            !numeric && typed ? json_integer((json_int_t)m->unseen_categories)
                                              : json_null());
        json_object_set_new(o, "unseen_values",
                            !numeric && typed ? json_integer((json_int_t)m->unseen_values)
                                              : json_null());
        json_object_set_new(o, "bins", json_integer((json_int_t)m->n_bins));
        json_object_set_new(o, "reference_values", json_integer((json_int_t)m->ref_values));
        json_object_set_new(o, "current_values", json_integer((json_int_t)m->cur_values));
        json_object_set_new(o, "drifted", json_boolean(f->drifted));
        json_object_set_new(o, "reasons", reasons);
        json_array_append_new(features, o);
    }
    json_t *missing = json_array();
    for (size_t i = 0; missing != NULL && i < r->n_not_in_current; i++)
        json_array_append_new(missing, json_string(r->not_in_current[i]));
    json_t *th = json_pack("{s:o, s:o, s:o, s:o, s:o}", "psi", keel_json_double(t->psi),
                           "ks_pvalue", keel_json_double(t->ks_pvalue), "js",
                           keel_json_double(t->js), "chi2_pvalue",
                           keel_json_double(t->chi2_pvalue), "missing_delta",
                           keel_json_double(t->missing_delta));
    return json_pack("{s:o*, s:o*, s:o*, s:I, s:I, s:s}", "features", features,
                     "not_in_current", missing, "thresholds", th, "features_compared",
                     (json_int_t)r->n_features, "drifted", (json_int_t)r->n_drifted, "method",
                     r->from_samples ? "samples" : "profile");
}
