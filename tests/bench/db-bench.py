#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The db sink's benchmark: rows stored per second from 4 keep-alive
publishers (sse-pub, one request in flight each) through the webhook into a
real PostgreSQL 15 (tests/pg_cluster.py, fsync and synchronous_commit on,
track_commit_timestamp on), with pipelining (`pipeline_depth = 64`) and
without (`pipeline_depth = 1`), and the latency from the POST being sent to
its row being committed (pg_xact_commit_timestamp of the row's xmin minus the
send time sse-pub writes into the event; CLOCK_MONOTONIC mapped onto the
wall clock once per run): at full speed, and at a fixed rate.

Its anchor, in the same run against the same cluster: db-anchor (a libpq
client, tests/bench/db-anchor.c) sends the same statement with the same
events, batches and commits as one connection of the sink, from 1
connection (the sink's case here: one context.source, one connection in
flight) and from 4, with 64 and 1 statements per round trip. The table
gives the medians of --repeat runs, the ratio sink / anchor and the 1-min
load average before each run.

Beside it, pgbench (PostgreSQL 15's, -M prepared, -c 1 and -c 4 -j 2, a
pipeline of 64 statements per \startpipeline/\endpipeline, or 1): the
nearest script it can run. Its variables are numbers, so the event's JSON
is built on the server around them (`CALL
cdviz.store_cdevent(('{...' || :seq || '...}')::jsonb)`), not sent as one
text parameter: a cross-check of db-anchor as a client, not the anchor.

Not a test: `meson test -C build --benchmark db` (or run it directly).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import pg_cluster  # noqa: E402

LISTEN_RE = re.compile(rb"Listening on https?://([^:]+):(\d+)")


def percentile(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * len(values) + 0.5)) - 1))
    return values[k]


def start_pipeline(args, tmp, cluster, depth):
    conf = os.path.join(tmp, "db-bench-%d.toml" % depth)
    with open(conf, "w") as f:
        f.write('[http]\nhost = "127.0.0.1"\nport = 0\n'
                '[sources.in]\nenabled = true\nextractor = { type = "webhook", id = "in" }\n'
                '[sinks.database]\nenabled = true\ntype = "db"\nurl = "%s"\npipeline_depth = %d\n'
                % (cluster.url(), depth))
    log = open(os.path.join(tmp, "db-bench-%d.log" % depth), "w+b")
    env = dict(os.environ, CDVIZ_PLUGIN_SYSTEM_PATH="")
    proc = subprocess.Popen([os.path.join(args.build_dir, "src", "cdviz-pipeline"),
                             "--config", conf, "--plugin-dir",
                             os.path.join(args.build_dir, "plugins")],
                            stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL,
                            env=env)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        log.seek(0)
        m = LISTEN_RE.search(log.read())
        if m:
            return proc, int(m.group(2))
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    log.seek(0)
    sys.exit("cdviz-pipeline did not start:\n%s" % log.read().decode(errors="replace"))


