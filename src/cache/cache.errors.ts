/** An error's message for a log line (node-redis and our own messages carry no credentials). */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/** Base class of every error this module raises; `code` is stable and safe to match on. */
export class CacheError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A configuration value is invalid. `variable` names the environment variable or option at fault. */
export class CacheConfigError extends CacheError {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super('E_CACHE_CONFIG', `${variable}: ${message}`);
  }
}

/** A store operation did not settle within its deadline. */
export class CacheTimeoutError extends CacheError {
  constructor(
    readonly operation: string,
    readonly timeoutMs: number,
  ) {
    super('E_CACHE_TIMEOUT', `cache ${operation} did not settle within ${timeoutMs} ms`);
  }
}

/** A `@Cached()` declaration is invalid (found at startup). */
export class CacheDefinitionError extends CacheError {
  constructor(message: string) {
    super('E_CACHE_DEFINITION', message);
  }
}
