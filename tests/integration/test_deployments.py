# SPDX-License-Identifier: Apache-2.0
"""cdviz-collector's whole deployment files (issue #19), read unchanged from
../shared/collector-configs, started by cdviz-pipeline with only what they
reference provided, as a container would provide it:

- the Helm chart's configuration: its transformers come from
  `[remote.transformers-community]` (a local server stands in for GitHub,
  serving transformers-community's real github_events program and stand-ins
  for the others); its webhooks answer 201, run the source's transformer and
  then the two `[pipeline] transformer_refs` in order, with the source's
  `metadata`; its disabled webhooks answer 404;
- the docker-compose demo's configuration: nine opendal sources polling
  folders under the working directory (`-C`), eight `template_file`
  transformers beside it, two remote ones, its inline `normalize_names` VRL
  program and its `database` sink, against a real PostgreSQL 15 cluster:
  a CSV row and a JSON event placed in its folders become rows, normalised;
- upstream's `send.base.toml` with `send`, and `examples/assets`' file with
  its own inputs, are covered by test_opendal.

The only changes are what a deployment sets from outside: the listening
address (loopback here), the database URL and the state directory
(environment variables), the working directory (-C) and the cache.
"""
import json
import os
import shutil
import tempfile
import time
import unittest

import pg_cluster
from cdviz_testlib import PLUGIN_DIR, SHARED, Pipeline, cdevent
from integration.test_remote import file_server

CONFIGS = os.path.join(SHARED, "collector-configs")
HELM = os.path.join(CONFIGS, "cdviz--charts__cdviz-collector__values.yaml--cdviz-collector.toml")
COMPOSE = os.path.join(CONFIGS, "cdviz--demos__use_cases__cdviz-collector.toml")
COMMUNITY = os.path.join(SHARED, "transformers-community")
REMOTE = "/cdviz-dev/transformers-community/HEAD/"


def mark(name):
    """A stand-in transformer that appends @name to the body's `chain`."""
    return ('if !exists(.body.chain) { .body.chain = [] }\n'
            '.body.chain = push(array!(.body.chain), "%s")\n[.]\n' % name).encode()


def remote_files():
    with open(os.path.join(COMMUNITY, "github_events", "transformer.vrl"), "rb") as f:
        github_events = f.read()
    return {
        # the real community program: the chart compiles it at start
        REMOTE + "github_events/to_v0_5.vrl": github_events,
        REMOTE + "kubewatch_cloudevents/to_v0_5.vrl":
            b'.body.environment_id = .metadata.environment_id\n' + mark("kubewatch"),
        REMOTE + "argocd_notifications/to_v0_5.vrl": mark("argocd"),
        REMOTE + "cdevents/cdevents_v0_3/to_v0_4.vrl": mark("v0_3_to_v0_4"),
        REMOTE + "cdevents/cdevents_v0_4/to_v0_5.vrl": mark("v0_4_to_v0_5"),
    }


def missing():
    for path in (HELM, COMPOSE, COMMUNITY):
        if not os.path.exists(path):
            return "no %s" % path
    for plugin in ("vrl", "webhook", "opendal"):
        if not os.path.isdir(os.path.join(PLUGIN_DIR, plugin)):
            return "the %s plugin is not built" % plugin
    return None


def read_config(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def debug_events(pipeline):
    return [json.loads(l) for l in pipeline.stdout().splitlines() if l.startswith("{")]


SKIP = missing()


@unittest.skipIf(SKIP, SKIP)
class HelmChartTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.github = file_server(remote_files())
        cls.tmp = tempfile.TemporaryDirectory(prefix="cdviz-helm-")
        env = {"XDG_CACHE_HOME": os.path.join(cls.tmp.name, "cache"),
               "CDVIZ_PIPELINE_TEST_GITHUB_URL": cls.github.url}
        cls.pipeline = Pipeline(read_config(HELM), args=["-C", cls.tmp.name], env=env,
                                timeout=60)

    @classmethod
    def tearDownClass(cls):
        cls.pipeline.close()
        cls.github.close()
        cls.tmp.cleanup()

    def post(self, hook, name):
        body = json.loads(cdevent("build_started"))
        body["context"]["id"] = "helm-" + name
        return self.pipeline.request("POST", "/webhook/" + hook, json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})

    def wait_event(self, event_id):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for event in debug_events(self.pipeline):
                if event["context"]["id"] == event_id:
                    return event
            time.sleep(0.05)
        self.fail("%s not printed by the debug sink:\n%s" % (event_id, self.pipeline.stderr()))

    def test_every_remote_transformer_fetched(self):
        self.assertEqual(sorted(set(self.github.paths)), sorted(remote_files()))

    def test_kubewatch_webhook_runs_source_then_pipeline_transformers(self):
        status, _, _ = self.post("000-kubewatch", "kubewatch")
        self.assertEqual(status, 201)
        event = self.wait_event("helm-kubewatch")
        self.assertEqual(event["chain"], ["kubewatch", "v0_3_to_v0_4", "v0_4_to_v0_5"])
        self.assertEqual(event["environment_id"], "/cluster/A-dev")

    def test_argocd_webhook(self):
        status, _, _ = self.post("000-argocd", "argocd")
        self.assertEqual(status, 201)
        self.assertEqual(self.wait_event("helm-argocd")["chain"],
                         ["argocd", "v0_3_to_v0_4", "v0_4_to_v0_5"])

    def test_disabled_webhooks_are_not_served(self):
        for hook in ("000-cdevents", "000-github"):
            status, _, _ = self.post(hook, hook)
            self.assertEqual(status, 404, hook)

    def test_health(self):
        status, _, _ = self.pipeline.request("GET", "/healthz")
        self.assertEqual(status, 200)


