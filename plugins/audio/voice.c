/*
 * voice.c - the GeMAPS voice parameters (Eyben et al., IEEE Trans. Affective
 * Computing 7(2), 2016) that the rest of the built-in audio extractor lacks:
 * valence shows more in how a voice is produced (its pitch contour, its
 * regularity, its formants, the tilt of its spectrum) than in the level and timbre
 * features the extractor had.
 *
 * Nothing is analysed twice: the pitch and the 45 ms frame come from YIN
 * (pitch.c), the magnitudes from the window's spectrum (spectrum.c), the level
 * from the window's mean square. On top of them, per window:
 * - F0 in semitones, and its slope over four consecutive voiced windows;
 * - jitter and shimmer from the periods of the frame, marked one after another by
 *   cross-correlation as Praat's "To PointProcess (periodic, cc)" does, and HNR
 *   from the normalized autocorrelation at the period as in "To Harmonicity (cc)";
 * - F1-F3 and their bandwidths from the roots of a Burg LPC predictor, with
 *   Praat's Gaussian window and pre-emphasis ("To Formant (burg)");
 * - alpha ratio, Hammarberg index and two spectral slopes from the magnitudes;
 *   a band above Nyquist gives NaN, not a made-up value;
 * - loudness peaks of the level contour, and the lengths of voiced and unvoiced
 *   runs, each emitted in the window where it ends so that the host's mean and
 *   standard deviation pool them per segment.
 * Segment statistics (percentiles) are the host's pooling rules.
 */
#include <complex.h>
#include <math.h>
#include <string.h>

#include <libavutil/mem.h>

#include "plugins/audio/common.h"
#include "plugins/audio/voice.h"

#define A0_HZ          27.5
#define SLOPE_WINDOWS  4     /* consecutive voiced windows of one slope */
#define MAX_SLOPE_ST_S 300.0 /* a faster step between windows is a pitch error */
#define PEAK_RISE_DB   3.0   /* a peak rises and falls by this much (hysteresis) */
#define PEAK_FLOOR_DB  -60.0 /* and tops this level (dBFS of the smoothed contour) */
#define LEVEL_SMOOTH   3     /* windows averaged for the level contour */
#define FORMANT_RATE   11000 /* decimate towards 2 * 5500 Hz, Praat's male/female ceiling */
#define HZ_PER_FORMANT 1100.0
#define PERIOD_RATIO   1.3 /* Praat's maximum period factor for jitter and shimmer */
#define MIN_PERIOD_CC  0.5 /* a period whose cross-correlation is lower ends the marking */

struct avf_audio_voice {
    int sample_rate, hop, frame_len;
    double hop_s;

    /* semitones of the last SLOPE_WINDOWS windows, newest last; voiced_count says how
     * many of the newest are voiced in a row */
    double st[SLOPE_WINDOWS];
    int voiced_count;
    avf_voice_runs runs;

    /* level contour: last LEVEL_SMOOTH levels; peak hysteresis */
    double level[LEVEL_SMOOTH];
    int nb_level, rising;
    double low, high;

    /* formants: the frame low-passed and decimated by `decim` with `taps` */
    int decim, nb_taps, dec_len, order;
    float *taps, *dec;
    double *scratch;                       /* 2 * dec_len */
    double *gauss;                         /* dec_len: Praat's Gaussian window */
    double roots[2 * AVF_VOICE_MAX_ORDER]; /* the last frame's predictor roots (re, im) */
};

double avf_voice_semitones(double hz)
{
    return hz > 0 ? 12.0 * log2(hz / A0_HZ) : NAN;
}

double avf_voice_band_slope(const float *magnitude, int nb_bins, double bin_hz, double lo_hz,
                            double hi_hz)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0, den;
    int lo = (int)ceil(lo_hz / bin_hz - 1e-9), hi = (int)floor(hi_hz / bin_hz + 1e-9), n;

    if (hi_hz > (nb_bins - 1) * bin_hz + 1e-9 || hi - lo < 1)
        return NAN;
    n = hi - lo + 1;
    for (int k = lo; k <= hi; k++) {
        double x = k * bin_hz / 1000.0, m = magnitude[k];
        double y = 10.0 * log10(m * m + 1e-30);

        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    den = n * sxx - sx * sx;
    return den > 0 ? (n * sxy - sx * sy) / den : NAN;
}

