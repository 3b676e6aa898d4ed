# SPDX-License-Identifier: Apache-2.0
"""Transformers, sinks and sources written in Python, configured from TOML."""
import gc
import http.client
import json
import threading
import unittest

from .gitestlib import Cdviz, GLib, GObject, Json, Soup, body_dict, config, event, run_loop


class Tagger(GObject.Object, Cdviz.Transformer):
    """Adds `tag` to the subject's content, `copies` times; rejects ids
    listed in `reject_ids`; drops everything when `drop` is set."""
    __gtype_name__ = "PyTestTagger"

    tag = GObject.Property(type=str, default="", nick="tag",
                           blurb="Value stored in subject.content.tag")
    copies = GObject.Property(type=int, default=1, minimum=0, maximum=10)
    drop = GObject.Property(type=bool, default=False)
    weight = GObject.Property(type=float, default=1.0)
    reject_ids = GObject.Property(type=GObject.TYPE_STRV)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = 0
        self.threads = set()

    def do_transform(self, message):
        self.calls += 1
        self.threads.add(threading.current_thread().ident)
        if message.get_id() in (self.reject_ids or []):
            raise GLib.Error("%s is not welcome" % message.get_id(),
                             "py-test-error", 7)
        if self.drop:
            return []
        # The body is sealed and shared: edit a deep copy (Json.Node.copy()
        # is shallow), here as Python data.
        data = json.loads(message.get_body_bytes().get_data())
        data["subject"]["content"]["tag"] = self.tag
        data["subject"]["content"]["weight"] = self.weight
        tagged = Cdviz.Message.new(Json.from_string(json.dumps(data)),
                                   message.get_metadata(), message.get_headers())
        return [tagged] * self.copies


class Collector(GObject.Object, Cdviz.Sink):
    """Keeps what it receives; counts start/stop."""
    __gtype_name__ = "PyTestCollector"

    label = GObject.Property(type=str, default="collector")
    fail_ids = GObject.Property(type=GObject.TYPE_STRV)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.received = []
        self.started_with = None
        self.stopped = 0
        self.threads = set()
        self.lock = threading.Lock()

    def do_start_sink(self, pipeline):
        # Keeping the pipeline itself would make a reference cycle through
        # C that Python's garbage collector cannot break.
        self.started_with = pipeline.get_config()
        return True

    def do_send_message(self, message):
        self.threads.add(threading.current_thread().ident)
        if message.get_id() in (self.fail_ids or []):
            raise GLib.Error("cannot deliver " + message.get_id(), "py-test-error", 1)
        with self.lock:
            self.received.append(message)
        return True

    def do_stop_sink(self):
        self.stopped += 1


class TimerSource(GObject.Object, Cdviz.Source):
    """Pushes `count` events with push_async() from the main loop."""
    __gtype_name__ = "PyTestTimerSource"

    count = GObject.Property(type=int, default=3)
    instances = []

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.results = []
        self.pipeline = None
        TimerSource.instances.append(self)

    def do_start_source(self, pipeline):
        self.pipeline = pipeline     # keep it until stop_source
        GLib.idle_add(self._push_all)
        return True

    def _push_all(self):
        for i in range(self.count):
            self.pipeline.push_async(self, event("timer-%d" % i), None, self._pushed)
        return GLib.SOURCE_REMOVE

    def _pushed(self, pipeline, result):
        try:
            self.results.append(pipeline.push_finish(result))
        except GLib.Error as e:
            self.results.append(e)

    def do_stop_source(self):
        self.pipeline = None



class HookSource(GObject.Object, Cdviz.Source):
    """Serves POST /py/hook on the pipeline's HTTP server from Python: an
    early handler refuses requests with `X-Refuse` before their body is
    read; the handler answers the others. Both count their calls in
    `calls` (a dict, so the closures hold no reference to the source)."""
    __gtype_name__ = "PyTestHookSource"

    calls = {"early": 0, "handler": 0, "bodies": []}

    def do_start_source(self, pipeline):
        calls = HookSource.calls

        def early(server, msg, path, query):
            calls["early"] += 1
            if msg.get_request_headers().get_one("X-Refuse"):
                msg.set_status(403, None)
                msg.set_response("text/plain", Soup.MemoryUse.COPY, b"refused early")

        def handle(server, msg, path, query):
            calls["handler"] += 1
            calls["bodies"].append(msg.get_request_body().flatten().get_data())
            msg.set_status(200, None)
            msg.set_response("text/plain", Soup.MemoryUse.COPY, b"handled")

        http = pipeline.get_http_server()
        http.add_handler("/py/hook", "source 'hook'", handle)
        http.set_early_handler("/py/hook", early)
        return True

    def do_stop_source(self):
        pass


