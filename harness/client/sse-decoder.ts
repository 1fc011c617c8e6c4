/**
 * Incremental Server-Sent Events decoder (WHATWG HTML "event stream" parsing), fed raw network
 * Buffers split anywhere: mid-line, between the CR and LF of a CRLF, inside a multi-byte UTF-8
 * character.
 *
 * Owns: line splitting (LF, CRLF, CR), field parsing (`data`, `event`, `id`; `retry` and unknown
 * fields ignored), comments, and dispatch on the blank line. It does not interpret `data`
 * (JSON, `[DONE]`): that is the client's job.
 *
 * Cost matters: it runs for every chunk of every stream (tens of thousands per second on one
 * thread). It therefore works on bytes: line ends are found with the native `Buffer.indexOf`,
 * field names are compared byte by byte, and only field values are decoded to strings. Line
 * terminators are ASCII, so they never occur inside a multi-byte UTF-8 sequence: decoding whole
 * lines is always correct and needs no streaming TextDecoder. Bytes of an unfinished line are
 * kept as Buffer references and joined once, when the line completes.
 */

/**
 * Receives each dispatched event, synchronously, from inside `push()` / `end()`.
 * Arguments rather than an object: no allocation per event beyond the strings themselves.
 *
 * @param data   The event's data: its `data:` lines joined with "\n".
 * @param event  The `event:` name, or undefined when the event had none (a "message").
 * @param id     The last event id seen on the stream (it persists across events), if any.
 */
export type SseEventListener = (data: string, event: string | undefined, id: string | undefined) => void;

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;

/** Incremental SSE decoder. One instance per stream; not reusable across streams. */
export class SseDecoder {
  readonly #onEvent: SseEventListener;
  /** Pieces of a line not yet terminated (usually none: servers write whole events). */
  #pending: Buffer[] = [];
  /** The previous chunk ended with CR: a LF at the start of the next one belongs to it. */
  #skipLF = false;
  /** The first line has not been seen yet (a UTF-8 BOM there is dropped). */
  #atStart = true;
  #data: string | undefined = undefined;
  #event: string | undefined = undefined;
  #id: string | undefined = undefined;

  constructor(onEvent: SseEventListener) {
    this.#onEvent = onEvent;
  }

  /** Feeds the next bytes of the stream. Events completed by them are dispatched before it returns. */
  push(chunk: Uint8Array): void {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const len = buf.length;
    let pos = 0;
    if (this.#skipLF && len > 0) {
      this.#skipLF = false;
      if (buf[0] === LF) pos = 1;
    }
    // Next LF / CR at or after pos, -1 when there is none left in this chunk. Cached: CR is
    // usually absent, so it is searched once per chunk rather than once per line.
    let cr = buf.indexOf(CR, pos);
    let lf = -2;
    while (pos < len) {
      if (lf !== -1 && lf < pos) lf = buf.indexOf(LF, pos);
      if (cr !== -1 && cr < pos) cr = buf.indexOf(CR, pos);
      let end: number; // end of line content (exclusive)
      let next: number; // start of the next line
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        end = cr;
        if (cr + 1 < len) {
          next = buf[cr + 1] === LF ? cr + 2 : cr + 1;
        } else {
          next = len;
          this.#skipLF = true; // CRLF may be split across chunks
        }
      } else if (lf !== -1) {
        end = lf;
        next = lf + 1;
      } else {
        // Unterminated: keep a view of the rest (subarray shares memory, no copy).
        this.#pending.push(pos === 0 ? buf : buf.subarray(pos));
        return;
      }
      if (this.#pending.length > 0) {
        this.#pending.push(buf.subarray(pos, end));
        const line = Buffer.concat(this.#pending);
        this.#pending = [];
        this.#line(line, 0, line.length);
      } else {
        this.#line(buf, pos, end);
      }
      pos = next;
    }
  }

  /**
   * Ends the stream. An unterminated last line is discarded (it may be a truncated write). The
   * spec also discards an event whose blank line never came; with `flushPending` such an event
   * (made of complete lines) is dispatched instead, which tolerates servers that close right
   * after `data: [DONE]\n`.
   */
  end(flushPending = false): void {
    this.#pending = [];
    this.#skipLF = false;
    if (flushPending) this.#dispatch();
    this.#data = undefined;
    this.#event = undefined;
  }

  /** One complete line, bytes [start, end) of buf, without its terminator. */
  #line(buf: Buffer, start: number, end: number): void {
    if (this.#atStart) {
      this.#atStart = false;
      if (end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3;
    }
    if (start === end) {
      this.#dispatch();
      return;
    }
    const first = buf[start];
    if (first === COLON) return; // comment (keep-alive pings)
    // Field name runs to the first colon or to the end of the line.
    let colon = start;
    while (colon < end && buf[colon] !== COLON) colon++;
    const nameLen = colon - start;
    let vstart = colon + 1;
    if (vstart < end && buf[vstart] === SPACE) vstart++;
    if (vstart > end) vstart = end; // no colon: the value is empty
    // Compare field names on bytes: d a t a / e v e n t / i d.
    if (nameLen === 4 && first === 0x64 && buf[start + 1] === 0x61 && buf[start + 2] === 0x74 && buf[start + 3] === 0x61) {
      const value = vstart === end ? '' : buf.toString('utf8', vstart, end);
      this.#data = this.#data === undefined ? value : this.#data + '\n' + value;
    } else if (
      nameLen === 5 && first === 0x65 && buf[start + 1] === 0x76 && buf[start + 2] === 0x65 &&
      buf[start + 3] === 0x6e && buf[start + 4] === 0x74
    ) {
      this.#event = buf.toString('utf8', vstart, end);
    } else if (nameLen === 2 && first === 0x69 && buf[start + 1] === 0x64) {
      const value = buf.toString('utf8', vstart, end);
      if (!value.includes('\0')) this.#id = value; // spec: ids containing NULL are ignored
    }
    // `retry` and unknown fields: ignored.
  }

  #dispatch(): void {
    const data = this.#data;
    const event = this.#event;
    this.#data = undefined;
    this.#event = undefined;
    // Spec: an event without any data field is not dispatched.
    if (data === undefined) return;
    this.#onEvent(data, event === '' ? undefined : event, this.#id);
  }
}
