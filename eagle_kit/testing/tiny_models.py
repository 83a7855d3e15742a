"""Tiny random vision-language models of every supported family, built offline.

Each builder instantiates the family's architecture from its config classes with tiny sizes
and random weights, pairs it with a locally built word-level tokenizer (the family's special
tokens and a chat template in the family's format) and the family's own image/video
processors, and saves everything with ``save_pretrained`` so that
``eagle_kit.load_model(folder)`` loads it like a hub checkpoint. Nothing is downloaded.

:func:`build_model` builds the families of :data:`SIZED_FAMILIES` at any size (the tiny
models use it with tiny sizes, ``benchmarks/bench_gpu.py`` with the published ones) and
returns the model and its processor without saving.

Example:
    >>> from eagle_kit.testing.tiny_models import build_tiny_model
    >>> folder = build_tiny_model("llava", "tiny-llava")  # doctest: +SKIP
    >>> model = eagle_kit.load_model(folder)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "SIZED_FAMILIES",
    "TINY_FAMILIES",
    "VIDEO_FAMILIES",
    "WORDS",
    "build_model",
    "build_tiny_model",
    "native_size",
    "word_tokenizer",
    "chat_template",
]

#: Plain words of every tiny vocabulary (prompts and answers in tests use only these).
WORDS: tuple[str, ...] = tuple(
    (
        "describe the image . what is in it ? is there a an one two red green blue yellow "
        "circle square triangle cat dog car tree sky on left right top bottom of and with "
        "yes no Yes No color shape You are helpful picture video frame"
    ).split()
)


def word_tokenizer(
    special_tokens: list[str],
    *,
    chat_template: str,
    bos_token: str | None,
    eos_token: str,
    pad_token: str,
    unk_token: str,
    extra_special_tokens: dict[str, str] | None = None,
    words: tuple[str, ...] = WORDS,
) -> Any:
    """A whitespace word-level fast tokenizer whose special tokens are matched whole.

    Args:
        special_tokens: every marker of the family (chat markers, image tokens, ...); they
            get the first ids, in this order.
        chat_template: the Jinja chat template stored with the tokenizer.
        bos_token, eos_token, pad_token, unk_token: which of ``special_tokens`` play these roles.
        extra_special_tokens: named special tokens the family's processor reads from the
            tokenizer (e.g. ``{"image_token": "<image>"}``).
        words: the plain vocabulary.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab: dict[str, int] = {}
    for tok in [*special_tokens, *words]:
        vocab.setdefault(tok, len(vocab))
    backend = Tokenizer(models.WordLevel(vocab, unk_token=unk_token))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # joins words with spaces
    backend.add_special_tokens(list(special_tokens))  # markers are matched whole, never split
    roles = {"bos_token": bos_token, "eos_token": eos_token, "pad_token": pad_token}
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token=unk_token,
        **{k: v for k, v in roles.items() if v is not None},
        extra_special_tokens=extra_special_tokens or {},
        chat_template=chat_template,
    )
    return tokenizer


def chat_template(
    *,
    turn_start: dict[str, str],
    turn_end: dict[str, str],
    image: str,
    video: str,
    generation_prompt: str,
    prefix: str = "",
    default_system: str | None = None,
) -> str:
    """A Jinja chat template in a family's format.

    Args:
        turn_start: text that opens a turn, per role (``user``, ``assistant``, ``system``).
        turn_end: text that closes a turn, per role.
        image, video: what a ``{"type": "image"}`` / ``{"type": "video"}`` content item becomes.
        generation_prompt: appended when ``add_generation_prompt`` is true.
        prefix: text before the conversation (e.g. a BOS marker).
        default_system: a system turn inserted when the conversation has none.
    """

    def lit(text: str) -> str:
        return "{{ " + repr(text) + " }}"

    def by_role(table: dict[str, str]) -> str:
        parts = []
        for i, (role, text) in enumerate(table.items()):
            parts.append(
                ("{% if" if i == 0 else "{% elif") + f" m.role == {role!r} %}}" + lit(text)
            )
        return "".join(parts) + "{% endif %}"

    content = (
        "{% if m.content is string %}{{ m.content }}{% else %}{% for c in m.content %}"
        "{% if c.type == 'image' %}"
        + lit(image)
        + "{% elif c.type == 'video' %}"
        + lit(video)
        + "{% elif c.type == 'text' %}{{ c.text }}{% endif %}{% endfor %}{% endif %}"
    )
    system = ""
    if default_system is not None:
        system = (
            "{% if messages[0].role != 'system' %}"
            + lit(turn_start["system"] + default_system + turn_end["system"])
            + "{% endif %}"
        )
    return (
        lit(prefix)
        + system
        + "{% for m in messages %}"
        + by_role(turn_start)
        + content
        + by_role(turn_end)
        + "{% endfor %}{% if add_generation_prompt %}"
        + lit(generation_prompt)
        + "{% endif %}"
    )


