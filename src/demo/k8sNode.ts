/**
 * The Kubernetes demo node: a LabNode (containerd + CNI bridge in namespace "<name>-node") with three pods —
 * default/web-0 and default/web-1 (app=web) and default/db-0 (app=db) — so every command shows pod names.
 */
import os from 'os';
import path from 'path';
import { LabNode, labNodePrerequisites, type LabPod } from '../k8s/labNode';

export const K8S_DEMO_PODS = [
  { namespace: 'default', name: 'web-0', labels: { app: 'web' } },
  { namespace: 'default', name: 'web-1', labels: { app: 'web' } },
  { namespace: 'default', name: 'db-0', labels: { app: 'db' } },
];

export interface K8sDemo {
  node: LabNode;
  netns: string;
  pods: LabPod[];
}

/** Starts the node and its pods; on failure everything made so far is removed. */
export async function startK8sDemo(name = 'netscope-k8s', log: (line: string) => void = () => undefined): Promise<K8sDemo> {
  const missing = labNodePrerequisites();
  if (missing.length > 0) throw new Error(`demo --k8s needs: ${missing.join(', ')}`);
  const netns = `${name}-node`;
  const node = await LabNode.start({ netns, dir: path.join(os.tmpdir(), `${name}-containerd`), subnet: '10.244.42.0/24', network: name, log });
  try {
    const pods: LabPod[] = [];
    for (const spec of K8S_DEMO_PODS) {
      pods.push(await node.runPod(spec));
      log(`pod ${spec.namespace}/${spec.name} up: ${pods[pods.length - 1].ip}`);
    }
    return { node, netns, pods };
  } catch (e) {
    await node.destroy();
    throw e;
  }
}
