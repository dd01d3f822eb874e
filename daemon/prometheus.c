/*
 * prometheus.c - Prometheus text from the status messages, served by libmicrohttpd.
 *
 * Clients are whoever can reach the port, so a slow one must not hold a place for
 * long. libmicrohttpd's only timeout is for idleness, and every byte restarts it:
 * clients that each sent a byte every few seconds kept all 16 places for good and
 * no scrape got in. libmicrohttpd has no call that closes a connection from
 * outside its callbacks, and its access handler runs only once a request is
 * complete, so the deadline is kept here: every connection is noted when it
 * opens (MHD_OPTION_NOTIFY_CONNECTION, with its socket), must have sent a whole
 * request REQUEST_DEADLINE_S later (and again after each response), and is shut
 * down (shutdown(2) on its socket; libmicrohttpd then reads the end and closes it)
 * by a sweep when it has not. The sweep must not race libmicrohttpd closing that
 * socket, so both run in one thread of ours: it drives libmicrohttpd with
 * MHD_run_wait() (epoll, no descriptor limit) and sweeps between calls, and every
 * callback runs in it. With the deadline, the cap on connections can be high:
 * places free up within seconds, whatever the clients do.
 */
#include "daemon/prometheus.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libavutil/error.h>
#include <libavutil/time.h>
#include <microhttpd.h>

#include "base/error.h"

#define CONNECTIONS_MAX     256
#define IDLE_TIMEOUT_S      10
#define REQUEST_DEADLINE_S  5  /* from the connection (or the last response) to a whole request */
#define RESPONSE_DEADLINE_S 30 /* from the request to the response's last byte sent */
#define SWEEP_MS            200

/* One open connection; created and freed by libmicrohttpd's notifications. */
typedef struct client {
    int fd;
    int64_t deadline; /* av_gettime_relative() */
    int cut;          /* shut down, its close yet to come */
    struct client *prev, *next;
} client;

struct avf_metrics {
    struct MHD_Daemon *httpd;
    pthread_t thread;
    atomic_int stop;
    client *clients;      /* metrics thread only */
    pthread_mutex_t lock; /* guards page */
    char *page;
};

/* A growing text buffer; on allocation failure it stays failed and empty. */
typedef struct text {
    char *buf;
    size_t len, cap;
    int failed;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if (t->buf && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap ? t->cap * 2 : 4096) + (size_t)n;
        char *grown = realloc(t->buf, cap);

        if (!grown) {
            t->failed = 1;
            return;
        }
        t->buf = grown;
        t->cap = cap;
    }
}

static json_int_t int_at(const json_t *obj, const char *a, const char *b, const char *c)
{
    const json_t *v = json_object_get(obj, a);

    if (b)
        v = json_object_get(v, b);
    if (c)
        v = json_object_get(v, c);
    return json_integer_value(v);
}

