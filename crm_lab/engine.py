"""Where relational work runs.

crm_lab writes filters, joins and group-bys once, as narwhals expressions, and runs them where the
data already is:

* a Parquet or CSV path opens as a lazy DuckDB relation (nothing is read until a result is asked
  for, and DuckDB spills to disk when a query does not fit in memory);
* a pandas, Polars, DuckDB or PySpark frame handed in by the user is used as it is.

Only small results (one row per customer, per pair, per segment) are collected to pandas, where
the statistics run.

Examples
--------
>>> import pandas as pd, narwhals as nw
>>> from crm_lab import engine
>>> lf = engine.lazy(pd.DataFrame({"customer_id": ["a", "a", "b"], "x": [1.0, 2.0, 3.0]}))
>>> engine.collect(lf.group_by("customer_id").agg(nw.col("x").sum()).sort("customer_id"))
  customer_id    x
0           a  3.0
1           b  3.0
"""

from __future__ import annotations

import contextlib
import decimal
import os
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import narwhals as nw
import pandas as pd

__all__ = [
    "configure",
    "connection",
    "open_file",
    "lazy",
    "collect",
    "backend_name",
    "columns",
    "to_native",
    "timestamp",
    "between",
    "checkpoints",
    "like",
    "tune_spark",
]

_CONNECTION: Any = None
# One DuckDB connection may run one call at a time: each thread other than the main one gets its own
# cursor (a connection to the same in-memory database), e.g. the report runner's parallel notebooks.
_THREAD = threading.local()
_OPENING = threading.Lock()
# Spark sessions crm_lab has met (tuned once each, see tune_spark) and whether to tune them.
_SPARK: dict[str, Any] = {"tune": True, "seen": set()}
_SETTINGS: dict[str, Any] = {}

# Identifier columns are text everywhere: a 19-digit Douyin order number read as a number loses
# its last digits.
ID_COLUMNS = (
    "order_id",
    "line_id",
    "customer_id",
    "product_id",
    "sku_id",
    "influencer_id",
    "touch_id",
    "campaign_id",
    "sample_of",
    "ref",
)


def configure(
    memory_limit: str | None = None,
    threads: int | None = None,
    temp_directory: str | os.PathLike[str] | None = None,
    spark_defaults: bool | None = None,
) -> None:
    """Set the DuckDB connection's limits; applies to the connection in use and any new one.

    Parameters
    ----------
    memory_limit : str, optional
        DuckDB memory limit such as ``"1GB"``; queries beyond it spill to ``temp_directory``.
    threads : int, optional
        Worker threads (default: all cores).
    temp_directory : path, optional
        Where DuckDB spills (default: a ``crm_lab_duckdb`` folder in the system temp folder).
    spark_defaults : bool, optional
        False: leave a Spark session's settings as they are (see :func:`tune_spark`).

    Examples
    --------
    >>> from crm_lab import engine
    >>> engine.configure(memory_limit="2GB")
    """
    if memory_limit is not None:
        _SETTINGS["memory_limit"] = memory_limit
    if threads is not None:
        _SETTINGS["threads"] = int(threads)
    if temp_directory is not None:
        _SETTINGS["temp_directory"] = str(temp_directory)
    if spark_defaults is not None:
        _SPARK["tune"] = bool(spark_defaults)
    if _CONNECTION is not None:
        _apply_settings(_CONNECTION)


def _apply_settings(con: Any) -> None:
    for key, value in _SETTINGS.items():
        con.execute(f"SET {key} = '{value}'")


