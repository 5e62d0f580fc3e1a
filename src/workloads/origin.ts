import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Product {
  id: number;
  name: string;
  priceCents: number;
  /** 0 until the product is first updated. */
  version: number;
  updatedAt: string | null;
}

export type ProductChanges = Partial<Pick<Product, 'name' | 'priceCents'>>;

/**
 * The slow data source the cache stands in front of: a database or a remote
 * API in a real service. Injected into the app, so unit tests pass a fast one.
 */
export interface ProductOrigin {
  /** Null when there is no such product. */
  get(id: number): Promise<Product | null>;
  /** Null when there is no such product. */
  update(id: number, changes: ProductChanges): Promise<Product | null>;
  /** Reads served so far by this process: what the cache is there to save. */
  readonly reads: number;
}

/** Products 1..PRODUCT_COUNT exist; any other id is "not found". */
export const PRODUCT_COUNT = 1000;

const ADJECTIVES = ['Sturdy', 'Quiet', 'Bright', 'Compact', 'Gentle', 'Rapid', 'Tidy', 'Bold', 'Plain', 'Clever', 'Warm'];
const NOUNS = [
  'kettle',
  'lamp',
  'notebook',
  'backpack',
  'teapot',
  'umbrella',
  'chair',
  'blanket',
  'clock',
  'mug',
  'scarf',
  'stool',
  'basket',
];

/** The same record for an id every time, in every process: no seed data to load. */
export function baseProduct(id: number): Product | null {
  if (!Number.isInteger(id) || id < 1 || id > PRODUCT_COUNT) return null;
  return {
    id,
    name: `${ADJECTIVES[id % ADJECTIVES.length]} ${NOUNS[(id * 7) % NOUNS.length]}`,
    priceCents: 100 + ((id * 7919) % 9900),
    version: 0,
    updatedAt: null,
  };
}

export interface SlowOriginOptions {
  /** Added to every call, as a network round trip and a query would be. */
  delayMs: number;
  /**
   * Updates are files here, so every instance on the machine (or sharing the
   * volume) sees them: the origin stands in for one database all instances share.
   */
  dataDir: string;
}

const isMissingFile = (error: unknown): boolean => (error as NodeJS.ErrnoException).code === 'ENOENT';

export function createSlowOrigin({ delayMs, dataDir }: SlowOriginOptions): ProductOrigin {
  let reads = 0;
  const fileOf = (id: number) => path.join(dataDir, `product-${id}.json`);

  const current = async (id: number): Promise<Product | null> => {
    const base = baseProduct(id);
    if (!base) return null;
    try {
      return JSON.parse(await readFile(fileOf(id), 'utf8')) as Product;
    } catch (error) {
      if (isMissingFile(error)) return base;
      throw error;
    }
  };

  return {
    get reads() {
      return reads;
    },
    get: async (id) => {
      reads += 1;
      await sleep(delayMs);
      return current(id);
    },
    update: async (id, changes) => {
      await sleep(delayMs);
      const before = await current(id);
      if (!before) return null;
      const after: Product = { ...before, ...changes, version: before.version + 1, updatedAt: new Date().toISOString() };
      await mkdir(dataDir, { recursive: true });
      // Write then rename: a reader in another process sees the old file or the new one, never half of one.
      const temporary = `${fileOf(id)}.${process.pid}.tmp`;
      await writeFile(temporary, JSON.stringify(after));
      await rename(temporary, fileOf(id));
      return after;
    },
  };
}
