/**
 * aws-crt 1.33's MQTT 5 client keeps Node's event loop alive after stop() + close() until its native
 * side is finalized, which can take minutes (awslabs/aws-crt-nodejs#600, open; reproduced here with a
 * bare client: the process lingers > 150 s after close). A finished run must not hang the terminal,
 * so once the command is done an UNREF'd timer ends the process: when everything closed properly the
 * loop empties first and the timer never fires; when the CRT holds the loop it exits with the exit
 * code main.ts already set. main.ts arms it after every command.
 *
 * The command has awaited everything it does by then, so the only work left worth waiting for is
 * output still queued on stdout/stderr: writes to pipes are asynchronous on macOS (Node, "A note on
 * process I/O": https://nodejs.org/api/process.html#a-note-on-process-io). The watchdog waits
 * `graceMs`, then for those queues to empty (at most `maxMs` in all), never a fixed 2 s on every run.
 */
export interface ExitWatchdogOptions {
  graceMs?: number;
  maxMs?: number;
  streams?: readonly { readonly writableLength: number }[];
  exit?: () => void;
}

const POLL_MS = 25;

export function armExitWatchdog(options: ExitWatchdogOptions = {}): void {
  const graceMs = options.graceMs ?? 200;
  const maxMs = options.maxMs ?? 2000;
  const streams = options.streams ?? [process.stdout, process.stderr];
  const exit = options.exit ?? (() => process.exit());
  let waited = graceMs;
  const check = () => {
    if (streams.some((s) => s.writableLength > 0) && waited < maxMs) {
      waited += POLL_MS;
      setTimeout(check, POLL_MS).unref();
      return;
    }
    exit();
  };
  setTimeout(check, graceMs).unref();
}
