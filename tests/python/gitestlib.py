# SPDX-License-Identifier: Apache-2.0
"""Helpers for the Python (PyGObject) tests of Cdviz-1.0.

tests/meson.build runs them with Debian's /usr/bin/python3, GI_TYPELIB_PATH
and LD_LIBRARY_PATH pointing at build/src, CDVIZ_PLUGIN_DIR at build/plugins
and CDVIZ_PLUGIN_SYSTEM_PATH empty, so only what was just built is used.
"""
import os

import gi

gi.require_version("GLib", "2.0")
gi.require_version("GObject", "2.0")
gi.require_version("Json", "1.0")
gi.require_version("Soup", "3.0")
gi.require_version("Cdviz", "1.0")
from gi.repository import Cdviz, GLib, GObject, Json, Soup  # noqa: E402

__all__ = ["Cdviz", "GLib", "GObject", "Json", "Soup", "HERE", "SOURCE_ROOT", "BUILD_ROOT",
           "PLUGIN_DIR", "SHARED", "cdevent_text", "event", "body_dict", "config",
           "run_loop"]

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("CDVIZ_SOURCE_ROOT", os.path.join(HERE, "..", ".."))
BUILD_ROOT = os.environ.get("CDVIZ_BUILD_ROOT", os.path.join(SOURCE_ROOT, "build"))
PLUGIN_DIR = os.environ.get("CDVIZ_PLUGIN_DIR", os.path.join(BUILD_ROOT, "plugins"))
SHARED = os.environ.get("CDVIZ_SHARED", os.path.join(SOURCE_ROOT, "..", "shared"))


def cdevent_text(name="build_started", version="v0.4.1"):
    """A real CDEvent from ../shared/cdevents, as text."""
    path = os.path.join(SHARED, "cdevents", version, "conformance", name + ".json")
    with open(path, encoding="utf-8") as f:
        return f.read()


def event(event_id, **subject_content):
    """A small CDEvent with a given id, as a Cdviz.Message."""
    import json
    body = {
        "context": {
            "version": "0.4.1",
            "id": event_id,
            "source": "/tests/python",
            "type": "dev.cdevents.build.started.0.1.1",
            "timestamp": "2026-01-01T00:00:00Z",
        },
        "subject": {"id": "build-1", "content": dict(subject_content)},
    }
    return Cdviz.Message.new_from_data(json.dumps(body), -1)


def body_dict(message):
    """The body of a Cdviz.Message as Python data."""
    import json
    return json.loads(Json.to_string(message.get_body(), False))


def config(toml, origin="test"):
    """A Cdviz.Config made of the built-in base and @toml."""
    cfg = Cdviz.Config.new()
    cfg.add_string(toml, origin)
    return cfg


def run_loop(loop, timeout=5.0):
    """Runs a GLib.MainLoop, quitting it after timeout seconds at most.

    Returns True if something else quit the loop first.
    """
    timed_out = []

    def on_timeout():
        timed_out.append(True)
        loop.quit()
        return GLib.SOURCE_REMOVE

    source_id = GLib.timeout_add(int(timeout * 1000), on_timeout)
    loop.run()
    if not timed_out:
        GLib.source_remove(source_id)
    return not timed_out
