/*
 * runner.c - a source's thread: open, publish, reconnect, until stopped.
 *
 * The loop: open a pipeline (state `connecting`), publish its segments (`running`),
 * and when it ends decide what the end means. A file ends (`ended`), or fails
 * (`failed`) when it cannot be read; a looped file starts its next pass at once;
 * a live input's end or error is a failure to recover from, so the runner waits
 * out a backoff (`reconnecting`) and opens it again as a new epoch. Stopping
 * raises the flag that the pipeline's input polls, so a read, an open in progress
 * or a backoff all end within a few tens of milliseconds, and the segments already
 * decoded are still published, the last one partial.
 *
 * The main thread reads state and counters for status messages under the lock;
 * the pipeline pointer is swapped under that lock too, so its live queue counters
 * can be read while it runs.
 *
 * The main thread never waits for a runner without a bound: a runner blocked where
 * no stop reaches (a plugin that hangs, an open(2) of a FIFO that libavformat makes
 * itself) is abandoned at the deadline. From then on it publishes and writes
 * nothing (a new source of its name has taken over its seq), and when it ends at
 * last, its thread frees it. What it borrows (the publisher, the plugins, the
 * model) must then stay as long as the process: avf_runners_abandoned() tells the
 * daemon not to free them at exit.
 */
#include "daemon/runner.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libavutil/common.h>
#include <libavutil/time.h>

#include "base/log.h"
#include "base/redact.h"
#include "fusion/events.h"
#include "fusion/message.h"
#include "base/error.h"
#include "engine/scheduler.h"

#define LATENCY_WINDOW 1000

static const char *const state_names[] = {"connecting", "running", "reconnecting", "ended",
                                          "failed"};

/* runners abandoned whose thread has not ended yet */
static atomic_int nb_abandoned;

struct avf_runner {
    avf_source_conf conf; /* immutable */
    avf_runner_env env;   /* immutable */
    char topic_seg[AVF_SOURCE_NAME_MAX + 8], topic_evt[AVF_SOURCE_NAME_MAX + 8],
        topic_status[AVF_SOURCE_NAME_MAX + 12];
    pthread_t thread;
    int joined; /* main thread only: the thread ended and avf_runner_reap() joined it */
    atomic_int stop;
    atomic_llong heartbeat; /* av_gettime_relative() of the last sign of progress */
    int paced;              /* the input runs on the wall clock: latency is meaningful */
    unsigned seed;          /* backoff jitter; thread only */
    FILE *output;           /* thread only: the JSON-lines sink, or NULL */
    atomic_int reopen;      /* close output before the next line (log rotation) */
    int output_failing;     /* thread only: the last write failed (reported once) */
    atomic_int abandoned;   /* set under lock too: nobody waits for the thread any more */

    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t wake;  /* interrupts a backoff */
    pthread_cond_t done;  /* signals finished; CLOCK_MONOTONIC */
    int finished;         /* the thread has done all it will do with the runner */
    enum avf_runner_state state;
    int64_t epoch;
    uint64_t next_seq;
    int64_t timeline_us;  /* end of the last published segment on the timeline */
    int64_t mono_base_us; /* CLOCK_MONOTONIC at timeline 0, or INT64_MIN */
    uint64_t frames, samples, segments, reconnects;
    avf_sched_counters past; /* drops and discontinuities of the pipelines that ended */
    avf_sched *sched;        /* the running pipeline, or NULL */
    char error[1280];
    double latency[LATENCY_WINDOW];
    int nb_latency, latency_pos;
};

const char *avf_runner_state_name(enum avf_runner_state state)
{
    return state_names[state];
}

static void beat(avf_runner *r)
{
    atomic_store(&r->heartbeat, av_gettime_relative());
}

