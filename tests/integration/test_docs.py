# SPDX-License-Identifier: Apache-2.0
"""The documentation tells the truth:

- doc/configuration.md's reference is what `cdviz-pipeline config --describe`
  prints (CDVIZ_UPDATE_DOCS=1 rewrites it instead of failing);
- every key of the SSE sink is in doc/sse.md's option table;
- every data/examples/*.toml passes `config --check` without printing the
  secrets of its `secret` rules, and every use case of the SSE sink guide
  has an example;
- every ```toml block of doc/*.md and README.md passes `config --check`,
  unless the line before it marks it `<!-- not-a-config: why -->` (a
  fragment) or `<!-- config-error: TEXT -->` (must fail, saying TEXT);
- the client examples of doc/sse.md (curl, Python, Node.js with fetch and
  with the eventsource package, Go when a toolchain is there) receive events
  from a real pipeline, and stop on a refused connection;
- the plugin of doc/plugins.md builds against the build tree's
  cdviz-1.0-uninstalled.pc, loads, is described and filters events;
- no user-facing page sends the user to ../shared (the test set-up's).
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
import threading
import time
import tomllib
import unittest

from cdviz_testlib import PROGRAM, PLUGIN_DIR, Pipeline, cdevent

SOURCE_ROOT = os.environ.get("CDVIZ_SOURCE_ROOT",
                             os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_ROOT = os.environ.get("CDVIZ_BUILD_ROOT", os.path.join(SOURCE_ROOT, "build"))
DOC = os.path.join(SOURCE_ROOT, "doc")
EXAMPLES = os.path.join(SOURCE_ROOT, "data", "examples")
NODE_MODULES = os.path.join(SOURCE_ROOT, "tests", "clients", "node_modules")
BEGIN = "<!-- BEGIN GENERATED: cdviz-pipeline config --describe -->"
END = "<!-- END GENERATED -->"


def run(args, env=None, timeout=30):
    full_env = dict(os.environ, CDVIZ_PLUGIN_SYSTEM_PATH="", LANG="C.UTF-8")
    full_env.pop("LANGUAGE", None)
    full_env.update(env or {})
    return subprocess.run([PROGRAM] + args, capture_output=True, text=True,
                          env=full_env, timeout=timeout, stdin=subprocess.DEVNULL)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def sections(markdown):
    """{heading line: the lines up to the next heading} of generated Markdown."""
    out, heading = {}, None
    for line in markdown.strip().splitlines():
        if line.startswith("#"):
            heading = line
            out[heading] = []
        elif heading is not None:
            out[heading].append(line)
    return {h: "\n".join(lines).strip() for h, lines in out.items()}


def plugin_built(name):
    for root, dirs, files in os.walk(PLUGIN_DIR):
        if "libcdviz-%s.so" % name in files or "cdviz-%s.so" % name in files:
            return True
    return False


def code_blocks(markdown, language):
    """The fenced blocks of one language, as (first line, text)."""
    pattern = re.compile(r"^```%s\n(.*?)^```$" % re.escape(language), re.S | re.M)
    return [(m.group(1).split("\n", 1)[0], m.group(1)) for m in pattern.finditer(markdown)]


def file_blocks(markdown):
    """{file name: text} of the blocks that start with a `file: NAME` comment."""
    files = {}
    for m in re.finditer(r"^```\w+\n(?:#|//|/\*) file: (\S+)(?: \*/)?\n(.*?)^```$",
                         markdown, re.S | re.M):
        files[m.group(1)] = m.group(2)
    return files


class ReferenceTest(unittest.TestCase):
    """doc/configuration.md against `config --describe`."""

    @classmethod
    def setUpClass(cls):
        r = run(["config", "--describe", "--plugin-dir", PLUGIN_DIR])
        if r.returncode != 0:
            raise AssertionError(r.stderr)
        cls.described = r.stdout.strip()
        cls.path = os.path.join(DOC, "configuration.md")

    def test_reference_is_generated(self):
        text = read(self.path)
        self.assertIn(BEGIN, text)
        self.assertIn(END, text)
        head, rest = text.split(BEGIN, 1)
        committed, tail = rest.split(END, 1)
        if os.environ.get("CDVIZ_UPDATE_DOCS"):
            with open(self.path, "w", encoding="utf-8") as f:
                f.write(head + BEGIN + "\n\n" + self.described + "\n\n" + END + tail)
            return
        hint = ("doc/configuration.md is out of date: regenerate it with "
                "CDVIZ_UPDATE_DOCS=1 meson test -C build docs-reference")
        doc, code = sections(committed), sections(self.described)
        for heading, body in code.items():
            self.assertIn(heading, doc, hint)
            self.assertEqual(doc[heading], body, "%s\n%s" % (heading, hint))
        extra = set(doc) - set(code)
        if all(plugin_built(p) for p in ("webhook", "sse", "jq")):
            # Everything is built: the page is exactly the output.
            self.assertEqual(extra, set(), hint)
            self.assertEqual(committed.strip(), self.described, hint)
        else:
            # Only the types of plugins not built here may be missing.
            for heading in extra:
                self.assertRegex(heading, r"^### (Source|Transformer|Sink) `", hint)

    def test_every_key_documented(self):
        self.assertNotIn("(undocumented)", self.described)
        self.assertNotIn("| ? |", self.described)

    def test_sections_and_builtins(self):
        for heading in ("### `[http]`", "### `[pipeline]`", "### `[sources.NAME]`",
                        "### `[transformers.NAME]`", "### `[sinks.NAME]`"):
            self.assertIn(heading, self.described)
        for name in ("passthrough", "log", "discard_all", "deduplicate", "debug"):
            self.assertIn("`%s`" % name, self.described)
        for key in ("host", "port", "queue_capacity", "transformer_refs"):
            self.assertIn("| `%s` |" % key, self.described)

    @unittest.skipUnless(plugin_built("sse"), "the sse plugin is not built")
    def test_sse_page_lists_every_key(self):
        block = sections(self.described)['### Sink `sse`: `[sinks.NAME] type = "sse"`']
        keys = re.findall(r"^\| `(\w+)` \|", block, re.M)
        self.assertIn("keep_alive_interval", keys)
        sse = read(os.path.join(DOC, "sse.md"))
        for key in keys:
            self.assertRegex(sse, r"\| `%s` \|" % key, "doc/sse.md does not document " + key)

    def test_man_page_mentions_every_section(self):
        man = read(os.path.join(DOC, "cdviz-pipeline.toml.5.rst"))
        described = sections(self.described)
        for heading, body in described.items():
            m = re.match(r"^### `\[(\w+)", heading)
            if m:
                self.assertIn("[%s" % m.group(1), man)
            # Every key of [http] and [pipeline] has its paragraph.
            if heading.startswith(("### `[http]`", "### `[pipeline]`")):
                for key in re.findall(r"^\| `(\w+)` \|", body, re.M):
                    self.assertIn("**%s**" % key, man,
                                  "doc/cdviz-pipeline.toml.5.rst does not document " + key)


def secret_values(node):
    """The secrets of a document's `secret` rules (their `value`)."""
    values = []
    if isinstance(node, dict):
        if node.get("type") == "secret" and isinstance(node.get("value"), str):
            values.append(node["value"])
        for value in node.values():
            values += secret_values(value)
    elif isinstance(node, list):
        for value in node:
            values += secret_values(value)
    return values