def run(args, cluster, port, run_id, count, rate):
    cluster.truncate()
    offset_ns = time.time_ns() - time.monotonic_ns()
    cmd = [args.pub, "--port", str(port), "--path", "/webhook/in", "--count", str(count),
           "--connections", "4", "--run", run_id, "--timeout", "600"]
    if rate:
        cmd += ["--rate", str(rate)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    pub = json.loads(r.stdout.strip().splitlines()[-1])
    if pub["accepted"] != count:
        sys.exit("%s: %d of %d events accepted: %s" % (run_id, pub["accepted"], count, r.stderr))
    if cluster.wait_count(count, timeout=600) != count:
        sys.exit("%s: rows missing" % run_id)
    rows = cluster.psql(
        "SELECT (payload->'subject'->'content'->>'ts')::bigint, "
        "(extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1e9)::bigint "
        "FROM cdviz.cdevents_lake")
    sent = [int(r[0]) + offset_ns for r in rows]
    committed = [int(r[1]) for r in rows]
    lat_ms = [(c - s) / 1e6 for s, c in zip(sent, committed)]
    span_s = (max(committed) - min(sent)) / 1e9
    return {
        "events": count,
        "rate_asked": rate or None,
        "rows_per_s": round(count / span_s, 1),
        "accepted_per_s": pub.get("accepted_per_s"),
        "latency_ms": {"p50": round(percentile(lat_ms, 50), 2),
                       "p99": round(percentile(lat_ms, 99), 2),
                       "max": round(max(lat_ms), 2)},
    }


def run_anchor(args, cluster, clients, depth, run_id):
    cluster.truncate()
    r = subprocess.run([args.anchor, "--url", cluster.url(), "--count", str(args.count),
                        "--clients", str(clients), "--depth", str(depth), "--run", run_id],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        sys.exit("db-anchor failed (%d): %s" % (r.returncode, r.stderr))
    out = json.loads(r.stdout.strip().splitlines()[-1])
    if cluster.count() != args.count:
        sys.exit("%s: db-anchor stored %d rows of %d" % (run_id, cluster.count(), args.count))
    return out


def pgbench_script(depth):
    """depth statements in one pipeline (one Sync), or one; each event has
    its own random number in context.id and subject.content."""
    lines = ["\\startpipeline"] if depth > 1 else []
    for k in range(depth):
        lines.append("\\set seq%d random(1, 1000000000000000)" % k)
        lines.append(
            "CALL cdviz.store_cdevent(('{\"context\":{\"version\":\"0.4.1\","
            "\"id\":\"pgbench-' || :seq%d || '\",\"source\":\"/bench/publisher\","
            "\"type\":\"dev.cdevents.build.started.0.2.0\","
            "\"timestamp\":\"2023-03-20T14:27:05.315384Z\"},"
            "\"subject\":{\"id\":\"bench\",\"source\":\"/bench/publisher\",\"type\":\"build\","
            "\"content\":{\"seq\":' || :seq%d || ',\"ts\":' || :seq%d || '}}}')::jsonb);"
            % (k, k, k))
    if depth > 1:
        lines.append("\\endpipeline")
    return "\n".join(lines) + "\n"


def run_pgbench(args, cluster, tmp, clients, depth):
    cluster.truncate()
    script = os.path.join(tmp, "pgbench-%d.sql" % depth)
    with open(script, "w") as f:
        f.write(pgbench_script(depth))
    per_client = max(1, args.count // depth // clients)
    env = dict(os.environ, PGPASSWORD=pg_cluster.PASSWORD)
    r = subprocess.run([args.pgbench, "-n", "-M", "prepared", "-f", script,
                        "-c", str(clients), "-j", str(min(clients, 2)), "-t", str(per_client),
                        "-h", "127.0.0.1", "-p", str(cluster.port), "-U", pg_cluster.USER,
                        pg_cluster.DATABASE],
                       capture_output=True, text=True, env=env, timeout=600)
    m = re.search(r"^tps = ([0-9.]+) \(without initial connection time\)", r.stdout, re.M)
    rows = per_client * clients * depth
    if r.returncode != 0 or m is None or cluster.count() != rows:
        sys.exit("pgbench failed (%d, %d rows of %d): %s%s"
                 % (r.returncode, cluster.count(), rows, r.stdout, r.stderr))
    return {"rows": rows, "rows_per_s": round(float(m.group(1)) * depth, 1)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--pub", default=None)
    parser.add_argument("--anchor", default=None, help="db-anchor (none: no anchor)")
    parser.add_argument("--pgbench", default=os.path.join(pg_cluster.BINDIR, "pgbench"))
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--rate", type=int, default=500,
                        help="events/s of the fixed-rate latency run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    args.pub = args.pub or os.path.join(args.build_dir, "tests", "bench", "sse-pub")
    if args.anchor is None:
        args.anchor = os.path.join(args.build_dir, "tests", "bench", "db-anchor")
    if not os.access(args.anchor, os.X_OK):
        print("db-bench: %s not built: no anchor" % args.anchor)
        args.anchor = None

    if not os.access(args.pgbench, os.X_OK):
        print("db-bench: %s not found: no pgbench cross-check" % args.pgbench)
        args.pgbench = None

    reason = pg_cluster.available()
    if reason:
        print("db-bench: skipped: %s" % reason)
        return 77
    cluster = pg_cluster.PgCluster(fsync=True, extra_conf="track_commit_timestamp = on\n")
    sink = {64: [], 1: []}
    anchor = {}
    pgbench = {}
    try:
        with tempfile.TemporaryDirectory(prefix="cdviz-db-bench-") as tmp:
            for rep in range(args.repeat):
                for depth in (64, 1):
                    proc, port = start_pipeline(args, tmp, cluster, depth)
                    try:
                        load = os.getloadavg()[0]
                        full = run(args, cluster, port, "full-%d-%d" % (depth, rep),
                                   args.count, 0)
                        fixed = run(args, cluster, port, "rate-%d-%d" % (depth, rep),
                                    min(args.count, args.rate * 10), args.rate)
                        sink[depth].append({"loadavg1": load, "full_speed": full,
                                            "fixed_rate": fixed})
                        print("rep %d sink depth %2d: %7.0f rows/s (load %.2f)"
                              % (rep + 1, depth, full["rows_per_s"], load), flush=True)
                    finally:
                        proc.terminate()
                        proc.wait(30)
                for clients in ((1, 4) if args.anchor else ()):
                    for depth in (64, 1):
                        load = os.getloadavg()[0]
                        a = run_anchor(args, cluster, clients, depth,
                                       "anchor-%d-%d-%d" % (clients, depth, rep))
                        a["loadavg1"] = load
                        anchor.setdefault((clients, depth), []).append(a)
                        print("rep %d anchor %d conn depth %2d: %7.0f rows/s (load %.2f)"
                              % (rep + 1, clients, depth, a["rows_per_s"], load), flush=True)
                for clients in ((1, 4) if args.pgbench else ()):
                    for depth in (64, 1):
                        load = os.getloadavg()[0]
                        p = run_pgbench(args, cluster, tmp, clients, depth)
                        p["loadavg1"] = load
                        pgbench.setdefault((clients, depth), []).append(p)
                        print("rep %d pgbench %d conn depth %2d: %7.0f rows/s (load %.2f)"
                              % (rep + 1, clients, depth, p["rows_per_s"], load), flush=True)
    finally:
        cluster.remove()

    med = statistics.median
    loads = [r["loadavg1"] for v in sink.values() for r in v] + \
            [a["loadavg1"] for v in anchor.values() for a in v] + \
            [p["loadavg1"] for v in pgbench.values() for p in v]
    print()
    print("db sink: 4 keep-alive publishers -> webhook -> PostgreSQL 15 (fsync, "
          "synchronous_commit on), %d events per run, median of %d; 1-min load average "
          "before the runs %.2f-%.2f (%d CPUs)"
          % (args.count, args.repeat, min(loads), max(loads), os.cpu_count()))
    print("%-44s %10s %15s | %s" % ("", "rows/s", "p50 / p99 ms",
                                    "at %d events/s: p50 / p99 ms" % args.rate))
    for depth in (64, 1):
        runs = sink[depth]
        label = "sink, pipeline_depth = %d" % depth
        print("%-44s %10.0f %6.2f / %6.2f | %.2f / %.2f" % (
            label, med(r["full_speed"]["rows_per_s"] for r in runs),
            med(r["full_speed"]["latency_ms"]["p50"] for r in runs),
            med(r["full_speed"]["latency_ms"]["p99"] for r in runs),
            med(r["fixed_rate"]["latency_ms"]["p50"] for r in runs),
            med(r["fixed_rate"]["latency_ms"]["p99"] for r in runs)))
        for clients in ((1, 4) if args.anchor else ()):
            a = anchor[(clients, depth)]
            rate = med(x["rows_per_s"] for x in a)
            print("%-44s %10.0f %6.2f / %6.2f | sink / anchor = %.2f" % (
                "  anchor, %d connection%s, %d per Sync" % (clients, "s" if clients > 1 else "",
                                                           depth),
                rate, med(x["p50_ms"] for x in a), med(x["p99_ms"] for x in a),
                med(r["full_speed"]["rows_per_s"] for r in runs) / rate))
        for clients in ((1, 4) if args.pgbench else ()):
            rate = med(x["rows_per_s"] for x in pgbench[(clients, depth)])
            print("%-44s %10.0f %15s | sink / pgbench = %.2f" % (
                "  pgbench (JSON built on the server), %d conn." % clients, rate, "",
                med(r["full_speed"]["rows_per_s"] for r in runs) / rate))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"sink": {str(k): v for k, v in sink.items()},
                       "anchor": {"%d-%d" % k: v for k, v in anchor.items()},
                       "pgbench": {"%d-%d" % k: v for k, v in pgbench.items()},
                       "cpus": os.cpu_count()}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
