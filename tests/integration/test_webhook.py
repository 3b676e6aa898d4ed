# SPDX-License-Identifier: Apache-2.0
"""The webhook source (plugins/webhook), end to end: the real program on a
loopback port, driven over raw sockets."""
import base64
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import unittest

from cdviz_testlib import (LISTEN_RE, PLUGIN_DIR, PROGRAM, Pipeline, cdevent,
                           read_response, send_request)

HELPERS_DIR = os.environ.get("CDVIZ_WEBHOOK_TEST_PLUGIN_DIR", "build/tests/webhook-plugin")
HELPERS = ("--plugin-dir", HELPERS_DIR)

BASIC = """
[sources.hook]
enabled = true

[sources.hook.extractor]
type = "webhook"
id = "in"

[sinks.out]
type = "debug"
"""

CID_RE = re.compile(r"^bafkrei[a-z2-7]{52}$")
TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def python_cid(body):
    """Reference content id: CIDv1 raw sha2-256 of the sorted compact JSON
    without context.id, base32 lower unpadded, prefix 'b'."""
    body = json.loads(json.dumps(body))
    body["context"].pop("id", None)
    data = json.dumps(body, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")
    cid = bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(cid).decode("ascii").lower().rstrip("=")


def stdout_lines(p, n, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [l for l in p.stdout().splitlines() if l.strip()]
        if len(lines) >= n:
            return lines
        time.sleep(0.02)
    raise AssertionError("expected %d lines on stdout, got:\n%s\nstderr:\n%s"
                         % (n, p.stdout(), p.stderr()))


def error_detail(test, body):
    doc = json.loads(body)
    test.assertEqual(set(doc), {"title", "status", "detail"})
    return doc["detail"]


class WebhookBasics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.p = Pipeline(BASIC)

    @classmethod
    def tearDownClass(cls):
        cls.p.close()

    def post(self, body, headers=None, path="/webhook/in"):
        return self.p.request("POST", path, body, headers)

    def test_201_event_reaches_sink_unchanged(self):
        raw = cdevent("build_started")
        before = len([l for l in self.p.stdout().splitlines() if l.strip()])
        status, headers, body = self.post(raw, {"Content-Type": "application/json"})
        self.assertEqual(status, 201, body)
        self.assertEqual(body, b"")
        line = stdout_lines(self.p, before + 1)[before]
        # Everything was present: nothing changes, not even the key order.
        pairs = lambda text: json.loads(text, object_pairs_hook=lambda p: p)
        self.assertEqual(pairs(line), pairs(raw))

    def test_201_normalised_fields(self):
        event = {"context": {"type": "dev.cdevents.build.started.0.2.0", "version": "0.4.1"},
                 "subject": {"id": "b1", "content": {"name": "é ü"}}}
        before = len([l for l in self.p.stdout().splitlines() if l.strip()])
        status, _, body = self.post(json.dumps(event).encode())
        self.assertEqual(status, 201, body)
        got = json.loads(stdout_lines(self.p, before + 1)[before])
        ctx = got["context"]
        self.assertRegex(ctx["timestamp"], TIMESTAMP_RE)
        self.assertEqual(ctx["source"], "http://127.0.0.1:%d/?source=hook" % self.p.port)
        self.assertRegex(ctx["id"], CID_RE)
        # The id is computed over the event with timestamp and source filled.
        self.assertEqual(ctx["id"], python_cid(got))
        self.assertEqual(got["subject"], event["subject"])

    def test_201_id_zero_and_empty_replaced(self):
        for id_value in ("0", ""):
            event = json.loads(cdevent("build_started"))
            event["context"]["id"] = id_value
            before = len([l for l in self.p.stdout().splitlines() if l.strip()])
            status, _, body = self.post(json.dumps(event).encode())
            self.assertEqual(status, 201, body)
            got = json.loads(stdout_lines(self.p, before + 1)[before])
            self.assertEqual(got["context"]["id"], python_cid(event))

    def test_400_not_json(self):
        cases = [
            (b"this is not json", "invalid JSON"),
            (b"{\"context\": ", "invalid JSON"),
            (b"", "invalid JSON: the document is empty"),
            (b"{\"a\":1} {\"b\":2}", "invalid JSON: more than one top-level value"),
            (b"{\"context\":{\"type\":\"t\"}}\n[]", "invalid JSON: more than one top-level value"),
            (b"{\"context\":{\"type\":\"t\",\"x\":\"a\x00\"}}", "NUL byte"),
        ]
        for raw, reason in cases:
            with self.subTest(raw=raw):
                status, headers, body = self.post(raw)
                self.assertEqual(status, 400, body)
                self.assertEqual(headers["content-type"], "application/json")
                self.assertIn(reason, error_detail(self, body))

    def test_422_not_a_cdevent(self):
        # Any JSON is accepted into the source; what reaches the end of its
        # transformer chain (none here) must be a CDEvent, or 422.
        cases = [
            (b"[1, 2]", "the document is not a JSON object"),
            (b"42", "the document is not a JSON object"),
            (b"\"text\"", "the document is not a JSON object"),
            (b"{}", "no “context” object"),
            (b"{\"context\": []}", "no “context” object"),
            (b"{\"context\": {}}", "no string “context.type”"),
            (b"{\"context\": {\"type\": 1}}", "no string “context.type”"),
            (b"{\"context\": {\"type\": \"t\", \"id\": 5}}", "“context.id” is not a string"),
        ]
        for raw, reason in cases:
            with self.subTest(raw=raw):
                status, _, body = self.post(raw)
                self.assertEqual(status, 422, body)
                detail = error_detail(self, body)
                self.assertTrue(detail.startswith("not a CDEvent"), detail)
                self.assertIn(reason, detail)

    def test_id_with_cr_lf_422_nul_400(self):
        for bad in ("a\nb", "a\rb", "a\r\n", "a\u0000b"):
            with self.subTest(id=bad):
                event = json.loads(cdevent("build_started"))
                event["context"]["id"] = bad
                status, _, body = self.post(json.dumps(event).encode())
                detail = error_detail(self, body)
                if "\u0000" in bad:
                    # not JSON this program can hold: refused before the chain
                    self.assertEqual(status, 400, body)
                    self.assertIn("NUL (\\u0000)", detail)
                else:
                    self.assertEqual(status, 422, body)
                    self.assertIn("CR, LF or NUL", detail)

    def test_404_unknown_id(self):
        status, _, body = self.post(cdevent(), path="/webhook/nope")
        self.assertEqual(status, 404)
        self.assertIn("/webhook/nope", error_detail(self, body))

    def test_405_allow(self):
        for method in ("GET", "PUT", "DELETE", "HEAD"):
            with self.subTest(method=method):
                body = b"{}" if method == "PUT" else b""
                s = self.p.connect()
                try:
                    send_request(s, method, "/webhook/in", body, close=True)
                    status, headers, rbody = read_response(s, head_only=(method == "HEAD"))
                finally:
                    s.close()
                self.assertEqual(status, 405)
                self.assertEqual(headers["allow"], "POST")
                if method != "HEAD":
                    self.assertEqual(error_detail(self, rbody), "only POST is allowed here")

    def test_keep_alive_still_works(self):
        s = self.p.connect()
        try:
            for _ in range(3):
                send_request(s, "POST", "/webhook/in", cdevent())
                status, headers, body = read_response(s)
                self.assertEqual(status, 201, body)
                self.assertNotEqual(headers.get("connection", "").lower(), "close")
                time.sleep(0.2)
        finally:
            s.close()


class WebhookBodySize(unittest.TestCase):
    CONFIG = """
[sources.hook]
enabled = true

[sources.hook.extractor]
type = "webhook"
id = "small"
max_body_size = 2000

[sinks.out]
type = "debug"
"""

    @classmethod
    def setUpClass(cls):
        cls.p = Pipeline(cls.CONFIG)

    @classmethod
    def tearDownClass(cls):
        cls.p.close()

    def test_413_content_length(self):
        event = json.loads(cdevent())
        event["subject"]["content"] = {"pad": "x" * 3000}
        status, _, body = self.p.request("POST", "/webhook/small", json.dumps(event).encode())
        self.assertEqual(status, 413, body)
        self.assertIn("larger than 2000 bytes", error_detail(self, body))

    def test_under_limit_ok(self):
        status, _, body = self.p.request("POST", "/webhook/small", cdevent())
        self.assertEqual(status, 201, body)

    def test_413_chunked(self):
        s = self.p.connect()
        try:
            head = ("POST /webhook/small HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
            chunk = b"x" * 1000
            data = head.encode() + b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk)
                                            for _ in range(5)) + b"0\r\n\r\n"
            s.sendall(data)
            status, _, body = read_response(s)
        finally:
            s.close()
        self.assertEqual(status, 413, body)

    def test_413_before_the_body_is_sent(self):
        # With Expect: 100-continue the refusal comes from the headers alone:
        # the client never has to send its 100 MB.
        s = self.p.connect()
        try:
            send_request(s, "POST", "/webhook/small", b"",
                         {"Content-Length": str(100 * 1024 * 1024),
                          "Expect": "100-continue"})
            status, _, body = read_response(s)
        finally:
            s.close()
        self.assertEqual(status, 413, body)

    @unittest.skipIf("ASAN_OPTIONS" in os.environ,
                     "AddressSanitizer's quarantine keeps freed memory resident")
    def test_413_large_body_not_kept(self):
        # A body larger than the limit is refused from its Content-Length and
        # never read: 413, the connection closed, the server's memory flat.
        rss_before = self.p.rss_kib()
        payload = b"x" * (32 * 1024 * 1024)
        status, headers, body = self.p.request("POST", "/webhook/small", payload, timeout=60)
        self.assertEqual(status, 413, body)
        self.assertEqual(headers.get("connection"), "close")
        self.assertLess(self.p.rss_kib() - rss_before, 16 * 1024)


class WebhookHeaderRules(unittest.TestCase):
    CONFIG = """
[sources.hook]
enabled = true

[sources.hook.extractor]
type = "webhook"
id = "rules"

[sources.hook.extractor.headers]
"X-Exists" = { type = "exists" }
"X-Equals" = { type = "equals", value = "good" }
"X-Matches" = { type = "matches", pattern = "^v[0-9]+$" }

[sources.github]
enabled = true

[sources.github.extractor]
type = "webhook"
id = "github"

[sources.github.extractor.headers]
"X-Hub-Signature-256" = { type = "signature", token = "s3cret", signature_prefix = "sha256=", signature_encoding = "hex" }

[sinks.out]
type = "debug"
"""
    GOOD = {"X-Exists": "1", "X-Equals": "good", "X-Matches": "v42"}

    @classmethod
    def setUpClass(cls):
        cls.p = Pipeline(cls.CONFIG)

    @classmethod
    def tearDownClass(cls):
        cls.p.close()

    def check(self, path, headers, expected_status, expected_text, body=None):
        status, rheaders, rbody = self.p.request("POST", path, body or cdevent(), headers)
        self.assertEqual(status, expected_status, rbody)
        if expected_text is not None:
            self.assertTrue(rheaders["content-type"].startswith("text/plain"), rheaders)
            self.assertEqual(rbody.decode(), expected_text)

    def test_exists(self):
        self.check("/webhook/rules", {}, 401,
                   "Header validation failed: Header 'X-Exists' is missing")
        self.check("/webhook/rules", {"X-Exists": ""}, 401,
                   "Header validation failed: Header 'X-Exists' is missing")

    def test_equals(self):
        self.check("/webhook/rules", {"X-Exists": "1"}, 401,
                   "Header validation failed: Header 'X-Equals' is missing")
        self.check("/webhook/rules", {"X-Exists": "1", "X-Equals": "bad"}, 403,
                   "Header validation failed: Header 'X-Equals' has invalid value")

    def test_matches(self):
        self.check("/webhook/rules", {"X-Exists": "1", "X-Equals": "good"}, 401,
                   "Header validation failed: Header 'X-Matches' is missing")
        self.check("/webhook/rules", {"X-Exists": "1", "X-Equals": "good", "X-Matches": "x1"},
                   403, "Header validation failed: Header 'X-Matches' pattern validation failed")

    def test_all_pass(self):
        self.check("/webhook/rules", self.GOOD, 201, None)

    def test_rules_before_body_parsing(self):
        # A bad body with bad headers: the header verdict wins.
        self.check("/webhook/rules", {}, 401,
                   "Header validation failed: Header 'X-Exists' is missing",
                   body=b"not json at all")

    def sign(self, body, secret=b"s3cret"):
        return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()

    def test_signature(self):
        body = cdevent("artifact_published")
        self.check("/webhook/github", {"X-Hub-Signature-256": self.sign(body)}, 201, None, body)

    def test_signature_missing(self):
        self.check("/webhook/github", {}, 401,
                   "Header validation failed: Header 'X-Hub-Signature-256' signature "
                   "validation failed: signature not found or readable")

    def test_signature_mismatch(self):
        body = cdevent("artifact_published")
        for sig in (self.sign(body, b"wrong"), self.sign(body + b" ")):
            self.check("/webhook/github", {"X-Hub-Signature-256": sig}, 401,
                       "Header validation failed: Header 'X-Hub-Signature-256' signature "
                       "validation failed: Signature verification mismatch", body)

    def test_signature_checked_before_json(self):
        body = b"not json"
        self.check("/webhook/github", {"X-Hub-Signature-256": self.sign(b"other")}, 401,
                   "Header validation failed: Header 'X-Hub-Signature-256' signature "
                   "validation failed: Signature verification mismatch", body)
        # signed correctly, the JSON error comes next
        status, _, rbody = self.p.request("POST", "/webhook/github", body,
                                          {"X-Hub-Signature-256": self.sign(body)})
        self.assertEqual(status, 400, rbody)


class WebhookMessage(unittest.TestCase):
    """headers_to_keep and metadata, seen through the test_envelope sink of
    the helper plugin (the debug sink prints bodies only)."""
    CONFIG = """
[sources.hook]
enabled = true

[sources.hook.extractor]
type = "webhook"
id = "env"
headers_to_keep = ["X-Request-Id", "X-GitHub-Event", "X-Absent", "Authorization"]

[sinks.out]
type = "test_envelope"
"""

    def test_headers_to_keep_and_metadata(self):
        with Pipeline(self.CONFIG, args=HELPERS) as p:
            s = p.connect()
            try:
                # two values for X-Request-Id: the first is kept
                head = ("POST /webhook/env HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "x-request-id: first\r\nX-Request-Id: second\r\n"
                        "X-GitHub-Event: push\r\nX-Other: no\r\n"
                        "Authorization: Bearer never-kept\r\n"
                        "Connection: close\r\nContent-Length: %d\r\n\r\n")
                body = cdevent()
                s.sendall((head % len(body)).encode() + body)
                status, _, rbody = read_response(s)
            finally:
                s.close()
            self.assertEqual(status, 201, rbody)
            got = json.loads(stdout_lines(p, 1)[0])
            self.assertEqual(got["headers"], {"x-request-id": "first", "x-github-event": "push"})
            self.assertEqual(got["metadata"],
                             {"context": {"source": "http://127.0.0.1:%d/?source=hook" % p.port}})
            self.assertEqual(got["body"], json.loads(cdevent()))


class WebhookUpstreamKeys(unittest.TestCase):
    """cdviz-collector's `metadata`, `[http] root_url` (the default
    context.source) and `[pipeline] transformer_refs` (after the source's
    own transformers), seen through the test_envelope sink."""
    CONFIG = """
[http]
root_url = "https://collector.example.org/base?x=1"

[pipeline]
transformer_refs = ["global"]

[transformers.own]
type = "vrl"
template = '.metadata.order = ["own"]; [.]'

[transformers.global]
type = "vrl"
template = '.metadata.order = push(array!(.metadata.order), "global"); [.]'

[sources.my_webhook]
enabled = true
transformer_refs = ["own"]
[sources.my_webhook.extractor]
type = "webhook"
id = "env"
metadata = { team = "platform", context = { region = "eu" } }

[sources.named]
enabled = true
[sources.named.extractor]
type = "webhook"
id = "named"
metadata = { context = { source = "https://ci.example.org/" } }

[sinks.out]
type = "test_envelope"
"""

    def test_metadata_root_url_global_transformers(self):
        with Pipeline(self.CONFIG, args=HELPERS) as p:
            status, _, body = p.request("POST", "/webhook/env", cdevent())
            self.assertEqual(status, 201, body)
            got = json.loads(stdout_lines(p, 1)[0])
            self.assertEqual(got["metadata"], {
                "team": "platform",
                "context": {"region": "eu",
                            "source": "https://collector.example.org/base?x=1&source=my_webhook"},
                "order": ["own", "global"]})
            # the global transformer runs for a source without its own too;
            # a configured context.source is kept
            status, _, body = p.request("POST", "/webhook/named", cdevent())
            self.assertEqual(status, 422, body)
            self.assertIn("array", error_detail(self, body))
            self.assertEqual(len(stdout_lines(p, 1)), 1)

    def test_root_url_without_path(self):
        config = self.CONFIG.replace('https://collector.example.org/base?x=1',
                                     'http://cdviz-collector.example.com')
        config = config.replace('transformer_refs = ["global"]', '')
        with Pipeline(config, args=HELPERS) as p:
            status, _, body = p.request("POST", "/webhook/named", cdevent())
            self.assertEqual(status, 201, body)
            status, _, body = p.request("POST", "/webhook/env", cdevent())
            self.assertEqual(status, 201, body)
            lines = stdout_lines(p, 2)
            self.assertEqual(json.loads(lines[0])["metadata"],
                             {"context": {"source": "https://ci.example.org/"}})
            self.assertEqual(json.loads(lines[1])["metadata"]["context"]["source"],
                             "http://cdviz-collector.example.com/?source=my_webhook")

    def test_bad_metadata(self):
        config = """
[sources.s]
enabled = true
[sources.s.extractor]
type = "webhook"
id = "s"
metadata = "team"
"""
        with Pipeline(config, expect_start=False) as p:
            self.assertEqual(p.wait(10), 1)
            self.assertIn("key “metadata”: expected a table", p.stderr())


class WebhookRequestTimeout(unittest.TestCase):
    """[http] request_timeout: a body that does not arrive in time (a wrong
    Content-Length) is answered 408 and the connection closed, as
    cdviz-collector answers; a whole request is served."""

    def test_408_on_a_stalled_body(self):
        config = '[http]\nrequest_timeout = "300ms"\n' + BASIC
        with Pipeline(config) as p:
            s = p.connect()
            try:
                s.sendall(b"POST /webhook/in HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Content-Type: application/json\r\nContent-Length: 100\r\n"
                          b"\r\n{\"context\"")
                s.settimeout(20)
                status, headers, body = read_response(s)
                self.assertEqual(status, 408)
                self.assertEqual(body, b"")
                self.assertEqual(s.recv(1), b"")  # closed
            finally:
                s.close()
            status, _, body = p.request("POST", "/webhook/in", cdevent())
            self.assertEqual(status, 201, body)
            self.assertEqual(len(stdout_lines(p, 1)), 1)
            self.assertEqual(p.stop(), 0)
            access = [l.split("access ", 1)[1] for l in p.stderr().splitlines()
                      if " access http_status=" in l]
        # the base's filter, 4xx and 5xx: the 408, not the 201
        self.assertEqual(len(access), 1, access)
        self.assertRegex(access[0], r"^http_status=408 method=POST uri=/webhook/in "
                                    r"elapsed_ms=\d+ content_length=100 content_encoding=- "
                                    r"transfer_encoding=- expect=-$")

    def test_access_log_filter(self):
        config = '[http.access_log]\nfilter = ["404"]\n' + BASIC
        with Pipeline(config) as p:
            self.assertEqual(p.request("GET", "/nowhere?a=1")[0], 404)
            self.assertEqual(p.request("GET", "/webhook/in")[0], 405)
            self.assertEqual(p.request("POST", "/webhook/in", b"{")[0], 400)
            self.assertEqual(p.stop(), 0)
            access = [l.split("access ", 1)[1] for l in p.stderr().splitlines()
                      if " access http_status=" in l]
        self.assertEqual(len(access), 1, access)
        self.assertTrue(access[0].startswith("http_status=404 method=GET uri=/nowhere?a=1 "),
                        access)
        config = '[http.access_log]\nfilter = []\n' + BASIC
        with Pipeline(config) as p:
            self.assertEqual(p.request("GET", "/nowhere")[0], 404)
            self.assertEqual(p.stop(), 0)
            self.assertNotIn("access http_status", p.stderr())


class WebhookRejected(unittest.TestCase):
    CONFIG = """
[transformers.no]
type = "test_reject"

[sources.hook]
enabled = true
transformer_refs = ["no"]

[sources.hook.extractor]
type = "webhook"
id = "r"

[sinks.out]
type = "debug"
"""

    def test_422_with_transformer_message(self):
        # The jq transformer (another plugin) is the real-world case; a test
        # transformer that rejects everything stands in for it.
        with Pipeline(self.CONFIG, args=HELPERS) as p:
            status, _, body = p.request("POST", "/webhook/r", cdevent())
            self.assertEqual(status, 422, body)
            self.assertEqual(error_detail(self, body),
                             "test_reject refuses dev.cdevents.build.started.0.2.0")
            self.assertEqual(p.stdout(), "")


class WebhookRespondAccepted(unittest.TestCase):
    """respond = "accepted": 202 once the event is queued; the transformers'
    verdict is counted, not answered."""
    CONFIG = """
[transformers.no]
type = "test_reject"

[sources.fast]
enabled = true
[sources.fast.extractor]
type = "webhook"
id = "fast"
respond = "accepted"

[sources.refused]
enabled = true
transformer_refs = ["no"]
[sources.refused.extractor]
type = "webhook"
id = "refused"
respond = "accepted"

[sinks.out]
type = "debug"
"""

    def test_202_event_reaches_sink(self):
        with Pipeline(self.CONFIG, args=HELPERS) as p:
            raw = cdevent("build_started")
            status, _, body = p.request("POST", "/webhook/fast", raw)
            self.assertEqual(status, 202, body)
            self.assertEqual(body, b"")
            pairs = lambda text: json.loads(text, object_pairs_hook=lambda p: p)
            self.assertEqual(pairs(stdout_lines(p, 1)[0]), pairs(raw))

    def test_rejection_is_counted_not_answered(self):
        with Pipeline(self.CONFIG, args=HELPERS) as p:
            status, _, body = p.request("POST", "/webhook/refused", cdevent())
            self.assertEqual(status, 202, body)
            # Not JSON is still answered: it is checked before the queue.
            status, _, body = p.request("POST", "/webhook/refused", b"{nope")
            self.assertEqual(status, 400, body)
            deadline = time.monotonic() + 10
            while True:
                metrics = p.request("GET", "/metrics")[2].decode()
                if 'cdviz_pipeline_events_total{outcome="rejected"} 1' in metrics:
                    break
                self.assertLess(time.monotonic(), deadline, metrics)
                time.sleep(0.05)
            self.assertEqual(p.stdout(), "")

    def test_unknown_value_is_a_config_error(self):
        config = ('[sources.hook]\nenabled = true\n[sources.hook.extractor]\ntype = "webhook"\nid = "x"\n'
                  'respond = "later"\n')
        with Pipeline(config, expect_start=False) as p:
            self.assertNotEqual(p.wait(10), 0)
            self.assertIn("“later” is neither “processed” nor “accepted”", p.stderr())


class PipedPipeline(Pipeline):
    """Like Pipeline, but standard output is a pipe nobody reads until
    drain() — so the debug sink blocks once the pipe is full and the
    pipeline's queue fills up behind it."""

    def __init__(self, config):
        import tempfile
        self.tmp = tempfile.TemporaryDirectory(prefix="cdviz-test-")
        self.config_path = os.path.join(self.tmp.name, "config.toml")
        with open(self.config_path, "w") as f:
            f.write(config)
        env = dict(os.environ)
        env["CDVIZ_PLUGIN_SYSTEM_PATH"] = ""
        env.setdefault("G_DEBUG", "fatal-criticals")
        self.stderr_path = os.path.join(self.tmp.name, "stderr.log")
        self.stdout_path = os.path.join(self.tmp.name, "stdout.log")
        self._stderr = open(self.stderr_path, "wb")
        self._stdout = open(self.stdout_path, "wb")
        self.proc = subprocess.Popen(
            [PROGRAM, "--config", self.config_path, "--plugin-dir", PLUGIN_DIR,
             "--set", "http.port = 0", "--set", 'http.host = "127.0.0.1"'],
            stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL, env=env)
        self.port = None
        self._drainer = None
        self._wait_listening(10)

    def drain(self):
        def run():
            while self.proc.stdout.read(65536):
                pass
        self._drainer = threading.Thread(target=run, daemon=True)
        self._drainer.start()

    def close(self):
        if self._drainer is None:
            self.drain()
        super().close()


class WebhookBackPressure(unittest.TestCase):
    CONFIG = """
[pipeline]
queue_capacity = 1

[sources.hook]
enabled = true

[sources.hook.extractor]
type = "webhook"
id = "bp"

[sinks.out]
type = "debug"
"""

    def big_event(self, i):
        event = json.loads(cdevent())
        event["context"]["id"] = "event-%d" % i
        event["subject"]["content"] = {"pad": "x" * 16384}
        return json.dumps(event).encode()

    def counters(self, p):
        status, _, body = p.request("GET", "/metrics")
        self.assertEqual(status, 200)
        found = dict(re.findall(r'cdviz_pipeline_events_total\{outcome="(\w+)"\} (\d+)',
                                body.decode()))
        return int(found["accepted"]), int(found["processed"])

    def block_the_sink(self, p):
        """Posts until the debug sink blocks on the full pipe with one event
        (accepted, not processed, no answer). Returns that request's socket."""
        i = 0
        while i < 100:
            s = p.connect()
            send_request(s, "POST", "/webhook/bp", self.big_event(i), close=True)
            s.settimeout(1.5)
            try:
                status, _, body = read_response(s)
            except socket.timeout:
                accepted, processed = self.counters(p)
                if accepted == processed + 1:
                    return s
                s.close()
                self.fail("no answer, yet nothing pending (%d accepted, %d processed)"
                          % (accepted, processed))
            s.close()
            self.assertEqual(status, 201, body)
            i += 1
        self.fail("the debug sink never blocked")

    def fill_the_queue(self, p):
        """With the sink blocked, one more event fills the queue (capacity
        1): accepted, unanswered. Returns its socket."""
        s = p.connect()
        send_request(s, "POST", "/webhook/bp", self.big_event(999), close=True)
        deadline = time.monotonic() + 10
        while True:
            accepted, processed = self.counters(p)
            if accepted == processed + 2:
                return s
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)

    def test_503_when_full_then_recovers(self):
        with PipedPipeline(self.CONFIG) as p:
            blocked = self.block_the_sink(p)
            queued = self.fill_the_queue(p)
            try:
                status, headers, body = p.request("POST", "/webhook/bp", self.big_event(1000))
                self.assertEqual(status, 503, body)
                self.assertEqual(headers["retry-after"], "1")
                self.assertIn("queue is full", error_detail(self, body))

                p.drain()
                for s in (blocked, queued):
                    s.settimeout(10)
                    status, _, body = read_response(s)
                    self.assertEqual(status, 201, body)
            finally:
                blocked.close()
                queued.close()
            status, _, body = p.request("POST", "/webhook/bp", self.big_event(1001))
            self.assertEqual(status, 201, body)
            self.assertEqual(p.stop(), 0)

    def test_503_once_stopped(self):
        # SIGTERM stops the sources first, then waits for the (blocked)
        # pipeline to drain: meanwhile the route answers 503.
        with PipedPipeline(self.CONFIG) as p:
            blocked = self.block_the_sink(p)
            queued = self.fill_the_queue(p)
            try:
                p.proc.send_signal(signal.SIGTERM)
                deadline = time.monotonic() + 10
                while True:
                    status, _, body = p.request("POST", "/webhook/bp", self.big_event(2000))
                    if status == 503 and b"stopped" in body:
                        break
                    self.assertEqual(status, 503, body)   # full, until the source stops
                    self.assertLess(time.monotonic(), deadline)
                    time.sleep(0.05)
                self.assertEqual(error_detail(self, body), "the source is stopped")
                # While the pipeline drains, the server says it is not ready.
                status, _, body = p.request("GET", "/readyz")
                self.assertEqual((status, body), (503, b"not ready\n"))
                status, _, body = p.request("GET", "/healthz")
                self.assertEqual((status, body), (200, b"ok\n"))
                p.drain()
                for s in (blocked, queued):
                    s.settimeout(10)
                    status, _, body = read_response(s)
                    self.assertEqual(status, 201, body)
            finally:
                blocked.close()
                queued.close()
            self.assertEqual(p.wait(10), 0)


