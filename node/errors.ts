/**
 * Base of every error this project raises on purpose. Each concern has its own subclass and its own
 * stable codes; the API and the CLI only ever show `code` and `message` of these, and mask anything
 * else as an internal error.
 */
export class AllianceError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

/**
 * One problem with one input field; `field` is a path such as `identifiers[2].value`. For an
 * identifier that cannot be normalised, `reason` is the normaliser's stable code (e.g. `phone.too_short`).
 */
export interface FieldProblem {
  field: string;
  message: string;
  reason?: string;
}

/** Input refused field by field (code BAD_USER_INPUT): every problem found, the first in the message. */
export class ValidationError extends AllianceError {
  declare readonly code: 'BAD_USER_INPUT';
  readonly problems: FieldProblem[];
  constructor(problems: FieldProblem[]) {
    const first = problems[0]!;
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
    super('BAD_USER_INPUT', `${first.field}: ${first.message}${more}`, { problems });
    this.problems = problems;
  }
}

export function isAllianceError(err: unknown): err is AllianceError {
  return err instanceof AllianceError;
}

/**
 * What of an error may be logged. Database errors carry the statement's parameters and row details,
 * which may hold raw identifiers: only the type, message, SQLSTATE and stack are kept.
 */
export function safeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const out: Record<string, unknown> = { type: err.name, message: err.message, stack: err.stack };
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') out.code = code;
  return out;
}
