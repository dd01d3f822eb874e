"""Shared by the integration tests: generating test media with the ffmpeg CLI."""
import os
import subprocess

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