class WebhookKeepAliveLeak(unittest.TestCase):
    """libsoup 3.2.3 never closed a keep-alive connection the client closed
    while idle; the HTTP server now does (src/cdviz-http-server.c)."""

    def test_2000_keep_alive_connections_closed_by_client(self):
        with Pipeline(BASIC) as p:
            # warm up (first-request allocations, thread pools)
            self.assertEqual(p.request("POST", "/webhook/in", cdevent())[0], 201)
            time.sleep(0.2)
            baseline = p.fd_count()
            body = cdevent()
            for i in range(2000):
                s = p.connect()
                try:
                    send_request(s, "POST", "/webhook/in", body)   # keep-alive
                    status, headers, rbody = read_response(s)
                    self.assertEqual(status, 201, rbody)
                    self.assertNotEqual(headers.get("connection", "").lower(), "close")
                finally:
                    s.close()
            deadline = time.monotonic() + 10
            while p.fd_count() > baseline + 5 and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertLessEqual(p.fd_count(), baseline + 5,
                                 "descriptors leaked: %d, baseline %d"
                                 % (p.fd_count(), baseline))
            # and the server still works
            self.assertEqual(p.request("POST", "/webhook/in", cdevent())[0], 201)
            self.assertEqual(p.stop(), 0)


class WebhookConfig(unittest.TestCase):
    def test_id_required(self):
        with Pipeline('[sources.hook]\nenabled = true\n[sources.hook.extractor]\ntype = "webhook"\n', expect_start=False) as p:
            self.assertNotEqual(p.wait(10), 0)
            self.assertIn("“id” is required", p.stderr())

    def test_bad_rule_is_a_config_error(self):
        config = ('[sources.hook]\nenabled = true\n[sources.hook.extractor]\ntype = "webhook"\nid = "x"\n'
                  '[sources.hook.extractor.headers]\n"X-A" = { type = "nope" }\n')
        with Pipeline(config, expect_start=False) as p:
            self.assertNotEqual(p.wait(10), 0)
            self.assertIn("unknown rule type", p.stderr())

    def test_duplicate_id(self):
        config = ('[sources.a]\nenabled = true\n[sources.a.extractor]\ntype = "webhook"\nid = "x"\n'
                  '[sources.b]\nenabled = true\n[sources.b.extractor]\ntype = "webhook"\nid = "x"\n')
        with Pipeline(config, expect_start=False) as p:
            self.assertNotEqual(p.wait(10), 0)
            self.assertIn("/webhook/x", p.stderr())


