import { readFileSync } from 'node:fs';
import {
  buildClientSchema,
  execute,
  getNamedType,
  GraphQLError,
  isInterfaceType,
  isObjectType,
  Kind,
  parse,
  validate,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import { compareNames, isoUtc, type FakeRepository, type ReleaseRecord } from './model.ts';
import { nodeId, releaseHtmlUrl } from './rest-json.ts';

// POST /graphql of the fake: every query is parsed and validated against GitHub's real public
// schema (@octokit/graphql-schema), then executed by graphql-js over the fake's data. Only the
// fields a client of this project needs have resolvers (see README.md); a valid query asking for
// another field gets null, or an error where the schema says non-null.

let cachedSchema: GraphQLSchema | undefined;

/** GitHub's schema, built once per process (about 130 ms). */
export function githubSchema(): GraphQLSchema {
  if (cachedSchema === undefined) {
    // The package exports only its index; schema.json sits beside it.
    const path = new URL('./schema.json', import.meta.resolve('@octokit/graphql-schema'));
    const introspection = JSON.parse(readFileSync(path, 'utf8')) as { data?: unknown };
    cachedSchema = buildClientSchema((introspection.data ?? introspection) as Parameters<typeof buildClientSchema>[0]);
  }
  return cachedSchema;
}

export type GraphqlErrorBody = { message: string; type?: string; path?: Array<string | number>; locations?: unknown; extensions?: Record<string, unknown> };

export type PreparedQuery =
  | { ok: false; errors: GraphqlErrorBody[] }
  | { ok: true; document: DocumentNode; operationName: string | null; variables: Record<string, unknown>; cost: number; nodeCount: number };

/** Parses, validates and prices a query as GitHub does before running it. */
const validated = new Map<string, readonly GraphQLError[]>();

export function prepareQuery(body: unknown): PreparedQuery {
  const request = body as { query?: unknown; variables?: unknown; operationName?: unknown } | null;
  if (typeof request?.query !== 'string') {
    return { ok: false, errors: [{ message: 'A query attribute must be specified and must be a string.' }] };
  }
  const variables = (typeof request.variables === 'object' && request.variables !== null ? request.variables : {}) as Record<string, unknown>;
  let document: DocumentNode;
  try {
    document = parse(request.query);
  } catch (error) {
    const syntax = error as GraphQLError;
    const location = syntax.locations?.[0];
    return {
      ok: false,
      errors: [{ message: `Parse error on ${JSON.stringify(syntax.message)}${location ? ` at [${location.line}, ${location.column}]` : ''}`, locations: syntax.locations }],
    };
  }
  const schema = githubSchema();
  // Validating against GitHub's schema costs milliseconds; a client sends the same few query texts
  // over and over (benchmarks send thousands), and a text's verdict never changes.
  let problems = validated.get(request.query);
  if (problems === undefined) {
    problems = validate(schema, document);
    if (validated.size < 1_000) validated.set(request.query, problems);
  }
  if (problems.length > 0) return { ok: false, errors: problems.map(githubValidationError) };
  const operationName = typeof request.operationName === 'string' ? request.operationName : null;
  const operation = document.definitions.find(
    (definition): definition is OperationDefinitionNode =>
      definition.kind === Kind.OPERATION_DEFINITION && (operationName === null || definition.name?.value === operationName),
  );
  if (operation === undefined) return { ok: false, errors: [{ message: `No operation named "${operationName}"` }] };
  if (operation.operation !== 'query') return { ok: false, errors: [{ message: 'The fake GitHub only answers queries.' }] };
  const fragments = new Map(
    document.definitions
      .filter((definition): definition is FragmentDefinitionNode => definition.kind === Kind.FRAGMENT_DEFINITION)
      .map((definition) => [definition.name.value, definition]),
  );
  const pricing = { requests: 0, nodes: 0, errors: [] as GraphqlErrorBody[] };
  price(schema, operation.selectionSet, schema.getQueryType()!, 1, variables, fragments, pricing);
  if (pricing.errors.length > 0) return { ok: false, errors: pricing.errors };
  if (pricing.nodes > 500_000) {
    return { ok: false, errors: [{ type: 'MAX_NODE_LIMIT_EXCEEDED', message: `This query requests up to ${pricing.nodes} possible nodes which exceeds the maximum limit of 500,000.` }] };
  }
  // https://docs.github.com/en/graphql/overview/rate-limits-and-node-limits-for-the-graphql-api:
  // one request per connection and parent node, divided by 100, rounded, at least 1.
  return { ok: true, document, operationName, variables, cost: Math.max(1, Math.round(pricing.requests / 100)), nodeCount: pricing.nodes };
}

function githubValidationError(error: GraphQLError): GraphqlErrorBody {
  const undefinedField = /^Cannot query field "([^"]+)" on type "([^"]+)"\./.exec(error.message);
  if (undefinedField) {
    return {
      extensions: { code: 'undefinedField', typeName: undefinedField[2], fieldName: undefinedField[1] },
      locations: error.locations,
      message: `Field '${undefinedField[1]}' doesn't exist on type '${undefinedField[2]}'`,
    };
  }
  return { extensions: { code: 'validationError' }, locations: error.locations, message: error.message };
}

function price(
  schema: GraphQLSchema,
  selectionSet: SelectionSetNode,
  parentType: GraphQLNamedType,
  multiplier: number,
  variables: Record<string, unknown>,
  fragments: Map<string, FragmentDefinitionNode>,
  pricing: { requests: number; nodes: number; errors: GraphqlErrorBody[] },
): void {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.INLINE_FRAGMENT || selection.kind === Kind.FRAGMENT_SPREAD) {
      const fragment = selection.kind === Kind.FRAGMENT_SPREAD ? fragments.get(selection.name.value) : selection;
      if (fragment === undefined) continue;
      const type = fragment.typeCondition ? schema.getType(fragment.typeCondition.name.value) : parentType;
      if (type) price(schema, fragment.selectionSet, type, multiplier, variables, fragments, pricing);
      continue;
    }
    if (!(isObjectType(parentType) || isInterfaceType(parentType)) || selection.selectionSet === undefined) continue;
    const field = parentType.getFields()[selection.name.value];
    if (field === undefined) continue;
    const type = getNamedType(field.type);
    let childMultiplier = multiplier;
    if (type.name.endsWith('Connection')) {
      const argument = (name: string) => {
        const node = selection.arguments?.find((candidate) => candidate.name.value === name);
        return node === undefined ? undefined : valueOf(node.value, variables);
      };
      const first = argument('first');
      const last = argument('last');
      const size = typeof first === 'number' ? first : typeof last === 'number' ? last : undefined;
      if (size === undefined) {
        pricing.errors.push({
          type: 'MISSING_PAGINATION_BOUNDARIES',
          path: [selection.name.value],
          message: `You must provide a \`first\` or \`last\` value to properly paginate the \`${selection.name.value}\` connection.`,
        });
        continue;
      }
      if (size < 0 || size > 100) {
        pricing.errors.push({
          type: 'EXCESSIVE_PAGINATION',
          path: [selection.name.value],
          message: `Requesting ${size} records on the \`${selection.name.value}\` connection exceeds the \`${typeof first === 'number' ? 'first' : 'last'}\` limit of 100 records.`,
        });
        continue;
      }
      pricing.requests += multiplier;
      childMultiplier = multiplier * size;
      pricing.nodes += childMultiplier;
    }
    price(schema, selection.selectionSet, type, childMultiplier, variables, fragments, pricing);
  }
}

