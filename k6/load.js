// tubedemo's load: phones asking the tube-bot (quiz) and phones waiting for the raffle (survey).
//
// Honest load: every iteration is a real request to the gateway. Configured only by environment
// (tubedemo show/load set these; by hand, export them or pass `-e NAME=value`):
//
//   TUBEDEMO_BASE_URL            gateway base URL                       (http://localhost:8080)
//   TUBEDEMO_MODEL               model name sent in requests            (llama-3.1-8b)
//   TUBEDEMO_SCENARIOS           k6 scenarios as JSON (tubedemo show --dry-run prints them);
//                                without it: TUBEDEMO_VUS VUs for TUBEDEMO_DURATION   (2, 30s)
//   TUBEDEMO_PROMPTS_FILE        absolute path, one question per line   (bundled tube-questions.txt)
//   TUBEDEMO_AUDIENCE_QUESTIONS  1: ask what the audience asked (GET /api/admin/questions)
//   TUBEDEMO_ADMIN_TOKEN         bearer token for the admin API (audience questions)
//   TUBEDEMO_LOAD_TOKEN          the gateway's load credential (tubedemo derives it from the
//                                admin token); without it the gateway refuses the load (401)
//   TUBEDEMO_THINK_TIME          seconds between a VU's requests          (1)
//   TUBEDEMO_REQUEST_TIMEOUT     seconds before a request counts failed   (120)
//   TUBEDEMO_MAX_ERROR_RATE      fail the run above this failed fraction  (0.05)
//   TUBEDEMO_SUMMARY_FILE        write the end-of-test summary JSON here (optional)
//
// Works on k6 1.x and 2.x: scenarios only (no externally-controlled executor, no REST API).
//
// The load is not phones: it carries the load credential instead of phone identities, so no
// per-phone or per-address limit throttles it and nothing it asks is counted as a question;
// it still takes its turn for the fleet's slots (one lane of the gateway's fair queue).
//
// Time to first token: k6 core has no SSE parser and no per-chunk timestamps; the only honest
// timing it gives is the time to the first byte of the response (timings.waiting), recorded as
// tubedemo_ttfb for every stream that did carry content. It equals TTFT only when the server
// sends its headers together with the first token: vLLM sends them *before* the first token,
// but the gateway holds them until vLLM's first chunk, so through the gateway this is TTFT
// (aimed straight at vLLM it would be time-to-headers). A question that waits longer than the
// gateway's keep-alive interval (CloudFront drops an origin silent for 60 s) gets its headers
// and `: keep-alive` comments first; the gateway then writes, just before the first token, the
// comment `: first-token-after-headers-ms=N`, and TTFT is the first byte plus N.
// The body is parsed after the stream ends to count tokens and to check that a content chunk
// and [DONE] arrived (a stream that broke mid-way, or ended in an error event, counts as
// failed). Other comment lines (`: keep-alive`) are nothing.

import http from "k6/http";
import { sleep } from "k6";
import exec from "k6/execution";
import { Counter, Rate, Trend } from "k6/metrics";

const env = __ENV;
const BASE_URL = (env.TUBEDEMO_BASE_URL || "http://localhost:8080").replace(/\/+$/, "");
const MODEL = env.TUBEDEMO_MODEL || "llama-3.1-8b";
const THINK_TIME = number(env.TUBEDEMO_THINK_TIME, 1);
const REQUEST_TIMEOUT = number(env.TUBEDEMO_REQUEST_TIMEOUT, 120);
const MAX_ERROR_RATE = number(env.TUBEDEMO_MAX_ERROR_RATE, 0.05);
const LOAD_AUTH = env.TUBEDEMO_LOAD_TOKEN ? `Bearer ${env.TUBEDEMO_LOAD_TOKEN}` : "";

// Custom metrics (names are read by tubedemo's report and dashboard).
const ttfb = new Trend("tubedemo_ttfb", true); // ms: time to first token of a streamed answer
const answerTime = new Trend("tubedemo_answer_time", true); // ms: request start -> stream end
const tokens = new Counter("tubedemo_tokens"); // completion tokens received
const failed = new Rate("tubedemo_failed"); // transport error, 5xx, unexpected 4xx, broken stream
const refused = new Counter("tubedemo_refused"); // 409/429: the gateway refusing by design

function number(text, fallback) {
  const value = Number(text);
  return text !== undefined && text !== "" && Number.isFinite(value) ? value : fallback;
}

function readPrompts() {
  const path = env.TUBEDEMO_PROMPTS_FILE || "./tube-questions.txt";
  const lines = open(path)
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  if (lines.length === 0) {
    throw new Error(`no questions in ${path}`);
  }
  return lines;
}

const FILE_PROMPTS = readPrompts();

function defaultScenarios() {
  return {
    load: {
      executor: "constant-vus",
      vus: number(env.TUBEDEMO_VUS, 2),
      duration: env.TUBEDEMO_DURATION || "30s",
      exec: "quiz",
      tags: { phase: "load" },
    },
  };
}

export const options = {
  scenarios: env.TUBEDEMO_SCENARIOS ? JSON.parse(env.TUBEDEMO_SCENARIOS) : defaultScenarios(),
  thresholds: { tubedemo_failed: [`rate<=${MAX_ERROR_RATE}`] },
  summaryTrendStats: ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)", "count"],
  setupTimeout: "30s",
};

// 409 (wrong mode) and 429 (rate limit) are the gateway doing its job, not errors. (A 503
// when every slot of the fleet is taken and the queue timed out is a failure: the load wanted
// an answer and the fleet could not give one.)
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 399 }, 409, 429));

const CHAT_HEADERS = {
  "Content-Type": "application/json",
  Accept: "text/event-stream",
  "X-Tubedemo-Counted": "false",
  ...(LOAD_AUTH ? { Authorization: LOAD_AUTH } : {}),
};

