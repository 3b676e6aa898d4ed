# SPDX-License-Identifier: Apache-2.0
"""`cdviz-pipeline send` as cdviz-collector's (issue #19): --run NAME --
COMMAND… with the subprocess source of upstream's send.base.toml (read
unchanged from ../shared/collector-configs), its started and finished
events at a real local receiver or printed by the debug sink, result files
the child writes, --no-data, --metadata, the exit status; and
--input-parser for each parser on --data.
"""
import json
import os
import signal
import subprocess
import tempfile
import time
import unittest

from cdviz_testlib import PLUGIN_DIR, PROGRAM, SHARED
from integration.test_collector_sinks import Receiver

BASE = os.path.join(SHARED, "collector-configs", "cdviz-collector--src__assets__send.base.toml")

JUNIT = ('<?xml version="1.0"?>\n<testsuite name="unit" tests="4" failures="1" errors="0" '
         'skipped="1" time="2.5"><testcase name="a"/><testcase name="b"><failure/></testcase>'
         '</testsuite>\n')
TAP = "TAP version 13\n1..3\nok 1 - one\nnot ok 2 - two\nok 3 - three\n"

# Wraps whatever the cli source parsed into a CDEvent, so that the debug
# sink prints it: customData holds the parsed body and the metadata.
WRAP = """
[transformers.wrap]
type = "vrl"
template = '''
.body = {"context": {"specversion": "0.4.1", "id": "0", "source": "/send-test",
  "type": "dev.cdevents.build.started.0.2.0", "timestamp": "2026-01-01T00:00:00Z"},
  "subject": {"id": "b", "content": {}},
  "customData": {"body": .body, "metadata": .metadata}}
[.]
'''

[sources.cli]
transformer_refs = ["wrap"]
"""


def environment(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL")
           and not k.startswith("CDVIZ_COLLECTOR__")}
    env.update(CDVIZ_PLUGIN_SYSTEM_PATH="", **extra)
    return env


def send(*args, cwd=None, env=None):
    return subprocess.run([os.path.abspath(PROGRAM), "send", "--plugin-dir",
                           os.path.abspath(PLUGIN_DIR)] + list(args),
                          cwd=cwd, capture_output=True, text=True, timeout=90,
                          stdin=subprocess.DEVNULL, env=env or environment())


def printed(stdout):
    """The events the debug sink printed (the child's own lines skipped)."""
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


