"""Black-box scoring through an OpenAI-compatible server that returns log-probabilities.

Two ways to read ``p(answer token t | masked image, prompt, answer[:t])``:

* ``"prompt_logprobs"`` (vLLM, SGLang): the answer is sent as the final assistant message
  with ``continue_final_message=True`` and the server returns the log-probability of every
  prompt token (``prompt_logprobs``). One request per masked image scores every answer
  token — exact teacher forcing.
* ``"continuation"`` (any server with ``logprobs``/``top_logprobs``, e.g. OpenAI): one
  request per recorded answer position, with the answer prefix as a partial assistant
  message and ``max_tokens=1``; the token's probability is read from ``top_logprobs``. It is
  exact when the token is among the ``top_logprobs`` returned and reported as 0 otherwise
  (a lower bound). Positions after the first need a server that continues a partial
  assistant message (``continue_final_message``); OpenAI's own API does not, so there
  explain the first answer token (e.g. a yes/no answer, ``targets=0``).

``mode="auto"`` tries ``prompt_logprobs`` and falls back to ``continuation``.
Images are sent losslessly as PNG data URLs, image first, as in the standard message.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ..images import as_media
from .generation import Generation
from .tokens import resolve_targets

__all__ = ["OpenAIScorer", "APIScorer", "APIError"]

MODES = ("auto", "prompt_logprobs", "continuation")


class APIError(RuntimeError):
    """The server refused a request or answered something unexpected."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _png_data_url(image: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class OpenAIScorer:
    """A vision-language model behind an OpenAI-compatible ``/chat/completions`` endpoint.

    Args:
        model: the served model name.
        base_url: the API root, e.g. ``"http://127.0.0.1:8000/v1"`` (default:
            ``$OPENAI_BASE_URL`` or OpenAI's).
        api_key: bearer token (default ``$OPENAI_API_KEY``; none for local servers).
        mode: ``"auto"``, ``"prompt_logprobs"`` or ``"continuation"`` (see the module doc).
        top_logprobs: alternatives requested per position in continuation mode (OpenAI
            allows at most 20).
        timeout: seconds per request.
        max_workers: concurrent requests.
        batch_size: images per scorer call (each image is one or more requests).
        extra_body: extra JSON fields for every request (e.g. server-specific options).

    Example:
        >>> api = ek.OpenAIScorer("Qwen/Qwen2.5-VL-3B-Instruct", base_url="http://127.0.0.1:8000/v1")  # doctest: +SKIP
        >>> expl = ek.explain(api, image, prompt="Is there a cat?", answer="Yes", targets=0)  # doctest: +SKIP
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        mode: str = "auto",
        top_logprobs: int = 20,
        timeout: float = 120.0,
        max_workers: int = 8,
        batch_size: int = 16,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"Unknown mode '{mode}'. Choose one of: {', '.join(MODES)}.")
        if int(top_logprobs) < 1:
            raise ValueError(f"top_logprobs must be >= 1; got {top_logprobs}.")
        self.model = str(model)
        self.base_url = (
            base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        ).rstrip("/")
        self._api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.mode = mode
        self.top_logprobs = int(top_logprobs)
        self.timeout = float(timeout)
        self.max_workers = max(1, int(max_workers))
        self.batch_size = max(1, int(batch_size))
        self.extra_body = dict(extra_body or {})

    def __repr__(self) -> str:
        return f"OpenAIScorer(model={self.model!r}, base_url={self.base_url!r}, mode={self.mode!r})"

    # ------------------------------------------------------------------ HTTP

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps({"model": self.model, **self.extra_body, **payload}).encode()
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(
            f"{self.base_url}/chat/completions", data=body, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read().decode())
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")[:500]
            raise APIError(
                f"{self.base_url} answered HTTP {err.code}: {detail}", status=err.code
            ) from err
        except urllib.error.URLError as err:
            raise APIError(
                f"Cannot reach {self.base_url} ({err.reason}). Is the server running? Pass base_url=..."
            ) from err

    # ------------------------------------------------------------------ messages

    def _messages(
        self,
        image: np.ndarray,
        prompt: str | None,
        messages: Sequence[Mapping[str, Any]] | None,
        assistant: str | None,
    ) -> list[dict[str, Any]]:
        url = _png_data_url(image)
        if messages is None:
            if not isinstance(prompt, str) or not prompt.strip():
                raise ValueError(
                    f"A prompt is needed: pass prompt='...' (got {prompt!r}) or messages=[...]."
                )
            out = [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": url}},
                        {"type": "text", "text": prompt},
                    ],
                }
            ]
        else:
            out, placed = [], False
            for message in messages:
                message = dict(message)
                content = message.get("content")
                if isinstance(content, list):
                    items = []
                    for item in content:
                        if isinstance(item, Mapping) and item.get("type") == "image":
                            items.append({"type": "image_url", "image_url": {"url": url}})
                            placed = True
                        else:
                            items.append(dict(item))
                    message["content"] = items
                out.append(message)
            if not placed:
                raise ValueError(
                    "The messages have no image placeholder, so the model would not see the image. "
                    "Put {'type': 'image'} in the user message's content."
                )
        if assistant is not None:
            out.append({"role": "assistant", "content": assistant})
        return out

    def _continue(self, msgs: list[dict[str, Any]], assistant: str | None) -> dict[str, Any]:
        if assistant is None:
            return {"messages": msgs}
        return {"messages": msgs, "continue_final_message": True, "add_generation_prompt": False}

    # ------------------------------------------------------------------ generation

    def generate(
        self,
        image: Any,
        prompt: str | None = None,
        *,
        max_new_tokens: int = 64,
        messages: Sequence[Mapping[str, Any]] | None = None,
    ) -> Generation:
        """Greedy answer (``temperature=0``). ``token_ids`` are ``-1`` where the server
        does not report ids."""
        media = as_media(image)
        reply = self._post(
            {
                "messages": self._messages(media, prompt, messages, None),
                "max_tokens": int(max_new_tokens),
                "temperature": 0.0,
                "logprobs": True,
                "top_logprobs": 1,
            }
        )
        choice = reply["choices"][0]
        content = (choice.get("logprobs") or {}).get("content") or []
        text = choice["message"].get("content") or ""
        tokens = [c["token"] for c in content]
        if not tokens and text:
            raise APIError("The server returned no token logprobs; it must support logprobs=true.")
        end_id = None if choice.get("finish_reason") == "length" else -1
        return Generation(
            text=text.strip(),
            tokens=tokens,
            token_ids=[-1] * len(tokens),
            prompt=prompt if messages is None else None,
            end_token_id=end_id,
            messages=[dict(m) for m in messages] if messages is not None else None,
        )

    # ------------------------------------------------------------------ reading logprobs

    def _prompt_logprobs(
        self, media: np.ndarray, prompt: Any, messages: Any, assistant: str | None
    ) -> list[Any]:
        payload = self._continue(self._messages(media, prompt, messages, assistant), assistant)
        payload.update({"max_tokens": 1, "temperature": 0.0, "prompt_logprobs": 0})
        if assistant is None:
            payload["add_generation_prompt"] = True
        reply = self._post(payload)
        entries = reply.get("prompt_logprobs")
        if entries is None:
            entries = (reply.get("choices") or [{}])[0].get("prompt_logprobs")
        if not isinstance(entries, list):
            raise APIError(
                "The server does not return prompt_logprobs (vLLM/SGLang do); use mode='continuation'."
            )
        return entries

    def _top_logprobs(
        self, media: np.ndarray, prompt: Any, messages: Any, prefix: str
    ) -> list[dict[str, Any]]:
        payload = self._continue(
            self._messages(media, prompt, messages, prefix or None), prefix or None
        )
        payload.update(
            {
                "max_tokens": 1,
                "temperature": 0.0,
                "logprobs": True,
                "top_logprobs": self.top_logprobs,
            }
        )
        reply = self._post(payload)
        content = (reply["choices"][0].get("logprobs") or {}).get("content") or []
        if not content:
            raise APIError(
                "The server returned no logprobs for the next token; it must support logprobs=true."
            )
        return list(content[0].get("top_logprobs") or [])

    @staticmethod
    def _find(top: list[dict[str, Any]], token: str) -> float:
        """Probability of ``token`` among ``top`` alternatives (0 when absent)."""
        for alt in top:
            if alt.get("token") == token:
                return math.exp(float(alt["logprob"]))
        key = token.strip()
        matches = [alt for alt in top if key and str(alt.get("token", "")).strip() == key]
        if matches:
            return math.exp(max(float(a["logprob"]) for a in matches))
        return 0.0

    # ------------------------------------------------------------------ preparing

    def prepare(
        self,
        image: Any,
        *,
        prompt: str | None = None,
        answer: str | None = None,
        generation: Generation | None = None,
        messages: Sequence[Mapping[str, Any]] | None = None,
        targets: Any = None,
        target_token_ids: Mapping[int, str] | None = None,
        max_new_tokens: int = 64,
        batch_size: int | None = None,
        answer_tokens: Sequence[str] | None = None,
    ) -> APIScorer:
        """Bind an image, prompt and answer; see :meth:`VisionLanguageModel.prepare`.

        ``target_token_ids`` values must be token text here (the client has no tokenizer).
        In continuation mode only the target tokens are recorded (one request each per
        image); in prompt-logprobs mode every answer token is.

        In continuation mode the answer's tokens come from ``generation``, from
        ``answer_tokens`` (the server tokenizer's pieces, which must join to ``answer``),
        or are discovered from the server's top alternatives on the unmasked image (a
        one-word answer that does not appear there is taken as one token).
        """
        media = as_media(image)
        if generation is not None and answer is not None:
            raise ValueError("Pass either answer='...' or generation=gen, not both.")
        if generation is not None and prompt is None and messages is None:
            prompt, messages = generation.prompt, generation.messages
        if generation is None and answer is None:
            generation = self.generate(
                media, prompt, max_new_tokens=max_new_tokens, messages=messages
            )
        answer_text = generation.text if generation is not None else str(answer)
        if not answer_text:
            raise ValueError(
                "The answer is empty, so there is nothing to explain. Pass answer='...'."
            )
        replacements: dict[int, str] = {}
        for pos, value in (target_token_ids or {}).items():
            if not isinstance(value, str):
                raise TypeError(
                    f"target_token_ids[{pos}] must be token text for an API scorer (it has no "
                    f"tokenizer to map ids); got {type(value).__name__}."
                )
            replacements[int(pos)] = value

        mode = self.mode
        entries: list[Any] | None = None
        if mode in ("auto", "prompt_logprobs"):
            try:
                before = self._prompt_logprobs(media, prompt, messages, None)
                entries = self._prompt_logprobs(media, prompt, messages, answer_text)
                mode = "prompt_logprobs"
            except APIError:
                if mode == "prompt_logprobs":
                    raise
                mode = "continuation"
        if mode == "prompt_logprobs":
            n = len(entries) - len(before)
            if n < 1:
                raise APIError(
                    "Could not locate the answer's tokens in the server's prompt_logprobs."
                )
            answer_entries = entries[-n:]
            ids = [int(next(iter(e))) for e in answer_entries]
            tokens = [str(next(iter(e.values())).get("decoded_token", "")) for e in answer_entries]
        elif answer_tokens is not None:
            tokens = [str(t) for t in answer_tokens]
            if "".join(tokens).strip() != answer_text.strip():
                raise ValueError(
                    f"answer_tokens {tokens!r} do not join to the answer {answer_text!r}."
                )
            ids = [-1] * len(tokens)
        else:
            tokens = (
                list(generation.tokens)
                if generation is not None
                else self._tokenize(media, prompt, messages, answer_text)
            )
            ids = [-1] * len(tokens)
        for pos in replacements:
            if not -len(tokens) <= pos < len(tokens):
                raise ValueError(
                    f"target_token_ids key {pos} is not a position of the {len(tokens)}-token answer."
                )
        replacements = {pos % len(tokens): text for pos, text in replacements.items()}
        # the recorded texts (with replacements) spell the answer: resolve words on them, as
        # every Explanation method will
        spelled = [replacements.get(t, tokens[t]) for t in range(len(tokens))]
        resolved = resolve_targets(targets, spelled, joined=True)
        if mode == "continuation":
            columns = resolved if resolved is not None else list(range(len(tokens)))
            default_targets = None
        else:
            columns = list(range(len(tokens)))
            default_targets = resolved
        prefixes = ["".join(tokens[:t]) for t in range(len(tokens))]
        recorded = [replacements.get(t, tokens[t]) for t in columns]
        metadata = {
            "scorer": "openai",
            "model": self.model,
            "base_url": self.base_url,
            "mode": mode,
            "prompt": prompt
            if prompt is not None
            else json.dumps(list(messages or []), default=str)[:2000],
            "answer": answer_text,
            "family": "api",
        }
        if columns == list(range(len(tokens))):
            metadata["token_text_joined"] = 1  # the recorded texts spell the answer
        if replacements:
            metadata["target_token_ids"] = json.dumps({str(k): v for k, v in replacements.items()})
        return APIScorer(
            self,
            media=media,
            prompt=prompt,
            messages=messages,
            answer=answer_text,
            mode=mode,
            columns=columns,
            prefixes=prefixes,
            answer_tokens=tokens,
            answer_ids=ids,
            recorded=recorded,
            replacements=replacements,
            default_targets=default_targets,
            metadata=metadata,
            batch_size=int(batch_size) if batch_size else self.batch_size,
        )

    def _tokenize(self, media: np.ndarray, prompt: Any, messages: Any, answer: str) -> list[str]:
        """The answer's tokens, discovered by continuation (longest token that fits, each step)."""
        tokens: list[str] = []
        done = ""
        while done != answer:
            top = self._top_logprobs(media, prompt, messages, done)
            rest = answer[len(done) :]
            fits = [
                str(a["token"]) for a in top if a.get("token") and rest.startswith(str(a["token"]))
            ]
            if not fits and done == "":
                fits = [
                    str(a["token"])
                    for a in top
                    if a.get("token") and rest.startswith(str(a["token"]).lstrip())
                ]
            if (
                not fits
                and done == ""
                and answer.strip()
                and not any(c.isspace() for c in answer.strip())
            ):
                return [answer]  # a one-word answer (e.g. "Yes") is taken as one token
            if not fits:
                raise ValueError(
                    f"Cannot tokenise the answer {answer!r} through the API: after {done!r} no token among "
                    f"the top {self.top_logprobs} continues it. Pass generation=model.generate(...) instead."
                )
            token = max(fits, key=len)
            tokens.append(token)
            done += token if rest.startswith(token) else token.lstrip()
            if len(tokens) > 4 * len(answer) + 8:
                raise ValueError(f"Cannot tokenise the answer {answer!r} through the API.")
        return tokens


