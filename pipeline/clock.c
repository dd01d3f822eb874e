/*
 * clock.c - timestamp arithmetic for one source timeline.
 *
 * Pure functions over small structs, owned by the thread that decodes a stream.
 * Video timestamps are made strictly increasing because the segmenter assigns each
 * frame to segments by time and a frame that goes back would land in a segment
 * already published. Audio is placed by counting samples, not by trusting each
 * frame's timestamp: timestamps only correct the count when they disagree with it
 * by more than jitter, which keeps segments sample-exact on clean input and still
 * follows real gaps and overlaps on broken input.
 */
#include "pipeline/clock.h"

#include <libavutil/avutil.h>
#include <libavutil/mathematics.h>

void avf_clock_init(avf_stream_clock *c, AVRational time_base, int wrap_bits, int64_t origin_us)
{
    c->time_base = time_base;
    c->wrap_bits = wrap_bits > 0 && wrap_bits < 63 ? wrap_bits : 64;
    c->origin_us = origin_us;
    c->last_raw = AV_NOPTS_VALUE;
    c->wrap_add = 0;
    c->shift_us = 0;
    c->last_us = AV_NOPTS_VALUE;
    c->last_dur_us = 0;
    c->stats = (avf_clock_stats){0};
}

int64_t avf_clock_to_timeline(avf_stream_clock *c, int64_t raw)
{
    int64_t u;

    if (raw == AV_NOPTS_VALUE)
        return AV_NOPTS_VALUE;
    u = raw + c->wrap_add;
    if (c->wrap_bits < 64 && c->last_raw != AV_NOPTS_VALUE) {
        int64_t period = INT64_C(1) << c->wrap_bits;

        if (u < c->last_raw - period / 2) {
            c->wrap_add += period;
            u += period;
            c->stats.wraps++;
        } else if (u > c->last_raw + period / 2 && c->wrap_add >= period) {
            /* a late timestamp from before the wrap (reordered frames) */
            u -= period;
        }
    }
    if (c->last_raw == AV_NOPTS_VALUE || u > c->last_raw)
        c->last_raw = u;
    return av_rescale_q(u, c->time_base, AV_TIME_BASE_Q) - c->origin_us;
}

int64_t avf_clock_video(avf_stream_clock *c, int64_t raw, int64_t dur_us)
{
    int64_t t = avf_clock_to_timeline(c, raw);

    if (dur_us <= 0)
        dur_us = 1;
    if (t == AV_NOPTS_VALUE) {
        c->stats.missing++;
        t = c->last_us == AV_NOPTS_VALUE ? 0 : c->last_us + c->last_dur_us;
    } else {
        t += c->shift_us;
    }
    if (c->last_us != AV_NOPTS_VALUE && (t - (c->last_us + c->last_dur_us) > AVF_CLOCK_JUMP_US ||
                                         c->last_us - t > AVF_CLOCK_DISCONT_US)) {
        /* a timestamp fault: the timeline goes on where it was */
        int64_t want = c->last_us + c->last_dur_us;

        c->shift_us += want - t;
        c->stats.discontinuities++;
        c->stats.last_jump_us = t - want;
        c->stats.last_jump_at_us = want;
        t = want;
    } else if (c->last_us != AV_NOPTS_VALUE && t <= c->last_us) {
        t = c->last_us + 1;
        c->stats.repaired++;
    }
    c->last_us = t;
    c->last_dur_us = dur_us;
    return t;
}

void avf_audio_clock_init(avf_audio_clock *a, int rate)
{
    *a = (avf_audio_clock){.rate = rate, .follow_resets = 1};
}

static int64_t us_to_samples(int64_t t_us, int rate)
{
    return av_rescale_rnd(t_us, rate, AV_TIME_BASE, AV_ROUND_NEAR_INF);
}

int64_t avf_audio_clock_frame(avf_audio_clock *a, int64_t t_us, int64_t pending)
{
    int64_t expected, virtual_pos, diff;
    int64_t tolerance = us_to_samples(AVF_AUDIO_TOLERANCE_US, a->rate);

    if (!a->started) {
        a->started = 1;
        a->write_pos = t_us == AV_NOPTS_VALUE ? 0 : us_to_samples(t_us, a->rate);
        return 0;
    }
    if (t_us == AV_NOPTS_VALUE)
        return 0;
    expected = us_to_samples(t_us, a->rate) + a->shift;
    virtual_pos = a->write_pos + pending - a->discard;
    diff = expected - virtual_pos;
    if (a->follow_resets && (diff < -us_to_samples(AVF_CLOCK_DISCONT_US, a->rate) ||
                             diff > us_to_samples(AVF_CLOCK_JUMP_US, a->rate))) {
        a->shift -= diff;
        a->discontinuities++;
        a->last_jump_us = av_rescale(diff, AV_TIME_BASE, a->rate);
        a->last_jump_at_us = av_rescale(virtual_pos, AV_TIME_BASE, a->rate);
        return 0;
    }
    return diff > tolerance || diff < -tolerance ? diff : 0;
}

void avf_audio_clock_jump(avf_audio_clock *a, int64_t t_us)
{
    int64_t diff;

    if (t_us == AV_NOPTS_VALUE)
        return;
    diff = us_to_samples(t_us, a->rate) + a->shift - (a->write_pos - a->discard);
    if (diff > 0) {
        int64_t cancel = diff < a->discard ? diff : a->discard;

        a->discard -= cancel;
        a->write_pos += diff - cancel;
        if (diff > cancel) {
            a->gaps++;
            a->gap_samples += diff - cancel;
        }
    } else if (diff < 0) {
        a->discard += -diff;
        a->overlaps++;
        a->overlap_samples += -diff;
    }
}

int avf_audio_clock_place(avf_audio_clock *a, int n, int64_t *pos)
{
    int skip = n < a->discard ? n : (int)a->discard;

    a->discard -= skip;
    *pos = a->write_pos;
    a->write_pos += n - skip;
    return skip;
}

void avf_sampler_init(avf_frame_sampler *s, AVRational fps)
{
    s->fps = fps;
    s->next_us = 0;
}

int avf_sampler_take(avf_frame_sampler *s, int64_t t_us)
{
    int64_t idx;

    if (t_us < s->next_us)
        return 0;
    /* grid point i is at i / fps seconds; the next one strictly after t_us */
    idx = av_rescale_rnd(t_us, s->fps.num, (int64_t)AV_TIME_BASE * s->fps.den, AV_ROUND_DOWN) + 1;
    s->next_us = av_rescale_rnd(idx, (int64_t)AV_TIME_BASE * s->fps.den, s->fps.num, AV_ROUND_UP);
    return 1;
}
