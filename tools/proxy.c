/*
 * proxy.c - `avfuse proxy FRONTEND BACKEND`: one endpoint for the daemons of many hosts.
 *
 * Daemons bind their PUB sockets, so the proxy connects an XSUB socket to every
 * daemon endpoint of FRONTEND and binds an XPUB socket at BACKEND for subscribers.
 * zmq_proxy() forwards messages downstream and subscriptions upstream (XPUB hands
 * each new topic prefix to XSUB, which passes it to every daemon, also to one that
 * connects later), so a subscriber's topic filter is applied at the daemons and the
 * proxy only carries what someone asked for.
 *
 * The proxy runs in a thread of its own that owns the three sockets it is handed;
 * the main thread takes SIGINT/SIGTERM with sigtimedwait() and ends the proxy by
 * sending TERMINATE on the inproc control pair of zmq_proxy_steerable(), so no
 * signal handler touches a socket. The file also holds
 * the endpoint-list helper that watch shares.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "tools/commands.h"
#include "base/log.h"
#include "daemon/curve.h"

/* How long shutdown waits for messages still queued to subscribers, in ms. */
#define PROXY_LINGER_MS  100
#define PROXY_CONTROL_EP "inproc://avfuse-proxy-control"

int avf_zmq_attach(void *sock, const char *endpoints, int bind, const char *cmd)
{
    const char *p = endpoints;

    for (;;) {
        size_t len = strcspn(p, ",");
        char *ep = strndup(p, len);
        int ret;

        if (!ep)
            return -ENOMEM;
        if (!len) {
            avf_log(AVF_LOG_ERROR, cmd, "empty endpoint in '%s'", endpoints);
            ret = -EINVAL;
        } else {
            ret = bind ? zmq_bind(sock, ep) : zmq_connect(sock, ep);
            if (ret < 0) {
                ret = -zmq_errno();
                avf_log(AVF_LOG_ERROR, cmd, "cannot %s %s: %s", bind ? "bind" : "connect to", ep,
                        ret == -EINVAL ? "not a ZeroMQ endpoint (e.g. tcp://HOST:PORT)"
                                       : zmq_strerror(-ret));
            }
        }
        free(ep);
        if (ret < 0)
            return ret;
        if (!p[len])
            return 0;
        p += len + 1;
    }
}

int avf_zmq_attach_status(int err)
{
    return err == -EINVAL || err == -EPROTONOSUPPORT ? EXIT_USAGE : EXIT_INPUT_FAILED;
}

static void proxy_usage(FILE *f)
{
    fprintf(f, "usage: avfuse proxy [options] FRONTEND BACKEND\n"
               "\n"
               "Forwards the messages of many daemons to one endpoint. The proxy connects\n"
               "to every daemon PUB endpoint in FRONTEND (comma-separated, e.g.\n"
               "tcp://cam1:5560,tcp://cam2:5560) and binds BACKEND (comma-separated too)\n"
               "for subscribers such as 'avfuse watch'. Subscriptions travel upstream, so\n"
               "a subscriber's topic filter is applied at the daemons. A daemon that is\n"
               "not up yet is connected to when it starts, and again after it restarts.\n"
               "A slow subscriber loses messages (1000 queued at most), as with a\n"
               "daemon's own socket; the others do not.\n"
               "\n"
               "options:\n"
               "  --key FILE            CURVE towards the daemons: this proxy's key pair\n"
               "  --server-key FILE     ... and the daemons' public key (one key for all)\n"
               "  --backend-key FILE    CURVE for subscribers: the proxy's server key pair\n"
               "  --backend-allow FILE  ... and the allow-list of subscriber public keys\n"
               "  -h, --help            show this help\n"
               "\n"
               "SIGINT or SIGTERM stops the proxy within a second.\n"
               "\n"
               "Exit status: 0 when stopped by a signal, 1 when a socket cannot be set up\n"
               "or the proxy fails, 2 on a usage error.\n");
}

static void proxy_short_usage(void)
{
    fprintf(stderr, "usage: avfuse proxy FRONTEND[,FRONTEND...] BACKEND\n"
                    "Run 'avfuse proxy --help' for more.\n");
}

