/** Process checks for tests that fork: is a PID still alive (no orphans left behind)? */

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // ESRCH: no such process. EPERM would mean alive but not ours; it cannot be here (our own child).
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}
