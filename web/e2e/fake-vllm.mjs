/**
 * FAKE vLLM — a stand-in for the model server, because no GPU or model can run here.
 *
 * It speaks the slice of vLLM's OpenAI-compatible API the gateway uses (/v1/models,
 * /v1/chat/completions with stream true/false, /health, /metrics) and streams its answer word by
 * word with a delay, so the page's streaming is observable. Behaviour keyed by the question:
 *   "[slow]"  first token only after `slowFirstTokenMs` (the page must explain the wait)
 *   "[flaky]" the first request for that question fails with HTTP 500, later ones succeed
 *   "[stall]" three words, then silence for `stallMs` before the stream ends
 *   "[queued]" nothing at all, not even the role chunk, for `slowFirstTokenMs` (a question in
 *             vLLM's queue: vLLM's first chunk comes with the first token); then the answer
 *   "[queued-dies]" queued as above, then the connection drops before any token
 * Run alone: `node e2e/fake-vllm.mjs` prints its port.
 */
import http from "node:http";

export const MODEL = "fake-llama";

export function answerFor(question) {
  return (
    `Mind the gap, guv! You asked: "${question.slice(0, 60)}". ` +
    "The Northern line's Hampstead station is the deepest, about 58 metres down. " +
    "Proper deep, innit — take the lift, not the stairs."
  );
}

function lastUserText(body) {
  const messages = Array.isArray(body?.messages) ? body.messages : [];
  const users = messages.filter((m) => m?.role === "user");
  const last = users[users.length - 1];
  return typeof last?.content === "string" ? last.content : "";
}

/** Starts the fake on 127.0.0.1:0; resolves with { port, close, requests }. */
export function startFakeVllm({ tokenDelayMs = 60, slowFirstTokenMs = 5500, stallMs = 10_000 } = {}) {
  const failedOnce = new Set();
  const requests = [];
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (c) => (raw += c));
    req.on("end", () => {
      if (req.method === "GET" && (req.url === "/health" || req.url === "/ping")) {
        res.writeHead(200).end();
        return;
      }
      if (req.method === "GET" && req.url === "/v1/models") {
        json(res, 200, { object: "list", data: [{ id: MODEL, object: "model", owned_by: "fake" }] });
        return;
      }
      if (req.method === "GET" && req.url === "/metrics") {
        res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4" });
        res.end(
          `vllm:num_requests_waiting{model_name="${MODEL}",engine="0"} 0\n` +
            `vllm:num_requests_running{model_name="${MODEL}",engine="0"} 0\n`,
        );
        return;
      }
      if (req.method === "POST" && req.url === "/v1/chat/completions") {
        let body = {};
        try {
          body = JSON.parse(raw);
        } catch {
          json(res, 400, { error: { message: "invalid JSON", type: "BadRequestError", code: 400 } });
          return;
        }
        const question = lastUserText(body);
        requests.push({ question, stream: body.stream === true, headers: req.headers });
        if (question.includes("[flaky]") && !failedOnce.has(question)) {
          failedOnce.add(question);
          json(res, 500, { error: { message: "fake engine hiccup", type: "InternalServerError", code: 500 } });
          return;
        }
        const answer = answerFor(question);
        if (body.stream !== true) {
          json(res, 200, {
            id: "chatcmpl-fake",
            object: "chat.completion",
            model: MODEL,
            choices: [{ index: 0, message: { role: "assistant", content: answer }, finish_reason: "stop" }],
          });
          return;
        }
        if (question.includes("[queued-dies]")) {
          res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
          res.flushHeaders();
          setTimeout(() => res.destroy(), slowFirstTokenMs);
          return;
        }
        if (question.includes("[queued]")) {
          setTimeout(() => stream(res, answer, tokenDelayMs, tokenDelayMs, 0), slowFirstTokenMs);
          return;
        }
        const firstDelay = question.includes("[slow]") ? slowFirstTokenMs : tokenDelayMs;
        stream(res, answer, firstDelay, tokenDelayMs, question.includes("[stall]") ? stallMs : 0);
        return;
      }
      json(res, 404, { error: { message: "not found", type: "NotFoundError", code: 404 } });
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      resolve({
        port,
        requests,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections?.();
            server.close(() => done());
          }),
      });
    });
  });
}

function json(res, status, value) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(value));
}

function stream(res, answer, firstDelayMs, delayMs, stallMs) {
  res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
  const words = answer.match(/\S+\s*/g) ?? [answer];
  const chunk = (delta, finish = null) =>
    `data: ${JSON.stringify({
      id: "chatcmpl-fake",
      object: "chat.completion.chunk",
      created: Math.floor(Date.now() / 1000),
      model: MODEL,
      choices: [{ index: 0, delta, finish_reason: finish }],
    })}\n\n`;
  res.write(chunk({ role: "assistant", content: "" }));
  let i = 0;
  let closed = false;
  res.on("close", () => (closed = true));
  const next = () => {
    if (closed) return; // the client went away: stop generating, as vLLM frees the slot
    if (i < words.length) {
      res.write(chunk({ content: words[i++] }));
      setTimeout(next, stallMs > 0 && i === 3 ? stallMs : delayMs);
      return;
    }
    res.write(chunk({}, "stop"));
    res.write("data: [DONE]\n\n");
    res.end();
  };
  setTimeout(next, firstDelayMs);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { port } = await startFakeVllm();
  console.log(`fake vLLM on http://127.0.0.1:${port}`);
}
