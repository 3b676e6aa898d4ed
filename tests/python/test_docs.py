# SPDX-License-Identifier: Apache-2.0
"""Every ```python block of doc/python.md is a complete program: run each."""
import os
import re
import subprocess
import sys
import unittest

from .gitestlib import SOURCE_ROOT

GUIDE = os.path.join(SOURCE_ROOT, "doc", "python.md")
BLOCK_RE = re.compile(r"^```python\n(.*?)^```$", re.M | re.S)


def examples():
    with open(GUIDE, encoding="utf-8") as f:
        text = f.read()
    found = []
    for m in BLOCK_RE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        found.append((line, m.group(1)))
    return found


class GuideExamplesTest(unittest.TestCase):
    def test_the_guide_has_examples(self):
        self.assertGreaterEqual(len(examples()), 5)

    def test_examples_run(self):
        for line, code in examples():
            with self.subTest(line=line):
                # A process each: examples register types in the default
                # registry, as real programs do.
                result = subprocess.run([sys.executable, "-c", code],
                                        stdin=subprocess.DEVNULL, capture_output=True,
                                        text=True, timeout=60)
                self.assertEqual(result.returncode, 0,
                                 "doc/python.md:%d failed:\n%s%s"
                                 % (line, result.stdout, result.stderr))


if __name__ == "__main__":
    unittest.main()
