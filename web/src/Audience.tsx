import { useCallback, useEffect, useRef, useState } from "react";
import { fetchJson } from "./lib/api";
import { type PageConfig, parseConfig } from "./lib/config";
import {
  forgetIdentity,
  type Identity,
  issuedIdentity,
  loadIdentity,
  retryDelayMs,
  type Submission,
  saveIdentity,
  withQuestionAsked,
  withSubmission,
  withWin,
} from "./lib/identity";
import { type DrawOutcome, drawOutcome, nextOutcome, ticketCode } from "./lib/winners";
import { Quiz } from "./Quiz";
import { LineStripe, Roundel } from "./Roundel";
import { StatusStrip } from "./StatusStrip";
import { Survey, type SurveyDraft } from "./Survey";
import { usePoll } from "./usePoll";

/** Mode flips (`tubedemo mode survey`) reach phones within this interval. */
const CONFIG_POLL_MS = 2500;
const WINNERS_POLL_MS = 2000;

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

const memoryStore = new Map<string, string>();
const fallbackStore = {
  getItem: (k: string) => memoryStore.get(k) ?? null,
  setItem: (k: string, v: string) => void memoryStore.set(k, v),
};

/** The phone page: quiz or survey as /config says, with drafts kept across mode flips. */
export function Audience() {
  const [config, setConfig] = useState<PageConfig | null>(null);
  const [configTrouble, setConfigTrouble] = useState(false);
  const [identity, setIdentity] = useState<Identity | null>(null);
  const [question, setQuestion] = useState("");
  const [survey, setSurvey] = useState<SurveyDraft>({ rating: null, company: "", name: "" });
  const [outcome, setOutcome] = useState<DrawOutcome>("not-drawn");
  const [overlayOpen, setOverlayOpen] = useState(true);
  const [identityTrouble, setIdentityTrouble] = useState(false);
  const asking = useRef<string | null>(null);
  const store = storage() ?? fallbackStore;

  usePoll(async () => {
    const r = await fetchJson("/config", { timeoutMs: 5000 });
    const parsed = r.ok ? parseConfig(r.body) : null;
    if (parsed === null) {
      setConfigTrouble(true);
      return;
    }
    setConfigTrouble(false);
    setConfig((old) => (old !== null && JSON.stringify(old) === JSON.stringify(parsed) ? old : parsed));
  }, CONFIG_POLL_MS);

  // a new talk session means a new identity: last talk's question count and raffle entry go.
  // The gateway issues it (POST /api/identity); a refusal (a busy venue network) is retried
  // after the Retry-After the gateway names.
  const session = config?.session ?? null;
  useEffect(() => {
    if (session === null) return;
    if (identity !== null && identity.session === session) return;
    const stored = loadIdentity(store, session);
    if (stored !== null) {
      setIdentity(stored);
      setOutcome(stored.won ? "won" : "not-drawn");
      return;
    }
    if (asking.current === session) return;
    asking.current = session;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ask = async (attempt: number) => {
      const r = await fetchJson("/api/identity", { method: "POST", timeoutMs: 8000 });
      if (stopped) return;
      const issued = r.ok ? issuedIdentity(r.body, session) : null;
      if (issued !== null) {
        saveIdentity(store, issued);
        setIdentityTrouble(false);
        setIdentity(issued);
        setOutcome("not-drawn");
        return;
      }
      setIdentityTrouble(true);
      const retryAfter = !r.ok && r.failure.kind === "http" ? (r.failure.retryAfter ?? null) : null;
      timer = setTimeout(() => void ask(attempt + 1), retryDelayMs(retryAfter, attempt));
    };
    void ask(0);
    return () => {
      stopped = true;
      asking.current = null;
      clearTimeout(timer);
    };
  }, [session, identity, store]);

  /** The gateway no longer knows our identity (it says 401): forget it, a new one follows. */
  const renewIdentity = useCallback(() => {
    forgetIdentity(store);
    setIdentity(null);
  }, [store]);

  useEffect(() => {
    if (config !== null) document.title = config.title;
  }, [config]);

  const update = useCallback(
    (change: (i: Identity) => Identity) => {
      setIdentity((old) => {
        if (old === null) return old;
        const next = change(old);
        saveIdentity(store, next);
        return next;
      });
    },
    [store],
  );

  const submission = identity?.submission ?? null;
  usePoll(
    async () => {
      if (identity === null) return;
      const r = await fetchJson("/api/survey/winners", { timeoutMs: 4000 });
      if (!r.ok) return; // keep the last known outcome; the next poll tries again
      const polled = drawOutcome(r.body, identity.session, submission?.id ?? null);
      setOutcome((previous) => nextOutcome(previous, polled));
      if (polled === "won" && !identity.won) update(withWin);
    },
    WINNERS_POLL_MS,
    identity !== null && submission !== null,
  );

  if (config === null || identity === null) {
    return (
      <Shell title="Ask the tube-bot">
        <div className="loading" role="status" aria-live="polite">
          {configTrouble ? (
            <>
              <p className="problem-title">Signal failure</p>
              <p>We can't reach the station yet. This page keeps trying by itself.</p>
            </>
          ) : identityTrouble ? (
            <>
              <p className="problem-title">Queue at the ticket barrier</p>
              <p>Lots of phones are arriving at once. This page gets your ticket by itself.</p>
            </>
          ) : (
            <p>Opening the doors…</p>
          )}
        </div>
      </Shell>
    );
  }

  return (
    <Shell title={config.title}>
      {configTrouble && (
        <p className="notice" role="status">
          Connection is patchy — still trying. Your answers are kept.
        </p>
      )}
      <p className="visually-hidden" aria-live="polite">
        {config.mode === "quiz" ? "Quiz is open" : "Survey is open"}
      </p>
      {/* Both modes stay mounted (the inactive one hidden), so a mode flip loses no typed text. */}
      <div hidden={config.mode !== "quiz"} data-testid="quiz-mode">
        <StatusStrip active={config.mode === "quiz"} />
        <Quiz
          config={config}
          identity={identity}
          onCountedAnswered={() => update(withQuestionAsked)}
          onIdentityLost={renewIdentity}
          draft={question}
          setDraft={setQuestion}
        />
      </div>
      <div hidden={config.mode !== "survey"} data-testid="survey-mode">
        <Survey
          config={config}
          identity={identity}
          draft={survey}
          setDraft={setSurvey}
          onSubmitted={(s: Submission) => update((i) => withSubmission(i, s))}
          onIdentityLost={renewIdentity}
          outcome={outcome}
        />
      </div>
      {outcome === "won" && overlayOpen && (
        <WinnerOverlay
          name={submission?.name ?? null}
          ticket={ticketCode(submission?.id ?? identity.clientId)}
          onClose={() => setOverlayOpen(false)}
        />
      )}
    </Shell>
  );
}

function Shell({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <div className="page">
      <header className="masthead">
        <Roundel label="Tube-bot" size={44} />
        <h1>{title}</h1>
      </header>
      <LineStripe />
      <main className="content">{children}</main>
      <footer className="footer">Served by the demo's own gateway · no trackers</footer>
    </div>
  );
}

function WinnerOverlay({
  name,
  ticket,
  onClose,
}: {
  name: string | null;
  ticket: string;
  onClose: () => void;
}) {
  return (
    <div
      className="winner-overlay"
      role="alertdialog"
      aria-modal="true"
      aria-labelledby="won-title"
      aria-describedby="won-how"
      data-testid="you-won"
      onKeyDown={(e) => {
        if (e.key === "Escape") onClose();
      }}
    >
      <Roundel label="Winner" size={120} />
      <h2 id="won-title">You won{name ? `, ${name}` : ""}!</h2>
      <p id="won-how">
        Come to the front and show this screen to the speaker to collect your prize. Please keep
        this page open.
      </p>
      <p className="ticket-big" data-testid="ticket">
        Ticket <strong>{ticket}</strong>
      </p>
      <button type="button" className="secondary" onClick={onClose} autoFocus>
        Back to the page
      </button>
    </div>
  );
}
