/**
 * The 121 word transforms of the static dictionary (RFC 7932 section 8 and appendix B): a
 * prefix, one elementary transform of the word, and a suffix.
 */
import { utf8 } from '../util/bytes.js';

type Elementary = 'Identity' | 'UppercaseFirst' | 'UppercaseAll' | `OmitFirst${number}` | `OmitLast${number}`;

/** Appendix B, in order: [prefix, transform, suffix]. */
const TRANSFORMS: readonly (readonly [string, Elementary, string])[] = [
  ["", 'Identity', ""], // 0
  ["", 'Identity', " "], // 1
  [" ", 'Identity', " "], // 2
  ["", 'OmitFirst1', ""], // 3
  ["", 'UppercaseFirst', " "], // 4
  ["", 'Identity', " the "], // 5
  [" ", 'Identity', ""], // 6
  ["s ", 'Identity', " "], // 7
  ["", 'Identity', " of "], // 8
  ["", 'UppercaseFirst', ""], // 9
  ["", 'Identity', " and "], // 10
  ["", 'OmitFirst2', ""], // 11
  ["", 'OmitLast1', ""], // 12
  [", ", 'Identity', " "], // 13
  ["", 'Identity', ", "], // 14
  [" ", 'UppercaseFirst', " "], // 15
  ["", 'Identity', " in "], // 16
  ["", 'Identity', " to "], // 17
  ["e ", 'Identity', " "], // 18
  ["", 'Identity', "\""], // 19
  ["", 'Identity', "."], // 20
  ["", 'Identity', "\">"], // 21
  ["", 'Identity', "\n"], // 22
  ["", 'OmitLast3', ""], // 23
  ["", 'Identity', "]"], // 24
  ["", 'Identity', " for "], // 25
  ["", 'OmitFirst3', ""], // 26
  ["", 'OmitLast2', ""], // 27
  ["", 'Identity', " a "], // 28
  ["", 'Identity', " that "], // 29
  [" ", 'UppercaseFirst', ""], // 30
  ["", 'Identity', ". "], // 31
  [".", 'Identity', ""], // 32
  [" ", 'Identity', ", "], // 33
  ["", 'OmitFirst4', ""], // 34
  ["", 'Identity', " with "], // 35
  ["", 'Identity', "'"], // 36
  ["", 'Identity', " from "], // 37
  ["", 'Identity', " by "], // 38
  ["", 'OmitFirst5', ""], // 39
  ["", 'OmitFirst6', ""], // 40
  [" the ", 'Identity', ""], // 41
  ["", 'OmitLast4', ""], // 42
  ["", 'Identity', ". The "], // 43
  ["", 'UppercaseAll', ""], // 44
  ["", 'Identity', " on "], // 45
  ["", 'Identity', " as "], // 46
  ["", 'Identity', " is "], // 47
  ["", 'OmitLast7', ""], // 48
  ["", 'OmitLast1', "ing "], // 49
  ["", 'Identity', "\n\t"], // 50
  ["", 'Identity', ":"], // 51
  [" ", 'Identity', ". "], // 52
  ["", 'Identity', "ed "], // 53
  ["", 'OmitFirst9', ""], // 54
  ["", 'OmitFirst7', ""], // 55
  ["", 'OmitLast6', ""], // 56
  ["", 'Identity', "("], // 57
  ["", 'UppercaseFirst', ", "], // 58
  ["", 'OmitLast8', ""], // 59
  ["", 'Identity', " at "], // 60
  ["", 'Identity', "ly "], // 61
  [" the ", 'Identity', " of "], // 62
  ["", 'OmitLast5', ""], // 63
  ["", 'OmitLast9', ""], // 64
  [" ", 'UppercaseFirst', ", "], // 65
  ["", 'UppercaseFirst', "\""], // 66
  [".", 'Identity', "("], // 67
  ["", 'UppercaseAll', " "], // 68
  ["", 'UppercaseFirst', "\">"], // 69
  ["", 'Identity', "=\""], // 70
  [" ", 'Identity', "."], // 71
  [".com/", 'Identity', ""], // 72
  [" the ", 'Identity', " of the "], // 73
  ["", 'UppercaseFirst', "'"], // 74
  ["", 'Identity', ". This "], // 75
  ["", 'Identity', ","], // 76
  [".", 'Identity', " "], // 77
  ["", 'UppercaseFirst', "("], // 78
  ["", 'UppercaseFirst', "."], // 79
  ["", 'Identity', " not "], // 80
  [" ", 'Identity', "=\""], // 81
  ["", 'Identity', "er "], // 82
  [" ", 'UppercaseAll', " "], // 83
  ["", 'Identity', "al "], // 84
  [" ", 'UppercaseAll', ""], // 85
  ["", 'Identity', "='"], // 86
  ["", 'UppercaseAll', "\""], // 87
  ["", 'UppercaseFirst', ". "], // 88
  [" ", 'Identity', "("], // 89
  ["", 'Identity', "ful "], // 90
  [" ", 'UppercaseFirst', ". "], // 91
  ["", 'Identity', "ive "], // 92
  ["", 'Identity', "less "], // 93
  ["", 'UppercaseAll', "'"], // 94
  ["", 'Identity', "est "], // 95
  [" ", 'UppercaseFirst', "."], // 96
  ["", 'UppercaseAll', "\">"], // 97
  [" ", 'Identity', "='"], // 98
  ["", 'UppercaseFirst', ","], // 99
  ["", 'Identity', "ize "], // 100
  ["", 'UppercaseAll', "."], // 101
  ["\u00a0", 'Identity', ""], // 102
  [" ", 'Identity', ","], // 103
  ["", 'UppercaseFirst', "=\""], // 104
  ["", 'UppercaseAll', "=\""], // 105
  ["", 'Identity', "ous "], // 106
  ["", 'UppercaseAll', ", "], // 107
  ["", 'UppercaseFirst', "='"], // 108
  [" ", 'UppercaseFirst', ","], // 109
  [" ", 'UppercaseAll', "=\""], // 110
  [" ", 'UppercaseAll', ", "], // 111
  ["", 'UppercaseAll', ","], // 112
  ["", 'UppercaseAll', "("], // 113
  ["", 'UppercaseAll', ". "], // 114
  [" ", 'UppercaseAll', "."], // 115
  ["", 'UppercaseAll', "='"], // 116
  [" ", 'UppercaseAll', ". "], // 117
  [" ", 'UppercaseFirst', "=\""], // 118
  [" ", 'UppercaseAll', "='"], // 119
  [" ", 'UppercaseFirst', "='"], // 120
];
export const TRANSFORM_COUNT = TRANSFORMS.length;

