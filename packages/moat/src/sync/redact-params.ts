// Parameter values whose names look secret never leave the process: `password=hunter2` is reported as
// `password=[redacted]`. Names match by case-insensitive substring, so `user[password]`, `api_key` and
// `X-Auth-Token` are caught too; a false positive costs one hidden value, a miss leaks a credential.

export const DEFAULT_REDACTED_PARAMS: readonly string[] = ['password', 'passwd', 'token', 'secret', 'key', 'authorization', 'auth', 'session', 'cookie', 'otp', 'pin', 'card', 'cvv', 'ssn'];

export const REDACTED = '[redacted]';

/** Builds the redactor once: one regular expression over the configured names. */
export function paramRedactor(names: readonly string[]): (params: string) => string {
  const words = names.map((n) => n.trim().toLowerCase()).filter((n) => n !== '');
  if (words.length === 0) return (params) => params;
  const pattern = new RegExp(words.map(escapeRegExp).join('|'), 'i');
  return (params) => {
    if (params === '') return params;
    const parts = params.split('&');
    let changed = false;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      const eq = part.indexOf('=');
      const name = eq < 0 ? part : part.slice(0, eq);
      if (pattern.test(name) && (eq < 0 || part.length > eq + 1)) {
        parts[i] = `${name}=${REDACTED}`;
        changed = true;
      }
    }
    return changed ? parts.join('&') : params;
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
