# SPDX-License-Identifier: Apache-2.0
"""What a Python component may return or raise, and what the user sees.

Each test states the contract doc/python.md gives, from the outside: the
answer a webhook publisher gets, the events that reach a sink, the errors
the pipeline's signals and push_async() carry.
"""
import http.client
import json
import unittest

from .gitestlib import PLUGIN_DIR, Cdviz, GLib, GObject, config, event, run_loop


class Picky(GObject.Object, Cdviz.Transformer):
    """Decides from the event id: keep-*, none-*, empty-*, glib-*, value-*,
    key-*, one-* (returns the message itself, not a list)."""
    __gtype_name__ = "PyApiPicky"

    def do_transform(self, message):
        kind = message.get_id().split("-")[0]
        if kind == "keep":
            return [message]
        if kind == "none":
            return None
        if kind == "empty":
            return []
        if kind == "one":
            return message
        if kind == "glib":
            raise GLib.Error("not for us", "py-api-error", 42)
        if kind == "value":
            raise ValueError("field 'x' must be positive")
        if kind == "key":
            return {}["missing"]
        return [message, message]


class Keeper(GObject.Object, Cdviz.Sink):
    """Keeps the ids it receives; returns None like most Python functions;
    raises for ids starting with fail-."""
    __gtype_name__ = "PyApiKeeper"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.ids = []

    def do_send_message(self, message):
        if message.get_id().startswith("fail-"):
            raise RuntimeError("disk full")
        self.ids.append(message.get_id())


class Timed(GObject.Object, Cdviz.Sink):
    """Declares durations the way doc/python.md says."""
    __gtype_name__ = "PyApiTimed"

    timeout = GObject.Property(type=GObject.TYPE_UINT64, default=30000,
                               minimum=100, maximum=3600000,
                               flags=GObject.ParamFlags.READWRITE | Cdviz.PARAM_DURATION)
    retries = GObject.Property(type=GObject.TYPE_UINT64, default=3)   # not a duration

    def do_send_message(self, message):
        return True


class Broken(GObject.Object, Cdviz.Source):
    __gtype_name__ = "PyApiBroken"

    def do_start_source(self, pipeline):
        raise OSError("port 1 is not ours")

    def do_stop_source(self):
        pass


def registry():
    reg = Cdviz.Registry.new()
    reg.register_type(Cdviz.ComponentKind.TRANSFORMER, "picky", Picky.__gtype__)
    reg.register_type(Cdviz.ComponentKind.SINK, "keeper", Keeper.__gtype__)
    reg.register_type(Cdviz.ComponentKind.SINK, "timed", Timed.__gtype__)
    reg.register_type(Cdviz.ComponentKind.SOURCE, "broken", Broken.__gtype__)
    return reg


PUSHED = """
[http]
port = 0

[sources.app]
enabled = true
transformer_refs = ["picky"]

[transformers.picky]
type = "picky"

[sinks.keep]
type = "keeper"
"""


def wait_for(loop, done):
    def check():
        if done():
            loop.quit()
            return GLib.SOURCE_REMOVE
        return GLib.SOURCE_CONTINUE

    GLib.timeout_add(5, check)
    return run_loop(loop)


class TransformerReturnsTest(unittest.TestCase):
    def test_none_and_empty_list_drop_the_event(self):
        t = Picky()
        self.assertEqual(t.transform(event("none-1")), [])
        self.assertEqual(t.transform(event("empty-1")), [])
        m = event("one-1")
        self.assertEqual(t.transform(m), [m])

    def test_python_exception_is_the_error_message(self):
        with self.assertRaises(GLib.Error) as cm:
            Picky().transform(event("value-1"))
        self.assertEqual(cm.exception.message, "ValueError: field 'x' must be positive")
        self.assertTrue(cm.exception.matches(GLib.quark_from_string("g-io-error-quark"), 0))
        with self.assertRaises(GLib.Error) as cm:
            Picky().transform(event("key-1"))
        self.assertEqual(cm.exception.message, "KeyError: 'missing'")

    def test_a_wrong_result_is_a_clear_error(self):
        class Wrong(GObject.Object, Cdviz.Transformer):
            def do_transform(self, message):
                return ["not a message"]

        with self.assertRaises(GLib.Error) as cm:
            Wrong().transform(event("w"))
        self.assertIn("TypeError", cm.exception.message)
        self.assertIn("Cdviz.Message", cm.exception.message)