interface Transform {
  prefix: Uint8Array;
  suffix: Uint8Array;
  omitFirst: number;
  omitLast: number;
  uppercase: 'none' | 'first' | 'all';
}

const prepared: Transform[] = TRANSFORMS.map(([prefix, kind, suffix]) => ({
  prefix: utf8.encode(prefix),
  suffix: utf8.encode(suffix),
  omitFirst: kind.startsWith('OmitFirst') ? Number(kind.slice(9)) : 0,
  omitLast: kind.startsWith('OmitLast') ? Number(kind.slice(8)) : 0,
  uppercase: kind === 'UppercaseFirst' ? 'first' : kind === 'UppercaseAll' ? 'all' : 'none',
}));

/**
 * Section 8's "Ferment": uppercase the UTF-8 character at `pos` the cheap way the format defines
 * (ASCII a-z flipped; in a two-byte sequence the second byte's bit 5; in a longer one the third
 * byte's bits 0 and 2). Returns the length of the character.
 */
function ferment(word: Uint8Array, pos: number): number {
  const c = word[pos]!;
  if (c < 192) {
    if (c >= 97 && c <= 122) word[pos] = c ^ 32;
    return 1;
  }
  if (c < 224) {
    if (pos + 1 < word.length) word[pos + 1]! ^= 32;
    return 2;
  }
  if (pos + 2 < word.length) word[pos + 2]! ^= 5;
  return 3;
}

/** The bytes transform `id` makes of dictionary `word`. */
export function transformWord(id: number, word: Uint8Array): Uint8Array {
  const t = prepared[id]!;
  const body = word.slice(Math.min(t.omitFirst, word.length), Math.max(0, word.length - t.omitLast));
  if (t.uppercase === 'first' && body.length) ferment(body, 0);
  if (t.uppercase === 'all') for (let pos = 0; pos < body.length; ) pos += ferment(body, pos);
  const out = new Uint8Array(t.prefix.length + body.length + t.suffix.length);
  out.set(t.prefix, 0);
  out.set(body, t.prefix.length);
  out.set(t.suffix, t.prefix.length + body.length);
  return out;
}
