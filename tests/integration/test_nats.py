# SPDX-License-Identifier: Apache-2.0
"""Scale-out on NATS JetStream (issue #17), with real processes over
loopback: a 3-server JetStream cluster (tests/nats_cluster.py, started once
for the module) and cdviz-pipeline nodes that publish what their webhooks
accept to one stream and serve their SSE clients from it
(source_refs keeps the two paths apart):

- two nodes, webhooks posted to both alternately: both nodes' SSE clients
  receive every event once, in the same order;
- one NATS server killed mid-stream: no loss, no duplicate, on both nodes;
- one node stopped, 30 events posted to the other, the node restarted: its
  client, reconnecting with the last id it saw, receives exactly the 30
  (the node rebuilds its ring from the stream: replay_last);
- a missing stream that may not be created: the node refuses to start and
  says what to do; core mode end to end;
- two nodes sharing one consumer (a work queue), one of them frozen while
  the server has handed it messages: the other node pushes them when
  JetStream delivers them again, after newer ones, instead of dropping them
  as already seen (nothing lost).
"""
import copy
import itertools
import json
import os
import re
import signal
import time
import unittest

from cdviz_testlib import PLUGIN_DIR, Pipeline, SseReader, cdevent, parse_events
from nats_cluster import NatsCluster

BASE_EVENT = json.loads(cdevent("build_started"))
PLUGIN = os.path.join(PLUGIN_DIR, "nats", "cdviz-nats.so")
CLUSTER = None
_streams = itertools.count()


def setUpModule():
    global CLUSTER
    if not NatsCluster.available():
        raise unittest.SkipTest("nats-server is not installed (build-aux/dev installs it)")
    if not os.path.exists(PLUGIN):
        raise unittest.SkipTest("the nats plugin was not built (libnats-dev missing)")
    CLUSTER = NatsCluster(3)


def tearDownModule():
    if CLUSTER is not None:
        CLUSTER.close()


def event_body(i, prefix):
    body = copy.deepcopy(BASE_EVENT)
    body["context"]["id"] = "%s-%04d" % (prefix, i)
    body["subject"]["id"] = "build-%d" % i
    return json.dumps(body).encode()


def node_config(stream, consumer, servers=None, source_extra="", replay_last=1000):
    subject = "cdevents.%s" % stream.lower()
    return """
[sources.hook]
enabled = true
[sources.hook.extractor]
type = "webhook"
id = "in"

[sources.bus]
enabled = true
[sources.bus.extractor]
type = "nats"
servers = "%(servers)s"
subject = "%(subject)s"
mode = "jetstream"
stream = "%(stream)s"
consumer = "%(consumer)s"
replay_last = %(replay_last)d
%(source_extra)s

[sinks.publish]
type = "nats"
servers = "%(servers)s"
subject = "%(subject)s"
mode = "jetstream"
stream = "%(stream)s"
create_stream = true
replicas = 3
timeout = "5s"
source_refs = ["hook"]

[sinks.clients]
type = "sse"
id = "events"
buffer_size = 1000
source_refs = ["bus"]
""" % {"servers": servers or CLUSTER.servers, "subject": subject, "stream": stream,
       "consumer": consumer, "source_extra": source_extra, "replay_last": replay_last}


def post(node, body):
    for _ in range(200):
        status, _, answer = node.request("POST", "/webhook/in", body,
                                         {"Content-Type": "application/json"})
        if status != 503:
            break
        time.sleep(0.05)
    assert status in (200, 201, 202, 204), (status, answer)


def ids(events):
    return [e.get("id") for e in events]


