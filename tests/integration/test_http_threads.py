# SPDX-License-Identifier: Apache-2.0
"""Several HTTP threads (`[http] threads`): the first accepts every
connection and hands each to the thread with the fewest; webhooks and SSE
streams are served from all of them. What a user sees: every event answered
2xx reaches every SSE client exactly once, /metrics counts the connections
each thread got, max_connections holds across threads, SIGTERM under load
loses nothing, and a bad value is named with its file, line and key. The
hostile-client tests of test_hostile and the HTTPS tests of test_tls run
again against three threads."""
import json
import os
import re
import socket
import threading
import time
import unittest

from cdviz_testlib import (Pipeline, SseReader, cdevent, parse_events, read_response,
                           send_request)
from integration import test_hostile as hostile
from integration import test_tls as tls

CONFIG = """
[http]
threads = %(threads)d
%(extra)s

[sources.processed]
enabled = true
extractor = { type = "webhook", id = "processed" }

[sources.accepted]
enabled = true
extractor = { type = "webhook", id = "accepted", respond = "accepted" }

[sinks.sse]
type = "sse"
id = "events"
buffer_size = 10000
"""

BASE_EVENT = json.loads(cdevent("build_started"))


def event(event_id):
    ev = json.loads(json.dumps(BASE_EVENT))
    ev["context"]["id"] = event_id
    return json.dumps(ev).encode()


def thread_names(pid):
    names = []
    for task in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, task)) as f:
                names.append(f.read().strip())
        except OSError:
            pass
    return names


def handed_out(metrics):
    """{thread: connections handed to it} from /metrics."""
    return {int(t): int(n) for t, n in re.findall(
        r'cdviz_http_thread_connections_total\{thread="(\d+)"\} (\d+)', metrics)}


