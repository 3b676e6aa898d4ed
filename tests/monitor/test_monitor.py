# SPDX-License-Identifier: Apache-2.0
"""cdviz-monitor, the real program, under Xvfb against a real cdviz-pipeline.

Everything is private to the test: a D-Bus session bus (dbus-daemon) with a
fake notification server on it (fake_notifications.py), an X server
(Xvfb), a pipeline with a webhook source and an SSE sink on 127.0.0.1.
Events of several kinds go to the webhook; the monitor's test hook
(CDVIZ_MONITOR_TEST_HOOK=1: each change of the list as shown, on standard
output) must show them newest first, the failures and the incident must
reach the notification server, and the monitor must print no GTK warning
or critical. `app.show-event` (a GApplication action, called over D-Bus as
a notification's default action would) selects the failed build, and a
screenshot of the screen goes to the build directory
(tests/monitor/monitor.png): `build-aux/dev monitor-screenshot` copies it
to doc/images/monitor.png.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from cdviz_testlib import Pipeline, cdevent  # noqa: E402

MONITOR = os.environ.get("CDVIZ_MONITOR", "")
SCHEMA_DIR = os.environ.get("CDVIZ_MONITOR_SCHEMA_DIR", "")
SCREENSHOT = os.environ.get("CDVIZ_MONITOR_SCREENSHOT", "")
HERE = os.path.dirname(os.path.abspath(__file__))

CONFIG = """
[sources.in]
enabled = true
extractor = { type = "webhook", id = "in" }

