/*
 * scheduler.h - owns the threads and queues of one source's pipeline.
 *
 *   demux --packets--> video decode --items--> video extract --+
 *         --packets--> audio decode --items--> audio extract --+
 *                                                              |
 *         consumer <--results-- fusion <--segments-- segment <--+
 *
 * (without feature plugins the decoders feed the segment thread directly; a
 * microphone's capture thread takes the audio decoder's place). The segment thread
 * runs the segmenter (pipeline/segmenter.h); the fusion thread completes each
 * segment (fusion/fusion.h: features, offset, tags, heads) and decides its tag
 * events. The consumer receives results that are complete: a segment with the
 * events it decided, and last, when the input ends, the events the end decided.
 *
 * The scheduler sits above pipeline/ and fusion/, in engine/, because it is the
 * one module that knows both: the stages below it know nothing of each other
 * (pipeline/ never includes fusion/).
 *
 * The scheduler alone knows this topology: each stage is a
 * module with no knowledge of its neighbours, and each thread body here moves
 * data between a stage and the bounded queues around it. A file input applies
 * back-pressure and loses nothing. End of stream travels forward (every thread
 * finishes its output queue when done) and backward (a thread whose consumer is
 * gone finishes its input queue, so its producer stops).
 */
#ifndef AVF_SCHEDULER_H
#define AVF_SCHEDULER_H

#include <stdint.h>

#include <libavutil/rational.h>

#include "fusion/events.h"
#include "fusion/model.h"
#include "fusion/outputs.h"
#include "fusion/vector.h"
#include "pipeline/decode.h"
#include "plugins/avfuse_plugin.h"
#include "pipeline/segmenter.h"
#include "pipeline/source.h"

typedef struct avf_pipeline_config {
    double hop_s;          /* segment spacing in seconds (default 1.0) */
    double len_s;          /* segment length in seconds (default 1.0, >= hop) */
    AVRational fps;        /* analysis frame rate (default 10) */
    int max_width;         /* analysis frame width limit (default 320) */
    int rate;              /* analysis sample rate (default 16000) */
    double min_partial_s;  /* shorter last segments are dropped (default 0.05) */
    int64_t io_timeout_us; /* per read deadline (default 10 s) */
    /* The input (source.h): its kind, input format, the owner's stop flag (may be
     * raised while the input is still opening) and real-time pacing. */
    enum avf_source_kind kind;
    const char *format;
    const atomic_int *stop;
    int realtime;
    /* "tcp", "udp" or NULL: an RTSP input's transport (source.h). */
    const char *rtsp_transport;
    /* Non-NULL: the input's bytes, read instead of opening the url (source.h,
     * avf_source_options.pb; borrowed, freed by the caller after avf_sched_free()). */
    AVIOContext *pb;
    /* Non-zero: a live input. Its queues drop the oldest work when full (counted in
     * avf_sched_counters) so that it never waits for a slow stage; otherwise they
     * wait, and nothing is lost. */
    int live;
    /* A PortAudio input device (mic.h): the pipeline's audio comes from it, on
     * CLOCK_MONOTONIC, instead of from the input's audio stream. With a NULL url
     * the microphone is the whole input; with a url (a camera) the two share one
     * clock: the microphone's capture times are put on the input's timeline through
     * its clock offset, and audio before the input's first packet is left out. */
    const char *microphone;
    /* What the pipeline's log lines call the input (the daemon's source name,
     * analyze's path), borrowed: it must outlive the pipeline. NULL: the url. */
    const char *label;
    /* Where the pipeline explains a failure it has words for, or NULL: avf_sched_open()
     * (a microphone that does not exist, a resource refused) and, once
     * avf_sched_wait() has returned, the input's read error (stats.read_error: an HLS
     * segment refused). Left untouched when there are no words; the caller clears it. */
    char *why;
    size_t why_size;
    /* Feature extractors (built-in and loaded), borrowed: they must outlive every
     * pipeline opened with this config. None: segments carry no features. */
    const avf_plugin_descriptor *const *plugins;
    int nb_plugins;
    /* The fused vector layout of those plugins and the model applied to it (both
     * borrowed, checked against each other, or both NULL: no labels/sentiment). */
    const avf_fused_layout *fused;
    const avf_model *model;
} avf_pipeline_config;

