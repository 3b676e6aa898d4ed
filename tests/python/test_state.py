# SPDX-License-Identifier: Apache-2.0
"""The state store ([state], kind "fs"): what a polling source keeps
across restarts, through the API other sources use."""
import os
import stat
import tempfile
import unittest

from .gitestlib import Cdviz, GLib, config


class StateTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="cdviz-state-")
        self.root = os.path.join(self.tmp.name, "state")

    def tearDown(self):
        self.tmp.cleanup()

    def test_set_then_get(self):
        state = Cdviz.State.new(self.root)
        self.assertIsNone(state.get("src", "checkpoint.json"))
        self.assertFalse(os.path.exists(self.root))  # created on the first write
        self.assertTrue(state.set("src", "checkpoint.json", GLib.Bytes.new(b'{"a":1}')))
        self.assertTrue(state.set("src", "checkpoint.json", GLib.Bytes.new(b'{"a":2}')))
        self.assertEqual(state.get("src", "checkpoint.json").get_data(), b'{"a":2}')
        path = os.path.join(self.root, "src", "checkpoint.json")
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b'{"a":2}')
        # Replaced by a rename: no temporary file is left beside the value.
        self.assertEqual(os.listdir(os.path.dirname(path)), ["checkpoint.json"])
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)

    def test_keys_are_plain_names(self):
        state = Cdviz.State.new(self.root)
        for source, key in (("..", "k"), ("s", "../k"), ("s", ""), ("a/b", "k")):
            with self.assertRaises(GLib.Error) as cm:
                state.set(source, key, GLib.Bytes.new(b"x"))
            self.assertEqual(cm.exception.domain, "cdviz-state-error-quark")
            self.assertEqual(cm.exception.code, int(Cdviz.StateError.INVALID_KEY))
        self.assertFalse(os.path.exists(self.root))

    def test_unwritable_root(self):
        blocker = os.path.join(self.tmp.name, "file")
        with open(blocker, "w") as f:
            f.write("x")
        state = Cdviz.State.new(os.path.join(blocker, "state"))
        with self.assertRaises(GLib.Error) as cm:
            state.set("s", "k", GLib.Bytes.new(b"x"))
        self.assertIn("cannot create directory", cm.exception.message)

    def test_pipeline_state_from_config(self):
        pipeline = Cdviz.Pipeline.new(config(
            '[state]\nkind = "fs"\nparameters = { root = "%s" }\n' % self.root), None)
        self.assertEqual(pipeline.get_state().get_root(), self.root)
        pipeline = Cdviz.Pipeline.new(config(""), None)
        self.assertEqual(pipeline.get_state().get_root(), "./.cdviz-collector/state")


if __name__ == "__main__":
    unittest.main()
