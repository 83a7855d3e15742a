"""A small OpenAI-compatible server for tests: serves a tiny HF model on 127.0.0.1.

Written directly with transformers (not with eagle_kit's scorer), it implements the part of
``POST /v1/chat/completions`` the API scorer relies on:

* ``flavor="vllm"``: ``prompt_logprobs`` (per prompt token ``{id: {logprob, rank,
  decoded_token}}``), ``continue_final_message``, ``add_generation_prompt``, ``logprobs`` /
  ``top_logprobs`` (any count), greedy ``max_tokens``;
* ``flavor="openai"``: like OpenAI's API — those vLLM-only fields are rejected with HTTP 400
  and ``top_logprobs`` is capped at 20.

Token strings are incremental detokenisation deltas, as vLLM reports them.

With ``tokenize=True`` (vLLM flavour) it also serves vLLM's tokenizer endpoints at the root:
``POST /tokenize`` (``{"prompt": ..., "add_special_tokens": true}`` or ``{"messages": ...,
"add_generation_prompt": true, "continue_final_message": false}``, optional
``"return_token_strs"``) → ``{"count", "max_model_len", "tokens", "token_strs"}``, and
``POST /detokenize`` (``{"tokens": [...]}``) → ``{"prompt"}``; with ``tokenizer_info=True``
``GET /tokenizer_info`` → the tokenizer's configuration (``pad_token``, ``unk_token`` …), as
vLLM's ``--enable-tokenizer-info-endpoint``. The messages form expands image placeholders as
the processor does.

An internal error (a bad token id, a model failure) is answered with HTTP 500 and
``{"error": {"message": "<exception>: <text>", "type": "internal_server_error"}}``.
"""

from __future__ import annotations

import base64
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import torch

VLLM_ONLY = ("prompt_logprobs", "continue_final_message", "add_generation_prompt")


