/*
 * ctl.c - `avfuse ctl`: the client of a running daemon's control socket.
 *
 * One request, one reply (docs/control.md): the request is a JSON object sent as
 * one frame from a REQ socket, and the reply is awaited with a receive timeout,
 * because ZeroMQ connects in the background and a daemon that is not running would
 * otherwise be waited for forever. For an ipc:// socket the path is checked first,
 * so a missing socket or a permission problem is named at once instead of after the
 * timeout. `add` turns key=value arguments into the keys of a [source NAME]
 * section: values that read as numbers or true/false are sent as JSON numbers and
 * booleans, the rest as strings (a value in double quotes always as a string).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <zmq.h>

#include "tools/commands.h"
#include "base/log.h"
#include "base/redact.h"
#include "daemon/config.h"
#include "fusion/message.h"

#define CTL_DEFAULT_TIMEOUT 5.0
/* The system service's socket (avfused.service: RuntimeDirectory=avfuse), for hints. */
#define CTL_SERVICE_SOCKET "ipc:///run/avfuse/control"

static void ctl_usage(FILE *f)
{
    fprintf(f, "usage: avfuse ctl [options] COMMAND [ARGS]\n"
               "\n"
               "Sends one request to a running avfused's control socket and prints the\n"
               "reply as JSON (see docs/control.md).\n"
               "\n"
               "commands:\n"
               "  status                  the daemon and the latest status of every source\n"
               "  sources                 each source's name, type, url, state, epoch, next seq\n"
               "  add NAME KEY=VALUE...   start a source, with the keys of a [source NAME]\n"
               "                          section (e.g. type=file url=/srv/a.mp4 hop=0.5); it\n"
               "                          lasts until the daemon stops or a reload drops it.\n"
               "                          Values that read as numbers or true/false are sent\n"
               "                          as JSON numbers and booleans, others as strings;\n"
               "                          quote to force a string: device='\"0\"'\n"
               "  remove NAME             stop a source (its last segment is published)\n"
               "  reload                  re-read the configuration file, as SIGHUP does\n"
               "\n"
               "options:\n"
               "  -s, --socket ENDPOINT   the control socket; default as avfused's without a\n"
               "                          `control` key: $RUNTIME_DIRECTORY/control, else\n"
               "                          $XDG_RUNTIME_DIR/avfuse/control, else\n"
               "                          /tmp/avfuse-UID/control (the system service's is\n"
               "                          " CTL_SERVICE_SOCKET ")\n"
               "  -t, --timeout SECONDS   how long to wait for the reply (default 5)\n"
               "  --json                  print the reply on one line instead of indented\n"
               "  --key FILE              CURVE: this client's key pair (avfuse keygen)\n"
               "  --server-key FILE       CURVE: the daemon's public key (its .pub file)\n"
               "  -h, --help              show this help\n"
               "\n"
               "Exit status: 0 when the daemon carried out the request, 1 when it refused\n"
               "it (the reason is printed) or did not answer, 2 on a usage error.\n");
}

static void ctl_short_usage(void)
{
    fprintf(stderr, "usage: avfuse ctl [-s ENDPOINT] [-t SECONDS] [--json] COMMAND [ARGS]\n"
                    "  COMMAND: status | sources | add NAME KEY=VALUE... | remove NAME | reload\n"
                    "Run 'avfuse ctl --help' for more.\n");
}

/* A JSON number as a user would type one: -12, 0.5, .5, 1e3. */
static int looks_numeric(const char *v)
{
    int digits = 0;

    if (*v == '-' || *v == '+')
        v++;
    for (; *v >= '0' && *v <= '9'; v++)
        digits++;
    if (*v == '.')
        for (v++; *v >= '0' && *v <= '9'; v++)
            digits++;
    if (!digits)
        return 0;
    if (*v == 'e' || *v == 'E') {
        v++;
        if (*v == '-' || *v == '+')
            v++;
        if (!(*v >= '0' && *v <= '9'))
            return 0;
        while (*v >= '0' && *v <= '9')
            v++;
    }
    return *v == '\0';
}

