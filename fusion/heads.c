/*
 * heads.c - content and sentiment from the model, plus video arousal.
 *
 * No labelled audio-video sentiment data exists for training, so the video share
 * of arousal comes from a published unsupervised model: Hanjalic and Xu,
 * "Affective video content representation and modeling", IEEE Trans. Multimedia
 * 7(1), 2005. Their arousal curve is a weighted sum of motion activity, shot-cut
 * rhythm and sound energy, each normalized to [0, 1], smoothed over time. Here:
 *   motion M = min(1, motion / 0.05)         (0.05: fast motion at 10 fps)
 *   rhythm R = min(1, cuts in the last 5 segments / 5)
 *   energy E = clamp((rms_dbfs + 60) / 60)    (only when audio is present)
 *   A = mean of the present components, smoothed by an exponential average
 *       (weight 0.5 on the new segment; the paper uses a Kaiser window, which needs
 *       future segments a live stream does not have)
 * and mapped to [-1, 1]. Combined arousal = voice arousal when the segment has no
 * video, else the mean of the voice head and the video model: each contributes
 * half. Valence comes from the voice head alone: Hanjalic and Xu's valence needs
 * colour and music cues calibrated on labelled film, which we do not have.
 *
 * The voice heads were trained on speech (and on the few non-speech sounds that
 * carry a valence label, such as cries), so they answer only where that is what
 * the segment holds (the basis rules in heads.h). Where nobody speaks, arousal is
 * the same Hanjalic-Xu model; without video it has one component left, the sound
 * energy E, smoothed the same way on a track of its own (so that a source whose
 * video comes and goes keeps the video curve as it was). Confidence is the label's
 * probability times the probability of the evidence the heads rest on (speech, or
 * the affect head's sound kind): a label the voice head is sure of on a segment
 * that is barely speech is not a sure label.
 *
 * A head that carries smoothing weights (fusion/model.h) has its logits smoothed
 * here over the source's segments; the default model's content head does, for
 * speech, music and noise (docs/models.md).
 */
#include "fusion/heads.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>

#define HX_MOTION_FULL 0.05
#define HX_CUT_WINDOW  5
#define HX_SMOOTHING   0.5

struct avf_heads {
    const avf_model *model;
    int content, valence, arousal, affect; /* head indices or -1 */
    int motion, cuts, rms, silent;         /* fused vector indices or -1 */
    int mask_video, mask_audio;
    /* video arousal state, in segment order */
    double cut_history[HX_CUT_WINDOW];
    int cut_pos;
    double smoothed;
    int have_smoothed;
    /* the sound-energy track of segments without video, likewise */
    double energy;
    int have_energy;
    /* the content head's smoothed logits of the previous segment */
    double content_logits[AVF_CONTENT_COUNT];
    int have_content_logits;
};

/* Sets *head to the index of the head named name, or -1 when the model has none;
 * fails when it has one whose outputs are not exactly names[0..n). */
static int expect_head(const avf_model *m, const char *name, const char *const *names, int n,
                       int *head, char *why, size_t why_size)
{
    int h = avf_model_find_head(m, name), len;

    *head = h;
    if (h < 0)
        return 0;
    if (m->heads[h].nb_outputs != n)
        goto bad;
    for (int i = 0; i < n; i++)
        if (strcmp(m->heads[h].outputs[i], names[i]))
            goto bad;
    return 0;
bad:
    len = snprintf(why, why_size, "head '%s' must have the output%s", name, n > 1 ? "s" : "");
    for (int i = 0; i < n && len >= 0 && (size_t)len < why_size; i++)
        len += snprintf(why + len, why_size - (size_t)len, "%s %s", i ? "," : "", names[i]);
    return AVERROR(EINVAL);
}

