/*
 * keygen.c - `avfuse keygen NAME`: a CURVE key pair for avfused or a client, and
 * the client side of CURVE for watch, ctl and proxy.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include "tools/commands.h"
#include "base/log.h"
#include "daemon/curve.h"

static void keygen_usage(FILE *f)
{
    fprintf(f, "usage: avfuse keygen [-f] NAME\n"
               "\n"
               "Makes a CURVE key pair (ZeroMQ's Curve25519 encryption and authentication):\n"
               "  NAME.key  the key pair, \"public = ...\" and \"secret = ...\" (mode 0600)\n"
               "  NAME.pub  the public key alone, to hand out\n"
               "and prints the public key.\n"
               "\n"
               "For the daemon: [daemon] curve_key = NAME.key, and curve_allow = a file with\n"
               "the .pub lines of every client allowed in. For a client (watch, ctl, proxy):\n"
               "--key NAME.key and --server-key DAEMON.pub. See docs/security.md.\n"
               "\n"
               "  -f, --force  overwrite existing files (otherwise they are refused)\n"
               "  -h, --help   this help\n");
}

/*
 * Writes text to path with mode, refusing an existing file unless force. Returns 0
 * or a negative errno, reported.
 */
static int write_file(const char *path, const char *text, mode_t mode, int force)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL), mode);
    size_t n = strlen(text);
    ssize_t written;
    int err;

    if (fd < 0) {
        err = errno;
        avf_log(AVF_LOG_ERROR, "keygen", "%s: %s%s", path, strerror(err),
                err == EEXIST ? " (-f overwrites)" : "");
        return -err;
    }
    err = fchmod(fd, mode) < 0 ? errno : 0;
    if (!err) {
        written = write(fd, text, n);
        err = written < 0 ? errno : written != (ssize_t)n ? EIO : 0;
    }
    if (close(fd) < 0 && !err)
        err = errno;
    if (err) {
        avf_log(AVF_LOG_ERROR, "keygen", "%s: cannot write: %s", path, strerror(err));
        return -err;
    }
    return 0;
}

int avf_cmd_keygen(int argc, char **argv)
{
    static const struct option options[] = {
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char public_key[41], secret_key[41], path[4096], text[128];
    int force = 0, opt, ret;

    while ((opt = getopt_long(argc, argv, "fh", options, NULL)) != -1) {
        switch (opt) {
        case 'f':
            force = 1;
            break;
        case 'h':
            keygen_usage(stdout);
            return 0;
        default:
            keygen_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        keygen_usage(stderr);
        return EXIT_USAGE;
    }
    if (zmq_curve_keypair(public_key, secret_key) < 0) {
        avf_log(AVF_LOG_ERROR, "keygen", "%s (libzmq built without CURVE?)",
                zmq_strerror(zmq_errno()));
        return EXIT_INPUT_FAILED;
    }
    snprintf(path, sizeof(path), "%s.key", argv[optind]);
    snprintf(text, sizeof(text), "public = %s\nsecret = %s\n", public_key, secret_key);
    ret = write_file(path, text, 0600, force);
    explicit_bzero(secret_key, sizeof(secret_key));
    explicit_bzero(text, sizeof(text));
    if (ret < 0)
        return EXIT_INPUT_FAILED;
    snprintf(path, sizeof(path), "%s.pub", argv[optind]);
    snprintf(text, sizeof(text), "%s\n", public_key);
    if (write_file(path, text, 0644, force) < 0)
        return EXIT_INPUT_FAILED;
    printf("%s\n", public_key);
    fprintf(stderr, "avfuse keygen: wrote %s.key (keep it secret) and %s.pub\n", argv[optind],
            argv[optind]);
    return 0;
}

int avf_zmq_curve(void *sock, const char *key_path, const char *server_key_path, const char *cmd)
{
    avf_curve_keypair kp;
    char server[AVF_Z85_KEY_LEN + 1], why[512];
    int ret;

    if (!key_path && !server_key_path)
        return 0;
    if (!key_path || !server_key_path) {
        avf_log(AVF_LOG_ERROR, cmd,
                "CURVE needs both --key (yours) and --server-key (the daemon's .pub)");
        return -EINVAL;
    }
    ret = avf_curve_load_keypair(&kp, key_path, why, sizeof(why));
    if (ret == 0)
        ret = avf_curve_load_public(server, server_key_path, why, sizeof(why));
    if (ret < 0) {
        avf_log(AVF_LOG_ERROR, cmd, "%s", why);
        explicit_bzero(&kp, sizeof(kp));
        return ret;
    }
    ret = avf_curve_client(sock, server, &kp);
    explicit_bzero(&kp, sizeof(kp));
    if (ret < 0)
        avf_log(AVF_LOG_ERROR, cmd, "cannot set the CURVE keys: %s", zmq_strerror(-ret));
    return ret;
}
