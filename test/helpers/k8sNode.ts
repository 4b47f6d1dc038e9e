/**
 * A real Kubernetes-like node for integration tests: containerd + CNI bridge/host-local in a node namespace
 * named with the test prefix (src/k8s/labNode.ts), pods made through CRI with the kubelet's labels. Missing
 * prerequisites fail the test with one line naming them (no silent skip); teardown removes everything even
 * when a test failed.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { LabNode, labNodePrerequisites, type LabPod, type LabPodSpec } from '../../src/k8s/labNode';
import { testPrefix } from './netns';

export interface K8sNode {
  node: LabNode;
  /** The node network namespace. */
  netns: string;
  pods: LabPod[];
  pod(namespace: string, name: string): LabPod;
}

/** Throws one Error naming every missing prerequisite (and how to install it). */
export function requireK8sPrerequisites(): void {
  const missing = labNodePrerequisites();
  if (missing.length > 0) throw new Error(`the containerd test node needs: ${missing.join(', ')} (.ci/run installs them)`);
}

/** A pod subnet per jest worker (10.244.(100+worker).0/24), so two test files' nodes never share one. */
export function workerSubnet(): string {
  const worker = Number(process.env.JEST_WORKER_ID ?? '0') + Number(process.env.NST_WORKER_OFFSET ?? '0');
  return `10.244.${100 + (worker % 100)}.0/24`;
}

export async function startK8sNode(tag: string, pods: LabPodSpec[]): Promise<K8sNode> {
  requireK8sPrerequisites();
  const netns = testPrefix(tag);
  const dir = path.join(os.tmpdir(), `${netns}-node`);
  // A node left by a killed run: its namespace and directory go first.
  if (fs.existsSync(`/run/netns/${netns}`) || fs.existsSync(dir)) {
    await destroyLeftover(netns, dir);
  }
  const node = await LabNode.start({ netns, dir, subnet: workerSubnet(), network: netns });
  const out: K8sNode = {
    node,
    netns,
    pods: [],
    pod(namespace, name) {
      const p = out.pods.find((x) => x.namespace === namespace && x.name === name);
      if (!p) throw new Error(`no test pod ${namespace}/${name}`);
      return p;
    },
  };
  try {
    // Sandboxes are created one at a time: host-local's lock and the bridge are shared anyway.
    for (const spec of pods) out.pods.push(await node.runPod(spec));
  } catch (e) {
    await node.destroy();
    throw e;
  }
  return out;
}

async function destroyLeftover(netns: string, dir: string): Promise<void> {
  const { execFileSync } = await import('child_process');
  try {
    execFileSync('ip', ['netns', 'del', netns], { stdio: 'ignore' });
  } catch {
    /* absent */
  }
  fs.rmSync(dir, { recursive: true, force: true });
}
