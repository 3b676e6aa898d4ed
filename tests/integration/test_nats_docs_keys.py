# SPDX-License-Identifier: Apache-2.0
"""The NATS source and sink configured as cdviz-collector's documentation
writes them (issue #19): `url`, `token`, `credentials`, a `jetstream`
table, `queue_group`, outgoing `headers`. One real nats-server, started
once for the module, with JetStream and token authentication."""
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


def event(i):
    body = json.loads(cdevent("build_started"))
    body["context"]["id"] = "docs-%04d" % i
    return json.dumps(body).encode()


class NatsDocsKeysTest(unittest.TestCase):
    def receiver(self, stream, durable, subject):
        """A node reading the stream in the documentation's form (plus
        create_stream, so that the test needs no other client)."""
        return Pipeline("""
[sources.nats_persistent]
enabled = true

[sources.nats_persistent.extractor]
type = "nats"
url = "%(url)s"
token = "%(token)s"
subject = "%(subject)s"
create_stream = true
headers_to_keep = ["x-producer-id"]

[sources.nats_persistent.extractor.jetstream]
stream = "%(stream)s"
durable = "%(durable)s"
deliver_policy = "all"
ack_policy = "explicit"

[sinks.clients]
type = "sse"
id = "events"

[sinks.envelopes]
type = "test_envelope"
""" % {"url": url(), "token": TOKEN, "subject": subject, "stream": stream,
       "durable": durable}, args=HELPERS, timeout=30)

    def test_documented_sink_and_source_deliver(self):
        subject = "cdevents.docs"
        with self.receiver("DOCS", "cdviz-collector", subject) as rx:
            reader = SseReader(rx.port, "/sse/events", timeout=30)
            # the sink exactly as the documentation writes it, token added
            with Pipeline("""
[sources.hook]
enabled = true
[sources.hook.extractor]
type = "webhook"
id = "in"

[sinks.nats_persistent]
enabled = true
type = "nats"
url = "%s"
subject = "%s"
token = "%s"

[sinks.nats_persistent.jetstream]
enabled = true

[sinks.nats_persistent.headers]
"X-Producer-ID" = { type = "static", value = "cdviz-collector" }
""" % (url(), subject, TOKEN), timeout=30) as tx:
                for i in range(3):
                    status, _, _ = tx.request("POST", "/webhook/in", event(i),
                                              {"Content-Type": "application/json"})
                    self.assertEqual(status, 201)
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
url = "%(url)s"
token = "%(token)s"
subject = "%(subject)s"

[sinks.clients]
type = "sse"
id = "events"
""" % {"url": url(), "token": TOKEN, "subject": subject}, timeout=30) as rx:
            reader = SseReader(rx.port, "/sse/events", timeout=30)
            with Pipeline("""
[transformers.strip]
type = "vrl"
template = 'del(.body.context.source); [.]'

[sources.hook]
enabled = true
[sources.hook.extractor]
type = "webhook"
id = "in"

[sinks.nats]
enabled = true
type = "nats"
url = "%(url)s"
token = "%(token)s"
subject = "%(subject)s"
transformer_refs = ["strip"]
""" % {"url": url(), "token": TOKEN, "subject": subject}, timeout=30) as tx:
                status, _, body = tx.request("POST", "/webhook/in", event(9),
                                             {"Content-Type": "application/json"})
                self.assertEqual(status, 201, body)
                got = json.loads(reader.read_events(1, timeout=20)[0]["data"])
            reader.close()
        self.assertEqual(got["context"]["id"], "docs-0009")
        self.assertEqual(got["context"]["source"],
                         "https://collector.example.org/?source=nats_events")

    def check_sink_refused(self, keys, message):
        """A sink in the documentation's form, plus @keys, that does not
        start; its error says @message."""
        with Pipeline("""
