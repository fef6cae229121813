import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

/** JSON logs to standard output, a file (`log.file`), or standard error for CLI commands (their stdout is their output). */
export function createLogger(config: Config, fd: 1 | 2 = 1): Logger {
  const destination = fd === 1 && config.log.file ? pino.destination({ dest: config.log.file, sync: false, mkdir: true }) : pino.destination({ fd, sync: fd === 2 });
  const logger = pino(
    {
      level: config.log.level,
      base: { service: 'serial-vault' },
      // Anything that might carry a secret is removed before it is written.
      redact: {
        paths: ['pin', '*.pin', 'apiKey', '*.apiKey', 'secret', '*.secret', 'token', 'sessionId', 'clientSecret', '*.clientSecret', 'req.headers["api-key"]', 'req.headers.authorization', 'req.headers.cookie', 'headers["api-key"]', 'headers.authorization', 'headers.cookie'],
        remove: true,
      },
    },
    destination,
  );
  reopeners.set(logger, () => destination.reopen());
  return logger;
}

const reopeners = new WeakMap<Logger, () => void>();

/** Re-opens a logger's file (after logrotate moved it): what SIGHUP does. */
export function reopenLog(logger: Logger): void {
  reopeners.get(logger)?.();
}
