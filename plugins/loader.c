/*
 * loader.c - the plugin registry: descriptor checks, plugin folders, host services.
 *
 * It exists so that the pipeline sees one list of descriptors that are already
 * known to be usable, whether built in or loaded, and never has to second-guess a
 * plugin's names or methods while data flows.
 *
 * Design: the registry borrows descriptors (they live in static storage or inside a
 * shared object) and owns copies of their origins plus the dlopen handles of the
 * files that gave it at least one descriptor; freeing the registry dlcloses those.
 * A descriptor is checked field by field in header order, reading nothing before
 * its abi_version and struct_size say the field exists, and the first problem is
 * the reason given.
 *
 * Loading a folder: the folder is opened once and checked through its descriptor
 * (fstat), and each file is opened relative to it with openat(O_NOFOLLOW |
 * O_NONBLOCK) and checked with fstat on that descriptor, so a symbolic link is never
 * followed and a FIFO named "x.so" cannot hang the loader. dlopen() then takes the
 * path, which leaves a window between check and load; the folder check closes it
 * (given trusted parents, see loader.h): only root or the effective user can replace
 * an entry in a folder that is not writable by group or others and is owned by one
 * of them, and either could equally have written the plugin itself.
 */
#include "plugins/loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/why.h"
#include "base/log.h"

/*
 * The size of version 1 of the descriptor: its last ABI-1 field ends here. Not
 * sizeof(avf_plugin_descriptor), which grows when fields are appended.
 */
#define DESCRIPTOR_SIZE_ABI1                                                                       \
    (offsetof(avf_plugin_descriptor, destroy) + sizeof(((avf_plugin_descriptor *)0)->destroy))

/* The last pool rule of ABI 1. */
#define POOL_LAST_ABI1 AVF_POOL_RANGE_20_80

/* Enough for any reason this file writes; longer dlerror() text is cut. */
#define WHY_SIZE 512
/* Untrusted strings are shown at most this long in messages, quoted and maybe "...". */
#define QUOTE_MAX  60
#define QUOTE_SIZE (QUOTE_MAX + 8)

typedef struct plugin_entry {
    const avf_plugin_descriptor *desc; /* borrowed; valid while its handle is open */
    char *origin;                      /* owned */
} plugin_entry;

struct avf_plugin_registry {
    plugin_entry *entries; /* registration order */
    int nb_entries, max_entries;
    void **handles; /* dlopen handles that gave descriptors, load order */
    int nb_handles, max_handles;
};

/*
 * Copies s for a message: quoted, at most QUOTE_MAX characters, non-printable bytes
 * as '?', so a broken plugin cannot smuggle a newline or an escape into the log.
 */
