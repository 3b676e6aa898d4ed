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


def _events(text):
    from cdviz_testlib import parse_events
    return parse_events(text)


if __name__ == "__main__":
    unittest.main()
