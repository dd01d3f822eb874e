/*
 * publisher.h - the one thread that owns the ZeroMQ PUB socket.
 *
 * Any thread hands over a message (topic + JSON); the publisher thread sends it
 * as two frames. ZeroMQ sockets are not thread safe, so nothing else touches the
 * socket. The hand-over queue is bounded and blocking: the publisher never waits
 * on the network (a PUB socket drops for a subscriber whose queue is full instead
 * of blocking), so the queue drains at memory speed and a file source loses
 * nothing on the way to the socket.
 *
 * Drops at the socket: a subscriber whose queue (sndhwm messages) is full misses
 * messages. libzmq counts none of this, so each send first asks the socket to
 * refuse rather than drop (ZMQ_XPUB_NODROP); a refusal means some subscriber is
 * full, is counted as a publish drop of that message's source, and the message is
 * then sent in the ordinary way, so every other subscriber still gets it. libzmq
 * then stops offering messages to the full subscriber until it has caught up, so
 * one refusal stands for a run of messages that subscriber missed; it sees how
 * many from the seq gaps (`avfuse watch` reports them).
 *
 * Shutdown (avf_publisher_close()) sends what is queued, then closes the socket
 * with a finite linger, so a stalled subscriber cannot hang the exit.
 */
#ifndef AVF_PUBLISHER_H
#define AVF_PUBLISHER_H

#include <stddef.h>
#include <stdint.h>

typedef struct avf_publisher avf_publisher;

struct avf_curve_keypair;

/*
 * Creates the PUB socket in ctx (a CURVE server with curve, when not NULL), binds
 * every endpoint of the comma-separated list and starts the thread. Returns 0, or
 * a negative error with the reason in why.
 */
int avf_publisher_open(avf_publisher **pp, void *ctx, const char *endpoints, int sndhwm,
                       int linger_ms, const struct avf_curve_keypair *curve, char *why,
                       size_t why_size);

/*
 * Queues topic + json for sending; takes json (allocated with malloc) in every
 * case. topic is "seg/NAME/", "evt/NAME/" or "status/NAME/". Returns 0, or
 * AVF_EOS once the publisher is closing (json is freed).
 */
int avf_publisher_send(avf_publisher *p, const char *topic, char *json);

/* Publish drops counted for the source called name so far. Any thread. */
uint64_t avf_publisher_drops(avf_publisher *p, const char *name);

/* Sends what is queued, stops the thread, closes the socket (its context's
 * termination then waits at most the linger for subscribers); accepts NULL. */
void avf_publisher_close(avf_publisher **pp);

/*
 * The same, but the publisher stays allocated, for threads that may still hand it
 * messages (abandoned runners, runner.h): avf_publisher_send() refuses them with
 * AVF_EOS from now on, and avf_publisher_drops() still answers. The caller leaks p
 * on purpose, or closes it when no such thread is left. Accepts NULL.
 */
void avf_publisher_shut(avf_publisher *p);

#endif