/* The command line. */
typedef struct proxy_opts {
    const char *frontend, *backend;          /* the endpoint lists */
    const char *key, *server_key;            /* CURVE towards the daemons, or NULL */
    const char *backend_key, *backend_allow; /* CURVE for subscribers, or NULL */
    int help;
} proxy_opts;

/*
 * The sockets: frontend, backend and control belong to the proxy thread while it
 * runs, steer (the other end of control) to the main thread.
 */
typedef struct proxy {
    void *ctx;
    void *frontend, *backend, *control, *steer;
    avf_zap *zap;    /* the subscribers' allow-list, with --backend-allow */
    atomic_int done; /* atomic: set when zmq_proxy_steerable() returned */
    int ret;         /* written by the proxy thread before done */
} proxy;

static void *proxy_main(void *arg)
{
    proxy *p = arg;

    p->ret = zmq_proxy_steerable(p->frontend, p->backend, NULL, p->control) < 0 ? -zmq_errno() : 0;
    atomic_store(&p->done, 1);
    return NULL;
}

static void *new_socket(void *ctx, int type)
{
    int linger = PROXY_LINGER_MS;
    void *s = zmq_socket(ctx, type);

    if (s)
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    return s;
}

/*
 * Reads the options and the two endpoint arguments into o. Returns 0 (o->help
 * set for --help), or -EINVAL after a message on stderr.
 */
static int proxy_parse_args(proxy_opts *o, int argc, char **argv)
{
    enum { OPT_KEY = 256, OPT_SERVER_KEY, OPT_BACKEND_KEY, OPT_BACKEND_ALLOW };
    static const struct option options[] = {
        {"key", required_argument, NULL, OPT_KEY},
        {"server-key", required_argument, NULL, OPT_SERVER_KEY},
        {"backend-key", required_argument, NULL, OPT_BACKEND_KEY},
        {"backend-allow", required_argument, NULL, OPT_BACKEND_ALLOW},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_KEY:
            o->key = optarg;
            break;
        case OPT_SERVER_KEY:
            o->server_key = optarg;
            break;
        case OPT_BACKEND_KEY:
            o->backend_key = optarg;
            break;
        case OPT_BACKEND_ALLOW:
            o->backend_allow = optarg;
            break;
        case 'h':
            o->help = 1;
            return 0;
        default:
            proxy_short_usage();
            return -EINVAL;
        }
    }
    if ((o->backend_key != NULL) != (o->backend_allow != NULL)) {
        fprintf(stderr, "avfuse proxy: --backend-key and --backend-allow go together (CURVE "
                        "without an allow-list would accept any subscriber)\n");
        return -EINVAL;
    }
    if (argc - optind != 2) {
        fprintf(stderr, "avfuse proxy: %s\n",
                argc - optind < 2 ? "FRONTEND and BACKEND are required" : "too many arguments");
        proxy_short_usage();
        return -EINVAL;
    }
    o->frontend = argv[optind];
    o->backend = argv[optind + 1];
    return 0;
}

/* Makes the backend a CURVE server that lets in the keys of the allow-list. */
static int proxy_backend_curve(proxy *p, const proxy_opts *o)
{
    avf_curve_keypair kp;
    char why[512];
    int ret;

    ret = avf_curve_load_keypair(&kp, o->backend_key, why, sizeof(why));
    if (ret == 0)
        ret = avf_zap_start(&p->zap, p->ctx, o->backend_allow, why, sizeof(why));
    if (ret < 0) {
        avf_log(AVF_LOG_ERROR, "proxy", "%s", why);
        explicit_bzero(&kp, sizeof(kp));
        return ret;
    }
    ret = avf_curve_server(p->backend, &kp);
    explicit_bzero(&kp, sizeof(kp));
    if (ret < 0)
        avf_log(AVF_LOG_ERROR, "proxy", "--backend-key: %s", zmq_strerror(-ret));
    return ret;
}

/*
 * Creates the context, the four sockets and the control pair between them, and
 * sets up CURVE on either side as asked; the endpoints are attached afterwards.
 * Returns 0 or a negative error, reported.
 */
