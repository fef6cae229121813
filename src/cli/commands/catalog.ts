import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { readSnapYaml } from '../../catalog/snap-file.js';
import { SNAP_TYPES, parseSnapYaml, type SnapType } from '../../catalog/snap-yaml.js';
import { adminCliError } from '../admin-client.js';
import { localCatalogOps, remoteCatalogOps, type CatalogOps, type StatusOut } from '../catalog-client.js';
import { CliError, type CliIo } from '../io.js';
import { targetOptions, withTarget, type Target } from './target.js';
import type { Vault } from '../../app.js';

const CATALOG_SIDES = { local: (vault: Vault) => localCatalogOps(vault.snaps), remote: (url: string, token: string) => remoteCatalogOps(url, token), asError: adminCliError };
const withCatalog = <T>(o: Target, fn: (ops: CatalogOps) => Promise<T>) => withTarget(o, CATALOG_SIDES, fn);

const storeOption = () => new Option('--store <store>', 'the store (id) the snap is in').env('SERIAL_VAULT_STORE').makeOptionMandatory();
const revisionArg = (v: string): number => {
  if (!/^[1-9]\d*$/.test(v)) throw new InvalidArgumentError('expected a revision number (1, 2, …).');
  return Number(v);
};
const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

/** A bar on a terminal; on a log, a line at each quarter. */
function progressPrinter(io: CliIo, label: string): (sent: number, total: number) => void {
  let lastQuarter = -1;
  let lastDraw = 0;
  return (sent, total) => {
    const frac = total === 0 ? 1 : sent / total;
    if (io.stderrIsTerminal) {
      const now = Date.now();
      if (now - lastDraw < 100 && sent < total) return;
      lastDraw = now;
      const width = 30;
      const filled = Math.round(frac * width);
      io.stderr(`\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${Math.floor(frac * 100)}% ${mb(sent)}/${mb(total)}${sent >= total ? '\n' : ''}`);
      return;
    }
    const quarter = Math.floor(frac * 4);
    if (quarter > lastQuarter) {
      lastQuarter = quarter;
      io.stderr(`${label}: ${quarter * 25}% (${mb(sent)} of ${mb(total)})\n`);
    }
  };
}

function printStatus(io: CliIo, s: StatusOut): void {
  io.stdout(`${s.snap.name} (${s.snap.type}${s.snap.private ? ', private' : ''}) in store ${s.snap.store}, snap-id ${s.snap.snapId}, publisher ${s.snap.publisher}\n`);
  if (s['channel-map'].length === 0) io.stdout('  nothing released\n');
  for (const h of s['channel-map']) {
    const r = s.revisions.find((x) => x.revision === h.revision);
    io.stdout(`  ${h.channel.padEnd(24)} ${h.architecture.padEnd(8)} ${String(h.revision).padStart(4)}  ${r?.version ?? ''}\n`);
  }
}

/** The name of the snap in FILE: from its snap.yaml, or, without squashfs-tools here, from a NAME_… file name. */
async function snapNameOf(file: string): Promise<string> {
  try {
    return parseSnapYaml(await readSnapYaml(file)).name;
  } catch {
    const m = /^([a-z0-9-]+)_/.exec(basename(file));
    if (m) return m[1] as string;
    throw new CliError(`cannot tell which snap ${file} is: it has no readable meta/snap.yaml; name it with --name`);
  }
}

