/*
 * sources.c - the running sources, and where stopped ones left off.
 *
 * Stopping never blocks the main thread for long: the runners to stop are asked
 * together, then given STOP_WAIT_US together; one still running then is abandoned
 * (runner.h) and its name is free for a new source at once, which continues from
 * where the abandoned one was when it was let go.
 */
#include "daemon/sources.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/time.h>

#include "base/log.h"
#include "base/redact.h"
#include "base/error.h"

#define STOP_WAIT_US 1000000 /* for all the runners stopped together */

typedef struct resume_entry {
    char name[AVF_SOURCE_NAME_MAX + 1];
    avf_runner_resume resume;
} resume_entry;

struct avf_sources {
    const avf_runner_env *env;
    avf_runner **runners;
    int nb_runners;
    resume_entry *resumes; /* sources that stopped while the daemon runs */
    int nb_resumes;
    int max_sources; /* the applied configuration's */
    int freed;       /* runners joined or freed since the last malloc_trim() */
};

avf_sources *avf_sources_new(const avf_runner_env *env)
{
    avf_sources *set = calloc(1, sizeof(*set));

    if (set) {
        set->env = env;
        set->max_sources = AVF_MAX_SOURCES_DEFAULT;
    }
    return set;
}

/* The index of the runner of the source called name, or -1 (not an error: none). */
static int find(const avf_sources *set, const char *name)
{
    for (int i = 0; i < set->nb_runners; i++)
        if (!strcmp(avf_runner_conf(set->runners[i])->name, name))
            return i;
    return -1;
}

static const avf_runner_resume *find_resume(const avf_sources *set, const char *name)
{
    for (int i = 0; i < set->nb_resumes; i++)
        if (!strcmp(set->resumes[i].name, name))
            return &set->resumes[i].resume;
    return NULL;
}

static void keep_resume(avf_sources *set, const char *name, const avf_runner_resume *resume)
{
    resume_entry *grown;

    for (int i = 0; i < set->nb_resumes; i++)
        if (!strcmp(set->resumes[i].name, name)) {
            set->resumes[i].resume = *resume;
            return;
        }
    grown = realloc(set->resumes, (set->nb_resumes + 1) * sizeof(*grown));
    if (!grown)
        return; /* the source would restart its seq at 0: subscribers see a restart */
    set->resumes = grown;
    snprintf(grown[set->nb_resumes].name, sizeof(grown[0].name), "%s", name);
    grown[set->nb_resumes++].resume = *resume;
}

int avf_sources_add(avf_sources *set, const avf_source_conf *conf, char *why, size_t why_size)
{
    avf_runner **grown;
    int abandoned, ret;

    ret = avf_source_conf_check(conf, why, why_size);
    if (ret < 0)
        return ret;
    if (find(set, conf->name) >= 0) {
        snprintf(why, why_size, "source %s already exists", conf->name);
        return AVF_ERR_CONFIG;
    }
    /* an abandoned runner's thread and pipeline live on: they count, or adding and
     * removing a source that blocks would grow them without bound */
    abandoned = avf_runners_abandoned();
    if (set->nb_runners + abandoned >= set->max_sources) {
        snprintf(why, why_size,
                 "source %s: %d sources run already%s, max_sources = %d (raise it in [daemon], "
                 "or remove a source first)",
                 conf->name, set->nb_runners + abandoned,
                 abandoned ? " (counting those abandoned, still stuck)" : "", set->max_sources);
        return AVF_ERR_CONFIG;
    }
    grown = realloc(set->runners, (set->nb_runners + 1) * sizeof(*grown));
    if (!grown) {
        snprintf(why, why_size, "out of memory");
        return AVERROR(ENOMEM);
    }
    set->runners = grown;
    ret = avf_runner_start(&set->runners[set->nb_runners], conf, set->env,
                           find_resume(set, conf->name));
    if (ret < 0) {
        snprintf(why, why_size, "source %s: cannot start", conf->name);
        return ret;
    }
    set->nb_runners++;
    return 0;
}

/* Stops the runners at indices idx[0..n) (idx NULL: the first n) together, then
 * frees them, or abandons those still running after STOP_WAIT_US. */
static void stop_runners(avf_sources *set, const int *idx, int n)
{
    int64_t deadline = av_gettime_relative() + STOP_WAIT_US;

    for (int i = 0; i < n; i++)
        avf_runner_stop(set->runners[idx ? idx[i] : i]);
    for (int i = 0; i < n; i++) {
        avf_runner **pr = &set->runners[idx ? idx[i] : i];
        avf_runner_resume resume;
        char name[AVF_SOURCE_NAME_MAX + 1];

        snprintf(name, sizeof(name), "%s", avf_runner_conf(*pr)->name);
        if (avf_runner_free(pr, deadline, &resume) > 0)
            avf_log(AVF_LOG_WARN, name, "did not stop within %g s: abandoned", STOP_WAIT_US / 1e6);
        keep_resume(set, name, &resume);
    }
    set->freed += n;
    /* close the gaps */
    int kept = 0;

    for (int i = 0; i < set->nb_runners; i++)
        if (set->runners[i])
            set->runners[kept++] = set->runners[i];
    set->nb_runners = kept;
}

int avf_sources_remove(avf_sources *set, const char *name, char *why, size_t why_size)
{
    int i = find(set, name);

    if (i < 0) {
        snprintf(why, why_size, "no source called '%.*s'", AVF_SOURCE_NAME_MAX, name);
        return AVF_ERR_CONFIG;
    }
    stop_runners(set, &i, 1);
    return 0;
}

