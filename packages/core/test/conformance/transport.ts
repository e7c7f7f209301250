/** How the suites reach the implementation: HTTP/1.1 (RFC 6455 §4) or an HTTP/2 stream (RFC 8441). */
export type Transport = 'http/1.1' | 'h2';
