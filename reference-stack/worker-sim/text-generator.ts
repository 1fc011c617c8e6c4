/**
 * Generated text: deterministic per (seed, token index), every token one word of at most 10
 * characters with a leading space, so it is exactly one token by the worker's tokenizer and the
 * completion's `usage` matches what /tokenize would count.
 */
import { Rng } from '../../harness/workload/rng.ts';
import type { SimTokenizer } from './sim-tokenizer.ts';

const WORDS = (
  'the of and to in is that for it as with was on be by at this are from or an have not which but ' +
  'all were when we there can more if will one their has been would what so about out up into them ' +
  'some could time these two may then do first any my now such like other how its our over only ' +
  'new also most well very even back good much where through long after because before same ' +
  'under never each while last might great since against right three still small large another ' +
  'between both found place world house point number water part power order light field state'
).split(' ');

export class TextGenerator {
  private readonly ids: number[];
  private readonly texts: string[];

  constructor(tokenizer: SimTokenizer) {
    this.texts = WORDS.map((w) => ` ${w}`);
    this.ids = this.texts.map((t) => tokenizer.idOf(t));
    this.texts.forEach((t, i) => tokenizer.remember(this.ids[i]!, t));
  }

  /** A request's token stream: call next() once per generated token. */
  stream(seed: number): { next(): { id: number; text: string } } {
    const rng = new Rng(seed);
    const n = this.texts.length;
    return {
      next: () => {
        const k = Math.floor(rng.next() * n);
        return { id: this.ids[k]!, text: this.texts[k]! };
      },
    };
  }
}
