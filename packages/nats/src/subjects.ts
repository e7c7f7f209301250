import { checkTopicEncodable, ErrorCode, WebSocketError } from '@wsup/core';

/**
 * Topic names as NATS subjects: `<prefix>.t.<base64url of the topic's UTF-8>`.
 *
 * A topic is any string, but in a subject `.` separates tokens, `*` and `>` are wildcards and
 * whitespace ends the subject, so a topic cannot be used as it is. base64url's alphabet
 * (`A-Z a-z 0-9 - _`, no padding) has none of those, is one token, maps each byte string to
 * exactly one encoding (so distinct topics never share a subject) and decodes back. It is also
 * the most compact of such encodings (4/3 of the UTF-8 size, where hex is 2×), which matters
 * because the subject travels in every `PUB`/`MSG` control line, and the server refuses lines
 * longer than its `max_control_line` (4 KiB by default).
 */

/** Longest subject the broker builds: below the server's default 4,096-byte control line, with room for the rest of the line. */
export const MAX_SUBJECT_LENGTH = 3_800;

/** A valid literal subject prefix: dot-separated non-empty tokens without wildcards or whitespace. */
const PREFIX = /^[^\s.*>]+(\.[^\s.*>]+)*$/;

export function isValidPrefix(prefix: string): boolean {
  return PREFIX.test(prefix) && !/[\u0000-\u001f\u007f]/.test(prefix);
}

/** The subject of `topic`. @throws {WebSocketError} `ERR_INVALID_TOPIC` for topics no subject can carry. */
export function topicSubject(prefix: string, topic: string): string {
  checkTopicEncodable(topic, 'NATS');
  const subject = `${prefix}.t.${Buffer.from(topic, 'utf8').toString('base64url')}`;
  if (subject.length > MAX_SUBJECT_LENGTH) {
    throw new WebSocketError(
      ErrorCode.InvalidTopic,
      `topic too long for NATS: its subject would take ${subject.length} bytes (at most ${MAX_SUBJECT_LENGTH})`,
    );
  }
  return subject;
}

/** The topic a subject built by {@link topicSubject} stands for, or null for any other subject. */
export function subjectTopic(prefix: string, subject: string): string | null {
  const head = `${prefix}.t.`;
  if (!subject.startsWith(head)) return null;
  const encoded = subject.slice(head.length);
  if (!/^[A-Za-z0-9_-]+$/.test(encoded)) return null;
  const topic = Buffer.from(encoded, 'base64url').toString('utf8');
  // Only the canonical encoding names a topic.
  return Buffer.from(topic, 'utf8').toString('base64url') === encoded ? topic : null;
}

/** The subject the brokers of one prefix announce themselves on (see presence.ts). */
export function presenceSubject(prefix: string): string {
  return `${prefix}.c.presence`;
}