static void set_state(avf_runner *r, enum avf_runner_state state, const char *error)
{
    char shown[sizeof(r->error)];

    if (error)
        avf_redact(shown, sizeof(shown), error);
    pthread_mutex_lock(&r->lock);
    r->state = state;
    if (error)
        snprintf(r->error, sizeof(r->error), "%s", shown);
    pthread_mutex_unlock(&r->lock);
    beat(r);
    if (error && state != AVF_STATE_RUNNING)
        avf_log(state == AVF_STATE_FAILED ? AVF_LOG_ERROR : AVF_LOG_WARN, r->conf.name, "%s: %s",
                state_names[state], shown);
    else
        avf_log(AVF_LOG_INFO, r->conf.name, "%s", state_names[state]);
    avf_runner_publish_status(r);
}

/*
 * The input of the pipeline: its URL in *url (NULL: a microphone alone), kind,
 * format and microphone; label receives what to call the input in messages,
 * redacted and at most label_size bytes. A password_file is read here, at every
 * connection, so that a rotated password is used at the next one: *url then points
 * to *secret, which the caller frees with avf_source_conf_url_free() (else *secret
 * stays NULL). Returns 0, or a negative error with the reason in why.
 */
static int pipeline_input(const avf_source_conf *c, avf_pipeline_config *cfg, const char **url,
                          char **secret, char *label, size_t label_size, char *why, size_t why_size)
{
    int ret;

    *url = NULL;
    *secret = NULL;
    switch (c->type) {
    case AVF_TYPE_FILE:
        cfg->kind = AVF_SOURCE_FILE;
        *url = c->url;
        break;
    case AVF_TYPE_STREAM:
        cfg->kind = AVF_SOURCE_NETWORK;
        cfg->rtsp_transport = avf_rtsp_transport_name(c->rtsp_transport);
        *url = c->url;
        break;
    case AVF_TYPE_MICROPHONE:
        cfg->microphone = c->device ? c->device : "default";
        break;
    case AVF_TYPE_AV: /* a camera and a microphone */
    case AVF_TYPE_CAMERA:
        if (c->type == AVF_TYPE_AV)
            cfg->microphone = c->microphone ? c->microphone : "default";
        cfg->kind = AVF_SOURCE_DEVICE;
        cfg->format = c->format ? c->format : "video4linux2";
        *url = c->device ? c->device : "/dev/video0";
        break;
    case AVF_TYPE_NONE:
        break;
    }
    avf_redact(label, label_size, *url ? *url : cfg->microphone);
    if (*url && c->password_file) {
        ret = avf_source_conf_url(c, secret, why, why_size);
        if (ret < 0)
            return ret;
        *url = *secret;
    }
    return 0;
}

static void pipeline_config(avf_runner *r, avf_pipeline_config *cfg)
{
    const avf_source_conf *c = &r->conf;

    avf_pipeline_config_default(cfg);
    cfg->hop_s = c->hop;
    cfg->len_s = c->len;
    cfg->fps = av_d2q(c->fps, 1001000);
    cfg->max_width = c->width;
    cfg->rate = c->rate;
    cfg->io_timeout_us = llround(c->read_timeout * AV_TIME_BASE);
    cfg->label = c->name;
    cfg->stop = &r->stop;
    cfg->realtime = c->realtime;
    cfg->live = avf_source_conf_is_live(c);
    cfg->plugins = r->env.plugins;
    cfg->nb_plugins = r->env.nb_plugins;
    cfg->fused = r->env.fused;
    cfg->model = r->env.model;
}

/*
 * Appends one message line to the source's output file, opening it when needed (a
 * folder that was read-only, or a disk that was full, may have recovered). A
 * failure is logged and shown in the status once per run of failures; the
 * publishing goes on either way.
 */
