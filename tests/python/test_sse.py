# SPDX-License-Identifier: Apache-2.0
"""End to end: a Python transformer in front of the SSE sink, read by an
SSE client over loopback."""
import glob
import json
import os
import socket
import time
import unittest

from .gitestlib import PLUGIN_DIR, Cdviz, GObject, Json, config, event

SSE_DIR = os.path.join(PLUGIN_DIR, "sse")


def sse_plugin_built():
    return bool(glob.glob(os.path.join(SSE_DIR, "*.so")))


class Shout(GObject.Object, Cdviz.Transformer):
    """Upper-cases subject.content.message and adds `shouted_by`."""
    __gtype_name__ = "PyTestShout"

    by = GObject.Property(type=str, default="python")

    def do_transform(self, message):
        data = json.loads(message.get_body_bytes().get_data())
        content = data["subject"]["content"]
        content["message"] = content["message"].upper()
        content["shouted_by"] = self.by
        return [Cdviz.Message.new(Json.from_string(json.dumps(data)), None, None)]


class SseClient:
    """A minimal SSE client on a blocking socket with a deadline."""

    def __init__(self, port, path, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "Accept: text/event-stream\r\n\r\n" % path).encode())
        self.buf = b""
        head = self._read_until(b"\r\n\r\n", timeout)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                self.headers[name.strip().lower()] = value.strip()
        self.chunked = self.headers.get("transfer-encoding") == "chunked"
        self.body = b""

    def _read_until(self, marker, timeout):
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for %r; got %r" % (marker, self.buf))
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError("connection closed; got %r" % self.buf)
            self.buf += data
        head, self.buf = self.buf.split(marker, 1)
        return head

    def _decode(self):
        # De-chunk whatever complete chunks arrived.
        if not self.chunked:
            self.body += self.buf
            self.buf = b""
            return
        while b"\r\n" in self.buf:
            size_line, rest = self.buf.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            if len(rest) < size + 2:
                return
            self.body += rest[:size]
            self.buf = rest[size + 2:]

    def next_frame(self, timeout=5.0):
        """The next frame that is not a comment, as a dict of its fields."""
        deadline = time.monotonic() + timeout
        while True:
            self._decode()
            while b"\n\n" in self.body:
                frame, self.body = self.body.split(b"\n\n", 1)
                fields = {}
                for line in frame.decode("utf-8").split("\n"):
                    if line.startswith(":") or not line:
                        continue
                    name, _, value = line.partition(":")
                    fields[name] = value[1:] if value.startswith(" ") else value
                if fields:
                    return fields
            if time.monotonic() > deadline:
                raise AssertionError("no SSE frame in time; got %r" % self.body)
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError("stream closed; got %r" % self.body)
            self.buf += data

    def close(self):
        self.sock.close()


@unittest.skipUnless(sse_plugin_built(),
                     "the SSE sink plugin is not built (no module in %s)" % SSE_DIR)
class SseEndToEndTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        registry = Cdviz.Registry.get_default()
        registry.load_plugins([PLUGIN_DIR])
        if "sse" not in registry.list_types(Cdviz.ComponentKind.SINK):
            raise unittest.SkipTest("the SSE plugin in %s did not register type 'sse'"
                                    % PLUGIN_DIR)
        registry.register_type(Cdviz.ComponentKind.TRANSFORMER, "shout", Shout.__gtype__)

    def test_python_transformer_in_front_of_the_sse_sink(self):
        pipeline = Cdviz.Pipeline.new(config("""
[http]
host = "127.0.0.1"
port = 0

[sources.py]
enabled = true
transformer_refs = ["shout"]

[transformers.shout]
type = "shout"
by = "test_sse"

[sinks.stream]
type = "sse"
id = "py-events"
"""), None)
        pipeline.start()
        self.addCleanup(pipeline.stop)
        port = pipeline.get_http_server().get_port()
        self.assertGreater(port, 0)

        client = SseClient(port, "/sse/py-events")
        self.addCleanup(client.close)
        self.assertEqual(client.status, 200)
        self.assertTrue(client.headers["content-type"].startswith("text/event-stream"))

        sent = [event("sse-%d" % i, message="hello %d" % i) for i in range(3)]
        # The response head is written once the client has its place in the
        # stream, so everything pushed from now on reaches it.
        for m in sent:
            self.assertTrue(pipeline.push("py", m))

        for m in sent:
            frame = client.next_frame()
            self.assertEqual(frame["event"], "cdevent")
            self.assertEqual(frame["id"], m.get_id())
            data = json.loads(frame["data"])
            self.assertEqual(data["context"]["id"], m.get_id())
            original = json.loads(Json.to_string(m.get_body(), False))
            self.assertEqual(data["subject"]["content"]["message"],
                             original["subject"]["content"]["message"].upper())
            self.assertEqual(data["subject"]["content"]["shouted_by"], "test_sse")
            # Compact JSON, exactly what Cdviz.Message serialises.
            self.assertNotIn("\n", frame["data"])

        # Stopping closes the stream cleanly.
        pipeline.stop()
        client.sock.settimeout(5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if not client.sock.recv(65536):
                break
        else:
            self.fail("the stream was not closed by stop()")


if __name__ == "__main__":
    unittest.main()