function valueOf(node: ValueNode, variables: Record<string, unknown>): unknown {
  if (node.kind === Kind.VARIABLE) return variables[node.name.value];
  if (node.kind === Kind.INT) return Number(node.value);
  return undefined;
}

export type GraphqlContext = {
  findRepository: (owner: string, name: string) => FakeRepository | undefined;
  rateLimit: { cost: number; limit: number; remaining: number; used: number; resetAt: string; nodeCount: number };
};

/** Runs a prepared query. Errors come back in GitHub's shape (`type` at the top). */
export function runQuery(prepared: Extract<PreparedQuery, { ok: true }>, context: GraphqlContext): { data?: unknown; errors?: GraphqlErrorBody[] } {
  const root = {
    rateLimit: () => context.rateLimit,
    repository: ({ owner, name }: { owner: string; name: string }) => {
      const repo = context.findRepository(owner, name);
      if (repo === undefined) {
        throw new GraphQLError(`Could not resolve to a Repository with the name '${owner}/${name}'.`, { extensions: { type: 'NOT_FOUND' } });
      }
      return repositoryNode(repo);
    },
  };
  const result = execute({
    schema: githubSchema(),
    document: prepared.document,
    rootValue: root,
    variableValues: prepared.variables,
    operationName: prepared.operationName,
  }) as { data?: unknown; errors?: readonly GraphQLError[] };
  if (result instanceof Promise) throw new Error('fake GitHub resolvers must be synchronous');
  const errors = result.errors?.map((error): GraphqlErrorBody => {
    const { type, ...extensions } = (error.extensions ?? {}) as { type?: string };
    return {
      ...(type ? { type } : {}),
      path: error.path ? [...error.path] : undefined,
      ...(Object.keys(extensions).length > 0 ? { extensions } : {}),
      locations: error.locations,
      message: error.message,
    };
  });
  return { data: result.data, ...(errors && errors.length > 0 ? { errors } : {}) };
}

