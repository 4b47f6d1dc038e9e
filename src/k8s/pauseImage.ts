/**
 * The sandbox ("pause") image without a registry: a tiny static C program (compiled with gcc -static), one
 * layer, packed as an OCI image layout tar that `ctr images import` takes. Built once per source and cached.
 */
import { createHash } from 'crypto';
import { execFile } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { promisify } from 'util';

const execFileP = promisify(execFile);

/** Sleeps until SIGTERM/SIGINT and reaps children: all a pod sandbox's first process has to do. */
const PAUSE_C = `#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void stop(int s) { (void)s; _exit(0); }
static void reap(int s) { (void)s; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
  signal(SIGTERM, stop);
  signal(SIGINT, stop);
  signal(SIGCHLD, reap);
  for (;;) pause();
}
`;

export const PAUSE_IMAGE_NAME = 'netscope.local/pause:1';

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function goArch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

/**
 * Path of the OCI image tar (built under `cacheDir` if missing). Needs gcc with a static libc and tar.
 * Throws an Error naming what is missing.
 */
export async function buildPauseImage(cacheDir = path.join(os.tmpdir(), 'netscope-pause')): Promise<string> {
  const tag = sha256(PAUSE_C + goArch()).slice(0, 12);
  const out = path.join(cacheDir, `pause-${tag}.tar`);
  if (fs.existsSync(out)) return out;
  fs.mkdirSync(cacheDir, { recursive: true });
  const work = fs.mkdtempSync(path.join(cacheDir, 'build-'));
  try {
    const src = path.join(work, 'pause.c');
    const rootfs = path.join(work, 'rootfs');
    fs.mkdirSync(rootfs);
    fs.writeFileSync(src, PAUSE_C);
    try {
      await execFileP('gcc', ['-static', '-Os', '-s', '-o', path.join(rootfs, 'pause'), src]);
    } catch (e) {
      throw new Error(`building the pause image: gcc -static failed (install gcc and libc6-dev): ${(e as Error).message.split('\n')[0]}`);
    }
    const layerTar = path.join(work, 'layer.tar');
    await execFileP('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', rootfs, '-cf', layerTar, 'pause']);
    const layer = fs.readFileSync(layerTar);
    const layerDigest = sha256(layer);
    const config = Buffer.from(
      JSON.stringify({
        architecture: goArch(),
        os: 'linux',
        config: { Entrypoint: ['/pause'], WorkingDir: '/' },
        rootfs: { type: 'layers', diff_ids: [`sha256:${layerDigest}`] },
      }),
    );
    const configDigest = sha256(config);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${configDigest}`, size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${layerDigest}`, size: layer.length }],
      }),
    );
    const manifestDigest = sha256(manifest);
    const layout = path.join(work, 'layout');
    const blobs = path.join(layout, 'blobs', 'sha256');
    fs.mkdirSync(blobs, { recursive: true });
    fs.writeFileSync(path.join(blobs, layerDigest), layer);
    fs.writeFileSync(path.join(blobs, configDigest), config);
    fs.writeFileSync(path.join(blobs, manifestDigest), manifest);
    fs.writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    fs.writeFileSync(
      path.join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: `sha256:${manifestDigest}`,
            size: manifest.length,
            platform: { architecture: goArch(), os: 'linux' },
            annotations: { 'io.containerd.image.name': PAUSE_IMAGE_NAME, 'org.opencontainers.image.ref.name': '1' },
          },
        ],
      }),
    );
    const tmp = `${out}.${process.pid}`;
    await execFileP('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', layout, '-cf', tmp, 'oci-layout', 'index.json', 'blobs']);
    fs.renameSync(tmp, out);
    return out;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