# The compose demo's own transformers (demos/use_cases/transformers in
# cdviz) are not part of the corpus: stand-ins that turn a CSV row into a
# CDEvent, as the originals do, and pass the rest through.
ARTIFACT_ROW = b'''[{
  "metadata": .metadata,
  "headers": {},
  "body": {
    "context": {
      "version": "0.4.1",
      "id": .body.id,
      "source": "/demo/artifact_lifecycle",
      "type": "dev.cdevents.artifact.published.0.1.1",
      "timestamp": .body.timestamp
    },
    "subject": {
      "id": .body.artifact,
      "source": "/demo/artifact_lifecycle",
      "type": "artifact",
      "content": {}
    }
  }
}]
'''
COMPOSE_TRANSFORMERS = ("artifact_lifecycle", "service_deploys", "pipelinerun_x",
                        "testsuiterun_x", "testcaserun_x", "taskrun_x", "incident_x", "ticket_x")
COMPOSE_FOLDERS = ("cdevents.in.d", "executions.d", "artifact_lifecycle.d", "service_deploys.d")

CLUSTER = None
PG_SKIP = SKIP or pg_cluster.available()
if PG_SKIP is None and not os.path.isdir(os.path.join(PLUGIN_DIR, "db")):
    PG_SKIP = "the db plugin is not built"


def setUpModule():
    global CLUSTER
    if PG_SKIP is None:
        CLUSTER = pg_cluster.PgCluster()


def tearDownModule():
    if CLUSTER is not None:
        CLUSTER.remove()


@unittest.skipIf(PG_SKIP, PG_SKIP)
class ComposeDemoTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="cdviz-compose-")
        self.addCleanup(self.tmp.cleanup)
        self.github = file_server(remote_files())
        self.addCleanup(self.github.close)
        work = self.tmp.name
        os.mkdir(os.path.join(work, "transformers"))
        for name in COMPOSE_TRANSFORMERS:
            with open(os.path.join(work, "transformers", name + ".vrl"), "wb") as f:
                f.write(ARTIFACT_ROW if name == "artifact_lifecycle" else b"[.]\n")
        for folder in COMPOSE_FOLDERS:
            os.makedirs(os.path.join(work, "events", folder))
        self.env = {"XDG_CACHE_HOME": os.path.join(work, "cache"),
                    "CDVIZ_PIPELINE_TEST_GITHUB_URL": self.github.url,
                    "CDVIZ_COLLECTOR__SINKS__DATABASE__URL": CLUSTER.url(),
                    "CDVIZ_COLLECTOR__STATE__PARAMETERS__ROOT": os.path.join(work, "state")}
        CLUSTER.truncate()

    def place(self, folder, name, data):
        path = os.path.join(self.tmp.name, "events", folder, name)
        with open(path, "wb") as f:
            f.write(data)
        # read by the first scan: modified before it, as upstream's window says
        past = time.time() - 10
        os.utime(path, (past, past))

    def test_files_become_rows(self):
        self.place("artifact_lifecycle.d", "artifacts.csv",
                   b"id,timestamp,artifact\n"
                   b"art-1,2024-05-01T10:00:00Z,pkg:oci/demo@sha256%3A0123\n")
        run = json.loads(cdevent("pipelinerun_started"))
        run["context"]["id"] = "compose-run-1"
        run["subject"]["content"]["pipelineName"] = "Bump deps #1234"
        self.place("cdevents.in.d", "run.json", json.dumps(run).encode())

        with Pipeline(read_config(COMPOSE), args=["-C", self.tmp.name], env=self.env,
                      timeout=60) as pipeline:
            self.assertEqual(CLUSTER.wait_count(2, timeout=30), 2, pipeline.stderr())
            status, _, _ = pipeline.request("GET", "/healthz")
            self.assertEqual(status, 200)
            self.assertEqual(pipeline.stop(), 0, pipeline.stderr())

        self.assertEqual(CLUSTER.scalar(
            "SELECT payload->'subject'->>'id' FROM cdviz.cdevents_lake "
            "WHERE payload->'context'->>'id' = 'art-1'"), "pkg:oci/demo@sha256%3A0123")
        # the demo's normalize_names program, after the two remote conversions
        row = json.loads(CLUSTER.scalar(
            "SELECT payload FROM cdviz.cdevents_lake "
            "WHERE payload->'context'->>'id' = 'compose-run-1'"))
        self.assertEqual(row["subject"]["content"]["pipelineName"], "Bump deps #...")
        self.assertEqual(row["chain"], ["v0_3_to_v0_4", "v0_4_to_v0_5"])
        # what was read is remembered where upstream keeps it
        self.assertTrue(os.path.exists(os.path.join(
            self.tmp.name, "state", "artifact_lifecycle_csv", "checkpoint.json")))

    def test_missing_transformer_file_is_named(self):
        os.remove(os.path.join(self.tmp.name, "transformers", "ticket_x.vrl"))
        with Pipeline(read_config(COMPOSE), args=["-C", self.tmp.name], env=self.env,
                      expect_start=False) as pipeline:
            self.assertEqual(pipeline.wait(30), 1)
            self.assertIn("transformers.ticket_x.template_file", pipeline.stderr())
            self.assertIn("ticket_x.vrl", pipeline.stderr())


if __name__ == "__main__":
    unittest.main()
