/**
 * The start of a unit (an MQTT packet, a WebSocket frame) that has not arrived whole: its chunks kept
 * as they come and joined ONCE enough bytes are there, so a large unit in small reads costs linear
 * copying, not a re-copy per read. Shared by the emulator's broker (broker/connection.ts) and its
 * WebSocket layer (emulator/websocket.ts).
 */
export class PartialBytes {
  #chunks: Buffer[] = [];
  #bytes = 0;
  #need = 0;

  /** True while bytes are kept. */
  get pending(): boolean {
    return this.#bytes > 0;
  }

  /** Keeps `rest` until `need` bytes in all are there (0: until any more arrive). */
  keep(rest: Buffer, need: number): void {
    this.#chunks = [rest];
    this.#bytes = rest.length;
    this.#need = need;
  }

  /**
   * Adds a chunk to the kept bytes: all of them joined once `need` is reached (and nothing kept
   * any more), else undefined (the chunk is kept).
   */
  add(chunk: Buffer): Buffer | undefined {
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    if (this.#bytes < this.#need) return undefined;
    const joined = Buffer.concat(this.#chunks, this.#bytes);
    this.clear();
    return joined;
  }

  clear(): void {
    this.#chunks = [];
    this.#bytes = 0;
    this.#need = 0;
  }
}
