#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The VRL transformer against the same transform in jq (doc/performance.md,
"VRL against jq").

1. Transformer CPU per event, one thread, no HTTP (transform-bench):
   - transformers-community's github_events (VRL, as published) on all the
     captured GitHub inputs, and on the workflow_run/workflow_job inputs
     beside tests/bench/github_events_ci.jq (those branches in jq, checked
     first to give upstream's outputs with `transform --mode check`);
   - the seed's mirroring template (anonymize_for_dev, VRL, verbatim) beside
     data/examples/jq/anonymize_for_dev.jq, on the CDEvents conformance
     examples.
2. Webhook ingest (sse-pub, 4 keep-alive connections, debug sink to
   /dev/null) without a transformer, with the VRL mirroring template and
   with its jq version.

Prints a table of events/s (per core for 1, the whole process for 2) and
writes the figures as JSON (--json).
"""
import argparse
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

LISTEN_RE = re.compile(rb"Listening on https?://([^:]+):(\d+)")


def seed_transformer(seed, name):
    with open(seed, encoding="utf-8") as f:
        text = f.read()
    start = text.index("[transformers.%s]" % name)
    quote = '"""' if '"""' in text[start:start + 200] else "'''"
    first = text.index(quote, start)
    end = text.index(quote, first + 3) + 3
    return text[start:end] + "\n"


def env():
    e = dict(os.environ, CDVIZ_PLUGIN_SYSTEM_PATH="")
    for k in ("G_DEBUG", "MALLOC_CHECK_", "MALLOC_PERTURB_"):
        e.pop(k, None)   # meson's test environment slows malloc down
    return e


def bench(args, config, name, files):
    cmd = [args.bench, "--plugin-dir", os.path.join(args.build_dir, "plugins"),
           "--config", config, "-t", name, "--seconds", str(args.seconds)] + files
    r = subprocess.run(cmd, capture_output=True, text=True, env=env(), check=True)
    return json.loads(r.stdout)


def check(args, config, name, inputs, outputs):
    r = subprocess.run([os.path.join(args.build_dir, "src", "cdviz-pipeline"), "transform",
                        "--plugin-dir", os.path.join(args.build_dir, "plugins"),
                        "--config", config, "-t", name, "--input", inputs,
                        "--output", outputs, "--mode", "check"],
                       capture_output=True, text=True, env=env())
    if r.returncode != 0:
        sys.exit("%s does not give upstream's outputs:\n%s%s" % (name, r.stdout, r.stderr))


def ingest(args, tmp, transformer_config, refs, label):
    conf = os.path.join(tmp, "ingest-%s.toml" % label)
    with open(conf, "w") as f:
        f.write('[http]\nhost = "127.0.0.1"\nport = 0\n'
                '[sources.in]\nenabled = true\ntransformer_refs = %s\n'
                'extractor = { type = "webhook", id = "in" }\n'
                '[sinks.out]\ntype = "debug"\n' % json.dumps(refs) + transformer_config)
    log = open(os.path.join(tmp, "ingest-%s.log" % label), "w+b")
    proc = subprocess.Popen([os.path.join(args.build_dir, "src", "cdviz-pipeline"),
                             "--config", conf, "--plugin-dir",
                             os.path.join(args.build_dir, "plugins")],
                            stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL,
                            env=env())
    try:
        port = None
        deadline = time.monotonic() + 10
        while port is None and time.monotonic() < deadline:
            log.seek(0)
            m = LISTEN_RE.search(log.read())
            if m:
                port = int(m.group(2))
            else:
                time.sleep(0.05)
        if port is None:
            sys.exit("cdviz-pipeline did not start (%s)" % log.name)
        rates = []
        for _ in range(args.repeat):
            r = subprocess.run([args.pub, "--port", str(port), "--path", "/webhook/in",
                                "--count", str(args.ingest_count), "--connections", "4"],
                               capture_output=True, text=True)
            result = json.loads(r.stdout.strip().splitlines()[-1])
            if result["accepted"] != args.ingest_count:
                sys.exit("%s: %d of %d events accepted" % (label, result["accepted"], args.ingest_count))
            rates.append(result["accepted_per_s"])
        return {"label": label, "rates": rates, "median": sorted(rates)[len(rates) // 2]}
    finally:
        proc.terminate()
        proc.wait(10)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--shared", required=True)
    parser.add_argument("--bench", required=True, help="transform-bench")
    parser.add_argument("--pub", required=True, help="sse-pub")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--ingest-count", type=int, default=50000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    for name in ("build_dir", "source_dir", "shared", "bench", "pub"):
        setattr(args, name, os.path.abspath(getattr(args, name)))

    github = os.path.join(args.shared, "transformers-community", "github_events")
    seed = os.path.join(args.shared, "seed", "sse-sink.md")
    conformance = os.path.join(args.shared, "cdevents", "v0.4.1", "conformance")
    for path in (github, seed, conformance):
        if not os.path.exists(path):
            print("SKIP: %s is not there" % path)
            return 77

    load_before = os.getloadavg()[0]
    tmp = tempfile.mkdtemp(prefix="cdviz-transform-bench-")
    try:
        mirror_vrl = seed_transformer(seed, "anonymize_for_dev")
        mirror_jq = ('[transformers.anonymize_for_dev_jq]\ntype = "jq"\nfilter_file = "%s"\n'
                     % os.path.join(args.source_dir, "data", "examples", "jq", "anonymize_for_dev.jq"))
        config = os.path.join(tmp, "transformers.toml")
        with open(config, "w") as f:
            f.write('[transformers.github_events]\ntype = "vrl"\ntemplate_file = "%s"\n'
                    '[transformers.github_events_jq]\ntype = "jq"\nfilter_file = "%s"\n'
                    % (os.path.join(github, "transformer.vrl"),
                       os.path.join(args.source_dir, "tests", "bench", "github_events_ci.jq")))
            f.write(mirror_vrl + mirror_jq)

        # the jq port gives upstream's outputs on the inputs it covers
        ci_in, ci_out = os.path.join(tmp, "ci-inputs"), os.path.join(tmp, "ci-outputs")
        for kind in ("workflow_run", "workflow_job"):
            shutil.copytree(os.path.join(github, "inputs", kind), os.path.join(ci_in, kind))
            shutil.copytree(os.path.join(github, "outputs", kind), os.path.join(ci_out, kind))
        check(args, config, "github_events", ci_in, ci_out)
        check(args, config, "github_events_jq", ci_in, ci_out)

        def inputs(root):
            return sorted(p for p in glob.glob(os.path.join(root, "**", "*.json"), recursive=True)
                          if not p.endswith((".headers.json", ".metadata.json")))

        all_github, ci, events = inputs(os.path.join(github, "inputs")), inputs(ci_in), inputs(conformance)
        cases = [
            ("github_events, all inputs", "VRL", bench(args, config, "github_events", all_github)),
            ("github_events, workflow_run/job", "VRL", bench(args, config, "github_events", ci)),
            ("github_events, workflow_run/job", "jq", bench(args, config, "github_events_jq", ci)),
            ("seed mirroring (anonymize_for_dev)", "VRL", bench(args, config, "anonymize_for_dev", events)),
            ("seed mirroring (anonymize_for_dev)", "jq", bench(args, config, "anonymize_for_dev_jq", events)),
        ]
        print("1-min load average: %.2f before the run, %.2f now (%d CPUs)"
              % (load_before, os.getloadavg()[0], os.cpu_count()))
        print("%-36s %-4s %7s %12s %10s" % ("transform", "lang", "inputs", "events/s/core", "µs/event"))
        for what, lang, r in cases:
            print("%-36s %-4s %7d %12.0f %10.2f" % (what, lang, r["inputs"], r["events_per_s"],
                                                  r["us_per_event"]))
            if r["errors"]:
                print("    (%d of %d events rejected)" % (r["errors"], r["events"]))

        ingests = [
            ingest(args, tmp, "", [], "none"),
            ingest(args, tmp, mirror_vrl, ["anonymize_for_dev"], "vrl"),
            ingest(args, tmp, mirror_jq, ["anonymize_for_dev_jq"], "jq"),
        ]
        print()
        print("webhook ingest, 4 keep-alive connections, %d events, median of %d "
              "(1-min load average now %.2f):" % (args.ingest_count, args.repeat,
                                                   os.getloadavg()[0]))
        for r in ingests:
            print("  %-5s %8.0f events/s   (%s)" % (r["label"], r["median"],
                                                   ", ".join("%.0f" % x for x in r["rates"])))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"transform": [{"what": w, "lang": l, **r} for w, l, r in cases],
                           "ingest": ingests, "cpus": os.cpu_count(),
                           "loadavg1_before": load_before}, f, indent=2)
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
