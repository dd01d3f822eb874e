/*
 * prometheus.h - the optional Prometheus endpoint: the status counters as text.
 *
 * Off by default (`[daemon] metrics`), loopback by default when on. The main thread
 * renders a fresh page from every source's status each status_interval
 * (avf_metrics_update()); the endpoint's own thread only serves the latest page,
 * so it never touches the sources. Up to 256 clients at once, each closed when
 * it has not sent a whole request within 5 s of connecting (or of its last
 * response), so slow clients cannot keep the page from a scraper. Format:
 * Prometheus text exposition 0.0.4.
 */
#ifndef AVF_PROMETHEUS_H
#define AVF_PROMETHEUS_H

#include <stddef.h>

#include <jansson.h>

typedef struct avf_metrics avf_metrics;

/*
 * Renders the page for an array of avfuse.status.v1 objects. Returns malloc'ed
 * text, or NULL when out of memory.
 */
char *avf_metrics_render(const json_t *statuses, double uptime_s);

/*
 * Serves GET /metrics on listen: "PORT" (127.0.0.1), "HOST:PORT" with an IPv4
 * address, or "[IPv6]:PORT". Returns 0, or a negative error with the reason in why.
 */
int avf_metrics_start(avf_metrics **pm, const char *listen, char *why, size_t why_size);

/* Replaces the page served (takes text, allocated with malloc). */
void avf_metrics_update(avf_metrics *m, char *text);

/* Stops serving and frees; accepts NULL. */
void avf_metrics_stop(avf_metrics **pm);

#endif
