/** The thin side-effect layer: every call the page makes to the gateway lives here. */

import { IDENTITY_HEADER } from "./identity";
import type { Failure } from "./problems";
import { interpretChunk, SseParser } from "./sse";

/** A JSON GET/POST that never hangs: it gives up after `timeoutMs`. */
export async function fetchJson(
  path: string,
  init: { method?: string; body?: unknown; identity?: string; timeoutMs?: number } = {},
): Promise<{ ok: true; status: number; body: unknown } | { ok: false; failure: Failure }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), init.timeoutMs ?? 8000);
  try {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (init.body !== undefined) headers["Content-Type"] = "application/json";
    if (init.identity) headers[IDENTITY_HEADER] = init.identity;
    const response = await fetch(path, {
      method: init.method ?? "GET",
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      cache: "no-store",
      signal: controller.signal,
    });
    const body: unknown = await response.json().catch(() => null);
    if (!response.ok) {
      return { ok: false, failure: httpFailure(response, body) };
    }
    return { ok: true, status: response.status, body };
  } catch {
    return { ok: false, failure: { kind: "network" } };
  } finally {
    clearTimeout(timer);
  }
}

export interface StreamCallbacks {
  onFirstToken(): void;
  onText(text: string): void;
}

export interface StreamOptions {
  question: string;
  model: string;
  /** the identity token the gateway issued to this phone */
  identity: string;
  counted: boolean;
  /** give up when the first token has not come after this long (a cold start takes minutes) */
  firstTokenTimeoutMs: number;
  /** give up when the stream stops moving for this long after the first token */
  stallTimeoutMs: number;
  /** the person pressed "cancel" */
  signal: AbortSignal;
  /** where to POST; the page uses the gateway's own origin */
  endpoint?: string;
}

/**
 * Streams an answer from /v1/chat/completions. Resolves with null when the answer completed,
 * "cancelled" when the person cancelled, or the failure (it never rejects, never hangs).
 */
export async function streamAnswer(
  options: StreamOptions,
  callbacks: StreamCallbacks,
): Promise<Failure | "cancelled" | null> {
  const controller = new AbortController();
  const cancel = () => controller.abort();
  options.signal.addEventListener("abort", cancel);
  let timedOut: Failure | null = null;
  let timer = setTimeout(() => {
    timedOut = { kind: "first-token-timeout", seconds: Math.round(options.firstTokenTimeoutMs / 1000) };
    controller.abort();
  }, options.firstTokenTimeoutMs);
  const armStall = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = { kind: "stalled", seconds: Math.round(options.stallTimeoutMs / 1000) };
      controller.abort();
    }, options.stallTimeoutMs);
  };
  try {
    const response = await fetch(options.endpoint ?? "/v1/chat/completions", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "text/event-stream",
        [IDENTITY_HEADER]: options.identity,
        "X-Tubedemo-Counted": options.counted ? "true" : "false",
      },
      body: JSON.stringify({
        model: options.model || undefined,
        stream: true,
        messages: [{ role: "user", content: options.question }],
      }),
      cache: "no-store",
      signal: controller.signal,
    });
    if (!response.ok) {
      const body: unknown = await response.json().catch(() => null);
      return httpFailure(response, body);
    }
    if (response.body === null) return { kind: "stream-error", message: "empty body" };
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser();
    let started = false;
    const handle = (payloads: string[]): Failure | "done" | null => {
      for (const payload of payloads) {
        const meaning = interpretChunk(payload);
        if (meaning.kind === "error") return { kind: "stream-error", message: meaning.message };
        if (meaning.kind === "done") return "done";
        if (meaning.kind === "text") {
          if (!started) {
            started = true;
            callbacks.onFirstToken();
          }
          callbacks.onText(meaning.text);
        }
      }
      return null;
    };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (started) armStall();
      const outcome = handle(parser.push(decoder.decode(value, { stream: true })));
      if (started) armStall();
      if (outcome === "done") {
        await reader.cancel().catch(() => undefined);
        return null;
      }
      if (outcome !== null) return outcome;
    }
    const tail = handle(parser.finish());
    if (tail !== null && tail !== "done") return tail;
    return started ? null : { kind: "stream-error", message: "no answer" };
  } catch {
    if (timedOut !== null) return timedOut;
    if (options.signal.aborted) return "cancelled";
    return { kind: "network" };
  } finally {
    clearTimeout(timer);
    options.signal.removeEventListener("abort", cancel);
  }
}

function httpFailure(response: Response, body: unknown): Failure {
  return {
    kind: "http",
    status: response.status,
    message: errorText(body),
    code: errorCode(body),
    retryAfter: response.headers.get("Retry-After"),
  };
}

function errorCode(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const error = (body as Record<string, unknown>).error;
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as Record<string, unknown>).code;
  return typeof code === "string" ? code : undefined;
}

function errorText(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const error = (body as Record<string, unknown>).error;
  if (typeof error === "object" && error !== null) {
    const message = (error as Record<string, unknown>).message;
    if (typeof message === "string") return message;
  }
  const detail = (body as Record<string, unknown>).detail;
  return typeof detail === "string" ? detail : undefined;
}
