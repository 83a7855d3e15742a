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

**Prompt spans** (``ek.explain(api, ..., text_regions=...)``, prompt-logprobs mode only). A text
API takes the prompt as text, so a removed span is written into the prompt: each of its tokens'
characters are replaced by the baseline token's text (``"<pad>"`` for the default pad token).
The spans map to the server's prompt tokens by the rule of the Hugging Face path (a token
belongs to the span its characters overlap most; chat-template tokens are never features),
with character offsets decoded from the server's own token ids — through a local tokenizer
(``tokenizer=``: a Hugging Face tokenizer or its local folder; nothing is downloaded) or the
server's ``/tokenize`` and ``/detokenize`` (vLLM); the prompt is located in the user's turn
(its last occurrence, after any system prompt). A decoder that normalises whitespace (tabs,
newlines, repeated spaces) cannot give offsets: a local fast tokenizer's own offsets are used
then, else the prompt is refused saying so. The baseline is checked before any request
carries it, as on the Hugging Face path: inside the vocabulary and not an image/video
placeholder (:func:`eagle_kit.text_regions.check_baseline_id`). Every scored request is checked: the
``prompt_logprobs`` the server returns name the token id at every position, and they must be
the original ids with the baseline id exactly at the removed positions — same length, same
answer positions. Otherwise a ``ValueError`` says what happened and how to fix it (another
``text_baseline``, or ``tokenizer=``) instead of scoring shifted positions.
"""

from __future__ import annotations

import base64
import http.client
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

#: HTTP statuses that mean "this server has no such endpoint".
_NO_ENDPOINT = (404, 405, 501)

MODES = ("auto", "prompt_logprobs", "continuation")

#: Texts of image/video placeholder tokens of the supported families: a baseline may not be
#: one (a prompt token replaced by it would be read as, or expanded into, image tokens).
_PLACEHOLDER_TEXTS = (
    "<image>",
    "<video>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<image_soft_token>",
    "<|image|>",
    "<|video|>",
    "<IMG_CONTEXT>",
)


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
        tokenizer: the served model's tokenizer, for prompt spans (``text_regions=``): a
            Hugging Face tokenizer object or a local folder holding one (never downloaded).
            ``None`` uses the server's ``/tokenize`` and ``/detokenize`` (vLLM). Either way
            every edited prompt is checked against the server's own tokens.

    Raises:
        ValueError: an unknown ``mode``, ``top_logprobs < 1``, or a ``tokenizer`` folder
            that does not exist.
        TypeError: a ``tokenizer`` that is neither a folder nor a tokenizer object.

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
        tokenizer: Any = None,
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
        self.tokenizer = _local_tokenizer(tokenizer)

    def __repr__(self) -> str:
        return f"OpenAIScorer(model={self.model!r}, base_url={self.base_url!r}, mode={self.mode!r})"

    # ------------------------------------------------------------------ HTTP

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        body = {"model": self.model, **self.extra_body, **payload}
        return self._request(f"{self.base_url}/chat/completions", body)

    @property
    def server_root(self) -> str:
        """The server's root (``base_url`` without a final ``/v1``): vLLM serves
        ``/tokenize`` and ``/detokenize`` there."""
        root = self.base_url
        return root[: -len("/v1")] if root.endswith("/v1") else root

    def tokenize(self, text: str) -> list[int]:
        """The server's token ids of ``text`` (vLLM ``POST /tokenize``, no special tokens added).

        Raises:
            APIError: the server has no ``/tokenize`` (``status`` 404/405/501) or refused.
        """
        reply = self._request(
            f"{self.server_root}/tokenize",
            {"model": self.model, "prompt": text, "add_special_tokens": False},
        )
        tokens = reply.get("tokens")
        if not isinstance(tokens, list):
            raise APIError(f"{self.server_root}/tokenize answered without 'tokens': {reply!r:.200}")
        return [int(t) for t in tokens]

    def detokenize(self, ids: Sequence[int]) -> str:
        """The server's text of token ``ids`` (vLLM ``POST /detokenize``).

        Raises:
            APIError: the server has no ``/detokenize`` or refused.
        """
        reply = self._request(
            f"{self.server_root}/detokenize",
            {"model": self.model, "tokens": [int(i) for i in ids]},
        )
        if not isinstance(reply.get("prompt"), str):
            raise APIError(
                f"{self.server_root}/detokenize answered without 'prompt': {reply!r:.200}"
            )
        return reply["prompt"]

    def _tokenizer_info(self) -> dict[str, Any] | None:
        """vLLM's ``GET /tokenizer_info`` (``--enable-tokenizer-info-endpoint``), else None."""
        try:
            return self._request(f"{self.server_root}/tokenizer_info", None)
        except APIError as err:
            if err.status in _NO_ENDPOINT:
                return None
            raise

    def _request(self, url: str, payload: dict[str, Any] | None) -> dict[str, Any]:
        """POST ``payload`` as JSON to ``url`` (GET when ``None``); the JSON reply."""
        body = None if payload is None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(url, data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read().decode())
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")[:500]
            raise APIError(f"{url} answered HTTP {err.code}: {detail}", status=err.code) from err
        except urllib.error.URLError as err:
            raise APIError(
                f"Cannot reach {self.base_url} ({err.reason}). Is the server running? Pass base_url=..."
            ) from err
        except (http.client.HTTPException, ConnectionError, TimeoutError) as err:
            what = "GET" if payload is None else "POST"
            raise APIError(
                f"The server at {url} failed on a {what} request ({type(err).__name__}: {err}): "
                "it closed the connection or answered no HTTP reply, usually because it crashed "
                "on the request. See the server's log; if it was a prompt-span request, check "
                "text_baseline."
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
        chat_ids: list[int | None] | None = None
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
            # the server's token id at every position (position 0 has no entry)
            chat_ids = [None if e is None else int(next(iter(e))) for e in entries]
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
            chat_ids=chat_ids,
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

    # ------------------------------------------------------------------ prompt spans

    def _text_tools(self) -> tuple[Any, Any, str]:
        """``(encode, decode, source)`` for prompt spans: the local tokenizer, else the
        server's ``/tokenize`` + ``/detokenize``.

        Raises:
            ValueError: neither is available.
        """
        tok = self.tokenizer
        if tok is not None:
            return (
                lambda text: list(tok(text, add_special_tokens=False)["input_ids"]),
                lambda ids: str(tok.decode(list(ids), clean_up_tokenization_spaces=False)),
                "local",
            )
        try:
            self.detokenize(self.tokenize("a"))
        except APIError as err:
            if err.status not in _NO_ENDPOINT:
                raise
            raise ValueError(
                f"Prompt spans need the served model's tokenizer, and {self.server_root} has no "
                f"/tokenize and /detokenize (HTTP {err.status}). Without them the edited prompt "
                "cannot be mapped to the server's tokens, so text features are refused rather than "
                "risk shifted positions. Fix: pass OpenAIScorer(..., tokenizer='path/to/model') "
                "(a local folder or a tokenizer object; nothing is downloaded), or serve with "
                "vLLM, which offers /tokenize."
            ) from err

        return self.tokenize, self.detokenize, "server"

    def _vocab_size(self) -> int | None:
        """The vocabulary size: the local tokenizer's, else ``vocab_size`` of the server's
        ``/tokenizer_info`` when it says it; ``None`` when unknown."""
        if self.tokenizer is not None:
            return len(self.tokenizer)
        info = self._tokenizer_info() or {}
        size = info.get("vocab_size")
        return int(size) if isinstance(size, int) and size > 0 else None

    def _placeholder_ids(
        self, encode: Any, decode: Any, chat_ids: Sequence[int | None] | None
    ) -> set[int]:
        """The model's image/video placeholder ids: the local tokenizer's ``image_token_id`` /
        ``video_token_id``, the known placeholder texts that are one token of their own, and
        the id of the image's expansion in the server's input (its longest run of one id)."""
        out: set[int] = set()
        tok = self.tokenizer
        for attr in ("image_token_id", "video_token_id"):
            value = getattr(tok, attr, None) if tok is not None else None
            if isinstance(value, int):
                out.add(value)
        for name in _PLACEHOLDER_TEXTS:
            ids = [int(i) for i in encode(name)]
            if len(ids) == 1 and ids[0] >= 0 and decode(ids) == name:
                out.add(ids[0])
        run, best, best_len = None, None, 3  # an expansion: more than three in a row
        count = 0
        for i in chat_ids or ():
            count = count + 1 if i is not None and i == run else 1
            run = i
            if i is not None and count > best_len:
                best, best_len = int(i), count
        if best is not None:
            out.add(best)
        return out

    def _baseline(
        self,
        baseline: int | str | None,
        encode: Any,
        decode: Any,
        context_id: int,
        *,
        chat_ids: Sequence[int | None] | None = None,
    ) -> tuple[int, str]:
        """``(id, text)`` of the token that replaces removed prompt tokens (``context_id``: a
        token of the prompt, to decode an id's text as it reads after another token).

        The id is checked before it is sent anywhere
        (:func:`eagle_kit.text_regions.check_baseline_id`, as the Hugging Face path): inside
        the vocabulary (the local tokenizer's size, or ``vocab_size`` of ``/tokenizer_info``;
        else only ``>= 0`` and a non-empty text) and not an image/video placeholder.

        Raises:
            TypeError: a baseline that is neither None, an int nor a str.
            ValueError: no default, a text that is not exactly one token, an id outside the
                vocabulary or with no text, or an image/video placeholder.
        """
        from ..text_regions import check_baseline_id

        tok = self.tokenizer
        if baseline is None:
            names: list[str] = []
            if tok is not None:
                names = [
                    str(getattr(tok, a))
                    for a in ("pad_token", "unk_token")
                    if getattr(tok, a, None)
                ]
            else:
                info = self._tokenizer_info() or {}
                for key in ("pad_token", "unk_token"):
                    value = info.get(key)
                    value = value.get("content") if isinstance(value, Mapping) else value
                    if isinstance(value, str) and value:
                        names.append(value)
            if not names:
                raise ValueError(
                    "No default text_baseline: "
                    + (
                        "the tokenizer has no pad or unknown token"
                        if tok is not None
                        else f"{self.server_root} does not say its pad token (no /tokenizer_info)"
                    )
                    + ". Pass text_baseline='<the model's pad token>' (e.g. '<|endoftext|>') or a "
                    "word with its leading space (' the'), or tokenizer=<local folder>."
                )
            baseline = names[0]
        if isinstance(baseline, bool) or not isinstance(baseline, (int, np.integer, str)):
            raise TypeError(
                "text_baseline must be a token id (int) or a one-token text; got "
                f"{type(baseline).__name__}."
            )
        if isinstance(baseline, str):
            ids = [int(i) for i in encode(baseline)]
            if len(ids) != 1:
                raise ValueError(
                    f"text_baseline={baseline!r} is {len(ids)} tokens for the served model; it must "
                    "be exactly one (e.g. the pad token's text, or ' the')."
                )
            check_baseline_id(
                ids[0],
                vocab_size=self._vocab_size(),
                forbidden=self._placeholder_ids(encode, decode, chat_ids),
                given=baseline,
            )
            unk = getattr(tok, "unk_token_id", None) if tok is not None else None
            if (
                isinstance(unk, int)
                and ids[0] == unk
                and baseline != getattr(tok, "unk_token", None)
            ):
                import warnings

                warnings.warn(
                    f"text_baseline={baseline!r} is not in the tokenizer's vocabulary: it becomes the "
                    f"unknown token (id {unk}). Pass a word of the vocabulary, or text_baseline=None "
                    "for the default, to silence this.",
                    UserWarning,
                    stacklevel=5,
                )
            return ids[0], baseline
        value = int(baseline)
        check_baseline_id(
            value,
            vocab_size=self._vocab_size(),
            forbidden=self._placeholder_ids(encode, decode, chat_ids),
        )
        # the text the token adds after another one (decoders may drop a leading space of a
        # text's first token, or join tokens with spaces)
        before = decode([int(context_id)])
        after = decode([int(context_id), value])
        text = after[len(before) :] if after.startswith(before) else decode([value])
        if not text:
            raise ValueError(
                f"text_baseline id {value} decodes to no text for the served model (an id "
                "outside its vocabulary, or a token without text), so it cannot be written into "
                "the prompt. Pass a token id of the vocabulary or a one-token text, e.g. "
                "text_baseline=' the'."
            )
        return value, text


def _local_tokenizer(tokenizer: Any) -> Any:
    """``tokenizer=`` of :class:`OpenAIScorer`: a tokenizer object, a local folder, or None."""
    if tokenizer is None:
        return None
    if isinstance(tokenizer, (str, os.PathLike)):
        folder = os.fspath(tokenizer)
        if not os.path.isdir(folder):
            raise ValueError(
                f"tokenizer={folder!r} is not a folder. Pass the served model's local folder "
                "(the one holding tokenizer.json / tokenizer_config.json) or a tokenizer object; "
                "nothing is downloaded."
            )
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(folder, local_files_only=True)
    if not (callable(tokenizer) and hasattr(tokenizer, "decode")):
        raise TypeError(
            "tokenizer must be a Hugging Face tokenizer object or a local folder holding one; "
            f"got {type(tokenizer).__name__}."
        )
    return tokenizer


def write_baseline(prompt: str, ranges: Sequence[tuple[int, int]], baseline_text: str) -> str:
    """``prompt`` with each removed token's characters replaced by ``baseline_text``.

    Tokens whose characters overlap (pieces of one character) are replaced together, by as
    many baseline texts as tokens; every other character is kept.

    Args:
        prompt: the prompt text.
        ranges: per removed token, its ``(start, end)`` characters in ``prompt``.
        baseline_text: the text the baseline token adds.

    Example:
        >>> write_baseline("is there a red cat ?", [(10, 14)], "<pad>")
        'is there a<pad> cat ?'
    """
    groups: list[list[int]] = []  # [start, end, n_tokens], by start
    for start, end in sorted(ranges):
        if groups and start < groups[-1][1]:
            groups[-1][1] = max(groups[-1][1], end)
            groups[-1][2] += 1
        else:
            groups.append([start, end, 1])
    for start, end, count in reversed(groups):
        prompt = prompt[:start] + baseline_text * count + prompt[end:]
    return prompt


def _locate(own: Sequence[int], head: Sequence[int]) -> Any:
    """Where the prompt's tokens ``own`` lie in the server's prompt ids ``head``: a
    ``difflib`` block ``(a, b, size)`` (``own[a:a+size] == head[b:b+size]``).

    The prompt is the user's message, after any system prompt a template puts first
    (Qwen's "You are a helpful assistant."), so the *last* occurrence is taken: the last
    exact run of all of ``own``, else the latest of the longest runs they share.
    """
    import difflib

    n, m = len(own), len(head)
    for b in range(m - n, -1, -1):
        if n and list(head[b : b + n]) == list(own):
            return difflib.Match(0, b, n)
    # match the reversed sequences: difflib prefers the earliest longest run, here the latest
    matcher = difflib.SequenceMatcher(None, own[::-1], head[::-1], autojunk=False)
    block = max(matcher.get_matching_blocks(), key=lambda blk: blk.size)
    if block.size == 0:
        return difflib.Match(0, 0, 0)
    return difflib.Match(n - block.a - block.size, m - block.b - block.size, block.size)


def _prompt_offsets(
    chat_ids: Sequence[int | None],
    n_prompt: int,
    prompt: str,
    encode: Any,
    decode: Any,
    *,
    tokenizer: Any = None,
) -> tuple[list[int], list[tuple[int, int]]]:
    """The positions around the prompt in the server's input and their characters in it.

    The prompt's own tokens (``encode``) locate it among the server's prompt ids; a window
    around them is decoded prefix by prefix, so each token's characters are what it adds to
    the decoded text (a token splitting a character gets the characters of the token that
    completes it). Offsets are relative to the prompt (template characters fall outside
    ``0 … len(prompt)``).

    A decoder may give the prompt's whitespace back normalised (tabs, newlines, repeated
    spaces → one space); then the local ``tokenizer``'s own character offsets (a fast
    tokenizer) place the tokens, when the prompt's tokens are one exact run of the server's.

    Raises:
        ValueError: the prompt's tokens or text cannot be found among the server's.
    """

    head = [-1 if i is None else int(i) for i in chat_ids[:n_prompt]]
    own = [int(i) for i in encode(prompt)]
    best = _locate(own, head)
    fix = (
        " Pass OpenAIScorer(..., tokenizer=<the served model's tokenizer folder>) if the "
        "server's tokenizer is not the one used here."
    )
    if best.size == 0:
        raise ValueError(
            f"The prompt's tokens {own} are not among the server's input tokens, so its spans "
            f"cannot be located.{fix}"
        )
    # the prompt's tokens as placed by the longest run they share with the server's, plus
    # two neighbours each side (a first or last token may merge differently in context)
    first = best.b - best.a
    start = max(1, first - 2)  # position 0 has no id in prompt_logprobs
    stop = min(n_prompt, first + len(own) + 2)
    window = list(range(start, stop))
    ids = [head[p] for p in window]
    if any(i < 0 for i in ids):
        raise ValueError(f"The server did not report every token id around the prompt.{fix}")
    with ThreadPoolExecutor(max_workers=8) as pool:
        texts = list(pool.map(lambda k: decode(ids[: k + 1]), range(len(ids))))
    full = texts[-1]
    ends = [len(os.path.commonprefix([t, full])) for t in texts]
    # the prompt's occurrence nearest the characters decoded before its first token (a short
    # prompt such as "a" may also occur inside the template's text around it)
    k0 = first - start
    guess = ends[k0 - 1] if k0 > 0 else 0
    found = [i for i in range(len(full)) if full.startswith(prompt, i)]
    if not found:
        if tokenizer is not None and best.size == len(own):
            recovered = _tokenizer_offsets(tokenizer, prompt, first, len(own))
            if recovered is not None:
                return recovered
        raise ValueError(_not_verbatim(full, prompt, tokenizer, exact=best.size == len(own)))
    where = min(found, key=lambda i: (abs(i - guess), -i))
    offsets, previous = [], 0
    for k, end in enumerate(ends):
        if end <= previous:  # a piece of a character: it shares the next token's characters
            end = next((e for e in ends[k + 1 :] if e > previous), previous)
        offsets.append((previous - where, end - where))
        previous = max(previous, ends[k])
    return window, offsets


def _tokenizer_offsets(
    tokenizer: Any, prompt: str, first: int, n: int
) -> tuple[list[int], list[tuple[int, int]]] | None:
    """Positions ``first … first+n−1`` with the local tokenizer's own character offsets of
    ``prompt`` (``None``: a slow tokenizer without offsets, or another token count)."""
    try:
        enc = tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=True)
    except (NotImplementedError, TypeError, ValueError):
        return None
    offsets = enc.get("offset_mapping") if hasattr(enc, "get") else None
    if offsets is None or len(offsets) != n:
        return None
    return list(range(first, first + n)), [(int(a), int(b)) for a, b in offsets]


