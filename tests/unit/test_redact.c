/*
 * test_redact.c - unit tests of base/redact.c: URLs shown without their secrets.
 *
 * Each case renders a text and compares the whole result, so a test fails as much
 * for a secret shown as for an innocent part of the text lost.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/redact.h"

static void expect(const char *text, const char *shown)
{
    char out[1024];

    assert_string_equal(avf_redact(out, sizeof(out), text), shown);
    /* the rendering of a rendering is itself: *** hides nothing more */
    assert_string_equal(avf_redact(out, sizeof(out), shown), shown);
}

static void test_userinfo_password(void **state)
{
    (void)state;
    expect("rtsp://admin:hunter2@cam.local:554/stream1", "rtsp://admin:***@cam.local:554/stream1");
    expect("rtsp://admin:hunter2@cam", "rtsp://admin:***@cam");
    expect("http://u:p@h/", "http://u:***@h/");
    /* a user alone, and an empty password, are left alone */
    expect("rtsp://admin@cam/stream", "rtsp://admin@cam/stream");
    expect("rtsp://admin:@cam/stream", "rtsp://admin:@cam/stream");
    /* an '@' in the path is not a userinfo */
    expect("http://host:8080/users/@me", "http://host:8080/users/@me");
}

static void test_encoded_characters(void **state)
{
    (void)state;
    expect("rtsp://admin:p%21ss@cam/", "rtsp://admin:***@cam/");
    /* an encoded '@' is part of the password: all of it is hidden */
    expect("rtsp://admin:a%40b%3Ac@cam/s", "rtsp://admin:***@cam/s");
    /* a raw '@' in a password: the last one before the host ends it, as in FFmpeg */
    expect("rtsp://admin:a@b@cam/s", "rtsp://admin:***@cam/s");
    /* a raw '/' in a password (a malformed URL): hidden up to its '@' */
    expect("rtsp://admin:pa/ss@cam/s", "rtsp://admin:***@cam/s");
}

static void test_secret_query_values(void **state)
{
    (void)state;
    expect("http://h/x?token=T0k&q=1", "http://h/x?token=***&q=1");
    expect("http://h/x?q=1&token=T0k", "http://h/x?q=1&token=***");
    expect("http://h/x?a=1&password=p&b=2&API_KEY=k&access_token=t&X-Amz-Signature=s&c=3",
           "http://h/x?a=1&password=***&b=2&API_KEY=***&access_token=***&X-Amz-Signature=***&c=3");
    expect("https://h/p?sessionToken=a;sig=b#access_token=c&state=d",
           "https://h/p?sessionToken=***;sig=***#access_token=***&state=d");
    /* an encoded name is read decoded */
    expect("http://h/?pass%77ord=x&q=1", "http://h/?pass%77ord=***&q=1");
    /* an empty value, and a name without value */
    expect("http://h/?token=&token&q=1", "http://h/?token=&token&q=1");
}

static void test_plain_params_untouched(void **state)
{
    (void)state;
    expect("http://h/x?q=1&width=320&format=ts&channel=2#t=10",
           "http://h/x?q=1&width=320&format=ts&channel=2#t=10");
    expect("srt://10.0.0.1:9000?mode=caller&latency=200",
           "srt://10.0.0.1:9000?mode=caller&latency=200");
    /* a '?' outside any URL is no query */
    expect("why? token=abc", "why? token=abc");
}

static void test_urls_in_a_line(void **state)
{
    (void)state;
    expect("source cam: 'rtsp://a:pw1@h1/s' is not a local file (use type = stream)",
           "source cam: 'rtsp://a:***@h1/s' is not a local file (use type = stream)");
    expect("a http://u:p1@x/?token=t1 then rtsp://v:p2@y/z, done.",
           "a http://u:***@x/?token=*** then rtsp://v:***@y/z, done.");
    expect("http://h/x?token=abc: Connection refused", "http://h/x?token=***: Connection refused");
    expect("{\"url\":\"http://u:p@h/?key=k\",\"q\":1}",
           "{\"url\":\"http://u:***@h/?key=***\",\"q\":1}");
    /* a URL inside a query value that is not secret */
    expect("http://h/?next=http://u:p@x/&token=t", "http://h/?next=http://u:***@x/&token=***");
    /* a URL where a parameter's name would be (found by fuzzing) */
    expect("http://h/?x://u:p@y/z_token=v", "http://h/?x://u:***@y/z_token=v");
}

/*
 * A quote inside a hidden secret is gone from the rendering, so it closes no URL
 * there: the first pass reads the URL as running past it, as the second one will
 * (found by fuzzing: the second pass hid more than the first).
 */
static void test_quote_inside_a_secret(void **state)
{
    (void)state;
    /* the ` that closed the first URL is in the second one's password: the first URL
     * runs to the end, so the query after the second one's quote is in it */
    expect("cam `p://ad)'http://:`x/u:p&0@h?/ktoken'n=eutM",
           "cam `p://ad)'http://:***@h?/ktoken'n=***");
    /* the same with a hidden query value */
    expect("`x://h/'http://h?token=a`b'?token=zz", "`x://h/'http://h?token=***");
    /* a password that runs past its own quote: the URL ends at the next one */
    expect("'rtsp://u:p'w@h/'?token=abc", "'rtsp://u:***@h/'?token=abc");
    expect("'rtsp://u:p'w@h/?token=abc", "'rtsp://u:***@h/?token=***");
}