void avf_voice_runs_step(avf_voice_runs *r, int voiced, int *ended_voiced, int *ended_unvoiced)
{
    *ended_voiced = *ended_unvoiced = 0;
    voiced = voiced != 0;
    if (r->voiced < 0) {
        r->voiced = voiced;
        r->length = 1;
        r->pending = 0;
        return;
    }
    if (r->voiced == voiced) { /* a blip shorter than AVF_VOICE_MIN_RUN stays in the run */
        r->length += r->pending + 1;
        r->pending = 0;
        return;
    }
    if (++r->pending < AVF_VOICE_MIN_RUN)
        return;
    if (r->voiced)
        *ended_voiced = r->length;
    else
        *ended_unvoiced = r->length;
    r->voiced = voiced;
    r->length = r->pending;
    r->pending = 0;
}

/* Burg's method: the order+1 predictor coefficients of the n samples in f into a
 * (a[0] = 1); f is overwritten, b holds n doubles. Returns 0, or a negative value
 * when the signal runs out of power. */
static int burg(double *f, double *b, int n, int order, double *a)
{
    double tmp[AVF_VOICE_MAX_ORDER + 1];

    memcpy(b, f, sizeof(double) * (size_t)n);
    memset(a, 0, sizeof(double) * (size_t)(order + 1));
    a[0] = 1.0;
    for (int k = 0; k < order; k++) {
        double num = 0, den = 0, mu;

        for (int i = k + 1; i < n; i++) {
            num += f[i] * b[i - 1];
            den += f[i] * f[i] + b[i - 1] * b[i - 1];
        }
        if (!(den > 0))
            return -1 - k;
        mu = -2.0 * num / den;
        for (int j = 0; j <= k + 1; j++)
            tmp[j] = a[j] + mu * a[k + 1 - j];
        memcpy(a, tmp, sizeof(double) * (size_t)(k + 2));
        for (int i = n - 1; i >= k + 1; i--) {
            double fi = f[i];

            f[i] = fi + mu * b[i - 1];
            b[i] = b[i - 1] + mu * fi;
        }
    }
    return 0;
}

/* Durand-Kerner iterations on the roots z of z^m + a[1] z^(m-1) + ... + a[m]: every
 * root moves by p(z_i) / prod_{j != i} (z_i - z_j). Returns whether all moved less
 * than 1e-10 in the last one, within max_iter iterations. */
static int durand_kerner(const double *a, int m, double complex *z, int max_iter)
{
    for (int iter = 0; iter < max_iter; iter++) {
        double moved = 0;

        for (int i = 0; i < m; i++) {
            double complex p = 1.0, q = 1.0, step;
            double qq;

            for (int j = 1; j <= m; j++)
                p = p * z[i] + a[j];
            for (int j = 0; j < m; j++)
                if (j != i)
                    q *= z[i] - z[j];
            /* p / q without the library's careful complex division */
            qq = creal(q) * creal(q) + cimag(q) * cimag(q);
            if (qq < 1e-300)
                qq = 1e-300;
            step = p * conj(q) / qq;
            z[i] -= step;
            moved = fmax(moved, creal(step) * creal(step) + cimag(step) * cimag(step));
        }
        if (moved < 1e-20)
            return 1;
    }
    return 0;
}

/* The roots of the predictor into z. warm (2 m doubles: re, im), when not NULL,
 * holds the last frame's roots: neighbouring frames have neighbouring roots, so
 * starting there converges in a few iterations; they are turned by a hair first,
 * so that no two start as exact conjugates on the real axis. The roots found are
 * written back. */
