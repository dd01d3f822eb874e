/*
 * source.h - an input opened through libavformat: files and URLs alike.
 *
 * Opening picks the best video and the best audio stream that have a decoder,
 * discards all others, and fixes the timeline origin (the earliest start time of
 * the chosen streams). Every blocking libavformat call runs under an interrupt
 * callback that checks a per-call deadline and an abort flag, so a stalled input
 * can neither hang a thread nor delay a stop. Each kind of input gets a protocol
 * whitelist: a local file (or an HLS playlist in one) may open only local files, a
 * network URL only network protocols.
 */
#ifndef AVF_SOURCE_H
#define AVF_SOURCE_H

#include <stdatomic.h>
#include <stdint.h>

#include <libavcodec/packet.h>
#include <libavformat/avformat.h>

/* The largest video picture avfuse decodes, in pixels (8192 x 8192, beyond DCI 8K):
 * a stream that declares more is left out when the input is opened. */
#define AVF_MAX_PIXELS (8192 * 8192)

/* What kind of input a URL is: it decides the protocol whitelist. */
enum avf_source_kind {
    AVF_SOURCE_AUTO = 0, /* local or network, from the URL's protocol */
    AVF_SOURCE_FILE,     /* local files only (also what a playlist in it references) */
    AVF_SOURCE_NETWORK,  /* network protocols only: never a local file */
    AVF_SOURCE_DEVICE,   /* a capture device through a libavdevice input format */
};

/*
 * 1 when url names a local file: a path, file:PATH or pipe:N, anything without a
 * "scheme://" other than file:// and pipe://. (libavformat's own protocol lookup
 * does not know "rtsp": RTSP is a demuxer there, not a protocol.)
 */
int avf_url_is_local(const char *url);

/* 1 when url is rtsp:// or rtsps:// (any case): the URLs rtsp_transport applies to. */
int avf_url_is_rtsp(const char *url);

typedef struct avf_source_options {
    int64_t io_timeout_us;     /* deadline of one open or read call; <= 0: 10 s */
    enum avf_source_kind kind; /* AVF_SOURCE_AUTO by default */
    const char *format;        /* input format name (e.g. "video4linux2"), or NULL: probe */
    /* When non-NULL and non-zero, every blocking call returns at once, as after
     * avf_source_abort(); it lets an owner stop an input that is still opening. */
    const atomic_int *stop;
    /* Non-zero: avf_source_read() hands out each packet once its content has ended
     * on the wall clock (timestamp + duration), as a live input would (a file
     * played in real time). */
    int realtime;
    /* Non-NULL: the input's bytes come from pb instead of opening url, which then only
     * names the input (for probing by extension and in messages). pb is borrowed: the
     * caller frees it after avf_source_free(). Such an input opens nothing else (HLS
     * segments, concat entries, ... are refused): it has no folder or host they could
     * be relative to. For tests and fuzzing (tests/fuzz/). */
    AVIOContext *pb;
    /* "tcp" or "udp": how an rtsp:// or rtsps:// URL's media travels (libavformat's
     * rtsp_transport); NULL: libavformat's choice (UDP, then TCP when nothing comes).
     * Other URLs ignore it. */
    const char *rtsp_transport;
    /* Where avf_source_open() puts the words for a failure it has them for (a
     * resource refused: "refused to open PATH: outside the source's folder"), which
     * the error code alone would not tell; NULL: nowhere. Left untouched otherwise. */
    char *why;
    size_t why_size;
} avf_source_options;

/* Fixed once avf_source_open() returns. */
typedef struct avf_source_info {
    const AVStream *video;  /* NULL when the input has no decodable video */
    const AVStream *audio;  /* NULL when the input has no decodable audio */
    int64_t origin_us;      /* absolute time of timeline zero, AV_TIME_BASE units */
    int64_t video_limit_us; /* declared end of the video on the timeline, or INT64_MAX */
    int64_t audio_limit_us; /* declared end of the audio on the timeline, or INT64_MAX */
    int64_t duration_us;    /* of the whole input, or AV_NOPTS_VALUE */
    /* Where the input says its content ends on the timeline, when it says so (a
     * Matroska header's duration, an MP4 index) rather than FFmpeg estimating it from
     * what is there (MPEG-TS, WAV, raw streams): INT64_MAX otherwise. Content that
     * ends well before it was cut short. */
    int64_t declared_end_us;
} avf_source_info;

typedef struct avf_source avf_source;

/*
 * Opens url. On success stores a whole source in *psrc (the caller frees it with
 * avf_source_free()) and returns 0. On failure returns a negative error:
 * AVF_ERR_NOSTREAM when nothing in the input can be decoded, AVF_ERR_CONFIG for an
 * unknown input format or a URL its kind does not allow (a file: URL as a network
 * source), AVF_EOS when opts->stop was raised.
 */
int avf_source_open(avf_source **psrc, const char *url, const avf_source_options *opt);
void avf_source_free(avf_source **psrc);

/* The returned pointer belongs to the source and stays valid until it is freed. */
const avf_source_info *avf_source_get_info(const avf_source *src);

/*
 * Reads the next packet of a chosen stream into pkt (which must be blank).
 * Returns 0, AVF_EOS at the end of input or after avf_source_abort(), or a
 * negative error (AVERROR(ETIMEDOUT) when the deadline passed).
 */
int avf_source_read(avf_source *src, AVPacket *pkt);

/*
 * Words for the error the last avf_source_read() returned, when the source has them
 * (a resource refused: an HLS segment or key outside the source's folder or host),
 * else "". The returned string belongs to the source and stays valid until the next
 * read or avf_source_free(). The reading thread.
 */
const char *avf_source_why(const avf_source *src);

/* 1 when the last avf_source_read() returned AVF_EOS because the input ended, not
 * because it was stopped. The reading thread. */
int avf_source_at_end(const avf_source *src);

/* Makes the current and every later blocking call return at once. Any thread. */
void avf_source_abort(avf_source *src);

/*
 * The mapping of the timeline onto CLOCK_MONOTONIC (av_gettime_relative()): a
 * moment t_us of the timeline arrived at t_us + *offset_us at the earliest. It is
 * the smallest (arrival - end of the packet's content) over the packets read so
 * far, so bursts and buffering do not shift it. A real-time input releases each
 * packet when its content has ended, as a live source would. Returns 0, or AVERROR(EAGAIN) before
 * the first packet with a timestamp. Any thread.
 */
int avf_source_clock_offset(const avf_source *src, int64_t *offset_us);

#endif
