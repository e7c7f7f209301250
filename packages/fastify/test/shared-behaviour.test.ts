import Fastify from 'fastify';
import Fastify4 from 'fastify4';
import { vi } from 'vitest';
import { describeAdapter } from '../../../test-support/adapter-suite.js';
import { makeSuiteApp, type FastifyFactory } from './apps.js';

vi.mock('@wsup/core', async (importOriginal) => {
  const core = await importOriginal<typeof import('@wsup/core')>();
  return { ...core, upgrade: vi.fn(core.upgrade) };
});

describeAdapter('Fastify 5', (options) => makeSuiteApp(Fastify, options), { http2: true });
// Fastify 4 publishes no handler errors (no diagnostics channel), and only logs those of a
// hijacked reply, so the adapter cannot see a route fail after upgrading.
describeAdapter('Fastify 4', (options) => makeSuiteApp(Fastify4 as unknown as FastifyFactory, options), {
  seesErrorsAfterUpgrade: false,
  http2: true,
});
