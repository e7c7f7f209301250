/**
 * A throwaway self-signed certificate, made at start with the system's openssl: browsers only
 * speak HTTP/2 over TLS, and a demo should not ship a private key in the repository.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A key and certificate (PEM) valid for localhost, 127.0.0.1 and ::1. */
export function selfSignedCert(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'wsup-http2-'));
  try {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    // The subjectAltName is what clients check (the CN is ignored), so the IP forms must be in it
    // for https://127.0.0.1/ to verify against `ca: cert`.
    const san = 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1';
    const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '7', '-subj', '/CN=localhost', '-addext', san];
    execFileSync('openssl', [...args, '-keyout', key, '-out', cert], { stdio: 'ignore' });
    return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
  } catch (err) {
    throw new Error('could not make a self-signed certificate: is openssl installed?', { cause: err });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
