/*
 * test_source.c - pipeline/source.c: what opening an input may and may not do.
 *
 * Promised: a process that opens no capture device never maps libavdevice (its
 * start-up memory, docs/performance.md); the first source that names a format
 * loads it and finds libavdevice's formats (V4L2 here, on a device path that does
 * not exist, so the open fails for that reason and not for the format); a format
 * no library has is a configuration error.
 *
 * A FIFO is opened without blocking: with no writer, the open ends as a timeout
 * within io_timeout, or at once when stopped; a writer that comes later is read
 * to its end, and one that stalls half-way times out like a network peer. A nested resource (an HLS
 * segment) that cannot be resolved is refused, while a missing input itself still says "No such
 * file".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/time.h>

#include "base/error.h"
#include "pipeline/source.h"

/* Non-zero when a library whose path contains name is mapped into this process. */
static int mapped(const char *name)
{
    char line[4096];
    int found = 0;
    FILE *f = fopen("/proc/self/maps", "r");

    assert_non_null(f);
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, name) != NULL;
    fclose(f);
    return found;
}

static int open_with_format(const char *url, const char *format)
{
    avf_source_options opt = {.kind = AVF_SOURCE_DEVICE, .format = format};
    avf_source *src = NULL;
    int ret = avf_source_open(&src, url, &opt);

    if (ret == 0)
        avf_source_free(&src);
    assert_null(src);
    return ret;
}

static void test_libavdevice_loaded_on_first_use(void **state)
{
    int ret;

    (void)state;
    assert_false(mapped("libavdevice"));
    assert_null(av_find_input_format("video4linux2"));

    ret = open_with_format("/nonexistent/video99", "video4linux2");
    assert_true(ret < 0);
    assert_int_not_equal(ret, AVF_ERR_CONFIG); /* the format was found; the device was not */
    assert_true(mapped("libavdevice"));
    assert_non_null(av_find_input_format("video4linux2"));

    assert_int_equal(open_with_format("/nonexistent/video99", "no-such-format"), AVF_ERR_CONFIG);
}

/* A folder of the test's own, removed (with what the tests left in it) at the end. */
static char folder[] = "/tmp/avfuse-test-source-XXXXXX";

static int make_folder(void **state)
{
    (void)state;
    return mkdtemp(folder) ? 0 : -1;
}