static void poly_roots(const double *a, int m, double complex *z, double *warm)
{
    int done = 0;

    if (warm && (warm[0] != 0 || warm[1] != 0)) {
        for (int i = 0; i < m; i++)
            z[i] = (warm[2 * i] + warm[2 * i + 1] * I) * (1.0 + 1e-3 * I);
        done = durand_kerner(a, m, z, 30);
    }
    if (!done) {
        z[0] = 1.0;
        for (int i = 1; i < m; i++)
            z[i] = z[i - 1] * (0.4 + 0.9 * I);
        durand_kerner(a, m, z, 200);
    }
    for (int i = 0; warm && i < m; i++) {
        warm[2 * i] = creal(z[i]);
        warm[2 * i + 1] = cimag(z[i]);
    }
}

void avf_voice_gaussian(double *w, int n)
{
    const double edge = exp(-12.0), mid = 0.5 * (n + 1);

    for (int i = 0; i < n; i++)
        w[i] = (exp(-48.0 * (i + 1 - mid) * (i + 1 - mid) / ((n + 1.0) * (n + 1.0))) - edge) /
               (1.0 - edge);
}

/* The window times the frame pre-emphasized from 50 Hz, as Praat's Burg analysis. */
static void formant_frame(const float *x, int n, int sample_rate, const double *window, double *y)
{
    const double pre = exp(-2.0 * M_PI * 50.0 / sample_rate);

    for (int i = n - 1; i >= 0; i--)
        y[i] = window[i] * (x[i] - (i > 0 ? pre * x[i - 1] : 0.0));
}

int avf_voice_formants(const float *x, int n, int sample_rate, int order, const double *window,
                       double *warm, double *scratch, double *freq_hz, double *bw_hz, int max)
{
    double a[AVF_VOICE_MAX_ORDER + 1], hz[AVF_VOICE_MAX_ORDER], bw[AVF_VOICE_MAX_ORDER];
    double complex z[AVF_VOICE_MAX_ORDER];
    const double nyquist = sample_rate / 2.0;
    int found = 0;

    if (order < 2 || order > AVF_VOICE_MAX_ORDER || n <= order)
        return -1;
    formant_frame(x, n, sample_rate, window, scratch);
    if (burg(scratch, scratch + n, n, order, a) < 0)
        return 0;
    poly_roots(a, order, z, warm);
    for (int i = 0; i < order; i++) {
        double f = carg(z[i]) * sample_rate / (2.0 * M_PI), r = cabs(z[i]);
        int j = found++;

        if (cimag(z[i]) <= 0 || f < 50.0 || f > nyquist - 50.0) {
            found--;
            continue;
        }
        if (r > 1.0) /* outside the unit circle: reflected, as Praat does */
            r = 1.0 / r;
        for (; j > 0 && hz[j - 1] > f; j--) { /* insertion in rising order */
            hz[j] = hz[j - 1];
            bw[j] = bw[j - 1];
        }
        hz[j] = f;
        bw[j] = -log(r) * sample_rate / M_PI;
    }
    found = found < max ? found : max;
    memcpy(freq_hz, hz, sizeof(double) * (size_t)found);
    memcpy(bw_hz, bw, sizeof(double) * (size_t)found);
    return found;
}

/* Four partial sums, so that the additions do not wait on each other. */
static double dot(const float *x, const float *y, int len)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int j = 0;

    for (; j + 4 <= len; j += 4) {
        s0 += x[j] * y[j];
        s1 += x[j + 1] * y[j + 1];
        s2 += x[j + 2] * y[j + 2];
        s3 += x[j + 3] * y[j + 3];
    }
    for (; j < len; j++)
        s0 += x[j] * y[j];
    return (double)s0 + s1 + s2 + s3;
}

/*
 * The best lag in lo..hi of the normalized cross-correlation of the len samples at
 * x + a with those at x + a + lag, refined by a parabola; its correlation into *cc.
 * Reads x up to a + hi + len. The energy of the lagged segment slides with the lag,
 * so a lag costs one dot product.
 */
