import { runClusterScript, SHARED_CLUSTER } from './native-cluster';

export default function globalTeardown(): void {
  runClusterScript(SHARED_CLUSTER, 'clean', 30_000);
}
