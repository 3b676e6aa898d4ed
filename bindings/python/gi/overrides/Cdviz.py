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

- Python components follow Python's habits: a transformer's
  ``do_transform`` may return ``None`` (the event is dropped, as with
  ``[]``) or one ``Cdviz.Message``; ``do_send_message``, ``do_start_sink``
  and ``do_start_source`` may return ``None`` (success). Any exception they
  raise becomes the ``GLib.Error`` the pipeline reports:
  ``"ValueError: text"`` (``Gio.IOErrorEnum.FAILED``), where PyGObject
  would print a traceback and leave the pipeline without a reason. A
  ``GLib.Error`` passes unchanged, with its own domain and code. The
  traceback goes to the ``logging`` logger ``cdviz`` at DEBUG level.

- A component's ``GObject.Property`` with ``Cdviz.PARAM_DURATION`` in its
  flags must be a ``GObject.TYPE_UINT64``: a ``TypeError`` says so when the
  class is defined.

- A running pipeline holds itself alive until ``stop()`` (so that dropping
  the last reference never joins a thread from the wrong one). A program
  that ends without ``stop()`` would then leave the pipeline thread calling
  Python components while the interpreter shuts down; an ``atexit`` handler
  stops every pipeline still running first.
"""
import atexit
import functools
import logging
import re
import threading
import traceback

from ..module import get_introspection_module
from ..overrides import override

Cdviz = get_introspection_module("Cdviz")
from gi.repository import GLib  # noqa: E402 - the overridden GLib, whose Error is raised
from gi.repository import Gio, GObject  # noqa: E402

__all__ = []
_log = logging.getLogger("cdviz")


# --- Python components ------------------------------------------------------
#
# The wrappers run inside PyGObject's vfunc closures, on whichever thread
# calls the component (the pipeline thread for do_transform and
# do_send_message), with the GIL held; they keep no state of their own.

def _as_glib_error(component, exc):
    """The GLib.Error a component's exception becomes: its type and text,
    as the last line of a traceback shows them."""
    if isinstance(exc, GLib.Error):
        return exc
    _log.debug("%s raised", type(component).__name__,
               exc_info=(type(exc), exc, exc.__traceback__))
    text = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return GLib.Error(text, GLib.quark_to_string(Gio.io_error_quark()),
                      Gio.IOErrorEnum.FAILED)


def _wrap_transform(do_transform):
    @functools.wraps(do_transform)
    def transform(self, message):
        try:
            out = do_transform(self, message)
            if out is None:
                return []
            if isinstance(out, Cdviz.Message):
                return [out]
            out = list(out)
            for item in out:
                if not isinstance(item, Cdviz.Message):
                    raise TypeError("do_transform() must return a list of Cdviz.Message, "
                                    "not one holding %s" % type(item).__name__)
            return out
        except Exception as exc:  # noqa: BLE001 - every error becomes a GLib.Error
            raise _as_glib_error(self, exc) from None
    return transform


def _wrap_boolean(do_method):
    """For vfuncs returning gboolean: None means success."""
    @functools.wraps(do_method)
    def method(self, *args):
        try:
            result = do_method(self, *args)
        except Exception as exc:  # noqa: BLE001 - every error becomes a GLib.Error
            raise _as_glib_error(self, exc) from None
        return True if result is None else result
    return method


def _check_durations(cls):
    """Cdviz.PARAM_DURATION only means something on a guint64 property: say
    so when the class is defined, not when a "30s" is refused as "not an
    integer"."""
    for name, value in cls.__dict__.items():
        if (isinstance(value, GObject.Property) and int(value.flags) & Cdviz.PARAM_DURATION
                and value.type != GObject.TYPE_UINT64):
            raise TypeError("%s.%s: a Cdviz.PARAM_DURATION property must be of type "
                            "GObject.TYPE_UINT64 (milliseconds)" % (cls.__name__, name))


def _wrap_vfuncs(cls, wrappers):
    """Wraps the do_* methods @cls defines itself, before PyGObject's
    metaclass hooks them up (__init_subclass__ runs first); checks its
    duration properties."""
    _check_durations(cls)
    for name, wrap in wrappers.items():
        method = cls.__dict__.get(name)
        if callable(method) and not getattr(method, "_cdviz_wrapped", False):
            wrapped = wrap(method)
            wrapped._cdviz_wrapped = True
            setattr(cls, name, wrapped)


class Transformer(Cdviz.Transformer):
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _wrap_vfuncs(cls, {"do_transform": _wrap_transform})


class Sink(Cdviz.Sink):
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _wrap_vfuncs(cls, {"do_start_sink": _wrap_boolean, "do_send_message": _wrap_boolean})


class Source(Cdviz.Source):
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _wrap_vfuncs(cls, {"do_start_source": _wrap_boolean})


Transformer = override(Transformer)
Sink = override(Sink)
Source = override(Source)
__all__ += ["Transformer", "Sink", "Source"]

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
