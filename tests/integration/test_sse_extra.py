# SPDX-License-Identifier: Apache-2.0
"""The SSE sink's remaining promises, over real sockets (design §5,
seed/sse-sink.md):

- /metrics per sink: the clients gauge going up and down, events sent,
  lagged events, rejected connections by reason, read over the wire;
- debug logging under the cdviz-sse domain: connection, disconnection and
  validation lines, and never a header value or a secret;
- every TOML example of the seed document that has only SSE sinks and
  header rules: `config --check` accepts it, and it runs (the right headers
  → 200 and events, a missing header → 401, a wrong value → 403);
- data/examples/*.toml (the seed's VRL examples, rewritten in jq): each
  passes `config --check` and runs.
"""
import hashlib
import hmac
import json
import os
import re
import subprocess
import tempfile
import time
import tomllib
import unittest

from cdviz_testlib import (PLUGIN_DIR, PROGRAM, SHARED, Pipeline, SseReader, cdevent,
                           parse_events)

SOURCE_ROOT = os.environ.get(
    "CDVIZ_SOURCE_ROOT", os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..")))
SEED = os.path.join(SHARED, "seed", "sse-sink.md")
EXAMPLES = os.path.join(SOURCE_ROOT, "data", "examples")

BASE_EVENT = json.loads(cdevent("build_started"))

SOURCE = """
[sources.s]
enabled = true
extractor = { type = "webhook", id = "in" }
"""


def built(name):
    for root, _, files in os.walk(PLUGIN_DIR):
        if any(f.endswith(".so") and name in f for f in files):
            return True
    return False


def make_event(i, pad=0):
    event = json.loads(json.dumps(BASE_EVENT))
    event["context"]["id"] = "ev-%d" % i
    event["subject"]["content"] = {"n": i, "pad": "x" * pad} if pad else {"n": i}
    return event


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def parse_metrics(text):
    """Prometheus text format → {(name, ((label, value), ...)): value}, and
    the declared types {family: type}."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(" ", 3)
            types[family] = kind
            continue
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)', line)
        assert m, "not a sample line: %r" % line
        labels = tuple(sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or "")))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples, types


class SseTestCase(unittest.TestCase):
    def start(self, config, env=None, args=()):
        full_env = {"G_MESSAGES_DEBUG": "cdviz-sse"}
        full_env.update(env or {})
        p = Pipeline(config, env=full_env, args=args)
        self.addCleanup(p.close)
        return p

    def log(self, p):
        # GLib writes debug and info messages to standard output, the rest
        # to standard error.
        return p.stdout() + p.stderr()

    def post(self, p, event, path="/webhook/in", headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        status, _, answer = p.request("POST", path, compact(event), headers=h)
        self.assertEqual(status, 201, answer)

    def reader(self, p, path, headers=None, **kw):
        r = SseReader(p.port, path, headers=headers, **kw)
        self.addCleanup(r.close)
        return r

    def metrics(self, p):
        status, headers, body = p.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/plain"), headers)
        return parse_metrics(body.decode())

    def sse_metric(self, p, name, sink, sink_id, reason=None):
        labels = [("id", sink_id), ("sink", sink)]
        if reason:
            labels.append(("reason", reason))
        return self.metrics(p)[0].get((name, tuple(sorted(labels))))

    def wait_sse_metric(self, p, name, sink, sink_id, value, reason=None, timeout=10):
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            got = self.sse_metric(p, name, sink, sink_id, reason)
            if got == value:
                return
            time.sleep(0.02)
        self.fail("%s{sink=%s,id=%s,reason=%s}: %r, expected %r"
                  % (name, sink, sink_id, reason, got, value))


@unittest.skipUnless(built("webhook") and built("sse"), "the webhook or sse plugin is not built")
class MetricsTest(SseTestCase):
    def test_metrics_per_sink(self):
        p = self.start(SOURCE + '''
[sinks.a]
type = "sse"
id = "alpha"

[sinks.b]
type = "sse"
id = "beta"
max_clients = 1
[sinks.b.headers]
"Authorization" = { type = "equals", value = "Bearer metrics-Kx7", case_sensitive = true }

[sinks.c]
type = "sse"
id = "gamma"
buffer_size = 4
''')
        samples, types = self.metrics(p)
        self.assertEqual(types["cdviz_sse_clients"], "gauge")
        for family in ("cdviz_sse_events_sent_total", "cdviz_sse_lagged_events_total",
                       "cdviz_sse_rejected_connections_total"):
            self.assertEqual(types[family], "counter")
        # Every sink has every series from the start, at 0.
        for sink, sink_id in (("a", "alpha"), ("b", "beta"), ("c", "gamma")):
            for name in ("cdviz_sse_clients", "cdviz_sse_events_sent_total",
                         "cdviz_sse_lagged_events_total"):
                self.assertEqual(self.sse_metric(p, name, sink, sink_id), 0, (name, sink))
            for reason in ("auth", "max_clients"):
                self.assertEqual(self.sse_metric(p, "cdviz_sse_rejected_connections_total",
                                                 sink, sink_id, reason), 0)

        # The gauge goes up, per sink.
        a1 = self.reader(p, "/sse/alpha")
        a2 = self.reader(p, "/sse/alpha")
        b1 = self.reader(p, "/sse/beta", headers={"Authorization": "Bearer metrics-Kx7"})
        self.assertEqual((a1.status, a2.status, b1.status), (200, 200, 200))
        self.wait_sse_metric(p, "cdviz_sse_clients", "a", "alpha", 2)
        self.wait_sse_metric(p, "cdviz_sse_clients", "b", "beta", 1)
        self.assertEqual(self.sse_metric(p, "cdviz_sse_clients", "c", "gamma"), 0)

        # Rejections, by reason and sink.
        self.assertEqual(p.request("GET", "/sse/beta")[0], 401)
        self.assertEqual(p.request("GET", "/sse/beta",
                                   headers={"Authorization": "Bearer wrong"})[0], 403)
        self.assertEqual(p.request("GET", "/sse/beta",
                                   headers={"Authorization": "Bearer metrics-Kx7"})[0], 503)
        self.assertEqual(self.sse_metric(p, "cdviz_sse_rejected_connections_total",
                                         "b", "beta", "auth"), 2)
        self.assertEqual(self.sse_metric(p, "cdviz_sse_rejected_connections_total",
                                         "b", "beta", "max_clients"), 1)
        for sink, sink_id in (("a", "alpha"), ("c", "gamma")):
            for reason in ("auth", "max_clients"):
                self.assertEqual(self.sse_metric(p, "cdviz_sse_rejected_connections_total",
                                                 sink, sink_id, reason), 0)
        # A refused connection is never counted as a client.
        self.assertEqual(self.sse_metric(p, "cdviz_sse_clients", "b", "beta"), 1)

        # Events sent: one per event and client.
        for i in range(4):
            self.post(p, make_event(i))
        for r in (a1, a2, b1):
            self.assertEqual([e["id"] for e in r.read_events(4)],
                             ["ev-0", "ev-1", "ev-2", "ev-3"])
        self.wait_sse_metric(p, "cdviz_sse_events_sent_total", "a", "alpha", 8)
        self.wait_sse_metric(p, "cdviz_sse_events_sent_total", "b", "beta", 4)
        self.assertEqual(self.sse_metric(p, "cdviz_sse_events_sent_total", "c", "gamma"), 0)

        # The gauge goes down as clients leave.
        a1.close()
        self.wait_sse_metric(p, "cdviz_sse_clients", "a", "alpha", 1)
        b1.close()
        self.wait_sse_metric(p, "cdviz_sse_clients", "b", "beta", 0)
        a2.close()
        self.wait_sse_metric(p, "cdviz_sse_clients", "a", "alpha", 0)
        # ... and the freed slot takes a client again.
        b2 = self.reader(p, "/sse/beta", headers={"Authorization": "Bearer metrics-Kx7"})
        self.assertEqual(b2.status, 200)
        self.wait_sse_metric(p, "cdviz_sse_clients", "b", "beta", 1)

        # Lag: a client that does not read falls out of gamma's 4-frame ring.
        stalled = self.reader(p, "/sse/gamma", rcvbuf=4096)
        self.wait_sse_metric(p, "cdviz_sse_clients", "c", "gamma", 1)
        n = 40
        for i in range(4, 4 + n):
            self.post(p, make_event(i, pad=128 * 1024))
        b2.read_until(lambda t: b'"id":"ev-%d"' % (3 + n) in t, timeout=30)
        stalled.read_until(lambda t: b'"id":"ev-%d"' % (3 + n) in t, timeout=60)
        events = parse_events(stalled.text)
        skipped = sum(int(re.fullmatch(r"lagged: (\d+) messages skipped", e["data"]).group(1))
                      for e in events if e.get("event") == "error")
        delivered = [e for e in events if e.get("event") == "cdevent"]
        self.assertGreater(skipped, 0)
        self.assertEqual(skipped + len(delivered), n)
        self.wait_sse_metric(p, "cdviz_sse_lagged_events_total", "c", "gamma", skipped)
        self.wait_sse_metric(p, "cdviz_sse_events_sent_total", "c", "gamma", len(delivered))
        # Only gamma lagged.
        self.assertEqual(self.sse_metric(p, "cdviz_sse_lagged_events_total", "a", "alpha"), 0)
        self.assertEqual(self.sse_metric(p, "cdviz_sse_lagged_events_total", "b", "beta"), 0)
        self.wait_sse_metric(p, "cdviz_sse_events_sent_total", "b", "beta", 4 + n)


# Values that must never show in any log: rule values, secrets, and the
# header values clients send (right or wrong).
SECRET_EQ = "Bearer eq-Secret-4f1a9"
SECRET_ENV = "env-Secret-77c2e"
SECRET_SIG = "sig-Secret-0b3d5"
WRONG = "Bearer wrong-Value-92aa1"
ALL_SECRETS = (SECRET_EQ, SECRET_ENV, SECRET_SIG, WRONG,
               "eq-Secret-4f1a9", "wrong-Value-92aa1")

DEBUG_CONFIG = SOURCE + '''
[sinks.eq]
type = "sse"
id = "eq"
[sinks.eq.headers]
"Authorization" = { type = "equals", value = "%s", case_sensitive = true }

[sinks.env]
type = "sse"
id = "env"
[sinks.env.headers]
"X-Token" = { type = "secret", value = "%s" }

[sinks.sig]
type = "sse"
id = "sig"
[sinks.sig.headers]
"X-Signature" = { type = "signature", token = "%s", signature_prefix = "sha256=" }

[sinks.open]
type = "sse"
id = "open"
max_clients = 1
''' % (SECRET_EQ, SECRET_ENV, SECRET_SIG)


@unittest.skipUnless(built("webhook") and built("sse"), "the webhook or sse plugin is not built")
class DebugLogTest(SseTestCase):
    def exercise(self, p):
        """Connections accepted, refused (401, 403, 503), ended."""
        sig = "sha256=" + hmac.new(SECRET_SIG.encode(), b"", hashlib.sha256).hexdigest()
        good = [self.reader(p, "/sse/eq", headers={"Authorization": SECRET_EQ}),
                self.reader(p, "/sse/env", headers={"X-Token": SECRET_ENV}),
                self.reader(p, "/sse/sig", headers={"X-Signature": sig}),
                self.reader(p, "/sse/open", headers={"Last-Event-ID": "nope"})]
        self.assertEqual([r.status for r in good], [200] * 4)
        for path, headers, status in (
                ("/sse/eq", {}, 401),
                ("/sse/eq", {"Authorization": WRONG}, 403),
                ("/sse/env", {"X-Token": WRONG}, 403),
                ("/sse/env", {"Authorization": SECRET_ENV}, 401),
                ("/sse/sig", {"X-Signature": "sha256=" + "0" * 64}, 401),
                ("/sse/sig", {"X-Signature": WRONG}, 401),
                ("/sse/open", {"Authorization": SECRET_EQ}, 503)):
            self.assertEqual(p.request("GET", path, headers=headers)[0], status,
                             (path, headers))
        self.post(p, make_event(1), headers={"Authorization": SECRET_EQ})
        for r in good:
            self.assertEqual([e["id"] for e in r.read_events(1)], ["ev-1"])
        for r in good:
            r.close()
        for sink in ("eq", "env", "sig", "open"):
            self.wait_sse_metric(p, "cdviz_sse_clients", sink, sink, 0)
        self.assertEqual(p.stop(), 0)

    def assert_no_secret(self, text):
        for secret in ALL_SECRETS:
            self.assertNotIn(secret, text)
        # Nor the signature a client sent.
        sig = hmac.new(SECRET_SIG.encode(), b"", hashlib.sha256).hexdigest()
        self.assertNotIn(sig, text)

    def test_debug_lines(self):
        p = self.start(DEBUG_CONFIG)
        self.exercise(p)
        log = self.log(p)
        sse_lines = [l for l in log.splitlines() if "cdviz-sse-DEBUG" in l]
        self.assertTrue(sse_lines, log)
        for sink in ("eq", "env", "sig", "open"):
            self.assertIn("sink '%s': serving /sse/%s" % (sink, sink), log)
            self.assertRegex(log, r"sink '%s': client \d+ connected \(GET, HTTP/1\.1" % sink)
            self.assertRegex(log, r"sink '%s': client \d+ disconnected" % sink)
        self.assertIn("unknown Last-Event-ID: live", log)
        # Refusals: the status and the header's name, never its value.
        self.assertRegex(log, r"sink 'eq': connection rejected with 401: .*Authorization")
        self.assertRegex(log, r"sink 'eq': connection rejected with 403: .*Authorization")
        self.assertRegex(log, r"sink 'env': connection rejected with 403: .*X-Token")
        self.assertRegex(log, r"sink 'env': connection rejected with 401: .*X-Token")
        self.assertRegex(log, r"sink 'sig': connection rejected with 401: .*X-Signature")
        self.assertIn("sink 'open': connection rejected with 503: max_clients (1) reached", log)
        self.assert_no_secret(log)
        self.assertNotRegex(log, r"CRITICAL|WARNING")

    def test_verbose_everything_no_secret(self):
        # -v and G_MESSAGES_DEBUG=all: every domain's debug messages (libsoup,
        # GLib, the webhook source...), still no secret.
        p = self.start(DEBUG_CONFIG, args=["-v"],
                       env={"G_MESSAGES_DEBUG": "all"})
        self.exercise(p)
        log = self.log(p)
        self.assertRegex(log, r"sink 'eq': connection rejected with 403")
        self.assert_no_secret(log)

    def test_quiet_without_debug(self):
        p = self.start(DEBUG_CONFIG, env={"G_MESSAGES_DEBUG": ""})
        self.exercise(p)
        log = self.log(p)
        self.assertNotIn("cdviz-sse-DEBUG", log)
        self.assertNotIn("connected", log)
        self.assert_no_secret(log)

    def test_config_check_shows_no_secret(self):
        out = run_check_text(DEBUG_CONFIG, self)
        self.assertIn("configuration OK", out)
        self.assert_no_secret(out)


def run_check(path, env=None):
    """`cdviz-pipeline config --check` on a file; returns (rc, output)."""
    full_env = dict(os.environ, CDVIZ_PLUGIN_SYSTEM_PATH="")
    full_env.update(env or {})
    proc = subprocess.run([PROGRAM, "config", "--check", "--config", path,
                           "--plugin-dir", PLUGIN_DIR],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          env=full_env, timeout=30)
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


def run_check_text(config, test, env=None):
    with tempfile.TemporaryDirectory(prefix="cdviz-check-") as tmp:
        path = os.path.join(tmp, "config.toml")
        with open(path, "w") as f:
            f.write(config)
        rc, out = run_check(path, env)
    test.assertEqual(rc, 0, out)
    return out


# --- examples ---------------------------------------------------------------

TOML_LINE = re.compile(r'^\s*(#.*|\[.*\]\s*(#.*)?|"?[\w.-]+"?\s*=.*|)$')


def seed_toml_examples():
    """The TOML examples of the seed document: the lines after a line that
    says "toml", as long as they read as TOML (multi-line strings included)."""
    with open(SEED, encoding="utf-8") as f:
        lines = f.read().splitlines()
    examples = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != "toml":
            i += 1
            continue
        i += 1
        block = []
        in_string = None   # the delimiter of the multi-line string we are in
        while i < len(lines):
            line = lines[i]
            if in_string is None and not TOML_LINE.match(line):
                break
            for delim in ('"""', "'''"):
                if (in_string in (None, delim)) and line.count(delim) % 2 == 1:
                    in_string = None if in_string else delim
            block.append(line)
            i += 1
        examples.append("\n".join(block).strip() + "\n")
    return examples


def sse_only(doc):
    """An example with SSE sinks, header rules and nothing else."""
    sinks = doc.get("sinks", {})
    if not sinks or set(doc) - {"sinks", "http"}:
        return False
    return all(s.get("type") == "sse" and set(s) <= {"enabled", "type", "id", "headers"}
               for s in sinks.values())


# A value each pattern of the examples matches; a new pattern needs one here.
PATTERN_SAMPLES = {
    r"^[a-zA-Z0-9]{32}$": "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6",
    r"^Bearer [\w-]+$": "Bearer abc-123",
    r"^client-[0-9]+$": "client-42",
    r"^MyApp/": "MyApp/1.0",
    r"^Bearer dashboard-[\w-]+$": "Bearer dashboard-secret-123",
    r"^(super-admin|admin)$": "super-admin",
    r"^(sox|gdpr|hipaa|pci)$": "gdpr",
    r"^Bearer [A-Za-z0-9+/]{40,}$": "Bearer " + "AbC+/9" * 7,
    r"^MySecureClient/": "MySecureClient/2.1",
    r"^admin-[\w-]{20,}$": "admin-0123456789abcdefghij",
    r"^(backend|frontend|devops|qa)-team$": "devops-team",
    r"^(executive|director|manager)$": "director",
    r"^(vpn|internal)-.*": "vpn-eu-1",
    r"^CN=internal-collector.*": "CN=internal-collector-7,O=example",
}


def secret_env(doc):
    """The environment the `secret` rules of a configuration need: none
    (their value is the secret, as in cdviz-collector)."""
    return {}


def right_value(rule, env):
    kind = rule["type"]
    if kind == "exists":
        return "present"
    if kind == "equals":
        return rule["value"]
    if kind == "secret":
        return rule["value"]
    if kind == "matches":
        sample = PATTERN_SAMPLES[rule["pattern"]]
        assert re.search(rule["pattern"], sample), (rule, sample)
        return sample
    if kind == "signature":
        assert rule.get("token_encoding", "raw") == "raw" and \
            rule.get("signature_on", "body") == "body", rule
        return rule.get("signature_prefix", "") + hmac.new(
            rule["token"].encode(), b"", hashlib.sha256).hexdigest()
    raise AssertionError("unknown rule type %r" % kind)


def wrong_value(rule):
    """A present but wrong value, and the status it gets; None for exists."""
    kind = rule["type"]
    if kind == "exists":
        return None
    if kind == "signature":
        return rule.get("signature_prefix", "") + "0" * 64, 401
    if kind == "matches":
        return "!! no match !!", 403
    return "definitely-not-it", 403


class ExamplesTest(SseTestCase):
    def check_sinks(self, p, doc, env, post_path=None):
        """For every SSE sink of doc: the right headers → 200 (and, with
        post_path, an event through); each header missing → 401; each wrong
        value → 401/403."""
        for name, sink in doc["sinks"].items():
            if sink.get("enabled", True) is False:
                continue
            path = "/sse/" + sink["id"]
            rules = sink.get("headers", {})
            right = {h: right_value(r, env) for h, r in rules.items()}
            with self.subTest(sink=name):
                r = self.reader(p, path, headers=right)
                self.assertEqual(r.status, 200, "%s %r" % (path, r.text))
                self.assertEqual(r.headers["content-type"], "text/event-stream")
                if post_path:
                    self.post(p, make_event(7), path=post_path)
                    [ev] = r.read_events(1, timeout=10)
                    self.assertEqual(ev["event"], "cdevent")
                r.close()
                for header, rule in rules.items():
                    missing = {h: v for h, v in right.items() if h != header}
                    status, _, body = p.request("GET", path, headers=missing)
                    self.assertEqual(status, 401, (header, body))
                    self.assertTrue(body.startswith(b"Header validation failed"), body)
                    wrong = wrong_value(rule)
                    if wrong is not None:
                        value, expected = wrong
                        status, _, body = p.request("GET", path,
                                                    headers=dict(right, **{header: value}))
                        self.assertEqual(status, expected, (header, body))
                    if rule["type"] in ("equals", "secret", "signature"):
                        self.assertNotIn(right[header].encode(), body)
        log = self.log(p)
        for header, rule in ((h, r) for s in doc["sinks"].values()
                             for h, r in s.get("headers", {}).items()):
            if rule["type"] in ("secret", "signature"):
                self.assertNotIn(right_value(rule, env), log)
        self.assertNotRegex(log, r"CRITICAL|WARNING")

    @unittest.skipUnless(os.path.exists(SEED), "the seed document is not there")
    @unittest.skipUnless(built("sse"), "the sse plugin is not built")
    def test_seed_examples(self):
        examples = seed_toml_examples()
        docs = []
        for text in examples:
            doc = tomllib.loads(text)   # each example is valid TOML
            if sse_only(doc):
                docs.append((text, doc))
        # Basic, exists, equals, matches, signature, several rules, dashboard,
        # monitoring, development, multi-client, multi-cloud, secure
        # configuration, multiple endpoints.
        self.assertGreaterEqual(len(docs), 13, [t[:60] for t, _ in docs])
        rule_types = {r["type"] for _, d in docs for s in d["sinks"].values()
                      for r in s.get("headers", {}).values()}
        self.assertEqual(rule_types, {"exists", "equals", "matches", "signature", "secret"})
        have_webhook = built("webhook")
        for text, doc in docs:
            with self.subTest(example=text.splitlines()[0]):
                env = secret_env(doc)
                out = run_check_text(text, self, env=env)
                self.assertIn("configuration OK", out)
                for value in env.values():
                    self.assertNotIn(value, out)
                # It runs as it is; with a webhook source added, events go through.
                p = self.start(text, env=env)
                self.check_sinks(p, doc, env)
                self.assertEqual(p.stop(), 0)
                if have_webhook:
                    p = self.start(text + SOURCE, env=env)
                    self.check_sinks(p, doc, env, post_path="/webhook/in")
                    p.close()

    @unittest.skipUnless(os.path.isdir(EXAMPLES) and
                         any(f.endswith(".toml") for f in os.listdir(EXAMPLES)),
                         "no data/examples/*.toml")
    @unittest.skipUnless(built("sse") and built("webhook") and built("jq"),
                         "the sse, webhook or jq plugin is not built")
    def test_data_examples(self):
        files = sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".toml"))
        for name in files:
            path = os.path.join(EXAMPLES, name)
            with self.subTest(example=name):
                with open(path, "rb") as f:
                    doc = tomllib.load(f)
                # An example that needs another service (a NATS cluster) is
                # run by that service's own test (test_nats.py).
                if any(s.get("type") == "nats" for s in doc.get("sinks", {}).values()):
                    continue
                env = secret_env(doc)
                if env:
                    # A secret rule's variable unset: a configuration error.
                    rc, out = run_check(path)
                    self.assertNotEqual(rc, 0, out)
                    self.assertTrue(any(name in out for name in env), out)
                rc, out = run_check(path, env)
                self.assertEqual(rc, 0, out)
                self.assertIn("configuration OK", out)
                for value in env.values():
                    self.assertNotIn(value, out)
                # Run it where it is: its filter_file paths are relative to it.
                p = FilePipeline(path, env=dict(env, G_MESSAGES_DEBUG="cdviz-sse"))
                self.addCleanup(p.close)
                self.check_sinks(p, doc, env)
                self.assertEqual(p.stop(), 0)



