# SPDX-License-Identifier: Apache-2.0
"""A JetStream cluster of real nats-server processes on free loopback ports,
in a temporary directory (Debian's nats-server, which build-aux/dev
installs). NatsCluster.available() says whether it can run."""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from cdviz_testlib import free_port

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


class NatsCluster:
    def __init__(self, size=3, extra=""):
        """extra: configuration appended to every server's (authorization…)."""
        self.extra = extra
        self.tmp = tempfile.TemporaryDirectory(prefix="cdviz-nats-")
        self.size = size
        self.ports = [free_port() for _ in range(size)]
        self.cluster_ports = [free_port() for _ in range(size)]
        self.http_ports = [free_port() for _ in range(size)]
        self.procs = [None] * size
        for i in range(size):
            self._write_config(i)
        for i in range(size):
            self.start(i)
        self.wait_ready()

    @staticmethod
    def available():
        return os.access(NATS_SERVER, os.X_OK)

    @property
    def servers(self):
        return ",".join("nats://127.0.0.1:%d" % p for p in self.ports)

    def _write_config(self, i):
        d = os.path.join(self.tmp.name, "n%d" % i)
        os.makedirs(d, exist_ok=True)
        routes = ",".join('"nats-route://127.0.0.1:%d"' % p
                          for j, p in enumerate(self.cluster_ports) if j != i)
        conf = """
server_name: n%d
listen: 127.0.0.1:%d
http: 127.0.0.1:%d
jetstream { store_dir: "%s" }
""" % (i, self.ports[i], self.http_ports[i], d) + self.extra
        if self.size > 1:
            conf += """
cluster {
  name: cdviz
  listen: 127.0.0.1:%d
  routes: [%s]
}
""" % (self.cluster_ports[i], routes)
        with open(os.path.join(d, "nats.conf"), "w") as f:
            f.write(conf)

    def start(self, i):
        d = os.path.join(self.tmp.name, "n%d" % i)
        log = open(os.path.join(d, "log"), "ab")
        self.procs[i] = subprocess.Popen([NATS_SERVER, "-c", os.path.join(d, "nats.conf")],
                                         stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()

    def kill(self, i):
        p = self.procs[i]
        if p and p.poll() is None:
            p.kill()
            p.wait(10)

    def log(self, i):
        with open(os.path.join(self.tmp.name, "n%d" % i, "log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_ready(self, timeout=30):
        """Every server listens, and JetStream has a meta leader."""
        deadline = time.monotonic() + timeout
        for i, port in enumerate(self.ports):
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise AssertionError("nats-server n%d did not listen:\n%s"
                                             % (i, self.log(i)))
                    time.sleep(0.05)
        # /healthz answers 200 once the server's JetStream is current
        # (meta leader known, its streams caught up).
        for i, port in enumerate(self.http_ports):
            while True:
                try:
                    with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port,
                                                timeout=2) as r:
                        if r.status == 200:
                            break
                except (OSError, urllib.error.URLError):
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError("nats-server n%d: JetStream not healthy:\n%s"
                                         % (i, self.log(i)))
                time.sleep(0.1)

    def close(self):
        for i in range(self.size):
            self.kill(i)
        self.tmp.cleanup()
