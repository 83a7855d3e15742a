"""``eagle-kit report``: run a parameterised notebook and keep everything it made.

:func:`run_report` executes a notebook with papermill and writes, into one folder:

- ``NAME.ipynb`` — the executed notebook (outputs included);
- ``NAME.html`` — a self-contained page of it (nbconvert) in which every figure shows
  without network: images are inline, plotly charts carry plotly.js once per page (not
  from a CDN), eagle_kit widgets are drawn from the saved widget state by a small runtime in
  the page (plotly.js, if an Explorer uses it, once too), other widgets show their static
  view, and no script is fetched from the network;
- ``figures/`` — every image the notebook displayed (PNG/SVG), ``cellNN-K``: the K-th
  image of the notebook's NN-th cell (1-based, markdown cells counted);
- whatever the notebook wrote to its ``out_dir`` parameter (set to this folder): figure
  files, saved explanations (``*.nc``) …;
- (the one-time :class:`eagle_kit.threads.ThreadsNotice` is not shown in a report: it is
  advice for an interactive session, not part of the results);
- ``metrics.json`` — plain numbers rounded to 6 significant digits, NaN/∞ → ``null``
  (:mod:`eagle_kit.tables`): the notebook's own ``metrics.json`` when it writes one, else
  the metrics of every saved explanation.

Parameters follow papermill's ``-p`` rule (:func:`parse_parameter`): ``3`` is an int,
``0.5`` a float, ``True``/``False``/``None`` those constants, anything else — ``"0,-1"``
too — a string for the notebook to parse. Names, types and the rule a parameter's help ends
with (``[50..1200]``, ``{"fast", "exact"}``: :func:`parameter_rule`) are checked before
anything runs (:func:`check_parameters`). A failing cell stops the run with
:class:`NotebookFailed`, whose one-line message names the notebook and the cell; the
partial report (executed notebook, HTML, figures) is written first.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "run_report",
    "parse_parameter",
    "parse_parameters",
    "check_parameters",
    "parameter_rule",
    "export_html",
    "ReportResult",
    "NotebookFailed",
]

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_INT = re.compile(r"^[+-]?\d+$")


class NotebookFailed(RuntimeError):
    """A cell of the report's notebook raised; ``str(err)`` is one line naming both.

    Attributes:
        notebook: the notebook's path as given.
        cell: number of the failing cell in the source notebook (1 = its first cell,
            markdown cells included), or -1 if unknown.
        execution_count: its ``In [n]`` number, or None.
        error: ``"ExceptionName: first line of the message"``.
        result: the partial :class:`ReportResult` (files written before the error).
        input_error: the cell refused a parameter's value that only the run could check —
            an :class:`eagle_kit.errors.InputError` (e.g. a target the answer does not
            contain, ``text_baseline`` without ``text_regions``) or a missing file or model
            folder; ``eagle-kit report`` exits with 2 (bad input) rather than 1.
    """

    def __init__(
        self,
        notebook: str,
        cell: int,
        execution_count: int | None,
        error: str,
        result: ReportResult,
    ):
        self.notebook, self.cell, self.execution_count = notebook, cell, execution_count
        self.error, self.result = error, result
        self.input_error = error.split(":", 1)[0] in INPUT_ERRORS
        where = f"cell {cell}" + (f" (In [{execution_count}])" if execution_count else "")
        what = "refused its input" if self.input_error else "failed"  # bad input, or a failure
        super().__init__(f"{notebook} {what} in {where}: {error}")


@dataclass
class ReportResult:
    """What :func:`run_report` wrote (paths inside ``folder``)."""

    folder: Path
    notebook: Path
    html: Path | None = None
    figures: list[Path] = field(default_factory=list)
    explanations: list[Path] = field(default_factory=list)
    metrics: Path | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """A few lines for the terminal."""
        lines = [
            f"executed notebook: {self.notebook}",
            f"HTML:              {self.html}",
            f"figures:           {len(self.figures)} in {self.folder / 'figures'}",
            f"explanations:      {len(self.explanations)}",
            f"metrics:           {self.metrics}",
        ]
        return "\n".join(lines)


def parse_parameter(value: str) -> Any:
    """A ``-p`` value with papermill's typing: bool/None constants, int, float, else str.

    >>> parse_parameter("3"), parse_parameter("0.5"), parse_parameter("0,-1")
    (3, 0.5, '0,-1')
    """
    if value == "True":
        return True
    if value == "False":
        return False
    if value == "None":
        return None
    if _INT.match(value):
        return int(value)
    if _NUMBER.match(value) or value.lower() in ("nan", "inf", "-inf", "+inf"):
        return float(value)
    return value


def parse_parameters(pairs: Sequence[Sequence[str]] | None) -> dict[str, Any]:
    """``[["seed", "7"], ["targets", "0,-1"]]`` → ``{"seed": 7, "targets": "0,-1"}``.

    Raises:
        ValueError: a name that is not a Python identifier.
    """
    out: dict[str, Any] = {}
    for name, value in pairs or []:
        if not str(name).isidentifier():
            raise ValueError(
                f"Parameter name {name!r} is not a Python name; write -p NAME VALUE, "
                f"e.g. -p seed 7."
            )
        out[str(name)] = parse_parameter(str(value))
    return out


#: ``-W`` filter of the kernel: the ThreadsNotice's message start (eagle_kit.threads)
_QUIET_THREADS = "ignore:eagle_kit scores this small CPU model:UserWarning"

#: papermill's inferred type name → (accepted Python types, how to say it)
_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "int": ((int,), "an int, e.g. 16"),
    "float": ((int, float), "a number, e.g. 0.5"),
    "bool": ((bool,), "True or False"),
}


#: a range at the end of a parameter's help: ``[50..1200]``, ``[1..]``, ``[0.5..0.999]``
_RANGE = re.compile(
    r"\[\s*(?P<lo>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)?\s*\.\.\s*"
    r"(?P<hi>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)?\s*\]\s*$"
)
#: choices at the end of a parameter's help: ``{"slico", "grid", "none"}`` (JSON strings)
_CHOICES = re.compile(r"\{(?P<items>\s*\"[^{}]*\")\s*\}\s*$")


def parameter_rule(help_text: str) -> tuple[str, Any] | None:
    """The value rule a parameter's help ends with, or None.

    ``[lo..hi]`` (either end may be left out) bounds a number, both ends included;
    ``{"a", "b", ""}`` lists the values a text parameter takes (JSON strings).

    >>> parameter_rule("resolution of the PNG figures [50..1200]")
    ('range', (50.0, 1200.0))
    >>> parameter_rule('the search {"fast", "exact"}')
    ('choices', ['fast', 'exact'])
    """
    text = str(help_text or "")
    match = _RANGE.search(text)
    if match:
        lo, hi = match.group("lo"), match.group("hi")
        return "range", (float(lo) if lo else None, float(hi) if hi else None)
    match = _CHOICES.search(text)
    if match:
        try:
            items = json.loads(f"[{match.group('items')}]")
        except json.JSONDecodeError:
            return None
        if all(isinstance(i, str) for i in items):
            return "choices", items
    return None


def _rule_error(rule: tuple[str, Any], value: Any) -> str | None:
    """Why ``value`` breaks ``rule`` (a phrase), or None when it keeps it."""
    kind, arg = rule
    if kind == "range":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None  # the type check speaks for non-numbers
        lo, hi = arg
        if not ((lo is None or value >= lo) and (hi is None or value <= hi)) or value != value:
            fmt = "{:g}".format
            where = (
                f"between {fmt(lo)} and {fmt(hi)}"
                if lo is not None and hi is not None
                else (f">= {fmt(lo)}" if lo is not None else f"<= {fmt(hi)}")
            )
            return f"must be {where}"
        return None
    text = "" if value is None else str(value)
    if text not in arg:
        return "must be one of " + ", ".join(json.dumps(a) for a in arg)
    return None


def check_parameters(notebook: str | os.PathLike, parameters: Mapping[str, Any]) -> None:
    """Every parameter is one of the notebook's, of its type and within its rule
    (papermill's ``inspect_notebook``: the ``parameters`` cell's names, annotations and help).

    ``str`` parameters take any value (the notebook parses it, e.g. ``-p targets 3``);
    ``int`` ones an int, ``float`` ones a number, ``bool`` ones ``True``/``False``. A help
    that ends with a rule (:func:`parameter_rule`: ``[50..1200]`` or ``{"fast", "exact"}``)
    bounds the value too, so a bad value is refused before the notebook runs.

    Raises:
        ValueError: an unknown name (the message lists the valid ones with their types and
            defaults), a value of the wrong type (naming the parameter and the type), or a
            value outside its rule (naming the parameter and the allowed values), in one line.
    """
    import papermill as pm

    known = pm.inspect_notebook(str(notebook))
    if not known:
        return  # no parameters cell: papermill adds the injected cell on its own
    listing = "; ".join(
        f"{n} ({p.get('inferred_type_name') or 'any'}, default {p.get('default')})"
        for n, p in known.items()
    )
    unknown = [n for n in parameters if n not in known]
    if unknown:
        raise ValueError(
            f"{Path(notebook).name} has no parameter {', '.join(repr(n) for n in unknown)}. "
            f"Its parameters: {listing}."
        )
    for name, value in parameters.items():
        type_name = str(known[name].get("inferred_type_name") or "")
        if type_name not in _TYPES or value is None:
            continue
        types, expected = _TYPES[type_name]
        if isinstance(value, bool) and type_name != "bool":
            ok = False
        else:
            ok = isinstance(value, types)
        if not ok:
            raise ValueError(
                f"Parameter '{name}' of {Path(notebook).name} must be {expected} "
                f"({type_name}); got {value!r}."
            )
    for name, value in parameters.items():
        rule = parameter_rule(str(known[name].get("help") or ""))
        problem = None if rule is None else _rule_error(rule, value)
        if problem:
            raise ValueError(
                f"Parameter '{name}' of {Path(notebook).name} {problem}; got {value!r}."
            )


# -- the static HTML -----------------------------------------------------------------------


def _static_outputs(nb: Any) -> Any:
    """A copy of ``nb`` whose outputs all show offline: plotly JSON → inline plotly.js
    (once), eagle_kit widgets → drawn from the saved widget state by the page itself
    (:func:`eagle_kit.widgets.export.embed_widget_views`), other widget views → their
    static fallback (or dropped), no widget state."""
    from .widgets.export import embed_widget_views

    nb = copy.deepcopy(nb)
    charts = any(
        PLOTLY_MIME in data and not any(k.startswith("image/") for k in data)
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if isinstance(data := out.get("data"), dict)
    )
    embed_widget_views(nb, plotly_in_page=charts)
    nb.metadata.pop("widgets", None)
    plotly_sent = False
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            data = out.get("data")
            if not isinstance(data, dict):
                kept.append(out)
                continue
            static = [k for k in data if k.startswith("image/")] + (
                ["text/html"] if "text/html" in data else []
            )
            if PLOTLY_MIME in data:
                if not any(k.startswith("image/") for k in data):
                    data["text/html"] = _plotly_html(data[PLOTLY_MIME], not plotly_sent)
                    plotly_sent = True
                else:
                    data.pop("text/html", None)  # the static image is the fallback
                data.pop(PLOTLY_MIME)
            if WIDGET_MIME in data:
                data.pop(WIDGET_MIME)
                if not static:  # e.g. a progress bar: its text is a frozen bar
                    continue
            kept.append(out)
        cell["outputs"] = kept
    return nb


def _plotly_html(spec: Any, include_js: bool) -> str:
    import plotly.io as pio

    fig = pio.from_json(json.dumps(spec), skip_invalid=True)
    return pio.to_html(
        fig,
        full_html=False,
        include_plotlyjs=bool(include_js),
        config={"displaylogo": False, "responsive": True},
    )


def export_html(notebook: Any, path: str | os.PathLike) -> Path:
    """Write an executed notebook as a self-contained HTML page (nbconvert, lab template).

    Every output shows offline: images inline, plotly charts with plotly.js embedded once
    per page, widgets by their static fallback; scripts the template would fetch from a
    CDN (require.js, MathJax) are dropped.
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = notebook if not isinstance(notebook, (str, os.PathLike)) else nbformat.read(notebook, 4)
    exporter = HTMLExporter(template_name="lab", embed_images=True)
    body, _ = exporter.from_notebook_node(_static_outputs(nb))
    body = re.sub(r'<script[^>]*\ssrc="https?://[^"]*"[^>]*>\s*</script>', "", body)
    body = re.sub(r'<link[^>]*\shref="https?://[^"]*"[^>]*/?>', "", body)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _extract_figures(nb: Any, folder: Path) -> list[Path]:
    """Every image output of ``nb`` as a file ``cellNN-K.png|svg`` in ``folder``: NN is the
    cell's number in the source notebook (1 = its first cell, as in error messages), K the
    image's index among that cell's outputs."""
    paths = []
    i = 0
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags or "papermill-error-cell-tag" in tags:
            continue
        i += 1
        k = 0
        for out in cell.get("outputs", []):
            data = out.get("data") or {}
            for mime, suffix in (("image/svg+xml", "svg"), ("image/png", "png")):
                if mime in data:
                    folder.mkdir(parents=True, exist_ok=True)
                    p = folder / f"cell{i:02d}-{k}.{suffix}"
                    raw = data[mime]
                    raw = "".join(raw) if isinstance(raw, list) else raw
                    if suffix == "png":
                        p.write_bytes(base64.b64decode(raw))
                    else:
                        p.write_text(raw, encoding="utf-8")
                    paths.append(p)
                    k += 1
                    break
    return paths


