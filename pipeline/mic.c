/*
 * mic.c - microphone capture through PortAudio: callback -> lock-free ring -> reader.
 *
 * The daemon's microphone sources need samples stamped on the cameras' clock
 * (CLOCK_MONOTONIC), reads that give up at a deadline or on a stop, and mono float at
 * the analysis rate whatever the device offers. PortAudio's callback runs on a
 * real-time thread, so it only copies: each buffer goes into a
 * single-producer single-consumer ring of 10 ms blocks with its capture time, and
 * one eventfd write wakes the reader. A full ring drops the incoming block (the
 * producer may not touch slots the reader owns, so the newest goes, not the oldest),
 * counts it and marks the next stored block as following a gap; a read never spans
 * such a gap. The reader converts whole blocks
 * (libswresample, only when the device cannot give mono at the rate) into a small
 * buffer it hands out from, and waits on the eventfd with ppoll() for the rest of
 * its deadline; an abort sets a flag and writes the same eventfd.
 *
 * Capture times: PortAudio gives the ADC time of a buffer's first frame and the
 * current time on its stream clock, whose origin belongs to the host API (ALSA takes
 * it from the PCM status timestamp, monotonic or gettimeofday() depending on the
 * plugin). The callback reads CLOCK_MONOTONIC at the same moment as currentTime, so
 * the mapping is redone for every buffer: t = now - (currentTime - inputBufferAdcTime),
 * and a step of the stream clock cannot shift the timeline. A host API that leaves
 * the times at 0 gets now minus the buffer's duration. Times are not smoothed: they
 * carry the callback's scheduling jitter, which the drift correction averages out.
 *
 * PortAudio is not thread-safe and has process-wide state: Pa_Initialize() and
 * Pa_Terminate() are reference counted under one mutex that also covers device
 * lookup and opening, starting and closing streams. Probing devices makes ALSA
 * ("ALSA lib pcm.c:...") and libjack ("jack server is not running") print to stderr;
 * both are routed to the log at debug level before the first Pa_Initialize().
 * PortAudio's own "Expression '...' failed" lines on a refused format cannot be
 * routed (its debug hook is not exported); they appear only when a device refuses
 * the first format tried.
 */
#include "pipeline/mic.h"

#include <alsa/asoundlib.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/mathematics.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
#include <portaudio.h>

#include "base/why.h"
#include "base/log.h"
#include "base/error.h"

#define BLOCKS_PER_SECOND 100 /* a ring block holds 10 ms, the callback's buffer size */
#define RING_SECONDS      2   /* how far the reader may fall behind before blocks drop */
/*
 * The device buffer PortAudio is asked for: three blocks ride out a late capture
 * thread, and the callback only copies. A larger one makes ALSA's period (hence the
 * callback's pace) several blocks long, which a device cannot notice but the test's
 * FIFO-fed PCMs do: they deliver one 10 ms block per period (tests/unit/test_mic.c).
 */
#define LATENCY_S 0.030
#define MIN_RATE  1000
#define MAX_RATE  384000

/* One ring slot's header; its samples live in avf_mic.samples. */
struct block {
    int64_t t_mono_us; /* capture time of the block's first frame */
    int nb_frames;
    int after_gap; /* frames were lost just before this block */
};

struct avf_mic {
    char name[128];              /* the device's PortAudio name; immutable after open */
    int rate;                    /* what the caller gets; immutable after open */
    int dev_rate;                /* what the device captures; immutable after open */
    int channels;                /* 1 or 2 as captured, interleaved; immutable after open */
    int block_frames, nb_blocks; /* immutable after open */
    PaStream *stream;            /* opened and closed under pa_lock */
    int wake_fd;  /* eventfd; written by the callback and abort, read by the reader */
    int holds_pa; /* this microphone holds a reference on PortAudio */

    /*
     * The ring. The callback fills slot write_count % nb_blocks, then publishes it by
     * advancing write_count (release); the reader reads the slot after seeing it
     * (acquire) and hands it back by advancing read_count (release).
     */
    struct block *blocks;
    float *samples;                   /* nb_blocks * block_frames * channels */
    atomic_uint_fast64_t write_count; /* stored by the callback only */
    atomic_uint_fast64_t read_count;  /* stored by the reader only */
    int gap_pending;                  /* callback thread only */

