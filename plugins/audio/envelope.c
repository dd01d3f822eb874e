/*
 * envelope.c - the 4 Hz modulation and low-energy cues (Scheirer & Slaney 1997)
 * for the built-in audio extractor (plugins/builtin_audio.c).
 *
 * A ring holds the RMS and mean square of the windows of the last second. The
 * modulation cue is the share of the tapered RMS envelope's power in the DFT bins
 * of 2..8 Hz, the band of syllables; it is computed over the whole second and
 * again over its last half second, so that an utterance shorter than a second (a
 * spoken digit) still has one. Only those few bins are needed, so their cos and
 * sin rows are tabulated once and the DFT is a handful of dot products.
 * docs/features-audio.md defines the values.
 */
#include <errno.h>
#include <math.h>

#include <libavutil/mem.h>

#include "plugins/audio/common.h"
#include "plugins/audio/envelope.h"

#define ENV_SECS   1.0
#define MOD_LO_HZ  2.0
#define MOD_HI_HZ  8.0
#define LOW_ENERGY 0.5

/* Half a second puts the DFT bins 2 Hz apart: 2, 4, 6 and 8 Hz fall on bins. */
#define ENV_SHORT_SECS 0.5

/* The modulation of an envelope of len values: its taper, and the DFT rows of the
 * bins lo..hi of the 2..8 Hz band. */
typedef struct mod_band {
    int len, lo, hi;
    float *hann;    /* len */
    float *cs, *sn; /* (hi - lo + 1) x len */
} mod_band;

struct avf_audio_envelope {
    /* 1 s ring of per-window RMS and mean square, oldest at pos once full */
    int len, pos, count;
    float *rms, *ms;
    float *tmp; /* 2 len: scratch, then the ring in time order */
    mod_band full;
    mod_band half; /* the last half.len entries of the same ring */
};

static void band_free(mod_band *b)
{
    av_freep(&b->hann);
    av_freep(&b->cs);
    av_freep(&b->sn);
}

void avf_audio_envelope_free(avf_audio_envelope **pe)
{
    avf_audio_envelope *e = *pe;

    if (!e)
        return;
    av_freep(&e->rms);
    av_freep(&e->ms);
    av_freep(&e->tmp);
    band_free(&e->full);
    band_free(&e->half);
    av_freep(pe);
}

/* The band over `secs` of an envelope of `rate` values a second; < 0 when out of memory. */
static int band_init(mod_band *b, double rate, double secs)
{
    const int n = b->len = (int)lround(rate * secs);

    b->lo = (int)ceil(MOD_LO_HZ * n / rate - 1e-9);
    b->hi = (int)floor(MOD_HI_HZ * n / rate + 1e-9);
    AVF_AUDIO_ALLOC(b->hann, n);
    AVF_AUDIO_ALLOC(b->cs, (b->hi - b->lo + 1) * n);
    AVF_AUDIO_ALLOC(b->sn, (b->hi - b->lo + 1) * n);
    for (int i = 0; i < n; i++)
        b->hann[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * (i + 0.5) / n));
    for (int k = b->lo; k <= b->hi; k++)
        for (int i = 0; i < n; i++) {
            b->cs[(k - b->lo) * n + i] = (float)cos(2.0 * M_PI * k * i / n);
            b->sn[(k - b->lo) * n + i] = (float)sin(2.0 * M_PI * k * i / n);
        }
    return 0;

fail:
    return -ENOMEM;
}

avf_audio_envelope *avf_audio_envelope_new(int sample_rate, int hop)
{
    avf_audio_envelope *e = av_mallocz(sizeof(*e));
    double rate = (double)sample_rate / hop;

    if (!e)
        return NULL;
    if (band_init(&e->full, rate, ENV_SECS) < 0 || band_init(&e->half, rate, ENV_SHORT_SECS) < 0)
        goto fail;
    e->len = e->full.len;
    AVF_AUDIO_ALLOC(e->rms, e->len);
    AVF_AUDIO_ALLOC(e->ms, e->len);
    AVF_AUDIO_ALLOC(e->tmp, 2 * e->len);
    return e;

fail:
    avf_audio_envelope_free(&e);
    return NULL;
}

/*
 * The share of the modulation power of env[0..b->len - 1] (oldest first) that lies
 * in the band's bins; tmp holds b->len values.
 */
static float modulation_share(const mod_band *b, const float *env, float *tmp)
{
    const int n = b->len;
    double wsum = 0, wmean = 0, var = 0, band = 0;

    for (int i = 0; i < n; i++) {
        wmean += (double)env[i] * b->hann[i];
        wsum += b->hann[i];
    }
    wmean /= wsum;
    for (int i = 0; i < n; i++) {
        /* removing the taper-weighted mean zeroes the DC bin exactly */
        tmp[i] = (float)((env[i] - wmean) * b->hann[i]);
        var += (double)tmp[i] * tmp[i];
    }
    /* a steady or silent envelope has no modulation to share out */
    if (wmean < 1e-5 || var < 1e-8 * wmean * wmean * wsum)
        return 0;
    for (int k = b->lo; k <= b->hi; k++) {
        const float *ck = b->cs + (k - b->lo) * n, *sk = b->sn + (k - b->lo) * n;
        float re = 0, im = 0;

        for (int i = 0; i < n; i++) {
            re += tmp[i] * ck[i];
            im += tmp[i] * sk[i];
        }
        band += (double)re * re + (double)im * im;
    }
    /* Parseval: the bins k and n-k of a real sequence sum to n * sum(y^2) */
    band = 2.0 * band / (n * var);
    return (float)(band < 1.0 ? band : 1.0);
}

void avf_audio_envelope_process(avf_audio_envelope *e, double mean_square, float *mod4hz,
                                float *mod4hz_short, float *low_energy)
{
    const int n = e->len, ns = e->half.len;
    double ms_sum = 0;
    float *ordered = e->tmp + n; /* the ring, oldest first */

    e->rms[e->pos] = (float)sqrt(mean_square);
    e->ms[e->pos] = (float)mean_square;
    e->pos = e->pos + 1 < n ? e->pos + 1 : 0;
    if (e->count < n)
        e->count++;

    for (int i = 0; i < e->count; i++)
        ms_sum += e->ms[i];
    *low_energy = mean_square < LOW_ENERGY * ms_sum / e->count ? 1.0f : 0.0f;

    *mod4hz = *mod4hz_short = NAN;
    if (e->count < ns)
        return;
    /* until the ring is full, its oldest entry is at 0 and the newest at count - 1 */
    for (int i = 0, j = e->count < n ? 0 : e->pos; i < e->count; i++, j = j + 1 < n ? j + 1 : 0)
        ordered[i] = e->rms[j];
    *mod4hz_short = modulation_share(&e->half, ordered + e->count - ns, e->tmp);
    if (e->count < n)
        return;
    *mod4hz = modulation_share(&e->full, ordered, e->tmp);
}