def _metrics(folder: Path, explanations: list[Path]) -> Path | None:
    """``folder/metrics.json`` as plain rounded numbers (:func:`eagle_kit.tables.write_json`):
    the notebook's own, else the metrics of every saved explanation."""
    from .tables import write_json

    target = folder / "metrics.json"
    if target.exists():
        try:
            data = json.loads(target.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            return target  # not ours to repair; the notebook wrote it
        return write_json(target, data)
    if not explanations:
        return None
    from .explanation import load_explanation

    data = {str(p.relative_to(folder)): load_explanation(p).metrics() for p in explanations}
    return write_json(target, data)


# exceptions raised in a cell that mean "a parameter does not fit this input" (exit 2):
# eagle_kit.errors.InputError and its subclasses, and a path that does not exist
INPUT_ERRORS = (
    "InputError",
    "TargetError",
    "TargetIndexError",
    "FileNotFoundError",
    "NotADirectoryError",
)
# the kernel's own log lines (e.g. "Kernel is running over TCP without encryption", or
# "KeyboardInterrupt caught" at shutdown) would reach the terminal beside the one-line error;
# a cell's own errors and outputs are kept in the executed notebook either way
_KERNEL_ARGS = ["--IPKernelApp.log_level=CRITICAL"]


def run_report(
    notebook: str | os.PathLike,
    out: str | os.PathLike,
    parameters: Mapping[str, Any] | None = None,
    *,
    kernel_name: str | None = None,
    timeout: float | None = None,
    cwd: str | os.PathLike | None = None,
) -> ReportResult:
    """Run ``notebook`` with papermill into the folder ``out``; see the module docstring.

    Args:
        notebook: a notebook with one cell tagged ``parameters``.
        out: the report folder (created). The notebook's ``out_dir`` parameter is set to
            it unless ``parameters`` gives one.
        parameters: name → value (typed; see :func:`parse_parameters` for ``-p`` strings).
        kernel_name: Jupyter kernel; default the notebook's (``python3``).
        timeout: seconds per cell (None: no limit).
        cwd: working folder of the kernel (default the current one).

    Returns:
        A :class:`ReportResult`.

    Raises:
        FileNotFoundError: no notebook at ``notebook``.
        ValueError: a parameter the notebook does not have, or of the wrong type
            (:func:`check_parameters`), before anything runs.
        NotebookFailed: a cell raised (the partial report is written first).
    """
    import nbformat
    import papermill as pm

    src = Path(notebook)
    if not src.is_file():
        raise FileNotFoundError(f"No notebook at '{notebook}'.")
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise ValueError(
            f"The report folder '{out}' is a file; give -o a folder (it is created if missing)."
        )
    params = dict(parameters or {})
    check_parameters(src, params)
    folder.mkdir(parents=True, exist_ok=True)
    params.setdefault("out_dir", str(folder))
    executed = folder / src.name
    result = ReportResult(folder=folder, notebook=executed, parameters=params)
    failure: Exception | None = None
    # the one-time ThreadsNotice (eagle_kit.threads) is advice for an interactive session; in
    # a report it would be a red stderr block on every page, so the kernel ignores it
    previous = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [previous, _QUIET_THREADS]))
    try:
        pm.execute_notebook(
            str(src),
            str(executed),
            parameters=params,
            kernel_name=kernel_name,
            execution_timeout=timeout,
            cwd=str(cwd) if cwd is not None else None,
            progress_bar=False,
            log_output=False,
            extra_arguments=_KERNEL_ARGS,
        )
    except pm.PapermillExecutionError as err:
        failure = err
    except Exception as err:  # kernel died, timeout …: still keep what ran
        if not executed.exists():
            raise
        failure = err
    finally:
        if previous is None:
            os.environ.pop("PYTHONWARNINGS", None)
        else:
            os.environ["PYTHONWARNINGS"] = previous
    nb = nbformat.read(executed, 4)
    result.figures = _extract_figures(nb, folder / "figures")
    result.html = export_html(nb, executed.with_suffix(".html"))
    result.explanations = sorted(p for p in folder.rglob("*.nc") if not p.name.startswith("."))
    result.metrics = _metrics(folder, result.explanations)
    if failure is not None:
        cell, count, error = _failure(nb, failure)
        raise NotebookFailed(str(notebook), cell, count, error, result) from failure
    return result


def _failure(nb: Any, err: Exception) -> tuple[int, int | None, str]:
    """Number (1-based) of the failing cell in the *source* notebook, its count, the error."""
    ename = getattr(err, "ename", type(err).__name__)
    evalue = str(getattr(err, "evalue", err))
    first = (evalue.strip().splitlines() or [""])[0]
    error = f"{ename}: {first}" if first else str(ename)
    count = getattr(err, "exec_count", None)
    index = -1
    number = 0
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags or "papermill-error-cell-tag" in tags:
            continue  # cells papermill added: not in the source notebook
        number += 1
        outs = cell.get("outputs", [])
        if any(o.get("output_type") == "error" for o in outs):
            index = number
            count = count or cell.get("execution_count")
            break
    return index, count, error
