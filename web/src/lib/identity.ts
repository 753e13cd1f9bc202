/**
 * Who this phone is, per talk session: the identity the gateway issued to it (a signed token
 * from POST /api/identity), how many counted questions it asked and its survey submission.
 * Kept in localStorage so a reload keeps it; a new talk session (the `session` from /config)
 * needs a new identity, so the next talk's raffle is fair. The phone never makes one up: the
 * gateway refuses identities it did not sign.
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
  /** the id the gateway knows this phone by (the first part of the token) */
  clientId: string;
  /** the signed token sent as X-Tubedemo-Identity */
  token: string;
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

/** v2: identities the gateway issued (v1 held ids the phone made up, which it now refuses). */
export const IDENTITY_KEY = "tubedemo.identity.v2";

/** Request header carrying the identity token. */
export const IDENTITY_HEADER = "X-Tubedemo-Identity";

const TOKEN = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{1,64})\.(\d{1,12})\.([A-Za-z0-9_-]{22})$/;

/**
 * The identity for a POST /api/identity answer, or null when the answer is not one (the page
 * then asks again). The token must belong to `session`.
 */
export function issuedIdentity(body: unknown, session: string): Identity | null {
  if (typeof body !== "object" || body === null) return null;
  const token = (body as Record<string, unknown>).token;
  if (typeof token !== "string") return null;
  const parts = TOKEN.exec(token);
  if (parts === null || parts[2] !== session) return null;
  return { session, clientId: parts[1], token, asked: 0, submission: null, won: false };
}

/** The stored identity for `session`, or null when none is stored or it belongs to another session. */
export function loadIdentity(store: KeyValueStore, session: string): Identity | null {
  const stored = readStored(store);
  return stored !== null && stored.session === session ? stored : null;
}

export function saveIdentity(store: KeyValueStore, identity: Identity): void {
  try {
    store.setItem(IDENTITY_KEY, JSON.stringify(identity));
  } catch {
    // private mode or a full quota: the page still works, only a reload forgets
  }
}

/** Forget the stored identity (the gateway said it no longer knows it). */
export function forgetIdentity(store: KeyValueStore): void {
  try {
    store.setItem(IDENTITY_KEY, "null");
  } catch {
    // nothing stored, nothing to forget
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

/** Seconds to wait before asking for an identity again after a refusal (Retry-After, bounded). */
export function retryDelayMs(retryAfter: string | null, attempt: number): number {
  const told = Number(retryAfter);
  const seconds = Number.isFinite(told) && told > 0 ? told : Math.min(30, 2 ** attempt);
  return Math.min(60, Math.max(1, seconds)) * 1000;
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
  if (typeof v.session !== "string" || typeof v.token !== "string") return null;
  const issued = issuedIdentity({ token: v.token }, v.session);
  if (issued === null) return null;
  const asked = typeof v.asked === "number" && Number.isFinite(v.asked) ? Math.max(0, v.asked) : 0;
  return { ...issued, asked, submission: readSubmission(v.submission), won: v.won === true };
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
