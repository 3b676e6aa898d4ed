# SPDX-License-Identifier: Apache-2.0
"""Configuration material fetched over HTTP (issue #19), against a local
HTTP server standing in for GitHub and for a configuration server:

- `[remote.NAME]` with `type = "github"` and `template_rfile`: the file is
  fetched at start and transforms events; a 404, or a server that does not
  answer and nothing cached, stops the start with the file, line, key and
  URL; a file fetched once is used from the cache when the server is gone
  (and the log says so); `config --check` only warns when it cannot reach a
  file (it needs no network);
- `--config URL` with `--config-header`: a server that answers 401 without
  the header stops the program with the status; with it, the pipeline
  starts (connect), checks (config --check) and sends (send).
"""
import http.server
import json
import os
import subprocess
import tempfile
import threading
import unittest

from cdviz_testlib import PLUGIN_DIR, PROGRAM, Pipeline, cdevent, free_port

VRL = '.body.remote_marker = "fetched from the remote"\n[.]\n'
VRL_PATH = "/cdviz-dev/transformers-community/HEAD/github_events/to_v0_5.vrl"

REMOTE_CONFIG = """
[remote.transformers-community]
type = "github"
owner = "cdviz-dev"
repo = "transformers-community"

[sources.hook]
enabled = true
transformer_refs = ["github_events"]
extractor = { type = "webhook", id = "in" }

[transformers.github_events]
type = "vrl"
template_rfile = "transformers-community:///github_events/to_v0_5.vrl"

[sinks.out]
type = "debug"
"""

SERVED_CONFIG = """
[sources.hook]
enabled = true
extractor = { type = "webhook", id = "from-url" }

[sinks.out]
type = "debug"
"""


class Server:
    """A local HTTP server answering GET PATH with files[PATH] (else 404),
    401 when `required` headers are missing; it records every request."""

    def __init__(self, files, required=None):
        self.files = files
        self.required = required or {}
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append((self.path, dict(self.headers)))
                if any(self.headers.get(k) != v for k, v in outer.required.items()):
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = outer.files.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def run(args, env, timeout=60):
    full = dict(os.environ, CDVIZ_PLUGIN_SYSTEM_PATH="")
    full.update(env)
    return subprocess.run([PROGRAM] + args + ["--plugin-dir", PLUGIN_DIR],
                          capture_output=True, text=True, env=full, timeout=timeout,
                          stdin=subprocess.DEVNULL)


class RemoteFileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.github = Server({VRL_PATH: VRL.encode()})

    @classmethod
    def tearDownClass(cls):
        cls.github.close()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="cdviz-remote-")
        self.addCleanup(self.tmp.cleanup)
        self.env = {"XDG_CACHE_HOME": os.path.join(self.tmp.name, "cache"),
                    "CDVIZ_PIPELINE_TEST_GITHUB_URL": self.github.url}
        self.github.requests.clear()

    def post_and_read(self, pipeline):
        status, _, _ = pipeline.request("POST", "/webhook/in", cdevent("build_started"),
                                        {"Content-Type": "application/json"})
        self.assertIn(status, (200, 201))
        pipeline.stop()
        lines = [json.loads(l) for l in pipeline.stdout().splitlines() if l.startswith("{")]
        self.assertEqual(len(lines), 1, pipeline.stderr())
        return lines[0]

    def test_fetched_file_transforms_events(self):
        with Pipeline(REMOTE_CONFIG, env=self.env) as p:
            event = self.post_and_read(p)
        self.assertEqual(event["remote_marker"], "fetched from the remote")
        self.assertEqual([r[0] for r in self.github.requests], [VRL_PATH])
        self.assertTrue(self.github.requests[0][1]["User-Agent"].startswith("cdviz-pipeline/"))

    def test_token_is_sent(self):
        config = REMOTE_CONFIG.replace('repo = "transformers-community"',
                                       'repo = "transformers-community"\ntoken = "s3cr3t"')
        with Pipeline(config, env=self.env) as p:
            self.post_and_read(p)
        self.assertEqual(self.github.requests[0][1]["Authorization"], "Bearer s3cr3t")

    def test_github_uri_type(self):
        config = REMOTE_CONFIG.replace(
            'type = "github"\nowner = "cdviz-dev"\nrepo = "transformers-community"',
            'type = "github://cdviz-dev/transformers-community"')
        with Pipeline(config, env=self.env) as p:
            event = self.post_and_read(p)
        self.assertEqual(event["remote_marker"], "fetched from the remote")

    def test_http_type_with_basic_auth(self):
        server = Server({"/files/t.vrl": VRL.encode()},
                        required={"Authorization": "Basic dXNlcjpwYXNz"})
        self.addCleanup(server.close)
        config = REMOTE_CONFIG.replace(
            'type = "github"\nowner = "cdviz-dev"\nrepo = "transformers-community"',
            'type = "http"\nendpoint = "%s/"\nroot = "files"\nusername = "user"\n'
            'password = "pass"' % server.url).replace(
            "github_events/to_v0_5.vrl", "t.vrl")
        with Pipeline(config, env=self.env) as p:
            event = self.post_and_read(p)
        self.assertEqual(event["remote_marker"], "fetched from the remote")

    def write_config(self, text):
        path = os.path.join(self.tmp.name, "cdviz-collector.toml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_404_is_an_error(self):
        path = self.write_config(REMOTE_CONFIG.replace("to_v0_5.vrl", "missing.vrl"))
        for command in (["connect"], ["config", "--check"]):
            r = run(command + ["--config", path, "--set", "http.port = 0"], self.env)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("%s:14: transformers.github_events.template_rfile: cannot fetch "
                          "%s/cdviz-dev/transformers-community/HEAD/github_events/missing.vrl: "
                          "the server answered 404" % (path, self.github.url), r.stderr)

    def test_unreachable_without_cache(self):
        env = dict(self.env, CDVIZ_PIPELINE_TEST_GITHUB_URL="http://127.0.0.1:%d" % free_port())
        path = self.write_config(REMOTE_CONFIG)
        r = run(["--config", path, "--set", "http.port = 0"], env)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("%s:14: transformers.github_events.template_rfile: cannot fetch %s%s"
                      % (path, env["CDVIZ_PIPELINE_TEST_GITHUB_URL"], VRL_PATH), r.stderr)
        self.assertIn("and not in the cache", r.stderr)
        self.assertNotIn("Listening on", r.stderr)
        # config --check needs no network: it warns and checks the rest.
        r = run(["config", "--check", "--config", path], env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("template_rfile: not checked: cannot fetch", r.stderr)
        self.assertIn("configuration OK", r.stderr)

    def test_cached_copy_when_offline(self):
        server = Server({VRL_PATH: VRL.encode()})
        env = dict(self.env, CDVIZ_PIPELINE_TEST_GITHUB_URL=server.url)
        with Pipeline(REMOTE_CONFIG, env=env) as p:
            self.post_and_read(p)
        server.close()
        with Pipeline(REMOTE_CONFIG, env=env) as p:
            event = self.post_and_read(p)
            self.assertIn("transformers.github_events.template_rfile: using the cached copy of "
                          "%s%s (cannot fetch" % (server.url, VRL_PATH), p.stderr())
        self.assertEqual(event["remote_marker"], "fetched from the remote")

    def test_bad_references(self):
        cases = [
            (REMOTE_CONFIG.replace("transformers-community:///", "nowhere:///"),
             "“nowhere:///github_events/to_v0_5.vrl” names no remote “nowhere” "
             "(define [remote.nowhere])"),
            (REMOTE_CONFIG.replace("transformers-community:///", "transformers-community:/"),
             "is not of the form “REMOTE:///path”"),
            (REMOTE_CONFIG.replace('type = "github"', 'type = "s3"'),
             "key “remote.transformers-community.type”: remote type “s3” is not supported"),
            (REMOTE_CONFIG.replace('owner = "cdviz-dev"\n', ''),
             "remote.transformers-community"),
            (REMOTE_CONFIG.replace('owner = "cdviz-dev"', 'owner = "cdviz-dev"\nbranch = "x"'),
             "branch"),
        ]
        for config, expected in cases:
            with self.subTest(expected=expected):
                path = self.write_config(config)
                r = run(["config", "--check", "--config", path], self.env)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn(path + ":", r.stderr)
                self.assertIn(expected, r.stderr)
        self.assertEqual(self.github.requests, [])


class ConfigUrlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server({"/cdviz-collector.toml": SERVED_CONFIG.encode()},
                            required={"Authorization": "Bearer t0ken"})
        cls.url = cls.server.url + "/cdviz-collector.toml"

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def test_without_the_header_401(self):
        for command in (["connect"], ["config", "--check"], ["send", "--data", "{}"]):
            with self.subTest(command=command[0]):
                r = run(command + ["--config", self.url], {})
                self.assertNotEqual(r.returncode, 0, r.stderr)
                self.assertIn("cannot fetch %s: the server answered 401" % self.url, r.stderr)

    def test_check_and_send_with_the_header(self):
        args = ["--config", self.url, "--config-header", "Authorization: Bearer t0ken"]
        r = run(["config", "--check"] + args, {})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('id = "from-url"', r.stdout)
        r = run(["send", "--data", '{"sent": 1}'] + args, {})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('"sent":1', r.stdout.replace(" ", ""))

    def test_connect_with_the_header(self):
        p = Pipeline("", args=("--config", self.url, "--config-header",
                               "Authorization: Bearer t0ken"))
        with p:
            status, _, _ = p.request("POST", "/webhook/from-url", cdevent("build_started"),
                                     {"Content-Type": "application/json"})
            self.assertIn(status, (200, 201))

    def test_not_found(self):
        r = run(["config", "--check", "--config", self.server.url + "/nothing.toml",
                 "--config-header", "Authorization: Bearer t0ken"], {})
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("the server answered 404", r.stderr)

    def test_bad_header(self):
        r = run(["config", "--check", "--config", self.url, "--config-header", "NoColon"], {})
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("header “NoColon” is not of the form “Name: value”", r.stderr)


if __name__ == "__main__":
    unittest.main()