static const char *quote(const char *s, char *buf, size_t size)
{
    size_t n = 0, i;

    if (!s) {
        snprintf(buf, size, "NULL");
        return buf;
    }
    buf[n++] = '"';
    for (i = 0; s[i] && i < QUOTE_MAX && n + 5 < size; i++)
        buf[n++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (s[i])
        for (int k = 0; k < 3 && n + 2 < size; k++)
            buf[n++] = '.';
    buf[n++] = '"';
    buf[n] = '\0';
    return buf;
}

/* [a-z0-9_]{1,48}, reading at most 49 bytes of s. */
static int name_valid(const char *s)
{
    size_t n;

    if (!s)
        return 0;
    for (n = 0; s[n]; n++) {
        char c = s[n];

        if (n >= AVF_PLUGIN_MAX_NAME)
            return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return n > 0;
}

int avf_plugin_descriptor_check(const avf_plugin_descriptor *d, char *why, size_t why_size)
{
    char q[QUOTE_SIZE];

    if (why && why_size > 0)
        why[0] = '\0';
    if (!d)
        return avf_why(why, why_size, -EINVAL, "no descriptor (NULL)");
    /* Until these two pass, nothing else in *d may be read: its layout is unknown. */
    if (d->abi_version != AVFUSE_PLUGIN_ABI_VERSION)
        return avf_why(why, why_size, -ENOTSUP,
                       "built for plugin ABI %" PRIu32 ", this avfuse speaks ABI %u",
                       d->abi_version, AVFUSE_PLUGIN_ABI_VERSION);
    if (d->struct_size < DESCRIPTOR_SIZE_ABI1)
        return avf_why(why, why_size, -EINVAL,
                       "struct_size %" PRIu32 " is smaller than an ABI 1 descriptor (%zu bytes)",
                       d->struct_size, (size_t)DESCRIPTOR_SIZE_ABI1);
    if (!name_valid(d->name))
        return avf_why(why, why_size, -EINVAL, "plugin name %s is not [a-z0-9_]{1,48}",
                       quote(d->name, q, sizeof(q)));
    if (d->modality != AVF_PLUGIN_VIDEO && d->modality != AVF_PLUGIN_AUDIO)
        return avf_why(why, why_size, -EINVAL,
                       "plugin %s: modality %" PRId32 " is neither video (%d) nor audio (%d)",
                       d->name, d->modality, AVF_PLUGIN_VIDEO, AVF_PLUGIN_AUDIO);
    if (d->nb_features == 0 || d->nb_features > AVF_PLUGIN_MAX_FEATURES)
        return avf_why(why, why_size, -EINVAL, "plugin %s: nb_features %" PRIu32 " is not in 1..%d",
                       d->name, d->nb_features, AVF_PLUGIN_MAX_FEATURES);
    if (!d->features)
        return avf_why(why, why_size, -EINVAL, "plugin %s: features is NULL", d->name);
    for (uint32_t f = 0; f < d->nb_features; f++) {
        const avf_plugin_feature *feat = &d->features[f];

        if (!name_valid(feat->name))
            return avf_why(why, why_size, -EINVAL,
                           "plugin %s: feature %" PRIu32 " name %s is not [a-z0-9_]{1,48}", d->name,
                           f, quote(feat->name, q, sizeof(q)));
        if (feat->pool < AVF_POOL_MEAN || feat->pool > POOL_LAST_ABI1)
            return avf_why(why, why_size, -EINVAL,
                           "plugin %s: feature %s: pool %" PRId32
                           " is not an avf_plugin_pool (%d..%d)",
                           d->name, feat->name, feat->pool, AVF_POOL_MEAN, POOL_LAST_ABI1);
        for (uint32_t g = 0; g < f; g++)
            if (strcmp(d->features[g].name, feat->name) == 0)
                return avf_why(why, why_size, -EINVAL,
                               "plugin %s: feature name %s appears twice (features %" PRIu32
                               " and %" PRIu32 ")",
                               d->name, feat->name, g, f);
    }
    if (!d->create)
        return avf_why(why, why_size, -EINVAL, "plugin %s: create is NULL", d->name);
    if (!d->destroy)
        return avf_why(why, why_size, -EINVAL, "plugin %s: destroy is NULL", d->name);
    if (d->modality == AVF_PLUGIN_VIDEO && !d->process_video)
        return avf_why(why, why_size, -EINVAL, "plugin %s: video plugin with process_video NULL",
                       d->name);
    if (d->modality == AVF_PLUGIN_AUDIO && !d->process_audio)
        return avf_why(why, why_size, -EINVAL, "plugin %s: audio plugin with process_audio NULL",
                       d->name);
    return 0;
}

avf_plugin_registry *avf_plugin_registry_new(void)
{
    return calloc(1, sizeof(avf_plugin_registry));
}

void avf_plugin_registry_free(avf_plugin_registry **pr)
{
    avf_plugin_registry *r;

    if (!pr || !*pr)
        return;
    r = *pr;
    for (int i = 0; i < r->nb_entries; i++)
        free(r->entries[i].origin);
    free(r->entries);
    /* descriptors point into these: only now, with the entries gone, may they close */
    for (int i = r->nb_handles - 1; i >= 0; i--)
        dlclose(r->handles[i]);
    free(r->handles);
    free(r);
    *pr = NULL;
}

/* Makes room for one more element in a growable array; 0 or -ENOMEM. */
static int grow(void **array, int *max, int nb, size_t elem_size)
{
    void *p;
    int n;

    if (nb < *max)
        return 0;
    n = *max ? *max * 2 : 8;
    p = realloc(*array, (size_t)n * elem_size);
    if (!p)
        return -ENOMEM;
    *array = p;
    *max = n;
    return 0;
}

int avf_plugin_registry_add(avf_plugin_registry *r, const avf_plugin_descriptor *d,
                            const char *origin, char *why, size_t why_size)
{
    char *origin_copy;
    int ret;

    if (!r)
        return avf_why(why, why_size, -EINVAL, "no registry (NULL)");
    ret = avf_plugin_descriptor_check(d, why, why_size);
    if (ret < 0)
        return ret;
    for (int i = 0; i < r->nb_entries; i++) {
        const plugin_entry *e = &r->entries[i];

        if (strcmp(e->desc->name, d->name) == 0)
            return avf_why(why, why_size, -EEXIST, "plugin name %s is already registered (from %s)",
                           d->name, e->origin);
        if (e->desc->modality != d->modality)
            continue;
        for (uint32_t f = 0; f < d->nb_features; f++)
            for (uint32_t g = 0; g < e->desc->nb_features; g++)
                if (strcmp(d->features[f].name, e->desc->features[g].name) == 0)
                    return avf_why(why, why_size, -EEXIST,
                                   "plugin %s: feature name %s is already used by plugin %s (from "
                                   "%s); features of one modality share one namespace",
                                   d->name, d->features[f].name, e->desc->name, e->origin);
    }
    ret = grow((void **)&r->entries, &r->max_entries, r->nb_entries, sizeof(*r->entries));
    origin_copy = strdup(origin ? origin : "unknown");
    if (ret < 0 || !origin_copy) {
        free(origin_copy);
        return avf_why(why, why_size, -ENOMEM, "plugin %s: out of memory", d->name);
    }
    r->entries[r->nb_entries++] = (plugin_entry){.desc = d, .origin = origin_copy};
    if (why && why_size > 0)
        why[0] = '\0';
    return 0;
}

int avf_plugin_registry_count(const avf_plugin_registry *r)
{
    return r ? r->nb_entries : 0;
}

const avf_plugin_descriptor *avf_plugin_registry_get(const avf_plugin_registry *r, int i)
{
    if (!r || i < 0 || i >= r->nb_entries)
        return NULL;
    return r->entries[i].desc;
}

const char *avf_plugin_registry_origin(const avf_plugin_registry *r, int i)
{
    if (!r || i < 0 || i >= r->nb_entries)
        return NULL;
    return r->entries[i].origin;
}

/* Why st (a folder or a plugin file) may not be trusted, or NULL if it may. */
static const char *unsafe_reason(const struct stat *st, char *buf, size_t size)
{
    uid_t euid = geteuid();

    if (st->st_mode & (S_IWGRP | S_IWOTH)) {
        snprintf(buf, size, "is writable by group or others (mode %04o)",
                 (unsigned)(st->st_mode & 07777));
        return buf;
    }
    if (st->st_uid != 0 && st->st_uid != euid) {
        snprintf(buf, size, "is owned by uid %u, neither root nor the effective user (uid %u)",
                 (unsigned)st->st_uid, (unsigned)euid);
        return buf;
    }
    return NULL;
}

/* dlerror() text without the "PATH: " that glibc puts in front, since we print it too. */
static const char *dl_reason(const char *path)
{
    const char *e = dlerror();
    size_t n = strlen(path);

    if (!e)
        return "unknown dynamic loader error";
    if (strncmp(e, path, n) == 0 && e[n] == ':' && e[n + 1] == ' ')
        return e + n + 2;
    return e;
}

static void __attribute__((format(printf, 2, 3)))
log_refusal(const char *path, const char *fmt, ...)
{
    char why[WHY_SIZE];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    avf_log(AVF_LOG_ERROR, "plugins", "%s: %s", path, why);
}

/*
 * Checks, loads and enumerates one plugin file (name inside the folder dfd, path
 * for dlopen and messages). Returns the number of descriptors added; a refused file
 * gives 0 and one logged line.
 */
static int load_file(avf_plugin_registry *r, int dfd, const char *name, const char *path)
{
    char buf[WHY_SIZE];
    const char *reason;
    avf_plugin_enum_fn enumerate;
    struct stat st;
    void *handle = NULL, *sym;
    uint32_t index;
    int fd, ret, added = 0;

    fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ELOOP)
            log_refusal(path, "is a symbolic link; plugin links are not followed");
        else
            log_refusal(path, "cannot open: %s", strerror(errno));
        goto done;
    }
    ret = fstat(fd, &st) < 0 ? -errno : 0;
    close(fd);
    if (ret < 0) {
        log_refusal(path, "cannot stat: %s", strerror(-ret));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        log_refusal(path, "is not a regular file");
        goto done;
    }
    reason = unsafe_reason(&st, buf, sizeof(buf));
    if (reason) {
        log_refusal(path, "%s; refusing to load it", reason);
        goto done;
    }
    /* reserved now: once a descriptor is added the handle must be kept, come what may */
    if (grow((void **)&r->handles, &r->max_handles, r->nb_handles, sizeof(*r->handles)) < 0) {
        log_refusal(path, "out of memory");
        goto done;
    }

    dlerror();
    handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        log_refusal(path, "cannot load: %s", dl_reason(path));
        goto done;
    }
    sym = dlsym(handle, AVFUSE_PLUGIN_ENUM_NAME);
    if (!sym) {
        log_refusal(path,
                    "no symbol %s: not an avfuse plugin (a plugin defines AVFUSE_PLUGIN_ENUM_FUNC "
                    "with AVFUSE_PLUGIN_EXPORT)",
                    AVFUSE_PLUGIN_ENUM_NAME);
        goto done;
    }
    /* POSIX guarantees that a dlsym() result converts to a function pointer. */
    enumerate = (avf_plugin_enum_fn)sym;
    for (index = 0;; index++) {
        const avf_plugin_descriptor *d = enumerate(index);

        if (!d)
            break;
        if (index == AVF_PLUGIN_MAX_PER_FILE) {
            log_refusal(path, "enumerates more than %d descriptors; the rest are ignored",
                        AVF_PLUGIN_MAX_PER_FILE);
            break;
        }
        ret = avf_plugin_registry_add(r, d, path, buf, sizeof(buf));
        if (ret < 0)
            log_refusal(path, "descriptor %" PRIu32 ": %s", index, buf);
        else
            added++;
    }
    if (index == 0)
        avf_log(AVF_LOG_WARN, "plugins", "%s: %s(0) returned NULL: no descriptor", path,
                AVFUSE_PLUGIN_ENUM_NAME);
    if (added > 0) {
        r->handles[r->nb_handles++] = handle;
        handle = NULL;
        avf_log(AVF_LOG_INFO, "plugins", "%s: %d descriptor(s) added", path, added);
    }
