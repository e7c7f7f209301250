/**
 * RFC 6455 WebSockets for Node.js HTTP servers: `upgrade(req, res, options)` inside an ordinary
 * request handler (with `handleUpgrades(server)` routing upgrade requests there), the client
 * `connect(url, options)`, permessage-deflate, heartbeat, backpressure, topics and broadcast.
 *
 * @packageDocumentation
 * @module @wsup/core
 */
export { CloseCode, Defaults, isValidCloseCode, Opcode, ReadyState } from './constants.js';
export { ErrorCode, WebSocketError, type WebSocketErrorDetails } from './errors.js';
export { formatExtensions, parseExtensions, parseProtocols, type ExtensionOffer } from './extensions.js';
export { acceptKey, checkHandshake, isWebSocketRequest, type HandshakeOffer, type HandshakeRequest } from './handshake.js';
export type { DeflateOptions } from './deflate.js';
export type { WebSocketOptions } from './options.js';
export { handleUpgrades, UpgradeRouter, type HandleUpgradesOptions, type UpgradeRouterEvents } from './routing.js';
export { upgrade, type OriginCheck, type SubprotocolSelector, type UpgradeOptions } from './upgrade.js';
export {
  WebSocket,
  type BinaryMessage,
  type CloseInfo,
  type Message,
  type SendData,
  type TextMessage,
  type WebSocketEvents,
} from './websocket.js';
export type { ReconnectOptions } from './backoff.js';
export { connect } from './client.js';
export { BODY_EXCERPT_BYTES, HandshakeResponseError } from './client-handshake.js';
export type { ConnectOptions } from './client-options.js';
export { createClient, WebSocketClient, type ClientEvents, type ClientOptions, type ClientState } from './event-client.js';
export { attachUpgrades, failUpgradedRequest, handshakeRefusal, wantsWebSocket, webSocketOfRequest, type HandshakeRefusal } from './adapter.js';
export { duplexPair, injectUpgrade } from './inject.js';
export { getDefaultHub, Hub, InMemoryBus, type Broker, type HubEvents, type HubOptions, type PublishOptions } from './hub.js';