class ExamplesTest(unittest.TestCase):
    """data/examples/*.toml: each is a valid configuration."""

    # The use cases of the SSE sink guide, and the example that shows each.
    USE_CASES = {
        "Real-time Dashboard": "dashboard.toml",
        "External Service Integration": "monitoring.toml",
        "Development and Testing": "development.toml",
        "Multi-Client Broadcasting": "multi-client.toml",
        "Regional Event Aggregation": "regional-aggregation.toml",
        "Public-to-Internal Event Bridge": "public-internal-bridge.toml",
        "Hierarchical Event Distribution": "hierarchical-distribution.toml",
        "Cross-Environment Event Mirroring": "cross-environment-mirroring.toml",
        "Multi-Cloud Event Distribution": "multi-cloud.toml",
        "Event Filtering": "build-dashboard.toml",
    }

    def test_every_use_case_has_an_example(self):
        files = set(os.listdir(EXAMPLES))
        for use_case, name in self.USE_CASES.items():
            self.assertIn(name, files, use_case)

    @unittest.skipUnless(all(plugin_built(p) for p in ("webhook", "sse", "jq")),
                         "the webhook, sse or jq plugin is not built")
    def test_config_check(self):
        names = sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".toml"))
        self.assertGreaterEqual(len(names), len(self.USE_CASES))
        for name in names:
            path = os.path.join(EXAMPLES, name)
            with self.subTest(example=name):
                with open(path, "rb") as f:
                    doc = tomllib.load(f)
                self.assertTrue(read(path).startswith("# SPDX-License-Identifier: Apache-2.0\n"))
                r = run(["config", "--check", "--config", path, "--plugin-dir", PLUGIN_DIR])
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("configuration OK", r.stderr)
                self.assertNotIn("has no “enabled” key", r.stderr)
                for value in secret_values(doc):
                    self.assertNotIn(value, r.stdout + r.stderr)


