#!/usr/bin/env python3
"""A stub LLM provider for the meter's e2e tests and benchmark.

Answers the Anthropic Messages API (/v1/messages, /v1/messages/count_tokens) and the OpenAI
Chat Completions and Responses APIs in their exact wire formats, streaming and not, with
fixed, known usage (USAGE below). Every request is appended as one JSON line to the record
file: path, model, stream flag and the credential it carried, so tests can check what
reached the provider. Prints "PORT=<n>" on its first line (it binds port 0).

Special models: "stub-error-midstream" (a streamed error after the first events),
"stub-cut" (the connection closes mid-stream), "stub-500" (an upstream 500 error).

Usage: stub_provider.py RECORD_FILE [EVENT_DELAY_MS]
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

USAGE = {
    "anthropic": {"input_tokens": 11, "cache_read_input_tokens": 100,
                  "cache_creation_input_tokens": 20,
                  "cache_creation": {"ephemeral_5m_input_tokens": 20,
                                     "ephemeral_1h_input_tokens": 0},
                  "output_tokens": 7},
    "chat": {"prompt_tokens": 50, "completion_tokens": 9, "total_tokens": 59,
             "prompt_tokens_details": {"cached_tokens": 10},
             "completion_tokens_details": {"reasoning_tokens": 2}},
    "responses": {"input_tokens": 60, "input_tokens_details": {"cached_tokens": 20},
                  "output_tokens": 12, "output_tokens_details": {"reasoning_tokens": 3},
                  "total_tokens": 72},
}
TEXT = "Hello from the stub provider."
RECORD_LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self, body):
        entry = {"path": self.path, "method": self.command,
                 "model": body.get("model") if isinstance(body, dict) else None,
                 "stream": bool(body.get("stream")) if isinstance(body, dict) else False,
                 "x-api-key": self.headers.get("x-api-key"),
                 "authorization": self.headers.get("authorization"),
                 "anthropic-version": self.headers.get("anthropic-version"),
                 "anthropic-beta": self.headers.get("anthropic-beta"),
                 "stream_options": body.get("stream_options") if isinstance(body, dict) else None}
        for cap in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
            entry[cap] = body.get(cap) if isinstance(body, dict) else None
        with RECORD_LOCK, open(self.server.record_file, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def read_body(self):
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return {}

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", "req_stub")
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
        if self.server.delay:
            time.sleep(self.server.delay)

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def cut(self):
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(2)

    def do_GET(self):
        self.record({})
        self.send_json(404, {"type": "error", "error": {"type": "not_found_error",
                                                        "message": "stub: no such path"}})

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_POST(self):
        body = self.read_body()
        self.record(body)
        path = self.path.split("?")[0]
        model = body.get("model", "") if isinstance(body, dict) else ""
        if model == "stub-500":
            self.send_json(500, {"type": "error", "error": {"type": "api_error",
                                                            "message": "stub upstream failure"}})
            return
        if path == "/v1/messages/count_tokens":
            self.send_json(200, {"input_tokens": 42})
        elif path == "/v1/messages":
            self.anthropic(body, model)
        elif path == "/v1/chat/completions":
            self.chat(body, model)
        elif path == "/v1/responses":
            self.openai_responses(body, model)
        else:
            self.send_json(404, {"error": {"message": "stub: no such path " + path,
                                           "type": "invalid_request_error"}})

    def anthropic(self, body, model):
        usage = USAGE["anthropic"]
        message = {"id": "msg_stub", "type": "message", "role": "assistant", "model": model,
                   "content": [{"type": "text", "text": TEXT}], "stop_reason": "end_turn",
                   "stop_sequence": None, "usage": usage}
        if not body.get("stream"):
            self.send_json(200, message)
            return
        self.start_stream()
        start = dict(message, content=[], stop_reason=None,
                     usage=dict(usage, output_tokens=1))

        def ev(name, data):
            self.chunk("event: %s\ndata: %s\n\n" % (name, json.dumps(data)))

        ev("message_start", {"type": "message_start", "message": start})
        ev("content_block_start", {"type": "content_block_start", "index": 0,
                                   "content_block": {"type": "text", "text": ""}})
        ev("ping", {"type": "ping"})
        ev("content_block_delta", {"type": "content_block_delta", "index": 0,
                                   "delta": {"type": "text_delta", "text": TEXT}})
        if model == "stub-error-midstream":
            ev("error", {"type": "error", "error": {"type": "overloaded_error",
                                                    "message": "Overloaded"}})
            self.end_stream()
            return
        if model == "stub-cut":
            self.cut()
            return
        ev("content_block_stop", {"type": "content_block_stop", "index": 0})
        ev("message_delta", {"type": "message_delta",
                             "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                             "usage": {"output_tokens": usage["output_tokens"]}})
        ev("message_stop", {"type": "message_stop"})
        self.end_stream()

    def chat(self, body, model):
        usage = USAGE["chat"]
        base = {"id": "chatcmpl-stub", "object": "chat.completion", "created": 1764000000,
                "model": model, "system_fingerprint": "fp_stub"}
        if not body.get("stream"):
            self.send_json(200, dict(base, choices=[{
                "index": 0, "message": {"role": "assistant", "content": TEXT, "refusal": None},
                "logprobs": None, "finish_reason": "stop"}], usage=usage))
            return
        include_usage = (body.get("stream_options") or {}).get("include_usage") is True
        self.start_stream()
        chunk = dict(base, object="chat.completion.chunk")
        extra = {"usage": None} if include_usage else {}

        def data(obj):
            self.chunk("data: %s\n\n" % json.dumps(obj))

        data(dict(chunk, choices=[{"index": 0, "delta": {"role": "assistant", "content": ""},
                                   "logprobs": None, "finish_reason": None}], **extra))
        data(dict(chunk, choices=[{"index": 0, "delta": {"content": TEXT}, "logprobs": None,
                                   "finish_reason": None}], **extra))
        if model == "stub-cut":
            self.cut()
            return
        data(dict(chunk, choices=[{"index": 0, "delta": {}, "logprobs": None,
                                   "finish_reason": "stop"}], **extra))
        if include_usage:
            data(dict(chunk, choices=[], usage=usage))
        self.chunk("data: [DONE]\n\n")
        self.end_stream()

    def openai_responses(self, body, model):
        usage = USAGE["responses"]
        item = {"id": "msg_stub", "type": "message", "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "text": TEXT, "annotations": []}]}
        response = {"id": "resp_stub", "object": "response", "created_at": 1764000000,
                    "status": "completed", "model": model, "output": [item], "usage": usage,
                    "error": None, "incomplete_details": None, "instructions": None,
                    "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
                    "temperature": 1.0, "top_p": 1.0, "metadata": {}}
        if not body.get("stream"):
            self.send_json(200, response)
            return
        self.start_stream()
        seq = [0]

        def ev(obj):
            obj["sequence_number"] = seq[0]
            seq[0] += 1
            self.chunk("event: %s\ndata: %s\n\n" % (obj["type"], json.dumps(obj)))

        pending = dict(response, status="in_progress", output=[], usage=None)
        ev({"type": "response.created", "response": pending})
        ev({"type": "response.in_progress", "response": pending})
        ev({"type": "response.output_item.added", "output_index": 0,
            "item": dict(item, status="in_progress", content=[])})
        ev({"type": "response.content_part.added", "item_id": "msg_stub", "output_index": 0,
            "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}})
        ev({"type": "response.output_text.delta", "item_id": "msg_stub", "output_index": 0,
            "content_index": 0, "delta": TEXT})
        if model == "stub-cut":
            self.cut()
            return
        ev({"type": "response.output_text.done", "item_id": "msg_stub", "output_index": 0,
            "content_index": 0, "text": TEXT})
        ev({"type": "response.content_part.done", "item_id": "msg_stub", "output_index": 0,
            "content_index": 0, "part": item["content"][0]})
        ev({"type": "response.output_item.done", "output_index": 0, "item": item})
        ev({"type": "response.completed", "response": response})
        self.end_stream()


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.record_file = sys.argv[1]
    server.delay = (float(sys.argv[2]) / 1000.0) if len(sys.argv) > 2 else 0
    print("PORT=%d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
