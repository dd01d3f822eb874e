/*
 * scheduler.c - threads and queues of one source's pipeline.
 *
 * Up to eight threads: demux (or a microphone's capture), video and audio decode,
 * video and audio extract, segment, fusion. The consumer (the daemon's runner, the
 * analyze and report commands, the training manifest) pulls finished results:
 * fused segments with their tag events. Queue sizes
 * are small because every stage is fast compared with decoding: they smooth
 * bursts, they do not buffer time. The segmenter itself holds the segments still
 * open, so a decoder that runs ahead of the other never blocks on it. Two things
 * are told here because only the scheduler sees both ends: a timestamp jump that a
 * decoder's clock absorbed (a warning, a counter), and an input read to its end
 * well before its declared end (its last segment says so).
 */
#include "engine/scheduler.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <libavutil/avutil.h>
#include <libavutil/time.h>

#include "base/log.h"
#include "base/redact.h"
#include "base/error.h"
#include "fusion/fusion.h"
#include "pipeline/extract.h"
#include "pipeline/mic.h"
#include "pipeline/queue.h"

#define PACKET_QUEUE_SIZE 64
#define ITEM_QUEUE_SIZE   64
#define OUT_QUEUE_SIZE    8
#define MIC_READ_MS       100 /* one microphone read: its samples, and its stop check */

typedef struct decoder_thread {
    avf_sched *s;
    const char *name;
    enum avf_item_type end_type;
    avf_queue *in;  /* packets */
    avf_queue *out; /* items: to the extract thread, or to the segment thread */
    int (*send)(void *dec, const AVPacket *pkt);
    int (*receive)(void *dec, avf_item **item);
    const avf_decoder_stats *(*stats)(const void *dec);
    void *dec;
    uint64_t discontinuities; /* this thread only: those already told */
} decoder_thread;

typedef struct extract_thread {
    avf_sched *s;
    const char *name;
    enum avf_item_type end_type;
    avf_queue *in; /* items from the decoder */
    avf_extractor *x;
} extract_thread;

struct avf_sched {
    avf_pipeline_config cfg;         /* immutable */
    char input_shown[AVF_URL_SHOWN]; /* immutable: the input for the plugins' log lines */
    avf_source *src;                 /* demux thread only while running; NULL: a microphone alone */
    avf_mic *mic;                    /* capture thread only while running; NULL: none */
    atomic_llong mic_origin;         /* CLOCK_MONOTONIC of timeline 0 for the microphone */
    avf_vdec *vdec;                  /* video thread only while running */
    avf_adec *adec;                  /* audio thread only while running */
    avf_segmenter *segmenter;        /* segment thread only while running */
    avf_extractor *vx, *ax;          /* extract threads only while running; NULL: no features */
    avf_fusion *fusion;              /* fusion thread only while running */
    avf_queue *video_packets, *audio_packets, *video_items, *audio_items, *items;
    avf_queue *segments; /* segment thread -> fusion thread: avf_segment */
    avf_queue *out;      /* fusion thread -> consumer: avf_result */
    decoder_thread video_thread, audio_thread;
    extract_thread video_extract, audio_extract;
    pthread_t threads[8];
    int nb_threads; /* main thread only */
    int joined;     /* main thread only */
    pthread_mutex_t lock;
    int error;                     /* first stage error; protected by lock */
    int read_error;                /* demux thread only until joined */
    int mic_error;                 /* capture thread only until joined */
    uint64_t nb_segments;          /* fusion thread only until joined */
    atomic_ullong discontinuities; /* both decoder threads add to it */
    atomic_int input_at_end;       /* the demux thread read to the input's end */
    int64_t ended_early_us;        /* segment thread only until joined; INT64_MIN: no */
};

/* Content that ends more than this before the input's declared end was cut short. */
#define ENDED_EARLY_SLACK_US AV_TIME_BASE

/* Discontinuities a decoder thread logs; more are counted, not logged. */
#define MAX_LOGGED_DISCONTINUITIES 10

static void free_packet(void *p)
{
    AVPacket *pkt = p;

    av_packet_free(&pkt);
}

static void free_item(void *p)
{
    avf_item *item = p;

    avf_item_free(&item);
}

static void free_segment(void *p)
{
    avf_segment *seg = p;

    avf_segment_free(&seg);
}

void avf_result_free(avf_result **pres)
{
    if (!pres || !*pres)
        return;
    avf_segment_free(&(*pres)->seg);
    avf_fusion_out_clear(&(*pres)->out);
    free(*pres);
    *pres = NULL;
}

static void free_result(void *p)
{
    avf_result *res = p;

    avf_result_free(&res);
}

void avf_pipeline_config_default(avf_pipeline_config *cfg)
{
    *cfg = (avf_pipeline_config){
        .hop_s = 1.0,
        .len_s = 1.0,
        .fps = {10, 1},
        .max_width = 320,
        .rate = 16000,
        .min_partial_s = 0.05,
        .io_timeout_us = 10 * AV_TIME_BASE,
    };
}

