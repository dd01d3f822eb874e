#!/usr/bin/env python3
"""Secrets stay in: a source's password and secret query values never leave avfused.

Usage:
    AVFUSE_BIN=build/tools/avfuse AVFUSED_BIN=build/daemon/avfused \
        python3 tests/integration/test_secrets.py -v

A stream source whose URL carries a password and a token connects to a port where
nothing listens, so it reconnects with an error that names the URL; sources with
password_file read their password from $CREDENTIALS_DIRECTORY and connect to a small
HTTP server here that asks for Basic authentication (the right password gets the
media, a wrong one a 401). Then every channel a person or a program reads is
searched for each secret, raw, percent-encoded and percent-decoded, and for its
first characters: every published message (a SUB socket), avfused's debug log,
`avfuse ctl status` and `sources`, a refused `ctl add`, the /metrics page,
`avfuse watch` (readable and --json), `avfuse analyze` and `avfused -n`.

Every wait is bounded; the helpers (Daemon, Subscriber) are test_daemon.py's.
"""
import base64
import http.server
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import media  # noqa: E402
import test_daemon as td  # noqa: E402

AVFUSE = os.environ.get("AVFUSE_BIN")
AVFUSED = os.environ.get("AVFUSED_BIN")

URL_PW = "S3cr!tPw"  # in the URL as S3cr%21tPw
TOKEN = "T0kenValue"
FILE_PW = "F1le:Pa$$/w@rd%x"  # needs percent-encoding in a URL: ':' '/' '@' '%'
WRONG_PW = "Wr0ngPassw0rd"
ADD_PW = "AddPw99x"
ANALYZE_PW = "AnPw77x"
SECRETS = (URL_PW, TOKEN, FILE_PW, WRONG_PW, ADD_PW, ANALYZE_PW)

WORKDIR = None
CREDS = None
MEDIA = {}


def forms(secret):
    """The spellings a leak could take: raw, encoded, and the first characters."""
    out = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote(secret),
           urllib.parse.quote_plus(secret), secret[:4]}
    return out


def setUpModule():
    global WORKDIR, CREDS
    for name, value in (("AVFUSE_BIN", AVFUSE), ("AVFUSED_BIN", AVFUSED)):
        if not value or not os.access(value, os.X_OK):
            raise RuntimeError("%s must name the binary, e.g. AVFUSE_BIN=build/tools/avfuse "
                               "AVFUSED_BIN=build/daemon/avfused" % name)
    WORKDIR = tempfile.mkdtemp(prefix="avfuse-secrets-")
    td.WORKDIR = WORKDIR
    td.AVFUSED = AVFUSED
    td.AVFUSE = AVFUSE
    MEDIA["ts"] = media.generate(WORKDIR, [
        "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000", "-t", "3",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-c:a", "aac"], "clip.ts")
    CREDS = os.path.join(WORKDIR, "credentials")
    os.mkdir(CREDS, 0o700)
    for name, pw in (("cam-pw", FILE_PW), ("wrong-pw", WRONG_PW)):
        with open(os.path.join(CREDS, name), "w") as fh:
            fh.write(pw + "\n")


def tearDownModule():
    shutil.rmtree(WORKDIR, ignore_errors=True)


class AuthServer:
    """HTTP with Basic authentication: admin and FILE_PW get the clip, others a 401."""

    def __init__(self, testcase):
        expect = "Basic " + base64.b64encode(("admin:" + FILE_PW).encode()).decode()
        with open(MEDIA["ts"], "rb") as fh:
            body = fh.read()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.headers.get("Authorization") != expect:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="camera"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "video/mp2t")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        testcase.addCleanup(self.close)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def run(args, timeout=30, env=None):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, env=env)


