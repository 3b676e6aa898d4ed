# SPDX-License-Identifier: Apache-2.0
"""Collector to collector (issue #15), with real processes over loopback:

- regional → central through a TCP relay that the test cuts twice while
  events flow: a client of central's SSE sink receives every one of 300
  events exactly once, in order (the SSE source reconnects with
  Last-Event-ID and the regional ring fills the gap), with the seed's
  header rules between the two (a secret and an exists rule);
- the producer restarts (its ring is lost): the consumer says in its log
  that the producer no longer had the event it resumed from, and goes on;
- wrong credentials: the consumer reports the 401/403 with the producer's
  words and does not retry in a tight loop;
- back-pressure: a central node with a one-event queue takes a burst
  without losing or reordering anything.
"""
import copy
import hashlib
import hmac
import http.server
import json
import re
import socket
import threading
import time
import unittest

from cdviz_testlib import Pipeline, SseReader, cdevent, free_port

BASE_EVENT = json.loads(cdevent("build_started"))
TOKEN = "central-aggregator-t0ken"


def event_body(i, prefix="ev"):
    body = copy.deepcopy(BASE_EVENT)
    body["context"]["id"] = "%s-%04d" % (prefix, i)
    body["subject"]["id"] = "build-%d" % i
    return json.dumps(body).encode()


def regional_config(port=0):
    return """
[http]
port = %d

[sources.in]
enabled = true
extractor = { type = "webhook", id = "in" }

[sinks.regional_stream]
type = "sse"
id = "regional"
buffer_size = 1000

[sinks.regional_stream.headers]
"Authorization" = { type = "secret", value = "Bearer %s" }
"X-Collector-Region" = { type = "exists" }
""" % (port, TOKEN)


def central_config(url, token=TOKEN, extra=""):
    return """
[sources.regional]
enabled = true

[sources.regional.extractor]
type = "sse"
url = "%s"
retry_delay = "100ms"
max_retry_delay = "2s"
metadata = { hop = "central" }

[sources.regional.extractor.headers]
"Authorization" = { type = "secret", value = "%s", prefix = "Bearer " }
"X-Collector-Region" = { type = "static", value = "us-east-1" }

[sinks.central_stream]
type = "sse"
id = "central"
%s
""" % (url, token, extra)


class Relay:
    """A TCP relay on loopback that can cut every connection it carries."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.pairs = []
        self.accepted = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.pairs.append((client, upstream))
                self.accepted += 1
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def cut(self):
        """Closes every connection, both ends, at once. shutdown() first: a
        close() alone would wait for the pump threads blocked in recv()."""
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
        return len(pairs)

    def close(self):
        self.closed = True
        self.cut()
        self.listener.close()


def post(pipeline, body):
    status, _, answer = pipeline.request("POST", "/webhook/in", body,
                                         {"Content-Type": "application/json"})
    assert status == 201, (status, answer)


def wait_for(predicate, timeout=10, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


class CollectorTest(unittest.TestCase):

    def test_relay_cut_twice_loses_and_repeats_nothing(self):
        with Pipeline(regional_config()) as regional:
            relay = Relay(regional.port)
            self.addCleanup(relay.close)
            url = "http://127.0.0.1:%d/sse/regional" % relay.port
            with Pipeline(central_config(url)) as central:
                wait_for(lambda: "SSE source %s: connected" % url in central.stderr(),
                         what="central connected:\n" + central.stderr())
                reader = SseReader(central.port, "/sse/central", timeout=30)
                self.addCleanup(reader.close)
                self.assertEqual(reader.status, 200)

                cuts = 0
                for i in range(300):
                    post(regional, event_body(i))
                    if i in (100, 200):
                        # Mid-stream: events before the cut are on their
                        # way; the second cut waits for the reconnection.
                        wait_for(lambda: relay.accepted > cuts, what="a reconnection:\n" + central.stderr())
                        self.assertGreaterEqual(relay.cut(), 1, central.stderr())
                        cuts += 1
                events = reader.read_events(300, timeout=30)
                ids = [e["id"] for e in events]
                self.assertEqual(ids, ["ev-%04d" % i for i in range(300)])
                # Exactly once: nothing more arrives.
                time.sleep(1.0)
                try:
                    reader.sock.settimeout(0.2)
                    reader._feed()
                except socket.timeout:
                    pass
                self.assertEqual(len([e for e in _events(reader.text)]), 300)
                self.assertGreaterEqual(relay.accepted, 3)
                data = json.loads(events[0]["data"])
                self.assertEqual(data["context"]["id"], "ev-0000")
                log = central.stderr()
                self.assertIn("reconnected, resumed after event", log)
                self.assertNotIn("no longer had", log)
                self.assertNotIn(TOKEN, log)

    def test_producer_restart_is_said_and_survived(self):
        port = free_port()
        regional = Pipeline(regional_config(port), args=["--set", "http.port = %d" % port])
        url = "http://127.0.0.1:%d/sse/regional" % port
        try:
            with Pipeline(central_config(url)) as central:
                reader = SseReader(central.port, "/sse/central", timeout=30)
                self.addCleanup(reader.close)
                wait_for(lambda: "connected" in central.stderr(), what="connection")
                for i in range(5):
                    post(regional, event_body(i, "first"))
                reader.read_events(5, timeout=10)

                self.assertEqual(regional.stop(), 0)
                regional.close()
                regional = Pipeline(regional_config(port),
                                    args=["--set", "http.port = %d" % port])
                wait_for(lambda: "no longer had event first-0004" in central.stderr(),
                         timeout=15, what="the resume notice:\n" + central.stderr())
                for i in range(5):
                    post(regional, event_body(i, "second"))
                events = reader.read_events(10, timeout=10)
                self.assertEqual([e["id"] for e in events],
                                 ["first-%04d" % i for i in range(5)]
                                 + ["second-%04d" % i for i in range(5)])
        finally:
            regional.close()

    def test_refused_is_reported_and_retried_slowly(self):
        with Pipeline(regional_config()) as regional:
            url = "http://127.0.0.1:%d/sse/regional" % regional.port
            with Pipeline(central_config(url, token="wrong")) as central:
                wait_for(lambda: "refused by the producer" in central.stderr(),
                         what="refusal:\n" + central.stderr())
                time.sleep(1.5)
                log = central.stderr()
                self.assertIn("HTTP 403", log)
                self.assertIn("Header validation failed", log)
                self.assertIn("next attempt in", log)
                # max_retry_delay = 2s: at most two attempts in 1.5 s.
                self.assertLessEqual(log.count("refused by the producer"), 2)
                self.assertNotIn("wrong", re.sub(r"(?m)^.*config.*$", "", log))

    def test_back_pressure_loses_nothing(self):
        with Pipeline(regional_config()) as regional:
            url = "http://127.0.0.1:%d/sse/regional" % regional.port
            config = central_config(url) + "\n[pipeline]\nqueue_capacity = 1\n"
            with Pipeline(config) as central:
                reader = SseReader(central.port, "/sse/central", timeout=30)
                self.addCleanup(reader.close)
                wait_for(lambda: "connected" in central.stderr(), what="connection")
                for i in range(200):
                    post(regional, event_body(i))
                events = reader.read_events(200, timeout=30)
                self.assertEqual([e["id"] for e in events], ["ev-%04d" % i for i in range(200)])


class RecordingProducer(http.server.ThreadingHTTPServer):
    """A minimal SSE producer that records each request's headers and
    answers one event."""

    def __init__(self):
        self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(handler):
                self.requests.append(dict(handler.headers))
                body = b"event: cdevent\nid: p-1\ndata: " + event_body(1, "p") + b"\n\n"
                handler.send_response(200)
                handler.send_header("Content-Type", "text/event-stream")
                handler.send_header("Content-Length", str(len(body)))
                handler.end_headers()
                handler.wfile.write(body)

            def log_message(handler, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


class OutgoingHeadersTest(unittest.TestCase):

    def test_static_secret_signature_as_upstream(self):
        producer = RecordingProducer()
        self.addCleanup(producer.shutdown)
        url = "http://127.0.0.1:%d/sse/p" % producer.server_address[1]
        config = """
