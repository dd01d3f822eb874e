/*
 * extract.c - plugin instances of one modality, and audio windowing.
 *
 * The host, not each plugin, cuts audio into windows so that every audio plugin
 * sees the same timeline-aligned windows and their rows line up. The pending
 * samples are kept in one linear buffer: the unfinished window plus whatever the
 * last chunk brought; consumed samples are moved down once per chunk. A hole in
 * the timeline (an audio gap) is filled with silence up to one window; a longer
 * hole restarts the windowing after it, so no window mixes audio from both sides
 * of a long gap. Rows are written into the caller's buffer (the item's, which the
 * item pool keeps), so a warm pipeline extracts without allocating.
 */
#include "pipeline/extract.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>

#include "base/log.h"
#include "plugins/loader.h"

typedef struct plugin_slot {
    const avf_plugin_descriptor *desc;
    void *instance;
    avf_plugin_services services;
    int offset; /* of its first value in a row */
    uint64_t errors;
} plugin_slot;

struct avf_extractor {
    avf_plugin_modality modality;
    plugin_slot *slots;
    int nb_slots;
    const char **names;
    int *pools;
    avf_feature_layout layout;
    int window, hop; /* audio, in samples */
    float *buf;      /* audio samples from buf_pos on */
    int buf_len, buf_cap;
    int64_t buf_pos;  /* timeline index of buf[0] */
    int64_t next_win; /* start of the next window to compute; INT64_MIN before any audio */
};

int avf_extractor_new(avf_extractor **px, avf_plugin_modality modality,
                      const avf_plugin_descriptor *const *descs, int nb_descs,
                      const avf_plugin_config *cfg)
{
    avf_extractor *x = calloc(1, sizeof(*x));
    int dim = 0;

    if (!x)
        return AVERROR(ENOMEM);
    x->modality = modality;
    x->window = cfg->window;
    x->hop = cfg->hop;
    x->next_win = INT64_MIN;
    x->slots = calloc((size_t)(nb_descs > 0 ? nb_descs : 1), sizeof(*x->slots));
    if (!x->slots)
        goto fail;
    for (int i = 0; i < nb_descs; i++) {
        plugin_slot *slot = &x->slots[x->nb_slots];
        int ret;

        if (descs[i]->modality != (int32_t)modality)
            continue;
        slot->desc = descs[i];
        avf_plugin_services_init(&slot->services, descs[i]->name);
        ret = descs[i]->create(&slot->services, cfg, &slot->instance);
        if (ret < 0) {
            char err[128];

            avf_log(AVF_LOG_ERROR, "extract", "%s: plugin %s did not start: %s", cfg->source,
                    descs[i]->name, av_make_error_string(err, sizeof(err), ret));
            continue;
        }
        slot->offset = dim;
        dim += (int)descs[i]->nb_features;
        x->nb_slots++;
    }
    x->names = calloc((size_t)(dim > 0 ? dim : 1), sizeof(*x->names));
    x->pools = calloc((size_t)(dim > 0 ? dim : 1), sizeof(*x->pools));
    if (!x->names || !x->pools)
        goto fail;
    for (int i = 0; i < x->nb_slots; i++)
        for (uint32_t f = 0; f < x->slots[i].desc->nb_features; f++) {
            x->names[x->slots[i].offset + (int)f] = x->slots[i].desc->features[f].name;
            x->pools[x->slots[i].offset + (int)f] = x->slots[i].desc->features[f].pool;
        }
    x->layout = (avf_feature_layout){.dim = dim, .names = x->names, .pools = x->pools};
    *px = x;
    return 0;
fail:
    avf_extractor_free(&x);
    return AVERROR(ENOMEM);
}

void avf_extractor_free(avf_extractor **px)
{
    avf_extractor *x;

    if (!px || !*px)
        return;
    x = *px;
    for (int i = 0; i < x->nb_slots; i++)
        x->slots[i].desc->destroy(x->slots[i].instance);
    free(x->slots);
    free(x->names);
    free(x->pools);
    free(x->buf);
    free(x);
    *px = NULL;
}

int avf_feature_layout_find(const avf_feature_layout *l, const char *name)
{
    for (int i = 0; l && i < l->dim; i++)
        if (!strcmp(l->names[i], name))
            return i;
    return -1;
}

const avf_feature_layout *avf_extractor_layout(const avf_extractor *x)
{
    return &x->layout;
}

static void slot_failed(plugin_slot *slot, int ret, float *out)
{
    /* the first failure is worth a line; a plugin failing on every frame is not */
    if (slot->errors++ == 0) {
        char err[128];

        avf_log(AVF_LOG_WARN, "extract", "plugin %s failed: %s (further failures not logged)",
                slot->desc->name, av_make_error_string(err, sizeof(err), ret));
    }
    for (uint32_t f = 0; f < slot->desc->nb_features; f++)
        out[f] = NAN;
}

