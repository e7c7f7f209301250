import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A self-signed certificate for 127.0.0.1/localhost, made with openssl in a temp dir. */
export function selfSignedCert(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'wsup-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
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
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A test CA with a server certificate and a client certificate it signed, for mutual TLS. */
export interface MutualTlsCerts {
  /** The CA's certificate (PEM): what each side trusts. */
  ca: string;
  /** For 127.0.0.1, localhost and wsup.test (SNI tests). */
  server: { key: string; cert: string };
  /** CN `wsup-test-client`, for client authentication. */
  client: {
    key: string;
    cert: string;
    /** `key`, encrypted with `passphrase`. */
    encryptedKey: string;
    /** Key and certificate as PKCS#12, encrypted with `passphrase`. */
    pfx: Buffer;
    passphrase: string;
  };
}

/** Makes a CA, a server and a client certificate with openssl in a temp dir (EC keys: quick to make). */
export function mutualTlsCerts(): MutualTlsCerts {
  const dir = mkdtempSync(join(tmpdir(), 'wsup-mtls-'));
  const p = (name: string) => join(dir, name);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const passphrase = 'wsup test passphrase';
  try {
    run([
      'req',
      '-x509',
      ...newKey,
      '-days',
      '2',
      '-subj',
      '/CN=wsup test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout',
      p('ca.key'),
      '-out',
      p('ca.pem'),
    ]);
    const issue = (name: string, cn: string, extensions: string) => {
      writeFileSync(p(`${name}.ext`), extensions);
      run(['req', ...newKey, '-subj', `/CN=${cn}`, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`)]);
      run([
        'x509',
        '-req',
        '-in',
        p(`${name}.csr`),
        '-CA',
        p('ca.pem'),
        '-CAkey',
        p('ca.key'),
        '-CAcreateserial',
        '-days',
        '2',
        '-extfile',
        p(`${name}.ext`),
        '-out',
        p(`${name}.pem`),
      ]);
    };
    issue('server', 'localhost', 'subjectAltName=DNS:localhost,DNS:wsup.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    issue('client', 'wsup-test-client', 'extendedKeyUsage=clientAuth\n');
    run(['pkey', '-in', p('client.key'), '-aes256', '-passout', `pass:${passphrase}`, '-out', p('client-enc.key')]);
    run([
      'pkcs12',
      '-export',
      '-inkey',
      p('client.key'),
      '-in',
      p('client.pem'),
      '-passout',
      `pass:${passphrase}`,
      '-out',
      p('client.p12'),
    ]);
    const text = (name: string) => readFileSync(p(name), 'utf8');
    return {
      ca: text('ca.pem'),
      server: { key: text('server.key'), cert: text('server.pem') },
      client: {
        key: text('client.key'),
        cert: text('client.pem'),
        encryptedKey: text('client-enc.key'),
        pfx: readFileSync(p('client.p12')),
        passphrase,
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
