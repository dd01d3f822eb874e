/*
 * decode.c - libavcodec decoders that emit timeline items for the segmenter.
 *
 * Video: every decoded frame gets a strictly increasing timeline time from its
 * stream clock; the frames the analysis-rate sampler keeps are scaled in one
 * libswscale step to YUV420P at the analysis size, the others travel as bare
 * progress marks so that the segmenter still learns how far the video has come.
 * When the analysis rate is at most half the stream's, the codec discards
 * non-reference frames (AVDISCARD_NONREF): they cost a decode and nothing reads
 * them but the sampler. Reference frames always decode in full (no skipped loop
 * filter or IDCT), since every later frame is predicted from them. The sampler
 * then takes the next decoded frame, which is one source frame later when
 * non-reference frames stand alone (B-pyramids, IBP). Where they come two or more
 * in a row, that would move analysis frames further, so the decoder switches to
 * discarding per packet only the non-reference frames no grid point needs, judged
 * from the packet's timestamp and duration (libavcodec copies skip_frame to its
 * frame threads per packet). Video decodes on one thread unless one core could not
 * keep up: frame threads add CPU time (hand-over between threads) and memory (a
 * picture in flight per thread), and the pipeline has other stages to fill the
 * second core.
 *
 * Audio: frames go through libswresample to mono float at the analysis rate. The
 * audio clock counts converted samples; a frame timestamp that disagrees with the
 * count beyond jitter (a gap or an overlap) first drains the resampler, so that
 * the samples already inside it keep their place, then moves the count. A change
 * of input format or layout mid-stream drains the old resampler and opens a new
 * one. Codec priming that the container marks (skip samples) is removed by
 * libavcodec itself; padding past the stream's declared end is cut here.
 */
#include "pipeline/decode.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
#include <libavutil/channel_layout.h>
#include <libavutil/cpu.h>
#include <libavutil/mathematics.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>

#include "base/log.h"
#include "base/error.h"
#include "pipeline/items.h"
#include "pipeline/source.h"

/* After this many consecutive decoder errors the stream is treated as ended. */
#define MAX_CONSECUTIVE_ERRORS 100

#define ANALYSIS_PIX_FMT AV_PIX_FMT_YUV420P

/* Above this many pixels a second, one core may not decode in real time. */
#define SINGLE_THREAD_MAX_PIXEL_RATE (1920LL * 1088 * 60)
/* Frame threads of one such stream at most. libavcodec's automatic count is one per
 * core and one more, up to 16, for every stream: on a large machine that, times
 * the sources a daemon runs, would be most of its threads. */
#define DECODER_THREADS_MAX 4

/* Idle items a decoder keeps: more than its queues hold, so a warm pipeline reuses. */
#define POOL_IDLE_ITEMS 256

/* Analysis pictures: rows aligned for libswscale's SIMD stores. */
#define PICTURE_ALIGN 64

/*
 * The latest packet may end at most this many frame durations after the last
 * decoded frame for its end to count as the video's end (non-reference frames
 * skipped at the very end); further is a broken timestamp, not a skipped frame.
 */
#define MAX_SKIPPED_TAIL 4

void avf_item_free(avf_item **pitem)
{
    avf_item *item;

    if (!pitem || !*pitem)
        return;
    item = *pitem;
    *pitem = NULL;
    if (item->pool)
        avf_item_pool_put(item->pool, item);
    else
        avf_item_destroy(item);
}

int avf_item_reserve_samples(avf_item *item, int n)
{
    float *buf;

    if (n <= 0 || (item->samples && (size_t)n <= item->samples_cap))
        return 0;
    buf = realloc(item->samples, (size_t)n * sizeof(*buf));
    if (!buf)
        return AVERROR(ENOMEM);
    item->samples = buf;
    item->samples_cap = (size_t)n;
    return 0;
}

