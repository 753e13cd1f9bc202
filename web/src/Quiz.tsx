import { type FormEvent, useEffect, useRef, useState } from "react";
import { streamAnswer } from "./lib/api";
import { countedQuestionsLeft, type PageConfig } from "./lib/config";
import type { Identity } from "./lib/identity";
import { type Failure, identityLost, kindMessage } from "./lib/problems";

/** The page waits for a first word as long as the gateway does (gateway.answer_timeout, from
 * /config), plus this margin, so the phone shows the gateway's own answer when it gives up. */
const FIRST_TOKEN_MARGIN_S = 5;
const STALL_TIMEOUT_MS = 30_000;
/** After this long without a first word the page explains the wait (it never waits silently). */
const SLOW_AFTER_S = 4;

type Phase =
  | { name: "idle" }
  | { name: "waiting"; startedAt: number }
  | { name: "streaming"; startedAt: number; firstTokenMs: number }
  | { name: "done"; firstTokenMs: number; totalMs: number }
  | { name: "failed"; failure: Failure };

interface Props {
  config: PageConfig;
  identity: Identity;
  onCountedAnswered: () => void;
  /** the gateway said it no longer knows this phone's identity: the page gets a new one */
  onIdentityLost: () => void;
  draft: string;
  setDraft: (text: string) => void;
}

