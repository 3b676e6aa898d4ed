# SPDX-License-Identifier: Apache-2.0
"""The ```python block of doc/monitor.md (Cdviz.SseClient from Python), run
as written against a real cdviz-pipeline: three events posted, three printed,
the failed build flagged."""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from cdviz_testlib import Pipeline  # noqa: E402
from monitor.test_monitor import CONFIG, EVENTS  # noqa: E402

SOURCE_ROOT = os.environ.get("CDVIZ_SOURCE_ROOT",
                             os.path.join(os.path.dirname(__file__), "..", ".."))
GUIDE = os.path.join(SOURCE_ROOT, "doc", "monitor.md")


class DocExampleTest(unittest.TestCase):

    def test_python_example(self):
        with open(GUIDE, encoding="utf-8") as f:
            blocks = re.findall(r"^```python\n(.*?)^```$", f.read(), re.M | re.S)
        self.assertEqual(len(blocks), 1)
        with tempfile.TemporaryDirectory(prefix="cdviz-monitor-doc-") as tmp, \
                Pipeline(CONFIG) as pipeline:
            script = os.path.join(tmp, "watch.py")
            with open(script, "w") as f:
                f.write(blocks[0])
            url = "http://127.0.0.1:%d/sse/events" % pipeline.port
            proc = subprocess.Popen([sys.executable, script, url, "3"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                # Post once the client is connected: the sink counts it.
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    _, _, metrics = pipeline.request("GET", "/metrics")
                    if re.search(rb'cdviz_sse_clients\{[^}]*\} 1', metrics):
                        break
                    time.sleep(0.05)
                for body, *_ in EVENTS[1:4]:
                    pipeline.request("POST", "/webhook/in", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
                out, err = proc.communicate(timeout=20)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            self.assertEqual(proc.returncode, 0, err)
            self.assertEqual(out.splitlines(), [
                "ev-2 build.started app-7 ",
                "ev-3 testcaserun.finished login-test pass",
                "ev-4 build.finished app-7 failure",
                "FAILED: build app-7",
            ], err)


if __name__ == "__main__":
    unittest.main()