int avf_item_reserve_rows(avf_item *item, int nb_rows, int dim)
{
    size_t n = (size_t)(nb_rows > 0 ? nb_rows : 0) * (size_t)(dim > 0 ? dim : 0);
    float *buf;

    if (n == 0 || (item->rows && n <= item->rows_cap))
        return 0;
    buf = realloc(item->rows, n * sizeof(*buf));
    if (!buf)
        return AVERROR(ENOMEM);
    item->rows = buf;
    item->rows_cap = n;
    return 0;
}

static AVRational stream_rate(const AVStream *st)
{
    return st->avg_frame_rate.num > 0 && st->avg_frame_rate.den > 0 ? st->avg_frame_rate
                                                                    : st->r_frame_rate;
}

/* Frame threads only for a stream one core could not decode in real time. */
static void set_threads(AVCodecContext *ctx, const AVStream *st)
{
    AVRational rate = stream_rate(st);
    double fps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 30.0;
    double pixel_rate = (double)st->codecpar->width * st->codecpar->height * fps;

    if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
        pixel_rate > (double)SINGLE_THREAD_MAX_PIXEL_RATE) {
        ctx->thread_count = FFMAX(2, FFMIN(av_cpu_count(), DECODER_THREADS_MAX));
        ctx->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    } else {
        ctx->thread_count = 1;
    }
}

static int open_codec(AVCodecContext **pctx, const AVStream *st)
{
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    AVCodecContext *ctx;
    int ret;

    if (!codec)
        return AVERROR_DECODER_NOT_FOUND;
    ctx = avcodec_alloc_context3(codec);
    if (!ctx)
        return AVERROR(ENOMEM);
    ret = avcodec_parameters_to_context(ctx, st->codecpar);
    if (ret < 0)
        goto fail;
    /* lets libavcodec shift timestamps when it drops priming samples */
    ctx->pkt_timebase = st->time_base;
    /* the open refused larger pictures (source.c); a size that grows later in the
     * stream (a new SPS) is refused here, frame by frame, by the same bound */
    ctx->max_pixels = AVF_MAX_PIXELS;
    set_threads(ctx, st);
    ret = avcodec_open2(ctx, codec, NULL);
    if (ret < 0)
        goto fail;
    *pctx = ctx;
    return 0;
fail:
    avcodec_free_context(&ctx);
    return ret;
}

/* Returns 0 when the packet was taken or rejected as bad data (counted). */
static int send_packet(AVCodecContext *ctx, const AVPacket *pkt, avf_decoder_stats *stats)
{
    int ret = avcodec_send_packet(ctx, pkt);

    if (pkt)
        stats->packets++;
    if (ret == AVERROR_EOF && !pkt)
        return 0;
    if (ret < 0 && ret != AVERROR(ENOMEM)) {
        stats->decode_errors++;
        return 0;
    }
    return ret;
}

static int64_t frame_duration(const AVFrame *frame)
{
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(57, 30, 100)
    return frame->duration;
#else
    return frame->pkt_duration;
#endif
}

/* ---- video ---- */

struct avf_vdec {
    AVCodecContext *ctx;
    AVFrame *frame; /* decoded frame, reused */
    struct SwsContext *sws;
    /* the source set_full_range() last configured sws for; a new context from
     * sws_getCachedContext() may reuse the old address, so the key is the input */
    int ranged_w, ranged_h, ranged_fmt, ranged_full;
    int expand_range; /* the scaler output is limited range: expand it here */
    avf_item_pool *items;
    AVBufferPool *pictures; /* analysis picture buffers of pic_w x pic_h */
    int pic_w, pic_h;
    avf_video_options opt;
    AVRational time_base;
    avf_stream_clock clock;
    avf_frame_sampler sampler;
    enum avf_frame_skip skip;       /* in force; AVF_SKIP_NONE when nothing is skipped */
    avf_stream_clock packet_clock;  /* packet timestamps, for per-packet skip decisions */
    int64_t packets_end_us;         /* end of the latest packet; INT64_MIN before */
    int64_t last_t_us, last_dur_us; /* the last decoded frame; INT64_MIN before */
    int64_t default_dur_us;
    int64_t limit_us;
    int64_t end_us; /* end of the last frame kept; INT64_MIN before */
    int consecutive_errors;
    int end_sent;
    avf_decoder_stats stats;
};