done:
    /* still ours only if nothing registered points into it */
    if (handle)
        dlclose(handle);
    return added;
}

static int has_so_suffix(const char *name)
{
    size_t n = strlen(name);

    return n > 3 && strcmp(name + n - 3, ".so") == 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Opens dir and checks it through the descriptor. Returns the descriptor, or a
 * negative errno with the reason (without the path) in why.
 */
static int open_plugin_dir(const char *dir, char *why, size_t why_size)
{
    char buf[WHY_SIZE];
    const char *reason;
    struct stat st;
    int dfd, ret;

    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        ret = -errno;
        if (ret == -ENOTDIR)
            return avf_why(why, why_size, ret, "plugin folder is not a directory");
        return avf_why(why, why_size, ret, "cannot open plugin folder: %s", strerror(-ret));
    }
    if (fstat(dfd, &st) < 0) {
        ret = -errno;
        close(dfd);
        return avf_why(why, why_size, ret, "cannot stat plugin folder: %s", strerror(-ret));
    }
    reason = unsafe_reason(&st, buf, sizeof(buf));
    if (reason) {
        close(dfd);
        return avf_why(why, why_size, -EPERM, "plugin folder %s; refusing to load plugins from it",
                       reason);
    }
    return dfd;
}

int avf_plugin_dir_check(const char *dir, char *why, size_t why_size)
{
    int dfd;

    if (!dir)
        return avf_why(why, why_size, -EINVAL, "no plugin folder (NULL)");
    dfd = open_plugin_dir(dir, why, why_size);
    if (dfd < 0)
        return dfd;
    close(dfd);
    return 0;
}

