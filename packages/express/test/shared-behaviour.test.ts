import express from 'express';
import express4 from 'express4';
import { vi } from 'vitest';
import { describeAdapter } from '../../../test-support/adapter-suite.js';
import { ERROR_MIDDLEWARE, makeSuiteApp } from './apps.js';

vi.mock('@wsup/core', async (importOriginal) => {
  const core = await importOriginal<typeof import('@wsup/core')>();
  return { ...core, upgrade: vi.fn(core.upgrade) };
});

describeAdapter('Express 5', (options) => makeSuiteApp(express, 5, options), { errorHandlers: [ERROR_MIDDLEWARE] });
describeAdapter('Express 4', (options) => makeSuiteApp(express4, 4, options), { errorHandlers: [ERROR_MIDDLEWARE] });
