/*
 * fuzz_plugin.c - the plugin descriptor checks of the registry
 * (plugins/loader.c: avf_plugin_descriptor_check() through
 * avf_plugin_registry_add()) on descriptors built from arbitrary bytes.
 *
 * A descriptor is what a shared object hands the host: nothing in it can be
 * trusted, least of all struct_size. So each descriptor is copied into a block of
 * exactly the size it claims (at least its first two fields, at most the host's
 * struct): a check that reads a field its struct_size does not cover is a heap
 * overflow that AddressSanitizer reports.
 *
 * Input, per descriptor (up to 8 into one registry, so duplicates are reached):
 *   flags      1 byte: bit 0 abi_version follows (4 bytes, else the host's),
 *              bit 1 struct_size follows (4 bytes, else sizeof), bits 2..7 make
 *              name, features, create, destroy, process_video, process_audio NULL
 *   modality   1 byte, signed
 *   count      1 byte; 255: a 4-byte nb_features follows
 *   name, description: a string each (1 length byte, then the bytes)
 *   features   min(nb_features, 257) times: a name string and a signed pool byte
 *   origin     a string
 *   why_size   1 byte; 0: why is NULL
 * Missing bytes read as 0.
 */
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "plugins/loader.h"

#define MAX_DESCRIPTORS 8
/* one past the largest nb_features the checks accept, so that limit is reached */
#define MAX_FEATURES (AVF_PLUGIN_MAX_FEATURES + 1)

typedef struct reader {
    const uint8_t *p, *end;
} reader;

static uint8_t byte(reader *r)
{
    return r->p < r->end ? *r->p++ : 0;
}

static uint32_t u32(reader *r)
{
    uint32_t v = 0;

    for (int i = 0; i < 4; i++)
        v = v << 8 | byte(r);
    return v;
}

/* Everything an input allocates, freed after the registry that borrows it. */
typedef struct pool {
    void **ptrs;
    int n, max;
} pool;

static void *keep(pool *pl, void *p)
{
    if (!p)
        return NULL;
    if (pl->n == pl->max) {
        int max = pl->max ? 2 * pl->max : 64;
        void **grown = realloc(pl->ptrs, (size_t)max * sizeof(*grown));

        if (!grown) {
            free(p);
            return NULL;
        }
        pl->ptrs = grown;
        pl->max = max;
    }
    pl->ptrs[pl->n++] = p;
    return p;
}

static void pool_free(pool *pl)
{
    for (int i = 0; i < pl->n; i++)
        free(pl->ptrs[i]);
    free(pl->ptrs);
}

static const char *string(reader *r, pool *pl)
{
    size_t n = byte(r);
    char *s = keep(pl, malloc(n + 1));

    for (size_t i = 0; i < n; i++) {
        uint8_t c = byte(r);

        if (s)
            s[i] = (char)c;
    }
    if (s)
        s[n] = 0;
    return s;
}

static int create(const avf_plugin_services *services, const avf_plugin_config *config,
                  void **instance)
{
    (void)services;
    (void)config;
    *instance = NULL;
    return 0;
}

static int process_video(void *instance, const avf_plugin_video_frame *frame, float *out)
{
    (void)instance;
    (void)frame;
    (void)out;
    return 0;
}

static int process_audio(void *instance, const avf_plugin_audio_window *window, float *out)
{
    (void)instance;
    (void)window;
    (void)out;
    return 0;
}

static void destroy(void *instance)
{
    (void)instance;
}

/* A descriptor from the input, in a block of the size it claims, or NULL. */
static const avf_plugin_descriptor *descriptor(reader *r, pool *pl)
{
    uint8_t flags = byte(r), count;
    avf_plugin_descriptor d = {
        .abi_version = AVFUSE_PLUGIN_ABI_VERSION,
        .struct_size = sizeof(avf_plugin_descriptor),
        .create = create,
        .process_video = process_video,
        .process_audio = process_audio,
        .destroy = destroy,
    };
    avf_plugin_feature *features;
    size_t block, nb;
    void *copy;

    if (flags & 1)
        d.abi_version = u32(r);
    if (flags & 2)
        d.struct_size = u32(r);
    d.modality = (int8_t)byte(r);
    count = byte(r);
    d.nb_features = count == 255 ? u32(r) : count;
    d.name = string(r, pl);
    d.description = string(r, pl);
    nb = d.nb_features < MAX_FEATURES ? d.nb_features : MAX_FEATURES;
    features = keep(pl, calloc(nb ? nb : 1, sizeof(*features)));
    for (size_t i = 0; i < nb; i++) {
        const char *name = string(r, pl);
        int32_t rule = (int8_t)byte(r);

        if (features)
            features[i] = (avf_plugin_feature){name, rule};
    }
    d.features = features;
    if (flags & 4)
        d.name = NULL;
    if (flags & 8)
        d.features = NULL;
    if (flags & 16)
        d.create = NULL;
    if (flags & 32)
        d.destroy = NULL;
    if (flags & 64)
        d.process_video = NULL;
    if (flags & 128)
        d.process_audio = NULL;
    block = d.struct_size < sizeof(d) ? d.struct_size : sizeof(d);
    if (block < offsetof(avf_plugin_descriptor, name))
        block = offsetof(avf_plugin_descriptor, name);
    copy = keep(pl, malloc(block));
    if (copy)
        memcpy(copy, &d, block);
    return copy;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    reader r = {data, data + size};
    avf_plugin_registry *reg;
    pool pl = {0};

    if (!ready) {
        fuzz_quiet();
        ready = 1;
    }
    reg = avf_plugin_registry_new();
    if (!reg)
        return 0;
    for (int i = 0; i < MAX_DESCRIPTORS && r.p < r.end; i++) {
        const avf_plugin_descriptor *d = descriptor(&r, &pl);
        const char *origin = string(&r, &pl);
        size_t why_size = byte(&r);
        char why[300];
        int before = avf_plugin_registry_count(reg), ret;

        if (!d)
            break;
        memset(why, 'x', sizeof(why));
        ret = avf_plugin_registry_add(reg, d, origin, why_size ? why : NULL, why_size);
        if (why_size > 0)
            FUZZ_ASSERT(memchr(why, 0, why_size));
        FUZZ_ASSERT(why[why_size] == 'x');
        if (ret < 0) {
            FUZZ_ASSERT(avf_plugin_registry_count(reg) == before);
            FUZZ_ASSERT(why_size < 2 || why[0]);
            continue;
        }
        FUZZ_ASSERT(ret == 0 && avf_plugin_descriptor_check(d, NULL, 0) == 0);
        FUZZ_ASSERT(avf_plugin_registry_count(reg) == before + 1);
        FUZZ_ASSERT(avf_plugin_registry_get(reg, before) == d);
        FUZZ_ASSERT(!strcmp(avf_plugin_registry_origin(reg, before), origin ? origin : "unknown"));
    }
    avf_plugin_registry_free(&reg);
    pool_free(&pl);
    return 0;
}