[sinks.out]
type = "sse"
id = "events"
"""


def event(name, n, outcome=None, subject_id=None):
    body = json.loads(cdevent(name))
    body["context"]["id"] = "ev-%d" % n
    if outcome is not None:
        body["subject"].setdefault("content", {})["outcome"] = outcome
    if subject_id is not None:
        body["subject"]["id"] = subject_id
    return body


# (event, short type, subject, outcome): posted in this order.
EVENTS = [
    (event("pipelinerun_started", 1, subject_id="release-42"), "pipelinerun.started", "release-42", "-"),
    (event("build_started", 2, subject_id="app-7"), "build.started", "app-7", "-"),
    (event("testcaserun_finished", 3, subject_id="login-test"), "testcaserun.finished", "login-test", "pass"),
    (event("build_finished", 4, outcome="failure", subject_id="app-7"), "build.finished", "app-7", "failure"),
    (event("service_deployed", 5, subject_id="checkout"), "service.deployed", "checkout", "-"),
    (event("pipelinerun_finished", 6, subject_id="release-42"), "pipelinerun.finished", "release-42", "failure"),
    (event("incident_detected", 7, subject_id="db-outage"), "incident.detected", "db-outage", "-"),
]


class Proc:
    """A child whose standard output is read line by line from a file."""

    def __init__(self, cmd, env=None, tmp=None, name="proc"):
        self.out_path = os.path.join(tmp, name + ".out")
        self.err_path = os.path.join(tmp, name + ".err")
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL, env=env)

    def out(self):
        with open(self.out_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def err(self):
        with open(self.err_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_for(self, predicate, what, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.out().splitlines()
            found = predicate(lines)
            if found:
                return found
            if self.proc.poll() is not None:
                raise AssertionError("%s exited with %d while waiting for %s:\n%s\n%s"
                                     % (self.proc.args[0], self.proc.returncode, what,
                                        self.out()[-3000:], self.err()[-3000:]))
            time.sleep(0.05)
        raise AssertionError("timed out waiting for %s:\n%s\n%s"
                             % (what, self.out()[-3000:], self.err()[-3000:]))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        self._err.close()


@unittest.skipUnless(MONITOR and os.path.exists(MONITOR), "cdviz-monitor not built")
@unittest.skipUnless(shutil.which("Xvfb") and shutil.which("dbus-daemon"),
                     "needs Xvfb (xvfb) and dbus-daemon (dbus)")
class MonitorTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="cdviz-monitor-test-")
        self.addCleanup(self.tmp.cleanup)
        self.procs = []
        # A session bus of our own.
        self.bus = self.start(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                              name="dbus")
        self.address = self.bus.wait_for(lambda lines: lines and lines[0], "the bus address")
        self.env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.address)
        self.notifications = self.start([sys.executable, os.path.join(HERE, "fake_notifications.py")],
                                        env=self.env, name="notifications")
        self.notifications.wait_for(lambda lines: "ready" in lines, "the notification server")
        # An X server of our own: -displayfd picks a free display.
        self.xvfb = self.start(["Xvfb", "-displayfd", "1", "-screen", "0", "1200x720x24",
                                "-nolisten", "tcp", "-nolisten", "unix"], name="xvfb")
        display = self.xvfb.wait_for(lambda lines: lines and lines[0], "the X display")
        # Xvfb without "-nolisten unix" would need /tmp/.X11-unix; the
        # abstract socket is enough on Linux.
        self.display = ":" + display.strip()

    def start(self, cmd, env=None, name="proc"):
        p = Proc(cmd, env=env, tmp=self.tmp.name, name=name)
        self.procs.append(p)
        self.addCleanup(p.stop)
        return p

    def monitor_env(self):
        return dict(self.env,
                    DISPLAY=self.display, GDK_BACKEND="x11", GSK_RENDERER="cairo",
                    GTK_A11Y="none", NO_AT_BRIDGE="1",
                    GSETTINGS_BACKEND="memory", GSETTINGS_SCHEMA_DIR=SCHEMA_DIR,
                    CDVIZ_MONITOR_TEST_HOOK="1", CDVIZ_MONITOR_SECRETS="file",
                    XDG_CONFIG_HOME=os.path.join(self.tmp.name, "config"),
                    XDG_DATA_HOME=os.path.join(self.tmp.name, "data"),
                    LANGUAGE="C", LANG="C.UTF-8", LC_ALL="C.UTF-8",
                    G_DEBUG="fatal-criticals")

    def post(self, pipeline, body):
        status, _, answer = pipeline.request("POST", "/webhook/in", json.dumps(body).encode(),
                                             {"Content-Type": "application/json"})
        self.assertIn(status, (200, 201, 202), answer)

    def test_events_notifications_screenshot(self):
        with Pipeline(CONFIG) as pipeline:
            url = "http://127.0.0.1:%d/sse/events" % pipeline.port
            monitor = self.start([MONITOR, url, "--header", "X-Test: monitor"],
                                 env=self.monitor_env(), name="monitor")
            monitor.wait_for(lambda lines: "status\t%s\tLive" % url in lines, "Live")

            for body, *_ in EVENTS:
                self.post(pipeline, body)
            expected = ["%s %s %s" % (t, s, o) for _, t, s, o in EVENTS]

            def full_list(lines):
                lists = [l.split("\t") for l in lines if l.startswith("list\t")]
                return lists[-1] if lists and lists[-1][1] == str(len(EVENTS)) else None
            last = monitor.wait_for(full_list, "%d rows" % len(EVENTS))
            # Newest first.
            self.assertEqual(last[2:], list(reversed(expected)))
            # Each change added the newest event on top, in the order posted.
            lists = [l.split("\t") for l in monitor.out().splitlines() if l.startswith("list\t")]
            tops = [l[2] for l in lists if len(l) > 2]
            self.assertEqual(sorted(set(tops), key=tops.index), expected)

            # The build and pipeline run failures and the incident reached
            # the desktop notification server; nothing else did.
            def three(lines):
                calls = [json.loads(l) for l in lines if l.startswith("{")]
                return calls if len(calls) >= 3 else None
            calls = self.notifications.wait_for(three, "3 notifications")
            time.sleep(0.5)
            calls = [json.loads(l) for l in self.notifications.out().splitlines()
                     if l.startswith("{")]
            self.assertEqual([c["summary"] for c in calls],
                             ["Build failed", "Pipeline run failed", "Incident detected"])
            self.assertEqual(calls[0]["body"], "app-7 from /event/source/123")
            hooked = [l.split("\t")[2] for l in monitor.out().splitlines()
                      if l.startswith("notification\t")]
            self.assertEqual(hooked, ["Build failed", "Pipeline run failed", "Incident detected"])

            # A notification's default action: app.show-event over D-Bus.
            r = subprocess.run(["gdbus", "call", "--address", self.address,
                                "--dest", "dev.cdviz.Monitor", "--object-path",
                                "/dev/cdviz/Monitor", "--method", "org.gtk.Actions.Activate",
                                "show-event", "[<'ev-4'>]", "{}"],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 0, r.stderr)
            monitor.wait_for(lambda lines: any(l.startswith("selected\tev-4") for l in lines),
                             "the failed build selected")
            time.sleep(1.0)
            if SCREENSHOT and shutil.which("import"):
                r = subprocess.run(["import", "-display", self.display, "-window", "root",
                                    SCREENSHOT], capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertGreater(os.path.getsize(SCREENSHOT), 10000)

            self.assertNotIn("Refused", monitor.out())
            monitor.stop()
            err = monitor.err()
            for bad in ("WARNING", "CRITICAL", "Gtk-", "Adwaita-"):
                self.assertNotIn(bad, err, err)

    def test_refused_then_saved(self):
        """A 401 shows as refused with the producer's message and a
        countdown; with the right header the stream goes live; a run without
        URL watches the saved stream with its saved header (GSettings for
        the URL, the 0600 file for the header: no keyring here)."""
        config = CONFIG + """
