#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""SSE fan-out benchmark: cdviz-pipeline (webhook source -> sse sink) against
nginx + nchan (one worker, nchan_message_buffer_length 1000), on the same
scenarios, over loopback. See doc/performance.md.

  tests/bench/sse-bench.py --build-dir build [--repeat 3] [--quick]
                           [--servers cdviz,nchan] [--json out.json]
                           [--profile DIR]

Scenarios (each on a freshly started server, subscribers by sse-sub, events
by sse-pub, both built by meson in BUILD/tests/bench):
  idle     N idle subscribers: server RSS delta / N (KiB per connection), and
           the server's CPU over --idle-hold s with nothing published (not
           in the default set; without it the KiB figure comes from fanout);
           with --idle-events 200,1000, the RSS per connection again after
           each of those counts of events was published to them, at
           --idle-event-rate (so that every client keeps up)
  fanout   N = 1,000 / 10,000 / 19,000 subscribers; one keep-alive publisher
           posts a burst of E events (E <= the 1000-message buffer, so no
           reader that keeps up can be dropped); client-events delivered/s =
           N*E / (last event received - first event published); loss
  fanout4  the same burst from 4 keep-alive publishers (N = 1,000 / 10,000)
  latency  10,000 subscribers, 2 events/s for 30 events: p50/p99 of
           (received - published), the publisher's CLOCK_MONOTONIC stamp
           travels in subject.content.ts
  ingest   no subscriber, 4 keep-alive publishers as fast as possible:
           events accepted (2xx) per second
