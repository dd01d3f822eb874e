#!/usr/bin/env python3
"""A real RTSP camera on loopback for the tests: GStreamer's RTSP server (GstRtspServer).

Usage:
    python3 rtsp_server.py --port P [--path /cam] [--video h264] [--audio pcmu|aac|none]
        [--user U --password PW [--auth basic|digest]] [--no-media]
        [--switch-resolution SECONDS] [--count-file PATH]

Serves H.264 video (videotestsrc, x264enc tune=zerolatency, a keyframe every 10
frames) with G.711 mu-law (mulawenc, rtppcmupay) or AAC (avenc_aac, rtpmp4gpay)
audio, as IP cameras do, on 127.0.0.1:P/path. Prints "ready PORT" on stdout once it
listens, so a test can wait for that line; a test stops it with SIGKILL, as a camera
that loses power, and starts it again on the same port.

--user/--password: the server answers 401 to a client without the password, with a
Basic or a Digest challenge (--auth). --no-media: DESCRIBE, SETUP and PLAY succeed,
then no media flows: valves before the payloaders drop everything from the PLAY
request on, so what goes out is the first buffer of each stream, which the server
held back for PLAY, and RTCP reports (dropping from the start, the server would wait
for data forever before it answers PLAY). --switch-resolution S: the
picture goes from 320x240 to 480x272 after S seconds (a new SPS mid-session), as a
camera whose settings are changed. --count-file PATH: a line is appended per TCP
connection and per RTSP request handled (with SETUP's Transport header), for tests
that count how often a client comes back or check the transport it asked for.

The media is shared (one pipeline for every client) and runs on the wall clock.
Exits 77 when the GStreamer bindings (python3-gi, gir1.2-gst-rtsp-server-1.0) are
missing, 2 on a bad argument.
"""
import argparse
import signal
import sys
import time

try:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtsp", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtsp, GstRtspServer
except (ImportError, ValueError) as e:
    sys.stderr.write("rtsp_server: GStreamer bindings missing: %s\n" % e)
    sys.exit(77)

SIZES = ((320, 240), (480, 272))


def launch_line(args):
    w, h = SIZES[0]
    video = ("videotestsrc is-live=true pattern=ball ! "
             "capsfilter name=size caps=video/x-raw,width=%d,height=%d,framerate=25/1 ! "
             "videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 "
             "bitrate=500 ! video/x-h264,profile=baseline ! " % (w, h))
    if args.no_media:
        video += "valve name=mute0 drop=false ! "
    video += "rtph264pay name=pay0 pt=96 config-interval=1"
    audio = ""
    if args.audio == "pcmu":
        audio = ("audiotestsrc is-live=true wave=sine freq=440 volume=0.3 ! "
                 "audio/x-raw,rate=8000,channels=1 ! mulawenc ! ")
        pay = "rtppcmupay name=pay1 pt=0"
    elif args.audio == "aac":
        audio = ("audiotestsrc is-live=true wave=sine freq=440 volume=0.3 ! "
                 "audio/x-raw,rate=48000,channels=1 ! audioconvert ! avenc_aac ! ")
        pay = "rtpmp4gpay name=pay1 pt=97"
    if audio:
        if args.no_media:
            audio += "valve name=mute1 drop=false ! "
        audio += pay
        return "( %s %s )" % (video, audio)
    return "( %s )" % video


class Factory(GstRtspServer.RTSPMediaFactory):
    def __init__(self, args):
        super().__init__()
        self.args = args
        self.set_launch(launch_line(args))
        self.set_shared(True)
        self.connect("media-configure", self.on_media_configure)

    def on_media_configure(self, _factory, media):
        element = media.get_element()
        if self.args.no_media:
            self.muted = [v for v in (element.get_by_name("mute0"), element.get_by_name("mute1"))
                          if v]
        if self.args.switch_resolution:
            size = element.get_by_name("size")

            def switch():
                w, h = SIZES[1]
                size.set_property("caps", Gst.Caps.from_string(
                    "video/x-raw,width=%d,height=%d,framerate=25/1" % (w, h)))
                print("switched %dx%d" % (w, h), flush=True)
                return False
            GLib.timeout_add(int(self.args.switch_resolution * 1000), switch)


def add_auth(server, factory, args):
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
    if args.auth == "digest":
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        auth.add_digest(args.user, args.password, token)
    else:
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password), token)
    server.set_auth(auth)
    permissions = GstRtspServer.RTSPPermissions()
    permissions.add_permission_for_role("user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS,
                                        True)
    permissions.add_permission_for_role("user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT,
                                        True)
    factory.set_permissions(permissions)


def count_requests(server, path):
    """Appends "TIME EVENT DETAIL" lines to path: TIME on CLOCK_MONOTONIC (Python's
    time.monotonic() in the test reads the same clock), one `connect` line per TCP
    connection and one line per request the server handles (a request refused with
    401 is not handled: it shows in the connection alone)."""
    def log(event, detail=""):
        with open(path, "a") as fh:
            fh.write("%.3f %s %s\n" % (time.monotonic(), event, detail))

    def on_client(_server, client):
        def on_request(_client, ctx, method):
            detail = ""
            if method == "SETUP":
                res, value = ctx.request.get_header(GstRtsp.RTSPHeaderField.TRANSPORT, 0)
                detail = value if res == GstRtsp.RTSPResult.OK else ""
            log(method, detail)
        log("connect")
        for method in ("OPTIONS", "DESCRIBE", "SETUP", "PLAY", "TEARDOWN"):
            client.connect(method.lower() + "-request", on_request, method)
    server.connect("client-connected", on_client)


def mute_on_play(server, factory):
    """--no-media: the payloaders learn their caps from the first buffers (DESCRIBE
    needs them) and the server waits for data to answer PLAY, so the valves close
    once PLAY has been answered ("play-request" is emitted then)."""
    def on_client(_server, client):
        def on_play(_client, _ctx):
            for valve in getattr(factory, "muted", ()):
                valve.set_property("drop", True)
            return GstRtsp.RTSPStatusCode.OK
        client.connect("play-request", on_play)
    server.connect("client-connected", on_client)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/cam")
    parser.add_argument("--video", choices=("h264",), default="h264")
    parser.add_argument("--audio", choices=("pcmu", "aac", "none"), default="pcmu")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--auth", choices=("basic", "digest"), default="basic")
    parser.add_argument("--no-media", action="store_true")
    parser.add_argument("--switch-resolution", type=float, metavar="SECONDS")
    parser.add_argument("--count-file")
    args = parser.parse_args()
    if (args.user is None) != (args.password is None):
        parser.error("--user and --password go together")

    Gst.init(None)
    try:
        # the server would build the pipeline at the first DESCRIBE and answer 503:
        # a missing plugin is said here instead
        Gst.parse_launch(launch_line(args)).set_state(Gst.State.NULL)
    except GLib.Error as e:
        sys.stderr.write("rtsp_server: cannot build the camera's pipeline: %s (tools/setup-deps.sh "
                         "--test installs the GStreamer plugins)\n" % e.message)
        return 1
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = Factory(args)
    if args.user is not None:
        add_auth(server, factory, args)
    if args.count_file:
        count_requests(server, args.count_file)
    if args.no_media:
        mute_on_play(server, factory)
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        sys.stderr.write("rtsp_server: cannot listen on 127.0.0.1:%d\n" % args.port)
        return 1
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    print("ready %d" % args.port, flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
