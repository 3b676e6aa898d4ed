# SPDX-License-Identifier: Apache-2.0
"""Cdviz.HttpServer from Python: built from its properties, as
g_object_new() builds it; one run per server, said clearly."""
import socket
import unittest

from gi.repository import Gio

from python.gitestlib import Cdviz, GLib


def get(port, path):
    """Status code of a GET on 127.0.0.1:port."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                   % path).encode())
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split()[1])


class HttpServerTest(unittest.TestCase):
    def test_defaults_from_the_properties(self):
        server = Cdviz.HttpServer()
        self.assertEqual(server.props.host, "127.0.0.1")
        self.assertEqual(server.props.port, 8080)
        self.assertEqual(server.props.header_timeout, 10000)
        self.assertEqual(server.props.max_connections, 10000)
        self.assertEqual(server.props.tls_min_version, Gio.TlsProtocolVersion.TLS_1_2)
        self.assertFalse(server.is_running())

    def test_runs_once(self):
        server = Cdviz.HttpServer(host="127.0.0.1", port=0, max_headers=10)
        server.start()
        try:
            port = server.get_port()
            self.assertNotEqual(port, 0)
            self.assertEqual(server.props.port, port)
            self.assertEqual(get(port, "/healthz"), 200)
            self.assertEqual(get(port, "/nope"), 404)
        finally:
            server.stop()
        self.assertFalse(server.is_running())
        with self.assertRaises(GLib.Error) as cm:
            server.start()
        self.assertIn("a server runs once", cm.exception.message)
        self.assertTrue(cm.exception.matches(Cdviz.http_server_error_quark(),
                                             Cdviz.HttpServerError.STATE))

    def test_failed_start_can_be_retried(self):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        server = Cdviz.HttpServer(host="127.0.0.1", port=port)
        with self.assertRaises(GLib.Error) as cm:
            server.start()
        self.assertIn("Cannot listen on 127.0.0.1:%d" % port, cm.exception.message)
        busy.close()
        server.start()
        try:
            self.assertEqual(get(port, "/healthz"), 200)
        finally:
            server.stop()


class ThreadsTest(unittest.TestCase):
    """threads > 1: a route must be marked thread-safe, then its handler
    runs on every HTTP thread."""

    def test_unmarked_route_refuses_to_start(self):
        server = Cdviz.HttpServer(host="127.0.0.1", port=0, threads=2)
        self.assertEqual(server.props.threads, 2)
        server.add_handler("/py/hook", "source 'hook'", lambda *args: None)
        with self.assertRaises(GLib.Error) as cm:
            server.start()
        self.assertEqual(cm.exception.message,
                         "[http] threads = 2, but source 'hook' serves /py/hook on one HTTP "
                         "thread only: set threads = 1")
        self.assertTrue(cm.exception.matches(Cdviz.http_server_error_quark(),
                                             Cdviz.HttpServerError.NOT_THREAD_SAFE))
        self.assertFalse(server.is_running())

    def test_marked_route_served_by_every_thread(self):
        import threading
        server = Cdviz.HttpServer(host="127.0.0.1", port=0, threads=3)
        seen = set()

        def handle(srv, msg, path, query):
            seen.add(threading.current_thread().ident)
            msg.set_status(204, None)

        server.add_handler("/py/hook", "source 'hook'", handle)
        server.set_thread_safe("/py/hook", True)
        server.start()
        try:
            port = server.get_port()
            # Connections go to the thread with the fewest: 9 kept open
            # at once spread over the 3.
            socks = [socket.create_connection(("127.0.0.1", port), timeout=10)
                     for _ in range(9)]
            try:
                for s in socks:
                    s.sendall(b"GET /py/hook HTTP/1.1\r\nHost: x\r\n\r\n")
                for s in socks:
                    self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 204"))
            finally:
                for s in socks:
                    s.close()
        finally:
            server.stop()
        self.assertEqual(len(seen), 3)


class GirTest(unittest.TestCase):
    """The GIR says which callbacks may be None: none of the handlers."""

    def test_callbacks_are_not_nullable(self):
        import os
        import xml.etree.ElementTree as ET
        from python.gitestlib import BUILD_ROOT
        ns = {"g": "http://www.gtk.org/introspection/core/1.0"}
        tree = ET.parse(os.path.join(BUILD_ROOT, "src", "Cdviz-1.0.gir"))
        cls = tree.find(".//g:class[@name='HttpServer']", ns)
        wanted = {"add_handler": "callback", "set_early_handler": "callback",
                  "add_metrics_func": "func", "invoke_sync": "func"}
        for method, param in wanted.items():
            node = cls.find("g:method[@name='%s']/g:parameters/g:parameter[@name='%s']"
                            % (method, param), ns)
            self.assertIsNotNone(node, method)
            self.assertNotEqual(node.get("nullable"), "1", method)


if __name__ == "__main__":
    unittest.main()
