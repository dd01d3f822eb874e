/*
 * clock.h - mapping stream timestamps onto one source timeline.
 *
 * The timeline of a source is in microseconds from one origin shared by all its
 * streams (the container's start time), so a file whose audio starts 0.5 s after
 * its video has that audio at t = 500000. This header holds the pure arithmetic,
 * with no threads and no I/O, so that the unit tests can feed it crafted timestamp
 * sequences:
 *  - avf_stream_clock: unwraps (e.g. 33-bit MPEG-TS) and converts one stream's
 *    timestamps; for video it also repairs missing, duplicated and backward
 *    timestamps into a strictly increasing sequence, counting each repair;
 *  - avf_audio_clock: places resampled audio sample-exactly, turning timestamp
 *    gaps into holes and overlaps into dropped samples, ignoring jitter;
 *  - avf_frame_sampler: picks the frames that the analysis rate keeps.
 */
#ifndef AVF_CLOCK_H
#define AVF_CLOCK_H

#include <stdint.h>

#include <libavutil/rational.h>

/* A backward step larger than this is a discontinuity, not a reordering glitch. */
#define AVF_CLOCK_DISCONT_US 1000000
/*
 * A forward step larger than this is a discontinuity too, not a gap. Real gaps
 * (variable frame rate, a stream that paused, a stretch missing from a recording)
 * stay on the timeline up to this long; a live source silent longer than its read
 * timeout (5 s by default) is reconnected, as a new epoch, before its next packet
 * could make such a step. Beyond a minute it is a timestamp fault (a damaged PTS,
 * recordings joined end to end, an encoder's clock reset), and kept as a gap it
 * would publish one empty segment per second of it.
 */
#define AVF_CLOCK_JUMP_US (60 * INT64_C(1000000))
/* Audio timestamps within this distance of the contiguous position are jitter. */
#define AVF_AUDIO_TOLERANCE_US 20000

typedef struct avf_clock_stats {
    uint64_t missing;         /* timestamps absent, predicted from the previous one */
    uint64_t repaired;        /* duplicated or backward timestamps moved forward */
    uint64_t wraps;           /* timestamp wrap-arounds unwrapped */
    uint64_t discontinuities; /* jumps beyond the bounds above absorbed by a shift */
    int64_t last_jump_us;     /* the latest of them: its size (> 0 ahead, < 0 back) */
    int64_t last_jump_at_us;  /* and where on the timeline it was absorbed */
} avf_clock_stats;

/* One stream's clock. All fields belong to the one thread that decodes the stream. */
typedef struct avf_stream_clock {
    AVRational time_base; /* of the raw timestamps */
    int wrap_bits;        /* 64 when timestamps do not wrap */
    int64_t origin_us;    /* absolute time (AV_TIME_BASE units) of timeline zero */
    int64_t last_raw;     /* last unwrapped raw timestamp, AV_NOPTS_VALUE at first */
    int64_t wrap_add;     /* added to raw timestamps, in time_base units */
    int64_t shift_us;     /* accumulated discontinuity correction */
    int64_t last_us;      /* last video time returned, AV_NOPTS_VALUE at first */
    int64_t last_dur_us;  /* duration of that frame */
    avf_clock_stats stats;
} avf_stream_clock;

void avf_clock_init(avf_stream_clock *c, AVRational time_base, int wrap_bits, int64_t origin_us);

/*
 * Unwraps raw and converts it to microseconds on the timeline (which may be
 * negative before the origin). Returns AV_NOPTS_VALUE when raw is AV_NOPTS_VALUE.
 */
int64_t avf_clock_to_timeline(avf_stream_clock *c, int64_t raw);

/*
 * Timeline time of the next video frame: raw is its timestamp (AV_NOPTS_VALUE when
 * unknown), dur_us its duration (or an estimate, > 0). The result is strictly
 * greater than the previous one: a missing timestamp is predicted, a duplicate or
 * small backward step is moved just after the previous frame, and a jump back
 * beyond AVF_CLOCK_DISCONT_US or ahead beyond AVF_CLOCK_JUMP_US (past the end of the
 * previous frame) shifts the rest of the stream so that it goes on where it was.
 * One timestamp damaged far ahead thus costs two discontinuities (there and back)
 * and no time on the timeline.
 */
int64_t avf_clock_video(avf_stream_clock *c, int64_t raw, int64_t dur_us);

/* Audio placement at the analysis rate. Belongs to the audio decode thread. */
typedef struct avf_audio_clock {
    int rate;            /* analysis sample rate */
    int started;         /* a first frame has set write_pos */
    int64_t write_pos;   /* timeline sample index of the next kept sample */
    int64_t discard;     /* converted samples still to drop (an overlap) */
    uint64_t gaps;       /* discontinuities that left a hole */
    uint64_t overlaps;   /* discontinuities that dropped samples */
    int64_t gap_samples; /* total samples of holes */
    int64_t overlap_samples;
    int64_t shift;            /* samples added to timestamps by discontinuities */
    uint64_t discontinuities; /* jumps beyond the bounds absorbed by a shift */
    int64_t last_jump_us;     /* the latest of them: its size (> 0 ahead, < 0 back) */
    int64_t last_jump_at_us;  /* and where on the timeline (at write_pos) */
    /* 1 (the default): a step back beyond AVF_CLOCK_DISCONT_US is a discontinuity,
     * as stream timestamps have them. 0 for capture times, which cannot go back: a
     * backlog delivered late is an overlap, dropped to stay on the clock. */
    int follow_resets;
} avf_audio_clock;

void avf_audio_clock_init(avf_audio_clock *a, int rate);

/*
 * A decoded frame whose first sample is at t_us (AV_NOPTS_VALUE when unknown) is
 * about to enter the resampler, which still holds `pending` converted samples.
 * Returns how many samples the frame is away from where contiguous output would
 * put it: 0 within AVF_AUDIO_TOLERANCE_US (and for the first frame, which sets
 * the start), positive for a gap, negative for an overlap. On non-zero the caller
 * drains the resampler and calls avf_audio_clock_jump(). With follow_resets, a
 * step back beyond AVF_CLOCK_DISCONT_US or ahead beyond AVF_CLOCK_JUMP_US is a
 * discontinuity, as for video (a clock reset, recordings joined end to end, a
 * damaged timestamp): it returns 0, the audio goes on where it was and later
 * timestamps count from there, instead of the rest being dropped as overlap or
 * placed after hours of hole.
 */
int64_t avf_audio_clock_frame(avf_audio_clock *a, int64_t t_us, int64_t pending);

/* Applies the discontinuity for a frame at t_us once the resampler is drained. */
void avf_audio_clock_jump(avf_audio_clock *a, int64_t t_us);

/*
 * Places n converted samples. Returns how many leading samples to drop (an
 * overlap, 0..n); *pos receives the timeline sample index of the first kept one.
 */
int avf_audio_clock_place(avf_audio_clock *a, int n, int64_t *pos);

/* Keeps the first frame at or after each point of the analysis-rate grid. */
typedef struct avf_frame_sampler {
    AVRational fps;  /* analysis rate */
    int64_t next_us; /* the next grid point still without a frame */
} avf_frame_sampler;

void avf_sampler_init(avf_frame_sampler *s, AVRational fps);
/* Returns 1 when the frame at t_us (strictly increasing) is kept, else 0. */
int avf_sampler_take(avf_frame_sampler *s, int64_t t_us);

#endif
