/*
 * test_config.c - unit tests of the daemon's configuration (daemon/config.c) and
 * of the control socket's command interpreter (daemon/control.c) on its error
 * paths, which need no running source.
 *
 * The configuration's promise is that every mistake is refused with the file and
 * the line where it is, and that a valid file gives exactly the values written
 * (defaults for the rest). Each case writes a small file, loads it and checks the
 * whole error text or the parsed values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/control.h"
#include "base/error.h"

static char path[64];

static int setup(void **state)
{
    int fd;

    (void)state;
    snprintf(path, sizeof(path), "/tmp/avfuse-config-XXXXXX");
    fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

static void write_file(const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Loads text; on success returns the config, else NULL with the error in why. */
static avf_config *load(const char *text, char *why, size_t size)
{
    avf_config *c = NULL;

    write_file(text);
    why[0] = 0;
    if (avf_config_load(&c, path, why, size) < 0) {
        assert_null(c);
        return NULL;
    }
    return c;
}

/* Expects text to be refused with "path:line: reason". */
static void expect_error(const char *text, int line, const char *reason)
{
    char why[600], expected[600];
    avf_config *c = load(text, why, sizeof(why));

    if (c)
        fail_msg("accepted: %s", text);
    snprintf(expected, sizeof(expected), "%s:%d: %s", path, line, reason);
    assert_string_equal(why, expected);
}

static void test_defaults_and_values(void **state)
{
    char why[600];
    avf_config *c;
    const avf_source_conf *a, *b;

    (void)state;
    setenv("RUNTIME_DIRECTORY", "/run/avfuse", 1); /* as avfused.service runs it */
    c = load("; comment\n"
             "[daemon]\n"
             "publish = tcp://127.0.0.1:6000,ipc:///tmp/x\n"
             "  sndhwm = 50   ; an inline comment\n"
             "log_level = debug\n"
             "\n"
             "[source lobby]\n"
             "type = stream\n"
             "url = rtsp://192.0.2.10/stream1\n"
             "read_timeout = 2.5\n"
             "[source  arch-1 ]\n"
             "type = file\n"
             "url = /srv/a.mp4\n"
             "realtime = yes\n"
             "loop = on\n"
             "hop = 0.5\n",
             why, sizeof(why));
    if (!c)
        fail_msg("refused: %s", why);
    assert_string_equal(c->publish, "tcp://127.0.0.1:6000,ipc:///tmp/x");
    assert_string_equal(c->control, "ipc:///run/avfuse/control");
    assert_false(c->control_per_user);
    assert_int_equal(c->sndhwm, 50);
    assert_int_equal(c->log_level, 3);
    assert_true(c->status_interval == 1.0 && c->linger == 1.0);
    assert_null(c->model);
    assert_int_equal(c->nb_sources, 2);
    a = avf_config_find(c, "lobby");
    b = avf_config_find(c, "arch-1");
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->type, AVF_TYPE_STREAM);
    assert_true(a->read_timeout == 2.5 && a->hop == 1.0 && a->backoff_max == 30);
    assert_true(avf_source_conf_is_live(a));
    assert_int_equal(a->line, 7);
    assert_int_equal(b->type, AVF_TYPE_FILE);
    assert_true(b->realtime && b->loop && !b->live && b->hop == 0.5);
    assert_false(avf_source_conf_is_live(b));
    assert_false(avf_source_conf_equal(a, b));
    avf_config_free(&c);
    assert_null(c);
}

