#!/usr/bin/env python3
"""The demo's stub LLM provider: the Anthropic Messages API and OpenAI Chat Completions, in
their wire formats, streaming and not, with usage that behaves like real agent traffic.

- Prompt size is counted from the request (about 4 bytes a token), so context that grows
  turn by turn costs more turn by turn.
- Prompt caching: per conversation (its system prompt and first message), the prefix seen
  on the previous call is read from the cache; what is new is written to it (Anthropic:
  cache_read_input_tokens and cache_creation_input_tokens; OpenAI: cached_tokens).
- Output: a length drawn from a long-tailed distribution seeded by the request body (the
  same request gets the same answer); with `tools` in the request the answer is a tool
  call (tool_use / tool_calls), otherwise a final text. OpenAI reasoning models report a
  share of the output as reasoning tokens.
- Latency: a base delay plus time per output token, scaled by --latency-scale.

Every answered call is appended to --ledger as one JSON line (api, model, the run its
client named in the x-demo-run header, usage): the provider's own view, which the demo
prints next to agentbudget's. Prints "PORT=<n>" first.

Usage: stub_provider.py --ledger FILE [--port 0] [--latency-scale 1.0]
"""
import argparse
import hashlib
import json
import math
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOOLS = ["Read", "Grep", "Edit", "Bash"]
LOCK = threading.Lock()
CACHE = {}  # conversation key -> prompt tokens cached after its previous call


