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
 * signal handler touches a socket (STYLE.md rules 5 and 16). The file also holds
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
            fprintf(stderr, "avfuse %s: empty endpoint in '%s'\n", cmd, endpoints);
            ret = -EINVAL;
        } else {
            ret = bind ? zmq_bind(sock, ep) : zmq_connect(sock, ep);
            if (ret < 0) {
                ret = -zmq_errno();
                fprintf(stderr, "avfuse %s: cannot %s %s: %s\n", cmd, bind ? "bind" : "connect to",
                        ep,
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

typedef struct proxy_thread {
    void *frontend, *backend, *control; /* owned by the proxy thread once it runs */
    atomic_int done;                    /* atomic: set when zmq_proxy_steerable() returned */
    int ret;                            /* written by the proxy thread before done */
} proxy_thread;

static void *proxy_main(void *arg)
{
    proxy_thread *pt = arg;

    pt->ret =
        zmq_proxy_steerable(pt->frontend, pt->backend, NULL, pt->control) < 0 ? -zmq_errno() : 0;
    atomic_store(&pt->done, 1);
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

int avf_cmd_proxy(int argc, char **argv)
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
    const char *key = NULL, *server_key = NULL, *backend_key = NULL, *backend_allow = NULL;
    avf_curve_keypair backend_kp;
    avf_zap *zap = NULL;
    char why[512];
    proxy_thread pt = {0};
    const struct timespec tick = {0, 200 * 1000 * 1000};
    pthread_t thread;
    sigset_t signals;
    void *ctx = NULL, *steer = NULL;
    int status = EXIT_USAGE, opt, ret;

    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_KEY:
            key = optarg;
            break;
        case OPT_SERVER_KEY:
            server_key = optarg;
            break;
        case OPT_BACKEND_KEY:
            backend_key = optarg;
            break;
        case OPT_BACKEND_ALLOW:
            backend_allow = optarg;
            break;
        case 'h':
            proxy_usage(stdout);
            return 0;
        default:
            proxy_short_usage();
            return EXIT_USAGE;
        }
    }
    if ((backend_key != NULL) != (backend_allow != NULL)) {
        fprintf(stderr, "avfuse proxy: --backend-key and --backend-allow go together (CURVE "
                        "without an allow-list would accept any subscriber)\n");
        return EXIT_USAGE;
    }
    if (argc - optind != 2) {
        fprintf(stderr, "avfuse proxy: %s\n",
                argc - optind < 2 ? "FRONTEND and BACKEND are required" : "too many arguments");
        proxy_short_usage();
        return EXIT_USAGE;
    }
    /* blocked before any thread exists (zmq's I/O threads block all signals anyway) */
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);

    status = EXIT_INPUT_FAILED;
    ctx = zmq_ctx_new();
    if (!ctx) {
        fprintf(stderr, "avfuse proxy: cannot create a ZeroMQ context: %s\n",
                zmq_strerror(zmq_errno()));
        goto done;
    }
    pt.frontend = new_socket(ctx, ZMQ_XSUB);
    pt.backend = new_socket(ctx, ZMQ_XPUB);
    pt.control = new_socket(ctx, ZMQ_PAIR);
    steer = new_socket(ctx, ZMQ_PAIR);
    if (!pt.frontend || !pt.backend || !pt.control || !steer) {
        fprintf(stderr, "avfuse proxy: cannot create sockets: %s\n", zmq_strerror(zmq_errno()));
        goto done;
    }
    if (zmq_bind(steer, PROXY_CONTROL_EP) < 0 || zmq_connect(pt.control, PROXY_CONTROL_EP) < 0) {
        fprintf(stderr, "avfuse proxy: cannot set up the control pair: %s\n",
                zmq_strerror(zmq_errno()));
        goto done;
    }
    if (avf_zmq_curve(pt.frontend, key, server_key, "proxy") < 0)
        goto done;
    if (backend_key) {
        if (avf_curve_load_keypair(&backend_kp, backend_key, why, sizeof(why)) < 0 ||
            avf_zap_start(&zap, ctx, backend_allow, why, sizeof(why)) < 0) {
            fprintf(stderr, "avfuse proxy: %s\n", why);
            explicit_bzero(&backend_kp, sizeof(backend_kp));
            goto done;
        }
        ret = avf_curve_server(pt.backend, &backend_kp);
        explicit_bzero(&backend_kp, sizeof(backend_kp));
        if (ret < 0) {
            fprintf(stderr, "avfuse proxy: --backend-key: %s\n", zmq_strerror(-ret));
            goto done;
        }
    }
    /* bind first: a taken port is the likeliest failure and needs no daemon */
    ret = avf_zmq_attach(pt.backend, argv[optind + 1], 1, "proxy");
    if (ret == 0)
        ret = avf_zmq_attach(pt.frontend, argv[optind], 0, "proxy");
    if (ret < 0) {
        status = avf_zmq_attach_status(ret);
        goto done;
    }
    /* pthread_create() is the memory barrier that hands the three sockets over */
    ret = pthread_create(&thread, NULL, proxy_main, &pt);
    if (ret) {
        fprintf(stderr, "avfuse proxy: cannot start the proxy thread: %s\n", strerror(ret));
        goto done;
    }
    while (!atomic_load(&pt.done)) {
        if (sigtimedwait(&signals, NULL, &tick) >= 0) {
            /* zmq_proxy_steerable() reads it on its next poll, or first if not there yet */
            if (zmq_send(steer, "TERMINATE", 9, 0) < 0) {
                /* the proxy thread still owns its sockets: no clean way out is left */
                fprintf(stderr, "avfuse proxy: cannot stop the proxy: %s\n",
                        zmq_strerror(zmq_errno()));
                _exit(EXIT_INPUT_FAILED);
            }
            break;
        }
    }
    pthread_join(thread, NULL);
    if (pt.ret < 0) {
        fprintf(stderr, "avfuse proxy: the proxy failed: %s\n", zmq_strerror(-pt.ret));
        goto done;
    }
    status = 0;
done:
    if (steer)
        zmq_close(steer);
    if (pt.control)
        zmq_close(pt.control);
    if (pt.backend)
        zmq_close(pt.backend);
    if (pt.frontend)
        zmq_close(pt.frontend);
    if (ctx)
        zmq_ctx_shutdown(ctx); /* ends the ZAP handler's wait */
    avf_zap_free(&zap);
    if (ctx)
        zmq_ctx_term(ctx);
    return status;
}
