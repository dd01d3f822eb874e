/*
 * test_url.c - unit tests of base/url.c: where a URL's userinfo and its password
 * are, the one reading the configuration, the redaction and source names share.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "base/url.h"

/* The userinfo of the authority after the URL's "://", as a string ("-" for none). */
static const char *userinfo_of(const char *url, char *buf, size_t size)
{
    const char *auth = strstr(url, "://") + 3;
    size_t len = 12345;

    if (!avf_url_userinfo(auth, strlen(auth), &len)) {
        assert_int_equal(len, 12345); /* untouched */
        return "-";
    }
    assert_true(len < size);
    memcpy(buf, auth, len);
    buf[len] = '\0';
    return buf;
}

static void test_authority_len(void **state)
{
    (void)state;
    assert_int_equal(avf_url_authority_len("h:554/s", 7), 5);
    assert_int_equal(avf_url_authority_len("h?x=1", 5), 1);
    assert_int_equal(avf_url_authority_len("h#f", 3), 1);
    assert_int_equal(avf_url_authority_len("host", 4), 4);
    /* n bounds it, and so does the end of the string */
    assert_int_equal(avf_url_authority_len("host/x", 2), 2);
    assert_int_equal(avf_url_authority_len("ho\0st", 5), 2);
    assert_int_equal(avf_url_authority_len("/x", 2), 0);
}

static void test_userinfo(void **state)
{
    char buf[64];

    (void)state;
    assert_string_equal(userinfo_of("rtsp://admin:pw@cam:554/s", buf, sizeof(buf)), "admin:pw");
    assert_string_equal(userinfo_of("rtsp://admin@cam/s", buf, sizeof(buf)), "admin");
    assert_string_equal(userinfo_of("rtsp://@cam/s", buf, sizeof(buf)), "");
    assert_string_equal(userinfo_of("rtsp://cam:554/s", buf, sizeof(buf)), "-");
    /* the last '@' of the authority ends it, as FFmpeg reads it; %40 is no '@' */
    assert_string_equal(userinfo_of("rtsp://a:b@c@cam/s", buf, sizeof(buf)), "a:b@c");
    assert_string_equal(userinfo_of("rtsp://a:b%40c@cam/s", buf, sizeof(buf)), "a:b%40c");
    /* an '@' after the authority (path, query, fragment) is not one */
    assert_string_equal(userinfo_of("http://h/users/@me", buf, sizeof(buf)), "-");
    assert_string_equal(userinfo_of("http://h?u=a@b", buf, sizeof(buf)), "-");
    assert_string_equal(userinfo_of("http://h#a@b", buf, sizeof(buf)), "-");
    assert_string_equal(userinfo_of("http://u@h?v=a@b", buf, sizeof(buf)), "u");
}

/* Where the password of userinfo starts ("-" for none) as the rest of it. */
static const char *password_of(const char *userinfo)
{
    size_t at = 12345;

    if (!avf_url_password(userinfo, strlen(userinfo), &at)) {
        assert_int_equal(at, 12345);
        return "-";
    }
    assert_true(at <= strlen(userinfo));
    return userinfo + at;
}

static void test_password(void **state)
{
    (void)state;
    assert_string_equal(password_of("admin:pw"), "pw");
    assert_string_equal(password_of("admin:"), "");
    assert_string_equal(password_of("admin"), "-");
    assert_string_equal(password_of(""), "-");
    assert_string_equal(password_of(":pw"), "pw");
    /* the first ':' ends the user: a ':' in the password is part of it */
    assert_string_equal(password_of("admin:p:w"), "p:w");
    /* a ':' inside brackets is skipped when there is one outside, else taken */
    assert_string_equal(password_of("[a:b]:pw"), "pw");
    assert_string_equal(password_of("[a:b]"), "b]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_authority_len),
        cmocka_unit_test(test_userinfo),
        cmocka_unit_test(test_password),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
