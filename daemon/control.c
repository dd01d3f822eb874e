/*
 * control.c - the control socket's commands (docs/control.md).
 */
#include "daemon/control.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <zmq.h>

#include "daemon/curve.h"
#include "base/redact.h"
#include "base/error.h"

/* Every reply goes out redacted: error texts echo requests and configurations,
 * and the sources' list and status show their URLs. */
static char *reply(json_t *body)
{
    char *text;

    if (!body)
        return NULL;
    if (avf_redact_json(body) < 0) {
        json_decref(body);
        return NULL;
    }
    text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    return text;
}

/*
 * Replaces each byte of s that is not part of a valid UTF-8 character with '?'
 * (what jansson also refuses: overlong forms, surrogates, past U+10FFFF). A reason
 * may quote bytes of a request or a file (jansson's own "invalid escape near ..."
 * does), or be cut inside a character, and a JSON string takes valid UTF-8 only.
 */
static void make_utf8(char *s)
{
    unsigned char *p = (unsigned char *)s;

    while (*p) {
        int n = *p < 0x80             ? 1
                : (*p & 0xe0) == 0xc0 ? 2
                : (*p & 0xf0) == 0xe0 ? 3
                : (*p & 0xf8) == 0xf0 ? 4
                                      : 0;
        uint32_t cp = n > 1 ? *p & (0x7fu >> n) : 0;
        int ok = n > 0;

        for (int i = 1; ok && i < n; i++) {
            ok = (p[i] & 0xc0) == 0x80;
            cp = cp << 6 | (p[i] & 0x3fu);
        }
        if (ok && n > 1)
            ok = !(n == 2 && cp < 0x80) && !(n == 3 && cp < 0x800) &&
                 !(n == 4 && (cp < 0x10000 || cp > 0x10ffff)) && !(cp >= 0xd800 && cp <= 0xdfff);
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}

static char *error_reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The reason is capped (it may echo a long request), made valid UTF-8 and redacted. */
static char *error_reply(const char *fmt, ...)
{
    char text[2048], why[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    make_utf8(text);
    return reply(json_pack("{s:b, s:s}", "ok", 0, "error", avf_redact(why, sizeof(why), text)));
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
        return AVERROR(EINVAL);
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
        /* a path would let a client send any file the daemon can read to a host of
         * its choosing as a password: a client names a systemd credential only */
        if (!strcmp(key, "password_file") && !avf_password_file_is_credential(value)) {
            snprintf(why, sizeof(why),
                     "password_file through the control socket names a credential of "
                     "$CREDENTIALS_DIRECTORY (no '/'), not a path");
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

/* Why the per-user folder st may not be trusted, or NULL if it may (as plugins/loader.c). */
static const char *foreign_folder(const struct stat *st, char *buf, size_t size)
{
    if (!S_ISDIR(st->st_mode))
        return "is not a folder (a link, or a file, is not followed)";
    if (st->st_uid != geteuid()) {
        snprintf(buf, size, "is owned by uid %u, not by the daemon's user (uid %u)",
                 (unsigned)st->st_uid, (unsigned)geteuid());
        return buf;
    }
    if (st->st_mode & (S_IWGRP | S_IWOTH)) {
        snprintf(buf, size, "is writable by group or others (mode %04o)",
                 (unsigned)(st->st_mode & 07777));
        return buf;
    }
    return NULL;
}

/* The folder part of path: "." for a bare name, "/" for a name in the root. */
static void folder_of(const char *path, char *out, size_t size)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        snprintf(out, size, ".");
    else
        snprintf(out, size, "%.*s", slash == path ? 1 : (int)(slash - path), path);
}

int avf_control_check_dir(const char *endpoint, int per_user, int create, char *why,
                          size_t why_size)
{
    const char *path = endpoint + strlen("ipc://"), *reason;
    struct sockaddr_un sa;
    char dir[sizeof(sa.sun_path)], parent[sizeof(sa.sun_path)], buf[160];
    struct stat st;
    int ret;

    if (strncmp(endpoint, "ipc://", strlen("ipc://")) || *path == '@')
        return 0;
    if (!*path || strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(why, why_size,
                 "control socket path '%s' is empty or longer than a unix socket allows "
                 "(%zu bytes)",
                 path, sizeof(sa.sun_path) - 1);
        return AVERROR(ENAMETOOLONG);
    }
    folder_of(path, dir, sizeof(dir));
    if (per_user && lstat(dir, &st) < 0 && errno == ENOENT) {
        folder_of(dir, parent, sizeof(parent));
        if (!create) /* -n creates nothing: mkdir() would need a parent to write in */
            ret = access(parent, W_OK | X_OK) < 0 ? AVERROR(errno) : 0;
        else
            ret = mkdir(dir, 0700) < 0 && errno != EEXIST ? AVERROR(errno) : 0;
        if (ret < 0) {
            snprintf(why, why_size, "control socket folder %s: cannot be created in %s: %s", dir,
                     parent, strerror(AVUNERROR(ret)));
            return ret;
        }
        if (!create)
            return 0;
    }
    if ((per_user ? lstat(dir, &st) : stat(dir, &st)) < 0) {
        ret = AVERROR(errno);
        snprintf(why, why_size, "control socket folder %s: %s", dir,
                 ret == AVERROR(ENOENT)
                     ? "does not exist (avfused creates only the per-user default folder)"
                     : strerror(AVUNERROR(ret)));
        return ret;
    }
    reason = per_user              ? foreign_folder(&st, buf, sizeof(buf))
             : S_ISDIR(st.st_mode) ? NULL
                                   : "is not a folder";
    if (reason) {
        snprintf(why, why_size, "control socket folder %s: %s; refusing to put the socket there",
                 dir, reason);
        return AVERROR(EPERM);
    }
    if (access(dir, W_OK | X_OK) < 0) {
        ret = AVERROR(errno);
        snprintf(why, why_size, "control socket folder %s: cannot create the socket in it: %s", dir,
                 strerror(AVUNERROR(ret)));
        return ret;
    }
    return 0;
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