[sinks.out.headers]
"Authorization" = { type = "equals", value = "Bearer s3cret", case_sensitive = true }
"""
        env = self.monitor_env()
        env["GSETTINGS_BACKEND"] = "keyfile"
        with Pipeline(config) as pipeline:
            url = "http://127.0.0.1:%d/sse/events" % pipeline.port
            refused = self.start([MONITOR, url], env=env, name="refused")
            line = refused.wait_for(
                lambda lines: next((l for l in lines if l.startswith("status\t%s\tRefused:" % url)),
                                   None), "Refused")
            self.assertIn("HTTP 401", line)
            self.assertRegex(line, r"retrying in \d+ seconds?$")
            refused.stop()
            self.assertNotIn("CRITICAL", refused.err())

            first = self.start([MONITOR, url, "--header", "Authorization: Bearer s3cret"],
                               env=env, name="first")
            first.wait_for(lambda lines: "status\t%s\tLive" % url in lines, "Live")
            first.stop()
            headers = os.path.join(self.tmp.name, "config", "cdviz-monitor", "headers")
            self.assertEqual(os.stat(headers).st_mode & 0o777, 0o600)
            with open(os.path.join(self.tmp.name, "config", "glib-2.0", "settings",
                                   "keyfile")) as f:
                settings = f.read()
            self.assertIn(url, settings)
            self.assertNotIn("s3cret", settings)

            again = self.start([MONITOR], env=env, name="again")
            again.wait_for(lambda lines: "status\t%s\tLive" % url in lines, "Live, saved")
            self.post(pipeline, EVENTS[0][0])
            again.wait_for(lambda lines: any(l.startswith("list\t1\t") for l in lines), "a row")
            again.stop()
            for p in (first, again):
                for bad in ("WARNING", "CRITICAL", "Gtk-", "Adwaita-"):
                    self.assertNotIn(bad, p.err(), p.err())

    def test_narrow_window(self):
        """A narrow window (the size saved in GSettings) folds list and
        detail into one column: a notification's action opens the detail."""
        settings = os.path.join(self.tmp.name, "config", "glib-2.0", "settings")
        os.makedirs(settings)
        with open(os.path.join(settings, "keyfile"), "w") as f:
            f.write("[dev/cdviz/Monitor]\nwindow-width=460\nwindow-height=720\n")
        env = self.monitor_env()
        env["GSETTINGS_BACKEND"] = "keyfile"
        with Pipeline(CONFIG) as pipeline:
            url = "http://127.0.0.1:%d/sse/events" % pipeline.port
            monitor = self.start([MONITOR, url], env=env, name="narrow")
            monitor.wait_for(lambda lines: "status\t%s\tLive" % url in lines, "Live")
            monitor.wait_for(lambda lines: "folded\t1" in lines, "folded")
            for body, *_ in EVENTS[:4]:
                self.post(pipeline, body)
            monitor.wait_for(lambda lines: any(l.startswith("list\t4\t") for l in lines),
                             "4 rows")
            self.assertNotIn("page\tdetail", monitor.out())
            r = subprocess.run(["gdbus", "call", "--address", self.address,
                                "--dest", "dev.cdviz.Monitor", "--object-path",
                                "/dev/cdviz/Monitor", "--method", "org.gtk.Actions.Activate",
                                "show-event", "[<'ev-4'>]", "{}"],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 0, r.stderr)
            monitor.wait_for(lambda lines: "page\tdetail" in lines, "the detail page")
            if SCREENSHOT and shutil.which("import"):
                time.sleep(1.0)
                narrow = SCREENSHOT.replace(".png", "-narrow.png")
                r = subprocess.run(["import", "-display", self.display, "-window", "root",
                                    narrow], capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 0, r.stderr)
            monitor.stop()
            for bad in ("WARNING", "CRITICAL", "Gtk-", "Adwaita-"):
                self.assertNotIn(bad, monitor.err(), monitor.err())

    def test_bad_header(self):
        r = subprocess.run([MONITOR, "http://127.0.0.1:1/sse/x", "--header", "nocolon"],
                           env=self.monitor_env(), capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("invalid header “nocolon”", r.stderr)
        r = subprocess.run([MONITOR, "ftp://example.org/x"],
                           env=self.monitor_env(), capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("cdviz-monitor: ", r.stderr)
        self.assertNotIn("CRITICAL", r.stderr)


if __name__ == "__main__":
    unittest.main()
