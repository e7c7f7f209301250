/**
 * RFC 6455 WebSockets for Node.js HTTP servers: `upgrade(req, res, options)` inside an ordinary
 * request handler (with `handleUpgrades(server)` routing upgrade requests there), the client
 * `connect(url, options)`, permessage-deflate, heartbeat, backpressure, topics and broadcast.
 *
 * @packageDocumentation
 * @module @wsup/core
 */
export { ErrorCode, WebSocketError, type WebSocketErrorDetails } from './errors.js';
export {
  channels,
  WarningCode,
  type BrokerErrorMessage,
  type HandshakeRefusedMessage,
  type WarningMessage,
  type WsupChannel,
} from './diagnostics.js';
export { CloseCode, Opcode } from './protocol/constants.js';
export { isValidCloseCode } from './protocol/validation.js';
export { formatExtensions, parseExtensions, parseProtocols, type ExtensionOffer } from './protocol/header-grammar.js';
export { acceptKey } from './protocol/keys.js';
export type { SendData } from './protocol/bytes.js';
export type { DeflateOptions } from './permessage-deflate/options.js';
export { getDefaultHub, Hub, type HubEvents, type HubOptions, type PublishOptions } from './topics/hub.js';
export { InMemoryBus, type Broker } from './topics/broker.js';
export {
  BrokerBufferDefaults,
  brokerOutage,
  BrokerOutbox,
  brokerUnavailable,
  checkTopicEncodable,
  DroppedMessageError,
  errorMessage,
  MessageEnvelope,
  resolveBrokerBuffer,
  type BrokerBufferOptions,
  type ForeignMessage,
  type ResolvedBrokerBuffer,
} from './topics/broker-kit.js';
export { Publication, type Subscriber } from './topics/subscriber.js';
export { ReadyState } from './connection/ready-state.js';
export { Defaults, type WebSocketOptions } from './connection/options.js';
export type { RateLimitOptions } from './connection/rate-limit.js';
export type { BinaryMessage, CloseInfo, Message, TextMessage, WebSocketEvents } from './connection/message.js';
export { WebSocket } from './connection/websocket.js';
export type { SendOptions } from './connection/outbound.js';
export { JsonMessageError, jsonMessages, receiveJson, sendJson, type JsonGuard } from './connection/json.js';
export { createWebSocketStream, type WebSocketStreamOptions } from './connection/stream.js';
export { webSocketStats, type WebSocketStats } from './connection/stats.js';
export type { WebSocketCloseMessage, WebSocketErrorMessage, WebSocketOpenMessage } from './connection/channel-messages.js';
export type { ClosedBy } from './connection/observability.js';
export { DEFAULT_MEMORY_BUDGET, memoryBudget, setMemoryBudget, type MemoryBudgetStatus } from './connection/memory-budget.js';
export { checkHandshake, isWebSocketRequest, wantsWebSocket, type HandshakeOffer, type HandshakeRequest } from './server/handshake.js';
export type { OriginCheck, SubprotocolSelector, UpgradeOptions } from './server/upgrade-options.js';
export { upgrade } from './server/upgrade.js';
export { handleUpgrades, UpgradeRouter, type HandleUpgradesOptions, type UpgradeRouterEvents } from './server/routing.js';
export type { UpgradeRequest, UpgradeResponse, UpgradeServer } from './server/transport.js';
export {
  attachUpgrades,
  defineSetupFallback,
  failUpgradedRequest,
  handshakeRefusal,
  isAttached,
  refuseUnrouted,
  setupMissing,
  shortenClientErrorStack,
  wasAnswered,
  webSocketOfRequest,
  type HandshakeRefusal,
  type SetupFallback,
} from './server/adapter-kit.js';
export { connect } from './client/connect.js';
export type { ConnectOptions } from './client/options.js';
export { HandshakeResponseError } from './client/response-checks.js';
export type { HandshakeResponse } from './connection/handshake-response.js';
export { BODY_EXCERPT_BYTES } from './client/response-body.js';
export type { ReconnectOptions } from './client/backoff.js';
export { createClient, WebSocketClient, type ClientEvents, type ClientOptions, type ClientState } from './client/event-client.js';
export { duplexPair, injectUpgrade } from './testing/inject.js';
