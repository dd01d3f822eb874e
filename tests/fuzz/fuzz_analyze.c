/*
 * fuzz_analyze.c - the whole analyze path on arbitrary bytes: libavformat's
 * probing and demuxing, decoding, the clock mapping, the segmenter, the built-in
 * feature extractors, fusion with the default model, the segment and event
 * messages (engine/scheduler.c and everything it drives).
 *
 * The input is the media file itself. It reaches libavformat through an
 * AVIOContext over the input's bytes (avf_pipeline_config.pb), so nothing is
 * opened by name, and an input that names further resources (an HLS playlist, a
 * concat script) is refused them. Each run is bounded: small analysis sizes (16
 * to 48 pixels wide, see set_analysis()); after MAX_SEGMENTS segments the
 * pipeline is stopped, as `avfuse analyze` stops on SIGINT, and after twice that
 * many the rest is abandoned, as `avfuse analyze` abandons it on a write error.
 *
 * Coverage guides the fuzzer through avfuse's own code only: the FFmpeg libraries
 * are Debian's, not instrumented, though AddressSanitizer still sees the memory
 * avfuse hands them and gets back.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avio.h>

#include "daemon/setup.h"
#include "fusion/events.h"
#include "fusion/message.h"
#include "fusion/model.h"
#include "fusion/vector.h"
#include "tests/fuzz/fuzz.h"
#include "base/error.h"
#include "engine/scheduler.h"

#define MAX_SEGMENTS 16

#ifndef AVFUSE_FUZZ_MODEL
#define AVFUSE_FUZZ_MODEL "models/default.model"
#endif

/* What the pipeline analyzes with, set up once: the built-in extractors and the
 * default model, as `avfuse analyze` has them. */
static avf_setup setup;

static void init(void)
{
    avf_setup_options o = {
        .model_path = AVFUSE_FUZZ_MODEL, .model = AVF_MODEL_REQUIRED, .component = "fuzz_analyze"};

    fuzz_quiet();
    if (avf_setup_load(&setup, &o) < 0) {
        fprintf(stderr, "fuzz_analyze: running without a model\n");
        o.model = AVF_MODEL_NONE;
        avf_setup_load(&setup, &o);
    }
}

/*
 * The analysis settings: one of a few small ones, picked by a hash of the input so
 * that a crash replays with the same settings. They vary what the segmenter and the
 * extractors meet: hop below len, odd widths, rates the resampler must reach, and
 * a live pipeline whose queues drop instead of wait.
 */
static void set_analysis(avf_pipeline_config *cfg, const uint8_t *data, size_t size)
{
    static const struct {
        double hop, len;
        AVRational fps;
        int width, rate, live;
    } presets[] = {
        {0.5, 1.0, {5, 1}, 32, 8000, 0},
        {0.25, 1.0, {25, 2}, 16, 16000, 0},
        {1.0, 2.0, {30000, 1001}, 48, 11025, 0},
        {0.1, 0.1, {1, 1}, 17, 22050, 1},
    };
    uint32_t h = 2166136261u; /* FNV-1a */

    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    h %= sizeof(presets) / sizeof(presets[0]);
    cfg->hop_s = presets[h].hop;
    cfg->len_s = presets[h].len;
    cfg->fps = presets[h].fps;
    cfg->max_width = presets[h].width;
    cfg->rate = presets[h].rate;
    cfg->live = presets[h].live;
}

static void emit_events(const avf_result *res, uint64_t seq)
{
    for (int i = 0; i < res->nb_events; i++) {
        char *json = avf_event_message(&res->events[i], "fuzz", 0, seq, 0);

        FUZZ_ASSERT(json);
        free(json);
    }
}

static void analyze(avf_sched *s)
{
    avf_pipeline_stats stats;
    avf_result *res = NULL;
    uint64_t seq = 0;
    int64_t last_t0 = INT64_MIN;

    if (avf_sched_start(s) < 0)
        return;
    while (avf_sched_receive(s, &res) == 0) {
        const avf_segment *seg = res->seg;
        avf_message_meta meta = {"fuzz", 0, seq, 0, INT64_MIN, NAN};
        char *json;

        if (!seg) {
            /* the end's events: last, and only after a segment */
            FUZZ_ASSERT(seq > 0 && res->nb_events > 0);
            emit_events(res, seq - 1);
            avf_result_free(&res);
            continue;
        }
        json = avf_segment_message(seg, &res->out, &meta);
        FUZZ_ASSERT(json);
        free(json);
        /* segments come in timeline order, each of positive length */
        FUZZ_ASSERT(seg->t0_us > last_t0 && seg->t1_us > seg->t0_us);
        last_t0 = seg->t0_us;
        emit_events(res, seq);
        avf_result_free(&res);
        if (++seq == MAX_SEGMENTS)
            avf_sched_stop(s);
        /* a stop still delivers what the segmenter holds, which a timestamp jump can
         * make thousands of empty segments: abandon the rest, avf_sched_free() joins */
        if (seq == 2 * MAX_SEGMENTS)
            break;
    }
    if (seq < 2 * MAX_SEGMENTS)
        avf_sched_wait(s, &stats);
    if (getenv("AVFUSE_FUZZ_VERBOSE"))
        fprintf(stderr, "fuzz_analyze: %llu segments\n", (unsigned long long)seq);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    fuzz_mem_input in = {data, size, 0};
    avf_pipeline_config cfg;
    AVIOContext *pb;
    avf_sched *s = NULL;

    if (!ready) {
        init();
        ready = 1;
    }
    pb = fuzz_mem_pb(&in);
    if (!pb)
        return 0;
    avf_pipeline_config_default(&cfg);
    set_analysis(&cfg, data, size);
    cfg.pb = pb;
    avf_setup_apply(&setup, &cfg);
    if (avf_sched_open(&s, "fuzz", &cfg) == 0)
        analyze(s);
    avf_sched_free(&s);
    fuzz_mem_pb_free(&pb);
    return 0;
}
