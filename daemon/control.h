/*
 * control.h - the control socket: JSON requests in, JSON replies out.
 *
 * The protocol is docs/control.md. avf_control_handle() is the whole command
 * interpreter, a pure function of the request and the daemon's state, so it is
 * tested (and fuzzed) without a socket. The socket itself is a ZeroMQ REP on an
 * ipc:// path, created mode 0660, and refuses messages over AVF_CONTROL_MAX_REQUEST.
 */
#ifndef AVF_CONTROL_H
#define AVF_CONTROL_H

#include <stddef.h>

#include <jansson.h>

#include "daemon/sources.h"

#define AVF_CONTROL_MAX_REQUEST 65536

typedef struct avf_control_ops {
    avf_sources *sources;
    void *opaque;
    /* The "daemon" object of the status reply (a new reference). */
    json_t *(*daemon_info)(void *opaque);
    /* Reloads the configuration file; fills report as avf_sources_apply() does.
     * Returns 0, or a negative error with the reason in why. */
    int (*reload)(void *opaque, json_t *report, char *why, size_t why_size);
} avf_control_ops;

/* Answers one request; returns the reply (malloc'ed JSON), NULL only when out of memory. */
char *avf_control_handle(const char *request, size_t size, const avf_control_ops *ops);

/*
 * Checks the folder the socket file of endpoint (ipc://PATH) goes into, before a
 * bind, so that a run fails early and `avfused -n` fails where a run would; other
 * transports and abstract names (ipc://@NAME) pass. Refused: a path too long for a
 * unix socket; a folder that does not exist or that the daemon cannot create
 * files in. With per_user (the per-user default, see avf_control_default()), a
 * missing folder is made mode 0700 when create is set, or must be creatable when
 * it is not (-n creates nothing), and an existing one must be a folder of the
 * effective user that group and others cannot write (else another user could
 * have put a socket of theirs there). Returns 0, or a negative errno with
 * "control socket folder DIR: reason" in why.
 */
int avf_control_check_dir(const char *endpoint, int per_user, int create, char *why,
                          size_t why_size);

struct avf_curve_keypair;

/*
 * Binds a REP socket of ctx at endpoint (ipc://PATH), a CURVE server with curve
 * when not NULL: the socket file is created mode 0660. Returns the socket, or NULL
 * with the reason in why.
 */
void *avf_control_open(void *ctx, const char *endpoint, const struct avf_curve_keypair *curve,
                       char *why, size_t why_size);

#endif