[sources.p]
enabled = true

[sources.p.extractor]
type = "sse"
url = "%s"
user_agent = "test-agent/1.0"

[sources.p.extractor.headers]
"X-Static" = { type = "static", value = "v", prefix = "<", suffix = ">" }
"X-Secret" = { type = "secret", value = "s3cr3t-value" }
"X-Sig" = { type = "signature", token = "6b6579", token_encoding = "hex", signature_prefix = "sha256=", signature_on = { headers_then_body = { separator = ".", headers = ["x-static", "x-absent", "x-secret"] } } }
"X-Sig64" = { type = "signature", token = "key", signature_encoding = "base64" }

[sinks.d]
type = "debug"
""" % url
        with Pipeline(config) as central:
            wait_for(lambda: producer.requests, what="a request:\n" + central.stderr())
            headers = {k.lower(): v for k, v in producer.requests[0].items()}
            self.assertEqual(headers["x-static"], "<v>")
            self.assertEqual(headers["x-secret"], "s3cr3t-value")
            self.assertEqual(headers["user-agent"], "test-agent/1.0")
            self.assertEqual(headers["accept"], "text/event-stream")
            expected = hmac.new(b"key", b"<v>.s3cr3t-value.", hashlib.sha256).hexdigest()
            self.assertEqual(headers["x-sig"], "sha256=" + expected)
            import base64
            self.assertEqual(headers["x-sig64"], base64.b64encode(
                hmac.new(b"key", b"", hashlib.sha256).digest()).decode())
            wait_for(lambda: "p-0001" in central.stdout() + central.stderr(),
                     what="the event through the debug sink")
            self.assertNotIn("s3cr3t-value", central.stderr())

    def test_bad_rules_refused_at_load(self):
        for rule, message in [
                ('{ type = "equals", value = "x" }', "unknown type “equals”"),
                ('{ type = "static" }', "the field “value” is required"),
                ('{ type = "signature", token = "zz", token_encoding = "hex" }', "not valid hex"),
                ('{ type = "static", value = "x", extra = 1 }', "unknown field “extra”")]:
            config = """
[sources.p]
enabled = true

[sources.p.extractor]
type = "sse"
url = "http://127.0.0.1:9/sse/p"
headers = { "X-H" = %s }
""" % rule
            p = Pipeline(config, expect_start=False)
            try:
                self.assertNotEqual(p.wait(10), 0)
                self.assertIn(message, p.stderr())
                self.assertIn("X-H", p.stderr())
            finally:
                p.close()


def _events(text):
    from cdviz_testlib import parse_events
    return parse_events(text)


if __name__ == "__main__":
    unittest.main()
