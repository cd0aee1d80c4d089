"""Warm Jupyter kernels for the notebooks of a run: started once, cleared between notebooks.

A report's notebook spends about 1.5 s starting its kernel and 3 s importing crm_lab, pandas,
matplotlib, seaborn and scipy before its first line of its own; over the demo's fifteen pages that
is most of a minute. :class:`KernelPool` lends a kernel to each notebook and takes it back when
the notebook succeeded: the next notebook finds the modules imported. Before it is lent again the
kernel's namespace is cleared (``%reset -f``), its figures closed, and matplotlib's settings and
the warning filters restored as they were when the kernel was new. A kernel whose notebook failed
or ran out of time is shut down, never lent again, so nothing half-run is carried over.

Examples
--------
>>> from crm_lab.report.kernels import KernelPool
>>> with KernelPool() as pool:                                   # doctest: +SKIP
...     with pool.kernel() as km:
...         papermill.execute_notebook("in.ipynb", "out.ipynb", km=km)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jupyter_core.utils import run_sync

__all__ = ["KERNEL_STATE", "ENGINE", "KernelPool", "register_engine"]

#: The papermill engine for a lent kernel (see :func:`register_engine`).
ENGINE = "crm_lab_warm"

#: What a kernel looked like when it was new (set inside the kernel, read by the reset).
KERNEL_STATE: dict[str, Any] = {}

_REMEMBER = """\
import warnings as _w, matplotlib as _mpl, matplotlib.pyplot as _plt
import crm_lab.report.kernels as _k
# Not the backend nor interactive mode: the inline backend turns interactive on at its first
# figure, and turning it off again stops it showing figures.
_k.KERNEL_STATE.update(rc={k: v for k, v in _mpl.rcParams.items() if k not in ("backend", "interactive")}, filters=list(_w.filters))
del _w, _mpl, _plt, _k
"""

_RESET = """\
import warnings as _w, crm_lab.report.kernels as _k
_w.filters[:] = _k.KERNEL_STATE["filters"]  # first: a notebook's "error" filter must not fail the reset
get_ipython().run_line_magic("reset", "-f")
import warnings as _w, matplotlib as _mpl, matplotlib.pyplot as _plt
import crm_lab.report.kernels as _k
_plt.close("all")
_mpl.rcParams.update({k: v for k, v in _k.KERNEL_STATE["rc"].items() if _mpl.rcParams[k] != v})
del _w, _mpl, _plt, _k
"""


class KernelPool:
    """Kernels lent to one notebook at a time and kept warm between notebooks.

    Parameters
    ----------
    kernel_name : str
        The Jupyter kernel to start (the notebooks' own, ``python3`` for crm_lab's templates).
    timeout : float
        Seconds allowed to start a kernel or to clear it.

    Notes
    -----
    Thread-safe: each worker thread of a run borrows its own kernel, and a pool outlives the
    threads (``crm-lab demo`` keeps one pool for all its params files). Close it (or use it as a
    context manager) to shut the kernels down.
    """

    def __init__(self, kernel_name: str = "python3", timeout: float = 60.0):
        self.kernel_name, self.timeout = kernel_name, timeout
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self.started_ = 0  # kernels started so far
        self.lent_ = 0  # notebooks served

    def __enter__(self) -> KernelPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def kernel(self) -> Iterator[Any]:
        """A kernel manager for one notebook: a cleared warm kernel, else a new one; taken back only
        if the block ends without an error."""
        with self._lock:
            km = self._idle.pop() if self._idle else None
        if km is not None and not self._run(km, _RESET):
            _shutdown(km)
            km = None
        if km is None:
            km = self._start()
        with self._lock:
            self.lent_ += 1
        try:
            yield km
        except BaseException:
            _shutdown(km)
            raise
        if run_sync(km.is_alive)():
            with self._lock:
                self._idle.append(km)
        else:
            _shutdown(km)

    def close(self) -> None:
        """Shut down the kernels not lent out."""
        with self._lock:
            idle, self._idle = self._idle, []
        for km in idle:
            _shutdown(km)

    def _start(self) -> Any:
        # An async manager, as nbclient expects: with a blocking one its output poll blocks the
        # event loop, and a cell past its time limit is never stopped.
        from jupyter_client.manager import AsyncKernelManager

        km = AsyncKernelManager(kernel_name=self.kernel_name)
        run_sync(km.start_kernel)()
        if not self._run(km, _REMEMBER):
            _shutdown(km)
            raise RuntimeError(f"kernel {self.kernel_name!r} started but could not run crm_lab (is it installed in that kernel?)")
        with self._lock:
            self.started_ += 1
        return km

    def _run(self, km: Any, code: str) -> bool:
        """Run ``code`` in the kernel; whether it ran without error."""

        async def run() -> bool:
            kc = km.client()
            kc.start_channels()
            try:
                await kc.wait_for_ready(timeout=self.timeout)
                reply = await kc.execute_interactive(code, timeout=self.timeout, output_hook=lambda msg: None)
                return reply["content"]["status"] == "ok"
            except Exception:  # a dead or hung kernel: the caller replaces it
                return False
            finally:
                kc.stop_channels()

        return run_sync(run)()


def register_engine() -> str:
    """Register (once) and name the papermill engine that runs a notebook in a lent kernel.

    papermill's own engine leaves the client of a kernel it did not start connected (its sockets
    stay open and warn when collected); this one disconnects it at the end and leaves the kernel
    running. The keyword handling is papermill's ``NBClientEngine``'s.
    """
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    class WarmKernelEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, log_output: bool = False, stdout_file: Any = None,
                                     stderr_file: Any = None, start_timeout: int = 60, execution_timeout: Any = None,
                                     **kwargs: Any) -> Any:
            safe = remove_args(["timeout", "startup_timeout", "input_path"], **kwargs)
            final = merge_kwargs(safe, timeout=execution_timeout or kwargs.get("timeout"), startup_timeout=start_timeout,
                                 kernel_name=kernel_name, log=logger, log_output=log_output, stdout_file=stdout_file,
                                 stderr_file=stderr_file)
            client = PapermillNotebookClient(nb_man, **final)
            try:
                return client.execute()
            finally:  # (nbclient's own cleanup would shut the kernel down)
                if client.kc is not None:
                    client.kc.stop_channels()

    if ENGINE not in papermill_engines._engines:
        papermill_engines.register(ENGINE, WarmKernelEngine)
    return ENGINE


def _shutdown(km: Any) -> None:
    try:
        run_sync(km.shutdown_kernel)(now=True)
    except Exception:  # already gone
        pass
