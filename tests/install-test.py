#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""`meson install` into a temporary prefix, then the installed program as a
user runs it: no --plugin-dir, no build tree.

  install-test.py SOURCE_ROOT BUILD_ROOT

A fresh build directory and the prefix live in BUILD_ROOT/install-test/
(removed first, left behind for inspection). Checks:

- `config --check` of the built-in default finds the installed plugins;
- `config --describe` lists their types;
- the program serves /healthz, takes an event on the webhook and streams it;
- messages are translated: LANGUAGE=fr with LANG=C.UTF-8 (no generated
  locale needed) gives French from the installed .mo;
- the man pages, the user guide, the example configurations and the
  sample events are installed (an installed sample is what the webhook
  gets above), and an installed example (with its jq program) passes
  `config --check`;
- doc/plugins.md's plugin builds against the installed cdviz-1.0.pc,
  installs into its `plugindir` and is found without --plugin-dir.

Prints TAP.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SOURCE_ROOT, BUILD_ROOT = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests"))
from cdviz_testlib import SseReader, read_response, send_request  # noqa: E402

WORK = os.path.join(BUILD_ROOT, "install-test")
BUILD = os.path.join(WORK, "build")
PREFIX = os.path.join(WORK, "prefix")
LISTEN_RE = re.compile(r"Listening on https?://([^:]+):(\d+)")

results = []


def ok(condition, name, detail=""):
    results.append(bool(condition))
    print("%s %d - %s" % ("ok" if condition else "not ok", len(results), name), flush=True)
    if not condition and detail:
        for line in str(detail).splitlines():
            print("# " + line, flush=True)
    return condition


def bail(name, detail):
    ok(False, name, detail)
    print("1..%d" % len(results))
    sys.exit(1)


def sh(cmd, env=None, cwd=None, timeout=600):
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=timeout, stdin=subprocess.DEVNULL)


# --- build and install -----------------------------------------------------

shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
t0 = time.monotonic()
# Without introspection, API docs and fuzzers (not what this test is about);
# -O0 keeps it quick.
r = sh(["meson", "setup", BUILD, SOURCE_ROOT, "--prefix", PREFIX,
        "-Dintrospection=disabled", "-Ddocs=disabled", "-Doptimization=0", "-Ddebug=false"])
if r.returncode != 0:
    bail("meson setup --prefix", r.stdout + r.stderr)
r = sh(["meson", "compile", "-C", BUILD])
if r.returncode != 0:
    bail("meson compile", r.stdout[-3000:] + r.stderr[-3000:])
r = sh(["meson", "install", "-C", BUILD, "--no-rebuild", "--quiet"])
if not ok(r.returncode == 0, "meson install (%.0f s)" % (time.monotonic() - t0),
          r.stdout[-3000:] + r.stderr[-3000:]):
    bail("install", "")

# Where things went.
program = os.path.join(PREFIX, "bin", "cdviz-pipeline")
libdirs = [os.path.dirname(p) for p in
           sh(["find", PREFIX, "-name", "libcdviz-1.0.so*"]).stdout.split()]
pcs = sh(["find", PREFIX, "-name", "cdviz-1.0.pc"]).stdout.split()
ok(os.access(program, os.X_OK), "the program is installed")
ok(libdirs, "the library is installed")
ok(pcs, "cdviz-1.0.pc is installed")

# The environment of a user: nothing from the build tree or the test suite.
ENV = {k: v for k, v in os.environ.items()
       if not k.startswith(("CDVIZ_", "G_", "GI_", "LD_", "MALLOC_", "LANG", "LC_"))}
ENV.update(LANG="C.UTF-8", LD_LIBRARY_PATH=":".join(sorted(set(libdirs))),
           G_DEBUG="fatal-criticals")


def run(args, env=None, timeout=30):
    r = sh([program] + args, env=dict(ENV, **(env or {})), timeout=timeout)
    # French typography puts no-break spaces before “:” and inside « »: compare
    # with plain spaces.
    r.stdout = r.stdout.replace("\u00a0", " ").replace("\u202f", " ")
    r.stderr = r.stderr.replace("\u00a0", " ").replace("\u202f", " ")
    return r


# --- the installed program --------------------------------------------------

r = run(["--version"])
ok(r.returncode == 0 and r.stdout.startswith("cdviz-pipeline "), "--version", r.stderr)

r = run(["config", "--check"])
ok(r.returncode == 0 and "configuration OK" in r.stderr and 'type = "sse"' in r.stdout,
   "config --check of the built-in default finds the installed plugins", r.stderr)

r = run(["config", "--describe"])
for kind, name in (("Source", "webhook"), ("Sink", "sse"), ("Transformer", "jq")):
    ok("### %s `%s`" % (kind, name) in r.stdout, "config --describe lists %s" % name,
       r.stderr)


