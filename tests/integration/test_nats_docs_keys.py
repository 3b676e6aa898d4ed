# SPDX-License-Identifier: Apache-2.0
"""The NATS source and sink configured as cdviz-collector's documentation
writes them (issue #19): `url`, `token`, `credentials`, a `jetstream`
table, `queue_group`, outgoing `headers`; and the default context.source
that `[http] root_url` gives a NATS source's events. One real nats-server,
started once for the module, with JetStream and token authentication."""
import json
import os
import tempfile
import unittest
import urllib.request

from cdviz_testlib import PLUGIN_DIR, Pipeline, SseReader, cdevent
from nats_cluster import NatsCluster

PLUGIN = os.path.join(PLUGIN_DIR, "nats", "cdviz-nats.so")
# the test_envelope sink prints each message's headers, metadata and body
HELPERS = ("--plugin-dir", os.environ.get("CDVIZ_WEBHOOK_TEST_PLUGIN_DIR",
                                          "build/tests/webhook-plugin"))
TOKEN = "s3cr3t-t0ken"
SERVER = None

# A webhook to post into, and an SSE endpoint to read from.
HOOK = """
[sources.hook]
enabled = true
[sources.hook.extractor]
type = "webhook"
id = "in"
"""
CLIENTS = """
[sinks.clients]
type = "sse"
id = "events"
"""


def setUpModule():
    global SERVER
    if not NatsCluster.available():
        raise unittest.SkipTest("nats-server is not installed (build-aux/dev installs it)")
    if not os.path.exists(PLUGIN):
        raise unittest.SkipTest("the nats plugin was not built (libnats-dev missing)")
    SERVER = NatsCluster(1, extra='authorization { token: "%s" }\n' % TOKEN)


def tearDownModule():
    if SERVER is not None:
        SERVER.close()


def url():
    return "nats://127.0.0.1:%d" % SERVER.ports[0]


def connection(subject):
    """The documentation's connection keys, the token added."""
    return 'url = "%s"\ntoken = "%s"\nsubject = "%s"\n' % (url(), TOKEN, subject)


def event(i):
    body = json.loads(cdevent("build_started"))
    body["context"]["id"] = "docs-%04d" % i
    return json.dumps(body).encode()


