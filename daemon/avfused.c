/*
 * avfused.c - the daemon: configuration, signals, the control socket, systemd.
 *
 * The main thread owns the configuration and the set of sources; each source
 * runs in its own runner thread and the publisher thread owns the PUB socket. The
 * main thread waits in one zmq_poll() on the control socket and a signalfd, so
 * signals are plain events here (no async handlers): SIGHUP reloads, SIGTERM and
 * SIGINT stop. Between events it publishes every source's status each
 * status_interval and feeds the systemd watchdog, only while every source makes
 * progress.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <libavutil/common.h>
#include <libavutil/time.h>
#include <zmq.h>

#include "daemon/config.h"
#include "daemon/control.h"
#include "daemon/curve.h"
#include "base/log.h"
#include "daemon/prometheus.h"
#include "daemon/notify.h"
#include "daemon/publisher.h"
#include "daemon/setup.h"
#include "daemon/sources.h"
#include "base/error.h"

#ifndef AVFUSE_DEFAULT_CONFIG
#define AVFUSE_DEFAULT_CONFIG "/etc/avfuse/avfuse.conf"
#endif

typedef struct daemon_state {
    avf_config *config;
    const char *config_path;
    int verbosity; /* -v count: overrides log_level when > 0 */
    int64_t started_us;
    avf_setup setup; /* the extractors and the model the runners share */
    avf_runner_env env;
    avf_publisher *pub;
    void *zctx, *control;
    avf_curve_keypair curve; /* when config->curve_key */
    avf_zap *zap;
    avf_metrics *metrics;
    avf_sources *sources;
    int starving; /* the watchdog is not fed: a source makes no progress (main thread) */
} daemon_state;

static void usage(FILE *f)
{
    fprintf(f, "usage: avfused [-c FILE] [-n] [-v]...\n"
               "\n"
               "The avfuse daemon: analyzes every source of its configuration and publishes\n"
               "segments, events and status over ZeroMQ (docs/configuration.md).\n"
               "\n"
               "  -c, --config FILE  configuration file (default " AVFUSE_DEFAULT_CONFIG ")\n"
               "  -n, --check        check the configuration and the model, then exit:\n"
               "                     0 when valid, 1 with FILE:LINE: reason otherwise\n"
               "  -v, --verbose      more log (info, then debug); overrides log_level\n"
               "  -h, --help         this help\n"
               "\n"
               "Runs in the foreground and logs to stderr (systemd: Type=notify). Signals:\n"
               "SIGHUP reloads the configuration (an invalid file is refused and the running\n"
               "configuration stays) and opens the sources' output files again (log\n"
               "rotation); SIGTERM or SIGINT publish each source's partial segment\n"
               "and final status, then exit 0. Control socket: `avfuse ctl`.\n");
}

static void apply_log_level(const daemon_state *d)
{
    avf_log_set_level(d->verbosity > 0 ? AVF_LOG_WARN + d->verbosity : d->config->log_level);
}

/* Splits the colon-separated plugin_dirs and loads extractors and the model. */
static int load_analysis(daemon_state *d)
{
    const char *dirs[64];
    char *copy = d->config->plugin_dirs ? strdup(d->config->plugin_dirs) : NULL, *save = NULL;
    const char *model = d->config->model;
    avf_setup_options so = {
        .plugin_dirs = dirs,
        .model_path = model,
        .model = model && !strcmp(model, "none") ? AVF_MODEL_NONE : AVF_MODEL_OPTIONAL,
        .component = "avfused",
        .no_model = "segments carry features only",
    };
    int ret;

    if (d->config->plugin_dirs && !copy)
        return AVERROR(ENOMEM);
    for (char *dir = copy ? strtok_r(copy, ":", &save) : NULL; dir && so.nb_plugin_dirs < 64;
         dir = strtok_r(NULL, ":", &save))
        dirs[so.nb_plugin_dirs++] = dir;
    /* a folder the loader would refuse is a configuration error, for -n and a run
     * alike: the plugins it was named for would be missing from every segment */
    for (int i = 0; i < so.nb_plugin_dirs; i++) {
        char why[300];

        if (avf_plugin_dir_check(dirs[i], why, sizeof(why)) < 0) {
            avf_log(AVF_LOG_ERROR, "avfused", "%s: plugin_dirs: %s: %s", d->config_path, dirs[i],
                    why);
            free(copy);
            return AVF_ERR_CONFIG;
        }
    }
    ret = avf_setup_load(&d->setup, &so);
    free(copy);
    if (ret < 0)
        return ret;
    d->env.plugins = d->setup.plugins;
    d->env.nb_plugins = d->setup.nb_plugins;
    d->env.fused = d->setup.fused;
    d->env.model = d->setup.model;
    return 0;
}

