/**
 * aws-crt 1.33's MQTT 5 client keeps Node's event loop alive after stop() + close() until its native
 * side is finalized, which can take minutes (awslabs/aws-crt-nodejs#600, open; reproduced here with a
 * bare client: the process lingers > 150 s after close). A finished run must not hang the terminal,
 * so once the command is done an UNREF'd timer ends the process: when everything closed properly the
 * loop empties first and the timer never fires; when the CRT holds the loop it exits with the exit
 * code main.ts already set. stdout/stderr to pipes and files are synchronous on Linux, so nothing
 * printed is lost. main.ts arms it after every command.
 */
export function armExitWatchdog(graceMs = 2000): void {
  setTimeout(() => {
    process.exit();
  }, graceMs).unref();
}
