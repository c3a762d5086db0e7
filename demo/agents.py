"""Simulated coding agents: the LLM side of an agent loop, speaking the Anthropic Messages
API or OpenAI Chat Completions to a base URL (the run's meter), stdlib only.

An agent keeps its whole conversation and resends it every turn, as coding agents do: a
large system prompt and tool definitions, the task, then per turn the model's answer (text
plus a tool call) and the tool's result (file contents, test output). Context therefore
grows turn by turn and the provider serves most of it from its prompt cache.

Behaviours:
- `coding`: works for `turns` turns with tools, then asks for a final answer.
- `runaway`: a retry loop: the same failing test, its growing log appended every time,
  never converging; only a ceiling stops it.

`Agent.step()` makes one call and returns a Turn; a denial by the meter (HTTP 400 whose
message starts "agentbudget: call denied") is returned as such, never retried.
"""
import http.client
import json
import random
import urllib.parse
from dataclasses import dataclass

SYSTEM_WORDS = ("You are a careful software engineer working in a monorepo. Follow the "
                "repository's conventions, run the tests before you finish, and explain "
                "every change. ").split()
DENIAL_PREFIX = "agentbudget: call denied"


@dataclass
class Turn:
    status: int                 # HTTP status of the call
    model: str = ""             # the model that answered (the fallback when degraded)
    tool_call: bool = False     # the answer asked for a tool
    denied: str = ""            # the meter's denial message, when denied
    error: str = ""             # any other failure


def words(rng, count):
    return " ".join(rng.choice(SYSTEM_WORDS) for _ in range(count))


def tool_schema(name):
    return {"name": name, "description": "Runs %s in the sandbox. %s" % (name, " ".join(
        ["Use it to inspect or change the working tree."] * 8)),
            "input_schema": {"type": "object", "properties": {
                "command": {"type": "string", "description": "what to run"}},
                "required": ["command"]}}