static json_t *daemon_info(void *opaque)
{
    daemon_state *d = opaque;

    return json_pack("{s:I, s:f, s:s, s:s, s:i}", "pid", (json_int_t)getpid(), "uptime_s",
                     (av_gettime_relative() - d->started_us) / 1e6, "config", d->config_path,
                     "publish", d->config->publish, "sources", avf_sources_count(d->sources));
}

/* Daemon keys a reload cannot change: they belong to sockets and loaded models. */
static void warn_restart_keys(const avf_config *old, const avf_config *now)
{
    struct {
        const char *key, *a, *b;
    } keys[] = {{"publish", old->publish, now->publish},
                {"control", old->control, now->control},
                {"model", old->model, now->model},
                {"plugin_dirs", old->plugin_dirs, now->plugin_dirs}};

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if ((keys[i].a == NULL) != (keys[i].b == NULL) ||
            (keys[i].a && strcmp(keys[i].a, keys[i].b)))
            avf_log(AVF_LOG_WARN, "reload", "%s changed: it takes effect when avfused restarts",
                    keys[i].key);
    if ((old->metrics == NULL) != (now->metrics == NULL) ||
        (old->metrics && strcmp(old->metrics, now->metrics)))
        avf_log(AVF_LOG_WARN, "reload", "metrics changed: it takes effect when avfused restarts");
    if (old->sndhwm != now->sndhwm || old->linger != now->linger)
        avf_log(AVF_LOG_WARN, "reload",
                "sndhwm or linger changed: it takes effect when avfused restarts");
}

static int reload(void *opaque, json_t *report, char *why, size_t why_size)
{
    daemon_state *d = opaque;
    avf_config *fresh = NULL;
    int ret;

    avf_notify_reloading();
    /* first, whatever the new file holds: log rotation renamed the output files
     * and sends SIGHUP; a configuration that is refused must not keep them old */
    avf_sources_reopen_outputs(d->sources);
    ret = avf_config_load(&fresh, d->config_path, why, why_size);
    if (ret < 0) {
        avf_log(AVF_LOG_ERROR, "reload", "refused, the running configuration stays: %s", why);
        avf_notify_ready();
        return ret;
    }
    warn_restart_keys(d->config, fresh);
    ret = avf_sources_apply(d->sources, fresh, report);
    if (ret < 0)
        snprintf(why, why_size, "some sources could not start (see the log)");
    avf_config_free(&d->config);
    d->config = fresh;
    apply_log_level(d);
    avf_log(AVF_LOG_INFO, "reload", "%d sources", avf_sources_count(d->sources));
    avf_notify_ready();
    return ret;
}

static void serve_control(daemon_state *d)
{
    avf_control_ops ops = {d->sources, d, daemon_info, reload};
    zmq_msg_t msg;
    char *answer;

    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, d->control, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        return;
    }
    answer = avf_control_handle(zmq_msg_data(&msg), zmq_msg_size(&msg), &ops);
    zmq_msg_close(&msg);
    if (!answer)
        answer = strdup("{\"ok\":false,\"error\":\"out of memory\"}");
    if (answer && zmq_send(d->control, answer, strlen(answer), 0) < 0)
        avf_log(AVF_LOG_WARN, "control", "cannot reply: %s", zmq_strerror(errno));
    free(answer);
}

static void update_metrics(daemon_state *d)
{
    json_t *statuses;

    if (!d->metrics)
        return;
    statuses = avf_sources_status(d->sources);
    if (statuses)
        avf_metrics_update(
            d->metrics,
            avf_metrics_render(statuses, (av_gettime_relative() - d->started_us) / 1e6));
    json_decref(statuses);
}

