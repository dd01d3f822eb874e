/*
 * config.h - the daemon's configuration: the INI file of docs/configuration.md.
 *
 * The file is parsed whole into an avf_config and checked before anything uses
 * it, so a reload either swaps in a complete valid configuration or keeps the
 * running one. Every error names the file and line ("avfuse.conf:12: ..."). A
 * source's settings are also accepted one key at a time (avf_source_conf_set()),
 * which is how the control socket's `add` builds a source from JSON.
 */
#ifndef AVF_CONFIG_H
#define AVF_CONFIG_H

#include <stddef.h>

#include "fusion/message.h"

/* How many sources a daemon runs unless max_sources says otherwise: each is up to
 * eight threads and a few MB (docs/configuration.md has the figures). */
#define AVF_MAX_SOURCES_DEFAULT 64
/* The longest url a source takes, in bytes; device, microphone and output are
 * paths (PATH_MAX), format a name. Longer values are refused, not echoed. */
#define AVF_URL_MAX    2048
#define AVF_FORMAT_MAX 64

enum avf_source_type {
    AVF_TYPE_NONE = -1,
    AVF_TYPE_FILE = 0,
    AVF_TYPE_STREAM,
    AVF_TYPE_CAMERA,
    AVF_TYPE_MICROPHONE,
    AVF_TYPE_AV, /* a camera paired with a microphone */
};

/* How an RTSP stream's media travels: interleaved in the RTSP connection (TCP, which
 * a camera behind NAT or a firewall needs) or as RTP over UDP. */
enum avf_rtsp_transport {
    AVF_RTSP_TCP = 0,
    AVF_RTSP_UDP,
};

typedef struct avf_source_conf {
    char name[AVF_SOURCE_NAME_MAX + 1];
    enum avf_source_type type;
    char *url;           /* file, stream */
    char *password_file; /* stream: the URL's password is read from this file */
    char *device;        /* camera, microphone, av */
    char *microphone;    /* av */
    char *format;        /* camera, av */
    char *output;        /* a JSON-lines file the segments and events are appended to */
    int realtime, loop, live;
    double read_timeout, backoff_min, backoff_max;
    double hop, len, fps;
    int width, rate;
    enum avf_rtsp_transport rtsp_transport; /* stream, rtsp:// and rtsps:// URLs */
    int line;       /* of the section header in the file, 0 if not from a file */
    unsigned given; /* keys set so far, one bit each: duplicates are errors */
} avf_source_conf;

typedef struct avf_config {
    char *path; /* the file it came from */
    char *publish;
    char *control; /* NULL: no control socket */
    /* the key was left out and control is a per-user default (AVF_CONTROL_PER_USER):
     * the daemon makes its folder mode 0700 and refuses one that is not its own */
    int control_per_user;
    double status_interval, linger;
    int sndhwm;
    char *model; /* NULL: the installed default; "none": no model */
    char *plugin_dirs;
    char *metrics;     /* NULL: no metrics endpoint */
    char *curve_key;   /* the daemon's CURVE key pair file, or NULL: no CURVE */
    char *curve_allow; /* the allow-list of client public keys (with curve_key) */
    int log_level;
    int max_sources; /* sources running at once, configured and added alike */
    avf_source_conf *sources;
    int nb_sources;
} avf_config;

/* What avf_control_default() chose. */
enum avf_control_default_kind {
    AVF_CONTROL_RUNTIME_DIRECTORY = 0, /* $RUNTIME_DIRECTORY/control: systemd made the folder */
    AVF_CONTROL_PER_USER = 1, /* $XDG_RUNTIME_DIR/avfuse/control or /tmp/avfuse-UID/control */
};

