/*
 * test_mic.c - unit tests of microphone capture (pipeline/mic.c) without sound hardware.
 *
 * The machines have no /dev/snd, so the microphones are ALSA `file` PCMs (slave
 * "null", `infile` a raw S16_LE stream) declared in an ALSA configuration this test
 * writes and points ALSA_CONFIG_PATH at before PortAudio starts. The configuration is
 * self-contained (it does not include /usr/share/alsa/alsa.conf): the device list is
 * then exactly ours, and the probing of sound cards that do not exist stays silent.
 *
 * What the file PCM does, measured with PortAudio 19.6 and alsa-lib 1.2.8:
 * - With the null slave, capture is not paced at all: the null PCM always reports a
 *   full buffer, so a callback stream runs as fast as the CPU (about 100 million
 *   frames a second) and its times do not advance with the sample count.
 * - The infile is read with one read() per buffer PortAudio takes, and what read()
 *   did not fill keeps the ring's old contents. At the end of a regular file every
 *   further buffer is stale: the last buffer-full repeats forever (silence only if
 *   the file ends in silence). Over a FIFO a short read leaves stale frames too.
 * - The infile's sample format is whatever the client negotiates (PortAudio asks for
 *   float, and would read the S16 file as float): a `plug` in front with a slave
 *   format, rate and channels pins what the file holds.
 * - So each infile here is a FIFO that a feeder thread writes at real time, one
 *   10 ms chunk per tick, the size of mic.c's callback buffer: every read() then
 *   returns exactly one ALSA period, capture runs at the feeder's pace and the data
 *   arrives whole (after a stale buffer or two at the start). This needs ALSA's
 *   period to be one 10 ms block: asked for a larger buffer (PortAudio's "high"
 *   latency, 96 ms), ALSA made periods of two or three blocks, read() still returned
 *   one chunk, and the stream carried stale frames between them.
 * - Listing devices opens every PCM, and opening a FIFO for reading blocks until it
 *   has a writer: the test holds each FIFO open read-write before PortAudio starts.
 * - A read() blocked on an idle FIFO also blocks Pa_AbortStream(), hence
 *   avf_mic_free(): the feeder keeps writing until the microphone is freed.
 * - PortAudio 19.6 asserts (abort()) while listing devices when the configuration
 *   defines no `default` PCM and every device opens: one is always defined here.
 * - Only plugins can refuse a rate or a channel count. A `plug` whose rate_converter
 *   does not exist refuses every rate but its slave's ("avfuse_mono48k": mic.c
 *   resamples). `multi` has exactly as many channels as bindings ("Stereo48k":
 *   mic.c downmixes), but over a FIFO-fed file PCM it repeats frames, so that test
 *   checks the level only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/error.h>
#include <portaudio.h>

#include "base/error.h"
#include "pipeline/mic.h"

#define RATE       16000 /* what every test asks for */
#define TONE_HZ    440.0
#define WATCHDOG_S 60
/* a blocked read must wake well within this after an abort */
#define PROMPT_US 200000
/* capture times may stray this far from the sample count: the feeder thread's and
 * PortAudio's scheduling jitter, which reached 77 ms on a machine loaded 10 times
 * over its 2 cores; a wrong rate or a lost mapping still shows (10 % off over the
 * 2 s of a test is 200 ms) */
#define TIME_TOLERANCE_US 150000
/* a late feeder makes the file PCM repeat stale frames, whose phase jumps add zero
 * crossings (450 Hz was measured under that load); a conversion at the wrong rate
 * would be off by a factor of 3 (48 kHz read as 16 kHz) or more */
#define TONE_TOLERANCE_HZ 25.0

/* Writes one FIFO at real time: a tone on each channel, then silence. */
struct feeder {
    const char *name; /* the FIFO's file name */
    int rate, channels;
    double amp[2];    /* tone amplitude per channel, full scale 1 */
    long tone_frames; /* then silence */
    int fd;           /* read-write, so that opening the infile never blocks */
    pthread_t thread;
    atomic_int paused;
    atomic_int quit;
    long frame; /* feeder thread only */
};

