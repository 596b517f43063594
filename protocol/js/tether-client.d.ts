// Types of tether-client.js (protocol/SPEC.md is the wire format).

export declare const PROTOCOL_VERSION: string;

export type Priority = 'critical' | 'high' | 'normal' | 'low';
export type DeviceType = 'mobile' | 'desktop' | 'web' | 'tablet';

export interface Destination {
  target: 'device' | 'extension' | 'broadcast' | 'cloud';
  deviceId?: string;
  userId?: string;
  broadcast?: { scope: 'user' | 'device_type' | 'room'; room?: string; filter?: Record<string, unknown> };
}

export interface MobileMessage {
  id: string;
  timestamp: number;
  protocolVersion: string;
  source: { deviceId: string; userId: string; deviceType: DeviceType; sessionId?: string; timestamp: number };
  destination: Destination;
  type: string;
  payload?: unknown;
  optimization: {
    priority: Priority; ttl?: number; requiresAck?: boolean; offlineCapable?: boolean; withdrawable?: boolean;
    notify?: boolean; notification?: NotificationText;
  };
  seq?: number;
  [key: string]: unknown;
}

/** The text a push for a message shows (SendOptions.notification). */
export interface NotificationText { title: string; body: string }

export type PushProvider = 'apns' | 'fcm' | 'webhook';

/** Where the device's pushes go (SPEC §5.10). */
export interface PushAddress {
  provider: PushProvider;
  /** apns: the device token (hex); fcm: the registration token; webhook:
   * what the deployment's push service knows the device by. */
  token: string;
  /** apns only: the app's bundle id (absent: the deployment's). */
  topic?: string;
  /** apns only (default production). */
  environment?: 'production' | 'sandbox';
}

export type AppState = 'foreground' | 'background';

export interface Ack {
  messageId: string;
  status: 'received' | 'processed' | 'failed' | 'expired' | 'sent';
  timestamp?: number;
  recipients?: number;
  batchId?: string;
  error?: { code: string; message: string; details?: unknown };
}

export interface Welcome {
  sessionId: string;
  userId: string;
  deviceId: string;
  deviceType: DeviceType;
  protocolVersion: string;
  codec: string;
  compression: string;
  heartbeatIntervalMs: number;
  pongTimeoutMs: number;
  serverVersion: string;
  resumeToken: string;
  resumed: boolean;
  frameCompression: string;
  limits: { maxMessageBytes: number; maxBatchMessages: number; ratePerSecond: number };
}

export interface Member {
  userId: string;
  deviceId: string;
  deviceType: DeviceType;
  status: 'online' | 'away' | 'busy' | 'offline';
  custom?: { text?: string; emoji?: string; expiresAt?: number };
  lastSeen: number;
  event?: 'join' | 'leave' | 'update';
}

export interface Gap {
  reason: 'expired' | 'evicted' | 'dead_letter';
  count: number;
  messageIds: string[];
}

export interface CloseInfo {
  code?: number;
  reason?: string;
  /** HTTP status of a refused upgrade (with the `ws` package only). */
  status?: number;
  reconnect: boolean;
  delayMs?: number;
  /** The server's time to come back (a drain's 1012, a 503's Retry-After). */
  retryAfterMs?: number;
}

export interface Backoff { baseMs: number; capMs: number; multiplier: number }

export interface ClientOptions {
  /** ws://host:port/ws or wss://... */
  url: string;
  /** A token, or a function returning one (called before every connect). */
  token: string | (() => string | Promise<string>);
  codec?: 'json' | 'msgpack';
  /** The WebSocket constructor; default globalThis.WebSocket. */
  WebSocket?: unknown;
  /** 'query' (browsers) or 'header' (the `ws` package). */
  tokenIn?: 'query' | 'header';
  backoff?: Partial<Backoff>;
  /** A link up this long after its welcome resets the backoff (3000 ms);
   * a shorter one counts as a failed attempt. */
  stableMs?: number;
  random?: () => number;
  ackDelayMs?: number;
  dedupCapacity?: number;
  outboxLimit?: number;
  /** How long checkLink waits for an answer before it takes the link for
   * dead (1500 ms). */
  probeTimeoutMs?: number;
  /** Fires `online` and `offline`, each a checkLink (default: the window in
   * a browser; false: none). */
  networkEvents?: EventTarget | false;
  /** Its `visibilitychange` to visible is a checkLink (default:
   * globalThis.document); with `lifecycle: 'visibility'` also the document
   * whose `hidden` is followed (tests pass a fake one). */
  visibility?: { visibilityState: string; hidden?: boolean; addEventListener: EventTarget['addEventListener']; removeEventListener: EventTarget['removeEventListener'] } | false;
  /** 'visibility': the document hidden is background(), shown again
   * foreground() (default when there is a globalThis.document); false:
   * none (React Native, Capacitor's App events: call them yourself). */
  lifecycle?: 'visibility' | false;
}

export interface SendOptions {
  priority?: Priority;
  requiresAck?: boolean;
  offlineCapable?: boolean;
  /** false: the copies on the user's other devices stay when one of them
   * marks the message handled (default true). */
  withdrawable?: boolean;
  ttl?: number;
  /** true: the message calls for a push even below the server's push
   * priority (push.min_priority). */
  notify?: boolean;
  /** The text its push shows. */
  notification?: NotificationText;
  id?: string;
}