static void tick(daemon_state *d)
{
    int n = avf_sources_count(d->sources), active = avf_sources_active(d->sources);
    char stuck[AVF_SOURCE_NAME_MAX + 1];

    avf_sources_reap(d->sources);
    avf_sources_publish_status(d->sources);
    update_metrics(d);
    if (avf_sources_alive(d->sources, stuck, sizeof(stuck))) {
        avf_notify_watchdog();
        if (d->starving)
            avf_log(AVF_LOG_WARN, "watchdog", "progress again: feeding the watchdog again");
        d->starving = 0;
    } else if (!d->starving) {
        /* once per stall: the next line says when it is over */
        avf_log(AVF_LOG_WARN, "watchdog",
                "source %s makes no progress (nothing published within its read_timeout "
                "and len): not feeding the watchdog",
                stuck);
        d->starving = 1;
    }
    if (d->starving)
        avf_notify_status("%d sources, %d active, %s makes no progress", n, active, stuck);
    else
        avf_notify_status("%d sources, %d active", n, active);
}

/* Waits for events until SIGTERM or SIGINT. */
/* Control requests answered per second at most: a flood cannot keep the main loop
 * from its other work, and the socket's small receive queue pushes back on the
 * flooder, while fair queueing still serves every other client in turn. */
#define CONTROL_RATE 200

static void serve(daemon_state *d, int sigfd)
{
    int64_t interval = llround(d->config->status_interval * 1e6);
    int64_t watchdog = avf_notify_watchdog_usec();
    int64_t next_tick = av_gettime_relative() + interval;
    int64_t budget_start = av_gettime_relative();
    int budget = CONTROL_RATE;

    if (watchdog > 0 && watchdog / 2 < interval)
        interval = watchdog / 2;
    for (;;) {
        zmq_pollitem_t items[2] = {{NULL, sigfd, ZMQ_POLLIN, 0}, {d->control, 0, ZMQ_POLLIN, 0}};
        int64_t now = av_gettime_relative();
        int64_t wake = next_tick;
        int nb_items = d->control ? 2 : 1;
        long timeout;

        if (now - budget_start >= 1000000) {
            budget_start = now;
            budget = CONTROL_RATE;
        }
        if (budget == 0) {
            nb_items = 1; /* the rest of this second: signals and ticks only */
            wake = FFMIN(wake, budget_start + 1000000);
        }
        timeout = wake > now ? (long)((wake - now + 999) / 1000) : 0;
        if (zmq_poll(items, nb_items, timeout) < 0 && errno != EINTR) {
            avf_log(AVF_LOG_ERROR, "avfused", "poll failed: %s", zmq_strerror(errno));
            return;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            struct signalfd_siginfo si;

            if (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGHUP) {
                    char why[600];
                    avf_log(AVF_LOG_INFO, "avfused", "SIGHUP: reloading %s", d->config_path);
                    reload(d, NULL, why, sizeof(why));
                } else {
                    avf_log(AVF_LOG_INFO, "avfused", "%s: stopping",
                            si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
                    return;
                }
            }
        }
        if (nb_items == 2 && (items[1].revents & ZMQ_POLLIN)) {
            serve_control(d);
            budget--;
        }
        now = av_gettime_relative();
        if (now >= next_tick) {
            tick(d);
            interval = llround(d->config->status_interval * 1e6);
            if (watchdog > 0 && watchdog / 2 < interval)
                interval = watchdog / 2;
            next_tick = now + interval;
        }
    }
}

/* The ZeroMQ context, and with curve_key the key pair and the allow-list's handler. */
static int open_security(daemon_state *d, char *why, size_t why_size)
{
    int ret;

    d->zctx = zmq_ctx_new();
    if (!d->zctx) {
        snprintf(why, why_size, "cannot create a ZeroMQ context: %s", zmq_strerror(errno));
        return AVERROR(ENOMEM);
    }
    if (!d->config->curve_key)
        return 0;
    ret = avf_curve_load_keypair(&d->curve, d->config->curve_key, why, why_size);
    if (ret < 0)
        return ret;
    ret = avf_zap_start(&d->zap, d->zctx, d->config->curve_allow, why, why_size);
    if (ret < 0)
        return ret;
    avf_log(AVF_LOG_INFO, "curve", "CURVE on: server key %s, allow-list %s", d->curve.public_key,
            d->config->curve_allow);
    return 0;
}