def fenced_blocks(markdown):
    """Every fenced block, indented ones (in lists) included, as (line of the
    opening fence, info string, dedented text, the line before the fence)."""
    pattern = re.compile(r"^(?P<indent>[ \t]*)```(?P<info>[^`\n]*)\n(?P<body>.*?)"
                         r"^(?P=indent)```[ \t]*$", re.S | re.M)
    blocks = []
    for m in pattern.finditer(markdown):
        before = markdown[:m.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        blocks.append((markdown.count("\n", 0, m.start()) + 1, m.group("info").strip(),
                       textwrap.dedent(m.group("body")), before))
    return blocks


def relative_files(node):
    """The relative paths of the `KEY_file` values of a document."""
    paths = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("_file") and isinstance(value, str) and not os.path.isabs(value):
                paths.append(value)
            paths += relative_files(value)
    elif isinstance(node, list):
        for value in node:
            paths += relative_files(value)
    return paths


NOT_A_CONFIG = re.compile(r"^<!--\s*not-a-config(?::\s*(?P<why>.*?))?\s*-->$")
CONFIG_ERROR = re.compile(r"^<!--\s*config-error:\s*(?P<text>.+?)\s*-->$")


class ConfigBlocksTest(unittest.TestCase):
    """Every ```toml block of the Markdown documentation is a configuration
    that loads, or says in the Markdown why it is not one.

    A block is checked as a whole file with `config --check`, in a fresh
    directory, with the files its relative `KEY_file` keys name (dummy
    values: the docs cannot hold real secrets). The line before a block may say:

    - `<!-- not-a-config: why -->`: a fragment (a rule, a table of a
      larger file); not checked;
    - `<!-- config-error: TEXT -->`: deliberately refused here; `config
      --check` must fail with TEXT in its message.
    """

    def pages(self):
        names = sorted(os.path.join(DOC, f) for f in os.listdir(DOC) if f.endswith(".md"))
        return names + [os.path.join(SOURCE_ROOT, "README.md")]

    def toml_blocks(self):
        for path in self.pages():
            for line, info, text, before in fenced_blocks(read(path)):
                if info.split()[0].lower() == "toml" if info else False:
                    yield os.path.relpath(path, SOURCE_ROOT), line, text, before

    def check(self, text, where):
        doc = tomllib.loads(text)
        with tempfile.TemporaryDirectory(prefix="cdviz-doc-block-") as tmp:
            for rel in relative_files(doc):
                path = os.path.join(tmp, rel)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8") as f:
                    f.write("s3cret-file-for-docs-test\n")
            path = os.path.join(tmp, "config.toml")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            return run(["config", "--check", "--config", path, "--plugin-dir", PLUGIN_DIR])

    @unittest.skipUnless(all(plugin_built(p) for p in ("webhook", "sse", "jq")),
                         "the webhook, sse or jq plugin is not built")
    def test_every_toml_block_loads(self):
        checked = 0
        for where_path, line, text, before in self.toml_blocks():
            where = "%s:%d" % (where_path, line)
            with self.subTest(block=where):
                if NOT_A_CONFIG.match(before):
                    continue
                expected_error = CONFIG_ERROR.match(before)
                try:
                    r = self.check(text, where)
                except tomllib.TOMLDecodeError as e:
                    self.fail("%s: not TOML (%s); mark it <!-- not-a-config: why --> "
                              "if it is a fragment" % (where, e))
                if expected_error:
                    self.assertEqual(r.returncode, 1, "%s: expected to be refused" % where)
                    self.assertIn(expected_error.group("text"), r.stderr, where)
                else:
                    self.assertEqual(r.returncode, 0,
                                     "%s does not load (mark it <!-- not-a-config: why --> if "
                                     "it is a fragment):\n%s" % (where, r.stderr))
                    self.assertIn("configuration OK", r.stderr, where)
                    # a source of ours says it is enabled (cdviz-collector's default is off)
                    self.assertNotIn("has no “enabled” key", r.stderr, where)
                checked += 1
        # The pattern still finds the blocks (configuration.md's first one,
        # sse.md's, the examples of the guides…).
        self.assertGreaterEqual(checked, 8)

    def test_markers_precede_toml_blocks(self):
        """A marker is on the line right before a ```toml block: one left
        behind when a block moves would silently stop checking another."""
        marked = {(p, l) for p, l, _, before in self.toml_blocks()
                  if NOT_A_CONFIG.match(before) or CONFIG_ERROR.match(before)}
        for path in self.pages():
            rel = os.path.relpath(path, SOURCE_ROOT)
            lines = read(path).split("\n")
            for i, text in enumerate(lines):
                if NOT_A_CONFIG.match(text.strip()) or CONFIG_ERROR.match(text.strip()):
                    with self.subTest(marker="%s:%d" % (rel, i + 1)):
                        self.assertIn((rel, i + 2), marked,
                                      "%s:%d: the marker is not right before a ```toml block"
                                      % (rel, i + 1))

    def test_not_a_config_says_why(self):
        for where_path, line, _, before in self.toml_blocks():
            m = NOT_A_CONFIG.match(before)
            if m:
                with self.subTest(block="%s:%d" % (where_path, line)):
                    self.assertTrue(m.group("why"), "say why the block is not a configuration")


class Output:
    """Collects a process's output lines on a thread."""

    def __init__(self, stream):
        self.lines = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        for raw in iter(stream.readline, b""):
            with self.lock:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def text(self):
        with self.lock:
            return "\n".join(self.lines)


TOKEN = "docs-Xq7-token"
CLIENT_CONFIG = """
[sources.s]
enabled = true
extractor = { type = "webhook", id = "in" }

[sinks.events]
type = "sse"
id = "events"

[sinks.events.headers]
"Authorization" = { type = "equals", prefix = "Bearer ", value = "%s" }
""" % TOKEN


@unittest.skipUnless(plugin_built("sse") and plugin_built("webhook"),
                     "the sse or webhook plugin is not built")
class ClientExamplesTest(unittest.TestCase):
    """doc/sse.md's clients against a real pipeline."""

    @classmethod
    def setUpClass(cls):
        cls.sse_md = read(os.path.join(DOC, "sse.md"))
        cls.files = file_blocks(cls.sse_md)
        cls.tmp = tempfile.TemporaryDirectory(prefix="cdviz-docs-")
        for name, text in cls.files.items():
            with open(os.path.join(cls.tmp.name, name), "w") as f:
                f.write(text)
        cls.pipeline = Pipeline(CLIENT_CONFIG)
        cls.url = "http://127.0.0.1:%d/sse/events" % cls.pipeline.port
        cls.counter = 0

    @classmethod
    def tearDownClass(cls):
        cls.pipeline.close()
        cls.tmp.cleanup()

    def test_blocks_found(self):
        for name in ("sse_client.py", "sse-client-fetch.mjs", "sse-client-eventsource.js",
                     "sse-client.go"):
            self.assertIn(name, self.files)

    def clients(self):
        status, _, body = self.pipeline.request("GET", "/metrics")
        m = re.search(rb'^cdviz_sse_clients\{sink="events",id="events"\} (\d+)$', body, re.M)
        return int(m.group(1))

    def post(self, subject):
        event = json.loads(cdevent("build_started"))
        ClientExamplesTest.counter += 1
        event["context"]["id"] = "docs-%d" % self.counter
        event["subject"]["id"] = subject
        status, _, body = self.pipeline.request(
            "POST", "/webhook/in", json.dumps(event).encode(),
            {"Content-Type": "application/json"})
        self.assertEqual(status, 201, body)

    def start(self, cmd, env=None, token=True):
        full_env = dict(os.environ)
        full_env.pop("SSE_TOKEN", None)
        if token:
            full_env["SSE_TOKEN"] = TOKEN
        full_env.update(env or {})
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, env=full_env, cwd=self.tmp.name)
        out, err = Output(proc.stdout), Output(proc.stderr)

        def stop():
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
            proc.stdout.close()
            proc.stderr.close()
        self.addCleanup(stop)
        return proc, out, err

    def wait_for(self, predicate, what, proc, out, err, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        self.fail("%s: timed out (exit %r)\nstdout:\n%s\nstderr:\n%s"
                  % (what, proc.poll(), out.text(), err.text()))

    def check_receives(self, cmd, expected=None, env=None):
        """Starts the client, waits until it is connected, posts an event and
        waits for its line; the client is then stopped."""
        before = self.clients()
        proc, out, err = self.start(cmd, env)
        self.wait_for(lambda: self.clients() > before or proc.poll() is not None,
                      "connect", proc, out, err)
        self.assertIsNone(proc.poll(), "%s\n%s" % (out.text(), err.text()))
        subject = "docs-subject-%d" % (self.counter + 1)
        self.post(subject)
        line = expected(subject) if expected else \
            "dev.cdevents.build.started.0.2.0 " + subject
        self.wait_for(lambda: line in out.text(), "event", proc, out, err)
        proc.kill()
        proc.wait(10)
        self.wait_for(lambda: self.clients() == before, "disconnect", proc, out, err)

    def check_refused(self, cmd, env=None):
        """Without the token, the client stops and says 401."""
        proc, out, err = self.start(cmd, env, token=False)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            self.fail("the client did not stop on 401:\n" + out.text() + err.text())
        time.sleep(0.1)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("401", out.text() + err.text())

    def test_curl(self):
        curl = shutil.which("curl")
        if curl is None:
            self.skipTest("no curl")
        [block] = [text for first, text in code_blocks(self.sse_md, "sh")
                   if first.startswith("curl -N http://localhost:8080/sse/events")]
        lines = [line.split("  #")[0].strip() for line in block.splitlines()]
        self.assertIn('curl -N -H "Authorization: Bearer $SSE_TOKEN" '
                      'http://localhost:8080/sse/events', lines)
        cmd = [curl, "-sN", "-H", "Authorization: Bearer " + TOKEN, self.url]
        self.check_receives(cmd, expected=lambda subject: '"id":"%s"' % subject)
        r = subprocess.run([curl, "-sI", self.url.replace("/events", "/nope")],
                           capture_output=True, text=True, timeout=30)
        self.assertIn("404", r.stdout)
        r = subprocess.run([curl, "-s", self.url], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.stdout, "Header validation failed: Header 'Authorization' is missing")

    def test_python(self):
        cmd = ["/usr/bin/python3", "sse_client.py", self.url]
        self.check_receives(cmd)
        self.check_refused(cmd)

    def node(self):
        node = shutil.which("node")
        if node is None:
            self.skipTest("no node")
        version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
        if int(version.lstrip("v").split(".")[0]) < 18:
            self.skipTest("Node.js %s has no fetch" % version.strip())
        return node

    def test_node_fetch(self):
        cmd = [self.node(), "sse-client-fetch.mjs", self.url]
        self.check_receives(cmd)
        self.check_refused(cmd)

    def test_node_eventsource(self):
        node = self.node()
        if not os.path.isdir(os.path.join(NODE_MODULES, "eventsource")):
            self.skipTest("tests/clients/node_modules has no eventsource "
                          "(npm ci --prefix tests/clients)")
        cmd = [node, "sse-client-eventsource.js", self.url]
        env = {"NODE_PATH": NODE_MODULES}
        self.check_receives(cmd, env=env)
        self.check_refused(cmd, env=env)

    def test_go(self):
        go = shutil.which("go")
        if go is None:
            self.skipTest("no Go toolchain")
        env = {"GOCACHE": os.path.join(self.tmp.name, "gocache"), "GOFLAGS": "-mod=mod",
               "GO111MODULE": "off"}
        r = subprocess.run([go, "build", "-o", "sse-client", "sse-client.go"],
                           cwd=self.tmp.name, capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, **env))
        self.assertEqual(r.returncode, 0, r.stderr)
        cmd = [os.path.join(self.tmp.name, "sse-client"), self.url]
        self.check_receives(cmd)
        self.check_refused(cmd)


