/*
 * source.c - opens an input with libavformat and reads its packets.
 *
 * libavformat has no read timeout of its own: a stalled network peer blocks
 * av_read_frame() indefinitely. The interrupt callback here is the one place that
 * bounds every blocking call, by a deadline set before each call and by the abort
 * flag a stop sets from another thread. (RTSP's stream analysis gets half a
 * deadline of media, so that reaching the whole deadline means the camera is silent.)
 *
 * What an input may open is bounded twice. The protocol whitelist keeps a local
 * file from reaching the network and a network source from reaching local files.
 * And since an HLS playlist names further resources (playlists, segments, keys)
 * that libavformat opens through AVFormatContext.io_open, that callback is wrapped:
 * a network source may open resources on its own host only, a local file only
 * files inside its own folder (after resolving symlinks), so a playlist cannot
 * make the daemon fetch from arbitrary hosts or read arbitrary local files. The
 * concat demuxer opens its entries past io_open, so an ffconcat list is read here
 * first and each entry checked the same way. A refusal travels as EPERM; its words
 * are kept for the owner to report (libavformat may turn it into another error).
 *
 * A local input that is not a regular file (a FIFO, a character device) is opened
 * here, not by libavformat's file protocol: its open(2) would block until a writer
 * appears and its read(2)s until data does, where no interrupt callback reaches.
 * avfuse opens it non-blocking and reads it through poll() in short slices, under
 * the same deadline and stop flag as every other call.
 */
#include "pipeline/source.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavdevice/version.h>
#include <libavutil/avstring.h>
#include <libavutil/avutil.h>
#include <libavutil/dict.h>
#include <libavutil/mathematics.h>
#include <libavutil/time.h>

#include "base/log.h"
#include "pipeline/clock.h"
#include "base/error.h"

#define DEFAULT_IO_TIMEOUT_US (10 * AV_TIME_BASE)
#define FD_BUFFER_SIZE        32768
#define FD_POLL_SLICE_MS      20 /* how soon a read of a FIFO sees a stop or its deadline */

/* Local inputs may open local files only; network inputs network protocols only;
 * a capture device opens its device node itself, through no protocol at all. */
static const char local_whitelist[] = "file,pipe,crypto";
static const char network_whitelist[] =
    "http,https,httpproxy,tcp,tls,udp,rtp,rtsp,rtsps,srt,rtmp,rtmps,crypto";
static const char device_whitelist[] = "file";
static const char no_protocols[] = "none";

struct avf_source {
    AVFormatContext *fmt;  /* demux thread only, after open */
    avf_source_info info;  /* immutable after open */
    int64_t io_timeout_us; /* immutable after open */
    int video_index, audio_index;
    atomic_llong deadline; /* av_gettime_relative() microseconds */
    atomic_int aborted;
    const atomic_int *stop; /* the owner's stop flag, or NULL */
    int realtime;           /* immutable after open */
    int64_t pace_offset;    /* realtime: monotonic - timeline of the first packet */
    /* per chosen stream (video, audio): the end of its latest packet on the timeline
     * and the shift its discontinuities added, as the decoders' clocks absorb them
     * (clock.h), so that one timestamp an hour ahead does not pace an hour; the
     * demux thread only */
    int64_t packet_end[2], packet_shift[2];
    atomic_llong clock_offset; /* INT64_MAX until the first timed packet */
    /* where nested resources (HLS playlists, segments, keys) may come from: the
     * source's own host, or for a local file its own folder; "" = no limit */
    char origin_host[256];
    char origin_dir[PATH_MAX];
    /* words for the refusal behind the error of the call in progress (open or read):
     * libavformat only passes the errno on, or swallows it (an HLS segment that
     * fails is skipped); the thread in that call only */
    char why[PATH_MAX + 64];
    int at_end; /* the reading thread only: av_read_frame() reached the end */
    int (*default_io_open)(AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                           AVDictionary **options);
    /* a FIFO or device opened here (see the top): its descriptor, non-blocking, and
     * the I/O context that reads it; -1 and NULL otherwise */
    int fd;
    AVIOContext *fd_pb;
};

static int stopped(avf_source *src)
{
    return atomic_load(&src->aborted) || (src->stop && atomic_load(src->stop));
}

