/*
 * control.c - the control socket's commands (docs/control.md).
 */
#include "control.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <zmq.h>

#include "daemon/curve.h"
#include "pipeline/error.h"

static char *reply(json_t *body)
{
    char *text;

    if (!body)
        return NULL;
    text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    return text;
}

static char *error_reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *error_reply(const char *fmt, ...)
{
    char why[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    return reply(json_pack("{s:b, s:s}", "ok", 0, "error", why));
}

/* A JSON number or boolean of an `add` as the text a config file would hold. */
static int value_text(json_t *v, char *out, size_t size)
{
    if (json_is_integer(v))
        snprintf(out, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        snprintf(out, size, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(out, size, "%s", json_is_true(v) ? "yes" : "no");
    else
        return -1;
    return 0;
}

static char *cmd_add(json_t *req, const avf_control_ops *ops)
{
    json_t *src = json_object_get(req, "source"), *v;
    const char *name = json_string_value(json_object_get(src, "name"));
    const char *key, *value;
    avf_source_conf conf;
    char why[400], text[64];
    int ret = 0;

    if (!json_is_object(src))
        return error_reply("add needs a \"source\" object");
    if (!name)
        return error_reply("add needs the source's \"name\"");
    if (!avf_source_name_valid(name))
        return error_reply("source name '%s' must match [A-Za-z0-9_-]{1,64}", name);
    avf_source_conf_init(&conf, name);
    json_object_foreach(src, key, v)
    {
        if (!strcmp(key, "name"))
            continue;
        if (json_is_string(v)) {
            value = json_string_value(v); /* whole: the key's own bound judges its length */
        } else if (value_text(v, text, sizeof(text)) == 0) {
            value = text;
        } else {
            snprintf(why, sizeof(why), "%s must be a string, number or boolean", key);
            ret = AVF_ERR_CONFIG;
            break;
        }
        ret = avf_source_conf_set(&conf, key, value, why, sizeof(why));
        if (ret < 0)
            break;
    }
    if (ret == 0)
        ret = avf_sources_add(ops->sources, &conf, why, sizeof(why));
    avf_source_conf_clear(&conf);
    if (ret < 0)
        return error_reply("%s", why);
    return reply(json_pack("{s:b, s:s}", "ok", 1, "added", name));
}

static char *cmd_remove(json_t *req, const avf_control_ops *ops)
{
    const char *name = json_string_value(json_object_get(req, "name"));
    char why[400];

    if (!name)
        return error_reply("remove needs the source's \"name\"");
    if (avf_sources_remove(ops->sources, name, why, sizeof(why)) < 0)
        return error_reply("%s", why);
    return reply(json_pack("{s:b, s:s}", "ok", 1, "removed", name));
}

static char *cmd_reload(const avf_control_ops *ops)
{
    json_t *report = json_pack("{s:b}", "ok", 1);
    char why[600];

    if (!report)
        return NULL;
    if (ops->reload(ops->opaque, report, why, sizeof(why)) < 0) {
        json_decref(report);
        return error_reply("%s", why);
    }
    return reply(report);
}

char *avf_control_handle(const char *request, size_t size, const avf_control_ops *ops)
{
    json_error_t error;
    json_t *req = json_loadb(request, size, JSON_REJECT_DUPLICATES, &error);
    const char *cmd = json_string_value(json_object_get(req, "cmd"));
    char *out;

    if (!req)
        return error_reply("not JSON: %s", error.text);
    if (!cmd)
        out = error_reply("the request needs a \"cmd\" string");
    else if (!strcmp(cmd, "status"))
        out = reply(json_pack("{s:b, s:o, s:o}", "ok", 1, "daemon", ops->daemon_info(ops->opaque),
                              "sources", avf_sources_status(ops->sources)));
    else if (!strcmp(cmd, "sources"))
        out = reply(json_pack("{s:b, s:o}", "ok", 1, "sources", avf_sources_list(ops->sources)));
    else if (!strcmp(cmd, "add"))
        out = cmd_add(req, ops);
    else if (!strcmp(cmd, "remove"))
        out = cmd_remove(req, ops);
    else if (!strcmp(cmd, "reload"))
        out = cmd_reload(ops);
    else
        out = error_reply("unknown command '%s' (status, sources, add, remove, reload)", cmd);
    json_decref(req);
    return out;
}

void *avf_control_open(void *ctx, const char *endpoint, const avf_curve_keypair *curve, char *why,
                       size_t why_size)
{
    int64_t max_size = AVF_CONTROL_MAX_REQUEST;
    int linger = 0, hwm = 64;
    void *sock = zmq_socket(ctx, ZMQ_REP);
    mode_t old;
    int ret;

    if (!sock) {
        snprintf(why, why_size, "cannot create the control socket: %s", zmq_strerror(errno));
        return NULL;
    }
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max_size, sizeof(max_size));
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    if (curve && avf_curve_server(sock, curve) < 0) {
        snprintf(why, why_size, "cannot make the control socket a CURVE server: %s",
                 zmq_strerror(errno));
        zmq_close(sock);
        return NULL;
    }
    old = umask(0117); /* the socket file: rw for user and group only */
    ret = zmq_bind(sock, endpoint);
    umask(old);
    if (ret < 0) {
        snprintf(why, why_size, "cannot bind the control socket %s: %s", endpoint,
                 zmq_strerror(errno));
        zmq_close(sock);
        return NULL;
    }
    return sock;
}
