// The module order of ARCHITECTURE.md: a module may import only modules that
// come before it. Rules are generated from this one list so the order is
// written down once.
const order = [
  'assertions',
  'keystore',
  'db',
  'audit',
  'accounts',
  'custody',
  'catalog',
  'provisioning',
  'store',
  'sync',
  'setup',
  'http',
  'cli',
];

const later = (i) => order.slice(i + 1);

const layering = order.slice(0, -1).map((name, i) => ({
  name: `${name}-must-not-import-later-modules`,
  comment: `src/${name} comes before ${later(i).join(', ')} in ARCHITECTURE.md`,
  severity: 'error',
  from: { path: `^src/${name}/`, ...(name === 'db' ? { pathNot: '^src/db/migrations/' } : {}) },
  to: { path: `^src/(${later(i).join('|')})/` },
}));

module.exports = {
  forbidden: [
    ...layering,
    {
      name: 'assertions-is-pure',
      comment: 'src/assertions does no I/O: no file system, network, koa, knex or pkcs11js',
      severity: 'error',
      from: { path: '^src/assertions/' },
      to: {
        path: '^(fs|node:fs|fs/promises|node:fs/promises|net|node:net|http|node:http|https|node:https|child_process|node:child_process|dgram|node:dgram)$|node_modules/(koa|@koa|knex|sqlite3|pg|pkcs11js|graphene-pk11)/',
      },
    },
    {
      name: 'http-never-touches-storage-or-hsm',
      comment: 'the HTTP layer talks to domain modules, never to knex or pkcs11js directly',
      severity: 'error',
      from: { path: '^src/http/' },
      to: { path: 'node_modules/(knex|sqlite3|pg|pkcs11js|graphene-pk11)/' },
    },
    {
      name: 'migrations-use-only-pure-domain-code',
      comment: 'a data migration may compute what the domain defines (the audit chain hash, the pure assertion codec), never call services',
      severity: 'error',
      from: { path: '^src/db/migrations/' },
      to: { path: '^src/(?!db/|audit/chain\\.ts$|assertions/)[^/]+/' },
    },
    {
      name: 'only-db-touches-the-drivers',
      comment: 'knex and the database drivers are imported in src/db only: repositories get a Database from it, and the unit of work lives there',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/db/' },
      to: { path: 'node_modules/(knex|sqlite3|pg)/' },
    },
    {
      name: 'errors-is-the-root',
      comment: 'src/errors.ts is below every module: it imports nothing of the project',
      severity: 'error',
      from: { path: '^src/errors\\.ts$' },
      to: { path: '^src/' },
    },
    {
      name: 'nothing-imports-the-composition-root',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(main\\.ts|cli/)' },
      to: { path: '^src/(app|main)\\.ts$' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
