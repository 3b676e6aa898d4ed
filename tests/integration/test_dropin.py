# SPDX-License-Identifier: Apache-2.0
"""cdviz-pipeline as a drop-in for cdviz-collector (issue 19): its command
line, its base configuration, and how many of its users' real configurations
(../shared/collector-configs, run by ../shared/tools/collector-dropin.sh)
load. The count may only rise: tests/collector-dropin-floor.txt holds the
floor; raise it when a change makes more load."""
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest

from cdviz_testlib import PROGRAM, PLUGIN_DIR, SHARED, LISTEN_RE, free_port

SOURCE_ROOT = os.environ.get("CDVIZ_SOURCE_ROOT",
                             os.path.join(os.path.dirname(__file__), "..", ".."))
DROPIN = os.path.join(SHARED, "tools", "collector-dropin.sh")
FLOOR = os.path.join(SOURCE_ROOT, "tests", "collector-dropin-floor.txt")


def run(args, env=None, cwd=None, timeout=20):
    full_env = dict(os.environ)
    full_env["CDVIZ_PLUGIN_SYSTEM_PATH"] = ""
    full_env.pop("CDVIZ_COLLECTOR_CONFIG", None)
    if env:
        full_env.update(env)
    return subprocess.run([os.path.abspath(PROGRAM)] + args, capture_output=True, text=True,
                          env=full_env, timeout=timeout, stdin=subprocess.DEVNULL, cwd=cwd)


class CommandLineTest(unittest.TestCase):
    """Upstream's command line: global options before or after the command,
    -C/--directory, CDVIZ_COLLECTOR_CONFIG, --disable-otel, help."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.config = os.path.join(self.tmp.name, "cdviz-collector.toml")
        with open(self.config, "w") as f:
            f.write('[http]\nport = 9321\n\n[sinks.debug]\nenabled = true\n')

    def tearDown(self):
        self.tmp.cleanup()

    def check_ok(self, r):
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("port = 9321", r.stdout)
        self.assertIn("configuration OK", r.stderr)

    def test_options_after_the_command(self):
        self.check_ok(run(["config", "--check", "--config", self.config]))

    def test_options_before_the_command(self):
        self.check_ok(run(["--config", self.config, "--disable-otel", "config", "--check"]))

    def test_directory(self):
        self.check_ok(run(["-C", self.tmp.name, "config", "--check",
                           "--config", "cdviz-collector.toml"]))
        self.check_ok(run(["config", "--directory", self.tmp.name, "--check",
                           "--config", "cdviz-collector.toml"], cwd="/"))

    def test_directory_missing(self):
        r = run(["-C", os.path.join(self.tmp.name, "nope"), "config", "--check"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot change to directory", r.stderr)

    def test_config_from_environment(self):
        self.check_ok(run(["config", "--check"], env={"CDVIZ_COLLECTOR_CONFIG": self.config}))

    def test_help_command(self):
        r = run(["help"])
        self.assertEqual(r.returncode, 0, r.stderr)
        for word in ("--directory", "--disable-otel", "CDVIZ_COLLECTOR_CONFIG", "connect"):
            self.assertIn(word, r.stdout)

    def test_base_components_enabled_by_name(self):
        """[sinks.debug] enabled = true alone is upstream's debug sink; the
        base's transformers can be referenced."""
        with open(self.config, "a") as f:
            f.write('[sources.s]\nenabled = true\ntransformer_refs = ["log"]\n'
                    'extractor = { type = "webhook", id = "s" }\n')
        r = run(["config", "--check", "--config", self.config, "--plugin-dir", PLUGIN_DIR])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r'\[sinks\.debug\]\nenabled = true\ntype = "debug"')


class ListenTest(unittest.TestCase):
    """[http] host: every interface with a configuration file, as upstream;
    the log says which address was bound."""

    def test_file_without_host_listens_everywhere(self):
        with tempfile.TemporaryDirectory() as tmp:
            config = os.path.join(tmp, "c.toml")
            with open(config, "w") as f:
                f.write("[http]\nport = 0\n")
            env = dict(os.environ, CDVIZ_PLUGIN_SYSTEM_PATH="")
            env.pop("CDVIZ_COLLECTOR_CONFIG", None)
            proc = subprocess.Popen([PROGRAM, "connect", "--config", config], env=env,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
            try:
                deadline = time.monotonic() + 10
                line = b""
                while time.monotonic() < deadline and not LISTEN_RE.search(line):
                    chunk = proc.stderr.readline()
                    if not chunk:
                        break
                    line += chunk
                m = LISTEN_RE.search(line)
                self.assertIsNotNone(m, line)
                self.assertEqual(m.group(1), b"0.0.0.0")
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.communicate(timeout=10)
            self.assertEqual(proc.returncode, 0)

    def test_quick_start_stays_on_loopback(self):
        r = run(["config", "--check", "--plugin-dir", PLUGIN_DIR])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('[http]\nhost = "127.0.0.1"\n', r.stdout)


@unittest.skipUnless(os.path.exists(DROPIN), "no %s" % DROPIN)
class DropinCountTest(unittest.TestCase):
    def test_count_at_least_floor(self):
        with open(FLOOR) as f:
            floor = int(f.read().split()[0])
        env = dict(os.environ)
        if "ASAN_OPTIONS" in env:
            # This test counts configurations that load; under AddressSanitizer
            # memory errors still fail a load, but LeakSanitizer's exit-time
            # tracer, which has crashed here on the stale dynamic-TLS range of
            # a GIO module GLib unloaded (see test-jq in tests/meson.build),
            # must not turn a loaded configuration into a failed one. Leaks of
            # `config --check` are checked by test_cli.
            env["ASAN_OPTIONS"] += ":detect_leaks=0"
        # The count must not depend on the network: `_rfile` files are
        # looked for on a port nobody listens on, with an empty cache
        # (`config --check` then only warns about them).
        cache = tempfile.TemporaryDirectory(prefix="cdviz-dropin-cache-")
        self.addCleanup(cache.cleanup)
        env["XDG_CACHE_HOME"] = cache.name
        env["CDVIZ_PIPELINE_TEST_GITHUB_URL"] = "http://127.0.0.1:%d" % free_port()
        r = subprocess.run(["bash", DROPIN, os.path.abspath(PROGRAM), os.path.abspath(PLUGIN_DIR)],
                           capture_output=True, text=True, errors="replace", timeout=600, env=env)
        m = re.search(r"^(\d+) of (\d+) load$", r.stdout, re.M)
        self.assertIsNotNone(m, r.stdout[-2000:] + r.stderr)
        count = int(m.group(1))
        fails = [l for l in r.stdout.splitlines() if l.startswith("FAIL")]
        # Configuration errors first; anything else (a crash, a sanitizer
        # report) last, where a log cut to its tail still shows it.
        odd = [l for l in fails if ": cdviz-pipeline: " not in l]
        self.assertGreaterEqual(count, floor,
                                "fewer cdviz-collector configurations load than before:\n"
                                + "\n".join([l for l in fails if l not in odd] + odd))
        if count > floor:
            print("collector-dropin: %d load, more than the floor %d: raise %s"
                  % (count, floor, FLOOR))


if __name__ == "__main__":
    unittest.main()
