/*
 * loader.h - the plugin registry: checks descriptors, loads plugin folders.
 *
 * Every feature extractor, built-in or loaded from a shared object, reaches the
 * pipeline as an avf_plugin_descriptor registered here. The registry enforces what
 * plugins/avfuse_plugin.h says a host MUST enforce (ABI version, struct size, valid
 * names, the methods a modality needs) plus what only a registry can see: plugin
 * names are unique, and feature names are unique within a modality because the
 * features of one modality share one namespace in segment messages.
 *
 * A registry belongs to one thread while it is filled; once filled it is only read
 * and may be shared. Descriptors from a shared object point into its code and data,
 * so every instance created from one MUST be destroyed before the registry is freed.
 */
#ifndef AVF_PLUGIN_LOADER_H
#define AVF_PLUGIN_LOADER_H

#include <stddef.h>

#include "plugins/avfuse_plugin.h"

/* The range avfuse_plugin.h gives for nb_features, for sizing per-plugin arrays. */
#define AVF_PLUGIN_MAX_FEATURES 256
/* A plugin file is asked for at most this many descriptors (index 0..63). */
#define AVF_PLUGIN_MAX_PER_FILE 64
/* The longest plugin or feature name, [a-z0-9_]{1,48}. */
#define AVF_PLUGIN_MAX_NAME 48

typedef struct avf_plugin_registry avf_plugin_registry;

/* Returns an empty registry or NULL (out of memory); the caller frees it with
 * avf_plugin_registry_free(). */
avf_plugin_registry *avf_plugin_registry_new(void);

/*
 * Frees the registry and dlcloses every shared object it loaded, which invalidates
 * every descriptor, feature name and origin obtained from it. Accepts NULL and a
 * pointer to NULL; sets *pr to NULL.
 */
void avf_plugin_registry_free(avf_plugin_registry **pr);

/*
 * Checks that d can be used by this host, reading no field beyond what d's
 * abi_version and struct_size allow. Returns 0 if it can; otherwise -ENOTSUP for a
 * descriptor built for another plugin ABI, -EINVAL for anything else, and writes a
 * one-line reason into why (always NUL-terminated when why_size > 0; why may be
 * NULL). Checked: d not NULL; abi_version; struct_size at least the ABI-1 size;
 * name and every feature name [a-z0-9_]{1,48}; modality video or audio;
 * nb_features 1..256 with features not NULL; feature names unique within d; pool
 * values known; create and destroy set; process_video set for a video descriptor,
 * process_audio for an audio one. description is not checked and may be NULL.
 */
int avf_plugin_descriptor_check(const avf_plugin_descriptor *d, char *why, size_t why_size);

/*
 * Checks d (as avf_plugin_descriptor_check()) and registers it. Refuses with
 * -EEXIST a plugin name already registered, or a feature name that an already
 * registered descriptor of the same modality uses; with -ENOMEM when out of memory.
 * On failure writes a one-line reason into why, as above, and changes nothing.
 *
 * d is borrowed, not copied: it MUST stay valid until avf_plugin_registry_free()
 * (a static descriptor, or one inside a shared object that the registry loaded).
 * origin says where d comes from, for messages ("built-in", or a .so path); it is
 * copied. Returns 0 on success.
 */
int avf_plugin_registry_add(avf_plugin_registry *r, const avf_plugin_descriptor *d,
                            const char *origin, char *why, size_t why_size);

/*
 * Loads every plugin in dir: each regular file whose name ends in ".so", in strcmp
 * order of names, is dlopen()ed (RTLD_NOW | RTLD_LOCAL), its AVFUSE_PLUGIN_ENUM_NAME
 * symbol is called with index 0, 1, ... until it returns NULL (at most
 * AVF_PLUGIN_MAX_PER_FILE times), and each descriptor is added as by
 * avf_plugin_registry_add() with the file's path as its origin. A file none of
 * whose descriptors is added is dlclosed at once; the others stay loaded until
 * avf_plugin_registry_free().
 *
 * Security: dir is refused as a whole if it is not a directory, is writable by
 * group or others, or is owned by neither root nor the effective user; a file is
 * refused if it is a symbolic link (not followed), not a regular file, writable by
 * group or others, or owned by neither root nor the effective user. The parents of
 * dir are not checked: pointing --plugin-dir below a folder that others can rename
 * entries of is the caller's mistake.
 *
 * Every refusal, of the folder, a file or one descriptor, is logged as one error
 * line "PATH: reason" (component "plugins"), and loading goes on with the next
 * file or descriptor. Returns the number of descriptors added from dir (0 is not
 * an error: an empty folder, or nothing usable in it), or a negative errno when
 * the folder itself is refused (-ENOTDIR, -EPERM) or cannot be read (as opendir);
 * that reason is already logged.
 */
int avf_plugin_registry_load_dir(avf_plugin_registry *r, const char *dir);

/*
 * The folder checks of avf_plugin_registry_load_dir() alone, loading nothing, so
 * that `avfused -n` refuses what a run would: 0 when dir would be read, else the
 * negative errno it would be refused with (-ENOTDIR, -EPERM, as open) and the
 * reason, without the path, in why (as avf_plugin_descriptor_check()).
 */
int avf_plugin_dir_check(const char *dir, char *why, size_t why_size);

/* The number of registered descriptors. */
int avf_plugin_registry_count(const avf_plugin_registry *r);

/*
 * Descriptor i (0 <= i < count) in registration order, or NULL when i is out of
 * range. The returned pointer belongs to the registry and stays valid until
 * avf_plugin_registry_free().
 */
const avf_plugin_descriptor *avf_plugin_registry_get(const avf_plugin_registry *r, int i);

/*
 * Where descriptor i came from ("built-in", a .so path), or NULL when i is out of
 * range. The returned pointer belongs to the registry and stays valid until
 * avf_plugin_registry_free().
 */
const char *avf_plugin_registry_origin(const avf_plugin_registry *r, int i);

/*
 * Fills the host services table handed to one plugin instance: abi_version and
 * struct_size of this host, host = plugin_name, log writing one line through
 * avf_log() with component "plugin:<name>" at the matching level, now_us reading
 * CLOCK_MONOTONIC in microseconds. plugin_name is borrowed, not copied: it MUST
 * outlive every instance created with s (the descriptor's name, which stays valid
 * until avf_plugin_registry_free(), does). s itself MUST stay at the same address
 * from create() until destroy(), since the plugin may keep the pointer.
 */
void avf_plugin_services_init(avf_plugin_services *s, const char *plugin_name);

#endif
