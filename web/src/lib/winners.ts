/** The raffle from a phone's point of view. Pure. */

export type DrawOutcome = "not-drawn" | "won" | "lost";

/**
 * Did this phone win? `value` is the GET /api/survey/winners body; winners are named by the
 * submission id the gateway returned on submit (docs/api.md).
 */
export function drawOutcome(value: unknown, session: string, submissionId: string | null): DrawOutcome {
  if (typeof value !== "object" || value === null) return "not-drawn";
  const v = value as Record<string, unknown>;
  if (v.session !== session || v.drawn !== true) return "not-drawn";
  const winners = Array.isArray(v.winners) ? v.winners : [];
  const won = winners.some((w: unknown) => {
    if (typeof w !== "object" || w === null) return false;
    const id = (w as Record<string, unknown>).id;
    return typeof id === "string" && submissionId !== null && id === submissionId;
  });
  return won ? "won" : "lost";
}

/**
 * A win sticks: a later redraw (for a second prize, or because a winner was absent) names other
 * people, and the earlier winner's phone must not flip to "not you this time".
 */
export function nextOutcome(previous: DrawOutcome, polled: DrawOutcome): DrawOutcome {
  return previous === "won" ? "won" : polled;
}

/**
 * A short code both the winning phone and the presenter screen show, so the speaker can check
 * a winner at the front even when they gave no name.
 */
export function ticketCode(id: string): string {
  return id.replace(/[^0-9a-z]/gi, "").slice(0, 6).toUpperCase();
}

export interface WinnerCard {
  name: string;
  ticket: string;
}

/** The winners as the presenter screen shows them. */
export function winnerCards(value: unknown): WinnerCard[] {
  if (typeof value !== "object" || value === null) return [];
  const winners = (value as Record<string, unknown>).winners;
  if (!Array.isArray(winners)) return [];
  return winners.map((w: unknown) => {
    const r = typeof w === "object" && w !== null ? (w as Record<string, unknown>) : {};
    const name = typeof r.name === "string" && r.name.trim() !== "" ? r.name : "Anonymous commuter";
    return { name, ticket: typeof r.id === "string" ? ticketCode(r.id) : "" };
  });
}