int avf_plugin_registry_load_dir(avf_plugin_registry *r, const char *dir)
{
    char buf[WHY_SIZE], *path = NULL;
    char **names = NULL;
    int nb_names = 0, max_names = 0, added = 0, ret, dfd = -1;
    size_t dir_len;
    struct dirent *de;
    DIR *dp = NULL;

    if (!r || !dir)
        return -EINVAL;
    dfd = open_plugin_dir(dir, buf, sizeof(buf));
    if (dfd < 0) {
        ret = dfd;
        log_refusal(dir, "%s", buf);
        goto done;
    }
    dp = fdopendir(dfd);
    if (!dp) {
        ret = -errno;
        log_refusal(dir, "cannot read plugin folder: %s", strerror(-ret));
        goto done;
    }
    dfd = -1; /* closedir() closes it */
    for (;;) {
        errno = 0;
        de = readdir(dp);
        if (!de)
            break;
        if (!has_so_suffix(de->d_name))
            continue;
        ret = grow((void **)&names, &max_names, nb_names, sizeof(*names));
        if (ret < 0 || !(names[nb_names] = strdup(de->d_name))) {
            ret = -ENOMEM;
            log_refusal(dir, "out of memory listing the plugin folder");
            goto done;
        }
        nb_names++;
    }
    if (errno != 0) {
        ret = -errno;
        log_refusal(dir, "cannot read plugin folder: %s", strerror(-ret));
        goto done;
    }
    if (nb_names > 1) /* qsort() wants a non-NULL base even for no element */
        qsort(names, (size_t)nb_names, sizeof(*names), compare_names);

    dir_len = strlen(dir);
    while (dir_len > 1 && dir[dir_len - 1] == '/')
        dir_len--;
    for (int i = 0; i < nb_names; i++) {
        size_t size = dir_len + 1 + strlen(names[i]) + 1;

        free(path);
        path = malloc(size);
        if (!path) {
            ret = -ENOMEM;
            log_refusal(dir, "out of memory");
            goto done;
        }
        /* dir "/" keeps its slash and needs no other; a slash also makes dlopen take a path */
        snprintf(path, size, "%.*s%s%s", (int)dir_len, dir, dir[dir_len - 1] == '/' ? "" : "/",
                 names[i]);
        added += load_file(r, dirfd(dp), names[i], path);
    }
    ret = added;
done:
    free(path);
    for (int i = 0; i < nb_names; i++)
        free(names[i]);
    free(names);
    if (dp)
        closedir(dp);
    if (dfd >= 0)
        close(dfd);
    return ret;
}