static int proxy_open(proxy *p, const proxy_opts *o)
{
    int ret;

    p->ctx = zmq_ctx_new();
    if (!p->ctx) {
        ret = zmq_errno();
        avf_log(AVF_LOG_ERROR, "proxy", "cannot create a ZeroMQ context: %s", zmq_strerror(ret));
        return -ret;
    }
    p->frontend = new_socket(p->ctx, ZMQ_XSUB);
    p->backend = new_socket(p->ctx, ZMQ_XPUB);
    p->control = new_socket(p->ctx, ZMQ_PAIR);
    p->steer = new_socket(p->ctx, ZMQ_PAIR);
    if (!p->frontend || !p->backend || !p->control || !p->steer) {
        ret = zmq_errno();
        avf_log(AVF_LOG_ERROR, "proxy", "cannot create sockets: %s", zmq_strerror(ret));
        return -ret;
    }
    if (zmq_bind(p->steer, PROXY_CONTROL_EP) < 0 || zmq_connect(p->control, PROXY_CONTROL_EP) < 0) {
        ret = zmq_errno();
        avf_log(AVF_LOG_ERROR, "proxy", "cannot set up the control pair: %s", zmq_strerror(ret));
        return -ret;
    }
    ret = avf_zmq_curve(p->frontend, o->key, o->server_key, "proxy");
    if (ret == 0 && o->backend_key)
        ret = proxy_backend_curve(p, o);
    return ret;
}

/*
 * Runs zmq_proxy_steerable() in a thread of its own until SIGINT or SIGTERM (which
 * the caller has blocked, in signals) or until it fails. Returns 0 or a negative
 * error, reported.
 */
static int proxy_run(proxy *p, const sigset_t *signals)
{
    const struct timespec tick = {0, 200 * 1000 * 1000};
    pthread_t thread;
    int ret;

    /* pthread_create() is the memory barrier that hands the three sockets over */
    ret = pthread_create(&thread, NULL, proxy_main, p);
    if (ret) {
        avf_log(AVF_LOG_ERROR, "proxy", "cannot start the proxy thread: %s", strerror(ret));
        return -ret;
    }
    while (!atomic_load(&p->done)) {
        if (sigtimedwait(signals, NULL, &tick) >= 0) {
            /* zmq_proxy_steerable() reads it on its next poll, or first if not there yet */
            if (zmq_send(p->steer, "TERMINATE", 9, 0) < 0) {
                /* the proxy thread still owns its sockets: no clean way out is left */
                avf_log(AVF_LOG_ERROR, "proxy", "cannot stop the proxy: %s",
                        zmq_strerror(zmq_errno()));
                _exit(EXIT_INPUT_FAILED);
            }
            break;
        }
    }
    pthread_join(thread, NULL);
    if (p->ret < 0)
        avf_log(AVF_LOG_ERROR, "proxy", "the proxy failed: %s", zmq_strerror(-p->ret));
    return p->ret;
}

static void proxy_close(proxy *p)
{
    if (p->steer)
        zmq_close(p->steer);
    if (p->control)
        zmq_close(p->control);
    if (p->backend)
        zmq_close(p->backend);
    if (p->frontend)
        zmq_close(p->frontend);
    if (p->ctx)
        zmq_ctx_shutdown(p->ctx); /* ends the ZAP handler's wait */
    avf_zap_free(&p->zap);
    if (p->ctx)
        zmq_ctx_term(p->ctx);
}

int avf_cmd_proxy(int argc, char **argv)
{
    proxy_opts o = {0};
    proxy p = {0};
    sigset_t signals;
    int status = EXIT_INPUT_FAILED, ret;

    if (proxy_parse_args(&o, argc, argv) < 0)
        return EXIT_USAGE;
    if (o.help) {
        proxy_usage(stdout);
        return 0;
    }
    /* blocked before any thread exists (zmq's I/O threads block all signals anyway) */
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);

    if (proxy_open(&p, &o) < 0)
        goto done;
    /* bind first: a taken port is the likeliest failure and needs no daemon */
    ret = avf_zmq_attach(p.backend, o.backend, 1, "proxy");
    if (ret == 0)
        ret = avf_zmq_attach(p.frontend, o.frontend, 0, "proxy");
    if (ret < 0) {
        status = avf_zmq_attach_status(ret);
        goto done;
    }
    if (proxy_run(&p, &signals) == 0)
        status = 0;
done:
    proxy_close(&p);
    return status;
}
