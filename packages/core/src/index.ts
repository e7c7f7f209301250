export { CloseCode, Defaults, isValidCloseCode, Opcode, ReadyState } from './constants.js';
export { ErrorCode, WebSocketError, type WebSocketErrorDetails } from './errors.js';
export { formatExtensions, parseExtensions, parseProtocols, type ExtensionOffer } from './extensions.js';
export { acceptKey, checkHandshake, isWebSocketRequest, type HandshakeOffer, type HandshakeRequest } from './handshake.js';
export type { WebSocketOptions } from './options.js';
export { handleUpgrades, UpgradeRouter, type HandleUpgradesOptions } from './routing.js';
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
