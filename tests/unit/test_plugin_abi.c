/*
 * test_plugin_abi.c - freezes the layout of plugin ABI 1 (plugins/avfuse_plugin.h).
 *
 * A plugin built last year must keep working with this year's avfuse, so the ABI
 * structs may only grow at the end. These tests pin every field of ABI 1 to its
 * offset, size and type, every struct to its size, every enum constant to its
 * value and the enumeration symbol to its name, as concrete numbers: a change that
 * moves a field fails here instead of in a user's plugin. The numbers are those of
 * LP64 (x86-64, aarch64, ppc64le, riscv64...); elsewhere the tests skip, saying so.
 * That the header compiles alone as C and C++ is checked by tests/abi/ at build time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "plugins/avfuse_plugin.h"

/* The method types of ABI 1, spelled out so that a changed signature is noticed. */
typedef void (*log_fn)(void *host, int level, const char *msg);
typedef int64_t (*now_us_fn)(void *host);
typedef int (*create_fn)(const avf_plugin_services *services, const avf_plugin_config *config,
                         void **instance);
typedef int (*process_video_fn)(void *instance, const avf_plugin_video_frame *frame, float *out);
typedef int (*process_audio_fn)(void *instance, const avf_plugin_audio_window *window, float *out);
typedef void (*destroy_fn)(void *instance);
typedef const avf_plugin_descriptor *(*enum_fn)(uint32_t index);

static int is_lp64(void)
{
    return sizeof(void *) == 8 && sizeof(long) == 8 && _Alignof(int64_t) == 8 &&
           _Alignof(double) == 8;
}