def registry():
    """A registry of its own with the Python types, so tests stay apart."""
    reg = Cdviz.Registry.new()
    reg.register_type(Cdviz.ComponentKind.TRANSFORMER, "tagger", Tagger.__gtype__)
    reg.register_type(Cdviz.ComponentKind.SINK, "collector", Collector.__gtype__)
    reg.register_type(Cdviz.ComponentKind.SOURCE, "timer", TimerSource.__gtype__)
    reg.register_type(Cdviz.ComponentKind.SOURCE, "hook", HookSource.__gtype__)
    return reg


CONFIG = """
[http]
port = 0

[sources.py]
enabled = true
transformer_refs = ["tag"]

[transformers.tag]
type = "tagger"
tag = "from-toml"
copies = 2
weight = 2.5
reject_ids = ["bad-1", "bad-2"]

[sinks.keep]
type = "collector"
label = "kept"
fail_ids = ["undeliverable"]
"""


class RegistryTest(unittest.TestCase):
    def test_register_python_types(self):
        reg = registry()
        self.assertEqual(reg.lookup(Cdviz.ComponentKind.TRANSFORMER, "tagger"), Tagger.__gtype__)
        self.assertIn("tagger", reg.list_types(Cdviz.ComponentKind.TRANSFORMER))
        self.assertIn("passthrough", reg.list_types(Cdviz.ComponentKind.TRANSFORMER))

    def test_register_errors(self):
        reg = registry()
        with self.assertRaises(GLib.Error) as cm:
            reg.register_type(Cdviz.ComponentKind.TRANSFORMER, "tagger", Tagger.__gtype__)
        self.assertEqual(cm.exception.code, Cdviz.RegistryError.DUPLICATE)
        with self.assertRaises(GLib.Error) as cm:
            reg.register_type(Cdviz.ComponentKind.SINK, "not-a-sink", Tagger.__gtype__)
        self.assertEqual(cm.exception.code, Cdviz.RegistryError.WRONG_TYPE)

    def test_default_registry(self):
        class Once(GObject.Object, Cdviz.Transformer):
            __gtype_name__ = "PyTestOnce"

            def do_transform(self, message):
                return [message]

        default = Cdviz.Registry.get_default()
        self.assertIs(default, Cdviz.Registry.get_default())
        default.register_type(Cdviz.ComponentKind.TRANSFORMER, "py-once", Once.__gtype__)
        # A registry=None pipeline uses the default registry.
        pipeline = Cdviz.Pipeline.new(config('[transformers.o]\ntype = "py-once"\n'), None)
        self.assertIsNotNone(pipeline)


class PropertiesFromTomlTest(unittest.TestCase):
    def test_properties_are_set_from_the_config(self):
        pipeline = Cdviz.Pipeline.new(config(CONFIG), registry())
        sink = pipeline.get_sink("keep")
        self.assertIsInstance(sink, Collector)
        self.assertEqual(sink.label, "kept")
        self.assertEqual(sink.props.fail_ids, ["undeliverable"])
        self.assertEqual(pipeline.get_sink_name(sink), "keep")

    def test_unknown_key_lists_python_properties(self):
        with self.assertRaises(GLib.Error) as cm:
            Cdviz.Pipeline.new(config('[transformers.t]\ntype = "tagger"\ncolour = "red"\n',
                                      "colours.toml"), registry())
        e = cm.exception
        self.assertEqual(e.code, Cdviz.ConfigError.UNKNOWN_KEY)
        self.assertIn("colours.toml:3", e.message)
        self.assertIn("“transformers.t.colour”", e.message)
        for key in ("tag", "copies", "drop", "weight", "reject_ids"):
            self.assertIn(key, e.message)

    def test_dashes_are_not_keys(self):
        # The property is reject-ids; the TOML key is reject_ids only.
        with self.assertRaises(GLib.Error) as cm:
            Cdviz.Pipeline.new(config('[transformers.t]\ntype = "tagger"\n"reject-ids" = []\n'),
                               registry())
        self.assertEqual(cm.exception.code, Cdviz.ConfigError.UNKNOWN_KEY)

    def test_wrong_types_are_errors(self):
        cases = [
            ('copies = "two"', "an integer"),
            ("copies = 11", "out of range"),
            ('drop = "yes"', "a boolean"),
            ("tag = 3", "a string"),
            ("reject_ids = [1]", "an array of strings"),
        ]
        for line, expected in cases:
            with self.subTest(line=line):
                with self.assertRaises(GLib.Error) as cm:
                    Cdviz.Pipeline.new(config('[transformers.t]\ntype = "tagger"\n' + line + "\n",
                                              "types.toml"), registry())
                self.assertEqual(cm.exception.code, Cdviz.ConfigError.INVALID_VALUE)
                self.assertIn("types.toml:3", cm.exception.message)
                self.assertIn(expected, cm.exception.message)


