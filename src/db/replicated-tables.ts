/**
 * The tables central owns and appliances hold read-only copies of, parents
 * before children (the order a snapshot is applied in). Each may name
 * columns that stay local: a change to only those is not replicated, and an
 * appliance never overwrites them (models.next_serial_number: appliances
 * allocate vault serials from leased ranges instead).
 */
export const REPLICATED_TABLES: ReadonlyArray<{ readonly table: string; readonly local?: readonly string[] }> = [
  { table: 'brands' },
  { table: 'stores' },
  { table: 'people' },
  { table: 'role_grants' },
  { table: 'snap_collaborators' },
  { table: 'assertions' },
  { table: 'signing_keys' },
  { table: 'models', local: ['next_serial_number'] },
  { table: 'model_serial_keys' },
  { table: 'remodel_rules' },
  { table: 'stations' },
  { table: 'station_models' },
  { table: 'api_keys' },
  { table: 'allowlist_serials' },
  { table: 'snaps' },
  { table: 'snap_revisions' },
  { table: 'channel_releases' },
  { table: 'channel_heads' },
  { table: 'store_policies' },
  { table: 'store_curation' },
  { table: 'store_pins' },
];

export const isReplicated = (table: string): boolean => REPLICATED_TABLES.some((t) => t.table === table);

/** The marker the read-only guard raises with, turned into ERR_REPLICATED_READ_ONLY by the unit of work. */
export const READ_ONLY_MARKER = 'sync: replicated from central: ';