#define REQUIRE_LP64()                                                                             \
    do {                                                                                           \
        if (!is_lp64()) {                                                                          \
            print_message("skipped: the ABI-1 numbers asserted here are those of LP64 "            \
                          "(8-byte pointers, long and int64_t alignment); this target is not\n");  \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/*
 * One field: its offset, its size and its type (after lvalue conversion, so an
 * array field is given as the pointer it decays to). A macro, so that a failure
 * names the field and the line.
 */
#define ASSERT_FIELD(T, field, type, offset, size)                                                 \
    do {                                                                                           \
        size_t off_ = offsetof(T, field), size_ = sizeof(((T *)0)->field);                         \
        int type_ok_ = _Generic(((T *)0)->field, type : 1, default : 0);                           \
        if (off_ != (size_t)(offset) || size_ != (size_t)(size) || !type_ok_)                      \
            fail_msg("%s.%s: offset %zu, size %zu, type %s; ABI 1 says offset %zu, size %zu, "     \
                     "type %s",                                                                    \
                     #T, #field, off_, size_, type_ok_ ? "as declared" : "changed",                \
                     (size_t)(offset), (size_t)(size), #type);                                     \
    } while (0)

static void test_services_layout(void **state)
{
    (void)state;
    REQUIRE_LP64();
    ASSERT_FIELD(avf_plugin_services, abi_version, uint32_t, 0, 4);
    ASSERT_FIELD(avf_plugin_services, struct_size, uint32_t, 4, 4);
    ASSERT_FIELD(avf_plugin_services, host, void *, 8, 8);
    ASSERT_FIELD(avf_plugin_services, log, log_fn, 16, 8);
    ASSERT_FIELD(avf_plugin_services, now_us, now_us_fn, 24, 8);
    assert_int_equal(sizeof(avf_plugin_services), 32);
    assert_int_equal(_Alignof(avf_plugin_services), 8);
}

static void test_config_layout(void **state)
{
    (void)state;
    REQUIRE_LP64();
    ASSERT_FIELD(avf_plugin_config, struct_size, uint32_t, 0, 4);
    ASSERT_FIELD(avf_plugin_config, sample_rate, int32_t, 4, 4);
    ASSERT_FIELD(avf_plugin_config, window, int32_t, 8, 4);
    ASSERT_FIELD(avf_plugin_config, hop, int32_t, 12, 4);
    ASSERT_FIELD(avf_plugin_config, frame_rate, double, 16, 8);
    ASSERT_FIELD(avf_plugin_config, source, const char *, 24, 8);
    assert_int_equal(sizeof(avf_plugin_config), 32);
    assert_int_equal(_Alignof(avf_plugin_config), 8);
}

static void test_video_frame_layout(void **state)
{
    (void)state;
    REQUIRE_LP64();
    ASSERT_FIELD(avf_plugin_video_frame, struct_size, uint32_t, 0, 4);
    ASSERT_FIELD(avf_plugin_video_frame, width, int32_t, 4, 4);
    ASSERT_FIELD(avf_plugin_video_frame, height, int32_t, 8, 4);
    /* 12..15 is padding: t_us is 8-aligned */
    ASSERT_FIELD(avf_plugin_video_frame, t_us, int64_t, 16, 8);
    ASSERT_FIELD(avf_plugin_video_frame, data, const uint8_t **, 24, 24);
    ASSERT_FIELD(avf_plugin_video_frame, data[0], const uint8_t *, 24, 8);
    ASSERT_FIELD(avf_plugin_video_frame, data[2], const uint8_t *, 40, 8);
    ASSERT_FIELD(avf_plugin_video_frame, linesize, int32_t *, 48, 12);
    ASSERT_FIELD(avf_plugin_video_frame, linesize[0], int32_t, 48, 4);
    ASSERT_FIELD(avf_plugin_video_frame, linesize[2], int32_t, 56, 4);
    /* 60..63 is tail padding */
    assert_int_equal(sizeof(avf_plugin_video_frame), 64);
    assert_int_equal(_Alignof(avf_plugin_video_frame), 8);
}

static void test_audio_window_layout(void **state)
{
    (void)state;
    REQUIRE_LP64();
    ASSERT_FIELD(avf_plugin_audio_window, struct_size, uint32_t, 0, 4);
    ASSERT_FIELD(avf_plugin_audio_window, nb_samples, int32_t, 4, 4);
    ASSERT_FIELD(avf_plugin_audio_window, pos, int64_t, 8, 8);
    ASSERT_FIELD(avf_plugin_audio_window, samples, const float *, 16, 8);
    assert_int_equal(sizeof(avf_plugin_audio_window), 24);
    assert_int_equal(_Alignof(avf_plugin_audio_window), 8);
}

static void test_feature_layout(void **state)
{
    (void)state;
    REQUIRE_LP64();
    ASSERT_FIELD(avf_plugin_feature, name, const char *, 0, 8);
    ASSERT_FIELD(avf_plugin_feature, pool, int32_t, 8, 4);
    /* 12..15 is tail padding; features[] is an array, so the stride is ABI too */
    assert_int_equal(sizeof(avf_plugin_feature), 16);
    assert_int_equal(_Alignof(avf_plugin_feature), 8);
}

static void test_descriptor_layout(void **state)
{
    (void)state;
    REQUIRE_LP64();
    ASSERT_FIELD(avf_plugin_descriptor, abi_version, uint32_t, 0, 4);
    ASSERT_FIELD(avf_plugin_descriptor, struct_size, uint32_t, 4, 4);
    ASSERT_FIELD(avf_plugin_descriptor, name, const char *, 8, 8);
    ASSERT_FIELD(avf_plugin_descriptor, description, const char *, 16, 8);
    ASSERT_FIELD(avf_plugin_descriptor, modality, int32_t, 24, 4);
    ASSERT_FIELD(avf_plugin_descriptor, nb_features, uint32_t, 28, 4);
    ASSERT_FIELD(avf_plugin_descriptor, features, const avf_plugin_feature *, 32, 8);
    ASSERT_FIELD(avf_plugin_descriptor, create, create_fn, 40, 8);
    ASSERT_FIELD(avf_plugin_descriptor, process_video, process_video_fn, 48, 8);
    ASSERT_FIELD(avf_plugin_descriptor, process_audio, process_audio_fn, 56, 8);
    ASSERT_FIELD(avf_plugin_descriptor, destroy, destroy_fn, 64, 8);
    /* the ABI-1 size the loader requires struct_size to reach */
    assert_int_equal(sizeof(avf_plugin_descriptor), 72);
    assert_int_equal(_Alignof(avf_plugin_descriptor), 8);
}

static void test_abi_version(void **state)
{
    (void)state;
    assert_int_equal(AVFUSE_PLUGIN_ABI_VERSION, 1);
    /* unsigned, so that comparing it with the uint32_t fields never warns */
    assert_true(_Generic(AVFUSE_PLUGIN_ABI_VERSION, unsigned int : 1, default : 0));
}

static void test_enum_values(void **state)
{
    (void)state;
    assert_int_equal(AVF_PLUGIN_VIDEO, 1);
    assert_int_equal(AVF_PLUGIN_AUDIO, 2);

    assert_int_equal(AVF_POOL_MEAN, 0);
    assert_int_equal(AVF_POOL_STD, 1);
    assert_int_equal(AVF_POOL_MIN, 2);
    assert_int_equal(AVF_POOL_MAX, 3);
    assert_int_equal(AVF_POOL_SUM, 4);
    assert_int_equal(AVF_POOL_MEAN_DB, 5);
    assert_int_equal(AVF_POOL_P20, 6);
    assert_int_equal(AVF_POOL_P50, 7);
    assert_int_equal(AVF_POOL_P80, 8);
    assert_int_equal(AVF_POOL_RANGE_20_80, 9);

    assert_int_equal(AVF_PLUGIN_LOG_ERROR, 0);
    assert_int_equal(AVF_PLUGIN_LOG_WARN, 1);
    assert_int_equal(AVF_PLUGIN_LOG_INFO, 2);
    assert_int_equal(AVF_PLUGIN_LOG_DEBUG, 3);
}

/* A definition of the enumeration function with the type the host calls it as. */
static const avf_plugin_descriptor *enum_none(uint32_t index)
{
    (void)index;
    return NULL;
}

static void test_enum_symbol(void **state)
{
    avf_plugin_enum_fn fn = enum_none;

    (void)state;
    assert_string_equal(AVFUSE_PLUGIN_ENUM_NAME, "avfuse_plugin_enum");
    /* the typedef is the type of the exported function, nothing wider */
    assert_true(_Generic(fn, enum_fn : 1, default : 0));
    assert_null(fn(0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_services_layout),    cmocka_unit_test(test_config_layout),
        cmocka_unit_test(test_video_frame_layout), cmocka_unit_test(test_audio_window_layout),
        cmocka_unit_test(test_feature_layout),     cmocka_unit_test(test_descriptor_layout),
        cmocka_unit_test(test_abi_version),        cmocka_unit_test(test_enum_values),
        cmocka_unit_test(test_enum_symbol),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