int avf_pipeline_config_check(const avf_pipeline_config *cfg, char *why, size_t why_size)
{
    const char *reason = NULL;

    if (!(cfg->hop_s * cfg->rate >= 1.0) || cfg->hop_s > 3600)
        reason = "hop must be at least one sample and at most 3600 s";
    else if (!(cfg->len_s >= cfg->hop_s) || cfg->len_s > 3600)
        reason = "len must be at least hop and at most 3600 s";
    else if (cfg->fps.num <= 0 || cfg->fps.den <= 0 || av_q2d(cfg->fps) > 1000)
        reason = "fps must be above 0 and at most 1000";
    else if (cfg->max_width < 16 || cfg->max_width > 8192)
        reason = "width must be between 16 and 8192";
    else if (cfg->rate < 8000 || cfg->rate > 192000)
        reason = "rate must be between 8000 and 192000 Hz";
    else if (!(cfg->min_partial_s >= 0) || cfg->min_partial_s >= cfg->len_s)
        reason = "min-partial must be at least 0 and less than len";
    if (!reason)
        return 0;
    snprintf(why, why_size, "%s", reason);
    return AVF_ERR_CONFIG;
}

static void set_error(avf_sched *s, const char *stage, int err)
{
    char buf[128];

    avf_log(AVF_LOG_DEBUG, stage, "stopped: %s", avf_strerror(err, buf, sizeof(buf)));
    pthread_mutex_lock(&s->lock);
    if (!s->error)
        s->error = err;
    pthread_mutex_unlock(&s->lock);
}

static void *demux_main(void *arg)
{
    avf_sched *s = arg;
    const avf_source_info *info = avf_source_get_info(s->src);
    int video_open = s->video_packets != NULL, audio_open = s->audio_packets != NULL;
    AVPacket *pkt = NULL;

    while (video_open || audio_open) {
        int is_video, ret;

        pkt = av_packet_alloc();
        if (!pkt) {
            set_error(s, "demux", AVERROR(ENOMEM));
            break;
        }
        ret = avf_source_read(s->src, pkt);
        if (ret == AVF_EOS) {
            atomic_store(&s->input_at_end, avf_source_at_end(s->src));
            break;
        }
        if (ret < 0) {
            /* a damaged or vanished input: keep what was read, report the rest */
            s->read_error = ret;
            if (s->cfg.why && s->cfg.why_size > 0 && avf_source_why(s->src)[0])
                snprintf(s->cfg.why, s->cfg.why_size, "%s", avf_source_why(s->src));
            break;
        }
        is_video = info->video && pkt->stream_index == info->video->index;
        if (is_video ? !video_open : !audio_open) {
            av_packet_free(&pkt);
            continue;
        }
        if (avf_queue_send(is_video ? s->video_packets : s->audio_packets, pkt) == AVF_EOS) {
            if (is_video)
                video_open = 0;
            else
                audio_open = 0;
            av_packet_free(&pkt);
        }
        pkt = NULL;
    }
    av_packet_free(&pkt);
    if (s->video_packets)
        avf_queue_finish_send(s->video_packets);
    if (s->audio_packets)
        avf_queue_finish_send(s->audio_packets);
    return NULL;
}

/* Tells the stages downstream that a modality ended where it got to. */
static void send_end(avf_queue *q, enum avf_item_type type)
{
    avf_item *end = calloc(1, sizeof(*end));

    if (!end)
        return;
    end->type = type;
    end->t_us = end->pos = INT64_MIN;
    if (avf_queue_send(q, end) == AVF_EOS)
        avf_item_free(&end);
}

/* Counts the timestamp jumps the decoder absorbed since the last call and warns of
 * them: each one is damage, or recordings joined, that the user should hear of. */
static void note_discontinuities(decoder_thread *t)
{
    const avf_decoder_stats *st = t->stats(t->dec);
    uint64_t n = st->clock.discontinuities;
    const char *label = t->s->cfg.label ? t->s->cfg.label : "input";

    if (n == t->discontinuities)
        return;
    atomic_fetch_add(&t->s->discontinuities, n - t->discontinuities);
    if (t->discontinuities < MAX_LOGGED_DISCONTINUITIES) {
        int64_t jump = st->clock.last_jump_us;

        avf_log(AVF_LOG_WARN, label,
                "%s timestamps jumped %.1f s %s at %.3f s: a discontinuity, the timeline goes "
                "on from there%s",
                t->end_type == AVF_ITEM_VIDEO_END ? "video" : "audio",
                (jump < 0 ? -jump : jump) / 1e6, jump < 0 ? "back" : "ahead",
                st->clock.last_jump_at_us / 1e6,
                n >= MAX_LOGGED_DISCONTINUITIES ? " (further ones are counted, not logged)" : "");
    }
    t->discontinuities = n;
}