/*
 * The control socket when the configuration has no `control` key, for the daemon
 * and for `avfuse ctl` alike, so that both find the same socket:
 *   $RUNTIME_DIRECTORY/control       under systemd (RuntimeDirectory=avfuse in the
 *                                    units: /run/avfuse/control); the first folder
 *                                    when the variable lists several (':')
 *   $XDG_RUNTIME_DIR/avfuse/control  else, a user's login session
 *   /tmp/avfuse-UID/control          else (UID: the effective user id)
 * An empty variable counts as unset. Writes "ipc://PATH" into buf and returns an
 * avf_control_default_kind, or AVERROR(ENAMETOOLONG) when it does not fit in size
 * (buf then holds an empty string).
 */
int avf_control_default(char *buf, size_t size);

/* Names of the source types, "file" ... "av". */
const char *avf_source_type_name(enum avf_source_type type);

/* Names of the RTSP transports: "tcp", "udp", as libavformat's rtsp_transport takes them. */
const char *avf_rtsp_transport_name(enum avf_rtsp_transport transport);

/* Fills sc with the defaults of docs/configuration.md for a source called name. */
void avf_source_conf_init(avf_source_conf *sc, const char *name);
/* Frees what sc owns (not sc) and zeroes it. */
void avf_source_conf_clear(avf_source_conf *sc);
/* Deep copy; returns 0 or AVERROR(ENOMEM). */
int avf_source_conf_copy(avf_source_conf *dst, const avf_source_conf *src);
/*
 * Sets one key from its text. Returns 0, or AVF_ERR_CONFIG with the reason in why
 * (an unknown or duplicate key, a value out of range, a string longer than its
 * key takes: why then names the key and the length, not the value).
 */
int avf_source_conf_set(avf_source_conf *sc, const char *key, const char *value, char *why,
                        size_t why_size);
/*
 * Checks what one key cannot: required keys, keys that do not fit the type, and a
 * url with stray text (a control character anywhere; for a network URL, whitespace:
 * `url = rtsp://cam/stream  extra`).
 */
int avf_source_conf_check(const avf_source_conf *sc, char *why, size_t why_size);
/* 1 when a and b configure the same source identically (line numbers aside). */
int avf_source_conf_equal(const avf_source_conf *a, const avf_source_conf *b);
/*
 * The URL to open: sc->url, or with password_file the same URL with the file's
 * first line, percent-encoded, as the password of its user. The file is named
 * relative to $CREDENTIALS_DIRECTORY (systemd's LoadCredential=) when that is set
 * and the name has no '/'. It is read at every call, so that a rotated password is
 * picked up at the next connection. On success stores the URL in *url (the caller
 * frees it with avf_source_conf_url_free(), which wipes it) and returns 0; on
 * failure returns a negative error with the reason in why, naming the file, never
 * the password. *url is for the code that opens the input alone: everything shown
 * to people uses sc->url, through avf_redact().
 */
int avf_source_conf_url(const avf_source_conf *sc, char **url, char *why, size_t why_size);
/* Wipes and frees a URL of avf_source_conf_url(); accepts NULL; sets *url = NULL. */
void avf_source_conf_url_free(char **url);
/*
 * 1 when a password_file value names a credential: a name without '/', read from
 * $CREDENTIALS_DIRECTORY, which is set and not empty; 0 when it is read as a path.
 */
int avf_password_file_is_credential(const char *name);
/* 1 when the source is live: it reconnects, and its queues drop instead of wait. */
int avf_source_conf_is_live(const avf_source_conf *sc);

/*
 * Reads and checks path. On success stores a whole configuration in *pc (free it
 * with avf_config_free()) and returns 0; on failure returns a negative error and
 * writes "path:line: reason" (or "path: reason") into why.
 */
int avf_config_load(avf_config **pc, const char *path, char *why, size_t why_size);
void avf_config_free(avf_config **pc);
/*
 * What avfused -n checks beyond the file itself: every password_file can be read
 * now. Returns 0, or AVF_ERR_CONFIG with "path:line: reason" in why.
 */
int avf_config_check_files(const avf_config *c, char *why, size_t why_size);
/* The source called name, or NULL. */
const avf_source_conf *avf_config_find(const avf_config *c, const char *name);

#endif
