import { type FormEvent, useState } from "react";
import { fetchJson } from "./lib/api";
import type { PageConfig } from "./lib/config";
import type { Identity, Submission } from "./lib/identity";
import { type Failure, identityLost, kindMessage } from "./lib/problems";
import type { DrawOutcome } from "./lib/winners";

export interface SurveyDraft {
  rating: number | null;
  company: string;
  name: string;
}

interface Props {
  config: PageConfig;
  identity: Identity;
  draft: SurveyDraft;
  setDraft: (draft: SurveyDraft) => void;
  onSubmitted: (submission: Submission) => void;
  /** the gateway said it no longer knows this phone's identity: the page gets a new one */
  onIdentityLost: () => void;
  outcome: DrawOutcome;
}

const RATING_WORDS = ["", "Part closure", "Minor delays", "Good service", "Great service", "Best line!"];

export function Survey({ config, identity, draft, setDraft, onSubmitted, onIdentityLost, outcome }: Props) {
  const [sending, setSending] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);
  const [missingRating, setMissingRating] = useState(false);
  const [missingCompany, setMissingCompany] = useState(false);
  const [editing, setEditing] = useState(false);
  const submitted = identity.submission;

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (sending) return;
    const noRating = draft.rating === null;
    const noCompany = draft.company.trim() === "";
    setMissingRating(noRating);
    setMissingCompany(noCompany);
    if (draft.rating === null || noCompany) return;
    setSending(true);
    setFailure(null);
    const name = draft.name.trim();
    const company = draft.company.trim();
    const r = await fetchJson("/api/survey/submit", {
      method: "POST",
      identity: identity.token,
      timeoutMs: 10_000,
      body: { rating: draft.rating, company, name: name === "" ? null : name },
    });
    setSending(false);
    if (!r.ok) {
      setFailure(r.failure);
      if (identityLost(r.failure)) onIdentityLost();
      return;
    }
    const body = r.body as Record<string, unknown> | null;
    const id = body !== null && typeof body.id === "string" ? body.id : identity.clientId;
    setEditing(false);
    onSubmitted({ id, rating: draft.rating, company, name: name === "" ? null : name });
  }

  if (submitted !== null && !editing) {
    return (
      <section className="survey" aria-labelledby="survey-heading">
        <h2 id="survey-heading">Thanks — you're in the raffle!</h2>
        <div className="confirmation" role="status" data-testid="confirmation">
          <p>
            You rated the talk <strong>{submitted.rating}/5</strong>
            {submitted.company !== "" && (
              <>
                {" "}
                from <strong>{submitted.company}</strong>
              </>
            )}
            .
          </p>
          {outcome === "not-drawn" && (
            <p data-testid="draw-pending">
              Keep this page open: if you win, it lights up right here.
            </p>
          )}
          {outcome === "lost" && (
            <p className="draw-done" data-testid="draw-lost">
              The draw has happened — not you this time. Thanks for riding with us!
            </p>
          )}
          {outcome === "won" && (
            <p className="draw-won" data-testid="draw-won-note">
              You won! Find the speaker at the front.
            </p>
          )}
        </div>
        {outcome === "not-drawn" && (
          <button type="button" className="link" onClick={() => setEditing(true)}>
            Change my answers
          </button>
        )}
      </section>
    );
  }

  return (
    <section className="survey" aria-labelledby="survey-heading">
      <h2 id="survey-heading">How was the journey? Rate the talk and enter the raffle</h2>
      <form onSubmit={submit} data-testid="survey-form" noValidate>
        <fieldset className="rating" aria-describedby={missingRating ? "rating-missing" : undefined}>
          <legend>Your rating</legend>
          <div className="rating-options">
            {[1, 2, 3, 4, 5].map((n) => (
              <label key={n} className={draft.rating === n ? "rating-option selected" : "rating-option"}>
                <input
                  type="radio"
                  name="rating"
                  value={n}
                  checked={draft.rating === n}
                  onChange={() => {
                    setMissingRating(false);
                    setDraft({ ...draft, rating: n });
                  }}
                />
                <span className="rating-number">{n}</span>
                <span className="visually-hidden"> — {RATING_WORDS[n]}</span>
              </label>
            ))}
          </div>
          <p className="rating-word" aria-hidden="true">
            {draft.rating === null ? "1 = poor · 5 = excellent" : RATING_WORDS[draft.rating]}
          </p>
          {missingRating && (
            <p id="rating-missing" className="field-error" role="alert">
              Please pick a rating from 1 to 5.
            </p>
          )}
        </fieldset>
        <label htmlFor="company">Company</label>
        <input
          id="company"
          name="company"
          autoComplete="organization"
          required
          aria-invalid={missingCompany}
          aria-describedby={missingCompany ? "company-missing" : undefined}
          value={draft.company}
          maxLength={config.companyMaxChars}
          onChange={(e) => {
            setMissingCompany(false);
            setDraft({ ...draft, company: e.target.value });
          }}
        />
        {missingCompany && (
          <p id="company-missing" className="field-error" role="alert">
            Please enter your company (or "none").
          </p>
        )}
        <label htmlFor="display-name">
          Display name <span className="optional">(optional, shown if you win)</span>
        </label>
        <input
          id="display-name"
          name="name"
          autoComplete="nickname"
          value={draft.name}
          maxLength={config.nameMaxChars}
          onChange={(e) => setDraft({ ...draft, name: e.target.value })}
        />
        {failure !== null && <SubmitProblem failure={failure} />}
        <button type="submit" className="primary wide" disabled={sending}>
          {sending ? "Sending…" : "Submit & enter the raffle"}
        </button>
      </form>
    </section>
  );
}

function SubmitProblem({ failure }: { failure: Failure }) {
  const m = kindMessage(failure);
  return (
    <div className="problem" role="alert" data-testid="problem">
      <p className="problem-title">{m.title}</p>
      <p>{m.detail}</p>
      {m.retry && <p>Your answers are still here — press submit again.</p>}
    </div>
  );
}
