#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Scale-out benchmark (issue #17, doc/scale-out.md, doc/performance.md):
webhook -> SSE client through NATS JetStream with 1 and 2 cdviz-pipeline
nodes, beside one node without NATS, and the clients three nodes hold.

  tests/bench/nats-bench.py --build-dir build [--clients 1000] [--burst 2000]
                            [--rate 20] [--latency-events 200]
                            [--capacity-clients 5000] [--repeat 1]
                            [--configs nonats,nats1,nats2,anchor,capacity]
                            [--anchor build/tests/bench/nats-anchor]
                            [--json out.json]

Everything runs on 127.0.0.1: a 3-server JetStream cluster
(tests/nats_cluster.py, started once, one R3 stream per run) and the nodes
of doc/scale-out.md (webhook -> `nats` sink, JetStream publish awaiting the
ack; `nats` source, a durable pull consumer per node -> `sse` sink;
source_refs keep the paths apart). `nonats` is one node whose webhook
feeds its SSE sink directly. Subscribers are sse-sub (one process per
node), events come from sse-pub (one per node, disjoint seq ranges via
--seq-offset, so every client must receive all of them). Per run:

  burst     --clients per node; --burst events posted as fast as 2
            keep-alive connections per node allow, spread over the nodes:
            events/s = burst / (last event received - first published),
            on the slowest node; client-events/s = all deliveries / that
            span; loss
  latency   --clients per node; --latency-events at --rate events/s in
            total (spread over the nodes): p50/p99 of received - published
            (sse-sub's CLOCK_MONOTONIC, the publisher's stamp in
            subject.content.ts), per node; loss
  capacity  three nodes, --capacity-clients each, all connected at once,
            then 20 events at 4/s: clients connected, clients that got all
            20, RSS and descriptors per node
  anchor    no node: nats-anchor (tests/bench/nats-anchor.c) publishes the
            same events the way the nats sink does (one at a time, waiting
            for JetStream's ack) and reads them back through a durable pull
            consumer the way the nats source does, on a fresh R3 stream of
            the same cluster: the burst (--burst events as fast as the acks
            allow) and the latency run (--latency-events at --rate), the
            same figures; the table gives node / anchor

Every load is bounded in count and time (sse-sub and sse-pub timeouts, the
whole run by --deadline seconds); nothing listens beyond loopback.
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import cdviz_testlib  # noqa: E402  (tests/cdviz_testlib.py)
from cdviz_testlib import free_port  # noqa: E402
from nats_cluster import NatsCluster  # noqa: E402  (tests/nats_cluster.py)

NOFILE = 20000
SUB_PATH = "/sse/events"
PUB_PATH = "/webhook/in"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def raise_nofile():
    cdviz_testlib.raise_nofile(NOFILE)


def proc_status_kib(pid, key="VmRSS:"):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return 0


NATS_NODE = """
[http]
host = "127.0.0.1"
port = %(port)d
max_connections = %(maxconn)d

[sources.hook]
enabled = true
[sources.hook.extractor]
type = "webhook"
id = "in"

[sources.bus]
enabled = true
[sources.bus.extractor]
type = "nats"
servers = "%(servers)s"
subject = "%(subject)s"
mode = "jetstream"
stream = "%(stream)s"
consumer = "%(consumer)s"
replay_last = 10000

[sinks.publish]
type = "nats"
servers = "%(servers)s"
subject = "%(subject)s"
mode = "jetstream"
stream = "%(stream)s"
create_stream = true
replicas = 3
timeout = "10s"
queue_capacity = 10000
source_refs = ["hook"]

[sinks.clients]
type = "sse"
id = "events"
buffer_size = 10000
source_refs = ["bus"]
"""

PLAIN_NODE = """
[http]
host = "127.0.0.1"
port = %(port)d
max_connections = %(maxconn)d

[sources.hook]
enabled = true
[sources.hook.extractor]
type = "webhook"
id = "in"

[sinks.clients]
type = "sse"
id = "events"
buffer_size = 10000
"""


class Node:
    def __init__(self, workdir, build_dir, name, nats=None, stream=None):
        self.name = name
        self.port = free_port()
        self.nats = nats
        conf = os.path.join(workdir, name + ".toml")
        params = {"port": self.port, "maxconn": NOFILE}
        if nats is not None:
            params.update(servers=nats.servers, stream=stream,
                          subject="cdevents.%s" % stream.lower(), consumer=name)
        with open(conf, "w") as f:
            f.write((NATS_NODE if nats is not None else PLAIN_NODE) % params)
        env = dict(os.environ, CDVIZ_PLUGIN_SYSTEM_PATH="")
        for k in ("G_DEBUG", "MALLOC_CHECK_", "MALLOC_PERTURB_"):
            env.pop(k, None)   # meson's test env sets them: they slow malloc down
        self.logf = open(os.path.join(workdir, name + ".log"), "wb")
        self.proc = subprocess.Popen(
            [os.path.join(build_dir, "src", "cdviz-pipeline"), "--config", conf,
             "--plugin-dir", os.path.join(build_dir, "plugins")],
            stdout=self.logf, stderr=self.logf, stdin=subprocess.DEVNULL, env=env,
            preexec_fn=raise_nofile)

    def metrics(self):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.port,
                                        timeout=2) as r:
                return r.read().decode()
        except OSError:
            return ""

    def metric(self, name, label):
        m = re.search(r'^%s\{[^}]*%s[^}]*\} (\S+)$' % (re.escape(name), re.escape(label)),
                      self.metrics(), re.M)
        return float(m.group(1)) if m else None

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            text = self.metrics()
            if text and (self.nats is None or
                         (self.metric("cdviz_nats_connected", 'sink="publish"') == 1 and
                          self.metric("cdviz_nats_connected", 'source="bus"') == 1)):
                return
            time.sleep(0.1)
        raise RuntimeError("node %s not ready (see %s)" % (self.name, self.logf.name))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


