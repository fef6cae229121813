import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The service's Prometheus series, in one registry per vault (no global state). */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({ name: 'serial_vault_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['route', 'method', 'status'] as const, registers: [this.registry] });
  readonly httpDuration = new Histogram({
    name: 'serial_vault_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly serialsIssued = new Counter({ name: 'serial_vault_serials_issued_total', help: 'Serial assertions answered, by brand, model and outcome (issued, repeated, reprovisioned)', labelNames: ['brand', 'model', 'outcome'] as const, registers: [this.registry] });
  readonly registrations = new Counter({
    name: 'serial_vault_registrations_total',
    help: 'Serial requests by station, brand, model and outcome (issued, repeated, reprovisioned, queued, refused:CODE)',
    labelNames: ['station', 'brand', 'model', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly registrationQueue = new Gauge({ name: 'serial_vault_registration_queue_depth', help: 'Registrations being signed now, answered 202 or still waiting', registers: [this.registry] });
  readonly refusals = new Counter({ name: 'serial_vault_refusals_total', help: 'Requests refused, by error code', labelNames: ['code'] as const, registers: [this.registry] });
  readonly storeRequests = new Counter({
    name: 'serial_vault_store_requests_total',
    help: 'Store requests from devices, by endpoint, store and model (anonymous: no session), and outcome (ok or the refusal code)',
    labelNames: ['endpoint', 'store', 'model', 'outcome'] as const,
    registers: [this.registry],
  });
  /** Counted through countStoreSnap: a 50-snap refresh counts fifty snaps. */
  readonly storeSnaps: Counter<'store' | 'snap' | 'result'>;
  /** store → snap → result → count, not yet given to storeSnaps. */
  private readonly snapCounts = new Map<string, Map<string, Map<string, number>>>();
  readonly storeBytes = new Counter({ name: 'serial_vault_store_download_bytes_total', help: 'Snap file bytes sent to devices, by store', labelNames: ['store'] as const, registers: [this.registry] });
  readonly hsmSignDuration = new Histogram({
    name: 'serial_vault_hsm_sign_duration_seconds',
    help: 'Time to get a signature from the HSM, queueing included',
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [this.registry],
  });
  readonly keyHealthFindings = new Gauge({ name: 'serial_vault_key_health_findings', help: 'Key health findings now, by kind (serial-vault key health lists them)', labelNames: ['kind'] as const, registers: [this.registry] });
  readonly hsmQueueDepth = new Gauge({ name: 'serial_vault_hsm_queue_depth', help: 'Signatures waiting for an HSM signer', registers: [this.registry] });
  readonly hsmBusySigners = new Gauge({ name: 'serial_vault_hsm_busy_signers', help: 'HSM signer sessions working', registers: [this.registry] });
  readonly syncPushBacklog = new Gauge({ name: 'serial_vault_sync_push_backlog', help: 'Appliance: local rows central has not acknowledged yet, by kind (issuance, checkpoint, counters)', labelNames: ['kind'] as const, registers: [this.registry] });
  readonly syncLeaseRemaining = new Gauge({ name: 'serial_vault_sync_lease_remaining', help: 'Appliance: serial template numbers left in the ranges leased from central, by brand and model', labelNames: ['brand', 'model'] as const, registers: [this.registry] });
  readonly syncLagSeconds = new Gauge({ name: 'serial_vault_sync_lag_seconds', help: 'Appliance: seconds since it last had every change central had', registers: [this.registry] });
  readonly syncChangesBehind = new Gauge({ name: 'serial_vault_sync_changes_behind', help: "Appliance: changes in central's feed it has not applied, as last heard", registers: [this.registry] });
  readonly syncConflicts = new Counter({ name: 'serial_vault_sync_conflicts_total', help: 'Central: serials two origins gave to two device keys (GET /api/v1/sync/conflicts lists them), by brand and model', labelNames: ['brand', 'model'] as const, registers: [this.registry] });
  readonly dbDuration = new Histogram({
    name: 'serial_vault_db_query_duration_seconds',
    help: 'Database statement latency',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  constructor() {
    const pending = this.snapCounts;
    this.storeSnaps = new Counter({
      name: 'serial_vault_store_snaps_total',
      help: 'Snaps answered to devices, by store, snap and what was answered (install, refresh, download, file)',
      labelNames: ['store', 'snap', 'result'] as const,
      registers: [this.registry],
      // prom-client hashes a label set on every inc, bound or not: the counts wait as plain numbers until read.
      collect(this: Counter<'store' | 'snap' | 'result'>) {
        for (const [store, snaps] of pending) for (const [snap, results] of snaps) for (const [result, n] of results) this.inc({ store, snap, result }, n);
        pending.clear();
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'serial_vault_' });
  }

  /** One snap answered to a device: a few map lookups, the label sets hashed only when the metrics are read. */
  countStoreSnap(store: string, snap: string, result: string): void {
    let snaps = this.snapCounts.get(store);
    if (!snaps) this.snapCounts.set(store, (snaps = new Map()));
    let results = snaps.get(snap);
    if (!results) snaps.set(snap, (results = new Map()));
    results.set(result, (results.get(result) ?? 0) + 1);
  }
}