/* The policy for a stream: skipping pays only well below the stream's rate. */
static enum avf_frame_skip choose_skip(const AVStream *st, const avf_video_options *opt)
{
    AVRational rate = stream_rate(st);

    if (opt->skip == AVF_SKIP_NONE || rate.num <= 0 || rate.den <= 0)
        return AVF_SKIP_NONE;
    /* skip only when at most every other frame is an analysis frame */
    if (av_cmp_q(rate, av_mul_q(opt->fps, (AVRational){2, 1})) < 0)
        return AVF_SKIP_NONE;
    return opt->skip == AVF_SKIP_EXACT ? AVF_SKIP_EXACT : AVF_SKIP_AUTO;
}

int avf_vdec_open(avf_vdec **pdec, const AVStream *st, const avf_video_options *opt,
                  int64_t origin_us, int64_t limit_us)
{
    AVRational rate = stream_rate(st);
    avf_vdec *d;
    int ret;

    if (opt->fps.num <= 0 || opt->fps.den <= 0 || opt->max_width < 2)
        return AVF_ERR_CONFIG;
    d = calloc(1, sizeof(*d));
    if (!d)
        return AVERROR(ENOMEM);
    ret = open_codec(&d->ctx, st);
    if (ret < 0)
        goto fail;
    d->frame = av_frame_alloc();
    d->items = avf_item_pool_new(POOL_IDLE_ITEMS);
    if (!d->frame || !d->items) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    d->opt = *opt;
    d->time_base = st->time_base;
    avf_clock_init(&d->clock, st->time_base, st->pts_wrap_bits, origin_us);
    avf_clock_init(&d->packet_clock, st->time_base, st->pts_wrap_bits, origin_us);
    avf_sampler_init(&d->sampler, opt->fps);
    d->skip = choose_skip(st, opt);
    if (d->skip == AVF_SKIP_AUTO)
        d->ctx->skip_frame = AVDISCARD_NONREF;
    d->stats.frame_skip = d->skip;
    d->default_dur_us = rate.num > 0 && rate.den > 0 ? av_rescale(AV_TIME_BASE, rate.den, rate.num)
                                                     : AV_TIME_BASE / 25;
    d->limit_us = limit_us;
    d->end_us = INT64_MIN;
    d->packets_end_us = INT64_MIN;
    d->last_t_us = INT64_MIN;
    *pdec = d;
    return 0;
fail:
    avf_vdec_free(&d);
    return ret;
}

void avf_vdec_free(avf_vdec **pdec)
{
    avf_vdec *d;

    if (!pdec || !*pdec)
        return;
    d = *pdec;
    sws_freeContext(d->sws);
    /* pictures and items still held downstream keep their pools alive */
    av_buffer_pool_uninit(&d->pictures);
    avf_item_pool_free(&d->items);
    av_frame_free(&d->frame);
    avcodec_free_context(&d->ctx);
    free(d);
    *pdec = NULL;
}

/*
 * Whether the sampler would keep a frame shown from t_us for dur_us had every frame
 * been decoded: it keeps the first frame at or after each grid point i / fps, so
 * one whose interval (t - dur, t] holds a grid point (avf_sampler_take()).
 */
static int grid_wants(const avf_vdec *d, int64_t t_us, int64_t dur_us)
{
    AVRational fps = d->opt.fps;
    int64_t i, g;

    if (t_us < 0)
        return 0;
    i = av_rescale_rnd(t_us, fps.num, (int64_t)AV_TIME_BASE * fps.den, AV_ROUND_DOWN);
    g = av_rescale_rnd(i, (int64_t)AV_TIME_BASE * fps.den, fps.num, AV_ROUND_UP);
    return g > t_us - dur_us;
}

