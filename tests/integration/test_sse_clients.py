# SPDX-License-Identifier: Apache-2.0
"""The SSE sink with real clients (design §5, seed/sse-sink.md "Client
Implementation Examples"):

- Node.js with the npm `eventsource` package (v4), custom headers through
  its `fetch` option: order, header rules (200 / 401 / 403, no retry on
  those), and an automatic reconnection with Last-Event-ID after the
  connection is cut;
- the browser's own EventSource in headless Chromium, on a page served from
  another origin (CORS): order, and the same reconnection.

Both also read a central node (an SSE source on a regional node feeding
an SSE sink: collector to collector, issue #15): every event once, in
order, and a resume with Last-Event-ID through the central node.

Connections are cut by a small TCP proxy between the client and the
pipeline (DroppingProxy): the pipeline and its ring keep running, the client
sees its stream end mid-way, as when a network drops.

What these need is installed by build-aux/dev (test, setup): Debian's
nodejs/npm and chromium when missing, then `npm ci --prefix tests/clients`.
A test skips, saying why, only when its client is not there.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cdviz_testlib import PLUGIN_DIR, Pipeline, cdevent

CLIENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients")
CLIENTS = os.path.normpath(CLIENTS)
NODE = shutil.which("node")
NPM = shutil.which("npm")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

BASE_EVENT = json.loads(cdevent("build_started"))
TOKEN = "Bearer es-client-Zq81-token"

SOURCE = """
[sources.s]
enabled = true
extractor = { type = "webhook", id = "in" }
"""

SINKS = """
[sinks.out]
type = "sse"
id = "events"
buffer_size = 100
retry = "300ms"

[sinks.secure]
type = "sse"
id = "secure"
[sinks.secure.headers]
"Authorization" = { type = "equals", value = "%s", case_sensitive = true }
""" % TOKEN


# Collector to collector: the central node's SSE source reads the regional
# node's stream with the token its header rule requires.
CHAIN_TOKEN = "Bearer regional-Hop-77c1"
CHAIN_REGIONAL = """
[sources.s]
enabled = true
extractor = { type = "webhook", id = "in" }

[sinks.regional_stream]
type = "sse"
id = "regional"
buffer_size = 100
[sinks.regional_stream.headers]
"Authorization" = { type = "secret", value = "%s" }
""" % CHAIN_TOKEN
CHAIN_CENTRAL = """
[sources.regional]
enabled = true
[sources.regional.extractor]
type = "sse"
url = "http://127.0.0.1:%%(port)d/sse/regional"
retry_delay = "100ms"
[sources.regional.extractor.headers]
"Authorization" = { type = "secret", value = "%s" }

[sinks.out]
type = "sse"
id = "events"
buffer_size = 100
retry = "300ms"
%%(cors)s""" % CHAIN_TOKEN

def have_webhook():
    for root, _, files in os.walk(PLUGIN_DIR):
        if any(f.endswith(".so") and "webhook" in f for f in files):
            return True
    return False


def make_event(i):
    event = json.loads(json.dumps(BASE_EVENT))
    event["context"]["id"] = "ev-%d" % i
    event["subject"]["content"] = {"n": i}
    return event


_npm_state = {}


def eventsource_ready():
    """The npm eventsource package under tests/clients/node_modules; runs
    `npm ci` once when node and npm are there but the modules are not (a
    tree not set up with build-aux/dev). Returns a reason string when it
    cannot be had, None when it is there."""
    if not NODE:
        return "node is not installed (build-aux/dev test installs Debian's nodejs)"
    module = os.path.join(CLIENTS, "node_modules", "eventsource", "package.json")
    if os.path.exists(module):
        return None
    if "reason" in _npm_state:
        return _npm_state["reason"]
    reason = None
    if not NPM:
        reason = "npm is not installed (build-aux/dev test installs Debian's npm)"
    else:
        try:
            subprocess.run([NPM, "ci", "--prefix", CLIENTS, "--no-audit", "--no-fund"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=240, check=True)
        except (subprocess.SubprocessError, OSError) as e:
            reason = "npm ci --prefix tests/clients failed: %s" % e
        if reason is None and not os.path.exists(module):
            reason = "npm ci did not install eventsource"
    _npm_state["reason"] = reason
    return reason


class Lines:
    """Collects a child's standard output, one JSON object a line."""

    def __init__(self, stream=None):
        self.items = []
        self.raw = []
        self.cond = threading.Condition()
        self.closed = False
        self.thread = None
        if stream is not None:
            self.thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
            self.thread.start()

    def add(self, text):
        with self.cond:
            self.raw.append(text)
            try:
                self.items.append(json.loads(text))
            except ValueError:
                pass
            self.cond.notify_all()

    def _run(self, stream):
        for line in stream:
            self.add(line.decode("utf-8", "replace").rstrip("\n"))
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def wait(self, predicate, timeout=20, what="condition"):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(self.items):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("timed out waiting for %s; got:\n%s"
                                         % (what, "\n".join(self.raw[-50:])))
                self.cond.wait(remaining)
            return list(self.items)

    def snapshot(self):
        with self.cond:
            return list(self.items)


