/*
 * avfuse.c - the command-line tool: `avfuse analyze FILE...`.
 *
 * analyze runs one pipeline per input, one input after another, and writes one
 * avfuse.segment.v1 JSON line per segment. An input that cannot be opened or
 * breaks down is named in one error line; the other inputs still run, and the
 * exit status says whether any failed. Later subcommands (watch, ctl, train,
 * eval) join the table in main().
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/avutil.h>
#include <libavutil/rational.h>

#include "commands.h"
#include "daemon/log.h"
#include "fusion/events.h"
#include "fusion/heads.h"
#include "fusion/message.h"
#include "fusion/tags.h"
#include "fusion/vector.h"
#include "pipeline/error.h"
#include "pipeline/scheduler.h"
#include "plugins/loader.h"

static void analyze_usage(FILE *f)
{
    fprintf(f, "usage: avfuse analyze [options] FILE...\n"
               "\n"
               "Cuts each input (a media file or a URL FFmpeg can open) into time segments\n"
               "and prints one avfuse.segment.v1 JSON line per segment.\n"
               "\n"
               "options:\n"
               "  --hop SECONDS        start of one segment to the next (default 1.0)\n"
               "  --len SECONDS        segment length, at least --hop (default 1.0)\n"
               "  --fps RATE           analysis frame rate (default 10)\n"
               "  --width PIXELS       analysis frames are at most this wide (default 320)\n"
               "  --min-partial SECONDS\n"
               "                       a last segment shorter than this is codec padding,\n"
               "                       not content, and is not printed (default 0.05)\n"
               "  --timeout SECONDS    give up on a read that takes longer (default 10)\n"
               "  --plugin-dir DIR     also load the feature plugins (*.so) in DIR; the\n"
               "                       folder must not be writable by others (repeatable)\n"
               "  --no-features        only cut segments: no feature extraction or tags\n"
               "  --model FILE         the model of the content and sentiment heads (default:\n"
               "                       $AVFUSE_MODEL, else the installed default model, else\n"
               "                       models/default.model of the tree it was built from)\n"
               "  --events             also print avfuse.event.v1 lines (tag start/end)\n"
               "  --source NAME        source name in the messages ([A-Za-z0-9_-]{1,64});\n"
               "                       default: the file name without extension\n"
               "  -o, --output FILE    write the JSON lines to FILE instead of stdout\n"
               "  -v, --verbose        more log lines on stderr (repeat for debug)\n"
               "  -q, --quiet          only errors on stderr\n"
               "  -h, --help           show this help\n"
               "\n"
               "Exit status: 0 when every input was analyzed, 1 when any failed, 2 on a\n"
               "usage error.\n");
}

static void main_usage(FILE *f)
{
    fprintf(f, "usage: avfuse COMMAND [options] ...\n"
               "\n"
               "commands:\n"
               "  analyze FILE...   segment media files and print JSON lines\n"
               "  watch [ENDPOINT]  subscribe to running daemons and print their messages\n"
               "  proxy FRONTEND BACKEND\n"
               "                    forward many daemons' messages to one endpoint\n"
               "  ctl COMMAND       talk to a running daemon's control socket (status,\n"
               "                    sources, add, remove, reload)\n"
               "  keygen NAME       make a CURVE key pair (NAME.key, NAME.pub)\n"
               "  train             fit the content and sentiment heads on a manifest\n"
               "  eval              score a model on a manifest\n"
               "  report INPUT      draw the timeline of a file or its JSON lines (SVG, HTML)\n"
               "\n"
               "Run 'avfuse COMMAND --help' for the options of a command.\n");
}

static int parse_seconds(const char *opt, const char *arg, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(arg, &end);
    if (errno || end == arg || *end || !isfinite(v) || v < 0) {
        fprintf(stderr, "avfuse: %s: not a non-negative number: '%s'\n", opt, arg);
        return -1;
    }
    *out = v;
    return 0;
}

/*
 * SIGINT and SIGTERM end analyze cleanly: the input being read stops, what was
 * already decoded is still published (the last segment partial), later inputs
 * are skipped, and the exit status is 130. The signals are blocked in every
 * thread and taken by one thread with sigwait(), so no handler runs inside the
 * pipeline (STYLE.md rule 16); a second signal exits at once.
 */
static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;
static avf_sched *running;     /* protected by running_lock */
static atomic_int interrupted; /* atomic */

