"""Builders of the embedded model: word-level tokenizer, LLaVA processor and tiny LLaVA.

Everything here is standard transformers: a ``PreTrainedTokenizerFast`` over a
``tokenizers`` word-level model, a ``LlavaProcessor`` with a CLIP image processor, and a
``LlavaForConditionalGeneration`` (CLIP vision tower + Llama decoder). A folder saved with
:func:`save_pretrained_folder` loads with plain ``AutoProcessor.from_pretrained`` and
``AutoModelForImageTextToText.from_pretrained``.

The chat template renders the standard message
``[{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]``
with ``add_generation_prompt=True`` as ``"<s><user> <image> {prompt} <assistant> "``; an
assistant turn ends with ``<end>``, the end-of-sequence token.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import (
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )

from .world import (
    CAPTION_PROMPT,
    COLOURS,
    IMAGE_SIZE,
    PAIRS,
    QUESTION_TEMPLATE,
    SHAPES,
    caption_for,
)

__all__ = [
    "SPECIAL_TOKENS",
    "SPARE_WORDS",
    "CHAT_TEMPLATE",
    "PIXEL_MEAN",
    "PIXEL_STD",
    "ModelSize",
    "vocabulary",
    "build_tokenizer",
    "build_processor",
    "build_model",
    "messages_for",
    "save_pretrained_folder",
    "EMBEDDED_MODEL_DIR",
]

EMBEDDED_MODEL_DIR: Path = Path(__file__).resolve().parent / "shapes-vlm"
"""Where the trained embedded model ships: package data of ``eagle_kit.shapes``, so that a
plain ``pip install`` carries it (the repository's ``data/shapes-vlm`` links here).
``eagle_kit.load_model("shapes")`` reads it unless ``$EAGLE_KIT_SHAPES_MODEL`` points elsewhere;
``python -m eagle_kit.shapes.train`` writes it."""

PAD, UNK, BOS, EOS, IMAGE, USER, ASSISTANT = (
    "<pad>",
    "<unk>",
    "<s>",
    "<end>",
    "<image>",
    "<user>",
    "<assistant>",
)
SPECIAL_TOKENS: tuple[str, ...] = (PAD, UNK, BOS, EOS, IMAGE, USER, ASSISTANT)
"""Special tokens, matched whole by the tokenizer (ids 0..6 in this order)."""

SPARE_WORDS: tuple[str, ...] = (
    "what", "which", "where", "how", "many", "is", "are", "in", "on", "of", "this", "that",
    "image", "photo", "picture", "object", "objects", "shape", "shapes", "colour", "color",
    "see", "you", "do", "can", "left", "right", "top", "bottom", "middle", "one", "two",
    "three", "none", "black", "grey", "background", "it", "an", "with", "any", "not",
)  # fmt: skip
"""Words the model never trained on, present so that other prompts avoid ``<unk>``."""

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}<user> "
    "{% elif message['role'] == 'assistant' %}<assistant> "
    "{% endif %}"
    "{% if message['content'] is string %}{{ message['content'] }} "
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<image> "
    "{% elif item['type'] == 'text' %}{{ item['text'] }} {% endif %}"
    "{% endfor %}{% endif %}"
    "{% if message['role'] == 'assistant' %}<end> {% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<assistant> {% endif %}"
)
"""Jinja chat template shared by the tokenizer and the processor."""

PIXEL_MEAN = (123.0, 117.0, 104.0)
PIXEL_STD = (64.0, 64.0, 64.0)
PATCH_SIZE = 16
NUM_IMAGE_TOKENS = (IMAGE_SIZE // PATCH_SIZE) ** 2


@dataclass(frozen=True)
class ModelSize:
    """Sizes of the tiny LLaVA (defaults: the shipped model, ~1 M parameters)."""

    vision_hidden: int = 128
    vision_layers: int = 3
    vision_heads: int = 4
    vision_intermediate: int = 512
    text_hidden: int = 128
    text_layers: int = 2
    text_heads: int = 4
    text_intermediate: int = 384

    def to_dict(self) -> dict[str, int]:
        """Plain dict, for model cards and logs."""
        return asdict(self)


def vocabulary() -> list[str]:
    """The word list: special tokens first, then every word of the prompts and answers,
    then :data:`SPARE_WORDS` (no duplicates, fixed order)."""
    words: list[str] = list(SPECIAL_TOKENS)
    texts = [CAPTION_PROMPT, caption_for(PAIRS[:3]), "yes no"]
    texts += [QUESTION_TEMPLATE.format(colour=c, shape=s) for c, s in PAIRS]
    texts += [" ".join(COLOURS), " ".join(SHAPES), " ".join(SPARE_WORDS)]
    for text in texts:
        for w in text.split():
            if w not in words:
                words.append(w)
    return words


def build_tokenizer() -> PreTrainedTokenizerFast:
    """Word-level tokenizer wrapped as ``PreTrainedTokenizerFast`` with the chat template.

    Example:
        >>> tok = build_tokenizer()
        >>> tok.decode(tok("the picture shows")["input_ids"])
        'the picture shows'
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(vocabulary())}
    core = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        pad_token=PAD,
        additional_special_tokens=[USER, ASSISTANT],
        extra_special_tokens={"image_token": IMAGE},
        chat_template=CHAT_TEMPLATE,
        padding_side="left",
        model_max_length=128,
        clean_up_tokenization_spaces=False,
    )
    return tok