class NatsDocsKeysTest(unittest.TestCase):
    def post(self, pipeline, numbers):
        for i in numbers:
            status, _, body = pipeline.request("POST", "/webhook/in", event(i),
                                               {"Content-Type": "application/json"})
            self.assertEqual(status, 201, body)

    def test_documented_sink_and_source_deliver(self):
        subject = "cdevents.docs"
        # the receiver in the documentation's form (plus create_stream, so
        # that the test needs no other client)
        with Pipeline("""
[sources.nats_persistent]
enabled = true

[sources.nats_persistent.extractor]
type = "nats"
%s
create_stream = true
headers_to_keep = ["x-producer-id"]

[sources.nats_persistent.extractor.jetstream]
stream = "DOCS"
durable = "cdviz-collector"
deliver_policy = "all"
ack_policy = "explicit"

[sinks.envelopes]
type = "test_envelope"
""" % connection(subject) + CLIENTS, args=HELPERS, timeout=30) as rx:
            reader = SseReader(rx.port, "/sse/events", timeout=30)
            # the sink exactly as the documentation writes it, token added
            with Pipeline(HOOK + """
[sinks.nats_persistent]
enabled = true
type = "nats"
%s
[sinks.nats_persistent.jetstream]
enabled = true

[sinks.nats_persistent.headers]
"X-Producer-ID" = { type = "static", value = "cdviz-collector" }
""" % connection(subject), timeout=30) as tx:
                self.post(tx, range(3))
                got = [json.loads(e["data"])["context"]["id"]
                       for e in reader.read_events(3, timeout=20)]
            reader.close()
            self.assertEqual(rx.stop(), 0, rx.stderr())
            envelopes = [json.loads(l) for l in rx.stdout().splitlines() if l.strip()]
        self.assertEqual(got, ["docs-0000", "docs-0001", "docs-0002"])
        # the sink's documented header rule reached the other side
        self.assertEqual([e["headers"] for e in envelopes],
                         [{"x-producer-id": "cdviz-collector"}] * 3)

    def test_default_source_from_root_url(self):
        """An event that comes without context.source gets the source's
        default, ROOT_URL?source=NAME, as in cdviz-collector (the sender's
        own transformer strips it on the way out)."""
        subject = "nosource.docs"
        with Pipeline("""
[http]
root_url = "https://collector.example.org"

[sources.nats_events]
enabled = true
[sources.nats_events.extractor]
type = "nats"
""" + connection(subject) + CLIENTS, timeout=30) as rx:
            reader = SseReader(rx.port, "/sse/events", timeout=30)
            with Pipeline(HOOK + """
[transformers.strip]
type = "vrl"
template = 'del(.body.context.source); [.]'

[sinks.nats]
enabled = true
type = "nats"
transformer_refs = ["strip"]
""" + connection(subject), timeout=30) as tx:
                self.post(tx, [9])
                got = json.loads(reader.read_events(1, timeout=20)[0]["data"])
            reader.close()
        self.assertEqual(got["context"]["id"], "docs-0009")
        self.assertEqual(got["context"]["source"],
                         "https://collector.example.org/?source=nats_events")

    def test_queue_group_core_source(self):
        """The source subscribes in the queue group (the server lists the
        subscription with it) and delivers."""
        subject = "queue.docs"
        with Pipeline(HOOK + """
[sources.nats_events]
enabled = true
[sources.nats_events.extractor]
type = "nats"
queue_group = "cdviz-collector"
%s
[sinks.publish]
type = "nats"
source_refs = ["hook"]
%s
[sinks.clients]
type = "sse"
id = "events"
source_refs = ["nats_events"]
""" % (connection(subject), connection(subject)), timeout=30) as p:
            with urllib.request.urlopen("http://127.0.0.1:%d/subsz?subs=1"
                                        % SERVER.http_ports[0], timeout=10) as r:
                subs = json.load(r).get("subscriptions_list", [])
            self.assertIn((subject, "cdviz-collector"),
                          [(s.get("subject"), s.get("qgroup")) for s in subs])
            reader = SseReader(p.port, "/sse/events", timeout=30)
            self.post(p, range(2))
            got = [json.loads(e["data"])["context"]["id"]
                   for e in reader.read_events(2, timeout=20)]
            reader.close()
        self.assertEqual(got, ["docs-0000", "docs-0001"])

    def check_refused(self, table, keys, message):
        """A sink (@table "sink") or a source in the documentation's form,
        plus @keys, that does not start; its error says @message."""
        head = ('[sinks.secure_nats]\nenabled = true\ntype = "nats"\n' if table == "sink" else
                '[sources.nats_events]\nenabled = true\n'
                '[sources.nats_events.extractor]\ntype = "nats"\n')
        with Pipeline(head + 'subject = "secure-events"\n' + keys + "\n",
                      expect_start=False) as p:
            self.assertNotEqual(p.wait(20), 0)
            self.assertIn(message, p.stderr())

    def test_token_is_sent(self):
        """Without the token the server refuses the connection; the
        difference with the tests that deliver is that key alone."""
        self.check_refused("sink", 'url = "%s"' % url(), "Authorization")

    def test_credentials_file(self):
        self.check_refused("sink", 'url = "%s"\ncredentials = "/nonexistent/cdviz.creds"' % url(),
                           "key “credentials”: cannot read the file “/nonexistent/cdviz.creds”")
        # a file that is not a .creds file: libnats reads it when connecting
        tmp = tempfile.TemporaryDirectory(prefix="cdviz-test-")
        self.addCleanup(tmp.cleanup)
        creds = os.path.join(tmp.name, "bad.creds")
        with open(creds, "w") as f:
            f.write("not a creds file\n")
        self.check_refused("sink", 'url = "%s"\ncredentials = "%s"' % (url(), creds),
                           "sink 'secure_nats': cannot connect to the NATS servers")

    def test_tls_url_asks_for_tls(self):
        tls = "tls://127.0.0.1:%d" % SERVER.ports[0]
        self.check_refused("sink", 'url = "%s"\ntoken = "%s"' % (tls, TOKEN),
                           "cannot connect to the NATS servers " + tls)

    def test_refusals(self):
        u = url()
        self.check_refused("source", 'url = "%s"\nservers = "%s"' % (u, u),
                           "keys “url” and “servers” name the same thing; give one")
        self.check_refused("source", 'url = "%s"\nqueue_group = "g"\n'
                           'jetstream = { stream = "S", durable = "d" }' % u,
                           "key “queue_group” is for core mode")
        self.check_refused("source", 'url = "%s"\njetstream = { stream = "S", durable = "d", '
                           'ack_policy = "none" }' % u,
                           "key “jetstream.ack_policy”: only \"explicit\" is supported")
        self.check_refused("source", 'url = "%s"\njetstream = { stream = "S", durable = "d", '
                           'deliver_policy = "sometimes" }' % u,
                           "key “jetstream.deliver_policy”: expected \"all\", \"last\" or "
                           "\"new\"")
        self.check_refused("source", 'url = "%s"\njetstream = { stream = "S", consumer = "d" }'
                           % u,
                           "unknown key “jetstream.consumer” (known keys: enabled, stream, "
                           "durable, deliver_policy, ack_policy)")
        self.check_refused("source", 'url = "%s"\nstream = "A"\njetstream = { stream = "B", '
                           'durable = "d" }' % u,
                           "keys “jetstream.stream” (“B”) and “stream” (“A”) disagree")
        self.check_refused("sink", 'url = "%s"\njetstream = { enabled = true, durable = "d" }'
                           % u,
                           "unknown key “jetstream.durable” (known keys: enabled, stream)")


if __name__ == "__main__":
    unittest.main()