static char dir[64];
static char conf_path[128];
static struct feeder mono16k = {.name = "mic16k.fifo", .rate = 16000, .channels = 1};
static struct feeder mono48k = {.name = "m48k.fifo", .rate = 48000, .channels = 1};
static struct feeder stereo48k = {.name = "st48k.fifo", .rate = 48000, .channels = 2};

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_us(int64_t us)
{
    struct timespec ts = {.tv_sec = (time_t)(us / 1000000), .tv_nsec = (long)(us % 1000000) * 1000};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void *feeder_main(void *arg)
{
    struct feeder *f = arg;
    int chunk = f->rate / 100;
    int16_t buf[480 * 2];
    struct timespec next;

    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!atomic_load(&f->quit)) {
        struct timespec now;

        if (!atomic_load(&f->paused)) {
            for (int i = 0; i < chunk; i++, f->frame++)
                for (int c = 0; c < f->channels; c++) {
                    double v = f->frame < f->tone_frames
                                   ? f->amp[c] * sin(2 * M_PI * TONE_HZ * f->frame / f->rate)
                                   : 0;

                    buf[i * f->channels + c] = (int16_t)lrint(v * 32767);
                }
            /* a short write can only mean nobody reads: the next chunk tries again */
            (void)!write(f->fd, buf, (size_t)chunk * (size_t)f->channels * sizeof(buf[0]));
        }
        /* an absolute schedule, so that sleeping late does not slow the stream down */
        next.tv_nsec += 10000000;
        if (next.tv_nsec >= 1000000000) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > next.tv_sec + 1)
            next = now; /* stopped for a long while (a debugger): do not burst */
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    return NULL;
}

/* Empties the FIFO, so that a stream starts on fresh data. */
static void drain(struct feeder *f)
{
    char junk[4096];

    while (read(f->fd, junk, sizeof(junk)) > 0)
        ;
}

/* Starts the feeder paused: the microphone opens on an empty FIFO. */
static void feeder_start(struct feeder *f, double amp_left, double amp_right, double tone_s)
{
    f->amp[0] = amp_left;
    f->amp[1] = amp_right;
    f->tone_frames = lrint(tone_s * f->rate);
    f->frame = 0;
    atomic_store(&f->paused, 1);
    atomic_store(&f->quit, 0);
    drain(f);
    assert_int_equal(pthread_create(&f->thread, NULL, feeder_main, f), 0);
}

static void feeder_stop(struct feeder *f)
{
    atomic_store(&f->quit, 1);
    pthread_join(f->thread, NULL);
    drain(f);
}

