/*
 * test_loader.c - unit tests of the plugin registry (plugins/loader.c).
 *
 * The loader is the border between avfuse and code it did not build, so the tests
 * pin down what it lets through: every kind of bad descriptor is refused with a
 * reason that names the problem, names are unique, a folder with good and bad
 * plugins yields exactly the good descriptors with one logged line per bad file,
 * and folders or files that others could have written are refused. The shared
 * objects are the real ones built by tests/plugins.cmake, found through the
 * environment (AVFUSE_EXAMPLE_PLUGIN, AVFUSE_BAD_ABI_PLUGIN, AVFUSE_NO_SYMBOL_PLUGIN,
 * AVFUSE_BAD_NAME_PLUGIN) and copied into a fresh mkdtemp folder per test, whose
 * modes the test sets itself. The loader's log lines are read back by pointing
 * stderr at a temporary file around the call under test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "plugins/loader.h"

/* Longer than any test takes under valgrind; a FIFO opened for reading would block. */
#define WATCHDOG_S 30
/* Enough for every log line one load_dir() call writes here. */
#define CAPTURE_MAX 16384
/* An owner that is neither root nor, when the tests run as root, the effective user. */
#define OTHER_UID 65534

#define EXAMPLE_ENV   "AVFUSE_EXAMPLE_PLUGIN"
#define BAD_ABI_ENV   "AVFUSE_BAD_ABI_PLUGIN"
#define NO_SYMBOL_ENV "AVFUSE_NO_SYMBOL_PLUGIN"
#define BAD_NAME_ENV  "AVFUSE_BAD_NAME_PLUGIN"

typedef struct fixture {
    char dir[PATH_MAX / 2]; /* a fresh mkdtemp folder, removed by teardown */
    avf_plugin_registry *r;
} fixture;

/* ------------------------------------------------------------------------- */
/* Descriptors made here, for the checks that need no shared object           */

static int stub_create(const avf_plugin_services *services, const avf_plugin_config *config,
                       void **instance)
{
    (void)services;
    (void)config;
    *instance = NULL;
    return 0;
}

static int stub_video(void *instance, const avf_plugin_video_frame *frame, float *out)
{
    (void)instance;
    (void)frame;
    out[0] = 0.0f;
    return 0;
}

static int stub_audio(void *instance, const avf_plugin_audio_window *window, float *out)
{
    (void)instance;
    (void)window;
    out[0] = 0.0f;
    return 0;
}

static void stub_destroy(void *instance)
{
    (void)instance;
}

static const avf_plugin_feature video_features[] = {
    {"t_luma", AVF_POOL_MEAN},
    {"t_cuts", AVF_POOL_SUM},
};

static const avf_plugin_feature audio_features[] = {
    {"t_level", AVF_POOL_MEAN_DB},
};

static avf_plugin_descriptor good_video(void)
{
    return (avf_plugin_descriptor){
        .abi_version = AVFUSE_PLUGIN_ABI_VERSION,
        .struct_size = sizeof(avf_plugin_descriptor),
        .name = "t_video",
        .description = "test video descriptor",
        .modality = AVF_PLUGIN_VIDEO,
        .nb_features = 2,
        .features = video_features,
        .create = stub_create,
        .process_video = stub_video,
        .destroy = stub_destroy,
    };
}

static avf_plugin_descriptor good_audio(void)
{
    return (avf_plugin_descriptor){
        .abi_version = AVFUSE_PLUGIN_ABI_VERSION,
        .struct_size = sizeof(avf_plugin_descriptor),
        .name = "t_audio",
        .description = "test audio descriptor",
        .modality = AVF_PLUGIN_AUDIO,
        .nb_features = 1,
        .features = audio_features,
        .create = stub_create,
        .process_audio = stub_audio,
        .destroy = stub_destroy,
    };
}

/*
 * Expects avf_plugin_descriptor_check(d) to fail with err and a reason containing
 * needle. A macro, so that a failure points at the case.
 */
#define EXPECT_REFUSED(d, err, needle)                                                             \
    do {                                                                                           \
        char why_[256] = "";                                                                       \
        int ret_ = avf_plugin_descriptor_check((d), why_, sizeof(why_));                           \
        if (ret_ != (err) || !strstr(why_, (needle)) || strchr(why_, '\n'))                        \
            fail_msg("check returned %d \"%s\"; expected %d and a one-line reason with \"%s\"",    \
                     ret_, why_, (err), (needle));                                                 \
    } while (0)