static int remove_folder(void **state)
{
    char cmd[sizeof(folder) + 16];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", folder);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_in_folder(char *path, size_t size, const char *name)
{
    snprintf(path, size, "%s/%s", folder, name);
}

/* avf_source_open() in a thread of its own, so that a test sees it block. */
typedef struct opener {
    char url[256];
    avf_source_options opt;
    atomic_int stop;
    int ret;
    atomic_int done;
    int64_t took_us;
} opener;

static void *open_main(void *arg)
{
    opener *o = arg;
    int64_t start = av_gettime_relative();
    avf_source *src = NULL;

    o->opt.stop = &o->stop;
    o->ret = avf_source_open(&src, o->url, &o->opt);
    if (o->ret == 0) {
        AVPacket *pkt = av_packet_alloc();
        int n = 0;

        while ((o->ret = avf_source_read(src, pkt)) == 0) {
            av_packet_unref(pkt);
            n++;
        }
        o->ret = o->ret == AVF_EOS ? n : o->ret; /* packets read to the end */
        av_packet_free(&pkt);
        avf_source_free(&src);
    }
    o->took_us = av_gettime_relative() - start;
    atomic_store(&o->done, 1);
    return NULL;
}

/*
 * Waits up to limit_us for the opener. One that is still blocked (in open(2) of a
 * FIFO without a writer) is set free by opening the FIFO's other end, and the test
 * fails.
 */
static void wait_opener(pthread_t thread, opener *o, int64_t limit_us)
{
    int64_t until = av_gettime_relative() + limit_us;
    int blocked;

    while (!atomic_load(&o->done) && av_gettime_relative() < until)
        av_usleep(10000);
    blocked = !atomic_load(&o->done);
    if (blocked) {
        int fd = open(o->url, O_WRONLY | O_NONBLOCK);

        if (fd >= 0)
            close(fd);
    }
    pthread_join(thread, NULL);
    if (blocked)
        fail_msg("avf_source_open(%s) was still blocked after %.1f s", o->url, limit_us / 1e6);
}

static void test_fifo_without_writer_times_out(void **state)
{
    opener o = {.opt = {.io_timeout_us = 300000, .kind = AVF_SOURCE_FILE}};
    pthread_t thread;

    (void)state;
    path_in_folder(o.url, sizeof(o.url), "nobody.ts");
    assert_int_equal(mkfifo(o.url, 0600), 0);
    assert_int_equal(pthread_create(&thread, NULL, open_main, &o), 0);
    wait_opener(thread, &o, 3000000);
    assert_int_equal(o.ret, AVERROR(ETIMEDOUT));
    assert_in_range(o.took_us, 250000, 2000000);
}

static void test_fifo_stopped_at_once(void **state)
{
    opener o = {.opt = {.io_timeout_us = 30000000, .kind = AVF_SOURCE_FILE}};
    pthread_t thread;

    (void)state;
    path_in_folder(o.url, sizeof(o.url), "stopped.ts");
    assert_int_equal(mkfifo(o.url, 0600), 0);
    assert_int_equal(pthread_create(&thread, NULL, open_main, &o), 0);
    av_usleep(200000);
    atomic_store(&o.stop, 1);
    wait_opener(thread, &o, 3000000);
    assert_int_equal(o.ret, AVF_EOS);
    assert_in_range(o.took_us, 150000, 1500000); /* its io_timeout is 30 s */
}

/* Where a writer writes, how long it waits before, and how long it stalls half-way. */
typedef struct writer_job {
    const char *path;
    int64_t delay_us, stall_us;
} writer_job;

/* Opens the FIFO for writing once it has a reader (within 2 s), or returns -1:
 * a blocking open would wait for ever for a reader that gave up already. */
static int open_writer(const char *path)
{
    for (int i = 0; i < 200; i++) {
        int fd = open(path, O_WRONLY | O_NONBLOCK);

        if (fd >= 0) {
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
            return fd;
        }
        av_usleep(10000);
    }
    return -1;
}

/* Writes 1 s of a 16 kHz mono WAV into a FIFO, a while after the reader opened it. */
static void *wav_writer(void *arg)
{
    static const uint8_t header[44] = {'R', 'I', 'F',  'F',  0x24, 0x7d, 0,   0,    'W',  'A', 'V',
                                       'E', 'f', 'm',  't',  ' ',  16,   0,   0,    0,    1,   0,
                                       1,   0,   0x80, 0x3e, 0,    0,    0,   0x7d, 0,    0,   2,
                                       0,   16,  0,    'd',  'a',  't',  'a', 0,    0x7d, 0,   0};
    static int16_t samples[16000];
    const writer_job *job = arg;
    int fd;

    av_usleep(job->delay_us);
    fd = open_writer(job->path);
    if (fd < 0)
        return NULL;
    for (int i = 0; i < 16000; i++)
        samples[i] = (int16_t)(8000 * ((i / 20) % 2 ? 1 : -1));
    if (write(fd, header, sizeof(header)) != sizeof(header))
        fprintf(stderr, "wav_writer: short write\n");
    /* in two parts, apart: the reader waits for the second */
    if (write(fd, samples, sizeof(samples) / 2) != sizeof(samples) / 2)
        fprintf(stderr, "wav_writer: short write\n");
    av_usleep(job->stall_us);
    if (write(fd, (char *)samples + sizeof(samples) / 2, sizeof(samples) / 2) !=
        sizeof(samples) / 2)
        fprintf(stderr, "wav_writer: short write\n");
    close(fd);
    return NULL;
}

static void test_fifo_written_later_is_read(void **state)
{
    opener o = {.opt = {.io_timeout_us = 2000000, .kind = AVF_SOURCE_FILE}};
    writer_job job = {o.url, 300000, 200000};
    pthread_t thread, writer;

    (void)state;
    path_in_folder(o.url, sizeof(o.url), "later.wav");
    assert_int_equal(mkfifo(o.url, 0600), 0);
    assert_int_equal(pthread_create(&thread, NULL, open_main, &o), 0);
    assert_int_equal(pthread_create(&writer, NULL, wav_writer, &job), 0);
    wait_opener(thread, &o, 5000000);
    pthread_join(writer, NULL);
    assert_true(o.ret > 0); /* packets, then the end */
}

/* A writer that stalls half-way: the open or a read times out, not waits for it. */
static void test_fifo_writer_stalls(void **state)
{
    opener o = {.opt = {.io_timeout_us = 500000, .kind = AVF_SOURCE_FILE}};
    writer_job job = {o.url, 0, 3000000};
    pthread_t thread, writer;

    (void)state;
    path_in_folder(o.url, sizeof(o.url), "stalls.wav");
    assert_int_equal(mkfifo(o.url, 0600), 0);
    assert_int_equal(pthread_create(&thread, NULL, open_main, &o), 0);
    assert_int_equal(pthread_create(&writer, NULL, wav_writer, &job), 0);
    wait_opener(thread, &o, 2500000);
    assert_int_equal(o.ret, AVERROR(ETIMEDOUT));
    assert_true(o.took_us < 2000000);
    pthread_join(writer, NULL); /* (its last write fails: the reader is gone) */
}

/* Opens url (a file input) with stderr captured into log; returns the open's result. */
static int open_logged(const char *url, char *log, size_t size)
{
    avf_source_options opt = {.io_timeout_us = 2000000, .kind = AVF_SOURCE_FILE};
    avf_source *src = NULL;
    FILE *capture = tmpfile();
    int saved = dup(2), ret;
    size_t n;

    assert_non_null(capture);
    fflush(stderr);
    dup2(fileno(capture), 2);
    ret = avf_source_open(&src, url, &opt);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    avf_source_free(&src);
    rewind(capture);
    n = fread(log, 1, size - 1, capture);
    log[n] = 0;
    fclose(capture);
    return ret;
}

static void test_unresolvable_nested_resource_refused(void **state)
{
    char path[256], log[4096];
    FILE *f;
    int ret;

    (void)state;
    /* the input itself: not found, and said so */
    path_in_folder(path, sizeof(path), "absent.ts");
    ret = open_logged(path, log, sizeof(log));
    assert_int_equal(ret, AVERROR(ENOENT));
    assert_null(strstr(log, "refused"));

    /* a segment that does not exist (yet): refused, not left to a later race */
    path_in_folder(path, sizeof(path), "missing.m3u8");
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
          "#EXTINF:2.0,\nnot-yet.ts\n#EXT-X-ENDLIST\n",
          f);
    fclose(f);
    ret = open_logged(path, log, sizeof(log));
    assert_true(ret < 0);
    if (!strstr(log, "refused to open"))
        fail_msg("the missing segment was not refused; the log said:\n%s", log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_libavdevice_loaded_on_first_use),
        cmocka_unit_test(test_fifo_without_writer_times_out),
        cmocka_unit_test(test_fifo_stopped_at_once),
        cmocka_unit_test(test_fifo_written_later_is_read),
        cmocka_unit_test(test_fifo_writer_stalls),
        cmocka_unit_test(test_unresolvable_nested_resource_refused),
    };

    signal(SIGPIPE, SIG_IGN); /* a writer whose reader gave up gets EPIPE */
    return cmocka_run_group_tests(tests, make_folder, remove_folder);
}