static void *decoder_main(void *arg)
{
    decoder_thread *t = arg;
    avf_sched *s = t->s;
    int end_sent = 0, flushing = 0, ret = 0;

    while (!end_sent) {
        AVPacket *pkt = NULL;

        if (!flushing && avf_queue_receive(t->in, (void **)&pkt) == AVF_EOS)
            flushing = 1;
        ret = t->send(t->dec, pkt);
        av_packet_free(&pkt);
        if (ret < 0)
            break;
        for (;;) {
            avf_item *item = NULL;

            ret = t->receive(t->dec, &item);
            if (ret == AVERROR(EAGAIN) && !flushing)
                break;
            if (ret == AVF_EOS || ret == AVERROR(EAGAIN))
                goto done;
            if (ret < 0)
                goto done;
            note_discontinuities(t);
            if (item->type == t->end_type)
                end_sent = 1;
            if (avf_queue_send(t->out, item) == AVF_EOS) {
                avf_item_free(&item);
                goto done;
            }
        }
    }
done:
    if (ret < 0 && ret != AVF_EOS && ret != AVERROR(EAGAIN))
        set_error(s, t->name, ret);
    if (!end_sent)
        send_end(t->out, t->end_type);
    avf_queue_finish_recv(t->in);
    avf_queue_finish_send(t->out);
    return NULL;
}

static int extract_item(avf_extractor *x, avf_item *item)
{
    const avf_feature_layout *layout = avf_extractor_layout(x);

    if (item->type == AVF_ITEM_VIDEO && item->frame && layout->dim > 0) {
        int ret = avf_item_reserve_rows(item, 1, layout->dim);

        if (ret < 0)
            return ret;
        avf_extract_video(x, item->frame, item->t_us, item->rows);
        item->nb_rows = 1;
    } else if (item->type == AVF_ITEM_AUDIO) {
        return avf_extract_audio(x, item->pos, item->samples, item->nb_samples, &item->rows,
                                 &item->rows_cap, &item->nb_rows, &item->rows_pos);
    }
    return 0;
}

static void *extract_main(void *arg)
{
    extract_thread *t = arg;
    avf_sched *s = t->s;
    int end_sent = 0, ret = 0;
    avf_item *item = NULL;

    while (avf_queue_receive(t->in, (void **)&item) == 0) {
        ret = extract_item(t->x, item);
        if (ret < 0)
            break;
        if (item->type == t->end_type)
            end_sent = 1;
        if (avf_queue_send(s->items, item) == AVF_EOS)
            break;
        item = NULL;
    }
    avf_item_free(&item);
    if (ret < 0)
        set_error(s, t->name, ret);
    if (!end_sent)
        send_end(s->items, t->end_type);
    avf_queue_finish_recv(t->in);
    avf_queue_finish_send(s->items);
    return NULL;
}

/* Where the microphone's timeline starts on CLOCK_MONOTONIC; 0 when known. */
static int mic_origin(avf_sched *s, int64_t first_capture, int64_t *origin)
{
    if (!s->src) {
        /* alone: the first sample is timeline 0 */
        if (atomic_load(&s->mic_origin) == INT64_MIN)
            atomic_store(&s->mic_origin, first_capture);
        *origin = atomic_load(&s->mic_origin);
        return 0;
    }
    /* with a camera: the camera's timeline, once its first packet has come */
    return avf_source_clock_offset(s->src, origin);
}

/*
 * The microphone's thread: reads its capture, places the samples on the timeline
 * by their CLOCK_MONOTONIC capture times and hands them on as audio items. The
 * placement is the decoders' (clock.h): samples follow each other contiguously
 * while the capture times agree with the sample count within 20 ms; beyond that
 * (the sound card's clock drifted from the system's, or samples were lost) the
 * position jumps to where the capture time says, leaving a hole or dropping the
 * overlap. That is the drift correction.
 */
