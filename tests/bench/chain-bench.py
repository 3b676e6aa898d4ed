#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Collector-to-collector benchmark (issue #15, doc/performance.md):
webhook -> regional node -> (SSE source) central node -> 1,000 SSE clients,
beside a direct webhook -> SSE node, in the same invocation.

  tests/bench/chain-bench.py --build-dir build [--clients 1000] [--burst 2000]
                             [--rate 20] [--latency-events 100] [--repeat 3]
                             [--deadline 900] [--json out.json]

Everything runs on 127.0.0.1. `direct` is one node (webhook -> SSE sink);
`chain` is a regional node (webhook -> SSE sink) and a central node whose
SSE source reads the regional stream into its own SSE sink. Subscribers
are sse-sub (--clients on the node clients read: the direct node, or the
central one; in the chain also one probe client on the regional node),
events come from sse-pub into the webhook. Per run, on fresh nodes:

  burst    --burst events as fast as one keep-alive connection posts them:
           events/s = burst / (last event received - first published) on
           the clients' node; client-events/s; loss and duplicates
  latency  --latency-events at --rate events/s: p50/p99 of received -
           published (the publisher's CLOCK_MONOTONIC stamp travels in
           subject.content.ts) at the regional probe (webhook accept ->
           regional SSE frame, one client) and at the central clients (->
           central SSE frame); the central hop adds the chain's figure less
           the direct node's (both with --clients on the node read)