static void test_errors_name_the_line(void **state)
{
    (void)state;
    expect_error("[daemon]\nsndhwm = 0\n", 2,
                 "sndhwm must be a whole number from 1 to 1e+06, not '0'");
    expect_error("[daemon]\nlinger = soon\n", 2,
                 "linger must be a number from 0 to 60, not 'soon'");
    expect_error("[daemon]\nspeed = 3\n", 2, "unknown key 'speed' in [daemon]");
    expect_error("publish = x\n", 1, "'publish' is outside any section");
    expect_error("[demon]\n", 1,
                 "unknown section [demon] (sections are [daemon] and [source NAME])");
    expect_error("[daemon]\nlog_level = loud\n", 2,
                 "log_level must be error, warn, info or debug, not 'loud'");
    expect_error("[source a]\ntype = file\nurl = /a.mp4\nurl = /b.mp4\n", 4, "url is set twice");
    expect_error("[source a]\ntype = file\nurl = /a.mp4\n[source a]\n", 4,
                 "source a is already defined on line 1");
    expect_error("[source a b]\n", 1, "source name 'a b' must match [A-Za-z0-9_-]{1,64}");
    expect_error("[source a]\ntype = tape\n", 2,
                 "type 'tape' is not one of file, stream, camera, microphone, av");
    expect_error("[source a]\ntype = file\nloop = maybe\n", 3,
                 "loop must be yes or no, not 'maybe'");
    expect_error("[source a]\ntype = file\nwidth = 320.5\n", 3,
                 "width must be a whole number from 16 to 8192, not '320.5'");
    expect_error("[daemon]\nthis line has no equals sign\n", 2,
                 "not a 'key = value' line or a [section]");
    /* checks that need the whole section name its header line */
    expect_error("\n[source a]\nurl = /a.mp4\n", 2, "source a: type is missing");
    expect_error("[source a]\ntype = stream\n", 1, "source a: url is missing");
    expect_error("[source a]\ntype = stream\nurl = /etc/passwd\n", 1,
                 "source a: '/etc/passwd' is not a network URL (rtsp, http, srt, udp, ...; use "
                 "type = file for files)");
    expect_error("[source a]\ntype = file\nurl = http://example.com/a.mp4\n", 1,
                 "source a: 'http://example.com/a.mp4' is not a local file (use type = stream)");
    /* a pipe's reader blocks where no read_timeout reaches, and the daemon's own
     * standard input is no media source */
    expect_error("[source a]\ntype = file\nurl = pipe:0\n", 1,
                 "source a: pipe: URLs are not accepted (a file source reads a file by its "
                 "path)");
    expect_error("[source a]\ntype = file\nurl = pipe://3\n", 1,
                 "source a: pipe: URLs are not accepted (a file source reads a file by its "
                 "path)");
    expect_error("[source a]\ntype = stream\nurl = udp://127.0.0.1:5000\nloop = yes\n", 1,
                 "source a: loop does not apply to a stream source");
    expect_error("[source a]\ntype = file\nurl = /a.mp4\nhop = 2\n", 1,
                 "source a: len (1) must be at least hop (2)");
    expect_error("[daemon]\nmax_sources = 0\n", 2,
                 "max_sources must be a whole number from 1 to 4096, not '0'");
}

/* More sources than max_sources: refused at the first one over, whole. */
static void test_max_sources(void **state)
{
    char why[600];
    avf_config *c;

    (void)state;
    c = load("[source a]\ntype = file\nurl = /a.mp4\n", why, sizeof(why));
    assert_non_null(c);
    assert_int_equal(c->max_sources, AVF_MAX_SOURCES_DEFAULT);
    avf_config_free(&c);
    expect_error("[daemon]\nmax_sources = 2\n"
                 "[source a]\ntype = file\nurl = /a.mp4\n"
                 "[source b]\ntype = file\nurl = /b.mp4\n"
                 "[source c]\ntype = file\nurl = /c.mp4\n"
                 "[source d]\ntype = file\nurl = /d.mp4\n",
                 9,
                 "4 sources, over max_sources = 2 from source c on (raise max_sources in "
                 "[daemon]; each source costs up to eight threads and a few MB)");
    c = load("[source a]\ntype = file\nurl = /a.mp4\n"
             "[source b]\ntype = file\nurl = /b.mp4\n"
             "[daemon]\nmax_sources = 2\n",
             why, sizeof(why));
    if (!c)
        fail_msg("refused: %s", why);
    assert_int_equal(c->max_sources, 2);
    avf_config_free(&c);
}

/* A string of n bytes: 'x' after prefix. The caller frees it. */
static char *long_string(const char *prefix, size_t n)
{
    char *s = malloc(n + 1);

    assert_non_null(s);
    memset(s, 'x', n);
    memcpy(s, prefix, strlen(prefix));
    s[n] = 0;
    return s;
}