if __name__ == "__main__":
    unittest.main()


class Deduplicate(unittest.TestCase):
    """The deduplicate transformer with cdviz-collector's key_path, a JSON
    pointer (RFC 6901), and with a dotted path; both reach into arrays."""
    CONFIG = """
[sources.in]
enabled = true
extractor = { type = "webhook", id = "in" }
transformer_refs = ["dedup"]

[transformers.dedup]
type = "deduplicate"
key_path = "%s"

[sinks.out]
type = "debug"
"""

    def run_with(self, key_path, events):
        with Pipeline(self.CONFIG % key_path) as p:
            for ev in events:
                status, _, body = p.request("POST", "/webhook/in", json.dumps(ev).encode())
                self.assertEqual(status, 201, body)
            # Sent last: a unique event, so that everything before it is out.
            last = json.loads(cdevent("build_started"))
            last["context"]["id"] = "the-last-one"
            last["subject"]["content"] = {"tags": ["last", "last"], "a/b": "last"}
            p.request("POST", "/webhook/in", json.dumps(last).encode())
            deadline = time.monotonic() + 10
            while "the-last-one" not in p.stdout() and time.monotonic() < deadline:
                time.sleep(0.05)
            return [json.loads(l)["context"]["id"] for l in p.stdout().splitlines() if l]

    def events(self):
        out = []
        for i, (tag, slash) in enumerate([("x", "p"), ("y", "q"), ("x", "q"), ("z", "p")]):
            ev = json.loads(cdevent("build_started"))
            ev["context"]["id"] = "ev-%d" % (i % 3)   # ev-0, ev-1, ev-2, ev-0
            ev["subject"]["content"] = {"tags": ["first", tag], "a/b": slash}
            out.append(ev)
        return out

    def test_json_pointer_as_upstream_writes_it(self):
        self.assertEqual(self.run_with("/context/id", self.events()),
                         ["ev-0", "ev-1", "ev-2", "the-last-one"])

    def test_pointer_into_an_array_and_escapes(self):
        self.assertEqual(self.run_with("/subject/content/tags/1", self.events()),
                         ["ev-0", "ev-1", "ev-0", "the-last-one"])
        self.assertEqual(self.run_with("/subject/content/a~1b", self.events()),
                         ["ev-0", "ev-1", "the-last-one"])

    def test_dotted_path(self):
        self.assertEqual(self.run_with("context.id", self.events()),
                         ["ev-0", "ev-1", "ev-2", "the-last-one"])

    def test_invalid_pointer_refused(self):
        r = subprocess.run([PROGRAM, "config", "--check", "--plugin-dir", PLUGIN_DIR,
                            "--set", 'transformers.d.type = "deduplicate"',
                            "--set", 'transformers.d.key_path = "/a~2b"'],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("“/a~2b” is neither a JSON pointer", r.stderr)


class MetricsEscaping(unittest.TestCase):
    """A component name with a quote, a backslash and a line feed cannot
    break /metrics: every label value is escaped (Prometheus text format)."""
    CONFIG = r'''
[sources.in]
enabled = true
extractor = { type = "webhook", id = "in" }

[sinks.'we"ird\name']
type = "debug"

[sinks."line\nfeed"]
type = "sse"
id = "lf"
'''

    def test_label_values_escaped(self):
        with Pipeline(self.CONFIG) as p:
            status, _, body = p.request("GET", "/metrics")
            self.assertEqual(status, 200)
            text = body.decode()
            self.assertIn('cdviz_sink_messages_total{sink="we\\"ird\\\\name",outcome="sent"} 0', text)
            self.assertIn('cdviz_sink_messages_total{sink="line\\nfeed",outcome="sent"} 0', text)
            self.assertIn('cdviz_sse_clients{sink="line\\nfeed",id="lf"} 0', text)
            # Every line is a comment or one well-formed sample.
            sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*'
                                r'(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"'
                                r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*")*\})?'
                                r' [0-9.e+-]+$')
            for line in text.splitlines():
                if line and not line.startswith("#"):
                    self.assertRegex(line, sample)