class SendRunTest(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="cdviz-send-run-")
        self.addCleanup(subprocess.run, ["rm", "-rf", self.work])

    def run_at_receiver(self, *args, expect=2):
        receiver = Receiver()
        self.addCleanup(receiver.close)
        r = send("-C", self.work, "--config", BASE, "--url", receiver.url, *args)
        bodies = [json.loads(body) for _, body in receiver.wait_for(expect)]
        return r, bodies

    def test_exit_status_and_the_events_upstream_sets(self):
        r, (started, finished) = self.run_at_receiver("--run", "taskrun", "--",
                                                      "sh", "-c", "exit 3")
        # As upstream's run_with_sys_args(): a failed command exits 1.
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(started["context"]["type"], "dev.cdevents.taskrun.started.0.3.0")
        self.assertEqual(finished["context"]["type"], "dev.cdevents.taskrun.finished.0.3.0")
        for event in (started, finished):
            self.assertEqual(event["subject"]["id"], "cdviz-collector://local/run")
            self.assertEqual(event["subject"]["content"]["taskName"], "unknown")
            # The VRL writes "source": "", filled in as upstream does.
            self.assertIn("?source=taskrun", event["context"]["source"])
        self.assertEqual(finished["subject"]["content"]["outcome"], "failure")
        self.assertLessEqual(started["context"]["timestamp"], finished["context"]["timestamp"])

        r, (_, finished) = self.run_at_receiver("--run", "taskrun", "--", "true")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(finished["subject"]["content"]["outcome"], "success")

    def test_child_inherits_stdio_without_collector_variables(self):
        env = environment(CDVIZ_COLLECTOR__SINKS__HTTP__TOTAL_DURATION_OF_RETRIES="5s",
                          OTHER_VARIABLE="kept")
        r = send("-C", self.work, "--config", BASE, "--run", "taskrun", "--", "sh", "-c",
                 'echo "child ${CDVIZ_COLLECTOR__SINKS__HTTP__TOTAL_DURATION_OF_RETRIES:-unset}'
                 ' $OTHER_VARIABLE"', env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("child unset kept\n", r.stdout)
        # Without --url the debug sink prints both events.
        types = [e["context"]["type"] for e in printed(r.stdout)]
        self.assertEqual(types, ["dev.cdevents.taskrun.started.0.3.0",
                                 "dev.cdevents.taskrun.finished.0.3.0"])

    def test_junit_file_written_by_the_child(self):
        r, (started, finished) = self.run_at_receiver(
            "--run", "testsuiterun_junit", "--", "sh", "-c",
            "mkdir -p reports && cat > reports/TEST-unit.xml <<'EOF'\n%sEOF" % JUNIT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(started["context"]["type"], "dev.cdevents.testsuiterun.started.0.3.0")
        self.assertEqual(finished["context"]["type"],
                         "dev.cdevents.testsuiterun.finished.0.3.0")
        self.assertEqual(finished["subject"]["content"]["outcome"], "failure")
        self.assertEqual(finished["customData"]["testsuiterun"]["summary"],
                         {"results_count": 4, "passed": 2, "failed": 1, "skipped": 1,
                          "errors": 0, "duration_ms": 2500, "exit_code": 0})

    def test_tap_file_written_by_the_child(self):
        r, (_, finished) = self.run_at_receiver(
            "--run", "testsuiterun_tap", "--", "sh", "-c", "printf '%s' > out.tap" % TAP)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(finished["subject"]["content"]["outcome"], "failure")
        summary = finished["customData"]["testsuiterun"]["summary"]
        self.assertEqual((summary["results_count"], summary["passed"], summary["failed"]),
                         (3, 2, 1))

    def test_no_data_and_data_as_globs(self):
        with open(os.path.join(self.work, "TEST-old.xml"), "w") as f:
            f.write(JUNIT)
        r, (_, finished) = self.run_at_receiver("--run", "testsuiterun_junit", "--no-data",
                                                "--", "true")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(finished["subject"]["content"]["outcome"], "success")
        self.assertEqual(finished["customData"]["testsuiterun"]["summary"]["results_count"], 0)
        # --data replaces the run type's data_globs: only this file is read.
        other = os.path.join(self.work, "elsewhere.report")
        with open(other, "w") as f:
            f.write(JUNIT.replace('tests="4"', 'tests="9"'))
        r, (_, finished) = self.run_at_receiver("--run", "testsuiterun_junit", "--data", other,
                                                "--", "true")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(finished["customData"]["testsuiterun"]["summary"]["results_count"], 9)

    def test_metadata_overrides(self):
        r, (started, finished) = self.run_at_receiver(
            "--run", "taskrun", "--metadata", "task_name=my-task",
            "--metadata", "tested_artifact_id=pkg:oci/app",
            "--metadata", "tested_artifact_id=pkg:maven/com.example:lib", "--", "true")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(started["subject"]["content"]["taskName"], "my-task")
        self.assertEqual(finished["subject"]["content"]["taskName"], "my-task")
        ids = [link["target"]["subject"]["id"] for link in finished["customData"]["links"]
               if link["linkKind"] == "testedAgainst"]
        self.assertEqual(ids, ["pkg:oci/app", "pkg:maven/com.example:lib"])

    def test_results_url_adds_testoutput_published(self):
        r, bodies = self.run_at_receiver(
            "--run", "testsuiterun_tap", "--metadata", "results_url=https://ci.example/r/1",
            "--", "sh", "-c", "printf '%s' > out.tap" % TAP, expect=3)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([b["context"]["type"].split(".")[2:4] for b in bodies],
                         [["testsuiterun", "started"], ["testsuiterun", "finished"],
                          ["testoutput", "published"]])

    def test_collector_error(self):
        args = ["-C", self.work, "--config", BASE, "--url", "http://127.0.0.1:1/events",
                "--total-duration-of-retries", "1s", "--run", "taskrun"]
        r = send(*args, "--", "true")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("not accepted", r.stderr)
        r = send(*args, "--fail-on-collector-error", "--", "true")
        self.assertEqual(r.returncode, 1, r.stderr)

    def start_run(self, script):
        """send --run with `sh -c SCRIPT` as the command, to a receiver."""
        receiver = Receiver()
        self.addCleanup(receiver.close)
        proc = subprocess.Popen(
            [os.path.abspath(PROGRAM), "send", "--plugin-dir", os.path.abspath(PLUGIN_DIR),
             "-C", self.work, "--config", BASE, "--url", receiver.url,
             "--run", "testsuiterun_junit", "--no-data", "--", "sh", "-c", script],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=environment())
        self.addCleanup(proc.kill)
        return receiver, proc

    def test_sigterm_as_soon_as_the_command_starts(self):
        # The command signals send itself as it starts: the signal used to
        # come before send caught it, killing send alone (the command
        # survived, holding the pipes, and nothing was reported).
        receiver, proc = self.start_run("kill -TERM $PPID; exec sleep 600")
        _, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 1, err)
        _, finished = [json.loads(body) for _, body in receiver.wait_for(2)]
        self.assertEqual(finished["customData"]["testsuiterun"]["summary"]["exit_code"], 130)

    def test_sigterm_kills_the_command_and_still_reports(self):
        marker = os.path.join(self.work, "running")
        receiver, proc = self.start_run("touch running; exec sleep 600")
        deadline = time.monotonic() + 30
        while not os.path.exists(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 1, err)
        _, finished = [json.loads(body) for _, body in receiver.wait_for(2)]
        # As upstream's cancelled run: exit code 130.
        self.assertEqual(finished["customData"]["testsuiterun"]["summary"]["exit_code"], 130)
        self.assertEqual(finished["subject"]["content"]["outcome"], "failure")

    def test_bad_values(self):
        cases = [
            (["--run", "nosuch", "--", "true"], "[sources.nosuch]"),
            (["--config", BASE, "--run", "taskrun"], "command"),
            (["--config", BASE, "--run", "a.b", "--", "true"], "--run “a.b”"),
            (["--config", BASE, "--run", "taskrun", "--metadata", "a.b=1", "--", "true"],
             "--metadata “a.b”"),
            (["--config", BASE, "--run", "taskrun", "--metadata", "novalue", "--", "true"],
             "KEY=VALUE"),
            (["--no-data", "--data", "{}"], "--run"),
            (["--data", "{}", "--", "true"], "--run"),
            (["--data", "{}", "--input-parser", "csv"], "--input-parser “csv”"),
            (["--data", "{not json"], "--data"),
        ]
        for args, words in cases:
            with self.subTest(args=args):
                r = send(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(words, r.stderr)


class InputParserTest(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="cdviz-send-parse-")
        self.addCleanup(subprocess.run, ["rm", "-rf", self.work])
        with open(os.path.join(self.work, "wrap.toml"), "w") as f:
            f.write(WRAP)

    def parsed(self, data, *args):
        r = send("-C", self.work, "--config", "wrap.toml", "--data", data, *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [e["customData"] for e in printed(r.stdout)]

    def bodies(self, data, *args):
        return [c["body"] for c in self.parsed(data, *args)]

    def write(self, name, text):
        with open(os.path.join(self.work, name), "w") as f:
            f.write(text)
        return "@" + name

    def test_each_parser(self):
        self.assertEqual(self.bodies('{"a": 1}', "--input-parser", "json"), [{"a": 1}])
        self.assertEqual(self.bodies('{"a": 1}\n\n{"a": 2}\n', "--input-parser", "jsonl"),
                         [{"a": 1}, {"a": 2}])
        self.assertEqual(self.bodies("x,y\n1,2\n3,4\n", "--input-parser", "csv-row"),
                         [{"x": "1", "y": "2"}, {"x": "3", "y": "4"}])
        self.assertEqual(self.bodies('<r k="v"/>', "--input-parser", "xml"), [{"r": {"@k": "v"}}])
        self.assertEqual(self.bodies("a: 1\nb: [x]\n", "--input-parser", "yaml"),
                         [{"a": 1, "b": ["x"]}])
        [tap] = self.bodies("1..1\nok 1 - one\n", "--input-parser", "tap")
        self.assertEqual((tap["plan"], [t["status"] for t in tap["tests"]]),
                         ({"start": 1, "end": 1}, ["ok"]))
        self.assertEqual(self.bodies("one\ntwo", "--input-parser", "text"),
                         [{"text": "one\ntwo"}])
        self.assertEqual(self.bodies("one\n\ntwo\n", "--input-parser", "text-line"),
                         [{"text": "one"}, {"text": "two"}])

    def test_auto_by_extension_and_json_otherwise(self):
        self.assertEqual(self.bodies(self.write("rows.csv", "x\n1\n")), [{"x": "1"}])
        self.assertEqual(self.bodies(self.write("doc.yaml", "k: v\n")), [{"k": "v"}])
        self.assertEqual(self.bodies('[{"a": 1}, {"a": 2}]'), [{"a": 1}, {"a": 2}])

    def test_metadata_on_data(self):
        [got] = self.parsed('{"a": 1}', "--metadata", "team=blue", "--metadata", "n=1")
        self.assertEqual(got["metadata"], {"team": "blue", "n": "1"})


if __name__ == "__main__":
    unittest.main()
