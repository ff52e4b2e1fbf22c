/**
 * The image's layers, newest first as `podman history` lists them, split into the base's and the
 * ones the Dockerfile adds: the figure the issue sets a budget on (≤ 25 MB above the base).
 */

/** One entry of `podman history --format json`. */
export interface HistoryEntry {
  readonly id: string;
  /** The instruction that made it. */
  readonly createdBy: string;
  /** Bytes it adds (0 for metadata-only instructions). */
  readonly size: number;
}

/** What `npm run image` reports. */
export interface LayerReport {
  /** Layers the Dockerfile added, newest first. */
  readonly above: readonly HistoryEntry[];
  readonly baseBytes: number;
  readonly aboveBytes: number;
  readonly totalBytes: number;
  /** The layer holding node_modules (the runtime dependencies). */
  readonly nodeModulesBytes: number;
}

/** Budget of the layers above the base (issue 14). */
export const ABOVE_BASE_BUDGET_BYTES = 25 * 1000 * 1000;

/** `podman history --format json` output (keys as podman 4 writes them) as entries. */
export function parseHistory(json: string): HistoryEntry[] {
  const rows = JSON.parse(json) as { id: string; createdBy?: string; CreatedBy?: string; size: number }[];
  return rows.map((r) => ({ id: r.id, createdBy: (r.createdBy ?? r.CreatedBy ?? '').trim(), size: r.size }));
}

/** Splits `image`'s history at `base`'s: the base's entries are the oldest `base.length` ones. */
export function layerReport(image: readonly HistoryEntry[], base: readonly HistoryEntry[]): LayerReport {
  if (base.length > image.length) throw new Error(`the image has ${image.length} history entries, fewer than its base's ${base.length}: not built on that base`);
  const above = image.slice(0, image.length - base.length);
  const sum = (xs: readonly HistoryEntry[]) => xs.reduce((s, x) => s + x.size, 0);
  const nodeModules = above.find((l) => /node_modules/.test(l.createdBy));
  return { above, baseBytes: sum(base), aboveBytes: sum(above), totalBytes: sum(image), nodeModulesBytes: nodeModules?.size ?? 0 };
}

/** Bytes as MB (10^6, as podman prints sizes). */
export function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** The report as lines: each layer above the base, then the totals and the budget. */
export function formatLayerReport(r: LayerReport): string[] {
  const instruction = (s: string) => s.replace(/^\/bin\/sh -c (#\(nop\) )?/, '').replace(/\s+/g, ' ').slice(0, 100);
  return [
    ...r.above.map((l) => `  ${mb(l.size).padStart(9)}  ${instruction(l.createdBy)}`),
    `  ${mb(r.aboveBytes).padStart(9)}  above the base (budget ${mb(ABOVE_BASE_BUDGET_BYTES)}${r.aboveBytes > ABOVE_BASE_BUDGET_BYTES ? ', OVER' : ''}), node_modules ${mb(r.nodeModulesBytes)}`,
    `  ${mb(r.baseBytes).padStart(9)}  base`,
    `  ${mb(r.totalBytes).padStart(9)}  total`,
  ];
}