def connection() -> Any:
    """The process-wide DuckDB connection crm_lab opens files with (created on first use); in a
    thread other than the main one, that thread's own cursor of it (DuckDB refuses two calls at once
    on one connection), so relations are used in the thread that made them.

    Examples
    --------
    >>> from crm_lab import engine
    >>> int(engine.connection().sql("select 1").fetchall()[0][0])
    1
    """
    global _CONNECTION
    with _OPENING:
        if _CONNECTION is None:
            import duckdb

            _CONNECTION = duckdb.connect()
            _SETTINGS.setdefault("temp_directory", str(Path(tempfile.gettempdir()) / "crm_lab_duckdb"))
            _SETTINGS.setdefault("preserve_insertion_order", "false")
            _apply_settings(_CONNECTION)
    if threading.current_thread() is threading.main_thread():
        return _CONNECTION
    if getattr(_THREAD, "connection", None) is None:
        _THREAD.connection = _CONNECTION.cursor()
    return _THREAD.connection


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def open_file(path: str | os.PathLike[str]) -> Any:
    """Open a Parquet or CSV file (or a folder/glob of Parquet files) as a lazy DuckDB relation.

    Identifier columns (``order_id``, ``line_id``, ``customer_id`` ...) are read as text from CSV.

    Parameters
    ----------
    path : path-like
        ``.parquet`` / ``.csv`` file, a folder of Parquet files, or a glob.

    Returns
    -------
    duckdb.DuckDBPyRelation

    Examples
    --------
    >>> from crm_lab import engine
    >>> rel = engine.open_file("data/demo/orders.parquet")  # doctest: +SKIP
    """
    con = connection()
    p = Path(path)
    text = str(path)
    if p.is_dir():
        return con.sql(f"select * from read_parquet('{_sql_path(p)}/**/*.parquet')")
    suffix = p.suffix.lower()
    if suffix in (".parquet", ".pq") or ("*" in text and text.endswith(".parquet")):
        return con.sql(f"select * from read_parquet('{_sql_path(p)}')")
    if suffix in (".csv", ".txt", ".tsv") or ("*" in text and text.endswith(".csv")):
        header = con.sql(f"select * from read_csv('{_sql_path(p)}', all_varchar=true) limit 0").columns
        types = ", ".join(f"'{c}': 'VARCHAR'" for c in header if c in ID_COLUMNS)
        extra = f", types={{{types}}}" if types else ""
        return con.sql(f"select * from read_csv('{_sql_path(p)}', header=true{extra})")
    raise ValueError(
        f"Cannot open {text!r}: expected a .parquet or .csv file or a folder of Parquet files. "
        "For a shop export (xlsx, GBK CSV, Chinese headers) use crm_lab.data.read_orders(path, preset=...)."
    )


def lazy(obj: Any) -> nw.LazyFrame:
    """Wrap a path or any supported frame as a narwhals LazyFrame without moving the data.

    Parameters
    ----------
    obj : path, pandas/Polars/DuckDB/PySpark frame, or narwhals frame

    Returns
    -------
    narwhals.LazyFrame

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_lab import engine
    >>> engine.lazy(pd.DataFrame({"a": [1]})).collect().shape
    (1, 1)
    """
    if isinstance(obj, nw.LazyFrame):
        return obj
    if isinstance(obj, nw.DataFrame):
        return obj.lazy()
    if isinstance(obj, (str, os.PathLike)):
        return nw.from_native(open_file(obj))
    if type(obj).__module__.startswith("pyspark"):
        _meet_spark(obj)
    native = nw.from_native(obj)
    return native.lazy() if isinstance(native, nw.DataFrame) else native


def tune_spark(session: Any) -> dict[str, str]:
    """Settings for crm_lab's small-result queries on a Spark session, applied the first time crm_lab meets it.

    Spark's default of 200 shuffle partitions turns every group-by of a few million lines into 200
    tiny tasks (measured: a customer summary of 1M lines in local[2] took 45 s, 4.7 s with 4). Only
    settings still at Spark's defaults are changed, so a session the user tuned stays as it is:

    * ``spark.sql.shuffle.partitions``: 200 -> twice the session's parallelism (4 in local[2]);
    * ``spark.sql.adaptive.enabled`` and ``spark.sql.adaptive.coalescePartitions.enabled``: on
      (Spark's default since 3.2; set in case a platform turned them off by default).

    Switch it off with ``crm_lab.engine.configure(spark_defaults=False)``. Returns what was changed
    (logged at INFO).
    """
    import logging

    changed: dict[str, str] = {}
    conf = session.conf
    if conf.get("spark.sql.shuffle.partitions") == "200":
        changed["spark.sql.shuffle.partitions"] = str(max(2, 2 * int(session.sparkContext.defaultParallelism)))
    for key in ("spark.sql.adaptive.enabled", "spark.sql.adaptive.coalescePartitions.enabled"):
        if conf.get(key, "true") != "true":
            changed[key] = "true"
    for key, value in changed.items():
        conf.set(key, value)
    if changed:
        logging.getLogger("crm_lab.engine").info("Spark session tuned for crm_lab: %s", changed)
    return changed