/* Over its bound a value is refused by its length, and never echoed. */
static void test_long_values(void **state)
{
    static const struct {
        const char *type, *key, *prefix;
        size_t max;
    } cases[] = {
        {"stream", "url", "udp://127.0.0.1:9/", AVF_URL_MAX},
        {"file", "url", "/", AVF_URL_MAX},
        {"camera", "device", "/dev/", 4095},
        {"av", "microphone", "hw:", 4095},
        {"camera", "format", "v", AVF_FORMAT_MAX},
        {"file", "output", "/", 4095},
    };
    char why[400], expected[400];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        avf_source_conf sc;
        char *at = long_string(cases[i].prefix, cases[i].max);
        char *over = long_string(cases[i].prefix, cases[i].max + 1);
        char *huge = long_string(cases[i].prefix, 60000);

        avf_source_conf_init(&sc, "a");
        assert_int_equal(avf_source_conf_set(&sc, "type", cases[i].type, why, sizeof(why)), 0);
        assert_int_equal(avf_source_conf_set(&sc, cases[i].key, over, why, sizeof(why)),
                         AVF_ERR_CONFIG);
        snprintf(expected, sizeof(expected), "%s is %zu bytes long, over the %zu bytes it may be",
                 cases[i].key, cases[i].max + 1, cases[i].max);
        assert_string_equal(why, expected);
        avf_source_conf_clear(&sc);
        avf_source_conf_init(&sc, "a");
        assert_int_equal(avf_source_conf_set(&sc, cases[i].key, huge, why, sizeof(why)),
                         AVF_ERR_CONFIG);
        assert_null(strstr(why, "xxxxxxxx"));
        avf_source_conf_clear(&sc);
        avf_source_conf_init(&sc, "a");
        assert_int_equal(avf_source_conf_set(&sc, cases[i].key, at, why, sizeof(why)), 0);
        assert_string_equal(*(char **)(cases[i].key[0] == 'u'   ? (void *)&sc.url
                                       : cases[i].key[0] == 'd' ? (void *)&sc.device
                                       : cases[i].key[0] == 'm' ? (void *)&sc.microphone
                                       : cases[i].key[0] == 'f' ? (void *)&sc.format
                                                                : (void *)&sc.output),
                            at);
        avf_source_conf_clear(&sc);
        free(at);
        free(over);
        free(huge);
    }
}

/* In a file too: the line, the key, the length. */
static void test_long_value_in_file(void **state)
{
    char text[4000];
    char *url = long_string("udp://127.0.0.1:9/", 3000);

    (void)state;
    snprintf(text, sizeof(text), "[source a]\ntype = stream\nurl = %s\n", url);
    expect_error(text, 3, "url is 3000 bytes long, over the 2048 bytes it may be");
    free(url);
}

/* rtsp_transport: TCP unless told, only for RTSP URLs, only tcp or udp; copied and
 * compared like every other key. */
static void test_rtsp_transport(void **state)
{
    char why[600];
    avf_config *c;
    const avf_source_conf *a, *b, *d;
    avf_source_conf copy;

    (void)state;
    c = load("[source a]\ntype = stream\nurl = rtsp://192.0.2.10/s1\n"
             "[source b]\ntype = stream\nurl = RTSP://192.0.2.11/s1\nrtsp_transport = udp\n"
             "[source d]\ntype = stream\nurl = rtsps://192.0.2.10/s1\nrtsp_transport = tcp\n",
             why, sizeof(why));
    if (!c)
        fail_msg("refused: %s", why);
    a = avf_config_find(c, "a");
    b = avf_config_find(c, "b");
    d = avf_config_find(c, "d");
    assert_int_equal(a->rtsp_transport, AVF_RTSP_TCP);
    assert_int_equal(b->rtsp_transport, AVF_RTSP_UDP);
    assert_int_equal(d->rtsp_transport, AVF_RTSP_TCP);
    assert_string_equal(avf_rtsp_transport_name(a->rtsp_transport), "tcp");
    assert_string_equal(avf_rtsp_transport_name(b->rtsp_transport), "udp");
    assert_int_equal(avf_source_conf_copy(&copy, b), 0);
    assert_true(avf_source_conf_equal(&copy, b));
    copy.rtsp_transport = AVF_RTSP_TCP;
    assert_false(avf_source_conf_equal(&copy, b));
    avf_source_conf_clear(&copy);
    avf_config_free(&c);

    expect_error("[source a]\ntype = stream\nurl = rtsp://192.0.2.10/s1\nrtsp_transport = http\n",
                 4, "rtsp_transport must be tcp or udp, not 'http'");
    expect_error("[source a]\ntype = stream\nurl = rtsp://192.0.2.10/s1\nrtsp_transport = TCP\n", 4,
                 "rtsp_transport must be tcp or udp, not 'TCP'");
    expect_error("[source a]\ntype = stream\nurl = rtsp://h/s\nrtsp_transport = tcp\n"
                 "rtsp_transport = udp\n",
                 5, "rtsp_transport is set twice");
    expect_error("[source a]\ntype = stream\nurl = udp://127.0.0.1:5000\nrtsp_transport = udp\n", 1,
                 "source a: rtsp_transport applies to rtsp:// and rtsps:// URLs only");
    expect_error("[source a]\ntype = stream\nurl = rtsps://h/s\nrtsp_transport = udp\n", 1,
                 "source a: rtsp_transport = udp is not possible with rtsps://");
    expect_error("[source a]\ntype = file\nurl = /a.mp4\nrtsp_transport = tcp\n", 1,
                 "source a: rtsp_transport does not apply to a file source");
    expect_error("[source a]\ntype = camera\nrtsp_transport = tcp\n", 1,
                 "source a: rtsp_transport does not apply to a camera source");
}

