# SPDX-License-Identifier: Apache-2.0
"""HTTPS: `[http] tls_certificate` / `tls_key` (PEM files). The webhook and
the SSE stream are served over TLS (the SSE sink writes through the TLS
stream it takes from libsoup, never the raw socket), checked with curl
against a self-signed certificate made here with the openssl CLI; bad
certificate paths are configuration errors naming the file and the key."""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from cdviz_testlib import Pipeline, cdevent

CURL = shutil.which("curl")
OPENSSL = shutil.which("openssl")

CONFIG = """
[http]
tls_certificate = "{cert}"
tls_key = "{key}"
{extra}

[sources.in]
enabled = true
extractor = {{ type = "webhook", id = "in" }}

[sinks.sse]
type = "sse"
id = "events"
"""


# Under AddressSanitizer, LeakSanitizer's tracer crashes (signal 11) while it
# scans the thread-local storage of a thread of the GnuTLS backend at exit
# (LSAN_OPTIONS=use_tls=0 avoids the crash but then reports GLib's
# thread-local allocations as leaks): the HTTPS pipelines run without leak
# detection; everything else about them is still checked.
SAN_ENV = ({"ASAN_OPTIONS": re.sub(r"detect_leaks=1", "detect_leaks=0",
                                   os.environ["ASAN_OPTIONS"])}
           if "ASAN_OPTIONS" in os.environ else None)


def event(event_id):
    ev = json.loads(cdevent("build_started"))
    ev["context"]["id"] = event_id
    return json.dumps(ev).encode()


