# SPDX-License-Identifier: Apache-2.0
"""Helpers for integration tests: run the real cdviz-pipeline on a free
loopback port and talk to it over real sockets.

Environment (set by tests/meson.build): CDVIZ_PIPELINE (the program),
CDVIZ_PLUGIN_DIR (build/plugins), CDVIZ_SHARED (../shared).
"""
import os
import re
import resource
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

PROGRAM = os.environ.get("CDVIZ_PIPELINE", "build/src/cdviz-pipeline")
PLUGIN_DIR = os.environ.get("CDVIZ_PLUGIN_DIR", "build/plugins")
SHARED = os.environ.get("CDVIZ_SHARED",
                        os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
LISTEN_RE = re.compile(rb"Listening on https?://([^:]+):(\d+)")


def cdevent(name="build_started", version="v0.4.1"):
    """Raw bytes of a real CDEvent from ../shared/cdevents."""
    path = os.path.join(SHARED, "cdevents", version, "conformance", name + ".json")
    with open(path, "rb") as f:
        return f.read()


class Pipeline:
    """A running cdviz-pipeline. Use as a context manager."""

    def __init__(self, config, args=(), env=None, expect_start=True, timeout=10,
                 nofile=None, nofile_limit=None):
        """nofile: raise the program's RLIMIT_NOFILE soft limit to this many
        descriptors (at most the hard limit). nofile_limit: (soft, hard)
        limits to start the program with instead."""
        self.tmp = tempfile.TemporaryDirectory(prefix="cdviz-test-")
        self.config_path = os.path.join(self.tmp.name, "config.toml")
        with open(self.config_path, "w") as f:
            f.write(config)
        full_env = dict(os.environ)
        full_env["CDVIZ_PLUGIN_SYSTEM_PATH"] = ""
        full_env.setdefault("G_DEBUG", "fatal-criticals")
        if env:
            full_env.update(env)
        cmd = [PROGRAM, "--config", self.config_path, "--plugin-dir", PLUGIN_DIR,
               "--set", "http.port = 0", "--set", 'http.host = "127.0.0.1"'] + list(args)
        self.stderr_path = os.path.join(self.tmp.name, "stderr.log")
        self.stdout_path = os.path.join(self.tmp.name, "stdout.log")
        self._stderr = open(self.stderr_path, "wb")
        self._stdout = open(self.stdout_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._stdout, stderr=self._stderr,
                                     stdin=subprocess.DEVNULL, env=full_env,
                                     preexec_fn=self._preexec(nofile, nofile_limit))
        self.port = None
        if expect_start:
            self._wait_listening(timeout)

    @staticmethod
    def _preexec(nofile, nofile_limit):
        if nofile_limit:
            return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, nofile_limit)
        if nofile:
            return lambda: raise_nofile(nofile)
        return None

    def _wait_listening(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.stderr_path, "rb") as f:
                m = LISTEN_RE.search(f.read())
            if m:
                self.port = int(m.group(2))
                return
            if self.proc.poll() is not None:
                raise AssertionError("cdviz-pipeline exited with %d:\n%s"
                                     % (self.proc.returncode, self.stderr()))
            time.sleep(0.02)
        raise AssertionError("cdviz-pipeline did not listen in time:\n" + self.stderr())

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def _exit_code(self, rc):
        """The program's exit code. Under AddressSanitizer, LeakSanitizer's
        exit-time tracer sometimes crashes when the machine is loaded ("Tracer
        caught signal 11", "LeakSanitizer has encountered a fatal error"),
        after the program said it "Stopped": a fault of the tool, seen in CI
        on several tests, not a leak report. That one case counts as the
        clean exit the log shows; a leak report ("detected memory leaks"),
        any other sanitizer error or a failed stop still fails."""
        if rc == 0:
            return rc
        text = self.stderr()
        if ("LeakSanitizer has encountered a fatal error" in text and
                "Tracer caught signal" in text and
                "detected memory leaks" not in text and
                "ERROR: AddressSanitizer" not in text and
                "runtime error:" not in text and
                re.search(r"Message: [0-9:.]+: Stopped\n", text)):
            sys.stderr.write("note: LeakSanitizer's tracer crashed at exit after a clean "
                             "stop (exit %d counted as 0)\n" % rc)
            return 0
        return rc

    def wait(self, timeout=10):
        return self._exit_code(self.proc.wait(timeout))

    def stop(self, timeout=10):
        """SIGTERM, wait, return the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self._exit_code(self.proc.wait(timeout))

    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def connect(self):
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def request(self, method, path, body=b"", headers=None, timeout=10):
        """One HTTP/1.1 request on a new connection; returns (status, headers, body)."""
        s = self.connect()
        s.settimeout(timeout)
        try:
            try:
                send_request(s, method, path, body, headers, close=True)
            except (BrokenPipeError, ConnectionResetError):
                # Answered from the head (413, 404…) and closed before the
                # whole body went out: read the answer, as curl does.
                pass
            return read_response(s)
        finally:
            s.close()

    def close(self):
        try:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)
        finally:
            self._stderr.close()
            self._stdout.close()
            self.tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def raise_nofile(n):
    """Raises this process's RLIMIT_NOFILE soft limit to n (at most the hard
    limit); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n if hard == resource.RLIM_INFINITY else min(n, hard)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        soft = want
    return soft