static void test_control_must_be_ipc(void **state)
{
    char why[600], expected[600];

    (void)state;
    assert_null(load("[daemon]\ncontrol = tcp://127.0.0.1:1\n", why, sizeof(why)));
    snprintf(expected, sizeof(expected),
             "%s: control must be an ipc:// path or none, not 'tcp://127.0.0.1:1'", path);
    assert_string_equal(why, expected);
}

static void test_control_default(void **state)
{
    char buf[128], expected[64];
    avf_config *c;

    (void)state;
    /* systemd's RuntimeDirectory=, the first of several */
    setenv("RUNTIME_DIRECTORY", "/run/avfuse/studio:/run/other", 1);
    setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
    assert_int_equal(avf_control_default(buf, sizeof(buf)), AVF_CONTROL_RUNTIME_DIRECTORY);
    assert_string_equal(buf, "ipc:///run/avfuse/studio/control");
    /* a login session; an empty variable is no variable */
    setenv("RUNTIME_DIRECTORY", "", 1);
    assert_int_equal(avf_control_default(buf, sizeof(buf)), AVF_CONTROL_PER_USER);
    assert_string_equal(buf, "ipc:///run/user/1000/avfuse/control");
    /* neither */
    unsetenv("RUNTIME_DIRECTORY");
    unsetenv("XDG_RUNTIME_DIR");
    snprintf(expected, sizeof(expected), "ipc:///tmp/avfuse-%u/control", (unsigned)geteuid());
    assert_int_equal(avf_control_default(buf, sizeof(buf)), AVF_CONTROL_PER_USER);
    assert_string_equal(buf, expected);
    assert_int_equal(avf_control_default(buf, 10), AVERROR(ENAMETOOLONG));
    assert_string_equal(buf, "");

    /* the configuration takes it when the key is left out, and only then */
    setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
    c = load("[daemon]\n", buf, sizeof(buf));
    assert_non_null(c);
    assert_string_equal(c->control, "ipc:///run/user/1000/avfuse/control");
    assert_true(c->control_per_user);
    avf_config_free(&c);
    c = load("[daemon]\ncontrol = ipc:///run/user/1000/avfuse/control\n", buf, sizeof(buf));
    assert_non_null(c);
    assert_false(c->control_per_user);
    avf_config_free(&c);
    unsetenv("XDG_RUNTIME_DIR");
}