/*
 * A URL inside a query: its authority ends at the query's next parameter too, since
 * that parameter's value may be hidden with the '/' or '?' that ended the authority
 * (found by fuzzing: the second pass took what followed for a password).
 */
static void test_url_inside_a_query(void **state)
{
    (void)state;
    expect("http://h/?a=x://&token=t?q&b=c:d", "http://h/?a=x://&token=***&b=c:d");
    expect("http://h/?next=rtsp://cam:554&token=t", "http://h/?next=rtsp://cam:554&token=***");
    /* a raw '&' in its password is still hidden up to its '@' */
    expect("http://h/?next=rtsp://u:p&w@cam/&token=t",
           "http://h/?next=rtsp://u:***@cam/&token=***");
}

static void test_ffmpeg_file_prefix(void **state)
{
    (void)state;
    expect("Did you mean file:rtsp://admin:p%21ss@10.0.0.5/live?",
           "Did you mean file:rtsp://admin:***@10.0.0.5/live?");
}

static void test_ipv6(void **state)
{
    (void)state;
    expect("rtsp://[::1]:8554/cam", "rtsp://[::1]:8554/cam");
    expect("rtsp://[::1]/cam", "rtsp://[::1]/cam");
    expect("rtsp://admin:pw@[::1]:8554/cam?token=t", "rtsp://admin:***@[::1]:8554/cam?token=***");
    expect("http://[fe80::1%25eth0]:80/", "http://[fe80::1%25eth0]:80/");
}

static void test_no_url(void **state)
{
    char out[8];

    (void)state;
    expect("", "");
    expect("plain text: user:pass@host is no URL", "plain text: user:pass@host is no URL");
    expect("a:// b", "a:// b");
    expect("http://host:554", "http://host:554");
    expect("publishing on tcp://127.0.0.1:5560, 4 sources",
           "publishing on tcp://127.0.0.1:5560, 4 sources");
    expect("(udp://239.0.0.1:1234?pkt_size=1316)", "(udp://239.0.0.1:1234?pkt_size=1316)");
    assert_string_equal(avf_redact(out, sizeof(out), NULL), "");
}

/* A text cut before it reached us (a full log buffer) still hides its password. */
static void test_text_cut_in_a_password(void **state)
{
    (void)state;
    expect("rtsp://admin:hunt", "rtsp://admin:***");
    expect("open rtsp://admin:p%4", "open rtsp://admin:***");
    expect("rtsp://admin:hunt: refused", "rtsp://admin:***: refused");
    expect("http://h/x?token=T0k", "http://h/x?token=***");
}

static void test_truncation_never_leaves_a_secret(void **state)
{
    const char *text = "rtsp://admin:SECRETPW@cam/x?token=TOKENVAL&q=1 and more";
    char full[256], out[256];
    size_t len;

    (void)state;
    avf_redact(full, sizeof(full), text);
    assert_string_equal(full, "rtsp://admin:***@cam/x?token=***&q=1 and more");
    len = strlen(full);
    for (size_t size = 1; size <= len; size++) {
        memset(out, 'Z', sizeof(out));
        avf_redact(out, size, text);
        assert_true(strlen(out) < size);
        assert_null(strstr(out, "SEC"));
        assert_null(strstr(out, "TOK"));
        assert_null(strchr(out, 'Z'));
        if (size >= 4) {
            /* the part shown is the start of the full rendering, then "..." */
            assert_string_equal(out + strlen(out) - 3, "...");
            assert_memory_equal(out, full, strlen(out) - 3);
        }
    }
    avf_redact(out, len + 1, text);
    assert_string_equal(out, full);
    /* never inside a UTF-8 character */
    avf_redact(out, 8, "ab\xc3\xa9\xc3\xa9\xc3\xa9");
    assert_string_equal(out, "ab\xc3\xa9...");
    avf_redact(out, 0, text); /* writes nothing */
}

static void test_json(void **state)
{
    json_t *v = json_pack("{s:s, s:[s, s], s:i, s:{s:s}}", "url", "rtsp://a:pw@h/", "list", "x",
                          "http://h/?token=t", "n", 3, "o", "error", "none here");
    char *text;

    (void)state;
    assert_non_null(v);
    assert_int_equal(avf_redact_json(v), 2);
    text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"list\":[\"x\",\"http://h/?token=***\"],\"n\":3,\"o\":{\"error\":"
                              "\"none here\"},\"url\":\"rtsp://a:***@h/\"}");
    assert_int_equal(avf_redact_json(v), 0);
    free(text);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_userinfo_password),
        cmocka_unit_test(test_encoded_characters),
        cmocka_unit_test(test_secret_query_values),
        cmocka_unit_test(test_plain_params_untouched),
        cmocka_unit_test(test_urls_in_a_line),
        cmocka_unit_test(test_quote_inside_a_secret),
        cmocka_unit_test(test_url_inside_a_query),
        cmocka_unit_test(test_ffmpeg_file_prefix),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_no_url),
        cmocka_unit_test(test_text_cut_in_a_password),
        cmocka_unit_test(test_truncation_never_leaves_a_secret),
        cmocka_unit_test(test_json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
