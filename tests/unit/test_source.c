/*
 * test_source.c - capture devices through libavdevice, which pipeline/source.c
 * loads only when a source names an input format.
 *
 * Promised: a process that opens no such source never maps libavdevice (its
 * start-up memory, docs/performance.md); the first source that names a format
 * loads it and finds libavdevice's formats (V4L2 here, on a device path that does
 * not exist, so the open fails for that reason and not for the format); a format
 * no library has is a configuration error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <libavformat/avformat.h>

#include "pipeline/error.h"
#include "pipeline/source.h"

/* Non-zero when a library whose path contains name is mapped into this process. */
static int mapped(const char *name)
{
    char line[4096];
    int found = 0;
    FILE *f = fopen("/proc/self/maps", "r");

    assert_non_null(f);
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, name) != NULL;
    fclose(f);
    return found;
}

static int open_with_format(const char *url, const char *format)
{
    avf_source_options opt = {.kind = AVF_SOURCE_DEVICE, .format = format};
    avf_source *src = NULL;
    int ret = avf_source_open(&src, url, &opt);

    if (ret == 0)
        avf_source_free(&src);
    assert_null(src);
    return ret;
}

static void test_libavdevice_loaded_on_first_use(void **state)
{
    int ret;

    (void)state;
    assert_false(mapped("libavdevice"));
    assert_null(av_find_input_format("video4linux2"));

    ret = open_with_format("/nonexistent/video99", "video4linux2");
    assert_true(ret < 0);
    assert_int_not_equal(ret, AVF_ERR_CONFIG); /* the format was found; the device was not */
    assert_true(mapped("libavdevice"));
    assert_non_null(av_find_input_format("video4linux2"));

    assert_int_equal(open_with_format("/nonexistent/video99", "no-such-format"), AVF_ERR_CONFIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_libavdevice_loaded_on_first_use),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
