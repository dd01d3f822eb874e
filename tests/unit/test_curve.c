/*
 * test_curve.c - unit tests of CURVE key files and the ZAP allow-list
 * (daemon/curve.c), with libzmq's zmq_setsockopt behind a link seam.
 *
 * Key files are real files in a temporary folder: a key pair readable by others,
 * a .pub file given where the key pair goes, keys that are not Z85, missing files;
 * each refusal is checked by its whole text, which must never hold key material.
 * The test links with -Wl,--wrap=zmq_setsockopt (tests/CMakeLists.txt): the
 * wrapper logs the CURVE options the module sets and can make one fail, and
 * otherwise passes them to libzmq, so that the allow-list is also checked end to
 * end over loopback TCP: a listed client gets through, another is refused and
 * counted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/error.h>
#include <libavutil/time.h>
#include <zmq.h>

#include "base/error.h"
#include "daemon/curve.h"

static char dir[64];
static char path[128];
static char public_key[41], secret_key[41];

static char options[512]; /* "server=1 secret=KEY ..." in call order */
static int fail_option;   /* zmq_setsockopt fails with EINVAL for it when not 0 */

int __real_zmq_setsockopt(void *s, int option, const void *value, size_t len);
int __wrap_zmq_setsockopt(void *s, int option, const void *value, size_t len);

int __wrap_zmq_setsockopt(void *s, int option, const void *value, size_t len)
{
    size_t n = strlen(options);
    const char *name = option == ZMQ_CURVE_SERVER      ? "server"
                       : option == ZMQ_CURVE_SECRETKEY ? "secret"
                       : option == ZMQ_CURVE_PUBLICKEY ? "public"
                       : option == ZMQ_CURVE_SERVERKEY ? "serverkey"
                                                       : NULL;

    if (name && option == ZMQ_CURVE_SERVER)
        snprintf(options + n, sizeof(options) - n, "%s=%d ", name, *(const int *)value);
    else if (name)
        snprintf(options + n, sizeof(options) - n, "%s=%.*s ", name, (int)len, (const char *)value);
    if (fail_option && option == fail_option) {
        errno = EINVAL;
        return -1;
    }
    return __real_zmq_setsockopt(s, option, value, len);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/avfuse-curve-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/file", dir);
    options[0] = 0;
    fail_option = 0;
    return zmq_curve_keypair(public_key, secret_key) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    rmdir(dir);
    return 0;
}

