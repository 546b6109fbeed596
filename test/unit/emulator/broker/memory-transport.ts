/**
 * An in-memory ClientTransport and a broker factory for broker unit tests (no sockets; the broker's
 * own timers run under vitest fake timers).
 */
import { generate, type Packet, parser } from "mqtt-packet";
import { onTestFinished } from "vitest";
import { Broker, type BrokerOptions, type ClientTransport } from "../../../../src/emulator/broker/index.js";
import type { Principal } from "../../../../src/emulator/types.js";

export const principal: Principal = {
  arn: "arn:aws:iam::111111111111:user/loadtester",
  accountId: "111111111111",
  accessKeyId: "AKIATEST",
  kind: "user",
  policies: [],
};

export class MemoryTransport implements ClientTransport {
  readonly received: Packet[] = [];
  closed = false;
  #onData: ((b: Buffer) => void) | undefined;
  #onClose: (() => void) | undefined;
  readonly #parser: ReturnType<typeof parser>;

  constructor(protocolVersion: 4 | 5) {
    this.#parser = parser({ protocolVersion });
    this.#parser.on("packet", (p: Packet) => this.received.push(p));
  }
  write(data: Uint8Array): void {
    this.#parser.parse(Buffer.from(data));
  }
  close(): void {
    this.closed = true;
  }
  onData(cb: (data: Buffer) => void): void {
    this.#onData = cb;
  }
  onClose(cb: () => void): void {
    this.#onClose = cb;
  }
  send(packet: Packet, protocolVersion: 4 | 5): void {
    this.#onData?.(generate(packet, { protocolVersion }));
  }
  sendRaw(bytes: Buffer): void {
    this.#onData?.(bytes);
  }
  peerClosed(): void {
    this.#onClose?.();
  }
  of<C extends Packet["cmd"]>(cmd: C): Extract<Packet, { cmd: C }>[] {
    return this.received.filter((p): p is Extract<Packet, { cmd: C }> => p.cmd === cmd);
  }
}

export function newBroker(overrides: Partial<BrokerOptions> = {}): Broker {
  const broker = new Broker({
    region: "us-east-1",
    accountId: "222222222222",
    authorize: () => ({ allowed: true, reason: "test" }),
    onCredentialExpiry: "disconnect",
    ...overrides,
  });
  onTestFinished(() => broker.close());
  return broker;
}

export function open(
  broker: Broker,
  clientId: string,
  protocolVersion: 4 | 5,
  keepalive = 60,
  who = principal,
) {
  const t = new MemoryTransport(protocolVersion);
  broker.handleConnection(t, who);
  t.send(
    { cmd: "connect", protocolId: "MQTT", protocolVersion, clientId, clean: true, keepalive },
    protocolVersion,
  );
  return t;
}
