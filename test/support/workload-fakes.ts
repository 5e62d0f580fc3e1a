/* eslint-disable @typescript-eslint/require-await -- fakes stand in for async clients: being async is what turns a throw into a rejection, as in test/support/fakes.ts */
import { MemoryStore as MemorySessionStore } from 'express-session';
import { MemoryStore as MemoryRateLimitStore } from 'express-rate-limit';
import type { CacheStore, Peek, ProductKeys } from '../../src/workloads/cache';
import type { Cart, CartStore } from '../../src/workloads/carts';
import type { WorkloadDependencies } from '../../src/workloads';
import { baseProduct, type Product, type ProductChanges, type ProductOrigin } from '../../src/workloads/origin';
import { testConfig } from './fakes';

/** The origin's data with no delay; `gate`, while set, holds every read until it resolves. */
export class FakeOrigin implements ProductOrigin {
  reads = 0;
  readonly updates = new Map<number, Product>();
  gate: Promise<void> | undefined;
  fail: Error | undefined;

  async get(id: number): Promise<Product | null> {
    this.reads += 1;
    await this.gate;
    if (this.fail) throw this.fail;
    return this.updates.get(id) ?? baseProduct(id);
  }

  async update(id: number, changes: ProductChanges): Promise<Product | null> {
    const before = this.updates.get(id) ?? baseProduct(id);
    if (!before) return null;
    const after = { ...before, ...changes, version: before.version + 1, updatedAt: new Date().toISOString() };
    this.updates.set(id, after);
    return after;
  }
}

/** The cache's Redis commands on a Map, with the same lock rules as the scripts; `fail` makes every call reject. */
export class FakeCacheStore implements CacheStore {
  readonly data = new Map<string, { value: string; ttlMs?: number }>();
  fail: Error | undefined;
  /** TTLs given to fill(), in order. */
  readonly ttls: number[] = [];

  private check(): void {
    if (this.fail) throw this.fail;
  }

  private peekNow({ value, lock }: ProductKeys): Peek {
    const found = this.data.get(value);
    if (found) return { kind: 'value', value: found.value };
    return this.data.has(lock) ? { kind: 'busy' } : { kind: 'free' };
  }

  async get(key: string): Promise<string | null> {
    this.check();
    return this.data.get(key)?.value ?? null;
  }

  async acquire(keys: ProductKeys, token: string, lockMs: number): Promise<Peek | { kind: 'locked' }> {
    this.check();
    const seen = this.peekNow(keys);
    if (seen.kind !== 'free') return seen;
    this.data.set(keys.lock, { value: token, ttlMs: lockMs });
    return { kind: 'locked' };
  }

  async peek(keys: ProductKeys): Promise<Peek> {
    this.check();
    return this.peekNow(keys);
  }

  async fill(keys: ProductKeys, token: string, value: string, ttlMs: number): Promise<boolean> {
    this.check();
    if (this.data.get(keys.lock)?.value !== token) return false;
    this.data.set(keys.value, { value, ttlMs });
    this.data.delete(keys.lock);
    this.ttls.push(ttlMs);
    return true;
  }

  async release(keys: ProductKeys, token: string): Promise<void> {
    this.check();
    if (this.data.get(keys.lock)?.value === token) this.data.delete(keys.lock);
  }

  async invalidate(keys: ProductKeys): Promise<void> {
    this.check();
    this.data.delete(keys.value);
    this.data.delete(keys.lock);
  }
}

export class FakeCartStore implements CartStore {
  readonly carts = new Map<string, Record<string, number>>();
  readonly orders = new Map<string, Record<string, number>[]>();

  async read(userId: string): Promise<Cart> {
    const orders = this.orders.get(userId) ?? [];
    return { items: { ...this.carts.get(userId) }, orders: orders.length, lastOrder: orders.at(-1) };
  }

  async add(userId: string, productId: number, quantity: number): Promise<void> {
    const cart = this.carts.get(userId) ?? {};
    cart[productId] = (cart[productId] ?? 0) + quantity;
    this.carts.set(userId, cart);
  }

  async checkout(userId: string): Promise<number | undefined> {
    const cart = this.carts.get(userId);
    if (!cart) return undefined;
    this.carts.delete(userId);
    const orders = [...(this.orders.get(userId) ?? []), cart];
    this.orders.set(userId, orders);
    return orders.length;
  }
}

/** In-memory workloads: express-session's and express-rate-limit's own memory stores, and the fakes above. */
export function fakeWorkloads(env: Record<string, string> = {}) {
  const origin = new FakeOrigin();
  const cacheStore = new FakeCacheStore();
  const carts = new FakeCartStore();
  const sessionStore = new MemorySessionStore();
  const rateLimitStore = new MemoryRateLimitStore();
  const config = testConfig(env);
  const workloads: WorkloadDependencies = { origin, cacheStore, carts, sessionStore, rateLimitStore, config };
  return { workloads, origin, cacheStore, carts, sessionStore, rateLimitStore, config };
}
