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

Not a test: `meson test -C build --benchmark db` (or run it directly).
"""
import argparse
import json
import os
import re
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--pub", default=None)
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--rate", type=int, default=500,
                        help="events/s of the fixed-rate latency run")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    args.pub = args.pub or os.path.join(args.build_dir, "tests", "bench", "sse-pub")

    reason = pg_cluster.available()
    if reason:
        print("db-bench: skipped: %s" % reason)
        return 77
    cluster = pg_cluster.PgCluster(fsync=True, extra_conf="track_commit_timestamp = on\n")
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="cdviz-db-bench-") as tmp:
            for depth in (64, 1):
                proc, port = start_pipeline(args, tmp, cluster, depth)
                try:
                    label = "pipelining (pipeline_depth = 64)" if depth > 1 else \
                        "no pipelining (pipeline_depth = 1)"
                    full = run(args, cluster, port, "full-%d" % depth, args.count, 0)
                    fixed = run(args, cluster, port, "rate-%d" % depth,
                                min(args.count, args.rate * 10), args.rate)
                    results.append({"label": label, "full_speed": full, "fixed_rate": fixed})
                finally:
                    proc.terminate()
                    proc.wait(30)
    finally:
        cluster.remove()

    print("db sink: 4 keep-alive publishers -> webhook -> PostgreSQL 15 (fsync on), "
          "%d events per run" % args.count)
    print("%-36s %12s %12s %12s | %s" % ("", "rows/s", "p50 ms", "p99 ms",
                                         "at %d events/s: p50 / p99 ms" % args.rate))
    for r in results:
        f, x = r["full_speed"], r["fixed_rate"]
        print("%-36s %12.0f %12.2f %12.2f | %.2f / %.2f" % (
            r["label"], f["rows_per_s"], f["latency_ms"]["p50"], f["latency_ms"]["p99"],
            x["latency_ms"]["p50"], x["latency_ms"]["p99"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
