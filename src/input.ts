import { HttpError } from './errors';

export interface Limits {
  maxKeyBytes: number;
  maxValueBytes: number;
}

/** The body as the parsers left it: undefined when no parser accepted its content type. */
export type Body = unknown;

export function requireForm(body: Body): Record<string, unknown> {
  if (body === undefined) {
    throw new HttpError(415, 'Send the form as application/x-www-form-urlencoded (or JSON).');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'The request body must be a set of named fields.');
  }
  return body as Record<string, unknown>;
}

function text(fields: Record<string, unknown>, name: string): string {
  const value = fields[name];
  if (value === undefined) return '';
  if (typeof value !== 'string') throw new HttpError(400, `"${name}" must be a single text field.`);
  return value;
}

/**
 * Parsers turn bytes that are not UTF-8 into U+FFFD; storing that would
 * silently change what was sent, so such input is refused instead.
 */
function requireUtf8(value: string, name: string): void {
  if (value.includes('\uFFFD')) throw new HttpError(400, `The ${name} is not valid UTF-8 text.`);
}

// Control characters make keys unreadable in logs, pages and redis-cli.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export function readKey(fields: Record<string, unknown>, limits: Limits): string {
  const key = text(fields, 'key');
  if (key.trim() === '') throw new HttpError(400, 'Enter a key: it must not be empty or only spaces.');
  requireUtf8(key, 'key');
  if (CONTROL.test(key)) throw new HttpError(400, 'The key must not contain control characters (tabs, newlines, NUL...).');
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > limits.maxKeyBytes) {
    throw new HttpError(413, `The key is ${bytes} bytes; keys may be at most ${limits.maxKeyBytes} bytes.`);
  }
  return key;
}

export function readValue(fields: Record<string, unknown>, limits: Limits): string {
  const value = text(fields, 'value');
  requireUtf8(value, 'value');
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > limits.maxValueBytes) {
    throw new HttpError(413, `The value is ${bytes} bytes; values may be at most ${limits.maxValueBytes} bytes.`);
  }
  return value;
}

/** Longest TTL accepted: ten years, in seconds. */
export const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;

/** An optional expiry in whole seconds; absent or empty means "never expires". */
export function readTtl(fields: Record<string, unknown>): number | undefined {
  const raw = fields.ttl;
  if (raw === undefined || raw === '' || raw === null) return undefined;
  const text = typeof raw === 'number' ? String(raw) : raw;
  if (typeof text !== 'string' || !/^\d{1,10}$/.test(text.trim()) || Number(text) < 1 || Number(text) > MAX_TTL_SECONDS) {
    throw new HttpError(400, `TTL must be a whole number of seconds from 1 to ${MAX_TTL_SECONDS}, or empty for no expiry.`);
  }
  return Number(text);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const notUtf8 = () => Object.assign(new Error('request body is not valid UTF-8'), { type: 'body.not.utf8' });

/**
 * body-parser verify hooks: a body that is not UTF-8 is refused whole. The
 * parsers would otherwise turn bad bytes into U+FFFD, or keep a "%FF" they
 * cannot decode as literal text: either way storing what the user never sent.
 */
export function verifyJsonBody(_req: unknown, _res: unknown, raw: Buffer): void {
  try {
    strictUtf8.decode(raw);
  } catch {
    throw notUtf8();
  }
}

export function verifyFormBody(req: unknown, res: unknown, raw: Buffer): void {
  verifyJsonBody(req, res, raw);
  for (const part of raw.toString('utf8').split(/[&=]/)) {
    try {
      decodeURIComponent(part.replace(/\+/g, ' '));
    } catch {
      throw notUtf8();
    }
  }
}

/** Room for both fields even if every byte arrives percent-encoded (3 bytes each). */
export function bodyLimitBytes(limits: Limits): number {
  return 3 * (limits.maxKeyBytes + limits.maxValueBytes) + 1024;
}

/** The raw fields, echoed back into the form after an error so nothing typed is lost. */
export function echo(body: Body, ...names: string[]): Record<string, string> {
  const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  return Object.fromEntries(names.map((name) => [name, typeof fields[name] === 'string' ? fields[name] : '']));
}