class InAPipelineTest(unittest.TestCase):
    def setUp(self):
        self.pipeline = Cdviz.Pipeline.new(config(PUSHED), registry())
        self.rejected = []
        self.failed = []
        self.pipeline.connect("rejected", lambda p, source, message, error: self.rejected.append(
            (message.get_id(), error.domain, error.code, error.message)))
        self.pipeline.connect("sink-failed", lambda p, sink, message, error: self.failed.append(
            (sink, message.get_id(), error and error.message)))
        self.pipeline.start()
        self.addCleanup(self.pipeline.stop)

    def push_all(self, ids):
        for i in ids:
            self.assertTrue(self.pipeline.push("app", event(i)))
        self.pipeline.flush()

    def test_dropped_events_are_filtered_not_rejected(self):
        self.push_all(["keep-1", "none-1", "empty-1", "one-1", "keep-2"])
        self.assertEqual(self.pipeline.get_sink("keep").ids, ["keep-1", "one-1", "keep-2"])
        self.assertEqual(self.pipeline.props.events_rejected, 0)
        self.assertEqual(self.pipeline.props.events_filtered, 2)

    def test_the_transformers_error_reaches_the_rejected_signal(self):
        loop = GLib.MainLoop()
        self.push_all(["glib-1", "value-1", "keep-1"])
        self.assertTrue(wait_for(loop, lambda: len(self.rejected) >= 2))
        self.assertEqual(self.rejected, [
            ("glib-1", "py-api-error", 42, "not for us"),
            ("value-1", "g-io-error-quark", 0, "ValueError: field 'x' must be positive"),
        ])
        self.assertEqual(self.pipeline.get_sink("keep").ids, ["keep-1"])

    def test_sink_none_is_success_and_exceptions_are_messages(self):
        loop = GLib.MainLoop()
        self.push_all(["keep-1", "fail-1"])
        # fail-1 passes the transformer twice (the default branch).
        self.assertTrue(wait_for(loop, lambda: len(self.failed) >= 2))
        self.assertEqual(self.failed, [("keep", "fail-1", "RuntimeError: disk full")] * 2)
        self.assertEqual(self.pipeline.get_sink("keep").ids, ["keep-1"])


class PushAsyncTest(unittest.TestCase):
    def test_push_async_gets_the_transformers_message(self):
        class Pusher(GObject.Object, Cdviz.Source):
            __gtype_name__ = "PyApiPusher"
            instances = []

            def do_start_source(self, pipeline):
                Pusher.instances.append(self)
                return True

            def do_stop_source(self):
                pass

        reg = registry()
        reg.register_type(Cdviz.ComponentKind.SOURCE, "pusher", Pusher.__gtype__)
        pipeline = Cdviz.Pipeline.new(config(PUSHED.replace(
            "enabled = true", 'enabled = true\nextractor = { type = "pusher" }')), reg)
        pipeline.start()
        self.addCleanup(pipeline.stop)
        source = Pusher.instances[-1]
        results = []

        def done(p, result):
            try:
                results.append(p.push_finish(result))
            except GLib.Error as e:
                results.append((e.domain, e.code, e.message))

        for i in ("none-1", "value-1"):
            pipeline.push_async(source, event(i), None, done)
        self.assertTrue(wait_for(GLib.MainLoop(), lambda: len(results) == 2))
        self.assertEqual(results[0], True)
        self.assertEqual(results[1], ("cdviz-pipeline-error-quark", Cdviz.PipelineError.REJECTED,
                                      "ValueError: field 'x' must be positive"))


class Quiet(GObject.Object, Cdviz.Sink, Cdviz.Source):
    """Starts by returning None, like most Python functions."""
    __gtype_name__ = "PyApiQuiet"

    def do_start_sink(self, pipeline):
        pass

    def do_send_message(self, message):
        pass

    def do_start_source(self, pipeline):
        pass

    def do_stop_source(self):
        pass


