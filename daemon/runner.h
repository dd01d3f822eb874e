/*
 * runner.h - one source of the daemon: its thread, its pipelines, its life.
 *
 * A runner opens its input as a pipeline (scheduler.h), publishes every segment
 * and event through the publisher, and when a live input fails or ends it
 * reconnects with exponential backoff, each new connection a new epoch. Per-source
 * `seq` goes on across epochs, and so does the timeline: a new epoch starts where
 * the last one ended, or later by the time the source was away (for inputs that
 * run on the wall clock). States and counters are what the status message says
 * (docs/control.md); every state change publishes one.
 *
 * The daemon's main thread creates, queries and stops runners; each runner's own
 * thread does everything else.
 */
#ifndef AVF_RUNNER_H
#define AVF_RUNNER_H

#include <stdint.h>

#include "daemon/config.h"
#include "fusion/model.h"
#include "fusion/vector.h"
#include "plugins/avfuse_plugin.h"
#include "daemon/publisher.h"

enum avf_runner_state {
    AVF_STATE_CONNECTING = 0,
    AVF_STATE_RUNNING,
    AVF_STATE_RECONNECTING,
    AVF_STATE_ENDED,
    AVF_STATE_FAILED,
};

/* What every runner shares, borrowed: it must outlive them all. */
typedef struct avf_runner_env {
    avf_publisher *pub;
    const avf_plugin_descriptor *const *plugins;
    int nb_plugins;
    const struct avf_fused_layout *fused; /* with model, or both NULL */
    const struct avf_model *model;
} avf_runner_env;

/* Where a source that was stopped left off, so that a new runner of the same name
 * continues its seq, epoch and timeline. */
typedef struct avf_runner_resume {
    uint64_t next_seq;
    int64_t next_epoch;
    int64_t timeline_us;
} avf_runner_resume;

typedef struct avf_runner avf_runner;

/* Copies conf and starts the thread. resume may be NULL (a new source). */
int avf_runner_start(avf_runner **pr, const avf_source_conf *conf, const avf_runner_env *env,
                     const avf_runner_resume *resume);

/* Asks the runner to stop: it publishes its partial segment and a final status. */
void avf_runner_stop(avf_runner *r);

/*
 * Stops the runner and waits for its thread until deadline_us (on the
 * av_gettime_relative() clock; INT64_MAX: as long as it takes). Sets *pr to NULL
 * and fills resume (may be NULL) in every case. Returns 0 when the thread ended and
 * the runner is freed; 1 when it was still running at the deadline and is
 * abandoned: it publishes and writes nothing more, and its thread frees it if it
 * ever ends, but until then it still uses env (see avf_runners_abandoned()).
 * Accepts NULL.
 */
int avf_runner_free(avf_runner **pr, int64_t deadline_us, avf_runner_resume *resume);

/*
 * The number of abandoned runners whose thread has not ended yet. While it is not
 * 0, what their env borrows (the publisher, plugins, model) must not be freed.
 * Any thread.
 */
int avf_runners_abandoned(void);

/*
 * Joins the runner's thread if it has returned (a file that ended or failed), so
 * that its stack and its output file are given back now instead of when the source
 * is removed. Returns 1 when it joined the thread, 0 when the thread still runs or
 * was joined before. Main thread only; never blocks.
 */
int avf_runner_reap(avf_runner *r);

const avf_source_conf *avf_runner_conf(const avf_runner *r);
enum avf_runner_state avf_runner_state(avf_runner *r);
const char *avf_runner_state_name(enum avf_runner_state state);

/* Its status message (avfuse.status.v1), malloc'ed JSON, or NULL. */
char *avf_runner_status(avf_runner *r);

/* Publishes avf_runner_status() on the runner's status topic. */
void avf_runner_publish_status(avf_runner *r);

/*
 * Makes the runner close its output file before its next line, which opens the
 * file by its name again: after log rotation renamed it, lines go to a new file
 * instead of following the old one. Any thread.
 */
void avf_runner_reopen_output(avf_runner *r);

/*
 * 1 while the runner makes progress: it has ended, or it did something (a
 * segment, a state change, a backoff step) recently enough for its settings.
 * The systemd watchdog is fed only while every runner says 1.
 */
int avf_runner_alive(avf_runner *r, int64_t now_us);

#endif