static void *capture_main(void *arg)
{
    avf_sched *s = arg;
    avf_queue *out = s->ax ? s->audio_items : s->items;
    int max = s->cfg.rate * MIC_READ_MS / 1000;
    float *buf = malloc((size_t)max * sizeof(*buf));
    int64_t silent_since = av_gettime_relative();
    avf_audio_clock place;
    int ret = buf ? 0 : AVERROR(ENOMEM);

    avf_audio_clock_init(&place, s->cfg.rate);
    place.follow_resets = 0; /* capture times: a late backlog is dropped */
    while (ret == 0) {
        avf_item *item;
        int64_t t_mono, origin, pos;
        int n, skip;

        if (s->cfg.stop && atomic_load(s->cfg.stop))
            break;
        n = avf_mic_read(s->mic, buf, max, MIC_READ_MS * 1000, &t_mono);
        if (n == AVF_EOS)
            break;
        if (n == AVERROR(ETIMEDOUT)) {
            if (av_gettime_relative() - silent_since > s->cfg.io_timeout_us)
                ret = n;
            continue;
        }
        if (n < 0) {
            ret = n;
            break;
        }
        silent_since = av_gettime_relative();
        if (mic_origin(s, t_mono, &origin) < 0)
            continue; /* before the camera's first packet: no timeline yet */
        if (avf_audio_clock_frame(&place, t_mono - origin, 0))
            avf_audio_clock_jump(&place, t_mono - origin);
        skip = avf_audio_clock_place(&place, n, &pos);
        if (pos < 0) {
            /* captured before timeline 0 (the camera's first frame) */
            skip += (int)FFMIN(-pos, n - skip);
            pos = 0;
        }
        if (skip >= n)
            continue;
        item = calloc(1, sizeof(*item));
        if (!item || !(item->samples = malloc((size_t)(n - skip) * sizeof(float)))) {
            avf_item_free(&item);
            ret = AVERROR(ENOMEM);
            break;
        }
        item->type = AVF_ITEM_AUDIO;
        item->pos = pos;
        item->t_us = av_rescale(pos, AV_TIME_BASE, s->cfg.rate);
        item->nb_samples = n - skip;
        memcpy(item->samples, buf + skip, (size_t)(n - skip) * sizeof(float));
        if (avf_queue_send(out, item) == AVF_EOS) {
            avf_item_free(&item);
            break;
        }
    }
    free(buf);
    if (ret < 0)
        s->mic_error = ret; /* the microphone failed or went silent: an input error */
    send_end(out, AVF_ITEM_AUDIO_END);
    avf_queue_finish_send(out);
    return NULL;
}

static int segment_item(avf_segmenter *seg, const avf_item *item, int hop)
{
    int ret;

    switch (item->type) {
    case AVF_ITEM_VIDEO:
        return avf_segmenter_video(seg, item->t_us, item->end_us, item->frame, item->rows);
    case AVF_ITEM_VIDEO_END:
        avf_segmenter_video_end(seg, item->t_us);
        return 0;
    case AVF_ITEM_AUDIO:
        ret = avf_segmenter_audio(seg, item->pos, item->samples, item->nb_samples);
        if (ret < 0 || !item->nb_rows)
            return ret;
        return avf_segmenter_audio_rows(seg, item->rows_pos, hop, item->rows, item->nb_rows);
    case AVF_ITEM_AUDIO_END:
        avf_segmenter_audio_end(seg, item->pos);
        return 0;
    }
    return AVERROR_BUG;
}

/*
 * The last segment of an input that ended (not stopped, not broken off) well before
 * its declared end: partial, with the reason, and a warning. The segment thread,
 * once every modality ended, when no segment follows this one.
 */
static void check_ended_early(avf_sched *s, avf_segment *last)
{
    const avf_source_info *info = s->src ? avf_source_get_info(s->src) : NULL;

    if (!info || info->declared_end_us == INT64_MAX || !atomic_load(&s->input_at_end) ||
        info->declared_end_us - last->t1_us <= ENDED_EARLY_SLACK_US)
        return;
    last->partial = 1;
    last->partial_reason = "input ended early";
    s->ended_early_us = last->t1_us;
    avf_log(AVF_LOG_WARN, s->cfg.label,
            "the input ended early, at %.3f s of %.3f s: the file is cut short or damaged",
            last->t1_us / 1e6, info->declared_end_us / 1e6);
}

/* 1 when the segments still to come may be the last of an input that ended early:
 * it has a declared end and the demux thread has read to the end. From then on the
 * rest is decoded from what the queues hold: holding a segment back until the next
 * one shows it was not the last costs little. The segment thread. */
static int may_end_early(avf_sched *s)
{
    const avf_source_info *info = s->src ? avf_source_get_info(s->src) : NULL;

    return info && info->declared_end_us != INT64_MAX && atomic_load(&s->input_at_end);
}

/* Hands seg to the fusion stage; takes ownership of seg. */
static int deliver(avf_sched *s, avf_segment *seg)
{
    if (avf_queue_send(s->segments, seg) == AVF_EOS) {
        avf_segment_free(&seg);
        return AVF_EOS;
    }
    return 0;
}