def events_of(items):
    return [i for i in items if "event" in i]


def requests_of(items):
    return [i for i in items if "request" in i]


def opens_of(items):
    return [i for i in items if i.get("open")]


class DroppingProxy:
    """A TCP forwarder on a free loopback port in front of the pipeline;
    drop() cuts every connection it carries, both ways, at once. heads()
    gives the request head each connection began with, as the client sent it."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.pairs = []
        self.accepted = 0
        self.requests = []   # per connection: the bytes the client sent (the start)
        self.closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                if self.closing:
                    client.close()
                    upstream.close()
                    return
                self.accepted += 1
                self.pairs.append((client, upstream))
                sent = bytearray()
                self.requests.append(sent)
            threading.Thread(target=self._pump, args=(client, upstream, sent),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, src, dst, record=None):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if record is not None and len(record) < 65536:
                    with self.lock:
                        record += data
                dst.sendall(data)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def heads(self):
        """The request heads, one per connection: {'request-line': …,
        lower-case header name: value}."""
        heads = []
        with self.lock:
            raw = [bytes(r) for r in self.requests]
        for r in raw:
            lines = r.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
            head = {"request-line": lines[0]}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                head[k.strip().lower()] = v.strip()
            heads.append(head)
        return heads

    def drop(self):
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
        return len(pairs)

    def close(self):
        with self.lock:
            self.closing = True
        self.listener.close()
        self.drop()


@unittest.skipUnless(have_webhook(), "the webhook source plugin is not built")
class ClientTestBase(unittest.TestCase):
    def start(self, sinks=SINKS):
        p = Pipeline(SOURCE + sinks, env={"G_MESSAGES_DEBUG": "cdviz-sse"})
        self.addCleanup(p.close)
        self.addCleanup(self.check_log, p)
        return p

    def check_log(self, p):
        log = p.stderr() + p.stdout()
        self.assertNotRegex(log, r"CRITICAL|WARNING")
        # Header values are never logged, not even at debug level.
        self.assertNotIn(TOKEN.split()[1], log)
        self.assertNotIn(CHAIN_TOKEN.split()[1], log)

    def post(self, p, i):
        body = json.dumps(make_event(i), separators=(",", ":")).encode()
        status, _, answer = p.request("POST", "/webhook/in", body,
                                      headers={"Content-Type": "application/json"})
        self.assertEqual(status, 201, answer)

    def metric(self, p, name, labels):
        _, _, body = p.request("GET", "/metrics")
        for line in body.decode().splitlines():
            if line.startswith(name + "{") and all(l in line for l in labels):
                return float(line.rsplit(" ", 1)[1])
        return None

    def wait_metric(self, p, name, labels, value, timeout=10):
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            got = self.metric(p, name, labels)
            if got == value:
                return
            time.sleep(0.02)
        self.fail("%s%s: %r, expected %r" % (name, labels, got, value))

    def proxy(self, p):
        proxy = DroppingProxy(p.port)
        self.addCleanup(proxy.close)
        return proxy

    def start_chain(self, cors_allow_origin=None):
        """A regional node (webhook → SSE sink "regional") and a central one
        (SSE source on it → SSE sink "events", as SINKS' out): collector to
        collector. Events are posted to the regional node, clients read the
        central one."""
        regional = Pipeline(CHAIN_REGIONAL, env={"G_MESSAGES_DEBUG": "cdviz-sse"})
        self.addCleanup(regional.close)
        self.addCleanup(self.check_log, regional)
        cors = 'cors_allow_origin = "%s"\n' % cors_allow_origin if cors_allow_origin else ""
        central = Pipeline(CHAIN_CENTRAL % {"port": regional.port, "cors": cors},
                           env={"G_MESSAGES_DEBUG": "cdviz-sse"})
        self.addCleanup(central.close)
        self.addCleanup(self.check_log, central)
        self.wait_metric(regional, "cdviz_sse_clients", ['sink="regional_stream"'], 1)
        return regional, central

    def server_log(self, p):
        # GLib writes debug messages to standard output.
        return p.stdout() + p.stderr()


class NodeEventSourceTest(ClientTestBase):
    """npm eventsource v4 (tests/clients/es-client.js)."""

    def setUp(self):
        reason = eventsource_ready()
        if reason:
            self.skipTest(reason)

    def client(self, url, headers=(), count=0, timeout=40):
        cmd = [NODE, os.path.join(CLIENTS, "es-client.js"), url,
               "--timeout", str(timeout)]
        for h in headers:
            cmd += ["--header", h]
        if count:
            cmd += ["--count", str(count)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)

        def stop():
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
            proc.stdout.close()
            proc.stderr.close()
        self.addCleanup(stop)
        return proc, Lines(proc.stdout)

    def finish(self, proc, lines, code=0):
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait(5)
        lines.thread.join(10)
        self.assertEqual(rc, code, "es-client.js exited %d:\n%s\n%s"
                         % (rc, "\n".join(lines.raw), proc.stderr.read().decode()))
        return lines.snapshot()

    def test_receives_events_in_order(self):
        p = self.start()
        n = 25
        proc, lines = self.client("http://127.0.0.1:%d/sse/events" % p.port, count=n)
        lines.wait(lambda items: opens_of(items), what="the stream to open")
        self.wait_metric(p, "cdviz_sse_clients", ['sink="out"'], 1)
        for i in range(n):
            self.post(p, i)
        items = self.finish(proc, lines)
        events = events_of(items)
        self.assertEqual([e["id"] for e in events], ["ev-%d" % i for i in range(n)])
        self.assertEqual({e["event"] for e in events}, {"cdevent"})
        self.assertEqual({e["type"] for e in events}, {BASE_EVENT["context"]["type"]})
        self.assertEqual(len(requests_of(items)), 1)
        self.assertEqual(requests_of(items)[0]["lastEventId"], None)
        self.assertFalse([i for i in items if "error" in i])
        self.wait_metric(p, "cdviz_sse_clients", ['sink="out"'], 0)

    def test_header_rules(self):
        p = self.start()
        url = "http://127.0.0.1:%d/sse/secure" % p.port

        # The right Authorization header, through the fetch option: 200, events.
        proc, lines = self.client(url, headers=["Authorization: " + TOKEN], count=3)
        lines.wait(lambda items: opens_of(items), what="the stream to open")
        for i in range(3):
            self.post(p, i)
        items = self.finish(proc, lines)
        self.assertEqual([e["id"] for e in events_of(items)], ["ev-0", "ev-1", "ev-2"])

        # None: 401; wrong: 403; a wrong case (the rule is case-sensitive): 403.
        # EventSource does not retry either: one request, then CLOSED.
        for headers, status in (([], 401),
                                (["Authorization: Bearer not-the-token"], 403),
                                (["Authorization: " + TOKEN.upper()], 403),
                                (["X-Other: " + TOKEN], 401)):
            proc, lines = self.client(url, headers=headers)
            items = self.finish(proc, lines, code=2)
            errors = [i for i in items if "error" in i]
            self.assertEqual(len(errors), 1, items)
            self.assertEqual(errors[0]["error"], status, items)
            self.assertEqual(errors[0]["readyState"], 2)   # CLOSED
            self.assertIn(str(status), errors[0]["message"])
            self.assertEqual(len(requests_of(items)), 1)
            self.assertFalse(opens_of(items))
        self.assertEqual(self.metric(p, "cdviz_sse_rejected_connections_total",
                                     ['sink="secure"', 'reason="auth"']), 4)
        self.assertEqual(self.metric(p, "cdviz_sse_events_sent_total",
                                     ['sink="secure"']), 3)

    def test_reconnects_with_last_event_id(self):
        p = self.start()
        proxy = self.proxy(p)
        n = 15
        proc, lines = self.client("http://127.0.0.1:%d/sse/events" % proxy.port, count=n,
                                  headers=["X-Client: es-client"])
        lines.wait(lambda items: opens_of(items), what="the stream to open")
        self.wait_metric(p, "cdviz_sse_clients", ['sink="out"'], 1)
        for i in range(5):
            self.post(p, i)
        lines.wait(lambda items: len(events_of(items)) >= 5, what="the first five events")

        # The network drops; events go on meanwhile.
        self.assertEqual(proxy.drop(), 1)
        self.wait_metric(p, "cdviz_sse_clients", ['sink="out"'], 0)
        for i in range(5, 10):
            self.post(p, i)
        # EventSource reconnects by itself, after the retry: the sink sent.
        lines.wait(lambda items: len(opens_of(items)) >= 2, what="a reconnection")
        for i in range(10, n):
            self.post(p, i)
        items = self.finish(proc, lines)

        # Every event once, none missing, none twice, in order.
        self.assertEqual([e["id"] for e in events_of(items)], ["ev-%d" % i for i in range(n)])
        reqs = requests_of(items)
        self.assertEqual(len(reqs), 2, items)
        self.assertEqual(reqs[0]["lastEventId"], None)
        self.assertEqual(reqs[1]["lastEventId"], "ev-4")
        self.assertEqual(proxy.accepted, 2)
        # On the wire: the second request carried it, and our header on both.
        heads = proxy.heads()
        self.assertEqual([h["request-line"] for h in heads], ["GET /sse/events HTTP/1.1"] * 2)
        self.assertNotIn("last-event-id", heads[0])
        self.assertEqual(heads[1]["last-event-id"], "ev-4")
        self.assertEqual([h["x-client"] for h in heads], ["es-client"] * 2)
        # The server resumed after it (rather than starting live).
        self.assertIn("sink 'out': client", self.server_log(p))
        self.assertIn("resumed after Last-Event-ID", self.server_log(p))
        self.assertEqual(self.metric(p, "cdviz_sse_lagged_events_total", ['sink="out"']), 0)

    def test_central_node(self):
        """Two npm eventsource clients on a central node (SSE source on a
        regional node, SSE sink): each receives every event once, in order;
        the one behind a proxy that drops resumes with Last-Event-ID
        through the central node."""
        regional, central = self.start_chain()
        proxy = self.proxy(central)
        n = 15
        direct, direct_lines = self.client("http://127.0.0.1:%d/sse/events" % central.port,
                                           count=n)
        cut, cut_lines = self.client("http://127.0.0.1:%d/sse/events" % proxy.port, count=n)
        for lines in (direct_lines, cut_lines):
            lines.wait(lambda items: opens_of(items), what="the stream to open")
        self.wait_metric(central, "cdviz_sse_clients", ['sink="out"'], 2)
        for i in range(5):
            self.post(regional, i)
        cut_lines.wait(lambda items: len(events_of(items)) >= 5, what="the first five events")
        self.assertEqual(proxy.drop(), 1)
        self.wait_metric(central, "cdviz_sse_clients", ['sink="out"'], 1)
        for i in range(5, 10):
            self.post(regional, i)
        cut_lines.wait(lambda items: len(opens_of(items)) >= 2, what="a reconnection")
        for i in range(10, n):
            self.post(regional, i)
        expected = ["ev-%d" % i for i in range(n)]
        for proc, lines in ((direct, direct_lines), (cut, cut_lines)):
            items = self.finish(proc, lines)
            self.assertEqual([e["id"] for e in events_of(items)], expected)
            self.assertEqual({e["type"] for e in events_of(items)},
                             {BASE_EVENT["context"]["type"]})
        self.assertEqual([r["lastEventId"] for r in requests_of(cut_lines.snapshot())],
                         [None, "ev-4"])
        self.assertEqual(len(requests_of(direct_lines.snapshot())), 1)
        self.assertEqual(proxy.heads()[1]["last-event-id"], "ev-4")
        self.assertIn("resumed after Last-Event-ID", self.server_log(central))
        self.assertEqual(self.metric(central, "cdviz_sse_events_sent_total", ['sink="out"']),
                         2 * n)


class PageServer:
    """Serves tests/clients/sse-page.html on a free loopback port (an origin
    other than the pipeline's) and collects what the page POSTs to /report."""

    def __init__(self):
        self.reports = reports = Lines()
        with open(os.path.join(CLIENTS, "sse-page.html"), "rb") as f:
            page = f.read()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path.split("?")[0] != "/sse-page.html":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(page)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                reports.add(body.decode("utf-8", "replace"))
                self.send_response(204)
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@unittest.skipUnless(CHROMIUM, "chromium is not installed (build-aux/dev test installs "
                     "Debian's chromium; it could not be installed here)")
class BrowserEventSourceTest(ClientTestBase):
    """The browser's own EventSource, in headless Chromium."""

    def setUp(self):
        # The page is served first: the stream must name its origin, since
        # the sink sends no CORS header unless cors_allow_origin is set.
        self.page_server = PageServer()
        self.addCleanup(self.page_server.close)
        self.page_port = self.page_server.port

    def start(self, sinks=SINKS):
        origin = "http://127.0.0.1:%d" % self.page_port
        return super().start(sinks.replace(
            '[sinks.out]\n', '[sinks.out]\ncors_allow_origin = "%s"\n' % origin, 1))

    def browser(self, src):
        server = self.page_server
        profile = tempfile.TemporaryDirectory(prefix="cdviz-chromium-")
        self.addCleanup(profile.cleanup)
        url = "http://127.0.0.1:%d/sse-page.html?src=%s" % (server.port, src)
        log = open(os.path.join(profile.name, "chromium.log"), "wb")
        # Flags as this machine needs them: no sandbox as root, no GPU, and
        # no background connections to the outside (there is no network).
        proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync",
             "--disable-default-apps", "--disable-extensions",
             "--user-data-dir=" + os.path.join(profile.name, "profile"),
             "--remote-debugging-port=0", url],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
            env=dict(os.environ, HOME=profile.name))

        def stop():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
            log.close()
        self.addCleanup(stop)
        return server.reports

    def test_other_origin_refused_without_cors(self):
        """The default (no cors_allow_origin): the browser refuses to let a
        page of another origin read the stream."""
        p = super().start()
        reports = self.browser("http://127.0.0.1:%d/sse/events" % p.port)
        items = reports.wait(lambda items: [i for i in items if i.get("error")], timeout=60,
                             what="the page's EventSource to fail")
        self.post(p, 0)
        time.sleep(0.5)
        items = reports.snapshot()
        self.assertEqual(events_of(items), [])
        self.assertEqual(opens_of(items), [])
        self.assertEqual({i["readyState"] for i in items if i.get("error")}, {2})   # CLOSED

    def test_receives_events_in_order(self):
        p = self.start()
        reports = self.browser("http://127.0.0.1:%d/sse/events" % p.port)
        reports.wait(lambda items: opens_of(items), timeout=60, what="the page's stream to open")
        self.wait_metric(p, "cdviz_sse_clients", ['sink="out"'], 1)
        n = 25
        for i in range(n):
            self.post(p, i)
        items = reports.wait(lambda items: len(events_of(items)) >= n, timeout=30,
                             what="%d events in the page" % n)
        time.sleep(0.3)
        items = reports.snapshot()
        self.assertEqual([i["seq"] for i in items], list(range(len(items))))
        events = events_of(items)
        self.assertEqual([e["id"] for e in events], ["ev-%d" % i for i in range(n)])
        self.assertEqual([e["listed"] for e in events], list(range(1, n + 1)))
        self.assertEqual({e["type"] for e in events}, {BASE_EVENT["context"]["type"]})
        # Cross-origin: the page's origin is not the pipeline's.
        self.assertEqual({e["origin"] for e in events}, {"http://127.0.0.1:%d" % p.port})
        self.assertFalse([i for i in items if i.get("error")])

    def reconnect_through_proxy(self, producer, node):
        """The page reads @node through a proxy that drops once; events are
        posted to @producer (the same node, or the regional node of a
        chain). Every event once, in order; the second request resumes with
        Last-Event-ID."""
        proxy = self.proxy(node)
        reports = self.browser("http://127.0.0.1:%d/sse/events" % proxy.port)
        reports.wait(lambda items: opens_of(items), timeout=60, what="the page's stream to open")
        self.wait_metric(node, "cdviz_sse_clients", ['sink="out"'], 1)
        for i in range(5):
            self.post(producer, i)
        reports.wait(lambda items: len(events_of(items)) >= 5, what="the first five events")

        self.assertEqual(proxy.drop(), 1)
        self.wait_metric(node, "cdviz_sse_clients", ['sink="out"'], 0)
        for i in range(5, 10):
            self.post(producer, i)
        reports.wait(lambda items: len(opens_of(items)) >= 2, timeout=30, what="a reconnection")
        n = 15
        for i in range(10, n):
            self.post(producer, i)
        reports.wait(lambda items: len(events_of(items)) >= n, what="%d events" % n)
        time.sleep(0.3)
        items = reports.snapshot()
        self.assertEqual([e["id"] for e in events_of(items)], ["ev-%d" % i for i in range(n)])
        # The drop was seen as an error while reconnecting, not as a close.
        errors = [i for i in items if i.get("error")]
        self.assertTrue(errors)
        self.assertEqual({e["readyState"] for e in errors}, {0})   # CONNECTING
        self.assertEqual(proxy.accepted, 2)
        heads = proxy.heads()
        self.assertEqual([h["request-line"] for h in heads], ["GET /sse/events HTTP/1.1"] * 2)
        self.assertNotIn("last-event-id", heads[0])
        self.assertEqual(heads[1]["last-event-id"], "ev-4")
        self.assertEqual(heads[1]["accept"], "text/event-stream")
        self.assertEqual(heads[1]["origin"], "http://127.0.0.1:%d" % self.page_port)
        self.assertIn("resumed after Last-Event-ID", self.server_log(node))

    def test_reconnects_with_last_event_id(self):
        p = self.start()
        self.reconnect_through_proxy(p, p)

    def test_central_node(self):
        """The browser's EventSource on a central node fed by a regional
        one (collector to collector): every event once, in order; a drop
        resumes with Last-Event-ID through the central node."""
        regional, central = self.start_chain(
            cors_allow_origin="http://127.0.0.1:%d" % self.page_port)
        self.reconnect_through_proxy(regional, central)

if __name__ == "__main__":
    unittest.main()
