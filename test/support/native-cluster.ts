import { nativeCluster, type NativeCluster } from '../../scripts/lib/native-cluster';

export * from '../../scripts/lib/native-cluster';

/**
 * Every test cluster's ports move by TEST_PORT_OFFSET (default 0), so two
 * test runs on one machine (two checkouts, say) each get clusters of their own.
 */
const PORT_OFFSET = Number(process.env.TEST_PORT_OFFSET ?? 0);
if (!Number.isInteger(PORT_OFFSET) || PORT_OFFSET < 0 || PORT_OFFSET > 20_000) {
  throw new Error(`TEST_PORT_OFFSET: "${process.env.TEST_PORT_OFFSET}" is not a whole number in 0..20000`);
}

/** A native cluster for one test file, on its base port plus TEST_PORT_OFFSET. */
export const testCluster = (basePort: number, extraEnv: Record<string, string> = {}): NativeCluster =>
  nativeCluster(basePort + PORT_OFFSET, extraEnv);

/** The shared cluster every integration test uses; global-setup starts it. */
export const SHARED_CLUSTER = testCluster(7300);