static void write_config(void)
{
    FILE *fp = fopen(conf_path, "w");

    assert_non_null(fp);
    fprintf(fp,
            "pcm.null { type null }\n"
            "pcm.avfuse_mic16k_raw {\n"
            "    type file\n"
            "    slave.pcm \"null\"\n"
            "    file \"/dev/null\"\n"
            "    infile \"%s/%s\"\n"
            "    format \"raw\"\n"
            "}\n"
            "# the default input: the FIFO holds mono S16_LE at 16 kHz\n"
            "pcm.!default {\n"
            "    type plug\n"
            "    slave { pcm \"avfuse_mic16k_raw\" format S16_LE rate 16000 channels 1 }\n"
            "}\n"
            "pcm.avfuse_m48k_raw {\n"
            "    type file\n"
            "    slave.pcm \"null\"\n"
            "    file \"/dev/null\"\n"
            "    infile \"%s/%s\"\n"
            "    format \"raw\"\n"
            "}\n"
            "# 48 kHz only: no rate converter by that name exists\n"
            "pcm.avfuse_mono48k {\n"
            "    type plug\n"
            "    slave { pcm \"avfuse_m48k_raw\" format S16_LE rate 48000 channels 1 }\n"
            "    rate_converter \"avfuse_none\"\n"
            "}\n"
            "pcm.avfuse_st48k_raw {\n"
            "    type file\n"
            "    slave.pcm \"null\"\n"
            "    file \"/dev/null\"\n"
            "    infile \"%s/%s\"\n"
            "    format \"raw\"\n"
            "}\n"
            "pcm.avfuse_st48k_fixed {\n"
            "    type plug\n"
            "    slave { pcm \"avfuse_st48k_raw\" format S16_LE rate 48000 channels 2 }\n"
            "    rate_converter \"avfuse_none\"\n"
            "}\n"
            "# stereo only: multi has as many channels as bindings\n"
            "pcm.Stereo48k {\n"
            "    type multi\n"
            "    slaves.a { pcm \"avfuse_st48k_fixed\" channels 2 }\n"
            "    bindings.0 { slave a channel 0 }\n"
            "    bindings.1 { slave a channel 1 }\n"
            "}\n",
            dir, mono16k.name, dir, mono48k.name, dir, stereo48k.name);
    assert_int_equal(fclose(fp), 0);
}

static void open_fifo(struct feeder *f)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/%s", dir, f->name);
    assert_int_equal(mkfifo(path, 0600), 0);
    f->fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    assert_true(f->fd >= 0);
}

static void close_fifo(struct feeder *f)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/%s", dir, f->name);
    close(f->fd);
    unlink(path);
}

