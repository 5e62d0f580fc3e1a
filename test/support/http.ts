import type { Response } from 'supertest';
import type { ClusterOverview } from '../../src/cluster-view';
import type { KeyReport } from '../../src/routes/report';
import type { ScanPage } from '../../src/store';

/** supertest types every JSON body as `any`; each reader names the shape the API promises instead. */
const as =
  <T>() =>
  (res: Response): T =>
    res.body as T;

export const errorBody = as<{ error: string }>();
export const keyBody = as<KeyReport>();
export const scanBody = as<ScanPage>();
export const clusterBody = as<ClusterOverview>();