static void test_control_check_dir(void **state)
{
    char top[] = "/tmp/avfuse-ctldir-XXXXXX", endpoint[200], dir[100], why[400], expected[400];
    struct stat st;

    (void)state;
    assert_non_null(mkdtemp(top));
    snprintf(dir, sizeof(dir), "%s/avfuse", top);
    snprintf(endpoint, sizeof(endpoint), "ipc://%s/control", dir);
    /* per-user, missing: -n only looks, a run makes it 0700 */
    assert_int_equal(avf_control_check_dir(endpoint, 1, 0, why, sizeof(why)), 0);
    assert_int_equal(stat(dir, &st), -1);
    assert_int_equal(avf_control_check_dir(endpoint, 1, 1, why, sizeof(why)), 0);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    /* one that others could put a socket into is refused */
    assert_int_equal(chmod(dir, 0777), 0);
    assert_int_equal(avf_control_check_dir(endpoint, 1, 1, why, sizeof(why)), AVERROR(EPERM));
    snprintf(expected, sizeof(expected),
             "control socket folder %s: is writable by group or others (mode 0777); refusing "
             "to put the socket there",
             dir);
    assert_string_equal(why, expected);
    /* a given path: its folder must be there, nobody makes it */
    assert_int_equal(rmdir(dir), 0);
    assert_int_equal(avf_control_check_dir(endpoint, 0, 1, why, sizeof(why)), AVERROR(ENOENT));
    snprintf(expected, sizeof(expected),
             "control socket folder %s: does not exist (avfused creates only the per-user "
             "default folder)",
             dir);
    assert_string_equal(why, expected);
    assert_int_equal(stat(dir, &st), -1);
    /* per-user below a folder that is not there either: cannot be created */
    snprintf(endpoint, sizeof(endpoint), "ipc://%s/gone/avfuse/control", top);
    assert_int_equal(avf_control_check_dir(endpoint, 1, 0, why, sizeof(why)), AVERROR(ENOENT));
    assert_non_null(strstr(why, "cannot be created in"));
    /* longer than sun_path; abstract names and other transports have no folder */
    memset(endpoint, 'x', sizeof(endpoint));
    memcpy(endpoint, "ipc:///", 7);
    endpoint[sizeof(endpoint) - 1] = 0;
    assert_int_equal(avf_control_check_dir(endpoint, 0, 0, why, sizeof(why)),
                     AVERROR(ENAMETOOLONG));
    assert_int_equal(avf_control_check_dir("ipc://@avfuse", 1, 1, why, sizeof(why)), 0);
    assert_int_equal(avf_control_check_dir("tcp://127.0.0.1:1", 0, 0, why, sizeof(why)), 0);
    rmdir(top);
}

static void test_url_stray_text(void **state)
{
    avf_source_conf sc;
    char why[400];

    (void)state;
    /* text after a network URL: refused without repeating the URL (a password) */
    avf_source_conf_init(&sc, "cam");
    assert_int_equal(avf_source_conf_set(&sc, "type", "stream", why, sizeof(why)), 0);
    assert_int_equal(
        avf_source_conf_set(&sc, "url", "rtsp://u:pw@cam/stream  extra", why, sizeof(why)), 0);
    assert_int_equal(avf_source_conf_check(&sc, why, sizeof(why)), AVF_ERR_CONFIG);
    assert_string_equal(why, "source cam: url has stray text after a space at byte 23 (a URL "
                             "holds no spaces: write one as %20)");
    avf_source_conf_clear(&sc);
    /* a control character, in a file path too; a space in a file name is fine */
    avf_source_conf_init(&sc, "f");
    assert_int_equal(avf_source_conf_set(&sc, "type", "file", why, sizeof(why)), 0);
    assert_int_equal(avf_source_conf_set(&sc, "url", "/srv/a\tb.mp4", why, sizeof(why)), 0);
    assert_int_equal(avf_source_conf_check(&sc, why, sizeof(why)), AVF_ERR_CONFIG);
    assert_string_equal(why, "source f: url holds a control character (0x09 at byte 7)");
    avf_source_conf_clear(&sc);
    avf_source_conf_init(&sc, "f");
    assert_int_equal(avf_source_conf_set(&sc, "type", "file", why, sizeof(why)), 0);
    assert_int_equal(avf_source_conf_set(&sc, "url", "/srv/my clip.mp4", why, sizeof(why)), 0);
    assert_int_equal(avf_source_conf_check(&sc, why, sizeof(why)), 0);
    avf_source_conf_clear(&sc);
}

static void test_url_stray_text_in_a_file(void **state)
{
    (void)state;
    expect_error("[daemon]\n[source cam]\ntype = stream\nurl = rtsp://cam/stream  extra\n", 2,
                 "source cam: url has stray text after a space at byte 18 (a URL holds no "
                 "spaces: write one as %20)");
    expect_error("[source cam]\ntype = stream\nurl = rtsp://cam/stream\x1b[2J\n", 1,
                 "source cam: url holds a control character (0x1B at byte 18)");
}

