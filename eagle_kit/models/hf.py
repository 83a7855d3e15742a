"""Hugging Face vision-language models as EAGLE scorers: generate, then teacher-force fast.

:class:`VisionLanguageModel` wraps any ``AutoModelForImageTextToText`` + ``AutoProcessor``
pair. ``prepare`` binds one image, prompt and answer and returns a :class:`ModelScorer`
that scores batches of masked images with one forward pass per batch:

* the text (chat template + prompt + answer) is tokenised once and shared by the batch;
* masked inputs are composed directly in the processor's output space on the model's device
  when that is exact (see :mod:`eagle_kit.models.pixels`), otherwise the processor runs once
  per batch on the composed images;
* the key/value cache of the text before the image tokens is computed once (families where
  that is exact);
* logits are computed only at the answer positions (``logits_to_keep``);
* the batch size halves on out-of-memory and the size that worked is remembered.
"""

from __future__ import annotations

import copy
import inspect
import json
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import InputError
from ..images import as_media
from ..targets import token_texts
from .batching import AdaptiveBatcher
from .families import Family, family_of
from .generation import Generation
from .pixels import PixelLayout
from .tokens import resolve_target_token_ids, resolve_targets

__all__ = ["VisionLanguageModel", "ModelScorer"]

_MARKER = "\ue000EAGLE\ue000"


def _config_id(config: Any, *names: str) -> int | None:
    for name in names:
        value = getattr(config, name, None)
        if isinstance(value, int):
            return value
    return None


def _repeat(value: Any, n: int) -> Any:
    """``n`` copies of one sample's model input, concatenated along the batch dim."""
    import torch

    if isinstance(value, torch.Tensor):
        if value.ndim == 0:
            return value
        return value.repeat(n, *([1] * (value.ndim - 1)))
    if isinstance(value, list):
        return value * n
    return value


