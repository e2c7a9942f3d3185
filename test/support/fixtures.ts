import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Real data captured from GitHub, shared by every project here (../shared/fixtures, see its README).
export const FIXTURES_DIR = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));

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
