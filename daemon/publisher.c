/*
 * publisher.c - the PUB socket's thread: a bounded queue in, two frames out.
 */
#include "daemon/publisher.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "daemon/curve.h"
#include "base/log.h"
#include "fusion/message.h"
#include "base/error.h"
#include "pipeline/queue.h"

#define QUEUE_SIZE 4096
#define TOPIC_MAX  (AVF_SOURCE_NAME_MAX + 16)

typedef struct message {
    char topic[TOPIC_MAX];
    char *json;
} message;

typedef struct drop_count {
    char name[AVF_SOURCE_NAME_MAX + 1];
    uint64_t drops;
} drop_count;

struct avf_publisher {
    void *sock; /* the thread's only, once started */
    avf_queue *queue;
    pthread_t thread;
    pthread_mutex_t lock; /* guards drops */
    drop_count *drops;
    int nb_drops;
};

static void free_message(void *item)
{
    message *m = item;

    free(m->json);
    free(m);
}

/* The source name inside "seg/NAME/". */
static void topic_source(const char *topic, char *name)
{
    const char *start = strchr(topic, '/');
    size_t n = 0;

    if (start) {
        start++;
        n = strcspn(start, "/");
        if (n > AVF_SOURCE_NAME_MAX)
            n = AVF_SOURCE_NAME_MAX;
        memcpy(name, start, n);
    }
    name[n] = 0;
}

static void count_drop(avf_publisher *p, const char *topic)
{
    char name[AVF_SOURCE_NAME_MAX + 1];
    drop_count *grown;

    topic_source(topic, name);
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < p->nb_drops; i++)
        if (!strcmp(p->drops[i].name, name)) {
            p->drops[i].drops++;
            pthread_mutex_unlock(&p->lock);
            return;
        }
    grown = realloc(p->drops, (p->nb_drops + 1) * sizeof(*p->drops));
    if (grown) {
        p->drops = grown;
        snprintf(p->drops[p->nb_drops].name, sizeof(p->drops[0].name), "%s", name);
        p->drops[p->nb_drops++].drops = 1;
    }
    pthread_mutex_unlock(&p->lock);
}

static void set_nodrop(void *sock, int on)
{
    zmq_setsockopt(sock, ZMQ_XPUB_NODROP, &on, sizeof(on));
}

/*
 * Sends one frame; when the socket refuses it because a subscriber is full (it
 * checks every frame, not only the first), counts the drop once per message and
 * sends the frame in the ordinary lossy way.
 */
static int send_frame(avf_publisher *p, const char *data, int flags, const char *topic,
                      int *counted)
{
    int ret = zmq_send(p->sock, data, strlen(data), flags | ZMQ_DONTWAIT);

    if (ret < 0 && errno == EAGAIN) {
        if (!*counted)
            count_drop(p, topic);
        *counted = 1;
        set_nodrop(p->sock, 0);
        ret = zmq_send(p->sock, data, strlen(data), flags | ZMQ_DONTWAIT);
        set_nodrop(p->sock, 1);
    }
    return ret < 0 ? -errno : 0;
}

static void publish(avf_publisher *p, const message *m)
{
    int counted = 0;
    int ret = send_frame(p, m->topic, ZMQ_SNDMORE, m->topic, &counted);

    if (ret == 0)
        ret = send_frame(p, m->json, 0, m->topic, &counted);
    if (ret < 0)
        avf_log(AVF_LOG_WARN, "publish", "cannot send %s: %s", m->topic, zmq_strerror(-ret));
}

static void *publisher_main(void *arg)
{
    avf_publisher *p = arg;
    message *m;

    while (avf_queue_receive(p->queue, (void **)&m) == 0) {
        publish(p, m);
        free_message(m);
    }
    return NULL;
}

int avf_publisher_open(avf_publisher **pp, void *ctx, const char *endpoints, int sndhwm,
                       int linger_ms, const avf_curve_keypair *curve, char *why, size_t why_size)
{
    avf_publisher *p = calloc(1, sizeof(*p));
    char *list = NULL, *save = NULL;
    int ret = AVERROR(ENOMEM);

    if (!p || pthread_mutex_init(&p->lock, NULL)) {
        free(p);
        snprintf(why, why_size, "out of memory");
        return AVERROR(ENOMEM);
    }
    p->sock = zmq_socket(ctx, ZMQ_PUB);
    p->queue = avf_queue_new(QUEUE_SIZE, 1, AVF_QUEUE_BLOCK, free_message);
    list = strdup(endpoints);
    if (!p->sock || !p->queue || !list) {
        snprintf(why, why_size, "cannot create the publishing socket");
        goto fail;
    }
    zmq_setsockopt(p->sock, ZMQ_SNDHWM, &sndhwm, sizeof(sndhwm));
    zmq_setsockopt(p->sock, ZMQ_LINGER, &linger_ms, sizeof(linger_ms));
    set_nodrop(p->sock, 1);
    if (curve && avf_curve_server(p->sock, curve) < 0) {
        ret = -errno;
        snprintf(why, why_size, "cannot make the publishing socket a CURVE server: %s",
                 zmq_strerror(errno));
        goto fail;
    }
    for (char *ep = strtok_r(list, ",", &save); ep; ep = strtok_r(NULL, ",", &save)) {
        while (*ep == ' ')
            ep++;
        if (zmq_bind(p->sock, ep) < 0) {
            ret = -errno;
            snprintf(why, why_size, "cannot bind %s: %s", ep, zmq_strerror(errno));
            goto fail;
        }
    }
    ret = pthread_create(&p->thread, NULL, publisher_main, p);
    if (ret) {
        snprintf(why, why_size, "cannot start the publisher thread: %s", strerror(ret));
        ret = AVERROR(ret);
        goto fail;
    }
    free(list);
    *pp = p;
    return 0;
fail:
    free(list);
    if (p->sock)
        zmq_close(p->sock);
    avf_queue_free(&p->queue);
    pthread_mutex_destroy(&p->lock);
    free(p);
    return ret;
}

int avf_publisher_send(avf_publisher *p, const char *topic, char *json)
{
    message *m;

    if (!json)
        return AVERROR(ENOMEM);
    m = malloc(sizeof(*m));
    if (!m) {
        free(json);
        return AVERROR(ENOMEM);
    }
    snprintf(m->topic, sizeof(m->topic), "%s", topic);
    m->json = json;
    if (avf_queue_send(p->queue, m) < 0) {
        free_message(m);
        return AVF_EOS;
    }
    return 0;
}

uint64_t avf_publisher_drops(avf_publisher *p, const char *name)
{
    uint64_t n = 0;

    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < p->nb_drops; i++)
        if (!strcmp(p->drops[i].name, name))
            n = p->drops[i].drops;
    pthread_mutex_unlock(&p->lock);
    return n;
}

void avf_publisher_shut(avf_publisher *p)
{
    if (!p || !p->sock)
        return;
    avf_queue_finish_send(p->queue); /* the thread sends what is left, then ends */
    pthread_join(p->thread, NULL);
    zmq_close(p->sock);
    p->sock = NULL;
    avf_queue_finish_recv(p->queue); /* later sends are refused */
}

void avf_publisher_close(avf_publisher **pp)
{
    avf_publisher *p;

    if (!pp || !*pp)
        return;
    p = *pp;
    avf_publisher_shut(p);
    avf_queue_free(&p->queue);
    pthread_mutex_destroy(&p->lock);
    free(p->drops);
    free(p);
    *pp = NULL;
}