def _not_verbatim(full: str, prompt: str, tokenizer: Any, *, exact: bool) -> str:
    """The refusal when the decoded tokens do not contain the prompt: what differs, and the
    fix that applies to this scorer."""
    head = (
        f"Decoding the server's tokens around the prompt gives {full!r}, which does not "
        f"contain the prompt {prompt!r} verbatim, so the spans cannot be placed."
    )
    if " ".join(prompt.split()) in " ".join(full.split()):
        head += (
            " Only the whitespace differs: the decoder gives the prompt's tabs, newlines or "
            "repeated spaces back as single spaces, so characters cannot be read off decoding."
        )
        if tokenizer is None:
            return head + (
                " Fix: pass OpenAIScorer(..., tokenizer=<the served model's tokenizer folder>) "
                "— a fast tokenizer's own character offsets place the spans — or write the "
                "prompt with single spaces."
            )
        why = (
            "it gives no character offsets (not a fast tokenizer)"
            if exact
            else "its tokens of the prompt are not one exact run of the server's tokens"
        )
        return head + (
            f" The local tokenizer given cannot place them either: {why}. Fix: write the "
            "prompt with single spaces, or pass the served model's fast tokenizer."
        )
    if tokenizer is None:
        return head + (
            " Fix: pass OpenAIScorer(..., tokenizer=<the served model's tokenizer folder>) if "
            "the server's /detokenize differs from the served model's tokenizer."
        )
    return head + (
        " The local tokenizer given decodes the server's token ids to other text: check that "
        "it is the served model's tokenizer."
    )


