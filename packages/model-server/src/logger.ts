/** JSON-lines logger; the server takes any object with these three methods. */
export interface Logger {
  info(fields: Record<string, unknown>): void;
  warn(fields: Record<string, unknown>): void;
  error(fields: Record<string, unknown>): void;
}

function line(level: string, fields: Record<string, unknown>): string {
  return JSON.stringify({ time: new Date().toISOString(), level, ...fields });
}

export const jsonLogger: Logger = {
  info: (fields) => console.log(line("info", fields)),
  warn: (fields) => console.warn(line("warn", fields)),
  error: (fields) => console.error(line("error", fields)),
};

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
