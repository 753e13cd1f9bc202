import { describe, expect, it } from "vitest";
import {
  forgetIdentity,
  IDENTITY_KEY,
  issuedIdentity,
  type KeyValueStore,
  loadIdentity,
  retryDelayMs,
  saveIdentity,
  withQuestionAsked,
  withSubmission,
  withWin,
} from "./identity";

class MemoryStore implements KeyValueStore {
  map = new Map<string, string>();
  getItem(k: string) {
    return this.map.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.map.set(k, v);
  }
}

/** A token shaped as the gateway issues them: id.session.issued.mac */
function token(session: string, id = "AbCdEfGhIjKlMnOpQrStUv"): string {
  return `${id}.${session}.1765000000.0123456789abcdefABCDEF`;
}

function issued(session: string, id?: string) {
  const identity = issuedIdentity({ token: token(session, id) }, session);
  if (identity === null) throw new Error("not an identity");
  return identity;
}

describe("issuedIdentity", () => {
  it("takes the id the gateway gave from its signed token", () => {
    const identity = issued("s1");
    expect(identity).toEqual({
      session: "s1",
      clientId: "AbCdEfGhIjKlMnOpQrStUv",
      token: token("s1"),
      asked: 0,
      submission: null,
      won: false,
    });
  });

  it("refuses an answer that is not a token of this talk session", () => {
    for (const body of [null, {}, { token: 3 }, { token: "phone-1" }, { token: token("s2") }]) {
      expect(issuedIdentity(body, "s1")).toBeNull();
    }
  });
});

describe("loadIdentity", () => {
  it("has nothing on a first visit: the page asks the gateway", () => {
    expect(loadIdentity(new MemoryStore(), "s1")).toBeNull();
  });

  it("survives a reload within the same talk session", () => {
    const store = new MemoryStore();
    const first = withQuestionAsked(issued("s1"));
    saveIdentity(store, first);
    expect(loadIdentity(store, "s1")).toEqual(first);
  });

  it("remembers a win across a reload of the same talk session", () => {
    const store = new MemoryStore();
    saveIdentity(store, withWin(issued("s1")));
    expect(loadIdentity(store, "s1")?.won).toBe(true);
    expect(loadIdentity(store, "s2")).toBeNull();
  });

  it("has nothing for a new talk session: last talk's count and raffle entry are gone", () => {
    const store = new MemoryStore();
    const first = withSubmission(withQuestionAsked(issued("s1")), {
      id: "sub-1",
      rating: 5,
      company: "TfL",
      name: null,
    });
    saveIdentity(store, first);
    expect(loadIdentity(store, "s2")).toBeNull();
  });

  it("ignores what an earlier page version stored (ids the phone made up)", () => {
    const store = new MemoryStore();
    store.setItem(
      "tubedemo.identity.v1",
      JSON.stringify({ session: "s1", clientId: "3f9a1c2e-0000-4000-8000-000000000000" }),
    );
    expect(loadIdentity(store, "s1")).toBeNull();
  });

  it("replaces corrupt or tampered storage instead of failing", () => {
    for (const raw of ["{", "null", '"x"', '{"session":"s1","token":"made-up"}']) {
      const store = new MemoryStore();
      store.setItem(IDENTITY_KEY, raw);
      expect(loadIdentity(store, "s1")).toBeNull();
    }
  });

  it("forgets an identity the gateway no longer knows", () => {
    const store = new MemoryStore();
    saveIdentity(store, issued("s1"));
    forgetIdentity(store);
    expect(loadIdentity(store, "s1")).toBeNull();
  });

  it("keeps working when storage throws (private mode)", () => {
    const broken: KeyValueStore = {
      getItem() {
        throw new Error("denied");
      },
      setItem() {
        throw new Error("denied");
      },
    };
    saveIdentity(broken, issued("s1"));
    forgetIdentity(broken);
    expect(loadIdentity(broken, "s1")).toBeNull();
  });
});

describe("retryDelayMs", () => {
  it("waits as long as the gateway's Retry-After says, within a minute", () => {
    expect(retryDelayMs("7", 0)).toBe(7000);
    expect(retryDelayMs("600", 0)).toBe(60_000);
  });

  it("backs off by itself when the gateway names no delay", () => {
    expect([0, 1, 2, 3, 10].map((a) => retryDelayMs(null, a))).toEqual([1000, 2000, 4000, 8000, 30_000]);
  });
});
