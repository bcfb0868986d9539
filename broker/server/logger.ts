/** One line per event, prefixed with time and component, on stderr so stdout stays free for data. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function createLogger(component: string, quiet = false): Logger {
  const line = (level: string, message: string) => {
    if (quiet && level === 'INFO') return;
    process.stderr.write(`${new Date().toISOString()} ${level} [${component}] ${message}\n`);
  };
  return {
    info: (m) => line('INFO', m),
    warn: (m) => line('WARN', m),
    error: (m) => line('ERROR', m),
  };
}