[sinks.secure_nats]
enabled = true
type = "nats"
subject = "secure-events"
%s
""" % keys, expect_start=False) as p:
            self.assertNotEqual(p.wait(20), 0)
            self.assertIn(message, p.stderr())

    def test_token_is_sent(self):
        """Without the token the server refuses the connection; the
        difference with the tests that deliver is that key alone."""
        self.check_sink_refused('url = "%s"' % url(), "Authorization")

    def test_credentials_file(self):
        self.check_sink_refused('url = "%s"\ncredentials = "/nonexistent/cdviz.creds"' % url(),
                                "key “credentials”: cannot read the file "
                                "“/nonexistent/cdviz.creds”")
        # a file that is not a .creds file: libnats reads it when connecting
        tmp = tempfile.TemporaryDirectory(prefix="cdviz-test-")
        self.addCleanup(tmp.cleanup)
        creds = os.path.join(tmp.name, "bad.creds")
        with open(creds, "w") as f:
            f.write("not a creds file\n")
        self.check_sink_refused('url = "%s"\ncredentials = "%s"' % (url(), creds),
                                "sink 'secure_nats': cannot connect to the NATS servers")

    def test_tls_url_asks_for_tls(self):
        tls = "tls://127.0.0.1:%d" % SERVER.ports[0]
        self.check_sink_refused('url = "%s"\ntoken = "%s"' % (tls, TOKEN),
                                "cannot connect to the NATS servers " + tls)

    def check_refused(self, extractor, message):
        with Pipeline("""
[sources.nats_events]
enabled = true
[sources.nats_events.extractor]
type = "nats"
subject = "cdevents.>"
%s
""" % extractor, expect_start=False) as p:
            self.assertEqual(p.wait(10), 1)
            self.assertIn(message, p.stderr())

    def test_refusals(self):
        self.check_refused('url = "%s"\nservers = "%s"' % (url(), url()),
                           "keys “url” and “servers” name the same thing; give one")
        self.check_refused('url = "%s"\nqueue_group = "g"\njetstream = { stream = "S", '
                           'durable = "d" }' % url(),
                           "key “queue_group” is for core mode")
        self.check_refused('url = "%s"\njetstream = { stream = "S", durable = "d", '
                           'ack_policy = "none" }' % url(),
                           "key “jetstream.ack_policy”: only \"explicit\" is supported")
        self.check_refused('url = "%s"\njetstream = { stream = "S", durable = "d", '
                           'deliver_policy = "sometimes" }' % url(),
                           "key “jetstream.deliver_policy”: expected \"all\", \"last\" or "
                           "\"new\"")
        self.check_refused('url = "%s"\njetstream = { stream = "S", consumer = "d" }' % url(),
                           "unknown key “jetstream.consumer” (known keys: enabled, stream, "
                           "durable, deliver_policy, ack_policy)")
        self.check_refused('url = "%s"\nstream = "A"\njetstream = { stream = "B", '
                           'durable = "d" }' % url(),
                           "keys “jetstream.stream” (“B”) and “stream” (“A”) disagree")

    def test_queue_group_core_source(self):
        """The source subscribes in the queue group (the server lists the
        subscription with it) and delivers."""
        subject = "queue.docs"
        with Pipeline("""
[sources.nats_events]
enabled = true
[sources.nats_events.extractor]
type = "nats"
url = "%(url)s"
token = "%(token)s"
subject = "%(subject)s"
queue_group = "cdviz-collector"

[sources.hook]
enabled = true
[sources.hook.extractor]
type = "webhook"
id = "in"

[sinks.publish]
type = "nats"
url = "%(url)s"
token = "%(token)s"
subject = "%(subject)s"
source_refs = ["hook"]

[sinks.clients]
type = "sse"
id = "events"
source_refs = ["nats_events"]
""" % {"url": url(), "token": TOKEN, "subject": subject}, timeout=30) as p:
            with urllib.request.urlopen("http://127.0.0.1:%d/subsz?subs=1"
                                        % SERVER.http_ports[0], timeout=10) as r:
                subs = json.load(r).get("subscriptions_list", [])
            self.assertIn(("queue.docs", "cdviz-collector"),
                          [(s.get("subject"), s.get("qgroup")) for s in subs])
            reader = SseReader(p.port, "/sse/events", timeout=30)
            for i in range(2):
                status, _, _ = p.request("POST", "/webhook/in", event(i),
                                         {"Content-Type": "application/json"})
                self.assertEqual(status, 201)
            got = [json.loads(e["data"])["context"]["id"]
                   for e in reader.read_events(2, timeout=20)]
            reader.close()
        self.assertEqual(got, ["docs-0000", "docs-0001"])

if __name__ == "__main__":
    unittest.main()