static double best_lag(const float *x, int a, int lo, int hi, int len, double *cc)
{
    const double aa = dot(x + a, x + a, len);
    double bb = dot(x + a + lo, x + a + lo, len), best = -2, last = 0, before = 0, after = 0;
    int lag = lo, want_after = 0;

    for (int l = lo; l <= hi; l++) {
        double c = aa > 0 && bb > 0 ? dot(x + a, x + a + l, len) / sqrt(aa * bb) : 0.0;

        if (want_after) {
            after = c;
            want_after = 0;
        }
        if (c > best) {
            best = c;
            lag = l;
            before = last;
            want_after = 1;
        }
        last = c;
        bb += (double)x[a + l + len] * x[a + l + len] - (double)x[a + l] * x[a + l];
    }
    *cc = best;
    if (lag <= lo || lag >= hi || !(before - 2 * best + after < 0))
        return lag;
    {
        double shift = 0.5 * (before - after) / (before - 2 * best + after);

        *cc = best - 0.25 * (before - after) * shift;
        return lag + shift;
    }
}

/* The position of the largest sample of x in lo..hi, refined by a parabola. */
static double peak_at(const float *x, int lo, int hi)
{
    int p = lo;
    double a, b, c, den;

    for (int i = lo + 1; i <= hi; i++)
        if (x[i] > x[p])
            p = i;
    if (p <= lo || p >= hi)
        return p;
    a = x[p - 1];
    b = x[p];
    c = x[p + 1];
    den = a - 2 * b + c;
    return den < 0 ? p + 0.5 * (a - c) / den : p;
}

/* The largest |x| within 0.45 periods of the pulse at p: its own period. */
static double pulse_amplitude(const float *x, int n, double p, double t0)
{
    int lo = (int)lround(p - 0.45 * t0), hi = (int)lround(p + 0.45 * t0);
    float a = 0;

    for (int i = lo > 0 ? lo : 0; i <= hi && i < n; i++)
        a = fmaxf(a, fabsf(x[i]));
    return a;
}

/*
 * Jitter (local) and shimmer (local, dB) of the frame x (n samples) with period t0
 * samples. Pulses are marked by cross-correlation, as Praat's periodic cc point
 * process does: from the highest peak of the first period, the next pulse is one
 * lag later, the lag (0.8..1.25 periods, refined by a parabola) at which the period
 * centred on this pulse correlates best with the signal. Unlike Praat, the pulse is
 * not moved onto a waveform peak: on speech that moves it between the competing
 * peaks of a period and doubled the jitter against Praat's, where correlation lags
 * read 30 % low (docs/features-audio.md). A pulse's amplitude is the largest |x|
 * within its own period (0.45 periods either side). Pairs of periods whose ratio
 * exceeds 1.3 are left out, as Praat does.
 */
static void jitter_shimmer(const float *x, int n, double t0, float *jitter, float *shimmer_db)
{
    enum { MAX_PULSES = 64 };
    double pulse[MAX_PULSES], amp[MAX_PULSES], dsum = 0, asum = 0;
    int half = (int)(t0 / 2), len = 2 * half, k = 1, nd = 0, na = 0;
    const int lo = (int)floor(0.8 * t0), hi = (int)ceil(1.25 * t0);

    *jitter = *shimmer_db = NAN;
    pulse[0] = peak_at(x, half, half + (int)t0);
    while (k < MAX_PULSES) {
        int start = (int)lround(pulse[k - 1]) - half;
        double cc;

        if (start < 0 || start + hi + 1 + len > n)
            break;
        double lag = best_lag(x, start, lo, hi, len, &cc);

        if (cc < MIN_PERIOD_CC)
            break;
        pulse[k] = pulse[k - 1] + lag;
        k++;
    }
    for (int i = 0; i < k; i++)
        amp[i] = pulse_amplitude(x, n, pulse[i], t0);
    /* periods i - 1 and i: pulses i - 1 .. i and i .. i + 1 */
    for (int i = 1; i + 1 < k; i++) {
        double t1 = pulse[i] - pulse[i - 1], t2 = pulse[i + 1] - pulse[i];

        if (fmax(t1, t2) / fmin(t1, t2) > PERIOD_RATIO)
            continue;
        dsum += fabs(t2 - t1);
        nd++;
    }
    for (int i = 1; i < k; i++) {
        if (amp[i] > 0 && amp[i - 1] > 0) {
            asum += fabs(20.0 * log10(amp[i] / amp[i - 1]));
            na++;
        }
    }
    if (nd > 0)
        *jitter = (float)(dsum / nd / ((pulse[k - 1] - pulse[0]) / (k - 1)));
    if (na > 0)
        *shimmer_db = (float)(asum / na);
}