def build_processor(tokenizer: PreTrainedTokenizerFast | None = None) -> LlavaProcessor:
    """``LlavaProcessor`` with a CLIP image processor for 64×64 RGB input.

    Images of 64×64 pass through unresized (resize and crop to the same size are no-ops)
    and are normalised as ``(rgb - PIXEL_MEAN) / PIXEL_STD`` on the 0–255 scale (no separate
    rescale step), so black (RGB 0) maps to ``-PIXEL_MEAN / PIXEL_STD``. Integer means and a
    power-of-two std make the result exact in float32, so the PIL and torchvision backends
    give identical pixel values.
    """
    from transformers import CLIPImageProcessor, LlavaProcessor

    image_processor = CLIPImageProcessor(
        do_resize=True,
        size={"shortest_edge": IMAGE_SIZE},
        do_center_crop=True,
        crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        do_rescale=False,
        do_normalize=True,
        image_mean=list(PIXEL_MEAN),
        image_std=list(PIXEL_STD),
        do_convert_rgb=True,
    )
    return LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer if tokenizer is not None else build_tokenizer(),
        patch_size=PATCH_SIZE,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=CHAT_TEMPLATE,
    )


def build_model(
    tokenizer: PreTrainedTokenizerFast | None = None, size: ModelSize | None = None, seed: int = 0
) -> LlavaForConditionalGeneration:
    """A randomly initialised tiny ``LlavaForConditionalGeneration``.

    Args:
        tokenizer: the tokenizer whose vocabulary and special ids to use
            (default: :func:`build_tokenizer`).
        size: layer sizes (default: :class:`ModelSize`).
        seed: torch seed of the initial weights.
    """
    import torch
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
    )

    tok = tokenizer if tokenizer is not None else build_tokenizer()
    size = size or ModelSize()
    ids = {
        "bos_token_id": tok.bos_token_id,
        "eos_token_id": tok.eos_token_id,
        "pad_token_id": tok.pad_token_id,
    }
    vision = CLIPVisionConfig(
        hidden_size=size.vision_hidden,
        intermediate_size=size.vision_intermediate,
        num_hidden_layers=size.vision_layers,
        num_attention_heads=size.vision_heads,
        image_size=IMAGE_SIZE,
        patch_size=PATCH_SIZE,
        projection_dim=size.vision_hidden,
        num_channels=3,
    )
    text = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=size.text_hidden,
        intermediate_size=size.text_intermediate,
        num_hidden_layers=size.text_layers,
        num_attention_heads=size.text_heads,
        num_key_value_heads=size.text_heads,
        max_position_embeddings=128,
        tie_word_embeddings=True,
        **ids,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tok.convert_tokens_to_ids(IMAGE),
        projector_hidden_act="gelu",
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
        image_seq_length=NUM_IMAGE_TOKENS,
        tie_word_embeddings=True,
        **ids,
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    model.generation_config.bos_token_id = tok.bos_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.do_sample = False
    model.generation_config.max_new_tokens = 24
    return model


def messages_for(prompt: str, answer: str | None = None) -> list[dict]:
    """The standard chat messages for one image and a text prompt (plus the reply)."""
    messages: list[dict] = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}
    ]
    if answer is not None:
        messages.append({"role": "assistant", "content": [{"type": "text", "text": answer}]})
    return messages


def save_pretrained_folder(model: Any, processor: Any, folder: str | Path) -> None:
    """Save weights (safetensors), config, generation config, tokenizer and processor.

    Atomic: everything is written to a sibling temporary folder first, which then replaces
    ``folder`` (files already there that the save does not write, e.g. a model card, are kept).
    An interrupted save leaves the previous folder intact.
    """
    import shutil
    import tempfile

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    staging.chmod(0o755)
    try:
        model.save_pretrained(staging, safe_serialization=True)
        processor.save_pretrained(staging)
        if folder.exists():
            for extra in folder.iterdir():
                if extra.is_file() and not (staging / extra.name).exists():
                    shutil.copy2(extra, staging / extra.name)
            old = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            folder.rename(old)
            staging.rename(folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