static void *segment_main(void *arg)
{
    avf_sched *s = arg;
    avf_segment *held = NULL; /* near the input's end: the latest, maybe the last */
    int ret = 0;

    for (;;) {
        avf_item *item = NULL;
        avf_segment *seg = NULL;
        int input_done = avf_queue_receive(s->items, (void **)&item) == AVF_EOS;

        if (input_done) {
            /* both decoders are gone: whatever did not end, ended here */
            avf_segmenter_video_end(s->segmenter, INT64_MIN);
            avf_segmenter_audio_end(s->segmenter, INT64_MIN);
        } else {
            ret = segment_item(s->segmenter, item, s->cfg.rate * AVF_WINDOW_HOP_MS / 1000);
            avf_item_free(&item);
            if (ret < 0)
                break;
        }
        /* once the input is read to its end the segments left come quickly: the
         * latest waits for the next pop to tell whether it is the last */
        while ((ret = avf_segmenter_pop(s->segmenter, &seg)) == 1) {
            if (held) {
                ret = deliver(s, held);
                held = NULL;
                if (ret < 0) {
                    avf_segment_free(&seg);
                    goto done;
                }
            }
            if (avf_segmenter_ended(s->segmenter) || may_end_early(s)) {
                held = seg;
                continue;
            }
            ret = deliver(s, seg);
            if (ret < 0)
                goto done;
        }
        if (held && (ret == AVF_EOS || (ret == 0 && input_done))) {
            int sent;

            if (ret == AVF_EOS)
                check_ended_early(s, held);
            sent = deliver(s, held);
            held = NULL;
            if (sent < 0)
                ret = sent;
        }
        if (ret < 0 || input_done)
            break;
    }
done:
    avf_segment_free(&held);
    if (ret < 0 && ret != AVF_EOS)
        set_error(s, "segment", ret);
    avf_queue_finish_recv(s->items);
    avf_queue_finish_send(s->segments);
    return NULL;
}

/* Sends res to the consumer; takes ownership of res. */
static int send_result(avf_sched *s, avf_result *res)
{
    if (avf_queue_send(s->out, res) == AVF_EOS) {
        avf_result_free(&res);
        return AVF_EOS;
    }
    return 0;
}

/*
 * The fusion thread: completes each segment and decides its events. When the
 * segments end, however they end (the input's end, a stage's failure, a stop),
 * the tags still active end too, in a last result; only a consumer that has gone
 * gets none.
 */
static void *fusion_main(void *arg)
{
    avf_sched *s = arg;
    avf_segment *seg = NULL;
    avf_result *res = NULL;
    int ret = 0;

    while (avf_queue_receive(s->segments, (void **)&seg) == 0) {
        res = calloc(1, sizeof(*res));
        if (!res) {
            avf_segment_free(&seg);
            ret = AVERROR(ENOMEM);
            break;
        }
        res->seg = seg;
        ret = avf_fusion_segment(s->fusion, seg, &res->out, res->events);
        if (ret < 0) {
            avf_result_free(&res);
            break;
        }
        res->nb_events = ret;
        ret = send_result(s, res);
        if (ret < 0)
            break;
        s->nb_segments++;
    }
    if (ret != AVF_EOS) {
        res = calloc(1, sizeof(*res));
        if (res && (res->nb_events = avf_fusion_finish(s->fusion, res->events)) > 0)
            send_result(s, res);
        else
            avf_result_free(&res);
    }
    if (ret < 0 && ret != AVF_EOS)
        set_error(s, "fusion", ret);
    avf_queue_finish_recv(s->segments);
    avf_queue_finish_send(s->out);
    return NULL;
}

static int vdec_send(void *dec, const AVPacket *pkt)
{
    return avf_vdec_send(dec, pkt);
}

static int vdec_receive(void *dec, avf_item **item)
{
    return avf_vdec_receive(dec, item);
}

static const avf_decoder_stats *vdec_stats(const void *dec)
{
    return avf_vdec_stats(dec);
}

static const avf_decoder_stats *adec_stats(const void *dec)
{
    return avf_adec_stats(dec);
}

static int adec_send(void *dec, const AVPacket *pkt)
{
    return avf_adec_send(dec, pkt);
}

static int adec_receive(void *dec, avf_item **item)
{
    return avf_adec_receive(dec, item);
}

/* Opens the input (url) and the microphone, as cfg asks; *video and *audio are the
 * streams to decode (the microphone replaces the input's audio). */
static int open_inputs(avf_sched *s, const char *url, const avf_pipeline_config *cfg,
                       const AVStream **video, const AVStream **audio)
{
    avf_source_options src_opt = {
        .io_timeout_us = cfg->io_timeout_us,
        .kind = cfg->kind,
        .format = cfg->format,
        .stop = cfg->stop,
        .realtime = cfg->realtime,
        .pb = cfg->pb,
        .rtsp_transport = cfg->rtsp_transport,
        .why = cfg->why,
        .why_size = cfg->why_size,
    };
    char why[256];
    int ret;

    if (url) {
        const avf_source_info *info;

        ret = avf_source_open(&s->src, url, &src_opt);
        if (ret < 0)
            return ret;
        info = avf_source_get_info(s->src);
        *video = info->video;
        *audio = cfg->microphone ? NULL : info->audio;
    } else if (!cfg->microphone) {
        return AVERROR(EINVAL);
    }
    if (cfg->microphone) {
        ret = avf_mic_open(&s->mic, cfg->microphone, cfg->rate, why, sizeof(why));
        if (ret < 0) {
            avf_log(AVF_LOG_DEBUG, "mic", "%s", why);
            if (cfg->why)
                snprintf(cfg->why, cfg->why_size, "%s", why);
            return ret;
        }
    }
    return 0;
}

