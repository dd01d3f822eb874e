/*
 * curve.c - CURVE key files and the ZAP handler that enforces the allow-list.
 */
#include "daemon/curve.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavutil/error.h>
#include <zmq.h>

#include "base/log.h"
#include "base/error.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

/* A Z85 key: 40 characters that decode to 32 bytes. */
static int valid_key(const char *text)
{
    uint8_t raw[32];

    return strlen(text) == AVF_Z85_KEY_LEN && zmq_z85_decode(raw, text) != NULL;
}

/* Copies a key value whole into key, or leaves key empty when the value is not
 * 40 characters long (a longer one is not cut down to a valid-looking key). */
static void take_key(char key[AVF_Z85_KEY_LEN + 1], const char *v)
{
    key[0] = 0;
    if (strlen(v) == AVF_Z85_KEY_LEN)
        memcpy(key, v, AVF_Z85_KEY_LEN + 1);
}

/* The text after "name = " on a line, trimmed, or NULL. */
static char *value_of(char *line, const char *name)
{
    size_t n = strlen(name);
    char *v, *end;

    while (*line == ' ' || *line == '\t')
        line++;
    if (strncmp(line, name, n))
        return NULL;
    v = line + n;
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v++ != '=')
        return NULL;
    while (*v == ' ' || *v == '\t')
        v++;
    end = v + strcspn(v, " \t\r\n");
    *end = 0;
    return v;
}

int avf_curve_load_keypair(avf_curve_keypair *kp, const char *path, char *why, size_t why_size)
{
    char line[256];
    struct stat st;
    FILE *f = fopen(path, "r");
    int ret = 0;

    memset(kp, 0, sizeof(*kp));
    if (!f) {
        ret = AVERROR(errno);
        snprintf(why, why_size, "%s: cannot open: %s", path, strerror(errno));
        return ret;
    }
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO))) {
        snprintf(why, why_size,
                 "%s: a secret key file must not be accessible to group or others (mode %04o; "
                 "chmod 600)",
                 path, (unsigned)(st.st_mode & 07777));
        fclose(f);
        return AVF_ERR_CONFIG;
    }
    while (fgets(line, sizeof(line), f)) {
        char *v;

        if ((v = value_of(line, "public")))
            take_key(kp->public_key, v);
        else if ((v = value_of(line, "secret")))
            take_key(kp->secret_key, v);
    }
    fclose(f);
    if (!valid_key(kp->public_key) || !valid_key(kp->secret_key)) {
        snprintf(why, why_size,
                 "%s: not a key file (it needs 'public = ' and 'secret = ' lines with 40-character "
                 "Z85 keys; make one with avfuse keygen)",
                 path);
        memset(kp, 0, sizeof(*kp));
        return AVF_ERR_CONFIG;
    }
    return 0;
}

int avf_curve_load_public(char key[AVF_Z85_KEY_LEN + 1], const char *path, char *why,
                          size_t why_size)
{
    char line[256];
    FILE *f = fopen(path, "r");
    int found = 0;

    if (!f) {
        int ret = AVERROR(errno);

        snprintf(why, why_size, "%s: cannot open: %s", path, strerror(errno));
        return ret;
    }
    while (!found && fgets(line, sizeof(line), f)) {
        /* a NAME.pub (the key alone) or a NAME.key ("public = KEY") */
        char *v = value_of(line, "public");

        if (!v) {
            v = line + strspn(line, " \t");
            v[strcspn(v, " \t\r\n")] = 0;
        }
        if (*v == '#' || !*v)
            continue;
        take_key(key, v);
        found = valid_key(key);
        if (!found)
            break;
    }
    fclose(f);
    if (!found) {
        snprintf(why, why_size, "%s: no 40-character Z85 public key in it", path);
        return AVF_ERR_CONFIG;
    }
    return 0;
}

int avf_curve_server(void *sock, const avf_curve_keypair *kp)
{
    int on = 1;

    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &on, sizeof(on)) < 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, kp->secret_key, AVF_Z85_KEY_LEN) < 0)
        return -errno;
    return 0;
}

int avf_curve_client(void *sock, const char *server_public, const avf_curve_keypair *kp)
{
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_public, AVF_Z85_KEY_LEN) < 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, kp->public_key, AVF_Z85_KEY_LEN) < 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, kp->secret_key, AVF_Z85_KEY_LEN) < 0)
        return -errno;
    return 0;
}

struct avf_zap {
    void *sock; /* the thread's, once started */
    pthread_t thread;
    uint8_t (*keys)[32];
    int nb_keys;
    atomic_ulong refused;
};

static int allowed(const avf_zap *z, const uint8_t *key)
{
    for (int i = 0; i < z->nb_keys; i++)
        if (!memcmp(z->keys[i], key, 32))
            return 1;
    return 0;
}