/* HNR in dB from the normalized autocorrelation of the frame at its period (within
 * ±10 % of t0), 10 log10(r / (1 - r)) as Praat's cross-correlation harmonicity. */
static float hnr_db(const float *x, int n, double t0)
{
    int lo = (int)floor(0.9 * t0), hi = (int)ceil(1.1 * t0) + 1;
    double r;

    if (hi + 2 >= n)
        return NAN;
    best_lag(x, 0, lo, hi, n - hi - 1, &r);
    r = fmin(fmax(r, 1e-9), 1.0 - 1e-9);
    return (float)(10.0 * log10(r / (1.0 - r)));
}

/* The power of the bins from lo_hz up to, not including, hi_hz; and the largest. */
static void band_power(const avf_audio_voice_in *in, double lo_hz, double hi_hz, double *sum,
                       double *max)
{
    int lo = (int)ceil(lo_hz / in->bin_hz - 1e-9), hi = (int)ceil(hi_hz / in->bin_hz - 1e-9);

    *sum = 0;
    *max = 0;
    for (int k = lo; k < hi && k < in->nb_bins; k++) {
        double p = (double)in->magnitude[k] * in->magnitude[k];

        *sum += p;
        *max = fmax(*max, p);
    }
}

/* Alpha ratio, Hammarberg index and the two slopes; NaN beyond Nyquist. */
static void spectral_balance(const avf_audio_voice_in *in, avf_audio_voice_out *out)
{
    const double top = (in->nb_bins - 1) * in->bin_hz + 1e-9;
    double lo_sum, lo_max, hi_sum, hi_max;

    out->alpha_ratio_db = out->hammarberg_db = NAN;
    out->slope_0_500 = (float)avf_voice_band_slope(in->magnitude, in->nb_bins, in->bin_hz, 0, 500);
    out->slope_500_1500 =
        (float)avf_voice_band_slope(in->magnitude, in->nb_bins, in->bin_hz, 500, 1500);
    if (5000.0 > top)
        return;
    band_power(in, 50, 1000, &lo_sum, &lo_max);
    band_power(in, 1000, 5000, &hi_sum, &hi_max);
    if (lo_sum > 0 && hi_sum > 0)
        out->alpha_ratio_db = (float)(10.0 * log10(lo_sum / hi_sum));
    band_power(in, 0, 2000, &lo_sum, &lo_max);
    band_power(in, 2000, 5000, &hi_sum, &hi_max);
    if (lo_max > 0 && hi_max > 0)
        out->hammarberg_db = (float)(10.0 * log10(lo_max / hi_max));
}

/* The level contour's peaks: a peak counts once the contour has risen PEAK_RISE_DB
 * above its last low and then fallen PEAK_RISE_DB below the high it reached. */
static float level_peak(avf_audio_voice *v, double mean_square)
{
    double level = 0;
    int peak = 0;

    memmove(v->level, v->level + 1, sizeof(double) * (LEVEL_SMOOTH - 1));
    v->level[LEVEL_SMOOTH - 1] = 10.0 * log10(mean_square + 1e-12);
    if (v->nb_level < LEVEL_SMOOTH)
        v->nb_level++;
    for (int i = LEVEL_SMOOTH - v->nb_level; i < LEVEL_SMOOTH; i++)
        level += v->level[i] / v->nb_level;
    if (v->nb_level == 1) {
        v->low = v->high = level;
        v->rising = 0;
    } else if (!v->rising) {
        v->low = fmin(v->low, level);
        if (level >= v->low + PEAK_RISE_DB) {
            v->rising = 1;
            v->high = level;
        }
    } else {
        v->high = fmax(v->high, level);
        if (level <= v->high - PEAK_RISE_DB) {
            peak = v->high > PEAK_FLOOR_DB;
            v->rising = 0;
            v->low = level;
        }
    }
    return peak ? (float)(1.0 / v->hop_s) : 0.0f;
}