Medians over --repeat runs. Every load is bounded in count and time
(sse-sub and sse-pub timeouts; no new run starts after --deadline s).
"""
import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from cdviz_testlib import free_port  # noqa: E402  (tests/cdviz_testlib.py)

# sse-sub/sse-pub drivers, shared with the scale-out benchmark.
_spec = importlib.util.spec_from_file_location("nats_bench", os.path.join(HERE, "nats-bench.py"))
nats_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nats_bench)
Tools, log, node_cpu_s, raise_nofile = (nats_bench.Tools, nats_bench.log, nats_bench.node_cpu_s,
                                        nats_bench.raise_nofile)

HTTP = """
[http]
host = "127.0.0.1"
port = %(port)d
max_connections = 20000
"""

WEBHOOK = """
[sources.hook]
enabled = true
extractor = { type = "webhook", id = "in" }
"""

FROM_REGIONAL = """
[sources.regional]
enabled = true
[sources.regional.extractor]
type = "sse"
url = "http://127.0.0.1:%(upstream)d/sse/events"
retry_delay = "100ms"
"""

# Every node's clients read /sse/events (what the shared Tools expect).
SSE_SINK = """
[sinks.clients]
type = "sse"
id = "events"
buffer_size = 10000
"""


class Node(nats_bench.Node):
    """A node with its own configuration; metrics and stop as the
    scale-out benchmark's."""

    def __init__(self, workdir, build_dir, name, body, **params):
        self.name = name
        self.port = free_port()
        self.nats = None
        conf = os.path.join(workdir, name + ".toml")
        with open(conf, "w") as f:
            f.write((HTTP + body) % dict(params, port=self.port))
        env = dict(os.environ, CDVIZ_PLUGIN_SYSTEM_PATH="")
        for k in ("G_DEBUG", "MALLOC_CHECK_", "MALLOC_PERTURB_"):
            env.pop(k, None)   # meson's test env sets them: they slow malloc down
        self.logf = open(os.path.join(workdir, name + ".log"), "wb")
        self.proc = subprocess.Popen(
            [os.path.join(build_dir, "src", "cdviz-pipeline"), "--config", conf,
             "--plugin-dir", os.path.join(build_dir, "plugins")],
            stdout=self.logf, stderr=self.logf, stdin=subprocess.DEVNULL, env=env,
            preexec_fn=raise_nofile)

    def wait(self, name, label, value, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            v = self.metric(name, label)
            if v is not None and v >= value:
                return
            time.sleep(0.05)
        raise RuntimeError("node %s: %s{%s} never reached %s (see %s)"
                           % (self.name, name, label, value, self.logf.name))


def start(topology, workdir, build_dir, tools):
    """(publish-to node, clients' node, probe node or None, every node)."""
    if topology == "direct":
        node = Node(workdir, build_dir, "direct", WEBHOOK + SSE_SINK)
        node.wait("cdviz_sse_clients", 'sink="clients"', 0)
        return node, node, None, [node]
    regional = Node(workdir, build_dir, "regional", WEBHOOK + SSE_SINK)
    regional.wait("cdviz_sse_clients", 'sink="clients"', 0)
    central = Node(workdir, build_dir, "central", FROM_REGIONAL + SSE_SINK,
                   upstream=regional.port)
    # The central node's SSE source is a client of the regional sink; a few
    # events through the whole chain before any subscriber connects (they
    # connect after, live: they never see these).
    regional.wait("cdviz_sse_clients", 'sink="clients"', 1)
    tools.publish([regional], 10, run="warm", timeout=30)
    central.wait("cdviz_sse_source_events_pushed_total", 'source="regional"', 10)
    return regional, central, regional, [regional, central]


def run(kind, topology, workdir, build_dir, tools, args):
    entry, clients_node, probe, nodes = start(topology, workdir, build_dir, tools)
    try:
        events = args.burst if kind == "burst" else args.latency_events
        timeout = 150 if kind == "burst" else events / args.rate + 90
        procs, ready = tools.start_subs([clients_node], args.clients, events, timeout)
        if probe is not None:
            probe_procs, _ = tools.start_subs([probe], 1, events, timeout)
            procs += probe_procs
        time.sleep(1)
        cpu0 = node_cpu_s(nodes)
        if kind == "burst":
            # One connection: the order of seq is the order posted, so a
            # reordering anywhere in the chain shows.
            pubs = tools.publish([entry], events, connections=1, run="b", timeout=120)
        else:
            pubs = tools.publish([entry], events, rate=args.rate, connections=1, run="l",
                                 timeout=events / args.rate + 60)
        subs = tools.finish_subs(procs, 180)
        cpu1 = node_cpu_s(nodes)
    finally:
        for n in nodes:
            n.stop()
    clients = subs[0]
    span = clients["span_s"]
    result = {
        "kind": kind, "topology": topology, "clients": args.clients, "events": events,
        "connected": ready[0][0],
        "pub_rejected": sum(p["rejected"] + p["errors"] for p in pubs),
        "span_s": span,
        "events_per_s": events / span if span else 0,
        "client_events_per_s": clients["events"] / span if span else 0,
        "missing": sum(s["missing"] for s in subs),
        "dups": sum(s["dups"] for s in subs),
        "reordered": sum(s["reordered"] for s in subs),
        "lat_p50_ms": clients["lat_p50_ms"], "lat_p99_ms": clients["lat_p99_ms"],
        "nodes_cpu_s": cpu1 - cpu0,
    }
    if probe is not None:
        result["regional_p50_ms"] = subs[1]["lat_p50_ms"]
        result["regional_p99_ms"] = subs[1]["lat_p99_ms"]
    return result


def median(runs, field):
    vals = [r[field] for r in runs if r is not None and r.get(field) is not None]
    return statistics.median(vals) if vals else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default=os.path.join(HERE, "..", "..", "build"))
    ap.add_argument("--sub", help="sse-sub binary (default BUILD/tests/bench/sse-sub)")
    ap.add_argument("--pub", help="sse-pub binary (default BUILD/tests/bench/sse-pub)")
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--burst", type=int, default=2000)
    ap.add_argument("--rate", type=float, default=20)
    ap.add_argument("--latency-events", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--deadline", type=float, default=900,
                    help="no run starts after this many seconds")
    ap.add_argument("--json", help="write every raw result here")
    args = ap.parse_args()
    build = os.path.abspath(args.build_dir)
    tools = Tools(args.sub or os.path.join(build, "tests", "bench", "sse-sub"),
                  args.pub or os.path.join(build, "tests", "bench", "sse-pub"))
    raise_nofile()

    results = {}   # (kind, topology) -> [result]
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="chain-bench-") as tmp:
        for rep in range(args.repeat):
            for kind in ("burst", "latency"):
                for topology in ("direct", "chain"):   # interleaved: same conditions
                    if time.monotonic() - t0 > args.deadline:
                        log("chain-bench: --deadline reached, no more runs")
                        break
                    log("[%4.0fs] rep %d %s %s" % (time.monotonic() - t0, rep + 1, kind,
                                                   topology))
                    workdir = tempfile.mkdtemp(dir=tmp, prefix="%s-%s-" % (kind, topology))
                    try:
                        r = run(kind, topology, workdir, build, tools, args)
                        r["loadavg1_before"] = os.getloadavg()[0]
                    except Exception as e:   # a failed run is reported, not fatal
                        log("  FAILED: %s" % e)
                        r = None
                    log("  " + json.dumps(r))
                    results.setdefault((kind, topology), []).append(r)

    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"kind": k[0], "topology": k[1], "runs": v}
                       for k, v in results.items()], f, indent=1)

    def fig(kind, topology, field):
        return median(results.get((kind, topology), []), field)

    fmt = lambda v: "-" if v is None else ("%.1f" % v if isinstance(v, float) else str(v))
    n = args.clients
    rows = [
        ("events/s, burst of %d, %d clients" % (args.burst, n), "burst", "events_per_s"),
        ("client-events/s", "burst", "client_events_per_s"),
        ("  latency p50 / p99 ms in the burst", "burst", ("lat_p50_ms", "lat_p99_ms")),
        ("  missing + duplicates + reordered", "burst", None),
        ("latency p50 ms, webhook -> clients' frame, %g ev/s" % args.rate, "latency",
         "lat_p50_ms"),
        ("latency p99 ms, webhook -> clients' frame", "latency", "lat_p99_ms"),
        ("  of which webhook -> regional frame, p50 ms", "latency", "regional_p50_ms"),
        ("  of which webhook -> regional frame, p99 ms", "latency", "regional_p99_ms"),
        ("  missing + duplicates + reordered", "latency", None),
    ]
    print()
    print("| figure (median of %d) | direct | chain |" % args.repeat)
    print("|---|---:|---:|")
    for label, kind, field in rows:
        if isinstance(field, tuple):
            vals = ["%s / %s" % (fmt(fig(kind, t, field[0])), fmt(fig(kind, t, field[1])))
                    for t in ("direct", "chain")]
        elif field is None:
            vals = [sum(r[k] for r in results.get((kind, t), []) if r
                        for k in ("missing", "dups", "reordered")) for t in ("direct", "chain")]
        else:
            vals = [fig(kind, t, field) for t in ("direct", "chain")]
        print("| %s | %s | %s |" % (label, fmt(vals[0]), fmt(vals[1])))
    # The central hop: the chain's clients against the direct node's, both
    # --clients on the node they read (the regional probe is one client: its
    # figure is the first hop alone, not comparable with 1,000).
    for q in ("50", "99"):
        chain, direct = fig("latency", "chain", "lat_p%s_ms" % q), fig("latency", "direct",
                                                                       "lat_p%s_ms" % q)
        if chain is not None and direct is not None:
            print("| added by the central hop (chain - direct), p%s ms | | %.2f |"
                  % (q, chain - direct))
    failed = sum(1 for v in results.values() for r in v if r is None)
    if failed:
        print("%d run(s) failed: see the log above" % failed)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