/* What abandoned runners may still use when the daemon exits: left allocated on
 * purpose, and reachable from here so that leak checkers do not count it (volatile:
 * nothing reads it, and the store must stay). */
static volatile daemon_state left_to_abandoned;

static void shut_down(daemon_state *d)
{
    int abandoned;

    avf_sources_free(&d->sources); /* each publishes its partial segment and final status */
    abandoned = avf_runners_abandoned();
    avf_metrics_stop(&d->metrics);
    if (abandoned)
        avf_publisher_shut(d->pub); /* sends what the others published; refuses the rest */
    else
        avf_publisher_close(&d->pub);
    if (d->control)
        zmq_close(d->control);
    if (d->zctx)
        zmq_ctx_shutdown(d->zctx); /* ends the ZAP handler's wait */
    avf_zap_free(&d->zap);
    if (d->zctx)
        zmq_ctx_term(d->zctx); /* waits at most the linger for subscribers */
    explicit_bzero(&d->curve, sizeof(d->curve));
    if (abandoned) {
        /* a stuck runner's pipeline may still run the plugins' code and the model,
         * and publish; the process ends now and takes them with it */
        avf_log(AVF_LOG_WARN, "avfused",
                "%d abandoned source%s still stuck: exiting without freeing the publisher, "
                "the model and the plugins they use",
                abandoned, abandoned > 1 ? "s are" : " is");
        left_to_abandoned = *d;
        left_to_abandoned.config = NULL;
        avf_config_free(&d->config);
        return;
    }
    avf_setup_free(&d->setup);
    avf_config_free(&d->config);
}

/* -n: what a run would fail on besides the file (already loaded with its model and
 * plugins): the control socket's folder, password files, the CURVE keys. Returns
 * the exit status. */
static int check_run(daemon_state *d)
{
    char why[600];

    if (d->config->control && avf_control_check_dir(d->config->control, d->config->control_per_user,
                                                    0, why, sizeof(why)) < 0) {
        avf_log(AVF_LOG_ERROR, "config", "%s: %s", d->config_path, why);
        return 1;
    }
    if (avf_config_check_files(d->config, why, sizeof(why)) < 0 ||
        open_security(d, why, sizeof(why)) < 0) {
        avf_log(AVF_LOG_ERROR, "config", "%s", why);
        return 1;
    }
    printf("%s: configuration OK, %d sources%s\n", d->config_path, d->config->nb_sources,
           d->config->curve_key ? ", CURVE on" : "");
    return 0;
}

/*
 * Parses the command line into d and *check. Returns 1 to run, or 0 with *status
 * the exit status (--help, a usage error).
 */
