import { BadCursorError, RedisUnavailableError, WrongTypeError } from './store';

/** A problem the client caused or can wait out; its message is safe to show. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface Problem {
  status: number;
  message: string;
  /** Seconds a client should wait before trying again (503 only). */
  retryAfter?: number;
}

/** body-parser's errors carry a type; these are the ones a client can cause. */
const BODY_PROBLEMS: Record<string, Problem> = {
  'entity.too.large': { status: 413, message: 'The request body is too large.' },
  'entity.parse.failed': { status: 400, message: 'The request body is malformed and could not be read.' },
  'entity.verify.failed': { status: 400, message: 'The request body could not be verified.' },
  'request.aborted': { status: 400, message: 'The request was aborted before its body arrived.' },
  'request.size.invalid': { status: 400, message: 'The request body is not the size its headers announced.' },
  'parameters.too.many': { status: 413, message: 'The form has too many fields.' },
  'charset.unsupported': { status: 415, message: 'Send the body as UTF-8.' },
  'body.not.utf8': { status: 400, message: 'The request body is not valid UTF-8 text: nothing was saved.' },
  'encoding.unsupported': { status: 415, message: 'The body uses a content encoding this server does not accept.' },
};

/**
 * What a client should be told about an error, or undefined for a bug:
 * those are logged and answered with a plain 500.
 */
export function describeError(error: unknown): Problem | undefined {
  if (error instanceof HttpError) return { status: error.status, message: error.message };
  if (error instanceof RedisUnavailableError) {
    return {
      status: 503,
      message:
        'The Redis cluster is not answering right now (a node may be restarting or failing over). Nothing is lost: try again in a moment.',
      retryAfter: 2,
    };
  }
  if (error instanceof BadCursorError) return { status: 400, message: `${error.message}; start again with cursor 0.` };
  if (error instanceof WrongTypeError) {
    return { status: 409, message: `${error.message}; this app only reads and writes string values.` };
  }
  if (error instanceof Error && 'type' in error && typeof error.type === 'string') {
    return BODY_PROBLEMS[error.type];
  }
  return undefined;
}