/* ------------------------------------------------------------------------- */
/* Files, folders and stderr                                                  */

/* stderr, pointed at a temporary file between capture_begin() and capture_end(). */
static FILE *capture_file;
static volatile sig_atomic_t capture_saved_fd = -1; /* read by watchdog_fired() */
static char captured[CAPTURE_MAX];

static void watchdog_fired(int sig)
{
    static const char msg[] = "test_loader: a test ran past the watchdog, loader stuck?\n";
    /* the real stderr, even while a capture has it pointed elsewhere */
    int fd = capture_saved_fd >= 0 ? capture_saved_fd : STDERR_FILENO;

    (void)sig;
    (void)!write(fd, msg, sizeof(msg) - 1);
    _exit(1);
}

static void capture_begin(void)
{
    fflush(stderr);
    capture_file = tmpfile();
    assert_non_null(capture_file);
    capture_saved_fd = dup(STDERR_FILENO);
    assert_true(capture_saved_fd >= 0);
    assert_true(dup2(fileno(capture_file), STDERR_FILENO) >= 0);
}

/* Restores stderr, echoes what was captured (it is the test's evidence) and returns it. */
static const char *capture_end(void)
{
    size_t n;

    fflush(stderr);
    dup2(capture_saved_fd, STDERR_FILENO);
    close(capture_saved_fd);
    capture_saved_fd = -1;
    rewind(capture_file);
    n = fread(captured, 1, sizeof(captured) - 1, capture_file);
    captured[n] = '\0';
    fclose(capture_file);
    capture_file = NULL;
    fputs(captured, stderr);
    return captured;
}

