import type { ChildProcess } from 'node:child_process';

// Children still running when the test process exits (a failed test, a timeout) are killed so
// no stray redis-server or service survives a run.
const live = new Set<ChildProcess>();
let hooked = false;

export function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
}