def send_request(sock, method, path, body=b"", headers=None, close=False):
    headers = dict(headers or {})
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1"]
    if body or method in ("POST", "PUT"):
        headers.setdefault("Content-Length", str(len(body)))
    if close:
        headers.setdefault("Connection", "close")
    for k, v in headers.items():
        lines.append("%s: %s" % (k, v))
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)


def _read_until(sock, buf, marker):
    while marker not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed before %r" % marker)
        buf += chunk
    return buf


def read_response(sock, head_only=False):
    """Reads one response (Content-Length, chunked or close-delimited).
    Returns (status, headers dict lower-case, body bytes)."""
    buf = _read_until(sock, b"", b"\r\n\r\n")
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if head_only:
        return status, headers, rest
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(rest) < n:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return status, headers, rest[:n]
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            rest = _read_until(sock, rest, b"\r\n")
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(rest) < size + 2:
                chunk = sock.recv(65536)
                if not chunk:
                    raise EOFError("truncated chunk")
                rest += chunk
            body += rest[:size]
            rest = rest[size + 2:]
            if size == 0:
                return status, headers, body
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return status, headers, rest
        rest += chunk


class SseReader:
    """A raw-socket SSE client: sends the GET, checks the status, then
    de-chunks the stream and splits it into events."""

    def __init__(self, port, path, headers=None, timeout=10, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        send_request(self.sock, "GET", path, headers=headers)
        self.status, self.headers, self._raw = read_response(self.sock, head_only=True)
        self._chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
        self.text = b""      # de-chunked stream bytes received so far
        self.ended = False   # the server ended the body (last chunk or close)
        self._dechunk()      # bytes that came with the response head

    def _feed(self):
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise
        if not chunk:
            self.ended = True
            return False
        self._raw += chunk
        self._dechunk()
        return True

    def _dechunk(self):
        if not self._chunked:
            self.text += self._raw
            self._raw = b""
            return
        while True:
            if b"\r\n" not in self._raw:
                return
            size_line, _, rest = self._raw.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if len(rest) < size + 2:
                return
            self.text += rest[:size]
            self._raw = rest[size + 2:]
            if size == 0:
                self.ended = True
                return

    def read_until(self, predicate, timeout=10):
        deadline = time.monotonic() + timeout
        while not predicate(self.text):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("timed out; stream so far: %r" % self.text[-2000:])
            self.sock.settimeout(remaining)
            if not self._feed():
                if not predicate(self.text):
                    raise AssertionError("stream ended; so far: %r" % self.text[-2000:])
        return self.text

    def read_events(self, n, timeout=10):
        """Returns the first n events (frames ending in a blank line, comments
        excluded) as a list of dicts {'event','id','data'}."""
        def count(text):
            return len(parse_events(text))
        self.read_until(lambda t: count(t) >= n, timeout)
        return parse_events(self.text)[:n]

    def read_to_end(self, timeout=10):
        deadline = time.monotonic() + timeout
        while not self.ended:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("stream did not end")
            self.sock.settimeout(remaining)
            self._feed()
        return self.text

    def close(self):
        self.sock.close()


def parse_events(text):
    """Splits SSE text into events; comment-only frames are skipped."""
    events = []
    for frame in text.split(b"\n\n")[:-1]:
        ev = {}
        for line in frame.split(b"\n"):
            if line.startswith(b":") or not line:
                continue
            k, _, v = line.partition(b":")
            if v.startswith(b" "):
                v = v[1:]
            ev[k.decode()] = v.decode("utf-8")
        if ev:
            events.append(ev)
    return events


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
