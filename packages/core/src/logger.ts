/** JSON logs, one object a line, with the record's identity attached through `child`. */
export type Fields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
  child(fields: Fields): Logger;
}

type Level = "debug" | "info" | "warn" | "error";
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function jsonLogger(
  base: Fields = {},
  options: {
    level?: Level;
    write?: (line: string) => void /** Fields read anew for every line (a Lambda invocation's trace id). */;
    context?: () => Fields;
  } = {},
): Logger {
  const min = order[options.level ?? "info"];
  const write = options.write ?? writeStdout;
  const log = (level: Level) => (message: string, fields?: Fields) => {
    if (order[level] < min) return;
    write(JSON.stringify({ time: new Date().toISOString(), level, message, ...options.context?.(), ...base, ...fields }, replacer));
  };
  return {
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
    child: (fields) => jsonLogger({ ...base, ...fields }, options),
  };
}

/** One line on stdout: where Lambda's logs (and EMF metrics) are read from. */
export const writeStdout = (line: string): void => void process.stdout.write(`${line}\n`);

/** A logger that drops everything, for tests that assert on results rather than logs. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};

function replacer(_key: string, value: unknown) {
  if (value instanceof Error) return { name: value.name, message: value.message, code: (value as { code?: unknown }).code };
  return value;
}
