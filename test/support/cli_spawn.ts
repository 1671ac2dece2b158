// Starting the built CLI from a test, in a folder of the test's, with the test's environment
// stripped of any scheduler's shard variables it may itself run under (SLURM_*, a Kubernetes
// indexed job's JOB_COMPLETION_INDEX, CI_NODE_*, DAXLAB_SHARD_*), which --shard auto reads.

import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

/** process.env with CI=1 and without shard variables, then env on top. */
export function cleanEnv(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env, CI: '1' };
  for (const k of Object.keys(out)) if (/^(SLURM_|JOB_COMPLETION_INDEX$|CI_NODE_|DAXLAB_SHARD_)/.test(k)) delete out[k];
  return { ...out, ...env };
}

/** Runs `daxlab args` in cwd and waits for it. */
export function daxlabIn(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, cwd, env: cleanEnv(env) });
}

/** Runs `daxlab args` in cwd beside others (a shard among shards); resolves when it closes. */
export function daxlabInAsync(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: cleanEnv(env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