static void *signal_main(void *arg)
{
    sigset_t *set = arg;
    int sig;

    while (sigwait(set, &sig) == 0) {
        if (atomic_exchange(&interrupted, 1))
            _exit(130);
        avf_log(AVF_LOG_WARN, "analyze", "interrupted: finishing the current segment");
        pthread_mutex_lock(&running_lock);
        if (running)
            avf_sched_stop(running);
        pthread_mutex_unlock(&running_lock);
    }
    return NULL;
}

static void set_running(avf_sched *s)
{
    pthread_mutex_lock(&running_lock);
    running = s;
    if (s && atomic_load(&interrupted))
        avf_sched_stop(s);
    pthread_mutex_unlock(&running_lock);
}

/* Writes one message line and frees it; returns 0 or -errno of the failed write. */
static int write_line(FILE *out, char *line)
{
    int ret = 0;

    if (!line)
        return -ENOMEM;
    if (fputs(line, out) == EOF || fputc('\n', out) == EOF)
        ret = -errno;
    free(line);
    return ret;
}

static int write_events(FILE *out, const avf_event *ev, int n, const char *source)
{
    int ret = 0;

    for (int i = 0; i < n && ret == 0; i++)
        ret = write_line(out, avf_event_message(&ev[i], source, 0));
    return ret;
}

/*
 * Analyzes one input. Returns 0, a negative error of the input (already
 * reported), or AVF_OUTPUT_FAILED when writing the output failed.
 */
#define AVF_OUTPUT_FAILED (-0x41564680)

static int analyze_one(const char *path, const char *source_opt, const avf_pipeline_config *cfg,
                       int events, FILE *out)
{
    avf_event ev[AVF_EVENTS_MAX];
    avf_events *tracker = NULL;
    char source[AVF_SOURCE_NAME_MAX + 1];
    char err[256];
    avf_pipeline_stats stats;
    avf_sched *s = NULL;
    avf_segment *seg = NULL;
    uint64_t seq = 0;
    int ret, write_err = 0;

    if (source_opt)
        snprintf(source, sizeof(source), "%s", source_opt);
    else
        avf_source_name_from_path(path, source);
    ret = avf_sched_open(&s, path, cfg);
    if (ret < 0) {
        avf_log(AVF_LOG_ERROR, path, "%s",
                ret == AVERROR_INVALIDDATA ? "not a media file FFmpeg can read"
                                           : avf_strerror(ret, err, sizeof(err)));
        return ret;
    }
    ret = avf_sched_start(s);
    if (ret < 0) {
        avf_log(AVF_LOG_ERROR, path, "cannot start: %s", avf_strerror(ret, err, sizeof(err)));
        goto done;
    }
    set_running(s);
    if (events) {
        tracker = avf_events_new(NULL);
        if (!tracker) {
            ret = AVERROR(ENOMEM);
            goto done;
        }
    }
    while (avf_sched_receive(s, &seg) == 0) {
        avf_message_meta meta = {source, 0, seq, 0, INT64_MIN, NAN};

        write_err = write_line(out, avf_segment_message(seg, &meta));
        if (!write_err && tracker) {
            double scores[AVF_TAG_COUNT];

            avf_segment_tag_scores(seg, scores);
            write_err = write_events(
                out, ev,
                avf_events_push(tracker, seq, seg->t0_us / 1e6, seg->t1_us / 1e6, scores, ev),
                source);
        }
        seq++;
        avf_segment_free(&seg);
        if (write_err)
            break; /* avf_sched_free() below abandons the rest of the input */
    }
    if (!write_err && tracker)
        write_err = write_events(out, ev, avf_events_flush(tracker, ev), source);
    if (write_err) {
        errno = -write_err;
        avf_warn("analyze", "cannot write output");
        ret = AVF_OUTPUT_FAILED;
        goto done;
    }
    ret = avf_sched_wait(s, &stats);
    if (ret < 0) {
        avf_log(AVF_LOG_ERROR, path, "analysis failed after %llu segments: %s",
                (unsigned long long)seq, avf_strerror(ret, err, sizeof(err)));
        goto done;
    }
    if (stats.read_error < 0) {
        ret = stats.read_error;
        avf_log(AVF_LOG_ERROR, path, "input broke off after %llu segments: %s",
                (unsigned long long)seq, avf_strerror(ret, err, sizeof(err)));
        goto done;
    }
    avf_log(
        AVF_LOG_INFO, path,
        "%llu segments; video: %llu frames, %llu decode errors, %llu timestamps repaired, "
        "%llu missing, %llu wraps; audio: %llu frames, %llu decode errors, %llu gaps, "
        "%llu overlaps",
        (unsigned long long)seq, (unsigned long long)stats.video.frames,
        (unsigned long long)stats.video.decode_errors,
        (unsigned long long)stats.video.clock.repaired,
        (unsigned long long)stats.video.clock.missing, (unsigned long long)stats.video.clock.wraps,
        (unsigned long long)stats.audio.frames, (unsigned long long)stats.audio.decode_errors,
        (unsigned long long)stats.audio.audio_gaps, (unsigned long long)stats.audio.audio_overlaps);
    if (stats.segmenter.tail_dropped_us > 0)
        avf_log(AVF_LOG_INFO, path, "a %.3f s tail after the last segment is padding, not printed",
                stats.segmenter.tail_dropped_us / 1e6);
done:
    set_running(NULL);
    avf_events_free(&tracker);
    avf_sched_free(&s);
    return ret;
}