/* The JSON value of an add argument's VALUE; NULL when it is not valid UTF-8. */
static json_t *typed_value(const char *v)
{
    size_t n = strlen(v);

    if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
        return json_stringn(v + 1, n - 2);
    if (!strcmp(v, "true"))
        return json_true();
    if (!strcmp(v, "false"))
        return json_false();
    if (looks_numeric(v)) {
        char *end;
        double d;

        if (!strpbrk(v, ".eE")) {
            long long i;

            errno = 0;
            i = strtoll(v, &end, 10);
            if (!errno && !*end)
                return json_integer(i);
        }
        errno = 0;
        d = strtod(v, &end);
        if (!errno && !*end && isfinite(d))
            return json_real(d);
    }
    return json_string(v);
}

/* Builds {"cmd":"add","source":{"name":NAME,KEY:VALUE...}}; NULL after a usage message. */
static json_t *add_request(const char *name, char **kv, int n)
{
    json_t *req = NULL, *source = json_object();

    if (!source || json_object_set_new(source, "name", json_string(name)) < 0)
        goto fail;
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(kv[i], '=');
        char *key;
        json_t *value;
        int bad = 0;

        if (!eq || eq == kv[i]) {
            char shown[AVF_URL_SHOWN];

            fprintf(stderr, "avfuse ctl: add: '%s' is not KEY=VALUE\n",
                    avf_redact(shown, sizeof(shown), kv[i]));
            goto fail;
        }
        key = strndup(kv[i], (size_t)(eq - kv[i]));
        if (!key)
            goto fail;
        if (json_object_get(source, key)) {
            if (!strcmp(key, "name"))
                fprintf(stderr, "avfuse ctl: add: the name is given as NAME, not as a key\n");
            else
                fprintf(stderr, "avfuse ctl: add: key '%s' given twice\n", key);
            bad = 1;
        } else if (!(value = typed_value(eq + 1))) {
            fprintf(stderr, "avfuse ctl: add: the value of '%s' is not UTF-8 text\n", key);
            bad = 1;
        } else if (json_object_set_new(source, key, value) < 0) {
            fprintf(stderr, "avfuse ctl: add: '%s' is not a valid key\n", key);
            bad = 1;
        }
        free(key);
        if (bad)
            goto fail;
    }
    req = json_pack("{s:s, s:o}", "cmd", "add", "source", source);
    if (req)
        return req;
    source = NULL; /* json_pack's "o" took it even on failure */
fail:
    json_decref(source);
    return NULL;
}

/*
 * Builds the request of argv[0] (the command) and its arguments. Returns it (the
 * caller frees it with json_decref()) or NULL after a message on stderr.
 */
static json_t *build_request(int argc, char **argv)
{
    const char *cmd = argv[0];
    int simple = !strcmp(cmd, "status") || !strcmp(cmd, "sources") || !strcmp(cmd, "reload");

    if (simple) {
        if (argc != 1) {
            fprintf(stderr, "avfuse ctl: %s takes no arguments\n", cmd);
            return NULL;
        }
        return json_pack("{s:s}", "cmd", cmd);
    }
    if (strcmp(cmd, "add") && strcmp(cmd, "remove")) {
        fprintf(stderr, "avfuse ctl: unknown command '%s'\n", cmd);
        return NULL;
    }
    if (argc < 2) {
        fprintf(stderr, "avfuse ctl: %s: which source? (NAME missing)\n", cmd);
        return NULL;
    }
    if (!avf_source_name_valid(argv[1])) {
        char shown[AVF_URL_SHOWN];

        fprintf(stderr, "avfuse ctl: %s: '%s' is not a source name ([A-Za-z0-9_-]{1,64})\n", cmd,
                avf_redact(shown, sizeof(shown), argv[1]));
        return NULL;
    }
    if (!strcmp(cmd, "remove")) {
        if (argc != 2) {
            fprintf(stderr, "avfuse ctl: remove takes one NAME\n");
            return NULL;
        }
        return json_pack("{s:s, s:s}", "cmd", "remove", "name", argv[1]);
    }
    return add_request(argv[1], argv + 2, argc - 2);
}

/*
 * For ipc:// endpoints: 0 when the socket file is there to talk to, else -errno,
 * reported. is_default: no --socket was given, so a daemon of the system service
 * (whose socket is elsewhere) is worth a hint.
 */
