/** Kind words for the ways a request can go wrong. Pure: a failure in, a message out. */

export type Failure =
  | { kind: "http"; status: number; message?: string; code?: string; retryAfter?: string | null }
  | { kind: "network" }
  | { kind: "first-token-timeout"; seconds: number }
  | { kind: "stalled"; seconds: number }
  | { kind: "stream-error"; message: string };

export interface KindMessage {
  title: string;
  detail: string;
  /** whether trying again may help (a 4xx for bad input will not) */
  retry: boolean;
}

export function kindMessage(failure: Failure): KindMessage {
  switch (failure.kind) {
    case "network":
      return {
        title: "Signal failure",
        detail: "We couldn't reach the station. Check your connection and try again.",
        retry: true,
      };
    case "first-token-timeout":
      return {
        title: "Severe delays",
        detail: `No answer after ${failure.seconds} s — the trains are packed right now. Please try again in a moment.`,
        retry: true,
      };
    case "stalled":
      return {
        title: "Held at a signal",
        detail: `The answer stopped for ${failure.seconds} s. Try again — it usually moves on quickly.`,
        retry: true,
      };
    case "stream-error":
      return {
        title: "Part closure",
        detail: "The tube-bot lost its train of thought. Please try again.",
        retry: true,
      };
    case "http":
      return httpMessage(failure.status, failure.message);
  }
}

/** The gateway no longer knows this phone's identity (a new talk session, a new key): the
 * page asks for a new one by itself. */
export function identityLost(failure: Failure): boolean {
  return failure.kind === "http" && failure.status === 401 && (failure.code ?? "").startsWith("identity_");
}

function httpMessage(status: number, message: string | undefined): KindMessage {
  if (status === 401) {
    return {
      title: "New ticket please",
      detail: "This page is getting a fresh ticket for the talk. Try again in a moment.",
      retry: true,
    };
  }
  if (status === 503) {
    return {
      title: "Station busy",
      detail: "Every train is full right now. Please try again in a moment.",
      retry: true,
    };
  }
  if (status === 429) {
    return {
      title: "Mind the gap",
      detail: "You're going a bit fast — wait a few seconds, then try again.",
      retry: true,
    };
  }
  if (status === 409) {
    return {
      title: "Change of service",
      detail: "The page is switching modes. It will update by itself in a moment.",
      retry: true,
    };
  }
  if (status >= 400 && status < 500) {
    return {
      title: "Please check your ticket",
      detail: message && message.length < 160 ? message : "The request wasn't accepted.",
      retry: false,
    };
  }
  return {
    title: status === 504 ? "Severe delays" : "Minor delays",
    detail: "The tube-bot is busy or waking up more trains. Please try again in a moment.",
    retry: true,
  };
}
