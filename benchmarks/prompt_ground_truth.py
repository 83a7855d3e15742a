"""Ground truth for prompt spans + image regions under one objective, on the embedded model.

    python benchmarks/prompt_ground_truth.py [--n-scenes 50] [--n-hallucinations 30]
                                             [--search exact] [--out FILE]

The embedded model answers ``"is there a {colour} {shape} ?"``. For held-out scenes (seeds
from 950000) that contain the asked object and are answered "yes", one joint explanation of
the "yes" token ranks the 16 grid cells (4×4, aligned with the scene's object cells) and the
six words of the question together. Checked on each scene:

* **words**: the colour and the shape word both rank above each of "is", "there", "a";
* **region**: the object's cell ranks above every background cell (cells with no object);
* the same word check on a text-only explanation (``regions="none"``), and the region check
  on an image-only explanation (control);
* the three-way reading of p("yes"): image, prompt, prior (``reliance_*``).

The planted hallucination (a yellow triangle next to a small green square, asked "is there a
green circle ?" and answered "yes") is explained the same way, and the table reports what
the words and the regions contribute (gain along the order, i.e. the probability step each
feature adds when it is inserted).

Prints a table and writes it to ``benchmarks/results/prompt_ground_truth.txt``.
"""

from __future__ import annotations

import argparse
import io
import time
import warnings
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np

import eagle_kit as ek
from eagle_kit import shapes

HELD_OUT = 950_000
FILLER = ("is", "there", "a")


def _object_cell(labels: np.ndarray, mask: np.ndarray) -> int:
    return int(np.bincount(labels[mask]).argmax())


def _ranks(expl: ek.Explanation) -> np.ndarray:
    rank = np.empty(expl.n_regions, dtype=np.int64)
    rank[expl.order] = np.arange(expl.n_regions)
    return rank


def _word_feature(expl: ek.Explanation, word: str) -> int:
    n_img = expl.n_image_regions
    for k, (text, _, _) in enumerate(expl.text_spans):
        if text == word:
            return n_img + k
    raise KeyError(word)


def _words_above_filler(expl: ek.Explanation, colour: str, shape: str) -> bool:
    rank = _ranks(expl)
    content = max(rank[_word_feature(expl, colour)], rank[_word_feature(expl, shape)])
    return bool(content < min(rank[_word_feature(expl, w)] for w in FILLER))


def _top_word_is_content(expl: ek.Explanation, colour: str, shape: str) -> bool:
    rank = _ranks(expl)
    words = {t: rank[_word_feature(expl, t)] for t, _, _ in expl.text_spans}
    return min(words, key=words.get) in (colour, shape)


def _rank_gap(expl: ek.Explanation, colour: str, shape: str) -> float:
    """Mean rank of is/there/a minus mean rank of the colour and shape words (> 0: content first)."""
    rank = _ranks(expl)
    content = np.mean([rank[_word_feature(expl, w)] for w in (colour, shape)])
    return float(np.mean([rank[_word_feature(expl, w)] for w in FILLER]) - content)


BASELINE: int | str | None = None


