/*
 * report_cmd.c - `avfuse report INPUT -o OUT.svg|OUT.html`: one picture of a whole
 * input.
 *
 * A media engineer who ran `avfuse analyze` over a recording wants to see it at a
 * glance: where the speech is, where the picture went black, where it got loud.
 * The report draws one timeline, as a single self-contained SVG (or an HTML page
 * with that SVG inline): no scripts, fonts, styles or images from anywhere else.
 * This file is the command: its options, the output file and its removal on
 * failure; tools/report.c reads the input, tools/report_draw.c draws it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/log.h"
#include "tools/commands.h"
#include "tools/options.h"
#include "tools/report.h"

enum { OPT_SOURCE = 256, OPT_TITLE };

static void report_usage(FILE *f)
{
    fprintf(f,
            "usage: avfuse report [options] INPUT -o OUT.svg|OUT.html\n"
            "\n"
            "Draws the timeline of one input as a single self-contained file (no\n"
            "scripts, fonts or styles from elsewhere): content probabilities (speech,\n"
            "music, noise, silence) as lanes, one row per tag that occurs (tag events\n"
            "as a thin strip under it), valence and arousal as curves, loudness as a\n"
            "curve, and cuts as vertical marks (up to %d; beyond, in the cut row only),\n"
            "over an mm:ss (h:mm:ss) time axis.\n"
            "\n"
            "INPUT is either JSON lines as 'avfuse analyze [--events]' writes them\n"
            "(segment messages, and event messages if present; status lines are\n"
            "skipped; '-' reads them from stdin) or a media file, which is then analyzed\n"
            "first, in-process, as 'avfuse analyze --events' would. An input whose first\n"
            "non-blank character is '{' is JSON lines; an empty one gives a chart with\n"
            "no segments.\n"
            "\n"
            "options:\n"
            "  -o, --output FILE    the report: FILE.svg is an SVG image, FILE.html (or\n"
            "                       .htm) an HTML page with the SVG inline (required)\n"
            "  --source NAME        JSON lines of several sources: draw this one\n"
            "                       (default: the source of the first message)\n"
            "  --title TEXT         the title (default: the input's file name)\n"
            "  -v, --verbose        more log lines on stderr (repeat for debug)\n"
            "  -q, --quiet          only errors on stderr\n"
            "  -h, --help           show this help\n"
            "media input only, as in analyze:\n"
            "  --hop SECONDS        start of one segment to the next (default 1.0)\n"
            "  --len SECONDS        segment length, at least --hop (default 1.0)\n"
            "  --plugin-dir DIR     also load the feature plugins (*.so) in DIR; the\n"
            "                       folder must not be writable by others (repeatable)\n"
            "  --model FILE         the model of the heads (default: $AVFUSE_MODEL, else\n"
            "                       the installed default model, else the source tree's)\n"
            "\n"
            "With more than %d segments (one per pixel across the plot), segments are\n"
            "pooled into %d equal time bins: lanes and curves show each bin's mean\n"
            "(curves with a min-max band), tag rows the share of its segments with the\n"
            "tag. A value a segment lacks (no model, an absent modality) is a gap, not 0.\n"
            "\n"
            "Exit status: 0 when the report was written, 1 when the input could not be\n"
            "read or analyzed (an invalid JSON line is named by its number) or the\n"
            "output could not be written (a regular OUT file is then removed), 2 on a\n"
            "usage error, such as an OUT that ends neither in .svg nor in .html.\n",
            REPORT_MAX_CUT_MARKS, REPORT_MAX_BINS, REPORT_MAX_BINS);
}

/* 1: HTML, 0: SVG, -EINVAL: neither (by the extension, case-insensitive). */
static int output_format(const char *path)
{
    const char *dot = strrchr(path, '.');

    if (!dot || strchr(dot, '/'))
        return -EINVAL;
    if (!strcasecmp(dot, ".svg"))
        return 0;
    if (!strcasecmp(dot, ".html") || !strcasecmp(dot, ".htm"))
        return 1;
    return -EINVAL;
}

/* report's command line. */
typedef struct report_args {
    avf_tool_options opt; /* --hop, --len, --plugin-dir, --model, -v, -q */
    const char *input, *output, *title, *source;
    int html;
} report_args;

