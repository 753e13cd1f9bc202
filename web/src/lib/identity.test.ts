import { describe, expect, it } from "vitest";
import {
  IDENTITY_KEY,
  type KeyValueStore,
  loadIdentity,
  newClientId,
  peekClientId,
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

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("newClientId", () => {
  it("is a version 4 UUID even from all-ones random bytes", () => {
    expect(newClientId((b) => b.fill(0xff))).toMatch(UUID_V4);
    expect(newClientId()).toMatch(UUID_V4);
  });

  it("differs between calls", () => {
    expect(newClientId()).not.toBe(newClientId());
  });
});

describe("loadIdentity", () => {
  it("creates and stores a fresh identity on first visit", () => {
    const store = new MemoryStore();
    const id = loadIdentity(store, "s1");
    expect(id).toMatchObject({ session: "s1", asked: 0, submission: null, won: false });
    expect(id.clientId).toMatch(UUID_V4);
    expect(JSON.parse(store.getItem(IDENTITY_KEY) ?? "")).toEqual(id);
  });

  it("survives a reload within the same talk session", () => {
    const store = new MemoryStore();
    const first = withQuestionAsked(loadIdentity(store, "s1"));
    saveIdentity(store, first);
    expect(loadIdentity(store, "s1")).toEqual(first);
  });

  it("peeks the stored client id before the talk session is known", () => {
    const store = new MemoryStore();
    expect(peekClientId(store)).toBeNull();
    const id = loadIdentity(store, "s1");
    expect(peekClientId(store)).toBe(id.clientId);
  });

  it("remembers a win across a reload of the same talk session", () => {
    const store = new MemoryStore();
    saveIdentity(store, withWin(loadIdentity(store, "s1")));
    expect(loadIdentity(store, "s1").won).toBe(true);
    expect(loadIdentity(store, "s2").won).toBe(false);
  });

  it("starts afresh when the talk session changes", () => {
    const store = new MemoryStore();
    const first = withSubmission(withQuestionAsked(loadIdentity(store, "s1")), {
      id: "sub-1",
      rating: 5,
      company: "TfL",
      name: null,
    });
    saveIdentity(store, first);
    const second = loadIdentity(store, "s2");
    expect(second.session).toBe("s2");
    expect(second.clientId).not.toBe(first.clientId);
    expect(second.asked).toBe(0);
    expect(second.submission).toBeNull();
  });

  it("replaces corrupt or tampered storage instead of failing", () => {
    for (const raw of ["{", "null", '"x"', '{"session":"s1","clientId":"not-a-uuid"}']) {
      const store = new MemoryStore();
      store.setItem(IDENTITY_KEY, raw);
      expect(loadIdentity(store, "s1").clientId).toMatch(UUID_V4);
    }
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
    expect(loadIdentity(broken, "s1").session).toBe("s1");
  });
});
