// Shared by the scripts in this folder: reads the environment, prints the
// one JSON line the Go harness (internal/sdkrun) decodes, and turns SDK
// errors into {error: {...}} with exit code 0 so a test can assert them.

/** env reads the settings every script takes. */
export function env() {
  const e = process.env;
  if (!e.BASE_URL) fail('BASE_URL is not set');
  return {
    baseURL: e.BASE_URL,
    apiKey: e.API_KEY ?? '',
    model: e.MODEL ?? '',
    stream: e.STREAM === '1',
    prompt: e.PROMPT ?? 'Say hello.',
  };
}

/** clientOptions are the options both SDKs get: no retries, a bounded wait. */
export function clientOptions(cfg) {
  return { baseURL: cfg.baseURL, apiKey: cfg.apiKey, maxRetries: 0, timeout: 30_000 };
}

/** pickHeaders keeps the response headers a test may check. */
export function pickHeaders(headers) {
  const out = {};
  if (!headers) return out;
  for (const [k, v] of headers.entries()) {
    const name = k.toLowerCase();
    if (name.startsWith('x-byokd-') || name === 'x-request-id' || name === 'request-id' || name === 'content-type') {
      out[name] = v;
    }
  }
  return out;
}

/** emit prints the result line. */
export function emit(result) {
  process.stdout.write(JSON.stringify(result) + '\n');
}

/**
 * run calls fn and prints its result, or the error the SDK raised:
 * status (0 when there was no HTTP answer), message (the provider's own
 * error message when the body had one, otherwise the SDK's), sdk_message
 * (what the SDK's error says), type and code.
 */
export async function run(fn) {
  try {
    emit(await fn());
  } catch (err) {
    const body = err?.error;
    // OpenAI's SDK keeps the inner error object; Anthropic's keeps the whole body.
    const inner = body?.error ?? body;
    emit({
      error: {
        status: typeof err?.status === 'number' ? err.status : 0,
        message: (typeof inner?.message === 'string' && inner.message) || String(err?.message ?? err),
        sdk_message: String(err?.message ?? err),
        type: inner?.type ?? err?.type ?? null,
        code: inner?.code ?? err?.code ?? null,
        name: err?.constructor?.name ?? null,
        headers: pickHeaders(err?.headers),
      },
    });
  }
}

function fail(msg) {
  process.stderr.write(`e2e/sdk: ${msg}\n`);
  process.exit(2);
}