static int parse_args(daemon_state *d, int *check, int argc, char **argv, int *status)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'n'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    while ((opt = getopt_long(argc, argv, "c:nvh", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            d->config_path = optarg;
            break;
        case 'n':
            *check = 1;
            break;
        case 'v':
            d->verbosity++;
            break;
        case 'h':
            usage(stdout);
            *status = 0;
            return 0;
        default:
            usage(stderr);
            *status = 2;
            return 0;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "avfused: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        *status = 2;
        return 0;
    }
    return 1;
}

/* The allocator's settings for a daemon that reconnects and loops for months. */
static void tune_malloc(void)
{
    /* Every reconnect and every pass of a looped file frees and allocates buffers of
     * megabytes (libavformat's UDP FIFO alone is 5.4 MB). glibc's dynamic mmap
     * threshold moves such blocks into its per-thread arenas, which keep them: after
     * 20 reconnects the daemon held 13 MB more than after 3, for nothing. A fixed
     * threshold maps them and gives them back when freed (tests/integration/
     * test_faults.py measures it). */
    mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
    /* And every reconnect and file pass starts new threads: with glibc's default of
     * 8 arenas per core, a freed block stays as free space in the arena of the thread
     * that allocated it, and the RSS creeps up (9.1 and 4.7 MB in two 10-minute soaks
     * whose heap in use stayed within 0.5 MB; docs/reliability.md, "Soak"). One arena
     * reuses that space; the daemon's hot path allocates nothing per frame, so the
     * shared lock costs little. MALLOC_ARENA_MAX in the environment overrides it. */
    if (!getenv("MALLOC_ARENA_MAX"))
        mallopt(M_ARENA_MAX, 1);
}

/* Signals become events of the main loop (every thread inherits the mask): returns
 * the signalfd, or a negative error (logged). */
static int signals_as_events(void)
{
    sigset_t signals;
    int sigfd;

    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigfd = signalfd(-1, &signals, SFD_CLOEXEC);
    if (sigfd < 0) {
        int ret = AVERROR(errno);

        avf_warn("avfused", "signalfd");
        return ret;
    }
    return sigfd;
}

/*
 * Opens what a run serves with: the ZeroMQ context (and CURVE), the publisher, the
 * control socket, the metrics endpoint, then starts the sources. Returns 0 or a
 * negative error (logged).
 */
static int start_serving(daemon_state *d)
{
    int linger_ms = (int)llround(d->config->linger * 1000), ret;
    const avf_curve_keypair *curve;
    char why[600];

    ret = open_security(d, why, sizeof(why));
    if (ret < 0)
        goto fail;
    curve = d->config->curve_key ? &d->curve : NULL;
    ret = avf_publisher_open(&d->pub, d->zctx, d->config->publish, d->config->sndhwm, linger_ms,
                             curve, why, sizeof(why));
    if (ret < 0)
        goto fail;
    d->env.pub = d->pub;
    if (d->config->control) {
        ret = avf_control_check_dir(d->config->control, d->config->control_per_user, 1, why,
                                    sizeof(why));
        if (ret < 0)
            goto fail;
        d->control = avf_control_open(d->zctx, d->config->control, curve, why, sizeof(why));
        if (!d->control) {
            ret = AVERROR(EINVAL);
            goto fail;
        }
    }
    if (d->config->metrics) {
        ret = avf_metrics_start(&d->metrics, d->config->metrics, why, sizeof(why));
        if (ret < 0)
            goto fail;
    }
    d->sources = avf_sources_new(&d->env);
    if (!d->sources) {
        avf_log(AVF_LOG_ERROR, "avfused", "cannot start the sources: out of memory");
        return AVERROR(ENOMEM);
    }
    if (avf_sources_apply(d->sources, d->config, NULL) < 0)
        avf_log(AVF_LOG_ERROR, "avfused", "some sources could not start");
    return 0;
fail:
    avf_log(AVF_LOG_ERROR, "avfused", "%s", why);
    return ret;
}

int main(int argc, char **argv)
{
    daemon_state d = {.config_path = AVFUSE_DEFAULT_CONFIG};
    int check = 0, status, sigfd;
    char why[600];

    tune_malloc();
    avf_log_init("avfused");
    if (!parse_args(&d, &check, argc, argv, &status))
        return status;
    if (avf_config_load(&d.config, d.config_path, why, sizeof(why)) < 0) {
        avf_log(AVF_LOG_ERROR, "config", "%s", why);
        return 1;
    }
    apply_log_level(&d);
    if (load_analysis(&d) < 0) {
        shut_down(&d);
        return 1;
    }
    if (check) {
        status = check_run(&d);
        shut_down(&d);
        return status;
    }
    sigfd = signals_as_events();
    if (sigfd < 0) {
        shut_down(&d);
        return 1;
    }
    d.started_us = av_gettime_relative();
    if (start_serving(&d) < 0) {
        shut_down(&d);
        close(sigfd);
        return 1;
    }
    avf_log(AVF_LOG_INFO, "avfused", "publishing on %s, %d sources", d.config->publish,
            avf_sources_count(d.sources));
    update_metrics(&d);
    avf_notify_ready();
    avf_notify_status("%d sources", avf_sources_count(d.sources));

    serve(&d, sigfd);

    avf_notify_stopping();
    shut_down(&d);
    close(sigfd);
    return 0;
}