static void write_output(avf_runner *r, const char *json)
{
    int err = 0;

    if (!r->conf.output || !json)
        return;
    if (atomic_exchange(&r->reopen, 0) && r->output) {
        fclose(r->output); /* the rotated file; the path names a new one now */
        r->output = NULL;
    }
    if (!r->output) {
        r->output = fopen(r->conf.output, "ae");
        if (!r->output)
            err = errno;
    }
    if (r->output &&
        (fputs(json, r->output) == EOF || fputc('\n', r->output) == EOF || fflush(r->output))) {
        err = errno ? errno : EIO;
        fclose(r->output); /* the next line reopens it */
        r->output = NULL;
    }
    if (err && !r->output_failing) {
        char why[400], shown[sizeof(r->error)];

        snprintf(why, sizeof(why), "output %s: %s (segments are still published)", r->conf.output,
                 strerror(err));
        avf_redact(shown, sizeof(shown), why);
        avf_log(AVF_LOG_ERROR, r->conf.name, "%s", shown);
        pthread_mutex_lock(&r->lock);
        snprintf(r->error, sizeof(r->error), "%s", shown);
        pthread_mutex_unlock(&r->lock);
        avf_runner_publish_status(r);
    } else if (!err && r->output_failing) {
        avf_log(AVF_LOG_INFO, r->conf.name, "output %s: writing again", r->conf.output);
    }
    r->output_failing = err != 0;
}

/* Writes the message to the output file and hands it to the publisher. */
static void emit(avf_runner *r, const char *topic, char *json)
{
    if (atomic_load(&r->abandoned)) {
        free(json);
        return;
    }
    write_output(r, json);
    avf_publisher_send(r->env.pub, topic, json);
}

/* Per connection: where its timeline sits on the source's. */
typedef struct epoch_state {
    int64_t epoch;
    int64_t offset_us;
    int placed; /* offset decided (at the first segment) */
    uint64_t segments;
    uint64_t last_seq; /* of the last segment published */
    int ended_early;   /* the input ended well before its declared end */
} epoch_state;

/* The events the pipeline decided with the segment numbered seq (or, for the end's
 * events, the last one), on the source's timeline. */
static void publish_events(avf_runner *r, const avf_result *res, uint64_t seq, const epoch_state *e)
{
    for (int i = 0; i < res->nb_events; i++)
        emit(r, r->topic_evt,
             avf_event_message(&res->events[i], r->conf.name, e->epoch, seq, e->offset_us));
}

/*
 * Places a new epoch on the source's timeline: right after the last one, or for an
 * input that runs on the wall clock, where the wall clock says (a source away for
 * 10 s leaves a 10 s gap), whichever is later. The first epoch fixes the mapping.
 */
static void place_epoch(avf_runner *r, avf_sched *s, epoch_state *e)
{
    int64_t clock;
    int known = r->paced && avf_sched_clock_offset(s, &clock) == 0;

    pthread_mutex_lock(&r->lock);
    e->offset_us = r->timeline_us;
    if (known && r->mono_base_us != INT64_MIN && clock - r->mono_base_us > e->offset_us)
        e->offset_us = clock - r->mono_base_us;
    if (known && r->mono_base_us == INT64_MIN)
        r->mono_base_us = clock - e->offset_us;
    pthread_mutex_unlock(&r->lock);
    e->placed = 1;
}

static void publish_segment(avf_runner *r, avf_sched *s, const avf_result *res, epoch_state *e)
{
    const avf_segment *seg = res->seg;
    avf_message_meta meta = {r->conf.name, e->epoch, 0, 0, INT64_MIN, NAN};
    int64_t clock;

    if (!e->placed)
        place_epoch(r, s, e);
    meta.offset_us = e->offset_us;
    if (r->paced && avf_sched_clock_offset(s, &clock) == 0) {
        int64_t mono = av_gettime_relative();

        meta.latency_ms = (mono - (seg->t1_us + clock)) / 1000.0;
        meta.wallclock_us = av_gettime() - mono + seg->t0_us + clock;
    }
    pthread_mutex_lock(&r->lock);
    if (r->abandoned) {
        /* its seq belongs to the source that replaced it now */
        pthread_mutex_unlock(&r->lock);
        return;
    }
    meta.seq = r->next_seq++;
    r->segments++;
    r->frames += seg->nb_frames;
    r->samples += seg->nb_samples;
    if (seg->t1_us + e->offset_us > r->timeline_us)
        r->timeline_us = seg->t1_us + e->offset_us;
    if (isfinite(meta.latency_ms)) {
        r->latency[r->latency_pos] = meta.latency_ms;
        r->latency_pos = (r->latency_pos + 1) % LATENCY_WINDOW;
        if (r->nb_latency < LATENCY_WINDOW)
            r->nb_latency++;
    }
    pthread_mutex_unlock(&r->lock);
    emit(r, r->topic_seg, avf_segment_message(seg, &res->out, &meta));
    publish_events(r, res, meta.seq, e);
    e->last_seq = meta.seq;
    e->segments++;
    beat(r);
}

