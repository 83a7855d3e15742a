"""``eagle-kit``: the Python API at dataset scale.

eagle-kit demo                         # the embedded model on a hallucination scene
eagle-kit explain IMAGES… --model shapes --prompt "describe the picture ." --out runs/
eagle-kit metrics runs/                # aggregate metrics over saved explanations
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
from pathlib import Path
from typing import Any

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


def _image_paths(items: list[str]) -> list[Path]:
    paths: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            paths.extend(sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES))
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
    if text is None:
        return None
    parts = [t.strip() for t in text.split(",") if t.strip()]
    return [int(t) if t.lstrip("-").isdigit() else t for t in parts]


def cmd_explain(args: argparse.Namespace) -> int:
    """Explain every image; one ``<stem>.nc`` per image, written atomically; reruns resume."""
    from tqdm.auto import tqdm

    import eagle_kit as ek

    paths = _image_paths(args.images)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    todo = [p for p in paths if args.overwrite or not (out / f"{p.stem}.nc").exists()]
    if len(todo) < len(paths):
        print(
            f"resuming: {len(paths) - len(todo)} of {len(paths)} images already explained in {out}"
        )
    if not todo:
        return cmd_metrics(argparse.Namespace(folder=str(out), csv=None))
    model = ek.load_model(args.model, device=args.device, dtype=args.dtype)
    for path in tqdm(todo, desc="images", unit="img"):
        image = ek.load_image(path)
        options: dict[str, Any] = {"prompt": args.prompt}
        if args.answer is not None:
            options["answer"] = args.answer
        else:
            options["generation"] = model.generate(
                image, args.prompt, max_new_tokens=args.max_new_tokens
            )
        expl = ek.explain(
            model,
            image,
            n_regions=args.n_regions,
            segmentation=args.segmentation,
            targets=_parse_targets(args.targets),
            search=args.search,
            batch_size=args.batch_size,
            checkpoint=out / f".{path.stem}.ckpt.npz",
            **options,
        )
        expl.dataset.attrs["image_source"] = path.name
        expl.save(out / f"{path.stem}.nc")
    return cmd_metrics(argparse.Namespace(folder=str(out), csv=None))


def cmd_metrics(args: argparse.Namespace) -> int:
    """Per-explanation metrics as CSV, and their means."""
    import eagle_kit as ek

    folder = Path(args.folder)
    files = sorted(folder.glob("*.nc"))
    if not files:
        print(f"eagle-kit: no saved explanations (*.nc) in {folder}", file=sys.stderr)
        return 2
    rows = []
    for f in files:
        e = ek.load_explanation(f)
        rows.append({"file": f.name, "answer": e.dataset.attrs.get("answer", ""), **e.metrics()})
    keys = [k for k in rows[0] if k not in ("file", "answer")]
    target = Path(args.csv) if args.csv else folder / "metrics.csv"
    tmp = target.with_name(f".{target.name}.tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, target)
    print(f"{len(rows)} explanations; per-file metrics in {target}")
    for k in keys:
        vals = [r[k] for r in rows if not math.isnan(r[k])]
        mean = sum(vals) / len(vals) if vals else float("nan")
        print(f"  {k:<26} {mean:.4f}  (n={len(vals)})")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    summary = run_demo(
        Path(args.out), seed=args.seed, n_regions=args.n_regions, progress=not args.quiet
    )
    print(summary)
    return 0


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
    e.add_argument("images", nargs="+", help="image files or folders")
    e.add_argument("--model", default="shapes", help="hub id, local folder, or 'shapes' (embedded)")
    e.add_argument("--prompt", required=True)
    e.add_argument("--answer", default=None, help="explain this answer instead of generating one")
    e.add_argument("--targets", default=None, help="comma-separated token indices or words")
    e.add_argument("--search", default="efficient", choices=["exact", "efficient"])
    e.add_argument("--n-regions", type=int, default=64)
    e.add_argument("--segmentation", default="slico", choices=["slico", "grid"])
    e.add_argument("--batch-size", type=int, default=None)
    e.add_argument("--max-new-tokens", type=int, default=64)
    e.add_argument("--device", default="auto")
    e.add_argument("--dtype", default="auto")
    e.add_argument("--out", required=True, help="folder for <image>.nc results and metrics.csv")
    e.add_argument("--overwrite", action="store_true", help="re-explain images already done")
    e.set_defaults(fn=cmd_explain)

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
