/*
 * subscriber.c - prints the segments an avfused daemon publishes, one line each.
 *
 *     subscriber [ENDPOINT [SOURCE]]
 *
 * A ZeroMQ SUB socket connects to ENDPOINT (default tcp://127.0.0.1:5560) and
 * subscribes to `seg/` (every source) or `seg/SOURCE/` (one source; the trailing
 * '/' keeps "lobby" from matching "lobby2"). Each message is two frames, the topic
 * and one avfuse.segment.v1 JSON object (docs/schema/segment.v1.json), parsed with
 * jansson. Printed: source, seq, t0, the most likely content label with its
 * probability ("-" when the daemon runs without a model), and the sentiment: what
 * it rests on (voice, scene or none) with its valence and arousal, "-" for a value
 * that is null (no valence where nobody speaks, nothing in silence). Ctrl-C ends
 * it, exit 0.
 *
 * Only libzmq and jansson, so it builds outside this tree too:
 *     cc subscriber.c -o subscriber $(pkg-config --cflags --libs libzmq jansson)
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <zmq.h>

#define DEFAULT_ENDPOINT "tcp://127.0.0.1:5560"
#define MAX_MESSAGE      (1 << 20) /* a segment with many plugin features is a few KiB */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* The label with the highest probability, or NULL without labels. */
static const char *top_label(json_t *labels, double *p)
{
    const char *best = NULL, *key;
    json_t *value;

    json_object_foreach(labels, key, value)
    {
        if (json_is_number(value) && (!best || json_number_value(value) > *p)) {
            best = key;
            *p = json_number_value(value);
        }
    }
    return best;
}

/* " v -0.20", or " v -" when the value is null. */
static void print_value(const char *name, json_t *v)
{
    if (json_is_number(v))
        printf(" %s %+.2f", name, json_number_value(v));
    else
        printf(" %s -", name);
}

/* "  voice v -0.20 a +0.70"; nothing without sentiment (a daemon without model). */
static void print_sentiment(json_t *sentiment)
{
    const char *basis = json_string_value(json_object_get(sentiment, "basis"));

    if (!json_is_object(sentiment) || !basis)
        return;
    printf("  %s", basis);
    print_value("v", json_object_get(sentiment, "valence"));
    print_value("a", json_object_get(sentiment, "arousal"));
}

static void print_segment(const char *body, size_t size)
{
    json_error_t err;
    json_t *msg = json_loadb(body, size, 0, &err);
    const char *schema, *source, *label;
    json_int_t seq;
    double t0, p = 0;

    if (!msg) {
        fprintf(stderr, "subscriber: skipped a message that is not JSON: %s\n", err.text);
        return;
    }
    if (json_unpack_ex(msg, &err, 0, "{s:s, s:s, s:I, s:F}", "schema", &schema, "source", &source,
                       "seq", &seq, "t0", &t0) < 0) {
        fprintf(stderr, "subscriber: skipped a malformed segment: %s\n", err.text);
    } else if (strcmp(schema, "avfuse.segment.v1") == 0) {
        label = top_label(json_object_get(msg, "labels"), &p);
        if (label)
            printf("%s  seq=%lld  t0=%.3f  %s %.2f", source, (long long)seq, t0, label, p);
        else
            printf("%s  seq=%lld  t0=%.3f  -", source, (long long)seq, t0);
        print_sentiment(json_object_get(msg, "sentiment"));
        printf("\n");
        fflush(stdout);
    }
    json_decref(msg);
}

/*
 * Receives one message into body: returns the size of its second frame (the JSON),
 * or -1 for none (a timeout, a signal, a message that is not two frames or does
 * not fit). Every frame of the message is consumed either way.
 */
static int receive(void *sock, char *body, size_t size)
{
    zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
    char topic[80]; /* "seg/" + a 64-character source name + "/" */
    int frames = 0, n = -1, more = 1;
    size_t more_size = sizeof(more);

    /* poll with a timeout, so that a signal is seen within 100 ms */
    if (zmq_poll(&item, 1, 100) <= 0)
        return -1;
    while (more) {
        int got = zmq_recv(sock, frames == 1 ? body : topic, frames == 1 ? size : sizeof(topic), 0);

        if (got < 0)
            return -1;
        if (frames++ == 1)
            n = got;
        if (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &more_size) < 0)
            return -1;
    }
    if (frames != 2 || n > (int)size) {
        fprintf(stderr, "subscriber: skipped a message of %d frames, %d bytes\n", frames, n);
        return -1;
    }
    return n;
}

int main(int argc, char **argv)
{
    const char *endpoint = argc > 1 ? argv[1] : DEFAULT_ENDPOINT;
    static char body[MAX_MESSAGE];
    char topic[80];
    void *ctx, *sock;
    int linger = 0, ret = 1;

    if (argc > 3 || (argc > 1 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: %s [ENDPOINT [SOURCE]]\n", argv[0]);
        return 2;
    }
    snprintf(topic, sizeof(topic), argc > 2 ? "seg/%s/" : "seg/", argc > 2 ? argv[2] : "");
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    ctx = zmq_ctx_new();
    sock = ctx ? zmq_socket(ctx, ZMQ_SUB) : NULL;
    if (!sock || zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger)) < 0 ||
        zmq_setsockopt(sock, ZMQ_SUBSCRIBE, topic, strlen(topic)) < 0 ||
        zmq_connect(sock, endpoint) < 0) {
        fprintf(stderr, "subscriber: %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
        goto done;
    }
    while (!stop) {
        int n = receive(sock, body, sizeof(body));

        if (n >= 0)
            print_segment(body, (size_t)n);
    }
    ret = 0;
done:
    if (sock)
        zmq_close(sock);
    if (ctx)
        zmq_ctx_term(ctx);
    return ret;
}
