import Koa from 'koa';
import Koa2 from 'koa2';
import { vi } from 'vitest';
import { describeAdapter } from '../../../test-support/adapter-suite.js';
import { CATCH_AFTER, CATCH_BEFORE, makeSuiteApp } from './apps.js';

vi.mock('@wsup/core', async (importOriginal) => {
  const core = await importOriginal<typeof import('@wsup/core')>();
  return { ...core, upgrade: vi.fn(core.upgrade) };
});

const capabilities = { http2: true, errorHandlers: [CATCH_BEFORE, CATCH_AFTER] };
describeAdapter('Koa 3', (options) => makeSuiteApp(Koa, options), capabilities);
describeAdapter('Koa 2', (options) => makeSuiteApp(Koa2, options), capabilities);