Every run is bounded in count and time. Figures are medians over --repeat.
"""
import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import cdviz_testlib  # noqa: E402  (tests/cdviz_testlib.py)
from cdviz_testlib import free_port  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NOFILE = 20000
NCHAN_MODULE = "/usr/share/nginx/modules/ngx_nchan_module.so"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def raise_nofile():
    """Raises RLIMIT_NOFILE to NOFILE (a preexec_fn for the servers)."""
    cdviz_testlib.raise_nofile(NOFILE)


def proc_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def proc_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime, stime are fields 14, 15 (1-based) -> index 11, 12 after the comm
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def wait_port(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Server:
    name = ""
    sub_path = ""
    pub_path = ""

    def __init__(self, workdir):
        self.workdir = workdir
        self.port = free_port()
        self.proc = None

    def measured_pids(self):
        return [self.proc.pid]

    def rss_kib(self):
        return sum(proc_rss_kib(p) for p in self.measured_pids())

    def cpu_s(self):
        return sum(proc_cpu_s(p) for p in self.measured_pids())

    def stop(self):
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


class Cdviz(Server):
    name = "cdviz-pipeline"
    sub_path = "/sse/bench"
    pub_path = "/webhook/in"

    def __init__(self, workdir, build_dir):
        super().__init__(workdir)
        self.build_dir = build_dir

    # Extra keys of the webhook's extractor table (ingest-bench.py sets
    # respond = "accepted").
    webhook_keys = ""
    # Extra lines of [http] (ingest-bench.py sets threads = N).
    http_keys = ""

    def start(self):
        conf = os.path.join(self.workdir, "cdviz.toml")
        with open(conf, "w") as f:
            # max_connections: the default (10000) refuses more; nginx gets
            # worker_connections 20000, the descriptor limit of both.
            f.write('[http]\nhost = "127.0.0.1"\nport = %d\nmax_connections = %d\n%s'
                    '[sources.in]\nenabled = true\nextractor = { type = "webhook", id = "in"%s }\n'
                    '[sinks.out]\ntype = "sse"\nid = "bench"\nbuffer_size = 1000\n'
                    % (self.port, NOFILE, self.http_keys, self.webhook_keys))
        env = dict(os.environ, CDVIZ_PLUGIN_SYSTEM_PATH="")
        env.pop("G_DEBUG", None)
        env.pop("MALLOC_CHECK_", None)   # meson's test env sets it: it slows malloc down
        self.log = open(os.path.join(self.workdir, "cdviz.log"), "wb")
        self.proc = subprocess.Popen(
            [os.path.join(self.build_dir, "src", "cdviz-pipeline"), "--config", conf,
             "--plugin-dir", os.path.join(self.build_dir, "plugins")],
            stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL, env=env,
            preexec_fn=raise_nofile)
        if not wait_port(self.port):
            raise RuntimeError("cdviz-pipeline did not start (see %s)" % self.log.name)


NGINX_CONF = """
load_module {module};
worker_processes 1;
worker_rlimit_nofile {nofile};
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{
    worker_connections {nofile};
    use epoll;
}}
http {{
    access_log off;
    keepalive_requests 1000000;   # libsoup has no such limit
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    nchan_message_buffer_length 1000;
    nchan_message_timeout 1h;
    server {{
        listen 127.0.0.1:{port};
        location = /sse/bench {{
            nchan_subscriber eventsource;
            nchan_channel_id bench;
            nchan_subscriber_first_message newest;
        }}
        location = /pub/bench {{
            nchan_publisher;
            nchan_channel_id bench;
        }}
    }}
}}
"""


class Nchan(Server):
    name = "nginx+nchan"
    sub_path = "/sse/bench"
    pub_path = "/pub/bench"

    def start(self):
        conf = os.path.join(self.workdir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(module=NCHAN_MODULE, nofile=NOFILE, dir=self.workdir,
                                      port=self.port))
        self.log = open(os.path.join(self.workdir, "nginx.log"), "wb")
        self.proc = subprocess.Popen(
            [shutil.which("nginx") or "/usr/sbin/nginx", "-p", self.workdir, "-c", conf],
            stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL, preexec_fn=raise_nofile)
        if not wait_port(self.port):
            raise RuntimeError("nginx did not start (see %s)" % self.log.name)
        deadline = time.monotonic() + 5
        while not children(self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)

    def measured_pids(self):
        # The worker holds the connections; the master's RSS does not move.
        return children(self.proc.pid) or [self.proc.pid]

    def stop(self):
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGQUIT if False else signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def ensure_nchan():
    if os.path.exists(NCHAN_MODULE) and shutil.which("nginx"):
        return True
    log("sse-bench: nginx + nchan missing: apt-get install nginx-light libnginx-mod-nchan")
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends",
           "nginx-light", "libnginx-mod-nchan"]
    if os.geteuid() != 0:
        cmd = ["sudo", "-n"] + cmd
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.call(cmd, env=env, stdout=subprocess.DEVNULL)
    # Debian starts the packaged nginx on port 80: not ours, leave it running.
    return os.path.exists(NCHAN_MODULE) and shutil.which("nginx") is not None


class Tools:
    def __init__(self, sub, pub):
        self.sub = sub
        self.pub = pub

    def start_sub(self, server, clients, events=0, hold=0, timeout=120, idle_timeout=10):
        # Connecting is bounded apart: cdviz-pipeline takes minutes for 19,000.
        cmd = [self.sub, "--port", str(server.port), "--path", server.sub_path,
               "--clients", str(clients), "--events", str(events), "--hold", str(hold),
               "--timeout", str(timeout), "--idle-timeout", str(idle_timeout),
               "--connect-timeout", "400"]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=raise_nofile)
        line = p.stdout.readline()
        if not line.startswith("READY"):
            p.kill()
            raise RuntimeError("sse-sub did not get ready: %r %s" % (line, p.stderr.read()))
        _, connected, connect_s = line.split()
        return p, int(connected), float(connect_s)

    @staticmethod
    def finish_sub(p, timeout):
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        if err.strip():
            log("  sse-sub: " + err.strip().replace("\n", "\n  sse-sub: ")[:2000])
        return json.loads(out.strip().splitlines()[-1])

    def pub_run(self, server, count, connections=1, rate=0, timeout=120, run="0",
                seq_offset=0):
        cmd = [self.pub, "--port", str(server.port), "--path", server.pub_path,
               "--count", str(count), "--connections", str(connections), "--rate", str(rate),
               "--timeout", str(timeout), "--run", run, "--seq-offset", str(seq_offset)]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout + 30)
        if r.stderr.strip():
            log("  sse-pub: " + r.stderr.strip()[:2000])
        return json.loads(r.stdout.strip().splitlines()[-1])


def scenario_idle(server, tools, n, hold, events=(), rate=20):
    """N idle subscribers: RSS per connection, and the server's CPU while
    nothing is published (keep-alive comments only) over `hold` seconds.
    Then, for each count in `events`, that many events published at `rate`
    and the RSS per connection again once they were delivered: it must not
    grow while events flow."""
    time.sleep(0.5)
    before = server.rss_kib()
    cpu0 = server.cpu_s()
    # The subscribers stay connected through the event steps too.
    steps_s = sum(count / rate + 5 for count in events)
    p, connected, connect_s = tools.start_sub(server, n, hold=hold + 3 + steps_s,
                                              timeout=hold + steps_s + 60)
    cpu1 = server.cpu_s()
    time.sleep(1)
    after = server.rss_kib()
    cpu2 = server.cpu_s()
    time.sleep(hold)
    cpu3 = server.cpu_s()
    res = {"n": n, "connected": connected, "connect_s": connect_s, "rss_before_kib": before,
           "rss_after_kib": after, "kib_per_conn": (after - before) / max(connected, 1),
           "server_cpu_connect_s": cpu1 - cpu0, "idle_hold_s": hold,
           "idle_cpu_pct": 100 * (cpu3 - cpu2) / hold}
    published = accepted = 0
    for count in events:
        pub = tools.pub_run(server, count, rate=rate, timeout=count / rate + 60,
                            run="e%d" % published, seq_offset=published)
        published += count
        accepted += pub["accepted"]
        time.sleep(2)   # delivered: at this rate every client keeps up
        rss = server.rss_kib()
        res["rss_after_%d_events_kib" % published] = rss
        res["kib_per_conn_after_%d_events" % published] = (rss - before) / max(connected, 1)
    sub = tools.finish_sub(p, hold + steps_s + 60)
    res.update({"failed": sub["failed"], "comments": sub["comments"],
                "published": accepted,
                # events=0 for sse-sub: every event counts as "other"
                "events_received": sub["other_events"] + sub["events"],
                "closed_early": sub["closed_early"]})
    return res


def scenario_fanout(server, tools, n, events, publishers=1, profile=None):
    time.sleep(0.5)
    rss_before = server.rss_kib()
    p, connected, connect_s = tools.start_sub(server, n, events=events, timeout=180,
                                              idle_timeout=15)
    time.sleep(1)
    rss = server.rss_kib()
    perf = None
    if profile:
        perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "999", "-g",
                                 "-p", str(server.proc.pid), "-o", profile],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
    cpu0 = server.cpu_s()
    t0 = time.monotonic()
    pub = tools.pub_run(server, events, connections=publishers, timeout=150, run="f%d" % n)
    sub = tools.finish_sub(p, 240)
    wall = time.monotonic() - t0
    cpu1 = server.cpu_s()
    if perf:
        perf.send_signal(signal.SIGINT)
        perf.wait(60)
    return {"n": n, "events": events, "publishers": publishers, "connected": connected,
            "connect_s": connect_s, "rss_before_kib": rss_before, "rss_kib": rss,
            "kib_per_conn": (rss - rss_before) / max(connected, 1),
            "failed": sub["failed"], "connect_errors": sub["connect_errors"],
            "closed_before_head": sub["closed_before_head"], "delivered_per_s": sub["events_per_s"], "span_s": sub["span_s"],
            "delivered": sub["events"], "expected": sub["expected"], "missing": sub["missing"],
            "reordered": sub["reordered"], "closed_early": sub["closed_early"],
            "other_events": sub["other_events"],
            "lat_p50_ms": sub["lat_p50_ms"], "lat_p99_ms": sub["lat_p99_ms"],
            "server_cpu_s": cpu1 - cpu0, "wall_s": wall,
            "server_cpu_pct": 100 * (cpu1 - cpu0) / max(sub["span_s"], 1e-9),
            "sub_cpu_s": sub["cpu_s"], "pub_cpu_s": pub["cpu_s"],
            "pub_accepted": pub["accepted"], "pub_per_s": pub["accepted_per_s"]}


def scenario_latency(server, tools, n, rate, count):
    p, connected, connect_s = tools.start_sub(server, n, events=count, timeout=180,
                                              idle_timeout=15)
    time.sleep(1)
    cpu0 = server.cpu_s()
    pub = tools.pub_run(server, count, connections=1, rate=rate, timeout=count / rate + 60,
                        run="l%d" % n)
    sub = tools.finish_sub(p, 120)
    cpu1 = server.cpu_s()
    return {"n": n, "rate": rate, "count": count, "connected": connected,
            "lat_p50_ms": sub["lat_p50_ms"], "lat_p99_ms": sub["lat_p99_ms"],
            "lat_max_ms": sub["lat_max_ms"], "delivered": sub["events"],
            "missing": sub["missing"], "reordered": sub["reordered"],
            "server_cpu_s": cpu1 - cpu0, "sub_cpu_s": sub["cpu_s"], "pub_cpu_s": pub["cpu_s"]}


def scenario_ingest(server, tools, count, connections):
    time.sleep(0.3)
    cpu0 = server.cpu_s()
    pub = tools.pub_run(server, count, connections=connections, timeout=90, run="i")
    cpu1 = server.cpu_s()
    return {"count": count, "connections": connections, "accepted": pub["accepted"],
            "rejected": pub["rejected"], "errors": pub["errors"],
            "accepted_per_s": pub["accepted_per_s"], "elapsed_s": pub["elapsed_s"],
            "mean_response_ms": pub["mean_response_ms"], "server_cpu_s": cpu1 - cpu0,
            "server_cpu_pct": 100 * (cpu1 - cpu0) / max(pub["elapsed_s"], 1e-9),
            "pub_cpu_s": pub["cpu_s"]}


def idle_event_counts(args):
    return [int(c) for c in args.idle_events.split(",") if c] if args.idle_events else []


def fanout_events(n):
    # A burst no larger than the 1000-message buffer, ~2M client-events.
    return max(100, min(500, 2000000 // n))


def run_one(kind, server, tools, args, key, rep):
    server.start()
    try:
        if kind == "idle":
            return scenario_idle(server, tools, args.idle_clients, args.idle_hold,
                                 idle_event_counts(args), args.idle_event_rate)
        if kind == "fanout4":
            return scenario_fanout(server, tools, key, fanout_events(key), 4)
        if kind == "fanout":
            profile = None
            if args.profile and isinstance(server, Cdviz) and rep == 0 and key == args.profile_n:
                os.makedirs(args.profile, exist_ok=True)
                profile = os.path.join(args.profile, "perf-fanout-%d.data" % key)
            return scenario_fanout(server, tools, key, fanout_events(key),
                                   args.fanout_publishers, profile)
        if kind == "latency":
            return scenario_latency(server, tools, args.latency_clients, 2, args.latency_events)
        if kind == "ingest":
            return scenario_ingest(server, tools, args.ingest_count, 4)
    finally:
        server.stop()
    raise ValueError(kind)


def median(results, field):
    vals = [r[field] for r in results if r is not None and field in r]
    return statistics.median(vals) if vals else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default=os.path.join(HERE, "..", "..", "build"))
    ap.add_argument("--sub", help="sse-sub binary (default BUILD/tests/bench/sse-sub)")
    ap.add_argument("--pub", help="sse-pub binary (default BUILD/tests/bench/sse-pub)")
    ap.add_argument("--servers", default="cdviz,nchan")
    ap.add_argument("--scenarios", default="fanout,fanout4,latency,ingest",
                    help="idle,fanout,fanout4,latency,ingest; without idle, the idle figure comes "
                    "from the fan-out run at N = --idle-clients (RSS after connecting, "
                    "before publishing)")
    ap.add_argument("--fanout-publishers", type=int, default=1,
                    help="keep-alive publisher connections of the fan-out burst")
    ap.add_argument("--fanout4", default="1000,10000",
                    help="subscriber counts of the fanout4 scenario (the burst from 4 "
                    "keep-alive publishers)")
    ap.add_argument("--fanout", default="1000,10000,19000",
                    help="subscriber counts of the fan-out scenario")
    ap.add_argument("--idle-clients", type=int, default=10000)
    ap.add_argument("--idle-hold", type=float, default=40,
                    help="idle scenario: seconds of server CPU measured with nothing published")
    ap.add_argument("--idle-events", default="",
                    help="idle scenario: counts of events published one after the other once "
                    "the subscribers are idle (e.g. 200,1000), each followed by the RSS per "
                    "connection: it must not grow while events flow")
    ap.add_argument("--idle-event-rate", type=float, default=20,
                    help="idle scenario: events/s of --idle-events (at 50/s, 10,000 subscribers "
                    "and sse-sub on 2 cores did not all keep up)")
    ap.add_argument("--latency-clients", type=int, default=10000)
    ap.add_argument("--latency-events", type=int, default=30)
    ap.add_argument("--ingest-count", type=int, default=100000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--http-threads", type=int, default=1,
                    help="cdviz-pipeline's [http] threads (default 1)")
    ap.add_argument("--quick", action="store_true",
                    help="small counts, one repetition (a smoke test, not a measurement)")
    ap.add_argument("--json", help="write every raw result here")
    ap.add_argument("--profile", help="perf record cdviz-pipeline in one fan-out run into DIR")
    ap.add_argument("--profile-n", type=int, default=10000)
    args = ap.parse_args()
    if args.quick:
        args.fanout = "200,1000"
        args.fanout4 = "1000"
        args.idle_clients = 1000
        args.idle_hold = 5
        args.latency_clients = 500
        args.latency_events = 6
        args.ingest_count = 5000
        args.repeat = 1
        args.profile_n = 1000
    build = os.path.abspath(args.build_dir)
    tools = Tools(args.sub or os.path.join(build, "tests", "bench", "sse-sub"),
                  args.pub or os.path.join(build, "tests", "bench", "sse-pub"))
    raise_nofile()

    server_names = args.servers.split(",")
    if "nchan" in server_names and not ensure_nchan():
        log("sse-bench: nginx + nchan unavailable: measuring cdviz-pipeline only")
        server_names.remove("nchan")

    tmp = tempfile.TemporaryDirectory(prefix="sse-bench-")

    def make(name):
        d = tempfile.mkdtemp(dir=tmp.name, prefix=name + "-")
        if name != "cdviz":
            return Nchan(d)
        server = Cdviz(d, build)
        if args.http_threads > 1:
            server.http_keys = "threads = %d\n" % args.http_threads
        return server

    plan = []
    scen = args.scenarios.split(",")
    if "idle" in scen:
        plan.append(("idle", args.idle_clients))
    if "fanout" in scen:
        plan += [("fanout", int(n)) for n in args.fanout.split(",")]
    if "fanout4" in scen:
        plan += [("fanout4", int(n)) for n in args.fanout4.split(",")]
    if "latency" in scen:
        plan.append(("latency", args.latency_clients))
    if "ingest" in scen:
        plan.append(("ingest", 0))

    results = {}   # (kind, key, server) -> [result]
    t_start = time.monotonic()
    for rep in range(args.repeat):
        for kind, key in plan:
            for name in server_names:   # interleaved: both servers see the same conditions
                server = make(name)
                log("[%5.0fs] rep %d %s %s %s" % (time.monotonic() - t_start, rep + 1, kind,
                                                  key or "", server.name))
                load = os.getloadavg()[0]
                try:
                    r = run_one(kind, server, tools, args, key, rep)
                    r["loadavg1_before"] = load   # other work on the box skews the figures
                except Exception as e:   # a failed run is reported, not fatal
                    log("  FAILED: %s" % e)
                    r = None
                log("  " + json.dumps(r))
                results.setdefault((kind, key, name), []).append(r)

    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"kind": k[0], "key": k[1], "server": k[2], "runs": v}
                       for k, v in results.items()], f, indent=1)

    # The table: median of each figure, cdviz / nchan, the target.
    def fig(kind, key, name, field):
        return median(results.get((kind, key, name), []), field)

    rows = []
    if "idle" in scen or ("fanout" in scen and
                          str(args.idle_clients) in args.fanout.split(",")):
        src = "idle" if "idle" in scen else "fanout"
        rows.append(("idle KiB per connection (N=%d)" % args.idle_clients,
                     src, args.idle_clients, "kib_per_conn", "<= 0.5x", lambda r: r <= 0.5))
        rows.append(("  connect time s (N=%d)" % args.idle_clients,
                     src, args.idle_clients, "connect_s", "", None))
        if src == "idle":
            rows.append(("  server CPU %% idle, nothing published (N=%d)" % args.idle_clients,
                         src, args.idle_clients, "idle_cpu_pct", "", None))
            published = 0
            for count in idle_event_counts(args):
                published += count
                rows.append(("  KiB per connection after %d events (N=%d)"
                             % (published, args.idle_clients), src, args.idle_clients,
                             "kib_per_conn_after_%d_events" % published, "", None))
            if published:
                rows.append(("  events received, all clients (N=%d)" % args.idle_clients,
                             src, args.idle_clients, "events_received", "", None))
    if "fanout" in scen:
        for n in args.fanout.split(","):
            n = int(n)
            target = ">= 1.5x" if n in (1000, 10000) else ""
            rows.append(("fan-out client-events/s, N=%d" % n, "fanout", n, "delivered_per_s",
                         target, (lambda r: r >= 1.5) if target else None))
            rows.append(("  loss (missing events), N=%d" % n, "fanout", n, "missing",
                         "0" if n == 19000 else "", None))
            rows.append(("  connected, N=%d" % n, "fanout", n, "connected", "", None))
            rows.append(("  failed connections, N=%d" % n, "fanout", n, "failed", "", None))
            rows.append(("  connect time s, N=%d" % n, "fanout", n, "connect_s", "", None))
            rows.append(("  latency p99 ms in the burst, N=%d" % n, "fanout", n, "lat_p99_ms",
                         "", None))
            rows.append(("  server CPU s, N=%d" % n, "fanout", n, "server_cpu_s", "", None))
            rows.append(("  load-gen CPU s (sub), N=%d" % n, "fanout", n, "sub_cpu_s", "", None))
    if "fanout4" in scen:
        for n in args.fanout4.split(","):
            n = int(n)
            rows.append(("fan-out client-events/s, 4 publishers, N=%d" % n, "fanout4", n,
                         "delivered_per_s", "", None))
            rows.append(("  loss (missing events), N=%d" % n, "fanout4", n, "missing", "", None))
            rows.append(("  latency p99 ms in the burst, N=%d" % n, "fanout4", n, "lat_p99_ms",
                         "", None))
            rows.append(("  server CPU s, N=%d" % n, "fanout4", n, "server_cpu_s", "", None))
    if "latency" in scen:
        n = args.latency_clients
        rows.append(("latency p50 ms, N=%d, 2 ev/s" % n, "latency", n, "lat_p50_ms", "", None))
        rows.append(("latency p99 ms, N=%d, 2 ev/s" % n, "latency", n, "lat_p99_ms", "<= 0.5x",
                     lambda r: r <= 0.5))
        rows.append(("  loss (missing events)", "latency", n, "missing", "0", None))
        rows.append(("  server CPU s", "latency", n, "server_cpu_s", "", None))
    if "ingest" in scen:
        rows.append(("ingest events/s (4 keep-alive publishers)", "ingest", 0, "accepted_per_s",
                     ">= 1.0x", lambda r: r >= 1.0))
        rows.append(("  server CPU %", "ingest", 0, "server_cpu_pct", "", None))
        rows.append(("  load-gen CPU s (pub)", "ingest", 0, "pub_cpu_s", "", None))

    a, b = (server_names + [None, None])[:2]
    loads = [r["loadavg1_before"] for v in results.values() for r in v if r]
    print()
    if loads:
        print("1-min load average before the runs: min %.2f, median %.2f, max %.2f "
              "(%d CPUs)" % (min(loads), statistics.median(loads), max(loads), os.cpu_count()))
    print("| figure (median of %d) | %s | %s | ratio | target | met |" % (
        args.repeat, Cdviz.name if a == "cdviz" else a, Nchan.name if b == "nchan" else b or "-"))
    print("|---|---:|---:|---:|---|---|")
    for label, kind, key, field, target, test in rows:
        va = fig(kind, key, a, field)
        vb = fig(kind, key, b, field) if b else None
        ratio = va / vb if va is not None and vb not in (None, 0) else None
        met = "" if test is None or ratio is None else ("yes" if test(ratio) else "NO")
        fmt = lambda v: "-" if v is None else ("%.1f" % v if isinstance(v, float) else str(v))
        print("| %s | %s | %s | %s | %s | %s |" % (label, fmt(va), fmt(vb),
                                                   "-" if ratio is None else "%.2f" % ratio,
                                                   target, met))
    sys.stdout.flush()
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