class RunningTest(unittest.TestCase):
    def setUp(self):
        self.pipeline = Cdviz.Pipeline.new(config(CONFIG), registry())
        self.pipeline.start()
        self.addCleanup(self.pipeline.stop)

    def sink(self):
        return self.pipeline.get_sink("keep")

    def test_transformer_and_sink_in_a_pipeline(self):
        sink = self.sink()
        self.assertIs(sink.started_with, self.pipeline.get_config())
        for i in ("e1", "bad-1", "e2"):
            self.assertTrue(self.pipeline.push("py", event(i)))
        self.pipeline.flush()

        with sink.lock:
            received = list(sink.received)
        # e1 and e2, each twice (copies = 2), tagged; bad-1 rejected.
        self.assertEqual([m.get_id() for m in received], ["e1", "e1", "e2", "e2"])
        for m in received:
            content = body_dict(m)["subject"]["content"]
            self.assertEqual(content["tag"], "from-toml")
            self.assertEqual(content["weight"], 2.5)
        # Called on the pipeline thread, not on this one.
        self.assertNotIn(threading.main_thread().ident, sink.threads)
        self.assertEqual(len(sink.threads), 1)

        self.pipeline.stop()
        self.assertEqual(sink.stopped, 1)

    def test_the_pipeline_keeps_python_components_alive(self):
        # Python holds no reference of its own: the pipeline does, and the
        # Python state (set in __init__) survives garbage collection.
        gc.collect()
        for i in range(3):
            self.pipeline.push("py", event("alive-%d" % i))
            self.pipeline.flush()
            gc.collect()
        sink = self.sink()
        self.assertEqual(len(sink.received), 6)
        self.assertIs(sink, self.pipeline.get_sink("keep"))

    def test_a_failing_sink_does_not_stop_the_pipeline(self):
        self.pipeline.push("py", event("undeliverable"))
        self.pipeline.push("py", event("fine"))
        self.pipeline.flush()
        self.assertEqual([m.get_id() for m in self.sink().received], ["fine", "fine"])

    def test_the_signal_sees_transformed_messages(self):
        loop = GLib.MainLoop()
        seen = []

        def on_message(pipeline, message):
            seen.append(message)
            if len(seen) == 2:
                loop.quit()

        self.pipeline.connect("message", on_message)
        self.pipeline.push("py", event("signalled"))
        self.assertTrue(run_loop(loop))
        self.assertEqual([body_dict(m)["subject"]["content"]["tag"] for m in seen],
                         ["from-toml", "from-toml"])


class CallingTransformersFromPythonTest(unittest.TestCase):
    def test_python_transformer(self):
        t = Tagger(tag="direct", copies=3)
        m = event("x")
        original = body_dict(m)
        before = m.__grefcount__
        out = t.transform(m)
        self.assertEqual(len(out), 3)
        self.assertEqual(body_dict(out[0])["subject"]["content"]["tag"], "direct")
        self.assertEqual(body_dict(m), original)   # untouched
        del out
        gc.collect()
        self.assertEqual(m.__grefcount__, before)

    def test_python_transformer_errors(self):
        t = Tagger(reject_ids=["no"])
        with self.assertRaises(GLib.Error) as cm:
            t.transform(event("no"))
        self.assertEqual(cm.exception.message, "no is not welcome")
        self.assertEqual(cm.exception.code, 7)
        self.assertEqual(Tagger(drop=True).transform(event("dropped")), [])

    def test_builtin_transformer(self):
        reg = Cdviz.Registry.new()
        passthrough = GObject.new(reg.lookup(Cdviz.ComponentKind.TRANSFORMER, "passthrough"))
        m = event("p")
        before = m.__grefcount__
        for _ in range(5):
            out = passthrough.transform(m)
            self.assertEqual(len(out), 1)
            self.assertIs(out[0], m)
            del out
        gc.collect()
        self.assertEqual(m.__grefcount__, before)

    def test_messages_made_in_python_reach_the_sinks(self):
        reg = registry()
        pipeline = Cdviz.Pipeline.new(config(CONFIG), reg)
        pipeline.start()
        try:
            pipeline.push("py", event("made-here"))
            pipeline.flush()
            received = pipeline.get_sink("keep").received
            # New messages, made by the Python transformer: each is alive.
            self.assertEqual([m.get_id() for m in received], ["made-here", "made-here"])
            self.assertIsNot(received[0].get_body(), None)
        finally:
            pipeline.stop()