class StartTest(unittest.TestCase):
    def test_start_returning_none_is_success(self):
        reg = registry()
        reg.register_type(Cdviz.ComponentKind.SINK, "quiet", Quiet.__gtype__)
        reg.register_type(Cdviz.ComponentKind.SOURCE, "quiet", Quiet.__gtype__)
        pipeline = Cdviz.Pipeline.new(config("""
http.port = 0
[sources.q]
enabled = true
extractor = { type = "quiet" }
[sinks.q]
type = "quiet"
"""), reg)
        pipeline.start()
        self.addCleanup(pipeline.stop)
        self.assertTrue(pipeline.props.running)

    def test_false_without_an_error_is_never_silent(self):
        class Refuses(GObject.Object, Cdviz.Sink, Cdviz.Source):
            __gtype_name__ = "PyApiRefuses"

            def do_start_sink(self, pipeline):
                return False

            def do_send_message(self, message):
                return False

            def do_start_source(self, pipeline):
                return False

            def do_stop_source(self):
                pass

        for kind, table in ((Cdviz.ComponentKind.SINK, '[sinks.no]\ntype = "refuses"'),
                            (Cdviz.ComponentKind.SOURCE,
                             '[sources.no]\nenabled = true\nextractor = { type = "refuses" }')):
            with self.subTest(kind=kind):
                reg = registry()
                reg.register_type(kind, "refuses", Refuses.__gtype__)
                pipeline = Cdviz.Pipeline.new(config("http.port = 0\n" + table + "\n"), reg)
                with self.assertRaises(GLib.Error) as cm:
                    pipeline.start()
                self.assertIn("PyApiRefuses failed to start without giving a reason",
                              cm.exception.message)
                self.assertFalse(pipeline.props.running)

        sink = Refuses()
        with self.assertRaises(GLib.Error) as cm:
            sink.send_message(event("lost"))
        self.assertEqual(cm.exception.message, "sink PyApiRefuses failed without giving a reason")

    def test_a_source_that_raises_in_start_says_why(self):
        pipeline = Cdviz.Pipeline.new(config("""
http.port = 0
[sources.b]
enabled = true
extractor = { type = "broken" }
"""), registry())
        with self.assertRaises(GLib.Error) as cm:
            pipeline.start()
        self.assertIn("OSError: port 1 is not ours", cm.exception.message)


class WebhookTest(unittest.TestCase):
    def setUp(self):
        reg = registry()
        reg.load_plugins([PLUGIN_DIR])
        if "webhook" not in reg.list_types(Cdviz.ComponentKind.SOURCE):
            self.skipTest("no webhook plugin in " + PLUGIN_DIR)
        self.pipeline = Cdviz.Pipeline.new(config("""
[http]
host = "127.0.0.1"
port = 0

[sources.hook]
enabled = true
transformer_refs = ["picky"]
extractor = { type = "webhook", id = "in" }

[transformers.picky]
type = "picky"

[sinks.keep]
type = "keeper"
"""), reg)
        self.pipeline.start()
        self.addCleanup(self.pipeline.stop)
        self.port = self.pipeline.props.port

    def post(self, event_id):
        body = json.dumps({"context": {"id": event_id, "type": "dev.cdevents.build.started.0.1.1"},
                           "subject": {"id": "b", "content": {}}})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("POST", "/webhook/in", body=body,
                         headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            text = response.read()
            return response.status, json.loads(text).get("detail") if text else None
        finally:
            conn.close()

    def test_status_codes(self):
        self.assertEqual(self.post("keep-1")[0], 201)
        self.assertEqual(self.post("none-1")[0], 201)          # dropped, not refused
        self.assertEqual(self.post("empty-1")[0], 201)
        self.assertEqual(self.post("value-1"), (422, "ValueError: field 'x' must be positive"))
        self.assertEqual(self.post("glib-1"), (422, "not for us"))
        self.pipeline.flush()
        self.assertEqual(self.pipeline.get_sink("keep").ids, ["keep-1"])


class DurationTest(unittest.TestCase):
    def build(self, line):
        return Cdviz.Pipeline.new(config('[sinks.t]\ntype = "timed"\n' + line + "\n",
                                         "timed.toml"), registry())

    def test_duration_keys(self):
        for line, ms in (('timeout = "30s"', 30000), ('timeout = "500ms"', 500),
                         ("timeout = 45", 45000), ('timeout = "1m30s"', 90000), ("", 30000)):
            with self.subTest(line=line):
                self.assertEqual(self.build(line).get_sink("t").props.timeout, ms)
        self.assertEqual(self.build("retries = 5").get_sink("t").props.retries, 5)

    def test_bad_durations_name_the_key(self):
        for line, expected in (('timeout = "soon"', "a duration"),
                               ('timeout = "2h"', "out of range"),
                               ('timeout = "10ms"', "out of range")):
            with self.subTest(line=line):
                with self.assertRaises(GLib.Error) as cm:
                    self.build(line)
                self.assertTrue(cm.exception.matches(Cdviz.ConfigError,
                                                     Cdviz.ConfigError.INVALID_VALUE))
                self.assertIn("timed.toml:3", cm.exception.message)
                self.assertIn("sinks.t.timeout", cm.exception.message)
                self.assertIn(expected, cm.exception.message)

    def test_the_flag_needs_a_uint64_property(self):
        with self.assertRaises(TypeError) as cm:
            class NotUint64(GObject.Object, Cdviz.Sink):
                timeout = GObject.Property(type=int, default=3,
                                           flags=GObject.ParamFlags.READWRITE | Cdviz.PARAM_DURATION)

                def do_send_message(self, message):
                    return True
        self.assertIn("timeout", str(cm.exception))
        self.assertIn("TYPE_UINT64", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