export function Quiz({ config, identity, onCountedAnswered, onIdentityLost, draft, setDraft }: Props) {
  const left = countedQuestionsLeft(identity.asked, config.questionsPerPerson);
  const [phase, setPhase] = useState<Phase>({ name: "idle" });
  const [answer, setAnswer] = useState("");
  const [asked, setAsked] = useState<{ question: string; counted: boolean } | null>(null);
  const [testLine, setTestLine] = useState(false);
  const [now, setNow] = useState(() => performance.now());
  const cancelRef = useRef<AbortController | null>(null);
  const busy = phase.name === "waiting" || phase.name === "streaming";
  const counted = left > 0 && !testLine;

  // a visible clock while waiting, so a slow answer never looks like a hung page
  useEffect(() => {
    if (phase.name !== "waiting") return;
    const t = setInterval(() => setNow(performance.now()), 500);
    return () => clearInterval(t);
  }, [phase.name]);

  useEffect(() => () => cancelRef.current?.abort(), []);

  async function ask(question: string, isCounted: boolean) {
    const controller = new AbortController();
    cancelRef.current = controller;
    const startedAt = performance.now();
    let firstTokenMs = 0;
    setAsked({ question, counted: isCounted });
    setAnswer("");
    setNow(startedAt);
    setPhase({ name: "waiting", startedAt });
    const outcome = await streamAnswer(
      {
        question,
        model: config.model,
        identity: identity.token,
        counted: isCounted,
        firstTokenTimeoutMs: (config.answerTimeoutS + FIRST_TOKEN_MARGIN_S) * 1000,
        stallTimeoutMs: STALL_TIMEOUT_MS,
        signal: controller.signal,
      },
      {
        onFirstToken() {
          firstTokenMs = performance.now() - startedAt;
          setPhase({ name: "streaming", startedAt, firstTokenMs });
        },
        onText(text) {
          setAnswer((a) => a + text);
        },
      },
    );
    cancelRef.current = null;
    if (outcome === "cancelled") {
      setPhase({ name: "idle" });
      return;
    }
    if (outcome !== null) {
      setPhase({ name: "failed", failure: outcome });
      if (identityLost(outcome)) onIdentityLost();
      return;
    }
    setPhase({ name: "done", firstTokenMs, totalMs: performance.now() - startedAt });
    if (isCounted) {
      onCountedAnswered();
      setDraft("");
    }
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    const question = draft.trim();
    if (question === "" || busy) return;
    if (!counted) setDraft("");
    void ask(question, counted);
  }

  const waitedS = phase.name === "waiting" ? Math.floor((now - phase.startedAt) / 1000) : 0;
  const showForm = !busy && (left > 0 || testLine);

  return (
    <section className="quiz" aria-labelledby="quiz-heading">
      <h2 id="quiz-heading">Ask the tube-bot one question about the London Underground</h2>
      {left === 0 && !testLine && !busy && (
        <p className="thanks" data-testid="counted-used">
          Your question has been counted — thank you! The tube-bot is busy scaling for everyone.
        </p>
      )}

      {showForm && (
        <form
          className={counted ? "ask-form" : "ask-form test-line"}
          onSubmit={submit}
          data-testid="ask-form"
        >
          {!counted && (
            <p className="test-line-badge" data-testid="not-counted-badge">
              Test line — ask another (not counted)
            </p>
          )}
          <label htmlFor="question">Your question</label>
          <textarea
            id="question"
            name="question"
            rows={3}
            value={draft}
            maxLength={config.maxPromptChars}
            onChange={(e) => setDraft(e.target.value)}
            placeholder="Which line is the deepest?"
            required
          />
          <div className="form-row">
            <span className="char-count" aria-live="off">
              {draft.length}/{config.maxPromptChars}
            </span>
            <button type="submit" className="primary" disabled={draft.trim() === ""}>
              {counted ? "Ask the tube-bot" : "Ask (not counted)"}
            </button>
          </div>
          {testLine && left > 0 && (
            <button type="button" className="link" onClick={() => setTestLine(false)}>
              Back to my counted question
            </button>
          )}
        </form>
      )}

      {asked !== null && phase.name !== "idle" && (
        <div className="answer-wrap">
          <p className="asked">
            <span className="visually-hidden">You asked: </span>“{asked.question}”
            {!asked.counted && <span className="chip">not counted</span>}
          </p>
          {phase.name === "waiting" && (
            <div className="waiting" role="status" aria-live="polite" data-testid="waiting">
              <p>
                <span className="dot" aria-hidden="true" /> Waiting at the platform… {waitedS} s
              </p>
              {waitedS >= SLOW_AFTER_S && (
                <p className="slow-note">
                  The tube-bot is busy — more trains (GPUs) are being called in. Thanks for your
                  patience; your question is in the queue.
                </p>
              )}
              <button type="button" className="secondary" onClick={() => cancelRef.current?.abort()}>
                Cancel
              </button>
            </div>
          )}
          {(phase.name === "streaming" || phase.name === "done") && (
            <div
              className="tfl-sign"
              data-testid="answer"
              aria-busy={phase.name === "streaming"}
              aria-live={phase.name === "done" ? "polite" : "off"}
            >
              {answer}
              {phase.name === "streaming" && <span className="cursor" aria-hidden="true" />}
            </div>
          )}
          {phase.name === "done" && (
            <p className="timing" data-testid="timing">
              Answered in {(phase.totalMs / 1000).toFixed(1)} s · first word after{" "}
              {(phase.firstTokenMs / 1000).toFixed(1)} s
            </p>
          )}
          {phase.name === "failed" && (
            <Problem failure={phase.failure} onRetry={() => void ask(asked.question, asked.counted)} />
          )}
        </div>
      )}

      {!busy && !testLine && (left === 0 || phase.name === "done") && (
        <button
          type="button"
          className="test-line-button"
          data-testid="ask-another"
          onClick={() => {
            setTestLine(true);
            setPhase({ name: "idle" });
          }}
        >
          Ask another (not counted)
        </button>
      )}
    </section>
  );
}

function Problem({ failure, onRetry }: { failure: Failure; onRetry: () => void }) {
  const message = kindMessage(failure);
  return (
    <div className="problem" role="alert" data-testid="problem">
      <p className="problem-title">{message.title}</p>
      <p>{message.detail}</p>
      {message.retry && (
        <button type="button" className="primary" onClick={onRetry} data-testid="retry">
          Try again
        </button>
      )}
    </div>
  );
}