static int interrupt_cb(void *opaque)
{
    avf_source *src = opaque;

    return stopped(src) || av_gettime_relative() > atomic_load(&src->deadline);
}

static void arm_deadline(avf_source *src)
{
    atomic_store(&src->deadline, av_gettime_relative() + src->io_timeout_us);
}

int avf_url_is_local(const char *url)
{
    size_t n = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");

    if (n > 0 && !strncmp(url + n, "://", 3))
        return n == 4 && (!strncmp(url, "file", 4) || !strncmp(url, "pipe", 4));
    return 1; /* a path (which may hold ':'), or file:PATH, pipe:N */
}

int avf_url_is_rtsp(const char *url)
{
    return url && (!strncasecmp(url, "rtsp://", 7) || !strncasecmp(url, "rtsps://", 8));
}

/* Picks the best stream of a type that has a decoder; -1 if none. A picture larger
 * than AVF_MAX_PIXELS is refused: no camera makes one, and libavcodec would decode
 * (and conceal) every frame of it at full size, minutes and gigabytes for seconds
 * of a damaged or hostile file, to analyze it at 320 pixels wide. */
static int pick_stream(AVFormatContext *fmt, enum AVMediaType type, const char *url)
{
    int idx = av_find_best_stream(fmt, type, -1, -1, NULL, 0);
    const AVCodecParameters *par;

    if (idx < 0)
        return -1;
    par = fmt->streams[idx]->codecpar;
    if (fmt->streams[idx]->disposition & AV_DISPOSITION_ATTACHED_PIC)
        return -1;
    if (!avcodec_find_decoder(par->codec_id))
        return -1;
    if (type == AVMEDIA_TYPE_VIDEO && (int64_t)par->width * par->height > AVF_MAX_PIXELS) {
        avf_log(AVF_LOG_WARN, "source",
                "%s: a %dx%d video is over avfuse's limit of %d megapixels: left out", url,
                par->width, par->height, AVF_MAX_PIXELS / 1000000);
        return -1;
    }
    return idx;
}

/* avformat_find_stream_info() decodes a few frames of each stream: its decoders
 * refuse pictures over AVF_MAX_PIXELS (which pick_stream() then leaves out) instead
 * of spending seconds on each. */
static int find_stream_info(AVFormatContext *fmt)
{
    unsigned n = fmt->nb_streams;
    AVDictionary **opts = n ? calloc(n, sizeof(*opts)) : NULL;
    int ret;

    if (n && !opts)
        return AVERROR(ENOMEM);
    for (unsigned i = 0; i < n; i++)
        av_dict_set_int(&opts[i], "max_pixels", AVF_MAX_PIXELS, 0);
    ret = avformat_find_stream_info(fmt, opts);
    for (unsigned i = 0; i < n; i++)
        av_dict_free(&opts[i]);
    free(opts);
    return ret;
}

/* A declared end that the stream's own index overruns by more than this is wrong (a
 * damaged header, a muxer that died), not a trim of codec padding. */
#define DECLARED_END_SLACK_S 1

/* The declared end of a stream, when the container states it rather than guesses. */
static int64_t declared_end_us(const AVFormatContext *fmt, AVStream *st, int64_t origin)
{
    int n = avformat_index_get_entries_count(st);
    const AVIndexEntry *last = n > 0 ? avformat_index_get_entry(st, n - 1) : NULL;
    int64_t end;

    if (fmt->duration_estimation_method != AVFMT_DURATION_FROM_STREAM ||
        st->duration == AV_NOPTS_VALUE || st->duration <= 0 || st->start_time == AV_NOPTS_VALUE)
        return INT64_MAX;
    end = st->start_time + st->duration;
    if (last && last->timestamp != AV_NOPTS_VALUE &&
        av_compare_ts(last->timestamp - end, st->time_base, DECLARED_END_SLACK_S,
                      (AVRational){1, 1}) > 0)
        return INT64_MAX;
    return av_rescale_q(end, st->time_base, AV_TIME_BASE_Q) - origin;
}