/* Receives one ZAP request into parts (up to 8); returns the count, -1 on ETERM. */
static int receive_request(void *sock, zmq_msg_t *parts, int max)
{
    int n = 0, more = 1;

    while (more) {
        zmq_msg_t scratch;
        zmq_msg_t *part = n < max ? &parts[n] : &scratch;

        zmq_msg_init(part);
        if (zmq_msg_recv(part, sock, 0) < 0) {
            zmq_msg_close(part);
            for (int i = 0; i < n && i < max; i++)
                zmq_msg_close(&parts[i]);
            return errno == EINTR ? 0 : -1;
        }
        more = zmq_msg_more(part);
        if (part == &scratch)
            zmq_msg_close(part);
        n++;
    }
    return n < max ? n : max;
}

static void send_part(void *sock, const void *data, size_t size, int more)
{
    zmq_send(sock, data, size, more ? ZMQ_SNDMORE : 0);
}

/* RFC 27: version, request id, domain, address, identity, mechanism, credentials. */
static void *zap_main(void *arg)
{
    avf_zap *z = arg;
    zmq_msg_t parts[8];

    for (;;) {
        int n = receive_request(z->sock, parts, 8);
        const char *status = "400", *text = "not on the allow-list";

        if (n < 0)
            break;
        if (n == 0)
            continue;
        if (n >= 7 && zmq_msg_size(&parts[5]) == 5 &&
            !memcmp(zmq_msg_data(&parts[5]), "CURVE", 5) && zmq_msg_size(&parts[6]) == 32 &&
            allowed(z, zmq_msg_data(&parts[6]))) {
            status = "200";
            text = "OK";
        } else {
            char addr[64] = "";

            if (n >= 4)
                snprintf(addr, sizeof(addr), "%.*s", (int)zmq_msg_size(&parts[3]),
                         (const char *)zmq_msg_data(&parts[3]));
            atomic_fetch_add(&z->refused, 1);
            avf_log(AVF_LOG_WARN, "curve", "refused a client%s%s: its key is not on the allow-list",
                    addr[0] ? " from " : "", addr);
        }
        send_part(z->sock, "1.0", 3, 1);
        if (n >= 2)
            send_part(z->sock, zmq_msg_data(&parts[1]), zmq_msg_size(&parts[1]), 1);
        else
            send_part(z->sock, "", 0, 1);
        send_part(z->sock, status, 3, 1);
        send_part(z->sock, text, strlen(text), 1);
        send_part(z->sock, "", 0, 1); /* user id */
        send_part(z->sock, "", 0, 0); /* metadata */
        for (int i = 0; i < n; i++)
            zmq_msg_close(&parts[i]);
    }
    zmq_close(z->sock);
    return NULL;
}

static int load_allow_list(avf_zap *z, const char *path, char *why, size_t why_size)
{
    char line[256];
    int lineno = 0;
    FILE *f = fopen(path, "r");

    if (!f) {
        int ret = AVERROR(errno);

        snprintf(why, why_size, "%s: cannot open the allow-list: %s", path, strerror(errno));
        return ret;
    }
    while (fgets(line, sizeof(line), f)) {
        char *v = line + strspn(line, " \t");
        uint8_t(*grown)[32];

        lineno++;
        v[strcspn(v, " \t\r\n")] = 0;
        if (*v == '#' || !*v)
            continue;
        if (!valid_key(v)) {
            snprintf(why, why_size, "%s:%d: not a 40-character Z85 public key", path, lineno);
            fclose(f);
            return AVF_ERR_CONFIG;
        }
        grown = realloc(z->keys, (size_t)(z->nb_keys + 1) * sizeof(*grown));
        if (!grown) {
            fclose(f);
            return AVERROR(ENOMEM);
        }
        z->keys = grown;
        zmq_z85_decode(z->keys[z->nb_keys++], v);
    }
    fclose(f);
    if (z->nb_keys == 0) {
        snprintf(why, why_size, "%s: the allow-list holds no key: no client could connect", path);
        return AVF_ERR_CONFIG;
    }
    return 0;
}

int avf_zap_start(avf_zap **pz, void *ctx, const char *allow_path, char *why, size_t why_size)
{
    avf_zap *z = calloc(1, sizeof(*z));
    int ret;

    if (!z)
        return AVERROR(ENOMEM);
    atomic_init(&z->refused, 0);
    ret = load_allow_list(z, allow_path, why, why_size);
    if (ret < 0)
        goto fail;
    z->sock = zmq_socket(ctx, ZMQ_REP);
    if (!z->sock || zmq_bind(z->sock, ZAP_ENDPOINT) < 0) {
        ret = -errno;
        snprintf(why, why_size, "cannot start the ZAP handler: %s", zmq_strerror(errno));
        goto fail;
    }
    ret = pthread_create(&z->thread, NULL, zap_main, z);
    if (ret) {
        snprintf(why, why_size, "cannot start the ZAP handler: %s", strerror(ret));
        ret = AVERROR(ret);
        goto fail;
    }
    *pz = z;
    return 0;
fail:
    if (z->sock)
        zmq_close(z->sock);
    free(z->keys);
    free(z);
    return ret;
}

unsigned long avf_zap_refused(avf_zap *z)
{
    return atomic_load(&z->refused);
}

void avf_zap_free(avf_zap **pz)
{
    avf_zap *z;

    if (!pz || !*pz)
        return;
    z = *pz;
    pthread_join(z->thread, NULL);
    free(z->keys);
    free(z);
    *pz = NULL;
}