static void watchdog_fired(int sig)
{
    static const char msg[] = "test_mic: a test ran past the watchdog, capture stuck?\n";

    (void)sig;
    (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
    _exit(1);
}

/* Before PortAudio starts: the FIFOs, the ALSA configuration, a watchdog. */
static int group_setup(void **state)
{
    const char *tmp = getenv("TMPDIR");
    struct sigaction sa = {.sa_handler = watchdog_fired};

    (void)state;
    snprintf(dir, sizeof(dir), "%s/avfuse-mic-XXXXXX", tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return -1;
    open_fifo(&mono16k);
    open_fifo(&mono48k);
    open_fifo(&stereo48k);
    snprintf(conf_path, sizeof(conf_path), "%s/asound.conf", dir);
    write_config();
    setenv("ALSA_CONFIG_PATH", conf_path, 1);
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    alarm(WATCHDOG_S);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    alarm(0);
    close_fifo(&mono16k);
    close_fifo(&mono48k);
    close_fifo(&stereo48k);
    unlink(conf_path);
    rmdir(dir);
    return 0;
}

/* One capture: the samples and, for each read, its time and first sample's index. */
#define MAX_SAMPLES (3 * RATE)
#define MAX_READS   4096
struct capture {
    float x[MAX_SAMPLES];
    int n;
    int64_t t[MAX_READS];
    int first[MAX_READS];
    int nb_reads;
};

/* Reads until `samples` samples came; every read must succeed within a second. */
static void capture(avf_mic *m, struct capture *c, int samples)
{
    c->n = 0;
    c->nb_reads = 0;
    while (c->n < samples) {
        int64_t t;
        int max = samples - c->n < 1000 ? samples - c->n : 1000;
        int ret = avf_mic_read(m, c->x + c->n, max, 1000000, &t);

        if (ret <= 0) {
            char err[128];

            fail_msg("read after %d samples: %s", c->n, avf_strerror(ret, err, sizeof(err)));
        }
        assert_true(ret <= max);
        assert_true(c->nb_reads < MAX_READS);
        c->t[c->nb_reads] = t;
        c->first[c->nb_reads++] = c->n;
        c->n += ret;
    }
}

static double rms(const float *x, int n)
{
    double sum = 0;

    for (int i = 0; i < n; i++)
        sum += (double)x[i] * x[i];
    return sqrt(sum / n);
}

/* Frequency from the rising zero crossings, interpolated between samples. */
static double frequency(const float *x, int n, int rate)
{
    double first = -1, last = -1;
    int crossings = 0;

    for (int i = 1; i < n; i++)
        if (x[i - 1] < 0 && x[i] >= 0) {
            double at = i - 1 + x[i - 1] / (x[i - 1] - x[i]);

            if (first < 0)
                first = at;
            else
                crossings++;
            last = at;
        }
    return crossings > 0 ? crossings * rate / (last - first) : 0;
}

/*
 * A tone of amplitude `amp` from the start (give or take the stale buffers PortAudio
 * begins with) for tone_s seconds, then silence; capture times that follow the
 * sample count at RATE.
 */
static void check_capture(const struct capture *c, double amp, double tone_s)
{
    int onset = 0, len = (int)(0.8 * RATE);
    double f, level, drift_min = 1e9, drift_max = -1e9;

    while (onset < c->n && fabsf(c->x[onset]) < 0.05f * amp)
        onset++;
    print_message("onset after %d samples\n", onset);
    assert_true(onset < RATE / 10);
    f = frequency(c->x + onset + RATE / 10, len, RATE);
    level = rms(c->x + onset + RATE / 10, len);
    print_message("tone: %.2f Hz, rms %.4f (expected %.4f)\n", f, level, amp / sqrt(2));
    assert_true(fabs(f - TONE_HZ) < TONE_TOLERANCE_HZ);
    assert_true(fabs(level - amp / sqrt(2)) < 0.02 * amp);
    if (c->n >= onset + (int)((tone_s + 0.1) * RATE) + len / 2) {
        level = rms(c->x + onset + (int)((tone_s + 0.1) * RATE), len / 2);
        print_message("silence: rms %.6f\n", level);
        assert_true(level < 1e-3);
    }
    for (int k = 1; k < c->nb_reads; k++) {
        double drift = (double)(c->t[k] - c->t[0]) - (c->first[k] - c->first[0]) * 1e6 / RATE;

        drift_min = fmin(drift_min, drift);
        drift_max = fmax(drift_max, drift);
    }
    print_message("%d reads, capture time - sample time: %.1f to %.1f ms\n", c->nb_reads,
                  drift_min / 1000, drift_max / 1000);
    assert_true(drift_min > -TIME_TOLERANCE_US && drift_max < TIME_TOLERANCE_US);
}

static struct capture cap; /* too big for a stack */

static void test_missing_device_named(void **state)
{
    avf_mic *m = NULL;
    char why[512] = "";

    (void)state;
    assert_int_equal(avf_mic_open(&m, "no-such-mic", RATE, why, sizeof(why)), AVERROR(ENODEV));
    print_message("%s\n", why);
    assert_null(m);
    assert_non_null(strstr(why, "'no-such-mic'"));
    /* the message lists what there is */
    assert_non_null(strstr(why, "Stereo48k"));
    assert_non_null(strstr(why, "default"));

    assert_int_equal(avf_mic_open(&m, "48K", RATE, why, sizeof(why)), AVERROR(EINVAL));
    print_message("%s\n", why);
    assert_non_null(strstr(why, "'48K' matches several"));
    assert_null(m);

    assert_int_equal(avf_mic_open(&m, "9999", RATE, why, sizeof(why)), AVERROR(ENODEV));
    assert_non_null(strstr(why, "'9999'"));
    assert_int_equal(avf_mic_open(&m, "default", 0, why, sizeof(why)), AVERROR(EINVAL));
    assert_int_equal(avf_mic_open(&m, "", RATE, why, sizeof(why)), AVERROR(EINVAL));
    assert_null(m);
    avf_mic_free(NULL);
    avf_mic_free(&m);
}

static void test_tone_then_silence(void **state)
{
    avf_mic *m = NULL;
    char why[512] = "";

    (void)state;
    feeder_start(&mono16k, 0.5, 0, 1.0);
    assert_int_equal(avf_mic_open(&m, "default", RATE, why, sizeof(why)), 0);
    atomic_store(&mono16k.paused, 0);
    capture(m, &cap, (int)(2.1 * RATE));
    check_capture(&cap, 0.5, 1.0);
    assert_int_equal(avf_mic_overflows(m), 0);
    avf_mic_free(&m);
    assert_null(m);
    feeder_stop(&mono16k);
}

/* A device that only captures at 48 kHz: mic.c resamples to 16 kHz. */
static void test_resamples_48k(void **state)
{
    avf_mic *m = NULL;
    char why[512] = "";

    (void)state;
    feeder_start(&mono48k, 0.5, 0, 1.0);
    assert_int_equal(avf_mic_open(&m, "avfuse_mono48k", RATE, why, sizeof(why)), 0);
    atomic_store(&mono48k.paused, 0);
    capture(m, &cap, (int)(1.6 * RATE));
    check_capture(&cap, 0.5, 1.0);
    avf_mic_free(&m);
    feeder_stop(&mono48k);
}

/*
 * A stereo-only device at 48 kHz: mic.c captures both channels and mixes them
 * (L+R)/2. The multi plugin that makes the device stereo-only repeats frames of a
 * FIFO-fed file PCM, so only the level is checked here: the left channel alone
 * would be 0.6, the sum of both 0.8, the mix 0.4 (all as peak amplitudes).
 */
static void test_downmixes_stereo(void **state)
{
    avf_mic *m = NULL;
    char why[512] = "";
    double level;

    (void)state;
    feeder_start(&stereo48k, 0.6, 0.2, 10.0);
    /* by a case-insensitive part of its name */
    assert_int_equal(avf_mic_open(&m, "stereo", RATE, why, sizeof(why)), 0);
    atomic_store(&stereo48k.paused, 0);
    capture(m, &cap, RATE / 2);
    level = rms(cap.x + RATE / 10, RATE / 4);
    print_message("rms %.4f (expected %.4f)\n", level, 0.4 / sqrt(2));
    assert_true(fabs(level - 0.4 / sqrt(2)) < 0.01);
    avf_mic_free(&m);
    feeder_stop(&stereo48k);
}

struct blocked_read {
    avf_mic *m;
    atomic_int done;
    int ret;
    int64_t returned_us;
};

static void *blocked_read_main(void *arg)
{
    struct blocked_read *b = arg;
    float buf[256];
    int64_t t;

    b->ret = avf_mic_read(b->m, buf, 256, 10000000, &t);
    b->returned_us = now_us();
    atomic_store(&b->done, 1);
    return NULL;
}

static void test_timeout_and_abort(void **state)
{
    avf_mic *m = NULL;
    char why[512] = "";
    struct blocked_read b = {0};
    pthread_t thread;
    float buf[16];
    int64_t t, start, aborted_at;

    (void)state;
    /* the feeder stays paused: nothing comes in */
    feeder_start(&mono16k, 0.5, 0, 1.0);
    assert_int_equal(avf_mic_open(&m, "default", RATE, why, sizeof(why)), 0);

    start = now_us();
    assert_int_equal(avf_mic_read(m, buf, 16, 150000, &t), AVERROR(ETIMEDOUT));
    print_message("timed out after %.1f ms\n", (now_us() - start) / 1000.0);
    assert_true(now_us() - start >= 150000);
    assert_true(now_us() - start < 150000 + PROMPT_US);
    assert_int_equal(avf_mic_read(m, buf, 16, 0, &t), AVERROR(ETIMEDOUT));

    b.m = m;
    assert_int_equal(pthread_create(&thread, NULL, blocked_read_main, &b), 0);
    sleep_us(100000);
    assert_false(atomic_load(&b.done));
    aborted_at = now_us();
    avf_mic_abort(m);
    for (int i = 0; i < 100 && !atomic_load(&b.done); i++)
        sleep_us(10000);
    assert_true(atomic_load(&b.done));
    pthread_join(thread, NULL);
    print_message("read returned %.2f ms after the abort\n", (b.returned_us - aborted_at) / 1e3);
    assert_int_equal(b.ret, AVF_EOS);
    assert_true(b.returned_us - aborted_at < PROMPT_US);
    /* and every later read too, even with data waiting */
    atomic_store(&mono16k.paused, 0);
    sleep_us(50000);
    assert_int_equal(avf_mic_read(m, buf, 16, 1000000, &t), AVF_EOS);
    avf_mic_free(&m);
    feeder_stop(&mono16k);
}

/* The last free terminates PortAudio and the next open starts it again. */
static void test_reopen(void **state)
{
    (void)state;
    feeder_start(&mono16k, 0.5, 0, 10.0);
    for (int round = 0; round < 2; round++) {
        avf_mic *m = NULL;
        char why[512] = "";

        assert_int_equal(avf_mic_open(&m, "default", RATE, why, sizeof(why)), 0);
        atomic_store(&mono16k.paused, 0);
        capture(m, &cap, RATE / 2);
        avf_mic_free(&m);
        assert_null(m);
        atomic_store(&mono16k.paused, 1);
        sleep_us(30000);
        drain(&mono16k);
    }
    feeder_stop(&mono16k);
}

struct concurrent {
    const char *device;
    int ret;
    int samples;
    char why[512];
};

static void *concurrent_main(void *arg)
{
    struct concurrent *c = arg;
    avf_mic *m = NULL;
    float buf[800];
    int64_t t;

    c->ret = avf_mic_open(&m, c->device, RATE, c->why, sizeof(c->why));
    while (c->ret >= 0 && c->samples < RATE / 4) {
        c->ret = avf_mic_read(m, buf, 800, 1000000, &t);
        if (c->ret > 0)
            c->samples += c->ret;
    }
    avf_mic_free(&m);
    return NULL;
}

/* Two microphones opened, read and freed at once from two threads; one by index. */
static void test_concurrent_and_index(void **state)
{
    struct concurrent c[2] = {{.device = "default"}, {.device = NULL}};
    char index[16];
    pthread_t threads[2];
    avf_mic *first = NULL;
    char why[512] = "";

    (void)state;
    feeder_start(&mono16k, 0.5, 0, 10.0);
    feeder_start(&stereo48k, 0.5, 0.5, 10.0);
    atomic_store(&mono16k.paused, 0);
    atomic_store(&stereo48k.paused, 0);
    /* PortAudio is running while one microphone is open: look up an index */
    assert_int_equal(avf_mic_open(&first, "default", RATE, why, sizeof(why)), 0);
    snprintf(index, sizeof(index), "-1");
    for (int i = 0; i < Pa_GetDeviceCount(); i++)
        if (!strcmp(Pa_GetDeviceInfo(i)->name, "Stereo48k"))
            snprintf(index, sizeof(index), "%d", i);
    avf_mic_free(&first);
    c[1].device = index;

    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, concurrent_main, &c[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
        print_message("'%s': %d samples%s%s\n", c[i].device, c[i].samples,
                      c[i].ret < 0 ? ", failed: " : "", c[i].ret < 0 ? c[i].why : "");
        assert_true(c[i].ret > 0);
        assert_true(c[i].samples >= RATE / 4);
    }
    feeder_stop(&mono16k);
    feeder_stop(&stereo48k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_device_named), cmocka_unit_test(test_tone_then_silence),
        cmocka_unit_test(test_resamples_48k),        cmocka_unit_test(test_downmixes_stereo),
        cmocka_unit_test(test_timeout_and_abort),    cmocka_unit_test(test_reopen),
        cmocka_unit_test(test_concurrent_and_index),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