function questionText(item) {
  if (typeof item === "string") return item;
  if (item && typeof item === "object") return item.text || item.question || item.prompt || "";
  return "";
}

export function setup() {
  if (!LOAD_AUTH) {
    console.warn("TUBEDEMO_LOAD_TOKEN is not set: the gateway will refuse the load (401)");
  }
  if (env.TUBEDEMO_AUDIENCE_QUESTIONS !== "1" && env.TUBEDEMO_AUDIENCE_QUESTIONS !== "true") {
    return { questions: [] };
  }
  const res = http.get(`${BASE_URL}/api/admin/questions`, {
    headers: { Authorization: `Bearer ${env.TUBEDEMO_ADMIN_TOKEN || ""}` },
    tags: { name: "admin-questions" },
    responseCallback: http.expectedStatuses({ min: 200, max: 599 }),
  });
  let questions = [];
  if (res.status === 200) {
    try {
      const body = res.json();
      const list = Array.isArray(body) ? body : body.questions || [];
      questions = list.map(questionText).filter((q) => q && q.trim());
    } catch (e) {
      questions = [];
    }
  }
  if (questions.length === 0) {
    console.warn(
      `audience questions unavailable (HTTP ${res.status}); using the questions file instead`,
    );
  }
  return { questions };
}

// The gateway's note before the first token of a stream it committed early (keep-alives).
const FIRST_TOKEN_NOTE = ": first-token-after-headers-ms=";

// Reads an OpenAI streaming body: content chunks, completion tokens, [DONE], error events.
export function readStream(body) {
  const result = { chunks: 0, usageTokens: null, done: false, error: null, afterHeadersMs: 0 };
  if (typeof body !== "string") return result;
  for (const raw of body.split("\n")) {
    const line = raw.trim();
    if (line.startsWith(FIRST_TOKEN_NOTE)) {
      const ms = Number(line.slice(FIRST_TOKEN_NOTE.length));
      if (Number.isFinite(ms) && ms >= 0) result.afterHeadersMs = ms;
      continue;
    }
    if (!line.startsWith("data:")) continue;
    const data = line.slice(5).trim();
    if (data === "[DONE]") {
      result.done = true;
      continue;
    }
    let event;
    try {
      event = JSON.parse(data);
    } catch (e) {
      continue;
    }
    if (event.error) {
      result.error = event.error.message || String(event.error);
      continue;
    }
    const choice = event.choices && event.choices[0];
    if (choice && choice.delta && choice.delta.content) result.chunks += 1;
    if (event.usage && Number.isFinite(event.usage.completion_tokens)) {
      result.usageTokens = event.usage.completion_tokens;
    }
  }
  return result;
}

function think() {
  // Arrival-rate phases pace themselves; a VU that sleeps there only wastes a slot.
  if (THINK_TIME > 0 && !String(exec.scenario.executor).includes("arrival-rate")) {
    sleep(THINK_TIME);
  }
}

export function quiz(data) {
  const prompts = data && data.questions && data.questions.length ? data.questions : FILE_PROMPTS;
  const question = prompts[Math.floor(Math.random() * prompts.length)];
  const res = http.post(
    `${BASE_URL}/v1/chat/completions`,
    JSON.stringify({
      model: MODEL,
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: question }],
    }),
    {
      headers: CHAT_HEADERS,
      timeout: `${REQUEST_TIMEOUT}s`,
      tags: { name: "chat" },
    },
  );
  if (res.status === 409 || res.status === 429) {
    refused.add(1);
  } else if (res.status !== 200) {
    failed.add(true);
  } else {
    const stream = readStream(res.body);
    const ok = stream.chunks > 0 && stream.done && stream.error === null;
    failed.add(!ok);
    if (ok) {
      ttfb.add(res.timings.waiting + stream.afterHeadersMs);
      answerTime.add(res.timings.duration);
      tokens.add(stream.usageTokens !== null ? stream.usageTokens : stream.chunks);
    }
  }
  think();
}

export function survey() {
  // A phone in survey mode: reads the mode, then polls for the raffle result (public reads).
  const headers = {};
  for (const [path, name] of [
    ["/config", "config"],
    ["/api/survey/winners", "winners"],
  ]) {
    const res = http.get(`${BASE_URL}${path}`, { headers, tags: { name }, timeout: "30s" });
    if (res.status === 409 || res.status === 429) {
      refused.add(1);
    } else {
      failed.add(res.status !== 200);
    }
  }
  sleep(2);
}

export default quiz;

function metric(data, name, stat) {
  const m = data.metrics[name];
  return m && m.values && m.values[stat] !== undefined ? m.values[stat] : null;
}

function fmt(value, unit) {
  return value === null ? "-" : `${Math.round(value)}${unit}`;
}

export function handleSummary(data) {
  const line =
    `tubedemo load: ${metric(data, "http_reqs", "count") || 0} requests, ` +
    `failed ${(100 * (metric(data, "tubedemo_failed", "rate") || 0)).toFixed(1)}%, ` +
    `refused ${metric(data, "tubedemo_refused", "count") || 0}, ` +
    `TTFB p50 ${fmt(metric(data, "tubedemo_ttfb", "med"), "ms")} ` +
    `p95 ${fmt(metric(data, "tubedemo_ttfb", "p(95)"), "ms")}, ` +
    `tokens ${metric(data, "tubedemo_tokens", "count") || 0}\n`;
  const out = { stdout: line };
  if (env.TUBEDEMO_SUMMARY_FILE) {
    out[env.TUBEDEMO_SUMMARY_FILE] = JSON.stringify(data, null, 2);
  }
  return out;
}