static int cmd_analyze(int argc, char **argv)
{
    enum {
        OPT_HOP = 256,
        OPT_LEN,
        OPT_FPS,
        OPT_WIDTH,
        OPT_MIN_PARTIAL,
        OPT_TIMEOUT,
        OPT_SOURCE,
        OPT_PLUGIN_DIR,
        OPT_NO_FEATURES,
        OPT_MODEL,
        OPT_EVENTS,
    };
    static const struct option options[] = {
        {"hop", required_argument, NULL, OPT_HOP},
        {"len", required_argument, NULL, OPT_LEN},
        {"fps", required_argument, NULL, OPT_FPS},
        {"width", required_argument, NULL, OPT_WIDTH},
        {"min-partial", required_argument, NULL, OPT_MIN_PARTIAL},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"source", required_argument, NULL, OPT_SOURCE},
        {"plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR},
        {"no-features", no_argument, NULL, OPT_NO_FEATURES},
        {"model", required_argument, NULL, OPT_MODEL},
        {"events", no_argument, NULL, OPT_EVENTS},
        {"output", required_argument, NULL, 'o'},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    avf_pipeline_config cfg;
    const char *output = NULL, *source = NULL;
    const char **plugin_dirs = NULL;
    int nb_plugin_dirs = 0, features = 1;
    const avf_plugin_descriptor **plugins = NULL;
    avf_plugin_registry *registry = NULL;
    avf_fused_layout *layout = NULL, *model_layout = NULL;
    avf_model *model = NULL;
    const char *model_path = NULL;
    int events = 0;
    sigset_t signals;
    pthread_t signal_thread;
    int level = AVF_LOG_WARN, failed = 0, status = EXIT_USAGE, opt;
    double v;
    char why[128];
    FILE *out = stdout;

    avf_pipeline_config_default(&cfg);
    while ((opt = getopt_long(argc, argv, "o:vqh", options, NULL)) != -1) {
        switch (opt) {
        case OPT_HOP:
            if (parse_seconds("--hop", optarg, &cfg.hop_s) < 0)
                goto done;
            break;
        case OPT_LEN:
            if (parse_seconds("--len", optarg, &cfg.len_s) < 0)
                goto done;
            break;
        case OPT_FPS:
            if (parse_seconds("--fps", optarg, &v) < 0)
                goto done;
            cfg.fps = v > 0 ? av_d2q(v, 1001000) : (AVRational){0, 1};
            break;
        case OPT_WIDTH:
            if (parse_seconds("--width", optarg, &v) < 0)
                goto done;
            cfg.max_width = v > INT32_MAX ? INT32_MAX : (int)v;
            break;
        case OPT_MIN_PARTIAL:
            if (parse_seconds("--min-partial", optarg, &cfg.min_partial_s) < 0)
                goto done;
            break;
        case OPT_TIMEOUT:
            if (parse_seconds("--timeout", optarg, &v) < 0)
                goto done;
            if (v <= 0 || v > 86400) {
                fprintf(stderr, "avfuse: --timeout must be above 0 and at most 86400\n");
                goto done;
            }
            cfg.io_timeout_us = llround(v * AV_TIME_BASE);
            break;
        case OPT_SOURCE:
            source = optarg;
            break;
        case OPT_PLUGIN_DIR: {
            const char **dirs = realloc(plugin_dirs, (size_t)(nb_plugin_dirs + 1) * sizeof(*dirs));

            if (!dirs) {
                status = EXIT_INPUT_FAILED;
                goto done;
            }
            plugin_dirs = dirs;
            plugin_dirs[nb_plugin_dirs++] = optarg;
            break;
        }
        case OPT_NO_FEATURES:
            features = 0;
            break;
        case OPT_MODEL:
            model_path = optarg;
            break;
        case OPT_EVENTS:
            events = 1;
            break;
        case 'o':
            output = optarg;
            break;
        case 'v':
            level++;
            break;
        case 'q':
            level = AVF_LOG_ERROR;
            break;
        case 'h':
            analyze_usage(stdout);
            status = 0;
            goto done;
        default:
            analyze_usage(stderr);
            goto done;
        }
    }
    avf_log_set_level(level);
    if (optind >= argc) {
        fprintf(stderr, "avfuse: analyze: no input file\n");
        analyze_usage(stderr);
        goto done;
    }
    if (avf_pipeline_config_check(&cfg, why, sizeof(why)) < 0) {
        fprintf(stderr, "avfuse: analyze: %s\n", why);
        goto done;
    }
    if (source && !avf_source_name_valid(source)) {
        fprintf(stderr, "avfuse: --source: '%s' does not match [A-Za-z0-9_-]{1,64}\n", source);
        goto done;
    }
    if (source && argc - optind > 1) {
        fprintf(stderr, "avfuse: --source names one input, but %d were given\n", argc - optind);
        goto done;
    }
    if (features) {
        int ret = avf_load_plugins(&registry, plugin_dirs, nb_plugin_dirs, &plugins);

        if (ret < 0) {
            status = EXIT_INPUT_FAILED;
            goto done;
        }
        cfg.plugins = plugins;
        cfg.nb_plugins = ret;
        layout = avf_fused_layout_new(plugins, ret);
        if (!layout) {
            status = EXIT_INPUT_FAILED;
            goto done;
        }
        ret = avf_load_model(&model, &model_layout, model_path, layout);
        if (ret < 0) {
            status = EXIT_INPUT_FAILED;
            goto done;
        }
        if (ret > 0)
            avf_log(AVF_LOG_WARN, "analyze",
                    "no model found: segments carry no labels or sentiment");
        cfg.fused = model_layout;
        cfg.model = model;
    }
    if (output) {
        out = fopen(output, "w");
        if (!out) {
            avf_warn("analyze", "cannot create %s", output);
            status = EXIT_INPUT_FAILED;
            goto done;
        }
    }
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    /* blocked before any pipeline thread exists, so all of them inherit it */
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    if (pthread_create(&signal_thread, NULL, signal_main, &signals) == 0)
        pthread_detach(signal_thread);
    for (int i = optind; i < argc && !atomic_load(&interrupted); i++) {
        int ret = analyze_one(argv[i], source, &cfg, events, out);

        if (ret == AVF_OUTPUT_FAILED) {
            failed = 1;
            break;
        }
        if (ret < 0)
            failed = 1;
        if (fflush(out) == EOF) {
            avf_warn("analyze", "cannot write output");
            failed = 1;
            break;
        }
    }
    if (out != stdout && fclose(out) == EOF) {
        avf_warn("analyze", "cannot write %s", output);
        failed = 1;
    }
    status = atomic_load(&interrupted) ? 128 + SIGINT : failed ? EXIT_INPUT_FAILED : 0;
done:
    avf_model_free(&model);
    avf_fused_layout_free(&model_layout);
    avf_fused_layout_free(&layout);
    free(plugins);
    avf_plugin_registry_free(&registry);
    free(plugin_dirs);
    return status;
}

int main(int argc, char **argv)
{
    avf_log_init("avfuse");
    if (argc < 2) {
        main_usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        main_usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "analyze"))
        return cmd_analyze(argc - 1, argv + 1);
    if (!strcmp(argv[1], "train"))
        return avf_cmd_train(argc - 1, argv + 1);
    if (!strcmp(argv[1], "eval"))
        return avf_cmd_eval(argc - 1, argv + 1);
    if (!strcmp(argv[1], "watch"))
        return avf_cmd_watch(argc - 1, argv + 1);
    if (!strcmp(argv[1], "proxy"))
        return avf_cmd_proxy(argc - 1, argv + 1);
    if (!strcmp(argv[1], "ctl"))
        return avf_cmd_ctl(argc - 1, argv + 1);
    if (!strcmp(argv[1], "keygen"))
        return avf_cmd_keygen(argc - 1, argv + 1);
    if (!strcmp(argv[1], "report"))
        return avf_cmd_report(argc - 1, argv + 1);
    fprintf(stderr, "avfuse: unknown command '%s'\n", argv[1]);
    main_usage(stderr);
    return EXIT_USAGE;
}