    /* Reader thread only: converted samples not handed out yet. */
    SwrContext *swr; /* NULL when the device gives mono at rate */
    float *conv;
    int conv_cap, conv_len, conv_pos;
    int64_t conv_t_us; /* capture time of conv[0] */

    atomic_uint_fast64_t overflows;
    atomic_int aborted;
    atomic_int finished; /* the stream stopped: device failure, or our own abort */
};

static pthread_mutex_t pa_lock = PTHREAD_MUTEX_INITIALIZER;
static int pa_users;      /* protected by pa_lock */
static int pa_hooks_done; /* protected by pa_lock */

static int64_t mono_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int pa_to_averror(PaError err)
{
    switch (err) {
    case paInsufficientMemory:
        return AVERROR(ENOMEM);
    case paDeviceUnavailable:
        return AVERROR(EBUSY);
    case paInvalidDevice:
        return AVERROR(ENODEV);
    case paInvalidSampleRate:
    case paInvalidChannelCount:
    case paSampleFormatNotSupported:
        return AVERROR(EINVAL);
    case paTimedOut:
        return AVERROR(ETIMEDOUT);
    default:
        return AVERROR(EIO);
    }
}

/* Pa_GetErrorText(), with the host API's own words for an unanticipated host error. */
static void pa_error_text(PaError err, char *buf, size_t size)
{
    const PaHostErrorInfo *host = Pa_GetLastHostErrorInfo();

    if (err == paUnanticipatedHostError && host && host->errorText && host->errorText[0])
        snprintf(buf, size, "%s (%s)", Pa_GetErrorText(err), host->errorText);
    else
        snprintf(buf, size, "%s", Pa_GetErrorText(err));
}

/* ALSA's error hook: what it would print to stderr goes to the log instead. */
__attribute__((format(printf, 5, 6))) static void
alsa_message(const char *file, int line, const char *function, int err, const char *fmt, ...)
{
    char text[512];
    va_list ap;

    if (avf_log_get_level() < AVF_LOG_DEBUG)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    avf_log(AVF_LOG_DEBUG, "mic", "alsa: %s:%d (%s) %s%s%s", file, line, function, text,
            err ? ": " : "", err ? snd_strerror(err) : "");
}

static void jack_message(const char *msg)
{
    avf_log(AVF_LOG_DEBUG, "mic", "jack: %s", msg);
}

typedef void (*jack_message_fn)(const char *msg);
typedef void (*jack_set_message_fn)(jack_message_fn fn);

/*
 * PortAudio's JACK host API tries to reach a JACK server at every Pa_Initialize(),
 * and libjack reports the failure on stderr. libjack is loaded when PortAudio was
 * built with JACK (Debian's is), so its hooks are looked up rather than linked: no
 * build dependency, and nothing to do when it is absent.
 */
static void route_jack_messages(void)
{
    static const char *const setters[] = {"jack_set_error_function", "jack_set_info_function"};

    for (size_t i = 0; i < sizeof(setters) / sizeof(setters[0]); i++) {
        void *sym = dlsym(RTLD_DEFAULT, setters[i]);
        jack_set_message_fn set;

        if (!sym)
            continue;
        memcpy(&set, &sym, sizeof(set)); /* POSIX: a data pointer may hold a function's */
        set(jack_message);
    }
}

/* Takes a reference on PortAudio's process state, starting it on the first one. */
static int pa_acquire(char *why, size_t why_size)
{
    PaError err = paNoError;

    pthread_mutex_lock(&pa_lock);
    if (!pa_hooks_done) {
        snd_lib_error_set_handler(alsa_message);
        route_jack_messages();
        pa_hooks_done = 1;
    }
    if (pa_users == 0)
        err = Pa_Initialize();
    if (err == paNoError)
        pa_users++;
    pthread_mutex_unlock(&pa_lock);
    if (err != paNoError) {
        avf_why(why, why_size, 0, "PortAudio did not start: %s", Pa_GetErrorText(err));
        return pa_to_averror(err);
    }
    return 0;
}

static void pa_release(void)
{
    pthread_mutex_lock(&pa_lock);
    if (--pa_users == 0)
        Pa_Terminate();
    pthread_mutex_unlock(&pa_lock);
}

static const PaDeviceInfo *input_info(PaDeviceIndex i)
{
    const PaDeviceInfo *info = Pa_GetDeviceInfo(i);

    return info && info->maxInputChannels > 0 ? info : NULL;
}

