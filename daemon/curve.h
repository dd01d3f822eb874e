/*
 * curve.h - ZeroMQ CURVE: key files, the client allow-list and its ZAP handler.
 *
 * With CURVE on, the daemon's PUB and control sockets encrypt and authenticate
 * every connection. libzmq accepts ANY client key unless a ZAP handler says
 * otherwise, so the daemon never turns CURVE on without one: avf_zap_start() runs
 * the handler (RFC 27) on inproc://zeromq.zap.01 of the daemon's context and
 * answers 200 only for the public keys of the allow-list.
 *
 * Files, as `avfuse keygen NAME` writes them: NAME.key (mode 0600) holds
 * "public = <Z85>" and "secret = <Z85>" lines; NAME.pub holds the public key
 * alone. An allow-list file holds one Z85 public key per line (blank lines and
 * '#' comments allowed). Secret keys are never written to any log.
 */
#ifndef AVF_CURVE_H
#define AVF_CURVE_H

#include <stddef.h>

#define AVF_Z85_KEY_LEN 40 /* a 32-byte key in Z85 */

typedef struct avf_curve_keypair {
    char public_key[AVF_Z85_KEY_LEN + 1];
    char secret_key[AVF_Z85_KEY_LEN + 1];
} avf_curve_keypair;

/* Reads a NAME.key file. Returns 0, or a negative error with the reason in why
 * (which never contains key material). A key file others may read is refused. */
int avf_curve_load_keypair(avf_curve_keypair *kp, const char *path, char *why, size_t why_size);

/* Reads a NAME.pub file (its one key) into key. */
int avf_curve_load_public(char key[AVF_Z85_KEY_LEN + 1], const char *path, char *why,
                          size_t why_size);

/* Makes sock a CURVE server (before bind) with kp. Returns 0 or -errno. */
int avf_curve_server(void *sock, const avf_curve_keypair *kp);

/* Makes sock a CURVE client of server_public with the client's own kp (before
 * connect). Returns 0 or -errno. */
int avf_curve_client(void *sock, const char *server_public, const avf_curve_keypair *kp);

typedef struct avf_zap avf_zap;

/*
 * Loads the allow-list at path and starts the ZAP handler in ctx. Returns 0, or a
 * negative error with why (an unreadable file, a line that is not a key, an empty
 * list).
 */
int avf_zap_start(avf_zap **pz, void *ctx, const char *allow_path, char *why, size_t why_size);

/* Clients refused so far. Any thread. */
unsigned long avf_zap_refused(avf_zap *z);

/*
 * Joins the handler thread and frees; call after zmq_ctx_shutdown() (or term) of
 * its context, which ends the thread. Accepts NULL.
 */
void avf_zap_free(avf_zap **pz);

#endif