class VisionLanguageModel:
    """A Hugging Face vision-language model with its processor, ready for EAGLE.

    Create it with :func:`eagle_kit.load_model`. Give it to :func:`eagle_kit.explain`, or use
    :meth:`generate` and :meth:`prepare` directly.

    Attributes:
        model: the ``transformers`` model (eval mode).
        processor: its ``AutoProcessor``.
        name: the hub id or folder it was loaded from.
        family: the family's quirks (:class:`eagle_kit.models.families.Family`).
        batch_size: masked images per forward pass; halved (and remembered) on out-of-memory.
        prefix_cache: share the key/value cache of the text before the image tokens.

    Example:
        >>> model = ek.load_model("shapes")  # doctest: +SKIP
        >>> gen = model.generate(image, "What is in the image?")  # doctest: +SKIP
        >>> scorer = model.prepare(image, prompt="What is in the image?", generation=gen)  # doctest: +SKIP
    """

    def __init__(
        self,
        model: Any,
        processor: Any,
        *,
        name: str,
        batch_size: int | None = None,
        prefix_cache: bool | None = None,
    ) -> None:
        self.model = model.eval()
        self.processor = processor
        self.name = str(name)
        self.config = model.config
        self.model_type = str(getattr(self.config, "model_type", type(model).__name__))
        self.family: Family = family_of(self.model_type)
        self.tokenizer = getattr(processor, "tokenizer", None)
        if self.tokenizer is None:
            raise TypeError(
                f"The processor of '{self.name}' ({type(processor).__name__}) has no tokenizer; "
                "a vision-language model needs an AutoProcessor with a tokenizer."
            )
        self.image_token_id = _config_id(self.config, "image_token_id", "image_token_index")
        self.video_token_id = _config_id(self.config, "video_token_id", "video_token_index")
        self.batch_size = int(batch_size) if batch_size else self._default_batch_size()
        # On a GPU without a user-given size, the first prepare() measures what fits.
        self.plan_batch_size = not batch_size and self.device.type == "cuda"
        self.prefix_cache = self.family.prefix_cache if prefix_cache is None else prefix_cache
        params = inspect.signature(model.forward).parameters
        self._keeps_logits = "logits_to_keep" in params
        self._forward_kwargs = (
            None if any(p.kind == p.VAR_KEYWORD for p in params.values()) else set(params)
        )

    # ------------------------------------------------------------------ basics

    @property
    def prefix_cache(self) -> bool:
        """Share the key/value cache of the text before the image tokens across a batch."""
        return self._prefix_cache

    @prefix_cache.setter
    def prefix_cache(self, value: bool) -> None:
        if value and not self.family.prefix_cache:
            raise ValueError(
                f"prefix_cache is not exact for {self.family.name} (its attention or positions "
                "depend on the image tokens), so it cannot be enabled. Use prefix_cache=False."
            )
        self._prefix_cache = bool(value)

    @property
    def device(self) -> Any:
        """Where inputs go (the device of the input embeddings)."""
        return self.model.get_input_embeddings().weight.device

    @property
    def dtype(self) -> Any:
        """The dtype of the model's weights; pixel inputs are cast to it."""
        return self.model.get_input_embeddings().weight.dtype

    def _default_batch_size(self) -> int:
        return 32 if self.device.type == "cpu" else 16

    def __repr__(self) -> str:
        return (
            f"VisionLanguageModel(name={self.name!r}, family={self.family.name!r}, "
            f"device={str(self.device)!r}, dtype={str(self.dtype).replace('torch.', '')!r}, "
            f"batch_size={self.batch_size})"
        )

    # ------------------------------------------------------------------ text

    def _conversation(
        self, prompt: str | None, messages: Sequence[Mapping[str, Any]] | None, video: bool
    ) -> list[dict[str, Any]]:
        if messages is not None:
            if isinstance(messages, (str, bytes)) or not all(
                isinstance(m, Mapping) for m in messages
            ):
                raise TypeError(
                    "messages must be a list of dicts like "
                    "[{'role': 'user', 'content': [{'type': 'image'}, {'type': 'text', 'text': '...'}]}]."
                )
            return copy.deepcopy([dict(m) for m in messages])
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(
                f"A prompt is needed: pass prompt='Describe the image.' (got {prompt!r}), or a "
                "message list with messages=[...]."
            )
        kind = "video" if video else "image"
        for marker in {self._placeholder(False), self._placeholder(True)} - {None}:
            if marker and marker in prompt:
                raise InputError(
                    f"The prompt contains the model's placeholder {marker!r}, which the "
                    "processor expands into image/video tokens; the image is placed by the chat "
                    f"template already. Remove {marker!r} from the prompt (or pass messages= "
                    "with an {'type': 'image'} item where you want it)."
                )
        return [{"role": "user", "content": [{"type": kind}, {"type": "text", "text": prompt}]}]

    def _render(self, conversation: list[dict[str, Any]], *, generation_prompt: bool = True) -> str:
        template = getattr(self.processor, "chat_template", None) or getattr(
            self.tokenizer, "chat_template", None
        )
        if not template:
            raise ValueError(
                f"'{self.name}' has no chat template, so a prompt cannot be formatted. Set "
                "model.processor.chat_template, or use an instruction-tuned checkpoint."
            )
        return self.processor.apply_chat_template(
            conversation, add_generation_prompt=generation_prompt, tokenize=False
        )

    def _placeholder(self, video: bool) -> str | None:
        attr = "video_token" if video else "image_token"
        token = getattr(self.processor, attr, None) or getattr(self.tokenizer, attr, None)
        return token if isinstance(token, str) else None

    def _check_media(self, image: Any) -> np.ndarray:
        media = as_media(image)
        if media.ndim == 4 and not self.family.video:
            raise ValueError(
                f"{self.family.name} ('{self.name}') does not take video; got {media.shape[0]} "
                f"frames. Pass one H×W×3 image, or use a video family "
                f"({', '.join(_video_families())})."
            )
        if media.ndim == 4:
            n, group = media.shape[0], self.temporal_patch_size
            if n % group:
                padded = n + group - n % group
                warnings.warn(
                    f"{self.family.name} takes video frames in groups of {group} "
                    f"(temporal_patch_size); this {n}-frame video is given to it as {padded} "
                    f"frames, the last one repeated. The copies are masked with the last frame, so "
                    f"the explanation covers the {n} frame{'s' if n > 1 else ''} given.",
                    UserWarning,
                    stacklevel=3,
                )
        return media

    @property
    def temporal_patch_size(self) -> int:
        """Frames the video processor groups into one temporal patch (1 = no grouping)."""
        vp = getattr(self.processor, "video_processor", None)
        size = getattr(vp, "temporal_patch_size", None)
        return int(size) if isinstance(size, int) and size > 0 else 1

    def _pad_frames(self, frames: np.ndarray) -> np.ndarray:
        """Frames repeated at the end to a multiple of :attr:`temporal_patch_size` (as Qwen2-VL's
        own processor does; Qwen3-VL's refuses fewer frames than a group)."""
        group = self.temporal_patch_size
        extra = -frames.shape[0] % group
        if not extra:
            return frames
        return np.concatenate([frames, np.repeat(frames[-1:], extra, axis=0)], axis=0)

    def _encode(self, media: np.ndarray, conversation: list[dict[str, Any]]) -> tuple[str, Any]:
        """Chat text and processor output (batch of one) for ``media`` and ``conversation``."""
        video = media.ndim == 4
        text = self._render(conversation)
        placeholder = self._placeholder(video)
        kind = "video" if video else "image"
        if placeholder is not None and placeholder not in text:
            raise ValueError(
                f"The formatted prompt has no {kind} placeholder ({placeholder!r}), so the model "
                f"would not see the {kind}. Put {{'type': '{kind}'}} in the user message's "
                f"content, e.g. [{{'type': '{kind}'}}, {{'type': 'text', 'text': prompt}}]. "
                f"Formatted prompt: {text!r}"
            )
        inputs = self.processor(
            text=[text], return_tensors="pt", **self._media_kwargs([media], video)
        )
        token_id = self.video_token_id if video else self.image_token_id
        if token_id is not None and not bool((inputs["input_ids"] == token_id).any()):
            raise ValueError(
                f"The tokenised prompt has no {kind} token (id {token_id}); the model would not "
                f"see the {kind}. Put {{'type': '{kind}'}} in the user message's content. "
                f"Formatted prompt: {text!r}"
            )
        self._check_length(int(inputs["input_ids"].shape[-1]))
        return text, inputs

    def max_positions(self) -> int | None:
        """The longest sequence (prompt with image tokens + answer) the model's positions
        cover: ``max_position_embeddings`` of its text config; None when it gives none."""
        config = self.model.config
        for part in (getattr(config, "text_config", None), config):
            n = getattr(part, "max_position_embeddings", None)
            if isinstance(n, int) and n > 0:
                return n
        return None

    def _check_length(self, n_prompt: int, n_answer: int = 0) -> None:
        """A clear error before scoring/generation when the sequence is longer than the
        model's positions (transformers only warns, then gives meaningless scores)."""
        limit = self.max_positions()
        if limit is None or n_prompt + n_answer <= limit:
            return
        answer = f" + {n_answer} answer tokens" if n_answer else ""
        raise ValueError(
            f"The input is {n_prompt} prompt tokens (with the image tokens){answer} = "
            f"{n_prompt + n_answer} tokens, longer than the {limit} positions '{self.name}' "
            f"has (max_position_embeddings). Shorten the prompt or the answer, or use a model "
            f"with a longer context."
        )

    def _room_for_answer(self, n_prompt: int, max_new_tokens: int) -> int:
        """``max_new_tokens`` capped so that prompt + answer fit the model's positions (with a
        warning naming both numbers); a prompt that leaves no room is a clear error."""
        limit = self.max_positions()
        if limit is None or n_prompt + int(max_new_tokens) <= limit:
            return int(max_new_tokens)
        room = limit - n_prompt
        if room < 1:
            raise ValueError(
                f"The prompt is {n_prompt} tokens (with the image tokens), which fills all "
                f"{limit} positions of '{self.name}' (max_position_embeddings): no room for an "
                f"answer. Shorten the prompt or use a model with a longer context."
            )
        warnings.warn(
            f"max_new_tokens={int(max_new_tokens)} lowered to {room}: the prompt is {n_prompt} "
            f"tokens (with the image tokens) and '{self.name}' has {limit} positions "
            f"(max_position_embeddings). The answer may be cut short.",
            stacklevel=3,
        )
        return room

    def _stop_ids(self) -> set[int]:
        stop: set[int] = set()
        eos = getattr(self.model.generation_config, "eos_token_id", None)
        for value in eos if isinstance(eos, (list, tuple)) else [eos]:
            if isinstance(value, int):
                stop.add(value)
        if isinstance(self.tokenizer.eos_token_id, int):
            stop.add(self.tokenizer.eos_token_id)
        return stop

    def end_of_turn_id(self) -> int | None:
        """The token that ends the assistant's turn in this model's chat format."""
        special = {int(i) for i, t in self.tokenizer.added_tokens_decoder.items() if t.special}
        for content in ([{"type": "text", "text": _MARKER}], _MARKER):
            conv = [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "hi"}]
                    if isinstance(content, list)
                    else "hi",
                },
                {"role": "assistant", "content": content},
            ]
            try:
                text = self._render(conv, generation_prompt=False)
            except Exception:  # noqa: BLE001 - some templates only take one content form
                continue
            if _MARKER not in text:
                continue
            suffix = text.split(_MARKER, 1)[1]
            for token_id in self.tokenizer(suffix, add_special_tokens=False)["input_ids"]:
                if token_id in special or token_id in self._stop_ids():
                    return int(token_id)
        eos = self.tokenizer.eos_token_id
        return int(eos) if isinstance(eos, int) else None

    def _token_texts(
        self,
        ids: Sequence[int],
        *,
        answer: str | None = None,
        offsets: Sequence[tuple[int, int]] | None = None,
        unknown_id: int | None = None,
    ) -> list[str]:
        """The text each token adds to the decoded answer (:func:`eagle_kit.targets.token_texts`):
        leading spaces kept in every family, a character split over several byte-level
        tokens shown whole on its first token and ``""`` on the continuation tokens. With
        the answer text and its ``offsets``, an unknown token shows the text it stands for."""
        texts = token_texts(ids, lambda chunk: self.tokenizer.decode(chunk))
        if unknown_id is not None and answer is not None and offsets is not None:
            for i, (token_id, (start, end)) in enumerate(zip(ids, offsets, strict=False)):
                if int(token_id) == unknown_id and end > start:
                    lead = texts[i][: len(texts[i]) - len(texts[i].lstrip())]
                    texts[i] = lead + answer[start:end]
        return texts

    def _encode_answer(self, answer: str) -> dict[str, Any]:
        """``input_ids`` of an answer text (no special tokens), with ``offset_mapping`` when
        the tokenizer provides offsets (fast tokenizers)."""
        try:
            out = self.tokenizer(answer, add_special_tokens=False, return_offsets_mapping=True)
        except (NotImplementedError, TypeError, ValueError):
            out = self.tokenizer(answer, add_special_tokens=False)
        return dict(out)

    def _unknown_id(self) -> int | None:
        """The tokenizer's unknown-token id, unless it doubles as an end/begin/pad token."""
        unk = getattr(self.tokenizer, "unk_token_id", None)
        if not isinstance(unk, int):
            return None
        other = {self.tokenizer.bos_token_id, self.tokenizer.pad_token_id, *self._stop_ids()}
        return None if unk in other else unk

    # ------------------------------------------------------------------ generation

    def generate(
        self,
        image: Any,
        prompt: str | None = None,
        *,
        max_new_tokens: int = 64,
        messages: Sequence[Mapping[str, Any]] | None = None,
    ) -> Generation:
        """Answer ``prompt`` about ``image`` greedily.

        Args:
            image: an ``H×W×3`` uint8 array, a PIL image, a path, or ``F×H×W×3`` frames.
            prompt: the user's question; it goes to the chat template after the image.
            max_new_tokens: the most tokens to generate.
            messages: a custom message list instead of ``prompt`` (must contain the image).

        Returns:
            A :class:`Generation` (``.text``, ``.tokens``, ``.token_ids`` without the
            end-of-turn token).
        """
        import torch

        if int(max_new_tokens) < 1:
            raise ValueError(f"max_new_tokens must be >= 1; got {max_new_tokens}.")
        media = self._check_media(image)
        conversation = self._conversation(prompt, messages, media.ndim == 4)
        _, inputs = self._encode(media, conversation)
        max_new_tokens = self._room_for_answer(int(inputs["input_ids"].shape[-1]), max_new_tokens)
        inputs = self._to_device(dict(inputs))
        gen_config = copy.deepcopy(self.model.generation_config)
        for key in ("temperature", "top_p", "top_k", "min_p", "typical_p"):
            if hasattr(gen_config, key):
                setattr(gen_config, key, None)
        gen_config.do_sample = False
        gen_config.num_beams = 1
        gen_config.max_new_tokens = int(max_new_tokens)
        if gen_config.pad_token_id is None:
            gen_config.pad_token_id = self.tokenizer.pad_token_id or next(iter(self._stop_ids()), 0)
        with torch.inference_mode():
            out = self.model.generate(**inputs, generation_config=gen_config)
        new = [int(i) for i in out[0, inputs["input_ids"].shape[1] :].tolist()]
        stop = self._stop_ids()
        end_id: int | None = None
        answer: list[int] = []
        for token_id in new:
            if token_id in stop:
                end_id = token_id
                break
            answer.append(token_id)
        return Generation(
            text=self.tokenizer.decode(answer, skip_special_tokens=True).strip(),
            tokens=self._token_texts(answer),
            token_ids=answer,
            prompt=prompt if messages is None else None,
            end_token_id=end_id,
            messages=copy.deepcopy(list(messages)) if messages is not None else None,
        )

    # ------------------------------------------------------------------ preparing

    def _to_device(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Tensors moved to the model's device; pixel tensors also cast to its dtype."""
        import torch

        out: dict[str, Any] = {}
        for key, value in inputs.items():
            if isinstance(value, torch.Tensor):
                value = value.to(self.device)
                if value.is_floating_point() and (key.startswith("pixel_values") or key == "x"):
                    value = value.to(self.dtype)
            out[key] = value
        return out

    def _media_kwargs(
        self, items: list[np.ndarray], video: bool, nested: bool = False
    ) -> dict[str, Any]:
        if video:
            options = dict(self.family.video_kwargs)
            vp = getattr(self.processor, "video_processor", None)
            if hasattr(vp, "cap_pixels_per_frame") and vp.cap_pixels_per_frame is None:
                # transformers 5.2x announces the per-frame pixel cap (qwen-vl-utils' behaviour)
                # as the coming default and asks for an explicit choice: take it now
                options["cap_pixels_per_frame"] = True
            return {"videos": [self._pad_frames(x) for x in items], **options}
        return {"images": [[x] for x in items] if nested else list(items)}

    def _process_visual(self, items: list[np.ndarray], video: bool, text: str) -> dict[str, Any]:
        """The processor on ``len(items)`` copies of the chat text, one image (or video) each.

        The whole processor runs (not the image processor alone) so that the family's own
        image options and layout are used exactly as for the unmasked image.
        """
        try:
            out = self.processor(
                text=[text] * len(items), return_tensors="pt", **self._media_kwargs(items, video)
            )
        except (ValueError, TypeError):
            if video or len(items) == 1:
                raise
            out = self.processor(
                text=[text] * len(items),
                return_tensors="pt",
                **self._media_kwargs(items, video, nested=True),
            )
        return dict(out)

    def native_image(self, image: Any) -> np.ndarray:
        """``image`` at this model's native input size, as its image processor resizes (and
        centre-crops) it: the pixels the vision tower would get, as ``H'×W'×3`` uint8.

        Explaining the result takes the fast path (masks composed in the processed tensor, no
        processor call per batch) and every pixel of it is seen by the model. The image
        processor itself does the resampling (same filter and backend), without rescaling or
        normalising; values are rounded to uint8.

        Args:
            image: an ``H×W×3`` image (array, PIL image or path).

        Raises:
            ValueError: the processor splits images into tiles at several scales (LLaVA-NeXT,
                LLaVA-OneVision, InternVL with tiling): no single input size avoids resampling.
        """
        import torch

        media = as_media(image)
        if media.ndim != 3:
            raise ValueError(
                f"native_image takes one H×W×3 image; got shape {media.shape}. For video, "
                "resize each frame with native_image(model, frame)."
            )
        ip = getattr(self.processor, "image_processor", None)
        if ip is None:
            raise ValueError(f"The processor of '{self.name}' has no image processor.")
        out = ip(images=[media], do_rescale=False, do_normalize=False, return_tensors="pt")
        pixels = out["pixel_values"].float()
        grid = out.get("image_grid_thw")
        if grid is not None and pixels.ndim == 2:  # Qwen-style flat patches
            t, gh, gw = (int(v) for v in grid[0])
            m = int(getattr(ip, "merge_size", 1) or 1)
            p = int(getattr(ip, "patch_size", 1))
            tp = int(getattr(ip, "temporal_patch_size", 1) or 1)
            x = pixels.reshape(t, gh // m, gw // m, m, m, 3, tp, p, p)[0, :, :, :, :, :, 0]
            chw = x.permute(4, 0, 2, 5, 1, 3, 6).reshape(3, gh * p, gw * p)
        elif pixels.ndim == 4 and pixels.shape[0] == 1:
            chw = pixels[0]
        elif pixels.ndim == 5 and pixels.shape[:2] == (1, 1):
            chw = pixels[0, 0]
            mask = out.get("pixel_attention_mask")
            if mask is not None and not bool(mask.all()):
                raise ValueError(
                    f"The image processor of '{self.name}' pads this image; give it an image whose "
                    "sides match its size (see model.processor.image_processor.size)."
                )
        else:
            raise ValueError(
                f"The image processor of '{self.name}' ({type(ip).__name__}) splits this "
                f"{media.shape[0]}×{media.shape[1]} image into {pixels.shape[-4] if pixels.ndim >= 4 else '?'} "
                "tiles at several scales, so no single input size avoids resampling. Explain the "
                "image as it is (exact, slower path)."
            )
        arr = torch.clamp(torch.round(chw), 0, 255).to(torch.uint8).permute(1, 2, 0)
        return np.ascontiguousarray(arr.numpy())

    def seen_mask(self, image: Any) -> np.ndarray | None:
        """``H×W`` bool, ``True`` where the pixel reaches the vision tower; ``None`` = all.

        Only centre-cropping processors (``do_center_crop``, e.g. LLaVA-1.5's CLIP processor
        on a non-square image) drop pixels. A pixel counts as seen when changing it from
        black to white moves some processed value (before normalisation) by more than half a
        grey level; the seen rows and columns are found by bisection with the processor.
        """
        media = as_media(image)
        frame = media[0] if media.ndim == 4 else media
        ip = getattr(self.processor, "image_processor", None)
        if ip is None or not getattr(ip, "do_center_crop", False) or media.ndim == 4:
            return None
        h, w = frame.shape[:2]

        def process(arr: np.ndarray) -> np.ndarray:
            out = ip(images=[arr], do_rescale=False, do_normalize=False, return_tensors="pt")
            return out["pixel_values"].float().numpy()

        black = np.zeros_like(frame)
        base = process(black)

        def moves(rows: slice, cols: slice) -> bool:
            probe = black.copy()
            probe[rows, cols] = 255
            got = process(probe)
            return got.shape != base.shape or bool(np.abs(got - base).max() > 0.5)

        def first(n: int, band: Any) -> int:
            """Smallest k such that the band of the first k lines moves the output."""
            if band(1):
                return 1  # the edge line is seen (the usual case: one call per edge)
            lo, hi = 2, n
            if not band(n):
                return n
            while lo < hi:
                mid = (lo + hi) // 2
                if band(mid):
                    hi = mid
                else:
                    lo = mid + 1
            return lo

        top = first(h, lambda k: moves(slice(0, k), slice(None))) - 1
        bottom = h - first(h, lambda k: moves(slice(h - k, h), slice(None))) + 1
        left = first(w, lambda k: moves(slice(None), slice(0, k))) - 1
        right = w - first(w, lambda k: moves(slice(None), slice(w - k, w))) + 1
        if top == 0 and left == 0 and bottom == h and right == w:
            return None
        seen = np.zeros((h, w), bool)
        seen[top:bottom, left:right] = True
        return seen

    def prepare(
        self,
        image: Any,
        *,
        prompt: str | None = None,
        answer: str | None = None,
        generation: Generation | None = None,
        messages: Sequence[Mapping[str, Any]] | None = None,
        targets: Any = None,
        target_token_ids: Mapping[int, int | str] | None = None,
        max_new_tokens: int = 64,
        include_end: bool = False,
        batch_size: int | None = None,
    ) -> ModelScorer:
        """Bind an image, prompt and answer; return a scorer of masked versions of the image.

        Args:
            image: ``H×W×3`` uint8 (or PIL/path), or ``F×H×W×3`` frames for video families.
            prompt: the question. Not needed when ``generation`` or ``messages`` carries it.
            answer: explain this answer text (tokenised as the assistant's reply, no added
                special tokens) instead of generating one.
            generation: explain this :class:`Generation` (from :meth:`generate`).
            messages: a custom message list instead of the standard one.
            targets: tokens that form the objective: indices into the answer's tokens,
                whole words or phrases, ``(word, k)`` occurrences, a list of these (see
                :func:`eagle_kit.targets.resolve_targets`), or ``None`` (every answer token).
            target_token_ids: ``{answer position: id or text}`` scored instead of the
                answer's token there (e.g. ``{0: "No"}`` for a hallucinated "Yes").
            max_new_tokens: used when the answer has to be generated.
            include_end: also record the end-of-turn token (the reference does).
            batch_size: masked images per forward (default: the model's).

        Returns:
            A :class:`ModelScorer` (an :class:`eagle_kit.scoring.PreparedScorer`).
        """
        media = self._check_media(image)
        video = media.ndim == 4
        if generation is not None and not isinstance(generation, Generation):
            raise TypeError(
                f"generation must be an eagle_kit Generation (from model.generate); got "
                f"{type(generation).__name__}. To explain a text, pass answer='...'."
            )
        if generation is not None and answer is not None:
            raise ValueError("Pass either answer='...' or generation=gen, not both.")
        if generation is not None:
            if prompt is not None and generation.prompt is not None and prompt != generation.prompt:
                raise ValueError(
                    f"The generation answers {generation.prompt!r} but prompt={prompt!r} was "
                    "given. Drop prompt=, or generate again with this prompt."
                )
            if prompt is None and messages is None:
                prompt, messages = generation.prompt, generation.messages
        conversation = self._conversation(prompt, messages, video)
        text, inputs = self._encode(media, conversation)

        end_id: int | None = None
        answer_offsets: Sequence[tuple[int, int]] | None = None
        if generation is not None:
            if any(int(i) < 0 for i in generation.token_ids):
                raise ValueError(
                    "This generation has no token ids (it came from an API scorer); pass its text "
                    "instead: answer=gen.text."
                )
            answer_ids = list(generation.token_ids)
            end_id = generation.end_token_id
        elif answer is not None:
            if not isinstance(answer, str):
                raise TypeError(f"answer must be a str; got {type(answer).__name__}.")
            encoded = self._encode_answer(answer)
            answer_ids = [int(i) for i in encoded["input_ids"]]
            answer_offsets = encoded.get("offset_mapping")
        else:
            generation = self.generate(
                media, prompt, max_new_tokens=max_new_tokens, messages=messages
            )
            answer_ids = list(generation.token_ids)
            end_id = generation.end_token_id
        if include_end:
            end_id = end_id if end_id is not None else self.end_of_turn_id()
            if end_id is None:
                raise ValueError(
                    f"'{self.name}' has no end-of-turn or EOS token; use include_end=False."
                )
            answer_ids.append(int(end_id))
        if not answer_ids:
            raise ValueError(
                "The answer is empty (the model stopped at once), so there is nothing to explain. "
                "Pass answer='...', a longer max_new_tokens, or include_end=True."
            )
        self._check_length(int(inputs["input_ids"].shape[-1]), len(answer_ids))
        placeholders = {i for i in (self.image_token_id, self.video_token_id) if i is not None}
        if placeholders & set(answer_ids):
            raise ValueError(
                "The answer contains the model's image/video placeholder token, which would make "
                "the number of image tokens wrong. Explain another answer."
            )
        answer_text = (
            generation.text
            if generation is not None
            else answer
            if answer is not None
            else self.tokenizer.decode(answer_ids, skip_special_tokens=True)
        )
        vocab = getattr(self.model.get_output_embeddings(), "out_features", None)
        unknown_id = self._unknown_id()
        scored_ids = resolve_target_token_ids(
            target_token_ids,
            answer_ids,
            lambda s: [int(i) for i in self.tokenizer(s, add_special_tokens=False)["input_ids"]],
            vocab_size=vocab,
            unknown_id=unknown_id,
        )
        recorded = self._token_texts(
            scored_ids, answer=answer, offsets=answer_offsets, unknown_id=unknown_id
        )
        # targets resolve against the recorded texts, as every Explanation method does
        default_targets = resolve_targets(
            targets,
            recorded,
            joined=True,
            unknown=[i for i, t in enumerate(scored_ids) if t == unknown_id],
        )
        metadata: dict[str, Any] = {
            "scorer": "hf",
            "model": self.name,
            "family": self.model_type,
            "prompt": prompt if prompt is not None else _user_text(conversation),
            "answer": answer_text,
            "chat_text": text,
            "dtype": str(self.dtype).replace("torch.", ""),
            "device": str(self.device),
            "include_end": int(bool(include_end)),
            "token_text_joined": 1,
        }
        if unknown_id is not None:
            metadata["unk_token_id"] = int(unknown_id)
        if messages is not None:
            metadata["messages"] = json.dumps(conversation, default=str)
        if scored_ids != answer_ids:
            changed = {
                i: (answer_ids[i], scored_ids[i])
                for i in range(len(answer_ids))
                if scored_ids[i] != answer_ids[i]
            }
            metadata["target_token_ids"] = json.dumps(
                {
                    str(i): {
                        "answer": self.tokenizer.decode([a]),
                        "scored": self.tokenizer.decode([s]),
                    }
                    for i, (a, s) in changed.items()
                }
            )
        return ModelScorer(
            self,
            media=media,
            inputs=dict(inputs),
            answer_ids=answer_ids,
            scored_ids=scored_ids,
            tokens=recorded,
            default_targets=default_targets,
            metadata=metadata,
            batch_size=int(batch_size) if batch_size else self.batch_size,
        )


def _user_text_parts(conversation: list[dict[str, Any]]) -> list[str]:
    """The text items of the last user message, in order."""
    for message in reversed(conversation):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return [content]
            return [str(c.get("text", "")) for c in content or [] if c.get("type") == "text"]
    return []


def _part_starts(
    owner: Any, conversation: list[dict[str, Any]], parts: list[str], chat_text: str
) -> list[int] | None:
    """Where each text item of the last user message starts in ``chat_text``.

    The chat template is rendered once more with a unique marker in place of each item: the
    markers' places, shifted by the length differences of the items before them, are the
    items' places — found by the template itself, so a short prompt ("is") is never matched
    inside template text ("<assistant>") or a system prompt. ``None`` when the template
    changes the items' text (then the caller searches for them)."""
    marks = [f"EKPROMPTPART{k}X{len(chat_text)}" for k in range(len(parts))]
    conv = copy.deepcopy(conversation)
    for message in reversed(conv):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            message["content"] = marks[0]
        else:
            k = 0
            for item in content or []:
                if isinstance(item, dict) and item.get("type") == "text":
                    item["text"] = marks[k]
                    k += 1
        break
    try:
        rendered = owner._render(conv)
    except Exception:  # a template that refuses the markers: search instead
        return None
    starts, shift = [], 0
    for mark, part in zip(marks, parts, strict=True):
        if rendered.count(mark) != 1:
            return None
        starts.append(rendered.index(mark) + shift)
        shift += len(part) - len(mark)
    if any(chat_text[a : a + len(t)] != t for a, t in zip(starts, parts, strict=True)):
        return None
    return starts


def _user_text(conversation: list[dict[str, Any]]) -> str:
    """The text of the last user message (the prompt, when a message list was given): its
    text items joined by :data:`eagle_kit.text_regions.PART_SEPARATOR`."""
    from ..text_regions import PART_SEPARATOR

    return PART_SEPARATOR.join(_user_text_parts(conversation))


def _video_families() -> list[str]:
    from .families import FAMILIES

    return [name for name, fam in FAMILIES.items() if fam.video]


class ModelScorer:
    """A model bound to one image, prompt and answer: masked images in, probabilities out.

    Implements :class:`eagle_kit.scoring.PreparedScorer`. Column ``t`` of the output is the
    softmax probability of ``token_ids[t]`` at answer position ``t``, given the (masked)
    image, the prompt and the original answer up to ``t`` (teacher forcing).

    Attributes:
        tokens: text of each recorded (scored) token.
        token_ids: the vocabulary id scored in each column.
        answer_ids: the answer's own token ids (differ from ``token_ids`` only where
            ``target_token_ids`` replaced them).
        default_targets: resolved ``targets`` (``None`` = every column).
        metadata: provenance (str/int/float values).
        batch_size: masked images per forward; halved and remembered on out-of-memory.
        composition: ``"layout"`` (masks applied in the processed tensor on the device) or
            ``"processor"`` (the processor runs on each batch of composed images). Both are
            exact; ``"layout"`` applies when the processor does not resample the image, so
            give images at the model's native size for the fastest path (e.g. 336×336 for
            LLaVA-1.5, sides that are multiples of 28 within the pixel limits for Qwen2.5-VL).
    """

    def __init__(
        self,
        owner: VisionLanguageModel,
        *,
        media: np.ndarray,
        inputs: dict[str, Any],
        answer_ids: list[int],
        scored_ids: list[int],
        tokens: list[str],
        default_targets: list[int] | None,
        metadata: dict[str, Any],
        batch_size: int,
    ) -> None:
        import torch

        self._owner = owner
        self.media = media
        self.video = media.ndim == 4
        self.answer_ids = list(answer_ids)
        self.token_ids = list(scored_ids)
        self.tokens = list(tokens)
        self.default_targets = default_targets
        self.metadata = metadata
        self._batcher = AdaptiveBatcher(batch_size, on_shrink=self._on_shrink)
        self.chat_text = str(metadata["chat_text"])
        self.pixel_key = (
            "pixel_values_videos"
            if self.video and "pixel_values_videos" in inputs
            else "pixel_values"
        )
        if self.pixel_key not in inputs:
            raise ValueError(
                f"The processor of '{owner.name}' returned no '{self.pixel_key}' (keys: "
                f"{sorted(inputs)}); this family is not supported for "
                f"{'video' if self.video else 'images'}."
            )
        input_ids = inputs["input_ids"]
        self.prompt_length = int(input_ids.shape[1])
        n = len(self.answer_ids)
        extra = torch.tensor([self.answer_ids[:-1]], dtype=input_ids.dtype)
        text: dict[str, Any] = {}
        aux: dict[str, Any] = {}
        for key, value in inputs.items():
            if key == self.pixel_key:
                continue
            if isinstance(value, torch.Tensor) and value.shape == input_ids.shape:
                if key == "input_ids":
                    pad = extra
                elif key == "attention_mask":
                    pad = torch.ones_like(extra, dtype=value.dtype)
                else:
                    pad = torch.zeros_like(extra, dtype=value.dtype)
                text[key] = torch.cat([value, pad], dim=1)
            elif owner._forward_kwargs is None or key in owner._forward_kwargs:
                aux[key] = value
        self._text = owner._to_device(text)
        self._aux = owner._to_device(aux)
        self._ids = torch.tensor(self.token_ids, device=owner.device).view(1, n, 1)
        self._n_cols = n
        self._single_pixels = inputs[self.pixel_key]
        self._original = owner._to_device({"x": self._single_pixels})["x"]
        self._fill_key: bytes | None = None
        self._fill: Any = None
        self._layout = self._learn_layout()
        self.composition = "layout" if self._layout is not None else "processor"
        self.metadata["composition"] = self.composition
        self.seen = None if self.video else owner.seen_mask(self.media)
        self._notice_geometry()
        self.metadata["n_visual_tokens"] = self._count_visual_tokens()
        self._prefix: dict[str, Any] | None = None
        self.text_features: Any = None  # eagle_kit.text_regions.TextFeatures, see bind_text
        if owner.prefix_cache:
            self._prefix = self._build_prefix()
        self.metadata["prefix_cache"] = int(self._prefix is not None)
        if owner.plan_batch_size:
            self._plan_batch_size()

    # ------------------------------------------------------------------ public

    @property
    def batch_size(self) -> int:
        """Masked images per forward pass (the core chunks candidates by it)."""
        return self._batcher.batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        if int(value) < 1:
            raise ValueError(f"batch_size must be >= 1; got {value}.")
        self._batcher.batch_size = int(value)

    def __call__(self, images: np.ndarray, *, text_keep: np.ndarray | None = None) -> np.ndarray:
        """Probabilities ``B×T`` of the recorded tokens for filled images ``B×[F×]H×W×3`` uint8.

        ``text_keep`` (``B×S`` bool, one column per span bound with :meth:`bind_text`): the
        prompt spans kept in each row; removed spans' tokens become the baseline token.
        """
        images = self._check_batch(images, "images", self.media.shape, np.uint8)
        text_keep = self._check_text_keep(text_keep, len(images))
        return self._score(
            len(images), lambda a, b: self._visual_from_images(images[a:b]), text_keep
        )

    def bind_text(self, text_regions: Any, *, baseline: int | str | None = None) -> Any:
        """Make prompt spans removable features of this scorer (see :mod:`eagle_kit.text_regions`).

        The spans map to prompt tokens through the tokenizer's offsets; a removed span's
        tokens are replaced in place by ``baseline`` (default: the pad token, else unk), so
        the length, positions, attention mask and answer positions stay as they are. The
        prefix cache, when on, is shortened to end before the first span's first token (it
        stays exact: only tokens no span can change are cached).

        Args:
            text_regions: ``"words"``, ``"sentences"`` or ``(start, end)`` character spans
                into the prompt.
            baseline: the replacement token id, or a one-token text.

        Returns:
            The :class:`eagle_kit.text_regions.TextFeatures` (spans, texts, token positions).

        Raises:
            ValueError, TypeError: see :func:`eagle_kit.text_regions.map_spans`.
        """
        from ..text_regions import map_spans, text_spans

        owner = self._owner
        prompt = str(self.metadata.get("prompt", ""))
        messages = self.metadata.get("messages")
        if messages:
            conversation = json.loads(str(messages))
        else:
            conversation = owner._conversation(prompt, None, self.video)
        parts = _user_text_parts(conversation)
        spans = text_spans(prompt, text_regions)
        self.text_features = map_spans(
            tokenizer=owner.tokenizer,
            chat_text=self.chat_text,
            prompt=prompt,
            spans=spans,
            input_ids=self._text["input_ids"][0, : self.prompt_length].tolist(),
            baseline=baseline,
            forbidden_ids=[
                i for i in (owner.image_token_id, owner.video_token_id) if i is not None
            ],
            token_offsets=self._chat_token_offsets(),
            prompt_parts=parts if len(parts) > 1 else None,
            part_starts=_part_starts(owner, conversation, parts, self.chat_text),
        )
        if self._prefix is not None and self._prefix["cut"] > self.text_features.first_position:
            self._prefix = self._build_prefix()
            self.metadata["prefix_cache"] = int(self._prefix is not None)
        return self.text_features

    def _chat_token_offsets(self) -> list[tuple[int, int]] | None:
        """Each prompt input token's characters in :attr:`chat_text`, as the processor placed
        them around its image/video expansions; ``None`` when the processor cannot report
        them (then the spans are aligned by token ids).

        Read from the processor itself, so tokens merged across an expansion's border and
        expansions with text in them (frame timestamps, video preambles) map exactly.
        """
        from ..text_regions import chat_offsets

        owner = self._owner
        try:
            enc = owner.processor(
                text=[self.chat_text],
                return_tensors="pt",  # SmolVLM's video expansion reads tensor shapes
                return_offsets_mapping=True,
                return_text_replacement_offsets=True,
                **owner._media_kwargs([self.media], self.video),
            )
        except (TypeError, ValueError, NotImplementedError, KeyError, AttributeError):
            return None
        offsets = enc.get("offset_mapping")
        replacements = enc.get("text_replacement_offsets")
        ids = enc.get("input_ids")
        if offsets is None or replacements is None or ids is None:
            return None
        expected = self._text["input_ids"][0, : self.prompt_length].tolist()
        if [int(i) for i in ids[0]] != expected or len(offsets[0]) != len(expected):
            return None
        return chat_offsets([(int(a), int(b)) for a, b in offsets[0]], replacements[0])

    def _check_text_keep(self, text_keep: Any, n: int) -> np.ndarray | None:
        from ..text_regions import check_text_keep

        return check_text_keep(text_keep, self.text_features, n)

    def score_masks(
        self, masks: np.ndarray, fill_image: np.ndarray, *, text_keep: np.ndarray | None = None
    ) -> np.ndarray:
        """Probabilities ``B×T`` for the image with masks applied: same as
        ``self(np.where(masks[..., None], image, fill_image))``, computed without composing
        images on the host when the processor allows it.

        Args:
            masks: ``B×[F×]H×W`` bool, ``True`` = keep the pixel.
            fill_image: ``[F×]H×W×3`` uint8, what removed pixels become.
            text_keep: ``B×S`` bool, the prompt spans kept (see :meth:`bind_text`).
        """
        masks = self._check_batch(masks, "masks", self.media.shape[:-1], np.bool_)
        text_keep = self._check_text_keep(text_keep, len(masks))
        fill_image = np.asarray(fill_image)
        if fill_image.shape != self.media.shape or fill_image.dtype != np.uint8:
            raise ValueError(
                f"fill_image must be uint8 of shape {self.media.shape} (the prepared image's); got "
                f"{fill_image.dtype} {fill_image.shape}."
            )
        if self._layout is None:
            return self._score(
                len(masks),
                lambda a, b: self._visual_from_images(
                    np.where(masks[a:b, ..., None], self.media, fill_image)
                ),
                text_keep,
            )
        fill = self._processed_fill(fill_image)
        return self._score(
            len(masks), lambda a, b: self._visual_from_masks(masks[a:b], fill), text_keep
        )

    def model_inputs(self) -> dict[str, Any]:
        """The model's keyword inputs for the unmasked image (batch of one, on its device):
        the chat text with the answer teacher-forced, and the processed pixels. The logits at
        the last ``len(self.token_ids)`` positions score the recorded tokens. For methods that
        need one full forward pass with gradients or hidden states (:mod:`eagle_kit.baselines`).
        The tensors are the scorer's own: do not modify them in place.
        """
        return {**self._aux, **self._text, self.pixel_key: self._original}

    def __repr__(self) -> str:
        return (
            f"ModelScorer(model={self._owner.name!r}, tokens={self.tokens!r}, "
            f"composition={self.composition!r}, batch_size={self.batch_size})"
        )

    def _notice_geometry(self) -> None:
        """Say once (per image size) when the processor crops or resamples the image."""
        from ..images import NativeSizeWarning

        owner = self._owner
        shape = self.media.shape[-3:-1]
        parts: list[str] = []
        if self.seen is not None:
            rows = np.flatnonzero(self.seen.any(axis=1))
            cols = np.flatnonzero(self.seen.any(axis=0))
            self.metadata["seen_fraction"] = round(float(self.seen.mean()), 4)
            parts.append(
                f"centre-crops this {shape[0]}×{shape[1]} image: the model sees rows "
                f"{rows[0]}–{rows[-1]}, columns {cols[0]}–{cols[-1]} ({self.seen.mean():.0%} of "
                "the pixels; the rest is hatched on overlays)"
            )
        if self.composition == "processor" and not self.video:
            try:
                target = " to {}×{}".format(*owner.native_image(self.media).shape[:2])
            except ValueError:
                target = ""
            what = "resizes it" if parts else f"resizes this {shape[0]}×{shape[1]} image"
            parts.append(
                f"{what}{target}, so every batch of masked images goes through the processor "
                "(exact, but slower)"
            )
        if parts:
            warnings.warn(
                f"The processor of '{owner.name}' {' and '.join(parts)}. "
                "ek.native_image(model, image) gives the image the model sees (fast path).",
                NativeSizeWarning,
                stacklevel=4,
            )

    # ------------------------------------------------------------------ checks

    def _check_batch(self, arr: Any, name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        arr = np.asarray(arr)
        if arr.ndim != len(shape) + 1 or tuple(arr.shape[1:]) != tuple(shape):
            raise ValueError(
                f"{name} must have shape (B, {', '.join(map(str, shape))}) — the size of the image "
                f"given to prepare(); got {arr.shape}. The number of image tokens, hence the size, "
                "must stay constant: prepare again with the new image instead."
            )
        if arr.dtype != dtype:
            if dtype is np.bool_ and arr.dtype != np.bool_:
                raise TypeError(f"{name} must be a bool array (True = keep); got {arr.dtype}.")
            raise TypeError(f"{name} must be {np.dtype(dtype).name}; got {arr.dtype}.")
        return arr

    # ------------------------------------------------------------------ visual inputs

    def _count_visual_tokens(self) -> int:
        ids = [i for i in (self._owner.image_token_id, self._owner.video_token_id) if i is not None]
        if not ids:
            return 0
        import torch

        return int(
            torch.isin(
                self._text["input_ids"], torch.tensor(ids, device=self._text["input_ids"].device)
            ).sum()
        )

    def _process_one(self, raw: np.ndarray) -> Any:
        return self._owner._process_visual([raw], self.video, self.chat_text)[self.pixel_key]

    def _learn_layout(self) -> PixelLayout | None:
        import torch

        layout = PixelLayout.learn(self._process_one, self.media.shape)
        if layout is None:
            return None
        if layout.shape != tuple(self._single_pixels.shape):
            return None
        again = self._process_one(self.media)
        if not torch.equal(again, self._single_pixels):
            return None  # the processor alone differs from processor+text: stay exact
        return layout.to(self._owner.device)

    def _processed_fill(self, fill_image: np.ndarray) -> Any:
        key = fill_image.tobytes()
        if key != self._fill_key:
            self._fill = self._owner._to_device({"x": self._process_one(fill_image)})["x"]
            self._fill_key = key
        return self._fill

    def _visual_from_masks(self, masks: np.ndarray, fill: Any) -> Any:
        import torch

        keep = torch.from_numpy(np.ascontiguousarray(masks.reshape(len(masks), -1))).to(
            self._owner.device
        )
        return self._layout.compose(keep, self._original, fill)

    def _visual_from_images(self, images: np.ndarray) -> Any:
        owner = self._owner
        out = owner._process_visual(list(images), self.video, self.chat_text)[self.pixel_key]
        per = self._single_pixels.shape[0]
        if out.shape[0] != per * len(images) or tuple(out.shape[1:]) != tuple(
            self._single_pixels.shape[1:]
        ):
            import torch

            out = torch.cat([self._process_one(img) for img in images], dim=0)
        return owner._to_device({"x": out})["x"]

    # ------------------------------------------------------------------ prefix cache

    def _position_ids(self) -> Any:
        """3-D (multimodal RoPE) positions of the whole sequence, or ``None``."""
        owner = self._owner
        if not owner.family.mrope:
            return None
        inner = owner.model.model
        kwargs = {
            k: v
            for k, v in self._aux.items()
            if k in ("image_grid_thw", "video_grid_thw", "second_per_grid_ts")
        }
        inner.rope_deltas = None
        import torch

        with torch.inference_mode():
            positions = inner.compute_3d_position_ids(
                input_ids=self._text["input_ids"],
                inputs_embeds=None,
                attention_mask=self._text.get("attention_mask"),
                cache=None,
                mm_token_type_ids=self._text.get("mm_token_type_ids"),
                image_grid_thw=kwargs.get("image_grid_thw"),
                video_grid_thw=kwargs.get("video_grid_thw"),
                **(
                    {"second_per_grid_ts": kwargs["second_per_grid_ts"]}
                    if "second_per_grid_ts" in kwargs
                    else {}
                ),
            )
        inner.rope_deltas = None
        return positions

    def _build_prefix(self) -> dict[str, Any] | None:
        """Run the text before the first image token once and keep its key/value cache."""
        import torch

        owner = self._owner
        ids = self._text["input_ids"][0]
        visual = [i for i in (owner.image_token_id, owner.video_token_id) if i is not None]
        if not visual:
            return None
        hits = torch.nonzero(torch.isin(ids, torch.tensor(visual, device=ids.device))).flatten()
        if hits.numel() == 0:
            return None
        cut = int(hits[0])
        if self.text_features is not None:  # a prompt span can change: cache only before it
            cut = min(cut, self.text_features.first_position)
        if cut < 2:
            return None
        positions = self._position_ids()
        if owner.family.mrope and positions is None:
            return None
        kwargs: dict[str, Any] = {
            "input_ids": self._text["input_ids"][:, :cut],
            "use_cache": True,
        }
        if "attention_mask" in self._text:
            kwargs["attention_mask"] = self._text["attention_mask"][:, :cut]
        if positions is not None:
            kwargs["position_ids"] = positions[..., :cut]
        inner = getattr(owner.model, "model", None)
        lm = getattr(inner, "language_model", None) or getattr(inner, "text_model", None)
        if lm is None:
            return None
        try:
            with torch.inference_mode():
                out = lm(**kwargs)
        except Exception:  # noqa: BLE001 - a language model that cannot run text alone: no cache
            return None
        cache = getattr(out, "cache", None)  # named `past_key_values` before transformers 5.2x
        if cache is None or not hasattr(cache, "batch_repeat_interleave"):
            return None
        return {"cut": cut, "cache": cache, "positions": positions}

    def _plan_batch_size(self) -> None:
        """Measure the memory one more masked image costs and plan the batch size (GPU)."""
        import torch

        from .batching import plan_batch_size

        owner = self._owner
        device = owner.device
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        peaks = []
        for b in (1, 2):
            torch.cuda.reset_peak_memory_stats(device)
            pixels = torch.cat([self._original] * b, dim=0)
            self._forward(pixels, b)
            peaks.append(torch.cuda.max_memory_allocated(device) - base)
        free, _ = torch.cuda.mem_get_info(device)
        size = plan_batch_size(free, max(peaks[1] - peaks[0], 1))
        owner.batch_size = size
        owner.plan_batch_size = False
        self.batch_size = size

    # ------------------------------------------------------------------ scoring

    def _on_shrink(self, size: int) -> None:
        self._owner.batch_size = min(self._owner.batch_size, size)

    def _score(self, n: int, visual: Any, text_keep: np.ndarray | None = None) -> np.ndarray:
        if n == 0:
            return np.zeros((0, self._n_cols))
        parts = self._batcher.run(
            n,
            lambda a, b: self._forward(
                visual(a, b), b - a, None if text_keep is None else text_keep[a:b]
            ),
        )
        return np.concatenate(parts, axis=0)

    def _forward(self, pixels: Any, b: int, text_keep: np.ndarray | None = None) -> np.ndarray:
        import torch

        owner = self._owner
        kwargs: dict[str, Any] = {key: _repeat(value, b) for key, value in self._aux.items()}
        kwargs[self.pixel_key] = pixels
        text = {key: _repeat(value, b) for key, value in self._text.items()}
        if text_keep is not None and not text_keep.all():
            ids = text["input_ids"]
            replace = self.text_features.replace_mask(text_keep, ids.shape[1])
            text["input_ids"] = ids.masked_fill(
                torch.from_numpy(replace).to(ids.device), self.text_features.baseline_id
            )
        if self._prefix is not None:
            cut = self._prefix["cut"]
            cache = copy.deepcopy(self._prefix["cache"])
            cache.batch_repeat_interleave(b)
            kwargs["cache"] = cache
            kwargs["input_ids"] = text["input_ids"][:, cut:]
            for key, value in text.items():
                if key == "attention_mask":
                    kwargs[key] = value  # covers the cached prefix too
                elif key != "input_ids":
                    kwargs[key] = value[:, cut:]
            if self._prefix["positions"] is not None:
                pos = self._prefix["positions"][..., cut:]
                kwargs["position_ids"] = pos.expand(*pos.shape[:-2], b, pos.shape[-1])
        else:
            kwargs.update(text)
        if owner._keeps_logits:
            kwargs["logits_to_keep"] = self._n_cols
        kwargs["use_cache"] = self._prefix is not None
        with torch.inference_mode():
            logits = owner.model(**kwargs).logits[:, -self._n_cols :, :]
            logp = torch.log_softmax(logits.float(), dim=-1)
            probs = logp.gather(-1, self._ids.expand(b, -1, -1)).squeeze(-1).exp()
        return probs.double().cpu().numpy()