class LifetimeTest(unittest.TestCase):
    def test_dropping_a_running_pipeline_keeps_it_running(self):
        pipeline = Cdviz.Pipeline.new(config(CONFIG), registry())
        pipeline.start()
        sink = pipeline.get_sink("keep")
        for i in range(200):
            pipeline.push("py", event("drop-%d" % i))
        # A running pipeline holds itself until stop(): dropping the last
        # reference neither stops it (that would join the pipeline thread,
        # maybe from that very thread) nor loses accepted messages.
        del pipeline
        gc.collect()
        for _ in range(500):
            with sink.lock:
                if len(sink.received) >= 400:
                    break
            GLib.usleep(10000)
        self.assertEqual(len(sink.received), 400)
        self.assertEqual(sink.stopped, 0)


class PythonSourceTest(unittest.TestCase):
    def test_source_pushes_with_push_async(self):
        toml = CONFIG + '\n[sources.timer]\nenabled = true\nextractor = { type = "timer", count = 4 }\n'
        pipeline = Cdviz.Pipeline.new(config(toml), registry())
        pipeline.start()
        self.addCleanup(pipeline.stop)

        source = TimerSource.instances[-1]
        self.assertEqual(source.count, 4)
        self.assertIs(source.pipeline, pipeline)
        sink = pipeline.get_sink("keep")
        loop = GLib.MainLoop()

        # push_async() calls back once the message reached every sink.
        def check():
            if len(source.results) >= 4:
                loop.quit()
                return GLib.SOURCE_REMOVE
            return GLib.SOURCE_CONTINUE

        GLib.timeout_add(10, check)
        self.assertTrue(run_loop(loop))
        self.assertEqual(source.results, [True] * 4)
        self.assertEqual([m.get_id() for m in sink.received],
                         ["timer-%d" % i for i in range(4)])
        pipeline.stop()
        self.assertIsNone(source.pipeline)



class HttpRoutesTest(unittest.TestCase):
    def test_python_handler_and_early_handler(self):
        pipeline = Cdviz.Pipeline.new(config("""
[http]
host = "127.0.0.1"
port = 0

[sources.hook]
enabled = true
extractor = { type = "hook" }
"""), registry())
        pipeline.start()
        self.addCleanup(pipeline.stop)
        port = pipeline.get_http_server().get_port()

        def post(headers):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("POST", "/py/hook", body=b'{"n": 1}', headers=headers)
                response = conn.getresponse()
                return response.status, response.read()
            finally:
                conn.close()

        self.assertEqual(post({}), (200, b"handled"))
        self.assertEqual(post({"X-Refuse": "yes"}), (403, b"refused early"))
        self.assertEqual(post({}), (200, b"handled"))
        calls = HookSource.calls
        self.assertEqual(calls["early"], 3)
        self.assertEqual(calls["handler"], 2)       # never for the refused one
        self.assertEqual(calls["bodies"], [b'{"n": 1}', b'{"n": 1}'])

    def test_unmarked_route_with_several_http_threads(self):
        # `config --check` says it too, without starting the server.
        text = """
[http]
host = "127.0.0.1"
port = 0
threads = 2

[sources.hook]
enabled = true
extractor = { type = "hook" }
"""
        message = ("[http] threads = 2, but source 'hook' serves /py/hook on one HTTP "
                   "thread only: set threads = 1")
        checked = Cdviz.Pipeline.new(config(text), registry())
        with self.assertRaises(GLib.Error) as cm:
            checked.check()
        self.assertEqual(cm.exception.message, message)
        started = Cdviz.Pipeline.new(config(text), registry())
        with self.assertRaises(GLib.Error) as cm:
            started.start()
        self.assertEqual(cm.exception.message, message)


if __name__ == "__main__":
    unittest.main()