/*
 * Where the input's content should end on the timeline, when its container states
 * it. An MP4's sample tables (read at open) list every sample: the file must hold
 * the last one of each stream (the headers' durations are not trusted: a track
 * header may claim 30 s over 10 s of samples). Other containers: the duration their
 * header gives (libavformat's "from stream", e.g. Matroska's); MPEG-TS, and WAV,
 * whose length libavformat takes from the file's size, only estimate it. INT64_MAX
 * when nothing is stated (a fragmented MP4, indexed only as it is read, included).
 */
static int64_t declared_input_end_us(const AVFormatContext *fmt, const avf_source_info *info)
{
    int64_t end = INT64_MIN;

    if (fmt->duration_estimation_method != AVFMT_DURATION_FROM_STREAM || fmt->duration <= 0)
        return INT64_MAX;
    if (strncmp(fmt->iformat->name, "mov,", 4))
        return fmt->duration + (fmt->start_time != AV_NOPTS_VALUE ? fmt->start_time : 0) -
               info->origin_us;
    for (int i = 0; i < 2; i++) {
        AVStream *st = (AVStream *)(i ? info->audio : info->video);
        int n = st ? avformat_index_get_entries_count(st) : 0;
        const AVIndexEntry *last = n > 0 ? avformat_index_get_entry(st, n - 1) : NULL;

        if (!st)
            continue;
        if (!last || last->timestamp == AV_NOPTS_VALUE || (fmt->flags & AVFMT_FLAG_IGNIDX))
            return INT64_MAX;
        end = FFMAX(end,
                    av_rescale_q(last->timestamp, st->time_base, AV_TIME_BASE_Q) - info->origin_us);
    }
    return end == INT64_MIN ? INT64_MAX : end;
}

static const char *whitelist(const char *url, enum avf_source_kind kind)
{
    switch (kind) {
    case AVF_SOURCE_FILE:
        return local_whitelist;
    case AVF_SOURCE_NETWORK:
        return avf_url_is_local(url) ? NULL : network_whitelist;
    case AVF_SOURCE_DEVICE:
        return device_whitelist;
    case AVF_SOURCE_AUTO:
        break;
    }
    return avf_url_is_local(url) ? local_whitelist : network_whitelist;
}

/* The path of a local url (a path, file:PATH, file://PATH), or NULL (pipe:). */
static const char *local_path(const char *url)
{
    if (!strncmp(url, "file://", 7))
        return url + 7;
    if (!strncmp(url, "file:", 5))
        return url + 5;
    if (!strncmp(url, "pipe:", 5))
        return NULL;
    return url;
}

/* Sets the origin of url: its host, or the folder of a local file. */
static void set_origin(avf_source *src, const char *url, int local)
{
    char proto[32], auth[8], path[8];
    int port;

    if (!local) {
        av_url_split(proto, sizeof(proto), auth, sizeof(auth), src->origin_host,
                     sizeof(src->origin_host), &port, path, sizeof(path), url);
        return;
    }
    url = local_path(url);
    if (url && realpath(url, src->origin_dir)) {
        char *slash = strrchr(src->origin_dir, '/');

        if (slash)
            slash[slash == src->origin_dir] = 0; /* keep "/" for a file in the root */
    } else {
        src->origin_dir[0] = 0; /* pipe:, or a path realpath() cannot resolve */
    }
}

/* 1 when url may be opened by an input of this source. */
static int within_origin(const avf_source *src, const char *url)
{
    const char *input = src->fmt ? src->fmt->url : NULL; /* the input itself */
    int is_input = input && !strcmp(url, input);
    char proto[32], auth[8], host[256], path[8], real[PATH_MAX];
    size_t n = strlen(src->origin_dir);
    int port;

    if (src->origin_host[0]) {
        av_url_split(proto, sizeof(proto), auth, sizeof(auth), host, sizeof(host), &port, path,
                     sizeof(path), url);
        return !strcasecmp(host, src->origin_host);
    }
    if (!n)
        return 1;
    url = local_path(url);
    /* what does not resolve now could by the time it is opened (a symlink put in
     * its place): refused, but for the input itself, whose open then says
     * "No such file" */
    if (!url || !realpath(url, real))
        return is_input;
    return !strncmp(real, src->origin_dir, n) && (real[n] == '/' || n == 1);
}