/* One counter family: HELP, TYPE, and a sample per source. */
static void counter(text *t, const json_t *statuses, const char *name, const char *help,
                    const char *a, const char *b, const char *c)
{
    size_t i;
    const json_t *st;

    put(t, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    json_array_foreach(statuses, i, st)
    {
        put(t, "%s{source=\"%s\"} %" JSON_INTEGER_FORMAT "\n", name,
            json_string_value(json_object_get(st, "source")), int_at(st, a, b, c));
    }
}

char *avf_metrics_render(const json_t *statuses, double uptime_s)
{
    static const char *const states[] = {"connecting", "running", "reconnecting", "ended",
                                         "failed"};
    static const char *const stages[] = {"packets", "frames", "segments"};
    text t = {0};
    size_t i;
    const json_t *st;

    put(&t,
        "# HELP avfuse_uptime_seconds Seconds since avfused started.\n"
        "# TYPE avfuse_uptime_seconds gauge\navfuse_uptime_seconds %.3f\n",
        uptime_s);
    put(&t,
        "# HELP avfuse_sources Sources configured.\n# TYPE avfuse_sources gauge\n"
        "avfuse_sources %zu\n",
        json_array_size(statuses));
    counter(&t, statuses, "avfuse_segments_total", "Segments published.", "counters", "segments",
            NULL);
    counter(&t, statuses, "avfuse_frames_total", "Analysis frames in published segments.",
            "counters", "frames", NULL);
    counter(&t, statuses, "avfuse_samples_total", "Audio samples in published segments.",
            "counters", "samples", NULL);
    counter(&t, statuses, "avfuse_publish_drops_total",
            "Messages a subscriber's full queue refused.", "counters", "publish_drops", NULL);
    counter(&t, statuses, "avfuse_reconnects_total", "Reconnections of a live source.", "counters",
            "reconnects", NULL);
    counter(&t, statuses, "avfuse_discontinuities_total",
            "Timestamp jumps of the input that the timeline absorbed.", "counters",
            "discontinuities", NULL);
    put(&t, "# HELP avfuse_drops_total Work dropped by a live source's bounded queues.\n"
            "# TYPE avfuse_drops_total counter\n");
    json_array_foreach(statuses, i, st)
    {
        for (int k = 0; k < 3; k++)
            put(&t, "avfuse_drops_total{source=\"%s\",stage=\"%s\"} %" JSON_INTEGER_FORMAT "\n",
                json_string_value(json_object_get(st, "source")), stages[k],
                int_at(st, "counters", "drops", stages[k]));
    }
    put(&t, "# HELP avfuse_queue_depth Items waiting in a source's queues.\n"
            "# TYPE avfuse_queue_depth gauge\n");
    json_array_foreach(statuses, i, st)
    {
        for (int k = 0; k < 3; k++)
            put(&t, "avfuse_queue_depth{source=\"%s\",queue=\"%s\"} %" JSON_INTEGER_FORMAT "\n",
                json_string_value(json_object_get(st, "source")), stages[k],
                int_at(st, "queues", stages[k], NULL));
    }
    put(&t, "# HELP avfuse_epoch Current epoch (connection) of a source.\n"
            "# TYPE avfuse_epoch gauge\n");
    json_array_foreach(statuses, i, st)
    {
        put(&t, "avfuse_epoch{source=\"%s\"} %" JSON_INTEGER_FORMAT "\n",
            json_string_value(json_object_get(st, "source")), int_at(st, "epoch", NULL, NULL));
    }
    put(&t, "# HELP avfuse_source_state 1 for the state a source is in.\n"
            "# TYPE avfuse_source_state gauge\n");
    json_array_foreach(statuses, i, st)
    {
        const char *state = json_string_value(json_object_get(st, "state"));

        for (int k = 0; k < 5; k++)
            put(&t, "avfuse_source_state{source=\"%s\",state=\"%s\"} %d\n",
                json_string_value(json_object_get(st, "source")), states[k],
                state && !strcmp(state, states[k]));
    }
    put(&t, "# HELP avfuse_latency_ms From a segment's end on the media clock to its "
            "publication, over the last 1000 segments.\n# TYPE avfuse_latency_ms gauge\n");
    json_array_foreach(statuses, i, st)
    {
        const json_t *lat = json_object_get(st, "latency_ms");

        if (!json_is_object(lat))
            continue;
        put(&t, "avfuse_latency_ms{source=\"%s\",quantile=\"0.5\"} %g\n",
            json_string_value(json_object_get(st, "source")),
            json_number_value(json_object_get(lat, "p50")));
        put(&t, "avfuse_latency_ms{source=\"%s\",quantile=\"0.99\"} %g\n",
            json_string_value(json_object_get(st, "source")),
            json_number_value(json_object_get(lat, "p99")));
    }
    if (t.failed) {
        free(t.buf);
        return NULL;
    }
    return t.buf;
}

static client *client_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return info ? info->socket_context : NULL;
}

static void set_deadline(struct MHD_Connection *conn, int seconds)
{
    client *c = client_of(conn);

    if (c)
        c->deadline = av_gettime_relative() + seconds * INT64_C(1000000);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    avf_metrics *m = cls;
    client *c = *socket_context;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

        c = info ? calloc(1, sizeof(*c)) : NULL;
        if (!c)
            return; /* no deadline for this one: the idle timeout still applies */
        c->fd = info->connect_fd;
        c->deadline = av_gettime_relative() + REQUEST_DEADLINE_S * INT64_C(1000000);
        c->next = m->clients;
        if (m->clients)
            m->clients->prev = c;
        m->clients = c;
        *socket_context = c;
    } else if (c) {
        if (c->prev)
            c->prev->next = c->next;
        else
            m->clients = c->next;
        if (c->next)
            c->next->prev = c->prev;
        free(c);
        *socket_context = NULL;
    }
}

/* A response went out: the next request on this connection has its own deadline. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)con_cls;
    (void)toe;
    set_deadline(conn, REQUEST_DEADLINE_S);
}

static enum MHD_Result serve(void *cls, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, const char *upload,
                             size_t *upload_size, void **con_cls)
{
    avf_metrics *m = cls;
    struct MHD_Response *resp;
    enum MHD_Result ret;
    unsigned status = MHD_HTTP_OK;
    char *page = NULL;

    (void)version;
    (void)upload;
    (void)upload_size;
    (void)con_cls;
    set_deadline(conn, RESPONSE_DEADLINE_S);
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        page = strdup("only GET\n");
    } else if (strcmp(url, "/metrics")) {
        status = MHD_HTTP_NOT_FOUND;
        page = strdup("not found: the metrics are at /metrics\n");
    } else {
        pthread_mutex_lock(&m->lock);
        page = strdup(m->page ? m->page : "");
        pthread_mutex_unlock(&m->lock);
    }
    if (!page)
        return MHD_NO;
    resp = MHD_create_response_from_buffer(strlen(page), page, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(page);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Parses PORT, HOST:PORT or [HOST]:PORT into addr. */