function cursorOf(position: number): string {
  return Buffer.from(String(position)).toString('base64');
}

function positionOf(cursor: string): number {
  const text = Buffer.from(cursor, 'base64').toString('utf8');
  if (!/^\d+$/.test(text) || cursorOf(Number(text)) !== cursor) {
    throw new GraphQLError('`after` does not appear to be a valid cursor.', { extensions: { type: 'INVALID_CURSOR_ARGUMENTS' } });
  }
  return Number(text);
}

type Page<T> = { items: T[]; startPosition: number; total: number };

/** first/after and last/before over an ordered list, with GitHub's position cursors. */
function paginate<T>(list: readonly T[], args: { first?: number | null; last?: number | null; after?: string | null; before?: string | null }): Page<T> {
  let start = args.after ? positionOf(args.after) : 0;
  let end = args.before ? positionOf(args.before) - 1 : list.length;
  end = Math.min(end, list.length);
  if (typeof args.first === 'number') end = Math.min(end, start + args.first);
  if (typeof args.last === 'number') start = Math.max(start, end - args.last);
  return { items: list.slice(start, Math.max(start, end)), startPosition: start, total: list.length };
}

function connection<T, N>(page: Page<T>, toNode: (item: T) => N) {
  const end = page.startPosition + page.items.length;
  return {
    totalCount: page.total,
    pageInfo: {
      startCursor: page.items.length > 0 ? cursorOf(page.startPosition + 1) : null,
      endCursor: page.items.length > 0 ? cursorOf(end) : null,
      hasNextPage: end < page.total,
      hasPreviousPage: page.startPosition > 0,
    },
    nodes: () => page.items.map(toNode),
    edges: () => page.items.map((item, index) => ({ cursor: cursorOf(page.startPosition + index + 1), node: toNode(item) })),
  };
}

