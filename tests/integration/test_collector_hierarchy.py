# SPDX-License-Identifier: Apache-2.0
"""Collector to collector (issue #15): the seed's "Hierarchical Event
Distribution" (seed/sse-sink.md), each level a cdviz-pipeline process on
loopback:

    department  webhook → SSE sink "teams"   (secret Authorization,
                                               X-Team-Filter matches)
    team        SSE source → SSE sink "team"         (everything)
                SSE source → filter_corporate_events (the seed's VRL)
                           → SSE sink "corporate"    (secret Authorization,
                                               X-Corporate-Access-Level matches)
    corporate   SSE source → SSE sink "company"      (what a reader watches)

Each lower level's SSE source sends the headers the upper level's rules
require. Two more corporate-level processes with a wrong token and without
the access level are refused (403, 401) and say so, while the chain goes on.

And /metrics of a node with an SSE source and http sinks: the source's
events, reconnects, lagged notices and bytes; the sinks' deliveries,
retries, failures and queue.
"""
import copy
import http.server
import json
import socket
import threading
import time
import unittest

from cdviz_testlib import Pipeline, SseReader, cdevent, free_port, parse_events
from integration.test_collector_sinks import Receiver

BASE_EVENT = json.loads(cdevent("build_started"))
TEAM_TOKEN = "Bearer team-Collector-9f3e"
CORPORATE_TOKEN = "Bearer corp-Collector-41aa"

DEPARTMENT = """
[sources.in]
enabled = true
extractor = { type = "webhook", id = "in" }

[sinks.team_distribution]
enabled = true
type = "sse"
id = "teams"

[sinks.team_distribution.headers]
"Authorization" = { type = "secret", value = "%s" }
"X-Team-Filter" = { type = "matches", pattern = "^(backend|frontend|devops|qa)-team$" }
""" % TEAM_TOKEN

# Two SSE sources on the department's stream: one for the team's own
# stream, one through the seed's corporate filter (source_refs routes them).
TEAM_SOURCE = """
[sources.%(name)s]
enabled = true
%(transformers)s
[sources.%(name)s.extractor]
type = "sse"
url = "%(url)s"
retry_delay = "100ms"
max_retry_delay = "1s"

[sources.%(name)s.extractor.headers]
"Authorization" = { type = "secret", value = "%(token)s" }
"X-Team-Filter" = { type = "static", value = "backend-team" }
"""

TEAM_SINKS = """
[sinks.team_stream]
enabled = true
type = "sse"
id = "team"
source_refs = ["from_department"]

[sinks.corporate_stream]
enabled = true
type = "sse"
id = "corporate"
source_refs = ["corporate_filtered"]

[sinks.corporate_stream.headers]
"Authorization" = { type = "secret", value = "%s" }
"X-Corporate-Access-Level" = { type = "matches", pattern = "^(executive|director|manager)$" }

[transformers.filter_corporate_events]
type = "vrl"
template = \"\"\"
# Only stream high-importance events to corporate level
if !(.body.subject.content.importance == "high" ||
     .body.subject.content.category == "security" ||
     .body.subject.content.category == "compliance") {
    return []
}

[{
    "metadata": merge(.metadata, {
        "corporate_filtered": true,
        "escalation_level": "corporate"
    }),
    "headers": .headers,
    "body": .body
}]
\"\"\"
""" % CORPORATE_TOKEN

CORPORATE = """
[sources.from_team]
enabled = true

[sources.from_team.extractor]
type = "sse"
url = "%(url)s"
retry_delay = "100ms"
max_retry_delay = "1s"

[sources.from_team.extractor.headers]
%(headers)s

[sinks.company]
enabled = true
type = "sse"
id = "company"
"""

# (content, reaches corporate): the seed's filter passes importance high,
# category security or compliance.
CONTENTS = [
    ({"importance": "high"}, True),
    ({"importance": "low"}, False),
    ({"category": "security"}, True),
    ({}, False),
    ({"category": "compliance", "importance": "low"}, True),
    ({"category": "marketing"}, False),
]


def event_body(i, content):
    body = copy.deepcopy(BASE_EVENT)
    body["context"]["id"] = "h-%03d" % i
    body["subject"]["content"] = content
    return json.dumps(body).encode()