def publish(port, path, ids, statuses):
    """Posts one event per id on one kept-alive connection."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        for event_id in ids:
            send_request(s, "POST", path, event(event_id))
            status, _, body = read_response(s)
            statuses.append((event_id, status, body))
    finally:
        s.close()


class ThreeThreads(unittest.TestCase):
    def setUp(self):
        self.p = Pipeline(CONFIG % {"threads": 3, "extra": ""})
        self.addCleanup(self.p.close)

    def test_every_event_reaches_every_client(self):
        names = thread_names(self.p.proc.pid)
        self.assertIn("cdviz-http", names)
        self.assertIn("cdviz-http-1", names)
        self.assertIn("cdviz-http-2", names)

        readers = [SseReader(self.p.port, "/sse/events") for _ in range(4)]
        for r in readers:
            self.addCleanup(r.close)
            self.assertEqual(r.status, 200)

        # 6 publishers on kept-alive connections, both answering modes, at
        # the same time: their connections land on every thread.
        statuses = []
        lock = threading.Lock()
        expected = []
        publishers = []
        for n in range(6):
            path = "/webhook/processed" if n % 2 == 0 else "/webhook/accepted"
            ids = ["t%d-%d" % (n, i) for i in range(60)]
            expected.extend(ids)
            out = []
            publishers.append((threading.Thread(target=publish,
                                                args=(self.p.port, path, ids, out)), out, path))
        for t, _, _ in publishers:
            t.start()
        for t, out, path in publishers:
            t.join(60)
            self.assertFalse(t.is_alive())
            want = 201 if path.endswith("processed") else 202
            with lock:
                bad = [(i, s, b) for i, s, b in out if s != want]
            self.assertEqual(bad, [])
            self.assertEqual(len(out), 60)

        for r in readers:
            events = r.read_events(len(expected), timeout=30)
            got = [e["id"] for e in events]
            self.assertEqual(sorted(got), sorted(expected))
            self.assertEqual(len(set(got)), len(got), "an event came twice")

        _, _, metrics = self.p.request("GET", "/metrics")
        counts = handed_out(metrics.decode())
        self.assertEqual(sorted(counts), [0, 1, 2], metrics.decode()[:2000])
        # 4 streams, 6 publishers and this scrape: every thread got some.
        self.assertTrue(all(n >= 2 for n in counts.values()), counts)
        self.assertGreaterEqual(sum(counts.values()), 11)

    def test_sse_streams_on_every_thread_end_at_shutdown(self):
        readers = [SseReader(self.p.port, "/sse/events") for _ in range(6)]
        for r in readers:
            self.addCleanup(r.close)
            self.assertEqual(r.status, 200)
        status, _, body = self.p.request("POST", "/webhook/processed", event("last"))
        self.assertEqual(status, 201, body)
        self.assertEqual(self.p.stop(), 0, self.p.stderr()[-2000:])
        for r in readers:
            text = r.read_to_end(timeout=10)
            self.assertIn(b"id: last\n", text)
            self.assertTrue(r.ended)


class SigtermUnderLoad(unittest.TestCase):
    """SIGTERM while 4 publishers post on kept-alive connections spread over
    3 threads: every event answered 201 reaches every SSE client before
    its stream ends, and the program exits 0."""

    def test_nothing_accepted_is_lost(self):
        p = Pipeline(CONFIG % {"threads": 3, "extra": ""})
        self.addCleanup(p.close)
        readers = [SseReader(p.port, "/sse/events") for _ in range(10)]
        for r in readers:
            self.addCleanup(r.close)
            self.assertEqual(r.status, 200)

        accepted = []
        lock = threading.Lock()
        stop = threading.Event()

        def post(n):
            s = p.connect()
            i = 0
            try:
                while not stop.is_set():
                    event_id = "sig-%d-%d" % (n, i)
                    i += 1
                    try:
                        send_request(s, "POST", "/webhook/processed", event(event_id))
                        status, _, _ = read_response(s)
                    except (OSError, EOFError):
                        return
                    if status == 201:
                        with lock:
                            accepted.append(event_id)
                    elif status == 503:
                        return
                    else:
                        raise AssertionError("unexpected status %d" % status)
            finally:
                s.close()

        threads = [threading.Thread(target=post, args=(n,), daemon=True) for n in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with lock:
                if len(accepted) >= 200:
                    break
            time.sleep(0.02)
        p.proc.send_signal(15)
        code = p.wait(20)
        stop.set()
        for t in threads:
            t.join(10)

        self.assertEqual(code, 0, p.stderr()[-2000:])
        self.assertGreaterEqual(len(accepted), 200)
        for r in readers:
            ids = {e.get("id") for e in parse_events(r.read_to_end(timeout=10))}
            missing = set(accepted) - ids
            self.assertEqual(missing, set(), "%d accepted events missing" % len(missing))


class MaxConnectionsAcrossThreads(unittest.TestCase):
    """max_connections counts the connections of every thread."""

    def test_limit_holds_across_threads(self):
        p = Pipeline(CONFIG % {"threads": 2, "extra": "max_connections = 6"})
        self.addCleanup(p.close)
        held = []
        try:
            # 6 kept-alive connections, each served once (on both threads).
            for _ in range(6):
                s = p.connect()
                send_request(s, "GET", "/healthz")
                self.assertEqual(read_response(s)[0], 200)
                held.append(s)
            # The 7th is closed unanswered.
            extra = p.connect()
            extra.settimeout(5)
            try:
                send_request(extra, "GET", "/healthz")
                data = extra.recv(1024)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            extra.close()
            self.assertEqual(data, b"")
            # Once one goes, a new connection is served again.
            held.pop().close()
            deadline = time.monotonic() + 10
            served = None
            while time.monotonic() < deadline and served is None:
                try:
                    status, _, metrics = p.request("GET", "/metrics", timeout=2)
                    served = metrics.decode()
                except (OSError, EOFError):
                    time.sleep(0.1)
            self.assertIsNotNone(served, "no connection served after one closed")
            self.assertRegex(served,
                             r'cdviz_http_connections_closed_total\{reason="max_connections"\} [1-9]')
            counts = handed_out(served)
            self.assertTrue(counts.get(0, 0) >= 3 and counts.get(1, 0) >= 3, counts)
        finally:
            for s in held:
                s.close()


class BadThreads(unittest.TestCase):
    def check(self, value, message):
        p = Pipeline("[http]\nport = 0\nthreads = %s\n" % value, expect_start=False)
        self.addCleanup(p.close)
        self.assertNotEqual(p.wait(10), 0)
        self.assertIn("config.toml:3: key “http.threads”: " + message, p.stderr())

    def test_zero(self):
        self.check("0", "0 is out of range (1–64)")

    def test_not_an_integer(self):
        self.check('"two"', "expected an integer, got a string")


# test_hostile's hostile clients, against three HTTP threads.
THREADS = "\nthreads = 3"


class ThreadedSlow(hostile.Slow):
    EXTRA = hostile.Slow.EXTRA + THREADS


class ThreadedSlowBody(hostile.SlowBody):
    EXTRA = hostile.SlowBody.EXTRA + THREADS


class ThreadedMaxConnections(hostile.MaxConnections):
    EXTRA = hostile.MaxConnections.EXTRA + THREADS


class ThreadedHeaders(hostile.Headers):
    EXTRA = hostile.Headers.EXTRA + THREADS


class ThreadedBodies(hostile.Bodies):
    EXTRA = hostile.Bodies.EXTRA + THREADS


class ThreadedProtocol(hostile.Protocol):
    EXTRA = hostile.Protocol.EXTRA + THREADS


class ThreadedFraming(hostile.Framing):
    EXTRA = hostile.Framing.EXTRA + THREADS


class ThreadedDescriptors(hostile.Descriptors):
    EXTRA = hostile.Descriptors.EXTRA + THREADS
    RESERVED = 64 + 2 * 2


# test_tls's HTTPS tests (the handshake runs on the connection's thread).
class ThreadedHttps(tls.Https):
    EXTRA = THREADS


if __name__ == "__main__":
    unittest.main()
