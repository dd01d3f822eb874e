/*
 * decode.h - video and audio decoders that turn packets into timeline items.
 *
 * Each decoder wraps libavcodec, maps timestamps onto the source timeline (clock.h)
 * and converts to what analysis needs: the video decoder keeps the frames picked by
 * the analysis rate and scales them with libswscale; when that rate is well below
 * the stream's, it does not decode the non-reference frames the analysis does not
 * need (avf_video_options.skip). The audio decoder resamples with libswresample to
 * mono float at the analysis rate and places the samples sample-exactly. Data
 * beyond a stream's declared end (codec padding past an MP4 edit list) is cut off.
 * Items come from a pool per decoder (items.h), so decoding does not allocate per
 * frame once the pipeline is warm.
 *
 * The API mirrors libavcodec's send/receive pair: after each avf_*dec_send() the
 * caller calls avf_*dec_receive() until it returns AVERROR(EAGAIN). Sending NULL
 * flushes; receive then returns the remaining items, one AVF_ITEM_*_END item, and
 * AVF_EOS. A decoder belongs to one thread.
 */
#ifndef AVF_DECODE_H
#define AVF_DECODE_H

#include <stdint.h>

#include <libavcodec/packet.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>
#include <libavutil/rational.h>

#include "pipeline/clock.h"

enum avf_item_type {
    AVF_ITEM_VIDEO = 0,     /* t_us; frame, or NULL for a frame the analysis rate skipped */
    AVF_ITEM_VIDEO_END = 1, /* t_us: the end of the last video frame */
    AVF_ITEM_AUDIO = 2,     /* pos, nb_samples, samples */
    AVF_ITEM_AUDIO_END = 3, /* pos: one past the last sample */
};

/* What a decoder hands to the segmenter, through the scheduler's queue. */
typedef struct avf_item {
    enum avf_item_type type;
    int64_t t_us;   /* timeline microseconds */
    int64_t end_us; /* video: where the frame ends by its stated duration, else t_us */
    AVFrame *frame; /* analysis frame (YUV420P, at most max_width wide); owned */
    int64_t pos;    /* timeline sample index at the analysis rate */
    int nb_samples;
    float *samples; /* mono float at the analysis rate; owned, malloc()ed */
    /* features, added by the extract stage: nb_rows rows of the modality's layout.
     * Video: one row for frame. Audio: rows of the windows starting at rows_pos,
     * rows_pos + hop, ... */
    float *rows; /* owned, malloc()ed */
    int nb_rows;
    int64_t rows_pos;
    /* Kept while the item is reused (items.h); zero in an item made by calloc(). */
    size_t samples_cap;         /* floats allocated at samples (0: unknown) */
    size_t rows_cap;            /* floats allocated at rows (0: unknown) */
    AVFrame *spare;             /* an AVFrame struct that frame points to when set */
    struct avf_item_pool *pool; /* where avf_item_free() returns it; NULL: freed */
} avf_item;

/*
 * Accepts NULL; returns a pooled item to its pool (dropping its frame reference),
 * frees any other with its frame, samples and rows; sets *pitem to NULL.
 */
void avf_item_free(avf_item **pitem);

/*
 * Makes item->samples hold at least n floats (item->rows at least nb_rows * dim
 * floats), reusing the buffer the item already has when it is large enough.
 * Returns 0 or AVERROR(ENOMEM), in which case the item is unchanged.
 */
int avf_item_reserve_samples(avf_item *item, int n);
int avf_item_reserve_rows(avf_item *item, int nb_rows, int dim);

/*
 * Which frames the video decoder may leave undecoded. Only non-reference frames
 * are ever skipped (nothing else decodes from them), and only when the analysis
 * rate is at most half the stream's frame rate.
 */
enum avf_frame_skip {
    /* Every non-reference frame: the sampler takes the first decoded frame at or
     * after each grid point, so a frame it would have taken may be replaced by the
     * next decoded one. Where non-reference frames come two or more in a row the
     * decoder falls back to AVF_SKIP_EXACT for the rest of the stream. */
    AVF_SKIP_AUTO = 0,
    /* Only the non-reference frames the sampler would not take: the analysis
     * frames are exactly those of a full decode (on clean timestamps). */
    AVF_SKIP_EXACT = 1,
    AVF_SKIP_NONE = 2, /* decode every frame */
};

typedef struct avf_video_options {
    AVRational fps; /* analysis rate */
    int max_width;  /* analysis frames are at most this wide, aspect kept */
    enum avf_frame_skip skip;
} avf_video_options;

typedef struct avf_decoder_stats {
    uint64_t packets;        /* packets sent */
    uint64_t frames;         /* frames decoded */
    uint64_t decode_errors;  /* packets or frames the codec rejected */
    uint64_t beyond_end;     /* frames (video) or samples (audio) past the declared end */
    avf_clock_stats clock;   /* video, or the stream clock of audio */
    uint64_t audio_gaps;     /* audio: holes left by timestamp gaps */
    uint64_t audio_overlaps; /* audio: overlaps dropped */
    int frame_skip;          /* video: the enum avf_frame_skip in force at the end */
} avf_decoder_stats;

typedef struct avf_vdec avf_vdec;
typedef struct avf_adec avf_adec;

/*
 * Opens a decoder for stream st of a demuxer. origin_us is the absolute time of
 * timeline zero, limit_us the stream's declared end on the timeline (INT64_MAX
 * when unknown). On success stores a whole decoder in *pdec and returns 0; the
 * caller frees it with avf_vdec_free(). On failure returns a negative error.
 */
int avf_vdec_open(avf_vdec **pdec, const AVStream *st, const avf_video_options *opt,
                  int64_t origin_us, int64_t limit_us);
void avf_vdec_free(avf_vdec **pdec);
/* pkt stays the caller's; NULL flushes. Rejected packets are counted, not fatal. */
int avf_vdec_send(avf_vdec *d, const AVPacket *pkt);
/* On 0, *item is the caller's to free with avf_item_free(). */
int avf_vdec_receive(avf_vdec *d, avf_item **item);
const avf_decoder_stats *avf_vdec_stats(const avf_vdec *d);

/* As avf_vdec_open(), for audio resampled to mono float at rate Hz. */
int avf_adec_open(avf_adec **pdec, const AVStream *st, int rate, int64_t origin_us,
                  int64_t limit_us);
void avf_adec_free(avf_adec **pdec);
int avf_adec_send(avf_adec *d, const AVPacket *pkt);
int avf_adec_receive(avf_adec *d, avf_item **item);
const avf_decoder_stats *avf_adec_stats(const avf_adec *d);

#endif