def _meet_spark(native: Any) -> None:
    session = getattr(native, "sparkSession", None)
    if session is None or not _SPARK["tune"] or id(session) in _SPARK["seen"]:
        return
    _SPARK["seen"].add(id(session))
    tune_spark(session)


def to_native(frame: nw.LazyFrame | nw.DataFrame) -> Any:
    """Return the user's kind of frame back from a narwhals frame (pandas stays pandas, etc.)."""
    return frame.to_native()


def backend_name(obj: Any) -> str:
    """Name the backend holding ``obj``: ``pandas``, ``polars``, ``duckdb``, ``pyspark`` ...

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_lab import engine
    >>> engine.backend_name(pd.DataFrame())
    'pandas'
    """
    frame = lazy(obj)
    return str(frame.implementation).split(".")[-1].lower()


def columns(obj: Any) -> list[str]:
    """Column names of a path or frame, without reading its rows."""
    return list(lazy(obj).collect_schema().names())


def timestamp(value: Any, frame: nw.LazyFrame) -> nw.Expr:
    """A timestamp literal read as local wall time by ``frame``'s backend.

    PySpark turns a Python ``datetime`` into an instant with the *process's* time zone while it
    reads naive data in the *session's*; a string cast is read in the session's zone like the data.

    Examples
    --------
    >>> import pandas as pd, narwhals as nw
    >>> from crm_lab import engine
    >>> lf = engine.lazy(pd.DataFrame({"t": pd.to_datetime(["2025-01-01", "2025-02-01"])}))
    >>> len(engine.collect(lf.filter(nw.col("t") > engine.timestamp("2025-01-15", lf))))
    1
    """
    ts = pd.Timestamp(value)
    if frame.implementation.is_pyspark():
        return nw.lit(ts.strftime("%Y-%m-%d %H:%M:%S.%f")).cast(nw.Datetime())
    return nw.lit(ts.to_pydatetime())


def between(frame: nw.LazyFrame, column: str, start: Any, stop: Any) -> nw.LazyFrame:
    """Rows of ``frame`` whose time ``column`` lies in ``[start, stop)``, with :func:`timestamp` literals.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_lab import engine
    >>> lf = engine.lazy(pd.DataFrame({"t": pd.to_datetime(["2025-01-01", "2025-02-01"])}))
    >>> len(engine.collect(engine.between(lf, "t", "2025-01-01", "2025-02-01")))
    1
    """
    return frame.filter((nw.col(column) >= timestamp(start, frame)) & (nw.col(column) < timestamp(stop, frame)))