class APIScorer:
    """An :class:`OpenAIScorer` bound to one image, prompt and answer (a PreparedScorer).

    Attributes:
        tokens: text of each recorded token.
        token_ids: server ids of the recorded tokens (``-1`` where unknown).
        default_targets: resolved ``targets`` (prompt-logprobs mode) or ``None``.
        metadata: provenance (``scorer="openai"``, ``mode`` ...).
        batch_size: images per call.
    """

    def __init__(
        self,
        client: OpenAIScorer,
        *,
        media: np.ndarray,
        prompt: Any,
        messages: Any,
        answer: str,
        mode: str,
        columns: list[int],
        prefixes: list[str],
        answer_tokens: list[str],
        answer_ids: list[int],
        recorded: list[str],
        replacements: dict[int, str],
        default_targets: list[int] | None,
        metadata: dict[str, Any],
        batch_size: int,
    ) -> None:
        self._client = client
        self.media = media
        self._prompt, self._messages = prompt, messages
        self._answer = answer
        self.mode = mode
        self._columns = columns
        self._prefixes = prefixes
        self.answer_tokens = answer_tokens
        self.answer_ids = answer_ids
        self.tokens = recorded
        self.token_ids = [answer_ids[c] if c not in replacements else -1 for c in columns]
        self._replacements = replacements
        self.default_targets = default_targets
        self.metadata = metadata
        self.batch_size = batch_size

    def _one(self, image: np.ndarray) -> np.ndarray:
        client = self._client
        row = np.zeros(len(self._columns))
        entries = None
        if self.mode == "prompt_logprobs":
            entries = client._prompt_logprobs(image, self._prompt, self._messages, self._answer)
            entries = entries[len(entries) - len(self.answer_tokens) :]
        for j, t in enumerate(self._columns):
            if entries is not None and t not in self._replacements:
                entry = entries[t] or {}
                value = entry.get(str(self.answer_ids[t]))
                if value is None:
                    raise APIError(
                        f"The server's prompt_logprobs at answer position {t} lack token id "
                        f"{self.answer_ids[t]}; the tokenisation changed between requests."
                    )
                row[j] = math.exp(float(value["logprob"]))
            else:
                target = self._replacements.get(t, self.answer_tokens[t])
                top = client._top_logprobs(image, self._prompt, self._messages, self._prefixes[t])
                row[j] = OpenAIScorer._find(top, target)
        return row

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """Probabilities ``B×T`` for filled images ``B×H×W×3`` uint8 (one or more requests each)."""
        images = np.asarray(images)
        if images.shape[1:] != self.media.shape or images.dtype != np.uint8:
            raise ValueError(
                f"images must be uint8 of shape (B, {', '.join(map(str, self.media.shape))}) — the "
                f"prepared image's size; got {images.dtype} {images.shape}."
            )
        with ThreadPoolExecutor(max_workers=self._client.max_workers) as pool:
            rows = list(pool.map(self._one, list(images)))
        return np.stack(rows) if rows else np.zeros((0, len(self._columns)))
