import type { Cluster, Result } from 'ioredis';
import type { RunCommand } from './command';

/**
 * One hash tag per user: `{user:ada}:cart` and `{user:ada}:orders` hash to one
 * slot, so checkout can move the cart into the orders in one script (Redis
 * Cluster runs a script or a MULTI only on keys of one slot). Each user's tag
 * differs, so users still spread over every master. Session records
 * (`sess:<id>`, see sessions.ts) carry no tag: each is read and written alone.
 */
export function userKeys(userId: string): UserKeys {
  return { cart: `{user:${userId}}:cart`, orders: `{user:${userId}}:orders` };
}

export interface UserKeys {
  cart: string;
  orders: string;
}

export interface Cart {
  /** Product id -> quantity. */
  items: Record<string, number>;
  /** Orders placed so far. */
  orders: number;
  /** The most recent order's items, if any. */
  lastOrder: Record<string, number> | undefined;
}

/** The Redis commands the cart needs; unit tests pass an in-memory fake. */
export interface CartStore {
  read(userId: string): Promise<Cart>;
  add(userId: string, productId: number, quantity: number): Promise<void>;
  /** Moves the cart into a new order; the order's number, or undefined if the cart was empty. */
  checkout(userId: string): Promise<number | undefined>;
}

/** A cart and its orders outlive a session: sign in again within a week and they are still there. */
export const CART_TTL_MS = 7 * 24 * 3600 * 1000;

// Redis Cluster runs these only because each one's keys share a slot (see userKeys).
const READ = `return {redis.call('HGETALL', KEYS[1]), redis.call('LLEN', KEYS[2]), redis.call('LINDEX', KEYS[2], -1)}`;

const ADD = `local quantity = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return quantity`;

// Reads every item, appends them as one order and empties the cart: two instances
// checking out the same cart at once make one order, never two or a half.
const CHECKOUT = `local items = redis.call('HGETALL', KEYS[1])
if #items == 0 then return 0 end
local order = {}
for i = 1, #items, 2 do order[items[i]] = tonumber(items[i + 1]) end
redis.call('RPUSH', KEYS[2], cjson.encode(order))
redis.call('DEL', KEYS[1])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return redis.call('LLEN', KEYS[2])`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** [flat field/value list, order count, last order or null]. Defined by createRedisCartStore. */
    cartRead(cart: string, orders: string): Result<[string[], number, string | null], Context>;
    cartAdd(cart: string, productId: string, quantity: number, ttlMs: number): Result<number, Context>;
    cartCheckout(cart: string, orders: string, ttlMs: number): Result<number, Context>;
  }
}

export type CartClient = Pick<Cluster, 'defineCommand' | 'cartRead' | 'cartAdd' | 'cartCheckout'>;

function pairs(flat: string[]): Record<string, number> {
  const items: Record<string, number> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) items[flat[i]!] = Number(flat[i + 1]);
  return items;
}

export function createRedisCartStore(client: CartClient, run: RunCommand): CartStore {
  client.defineCommand('cartRead', { numberOfKeys: 2, lua: READ });
  client.defineCommand('cartAdd', { numberOfKeys: 1, lua: ADD });
  client.defineCommand('cartCheckout', { numberOfKeys: 2, lua: CHECKOUT });
  return {
    read: async (userId) => {
      const { cart, orders } = userKeys(userId);
      const [items, count, last] = await run(cart, () => client.cartRead(cart, orders));
      return { items: pairs(items), orders: count, lastOrder: last === null ? undefined : (JSON.parse(last) as Record<string, number>) };
    },
    add: async (userId, productId, quantity) => {
      const { cart } = userKeys(userId);
      await run(cart, () => client.cartAdd(cart, String(productId), quantity, CART_TTL_MS));
    },
    checkout: async (userId) => {
      const { cart, orders } = userKeys(userId);
      const count = await run(cart, () => client.cartCheckout(cart, orders, CART_TTL_MS));
      return count > 0 ? count : undefined;
    },
  };
}
