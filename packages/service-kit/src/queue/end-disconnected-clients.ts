import type { Worker } from 'bullmq';

interface EndableClient {
  status: string;
  disconnect(): void;
  flushQueue?(error: Error): void;
  setStatus?(status: string): void;
}

/**
 * BullMQ's `Worker.close()` waits for its blocking connection to emit `end`, but an ioredis
 * client that is between reconnect attempts (Redis down) has no socket: `disconnect()` only
 * cancels the next attempt and `end` never comes, so a SIGTERM while Redis is down would wait
 * out SHUTDOWN_TIMEOUT and exit 1. For every worker connection that is not connected, this
 * rejects the commands it queued and marks it ended, which lets `close()` finish. Connected
 * ones are left alone (they close gracefully). It reaches into BullMQ and ioredis internals, so
 * it stays small and in this one place: QueueWorkerHost.close() calls it.
 */
export async function endDisconnectedWorkerClients(workers: readonly Worker[]): Promise<void> {
  for (const worker of workers) {
    const internals = worker as unknown as { blockingConnection?: { client: Promise<unknown> } };
    const clients = await Promise.all([
      settledWithin(worker.client as Promise<unknown>),
      settledWithin(internals.blockingConnection?.client),
    ]);
    for (const c of clients as (EndableClient | undefined)[]) {
      if (!c || c.status === 'ready' || c.status === 'end') continue;
      c.disconnect();
      if (c.status === 'end') continue;
      c.flushQueue?.(new Error('Connection is closed.'));
      c.setStatus?.('end');
    }
  }
}

/** The value if the promise settles within `ms`, else undefined (an uninitialised client hangs). */
async function settledWithin<T>(p: Promise<T> | undefined, ms = 200): Promise<T | undefined> {
  if (!p) return undefined;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([p.catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}
