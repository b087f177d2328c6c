// Logging, as multiprocessing.log_to_stderr() / get_logger(): lines like
// "[INFO/Process-1] child process calling run()". The library logs its own
// lifecycle (start, run, exit codes) at debug and info level; children
// inherit the parent's level and stderr setting.
import { format } from 'node:util';
import { currentName } from './identity';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel | 'off', number> = { debug: 10, info: 20, warn: 30, error: 40, off: 100 };
// Python's names, so ported scripts print what their originals printed.
const LABEL: Record<LogLevel, string> = { debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR' };

export type LogHandler = (line: string, level: LogLevel) => void;

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && value in LABEL;
}

export class Logger {
  #level: LogLevel = 'warn';
  readonly #handlers = new Set<LogHandler>();

  get level(): LogLevel {
    return this.#level;
  }

  setLevel(level: LogLevel): void {
    if (!isLogLevel(level)) {
      const hint = String(level).toLowerCase() === 'warning' ? " (Python's WARNING is 'warn' here)" : '';
      throw new TypeError(`level must be one of 'debug', 'info', 'warn', 'error', got ${JSON.stringify(level)}${hint}`);
    }
    this.#level = level;
  }

  isEnabledFor(level: LogLevel): boolean {
    return this.#handlers.size > 0 && ORDER[level] >= ORDER[this.#level];
  }

  addHandler(handler: LogHandler): void {
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    this.#handlers.add(handler);
  }

  removeHandler(handler: LogHandler): void {
    this.#handlers.delete(handler);
  }

  /** @internal whether the stderr handler is installed (children inherit it). */
  get toStderr(): boolean {
    return this.#handlers.has(stderrHandler);
  }

  log(level: LogLevel, message: unknown, ...args: unknown[]): void {
    if (!this.isEnabledFor(level)) return;
    const line = `[${LABEL[level]}/${currentName()}] ${format(message, ...args)}`;
    for (const handler of this.#handlers) handler(line, level);
  }

  debug(message: unknown, ...args: unknown[]): void {
    this.log('debug', message, ...args);
  }

  info(message: unknown, ...args: unknown[]): void {
    this.log('info', message, ...args);
  }

  warn(message: unknown, ...args: unknown[]): void {
    this.log('warn', message, ...args);
  }

  error(message: unknown, ...args: unknown[]): void {
    this.log('error', message, ...args);
  }
}

// Writes synchronously (stderr is synchronous for files and pipes on Linux),
// so lines logged just before process.exit() are not lost.
const stderrHandler: LogHandler = (line) => {
  process.stderr.write(line + '\n');
};

const logger = new Logger();

/** The logger multiproc uses; silent until a handler is added (logToStderr adds one). */
export function getLogger(): Logger {
  return logger;
}

/** Sends multiproc's log lines to stderr, at `level` if given. Child processes inherit this. */
export function logToStderr(level?: LogLevel): Logger {
  if (level !== undefined) logger.setLevel(level);
  logger.addHandler(stderrHandler);
  return logger;
}

let shutdownLogged = false;
process.on('exit', () => {
  if (!shutdownLogged && currentName() === 'MainProcess') {
    shutdownLogged = true;
    logger.info('process shutting down');
  }
});