/* The decoders of the streams there are, and their packet queues. */
static int open_decoders(avf_sched *s, const AVStream *video, const AVStream *audio,
                         enum avf_queue_policy policy)
{
    const avf_pipeline_config *cfg = &s->cfg;
    const avf_source_info *info = s->src ? avf_source_get_info(s->src) : NULL;
    int ret;

    if (video) {
        avf_video_options vopt = {.fps = cfg->fps, .max_width = cfg->max_width};

        ret = avf_vdec_open(&s->vdec, video, &vopt, info->origin_us, info->video_limit_us);
        if (ret < 0)
            return ret;
        s->video_packets = avf_queue_new(PACKET_QUEUE_SIZE, 1, policy, free_packet);
        if (!s->video_packets)
            return AVERROR(ENOMEM);
    }
    if (audio) {
        ret = avf_adec_open(&s->adec, audio, cfg->rate, info->origin_us, info->audio_limit_us);
        if (ret < 0)
            return ret;
        s->audio_packets = avf_queue_new(PACKET_QUEUE_SIZE, 1, policy, free_packet);
        if (!s->audio_packets)
            return AVERROR(ENOMEM);
    }
    return 0;
}

/* The feature extractors of each modality there is, and their item queues. */
static int open_extractors(avf_sched *s, const char *url, int has_video, int has_audio,
                           enum avf_queue_policy policy)
{
    const avf_pipeline_config *cfg = &s->cfg;
    avf_plugin_config pcfg = {
        .struct_size = sizeof(pcfg),
        .sample_rate = cfg->rate,
        .window = cfg->rate * AVF_WINDOW_MS / 1000,
        .hop = cfg->rate * AVF_WINDOW_HOP_MS / 1000,
        .frame_rate = av_q2d(cfg->fps),
        .source = avf_redact(s->input_shown, sizeof(s->input_shown), url ? url : cfg->microphone),
    };
    int ret;

    if (cfg->nb_plugins <= 0)
        return 0;
    if (has_video) {
        ret = avf_extractor_new(&s->vx, AVF_PLUGIN_VIDEO, cfg->plugins, cfg->nb_plugins, &pcfg);
        if (ret < 0)
            return ret;
        s->video_items = avf_queue_new(ITEM_QUEUE_SIZE, 1, policy, free_item);
        if (!s->video_items)
            return AVERROR(ENOMEM);
    }
    if (has_audio) {
        ret = avf_extractor_new(&s->ax, AVF_PLUGIN_AUDIO, cfg->plugins, cfg->nb_plugins, &pcfg);
        if (ret < 0)
            return ret;
        s->audio_items = avf_queue_new(ITEM_QUEUE_SIZE, 1, policy, free_item);
        if (!s->audio_items)
            return AVERROR(ENOMEM);
    }
    return 0;
}

/* The segmenter and the fusion stage, and the queues into, between and out of them. */
static int open_segment_stages(avf_sched *s, int has_video, int has_audio,
                               enum avf_queue_policy policy)
{
    const avf_pipeline_config *cfg = &s->cfg;
    avf_segmenter_config seg_cfg = {
        .rate = cfg->rate,
        .hop_samples = llround(cfg->hop_s * cfg->rate),
        .len_samples = llround(cfg->len_s * cfg->rate),
        .min_partial_us = llround(cfg->min_partial_s * AV_TIME_BASE),
        .has_video = has_video,
        .has_audio = has_audio,
        .video_dim = s->vx ? avf_extractor_layout(s->vx)->dim : 0,
        .audio_dim = s->ax ? avf_extractor_layout(s->ax)->dim : 0,
    };

    s->fusion = avf_fusion_new(s->vx ? avf_extractor_layout(s->vx) : NULL,
                               s->ax ? avf_extractor_layout(s->ax) : NULL, cfg->rate,
                               cfg->rate * AVF_WINDOW_MS / 1000,
                               cfg->rate * AVF_WINDOW_HOP_MS / 1000, cfg->fused, cfg->model);
    s->segmenter = avf_segmenter_new(&seg_cfg);
    s->items = avf_queue_new(ITEM_QUEUE_SIZE, has_video + has_audio, policy, free_item);
    s->segments = avf_queue_new(OUT_QUEUE_SIZE, 1, policy, free_segment);
    /* Results always wait: a result dropped here would take its events with it (a
     * tag's end lost). A consumer that lags holds the fusion stage, and a live
     * pipeline drops at the segments queue before it, where the event detector
     * never sees the segment, so its events stay paired. */
    s->out = avf_queue_new(OUT_QUEUE_SIZE, 1, AVF_QUEUE_BLOCK, free_result);
    if (!s->fusion || !s->segmenter || !s->items || !s->segments || !s->out)
        return AVERROR(ENOMEM);
    return 0;
}

