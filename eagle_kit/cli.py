"""``eagle-kit``: the Python API at dataset scale.

eagle-kit demo                         # the embedded model on a hallucination scene
eagle-kit explain IMAGES… --model shapes --prompt "describe the picture ." --out runs/
eagle-kit run manifest.jsonl -o results/ --model shapes --methods eagle,occlusion
eagle-kit metrics runs/                # aggregate metrics over a results store
eagle-kit report NOTEBOOK -p NAME VALUE … -o DIR   # a notebook run as a report
eagle-kit show out.nc -o out.html      # the static view of one explanation
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


def _image_paths(items: list[str]) -> list[Path]:
    """Images given, and every image under a folder given, subfolders included (hidden
    files and folders skipped), sorted by path."""
    paths: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            paths.extend(
                sorted(
                    q
                    for q in p.rglob("*")
                    if q.suffix.lower() in IMAGE_SUFFIXES
                    and q.is_file()
                    and not any(part.startswith(".") for part in q.relative_to(p).parts)
                )
            )
        elif p.exists():
            paths.append(p)
        else:
            raise SystemExit(f"eagle-kit: no such image or folder: {item}")
    if not paths:
        raise SystemExit(
            "eagle-kit: no images found (looked for " + ", ".join(sorted(IMAGE_SUFFIXES)) + ")."
        )
    return paths


def _parse_targets(text: str | None) -> Any:
    """``--targets`` as a target list for the package's one resolver (eagle_kit.targets)."""
    from .targets import parse_targets

    return parse_targets(text)


def _run_settings(args: argparse.Namespace) -> Any:
    """The options shared by ``run`` and ``explain`` as :class:`eagle_kit.runs.RunSettings`."""
    from .runs import RunSettings

    targets = _parse_targets(args.targets)
    return RunSettings(
        n_regions=args.n_regions,
        segmentation=args.segmentation,
        search=args.search,
        targets=tuple(targets) if targets is not None else None,
        early_stop=args.early_stop,
        fill=args.fill,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        device=args.device,
        dtype=args.dtype,
        threads=getattr(args, "threads", None),
        rise_masks=getattr(args, "rise_masks", 256),
        n_samples=getattr(args, "n_samples", None),
        seed=getattr(args, "seed", 0),
        cam_layer=getattr(args, "cam_layer", None),
        tam_filter_size=getattr(args, "tam_filter_size", 3),
        tam_sigma=getattr(args, "tam_sigma", 1.0),
        saliency_steps=getattr(args, "saliency_steps", 64),
        text_regions=getattr(args, "text_regions", None),
        text_baseline=getattr(args, "text_baseline", None),
    )


def _check_text_baseline(args: argparse.Namespace, names: Any) -> None:
    """Refuse a ``--text-baseline`` a model cannot use, before any sample is computed.

    Each model's tokenizer and config (not its weights) are read and the baseline is checked
    as the Hugging Face path does when it binds prompt spans
    (:func:`eagle_kit.text_regions.map_spans`): one token of the vocabulary and not the
    image/video placeholder. A model whose tokenizer cannot be read here is left to the run,
    which records its load error.

    Raises:
        ValueError: the baseline is not one token, outside the vocabulary, or a placeholder.
    """
    given = getattr(args, "text_baseline", None)
    if given is None or getattr(args, "text_regions", None) is None:
        return
    import warnings

    from .models.hf import _config_id
    from .models.loading import _resolve_source
    from .text_regions import _baseline

    baseline: int | str = int(given) if given.strip().isdigit() else given  # as the run reads it
    for name in [names] if isinstance(names, str) else list(names):
        try:
            from transformers import AutoConfig, AutoProcessor

            source, shown = _resolve_source(name)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                processor = AutoProcessor.from_pretrained(source)
                config = AutoConfig.from_pretrained(source)
        except Exception:  # noqa: BLE001 - the run reports a model it cannot load
            continue
        tokenizer = getattr(processor, "tokenizer", processor)
        forbidden = {
            i
            for i in (
                _config_id(config, "image_token_id", "image_token_index"),
                _config_id(config, "video_token_id", "video_token_index"),
            )
            if i is not None
        }
        try:
            _baseline(tokenizer, baseline, forbidden)
        except ValueError as err:
            raise ValueError(f"--text-baseline {given!r} for model '{shown}': {err}") from None