static void swap_sched(avf_runner *r, avf_sched *s)
{
    pthread_mutex_lock(&r->lock);
    if (r->sched && !s) {
        avf_sched_counters c;

        avf_sched_counters_get(r->sched, &c);
        r->past.packet_drops += c.packet_drops;
        r->past.frame_drops += c.frame_drops;
        r->past.segment_drops += c.segment_drops;
        r->past.discontinuities += c.discontinuities;
    }
    r->sched = s;
    pthread_mutex_unlock(&r->lock);
}

/*
 * Runs one connection to its end. Returns 0 when the input ended normally, or the
 * error that ended it (open, read or a stage), with its text in why.
 */
static int run_epoch(avf_runner *r, epoch_state *e, char *why, size_t why_size)
{
    avf_pipeline_config cfg;
    avf_pipeline_stats stats = {.ended_early_us = INT64_MIN};
    avf_sched *s = NULL;
    avf_result *res;
    const char *url;
    char *secret = NULL, input[AVF_URL_SHOWN], err[256], reason[1024] = "";
    int ret;

    pipeline_config(r, &cfg);
    ret = pipeline_input(&r->conf, &cfg, &url, &secret, input, sizeof(input), err, sizeof(err));
    if (ret < 0) {
        snprintf(why, why_size, "%s: cannot open: %s", input, err);
        return ret;
    }
    cfg.why = reason;
    cfg.why_size = sizeof(reason);
    ret = avf_sched_open(&s, url, &cfg);
    avf_source_conf_url_free(&secret);
    if (ret < 0 && reason[0]) {
        snprintf(why, why_size, "%s: cannot open: %s", input, reason);
        return ret;
    }
    if (ret == AVERROR(ETIMEDOUT)) {
        /* nothing came within read_timeout: a peer that does not answer, a FIFO
         * nobody writes to */
        snprintf(why, why_size, "%s: cannot open: stalled: no data for %g s", input,
                 r->conf.read_timeout);
        return ret;
    }
    if (ret < 0) {
        /* an RTSP or HTTP server that refuses the credentials answers 401, which
         * libavformat returns as AVERROR_HTTP_UNAUTHORIZED (RTSP after one retry with
         * the URL's user and password) */
        snprintf(why, why_size, "%s: cannot open: %s", input,
                 ret == AVERROR_INVALIDDATA ? "not a media file FFmpeg can read"
                 : ret == AVERROR_HTTP_UNAUTHORIZED
                     ? "authentication failed (the server answered 401 Unauthorized: check the "
                       "user and password)"
                     : avf_strerror(ret, err, sizeof(err)));
        return ret;
    }
    swap_sched(r, s);
    ret = avf_sched_start(s);
    if (ret == 0) {
        set_state(r, AVF_STATE_RUNNING, NULL);
        while (avf_sched_receive(s, &res) == 0) {
            if (res->seg)
                publish_segment(r, s, res, e);
            else if (e->segments > 0) /* the end's events: always after a segment */
                publish_events(r, res, e->last_seq, e);
            avf_result_free(&res);
        }
    }
    if (ret == 0)
        ret = avf_sched_wait(s, &stats);
    if (ret == 0 && stats.read_error < 0)
        ret = stats.read_error;
    swap_sched(r, NULL);
    avf_sched_free(&s);
    if (ret == AVERROR(ETIMEDOUT))
        snprintf(why, why_size, "%s: stalled: no data for %g s", input, r->conf.read_timeout);
    else if (ret < 0 && reason[0])
        snprintf(why, why_size, "%s: %s", input, reason);
    else if (ret < 0)
        snprintf(why, why_size, "%s: %s", input, avf_strerror(ret, err, sizeof(err)));
    else if (stats.ended_early_us != INT64_MIN)
        snprintf(why, why_size, "%s: ended early at %.3f s of %.3f s (cut short or damaged)", input,
                 stats.ended_early_us / 1e6, stats.declared_end_us / 1e6);
    else
        snprintf(why, why_size, "%s: end of stream", input);
    e->ended_early = ret == 0 && stats.ended_early_us != INT64_MIN;
    return ret;
}

