import { describe, expect, it } from "vitest";
import { histogramPercents, parseResults } from "../screen/results";
import { countedQuestionsLeft, parseConfig } from "./config";
import { kindMessage } from "./problems";
import { statusStrip } from "./status";
import { drawOutcome, nextOutcome, ticketCode, winnerCards } from "./winners";

const CONFIG = {
  mode: "quiz",
  title: "Mind the GPU",
  audience_url: "https://talk.example/",
  session: "s-1",
  model: "llama",
  quiz: { max_prompt_chars: 200, questions_per_person: 1, answer_timeout_s: 90 },
  survey: { company_max_chars: 80, name_max_chars: 40 },
};

describe("parseConfig", () => {
  it("reads the contract's fields", () => {
    expect(parseConfig(CONFIG)).toEqual({
      mode: "quiz",
      title: "Mind the GPU",
      audienceUrl: "https://talk.example/",
      session: "s-1",
      model: "llama",
      maxPromptChars: 200,
      questionsPerPerson: 1,
      companyMaxChars: 80,
      nameMaxChars: 40,
      answerTimeoutS: 90,
    });
  });

  it("switches to survey when the mode says so", () => {
    expect(parseConfig({ ...CONFIG, mode: "survey" })?.mode).toBe("survey");
  });

  it("rejects an unknown mode or a missing session (the page keeps polling)", () => {
    expect(parseConfig({ ...CONFIG, mode: "party" })).toBeNull();
    expect(parseConfig({ ...CONFIG, session: "" })).toBeNull();
    expect(parseConfig(null)).toBeNull();
  });

  it("falls back to safe limits when they are missing or nonsense", () => {
    const c = parseConfig({ mode: "quiz", session: "s", quiz: { max_prompt_chars: -3 } });
    expect(c?.maxPromptChars).toBe(300);
    expect(c?.questionsPerPerson).toBe(1);
    expect(c?.answerTimeoutS).toBe(120); // gateway.answer_timeout's default
  });
});

describe("countedQuestionsLeft", () => {
  it("allows one counted question by default and none after it", () => {
    expect(countedQuestionsLeft(0, 1)).toBe(1);
    expect(countedQuestionsLeft(1, 1)).toBe(0);
    expect(countedQuestionsLeft(5, 1)).toBe(0);
  });
});

describe("statusStrip", () => {
  const live = {
    available: true,
    age_s: 1.2,
    queue: 7,
    multiplier: 50,
    virtual_commuters: 350,
    replicas: { ready: 2, desired: 4, max: 10 },
    gpu_nodes: 3,
    updated_at: "2026-01-01T00:00:00Z",
  };

  it("computes virtual commuters as queue times multiplier", () => {
    expect(statusStrip(live)).toMatchObject({ queue: 7, virtualCommuters: 350, podsReady: 2, podsDesired: 4, gpuNodes: 3 });
  });

  it("says scaling up while desired pods exceed ready ones", () => {
    expect(statusStrip(live)).toMatchObject({ scaling: "up" });
    expect(statusStrip({ ...live, replicas: { ready: 4, desired: 4 } })).toMatchObject({ scaling: "steady" });
  });

  it("is unavailable when stale, missing or unreachable", () => {
    expect(statusStrip({ ...live, available: false })).toEqual({ available: false });
    expect(statusStrip(undefined)).toEqual({ available: false });
  });
});

describe("drawOutcome", () => {
  const drawn = { session: "s-1", drawn: true, winners: [{ id: "sub-9", name: "Ada" }] };

  it("is not drawn before the draw", () => {
    expect(drawOutcome({ session: "s-1", drawn: false, winners: [] }, "s-1", "sub-9")).toBe("not-drawn");
  });

  it("lights up the phone whose submission won", () => {
    expect(drawOutcome(drawn, "s-1", "sub-9")).toBe("won");
  });

  it("tells everyone else the draw happened", () => {
    expect(drawOutcome(drawn, "s-1", "sub-1")).toBe("lost");
  });

  it("keeps a win when a later redraw names other people", () => {
    expect(nextOutcome("won", "lost")).toBe("won");
    expect(nextOutcome("not-drawn", "lost")).toBe("lost");
    expect(nextOutcome("lost", "won")).toBe("won");
  });

  it("never lights up a phone that did not submit", () => {
    expect(drawOutcome(drawn, "s-1", null)).toBe("lost");
  });

  it("ignores a draw from another talk session", () => {
    expect(drawOutcome(drawn, "s-2", "sub-9")).toBe("not-drawn");
  });

  it("names anonymous winners kindly and gives each a ticket code", () => {
    expect(winnerCards({ winners: [{ id: "ab-12cd-ef", name: "" }, { id: "b", name: "Bo" }] })).toEqual([
      { name: "Anonymous commuter", ticket: "AB12CD" },
      { name: "Bo", ticket: "B" },
    ]);
  });

  it("shows the same ticket code on the phone and the screen", () => {
    expect(ticketCode("3f9a1c2e-0000-4000-8000-000000000000")).toBe("3F9A1C");
  });
});

describe("presenter results", () => {
  it("reads the histogram, average and top companies", () => {
    const r = parseResults({
      session: "s",
      total: 4,
      ratings: { "1": 0, "2": 0, "3": 1, "4": 1, "5": 2 },
      top_companies: [{ company: "TfL", count: 3 }],
      questions: 12,
    });
    expect(r).toMatchObject({ total: 4, questions: 12, ratings: [0, 0, 1, 1, 2], average: 4.25 });
    expect(r?.topCompanies).toEqual([{ company: "TfL", count: 3 }]);
  });

  it("scales bars to the tallest and draws nothing when empty", () => {
    expect(histogramPercents([0, 0, 1, 1, 2])).toEqual([0, 0, 50, 50, 100]);
    expect(histogramPercents([0, 0, 0, 0, 0])).toEqual([0, 0, 0, 0, 0]);
  });
});

describe("kindMessage", () => {
  it("offers a retry for overload and timeouts, not for a rejected input", () => {
    expect(kindMessage({ kind: "http", status: 503 }).retry).toBe(true);
    expect(kindMessage({ kind: "first-token-timeout", seconds: 180 }).retry).toBe(true);
    expect(kindMessage({ kind: "network" }).retry).toBe(true);
    expect(kindMessage({ kind: "http", status: 422, message: "too long" })).toMatchObject({
      retry: false,
      detail: "too long",
    });
  });
});