static int check_ipc_path(const char *endpoint, int is_default)
{
    const char *path = endpoint + strlen("ipc://");

    if (strncmp(endpoint, "ipc://", strlen("ipc://")) || *path == '@' || !*path)
        return 0; /* another transport, or Linux's abstract namespace: no file */
    if (access(path, F_OK) < 0 && errno == ENOENT) {
        avf_log(AVF_LOG_ERROR, "ctl", "%s: no such socket (is avfused running?%s)", endpoint,
                is_default && strcmp(endpoint, CTL_SERVICE_SOCKET)
                    ? " The system service's is --socket " CTL_SERVICE_SOCKET
                    : "");
        return -ENOENT;
    }
    if (access(path, R_OK | W_OK) < 0 && errno == EACCES) {
        avf_log(AVF_LOG_ERROR, "ctl",
                "%s: permission denied (the control socket is for the daemon's user and group)",
                endpoint);
        return -EACCES;
    }
    return 0;
}

/* Prints the reply and returns the exit status. */
static int handle_reply(const char *endpoint, const char *data, size_t len, int compact)
{
    json_error_t err;
    json_t *reply = json_loadb(data, len, 0, &err), *ok;
    int status = EXIT_INPUT_FAILED, redacted;
    char *text = NULL;

    if (!reply || !json_is_object(reply)) {
        avf_log(AVF_LOG_ERROR, "ctl", "%s: the reply is not a JSON object%s%s", endpoint,
                reply ? "" : ": ", reply ? "" : err.text);
        goto done;
    }
    ok = json_object_get(reply, "ok");
    if (!json_is_boolean(ok)) {
        avf_log(AVF_LOG_ERROR, "ctl", "%s: malformed reply: no \"ok\": true or false", endpoint);
        goto done;
    }
    /* the daemon redacts its replies; one of another version may not have */
    redacted = avf_redact_json(reply);
    if (redacted < 0) {
        avf_log(AVF_LOG_ERROR, "ctl", "out of memory");
        goto done;
    }
    if (json_is_false(ok)) {
        const char *why = json_string_value(json_object_get(reply, "error"));

        avf_log(AVF_LOG_ERROR, "ctl", "%s", why ? why : "request refused (no reason given)");
        goto done;
    }
    if (compact && !redacted && !memchr(data, '\n', len) && !memchr(data, '\r', len)) {
        /* as received: re-encoding could only change how numbers are spelled */
        if (fwrite(data, 1, len, stdout) != len || putchar('\n') == EOF)
            goto write_failed;
    } else {
        /* 15 digits spell back any value written with 15 or fewer: 12.1, not 12.0999... */
        text = json_dumps(reply, (compact ? JSON_COMPACT : JSON_INDENT(2)) |
                                     JSON_REAL_PRECISION(compact ? 17 : 15));
        if (!text || puts(text) == EOF)
            goto write_failed;
    }
    if (fflush(stdout) == EOF)
        goto write_failed;
    status = 0;
    goto done;
write_failed:
    avf_log(AVF_LOG_ERROR, "ctl", "cannot write the reply: %s", strerror(errno));
done:
    free(text);
    json_decref(reply);
    return status;
}

/* The command line, up to the command. */
typedef struct ctl_opts {
    const char *endpoint;         /* --socket, or NULL for the default */
    const char *key, *server_key; /* CURVE, or NULL */
    double timeout;               /* for the reply, in seconds */
    int compact, help;            /* --json, --help */
} ctl_opts;

/*
 * Reads the options into o; the command starts at argv[optind]. Returns 0 (o->help
 * set for --help), or -EINVAL after a message on stderr.
 */
static int ctl_parse_args(ctl_opts *o, int argc, char **argv)
{
    enum { OPT_JSON = 256, OPT_KEY, OPT_SERVER_KEY };
    static const struct option options[] = {
        {"key", required_argument, NULL, OPT_KEY},
        {"server-key", required_argument, NULL, OPT_SERVER_KEY},
        {"socket", required_argument, NULL, 's'},
        {"timeout", required_argument, NULL, 't'},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char *end;
    int opt;

    o->timeout = CTL_DEFAULT_TIMEOUT;
    while ((opt = getopt_long(argc, argv, "s:t:h", options, NULL)) != -1) {
        switch (opt) {
        case 's':
            o->endpoint = optarg;
            break;
        case 't':
            errno = 0;
            o->timeout = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(o->timeout > 0 && o->timeout <= 3600)) {
                fprintf(stderr,
                        "avfuse ctl: --timeout: seconds above 0 and at most 3600, not '%s'\n",
                        optarg);
                return -EINVAL;
            }
            break;
        case OPT_JSON:
            o->compact = 1;
            break;
        case OPT_KEY:
            o->key = optarg;
            break;
        case OPT_SERVER_KEY:
            o->server_key = optarg;
            break;
        case 'h':
            o->help = 1;
            return 0;
        default:
            ctl_short_usage();
            return -EINVAL;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "avfuse ctl: no command\n");
        ctl_short_usage();
        return -EINVAL;
    }
    return 0;
}

