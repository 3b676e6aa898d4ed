# SPDX-License-Identifier: Apache-2.0
"""The sample CDEvents of data/samples/, which README.md's tour,
doc/getting-started.md and cdviz-pipeline(1) tell a newcomer to send:

- each is a CDEvent v0.4.1 with the fields its type requires;
- a running pipeline takes each on its webhook (201, with curl's request)
  and streams it unchanged, with its context id as the SSE id; `send
  --url` delivers them all the same way and exits 0;
- meson installs each under DATADIR/cdviz-pipeline/samples/ (`meson
  introspect --installed` of the build tree; tests/install-test.py posts an
  installed one);
- every sample the user guides name exists, and the frame
  doc/getting-started.md shows is the one the stream gives.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import unittest

from cdviz_testlib import PROGRAM, PLUGIN_DIR, Pipeline, SseReader, parse_events

SOURCE_ROOT = os.environ.get("CDVIZ_SOURCE_ROOT",
                             os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_ROOT = os.environ.get("CDVIZ_BUILD_ROOT", os.path.join(SOURCE_ROOT, "build"))
SAMPLES = os.path.join(SOURCE_ROOT, "data", "samples")

# What CDEvents v0.4.1 requires of the types the samples cover: the subject
# type and the keys its content must have (all 0.2.0 in that release).
TYPES = {
    "dev.cdevents.build.queued.0.2.0": ("build", ()),
    "dev.cdevents.build.started.0.2.0": ("build", ()),
    "dev.cdevents.build.finished.0.2.0": ("build", ()),
    "dev.cdevents.artifact.published.0.2.0": ("artifact", ()),
    "dev.cdevents.testcaserun.finished.0.2.0": ("testCaseRun", ("outcome", "environment")),
    "dev.cdevents.service.deployed.0.2.0": ("service", ("environment", "artifactId")),
}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")

CONFIG = """
[sources.events]
enabled = true
extractor = { type = "webhook", id = "events" }

