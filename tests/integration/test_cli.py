# SPDX-License-Identifier: Apache-2.0
"""The cdviz-pipeline program as a user runs it: options, config --check,
configuration errors, built-in routes, signals."""
import os
import signal
import socket
import subprocess
import tempfile
import unittest

from cdviz_testlib import PROGRAM, PLUGIN_DIR, Pipeline, cdevent, free_port


def run(args, env=None, timeout=20):
    full_env = dict(os.environ)
    full_env["CDVIZ_PLUGIN_SYSTEM_PATH"] = ""
    if env:
        full_env.update(env)
    return subprocess.run([PROGRAM] + args, capture_output=True, text=True,
                          env=full_env, timeout=timeout, stdin=subprocess.DEVNULL)


def write(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


class CliTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def test_version(self):
        r = run(["--version"])
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^cdviz-pipeline \d+\.\d+\.\d+\n$")

    def test_help(self):
        r = run(["--help"])
        self.assertEqual(r.returncode, 0)
        for word in ("--config", "--plugin-dir", "--set", "--verbose", "--quiet",
                     "connect", "config --check", "config --print", "--print-raw", "--for",
                     "\n  send "):
            self.assertIn(word, r.stdout)

    def test_bad_option(self):
        r = run(["--no-such-option"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("Unknown option --no-such-option", r.stderr)

    def test_check_default(self):
        r = run(["config", "--check", "--plugin-dir", PLUGIN_DIR])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('[http]\nhost = "127.0.0.1"\nport = 8080\n', r.stdout)
        self.assertIn('[sinks.events]\nenabled = true\ntype = "sse"\nid = "events"\n', r.stdout)
        self.assertIn('extractor = { type = "webhook", id = "events" }', r.stdout)
        self.assertIn("configuration OK", r.stderr)

    def test_check_layers(self):
        path = write(self.tmp.name, "c.toml", "[http]\nport = 9001\n")
        r = run(["config", "--check", "--config", path, "--set", "pipeline.queue_capacity = 5"],
                env={"CDVIZ_COLLECTOR__HTTP__HOST": "0.0.0.0"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('[http]\nhost = "0.0.0.0"\nport = 9001\n', r.stdout)
        self.assertIn('queue_capacity = 5\n', r.stdout)

    def check_error(self, toml, expected, args=()):
        path = write(self.tmp.name, "bad.toml", toml)
        r = run(["config", "--check", "--config", path, "--plugin-dir", PLUGIN_DIR] + list(args))
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(r.stdout, "")
        self.assertEqual(r.stderr, "cdviz-pipeline: %s:%s\n" % (path, expected))
        # connect refuses the same configuration without listening
        r = run(["--config", path, "--plugin-dir", PLUGIN_DIR, "--set", "http.port = 0"] + list(args))
        self.assertEqual(r.returncode, 1)
        self.assertIn(expected, r.stderr)
        self.assertNotIn("Listening", r.stderr)

    def test_error_unknown_type(self):
        self.check_error('[sinks.x]\ntype = "kafk"\n',
                         "2: key “sinks.x.type”: unknown sink type “kafk” (known: %s; plugin "
                         "directories searched: %s)" % (self.known_sinks(), PLUGIN_DIR))

    def test_error_missing_plugin(self):
        # a type cdviz-collector has and this build lacks names its plugin
        self.check_error('[sinks.k]\ntype = "kafka"\n',
                         "2: sinks.k: type “kafka” needs the kafka plugin, which this build "
                         "does not have (plugin directories searched: %s); see "
                         "doc/migrating.md" % PLUGIN_DIR)

    def test_every_error_listed(self):
        path = write(self.tmp.name, "bad.toml",
                     '[sinks.k]\ntype = "clickhouse"\n\n'
                     '[http]\nport = "x"\n\n'
                     '[transformers.t]\ntype = "passthrough"\nnope = 1\n\n'
                     '[sources.s]\nenabled = true\ntransformer_refs = ["t", "missing"]\n')
        expected = (
            "cdviz-pipeline: %s:5: key “http.port”: expected an integer, got a string\n"
            "cdviz-pipeline: %s:9: unknown key “transformers.t.nope” for transformer type "
            "“passthrough” (known keys: none)\n"
            "cdviz-pipeline: %s:13: key “sources.s.transformer_refs”: no transformer named "
            "“missing” (define [transformers.missing])\n"
            "cdviz-pipeline: %s:2: sinks.k: type “clickhouse” needs the clickhouse plugin, which "
            "this build does not have (plugin directories searched: %s); see doc/migrating.md\n"
            "cdviz-pipeline: 4 errors in %s\n") % (path, path, path, path, PLUGIN_DIR, path)
        r = run(["config", "--check", "--config", path, "--plugin-dir", PLUGIN_DIR])
        self.assertEqual((r.returncode, r.stdout, r.stderr), (1, "", expected))
        # connect lists the same errors and does not listen
        r = run(["--config", path, "--plugin-dir", PLUGIN_DIR])
        self.assertEqual((r.returncode, r.stderr), (1, expected))

    def known_sinks(self):
        names = ["debug"]
        for plugin, types in (("sse", ["sse"]), ("db", ["db"]), ("collector", ["folder", "http"]), ("nats", ["nats"])):
            if os.path.isdir(os.path.join(PLUGIN_DIR, plugin)):
                names.extend(types)
        return ", ".join(sorted(names))

    def test_error_unknown_key(self):
        self.check_error('[http]\nport = 1\nadress = "x"\n',
                         "3: unknown key “http.adress” (known keys: host, port, "
                         "tls_certificate, tls_key, tls_min_version, header_timeout, body_timeout, idle_timeout, "
                         "max_connections, threads, max_headers, max_header_size, root_url, "
                         "request_timeout, access_log)")

    def test_error_mistyped_key(self):
        self.check_error('[pipeline]\nqueue_capacity = "many"\n',
                         "2: key “pipeline.queue_capacity”: expected an integer, got a string")

    def test_error_missing_key(self):
        self.check_error('[transformers.t]\nfilter = "."\n',
                         "1: missing required key “transformers.t.type”")

    def test_error_unknown_ref(self):
        self.check_error('[sources.s]\nenabled = true\ntransformer_refs = ["nope"]\n',
                         "3: key “sources.s.transformer_refs”: no transformer named “nope” "
                         "(define [transformers.nope])")

    def test_error_vrl(self):
        self.check_error('[transformers.t]\ntype = "vrl"\ntemplate = """\n.a = 1\nfoo(.b)\n"""\n',
                         "1: key “template”: the VRL program does not compile: %s:5:1: "
                         % os.path.join(self.tmp.name, "bad.toml") +
                         "error[E105]: call to undefined function “foo”")

    def test_error_parse(self):
        path = write(self.tmp.name, "bad.toml", '[http]\nport = = 1\n')
        r = run(["config", "--check", "--config", path])
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("cdviz-pipeline: %s:2:8: " % path), r.stderr)

    def test_error_set(self):
        r = run(["config", "--check", "--plugin-dir", PLUGIN_DIR, "--set", "http.port = 'x'"])
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr,
                         "cdviz-pipeline: --set:1: key “http.port”: expected an integer, got a string\n")

    def test_set_key_value(self):
        # cdviz-collector's --set key=value: true/false, integers, decimals,
        # else a string; a TOML fragment still works
        r = run(["config", "--check", "--plugin-dir", PLUGIN_DIR,
                 "--set", "sinks.d.type=debug", "--set", "sinks.d.enabled=true",
                 "--set", "pipeline.queue_capacity=7",
                 "--set", "http.root_url=http://x.example/a?b=1&c=2",
                 "--set", "http.port = 9001"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('[sinks.d]\ntype = "debug"\nenabled = true\n', r.stdout)
        self.assertIn('[pipeline]\nqueue_capacity = 7\n', r.stdout)
        self.assertIn('port = 9001\nroot_url = "http://x.example/a?b=1&c=2"\n', r.stdout)
        for value, got in (("1.5", "a float"), ("true", "a boolean"), ("x y", "a string")):
            with self.subTest(value=value):
                r = run(["config", "--check", "--plugin-dir", PLUGIN_DIR,
                         "--set", "http.port=" + value])
                self.assertEqual((r.returncode, r.stderr),
                                 (1, "cdviz-pipeline: --set:1: key “http.port”: expected an "
                                     "integer, got %s\n" % got))
        r = run(["config", "--check", "--set", "no-equal-sign"])
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("cdviz-pipeline: --set:1:"), r.stderr)

    def test_config_print(self):
        # as cdviz-collector's: --print-raw as written, --print with `_file`
        # keys read and nothing validated, --check validates
        write(self.tmp.name, "v.txt", "from a file\n")
        path = write(self.tmp.name, "c.toml",
                     '[sinks.d]\nenabled = true\ntype = "debug"\nbogus_file = "v.txt"\n')
        r = run(["config", "--print-raw", "--config", path, "--plugin-dir", PLUGIN_DIR])
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertIn('[sinks.d]\nenabled = true\ntype = "debug"\nbogus_file = "v.txt"\n',
                      r.stdout)
        r = run(["config", "--print", "--config", path, "--plugin-dir", PLUGIN_DIR])
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertIn('[sinks.d]\nenabled = true\ntype = "debug"\nbogus = "from a file"\n',
                      r.stdout)
        r = run(["config", "--print", "--check", "--config", path, "--plugin-dir", PLUGIN_DIR])
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout.count("[sinks.d]"), 1)
        self.assertIn("unknown key “sinks.d.bogus”", r.stderr)

    def test_relative_file_beside_config_then_working_directory(self):
        # beside the configuration first; else the working directory (-C),
        # where cdviz-collector reads relative paths from
        conf_dir = os.path.join(self.tmp.name, "etc")
        work = os.path.join(self.tmp.name, "work")
        os.mkdir(conf_dir)
        os.mkdir(work)
        write(work, "v.txt", "from the working directory\n")
        path = write(conf_dir, "c.toml",
                     '[sinks.d]\nenabled = true\ntype = "debug"\nbogus_file = "v.txt"\n')
        r = run(["config", "--print", "-C", work, "--config", path])
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertIn('bogus = "from the working directory"\n', r.stdout)
        write(conf_dir, "v.txt", "beside the configuration\n")
        r = run(["config", "--print", "-C", work, "--config", path])
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertIn('bogus = "beside the configuration"\n', r.stdout)
        os.remove(os.path.join(conf_dir, "v.txt"))
        os.remove(os.path.join(work, "v.txt"))
        r = run(["config", "--print", "-C", work, "--config", path])
        self.assertEqual(r.returncode, 1)
        self.assertIn("sinks.d.bogus_file: cannot read the file", r.stderr)
        self.assertIn(os.path.join(conf_dir, "v.txt"), r.stderr)

    def test_config_for(self):
        r = run(["config", "--print", "--for", "send", "--plugin-dir", PLUGIN_DIR])
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertIn('[sources.cli]\nenabled = true\n', r.stdout)
        self.assertIn('[sinks.debug]\nenabled = true\ntype = "debug"\n', r.stdout)
        self.assertNotIn("[sources.events]", r.stdout)
        r = run(["config", "--check", "--for", "send", "--plugin-dir", PLUGIN_DIR])
        self.assertEqual(r.returncode, 0, r.stderr)
        # Under AddressSanitizer, LeakSanitizer's exit-time tracer crashes
        # in these two runs (the stale dynamic-TLS range of a GIO module, see
        # test_dropin): no leak check here; test_config_print checks --print's.
        env = ({"ASAN_OPTIONS": os.environ["ASAN_OPTIONS"] + ":detect_leaks=0"}
               if "ASAN_OPTIONS" in os.environ else None)
        for command in ("connect", "transform"):
            r = run(["config", "--print", "--for", command, "--plugin-dir", PLUGIN_DIR], env=env)
            self.assertEqual((r.returncode, r.stderr), (0, ""))
            self.assertIn("[sources.events]", r.stdout)
            self.assertNotIn("[sources.cli]", r.stdout)
        r = run(["config", "--print", "--for", "nope"])
        self.assertEqual((r.returncode, r.stderr),
                         (1, "cdviz-pipeline: --for “nope”: expected connect, send or transform\n"))
        r = run(["config"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("“config” needs --check, --print or --print-raw", r.stderr)

    def test_error_missing_file(self):
        r = run(["--config", "/nonexistent/c.toml"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent/c.toml", r.stderr)

    def test_port_in_use(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        try:
            r = run(["--plugin-dir", PLUGIN_DIR, "--set", "http.port = %d" % port])
            self.assertEqual(r.returncode, 1)
            self.assertIn("Cannot listen on 127.0.0.1:%d: " % port, r.stderr)
            self.assertNotIn("Listening", r.stderr)
        finally:
            s.close()

    def test_verbose(self):
        path = write(self.tmp.name, "c.toml", '[sinks.off]\nenabled = false\ntype = "debug"\n')
        r = run(["config", "--check", "--config", path])
        self.assertNotIn("Sink off is disabled", r.stderr)
        r = run(["config", "--check", "--config", path, "-v"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"cdviz-DEBUG: .*Sink off is disabled")

    def test_verbose_and_quiet(self):
        r = run(["config", "--check", "-v", "-q"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("--verbose and --quiet exclude each other", r.stderr)

    def test_broken_plugin_skipped(self):
        modules = os.environ.get("CDVIZ_TEST_MODULES")
        r = run(["config", "--check", "--plugin-dir", modules])
        # the good test plugin loads; each broken one is named in a warning
        for name in ("test-wrong-abi.so", "test-no-descriptor.so",
                     "test-failing-register.so", "not-a-module.so"):
            self.assertRegex(r.stderr, r"WARNING \*\*: .*Skipping plugin: .*%s" % name)


class ServerTest(unittest.TestCase):
    CONFIG = '[sinks.out]\ntype = "debug"\n'

    def test_builtin_routes(self):
        with Pipeline(self.CONFIG) as p:
            status, headers, body = p.request("GET", "/healthz")
            self.assertEqual((status, body), (200, b"ok\n"))
            status, headers, body = p.request("GET", "/readyz")
            self.assertEqual((status, body), (200, b"ready\n"))
            status, headers, body = p.request("GET", "/metrics")
            self.assertEqual(status, 200)
            self.assertTrue(headers["content-type"].startswith("text/plain; version=0.0.4"))
            self.assertIn(b"\ncdviz_up 1\n", body)
            self.assertIn(b'cdviz_sink_messages_total{sink="out",outcome="sent"} 0\n', body)
            status, headers, body = p.request("GET", "/nothing/here")
            self.assertEqual(status, 404)
            self.assertEqual(headers["content-type"], "application/json")
            self.assertEqual(body, b'{"title":"Not Found","status":404,"detail":"no route for /nothing/here"}')
            status, headers, body = p.request("POST", "/healthz")
            self.assertEqual(status, 405)
            self.assertEqual(headers["allow"], "GET, HEAD")
            self.assertEqual(p.stop(), 0)

    def test_sources_as_cdviz_collector(self):
        # without `enabled` a source is off (with a warning); `noop` and a
        # source without extractor run and produce nothing
        with Pipeline('[sources.off]\nextractor = { type = "webhook", id = "off" }\n\n'
                      '[sources.on]\nenabled = true\nextractor = { type = "webhook", id = "on" }\n\n'
                      '[sources.idle]\nenabled = true\nextractor = { type = "noop" }\n\n'
                      '[sources.bare]\nenabled = true\n\n'
                      '[sinks.out]\ntype = "debug"\n') as p:
            status, _, _ = p.request("POST", "/webhook/off", cdevent())
            self.assertEqual(status, 404)
            status, _, body = p.request("POST", "/webhook/on", cdevent())
            self.assertEqual(status, 201, body)
            self.assertEqual(p.stop(), 0, p.stderr())
            self.assertIn("%s:1: sources.off has no “enabled” key: disabled, as cdviz-collector "
                          "does; add enabled = true" % p.config_path, p.stderr())
            self.assertEqual(p.stderr().count("has no “enabled” key"), 1, p.stderr())
            self.assertEqual(p.stdout().count('"type":"dev.cdevents.build.started'), 1,
                             p.stdout())

    def test_rust_log(self):
        # cdviz-collector's module filters pick this program's log domains
        config = ('[sources.w]\nenabled = true\nextractor = { type = "webhook", id = "w" }\n\n'
                  '[sinks.s]\ntype = "sse"\nid = "s"\n')
        for rust_log, shown, hidden in (
                ("cdviz_collector::sinks::sse=debug", ["cdviz-sse-DEBUG"],
                 ["cdviz-webhook-DEBUG", "cdviz-DEBUG"]),
                ("info,cdviz_collector::sources::webhook=debug", ["cdviz-webhook-DEBUG"],
                 ["cdviz-sse-DEBUG", "cdviz-DEBUG"]),
                ("debug", ["cdviz-sse-DEBUG", "cdviz-webhook-DEBUG", "cdviz-DEBUG"], []),
                ("info", [], ["-DEBUG"])):
            with self.subTest(rust_log=rust_log):
                with Pipeline(config, env={"RUST_LOG": rust_log, "G_MESSAGES_DEBUG": ""}) as p:
                    self.assertEqual(p.stop(), 0, p.stderr())
                    for text in shown:
                        self.assertIn(text, p.stderr())
                    for text in hidden:
                        self.assertNotIn(text, p.stderr())
                    self.assertIn("Stopped", p.stderr())

    def test_sigint(self):
        with Pipeline(self.CONFIG) as p:
            p.proc.send_signal(signal.SIGINT)
            self.assertEqual(p.wait(), 0)
            self.assertIn("Stopped", p.stderr())

    def test_sigterm(self):
        with Pipeline(self.CONFIG) as p:
            self.assertEqual(p.stop(), 0)
            self.assertIn("Shutting down", p.stderr())

    def test_connect_subcommand(self):
        port = free_port()
        env = dict(os.environ, CDVIZ_PLUGIN_SYSTEM_PATH="")
        proc = subprocess.Popen([PROGRAM, "connect", "--plugin-dir", PLUGIN_DIR,
                                 "--set", "http.port = %d" % port, "--set", "sources.events.enabled = false",
                                 "--set", "sinks.events.enabled = false"],
                                stderr=subprocess.PIPE, env=env)
        try:
            line = proc.stderr.readline().decode()
            self.assertIn("Listening on http://127.0.0.1:%d" % port, line)
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(10), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stderr.close()

    def test_quiet(self):
        with Pipeline(self.CONFIG, args=["-q"], expect_start=False) as p:
            import time
            time.sleep(0.5)
            self.assertEqual(p.stop(), 0)
            self.assertEqual(p.stderr(), "")


if __name__ == "__main__":
    unittest.main()
