"""An independent teacher-forcing reference, written with plain ``transformers``.

Tests check eagle_kit's scoring against it, so it uses no eagle_kit code: the family's
processor once on the (masked) media, the prompt's token ids optionally edited in place,
the answer appended, one forward pass with full logits, a softmax at the answer positions.

Example:
    >>> from eagle_kit.testing.teacher_forcing import answer_distribution
    >>> conversation = [{"role": "user", "content": [{"type": "image"},
    ...                  {"type": "text", "text": "What shape?"}]}]
    >>> dist = answer_distribution(hf, processor, conversation, image, [5, 9])  # doctest: +SKIP
    >>> dist.shape  # doctest: +SKIP
    torch.Size([2, 32000])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["answer_distribution", "append_answer"]


def append_answer(
    encoding: Mapping[str, Any],
    answer_ids: Sequence[int],
    *,
    input_ids: torch.Tensor | None = None,
) -> dict[str, Any]:
    """The processor's output with the answer appended, for one teacher-forced pass.

    Every tensor shaped like ``input_ids`` (``1×T``) grows by the ``L`` answer positions:
    ``input_ids`` takes the answer ids, ``attention_mask`` ones, any other (e.g.
    ``token_type_ids``, ``mm_token_type_ids``) zeros. Other entries (pixel values, grids)
    are passed through unchanged.

    Args:
        encoding: the processor's output for one prompt (``return_tensors="pt"``).
        answer_ids: the ``L`` answer token ids.
        input_ids: ``1×T`` prompt ids to use instead of ``encoding["input_ids"]`` (e.g.
            with some positions replaced); same shape.

    Returns:
        A new dict of model inputs; the prompt occupies positions ``0..T-1``.
    """
    prompt_ids = encoding["input_ids"]
    ids = prompt_ids if input_ids is None else input_ids
    answer = torch.tensor([list(answer_ids)], dtype=prompt_ids.dtype)
    inputs: dict[str, Any] = {}
    for key, value in encoding.items():
        if isinstance(value, torch.Tensor) and value.shape == prompt_ids.shape:
            if key == "input_ids":
                base, fill = ids, answer
            elif key == "attention_mask":
                base, fill = value, torch.ones_like(answer)
            else:
                base, fill = value, torch.zeros_like(answer)
            inputs[key] = torch.cat([base, fill], dim=1)
        else:
            inputs[key] = value
    return inputs


def answer_distribution(
    hf_model: Any,
    processor: Any,
    conversation: list[dict[str, Any]],
    media: np.ndarray,
    answer_ids: Sequence[int],
    *,
    replace_positions: Sequence[int] = (),
    baseline_id: int | None = None,
) -> torch.Tensor:
    """Next-token distributions at the answer positions, by plain teacher forcing.

    Args:
        hf_model: a ``transformers`` vision-language model (``…ForConditionalGeneration``).
        processor: its processor (chat template, tokenizer, image/video processor).
        conversation: chat messages with one ``{"type": "image"}`` or ``{"type": "video"}``
            entry; the generation prompt is added.
        media: ``H×W×3`` uint8 image or ``F×H×W×3`` video (frames used as given).
        answer_ids: the ``L`` answer token ids, fed as the continuation.
        replace_positions: prompt token positions set to ``baseline_id`` before the pass.
        baseline_id: the token id written at ``replace_positions``.

    Returns:
        ``L×V`` float32 probabilities on the CPU: row ``t`` is ``p(· | media, prompt,
        answer[:t])``.

    Raises:
        ValueError: ``replace_positions`` without ``baseline_id``.
    """
    positions = list(replace_positions)
    if positions and baseline_id is None:
        raise ValueError("replace_positions needs baseline_id, the token id to write there.")
    text = processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
    media_kw = (
        {"videos": [media], "do_sample_frames": False} if media.ndim == 4 else {"images": [media]}
    )
    enc = processor(text=[text], return_tensors="pt", **media_kw)
    ids = enc["input_ids"].clone()
    if positions:
        ids[0, positions] = baseline_id
    n_prompt = ids.shape[1]
    params = next(hf_model.parameters())
    inputs = {}
    for key, value in append_answer(enc, answer_ids, input_ids=ids).items():
        if isinstance(value, torch.Tensor):
            value = value.to(params.device)
            if key.startswith("pixel_values"):
                value = value.to(params.dtype)
        inputs[key] = value
    with torch.no_grad():
        logits = hf_model(**inputs).logits[0].float()
    steps = torch.arange(len(answer_ids))
    return torch.softmax(logits[n_prompt - 1 + steps], dim=-1).cpu()
