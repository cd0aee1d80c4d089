"""Warm Jupyter kernels for the notebooks of a run: started once, cleared between notebooks.

A report's notebook spends about 1 s starting its kernel and 2 s importing crm_lab, pandas,
matplotlib, seaborn and scipy before its first line of its own; over the demo's sixteen pages that
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
import crm_lab as _cl, crm_lab.report.kernels as _k
# Every crm_lab module imported once (about 2 s, in the background for a prestarted kernel):
# imports only, no names left in the namespace, so a notebook finds a kernel as new but warm.
[getattr(_cl, _m) for _m in _cl._SUBMODULES]
# Not the backend nor interactive mode: the inline backend turns interactive on at its first
# figure, and turning it off again stops it showing figures.
_k.KERNEL_STATE.update(rc={k: v for k, v in _mpl.rcParams.items() if k not in ("backend", "interactive")}, filters=list(_w.filters))
del _w, _mpl, _plt, _cl, _k
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
    context manager) to shut the kernels down. :meth:`prestart` starts kernels in the background
    so that they start and import while the caller does its own work; a kernel handed back is
    cleared in the background too.
    """

    def __init__(self, kernel_name: str = "python3", timeout: float = 60.0):
        self.kernel_name, self.timeout = kernel_name, timeout
        self._idle: list[Any] = []  # ready kernels: new, or cleared since their last notebook
        self._pending = 0  # kernels starting or being cleared in the background
        self._closed = False
        self._lock = threading.Condition()
        self.started_ = 0  # kernels started so far
        self.lent_ = 0  # notebooks served

    def __enter__(self) -> KernelPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def kernel(self) -> Iterator[Any]:
        """A kernel manager for one notebook: a ready warm kernel (waiting for one being started or
        cleared), else a new one. Taken back if the block ends without an error and cleared in the
        background, while the caller publishes the notebook."""
        with self._lock:
            while not self._idle and self._pending and not self._closed:
                self._lock.wait()
            km = self._idle.pop() if self._idle else None
            self.lent_ += 1
        if km is None:
            km = self._start()
        try:
            yield km
        except BaseException:
            _shutdown(km)
            raise
        if run_sync(km.is_alive)():
            self._in_background(km)
        else:
            _shutdown(km)

    def prestart(self, n: int = 1) -> KernelPool:
        """Start ``n`` kernels in the background (each imports crm_lab before it is lent); returns
        the pool. A notebook asking meanwhile waits for one of them; a kernel that fails to start
        is dropped, and the next notebook starts its own and reports the error.

        Examples
        --------
        >>> with KernelPool().prestart(2) as pool:  # doctest: +SKIP
        ...     ...  # read the params, import papermill: the kernels start meanwhile
        """
        for _ in range(max(0, int(n))):
            self._in_background(None)
        return self

    def _in_background(self, km: Any) -> None:
        """Start a kernel (``km`` None) or clear ``km`` in a thread; then it is ready, or shut down."""
        with self._lock:
            self._pending += 1
        threading.Thread(target=self._make_ready, args=(km,), name="crm_lab-kernel", daemon=True).start()

    def _make_ready(self, km: Any) -> None:
        try:
            if km is None:
                km = self._start()
            elif not self._run_quietly(km, _RESET):
                _shutdown(km)
                km = None
        except Exception:  # failed to start: the notebook that asks next starts one itself and says why
            km = None
        with self._lock:
            self._pending -= 1
            keep = km is not None and not self._closed
            if keep:
                self._idle.append(km)
            self._lock.notify_all()
        if km is not None and not keep:  # the pool closed meanwhile (a refused params file)
            _shutdown(km)

    def close(self) -> None:
        """Shut down the kernels not lent out; one still starting or clearing shuts down when done
        (without waiting for it: a refused params file says so at once)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            self._lock.notify_all()
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
        """Run ``code`` in a kernel just started (waiting until it answers); whether it ran without error."""

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

    def _run_quietly(self, km: Any, code: str) -> bool:
        """Run ``code`` in a kernel that has run before, on the shell channel alone: no readiness
        handshake (whose output flush waits 0.2 s) and no output; whether it ran without error."""

        from jupyter_client.session import Session

        async def run() -> bool:
            # A session of its own: its socket identity is then not the one the notebook's client
            # used just before, which the kernel may not have let go yet (a second connection with
            # an identity in use is dropped, and the reply never comes).
            session = Session(key=km.session.key, signature_scheme=km.session.signature_scheme)
            kc = km.client(session=session)
            kc.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
            try:
                msg_id = kc.execute(code, silent=True, store_history=False)
                while True:
                    reply = await kc.get_shell_msg(timeout=self.timeout)
                    if reply["parent_header"].get("msg_id") == msg_id:
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
