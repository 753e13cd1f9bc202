import { describe, expect, it } from "vitest";
import { interpretChunk, SseParser } from "./sse";

const chunk = (content: string) =>
  `data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}}}]}\n\n`;

describe("SseParser", () => {
  it("returns one payload per event terminated by a blank line", () => {
    const p = new SseParser();
    expect(p.push(chunk("Mind") + chunk(" the gap"))).toHaveLength(2);
  });

  it("keeps a line split across chunks until it is complete", () => {
    const p = new SseParser();
    const whole = chunk("Aldgate");
    expect(p.push(whole.slice(0, 17))).toEqual([]);
    const events = p.push(whole.slice(17));
    expect(events).toHaveLength(1);
    expect(interpretChunk(events[0])).toEqual({ kind: "text", text: "Aldgate" });
  });

  it("treats a CRLF split between two chunks as one line break", () => {
    const p = new SseParser();
    expect(p.push("data: one\r")).toEqual([]);
    expect(p.push("\n\r\n")).toEqual(["one"]);
  });

  it("joins multi-line data with newlines and ignores comments and other fields", () => {
    const p = new SseParser();
    expect(p.push(": keep-alive\nevent: message\nid: 7\ndata: a\ndata: b\n\n")).toEqual(["a\nb"]);
  });

  it("delivers an unterminated last event when the stream ends", () => {
    const p = new SseParser();
    expect(p.push("data: [DONE]")).toEqual([]);
    expect(p.finish()).toEqual(["[DONE]"]);
  });

  it("byte-at-a-time feeding yields the same payloads as one chunk", () => {
    const text = chunk("Baker") + chunk("loo") + "data: [DONE]\n\n";
    const p = new SseParser();
    const out: string[] = [];
    for (const ch of text) out.push(...p.push(ch));
    expect(out).toEqual(new SseParser().push(text));
    expect(out).toHaveLength(3);
  });
});

describe("interpretChunk", () => {
  it("recognises the end marker", () => {
    expect(interpretChunk("[DONE]")).toEqual({ kind: "done" });
  });

  it("surfaces an error payload sent mid-stream", () => {
    expect(interpretChunk('{"error":{"message":"upstream gone","type":"x"}}')).toEqual({
      kind: "error",
      message: "upstream gone",
    });
  });

  it("ignores role-only and empty deltas, and garbage", () => {
    expect(interpretChunk('{"choices":[{"delta":{"role":"assistant"}}]}').kind).toBe("ignore");
    expect(interpretChunk('{"choices":[{"delta":{"content":""}}]}').kind).toBe("ignore");
    expect(interpretChunk("not json").kind).toBe("ignore");
    expect(interpretChunk('{"choices":[]}').kind).toBe("ignore");
  });

  it("reads a non-streaming message body too", () => {
    expect(interpretChunk('{"choices":[{"message":{"role":"assistant","content":"Hi"}}]}')).toEqual({
      kind: "text",
      text: "Hi",
    });
  });
});