static void write_file(const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

/* Expects path (written with text and mode) refused as a key pair with why. */
static void expect_keypair_refused(const char *text, mode_t mode, int err, const char *reason)
{
    avf_curve_keypair kp;
    char why[400], expected[400];

    write_file(text, mode);
    memset(&kp, 'x', sizeof(kp));
    assert_int_equal(avf_curve_load_keypair(&kp, path, why, sizeof(why)), err);
    snprintf(expected, sizeof(expected), "%s: %s", path, reason);
    assert_string_equal(why, expected);
    assert_null(strstr(why, secret_key));
    assert_string_equal(kp.public_key, ""); /* nothing half read is left */
    assert_string_equal(kp.secret_key, "");
}

static void test_keypair(void **state)
{
    avf_curve_keypair kp;
    char text[200], why[400] = "";

    (void)state;
    /* as avfuse keygen writes it */
    snprintf(text, sizeof(text), "public = %s\nsecret = %s\n", public_key, secret_key);
    write_file(text, 0600);
    assert_int_equal(avf_curve_load_keypair(&kp, path, why, sizeof(why)), 0);
    assert_string_equal(kp.public_key, public_key);
    assert_string_equal(kp.secret_key, secret_key);
    /* by hand: comments, other lines, tabs, CRLF, the secret first; read-only */
    snprintf(text, sizeof(text), "# mine\r\n\tsecret\t=\t%s  \r\nname = x\r\npublic=%s\r\n",
             secret_key, public_key);
    write_file(text, 0400);
    assert_int_equal(avf_curve_load_keypair(&kp, path, why, sizeof(why)), 0);
    assert_string_equal(kp.public_key, public_key);
    assert_string_equal(kp.secret_key, secret_key);
}

static void test_keypair_refused(void **state)
{
    char text[200], bad[41], why[400], expected[400];
    const char *not_key = "not a key file (it needs 'public = ' and 'secret = ' lines with "
                          "40-character Z85 keys; make one with avfuse keygen)";
    avf_curve_keypair kp;

    (void)state;
    snprintf(text, sizeof(text), "public = %s\nsecret = %s\n", public_key, secret_key);
    expect_keypair_refused(text, 0640, AVF_ERR_CONFIG,
                           "a secret key file must not be accessible to group or others (mode "
                           "0640; chmod 600)");
    expect_keypair_refused(text, 0604, AVF_ERR_CONFIG,
                           "a secret key file must not be accessible to group or others (mode "
                           "0604; chmod 600)");

    /* a .pub file where the key pair goes: as keygen leaves it (0644), refused for
     * its mode; made private, refused for holding no secret */
    snprintf(text, sizeof(text), "%s\n", public_key);
    expect_keypair_refused(text, 0644, AVF_ERR_CONFIG,
                           "a secret key file must not be accessible to group or others (mode "
                           "0644; chmod 600)");
    expect_keypair_refused(text, 0600, AVF_ERR_CONFIG, not_key);
    snprintf(text, sizeof(text), "public = %s\n", public_key);
    expect_keypair_refused(text, 0600, AVF_ERR_CONFIG, not_key);

    /* not Z85: a character outside its alphabet, a key one character short */
    snprintf(bad, sizeof(bad), "%s", secret_key);
    bad[17] = '"';
    snprintf(text, sizeof(text), "public = %s\nsecret = %s\n", public_key, bad);
    expect_keypair_refused(text, 0600, AVF_ERR_CONFIG, not_key);
    snprintf(text, sizeof(text), "public = %s\nsecret = %.39s\n", public_key, secret_key);
    expect_keypair_refused(text, 0600, AVF_ERR_CONFIG, not_key);
    snprintf(text, sizeof(text), "public = %s\nsecret = %sA\n", public_key, secret_key);
    expect_keypair_refused(text, 0600, AVF_ERR_CONFIG, not_key);
    expect_keypair_refused("", 0600, AVF_ERR_CONFIG, not_key);

    unlink(path);
    assert_int_equal(avf_curve_load_keypair(&kp, path, why, sizeof(why)), AVERROR(ENOENT));
    snprintf(expected, sizeof(expected), "%s: cannot open: %s", path, strerror(ENOENT));
    assert_string_equal(why, expected);
}

static void test_public(void **state)
{
    char key[AVF_Z85_KEY_LEN + 1], text[200], why[400] = "", expected[400];

    (void)state;
    /* as avfuse keygen writes NAME.pub, after comments and blank lines */
    snprintf(text, sizeof(text), "# the daemon\n\n   \n  %s \r\n", public_key);
    write_file(text, 0644);
    assert_int_equal(avf_curve_load_public(key, path, why, sizeof(why)), 0);
    assert_string_equal(key, public_key);
    snprintf(text, sizeof(text), "public=%s\n", public_key);
    write_file(text, 0644);
    memset(key, 0, sizeof(key));
    assert_int_equal(avf_curve_load_public(key, path, why, sizeof(why)), 0);
    assert_string_equal(key, public_key);
    /* the key pair file keygen writes ("public = KEY"): its public line */
    snprintf(text, sizeof(text), "public = %s\nsecret = %s\n", public_key, secret_key);
    write_file(text, 0600);
    memset(key, 0, sizeof(key));
    assert_int_equal(avf_curve_load_public(key, path, why, sizeof(why)), 0);
    assert_string_equal(key, public_key);

    /* the first line that is not a comment decides: a bad one is not skipped */
    snprintf(expected, sizeof(expected), "%s: no 40-character Z85 public key in it", path);
    snprintf(text, sizeof(text), "%.39s\n%s\n", public_key, public_key);
    write_file(text, 0644);
    assert_int_equal(avf_curve_load_public(key, path, why, sizeof(why)), AVF_ERR_CONFIG);
    assert_string_equal(why, expected);
    snprintf(text, sizeof(text), "%s\n", public_key);
    text[0] = '"';
    write_file(text, 0644);
    assert_int_equal(avf_curve_load_public(key, path, why, sizeof(why)), AVF_ERR_CONFIG);
    assert_string_equal(why, expected);
    /* a key with one character more is not cut down to 40 */
    snprintf(text, sizeof(text), "%sA\n", public_key);
    write_file(text, 0644);
    assert_int_equal(avf_curve_load_public(key, path, why, sizeof(why)), AVF_ERR_CONFIG);
    assert_string_equal(why, expected);
    write_file("# nothing\n\n", 0644);
    assert_int_equal(avf_curve_load_public(key, path, why, sizeof(why)), AVF_ERR_CONFIG);
    assert_string_equal(why, expected);

    unlink(path);
    assert_int_equal(avf_curve_load_public(key, path, why, sizeof(why)), AVERROR(ENOENT));
    snprintf(expected, sizeof(expected), "%s: cannot open: %s", path, strerror(ENOENT));
    assert_string_equal(why, expected);
}

/* The options a server and a client set, in order, and a failure passed on. */
static void test_socket_options(void **state)
{
    void *ctx = zmq_ctx_new(), *sock = zmq_socket(ctx, ZMQ_PULL);
    avf_curve_keypair kp;
    char expected[300], server[41];

    (void)state;
    snprintf(kp.public_key, sizeof(kp.public_key), "%s", public_key);
    snprintf(kp.secret_key, sizeof(kp.secret_key), "%s", secret_key);
    assert_int_equal(avf_curve_server(sock, &kp), 0);
    snprintf(expected, sizeof(expected), "server=1 secret=%s ", secret_key);
    assert_string_equal(options, expected);

    options[0] = 0;
    assert_int_equal(zmq_curve_keypair(server, expected), 0);
    assert_int_equal(avf_curve_client(sock, server, &kp), 0);
    snprintf(expected, sizeof(expected), "serverkey=%s public=%s secret=%s ", server, public_key,
             secret_key);
    assert_string_equal(options, expected);

    /* a refused option stops there, and its errno is returned */
    options[0] = 0;
    fail_option = ZMQ_CURVE_SERVER;
    assert_int_equal(avf_curve_server(sock, &kp), -EINVAL);
    assert_string_equal(options, "server=1 ");
    options[0] = 0;
    fail_option = ZMQ_CURVE_PUBLICKEY;
    assert_int_equal(avf_curve_client(sock, server, &kp), -EINVAL);
    assert_null(strstr(options, "secret="));
    zmq_close(sock);
    zmq_ctx_term(ctx);
}

static void expect_allow_list_refused(const char *text, const char *reason)
{
    void *ctx = zmq_ctx_new();
    avf_zap *z = NULL;
    char why[400] = "", expected[400];

    write_file(text, 0644);
    assert_int_equal(avf_zap_start(&z, ctx, path, why, sizeof(why)), AVF_ERR_CONFIG);
    assert_null(z);
    snprintf(expected, sizeof(expected), "%s%s", path, reason);
    assert_string_equal(why, expected);
    zmq_ctx_term(ctx);
}

static void test_allow_list_refused(void **state)
{
    char text[200], why[400], expected[400];
    void *ctx;
    avf_zap *z = NULL, *z2 = NULL;

    (void)state;
    snprintf(text, sizeof(text), "# clients\n%s\n\n%.39s\n", public_key, public_key);
    expect_allow_list_refused(text, ":4: not a 40-character Z85 public key");
    snprintf(text, sizeof(text), "%s extra\n%s!\n", public_key, public_key);
    expect_allow_list_refused(text, ":2: not a 40-character Z85 public key");
    expect_allow_list_refused("# nobody yet\n\n",
                              ": the allow-list holds no key: no client could connect");
    unlink(path);
    ctx = zmq_ctx_new();
    assert_int_equal(avf_zap_start(&z, ctx, path, why, sizeof(why)), AVERROR(ENOENT));
    snprintf(expected, sizeof(expected), "%s: cannot open the allow-list: %s", path,
             strerror(ENOENT));
    assert_string_equal(why, expected);

    /* one handler per context */
    snprintf(text, sizeof(text), "%s\n", public_key);
    write_file(text, 0644);
    assert_int_equal(avf_zap_start(&z, ctx, path, why, sizeof(why)), 0);
    assert_int_equal(avf_zap_start(&z2, ctx, path, why, sizeof(why)), -EADDRINUSE);
    snprintf(expected, sizeof(expected), "cannot start the ZAP handler: %s",
             zmq_strerror(EADDRINUSE));
    assert_string_equal(why, expected);
    zmq_ctx_shutdown(ctx);
    avf_zap_free(&z);
    assert_null(z);
    avf_zap_free(&z);
    zmq_ctx_term(ctx);
}

/* A client connects with kp and sends "hi"; returns 1 when the server got it. */
static int client_gets_through(void *ctx, void *server, const char *endpoint,
                               const char *server_public, const avf_curve_keypair *kp)
{
    void *client = zmq_socket(ctx, ZMQ_PUSH);
    int linger = 0, got;
    char buf[8] = "";

    assert_int_equal(zmq_setsockopt(client, ZMQ_LINGER, &linger, sizeof(linger)), 0);
    assert_int_equal(avf_curve_client(client, server_public, kp), 0);
    assert_int_equal(zmq_connect(client, endpoint), 0);
    assert_int_equal(zmq_send(client, "hi", 2, ZMQ_DONTWAIT), 2);
    got = zmq_recv(server, buf, sizeof(buf), 0) == 2 && !memcmp(buf, "hi", 2);
    zmq_close(client);
    return got;
}

static void test_allow_list_end_to_end(void **state)
{
    void *ctx = zmq_ctx_new(), *server;
    avf_zap *z = NULL;
    avf_curve_keypair server_kp, allowed, stranger;
    char text[200], why[400] = "", endpoint[128];
    size_t size = sizeof(endpoint);
    int timeout = 5000, linger = 0;
    int64_t deadline;

    (void)state;
    assert_int_equal(zmq_curve_keypair(server_kp.public_key, server_kp.secret_key), 0);
    assert_int_equal(zmq_curve_keypair(stranger.public_key, stranger.secret_key), 0);
    snprintf(allowed.public_key, sizeof(allowed.public_key), "%s", public_key);
    snprintf(allowed.secret_key, sizeof(allowed.secret_key), "%s", secret_key);
    snprintf(text, sizeof(text), "# a comment\n%s\n", public_key);
    write_file(text, 0644);
    assert_int_equal(avf_zap_start(&z, ctx, path, why, sizeof(why)), 0);
    server = zmq_socket(ctx, ZMQ_PULL);
    assert_int_equal(avf_curve_server(server, &server_kp), 0);
    assert_int_equal(zmq_setsockopt(server, ZMQ_RCVTIMEO, &timeout, sizeof(timeout)), 0);
    assert_int_equal(zmq_setsockopt(server, ZMQ_LINGER, &linger, sizeof(linger)), 0);
    assert_int_equal(zmq_bind(server, "tcp://127.0.0.1:*"), 0);
    assert_int_equal(zmq_getsockopt(server, ZMQ_LAST_ENDPOINT, endpoint, &size), 0);

    assert_true(client_gets_through(ctx, server, endpoint, server_kp.public_key, &allowed));
    assert_int_equal(avf_zap_refused(z), 0);

    /* a client whose key is not listed: its message never arrives */
    timeout = 500;
    assert_int_equal(zmq_setsockopt(server, ZMQ_RCVTIMEO, &timeout, sizeof(timeout)), 0);
    assert_false(client_gets_through(ctx, server, endpoint, server_kp.public_key, &stranger));
    deadline = av_gettime_relative() + 5000000;
    while (avf_zap_refused(z) < 1 && av_gettime_relative() < deadline)
        av_usleep(10000);
    assert_true(avf_zap_refused(z) >= 1); /* libzmq may have tried it more than once */
    zmq_close(server);
    zmq_ctx_shutdown(ctx);
    avf_zap_free(&z);
    zmq_ctx_term(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keypair, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keypair_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_public, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allow_list_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allow_list_end_to_end, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
