/*
 * test_source_pb.c - unit tests of an input read from the caller's AVIOContext
 * (avf_source_options.pb, avf_pipeline_config.pb), which the analyze fuzzer
 * feeds its bytes through.
 *
 * Promised: the pipeline analyzes bytes in memory like the same file on disk; pb
 * stays the caller's (the pipeline neither frees nor closes it); and such an
 * input opens nothing else, not even a file that the same playlist opened from
 * disk may open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavformat/avio.h>

#include "tests/fuzz/fuzz.h"
#include "base/error.h"
#include "engine/scheduler.h"

#define RATE 16000

static AVIOContext *mem_pb(fuzz_mem_input *in)
{
    AVIOContext *pb = fuzz_mem_pb(in);

    assert_non_null(pb);
    return pb;
}

static void put_le(uint8_t *p, uint32_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A mono 16-bit WAV of seconds of a 440 Hz tone at RATE; the caller frees it. */
static uint8_t *make_wav(double seconds, size_t *size)
{
    uint32_t n = (uint32_t)(seconds * RATE), data_size = 2 * n;
    uint8_t *w = calloc(1, 44 + data_size);

    assert_non_null(w);
    memcpy(w, "RIFF", 4);
    put_le(w + 4, 36 + data_size, 4);
    memcpy(w + 8, "WAVEfmt ", 8);
    put_le(w + 16, 16, 4);
    put_le(w + 20, 1, 2); /* PCM */
    put_le(w + 22, 1, 2); /* mono */
    put_le(w + 24, RATE, 4);
    put_le(w + 28, 2 * RATE, 4);
    put_le(w + 32, 2, 2);
    put_le(w + 34, 16, 2);
    memcpy(w + 36, "data", 4);
    put_le(w + 40, data_size, 4);
    for (uint32_t i = 0; i < n; i++)
        put_le(w + 44 + 2 * i, (uint16_t)(int16_t)(8000 * sin(2 * M_PI * 440 * i / RATE)), 2);
    *size = 44 + data_size;
    return w;
}

/* 1.5 s of audio in memory: one whole segment and a partial one, as from a file. */
static void test_analyzes_bytes_in_memory(void **state)
{
    size_t size;
    uint8_t *wav = make_wav(1.5, &size);
    fuzz_mem_input in = {wav, size, 0};
    AVIOContext *pb = mem_pb(&in);
    avf_pipeline_config cfg;
    avf_pipeline_stats stats;
    const avf_source_info *info;
    avf_sched *s = NULL;
    avf_result *res;
    int n = 0, partial = 0;

    (void)state;
    avf_pipeline_config_default(&cfg);
    cfg.pb = pb;
    /* the name only names the input: no file of that name is opened */
    assert_int_equal(avf_sched_open(&s, "/nonexistent/in-memory.wav", &cfg), 0);
    info = avf_sched_source_info(s);
    assert_non_null(info->audio);
    assert_null(info->video);
    assert_int_equal(avf_sched_start(s), 0);
    while (avf_sched_receive(s, &res) == 0) {
        assert_non_null(res->seg); /* a tone: no tag is active at the end */
        assert_true(res->seg->audio_present);
        partial += res->seg->partial;
        n++;
        avf_result_free(&res);
    }
    assert_int_equal(avf_sched_wait(s, &stats), 0);
    assert_int_equal(stats.read_error, 0);
    avf_sched_free(&s);
    assert_int_equal(n, 2);
    assert_int_equal(partial, 1);
    assert_int_equal(in.pos, size);
    /* still the caller's: usable after the pipeline is gone */
    assert_int_equal(avio_seek(pb, 0, SEEK_SET), 0);
    assert_int_equal(avio_r8(pb), 'R');
    fuzz_mem_pb_free(&pb);
    free(wav);
}

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
}

/* A concat script that works from disk is refused its file when read from pb. */
static void test_opens_nothing_else(void **state)
{
    static const char script[] = "ffconcat version 1.0\nfile seg.wav\n";
    char dir[] = "/tmp/avfuse-source-pb-XXXXXX", list[64], wav_path[64];
    fuzz_mem_input in = {(const uint8_t *)script, sizeof(script) - 1, 0};
    size_t size;
    uint8_t *wav = make_wav(0.5, &size);
    avf_pipeline_config cfg;
    AVIOContext *pb;
    avf_sched *s = NULL;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(list, sizeof(list), "%s/list.ffconcat", dir);
    snprintf(wav_path, sizeof(wav_path), "%s/seg.wav", dir);
    write_file(wav_path, wav, size);
    write_file(list, script, sizeof(script) - 1);
    avf_pipeline_config_default(&cfg);

    /* from disk, the script may open the file beside it */
    assert_int_equal(avf_sched_open(&s, list, &cfg), 0);
    assert_non_null(avf_sched_source_info(s)->audio);
    avf_sched_free(&s);

    /* the same bytes through pb, named as the same path: nothing may be opened */
    pb = mem_pb(&in);
    cfg.pb = pb;
    assert_true(avf_sched_open(&s, list, &cfg) < 0);
    assert_null(s);
    fuzz_mem_pb_free(&pb);

    unlink(wav_path);
    unlink(list);
    rmdir(dir);
    free(wav);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_analyzes_bytes_in_memory),
        cmocka_unit_test(test_opens_nothing_else),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
