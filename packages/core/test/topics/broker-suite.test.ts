/**
 * The shared broker suite (test-support/broker-suite.ts) over the in-memory bus: hubs in this
 * process reaching each other through one InMemoryBus. Nothing to take down, so no outage case.
 */
import { InMemoryBus } from '@wsup/core';
import { brokerSuite } from '../../../../test-support/broker-suite.js';

const bus = new InMemoryBus();

brokerSuite('InMemoryBus', {
  broker: () => bus.broker(),
  capabilities: { crossProcess: false },
});