def _im_template(image: str, video: str, *, default_system: str | None = None) -> str:
    """The ChatML format used by the Qwen, InternVL and OneVision families."""
    roles = ("system", "user", "assistant")
    return chat_template(
        turn_start={r: f"<|im_start|>{r}\n" for r in roles},
        turn_end={r: "<|im_end|>\n" for r in roles},
        image=image,
        video=video,
        generation_prompt="<|im_start|>assistant\n",
        default_system=default_system,
    )


def _text_ids(tokenizer: Any) -> dict[str, int]:
    ids = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    return {k: None if v is None else int(v) for k, v in ids.items()}


_TINY_LAYERS: dict[str, int] = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
}


def _tiny_text(**overrides: Any) -> dict[str, Any]:
    """A tiny text model in the Llama/Qwen2 naming."""
    return {**_TINY_LAYERS, "num_key_value_heads": 2, "max_position_embeddings": 512, **overrides}


def _tiny_vision(**overrides: Any) -> dict[str, Any]:
    """A tiny ViT tower in the CLIP/SigLIP naming (32×32 images, 8×8 patches)."""
    return {**_TINY_LAYERS, "image_size": 32, "patch_size": 8, **overrides}


def _tiny_mrope(**overrides: Any) -> dict[str, Any]:
    """M-RoPE of a tiny Qwen text model (head size 16: sections 2 + 3 + 3 pairs)."""
    return {"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 10000.0, **overrides}


def _tiny_pixels(patch: int, merge: int) -> dict[str, int]:
    """Pixel bounds of a tiny Qwen image processor: one merged token up to 64 of them."""
    factor = patch * merge
    return {"min_pixels": factor * factor, "max_pixels": 64 * factor * factor}


def _finish(
    model: Any, processor: Any, tokenizer: Any, folder: Path, end_of_turn: str | None
) -> Path:
    """Set generation ids, make end-of-turn rare but possible, and save both halves."""
    import torch

    ids = _text_ids(tokenizer)
    gen = model.generation_config
    stop = [ids["eos_token_id"]]
    if end_of_turn is not None and tokenizer.convert_tokens_to_ids(end_of_turn) not in stop:
        stop.insert(0, int(tokenizer.convert_tokens_to_ids(end_of_turn)))
    gen.eos_token_id = stop if len(stop) > 1 else stop[0]
    gen.pad_token_id = ids["pad_token_id"]
    gen.bos_token_id = ids["bos_token_id"]
    # A random model would emit chat markers and image placeholders; real models never do.
    gen.suppress_tokens = sorted(
        int(i) for i, t in tokenizer.added_tokens_decoder.items() if t.special and i not in stop
    )
    with torch.no_grad():
        # Random weights would often stop at once; damp the stop rows so answers have words.
        head = model.get_output_embeddings().weight
        for sid in stop:
            head[sid].mul_(0.1)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


# --------------------------------------------------------------------------- any size


def _llama_chat(
    *, user: tuple[str, str], assistant: str, generation_prompt: str
) -> tuple[str, Any]:
    """Chat template and tokenizer of the Llama-based LLaVA families.

    Args:
        user: the text that opens and the text that closes a user turn; their words
            (e.g. ``USER:``, ``[INST]``) become special tokens.
        assistant: the text that opens an assistant turn (closed by ``</s>``).
        generation_prompt: appended when ``add_generation_prompt`` is true.
    """
    template = chat_template(
        turn_start={"system": "", "user": user[0], "assistant": assistant},
        turn_end={"system": " ", "user": user[1], "assistant": "</s> "},
        image="<image>\n",
        video="",
        generation_prompt=generation_prompt,
    )
    markers = [m for m in (*user, assistant) if m.strip()]
    tok = word_tokenizer(
        ["<unk>", "<s>", "</s>", "<pad>", "<image>", *dict.fromkeys(m.strip() for m in markers)],
        chat_template=template,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        extra_special_tokens={"image_token": "<image>"},
    )
    return template, tok


def _llava_parts(
    text: Mapping[str, Any],
    vision: Mapping[str, Any],
    config: Mapping[str, Any],
    image_processor: Mapping[str, Any],
) -> tuple[Any, Any, Any]:
    """LLaVA-1.5: a CLIP tower, a two-layer projector and a Llama text model."""
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    template, tok = _llama_chat(
        user=("USER: ", " "), assistant="ASSISTANT: ", generation_prompt="ASSISTANT:"
    )
    vision_config = CLIPVisionConfig(**vision)
    size, patch = vision_config.image_size, vision_config.patch_size
    strategy = config.get("vision_feature_select_strategy", "default")
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(
            size={"shortest_edge": size},
            crop_size={"height": size, "width": size},
            **image_processor,
        ),
        tokenizer=tok,
        patch_size=patch,
        vision_feature_select_strategy=strategy,
        num_additional_image_tokens=1,  # the CLS token
        chat_template=template,
    )
    model_config = LlavaConfig(
        vision_config=vision_config,
        text_config=LlamaConfig(**{"vocab_size": len(tok), **text}, **_text_ids(tok)),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        image_seq_length=(size // patch) ** 2,
        **config,
    )
    return LlavaForConditionalGeneration, model_config, processor


def _qwen_tokenizer(template: str) -> Any:
    return word_tokenizer(
        [
            "<|endoftext|>",
            "<|im_start|>",
            "<|im_end|>",
            "<|vision_start|>",
            "<|vision_end|>",
            "<|image_pad|>",
            "<|video_pad|>",
            "<unk>",
            "system",
            "user",
            "assistant",
        ],
        chat_template=template,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<unk>",
        extra_special_tokens={
            "image_token": "<|image_pad|>",
            "video_token": "<|video_pad|>",
            "vision_bos_token": "<|vision_start|>",
            "vision_eos_token": "<|vision_end|>",
        },
    )


def _qwen_processors(patch: int, merge: int, **options: Any) -> tuple[Any, Any]:
    from transformers import Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    common = {"patch_size": patch, "merge_size": merge, "temporal_patch_size": 2, **options}
    return Qwen2VLImageProcessor(**common), Qwen2VLVideoProcessor(**common)


def _qwen_ids(tok: Any) -> dict[str, int]:
    return {
        "image_token_id": tok.convert_tokens_to_ids("<|image_pad|>"),
        "video_token_id": tok.convert_tokens_to_ids("<|video_pad|>"),
        "vision_start_token_id": tok.convert_tokens_to_ids("<|vision_start|>"),
        "vision_end_token_id": tok.convert_tokens_to_ids("<|vision_end|>"),
    }


def _qwen_chat(processor_class: Any, patch: int, merge: int, **pixels: Any) -> tuple[Any, Any]:
    """Tokenizer and processor of Qwen2-VL and Qwen2.5-VL (ChatML, default system turn)."""
    template = _im_template(
        "<|vision_start|><|image_pad|><|vision_end|>",
        "<|vision_start|><|video_pad|><|vision_end|>",
        default_system="You are a helpful assistant.",
    )
    tok = _qwen_tokenizer(template)
    image_proc, video_proc = _qwen_processors(patch, merge, **pixels)
    processor = processor_class(
        image_processor=image_proc,
        video_processor=video_proc,
        tokenizer=tok,
        chat_template=template,
    )
    return tok, processor


def _qwen2_5_vl_parts(
    text: Mapping[str, Any],
    vision: Mapping[str, Any],
    config: Mapping[str, Any],
    image_processor: Mapping[str, Any],
) -> tuple[Any, Any, Any]:
    """Qwen2.5-VL: a windowed ViT with 2×2 patch merging and a Qwen2 text model (M-RoPE)."""
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2_5_VLTextConfig,
        Qwen2_5_VLVisionConfig,
    )

    if "out_hidden_size" not in vision and "hidden_size" not in text:
        raise ValueError(
            "qwen2_5_vl: the vision tower's output must match the text model's width; pass "
            "text={'hidden_size': ...} (or vision={'out_hidden_size': ...})."
        )
    vision_config = Qwen2_5_VLVisionConfig(**{"out_hidden_size": text.get("hidden_size"), **vision})
    tok, processor = _qwen_chat(
        Qwen2_5_VLProcessor,
        vision_config.patch_size,
        vision_config.spatial_merge_size,
        **{"temporal_patch_size": vision_config.temporal_patch_size, **image_processor},
    )
    model_config = Qwen2_5_VLConfig(
        vision_config=vision_config,
        text_config=Qwen2_5_VLTextConfig(**{"vocab_size": len(tok), **text}, **_text_ids(tok)),
        **_qwen_ids(tok),
        **config,
    )
    return Qwen2_5_VLForConditionalGeneration, model_config, processor


