# SPDX-License-Identifier: Apache-2.0
"""The SSE sink over real sockets: exact frames, fan-out, status codes,
keep-alive, lag, Last-Event-ID, disconnects, shutdown (design §5).

Events come in through the webhook source (POST /webhook/in → 201).
CDVIZ_SSE_TEST_PLUGIN_DIR adds a plugin directory (a stand-in webhook
source while the real one is not built)."""
import json
import os
import re
import shutil
import socket
import subprocess
import time
import unittest

from cdviz_testlib import (PLUGIN_DIR, Pipeline, SseReader as _SseReader, cdevent,
                           parse_events, read_response, send_request)

EXTRA_PLUGIN_DIR = os.environ.get("CDVIZ_SSE_TEST_PLUGIN_DIR")
EXTRA_ARGS = ["--plugin-dir", EXTRA_PLUGIN_DIR] if EXTRA_PLUGIN_DIR else []

SOURCE = """
[sources.s]
enabled = true
extractor = { type = "webhook", id = "in" }
"""

BASE_EVENT = json.loads(cdevent("build_started"))

DEBUG_SINK = """
[sinks.zz_debug]
type = "debug"
"""


def make_event(i, pad=0, text=None):
    """A CDEvent with context.id "ev-<i>" and an optional big payload."""
    event = json.loads(json.dumps(BASE_EVENT))
    event["context"]["id"] = "ev-%d" % i
    content = {"n": i}
    if pad:
        content["pad"] = "x" * pad
    if text is not None:
        content["text"] = text
    event["subject"]["content"] = content
    return event


