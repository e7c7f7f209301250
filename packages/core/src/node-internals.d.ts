// Undocumented but long-stable Buffer methods that skip `write`/`toString` argument handling on
// hot paths. Ambient, so it never reaches the published type declarations.
declare global {
  interface Buffer {
    utf8Write(string: string, offset?: number, length?: number): number;
    utf8Slice(start?: number, end?: number): string;
    latin1Write(string: string, offset?: number, length?: number): number;
    latin1Slice(start?: number, end?: number): string;
  }
}
export {};