def wait_for(predicate, timeout=15, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


def metrics(pipeline):
    """{(name, frozenset of label pairs): value} from GET /metrics."""
    status, _, body = pipeline.request("GET", "/metrics")
    assert status == 200, status
    samples = {}
    for line in body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, _, value = line.rpartition(" ")
        name, _, labels = name_labels.partition("{")
        pairs = frozenset(tuple(p.split("=", 1)) for p in labels.rstrip("}").split(",") if p)
        samples[(name, pairs)] = float(value)
    return samples


def sample(samples, name, **labels):
    key = (name, frozenset((k, '"%s"' % v) for k, v in labels.items()))
    return samples.get(key)


class HierarchyTest(unittest.TestCase):

    def start(self, config, **kw):
        p = Pipeline(config, **kw)
        self.addCleanup(p.close)
        return p

    def test_department_team_corporate(self):
        department = self.start(DEPARTMENT)
        teams_url = "http://127.0.0.1:%d/sse/teams" % department.port
        team = self.start(
            TEAM_SOURCE % {"name": "from_department", "transformers": "", "url": teams_url,
                           "token": TEAM_TOKEN}
            + TEAM_SOURCE % {"name": "corporate_filtered",
                             "transformers": 'transformer_refs = ["filter_corporate_events"]',
                             "url": teams_url, "token": TEAM_TOKEN}
            + TEAM_SINKS)
        corporate_url = "http://127.0.0.1:%d/sse/corporate" % team.port
        good_headers = ('"Authorization" = { type = "secret", value = "%s" }\n'
                        '"X-Corporate-Access-Level" = { type = "static", value = "director" }'
                        % CORPORATE_TOKEN)
        corporate = self.start(CORPORATE % {"url": corporate_url, "headers": good_headers})
        # A wrong token; the right token without the access level.
        wrong_token = self.start(CORPORATE % {"url": corporate_url, "headers": (
            '"Authorization" = { type = "secret", value = "Bearer not-the-token" }\n'
            '"X-Corporate-Access-Level" = { type = "static", value = "director" }')})
        no_level = self.start(CORPORATE % {"url": corporate_url, "headers": (
            '"Authorization" = { type = "secret", value = "%s" }' % CORPORATE_TOKEN)})

        for p, n in ((team, 2), (corporate, 1)):
            wait_for(lambda: p.stderr().count(": connected") >= n,
                     what="connections:\n" + p.stderr())
        top = SseReader(corporate.port, "/sse/company", timeout=30)
        self.addCleanup(top.close)
        team_reader = SseReader(team.port, "/sse/team", timeout=30)
        self.addCleanup(team_reader.close)
        self.assertEqual((top.status, team_reader.status), (200, 200))

        # Both refused, said in their logs with the status and the producer's words.
        wait_for(lambda: "refused by the producer" in wrong_token.stderr(),
                 what="the wrong token refused:\n" + wrong_token.stderr())
        wait_for(lambda: "refused by the producer" in no_level.stderr(),
                 what="the missing header refused:\n" + no_level.stderr())
        self.assertIn("HTTP 403", wrong_token.stderr())
        self.assertIn("HTTP 401", no_level.stderr())
        for p in (wrong_token, no_level):
            self.assertIn("Header validation failed", p.stderr())

        n = 30
        expected_top = []
        for i in range(n):
            content, passes = CONTENTS[i % len(CONTENTS)]
            status, _, answer = department.request("POST", "/webhook/in",
                                                   event_body(i, content),
                                                   {"Content-Type": "application/json"})
            self.assertEqual(status, 201, answer)
            if passes:
                expected_top.append("h-%03d" % i)

        # The team gets everything, the top only what the filter passes:
        # in order, exactly once, the body as the department received it.
        team_events = team_reader.read_events(n, timeout=30)
        self.assertEqual([e["id"] for e in team_events], ["h-%03d" % i for i in range(n)])
        events = top.read_events(len(expected_top), timeout=30)
        self.assertEqual([e["id"] for e in events], expected_top)
        for e in events:
            i = int(e["id"][2:])
            self.assertEqual(json.loads(e["data"]), json.loads(event_body(i, CONTENTS[i % 6][0])))
        # Nothing more arrives at either (the last event was filtered out,
        # so a late duplicate would show after the expected ones).
        time.sleep(1.0)
        for reader, count in ((top, len(expected_top)), (team_reader, n)):
            try:
                reader.sock.settimeout(0.2)
                reader._feed()
            except socket.timeout:
                pass
            self.assertEqual(len(parse_events(reader.text)), count)

        # The refused ones got nothing and are still refused, not hammering.
        for p in (wrong_token, no_level):
            self.assertEqual(sample(metrics(p), "cdviz_sse_source_events_received_total",
                                    source="from_team"), 0)
        rejected = sample(metrics(team), "cdviz_sse_rejected_connections_total",
                          sink="corporate_stream", id="corporate", reason="auth")
        self.assertGreaterEqual(rejected, 2)
        self.assertLess(rejected, 20)
        # No secret in any log.
        for p in (department, team, corporate, wrong_token, no_level):
            log = p.stderr() + p.stdout()
            self.assertNotIn(TEAM_TOKEN.split()[1], log)
            self.assertNotIn(CORPORATE_TOKEN.split()[1], log)
            self.assertNotIn("CRITICAL", log)


class ScriptedProducer:
    """An SSE producer on loopback: the first request gets @body (then the
    connection ends), later ones 204 (the SSE way to say: do not reconnect)."""

    def __init__(self, body):
        self.requests = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(handler):
                self.requests += 1
                if self.requests > 1:
                    handler.send_response(204)
                    handler.end_headers()
                    return
                handler.send_response(200)
                handler.send_header("Content-Type", "text/event-stream")
                handler.send_header("Content-Length", str(len(body)))
                handler.end_headers()
                handler.wfile.write(body)

            def log_message(handler, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/sse/up" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class MetricsTest(unittest.TestCase):

    def test_sse_source_and_http_sink_counters(self):
        frames = [b": hello\n\n"]
        for i in range(2):
            frames.append(b"event: cdevent\nid: m-%d\ndata: %s\n\n"
                          % (i, event_body(i, {"n": i})))
        frames.append(b"event: other\nid: m-x\ndata: {}\n\n")
        frames.append(b"event: error\ndata: lagged: 5 messages skipped\n\n")
        body = b"".join(frames)
        producer = ScriptedProducer(body)
        self.addCleanup(producer.close)
        receiver = Receiver(script=[503])
        self.addCleanup(receiver.close)
        config = """
[sources.up]
enabled = true

[sources.up.extractor]
type = "sse"
url = "%s"
retry_delay = "100ms"

[sinks.hop]
enabled = true
type = "http"
destination = "%s"
retry_delay = "50ms"
queue_capacity = 10

[sinks.dead]
enabled = true
type = "http"
destination = "http://127.0.0.1:%d/events"
retry_delay = "50ms"
total_duration_of_retries = "300ms"
""" % (producer.url, receiver.url, free_port())   # nothing listens there
        with Pipeline(config) as node:
            wait_for(lambda: len(receiver.requests) == 3, what="deliveries:\n" + node.stderr())
            wait_for(lambda: sample(metrics(node), "cdviz_http_sink_failed_total",
                                    sink="dead") == 2, what="failures:\n" + node.stderr())
            wait_for(lambda: producer.requests == 2, what="the reconnection")
            m = metrics(node)
            src = dict(source="up")
            self.assertEqual(sample(m, "cdviz_sse_source_events_received_total", **src), 3)
            self.assertEqual(sample(m, "cdviz_sse_source_events_pushed_total", **src), 2)
            self.assertEqual(sample(m, "cdviz_sse_source_events_ignored_total", **src), 1)
            self.assertEqual(sample(m, "cdviz_sse_source_lagged_notices_total", **src), 1)
            self.assertEqual(sample(m, "cdviz_sse_source_reconnects_total", **src), 1)
            self.assertEqual(sample(m, "cdviz_sse_source_bytes_received_total", **src), len(body))

            self.assertEqual(sample(m, "cdviz_http_sink_delivered_total", sink="hop"), 2)
            self.assertEqual(sample(m, "cdviz_http_sink_retries_total", sink="hop"), 1)
            self.assertEqual(sample(m, "cdviz_http_sink_failed_total", sink="hop"), 0)
            self.assertEqual(sample(m, "cdviz_http_sink_queue_length", sink="hop"), 0)
            self.assertEqual(sample(m, "cdviz_http_sink_queue_capacity", sink="hop"), 10)
            self.assertEqual(sample(m, "cdviz_http_sink_delivered_total", sink="dead"), 0)
            self.assertGreaterEqual(sample(m, "cdviz_http_sink_retries_total", sink="dead"), 2)
            self.assertEqual(sample(m, "cdviz_http_sink_dropped_total", sink="dead"), 0)
            # The first one twice (503, then 200), the second once.
            self.assertEqual([json.loads(b)["context"]["id"] for _, b in receiver.requests],
                             ["h-000", "h-000", "h-001"])


if __name__ == "__main__":
    unittest.main()
