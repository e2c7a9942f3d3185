import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_TAG_PATTERN } from '../src/domain/version.ts';
import { ConfigError } from '../src/errors.ts';
import { loadProductsFile, parseProductsFile } from '../src/products.ts';

function problem(text: string): string {
  try {
    parseProductsFile(text);
  } catch (error) {
    assert.instance(error, ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error('expected the file to be rejected');
}

test('the shipped example file is valid', () => {
  const products = loadProductsFile(new URL('../products.example.json', import.meta.url).pathname);
  assert.ok(products.length >= 1);
  const names = products.map((product) => product.name);
  assert.equal(names, [...new Set(names)]);
});

test('defaults: optional v then semver, releases-only visibility, public product', () => {
  const [product] = parseProductsFile(JSON.stringify({ products: [{ name: 'sourcegraph', repository: 'sourcegraph/sourcegraph' }] }));
  assert.equal(product, {
    name: 'sourcegraph',
    repository: 'sourcegraph/sourcegraph',
    tagPattern: DEFAULT_TAG_PATTERN,
    plainTagsPublic: false,
    public: true,
  });
});

test('bad files are rejected with the place of the problem', () => {
  assert.match(problem('{'), /not valid JSON/);
  assert.match(problem('[]'), /invalid products file/);
  assert.match(problem('{"products": []}'), /at least one product/);
  assert.match(problem('{"products": [{"name": "Bad Name", "repository": "a/b"}]}'), /products\.0\.name: must be URL-safe/);
  assert.match(problem('{"products": [{"name": "ok", "repository": "nope"}]}'), /products\.0\.repository: must be "owner\/name"/);
  assert.match(problem('{"products": [{"name": "ok", "repository": "a/b", "tagPattern": "^v(\\\\d+"}]}'), /not a valid regular expression/);
  assert.match(problem('{"products": [{"name": "ok", "repository": "a/b", "tagPattern": "^v(.*)$"}]}'), /named group \(\?<version>/);
  assert.match(
    problem('{"products": [{"name": "ok", "repository": "a/b"}, {"name": "ok", "repository": "c/d"}]}'),
    /products\.1\.name: duplicate product name "ok"/,
  );
  assert.match(problem('{"products": [{"name": "ok", "repository": "a/b", "colour": "red"}]}'), /products\.0/);
});

test('a missing file names PRODUCTS_FILE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rr-products-'));
  try {
    loadProductsFile(join(dir, 'absent.json'));
    assert.unreachable('expected an error');
  } catch (error) {
    assert.instance(error, ConfigError);
    assert.is((error as ConfigError).variable, 'PRODUCTS_FILE');
    assert.match((error as Error).message, /ENOENT/);
  }
  const file = join(dir, 'good.json');
  writeFileSync(file, readFileSync(new URL('../products.example.json', import.meta.url)));
  assert.ok(loadProductsFile(file).length > 0);
});

test.run();
