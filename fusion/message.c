/*
 * message.c - encodes segments as avfuse.segment.v1 JSON with jansson.
 *
 * Times are microsecond integers inside the pipeline and seconds in messages;
 * reals are printed with 15 significant digits so that 10.4 reads "10.4" and not
 * the nearest binary fraction.
 */
#include "fusion/message.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libavutil/error.h>

#include "base/url.h"
#include "base/vocab.h"
#include "fusion/tags.h"

int avf_source_name_valid(const char *name)
{
    size_t n = 0;

    if (!name)
        return 0;
    for (; name[n]; n++) {
        char c = name[n];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return n >= 1 && n <= AVF_SOURCE_NAME_MAX;
}

void avf_source_name_from_path(const char *path, char *out)
{
    const char *base = strrchr(path, '/');
    size_t len, n = 0;
    const char *dot;

    base = base ? base + 1 : path;
    if (base >= path + 3 && !strncmp(base - 3, "://", 3)) {
        /* a URL without a path: its host, never its user and password */
        size_t user;

        if (avf_url_userinfo(base, strlen(base), &user))
            base += user + 1;
    }
    len = strcspn(base, "?#");
    dot = memchr(base, '.', len);
    if (dot && dot != base) {
        /* the last dot in the component, so "a.b.mp4" keeps "a.b" as "a_b" */
        const char *last = dot;

        while ((dot = memchr(last + 1, '.', len - (size_t)(last + 1 - base))))
            last = dot;
        len = (size_t)(last - base);
    }
    for (size_t i = 0; i < len && n < AVF_SOURCE_NAME_MAX; i++) {
        char c = base[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-';

        out[n++] = ok ? c : '_';
    }
    out[n] = '\0';
    if (n == 0)
        strcpy(out, "input");
}

static double seconds(int64_t us)
{
    return (double)us / 1e6;
}

/* Features carry 6 significant digits: more is noise, and it keeps lines short. */
static double six_digits(double v)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%.6g", v);
    return strtod(buf, NULL);
}

/* Adds {"name": value, ...}; values that are not finite have no JSON form and are
 * left out, which is what "no value in this segment" means to a subscriber. */
static int add_features(json_t *modality, const char *const *names, const double *values, int dim)
{
    json_t *features = json_object();

    if (!features)
        return AVERROR(ENOMEM);
    for (int i = 0; i < dim; i++)
        if (isfinite(values[i]) &&
            json_object_set_new(features, names[i], json_real(six_digits(values[i]))))
            goto fail;
    if (json_object_set_new(modality, "features", features))
        return AVERROR(ENOMEM);
    return 0;
fail:
    json_decref(features);
    return AVERROR(ENOMEM);
}

/* A number, or null when the value is not set. */
static json_t *number_or_null(int valid, double v)
{
    return valid ? json_real(six_digits(v)) : json_null();
}

/* {"basis", "valence", "arousal", "label", "confidence"}, each value null where
 * the basis gives none (fusion/heads.h); NULL when out of memory. */
static json_t *sentiment_object(const avf_fusion_out *out)
{
    int v = out->valence_valid;

    return json_pack("{s:s, s:o, s:o, s:o, s:o}", "basis", avf_basis_names[out->sentiment_basis],
                     "valence", number_or_null(v, out->valence), "arousal",
                     number_or_null(out->arousal_valid, out->arousal), "label",
                     v ? json_string(avf_valence_names[out->sentiment_label]) : json_null(),
                     "confidence", number_or_null(v, out->sentiment_confidence));
}

/* "labels", "sentiment" and "model": what the trained heads say. */
static int add_model_outputs(json_t *msg, const avf_fusion_out *out)
{
    if (out->labels_valid) {
        json_t *obj = json_object();

        if (!obj)
            return AVERROR(ENOMEM);
        for (int c = 0; c < AVF_CONTENT_COUNT; c++)
            if (json_object_set_new(obj, avf_content_names[c],
                                    json_real(six_digits(out->labels[c])))) {
                json_decref(obj);
                return AVERROR(ENOMEM);
            }
        if (json_object_set_new(msg, "labels", obj))
            return AVERROR(ENOMEM);
    }
    if (out->sentiment_valid && json_object_set_new(msg, "sentiment", sentiment_object(out)))
        return AVERROR(ENOMEM);
    if (out->model_name && json_object_set_new(msg, "model", json_string(out->model_name)))
        return AVERROR(ENOMEM);
    return 0;
}

static json_t *tags_array(uint32_t tags)
{
    json_t *array = json_array();

    for (int t = 0; array && t < AVF_TAG_COUNT; t++)
        if ((tags & (1u << t)) && json_array_append_new(array, json_string(avf_tag_name(t)))) {
            json_decref(array);
            return NULL;
        }
    return array;
}

char *avf_format_wallclock(int64_t t, char *out, size_t size)
{
    time_t secs = (time_t)(t >= 0 ? t / 1000000 : (t - 999999) / 1000000);
    int ms = (int)((t - (int64_t)secs * 1000000) / 1000);
    struct tm tm;
    char day[32];

    gmtime_r(&secs, &tm);
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%s.%03dZ", day, ms);
    return out;
}

char *avf_segment_message(const avf_segment *seg, const avf_fusion_out *fused,
                          const avf_message_meta *meta)
{
    static const avf_fusion_out nothing = {0};
    const avf_fusion_out *out = fused ? fused : &nothing;
    json_t *msg, *video, *audio;
    char *text;

    video = json_pack("{s:b}", "present", seg->video_present);
    audio = json_pack("{s:b}", "present", seg->audio_present);
    if (!video || !audio) {
        json_decref(video);
        json_decref(audio);
        return NULL;
    }
    if (seg->video_present)
        json_object_set_new(video, "frames", json_integer(seg->nb_frames));
    if (seg->audio_present)
        json_object_set_new(audio, "samples", json_integer(seg->nb_samples));
    if ((out->video_features &&
         add_features(video, out->video_names, out->video_features, seg->video_dim) < 0) ||
        (out->audio_features &&
         add_features(audio, out->audio_names, out->audio_features, seg->audio_dim) < 0)) {
        json_decref(video);
        json_decref(audio);
        return NULL;
    }
    /* "o" steals the references to video, audio and tags, also when packing fails */
    msg = json_pack("{s:s, s:s, s:I, s:I, s:f, s:f, s:b, s:o, s:o, s:o}", "schema",
                    AVF_SEGMENT_SCHEMA, "source", meta->source, "epoch", (json_int_t)meta->epoch,
                    "seq", (json_int_t)meta->seq, "t0", seconds(seg->t0_us + meta->offset_us), "t1",
                    seconds(seg->t1_us + meta->offset_us), "partial", seg->partial, "video", video,
                    "audio", audio, "tags", tags_array(out->tags));
    if (!msg)
        return NULL;
    if (meta->wallclock_us != INT64_MIN) {
        char when[40];

        if (json_object_set_new(
                msg, "wallclock",
                json_string(avf_format_wallclock(meta->wallclock_us, when, sizeof(when))))) {
            json_decref(msg);
            return NULL;
        }
    }
    if (seg->partial && seg->partial_reason &&
        json_object_set_new(msg, "partial_reason", json_string(seg->partial_reason))) {
        json_decref(msg);
        return NULL;
    }
    if ((out->labels_valid || out->sentiment_valid) && add_model_outputs(msg, out) < 0) {
        json_decref(msg);
        return NULL;
    }
    if (seg->video_present && seg->audio_present) {
        json_t *av = out->av_valid
                         ? json_pack("{s:f, s:f}", "offset_ms", six_digits(out->av_offset_ms),
                                     "confidence", six_digits(out->av_confidence))
                         : json_pack("{s:f}", "confidence", 0.0);

        if (!av || json_object_set_new(msg, "av", av)) {
            json_decref(msg);
            return NULL;
        }
    }
    if (isfinite(meta->latency_ms) &&
        json_object_set_new(msg, "latency_ms", json_real(round(meta->latency_ms * 10) / 10))) {
        json_decref(msg);
        return NULL;
    }
    text = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(msg);
    return text;
}