export function catalogCommand(io: CliIo): Command {
  const snap = new Command('snap').description("a store's snaps: names, uploads, review, channels, curation and downloads");
  const out = (o: Target, v: unknown, text: () => void) => (o.json ? io.stdout(`${JSON.stringify(v, null, 2)}\n`) : text());

  targetOptions(snap.command('register').description('register a snap name in a store').argument('<name>').addOption(storeOption()).addOption(new Option('--type <type>', 'app, gadget, kernel, base or snapd').choices(SNAP_TYPES).default('app' as SnapType)).option('--private', 'visible only to this store and the stores that inherit from it'))
    .action(async (name, o) => withCatalog(o, async (ops) => {
      const s = await ops.register(o.store, name, o.type, o.private === true);
      out(o, s, () => io.stdout(`registered ${s.name} (${s.type}${s.private ? ', private' : ''}) in ${s.store}, snap-id ${s.snapId}\n`));
    }));

  targetOptions(snap.command('collaborators').description("set who, besides its publisher, may upload and release a snap").argument('<name>').argument('[emails...]', 'the collaborators (none: remove them all)').addOption(storeOption()))
    .action(async (name, emails, o) => withCatalog(o, async (ops) => {
      const s = await ops.setCollaborators(o.store, name, emails);
      out(o, s, () => io.stdout(`${s.name}: collaborators ${s.collaborators.join(', ') || '(none)'}\n`));
    }));

  targetOptions(snap.command('upload').description('upload a .snap and make it the next revision of its snap').argument('<file>').addOption(storeOption()).option('--name <name>', 'the snap (default: the name in its snap.yaml)'))
    .action(async (file, o) => withCatalog(o, async (ops) => {
      const name = o.name ?? (await snapNameOf(file));
      const r = await ops.upload(o.store, name, file, progressPrinter(io, `uploading ${basename(file)}`));
      out(o, r, () => io.stdout(`${name}: revision ${r.revision} (${r.status})\n`));
    }));

  targetOptions(snap.command('revisions').description("a snap's revisions, newest first").argument('<name>').addOption(storeOption()))
    .action(async (name, o) => withCatalog(o, async (ops) => {
      const s = await ops.status(o.store, name);
      out(o, s.revisions, () => {
        for (const r of s.revisions) io.stdout(`${String(r.revision).padStart(4)}  ${r.version.padEnd(16)} ${r.architectures.join(',').padEnd(14)} ${r.grade.padEnd(7)} ${r.status}${r.reviewReason ? ` (${r.reviewReason})` : ''}  by ${r.uploadedBy}\n`);
      });
    }));

  targetOptions(snap.command('review').description('approve or reject a revision waiting for review').argument('<name>').argument('<revision>', 'revision number', revisionArg).addOption(storeOption()).option('--approve').option('--reject <reason>', 'reject it, saying why'))
    .action(async (name, revision, o) => withCatalog(o, async (ops) => {
      if (!o.approve === !o.reject) throw new CliError('give one of --approve or --reject REASON');
      const r = await ops.review(o.store, name, revision, o.approve ? { approve: true } : { approve: false, reason: o.reject! });
      out(o, r, () => io.stdout(`${name} revision ${r.revision}: ${r.status}\n`));
    }));

  targetOptions(snap.command('release').description('release a revision to channels (track/risk[/branch])').argument('<name>').argument('<revision>', 'revision number', revisionArg).argument('<channels...>').addOption(storeOption()))
    .action(async (name, revision, channels, o) => withCatalog(o, async (ops) => {
      const s = await ops.release(o.store, name, channels.map((channel) => ({ revision, channel })));
      out(o, s, () => printStatus(io, s));
    }));

  targetOptions(snap.command('close').description('close channels: devices tracking them follow the next more stable risk').argument('<name>').argument('<channels...>').addOption(storeOption()))
    .action(async (name, channels, o) => withCatalog(o, async (ops) => {
      const s = await ops.release(o.store, name, channels.map((channel) => ({ revision: null, channel })));
      out(o, s, () => printStatus(io, s));
    }));

  targetOptions(snap.command('status').description("a snap's channel map").argument('<name>').addOption(storeOption()))
    .action(async (name, o) => withCatalog(o, async (ops) => {
      const s = await ops.status(o.store, name);
      out(o, s, () => printStatus(io, s));
    }));

  for (const [verb, mode, what] of [['include', 'include', "add another store's snap to this store's offer"], ['exclude', 'exclude', "take a snap out of this store's offer"], ['uncurate', null, "drop this store's include or exclude of a snap"]] as const) {
    targetOptions(snap.command(verb).description(what).argument('<name>').addOption(storeOption()))
      .action(async (name, o) => withCatalog(o, async (ops) => {
        await ops.curate(o.store, name, mode);
        if (!o.json) io.stdout(`${name}: ${mode ?? 'no choice'} in ${o.store}\n`);
      }));
  }

  targetOptions(snap.command('override').description('pin a revision on a channel in this store and those that inherit from it ("none" unpins)').argument('<name>').argument('<channel>').argument('<revision>', 'revision number or "none"').addOption(storeOption()))
    .action(async (name, channel, revision, o) => withCatalog(o, async (ops) => {
      const rev = revision === 'none' ? null : revisionArg(revision);
      await ops.pin(o.store, name, channel, rev);
      if (!o.json) io.stdout(rev === null ? `${name}: ${channel} unpinned in ${o.store}\n` : `${name}: ${channel} pinned to revision ${rev} in ${o.store}\n`);
    }));

  targetOptions(snap.command('review-policy').description("whether a store's uploads need a Reviewer's approval").addOption(storeOption()).addOption(new Option('--review <when>', 'required or optional').choices(['required', 'optional'] as const).makeOptionMandatory()))
    .action(async (o) => withCatalog(o, async (ops) => {
      await ops.setReviewPolicy(o.store, o.review === 'required');
      if (!o.json) io.stdout(`store ${o.store}: review ${o.review}\n`);
    }));

  targetOptions(snap.command('import').description('import snaps with their assertions (signed by Canonical, or a root this vault trusts): a folder or tarball of NAME_REV.snap + NAME_REV.assert, as `snap download` writes them').argument('<bundle>').addOption(storeOption()))
    .action(async (bundle, o) => withCatalog(o, async (ops) => {
      const n = await ops.importBundle(o.store, bundle, (line) => io.stderr(`${line}\n`));
      if (!o.json) io.stdout(`imported ${n} revision${n === 1 ? '' : 's'} into ${o.store}\n`);
    }));

  targetOptions(
    snap
      .command('download')
      .description('download what a store offers of a snap, as `snap download` does: NAME_REV.snap and NAME_REV.assert')
      .argument('<name>')
      .addOption(storeOption())
      .addOption(new Option('--channel <channel>', 'the channel (default latest/stable)').conflicts('revision'))
      .addOption(new Option('--revision <n>', 'a revision instead of a channel').argParser(revisionArg))
      .option('--arch <arch>', 'the architecture', 'amd64')
      .option('--dir <dir>', 'where to write the files', '.'),
  ).action(async (name, o) => withCatalog(o, async (ops) => {
    const d = await ops.download(o.store, name, { ...(o.channel ? { channel: o.channel } : {}), ...(o.revision ? { revision: o.revision } : {}), arch: o.arch });
    const base = join(o.dir, `${d.info.name}_${d.info.revision}`);
    await mkdir(o.dir, { recursive: true });
    const partial = `${base}.snap.partial`;
    const hash = createHash('sha3-384');
    const progress = progressPrinter(io, `downloading ${basename(base)}.snap`);
    let got = 0;
    const check = new Transform({
      transform(chunk: Buffer, _e, done) {
        hash.update(chunk);
        got += chunk.length;
        progress(got, d.info.size);
        done(null, chunk);
      },
    });
    try {
      await pipeline(await d.file(), check, createWriteStream(partial));
      if (hash.digest('base64url') !== d.info.sha3_384 || got !== d.info.size) throw new CliError(`the download of ${name} revision ${d.info.revision} does not match its snap-revision (digest or size): try again`, 1);
      await rename(partial, `${base}.snap`);
    } catch (e) {
      await rm(partial, { force: true });
      throw e;
    }
    await writeFile(`${base}.assert`, d.info.assertions);
    out(o, { snap: `${base}.snap`, assert: `${base}.assert`, revision: d.info.revision }, () => io.stdout(`${base}.snap\n${base}.assert\n`));
  }));

  return snap;
}
