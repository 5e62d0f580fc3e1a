import http, { type IncomingHttpHeaders } from 'node:http';

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: unknown;
}

export interface HttpRequest {
  method?: string;
  path: string;
  json?: unknown;
  timeoutMs?: number;
}

/**
 * A browser-like client of one app instance or several: it keeps the session
 * cookie it is given, whichever instance gave it, and sends it to all of them.
 * Built on node:http for `localAddress`, which fetch does not offer.
 */
export class HttpClient {
  cookie: string | undefined;

  /** localAddress: send from this loopback address (127.0.0.x), which the app counts as a client of its own. */
  constructor(private readonly localAddress?: string) {}

  request(port: number, { method = 'GET', path, json, timeoutMs = 20_000 }: HttpRequest): Promise<HttpAnswer> {
    const payload = json === undefined ? undefined : JSON.stringify(json);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method,
          path,
          localAddress: this.localAddress,
          timeout: timeoutMs,
          headers: {
            accept: 'application/json',
            ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
            ...(this.cookie ? { cookie: this.cookie } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const sid = res.headers['set-cookie']?.find((cookie) => cookie.startsWith('sid='));
            if (sid) this.cookie = /^sid=;/.test(sid) ? undefined : sid.split(';')[0];
            const text = Buffer.concat(chunks).toString('utf8');
            const isJson = res.headers['content-type']?.includes('json');
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: isJson && text ? JSON.parse(text) : text });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  get = (port: number, path: string) => this.request(port, { path });
  post = (port: number, path: string, json: unknown = {}) => this.request(port, { method: 'POST', path, json });
  put = (port: number, path: string, json: unknown) => this.request(port, { method: 'PUT', path, json });
  delete = (port: number, path: string) => this.request(port, { method: 'DELETE', path });
}

/** The session id inside a signed `sid=s%3A<id>.<signature>` cookie: its record is sess:<id>. */
export function sessionIdOf(cookie: string | undefined): string {
  const match = /^sid=s:([^.]+)\./.exec(decodeURIComponent(cookie ?? ''));
  if (!match?.[1]) throw new Error(`no signed session cookie in "${cookie}"`);
  return match[1];
}
