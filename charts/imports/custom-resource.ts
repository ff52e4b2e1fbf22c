/** The base of the typed custom resource classes in this folder. See README.md here. */
import { ApiObject, type ApiObjectMetadata } from 'cdk8s';
import type { Construct } from 'constructs';

/** apiVersion and kind of a custom resource. */
export interface GroupVersionKind {
  readonly apiVersion: string;
  readonly kind: string;
}

/** Props of a custom resource: its metadata and a `spec` typed from the CRD's schema. */
export interface CustomResourceProps<Spec> {
  /** Object metadata. */
  readonly metadata?: ApiObjectMetadata;
  /** The resource's spec, as the CRD's schema defines it. */
  readonly spec: Spec;
}

/** An ApiObject of kind `gvk` whose spec the type parameter checks at compile time. */
export abstract class CustomResource<Spec> extends ApiObject {
  protected constructor(scope: Construct, id: string, gvk: GroupVersionKind, props: CustomResourceProps<Spec>) {
    super(scope, id, { ...gvk, ...props });
  }
}
