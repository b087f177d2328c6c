// PyMOTW multiprocessing_wordcount.py (with multiprocessing_mapreduce.py's
// SimpleMapReduce, which multiproc provides): counts the words of the
// package's Markdown files in a pool, and prints the 20 most frequent.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SimpleMapReduce, currentProcess, isMainProcess } from 'multiproc';

const STOP_WORDS = new Set([
  'a',
  'an',
  'and',
  'are',
  'as',
  'be',
  'by',
  'for',
  'if',
  'in',
  'is',
  'it',
  'of',
  'or',
  'py',
  'rst',
  'that',
  'the',
  'to',
  'with',
]);
const PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;

/** Reads a file and returns a sequence of [word, occurrences] values. */
export function fileToWords(filename) {
  console.log(`${currentProcess().name} reading ${path.basename(filename)}`);
  const output = [];
  for (let line of fs.readFileSync(filename, 'utf8').split('\n')) {
    if (line.trimStart().startsWith('..')) continue; // skip comment lines
    line = line.replace(PUNCTUATION, ' '); // strip punctuation
    for (let word of line.split(/\s+/)) {
      word = word.toLowerCase();
      if (/^[a-z]+$/.test(word) && !STOP_WORDS.has(word)) output.push([word, 1]);
    }
  }
  return output;
}

/** The partitioned data for a word as [word, number of occurrences]. */
export function countWords([word, occurrences]) {
  return [word, occurrences.reduce((a, b) => a + b, 0)];
}

if (isMainProcess()) {
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
  const inputFiles = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.md'))
    .map((f) => path.join(dir, f));

  const mapper = new SimpleMapReduce(fileToWords, countWords);
  const wordCounts = await mapper.run(inputFiles);
  await mapper.close();
  wordCounts.sort((a, b) => b[1] - a[1]);

  console.log('\nTOP 20 WORDS BY FREQUENCY\n');
  const top20 = wordCounts.slice(0, 20);
  const longest = Math.max(...top20.map(([word]) => word.length));
  for (const [word, count] of top20) console.log(`${word.padEnd(longest + 1)}: ${String(count).padStart(5)}`);
}
