import { z } from 'zod';
import { SNAP_TYPES } from '../../catalog/snap-yaml.js';

/** The catalog's shapes in the admin API (and the OpenAPI document). */

const Timestamp = z.string().meta({ description: 'RFC 3339 time, UTC' });

export const SnapType = z.enum(SNAP_TYPES).meta({ id: 'SnapType' });

export const Snap = z
  .object({
    name: z.string(),
    snapId: z.string().meta({ description: "the snap-declaration's 32-character snap-id" }),
    store: z.string().meta({ description: 'the store that owns the name' }),
    type: SnapType,
    private: z.boolean(),
    publisher: z.string().meta({ description: 'who registered it (email, or operator)' }),
    publisherId: z.string().meta({ description: 'the account the assertions name as publisher' }),
    collaborators: z.array(z.string()),
    createdAt: Timestamp,
  })
  .meta({ id: 'Snap' });

export const Revision = z
  .object({
    revision: z.number().int(),
    version: z.string(),
    architectures: z.array(z.string()),
    grade: z.enum(['stable', 'devel']),
    confinement: z.string(),
    base: z.string().nullable(),
    epoch: z.string(),
    provenance: z.string(),
    sha3_384: z.string().meta({ description: 'SHA3-384 of the file, unpadded base64url (snap-sha3-384)' }),
    size: z.number().int(),
    status: z.enum(['needs-review', 'approved', 'rejected']),
    uploadedBy: z.string(),
    reviewedBy: z.string().nullable(),
    reviewReason: z.string().nullable(),
    createdAt: Timestamp,
    reviewedAt: Timestamp.nullable(),
  })
  .meta({ id: 'Revision' });

export const ChannelMapEntry = z.object({ channel: z.string(), architecture: z.string(), revision: z.number().int() }).meta({ id: 'ChannelMapEntry' });

export const ReleaseEvent = z
  .object({ channel: z.string(), architecture: z.string(), revision: z.number().int().nullable().meta({ description: 'null: closed' }), releasedBy: z.string(), releasedAt: Timestamp })
  .meta({ id: 'ReleaseEvent' });

export const SnapStatus = z.object({ snap: Snap, 'channel-map': z.array(ChannelMapEntry), revisions: z.array(Revision) }).meta({ id: 'SnapStatus' });

/** What snapcraft's on-prem client polls after a push (STORE.md §5). */
export const PushStatus = z
  .object({
    'status-url': z.string(),
    revisions: z.array(z.object({ status: z.enum(['needs-review', 'approved', 'rejected']), revision: z.number().int(), errors: z.array(z.object({ code: z.string(), message: z.string() })) })),
  })
  .meta({ id: 'PushStatus' });

export const Upload = z.object({ successful: z.literal(true), upload_id: z.string(), sha3_384: z.string(), size: z.number().int() }).meta({ id: 'Upload' });

export const Download = z
  .object({ name: z.string(), revision: z.number().int(), sha3_384: z.string(), size: z.number().int(), assertions: z.string().meta({ description: 'the .assert file: the snap assertions and their prerequisites' }), file: z.string().meta({ description: 'the path that streams the .snap' }) })
  .meta({ id: 'Download' });

export const ReviewPolicy = z.object({ store: z.string(), reviewRequired: z.boolean() }).meta({ id: 'ReviewPolicy' });
