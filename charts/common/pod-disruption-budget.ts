import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';

/** Props of {@link PodDisruptionBudget}. */
export interface PodDisruptionBudgetProps {
  /** Object name. */
  readonly name: string;
  /** Labels of the pods it guards (the workload's selector labels). */
  readonly selectorLabels: Readonly<Record<string, string>>;
  /**
   * Pods that may be voluntarily evicted at once.
   * @default 1
   */
  readonly maxUnavailable?: number;
}

/**
 * A policy/v1 PodDisruptionBudget. cdk8s-plus-27 has no L2 for it, so this wraps the L1 object.
 */
export class PodDisruptionBudget extends Construct {
  readonly resource: kplus.k8s.KubePodDisruptionBudget;

  constructor(scope: Construct, id: string, props: PodDisruptionBudgetProps) {
    super(scope, id);
    const maxUnavailable = props.maxUnavailable ?? 1;
    if (!Number.isInteger(maxUnavailable) || maxUnavailable < 1) {
      throw new Error(`PodDisruptionBudget "${props.name}": maxUnavailable must be a whole number >= 1, got ${maxUnavailable}`);
    }
    if (Object.keys(props.selectorLabels).length === 0) {
      throw new Error(`PodDisruptionBudget "${props.name}": selectorLabels must not be empty (it would guard every pod)`);
    }
    this.resource = new kplus.k8s.KubePodDisruptionBudget(this, 'Resource', {
      metadata: { name: props.name },
      spec: {
        maxUnavailable: kplus.k8s.IntOrString.fromNumber(maxUnavailable),
        selector: { matchLabels: { ...props.selectorLabels } },
      },
    });
  }
}
