#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Webhook ingest, side by side in one run (issue #20, doc/performance.md
"Ingest, round two"): 4 keep-alive publishers (sse-pub), no subscriber,
each server started fresh per run, the variants interleaved so that they
share the background load, medians of --repeat runs:

  cdviz <label>/processed   a build's webhook answering after the
                            transformers (the default), for each --build
  cdviz <label>/accepted    the same with respond = "accepted" (202 at
                            enqueue), for builds that know the key
  soup-floor                tests/bench/soup-floor, a libsoup server that
                            only answers 201: the floor on one HTTP thread
                            (--floor-threads N: on N threads)
  cdviz ..., N threads      with --http-threads N: [http] threads = N
  nginx+nchan               when installed (see sse-bench.py)

Prints a table with each figure's ratio to the floor and to nchan, and the
1-minute load average beside each run.

  ingest-bench.py --build base=/tmp/base-build --build new=build
                  --floor build/tests/bench/soup-floor --pub build/tests/bench/sse-pub
"""
import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("sse_bench", os.path.join(HERE, "sse-bench.py"))
sb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sb)


class CdvizIngest(sb.Cdviz):
    """sse-bench.py's cdviz-pipeline (an SSE sink without subscribers, as
    its ingest scenario), with the webhook's respond mode."""
    def __init__(self, workdir, build_dir, label, respond, threads=1):
        super().__init__(workdir, build_dir)
        self.threads = threads
        self.name = "cdviz %s/%s" % (label, respond)
        if respond == "accepted":
            self.webhook_keys = ', respond = "accepted"'
        if threads > 1:
            self.name += ", %d threads" % threads
            self.http_keys = "threads = %d\n" % threads


class SoupFloor(sb.Server):
    pub_path = "/webhook/in"

    def __init__(self, workdir, program, threads=1):
        super().__init__(workdir)
        self.program = program
        self.threads = threads
        self.name = floor_name(threads)

    def start(self):
        self.proc = subprocess.Popen([self.program, "--port", str(self.port), "--seconds", "300",
                                      "--threads", str(self.threads)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL)
        if not sb.wait_port(self.port):
            raise RuntimeError("soup-floor did not start")


def knows_respond(build_dir):
    """Whether a build's webhook has the respond key (issue #20)."""
    plugin = os.path.join(build_dir, "plugins", "webhook")
    for root, _, files in os.walk(plugin):
        for name in files:
            if name.endswith(".so"):
                with open(os.path.join(root, name), "rb") as f:
                    if b"When a request is answered" in f.read():
                        return True
    return False


def knows_threads(build_dir):
    """Whether a build's server has [http] threads."""
    for root, _, files in os.walk(os.path.join(build_dir, "src")):
        for name in files:
            if name.startswith("libcdviz-1.0.so"):
                with open(os.path.join(root, name), "rb") as f:
                    return b"HTTP threads serving requests" in f.read()
    return False


def floor_name(threads):
    return "soup-floor" if threads == 1 else "soup-floor, %d threads" % threads


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", action="append", required=True, metavar="LABEL=DIR")
    ap.add_argument("--floor", required=True, help="soup-floor program")
    ap.add_argument("--pub", required=True, help="sse-pub program")
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-nchan", action="store_true")
    ap.add_argument("--floor-threads", default="1",
                    help="comma-separated thread counts of soup-floor (default 1)")
    ap.add_argument("--http-threads", default="1",
                    help="comma-separated [http] threads of each cdviz build (default 1; builds "
                    "without the key run with 1 only); each ratio is to the floor on as many "
                    "threads when it was measured (--floor-threads), else to the 1-thread floor")
    ap.add_argument("--json")
    args = ap.parse_args()

    workdir = tempfile.mkdtemp(prefix="ingest-bench-")
    tools = sb.Tools(None, args.pub)
    servers = []
    http_threads = sorted({int(t) for t in args.http_threads.split(",")})
    for spec_ in args.build:
        label, _, build_dir = spec_.partition("=")
        for n in http_threads if knows_threads(build_dir) else [1]:
            servers.append(CdvizIngest(workdir, build_dir, label, "processed", n))
            if knows_respond(build_dir):
                servers.append(CdvizIngest(workdir, build_dir, label, "accepted", n))
    for n in sorted({int(t) for t in args.floor_threads.split(",")}):
        servers.append(SoupFloor(workdir, args.floor, n))
    if not args.no_nchan and sb.ensure_nchan():
        servers.append(sb.Nchan(workdir))

    runs = {s.name: [] for s in servers}
    for rep in range(args.repeat):
        for s in servers:
            s.port = sb.free_port()
            s.start()
            try:
                r = sb.scenario_ingest(s, tools, args.count, 4)
            finally:
                s.stop()
            r["load1"] = os.getloadavg()[0]
            runs[s.name].append(r)
            sb.log("  %d %-28s %9.1f events/s  server CPU %5.1f %%  load %.2f"
                   % (rep + 1, s.name, r["accepted_per_s"], r["server_cpu_pct"], r["load1"]))

    med = {name: statistics.median(r["accepted_per_s"] for r in rs) for name, rs in runs.items()}
    floor = med.get("soup-floor")
    nchan = med.get("nginx+nchan")
    loads = [r["load1"] for rs in runs.values() for r in rs]
    print("\n1-min load average during the runs: min %.2f, median %.2f, max %.2f (%d CPUs)"
          % (min(loads), statistics.median(loads), max(loads), os.cpu_count()))
    print("\n| ingest, 4 keep-alive publishers (median of %d) | events/s | CPU %% "
          "| CPU µs/event | × soup-floor | × nchan |" % args.repeat)
    print("|---|---:|---:|---:|---:|---:|")
    for s in servers:
        floor = med.get(floor_name(getattr(s, "threads", 1)), med.get("soup-floor"))
        cpu = statistics.median(r["server_cpu_pct"] for r in runs[s.name])
        # CPU per event of each run (CPU % × 10,000 / events/s), median:
        # less sensitive to the background load than the rate.
        us = statistics.median(r["server_cpu_pct"] * 1e4 / r["accepted_per_s"]
                               for r in runs[s.name] if r["accepted_per_s"] > 0)
        print("| %s | %.0f | %.0f | %.0f | %s | %s |" % (
            s.name, med[s.name], cpu, us,
            "%.2f" % (med[s.name] / floor) if floor else "-",
            "%.2f" % (med[s.name] / nchan) if nchan else "-"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(runs, f, indent=1)
    shutil.rmtree(workdir, ignore_errors=True)
    bad = [name for name, rs in runs.items() for r in rs if r["errors"] or r["rejected"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