/* Notes where the packet ends and, per packet, whether its frame may be skipped. */
static void plan_packet(avf_vdec *d, const AVPacket *pkt)
{
    int64_t dur = pkt->duration > 0 ? av_rescale_q(pkt->duration, d->time_base, AV_TIME_BASE_Q)
                                    : d->default_dur_us;
    int64_t t = AV_NOPTS_VALUE;

    if (pkt->pts != AV_NOPTS_VALUE) {
        t = avf_clock_to_timeline(&d->packet_clock, pkt->pts) + d->clock.shift_us;
        if (t < d->limit_us) /* else its frame is cut off, decoded or not */
            d->packets_end_us = FFMAX(d->packets_end_us, FFMIN(t + dur, d->limit_us));
    }
    if (d->skip == AVF_SKIP_EXACT)
        d->ctx->skip_frame =
            t == AV_NOPTS_VALUE || grid_wants(d, t, dur) ? AVDISCARD_DEFAULT : AVDISCARD_NONREF;
}

int avf_vdec_send(avf_vdec *d, const AVPacket *pkt)
{
    if (pkt && d->skip != AVF_SKIP_NONE)
        plan_packet(d, pkt);
    return send_packet(d->ctx, pkt, &d->stats);
}

/*
 * Under AVF_SKIP_AUTO, two or more frames missing between decoded ones mean runs
 * of non-reference frames (or a gap in the source): the sampler would move by more
 * than one source frame, so decide per packet from now on.
 */
static void watch_runs(avf_vdec *d, int64_t t_us, int64_t dur_us)
{
    if (d->skip == AVF_SKIP_AUTO && d->last_t_us != INT64_MIN &&
        (t_us - d->last_t_us) * 2 > 5 * d->last_dur_us) {
        avf_log(AVF_LOG_DEBUG, "dec:video",
                "%.0f ms without a decoded frame at %.3f s: skipping only frames no "
                "analysis frame needs from here",
                (t_us - d->last_t_us) / 1e3, t_us / 1e6);
        d->skip = AVF_SKIP_EXACT;
        d->stats.frame_skip = d->skip;
    }
    d->last_t_us = t_us;
    d->last_dur_us = dur_us;
}

/* Where the video ends: its last frame, or a non-reference frame skipped after it. */
static int64_t video_end(const avf_vdec *d)
{
    int64_t end = d->end_us;

    if (end == INT64_MIN)
        return 0;
    if (d->skip != AVF_SKIP_NONE && d->packets_end_us > end &&
        d->packets_end_us - end <= MAX_SKIPPED_TAIL * d->default_dur_us)
        end = d->packets_end_us;
    return end;
}

/* The analysis size: at most max_width wide, display aspect kept, even sides. */
static void analysis_size(const AVFrame *src, int max_width, int *w, int *h)
{
    AVRational sar = src->sample_aspect_ratio;
    int64_t display_w = src->width, out_w, out_h;

    if (sar.num > 0 && sar.den > 0)
        display_w = av_rescale(src->width, sar.num, sar.den);
    if (display_w <= 0)
        display_w = src->width;
    if (display_w > max_width) {
        out_w = max_width;
        out_h = av_rescale(src->height, max_width, display_w);
    } else {
        out_w = display_w;
        out_h = src->height;
    }
    *w = FFMAX(2, (int)out_w & ~1);
    *h = FFMAX(2, (int)out_h & ~1);
}

/*
 * Analysis frames are full range (Y 0 = black, 255 = white) whatever the source
 * range, so that plugins need not know it. From RGB, libswscale writes full range
 * itself. From YUV it does not reliably: when nothing is resized its unscaled
 * copy ignores the range setting (FFmpeg 5.1), so YUV is scaled as it is and a
 * limited-range result is expanded by expand_range(). (Letting the scaler convert
 * the range while it resizes costs more: FFmpeg 5.1's scaler then takes 2.4 times
 * the instructions, against a table lookup per output byte here.) The settings
 * live in the swscale context, so they are redone only when the input changes.
 */