/* Waits delay_us unless stopped; returns 1 when stopped. */
static int backoff(avf_runner *r, int64_t delay_us)
{
    int64_t until = av_gettime_relative() + delay_us;
    int stopped;

    pthread_mutex_lock(&r->lock);
    while (!(stopped = atomic_load(&r->stop)) && av_gettime_relative() < until) {
        int64_t slice = until - av_gettime_relative();
        struct timespec ts;

        if (slice > 1000000)
            slice = 1000000; /* wake up to show progress */
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (ts.tv_nsec / 1000 + slice) / 1000000;
        ts.tv_nsec = ((ts.tv_nsec / 1000 + slice) % 1000000) * 1000;
        pthread_cond_timedwait(&r->wake, &r->lock, &ts);
        beat(r);
    }
    pthread_mutex_unlock(&r->lock);
    return stopped;
}

static void run(avf_runner *r)
{
    int live = avf_source_conf_is_live(&r->conf) && r->conf.type != AVF_TYPE_FILE;
    double delay = r->conf.backoff_min;
    epoch_state e = {0};
    char why[sizeof(r->error)];

    pthread_mutex_lock(&r->lock);
    e.epoch = r->epoch;
    pthread_mutex_unlock(&r->lock);
    for (;;) {
        int ret;

        set_state(r, AVF_STATE_CONNECTING, NULL);
        ret = run_epoch(r, &e, why, sizeof(why));
        if (atomic_load(&r->stop))
            break;
        if (!live && !r->conf.loop) {
            /* a file cut short still ends: what it held was published */
            set_state(r, ret < 0 ? AVF_STATE_FAILED : AVF_STATE_ENDED,
                      ret < 0 || e.ended_early ? why : NULL);
            return;
        }
        if (!live && e.segments == 0) {
            /* a looped file that gives nothing would spin */
            set_state(r, AVF_STATE_FAILED, why);
            return;
        }
        if (e.segments > 0)
            delay = r->conf.backoff_min;
        if (live) {
            double jitter = 0.75 + 0.5 * rand_r(&r->seed) / (double)RAND_MAX;

            set_state(r, AVF_STATE_RECONNECTING, why);
            if (backoff(r, llround(delay * jitter * 1e6)))
                break;
            delay = fmin(delay * 2, r->conf.backoff_max);
        }
        /* the next connection (or pass of a looped file) is a new epoch if this one
         * published anything; failed attempts do not use up epochs */
        pthread_mutex_lock(&r->lock);
        r->reconnects += live;
        if (e.segments > 0)
            r->epoch++;
        e = (epoch_state){.epoch = r->epoch};
        pthread_mutex_unlock(&r->lock);
    }
    set_state(r, AVF_STATE_ENDED, NULL);
}

static void free_runner(avf_runner *r)
{
    if (r->output)
        fclose(r->output);
    pthread_cond_destroy(&r->done);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    avf_source_conf_clear(&r->conf);
    free(r);
}

static void *runner_main(void *arg)
{
    avf_runner *r = arg;
    int abandoned;

    run(r);
    pthread_mutex_lock(&r->lock);
    r->finished = 1;
    abandoned = r->abandoned;
    pthread_cond_broadcast(&r->done);
    pthread_mutex_unlock(&r->lock);
    if (abandoned) {
        /* nobody will join the thread (it is detached) or free the runner */
        avf_log(AVF_LOG_INFO, r->conf.name, "the abandoned runner ended at last");
        free_runner(r);
        atomic_fetch_sub(&nb_abandoned, 1);
    }
    return NULL;
}

/* A condition variable on CLOCK_MONOTONIC, so that a bounded wait is not moved by
 * a change of the wall clock. */
