"""Helpers of the baseline tests: an additive scorer with known attributions."""

from __future__ import annotations

import numpy as np

import eagle_kit as ek


class AdditiveScorer:
    """Image of ``len(weights)`` columns of 2 px; region j = column j.

    Token 0: ``base + Σ_j w_j·[column j visible]`` — additive, so every region's Shapley
    value, occlusion drop and KernelSHAP/LIME coefficient is ``w_j``. Token 1: a constant.
    Records the size of every batch it is called with.
    """

    def __init__(self, weights, *, base=0.05):
        self.w = np.asarray(weights, dtype=float)
        self.base = base
        self.batches: list[int] = []

    @property
    def n(self) -> int:
        return len(self.w)

    def image(self) -> np.ndarray:
        return np.full((2, 2 * self.n, 3), 200, np.uint8)

    def regions(self) -> ek.RegionSet:
        labels = np.repeat(np.arange(self.n), 2)[None].repeat(2, 0)
        return ek.RegionSet.from_labels(labels)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        self.batches.append(len(images))
        visible = images[:, 0, :, 0].reshape(len(images), self.n, 2).max(axis=2) > 0
        return np.stack([self.base + visible @ self.w, np.full(len(images), 0.5)], axis=1)


WEIGHTS = [0.05, 0.30, 0.01, 0.15, 0.20, 0.02, 0.12, 0.08]


def teacher_forced(model, image, messages, answer_ids, replace, baseline_id) -> np.ndarray:
    """p(answer token t | image, prompt, answer before t) written with plain transformers: the
    processor on the chat text and the image, the ids at ``replace`` set to ``baseline_id``,
    the answer ids appended, one forward pass, softmax at the answer positions."""
    import torch

    chat = model.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    enc = model.processor(text=[chat], images=[image], return_tensors="pt")
    ids = enc["input_ids"].clone()
    ids[0, list(replace)] = int(baseline_id)
    n_prompt, n_answer = ids.shape[1], len(answer_ids)
    inputs = {"input_ids": torch.cat([ids, torch.tensor([answer_ids])], dim=1)}
    inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
    hf = model.model
    param = next(hf.parameters())
    for key, value in enc.items():
        if key in inputs:
            continue
        if value.shape == ids.shape:  # per-token ids (e.g. mm_token_type_ids): text after
            value = torch.cat([value, torch.zeros((1, n_answer), dtype=value.dtype)], dim=1)
        elif value.is_floating_point():
            value = value.to(param.dtype)
        inputs[key] = value.to(param.device)
    inputs = {k: v.to(param.device) for k, v in inputs.items()}
    with torch.no_grad():
        logits = hf(**inputs).logits[0].double()
    steps = torch.arange(n_answer)
    probs = torch.softmax(logits[n_prompt - 1 + steps], dim=-1)
    return probs[steps, torch.tensor(answer_ids)].cpu().numpy()


def word_positions(model, image, messages, prompt: str) -> list[int]:
    """Token position of each word of ``prompt`` in the model's input ids, found without
    eagle_kit: the tokenizers of these models are word-level, so the prompt's words are one
    token each and stand as one run in the input ids (its last occurrence: the user turn)."""
    chat = model.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    ids = model.processor(text=[chat], images=[image], return_tensors="pt")["input_ids"][0].tolist()
    words = model.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert len(words) == len(prompt.split()), "the tokenizer is not word-level"
    starts = [i for i in range(len(ids) - len(words) + 1) if ids[i : i + len(words)] == words]
    assert starts, "the prompt's tokens are not one run in the input ids"
    return [starts[-1] + k for k in range(len(words))]