@unittest.skipUnless(shutil.which("cc") and shutil.which("pkg-config"), "no cc or pkg-config")
class PluginExampleTest(unittest.TestCase):
    """doc/plugins.md's plugin, built against the build tree."""

    def test_build_load_run(self):
        files = file_blocks(read(os.path.join(DOC, "plugins.md")))
        self.assertIn("typefilter.c", files)
        uninstalled = os.path.join(BUILD_ROOT, "meson-uninstalled")
        if not os.path.exists(os.path.join(uninstalled, "cdviz-1.0-uninstalled.pc")):
            self.skipTest("no cdviz-1.0-uninstalled.pc")
        with tempfile.TemporaryDirectory(prefix="cdviz-plugin-") as tmp:
            with open(os.path.join(tmp, "typefilter.c"), "w") as f:
                f.write(files["typefilter.c"])
            env = dict(os.environ, PKG_CONFIG_PATH=uninstalled)
            flags = subprocess.run(["pkg-config", "--cflags", "--libs", "cdviz-1.0"],
                                   capture_output=True, text=True, env=env, check=True)
            r = subprocess.run(["cc", "-shared", "-fPIC", "-Wall", "-Werror",
                                "-o", "libcdviz-typefilter.so", "typefilter.c"]
                               + flags.stdout.split(),
                               cwd=tmp, capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)

            r = run(["config", "--describe", "--plugin-dir", tmp])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn('### Transformer `type_filter`: `[transformers.NAME] type = "type_filter"`',
                          r.stdout)
            self.assertIn("| `prefix` | string | `\"dev.cdevents.\"` |", r.stdout)

            # The page's own configuration (marked not-a-config there: it
            # needs this plugin).
            blocks = code_blocks(read(os.path.join(DOC, "plugins.md")), "toml")
            self.assertEqual(len(blocks), 1)
            with open(os.path.join(tmp, "use-it.toml"), "w") as f:
                f.write(blocks[0][1])
            r = run(["config", "--check", "--config", os.path.join(tmp, "use-it.toml"),
                     "--plugin-dir", tmp, "--plugin-dir", PLUGIN_DIR])
            self.assertEqual(r.returncode, 0, r.stderr)

            config = """
[transformers.builds_only]
type = "type_filter"
prefix = "dev.cdevents.build."

[sources.events]
enabled = true
transformer_refs = ["builds_only"]
extractor = { type = "webhook", id = "events" }

[sinks.stdout]
type = "debug"
"""
            with Pipeline(config, args=["--plugin-dir", tmp]) as p:
                for name in ("build_started", "artifact_published", "build_finished"):
                    status, _, body = p.request("POST", "/webhook/events", cdevent(name),
                                                {"Content-Type": "application/json"})
                    self.assertEqual(status, 201, body)
                self.assertEqual(p.stop(), 0, p.stderr())
                types = [json.loads(line)["context"]["type"]
                         for line in p.stdout().splitlines() if line.startswith("{")]
                self.assertEqual([t.split(".")[3] for t in types], ["started", "finished"],
                                 p.stdout())


