# SPDX-License-Identifier: Apache-2.0
"""Configs, pipeline life cycle, push and the "message" signal, from Python."""
import http.client
import json
import os
import tempfile
import threading
import unittest

from .gitestlib import (Cdviz, GLib, GObject, Json, body_dict, cdevent_text, config, event,
                        run_loop)

PUSH_CONFIG = """
[http]
port = 0

[sources.py]
enabled = true
"""


def http_get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class ConfigTest(unittest.TestCase):
    def test_from_string(self):
        cfg = config('[http]\nport = 9123\nhost = "127.0.0.2"\n')
        http = cfg.get_section("http")
        self.assertIsInstance(http, Json.Object)
        self.assertEqual(http.get_int_member("port"), 9123)
        self.assertEqual(http.get_string_member("host"), "127.0.0.2")
        # The built-in base is always there.
        self.assertIsNotNone(cfg.get_section("pipeline"))
        root = cfg.get_root()
        self.assertIsInstance(root, Json.Node)
        self.assertIn("[http]\nhost = \"127.0.0.2\"\nport = 9123\n", cfg.to_toml())

    def test_from_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "cdviz.toml")
            with open(path, "w") as f:
                f.write("[http]\nport = 0\n\n[sinks.debug]\nenabled = true\ntype = \"debug\"\n")
            cfg = Cdviz.Config.new()
            self.assertTrue(cfg.add_file(path))
            self.assertEqual(cfg.get_location("sinks.debug.enabled"), path + ":5")
            pipeline = Cdviz.Pipeline.new(cfg, None)
            self.assertIsNotNone(pipeline.get_sink("debug"))
            self.assertEqual(pipeline.get_sink_name(pipeline.get_sink("debug")), "debug")

    def test_errors_are_glib_errors(self):
        cfg = Cdviz.Config.new()
        with self.assertRaises(GLib.Error) as cm:
            cfg.add_string("[http\nport = 1", "broken.toml")
        self.assertEqual(cm.exception.domain, "cdviz-config-error-quark")
        self.assertEqual(cm.exception.code, Cdviz.ConfigError.PARSE)
        self.assertTrue(cm.exception.matches(Cdviz.Config.error_quark(), Cdviz.ConfigError.PARSE))
        self.assertIn("broken.toml:", cm.exception.message)

        with self.assertRaises(GLib.Error) as cm:
            Cdviz.Pipeline.new(config("[transformers.x]\ntype = \"nope\"\n", "mine.toml"), None)
        self.assertEqual(cm.exception.code, Cdviz.ConfigError.UNKNOWN_TYPE)
        self.assertIn("mine.toml:2", cm.exception.message)
        self.assertIn("“nope”", cm.exception.message)

        with self.assertRaises(GLib.Error) as cm:
            Cdviz.Config.new().add_file("/nonexistent/cdviz.toml")
        self.assertEqual(cm.exception.code, Cdviz.ConfigError.IO)


class LifeCycleTest(unittest.TestCase):
    def test_start_and_stop_in_a_main_loop(self):
        pipeline = Cdviz.Pipeline.new(config(PUSH_CONFIG), None)
        self.assertFalse(pipeline.is_running())
        loop = GLib.MainLoop()
        seen = {}

        def start():
            pipeline.start()
            seen["running"] = pipeline.is_running()
            seen["port"] = pipeline.get_http_server().get_port()
            # The HTTP server has its own thread: a blocking client is fine.
            seen["healthz"] = http_get(seen["port"], "/healthz")[0]
            seen["readyz"] = http_get(seen["port"], "/readyz")[0]
            GLib.idle_add(stop)
            return GLib.SOURCE_REMOVE

        def stop():
            pipeline.stop()
            seen["stopped"] = not pipeline.is_running()
            loop.quit()
            return GLib.SOURCE_REMOVE

        GLib.idle_add(start)
        self.assertTrue(run_loop(loop), "the loop did not finish")
        self.assertTrue(seen["running"])
        self.assertGreater(seen["port"], 0)
        self.assertEqual(seen["healthz"], 200)
        self.assertEqual(seen["readyz"], 200)
        self.assertTrue(seen["stopped"])
        pipeline.stop()  # again: harmless

    def test_push_when_not_running(self):
        pipeline = Cdviz.Pipeline.new(config(PUSH_CONFIG), None)
        with self.assertRaises(GLib.Error) as cm:
            pipeline.push("py", event("a"))
        self.assertTrue(cm.exception.matches(Cdviz.Pipeline.error_quark(),
                                             Cdviz.PipelineError.NOT_RUNNING))