def _run_and_report(args: argparse.Namespace, samples: Any, models: Any, methods: Any) -> int:
    """Run into the store, print the summary and this run's metrics; the exit code."""
    from .runs import RunInterrupted, run

    try:
        summary = run(
            samples,
            args.out,
            models=models,
            methods=methods,
            settings=_run_settings(args),
            retry_failed=args.retry_failed,
            overwrite=args.overwrite,
            backend=getattr(args, "backend", "local"),
            num_gpus=getattr(args, "num_gpus", 0),
            num_workers=getattr(args, "num_workers", None),
            address=getattr(args, "address", None),
            progress=not args.quiet,
        )
    except RunInterrupted as stop:
        print(f"\n{stop}", file=sys.stderr)
        print(stop.summary, file=sys.stderr)
        return stop.exit_code
    except RuntimeError as err:  # another run holds the store
        print(f"eagle-kit: {err}", file=sys.stderr)
        return 2
    print(summary)
    _write_metrics(Path(args.out), keys=summary.keys)
    return summary.exit_code


def _write_metrics(folder: Path, keys: Any = None, csv_path: Any = None) -> int:
    """Per-result metrics of a store (``keys``: only those) to CSV, and their means."""
    from .runs import sample_metrics

    table = sample_metrics(folder, keys=keys)
    if table.empty:
        print("no finished results to measure.")
        return 0
    from .tables import write_csv

    target = Path(csv_path) if csv_path else folder / "metrics.csv"
    write_csv(target, table.to_dict("records"), columns=list(table.columns))
    print(f"{len(table)} results; per-result metrics in {target}")
    cols = [c for c in table.columns if c not in ("id", "model", "method", "answer", "file")]
    for (model, method), group in table.groupby(["model", "method"], sort=True):
        print(f"  {model} · {method} (n={len(group)})")
        for k in cols:
            vals = group[k].dropna()
            if len(vals):
                print(f"    {k:<26} {vals.mean():.4f}  (n={len(vals)})")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    """Explain every image into a results store (the quick path of ``run``); reruns resume.

    A folder is searched recursively. Each image is a sample whose id is its path as given
    (a folder's images: the folder joined with their path inside it, so ``a/x.png`` and
    ``b/x.png`` never collide); results are keyed by image,
    model, prompt and settings, so another model or prompt never reuses an old result.
    """
    from .runs import samples_from_images

    _run_settings(args)  # bad options fail before anything is read
    _check_text_baseline(args, [args.model])  # a baseline the model cannot use: exit 2
    paths = _image_paths(args.images)
    samples = samples_from_images(
        [(os.path.normpath(str(p)), p) for p in paths],
        prompt=args.prompt,
        answer=args.answer,
    )
    return _run_and_report(args, samples, [args.model], ["eagle"])


def cmd_run(args: argparse.Namespace) -> int:
    """Every manifest sample × model × method into a results store; reruns resume."""
    from .runs import read_manifest

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    _run_settings(args).check_text_methods(methods)  # before anything is read
    _check_text_baseline(args, args.model)  # a baseline the model cannot use: exit 2
    samples = read_manifest(args.manifest)
    return _run_and_report(args, samples, args.model, methods)


