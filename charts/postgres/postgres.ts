import { Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { SecretKeys, SpecError, imageRef, objectNames, type FeedkitSpec } from '../../shared/index.js';
import { Component, selectorLabels } from '../common/labels.js';
import { containerResources } from '../common/resources.js';
import { restrictPods } from '../common/restricted-pods.js';
import { addVolumeClaimTemplate } from '../common/volume-claim.js';

/** uid/gid of the `postgres` user in the official Debian-based image. */
export const POSTGRES_UID = 999;

/** Where the volume is mounted; PGDATA is a subdirectory so initdb finds an empty directory (no lost+found). */
export const POSTGRES_MOUNT = '/var/lib/postgresql/data';
export const POSTGRES_PGDATA = `${POSTGRES_MOUNT}/pgdata`;

/** Name of the headless Service that gives the pod its stable DNS name. */
export function postgresHeadlessName(spec: FeedkitSpec): string {
  return `${objectNames(spec.name).postgres}-headless`;
}

/** Props of {@link Postgres}. */
export interface PostgresProps {
  /** The resolved stack spec; `spec.postgres.externalUrl` must be empty. */
  readonly spec: FeedkitSpec;
}

/** A single in-cluster PostgreSQL: StatefulSet with a PVC, headless and client Services. */
export class Postgres extends Construct {
  /** The StatefulSet (child id 'Resource'). */
  readonly statefulSet: kplus.StatefulSet;
  readonly service: kplus.Service;

  constructor(scope: Construct, id: string, props: PostgresProps) {
    super(scope, id);
    const { spec } = props;
    const pg = spec.postgres;
    if (pg.externalUrl !== '') {
      throw new SpecError('postgres.externalUrl', 'is set, so no in-cluster PostgreSQL is built', 'leave postgres.externalUrl empty to run PostgreSQL in the cluster');
    }
    const names = objectNames(spec.name);
    const labels = selectorLabels(spec, Component.POSTGRES);
    const ports = [{ name: 'postgres', port: pg.port, targetPort: pg.port }];

    const headless = new kplus.Service(this, 'Headless', { metadata: { name: postgresHeadlessName(spec) }, clusterIP: 'None', ports });
    this.service = new kplus.Service(this, 'Client', { metadata: { name: names.postgres }, ports });
    for (const [k, v] of Object.entries(labels)) {
      headless.selectLabel(k, v);
      this.service.selectLabel(k, v);
    }

    const secret = kplus.Secret.fromSecretName(this, 'Password', names.postgresSecret);
    const isReady = ['sh', '-c', `exec pg_isready -h 127.0.0.1 -p ${pg.port} -U ${pg.username} -d ${pg.database}`];
    this.statefulSet = new kplus.StatefulSet(this, 'Resource', {
      metadata: { name: names.postgres },
      service: headless,
      replicas: 1,
      select: false,
      spread: false,
      podMetadata: { labels },
      securityContext: { ensureNonRoot: true, user: POSTGRES_UID, group: POSTGRES_UID, fsGroup: POSTGRES_UID },
      containers: [
        {
          name: 'postgres',
          image: imageRef(pg.image),
          imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
          ports: [{ name: 'postgres', number: pg.port }],
          envVariables: {
            POSTGRES_USER: kplus.EnvValue.fromValue(pg.username),
            POSTGRES_DB: kplus.EnvValue.fromValue(pg.database),
            POSTGRES_PASSWORD: kplus.EnvValue.fromSecretValue({ secret, key: SecretKeys.PASSWORD }),
            PGDATA: kplus.EnvValue.fromValue(POSTGRES_PGDATA),
            PGPORT: kplus.EnvValue.fromValue(String(pg.port)),
          },
          resources: containerResources('postgres.resources', pg.resources),
          readiness: kplus.Probe.fromCommand(isReady, { periodSeconds: Duration.seconds(5), failureThreshold: 3 }),
          // initdb on a fresh volume takes a while; do not count it against liveness.
          startup: kplus.Probe.fromCommand(isReady, { periodSeconds: Duration.seconds(5), failureThreshold: 60 }),
          liveness: kplus.Probe.fromCommand(isReady, { periodSeconds: Duration.seconds(10), failureThreshold: 6 }),
          // The entrypoint writes the socket and lock files to /var/run/postgresql in the image.
          securityContext: { ensureNonRoot: true, user: POSTGRES_UID, group: POSTGRES_UID, readOnlyRootFilesystem: false, allowPrivilegeEscalation: false },
        },
      ],
    });
    this.statefulSet.select(kplus.LabelSelector.of({ labels }));
    restrictPods(this.statefulSet, 'Postgres');
    addVolumeClaimTemplate(this.statefulSet, {
      name: 'data',
      mountPath: POSTGRES_MOUNT,
      storage: pg.storageSize,
      storageClassName: pg.storageClassName,
      labels,
    });
  }
}