class PushAndSubscribeTest(unittest.TestCase):
    def setUp(self):
        self.pipeline = Cdviz.Pipeline.new(config(PUSH_CONFIG), None)
        self.received = []
        self.threads = []

        def on_message(pipeline, message):
            self.assertIs(pipeline, self.pipeline)
            self.received.append(message)
            self.threads.append(threading.current_thread())
            if len(self.received) == self.expected:
                self.loop.quit()

        self.handler = self.pipeline.connect("message", on_message)
        self.loop = GLib.MainLoop()
        self.expected = 0
        self.pipeline.start()
        self.addCleanup(self.pipeline.stop)

    def test_push_and_receive_messages(self):
        ids = ["e-%d" % i for i in range(20)]
        self.expected = len(ids)
        for i in ids:
            self.assertTrue(self.pipeline.push("py", event(i, n=i)))
        self.assertTrue(run_loop(self.loop), "only %d messages arrived" % len(self.received))

        # In order, as Cdviz.Message objects with Json.Node bodies.
        self.assertEqual([m.get_id() for m in self.received], ids)
        for m in self.received:
            self.assertIsInstance(m, Cdviz.Message)
            body = m.get_body()
            self.assertIsInstance(body, Json.Node)
            self.assertEqual(body.get_node_type(), Json.NodeType.OBJECT)
            self.assertEqual(body.get_object().get_object_member("context")
                             .get_string_member("id"), m.get_id())
            self.assertEqual(m.get_event_type(), "dev.cdevents.build.started.0.1.1")
            self.assertEqual(body_dict(m)["subject"]["content"]["n"], m.get_id())
            self.assertEqual(m.get_body_bytes().get_data().decode(),
                             Json.to_string(body, False))
        # Emitted on the main context of the thread that called start().
        self.assertTrue(all(t is threading.main_thread() for t in self.threads))

    def test_a_real_cdevent(self):
        text = cdevent_text("build_started")
        message = Cdviz.Message.new_from_data(text, -1)
        self.expected = 1
        self.pipeline.push("py", message)
        self.assertTrue(run_loop(self.loop))
        received = self.received[0]
        expected = json.loads(text)
        self.assertEqual(received.get_event_type(), expected["context"]["type"])
        self.assertEqual(received.get_id(), expected["context"]["id"])
        self.assertEqual(body_dict(received), expected)

    def test_signal_waits_for_the_main_loop(self):
        self.pipeline.push("py", event("later"))
        self.pipeline.flush()       # delivered to the sinks...
        self.assertEqual(self.received, [])   # ...but not yet signalled
        self.expected = 1
        self.assertTrue(run_loop(self.loop))
        self.assertEqual(self.received[0].get_id(), "later")

    def test_unknown_source(self):
        with self.assertRaises(GLib.Error) as cm:
            self.pipeline.push("nope", event("x"))
        self.assertEqual(cm.exception.code, Cdviz.PipelineError.UNKNOWN_SOURCE)
        self.assertIn("nope", cm.exception.message)

    def test_disconnect(self):
        self.pipeline.disconnect(self.handler)
        self.pipeline.push("py", event("unseen"))
        self.pipeline.flush()
        ctx = GLib.MainContext.default()
        while ctx.pending():
            ctx.iteration(False)
        self.assertEqual(self.received, [])

    def test_message_headers_and_metadata(self):
        body = Json.from_string('{"context": {"id": "h1"}}')
        metadata = Json.from_string('{"origin": "python"}')
        msg = Cdviz.Message.new(body, metadata, {"X-Request-Id": "abc"})
        self.assertEqual(msg.get_header("x-request-id"), "abc")
        self.assertEqual(msg.get_header("X-REQUEST-ID"), "abc")
        self.assertEqual(msg.get_headers(), {"x-request-id": "abc"})
        self.assertEqual(msg.get_metadata().get_object().get_string_member("origin"), "python")
        self.expected = 1
        self.pipeline.push("py", msg)
        self.assertTrue(run_loop(self.loop))
        self.assertIs(self.received[0], msg)