function repositoryNode(repo: FakeRepository) {
  const self = {
    __typename: 'Repository',
    id: nodeId('Repository', repo.id),
    databaseId: repo.id,
    name: repo.name,
    nameWithOwner: repo.fullName,
    url: `https://github.com/${repo.fullName}`,
    isPrivate: false,
    owner: { __typename: 'Organization', login: repo.owner, id: nodeId('Organization', 1000 + repo.id) },
    refs: (args: { refPrefix: string; first?: number; last?: number; after?: string; before?: string; query?: string; orderBy?: { field: string; direction: string }; direction?: string }) => {
      if (args.refPrefix !== 'refs/tags/') return connection(paginate([], args), (name: string) => name);
      let names: readonly string[] = repo.tagNames();
      if (args.query) names = names.filter((name) => name.includes(args.query!));
      if (args.orderBy?.field === 'TAG_COMMIT_DATE') {
        const dated = names.map((name) => ({ name, date: repo.expectedTag(name)?.taggedAt?.getTime() ?? 0 }));
        names = dated.sort((a, b) => a.date - b.date || compareNames(a.name, b.name)).map((item) => item.name);
      }
      if ((args.orderBy?.direction ?? args.direction) === 'DESC') names = [...names].reverse();
      return connection(paginate(names, args), (name) => refNode(repo, name));
    },
    ref: ({ qualifiedName }: { qualifiedName: string }) => {
      const name = qualifiedName.startsWith('refs/tags/') ? qualifiedName.slice('refs/tags/'.length) : qualifiedName;
      return repo.tagRef(name) === undefined ? null : refNode(repo, name);
    },
    // Which release GitHub picks when several name one tag is undocumented; the fake prefers a
    // published one, then the newest draft.
    release: ({ tagName }: { tagName: string }) => {
      const candidates = repo.releasesOfTag(tagName);
      const chosen = candidates.find((release) => !release.draft) ?? candidates[0];
      return chosen === undefined ? null : releaseNode(repo, chosen);
    },
    releases: (args: { first?: number; last?: number; after?: string; before?: string; orderBy?: { field: string; direction: string } }) => {
      let list = [...repo.releases()];
      if (args.orderBy?.field === 'NAME') list.sort((a, b) => compareNames(a.name ?? '', b.name ?? ''));
      if (args.orderBy?.direction === 'ASC') list = list.reverse();
      return connection(paginate(list, args), (release) => releaseNode(repo, release));
    },
    object: ({ oid }: { oid?: string }) => (oid === undefined ? null : objectNode(repo, oid)),
  };
  return self;
}

function refNode(repo: FakeRepository, name: string) {
  return {
    __typename: 'Ref',
    id: nodeId('Ref', `${repo.id}:refs/tags/${name}`),
    name,
    prefix: 'refs/tags/',
    target: () => {
      const ref = repo.tagRef(name);
      return ref === undefined ? null : objectNode(repo, ref.sha);
    },
    repository: () => repositoryNode(repo),
  };
}

function objectNode(repo: FakeRepository, sha: string): Record<string, unknown> | null {
  const object = repo.object(sha);
  if (object === undefined) return null;
  const common = { id: nodeId('GitObject', sha), oid: sha, abbreviatedOid: sha.slice(0, 7), repository: () => repositoryNode(repo) };
  switch (object.kind) {
    case 'commit':
      return {
        __typename: 'Commit',
        ...common,
        // DateTime is UTC; GitTimestamp (tagger and author dates) keeps the offset.
        committedDate: isoUtc(new Date(object.committedDate)),
        authoredDate: isoUtc(new Date(object.authoredDate)),
        message: object.message,
        url: `https://github.com/${repo.fullName}/commit/${sha}`,
      };
    case 'tag':
      return {
        __typename: 'Tag',
        ...common,
        name: object.tag,
        message: object.message,
        tagger: object.tagger === null ? null : { name: object.tagger.name, email: object.tagger.email, date: object.tagger.date },
        target: () => objectNode(repo, object.target.sha),
      };
    default:
      return { __typename: object.kind === 'blob' ? 'Blob' : 'Tree', ...common };
  }
}

function releaseNode(repo: FakeRepository, release: ReleaseRecord) {
  const newest = repo.releases().find((candidate) => !candidate.draft && !candidate.prerelease);
  return {
    __typename: 'Release',
    id: nodeId('Release', release.id),
    databaseId: release.id,
    name: release.name,
    tagName: release.tagName,
    description: release.body,
    isDraft: release.draft,
    isPrerelease: release.prerelease,
    isLatest: newest?.id === release.id,
    createdAt: isoUtc(release.createdAt),
    publishedAt: release.publishedAt === null ? null : isoUtc(release.publishedAt),
    updatedAt: isoUtc(release.updatedAt),
    url: releaseHtmlUrl(repo, release),
    resourcePath: new URL(releaseHtmlUrl(repo, release)).pathname,
    tag: () => (repo.tagRef(release.tagName) === undefined ? null : refNode(repo, release.tagName)),
  };
}