def request(port, method, path, body=b"", headers=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        send_request(s, method, path, body, headers, close=True)
        return read_response(s)
    finally:
        s.close()


with tempfile.TemporaryDirectory(prefix="cdviz-install-") as tmp:
    err_path = os.path.join(tmp, "stderr")
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([program, "--set", "http.port = 0"], env=ENV,
                                stdout=subprocess.DEVNULL, stderr=err,
                                stdin=subprocess.DEVNULL)
    port = None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and port is None and proc.poll() is None:
        m = LISTEN_RE.search(open(err_path, errors="replace").read())
        if m:
            port = int(m.group(2))
        time.sleep(0.05)
    if ok(port is not None, "the installed program starts and listens",
          open(err_path, errors="replace").read()):
        status, _, body = request(port, "GET", "/healthz")
        ok(status == 200, "GET /healthz", body)
        reader = SseReader(port, "/sse/events")
        ok(reader.status == 200, "GET /sse/events", reader.text)
        # The installed sample the man page and the README tell users to send.
        sample = os.path.join(PREFIX, "share", "cdviz-pipeline", "samples",
                              "build_started.json")
        with open(sample, "rb") as f:
            raw = f.read()
        status, _, body = request(port, "POST", "/webhook/events", raw,
                                  {"Content-Type": "application/json"})
        ok(status == 201, "POST /webhook/events (installed samples/build_started.json)", body)
        try:
            [got] = reader.read_events(1, timeout=10)
            ok(got.get("event") == "cdevent"
               and got.get("id") == json.loads(raw)["context"]["id"],
               "the event comes out of the stream", got)
        except Exception as e:  # noqa: BLE001
            ok(False, "the event comes out of the stream", e)
        reader.close()
    if proc.poll() is None:
        proc.terminate()
    ok(proc.wait(10) == 0, "SIGTERM: clean exit", open(err_path, errors="replace").read())

# --- translations -------------------------------------------------------------

mo = sh(["find", PREFIX, "-path", "*/fr/LC_MESSAGES/cdviz-pipeline.mo"]).stdout.split()
ok(mo, "the French catalogue is installed")
FR = {"LANGUAGE": "fr", "LANG": "C.UTF-8"}
r = run(["config"], env=FR)
ok(r.returncode == 1 and "cdviz-pipeline : « config » requiert --check, --print ou --print-raw" in r.stderr,
   "LANGUAGE=fr: a usage error in French", r.stderr)
r = run(["config", "--check", "--set", "http.port = 'x'"], env=FR)
ok(r.returncode == 1 and "cdviz-pipeline : --set:1 : clé « http.port » : il faut un entier, "
   "pas une chaîne" in r.stderr,
   "LANGUAGE=fr: a configuration error in French", r.stderr)
r = run(["--help"], env=FR)
ok("Afficher la version et quitter" in r.stdout, "LANGUAGE=fr: --help in French", r.stdout)
r = run(["config"], env={"LANG": "C.UTF-8"})
ok("“config” needs --check, --print or --print-raw" in r.stderr, "LANG=C.UTF-8: English", r.stderr)

# --- installed documentation and data --------------------------------------------

share = os.path.join(PREFIX, "share")
if shutil.which("rst2man") or shutil.which("rst2man.py"):
    for page in ("man1/cdviz-pipeline.1", "man5/cdviz-pipeline.toml.5"):
        path = os.path.join(share, "man", page)
        ok(os.path.exists(path) and ".TH" in open(path).read(), "man page " + page)
    if shutil.which("man"):
        r = sh(["man", "-l", os.path.join(share, "man", "man5", "cdviz-pipeline.toml.5")],
               env=dict(ENV, MANPAGER="cat", MANWIDTH="100"))
        ok(r.returncode == 0 and "HEADER RULES" in r.stdout,
           "man -l renders cdviz-pipeline.toml(5)", r.stdout[-2000:] + r.stderr)
else:
    print("# rst2man not found: no man pages to check")

docdir = os.path.join(share, "doc", "cdviz-pipeline")
for name in ("configuration.md", "sse.md", "examples/multi-cloud.toml",
             "examples/jq/build_filter.jq"):
    ok(os.path.exists(os.path.join(docdir, name)), "installed: doc/cdviz-pipeline/" + name)
for name in sorted(os.listdir(os.path.join(SOURCE_ROOT, "data", "samples"))):
    ok(os.path.exists(os.path.join(share, "cdviz-pipeline", "samples", name)),
       "installed: cdviz-pipeline/samples/" + name)
r = run(["config", "--check", "--config", os.path.join(docdir, "examples", "build-dashboard.toml")])
ok(r.returncode == 0, "an installed example (with its jq file) passes config --check", r.stderr)

# --- a third-party plugin against the installed library ------------------------------

doc = open(os.path.join(SOURCE_ROOT, "doc", "plugins.md"), encoding="utf-8").read()
m = re.search(r"^```c\n/\* file: typefilter.c \*/\n(.*?)^```$", doc, re.S | re.M)
cc = shutil.which("cc")
if ok(m is not None, "doc/plugins.md has the example plugin") and cc and pcs:
    pc_env = dict(ENV, PKG_CONFIG_PATH=os.path.dirname(pcs[0]))
    plugindir = sh(["pkg-config", "--variable=plugindir", "cdviz-1.0"], env=pc_env).stdout.strip()
    ok(plugindir.startswith(PREFIX), "pkg-config --variable=plugindir", plugindir)
    flags = sh(["pkg-config", "--cflags", "--libs", "cdviz-1.0"], env=pc_env)
    with tempfile.TemporaryDirectory(prefix="cdviz-plugin-") as tmp:
        with open(os.path.join(tmp, "typefilter.c"), "w") as f:
            f.write(m.group(1))
        r = sh([cc, "-shared", "-fPIC", "-Wall", "-Werror", "-o",
                os.path.join(plugindir, "libcdviz-typefilter.so"), "typefilter.c"]
               + flags.stdout.split(), cwd=tmp, env=pc_env)
        ok(r.returncode == 0, "the example plugin builds against the installed cdviz-1.0",
           flags.stderr + r.stderr)
    r = run(["config", "--describe"])
    ok("### Transformer `type_filter`" in r.stdout,
       "the installed plugin is found without --plugin-dir", r.stderr)

print("1..%d" % len(results))
sys.exit(0 if all(results) else 1)
