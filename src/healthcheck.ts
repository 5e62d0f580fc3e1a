// The container healthcheck: the runtime image has no curl or wget.
const port = process.env.PORT ?? '4000';

fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) })
  .then((response) => process.exit(response.ok ? 0 : 1))
  .catch(() => process.exit(1));