def _explain(model, image, question, answer, search, regions):
    return ek.explain(
        model,
        image,
        prompt=question,
        answer=answer,
        regions=regions,
        text_regions="words",
        text_baseline=BASELINE,
        search=search,
        progress=False,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-scenes", type=int, default=50, help="'yes' scenes to explain (>= 50)")
    ap.add_argument("--n-hallucinations", type=int, default=30, help="planted cases to try")
    ap.add_argument("--search", default="exact", help="exact, efficient (or fast)")
    ap.add_argument("--text-baseline", default=None, help="replacement token (default: pad)")
    ap.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "prompt_ground_truth.txt")
    )
    args = ap.parse_args()
    global BASELINE
    BASELINE = args.text_baseline
    warnings.simplefilter("ignore")
    model = ek.load_model("shapes")
    t0 = time.perf_counter()

    rows = []
    seed = HELD_OUT
    tried = 0
    while len(rows) < args.n_scenes:
        scene = shapes.make_scene(seed)
        seed += 1
        obj = scene.objects[0]
        question = shapes.QUESTION_TEMPLATE.format(colour=obj.colour, shape=obj.shape)
        tried += 1
        gen = model.generate(scene.image, question, max_new_tokens=2)
        if not gen.text.startswith("yes"):
            continue
        grid = ek.segment(scene.image, 16, "grid")
        cell = _object_cell(grid.labels, obj.mask)
        others = {_object_cell(grid.labels, o.mask) for o in scene.objects}
        background = [r for r in range(16) if r not in others]
        joint = _explain(model, scene.image, question, "yes", args.search, grid)
        text_only = _explain(model, scene.image, question, "yes", args.search, "none")
        image_only = ek.explain(
            model,
            scene.image,
            prompt=question,
            answer="yes",
            regions=grid,
            search=args.search,
            progress=False,
        )
        rank = _ranks(joint)
        d = joint.dataset
        rows.append(
            {
                "words": _words_above_filler(joint, obj.colour, obj.shape),
                "words_text_only": _words_above_filler(text_only, obj.colour, obj.shape),
                "top_word": _top_word_is_content(joint, obj.colour, obj.shape),
                "top_word_text_only": _top_word_is_content(text_only, obj.colour, obj.shape),
                "gap": _rank_gap(joint, obj.colour, obj.shape),
                "gap_text_only": _rank_gap(text_only, obj.colour, obj.shape),
                "object_rank": int(sorted(rank[:16]).index(rank[cell])),
                "region_image_only": bool(
                    _ranks(image_only)[cell] < min(_ranks(image_only)[b] for b in background)
                ),
                "first_feature": bool(
                    int(joint.order[0]) == cell
                    or str(joint.dataset["region_text"].values[int(joint.order[0])])
                    in (obj.colour, obj.shape)
                ),
                "region": bool(rank[cell] < min(rank[b] for b in background)),
                "region_first_image": bool([r for r in joint.order if r < 16][0] == cell),
                "p_full": float(d["p_full"].values[0]),
                "image": float(d["reliance_image"].values[0]),
                "prompt": float(d["reliance_prompt"].values[0]),
                "prior": float(d["reliance_prior"].values[0]),
                "evals": int(d.attrs["n_evaluations"]),
            }
        )

    halluc = []
    for k in range(args.n_hallucinations):
        scene = shapes.hallucination_scene(HELD_OUT + k)
        question = shapes.QUESTION_TEMPLATE.format(colour="green", shape="circle")
        gen = model.generate(scene.image, question, max_new_tokens=2)
        if not gen.text.startswith("yes"):
            continue
        grid = ek.segment(scene.image, 16, "grid")
        cells = {o.name: _object_cell(grid.labels, o.mask) for o in scene.objects}
        expl = _explain(model, scene.image, question, "yes", args.search, grid)
        gain = expl.region_values(0, kind="gain")
        rank = _ranks(expl)
        objects = set(cells.values())
        bg = [r for r in range(16) if r not in objects]
        halluc.append(
            {
                "words": {w: float(gain[_word_feature(expl, w)]) for w in question.split()},
                "word_rank": {w: int(rank[_word_feature(expl, w)]) for w in question.split()},
                "triangle": float(gain[cells["yellow triangle"]]),
                "square": float(gain[cells["green square"]]),
                "background": float(gain[bg].sum()),
                "triangle_rank": int(rank[cells["yellow triangle"]]),
                "square_rank": int(rank[cells["green square"]]),
                "image": float(expl.dataset["reliance_image"].values[0]),
                "prompt": float(expl.dataset["reliance_prompt"].values[0]),
                "prior": float(expl.dataset["reliance_prior"].values[0]),
                "p_full": float(expl.dataset["p_full"].values[0]),
            }
        )
    seconds = time.perf_counter() - t0

    out = io.StringIO()
    with redirect_stdout(out):
        n = len(rows)
        mean = lambda key, rs=rows: float(np.mean([r[key] for r in rs]))  # noqa: E731
        print(
            f"Prompt spans + image regions, embedded shapes model; held-out seeds from "
            f"{HELD_OUT}; search={args.search}; 4x4 grid + 6 words (22 features); text "
            f"baseline {args.text_baseline or 'pad (default)'}."
        )
        print(
            f"'yes' scenes: {n} of {tried} asked (the model answered the rest otherwise); "
            f"{mean('evals'):.0f} images per joint explanation; {seconds:.0f} s in all."
        )
        print()
        print(f"{'check (share of the ' + str(n) + ' scenes)':62} {'value':>7}  target")
        print(f"{'colour+shape words rank above is/there/a (joint)':62} {mean('words'):7.3f}  1.0")
        print(
            f"{'colour+shape words rank above is/there/a (text only)':62} "
            f"{mean('words_text_only'):7.3f}  1.0"
        )
        print(f"{'top-ranked word is the colour or the shape (joint)':62} {mean('top_word'):7.3f}")
        print(
            f"{'top-ranked word is the colour or the shape (text only)':62} "
            f"{mean('top_word_text_only'):7.3f}"
        )
        print(f"{'mean rank of is/there/a minus colour+shape (joint)':62} {mean('gap'):7.2f}  > 0")
        print(
            f"{'mean rank of is/there/a minus colour+shape (text only)':62} "
            f"{mean('gap_text_only'):7.2f}  > 0"
        )
        print(
            f"{'first feature is the object cell, its colour or shape (joint)':62} "
            f"{mean('first_feature'):7.3f}"
        )
        print(f"{'object cell ranks above every background cell':62} {mean('region'):7.3f}  1.0")
        print(
            f"{'object cell is the first image region in the order':62} "
            f"{mean('region_first_image'):7.3f}"
        )
        print(
            f"{'object cell rank among the 16 cells (0 = first), mean':62} "
            f"{mean('object_rank'):7.2f}"
        )
        print(
            f"{'control, image regions only: object cell above background':62} "
            f"{mean('region_image_only'):7.3f}"
        )
        print()
        print("three-way reading of p('yes'), mean over scenes (probability units, sum = p_full):")
        print(
            f"  p_full {mean('p_full'):.3f} = image {mean('image'):.3f} + prompt "
            f"{mean('prompt'):.3f} + prior {mean('prior'):.3f}"
        )
        print()
        m = len(halluc)
        print(
            f"Planted hallucination ('is there a green circle ?' next to a yellow triangle and a "
            f"green square): {m} of {args.n_hallucinations} answered 'yes'."
        )
        if m:
            hm = lambda key: float(np.mean([h[key] for h in halluc]))  # noqa: E731
            print("gain along the order (p('yes') step when the feature is inserted), mean:")
            for w in halluc[0]["words"]:
                g = np.mean([h["words"][w] for h in halluc])
                r = np.mean([h["word_rank"][w] for h in halluc])
                print(f"  word {w!r:10} {g:+.3f}   mean rank {r:5.1f} of 22")
            print(
                f"  yellow-triangle cell {hm('triangle'):+.3f} (mean rank {hm('triangle_rank'):.1f}); "
                f"green-square cell {hm('square'):+.3f} (mean rank {hm('square_rank'):.1f}); "
                f"all background cells {hm('background'):+.3f}"
            )
            print(
                f"  three-way: p_full {hm('p_full'):.3f} = image {hm('image'):.3f} + prompt "
                f"{hm('prompt'):.3f} + prior {hm('prior'):.3f}"
            )
    text = out.getvalue()
    print(text, end="")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
