# SPDX-License-Identifier: Apache-2.0
"""Collector to collector (issue #15), the producing side of a hop: the
http sink against small receivers on loopback (a 503, 503, 200 one whose
signature check uses Python's hmac; a slow one beside a fast one); the
folder sink's files read back while a reader watches for partial ones;
`cdviz-pipeline send` posting into a running pipeline's webhook.
"""
import hashlib
import hmac
import http.server
import json
import os
import subprocess
import tempfile
import threading
import time
import unittest

from cdviz_testlib import PLUGIN_DIR, PROGRAM, Pipeline, cdevent

TOKEN = "hop-s1gning-key"


class Receiver:
    """An HTTP receiver on 127.0.0.1 answering each POST with the next
    status of @script (then 200), after @delay seconds."""

    def __init__(self, script=(), delay=0.0, retry_after=None):
        self.script = list(script)
        self.requests = []
        self.times = []
        self.lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(delay)
                with owner.lock:
                    owner.requests.append((dict(self.headers.items()), body))
                    owner.times.append(time.monotonic())
                    status = owner.script.pop(0) if owner.script else 200
                self.send_response(status)
                if status == 503 and retry_after is not None and len(owner.requests) == 1:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/events" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, n, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= n:
                    return list(self.requests)
            time.sleep(0.02)
        with self.lock:
            return list(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def config(sinks):
    return """
[sources.in]
enabled = true
extractor = { type = "webhook", id = "in" }
""" + sinks


def event_body(i):
    body = json.loads(cdevent("build_started"))
    body["context"]["id"] = "ev-%04d" % i
    return json.dumps(body).encode()


class HttpSinkTest(unittest.TestCase):
    def post(self, pipeline, body):
        status, _, answer = pipeline.request("POST", "/webhook/in", body,
                                             {"Content-Type": "application/json"})
        self.assertIn(status, (200, 201, 202), answer)

    def test_503_twice_then_200_delivered_once_and_signed(self):
        receiver = Receiver(script=[503, 503], retry_after="1")
        self.addCleanup(receiver.close)
        with Pipeline(config("""
[sinks.next_hop]
type = "http"
destination = "%s"
retry_delay = "100ms"
total_duration_of_retries = "20s"

[sinks.next_hop.headers]
"X-Signature" = { type = "signature", token = "%s", signature_prefix = "sha256=" }
"X-Collector" = { type = "static", value = "regional" }
""" % (receiver.url, TOKEN))) as pipeline:
            self.post(pipeline, event_body(1))
            requests = receiver.wait_for(3)
            time.sleep(0.5)
            self.assertEqual(pipeline.stop(), 0, pipeline.stderr())
            log = pipeline.stderr()
        requests = receiver.requests
        self.assertEqual(len(requests), 3, log)
        # Retry-After: 1 on the first 503 was honoured (backoff alone is
        # 50 to 100 ms).
        self.assertGreaterEqual(receiver.times[1] - receiver.times[0], 0.9)
        headers, body = requests[-1]
        event = json.loads(body)
        self.assertEqual(event["context"]["id"], "ev-0001")
        # The exact body sent is signed.
        expected = "sha256=" + hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()
        self.assertTrue(hmac.compare_digest(headers["X-Signature"], expected))
        self.assertEqual(headers["X-Collector"], "regional")
        self.assertEqual(headers["Content-Type"], "application/json")
        # The CloudEvents headers upstream adds.
        self.assertEqual(headers["ce-id"], "ev-0001")
        self.assertEqual(headers["ce-type"], event["context"]["type"])
        self.assertEqual(headers["ce-source"], event["context"]["source"])
        self.assertEqual(headers["ce-time"], event["context"]["timestamp"])
        self.assertEqual(headers["ce-specversion"], "1.0")
        # Every attempt carried the same bytes.
        self.assertEqual({b for _, b in requests}, {body})
        self.assertNotIn(TOKEN, log)

    def test_slow_receiver_does_not_hold_back_another_sink(self):
        slow = Receiver(delay=3.0)
        fast = Receiver()
        self.addCleanup(slow.close)
        self.addCleanup(fast.close)
        with Pipeline(config("""
[sinks.slow]
type = "http"
destination = "%s"
queue_capacity = 2
shutdown_grace_period = "100ms"

[sinks.fast]
type = "http"
destination = "%s"
""" % (slow.url, fast.url))) as pipeline:
            start = time.monotonic()
            for i in range(10):
                self.post(pipeline, event_body(i))
            got = fast.wait_for(10, timeout=5)
            elapsed = time.monotonic() - start
            self.assertEqual(len(got), 10)
            self.assertLess(elapsed, 2.5)
            self.assertEqual([json.loads(b)["context"]["id"] for _, b in got],
                             ["ev-%04d" % i for i in range(10)])
            self.assertEqual(pipeline.stop(), 0)
            self.assertIn("queue is full", pipeline.stderr())

    def test_not_retried_on_4xx_and_bad_keys_refused(self):
        receiver = Receiver(script=[400])
        self.addCleanup(receiver.close)
        with Pipeline(config("""
[sinks.next_hop]
type = "http"
destination = "%s"
retry_delay = "50ms"
""" % receiver.url)) as pipeline:
            self.post(pipeline, event_body(1))
            receiver.wait_for(1)
            time.sleep(0.5)
            self.assertEqual(pipeline.stop(), 0)
            self.assertIn("400", pipeline.stderr())
        self.assertEqual(len(receiver.requests), 1)
        for bad, words in (('destination = "ftp://x/"', "destination"),
                           ('destination = "http://127.0.0.1:1/"\nqueue_full = "block"',
                            "queue_full"),
                           ("", "destination")):
            with Pipeline(config('[sinks.h]\ntype = "http"\n' + bad + "\n"),
                          expect_start=False) as pipeline:
                self.assertNotEqual(pipeline.wait(), 0)
                self.assertIn(words, pipeline.stderr())


class FolderSinkTest(unittest.TestCase):
    def test_one_file_per_event_never_partial(self):
        root = tempfile.TemporaryDirectory(prefix="cdviz-folder-")
        self.addCleanup(root.cleanup)
        out = os.path.join(root.name, "events")
        seen_bad = []
        done = threading.Event()

        def watch():
            # Every *.json visible at any time parses: never a partial file.
            while not done.is_set():
                for name in os.listdir(out) if os.path.isdir(out) else []:
                    if name.endswith(".json"):
                        try:
                            with open(os.path.join(out, name), "rb") as f:
                                json.loads(f.read())
                        except (ValueError, FileNotFoundError) as e:
                            seen_bad.append((name, repr(e)))

        bodies = {}
        with Pipeline(config("""
[sinks.archive]
type = "folder"
kind = "fs"
parameters = { root = "%s" }
""" % out)) as pipeline:
            watcher = threading.Thread(target=watch)
            watcher.start()
            for i in range(60):
                body = json.loads(event_body(i))
                body["customData"] = {"padding": "x" * 200000}
                bodies["ev-%04d" % i] = body
                status, _, answer = pipeline.request(
                    "POST", "/webhook/in", json.dumps(body).encode(),
                    {"Content-Type": "application/json"})
                self.assertIn(status, (200, 201, 202), answer)
            bad = json.loads(event_body(99))
            bad["context"]["id"] = "../escape"
            pipeline.request("POST", "/webhook/in", json.dumps(bad).encode(),
                             {"Content-Type": "application/json"})
            self.assertEqual(pipeline.stop(), 0)
            done.set()
            watcher.join()
            log = pipeline.stderr()
        self.assertEqual(seen_bad, [])
        self.assertEqual(sorted(os.listdir(out)), sorted(i + ".json" for i in bodies))
        for id_, body in bodies.items():
            with open(os.path.join(out, id_ + ".json")) as f:
                self.assertEqual(json.load(f), body)
        self.assertFalse(os.path.exists(os.path.join(root.name, "escape.json")))
        self.assertIn("../escape", log)

    def test_bad_keys_refused(self):
        for bad, words in (('kind = "s3"\nparameters = { root = "/tmp/x" }', "kind"),
                           ('kind = "fs"', "parameters"),
                           ('kind = "fs"\nparameters = { root = "/tmp/x", bucket = "b" }',
                            "bucket")):
            with Pipeline(config('[sinks.f]\ntype = "folder"\n' + bad + "\n"),
                          expect_start=False) as pipeline:
                self.assertNotEqual(pipeline.wait(), 0)
                self.assertIn(words, pipeline.stderr())


class SendTest(unittest.TestCase):
    def send(self, *args, stdin=b""):
        env = dict(os.environ, CDVIZ_PLUGIN_SYSTEM_PATH="")
        # Absolute: -C changes the directory relative paths are read from.
        return subprocess.run([os.path.abspath(PROGRAM), "send", "--plugin-dir",
                               os.path.abspath(PLUGIN_DIR)] + list(args),
                              input=stdin, capture_output=True, env=env, timeout=90)

    def test_send_into_a_webhook(self):
        work = tempfile.TemporaryDirectory(prefix="cdviz-send-")
        self.addCleanup(work.cleanup)
        with open(os.path.join(work.name, "two.json"), "wb") as f:
            f.write(event_body(2))
        extra = os.path.join(work.name, "extra.toml")
        with open(extra, "w") as f:
            f.write('[sinks.http]\nuser_agent = "send-test"\n')
        with Pipeline("""
[sources.in]
enabled = true

[sources.in.extractor]
type = "webhook"
id = "in"

[sources.in.extractor.headers]
"X-Token" = { type = "secret", value = "s3cret" }

[sinks.out]
type = "debug"
""") as pipeline:
            url = "http://127.0.0.1:%d/webhook/in" % pipeline.port
            done = self.send("--url", url, "--header", "X-Token: s3cret",
                             "-C", work.name, "--config", "extra.toml",
                             "--data", event_body(1).decode(), "--data", "@two.json",
                             "--data", "@-", "--total-duration-of-retries", "5s",
                             stdin=event_body(3))
            self.assertEqual(done.returncode, 0, done.stderr.decode())
            refused = self.send("--url", url, "--header", "X-Token: wrong",
                                "--data", event_body(4).decode())
            self.assertEqual(refused.returncode, 1, refused.stderr.decode())
            self.assertIn("403", refused.stderr.decode())
            deadline = time.monotonic() + 30
            while pipeline.stdout().count("\n") < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(pipeline.stop(), 0)
            lines = [json.loads(l) for l in pipeline.stdout().splitlines()]
        self.assertEqual([e["context"]["id"] for e in lines], ["ev-0001", "ev-0002", "ev-0003"])
        self.assertNotIn("s3cret", done.stderr.decode() + refused.stderr.decode())

    def test_send_without_url_prints_and_reports_bad_input(self):
        done = self.send("--data", event_body(5).decode())
        self.assertEqual(done.returncode, 0, done.stderr.decode())
        self.assertEqual(json.loads(done.stdout)["context"]["id"], "ev-0005")
        bad = self.send("--data", "{not json")
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--data", bad.stderr.decode())
        bad = self.send("--data", "{}", "--url", "http://127.0.0.1:1/", "--header", "nocolon")
        self.assertEqual(bad.returncode, 2)
        self.assertIn("nocolon", bad.stderr.decode())


if __name__ == "__main__":
    unittest.main()
