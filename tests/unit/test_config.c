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
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/control.h"
#include "pipeline/error.h"

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
        cmocka_unit_test_setup_teardown(test_control_must_be_ipc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file_and_long_line, setup, teardown),
        cmocka_unit_test(test_set_and_check_one_key_at_a_time),
        cmocka_unit_test(test_control_refusals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
