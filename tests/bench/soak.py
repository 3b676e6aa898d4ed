#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Soak test: cdviz-pipeline (webhook source -> SSE sink) streaming to many
clients at a steady rate for minutes, sampling the server's resident memory
and open descriptors every --interval seconds.

Not part of the default suite (it runs for minutes). Run it by hand:

  tests/bench/soak.py --build-dir build [--clients 1000] [--rate 200]
                      [--minutes 5] [--interval 30] [--json out.json]

or `meson test -C build --benchmark soak` (same defaults; not in the
default test run). Subscribers and
the publisher are the benchmark's C clients (build/tests/bench/sse-sub,
sse-pub), so the Python side only watches. Passes when every client got
every event (sse-sub counts what each client missed; its gap and
duplicate counters also count reordering between concurrent publisher
connections), the server
exits 0 on SIGTERM, and memory and descriptors stay flat: the last sample's
RSS within --rss-slack KiB of the first sample taken under load, and the
descriptor count unchanged.
"""
import argparse
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import cdviz_testlib  # noqa: E402  (tests/cdviz_testlib.py)
from cdviz_testlib import free_port  # noqa: E402

NOFILE = 20000


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def raise_nofile():
    """Raises RLIMIT_NOFILE to NOFILE (a preexec_fn for the servers)."""
    cdviz_testlib.raise_nofile(NOFILE)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def wait_port(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--interval", type=float, default=30)
    ap.add_argument("--rss-slack", type=int, default=8192, help="KiB")
    ap.add_argument("--publishers", type=int, default=8,
                    help="keep-alive publisher connections (requests in flight)")
    ap.add_argument("--json")
    args = ap.parse_args()

    raise_nofile()
    bench = os.path.join(args.build_dir, "tests", "bench")
    count = int(args.rate * args.minutes * 60)
    port = free_port()
    work = tempfile.TemporaryDirectory(prefix="cdviz-soak-")
    conf = os.path.join(work.name, "soak.toml")
    with open(conf, "w") as f:
        f.write('[http]\nhost = "127.0.0.1"\nport = %d\n'
                '[sources.in]\nenabled = true\nextractor = { type = "webhook", id = "in" }\n'
                '[sinks.out]\ntype = "sse"\nid = "soak"\nbuffer_size = 1000\n' % port)
    env = dict(os.environ, CDVIZ_PLUGIN_SYSTEM_PATH="")
    env.pop("G_DEBUG", None)
    env.pop("MALLOC_CHECK_", None)
    server_log = open(os.path.join(work.name, "server.log"), "wb")
    server = subprocess.Popen(
        [os.path.join(args.build_dir, "src", "cdviz-pipeline"), "--config", conf,
         "--plugin-dir", os.path.join(args.build_dir, "plugins")],
        stdout=server_log, stderr=server_log, stdin=subprocess.DEVNULL, env=env,
        preexec_fn=raise_nofile)
    sub = pub = None
    samples = []
    try:
        if not wait_port(port):
            raise SystemExit("cdviz-pipeline did not start")
        base = {"t": 0.0, "rss_kib": rss_kib(server.pid), "fds": fd_count(server.pid)}
        log("baseline (no client): RSS %d KiB, %d descriptors" % (base["rss_kib"], base["fds"]))
        sub = subprocess.Popen(
            [os.path.join(bench, "sse-sub"), "--port", str(port), "--path", "/sse/soak",
             "--clients", str(args.clients), "--events", str(count),
             "--timeout", str(int(args.minutes * 60 + 120)), "--idle-timeout", "30"],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
            preexec_fn=raise_nofile)
        line = sub.stdout.readline()
        if not line.startswith("READY"):
            raise SystemExit("subscribers did not connect: %r" % line)
        pub = subprocess.Popen(
            [os.path.join(bench, "sse-pub"), "--port", str(port), "--path", "/webhook/in",
             "--count", str(count), "--rate", str(args.rate),
             "--connections", str(args.publishers),
             "--timeout", str(int(args.minutes * 60 + 60))],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        start = time.monotonic()
        next_sample = start + args.interval
        while pub.poll() is None:
            time.sleep(min(1.0, max(0.0, next_sample - time.monotonic())))
            if time.monotonic() >= next_sample:
                s = {"t": round(time.monotonic() - start, 1), "rss_kib": rss_kib(server.pid),
                     "fds": fd_count(server.pid)}
                samples.append(s)
                log("t=%5.0fs RSS %d KiB, %d descriptors" % (s["t"], s["rss_kib"], s["fds"]))
                next_sample += args.interval
        pub_result = json.loads(pub.stdout.read().strip().splitlines()[-1])
        sub_out, _ = sub.communicate(timeout=120)
        sub_result = json.loads(sub_out.strip().splitlines()[-1])
        end = {"t": round(time.monotonic() - start, 1), "rss_kib": rss_kib(server.pid),
               "fds": fd_count(server.pid)}
        log("after the clients left: RSS %d KiB, %d descriptors" % (end["rss_kib"], end["fds"]))
        server.send_signal(signal.SIGTERM)
        code = server.wait(30)
    finally:
        for p in (pub, sub, server):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()

    expected = count * args.clients
    # Samples taken while every client was connected (not after sse-sub left).
    loaded = [s for s in samples if s["fds"] >= base["fds"] + args.clients]
    report = {
        "clients": args.clients, "rate": args.rate, "minutes": args.minutes,
        "published": pub_result, "subscribers": sub_result,
        "baseline": base, "samples": samples, "after": end, "exit_code": code,
        "expected_deliveries": expected,
    }
    print(json.dumps(report, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)

    failures = []
    if pub_result.get("accepted") != count:
        failures.append("published %s of %d" % (pub_result.get("accepted"), count))
    # Concurrent publisher connections have no order between them, so
    # sse-sub's gap, duplicate (and so "missing") counters also count
    # reordering; what matters is that every client received every event:
    # "complete" counts the clients that got all of them.
    if sub_result.get("complete") != args.clients or sub_result.get("events", 0) < expected:
        failures.append("deliveries %s of %d, %s of %d clients complete" % (
            sub_result.get("events"), expected, sub_result.get("complete"), args.clients))
    if len(loaded) >= 2 and loaded[-1]["rss_kib"] - loaded[0]["rss_kib"] > args.rss_slack:
        failures.append("RSS grew from %d to %d KiB under load"
                        % (loaded[0]["rss_kib"], loaded[-1]["rss_kib"]))
    if len(loaded) >= 2 and loaded[-1]["fds"] != loaded[0]["fds"]:
        failures.append("descriptors went from %d to %d under load"
                        % (loaded[0]["fds"], loaded[-1]["fds"]))
    if end["fds"] > base["fds"] + 2:
        failures.append("descriptors after the clients left: %d (baseline %d)"
                        % (end["fds"], base["fds"]))
    if code != 0:
        failures.append("exit code %d" % code)
    for f in failures:
        log("FAIL: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
