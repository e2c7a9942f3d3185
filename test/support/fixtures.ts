import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Real data captured from GitHub (webhook payloads, REST examples, real tag lists of public
// repositories), copied into the repository so a clone is self-contained; see test/fixtures/README.md.
export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));

export type FixtureTag = {
  name: string;
  ref: string;
  object_sha: string;
  object_type: 'tag' | 'commit' | 'blob' | 'tree';
  annotated: boolean;
  peeled_sha: string;
  peeled_type: string;
  tagger_name?: string | null;
  tagger_date?: string | null;
  commit_date: string | null;
  date: string | null;
  date_source: 'tagger' | 'commit';
  message_subject?: string | null;
  nested_tag?: boolean;
};

export const TAG_LISTS = ['sourcegraph__src-cli', 'helm__helm', 'prometheus__prometheus', 'git__git', 'kubernetes__kubectl'] as const;
export type TagList = (typeof TAG_LISTS)[number];

export function readTagList(name: TagList): FixtureTag[] {
  return JSON.parse(readFileSync(`${FIXTURES_DIR}tags/${name}.json`, 'utf8')) as FixtureTag[];
}

export function readFixture<T = unknown>(path: string): T {
  return JSON.parse(readFileSync(`${FIXTURES_DIR}${path}`, 'utf8')) as T;
}
