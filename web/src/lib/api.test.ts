/**
 * The stream client against a real HTTP server on loopback (the fake vLLM from e2e/, which
 * speaks OpenAI SSE): timeouts, cancel, HTTP errors and the assembled answer.
 */
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answerFor, type FakeVllm, startFakeVllm } from "../../e2e/fake-vllm.mjs";
import { type StreamOptions, streamAnswer } from "./api";

let fake: FakeVllm;
beforeAll(async () => {
  fake = await startFakeVllm({ tokenDelayMs: 5, slowFirstTokenMs: 3000, stallMs: 3000 });
});
afterAll(async () => {
  await fake.close();
});

function options(question: string, overrides: Partial<StreamOptions> = {}): StreamOptions {
  return {
    question,
    model: "fake-llama",
    identity: "AAAAAAAAAAAAAAAAAAAAAA.s1.1.BBBBBBBBBBBBBBBBBBBBBB",
    counted: false,
    firstTokenTimeoutMs: 2000,
    stallTimeoutMs: 2000,
    signal: new AbortController().signal,
    endpoint: `http://127.0.0.1:${fake.port}/v1/chat/completions`,
    ...overrides,
  };
}

async function collect(o: StreamOptions) {
  let text = "";
  let firsts = 0;
  const outcome = await streamAnswer(o, {
    onFirstToken: () => firsts++,
    onText: (t) => (text += t),
  });
  return { outcome, text, firsts };
}

describe("streamAnswer", () => {
  it("assembles the streamed answer and reports the first token once", async () => {
    const r = await collect(options("Which line is oldest?"));
    expect(r).toEqual({ outcome: null, text: answerFor("Which line is oldest?"), firsts: 1 });
  });

  it("sends the identity the gateway issued and the counted header", async () => {
    await collect(options("headers please", { counted: false }));
    const sent = fake.requests.find((q) => q.question === "headers please");
    expect(sent?.headers["x-tubedemo-identity"]).toBe("AAAAAAAAAAAAAAAAAAAAAA.s1.1.BBBBBBBBBBBBBBBBBBBBBB");
    expect(sent?.headers["x-client-id"]).toBeUndefined();
    expect(sent?.headers["x-tubedemo-counted"]).toBe("false");
  });

  it("gives up kindly when no first token comes in time", async () => {
    const started = Date.now();
    const r = await collect(options("[slow] anyone there?", { firstTokenTimeoutMs: 300 }));
    expect(r.outcome).toEqual({ kind: "first-token-timeout", seconds: 0 });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("gives up when the stream stalls after the first words, keeping what arrived", async () => {
    const r = await collect(options("[stall] go on", { stallTimeoutMs: 300 }));
    expect(r.outcome).toMatchObject({ kind: "stalled" });
    expect(r.text.length).toBeGreaterThan(0);
  });

  it("returns the HTTP status of a refused request", async () => {
    const r = await collect(options("[flaky] once"));
    expect(r.outcome).toMatchObject({ kind: "http", status: 500, message: "fake engine hiccup" });
  });

  it("stops at once when the person cancels", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    const r = await collect(options("[slow] never mind", { signal: controller.signal }));
    expect(r.outcome).toBe("cancelled");
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it("reports a network failure when nothing listens", async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = s.address() as net.AddressInfo;
        s.close(() => resolve(port));
      });
    });
    const r = await collect(options("hello", { endpoint: `http://127.0.0.1:${closed}/v1/chat/completions` }));
    expect(r.outcome).toEqual({ kind: "network" });
  });
});
