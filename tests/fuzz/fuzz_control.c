/*
 * fuzz_control.c - the control socket's command interpreter (daemon/control.c,
 * avf_control_handle()) and the source set behind it (daemon/sources.c), on
 * arbitrary requests.
 *
 * An input is up to 16 requests, one per line, run in order against one source
 * set, so sequences (add, remove, reload, add again) are reached. The runners are
 * a link seam: this file defines every avf_runner_* function, so daemon/runner.c
 * is never linked in and no request can start a thread or open an input, however
 * valid the source it adds. `reload` applies a fixed configuration.
 *
 * Checked: every reply is a JSON object with "ok" (and "error" when false); a
 * successful add or remove changes the number of sources by one, a refused one
 * changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/control.h"
#include "daemon/runner.h"
#include "daemon/sources.h"
#include "base/error.h"
#include "tests/fuzz/fuzz.h"

#define MAX_REQUESTS 16

/* ---- the runner seam: a runner is its configuration and nothing runs ---- */

struct avf_runner {
    avf_source_conf conf;
    int stopped;
    uint64_t next_seq;
};

int avf_runner_start(avf_runner **pr, const avf_source_conf *conf, const avf_runner_env *env,
                     const avf_runner_resume *resume)
{
    avf_runner *r = calloc(1, sizeof(*r));

    (void)env;
    if (!r)
        return AVERROR(ENOMEM);
    if (avf_source_conf_copy(&r->conf, conf) < 0) {
        free(r);
        return AVERROR(ENOMEM);
    }
    r->next_seq = resume ? resume->next_seq : 0;
    *pr = r;
    return 0;
}

void avf_runner_stop(avf_runner *r)
{
    r->stopped = 1;
}

int avf_runner_free(avf_runner **pr, int64_t deadline_us, avf_runner_resume *resume)
{
    (void)deadline_us;
    if (!pr || !*pr)
        return 0;
    if (resume)
        *resume = (avf_runner_resume){.next_seq = (*pr)->next_seq + 1};
    avf_source_conf_clear(&(*pr)->conf);
    free(*pr);
    *pr = NULL;
    return 0;
}

const avf_source_conf *avf_runner_conf(const avf_runner *r)
{
    return &r->conf;
}

enum avf_runner_state avf_runner_state(avf_runner *r)
{
    return r->stopped ? AVF_STATE_ENDED : AVF_STATE_RUNNING;
}

const char *avf_runner_state_name(enum avf_runner_state state)
{
    return state == AVF_STATE_ENDED ? "ended" : "running";
}

char *avf_runner_status(avf_runner *r)
{
    json_t *o = json_pack("{s:s, s:s, s:i, s:I}", "source", r->conf.name, "state",
                          avf_runner_state_name(avf_runner_state(r)), "epoch", 0, "next_seq",
                          (json_int_t)r->next_seq);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    return text;
}

void avf_runner_publish_status(avf_runner *r)
{
    (void)r;
}

int avf_runner_alive(avf_runner *r, int64_t now_us)
{
    (void)r;
    (void)now_us;
    return 1;
}

void avf_runner_reopen_output(avf_runner *r)
{
    (void)r;
}

int avf_runner_reap(avf_runner *r)
{
    (void)r;
    return 0;
}

int avf_runners_abandoned(void)
{
    return 0;
}

/* ---- the daemon side of the interpreter ---- */

typedef struct daemon_stub {
    avf_sources *set;
    avf_config *reload_conf; /* what `reload` applies; NULL: reload fails */
} daemon_stub;

static json_t *daemon_info(void *opaque)
{
    (void)opaque;
    return json_pack("{s:s, s:i}", "version", "fuzz", "pid", 1);
}

static int reload(void *opaque, json_t *report, char *why, size_t why_size)
{
    daemon_stub *d = opaque;
    int ret;

    if (!d->reload_conf) {
        snprintf(why, why_size, "no configuration to reload");
        return AVF_ERR_CONFIG;
    }
    ret = avf_sources_apply(d->set, d->reload_conf, report);
    if (ret < 0)
        snprintf(why, why_size, "reload: some sources did not start");
    return ret;
}

static avf_config *load_reload_conf(void)
{
    static const char text[] = "[daemon]\n"
                               "control = none\n"
                               "[source lobby]\n"
                               "type = file\n"
                               "url = /nonexistent/lobby.mp4\n"
                               "[source cam]\n"
                               "type = stream\n"
                               "url = rtsp://127.0.0.1:1/cam\n"
                               "hop = 0.5\n";
    avf_config *c = NULL;
    char path[64], why[512];
    int fd = fuzz_memfile(text, sizeof(text) - 1, path, sizeof(path));

    if (fd < 0)
        return NULL;
    if (avf_config_load(&c, path, why, sizeof(why)) < 0)
        fprintf(stderr, "fuzz_control: the reload configuration is refused: %s\n", why);
    close(fd);
    return c;
}

static void check_reply(const char *request, size_t len, const char *reply, int before, int after)
{
    json_t *r = json_loads(reply, 0, NULL);
    json_t *req = json_loadb(request, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *ok = json_object_get(r, "ok");
    const char *cmd = json_string_value(json_object_get(req, "cmd"));

    FUZZ_ASSERT(json_is_object(r) && json_is_boolean(ok));
    if (json_is_false(ok))
        FUZZ_ASSERT(json_is_string(json_object_get(r, "error")));
    if (cmd && !strcmp(cmd, "add"))
        FUZZ_ASSERT(after == before + json_is_true(ok));
    else if (cmd && !strcmp(cmd, "remove"))
        FUZZ_ASSERT(after == before - json_is_true(ok));
    else if (!cmd || strcmp(cmd, "reload"))
        FUZZ_ASSERT(after == before);
    json_decref(req);
    json_decref(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static avf_config *reload_conf;
    static int ready;
    avf_runner_env env = {0};
    daemon_stub d = {0};
    avf_control_ops ops = {NULL, &d, daemon_info, reload};
    const char *p = (const char *)data, *end = p + size;

    if (!ready) {
        fuzz_quiet();
        reload_conf = load_reload_conf();
        ready = 1;
    }
    d.set = avf_sources_new(&env);
    d.reload_conf = reload_conf;
    ops.sources = d.set;
    if (!d.set)
        return 0;
    for (int i = 0; i < MAX_REQUESTS && p <= end; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        int before = avf_sources_count(d.set);
        /* the socket hands over the message's bytes: no terminating NUL */
        char *reply = avf_control_handle(p, len, &ops);

        FUZZ_ASSERT(reply);
        check_reply(p, len, reply, before, avf_sources_count(d.set));
        free(reply);
        if (!nl)
            break;
        p = nl + 1;
    }
    avf_sources_free(&d.set);
    return 0;
}
