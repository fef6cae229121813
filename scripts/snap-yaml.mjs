// Writes meta/snap.yaml from snap/snapcraft.yaml: the fields snapd reads, for
// the architecture of the build machine (what snapcraft would produce).
import { readFileSync } from 'node:fs';
import { arch } from 'node:os';
import { parse, stringify } from 'yaml';

const source = parse(readFileSync(process.argv[2], 'utf8'));
const architecture = { x64: 'amd64', arm64: 'arm64', arm: 'armhf' }[arch()] ?? arch();
const pick = (o, keys) => Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));

const snap = {
  ...pick(source, ['name', 'version', 'summary', 'description', 'base', 'grade', 'confinement', 'license']),
  architectures: [architecture],
  apps: Object.fromEntries(
    Object.entries(source.apps ?? {}).map(([name, app]) => [name, pick(app, ['command', 'daemon', 'restart-condition', 'stop-timeout', 'plugs', 'slots', 'environment'])]),
  ),
  hooks: Object.fromEntries(Object.entries(source.hooks ?? {}).map(([name, hook]) => [name, pick(hook ?? {}, ['plugs'])])),
};
process.stdout.write(stringify(snap));