static int set_full_range(avf_vdec *d, const AVFrame *src)
{
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(src->format);
    int src_full = src->color_range == AVCOL_RANGE_JPEG || src->format == AV_PIX_FMT_YUVJ420P ||
                   src->format == AV_PIX_FMT_YUVJ422P || src->format == AV_PIX_FMT_YUVJ444P;
    int src_rgb = desc && (desc->flags & AV_PIX_FMT_FLAG_RGB);
    int dst_full = src_rgb ? 1 : src_full;
    const int *coefs =
        sws_getCoefficients(src->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709 : SWS_CS_DEFAULT);

    if (src->width == d->ranged_w && src->height == d->ranged_h && src->format == d->ranged_fmt &&
        src_full == d->ranged_full)
        return 0;
    if (sws_setColorspaceDetails(d->sws, coefs, src_full, coefs, dst_full, 0, 1 << 16, 1 << 16) < 0)
        return AVERROR(EINVAL);
    d->ranged_w = src->width;
    d->ranged_h = src->height;
    d->ranged_fmt = src->format;
    d->ranged_full = src_full;
    d->expand_range = !dst_full;
    return 0;
}

/* Limited (Y 16..235, C 16..240) to full range; filled once by init_range_tables(). */
static uint8_t range_luma[256], range_chroma[256];
static pthread_once_t range_once = PTHREAD_ONCE_INIT;

static void init_range_tables(void)
{
    for (int v = 0; v < 256; v++) {
        int y = (int)lrint((v - 16) * 255.0 / 219.0);
        int c = (int)lrint((v - 128) * 255.0 / 224.0) + 128;

        range_luma[v] = (uint8_t)av_clip_uint8(y);
        range_chroma[v] = (uint8_t)av_clip_uint8(c);
    }
}

static void expand_range(AVFrame *f)
{
    pthread_once(&range_once, init_range_tables);
    for (int p = 0; p < 3; p++) {
        const uint8_t *lut = p == 0 ? range_luma : range_chroma;
        int w = p == 0 ? f->width : (f->width + 1) / 2;
        int h = p == 0 ? f->height : (f->height + 1) / 2;

        for (int y = 0; y < h; y++) {
            uint8_t *row = f->data[p] + (ptrdiff_t)y * f->linesize[p];

            for (int x = 0; x < w; x++)
                row[x] = lut[row[x]];
        }
    }
}

/*
 * Points dst (unreferenced) at a w x h YUV420P picture from the decoder's pool, so
 * that a warm pipeline recycles the pictures the segments have let go of.
 */
static int get_picture(avf_vdec *d, AVFrame *dst, int w, int h)
{
    int luma = FFALIGN(w, PICTURE_ALIGN), chroma = FFALIGN((w + 1) / 2, PICTURE_ALIGN);
    int ch = (h + 1) / 2;

    if (!d->pictures || w != d->pic_w || h != d->pic_h) {
        size_t size = (size_t)luma * h + 2 * (size_t)chroma * ch + PICTURE_ALIGN;

        av_buffer_pool_uninit(&d->pictures);
        d->pictures = av_buffer_pool_init(size, NULL);
        if (!d->pictures)
            return AVERROR(ENOMEM);
        d->pic_w = w;
        d->pic_h = h;
    }
    dst->buf[0] = av_buffer_pool_get(d->pictures);
    if (!dst->buf[0])
        return AVERROR(ENOMEM);
    dst->format = ANALYSIS_PIX_FMT;
    dst->width = w;
    dst->height = h;
    dst->linesize[0] = luma;
    dst->linesize[1] = dst->linesize[2] = chroma;
    dst->data[0] = dst->buf[0]->data;
    dst->data[1] = dst->data[0] + (size_t)luma * h;
    dst->data[2] = dst->data[1] + (size_t)chroma * ch;
    dst->extended_data = dst->data;
    return 0;
}