def wait_log(node, text, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in node.stderr():
            return
        time.sleep(0.05)
    raise AssertionError("%r not in the log:\n%s" % (text, node.stderr()))


class NatsScaleOutTest(unittest.TestCase):
    def setUp(self):
        self.stream = "EV%d" % next(_streams)
        self.nodes = []

    def tearDown(self):
        for n in self.nodes:
            n.close()

    def node(self, consumer, source_extra="", **kw):
        n = Pipeline(node_config(self.stream, consumer, source_extra=source_extra), timeout=30,
                     **kw)
        self.nodes.append(n)
        return n

    def test_two_nodes_same_order(self):
        a = self.node("node-a")
        b = self.node("node-b")
        ra = SseReader(a.port, "/sse/events", timeout=30)
        rb = SseReader(b.port, "/sse/events", timeout=30)
        posted = []
        for i in range(60):
            body = event_body(i, "two")
            posted.append("two-%04d" % i)
            post(a if i % 2 == 0 else b, body)
        ea = ids(ra.read_events(60, timeout=30))
        eb = ids(rb.read_events(60, timeout=30))
        self.assertEqual(sorted(ea), sorted(posted))
        self.assertEqual(len(set(ea)), 60)
        self.assertEqual(ea, eb, "both nodes' clients see one order")
        time.sleep(0.5)
        self.assertEqual(len(parse_events(ra.text)), 60, "no duplicate on node a")
        self.assertEqual(len(parse_events(rb.text)), 60, "no duplicate on node b")
        _, _, metrics = a.request("GET", "/metrics")
        self.assertIn(b'cdviz_nats_connected{sink="publish"} 1', metrics)
        self.assertIn(b'cdviz_nats_connected{source="bus"} 1', metrics)
        self.assertIn(b'cdviz_nats_messages_total{sink="publish"} 30', metrics)
        ra.close()
        rb.close()

    def test_server_killed_mid_stream(self):
        a = self.node("node-a")
        b = self.node("node-b")
        ra = SseReader(a.port, "/sse/events", timeout=30)
        rb = SseReader(b.port, "/sse/events", timeout=30)
        for i in range(30):
            post(a if i % 2 == 0 else b, event_body(i, "kill"))
        ra.read_events(30, timeout=30)
        victim = 0
        CLUSTER.kill(victim)
        try:
            for i in range(30, 60):
                post(a if i % 2 == 0 else b, event_body(i, "kill"))
            ea = ids(ra.read_events(60, timeout=60))
            eb = ids(rb.read_events(60, timeout=60))
            expected = ["kill-%04d" % i for i in range(60)]
            self.assertEqual(sorted(ea), expected, "no loss, no duplicate on node a")
            self.assertEqual(ea, eb)
            time.sleep(1)
            self.assertEqual(len(parse_events(ra.text)), 60)
            self.assertEqual(len(parse_events(rb.text)), 60)
        finally:
            CLUSTER.start(victim)
            CLUSTER.wait_ready()
        ra.close()
        rb.close()

    def test_shared_consumer_reader_dies(self):
        # Two nodes read one durable consumer, one message per fetch, so the
        # server alternates between their pull requests. Node x is frozen
        # (SIGSTOP) with a pull request waiting: what the server hands it
        # stays unacknowledged and, after ack_wait, is delivered again to
        # node y, which has pushed newer messages meanwhile. Node y pushes
        # those late ones too (before, it dropped them as seen: lost). If x's
        # request expired before the first event, nothing was handed to it:
        # the round is tried again, at most 4 times.
        extra = 'batch = 1\nack_wait = "2s"'
        y = self.node("work", source_extra=extra)
        x = self.node("work", source_extra=extra)
        ry = SseReader(y.port, "/sse/events", timeout=30)
        posted = []
        late_seen = False
        for attempt in range(4):
            time.sleep(0.6)  # both nodes wait in a fetch
            os.kill(x.proc.pid, signal.SIGSTOP)
            try:
                for i in range(10):
                    n = attempt * 100 + i
                    posted.append("work-%04d" % n)
                    post(y, event_body(n, "work"))
                got = ids(ry.read_events(len(posted), timeout=20))
            finally:
                os.kill(x.proc.pid, signal.SIGCONT)
            self.assertEqual(sorted(e for e in got if e.startswith("work-")), sorted(posted),
                             "every event reaches node y once")
            if "had not pushed, after newer ones" in y.stderr():
                late_seen = True
                break
        self.assertTrue(late_seen, "node x was never handed a message:\n" + y.stderr())
        ry.close()

    def test_batch_fits_the_consumer(self):
        # A consumer lets 1000 messages wait for an acknowledgement (the
        # server's default, kept by a node with a small batch); up to three
        # batches are in flight, so a node restarted with batch = 1000 on it
        # fetches 333 at a time and says so, instead of waiting for each
        # fetch to expire (2,000 events/s). A consumer a node creates lets
        # three of its batches wait: no warning.
        a = self.node("lim")
        self.assertEqual(a.stop(), 0, a.stderr()[-3000:])
        b = self.node("lim", source_extra="batch = 1000")
        wait_log(b, "lets 1000 messages wait for an acknowledgement, too few for "
                    "batch = 1000 (up to 3 batches are in flight): fetching 333 at a time")
        r = SseReader(b.port, "/sse/events", timeout=30)
        for i in range(5):
            post(b, event_body(i, "lim"))
        self.assertEqual(ids(r.read_events(5, timeout=20)), ["lim-%04d" % i for i in range(5)])
        r.close()
        c = self.node("big", source_extra="batch = 1000")
        wait_log(c, "created durable consumer “big”")
        self.assertNotIn("too few for batch", c.stderr())

    def test_node_restart_resume(self):
        a = self.node("node-a")
        b = self.node("node-b")
        rb = SseReader(b.port, "/sse/events", timeout=30)
        for i in range(10):
            post(a, event_body(i, "rs"))
        seen = ids(rb.read_events(10, timeout=30))
        rb.close()
        self.assertEqual(b.stop(), 0, b.stderr()[-3000:])
        for i in range(10, 40):
            post(a, event_body(i, "rs"))
        b2 = self.node("node-b")
        wait_log(b2, "replayed 10 messages")
        r = SseReader(b2.port, "/sse/events", headers={"Last-Event-ID": seen[-1]}, timeout=30)
        got = ids(r.read_events(30, timeout=30))
        self.assertEqual(got, ["rs-%04d" % i for i in range(10, 40)])
        time.sleep(0.5)
        self.assertEqual(len(parse_events(r.text)), 30, "exactly the 30")
        r.close()

    def test_full_queue_holds_and_resumes(self):
        # A reading node whose pipeline queue holds 2 events: the nats source
        # is refused (queue full) again and again, holds the message, waits
        # for room (cdviz_pipeline_create_room_source()) and goes on: every
        # event arrives once, in order. Its new consumer delivers the stream
        # from the start (no replay_last, which reads one sequence per round
        # trip, too slow to fill even a queue of 2 at every run), 64 per fetch.
        # A jq transformer that works a while on every event keeps the
        # pipeline thread slower than the source whatever the machine: the
        # source now frees what it parsed, and under ASan it used to keep
        # up with a queue of 2 (no refusal in one run of CI).
        a = self.node("node-a")
        for i in range(300):
            post(a, event_body(i, "full"))
        b = Pipeline("[pipeline]\nqueue_capacity = 2\ntransformer_refs = [\"slow\"]\n"
                     "[transformers.slow]\ntype = \"jq\"\n"
                     "filter = '([range(0; 20000)] | length) as $n | .'\n" +
                     node_config(self.stream, "node-full", replay_last=0), timeout=30)
        self.nodes.append(b)
        r = SseReader(b.port, "/sse/events?replay=300", timeout=30)
        deadline = time.monotonic() + 30
        got = []
        while time.monotonic() < deadline:
            got = [e for e in ids(parse_events(r.text)) if e and e.startswith("full-")]
            if len(got) >= 300:
                break
            r.read_until(lambda t, n=len(r.text): len(t) > n, timeout=30)
        _, _, metrics = b.request("GET", "/metrics")
        self.assertEqual(got, ["full-%04d" % i for i in range(300)],
                         "\n".join(l for l in metrics.decode().splitlines()
                                   if l.startswith(("cdviz_sink_messages_total",
                                                    "cdviz_nats_messages_total",
                                                    "cdviz_pipeline_events_total",
                                                    "cdviz_sse_"))) + "\n" + b.stderr()[-2000:])
        refused = re.search(rb'cdviz_pipeline_events_total\{outcome="refused_full"\} (\d+)', metrics)
        self.assertIsNotNone(refused, metrics)
        self.assertGreater(int(refused.group(1)), 0, "the queue of 2 was never full")
        r.close()

    def test_missing_stream_refused(self):
        config = """
[sinks.publish]
type = "nats"
servers = "%s"
subject = "nowhere.x"
mode = "jetstream"
stream = "NOPE%s"
""" % (CLUSTER.servers, self.stream)
        with Pipeline(config, expect_start=False) as p:
            self.assertNotEqual(p.wait(20), 0)
            err = p.stderr()
            self.assertIn("does not exist", err)
            self.assertIn("create_stream", err)

    def test_unreachable_servers(self):
        config = """
[sinks.publish]
type = "nats"
servers = "nats://127.0.0.1:1"
subject = "x.y"
"""
        with Pipeline(config, expect_start=False) as p:
            self.assertNotEqual(p.wait(20), 0)
            self.assertIn("cannot connect to the NATS servers", p.stderr())

    def test_core_mode(self):
        subject = "core.%s" % self.stream.lower()
        config = """
[sources.hook]
enabled = true
[sources.hook.extractor]
type = "webhook"
id = "in"

[sources.bus]
enabled = true
[sources.bus.extractor]
type = "nats"
servers = "%(s)s"
subject = "core.>"
metadata = { node = "a" }

[sinks.publish]
type = "nats"
servers = "%(s)s"
subject = "%(subject)s"
source_refs = ["hook"]

[sinks.clients]
type = "sse"
id = "events"
source_refs = ["bus"]
""" % {"s": CLUSTER.servers, "subject": subject}
        n = Pipeline(config, timeout=30)
        self.nodes.append(n)
        r = SseReader(n.port, "/sse/events", timeout=30)
        time.sleep(0.3)
        for i in range(5):
            post(n, event_body(i, "core"))
        self.assertEqual(ids(r.read_events(5, timeout=20)), ["core-%04d" % i for i in range(5)])
        r.close()


if __name__ == "__main__":
    unittest.main()
