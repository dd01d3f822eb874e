/*
 * vector.c - builds the early-fusion vector from a segment's pooled features.
 *
 * The names carry their modality ("video.luma", "audio.luma" could both exist)
 * so a model file states exactly which input each weight belongs to. The absolute
 * offset is used rather than the signed one: "out of sync" matters to content and
 * sentiment, its direction does not.
 */
#include "fusion/vector.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fusion/tags.h"

static char *prefixed(const char *prefix, const char *name)
{
    size_t n = strlen(prefix) + strlen(name) + 1;
    char *s = malloc(n);

    if (s)
        snprintf(s, n, "%s%s", prefix, name);
    return s;
}

/* Sets the indices of audio.rms_dbfs and audio.silent; silent needs rms. */
static void find_derived(avf_fused_layout *l)
{
    l->rms = l->silent = -1;
    for (int i = l->audio_off; i < l->audio_off + l->nb_audio; i++) {
        if (!strcmp(l->names[i], "audio.rms_dbfs"))
            l->rms = i;
        else if (!strcmp(l->names[i], AVF_FUSED_SILENT))
            l->silent = i;
    }
    if (l->rms < 0)
        l->silent = -1;
}

void avf_fused_layout_free(avf_fused_layout **pl)
{
    avf_fused_layout *l;

    if (!pl || !*pl)
        return;
    l = *pl;
    for (int i = 0; l->names && i < l->dim; i++)
        free(l->names[i]);
    free(l->names);
    free(l);
    *pl = NULL;
}

avf_fused_layout *avf_fused_layout_new(const avf_plugin_descriptor *const *descs, int nb_descs)
{
    static const char *const tail[] = {"av.offset_abs_ms", "av.confidence", "mask.video",
                                       "mask.audio"};
    avf_fused_layout *l = calloc(1, sizeof(*l));
    int n = 0;

    if (!l)
        return NULL;
    for (int i = 0; i < nb_descs; i++)
        l->dim += (int)descs[i]->nb_features;
    l->dim += 5; /* the tail, and audio.silent if there is rms_dbfs */
    l->names = calloc((size_t)l->dim, sizeof(*l->names));
    if (!l->names)
        goto fail;
    for (int pass = 0; pass < 2; pass++) {
        int modality = pass == 0 ? AVF_PLUGIN_VIDEO : AVF_PLUGIN_AUDIO;

        if (pass == 0)
            l->video_off = n;
        else
            l->audio_off = n;
        for (int i = 0; i < nb_descs; i++) {
            if (descs[i]->modality != modality)
                continue;
            for (uint32_t f = 0; f < descs[i]->nb_features; f++) {
                l->names[n] = prefixed(pass == 0 ? "video." : "audio.", descs[i]->features[f].name);
                if (!l->names[n++])
                    goto fail;
            }
        }
        if (pass == 1) {
            /* the plugins' audio entries are in: audio.silent follows if rms_dbfs is one */
            l->nb_audio = n - l->audio_off;
            find_derived(l);
            if (l->rms >= 0) {
                l->names[n] = prefixed("", AVF_FUSED_SILENT);
                if (!l->names[n])
                    goto fail;
                l->silent = n++;
            }
        }
        if (pass == 0)
            l->nb_video = n - l->video_off;
        else
            l->nb_audio = n - l->audio_off;
    }
    l->cross_off = n;
    for (int i = 0; i < 4; i++) {
        l->names[n] = prefixed("", tail[i]);
        if (!l->names[n++])
            goto fail;
    }
    l->dim = n;
    l->mask_video = n - 2;
    l->mask_audio = n - 1;
    return l;
fail:
    avf_fused_layout_free(&l);
    return NULL;
}

avf_fused_layout *avf_fused_layout_from_names(const char *const *names, int dim, char *why,
                                              size_t why_size)
{
    static const char *const tail[] = {"av.offset_abs_ms", "av.confidence", "mask.video",
                                       "mask.audio"};
    avf_fused_layout *l;
    int n = 0;

    if (dim < 4) {
        snprintf(why, why_size, "%d features: the presence mask is missing", dim);
        return NULL;
    }
    l = calloc(1, sizeof(*l));
    if (!l || !(l->names = calloc((size_t)dim, sizeof(*l->names)))) {
        free(l);
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    l->dim = dim;
    for (int i = 0; i < dim; i++)
        if (!(l->names[i] = strdup(names[i])))
            goto nomem;
    while (n < dim - 4 && !strncmp(names[n], "video.", 6))
        n++;
    l->video_off = 0;
    l->nb_video = n;
    l->audio_off = n;
    while (n < dim - 4 && !strncmp(names[n], "audio.", 6))
        n++;
    l->nb_audio = n - l->audio_off;
    if (n != dim - 4) {
        snprintf(why, why_size, "feature %d '%s' is out of order (video.*, audio.*, av.*, mask.*)",
                 n, names[n]);
        goto fail;
    }
    for (int i = 0; i < 4; i++)
        if (strcmp(names[n + i], tail[i])) {
            snprintf(why, why_size, "feature %d is '%s', expected '%s'", n + i, names[n + i],
                     tail[i]);
            goto fail;
        }
    l->cross_off = n;
    l->mask_video = n + 2;
    l->mask_audio = n + 3;
    find_derived(l);
    return l;
nomem:
    snprintf(why, why_size, "out of memory");
fail:
    avf_fused_layout_free(&l);
    return NULL;
}

int avf_fused_find(const avf_fused_layout *l, const char *name)
{
    for (int i = 0; i < l->dim; i++)
        if (!strcmp(l->names[i], name))
            return i;
    return -1;
}

int *avf_fused_map(const avf_fused_layout *l, const avf_feature_layout *video,
                   const avf_feature_layout *audio)
{
    int *map = malloc((size_t)l->dim * sizeof(*map));

    if (!map)
        return NULL;
    for (int i = 0; i < l->dim; i++)
        map[i] = -1;
    for (int i = 0; i < l->nb_video; i++)
        map[l->video_off + i] =
            avf_feature_layout_find(video, l->names[l->video_off + i] + strlen("video."));
    for (int i = 0; i < l->nb_audio; i++)
        map[l->audio_off + i] =
            avf_feature_layout_find(audio, l->names[l->audio_off + i] + strlen("audio."));
    return map;
}

void avf_fused_vector(const avf_fused_layout *l, const int *map, const avf_segment *seg,
                      const avf_fusion_out *out, double *x)
{
    int video = seg->video_present && out->video_features;
    int audio = seg->audio_present && out->audio_features;

    for (int i = 0; i < l->dim; i++)
        x[i] = NAN;
    for (int i = 0; video && i < l->nb_video; i++) {
        int c = map[l->video_off + i];

        if (c >= 0)
            x[l->video_off + i] = out->video_features[c];
    }
    for (int i = 0; audio && i < l->nb_audio; i++) {
        int c = map[l->audio_off + i];

        if (c >= 0)
            x[l->audio_off + i] = out->audio_features[c];
    }
    if (audio && l->silent >= 0 && isfinite(x[l->rms]))
        x[l->silent] = x[l->rms] < AVF_TAG_SILENCE_DBFS;
    if (out->av_valid) {
        x[l->cross_off] = fabs(out->av_offset_ms);
        x[l->cross_off + 1] = out->av_confidence;
    }
    x[l->mask_video] = video;
    x[l->mask_audio] = audio;
}