/* Scales src into the item's own AVFrame and sets item->frame. */
static int scale_frame(avf_vdec *d, const AVFrame *src, avf_item *item)
{
    AVFrame *dst;
    int w, h, ret;

    analysis_size(src, d->opt.max_width, &w, &h);
    d->sws = sws_getCachedContext(d->sws, src->width, src->height, src->format, w, h,
                                  ANALYSIS_PIX_FMT, SWS_BILINEAR, NULL, NULL, NULL);
    if (!d->sws)
        return AVERROR(EINVAL);
    ret = set_full_range(d, src);
    if (ret < 0)
        return ret;
    if (!item->spare && !(item->spare = av_frame_alloc()))
        return AVERROR(ENOMEM);
    dst = item->spare;
    ret = get_picture(d, dst, w, h);
    if (ret < 0)
        goto fail;
    ret = sws_scale(d->sws, (const uint8_t *const *)src->data, src->linesize, 0, src->height,
                    dst->data, dst->linesize);
    if (ret < 0)
        goto fail;
    if (d->expand_range)
        expand_range(dst);
    dst->sample_aspect_ratio = (AVRational){1, 1};
    dst->color_range = AVCOL_RANGE_JPEG;
    item->frame = dst;
    return 0;
fail:
    av_frame_unref(dst);
    return ret;
}

int avf_vdec_receive(avf_vdec *d, avf_item **pitem)
{
    *pitem = NULL;
    for (;;) {
        int64_t dur_us, t;
        avf_item *item;
        int ret;

        if (d->end_sent)
            return AVF_EOS;
        ret = avcodec_receive_frame(d->ctx, d->frame);
        if (ret == AVERROR(EAGAIN))
            return ret;
        if (ret == AVERROR_EOF || (ret < 0 && d->consecutive_errors >= MAX_CONSECUTIVE_ERRORS)) {
            ret = avf_item_pool_get(d->items, AVF_ITEM_VIDEO_END, &item);
            if (ret < 0)
                return ret;
            item->t_us = video_end(d);
            d->end_sent = 1;
            *pitem = item;
            return 0;
        }
        if (ret < 0) {
            d->stats.decode_errors++;
            d->consecutive_errors++;
            continue;
        }
        d->consecutive_errors = 0;
        d->stats.frames++;
        dur_us = frame_duration(d->frame) > 0
                     ? av_rescale_q(frame_duration(d->frame), d->time_base, AV_TIME_BASE_Q)
                     : d->default_dur_us;
        t = avf_clock_video(&d->clock, d->frame->best_effort_timestamp, dur_us);
        d->stats.clock = d->clock.stats;
        watch_runs(d, t, dur_us);
        if (t >= d->limit_us) {
            d->stats.beyond_end++;
            av_frame_unref(d->frame);
            continue;
        }
        d->end_us = FFMIN(t + dur_us, d->limit_us);
        ret = avf_item_pool_get(d->items, AVF_ITEM_VIDEO, &item);
        if (ret < 0)
            goto frame_done;
        item->t_us = t;
        item->end_us = frame_duration(d->frame) > 0 ? d->end_us : t;
        if (avf_sampler_take(&d->sampler, t)) {
            ret = scale_frame(d, d->frame, item);
            if (ret < 0)
                avf_item_free(&item);
        }
    frame_done:
        av_frame_unref(d->frame);
        if (ret < 0)
            return ret;
        *pitem = item;
        return 0;
    }
}

const avf_decoder_stats *avf_vdec_stats(const avf_vdec *d)
{
    return &d->stats;
}

/* ---- audio ---- */

struct avf_adec {
    AVCodecContext *ctx;
    AVFrame *frame; /* decoded frame, reused */
    avf_item_pool *items;
    SwrContext *swr;
    AVChannelLayout in_layout; /* what swr was opened for */
    int in_format, in_rate;
    int rate;
    avf_stream_clock clock;
    avf_audio_clock place;
    int64_t limit_pos; /* declared end as a sample index; INT64_MAX when unknown */
    float *buf;        /* resampler output */
    int buf_cap;
    avf_item *pending; /* a second item produced with the previous one */
    int consecutive_errors;
    int codec_eof, drained, end_sent;
    avf_decoder_stats stats;
};