class APIScorer:
    """An :class:`OpenAIScorer` bound to one image, prompt and answer (a PreparedScorer).

    Attributes:
        tokens: text of each recorded token.
        token_ids: server ids of the recorded tokens (``-1`` where unknown).
        default_targets: resolved ``targets`` (prompt-logprobs mode) or ``None``.
        metadata: provenance (``scorer="openai"``, ``mode`` ...).
        batch_size: images per call.
        text_features: the prompt spans bound with :meth:`bind_text` (``None`` before).
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
        chat_ids: list[int | None] | None = None,
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
        self._chat_ids = chat_ids
        self.text_features: Any = None
        self._span_text: str = prompt if isinstance(prompt, str) else ""
        self._ranges: dict[int, tuple[int, int]] = {}
        self._edits: dict[bytes, tuple[str, frozenset[int]]] = {}

    def _one(self, image: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
        client = self._client
        row = np.zeros(len(self._columns))
        entries = None
        if self.mode == "prompt_logprobs":
            prompt, messages, removed = self._prompt, self._messages, frozenset()
            if keep is not None and not keep.all():
                prompt, removed = self._edit(keep)
                if messages is not None:  # the edited text goes in the user's text item
                    messages = self._with_user_text(prompt)
            entries = client._prompt_logprobs(image, prompt, messages, self._answer)
            if self.text_features is not None:
                self._verify(entries, prompt, removed, keep)
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

    def __call__(self, images: np.ndarray, *, text_keep: np.ndarray | None = None) -> np.ndarray:
        """Probabilities ``B×T`` for filled images ``B×H×W×3`` uint8 (one or more requests each).

        ``text_keep`` (``B×S`` bool, one column per span bound with :meth:`bind_text`): the
        prompt spans kept in each row; a removed span's tokens become the baseline token's
        text in the prompt sent (checked against the server's tokens, see the module doc).
        """
        images = np.asarray(images)
        if images.shape[1:] != self.media.shape or images.dtype != np.uint8:
            raise ValueError(
                f"images must be uint8 of shape (B, {', '.join(map(str, self.media.shape))}) — the "
                f"prepared image's size; got {images.dtype} {images.shape}."
            )
        keep = self._check_text_keep(text_keep, len(images))
        rows_keep = [None] * len(images) if keep is None else list(keep)
        with ThreadPoolExecutor(max_workers=self._client.max_workers) as pool:
            rows = list(pool.map(self._one, list(images), rows_keep))
        return np.stack(rows) if rows else np.zeros((0, len(self._columns)))

    def score_masks(
        self, masks: np.ndarray, fill_image: np.ndarray, *, text_keep: np.ndarray | None = None
    ) -> np.ndarray:
        """``self(np.where(masks[..., None], image, fill_image), text_keep=text_keep)``.

        Args:
            masks: ``B×H×W`` bool, ``True`` = keep the pixel.
            fill_image: ``H×W×3`` uint8, what removed pixels become.
            text_keep: ``B×S`` bool, the prompt spans kept (see :meth:`bind_text`).
        """
        masks = np.asarray(masks)
        if masks.dtype != np.bool_ or masks.shape[1:] != self.media.shape[:-1]:
            raise ValueError(
                f"masks must be bool of shape (B, {', '.join(map(str, self.media.shape[:-1]))}); "
                f"got {masks.dtype} {masks.shape}."
            )
        fill_image = np.asarray(fill_image)
        if fill_image.shape != self.media.shape or fill_image.dtype != np.uint8:
            raise ValueError(
                f"fill_image must be uint8 of shape {self.media.shape} (the prepared image's); got "
                f"{fill_image.dtype} {fill_image.shape}."
            )
        images = np.where(masks[..., None], self.media, fill_image)
        return self(images, text_keep=text_keep)

    # ------------------------------------------------------------------ prompt spans

    def bind_text(self, text_regions: Any, *, baseline: int | str | None = None) -> Any:
        """Make prompt spans removable features of this scorer (see the module doc).

        The spans map to the server's prompt tokens with the rule of the Hugging Face path;
        a removed span's tokens are replaced, in the prompt text, by the baseline token's text,
        one per token. The server's ``prompt_logprobs`` of every request are checked to hold the
        original token ids with the baseline id exactly at the removed positions (so the length
        and answer positions are unchanged); one request with every span removed is made here,
        so a baseline that does not tokenise cleanly fails before a search starts.

        Args:
            text_regions: ``"words"``, ``"sentences"`` or ``(start, end)`` character spans
                into the prompt.
            baseline: the replacement: ``None`` = the pad token, else the unknown token (of
                the local ``tokenizer``, or of the server's ``/tokenizer_info``); a text that
                is exactly one token — write the text the token adds, e.g. ``" the"`` with its
                leading space for byte-level and SentencePiece tokenizers; or a token id.

        Returns:
            The :class:`eagle_kit.text_regions.TextFeatures` (spans, texts, token positions
            into the server's prompt tokens, baseline id and text).

        Raises:
            TypeError: continuation mode (no prompt log-probabilities to score or check with).
            ValueError: no prompt text (``messages=`` whose last user message has not exactly
                one text item), neither ``tokenizer=`` nor the
                server's ``/tokenize`` + ``/detokenize``, the prompt's tokens cannot be
                located, no default baseline, a baseline of more than one token, outside the
                vocabulary (or with no text) or an image/video placeholder, or an edited
                prompt the server tokenises differently (see the module doc).
            APIError: the server refused a request or failed on it (names the URL).
        """
        from ..text_regions import TextFeatures, resolve_spans, text_spans

        if self.mode != "prompt_logprobs" or self._chat_ids is None:
            raise TypeError(
                "Prompt spans through an OpenAI-compatible server need prompt log-probabilities "
                "(mode='prompt_logprobs', e.g. vLLM or SGLang): they score every answer token of an "
                "edited prompt and show the server's tokens, which proves the positions did not "
                f"move. This scorer runs in {self.mode!r} mode. Use text_regions=None to explain "
                "the image alone."
            )
        prompt = self._span_source()
        spans = text_spans(prompt, text_regions)
        encode, decode, source = self._client._text_tools()
        n_prompt = len(self._chat_ids) - len(self.answer_tokens)
        window, offsets = _prompt_offsets(
            self._chat_ids, n_prompt, prompt, encode, decode, tokenizer=self._client.tokenizer
        )
        spans, assigned = resolve_spans(offsets, spans, prompt)
        owner: dict[int, list[int]] = {j: [] for j in range(len(spans))}
        ranges: dict[int, tuple[int, int]] = {}
        for pos, best, rng in zip(window, assigned, offsets, strict=True):
            if best >= 0:
                owner[best].append(pos)
                ranges[pos] = (max(0, rng[0]), min(len(prompt), rng[1]))
        context = int(self._chat_ids[min(owner[0])])  # a token of the first span
        base_id, base_text = self._client._baseline(
            baseline, encode, decode, context, chat_ids=self._chat_ids
        )
        self._ranges = ranges
        self._edits = {}
        self.text_features = TextFeatures(
            spans=[(int(a), int(b)) for a, b in spans],
            texts=[prompt[a:b] for a, b in spans],
            positions=[np.array(sorted(owner[j]), dtype=np.int64) for j in range(len(spans))],
            baseline_id=base_id,
            baseline_text=base_text,
        )
        # fail before any search when even the all-removed prompt does not tokenise cleanly
        try:
            self._one(self.media, np.zeros(len(spans), dtype=bool))
        except Exception:
            self.text_features = None  # nothing stays bound to a baseline that failed
            raise
        self.metadata["text_tokenizer"] = source
        return self.text_features

    def _span_source(self) -> str:
        """The text the spans index: the prompt, or with ``messages=`` the user turn's one
        text item (whose edits are sent in its place)."""
        if self._messages is None:
            if not isinstance(self._prompt, str):
                raise ValueError("Prompt spans need the prompt as text: pass prompt='...'.")
            self._span_text = self._prompt
            return self._prompt
        users = [m for m in self._messages if m.get("role") == "user"]
        content = users[-1].get("content") if users else None
        if isinstance(content, str):
            texts = [content]
        else:
            texts = [c.get("text") for c in content or [] if c.get("type") == "text"]
        if len(texts) != 1 or not isinstance(texts[0], str) or not texts[0].strip():
            raise ValueError(
                "Prompt spans through an OpenAI-compatible server need the last user message to "
                f"hold exactly one non-empty text item; it holds {len(texts)}. The server's "
                "tokens around the image do not show where one item ends and the next begins. "
                "Merge the text into one item (before or after the image), or use the Hugging "
                "Face model, which places several items."
            )
        self._span_text = texts[0]
        return texts[0]

    def _with_user_text(self, text: str) -> list[dict[str, Any]]:
        """``messages=`` with the last user message's text item replaced by ``text``."""
        out = [dict(m) for m in self._messages or []]
        last = max(i for i, m in enumerate(out) if m.get("role") == "user")
        content = out[last].get("content")
        if isinstance(content, str):
            out[last]["content"] = text
        else:
            out[last]["content"] = [
                {**c, "text": text} if c.get("type") == "text" else c for c in content
            ]
        return out

    def _check_text_keep(self, text_keep: Any, n: int) -> np.ndarray | None:
        from ..text_regions import check_text_keep

        return check_text_keep(text_keep, self.text_features, n)

    def _edit(self, keep: np.ndarray) -> tuple[str, frozenset[int]]:
        """The prompt with the removed spans' tokens written as the baseline text, and the
        removed token positions. Tokens sharing characters (pieces of one character) are
        replaced together, by as many baseline texts as tokens."""
        key = np.packbits(keep).tobytes() + bytes([len(keep) % 8])
        if key in self._edits:
            return self._edits[key]
        feats = self.text_features
        removed = sorted(int(p) for j in np.flatnonzero(~keep) for p in feats.positions[j])
        text = write_baseline(
            self._span_text, [self._ranges[p] for p in removed], feats.baseline_text
        )
        self._edits[key] = (text, frozenset(removed))
        return self._edits[key]

    def _verify(
        self, entries: list[Any], prompt: str, removed: frozenset[int], keep: np.ndarray | None
    ) -> None:
        """Check the server read the expected token ids (see the module doc)."""
        chat = self._chat_ids
        feats = self.text_features
        problem = None
        if len(entries) != len(chat):
            problem = (
                f"the server read {len(entries)} tokens where the original input has {len(chat)}"
            )
        else:
            for i in range(1, len(chat)):
                want = feats.baseline_id if i in removed else chat[i]
                entry = entries[i] or {}
                if str(want) not in entry:
                    got = next(iter(entry), "?")
                    problem = (
                        f"at position {i} the server read token id {got} where "
                        f"{'the baseline' if i in removed else 'the original'} token id {want} "
                        "belongs"
                    )
                    break
        if problem is None:
            return
        gone = [] if keep is None else [feats.texts[j] for j in np.flatnonzero(~keep)]
        tokenizer_fix = (
            " — or check that the local tokenizer given is the served model's"
            if self._client.tokenizer is not None
            else " — or pass OpenAIScorer(..., tokenizer=<the served model's tokenizer folder>) "
            "so the spans map to the server's tokens exactly"
        )
        raise ValueError(
            f"Removing the prompt span(s) {gone} with the baseline {feats.baseline_text!r} "
            f"changed the server's tokens: {problem} (prompt sent: {prompt!r}). The answer "
            "would be read at shifted positions, so this is refused. Fix: pass another "
            "text_baseline — a special token that is always one token (the default pad token, "
            "e.g. '<pad>' or '<|endoftext|>'), or a word written as the token adds it, usually "
            f"with its leading space (' the'){tokenizer_fix}."
        )