/*
 * Creates a REQ socket of ctx with o's timeout and CURVE keys, stored in *sockp for
 * the caller to close (also on failure). Returns 0 or a negative error, reported.
 */
static int ctl_socket(void *ctx, const ctl_opts *o, void **sockp)
{
    int ms = (int)ceil(o->timeout * 1000), linger = 0, ret;
    void *sock = zmq_socket(ctx, ZMQ_REQ);

    *sockp = sock;
    if (!sock) {
        ret = zmq_errno();
        avf_log(AVF_LOG_ERROR, "ctl", "cannot create a ZeroMQ socket: %s", zmq_strerror(ret));
        return -ret;
    }
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(sock, ZMQ_SNDTIMEO, &ms, sizeof(ms));
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &ms, sizeof(ms));
    return avf_zmq_curve(sock, o->key, o->server_key, "ctl");
}

/*
 * Sends the request text to the daemon at o's endpoint (or the default one) and
 * prints its reply. Returns the exit status.
 */
static int ctl_send(const ctl_opts *o, const char *text)
{
    const char *endpoint = o->endpoint;
    char default_socket[4096 + 32];
    void *ctx = NULL, *sock = NULL;
    zmq_msg_t reply;
    int status = EXIT_INPUT_FAILED, ret;

    zmq_msg_init(&reply);
    if (!endpoint) {
        if (avf_control_default(default_socket, sizeof(default_socket)) < 0) {
            avf_log(AVF_LOG_ERROR, "ctl",
                    "the default control socket's path is too long: use --socket");
            goto done;
        }
        endpoint = default_socket;
    }
    if (check_ipc_path(endpoint, !o->endpoint) < 0)
        goto done;
    ctx = zmq_ctx_new();
    if (!ctx) {
        avf_log(AVF_LOG_ERROR, "ctl", "cannot create a ZeroMQ context: %s",
                zmq_strerror(zmq_errno()));
        goto done;
    }
    if (ctl_socket(ctx, o, &sock) < 0)
        goto done;
    if (zmq_connect(sock, endpoint) < 0) {
        ret = zmq_errno();
        avf_log(AVF_LOG_ERROR, "ctl", "cannot connect to %s: %s", endpoint,
                ret == EINVAL ? "not a ZeroMQ endpoint (e.g. ipc:///run/avfuse/control)"
                              : zmq_strerror(ret));
        status = ret == EINVAL || ret == EPROTONOSUPPORT ? EXIT_USAGE : EXIT_INPUT_FAILED;
        goto done;
    }
    if (zmq_send(sock, text, strlen(text), 0) < 0 || zmq_msg_recv(&reply, sock, 0) < 0) {
        ret = zmq_errno();
        if (ret == EAGAIN)
            avf_log(AVF_LOG_ERROR, "ctl", "no reply from %s within %g s (is avfused running?)",
                    endpoint, o->timeout);
        else
            avf_log(AVF_LOG_ERROR, "ctl", "%s: %s", endpoint, zmq_strerror(ret));
        goto done;
    }
    status = handle_reply(endpoint, zmq_msg_data(&reply), zmq_msg_size(&reply), o->compact);
done:
    zmq_msg_close(&reply);
    if (sock)
        zmq_close(sock);
    if (ctx)
        zmq_ctx_term(ctx);
    return status;
}

int avf_cmd_ctl(int argc, char **argv)
{
    ctl_opts o = {0};
    json_t *req;
    char *text;
    int status;

    if (ctl_parse_args(&o, argc, argv) < 0)
        return EXIT_USAGE;
    if (o.help) {
        ctl_usage(stdout);
        return 0;
    }
    req = build_request(argc - optind, argv + optind);
    if (!req) {
        ctl_short_usage();
        return EXIT_USAGE;
    }
    text = json_dumps(req, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(req);
    if (!text) {
        avf_log(AVF_LOG_ERROR, "ctl", "out of memory");
        return EXIT_INPUT_FAILED;
    }
    status = ctl_send(&o, text);
    free(text);
    return status;
}
