"""Tiny random vision-language models of every supported family, built offline.

Each builder instantiates the family's architecture from its config classes with tiny sizes
and random weights, pairs it with a locally built word-level tokenizer (the family's special
tokens and a chat template in the family's format) and the family's own image/video
processors, and saves everything with ``save_pretrained`` so that
``eagle_kit.load_model(folder)`` loads it like a hub checkpoint. Nothing is downloaded.

Example:
    >>> from eagle_kit.testing.tiny_models import build_tiny_model
    >>> folder = build_tiny_model("llava", "/tmp/tiny-llava")  # doctest: +SKIP
    >>> model = eagle_kit.load_model(folder)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "TINY_FAMILIES",
    "VIDEO_FAMILIES",
    "WORDS",
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
        "yes no Yes No color shape You are helpful assistant. picture video frame"
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
    roles = {"bos_token": bos_token, "eos_token": eos_token, "pad_token": pad_token}
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token=unk_token,
        **{k: v for k, v in roles.items() if v is not None},
        additional_special_tokens=[t for t in special_tokens if t not in roles.values()],
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
            parts.append(("{% if" if i == 0 else "{% elif") + f" m.role == {role!r} %}}" + lit(text))
        return "".join(parts) + "{% endif %}"

    content = (
        "{% if m.content is string %}{{ m.content }}{% else %}{% for c in m.content %}"
        "{% if c.type == 'image' %}" + lit(image) + "{% elif c.type == 'video' %}" + lit(video)
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
    return {k: int(v) for k, v in ids.items() if v is not None}


def _tiny_text(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "max_position_embeddings": 512,
    }
    base.update(overrides)
    return base


def _finish(model: Any, processor: Any, tokenizer: Any, folder: Path, end_of_turn: str | None) -> Path:
    """Set generation ids, make end-of-turn rare but possible, and save both halves."""
    import torch

    ids = _text_ids(tokenizer)
    gen = model.generation_config
    stop = [ids["eos_token_id"]]
    if end_of_turn is not None and tokenizer.convert_tokens_to_ids(end_of_turn) not in stop:
        stop.insert(0, int(tokenizer.convert_tokens_to_ids(end_of_turn)))
    gen.eos_token_id = stop if len(stop) > 1 else stop[0]
    gen.pad_token_id = ids.get("pad_token_id")
    if "bos_token_id" in ids:
        gen.bos_token_id = ids["bos_token_id"]
    with torch.no_grad():
        # Random weights would often stop at once; damp the stop rows so answers have words.
        head = model.get_output_embeddings().weight
        for sid in stop:
            head[sid].mul_(0.1)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


# --------------------------------------------------------------------------- families


def _build_llava(folder: Path) -> Path:
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    template = chat_template(
        turn_start={"system": "", "user": "USER: ", "assistant": "ASSISTANT: "},
        turn_end={"system": " ", "user": " ", "assistant": "</s> "},
        image="<image>\n",
        video="",
        generation_prompt="ASSISTANT:",
    )
    tok = word_tokenizer(
        ["<unk>", "<s>", "</s>", "<pad>", "<image>", "USER:", "ASSISTANT:"],
        chat_template=template,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        extra_special_tokens={"image_token": "<image>"},
    )
    size = 32
    image_proc = CLIPImageProcessor(
        size={"shortest_edge": size}, crop_size={"height": size, "width": size}
    )
    processor = LlavaProcessor(
        image_processor=image_proc,
        tokenizer=tok,
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=template,
    )
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=size,
            patch_size=8,
            projection_dim=32,
        ),
        text_config=LlamaConfig(vocab_size=len(tok), **_tiny_text(), **_text_ids(tok)),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        image_seq_length=(size // 8) ** 2,
        vision_feature_layer=-1,
    )
    model = LlavaForConditionalGeneration(config)
    return _finish(model, processor, tok, folder, None)


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


def _qwen_processors(patch: int, merge: int) -> tuple[Any, Any]:
    from transformers import Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    factor = patch * merge
    common = {
        "patch_size": patch,
        "merge_size": merge,
        "temporal_patch_size": 2,
        "min_pixels": factor * factor,
        "max_pixels": 64 * factor * factor,
    }
    return Qwen2VLImageProcessor(**common), Qwen2VLVideoProcessor(**common)


def _qwen_ids(tok: Any) -> dict[str, int]:
    return {
        "image_token_id": tok.convert_tokens_to_ids("<|image_pad|>"),
        "video_token_id": tok.convert_tokens_to_ids("<|video_pad|>"),
        "vision_start_token_id": tok.convert_tokens_to_ids("<|vision_start|>"),
        "vision_end_token_id": tok.convert_tokens_to_ids("<|vision_end|>"),
    }


def _build_qwen2_vl(folder: Path) -> Path:
    from transformers import (
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLProcessor,
        Qwen2VLTextConfig,
        Qwen2VLVisionConfig,
    )

    template = _im_template(
        "<|vision_start|><|image_pad|><|vision_end|>",
        "<|vision_start|><|video_pad|><|vision_end|>",
        default_system="You are a helpful assistant.",
    )
    tok = _qwen_tokenizer(template)
    image_proc, video_proc = _qwen_processors(4, 2)
    processor = Qwen2VLProcessor(
        image_processor=image_proc, video_processor=video_proc, tokenizer=tok, chat_template=template
    )
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
            rope_parameters={"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 10000.0},
            **_tiny_text(),
            **_text_ids(tok),
        ),
        **_qwen_ids(tok),
    )
    model = Qwen2VLForConditionalGeneration(config)
    return _finish(model, processor, tok, folder, "<|im_end|>")


def _build_qwen2_5_vl(folder: Path) -> Path:
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2_5_VLTextConfig,
        Qwen2_5_VLVisionConfig,
    )

    template = _im_template(
        "<|vision_start|><|image_pad|><|vision_end|>",
        "<|vision_start|><|video_pad|><|vision_end|>",
        default_system="You are a helpful assistant.",
    )
    tok = _qwen_tokenizer(template)
    image_proc, video_proc = _qwen_processors(4, 2)
    processor = Qwen2_5_VLProcessor(
        image_processor=image_proc, video_processor=video_proc, tokenizer=tok, chat_template=template
    )
    config = Qwen2_5_VLConfig(
        vision_config=Qwen2_5_VLVisionConfig(
            depth=2,
            hidden_size=32,
            intermediate_size=64,
            num_heads=2,
            patch_size=4,
            spatial_merge_size=2,
            temporal_patch_size=2,
            window_size=16,
            out_hidden_size=32,
            fullatt_block_indexes=[1],
        ),
        text_config=Qwen2_5_VLTextConfig(
            vocab_size=len(tok),
            rope_parameters={"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 10000.0},
            **_tiny_text(),
            **_text_ids(tok),
        ),
        **_qwen_ids(tok),
    )
    model = Qwen2_5_VLForConditionalGeneration(config)
    return _finish(model, processor, tok, folder, "<|im_end|>")


_BUILDERS: dict[str, Callable[[Path], Path]] = {
    "llava": _build_llava,
    "qwen2_vl": _build_qwen2_vl,
    "qwen2_5_vl": _build_qwen2_5_vl,
}

#: Families a tiny model can be built for (the ``model_type`` of its config).
TINY_FAMILIES: tuple[str, ...] = tuple(_BUILDERS)

#: Families whose tiny model takes video frames.
VIDEO_FAMILIES: tuple[str, ...] = ("qwen2_vl", "qwen2_5_vl")

_NATIVE_SIZES: dict[str, tuple[int, int]] = {
    "llava": (32, 32),
    "qwen2_vl": (32, 32),
    "qwen2_5_vl": (32, 32),
}


def native_size(family: str) -> tuple[int, int]:
    """``(height, width)`` an image must have for the tiny model's processor not to resize it."""
    if family not in _NATIVE_SIZES:
        raise ValueError(f"Unknown tiny family '{family}'. Choose one of: {', '.join(TINY_FAMILIES)}.")
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
        raise ValueError(f"Unknown tiny family '{family}'. Choose one of: {', '.join(TINY_FAMILIES)}.")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return _BUILDERS[family](Path(folder))