# Pages for contributors: they may point at the test set-up's ../shared.
DEVELOPER_PAGES = {"architecture.md"}
# The newcomer's path: no mention of ../shared at all.
FIRST_STEPS = {"README.md", "doc/getting-started.md", "doc/cdviz-pipeline.1.rst",
               "doc/cdviz-pipeline.toml.5.rst"}
SHELL_INFO = {"", "sh", "shell", "bash", "console", "sh-session"}


class UserPagesTest(unittest.TestCase):
    """A user has a clone or an installed copy, never this repository's
    ../shared (the test set-up's material): no user-facing page (README.md,
    doc/*.md but the developer pages, the man pages) gives a command that
    uses it. Elsewhere than in the first steps, a paragraph that explains the
    test suite (it names `tests/…` or `meson test`) may say where the tests'
    material comes from."""

    def pages(self):
        names = ["README.md"]
        for name in sorted(os.listdir(DOC)):
            if name.endswith((".md", ".rst")) and name not in DEVELOPER_PAGES:
                names.append("doc/" + name)
        return names

    def offences(self, rel, text):
        """The (line, text) of the lines that send the user to ../shared."""
        found = []
        lines = text.split("\n")
        if rel in FIRST_STEPS:
            return [(i + 1, line) for i, line in enumerate(lines) if "../shared" in line]
        # Commands: any fenced shell block.
        fenced = set()
        for start, info, body, _ in fenced_blocks(text):
            end = start + body.count("\n") + 1
            fenced.update(range(start, end + 1))
            if (info.split() or [""])[0].lower() in SHELL_INFO and "../shared" in body:
                found.append((start, info + " block"))
        # Prose: by paragraph, outside fenced blocks.
        paragraph = []
        for number, line in enumerate(lines + [""], 1):
            if number in fenced or not line.strip():
                joined = " ".join(l for _, l in paragraph)
                if "../shared" in joined and not re.search(r"tests/|meson test", joined):
                    found += [(n, l) for n, l in paragraph if "../shared" in l]
                paragraph = []
            else:
                paragraph.append((number, line))
        return found

    def test_no_shared_in_user_pages(self):
        pages = self.pages()
        self.assertIn("doc/getting-started.md", pages)
        self.assertIn("doc/cdviz-pipeline.1.rst", pages)
        for rel in pages:
            with self.subTest(page=rel):
                found = self.offences(rel, read(os.path.join(SOURCE_ROOT, rel)))
                self.assertEqual(found, [], "%s sends the user to ../shared, which only "
                                 "this repository's test set-up has; use data/samples/ "
                                 "or say where the file comes from:\n%s"
                                 % (rel, "\n".join("  line %d: %s" % f for f in found)))

    def test_the_check_sees_commands(self):
        """The rules above catch the forms a page would use."""
        self.assertTrue(self.offences("README.md", "x\n--data @../shared/a.json\n"))
        self.assertTrue(self.offences("doc/x.md", "```sh\ncurl --data @../shared/a.json\n```\n"))
        self.assertTrue(self.offences("doc/x.md", "Try `--data @../shared/a.json`.\n"))
        self.assertEqual(self.offences(
            "doc/x.md", "`meson test` reads `../shared/vrl`.\n\nOther text.\n"), [])


