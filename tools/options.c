/*
 * options.c - parsing the options analyze, report, train and eval share, once,
 * so that --hop or --plugin-dir take the same values with the same messages in
 * every command (tools/options.h).
 */
#include "tools/options.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/avutil.h>
#include <libavutil/rational.h>

#include "base/log.h"
#include "tools/commands.h"

void avf_tool_options_init(avf_tool_options *o)
{
    memset(o, 0, sizeof(*o));
    avf_pipeline_config_default(&o->cfg);
    o->log_level = AVF_LOG_WARN;
}

void avf_tool_options_free(avf_tool_options *o)
{
    free(o->plugin_dirs);
    o->plugin_dirs = NULL;
    o->nb_plugin_dirs = 0;
}

int avf_parse_seconds(const char *opt, const char *arg, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(arg, &end);
    if (errno || end == arg || *end || !isfinite(v) || v < 0) {
        fprintf(stderr, "avfuse: %s: not a non-negative number: '%s'\n", opt, arg);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

static int add_plugin_dir(avf_tool_options *o, const char *dir)
{
    const char **dirs = realloc(o->plugin_dirs, (size_t)(o->nb_plugin_dirs + 1) * sizeof(*dirs));

    if (!dirs) {
        fprintf(stderr, "avfuse: out of memory\n");
        return -ENOMEM;
    }
    o->plugin_dirs = dirs;
    o->plugin_dirs[o->nb_plugin_dirs++] = dir;
    return 0;
}

/* --fps, --width and --timeout: a number of seconds, then their own range. */
static int parse_scaled(avf_tool_options *o, int opt, const char *arg)
{
    static const char *const names[] = {"--fps", "--width", "--timeout"};
    int which = opt == AVF_OPT_FPS ? 0 : opt == AVF_OPT_WIDTH ? 1 : 2;
    double v;

    if (avf_parse_seconds(names[which], arg, &v) < 0)
        return -EINVAL;
    if (opt == AVF_OPT_FPS) {
        o->cfg.fps = v > 0 ? av_d2q(v, 1001000) : (AVRational){0, 1};
    } else if (opt == AVF_OPT_WIDTH) {
        o->cfg.max_width = v > INT32_MAX ? INT32_MAX : (int)v;
    } else {
        if (v <= 0 || v > 86400) {
            fprintf(stderr, "avfuse: --timeout must be above 0 and at most 86400\n");
            return -EINVAL;
        }
        o->cfg.io_timeout_us = llround(v * AV_TIME_BASE);
    }
    return 0;
}

int avf_tool_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
                    avf_tool_options *o, int (*own)(void *ctx, int opt, const char *arg), void *ctx,
                    void (*usage)(FILE *), int *status)
{
    int opt, ret;

    *status = EXIT_USAGE;
    while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        if (opt == 'h') {
            usage(stdout);
            *status = 0;
            return 0;
        }
        ret = avf_tool_option(o, opt, optarg);
        if (ret == 0)
            ret = own(ctx, opt, optarg);
        if (ret < 0) {
            *status = avf_tool_option_status(ret);
            return 0;
        }
    }
    avf_log_set_level(o->log_level);
    return 1;
}

int avf_tool_option(avf_tool_options *o, int opt, const char *arg)
{
    int ret = 0;

    switch (opt) {
    case AVF_OPT_HOP:
        ret = avf_parse_seconds("--hop", arg, &o->cfg.hop_s);
        break;
    case AVF_OPT_LEN:
        ret = avf_parse_seconds("--len", arg, &o->cfg.len_s);
        break;
    case AVF_OPT_MIN_PARTIAL:
        ret = avf_parse_seconds("--min-partial", arg, &o->cfg.min_partial_s);
        break;
    case AVF_OPT_FPS:
    case AVF_OPT_WIDTH:
    case AVF_OPT_TIMEOUT:
        ret = parse_scaled(o, opt, arg);
        break;
    case AVF_OPT_PLUGIN_DIR:
        ret = add_plugin_dir(o, arg);
        break;
    case AVF_OPT_MODEL:
        o->model_path = arg;
        break;
    case 'v':
        o->log_level++;
        break;
    case 'q':
        o->log_level = AVF_LOG_ERROR;
        break;
    default:
        return 0;
    }
    return ret < 0 ? ret : 1;
}

int avf_tool_option_status(int err)
{
    return err == -ENOMEM ? EXIT_INPUT_FAILED : EXIT_USAGE;
}

avf_setup_options avf_tool_setup_options(const avf_tool_options *o, enum avf_model_need need,
                                         const char *component, const char *no_model)
{
    return (avf_setup_options){
        .plugin_dirs = o->plugin_dirs,
        .nb_plugin_dirs = o->nb_plugin_dirs,
        .model_path = o->model_path,
        .model = need,
        .component = component,
        .no_model = no_model,
    };
}