int avf_sched_open(avf_sched **ps, const char *url, const avf_pipeline_config *cfg)
{
    enum avf_queue_policy policy = cfg->live ? AVF_QUEUE_DROP_OLDEST : AVF_QUEUE_BLOCK;
    const AVStream *video = NULL, *audio = NULL;
    int has_audio;
    avf_sched *s;
    char why[256];
    int ret;

    if (avf_pipeline_config_check(cfg, why, sizeof(why)) < 0)
        return AVF_ERR_CONFIG;
    s = calloc(1, sizeof(*s));
    if (!s)
        return AVERROR(ENOMEM);
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        return AVERROR(ENOMEM);
    }
    s->cfg = *cfg;
    if (!s->cfg.label)
        s->cfg.label = url ? url : cfg->microphone;
    atomic_init(&s->mic_origin, INT64_MIN);
    atomic_init(&s->discontinuities, 0);
    atomic_init(&s->input_at_end, 0);
    s->ended_early_us = INT64_MIN;
    ret = open_inputs(s, url, cfg, &video, &audio);
    has_audio = audio || s->mic;
    if (ret >= 0)
        ret = open_decoders(s, video, audio, policy);
    if (ret >= 0)
        ret = open_extractors(s, url, video != NULL, has_audio, policy);
    if (ret >= 0)
        ret = open_segment_stages(s, video != NULL, has_audio, policy);
    if (ret < 0) {
        avf_sched_free(&s);
        return ret;
    }
    *ps = s;
    return 0;
}

const avf_source_info *avf_sched_source_info(const avf_sched *s)
{
    return s->src ? avf_source_get_info(s->src) : NULL;
}

/* Starts one of the pipeline's threads when it is wanted: 0, or a pthread error. */
static int spawn(avf_sched *s, int wanted, void *(*body)(void *), void *arg)
{
    int ret;

    if (!wanted)
        return 0;
    if (s->nb_threads >= (int)(sizeof(s->threads) / sizeof(s->threads[0])))
        return EAGAIN;
    ret = pthread_create(&s->threads[s->nb_threads], NULL, body, arg);
    if (!ret)
        s->nb_threads++;
    return ret;
}

int avf_sched_start(avf_sched *s)
{
    int ret;

    if (s->nb_threads)
        return AVERROR(EINVAL);
    s->video_thread = (decoder_thread){
        .s = s,
        .name = "dec:video",
        .end_type = AVF_ITEM_VIDEO_END,
        .in = s->video_packets,
        .out = s->vx ? s->video_items : s->items,
        .send = vdec_send,
        .receive = vdec_receive,
        .stats = vdec_stats,
        .dec = s->vdec,
    };
    s->audio_thread = (decoder_thread){
        .s = s,
        .name = "dec:audio",
        .end_type = AVF_ITEM_AUDIO_END,
        .in = s->audio_packets,
        .out = s->ax ? s->audio_items : s->items,
        .send = adec_send,
        .receive = adec_receive,
        .stats = adec_stats,
        .dec = s->adec,
    };
    s->video_extract =
        (extract_thread){s, "extract:video", AVF_ITEM_VIDEO_END, s->video_items, s->vx};
    s->audio_extract =
        (extract_thread){s, "extract:audio", AVF_ITEM_AUDIO_END, s->audio_items, s->ax};
    ret = spawn(s, 1, fusion_main, s);
    if (!ret)
        ret = spawn(s, 1, segment_main, s);
    if (!ret)
        ret = spawn(s, s->vx != NULL, extract_main, &s->video_extract);
    if (!ret)
        ret = spawn(s, s->ax != NULL, extract_main, &s->audio_extract);
    if (!ret)
        ret = spawn(s, s->vdec != NULL, decoder_main, &s->video_thread);
    if (!ret)
        ret = spawn(s, s->adec != NULL, decoder_main, &s->audio_thread);
    if (!ret)
        ret = spawn(s, s->mic != NULL, capture_main, s);
    if (!ret)
        ret = spawn(s, s->src != NULL, demux_main, s);
    if (ret)
        goto fail;
    return 0;
fail:
    /* unwind the threads already running: every queue closes, so each of them
     * sees end of stream wherever it waits */
    if (s->video_packets)
        avf_queue_finish_send(s->video_packets);
    if (s->audio_packets)
        avf_queue_finish_send(s->audio_packets);
    if (s->video_items)
        avf_queue_finish_recv(s->video_items);
    if (s->audio_items)
        avf_queue_finish_recv(s->audio_items);
    avf_queue_finish_recv(s->items);
    avf_queue_finish_recv(s->segments);
    avf_queue_finish_recv(s->out);
    return AVERROR(ret);
}