PO = os.path.join(SOURCE_ROOT, "po")


class TranslationsTest(unittest.TestCase):
    """po/: POTFILES.in lists every file with translatable strings and the
    French translation is complete (running the program in French is checked
    on an installed copy by tests/install-test.py)."""

    def sources_with_strings(self):
        found = []
        for top in ("src", "plugins"):
            for root, dirs, files in os.walk(os.path.join(SOURCE_ROOT, top)):
                for name in files:
                    if name.endswith((".c", ".cc")):
                        path = os.path.join(root, name)
                        if re.search(r"\bN?_\(\"", read(path)):
                            found.append(os.path.relpath(path, SOURCE_ROOT))
        return sorted(found)

    def potfiles(self):
        return [line.strip() for line in read(os.path.join(PO, "POTFILES.in")).splitlines()
                if line.strip() and not line.startswith("#")]

    def test_potfiles(self):
        listed = self.potfiles()
        self.assertEqual(listed, sorted(listed), "po/POTFILES.in is not sorted")
        self.assertEqual(listed, self.sources_with_strings(),
                         "po/POTFILES.in must list exactly the files with _() strings")

    def test_french_listed(self):
        linguas = read(os.path.join(PO, "LINGUAS")).split()
        self.assertIn("fr", linguas)

    @unittest.skipUnless(shutil.which("msgfmt"), "no msgfmt (gettext)")
    def test_french_complete_and_valid(self):
        r = subprocess.run(["msgfmt", "--check", "--statistics", "-o", os.devnull,
                            os.path.join(PO, "fr.po")],
                           capture_output=True, text=True, env=dict(os.environ, LANG="C"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("fuzzy", r.stderr)
        self.assertNotIn("untranslated", r.stderr)

    @unittest.skipUnless(shutil.which("xgettext") and shutil.which("msgcmp"),
                         "no xgettext or msgcmp (gettext)")
    def test_french_covers_the_sources(self):
        """Every message of the sources as they are now is in po/fr.po,
        translated: a new or changed _() string fails here until it is
        translated (meson compile -C build cdviz-pipeline-update-po, then
        edit po/fr.po)."""
        with tempfile.TemporaryDirectory(prefix="cdviz-pot-") as tmp:
            pot = os.path.join(tmp, "cdviz-pipeline.pot")
            r = subprocess.run(["xgettext", "--from-code=UTF-8", "--add-comments",
                                "--keyword=_", "--keyword=N_", "--keyword=C_:1c,2",
                                "--keyword=NC_:1c,2", "--flag=N_:1:pass-c-format",
                                "-o", pot, "--directory", SOURCE_ROOT]
                               + self.potfiles(), capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            r = subprocess.run(["msgcmp", os.path.join(PO, "fr.po"), pot],
                               capture_output=True, text=True, env=dict(os.environ, LANG="C"))
            self.assertEqual(r.returncode, 0, "po/fr.po lacks translations:\n" + r.stderr)


if __name__ == "__main__":
    unittest.main()