static void test_missing_file_and_long_line(void **state)
{
    char why[600], line[5000];
    avf_config *c = NULL;

    (void)state;
    assert_int_not_equal(avf_config_load(&c, "/nonexistent/avfuse.conf", why, sizeof(why)), 0);
    assert_string_equal(why, "/nonexistent/avfuse.conf: cannot open: No such file or directory");
    memset(line, 'x', sizeof(line));
    memcpy(line, "[daemon]\nmodel = ", 17);
    line[sizeof(line) - 1] = 0;
    assert_null(load(line, why, sizeof(why)));
    assert_non_null(strstr(why, ":2: line longer than 4094 bytes"));
}

static void test_set_and_check_one_key_at_a_time(void **state)
{
    avf_source_conf sc, copy;
    char why[400];

    (void)state;
    avf_source_conf_init(&sc, "mic1");
    assert_int_equal(avf_source_conf_set(&sc, "type", "microphone", why, sizeof(why)), 0);
    assert_int_equal(avf_source_conf_check(&sc, why, sizeof(why)), 0);
    assert_int_equal(avf_source_conf_set(&sc, "device", "hw:1", why, sizeof(why)), 0);
    assert_int_equal(avf_source_conf_set(&sc, "nonsense", "1", why, sizeof(why)), AVF_ERR_CONFIG);
    assert_string_equal(why, "unknown key 'nonsense' in a source");
    assert_int_equal(avf_source_conf_copy(&copy, &sc), 0);
    assert_true(avf_source_conf_equal(&sc, &copy));
    assert_int_equal(avf_source_conf_set(&copy, "rate", "48000", why, sizeof(why)), 0);
    assert_false(avf_source_conf_equal(&sc, &copy));
    avf_source_conf_clear(&copy);
    avf_source_conf_clear(&sc);
}

