"""Shared by the integration tests: generating test media with the ffmpeg CLI, and
feeding it through a FIFO that stays open."""
import array
import fcntl
import os
import subprocess
import termios
import threading

FFMPEG = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
FFMPEG_TIMEOUT = 60


def generate(workdir, args, out_name, timeout=FFMPEG_TIMEOUT):
    """Runs ffmpeg ARGS OUT with OUT = workdir/out_name; returns OUT's path.

    Raises RuntimeError, with the command and ffmpeg's stderr, when ffmpeg fails,
    times out or writes nothing."""
    out = os.path.join(workdir, out_name)
    cmd = FFMPEG + args + [out]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError("ffmpeg timed out generating %s: %s" % (out_name, " ".join(cmd)))
    if proc.returncode != 0 or not os.path.isfile(out) or os.path.getsize(out) == 0:
        raise RuntimeError("ffmpeg failed generating %s (rc=%d): %s\n%s"
                           % (out_name, proc.returncode, " ".join(cmd), proc.stderr))
    return out


def generate_bytes(args, timeout=FFMPEG_TIMEOUT):
    """Runs ffmpeg ARGS pipe:1 and returns what it wrote: a stream as a live source
    sends it (Matroska written to a pipe has no size and no index at its end).
    Raises RuntimeError, with ffmpeg's stderr, when it fails or writes nothing."""
    cmd = FFMPEG + args + ["pipe:1"]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError("ffmpeg timed out: %s" % " ".join(cmd))
    if proc.returncode != 0 or not proc.stdout:
        raise RuntimeError("ffmpeg failed (rc=%d): %s\n%s"
                           % (proc.returncode, " ".join(cmd), proc.stderr.decode(errors="replace")))
    return proc.stdout


# 3.6 s of testsrc2 (MJPEG, 25 fps: 90 frames) and a 440 Hz tone (PCM, 48 kHz:
# 172800 samples) in Matroska: video and audio end at exactly 3.600 s, with no
# codec delay or padding, so a stop after the whole stream was taken leaves a last
# segment from 3.0 to 3.6 s on the default 1 s grid, far from any boundary.
HELD_SECONDS = 3.6
HELD_ARGS = ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
             "-f", "lavfi", "-i", "sine=f=440:r=48000", "-t", "%.1f" % HELD_SECONDS,
             "-c:v", "mjpeg", "-q:v", "5", "-c:a", "pcm_s16le", "-f", "matroska"]


class HeldFifo:
    """A FIFO at path that a thread fills with data and then holds open without
    writing more: the reader gets every byte and then blocks, as on a live input that
    has gone quiet, never at an end of file. So a stop (SIGINT, SIGTERM) after the
    reader took everything cuts the input at a known point: the end of data.
    drained() is true once the reader has taken every byte out of the pipe. Nothing
    is written before start(): the reader's open(2) waits until then."""

    def __init__(self, path, data):
        os.mkfifo(path)
        self.path = path
        self.data = data
        self.fd = None
        self.written = threading.Event()
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _run(self):
        try:
            self.fd = os.open(self.path, os.O_WRONLY)  # blocks until a reader opens
            view = memoryview(self.data)
            while view:
                view = view[os.write(self.fd, view):]
            self.written.set()
        except OSError as e:
            self.error = e

    def drained(self):
        if not self.written.is_set():
            return False
        unread = array.array("i", [0])
        fcntl.ioctl(self.fd, termios.FIONREAD, unread)
        return unread[0] == 0

    def close(self):
        if not self.thread.is_alive() and self.fd is None:
            return
        if self.fd is None:  # nobody opened it: open our end to let the thread go
            try:
                os.close(os.open(self.path, os.O_RDONLY | os.O_NONBLOCK))
            except OSError:
                pass
        self.thread.join(5)
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