def run_for(args, seconds):
    """Runs a command that does not end by itself for a while; its (stdout, stderr)."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(seconds)
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


class SecretsTestCase(unittest.TestCase):
    def assert_clean(self, text, where):
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, text, where)
        for secret in SECRETS:
            for form in forms(secret):
                i = text.find(form)
                self.assertEqual(i, -1, "%s shows a secret (%r): ...%s..." % (
                    where, form, text[max(0, i - 80):i + 40]))

    def messages_text(self, sub):
        return "\n".join("%s %s" % (t, m) for _, t, m in sub.snapshot())

    def last_error(self, sub, source):
        errors = [m["error"] for m in sub.of("status", source) if m.get("error")]
        return errors[-1] if errors else None


class TestUrlSecrets(SecretsTestCase):
    def test_every_channel(self):
        dead = td.free_port()
        metrics = td.free_port()
        url = "http://user:S3cr%%21tPw@127.0.0.1:%d/x?token=%s&q=1" % (dead, TOKEN)
        d = td.Daemon(self, {"cam": {"type": "stream", "url": url, "read_timeout": "1",
                                     "backoff_min": "0.1", "backoff_max": "0.3"}},
                      "metrics = 127.0.0.1:%d\n" % metrics, verbose=2)
        sub = td.Subscriber(d.endpoint)
        self.addCleanup(sub.close)
        watch_out = {}

        def watch(kind, args):
            watch_out[kind] = run_for([AVFUSE, "watch"] + args + [d.endpoint], 3)

        watchers = [threading.Thread(target=watch, args=(k, a))
                    for k, a in (("readable", []), ("json", ["--json"]))]
        for w in watchers:
            w.start()
        sub.wait(lambda: sub.of("status", "cam") and
                 sum(1 for m in sub.of("status", "cam") if m["state"] == "reconnecting") >= 3,
                 20, "three reconnects")
        error = self.last_error(sub, "cam")
        self.assertIsNotNone(error)
        self.assertIn("127.0.0.1:%d" % dead, error)
        self.assertIn("***", error)
        ctl = ["-s", "ipc://" + d.control]
        status = run([AVFUSE, "ctl"] + ctl + ["status"])
        self.assertEqual(status.returncode, 0, status.stderr)
        self.assertIn("***", status.stdout)
        sources = run([AVFUSE, "ctl"] + ctl + ["sources"])
        self.assertEqual(sources.returncode, 0, sources.stderr)
        self.assertIn("user:***@127.0.0.1", sources.stdout)
        self.assertIn("token=***&q=1", sources.stdout)
        refused = run([AVFUSE, "ctl"] + ctl + [
            "add", "bad", "type=file", "url=http://u:%s@127.0.0.1:1/x?api_key=%s" % (
                ADD_PW, TOKEN)])
        self.assertEqual(refused.returncode, 1)
        self.assertIn("not a local file", refused.stderr)
        added = run([AVFUSE, "ctl"] + ctl + [
            "add", "other", "type=stream", "url=rtsp://u:%s@127.0.0.1:%d/y" % (ADD_PW, dead)])
        self.assertEqual(added.returncode, 0, added.stderr)
        sub.wait(lambda: self.last_error(sub, "other"), 20, "the added source's error")
        sources2 = run([AVFUSE, "ctl", "--json"] + ctl + ["sources"])
        self.assertIn("u:***@127.0.0.1", sources2.stdout)
        time.sleep(0.6)  # a status tick renders the metrics page
        page = run(["curl", "-sS", "http://127.0.0.1:%d/metrics" % metrics])
        self.assertEqual(page.returncode, 0, page.stderr)
        self.assertIn('avfuse_reconnects_total{source="cam"}', page.stdout)
        for w in watchers:
            w.join(20)
        rc, _ = d.terminate()
        self.assertEqual(rc, 0)
        log = d.stderr()
        self.assertIn("***", log)
        self.assertIn("127.0.0.1:%d" % dead, log)
        # what is no secret stays whole: an endpoint's port is no password
        self.assertIn("publishing on %s," % d.endpoint, log)
        self.assertIn(" status ", watch_out["readable"][0])
        self.assertIn("avfuse.status.v1", watch_out["json"][0])
        for where, text in (("the published messages", self.messages_text(sub)),
                            ("the log", log),
                            ("ctl status", status.stdout + status.stderr),
                            ("ctl sources", sources.stdout + sources.stderr),
                            ("ctl sources --json", sources2.stdout + sources2.stderr),
                            ("ctl add's refusal", refused.stdout + refused.stderr),
                            ("ctl add", added.stdout + added.stderr),
                            ("/metrics", page.stdout),
                            ("avfuse watch", "".join(watch_out["readable"])),
                            ("avfuse watch --json", "".join(watch_out["json"]))):
            self.assert_clean(text, where)


class TestPasswordFile(SecretsTestCase):
    def test_password_from_credentials_directory(self):
        server = AuthServer(self)
        metrics = td.free_port()
        base = "http://admin@127.0.0.1:%d/cam" % server.port
        live = {"type": "stream", "read_timeout": "2", "backoff_min": "0.1",
                "backoff_max": "0.3"}
        env = dict(os.environ, CREDENTIALS_DIRECTORY=CREDS)
        d = td.Daemon(self, {"good": dict(live, url=base, password_file="cam-pw"),
                             "wrong": dict(live, url=base, password_file="wrong-pw"),
                             "missing": dict(live, url=base, password_file="missing-pw")},
                      "metrics = 127.0.0.1:%d\n" % metrics, env=env, verbose=2)
        sub = td.Subscriber(d.endpoint)
        self.addCleanup(sub.close)
        sub.wait(lambda: sub.segments("good"), 30, "the right password's segments")
        sub.wait(lambda: self.last_error(sub, "wrong") and self.last_error(sub, "missing"),
                 20, "the wrong and the missing password's errors")
        self.assertIn("401", self.last_error(sub, "wrong"))
        missing = self.last_error(sub, "missing")
        self.assertIn(os.path.join(CREDS, "missing-pw"), missing)
        self.assertIn("password_file", missing)
        status = run([AVFUSE, "ctl", "-s", "ipc://" + d.control, "status"])
        sources = run([AVFUSE, "ctl", "-s", "ipc://" + d.control, "sources"])
        self.assertIn("admin@127.0.0.1", sources.stdout)
        page = run(["curl", "-sS", "http://127.0.0.1:%d/metrics" % metrics])
        watch_out = run_for([AVFUSE, "watch", d.endpoint], 2)
        rc, _ = d.terminate()
        self.assertEqual(rc, 0)
        for where, text in (("the published messages", self.messages_text(sub)),
                            ("the log", d.stderr()),
                            ("ctl status", status.stdout + status.stderr),
                            ("ctl sources", sources.stdout + sources.stderr),
                            ("/metrics", page.stdout),
                            ("avfuse watch", "".join(watch_out))):
            self.assert_clean(text, where)

    def test_rotated_password_is_read_at_the_next_connection(self):
        server = AuthServer(self)
        pwfile = os.path.join(WORKDIR, "rotating-pw")
        with open(pwfile, "w") as fh:
            fh.write(WRONG_PW + "\n")
        d = td.Daemon(self, {"cam": {"type": "stream", "url": "http://admin@127.0.0.1:%d/c" %
                                     server.port, "password_file": pwfile, "read_timeout": "2",
                                     "backoff_min": "0.1", "backoff_max": "0.3"}}, verbose=2)
        sub = td.Subscriber(d.endpoint)
        self.addCleanup(sub.close)
        sub.wait(lambda: self.last_error(sub, "cam"), 20, "the wrong password's error")
        self.assertEqual(sub.segments("cam"), [])
        with open(pwfile, "w") as fh:
            fh.write(FILE_PW + "\n")
        sub.wait(lambda: sub.segments("cam"), 30, "segments with the new password")
        self.assertEqual(d.terminate()[0], 0)
        self.assert_clean(self.messages_text(sub) + d.stderr(), "messages and log")


class TestCommands(SecretsTestCase):
    def test_analyze(self):
        url = "http://u:%s@127.0.0.1:1/x?token=%s" % (ANALYZE_PW, TOKEN)
        proc = run([AVFUSE, "analyze", "-v", "-v", url])
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("127.0.0.1:1", proc.stderr)
        self.assert_clean(proc.stdout + proc.stderr, "avfuse analyze")

    def check(self, sources, env=None):
        d = tempfile.mkdtemp(dir=WORKDIR)
        conf = os.path.join(d, "avfuse.conf")
        text = "[daemon]\ncontrol = none\n"
        for name, keys in sources.items():
            text += "[source %s]\n" % name + "".join("%s = %s\n" % kv for kv in keys.items())
        with open(conf, "w") as fh:
            fh.write(text)
        return run([AVFUSED, "-n", "-c", conf], env=env)

    def test_check_refuses_without_echoing_secrets(self):
        url = "http://user:S3cr%%21tPw@127.0.0.1:1/x?token=%s" % TOKEN
        proc = self.check({"a": {"type": "file", "url": url}})
        self.assertEqual(proc.returncode, 1)
        self.assertIn("is not a local file", proc.stderr)
        self.assertIn("user:***@127.0.0.1", proc.stderr)
        self.assert_clean(proc.stdout + proc.stderr, "avfused -n")

    def test_check_password_file(self):
        env = dict(os.environ, CREDENTIALS_DIRECTORY=CREDS)
        url = "rtsp://admin@127.0.0.1:1/s"
        ok = self.check({"a": {"type": "stream", "url": url, "password_file": "cam-pw"}}, env)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        missing = self.check({"a": {"type": "stream", "url": url, "password_file": "nope"}},
                             env)
        self.assertEqual(missing.returncode, 1)
        self.assertIn(os.path.join(CREDS, "nope"), missing.stderr)
        both = self.check({"a": {"type": "stream", "password_file": "cam-pw",
                                 "url": "rtsp://admin:%s@127.0.0.1:1/s" % ADD_PW}}, env)
        self.assertEqual(both.returncode, 1)
        self.assertIn("password_file", both.stderr)
        nouser = self.check({"a": {"type": "stream", "password_file": "cam-pw",
                                   "url": "rtsp://127.0.0.1:1/s"}}, env)
        self.assertEqual(nouser.returncode, 1)
        self.assertIn("user", nouser.stderr)
        for proc in (ok, missing, both, nouser):
            self.assert_clean(proc.stdout + proc.stderr, "avfused -n")


if __name__ == "__main__":
    unittest.main()