_SIZED_PARTS: dict[str, Callable[..., tuple[Any, Any, Any]]] = {
    "llava": _llava_parts,
    "qwen2_5_vl": _qwen2_5_vl_parts,
}

#: Families :func:`build_model` builds at any size (the ``model_type`` of their config).
SIZED_FAMILIES: tuple[str, ...] = tuple(_SIZED_PARTS)


def build_model(
    family: str,
    *,
    text: Mapping[str, Any],
    vision: Mapping[str, Any],
    config: Mapping[str, Any] | None = None,
    image_processor: Mapping[str, Any] | None = None,
    dtype: Any = None,
    device: Any = None,
    seed: int | None = None,
) -> tuple[Any, Any]:
    """Build a random model of ``family`` at the given size, and its processor.

    The tokenizer is a word-level one with the family's special tokens and chat format
    (see :func:`word_tokenizer`); the image processor's geometry follows the vision config.
    Nothing is downloaded and nothing is saved.

    Args:
        family: one of :data:`SIZED_FAMILIES`.
        text: keyword arguments of the family's text config (``LlamaConfig`` for ``llava``,
            ``Qwen2_5_VLTextConfig`` for ``qwen2_5_vl``): ``hidden_size``,
            ``num_hidden_layers``, ``num_attention_heads``, ... ``vocab_size`` defaults to
            the word tokenizer's size; the special token ids always come from it.
        vision: keyword arguments of the family's vision config (``CLIPVisionConfig``:
            ``image_size`` and ``patch_size`` set the processor's crop and token count;
            ``Qwen2_5_VLVisionConfig``: ``patch_size`` and ``spatial_merge_size`` set the
            processor's, ``out_hidden_size`` defaults to ``text["hidden_size"]``).
        config: further keyword arguments of the top-level config (e.g.
            ``{"vision_feature_layer": -2}``).
        image_processor: further keyword arguments of the image processor (e.g. the Qwen
            pixel bounds ``{"min_pixels": ..., "max_pixels": ...}``).
        dtype: the ``torch.dtype`` of the weights; ``None`` keeps torch's default dtype.
        device: where the weights are created (e.g. ``"cuda"``, ``"meta"`` to count
            parameters without memory); ``None`` keeps torch's default device.
        seed: torch seed for the random weights (the global RNG is left untouched);
            ``None`` draws from the current RNG state.

    Returns:
        ``(model, processor)``: the ``...ForConditionalGeneration`` model (training mode, as
        built) and the family's processor, whose ``tokenizer`` is the word tokenizer.

    Raises:
        ValueError: ``family`` is not in :data:`SIZED_FAMILIES`, or the sizes do not fit
            together.
        TypeError: ``text``/``vision``/``config``/``image_processor`` is not a mapping, or
            ``dtype`` is not a ``torch.dtype``.

    Example:
        >>> import torch
        >>> from eagle_kit.testing.tiny_models import build_model
        >>> model, processor = build_model(  # doctest: +SKIP
        ...     "llava",
        ...     text={"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32},
        ...     vision={"image_size": 336, "patch_size": 14},
        ...     device="meta",
        ... )
    """
    import torch

    if family not in _SIZED_PARTS:
        raise ValueError(
            f"Unknown sized family '{family}'. Choose one of: {', '.join(SIZED_FAMILIES)} "
            "(build_tiny_model builds every family in TINY_FAMILIES at a tiny size)."
        )
    parts = {"text": text, "vision": vision, "config": config, "image_processor": image_processor}
    for name, value in parts.items():
        if value is not None and not isinstance(value, Mapping):
            raise TypeError(
                f"{name} must be a mapping of config keyword arguments, e.g. "
                f"{{'hidden_size': 64}}; got {type(value).__name__}."
            )
    if dtype is not None and not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype such as torch.bfloat16; got {dtype!r}.")
    model_class, model_config, processor = _SIZED_PARTS[family](
        dict(text), dict(vision), dict(config or {}), dict(image_processor or {})
    )
    placed = torch.device(device) if device is not None else contextlib.nullcontext()
    seeded: Any = contextlib.nullcontext()
    if seed is not None:  # fork the RNG of the CPU and of the GPU the weights go to
        gpus = []
        if isinstance(placed, torch.device) and placed.type == "cuda":
            gpus = [placed.index if placed.index is not None else torch.cuda.current_device()]
        seeded = torch.random.fork_rng(devices=gpus)
    previous = torch.get_default_dtype()
    with seeded:
        if seed is not None:
            torch.manual_seed(seed)
        if dtype is not None:
            torch.set_default_dtype(dtype)
        try:
            with placed:
                model = model_class(model_config)
        finally:
            torch.set_default_dtype(previous)
    return model, processor