avf_heads *avf_heads_new(const avf_model *model, const avf_fused_layout *layout, char *why,
                         size_t why_size)
{
    static const char *const affect_names[] = {"affect"};
    avf_heads *h = calloc(1, sizeof(*h));

    if (!h) {
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    h->model = model;
    if (expect_head(model, "content", avf_content_names, AVF_CONTENT_COUNT, &h->content, why,
                    why_size) < 0 ||
        expect_head(model, "valence", avf_valence_names, 3, &h->valence, why, why_size) < 0 ||
        expect_head(model, "arousal", avf_arousal_names, 3, &h->arousal, why, why_size) < 0 ||
        expect_head(model, "affect", affect_names, 1, &h->affect, why, why_size) < 0) {
        free(h);
        return NULL;
    }
    h->motion = avf_fused_find(layout, "video.motion");
    h->cuts = avf_fused_find(layout, "video.cuts");
    h->rms = avf_fused_find(layout, "audio.rms_dbfs");
    h->silent = avf_fused_find(layout, AVF_FUSED_SILENT);
    h->mask_video = layout->mask_video;
    h->mask_audio = layout->mask_audio;
    return h;
}

void avf_heads_free(avf_heads **ph)
{
    if (!ph || !*ph)
        return;
    free(*ph);
    *ph = NULL;
}

static double clamp01(double v)
{
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

/*
 * The raw (unsmoothed) Hanjalic-Xu arousal of one segment, 0..1, NaN without
 * video; recent_cuts is the number of cuts in the last HX_CUT_WINDOW segments.
 */
static double video_arousal_raw(const avf_heads *h, const double *raw, double recent_cuts)
{
    double sum;
    int n = 1;

    if (raw[h->mask_video] < 0.5 || h->motion < 0 || isnan(raw[h->motion]))
        return NAN;
    sum = clamp01(raw[h->motion] / HX_MOTION_FULL);
    if (h->cuts >= 0) {
        sum += clamp01(recent_cuts / HX_CUT_WINDOW);
        n++;
    }
    if (h->rms >= 0 && raw[h->mask_audio] > 0.5 && !isnan(raw[h->rms])) {
        sum += clamp01((raw[h->rms] + 60) / 60);
        n++;
    }
    return sum / n;
}

static double segment_cuts(const avf_heads *h, const double *raw)
{
    return h->cuts >= 0 && isfinite(raw[h->cuts]) ? raw[h->cuts] : 0;
}

/*
 * The content probabilities into out, through the head's smoothing if it has one.
 * A silent segment (silence probability >= 0.5, i.e. a logit >= 0) breaks the
 * smoothing: it is not smoothed itself, so speech does not linger into a pause,
 * and the segment after it starts afresh, so a pause does not hold back what
 * follows it. So does a segment whose own logits clearly disagree with the
 * smoothed ones (the head's smoothing_restart, avf_smoothing_restarts()): music
 * starting after speech is music from its first segment, not one segment later.
 */
static void apply_content(avf_heads *h, const double *x, double *out)
{
    const avf_model *m = h->model;
    const double *w = m->heads[h->content].smoothing;

    avf_model_logits(m, h->content, x, out);
    if (w && out[AVF_SILENCE] >= 0) {
        h->have_content_logits = 0;
    } else if (w) {
        if (h->have_content_logits &&
            avf_smoothing_restarts(out, h->content_logits, w, AVF_CONTENT_COUNT,
                                   m->heads[h->content].smoothing_restart))
            h->have_content_logits = 0;
        for (int o = 0; h->have_content_logits && o < AVF_CONTENT_COUNT; o++)
            out[o] = (1 - w[o]) * out[o] + w[o] * h->content_logits[o];
        memcpy(h->content_logits, out, sizeof(h->content_logits));
        h->have_content_logits = 1;
    }
    avf_model_activate(m, h->content, out);
}

/* The basis rules of heads.h; r holds the content probabilities if any. */
static int basis_of(const avf_head_result *r, int audio, int video, int silent_input)
{
    if (!audio && !video)
        return AVF_BASIS_NONE;
    if (audio) {
        if (r->content_valid ? r->content[AVF_SILENCE] >= 0.5 : silent_input)
            return AVF_BASIS_NONE;
        if (r->content_valid && r->content[AVF_SPEECH] >= 0.5)
            return AVF_BASIS_VOICE;
    }
    return AVF_BASIS_SCENE;
}

/* Valence, label and arousal from the voice heads; evidence is the probability
 * that the segment is what they were trained on (speech, or the affect kind). */
static void voice_sentiment(const avf_heads *h, const double *x, double evidence,
                            avf_head_result *r)
{
    const avf_model *m = h->model;
    double p[3];

    avf_model_apply(m, h->valence, x, p);
    r->valence = p[AVF_POSITIVE] - p[AVF_NEGATIVE];
    r->label = AVF_NEGATIVE;
    for (int i = 1; i < 3; i++)
        if (p[i] > p[r->label])
            r->label = i;
    r->confidence = p[r->label] * evidence;
    r->valence_valid = 1;
    avf_model_apply(m, h->arousal, x, p);
    r->voice_arousal = p[2] - p[0];
    r->arousal = isnan(r->video_arousal) ? r->voice_arousal
                                         : 0.5 * r->voice_arousal + 0.5 * r->video_arousal;
    r->arousal_valid = 1;
}

/* Sentiment where nobody speaks: the affect head's kind, or arousal alone. */
static void scene_sentiment(const avf_heads *h, const double *x, double energy_arousal,
                            avf_head_result *r)
{
    double a;

    if (h->affect >= 0) {
        avf_model_apply(h->model, h->affect, x, &r->affect);
        if (r->affect >= 0.5) {
            voice_sentiment(h, x, r->affect, r);
            return;
        }
    }
    a = isnan(r->video_arousal) ? energy_arousal : r->video_arousal;
    if (!isnan(a)) {
        r->arousal = a;
        r->arousal_valid = 1;
    }
}

static void apply(avf_heads *h, double *x, avf_head_result *r, double video_arousal,
                  double energy_arousal)
{
    const avf_model *m = h->model;
    int audio = x[h->mask_audio] >= 0.5, video = x[h->mask_video] >= 0.5;
    /* read before imputation, which would make an absent value the mean */
    int silent_input = h->silent >= 0 && x[h->silent] >= 0.5;

    memset(r, 0, sizeof(*r));
    r->affect = NAN;
    for (int i = 0; i < m->dim; i++)
        if (!isfinite(x[i]))
            x[i] = m->mean[i];
    if (h->content >= 0) {
        apply_content(h, x, r->content);
        r->content_valid = 1;
    }
    r->video_arousal = video_arousal;
    if (h->valence < 0 || h->arousal < 0)
        return;
    r->sentiment_valid = 1;
    r->basis = basis_of(r, audio, video, silent_input);
    if (r->basis == AVF_BASIS_VOICE)
        voice_sentiment(h, x, r->content[AVF_SPEECH], r);
    else if (r->basis == AVF_BASIS_SCENE)
        scene_sentiment(h, x, energy_arousal, r);
}

/* The smoothed sound-energy arousal, -1..1, NaN without audio. */
static double energy_arousal(avf_heads *h, const double *raw)
{
    double e;

    if (h->rms < 0 || raw[h->mask_audio] < 0.5 || isnan(raw[h->rms]))
        return NAN;
    e = clamp01((raw[h->rms] + 60) / 60);
    h->energy = h->have_energy ? HX_SMOOTHING * e + (1 - HX_SMOOTHING) * h->energy : e;
    h->have_energy = 1;
    return 2 * h->energy - 1;
}

void avf_heads_apply(avf_heads *h, double *x, avf_head_result *r)
{
    double recent = 0, a, e;

    h->cut_history[h->cut_pos] = segment_cuts(h, x);
    h->cut_pos = (h->cut_pos + 1) % HX_CUT_WINDOW;
    for (int i = 0; i < HX_CUT_WINDOW; i++)
        recent += h->cut_history[i];
    a = video_arousal_raw(h, x, recent);
    if (!isnan(a)) {
        h->smoothed = h->have_smoothed ? HX_SMOOTHING * a + (1 - HX_SMOOTHING) * h->smoothed : a;
        h->have_smoothed = 1;
        a = 2 * h->smoothed - 1;
    }
    e = energy_arousal(h, x);
    apply(h, x, r, a, e);
}

void avf_heads_reset(avf_heads *h)
{
    memset(h->cut_history, 0, sizeof(h->cut_history));
    h->cut_pos = 0;
    h->have_smoothed = 0;
    h->have_energy = 0;
    h->have_content_logits = 0;
}