static int cond_init_monotonic(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    int ret = pthread_condattr_init(&attr);

    if (ret)
        return ret;
    ret = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (!ret)
        ret = pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
    return ret;
}

int avf_runner_start(avf_runner **pr, const avf_source_conf *conf, const avf_runner_env *env,
                     const avf_runner_resume *resume)
{
    avf_runner *r = calloc(1, sizeof(*r));
    int ret;

    if (!r)
        return AVERROR(ENOMEM);
    if (avf_source_conf_copy(&r->conf, conf) < 0) {
        free(r);
        return AVERROR(ENOMEM);
    }
    r->env = *env;
    snprintf(r->topic_seg, sizeof(r->topic_seg), "seg/%s/", conf->name);
    snprintf(r->topic_evt, sizeof(r->topic_evt), "evt/%s/", conf->name);
    snprintf(r->topic_status, sizeof(r->topic_status), "status/%s/", conf->name);
    r->paced = conf->type != AVF_TYPE_FILE || conf->realtime;
    r->seed = (unsigned)av_gettime() ^ (unsigned)(uintptr_t)r;
    r->mono_base_us = INT64_MIN;
    if (resume) {
        r->next_seq = resume->next_seq;
        r->epoch = resume->next_epoch;
        r->timeline_us = resume->timeline_us;
    }
    atomic_init(&r->stop, 0);
    atomic_init(&r->reopen, 0);
    atomic_init(&r->abandoned, 0);
    beat(r);
    if (pthread_mutex_init(&r->lock, NULL)) {
        avf_source_conf_clear(&r->conf);
        free(r);
        return AVERROR(ENOMEM);
    }
    pthread_cond_init(&r->wake, NULL);
    ret = cond_init_monotonic(&r->done);
    if (ret) {
        pthread_cond_destroy(&r->wake);
        pthread_mutex_destroy(&r->lock);
        avf_source_conf_clear(&r->conf);
        free(r);
        return AVERROR(ret);
    }
    ret = pthread_create(&r->thread, NULL, runner_main, r);
    if (ret) {
        free_runner(r);
        return AVERROR(ret);
    }
    *pr = r;
    return 0;
}

void avf_runner_stop(avf_runner *r)
{
    pthread_mutex_lock(&r->lock);
    atomic_store(&r->stop, 1);
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);
}

int avf_runner_free(avf_runner **pr, int64_t deadline_us, avf_runner_resume *resume)
{
    struct timespec until = {0};
    avf_runner *r;
    int finished;

    if (!pr || !*pr)
        return 0;
    r = *pr;
    *pr = NULL;
    avf_runner_stop(r);
    if (deadline_us != INT64_MAX) {
        int64_t left = FFMAX(deadline_us - av_gettime_relative(), 0);

        clock_gettime(CLOCK_MONOTONIC, &until);
        left += until.tv_nsec / 1000;
        until.tv_sec += left / 1000000;
        until.tv_nsec = left % 1000000 * 1000;
    }
    pthread_mutex_lock(&r->lock);
    while (!r->finished) {
        if (deadline_us == INT64_MAX)
            pthread_cond_wait(&r->done, &r->lock);
        else if (pthread_cond_timedwait(&r->done, &r->lock, &until) == ETIMEDOUT)
            break;
    }
    finished = r->finished;
    /* where it left off, as far as anyone will know: an abandoned runner publishes
     * nothing from now on */
    if (resume)
        *resume = (avf_runner_resume){
            .next_seq = r->next_seq,
            .next_epoch = r->epoch + 1,
            .timeline_us = r->timeline_us,
        };
    if (!finished) {
        atomic_store(&r->abandoned, 1);
        atomic_fetch_add(&nb_abandoned, 1);
        pthread_detach(r->thread); /* its end frees the runner (runner_main()) */
    }
    pthread_mutex_unlock(&r->lock);
    if (!finished)
        return 1;
    if (!r->joined) /* avf_runner_reap() may have joined it already */
        pthread_join(r->thread, NULL);
    free_runner(r);
    return 0;
}

int avf_runners_abandoned(void)
{
    return atomic_load(&nb_abandoned);
}