class RouteIds(unittest.TestCase):
    """Webhook and SSE ids are checked the same way: an id that cannot be one
    path segment is refused at load; `headers = []` (cdviz-collector's
    documented empty value) means no rules for both."""

    def check(self, *sets):
        args = [PROGRAM, "config", "--check", "--plugin-dir", PLUGIN_DIR]
        for s in sets:
            args += ["--set", s]
        return subprocess.run(args, capture_output=True, text=True, timeout=30)

    def test_unroutable_ids_refused(self):
        for bad in ("a?b", "a/b", "a b", "a#b", "%41", ".."):
            for kind, sets in (("webhook", ['sources.s.enabled = true',
                                            'sources.s.extractor = { type = "webhook", id = "%s" }']),
                               ("sse", ['sinks.s.type = "sse"', 'sinks.s.id = "%s"'])):
                with self.subTest(kind=kind, id=bad):
                    r = self.check(*[s % bad if "%s" in s else s for s in sets])
                    self.assertEqual(r.returncode, 1, r.stderr)
                    self.assertIn("cannot be used in a URL path", r.stderr)

    def test_empty_header_rules_array(self):
        with Pipeline("""
[sources.in]
enabled = true
extractor = { type = "webhook", id = "in", headers = [] }

[sinks.sse]
type = "sse"
id = "events"
headers = []
""") as p:
            status, _, body = p.request("POST", "/webhook/in", cdevent("build_started"))
            self.assertEqual(status, 201, body)