int avf_adec_open(avf_adec **pdec, const AVStream *st, int rate, int64_t origin_us,
                  int64_t limit_us)
{
    avf_adec *d;
    int ret;

    if (rate <= 0)
        return AVF_ERR_CONFIG;
    d = calloc(1, sizeof(*d));
    if (!d)
        return AVERROR(ENOMEM);
    ret = open_codec(&d->ctx, st);
    if (ret < 0)
        goto fail;
    d->frame = av_frame_alloc();
    d->items = avf_item_pool_new(POOL_IDLE_ITEMS);
    if (!d->frame || !d->items) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    d->rate = rate;
    avf_clock_init(&d->clock, st->time_base, st->pts_wrap_bits, origin_us);
    avf_audio_clock_init(&d->place, rate);
    d->limit_pos = limit_us == INT64_MAX
                       ? INT64_MAX
                       : av_rescale_rnd(limit_us, rate, AV_TIME_BASE, AV_ROUND_NEAR_INF);
    *pdec = d;
    return 0;
fail:
    avf_adec_free(&d);
    return ret;
}

void avf_adec_free(avf_adec **pdec)
{
    avf_adec *d;

    if (!pdec || !*pdec)
        return;
    d = *pdec;
    avf_item_free(&d->pending);
    avf_item_pool_free(&d->items);
    free(d->buf);
    swr_free(&d->swr);
    av_channel_layout_uninit(&d->in_layout);
    av_frame_free(&d->frame);
    avcodec_free_context(&d->ctx);
    free(d);
    *pdec = NULL;
}

int avf_adec_send(avf_adec *d, const AVPacket *pkt)
{
    return send_packet(d->ctx, pkt, &d->stats);
}

/*
 * Runs in_n input samples (NULL: drain) through the resampler and places the
 * output. *pitem receives the kept samples, or NULL when none are left.
 */
static int convert(avf_adec *d, const uint8_t **in, int in_n, avf_item **pitem)
{
    int max_out, n, skip, kept, ret;
    int64_t pos;
    avf_item *item;

    *pitem = NULL;
    if (!d->swr)
        return 0;
    max_out = swr_get_out_samples(d->swr, in_n);
    if (max_out < 0)
        return max_out;
    if (max_out > d->buf_cap) {
        float *buf = realloc(d->buf, (size_t)max_out * sizeof(*buf));

        if (!buf)
            return AVERROR(ENOMEM);
        d->buf = buf;
        d->buf_cap = max_out;
    }
    n = swr_convert(d->swr, (uint8_t **)&d->buf, max_out, in, in_n);
    if (n < 0)
        return n;
    skip = avf_audio_clock_place(&d->place, n, &pos);
    kept = n - skip;
    if (kept > 0 && pos + kept > d->limit_pos) {
        int64_t cut = pos + kept - FFMAX(d->limit_pos, pos);

        d->stats.beyond_end += (uint64_t)cut;
        kept -= (int)cut;
    }
    if (kept <= 0)
        return 0;
    ret = avf_item_pool_get(d->items, AVF_ITEM_AUDIO, &item);
    if (ret < 0)
        return ret;
    ret = avf_item_reserve_samples(item, kept);
    if (ret < 0) {
        avf_item_free(&item);
        return ret;
    }
    memcpy(item->samples, d->buf + skip, (size_t)kept * sizeof(*item->samples));
    item->pos = pos;
    item->nb_samples = kept;
    *pitem = item;
    return 0;
}

static int open_resampler(avf_adec *d, const AVFrame *frame)
{
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    int ret;

    av_channel_layout_uninit(&d->in_layout);
    if (frame->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || frame->ch_layout.nb_channels <= 0) {
        if (frame->ch_layout.nb_channels <= 0)
            return AVERROR_INVALIDDATA;
        av_channel_layout_default(&d->in_layout, frame->ch_layout.nb_channels);
    } else {
        ret = av_channel_layout_copy(&d->in_layout, &frame->ch_layout);
        if (ret < 0)
            return ret;
    }
    swr_free(&d->swr);
    ret = swr_alloc_set_opts2(&d->swr, &mono, AV_SAMPLE_FMT_FLT, d->rate, &d->in_layout,
                              frame->format, frame->sample_rate, 0, NULL);
    if (ret < 0)
        return ret;
    /* a downmix averages the channels instead of summing them into clipping */
    av_opt_set_double(d->swr, "rematrix_maxval", 1.0, 0);
    ret = swr_init(d->swr);
    if (ret < 0) {
        swr_free(&d->swr);
        return ret;
    }
    d->in_format = frame->format;
    d->in_rate = frame->sample_rate;
    return 0;
}

