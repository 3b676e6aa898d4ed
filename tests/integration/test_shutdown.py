# SPDX-License-Identifier: Apache-2.0
"""Graceful shutdown under load: SIGTERM while 1,000 SSE clients stream
and publishers post. Every event answered 201 reaches every connected
client before its stream ends with the chunked terminator, and the program
exits 0, soon. Bounded to about 30 s."""
import json
import re
import selectors
import socket
import threading
import time
import unittest

from cdviz_testlib import Pipeline, cdevent, raise_nofile, read_response, send_request

CLIENTS = 1000
PUBLISHERS = 2

CONFIG = """
[sources.in]
enabled = true
extractor = { type = "webhook", id = "in" }

[sinks.sse]
type = "sse"
id = "events"
buffer_size = 10000
"""

ID_LINE = re.compile(rb"^id: (.*)$")


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        send_request(self.sock, "GET", "/sse/events")
        self.sock.setblocking(False)
        self.head = None
        self.carry = b""
        self.ids = set()
        self.tail = b""
        self.ended = False

    def feed(self, data):
        if not data:
            self.ended = True
            return
        self.tail = (self.tail + data)[-16:]
        buf = self.carry + data
        if self.head is None:
            if b"\r\n\r\n" not in buf:
                self.carry = buf
                return
            self.head, _, buf = buf.partition(b"\r\n\r\n")
        lines = buf.split(b"\n")
        self.carry = lines.pop()
        for line in lines:
            m = ID_LINE.match(line)
            if m:
                self.ids.add(m.group(1).decode())

    @property
    def terminated(self):
        """The body ended with the last chunk (0 CRLF CRLF)."""
        return self.tail.endswith(b"\r\n0\r\n\r\n")


class Shutdown(unittest.TestCase):
    def test_sigterm_with_1000_clients_and_publishers(self):
        raise_nofile(CLIENTS + 256)
        p = Pipeline(CONFIG, nofile=CLIENTS + 256)
        self.addCleanup(p.close)
        base = json.loads(cdevent("build_started"))

        clients = []
        try:
            for _ in range(CLIENTS):
                clients.append(Client(p.port))
            sel = selectors.DefaultSelector()
            for c in clients:
                sel.register(c.sock, selectors.EVENT_READ, c)

            # Read every stream on a thread until all ended (or the bound).
            done = threading.Event()

            def pump():
                open_clients = len(clients)
                deadline = time.monotonic() + 40
                while open_clients and time.monotonic() < deadline:
                    for key, _ in sel.select(timeout=0.2):
                        c = key.data
                        try:
                            data = c.sock.recv(262144)
                        except BlockingIOError:
                            continue
                        except ConnectionError:
                            data = b""
                        c.feed(data)
                        if c.ended:
                            sel.unregister(c.sock)
                            open_clients -= 1
                done.set()

            reader = threading.Thread(target=pump, daemon=True)
            reader.start()

            # Every client is streaming before the publishers start.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                _, _, metrics = p.request("GET", "/metrics")
                m = re.search(rb'cdviz_sse_clients\{sink="sse",id="events"\} (\d+)', metrics)
                if m and int(m.group(1)) == CLIENTS:
                    break
                time.sleep(0.1)
            self.assertTrue(m and int(m.group(1)) == CLIENTS, metrics)
            self.assertTrue(all(c.head is None or c.head.startswith(b"HTTP/1.1 200")
                                for c in clients))

            accepted = []
            lock = threading.Lock()
            stop_publishing = threading.Event()

            def publish(n):
                i = 0
                s = p.connect()
                try:
                    while not stop_publishing.is_set():
                        event_id = "sd-%d-%d" % (n, i)
                        i += 1
                        ev = dict(base, context=dict(base["context"], id=event_id))
                        try:
                            send_request(s, "POST", "/webhook/in", json.dumps(ev).encode())
                            status, _, _ = read_response(s)
                        except (OSError, EOFError):
                            return
                        if status == 201:
                            with lock:
                                accepted.append(event_id)
                        elif status in (503, 502):
                            return
                        else:
                            self.fail("unexpected status %d" % status)
                        time.sleep(0.005)
                finally:
                    s.close()

            publishers = [threading.Thread(target=publish, args=(n,), daemon=True)
                          for n in range(PUBLISHERS)]
            for t in publishers:
                t.start()
            # SIGTERM once a fair number of events were accepted (the pace
            # depends on this Python client's threads, not on the server).
            deadline = time.monotonic() + 30
            while True:
                with lock:
                    n_accepted = len(accepted)
                if n_accepted >= 20 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            time.sleep(0.2)   # keep publishing while the signal arrives

            start = time.monotonic()
            p.proc.send_signal(15)
            code = p.proc.wait(20)
            stopped_in = time.monotonic() - start
            stop_publishing.set()
            for t in publishers:
                t.join(10)
            self.assertTrue(done.wait(30), "some streams did not end")
        finally:
            for c in clients:
                c.sock.close()

        print("accepted %d events; %d clients; stopped in %.2f s" % (len(accepted), len(clients), stopped_in))
        self.assertEqual(code, 0, p.stderr()[-2000:])
        self.assertLess(stopped_in, 10)
        self.assertGreaterEqual(len(accepted), 20)
        expected = set(accepted)
        missing = [(n, len(expected - c.ids)) for n, c in enumerate(clients)
                   if not expected <= c.ids]
        self.assertEqual(missing, [], "clients missing accepted events (client, count)")
        unterminated = [n for n, c in enumerate(clients) if not c.terminated]
        self.assertEqual(unterminated, [], "streams not ended with the last chunk")


class NoWaitForStreams(unittest.TestCase):
    """SSE streams are not requests in flight: libsoup 3.2.3 emits no
    "request-finished" for a connection taken over, and every SSE client
    used to keep one request counted, so SIGTERM with clients connected
    always waited the HTTP server's whole grace period (1 s) and said
    "Stopping with N requests unanswered"."""

    def test_sigterm_with_sse_clients_does_not_wait(self):
        p = Pipeline(CONFIG, env={"G_MESSAGES_DEBUG": "cdviz"})
        clients = []
        try:
            for _ in range(5):
                clients.append(Client(p.port))
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                _, _, metrics = p.request("GET", "/metrics")
                if b'cdviz_sse_clients{sink="sse",id="events"} 5' in metrics:
                    break
                time.sleep(0.05)
            self.assertIn(b'cdviz_sse_clients{sink="sse",id="events"} 5', metrics)
            p.proc.send_signal(15)
            self.assertEqual(p.proc.wait(20), 0)
            log = p.stderr()
        finally:
            for c in clients:
                c.sock.close()
            p.close()
        self.assertIn("Shutting down", log)
        self.assertNotIn("requests unanswered", log)


if __name__ == "__main__":
    unittest.main()
