/*
 * watch.c - `avfuse watch`: subscribe to daemons and print what they publish.
 *
 * One SUB socket connects to every endpoint given and subscribes to the three topic
 * families (seg/, evt/, status/), or with --source to that source's three topics
 * (the trailing '/' keeps "lobby" from matching "lobby2"). Each message is two
 * frames, topic and JSON; it is parsed with jansson and checked against the fields
 * this tool reads before anything is printed, so a malformed message is reported
 * on stderr and skipped whole, in both output modes. Loss shows in the segments'
 * seq, which a daemon raises by exactly 1 per segment of a source for its whole
 * life: a jump is a gap, a step back a restart.
 *
 * The loop waits in zmq_poll() for at most WATCH_TICK_MS at a time, so SIGINT and
 * SIGTERM (whose handler only sets a flag) and --timeout are seen promptly.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <zmq.h>

#include "tools/commands.h"
#include "base/log.h"
#include "base/redact.h"
#include "fusion/message.h"

#define WATCH_DEFAULT_ENDPOINT "tcp://127.0.0.1:5560"
#define WATCH_TICK_MS          100
#define WATCH_STATE_MAX        32

enum msg_kind { MSG_SEGMENT, MSG_EVENT, MSG_STATUS, MSG_KINDS };

static const struct {
    const char *topic; /* the topic is "<topic>/<source>/" */
    const char *schema;
    const char *what;
} kinds[MSG_KINDS] = {
    [MSG_SEGMENT] = {"seg", "avfuse.segment.v1", "segment"},
    [MSG_EVENT] = {"evt", "avfuse.event.v1", "event"},
    [MSG_STATUS] = {"status", "avfuse.status.v1", "status"},
};

/* What watch remembers of one source. */
typedef struct watch_source {
    char name[AVF_SOURCE_NAME_MAX + 1];
    long long last_seq;          /* of the last segment; -1 before the first */
    char state[WATCH_STATE_MAX]; /* of the last status; "" before the first */
} watch_source;