class MiscTest(unittest.TestCase):
    def test_small_functions(self):
        self.assertEqual(Cdviz.parse_duration("1m30s"), (True, 90000))
        self.assertFalse(Cdviz.parse_duration("soon")[0])
        self.assertEqual(Cdviz.component_kind_to_string(Cdviz.ComponentKind.SINK), "sink")
        self.assertEqual(Cdviz.VERSION_S, "%d.%d.%d" % (Cdviz.MAJOR_VERSION,
                                                       Cdviz.MINOR_VERSION,
                                                       Cdviz.MICRO_VERSION))
        self.assertGreaterEqual(Cdviz.PLUGIN_ABI_VERSION, 1)

    def test_duration_param_spec(self):
        pspec = Cdviz.param_spec_duration("keep-alive", None, None, 0, 60000, 30000,
                                          GObject.ParamFlags.READWRITE)
        self.assertEqual(pspec.name, "keep-alive")
        self.assertEqual(pspec.value_type, GObject.TYPE_UINT64)
        self.assertEqual(pspec.default_value, 30000)

    def test_new_from_data_errors(self):
        with self.assertRaises(GLib.Error):
            Cdviz.Message.new_from_data("{not json", -1)


class ObjectApiTest(unittest.TestCase):
    """What a GTK application uses: construction by properties, GInitable,
    error enums, bindable properties and signals."""

    def test_error_enums_match(self):
        self.assertTrue(GObject.type_is_a(Cdviz.ConfigError.__gtype__, GObject.TYPE_ENUM))
        with self.assertRaises(GLib.Error) as cm:
            Cdviz.Config.new().add_string("[http\n", "broken.toml")
        self.assertTrue(cm.exception.matches(Cdviz.ConfigError, Cdviz.ConfigError.PARSE))
        self.assertFalse(cm.exception.matches(Cdviz.PipelineError, Cdviz.ConfigError.PARSE))
        self.assertTrue(cm.exception.matches(Cdviz.Config.error_quark(), Cdviz.ConfigError.PARSE))

    def test_initable(self):
        bare = Cdviz.Pipeline()
        with self.assertRaises(GLib.Error) as cm:
            bare.init(None)
        self.assertTrue(cm.exception.matches(Cdviz.PipelineError,
                                             Cdviz.PipelineError.NOT_INITIALIZED))
        with self.assertRaises(GLib.Error):
            bare.start()

        pipeline = Cdviz.Pipeline(config=config(PUSH_CONFIG))
        pipeline.init(None)
        self.assertIsNotNone(pipeline.props.registry)
        pipeline.start()
        pipeline.stop()

    def test_start_after_stop_is_an_error(self):
        pipeline = Cdviz.Pipeline.new(config(PUSH_CONFIG), None)
        pipeline.start()
        pipeline.stop()
        with self.assertRaises(GLib.Error) as cm:
            pipeline.start()
        self.assertTrue(cm.exception.matches(Cdviz.PipelineError, Cdviz.PipelineError.START))

    def test_properties_and_signals(self):
        pipeline = Cdviz.Pipeline.new(config(PUSH_CONFIG), None)
        seen = []
        pipeline.connect("notify::running", lambda p, _: seen.append(("running", p.props.running)))
        pipeline.connect("notify::events-processed",
                         lambda p, _: seen.append(("processed", p.props.events_processed)))
        pipeline.start()
        self.addCleanup(pipeline.stop)
        self.assertTrue(pipeline.props.running)
        self.assertEqual(pipeline.props.port, pipeline.get_http_server().get_port())
        pipeline.push("py", event("counted"))
        pipeline.flush()
        context = GLib.MainContext.default()
        while context.iteration(False):
            pass
        self.assertIn(("running", True), seen)
        self.assertIn(("processed", 1), seen)
        pipeline.stop()
        self.assertIn(("running", False), seen)
        self.assertEqual(pipeline.props.port, 0)


if __name__ == "__main__":
    unittest.main()
