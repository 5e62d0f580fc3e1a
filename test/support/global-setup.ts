import { SHARED_CLUSTER, startFresh } from './native-cluster';

export default function globalSetup(): void {
  startFresh(SHARED_CLUSTER);
}