static int64_t services_now_us(void *host)
{
    struct timespec ts;

    (void)host;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void services_log(void *host, int level, const char *msg)
{
    char component[sizeof("plugin:") + AVF_PLUGIN_MAX_NAME];
    char line[1024];
    int avf_level;
    size_t n;

    if (!msg)
        return;
    /* the plugin levels mirror avf_log's; anything out of range is clamped */
    if (level <= AVF_PLUGIN_LOG_ERROR)
        avf_level = AVF_LOG_ERROR;
    else if (level == AVF_PLUGIN_LOG_WARN)
        avf_level = AVF_LOG_WARN;
    else if (level == AVF_PLUGIN_LOG_INFO)
        avf_level = AVF_LOG_INFO;
    else
        avf_level = AVF_LOG_DEBUG;
    if (avf_level > avf_log_get_level())
        return;
    /* one line per call, as the ABI promises: control characters become spaces */
    for (n = 0; msg[n] && n + 1 < sizeof(line); n++)
        line[n] = (unsigned char)msg[n] < 0x20 ? ' ' : msg[n];
    line[n] = '\0';
    snprintf(component, sizeof(component), "plugin:%s", host ? (const char *)host : "?");
    avf_log(avf_level, component, "%s", line);
}

void avf_plugin_services_init(avf_plugin_services *s, const char *plugin_name)
{
    if (!s)
        return;
    *s = (avf_plugin_services){
        .abi_version = AVFUSE_PLUGIN_ABI_VERSION,
        .struct_size = sizeof(*s),
        /* read only, by services_log(): the const is dropped only to fit void *host */
        .host = (void *)plugin_name,
        .log = services_log,
        .now_us = services_now_us,
    };
}
