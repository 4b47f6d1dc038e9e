/**
 * A CRI (Kubernetes Container Runtime Interface, runtime.v1) client over gRPC on the runtime's unix socket:
 * the read calls that resolve pods, and the sandbox calls a kubelet makes (used by `demo --k8s` and tests).
 * Every call has a deadline; errors come back as CriError with the endpoint in the message.
 */
import path from 'path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** Plain data as the runtime returns it (proto-loader: keepCase, enums as strings, int64 as strings). */
export interface CriPodMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
}

export interface CriPodSandbox {
  id: string;
  metadata: CriPodMetadata;
  state: 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
  created_at: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface CriPodSandboxStatus extends CriPodSandbox {
  network: { ip: string; additional_ips: { ip: string }[] } | null;
}

export interface CriPodSandboxStatusResponse {
  status: CriPodSandboxStatus | null;
  info: Record<string, string>;
}

export interface CriContainer {
  id: string;
  pod_sandbox_id: string;
  metadata: { name: string; attempt: number } | null;
  image: { image: string } | null;
  state: 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';
  labels: Record<string, string>;
}

export interface CriVersion {
  version: string;
  runtime_name: string;
  runtime_version: string;
  runtime_api_version: string;
}

/** What RunPodSandbox takes (the fields a kubelet sets that matter for networking and identity). */
export interface CriPodSandboxConfig {
  metadata: CriPodMetadata;
  hostname?: string;
  log_directory?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  linux?: { cgroup_parent?: string; security_context?: { namespace_options?: { network?: 'POD' | 'NODE'; pid?: 'POD' | 'CONTAINER' | 'NODE'; ipc?: 'POD' | 'NODE' } } };
}

/** A runtime that refused, failed or did not answer in time. */
export class CriError extends Error {
  constructor(
    message: string,
    readonly endpoint: string,
    /** gRPC status code (4 = deadline exceeded, 14 = unavailable, 12 = unimplemented), or null. */
    readonly code: number | null,
  ) {
    super(message);
    this.name = 'CriError';
  }
}

type Callback<T> = (err: grpc.ServiceError | null, value?: T) => void;
type Method<Req, Res> = (req: Req, meta: grpc.Metadata, opts: grpc.CallOptions, cb: Callback<Res>) => grpc.ClientUnaryCall;
interface RuntimeServiceClient extends grpc.Client {
  Version: Method<object, CriVersion>;
  RunPodSandbox: Method<object, { pod_sandbox_id: string }>;
  StopPodSandbox: Method<object, object>;
  RemovePodSandbox: Method<object, object>;
  PodSandboxStatus: Method<object, CriPodSandboxStatusResponse>;
  ListPodSandbox: Method<object, { items: CriPodSandbox[] }>;
  ListContainers: Method<object, { containers: CriContainer[] }>;
}
type ServiceCtor = new (address: string, creds: grpc.ChannelCredentials, options?: grpc.ClientOptions) => RuntimeServiceClient;

/** The .proto sits next to this module (copied into dist by the build). */
export const CRI_PROTO_PATH = path.join(__dirname, 'cri.proto');

let serviceCtor: ServiceCtor | null = null;

/** The runtime.v1 package definition (also used by fake runtimes in tests and benchmarks). */
export function criPackageDefinition(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(CRI_PROTO_PATH, { keepCase: true, enums: String, longs: String, defaults: true, oneofs: true });
}

function runtimeService(): ServiceCtor {
  if (serviceCtor === null) {
    const pkg = grpc.loadPackageDefinition(criPackageDefinition()) as unknown as { runtime: { v1: { RuntimeService: ServiceCtor } } };
    serviceCtor = pkg.runtime.v1.RuntimeService;
  }
  return serviceCtor;
}

/** "unix:///run/containerd/containerd.sock" or "/run/…sock" → the gRPC target. */
export function grpcTarget(endpoint: string): string {
  if (endpoint.startsWith('unix://')) return `unix:${endpoint.slice('unix://'.length)}`;
  if (endpoint.startsWith('unix:')) return endpoint;
  if (endpoint.startsWith('/')) return `unix:${endpoint}`;
  return endpoint;
}

function describeFailure(err: grpc.ServiceError, timeoutMs: number): string {
  if (err.code === grpc.status.DEADLINE_EXCEEDED) return `no answer within ${timeoutMs} ms`;
  if (err.code === grpc.status.UNAVAILABLE) {
    const sys = /connect (E[A-Z]+)/.exec(err.details ?? '');
    return sys ? `cannot connect (${sys[1]}${sys[1] === 'ENOENT' ? ': no such socket' : sys[1] === 'EACCES' ? ': permission denied, run as root' : ''})` : 'cannot connect';
  }
  if (err.code === grpc.status.UNIMPLEMENTED) return 'not implemented: not a CRI runtime.v1 endpoint';
  return err.details || err.message;
}

export class CriClient {
  private readonly client: RuntimeServiceClient;

  constructor(
    readonly endpoint: string,
    private readonly timeoutMs = 1000,
  ) {
    const Ctor = runtimeService();
    // No retries or reconnect back-off worth having for a one-shot query; the deadline bounds each call.
    this.client = new Ctor(grpcTarget(endpoint), grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.enable_retries': 0,
    });
  }

  private call<Res>(name: keyof Omit<RuntimeServiceClient, keyof grpc.Client>, req: object, timeoutMs = this.timeoutMs): Promise<Res> {
    return new Promise((resolve, reject) => {
      const fn = this.client[name] as unknown as Method<object, Res>;
      fn.call(this.client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, value) => {
        if (err) {
          const why = describeFailure(err, timeoutMs);
          reject(new CriError(`container runtime ${this.endpoint}: ${name}: ${why}`, this.endpoint, err.code ?? null));
        } else resolve(value as Res);
      });
    });
  }

  version(): Promise<CriVersion> {
    return this.call('Version', { version: 'v1' });
  }

  async listPodSandbox(): Promise<CriPodSandbox[]> {
    return (await this.call<{ items: CriPodSandbox[] }>('ListPodSandbox', {})).items ?? [];
  }

  podSandboxStatus(id: string, verbose: boolean): Promise<CriPodSandboxStatusResponse> {
    return this.call('PodSandboxStatus', { pod_sandbox_id: id, verbose });
  }

  async listContainers(): Promise<CriContainer[]> {
    return (await this.call<{ containers: CriContainer[] }>('ListContainers', {})).containers ?? [];
  }

  /** Creating a sandbox starts the pause process and runs CNI: allow it longer than a query. */
  async runPodSandbox(config: CriPodSandboxConfig, timeoutMs = 60_000): Promise<string> {
    return (await this.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config }, timeoutMs)).pod_sandbox_id;
  }

  async stopPodSandbox(id: string, timeoutMs = 30_000): Promise<void> {
    await this.call('StopPodSandbox', { pod_sandbox_id: id }, timeoutMs);
  }

  async removePodSandbox(id: string, timeoutMs = 30_000): Promise<void> {
    await this.call('RemovePodSandbox', { pod_sandbox_id: id }, timeoutMs);
  }

  close(): void {
    this.client.close();
  }
}