/* Logs and keeps the reason a resource was refused; returns the error to pass on. */
static int refuse(avf_source *src, const char *url)
{
    snprintf(src->why, sizeof(src->why), "refused to open %s: outside the source's %s", url,
             src->origin_host[0] ? "host" : "folder");
    avf_log(AVF_LOG_ERROR, "source", "%s", src->why);
    return AVERROR(EPERM);
}

/*
 * libavformat's concat demuxer opens its entries with avformat_open_input() of its
 * own, which does not go through io_open: its entries are checked here, before
 * the input is opened, against the source's folder. path is a local file; a
 * file that is not an ffconcat list (its probe wants this first line), or not a
 * regular file, passes.
 */
#define CONCAT_MAX_BYTES (16 << 20)

static int check_concat_list(avf_source *src, const char *path)
{
    static const char magic[] = "ffconcat version 1.0";
    char head[sizeof(magic) - 1], *text = NULL, *line, *save = NULL, dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    struct stat st;
    FILE *f;
    size_t n;
    int ret = 0;

    /* a FIFO or a device is read once, by libavformat: its bytes are not ours */
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return 0;
    f = fopen(path, "rb");
    if (!f)
        return 0; /* the open fails by itself, with its own reason */
    if (fread(head, 1, sizeof(head), f) != sizeof(head) || memcmp(head, magic, sizeof(head))) {
        fclose(f);
        return 0;
    }
    if (st.st_size > CONCAT_MAX_BYTES) {
        fclose(f);
        snprintf(src->why, sizeof(src->why), "an ffconcat list over %d MB is not read",
                 CONCAT_MAX_BYTES >> 20);
        return AVERROR(EFBIG);
    }
    text = malloc((size_t)st.st_size + 1);
    if (!text) {
        fclose(f);
        return AVERROR(ENOMEM);
    }
    rewind(f);
    n = fread(text, 1, (size_t)st.st_size, f);
    fclose(f);
    text[n] = 0;
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    for (line = strtok_r(text, "\r\n", &save); line && !ret; line = strtok_r(NULL, "\r\n", &save)) {
        const char *p = line + strspn(line, " \t");
        char *entry, full[PATH_MAX];
        int n_full;

        if (strncmp(p, "file", 4) || !strchr(" \t", p[4]) || !p[4])
            continue;
        p += 4 + strspn(p + 4, " \t");
        entry = av_get_token(&p, " \t"); /* quoting and escapes as the demuxer reads them */
        if (!entry) {
            ret = AVERROR(ENOMEM);
            break;
        }
        if (entry[0] == '/' || !strncmp(entry, "file:", 5))
            n_full = snprintf(full, sizeof(full), "%s", entry);
        else
            n_full = snprintf(full, sizeof(full), "%s/%s", dir, entry);
        if (n_full < 0 || (size_t)n_full >= sizeof(full) || !within_origin(src, full))
            ret = refuse(src, n_full >= 0 && (size_t)n_full < sizeof(full) ? full : entry);
        av_free(entry);
    }
    free(text);
    return ret;
}

/*
 * Reads a FIFO or device opened non-blocking. With no writer yet, poll() reports
 * nothing (a read would say end of file at once): the wait goes on in slices until
 * the deadline or a stop, as a network read's would. Once a writer has come and
 * gone, poll() reports a hang-up and the read its end.
 */
static int fd_read(void *opaque, uint8_t *buf, int size)
{
    avf_source *src = opaque;
    struct pollfd pfd = {.fd = src->fd, .events = POLLIN};

    for (;;) {
        ssize_t n;
        int ready;

        if (interrupt_cb(src))
            return AVERROR_EXIT;
        ready = poll(&pfd, 1, FD_POLL_SLICE_MS);
        if (ready < 0 && errno != EINTR)
            return AVERROR(errno);
        if (ready <= 0)
            continue;
        n = read(src->fd, buf, size);
        if (n > 0)
            return (int)n;
        if (n == 0)
            return AVERROR_EOF;
        if (errno != EAGAIN && errno != EINTR)
            return AVERROR(errno);
    }
}

