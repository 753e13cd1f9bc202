/**
 * Server-sent events, as the OpenAI-compatible gateway streams them.
 *
 * Pure: no I/O. The caller feeds decoded text chunks as they arrive from fetch's
 * ReadableStream; chunks may split a line (or even a CRLF pair) anywhere.
 */

/** Incremental SSE parser: returns the `data` payload of every event completed by a chunk. */
export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private pendingCr = false;

  push(chunk: string): string[] {
    let text = chunk;
    if (this.pendingCr) {
      // a CR ended the previous chunk: a LF right after it belongs to the same line break
      if (text.startsWith("\n")) text = text.slice(1);
      this.pendingCr = false;
    }
    if (text.endsWith("\r")) {
      this.pendingCr = true;
    }
    this.buffer += text;
    const events: string[] = [];
    const lines = this.buffer.split(/\r\n|\r|\n/);
    this.buffer = lines.pop() ?? "";
    for (const line of lines) this.line(line, events);
    return events;
  }

  /** End of stream: an event not terminated by a blank line still counts (servers forget it). */
  finish(): string[] {
    const events: string[] = [];
    if (this.buffer !== "") this.line(this.buffer, events);
    this.buffer = "";
    if (this.data.length > 0) {
      events.push(this.data.join("\n"));
      this.data = [];
    }
    return events;
  }

  private line(line: string, events: string[]): void {
    if (line === "") {
      if (this.data.length > 0) events.push(this.data.join("\n"));
      this.data = [];
      return;
    }
    if (line.startsWith(":")) return; // comment / keep-alive
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    // event:, id:, retry: carry nothing the page uses
  }
}

/** What one OpenAI streaming payload means for the answer box. */
export type ChunkMeaning =
  | { kind: "text"; text: string }
  | { kind: "done" }
  | { kind: "error"; message: string }
  | { kind: "ignore" };

/** Interprets one `data:` payload of an OpenAI chat-completions stream. */
export function interpretChunk(data: string): ChunkMeaning {
  const trimmed = data.trim();
  if (trimmed === "[DONE]") return { kind: "done" };
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    return { kind: "ignore" };
  }
  if (!isObject(parsed)) return { kind: "ignore" };
  if (isObject(parsed.error)) {
    const message = typeof parsed.error.message === "string" ? parsed.error.message : "error";
    return { kind: "error", message };
  }
  const choices = parsed.choices;
  if (!Array.isArray(choices) || choices.length === 0) return { kind: "ignore" };
  const first: unknown = choices[0];
  if (!isObject(first)) return { kind: "ignore" };
  const delta = first.delta;
  if (isObject(delta) && typeof delta.content === "string" && delta.content !== "") {
    return { kind: "text", text: delta.content };
  }
  // a non-streaming answer (stream: false) carries message.content instead of delta
  const message = first.message;
  if (isObject(message) && typeof message.content === "string") {
    return { kind: "text", text: message.content };
  }
  return { kind: "ignore" };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