@unittest.skipUnless(built("webhook") and built("sse"), "the webhook or sse plugin is not built")
class ThreadsTest(SseTestCase):
    """`threads`: the clients of one sink spread over several fan-out
    threads still each get every event, in order, byte for byte, and every
    stream still ends cleanly at shutdown."""

    def thread_names(self, p):
        names = []
        for tid in os.listdir("/proc/%d/task" % p.proc.pid):
            with open("/proc/%d/task/%s/comm" % (p.proc.pid, tid)) as f:
                names.append(f.read().strip())
        return sorted(n for n in names if n.startswith("sse"))

    def test_clients_over_three_threads(self):
        p = self.start(SOURCE + '''
[sinks.out]
type = "sse"
id = "spread"
threads = 3
''')
        self.assertIn("serving /sse/spread with 3 fan-out threads", self.log(p))
        # A thread names itself when it starts, which may come just after
        # the log line: wait for the names (bounded).
        deadline = time.monotonic() + 10
        while (self.thread_names(p) != ["sse0-spread", "sse1-spread", "sse2-spread"] and
               time.monotonic() < deadline):
            time.sleep(0.05)
        self.assertEqual(self.thread_names(p), ["sse0-spread", "sse1-spread", "sse2-spread"])

        readers = [self.reader(p, "/sse/spread") for _ in range(7)]
        self.assertEqual({r.status for r in readers}, {200})
        self.wait_sse_metric(p, "cdviz_sse_clients", "out", "spread", 7)
        events = [make_event(i) for i in range(20)]
        for event in events:
            self.post(p, event)
        expected = b"".join(b"event: cdevent\nid: ev-%d\ndata: %s\n\n" % (i, compact(e))
                            for i, e in enumerate(events))
        for r in readers:
            r.read_events(20)
            body = r.text[r.text.index(b"event: cdevent"):]
            self.assertEqual(body, expected)

        # Clients leave from whichever thread holds them; the others go on.
        for r in readers[:3]:
            r.close()
        self.wait_sse_metric(p, "cdviz_sse_clients", "out", "spread", 4)
        late = self.reader(p, "/sse/spread")
        more = [make_event(i) for i in range(20, 25)]
        for event in more:
            self.post(p, event)
        for r in readers[3:]:
            self.assertEqual([e["id"] for e in r.read_events(25)][20:],
                             ["ev-%d" % i for i in range(20, 25)])
        self.assertEqual([e["id"] for e in late.read_events(5)],
                         ["ev-%d" % i for i in range(20, 25)])
        self.wait_sse_metric(p, "cdviz_sse_events_sent_total", "out", "spread",
                             7 * 20 + 4 * 5 + 5)

        # SIGTERM: every stream, whichever thread it is on, ends cleanly.
        p.proc.send_signal(15)
        for r in readers[3:] + [late]:
            self.assertTrue(r.read_to_end().endswith(b"\n\n"))
            self.assertTrue(r.ended)
        self.assertEqual(p.wait(), 0)

    def test_threads_out_of_range(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "threads.toml")
            with open(path, "w") as f:
                f.write('[sinks.out]\ntype = "sse"\nid = "x"\nthreads = 9\n')
            run = subprocess.run([PROGRAM, "config", "--check", "--config", path,
                                  "--plugin-dir", PLUGIN_DIR], capture_output=True, text=True,
                                 env=dict(os.environ, CDVIZ_PLUGIN_SYSTEM_PATH=""))
        self.assertEqual(run.returncode, 1)
        self.assertIn("threads.toml:4: key “sinks.out.threads”: 9 is out of range",
                      run.stderr)


class FilePipeline(Pipeline):
    """A Pipeline on a configuration file left where it is."""

    def __init__(self, path, env=None, timeout=10):
        full_env = dict(os.environ, CDVIZ_PLUGIN_SYSTEM_PATH="")
        full_env.setdefault("G_DEBUG", "fatal-criticals")
        full_env.update(env or {})
        self.tmp = tempfile.TemporaryDirectory(prefix="cdviz-test-")
        self.config_path = path
        self.stderr_path = os.path.join(self.tmp.name, "stderr.log")
        self.stdout_path = os.path.join(self.tmp.name, "stdout.log")
        self._stderr = open(self.stderr_path, "wb")
        self._stdout = open(self.stdout_path, "wb")
        self.proc = subprocess.Popen(
            [PROGRAM, "--config", path, "--plugin-dir", PLUGIN_DIR,
             "--set", "http.port = 0", "--set", 'http.host = "127.0.0.1"'],
            stdout=self._stdout, stderr=self._stderr, stdin=subprocess.DEVNULL, env=full_env)
        self.port = None
        self._wait_listening(timeout)


if __name__ == "__main__":
    unittest.main()