def compact(obj):
    """The compact JSON json-glib writes for these events."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def frame(data):
    """The exact SSE frame of one event, from the compact JSON the pipeline
    serialised (as the debug sink prints it)."""
    event_id = json.loads(data)["context"]["id"]
    id_line = b""
    if event_id and "\n" not in event_id and "\r" not in event_id:
        id_line = b"id: " + event_id.encode("utf-8") + b"\n"
    return b"event: cdevent\n" + id_line + b"data: " + data + b"\n\n"


def have_webhook():
    dirs = [PLUGIN_DIR] + ([EXTRA_PLUGIN_DIR] if EXTRA_PLUGIN_DIR else [])
    for d in dirs:
        for root, _, files in os.walk(d):
            for f in files:
                if f.endswith(".so") and "webhook" in f:
                    return True
    return False


SseReader = _SseReader


class TerminatedReader(SseReader):
    """An SseReader that tells a proper chunked end from a mere close."""

    terminated = False

    def _dechunk(self):
        if not self._chunked:
            return super()._dechunk()
        while b"\r\n" in self._raw:
            size_line, _, rest = self._raw.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if len(rest) < size + 2:
                return
            if size == 0:
                self.terminated = rest[:2] == b"\r\n"
            self.text += rest[:size]
            self._raw = rest[size + 2:]
            if size == 0:
                self.ended = True
                return


@unittest.skipUnless(have_webhook(), "the webhook source plugin is not built")
class SseTest(unittest.TestCase):
    def start(self, sinks, extra=""):
        # The debug sink prints the compact JSON of every event: the exact
        # bytes the SSE data lines must carry.
        p = Pipeline(SOURCE + sinks + DEBUG_SINK + extra, args=EXTRA_ARGS,
                     env={"G_MESSAGES_DEBUG": "cdviz-sse"})
        self.addCleanup(p.close)
        self.addCleanup(self.check_log, p)
        return p

    def check_log(self, p):
        self.assertNotRegex(p.stderr(), r"CRITICAL|WARNING")

    def serialised(self, p, n, timeout=10):
        """The compact JSON of the first n events, from the debug sink."""
        deadline = time.monotonic() + timeout
        while True:
            with open(p.stdout_path, "rb") as f:
                # (GLib writes debug logs to standard output too.)
                lines = [l for l in f.read().split(b"\n")[:-1] if l.startswith(b"{")]
            if len(lines) >= n:
                return lines[:n]
            if time.monotonic() > deadline:
                self.fail("the debug sink printed %d events, expected %d" % (len(lines), n))
            time.sleep(0.02)

    def post(self, p, event):
        body = event if isinstance(event, bytes) else compact(event)
        status, _, answer = p.request("POST", "/webhook/in", body,
                                      headers={"Content-Type": "application/json"})
        self.assertEqual(status, 201, answer)

    def reader(self, p, path="/sse/events", **kw):
        r = SseReader(p.port, path, **kw)
        self.addCleanup(r.close)
        return r

    def metric(self, p, name, labels):
        _, _, body = p.request("GET", "/metrics")
        for line in body.decode().splitlines():
            if line.startswith(name + "{") and all(l in line for l in labels):
                return float(line.rsplit(" ", 1)[1])
        return None

    def wait_metric(self, p, name, labels, value, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.metric(p, name, labels)
            if got == value:
                return
            time.sleep(0.02)
        self.fail("%s%s: %r, expected %r" % (name, labels, got, value))

    def wait_sent(self, p, sink, n):
        self.wait_metric(p, "cdviz_sink_messages_total",
                         ['sink="%s"' % sink, 'outcome="sent"'], n)

    # --- frames ---------------------------------------------------------

    def test_one_event_exact_frame(self):
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\n')
        r = self.reader(p)
        self.assertEqual(r.status, 200)
        event = make_event(1)
        self.post(p, event)
        [data] = self.serialised(p, 1)
        self.assertEqual(json.loads(data)["subject"], event["subject"])
        expected = frame(data)
        self.assertTrue(expected.startswith(b"event: cdevent\nid: ev-1\ndata: {"))
        r.read_until(lambda t: len(t) >= len(expected))
        self.assertEqual(r.text, expected)

    def test_unusual_characters(self):
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\n')
        r = self.reader(p)
        text = 'line1\nline2\r\nquote " backslash \\ tab \t é ✓ \u2028 data: x\n\nevent: evil'
        event = make_event(7, text=text)
        event["context"]["id"] = "id with spaces: é ✓"
        self.post(p, event)
        [data] = self.serialised(p, 1)
        expected = frame(data)
        r.read_until(lambda t: len(t) >= len(expected))
        self.assertEqual(r.text, expected)
        self.assertEqual(r.text.count(b"\n"), 4)   # data is one line
        ev = parse_events(r.text)
        self.assertEqual(len(ev), 1)
        self.assertEqual(json.loads(ev[0]["data"])["subject"]["content"]["text"], text)
        self.assertEqual(ev[0]["id"], "id with spaces: é ✓")

    def test_retry(self):
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\nretry = "3s"\n')
        r = self.reader(p)
        event = make_event(1)
        self.post(p, event)
        expected = b"retry: 3000\n\n" + frame(self.serialised(p, 1)[0])
        r.read_until(lambda t: len(t) >= len(expected))
        self.assertEqual(r.text, expected)

    # --- fan-out ---------------------------------------------------------

    def test_three_clients_in_order(self):
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\n')
        readers = [self.reader(p) for _ in range(3)]
        n = 200
        for i in range(n):
            self.post(p, make_event(i))
        for r in readers:
            events = r.read_events(n, timeout=30)
            self.assertEqual([e["id"] for e in events], ["ev-%d" % i for i in range(n)])
            self.assertEqual([e["event"] for e in events], ["cdevent"] * n)
            self.assertEqual(json.loads(events[-1]["data"])["subject"]["content"]["n"], n - 1)
        self.wait_metric(p, "cdviz_sse_events_sent_total", ['sink="out"', 'id="events"'], 3 * n)
        self.wait_metric(p, "cdviz_sse_clients", ['sink="out"'], 3)

    def test_multiple_endpoints(self):
        p = self.start('''
[sinks.public]
type = "sse"
id = "public"
headers = { "X-Client-Type" = { type = "exists" } }

[sinks.admin]
type = "sse"
id = "admin"
[sinks.admin.headers]
"Authorization" = { type = "equals", value = "Bearer admin-secret", case_sensitive = true }

[sinks.open]
type = "sse"
id = "open"
''')
        pub = self.reader(p, "/sse/public", headers={"X-Client-Type": "dash"})
        adm = self.reader(p, "/sse/admin", headers={"Authorization": "Bearer admin-secret"})
        opn = self.reader(p, "/sse/open")
        self.assertEqual((pub.status, adm.status, opn.status), (200, 200, 200))
        # Each endpoint has its own rules.
        self.assertEqual(p.request("GET", "/sse/public",
                                   headers={"Authorization": "Bearer admin-secret"})[0], 401)
        self.assertEqual(p.request("GET", "/sse/admin",
                                   headers={"X-Client-Type": "dash"})[0], 401)
        self.assertEqual(p.request("GET", "/sse/admin",
                                   headers={"Authorization": "Bearer nope"})[0], 403)
        for i in range(3):
            self.post(p, make_event(i))
        for r in (pub, adm, opn):
            self.assertEqual([e["id"] for e in r.read_events(3)], ["ev-0", "ev-1", "ev-2"])
        self.assertEqual(self.metric(p, "cdviz_sse_rejected_connections_total",
                                     ['sink="admin"', 'reason="auth"']), 2)
        self.assertEqual(self.metric(p, "cdviz_sse_rejected_connections_total",
                                     ['sink="public"', 'reason="auth"']), 1)
        # One family declaration for every SSE sink.
        metrics = p.request("GET", "/metrics")[2].decode()
        for family in ("cdviz_sse_clients gauge", "cdviz_sse_events_sent_total counter",
                       "cdviz_sse_lagged_events_total counter",
                       "cdviz_sse_rejected_connections_total counter"):
            self.assertEqual(metrics.count("# TYPE " + family + "\n"), 1, family)
        self.assertIn('cdviz_sse_events_sent_total{sink="open",id="open"} 3\n', metrics)

    # --- status codes -----------------------------------------------------

    def test_status_codes(self):
        p = self.start('''
[sinks.out]
type = "sse"
id = "events"
max_clients = 2
cors_allow_origin = "https://dash.example"

[sinks.secure]
type = "sse"
id = "secure"
[sinks.secure.headers]
"Authorization" = { type = "equals", value = "Bearer good", case_sensitive = true }
''')
        # 200, whatever the Accept header says.
        for accept in ("text/event-stream", "application/json", None):
            r = SseReader(p.port, "/sse/events",
                          headers={"Accept": accept} if accept else None)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.headers["content-type"], "text/event-stream")
            self.assertEqual(r.headers["cache-control"], "no-cache")
            self.assertEqual(r.headers["x-accel-buffering"], "no")
            self.assertEqual(r.headers["access-control-allow-origin"], "https://dash.example")
            self.assertEqual(r.headers["transfer-encoding"], "chunked")
            r.close()
            # the server frees the slot when it sees the close (max_clients = 2)
            self.wait_metric(p, "cdviz_sse_clients", ['sink="out"'], 0)

        # 401 missing, 403 wrong, 200 right.
        status, headers, body = p.request("GET", "/sse/secure")
        self.assertEqual(status, 401)
        self.assertTrue(headers["content-type"].startswith("text/plain"))
        self.assertTrue(body.startswith(b"Header validation failed"), body)
        self.assertIn(b"Authorization", body)
        status, headers, body = p.request("GET", "/sse/secure",
                                          headers={"Authorization": "Bearer bad"})
        self.assertEqual(status, 403)
        self.assertTrue(headers["content-type"].startswith("text/plain"))
        self.assertTrue(body.startswith(b"Header validation failed"), body)
        self.assertNotIn(b"Bearer good", body)
        ok = self.reader(p, "/sse/secure", headers={"Authorization": "Bearer good"})
        self.assertEqual(ok.status, 200)

        # 404 for an unknown id.
        self.assertEqual(p.request("GET", "/sse/nope")[0], 404)

        # 405 with Allow.
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            status, headers, _ = p.request(method, "/sse/events")
            self.assertEqual(status, 405, method)
            self.assertEqual(headers["allow"], "GET, HEAD, OPTIONS")

        # HEAD: the same headers, no body.
        s = p.connect()
        send_request(s, "HEAD", "/sse/events")
        status, headers, rest = read_response(s, head_only=True)
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/event-stream")
        self.assertEqual(headers["cache-control"], "no-cache")
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        self.assertEqual(rest, b"")
        s.close()

        # OPTIONS: CORS preflight.
        status, headers, body = p.request(
            "OPTIONS", "/sse/events",
            headers={"Origin": "https://dash.example",
                     "Access-Control-Request-Method": "GET",
                     "Access-Control-Request-Headers": "authorization, last-event-id"})
        self.assertEqual(status, 204)
        self.assertEqual(body, b"")
        self.assertEqual(headers["access-control-allow-origin"], "https://dash.example")
        self.assertEqual(headers["access-control-allow-methods"], "GET, HEAD, OPTIONS")
        self.assertEqual(headers["access-control-allow-headers"], "authorization, last-event-id")
        self.assertIn("access-control-max-age", headers)
        status, headers, _ = p.request("OPTIONS", "/sse/events")
        self.assertEqual(status, 204)
        self.assertIn("Authorization", headers["access-control-allow-headers"])
        self.assertIn("Last-Event-ID", headers["access-control-allow-headers"])

        # 503 once max_clients streams are connected.
        a = self.reader(p)
        b = self.reader(p)
        self.assertEqual((a.status, b.status), (200, 200))
        status, headers, _ = p.request("GET", "/sse/events")
        self.assertEqual(status, 503)
        self.assertIn("retry-after", headers)
        self.assertEqual(self.metric(p, "cdviz_sse_rejected_connections_total",
                                     ['sink="out"', 'reason="max_clients"']), 1)
        # A slot frees when a client leaves.
        a.close()
        self.wait_metric(p, "cdviz_sse_clients", ['sink="out"'], 1)
        c = self.reader(p)
        self.assertEqual(c.status, 200)

    def test_no_cors_header_by_default(self):
        """Without cors_allow_origin, no answer carries a CORS header: a
        browser lets only pages of the stream's own origin read it."""
        p = self.start('''
[sinks.out]
type = "sse"
id = "events"

[sinks.secure]
type = "sse"
id = "secure"
[sinks.secure.headers]
"Authorization" = { type = "exists" }
''')
        cross = {"Origin": "https://evil.example"}
        r = self.reader(p, headers=cross)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["content-type"], "text/event-stream")
        for name in r.headers:
            self.assertFalse(name.lower().startswith("access-control-"), name)
        r.close()
        status, headers, _ = p.request("GET", "/sse/secure", headers=cross)
        self.assertEqual(status, 401)
        self.assertNotIn("access-control-allow-origin", headers)
        # The preflight is answered (204, Allow) but grants nothing.
        status, headers, _ = p.request(
            "OPTIONS", "/sse/events",
            headers=dict(cross, **{"Access-Control-Request-Method": "GET",
                                   "Access-Control-Request-Headers": "authorization"}))
        self.assertEqual(status, 204)
        self.assertEqual(headers["allow"], "GET, HEAD, OPTIONS")
        self.assertEqual([h for h in headers if h.startswith("access-control-")], [])

    def test_cors_allow_origin_star(self):
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\ncors_allow_origin = "*"\n')
        r = self.reader(p, headers={"Origin": "https://dash.example"})
        self.assertEqual(r.headers["access-control-allow-origin"], "*")
        status, headers, _ = p.request("OPTIONS", "/sse/events")
        self.assertEqual(headers["access-control-allow-origin"], "*")

    def test_cors_allow_origin_empty_refused(self):
        p = Pipeline(SOURCE + '[sinks.out]\ntype = "sse"\nid = "events"\ncors_allow_origin = ""\n',
                     args=EXTRA_ARGS, expect_start=False)
        self.addCleanup(p.close)
        self.assertNotEqual(p.wait(), 0)
        self.assertIn("cors_allow_origin", p.stderr())

    def test_http10_close_delimited(self):
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\n')
        s = p.connect()
        self.addCleanup(s.close)
        s.sendall(b"GET /sse/events HTTP/1.0\r\nHost: x\r\n\r\n")
        status, headers, rest = read_response(s, head_only=True)
        self.assertEqual(status, 200)
        self.assertNotIn("transfer-encoding", headers)
        self.wait_metric(p, "cdviz_sse_clients", ['sink="out"'], 1)
        event = make_event(1)
        self.post(p, event)
        expected = frame(self.serialised(p, 1)[0])
        while len(rest) < len(expected):
            rest += s.recv(65536)
        self.assertEqual(rest, expected)
        self.assertEqual(p.stop(), 0)
        self.assertEqual(s.recv(65536), b"")

    # --- keep-alive -------------------------------------------------------

    def test_keep_alive(self):
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\nkeep_alive_interval = "1s"\n')
        r = self.reader(p)
        start = time.monotonic()
        r.read_until(lambda t: t.count(b": keep-alive\n\n") >= 1, timeout=5)
        self.assertGreater(time.monotonic() - start, 0.5)
        self.assertEqual(r.text, b": keep-alive\n\n")
        event = make_event(1)
        self.post(p, event)
        r.read_until(lambda t: t.count(b": keep-alive\n\n") >= 2, timeout=5)
        self.assertEqual(r.text, b": keep-alive\n\n" + frame(self.serialised(p, 1)[0]) +
                         b": keep-alive\n\n")
        # Comments are not events.
        self.assertEqual(len(parse_events(r.text)), 1)

    def test_no_keep_alive_while_busy(self):
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\nkeep_alive_interval = "1s"\n')
        r = self.reader(p)
        deadline = time.monotonic() + 2.5
        i = 0
        while time.monotonic() < deadline:
            self.post(p, make_event(i))
            i += 1
            time.sleep(0.2)
        r.read_events(i)
        self.assertNotIn(b"keep-alive", r.text)

    # --- lag ----------------------------------------------------------------

    def test_lagged_stalled_reader(self):
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\nbuffer_size = 5\n')
        stalled = self.reader(p, rcvbuf=4096)
        self.assertEqual(stalled.status, 200)
        rss_before = p.rss_kib()
        n, pad = 60, 256 * 1024
        for i in range(n):
            self.post(p, make_event(i, pad=pad))
        self.wait_sent(p, "out", n)
        # The stalled client holds no more than its batch: the ring is shared.
        # (Not measurable under AddressSanitizer: its quarantine keeps freed
        # memory resident.)
        if "ASAN_OPTIONS" not in os.environ:
            self.assertLess(p.rss_kib() - rss_before, 64 * 1024)

        # Now read everything: every gap is announced with its exact size.
        stalled.read_until(lambda t: b'"id":"ev-%d"' % (n - 1) in t, timeout=60)
        expected = 0
        skipped_total = 0
        lag_frames = 0
        for ev in parse_events(stalled.text):
            if ev.get("event") == "error":
                m = re.fullmatch(r"lagged: (\d+) messages skipped", ev["data"])
                self.assertIsNotNone(m, ev)
                self.assertNotIn("id", ev)
                skipped = int(m.group(1))
                self.assertGreater(skipped, 0)
                expected += skipped
                skipped_total += skipped
                lag_frames += 1
            else:
                self.assertEqual(ev["id"], "ev-%d" % expected)
                expected += 1
        self.assertEqual(expected, n)
        self.assertGreaterEqual(lag_frames, 1)
        self.wait_metric(p, "cdviz_sse_lagged_events_total", ['sink="out"'], skipped_total)
        self.wait_metric(p, "cdviz_sse_events_sent_total", ['sink="out"'], n - skipped_total)

    # --- Last-Event-ID ------------------------------------------------------

    def test_last_event_id_resume(self):
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\nbuffer_size = 100\n')
        first = self.reader(p)
        for i in range(5):
            self.post(p, make_event(i))
        seen = [e["id"] for e in first.read_events(5)]
        self.assertEqual(seen, ["ev-%d" % i for i in range(5)])
        first.close()
        self.wait_metric(p, "cdviz_sse_clients", ['sink="out"'], 0)

        # Missed while disconnected.
        for i in range(5, 10):
            self.post(p, make_event(i))
        self.wait_sent(p, "out", 10)

        again = self.reader(p, headers={"Last-Event-ID": "ev-4"})
        self.post(p, make_event(10))
        ids = [e["id"] for e in again.read_events(6)]
        self.assertEqual(ids, ["ev-%d" % i for i in range(5, 11)])   # none twice, none missing
        time.sleep(0.2)
        self.assertEqual(len(parse_events(again.text)), 6)

        # Resuming in the middle of what is held.
        mid = self.reader(p, headers={"Last-Event-ID": "ev-7"})
        self.assertEqual([e["id"] for e in mid.read_events(3)], ["ev-8", "ev-9", "ev-10"])

        # An unknown id starts live.
        live = self.reader(p, headers={"Last-Event-ID": "no-such-event"})
        self.post(p, make_event(11))
        self.assertEqual([e["id"] for e in live.read_events(1)], ["ev-11"])
        time.sleep(0.2)
        self.assertEqual(len(parse_events(live.text)), 1)

    def test_last_event_id_evicted_starts_live(self):
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\nbuffer_size = 3\n')
        for i in range(6):
            self.post(p, make_event(i))
        self.wait_sent(p, "out", 6)
        r = self.reader(p, headers={"Last-Event-ID": "ev-1"})
        self.post(p, make_event(6))
        self.assertEqual([e["id"] for e in r.read_events(1)], ["ev-6"])

    # --- history on connect: ?lastEventId=, ?replay= -------------------------

    def ids(self, reader, n):
        return [e["id"] for e in reader.read_events(n)]

    def assert_no_more(self, reader, n):
        time.sleep(0.2)
        self.assertEqual(len(parse_events(reader.text)), n)

    def test_last_event_id_query(self):
        """?lastEventId= resumes as the header does; the header wins."""
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\nbuffer_size = 100\n')
        for i in range(8):
            self.post(p, make_event(i))
        self.wait_sent(p, "out", 8)

        r = self.reader(p, "/sse/events?lastEventId=ev-4")
        self.assertEqual(r.headers.get("x-cdviz-resume"), "resumed")
        self.assertEqual(self.ids(r, 3), ["ev-5", "ev-6", "ev-7"])
        self.assert_no_more(r, 3)

        # The header wins over the query.
        both = self.reader(p, "/sse/events?lastEventId=ev-1",
                           headers={"Last-Event-ID": "ev-6"})
        self.assertEqual(self.ids(both, 1), ["ev-7"])

        # Percent-encoded and unknown: live, as the header.
        live = self.reader(p, "/sse/events?lastEventId=no%2Dsuch")
        self.assertEqual(live.headers.get("x-cdviz-resume"), "unknown-id")
        self.post(p, make_event(8))
        self.assertEqual(self.ids(live, 1), ["ev-8"])
        self.assert_no_more(live, 1)
        self.assertEqual(self.ids(r, 4), ["ev-5", "ev-6", "ev-7", "ev-8"])
        self.assertIn("resumed after Last-Event-ID", p.stderr())

    def test_replay(self):
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\nbuffer_size = 5\n')
        # An empty ring: nothing to replay.
        empty = self.reader(p, "/sse/events?replay=10")
        for i in range(8):
            self.post(p, make_event(i))
        self.wait_sent(p, "out", 8)
        self.assertEqual(self.ids(empty, 8), ["ev-%d" % i for i in range(8)])

        # The last 3, then live; nothing twice.
        three = self.reader(p, "/sse/events?replay=3")
        self.assertNotIn("x-cdviz-resume", three.headers)
        # Over the ring: what it holds (ev-3..7), with no lag notice.
        many = self.reader(p, "/sse/events?replay=1000000000000000000000")
        zero = self.reader(p, "/sse/events?replay=0")
        self.post(p, make_event(8))
        self.assertEqual(self.ids(three, 4), ["ev-5", "ev-6", "ev-7", "ev-8"])
        self.assert_no_more(three, 4)
        self.assertEqual(self.ids(many, 6), ["ev-%d" % i for i in range(3, 9)])
        self.assertNotIn(b"lagged", many.text)
        self.assertEqual(self.ids(zero, 1), ["ev-8"])
        self.assert_no_more(zero, 1)

    def test_replay_and_resume(self):
        """A known Last-Event-ID wins over replay (a reconnecting EventSource
        keeps its URL); an unknown one falls back to the replay."""
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\nbuffer_size = 5\n')
        for i in range(8):
            self.post(p, make_event(i))
        self.wait_sent(p, "out", 8)
        known = self.reader(p, "/sse/events?replay=5", headers={"Last-Event-ID": "ev-6"})
        self.assertEqual(known.headers.get("x-cdviz-resume"), "resumed")
        query = self.reader(p, "/sse/events?replay=5&lastEventId=ev-5")
        evicted = self.reader(p, "/sse/events?replay=2", headers={"Last-Event-ID": "ev-1"})
        self.assertEqual(evicted.headers.get("x-cdviz-resume"), "unknown-id")
        self.assertEqual(self.ids(known, 1), ["ev-7"])
        self.assertEqual(self.ids(query, 2), ["ev-6", "ev-7"])
        self.assertEqual(self.ids(evicted, 2), ["ev-6", "ev-7"])
        for r, n in ((known, 1), (query, 2), (evicted, 2)):
            self.assert_no_more(r, n)

    def test_bad_query(self):
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\n')
        for query, reason in (("replay=abc", b"replay"), ("replay=-1", b"replay"),
                              ("replay=", b"replay"), ("replay=1&replay=2", b"more than once"),
                              ("lastEventId=a&lastEventId=b", b"more than once"),
                              ("lastEventId=%zz", None)):   # refused by libsoup itself
            status, _, body = p.request("GET", "/sse/events?" + query)
            self.assertEqual(status, 400, query)
            if reason is not None:
                self.assertIn(reason, body, query)
                self.assertEqual(json.loads(body)["status"], 400)
        # Other keys are ignored (a cache buster).
        r = self.reader(p, "/sse/events?_=1700000000&replay=0")
        self.assertEqual(r.status, 200)

    # --- per-client filters: ?type=, ?subject= ------------------------------

    KINDS = ["build_started", "service_deployed", "build_finished", "artifact_published"]

    def kinded_event(self, i):
        """Event ev-<i>: kinds in turn (build, service, build, artifact), the
        subject repo-a for even i, repo-b for odd ones."""
        event = json.loads(cdevent(self.KINDS[i % 4]))
        event["context"]["id"] = "ev-%d" % i
        event["subject"]["id"] = "repo-%s" % "ab"[i % 2]
        return event

    def test_filters(self):
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\nbuffer_size = 100\n')
        builds = self.reader(p, "/sse/events?type=dev.cdevents.build.*")
        either = self.reader(p, "/sse/events?type=*.service.*&type=*.artifact.published.*")
        both = self.reader(p, "/sse/events?type=dev.cdevents.build.*&subject=repo-%61")
        subject = self.reader(p, "/sse/events?subject=repo-b")
        nothing = self.reader(p, "/sse/events?type=dev.cdevents.incident.*")
        everything = self.reader(p)
        for i in range(12):
            self.post(p, self.kinded_event(i))
        self.wait_sent(p, "out", 12)
        # The frames are the very bytes an unfiltered client gets.
        all_events = everything.read_events(12)
        by_id = {e["id"]: e for e in all_events}
        cases = ((builds, [0, 2, 4, 6, 8, 10]), (either, [1, 3, 5, 7, 9, 11]),
                 (both, [0, 2, 4, 6, 8, 10]), (subject, [1, 3, 5, 7, 9, 11]))
        for r, expected in cases:
            got = r.read_events(len(expected))
            self.assertEqual([e["id"] for e in got], ["ev-%d" % i for i in expected])
            self.assertEqual(got, [by_id[e["id"]] for e in got])
        self.post(p, self.kinded_event(12))
        self.assertEqual(self.ids(everything, 13)[-1], "ev-12")
        # ev-12: a build of repo-a.
        self.assertEqual(self.ids(builds, 7)[-1], "ev-12")
        self.assertEqual(self.ids(both, 7)[-1], "ev-12")
        for r, n in ((builds, 7), (either, 6), (both, 7), (subject, 6)):
            self.assert_no_more(r, n)
        self.assertEqual(nothing.text.count(b"data:"), 0)
        self.assertIn("filtered", p.stderr())

    def test_filter_resume_and_replay(self):
        """A filtered client resumes after the last event it was sent: the
        skipped ones count as seen, none twice, none missing; replay=N counts
        the events the filter lets through."""
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\nbuffer_size = 100\n')
        path = "/sse/events?type=dev.cdevents.build.*"
        first = self.reader(p, path)
        for i in range(6):
            self.post(p, self.kinded_event(i))
        self.assertEqual(self.ids(first, 3), ["ev-0", "ev-2", "ev-4"])
        self.wait_sent(p, "out", 6)
        first.close()
        self.wait_metric(p, "cdviz_sse_clients", ['sink="out"'], 0)
        for i in range(6, 11):
            self.post(p, self.kinded_event(i))
        self.wait_sent(p, "out", 11)

        again = self.reader(p, path, headers={"Last-Event-ID": "ev-4"})
        query = self.reader(p, path + "&lastEventId=ev-4&replay=1")
        self.assertEqual(again.headers.get("x-cdviz-resume"), "resumed")
        self.assertEqual(self.ids(again, 3), ["ev-6", "ev-8", "ev-10"])
        self.assertEqual(self.ids(query, 3), ["ev-6", "ev-8", "ev-10"])

        # The last 2 builds, whatever came between.
        replay = self.reader(p, path + "&replay=2")
        self.assertEqual(self.ids(replay, 2), ["ev-8", "ev-10"])
        replay_subject = self.reader(p, "/sse/events?subject=repo-b&replay=3")
        self.assertEqual(self.ids(replay_subject, 3), ["ev-5", "ev-7", "ev-9"])

        self.post(p, self.kinded_event(11))   # an artifact: none of these
        self.post(p, self.kinded_event(12))   # a build
        self.assertEqual(self.ids(again, 4)[-1], "ev-12")
        self.assertEqual(self.ids(query, 4)[-1], "ev-12")
        self.assertEqual(self.ids(replay, 3)[-1], "ev-12")
        self.assertEqual(self.ids(replay_subject, 4)[-1], "ev-11")
        for r, n in ((again, 4), (query, 4), (replay, 3), (replay_subject, 4)):
            self.assert_no_more(r, n)

    def test_filter_id_frames_keep_resume_possible(self):
        """A client whose filter matches nothing for longer than the ring is
        sent `id:` frames (no data: they move its Last-Event-ID without
        dispatching an event), one per quarter ring of skipped events and on
        keep-alive, so that it resumes after the ring moved on. Exact bytes."""
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\nbuffer_size = 20\n'
                       'keep_alive_interval = "0s"\n')
        path = "/sse/events?type=dev.cdevents.build.*"
        r = self.reader(p, path)
        self.post(p, self.kinded_event(0))   # a build
        [build] = self.serialised(p, 1)
        expected = frame(build)
        r.read_until(lambda t: t == expected)
        # 40 services: twice the ring. Every 5 (20 / 4), an id frame.
        for i in range(1, 41):
            event = json.loads(cdevent("service_deployed"))
            event["context"]["id"] = "ev-%d" % i
            self.post(p, event)
            if i % 5 == 0:
                expected += b"id: ev-%d\n\n" % i
                r.read_until(lambda t: t == expected)
        self.assertEqual(parse_events(r.text)[0]["id"], "ev-0")
        self.assertNotIn(b"keep-alive", r.text)
        r.close()
        self.wait_metric(p, "cdviz_sse_clients", ['sink="out"'], 0)
        self.post(p, self.kinded_event(42))   # a build, while it is away
        self.wait_sent(p, "zz_debug", 42)

        # Its last id, ev-40, is still held: it resumes, gets ev-42 only.
        again = self.reader(p, path, headers={"Last-Event-ID": "ev-40"})
        self.assertEqual(again.headers.get("x-cdviz-resume"), "resumed")
        self.assertEqual(self.ids(again, 1), ["ev-42"])
        # Without the id frames it would have said ev-0, gone from the ring:
        # resumed live, ev-42 lost.
        stale = self.reader(p, path, headers={"Last-Event-ID": "ev-0"})
        self.assertEqual(stale.headers.get("x-cdviz-resume"), "unknown-id")
        self.assertEqual(self.metric(p, "cdviz_sse_lagged_events_total", ['sink="out"']), 0)

    def test_filter_id_frame_on_keep_alive(self):
        """Fewer skipped events than a quarter ring: the id frame goes with
        the keep-alive, in its place."""
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\nbuffer_size = 100\n'
                       'keep_alive_interval = "300ms"\n')
        r = self.reader(p, "/sse/events?type=dev.cdevents.build.*")
        unfiltered = self.reader(p)
        self.post(p, self.kinded_event(1))   # a service: skipped
        unfiltered.read_events(1)
        frame_1 = b"id: ev-1\n\n"
        # The id frame, then (nothing skipped since) plain keep-alives.
        r.read_until(lambda t: frame_1 in t
                     and b": keep-alive\n\n" in t.split(frame_1, 1)[1], timeout=15)
        self.assertEqual(r.text.replace(b": keep-alive\n\n", b""), frame_1)

    def test_filter_bad_query(self):
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\n')
        too_many = "&".join("type=t%d" % i for i in range(33))
        for query in ("type=", "subject", too_many, "subject=" + "a" * 257):
            status, _, body = p.request("GET", "/sse/events?" + query)
            self.assertEqual(status, 400, query[:40])
            self.assertIn(b"query key", body)

    # --- byte bound --------------------------------------------------------

    def test_buffer_bytes(self):
        """buffer_bytes evicts the oldest frames before buffer_size does;
        /metrics says what the ring holds and its bounds; a Last-Event-ID
        evicted by bytes resumes live, as one evicted by count does."""
        limit = 5000
        p = self.start('''
[sinks.out]
type = "sse"
id = "events"
buffer_size = 1000
buffer_bytes = %d

[sinks.'we"ird\\name']
type = "sse"
id = "other"
''' % limit)
        n = 10
        for i in range(n):
            self.post(p, make_event(i, pad=900))
        self.wait_sent(p, "out", n)
        sizes = [len(frame(data)) for data in self.serialised(p, n)]
        self.assertGreater(min(sizes), 900)
        # The newest frames whose total fits.
        held, total = 0, 0
        while held < n and total + sizes[n - 1 - held] <= limit:
            total += sizes[n - 1 - held]
            held += 1
        self.assertGreater(held, 1)
        self.assertLess(held, n)
        oldest = n - held

        labels = ['sink="out"', 'id="events"']
        self.wait_metric(p, "cdviz_sse_buffer_events", labels, held)
        self.assertEqual(self.metric(p, "cdviz_sse_buffer_bytes", labels), total)
        self.assertEqual(self.metric(p, "cdviz_sse_buffer_max_events", labels), 1000)
        self.assertEqual(self.metric(p, "cdviz_sse_buffer_max_bytes", labels), limit)
        _, _, body = p.request("GET", "/metrics")
        metrics = body.decode()
        for family in ("cdviz_sse_buffer_events", "cdviz_sse_buffer_bytes",
                       "cdviz_sse_buffer_max_events", "cdviz_sse_buffer_max_bytes"):
            self.assertEqual(metrics.count("# TYPE %s gauge\n" % family), 1, family)
            # The other sink (every sink gets every event): its name escaped.
            self.assertIn('%s{sink="we\\"ird\\\\name",id="other"} ' % family, metrics)
        other = '{sink="we\\"ird\\\\name",id="other"} '
        self.assertIn("cdviz_sse_buffer_events%s%d\n" % (other, n), metrics)
        self.assertIn("cdviz_sse_buffer_bytes%s%d\n" % (other, sum(sizes)), metrics)
        self.assertIn("cdviz_sse_buffer_max_bytes%s%d\n" % (other, 64 * 1024 * 1024), metrics)

        # Held: resumes right after it.
        r = self.reader(p, headers={"Last-Event-ID": "ev-%d" % oldest})
        self.assertEqual([e["id"] for e in r.read_events(held - 1)],
                         ["ev-%d" % i for i in range(oldest + 1, n)])
        r.close()
        # Evicted by bytes: live, no lagged notice (doc/sse.md, "Resume").
        live = self.reader(p, headers={"Last-Event-ID": "ev-%d" % (oldest - 1)})
        self.wait_metric(p, "cdviz_sse_clients", labels, 1)
        self.post(p, make_event(n, pad=900))
        self.assertEqual([e["id"] for e in live.read_events(1)], ["ev-%d" % n])
        time.sleep(0.2)
        self.assertEqual(len(parse_events(live.text)), 1)
        self.assertNotIn(b"lagged", live.text)
        self.assertIn("unknown Last-Event-ID: live", p.stderr())
        self.assertEqual(self.metric(p, "cdviz_sse_lagged_events_total", labels), 0)
        # Still within both bounds.
        self.assertLessEqual(self.metric(p, "cdviz_sse_buffer_bytes", labels), limit)

    # --- disconnects and shutdown ---------------------------------------------

    def test_disconnect_cleanup(self):
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\n')
        warm = self.reader(p)
        warm.close()
        self.wait_metric(p, "cdviz_sse_clients", ['sink="out"'], 0)
        time.sleep(0.2)
        baseline = p.fd_count()

        total, batch = 1000, 100
        for _ in range(total // batch):
            readers = [SseReader(p.port, "/sse/events") for _ in range(batch)]
            self.assertTrue(all(r.status == 200 for r in readers))
            for r in readers:
                r.close()
        self.wait_metric(p, "cdviz_sse_clients", ['sink="out"'], 0)
        deadline = time.monotonic() + 10
        while p.fd_count() > baseline and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertLessEqual(p.fd_count(), baseline)

        # Still serving.
        r = self.reader(p)
        event = make_event(1)
        self.post(p, event)
        expected = frame(self.serialised(p, 1)[0])
        r.read_until(lambda t: t == expected)

    def test_head_stream_ends_after_closed_requests(self):
        # A HEAD stream ends with the server closing the connection, also when
        # its descriptor is the number a just-closed request's connection had:
        # a source of the HTTP thread still polling that number kept the
        # socket's file open (no FIN) until the HTTP thread woke up (seen under
        # AddressSanitizer, where it hung most runs).
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\n')
        for i in range(20):
            self.assertEqual(p.request("GET", "/metrics")[0], 200)
            s = p.connect()
            s.settimeout(5)
            try:
                send_request(s, "HEAD", "/sse/events")
                status, _, rest = read_response(s, head_only=True)
                self.assertEqual(status, 200)
                while True:
                    chunk = s.recv(65536)   # times out if the stream never ends
                    if not chunk:
                        break
                    rest += chunk
                self.assertEqual(rest, b"", i)
            finally:
                s.close()

    def test_removed_by_reason(self):
        # Every client that leaves is counted once, with why.
        p = self.start('[sinks."we\\"ird"]\ntype = "sse"\nid = "events"\n')
        labels = ['sink="we\\"ird"', 'id="events"']
        r = self.reader(p)
        self.wait_metric(p, "cdviz_sse_clients", labels, 1)
        r.close()
        s = p.connect()
        send_request(s, "HEAD", "/sse/events")
        read_response(s, head_only=True)
        while s.recv(65536):
            pass
        s.close()
        self.wait_metric(p, "cdviz_sse_clients_removed_total", labels + ['reason="closed"'], 1)
        self.wait_metric(p, "cdviz_sse_clients_removed_total", labels + ['reason="head"'], 1)
        self.wait_metric(p, "cdviz_sse_clients", labels, 0)
        _, _, body = p.request("GET", "/metrics")
        metrics = body.decode()
        self.assertEqual(metrics.count("# TYPE cdviz_sse_clients_removed_total counter\n"), 1)
        for reason in ("reset", "error", "finished", "flush_timeout"):
            self.assertIn('cdviz_sse_clients_removed_total{sink="we\\"ird",id="events",'
                          'reason="%s"} 0\n' % reason, metrics)

    def test_idle_clients_cost_nothing(self):
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\nkeep_alive_interval = "1s"\n')
        readers = [self.reader(p) for _ in range(50)]
        self.wait_metric(p, "cdviz_sse_clients", ['sink="out"'], 50)

        def cpu_seconds():
            with open("/proc/%d/stat" % p.proc.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        before = cpu_seconds()
        time.sleep(2.5)
        self.assertLess(cpu_seconds() - before, 0.5)
        # Every client got its keep-alives meanwhile.
        for r in readers:
            r.read_until(lambda t: t.count(b": keep-alive\n\n") >= 2, timeout=5)

    def test_client_input_is_discarded(self):
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\n')
        r = self.reader(p)
        # Whatever a client sends after its request is read and ignored.
        r.sock.sendall(b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n" + b"x" * 100000)
        self.post(p, make_event(1))
        self.assertEqual([e["id"] for e in r.read_events(1)], ["ev-1"])
        # A half-closed client is gone.
        r.sock.shutdown(socket.SHUT_WR)
        self.wait_metric(p, "cdviz_sse_clients", ['sink="out"'], 0)

    def test_sigterm_ends_streams(self):
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\n')
        readers = []
        for _ in range(3):
            r = TerminatedReader(p.port, "/sse/events")
            self.addCleanup(r.close)
            readers.append(r)
        for i in range(20):
            self.post(p, make_event(i))
        self.assertEqual(p.stop(), 0)
        for r in readers:
            r.read_to_end(timeout=10)
            self.assertTrue(r.terminated, "no last chunk")
            self.assertEqual([e["id"] for e in parse_events(r.text)],
                             ["ev-%d" % i for i in range(20)])

    def test_sigterm_with_stalled_reader(self):
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\nbuffer_size = 5\n')
        stalled = self.reader(p, rcvbuf=4096)
        good = TerminatedReader(p.port, "/sse/events")
        self.addCleanup(good.close)
        for i in range(30):
            self.post(p, make_event(i, pad=128 * 1024))
        good.read_until(lambda t: b'"id":"ev-29"' in t, timeout=30)
        start = time.monotonic()
        self.assertEqual(p.stop(), 0)
        self.assertLess(time.monotonic() - start, 5)
        good.read_to_end()
        self.assertTrue(good.terminated)

    # --- configuration ------------------------------------------------------

    def test_missing_id(self):
        p = Pipeline(SOURCE + '[sinks.out]\ntype = "sse"\n', args=EXTRA_ARGS, expect_start=False)
        self.addCleanup(p.close)
        self.assertNotEqual(p.wait(), 0)
        self.assertIn("missing required key 'id'", p.stderr())
        self.assertRegex(p.stderr(), r"config\.toml:\d+")

    def test_duplicate_route(self):
        p = Pipeline(SOURCE + '[sinks.a]\ntype = "sse"\nid = "x"\n'
                     '[sinks.b]\ntype = "sse"\nid = "x"\n', args=EXTRA_ARGS, expect_start=False)
        self.addCleanup(p.close)
        self.assertNotEqual(p.wait(), 0)
        self.assertIn("/sse/x", p.stderr())

    def test_disabled_sink_has_no_route(self):
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\nenabled = false\n'
                       '[sinks.on]\ntype = "sse"\nid = "on"\n')
        self.assertEqual(p.request("GET", "/sse/events")[0], 404)

    # --- curl -----------------------------------------------------------------

    @unittest.skipUnless(shutil.which("curl"), "curl is not installed")
    def test_curl(self):
        p = self.start('[sinks.out]\ntype = "sse"\nid = "events"\n')
        curl = subprocess.Popen(["curl", "-N", "-s", "-H", "Accept: text/event-stream",
                                 "--max-time", "20",
                                 "http://127.0.0.1:%d/sse/events" % p.port],
                                stdout=subprocess.PIPE)
        self.addCleanup(curl.stdout.close)
        self.addCleanup(curl.kill)
        self.wait_metric(p, "cdviz_sse_clients", ['sink="out"'], 1)
        event = make_event(1)
        self.post(p, event)
        expected = frame(self.serialised(p, 1)[0])
        got = b""
        while len(got) < len(expected):
            chunk = curl.stdout.read1(65536)
            if not chunk:
                break
            got += chunk
        self.assertEqual(got, expected)
        self.assertEqual(p.stop(), 0)
        self.assertEqual(curl.wait(10), 0)   # a clean end of the body


if __name__ == "__main__":
    unittest.main()