class TinyOpenAIServer:
    """Context manager: ``with TinyOpenAIServer(model) as url: ...`` (``url`` ends in ``/v1``)."""

    def __init__(
        self,
        hf_model: Any,
        processor: Any,
        *,
        name: str = "tiny",
        flavor: str = "vllm",
        tokenize: bool = True,
        tokenizer_info: bool = False,
    ) -> None:
        self.hf = hf_model
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.name = name
        self.flavor = flavor
        self.serve_tokenize = tokenize and flavor == "vllm"
        self.serve_tokenizer_info = tokenizer_info and self.serve_tokenize
        self.sent_prompts: list[str] = []  # the user text of every chat request, in order
        self.lock = threading.Lock()
        self.requests = 0
        self._server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------------ model side

    def _decode_delta(self, prefix: list[int], token: int) -> str:
        before = self.tokenizer.decode(prefix)
        return self.tokenizer.decode([*prefix, token])[len(before) :]

    def _inputs(self, body: dict[str, Any]) -> tuple[Any, list[int]]:
        images, messages = [], []
        for message in body["messages"]:
            content = message["content"]
            if isinstance(content, list):
                items = []
                for item in content:
                    if item["type"] == "image_url":
                        data = item["image_url"]["url"].split(",", 1)[1]
                        from PIL import Image

                        images.append(
                            np.array(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))
                        )
                        items.append({"type": "image"})
                    else:
                        items.append(item)
                content = items
            messages.append({"role": message["role"], "content": content})
        cont = bool(body.get("continue_final_message", False))
        add = bool(body.get("add_generation_prompt", not cont))
        text = self.processor.apply_chat_template(
            messages, add_generation_prompt=add, continue_final_message=cont, tokenize=False
        )
        enc = self.processor(text=[text], images=images or None, return_tensors="pt")
        return enc, enc["input_ids"][0].tolist()

    def tokenize(self, body: dict[str, Any]) -> dict[str, Any]:
        if "messages" in body:
            _, ids = self._inputs(
                {
                    "messages": body["messages"],
                    "add_generation_prompt": body.get("add_generation_prompt", True),
                    "continue_final_message": body.get("continue_final_message", False),
                }
            )
        else:
            ids = self.tokenizer(
                body["prompt"], add_special_tokens=bool(body.get("add_special_tokens", True))
            )["input_ids"]
        out: dict[str, Any] = {"count": len(ids), "max_model_len": 4096, "tokens": list(ids)}
        out["token_strs"] = (
            self.tokenizer.convert_ids_to_tokens(list(ids))
            if body.get("return_token_strs")
            else None
        )
        return out

    def detokenize(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"prompt": self.tokenizer.decode([int(t) for t in body["tokens"]])}

    def tokenizer_info(self) -> dict[str, Any]:
        tok = self.tokenizer
        return {
            "tokenizer_class": type(tok).__name__,
            **{k: getattr(tok, k) for k in ("pad_token", "unk_token", "bos_token", "eos_token")},
        }

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        for message in body["messages"]:
            if message["role"] == "user" and isinstance(message["content"], list):
                self.sent_prompts += [i["text"] for i in message["content"] if i["type"] == "text"]
        enc, ids = self._inputs(body)
        with torch.no_grad():
            logits = self.hf(**enc).logits[0].float()
        logp = torch.log_softmax(logits, dim=-1)
        out: dict[str, Any] = {
            "id": f"cmpl-{self.requests}",
            "object": "chat.completion",
            "model": self.name,
        }
        if body.get("prompt_logprobs") is not None:
            k = int(body["prompt_logprobs"])
            entries: list[Any] = [None]
            for i in range(1, len(ids)):
                row = logp[i - 1]
                tok = ids[i]
                ranked = torch.argsort(row, descending=True)
                chosen = {tok, *ranked[:k].tolist()}
                entries.append(
                    {
                        str(c): {
                            "logprob": float(row[c]),
                            "rank": int((row > row[c]).sum()) + 1,
                            "decoded_token": self._decode_delta(ids[:i], c),
                        }
                        for c in chosen
                    }
                )
            out["prompt_logprobs"] = entries
        # Greedy generation, reading raw log-probabilities at each step.
        max_tokens = int(body.get("max_tokens") or 16)
        top_k = int(body.get("top_logprobs") or 0)
        generated: list[int] = []
        content = []
        finish = "length"
        seq = dict(enc)
        step_logp = logp[-1]
        stop = self.hf.generation_config.eos_token_id
        stop = set(stop if isinstance(stop, list) else [stop])
        suppressed = list(self.hf.generation_config.suppress_tokens or [])
        for _ in range(max_tokens):
            allowed = step_logp.clone()
            allowed[suppressed] = -float("inf")  # as the model's generation config asks
            token = int(torch.argmax(allowed))
            prefix = ids + generated
            entry = {"token": self._decode_delta(prefix, token), "logprob": float(step_logp[token])}
            entry["bytes"] = list(entry["token"].encode())
            if top_k:
                entry["top_logprobs"] = [
                    {
                        "token": (d := self._decode_delta(prefix, int(c))),
                        "logprob": float(step_logp[c]),
                        "bytes": list(d.encode()),
                    }
                    for c in torch.argsort(step_logp, descending=True)[:top_k].tolist()
                ]
            if token in stop:
                finish = "stop"
                break
            generated.append(token)
            content.append(entry)
            extended = torch.tensor([ids + generated])
            seq = {**dict(enc), "input_ids": extended, "attention_mask": torch.ones_like(extended)}
            if "mm_token_type_ids" in enc:
                seq["mm_token_type_ids"] = torch.cat(
                    [enc["mm_token_type_ids"], torch.zeros((1, len(generated)), dtype=torch.long)],
                    dim=1,
                )
            with torch.no_grad():
                step_logp = torch.log_softmax(self.hf(**seq).logits[0, -1].float(), dim=-1)
        message = {
            "role": "assistant",
            "content": self.tokenizer.decode(generated, skip_special_tokens=True),
        }
        choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": finish}
        if body.get("logprobs"):
            choice["logprobs"] = {"content": content}
        out["choices"] = [choice]
        out["usage"] = {"prompt_tokens": len(ids), "completion_tokens": len(generated)}
        return out

    # ------------------------------------------------------------------ HTTP side

    def _check(self, body: dict[str, Any]) -> str | None:
        if self.flavor == "openai":
            for key in VLLM_ONLY:
                if key in body:
                    return f"Unrecognized request argument supplied: {key}"
            if int(body.get("top_logprobs") or 0) > 20:
                return "top_logprobs must be at most 20"
        if body.get("model") != self.name:
            return f"The model `{body.get('model')}` does not exist."
        return None

    def __enter__(self) -> str:
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                if self.path == "/tokenizer_info" and server_self.serve_tokenizer_info:
                    self._send(200, server_self.tokenizer_info())
                else:
                    self._send(404, {"detail": "Not Found"})

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                # an internal error is answered as HTTP 500 with its text, as servers do,
                # instead of dropping the connection
                try:
                    self._post()
                except Exception as err:  # noqa: BLE001 - reported to the client
                    self._send(
                        500,
                        {
                            "error": {
                                "message": f"{type(err).__name__}: {err}",
                                "type": "internal_server_error",
                            }
                        },
                    )

            def _post(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path in ("/tokenize", "/detokenize") and server_self.serve_tokenize:
                    if body.get("model") not in (None, server_self.name):
                        self._send(404, {"error": {"message": "The model does not exist."}})
                        return
                    with server_self.lock:
                        handler = getattr(server_self, self.path[1:])
                        self._send(200, handler(body))
                    return
                if self.path != "/v1/chat/completions":
                    self._send(404, {"detail": "Not Found"})
                    return
                problem = server_self._check(body)
                if problem:
                    self._send(
                        400, {"error": {"message": problem, "type": "invalid_request_error"}}
                    )
                    return
                with server_self.lock:
                    server_self.requests += 1
                    payload = server_self.complete(body)
                self._send(200, payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __exit__(self, *exc: Any) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
