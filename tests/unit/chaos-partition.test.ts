import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { localPortsTo } from '../../scripts/chaos/partition.js';

const SS = [
  '0      0      127.0.0.1:39503 127.0.0.1:25001 users:(("beam.smp",pid=32177,fd=43))',
  '0      0      127.0.0.1:41000 127.0.0.1:25002 users:(("beam.smp",pid=32177,fd=44))',
  '0      0      127.0.0.1:41001 127.0.0.1:5672 users:(("beam.smp",pid=32177,fd=45))',
  '0      0      127.0.0.1:42000 127.0.0.1:25002 users:(("beam.smp",pid=40000,fd=21))',
  '0      0      127.0.0.1:43000 127.0.0.1:25001 users:(("beam.smp",pid=321770,fd=21))',
].join('\n');

describe('loopback partition helpers', () => {
  it('GIVEN ss output WHEN looking for a VM\'s connections to peer distribution ports THEN only its own local ports to those peers come back', () => {
    assert.deepEqual(localPortsTo(SS, 32177, [25001, 25002]), [39503, 41000]);
  });

  it('GIVEN no matching connection WHEN looking THEN the list is empty', () => {
    assert.deepEqual(localPortsTo(SS, 99, [25001]), []);
  });
});
