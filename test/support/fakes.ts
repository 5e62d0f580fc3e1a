import { loadConfig } from '../../src/config';
import type { Logger } from '../../src/logger';
import type { KeyValueStore } from '../../src/store';

/** An in-memory store for unit tests; `fail` makes every call reject with that error. */
export class FakeStore implements KeyValueStore {
  readonly data = new Map<string, string>();
  fail: Error | undefined;

  async get(key: string): Promise<string | null> {
    if (this.fail) throw this.fail;
    return this.data.get(key) ?? null;
  }

  async set(key: string, value: string): Promise<void> {
    if (this.fail) throw this.fail;
    this.data.set(key, value);
  }

  async ping(): Promise<void> {
    if (this.fail) throw this.fail;
  }
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export const testConfig = (env: Record<string, string> = {}) => loadConfig({ NODE_ENV: 'test', ...env });