# --------------------------------------------------------------------------- families


def _build_llava(folder: Path) -> Path:
    model, processor = build_model(
        "llava",
        text=_tiny_text(),
        vision=_tiny_vision(projection_dim=32),
        config={"vision_feature_layer": -1},
    )
    return _finish(model, processor, processor.tokenizer, folder, None)


def _build_qwen2_vl(folder: Path) -> Path:
    from transformers import (
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLProcessor,
        Qwen2VLTextConfig,
        Qwen2VLVisionConfig,
    )

    tok, processor = _qwen_chat(Qwen2VLProcessor, 4, 2, **_tiny_pixels(4, 2))
    config = Qwen2VLConfig(
        vision_config=Qwen2VLVisionConfig(
            depth=2,
            embed_dim=32,
            hidden_size=32,
            mlp_ratio=2,
            num_heads=2,
            patch_size=4,
            spatial_merge_size=2,
            temporal_patch_size=2,
        ),
        text_config=Qwen2VLTextConfig(
            vocab_size=len(tok),
            rope_parameters=_tiny_mrope(),
            **_tiny_text(),
            **_text_ids(tok),
        ),
        **_qwen_ids(tok),
    )
    model = Qwen2VLForConditionalGeneration(config)
    return _finish(model, processor, tok, folder, "<|im_end|>")