void avf_extract_video(avf_extractor *x, const AVFrame *frame, int64_t t_us, float *row)
{
    avf_plugin_video_frame pf = {
        .struct_size = sizeof(pf),
        .width = frame->width,
        .height = frame->height,
        .t_us = t_us,
        .data = {frame->data[0], frame->data[1], frame->data[2]},
        .linesize = {frame->linesize[0], frame->linesize[1], frame->linesize[2]},
    };

    for (int i = 0; i < x->nb_slots; i++) {
        plugin_slot *slot = &x->slots[i];
        int ret = slot->desc->process_video(slot->instance, &pf, row + slot->offset);

        if (ret < 0)
            slot_failed(slot, ret, row + slot->offset);
    }
}

static int64_t align_up(int64_t pos, int hop)
{
    int64_t q = pos / hop;

    if (pos > 0 && pos % hop)
        q++;
    return q * hop;
}

static int buf_reserve(avf_extractor *x, int len)
{
    float *buf;

    if (len <= x->buf_cap)
        return 0;
    buf = realloc(x->buf, (size_t)len * sizeof(*buf));
    if (!buf)
        return AVERROR(ENOMEM);
    x->buf = buf;
    x->buf_cap = len;
    return 0;
}

int avf_extract_audio(avf_extractor *x, int64_t pos, const float *samples, int n, float **rows,
                      size_t *rows_cap, int *nb_rows, int64_t *first_pos)
{
    int64_t end = pos + n, buf_end;
    int dim = x->layout.dim, count, ret;
    float *out;

    *nb_rows = 0;
    *first_pos = 0;
    if (n <= 0 || dim == 0)
        return 0;
    if (pos < 0) { /* before the origin: not on the timeline */
        if (end <= 0)
            return 0;
        samples += -pos;
        n = (int)end;
        pos = 0;
    }
    buf_end = x->buf_pos + x->buf_len;
    if (x->next_win == INT64_MIN || pos - buf_end > x->window) {
        /* first audio, or a hole longer than a window: restart after it */
        x->next_win = align_up(pos, x->hop);
        x->buf_pos = pos;
        x->buf_len = 0;
        buf_end = pos;
    }
    if (pos < buf_end) { /* never expected: the audio clock keeps order */
        int skip = (int)(buf_end - pos < n ? buf_end - pos : n);

        samples += skip;
        n -= skip;
        pos += skip;
    }
    ret = buf_reserve(x, x->buf_len + (int)(pos - buf_end) + n);
    if (ret < 0)
        return ret;
    memset(x->buf + x->buf_len, 0, (size_t)(pos - buf_end) * sizeof(*x->buf));
    x->buf_len += (int)(pos - buf_end);
    memcpy(x->buf + x->buf_len, samples, (size_t)n * sizeof(*samples));
    x->buf_len += n;
    buf_end = x->buf_pos + x->buf_len;

    count = buf_end - x->next_win >= x->window
                ? (int)((buf_end - x->next_win - x->window) / x->hop) + 1
                : 0;
    if (count > 0) {
        size_t need = (size_t)count * (size_t)dim;

        if (!*rows || need > *rows_cap) {
            out = realloc(*rows, need * sizeof(*out));
            if (!out)
                return AVERROR(ENOMEM);
            *rows = out;
            *rows_cap = need;
        }
        out = *rows;
        *first_pos = x->next_win;
        for (int w = 0; w < count; w++, x->next_win += x->hop) {
            avf_plugin_audio_window win = {
                .struct_size = sizeof(win),
                .nb_samples = x->window,
                .pos = x->next_win,
                .samples = x->buf + (x->next_win - x->buf_pos),
            };
            float *row = out + (size_t)w * (size_t)dim;

            for (int i = 0; i < x->nb_slots; i++) {
                plugin_slot *slot = &x->slots[i];

                ret = slot->desc->process_audio(slot->instance, &win, row + slot->offset);
                if (ret < 0)
                    slot_failed(slot, ret, row + slot->offset);
            }
        }
        *nb_rows = count;
    }
    /* keep only what the next window still needs */
    if (x->next_win > x->buf_pos) {
        int drop = (int)(x->next_win - x->buf_pos);

        if (drop > x->buf_len)
            drop = x->buf_len;
        memmove(x->buf, x->buf + drop, (size_t)(x->buf_len - drop) * sizeof(*x->buf));
        x->buf_len -= drop;
        x->buf_pos += drop;
    }
    return 0;
}
