import Fastify from 'fastify';
import Fastify4 from 'fastify4';
import { vi } from 'vitest';
import { describeAdapter } from '../../../test-support/adapter-suite.js';
import { makeSuiteApp, SET_ERROR_HANDLER, type FastifyFactory } from './apps.js';

vi.mock('@wsup/core', async (importOriginal) => {
  const core = await importOriginal<typeof import('@wsup/core')>();
  return { ...core, upgrade: vi.fn(core.upgrade) };
});

const capabilities = { http2: true, errorHandlers: [SET_ERROR_HANDLER] };
describeAdapter('Fastify 5', (options) => makeSuiteApp(Fastify, options), capabilities);
describeAdapter('Fastify 4', (options) => makeSuiteApp(Fastify4 as unknown as FastifyFactory, options), capabilities);