/*
 * When url is a local FIFO or character device, opens it without blocking and
 * makes it the input's I/O context (src->fd, src->fd_pb). Returns 0 (opened, or not
 * such a file: libavformat opens it) or a negative error.
 */
static int open_special_file(avf_source *src, const char *url)
{
    const char *path = local_path(url);
    uint8_t *buf;
    struct stat st;

    if (!path || stat(path, &st) < 0 || !(S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)))
        return 0;
    src->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (src->fd < 0)
        return AVERROR(errno);
    buf = av_malloc(FD_BUFFER_SIZE);
    if (buf)
        src->fd_pb = avio_alloc_context(buf, FD_BUFFER_SIZE, 0, src, fd_read, NULL, NULL);
    if (!src->fd_pb) {
        av_free(buf);
        return AVERROR(ENOMEM);
    }
    src->fmt->pb = src->fd_pb;
    src->fmt->flags |= AVFMT_FLAG_CUSTOM_IO; /* avformat_close_input() leaves pb alone */
    return 0;
}

/* libavformat opens every resource of an input here, the first one included (but
 * for a FIFO or device, which open_special_file() opened). */
static int guarded_io_open(AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                           AVDictionary **options)
{
    avf_source *src = s->opaque;

    if (!within_origin(src, url))
        return refuse(src, url);
    return src->default_io_open(s, pb, url, flags, options);
}

/* libavdevice (V4L2, ALSA, ... input formats) is loaded only when a source names
 * a format: linked in, it and the libraries it pulls (libavfilter and its
 * dependencies) cost every process some 18 MB of resident memory at start, files
 * and network streams included (docs/performance.md, "avfuse against FFmpeg"). */
static char devices_error[256];

static void load_devices(void)
{
    static const char soname[] = "libavdevice.so." AV_STRINGIFY(LIBAVDEVICE_VERSION_MAJOR);
    void (*register_all)(void);
    void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);

    if (!lib) {
        snprintf(devices_error, sizeof devices_error, "%s", dlerror());
        return;
    }
    /* the library stays loaded: the formats it registers are used from now on */
    *(void **)&register_all = dlsym(lib, "avdevice_register_all");
    if (!register_all) {
        snprintf(devices_error, sizeof devices_error, "%s: no avdevice_register_all", soname);
        return;
    }
    register_all();
}

/*
 * What an input other than a capture device may open, set up before it is opened:
 * a local FIFO or device opened here, the guard on every nested resource, and an
 * ffconcat list's entries checked (probe: the input is probed as a file, and so
 * could be a list). Returns 0 or a negative error.
 */
static int guard_input(avf_source *src, const char *url, int local, int probe)
{
    int ret;

    if (local) {
        ret = open_special_file(src, url);
        if (ret < 0)
            return ret;
    }
    set_origin(src, url, local);
    src->default_io_open = src->fmt->io_open;
    src->fmt->opaque = src;
    src->fmt->io_open = guarded_io_open;
    if (src->origin_dir[0] && probe)
        return check_concat_list(src, local_path(url));
    return 0;
}

