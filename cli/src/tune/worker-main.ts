/**
 * The entry point of a forked `ferroptim tune` worker (`child_process.fork` of this file by the
 * command): receives its configuration over IPC, runs trials while the parent grants them, and
 * exits 0 (no more trials), 130 (stopped: SIGINT, SIGTERM, a `stop` message, or the parent gone;
 * the running trial is failed and not counted) or 1 (an error, sent to the parent first).
 * @module
 */
import { runWorker, type ParentMessage, type WorkerConfig, type WorkerMessage } from './worker.js';

function start(): void {
  const controller = new AbortController();
  const grants: Array<(ok: boolean) => void> = [];
  const send = (m: WorkerMessage) => {
    if (process.connected) process.send!(m);
  };
  const stop = () => {
    controller.abort();
    for (const g of grants.splice(0)) g(false);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // The parent is gone (killed): finish the running trial as FAIL and exit.
  process.on('disconnect', stop);
  let started = false;
  const run = async (config: WorkerConfig) => {
    let code = 0;
    try {
      const channel = {
        send,
        claim: () =>
          new Promise<boolean>((resolve) => {
            if (controller.signal.aborted || !process.connected) return resolve(false);
            grants.push(resolve);
            send({ type: 'claim' });
          }),
      };
      code = (await runWorker(config, channel, controller.signal)) === 'interrupted' ? 130 : 0;
    } catch (e) {
      send({ type: 'fatal', message: (e as Error)?.message ?? String(e) });
      code = 1;
    }
    // The last messages leave before the process does.
    if (process.connected) await new Promise<void>((resolve) => process.send!({ type: 'bye' }, undefined, undefined, () => resolve()));
    process.exit(code);
  };
  process.on('message', (m: ParentMessage) => {
    if (m.type === 'init' && !started) {
      started = true;
      void run(m.config);
    } else if (m.type === 'grant') grants.shift()?.(m.ok);
    else if (m.type === 'stop') stop();
  });
}

if (typeof process.send === 'function') start();
