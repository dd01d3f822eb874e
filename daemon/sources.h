/*
 * sources.h - the daemon's set of running sources.
 *
 * Adding, removing and reloading happen here, in the main thread only: a reload
 * compares the new configuration with the running one and touches only the
 * sources that were added, removed or changed. A source that stops and comes back
 * under the same name (a changed source, or remove then add) continues its seq,
 * epoch and timeline, so subscribers never see a seq reset while the daemon lives.
 */
#ifndef AVF_SOURCES_H
#define AVF_SOURCES_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "daemon/config.h"
#include "daemon/runner.h"

typedef struct avf_sources avf_sources;

/* env is borrowed and must outlive the set. Returns NULL when out of memory. */
avf_sources *avf_sources_new(const avf_runner_env *env);

/*
 * Starts a source. Returns 0, or AVF_ERR_CONFIG with why (a name in use, as many
 * sources as the applied configuration's max_sources, ...).
 */
int avf_sources_add(avf_sources *set, const avf_source_conf *conf, char *why, size_t why_size);

/* Stops and removes the source called name (abandoning it when it does not stop
 * within 1 s); AVF_ERR_CONFIG with why if unknown. */
int avf_sources_remove(avf_sources *set, const char *name, char *why, size_t why_size);

/*
 * Makes the running set match c's sources, and makes c's max_sources the limit.
 * Fills the arrays of report ("added", "removed", "changed": source names) when
 * report is not NULL. Returns 0 or the first error (the other sources are still
 * applied).
 */
int avf_sources_apply(avf_sources *set, const avf_config *c, json_t *report);

/*
 * Joins the threads of the sources that ended or failed on their own, and when any
 * source ended or was removed since the last call, gives the freed heap back to
 * the system (malloc_trim()). Call it now and then (each status tick).
 */
void avf_sources_reap(avf_sources *set);

int avf_sources_count(const avf_sources *set);
/* Number of sources still working (not ended or failed). */
int avf_sources_active(avf_sources *set);

/* Publishes every source's status message. */
void avf_sources_publish_status(avf_sources *set);

/* Every source's output file is opened again by name (avf_runner_reopen_output()). */
void avf_sources_reopen_outputs(avf_sources *set);

/*
 * 1 when every runner makes progress (see avf_runner_alive()); else 0, and the name
 * of the first source that does not is copied into stuck (always NUL-terminated
 * when stuck_size > 0; stuck may be NULL).
 */
int avf_sources_alive(avf_sources *set, char *stuck, size_t stuck_size);

/* For the control socket: the "sources" and "status" arrays (new references). */
json_t *avf_sources_list(avf_sources *set);
json_t *avf_sources_status(avf_sources *set);

/*
 * Stops every source at once, waits at most 1 s for them all, frees them and
 * abandons those still running (avf_runners_abandoned()); accepts NULL. Removing
 * and reloading wait the same bound.
 */
void avf_sources_free(avf_sources **pset);

#endif