/* Takes report's own options: 0, or -EINVAL after a message. */
static int report_option(void *ctx, int opt, const char *arg)
{
    report_args *a = ctx;

    switch (opt) {
    case OPT_SOURCE:
        if (!avf_source_name_valid(arg)) {
            fprintf(stderr, "avfuse: --source: '%s' does not match [A-Za-z0-9_-]{1,64}\n", arg);
            return -EINVAL;
        }
        a->source = arg;
        return 0;
    case OPT_TITLE:
        a->title = arg;
        return 0;
    case 'o':
        a->output = arg;
        return 0;
    default:
        report_usage(stderr);
        return -EINVAL;
    }
}

/*
 * Parses report's command line into a and checks it. Returns 1 to run, or 0 with
 * *status the exit status (--help, a usage error).
 */
static int parse_report_args(report_args *a, int argc, char **argv, int *status)
{
    static const struct option options[] = {
        AVF_OPTION_HOP,
        AVF_OPTION_LEN,
        AVF_OPTION_PLUGIN_DIR,
        AVF_OPTION_MODEL,
        {"source", required_argument, NULL, OPT_SOURCE},
        {"title", required_argument, NULL, OPT_TITLE},
        {"output", required_argument, NULL, 'o'},
        AVF_OPTION_VERBOSE,
        AVF_OPTION_QUIET,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char why[128];

    if (!avf_tool_getopt(argc, argv, "o:vqh", options, &a->opt, report_option, a, report_usage,
                         status))
        return 0;
    if (optind != argc - 1) {
        fprintf(stderr, "avfuse: report: %s\n",
                optind >= argc ? "no input" : "one input only, not several");
        report_usage(stderr);
        return 0;
    }
    a->input = argv[optind];
    if (!a->output) {
        fprintf(stderr, "avfuse: report: no output: give -o OUT.svg or -o OUT.html\n");
        return 0;
    }
    a->html = output_format(a->output);
    if (a->html < 0) {
        fprintf(stderr, "avfuse: report: %s: the output must end in .svg or .html\n", a->output);
        return 0;
    }
    if (avf_pipeline_config_check(&a->opt.cfg, why, sizeof(why)) < 0) {
        fprintf(stderr, "avfuse: report: %s\n", why);
        return 0;
    }
    return 1;
}

/* The title: --title, else the input's file name. */
static const char *report_title(const report_args *a)
{
    const char *slash = strrchr(a->input, '/');

    if (a->title)
        return a->title;
    return !strcmp(a->input, "-") ? "stdin" : slash && slash[1] ? slash + 1 : a->input;
}

/* Draws r into out and closes it; returns 0 or a negative error (reported). */
static int write_report(FILE *out, report *r, const report_args *a)
{
    int ret;

    errno = 0;
    ret = avf_report_render(out, r, report_title(a), a->html);
    if (ret == -ENOMEM) {
        fprintf(stderr, "avfuse: report: out of memory\n");
        fclose(out);
        return ret;
    }
    if (ret < 0 || fflush(out) == EOF) {
        ret = errno ? errno : EIO;
        avf_report_say_errno("cannot write", a->output, ret);
        fclose(out);
        return -ret;
    }
    if (fclose(out) == EOF) {
        ret = errno;
        avf_report_say_errno("cannot write", a->output, ret);
        return -ret;
    }
    return 0;
}

int avf_cmd_report(int argc, char **argv)
{
    report_args a = {.input = NULL};
    report r;
    int status, created;
    struct stat st;
    FILE *out;

    avf_tool_options_init(&a.opt);
    avf_report_init(&r, NULL);
    if (!parse_report_args(&a, argc, argv, &status))
        goto done;
    r.want_source = a.source;
    status = EXIT_INPUT_FAILED;
    /* opened before the analysis, which can take long, so a bad path fails at once */
    out = fopen(a.output, "w");
    if (!out) {
        avf_report_say_errno("cannot create", a.output, errno);
        goto done;
    }
    /* only a regular file is removed again on failure, never /dev/stdout or a FIFO */
    created = fstat(fileno(out), &st) == 0 && S_ISREG(st.st_mode);
    if (avf_report_read(&r, a.input, &a.opt) < 0) {
        fclose(out);
    } else {
        if (r.other_source)
            avf_log(AVF_LOG_WARN, "report", "%zu messages of sources other than '%s' left out",
                    r.other_source, r.source[0] ? r.source : "(none)");
        if (write_report(out, &r, &a) == 0)
            status = 0;
    }
    if (status != 0 && created)
        remove(a.output); /* no empty or half-written report */
done:
    avf_report_free(&r);
    avf_tool_options_free(&a.opt);
    return status;
}