int avf_source_open(avf_source **psrc, const char *url, const avf_source_options *opt)
{
    enum avf_source_kind kind = opt ? opt->kind : AVF_SOURCE_AUTO;
    const char *allowed = whitelist(url, kind);
    const AVInputFormat *ifmt = NULL;
    AVDictionary *dict = NULL;
    avf_source *src;
    int rtsp, ret;

    if (!allowed)
        return AVF_ERR_CONFIG;
    if (opt && opt->format) {
        static pthread_once_t devices_once = PTHREAD_ONCE_INIT;

        pthread_once(&devices_once, load_devices);
        ifmt = av_find_input_format(opt->format);
        if (!ifmt) {
            avf_log(AVF_LOG_ERROR, "source", "%s: no input format '%s'%s%s", url, opt->format,
                    devices_error[0] ? "; capture devices unavailable: " : "", devices_error);
            return AVF_ERR_CONFIG;
        }
    }

    src = calloc(1, sizeof(*src));
    if (!src)
        return AVERROR(ENOMEM);
    src->io_timeout_us = opt && opt->io_timeout_us > 0 ? opt->io_timeout_us : DEFAULT_IO_TIMEOUT_US;
    src->video_index = src->audio_index = -1;
    src->fd = -1;
    src->stop = opt ? opt->stop : NULL;
    src->realtime = opt && opt->realtime;
    src->pace_offset = INT64_MIN;
    src->packet_end[0] = src->packet_end[1] = INT64_MIN;
    atomic_init(&src->clock_offset, INT64_MAX);
    src->fmt = avformat_alloc_context();
    if (!src->fmt) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    src->fmt->interrupt_callback.callback = interrupt_cb;
    src->fmt->interrupt_callback.opaque = src;
    if (opt && opt->pb) {
        /* the owner's bytes: no protocol at all for what they might name (the
         * whitelist is inherited by nested inputs, e.g. concat's, that bypass io_open) */
        allowed = no_protocols;
        src->fmt->pb = opt->pb;
        src->fmt->flags |= AVFMT_FLAG_CUSTOM_IO; /* avformat_close_input() leaves pb alone */
    }
    if (kind != AVF_SOURCE_DEVICE) {
        ret = guard_input(src, url, allowed == local_whitelist, !(opt && opt->pb) && !ifmt);
        if (ret < 0)
            goto fail;
    }
    av_dict_set(&dict, "protocol_whitelist", allowed, 0);
    rtsp = avf_url_is_rtsp(url);
    if (rtsp && opt && opt->rtsp_transport)
        av_dict_set(&dict, "rtsp_transport", opt->rtsp_transport, 0);
    arm_deadline(src);
    ret = avformat_open_input(&src->fmt, url, ifmt, &dict);
    av_dict_free(&dict);
    if (ret < 0)
        goto fail; /* avformat_open_input() freed the context */
    /* A camera that answers PLAY and then sends nothing leaves the stream analysis
     * waiting until the deadline, and it returns what the SDP said: the first read
     * would then wait a whole deadline more. A camera that sends is analysed in half
     * the deadline (RTSP runs on the wall clock), so one that reaches the deadline is
     * stalled. */
    if (rtsp)
        src->fmt->max_analyze_duration = src->io_timeout_us / 2;
    arm_deadline(src);
    ret = find_stream_info(src->fmt);
    if (ret >= 0 && rtsp && !stopped(src) && av_gettime_relative() > atomic_load(&src->deadline))
        ret = AVERROR(ETIMEDOUT);
    if (ret < 0)
        goto fail;

    src->video_index = pick_stream(src->fmt, AVMEDIA_TYPE_VIDEO, url);
    src->audio_index = pick_stream(src->fmt, AVMEDIA_TYPE_AUDIO, url);
    if (src->video_index < 0 && src->audio_index < 0) {
        ret = AVF_ERR_NOSTREAM;
        goto fail;
    }
    for (unsigned i = 0; i < src->fmt->nb_streams; i++)
        if ((int)i != src->video_index && (int)i != src->audio_index)
            src->fmt->streams[i]->discard = AVDISCARD_ALL;

    src->info.origin_us = INT64_MAX;
    src->info.video_limit_us = src->info.audio_limit_us = INT64_MAX;
    if (src->video_index >= 0)
        src->info.video = src->fmt->streams[src->video_index];
    if (src->audio_index >= 0)
        src->info.audio = src->fmt->streams[src->audio_index];
    for (int i = 0; i < 2; i++) {
        const AVStream *st = i ? src->info.audio : src->info.video;

        if (st && st->start_time != AV_NOPTS_VALUE)
            src->info.origin_us = FFMIN(
                src->info.origin_us, av_rescale_q(st->start_time, st->time_base, AV_TIME_BASE_Q));
    }
    if (src->info.origin_us == INT64_MAX)
        src->info.origin_us = 0;
    if (src->info.video)
        src->info.video_limit_us =
            declared_end_us(src->fmt, src->fmt->streams[src->video_index], src->info.origin_us);
    if (src->info.audio)
        src->info.audio_limit_us =
            declared_end_us(src->fmt, src->fmt->streams[src->audio_index], src->info.origin_us);
    src->info.duration_us = src->fmt->duration;
    src->info.declared_end_us = declared_input_end_us(src->fmt, &src->info);
    *psrc = src;
    return 0;
fail:
    if (ret == AVERROR_EXIT)
        ret = stopped(src) ? AVF_EOS : AVERROR(ETIMEDOUT);
    if (src->why[0] && opt && opt->why && opt->why_size > 0)
        snprintf(opt->why, opt->why_size, "%s", src->why);
    avf_source_free(&src);
    return ret;
}

