import { nativeCluster } from '../../scripts/lib/native-cluster';

export * from '../../scripts/lib/native-cluster';

/** The shared cluster every integration test uses; global-setup starts it. */
export const SHARED_CLUSTER = nativeCluster(7300);
