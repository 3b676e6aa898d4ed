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
  starts (connect), checks (config --check) and sends (send);
- the `http_polling` source: a driver lists items then fetches each one;
  every item reaches the debug sink with upstream's metadata; with an
  interval of an hour only one poll's requests are made; the next poll asks
  for the next window; a 500 is logged and the same window polled again;
  `abort` stops the source; bad keys are errors.
"""
import http.server
import json
import os
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

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
    """A local HTTP server: respond(path, headers) gives (status, headers,
    body) for each GET; every request's path and headers are recorded."""

    def __init__(self, respond):
        self.requests = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with outer.lock:
                    outer.requests.append((self.path, dict(self.headers)))
                    status, headers, body = respond(self.path, self.headers)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def paths(self):
        with self.lock:
            return [r[0] for r in self.requests]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def file_server(files, required=None):
    """GET PATH answers files[PATH] (else 404); 401 when a `required`
    header is missing or different."""
    def respond(path, headers):
        if any(headers.get(k) != v for k, v in (required or {}).items()):
            return 401, {}, b""
        if path not in files:
            return 404, {}, b""
        return 200, {}, files[path]
    return Server(respond)


def run(args, env, timeout=60):
    full = dict(os.environ, CDVIZ_PLUGIN_SYSTEM_PATH="")
    full.update(env)
    return subprocess.run([PROGRAM] + args + ["--plugin-dir", PLUGIN_DIR],
                          capture_output=True, text=True, env=full, timeout=timeout,
                          stdin=subprocess.DEVNULL)


class RemoteFileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.github = file_server({VRL_PATH: VRL.encode()})

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
        server = file_server({"/files/t.vrl": VRL.encode()},
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
        # config --check needs no network: it warns and checks the rest,
        # without waiting for the server again for the next file.
        path = self.write_config(REMOTE_CONFIG + """
[transformers.other]
type = "vrl"
template_rfile = "transformers-community:///other.vrl"
""")
        r = run(["config", "--check", "--config", path], env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("transformers.github_events.template_rfile: not checked: cannot fetch",
                      r.stderr)
        self.assertIn("transformers.other.template_rfile: not checked: not fetched: an earlier "
                      "remote file was unreachable", r.stderr)
        self.assertIn("configuration OK", r.stderr)

    def test_cached_copy_when_offline(self):
        server = file_server({VRL_PATH: VRL.encode()})
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
        cls.server = file_server({"/cdviz-collector.toml": SERVED_CONFIG.encode()},
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
        event = json.loads(cdevent("build_started"))
        event["context"]["id"] = "sent-with-url-config"
        r = run(["send", "--data", json.dumps(event)] + args, {})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('"id":"sent-with-url-config"', r.stdout.replace(" ", ""))

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


def cdevent_with_id(event_id):
    body = json.loads(cdevent("build_started"))
    body["context"]["id"] = event_id
    return json.dumps(body).encode()


POLLING_CONFIG = """
[state]
kind = "fs"
parameters = { root = "%(state)s" }

[sources.poll]
enabled = true

[sources.poll.extractor]
type = "http_polling"
polling_interval = "%(interval)s"
headers_to_keep = ["X-Page"]
metadata = { team = "ci" }
driver_vrl = '''
if .response == null {
  .requests = [{ "url": "%(url)s/builds", "route": "feedback",
                 "query": { "after": .metadata.ts_after } }]
} else {
  reqs = []
  for_each(array!(.response.body)) -> |_i, id| {
    reqs = push(reqs, { "url": "%(url)s/builds/" + string!(id) })
  }
  .requests = reqs
  .state = { "listed": length(reqs) }
}
'''

[sinks.out]
type = "debug"
"""

SHOW_TRANSFORMER = """
[transformers.show]
type = "vrl"
template = '''
.body.customData = { "team": .metadata.team, "polling": .metadata.http_polling, "page": .headers."x-page", "window": exists(.metadata.ts_before) }
[.]
'''
"""


def polling_server(failures=0):
    """Lists builds a and b (after `failures` answers 500), serves each as a
    CDEvent; every answer has X-Page: its path."""
    left = [failures]

    def respond(path, headers):
        page = urllib.parse.urlsplit(path).path
        kept = {"Content-Type": "application/json", "X-Page": page}
        if path.startswith("/builds?") and left[0] > 0:
            left[0] -= 1
            return 500, kept, b"try again"
        if page == "/builds":
            return 200, kept, b'["a", "b"]'
        if page.startswith("/builds/"):
            return 200, kept, cdevent_with_id("build-" + page[len("/builds/"):])
        return 404, kept, b""
    return Server(respond)


def lists(server):
    return [p for p in server.paths if p.startswith("/builds?")]


def count(server, prefix):
    return sum(1 for p in server.paths if p.startswith(prefix))


def wait_for(predicate, what, timeout=20):
    """Waits for a condition (the deadline only guards against a hang)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


def events(pipeline):
    return [json.loads(l) for l in pipeline.stdout().splitlines() if l.startswith("{")]


FIRST_WINDOW = "/builds?after=1970-01-01T00%3A00%3A00Z"


class HttpPollingTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="cdviz-polling-")
        self.addCleanup(tmp.cleanup)
        self.state = tmp.name

    def config(self, interval, url):
        return POLLING_CONFIG % {"interval": interval, "url": url, "state": self.state}

    def server(self, failures=0):
        server = polling_server(failures)
        self.addCleanup(server.close)
        return server

    def test_events_arrive_once_per_poll(self):
        server = self.server()
        config = self.config("1h", server.url)
        with Pipeline(config) as p:
            wait_for(lambda: len(events(p)) >= 2, "two events")
            self.assertEqual(p.stop(), 0)
            received = events(p)
        self.assertEqual(sorted(e["context"]["id"] for e in received), ["build-a", "build-b"])
        # One poll in an hour: the list and the two items, nothing more.
        self.assertEqual(server.paths[0], FIRST_WINDOW)
        self.assertEqual(sorted(server.paths[1:]), ["/builds/a", "/builds/b"])

    def test_metadata_and_kept_headers(self):
        server = self.server()
        config = (self.config("1h", server.url)).replace(
            "enabled = true\n", 'enabled = true\ntransformer_refs = ["show"]\n', 1)
        with Pipeline(config + SHOW_TRANSFORMER) as p:
            wait_for(lambda: len(events(p)) >= 2, "two events")
            p.stop()
            received = {e["context"]["id"]: e["customData"] for e in events(p)}
        self.assertEqual(received["build-a"], {
            "team": "ci", "page": "/builds/a", "window": True,
            "polling": {"url": server.url + "/builds/a", "method": "GET", "status": 200,
                        "state": {"listed": 2}}})

    def test_next_poll_asks_for_the_next_window(self):
        server = self.server()
        config = self.config("50ms", server.url)
        with Pipeline(config) as p:
            wait_for(lambda: len(lists(server)) >= 3, "three polls")
            p.stop()
        windows = lists(server)
        self.assertEqual(windows[0], FIRST_WINDOW)
        self.assertNotEqual(windows[1], FIRST_WINDOW)

    def test_restart_resumes_from_the_checkpoint(self):
        server = self.server()
        with Pipeline(self.config("1h", server.url)) as p:
            wait_for(lambda: len(events(p)) >= 2, "two events")
            p.stop()
        with open(os.path.join(self.state, "poll", "checkpoint.json")) as f:
            saved = json.load(f)["ts_after"]
        self.assertNotEqual(saved, "1970-01-01T00:00:00Z")
        with Pipeline(self.config("1h", server.url)) as p:
            wait_for(lambda: len(lists(server)) >= 2, "the second run's poll")
            self.assertIn("http_polling source poll: resuming from %s" % saved, p.stderr())
            p.stop()
        self.assertEqual(lists(server)[1],
                         "/builds?after=" + urllib.parse.quote(saved, safe=""))

    def test_500_is_logged_and_the_window_retried(self):
        server = self.server(failures=2)
        config = self.config("50ms", server.url)
        with Pipeline(config) as p:
            wait_for(lambda: len(events(p)) >= 2, "two events")
            p.stop()
            log = p.stderr()
        # Held twice: the first three polls ask for the same window.
        self.assertEqual(lists(server)[:3], [FIRST_WINDOW] * 3)
        self.assertIn("GET %s%s: the server answered 500 Internal Server Error (the window is "
                      "retried with the next poll)" % (server.url, FIRST_WINDOW), log)
        self.assertEqual(log.count("the server answered 500"), 2)

    def test_abort_stops_the_source(self):
        server = self.server()
        config = (self.config("50ms", server.url)).replace(
            '/builds/" + string!(id)', '/missing/" + string!(id)')
        config = config.replace('metadata = { team = "ci" }',
                                'metadata = { team = "ci" }\non_status = { "404" = "abort" }')
        with Pipeline(config) as p:
            wait_for(lambda: "http_polling source: stopped" in p.stderr(), "the stop")
            p.stop()
        # The first 404 stopped the source: the second item was never asked for.
        self.assertEqual(count(server, "/missing/"), 1)
        self.assertEqual(len(lists(server)), 1)

    def test_bad_keys(self):
        base = self.config("1m", "http://127.0.0.1:1")
        cases = [
            (base.replace('polling_interval = "1m"\n', ""), "“polling_interval” is required"),
            (base.replace('polling_interval = "1m"', 'polling_interval = "1m"\nparser = "xml"'),
             "key “parser”: “xml” is not one of"),
            (base.replace('polling_interval = "1m"',
                          'polling_interval = "1m"\nts_after = "yesterday"'),
             "key “ts_after”: “yesterday” is not an RFC 3339 timestamp"),
            (base.replace('polling_interval = "1m"',
                          'polling_interval = "1m"\non_status = { "4x4" = "skip" }'),
             "“4x4” is neither a status code"),
            (base.replace(".requests = reqs", ".requests = reqs +"),
             "key “driver_vrl”: the VRL program does not compile"),
            (base.replace('polling_interval = "1m"', 'polling_interval = "1m"\nurl = "x"'),
             "unknown key “sources.poll.extractor.url”"),
        ]
        with tempfile.TemporaryDirectory() as tmp:
            for config, expected in cases:
                with self.subTest(expected=expected):
                    path = os.path.join(tmp, "c.toml")
                    with open(path, "w") as f:
                        f.write(config)
                    r = run(["config", "--check", "--config", path], {})
                    self.assertEqual(r.returncode, 1, r.stderr)
                    self.assertIn(path + ":", r.stderr)
                    self.assertIn(expected, r.stderr)


if __name__ == "__main__":
    unittest.main()