static int input_changed(const avf_adec *d, const AVFrame *frame)
{
    if (!d->swr || frame->format != d->in_format || frame->sample_rate != d->in_rate)
        return 1;
    if (frame->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
        return frame->ch_layout.nb_channels != d->in_layout.nb_channels;
    return av_channel_layout_compare(&frame->ch_layout, &d->in_layout) != 0;
}

/* Converts the decoded frame in d->frame; may produce up to two items. */
static int audio_frame(avf_adec *d, avf_item **first, avf_item **second)
{
    AVFrame *frame = d->frame;
    int64_t t_us = avf_clock_to_timeline(&d->clock, frame->best_effort_timestamp);
    int64_t diff;
    int ret;

    *first = *second = NULL;
    if (frame->sample_rate <= 0 || frame->nb_samples <= 0)
        return 0;
    if (input_changed(d, frame)) {
        ret = convert(d, NULL, 0, first);
        if (ret < 0)
            return ret;
        ret = open_resampler(d, frame);
        if (ret < 0)
            return ret;
    }
    diff = avf_audio_clock_frame(&d->place, t_us, swr_get_delay(d->swr, d->rate));
    if (diff != 0) {
        if (!*first) {
            ret = convert(d, NULL, 0, first);
            if (ret < 0)
                return ret;
            ret = swr_init(d->swr);
            if (ret < 0)
                return ret;
        }
        avf_audio_clock_jump(&d->place, t_us);
    }
    d->stats.clock = d->clock.stats;
    /* audio discontinuities are the placement's, not the stream clock's */
    d->stats.clock.discontinuities = d->place.discontinuities;
    d->stats.clock.last_jump_us = d->place.last_jump_us;
    d->stats.clock.last_jump_at_us = d->place.last_jump_at_us;
    d->stats.audio_gaps = d->place.gaps;
    d->stats.audio_overlaps = d->place.overlaps;
    ret = convert(d, (const uint8_t **)frame->extended_data, frame->nb_samples, second);
    if (ret < 0)
        return ret;
    if (!*first) {
        *first = *second;
        *second = NULL;
    }
    return 0;
}

int avf_adec_receive(avf_adec *d, avf_item **pitem)
{
    *pitem = NULL;
    for (;;) {
        avf_item *first, *second;
        int ret;

        if (d->pending) {
            *pitem = d->pending;
            d->pending = NULL;
            return 0;
        }
        if (d->end_sent)
            return AVF_EOS;
        if (d->codec_eof) {
            if (!d->drained) {
                d->drained = 1;
                ret = convert(d, NULL, 0, pitem);
                if (ret < 0 || *pitem)
                    return ret;
            }
            ret = avf_item_pool_get(d->items, AVF_ITEM_AUDIO_END, pitem);
            if (ret < 0)
                return ret;
            (*pitem)->pos = FFMIN(d->place.write_pos, d->limit_pos);
            d->end_sent = 1;
            return 0;
        }
        ret = avcodec_receive_frame(d->ctx, d->frame);
        if (ret == AVERROR(EAGAIN))
            return ret;
        if (ret == AVERROR_EOF || (ret < 0 && d->consecutive_errors >= MAX_CONSECUTIVE_ERRORS)) {
            d->codec_eof = 1;
            continue;
        }
        if (ret < 0) {
            d->stats.decode_errors++;
            d->consecutive_errors++;
            continue;
        }
        d->consecutive_errors = 0;
        d->stats.frames++;
        ret = audio_frame(d, &first, &second);
        av_frame_unref(d->frame);
        if (ret < 0) {
            avf_item_free(&first);
            avf_item_free(&second);
            return ret;
        }
        d->pending = second;
        if (first) {
            *pitem = first;
            return 0;
        }
    }
}

const avf_decoder_stats *avf_adec_stats(const avf_adec *d)
{
    return &d->stats;
}