@contextlib.contextmanager
def checkpoints() -> Iterator[Callable[[nw.LazyFrame], nw.LazyFrame]]:
    """Materialise intermediate results that a query uses more than once, for the ``with`` block.

    Lazy engines inline a step each time it is referenced; a step that feeds two branches is then
    computed twice (on DuckDB: the whole scan and group-by again). Inside the block, ``keep(lf)``
    stores ``lf`` where it lives: a DuckDB temporary table, a cached Spark frame, a collected
    Polars frame; pandas is eager already. Everything kept is dropped when the block ends. Where
    the engine cannot keep a step (a relation of another DuckDB connection), the step stays lazy:
    results never depend on it.

    Examples
    --------
    >>> import pandas as pd, narwhals as nw
    >>> from crm_lab import engine
    >>> with engine.checkpoints() as keep:
    ...     lf = keep(engine.lazy(pd.DataFrame({"a": [1, 2]})))
    ...     total = engine.collect(lf.select(nw.col("a").sum()))["a"].iloc[0]
    >>> int(total)
    3
    """
    dropped: list[Callable[[], Any]] = []

    def keep(lf: nw.LazyFrame) -> nw.LazyFrame:
        impl = lf.implementation
        native = lf.to_native()
        if impl.is_duckdb():
            con = connection()
            name = f"crm_lab_keep_{uuid.uuid4().hex[:12]}"
            try:
                con.execute(f"CREATE TEMP TABLE {name} AS {native.sql_query()}")
            except Exception:  # the relation's tables live in another connection
                return lf
            dropped.append(lambda: con.execute(f"DROP TABLE IF EXISTS {name}"))
            return nw.from_native(con.table(name))
        if impl.is_pyspark():
            cached = native.cache()
            dropped.append(cached.unpersist)
            return nw.from_native(cached)
        if impl.is_polars():
            return nw.from_native(native.collect().lazy())
        return lf

    try:
        yield keep
    finally:
        for drop in reversed(dropped):
            drop()


def like(frame: Any, small: pd.DataFrame) -> nw.LazyFrame:
    """Put a small pandas table where ``frame`` lives, so that the two can be joined.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_lab import engine
    >>> rel = engine.connection().from_df(pd.DataFrame({"a": [1]}))
    >>> engine.backend_name(engine.like(rel, pd.DataFrame({"b": [2]})))
    'duckdb'
    """
    lf = lazy(frame)
    native = lf.to_native()
    if lf.implementation.is_duckdb():
        return nw.from_native(connection().from_df(small))
    if lf.implementation.is_pyspark():
        return nw.from_native(native.sparkSession.createDataFrame(small))
    if lf.implementation.is_polars():
        import polars as pl

        return nw.from_native(pl.from_pandas(small).lazy())
    return nw.from_native(small).lazy()


def _spark_time_zone(native: Any) -> str | None:
    try:
        return str(native.sparkSession.conf.get("spark.sql.session.timeZone"))
    except Exception:  # not a Spark frame
        return None


def collect(frame: Any) -> pd.DataFrame:
    """Run a lazy query and return its (small) result as a pandas DataFrame.

    Timestamps come back time-zone naive in the shop's local time whatever the backend:
    Spark's session-zoned timestamps are converted to the session zone and made naive again.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_lab import engine
    >>> engine.collect(pd.DataFrame({"a": [1, 2]}))["a"].tolist()
    [1, 2]
    """
    lf = lazy(frame)
    native = lf.to_native()
    zone = _spark_time_zone(native)
    if lf.implementation.is_duckdb():
        # DuckDB converts to pandas natively, faster than through Arrow; its integer sums
        # (HUGEINT) arrive as float64 and go back to integers.
        df = native.df()
        for col, kind in zip(native.columns, native.types):
            if str(kind) in ("HUGEINT", "UHUGEINT") and df[col].dtype == "float64":
                df[col] = df[col].astype("int64") if df[col].notna().all() else df[col].astype("Int64")
    else:
        df = lf.collect().to_pandas()
    for col in df.columns:
        if df[col].dtype == object:
            first = df[col].dropna().head(1)
            if len(first) and isinstance(first.iloc[0], decimal.Decimal):
                # DuckDB sums integers to HUGEINT, which arrives as Decimal: back to plain numbers.
                values = pd.to_numeric(df[col].astype("float64"))
                whole = values.dropna()
                df[col] = values.astype("Int64") if (whole == whole.round()).all() else values
        dtype = df[col].dtype
        if isinstance(dtype, pd.DatetimeTZDtype):
            df[col] = df[col].dt.tz_convert(zone or "UTC").dt.tz_localize(None)
        if pd.api.types.is_datetime64_any_dtype(df[col].dtype) and df[col].dtype != "datetime64[us]":
            df[col] = df[col].astype("datetime64[us]")
    return df