/* Whether two neighbours of the last SLOPE_WINDOWS semitones are further apart than
 * a voice moves (MAX_SLOPE_ST_S): an octave error of the pitch, not a slope. */
static int octave_jump(const avf_audio_voice *v)
{
    for (int i = 1; i < SLOPE_WINDOWS; i++)
        if (fabs(v->st[i] - v->st[i - 1]) > MAX_SLOPE_ST_S * v->hop_s)
            return 1;
    return 0;
}

/* Semitones, their slope over SLOPE_WINDOWS voiced windows, and the runs. */
static void contour(avf_audio_voice *v, double pitch_hz, avf_audio_voice_out *out)
{
    const int voiced = !isnan(pitch_hz);
    int ended_v, ended_u;
    double slope;

    out->f0_st = voiced ? (float)avf_voice_semitones(pitch_hz) : NAN;
    out->rise_st_s = out->fall_st_s = NAN;
    memmove(v->st, v->st + 1, sizeof(double) * (SLOPE_WINDOWS - 1));
    v->st[SLOPE_WINDOWS - 1] = out->f0_st;
    v->voiced_count = voiced ? v->voiced_count + 1 : 0;
    if (v->voiced_count >= SLOPE_WINDOWS && !octave_jump(v)) {
        /* the difference of 3-window means of the contour, one window apart */
        slope = (v->st[SLOPE_WINDOWS - 1] - v->st[0]) / ((SLOPE_WINDOWS - 1) * v->hop_s);
        if (slope > 0)
            out->rise_st_s = (float)slope;
        else if (slope < 0)
            out->fall_st_s = (float)-slope;
    }
    avf_voice_runs_step(&v->runs, voiced, &ended_v, &ended_u);
    out->voiced_run_s = ended_v ? (float)(ended_v * v->hop_s) : NAN;
    out->unvoiced_run_s = ended_u ? (float)(ended_u * v->hop_s) : NAN;
}

/* The frame low-passed and decimated for the formant analysis: v->dec. */
static void decimate(avf_audio_voice *v, const float *frame)
{
    const int d = v->decim, half = v->nb_taps / 2;

    if (d == 1) {
        memcpy(v->dec, frame, sizeof(float) * (size_t)v->frame_len);
        return;
    }
    for (int i = 0; i < v->dec_len; i++) {
        double acc = 0;

        for (int t = 0; t < v->nb_taps; t++) {
            int j = i * d + t - half;

            if (j >= 0 && j < v->frame_len)
                acc += (double)v->taps[t] * frame[j];
        }
        v->dec[i] = (float)acc;
    }
}

static void formants(avf_audio_voice *v, const float *frame, avf_audio_voice_out *out)
{
    double hz[AVF_AUDIO_NB_FORMANTS], bw[AVF_AUDIO_NB_FORMANTS];
    int found;

    decimate(v, frame);
    found = avf_voice_formants(v->dec, v->dec_len, v->sample_rate / v->decim, v->order, v->gauss,
                               v->roots, v->scratch, hz, bw, AVF_AUDIO_NB_FORMANTS);
    for (int i = 0; i < AVF_AUDIO_NB_FORMANTS; i++) {
        out->formant_hz[i] = i < found ? (float)hz[i] : NAN;
        out->bandwidth_hz[i] = i < found ? (float)bw[i] : NAN;
    }
}

/* The window's F0: YIN's, or where YIN's threshold found none, the lenient one if it
 * continues the last window's contour (within a step MAX_SLOPE_ST_S allows). */
static double voice_pitch(const avf_audio_voice *v, const avf_audio_voice_in *in)
{
    const double last = v->st[SLOPE_WINDOWS - 1];

    if (!isnan(in->pitch_hz))
        return in->pitch_hz;
    if (!(in->lenient_hz > 0) || v->voiced_count == 0 ||
        fabs(avf_voice_semitones(in->lenient_hz) - last) > MAX_SLOPE_ST_S * v->hop_s)
        return NAN;
    return in->lenient_hz;
}

