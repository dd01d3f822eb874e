/*
 * options.h - the options analyze, report, train and eval share: how the pipeline
 * cuts and reads (--hop, --len, --fps, --width, --min-partial, --timeout), the
 * extractors and the model (--plugin-dir, --model) and the log level (-v, -q).
 *
 * Each command lists the shared options it accepts in its own getopt table with
 * the AVF_OPTION_* entries, passes every option to avf_tool_option() first and
 * handles only its own.
 */
#ifndef AVF_OPTIONS_H
#define AVF_OPTIONS_H

#include <getopt.h>

#include "daemon/setup.h"
#include "engine/scheduler.h"

enum {
    AVF_OPT_HOP = 0x1000, /* above every command's own option values */
    AVF_OPT_LEN,
    AVF_OPT_FPS,
    AVF_OPT_WIDTH,
    AVF_OPT_MIN_PARTIAL,
    AVF_OPT_TIMEOUT,
    AVF_OPT_PLUGIN_DIR,
    AVF_OPT_MODEL,
};

/* Their entries in a command's getopt_long() table. */
// clang-format off
#define AVF_OPTION_HOP         {"hop", required_argument, NULL, AVF_OPT_HOP}
#define AVF_OPTION_LEN         {"len", required_argument, NULL, AVF_OPT_LEN}
#define AVF_OPTION_FPS         {"fps", required_argument, NULL, AVF_OPT_FPS}
#define AVF_OPTION_WIDTH       {"width", required_argument, NULL, AVF_OPT_WIDTH}
#define AVF_OPTION_MIN_PARTIAL {"min-partial", required_argument, NULL, AVF_OPT_MIN_PARTIAL}
#define AVF_OPTION_TIMEOUT     {"timeout", required_argument, NULL, AVF_OPT_TIMEOUT}
#define AVF_OPTION_PLUGIN_DIR  {"plugin-dir", required_argument, NULL, AVF_OPT_PLUGIN_DIR}
#define AVF_OPTION_MODEL       {"model", required_argument, NULL, AVF_OPT_MODEL}
#define AVF_OPTION_VERBOSE     {"verbose", no_argument, NULL, 'v'}
#define AVF_OPTION_QUIET       {"quiet", no_argument, NULL, 'q'}
// clang-format on

typedef struct avf_tool_options {
    avf_pipeline_config cfg; /* defaults, then --hop ... --timeout */
    const char **plugin_dirs;
    int nb_plugin_dirs;
    const char *model_path; /* NULL: the default model */
    int log_level;          /* AVF_LOG_WARN, one up per -v; -q: AVF_LOG_ERROR */
} avf_tool_options;

void avf_tool_options_init(avf_tool_options *o);
void avf_tool_options_free(avf_tool_options *o);

/*
 * Takes opt (getopt_long()'s value) with its argument when it is a shared option.
 * Returns 1 when it was, 0 when it is the command's own, or a negative error after
 * one line on stderr (-EINVAL: a bad value, a usage error; -ENOMEM).
 */
int avf_tool_option(avf_tool_options *o, int opt, const char *arg);

/* The exit status for an error of avf_tool_option(): usage, or failure. */
int avf_tool_option_status(int err);

/*
 * The option loop of analyze and report: getopt_long() over argv with shortopts
 * and longopts; the shared options go into o (avf_tool_option()), the others to
 * own(ctx, opt, arg), which returns 0 or a negative error after a message; -h
 * prints usage to stdout. Then sets the log level. Returns 1 to go on to the
 * operands (from optind), or 0 with *status the exit status (help: 0; an error).
 */
int avf_tool_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
                    avf_tool_options *o, int (*own)(void *ctx, int opt, const char *arg), void *ctx,
                    void (*usage)(FILE *), int *status);

/* The loader's options for the extractors and the model o names. */
avf_setup_options avf_tool_setup_options(const avf_tool_options *o, enum avf_model_need need,
                                         const char *component, const char *no_model);

/* Parses a non-negative number of seconds for option opt: 0, or -EINVAL after a
 * message. */
int avf_parse_seconds(const char *opt, const char *arg, double *out);

#endif