def _build_qwen2_5_vl(folder: Path) -> Path:
    model, processor = build_model(
        "qwen2_5_vl",
        text=_tiny_text(rope_parameters=_tiny_mrope()),
        vision={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "patch_size": 4,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 16,
            "fullatt_block_indexes": [1],
        },
        image_processor=_tiny_pixels(4, 2),
    )
    return _finish(model, processor, processor.tokenizer, folder, "<|im_end|>")


def _build_llava_next(folder: Path) -> Path:
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlavaNextConfig,
        LlavaNextForConditionalGeneration,
        LlavaNextImageProcessor,
        LlavaNextProcessor,
    )

    template, tok = _llama_chat(user=("[INST] ", " [/INST]"), assistant="", generation_prompt="")
    size = 32
    pinpoints = [[size, size], [size, 2 * size], [2 * size, size]]
    image_proc = LlavaNextImageProcessor(
        size={"shortest_edge": size},
        crop_size={"height": size, "width": size},
        image_grid_pinpoints=pinpoints,
    )
    processor = LlavaNextProcessor(
        image_processor=image_proc,
        tokenizer=tok,
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=template,
    )
    config = LlavaNextConfig(
        vision_config=CLIPVisionConfig(**_tiny_vision(projection_dim=32)),
        text_config=LlamaConfig(vocab_size=len(tok), **_tiny_text(), **_text_ids(tok)),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        image_grid_pinpoints=pinpoints,
        vision_feature_layer=-1,
    )
    model = LlavaNextForConditionalGeneration(config)
    return _finish(model, processor, tok, folder, None)