def make_certificate(directory):
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-days", "2", "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@unittest.skipUnless(CURL and OPENSSL, "needs curl and openssl")
class Https(unittest.TestCase):
    EXTRA = ""   # more [http] keys (test_http_threads: threads)

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="cdviz-tls-")
        cls.cert, cls.key = make_certificate(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.p = Pipeline(CONFIG.format(cert=self.cert, key=self.key, extra=self.EXTRA), env=SAN_ENV)
        self.addCleanup(self.p.close)
        self.assertIn("Listening on https://", self.p.stderr())
        self.base = "https://127.0.0.1:%d" % self.p.port

    def post(self, event_id):
        r = subprocess.run([CURL, "-sS", "--cacert", self.cert, "-o", "/dev/null",
                            "-w", "%{http_code}", "-H", "Content-Type: application/json",
                            "--data-binary", "@-", self.base + "/webhook/in"],
                           input=event(event_id), capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return int(r.stdout)

    def test_webhook_over_https(self):
        self.assertEqual(self.post("tls-1"), 201)

    def test_plain_http_is_not_served(self):
        s = socket.create_connection(("127.0.0.1", self.p.port), timeout=10)
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except (ConnectionResetError, socket.timeout):
                pass
        finally:
            s.close()
        self.assertFalse(data.startswith(b"HTTP/1.1 200"), data[:100])
        # and the server goes on
        self.assertEqual(self.post("tls-after-plain"), 201)

    def test_sse_over_https(self):
        curl = subprocess.Popen([CURL, "-sS", "-N", "--cacert", self.cert,
                                 self.base + "/sse/events"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            # Wait until the stream is open: the sink counts its clients.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                r = subprocess.run([CURL, "-sS", "--cacert", self.cert, self.base + "/metrics"],
                                   capture_output=True, timeout=10)
                if b'cdviz_sse_clients{sink="sse",id="events"} 1' in r.stdout:
                    break
                time.sleep(0.05)
            ids = ["tls-sse-%d" % i for i in range(50)]
            for i in ids:
                self.assertEqual(self.post(i), 201)
            # A clean shutdown ends the stream with its last chunk: curl
            # exits 0 with every event.
            self.assertEqual(self.p.stop(), 0)
            out, err = curl.communicate(timeout=20)
        finally:
            if curl.poll() is None:
                curl.kill()
                curl.wait()
        self.assertEqual(curl.returncode, 0, err)
        got = [line[4:].decode() for line in out.split(b"\n") if line.startswith(b"id: ")]
        self.assertEqual(got, ids)
        self.assertIn(b"event: cdevent\n", out)


def handshake(port, *args):
    """Whether an openssl s_client handshake with these options succeeds;
    returns (ok, protocol, cipher)."""
    r = subprocess.run([OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port,
                        "-servername", "127.0.0.1"] + list(args),
                       input=b"", capture_output=True, timeout=30)
    out = r.stdout.decode("latin-1")
    m = re.search(r"New, (\S+), Cipher is (\S+)", out)
    if m is None or m.group(2) == "(NONE)":
        return False, None, None
    return True, m.group(1), m.group(2)


@unittest.skipUnless(OPENSSL, "needs openssl")
class TlsPolicy(unittest.TestCase):
    EXTRA = ""
    """[http] tls_min_version: TLS 1.0/1.1 and static-RSA or CBC suites are
    refused by default; 1.3 refuses 1.2 too. The environment's
    G_TLS_GNUTLS_PRIORITY, when set, wins (and is said so in the log)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="cdviz-tls-")
        cls.cert, cls.key = make_certificate(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def start(self, extra="", env=None):
        config = CONFIG.format(cert=self.cert, key=self.key, extra=self.EXTRA).replace(
            "[http]\n", "[http]\n%s\n" % extra)
        environment = dict(SAN_ENV or {})
        environment.update(env or {})
        # Empty counts as unset (the test itself may run with it set).
        p = Pipeline(config, env=dict(environment, G_TLS_GNUTLS_PRIORITY=""))
        self.addCleanup(p.close)
        return p

    def test_default_refuses_old_versions_and_weak_suites(self):
        p = self.start()
        # TLS 1.1 offered for real (OpenSSL's own level would forbid it).
        self.assertFalse(handshake(p.port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")[0])
        self.assertFalse(handshake(p.port, "-tls1", "-cipher", "DEFAULT@SECLEVEL=0")[0])
        # Static RSA key exchange, and CBC even with ECDHE.
        self.assertFalse(handshake(p.port, "-tls1_2", "-cipher", "AES128-SHA")[0])
        self.assertFalse(handshake(p.port, "-tls1_2", "-cipher", "AES256-GCM-SHA384")[0])
        self.assertFalse(handshake(p.port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA")[0])
        ok, protocol, cipher = handshake(p.port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")
        self.assertTrue(ok)
        self.assertEqual((protocol, cipher), ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"))
        self.assertEqual(handshake(p.port, "-tls1_3")[:2], (True, "TLSv1.3"))

    def test_min_version_1_3(self):
        p = self.start('tls_min_version = "1.3"')
        self.assertFalse(handshake(p.port, "-tls1_2")[0])
        self.assertEqual(handshake(p.port, "-tls1_3")[:2], (True, "TLSv1.3"))

    def test_environment_wins(self):
        environment = dict(SAN_ENV or {}, G_TLS_GNUTLS_PRIORITY="NORMAL:+VERS-TLS1.1")
        p = Pipeline(CONFIG.format(cert=self.cert, key=self.key, extra=self.EXTRA), env=environment)
        self.addCleanup(p.close)
        self.assertIn("using G_TLS_GNUTLS_PRIORITY from the environment", p.stderr())
        self.assertTrue(handshake(p.port, "-tls1_2", "-cipher", "AES128-SHA")[0])

    def test_unknown_version_refused(self):
        p = Pipeline(CONFIG.format(cert=self.cert, key=self.key, extra=self.EXTRA).replace(
            "[http]\n", '[http]\ntls_min_version = "1.1"\n'), expect_start=False)
        try:
            self.assertNotEqual(p.wait(20), 0)
            err = p.stderr()
        finally:
            p.close()
        self.assertIn("http.tls_min_version", err)
        self.assertIn("“1.1” is not a TLS version this server offers", err)
        self.assertNotIn("Listening", err)


@unittest.skipUnless(OPENSSL, "needs openssl")
class BadCertificates(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="cdviz-tls-")
        cls.cert, cls.key = make_certificate(cls.tmp.name)
        cls.garbage = os.path.join(cls.tmp.name, "garbage.pem")
        with open(cls.garbage, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def fails(self, http, *expected):
        p = Pipeline("[http]\n%s\n[sinks.d]\ntype = \"debug\"\n" % http, expect_start=False)
        try:
            code = p.wait(20)
            err = p.stderr()
        finally:
            p.close()
        self.assertNotEqual(code, 0)
        self.assertNotIn("Listening", err)
        for text in expected:
            self.assertIn(text, err)
        return err

    def test_missing_certificate_file(self):
        missing = os.path.join(self.tmp.name, "nope.pem")
        self.fails('tls_certificate = "%s"\ntls_key = "%s"' % (missing, self.key),
                   "http.tls_certificate", missing)

    def test_missing_key_file(self):
        missing = os.path.join(self.tmp.name, "nokey.pem")
        self.fails('tls_certificate = "%s"\ntls_key = "%s"' % (self.cert, missing),
                   "http.tls_key", missing)

    def test_garbage_certificate(self):
        self.fails('tls_certificate = "%s"\ntls_key = "%s"' % (self.garbage, self.key),
                   "http.tls_certificate", self.garbage)

    def test_key_is_not_a_key(self):
        self.fails('tls_certificate = "%s"\ntls_key = "%s"' % (self.cert, self.garbage),
                   "http.tls_key", self.garbage)

    def test_certificate_without_key(self):
        self.fails('tls_certificate = "%s"' % self.cert, "http.tls_certificate", "http.tls_key")

    def test_key_without_certificate(self):
        self.fails('tls_key = "%s"' % self.key, "http.tls_key", "http.tls_certificate")

    def test_error_names_the_config_file(self):
        missing = os.path.join(self.tmp.name, "nope.pem")
        self.fails('tls_certificate = "%s"\ntls_key = "%s"' % (missing, self.key),
                   "config.toml", "http.tls_certificate")


if __name__ == "__main__":
    unittest.main()
