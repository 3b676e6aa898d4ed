#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Stream ingest benchmark (issue #20, doc/performance.md "Stream ingest"):
events arriving on one long-lived connection, the way a central collector
receives from regional ones, into an SSE sink with 0, 1 and 1,000
subscribers, beside nginx+nchan's webhook ingest in the same run.

  tests/bench/stream-bench.py --build-dir build [--events 200000]
                              [--events-fanout 20000] [--clients 0,1,1000]
                              [--nats-events 50000] [--nats-batch 256]
                              [--nchan-count 100000] [--repeat 3]
                              [--deadline 1200] [--profile DIR]
                              [--json out.json]

Everything runs on 127.0.0.1, on free ports. Per run, on a fresh node:

  sse N     tests/bench/sse-producer serves one SSE stream (64 KiB chunks of
            `event: cdevent` frames, the CDEvents sse-pub posts) to a node
            whose `sse` source reads it into an `sse` sink (buffer_size =
            the run's events: no subscriber falls out of the ring) read by
            N sse-sub clients. The producer holds the events until the
            clients are connected. --events events with 0 and 1 client,
            --events-fanout with more. events/s: with clients, events /
            (last received - first formatted, sse-sub's span); without, events /
            (the sink's `cdviz_sink_messages_total` reaching them - go),
            polled every 10 ms. Loss and duplicates from sse-sub (with
            clients) or the sink's counter (without); the node's CPU over
            the span
  nats      a JetStream stream (one nats-server, tests/nats_cluster.py)
            prefilled once with --nats-events events through a webhook ->
            `nats` sink node (untimed), then per run a node whose `nats`
            source reads it from the start (a new durable pull consumer,
            --nats-batch per fetch) into an `sse` sink, no client:
            events/s from the first event the sink took to the last
            (`cdviz_sink_messages_total`, polled every 10 ms); the node's
            CPU over that span
  nchan     nginx+nchan's webhook ingest: --nchan-count events from 4
            keep-alive sse-pub publishers, no subscriber (the anchor of
            issue #20, as sse-bench.py and ingest-bench.py measure it)

Medians of --repeat runs; the table gives each figure's ratio to nchan,
and the server's CPU time per event (user + system over the run, divided
by the events: a figure the background load of a shared machine moves
less than events/s).
--profile DIR records `perf record -e cpu-clock -g` (--profile-dwarf:
`--call-graph dwarf`) of the node during the first run of each scenario
into DIR/stream-<N>.data. Every load is bounded
in count and time (tool timeouts; no new run after --deadline s).
"""
import argparse
import importlib.util
import json
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from cdviz_testlib import free_port  # noqa: E402  (tests/cdviz_testlib.py)


def _load(name, filename):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


nats_bench = _load("nats_bench", "nats-bench.py")   # sse-sub driver, nodes, CPU
sse_bench = _load("sse_bench", "sse-bench.py")      # nginx+nchan, webhook ingest
log, node_cpu_s, raise_nofile = nats_bench.log, nats_bench.node_cpu_s, nats_bench.raise_nofile

NODE = """
[http]
host = "127.0.0.1"
port = %(port)d
max_connections = 20000

[sources.upstream]
enabled = true
[sources.upstream.extractor]
type = "sse"
url = "http://127.0.0.1:%(upstream)d/sse/events"
retry_delay = "100ms"

[sinks.clients]
type = "sse"
id = "events"
buffer_size = %(buffer)d
buffer_bytes = 0
"""


# JetStream: a node whose webhook publishes into a stream (R1, awaiting each
# acknowledgement) fills it once, untimed; each run's node then reads the
# whole stream with a durable pull consumer of its own.
NATS_PREFILL = """
[http]
host = "127.0.0.1"
port = %(port)d

[sources.hook]
enabled = true
extractor = { type = "webhook", id = "in" }

[sinks.publish]
type = "nats"
servers = "%(servers)s"
subject = "cdevents.stream"
mode = "jetstream"
stream = "STREAM"
create_stream = true
replicas = 1
timeout = "10s"
queue_capacity = 10000
"""

NATS_NODE = """
[http]
host = "127.0.0.1"
port = %(port)d
max_connections = 20000

[sources.upstream]
enabled = true
[sources.upstream.extractor]
type = "nats"
servers = "%(servers)s"
subject = "cdevents.stream"
mode = "jetstream"
stream = "STREAM"
consumer = "%(consumer)s"
batch = %(batch)d

[sinks.clients]
type = "sse"
id = "events"
buffer_size = %(buffer)d
buffer_bytes = 0
"""


class Node(nats_bench.Node):
    """A node reading the producer's stream (or, with @template, any
    configuration); metrics and stop as the scale-out benchmark's."""

    def __init__(self, workdir, build_dir, upstream, buffer, template=NODE, **params):
        self.name = "stream"
        self.port = free_port()
        self.nats = None
        conf = os.path.join(workdir, "node-%d.toml" % self.port)
        with open(conf, "w") as f:
            f.write(template % dict(params, port=self.port, upstream=upstream, buffer=buffer))
        env = dict(os.environ, CDVIZ_PLUGIN_SYSTEM_PATH="")
        for k in ("G_DEBUG", "MALLOC_CHECK_", "MALLOC_PERTURB_"):
            env.pop(k, None)   # meson's test env sets them: they slow malloc down
        self.logf = open(os.path.join(workdir, "node-%d.log" % self.port), "wb")
        self.proc = subprocess.Popen(
            [os.path.join(build_dir, "src", "cdviz-pipeline"), "--config", conf,
             "--plugin-dir", os.path.join(build_dir, "plugins")],
            stdout=self.logf, stderr=self.logf, stdin=subprocess.DEVNULL, env=env,
            preexec_fn=raise_nofile)

    def source(self, name):
        return self.metric(name, 'source="upstream"') or 0


PERF_DWARF = False   # --profile-dwarf


def read_line(proc, timeout):
    """A line of proc's stdout within timeout seconds, or ''."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline() if ready else ""


def run_sse(clients, events, workdir, build_dir, tools, producer_bin, profile=None):
    port = free_port()
    producer = subprocess.Popen([producer_bin, "--port", str(port), "--events", str(events),
                                 "--run", "s%d" % clients, "--timeout", "400"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    node = None
    perf = None
    try:
        if not sse_bench.wait_port(port):
            raise RuntimeError("sse-producer did not listen")
        node = Node(workdir, build_dir, port, max(events, 10000))
        node.wait_ready()
        if not read_line(producer, 30).startswith("CONNECTED"):
            raise RuntimeError("the node's SSE source never connected to sse-producer")
        procs = []
        ready = [(0, 0.0)]
        if clients:
            procs, ready = tools.start_subs([node], clients, events, timeout=300)
        time.sleep(1)
        if profile:
            perf = start_perf(node.proc.pid, profile)
            time.sleep(0.5)
        cpu0 = node_cpu_s([node])
        t_go = time.monotonic()
        producer.stdin.write("go\n")
        producer.stdin.flush()
        if clients:
            subs = tools.finish_subs(procs, 330)[0]
            span = subs["span_s"]
            delivered, missing, dups = subs["events"], subs["missing"], subs["dups"]
            reordered = subs["reordered"]
            lat = (subs["lat_p50_ms"], subs["lat_p99_ms"])
        else:
            deadline = t_go + 300
            sent = 0
            while time.monotonic() < deadline and node.proc.poll() is None:
                sent = node.metric("cdviz_sink_messages_total", 'outcome="sent"') or 0
                if sent >= events:
                    break
                time.sleep(0.01)
            span = time.monotonic() - t_go
            delivered, missing, dups, reordered = sent, max(events - sent, 0), 0, 0
            lat = (None, None)
        cpu1 = node_cpu_s([node])
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait(60)
            perf = None
        metrics = {k: node.source(k) for k in (
            "cdviz_sse_source_events_received_total", "cdviz_sse_source_events_pushed_total",
            "cdviz_sse_source_queue_full_total", "cdviz_sse_source_reconnects_total")}
        lagged = node.metric("cdviz_sse_lagged_events_total", 'sink="clients"') or 0
        sent = node.metric("cdviz_sink_messages_total", 'outcome="sent"') or 0
    finally:
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait(60)
        if node:
            node.stop()
        try:
            out, err = producer.communicate("", timeout=30)
        except subprocess.TimeoutExpired:
            producer.kill()
            out, err = producer.communicate()
    if err.strip():
        log("  sse-producer: " + err.strip()[:1000])
    prod = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    return {
        "scenario": "sse", "clients": clients, "events": events, "connected": ready[0][0],
        "span_s": span, "events_per_s": events / span if span else 0,
        "client_events_per_s": delivered / span if span and clients else 0,
        "delivered": delivered, "missing": missing, "dups": dups, "reordered": reordered,
        "lat_p50_ms": lat[0], "lat_p99_ms": lat[1],
        "node_cpu_s": cpu1 - cpu0, "node_cpu_pct": 100 * (cpu1 - cpu0) / span if span else 0,
        "cpu_us_per_event": 1e6 * (cpu1 - cpu0) / events,
        "sink_sent": sent, "sink_lagged": lagged, "producer": prod,
        "source_received": metrics["cdviz_sse_source_events_received_total"],
        "source_pushed": metrics["cdviz_sse_source_events_pushed_total"],
        "source_queue_full": metrics["cdviz_sse_source_queue_full_total"],
        "source_reconnects": metrics["cdviz_sse_source_reconnects_total"],
    }


def nats_prefill(cluster, workdir, build_dir, tools, events):
    """Publishes events into the stream STREAM through a webhook -> nats
    sink node (untimed); returns once JetStream acknowledged them all."""
    node = Node(workdir, build_dir, 0, 0, template=NATS_PREFILL, servers=cluster.servers)
    try:
        node.wait_ready()
        deadline = time.monotonic() + 30
        while node.metric("cdviz_nats_connected", 'sink="publish"') != 1:
            if time.monotonic() > deadline:
                raise RuntimeError("the prefill node never connected to NATS")
            time.sleep(0.1)
        pubs = tools.publish([node], events, connections=4, run="n", timeout=600)
        if sum(p["accepted"] for p in pubs) != events:
            raise RuntimeError("prefill: %r" % pubs)
        deadline = time.monotonic() + 120
        while (node.metric("cdviz_nats_messages_total", 'sink="publish"') or 0) < events:
            if time.monotonic() > deadline:
                raise RuntimeError("prefill: JetStream never acknowledged every event")
            time.sleep(0.1)
    finally:
        node.stop()


def start_perf(pid, profile):
    graph = ["--call-graph", "dwarf,16384"] if PERF_DWARF else ["-g"]
    return subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "999"] + graph +
                            ["-p", str(pid), "-o", profile],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_nats(cluster, rep, events, workdir, build_dir, batch, profile=None):
    """A node whose nats source reads the prefilled stream from its start
    (a new durable consumer) into an SSE sink, no client: events/s from
    the first event the sink took to the last, polled every 10 ms. With
    profile, perf records the node from its start (the first events are
    read while perf attaches)."""
    node = Node(workdir, build_dir, 0, max(events, 10000), template=NATS_NODE,
                servers=cluster.servers, consumer="bench%d" % rep, batch=batch)
    if profile:
        time.sleep(0.3)   # the node has started its threads
    perf = start_perf(node.proc.pid, profile) if profile else None
    try:
        cpu0 = node_cpu_s([node])
        deadline = time.monotonic() + 300
        t_first = sent_first = None
        sent = 0
        while time.monotonic() < deadline and node.proc.poll() is None:
            sent = node.metric("cdviz_sink_messages_total", 'outcome="sent"') or 0
            now = time.monotonic()
            if sent > 0 and t_first is None:
                t_first, sent_first, cpu0 = now, sent, node_cpu_s([node])
            if sent >= events:
                break
            time.sleep(0.01)
        t_end = time.monotonic()
        cpu1 = node_cpu_s([node])
        span = t_end - t_first if t_first is not None else 0
        taken = sent - (sent_first or 0)
        received = node.metric("cdviz_nats_messages_total", 'source="upstream"') or 0
    finally:
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait(60)
        node.stop()
    return {
        "scenario": "nats", "clients": 0, "events": events, "span_s": span,
        "events_per_s": taken / span if span else 0, "delivered": sent,
        "missing": max(events - sent, 0), "dups": max(sent - events, 0), "nats_received": received,
        "node_cpu_s": cpu1 - cpu0, "node_cpu_pct": 100 * (cpu1 - cpu0) / span if span else 0,
        "cpu_us_per_event": 1e6 * (cpu1 - cpu0) / taken if taken else 0,
        "batch": batch,
    }


def run_nchan(workdir, pub, count):
    server = sse_bench.Nchan(workdir)
    server.port = free_port()
    server.start()
    try:
        r = sse_bench.scenario_ingest(server, sse_bench.Tools(None, pub), count, 4)
    finally:
        server.stop()
    return {"scenario": "nchan", "clients": 0, "events": count,
            "events_per_s": r["accepted_per_s"], "node_cpu_pct": r["server_cpu_pct"],
            "cpu_us_per_event": 1e6 * r["server_cpu_s"] / count,
            "missing": count - r["accepted"], "dups": 0, "rejected": r["rejected"] + r["errors"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(HERE, "..", "..", "build"))
    ap.add_argument("--sub", help="sse-sub binary (default BUILD/tests/bench/sse-sub)")
    ap.add_argument("--pub", help="sse-pub binary (default BUILD/tests/bench/sse-pub)")
    ap.add_argument("--producer", help="sse-producer binary (default BUILD/tests/bench/sse-producer)")
    ap.add_argument("--events", type=int, default=200000, help="events with 0 and 1 client")
    ap.add_argument("--events-fanout", type=int, default=20000,
                    help="events with more than one client")
    ap.add_argument("--clients", default="0,1,1000")
    ap.add_argument("--nats-events", type=int, default=50000,
                    help="events in the JetStream stream (0: no NATS scenario)")
    ap.add_argument("--nats-batch", type=int, default=256,
                    help="the nats source's batch (messages per fetch)")
    ap.add_argument("--nchan-count", type=int, default=100000)
    ap.add_argument("--no-nchan", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--deadline", type=float, default=1200,
                    help="no run starts after this many seconds")
    ap.add_argument("--profile", metavar="DIR", help="perf record the first run of each scenario")
    ap.add_argument("--profile-dwarf", action="store_true",
                    help="--profile with --call-graph dwarf (GLib has no frame pointers)")
    ap.add_argument("--json", help="write every raw result here")
    args = ap.parse_args()
    global PERF_DWARF
    PERF_DWARF = args.profile_dwarf
    build = os.path.abspath(args.build_dir)
    bench = os.path.join(build, "tests", "bench")
    tools = nats_bench.Tools(args.sub or os.path.join(bench, "sse-sub"),
                             args.pub or os.path.join(bench, "sse-pub"))
    producer = args.producer or os.path.join(bench, "sse-producer")
    raise_nofile()
    clients = [int(c) for c in args.clients.split(",") if c.strip()]
    nchan = not args.no_nchan and sse_bench.ensure_nchan()
    if not nchan and not args.no_nchan:
        log("stream-bench: nginx + nchan not available: no anchor")

    cluster = None
    if args.nats_events > 0:
        from nats_cluster import NatsCluster   # tests/nats_cluster.py
        if NatsCluster.available():
            cluster = NatsCluster(1)
        else:
            log("stream-bench: nats-server not installed: no NATS scenario")
    scenarios = ([("sse", n) for n in clients] + ([("nats", 0)] if cluster else []) +
                 ([("nchan", 0)] if nchan else []))
    results = {s: [] for s in scenarios}
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="stream-bench-") as tmp:
        if cluster:
            try:
                log("[%4.0fs] prefilling the JetStream stream with %d events"
                    % (time.monotonic() - t0, args.nats_events))
                nats_prefill(cluster, tempfile.mkdtemp(dir=tmp, prefix="prefill-"), build,
                             tools, args.nats_events)
            except Exception as e:
                log("  prefill FAILED: %s" % e)
                scenarios.remove(("nats", 0))
        for rep in range(args.repeat):
            for kind, n in scenarios:   # interleaved: the same background load
                if time.monotonic() - t0 > args.deadline:
                    log("stream-bench: --deadline reached, no more runs")
                    break
                log("[%4.0fs] rep %d %s %d" % (time.monotonic() - t0, rep + 1, kind, n))
                workdir = tempfile.mkdtemp(dir=tmp, prefix="%s-%d-" % (kind, n))
                load = os.getloadavg()[0]
                try:
                    if kind == "nchan":
                        r = run_nchan(workdir, tools.pub, args.nchan_count)
                    elif kind == "nats":
                        profile = (os.path.join(os.path.abspath(args.profile), "stream-nats.data")
                                   if args.profile and rep == 0 else None)
                        r = run_nats(cluster, rep, args.nats_events, workdir, build,
                                     args.nats_batch, profile)
                    else:
                        events = args.events if n <= 1 else args.events_fanout
                        profile = (os.path.join(os.path.abspath(args.profile),
                                                "stream-%d.data" % n)
                                   if args.profile and rep == 0 else None)
                        r = run_sse(n, events, workdir, build, tools, producer, profile)
                    r["loadavg1_before"] = load
                except Exception as e:   # a failed run is reported, not fatal
                    log("  FAILED: %s" % e)
                    r = None
                log("  " + json.dumps(r))
                results[(kind, n)].append(r)

    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"scenario": k[0], "clients": k[1], "runs": v}
                       for k, v in results.items()], f, indent=1)

    def med(key, field):
        vals = [r[field] for r in results[key] if r is not None and r.get(field) is not None]
        return statistics.median(vals) if vals else None

    anchor = med(("nchan", 0), "events_per_s") if nchan else None
    loads = [r["loadavg1_before"] for v in results.values() for r in v if r]
    if loads:
        print("\n1-min load average before the runs: min %.2f, median %.2f, max %.2f (%d CPUs)"
              % (min(loads), statistics.median(loads), max(loads), os.cpu_count()))
    print("\n| stream ingest (median of %d) | events | events/s | client-events/s "
          "| missing + dups | server CPU %% | CPU µs/event | × nchan |" % args.repeat)
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for key in scenarios:
        kind, n = key
        runs = [r for r in results[key] if r]
        if not runs:
            print("| %s | - | failed | | | | | |" % kind)
            continue
        label = {"sse": "SSE source -> SSE sink, %d client%s" % (n, "" if n == 1 else "s"),
                 "nats": "NATS source (JetStream, prefilled) -> SSE sink, 0 clients",
                 "nchan": "nginx+nchan webhook ingest, 4 publishers (anchor)"}[kind]
        eps = med(key, "events_per_s")
        cev = med(key, "client_events_per_s")
        print("| %s | %d | %.0f | %s | %d | %.0f | %.1f | %s |" % (
            label, runs[0]["events"], eps, "%.0f" % cev if cev else "-",
            sum(r["missing"] + r["dups"] for r in runs), med(key, "node_cpu_pct"),
            med(key, "cpu_us_per_event"), "%.2f" % (eps / anchor) if anchor else "-"))
    failed = sum(1 for v in results.values() for r in v if r is None)
    if failed:
        print("%d run(s) failed: see the log above" % failed)
    sys.stdout.flush()
    if cluster:
        cluster.close()
    lost = sum(r["missing"] + r["dups"] for v in results.values() for r in v if r)
    return 1 if failed or lost else 0


if __name__ == "__main__":
    sys.exit(main())
