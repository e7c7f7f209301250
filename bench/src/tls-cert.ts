/**
 * A throwaway certificate for the TLS runs of the HTTP/2 scenarios, made once per bench with the
 * openssl command (Node cannot issue X.509 certificates itself).
 *
 * ECDSA P-256 rather than RSA-2048: both are common on the web, and P-256 is the cheaper of the
 * two for the server to sign handshakes with (RSA-2048 costs about a millisecond of server CPU per
 * full handshake). So the HTTP/1.1 runs, which pay one handshake per WebSocket, are not made
 * to look worse than they need to.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface BenchCert {
  key: string;
  cert: string;
}

/** The certificate for 127.0.0.1 (and localhost), or why there is none (no openssl, say). */
export function benchCert(): BenchCert | { error: string } {
  const dir = mkdtempSync(join(tmpdir(), 'wsup-bench-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } catch (err) {
    return { error: `no certificate (openssl: ${(err as Error).message.split('\n')[0]})` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
