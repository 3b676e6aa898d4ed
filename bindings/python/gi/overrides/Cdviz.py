# SPDX-License-Identifier: Apache-2.0
"""PyGObject overrides for Cdviz-1.0.

Installed into PyGObject's ``gi/overrides`` directory; PyGObject loads it
when a program imports ``gi.repository.Cdviz``. The tests find it in the
source tree: ``gi.overrides`` extends its ``__path__`` with every
``gi/overrides`` directory on ``sys.path`` (``pkgutil.extend_path``), so
``PYTHONPATH=bindings/python`` is enough.

What it adds:

- A running pipeline holds itself alive until ``stop()`` (so that dropping
  the last reference never joins a thread from the wrong one). A program
  that ends without ``stop()`` would then leave the pipeline thread calling
  Python components while the interpreter shuts down; an ``atexit`` handler
  stops every pipeline still running first.
"""
import atexit
import threading

from ..module import get_introspection_module
from ..overrides import override

Cdviz = get_introspection_module("Cdviz")

__all__ = []

# Pipelines started from Python and not stopped yet. Strong references: a
# running pipeline keeps itself alive in C anyway, and the Python wrapper of
# an object nobody else holds could not be found again.
_running = set()
_running_lock = threading.Lock()


class Pipeline(Cdviz.Pipeline):
    def start(self):
        started = Cdviz.Pipeline.start(self)
        with _running_lock:
            _running.add(self)
        return started

    def stop(self):
        try:
            Cdviz.Pipeline.stop(self)
        finally:
            with _running_lock:
                _running.discard(self)


Pipeline = override(Pipeline)
__all__.append("Pipeline")


def _stop_running_pipelines():
    """Stops, at interpreter exit, every pipeline the program left running:
    the pipeline thread must not call Python code once the interpreter is
    being finalised."""
    while True:
        with _running_lock:
            if not _running:
                return
            pipeline = _running.pop()
        try:
            pipeline.stop()
        except Exception:  # noqa: BLE001 - at exit, keep stopping the others
            pass


atexit.register(_stop_running_pipelines)
