# SPDX-License-Identifier: Apache-2.0
"""The opendal source (kind "fs") and the cli source as cdviz-collector's
users meet them: files of every parser in a directory become events (seen
on the debug sink's standard output), bad files and lines are reported with
their path and line and skipped, a file added while running is read at the
next poll, a restart does not send again what was read ([state]), and the
cli source's data."""
import json
import os
import subprocess
import tempfile
import time
import unittest

from cdviz_testlib import PLUGIN_DIR, PROGRAM, SHARED, Pipeline

# Wraps whatever the source read into a CDEvent, so that the debug sink
# shows the body, metadata and headers the source built.
WRAP = """
[sinks.debug]
enabled = true
type = "debug"

[transformers.wrap]
type = "vrl"
template = '''
.body = {"context": {"version": "0.4.1", "id": "0", "source": "/files",
  "type": "dev.cdevents.artifact.published.0.2.0", "timestamp": "2024-01-01T00:00:00Z"},
  "subject": {"id": "x", "type": "artifact", "content": {}},
  "customData": {"body": .body, "metadata": .metadata, "headers": .headers}}
[.]
'''
"""

SOURCE = """
[sources.files]
enabled = true
transformer_refs = ["wrap"]

[sources.files.extractor]
type = "opendal"
kind = "fs"
parameters = {{ root = "{root}" }}
recursive = true
polling_interval = "100ms"
path_patterns = {patterns}
parser = "{parser}"
try_read_headers_json = true
metadata = {{ team = "qa" }}

[state]
kind = "fs"
parameters = {{ root = "{state}" }}
"""