def cmd_metrics(args: argparse.Namespace) -> int:
    """Metrics of a results store (per result as CSV, means per model × method), or of a
    folder of saved explanations (``*.nc``)."""
    import eagle_kit as ek

    folder = Path(args.folder)
    if (folder / "index.jsonl").exists():
        return _write_metrics(folder, csv_path=args.csv)
    files = sorted(folder.glob("*.nc"))
    if not files:
        print(
            f"eagle-kit: no results store and no saved explanations (*.nc) in {folder}",
            file=sys.stderr,
        )
        return 2
    from .tables import write_csv

    rows = []
    for f in files:
        e = ek.load_explanation(f)
        rows.append({"file": f.name, "answer": e.dataset.attrs.get("answer", ""), **e.metrics()})
    # explanations with prompt spans name their AUCs "..._features" (over the fraction of
    # features): a folder mixing both kinds gets both columns, each empty where it does not apply
    columns = list(dict.fromkeys(k for r in rows for k in r))
    keys = [k for k in columns if k not in ("file", "answer")]
    target = Path(args.csv) if args.csv else folder / "metrics.csv"
    write_csv(target, rows, columns=columns)  # csv module, UTF-8, rounded, NaN/None empty
    print(f"{len(rows)} explanations; per-file metrics in {target}")
    for k in keys:
        vals = [r[k] for r in rows if k in r and not math.isnan(r[k])]
        mean = sum(vals) / len(vals) if vals else float("nan")
        shown = f"{mean:.4f}" if vals else "n/a (undefined for every file)"
        print(f"  {k:<26} {shown}  (n={len(vals)})")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    summary = run_demo(
        Path(args.out), seed=args.seed, n_regions=args.n_regions, progress=not args.quiet
    )
    print(summary)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Run a notebook with papermill into a report folder (see eagle_kit.notebook_report)."""
    from .notebook_report import NotebookFailed, parse_parameters, run_report

    try:
        params = parse_parameters(args.parameters)
        result = run_report(
            args.notebook, args.out, params, kernel_name=args.kernel, timeout=args.timeout
        )
    except (ValueError, FileNotFoundError) as err:
        print(f"eagle-kit report: {err}", file=sys.stderr)
        return 2
    except NotebookFailed as err:
        print(f"eagle-kit report: {err} (partial report kept in {args.out})", file=sys.stderr)
        return 2 if err.input_error else 1
    print(result.summary())
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """The static HTML view of one saved explanation."""
    import eagle_kit as ek

    from .report import explanation_page, write_report

    src = Path(args.explanation)
    out = Path(args.out) if args.out else src.with_suffix(".html")
    if out.suffix.lower() not in (".html", ".htm"):
        raise ValueError(
            f"eagle-kit show writes an HTML page; got -o {out.name!r}. Use a .html name "
            "(e.g. -o view.html); for a PDF/SVG/PNG figure use ek.plot.overlay(...) and "
            "ek.plot.save(fig, 'figure.pdf') in Python."
        )
    expl = ek.load_explanation(src)
    write_report(out, f"EAGLE explanation — {src.name}", explanation_page(expl))
    print(f"wrote {out}")
    return 0


def _searches() -> list[str]:
    from .search import SEARCHES

    return list(SEARCHES)


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """Options of the results store shared by ``run`` and ``explain`` (added when missing)."""
    have = set(p._option_string_actions)
    if "--fill" not in have:
        p.add_argument("--fill", default="black", help="removed pixels: black, mean, blur")
    if "--early-stop" not in have:
        p.add_argument("--early-stop", type=float, default=None, help="see SearchConfig")
    if "--threads" not in have:
        p.add_argument(
            "--threads",
            type=int,
            default=None,
            help="CPU threads for scoring (default: 1 for small models on CPU, else torch's; "
            "see eagle_kit.threads)",
        )
    if "--retry-failed" not in have:
        p.add_argument("--retry-failed", action="store_true", help="rerun failed results")
    if "--quiet" not in have:
        p.add_argument("--quiet", action="store_true", help="no progress bar")
    if "--text-regions" not in have:
        p.add_argument(
            "--text-regions",
            default=None,
            choices=["words", "sentences"],
            help="the prompt's words or sentences are features too, beside the image regions "
            "(eagle and the region baselines; not llava_cam, tam; see eagle_kit.explain)",
        )
    if "--text-baseline" not in have:
        p.add_argument(
            "--text-baseline",
            default=None,
            help="token replacing a removed prompt span: an id or a one-token text "
            "(default: the tokenizer's pad or unk token)",
        )


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="eagle-kit", description="Explain multimodal LLM outputs with EAGLE."
    )
    sub = ap.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="explain a hallucination with the embedded shapes model")
    d.add_argument("--out", default="reports/demo", help="report folder (default: reports/demo)")
    d.add_argument(
        "--seed", type=int, default=None, help="scene seed (default: first hallucinating scene)"
    )
    d.add_argument("--n-regions", type=int, default=30)
    d.add_argument("--quiet", action="store_true", help="no progress bars")
    d.set_defaults(fn=cmd_demo)

    e = sub.add_parser("explain", help="explain a folder or list of images; resumable")
    e.add_argument("images", nargs="+", help="image files or folders (searched recursively)")
    e.add_argument("--model", default="shapes", help="hub id, local folder, or 'shapes' (embedded)")
    e.add_argument("--prompt", required=True)
    e.add_argument("--answer", default=None, help="explain this answer instead of generating one")
    e.add_argument(
        "--targets",
        default=None,
        help="comma-separated: token indices (0,-1), words (circle), phrases (green circle), "
        "word@k for the k-th occurrence (0-based)",
    )
    e.add_argument("--search", default="fast", choices=_searches())
    e.add_argument("--n-regions", type=int, default=64)
    e.add_argument("--segmentation", default="slico", choices=["slico", "grid"])
    e.add_argument("--batch-size", type=int, default=None)
    e.add_argument("--max-new-tokens", type=int, default=64)
    e.add_argument("--device", default="auto")
    e.add_argument("--dtype", default="auto")
    e.add_argument("--out", "-o", required=True, help="the results store (see eagle-kit run)")
    e.add_argument("--overwrite", action="store_true", help="re-explain images already done")
    _add_run_options(e)
    e.set_defaults(fn=cmd_explain)

    r = sub.add_parser(
        "run",
        help="a manifest × models × methods into a results store; resumable, kill-safe",
        description="Exit codes: 0 all results done, 1 some failed (listed; --retry-failed "
        "reruns them), 2 bad input, 130 Ctrl-C, 143 SIGTERM (rerun the command to resume).",
    )
    r.add_argument("manifest", help="JSON-lines manifest (id, image, prompt, …)")
    r.add_argument("--out", "-o", required=True, help="the results store folder")
    r.add_argument(
        "--model", action="append", required=True, help="hub id, folder or 'shapes'; repeatable"
    )
    r.add_argument(
        "--methods",
        default="eagle",
        help="comma-separated: eagle, occlusion, rise, random, shapley, kernel_shap, lime, "
        "llava_cam, tam (the last two: Hugging Face models only)",
    )
    r.add_argument(
        "--cam-layer", type=int, default=None, help="llava_cam's decoder layer (default: middle)"
    )
    r.add_argument("--tam-filter-size", type=int, default=3, help="tam's filter window side")
    r.add_argument("--tam-sigma", type=float, default=1.0, help="tam's filter width (ranks)")
    r.add_argument(
        "--saliency-steps", type=int, default=64, help="curve steps of llava_cam and tam maps"
    )
    r.add_argument("--rise-masks", type=int, default=256, help="RISE's random masks")
    r.add_argument(
        "--n-samples", type=int, default=None, help="samples of shapley, kernel_shap and lime"
    )
    r.add_argument("--seed", type=int, default=0, help="seed of rise, random and the samplers")
    r.add_argument("--targets", default=None, help="default targets (as for explain)")
    r.add_argument("--search", default="fast", choices=_searches())
    r.add_argument("--n-regions", type=int, default=64)
    r.add_argument("--segmentation", default="slico", choices=["slico", "grid"])
    r.add_argument("--batch-size", type=int, default=None)
    r.add_argument("--max-new-tokens", type=int, default=64)
    r.add_argument("--device", default="auto")
    r.add_argument("--dtype", default="auto")
    r.add_argument("--overwrite", action="store_true", help="recompute results already done")
    r.add_argument("--backend", default="local", choices=["local", "ray"])
    r.add_argument("--num-gpus", type=float, default=0, help="ray: GPUs per actor")
    r.add_argument("--num-workers", type=int, default=None, help="ray: actors per model")
    r.add_argument("--address", default=None, help="ray: join this cluster (e.g. 'auto')")
    _add_run_options(r)
    r.set_defaults(fn=cmd_run)

    rp = sub.add_parser(
        "report",
        help="run a notebook (papermill) into a report folder: executed notebook, offline "
        "HTML, figures, explanations, metrics.json",
        description="Exit codes: 0 done, 1 a cell failed (one-line error naming the notebook "
        "and cell; the partial report is kept), 2 bad input: a parameter the notebook does not "
        "have or of the wrong type (before anything runs), -o naming a file, or a value a cell "
        "refused as input (a target the answer does not contain, text_baseline without "
        "text_regions, a missing model folder: one line; the partial report is kept).",
    )
    rp.add_argument("notebook", help="a notebook with a cell tagged 'parameters'")
    rp.add_argument(
        "-p",
        "--parameter",
        dest="parameters",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        default=[],
        help="a parameter, typed as papermill does: 3 → int, 0.5 → float, True/False/None, "
        "anything else ('0,-1' too) a string",
    )
    rp.add_argument("--out", "-o", required=True, help="the report folder")
    rp.add_argument("--kernel", default=None, help="Jupyter kernel (default: the notebook's)")
    rp.add_argument("--timeout", type=float, default=None, help="seconds per cell")
    rp.set_defaults(fn=cmd_report)

    sh = sub.add_parser("show", help="the static HTML view of one saved explanation (.nc/.zarr)")
    sh.add_argument("explanation", help="a saved explanation")
    sh.add_argument("--out", "-o", default=None, help="the page (default: next to it, .html)")
    sh.set_defaults(fn=cmd_show)

    m = sub.add_parser("metrics", help="aggregate metrics over saved explanations")
    m.add_argument("folder")
    m.add_argument(
        "--csv", default=None, help="where to write per-file metrics (default: FOLDER/metrics.csv)"
    )
    m.set_defaults(fn=cmd_metrics)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args) or 0)
    except KeyboardInterrupt:
        print(
            "\ninterrupted; finished results are saved — run the same command again to resume.",
            file=sys.stderr,
        )
        return 130
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"eagle-kit: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
