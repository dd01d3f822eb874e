#!/usr/bin/env python3
"""Prints the tag events an avfused daemon publishes, one line per event.

    python3 subscriber.py [ENDPOINT] [--source NAME]

Connects a ZeroMQ SUB socket to ENDPOINT (default tcp://127.0.0.1:5560, the
daemon's default `publish`), subscribes to the topic `evt/` (every source) or
`evt/NAME/` (one source: the trailing '/' keeps "lobby" from matching "lobby2"),
and prints each avfuse.event.v1 message (docs/events.md) as

    12:00:17  lobby  speech   start  t=3.000 s
    12:00:23  lobby  speech   end    t=8.000 s  (5.000 s)

that is: when it arrived (local time), the source, the tag, start or end, and where
on the source's timeline it happened. Ctrl-C (or SIGTERM) ends it, exit status 0.
Needs pyzmq (Debian: python3-zmq).
"""
import argparse
import json
import signal
import sys
import time

import zmq


def describe(event):
    """One line for one event message."""
    line = "%s  %s  %-9s %-5s  t=%.3f s" % (time.strftime("%H:%M:%S"), event["source"],
                                           event["tag"], event["event"], event["t"])
    if event["event"] == "end":
        line += "  (%.3f s)" % event["duration"]
    return line


def main():
    parser = argparse.ArgumentParser(description="Print the tag events of an avfused daemon.")
    parser.add_argument("endpoint", nargs="?", default="tcp://127.0.0.1:5560",
                        help="the daemon's publish endpoint (default: %(default)s)")
    parser.add_argument("--source", help="only this source's events")
    args = parser.parse_args()

    # Ctrl-C and SIGTERM raise KeyboardInterrupt, even where a shell started this
    # script in the background with SIGINT ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    topic = "evt/%s/" % args.source if args.source else "evt/"
    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SUBSCRIBE, topic.encode())
    sock.connect(args.endpoint)  # returns at once: libzmq connects (and reconnects) itself
    try:
        while True:
            # a message is two frames: the topic and one JSON object
            _topic, body = sock.recv_multipart()
            try:
                event = json.loads(body)
                if event.get("schema") != "avfuse.event.v1":
                    continue  # a later version: this script knows v1 only
                print(describe(event), flush=True)
            except (ValueError, KeyError, TypeError) as err:
                print("subscriber: skipped a malformed message: %s" % err, file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        ctx.term()


if __name__ == "__main__":
    main()
