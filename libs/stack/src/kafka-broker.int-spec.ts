/** The launcher's refusals: they must be clear before any JVM starts. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';

import { startKafkaBroker } from './kafka-broker';
import { findFreePorts, PortInUseError } from './processes';

describe('startKafkaBroker refuses bad setups', () => {
  it('names the port that is already in use', async () => {
    const [port, controllerPort] = await findFreePorts(2);
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      await assert.rejects(startKafkaBroker({ port, controllerPort }), (err: Error) => {
        assert.ok(err instanceof PortInUseError);
        assert.equal(err.message, `port ${port} (Kafka) is already in use on 127.0.0.1`);
        return true;
      });
    } finally {
      blocker.close();
    }
  });

  it('will not wipe a data dir it did not make', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mfsim-not-kafka-'));
    try {
      mkdirSync(path.join(dir, 'precious'));
      writeFileSync(path.join(dir, 'precious', 'file'), 'keep me');
      await assert.rejects(startKafkaBroker({ dataDir: dir }), /not empty and was not made by the mfsim broker launcher/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
