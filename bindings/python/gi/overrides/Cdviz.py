# SPDX-License-Identifier: Apache-2.0
"""PyGObject overrides for Cdviz-1.0.

Installed into PyGObject's ``gi/overrides`` directory; PyGObject loads it
when a program imports ``gi.repository.Cdviz``. The tests find it in the
source tree: ``gi.overrides`` extends its ``__path__`` with every
``gi/overrides`` directory on ``sys.path`` (``pkgutil.extend_path``), so
``PYTHONPATH=bindings/python`` is enough.

What it adds:

- ``e.matches(Cdviz.ConfigError, Cdviz.ConfigError.PARSE)``: a ``GLib.Error``
  matches a Cdviz error enum (a registered GType) as it matches that
  domain's quark; ``Cdviz.Config.error_quark()`` (and the other classes')
  still works.

- A running pipeline holds itself alive until ``stop()`` (so that dropping
  the last reference never joins a thread from the wrong one). A program
  that ends without ``stop()`` would then leave the pipeline thread calling
  Python components while the interpreter shuts down; an ``atexit`` handler
  stops every pipeline still running first.
"""
import atexit
import re
import threading

from ..module import get_introspection_module
from ..overrides import override

Cdviz = get_introspection_module("Cdviz")
from gi.repository import GLib  # noqa: E402 - the overridden GLib, whose Error is raised

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


def _error_domains():
    """Cdviz error enums (CdvizConfigError…) → their domain's quark
    ("cdviz-config-error-quark"), for the domains that exist."""
    domains = {}
    for name in ("CdeventError", "ConfigError", "HeaderValidatorError", "HttpServerError",
                 "PipelineError", "RegistryError"):
        enum = getattr(Cdviz, name, None)
        if enum is None:
            continue
        words = re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()
        domains[enum] = GLib.quark_from_string("cdviz-%s-quark" % words)
    return domains


_ERROR_DOMAINS = _error_domains()
_gerror_matches = GLib.Error.matches


def _matches(self, domain, code):
    if isinstance(domain, type) and domain in _ERROR_DOMAINS:
        domain = _ERROR_DOMAINS[domain]
    return _gerror_matches(self, domain, code)


GLib.Error.matches = _matches

# With the enums registered as GTypes, the scanner attaches each
# cdviz_*_error_quark() to its enum (Cdviz.ConfigError.quark()); keep the
# spelling the API had, Cdviz.Config.error_quark(), working.
for _class, _function in (("Cdevent", "cdevent_error_quark"),
                          ("Config", "config_error_quark"),
                          ("HeaderValidator", "header_validator_error_quark"),
                          ("HttpServer", "http_server_error_quark"),
                          ("Pipeline", "pipeline_error_quark"),
                          ("Registry", "registry_error_quark")):
    _cls = globals().get(_class) or getattr(Cdviz, _class, None)
    if _cls is not None and not hasattr(_cls, "error_quark"):
        _cls.error_quark = staticmethod(getattr(Cdviz, _function))