def _build_llava_onevision(folder: Path) -> Path:
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessor,
        LlavaOnevisionProcessor,
        LlavaOnevisionVideoProcessor,
        Qwen2Config,
        SiglipVisionConfig,
    )

    template = _im_template("<image>\n", "<video>\n")
    tok = word_tokenizer(
        [
            "<|endoftext|>",
            "<|im_start|>",
            "<|im_end|>",
            "<image>",
            "<video>",
            "<unk>",
            "system",
            "user",
            "assistant",
        ],
        chat_template=template,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<unk>",
        extra_special_tokens={"image_token": "<image>", "video_token": "<video>"},
    )
    size = 32
    pinpoints = [[size, size], [size, 2 * size], [2 * size, size]]
    image_proc = LlavaOnevisionImageProcessor(
        size={"height": size, "width": size}, image_grid_pinpoints=pinpoints
    )
    video_proc = LlavaOnevisionVideoProcessor(size={"height": size, "width": size})
    processor = LlavaOnevisionProcessor(
        image_processor=image_proc,
        video_processor=video_proc,
        tokenizer=tok,
        num_image_tokens=(size // 8) ** 2,
        vision_feature_select_strategy="full",
        vision_aspect_ratio="anyres_max_9",
        chat_template=template,
    )
    config = LlavaOnevisionConfig(
        vision_config=SiglipVisionConfig(**_tiny_vision(vision_use_head=False)),
        text_config=Qwen2Config(vocab_size=len(tok), **_tiny_text(), **_text_ids(tok)),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        video_token_index=tok.convert_tokens_to_ids("<video>"),
        image_grid_pinpoints=pinpoints,
        vision_feature_layer=-1,
    )
    model = LlavaOnevisionForConditionalGeneration(config)
    return _finish(model, processor, tok, folder, "<|im_end|>")


def _build_qwen3_vl(folder: Path) -> Path:
    from transformers import (
        Qwen3VLConfig,
        Qwen3VLForConditionalGeneration,
        Qwen3VLProcessor,
        Qwen3VLTextConfig,
        Qwen3VLVideoProcessor,
        Qwen3VLVisionConfig,
    )

    template = _im_template(
        "<|vision_start|><|image_pad|><|vision_end|>", "<|vision_start|><|video_pad|><|vision_end|>"
    )
    tok = _qwen_tokenizer(template)
    image_proc, _ = _qwen_processors(4, 2, **_tiny_pixels(4, 2))
    factor = 8
    video_proc = Qwen3VLVideoProcessor(
        patch_size=4,
        merge_size=2,
        temporal_patch_size=2,
        size={"shortest_edge": factor * factor, "longest_edge": 64 * factor * factor * 8},
    )
    processor = Qwen3VLProcessor(
        image_processor=image_proc,
        video_processor=video_proc,
        tokenizer=tok,
        chat_template=template,
    )
    config = Qwen3VLConfig(
        vision_config=Qwen3VLVisionConfig(
            depth=2,
            hidden_size=32,
            intermediate_size=64,
            num_heads=2,
            patch_size=4,
            spatial_merge_size=2,
            temporal_patch_size=2,
            out_hidden_size=32,
            num_position_embeddings=64,
            deepstack_visual_indexes=[0],
        ),
        text_config=Qwen3VLTextConfig(
            vocab_size=len(tok),
            head_dim=16,
            rope_parameters=_tiny_mrope(mrope_interleaved=True),
            **_tiny_text(),
            **{k: v for k, v in _text_ids(tok).items() if k == "pad_token_id"},
        ),
        **_qwen_ids(tok),
    )
    model = Qwen3VLForConditionalGeneration(config)
    return _finish(model, processor, tok, folder, "<|im_end|>")


def _build_internvl(folder: Path) -> Path:
    from transformers import (
        GotOcr2ImageProcessor,
        InternVLConfig,
        InternVLForConditionalGeneration,
        InternVLProcessor,
        InternVLVideoProcessor,
        InternVLVisionConfig,
        Qwen2Config,
    )

    template = _im_template("<IMG_CONTEXT>\n", "<video>\n")
    tok = word_tokenizer(
        [
            "<|endoftext|>",
            "<|im_start|>",
            "<|im_end|>",
            "<img>",
            "</img>",
            "<IMG_CONTEXT>",
            "<video>",
            "<unk>",
            "system",
            "user",
            "assistant",
            "Frame1:",
            "Frame2:",
            "Frame3:",
            "Frame4:",
        ],
        chat_template=template,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<unk>",
        extra_special_tokens={
            "start_image_token": "<img>",
            "end_image_token": "</img>",
            "context_image_token": "<IMG_CONTEXT>",
            "video_token": "<video>",
        },
    )
    size = 32
    image_proc = GotOcr2ImageProcessor(
        size={"height": size, "width": size}, crop_to_patches=True, max_patches=4
    )
    video_proc = InternVLVideoProcessor(size={"height": size, "width": size})
    processor = InternVLProcessor(
        image_processor=image_proc,
        video_processor=video_proc,
        tokenizer=tok,
        image_seq_length=(size // 8) ** 2 // 4,
        chat_template=template,
    )
    config = InternVLConfig(
        vision_config=InternVLVisionConfig(
            **_tiny_vision(image_size=[size, size], patch_size=[8, 8])
        ),
        text_config=Qwen2Config(vocab_size=len(tok), **_tiny_text(), **_text_ids(tok)),
        image_token_id=tok.convert_tokens_to_ids("<IMG_CONTEXT>"),
        image_seq_length=(size // 8) ** 2 // 4,
    )
    model = InternVLForConditionalGeneration(config)
    return _finish(model, processor, tok, folder, "<|im_end|>")


def _idefics_tokenizer(template: str) -> Any:
    rows = [f"<row_{i + 1}_col_{j + 1}>" for i in range(6) for j in range(6)]
    return word_tokenizer(
        [
            "<|endoftext|>",
            "<|im_start|>",
            "<end_of_utterance>",
            "<fake_token_around_image>",
            "<image>",
            "<global-img>",
            "<unk>",
            "User:",
            "Assistant:",
            "System:",
            *rows,
        ],
        chat_template=template,
        bos_token="<|im_start|>",
        eos_token="<end_of_utterance>",
        pad_token="<|endoftext|>",
        unk_token="<unk>",
        extra_special_tokens={
            "image_token": "<image>",
            "fake_image_token": "<fake_token_around_image>",
            "global_image_token": "<global-img>",
            "end_of_utterance_token": "<end_of_utterance>",
        },
    )


def _idefics_template() -> str:
    return chat_template(
        turn_start={"system": "System: ", "user": "User:", "assistant": "Assistant: "},
        turn_end={r: "<end_of_utterance>\n" for r in ("system", "user", "assistant")},
        image="<image>",
        video="<video>",
        generation_prompt="Assistant:",
        prefix="<|im_start|>",
    )


def _build_idefics_family(folder: Path, smolvlm: bool) -> Path:
    """Idefics3 and SmolVLM share their architecture; SmolVLM adds a video processor."""
    import transformers
    from transformers import LlamaConfig

    prefix = "SmolVLM" if smolvlm else "Idefics3"

    def cls(suffix: str) -> Any:
        return getattr(transformers, prefix + suffix)

    template = _idefics_template()
    tok = _idefics_tokenizer(template)
    size = 32
    edge = {"longest_edge": size}
    extra = {}
    if smolvlm:
        extra["video_processor"] = cls("VideoProcessor")(size=edge, max_image_size=edge)
    processor = cls("Processor")(
        image_processor=cls("ImageProcessor")(
            size=edge, max_image_size=edge, do_image_splitting=False
        ),
        tokenizer=tok,
        image_seq_len=(size // 8) ** 2 // 4,
        chat_template=template,
        **extra,
    )
    config = cls("Config")(
        vision_config=cls("VisionConfig")(**_tiny_vision()),
        text_config=LlamaConfig(vocab_size=len(tok), **_tiny_text(), **_text_ids(tok)),
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        scale_factor=2,
    )
    model = cls("ForConditionalGeneration")(config)
    return _finish(model, processor, tok, folder, "<end_of_utterance>")


def _build_idefics3(folder: Path) -> Path:
    return _build_idefics_family(folder, smolvlm=False)


def _build_smolvlm(folder: Path) -> Path:
    return _build_idefics_family(folder, smolvlm=True)


def _build_gemma3(folder: Path) -> Path:
    import torch
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3ImageProcessor,
        Gemma3Processor,
        Gemma3TextConfig,
        SiglipVisionConfig,
    )

    roles = ("system", "user", "assistant")
    template = chat_template(
        turn_start={
            "system": "<start_of_turn>user\n",
            "user": "<start_of_turn>user\n",
            "assistant": "<start_of_turn>model\n",
        },
        turn_end={r: "<end_of_turn>\n" for r in roles},
        image="<start_of_image>",
        video="",
        generation_prompt="<start_of_turn>model\n",
        prefix="<bos>",
    )
    tok = word_tokenizer(
        [
            "<pad>",
            "<eos>",
            "<bos>",
            "<unk>",
            "<start_of_turn>",
            "<end_of_turn>",
            "<start_of_image>",
            "<end_of_image>",
            "<image_soft_token>",
            "user",
            "model",
        ],
        chat_template=template,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
        extra_special_tokens={
            "boi_token": "<start_of_image>",
            "eoi_token": "<end_of_image>",
            "image_token": "<image_soft_token>",
        },
    )
    size = 32
    image_proc = Gemma3ImageProcessor(size={"height": size, "width": size})
    tokens_per_image = 4
    processor = Gemma3Processor(
        image_processor=image_proc,
        tokenizer=tok,
        image_seq_length=tokens_per_image,
        chat_template=template,
    )
    text = _tiny_text(num_key_value_heads=1)
    config = Gemma3Config(
        vision_config=SiglipVisionConfig(**_tiny_vision(vision_use_head=False)),
        text_config=Gemma3TextConfig(
            vocab_size=len(tok),
            head_dim=16,
            query_pre_attn_scalar=16,
            sliding_window=64,
            **text,
            **_text_ids(tok),
        ),
        mm_tokens_per_image=tokens_per_image,
        boi_token_index=tok.convert_tokens_to_ids("<start_of_image>"),
        eoi_token_index=tok.convert_tokens_to_ids("<end_of_image>"),
        image_token_index=tok.convert_tokens_to_ids("<image_soft_token>"),
    )
    model = Gemma3ForConditionalGeneration(config)
    with torch.no_grad():  # initialised to zeros, which would hide the image from the text
        model.model.multi_modal_projector.mm_input_projection_weight.normal_(0.0, 0.5)
    return _finish(model, processor, tok, folder, "<end_of_turn>")


_BUILDERS: dict[str, Callable[[Path], Path]] = {
    "llava": _build_llava,
    "llava_next": _build_llava_next,
    "llava_onevision": _build_llava_onevision,
    "qwen2_vl": _build_qwen2_vl,
    "qwen2_5_vl": _build_qwen2_5_vl,
    "qwen3_vl": _build_qwen3_vl,
    "internvl": _build_internvl,
    "idefics3": _build_idefics3,
    "smolvlm": _build_smolvlm,
    "gemma3": _build_gemma3,
}

#: Families a tiny model can be built for (the ``model_type`` of its config).
TINY_FAMILIES: tuple[str, ...] = tuple(_BUILDERS)

#: Families whose tiny model takes video frames.
VIDEO_FAMILIES: tuple[str, ...] = (
    "qwen2_vl",
    "qwen2_5_vl",
    "qwen3_vl",
    "llava_onevision",
    "internvl",
    "smolvlm",
)

_NATIVE_SIZES: dict[str, tuple[int, int]] = {family: (32, 32) for family in _BUILDERS}


def native_size(family: str) -> tuple[int, int]:
    """``(height, width)`` an image must have for the tiny model's processor not to resize it."""
    if family not in _NATIVE_SIZES:
        raise ValueError(
            f"Unknown tiny family '{family}'. Choose one of: {', '.join(TINY_FAMILIES)}."
        )
    return _NATIVE_SIZES[family]


def build_tiny_model(family: str, folder: str | os.PathLike, *, seed: int = 0) -> Path:
    """Build a tiny random model of ``family`` and save model + processor into ``folder``.

    Args:
        family: a ``model_type`` from :data:`TINY_FAMILIES`, e.g. ``"llava"`` or ``"qwen2_5_vl"``.
        folder: where to save (created if missing).
        seed: torch seed for the random weights (the same seed gives the same weights).

    Returns:
        The folder, ready for ``eagle_kit.load_model(folder)``.
    """
    import torch

    if family not in _BUILDERS:
        raise ValueError(
            f"Unknown tiny family '{family}'. Choose one of: {', '.join(TINY_FAMILIES)}."
        )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return _BUILDERS[family](Path(folder))