int avf_runner_reap(avf_runner *r)
{
    /* an exited thread that nobody joined keeps its stack mapped; pthread_tryjoin_np()
     * is the one call that joins it without waiting for a thread still running */
    if (r->joined || pthread_tryjoin_np(r->thread, NULL))
        return 0;
    r->joined = 1;
    /* the thread's own resources are the main thread's now */
    if (r->output)
        fclose(r->output);
    r->output = NULL;
    return 1;
}

const avf_source_conf *avf_runner_conf(const avf_runner *r)
{
    return &r->conf;
}

enum avf_runner_state avf_runner_state(avf_runner *r)
{
    enum avf_runner_state state;

    pthread_mutex_lock(&r->lock);
    state = r->state;
    pthread_mutex_unlock(&r->lock);
    return state;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* p50 and p99 of the latency window, or JSON null. Called with the lock held. */
static json_t *latency_json(avf_runner *r)
{
    double sorted[LATENCY_WINDOW];
    int n = r->nb_latency;

    if (n == 0)
        return json_null();
    memcpy(sorted, r->latency, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), compare_double);
    return json_pack("{s:f, s:f}", "p50", round(sorted[(n - 1) / 2] * 10) / 10, "p99",
                     round(sorted[(int)ceil(0.99 * n) - 1] * 10) / 10);
}

char *avf_runner_status(avf_runner *r)
{
    avf_sched_counters now = {0};
    char when[40];
    json_t *msg;
    char *text;

    pthread_mutex_lock(&r->lock);
    if (r->sched)
        avf_sched_counters_get(r->sched, &now);
    msg = json_pack(
        "{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:{s:I, s:I, s:I, s:{s:I, s:I, s:I}, s:I, s:I, s:I}, "
        "s:{s:I, s:I, s:I}, s:o, s:o}",
        "schema", "avfuse.status.v1", "source", r->conf.name, "type",
        avf_source_type_name(r->conf.type), "state", state_names[r->state], "epoch",
        (json_int_t)r->epoch, "next_seq", (json_int_t)r->next_seq, "wallclock",
        avf_format_wallclock(av_gettime(), when, sizeof(when)), "counters", "frames",
        (json_int_t)r->frames, "samples", (json_int_t)r->samples, "segments",
        (json_int_t)r->segments, "drops", "packets",
        (json_int_t)(r->past.packet_drops + now.packet_drops), "frames",
        (json_int_t)(r->past.frame_drops + now.frame_drops), "segments",
        (json_int_t)(r->past.segment_drops + now.segment_drops), "publish_drops",
        (json_int_t)avf_publisher_drops(r->env.pub, r->conf.name), "reconnects",
        (json_int_t)r->reconnects, "discontinuities",
        (json_int_t)(r->past.discontinuities + now.discontinuities), "queues", "packets",
        (json_int_t)now.packets_queued, "frames", (json_int_t)now.frames_queued, "segments",
        (json_int_t)now.segments_queued, "latency_ms", latency_json(r), "error",
        r->error[0] ? json_string(r->error) : json_null());
    pthread_mutex_unlock(&r->lock);
    if (!msg)
        return NULL;
    text = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(msg);
    return text;
}

void avf_runner_publish_status(avf_runner *r)
{
    if (atomic_load(&r->abandoned))
        return;
    avf_publisher_send(r->env.pub, r->topic_status, avf_runner_status(r));
}

void avf_runner_reopen_output(avf_runner *r)
{
    atomic_store(&r->reopen, 1);
}

int avf_runner_alive(avf_runner *r, int64_t now_us)
{
    enum avf_runner_state state = avf_runner_state(r);
    /* the longest a healthy runner stays silent: a read that times out, the
     * segment it was filling, a backoff step (1 s slices), and some slack */
    int64_t limit = llround((2 * r->conf.read_timeout + 2 * r->conf.len + 2) * 1e6);

    if (state == AVF_STATE_ENDED || state == AVF_STATE_FAILED)
        return 1;
    return now_us - atomic_load(&r->heartbeat) < limit;
}