typedef struct watch {
    /* the command line */
    const char *endpoint;         /* one or several, comma-separated */
    const char *only;             /* --source, or NULL */
    const char *key, *server_key; /* CURVE, or NULL */
    int json, help;               /* --json, --help */
    double timeout;               /* --timeout in seconds; 0: wait for ever */
    long long count;              /* --count; 0: no limit */
    /* the running state */
    void *ctx, *sock;
    double deadline;    /* of --timeout, from the last message; 0: none */
    long long segments; /* printed so far */
    watch_source *sources;
    int nb_sources;
} watch;

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* SIGINT and SIGTERM end watch with status 0, also while the socket is set up. */
static void catch_stop_signals(void)
{
    struct sigaction sa = {0};

    /* no SA_RESTART: a signal also cuts zmq_poll() short */
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void watch_usage(FILE *f)
{
    fprintf(f, "usage: avfuse watch [options] [ENDPOINT]\n"
               "\n"
               "Subscribes to the messages of running daemons and prints them. ENDPOINT\n"
               "is a daemon's publish endpoint or an 'avfuse proxy' backend; several may\n"
               "be given comma-separated (default " WATCH_DEFAULT_ENDPOINT ").\n"
               "\n"
               "Readable output, one line per message:\n"
               "  lobby  00:17.0-00:18.0  speech 0.93  [speech motion]  voice v -0.20 a +0.70\n"
               "      a segment: the source, t0-t1 (mm:ss.s, or h:mm:ss.s from an hour on),\n"
               "      the most likely content label and its probability ('-' without a\n"
               "      model), the tags, what the sentiment rests on (voice, scene or none)\n"
               "      and its valence and arousal ('-' for a value it does not give, and\n"
               "      alone without sentiment); 'partial' at the end of a segment cut short\n"
               "  lobby  00:17.0  start speech\n"
               "      an event; an end also gives the duration ('  2.0 s')\n"
               "  lobby  status running epoch 1\n"
               "      a status, only when the source's state changes; a reconnecting or\n"
               "      failed source also gives its error\n"
               "\n"
               "Lost segments (a gap in a source's seq) and daemon restarts (seq back to 0)\n"
               "are reported on stderr, as are malformed messages, which are skipped.\n"
               "\n"
               "options:\n"
               "  --source NAME        only this source's messages\n"
               "  --json               print each message's JSON on one line as received\n"
               "  --key FILE           CURVE: this client's key pair (avfuse keygen NAME ->\n"
               "                       NAME.key); with --server-key\n"
               "  --server-key FILE    CURVE: the daemon's public key (its .pub file)\n"
               "  --count N            exit after N segment messages\n"
               "  --timeout SECONDS    exit with status 1 when no message arrives for this\n"
               "                       long (default: wait for ever)\n"
               "  -h, --help           show this help\n"
               "\n"
               "Exit status: 0 after --count segments or on SIGINT/SIGTERM, 1 on --timeout\n"
               "or an error, 2 on a usage error.\n");
}

static void watch_short_usage(void)
{
    fprintf(stderr, "usage: avfuse watch [--source NAME] [--json] [--count N] [--timeout SECONDS] "
                    "[ENDPOINT]\n"
                    "Run 'avfuse watch --help' for more.\n");
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Prints text from the network without control characters (C0, DEL and C1 as
 * UTF-8), which could otherwise drive the terminal; each becomes '?'.
 */
static void put_text(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    for (; *p; p++) {
        if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            putchar('?');
            p++;
        } else {
            putchar(*p < 0x20 || *p == 0x7f ? '?' : *p);
        }
    }
}

/* Seconds as mm:ss.s, or h:mm:ss.s from an hour on. */
static void format_time(double t, char *buf, size_t size)
{
    long long ds;

    if (!(fabs(t) < 1e12)) {
        snprintf(buf, size, "?");
        return;
    }
    ds = llround(fabs(t) * 10);
    if (ds < 36000)
        snprintf(buf, size, "%s%02lld:%02lld.%lld", t < 0 && ds ? "-" : "", ds / 600, ds / 10 % 60,
                 ds % 10);
    else
        snprintf(buf, size, "%s%lld:%02lld:%02lld.%lld", t < 0 ? "-" : "", ds / 36000,
                 ds / 600 % 60, ds / 10 % 60, ds % 10);
}

/*
 * Splits a topic "<kind>/<source>/" into its kind and source (name must hold
 * AVF_SOURCE_NAME_MAX + 1 bytes). Returns the kind, or -EINVAL when the topic is
 * not one of watch's.
 */
static int parse_topic(const char *topic, size_t len, char *name)
{
    for (int k = 0; k < MSG_KINDS; k++) {
        size_t n = strlen(kinds[k].topic), name_len;

        if (len < n + 3 || memcmp(topic, kinds[k].topic, n) || topic[n] != '/' ||
            topic[len - 1] != '/')
            continue;
        name_len = len - n - 2;
        if (name_len > AVF_SOURCE_NAME_MAX)
            return -EINVAL;
        memcpy(name, topic + n + 1, name_len);
        name[name_len] = '\0';
        return avf_source_name_valid(name) ? k : -EINVAL;
    }
    return -EINVAL;
}

static int is_count(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0;
}

/* A key that may be absent or null, else must pass the check. */
static int optional(const json_t *obj, const char *key, int (*check)(const json_t *))
{
    const json_t *v = json_object_get(obj, key);

    return !v || json_is_null(v) || check(v);
}

static int is_number(const json_t *v)
{
    return json_is_number(v);
}

static int is_string(const json_t *v)
{
    return json_is_string(v);
}

static int is_boolean(const json_t *v)
{
    return json_is_boolean(v);
}

static int is_labels(const json_t *v)
{
    const char *key;
    json_t *p;

    if (!json_is_object(v))
        return 0;
    json_object_foreach((json_t *)v, key, p)
    {
        if (!json_is_number(p))
            return 0;
    }
    return 1;
}

static int is_tags(const json_t *v)
{
    size_t i;
    json_t *t;

    if (!json_is_array(v))
        return 0;
    json_array_foreach(v, i, t)
    {
        if (!json_is_string(t))
            return 0;
    }
    return 1;
}

static int is_number_or_null(const json_t *v)
{
    return json_is_number(v) || json_is_null(v);
}

static int is_sentiment(const json_t *v)
{
    return json_is_object(v) && json_is_string(json_object_get(v, "basis")) &&
           is_number_or_null(json_object_get(v, "valence")) &&
           is_number_or_null(json_object_get(v, "arousal"));
}

/* Returns NULL when msg has every field watch reads, else what is wrong. */
static const char *check_message(int kind, const json_t *msg, const char *source)
{
    const char *schema = json_string_value(json_object_get(msg, "schema"));
    const char *from = json_string_value(json_object_get(msg, "source"));

    if (!json_is_object(msg))
        return "not a JSON object";
    if (!schema)
        return "no \"schema\"";
    if (strcmp(schema, kinds[kind].schema))
        return "unknown \"schema\" for its topic";
    if (!from || strcmp(from, source))
        return "\"source\" differs from the topic's";
    switch (kind) {
    case MSG_SEGMENT:
        if (!is_count(json_object_get(msg, "seq")))
            return "\"seq\" is not a non-negative integer";
        if (!is_number(json_object_get(msg, "t0")) || !is_number(json_object_get(msg, "t1")))
            return "\"t0\" or \"t1\" is not a number";
        if (!optional(msg, "labels", is_labels))
            return "\"labels\" is not an object of numbers";
        if (!optional(msg, "tags", is_tags))
            return "\"tags\" is not an array of strings";
        if (!optional(msg, "sentiment", is_sentiment))
            return "\"sentiment\" lacks a basis, or a valence or arousal that is a number or null";
        if (!optional(msg, "partial", is_boolean))
            return "\"partial\" is not a boolean";
        return NULL;
    case MSG_EVENT:
        if (!is_string(json_object_get(msg, "tag")) || !is_string(json_object_get(msg, "event")))
            return "\"tag\" or \"event\" is not a string";
        if (!is_number(json_object_get(msg, "t")))
            return "\"t\" is not a number";
        if (!optional(msg, "duration", is_number))
            return "\"duration\" is not a number";
        return NULL;
    default:
        if (!is_string(json_object_get(msg, "state")))
            return "\"state\" is not a string";
        if (!is_count(json_object_get(msg, "epoch")))
            return "\"epoch\" is not a non-negative integer";
        if (!optional(msg, "error", is_string))
            return "\"error\" is not a string";
        return NULL;
    }
}

/* The source's record, added on first sight; NULL when out of memory. */
static watch_source *find_source(watch *w, const char *name)
{
    watch_source *s;

    for (int i = 0; i < w->nb_sources; i++)
        if (!strcmp(w->sources[i].name, name))
            return &w->sources[i];
    s = realloc(w->sources, (size_t)(w->nb_sources + 1) * sizeof(*s));
    if (!s)
        return NULL;
    w->sources = s;
    s = &s[w->nb_sources++];
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->last_seq = -1;
    s->state[0] = '\0';
    return s;
}

static void track_seq(watch_source *s, long long seq)
{
    long long last = s->last_seq;

    s->last_seq = seq;
    if (last < 0 || seq == last + 1)
        return;
    if (seq > last) {
        avf_log(AVF_LOG_WARN, "watch", "%s: %lld segment%s lost (seq %lld -> %lld)", s->name,
                seq - last - 1, seq - last - 1 == 1 ? "" : "s", last, seq);
    } else if (seq == 0) {
        avf_log(AVF_LOG_WARN, "watch", "%s: daemon restarted", s->name);
    } else {
        avf_log(AVF_LOG_WARN, "watch",
                "%s: daemon restarted (seq %lld -> %lld): %lld segment%s lost", s->name, last, seq,
                seq, seq == 1 ? "" : "s");
    }
}

/* " v -0.20", or " v -" for a null. */
static void print_value(const char *name, const json_t *v)
{
    if (json_is_number(v))
        printf("%s %+.2f", name, json_number_value(v));
    else
        printf("%s -", name);
}

static void print_segment(const char *source, const json_t *msg)
{
    const json_t *labels = json_object_get(msg, "labels");
    const json_t *tags = json_object_get(msg, "tags");
    const json_t *sentiment = json_object_get(msg, "sentiment");
    const char *key, *top = NULL;
    double best = 0;
    char t0[32], t1[32];
    json_t *v;
    size_t i;

    format_time(json_number_value(json_object_get(msg, "t0")), t0, sizeof(t0));
    format_time(json_number_value(json_object_get(msg, "t1")), t1, sizeof(t1));
    printf("%s  %s-%s  ", source, t0, t1);
    if (json_is_object(labels)) {
        json_object_foreach((json_t *)labels, key, v)
        {
            if (!top || json_number_value(v) > best) {
                top = key;
                best = json_number_value(v);
            }
        }
    }
    if (top) {
        put_text(top);
        printf(" %.2f", best);
    } else {
        putchar('-');
    }
    fputs("  [", stdout);
    if (json_is_array(tags)) {
        json_array_foreach(tags, i, v)
        {
            if (i)
                putchar(' ');
            put_text(json_string_value(v));
        }
    }
    putchar(']');
    if (json_is_object(sentiment)) {
        fputs("  ", stdout);
        put_text(json_string_value(json_object_get(sentiment, "basis")));
        print_value(" v", json_object_get(sentiment, "valence"));
        print_value(" a", json_object_get(sentiment, "arousal"));
    } else {
        fputs("  -", stdout);
    }
    if (json_is_true(json_object_get(msg, "partial")))
        fputs("  partial", stdout);
    putchar('\n');
}

static void print_event(const char *source, const json_t *msg)
{
    const json_t *duration = json_object_get(msg, "duration");
    char t[32];

    format_time(json_number_value(json_object_get(msg, "t")), t, sizeof(t));
    printf("%s  %s  ", source, t);
    put_text(json_string_value(json_object_get(msg, "event")));
    putchar(' ');
    put_text(json_string_value(json_object_get(msg, "tag")));
    if (json_is_number(duration))
        printf("  %.1f s", json_number_value(duration));
    putchar('\n');
}

static void print_status(const char *source, const json_t *msg)
{
    const char *state = json_string_value(json_object_get(msg, "state"));
    const char *error = json_string_value(json_object_get(msg, "error"));

    printf("%s  status ", source);
    put_text(state);
    printf(" epoch %lld", (long long)json_integer_value(json_object_get(msg, "epoch")));
    /* a running source may still carry an old error: only the troubled states say it */
    if (error && (!strcmp(state, "reconnecting") || !strcmp(state, "failed"))) {
        fputs("  error: ", stdout);
        put_text(error);
    }
    putchar('\n');
}

/* Prints the JSON on one line as received; only a multi-line body, or one that
 * was redacted, is re-encoded. */
static void print_json(const char *body, size_t len, const json_t *msg, int redacted)
{
    char *text;

    if (!redacted && !memchr(body, '\n', len) && !memchr(body, '\r', len)) {
        fwrite(body, 1, len, stdout);
        putchar('\n');
        return;
    }
    text = json_dumps(msg, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (text)
        puts(text);
    free(text);
}

/* Shows the start of a topic frame in a report, without control characters. */
static void describe_topic(const char *topic, size_t len, char *buf, size_t size)
{
    size_t n = len < size - 1 ? len : size - 1;

    for (size_t i = 0; i < n; i++)
        buf[i] = topic[i] < 0x20 || topic[i] == 0x7f ? '?' : topic[i];
    buf[n] = '\0';
}

/*
 * Handles one message. Returns 1 for a segment that was printed, 0 for anything
 * else (including a skipped message, already reported) or -ENOMEM.
 */
static int handle_message(watch *w, const char *topic, size_t topic_len, const char *body,
                          size_t body_len)
{
    char name[AVF_SOURCE_NAME_MAX + 1];
    const char *why;
    json_error_t err;
    watch_source *s;
    json_t *msg;
    int kind = parse_topic(topic, topic_len, name), ret = 0, redacted;

    if (kind < 0) {
        char shown[80];

        describe_topic(topic, topic_len, shown, sizeof(shown));
        avf_log(AVF_LOG_WARN, "watch",
                "message skipped: topic '%s' is not seg/NAME/, evt/NAME/ or status/NAME/", shown);
        return 0;
    }
    if (w->only && strcmp(name, w->only))
        return 0; /* the subscription already filters; this is belt and braces */
    msg = json_loadb(body, body_len, 0, &err);
    if (!msg) {
        avf_log(AVF_LOG_WARN, "watch",
                "%s: %s message skipped: invalid JSON: %s (line %d, column %d)", name,
                kinds[kind].what, err.text, err.line, err.column);
        return 0;
    }
    why = check_message(kind, msg, name);
    if (why) {
        avf_log(AVF_LOG_WARN, "watch", "%s: %s message skipped: %s", name, kinds[kind].what, why);
        goto done;
    }
    /* the daemon redacts what it publishes; a daemon of another version, or
     * something else on the endpoint, may not have */
    redacted = avf_redact_json(msg);
    s = find_source(w, name);
    if (!s || redacted < 0) {
        ret = -ENOMEM;
        goto done;
    }
    if (kind == MSG_SEGMENT) {
        track_seq(s, json_integer_value(json_object_get(msg, "seq")));
        ret = 1;
    }
    if (w->json) {
        print_json(body, body_len, msg, redacted);
    } else if (kind == MSG_SEGMENT) {
        print_segment(name, msg);
    } else if (kind == MSG_EVENT) {
        print_event(name, msg);
    } else {
        const char *state = json_string_value(json_object_get(msg, "state"));

        if (strncmp(s->state, state, sizeof(s->state) - 1)) {
            print_status(name, msg);
            snprintf(s->state, sizeof(s->state), "%s", state);
        }
    }
done:
    json_decref(msg);
    return ret;
}

/*
 * Receives one message if one is waiting: returns the number of frames (the
 * first two in topic and body), 0 when none is waiting, or -errno.
 */
static int receive(void *sock, zmq_msg_t *topic, zmq_msg_t *body)
{
    int frames = 0, more = 1;

    while (more) {
        zmq_msg_t extra, *m = frames == 0 ? topic : frames == 1 ? body : &extra;

        zmq_msg_init(&extra);
        if (zmq_msg_recv(m, sock, frames ? 0 : ZMQ_DONTWAIT) < 0) {
            int err = zmq_errno();

            zmq_msg_close(&extra);
            if (frames == 0 && (err == EAGAIN || err == EINTR))
                return 0;
            return -err;
        }
        more = zmq_msg_more(m);
        zmq_msg_close(&extra);
        frames++;
    }
    return frames;
}

static int parse_positive(const char *opt, const char *arg, double max, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(arg, &end);
    if (errno || end == arg || *end || !(*out > 0 && *out <= max)) {
        fprintf(stderr, "avfuse watch: %s: a number above 0 and at most %g, not '%s'\n", opt, max,
                arg);
        return -EINVAL;
    }
    return 0;
}

/*
 * Reads the options and the ENDPOINT argument into w. Returns 0 (w->help set for
 * --help), or -EINVAL after a message and the short usage on stderr.
 */
static int watch_parse_args(watch *w, int argc, char **argv)
{
    enum { OPT_SOURCE = 256, OPT_JSON, OPT_COUNT, OPT_TIMEOUT, OPT_KEY, OPT_SERVER_KEY };
    static const struct option options[] = {
        {"key", required_argument, NULL, OPT_KEY},
        {"server-key", required_argument, NULL, OPT_SERVER_KEY},
        {"source", required_argument, NULL, OPT_SOURCE},
        {"json", no_argument, NULL, OPT_JSON},
        {"count", required_argument, NULL, OPT_COUNT},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    double count;
    int opt;

    w->endpoint = WATCH_DEFAULT_ENDPOINT;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_SOURCE:
            if (!avf_source_name_valid(optarg)) {
                fprintf(stderr, "avfuse watch: --source: '%s' does not match [A-Za-z0-9_-]{1,64}\n",
                        optarg);
                return -EINVAL;
            }
            w->only = optarg;
            break;
        case OPT_JSON:
            w->json = 1;
            break;
        case OPT_KEY:
            w->key = optarg;
            break;
        case OPT_SERVER_KEY:
            w->server_key = optarg;
            break;
        case OPT_COUNT:
            if (parse_positive("--count", optarg, 1e15, &count) < 0)
                return -EINVAL;
            if (count != floor(count)) {
                fprintf(stderr, "avfuse watch: --count: a whole number, not '%s'\n", optarg);
                return -EINVAL;
            }
            w->count = (long long)count;
            break;
        case OPT_TIMEOUT:
            if (parse_positive("--timeout", optarg, 1e7, &w->timeout) < 0)
                return -EINVAL;
            break;
        case 'h':
            w->help = 1;
            return 0;
        default:
            watch_short_usage();
            return -EINVAL;
        }
    }
    if (argc - optind > 1) {
        fprintf(stderr, "avfuse watch: one ENDPOINT argument at most (join several with ',')\n");
        watch_short_usage();
        return -EINVAL;
    }
    if (optind < argc)
        w->endpoint = argv[optind];
    return 0;
}

/*
 * Creates the SUB socket, subscribes it to the topics asked for and gives it the
 * CURVE keys; it is connected afterwards. Returns 0 or a negative error, reported.
 */
static int watch_open(watch *w)
{
    int linger = 0;

    w->ctx = zmq_ctx_new();
    w->sock = w->ctx ? zmq_socket(w->ctx, ZMQ_SUB) : NULL;
    if (!w->sock) {
        int err = zmq_errno();

        avf_log(AVF_LOG_ERROR, "watch", "cannot create a ZeroMQ socket: %s", zmq_strerror(err));
        return -err;
    }
    zmq_setsockopt(w->sock, ZMQ_LINGER, &linger, sizeof(linger));
    for (int k = 0; k < MSG_KINDS; k++) {
        char prefix[AVF_SOURCE_NAME_MAX + 16];
        int n = w->only ? snprintf(prefix, sizeof(prefix), "%s/%s/", kinds[k].topic, w->only)
                        : snprintf(prefix, sizeof(prefix), "%s/", kinds[k].topic);

        if (zmq_setsockopt(w->sock, ZMQ_SUBSCRIBE, prefix, (size_t)n) < 0) {
            int err = zmq_errno();

            avf_log(AVF_LOG_ERROR, "watch", "cannot subscribe: %s", zmq_strerror(err));
            return -err;
        }
    }
    return avf_zmq_curve(w->sock, w->key, w->server_key, "watch");
}

/*
 * Handles every message waiting on the socket. Returns 1 once --count segments
 * were printed, 0 when no message is left waiting, or a negative error, reported.
 */
static int watch_drain(watch *w)
{
    zmq_msg_t topic, body;
    int ret = 0;

    zmq_msg_init(&topic);
    zmq_msg_init(&body);
    while (!stop_requested) {
        int frames = receive(w->sock, &topic, &body);

        if (frames == 0)
            break;
        if (frames < 0) {
            avf_log(AVF_LOG_ERROR, "watch", "%s", zmq_strerror(-frames));
            ret = frames;
            break;
        }
        if (w->timeout > 0)
            w->deadline = now_s() + w->timeout;
        if (frames != 2) {
            avf_log(AVF_LOG_WARN, "watch", "message skipped: %d frame%s instead of 2 (topic, JSON)",
                    frames, frames == 1 ? "" : "s");
            continue;
        }
        ret = handle_message(w, zmq_msg_data(&topic), zmq_msg_size(&topic), zmq_msg_data(&body),
                             zmq_msg_size(&body));
        if (ret < 0) {
            avf_log(AVF_LOG_ERROR, "watch", "out of memory");
            break;
        }
        if (ferror(stdout)) {
            ret = errno ? -errno : -EIO;
            avf_log(AVF_LOG_ERROR, "watch", "cannot write to stdout: %s", strerror(-ret));
            break;
        }
        w->segments += ret;
        ret = 0;
        if (w->count > 0 && w->segments >= w->count) {
            ret = 1;
            break;
        }
    }
    zmq_msg_close(&body);
    zmq_msg_close(&topic);
    return ret;
}

/*
 * Prints what arrives until SIGINT or SIGTERM, --count segments or --timeout.
 * Returns 0, -ETIMEDOUT after --timeout or another negative error, reported.
 */
static int watch_loop(watch *w)
{
    /* every line as it is printed: watch is mostly read live or through a pipe */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (w->timeout > 0)
        w->deadline = now_s() + w->timeout;
    while (!stop_requested) {
        zmq_pollitem_t item = {w->sock, 0, ZMQ_POLLIN, 0};
        int wait_ms = WATCH_TICK_MS, ret;

        if (w->deadline) {
            double left = w->deadline - now_s();

            if (left <= 0) {
                avf_log(AVF_LOG_ERROR, "watch", "no message from %s within %g s", w->endpoint,
                        w->timeout);
                return -ETIMEDOUT;
            }
            if (left * 1000 < wait_ms)
                wait_ms = (int)ceil(left * 1000);
        }
        if (zmq_poll(&item, 1, wait_ms) < 0 && zmq_errno() != EINTR) {
            ret = zmq_errno();
            avf_log(AVF_LOG_ERROR, "watch", "%s", zmq_strerror(ret));
            return -ret;
        }
        ret = watch_drain(w);
        if (ret != 0)
            return ret < 0 ? ret : 0;
    }
    return 0;
}

static void watch_close(watch *w)
{
    if (w->sock)
        zmq_close(w->sock);
    if (w->ctx)
        zmq_ctx_term(w->ctx);
    free(w->sources);
}

int avf_cmd_watch(int argc, char **argv)
{
    watch w = {0};
    int status = EXIT_INPUT_FAILED, ret;

    if (watch_parse_args(&w, argc, argv) < 0)
        return EXIT_USAGE;
    if (w.help) {
        watch_usage(stdout);
        return 0;
    }
    catch_stop_signals();
    ret = watch_open(&w);
    if (ret < 0)
        goto done;
    ret = avf_zmq_attach(w.sock, w.endpoint, 0, "watch");
    if (ret < 0) {
        status = avf_zmq_attach_status(ret);
        goto done;
    }
    if (watch_loop(&w) == 0)
        status = 0;
done:
    watch_close(&w);
    return status;
}