class Agent:
    """One agent run's conversation with one model through one base URL. Not thread-safe."""

    def __init__(self, api, model, task, behaviour, turns, seed, stream, run_id=""):
        self.api = api
        # Sent as the x-demo-run header, which the meter passes on: the stub provider's
        # ledger names the run of each call it answered, so the demo's e2e test can
        # reconcile each run's FOCUS rows with it.
        self.run_id = run_id
        self.model = model
        self.behaviour = behaviour
        self.turns = turns
        self.stream = stream
        self.rng = random.Random(seed)
        self.done_turns = 0
        self.system = words(self.rng, 2200)
        self.tools = [tool_schema(name) for name in ("Read", "Grep", "Edit", "Bash")]
        self.messages = [{"role": "user", "content": task}]
        if api == "openai":
            self.messages.insert(0, {"role": "system", "content": self.system})

    @property
    def finished(self):
        return self.behaviour != "runaway" and self.done_turns > self.turns

    def step(self, base_url):
        """One LLM call through `base_url`; the conversation advances unless it was denied."""
        final = self.behaviour != "runaway" and self.done_turns >= self.turns
        if self.api == "anthropic":
            turn, answer = self._anthropic(base_url, final)
        else:
            turn, answer = self._openai(base_url, final)
        if turn.status == 200:
            self.done_turns += 1
            self._advance(answer, turn)
        return turn

    def _tool_output(self):
        if self.behaviour == "runaway":
            # The same test fails again; the log grows with every retry.
            return "FAILED tests/test_index.py::test_ranking_stable - AssertionError\n" + \
                words(self.rng, 300 + 40 * self.done_turns)
        return words(self.rng, self.rng.choice([150, 400, 900, 1800, 3000]))

    def _advance(self, answer, turn):
        if self.api == "anthropic":
            self.messages.append({"role": "assistant", "content": answer})
            uses = [b for b in answer if b.get("type") == "tool_use"]
            if uses:
                self.messages.append({"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": u["id"], "content": self._tool_output()}
                    for u in uses]})
            elif not self.finished:
                self.messages.append({"role": "user", "content": "Continue."})
        else:
            self.messages.append(answer)
            for call in answer.get("tool_calls") or []:
                self.messages.append({"role": "tool", "tool_call_id": call["id"],
                                      "content": self._tool_output()})

    def _post(self, base_url, path, body, headers):
        url = urllib.parse.urlparse(base_url)
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
        try:
            connection.request("POST", url.path + path, body=json.dumps(body).encode(),
                               headers=dict(headers, **{"content-type": "application/json",
                                                        "x-demo-run": self.run_id}))
            response = connection.getresponse()
            return response.status, response.read().decode(errors="replace")
        except OSError as error:
            return 0, str(error)
        finally:
            connection.close()

    @staticmethod
    def _failure(status, text):
        try:
            message = json.loads(text)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = text[:200]
        if status == 400 and message.startswith(DENIAL_PREFIX):
            return Turn(status, denied=message)
        return Turn(status, error="HTTP %d: %s" % (status, message))

    def _anthropic(self, base_url, final):
        body = {"model": self.model, "max_tokens": 32000, "system": self.system,
                "messages": self.messages, "stream": self.stream}
        if not final:
            body["tools"] = self.tools
        status, text = self._post(base_url, "/v1/messages", body,
                                  {"x-api-key": "placeholder", "anthropic-version": "2023-06-01"})
        if status != 200:
            return self._failure(status, text), None
        if self.stream:
            model, content = parse_anthropic_stream(text)
        else:
            message = json.loads(text)
            model, content = message["model"], message["content"]
        tool = any(block.get("type") == "tool_use" for block in content)
        return Turn(200, model=model, tool_call=tool), content

    def _openai(self, base_url, final):
        body = {"model": self.model, "messages": self.messages, "stream": self.stream}
        if not final:
            body["tools"] = [{"type": "function", "function": {
                "name": t["name"].lower(), "description": t["description"],
                "parameters": t["input_schema"]}} for t in self.tools]
        status, text = self._post(base_url, "/chat/completions", body,
                                  {"authorization": "Bearer placeholder"})
        if status != 200:
            return self._failure(status, text), None
        if self.stream:
            model, message = parse_chat_stream(text)
        else:
            answer = json.loads(text)
            model, message = answer["model"], answer["choices"][0]["message"]
        message = {k: v for k, v in message.items() if k in ("role", "content", "tool_calls")}
        return Turn(200, model=model, tool_call=bool(message.get("tool_calls"))), message


def sse_events(text):
    for block in text.replace("\r\n", "\n").split("\n\n"):
        data = [line[5:].strip() for line in block.split("\n") if line.startswith("data:")]
        if data and data[0] != "[DONE]":
            yield json.loads("\n".join(data))


def parse_anthropic_stream(text):
    model, blocks = "", {}
    for event in sse_events(text):
        kind = event.get("type")
        if kind == "message_start":
            model = event["message"]["model"]
        elif kind == "content_block_start":
            blocks[event["index"]] = dict(event["content_block"], partial="")
        elif kind == "content_block_delta":
            delta, block = event["delta"], blocks[event["index"]]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "input_json_delta":
                block["partial"] += delta["partial_json"]
    content = []
    for index in sorted(blocks):
        block = blocks[index]
        partial = block.pop("partial")
        if block["type"] == "tool_use":
            block["input"] = json.loads(partial or "{}")
        content.append(block)
    return model, content


def parse_chat_stream(text):
    model, message = "", {"role": "assistant", "content": ""}
    for chunk in sse_events(text):
        model = chunk.get("model", model)
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            message["content"] += delta.get("content") or ""
            for call in delta.get("tool_calls") or []:
                message.setdefault("tool_calls", []).append(
                    {k: v for k, v in call.items() if k != "index"})
    return model, message