export declare class TetherError extends Error {
  code: string;
  details?: unknown;
}

export declare function isTerminalClose(code: number): boolean;
export declare function isFinalRefusal(status: number): boolean;
/** The time to come back a drain's close reason (1012) names, or null. */
export declare function drainRetryAfter(reason: string): number | null;
export declare function backoffDelay(attempt: number, backoff: Backoff, u: number): number;
/** The attempt number of the next delay after a link that stayed up `upMs`
 * after its welcome (null: never welcomed). */
export declare function nextAttempt(attempt: number, upMs: number | null, stableMs: number): number;

export declare class TetherClient {
  constructor(options: ClientOptions);
  readonly state: 'idle' | 'connecting' | 'open' | 'waiting' | 'closed';
  readonly lastSeq: number;
  /** As background()/foreground() last said (initially 'foreground'). */
  readonly appState: AppState;
  /** deadLinks: links given up for want of an answer (heartbeat or checkLink). */
  /** drained: links closed by a drain (1012) that named a time to come
   * back; paced: upgrades refused with 503 and a Retry-After; withdrawn:
   * message ids the server said were handled on another device. */
  readonly stats: { connects: number; resumes: number; duplicates: number; delivered: number; resent: number; deadLinks: number; drained: number; paced: number; withdrawn: number };

  on(event: 'open', fn: (welcome: Welcome) => void): this;
  on(event: 'message', fn: (message: MobileMessage) => void): this;
  on(event: 'ack', fn: (ack: Ack) => void): this;
  on(event: 'gap', fn: (gap: Gap) => void): this;
  /** Messages handled on another device of the user (tether.withdrawn):
   * clear their notifications. Ids this device never had may be named. */
  on(event: 'withdrawn', fn: (messageIds: string[]) => void): this;
  on(event: 'presence', fn: (room: string, members: Map<string, Member>, update: unknown) => void): this;
  on(event: 'close', fn: (info: CloseInfo) => void): this;
  /**
   * Problems that do not end the client: a TetherError with code
   * MALFORMED_FRAME (a frame or batch member from the server that is not an
   * object of the shape SPEC §3 gives: dropped, never thrown),
   * PROTOCOL_ERROR (a second tether.welcome on one connection, or anything
   * before the first: the link is closed and dialled again, identity and
   * lastSeq unchanged), HEARTBEAT_TIMEOUT, a failed ack of no pending send;
   * or the Error of a token function or of a listener.
   */
  on(event: 'error', fn: (error: TetherError | Error) => void): this;
  off(event: string, fn: (...args: any[]) => void): this;

  connect(): Promise<Welcome>;
  close(): void;
  /**
   * Checks the link now (the network changed: the client does it itself on
   * `online`, `offline` and the page becoming visible): a ping answered
   * within probeTimeoutMs, or the link is given up and dialled again at
   * once, resuming; while waiting to reconnect it dials at once. True if
   * the link answered.
   */
  checkLink(): Promise<boolean>;
  /** TEST SEAM: drops the TCP connection as a failing network would. */
  dropLinkForTesting(): void;

  /** Throws a TypeError for a `notify` or `notification` of the wrong shape. */
  send(destination: Destination, type: string, payload?: unknown, options?: SendOptions): Promise<Ack>;
  sendToDevice(deviceId: string, type: string, payload?: unknown, options?: SendOptions): Promise<Ack>;
  sendToExtension(type: string, payload?: unknown, options?: SendOptions): Promise<Ack>;
  broadcast(type: string, payload?: unknown, options?: SendOptions): Promise<Ack>;
  publish(room: string, type: string, payload?: unknown, options?: SendOptions): Promise<Ack>;
  request(type: string, payload?: unknown): Promise<Ack>;
  join(room: string, options?: { presence?: boolean; filter?: { status?: string[]; deviceType?: string[] } }): Promise<Ack>;
  leave(room: string): Promise<Ack>;
  setStatus(status?: 'online' | 'away' | 'busy', custom?: { text?: string; emoji?: string; expiresAt?: number } | null): Promise<Ack>;
  getPresence(room: string, page?: number, pageSize?: number): Promise<Ack>;
  presence(room: string): Map<string, Member>;
  /** This device handled these messages: their copies queued for the
   * user's other devices are withdrawn (SPEC §5.9). Requests of 100 ids. */
  markHandled(messageIds: string[]): Promise<Ack[]>;
  /** Where this device's pushes go, one address per provider, registered
   * again after every reconnect. Resolves with the `processed` ack; the
   * server's refusal (VALIDATION_ERROR) rejects. Throws a TypeError for a
   * provider other than apns/fcm/webhook or an empty token. */
  registerPush(address: PushAddress): Promise<Ack>;
  /** Removes the address for `provider`, or all of them. */
  unregisterPush(provider?: PushProvider): Promise<Ack>;
  /** The app left the screen: the server decides on pushes as if the
   * device could not take messages and shows it `away`; told again after
   * every reconnect. Idempotent. */
  background(): Promise<Ack>;
  /** The app is on the screen again. Idempotent. */
  foreground(): Promise<Ack>;
}