/* Writes the names of the input devices (those matching `part` when not NULL). */
static void list_inputs(const char *part, char *buf, size_t size)
{
    int n = Pa_GetDeviceCount();
    size_t len = 0;

    buf[0] = '\0';
    for (int i = 0; i < n && len + 1 < size; i++) {
        const PaDeviceInfo *info = input_info(i);
        int w;

        if (!info || (part && !strcasestr(info->name, part)))
            continue;
        w = snprintf(buf + len, size - len, "%s%s", len ? ", " : "", info->name);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    if (len == 0)
        snprintf(buf, size, "none");
}

/* Finds the input device a configured name means. Called with pa_lock held. */
static int find_device(const char *name, PaDeviceIndex *found, char *why, size_t why_size)
{
    int n = Pa_GetDeviceCount();
    int nb_matches = 0;
    char list[1024];
    char *end;
    long index;

    if (n < 0) {
        avf_why(why, why_size, 0, "PortAudio cannot list devices: %s", Pa_GetErrorText(n));
        return pa_to_averror(n);
    }
    if (!strcmp(name, "default")) {
        *found = Pa_GetDefaultInputDevice();
        if (*found != paNoDevice && input_info(*found))
            return 0;
        list_inputs(NULL, list, sizeof(list));
        avf_why(why, why_size, 0, "there is no default input device (inputs: %s)", list);
        return AVERROR(ENODEV);
    }
    for (int i = 0; i < n; i++) {
        const PaDeviceInfo *info = input_info(i);

        if (info && !strcmp(info->name, name)) {
            *found = i;
            return 0;
        }
    }
    for (int i = 0; i < n; i++) {
        const PaDeviceInfo *info = input_info(i);

        if (info && strcasestr(info->name, name)) {
            *found = i;
            nb_matches++;
        }
    }
    if (nb_matches == 1)
        return 0;
    if (nb_matches > 1) {
        list_inputs(name, list, sizeof(list));
        avf_why(why, why_size, 0, "'%s' matches several input devices: %s", name, list);
        return AVERROR(EINVAL);
    }
    errno = 0;
    index = strtol(name, &end, 10);
    if (name[0] >= '0' && name[0] <= '9' && *end == '\0' && errno == 0 && index < n) {
        if (input_info((PaDeviceIndex)index)) {
            *found = (PaDeviceIndex)index;
            return 0;
        }
        avf_why(why, why_size, 0, "device %ld ('%s') has no input channels", index,
                Pa_GetDeviceInfo((PaDeviceIndex)index)->name);
        return AVERROR(ENODEV);
    }
    list_inputs(NULL, list, sizeof(list));
    avf_why(why, why_size, 0, "no input device matches '%s' (inputs: %s)", name, list);
    return AVERROR(ENODEV);
}

/* The capture time of a buffer's first frame, on CLOCK_MONOTONIC. */
static int64_t capture_time_us(const avf_mic *m, const PaStreamCallbackTimeInfo *time_info,
                               unsigned long frames)
{
    int64_t now = mono_now_us();

    if (time_info && time_info->currentTime > 0 && time_info->inputBufferAdcTime > 0) {
        double age = time_info->currentTime - time_info->inputBufferAdcTime;

        if (age >= 0 && age < 10.0)
            return now - (int64_t)llrint(age * 1e6);
    }
    return now - (int64_t)frames * 1000000 / m->dev_rate;
}

static void wake_reader(avf_mic *m)
{
    uint64_t one = 1;

    (void)!write(m->wake_fd, &one, sizeof(one));
}

/* PortAudio's real-time callback: copies into the ring and returns. */
static int capture_cb(const void *input, void *output, unsigned long frames,
                      const PaStreamCallbackTimeInfo *time_info, PaStreamCallbackFlags flags,
                      void *opaque)
{
    avf_mic *m = opaque;
    const float *in = input;
    int64_t t = capture_time_us(m, time_info, frames);
    uint64_t w = atomic_load_explicit(&m->write_count, memory_order_relaxed);
    uint64_t lost = 0;

    (void)output;
    if (flags & paInputOverflow) {
        lost++;
        m->gap_pending = 1;
    }
    while (in && frames > 0) {
        int n = frames < (unsigned long)m->block_frames ? (int)frames : m->block_frames;
        uint64_t r = atomic_load_explicit(&m->read_count, memory_order_acquire);

        if (w - r >= (uint64_t)m->nb_blocks) {
            lost++;
            m->gap_pending = 1;
        } else {
            size_t slot = (size_t)(w % (uint64_t)m->nb_blocks);

            memcpy(m->samples + slot * (size_t)m->block_frames * (size_t)m->channels, in,
                   (size_t)n * (size_t)m->channels * sizeof(*in));
            m->blocks[slot].t_mono_us = t;
            m->blocks[slot].nb_frames = n;
            m->blocks[slot].after_gap = m->gap_pending;
            m->gap_pending = 0;
            atomic_store_explicit(&m->write_count, ++w, memory_order_release);
        }
        in += (size_t)n * (size_t)m->channels;
        frames -= (unsigned long)n;
        t += (int64_t)n * 1000000 / m->dev_rate;
    }
    if (lost)
        atomic_fetch_add_explicit(&m->overflows, lost, memory_order_relaxed);
    wake_reader(m);
    return paContinue;
}

/* Called by PortAudio when the stream stops, on its own (a device error) or ours. */
static void stream_finished_cb(void *opaque)
{
    avf_mic *m = opaque;

    atomic_store(&m->finished, 1);
    wake_reader(m);
}

/*
 * Opens the device at the first format it accepts: the requested rate before any
 * other (rate conversion costs more than a downmix), then its default rate, 48000
 * and 44100 Hz; for each, the preferred channel count first. Called with pa_lock held.
 */
static int open_stream(avf_mic *m, PaDeviceIndex dev, char *why, size_t why_size)
{
    const PaDeviceInfo *info = Pa_GetDeviceInfo(dev);
    int rates[4] = {m->rate, (int)lrint(info->defaultSampleRate), 48000, 44100};
    int chans[2] = {1, 0};
    PaError err = paNoError;
    char text[256];

    snprintf(m->name, sizeof(m->name), "%s", info->name);
    /* PortAudio gives a stereo-only device's left channel for mono: mix both instead */
    if (info->maxInputChannels == 2) {
        chans[0] = 2;
        chans[1] = 1;
    } else if (info->maxInputChannels > 2) {
        chans[1] = 2;
    }
    for (int r = 0; r < 4; r++) {
        int dup = rates[r] < MIN_RATE || rates[r] > MAX_RATE;

        for (int k = 0; k < r; k++)
            dup |= rates[k] == rates[r];
        for (int c = 0; c < 2 && !dup && chans[c]; c++) {
            PaStreamParameters in = {
                .device = dev,
                .channelCount = chans[c],
                .sampleFormat = paFloat32,
                .suggestedLatency = fmax(info->defaultLowInputLatency, LATENCY_S),
            };
            int block = rates[r] / BLOCKS_PER_SECOND;

            err = Pa_OpenStream(&m->stream, &in, NULL, rates[r], (unsigned long)block, paNoFlag,
                                capture_cb, m);
            if (err == paNoError) {
                m->dev_rate = rates[r];
                m->channels = chans[c];
                m->block_frames = block;
                return 0;
            }
            m->stream = NULL;
            pa_error_text(err, text, sizeof(text));
            avf_log(AVF_LOG_DEBUG, "mic", "'%s': %d channel(s) at %d Hz refused: %s", m->name,
                    chans[c], rates[r], text);
        }
    }
    pa_error_text(err, text, sizeof(text));
    return avf_why(why, why_size, pa_to_averror(err),
                   "input device '%s' captures neither mono nor stereo at %d Hz, %d Hz (its "
                   "default), 48000 or 44100 Hz: %s",
                   m->name, m->rate, rates[1], text);
}

/* The ring, the hand-out buffer and, when the device format differs, the resampler. */
static int setup_reader(avf_mic *m, char *why, size_t why_size)
{
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    AVChannelLayout in_layout;
    int ret;

    m->nb_blocks = RING_SECONDS * BLOCKS_PER_SECOND;
    m->blocks = calloc((size_t)m->nb_blocks, sizeof(*m->blocks));
    m->samples = calloc((size_t)m->nb_blocks * (size_t)m->block_frames * (size_t)m->channels,
                        sizeof(*m->samples));
    /* a block's worth of output plus the resampler's slack; more waits inside swr */
    m->conv_cap = (int)av_rescale_rnd(m->block_frames, m->rate, m->dev_rate, AV_ROUND_UP) + 256;
    m->conv = calloc((size_t)m->conv_cap, sizeof(*m->conv));
    if (!m->blocks || !m->samples || !m->conv) {
        avf_why(why, why_size, 0, "out of memory");
        return AVERROR(ENOMEM);
    }
    if (m->channels == 1 && m->dev_rate == m->rate)
        return 0;
    av_channel_layout_default(&in_layout, m->channels);
    ret = swr_alloc_set_opts2(&m->swr, &mono, AV_SAMPLE_FMT_FLT, m->rate, &in_layout,
                              AV_SAMPLE_FMT_FLT, m->dev_rate, 0, NULL);
    av_channel_layout_uninit(&in_layout);
    /* like decode.c: a downmix sums to at most 1, so stereo becomes (L+R)/2 */
    if (ret >= 0)
        ret = av_opt_set_double(m->swr, "rematrix_maxval", 1.0, 0);
    if (ret >= 0)
        ret = swr_init(m->swr);
    if (ret < 0) {
        char err[128];

        avf_why(why, why_size, 0, "cannot convert '%s' from %d channel(s) at %d Hz: %s", m->name,
                m->channels, m->dev_rate, avf_strerror(ret, err, sizeof(err)));
        return ret;
    }
    return 0;
}

/* Stops and frees whatever open got to; takes pa_lock itself. */
static void mic_destroy(avf_mic *m)
{
    if (m->stream) {
        /* abort: nothing captured still matters, and it does not wait for buffers */
        Pa_AbortStream(m->stream);
        pthread_mutex_lock(&pa_lock);
        Pa_CloseStream(m->stream);
        pthread_mutex_unlock(&pa_lock);
    }
    if (m->holds_pa)
        pa_release();
    swr_free(&m->swr);
    free(m->conv);
    free(m->samples);
    free(m->blocks);
    if (m->wake_fd >= 0)
        close(m->wake_fd);
    free(m);
}

int avf_mic_open(avf_mic **pm, const char *device, int rate, char *why, size_t why_size)
{
    avf_mic *m;
    PaDeviceIndex dev = paNoDevice;
    PaError err;
    int ret;

    if (!pm || !device || !device[0] || rate < MIN_RATE || rate > MAX_RATE) {
        avf_why(why, why_size, 0, "invalid microphone arguments (device '%s', rate %d Hz)",
                device ? device : "(null)", rate);
        return AVERROR(EINVAL);
    }
    m = calloc(1, sizeof(*m));
    if (!m) {
        avf_why(why, why_size, 0, "out of memory");
        return AVERROR(ENOMEM);
    }
    m->rate = rate;
    atomic_init(&m->write_count, 0);
    atomic_init(&m->read_count, 0);
    atomic_init(&m->overflows, 0);
    atomic_init(&m->aborted, 0);
    atomic_init(&m->finished, 0);
    m->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (m->wake_fd < 0) {
        ret = AVERROR(errno);
        avf_why(why, why_size, 0, "cannot create an eventfd: %s", strerror(errno));
        goto fail;
    }
    ret = pa_acquire(why, why_size);
    if (ret < 0)
        goto fail;
    m->holds_pa = 1;

    pthread_mutex_lock(&pa_lock);
    ret = find_device(device, &dev, why, why_size);
    if (ret >= 0)
        ret = open_stream(m, dev, why, why_size);
    if (ret >= 0)
        ret = setup_reader(m, why, why_size);
    if (ret >= 0) {
        err = Pa_SetStreamFinishedCallback(m->stream, stream_finished_cb);
        if (err == paNoError)
            err = Pa_StartStream(m->stream);
        if (err != paNoError) {
            char text[256];

            pa_error_text(err, text, sizeof(text));
            avf_why(why, why_size, 0, "input device '%s' does not start: %s", m->name, text);
            ret = pa_to_averror(err);
        }
    }
    pthread_mutex_unlock(&pa_lock);
    if (ret < 0)
        goto fail;

    if (m->swr)
        avf_log(AVF_LOG_INFO, "mic",
                "'%s': capturing %d channel(s) at %d Hz, converted to mono at %d Hz", m->name,
                m->channels, m->dev_rate, m->rate);
    else
        avf_log(AVF_LOG_INFO, "mic", "'%s': capturing mono at %d Hz", m->name, m->rate);
    *pm = m;
    return 0;

fail:
    mic_destroy(m);
    return ret;
}

/*
 * Refills the hand-out buffer from the oldest ring block. Returns 1 when a block was
 * taken, 0 when the ring is empty or the block follows a gap while the caller's read
 * already holds samples, or a negative error.
 */
static int take_block(avf_mic *m, int read_has_samples)
{
    uint64_t r = atomic_load_explicit(&m->read_count, memory_order_relaxed);
    uint64_t w = atomic_load_explicit(&m->write_count, memory_order_acquire);
    size_t slot;
    const struct block *b;
    const float *src;
    int n;

    if (r == w)
        return 0;
    slot = (size_t)(r % (uint64_t)m->nb_blocks);
    b = &m->blocks[slot];
    src = m->samples + slot * (size_t)m->block_frames * (size_t)m->channels;
    if (b->after_gap) {
        /* a read never spans a gap: the next one starts after it, with its own time */
        if (read_has_samples)
            return 0;
        /* what the resampler holds from before the gap is dropped, not smeared across it */
        if (m->swr) {
            int ret = swr_init(m->swr);

            if (ret < 0)
                return ret;
        }
    }
    if (m->swr) {
        const uint8_t *in_planes[1] = {(const uint8_t *)src};
        uint8_t *out_planes[1] = {(uint8_t *)m->conv};

        /* the next output sample is the resampler's delay older than the next input */
        m->conv_t_us = b->t_mono_us - swr_get_delay(m->swr, 1000000);
        n = swr_convert(m->swr, out_planes, m->conv_cap, in_planes, b->nb_frames);
        if (n < 0)
            return n;
    } else {
        memcpy(m->conv, src, (size_t)b->nb_frames * sizeof(*m->conv));
        m->conv_t_us = b->t_mono_us;
        n = b->nb_frames;
    }
    m->conv_len = n;
    m->conv_pos = 0;
    atomic_store_explicit(&m->read_count, r + 1, memory_order_release);
    return 1;
}

/* Hands out converted samples, taking blocks as needed; returns how many (0: none). */
static int take_samples(avf_mic *m, float *buf, int max, int64_t *t_mono_us)
{
    int out = 0;

    while (out < max) {
        int n = m->conv_len - m->conv_pos;

        if (n == 0) {
            int ret = take_block(m, out > 0);

            if (ret < 0)
                return ret;
            if (ret == 0)
                break;
            continue;
        }
        if (n > max - out)
            n = max - out;
        if (out == 0)
            *t_mono_us = m->conv_t_us + (int64_t)m->conv_pos * 1000000 / m->rate;
        memcpy(buf + out, m->conv + m->conv_pos, (size_t)n * sizeof(*buf));
        m->conv_pos += n;
        out += n;
    }
    return out;
}

int avf_mic_read(avf_mic *m, float *buf, int max, int64_t timeout_us, int64_t *t_mono_us)
{
    int64_t deadline;

    if (!m || !buf || max <= 0 || !t_mono_us)
        return AVERROR(EINVAL);
    deadline = mono_now_us() + (timeout_us > 0 ? timeout_us : 0);
    for (;;) {
        struct pollfd pfd = {.fd = m->wake_fd, .events = POLLIN};
        struct timespec wait;
        int64_t left;
        int n;

        if (atomic_load(&m->aborted))
            return AVF_EOS;
        n = take_samples(m, buf, max, t_mono_us);
        if (n != 0)
            return n;
        if (atomic_load(&m->finished)) {
            avf_log(AVF_LOG_DEBUG, "mic", "'%s': the stream stopped on its own", m->name);
            return AVERROR(EIO);
        }
        left = deadline - mono_now_us();
        if (left <= 0)
            return AVERROR(ETIMEDOUT);
        wait.tv_sec = (time_t)(left / 1000000);
        wait.tv_nsec = (long)(left % 1000000) * 1000;
        /* the eventfd counts every write since the last read: no wakeup is lost */
        if (ppoll(&pfd, 1, &wait, NULL) > 0) {
            uint64_t count;

            (void)!read(m->wake_fd, &count, sizeof(count));
        }
    }
}

void avf_mic_abort(avf_mic *m)
{
    if (!m)
        return;
    atomic_store(&m->aborted, 1);
    wake_reader(m);
}

uint64_t avf_mic_overflows(const avf_mic *m)
{
    return m ? atomic_load_explicit(&m->overflows, memory_order_relaxed) : 0;
}

void avf_mic_free(avf_mic **pm)
{
    if (!pm || !*pm)
        return;
    mic_destroy(*pm);
    *pm = NULL;
}