class Tools:
    def __init__(self, sub, pub):
        self.sub = sub
        self.pub = pub

    def start_subs(self, nodes, clients, events, timeout):
        procs = []
        for n in nodes:   # connect in parallel, one process per node
            procs.append(subprocess.Popen(
                [self.sub, "--port", str(n.port), "--path", SUB_PATH, "--clients", str(clients),
                 "--events", str(events), "--timeout", str(timeout), "--idle-timeout", "20",
                 "--connect-timeout", "120"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                preexec_fn=raise_nofile))
        ready = []
        for p in procs:
            line = p.stdout.readline()
            if not line.startswith("READY"):
                for q in procs:
                    q.kill()
                raise RuntimeError("sse-sub did not get ready: %r %s" % (line, p.stderr.read()))
            _, connected, connect_s = line.split()
            ready.append((int(connected), float(connect_s)))
        return procs, ready

    @staticmethod
    def finish_subs(procs, timeout):
        out = []
        deadline = time.monotonic() + timeout
        for p in procs:
            try:
                o, e = p.communicate(timeout=max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                o, e = p.communicate()
            if e.strip():
                log("  sse-sub: " + e.strip()[:1000])
            out.append(json.loads(o.strip().splitlines()[-1]))
        return out

    def publish(self, nodes, count, rate=0, connections=2, run="0", timeout=120):
        """count events spread over the nodes, disjoint seq ranges, all at once."""
        k = len(nodes)
        share = [count // k + (1 if i < count % k else 0) for i in range(k)]
        procs = []
        off = 0
        for i, n in enumerate(nodes):
            procs.append(subprocess.Popen(
                [self.pub, "--port", str(n.port), "--path", PUB_PATH, "--count", str(share[i]),
                 "--connections", str(connections), "--rate", str(rate / k if rate else 0),
                 "--timeout", str(timeout), "--run", "%s-%d" % (run, i),
                 "--seq-offset", str(off)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            off += share[i]
        res = []
        for p in procs:
            o, e = p.communicate(timeout=timeout + 30)
            if e.strip():
                log("  sse-pub: " + e.strip()[:1000])
            res.append(json.loads(o.strip().splitlines()[-1]))
        return res


def warm_up(nodes, tools, count=10):
    """A few events through the whole path before any subscriber connects
    (consumers created, connections warm); waits until every node's source
    took them. The subscribers connect after, live only: they never see them."""
    tools.publish(nodes[:1], count, run="warm", timeout=30)
    deadline = time.monotonic() + 30
    for n in nodes:
        if n.nats is None:
            continue
        while time.monotonic() < deadline:
            v = n.metric("cdviz_nats_messages_total", 'source="bus"')
            if v is not None and v >= count:
                break
            time.sleep(0.1)
    time.sleep(0.5)


def node_cpu_s(nodes):
    tck = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for n in nodes:
        try:
            with open("/proc/%d/stat" % n.proc.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tck
        except OSError:
            pass
    return total


def run_burst(nodes, tools, clients, burst):
    procs, ready = tools.start_subs(nodes, clients, burst, timeout=150)
    time.sleep(1)
    cpu0 = node_cpu_s(nodes)
    pubs = tools.publish(nodes, burst, connections=2, run="b", timeout=120)
    subs = tools.finish_subs(procs, 180)
    cpu1 = node_cpu_s(nodes)
    span = max(s["span_s"] for s in subs)
    return {
        "nodes": len(nodes), "clients_per_node": clients, "burst": burst,
        "connected": sum(r[0] for r in ready),
        "pub_accepted": sum(p["accepted"] for p in pubs),
        "pub_rejected": sum(p["rejected"] + p["errors"] for p in pubs),
        "pub_per_s": sum(p["accepted_per_s"] for p in pubs),
        "span_s": span,
        "events_per_s": burst / span if span else 0,
        "client_events_per_s": sum(s["events"] for s in subs) / span if span else 0,
        "delivered": sum(s["events"] for s in subs),
        "expected": sum(s["expected"] for s in subs),
        "missing": sum(s["missing"] for s in subs),
        "dups": sum(s["dups"] for s in subs),
        "lat_p50_ms": max(s["lat_p50_ms"] for s in subs),
        "lat_p99_ms": max(s["lat_p99_ms"] for s in subs),
        "node_cpu_s": cpu1 - cpu0, "per_node": subs,
    }


def run_latency(nodes, tools, clients, rate, count):
    procs, ready = tools.start_subs(nodes, clients, count, timeout=count / rate + 90)
    time.sleep(1)
    pubs = tools.publish(nodes, count, rate=rate, connections=1, run="l",
                         timeout=count / rate + 60)
    subs = tools.finish_subs(procs, 120)
    return {
        "nodes": len(nodes), "clients_per_node": clients, "rate": rate, "count": count,
        "connected": sum(r[0] for r in ready),
        "pub_rejected": sum(p["rejected"] + p["errors"] for p in pubs),
        "missing": sum(s["missing"] for s in subs),
        "dups": sum(s["dups"] for s in subs),
        "lat_p50_ms": [s["lat_p50_ms"] for s in subs],
        "lat_p99_ms": [s["lat_p99_ms"] for s in subs],
        "lat_max_ms": [s["lat_max_ms"] for s in subs],
    }


def run_capacity(nodes, tools, clients, count=20, rate=4):
    t0 = time.monotonic()
    procs, ready = tools.start_subs(nodes, clients, count, timeout=count / rate + 150)
    connect_wall = time.monotonic() - t0
    time.sleep(1)
    rss = [proc_status_kib(n.proc.pid) for n in nodes]
    fds = [fd_count(n.proc.pid) for n in nodes]
    pubs = tools.publish(nodes, count, rate=rate, connections=1, run="c",
                         timeout=count / rate + 60)
    subs = tools.finish_subs(procs, 180)
    return {
        "nodes": len(nodes), "clients_per_node": clients, "events": count,
        "connected": sum(r[0] for r in ready), "connect_s": [r[1] for r in ready],
        "connect_wall_s": connect_wall,
        "complete": sum(s["complete"] for s in subs),
        "failed": sum(s["failed"] for s in subs),
        "missing": sum(s["missing"] for s in subs),
        "pub_rejected": sum(p["rejected"] + p["errors"] for p in pubs),
        "lat_p99_ms": [s["lat_p99_ms"] for s in subs],
        "node_rss_kib": rss, "node_fds": fds,
    }


def run_anchor(args, cluster, stream, count, rate, run):
    cmd = [args.anchor, "--servers", cluster.servers, "--stream", stream,
           "--subject", "cdevents.%s" % stream.lower(), "--consumer", "anchor",
           "--count", str(count), "--rate", str(rate), "--replicas", "3",
           "--timeout-ms", "10000", "--run", run, "--deadline-s", "150"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=200)
    if r.stderr.strip():
        log("  nats-anchor: " + r.stderr.strip()[:1000])
    out = json.loads(r.stdout.strip().splitlines()[-1])
    return {
        "count": count, "rate": rate or None,
        "events_per_s": out["events_per_s"], "pub_per_s": out["pub_per_s"],
        "lat_p50_ms": out["p50_ms"], "lat_p99_ms": out["p99_ms"], "lat_max_ms": out["max_ms"],
        "missing": out["published"] - out["received"], "dups": out["duplicates"],
        "pub_rejected": out["failures"],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default=os.path.join(HERE, "..", "..", "build"))
    ap.add_argument("--sub")
    ap.add_argument("--pub")
    ap.add_argument("--configs", default="nonats,nats1,nats2,anchor,capacity")
    ap.add_argument("--anchor", help="nats-anchor (default: BUILD/tests/bench/nats-anchor)")
    ap.add_argument("--clients", type=int, default=1000, help="SSE clients per node")
    ap.add_argument("--burst", type=int, default=2000)
    ap.add_argument("--rate", type=float, default=20, help="latency run: events/s in total")
    ap.add_argument("--latency-events", type=int, default=200)
    ap.add_argument("--capacity-clients", type=int, default=5000,
                    help="capacity run: SSE clients per node (3 nodes)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--deadline", type=float, default=900,
                    help="seconds: no new run starts after this")
    ap.add_argument("--json")
    args = ap.parse_args()
    if args.capacity_clients > NOFILE - 100:
        ap.error("--capacity-clients: at most %d per node" % (NOFILE - 100))
    build = os.path.abspath(args.build_dir)
    tools = Tools(args.sub or os.path.join(build, "tests", "bench", "sse-sub"),
                  args.pub or os.path.join(build, "tests", "bench", "sse-pub"))
    raise_nofile()
    configs = args.configs.split(",")
    args.anchor = args.anchor or os.path.join(build, "tests", "bench", "nats-anchor")
    if "anchor" in configs and not os.access(args.anchor, os.X_OK):
        log("nats-bench: %s not built: no anchor" % args.anchor)
        configs.remove("anchor")
    need_nats = any(c != "nonats" for c in configs)
    if need_nats and not NatsCluster.available():
        log("nats-bench: nats-server is not installed (build-aux/dev installs it)")
        return 77
    if need_nats and not os.path.exists(os.path.join(build, "plugins", "nats",
                                                      "cdviz-nats.so")):
        log("nats-bench: the nats plugin was not built (libnats-dev missing)")
        return 77

    tmp = tempfile.TemporaryDirectory(prefix="nats-bench-")
    t_start = time.monotonic()
    cluster = NatsCluster(3) if need_nats else None
    results = []
    streams = iter(range(1000))
    try:
        for rep in range(args.repeat):
            for cfg in configs:
                if time.monotonic() - t_start > args.deadline:
                    log("nats-bench: --deadline reached, %s skipped" % cfg)
                    continue
                k = {"nonats": 1, "nats1": 1, "nats2": 2, "capacity": 3, "anchor": 0}[cfg]
                stream = "BENCH%d" % next(streams)
                log("[%5.0fs] rep %d %s (%d node%s)" % (time.monotonic() - t_start, rep + 1,
                                                      cfg, k, "s" if k != 1 else ""))
                nodes = []
                r = {"config": cfg, "rep": rep, "loadavg1_before": os.getloadavg()[0]}
                if cfg == "anchor":
                    try:
                        r["burst"] = run_anchor(args, cluster, stream, args.burst, 0, "b")
                        log("  burst " + json.dumps(r["burst"]))
                        r["latency"] = run_anchor(args, cluster, "BENCH%d" % next(streams),
                                                  args.latency_events, args.rate, "l")
                    except Exception as e:   # reported, not fatal
                        log("  FAILED: %s" % e)
                        r["error"] = str(e)
                    log("  " + json.dumps({x: y for x, y in r.items() if x != "burst"}))
                    results.append(r)
                    continue
                try:
                    for i in range(k):
                        nodes.append(Node(tmp.name, build, "%s-%s-%d" % (stream, cfg, i),
                                          cluster if cfg != "nonats" else None, stream))
                    for n in nodes:
                        n.wait_ready()
                    warm_up(nodes, tools)
                    if cfg == "capacity":
                        r["capacity"] = run_capacity(nodes, tools, args.capacity_clients)
                    else:
                        r["burst"] = run_burst(nodes, tools, args.clients, args.burst)
                        log("  burst " + json.dumps({x: y for x, y in r["burst"].items()
                                                     if x != "per_node"}))
                        r["latency"] = run_latency(nodes, tools, args.clients, args.rate,
                                                   args.latency_events)
                except Exception as e:   # a failed run is reported, not fatal
                    log("  FAILED: %s" % e)
                    r["error"] = str(e)
                finally:
                    for n in nodes:
                        n.stop()
                log("  " + json.dumps({x: y for x, y in r.items() if x != "burst"}))
                results.append(r)
    finally:
        if cluster is not None:
            cluster.close()

    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)

    def med(cfg, part, field, agg=max):
        vals = []
        for r in results:
            if r["config"] == cfg and part in r and r[part].get(field) is not None:
                v = r[part][field]
                vals.append(agg(v) if isinstance(v, list) else v)
        return statistics.median(vals) if vals else None

    fmt = lambda v: "-" if v is None else ("%.1f" % v if isinstance(v, float) else str(v))
    loads = [r["loadavg1_before"] for r in results]
    print()
    print("1-min load average before the runs: min %.2f, median %.2f, max %.2f (%d CPUs); "
          "%d SSE clients per node; median of %d"
          % (min(loads), statistics.median(loads), max(loads), os.cpu_count(), args.clients,
             args.repeat))
    names = {"nonats": "1 node, no NATS", "nats1": "1 node via NATS",
             "nats2": "2 nodes via NATS", "anchor": "JetStream alone (anchor)"}
    cols = [c for c in ("nonats", "nats1", "nats2", "anchor") if c in configs]
    ratio = "nats1" in configs and "anchor" in configs
    if cols:
        print("| figure | " + " | ".join(names[c] for c in cols) +
              (" | 1 node via NATS / anchor |" if ratio else " |"))
        print("|---|" + "---:|" * (len(cols) + ratio))
        rows = [
            ("burst of %d: events/s (to every client)" % args.burst, "burst", "events_per_s"),
            ("  client-events/s delivered", "burst", "client_events_per_s"),
            ("  webhook accepted/s (anchor: publications acked/s)", "burst", "pub_per_s"),
            ("  p50 ms in the burst (worst node)", "burst", "lat_p50_ms"),
            ("  p99 ms in the burst (worst node)", "burst", "lat_p99_ms"),
            ("  missing / duplicated / rejected", "burst", None),
            ("  node CPU s (all nodes)", "burst", "node_cpu_s"),
            ("%g ev/s × %d: p50 ms (worst node)" % (args.rate, args.latency_events),
             "latency", "lat_p50_ms"),
            ("  p99 ms (worst node)", "latency", "lat_p99_ms"),
            ("  missing / duplicated / rejected", "latency", None),
        ]
        for label, part, field in rows:
            if field is None:
                vals = ["%s / %s / %s" % (fmt(med(c, part, "missing")), fmt(med(c, part, "dups")),
                                          fmt(med(c, part, "pub_rejected"))) for c in cols]
            else:
                vals = [fmt(med(c, part, field)) for c in cols]
                if ratio:
                    # The burst's latency is the wait in the node's queues,
                    # which the anchor has none of: no ratio there.
                    a, n = med("anchor", part, field), med("nats1", part, field)
                    vals.append("%.2f" % (n / a) if a and n is not None and
                                not (part == "burst" and field.startswith("lat_")) else "-")
            if ratio and field is None:
                vals.append("")
            print("| %s | %s |" % (label, " | ".join(vals)))
    for r in results:
        if "capacity" in r:
            c = r["capacity"]
            print("capacity (rep %d): 3 nodes × %d clients: %d connected (connect %s s), "
                  "%d received all %d events, %d failed, %d missing, p99 ms %s, node RSS MiB %s, "
                  "descriptors %s"
                  % (r["rep"] + 1, c["clients_per_node"], c["connected"],
                     "/".join("%.1f" % x for x in c["connect_s"]), c["complete"], c["events"],
                     c["failed"], c["missing"], "/".join("%.0f" % x for x in c["lat_p99_ms"]),
                     "/".join("%.0f" % (x / 1024) for x in c["node_rss_kib"]),
                     "/".join(str(x) for x in c["node_fds"])))
    failed = [r for r in results if "error" in r]
    sys.stdout.flush()
    tmp.cleanup()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