def tokens(value):
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return max(1, (len(text.encode()) + 3) // 4)


def conversation_key(api, body):
    messages = body.get("messages") or [{}]
    return hashlib.sha256(json.dumps([api, body.get("system"), messages[0]],
                                     sort_keys=True).encode()).hexdigest()


def prompt_usage(api, body):
    """(total prompt tokens, cached, newly cached, uncached) for this request."""
    messages = body.get("messages") or []
    total = tokens(body.get("system") or "") + tokens(body.get("tools") or []) + tokens(messages)
    last = tokens(messages[-1]) if messages else total
    key = conversation_key(api, body)
    with LOCK:
        cached = min(CACHE.get(key, 0), total)
        cacheable = max(cached, total - last)
        CACHE[key] = cacheable
    return total, cached, cacheable - cached, total - cacheable


def output_tokens(body, rng):
    # Log-normal around ~400 tokens with a long tail, bounded by the request's own cap.
    drawn = int(math.exp(rng.gauss(math.log(400), 0.7)))
    cap = body.get("max_tokens") or body.get("max_completion_tokens") or 32000
    return max(20, min(drawn, cap, 6000))


def filler(count, rng):
    words = ["the", "test", "fails", "because", "refund", "ledger", "rounds", "cents", "so",
             "patch", "function", "returns", "error", "when", "input", "is", "empty", "fix"]
    return " ".join(rng.choice(words) for _ in range(max(1, count * 4 // 5)))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def read_body(self):
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        return raw, body

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def start_stream(self):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("cache-control", "no-cache")
        self.end_headers()

    def chunk(self, text):
        data = text.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def record(self, api, model, usage):
        with LOCK, open(self.server.ledger, "a") as f:
            f.write(json.dumps({"at": time.time(), "api": api, "model": model,
                                "run": self.headers.get("x-demo-run"),
                                "usage": usage}) + "\n")

    def wait(self, output, rng):
        time.sleep(self.server.latency_scale * (0.15 + output / 5000.0 + rng.random() * 0.1))

    def do_POST(self):
        raw, body = self.read_body()
        path = self.path.split("?")[0]
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            self.send_json(400, {"type": "error", "error": {
                "type": "invalid_request_error", "message": "stub: body must be a JSON object "
                                                            "with a string model"}})
            return
        rng = random.Random(hashlib.sha256(raw).digest())
        if path == "/v1/messages/count_tokens":
            self.send_json(200, {"input_tokens": prompt_usage("anthropic", body)[0]})
        elif path == "/v1/messages":
            self.anthropic(body, rng)
        elif path == "/v1/chat/completions":
            self.chat(body, rng)
        else:
            self.send_json(404, {"error": {"message": "stub: no such path " + path,
                                           "type": "invalid_request_error"}})

    def do_GET(self):
        self.send_json(404, {"error": {"message": "stub: no such path " + self.path,
                                       "type": "invalid_request_error"}})

    def anthropic(self, body, rng):
        model = body["model"]
        _, cached, written, uncached = prompt_usage("anthropic", body)
        output = output_tokens(body, rng)
        usage = {"input_tokens": uncached, "cache_read_input_tokens": cached,
                 "cache_creation_input_tokens": written,
                 "cache_creation": {"ephemeral_5m_input_tokens": written,
                                    "ephemeral_1h_input_tokens": 0},
                 "output_tokens": output}
        text = filler(output if not body.get("tools") else output // 2, rng)
        content = [{"type": "text", "text": text}]
        if body.get("tools"):
            tool = rng.choice(TOOLS)
            content.append({"type": "tool_use", "id": "toolu_%016x" % rng.getrandbits(64),
                            "name": tool, "input": {"command": filler(output // 2, rng)}})
        stop = "tool_use" if body.get("tools") else "end_turn"
        message = {"id": "msg_%016x" % rng.getrandbits(64), "type": "message",
                   "role": "assistant", "model": model, "content": content,
                   "stop_reason": stop, "stop_sequence": None, "usage": usage}
        self.wait(output, rng)
        self.record("anthropic", model, usage)
        if not body.get("stream"):
            self.send_json(200, message)
            return
        self.start_stream()

        def event(name, data):
            self.chunk("event: %s\ndata: %s\n\n" % (name, json.dumps(data)))

        event("message_start", {"type": "message_start", "message": dict(
            message, content=[], stop_reason=None, usage=dict(usage, output_tokens=1))})
        for index, block in enumerate(content):
            if block["type"] == "text":
                event("content_block_start", {"type": "content_block_start", "index": index,
                                              "content_block": {"type": "text", "text": ""}})
                event("content_block_delta", {"type": "content_block_delta", "index": index,
                                              "delta": {"type": "text_delta",
                                                        "text": block["text"]}})
            else:
                event("content_block_start", {"type": "content_block_start", "index": index,
                                              "content_block": dict(block, input={})})
                event("content_block_delta", {"type": "content_block_delta", "index": index,
                                              "delta": {"type": "input_json_delta",
                                                        "partial_json": json.dumps(block["input"])}})
            event("content_block_stop", {"type": "content_block_stop", "index": index})
        event("message_delta", {"type": "message_delta",
                                "delta": {"stop_reason": stop, "stop_sequence": None},
                                "usage": {"output_tokens": output}})
        event("message_stop", {"type": "message_stop"})
        self.end_stream()

    def chat(self, body, rng):
        model = body["model"]
        total, cached, _, _ = prompt_usage("openai", body)
        output = output_tokens(body, rng)
        reasoning = output * 3 // 10 if model.startswith(("gpt-5", "o")) else 0
        usage = {"prompt_tokens": total, "completion_tokens": output,
                 "total_tokens": total + output,
                 "prompt_tokens_details": {"cached_tokens": cached},
                 "completion_tokens_details": {"reasoning_tokens": reasoning}}
        message = {"role": "assistant", "content": filler(output - reasoning, rng),
                   "refusal": None}
        finish = "stop"
        if body.get("tools"):
            message["tool_calls"] = [{
                "id": "call_%016x" % rng.getrandbits(64), "type": "function",
                "function": {"name": rng.choice(TOOLS).lower(),
                             "arguments": json.dumps({"command": filler(20, rng)})}}]
            finish = "tool_calls"
        base = {"id": "chatcmpl-%016x" % rng.getrandbits(64), "created": int(time.time()),
                "model": model, "system_fingerprint": "fp_stub"}
        self.wait(output, rng)
        self.record("openai", model, usage)
        if not body.get("stream"):
            self.send_json(200, dict(base, object="chat.completion", usage=usage, choices=[
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}]))
            return
        include_usage = (body.get("stream_options") or {}).get("include_usage") is True
        extra = {"usage": None} if include_usage else {}
        chunk = dict(base, object="chat.completion.chunk")

        def data(obj):
            self.chunk("data: %s\n\n" % json.dumps(obj))

        self.start_stream()
        data(dict(chunk, choices=[{"index": 0, "delta": {"role": "assistant", "content": ""},
                                   "logprobs": None, "finish_reason": None}], **extra))
        data(dict(chunk, choices=[{"index": 0, "delta": {"content": message["content"]},
                                   "logprobs": None, "finish_reason": None}], **extra))
        for i, call in enumerate(message.get("tool_calls", [])):
            data(dict(chunk, choices=[{"index": 0, "delta": {"tool_calls": [dict(call, index=i)]},
                                       "logprobs": None, "finish_reason": None}], **extra))
        data(dict(chunk, choices=[{"index": 0, "delta": {}, "logprobs": None,
                                   "finish_reason": finish}], **extra))
        if include_usage:
            data(dict(chunk, choices=[], usage=usage))
        self.chunk("data: [DONE]\n\n")
        self.end_stream()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ledger", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-scale", type=float, default=1.0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.ledger = args.ledger
    server.latency_scale = args.latency_scale
    print("PORT=%d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