static int parse_listen(const char *listen, struct sockaddr_storage *addr, char *why,
                        size_t why_size)
{
    char host[64] = "127.0.0.1";
    const char *colon = strrchr(listen, ':');
    const char *port_text = colon ? colon + 1 : listen;
    char *end;
    long port = strtol(port_text, &end, 10);

    if (*port_text == 0 || *end || port < 1 || port > 65535) {
        snprintf(why, why_size, "metrics: '%s' is not PORT, HOST:PORT or [IPv6]:PORT", listen);
        return AVF_ERR_CONFIG;
    }
    if (colon) {
        size_t n = (size_t)(colon - listen);

        if (n >= 2 && listen[0] == '[' && listen[n - 1] == ']') {
            listen++;
            n -= 2;
        }
        if (n == 0 || n >= sizeof(host)) {
            snprintf(why, why_size, "metrics: bad host in '%s'", listen);
            return AVF_ERR_CONFIG;
        }
        memcpy(host, listen, n);
        host[n] = 0;
    }
    memset(addr, 0, sizeof(*addr));
    if (inet_pton(AF_INET, host, &((struct sockaddr_in *)addr)->sin_addr) == 1) {
        ((struct sockaddr_in *)addr)->sin_family = AF_INET;
        ((struct sockaddr_in *)addr)->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)addr)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)addr)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)addr)->sin6_port = htons((uint16_t)port);
        return 0;
    }
    snprintf(why, why_size, "metrics: '%s' is not an IP address", host);
    return AVF_ERR_CONFIG;
}

/* Shuts down the connections past their deadline; libmicrohttpd closes them. */
static void sweep(avf_metrics *m)
{
    int64_t now = av_gettime_relative();

    for (client *c = m->clients; c; c = c->next)
        if (!c->cut && now > c->deadline) {
            shutdown(c->fd, SHUT_RDWR);
            c->cut = 1;
        }
}

static void *metrics_main(void *arg)
{
    avf_metrics *m = arg;

    while (!atomic_load(&m->stop)) {
        MHD_run_wait(m->httpd, SWEEP_MS);
        sweep(m);
    }
    return NULL;
}

int avf_metrics_start(avf_metrics **pm, const char *listen, char *why, size_t why_size)
{
    struct sockaddr_storage addr;
    avf_metrics *m;
    int ret = parse_listen(listen, &addr, why, why_size);

    if (ret < 0)
        return ret;
    m = calloc(1, sizeof(*m));
    if (!m || pthread_mutex_init(&m->lock, NULL)) {
        free(m);
        snprintf(why, why_size, "out of memory");
        return AVERROR(ENOMEM);
    }
    atomic_init(&m->stop, 0);
    /* no internal thread: metrics_main() drives it, so that its callbacks and the
     * sweep share one thread; MHD_USE_AUTO picks epoll on Linux */
    m->httpd = MHD_start_daemon(
        MHD_USE_AUTO | (addr.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0), 0, NULL, NULL, serve, m,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, m, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        m, MHD_OPTION_END);
    if (!m->httpd) {
        snprintf(why, why_size, "metrics: cannot listen on %s (in use, or not an address here)",
                 listen);
        pthread_mutex_destroy(&m->lock);
        free(m);
        return AVERROR(EADDRINUSE);
    }
    ret = pthread_create(&m->thread, NULL, metrics_main, m);
    if (ret) {
        snprintf(why, why_size, "metrics: cannot start its thread: %s", strerror(ret));
        MHD_stop_daemon(m->httpd);
        pthread_mutex_destroy(&m->lock);
        free(m);
        return AVERROR(ret);
    }
    *pm = m;
    return 0;
}

void avf_metrics_update(avf_metrics *m, char *page)
{
    char *old;

    if (!page)
        return;
    pthread_mutex_lock(&m->lock);
    old = m->page;
    m->page = page;
    pthread_mutex_unlock(&m->lock);
    free(old);
}

void avf_metrics_stop(avf_metrics **pm)
{
    avf_metrics *m;

    if (!pm || !*pm)
        return;
    m = *pm;
    atomic_store(&m->stop, 1);
    pthread_join(m->thread, NULL); /* within SWEEP_MS */
    MHD_stop_daemon(m->httpd);     /* closes the connections: the last notifications */
    while (m->clients) {           /* none are left; should one be, it is not leaked */
        client *next = m->clients->next;

        free(m->clients);
        m->clients = next;
    }
    pthread_mutex_destroy(&m->lock);
    free(m->page);
    free(m);
    *pm = NULL;
}
