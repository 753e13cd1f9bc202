/**
 * Who this phone is, per talk session: a client id, how many counted questions it asked and
 * its survey submission. Kept in localStorage so a reload keeps it; a new talk session (the
 * `session` from /config) starts a fresh identity so the next talk's raffle is fair.
 *
 * Pure apart from the Storage passed in (tests pass an in-memory one).
 */

export interface Submission {
  /** id the gateway returned for the submission; the raffle names winners by it */
  id: string;
  rating: number;
  company: string;
  name: string | null;
}

export interface Identity {
  session: string;
  clientId: string;
  /** counted questions asked in this talk session */
  asked: number;
  submission: Submission | null;
  /** this phone won a draw of this talk session (kept so a reload or a redraw cannot hide it) */
  won: boolean;
}

/** The subset of the Web Storage API the page uses (so tests can pass a Map-backed one). */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export const IDENTITY_KEY = "tubedemo.identity.v1";

/** A random UUID v4; crypto.randomUUID only exists on secure origins, a talk may be on http. */
export function newClientId(random: (bytes: Uint8Array) => Uint8Array = defaultRandom): string {
  const bytes = random(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function defaultRandom(bytes: Uint8Array): Uint8Array {
  return crypto.getRandomValues(bytes);
}

/** The stored identity for `session`, or a fresh one when none is stored or it belongs to another session. */
export function loadIdentity(
  store: KeyValueStore,
  session: string,
  makeId: () => string = () => newClientId(),
): Identity {
  const stored = readStored(store);
  if (stored !== null && stored.session === session) return stored;
  const fresh: Identity = { session, clientId: makeId(), asked: 0, submission: null, won: false };
  saveIdentity(store, fresh);
  return fresh;
}

/** The stored client id, whatever its session: sent on the first /config, before the session is known. */
export function peekClientId(store: KeyValueStore): string | null {
  return readStored(store)?.clientId ?? null;
}

export function saveIdentity(store: KeyValueStore, identity: Identity): void {
  try {
    store.setItem(IDENTITY_KEY, JSON.stringify(identity));
  } catch {
    // private mode or a full quota: the page still works, only a reload forgets
  }
}

export function withQuestionAsked(identity: Identity): Identity {
  return { ...identity, asked: identity.asked + 1 };
}

export function withSubmission(identity: Identity, submission: Submission): Identity {
  return { ...identity, submission };
}

export function withWin(identity: Identity): Identity {
  return identity.won ? identity : { ...identity, won: true };
}

function readStored(store: KeyValueStore): Identity | null {
  let raw: string | null;
  try {
    raw = store.getItem(IDENTITY_KEY);
  } catch {
    return null;
  }
  if (raw === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const v = value as Record<string, unknown>;
  if (typeof v.session !== "string" || typeof v.clientId !== "string") return null;
  if (!/^[0-9a-f-]{36}$/i.test(v.clientId)) return null;
  const asked = typeof v.asked === "number" && Number.isFinite(v.asked) ? Math.max(0, v.asked) : 0;
  return {
    session: v.session,
    clientId: v.clientId,
    asked,
    submission: readSubmission(v.submission),
    won: v.won === true,
  };
}

function readSubmission(value: unknown): Submission | null {
  if (typeof value !== "object" || value === null) return null;
  const s = value as Record<string, unknown>;
  if (typeof s.id !== "string" || typeof s.rating !== "number" || typeof s.company !== "string") {
    return null;
  }
  const name = typeof s.name === "string" ? s.name : null;
  return { id: s.id, rating: s.rating, company: s.company, name };
}
