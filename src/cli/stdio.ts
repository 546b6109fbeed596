/**
 * A closed terminal or pipe must never lose a run (`iotload run … 2>&1 | head -2`). A write to a pipe
 * whose reader has gone fails with EPIPE; Node reports it as an 'error' event on process.stdout /
 * process.stderr, and with no listener that event is an uncaught exception: exit 1, before the report
 * is written. (SIGPIPE itself is ignored by Node, see the Node.js docs, "Signal events".) The
 * progress lines, the summary and the "report:" lines are for a reader who is no longer there, so
 * their write errors are dropped; what the run measured goes to result.json, and the exit code is
 * still the run's.
 */
export function ignoreOutputErrors(...streams: NodeJS.WritableStream[]): void {
  for (const stream of streams) {
    stream.on("error", () => {
      // Deliberately ignored (EPIPE, EIO, …): see above; the run's outcome does not depend on it.
    });
  }
}