/* Audio analysis windows: 25 ms every 10 ms. */
#define AVF_WINDOW_MS     25
#define AVF_WINDOW_HOP_MS 10

/* Fills cfg with the defaults above. */
void avf_pipeline_config_default(avf_pipeline_config *cfg);
/* Returns 0 if cfg is usable, else AVF_ERR_CONFIG with a reason in why. */
int avf_pipeline_config_check(const avf_pipeline_config *cfg, char *why, size_t why_size);

typedef struct avf_pipeline_stats {
    avf_decoder_stats video, audio;
    avf_segmenter_stats segmenter;
    uint64_t segments;
    uint64_t discontinuities; /* timestamp jumps absorbed, video and audio (clock.h) */
    /* The input ended more than a second before its declared end (source.h): where
     * its content ended on the timeline, else INT64_MIN; and that declared end. The
     * last segment then says so (partial_reason), and a warning was logged. */
    int64_t ended_early_us, declared_end_us;
    int read_error; /* an error that ended the input early, or 0 */
} avf_pipeline_stats;

typedef struct avf_sched avf_sched;

/* Work dropped by the bounded queues of a live pipeline, and what they hold now
 * (segments: before and after the fusion stage); the timestamp discontinuities its
 * decoders absorbed so far. */
typedef struct avf_sched_counters {
    uint64_t packet_drops, frame_drops, segment_drops;
    uint64_t packets_queued, frames_queued, segments_queued;
    uint64_t discontinuities;
} avf_sched_counters;

/*
 * Opens url (may be NULL when cfg->microphone is set) and prepares its pipeline
 * without starting threads. On success
 * stores a whole scheduler in *ps (the caller frees it with avf_sched_free()) and
 * returns 0; on failure returns a negative error and *ps is untouched.
 */
int avf_sched_open(avf_sched **ps, const char *url, const avf_pipeline_config *cfg);

/* The returned pointer belongs to the scheduler and is valid until it is freed;
 * NULL for a microphone alone. */
const avf_source_info *avf_sched_source_info(const avf_sched *s);

/* Starts the threads. */
int avf_sched_start(avf_sched *s);

/*
 * What the pipeline delivers, in timeline order. Events have no seq and no offset
 * of their own: the consumer encodes them (avf_event_message()) with the seq it
 * gives seg, and for the last result the seq of the last segment it received.
 */
typedef struct avf_result {
    avf_segment *seg;   /* NULL in the last result, which carries the ENDs of the
                           tags still active when the segments ended */
    avf_fusion_out out; /* what fusion made of seg (zero without seg) */
    int nb_events;
    avf_event events[AVF_EVENTS_MAX]; /* decided by seg, in the order of events.h */
} avf_result;

/* Frees the result, its segment and its fusion outputs; accepts NULL; sets *pres
 * to NULL. */
void avf_result_free(avf_result **pres);

/*
 * Waits for the next result. On 0, *res is the caller's (free it with
 * avf_result_free()). Returns AVF_EOS once no result will follow, whether the
 * input ended or a stage failed: avf_sched_wait() tells which. Results are never
 * dropped once fused: a live pipeline whose consumer lags drops segments before
 * the fusion stage, so every event that starts a tag is followed by its end.
 */
int avf_sched_receive(avf_sched *s, avf_result **res);

/*
 * Asks the pipeline to end early: the input stops being read and the segments
 * already decoded are still delivered, the last one partial. Any thread.
 */
void avf_sched_stop(avf_sched *s);

/*
 * Joins the threads (after avf_sched_receive() returned AVF_EOS, or to abandon
 * the rest) and fills stats. Returns the first error a stage hit, or 0.
 */
int avf_sched_wait(avf_sched *s, avf_pipeline_stats *stats);

/* Fills c. Any thread, while the scheduler exists. */
void avf_sched_counters_get(avf_sched *s, avf_sched_counters *c);

/* avf_source_clock_offset() of the input (or the microphone's, alone): timeline to
 * CLOCK_MONOTONIC. */
int avf_sched_clock_offset(const avf_sched *s, int64_t *offset_us);

/* Stops and joins if still running, then frees; accepts NULL; sets *ps to NULL. */
void avf_sched_free(avf_sched **ps);

#endif