static int in_list(json_t *list, const char *name)
{
    size_t i;
    json_t *v;

    json_array_foreach(list, i, v) if (!strcmp(json_string_value(v), name)) return 1;
    return 0;
}

int avf_sources_apply(avf_sources *set, const avf_config *c, json_t *report)
{
    json_t *rep = report ? json_incref(report) : json_object();
    json_t *added = json_array(), *removed = json_array(), *changed = json_array();
    int *stop = calloc(set->nb_runners + 1, sizeof(*stop));
    int nb_stop = 0, ret = 0;
    char why[400];

    if (!rep || !added || !removed || !changed || !stop) {
        json_decref(rep);
        json_decref(added);
        json_decref(removed);
        json_decref(changed);
        free(stop);
        return AVERROR(ENOMEM);
    }
    json_object_set_new(rep, "added", added);
    json_object_set_new(rep, "removed", removed);
    json_object_set_new(rep, "changed", changed);
    /* removed and changed sources stop first, all together */
    for (int i = 0; i < set->nb_runners; i++) {
        const avf_source_conf *old = avf_runner_conf(set->runners[i]);
        const avf_source_conf *now = avf_config_find(c, old->name);

        if (!now || !avf_source_conf_equal(old, now)) {
            json_array_append_new(now ? changed : removed, json_string(old->name));
            stop[nb_stop++] = i;
        }
    }
    stop_runners(set, stop, nb_stop);
    free(stop);
    set->max_sources = c->max_sources;
    for (int i = 0; i < c->nb_sources; i++) {
        const char *name = c->sources[i].name;
        int err;

        if (find(set, name) >= 0)
            continue; /* unchanged: not touched */
        err = avf_sources_add(set, &c->sources[i], why, sizeof(why));
        if (err < 0 && !ret)
            ret = err;
        if (err == 0 && !in_list(changed, name))
            json_array_append_new(added, json_string(name));
    }
    json_decref(rep);
    return ret;
}

void avf_sources_reap(avf_sources *set)
{
    for (int i = 0; i < set->nb_runners; i++) {
        enum avf_runner_state state = avf_runner_state(set->runners[i]);

        if (state == AVF_STATE_ENDED || state == AVF_STATE_FAILED)
            set->freed += avf_runner_reap(set->runners[i]);
    }
    /* A pipeline's buffers are many blocks under the mmap threshold, and the
     * daemon's one arena keeps the space they leave wherever something long-lived
     * sits above it: after 80 files that ran together and ended, RSS stayed 180 MB
     * up. malloc_trim() gives every free page back, wherever it lies; once per tick
     * that saw a source end or go, not per source. */
    if (set->freed) {
        malloc_trim(0);
        set->freed = 0;
    }
}

int avf_sources_count(const avf_sources *set)
{
    return set->nb_runners;
}

int avf_sources_active(avf_sources *set)
{
    int n = 0;

    for (int i = 0; i < set->nb_runners; i++) {
        enum avf_runner_state state = avf_runner_state(set->runners[i]);

        n += state != AVF_STATE_ENDED && state != AVF_STATE_FAILED;
    }
    return n;
}

void avf_sources_publish_status(avf_sources *set)
{
    for (int i = 0; i < set->nb_runners; i++)
        avf_runner_publish_status(set->runners[i]);
}

void avf_sources_reopen_outputs(avf_sources *set)
{
    for (int i = 0; i < set->nb_runners; i++)
        avf_runner_reopen_output(set->runners[i]);
}

int avf_sources_alive(avf_sources *set, char *stuck, size_t stuck_size)
{
    int64_t now = av_gettime_relative();

    for (int i = 0; i < set->nb_runners; i++)
        if (!avf_runner_alive(set->runners[i], now)) {
            if (stuck && stuck_size > 0)
                snprintf(stuck, stuck_size, "%s", avf_runner_conf(set->runners[i])->name);
            return 0;
        }
    return 1;
}

json_t *avf_sources_list(avf_sources *set)
{
    json_t *list = json_array();

    for (int i = 0; list && i < set->nb_runners; i++) {
        const avf_source_conf *c = avf_runner_conf(set->runners[i]);
        char *text = avf_runner_status(set->runners[i]);
        json_t *status = text ? json_loads(text, 0, NULL) : NULL;
        char where[AVF_URL_SHOWN];

        avf_redact(where, sizeof(where), c->url ? c->url : c->device ? c->device : "default");

        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:O, s:O, s:O}", "name", c->name,
                                              "type", avf_source_type_name(c->type), "url", where,
                                              "state", json_object_get(status, "state"), "epoch",
                                              json_object_get(status, "epoch"), "next_seq",
                                              json_object_get(status, "next_seq")));
        json_decref(status);
        free(text);
    }
    return list;
}

json_t *avf_sources_status(avf_sources *set)
{
    json_t *list = json_array();

    for (int i = 0; list && i < set->nb_runners; i++) {
        char *text = avf_runner_status(set->runners[i]);

        json_array_append_new(list, text ? json_loads(text, 0, NULL) : json_null());
        free(text);
    }
    return list;
}

void avf_sources_free(avf_sources **pset)
{
    avf_sources *set;

    if (!pset || !*pset)
        return;
    set = *pset;
    stop_runners(set, NULL, set->nb_runners);
    free(set->runners);
    free(set->resumes);
    free(set);
    *pset = NULL;
}