/* Writes text into the file name in dir; returns 0. */
static int write_secret(const char *dir, const char *name, const char *text)
{
    char file[256];
    FILE *f;

    snprintf(file, sizeof(file), "%s/%s", dir, name);
    f = fopen(file, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return 0;
}

static void test_password_file(void **state)
{
    char dir[] = "/tmp/avfuse-creds-XXXXXX", why[600], file[300], *url = NULL;
    avf_source_conf sc, copy;
    avf_config *c;

    (void)state;
    assert_non_null(mkdtemp(dir));
    write_secret(dir, "cam", "p@ss:w/rd %1\nsecond line\n");
    write_secret(dir, "empty", "\n");
    setenv("CREDENTIALS_DIRECTORY", dir, 1);

    /* the key, its copy and comparison */
    avf_source_conf_init(&sc, "cam");
    assert_int_equal(avf_source_conf_set(&sc, "type", "stream", why, sizeof(why)), 0);
    assert_int_equal(
        avf_source_conf_set(&sc, "url", "rtsp://admin@cam:554/s?x=1", why, sizeof(why)), 0);
    assert_int_equal(avf_source_conf_set(&sc, "password_file", "cam", why, sizeof(why)), 0);
    assert_int_equal(avf_source_conf_check(&sc, why, sizeof(why)), 0);
    assert_int_equal(avf_source_conf_copy(&copy, &sc), 0);
    assert_true(avf_source_conf_equal(&sc, &copy));
    free(copy.password_file);
    copy.password_file = strdup("other");
    assert_false(avf_source_conf_equal(&sc, &copy));
    avf_source_conf_clear(&copy);

    /* the first line, percent-encoded, becomes the user's password */
    assert_int_equal(avf_source_conf_url(&sc, &url, why, sizeof(why)), 0);
    assert_string_equal(url, "rtsp://admin:p%40ss%3Aw%2Frd%20%251@cam:554/s?x=1");
    avf_source_conf_url_free(&url);
    assert_null(url);

    /* a missing or empty file names the file, a name with '/' is a path */
    free(sc.password_file);
    sc.password_file = strdup("missing");
    assert_true(avf_source_conf_url(&sc, &url, why, sizeof(why)) < 0);
    assert_null(url);
    snprintf(file, sizeof(file), "password_file %s/missing: cannot read: No such file or directory",
             dir);
    assert_string_equal(why, file);
    free(sc.password_file);
    snprintf(file, sizeof(file), "%s/empty", dir);
    sc.password_file = strdup(file);
    assert_true(avf_source_conf_url(&sc, &url, why, sizeof(why)) < 0);
    snprintf(file, sizeof(file), "password_file %s/empty: the first line is empty", dir);
    assert_string_equal(why, file);
    avf_source_conf_clear(&sc);

    /* the url must name a user and no password; only a stream has password_file */
    expect_error("[source a]\ntype = stream\nurl = rtsp://cam/s\npassword_file = cam\n", 1,
                 "source a: password_file needs a user in the url (rtsp://USER@host/...), to "
                 "give the password to");
    expect_error("[source a]\ntype = stream\nurl = rtsp://admin:pw@cam/s\npassword_file = cam\n", 1,
                 "source a: the url has a password and password_file gives one: remove the "
                 "password from the url (the configuration file is readable by more than the "
                 "daemon)");
    /* an empty password is one too, and a user alone before an '@' in the path is none */
    expect_error("[source a]\ntype = stream\nurl = rtsp://admin:@cam/s\npassword_file = cam\n", 1,
                 "source a: the url has a password and password_file gives one: remove the "
                 "password from the url (the configuration file is readable by more than the "
                 "daemon)");
    expect_error("[source a]\ntype = stream\nurl = rtsp://cam/a:b@c\npassword_file = cam\n", 1,
                 "source a: password_file needs a user in the url (rtsp://USER@host/...), to "
                 "give the password to");
    expect_error("[source a]\ntype = file\nurl = /a.mp4\npassword_file = cam\n", 1,
                 "source a: password_file does not apply to a file source");

    /* avfused -n reads every password_file */
    c = load("[source a]\ntype = stream\nurl = rtsp://admin@cam/s\npassword_file = cam\n", why,
             sizeof(why));
    assert_non_null(c);
    assert_int_equal(avf_config_check_files(c, why, sizeof(why)), 0);
    avf_config_free(&c);
    c = load("[source a]\ntype = stream\nurl = rtsp://admin@cam/s\npassword_file = nope\n", why,
             sizeof(why));
    assert_non_null(c);
    assert_int_equal(avf_config_check_files(c, why, sizeof(why)), AVF_ERR_CONFIG);
    snprintf(file, sizeof(file),
             "%s:1: source a: password_file %s/nope: cannot read: No such file or directory", path,
             dir);
    assert_string_equal(why, file);
    avf_config_free(&c);

    unsetenv("CREDENTIALS_DIRECTORY");
    snprintf(file, sizeof(file), "%s/cam", dir);
    unlink(file);
    snprintf(file, sizeof(file), "%s/empty", dir);
    unlink(file);
    rmdir(dir);
}

/* Errors that echo a URL show it redacted. */
static void test_errors_hide_passwords(void **state)
{
    (void)state;
    expect_error("[source a]\ntype = file\nurl = rtsp://admin:hunter2@cam/s?token=t\n", 1,
                 "source a: 'rtsp://admin:***@cam/s?token=***' is not a local file (use type "
                 "= stream)");
}

static json_t *never_called_info(void *opaque)
{
    (void)opaque;
    fail_msg("daemon_info called");
    return NULL;
}

static int never_called_reload(void *opaque, json_t *report, char *why, size_t size)
{
    (void)opaque;
    (void)report;
    (void)why;
    (void)size;
    fail_msg("reload called");
    return 0;
}

static void expect_reply(const avf_control_ops *ops, const char *request, const char *reply)
{
    char *got = avf_control_handle(request, strlen(request), ops);

    assert_non_null(got);
    assert_string_equal(got, reply);
    free(got);
}

/* The interpreter's refusals, before any source is touched. */
static void test_control_refusals(void **state)
{
    avf_runner_env env = {0};
    avf_sources *set = avf_sources_new(&env);
    avf_control_ops ops = {set, NULL, never_called_info, never_called_reload};

    (void)state;
    assert_non_null(set);
    expect_reply(&ops, "{",
                 "{\"ok\":false,\"error\":\"not JSON: string or '}' expected near end of file\"}");
    expect_reply(&ops, "[1]",
                 "{\"ok\":false,\"error\":\"the request needs a \\\"cmd\\\" string\"}");
    expect_reply(&ops, "{\"cmd\":\"dance\"}",
                 "{\"ok\":false,\"error\":\"unknown command 'dance' (status, sources, add, "
                 "remove, reload)\"}");
    expect_reply(&ops, "{\"cmd\":\"add\"}",
                 "{\"ok\":false,\"error\":\"add needs a \\\"source\\\" object\"}");
    expect_reply(&ops, "{\"cmd\":\"add\",\"source\":{\"name\":\"a/b\"}}",
                 "{\"ok\":false,\"error\":\"source name 'a/b' must match [A-Za-z0-9_-]{1,64}\"}");
    expect_reply(&ops, "{\"cmd\":\"add\",\"source\":{\"name\":\"a\",\"type\":\"file\"}}",
                 "{\"ok\":false,\"error\":\"source a: url is missing\"}");
    expect_reply(&ops, "{\"cmd\":\"add\",\"source\":{\"name\":\"a\",\"type\":\"file\",\"url\":[]}}",
                 "{\"ok\":false,\"error\":\"url must be a string, number or boolean\"}");
    expect_reply(&ops, "{\"cmd\":\"add\",\"source\":{\"name\":\"a\",\"type\":\"file\",\"hop\":-1}}",
                 "{\"ok\":false,\"error\":\"hop must be a number from 0.01 to 3600, not '-1'\"}");
    /* a refusal that echoes a URL shows it without its password */
    expect_reply(&ops,
                 "{\"cmd\":\"add\",\"source\":{\"name\":\"a\",\"type\":\"file\",\"url\":"
                 "\"http://u:pw@h/x\"}}",
                 "{\"ok\":false,\"error\":\"source a: 'http://u:***@h/x' is not a local file (use "
                 "type = stream)\"}");
    /* a client names a credential, never a path the daemon would read for it */
    expect_reply(&ops,
                 "{\"cmd\":\"add\",\"source\":{\"name\":\"a\",\"type\":\"stream\","
                 "\"password_file\":\"/etc/shadow\",\"url\":\"http://u@h/\"}}",
                 "{\"ok\":false,\"error\":\"password_file through the control socket names a "
                 "credential of $CREDENTIALS_DIRECTORY (no '/'), not a path\"}");
    {
        /* whole: not cut to a buffer's size first, not echoed */
        char *url = long_string("/", 60000);
        char *req = malloc(60100);

        assert_non_null(req);
        snprintf(req, 60100,
                 "{\"cmd\":\"add\",\"source\":{\"name\":\"a\",\"type\":\"file\",\"url\":\"%s\"}}",
                 url);
        expect_reply(&ops, req,
                     "{\"ok\":false,\"error\":\"url is 60000 bytes long, over the 2048 bytes it "
                     "may be\"}");
        free(req);
        free(url);
    }
    expect_reply(&ops, "{\"cmd\":\"remove\",\"name\":\"ghost\"}",
                 "{\"ok\":false,\"error\":\"no source called 'ghost'\"}");
    expect_reply(&ops, "{\"cmd\":\"remove\"}",
                 "{\"ok\":false,\"error\":\"remove needs the source's \\\"name\\\"\"}");
    expect_reply(&ops, "{\"cmd\":\"sources\"}", "{\"ok\":true,\"sources\":[]}");
    assert_int_equal(avf_sources_count(set), 0);
    avf_sources_free(&set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults_and_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_name_the_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rtsp_transport, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_must_be_ipc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_default, setup, teardown),
        cmocka_unit_test(test_control_check_dir),
        cmocka_unit_test(test_url_stray_text),
        cmocka_unit_test_setup_teardown(test_url_stray_text_in_a_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file_and_long_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_sources, setup, teardown),
        cmocka_unit_test(test_set_and_check_one_key_at_a_time),
        cmocka_unit_test_setup_teardown(test_password_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_hide_passwords, setup, teardown),
        cmocka_unit_test(test_long_values),
        cmocka_unit_test_setup_teardown(test_long_value_in_file, setup, teardown),
        cmocka_unit_test(test_control_refusals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
