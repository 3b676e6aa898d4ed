# SPDX-License-Identifier: Apache-2.0
"""The vrl transformer as users meet it: the seed's VRL blocks in a running
pipeline (webhook on 127.0.0.1 → VRL → debug sink), `cdviz-pipeline
transform --mode check` on transformers-community's github_events, and
`cdviz-pipeline vrl` (output, exit codes, error positions)."""
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from cdviz_testlib import PLUGIN_DIR, PROGRAM, SHARED, Pipeline, SseReader, cdevent

SEED = os.path.join(SHARED, "seed", "sse-sink.md")
GITHUB = os.path.join(SHARED, "transformers-community", "github_events")


def seed_transformer(name):
    """The `[transformers.NAME]` table of the seed, verbatim (up to the end
    of its multi-line program)."""
    with open(SEED, encoding="utf-8") as f:
        text = f.read()
    start = text.index("[transformers.%s]" % name)
    quote = '"""' if '"""' in text[start:start + 200] else "'''"
    first = text.index(quote, start)
    end = text.index(quote, first + 3) + 3
    return text[start:end] + "\n"


def run(args, timeout=60):
    env = dict(os.environ, CDVIZ_PLUGIN_SYSTEM_PATH="")
    return subprocess.run([PROGRAM] + args, capture_output=True, text=True, env=env,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def events_out(pipeline, n, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        lines = [l for l in pipeline.stdout().splitlines() if l.startswith("{")]
        if len(lines) >= n:
            return [json.loads(l) for l in lines]
        time.sleep(0.05)
    return [json.loads(l) for l in pipeline.stdout().splitlines() if l.startswith("{")]


@unittest.skipUnless(os.path.exists(SEED), "../shared/seed is not there")
class SeedBlocksTest(unittest.TestCase):
    """Each seed block loads unchanged and does what its text says."""

    def pipeline(self, transformer):
        config = ('[sources.hook]\nenabled = true\ntransformer_refs = ["%s"]\n'
                  '[sources.hook.extractor]\ntype = "webhook"\nid = "in"\n'
                  '[sinks.out]\ntype = "debug"\n' % transformer) + seed_transformer(transformer)
        return Pipeline(config)

    def test_all_seed_blocks_load(self):
        for name in ("add_regional_metadata", "sanitize_for_internal", "filter_corporate_events",
                     "anonymize_for_dev", "build_filter"):
            with self.subTest(name):
                tmp = tempfile.TemporaryDirectory()
                self.addCleanup(tmp.cleanup)
                path = os.path.join(tmp.name, "c.toml")
                with open(path, "w") as f:
                    f.write(seed_transformer(name))
                r = run(["config", "--check", "--config", path, "--plugin-dir", PLUGIN_DIR])
                self.assertEqual(r.returncode, 0, r.stderr)

    def test_mirroring_prefixes_ids(self):
        with self.pipeline("anonymize_for_dev") as p:
            event = json.loads(cdevent())
            status, _, body = p.request("POST", "/webhook/in", json.dumps(event).encode())
            self.assertEqual(status, 201, body)
            out = events_out(p, 1)
            self.assertEqual(len(out), 1, p.stderr())
            self.assertEqual(out[0]["subject"]["id"], "dev-" + event["subject"]["id"])
            self.assertEqual(out[0]["context"]["source"], "anonymized-" + event["context"]["source"])
            self.assertEqual(out[0]["subject"]["content"]["user_id"], "anonymous")

    def test_hierarchical_drops_unimportant(self):
        with self.pipeline("filter_corporate_events") as p:
            event = json.loads(cdevent())
            event["subject"]["content"] = {"importance": "low"}
            status, _, body = p.request("POST", "/webhook/in", json.dumps(event).encode())
            self.assertEqual(status, 201, body)
            important = json.loads(cdevent())
            important["context"]["id"] = "important-1"
            important["subject"]["content"] = {"category": "security"}
            status, _, body = p.request("POST", "/webhook/in", json.dumps(important).encode())
            self.assertEqual(status, 201, body)
            out = events_out(p, 1)
            time.sleep(0.3)
            out = events_out(p, 1)
            self.assertEqual([e["context"]["id"] for e in out], ["important-1"], p.stderr())

    def test_runtime_error_rejects_one_event(self):
        config = ('[sources.hook]\nenabled = true\ntransformer_refs = ["t"]\n'
                  '[sources.hook.extractor]\ntype = "webhook"\nid = "in"\n'
                  '[sinks.out]\ntype = "debug"\n'
                  '[transformers.t]\ntype = "vrl"\ntemplate = """\n'
                  'if .body.subject.content.fail == true { abort "refused" }\n[.]\n"""\n')
        with Pipeline(config) as p:
            bad = json.loads(cdevent())
            bad["subject"]["content"] = {"fail": True}
            status, _, body = p.request("POST", "/webhook/in", json.dumps(bad).encode())
            self.assertGreaterEqual(status, 400, body)
            status, _, body = p.request("POST", "/webhook/in", cdevent())
            self.assertEqual(status, 201, body)
            self.assertEqual(len(events_out(p, 1)), 1)


class CompileErrorPositionTest(unittest.TestCase):
    """A program that does not compile is refused with the line and column of
    the error in the TOML file (or in the template_file), not in the program."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def check(self, toml, expected, files=None):
        for name, text in (files or {}).items():
            with open(os.path.join(self.tmp.name, name), "w", encoding="utf-8") as f:
                f.write(text)
        path = os.path.join(self.tmp.name, "config.toml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(toml)
        r = run(["config", "--check", "--config", path, "--plugin-dir", PLUGIN_DIR])
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn(expected.replace("DIR", self.tmp.name), r.stderr)

    def test_multiline_template(self):
        # the newline right after """ is not part of the program: its line 2 is the file's line 5
        self.check('[transformers.t]\ntype = "vrl"\ntemplate = """\n.a = 1\n  foo(.b)\n"""\n',
                   "the VRL program does not compile: DIR/config.toml:5:3: error[E105]: "
                   "call to undefined function “foo”")

    def test_program_on_the_key_line(self):
        self.check('[transformers.t]\n  type = "vrl"\n  script = ".a = 1; bar(.b)"\n',
                   "the VRL program does not compile: DIR/config.toml:3:21: error[E105]")
        self.check("[transformers.t]\ntype = 'vrl'\ntemplate = '''.a = 1\n.b = f(1)\n'''\n",
                   "the VRL program does not compile: DIR/config.toml:4:6: error[E105]")

    def test_template_file(self):
        self.check('[transformers.t]\ntype = "vrl"\ntemplate_file = "p.vrl"\n',
                   "the VRL program does not compile: DIR/p.vrl:3:3: error[E105]",
                   files={"p.vrl": ".x = 1\n\n  nope(1)\n"})

    def test_set_keeps_the_program_position(self):
        r = run(["config", "--check", "--plugin-dir", PLUGIN_DIR,
                 "--set", "transformers.t.type = 'vrl'",
                 "--set", "transformers.t.template = '.a = nope()'"])
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("the VRL program does not compile: template:1:6: error[E105]", r.stderr)


@unittest.skipUnless(os.path.isdir(GITHUB), "../shared/transformers-community is not there")
class GithubEventsTest(unittest.TestCase):
    def test_transform_check(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        outputs = os.path.join(tmp.name, "outputs")
        shutil.copytree(os.path.join(GITHUB, "outputs"), outputs)
        r = run(["transform", "--plugin-dir", PLUGIN_DIR,
                 "--config", os.path.join(GITHUB, "cdviz-collector.toml"), "-t", "github_events",
                 "--input", os.path.join(GITHUB, "inputs"), "--output", outputs,
                 "--mode", "check"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("0 differences found.", r.stdout)

    def test_transform_overwrite_is_byte_identical(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        out = os.path.join(tmp.name, "out")
        r = run(["transform", "--plugin-dir", PLUGIN_DIR,
                 "--config", os.path.join(GITHUB, "cdviz-collector.toml"), "-t", "github_events",
                 "--input", os.path.join(GITHUB, "inputs"), "--output", out, "--mode", "overwrite"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        expected_dir = os.path.join(GITHUB, "outputs")
        for root, _, files in os.walk(expected_dir):
            for name in files:
                rel = os.path.relpath(os.path.join(root, name), expected_dir)
                with open(os.path.join(expected_dir, rel), "rb") as a, \
                        open(os.path.join(out, rel), "rb") as b:
                    self.assertEqual(a.read(), b.read(), rel)

    def test_check_fails_on_difference(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        outputs = os.path.join(tmp.name, "outputs")
        shutil.copytree(os.path.join(GITHUB, "outputs"), outputs)
        path = os.path.join(outputs, "issue", "opened.01.json")
        with open(path) as f:
            data = json.load(f)
        data["subject"]["id"] = "changed"
        with open(path, "w") as f:
            json.dump(data, f)
        r = run(["transform", "--plugin-dir", PLUGIN_DIR,
                 "--config", os.path.join(GITHUB, "cdviz-collector.toml"), "-t", "github_events",
                 "--input", os.path.join(GITHUB, "inputs"), "--output", outputs, "--mode", "check"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("difference: issue/opened.01.json", r.stdout)


def content_id(body):
    """cdviz-collector's id for `context.id = "0"`: CIDv1 raw sha2-256 of the
    sorted compact JSON without context.id, base32 lower, prefix 'b'."""
    body = json.loads(json.dumps(body))
    body["context"].pop("id", None)
    data = json.dumps(body, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")
    cid = bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(cid).decode("ascii").lower().rstrip("=")


@unittest.skipUnless(os.path.isdir(GITHUB), "../shared/transformers-community is not there")
class GithubWebhookTest(unittest.TestCase):
    """A raw GitHub payload POSTed to a webhook goes through a VRL filter on
    the X-GitHub-Event header (kept with headers_to_keep) and the
    github_events transformer, and reaches an SSE client as the CDEvent
    upstream produces, normalised after the chain."""

    CONFIG = """
[sources.github]
enabled = true
transformer_refs = ["only_workflow_runs", "github_events"]

[sources.github.extractor]
type = "webhook"
id = "000-github"
headers_to_keep = ["X-GitHub-Event"]

[transformers.only_workflow_runs]
type = "vrl"
template = '''
if .headers."x-github-event" != "workflow_run" {
  []
} else {
  [.]
}
'''

[transformers.github_events]
type = "vrl"
template_file = "%s"

[sinks.out]
type = "sse"
id = "cdevents"
"""

    def read(self, *parts):
        with open(os.path.join(GITHUB, *parts), "rb") as f:
            return f.read()

    def test_raw_payload_to_sse(self):
        config = self.CONFIG % os.path.join(GITHUB, "transformer.vrl")
        with Pipeline(config, args=("--plugin-dir", PLUGIN_DIR)) as p:
            reader = SseReader(p.port, "/sse/cdevents")
            self.addCleanup(reader.close)
            self.assertEqual(reader.status, 200)

            # an issue event: the filter drops it on its header (201, no event)
            status, _, body = p.request("POST", "/webhook/000-github",
                                        self.read("inputs", "issue", "opened.01.json"),
                                        {"Content-Type": "application/json",
                                         "X-GitHub-Event": "issues"})
            self.assertEqual(status, 201, body)

            # not JSON: 400 before any transformer
            status, _, body = p.request("POST", "/webhook/000-github", b"{not json",
                                        {"X-GitHub-Event": "workflow_run"})
            self.assertEqual(status, 400, body)

            # JSON that github_events cannot handle: its runtime error is a 422
            status, _, body = p.request("POST", "/webhook/000-github", b'{"action": "completed"}',
                                        {"X-GitHub-Event": "workflow_run"})
            self.assertEqual(status, 422, body)

            status, _, body = p.request("POST", "/webhook/000-github",
                                        self.read("inputs", "workflow_run", "completed.json"),
                                        {"Content-Type": "application/json",
                                         "X-GitHub-Event": "workflow_run"})
            self.assertEqual(status, 201, body)

            events = reader.read_events(1)
            got = json.loads(events[0]["data"])
            expected = json.loads(self.read("outputs", "workflow_run", "completed.json"))
            # upstream's expected output was made by `transform` (default source,
            # id "0"); the webhook puts its own source and computes the id
            expected["context"]["source"] = "http://127.0.0.1:%d/?source=github" % p.port
            expected["context"]["id"] = content_id(expected)
            self.assertEqual(got, expected)
            self.assertEqual(events[0].get("id"), expected["context"]["id"])


class VrlCommandTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def write(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_prints_last_value(self):
        prog = self.write("p.vrl", '.b = upcase(string!(.a))\n{"x": .b, "t": t\'2021-01-01T00:00:00Z\', "r": r\'^a\'}\n')
        event = self.write("e.json", '{"a": "hi"}')
        r = run(["vrl", "--input", event, prog])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, '{"r":"^a","t":"2021-01-01T00:00:00Z","x":"HI"}\n')

    def test_print_object(self):
        prog = self.write("p.vrl", ".n = 1\n")
        r = run(["vrl", "--print-object", prog])
        self.assertEqual((r.returncode, r.stdout), (0, '{"n":1}\n'))

    def test_abort_exits_1(self):
        r = run(["vrl", self.write("p.vrl", 'abort "no"\n')])
        self.assertEqual(r.returncode, 1)
        self.assertIn("no", r.stderr)

    def test_compile_error_exits_2_with_position(self):
        prog = self.write("p.vrl", "x = 1\n  nope(x)\n")
        r = run(["vrl", prog])
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, "%s:2:3: error[E105]: call to undefined function “nope”\n" % prog)


if __name__ == "__main__":
    unittest.main()
