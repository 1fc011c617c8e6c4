/**
 * parseDuration / formatDuration (harness/util/duration.ts): durations as users write them,
 * parsed once into milliseconds; bare numbers other than 0 are refused.
 */

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration } from '../../harness/util/duration.ts';

describe('parseDuration', () => {
  test('each unit converts to milliseconds', () => {
    assert.equal(parseDuration('250us'), 0.25);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('2m'), 120_000);
    assert.equal(parseDuration('3h'), 10_800_000);
  });

  test('ms is not read as minutes followed by a stray s', () => {
    assert.equal(parseDuration('5ms'), 5);
    assert.equal(parseDuration('5m'), 300_000);
  });

  test('combinations add up', () => {
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('2m15s'), 135_000);
    assert.equal(parseDuration('1s500ms'), 1500);
    assert.equal(parseDuration('1h1m1s1ms'), 3_661_001);
  });

  test('decimals', () => {
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('0.25m'), 15_000);
    assert.equal(parseDuration('2.5ms'), 2.5);
    assert.equal(parseDuration('1.5h'), 5_400_000);
  });

  test('zero: the number, the string and with a unit', () => {
    assert.equal(parseDuration(0), 0);
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration('0s'), 0);
    assert.equal(parseDuration('0ms'), 0);
  });

  test('surrounding whitespace is ignored', () => {
    assert.equal(parseDuration(' 5s '), 5000);
  });

  test('bad inputs give undefined', () => {
    for (const bad of ['5', '30', '1.5', '5x', '', '   ', 's', 'ms', '-5s', '-1m', '5 s', '1s x', 'x1s', '.5s', '5s-', '1,5s', 'five seconds']) {
      assert.equal(parseDuration(bad), undefined, `parseDuration(${JSON.stringify(bad)})`);
    }
  });

  test('non-strings other than 0 give undefined (a bare number is ambiguous)', () => {
    for (const bad of [5, 30, -1, 1.5, null, undefined, true, {}, ['5s']]) {
      assert.equal(parseDuration(bad), undefined, `parseDuration(${JSON.stringify(bad)})`);
    }
  });
});

describe('formatDuration', () => {
  test('under a second: milliseconds, two decimals at most', () => {
    assert.equal(formatDuration(850), '850ms');
    assert.equal(formatDuration(0), '0ms');
    assert.equal(formatDuration(12.345), '12.35ms');
  });

  test('under a minute: seconds, two decimals at most', () => {
    assert.equal(formatDuration(1000), '1s');
    assert.equal(formatDuration(1250), '1.25s');
    assert.equal(formatDuration(30_000), '30s');
  });

  test('a minute and more: minutes and whole seconds', () => {
    assert.equal(formatDuration(120_000), '2m');
    assert.equal(formatDuration(150_000), '2m30s');
    assert.equal(formatDuration(90_400), '1m30s');
  });

  test('its output parses back to the same value (whole units)', () => {
    for (const ms of [5, 850, 1000, 1250, 30_000, 60_000, 150_000, 3_600_000]) {
      assert.equal(parseDuration(formatDuration(ms)), ms, `${ms} -> ${formatDuration(ms)}`);
    }
  });
});