int avf_sched_receive(avf_sched *s, avf_result **res)
{
    return avf_queue_receive(s->out, (void **)res);
}

static void count_queue(avf_queue *q, uint64_t *drops, uint64_t *queued)
{
    if (!q)
        return;
    *drops += avf_queue_drops(q);
    *queued += avf_queue_depth(q);
}

void avf_sched_counters_get(avf_sched *s, avf_sched_counters *c)
{
    *c = (avf_sched_counters){0};
    count_queue(s->video_packets, &c->packet_drops, &c->packets_queued);
    count_queue(s->audio_packets, &c->packet_drops, &c->packets_queued);
    count_queue(s->video_items, &c->frame_drops, &c->frames_queued);
    count_queue(s->audio_items, &c->frame_drops, &c->frames_queued);
    count_queue(s->items, &c->frame_drops, &c->frames_queued);
    count_queue(s->segments, &c->segment_drops, &c->segments_queued);
    count_queue(s->out, &c->segment_drops, &c->segments_queued);
    c->discontinuities = atomic_load(&s->discontinuities);
}

int avf_sched_clock_offset(const avf_sched *s, int64_t *offset_us)
{
    int64_t origin;

    if (s->src)
        return avf_source_clock_offset(s->src, offset_us);
    origin = atomic_load(&s->mic_origin);
    if (origin == INT64_MIN)
        return AVERROR(EAGAIN);
    *offset_us = origin;
    return 0;
}

/* Makes the inputs' blocking calls return. */
static void abort_inputs(avf_sched *s)
{
    if (s->src)
        avf_source_abort(s->src);
    if (s->mic)
        avf_mic_abort(s->mic);
}

void avf_sched_stop(avf_sched *s)
{
    abort_inputs(s);
}

/* 1 when the decoders were given packets and not one frame came out of them: an
 * input that is all damage (libavcodec's H.264 decoder, for one, drops slices it
 * cannot use without returning an error), which must not pass for an empty one.
 * After the join. */
static int nothing_decoded(const avf_sched *s)
{
    const avf_decoder_stats *v = s->vdec ? avf_vdec_stats(s->vdec) : NULL;
    const avf_decoder_stats *a = s->adec ? avf_adec_stats(s->adec) : NULL;

    if ((v && v->frames) || (a && a->frames) || s->mic)
        return 0;
    return (v && v->packets) || (a && a->packets);
}

int avf_sched_wait(avf_sched *s, avf_pipeline_stats *stats)
{
    int err;

    if (!s->joined) {
        for (int i = 0; i < s->nb_threads; i++)
            pthread_join(s->threads[i], NULL);
        s->joined = 1;
    }
    if (stats) {
        *stats = (avf_pipeline_stats){0};
        if (s->vdec)
            stats->video = *avf_vdec_stats(s->vdec);
        if (s->adec)
            stats->audio = *avf_adec_stats(s->adec);
        stats->segmenter = *avf_segmenter_get_stats(s->segmenter);
        stats->segments = s->nb_segments;
        stats->discontinuities = atomic_load(&s->discontinuities);
        stats->ended_early_us = s->ended_early_us;
        stats->declared_end_us = s->src ? avf_source_get_info(s->src)->declared_end_us : INT64_MAX;
        stats->read_error = s->read_error ? s->read_error : s->mic_error;
    }
    pthread_mutex_lock(&s->lock);
    err = s->error;
    pthread_mutex_unlock(&s->lock);
    if (!err && !s->read_error && nothing_decoded(s))
        err = AVF_ERR_UNDECODABLE;
    return err;
}

void avf_sched_free(avf_sched **ps)
{
    avf_sched *s;

    if (!ps || !*ps)
        return;
    s = *ps;
    if (s->nb_threads && !s->joined) {
        abort_inputs(s);
        avf_queue_finish_recv(s->out);
        avf_sched_wait(s, NULL);
    }
    avf_queue_free(&s->out);
    avf_queue_free(&s->segments);
    avf_queue_free(&s->items);
    avf_queue_free(&s->audio_items);
    avf_queue_free(&s->video_items);
    avf_fusion_free(&s->fusion);
    avf_extractor_free(&s->ax);
    avf_extractor_free(&s->vx);
    avf_queue_free(&s->audio_packets);
    avf_queue_free(&s->video_packets);
    avf_segmenter_free(&s->segmenter);
    avf_adec_free(&s->adec);
    avf_vdec_free(&s->vdec);
    avf_source_free(&s->src);
    avf_mic_free(&s->mic);
    pthread_mutex_destroy(&s->lock);
    free(s);
    *ps = NULL;
}