void avf_audio_voice_process(avf_audio_voice *v, const avf_audio_voice_in *in, int restart,
                             avf_audio_voice_out *out)
{
    const double pitch_hz = voice_pitch(v, in);
    const int voiced = !isnan(pitch_hz);

    if (restart) {
        v->voiced_count = 0;
        v->nb_level = 0;
    }
    /* until YIN has a whole frame, voicing is unknown, not unvoiced: no run begins */
    if (restart || !in->frame)
        v->runs = (avf_voice_runs){.voiced = -1};
    contour(v, pitch_hz, out);
    out->loudness_peak = level_peak(v, in->mean_square);
    out->jitter = out->shimmer_db = out->hnr_db = NAN;
    for (int i = 0; i < AVF_AUDIO_NB_FORMANTS; i++)
        out->formant_hz[i] = out->bandwidth_hz[i] = NAN;
    out->alpha_ratio_db = out->hammarberg_db = out->slope_0_500 = out->slope_500_1500 = NAN;
    if (!voiced)
        return;
    if (in->frame && in->frame_len == v->frame_len) {
        double t0 = v->sample_rate / pitch_hz;

        jitter_shimmer(in->frame, in->frame_len, t0, &out->jitter, &out->shimmer_db);
        out->hnr_db = hnr_db(in->frame, in->frame_len, t0);
        formants(v, in->frame, out);
    }
    if (in->magnitude)
        spectral_balance(in, out);
}

void avf_audio_voice_free(avf_audio_voice **pp)
{
    avf_audio_voice *v = *pp;

    if (!v)
        return;
    av_freep(&v->taps);
    av_freep(&v->dec);
    av_freep(&v->scratch);
    av_freep(&v->gauss);
    av_freep(pp);
}

/* Windowed-sinc low-pass (Hamming) at 0.9 times the decimated Nyquist. */
static void lowpass_taps(float *taps, int nb, int decim)
{
    const double fc = 0.45 / decim, mid = (nb - 1) / 2.0;
    double sum = 0;

    for (int t = 0; t < nb; t++) {
        double u = t - mid, h = u == 0 ? 2 * fc : sin(2 * M_PI * fc * u) / (M_PI * u);

        h *= 0.54 - 0.46 * cos(2 * M_PI * t / (nb - 1));
        taps[t] = (float)h;
        sum += h;
    }
    for (int t = 0; t < nb; t++)
        taps[t] = (float)(taps[t] / sum);
}

avf_audio_voice *avf_audio_voice_new(int sample_rate, int hop, int frame_len)
{
    avf_audio_voice *v = av_mallocz(sizeof(*v));
    int order;

    if (!v)
        return NULL;
    v->sample_rate = sample_rate;
    v->hop = hop;
    v->hop_s = (double)hop / sample_rate;
    v->frame_len = frame_len;
    v->runs.voiced = -1;
    v->decim = sample_rate / FORMANT_RATE > 1 ? sample_rate / FORMANT_RATE : 1;
    v->nb_taps = 8 * v->decim + 1;
    v->dec_len = v->decim == 1 ? frame_len : frame_len / v->decim;
    /* Praat's density: two poles per 1100 Hz below Nyquist (10 for 5500 Hz) */
    order = 2 * (int)lround(sample_rate / v->decim / 2.0 / HZ_PER_FORMANT);
    v->order = order < AVF_VOICE_MAX_ORDER ? order : AVF_VOICE_MAX_ORDER;
    AVF_AUDIO_ALLOC(v->taps, v->nb_taps);
    AVF_AUDIO_ALLOC(v->dec, frame_len);
    AVF_AUDIO_ALLOC(v->scratch, 2 * frame_len);
    AVF_AUDIO_ALLOC(v->gauss, v->dec_len);
    avf_voice_gaussian(v->gauss, v->dec_len);
    lowpass_taps(v->taps, v->nb_taps, v->decim);
    return v;

fail:
    avf_audio_voice_free(&v);
    return NULL;
}