[sinks.events]
enabled = true
type = "sse"
id = "events"
"""


def samples():
    """{file name: (raw bytes, parsed)} of data/samples/*.json."""
    out = {}
    for path in sorted(glob.glob(os.path.join(SAMPLES, "*.json"))):
        with open(path, "rb") as f:
            raw = f.read()
        out[os.path.basename(path)] = (raw, json.loads(raw))
    return out


class SampleFilesTest(unittest.TestCase):

    def test_each_is_a_cdevent_0_4_1(self):
        found = samples()
        self.assertGreaterEqual(len(found), 6)
        ids = set()
        for name, (raw, event) in found.items():
            with self.subTest(sample=name):
                context, subject = event["context"], event["subject"]
                self.assertEqual(set(event), {"context", "subject"})
                self.assertEqual(context["version"], "0.4.1")
                self.assertIn(context["type"], TYPES)
                subject_type, required = TYPES[context["type"]]
                # The file is named after its type: build_queued.json.
                self.assertEqual(name, "%s_%s.json" % tuple(context["type"].split(".")[2:4]))
                for key in ("id", "source"):
                    self.assertIsInstance(context[key], str)
                    self.assertTrue(context[key])
                self.assertRegex(context["timestamp"], TIMESTAMP)
                self.assertEqual(subject["type"], subject_type)
                self.assertTrue(subject["id"])
                self.assertIsInstance(subject["content"], dict)
                for key in required:
                    self.assertIn(key, subject["content"])
                if "environment" in subject["content"]:
                    self.assertTrue(subject["content"]["environment"]["id"])
                self.assertNotIn(context["id"], ids, "two samples share a context id")
                ids.add(context["id"])

    def test_installed_under_datadir(self):
        meson = shutil.which("meson")
        if meson is None or not os.path.exists(os.path.join(BUILD_ROOT, "meson-info")):
            self.skipTest("no meson or no configured build tree")
        r = subprocess.run([meson, "introspect", "--installed", "--buildoptions", BUILD_ROOT],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        info = json.loads(r.stdout)
        options = {o["name"]: o["value"] for o in info["buildoptions"]}
        datadir = os.path.join(options["prefix"], options["datadir"])
        installed = {os.path.realpath(src): dest for src, dest in info["installed"].items()}
        for name in samples():
            with self.subTest(sample=name):
                src = os.path.realpath(os.path.join(SAMPLES, name))
                self.assertEqual(installed.get(src),
                                 os.path.join(datadir, "cdviz-pipeline", "samples", name),
                                 "data/meson.build does not install data/samples/" + name)

    def test_guides_name_existing_samples(self):
        named = 0
        for page in ("README.md", "doc/getting-started.md", "doc/cdviz-pipeline.1.rst"):
            with open(os.path.join(SOURCE_ROOT, page), encoding="utf-8") as f:
                text = f.read()
            names = re.findall(r"samples/([\w.-]+\.json)", text)
            with self.subTest(page=page):
                self.assertTrue(names, "%s names no sample" % page)
                for name in names:
                    self.assertTrue(os.path.exists(os.path.join(SAMPLES, name)),
                                    "%s names samples/%s, which does not exist" % (page, name))
            named += len(names)
        self.assertGreaterEqual(named, 3)


class SampleDeliveryTest(unittest.TestCase):

    def check_stream(self, reader, expected):
        events = reader.read_events(len(expected), timeout=15)
        for got, (name, (raw, event)) in zip(events, expected):
            with self.subTest(sample=name):
                self.assertEqual(got["event"], "cdevent")
                self.assertEqual(got["id"], event["context"]["id"])
                self.assertEqual(json.loads(got["data"]), event)

    def test_webhook_then_stream(self):
        expected = list(samples().items())
        with Pipeline(CONFIG) as p:
            reader = SseReader(p.port, "/sse/events")
            try:
                self.assertEqual(reader.status, 200)
                for name, (raw, event) in expected:
                    status, _, body = p.request("POST", "/webhook/events", raw,
                                                {"Content-Type": "application/json"})
                    self.assertEqual(status, 201, "%s: %r" % (name, body))
                self.check_stream(reader, expected)
            finally:
                reader.close()

    def test_getting_started_shows_the_real_frame(self):
        """doc/getting-started.md prints the frame build_started.json gives."""
        with open(os.path.join(SOURCE_ROOT, "doc", "getting-started.md"), encoding="utf-8") as f:
            m = re.search(r"^```\n(event: cdevent\n.*?\n)\n```$", f.read(), re.S | re.M)
        self.assertIsNotNone(m, "doc/getting-started.md shows no SSE frame")
        [shown] = parse_events(m.group(1).encode() + b"\n")
        raw, event = samples()["build_started.json"]
        with Pipeline(CONFIG) as p:
            reader = SseReader(p.port, "/sse/events")
            try:
                status, _, body = p.request("POST", "/webhook/events", raw,
                                            {"Content-Type": "application/json"})
                self.assertEqual(status, 201, body)
                [got] = reader.read_events(1, timeout=15)
            finally:
                reader.close()
        self.assertEqual(shown, got)

    def test_send_command(self):
        expected = list(samples().items())
        with Pipeline(CONFIG) as p:
            reader = SseReader(p.port, "/sse/events")
            try:
                args = [PROGRAM, "send", "--plugin-dir", PLUGIN_DIR,
                        "--url", "http://127.0.0.1:%d/webhook/events" % p.port]
                for name, _ in expected:
                    args += ["--data", "@data/samples/" + name]
                r = subprocess.run(args, cwd=SOURCE_ROOT, capture_output=True, text=True,
                                   timeout=60, stdin=subprocess.DEVNULL,
                                   env=dict(os.environ, CDVIZ_PLUGIN_SYSTEM_PATH=""))
                self.assertEqual(r.returncode, 0, r.stderr)
                self.check_stream(reader, expected)
            finally:
                reader.close()


if __name__ == "__main__":
    unittest.main()
