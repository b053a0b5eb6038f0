// The logger Moat writes to: any object with pino's `(object, message)` methods (pino itself, or a
// child of the app's logger). Moat logs only events — start-up problems, engine errors, suspicious
// configuration — never a line per request.

export interface MoatLogger {
  error(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  info?(object: object, message?: string): void;
}

/** The default: one console line per event. */
export const consoleLogger: MoatLogger = {
  error: (object, message) => console.error(`[moat] ${message ?? ''}`, object),
  warn: (object, message) => console.warn(`[moat] ${message ?? ''}`, object),
  info: (object, message) => console.info(`[moat] ${message ?? ''}`, object),
};

export const silentLogger: MoatLogger = {
  error: () => {},
  warn: () => {},
};