def write(path, data, age=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    if age is not None:
        t = time.time() - age
        os.utime(path, (t, t))


def events(pipeline):
    """The customData of every event the debug sink printed so far."""
    out = []
    for line in pipeline.stdout().splitlines():
        if line.startswith("{"):
            out.append(json.loads(line)["customData"])
    return out


def wait_events(pipeline, predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = events(pipeline)
        if predicate(got):
            return got
        if pipeline.proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError("events not received; got %r\nstderr:\n%s"
                         % (events(pipeline), pipeline.stderr()))


def wait_stderr(pipeline, text, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in pipeline.stderr():
            return
        time.sleep(0.05)
    raise AssertionError("%r not logged:\n%s" % (text, pipeline.stderr()))


class OpendalTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="cdviz-opendal-")
        self.root = os.path.join(self.tmp.name, "in")
        self.state = os.path.join(self.tmp.name, "state")
        os.makedirs(self.root)

    def tearDown(self):
        self.tmp.cleanup()

    def config(self, parser="auto", patterns='["**"]'):
        return WRAP + SOURCE.format(root=self.root, state=self.state, parser=parser,
                                    patterns=patterns)

    def by_path(self, got):
        out = {}
        for e in got:
            out.setdefault(e["metadata"]["path"], []).append(e["body"])
        return out

    def test_every_parser_by_extension(self):
        r = self.root
        write(r + "/a.json", '{"n": 1}', age=10)
        write(r + "/a.headers.json", '{"x-origin": "ci"}', age=10)
        write(r + "/rows.csv", 'name,age\nAlice,30\n"Bob, ""Jr""",25\nbad\nCarol,40\n', age=10)
        write(r + "/lines.jsonl", '{"x": 1}\nnot json\n\n{"y": 2}\n', age=10)
        write(r + "/sub/conf.yaml", 'a: 1\nb: [x, "2", 3.5, null, true]\n', age=10)
        write(r + "/report.tap", "TAP version 14\n1..2\nok 1 - first\n"
              "not ok 2 - second # TODO later\n  ---\n  message: boom\n  ...\n", age=10)
        write(r + "/note.txt", "hello\nworld\n", age=10)
        write(r + "/junit.xml", '<testsuite tests="1"><testcase name="t"/></testsuite>', age=10)
        write(r + "/app.log", "one\n\n  two  \n", age=10)
        write(r + "/broken.json", "this is { not json", age=10)
        write(r + "/empty.json", "", age=10)  # empty files are not read, as upstream
        with Pipeline(self.config()) as p:
            wait_stderr(p, "read 10 files")
            # Pushed is not yet printed: wait for the 13 events it counted.
            got = self.by_path(wait_events(p, lambda g: len(g) >= 13))
            stderr = p.stderr()
        self.assertEqual(got["a.json"], [{"n": 1}])
        self.assertEqual(got["a.headers.json"], [{"x-origin": "ci"}])
        self.assertEqual(got["rows.csv"], [{"name": "Alice", "age": "30"},
                                           {"name": 'Bob, "Jr"', "age": "25"},
                                           {"name": "Carol", "age": "40"}])
        self.assertEqual(got["lines.jsonl"], [{"x": 1}, {"y": 2}])
        self.assertEqual(got["sub/conf.yaml"], [{"a": 1, "b": ["x", "2", 3.5, None, True]}])
        self.assertEqual(got["report.tap"], [{
            "version": 14, "plan": {"start": 1, "end": 2},
            "tests": [{"status": "ok", "number": 1, "description": "first",
                       "directive": None, "yaml_diagnostics": None},
                      {"status": "not_ok", "number": 2, "description": "second",
                       "directive": {"kind": "TODO", "reason": "later"},
                       "yaml_diagnostics": {"message": "boom"}}]}])
        self.assertEqual(got["note.txt"], [{"text": "hello\nworld\n"}])
        self.assertEqual(got["junit.xml"], [{"testsuite": {
            "@tests": "1", "#c": [{"testcase": {"@name": "t"}}]}}])
        self.assertEqual(got["app.log"], [{"text": "one"}, {"text": "two"}])
        self.assertNotIn("broken.json", got)
        self.assertNotIn("empty.json", got)
        # Bad input: the file and the line, then the rest goes on.
        self.assertIn(r + "/rows.csv:4: not as many fields as the header row", stderr)
        self.assertIn(r + "/lines.jsonl:2: not a JSON value", stderr)
        self.assertIn(r + "/broken.json: not JSON: line 1:", stderr)
        self.assertIn("read 10 files: 13 events, 1 files failed, 2 lines or rows skipped",
                      stderr)

    def test_metadata_and_headers(self):
        write(self.root + "/d/e.json", '{"n": 1}', age=10)
        write(self.root + "/d/e.headers.json", '{"x-origin": "ci"}', age=10)
        with Pipeline(self.config(patterns='["**/*.json", "!**/*.headers.json"]')) as p:
            got = wait_events(p, lambda g: len(g) >= 1)
        self.assertEqual(len(got), 1)
        meta = got[0]["metadata"]
        self.assertEqual(meta["name"], "e.json")
        self.assertEqual(meta["path"], "d/e.json")
        self.assertEqual(meta["root"], self.root)
        self.assertEqual(meta["team"], "qa")
        self.assertRegex(meta["last_modified"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
        self.assertEqual(got[0]["headers"], {"x-origin": "ci"})

    def test_explicit_parsers(self):
        write(self.root + "/x.data", "l1\nl2\n", age=10)
        with Pipeline(self.config(parser="text_line")) as p:
            got = wait_events(p, lambda g: len(g) >= 2)
        self.assertEqual([e["body"] for e in got], [{"text": "l1"}, {"text": "l2"}])
        with Pipeline(self.config(parser="metadata").replace(self.state, self.state + "2")) as p:
            got = wait_events(p, lambda g: len(g) >= 1)
        self.assertEqual(got[0]["body"], None)
        self.assertEqual(got[0]["metadata"]["name"], "x.data")

    def test_new_file_then_restart_does_not_resend(self):
        write(self.root + "/old.json", '{"n": "old"}', age=10)
        with Pipeline(self.config()) as p:
            wait_events(p, lambda g: [e["body"] for e in g] == [{"n": "old"}])
            # Added while running: read at a following poll.
            write(self.root + "/new.json", '{"n": "new"}')
            got = wait_events(p, lambda g: len(g) >= 2)
            self.assertEqual([e["body"] for e in got], [{"n": "old"}, {"n": "new"}])
            self.assertEqual(p.stop(), 0)
        with open(os.path.join(self.state, "files", "checkpoint.json")) as f:
            checkpoint = json.load(f)
        self.assertRegex(checkpoint["ts_after"], r"^\d{4}-\d\d-\d\dT[\d:.]+Z$")
        with Pipeline(self.config()) as p:
            write(self.root + "/later.json", '{"n": "later"}')
            got = wait_events(p, lambda g: len(g) >= 1)
            self.assertIn("reading files modified after " + checkpoint["ts_after"], p.stderr())
        # Nothing read before the restart came again before the new file.
        self.assertEqual([e["body"] for e in got], [{"n": "later"}])

    def check_error(self, config, expected):
        with tempfile.NamedTemporaryFile("w", suffix=".toml") as f:
            f.write(config)
            f.flush()
            r = subprocess.run([PROGRAM, "config", "--check", "--config", f.name,
                                "--plugin-dir", PLUGIN_DIR], capture_output=True, text=True,
                               env=dict(os.environ, CDVIZ_PLUGIN_SYSTEM_PATH=""))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(expected, r.stderr)

    def test_configuration_errors(self):
        cfg = self.config()
        self.check_error(cfg.replace('kind = "fs"\nparameters = {',
                                     'kind = "s3"\nparameters = {', 1),
                         "kind “s3” is not available in this build; only “fs”")
        self.check_error(self.config(parser="csv"), "unknown parser “csv”")
        self.check_error(self.config(patterns='["a**"]'), "“a**”: “**” must be a whole path")
        self.check_error(cfg.replace('[state]\nkind = "fs"', '[state]\nkind = "s3"'),
                         "“s3” is not a state kind")


class CliSourceTest(unittest.TestCase):
    def run_cli(self, extractor):
        config = WRAP + ('\n[sources.cli]\nenabled = true\ntransformer_refs = ["wrap"]\n'
                         '[sources.cli.extractor]\ntype = "cli"\n' + extractor)
        with Pipeline(config) as p:
            return p, wait_events(p, lambda g: len(g) >= 2)

    def test_inline_array(self):
        _, got = self.run_cli('data = \'[{"a": 1}, {"b": 2}]\'\nmetadata = { k = "v" }\n')
        self.assertEqual(got, [{"body": {"a": 1}, "metadata": {"k": "v", "index": 0},
                                "headers": {}},
                               {"body": {"b": 2}, "metadata": {"k": "v", "index": 1},
                                "headers": {}}])

    def test_upstream_send_base_loads(self):
        """cdviz-collector's send.base.toml declares [sources.cli] of type cli."""
        path = os.path.join(SHARED, "collector-configs",
                            "cdviz-collector--src__assets__send.base.toml")
        r = subprocess.run([PROGRAM, "config", "--check", "--config", path,
                            "--plugin-dir", PLUGIN_DIR], capture_output=True, text=True,
                           env=dict(os.environ, CDVIZ_PLUGIN_SYSTEM_PATH=""))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration OK", r.stderr)

    def test_file_by_extension(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "e.csv")
            write(path, "a,b\n1,2\n3,4\n")
            _, got = self.run_cli('data = "@%s"\n' % path)
        self.assertEqual([e["body"] for e in got], [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}])
        self.assertEqual([e["metadata"]["index"] for e in got], [0, 1])


if __name__ == "__main__":
    unittest.main()
