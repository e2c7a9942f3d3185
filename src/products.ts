import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_TAG_PATTERN, compileTagPattern } from './domain/version.ts';
import { ConfigError } from './errors.ts';
import { REPOSITORY_NAME_PATTERN } from './github/repository-ref.ts';

// The products file (PRODUCTS_FILE) says which GitHub repositories are tracked and how their tags
// become versions. It is parsed and validated once at start; the worker and `migrate` copy it into
// the products table, which is what the API reads.

export const PRODUCT_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$/;

export const productSchema = z
  .object({
    name: z
      .string()
      .regex(PRODUCT_NAME_PATTERN, 'must be URL-safe: lowercase letters, digits, ".", "_" or "-", 1 to 64 characters'),
    repository: z.string().regex(REPOSITORY_NAME_PATTERN, 'must be "owner/name"'),
    tagPattern: z
      .string()
      .default(DEFAULT_TAG_PATTERN)
      .superRefine((pattern, ctx) => {
        const problem = compileTagPattern(pattern).problem;
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
    /** Repositories that do not use GitHub Releases: every matching tag is public. */
    plainTagsPublic: z.boolean().default(false),
    /** A non-public product is visible only with an API token. */
    public: z.boolean().default(true),
    description: z.string().max(500).optional(),
  })
  .strict();

export const productsFileSchema = z
  .object({
    products: z.array(productSchema).min(1, 'list at least one product'),
  })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.products.forEach((product, index) => {
      if (seen.has(product.name)) {
        ctx.addIssue({ code: 'custom', path: ['products', index, 'name'], message: `duplicate product name "${product.name}"` });
      }
      seen.add(product.name);
    });
  });

export type ProductDefinition = z.infer<typeof productSchema>;

/** Parses the text of a products file; `source` names it in errors. */
export function parseProductsFile(text: string, source = 'PRODUCTS_FILE'): ProductDefinition[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(source, `is not valid JSON (${(error as Error).message})`, { cause: error });
  }
  const result = productsFileSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path.length > 0 ? ` at ${issue.path.map(String).join('.')}` : '';
    throw new ConfigError(source, `invalid products file${where}: ${issue.message}`);
  }
  return result.data.products;
}

export function loadProductsFile(path: string): ProductDefinition[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError('PRODUCTS_FILE', `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, {
      cause: error,
    });
  }
  return parseProductsFile(text, `PRODUCTS_FILE (${path})`);
}
