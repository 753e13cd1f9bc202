/** The page's view of GET /config. Pure: parsing with safe defaults, never a throw on odd input. */

export type Mode = "quiz" | "survey";

export interface PageConfig {
  mode: Mode;
  title: string;
  audienceUrl: string;
  session: string;
  model: string;
  maxPromptChars: number;
  questionsPerPerson: number;
  companyMaxChars: number;
  nameMaxChars: number;
  /** gateway.answer_timeout: how long the gateway waits for the model's first word (s). */
  answerTimeoutS: number;
}

/** Parses /config; returns null when the answer is not a usable config (the page then retries). */
export function parseConfig(value: unknown): PageConfig | null {
  if (typeof value !== "object" || value === null) return null;
  const v = value as Record<string, unknown>;
  if (v.mode !== "quiz" && v.mode !== "survey") return null;
  if (typeof v.session !== "string" || v.session === "") return null;
  const quiz = asRecord(v.quiz);
  const survey = asRecord(v.survey);
  return {
    mode: v.mode,
    title: typeof v.title === "string" && v.title !== "" ? v.title : "Ask the tube-bot",
    audienceUrl: typeof v.audience_url === "string" ? v.audience_url : "",
    session: v.session,
    model: typeof v.model === "string" ? v.model : "",
    maxPromptChars: positiveInt(quiz.max_prompt_chars, 300),
    questionsPerPerson: positiveInt(quiz.questions_per_person, 1),
    companyMaxChars: positiveInt(survey.company_max_chars, 80),
    nameMaxChars: positiveInt(survey.name_max_chars, 40),
    answerTimeoutS: positiveNumber(quiz.answer_timeout_s, 120),
  };
}

/** How many counted questions this person may still ask in the talk session. */
export function countedQuestionsLeft(asked: number, questionsPerPerson: number): number {
  return Math.max(0, questionsPerPerson - asked);
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
}

function positiveNumber(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : fallback;
}

function positiveInt(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isInteger(value) && value > 0 ? value : fallback;
}
