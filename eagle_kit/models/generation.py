"""The result of greedy generation, shared by the Hugging Face and API scorers."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Generation"]


@dataclass(frozen=True)
class Generation:
    """A greedy answer of a model to one image and prompt.

    Pass it to ``prepare(..., generation=gen)`` (or ``ek.explain(..., generation=gen)``) to
    explain exactly these tokens by teacher forcing.

    Attributes:
        text: the decoded answer, special tokens removed.
        tokens: the text of each answer token (one entry per id in ``token_ids``).
        token_ids: vocabulary ids of the answer, without the end-of-turn token.
        prompt: the prompt the answer responds to (``None`` when a message list was given).
        end_token_id: the end-of-turn/EOS id that stopped generation, or ``None`` when
            ``max_new_tokens`` was reached first.
        messages: the custom message list, when one was given instead of a prompt.
    """

    text: str
    tokens: list[str]
    token_ids: list[int]
    prompt: str | None
    end_token_id: int | None = None
    messages: list[dict] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.token_ids)
