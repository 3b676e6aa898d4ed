# SPDX-License-Identifier: Apache-2.0
"""Drops a running pipeline under webhook load and ends without stop().

Run as a program by test_lifetime.py (30 times). Threads keep POSTing to the
webhook while the last Python reference goes and while the interpreter shuts
down; a Python transformer runs on the pipeline thread all along. Before the
fix this died in about one run in three: 'Resource deadlock avoided' in
pthread_join (dispose ran on the HTTP thread and joined it) or SIGSEGV (the
pipeline called Python code during interpreter shutdown).
"""
import gc
import http.client
import random
import sys
import threading
import time

from python.gitestlib import PLUGIN_DIR, Cdviz, GObject, cdevent_text, config


class Touch(GObject.Object, Cdviz.Transformer):
    __gtype_name__ = "PyDropTouch"

    def do_transform(self, message):
        time.sleep(0.0005)
        return [message]


class Count(GObject.Object, Cdviz.Sink):
    __gtype_name__ = "PyDropCount"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.count = 0

    def do_send_message(self, message):
        self.count += 1
        return True


def post_forever(port, body):
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("POST", "/webhook/load", body=body,
                         headers={"Content-Type": "application/json"})
            conn.getresponse().read()
            conn.close()
        except OSError:
            time.sleep(0.001)


def main():
    registry = Cdviz.Registry.get_default()
    registry.load_plugins([PLUGIN_DIR])
    if "webhook" not in registry.list_types(Cdviz.ComponentKind.SOURCE):
        print("SKIP: no webhook plugin in", PLUGIN_DIR)
        return 77
    registry.register_type(Cdviz.ComponentKind.TRANSFORMER, "touch", Touch.__gtype__)
    registry.register_type(Cdviz.ComponentKind.SINK, "count", Count.__gtype__)

    pipeline = Cdviz.Pipeline.new(config("""
[http]
port = 0

[sources.load]
enabled = true
transformer_refs = ["touch"]
extractor = { type = "webhook", id = "load" }

[transformers.touch]
type = "touch"

[sinks.count]
type = "count"
"""), None)
    pipeline.start()
    port = pipeline.get_http_server().get_port()
    body = cdevent_text().encode()
    for _ in range(4):
        threading.Thread(target=post_forever, args=(port, body), daemon=True).start()
    time.sleep(random.uniform(0.05, 0.2))
    del pipeline
    gc.collect()
    time.sleep(random.uniform(0.0, 0.1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
