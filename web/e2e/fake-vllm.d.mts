// Types for fake-vllm.mjs, so the Vitest tests of the stream client can start it.
export const MODEL: string;
export function answerFor(question: string): string;
export interface FakeVllm {
  port: number;
  requests: { question: string; stream: boolean; headers: Record<string, unknown> }[];
  close(): Promise<void>;
}
export function startFakeVllm(options?: {
  tokenDelayMs?: number;
  slowFirstTokenMs?: number;
  stallMs?: number;
}): Promise<FakeVllm>;
