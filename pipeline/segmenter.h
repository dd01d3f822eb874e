/*
 * segmenter.h - cuts a source timeline into analysis segments.
 *
 * Segment k covers [k*hop, k*hop + len) of the source timeline (hop < len
 * overlaps). Bounds are counted in audio samples at the analysis rate so that
 * audio is cut sample-exactly; video frames belong to every segment whose
 * interval holds their presentation time. A segment is complete once every
 * modality that is still running has passed its end; at the end of input the
 * last segment is cut short and marked partial. Single-threaded: the scheduler's
 * segment thread owns a segmenter.
 */
#ifndef AVF_SEGMENTER_H
#define AVF_SEGMENTER_H

#include <stdint.h>

#include <libavutil/frame.h>

typedef struct avf_segment {
    int64_t index;              /* k */
    int64_t t0_us, t1_us;       /* on the source timeline; t1 is the content end if partial */
    int partial;                /* cut short by the end of input */
    const char *partial_reason; /* static text when more was expected ("input ended
                                 * early"), or NULL */
    int video_present;          /* the source has video and it had not ended before t0 */
    int nb_frames;              /* analysis frames, in time order */
    AVFrame **frames;           /* frames[i]->pts is its timeline time in microseconds */
    int audio_present;          /* the source has audio and it had not ended before t0 */
    int64_t audio_start;        /* timeline sample index of audio[0] */
    int audio_len;              /* length of audio[]: the segment length in samples */
    int nb_samples;             /* samples really received (holes stay 0.0 in audio[]) */
    float *audio;               /* mono, at the analysis rate */
    int frames_cap;             /* allocated length of frames[] */

    /* Feature rows of the extract stage; dims are the segmenter config's. */
    int video_dim;
    float *video_rows; /* nb_frames rows, row i belongs to frames[i] */
    int audio_dim;
    int nb_windows; /* audio windows starting inside the segment */
    int windows_cap;
    float *audio_rows;   /* nb_windows rows */
    int64_t *window_pos; /* timeline sample index where each window starts */

    /* Filled by the fusion stage. Names are borrowed from the pipeline's
     * extractors and stay valid until the pipeline is freed. */
    const char *const *video_names;
    double *video_features; /* video_dim pooled values, NaN when none */
    const char *const *audio_names;
    double *audio_features; /* audio_dim pooled values, NaN when none */
    int av_valid;           /* an offset could be estimated */
    double av_offset_ms;    /* > 0: audio late */
    double av_confidence;   /* 0..1 */
    uint32_t tags;          /* AVF_TAG_* bits */
    int labels_valid;       /* the model's content head answered */
    double labels[4];       /* speech, music, noise, silence probabilities */
    int sentiment_valid;
    double valence, arousal; /* -1..1 */
    int sentiment_label;     /* 0 negative, 1 neutral, 2 positive */
    double sentiment_confidence;
    const char *model_name; /* borrowed like the names above */
    int fused_dim;
    double *fused; /* the early-fusion vector (fusion/vector.h), or NULL */
} avf_segment;

/* Accepts NULL; frees the frames and samples; sets *pseg to NULL. */
void avf_segment_free(avf_segment **pseg);

typedef struct avf_segmenter_config {
    int rate;               /* analysis sample rate (Hz) */
    int64_t hop_samples;    /* segment start spacing, in samples at rate */
    int64_t len_samples;    /* segment length (>= hop_samples) */
    int64_t min_partial_us; /* a shorter last segment is not content (codec padding) */
    int has_video;
    int has_audio;
    int video_dim; /* feature values per video row (0: no features) */
    int audio_dim; /* feature values per audio window row */
} avf_segmenter_config;

typedef struct avf_segmenter_stats {
    uint64_t frames_before_origin;  /* video frames at t < 0 */
    uint64_t samples_before_origin; /* audio samples at t < 0 */
    uint64_t late_items;            /* items for a segment already emitted (counted once,
                                     * even if also for one still open) */
    int64_t tail_dropped_us;        /* length of a last segment shorter than min_partial */
} avf_segmenter_stats;

typedef struct avf_segmenter avf_segmenter;

/*
 * Returns a whole segmenter or NULL (out of memory, or an invalid config: rate,
 * hop or len not positive, len < hop, or neither modality). Free with
 * avf_segmenter_free().
 */
avf_segmenter *avf_segmenter_new(const avf_segmenter_config *cfg);
void avf_segmenter_free(avf_segmenter **ps);

/*
 * A video frame at t_us, in strictly increasing time order, with its feature row
 * (video_dim floats, copied; NULL when video_dim is 0). The segmenter takes new
 * references to the frame (the caller keeps its own). frame may be NULL to report
 * only that the video has reached t_us (a decoded frame the analysis rate skipped).
 * end_us is where the frame ends as its stream states it (t_us + its duration), or
 * t_us when that is not known: the next frame is expected there, so the segments
 * ending by then are complete on the video side without waiting for it. A frame that
 * comes earlier than its predecessor's stated end, into a segment already emitted,
 * is counted in late_items and left out.
 */
int avf_segmenter_video(avf_segmenter *s, int64_t t_us, int64_t end_us, const AVFrame *frame,
                        const float *row);
/* n mono samples whose first is at timeline sample index pos; copied. */
int avf_segmenter_audio(avf_segmenter *s, int64_t pos, const float *samples, int n);
/*
 * n audio feature rows (audio_dim floats each, copied) of windows starting at
 * first_pos, first_pos + hop, ...; each goes to every segment holding its start.
 * Rows come in the order of their starts. With audio_dim > 0 a segment is complete
 * on the audio side only once a row starting at or after its end came (the rows
 * of all its windows are in) or the audio ended.
 */
int avf_segmenter_audio_rows(avf_segmenter *s, int64_t first_pos, int hop, const float *rows,
                             int n);
/* The video ended; end_us is the end of its last frame. */
void avf_segmenter_video_end(avf_segmenter *s, int64_t end_us);
/* The audio ended; end_pos is one past its last sample. */
void avf_segmenter_audio_end(avf_segmenter *s, int64_t end_pos);

/*
 * Takes the next complete segment into *seg (the caller frees it with
 * avf_segment_free()). Returns 1 when one was taken, 0 when none is complete yet,
 * AVF_EOS when every modality ended and all segments were taken.
 */
int avf_segmenter_pop(avf_segmenter *s, avf_segment **seg);

/* 1 once every modality ended: the segments left are complete, and once they are
 * taken avf_segmenter_pop() returns AVF_EOS. */
int avf_segmenter_ended(const avf_segmenter *s);

const avf_segmenter_stats *avf_segmenter_get_stats(const avf_segmenter *s);

#endif