static int setup(void **state)
{
    struct sigaction sa = {.sa_handler = watchdog_fired};
    const char *tmp = getenv("TMPDIR");
    fixture *fx = calloc(1, sizeof(*fx));

    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof(fx->dir), "%s/avfuse_loader_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(fx->dir)) {
        free(fx);
        return -1;
    }
    fx->r = avf_plugin_registry_new();
    if (!fx->r) {
        rmdir(fx->dir);
        free(fx);
        return -1;
    }
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    alarm(WATCHDOG_S);
    *state = fx;
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *fx = *state;

    alarm(0);
    avf_plugin_registry_free(&fx->r);
    chmod(fx->dir, 0700);
    nftw(fx->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

/* The path of a built test plugin, from the environment tests/plugins.cmake sets. */
static const char *plugin_path(const char *var)
{
    const char *path = getenv(var);

    if (!path || !*path || access(path, R_OK) != 0)
        fail_msg("%s is not set to a readable file (got %s); ctest sets it, by hand run e.g. "
                 "%s=build/plugins/example/libavfuse_example.so build/tests/test_loader",
                 var, path ? path : "nothing", var);
    return path;
}

/* Writes dir/name into buf. */
static const char *join(char *buf, size_t size, const char *dir, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
    return buf;
}

/* Copies src to dir/name with exactly the given mode. */
static void copy_file(const char *src, const char *dir, const char *name, mode_t mode)
{
    char dst[PATH_MAX], buf[65536];
    int in, out;
    ssize_t n;

    join(dst, sizeof(dst), dir, name);
    in = open(src, O_RDONLY | O_CLOEXEC);
    assert_true(in >= 0);
    out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(out >= 0);
    while ((n = read(in, buf, sizeof(buf))) > 0)
        assert_int_equal(write(out, buf, (size_t)n), n);
    assert_int_equal(n, 0);
    assert_int_equal(fchmod(out, mode), 0);
    close(out);
    close(in);
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    FILE *f = fopen(join(path, sizeof(path), dir, name), "w");

    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* The number of lines of text that contain both a and b. */
static int count_lines(const char *text, const char *a, const char *b)
{
    int count = 0;

    while (*text) {
        const char *end = strchr(text, '\n');
        size_t len = end ? (size_t)(end - text) : strlen(text);
        char line[2048];

        snprintf(line, sizeof(line), "%.*s", (int)len, text);
        if (strstr(line, a) && strstr(line, b))
            count++;
        text += len + (end ? 1 : 0);
    }
    return count;
}

static int count_all_lines(const char *text)
{
    return count_lines(text, "", "");
}

/* load_dir() with stderr captured; returns its result. */
static int load_dir_captured(avf_plugin_registry *r, const char *dir, const char **log)
{
    int ret;

    capture_begin();
    ret = avf_plugin_registry_load_dir(r, dir);
    *log = capture_end();
    return ret;
}

/* ------------------------------------------------------------------------- */
/* avf_plugin_descriptor_check()                                              */

static void test_check_good(void **state)
{
    avf_plugin_descriptor v = good_video(), a = good_audio();
    char why[128] = "stale";

    (void)state;
    assert_int_equal(avf_plugin_descriptor_check(&v, why, sizeof(why)), 0);
    assert_string_equal(why, "");
    assert_int_equal(avf_plugin_descriptor_check(&a, why, sizeof(why)), 0);
    assert_int_equal(avf_plugin_descriptor_check(&a, NULL, 0), 0);

    /* a newer plugin of the same ABI has appended fields: larger is fine */
    v.struct_size = sizeof(avf_plugin_descriptor) + 16;
    assert_int_equal(avf_plugin_descriptor_check(&v, why, sizeof(why)), 0);
    /* the unused method of the other modality may be set; description may be NULL */
    v = good_video();
    v.process_audio = stub_audio;
    v.description = NULL;
    assert_int_equal(avf_plugin_descriptor_check(&v, why, sizeof(why)), 0);
}

static void test_check_abi(void **state)
{
    avf_plugin_descriptor d = good_video();

    (void)state;
    EXPECT_REFUSED(NULL, -EINVAL, "NULL");

    d.abi_version = 2;
    EXPECT_REFUSED(&d, -ENOTSUP, "built for plugin ABI 2, this avfuse speaks ABI 1");
    d.abi_version = 0;
    EXPECT_REFUSED(&d, -ENOTSUP, "ABI 0");

    /*
     * Another ABI may lay the descriptor out differently: nothing past abi_version
     * may be read. These pointers would crash the check if it did.
     */
    d.abi_version = 2;
    d.name = (const char *)(uintptr_t)8;
    d.features = (const avf_plugin_feature *)(uintptr_t)8;
    d.nb_features = 3;
    EXPECT_REFUSED(&d, -ENOTSUP, "ABI");

    d = good_video();
    d.struct_size = offsetof(avf_plugin_descriptor, destroy);
    d.name = (const char *)(uintptr_t)8;
    EXPECT_REFUSED(&d, -EINVAL, "struct_size");
    d.struct_size = 0;
    EXPECT_REFUSED(&d, -EINVAL, "struct_size");
}

static void test_check_names(void **state)
{
    char long_name[AVF_PLUGIN_MAX_NAME + 2];
    avf_plugin_feature feats[2] = {{"ok", AVF_POOL_MEAN}, {"ok2", AVF_POOL_MEAN}};
    avf_plugin_descriptor d = good_video();

    (void)state;
    d.name = NULL;
    EXPECT_REFUSED(&d, -EINVAL, "name NULL");
    d.name = "";
    EXPECT_REFUSED(&d, -EINVAL, "name \"\"");
    d.name = "Video";
    EXPECT_REFUSED(&d, -EINVAL, "\"Video\"");
    d.name = "my-video";
    EXPECT_REFUSED(&d, -EINVAL, "\"my-video\"");
    d.name = "two\nlines";
    EXPECT_REFUSED(&d, -EINVAL, "\"two?lines\""); /* a control byte never reaches the log */

    memset(long_name, 'a', AVF_PLUGIN_MAX_NAME);
    long_name[AVF_PLUGIN_MAX_NAME] = '\0';
    d.name = long_name;
    assert_int_equal(avf_plugin_descriptor_check(&d, NULL, 0), 0);
    long_name[AVF_PLUGIN_MAX_NAME] = 'a';
    long_name[AVF_PLUGIN_MAX_NAME + 1] = '\0';
    EXPECT_REFUSED(&d, -EINVAL, "not [a-z0-9_]{1,48}");

    d = good_video();
    d.features = feats;
    feats[1].name = "Bad Name";
    EXPECT_REFUSED(&d, -EINVAL, "feature 1 name \"Bad Name\"");
    feats[1].name = NULL;
    EXPECT_REFUSED(&d, -EINVAL, "feature 1 name NULL");
    feats[1].name = "";
    EXPECT_REFUSED(&d, -EINVAL, "feature 1 name \"\"");
    feats[1].name = long_name;
    EXPECT_REFUSED(&d, -EINVAL, "feature 1 name");
    feats[1].name = "ok";
    EXPECT_REFUSED(&d, -EINVAL, "feature name ok appears twice");
    feats[1].name = "ok2";
    assert_int_equal(avf_plugin_descriptor_check(&d, NULL, 0), 0);
}

static void test_check_fields(void **state)
{
    avf_plugin_feature feats[2] = {{"ok", AVF_POOL_MEAN}, {"ok2", AVF_POOL_MEAN}};
    avf_plugin_descriptor d = good_video();

    (void)state;
    d.modality = 0;
    EXPECT_REFUSED(&d, -EINVAL, "modality 0");
    d.modality = 3;
    EXPECT_REFUSED(&d, -EINVAL, "modality 3");

    d = good_video();
    d.nb_features = 0;
    EXPECT_REFUSED(&d, -EINVAL, "nb_features 0");
    d.nb_features = AVF_PLUGIN_MAX_FEATURES + 1;
    EXPECT_REFUSED(&d, -EINVAL, "nb_features 257");
    d = good_video();
    d.features = NULL;
    EXPECT_REFUSED(&d, -EINVAL, "features is NULL");

    d = good_video();
    d.features = feats;
    feats[1].pool = -1;
    EXPECT_REFUSED(&d, -EINVAL, "pool -1");
    feats[1].pool = AVF_POOL_RANGE_20_80 + 1;
    EXPECT_REFUSED(&d, -EINVAL, "pool 10");
    feats[1].pool = AVF_POOL_RANGE_20_80;
    assert_int_equal(avf_plugin_descriptor_check(&d, NULL, 0), 0);

    d = good_video();
    d.create = NULL;
    EXPECT_REFUSED(&d, -EINVAL, "create is NULL");
    d = good_video();
    d.destroy = NULL;
    EXPECT_REFUSED(&d, -EINVAL, "destroy is NULL");
    d = good_video();
    d.process_video = NULL;
    d.process_audio = stub_audio;
    EXPECT_REFUSED(&d, -EINVAL, "process_video NULL");
    d = good_audio();
    d.process_audio = NULL;
    d.process_video = stub_video;
    EXPECT_REFUSED(&d, -EINVAL, "process_audio NULL");
}

static void test_check_why_buffer(void **state)
{
    avf_plugin_descriptor d = good_video();
    char why[8];

    (void)state;
    d.create = NULL;
    /* a reason is cut to fit, and may be left out altogether */
    memset(why, 'x', sizeof(why));
    assert_int_equal(avf_plugin_descriptor_check(&d, why, sizeof(why)), -EINVAL);
    assert_int_equal(strlen(why), sizeof(why) - 1);
    assert_int_equal(avf_plugin_descriptor_check(&d, NULL, 0), -EINVAL);
    assert_int_equal(avf_plugin_descriptor_check(&d, why, 0), -EINVAL);
}

/* ------------------------------------------------------------------------- */
/* The registry                                                               */

static void test_registry_add(void **state)
{
    fixture *fx = *state;
    avf_plugin_descriptor v = good_video(), a = good_audio(), bad = good_video();
    char origin[32] = "built-in", why[256];

    assert_int_equal(avf_plugin_registry_count(fx->r), 0);
    assert_null(avf_plugin_registry_get(fx->r, 0));
    assert_int_equal(avf_plugin_registry_add(fx->r, &v, origin, why, sizeof(why)), 0);
    assert_string_equal(why, "");
    assert_int_equal(avf_plugin_registry_add(fx->r, &a, "elsewhere", why, sizeof(why)), 0);
    /* the origin is copied */
    strcpy(origin, "overwritten");

    assert_int_equal(avf_plugin_registry_count(fx->r), 2);
    assert_ptr_equal(avf_plugin_registry_get(fx->r, 0), &v);
    assert_ptr_equal(avf_plugin_registry_get(fx->r, 1), &a);
    assert_string_equal(avf_plugin_registry_origin(fx->r, 0), "built-in");
    assert_string_equal(avf_plugin_registry_origin(fx->r, 1), "elsewhere");
    assert_null(avf_plugin_registry_get(fx->r, -1));
    assert_null(avf_plugin_registry_get(fx->r, 2));
    assert_null(avf_plugin_registry_origin(fx->r, 2));

    /* a bad descriptor is refused with the check's reason, and nothing changes */
    bad.name = "t_bad";
    bad.abi_version = 2;
    assert_int_equal(avf_plugin_registry_add(fx->r, &bad, "x.so", why, sizeof(why)), -ENOTSUP);
    assert_non_null(strstr(why, "ABI 2"));
    assert_int_equal(avf_plugin_registry_count(fx->r), 2);

    assert_int_equal(avf_plugin_registry_add(NULL, &v, "x", why, sizeof(why)), -EINVAL);
    assert_int_equal(avf_plugin_registry_count(NULL), 0);
    assert_null(avf_plugin_registry_get(NULL, 0));
}

static void test_registry_duplicates(void **state)
{
    fixture *fx = *state;
    avf_plugin_descriptor v = good_video(), same_name = good_audio(), same_feature = good_video(),
                          other_modality = good_audio();
    const avf_plugin_feature shared[] = {{"t_other", AVF_POOL_MEAN}, {"t_cuts", AVF_POOL_MAX}};
    const avf_plugin_feature crossing[] = {{"t_luma", AVF_POOL_MEAN}};
    char why[256];

    assert_int_equal(avf_plugin_registry_add(fx->r, &v, "built-in", why, sizeof(why)), 0);

    /* the same plugin name, even in the other modality */
    same_name.name = "t_video";
    assert_int_equal(avf_plugin_registry_add(fx->r, &same_name, "a.so", why, sizeof(why)), -EEXIST);
    assert_non_null(strstr(why, "t_video"));
    assert_non_null(strstr(why, "already registered"));
    assert_non_null(strstr(why, "built-in"));

    /* a feature name that another descriptor of the same modality uses */
    same_feature.name = "t_video2";
    same_feature.features = shared;
    assert_int_equal(avf_plugin_registry_add(fx->r, &same_feature, "b.so", why, sizeof(why)),
                     -EEXIST);
    assert_non_null(strstr(why, "t_cuts"));
    assert_non_null(strstr(why, "t_video"));
    assert_int_equal(avf_plugin_registry_count(fx->r), 1);

    /* ... is fine in the other modality: the namespaces are per modality */
    other_modality.features = crossing;
    assert_int_equal(avf_plugin_registry_add(fx->r, &other_modality, "c.so", why, sizeof(why)), 0);
    assert_int_equal(avf_plugin_registry_count(fx->r), 2);
}

static void test_registry_free(void **state)
{
    avf_plugin_registry *r = avf_plugin_registry_new(), *none = NULL;

    (void)state;
    assert_non_null(r);
    avf_plugin_registry_free(&r);
    assert_null(r);
    avf_plugin_registry_free(&r);
    avf_plugin_registry_free(&none);
    avf_plugin_registry_free(NULL);
}

/* ------------------------------------------------------------------------- */
/* Host services                                                              */

static void test_services(void **state)
{
    static const char name[] = "t_video";
    avf_plugin_services s;
    int64_t t0, t1;
    const char *log;
    int saved_level = avf_log_get_level();

    (void)state;
    memset(&s, 0xa5, sizeof(s));
    avf_plugin_services_init(&s, name);
    assert_int_equal(s.abi_version, AVFUSE_PLUGIN_ABI_VERSION);
    assert_int_equal(s.struct_size, sizeof(avf_plugin_services));
    assert_ptr_equal(s.host, name);
    assert_non_null(s.log);
    assert_non_null(s.now_us);

    t0 = s.now_us(s.host);
    usleep(2000);
    t1 = s.now_us(s.host);
    assert_true(t0 > 0);
    assert_true(t1 - t0 >= 2000);
    assert_true(t1 - t0 < 10 * 1000 * 1000);

    avf_log_set_level(AVF_LOG_DEBUG);
    capture_begin();
    s.log(s.host, AVF_PLUGIN_LOG_ERROR, "e1");
    s.log(s.host, AVF_PLUGIN_LOG_WARN, "w1");
    s.log(s.host, AVF_PLUGIN_LOG_INFO, "i1");
    s.log(s.host, AVF_PLUGIN_LOG_DEBUG, "d1");
    s.log(s.host, 99, "clamped");
    s.log(s.host, AVF_PLUGIN_LOG_ERROR, "first\nsecond");
    s.log(s.host, AVF_PLUGIN_LOG_ERROR, NULL);
    log = capture_end();
    avf_log_set_level(saved_level);

    assert_int_equal(count_lines(log, "plugin:t_video: error: ", "e1"), 1);
    assert_int_equal(count_lines(log, "plugin:t_video: warning: ", "w1"), 1);
    assert_int_equal(count_lines(log, "plugin:t_video: info: ", "i1"), 1);
    assert_int_equal(count_lines(log, "plugin:t_video: debug: ", "d1"), 1);
    assert_int_equal(count_lines(log, "plugin:t_video: debug: ", "clamped"), 1);
    /* one call, one line */
    assert_int_equal(count_lines(log, "plugin:t_video: error: ", "first second"), 1);
    assert_int_equal(count_all_lines(log), 6);

    /* below the level nothing is written */
    capture_begin();
    s.log(s.host, AVF_PLUGIN_LOG_DEBUG, "hidden");
    log = capture_end();
    assert_string_equal(log, "");
}

/* ------------------------------------------------------------------------- */
/* Plugin folders                                                             */

/* Runs the example's descriptors on crafted data: the shared object really works. */
static void run_example(const avf_plugin_descriptor *video, const avf_plugin_descriptor *audio)
{
    /* 5x3 pixels: chroma 3x2, the right column and bottom row cover fewer pixels */
    uint8_t y[3][5] = {{0}}, u[2][3], v[2][3];
    float samples[8] = {0.1f, -0.25f, 0.5f, -0.75f, 0.2f, 0.0f, -0.1f, 0.3f};
    avf_plugin_config cfg = {.struct_size = sizeof(cfg),
                             .sample_rate = 16000,
                             .window = 8,
                             .hop = 4,
                             .frame_rate = 10.0,
                             .source = "unit"};
    avf_plugin_video_frame frame = {
        .struct_size = sizeof(frame),
        .width = 5,
        .height = 3,
        .data = {&y[0][0], &u[0][0], &v[0][0]},
        .linesize = {5, 3, 3},
    };
    avf_plugin_audio_window window = {
        .struct_size = sizeof(window), .nb_samples = 8, .pos = 0, .samples = samples};
    avf_plugin_services services;
    void *instance = NULL;
    float out[2];

    memset(u, 128, sizeof(u));
    memset(v, 128, sizeof(v));
    u[0][0] = v[0][0] = 100; /* greenish, covers 2x2 pixels */
    u[1][2] = v[1][2] = 111; /* greenish, bottom-right corner: covers 1 pixel */
    u[0][1] = 100;           /* only U low: not green */
    v[1][0] = 112;           /* V at the threshold: not green */
    u[1][0] = 0;

    avf_plugin_services_init(&services, video->name);
    assert_int_equal(video->create(&services, &cfg, &instance), 0);
    assert_int_equal(video->process_video(instance, &frame, out), 0);
    assert_float_equal(out[0], 5.0f / 15.0f, 1e-6f);
    assert_float_equal(out[1], 1.0f, 1e-7f);
    video->destroy(instance);

    instance = NULL;
    avf_plugin_services_init(&services, audio->name);
    assert_int_equal(audio->create(&services, &cfg, &instance), 0);
    assert_int_equal(audio->process_audio(instance, &window, out), 0);
    assert_float_equal(out[0], 0.75f, 1e-7f);
    audio->destroy(instance);
}

static void test_load_example(void **state)
{
    fixture *fx = *state;
    char path[PATH_MAX];
    const avf_plugin_descriptor *video, *audio;
    const char *log;

    copy_file(plugin_path(EXAMPLE_ENV), fx->dir, "libavfuse_example.so", 0755);
    assert_int_equal(load_dir_captured(fx->r, fx->dir, &log), 2);
    assert_string_equal(log, "");
    assert_int_equal(avf_plugin_registry_count(fx->r), 2);

    video = avf_plugin_registry_get(fx->r, 0);
    audio = avf_plugin_registry_get(fx->r, 1);
    join(path, sizeof(path), fx->dir, "libavfuse_example.so");
    assert_string_equal(video->name, "example_video");
    assert_int_equal(video->modality, AVF_PLUGIN_VIDEO);
    assert_int_equal(video->nb_features, 2);
    assert_string_equal(video->features[0].name, "example_green");
    assert_int_equal(video->features[0].pool, AVF_POOL_MEAN);
    assert_string_equal(video->features[1].name, "example_frames");
    assert_int_equal(video->features[1].pool, AVF_POOL_SUM);
    assert_string_equal(audio->name, "example_audio");
    assert_int_equal(audio->modality, AVF_PLUGIN_AUDIO);
    assert_int_equal(audio->nb_features, 1);
    assert_string_equal(audio->features[0].name, "example_peak");
    assert_int_equal(audio->features[0].pool, AVF_POOL_MAX);
    assert_string_equal(avf_plugin_registry_origin(fx->r, 0), path);
    assert_string_equal(avf_plugin_registry_origin(fx->r, 1), path);

    run_example(video, audio);

    /* a trailing slash changes nothing but the spelling */
    avf_plugin_registry_free(&fx->r);
    fx->r = avf_plugin_registry_new();
    assert_non_null(fx->r);
    snprintf(path, sizeof(path), "%s/", fx->dir);
    assert_int_equal(load_dir_captured(fx->r, path, &log), 2);
    join(path, sizeof(path), fx->dir, "libavfuse_example.so");
    assert_string_equal(avf_plugin_registry_origin(fx->r, 0), path);
}

static void test_load_mixed(void **state)
{
    fixture *fx = *state;
    char first[PATH_MAX];
    const char *log;

    /*
     * Three copies of the example, made in an order that is not name order either
     * way round (tmpfs lists the newest first, others the oldest): the descriptors
     * must come from aa_, the first in name order, and mm_'s and zz_'s be refused
     * as duplicates naming aa_.
     */
    copy_file(plugin_path(EXAMPLE_ENV), fx->dir, "mm_example.so", 0755);
    copy_file(plugin_path(EXAMPLE_ENV), fx->dir, "aa_example.so", 0755);
    copy_file(plugin_path(EXAMPLE_ENV), fx->dir, "zz_example.so", 0755);
    copy_file(plugin_path(BAD_ABI_ENV), fx->dir, "libbad_abi_plugin.so", 0755);
    copy_file(plugin_path(NO_SYMBOL_ENV), fx->dir, "libno_symbol_plugin.so", 0755);
    copy_file(plugin_path(BAD_NAME_ENV), fx->dir, "libbad_name_plugin.so", 0755);
    /* not plugins by name: ignored without a word */
    copy_file(plugin_path(BAD_ABI_ENV), fx->dir, "libbad_abi_plugin.so.1", 0755);
    write_text(fx->dir, "README", "not a plugin\n");
    write_text(fx->dir, "broken.so", "not an ELF file\n");

    assert_int_equal(load_dir_captured(fx->r, fx->dir, &log), 2);
    assert_int_equal(avf_plugin_registry_count(fx->r), 2);
    assert_string_equal(avf_plugin_registry_get(fx->r, 0)->name, "example_video");
    assert_string_equal(avf_plugin_registry_get(fx->r, 1)->name, "example_audio");
    join(first, sizeof(first), fx->dir, "aa_example.so");
    assert_string_equal(avf_plugin_registry_origin(fx->r, 0), first);
    assert_string_equal(avf_plugin_registry_origin(fx->r, 1), first);

    /* one line per refusal, naming the file and the problem */
    assert_int_equal(count_lines(log, "libbad_abi_plugin.so: ", "ABI 2"), 1);
    assert_int_equal(count_lines(log, "libno_symbol_plugin.so: ", AVFUSE_PLUGIN_ENUM_NAME), 1);
    assert_int_equal(count_lines(log, "libbad_name_plugin.so: ", "\"Bad Name\""), 1);
    assert_int_equal(count_lines(log, "broken.so: ", "cannot load"), 1);
    for (int i = 0; i < 2; i++) {
        const char *copy = i == 0 ? "mm_example.so: " : "zz_example.so: ";

        assert_int_equal(count_lines(log, copy, "example_video is already registered (from"), 1);
        assert_int_equal(count_lines(log, copy, "example_audio is already registered (from"), 1);
    }
    assert_int_equal(count_lines(log, "already registered", first), 4);
    assert_int_equal(count_lines(log, "plugins: error: ", ""), 8);
    assert_int_equal(count_all_lines(log), 8);
    assert_int_equal(count_lines(log, "README", ""), 0);
    assert_int_equal(count_lines(log, ".so.1", ""), 0);
}

static void test_load_dir_refused(void **state)
{
    fixture *fx = *state;
    char path[PATH_MAX];
    const char *log;

    copy_file(plugin_path(EXAMPLE_ENV), fx->dir, "libavfuse_example.so", 0755);

    /* writable by group, or by others: nothing in it is even looked at */
    assert_int_equal(chmod(fx->dir, 0770), 0);
    assert_int_equal(load_dir_captured(fx->r, fx->dir, &log), -EPERM);
    assert_int_equal(count_lines(log, fx->dir, "writable by group or others (mode 0770)"), 1);
    assert_int_equal(count_all_lines(log), 1);
    assert_int_equal(chmod(fx->dir, 0703), 0);
    assert_int_equal(load_dir_captured(fx->r, fx->dir, &log), -EPERM);
    assert_int_equal(count_lines(log, fx->dir, "writable"), 1);
    assert_int_equal(avf_plugin_registry_count(fx->r), 0);
    assert_int_equal(chmod(fx->dir, 0700), 0);

    if (geteuid() == 0) {
        assert_int_equal(chown(fx->dir, OTHER_UID, (gid_t)-1), 0);
        assert_int_equal(load_dir_captured(fx->r, fx->dir, &log), -EPERM);
        assert_int_equal(count_lines(log, fx->dir, "owned by uid 65534"), 1);
        assert_int_equal(chown(fx->dir, 0, (gid_t)-1), 0);
    } else {
        print_message("not root: a folder owned by someone else cannot be made, not tested\n");
    }

    /* missing, or not a folder */
    join(path, sizeof(path), fx->dir, "missing");
    assert_int_equal(load_dir_captured(fx->r, path, &log), -ENOENT);
    assert_int_equal(count_lines(log, path, "No such file"), 1);
    join(path, sizeof(path), fx->dir, "libavfuse_example.so");
    assert_int_equal(load_dir_captured(fx->r, path, &log), -ENOTDIR);
    assert_int_equal(count_lines(log, path, "not a directory"), 1);
    assert_int_equal(avf_plugin_registry_count(fx->r), 0);

    assert_int_equal(avf_plugin_registry_load_dir(NULL, fx->dir), -EINVAL);
    assert_int_equal(avf_plugin_registry_load_dir(fx->r, NULL), -EINVAL);

    /* the same folder, now safe, loads */
    assert_int_equal(load_dir_captured(fx->r, fx->dir, &log), 2);
}

static void test_load_file_refused(void **state)
{
    fixture *fx = *state;
    char path[PATH_MAX], target[PATH_MAX];
    const char *log;
    int expected = 5;

    copy_file(plugin_path(EXAMPLE_ENV), fx->dir, "group_writable.so", 0775);
    copy_file(plugin_path(EXAMPLE_ENV), fx->dir, "other_writable.so", 0646);
    copy_file(plugin_path(EXAMPLE_ENV), fx->dir, "target.so.real", 0755);
    assert_int_equal(symlink(join(target, sizeof(target), fx->dir, "target.so.real"),
                             join(path, sizeof(path), fx->dir, "link.so")),
                     0);
    assert_int_equal(mkfifo(join(path, sizeof(path), fx->dir, "fifo.so"), 0600), 0);
    assert_int_equal(mkdir(join(path, sizeof(path), fx->dir, "folder.so"), 0700), 0);
    if (geteuid() == 0) {
        copy_file(plugin_path(EXAMPLE_ENV), fx->dir, "someone_elses.so", 0755);
        assert_int_equal(
            chown(join(path, sizeof(path), fx->dir, "someone_elses.so"), OTHER_UID, (gid_t)-1), 0);
        expected++;
    } else {
        print_message("not root: a file owned by someone else cannot be made, not tested\n");
    }

    assert_int_equal(load_dir_captured(fx->r, fx->dir, &log), 0);
    assert_int_equal(avf_plugin_registry_count(fx->r), 0);
    assert_int_equal(count_lines(log, "group_writable.so: ", "writable by group or others"), 1);
    assert_int_equal(count_lines(log, "other_writable.so: ", "writable by group or others"), 1);
    assert_int_equal(count_lines(log, "link.so: ", "symbolic link"), 1);
    assert_int_equal(count_lines(log, "fifo.so: ", "not a regular file"), 1);
    assert_int_equal(count_lines(log, "folder.so: ", "not a regular file"), 1);
    if (geteuid() == 0)
        assert_int_equal(count_lines(log, "someone_elses.so: ", "owned by uid 65534"), 1);
    assert_int_equal(count_all_lines(log), expected);
}

static void test_load_empty_dir(void **state)
{
    fixture *fx = *state;
    const char *log;

    assert_int_equal(load_dir_captured(fx->r, fx->dir, &log), 0);
    assert_string_equal(log, "");
    assert_int_equal(avf_plugin_registry_count(fx->r), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_good),
        cmocka_unit_test(test_check_abi),
        cmocka_unit_test(test_check_names),
        cmocka_unit_test(test_check_fields),
        cmocka_unit_test(test_check_why_buffer),
        cmocka_unit_test_setup_teardown(test_registry_add, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry_duplicates, setup, teardown),
        cmocka_unit_test(test_registry_free),
        cmocka_unit_test(test_services),
        cmocka_unit_test_setup_teardown(test_load_example, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_mixed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_dir_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_file_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_empty_dir, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