void avf_source_free(avf_source **psrc)
{
    avf_source *src;

    if (!psrc || !*psrc)
        return;
    src = *psrc;
    avformat_close_input(&src->fmt);
    if (src->fd_pb) {
        av_freep(&src->fd_pb->buffer);
        avio_context_free(&src->fd_pb);
    }
    if (src->fd >= 0)
        close(src->fd);
    free(src);
    *psrc = NULL;
}

const avf_source_info *avf_source_get_info(const avf_source *src)
{
    return &src->info;
}

/* Waits in short slices, so a stop is seen within 20 ms. */
static int sleep_until(avf_source *src, int64_t t)
{
    for (;;) {
        int64_t left = t - av_gettime_relative();

        if (stopped(src))
            return AVF_EOS;
        if (left <= 0)
            return 0;
        av_usleep(left < 20000 ? left : 20000);
    }
}

/* Paces a realtime input and follows the timeline-to-monotonic mapping. */
static int clock_packet(avf_source *src, const AVPacket *pkt)
{
    const AVStream *st = src->fmt->streams[pkt->stream_index];
    int i = pkt->stream_index == src->video_index ? 0 : 1;
    int64_t ts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
    int64_t t, offset;

    if (ts == AV_NOPTS_VALUE)
        return 0;
    /* a packet's content is all there once it has arrived: what counts is its end,
     * the moment a live source could have delivered it at the earliest */
    t = av_rescale_q(ts + (pkt->duration > 0 ? pkt->duration : 0), st->time_base, AV_TIME_BASE_Q) -
        src->info.origin_us + src->packet_shift[i];
    if (src->packet_end[i] != INT64_MIN && (t - src->packet_end[i] > AVF_CLOCK_JUMP_US ||
                                            src->packet_end[i] - t > AVF_CLOCK_DISCONT_US)) {
        src->packet_shift[i] += src->packet_end[i] - t;
        t = src->packet_end[i];
    }
    src->packet_end[i] = t;
    if (src->realtime) {
        int ret;

        if (src->pace_offset == INT64_MIN)
            src->pace_offset = av_gettime_relative() - t;
        ret = sleep_until(src, t + src->pace_offset);
        if (ret < 0)
            return ret;
    }
    offset = av_gettime_relative() - t;
    if (offset < atomic_load(&src->clock_offset))
        atomic_store(&src->clock_offset, offset);
    return 0;
}

int avf_source_clock_offset(const avf_source *src, int64_t *offset_us)
{
    int64_t offset = atomic_load(&src->clock_offset);

    if (offset == INT64_MAX)
        return AVERROR(EAGAIN);
    *offset_us = offset;
    return 0;
}

int avf_source_read(avf_source *src, AVPacket *pkt)
{
    for (;;) {
        int ret;

        if (stopped(src))
            return AVF_EOS;
        arm_deadline(src);
        src->why[0] = 0;
        ret = av_read_frame(src->fmt, pkt);
        if (ret == AVERROR_EOF && !stopped(src))
            src->at_end = 1;
        if (ret == AVERROR_EOF || (ret == AVERROR_EXIT && stopped(src)))
            return AVF_EOS;
        if (ret == AVERROR_EXIT)
            return AVERROR(ETIMEDOUT);
        if (ret < 0)
            return ret;
        if (pkt->stream_index == src->video_index || pkt->stream_index == src->audio_index) {
            ret = clock_packet(src, pkt);
            if (ret < 0)
                av_packet_unref(pkt);
            return ret;
        }
        av_packet_unref(pkt);
    }
}

int avf_source_at_end(const avf_source *src)
{
    return src->at_end;
}

const char *avf_source_why(const avf_source *src)
{
    return src->why;
}

void avf_source_abort(avf_source *src)
{
    atomic_store(&src->aborted, 1);
}
